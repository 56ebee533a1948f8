/* SPDX-License-Identifier: ISC */
/*
 * banstore - bans in the account store or in Redis (see banstore.h).
 */
#include "auth/banstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/redis.h"
#include "lib/util.h"

/* Redis calls from the auth process and the CLI wait at most this long. */
#define BANSTORE_REDIS_TIMEOUT_MS 200
#define BANSTORE_REDIS_PREFIX "postern:"

struct banstore {
	struct store *st;	  /* SQLite, or NULL */
	struct guard_redis *r;	  /* Redis, or NULL */
};

struct banstore *
banstore_open(const struct conf *cf, struct store *st, char *err, size_t errsz)
{
	struct banstore *b = xcalloc(1, sizeof(*b));

	if (cf->guard.store == NULL) {
		b->st = st;
		return b;
	}
	b->r = guard_redis_new(cf->guard.store, BANSTORE_REDIS_PREFIX, BANSTORE_REDIS_TIMEOUT_MS,
			       err, errsz);
	if (b->r == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

void
banstore_close(struct banstore *b)
{
	if (b == NULL)
		return;
	guard_redis_free(b->r);
	free(b);
}

bool
banstore_shared(const struct banstore *b)
{
	return b->r != NULL;
}

const char *
banstore_error(const struct banstore *b)
{
	return b->r != NULL ? guard_redis_error(b->r) : store_error(b->st);
}

static void
from_redis(const struct guard_redis_ban *r, struct store_ban *b)
{
	memset(b, 0, sizeof(*b));
	str_copy(b->net, r->net, sizeof(b->net));
	b->until = r->until;
	str_copy(b->reason, r->reason, sizeof(b->reason));
	b->count = r->count;
	str_copy(b->actor, r->actor, sizeof(b->actor));
}

int
banstore_get(struct banstore *b, const char *net, struct store_ban *out)
{
	struct guard_redis_ban r;
	int rc;

	if (b->r == NULL)
		return store_ban_get(b->st, net, out);
	rc = guard_redis_ban_get(b->r, net, &r);
	memset(out, 0, sizeof(*out));
	if (rc == 0)
		from_redis(&r, out);
	return rc;
}

int
banstore_put(struct banstore *b, const char *net, int64_t until, const char *reason,
	     const char *actor, int64_t count, int64_t now)
{
	if (b->r == NULL)
		return store_ban_put(b->st, net, until, reason, actor, count, now);
	return guard_redis_ban_put(b->r, net, until, reason, actor, count);
}

int
banstore_del(struct banstore *b, const char *net)
{
	return b->r == NULL ? store_ban_del(b->st, net) : guard_redis_ban_del(b->r, net);
}

struct each_ctx {
	int (*cb)(const struct store_ban *, void *);
	void *arg;
};

static int
each_redis(const struct guard_redis_ban *r, void *arg)
{
	struct each_ctx *c = arg;
	struct store_ban b;

	from_redis(r, &b);
	return c->cb(&b, c->arg);
}

int
banstore_each(struct banstore *b, int64_t now, int (*cb)(const struct store_ban *, void *),
	      void *arg)
{
	struct each_ctx c = {cb, arg};

	if (b->r == NULL)
		return store_ban_each(b->st, now, cb, arg);
	return guard_redis_ban_each(b->r, now, each_redis, &c);
}

int
banstore_version(struct banstore *b, int64_t *v)
{
	return b->r == NULL ? store_data_version(b->st, v) : guard_redis_ban_version(b->r, v);
}
