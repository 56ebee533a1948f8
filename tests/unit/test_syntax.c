/* SPDX-License-Identifier: ISC */
/*
 * test_syntax - SMTP command lines, paths, ESMTP parameters, xtext.
 * Table-driven: each row is input and the expected outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/syntax.h"

static void
test_verbs(void **state)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
		const char *args;
	} rows[] = {
		{"EHLO client.example", VERB_EHLO, "client.example"},
		{"ehlo   spaced  ", VERB_EHLO, "spaced"},
		{"MAIL FROM:<a@b.c>", VERB_MAIL, "FROM:<a@b.c>"},
		{"rcpt TO:<x@y.z>", VERB_RCPT, "TO:<x@y.z>"},
		{"DATA", VERB_DATA, ""},
		{"BDAT 10 LAST", VERB_BDAT, "10 LAST"},
		{"QUIT", VERB_QUIT, ""},
		{"STARTTLS", VERB_STARTTLS, ""},
		{"GET / HTTP/1.1", VERB_UNKNOWN, "/ HTTP/1.1"},
		{"MAILX FROM:<a@b>", VERB_UNKNOWN, "FROM:<a@b>"},
		{"", VERB_UNKNOWN, ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct smtp_cmd c;

		smtp_cmd_parse(rows[i].line, strlen(rows[i].line), &c);
		assert_int_equal(c.verb, rows[i].verb);
		assert_int_equal(c.argslen, strlen(rows[i].args));
		assert_memory_equal(c.args, rows[i].args, c.argslen);
	}
}

static void
test_paths(void **state)
{
	static const struct {
		const char *path;
		int ok;
		const char *addr, *domain;
		bool utf8;
	} rows[] = {
		{"<user@example.test>", 0, "user@example.test", "example.test", false},
		{"<User.Name+tag@Example.TEST>", 0, "User.Name+tag@Example.TEST", "example.test", false},
		{"<\"quoted local\"@example.test>", 0, "\"quoted local\"@example.test", "example.test",
		 false},
		{"<\"a\\\"b\"@example.test>", 0, "\"a\\\"b\"@example.test", "example.test", false},
		{"<@relay1.example,@relay2.example:user@example.test>", 0, "user@example.test",
		 "example.test", false},
		{"<user@[127.0.0.1]>", 0, "user@[127.0.0.1]", "[127.0.0.1]", false},
		{"<user@[IPv6:::1]>", 0, "user@[IPv6:::1]", "[ipv6:::1]", false},
		{"<Postmaster>", 0, "Postmaster", "", false},
		{"<j\xc3\xb6rg@\xc3\xa9xample.test>", 0, "j\xc3\xb6rg@\xc3\xa9xample.test",
		 "\xc3\xa9xample.test", true},
		{"<>", -1, NULL, NULL, false}, /* null only where allowed (RCPT: no) */
		{"<user>", -1, NULL, NULL, false},
		{"<user@>", -1, NULL, NULL, false},
		{"<@example.test>", -1, NULL, NULL, false},
		{"<user@exa mple.test>", -1, NULL, NULL, false},
		{"<us er@example.test>", -1, NULL, NULL, false},
		{"<.user@example.test>", -1, NULL, NULL, false},
		{"<user.@example.test>", -1, NULL, NULL, false},
		{"<us..er@example.test>", -1, NULL, NULL, false},
		{"<user@-example.test>", -1, NULL, NULL, false},
		{"<user@example..test>", -1, NULL, NULL, false},
		{"<user@[300.1.1.1]>", -1, NULL, NULL, false},
		{"user@example.test", -1, NULL, NULL, false},
		{"<user@example.test", -1, NULL, NULL, false},
		{"<\xff@example.test>", -1, NULL, NULL, false},
		{"<\xc0\xaf@example.test>", -1, NULL, NULL, false}, /* overlong UTF-8 */
		{"<a\"b@example.test>", -1, NULL, NULL, false},
		/* open relay tricks: the domain must be what routing sees */
		{"<user%other.example@example.test>", 0, "user%other.example@example.test",
		 "example.test", false},
		{"<other.example!user@example.test>", 0, "other.example!user@example.test",
		 "example.test", false},
		{"<user@other.example@example.test>", -1, NULL, NULL, false},
		/* a second '@' inside a literal: the queue takes the domain from
		 * the last '@' (found by fuzz_address) */
		{"<user@[x-tag:a@example.test]>", -1, NULL, NULL, false},
		{"<user@[x-tag:abc]>", 0, "user@[x-tag:abc]", "[x-tag:abc]", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct smtp_path p;
		int rc = smtp_parse_path(rows[i].path, strlen(rows[i].path), false, &p);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].path, rc);
		if (rc == 0) {
			assert_string_equal(p.addr, rows[i].addr);
			assert_string_equal(p.domain, rows[i].domain);
			assert_int_equal(p.utf8, rows[i].utf8);
		}
	}
	{
		struct smtp_path p;
		char long_local[80], buf[400];

		memset(long_local, 'a', 65);
		long_local[65] = '\0';
		snprintf(buf, sizeof(buf), "<%s@example.test>", long_local);
		assert_int_equal(smtp_parse_path(buf, strlen(buf), false, &p), -1);
		long_local[64] = '\0';
		snprintf(buf, sizeof(buf), "<%s@example.test>", long_local);
		assert_int_equal(smtp_parse_path(buf, strlen(buf), false, &p), 0);
		assert_int_equal(smtp_parse_path("<>", 2, true, &p), 0);
		assert_true(p.null);
	}
}

static void
test_mail_params(void **state)
{
	static const struct {
		const char *args;
		int ok;
		const char *reply_prefix;
	} rows[] = {
		{"FROM:<a@b.example>", 0, NULL},
		{"FROM: <a@b.example>", 0, NULL},
		{"FROM:<>", 0, NULL},
		{"FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2Bx", 0,
		 NULL},
		{"from:<a@b.example> size=5 body=7bit", 0, NULL},
		{"FROM:<a@b.example> SIZE=", -1, "501"},
		{"FROM:<a@b.example> SIZE=12x", -1, "501"},
		{"FROM:<a@b.example> SIZE=1 SIZE=2", -1, "501"},
		{"FROM:<a@b.example> BODY=BINARYMIME", -1, "501"},
		{"FROM:<a@b.example> SMTPUTF8=yes", -1, "501"},
		{"FROM:<a@b.example> RET=ALL", -1, "501"},
		{"FROM:<a@b.example> ENVID=a=b", -1, "501"},
		{"FROM:<a@b.example> XFOO=1", -1, "555"},
		{"FROM:<a@b.example> AUTH=<>", 0, NULL},
		{"FROM:<a@b.example> AUTH=alice+40example.test", 0, NULL},
		{"FROM:<a@b.example> AUTH=<> AUTH=<>", -1, "501"},
		{"FROM:<a@b.example> AUTH=a=b", -1, "501"},
		{"FROM:<a@b.example>SIZE=1", -1, "501"},
		{"FROM:a@b.example", -1, "501 5.5.4"},
		{"TO:<a@b.example>", -1, "501 5.5.4"},
		{"FROM:<Postmaster>", -1, "501 5.1.7"},
		{"FROM:<bad address@b.example>", -1, "501 5.1.7"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char reply[SMTP_REPLY_MAX] = "";
		struct smtp_path p;
		struct mail_params mp;
		int rc = smtp_parse_mail(rows[i].args, strlen(rows[i].args), &p, &mp, reply);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d (%s)", i, rows[i].args, rc, reply);
		if (rc == -1)
			assert_memory_equal(reply, rows[i].reply_prefix,
					    strlen(rows[i].reply_prefix));
	}
	{
		const char a[] = "FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS "
				 "ENVID=QQ+2Bx";
		char reply[SMTP_REPLY_MAX];
		struct smtp_path p;
		struct mail_params mp;

		assert_int_equal(smtp_parse_mail(a, strlen(a), &p, &mp, reply), 0);
		assert_true(mp.has_size);
		assert_int_equal(mp.size, 1000);
		assert_int_equal(mp.body, BODY_8BITMIME);
		assert_true(mp.smtputf8);
		assert_int_equal(mp.ret, RET_HDRS);
		assert_string_equal(mp.envid, "QQ+2Bx");
	}
}

static void
test_rcpt_params(void **state)
{
	static const struct {
		const char *args;
		int ok;
		unsigned notify;
		const char *orcpt;
	} rows[] = {
		{"TO:<a@b.example>", 0, 0, ""},
		{"TO:<a@b.example> NOTIFY=NEVER", 0, NOTIFY_NEVER, ""},
		{"TO:<a@b.example> NOTIFY=SUCCESS,FAILURE,DELAY", 0,
		 NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY, ""},
		{"TO:<a@b.example> ORCPT=rfc822;a+40b.example", 0, 0, "rfc822;a+40b.example"},
		{"TO:<a@b.example> NOTIFY=NEVER,SUCCESS", -1, 0, NULL},
		{"TO:<a@b.example> NOTIFY=SUCCESS,", -1, 0, NULL},
		{"TO:<a@b.example> NOTIFY=SOMETIMES", -1, 0, NULL},
		{"TO:<a@b.example> NOTIFY=FAILURE NOTIFY=DELAY", -1, 0, NULL},
		{"TO:<a@b.example> ORCPT=noseparator", -1, 0, NULL},
		{"TO:<a@b.example> ORCPT=rfc822;", -1, 0, NULL},
		{"TO:<>", -1, 0, NULL},
		{"TO:<Postmaster>", 0, 0, ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char reply[SMTP_REPLY_MAX] = "";
		struct smtp_path p;
		struct rcpt_params rp;
		int rc = smtp_parse_rcpt(rows[i].args, strlen(rows[i].args), &p, &rp, reply);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d (%s)", i, rows[i].args, rc, reply);
		if (rc == 0) {
			assert_int_equal(rp.notify, rows[i].notify);
			assert_string_equal(rp.orcpt, rows[i].orcpt);
		}
	}
}

static void
test_bdat_args(void **state)
{
	char reply[SMTP_REPLY_MAX];
	uint64_t n;
	bool last;

	(void)state;
	assert_int_equal(smtp_parse_bdat("10", 2, &n, &last, reply), 0);
	assert_int_equal(n, 10);
	assert_false(last);
	assert_int_equal(smtp_parse_bdat("0 LAST", 6, &n, &last, reply), 0);
	assert_true(last);
	assert_int_equal(smtp_parse_bdat("", 0, &n, &last, reply), -1);
	assert_int_equal(smtp_parse_bdat("-1", 2, &n, &last, reply), -1);
	assert_int_equal(smtp_parse_bdat("99999999999999999999999", 23, &n, &last, reply), -1);
	assert_int_equal(smtp_parse_bdat("5 FIRST", 7, &n, &last, reply), -1);
}

static void
test_xtext(void **state)
{
	char out[64];

	(void)state;
	assert_true(valid_xtext("abc+2Bdef", 9));
	assert_false(valid_xtext("abc+2", 5));
	assert_false(valid_xtext("a=b", 3));
	assert_false(valid_xtext("a b", 3));
	assert_int_equal(xtext_encode("a+b=c d", out, sizeof(out)), 0);
	assert_string_equal(out, "a+2Bb+3Dc+20d");
	assert_int_equal(xtext_decode(out, out, sizeof(out)), 0);
	assert_string_equal(out, "a+b=c d");
	assert_int_equal(xtext_decode("+00", out, sizeof(out)), -1);
	assert_int_equal(xtext_decode("+4", out, sizeof(out)), -1);
	assert_int_equal(xtext_encode("aaaa", out, 4), -1);
}

static void
test_helo(void **state)
{
	(void)state;
	assert_int_equal(smtp_parse_helo("client.example", 14), 0);
	assert_int_equal(smtp_parse_helo("[192.0.2.1]", 11), 0);
	assert_int_equal(smtp_parse_helo("", 0), -1);
	assert_int_equal(smtp_parse_helo("two words", 9), -1);
	assert_int_equal(smtp_parse_helo("ctl\x01", 4), -1);
}

/* The validators on raw bytes: UTF-8, domains and address literals. */
static void
test_validators(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} utf8[] = {
#define B(lit, ok) {lit, sizeof(lit) - 1, ok}
		B("plain ascii", true),
		B("caf\xc3\xa9", true),
		B("\xe2\x82\xac", true),	     /* U+20AC */
		B("\xf0\x9f\x98\x80", true),     /* U+1F600 */
		B("\xf4\x8f\xbf\xbf", true),     /* U+10FFFF */
		B("a\0b", true),		     /* NUL is valid UTF-8 */
		B("\xc3", false),		     /* cut short */
		B("\xe2\x82", false),
		B("\xc0\xaf", false),		     /* overlong '/' */
		B("\xe0\x80\xaf", false),	     /* overlong */
		B("\xf0\x80\x80\xaf", false),    /* overlong */
		B("\xed\xa0\x80", false),	     /* surrogate U+D800 */
		B("\xf4\x90\x80\x80", false),    /* past U+10FFFF */
		B("\xf5\x80\x80\x80", false),
		B("\x80", false),		     /* lone continuation */
		B("\xc3\x28", false),
		B("\xff", false),
	}, domains[] = {
		B("example.test", true),
		B("a-b.example", true),
		B("1.2.3.4", true),
		B("example.test.", false),
		B(".example.test", false),
		B("-a.test", false),
		B("a-.test", false),
		B("a_b.test", false),
		B("a b.test", false),
		B("example.test\0evil.example", false),
		B("", false),
	}, literals[] = {
		B("[192.0.2.1]", true),
		B("[IPv6:2001:db8::1]", true),
		B("[ipv6:::1]", true),
		B("[x-tag:abc]", true),
		B("[192.0.2.256]", false),
		B("[192.0.2.1", false),
		B("192.0.2.1]", false),
		B("[]", false),
		B("[IPv6:192.0.2.1]", false),
		B("[:abc]", false),
		B("[x-tag:]", false),
		B("[x-tag:a]b]", false),
		B("[x-tag:a@b]", false),
		/* a NUL must not end the literal early (found by fuzz_address) */
		B("[1.2.3.4\0x]", false),
		B("[IPv6:::1\0x]", false),
		B("[x-tag:a\0\x01]", false),
#undef B
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
		if (valid_utf8(utf8[i].s, utf8[i].len) != utf8[i].ok)
			fail_msg("utf8 row %zu", i);
	for (i = 0; i < sizeof(domains) / sizeof(domains[0]); i++)
		if (valid_domain(domains[i].s, domains[i].len, false) != domains[i].ok)
			fail_msg("domain row %zu (%s)", i, domains[i].s);
	for (i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
		if (valid_address_literal(literals[i].s, literals[i].len) != literals[i].ok)
			fail_msg("literal row %zu (%s)", i, literals[i].s);
	/* UTF-8 labels only when asked for, and only well-formed */
	assert_true(valid_domain("\xc3\xa9xample.test", 13, true));
	assert_false(valid_domain("\xc3\xa9xample.test", 13, false));
	assert_false(valid_domain("\xc3xample.test", 12, true));
}

/* Paths carry bytes, NUL included: what is accepted is all there is. */
static void
test_paths_with_nul(void **state)
{
	static const struct {
		const char *path;
		size_t len;
	} rows[] = {
#define P(lit) {lit, sizeof(lit) - 1}
		P("<u@[1.2.3.4\0x]>"),
		P("<u@[IPv6:::1\0evil.example]>"),
		P("<@[1.2.3.4\0x]:u@example.test>"),
		P("<u@example.test\0>"),
		P("<u\0v@example.test>"),
		P("<\"u\0v\"@example.test>"),
		P("<\0>"),
#undef P
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct smtp_path p;

		if (smtp_parse_path(rows[i].path, rows[i].len, true, &p) != -1)
			fail_msg("row %zu accepted as \"%s\" domain \"%s\"", i, p.addr, p.domain);
	}
}

static void
test_is_http(void **state)
{
	static const struct {
		const char *line;
		bool http;
	} rows[] = {
		{"GET / HTTP/1.1", true},
		{"post /login HTTP/1.0", true},
		{"CONNECT mail.example:25 HTTP/1.1", true},
		{"Host: mx.example", true},
		{"User-Agent: curl/8", true},
		{"GET", false}, /* no space: an unknown SMTP verb */
		{"GETX / HTTP/1.1", false},
		{"MAIL FROM:<a@b>", false},
		{"XFORWARD ADDR=1.2.3.4", false},
		{":colon", false},
		{"1x: y", false},
		{"", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (smtp_is_http(rows[i].line, strlen(rows[i].line)) != rows[i].http)
			fail_msg("row %zu: \"%s\"", i, rows[i].line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_http),
		cmocka_unit_test(test_verbs),	     cmocka_unit_test(test_paths),
		cmocka_unit_test(test_mail_params), cmocka_unit_test(test_rcpt_params),
		cmocka_unit_test(test_bdat_args),   cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_helo),	    cmocka_unit_test(test_validators),
		cmocka_unit_test(test_paths_with_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
