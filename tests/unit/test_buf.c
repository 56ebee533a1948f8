/* SPDX-License-Identifier: ISC */
/*
 * test_buf - the growable byte buffer (src/lib/buf.c): always
 * NUL-terminated, binary-safe, growth that keeps every byte, consume,
 * reset and steal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"

static void
test_empty(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(b.len, 0);
	buf_reset(&b); /* safe before the first append */
	buf_consume(&b, 10);
	buf_free(&b);
	buf_free(&b); /* and twice */
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

static void
test_append(void **state)
{
	static const struct {
		const char *op, *arg;
		const char *want;
	} rows[] = {
		{"adds", "abc", "abc"},
		{"addc", "d", "abcd"},
		{"addf", "-%d-", "abcd-42-"},
		{"consume", "2", "cd-42-"},
		{"adds", "", "cd-42-"},
		{"consume", "99", ""},
		{"adds", "again", "again"},
		{"reset", "", ""},
		{"addf", "%s", ""},
	};
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *op = rows[i].op;

		if (strcmp(op, "adds") == 0)
			buf_adds(&b, rows[i].arg);
		else if (strcmp(op, "addc") == 0)
			buf_addc(&b, rows[i].arg[0]);
		else if (strcmp(op, "addf") == 0 && strcmp(rows[i].arg, "%s") == 0)
			buf_addf(&b, "%s", "");
		else if (strcmp(op, "addf") == 0)
			buf_addf(&b, "-%d-", 42);
		else if (strcmp(op, "consume") == 0)
			buf_consume(&b, (size_t)strtoul(rows[i].arg, NULL, 10));
		else
			buf_reset(&b);
		if (strcmp(buf_cstr(&b), rows[i].want) != 0)
			fail_msg("row %zu (%s): got \"%s\"", i, op, buf_cstr(&b));
		assert_int_equal(b.len, strlen(rows[i].want));
		if (b.data != NULL)
			assert_int_equal(b.data[b.len], '\0');
	}
	buf_free(&b);
}

static void
test_growth_keeps_bytes(void **state)
{
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		char c = (char)(i % 251);

		buf_add(&b, &c, 1);
	}
	assert_int_equal(b.len, 100000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	for (i = 0; i < 100000; i++)
		if (b.data[i] != (char)(i % 251))
			fail_msg("byte %zu changed", i);
	/* a large formatted append in one go */
	buf_reset(&b);
	buf_addf(&b, "%5000d|", 7);
	assert_int_equal(b.len, 5001);
	assert_int_equal(b.data[4999], '7');
	buf_free(&b);
}

static void
test_binary(void **state)
{
	const char bin[] = "a\0b\r\n\xff";
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	buf_add(&b, bin, sizeof(bin) - 1);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, bin, 6);
	buf_consume(&b, 2);
	assert_memory_equal(b.data, "b\r\n\xff", 5); /* with its NUL */
	buf_reserve(&b, 1000);
	assert_true(b.cap >= b.len + 1000 + 1);
	assert_memory_equal(b.data, "b\r\n\xff", 5);
	s = buf_steal(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_memory_equal(s, "b\r\n\xff", 5);
	free(s);
	buf_adds(&b, "secret");
	buf_wipe_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_growth_keeps_bytes),
		cmocka_unit_test(test_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
