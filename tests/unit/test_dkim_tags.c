/* SPDX-License-Identifier: ISC */
/*
 * test_dkim_tags - the DKIM tag-list parser, DKIM-Signature values, key
 * records and TXT string joining (src/mailauth/dkim_tags.c): tables of
 * good and malformed rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mailauth/dkim_tags.h"

#define BH "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; "
#define B "b=dGVzdA==; "
#define OK_SIG "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; " BH B

static void
test_taglist(void **state)
{
	static const struct {
		const char *in;
		int rc;
		size_t n;
	} rows[] = {
		{"", 0, 0},
		{"a=b", 0, 1},
		{"a=b;", 0, 1},
		{"a=b; ", 0, 1},
		{" a = b ; c=d", 0, 2},
		{"a=\r\n\tb c\r\n d;e=", 0, 2},
		{"a_1=x", 0, 1},
		{"a=b;;c=d", -1, 0},
		{";a=b", -1, 0},
		{"a=b;a=c", -1, 0},
		{"a", -1, 0},
		{"=b", -1, 0},
		{"1a=b", -1, 0},
		{"a-b=c", -1, 0},
		{"a=b\r\nc=d", -1, 0},
		{"a=b\r\n", -1, 0},
		{"a=b\nc", -1, 0},
		{"a=b\x01", -1, 0},
		{"a=b\rc", -1, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dkim_taglist tl;
		const char *why = NULL;
		int rc = dkim_tags_parse(rows[i].in, strlen(rows[i].in), &tl, &why);

		if (rc != rows[i].rc)
			fail_msg("row %zu: %s: rc %d", i, rows[i].in, rc);
		if (rc == 0)
			assert_int_equal(tl.n, rows[i].n);
		else
			assert_non_null(why);
	}
}

static void
test_taglist_values(void **state)
{
	const char *in = " a = b  c ;\r\n\tbb=\r\n\tx y\r\n z ; e=";
	struct dkim_taglist tl;
	const struct dkim_tag *t;
	const char *why;

	(void)state;
	assert_int_equal(dkim_tags_parse(in, strlen(in), &tl, &why), 0);
	t = dkim_tags_find(&tl, "a");
	assert_non_null(t);
	assert_int_equal(t->value_len, 4);
	assert_memory_equal(t->value, "b  c", 4);
	t = dkim_tags_find(&tl, "bb");
	assert_int_equal(t->value_len, strlen("x y\r\n z"));
	assert_memory_equal(t->value, "x y\r\n z", t->value_len);
	t = dkim_tags_find(&tl, "e");
	assert_int_equal(t->value_len, 0);
	assert_null(dkim_tags_find(&tl, "A"));
}

static void
test_b64(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} rows[] = {
		{"", 0, ""},
		{"dGVzdA==", 0, "test"},
		{"dGVz dA\r\n\t==", 0, "test"},
		{"Zm9vYmFy", 0, "foobar"},
		{"Zm9vYg==", 0, "foob"},
		{"Zm9vYmE=", 0, "fooba"},
		{"dGVzdA=", -1, NULL},
		{"dGVzdA", -1, NULL},
		{"dGVzd", -1, NULL},
		{"dG=Vz", -1, NULL},
		{"dGVz!A==", -1, NULL},
		{"dGVzdB==", -1, NULL}, /* non-zero pad bits */
		{"====", -1, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned char out[16];
		size_t n = 99;
		int rc = dkim_b64_decode(rows[i].in, strlen(rows[i].in), out, sizeof(out), &n);

		if (rc != rows[i].rc)
			fail_msg("row %zu: %s: rc %d", i, rows[i].in, rc);
		if (rc == 0) {
			assert_int_equal(n, strlen(rows[i].out));
			assert_memory_equal(out, rows[i].out, n);
		}
	}
	{
		unsigned char small[3];
		size_t n;

		assert_int_equal(dkim_b64_decode("Zm9vYg==", 8, small, sizeof(small), &n), -1);
	}
}

static void
test_sig_rows(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} rows[] = {
		{OK_SIG, 0},
		{OK_SIG "c=relaxed/relaxed; l=100; t=1000; x=2000; q=dns/txt; z=From:a", 0},
		{OK_SIG "c=relaxed", 0},
		{OK_SIG "i=@example.com", 0},
		{OK_SIG "i=user@sub.example.com", 0},
		{OK_SIG "unknown=tag", 0},
		{"v=1; a=rsa-sha256; d=Example.COM; s=sel; h=To : From; " BH B, 0},
		{"v=1; a=ed25519-sha256; d=example.com; s=s; h=from; " BH
		 "b=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAA==",
		 0},
		{OK_SIG "i=jlong@example=2Ecom", 0},
		{OK_SIG "i=jlong=40example.com", 0},
		{OK_SIG "i==6Along@example.com", 0},
		{OK_SIG "i=a=40evil.com", -1},
		{OK_SIG "i=a@example.com=", -1},
		{OK_SIG "i=a@example.com=4", -1},
		{OK_SIG "i=a@example.com=ZZ", -1},
		{OK_SIG "i=a=00@example.com", -1},
		{OK_SIG "i=user@evil.com", -1},
		{OK_SIG "i=user@notexample.com", -1},
		{OK_SIG "i=noat", -1},
		{OK_SIG "t=2000; x=2000", -1},
		{OK_SIG "t=2000; x=1000", -1},
		{OK_SIG "t=1234567890123", -1},
		{OK_SIG "t=-1", -1},
		{OK_SIG "l=abc", -1},
		{OK_SIG "l=99999999999999999999999", -1},
		{OK_SIG "c=relaxed/fancy", -1},
		{OK_SIG "c=fancy", -1},
		{OK_SIG "c=", -1},
		{OK_SIG "q=dns/other", -1},
		{OK_SIG "v=1", -1},
		{"v=2; a=rsa-sha256; d=example.com; s=sel; h=from; " BH B, -1},
		{"a=rsa-sha256; d=example.com; s=sel; h=from; " BH B, -1},
		{"v=1; a=rsa-md5; d=example.com; s=sel; h=from; " BH B, -1},
		{"v=1; d=example.com; s=sel; h=from; " BH B, -1},
		{"v=1; a=rsa-sha256; s=sel; h=from; " BH B, -1},
		{"v=1; a=rsa-sha256; d=example.com; h=from; " BH B, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; " BH B, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; " B, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; " BH, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; h=to:subject; " BH B, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; h=from::to; " BH B, -1},
		{"v=1; a=rsa-sha256; d=exa mple.com; s=sel; h=from; " BH B, -1},
		{"v=1; a=rsa-sha256; d=example..com; s=sel; h=from; " BH B, -1},
		{"v=1; a=rsa-sha256; d=.example.com; s=sel; h=from; " BH B, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=se/l; h=from; " BH B, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=dGVzdA==; " B, -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; " BH "b=", -1},
		{"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; " BH "b=!!", -1},
		{"v=1; a=ed25519-sha256; d=example.com; s=s; h=from; " BH B, -1},
		{OK_SIG "d=again.com", -1},
		{OK_SIG "\r\nx=1", -1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dkim_sig sig;
		const char *why = NULL;
		int rc = dkim_sig_parse(rows[i].in, strlen(rows[i].in), &sig, &why);

		if (rc != rows[i].rc)
			fail_msg("row %zu: %s: rc %d (%s)", i, rows[i].in, rc, why ? why : "");
	}
}

static void
test_sig_fields(void **state)
{
	const char *in = "v=1; a=rsa-sha256; c=relaxed/simple; d=Example.COM; s=Sel;\r\n"
			 "\th=From : To:\r\n\tSubject:from; l=42; t=100; x=200; " BH
			 "b=dGVz\r\n dA==";
	struct dkim_sig sig;
	const char *why;

	(void)state;
	assert_int_equal(dkim_sig_parse(in, strlen(in), &sig, &why), 0);
	assert_int_equal(sig.alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(sig.hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(sig.bcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(sig.d, "example.com");
	assert_string_equal(sig.s, "sel");
	assert_string_equal(sig.i, "@example.com");
	{
		const char *qp = OK_SIG "i=jlong=40example=2Ecom";
		struct dkim_sig q;

		assert_int_equal(dkim_sig_parse(qp, strlen(qp), &q, &why), 0);
		assert_string_equal(q.i, "jlong@example.com");
	}
	assert_int_equal(sig.nh, 4);
	assert_string_equal(sig.h[0], "From");
	assert_string_equal(sig.h[2], "Subject");
	assert_string_equal(sig.h[3], "from");
	assert_true(sig.has_l && sig.l == 42);
	assert_true(sig.has_t && sig.t == 100 && sig.has_x && sig.x == 200);
	assert_int_equal(sig.b_len, 4);
	assert_memory_equal(sig.b, "test", 4);
	assert_int_equal(sig.bh_len, 32);
	/* the b= value span runs from just after '=' to the last base64 byte */
	assert_int_equal(sig.b_end, strlen(in));
	assert_memory_equal(in + sig.b_off, "dGVz\r\n dA==", sig.b_end - sig.b_off);
}

static void
test_sig_sha1(void **state)
{
	const char *in = "v=1; a=rsa-sha1; d=example.com; s=s; h=from; "
			 "bh=AAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=dGVzdA==";
	struct dkim_sig sig;
	const char *why;

	(void)state;
	assert_int_equal(dkim_sig_parse(in, strlen(in), &sig, &why), 0);
	assert_int_equal(sig.alg, DKIM_ALG_RSA_SHA1);
}

static void
test_key_rows(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int k, revoked, testing, strict, sha256, email;
	} rows[] = {
		{"p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 1},
		{"v=DKIM1; k=rsa; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 1},
		{"v=DKIM1; p=", 0, DKIM_KEY_RSA, 1, 0, 0, 1, 1},
		{"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0,
		 DKIM_KEY_ED25519, 0, 0, 0, 1, 1},
		{"v=DKIM1; t=y:s; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 1, 1, 1, 1},
		{"v=DKIM1; t=y; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 1, 0, 1, 1},
		{"v=DKIM1; h=sha1; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 0, 1},
		{"v=DKIM1; h=sha1:sha256; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 1},
		{"v=DKIM1; s=email; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 1},
		{"v=DKIM1; s=*; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 1},
		{"v=DKIM1; s=tlsrpt; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 0},
		{"v=DKIM1; g=*; n=notes here; foo=bar; p=dGVzdA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 1},
		{"v=DKIM1; p=dGVz dA==", 0, DKIM_KEY_RSA, 0, 0, 0, 1, 1},
		{"v=DKIM1; k=ed25519; p=", 0, DKIM_KEY_ED25519, 1, 0, 0, 1, 1},
		{"v=DKIM2; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0},
		{"k=rsa; v=DKIM1; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0},
		{"v=DKIM1; k=dsa; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0},
		{"v=DKIM1; k=rsa", -1, 0, 0, 0, 0, 0, 0},
		{"v=DKIM1; p=!!!!", -1, 0, 0, 0, 0, 0, 0},
		{"v=DKIM1; k=ed25519; p=dGVzdA==", -1, 0, 0, 0, 0, 0, 0},
		{"v=DKIM1; p=a; p=b", -1, 0, 0, 0, 0, 0, 0},
		{"", -1, 0, 0, 0, 0, 0, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dkim_key key;
		const char *why = NULL;
		int rc = dkim_key_parse(rows[i].in, strlen(rows[i].in), &key, &why);

		if (rc != rows[i].rc)
			fail_msg("row %zu: %s: rc %d (%s)", i, rows[i].in, rc, why ? why : "");
		if (rc != 0)
			continue;
		assert_int_equal(key.k, rows[i].k);
		assert_int_equal(key.revoked, rows[i].revoked);
		assert_int_equal(key.testing, rows[i].testing);
		assert_int_equal(key.strict, rows[i].strict);
		assert_int_equal(key.sha256_ok, rows[i].sha256);
		assert_int_equal(key.email_ok, rows[i].email);
	}
}

static void
test_txt_join(void **state)
{
	char out[32];
	size_t n;

	(void)state;
	assert_int_equal(dkim_txt_join((const unsigned char *)"\x03v=D\x04KIM1", 9, out,
				       sizeof(out), &n), 0);
	assert_string_equal(out, "v=DKIM1");
	assert_int_equal(n, 7);
	assert_int_equal(dkim_txt_join((const unsigned char *)"\x00", 1, out, sizeof(out), &n), 0);
	assert_string_equal(out, "");
	assert_int_equal(dkim_txt_join((const unsigned char *)"\x05v=D", 4, out, sizeof(out), &n),
			 -1);
	assert_int_equal(dkim_txt_join((const unsigned char *)"\x02\x00x", 3, out, sizeof(out), &n),
			 -1);
	assert_int_equal(dkim_txt_join((const unsigned char *)"", 0, out, sizeof(out), &n), -1);
	assert_int_equal(dkim_txt_join((const unsigned char *)"\x04" "abcd", 5, out, 4, &n), -1);
	assert_int_equal(dkim_txt_join((const unsigned char *)"\x04" "abcd", 5, out, 5, &n), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taglist),	   cmocka_unit_test(test_taglist_values),
		cmocka_unit_test(test_b64),	   cmocka_unit_test(test_sig_rows),
		cmocka_unit_test(test_sig_fields), cmocka_unit_test(test_sig_sha1),
		cmocka_unit_test(test_key_rows),   cmocka_unit_test(test_txt_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
