/* SPDX-License-Identifier: ISC */
/*
 * ctx - what the commands that work on state_dir directly (user, ban,
 * audit) share: the config, the account store, the audit log and the
 * actor written into every audit record.
 *
 * SECURITY: cli_ctx_open() becomes the daemon's user when run as root, so
 * the files it creates stay the daemon's.
 */
#ifndef POSTERN_CLI_CTX_H
#define POSTERN_CLI_CTX_H

#include <stdbool.h>

#include "cli/cli.h"
#include "conf/conf.h"

/* Longest account summary in a before/after audit field. */
#define CLI_STATE_MAX 512

struct store;
struct audit;

struct cli_ctx {
	struct cli *c;
	struct conf cf;
	struct store *st;
	struct audit *audit;
	char actor[96]; /* "cli:USER" */
	/* the account a `user` command changes, as it was before (the audit
	 * record carries it and the state after); "" when not taken */
	char before[CLI_STATE_MAX];
	const char *target;
};

/* cli_ctx_open - load the config, become its user, open the audit log
 * and (need_store) the account store; 0, or 1 with a message said. Close
 * with cli_ctx_close() either way. */
int cli_ctx_open(struct cli_ctx *x, struct cli *c, bool need_store);
void cli_ctx_close(struct cli_ctx *x);
/* cli_say - "postern: ..." on stderr; returns 1 (an exit status). */
int cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
