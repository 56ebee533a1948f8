/* SPDX-License-Identifier: ISC */
/*
 * test_util - the number parsers every limit goes through (parse_u64,
 * parse_duration, parse_size: no signs, no junk, no wrap-around) and the
 * bounded string helpers (src/lib/util.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util.h"

static void
test_parse_u64(void **state)
{
	static const struct {
		const char *s;
		uint64_t max;
		int ok;
		uint64_t v;
	} rows[] = {
		{"0", UINT64_MAX, 0, 0},
		{"42", UINT64_MAX, 0, 42},
		{"007", UINT64_MAX, 0, 7},
		{"18446744073709551615", UINT64_MAX, 0, UINT64_MAX},
		{"18446744073709551616", UINT64_MAX, -1, 0},
		{"99999999999999999999", UINT64_MAX, -1, 0},
		{"00000000000000000001", UINT64_MAX, 0, 1},
		{"000000000000000000001", UINT64_MAX, -1, 0}, /* 21 digits */
		{"100", 100, 0, 100},
		{"101", 100, -1, 0},
		{"65536", 65535, -1, 0},
		{"", UINT64_MAX, -1, 0},
		{"-1", UINT64_MAX, -1, 0},
		{"+1", UINT64_MAX, -1, 0},
		{" 1", UINT64_MAX, -1, 0},
		{"1 ", UINT64_MAX, -1, 0},
		{"0x10", UINT64_MAX, -1, 0},
		{"1e3", UINT64_MAX, -1, 0},
		{"1.0", UINT64_MAX, -1, 0},
		{"\xd9\xa1", UINT64_MAX, -1, 0}, /* ARABIC-INDIC DIGIT ONE */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v = 12345;
		int rc = parse_u64(rows[i].s, rows[i].max, &v);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].s, rc);
		if (rc == 0)
			assert_true(v == rows[i].v);
		else
			assert_true(v == 12345); /* untouched on error */
	}
	{
		uint64_t v;

		assert_int_equal(parse_u64n("123abc", 3, UINT64_MAX, &v), 0);
		assert_int_equal(v, 123);
		assert_int_equal(parse_u64n("123abc", 4, UINT64_MAX, &v), -1);
		assert_int_equal(parse_u64n("123", 0, UINT64_MAX, &v), -1);
	}
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int ok;
		uint64_t v;
	} rows[] = {
		{"0", 0, 0},
		{"30", 0, 30},
		{"30s", 0, 30},
		{"5m", 0, 300},
		{"2h", 0, 7200},
		{"5d", 0, 432000},
		{"1w", 0, 604800},
		{"18446744073709551615s", 0, UINT64_MAX},
		{"30500568904943w", 0, 30500568904943ULL * 604800},
		{"30500568904944w", -1, 0}, /* would wrap */
		{"", -1, 0},
		{"s", -1, 0},
		{"5x", -1, 0},
		{"5M", -1, 0}, /* minutes are lower case; M is a size */
		{"5 m", -1, 0},
		{"5mm", -1, 0},
		{"-5m", -1, 0},
		{"1.5h", -1, 0},
		{"m5", -1, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v = 0;
		int rc = parse_duration(rows[i].s, &v);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].s, rc);
		if (rc == 0 && v != rows[i].v)
			fail_msg("row %zu (%s): got %ju", i, rows[i].s, (uintmax_t)v);
	}
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int ok;
		uint64_t v;
	} rows[] = {
		{"4096", 0, 4096},
		{"64k", 0, 65536},
		{"64K", 0, 65536},
		{"50M", 0, 52428800},
		{"50m", 0, 52428800},
		{"1G", 0, 1073741824},
		{"1g", 0, 1073741824},
		{"0k", 0, 0},
		{"17179869183G", 0, 17179869183ULL << 30},
		{"17179869184G", -1, 0}, /* 2^64: would wrap to 0 */
		{"18014398509481984k", -1, 0},
		{"1T", -1, 0},
		{"k", -1, 0},
		{"1.5M", -1, 0},
		{"-1k", -1, 0},
		{"1kb", -1, 0},
		{"", -1, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v = 0;
		int rc = parse_size(rows[i].s, &v);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].s, rc);
		if (rc == 0 && v != rows[i].v)
			fail_msg("row %zu (%s): got %ju", i, rows[i].s, (uintmax_t)v);
	}
}

static void
test_str_copy(void **state)
{
	static const struct {
		const char *src;
		size_t dstsize;
		int ok;
		const char *dst;
	} rows[] = {
		{"hello", 16, 0, "hello"},
		{"0123456789abcdef", 16, -1, "0123456789abcde"},
		{"hello", 6, 0, "hello"}, /* exactly fits with its NUL */
		{"hello", 5, -1, "hell"},
		{"hello", 1, -1, ""},
		{"", 1, 0, ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char dst[17];

		memset(dst, 'X', sizeof(dst));
		if (str_copy(dst, rows[i].src, rows[i].dstsize) != rows[i].ok)
			fail_msg("row %zu", i);
		assert_string_equal(dst, rows[i].dst);
		/* nothing written past dstsize */
		assert_int_equal(dst[rows[i].dstsize], 'X');
	}
	{
		char dst[2] = "X";

		assert_int_equal(str_copy(dst, "abc", 0), -1);
		assert_int_equal(dst[0], 'X');
	}
}

static void
test_str_fmt(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(str_fmt(out, sizeof(out), "%d-%s", 12, "ab"), 0);
	assert_string_equal(out, "12-ab");
	assert_int_equal(str_fmt(out, sizeof(out), "%s", "1234567"), 0);
	assert_int_equal(str_fmt(out, sizeof(out), "%s", "12345678"), -1);
	assert_string_equal(out, "1234567");
}

static void
test_strcase(void **state)
{
	char *s;

	(void)state;
	assert_true(strcase_eq("PostMaster", "postmaster"));
	assert_false(strcase_eq("postmaster", "postmaste"));
	assert_true(strcase_prefix("Content-Type: x", "content-type:"));
	assert_false(strcase_prefix("Content", "content-type:"));
	assert_true(strcase_prefix("anything", ""));
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xasprintf("%s=%d", "n", 5);
	assert_string_equal(s, "n=5");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),  cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size), cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_str_fmt),	   cmocka_unit_test(test_strcase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
