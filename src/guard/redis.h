/* SPDX-License-Identifier: ISC */
/*
 * redis - the guard's counters and bans in a shared Redis, so that several
 * gateways see one set of failure counts and one list of bans.
 *
 * A struct guard_redis is one synchronous hiredis connection. Every call is
 * bounded by the timeout (200 ms by default: the auth process is single-
 * threaded and Redis is meant to sit on the LAN). After a failure the
 * connection is dropped and retried lazily, at most once a second; while
 * Redis is down the counters answer "nothing counted" (the guard fails
 * open) and the ban calls answer -1. One warning is logged per outage
 * ("guard store-down url=... error=...") and one line when it is over
 * ("guard store-up url=...").
 *
 * Counters (guard_backend_redis) keep the memory backend's semantics, keyed
 * under the prefix: "c:KEY:START" window buckets, "d:KEY" distinct sets,
 * "s:KEY" consecutive counts, "o:KEY" once marks, "t:KEY" / "u:KEY" stale
 * password tags and their last use. Times are the caller's clock, so every
 * gateway must keep its clock in step (NTP); Redis expiry only frees keys.
 *
 * Bans live in the hash "PREFIXbans" (field: canonical network, value: the
 * record "UNTIL REASON COUNT ACTOR", see guard_redis_ban_parse), and
 * "PREFIXbans:version" is bumped by every change so that a poller notices.
 *
 * SECURITY: runs in the auth process. Keys hold attacker-chosen account
 * names and are always passed as binary-safe arguments, never in a command
 * format. Replies are checked for type; an unexpected one counts as nothing
 * and never aborts. Whoever can write to this Redis can ban and unban any
 * network and see which accounts are attacked: run it on a trusted network,
 * bound to it, with no other tenants (the URL has no password and no TLS).
 * Ban records are parsed strictly and a malformed one is skipped with a
 * warning, never trusted. Host names are resolved at (re)connect time, which
 * the timeout does not bound: prefer a numeric address.
 * STANDARDS: RESP (the Redis protocol) through hiredis; the URL is a subset
 * of the IANA "redis" URI scheme (HOST[:PORT][/DB], no credentials).
 */
#ifndef POSTERN_GUARD_REDIS_H
#define POSTERN_GUARD_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "guard/guard.h"

/* The longest URL accepted (a 253-byte host name, a port and a database). */
#define GUARD_REDIS_URL_MAX 300
/* A buffer for any host redis_url_parse() writes (a DNS name at most). */
#define GUARD_REDIS_HOST_MAX 256
#define GUARD_REDIS_PORT_DEFAULT 6379
/* Databases 0 .. GUARD_REDIS_DB_MAX (the default Redis configuration). */
#define GUARD_REDIS_DB_MAX 15
/* The longest key prefix ("postern:"). */
#define GUARD_REDIS_PREFIX_MAX 64
/* Per-call timeout when none is given, and the largest allowed. */
#define GUARD_REDIS_TIMEOUT_DEFAULT_MS 200
#define GUARD_REDIS_TIMEOUT_MAX_MS 10000
/* At most one connection attempt per this many milliseconds while down. */
#define GUARD_REDIS_RETRY_MS 1000
/* The longest ban record (two fields of 63 bytes, each byte %XX at worst). */
#define GUARD_REDIS_BAN_RECORD_MAX 512

struct guard_redis;

/* One shared ban; the sizes are those of struct store_ban. */
struct guard_redis_ban {
	char net[72];	 /* canonical "address/prefix", as net_cidr_format writes it */
	int64_t until;	 /* unix seconds, >= 0 */
	char reason[64]; /* UTF-8 without control characters; may be empty */
	int64_t count;	 /* bans this network earned (escalation), >= 0 */
	char actor[64];	 /* "guard", "cli:NAME"; the same rules as reason */
};

/* redis_url_parse - split "redis://HOST[:PORT][/DB]" (HOST a numeric IPv4
 * address, an [IPv6] address or a DNS name; PORT 1..65535, default 6379; DB
 * 0..15, default 0). host receives the address or name without brackets.
 * Pure. 0, or -1 with a message in err (the outputs are then unspecified). */
int redis_url_parse(const char *url, char *host, size_t hostsz, uint16_t *port, unsigned *db,
		    char *err, size_t errsz);

/* guard_redis_ban_parse - the ban of net from its stored record value (len
 * bytes, not NUL-terminated): "UNTIL REASON COUNT ACTOR", single spaces,
 * numbers in canonical decimal, REASON and ACTOR percent-encoded (space,
 * '%' and bytes >= 0x80 as %XX with upper-case hex, nothing else encoded;
 * the empty string as "-" and "-" itself as "%2D"). net must be canonical.
 * Pure and strict: exactly what guard_redis_ban_format writes is accepted.
 * 0, or -1 (b is then zeroed). */
int guard_redis_ban_parse(const char *net, const char *value, size_t len,
			  struct guard_redis_ban *b);
/* guard_redis_ban_format - the record value of b (its net is not part of
 * it) into out, NUL-terminated. 0, or -1 when a field is not storable
 * (negative number, control character, invalid UTF-8) or out is short. */
int guard_redis_ban_format(const struct guard_redis_ban *b, char *out, size_t outsz);

/* guard_redis_new - a connection to url with keys under prefix (at most
 * GUARD_REDIS_PREFIX_MAX bytes, e.g. "postern:"); timeout_ms bounds each
 * call (0: GUARD_REDIS_TIMEOUT_DEFAULT_MS). It tries to connect at once; if
 * Redis is down it logs store-down and retries lazily, so NULL (with err)
 * means only a bad URL, prefix or timeout. Free with guard_redis_free, or
 * hand it to guard_backend_redis. */
struct guard_redis *guard_redis_new(const char *url, const char *prefix, unsigned timeout_ms,
				    char *err, size_t errsz);
/* guard_redis_free - close and free; accepts NULL. Not for a guard_redis
 * given to guard_backend_redis (the backend's free closes it). */
void guard_redis_free(struct guard_redis *r);
/* guard_redis_error - what the last failed call ran into; never NULL. */
const char *guard_redis_error(const struct guard_redis *r);

/* guard_backend_redis - the guard's counters in Redis. Takes r over: the
 * backend's free (called by guard_free) closes and frees it. r stays valid
 * for the guard_redis_ban_* calls until then; a separate guard_redis for
 * the bans avoids tying their lifetime to the guard's. Every operation
 * answers "nothing counted" (0, false) while Redis is unreachable or
 * replies with something unexpected; sweep does nothing (keys expire). */
struct guard_backend guard_backend_redis(struct guard_redis *r);

/* guard_redis_ban_put - ban net (canonical) until, reason, actor and count
 * as in struct guard_redis_ban; replaces a ban of net and bumps the version.
 * 0, or -1 (an unstorable field, or Redis failed: guard_redis_error). */
int guard_redis_ban_put(struct guard_redis *r, const char *net, int64_t until,
			const char *reason, const char *actor, int64_t count);
/* guard_redis_ban_del - forget the ban of net (history included) and bump
 * the version: 0, 1 if there was none, -1 on failure. */
int guard_redis_ban_del(struct guard_redis *r, const char *net);
/* guard_redis_ban_get - the ban of net, in force or over: 0 found, 1 none
 * (a malformed record counts as none and is logged), -1 on failure. */
int guard_redis_ban_get(struct guard_redis *r, const char *net, struct guard_redis_ban *b);
/* guard_redis_ban_each - cb for every ban with until > now, in no order,
 * until cb returns non-zero. The walk is incremental (HSCAN), so a ban
 * changed meanwhile may be seen twice or not at all: cb must be
 * idempotent, and a caller polls again when the version moves. Malformed
 * records are skipped and logged. 0, or -1 when Redis failed midway (cb
 * may have run for some bans). */
int guard_redis_ban_each(struct guard_redis *r, int64_t now,
			 int (*cb)(const struct guard_redis_ban *b, void *arg), void *arg);
/* guard_redis_ban_version - the counter every put and del bumps (0 before
 * the first): a poller compares it with the one it last saw. A Redis that
 * restarts without persistence loses the bans and starts it again from 0.
 * 0, or -1. */
int guard_redis_ban_version(struct guard_redis *r, int64_t *v);

#endif
