/* SPDX-License-Identifier: ISC */
/*
 * test_data - the DATA/BDAT content reader: end of data, dot-stuffing,
 * strict and normalize line endings, every SMTP smuggling sequence, limits,
 * header tracking, and chunk boundaries anywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/data.h"

struct run {
	enum data_status st;
	size_t used; /* total bytes consumed */
	struct buf out;
	struct data_reader r;
};

/* feed_all - feed in chunks of `step` bytes, past HEADERS_DONE. */
static void
feed_all(struct run *run, enum data_mode mode, bool normalize, const char *in, size_t n,
	 size_t step)
{
	size_t pos = 0;

	memset(run, 0, sizeof(*run));
	buf_init(&run->out);
	data_init(&run->r, mode, normalize, 1000, 1 << 20);
	while (pos < n) {
		size_t len = n - pos < step ? n - pos : step, u;
		enum data_status st = data_feed(&run->r, in + pos, len, &run->out, &u);

		pos += u;
		run->st = st;
		if (st == DATA_HEADERS_DONE)
			continue;
		if (st != DATA_MORE)
			break;
	}
	run->used = pos;
}

#define FEED(run, mode, norm, lit, step) feed_all(run, mode, norm, lit, sizeof(lit) - 1, step)

static void
test_end_of_data(void **state)
{
	static const size_t steps[] = {1, 2, 3, 7, 4096};
	const char in[] = "Subject: x\r\n\r\nbody\r\n..leading dot\r\n.\r\nMAIL FROM:<x>\r\n";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct run run;

		FEED(&run, DATA_MODE_DOT, false, in, steps[i]);
		assert_int_equal(run.st, DATA_END);
		assert_int_equal(run.used, strlen(in) - strlen("MAIL FROM:<x>\r\n"));
		/* stored in wire form: the stuffed dot stays, the terminator goes */
		assert_string_equal(buf_cstr(&run.out),
				    "Subject: x\r\n\r\nbody\r\n..leading dot\r\n");
		buf_free(&run.out);
	}
}

static void
test_empty_message(void **state)
{
	struct run run;

	(void)state;
	FEED(&run, DATA_MODE_DOT, false, ".\r\n", 1);
	assert_int_equal(run.st, DATA_END);
	assert_int_equal(run.out.len, 0);
	buf_free(&run.out);
}

/* The sequences of the public smuggling scanners: none may end the data. */
static const char *const smuggle[] = {
	"\n.\n",     "\r.\r",	  "\r.\n",     "\n.\r",		 "\n.\r\n",
	"\r\n.\n",   "\r.\r\n",	  "\r\n.\r",   "\r\n.\r\r\n",	 "\r\r\n.\r\r\n",
};

static void
test_smuggling_refused(void **state)
{
	size_t i, mode;

	(void)state;
	for (mode = 0; mode < 2; mode++) {
		for (i = 0; i < sizeof(smuggle) / sizeof(smuggle[0]); i++) {
			char in[256];
			struct run run;

			snprintf(in, sizeof(in),
				 "Subject: t\r\n\r\nbody%sMAIL FROM:<x@evil.example>\r\n"
				 "RCPT TO:<v@example.test>\r\nDATA\r\nsmuggled\r\n",
				 smuggle[i]);
			feed_all(&run, DATA_MODE_DOT, mode == 1, in, strlen(in), 1);
			/* strict: refused at the bare CR or LF; normalize: a bare CR is
			 * refused and a bare LF is a line end, never the end of data */
			assert_int_not_equal(run.st, DATA_END);
			if (mode == 0)
				assert_true(run.st == DATA_BARE_LF || run.st == DATA_BARE_CR);
			buf_free(&run.out);
		}
	}
}

static void
test_null_before_dot_is_data(void **state)
{
	const char in[] = "a\r\n\0.\r\nMAIL FROM:<x>\r\n.\r\n";
	struct run run;

	(void)state;
	FEED(&run, DATA_MODE_DOT, false, in, 5);
	assert_int_equal(run.st, DATA_END);
	assert_int_equal(run.used, sizeof(in) - 1);
	assert_int_equal(run.out.len, sizeof(in) - 1 - 3);
	buf_free(&run.out);
}

static void
test_normalize_bare_lf(void **state)
{
	const char in[] = "Subject: x\n\nline one\nline two\r\n.\nmore\r\n.\r\n";
	struct run run;

	(void)state;
	FEED(&run, DATA_MODE_DOT, true, in, 3);
	assert_int_equal(run.st, DATA_END);
	/* ".\n" is kept as a line holding "." (stuffed), not taken as the end */
	assert_string_equal(buf_cstr(&run.out),
			    "Subject: x\r\n\r\nline one\r\nline two\r\n..\r\nmore\r\n");
	buf_free(&run.out);
}

static void
test_strict_bare_lf_in_body(void **state)
{
	const char in[] = "Subject: x\r\n\r\nline\nmore\r\n.\r\n";
	struct run run;

	(void)state;
	FEED(&run, DATA_MODE_DOT, false, in, 4096);
	assert_int_equal(run.st, DATA_BARE_LF);
	buf_free(&run.out);
}

static void
test_bdat_stuffs_and_finishes(void **state)
{
	const char in[] = "Subject: b\r\n\r\n.hidden\r\nno newline";
	struct run run;

	(void)state;
	FEED(&run, DATA_MODE_BDAT, false, in, 2);
	assert_int_equal(run.st, DATA_MORE);
	assert_int_equal(data_finish_bdat(&run.r, &run.out), DATA_END);
	assert_string_equal(buf_cstr(&run.out),
			    "Subject: b\r\n\r\n..hidden\r\nno newline\r\n");
	buf_free(&run.out);
}

static void
test_bdat_lone_cr_at_end(void **state)
{
	const char in[] = "x\r";
	struct run run;

	(void)state;
	FEED(&run, DATA_MODE_BDAT, false, in, 4096);
	assert_int_equal(data_finish_bdat(&run.r, &run.out), DATA_BARE_CR);
	buf_free(&run.out);
}

static void
test_headers_seen(void **state)
{
	const char in[] = "DATE : Mon, 1 Jan 2024 00:00:00 +0000\r\nX: y\r\n"
			  "message-id:<a@b>\r\n\r\nDate: not a header\r\n.\r\n";
	const char none[] = "Subject: x\r\n X-Date: folded\r\n\r\n.\r\n";
	struct run run;

	(void)state;
	FEED(&run, DATA_MODE_DOT, false, in, 1);
	assert_int_equal(run.st, DATA_END);
	assert_int_equal(run.r.seen, DATA_SEEN_DATE | DATA_SEEN_MSGID);
	buf_free(&run.out);
	FEED(&run, DATA_MODE_DOT, false, none, 1);
	assert_int_equal(run.r.seen, 0);
	buf_free(&run.out);
}

static void
test_headers_done_stops_before_blank_line(void **state)
{
	const char in[] = "A: b\r\n\r\nbody\r\n.\r\n";
	struct data_reader r;
	struct buf out = BUF_INIT;
	size_t used;

	(void)state;
	data_init(&r, DATA_MODE_DOT, false, 1000, 1 << 20);
	assert_int_equal(data_feed(&r, in, sizeof(in) - 1, &out, &used), DATA_HEADERS_DONE);
	assert_int_equal(used, 6);
	assert_string_equal(buf_cstr(&out), "A: b\r\n");
	buf_free(&out);
}

static void
test_limits(void **state)
{
	char big[3000];
	struct data_reader r;
	struct buf out = BUF_INIT;
	size_t used;

	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big + sizeof(big) - 5, "\r\n.\r\n", 5);
	data_init(&r, DATA_MODE_DOT, false, 1000, 1 << 20);
	assert_int_equal(data_feed(&r, big, sizeof(big), &out, &used), DATA_END);
	assert_true(r.line_too_long);
	buf_free(&out);
	data_init(&r, DATA_MODE_DOT, false, 5000, 100);
	assert_int_equal(data_feed(&r, big, sizeof(big), &out, &used), DATA_END);
	assert_true(r.too_big);
	assert_false(r.line_too_long);
	assert_true(out.len <= 100);
	buf_free(&out);
}

/* What is stored for each end-of-data look-alike, in every mode and at
 * every chunk size: never an end of data, never a bare CR or LF. */
static void
test_dot_lines_table(void **state)
{
	static const struct {
		enum data_mode mode;
		bool normalize;
		const char *in;
		size_t len;
		enum data_status st;
		const char *out;
		size_t outlen;
	} rows[] = {
#define R(m, n, lit, st, out) {m, n, lit, sizeof(lit) - 1, st, out, sizeof(out) - 1}
		/* BDAT content is not dot-stuffed on the wire: a "." line is data */
		R(DATA_MODE_BDAT, false, "a\r\n.\r\nb\r\n", DATA_MORE, "a\r\n..\r\nb\r\n"),
		R(DATA_MODE_BDAT, true, "a\n.\nb\n", DATA_MORE, "a\r\n..\r\nb\r\n"),
		R(DATA_MODE_BDAT, false, "a\r\n.", DATA_MORE, "a\r\n.."),
		/* normalize: LF "." CRLF and LF "." LF are lines holding "." */
		R(DATA_MODE_DOT, true, "a\n.\r\nb\r\n.\r\n", DATA_END, "a\r\n..\r\nb\r\n"),
		R(DATA_MODE_DOT, true, "a\n.\nb\r\n.\r\n", DATA_END, "a\r\n..\r\nb\r\n"),
		R(DATA_MODE_DOT, true, "a\r\n.\nb\r\n.\r\n", DATA_END, "a\r\n..\r\nb\r\n"),
		/* a NUL after the dot makes it a line of text */
		R(DATA_MODE_DOT, false, "a\r\n.\0\r\nb\r\n.\r\n", DATA_END, "a\r\n.\0\r\nb\r\n"),
		/* bare CR is refused in every mode */
		R(DATA_MODE_DOT, true, "a\r\n.\r.\r\n", DATA_BARE_CR, "a\r\n"),
		R(DATA_MODE_DOT, true, "a\r.\r\n", DATA_BARE_CR, "a"),
		R(DATA_MODE_BDAT, true, "a\r\r\n", DATA_BARE_CR, "a"),
#undef R
	};
	size_t i, step;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (step = 1; step <= rows[i].len; step++) {
			struct run run;
			size_t k;

			feed_all(&run, rows[i].mode, rows[i].normalize, rows[i].in, rows[i].len,
				 step);
			if (run.st != rows[i].st)
				fail_msg("row %zu step %zu: status %d", i, step, run.st);
			if (run.out.len != rows[i].outlen ||
			    memcmp(buf_cstr(&run.out), rows[i].out, rows[i].outlen) != 0)
				fail_msg("row %zu step %zu: output \"%s\"", i, step,
					 buf_cstr(&run.out));
			for (k = 0; k < run.out.len; k++)
				if ((run.out.data[k] == '\n' && (k == 0 || run.out.data[k - 1] != '\r')) ||
				    (run.out.data[k] == '\r' &&
				     (k + 1 == run.out.len || run.out.data[k + 1] != '\n')))
					fail_msg("row %zu step %zu: bare CR or LF stored", i, step);
			buf_free(&run.out);
		}
	}
}

/* Stored content read back: one stuffing dot per line goes, at any chunk
 * boundary; and what the reader stored unstuffs to what the client meant. */
static void
test_unstuff(void **state)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{"", ""},
		{"..x\r\n", ".x\r\n"},
		{"a\r\n..\r\nb\r\n", "a\r\n.\r\nb\r\n"},
		{".a.b\r\n...\r\n", "a.b\r\n..\r\n"},
		{"x.\r\n. .\r\n", "x.\r\n .\r\n"},
		{"no\ndot\r\n.x", "no\ndot\r\nx"}, /* only CRLF starts a line */
		{"a\r.b", "a\r.b"},
	};
	static const char client[] = "Subject: dots\r\n\r\n.hidden\r\n..two\r\nend.\r\n";
	static const char wire[] = "Subject: dots\r\n\r\n..hidden\r\n...two\r\nend.\r\n.\r\n";
	size_t i, step, off;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].in);

		for (step = 1; step <= (n ? n : 1); step++) {
			struct data_unstuff u;
			struct buf out = BUF_INIT;

			data_unstuff_init(&u);
			for (off = 0; off < n; off += step)
				data_unstuff(&u, rows[i].in + off, n - off < step ? n - off : step,
					     &out);
			if (strcmp(buf_cstr(&out), rows[i].out) != 0)
				fail_msg("row %zu step %zu: \"%s\"", i, step, buf_cstr(&out));
			buf_free(&out);
		}
	}
	/* the reader keeps the client's stuffing; unstuffing gives the message */
	{
		struct run run;
		struct data_unstuff u;
		struct buf msg = BUF_INIT;

		FEED(&run, DATA_MODE_DOT, false, wire, 4096);
		assert_int_equal(run.st, DATA_END);
		data_unstuff_init(&u);
		data_unstuff(&u, run.out.data, run.out.len, &msg);
		assert_string_equal(buf_cstr(&msg), client);
		buf_free(&msg);
		buf_free(&run.out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_of_data),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_smuggling_refused),
		cmocka_unit_test(test_null_before_dot_is_data),
		cmocka_unit_test(test_normalize_bare_lf),
		cmocka_unit_test(test_strict_bare_lf_in_body),
		cmocka_unit_test(test_bdat_stuffs_and_finishes),
		cmocka_unit_test(test_bdat_lone_cr_at_end),
		cmocka_unit_test(test_headers_seen),
		cmocka_unit_test(test_headers_done_stops_before_blank_line),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_dot_lines_table),
		cmocka_unit_test(test_unstuff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
