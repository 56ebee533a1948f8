/* SPDX-License-Identifier: ISC */
/*
 * test_spool - queue file records and the delivery-state text
 * (src/queue/spool.c): a full round trip, a file cut at every length, bad
 * magic, bad records, bad END records, and the state file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue/spool.h"

static const char body[] = "Subject: hello\r\n\r\nbody\r\n..stuffed\r\n";

static void
sample_env(struct envelope *env)
{
	struct env_rcpt r;

	memset(env, 0, sizeof(*env));
	memcpy(env->id, "0123456789abcdef", QUEUE_ID_LEN + 1);
	env->arrival = 1700000000;
	snprintf(env->sender, sizeof(env->sender), "%s", "sender@example.test");
	env->ret = RET_HDRS;
	snprintf(env->envid, sizeof(env->envid), "%s", "QQ+2Bx");
	env->body = BODY_8BITMIME;
	env->smtputf8 = true;
	env->submission = true;
	env->originated = true;
	snprintf(env->client_ip, sizeof(env->client_ip), "%s", "2001:db8::1");
	snprintf(env->helo, sizeof(env->helo), "%s", "client.example");
	snprintf(env->proto, sizeof(env->proto), "%s", "ESMTPSA");
	memset(&r, 0, sizeof(r));
	snprintf(r.addr, sizeof(r.addr), "%s", "User@Example.TEST");
	snprintf(r.domain, sizeof(r.domain), "%s", "example.test");
	r.notify = NOTIFY_SUCCESS | NOTIFY_FAILURE;
	snprintf(r.orcpt, sizeof(r.orcpt), "%s", "rfc822;User+40Example.TEST");
	envelope_add_rcpt(env, &r);
	memset(&r, 0, sizeof(r));
	snprintf(r.addr, sizeof(r.addr), "%s", "Postmaster");
	envelope_add_rcpt(env, &r);
}

/* whole_file - header, body and END record, as the queue writes them. */
static void
whole_file(const struct envelope *env, struct buf *out, size_t *body_off)
{
	uint8_t end[SPOOL_END_SIZE];

	spool_header(env, out);
	*body_off = out->len;
	buf_add(out, body, sizeof(body) - 1);
	spool_end(sizeof(body) - 1, end);
	buf_add(out, end, sizeof(end));
}

static void
assert_same_env(const struct envelope *a, const struct envelope *b)
{
	uint32_t i;

	assert_string_equal(a->id, b->id);
	assert_true(a->arrival == b->arrival);
	assert_string_equal(a->sender, b->sender);
	assert_int_equal(a->ret, b->ret);
	assert_string_equal(a->envid, b->envid);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->submission, b->submission);
	assert_int_equal(a->originated, b->originated);
	assert_string_equal(a->client_ip, b->client_ip);
	assert_string_equal(a->helo, b->helo);
	assert_string_equal(a->proto, b->proto);
	assert_int_equal(a->nrcpts, b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		assert_string_equal(a->rcpts[i].addr, b->rcpts[i].addr);
		assert_string_equal(a->rcpts[i].domain, b->rcpts[i].domain);
		assert_string_equal(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		assert_int_equal(a->rcpts[i].notify, b->rcpts[i].notify);
	}
}

static void
test_round_trip(void **state)
{
	struct envelope env, got;
	struct buf f = BUF_INIT;
	size_t off;
	uint64_t body_off = 0;

	(void)state;
	sample_env(&env);
	whole_file(&env, &f, &off);
	assert_memory_equal(f.data, "V\0\0\0\x0fPOSTERN-QUEUE-1", 20);
	assert_int_equal(spool_parse_header((const uint8_t *)f.data, f.len, &got, &body_off), 0);
	assert_int_equal(body_off, off);
	assert_memory_equal(f.data + body_off, body, sizeof(body) - 1);
	assert_same_env(&env, &got);
	{
		uint64_t blen, tlen;

		assert_int_equal(spool_check_end((const uint8_t *)f.data + f.len - SPOOL_END_SIZE,
						 f.len, body_off, &blen, &tlen),
				 0);
		assert_int_equal(blen, sizeof(body) - 1);
		assert_int_equal(tlen, 0);
	}
	envelope_clear(&got);
	assert_null(got.rcpts);
	envelope_clear(&env);
	buf_free(&f);
}

/* A file cut short anywhere: "need more" inside the header, never a crash,
 * and the END check refuses every cut. */
static void
test_truncated_everywhere(void **state)
{
	struct envelope env, got;
	struct buf f = BUF_INIT;
	size_t off, n;

	(void)state;
	sample_env(&env);
	whole_file(&env, &f, &off);
	for (n = 0; n <= f.len; n++) {
		uint64_t body_off = 0;
		/* a copy of exactly n bytes, so ASan sees any read past the cut */
		uint8_t *cut = malloc(n ? n : 1);
		int rc;

		memcpy(cut, f.data, n);
		rc = spool_parse_header(cut, n, &got, &body_off);
		if (rc != (n < off ? 1 : 0))
			fail_msg("cut at %zu of %zu: got %d", n, f.len, rc);
		if (rc == 0) {
			assert_int_equal(body_off, off);
			envelope_clear(&got);
		} else {
			assert_null(got.rcpts);
		}
		if (n >= off + SPOOL_END_SIZE) {
			int want = n == f.len ? 0 : -1;
			uint64_t blen, tlen;

			if (spool_check_end(cut + n - SPOOL_END_SIZE, n, off, &blen, &tlen) != want)
				fail_msg("END check of a file cut at %zu: want %d", n, want);
		}
		free(cut);
	}
	envelope_clear(&env);
	buf_free(&f);
}

/* rec - one TYPE LENGTH DATA record. */
static void
rec(struct buf *out, char type, const char *data, size_t len)
{
	uint8_t h[5] = {(uint8_t)type, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len};

	buf_add(out, h, sizeof(h));
	buf_add(out, data, len);
}

#define REC(out, type, lit) rec(out, type, lit, sizeof(lit) - 1)

/* Each row replaces one record of a good header; "" leaves it out. */
static void
test_bad_records(void **state)
{
	static const struct {
		char type; /* the record to replace */
		const char *data;
		size_t len;
		int want;
	} rows[] = {
#define ROW(t, lit, want) {t, lit, sizeof(lit) - 1, want}
		ROW('V', "POSTERN-QUEUE-1", 0),
		ROW('V', "POSTERN-QUEUE-2", -1),
		ROW('V', "POSTERN-QUEUE-", -1),
		ROW('V', "postern-queue-1", -1),
		ROW('I', "0123456789abcdef", 0),
		ROW('I', "0123456789ABCDEF", -1),
		ROW('I', "0123456789abcde", -1),
		ROW('I', "0123456789abcdef0", -1),
		ROW('I', "../../etc/passw", -1),
		ROW('I', "", -1), /* missing */
		ROW('T', "1700000000", 0),
		ROW('T', "-1", -1),
		ROW('T', "17e8", -1),
		ROW('T', "", -1),
		ROW('S', "", -1),
		ROW('S', "a\0b@example.test", -1),
		ROW('A', "ret=FULL", 0),
		ROW('A', "x-future=whatever", 0), /* a newer writer's attribute */
		ROW('A', "ret", -1),
		ROW('A', "ret=ALL", -1),
		ROW('A', "body=BINARYMIME", -1),
		ROW('A', "=x", 0),
		ROW('A', "envid=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    -1), /* 101 bytes */
		ROW('A', "proto=ESMTPSA-TOO-LONG", -1),
		ROW('A', "helo=a\0b", -1),
		ROW('R', "6\0\0user@example.test", 0),
		ROW('R', "0\0\0postmaster", 0),
		ROW('R', "f\0rfc822;x\0user@example.test", 0),
		ROW('R', "10\0\0user@example.test", -1),
		ROW('R', "g\0\0user@example.test", -1),
		ROW('R', "\0\0user@example.test", -1),
		ROW('R', "006\0\0user@example.test", -1),
		ROW('R', "6\0user@example.test", -1),
		ROW('R', "6\0\0user", -1),
		ROW('R', "6\0\0user@example.test\0x", -1),
		ROW('R', "", -1), /* no recipients */
		ROW('Z', "anything", -1),
		ROW('D', "0123456789abcdef", -1), /* 'D': a second I record */
		ROW('B', "x", -1),
#undef ROW
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf f = BUF_INIT;
		struct envelope got;
		uint64_t off;
		int rc;
		char t = rows[i].type;

#define PART(type, lit)                                                                          \
	do {                                                                                     \
		if (t != (type))                                                                 \
			REC(&f, type, lit);                                                      \
		else if (rows[i].len > 0)                                                        \
			rec(&f, type, rows[i].data, rows[i].len);                               \
	} while (0)
		PART('V', "POSTERN-QUEUE-1");
		PART('I', "0123456789abcdef");
		PART('T', "1700000000");
		PART('S', "a@example.test");
		PART('A', "client=192.0.2.1");
		PART('R', "6\0\0user@example.test");
		if (t == 'Z' || t == 'D')
			rec(&f, t == 'Z' ? 'Z' : 'I', rows[i].data, rows[i].len);
		if (t == 'B')
			rec(&f, 'B', rows[i].data, rows[i].len);
		else
			REC(&f, 'B', "");
#undef PART
		buf_add(&f, body, sizeof(body) - 1);
		rc = spool_parse_header((const uint8_t *)f.data, f.len, &got, &off);
		if (rc != rows[i].want)
			fail_msg("row %zu (%c \"%s\"): got %d", i, t, rows[i].data, rc);
		if (rc == 0)
			envelope_clear(&got);
		buf_free(&f);
	}
}

static void
test_recipient_fields(void **state)
{
	struct buf f = BUF_INIT;
	struct envelope got;
	uint64_t off;

	(void)state;
	REC(&f, 'V', "POSTERN-QUEUE-1");
	REC(&f, 'I', "0123456789abcdef");
	REC(&f, 'T', "1");
	REC(&f, 'S', "");
	REC(&f, 'R', "c\0rfc822;a+40B\0Someone@Sub.Example.TEST");
	REC(&f, 'R', "0\0\0PostMaster");
	REC(&f, 'B', "");
	assert_int_equal(spool_parse_header((const uint8_t *)f.data, f.len, &got, &off), 0);
	assert_int_equal(off, f.len);
	assert_string_equal(got.sender, ""); /* the null sender */
	assert_int_equal(got.nrcpts, 2);
	assert_int_equal(got.rcpts[0].notify, NOTIFY_FAILURE | NOTIFY_DELAY);
	assert_string_equal(got.rcpts[0].orcpt, "rfc822;a+40B");
	assert_string_equal(got.rcpts[0].addr, "Someone@Sub.Example.TEST");
	assert_string_equal(got.rcpts[0].domain, "sub.example.test");
	assert_string_equal(got.rcpts[1].addr, "PostMaster");
	assert_string_equal(got.rcpts[1].domain, "");
	assert_int_equal(got.ret, RET_UNSET);
	assert_int_equal(got.body, BODY_UNSET);
	envelope_clear(&got);
	buf_free(&f);
}

static void
test_huge_length(void **state)
{
	/* a record claiming more than SPOOL_HEADER_MAX is malformed at once,
	 * not "need more" (the reader would keep reading) */
	static const uint8_t huge[] = "V\0\0\0\x0fPOSTERN-QUEUE-1S\x04\0\0\x01";
	static const uint8_t max[] = "V\0\0\0\x0fPOSTERN-QUEUE-1S\x04\0\0\0";
	struct envelope got;
	uint64_t off;

	(void)state;
	assert_int_equal(spool_parse_header(huge, sizeof(huge) - 1, &got, &off), -1);
	assert_int_equal(spool_parse_header(max, sizeof(max) - 1, &got, &off), 1);
	assert_null(got.rcpts);
}

static void
test_bad_end(void **state)
{
	static const struct {
		const char *what;
		uint8_t tail[SPOOL_END_SIZE];
		uint64_t file_size, body_off;
		int want;
	} rows[] = {
		{"good", {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 100}, 213, 100, 0},
		{"empty body", {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}, 113, 100, 0},
		/* one byte of trailer: END is fine, spool_parse_trailer refuses it */
		{"length one short", {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 99}, 213, 100, 0},
		{"trailer too long", {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}, 113 + SPOOL_TRAILER_MAX + 1, 100, -1},
		{"length one long", {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 101}, 213, 100, -1},
		{"type", {'F', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 100}, 213, 100, -1},
		{"record length", {'E', 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 100}, 213, 100, -1},
		{"high byte", {'E', 0, 0, 0, 8, 1, 0, 0, 0, 0, 0, 0, 100}, 213, 100, -1},
		{"body text", {'\r', '\n', '.', '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0}, 213, 100, -1},
		{"file too short", {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}, 112, 100, -1},
		{"body_off past the end", {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}, 50, 100, -1},
		/* body_off + 13 wraps around to 7: still past the end of the file */
		{"body_off wraps",
		 {'E', 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 50 - 7},
		 50,
		 UINT64_MAX - 5,
		 -1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t blen, tlen;
		int rc = spool_check_end(rows[i].tail, rows[i].file_size, rows[i].body_off, &blen,
					 &tlen);

		if (rc != rows[i].want)
			fail_msg("row %zu (%s): got %d", i, rows[i].what, rc);
	}
	{
		uint8_t end[SPOOL_END_SIZE];

		spool_end(0x0102030405060708ULL, end);
		assert_memory_equal(end, "E\0\0\0\x08\x01\x02\x03\x04\x05\x06\x07\x08",
				    SPOOL_END_SIZE);
	}
}

/* The trailer: prepended header lines and a quarantine reason, found again
 * at the offsets the delivery sends from; anything else is refused. */
static void
test_trailer(void **state)
{
	static const char hdrs[] = "Authentication-Results: mx.test; spf=pass\r\n"
				   "DKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=abc\r\n";
	static const struct {
		const char *what;
		const char *bytes;
		size_t n;
	} bad[] = {
		{"unknown record", "X\0\0\0\0", 5},
		{"short header", "P\0\0", 3},
		{"length past the end", "Q\0\0\0\x09" "abc", 8},
		{"empty prepend", "P\0\0\0\0", 5},
		{"no CRLF at the end", "P\0\0\0\x03" "a:b", 8},
		{"bare LF", "P\0\0\0\x07" "a:b\nc\r\n", 12},
		{"dot line", "P\0\0\0\x05.a:b\r\n", 10},
		{"NUL in reason", "Q\0\0\0\x03" "a\0b", 8},
		{"two reasons", "Q\0\0\0\x01" "aQ\0\0\0\x01" "b", 12},
	};
	struct spool_trailer t;
	struct envelope env, got;
	struct buf f = BUF_INIT;
	uint64_t body_off, blen, tlen;
	size_t off, i, tstart;
	uint8_t end[SPOOL_END_SIZE];

	(void)state;
	sample_env(&env);
	spool_header(&env, &f);
	off = f.len;
	buf_add(&f, body, sizeof(body) - 1);
	tstart = f.len;
	assert_true(valid_spool_prepend(hdrs, sizeof(hdrs) - 1));
	spool_trailer(hdrs, sizeof(hdrs) - 1, "dmarc=fail policy=quarantine", &f);
	spool_end(sizeof(body) - 1, end);
	buf_add(&f, end, sizeof(end));

	assert_int_equal(spool_parse_header((const uint8_t *)f.data, f.len, &got, &body_off), 0);
	assert_int_equal(body_off, off);
	assert_int_equal(spool_check_end((const uint8_t *)f.data + f.len - SPOOL_END_SIZE, f.len,
					 body_off, &blen, &tlen),
			 0);
	assert_int_equal(blen, sizeof(body) - 1);
	assert_int_equal(body_off + blen, tstart);
	assert_int_equal(spool_parse_trailer((const uint8_t *)f.data + tstart, (size_t)tlen, tstart,
					     &t),
			 0);
	assert_int_equal(t.prepend_len, sizeof(hdrs) - 1);
	assert_memory_equal(f.data + t.prepend_off, hdrs, sizeof(hdrs) - 1);
	assert_true(t.quarantined);
	assert_string_equal(t.reason, "dmarc=fail policy=quarantine");
	/* an empty trailer is the common case */
	assert_int_equal(spool_parse_trailer((const uint8_t *)"", 0, 0, &t), 0);
	assert_false(t.quarantined);
	assert_int_equal(t.prepend_len, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (spool_parse_trailer((const uint8_t *)bad[i].bytes, bad[i].n, 0, &t) != -1)
			fail_msg("accepted: %s", bad[i].what);
	envelope_clear(&got);
	envelope_clear(&env);
	buf_free(&f);
}

static void
test_queue_id(void **state)
{
	static const struct {
		const char *id;
		bool ok;
	} rows[] = {
		{"0123456789abcdef", true},  {"ffffffffffffffff", true},
		{"0123456789ABCDEF", false}, {"0123456789abcde", false},
		{"0123456789abcdefa", false}, {"0123456789abcdeg", false},
		{"", false},		      {"../0123456789abc", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (valid_queue_id(rows[i].id) != rows[i].ok)
			fail_msg("row %zu (%s)", i, rows[i].id);
}

static void
test_state_round_trip(void **state)
{
	struct spool_state st, got;
	struct buf t = BUF_INIT, t2 = BUF_INIT;

	(void)state;
	spool_state_init(&st, 3);
	st.attempts = 4;
	st.next_try = 1700000600;
	st.first_fail = 1700000000;
	st.hold = 1;
	st.warned = 1;
	st.status[0] = RS_FAILED;
	st.error[0] = strdup("550 5.1.1 <a@example.test>: no such user");
	st.status[2] = RS_DONE;
	spool_state_format(&st, &t);
	assert_string_equal(buf_cstr(&t), "postern-state 1\nattempts 4\nnext 1700000600\n"
					  "first_fail 1700000000\nhold 1\nwarned 1\n"
					  "rcpt 0 failed 550 5.1.1 <a@example.test>: no such user\n"
					  "rcpt 2 done \n");
	assert_int_equal(spool_state_parse(t.data, t.len, 3, &got), 0);
	assert_int_equal(got.attempts, 4);
	assert_true(got.next_try == 1700000600);
	assert_true(got.first_fail == 1700000000);
	assert_int_equal(got.hold, 1);
	assert_int_equal(got.warned, 1);
	assert_int_equal(got.status[0], RS_FAILED);
	assert_string_equal(got.error[0], "550 5.1.1 <a@example.test>: no such user");
	assert_int_equal(got.status[1], RS_PENDING);
	assert_null(got.error[1]);
	assert_int_equal(got.status[2], RS_DONE);
	assert_null(got.error[2]);
	spool_state_format(&got, &t2);
	assert_string_equal(buf_cstr(&t), buf_cstr(&t2));
	spool_state_clear(&st);
	spool_state_clear(&got);
	buf_free(&t);
	buf_free(&t2);
}

static void
test_state_parse(void **state)
{
	static const struct {
		const char *text;
		uint32_t nrcpts;
		int want;
	} rows[] = {
		{"postern-state 1\n", 0, 0},
		{"postern-state 1", 2, 0},
		{"postern-state 1\nattempts 99999999999\n", 1, 0},
		{"postern-state 1\nfuture 7\n", 1, 0}, /* unknown keys are skipped */
		{"postern-state 1\n\n\nrcpt 1 done\n", 2, 0},
		{"postern-state 2\n", 1, -1},
		{"postern-state 10\n", 1, -1},
		{"postern-state\n", 1, -1},
		{"", 1, -1},
		{"attempts 1\npostern-state 1\n", 1, -1},
		{"postern-state 1\nrcpt 2 done\n", 2, -1},
		{"postern-state 1\nrcpt 0 done\n", 0, -1},
		{"postern-state 1\nrcpt -1 done\n", 2, -1},
		{"postern-state 1\nrcpt 0 sent\n", 2, -1},
		{"postern-state 1\nrcpt 0\n", 2, -1},
		{"postern-state 1\nattempts x\n", 2, -1},
		{"postern-state 1\nattempts\n", 2, -1},
		{"postern-state 1\nnext 18446744073709551616\n", 2, -1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct spool_state st;
		int rc = spool_state_parse(rows[i].text, strlen(rows[i].text), rows[i].nrcpts, &st);

		if (rc != rows[i].want)
			fail_msg("row %zu (%s): got %d", i, rows[i].text, rc);
		if (rc == 0)
			spool_state_clear(&st);
		else
			assert_null(st.status);
	}
	{
		struct spool_state st;
		static const char nul[] = "postern-state 1\nrcpt 0 failed a\0b\n";
		static char long_line[5000];

		assert_int_equal(spool_state_parse(nul, sizeof(nul) - 1, 1, &st), -1);
		memcpy(long_line, "postern-state 1\nrcpt 0 failed ", 30);
		memset(long_line + 30, 'x', sizeof(long_line) - 31);
		assert_int_equal(spool_state_parse(long_line, strlen(long_line), 1, &st), -1);
		assert_int_equal(spool_state_parse("postern-state 1\nattempts 99999999999\n", 37, 1,
						   &st),
				 0);
		assert_true(st.attempts == UINT32_MAX);
		spool_state_clear(&st);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_trailer),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_recipient_fields),
		cmocka_unit_test(test_huge_length),
		cmocka_unit_test(test_bad_end),
		cmocka_unit_test(test_queue_id),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
