/* SPDX-License-Identifier: ISC */
/*
 * test_policy - password policy: length, zxcvbn with the account's words,
 * the banned list in both its forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/policy.h"

static struct conf_auth ca = {
	.min_length = 12, .max_length = 128, .min_entropy = 40,
};

static void
test_rules(void **state)
{
	static const struct {
		const char *pw;
		int ok;
		const char *why; /* a word the reason must contain */
	} rows[] = {
		{"correct horse battery staple", 0, NULL},
		{"mountain-sandwich-71-ferry", 0, NULL},
		{"short", -1, "at least 12"},
		{"password123456", -1, "easy to guess"},
		{"123456789012", -1, "easy to guess"},
		{"qwertyuiopasdf", -1, "easy to guess"},
		/* fine on its own, weak for this account: built from its address */
		{"aliceexampletest", -1, "easy to guess"},
		{"alice2026example", -1, "easy to guess"},
	};
	char why[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = policy_check(&ca, NULL, "alice@example.test", rows[i].pw,
				      strlen(rows[i].pw), why, sizeof(why));

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d: %s", i, rows[i].pw, rc, rc ? why : "");
		if (rc == -1 && strstr(why, rows[i].why) == NULL)
			fail_msg("row %zu: reason \"%s\" lacks \"%s\"", i, why, rows[i].why);
	}
	{
		char big[200];

		memset(big, 'k', sizeof(big));
		assert_int_equal(policy_check(&ca, NULL, "a@b.test", big, sizeof(big), why,
					      sizeof(why)),
				 -1);
		assert_non_null(strstr(why, "at most 128"));
		assert_int_equal(policy_check(&ca, NULL, "a@b.test", "correct horse\0battery", 21,
					      why, sizeof(why)),
				 -1);
		assert_int_equal(policy_check(&ca, NULL, "a@b.test", "correct \xff horse battery",
					      22, why, sizeof(why)),
				 -1);
	}
}

static void
test_banned(void **state)
{
	char path[] = "/tmp/postern-banned-XXXXXX", err[256], why[256];
	struct banned *b;
	FILE *f;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	/* SHA-1 of "correct horse battery staple", in the Pwned Passwords form */
	fputs("# breached\n", f);
	fputs("ABF7AAD6438836DBE526AA231ABDE2D0EEF74D42:12\r\n", f);
	fputs("Mountain-Sandwich-71-Ferry\n", f);
	fputs("\n", f);
	fclose(f);
	b = banned_load(path, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(banned_count(b), 2);
	assert_int_equal(policy_check(&ca, b, "a@b.test", "correct horse battery staple", 28, why,
				      sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "breaches or banned"));
	assert_int_equal(policy_check(&ca, b, "a@b.test", "mountain-sandwich-71-ferry", 26, why,
				      sizeof(why)),
			 -1);
	assert_int_equal(policy_check(&ca, b, "a@b.test", "lantern-oyster-58-violin", 24, why,
				      sizeof(why)),
			 0);
	banned_free(b);
	unlink(path);
	assert_null(banned_load("/nonexistent/banned.txt", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/banned.txt"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_banned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
