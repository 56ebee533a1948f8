/* SPDX-License-Identifier: ISC */
/*
 * test_header - the header fields postern writes (src/mail/header.c): the
 * RFC 5322 date, header_sanitize on client-supplied values, and the
 * Received field, which no client value may break out of.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/header.h"

static void
test_date(void **state)
{
	static const struct {
		time_t t;
		const char *s;
	} rows[] = {
		{0, "Thu, 01 Jan 1970 00:00:00 +0000"},
		{1700000000, "Tue, 14 Nov 2023 22:13:20 +0000"},
		{951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
		{4102444799, "Thu, 31 Dec 2099 23:59:59 +0000"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[64];

		header_date(rows[i].t, out, sizeof(out));
		assert_string_equal(out, rows[i].s);
	}
}

static void
test_sanitize(void **state)
{
	static const struct {
		const char *in;
		size_t outsz;
		const char *out;
	} rows[] = {
		{"client.example", 64, "client.example"},
		{"[192.0.2.1]", 64, "[192.0.2.1]"},
		{"evil\r\nBcc: victim@example.test", 64, "evil??Bcc:?victim@example.test"},
		{"a\nb\rc", 64, "a?b?c"},
		{"x(comment)y\\z;w", 64, "x?comment?y?z?w"},
		{"tab\there", 64, "tab?here"},
		{"del\x7f", 64, "del?"},
		{"\xc3\xa9xample", 64, "\xc3\xa9xample"}, /* UTF-8 passes (SMTPUTF8) */
		{"truncated", 5, "trun"},
		{"", 64, ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[64];

		memset(out, 'X', sizeof(out));
		header_sanitize(rows[i].in, out, rows[i].outsz);
		if (strcmp(out, rows[i].out) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, out, rows[i].out);
	}
	{
		char out[4] = "abc";

		header_sanitize("x", out, 0);
		assert_string_equal(out, "abc"); /* no room: nothing written */
	}
}

/* Every byte value, alone and among others: never a CR, LF or other
 * control byte, never a header comment delimiter. */
static void
test_sanitize_every_byte(void **state)
{
	int c;

	(void)state;
	for (c = 1; c < 256; c++) {
		char in[8] = {'a', (char)c, 'b', (char)c, '\0'}, out[8];
		size_t i;

		header_sanitize(in, out, sizeof(out));
		assert_int_equal(strlen(out), 4);
		for (i = 0; out[i]; i++) {
			unsigned char o = (unsigned char)out[i];

			if (o <= 0x20 || o == 0x7f || o == '(' || o == ')' || o == '\\' || o == ';')
				fail_msg("byte 0x%02x came out as 0x%02x", c, o);
		}
	}
}

static void
test_received(void **state)
{
	struct received_info ri = {
		"client.example", "192.0.2.1", "mx.example.test", "ESMTPS", "0123456789abcdef",
		"user@example.test", "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384", 1700000000,
	};
	struct buf out = BUF_INIT;

	(void)state;
	header_received(&ri, &out);
	assert_string_equal(buf_cstr(&out),
			    "Received: from client.example ([192.0.2.1])\r\n"
			    "\tby mx.example.test (postern) with ESMTPS\r\n"
			    "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n"
			    "\tid 0123456789abcdef\r\n"
			    "\tfor <user@example.test>;\r\n"
			    "\tTue, 14 Nov 2023 22:13:20 +0000\r\n");
	buf_free(&out);
	ri.helo = NULL;
	ri.rcpt = NULL;
	ri.tls = NULL;
	ri.proto = "SMTP";
	header_received(&ri, &out);
	assert_string_equal(buf_cstr(&out), "Received: from unknown ([192.0.2.1])\r\n"
					    "\tby mx.example.test (postern) with SMTP\r\n"
					    "\tid 0123456789abcdef;\r\n"
					    "\tTue, 14 Nov 2023 22:13:20 +0000\r\n");
	buf_free(&out);
	/* RFC 5321 4.1.3: an IPv6 client is an "IPv6:" address literal */
	ri.client_ip = "2001:db8::1";
	header_received(&ri, &out);
	assert_memory_equal(buf_cstr(&out), "Received: from unknown ([IPv6:2001:db8::1])\r\n", 45);
	buf_free(&out);
}

/* A HELO name or recipient cannot add a header line or close the comment. */
static void
test_received_injection(void **state)
{
	struct received_info ri = {
		"evil\r\nX-Injected: yes", "192.0.2.1", "mx.example.test", "ESMTP",
		"0123456789abcdef", "a@b\r\nBcc: c@d>) (", NULL, 1700000000,
	};
	struct buf out = BUF_INIT;
	const char *p;

	(void)state;
	header_received(&ri, &out);
	assert_null(strstr(out.data, "\r\nX-Injected"));
	assert_null(strstr(out.data, "\r\nBcc"));
	assert_non_null(strstr(out.data, "from evil??X-Injected:?yes ([192.0.2.1])\r\n"));
	assert_non_null(strstr(out.data, "\tfor <a@b??Bcc:?c@d>?\?\?>;\r\n"));
	/* every line after the first is a continuation */
	for (p = strstr(out.data, "\r\n"); p != NULL && p[2] != '\0'; p = strstr(p + 2, "\r\n"))
		assert_int_equal(p[2], '\t');
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_sanitize_every_byte),
		cmocka_unit_test(test_received),
		cmocka_unit_test(test_received_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
