/* SPDX-License-Identifier: ISC */
/*
 * test_dsn - delivery status notifications (src/mail/dsn.c): the enhanced
 * status taken from a server reply, the end of the header section, and the
 * composed multipart/report as the original sender will read it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/dsn.h"

static void
test_status_from_reply(void **state)
{
	static const struct {
		const char *reply, *status;
	} rows[] = {
		{"550 5.1.1 <a@example.org>: no such user", "5.1.1"},
		{"550 5.1.1", "5.1.1"},
		{"550-5.7.1 first of many", "5.7.1"},
		{"250 2.0.0", "2.0.0"},
		{"250 2.1.5 Ok", "2.1.5"},
		{"452 4.5.3 too many recipients", "4.5.3"},
		{"550 5.1.10 x", "5.1.10"},
		{"554 5.123.456 x", "5.123.456"},
		{"421 foo", "4.0.0"},
		{"421", "4.0.0"},
		{"550", "5.0.0"},
		{"250", "2.0.0"},
		{"", "5.0.0"},
		{"connect: Connection refused", "5.0.0"},
		/* the class must match the reply's */
		{"550 4.1.1 x", "5.0.0"},
		{"450 5.1.1 x", "4.0.0"},
		{"250 5.0.0 x", "2.0.0"},
		/* RFC 3463: class "." 1*3digit "." 1*3digit, nothing else */
		{"550 5.1", "5.0.0"},
		{"550 5.1.", "5.0.0"},
		{"550 5..1 x", "5.0.0"},
		{"550 5...5 x", "5.0.0"},
		{"550 5.1.1.1 x", "5.0.0"},
		{"550 5.1234.1 x", "5.0.0"},
		{"550 5.1.1234 x", "5.0.0"},
		{"550 5.1.111110 Ok", "5.0.0"},
		{"550 5.1.1x", "5.0.0"},
		{"550 5.1.1/x", "5.0.0"},
		{"550 55.1.1 x", "5.0.0"},
		/* there is no status class 3 (or 1, 6...): the default is 5 */
		{"354 3.0.0 go ahead", "5.0.0"},
		{"654 6.1.1 x", "5.0.0"},
		{"550x5.1.1 x", "5.0.0"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[16];

		memset(out, 'x', sizeof(out));
		dsn_status_from_reply(rows[i].reply, out);
		if (memchr(out, '\0', sizeof(out)) == NULL || strcmp(out, rows[i].status) != 0)
			fail_msg("row %zu (%s): got \"%.16s\", want \"%s\"", i, rows[i].reply, out,
				 rows[i].status);
	}
}

static void
test_header_end(void **state)
{
	static const struct {
		const char *content;
		size_t end;
	} rows[] = {
		{"A: b\r\nC: d\r\n\r\nbody\r\n", 14},
		{"\r\nbody\r\n", 2},
		{"A: b\r\n \r\n\r\nbody\r\n", 11}, /* a space line is not the blank line */
		{"A: b\r\n\tfolded\r\n\r\n", 17},
		{"A: b\r\nC: d\r\n", 12},		  /* no body */
		{"A: b\r\nno newline at the end", 27}, /* cut short */
		{"", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t got = dsn_header_end(rows[i].content, strlen(rows[i].content));

		if (got != rows[i].end)
			fail_msg("row %zu: got %zu, want %zu", i, got, rows[i].end);
	}
}

/* is_wire_form - CRLF only, and no line that would end DATA. */
static void
assert_wire_form(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			fail_msg("bare LF at %zu", i);
		if (b->data[i] == '\r' && (i + 1 >= b->len || b->data[i + 1] != '\n'))
			fail_msg("bare CR at %zu", i);
	}
	assert_null(strstr(b->data, "\r\n.\r\n"));
	assert_memory_equal(b->data + b->len - 2, "\r\n", 2);
}

static const char original[] = "From: <sender@example.test>\r\nSubject: hi\r\n\r\n"
			       "secret body line\r\n..stuffed\r\n";

static int utf8_report; /* set for the RFC 6533 test */

static void
compose(struct buf *out, const struct dsn_rcpt *rc, size_t n, int headers_only,
	const char *content)
{
	struct dsn_info d;

	memset(&d, 0, sizeof(d));
	d.utf8 = utf8_report;
	d.reporting_mta = "mx.example.test";
	d.from_domain = "example.test";
	d.to = "sender@example.test";
	d.queue_id = "0123456789abcdef";
	d.envid = "QQ+2Bx";
	d.arrival = 1700000000;
	d.now = 1700003600;
	d.rcpts = rc;
	d.nrcpts = n;
	d.headers_only = headers_only;
	d.content = content;
	d.content_len = content ? strlen(content) : 0;
	buf_init(out);
	dsn_compose(&d, out);
}

static void
test_compose_failed(void **state)
{
	const struct dsn_rcpt rc[] = {
		{"a@example.org", "rfc822;a+40example.org", DSN_FAILED, "5.1.1",
		 "550 5.1.1 no such user", "mx.example.org"},
		{"b@example.org", NULL, DSN_DELAYED, "4.4.1", NULL, NULL},
	};
	static const char *const want[] = {
		"Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n",
		"From: Mail Delivery System <MAILER-DAEMON@example.test>\r\n",
		"To: <sender@example.test>\r\n",
		"Subject: Undelivered Mail Returned to Sender\r\n",
		"Message-ID: <0123456789abcdef.1700003600.dsn@example.test>\r\n",
		"Auto-Submitted: auto-replied\r\n",
		"Content-Type: multipart/report; report-type=delivery-status;\r\n",
		"This is the mail system at host mx.example.test.\r\n",
		"<a@example.org>: failed\r\n    550 5.1.1 no such user\r\n",
		"<b@example.org>: delayed\r\n",
		"Reporting-MTA: dns; mx.example.test\r\n",
		"Original-Envelope-Id: QQ+2Bx\r\n",
		"X-Postern-Queue-ID: 0123456789abcdef\r\n",
		"Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
		"\r\nOriginal-Recipient: rfc822;a+40example.org\r\n"
		"Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
		"Remote-MTA: dns; mx.example.org\r\n"
		"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
		"Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n",
		"\r\nFinal-Recipient: rfc822; b@example.org\r\nAction: delayed\r\n"
		"Status: 4.4.1\r\n",
		"Content-Type: message/rfc822\r\n\r\nFrom: <sender@example.test>\r\n",
		"secret body line\r\n..stuffed\r\n",
	};
	struct buf out;
	const char *b, *q;
	char boundary[128], close[160];
	size_t i;

	(void)state;
	compose(&out, rc, 2, 0, original);
	assert_wire_form(&out);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(out.data, want[i]) == NULL)
			fail_msg("missing \"%s\" in:\n%s", want[i], out.data);
	/* the boundary opens three parts and closes the message */
	b = strstr(out.data, "boundary=\"");
	assert_non_null(b);
	b += 10;
	q = strchr(b, '"');
	assert_non_null(q);
	snprintf(boundary, sizeof(boundary), "\r\n--%.*s\r\n", (int)(q - b), b);
	snprintf(close, sizeof(close), "\r\n--%.*s--\r\n", (int)(q - b), b);
	assert_non_null(strstr(out.data, boundary));
	assert_string_equal(out.data + out.len - strlen(close), close);
	buf_free(&out);
}

static void
test_compose_headers_only(void **state)
{
	const struct dsn_rcpt rc[] = {
		{"a@example.org", NULL, DSN_FAILED, "5.0.0", NULL, NULL},
	};
	struct buf out;

	(void)state;
	compose(&out, rc, 1, 1, original);
	assert_wire_form(&out);
	assert_non_null(strstr(out.data, "Content-Type: text/rfc822-headers\r\n\r\n"
					 "From: <sender@example.test>\r\nSubject: hi\r\n\r\n"));
	assert_null(strstr(out.data, "secret body line"));
	buf_free(&out);
	/* content without a final CRLF still ends its line before the boundary */
	compose(&out, rc, 1, 0, "Subject: x\r\n\r\nno newline");
	assert_wire_form(&out);
	assert_non_null(strstr(out.data, "no newline\r\n\r\n--"));
	buf_free(&out);
	/* no content at all: two parts */
	compose(&out, rc, 1, 0, NULL);
	assert_wire_form(&out);
	assert_null(strstr(out.data, "message/rfc822"));
	buf_free(&out);
}

static void
test_compose_subjects(void **state)
{
	static const struct {
		enum dsn_action a;
		const char *subject, *action;
	} rows[] = {
		{DSN_FAILED, "Subject: Undelivered Mail Returned to Sender\r\n", "Action: failed"},
		{DSN_DELAYED, "Subject: Delayed Mail (still being retried)\r\n", "Action: delayed"},
		{DSN_DELIVERED, "Subject: Successful Mail Delivery Report\r\n",
		 "Action: delivered"},
		{DSN_RELAYED, "Subject: Successful Mail Delivery Report\r\n", "Action: relayed"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dsn_rcpt rc = {"a@example.org", NULL, rows[i].a, "2.0.0", NULL, NULL};
		struct buf out;

		compose(&out, &rc, 1, 0, original);
		assert_wire_form(&out);
		if (strstr(out.data, rows[i].subject) == NULL ||
		    strstr(out.data, rows[i].action) == NULL)
			fail_msg("row %zu:\n%s", i, out.data);
		/* only failures and delays carry a last attempt */
		assert_int_equal(strstr(out.data, "Last-Attempt-Date:") != NULL,
				 rows[i].a == DSN_FAILED || rows[i].a == DSN_DELAYED);
		buf_free(&out);
	}
}

/* A message that contains the boundary we would pick gets another one. */
static void
test_boundary_not_in_content(void **state)
{
	const struct dsn_rcpt rc = {"a@example.org", NULL, DSN_FAILED, "5.0.0", NULL, NULL};
	char content[512], boundary[128];
	struct buf out;
	const char *b, *q;

	(void)state;
	compose(&out, &rc, 1, 0, original);
	b = strstr(out.data, "boundary=\"") + 10;
	q = strchr(b, '"');
	snprintf(boundary, sizeof(boundary), "%.*s", (int)(q - b), b);
	buf_free(&out);
	snprintf(content, sizeof(content), "Subject: x\r\n\r\n--%s\r\nforged part\r\n", boundary);
	compose(&out, &rc, 1, 0, content);
	b = strstr(out.data, "boundary=\"") + 10;
	q = strchr(b, '"');
	assert_false((size_t)(q - b) == strlen(boundary) && memcmp(b, boundary, (size_t)(q - b)) == 0);
	assert_non_null(strstr(out.data, "forged part"));
	buf_free(&out);
}

/* RFC 6533: a message that needed SMTPUTF8 gets a global report. */
static void
test_compose_global(void **state)
{
	const struct dsn_rcpt rc[] = {
		{"j\xc3\xb6rg@example.org", NULL, DSN_FAILED, "5.1.1", "550 5.1.1 unknown", NULL},
		{"plain@example.org", NULL, DSN_FAILED, "5.1.1", NULL, NULL},
	};
	static const char *const want[] = {
		"report-type=global-delivery-status;\r\n",
		"Content-Type: text/plain; charset=utf-8\r\n",
		"Content-Type: message/global-delivery-status\r\n",
		"Final-Recipient: utf-8; j\xc3\xb6rg@example.org\r\n",
		"Final-Recipient: rfc822; plain@example.org\r\n",
		"Content-Type: message/global\r\n",
	};
	struct buf out;
	size_t i;

	(void)state;
	utf8_report = 1;
	compose(&out, rc, 2, 0, original);
	utf8_report = 0;
	assert_wire_form(&out);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(out.data, want[i]) == NULL)
			fail_msg("missing \"%s\" in:\n%s", want[i], out.data);
	assert_null(strstr(out.data, "us-ascii"));
	buf_free(&out);
	utf8_report = 1;
	compose(&out, rc, 1, 1, original);
	utf8_report = 0;
	assert_non_null(strstr(out.data, "Content-Type: message/global-headers\r\n"));
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_from_reply),
		cmocka_unit_test(test_header_end),
		cmocka_unit_test(test_compose_failed),
		cmocka_unit_test(test_compose_headers_only),
		cmocka_unit_test(test_compose_subjects),
		cmocka_unit_test(test_boundary_not_in_content),
		cmocka_unit_test(test_compose_global),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
