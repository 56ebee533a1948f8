/* SPDX-License-Identifier: ISC */
/*
 * test_dkim_canon - DKIM canonicalization (src/mailauth/dkim_canon.c):
 * the RFC 6376 3.4.6 example, golden header and body rows for both
 * algorithms, bodies fed in every split, l= counting, header splitting
 * and the choice of fields for signing and verifying.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "mailauth/dkim_canon.h"

static void
sink_buf(void *arg, const void *p, size_t n)
{
	buf_add(arg, p, n);
}

/* canon_body - the canonical body of in, fed in chunks of step bytes. */
static void
canon_body(enum dkim_canon c, const char *in, size_t step, bool has_l, uint64_t l,
	   struct buf *out, uint64_t *total)
{
	struct dkim_body b;
	size_t i, n = strlen(in);

	dkim_body_init(&b, c, has_l, l, sink_buf, out);
	for (i = 0; i < n; i += step)
		dkim_body_update(&b, in + i, n - i < step ? n - i : step);
	dkim_body_final(&b);
	if (total != NULL)
		*total = b.total;
}

static void
test_rfc6376_example(void **state)
{
	const char *msg = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
	struct dkim_field f[8];
	size_t nf, body, i;
	const char *why;
	struct buf h = BUF_INIT, b = BUF_INIT;

	(void)state;
	assert_int_equal(dkim_split_header(msg, strlen(msg), f, 8, &nf, &body, &why), 0);
	assert_int_equal(nf, 2);
	for (i = 0; i < nf; i++) {
		dkim_canon_header(DKIM_CANON_RELAXED, msg + f[i].off, f[i].len, &h);
		buf_adds(&h, "\r\n");
	}
	assert_string_equal(buf_cstr(&h), "a:X\r\nb:Y Z\r\n");
	buf_reset(&h);
	for (i = 0; i < nf; i++) {
		dkim_canon_header(DKIM_CANON_SIMPLE, msg + f[i].off, f[i].len, &h);
		buf_adds(&h, "\r\n");
	}
	assert_string_equal(buf_cstr(&h), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	canon_body(DKIM_CANON_RELAXED, msg + body, 1000, false, 0, &b, NULL);
	assert_string_equal(buf_cstr(&b), " C\r\nD E\r\n");
	buf_reset(&b);
	canon_body(DKIM_CANON_SIMPLE, msg + body, 1000, false, 0, &b, NULL);
	assert_string_equal(buf_cstr(&b), " C \r\nD \t E\r\n");
	buf_free(&h);
	buf_free(&b);
}

static void
test_header_rows(void **state)
{
	static const struct {
		const char *in, *relaxed;
	} rows[] = {
		{"Subject: Hello", "subject:Hello"},
		{"SUBJECT:Hello  World ", "subject:Hello World"},
		{"Subject : \t a\r\n  b\r\n\tc \t", "subject:a b c"},
		{"X-Empty:", "x-empty:"},
		{"X-Empty:   \r\n ", "x-empty:"},
		{"To: a@b.c,\r\n\r\n x@y", "to:a@b.c, x@y"}, /* CRLF runs vanish */
		{"K: caf\xc3\xa9  Bar", "k:caf\xc3\xa9 Bar"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf out = BUF_INIT;

		dkim_canon_header(DKIM_CANON_RELAXED, rows[i].in, strlen(rows[i].in), &out);
		if (strcmp(buf_cstr(&out), rows[i].relaxed) != 0)
			fail_msg("row %zu: got '%s'", i, buf_cstr(&out));
		buf_reset(&out);
		dkim_canon_header(DKIM_CANON_SIMPLE, rows[i].in, strlen(rows[i].in), &out);
		assert_string_equal(buf_cstr(&out), rows[i].in);
		buf_free(&out);
	}
}

static void
test_body_rows(void **state)
{
	static const struct {
		const char *in, *simple, *relaxed;
	} rows[] = {
		{"", "\r\n", ""},
		{"\r\n", "\r\n", ""},
		{"\r\n\r\n\r\n", "\r\n", ""},
		{"  \r\n\t\r\n", "  \r\n\t\r\n", ""},
		{"abc", "abc\r\n", "abc\r\n"},
		{"abc  ", "abc  \r\n", "abc\r\n"},
		{"abc\r\n", "abc\r\n", "abc\r\n"},
		{"abc\r\n\r\n", "abc\r\n", "abc\r\n"},
		{"a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"a \t b\t\r\n", "a \t b\t\r\n", "a b\r\n"},
		{" lead\r\n", " lead\r\n", " lead\r\n"},
		{"a\r\n  \r\nb", "a\r\n  \r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"a\rb\r\n", "a\rb\r\n", "a\rb\r\n"},
		{"a \rb", "a \rb\r\n", "a \rb\r\n"},
		{"a\r", "a\r\r\n", "a\r\r\n"},
		{"a\n\r\n", "a\n\r\n", "a\n\r\n"},
		{"a\r\r\n", "a\r\r\n", "a\r\r\n"},
		{"x\r\n.\r\n", "x\r\n.\r\n", "x\r\n.\r\n"},
	};
	size_t i, step;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (step = 1; step <= 4; step++) {
			struct buf s = BUF_INIT, r = BUF_INIT;
			uint64_t total;

			canon_body(DKIM_CANON_SIMPLE, rows[i].in, step, false, 0, &s, &total);
			if (strcmp(buf_cstr(&s), rows[i].simple) != 0 || total != s.len)
				fail_msg("simple row %zu step %zu", i, step);
			canon_body(DKIM_CANON_RELAXED, rows[i].in, step, false, 0, &r, &total);
			if (strcmp(buf_cstr(&r), rows[i].relaxed) != 0 || total != r.len)
				fail_msg("relaxed row %zu step %zu: '%s'", i, step, buf_cstr(&r));
			buf_free(&s);
			buf_free(&r);
		}
}

static void
test_body_length(void **state)
{
	struct buf out = BUF_INIT;
	uint64_t total;

	(void)state;
	canon_body(DKIM_CANON_RELAXED, "hello  world\r\nmore\r\n", 3, true, 7, &out, &total);
	assert_string_equal(buf_cstr(&out), "hello w");
	assert_int_equal(total, strlen("hello world\r\nmore\r\n"));
	buf_reset(&out);
	canon_body(DKIM_CANON_SIMPLE, "", 1, true, 0, &out, &total);
	assert_string_equal(buf_cstr(&out), "");
	assert_int_equal(total, 2);
	buf_reset(&out);
	canon_body(DKIM_CANON_SIMPLE, "ab\r\n", 1, true, 100, &out, &total);
	assert_string_equal(buf_cstr(&out), "ab\r\n");
	assert_int_equal(total, 4);
	buf_free(&out);
}

static void
test_body_large(void **state)
{
	/* a long body crosses the internal buffer many times */
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < 3000; i++)
		buf_adds(&in, "line  of\t text \r\n\r\n");
	for (i = 0; i < 5000; i++)
		buf_adds(&in, "\r\n");
	canon_body(DKIM_CANON_RELAXED, buf_cstr(&in), 777, false, 0, &out, NULL);
	assert_int_equal(out.len, 3000 * strlen("line of text\r\n\r\n") - 2);
	buf_free(&in);
	buf_free(&out);
}

static void
test_split(void **state)
{
	static const struct {
		const char *in;
		int rc;
		size_t nf, body;
	} rows[] = {
		{"A: 1\r\nB: 2\r\n\r\nbody", 0, 2, 14},
		{"A: 1\r\n\tmore\r\n\r\n", 0, 1, 15},
		{"A: 1", 0, 1, 4},
		{"A: 1\r\n", 0, 1, 6},
		{"\r\nbody", 0, 0, 2},
		{"", 0, 0, 0},
		{"A : 1\r\n\r\n", 0, 1, 9},
		{" A: 1\r\n\r\n", -1, 0, 0},
		{"A 1\r\n\r\n", -1, 0, 0},
		{"A B: 1\r\n\r\n", -1, 0, 0},
		{": 1\r\n\r\n", -1, 0, 0},
		{"A: 1\r\nnocolon\r\n\r\n", -1, 0, 0},
		{"A\x01: 1\r\n\r\n", -1, 0, 0},
		{"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n", -1, 0, 0}, /* over max 4 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dkim_field f[4];
		size_t nf, body;
		const char *why = NULL;
		int rc = dkim_split_header(rows[i].in, strlen(rows[i].in), f, 4, &nf, &body, &why);

		if (rc != rows[i].rc)
			fail_msg("row %zu: rc %d", i, rc);
		if (rc == 0 && (nf != rows[i].nf || body != rows[i].body))
			fail_msg("row %zu: nf %zu body %zu", i, nf, body);
		if (rc != 0)
			assert_non_null(why);
	}
}

static void
test_select_verify(void **state)
{
	const char *msg = "From: a\r\nTo: 1\r\nSubject: s\r\nTo: 2\r\nDKIM-Signature: x\r\n\r\n";
	const char h[][DKIM_HNAME_MAX + 1] = {"from", "to", "TO", "to", "subject", "from", "cc"};
	struct dkim_field f[8];
	size_t nf, body, idx[7];
	const char *why;

	(void)state;
	assert_int_equal(dkim_split_header(msg, strlen(msg), f, 8, &nf, &body, &why), 0);
	dkim_select_verify(msg, f, nf, 4, h, 7, idx);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 3); /* bottom-most To first */
	assert_int_equal(idx[2], 1);
	assert_int_equal(idx[3], DKIM_NO_FIELD);
	assert_int_equal(idx[4], 2);
	assert_int_equal(idx[5], DKIM_NO_FIELD); /* oversigned From is null */
	assert_int_equal(idx[6], DKIM_NO_FIELD);
	{
		const char h2[][DKIM_HNAME_MAX + 1] = {"dkim-signature"};

		dkim_select_verify(msg, f, nf, 4, h2, 1, idx);
		assert_int_equal(idx[0], DKIM_NO_FIELD); /* never itself */
	}
}

static void
test_select_sign(void **state)
{
	const char *msg = "Received: x\r\nfrom: a\r\nTo: 1\r\nTo: 2\r\nSubject: s\r\nDate: d\r\n"
			  "Message-ID: <m>\r\nX-Other: o\r\nContent-Type: text/plain\r\n\r\n";
	const char *want[] = {"From", "From", "Subject", "Date", "To", "To",
			      "Message-ID", "Content-Type"};
	char h[DKIM_HNAMES_MAX][DKIM_HNAME_MAX + 1];
	struct dkim_field f[16];
	size_t nf, body, nh, i;
	const char *why;

	(void)state;
	assert_int_equal(dkim_split_header(msg, strlen(msg), f, 16, &nf, &body, &why), 0);
	assert_int_equal(dkim_select_sign(msg, f, nf, h, &nh, &why), 0);
	assert_int_equal(nh, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < nh; i++)
		assert_string_equal(h[i], want[i]);
	msg = "To: x\r\n\r\n";
	assert_int_equal(dkim_split_header(msg, strlen(msg), f, 16, &nf, &body, &why), 0);
	assert_int_equal(dkim_select_sign(msg, f, nf, h, &nh, &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6376_example), cmocka_unit_test(test_header_rows),
		cmocka_unit_test(test_body_rows),	cmocka_unit_test(test_body_length),
		cmocka_unit_test(test_body_large),	cmocka_unit_test(test_split),
		cmocka_unit_test(test_select_verify),	cmocka_unit_test(test_select_sign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
