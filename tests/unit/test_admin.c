/* SPDX-License-Identifier: ISC */
/*
 * test_admin - the role table (src/admin/role.c): each role allowed and
 * refused exactly what its row says; the mapping of local callers to
 * roles; and the request/answer codec (src/admin/request.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "admin/request.h"
#include "admin/role.h"
#include "admin/token.h"
#include "lib/util.h"

/* split - words of s (modified in place) into av; returns the count. */
static int
split(char *s, char **av, int max)
{
	int n = 0;

	while (*s != '\0' && n < max) {
		av[n++] = s;
		while (*s != '\0' && *s != ' ')
			s++;
		if (*s == ' ')
			*s++ = '\0';
	}
	return n;
}

static void
test_verb_roles(void **state)
{
	static const struct {
		const char *cmd;
		enum admin_role need;
	} rows[] = {
		/* auditor: read-only */
		{"audit verify", ROLE_AUDITOR},
		{"audit tail", ROLE_AUDITOR},
		{"audit search --since 24h", ROLE_AUDITOR},
		{"check --json", ROLE_AUDITOR},
		{"config dump", ROLE_AUDITOR},
		{"dns check example.org", ROLE_AUDITOR},
		{"dkim verify", ROLE_AUDITOR},
		/* operator: queue, bans, unlock and reset users */
		{"queue list", ROLE_OPERATOR},
		{"queue delete 0123456789abcdef", ROLE_OPERATOR},
		{"queue flush", ROLE_OPERATOR},
		{"ban add 192.0.2.0/24 --for 1h", ROLE_OPERATOR},
		{"ban del 192.0.2.0/24", ROLE_OPERATOR},
		{"user list", ROLE_OPERATOR},
		{"user show bob", ROLE_OPERATOR},
		{"user unlock bob", ROLE_OPERATOR},
		{"user lock bob --reason stolen", ROLE_OPERATOR},
		{"user passwd bob --reset --password-stdin", ROLE_OPERATOR},
		{"dmarc report", ROLE_OPERATOR},
		{"dkim list", ROLE_OPERATOR},
		/* admin: account, key and config changes */
		{"user passwd bob --password-stdin", ROLE_ADMIN},
		{"user add carol --password-stdin", ROLE_ADMIN},
		{"user del bob", ROLE_ADMIN},
		{"user 2fa disable bob", ROLE_ADMIN},
		{"user app-password add bob --label phone", ROLE_ADMIN},
		{"user address add bob bob@example.org", ROLE_ADMIN},
		{"user allow-from bob 192.0.2.0/24", ROLE_ADMIN},
		{"user import /tmp/passwd", ROLE_ADMIN},
		{"dkim keygen example.org s1", ROLE_ADMIN},
		{"dkim sign --domain example.org", ROLE_ADMIN},
		{"backup /var/backups/x", ROLE_ADMIN},
		/* never through the daemon */
		{"serve", ROLE_NONE},
		{"restore x", ROLE_NONE},
		{"audit tail -f", ROLE_NONE},
		{"version", ROLE_NONE},
		{"help", ROLE_NONE},
		{"frobnicate", ROLE_NONE},
		{"auditx verify", ROLE_NONE},
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		char line[256], *av[16];
		int n;

		snprintf(line, sizeof(line), "%s", rows[i].cmd);
		n = split(line, av, 16);
		if (admin_verb_role(n, av) != rows[i].need)
			fail_msg("'%s' needs %s, the table says %s", rows[i].cmd,
				 conf_admin_role_name(rows[i].need),
				 conf_admin_role_name(admin_verb_role(n, av)));
	}
	assert_int_equal(admin_verb_role(0, NULL), ROLE_NONE);
}

static void
test_local_roles(void **state)
{
	struct conf_admin a;
	gid_t g_ops[] = {60010}, g_none[] = {60099}, g_both[] = {60099, 60011};
	char why[96];

	(void)state;
	memset(&a, 0, sizeof(a));
	a.principals[0] = (struct conf_principal){"60001", false, ROLE_ADMIN};
	a.principals[1] = (struct conf_principal){"60010", true, ROLE_OPERATOR};
	a.principals[2] = (struct conf_principal){"60011", true, ROLE_AUDITOR};
	a.principals[3] = (struct conf_principal){"60002", false, ROLE_AUDITOR};
	a.principals[4] = (struct conf_principal){"60002", false, ROLE_OPERATOR};
	a.nprincipals = 5;
	assert_int_equal(admin_local_role(&a, 0, 995, g_none, 1, why, sizeof(why)), ROLE_ADMIN);
	assert_int_equal(admin_local_role(&a, 995, 995, g_none, 1, why, sizeof(why)), ROLE_ADMIN);
	assert_int_equal(admin_local_role(&a, 60001, 995, g_none, 1, why, sizeof(why)),
			 ROLE_ADMIN);
	assert_string_equal(why, "user 60001");
	assert_int_equal(admin_local_role(&a, 60050, 995, g_ops, 1, why, sizeof(why)),
			 ROLE_OPERATOR);
	assert_string_equal(why, "group 60010");
	assert_int_equal(admin_local_role(&a, 60050, 995, g_both, 2, why, sizeof(why)),
			 ROLE_AUDITOR);
	/* the highest of several matches */
	assert_int_equal(admin_local_role(&a, 60002, 995, g_none, 1, why, sizeof(why)),
			 ROLE_OPERATOR);
	assert_int_equal(admin_local_role(&a, 60050, 995, g_none, 1, why, sizeof(why)), ROLE_NONE);
	assert_string_equal(why, "unmapped");
	assert_int_equal(admin_local_role(&a, 60050, 995, NULL, 0, why, sizeof(why)), ROLE_NONE);
}

static void
test_request_codec(void **state)
{
	char *av[] = {"user", "lock", "bob", "--reason", "two words"};
	struct buf line = BUF_INIT, out = BUF_INIT, err = BUF_INIT, o2 = BUF_INIT, e2 = BUF_INIT;
	struct admin_req r;
	char msg[256];
	int status;

	(void)state;
	admin_req_encode(5, av, "pw\n\0x", 5, &line);
	assert_int_equal(admin_req_decode(line.data, line.len, &r, msg, sizeof(msg)), 0);
	assert_int_equal(r.argc, 5);
	assert_string_equal(r.argv[4], "two words");
	assert_null(r.argv[5]);
	assert_int_equal(r.in.len, 5);
	assert_memory_equal(r.in.data, "pw\n\0x", 5);
	admin_req_free(&r);
	buf_free(&line);

	buf_add(&out, "\xff\x00ok", 4);
	buf_adds(&err, "postern: no\n");
	admin_resp_encode(3, &out, &err, &line);
	assert_int_equal(admin_resp_decode(line.data, line.len, &status, &o2, &e2), 0);
	assert_int_equal(status, 3);
	assert_int_equal(o2.len, 4);
	assert_memory_equal(o2.data, "\xff\x00ok", 4);
	assert_string_equal(buf_cstr(&e2), "postern: no\n");
	buf_free(&line);
	buf_free(&out);
	buf_free(&err);
	buf_free(&o2);
	buf_free(&e2);
}

static void
test_request_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"{\"argv\":[]}",
		"{\"argv\":\"queue list\"}",
		"{\"argv\":[\"queue\",1]}",
		"{\"argv\":[\"queue\",\"\"]}",
		"{\"argv\":[\"queue\",\"li\\nst\"]}",
		"{\"argv\":[\"queue\",\"a\\u0000b\"]}",
		"{\"argv\":[\"queue\",\"\\u001b[2J\"]}",
		"{\"argv\":[\"queue\"],\"stdin\":\"not base64!\"}",
		"{\"argv\":[\"queue\"],\"stdin\":5}",
		"{\"argv\":[\"queue\"],\"argv\":[\"user\"]}",
		"{\"argv\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\","
		"\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\",\"v\",\"w\",\"x\",\"y\",\"z\",\"A\","
		"\"B\",\"C\",\"D\",\"E\",\"F\",\"G\"]}",
	};
	struct admin_req r;
	char msg[256];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		if (admin_req_decode(bad[i], strlen(bad[i]), &r, msg, sizeof(msg)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(r.argc, 0);
		admin_req_free(&r);
	}
}

static void
test_tokens(void **state)
{
	uint8_t key[TOKEN_KEY_LEN], other[TOKEN_KEY_LEN];
	struct token_info t = {"alice@example.org", ROLE_OPERATOR, "192.0.2.7", 1000}, got;
	char tok[TOKEN_MAX + 1], bad[TOKEN_MAX + 1];
	const char *why;
	size_t i, len;

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	assert_int_equal(token_make(key, &t, tok, sizeof(tok)), 0);
	len = strlen(tok);
	assert_int_equal(token_verify(key, tok, len, 999, "192.0.2.7", &got, &why), 0);
	assert_string_equal(got.account, "alice@example.org");
	assert_int_equal(got.role, ROLE_OPERATOR);
	assert_int_equal(got.expiry, 1000);
	assert_int_equal(token_verify(key, tok, len, 1000, "192.0.2.7", &got, &why), -1);
	assert_string_equal(why, "expired");
	assert_int_equal(token_verify(key, tok, len, 999, "192.0.2.8", &got, &why), -1);
	assert_string_equal(why, "other-address");
	assert_int_equal(token_verify(other, tok, len, 999, "192.0.2.7", &got, &why), -1);
	assert_string_equal(why, "forged");
	assert_int_equal(got.role, ROLE_NONE);
	assert_int_equal(token_peek(tok, len, &got), 0);
	assert_string_equal(got.ip, "192.0.2.7");
	/* two tokens for the same login differ (a nonce) */
	assert_int_equal(token_make(key, &t, bad, sizeof(bad)), 0);
	assert_string_not_equal(tok, bad);
	/* any changed character is caught */
	for (i = 0; i < len; i++) {
		memcpy(bad, tok, len + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (token_verify(key, bad, len, 999, "192.0.2.7", &got, &why) == 0)
			fail_msg("changed at %zu and accepted", i);
	}
	assert_int_equal(token_verify(key, "", 0, 0, "", &got, &why), -1);
	assert_string_equal(why, "malformed");
	assert_int_equal(token_verify(key, "abc", 3, 0, "", &got, &why), -1);
	assert_int_equal(token_verify(key, tok, len - 1, 999, "192.0.2.7", &got, &why), -1);
	/* a role of none, or fields too long, make no token */
	t.role = ROLE_NONE;
	assert_int_equal(token_make(key, &t, tok, sizeof(tok)), -1);
	t.role = ROLE_ADMIN;
	assert_int_equal(token_make(key, &t, tok, 40), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verb_roles),
		cmocka_unit_test(test_local_roles),
		cmocka_unit_test(test_request_codec),
		cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
