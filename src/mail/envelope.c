/* SPDX-License-Identifier: ISC */
/*
 * envelope - recipient list management.
 *
 * SECURITY: plain data handling; callers bound the number of recipients.
 */
#include "mail/envelope.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void
envelope_clear(struct envelope *env)
{
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

void
envelope_add_rcpt(struct envelope *env, const struct env_rcpt *r)
{
	env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1, sizeof(*r));
	env->rcpts[env->nrcpts++] = *r;
}
