/* SPDX-License-Identifier: ISC */
/*
 * spool - queue file records and the delivery-state file.
 *
 * SECURITY: parsers are pure and treat files as untrusted: every length is
 * checked against what remains, strings must be NUL-free and within the
 * envelope's limits, recipients are bounded by SPOOL_MAX_RCPTS.
 */
#include "queue/spool.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static void
rec(struct buf *out, char type, const void *data, size_t len)
{
	uint8_t h[5];

	h[0] = (uint8_t)type;
	h[1] = (uint8_t)(len >> 24);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
	buf_add(out, h, sizeof(h));
	buf_add(out, data, len);
}

static void
rec_str(struct buf *out, char type, const char *s)
{
	rec(out, type, s, strlen(s));
}

static void
rec_attr(struct buf *out, const char *key, const char *val)
{
	struct buf a = BUF_INIT;

	buf_addf(&a, "%s=%s", key, val);
	rec(out, 'A', a.data, a.len);
	buf_free(&a);
}

void
spool_header(const struct envelope *env, struct buf *out)
{
	char num[32];
	uint32_t i;

	rec_str(out, 'V', SPOOL_MAGIC);
	rec_str(out, 'I', env->id);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)env->arrival);
	rec_str(out, 'T', num);
	rec_str(out, 'S', env->sender);
	if (env->ret != RET_UNSET)
		rec_attr(out, "ret", env->ret == RET_FULL ? "FULL" : "HDRS");
	if (env->envid[0] != '\0')
		rec_attr(out, "envid", env->envid);
	if (env->body != BODY_UNSET)
		rec_attr(out, "body", env->body == BODY_7BIT ? "7BIT" : "8BITMIME");
	if (env->smtputf8)
		rec_attr(out, "smtputf8", "1");
	if (env->submission)
		rec_attr(out, "submission", "1");
	if (env->originated)
		rec_attr(out, "originated", "1");
	rec_attr(out, "client", env->client_ip);
	rec_attr(out, "helo", env->helo);
	rec_attr(out, "proto", env->proto);
	for (i = 0; i < env->nrcpts; i++) {
		const struct env_rcpt *r = &env->rcpts[i];
		struct buf b = BUF_INIT;

		buf_addf(&b, "%x", r->notify);
		buf_addc(&b, '\0');
		buf_adds(&b, r->orcpt);
		buf_addc(&b, '\0');
		buf_adds(&b, r->addr);
		rec(out, 'R', b.data, b.len);
		buf_free(&b);
	}
	rec(out, 'B', "", 0);
}

void
spool_end(uint64_t body_len, uint8_t out[SPOOL_END_SIZE])
{
	int i;

	out[0] = 'E';
	out[1] = 0;
	out[2] = 0;
	out[3] = 0;
	out[4] = 8;
	for (i = 0; i < 8; i++)
		out[5 + i] = (uint8_t)(body_len >> (56 - 8 * i));
}

/* copy_field - NUL-free data into a fixed buffer; 0 or -1. */
static int
copy_field(char *dst, size_t dstsize, const uint8_t *p, size_t n)
{
	if (n >= dstsize || memchr(p, '\0', n) != NULL)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

int
spool_check_end(const uint8_t *tail, uint64_t file_size, uint64_t body_off, uint64_t *body_len,
		uint64_t *trailer_len)
{
	uint64_t room, len = 0;
	int i;

	if (body_off > file_size || file_size - body_off < SPOOL_END_SIZE)
		return -1; /* not body_off + SPOOL_END_SIZE: that can wrap */
	if (tail[0] != 'E' || tail[1] != 0 || tail[2] != 0 || tail[3] != 0 || tail[4] != 8)
		return -1;
	for (i = 0; i < 8; i++)
		len = len << 8 | tail[5 + i];
	room = file_size - SPOOL_END_SIZE - body_off;
	if (len > room || room - len > SPOOL_TRAILER_MAX)
		return -1;
	*body_len = len;
	*trailer_len = room - len;
	return 0;
}

bool
valid_spool_prepend(const char *p, size_t n)
{
	size_t i;

	if (n > SPOOL_PREPEND_MAX || (n > 0 && (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n')))
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] == '\0')
			return false;
		if ((i == 0 || p[i - 1] == '\n') && p[i] == '.')
			return false;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return false;
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			return false;
	}
	return true;
}

void
spool_trailer(const char *prepend, size_t plen, const char *reason, struct buf *out)
{
	if (plen > 0)
		rec(out, 'P', prepend, plen);
	if (reason != NULL)
		rec(out, 'Q', reason, strnlen(reason, SPOOL_REASON_MAX));
}

int
spool_parse_trailer(const uint8_t *p, size_t n, uint64_t off, struct spool_trailer *t)
{
	size_t pos = 0;
	bool seen_p = false;

	memset(t, 0, sizeof(*t));
	while (pos < n) {
		uint32_t len;
		char type;

		if (n - pos < 5)
			return -1;
		type = (char)p[pos];
		len = (uint32_t)p[pos + 1] << 24 | (uint32_t)p[pos + 2] << 16 |
		      (uint32_t)p[pos + 3] << 8 | p[pos + 4];
		pos += 5;
		if (len > n - pos)
			return -1;
		if (type == 'P' && !seen_p) {
			if (len == 0 || !valid_spool_prepend((const char *)p + pos, len))
				return -1;
			t->prepend_off = off + pos;
			t->prepend_len = len;
			seen_p = true;
		} else if (type == 'Q' && !t->quarantined) {
			if (copy_field(t->reason, sizeof(t->reason), p + pos, len) == -1)
				return -1;
			t->quarantined = true;
		} else {
			return -1;
		}
		pos += len;
	}
	return 0;
}


static int
parse_attr(struct envelope *env, const uint8_t *p, size_t n)
{
	const uint8_t *eq = memchr(p, '=', n);
	char key[32], val[SMTP_ENVID_MAX + ENV_HELO_MAX + 1];

	if (eq == NULL || copy_field(key, sizeof(key), p, (size_t)(eq - p)) == -1 ||
	    copy_field(val, sizeof(val), eq + 1, n - (size_t)(eq - p) - 1) == -1)
		return -1;
	if (strcmp(key, "ret") == 0) {
		if (strcmp(val, "FULL") != 0 && strcmp(val, "HDRS") != 0)
			return -1;
		env->ret = strcmp(val, "FULL") == 0 ? RET_FULL : RET_HDRS;
	}
	else if (strcmp(key, "envid") == 0)
		return str_copy(env->envid, val, sizeof(env->envid));
	else if (strcmp(key, "body") == 0) {
		if (strcmp(val, "7BIT") != 0 && strcmp(val, "8BITMIME") != 0)
			return -1;
		env->body = strcmp(val, "7BIT") == 0 ? BODY_7BIT : BODY_8BITMIME;
	}
	else if (strcmp(key, "smtputf8") == 0)
		env->smtputf8 = true;
	else if (strcmp(key, "submission") == 0)
		env->submission = true;
	else if (strcmp(key, "originated") == 0)
		env->originated = true;
	else if (strcmp(key, "client") == 0)
		return str_copy(env->client_ip, val, sizeof(env->client_ip));
	else if (strcmp(key, "helo") == 0)
		return str_copy(env->helo, val, sizeof(env->helo));
	else if (strcmp(key, "proto") == 0)
		return str_copy(env->proto, val, sizeof(env->proto));
	/* Unknown attributes are ignored: a newer writer may add some. */
	return 0;
}

static int
parse_rcpt(struct envelope *env, const uint8_t *p, size_t n)
{
	struct env_rcpt r;
	const uint8_t *z1, *z2, *at;
	uint64_t notify;

	if (env->nrcpts >= SPOOL_MAX_RCPTS)
		return -1;
	memset(&r, 0, sizeof(r));
	z1 = memchr(p, '\0', n);
	if (z1 == NULL)
		return -1;
	z2 = memchr(z1 + 1, '\0', n - (size_t)(z1 + 1 - p));
	if (z2 == NULL)
		return -1;
	if (z1 - p > 2 || z1 == p)
		return -1;
	for (const uint8_t *q = p; q < z1; q++)
		if (!isxdigit(*q))
			return -1;
	notify = (uint64_t)strtoul((const char *)p, NULL, 16);
	if (notify > 0xf)
		return -1;
	r.notify = (unsigned)notify;
	if (copy_field(r.orcpt, sizeof(r.orcpt), z1 + 1, (size_t)(z2 - z1 - 1)) == -1 ||
	    copy_field(r.addr, sizeof(r.addr), z2 + 1, n - (size_t)(z2 + 1 - p)) == -1)
		return -1;
	at = (const uint8_t *)strrchr(r.addr, '@');
	if (at == NULL) {
		if (strcasecmp(r.addr, "postmaster") != 0)
			return -1;
	} else if (str_copy(r.domain, (const char *)at + 1, sizeof(r.domain)) == -1) {
		return -1;
	}
	for (char *d = r.domain; *d; d++)
		if ((unsigned char)*d < 0x80)
			*d = (char)tolower((unsigned char)*d);
	envelope_add_rcpt(env, &r);
	return 0;
}

/* parse_record - one envelope record; 0, or -1 if it is malformed. */
static int
parse_record(struct envelope *env, char type, const uint8_t *d, size_t len, unsigned *seen)
{
	char num[24];
	uint64_t t;

	switch (type) {
	case 'I':
		if ((*seen & 1) || copy_field(env->id, sizeof(env->id), d, len) == -1 ||
		    !valid_queue_id(env->id))
			return -1;
		*seen |= 1;
		return 0;
	case 'T':
		if ((*seen & 2) || copy_field(num, sizeof(num), d, len) == -1 ||
		    parse_u64(num, UINT64_MAX, &t) == -1)
			return -1;
		env->arrival = t;
		*seen |= 2;
		return 0;
	case 'S':
		if (*seen & 4)
			return -1;
		*seen |= 4;
		return copy_field(env->sender, sizeof(env->sender), d, len);
	case 'A':
		return parse_attr(env, d, len);
	case 'R':
		return parse_rcpt(env, d, len);
	default:
		return -1;
	}
}

int
spool_parse_header(const uint8_t *p, size_t n, struct envelope *env, uint64_t *body_off)
{
	size_t pos = 0;
	unsigned seen = 0;
	bool first = true;

	memset(env, 0, sizeof(*env));
	for (;;) {
		uint32_t len;
		char type;

		if (n - pos < 5)
			goto more;
		type = (char)p[pos];
		len = (uint32_t)p[pos + 1] << 24 | (uint32_t)p[pos + 2] << 16 |
		      (uint32_t)p[pos + 3] << 8 | p[pos + 4];
		if (len > SPOOL_HEADER_MAX)
			goto bad;
		if (n - pos - 5 < len)
			goto more;
		pos += 5;
		if (first) {
			if (type != 'V' || len != strlen(SPOOL_MAGIC) ||
			    memcmp(p + pos, SPOOL_MAGIC, len) != 0)
				goto bad;
			first = false;
		} else if (type == 'B') {
			if (len != 0 || seen != 7 || env->nrcpts == 0)
				goto bad;
			*body_off = pos;
			return 0;
		} else if (parse_record(env, type, p + pos, len, &seen) == -1) {
			goto bad;
		}
		pos += len;
	}
more:
	envelope_clear(env);
	return n >= SPOOL_HEADER_MAX ? -1 : 1;
bad:
	envelope_clear(env);
	return -1;
}

bool
valid_queue_id(const char *s)
{
	size_t i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[QUEUE_ID_LEN] == '\0';
}

void
spool_state_init(struct spool_state *st, uint32_t nrcpts)
{
	memset(st, 0, sizeof(*st));
	st->nrcpts = nrcpts;
	st->status = xcalloc(nrcpts ? nrcpts : 1, sizeof(*st->status));
	st->error = xcalloc(nrcpts ? nrcpts : 1, sizeof(*st->error));
}

void
spool_state_clear(struct spool_state *st)
{
	uint32_t i;

	if (st->error != NULL)
		for (i = 0; i < st->nrcpts; i++)
			free(st->error[i]);
	free(st->error);
	free(st->status);
	memset(st, 0, sizeof(*st));
}

void
spool_state_format(const struct spool_state *st, struct buf *out)
{
	static const char *names[] = {"pending", "done", "failed"};
	uint32_t i;

	buf_addf(out, "postern-state 1\nattempts %u\nnext %llu\nfirst_fail %llu\nhold %d\n"
		      "warned %d\n",
		 st->attempts, (unsigned long long)st->next_try,
		 (unsigned long long)st->first_fail, st->hold, st->warned);
	for (i = 0; i < st->nrcpts; i++) {
		if (st->status[i] == RS_PENDING && st->error[i] == NULL)
			continue;
		buf_addf(out, "rcpt %u %s %s\n", i, names[st->status[i]],
			 st->error[i] ? st->error[i] : "");
	}
}

/* state_line - one "key value" line of the state file. */
static int
state_line(struct spool_state *st, char *line)
{
	char *sp = strchr(line, ' ');
	uint64_t v;

	if (sp == NULL)
		return -1;
	*sp++ = '\0';
	if (strcmp(line, "rcpt") == 0) {
		char *st2 = strchr(sp, ' '), *err;
		uint64_t idx;

		if (st2 == NULL)
			return -1;
		*st2++ = '\0';
		if (parse_u64(sp, st->nrcpts ? st->nrcpts - 1 : 0, &idx) == -1 ||
		    st->nrcpts == 0)
			return -1;
		err = strchr(st2, ' ');
		if (err != NULL)
			*err++ = '\0';
		if (strcmp(st2, "pending") == 0)
			st->status[idx] = RS_PENDING;
		else if (strcmp(st2, "done") == 0)
			st->status[idx] = RS_DONE;
		else if (strcmp(st2, "failed") == 0)
			st->status[idx] = RS_FAILED;
		else
			return -1;
		free(st->error[idx]);
		st->error[idx] = (err && *err) ? xstrdup(err) : NULL;
		return 0;
	}
	if (parse_u64(sp, UINT64_MAX, &v) == -1)
		return -1;
	if (strcmp(line, "postern-state") == 0)
		return v == 1 ? 0 : -1;
	if (strcmp(line, "attempts") == 0)
		st->attempts = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	else if (strcmp(line, "next") == 0)
		st->next_try = v;
	else if (strcmp(line, "first_fail") == 0)
		st->first_fail = v;
	else if (strcmp(line, "hold") == 0)
		st->hold = v != 0;
	else if (strcmp(line, "warned") == 0)
		st->warned = v != 0;
	return 0;
}

int
spool_state_parse(const char *text, size_t len, uint32_t nrcpts, struct spool_state *st)
{
	struct buf line = BUF_INIT;
	size_t i = 0;
	int rc = 0;

	spool_state_init(st, nrcpts);
	if (len < 15 || memcmp(text, "postern-state 1", 15) != 0)
		rc = -1;
	while (rc == 0 && i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;

		if (n > 4096 || memchr(text + i, '\0', n) != NULL) {
			rc = -1;
			break;
		}
		buf_reset(&line);
		buf_add(&line, text + i, n);
		if (n > 0)
			rc = state_line(st, line.data);
		i += n + 1;
	}
	buf_free(&line);
	if (rc == -1)
		spool_state_clear(st);
	return rc;
}
