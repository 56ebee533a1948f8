/* SPDX-License-Identifier: ISC */
/*
 * test_template - user notice templates (src/mail/template.c): what parses
 * and what is refused (with its line), and the filled-in text, with
 * hostile values that try header injection, template injection, control
 * characters, bidi overrides, invalid UTF-8 and sheer length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util.h"
#include "mail/template.h"

static const char *const names[] = {"account", "ip", "until", "x-1", NULL};

struct bad_row {
	const char *text;
	int line;	  /* of the fault */
	const char *said; /* part of the message */
};

static void
test_refused(void **state)
{
	static const struct bad_row rows[] = {
		{"", 1, "expected 'Subject: ...'"},
		{"Hello\n\nbody\n", 1, "expected 'Subject: ...'"},
		{"# only a comment\n", 1, "expected 'Subject: ...'"},
		{"# c\n# d\nSubjekt: x\n\nbody\n", 3, "expected 'Subject"},
		{"Subject:   \n\nbody\n", 1, "the subject is empty"},
		{"Subject: s\nbody\n", 2, "a blank line must follow"},
		{"Subject: s\n", 2, "a blank line must follow"},
		{"Subject: s\n\n \t\n\n", 3, "the body is empty"},
		{"Subject: s\n\nhi {acount}\n", 3, "unknown placeholder {acount}"},
		{"Subject: s\n\nhi\nthere {Account}\n", 4, "a '{' that starts no placeholder"},
		{"Subject: s {nope}\n\nhi\n", 1, "unknown placeholder {nope}"},
		{"Subject: s\n\n{ account }\n", 3, "starts no placeholder"},
		{"Subject: s\n\nbrace { alone\n", 3, "starts no placeholder"},
		{"Subject: s\n\nunclosed {account\n", 3, "starts no placeholder"},
		{"Subject: s\n\n{}\n", 3, "starts no placeholder"},
		{"Subject: s\n\n{aaaaaaaaaaaaaaaaaaaaaaaaa}\n", 3, "starts no placeholder"},
		{"Subject: s\n\nbell \a here\n", 3, "a control character (0x07)"},
		{"Subject: s\n\nnul \0 here\n", 3, "a control character (0x00)"},
		{"Subject: s\n\nlone\rcr\n", 3, "carriage return"},
		{"Subject: s\n\nlatin1 caf\xe9\n", 3, "not UTF-8"},
		{"Subject: s\n\noverlong \xc0\xaf\n", 3, "not UTF-8"},
		{"Subject: s\n\nsurrogate \xed\xa0\x80\n", 3, "not UTF-8"},
	};
	char err[512];
	struct template t;
	size_t i;
	int line;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		/* the NUL row is one byte longer than strlen says */
		size_t len = strlen(rows[i].text);

		if (strstr(rows[i].said, "0x00") != NULL)
			len = sizeof("Subject: s\n\nnul \0 here\n") - 1;
		err[0] = '\0';
		line = -1;
		if (template_parse(rows[i].text, len, names, &t, &line, err, sizeof(err)) != -1)
			fail_msg("row %zu accepted", i);
		if (line != rows[i].line || strstr(err, rows[i].said) == NULL)
			fail_msg("row %zu: line %d \"%s\"", i, line, err);
		assert_null(t.subject);
		assert_null(t.body);
	}
}

static void
test_limits(void **state)
{
	struct buf b = BUF_INIT;
	char err[256];
	struct template t;
	int line, i;

	(void)state;
	buf_adds(&b, "Subject: s\n\n");
	for (i = 0; i < TEMPLATE_USES_MAX; i++)
		buf_adds(&b, "{ip}");
	buf_adds(&b, "\n");
	assert_int_equal(template_parse(b.data, b.len, names, &t, &line, err, sizeof(err)), 0);
	template_free(&t);
	buf_adds(&b, "{ip}\n");
	assert_int_equal(template_parse(b.data, b.len, names, &t, &line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 32 placeholders"));
	assert_int_equal(line, 4);
	buf_reset(&b);
	buf_adds(&b, "Subject: ");
	for (i = 0; i < TEMPLATE_SUBJECT_MAX + 1; i++)
		buf_addc(&b, 's');
	buf_adds(&b, "\n\nbody\n");
	assert_int_equal(template_parse(b.data, b.len, names, &t, &line, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "subject is longer"));
	buf_reset(&b);
	buf_adds(&b, "Subject: s\n\n");
	while (b.len <= TEMPLATE_FILE_MAX)
		buf_adds(&b, "long long text\n");
	assert_int_equal(template_parse(b.data, b.len, names, &t, &line, err, sizeof(err)), -1);
	assert_int_equal(line, 0);
	assert_non_null(strstr(err, "longer than 8192 bytes"));
	buf_free(&b);
}

struct render_row {
	const char *text;
	const char *account; /* the value of {account}; the others are fixed */
	const char *subject; /* expected */
	const char *body;
};

static void
test_render(void **state)
{
	static const struct render_row rows[] = {
		/* comments, CRLF, trimming, {{ and a lone } */
		{"# what it says\r\n#\r\nSubject:\t Locked: {account} \r\n\r\nHi {account},\r\n"
		 "{{account} is literal, so is }.\r\n",
		 "ann@example.test", "Locked: ann@example.test",
		 "Hi ann@example.test,\n{account} is literal, so is }.\n"},
		/* header injection: line breaks become '?' */
		{"Subject: for {account}\n\n{account}\n", "a@b\r\nBcc: x@y", "for a@b??Bcc: x@y",
		 "a@b??Bcc: x@y\n"},
		/* template injection: a value is never scanned again */
		{"Subject: s\n\n[{account}]\n", "{ip}{{until}", "s", "[{ip}{{until}]\n"},
		/* controls, DEL, C1, bidi override and isolate, line separator */
		{"Subject: s\n\n{account}\n", "a\tb\x7f" "c\xc2\x85" "d\xe2\x80\xae" "e\xe2\x81\xa6" "f\xe2\x80\xa8", "s",
		 "a?b?c?d?e?f?\n"},
		/* invalid UTF-8 byte by byte; valid UTF-8 kept */
		{"Subject: s\n\n{account}\n", "\xff\xfe caf\xc3\xa9 \xe2\x82", "s",
		 "?? caf\xc3\xa9 ??\n"},
		/* a name not given renders empty; a value given twice: the first */
		{"Subject: {x-1}!\n\n<{x-1}> {ip}\n", "z", "!", "<> 192.0.2.7\n"},
		/* placeholders next to each other and at the edges */
		{"Subject: {account}{account}\n\n{account}\n", "ab", "abab", "ab\n"},
	};
	const struct template_var more[] = {{"ip", "192.0.2.7"}, {"ip", "198.51.100.1"},
					    {"until", "never"}};
	struct template_var vars[4];
	struct buf s = BUF_INIT, b = BUF_INIT;
	char err[256];
	struct template t;
	size_t i;
	int line;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (template_parse(rows[i].text, strlen(rows[i].text), names, &t, &line, err,
				   sizeof(err)) != 0)
			fail_msg("row %zu: line %d: %s", i, line, err);
		vars[0] = (struct template_var){"account", rows[i].account};
		memcpy(vars + 1, more, sizeof(more));
		buf_reset(&s);
		buf_reset(&b);
		template_render(&t, vars, 4, &s, &b);
		if (strcmp(buf_cstr(&s), rows[i].subject) != 0 || strcmp(buf_cstr(&b), rows[i].body) != 0)
			fail_msg("row %zu: subject \"%s\" body \"%s\"", i, buf_cstr(&s), buf_cstr(&b));
		template_free(&t);
	}
	buf_free(&s);
	buf_free(&b);
}

static void
test_long_values(void **state)
{
	const char *text = "Subject: {account} {account} {account} {account}\n\n{account}\n";
	char big[2000], err[256];
	struct template_var v = {"account", big};
	struct buf s = BUF_INIT, b = BUF_INIT, one = BUF_INIT;
	struct template t;
	int line;

	(void)state;
	/* 2-byte characters: the cut falls on a character boundary */
	memset(big, 0, sizeof(big));
	for (size_t i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	template_value(big, &one);
	assert_true(one.len <= TEMPLATE_VALUE_MAX);
	assert_true(valid_utf8(one.data, one.len));
	assert_string_equal(one.data + one.len - 3, "...");
	assert_int_equal(template_parse(text, strlen(text), names, &t, &line, err, sizeof(err)), 0);
	template_render(&t, &v, 1, &s, &b);
	assert_true(s.len <= TEMPLATE_SUBJECT_OUT_MAX);
	assert_true(valid_utf8(s.data, s.len));
	assert_int_equal(b.len, one.len + 1);
	/* exactly the limit is not cut */
	buf_reset(&one);
	memset(big, 'a', TEMPLATE_VALUE_MAX);
	big[TEMPLATE_VALUE_MAX] = '\0';
	template_value(big, &one);
	assert_int_equal(one.len, TEMPLATE_VALUE_MAX);
	assert_null(strstr(one.data, "..."));
	template_free(&t);
	buf_free(&s);
	buf_free(&b);
	buf_free(&one);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_long_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
