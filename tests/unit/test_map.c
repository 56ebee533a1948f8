/* SPDX-License-Identifier: ISC */
/*
 * test_map - the string-keyed hash table (src/lib/map.c): insert, replace,
 * delete, growth past the first table size, iteration, and keys copied
 * (the caller's buffer may change after map_put).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/map.h"

static void
test_basic(void **state)
{
	static const struct {
		const char *op, *key;
		int val;     /* value to put */
		int want;    /* returned value, 0 for NULL */
		size_t count; /* after the operation */
	} rows[] = {
		{"get", "a", 0, 0, 0},
		{"put", "a", 1, 0, 1},
		{"get", "a", 0, 1, 1},
		{"get", "A", 0, 0, 1}, /* keys are case-sensitive */
		{"put", "a", 2, 1, 1}, /* replace: the old value comes back */
		{"get", "a", 0, 2, 1},
		{"put", "", 3, 0, 2}, /* the empty key is a key */
		{"get", "", 0, 3, 2},
		{"del", "b", 0, 0, 2},
		{"del", "a", 0, 2, 1},
		{"get", "a", 0, 0, 1},
		{"del", "a", 0, 0, 1},
		{"del", "", 0, 3, 0},
	};
	static int vals[4] = {0, 1, 2, 3};
	struct map *m = map_new();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int *got;

		if (strcmp(rows[i].op, "put") == 0)
			got = map_put(m, rows[i].key, &vals[rows[i].val]);
		else if (strcmp(rows[i].op, "get") == 0)
			got = map_get(m, rows[i].key);
		else
			got = map_del(m, rows[i].key);
		if ((got == NULL ? 0 : *got) != rows[i].want)
			fail_msg("row %zu (%s %s)", i, rows[i].op, rows[i].key);
		assert_int_equal(map_count(m), rows[i].count);
	}
	map_free(m);
	map_free(NULL);
}

static void
count_each(const char *key, void *val, void *arg)
{
	size_t *seen = arg;
	size_t idx = (size_t)((const char *)val - (const char *)NULL);
	char want[32];

	snprintf(want, sizeof(want), "key-%zu", idx);
	assert_string_equal(key, want);
	seen[idx]++;
}

static void
test_growth(void **state)
{
	enum { N = 5000 };
	static size_t seen[N];
	struct map *m = map_new();
	char key[32];
	size_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_null(map_put(m, key, (char *)NULL + i));
		memset(key, 'z', sizeof(key) - 1); /* the map keeps its own copy */
	}
	assert_int_equal(map_count(m), N);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_ptr_equal(map_get(m, key), (char *)NULL + i);
	}
	map_each(m, count_each, seen);
	for (i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	for (i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_ptr_equal(map_del(m, key), (char *)NULL + i);
	}
	assert_int_equal(map_count(m), N / 2);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		if (i % 2 == 0)
			assert_null(map_get(m, key));
		else
			assert_ptr_equal(map_get(m, key), (char *)NULL + i);
	}
	map_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
