/* SPDX-License-Identifier: ISC */
/* Unit tests for app passwords: format, normalisation, hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth/apppw.h"

static void
test_generate(void **state)
{
	char a[APPPW_TEXT_LEN + 1], b[APPPW_TEXT_LEN + 1];
	size_t i;

	(void)state;
	apppw_generate(a);
	apppw_generate(b);
	assert_int_equal(strlen(a), APPPW_TEXT_LEN);
	assert_string_not_equal(a, b);
	for (i = 0; i < APPPW_TEXT_LEN; i++) {
		if (i % 5 == 4)
			assert_int_equal(a[i], '-');
		else
			assert_non_null(strchr("abcdefghijkmnpqrstuvwxyz23456789", a[i]));
	}
}

static void
test_hash_verify(void **state)
{
	char pw[APPPW_TEXT_LEN + 1], h1[APPPW_STORED_MAX], h2[APPPW_STORED_MAX], typed[64];
	size_t i, o = 0;

	(void)state;
	apppw_generate(pw);
	assert_int_equal(apppw_hash(pw, strlen(pw), h1, sizeof(h1)), 0);
	assert_int_equal(apppw_hash(pw, strlen(pw), h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2); /* salted */
	assert_true(strncmp(h1, APPPW_SCHEME, strlen(APPPW_SCHEME)) == 0);
	assert_null(strstr(h1, pw));
	assert_true(apppw_verify(h1, pw, strlen(pw)));
	assert_true(apppw_verify(h2, pw, strlen(pw)));
	/* typed in capitals, with spaces instead of dashes */
	for (i = 0; pw[i]; i++)
		typed[o++] = pw[i] == '-' ? ' ' : (char)(pw[i] >= 'a' && pw[i] <= 'z' ? pw[i] - 32 : pw[i]);
	typed[o] = '\0';
	assert_true(apppw_verify(h1, typed, strlen(typed)));
	/* one letter changed, one missing, one too many, a look-alike */
	typed[0] = pw[0] == 'a' ? 'b' : 'a';
	assert_false(apppw_verify(h1, typed, strlen(typed)));
	assert_false(apppw_verify(h1, pw, strlen(pw) - 1));
	snprintf(typed, sizeof(typed), "%sa", pw);
	assert_false(apppw_verify(h1, typed, strlen(typed)));
	memcpy(typed, pw, sizeof(pw));
	typed[0] = '0';
	assert_false(apppw_verify(h1, typed, strlen(typed)));
	assert_int_equal(apppw_hash("short", 5, h2, sizeof(h2)), -1);
	/* broken stored forms */
	assert_false(apppw_verify(NULL, pw, strlen(pw)));
	assert_false(apppw_verify("{ARGON2ID}x", pw, strlen(pw)));
	assert_false(apppw_verify(APPPW_SCHEME "nodollar", pw, strlen(pw)));
	assert_false(apppw_verify(APPPW_SCHEME "AAAA$AAAA", pw, strlen(pw)));
	h1[strlen(h1) - 2] = h1[strlen(h1) - 2] == 'A' ? 'B' : 'A';
	assert_false(apppw_verify(h1, pw, strlen(pw)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_hash_verify),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
