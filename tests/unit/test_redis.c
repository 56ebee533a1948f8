/* SPDX-License-Identifier: ISC */
/*
 * test_redis - the guard's shared store (src/guard/redis.c): the URL and
 * ban-record parsers (table tests, always run), then against a real
 * redis-server started on a free loopback port: one table of backend
 * operations with a fake clock that the memory backend and the Redis
 * backend must both answer exactly, two connections (two gateways) seeing
 * the same counters and bans, two guard engines whose failures add up to
 * one ban, shared bans (put, get, each, del, version), malformed records
 * and keys of the wrong type, a server that never answers (the timeout),
 * and Redis going away and coming back (one warning, then service again).
 * Without /usr/bin/redis-server (or the binary POSTERN_TEST_REDIS_SERVER
 * names) the Redis tests are skipped, saying so.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "conf/conf.h"
#include "guard/guard.h"
#include "guard/redis.h"
#include "lib/util.h"

#define REDIS_SERVER "/usr/bin/redis-server"
/* Another server binary for the test (a missing one shows the skip). */
#define REDIS_SERVER_ENV "POSTERN_TEST_REDIS_SERVER"

/* The URL parser. */

struct url_row {
	const char *url;
	int rc;
	const char *host; /* rc 0: the host; rc -1: part of the message */
	uint16_t port;
	unsigned db;
};

static const struct url_row url_rows[] = {
	{"redis://127.0.0.1", 0, "127.0.0.1", 6379, 0},
	{"redis://127.0.0.1:6380", 0, "127.0.0.1", 6380, 0},
	{"redis://127.0.0.1:6380/15", 0, "127.0.0.1", 6380, 15},
	{"redis://10.0.0.5/3", 0, "10.0.0.5", 6379, 3},
	{"redis://10.0.0.5/", 0, "10.0.0.5", 6379, 0},
	{"REDIS://10.0.0.5", 0, "10.0.0.5", 6379, 0},
	{"redis://[::1]", 0, "::1", 6379, 0},
	{"redis://[2001:db8::7]:7000/1", 0, "2001:db8::7", 7000, 1},
	{"redis://[::ffff:192.0.2.1]:1", 0, "::ffff:192.0.2.1", 1, 0},
	{"redis://redis.example.net:65535", 0, "redis.example.net", 65535, 0},
	{"redis://localhost", 0, "localhost", 6379, 0},
	{"redis://a-b.c0.example", 0, "a-b.c0.example", 6379, 0},
	{"redis://1a.example/0", 0, "1a.example", 6379, 0},
	{"", -1, "expected redis://", 0, 0},
	{"http://127.0.0.1", -1, "expected redis://", 0, 0},
	{"redis:/127.0.0.1", -1, "expected redis://", 0, 0},
	{"rediss://127.0.0.1", -1, "TLS", 0, 0},
	{"unix:///run/redis.sock", -1, "expected redis://", 0, 0},
	{"redis://", -1, "no host", 0, 0},
	{"redis:///0", -1, "no host", 0, 0},
	{"redis://:6379", -1, "no host", 0, 0},
	{"redis://user:pw@127.0.0.1", -1, "credentials", 0, 0},
	{"redis://127.0.0.1?db=1", -1, "options", 0, 0},
	{"redis://127.0.0.1#x", -1, "unexpected character", 0, 0},
	{"redis://127.0.0.1 ", -1, "unexpected character", 0, 0},
	{"redis://127.0.0.1\n:6379", -1, "unexpected character", 0, 0},
	{"redis://h\xc3\xa9st", -1, "unexpected character", 0, 0},
	{"redis://127.0.0.1:", -1, "port", 0, 0},
	{"redis://127.0.0.1:0", -1, "port", 0, 0},
	{"redis://127.0.0.1:65536", -1, "port", 0, 0},
	{"redis://127.0.0.1:-1", -1, "port", 0, 0},
	{"redis://127.0.0.1:+1", -1, "port", 0, 0},
	{"redis://127.0.0.1:63x", -1, "port", 0, 0},
	{"redis://127.0.0.1:99999999999999999999999", -1, "port", 0, 0},
	{"redis://127.0.0.1/16", -1, "database", 0, 0},
	{"redis://127.0.0.1/-1", -1, "database", 0, 0},
	{"redis://127.0.0.1/1/2", -1, "database", 0, 0},
	{"redis://127.0.0.1/a", -1, "database", 0, 0},
	{"redis://127.0.0.1//", -1, "database", 0, 0},
	{"redis://256.0.0.1", -1, "IPv4", 0, 0},
	{"redis://1.2.3", -1, "IPv4", 0, 0},
	{"redis://123", -1, "IPv4", 0, 0},
	{"redis://1.2.3.4.", -1, "IPv4", 0, 0},
	{"redis://::1", -1, "inside [ ]", 0, 0},
	{"redis://2001:db8::1:6379", -1, "inside [ ]", 0, 0},
	{"redis://[::1", -1, "unterminated", 0, 0},
	{"redis://[]", -1, "IPv6", 0, 0},
	{"redis://[127.0.0.1]", -1, "IPv6", 0, 0},
	{"redis://[fe80::1%eth0]", -1, "IPv6", 0, 0},
	{"redis://[::1]x", -1, "after the [IPv6]", 0, 0},
	{"redis://[::1]:", -1, "port", 0, 0},
	{"redis://-bad.example", -1, "host name", 0, 0},
	{"redis://bad-.example", -1, "host name", 0, 0},
	{"redis://a..example", -1, "host name", 0, 0},
	{"redis://example.", -1, "host name", 0, 0},
	{"redis://under_score.example", -1, "host name", 0, 0},
	{"redis://"
	 "a123456789012345678901234567890123456789012345678901234567890123.example",
	 -1, "host name", 0, 0},
};

static void
test_url_parse(void **state)
{
	char host[GUARD_REDIS_HOST_MAX], err[256];
	uint16_t port;
	unsigned db;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(url_rows); i++) {
		const struct url_row *r = &url_rows[i];
		int rc;

		err[0] = '\0';
		rc = redis_url_parse(r->url, host, sizeof(host), &port, &db, err, sizeof(err));
		if (rc != r->rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i, r->url, rc, r->rc, err);
		if (rc == 0 && (strcmp(host, r->host) != 0 || port != r->port || db != r->db))
			fail_msg("row %zu \"%s\": %s %u %u", i, r->url, host, port, db);
		if (rc == -1 && strstr(err, r->host) == NULL)
			fail_msg("row %zu \"%s\": message \"%s\" lacks \"%s\"", i, r->url, err,
				 r->host);
	}
}

static void
test_url_limits(void **state)
{
	char host[GUARD_REDIS_HOST_MAX], small[4], err[256], url[600];
	uint16_t port;
	unsigned db;
	size_t i;

	(void)state;
	/* a 253-byte name fits; 254 does not; nor a name in a short buffer */
	memcpy(url, "redis://", 8);
	for (i = 0; i < 253; i++)
		url[8 + i] = (i % 2 == 0) ? 'a' : '.';
	url[8 + 253] = '\0';
	assert_int_equal(redis_url_parse(url, host, sizeof(host), &port, &db, err, sizeof(err)),
			 0);
	assert_int_equal(strlen(host), 253);
	url[8 + 253] = 'b';
	url[8 + 254] = '\0';
	assert_int_equal(redis_url_parse(url, host, sizeof(host), &port, &db, err, sizeof(err)),
			 -1);
	assert_int_equal(redis_url_parse("redis://example", small, sizeof(small), &port, &db, err,
					 sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "too long"));
	memset(url + 8, 'a', 400);
	url[408] = '\0';
	assert_int_equal(redis_url_parse(url, host, sizeof(host), &port, &db, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "too long"));
	/* no room for the message is no crash */
	assert_int_equal(redis_url_parse("x", host, sizeof(host), &port, &db, err, 0), -1);
	assert_null(guard_redis_new("redis://[::1", "p:", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "unterminated"));
	assert_null(guard_redis_new("redis://127.0.0.1", "p:", 20000, err, sizeof(err)));
	assert_non_null(strstr(err, "timeout"));
	memset(url, 'p', 65);
	url[65] = '\0';
	assert_null(guard_redis_new("redis://127.0.0.1", url, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "prefix"));
}

/* The ban record. */

struct rec_row {
	const char *net;
	const char *value;
	int rc;
	int64_t until, count;
	const char *reason, *actor;
};

static const struct rec_row rec_rows[] = {
	{"192.0.2.0/24", "1700000600 auth-failures 1 guard", 0, 1700000600, 1, "auth-failures",
	 "guard"},
	{"2001:db8::/64", "0 - 0 -", 0, 0, 0, "", ""},
	{"198.51.100.7/32", "9223372036854775807 %2D 9223372036854775807 cli:root", 0,
	 INT64_MAX, INT64_MAX, "-", "cli:root"},
	{"10.0.0.0/8", "5 spam%20run%20100%25 2 a-b", 0, 5, 2, "spam run 100%", "a-b"},
	{"10.0.0.0/8", "5 caf%C3%A9 2 x", 0, 5, 2, "caf\xc3\xa9", "x"},
	{"10.0.0.0/8", "5 -- 2 x", 0, 5, 2, "--", "x"},
	/* refused */
	{"10.0.0.0/8", "", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "garbage", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a 1", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a 1 ", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a 1 b c", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5  a 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", " 5 a 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a 1 b\n", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "-5 a 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "+5 a 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "05 a 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a 01 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "9223372036854775808 a 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "99999999999999999999 a 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a 1x b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a%41 1 b", -1, 0, 0, NULL, NULL},	/* needless escape */
	{"10.0.0.0/8", "5 a%2D 1 b", -1, 0, 0, NULL, NULL},	/* "-" only alone */
	{"10.0.0.0/8", "5 a%c3%a9 1 b", -1, 0, 0, NULL, NULL},	/* lower-case hex */
	{"10.0.0.0/8", "5 a%0A 1 b", -1, 0, 0, NULL, NULL},	/* control */
	{"10.0.0.0/8", "5 a%00 1 b", -1, 0, 0, NULL, NULL},	/* NUL */
	{"10.0.0.0/8", "5 a%7F 1 b", -1, 0, 0, NULL, NULL},	/* DEL */
	{"10.0.0.0/8", "5 a%FF 1 b", -1, 0, 0, NULL, NULL},	/* not UTF-8 */
	{"10.0.0.0/8", "5 a% 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a%4 1 b", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8", "5 a\xc3\xa9 1 b", -1, 0, 0, NULL, NULL}, /* raw high bytes */
	{"10.0.0.0/8", "5 a 1 b\tc", -1, 0, 0, NULL, NULL},
	{"10.0.0.0/8",
	 "5 0123456789012345678901234567890123456789012345678901234567890123 1 b", -1, 0, 0,
	 NULL, NULL},
	{"10.0.0.1/8", "5 a 1 b", -1, 0, 0, NULL, NULL},	    /* host bits */
	{"2001:DB8::/64", "5 a 1 b", -1, 0, 0, NULL, NULL},  /* not canonical */
	{"192.0.2.7", "5 a 1 b", -1, 0, 0, NULL, NULL},	    /* no prefix */
	{"192.0.2.0/24 ", "5 a 1 b", -1, 0, 0, NULL, NULL},
	{"", "5 a 1 b", -1, 0, 0, NULL, NULL},
	{"example.net", "5 a 1 b", -1, 0, 0, NULL, NULL},
};

static void
test_ban_record(void **state)
{
	char out[GUARD_REDIS_BAN_RECORD_MAX + 1];
	struct guard_redis_ban b;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rec_rows); i++) {
		const struct rec_row *r = &rec_rows[i];
		int rc = guard_redis_ban_parse(r->net, r->value, strlen(r->value), &b);

		if (rc != r->rc)
			fail_msg("row %zu \"%s\" \"%s\": rc %d", i, r->net, r->value, rc);
		if (rc == -1) {
			assert_int_equal(b.net[0], 0);
			continue;
		}
		if (strcmp(b.net, r->net) != 0 || b.until != r->until || b.count != r->count ||
		    strcmp(b.reason, r->reason) != 0 || strcmp(b.actor, r->actor) != 0)
			fail_msg("row %zu: parsed wrong", i);
		/* what is accepted is exactly what format writes */
		assert_int_equal(guard_redis_ban_format(&b, out, sizeof(out)), 0);
		assert_string_equal(out, r->value);
	}
	/* a NUL inside the value is not the end of it */
	assert_int_equal(guard_redis_ban_parse("10.0.0.0/8", "5 a 1 b\0c", 9, &b), -1);
	assert_int_equal(guard_redis_ban_parse("10.0.0.0/8", "5 a 1 b\0c", 7, &b), 0);
	/* the worst case fits GUARD_REDIS_BAN_RECORD_MAX */
	memset(&b, 0, sizeof(b));
	b.until = INT64_MAX;
	b.count = INT64_MAX;
	memset(b.reason, ' ', sizeof(b.reason) - 1);
	memset(b.actor, '%', sizeof(b.actor) - 1);
	assert_int_equal(guard_redis_ban_format(&b, out, sizeof(out)), 0);
	assert_int_equal(guard_redis_ban_parse("10.0.0.0/8", out, strlen(out), &b), 0);
	assert_int_equal(guard_redis_ban_format(&b, out, 20), -1);
	assert_string_equal(out, "");
	b.until = -1;
	assert_int_equal(guard_redis_ban_format(&b, out, sizeof(out)), -1);
	b.until = 1;
	b.reason[0] = '\n';
	assert_int_equal(guard_redis_ban_format(&b, out, sizeof(out)), -1);
	b.reason[0] = '\xff';
	assert_int_equal(guard_redis_ban_format(&b, out, sizeof(out)), -1);
	memset(b.reason, 'r', sizeof(b.reason)); /* not terminated */
	assert_int_equal(guard_redis_ban_format(&b, out, sizeof(out)), -1);
}

/* A redis-server of our own. */

static const char *redis_server = REDIS_SERVER;
static pid_t redis_pid = -1;
static uint16_t redis_port;
static char redis_url[64], redis_dir[64];
static bool have_redis;

static uint16_t
free_port(int *keep)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	if (keep != NULL)
		*keep = fd;
	else
		close(fd);
	return ntohs(sin.sin_port);
}

/* raw - a plain hiredis connection to our server, for setup and injection. */
static redisContext *
raw(void)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);

	if (c == NULL || c->err != 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static void
raw_cmd_ok(redisContext *c, redisReply *x)
{
	(void)c;
	assert_non_null(x);
	assert_int_not_equal(x->type, REDIS_REPLY_ERROR);
	freeReplyObject(x);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static int
redis_start(void)
{
	char port[8];
	unsigned i;
	int fd;

	snprintf(port, sizeof(port), "%u", redis_port);
	redis_pid = fork();
	if (redis_pid == -1)
		return -1;
	if (redis_pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(redis_server, "redis-server", "--port", port, "--bind", "127.0.0.1",
		      "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", redis_dir,
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		redisContext *c = raw();
		redisReply *x = c != NULL ? redisCommand(c, "PING") : NULL;
		bool up = x != NULL && x->type == REDIS_REPLY_STATUS && strcmp(x->str, "PONG") == 0;

		freeReplyObject(x);
		redisFree(c);
		if (up)
			return 0;
		sleep_ms(25);
	}
	return -1;
}

static void
redis_stop(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	redis_pid = -1;
}

static int
group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as the auth process does */
	if (getenv(REDIS_SERVER_ENV) != NULL)
		redis_server = getenv(REDIS_SERVER_ENV);
	if (access(redis_server, X_OK) != 0) {
		fprintf(stderr, "test_redis: %s not found: the Redis tests are skipped "
				"(apt-get install redis-server)\n",
			redis_server);
		return 0;
	}
	snprintf(redis_dir, sizeof(redis_dir), "/tmp/postern-redis-XXXXXX");
	if (mkdtemp(redis_dir) == NULL)
		return -1;
	redis_port = free_port(NULL);
	snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%u", redis_port);
	if (redis_start() == -1) {
		fprintf(stderr, "test_redis: %s did not start on port %u\n", redis_server,
			redis_port);
		redis_stop();
		return -1;
	}
	have_redis = true;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	redis_stop();
	if (redis_dir[0] != '\0')
		rmdir(redis_dir);
	return 0;
}

/* need_redis - skip without a server; else start from an empty one. */
static void
need_redis(void)
{
	redisContext *c;

	if (!have_redis) {
		fprintf(stderr, "test_redis: skipped: no %s\n", redis_server);
		skip();
	}
	c = raw();
	assert_non_null(c);
	raw_cmd_ok(c, redisCommand(c, "FLUSHALL"));
	redisFree(c);
}

static struct guard_redis *
connect_redis(const char *prefix)
{
	char err[256];
	struct guard_redis *r = guard_redis_new(redis_url, prefix, 500, err, sizeof(err));

	if (r == NULL)
		fail_msg("guard_redis_new: %s", err);
	return r;
}

/* Log capture: what the module logs goes to stderr. */

static FILE *cap;
static int saved_stderr = -1;
static char captured[16384];

static void
capture_begin(void)
{
	fflush(stderr);
	cap = tmpfile();
	assert_non_null(cap);
	saved_stderr = dup(2);
	dup2(fileno(cap), 2);
}

static void
capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(cap);
	n = fread(captured, 1, sizeof(captured) - 1, cap);
	captured[n] = '\0';
	fclose(cap);
	fputs(captured, stderr); /* still shown */
}

static int
lines_with(const char *needle)
{
	const char *p = captured;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* One table of backend operations, two backends. */

enum op { OP_COUNT, OP_DISTINCT, OP_CONSEC, OP_ONCE, OP_TAG };

struct op_row {
	enum op op;
	const char *key;
	int64_t arg;   /* COUNT: n (0 reads); DISTINCT: member (0 reads); CONSEC: +1, 0,
			  -1; TAG: the tag */
	uint64_t span; /* the span, or CONSEC's keep */
	size_t cap;    /* DISTINCT */
	uint64_t now;
	uint64_t want; /* ONCE, TAG: 1 true, 0 false */
};

#define CNT(k, n, span, now, want) {OP_COUNT, k, n, span, 0, now, want}
#define DIS(k, m, cap, now, want) {OP_DISTINCT, k, m, 60, cap, now, want}
#define CON(k, op, now, want) {OP_CONSEC, k, op, 86400, 0, now, want}
#define ONE(k, now, want) {OP_ONCE, k, 0, 600, 0, now, want}
#define TAG(k, tag, now, want) {OP_TAG, k, tag, 600, 0, now, want}

static const struct op_row op_rows[] = {
	/* span 60: buckets [960, 1020), [1020, 1080), ... */
	CNT("i:192.0.2.1", 1, 60, 960, 1),
	CNT("i:192.0.2.1", 1, 60, 961, 2),
	CNT("i:192.0.2.1", 3, 60, 1019, 5),
	CNT("i:192.0.2.1", 0, 60, 1020, 5), /* all of the previous bucket */
	CNT("i:192.0.2.1", 0, 60, 1050, 3), /* half of 5, rounded up */
	CNT("i:192.0.2.1", 0, 60, 1080, 0), /* two buckets on */
	CNT("i:192.0.2.1", 2, 60, 1050, 5), /* 3 + 2 */
	CNT("i:192.0.2.1", 0, 60, 1139, 1), /* 2/60 of 2, rounded up */
	CNT("i:192.0.2.1", 0, 60, 1140, 0),
	CNT("n:2001:db8::/64", 10, 600, 600, 10),
	CNT("n:2001:db8::/64", 0, 600, 1199, 10),
	CNT("n:2001:db8::/64", 0, 600, 1500, 5),
	CNT("n:2001:db8::/64", 0, 600, 1800, 0),
	CNT("x:never", 0, 600, 5000, 0),
	CNT("x:never", 0, 600, 5000, 0), /* a read creates nothing */
	CNT("x:big", UINT32_MAX, 600, 600, UINT32_MAX),
	CNT("x:big", 5, 600, 601, UINT32_MAX), /* saturates */
	CNT("x:big", 0, 600, 1200, UINT32_MAX),
	CNT("x:big", 0, 600, 1500, 2147483648u),
	/* keys are data, never format: attacker-chosen account names */
	CNT("p:%s%n%b%%|10.0.0.1", 1, 600, 1000, 1),
	CNT("p:%s%n%b%%|10.0.0.1", 1, 600, 1001, 2),
	CNT("p:bob\r\n*1\r\n$8\r\nFLUSHALL\r\n|10.0.0.2", 4, 600, 1000, 4),
	CNT("p:a b  c \"d\"|10.0.0.3", 1, 600, 1000, 1),
	CNT("p:caf\xc3\xa9\xff|10.0.0.4", 1, 600, 1000, 1),
	CNT("p:%s%n%b%%|10.0.0.1", 0, 600, 1002, 2),
	/* distinct members within 60 s, cap 3 */
	DIS("a:192.0.2.9", 11, 3, 100, 1),
	DIS("a:192.0.2.9", 11, 3, 101, 1), /* the same member */
	DIS("a:192.0.2.9", 12, 3, 102, 2),
	DIS("a:192.0.2.9", 13, 3, 103, 3),
	DIS("a:192.0.2.9", 14, 3, 104, 3), /* capped: 11 (the oldest) goes */
	DIS("a:192.0.2.9", 0, 3, 105, 3),
	DIS("a:192.0.2.9", 11, 3, 106, 3), /* back, 12 goes */
	DIS("a:192.0.2.9", 0, 3, 163, 2),  /* 13 (seen at 103) is out */
	DIS("a:192.0.2.9", 15, 3, 200, 1), /* the rest expired */
	DIS("a:192.0.2.9", 0, 3, 200, 1),
	DIS("a:192.0.2.9", 0, 3, 259, 1),
	DIS("a:192.0.2.9", 0, 3, 260, 0),
	DIS("g:src", 0, 0, 100, 0),
	DIS("g:src", 1, 0, 100, 1), /* cap 0: WINDOW_SET_MAX */
	DIS("g:src", UINT64_MAX >> 1, 0, 100, 2),
	/* consecutive failures */
	CON("c:alice", 1, 1000, 1),
	CON("c:alice", 1, 1001, 2),
	CON("c:alice", 0, 1002, 2),
	CON("c:alice", -1, 1003, 0),
	CON("c:alice", 0, 1004, 0),
	CON("c:alice", 1, 1005, 1),
	CON("c:nobody", 0, 1006, 0),
	CON("c:nobody", -1, 1007, 0),
	CON("c:nobody", 0, 1008, 0),
	/* once per 600 s, by the caller's clock */
	ONE("o:ban:192.0.2.1", 1000, 1),
	ONE("o:ban:192.0.2.1", 1001, 0),
	ONE("o:ban:192.0.2.1", 1599, 0),
	ONE("o:ban:192.0.2.1", 1600, 1),
	ONE("o:ban:192.0.2.1", 1700, 0),
	ONE("o:spray:192.0.2.1", 1700, 1),
	ONE("o:ban:192.0.2.1", 2200, 1),
	/* stale password tags: the last GUARD_STALE_TAGS (4) inserted */
	TAG("w:alice|192.0.2.1", 42, 1000, 0),
	TAG("w:alice|192.0.2.1", 42, 1001, 1),
	TAG("w:alice|192.0.2.1", 43, 1002, 0),
	TAG("w:alice|192.0.2.1", 44, 1003, 0),
	TAG("w:alice|192.0.2.1", 45, 1004, 0),
	TAG("w:alice|192.0.2.1", 46, 1005, 0), /* 42 goes */
	TAG("w:alice|192.0.2.1", 43, 1006, 1), /* seen: keeps its place */
	TAG("w:alice|192.0.2.1", 42, 1007, 0), /* 43 goes */
	TAG("w:alice|192.0.2.1", 43, 1008, 0), /* 44 goes */
	TAG("w:alice|192.0.2.1", 45, 1009, 1),
	TAG("w:alice|192.0.2.1", 45, 1608, 1), /* the key was used within 600 s */
	TAG("w:alice|192.0.2.1", 45, 2208, 0), /* left alone 600 s: all forgotten */
	TAG("w:alice|192.0.2.1", 45, 2209, 1),
	TAG("w:alice|192.0.2.1", 46, 2210, 0),
	TAG("w:b b\r\n|192.0.2.1", 45, 2210, 0),
	TAG("w:b b\r\n|192.0.2.1", 45, 2211, 1),
};

static uint64_t
run_op(const struct guard_backend *be, const struct op_row *o)
{
	switch (o->op) {
	case OP_COUNT:
		return be->count(be->ctx, o->key, o->span, (uint32_t)o->arg, o->now);
	case OP_DISTINCT:
		return be->distinct(be->ctx, o->key, (uint64_t)o->arg, o->span, o->cap, o->now);
	case OP_CONSEC:
		return be->consec(be->ctx, o->key, (int)o->arg, o->span, o->now);
	case OP_ONCE:
		return be->once(be->ctx, o->key, o->span, o->now);
	case OP_TAG:
		return be->tag_seen(be->ctx, o->key, (uint64_t)o->arg, o->span, o->now);
	}
	return UINT64_MAX;
}

static void
run_table(const struct guard_backend *be, const char *name)
{
	size_t i;

	for (i = 0; i < nitems(op_rows); i++) {
		uint64_t got = run_op(be, &op_rows[i]);

		if (got != op_rows[i].want)
			fail_msg("%s backend, row %zu (op %d key \"%s\" at %llu): %llu, want %llu",
				 name, i, op_rows[i].op, op_rows[i].key,
				 (unsigned long long)op_rows[i].now, (unsigned long long)got,
				 (unsigned long long)op_rows[i].want);
	}
}

static void
test_table_memory(void **state)
{
	struct guard_backend be = guard_backend_memory();

	(void)state;
	run_table(&be, "memory");
	be.free(be.ctx);
}

static void
test_table_redis(void **state)
{
	struct guard_backend be;
	redisContext *c;
	redisReply *x;

	(void)state;
	need_redis();
	be = guard_backend_redis(connect_redis("postern:"));
	run_table(&be, "redis");
	be.sweep(be.ctx, 100000); /* nothing to do, nothing lost */
	assert_int_equal(be.consec(be.ctx, "c:alice", 0, 0, 100000), 1);
	be.free(be.ctx);
	/* every key is under the prefix and expires */
	c = raw();
	assert_non_null(c);
	x = redisCommand(c, "KEYS *");
	assert_int_equal(x->type, REDIS_REPLY_ARRAY);
	assert_true(x->elements > 10);
	for (size_t i = 0; i < x->elements; i++) {
		redisReply *t;

		assert_memory_equal(x->element[i]->str, "postern:", 8);
		t = redisCommand(c, "TTL %b", x->element[i]->str, x->element[i]->len);
		assert_int_equal(t->type, REDIS_REPLY_INTEGER);
		if (t->integer <= 0)
			fail_msg("%s has no expiry", x->element[i]->str);
		freeReplyObject(t);
	}
	freeReplyObject(x);
	/* the key with CRLF did not run FLUSHALL: the others are there */
	x = redisCommand(c, "EXISTS postern:s:c:alice");
	assert_int_equal(x->integer, 1);
	freeReplyObject(x);
	redisFree(c);
}

/* Two gateways: two connections, one set of counters and bans. */

static void
test_two_connections(void **state)
{
	struct guard_redis *r1, *r2;
	struct guard_backend b1, b2;
	struct guard_redis_ban ban;
	int64_t v;

	(void)state;
	need_redis();
	r1 = connect_redis("gw:");
	r2 = connect_redis("gw:");
	b1 = guard_backend_redis(r1);
	b2 = guard_backend_redis(r2);
	assert_int_equal(b1.count(b1.ctx, "i:192.0.2.5", 600, 3, 1000), 3);
	assert_int_equal(b2.count(b2.ctx, "i:192.0.2.5", 600, 2, 1001), 5);
	assert_int_equal(b1.count(b1.ctx, "i:192.0.2.5", 600, 0, 1002), 5);
	assert_int_equal(b1.distinct(b1.ctx, "a:192.0.2.5", 1, 600, 5, 1000), 1);
	assert_int_equal(b2.distinct(b2.ctx, "a:192.0.2.5", 2, 600, 5, 1000), 2);
	assert_int_equal(b1.consec(b1.ctx, "c:alice", 1, 86400, 1000), 1);
	assert_int_equal(b2.consec(b2.ctx, "c:alice", 1, 86400, 1000), 2);
	assert_int_equal(b1.consec(b1.ctx, "c:alice", -1, 0, 1000), 0);
	assert_int_equal(b2.consec(b2.ctx, "c:alice", 0, 0, 1000), 0);
	assert_true(b1.once(b1.ctx, "o:ban:192.0.2.5", 600, 1000));
	assert_false(b2.once(b2.ctx, "o:ban:192.0.2.5", 600, 1000));
	assert_false(b1.tag_seen(b1.ctx, "w:alice|192.0.2.5", 7, 600, 1000));
	assert_true(b2.tag_seen(b2.ctx, "w:alice|192.0.2.5", 7, 600, 1001));
	/* another prefix, or another database, is another namespace */
	{
		struct guard_backend b3 = guard_backend_redis(connect_redis("other:"));
		char url[80], err[256];
		struct guard_redis *r4;

		assert_int_equal(b3.count(b3.ctx, "i:192.0.2.5", 600, 0, 1002), 0);
		b3.free(b3.ctx);
		snprintf(url, sizeof(url), "%s/15", redis_url);
		r4 = guard_redis_new(url, "gw:", 0, err, sizeof(err));
		assert_non_null(r4);
		b3 = guard_backend_redis(r4);
		assert_int_equal(b3.count(b3.ctx, "i:192.0.2.5", 600, 0, 1002), 0);
		assert_int_equal(b3.count(b3.ctx, "i:192.0.2.5", 600, 1, 1002), 1);
		assert_int_equal(b1.count(b1.ctx, "i:192.0.2.5", 600, 0, 1002), 5);
		b3.free(b3.ctx);
	}
	/* bans: one puts, the other sees */
	assert_int_equal(guard_redis_ban_version(r2, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(guard_redis_ban_put(r1, "192.0.2.5/32", 2000000000, "auth-failures",
					     "guard", 1),
			 0);
	assert_int_equal(guard_redis_ban_version(r2, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(guard_redis_ban_get(r2, "192.0.2.5/32", &ban), 0);
	assert_string_equal(ban.reason, "auth-failures");
	assert_int_equal(guard_redis_ban_del(r2, "192.0.2.5/32"), 0);
	assert_int_equal(guard_redis_ban_get(r1, "192.0.2.5/32", &ban), 1);
	assert_int_equal(guard_redis_ban_version(r1, &v), 0);
	assert_int_equal(v, 2);
	b1.free(b1.ctx);
	b2.free(b2.ctx);
}

/* Two engines, as in two gateways: 3 failures on one and 2 on the other
 * are the 5 that ban. */

struct seen {
	int bans, throttles;
	char ip[64];
};

static void
record(void *arg, const struct guard_alert *a)
{
	struct seen *s = arg;

	if (a->kind == GUARD_EV_BAN) {
		s->bans++;
		snprintf(s->ip, sizeof(s->ip), "%s", a->ip);
	} else if (a->kind == GUARD_EV_THROTTLE) {
		s->throttles++;
	}
}

static void
test_two_engines(void **state)
{
	static const char text[] = "state_dir /tmp/x\nlisten 127.0.0.1:25 { role mx }\n";
	struct conf cf;
	struct seen s1, s2;
	struct guard *g1, *g2;
	struct guard_attempt a = {"192.0.2.1", "alice", true, false, 0, 0};
	char err[256];
	const char *why;
	uint32_t delay;
	bool rep;
	int i;

	(void)state;
	need_redis();
	memset(&cf, 0, sizeof(cf));
	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	assert_int_equal(conf_parse("t.conf", text, sizeof(text) - 1, &cf, err, sizeof(err)), 0);
	assert_int_equal(cf.guard.ip_failures, 5);
	g1 = guard_new(&cf.guard, guard_backend_redis(connect_redis("postern:")), record, &s1);
	g2 = guard_new(&cf.guard, guard_backend_redis(connect_redis("postern:")), record, &s2);
	for (i = 0; i < 5; i++) {
		struct guard *g = i < 3 ? g1 : g2;

		a.pwtag = 100 + (uint64_t)i; /* five different passwords */
		assert_int_equal(guard_before(g, &a, 1000, &why, &delay), GUARD_OPEN);
		guard_failed(g, &a, 1000 + (uint64_t)i, &rep);
		assert_false(rep);
	}
	assert_int_equal(s1.bans, 0);
	assert_int_equal(s2.bans, 1);
	assert_string_equal(s2.ip, "192.0.2.1");
	/* the first gateway throttles the address too, and raises no second ban */
	a.account = "bob";
	assert_int_equal(guard_before(g1, &a, 1010, &why, &delay), GUARD_THROTTLED);
	assert_string_equal(why, "address-throttled");
	guard_failed(g1, &a, 1011, &rep);
	assert_int_equal(s1.bans, 0);
	/* a stale password repeated on the other gateway counts once */
	a.account = "alice";
	a.pwtag = 104;
	guard_failed(g1, &a, 1012, &rep);
	assert_true(rep);
	guard_free(g1);
	guard_free(g2);
	conf_free(&cf);
}

/* Shared bans. */

struct nets {
	char seen[8][72];
	int n, calls, stop_after;
};

static int
collect(const struct guard_redis_ban *b, void *arg)
{
	struct nets *ns = arg;

	ns->calls++;
	if (ns->n < 8)
		snprintf(ns->seen[ns->n++], sizeof(ns->seen[0]), "%s", b->net);
	return ns->stop_after != 0 && ns->calls >= ns->stop_after;
}

static bool
has_net(const struct nets *ns, const char *net)
{
	for (int i = 0; i < ns->n; i++)
		if (strcmp(ns->seen[i], net) == 0)
			return true;
	return false;
}

static void
test_bans(void **state)
{
	struct guard_redis *r;
	struct guard_redis_ban b;
	struct nets ns;
	int64_t now = 1700000000, v;

	(void)state;
	need_redis();
	r = connect_redis("postern:");
	assert_int_equal(guard_redis_ban_version(r, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(guard_redis_ban_put(r, "192.0.2.0/24", now + 600, "auth-failures",
					     "guard", 1),
			 0);
	assert_int_equal(guard_redis_ban_put(r, "2001:db8:1::/64", now + 3600,
					     "spam run 100% caf\xc3\xa9", "cli:root", 3),
			 0);
	assert_int_equal(guard_redis_ban_put(r, "198.51.100.7/32", now - 10, "-", "", 2), 0);
	assert_int_equal(guard_redis_ban_version(r, &v), 0);
	assert_int_equal(v, 3);
	/* get: over or not */
	assert_int_equal(guard_redis_ban_get(r, "2001:db8:1::/64", &b), 0);
	assert_string_equal(b.net, "2001:db8:1::/64");
	assert_int_equal(b.until, now + 3600);
	assert_string_equal(b.reason, "spam run 100% caf\xc3\xa9");
	assert_int_equal(b.count, 3);
	assert_string_equal(b.actor, "cli:root");
	assert_int_equal(guard_redis_ban_get(r, "198.51.100.7/32", &b), 0);
	assert_string_equal(b.reason, "-");
	assert_string_equal(b.actor, "");
	assert_int_equal(guard_redis_ban_get(r, "203.0.113.0/24", &b), 1);
	assert_int_equal(guard_redis_ban_get(r, "not a net", &b), 1);
	/* each: those in force */
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(guard_redis_ban_each(r, now, collect, &ns), 0);
	assert_int_equal(ns.calls, 2);
	assert_true(has_net(&ns, "192.0.2.0/24"));
	assert_true(has_net(&ns, "2001:db8:1::/64"));
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(guard_redis_ban_each(r, now - 20, collect, &ns), 0);
	assert_int_equal(ns.calls, 3);
	memset(&ns, 0, sizeof(ns));
	ns.stop_after = 1;
	assert_int_equal(guard_redis_ban_each(r, now, collect, &ns), 0);
	assert_int_equal(ns.calls, 1);
	/* a put replaces */
	assert_int_equal(guard_redis_ban_put(r, "192.0.2.0/24", now + 1200, "spray", "guard", 2),
			 0);
	assert_int_equal(guard_redis_ban_get(r, "192.0.2.0/24", &b), 0);
	assert_int_equal(b.until, now + 1200);
	assert_int_equal(b.count, 2);
	assert_string_equal(b.reason, "spray");
	/* what cannot be stored is refused, and nothing changes */
	assert_int_equal(guard_redis_ban_put(r, "192.0.2.1/24", now, "x", "y", 1), -1);
	assert_non_null(strstr(guard_redis_error(r), "not storable"));
	assert_int_equal(guard_redis_ban_put(r, "2001:DB8::/64", now, "x", "y", 1), -1);
	assert_int_equal(guard_redis_ban_put(r, "192.0.2.7", now, "x", "y", 1), -1);
	assert_int_equal(guard_redis_ban_put(r, "", now, "x", "y", 1), -1);
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", -1, "x", "y", 1), -1);
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", now, "x", "y", -1), -1);
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", now, "a\nb", "y", 1), -1);
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", now, "\xff", "y", 1), -1);
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", now, "x", "y\r", 1), -1);
	/* 64 bytes: one too many */
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", now,
					     "0123456789012345678901234567890123456789"
					     "012345678901234567890123",
					     "y", 1),
			 -1);
	assert_int_equal(guard_redis_ban_version(r, &v), 0);
	assert_int_equal(v, 4);
	/* del */
	assert_int_equal(guard_redis_ban_del(r, "192.0.2.0/24"), 0);
	assert_int_equal(guard_redis_ban_del(r, "192.0.2.0/24"), 1);
	assert_int_equal(guard_redis_ban_get(r, "192.0.2.0/24", &b), 1);
	assert_int_equal(guard_redis_ban_version(r, &v), 0);
	assert_int_equal(v, 6);
	guard_redis_free(r);
}

static int
count_cb(const struct guard_redis_ban *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
	return 0;
}

static void
test_bans_many(void **state)
{
	struct guard_redis *r;
	char net[32];
	int i, n = 0;

	(void)state;
	need_redis();
	r = connect_redis("postern:");
	/* enough for HSCAN to take several rounds */
	for (i = 0; i < 1000; i++) {
		snprintf(net, sizeof(net), "10.%d.%d.0/24", i / 256, i % 256);
		assert_int_equal(guard_redis_ban_put(r, net, 2000000000, "auth-failures", "guard",
						     1),
				 0);
	}
	assert_int_equal(guard_redis_ban_each(r, 1700000000, count_cb, &n), 0);
	assert_int_equal(n, 1000);
	guard_redis_free(r);
}

static void
test_bans_malformed(void **state)
{
	static const char *bad[][2] = {
		{"198.51.100.0/24", "garbage"},
		{"203.0.113.0/24", "99999999999999999999 x 1 y"},
		{"10.0.0.1/8", "9999999999 admin 1 cli:root"}, /* host bits set */
		{"192.0.2.128/25", "9999999999 a%41 1 x"},     /* needless escape */
		{"192.0.2.64/26", "9999999999 a 1 b\nFAKE log line"},
		{"192.0.2.32/27", ""},
	};
	struct guard_redis *r;
	struct guard_redis_ban b;
	struct nets ns;
	redisContext *c;
	size_t i;

	(void)state;
	need_redis();
	r = connect_redis("postern:");
	assert_int_equal(guard_redis_ban_put(r, "192.0.2.0/28", 9999999999, "ok", "guard", 1), 0);
	c = raw();
	assert_non_null(c);
	for (i = 0; i < nitems(bad); i++)
		raw_cmd_ok(c, redisCommand(c, "HSET postern:bans %s %s", bad[i][0], bad[i][1]));
	/* a field with a NUL in it */
	raw_cmd_ok(c, redisCommand(c, "HSET postern:bans %b %s", "10.1.0.0/16\0x", (size_t)13,
				   "9999999999 a 1 b"));
	redisFree(c);
	capture_begin();
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(guard_redis_ban_each(r, 1700000000, collect, &ns), 0);
	assert_int_equal(guard_redis_ban_get(r, "198.51.100.0/24", &b), 1);
	assert_int_equal(guard_redis_ban_get(r, "192.0.2.128/25", &b), 1);
	capture_end();
	assert_int_equal(ns.calls, 1);
	assert_string_equal(ns.seen[0], "192.0.2.0/28");
	assert_int_equal(lines_with("guard store-bad-ban"), (int)nitems(bad) + 1 + 2);
	assert_non_null(strstr(captured, "net=\"10.1.0.0/16\\x00x\""));
	assert_null(strstr(captured, "\nFAKE")); /* nothing unescaped reached the log */
	guard_redis_free(r);
}

/* Keys of the wrong type (someone else's data under our prefix) count as
 * nothing and never abort. */
static void
test_wrong_types(void **state)
{
	struct guard_redis *r;
	struct guard_backend be;
	struct guard_redis_ban b;
	struct nets ns;
	redisContext *c;
	int64_t v;

	(void)state;
	need_redis();
	c = raw();
	assert_non_null(c);
	raw_cmd_ok(c, redisCommand(c, "LPUSH postern:c:i:192.0.2.1:600 x"));
	raw_cmd_ok(c, redisCommand(c, "SET postern:d:a:x notaset"));
	raw_cmd_ok(c, redisCommand(c, "SET postern:s:c:alice notanumber"));
	raw_cmd_ok(c, redisCommand(c, "LPUSH postern:o:o:x y"));
	raw_cmd_ok(c, redisCommand(c, "SET postern:t:w:x notaset"));
	raw_cmd_ok(c, redisCommand(c, "SET postern:bans notahash"));
	raw_cmd_ok(c, redisCommand(c, "SET postern:bans:version notanumber"));
	redisFree(c);
	r = connect_redis("postern:");
	be = guard_backend_redis(connect_redis("postern:"));
	capture_begin();
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1000), 0);
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 0, 1000), 0);
	assert_int_equal(be.distinct(be.ctx, "a:x", 1, 600, 5, 1000), 0);
	assert_int_equal(be.distinct(be.ctx, "a:x", 0, 600, 5, 1000), 0);
	assert_int_equal(be.consec(be.ctx, "c:alice", 0, 0, 1000), 0);
	assert_int_equal(be.consec(be.ctx, "c:alice", 1, 60, 1000), 0);
	assert_false(be.once(be.ctx, "o:x", 600, 1000));
	/* a stale tag set is replaced, whatever it was */
	assert_false(be.tag_seen(be.ctx, "w:x", 1, 600, 1000));
	assert_true(be.tag_seen(be.ctx, "w:x", 1, 600, 1001));
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", 5, "a", "b", 1), -1);
	assert_int_equal(guard_redis_ban_get(r, "10.0.0.0/8", &b), -1);
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(guard_redis_ban_each(r, 0, collect, &ns), -1);
	assert_int_equal(guard_redis_ban_version(r, &v), -1);
	assert_int_equal(guard_redis_ban_del(r, "10.0.0.0/8"), -1);
	/* still connected: a good key works */
	assert_int_equal(be.count(be.ctx, "i:192.0.2.2", 600, 1, 1000), 1);
	capture_end();
	/* an error is logged once a minute per connection, not once per call;
	 * the store is not "down" */
	assert_int_equal(lines_with("guard store-error"), 2);
	assert_int_equal(lines_with("store-down"), 0);
	be.free(be.ctx);
	guard_redis_free(r);
}

/* A server that accepts and never answers: every call is bounded. */
static void
test_timeout(void **state)
{
	struct guard_backend be;
	char url[64], err[256];
	uint64_t t0;
	int lfd;
	uint16_t port;
	struct guard_redis *r;

	(void)state;
	port = free_port(&lfd);
	assert_int_equal(listen(lfd, 8), 0); /* the kernel completes the handshake */
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", port);
	capture_begin();
	r = guard_redis_new(url, "p:", 100, err, sizeof(err));
	assert_non_null(r);
	be = guard_backend_redis(r);
	t0 = now_ms();
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1000), 0);
	assert_true(now_ms() - t0 < 1000);
	/* down now: no waiting until the retry */
	t0 = now_ms();
	for (int i = 0; i < 100; i++)
		assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1000), 0);
	assert_true(now_ms() - t0 < 100);
	capture_end();
	assert_int_equal(lines_with("guard store-down"), 1);
	be.free(be.ctx);
	close(lfd);
}

/* Redis goes away and comes back. */
static void
test_outage(void **state)
{
	struct guard_redis *r, *dead;
	struct guard_backend be;
	struct guard_redis_ban b;
	struct nets ns;
	char url[64], err[256];
	int64_t v;
	uint64_t t0;

	(void)state;
	need_redis();
	r = connect_redis("postern:");
	be = guard_backend_redis(connect_redis("postern:"));
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1000), 1);
	assert_int_equal(guard_redis_ban_put(r, "192.0.2.0/24", 2000000000, "x", "guard", 1), 0);
	capture_begin();
	redis_stop();
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1001), 0);
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 0, 1001), 0);
	assert_int_equal(be.distinct(be.ctx, "a:x", 1, 600, 5, 1001), 0);
	assert_int_equal(be.consec(be.ctx, "c:alice", 1, 60, 1001), 0);
	assert_false(be.once(be.ctx, "o:x", 600, 1001));
	assert_false(be.tag_seen(be.ctx, "w:x", 1, 600, 1001));
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", 5, "a", "b", 1), -1);
	assert_int_equal(guard_redis_ban_get(r, "192.0.2.0/24", &b), -1);
	assert_int_equal(guard_redis_ban_del(r, "192.0.2.0/24"), -1);
	memset(&ns, 0, sizeof(ns));
	assert_int_equal(guard_redis_ban_each(r, 0, collect, &ns), -1);
	assert_int_equal(guard_redis_ban_version(r, &v), -1);
	assert_true(guard_redis_error(r)[0] != '\0');
	/* a new connection to a dead server is made all the same */
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", redis_port);
	dead = guard_redis_new(url, "postern:", 0, err, sizeof(err));
	assert_non_null(dead);
	guard_redis_free(dead);
	/* retries (one a second) fail quietly */
	sleep_ms(1100);
	t0 = now_ms();
	for (int i = 0; i < 50; i++)
		assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1002), 0);
	assert_true(now_ms() - t0 < 500);
	/* back on the same port (empty: no persistence) */
	assert_int_equal(redis_start(), 0);
	sleep_ms(1100);
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1003), 1);
	assert_int_equal(be.count(be.ctx, "i:192.0.2.1", 600, 1, 1004), 2);
	assert_true(be.once(be.ctx, "o:x", 600, 1004));
	assert_int_equal(guard_redis_ban_put(r, "10.0.0.0/8", 5, "a", "b", 1), 0);
	assert_int_equal(guard_redis_ban_version(r, &v), 0);
	assert_int_equal(v, 1);
	capture_end();
	/* one down line per connection (be, r, dead), one up line each for be, r */
	assert_int_equal(lines_with("guard store-down url=redis://127.0.0.1:"), 3);
	assert_int_equal(lines_with("guard store-up url=redis://127.0.0.1:"), 2);
	be.free(be.ctx);
	guard_redis_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_url_limits),
		cmocka_unit_test(test_ban_record),
		cmocka_unit_test(test_table_memory),
		cmocka_unit_test(test_table_redis),
		cmocka_unit_test(test_two_connections),
		cmocka_unit_test(test_two_engines),
		cmocka_unit_test(test_bans),
		cmocka_unit_test(test_bans_many),
		cmocka_unit_test(test_bans_malformed),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_outage),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
