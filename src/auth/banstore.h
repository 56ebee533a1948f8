/* SPDX-License-Identifier: ISC */
/*
 * banstore - where the guard's bans are kept: the account store (SQLite in
 * state_dir) on one machine, or Redis when `guard { store redis://... }`
 * makes several gateways share them. The auth process and `postern ban`
 * use the same functions, so a ban added on one gateway's command line is
 * enforced by every gateway sharing the store.
 *
 * SECURITY: networks are canonical text (net_cidr_format); records read
 * from Redis are parsed strictly (a malformed one is skipped). A version
 * number changes with every change, so the daemon polls cheaply.
 */
#ifndef POSTERN_BANSTORE_H
#define POSTERN_BANSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/store.h"
#include "conf/conf.h"

struct banstore;

/* banstore_open - the bans of cf: in st (kept, not owned) or in the Redis
 * of cf->guard.store. NULL with err only for an unusable URL. */
struct banstore *banstore_open(const struct conf *cf, struct store *st, char *err,
			       size_t errsz);
void banstore_close(struct banstore *b);
bool banstore_shared(const struct banstore *b);
const char *banstore_error(const struct banstore *b);
/* The store_ban_* contracts of auth/store.h, whichever the store. */
int banstore_get(struct banstore *b, const char *net, struct store_ban *out);
int banstore_put(struct banstore *b, const char *net, int64_t until, const char *reason,
		 const char *actor, int64_t count, int64_t now);
int banstore_del(struct banstore *b, const char *net);
int banstore_each(struct banstore *b, int64_t now, int (*cb)(const struct store_ban *, void *),
		  void *arg);
/* banstore_version - changes whenever another process changed the bans. */
int banstore_version(struct banstore *b, int64_t *v);

#endif
