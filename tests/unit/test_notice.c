/* SPDX-License-Identifier: ISC */
/*
 * test_notice - the mails postern writes itself (src/mail/notice.c):
 * headers, CRLF lines, dot-stuffing, and refusal of header injection.
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
