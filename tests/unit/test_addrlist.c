/* SPDX-License-Identifier: ISC */
/*
 * test_addrlist - addr-specs out of RFC 5322 address lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail/addrlist.h"

/* 300 characters: longer than any address, not than a display name */
#define X10 "abcdefghij"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X300 X100 X100 X100

static void
test_lists(void **state)
{
	static const struct {
		const char *value;
		int ok;
		const char *want; /* addresses joined by ";" */
	} rows[] = {
		{"alice@example.test", 0, "alice@example.test"},
		{" Alice <alice@example.test>", 0, "alice@example.test"},
		{"\"Smith, Alice\" <alice@example.test>", 0, "alice@example.test"},
		{"\"<bob@evil.test>\" <alice@example.test>", 0, "alice@example.test"},
		{"alice@example.test (Alice <bob@evil.test>)", 0, "alice@example.test"},
		{"Alice <alice@example.test>, bob@example.test", 0,
		 "alice@example.test;bob@example.test"},
		{"Friends: a@example.test, \"B\" <b@example.test>;", 0,
		 "a@example.test;b@example.test"},
		{"=?utf-8?q?J=C3=B6rg?= <joerg@example.test>", 0, "joerg@example.test"},
		{"", -1, NULL},
		{"Alice", -1, NULL},
		{"Alice <alice@example.test", -1, NULL},
		{"\"unterminated <a@example.test>", -1, NULL},
		{"(unterminated comment a@example.test", -1, NULL},
		{"Undisclosed recipients:;", -1, NULL},
		{"Alice <alice@example.test> <bob@evil.test>", -1, NULL},
		{"<alice@example.test> bob@evil.test", -1, NULL},
		{"<alice@example.test> (Alice)", 0, "alice@example.test"},
		{"\"a b\"@example.test", 0, "\"ab\"@example.test"},
		/* long display names are fine, long addresses are not */
		{"\"" X300 "\" <alice@example.test>", 0, "alice@example.test"},
		{"=?utf-8?b?" X300 "?= <alice@example.test>", 0, "alice@example.test"},
		{"\"" X100 "\" " X100 " \"" X100 "\" <alice@example.test>", 0, "alice@example.test"},
		{X300 ": a@example.test;", 0, "a@example.test"},
		{X300 "@example.test", -1, NULL},
		{"\"" X300 "\"@example.test", -1, NULL},
		{"<" X300 "@example.test>", -1, NULL},
		{X300 " <alice@example.test> bob@evil.test", -1, NULL},
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct addrlist l;
		char got[512] = "";
		int rc = addrlist_parse(rows[i].value, strlen(rows[i].value), &l);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].value, rc);
		if (rc != 0)
			continue;
		for (k = 0; k < l.n; k++) {
			size_t used = strlen(got);

			snprintf(got + used, sizeof(got) - used, "%s%s", k ? ";" : "", l.addr[k]);
		}
		assert_string_equal(got, rows[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
