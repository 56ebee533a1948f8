/* SPDX-License-Identifier: ISC */
/*
 * test_passwdfile - Dovecot passwd-file lines: the user and password
 * fields out of good lines, comments and blank lines skipped, and every
 * malformed line refused with nothing left in the entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/passwdfile.h"
#include "lib/util.h"

#define H512 "{SHA512-CRYPT}$6$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3Rr"

/* a line holding NUL bytes: its length is the literal's */
#define WITH_LEN(s) s, sizeof(s) - 1

/* is_zero - the entry holds nothing (after an error or a skipped line). */
static bool
is_zero(const struct passwd_entry *e)
{
	const unsigned char *p = (const unsigned char *)e;
	size_t i;

	for (i = 0; i < sizeof(*e); i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
test_lines(void **state)
{
	static const struct {
		const char *line;
		size_t len; /* 0: strlen */
		int rc;
		const char *user, *hash;
	} rows[] = {
		/* Dovecot's full form, and what postern writes */
		{"alice@example.test:" H512 ":1000:1000:Alice:/home/alice:/bin/sh:userdb_quota=1G", 0,
		 0, "alice@example.test", H512},
		{"alice@example.test:" H512, 0, 0, "alice@example.test", H512},
		{"alice@example.test:{PLAIN}x::", 0, 0, "alice@example.test", "{PLAIN}x"},
		{"bob:{SSHA512}abc=:::::", 0, 0, "bob", "{SSHA512}abc="},
		{"u:h", 0, 0, "u", "h"},
		/* CRLF files, white space around the line */
		{"alice@example.test:{PLAIN}x\r", 0, 0, "alice@example.test", "{PLAIN}x"},
		{"alice@example.test:{PLAIN}x:1000\r", 0, 0, "alice@example.test", "{PLAIN}x"},
		{"  \talice@example.test:{PLAIN}x \t\r", 0, 0, "alice@example.test", "{PLAIN}x"},
		/* UTF-8 user names (RFC 6531) */
		{"j\xc3\xb6rg@example.test:{PLAIN}x", 0, 0, "j\xc3\xb6rg@example.test", "{PLAIN}x"},
		/* skipped */
		{"", 0, 1, NULL, NULL},
		{"\r", 0, 1, NULL, NULL},
		{"   \t ", 0, 1, NULL, NULL},
		{"# alice@example.test:{PLAIN}x", 0, 1, NULL, NULL},
		{"#", 0, 1, NULL, NULL},
		{"  # indented comment", 0, 1, NULL, NULL},
		{WITH_LEN("#\0binary comment"), 1, NULL, NULL},
		/* missing or empty fields */
		{"alice@example.test", 0, -1, NULL, NULL},
		{"alice@example.test:", 0, -1, NULL, NULL},
		{"alice@example.test::1000:1000", 0, -1, NULL, NULL},
		{":{PLAIN}x", 0, -1, NULL, NULL},
		{":", 0, -1, NULL, NULL},
		{"::", 0, -1, NULL, NULL},
		{"  :{PLAIN}x", 0, -1, NULL, NULL},
		/* spaces and control characters inside a field */
		{"alice smith@example.test:{PLAIN}x", 0, -1, NULL, NULL},
		{"alice@example.test:{PLAIN}pass word", 0, -1, NULL, NULL},
		{"alice@example.test: {PLAIN}x", 0, -1, NULL, NULL},
		{"alice@example.test :{PLAIN}x", 0, -1, NULL, NULL},
		{"alice@example.test:{PLAIN}x\r:1000", 0, -1, NULL, NULL},
		{"alice\r@example.test:{PLAIN}x", 0, -1, NULL, NULL},
		{"alice@example.test:{PLAIN}\x1bx", 0, -1, NULL, NULL},
		{"alice@example.test:{PLAIN}x\r\r", 0, 0, "alice@example.test", "{PLAIN}x"},
		/* NUL bytes anywhere in a line that is not a comment */
		{WITH_LEN("alice@example.test:{PLAIN}x\0"), -1, NULL, NULL},
		{WITH_LEN("alice\0@example.test:{PLAIN}x"), -1, NULL, NULL},
		{WITH_LEN("alice@example.test:{PLAIN}\0x"), -1, NULL, NULL},
		{WITH_LEN("alice@example.test:{PLAIN}x:1000:\0"), -1, NULL, NULL},
		{WITH_LEN("\0"), -1, NULL, NULL},
		{WITH_LEN(" \0#"), -1, NULL, NULL},
		/* not UTF-8: a lone continuation byte, an overlong '/' */
		{"j\x80rg@example.test:{PLAIN}x", 0, -1, NULL, NULL},
		{"a\xc0\xaf" "b@example.test:{PLAIN}x", 0, -1, NULL, NULL},
	};
	struct passwd_entry e;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].line);
		int rc;

		memset(&e, 0xa5, sizeof(e));
		rc = passwdfile_line(rows[i].line, len, &e);
		if (rc != rows[i].rc)
			fail_msg("row %zu (%s): got %d", i, rows[i].line, rc);
		if (rc != 0) {
			if (!is_zero(&e))
				fail_msg("row %zu (%s): entry not cleared", i, rows[i].line);
			continue;
		}
		assert_string_equal(e.user, rows[i].user);
		assert_string_equal(e.hash, rows[i].hash);
	}
}

/* Field and line limits: user up to 320 bytes, password up to 256 (a
 * stored hash), the line up to PASSWDFILE_LINE_MAX. */
static void
test_limits(void **state)
{
	char *line = malloc(2 * PASSWDFILE_LINE_MAX);
	struct passwd_entry e;
	size_t ul, hl, n;

	(void)state;
	assert_non_null(line);
	for (ul = sizeof(e.user) - 2; ul <= sizeof(e.user); ul++) {
		for (hl = sizeof(e.hash) - 2; hl <= sizeof(e.hash); hl++) {
			int want = ul < sizeof(e.user) && hl < sizeof(e.hash) ? 0 : -1;

			memset(line, 'u', ul);
			line[ul] = ':';
			memset(line + ul + 1, 'h', hl);
			n = ul + 1 + hl;
			memset(&e, 0xa5, sizeof(e));
			if (passwdfile_line(line, n, &e) != want)
				fail_msg("user %zu, password %zu: want %d", ul, hl, want);
			if (want == 0) {
				assert_int_equal(strlen(e.user), ul);
				assert_int_equal(strlen(e.hash), hl);
			} else {
				assert_true(is_zero(&e));
			}
		}
	}
	/* a line at the limit (long extra fields are ignored), and one over */
	memcpy(line, "u:h:", 4);
	memset(line + 4, 'x', 2 * PASSWDFILE_LINE_MAX - 4);
	assert_int_equal(passwdfile_line(line, PASSWDFILE_LINE_MAX, &e), 0);
	assert_string_equal(e.user, "u");
	assert_string_equal(e.hash, "h");
	assert_int_equal(passwdfile_line(line, PASSWDFILE_LINE_MAX + 1, &e), -1);
	assert_true(is_zero(&e));
	/* trailing CR and spaces do not count */
	line[PASSWDFILE_LINE_MAX] = '\r';
	memset(line + PASSWDFILE_LINE_MAX + 1, ' ', 10);
	assert_int_equal(passwdfile_line(line, PASSWDFILE_LINE_MAX + 11, &e), 0);
	/* only len bytes are read: what follows is not part of the line */
	assert_int_equal(passwdfile_line("u:h\0garbage", 3, &e), 0);
	assert_string_equal(e.hash, "h");
	assert_int_equal(passwdfile_line("u:hash", 3, &e), 0);
	assert_string_equal(e.hash, "h");
	assert_int_equal(passwdfile_line("u:hash", 2, &e), -1);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
