/* SPDX-License-Identifier: ISC */
/*
 * test_sasl - SASL base64 framing and the PLAIN message (RFC 4616).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/sasl.h"

static void
test_b64(void **state)
{
	static const struct {
		const char *in;
		int ok;
		const char *out;
		size_t outlen;
	} rows[] = {
		{"AGFsaWNlAHNlY3JldA==", 0, "\0alice\0secret", 13},
		{"dGVzdA==", 0, "test", 4},
		{"=", 0, "", 0},		/* empty response */
		{"", -1, NULL, 0},
		{"dGVzdA=", -1, NULL, 0},	/* bad padding */
		{"dGVz dA==", -1, NULL, 0},	/* whitespace */
		{"dGVzdA==x", -1, NULL, 0},	/* trailing junk */
		{"d*VzdA==", -1, NULL, 0},	/* not base64 */
		{"*", -1, NULL, 0},		/* cancel is the caller's business */
		{"dGVz\xe3" "A==", -1, NULL, 0},	/* a byte libsodium 1.0.18 takes as '/' */
		{"dGVz/A==", 0, "tes\xfc", 4},
	};
	uint8_t out[SASL_MAX + 1];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = sasl_b64_decode(rows[i].in, strlen(rows[i].in), out, &n);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].in, rc);
		if (rc == 0) {
			assert_int_equal(n, rows[i].outlen);
			assert_memory_equal(out, rows[i].out, n);
		}
	}
	{
		char big[(SASL_MAX / 3) * 4 + 64];
		struct buf b = BUF_INIT;

		memset(big, 'A', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(sasl_b64_decode(big, strlen(big), out, &n), -1);
		sasl_b64_encode((const uint8_t *)"\0alice\0secret", 13, &b);
		assert_string_equal(buf_cstr(&b), "AGFsaWNlAHNlY3JldA==");
		buf_free(&b);
	}
}

static void
test_plain(void **state)
{
	static const struct {
		const char *msg;
		size_t len;
		int ok;
		const char *authzid, *authcid, *passwd;
	} rows[] = {
#define R(lit, ok, z, c, p) {lit, sizeof(lit) - 1, ok, z, c, p}
		R("\0alice@example.test\0secret", 0, "", "alice@example.test", "secret"),
		R("alice\0alice\0pw", 0, "alice", "alice", "pw"),
		R("\0alice\0pass word\xc3\xa9", 0, "", "alice", "pass word\xc3\xa9"),
		R("\0\0secret", -1, NULL, NULL, NULL),	    /* no authcid */
		R("\0alice\0", -1, NULL, NULL, NULL),	    /* no password */
		R("\0alice", -1, NULL, NULL, NULL),	    /* one NUL */
		R("alice", -1, NULL, NULL, NULL),
		R("\0alice\0pw\0x", -1, NULL, NULL, NULL), /* a third NUL */
		R("\0al\xffice\0pw", -1, NULL, NULL, NULL), /* not UTF-8 */
#undef R
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t buf[64];
		struct sasl_plain p;
		int rc;

		memcpy(buf, rows[i].msg, rows[i].len);
		rc = sasl_plain_parse(buf, rows[i].len, &p);
		if (rc != rows[i].ok)
			fail_msg("row %zu: got %d", i, rc);
		if (rc == 0) {
			assert_string_equal(p.authzid, rows[i].authzid);
			assert_string_equal(p.authcid, rows[i].authcid);
			assert_int_equal(p.passwdlen, strlen(rows[i].passwd));
			assert_memory_equal(p.passwd, rows[i].passwd, p.passwdlen);
		}
	}
}

static void
test_login(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(sasl_login_text((const uint8_t *)"alice", 5, out, sizeof(out)), 0);
	assert_string_equal(out, "alice");
	assert_int_equal(sasl_login_text((const uint8_t *)"", 0, out, sizeof(out)), -1);
	assert_int_equal(sasl_login_text((const uint8_t *)"a\0b", 3, out, sizeof(out)), -1);
	assert_int_equal(sasl_login_text((const uint8_t *)"\xff\xfe", 2, out, sizeof(out)), -1);
	assert_int_equal(sasl_login_text((const uint8_t *)"1234567", 7, out, sizeof(out)), 0);
	assert_int_equal(sasl_login_text((const uint8_t *)"12345678", 8, out, sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_login),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
