/* SPDX-License-Identifier: ISC */
/*
 * test_reply - the SMTP client's reply reader (src/mail/reply.c): single and
 * multi-line replies, EHLO keywords, and what a hostile server may send
 * (mismatched codes, bad syntax, control bytes, too many or too long lines).
 * Table-driven: each row is the lines of one reply and the expected result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/reply.h"

#define MAXL 8

static void
test_replies(void **state)
{
	static const struct {
		const char *lines[MAXL]; /* fed in turn, until NULL */
		int rc[MAXL];		 /* expected from each reply_feed */
		int code;
		const char *text;
		unsigned ext;
		unsigned long long size;
	} rows[] = {
		{{"220 mx.example.test ESMTP"}, {1}, 220, "mx.example.test ESMTP", 0, 0},
		{{"250"}, {1}, 250, "", 0, 0},
		{{"250 "}, {1}, 250, "", 0, 0},
		{{"550 5.1.1 <x@example.test>: no such user"},
		 {1},
		 550,
		 "5.1.1 <x@example.test>: no such user",
		 0,
		 0},
		{{"250-mx.example.test", "250-PIPELINING", "250-SIZE 10240000", "250-8bitmime",
		  "250-SMTPUTF8", "250-DSN", "250-ENHANCEDSTATUSCODES", "250 CHUNKING"},
		 {0, 0, 0, 0, 0, 0, 0, 1},
		 250,
		 "mx.example.test / PIPELINING / SIZE 10240000 / 8bitmime / SMTPUTF8 / DSN / "
		 "ENHANCEDSTATUSCODES / CHUNKING",
		 EXT_PIPELINING | EXT_SIZE | EXT_8BITMIME | EXT_SMTPUTF8 | EXT_DSN |
			 EXT_ENHANCEDSTATUSCODES | EXT_CHUNKING,
		 10240000},
		{{"250-mx", "250 STARTTLS"}, {0, 1}, 250, "mx / STARTTLS", EXT_STARTTLS, 0},
		/* keywords count only after the first line, and only whole */
		{{"250 PIPELINING"}, {1}, 250, "PIPELINING", 0, 0},
		{{"250-mx", "250-PIPELININGX", "250 XSIZE 5"}, {0, 0, 1}, 250,
		 "mx / PIPELININGX / XSIZE 5", 0, 0},
		{{"250-mx", "250 SIZE"}, {0, 1}, 250, "mx / SIZE", EXT_SIZE, 0},
		{{"250-mx", "250 SIZE 12abc"}, {0, 1}, 250, "mx / SIZE 12abc", EXT_SIZE, 12},
		/* AUTH, and the form before RFC 4954 (for postern check's probe) */
		{{"250-mx", "250 AUTH PLAIN LOGIN"}, {0, 1}, 250, "mx / AUTH PLAIN LOGIN", EXT_AUTH, 0},
		{{"250-mx", "250-auth=LOGIN", "250 STARTTLS"}, {0, 0, 1}, 250,
		 "mx / auth=LOGIN / STARTTLS", EXT_AUTH | EXT_STARTTLS, 0},
		{{"250-mx", "250 AUTHX"}, {0, 1}, 250, "mx / AUTHX", 0, 0},
		/* control bytes and 8-bit text never reach logs or bounces */
		{{"550 bad\x01\x1b[31m\x7f\xff."}, {1}, 550, "bad??[31m??.", 0, 0},
		{{"421-4.3.2 going\r", "421 4.3.2 down"}, {0, 1}, 421, "4.3.2 going? / 4.3.2 down", 0,
		 0},
		/* every line must carry the same code */
		{{"250-first", "251 second"}, {0, -1}, 250, "first", 0, 0},
		{{"250-first", "550 second"}, {0, -1}, 250, "first", 0, 0},
		/* malformed lines end the connection */
		{{"25"}, {-1}, 0, "", 0, 0},
		{{""}, {-1}, 0, "", 0, 0},
		{{"2500 x"}, {-1}, 0, "", 0, 0},
		{{"250_x"}, {-1}, 0, "", 0, 0},
		{{"25x ok"}, {-1}, 0, "", 0, 0},
		{{"150 preliminary"}, {-1}, 0, "", 0, 0},
		{{"650 x"}, {-1}, 0, "", 0, 0},
		{{" 250 x"}, {-1}, 0, "", 0, 0},
		/* nothing after the last line */
		{{"250 done", "250 more"}, {1, -1}, 250, "done", 0, 0},
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct smtp_reply r;

		reply_init(&r);
		for (k = 0; k < MAXL && rows[i].lines[k] != NULL; k++) {
			int rc = reply_feed(&r, rows[i].lines[k], strlen(rows[i].lines[k]));

			if (rc != rows[i].rc[k])
				fail_msg("row %zu line %zu (%s): got %d, want %d", i, k,
					 rows[i].lines[k], rc, rows[i].rc[k]);
		}
		if (r.code != rows[i].code)
			fail_msg("row %zu: code %d, want %d", i, r.code, rows[i].code);
		assert_string_equal(r.text, rows[i].text);
		assert_int_equal(r.ext, rows[i].ext);
		assert_true(r.size_limit == rows[i].size);
		assert_int_equal(reply_class(&r), rows[i].code / 100);
	}
}

static void
test_line_limits(void **state)
{
	char line[REPLY_LINE_MAX + 2];
	struct smtp_reply r;

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	reply_init(&r);
	assert_int_equal(reply_feed(&r, line, REPLY_LINE_MAX + 1), -1);
	reply_init(&r);
	assert_int_equal(reply_feed(&r, line, REPLY_LINE_MAX), 1);
	/* the kept text is capped, not the line */
	assert_int_equal(strlen(r.text), REPLY_TEXT_MAX);
}

static void
test_line_count(void **state)
{
	struct smtp_reply r;
	int i;

	(void)state;
	reply_init(&r);
	for (i = 0; i < REPLY_LINES_MAX - 1; i++)
		assert_int_equal(reply_feed(&r, "250-x", 5), 0);
	assert_int_equal(reply_feed(&r, "250 x", 5), 1);
	assert_int_equal(r.nlines, REPLY_LINES_MAX);
	reply_init(&r);
	for (i = 0; i < REPLY_LINES_MAX; i++)
		assert_int_equal(reply_feed(&r, "250-x", 5), 0);
	assert_int_equal(reply_feed(&r, "250 x", 5), -1);
	assert_true(strlen(r.text) <= REPLY_TEXT_MAX);
}

static void
test_size_bounded(void **state)
{
	const char *lines[] = {"250-mx", "250 SIZE 999999999999999999999999999999"};
	struct smtp_reply r;

	(void)state;
	reply_init(&r);
	assert_int_equal(reply_feed(&r, lines[0], strlen(lines[0])), 0);
	assert_int_equal(reply_feed(&r, lines[1], strlen(lines[1])), 1);
	/* a huge SIZE does not wrap around to a small limit */
	assert_true(r.size_limit >= 1ULL << 50);
	assert_true(r.size_limit < 1ULL << 60);
}

static void
test_nul_in_line(void **state)
{
	const char line[] = "550 a\0b";
	struct smtp_reply r;

	(void)state;
	reply_init(&r);
	assert_int_equal(reply_feed(&r, line, sizeof(line) - 1), 1);
	assert_string_equal(r.text, "a?b");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replies),	    cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_line_count),  cmocka_unit_test(test_size_bounded),
		cmocka_unit_test(test_nul_in_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
