/* SPDX-License-Identifier: ISC */
/*
 * redis - the guard's counters and bans in Redis (see redis.h).
 *
 * Every command goes through a pipeline (struct pipe): commands appended
 * with constant formats whose keys and values are %b arguments, then their
 * replies read back in order. Writes that must not be torn (a counter and
 * its expiry) sit between MULTI and EXEC. Any I/O error drops the
 * connection (a late reply must never be read as the answer to the next
 * command); an error reply or an unexpected type only spoils that answer.
 */
#include "guard/redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "guard/window.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"

/* A key: the prefix, a type, the engine's key (KEY_MAX in guard.c is 512)
 * and a bucket start. */
#define RKEY_MAX (GUARD_REDIS_PREFIX_MAX + 1024)
/* Commands in one pipeline, MULTI and EXEC included. */
#define PIPE_MAX 10
/* Expiry is garbage collection only; this caps absurd spans. */
#define TTL_MAX ((uint64_t)10 * 366 * 86400)
/* An error reply (not an outage) is logged at most this often. */
#define WARN_EVERY_MS 60000
/* Fields HSCAN is asked for per round, and the rounds allowed. */
#define SCAN_COUNT 256
#define SCAN_ROUNDS_MAX 100000

struct guard_redis {
	redisContext *c; /* NULL: not connected */
	char url[GUARD_REDIS_URL_MAX + 1];
	char host[GUARD_REDIS_HOST_MAX];
	uint16_t port;
	unsigned db;
	char prefix[GUARD_REDIS_PREFIX_MAX + 1];
	struct timeval tv;
	bool down;	    /* an outage was logged and is not over */
	uint64_t retry_at;  /* no connection attempt before this (now_ms) */
	uint64_t warned_at; /* the last store-error line (now_ms), 0: none */
	char error[256];
};

/* The URL. */

static int
url_fail(char *err, size_t errsz, const char *msg)
{
	if (errsz > 0)
		snprintf(err, errsz, "redis URL: %s", msg);
	return -1;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* valid_hostname - LDH labels of 1..63 bytes, at most 253 in all. */
static bool
valid_hostname(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && s[n - 1] != '-';
}

/* valid_ip - s (n bytes) is a numeric address of family af. */
static bool
valid_ip(int af, const char *s, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char addr[16];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(af, tmp, addr) == 1;
}

/* url_host - the host at the start of the authority a (n bytes); *rest is
 * what follows it (":PORT" or nothing). */
static int
url_host(const char *a, size_t n, char *host, size_t hostsz, const char **rest, char *err,
	 size_t errsz)
{
	const char *h = a, *end;
	size_t hl;

	if (n > 0 && a[0] == '[') {
		end = memchr(a, ']', n);
		if (end == NULL)
			return url_fail(err, errsz, "unterminated [IPv6] address");
		h = a + 1;
		hl = (size_t)(end - h);
		if (!valid_ip(AF_INET6, h, hl))
			return url_fail(err, errsz, "not an IPv6 address inside [ ]");
		*rest = end + 1;
		if (*rest < a + n && **rest != ':')
			return url_fail(err, errsz, "text after the [IPv6] address");
	} else {
		end = memchr(a, ':', n);
		hl = end != NULL ? (size_t)(end - a) : n;
		*rest = a + hl;
		if (end != NULL && memchr(end + 1, ':', n - hl - 1) != NULL)
			return url_fail(err, errsz, "an IPv6 address goes inside [ ]");
		if (hl == 0)
			return url_fail(err, errsz, "no host");
		if (strspn(h, "0123456789.") >= hl) {
			if (!valid_ip(AF_INET, h, hl))
				return url_fail(err, errsz, "not an IPv4 address");
		} else if (!valid_hostname(h, hl)) {
			return url_fail(err, errsz, "not a host name");
		}
	}
	if (hl >= hostsz)
		return url_fail(err, errsz, "host too long");
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

int
redis_url_parse(const char *url, char *host, size_t hostsz, uint16_t *port, unsigned *db,
		char *err, size_t errsz)
{
	static const char scheme[] = "redis://";
	const char *a, *slash, *rest;
	size_t i, len = strnlen(url, GUARD_REDIS_URL_MAX + 1);
	uint64_t v = GUARD_REDIS_PORT_DEFAULT, d = 0;

	if (len > GUARD_REDIS_URL_MAX)
		return url_fail(err, errsz, "too long");
	if (strcase_prefix(url, "rediss://"))
		return url_fail(err, errsz, "rediss:// (TLS) is not supported");
	if (!strcase_prefix(url, scheme))
		return url_fail(err, errsz, "expected redis://HOST[:PORT][/DB]");
	a = url + sizeof(scheme) - 1;
	for (i = 0; a[i] != '\0'; i++)
		if (a[i] <= ' ' || a[i] >= 0x7f || strchr("@?#", a[i]) != NULL)
			return url_fail(err, errsz,
					a[i] == '@'   ? "credentials are not supported"
					: a[i] == '?' ? "options are not supported"
						      : "unexpected character");
	slash = strchr(a, '/');
	len = slash != NULL ? (size_t)(slash - a) : strlen(a);
	if (url_host(a, len, host, hostsz, &rest, err, errsz) == -1)
		return -1;
	if (rest < a + len &&
	    (parse_u64n(rest + 1, (size_t)(a + len - rest - 1), UINT16_MAX, &v) == -1 || v == 0))
		return url_fail(err, errsz, "the port is not a number from 1 to 65535");
	if (slash != NULL && slash[1] != '\0' &&
	    parse_u64n(slash + 1, strlen(slash + 1), GUARD_REDIS_DB_MAX, &d) == -1)
		return url_fail(err, errsz, "the database is not a number from 0 to 15");
	*port = (uint16_t)v;
	*db = (unsigned)d;
	return 0;
}

/* Ban records. */

/* text_bare - a byte a record field holds as itself. */
static bool
text_bare(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '%';
}

/* text_ok - a byte a reason or actor may hold at all. */
static bool
text_ok(unsigned char c)
{
	return c >= ' ' && c != 0x7f;
}

/* valid_text - s (a field of size bytes) is NUL-terminated, free of
 * control characters and valid UTF-8. */
static bool
valid_text(const char *s, size_t size)
{
	size_t i, n = strnlen(s, size);

	if (n == size)
		return false;
	for (i = 0; i < n; i++)
		if (!text_ok((unsigned char)s[i]))
			return false;
	return valid_utf8(s, n);
}

/* valid_ban_net - net is a network in canonical form. */
static bool
valid_ban_net(const char *net)
{
	char canon[sizeof(((struct guard_redis_ban *)0)->net)];
	struct cidr c;
	size_t n = strnlen(net, sizeof(canon));

	return n > 0 && n < sizeof(canon) && net_parse_cidr(net, &c) == 0 &&
	       net_cidr_format(&c, canon, sizeof(canon)) != NULL && strcmp(canon, net) == 0;
}

struct wr {
	char *p;
	size_t size, n;
	bool over;
};

static void
wr_byte(struct wr *w, char c)
{
	if (w->n + 1 < w->size)
		w->p[w->n++] = c;
	else
		w->over = true;
}

static void
wr_str(struct wr *w, const char *s)
{
	for (; *s != '\0'; s++)
		wr_byte(w, *s);
}

static void
wr_text(struct wr *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	/* "-" stands for the empty string, so a lone "-" is encoded */
	if (s[0] == '\0' || strcmp(s, "-") == 0) {
		wr_str(w, s[0] == '\0' ? "-" : "%2D");
		return;
	}
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (text_bare(c)) {
			wr_byte(w, (char)c);
		} else {
			wr_byte(w, '%');
			wr_byte(w, hex[c >> 4]);
			wr_byte(w, hex[c & 15]);
		}
	}
}

static void
wr_num(struct wr *w, int64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	wr_str(w, tmp);
}

int
guard_redis_ban_format(const struct guard_redis_ban *b, char *out, size_t outsz)
{
	struct wr w = {out, outsz, 0, false};

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	if (b->until < 0 || b->count < 0 || !valid_text(b->reason, sizeof(b->reason)) ||
	    !valid_text(b->actor, sizeof(b->actor)))
		return -1;
	wr_num(&w, b->until);
	wr_byte(&w, ' ');
	wr_text(&w, b->reason);
	wr_byte(&w, ' ');
	wr_num(&w, b->count);
	wr_byte(&w, ' ');
	wr_text(&w, b->actor);
	if (w.over) {
		out[0] = '\0';
		return -1;
	}
	out[w.n] = '\0';
	return 0;
}

/* num_decode - canonical decimal (no sign, no leading zero) up to
 * INT64_MAX. */
static int
num_decode(const char *s, size_t n, int64_t *v)
{
	uint64_t u;

	if (n == 0 || (n > 1 && s[0] == '0') || parse_u64n(s, n, INT64_MAX, &u) == -1)
		return -1;
	*v = (int64_t)u;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* text_decode - a percent-encoded field as wr_text writes it, and only so,
 * into out (outsz bytes with the NUL). */
static int
text_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;
	int hi, lo;
	unsigned char c;

	if (n == 1 && s[0] == '-') {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (n - i < 3 || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			/* what need not be encoded is not, but for a lone "-" */
			if (!text_ok(c) || (text_bare(c) && !(n == 3 && c == '-')))
				return -1;
		} else if (!text_bare(c)) {
			return -1;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0 && valid_utf8(out, o) ? 0 : -1;
}

int
guard_redis_ban_parse(const char *net, const char *value, size_t len, struct guard_redis_ban *b)
{
	const char *f[4];
	size_t fl[4], i;
	const char *p = value, *end = value + len, *sp;

	memset(b, 0, sizeof(*b));
	if (!valid_ban_net(net) || len > GUARD_REDIS_BAN_RECORD_MAX)
		goto fail;
	for (i = 0; i < 3; i++) {
		sp = memchr(p, ' ', (size_t)(end - p));
		if (sp == NULL || sp == p)
			goto fail;
		f[i] = p;
		fl[i] = (size_t)(sp - p);
		p = sp + 1;
	}
	f[3] = p;
	fl[3] = (size_t)(end - p);
	if (fl[3] == 0 || num_decode(f[0], fl[0], &b->until) == -1 ||
	    text_decode(f[1], fl[1], b->reason, sizeof(b->reason)) == -1 ||
	    num_decode(f[2], fl[2], &b->count) == -1 ||
	    text_decode(f[3], fl[3], b->actor, sizeof(b->actor)) == -1)
		goto fail;
	str_copy(b->net, net, sizeof(b->net));
	return 0;
fail:
	memset(b, 0, sizeof(*b));
	return -1;
}

/* The connection. */

/* outage - the connection failed: drop it, say so once per outage, and
 * try again no sooner than GUARD_REDIS_RETRY_MS from now. why may point
 * into the context being freed. */
static void
outage(struct guard_redis *r, const char *why)
{
	char esc[LOG_ESCAPE_BUF];

	str_copy(r->error, why, sizeof(r->error));
	if (r->c != NULL) {
		redisFree(r->c);
		r->c = NULL;
	}
	r->retry_at = now_ms() + GUARD_REDIS_RETRY_MS;
	if (!r->down)
		log_warnx("guard store-down url=%s error=\"%s\"", r->url,
			  log_escape_str(esc, r->error));
	r->down = true;
}

/* reply_error - Redis answered, but not as expected (an error reply, a
 * key of another type, a value that is no number): this answer counts as
 * nothing. Logged at most once per WARN_EVERY_MS. */
static void
reply_error(struct guard_redis *r, const redisReply *x, const char *what)
{
	char esc[LOG_ESCAPE_BUF];
	uint64_t t = now_ms();

	if (x == NULL)
		str_copy(r->error, what, sizeof(r->error));
	else if (x->type == REDIS_REPLY_ERROR)
		snprintf(r->error, sizeof(r->error), "%s: %.*s", what,
			 (int)(x->len < 200 ? x->len : 200), x->str);
	else
		snprintf(r->error, sizeof(r->error), "%s: unexpected reply type %d", what,
			 x->type);
	if (r->warned_at != 0 && t - r->warned_at < WARN_EVERY_MS)
		return;
	r->warned_at = t;
	log_warnx("guard store-error url=%s error=\"%s\"", r->url, log_escape_str(esc, r->error));
}

/* io_error - why the connection failed, in words. Call it first thing:
 * it reads errno. */
static const char *
io_error(const redisContext *c)
{
	/* SO_RCVTIMEO ran out: errno is EAGAIN, which would read badly */
	if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		return "timed out";
	return c->errstr[0] != '\0' ? c->errstr : "no reply";
}

/* select_db - SELECT r->db on a fresh connection. */
static int
select_db(struct guard_redis *r)
{
	redisReply *x;
	int rc = -1;

	if (r->db == 0)
		return 0;
	x = redisCommand(r->c, "SELECT %u", r->db);
	if (x == NULL)
		outage(r, io_error(r->c));
	else if (x->type != REDIS_REPLY_STATUS)
		outage(r, x->type == REDIS_REPLY_ERROR ? x->str : "SELECT: unexpected reply");
	else
		rc = 0;
	freeReplyObject(x);
	return rc;
}

/* ready - connected, or connected now; false while Redis is down and
 * within the retry delay. */
static bool
ready(struct guard_redis *r)
{
	if (r->c != NULL)
		return true;
	if (r->down && now_ms() < r->retry_at)
		return false;
	r->c = redisConnectWithTimeout(r->host, r->port, r->tv);
	if (r->c == NULL) {
		outage(r, "cannot allocate a connection");
		return false;
	}
	if (r->c->err != 0) {
		outage(r, r->c->errstr);
		return false;
	}
	if (redisSetTimeout(r->c, r->tv) != REDIS_OK) {
		outage(r, "cannot set the timeout");
		return false;
	}
	(void)fcntl(r->c->fd, F_SETFD, FD_CLOEXEC);
	if (select_db(r) == -1)
		return false;
	if (r->down)
		log_info("guard store-up url=%s", r->url);
	r->down = false;
	return true;
}

struct guard_redis *
guard_redis_new(const char *url, const char *prefix, unsigned timeout_ms, char *err,
		size_t errsz)
{
	struct guard_redis *r;
	char host[GUARD_REDIS_HOST_MAX];
	uint16_t port;
	unsigned db;

	if (redis_url_parse(url, host, sizeof(host), &port, &db, err, errsz) == -1)
		return NULL;
	if (prefix == NULL)
		prefix = "";
	if (strlen(prefix) > GUARD_REDIS_PREFIX_MAX) {
		snprintf(err, errsz, "redis key prefix: longer than %d bytes",
			 GUARD_REDIS_PREFIX_MAX);
		return NULL;
	}
	if (timeout_ms == 0)
		timeout_ms = GUARD_REDIS_TIMEOUT_DEFAULT_MS;
	if (timeout_ms > GUARD_REDIS_TIMEOUT_MAX_MS) {
		snprintf(err, errsz, "redis timeout: at most %d ms", GUARD_REDIS_TIMEOUT_MAX_MS);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	str_copy(r->url, url, sizeof(r->url));
	str_copy(r->host, host, sizeof(r->host));
	r->port = port;
	r->db = db;
	str_copy(r->prefix, prefix, sizeof(r->prefix));
	r->tv.tv_sec = (time_t)(timeout_ms / 1000);
	r->tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	(void)ready(r);
	return r;
}

void
guard_redis_free(struct guard_redis *r)
{
	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	free(r);
}

const char *
guard_redis_error(const struct guard_redis *r)
{
	return r->error;
}

/* Pipelines. */

struct pipe {
	struct guard_redis *r;
	redisReply *rep[PIPE_MAX];
	size_t n;
	bool bad; /* not connected, or a command could not be queued */
};

static void
pipe_init(struct pipe *p, struct guard_redis *r)
{
	memset(p, 0, sizeof(*p));
	p->r = r;
	p->bad = !ready(r);
}

/* pipe_add - queue one command; fmt is a constant, keys and values %b. */
static void
pipe_add(struct pipe *p, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (p->bad)
		return;
	if (p->n == PIPE_MAX)
		log_bug("guard redis: more than %d commands in a pipeline", PIPE_MAX);
	va_start(ap, fmt);
	rc = redisvAppendCommand(p->r->c, fmt, ap);
	va_end(ap);
	if (rc == REDIS_OK)
		p->n++;
	else
		p->bad = true;
}

static void
pipe_free(struct pipe *p)
{
	size_t i;

	for (i = 0; i < PIPE_MAX; i++) {
		freeReplyObject(p->rep[i]);
		p->rep[i] = NULL;
	}
}

/* pipe_run - send the queued commands and read every reply: 0, or -1 when
 * the connection failed (it is dropped with whatever was queued). */
static int
pipe_run(struct pipe *p)
{
	const char *why;
	void *x;
	size_t i;

	if (p->bad) {
		if (p->r->c != NULL)
			outage(p->r, p->r->c->errstr[0] != '\0' ? p->r->c->errstr
							       : "cannot queue a command");
		return -1;
	}
	for (i = 0; i < p->n; i++) {
		x = NULL;
		if (redisGetReply(p->r->c, &x) != REDIS_OK || x == NULL) {
			why = io_error(p->r->c);
			freeReplyObject(x);
			pipe_free(p);
			outage(p->r, why);
			return -1;
		}
		p->rep[i] = x;
	}
	return 0;
}

/* pipe_array - the last reply when it is an array of n elements (the EXEC
 * of MULTI ... EXEC, an MGET), else NULL (logged). */
static redisReply *
pipe_array(struct pipe *p, size_t n, const char *what)
{
	redisReply *x = p->n > 0 ? p->rep[p->n - 1] : NULL;

	if (x == NULL || x->type != REDIS_REPLY_ARRAY || x->elements != n) {
		reply_error(p->r, x, what);
		return NULL;
	}
	return x;
}

/* rep_num - an integer reply or a decimal string, nil as 0, clamped to
 * [0, max]; -1 (logged) for anything else. */
static int
rep_num(struct guard_redis *r, const redisReply *x, uint64_t max, uint64_t *v)
{
	uint64_t u;

	if (x != NULL && x->type == REDIS_REPLY_NIL) {
		*v = 0;
		return 0;
	}
	if (x != NULL && x->type == REDIS_REPLY_INTEGER) {
		u = x->integer < 0 ? 0 : (uint64_t)x->integer;
	} else if (x == NULL || x->type != REDIS_REPLY_STRING ||
		   parse_u64n(x->str, x->len, UINT64_MAX, &u) == -1) {
		reply_error(r, x, "number");
		return -1;
	}
	*v = u < max ? u : max;
	return 0;
}

/* Keys. */

struct rkey {
	char s[RKEY_MAX];
	size_t n;
};

/* rkey_make - PREFIX TYPE ":" KEY, then ":" BUCKET when bucket is set.
 * -1 when it does not fit (never for the engine's keys). */
static int
rkey_make(const struct guard_redis *r, struct rkey *k, const char *type, const char *key,
	  const uint64_t *bucket)
{
	int n = snprintf(k->s, sizeof(k->s), "%s%s:%s", r->prefix, type, key);

	if (n < 0 || (size_t)n >= sizeof(k->s))
		return -1;
	k->n = (size_t)n;
	if (bucket != NULL) {
		n = snprintf(k->s + k->n, sizeof(k->s) - k->n, ":%llu",
			     (unsigned long long)*bucket);
		if (n < 0 || (size_t)n >= sizeof(k->s) - k->n)
			return -1;
		k->n += (size_t)n;
	}
	return 0;
}

/* ttl - an expiry in seconds for a span: at least 1 (0 would delete). */
static unsigned long long
ttl(uint64_t span)
{
	return span == 0 ? 1 : span > TTL_MAX ? TTL_MAX : span;
}

/* since - now - span as a signed score bound. */
static long long
since(uint64_t now, uint64_t span)
{
	if (now > INT64_MAX || span > INT64_MAX)
		return now >= span ? INT64_MAX : INT64_MIN;
	return (long long)now - (long long)span;
}

/* The backend. */

static uint32_t
rb_count(void *ctx, const char *key, uint64_t span, uint32_t n, uint64_t now)
{
	struct guard_redis *r = ctx;
	struct rkey cur, prev;
	struct pipe p;
	redisReply *x;
	uint64_t start, pstart, vc, vp;
	uint32_t est = 0;

	if (span == 0)
		return 0;
	start = now - now % span;
	pstart = start - span; /* wraps below 0: a bucket that never exists */
	if (rkey_make(r, &cur, "c", key, &start) == -1 ||
	    rkey_make(r, &prev, "c", key, &pstart) == -1)
		return 0;
	pipe_init(&p, r);
	if (n == 0) {
		pipe_add(&p, "MGET %b %b", cur.s, cur.n, prev.s, prev.n);
	} else {
		pipe_add(&p, "MULTI");
		pipe_add(&p, "INCRBY %b %u", cur.s, cur.n, (unsigned)n);
		/* the bucket is read as the previous one for another span */
		pipe_add(&p, "EXPIRE %b %llu", cur.s, cur.n,
			 ttl(span > TTL_MAX / 2 ? TTL_MAX : 2 * span));
		pipe_add(&p, "GET %b", prev.s, prev.n);
		pipe_add(&p, "EXEC");
	}
	if (pipe_run(&p) == 0 && (x = pipe_array(&p, n == 0 ? 2 : 3, "count")) != NULL &&
	    rep_num(r, x->element[0], UINT32_MAX, &vc) == 0 &&
	    rep_num(r, x->element[n == 0 ? 1 : 2], UINT32_MAX, &vp) == 0)
		est = window_estimate((uint32_t)vp, (uint32_t)vc, now - start, span);
	pipe_free(&p);
	return est;
}

static size_t
rb_distinct(void *ctx, const char *key, uint64_t member, uint64_t span, size_t cap, uint64_t now)
{
	struct guard_redis *r = ctx;
	struct rkey k;
	struct pipe p;
	redisReply *x;
	uint64_t v = 0;

	if (rkey_make(r, &k, "d", key, NULL) == -1)
		return 0;
	if (cap == 0 || cap > WINDOW_SET_MAX)
		cap = WINDOW_SET_MAX; /* as recent_add */
	pipe_init(&p, r);
	if (member == 0) {
		pipe_add(&p, "ZCOUNT %b (%lld +inf", k.s, k.n, since(now, span));
		if (pipe_run(&p) == 0 && rep_num(r, p.rep[0], SIZE_MAX, &v) == -1)
			v = 0;
		pipe_free(&p);
		return (size_t)v;
	}
	pipe_add(&p, "MULTI");
	pipe_add(&p, "ZREMRANGEBYSCORE %b -inf %lld", k.s, k.n, since(now, span));
	pipe_add(&p, "ZADD %b %llu %llu", k.s, k.n, (unsigned long long)now,
		 (unsigned long long)member);
	/* past cap the oldest go, as in recent_add */
	pipe_add(&p, "ZREMRANGEBYRANK %b 0 %lld", k.s, k.n, -(long long)cap - 1);
	pipe_add(&p, "ZCARD %b", k.s, k.n);
	pipe_add(&p, "EXPIRE %b %llu", k.s, k.n, ttl(span));
	pipe_add(&p, "EXEC");
	if (pipe_run(&p) == 0 && (x = pipe_array(&p, 5, "distinct")) != NULL &&
	    rep_num(r, x->element[3], cap, &v) == -1)
		v = 0;
	pipe_free(&p);
	return (size_t)v;
}

static uint32_t
rb_consec(void *ctx, const char *key, int op, uint64_t keep, uint64_t now)
{
	struct guard_redis *r = ctx;
	struct rkey k;
	struct pipe p;
	redisReply *x;
	uint64_t v = 0;

	(void)now;
	if (rkey_make(r, &k, "s", key, NULL) == -1)
		return 0;
	pipe_init(&p, r);
	if (op < 0) {
		pipe_add(&p, "DEL %b", k.s, k.n);
		(void)pipe_run(&p);
	} else if (op == 0) {
		pipe_add(&p, "GET %b", k.s, k.n);
		if (pipe_run(&p) == 0 && rep_num(r, p.rep[0], UINT32_MAX, &v) == -1)
			v = 0;
	} else {
		pipe_add(&p, "MULTI");
		pipe_add(&p, "INCR %b", k.s, k.n);
		pipe_add(&p, "EXPIRE %b %llu", k.s, k.n, ttl(keep));
		pipe_add(&p, "EXEC");
		if (pipe_run(&p) == 0 && (x = pipe_array(&p, 2, "consec")) != NULL &&
		    rep_num(r, x->element[0], UINT32_MAX, &v) == -1)
			v = 0;
	}
	pipe_free(&p);
	return (uint32_t)v;
}

/* fresh - a mark set at the time in x is within span of now (the memory
 * backend's last + span > now); a missing or garbled mark is not. */
static bool
fresh(const redisReply *x, uint64_t span, uint64_t now)
{
	uint64_t t;

	if (x == NULL || x->type != REDIS_REPLY_STRING ||
	    parse_u64n(x->str, x->len, UINT64_MAX, &t) == -1)
		return false;
	return t > now || now - t < span;
}

/* once_stale - the mark is older than span by the caller's clock but Redis
 * has not expired it yet (clocks differ, or a test's clock runs fast):
 * replace it, and the gateway whose SET saw the stale value wins. */
static bool
once_stale(struct guard_redis *r, const struct rkey *k, uint64_t span, uint64_t now)
{
	struct pipe p;
	bool first = false;

	pipe_init(&p, r);
	pipe_add(&p, "SET %b %llu EX %llu GET", k->s, k->n, (unsigned long long)now, ttl(span));
	if (pipe_run(&p) == 0) {
		if (p.rep[0]->type == REDIS_REPLY_NIL || p.rep[0]->type == REDIS_REPLY_STRING)
			first = !fresh(p.rep[0], span, now);
		else
			reply_error(r, p.rep[0], "once");
	}
	pipe_free(&p);
	return first;
}

static bool
rb_once(void *ctx, const char *key, uint64_t span, uint64_t now)
{
	struct guard_redis *r = ctx;
	struct rkey k;
	struct pipe p;
	bool first = false, stale = false;

	if (rkey_make(r, &k, "o", key, NULL) == -1)
		return false;
	pipe_init(&p, r);
	pipe_add(&p, "SET %b %llu EX %llu NX", k.s, k.n, (unsigned long long)now, ttl(span));
	pipe_add(&p, "GET %b", k.s, k.n);
	if (pipe_run(&p) == 0) {
		if (p.rep[0]->type == REDIS_REPLY_STATUS)
			first = true;
		else if (p.rep[0]->type != REDIS_REPLY_NIL)
			reply_error(r, p.rep[0], "once");
		else
			stale = !fresh(p.rep[1], span, now);
	}
	pipe_free(&p);
	return first || (stale && once_stale(r, &k, span, now));
}

/* tag_state - is the tag set live (touched within span), is tag in it,
 * and the highest insertion number. -1 when Redis failed. */
static int
tag_state(struct guard_redis *r, const struct rkey *t, const struct rkey *u, uint64_t tag,
	  uint64_t span, uint64_t now, bool *live, bool *seen, uint64_t *seq)
{
	const redisReply *x;
	struct pipe p;

	pipe_init(&p, r);
	pipe_add(&p, "GET %b", u->s, u->n);
	pipe_add(&p, "ZSCORE %b %llu", t->s, t->n, (unsigned long long)tag);
	pipe_add(&p, "ZRANGE %b -1 -1 WITHSCORES", t->s, t->n);
	if (pipe_run(&p) == -1)
		return -1;
	*live = fresh(p.rep[0], span, now);
	*seen = *live && p.rep[1]->type == REDIS_REPLY_STRING;
	*seq = 0;
	x = p.rep[2];
	/* a garbled score only makes the next tag look the oldest */
	if (*live && x->type == REDIS_REPLY_ARRAY && x->elements == 2 &&
	    x->element[1]->type == REDIS_REPLY_STRING &&
	    parse_u64n(x->element[1]->str, x->element[1]->len, UINT32_MAX, seq) == -1)
		*seq = 0;
	pipe_free(&p);
	return 0;
}

/* rb_tag_seen - "t:KEY" holds the last GUARD_STALE_TAGS tags scored by
 * insertion order, "u:KEY" the time of the last call: as in the memory
 * backend, every tag is forgotten once the key was left alone for span,
 * and a tag seen again keeps its place (the oldest inserted goes first). */
static bool
rb_tag_seen(void *ctx, const char *key, uint64_t tag, uint64_t span, uint64_t now)
{
	struct guard_redis *r = ctx;
	struct rkey t, u;
	struct pipe p;
	uint64_t seq;
	bool live, seen;
	size_t n = 2;

	if (rkey_make(r, &t, "t", key, NULL) == -1 || rkey_make(r, &u, "u", key, NULL) == -1 ||
	    tag_state(r, &t, &u, tag, span, now, &live, &seen, &seq) == -1)
		return false;
	pipe_init(&p, r);
	pipe_add(&p, "MULTI");
	if (!live) {
		pipe_add(&p, "DEL %b", t.s, t.n);
		n++;
	}
	if (!seen) {
		pipe_add(&p, "ZADD %b %llu %llu", t.s, t.n, (unsigned long long)seq + 1,
			 (unsigned long long)tag);
		pipe_add(&p, "ZREMRANGEBYRANK %b 0 %d", t.s, t.n, -GUARD_STALE_TAGS - 1);
		n += 2;
	}
	pipe_add(&p, "SET %b %llu EX %llu", u.s, u.n, (unsigned long long)now, ttl(span));
	pipe_add(&p, "EXPIRE %b %llu", t.s, t.n, ttl(span));
	pipe_add(&p, "EXEC");
	if (pipe_run(&p) == -1 || pipe_array(&p, n, "tag") == NULL)
		seen = false;
	pipe_free(&p);
	return seen;
}

static void
rb_sweep(void *ctx, uint64_t now)
{
	/* Redis expires the keys itself. */
	(void)ctx;
	(void)now;
}

static void
rb_free(void *ctx)
{
	guard_redis_free(ctx);
}

struct guard_backend
guard_backend_redis(struct guard_redis *r)
{
	struct guard_backend be = {rb_count, rb_distinct, rb_consec, rb_once,
				   rb_tag_seen, rb_sweep,   rb_free,   r};

	return be;
}

/* Shared bans. */

/* bans_keys - the hash of bans and its version counter. */
static void
bans_keys(const struct guard_redis *r, struct rkey *h, struct rkey *v)
{
	h->n = (size_t)snprintf(h->s, sizeof(h->s), "%sbans", r->prefix);
	v->n = (size_t)snprintf(v->s, sizeof(v->s), "%sbans:version", r->prefix);
}

/* is_int - every element of the EXEC reply x is an integer. */
static bool
is_int(struct guard_redis *r, const redisReply *x)
{
	size_t i;

	for (i = 0; i < x->elements; i++) {
		if (x->element[i]->type != REDIS_REPLY_INTEGER) {
			reply_error(r, x->element[i], "ban");
			return false;
		}
	}
	return true;
}

int
guard_redis_ban_put(struct guard_redis *r, const char *net, int64_t until,
		    const char *reason, const char *actor, int64_t count)
{
	char rec[GUARD_REDIS_BAN_RECORD_MAX + 1];
	struct guard_redis_ban b;
	struct rkey h, v;
	struct pipe p;
	redisReply *x;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	b.until = until;
	b.count = count;
	if (!valid_ban_net(net) || str_copy(b.reason, reason, sizeof(b.reason)) == -1 ||
	    str_copy(b.actor, actor, sizeof(b.actor)) == -1 ||
	    guard_redis_ban_format(&b, rec, sizeof(rec)) == -1) {
		str_copy(r->error, "ban not storable (network, number, reason or actor)",
			 sizeof(r->error));
		return -1;
	}
	bans_keys(r, &h, &v);
	pipe_init(&p, r);
	pipe_add(&p, "MULTI");
	pipe_add(&p, "HSET %b %b %b", h.s, h.n, net, strlen(net), rec, strlen(rec));
	pipe_add(&p, "INCR %b", v.s, v.n);
	pipe_add(&p, "EXEC");
	if (pipe_run(&p) == 0 && (x = pipe_array(&p, 2, "ban put")) != NULL && is_int(r, x))
		rc = 0;
	pipe_free(&p);
	return rc;
}

int
guard_redis_ban_del(struct guard_redis *r, const char *net)
{
	struct rkey h, v;
	struct pipe p;
	redisReply *x;
	int rc = -1;

	bans_keys(r, &h, &v);
	pipe_init(&p, r);
	pipe_add(&p, "MULTI");
	pipe_add(&p, "HDEL %b %b", h.s, h.n, net, strlen(net));
	pipe_add(&p, "INCR %b", v.s, v.n);
	pipe_add(&p, "EXEC");
	if (pipe_run(&p) == 0 && (x = pipe_array(&p, 2, "ban del")) != NULL && is_int(r, x))
		rc = x->element[0]->integer > 0 ? 0 : 1;
	pipe_free(&p);
	return rc;
}

/* ban_read - parse the record x of field net (len bytes); a malformed one
 * is logged and skipped. 0 or -1. */
static int
ban_read(const char *net, size_t len, const redisReply *x, struct guard_redis_ban *b)
{
	char esc[LOG_ESCAPE_BUF], nul[sizeof(b->net)];

	if (len < sizeof(nul) && memchr(net, '\0', len) == NULL) {
		memcpy(nul, net, len);
		nul[len] = '\0';
		if (x->type == REDIS_REPLY_STRING &&
		    guard_redis_ban_parse(nul, x->str, x->len, b) == 0)
			return 0;
	}
	log_warnx("guard store-bad-ban net=\"%s\" (malformed record skipped)",
		  log_escape(esc, net, len));
	return -1;
}

int
guard_redis_ban_get(struct guard_redis *r, const char *net, struct guard_redis_ban *b)
{
	struct rkey h, v;
	struct pipe p;
	int rc = -1;

	memset(b, 0, sizeof(*b));
	bans_keys(r, &h, &v);
	pipe_init(&p, r);
	pipe_add(&p, "HGET %b %b", h.s, h.n, net, strlen(net));
	if (pipe_run(&p) == 0) {
		if (p.rep[0]->type == REDIS_REPLY_NIL)
			rc = 1;
		else if (p.rep[0]->type != REDIS_REPLY_STRING)
			reply_error(r, p.rep[0], "ban get");
		else
			rc = ban_read(net, strlen(net), p.rep[0], b) == 0 ? 0 : 1;
	}
	pipe_free(&p);
	return rc;
}

/* scan_page - the bans of one HSCAN reply x; cursor receives the next
 * cursor. 0 go on, 1 cb stopped, -1 malformed reply. */
static int
scan_page(struct guard_redis *r, const redisReply *x, int64_t now, char cursor[24],
	  int (*cb)(const struct guard_redis_ban *b, void *arg), void *arg)
{
	const redisReply *c, *kv;
	struct guard_redis_ban b;
	size_t i;

	if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
	    (c = x->element[0])->type != REDIS_REPLY_STRING || c->len == 0 || c->len > 20 ||
	    strspn(c->str, "0123456789") != c->len ||
	    (kv = x->element[1])->type != REDIS_REPLY_ARRAY || kv->elements % 2 != 0) {
		reply_error(r, x, "ban each");
		return -1;
	}
	memcpy(cursor, c->str, c->len);
	cursor[c->len] = '\0';
	for (i = 0; i < kv->elements; i += 2) {
		if (kv->element[i]->type != REDIS_REPLY_STRING) {
			reply_error(r, kv->element[i], "ban each");
			return -1;
		}
		if (ban_read(kv->element[i]->str, kv->element[i]->len, kv->element[i + 1], &b) ==
			    0 &&
		    b.until > now && cb(&b, arg) != 0)
			return 1;
	}
	return 0;
}

int
guard_redis_ban_each(struct guard_redis *r, int64_t now,
		     int (*cb)(const struct guard_redis_ban *b, void *arg), void *arg)
{
	char cursor[24] = "0";
	struct rkey h, v;
	struct pipe p;
	unsigned rounds = 0;
	int rc;

	bans_keys(r, &h, &v);
	do {
		if (++rounds > SCAN_ROUNDS_MAX) {
			reply_error(r, NULL, "ban each: HSCAN does not end");
			return -1;
		}
		pipe_init(&p, r);
		pipe_add(&p, "HSCAN %b %b COUNT %d", h.s, h.n, cursor, strlen(cursor), SCAN_COUNT);
		rc = pipe_run(&p) == 0 ? scan_page(r, p.rep[0], now, cursor, cb, arg) : -1;
		pipe_free(&p);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	return rc == -1 ? -1 : 0;
}

int
guard_redis_ban_version(struct guard_redis *r, int64_t *v)
{
	struct rkey h, k;
	struct pipe p;
	uint64_t u;
	int rc = -1;

	*v = 0;
	bans_keys(r, &h, &k);
	pipe_init(&p, r);
	pipe_add(&p, "GET %b", k.s, k.n);
	if (pipe_run(&p) == 0 && rep_num(r, p.rep[0], INT64_MAX, &u) == 0) {
		*v = (int64_t)u;
		rc = 0;
	}
	pipe_free(&p);
	return rc;
}
