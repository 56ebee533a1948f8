/* SPDX-License-Identifier: ISC */
/*
 * test_authres - Authentication-Results and Received-SPF
 * (src/mailauth/authres.c): the header we write, byte for byte, and the
 * authserv-id read from hostile incoming ones (comments, quoting,
 * folding), which decides whether a forged header claiming to be ours is
 * removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mailauth/authres.h"

static void
test_compose(void **state)
{
	struct authres_result r[3] = {
		{"spf", "pass", NULL, {{"smtp", "mailfrom", "bob@example.org"}}, 1},
		{"dkim", "fail", "signature did not \"verify\" (body hash)",
		 {{"header", "d", "example.org"}, {"header", "s", "s2026"}}, 2},
		{"dmarc", "fail", NULL, {{"header", "from", "exa mple\r\n.org"}}, 1},
	};
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(authres_compose("mx.example.test", r, 3, &out), 0);
	assert_string_equal(buf_cstr(&out),
			    "Authentication-Results: mx.example.test;\r\n"
			    "\tspf=pass smtp.mailfrom=bob@example.org;\r\n"
			    "\tdkim=fail (signature did not \"verify\" \\(body hash\\)) "
			    "header.d=example.org header.s=s2026;\r\n"
			    "\tdmarc=fail header.from=\"exa mple??.org\"\r\n");
	buf_reset(&out);
	assert_int_equal(authres_compose("mx.example.test", NULL, 0, &out), 0);
	assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.test; none\r\n");
	buf_reset(&out);
	r[0].method = "sp f";
	assert_int_equal(authres_compose("mx.example.test", r, 1, &out), -1);
	assert_int_equal(authres_compose("mx example", NULL, 0, &out), -1);
	buf_free(&out);
}

static void
test_id(void **state)
{
	static const struct {
		const char *value;
		const char *id; /* NULL: none */
	} rows[] = {
		{" mx.example.test; spf=pass", "mx.example.test"},
		{"mx.example.test 1; none", "mx.example.test"},
		{" (comment) mx.example.test; none", "mx.example.test"},
		{"\r\n\t(a (nested) comment)\r\n mx.example.test;", "mx.example.test"},
		{" \"mx.example.test\"; none", "mx.example.test"},
		{" \"mx\\\"x\"; none", "mx\"x"},
		{"(\\) still a comment) mx.example.test;", "mx.example.test"},
		{"MX.Example.Test;", "MX.Example.Test"},
		{"", NULL},
		{"   ", NULL},
		{"(unterminated comment mx.example.test;", NULL},
		{"((((((((((too deep)))))))))) mx.example.test", NULL},
		{"\"unterminated", NULL},
		{";", NULL},
	};
	char id[AUTHRES_ID_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = authres_id(rows[i].value, strlen(rows[i].value), id);

		if (rows[i].id == NULL ? rc != -1 : rc != 0 || strcmp(id, rows[i].id) != 0)
			fail_msg("row %zu \"%s\": rc %d id \"%s\"", i, rows[i].value, rc,
				 rc == 0 ? id : "");
	}
	/* a NUL or a control in a quoted id is refused (the fuzzer's find) */
	assert_int_equal(authres_id("\"a\0b\"; x", 9, id), -1);
	assert_int_equal(authres_id("\"a\x01b\"; x", 9, id), -1);
	assert_true(authres_is_ours(" mx.EXAMPLE.test; spf=pass", 26, "mx.example.test"));
	assert_false(authres_is_ours(" other.example; spf=pass", 24, "mx.example.test"));
	assert_false(authres_is_ours(" mx.example.test.evil; x", 24, "mx.example.test"));
}

static void
test_received_spf(void **state)
{
	struct received_spf r = {"pass", "mx.example.test", "192.0.2.7", "a@example.org",
				 "mail.example.org", "mailfrom", NULL};
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(received_spf_compose(&r, &out), 0);
	assert_string_equal(buf_cstr(&out),
			    "Received-SPF: pass (mx.example.test: domain of a@example.org "
			    "designates 192.0.2.7 as permitted sender)\r\n"
			    "\tclient-ip=192.0.2.7; envelope-from=\"a@example.org\"; "
			    "helo=\"mail.example.org\";\r\n"
			    "\tidentity=mailfrom; receiver=mx.example.test;\r\n");
	buf_reset(&out);
	r.result = "permerror";
	r.problem = "two \"v=spf1\" records\n";
	assert_int_equal(received_spf_compose(&r, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "problem=\"two \\\"v=spf1\\\" records?\";"));
	r.client_ip = "192.0.2.7\r\nX-Injected: 1";
	assert_int_equal(received_spf_compose(&r, &out), -1);
	/* IPv6 has colons, which a dot-atom cannot carry (RFC 7208 9.1) */
	buf_reset(&out);
	r.result = "pass";
	r.problem = NULL;
	r.client_ip = "2001:db8::7";
	assert_int_equal(received_spf_compose(&r, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "designates 2001:db8::7 as permitted sender"));
	assert_non_null(strstr(buf_cstr(&out), "\tclient-ip=\"2001:db8::7\"; envelope-from="));
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_received_spf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
