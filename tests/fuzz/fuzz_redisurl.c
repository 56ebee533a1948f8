/* SPDX-License-Identifier: ISC */
/*
 * fuzz_redisurl - the pure parsers of guard/redis: redis_url_parse (the
 * `guard { store redis://... }` setting) and guard_redis_ban_parse (a ban
 * record read back from a shared Redis, which whoever can write to that
 * Redis controls).
 *
 * Input: URL [NUL VALUE]. The URL part (up to the first NUL) goes to
 * redis_url_parse, and is also the network for guard_redis_ban_parse when
 * a VALUE follows (the bytes after the first NUL, NULs included); without
 * a NUL the whole input is a VALUE for the network 10.0.0.0/8. The first
 * bytes, taken as a struct guard_redis_ban, also go to
 * guard_redis_ban_format.
 *
 * Properties checked beyond the sanitizers: an accepted URL has a host
 * that fits, a port from 1 and a database up to 15, and reads back the
 * same when rebuilt in canonical form; a short host buffer fails cleanly;
 * an accepted ban record is exactly what guard_redis_ban_format writes for
 * it (a bijection), a refused one leaves a zeroed ban; a formatted ban
 * parses back to itself.
 * Seeds (corpus/redisurl/, all ours, ISC): URLs valid and not, records.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_url(const char *url)
{
	char host[GUARD_REDIS_HOST_MAX], again[GUARD_REDIS_HOST_MAX], small[8], err[128];
	char canon[GUARD_REDIS_URL_MAX + 32];
	uint16_t port, port2;
	unsigned db, db2;

	if (redis_url_parse(url, host, sizeof(host), &port, &db, err, sizeof(err)) == -1) {
		if (strncmp(err, "redis URL: ", 11) != 0)
			abort();
		return;
	}
	if (host[0] == '\0' || strlen(host) >= sizeof(host) || port == 0 ||
	    db > GUARD_REDIS_DB_MAX)
		abort();
	snprintf(canon, sizeof(canon),
		 strchr(host, ':') != NULL ? "redis://[%s]:%u/%u" : "redis://%s:%u/%u", host, port,
		 db);
	if (redis_url_parse(canon, again, sizeof(again), &port2, &db2, err, sizeof(err)) == -1 ||
	    strcmp(host, again) != 0 || port != port2 || db != db2)
		abort();
	if (redis_url_parse(url, small, sizeof(small), &port2, &db2, err, sizeof(err)) == 0 &&
	    strcmp(small, host) != 0)
		abort();
}

static void
check_record(const char *net, const char *value, size_t len)
{
	char out[GUARD_REDIS_BAN_RECORD_MAX + 1];
	struct guard_redis_ban b, c;

	if (guard_redis_ban_parse(net, value, len, &b) == -1) {
		if (b.net[0] != '\0' || b.until != 0 || b.count != 0 || b.reason[0] != '\0' ||
		    b.actor[0] != '\0')
			abort();
		return;
	}
	if (strcmp(b.net, net) != 0 || b.until < 0 || b.count < 0)
		abort();
	if (guard_redis_ban_format(&b, out, sizeof(out)) == -1 || strlen(out) != len ||
	    memcmp(out, value, len) != 0)
		abort();
	if (guard_redis_ban_parse(net, out, len, &c) == -1 || memcmp(&b, &c, sizeof(b)) != 0)
		abort();
}

static void
check_format(const uint8_t *data, size_t size)
{
	char out[GUARD_REDIS_BAN_RECORD_MAX + 1];
	struct guard_redis_ban b, c;

	if (size < sizeof(b))
		return;
	memcpy(&b, data, sizeof(b));
	if (guard_redis_ban_format(&b, out, sizeof(out)) == -1)
		return;
	if (guard_redis_ban_parse("10.0.0.0/8", out, strlen(out), &c) == -1 ||
	    c.until != b.until || c.count != b.count || strcmp(c.reason, b.reason) != 0 ||
	    strcmp(c.actor, b.actor) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t n;

	if (size > 4 * GUARD_REDIS_BAN_RECORD_MAX)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);
	check_url(s);
	if (n < size)
		check_record(s, s + n + 1, size - n - 1);
	else
		check_record("10.0.0.0/8", s, size);
	check_format(data, size);
	free(s);
	return 0;
}
