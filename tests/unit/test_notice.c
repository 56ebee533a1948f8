/* SPDX-License-Identifier: ISC */
/*
 * test_notice - the mails postern writes itself (src/mail/notice.c):
 * headers, CRLF lines, dot-stuffing, folding of long lines, RFC 2047
 * subjects, and refusal of header injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/notice.h"

static void
test_compose(void **state)
{
	struct notice n = {"mx.example.test", "ann@example.test", "Hello there",
			   "line one\n.dot line\r\nlast", 1795855143, "abc123"};
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(notice_compose(&n, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "To: <ann@example.test>\r\n"));
	assert_non_null(strstr(buf_cstr(&out), "Subject: Hello there\r\n"));
	assert_non_null(strstr(buf_cstr(&out), "Auto-Submitted: auto-generated\r\n"));
	assert_non_null(strstr(buf_cstr(&out), "Message-ID: <abc123.notice@mx.example.test>\r\n"));
	assert_non_null(strstr(buf_cstr(&out), "\r\n\r\nline one\r\n..dot line\r\nlast\r\n"));
	assert_null(strstr(buf_cstr(&out), "\n\n"));
	buf_free(&out);
}

/* lines - every line of out ends with CRLF and is at most max bytes. */
static void
assert_lines(const struct buf *out, size_t max)
{
	const char *p = out->data, *end = out->data + out->len, *nl;

	while (p < end) {
		nl = strstr(p, "\r\n");
		assert_non_null(nl);
		assert_true((size_t)(nl - p) <= max);
		assert_null(memchr(p, '\n', (size_t)(nl - p)));
		p = nl + 2;
	}
}

static void
test_fold(void **state)
{
	char text[3000];
	struct notice n = {"mx.example.test", "ann@example.test", "s", text, 0, "i"};
	struct buf out = BUF_INIT;
	const char *b;
	size_t i;

	(void)state;
	/* words: folded after a space; one long word: cut; a dot line-start
	 * after a fold is doubled too */
	memset(text, 0, sizeof(text));
	for (i = 0; i < 1200; i += 5)
		memcpy(text + i, "word ", 5);
	memset(text + 1200, 'x', 1000);
	text[1200 + NOTICE_LINE_MAX] = '.';
	assert_int_equal(notice_compose(&n, &out), 0);
	assert_lines(&out, NOTICE_LINE_MAX + 1);
	b = strstr(out.data, "\r\n\r\n") + 4;
	assert_true(strncmp(b, "word word", 9) == 0);
	assert_non_null(strstr(b, "word \r\nword"));
	assert_non_null(strstr(b, "\r\n..xxx"));
	buf_free(&out);
}

static void
test_subject_encoded(void **state)
{
	struct notice n = {"mx.example.test", "ann@example.test",
			   "Ihr Konto wurde gesperrt \xe2\x80\x93 \xc3\xa4\xc3\xb6\xc3\xbc "
			   "und noch viel mehr Text, damit es zwei W\xc3\xb6rter werden",
			   "b", 0, "i"};
	struct notice eq = {"mx.example.test", "ann@example.test", "a =?utf-8?b?Zm9v?= b", "b",
			    0, "i"};
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(notice_compose(&n, &out), 0);
	/* "Ihr Konto wurde gesperrt – äöü und noch " (45 bytes) */
	assert_non_null(strstr(out.data, "Subject: =?utf-8?b?SWhyIEtvbnRvIHd1cmRlIGdlc3BlcnJ0IOKAkyDDpMO2w7wgdW5kIG5vY2gg?=\r\n =?utf-8?b?"));
	assert_lines(&out, 100);
	buf_reset(&out);
	/* an encoded word typed into a value is not decoded by the reader */
	assert_int_equal(notice_compose(&eq, &out), 0);
	assert_null(strstr(out.data, "Subject: a =?utf-8?b?Zm9v?= b"));
	assert_non_null(strstr(out.data, "Subject: =?utf-8?b?YSA9P3V0Zi04P2I/Wm05dj89IGI=?=\r\n"));
	buf_free(&out);
}

static void
test_refused(void **state)
{
	static const struct notice rows[] = {
		{"mx.example.test", "a@b\r\nBcc: x@y", "s", "b", 0, "i"},
		{"mx.example.test", "a@b", "s\nBcc: x@y", "b", 0, "i"},
		{"mx.example.test", "a@b>", "s", "b", 0, "i"},
		{"mx.example.test", NULL, "s", "b", 0, "i"},
		{"mx.example.test", "a@b", "s", NULL, 0, "i"},
	};
	struct buf out = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_reset(&out);
		if (notice_compose(&rows[i], &out) != -1)
			fail_msg("row %zu accepted", i);
	}
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_subject_encoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
