/* SPDX-License-Identifier: ISC */
/*
 * fuzz_queuefile - the queue-file reader (src/queue/spool.c): the records
 * before the body (spool_parse_header), the END record at the end
 * (spool_check_end on the last 13 bytes), and the delivery-state text
 * (spool_state_parse) on the same bytes.
 *
 * Checked: the header parser answers 0, 1 or -1 and, on 0, gives a body
 * offset inside the data and an envelope whose strings are NUL-terminated
 * within their fields, with a valid queue id and 1..SPOOL_MAX_RCPTS
 * recipients; every shorter prefix of a parsed header answers 1 (need
 * more); writing the envelope back with spool_header gives a header that
 * parses to the same envelope; a parsed state formats and parses back to
 * the same state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t size)
{
	if (strnlen(s, size) >= size)
		abort();
}

static void
check_env(const struct envelope *env)
{
	uint32_t i;

	if (!valid_queue_id(env->id) || env->nrcpts == 0 || env->nrcpts > SPOOL_MAX_RCPTS)
		abort();
	check_str(env->sender, sizeof(env->sender));
	check_str(env->envid, sizeof(env->envid));
	check_str(env->client_ip, sizeof(env->client_ip));
	check_str(env->helo, sizeof(env->helo));
	check_str(env->proto, sizeof(env->proto));
	for (i = 0; i < env->nrcpts; i++) {
		check_str(env->rcpts[i].addr, sizeof(env->rcpts[i].addr));
		check_str(env->rcpts[i].domain, sizeof(env->rcpts[i].domain));
		check_str(env->rcpts[i].orcpt, sizeof(env->rcpts[i].orcpt));
		if (env->rcpts[i].notify > 0xf)
			abort();
	}
}

static bool
same_env(const struct envelope *a, const struct envelope *b)
{
	uint32_t i;

	if (strcmp(a->id, b->id) != 0 || a->arrival != b->arrival ||
	    strcmp(a->sender, b->sender) != 0 || a->ret != b->ret ||
	    strcmp(a->envid, b->envid) != 0 || a->body != b->body || a->smtputf8 != b->smtputf8 ||
	    strcmp(a->client_ip, b->client_ip) != 0 || strcmp(a->helo, b->helo) != 0 ||
	    strcmp(a->proto, b->proto) != 0 || a->submission != b->submission ||
	    a->nrcpts != b->nrcpts)
		return false;
	for (i = 0; i < a->nrcpts; i++)
		if (strcmp(a->rcpts[i].addr, b->rcpts[i].addr) != 0 ||
		    strcmp(a->rcpts[i].domain, b->rcpts[i].domain) != 0 ||
		    strcmp(a->rcpts[i].orcpt, b->rcpts[i].orcpt) != 0 ||
		    a->rcpts[i].notify != b->rcpts[i].notify)
			return false;
	return true;
}

static void
do_header(const uint8_t *data, size_t size)
{
	struct envelope env, env2;
	uint64_t off = 0, off2 = 0;
	struct buf w = BUF_INIT;
	int rc = spool_parse_header(data, size, &env, &off);
	size_t cut;

	if (rc != 0 && rc != 1 && rc != -1)
		abort();
	if (rc != 0) {
		if (env.rcpts != NULL || env.nrcpts != 0)
			abort(); /* nothing leaks out of a failed parse */
		return;
	}
	if (off > size || off < 5)
		abort();
	check_env(&env);
	/* the END check as recovery does it: the last 13 bytes of the file */
	if (size >= SPOOL_END_SIZE) {
		uint8_t want[SPOOL_END_SIZE];
		uint64_t blen, tlen;
		int rc_end = spool_check_end(data + size - SPOOL_END_SIZE, size, off, &blen, &tlen);

		if (size - off < SPOOL_END_SIZE) {
			if (rc_end != -1)
				abort();
		} else if (rc_end == 0) {
			struct spool_trailer t;

			spool_end(blen, want);
			if (memcmp(want, data + size - SPOOL_END_SIZE, sizeof(want)) != 0 ||
			    off + blen + tlen + SPOOL_END_SIZE != size)
				abort();
			if (spool_parse_trailer(data + off + blen, (size_t)tlen, off + blen, &t) == 0 &&
			    (t.prepend_off + t.prepend_len > size - SPOOL_END_SIZE ||
			     (t.prepend_len > 0 && t.prepend_off < off + blen)))
				abort();
		}
	}
	/* a file cut anywhere inside the header needs more bytes */
	for (cut = 0; cut < off; cut += 1 + cut / 8) {
		struct envelope e;
		uint64_t o;

		if (spool_parse_header(data, cut, &e, &o) != 1)
			abort();
	}
	spool_header(&env, &w);
	if (spool_parse_header((const uint8_t *)w.data, w.len, &env2, &off2) != 0 ||
	    off2 != w.len || !same_env(&env, &env2))
		abort();
	envelope_clear(&env2);
	envelope_clear(&env);
	buf_free(&w);
}

static void
do_end(const uint8_t *data, size_t size)
{
	uint8_t tail[SPOOL_END_SIZE];
	uint64_t body_off;

	if (size < SPOOL_END_SIZE + 8)
		return;
	memcpy(&body_off, data, 8);
	body_off %= size + 1;
	memcpy(tail, data + size - SPOOL_END_SIZE, SPOOL_END_SIZE);
	uint64_t blen, tlen;

	if (spool_check_end(tail, size, body_off, &blen, &tlen) == 0) {
		uint8_t want[SPOOL_END_SIZE];

		if (body_off + SPOOL_END_SIZE > size || body_off + blen + tlen + SPOOL_END_SIZE != size ||
		    tlen > SPOOL_TRAILER_MAX)
			abort();
		spool_end(blen, want);
		if (memcmp(want, tail, SPOOL_END_SIZE) != 0)
			abort();
	}
	/* huge offsets must not wrap around into a match */
	if (spool_check_end(tail, size, UINT64_MAX - 5, &blen, &tlen) == 0)
		abort();
}

static void
do_state(const uint8_t *data, size_t size)
{
	struct spool_state st, st2;
	struct buf f1 = BUF_INIT, f2 = BUF_INIT;
	uint32_t nrcpts = (uint32_t)(size % 9); /* the text starts with a fixed word */

	if (spool_state_parse((const char *)data, size, nrcpts, &st) == -1) {
		if (st.status != NULL || st.error != NULL)
			abort();
		return;
	}
	spool_state_format(&st, &f1);
	if (spool_state_parse(f1.data, f1.len, nrcpts, &st2) == -1)
		abort();
	spool_state_format(&st2, &f2);
	if (f1.len != f2.len || memcmp(f1.data, f2.data, f1.len) != 0)
		abort();
	spool_state_clear(&st);
	spool_state_clear(&st2);
	buf_free(&f1);
	buf_free(&f2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	do_header(data, size);
	do_end(data, size);
	do_state(data, size);
	return 0;
}
