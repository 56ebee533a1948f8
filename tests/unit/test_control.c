/* SPDX-License-Identifier: ISC */
/*
 * test_control - control_split (src/proc/control.c), the pure splitter of
 * a control-socket request line into words: spaces only, printable ASCII
 * only, at most maxargs words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proc/control.h"

static void
test_split(void **state)
{
	static const struct {
		const char *line;
		int argc;
		const char *words[4];
	} rows[] = {
		{"queue list", 2, {"queue", "list"}},
		{"  queue   show  0123456789abcdef  ", 3, {"queue", "show", "0123456789abcdef"}},
		{"queue", 1, {"queue"}},
		{"", 0, {NULL}},
		{"     ", 0, {NULL}},
		{"queue\tlist", -1, {NULL}}, /* tab is a control byte */
		{"queue list\r", -1, {NULL}},
		{"queue list\n", -1, {NULL}},
		{"queue \x7f", -1, {NULL}},
		{"queue \x1b[2J", -1, {NULL}},
		{"queue d\xc3\xa9lete", -1, {NULL}},
		{"a b c d e f g h i j k l m n o p", 16, {"a", "b", "c", "d"}},
		{"a b c d e f g h i j k l m n o p q", -1, {NULL}},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char line[128];
		char *argv[CONTROL_MAX_ARGS];
		int argc, k;

		snprintf(line, sizeof(line), "%s", rows[i].line);
		argc = control_split(line, argv, CONTROL_MAX_ARGS);
		if (argc != rows[i].argc)
			fail_msg("row %zu (%s): got %d", i, rows[i].line, argc);
		for (k = 0; k < argc && k < 4; k++)
			assert_string_equal(argv[k], rows[i].words[k]);
	}
	{
		char line[] = "one two three";
		char *argv[2];

		assert_int_equal(control_split(line, argv, 2), -1);
		assert_int_equal(control_split(line, argv, 0), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
