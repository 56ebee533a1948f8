/* SPDX-License-Identifier: ISC */
/*
 * test_dkim - whole-message DKIM (src/mailauth/dkim.c): the RFC 8463
 * Appendix A message verifies with its keys, tampering fails it, our
 * signatures (RSA-2048, Ed25519, both, each canonicalization) verify, and
 * the rules: rsa-sha1 and short RSA keys never pass, x= expires, t= in the
 * future, oversigned From, testing keys, revoked keys, DNS failures; a key
 * cache and a loaded private key change nothing but the cost, whole or
 * streamed.
 * Data files come from tests/data/dkim (DKIM_DATA is set by meson).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"

#define RFC8463_T 1528637909
#define NOW 1700000000

/* load - a data file; with crlf, LF line ends become CRLF. */
static void
load(const char *name, bool crlf, struct buf *out)
{
	char path[512];
	FILE *fp;
	int c;

	snprintf(path, sizeof(path), "%s/%s", DKIM_DATA, name);
	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	while ((c = fgetc(fp)) != EOF) {
		if (c == '\n' && crlf)
			buf_addc(out, '\r');
		buf_addc(out, (char)c);
	}
	fclose(fp);
}

/* record - the key record of a "<name> <value>" zone line or a bare file. */
static void
record(const char *file, const char *name, struct buf *out)
{
	struct buf z = BUF_INIT;
	const char *p, *e;

	load(file, false, &z);
	p = name != NULL ? strstr(buf_cstr(&z), name) : buf_cstr(&z);
	assert_non_null(p);
	if (name != NULL)
		p += strlen(name) + 1;
	e = strchr(p, '\n');
	buf_add(out, p, e != NULL ? (size_t)(e - p) : strlen(p));
	buf_free(&z);
}

/* verify_stream - the same verification with the header section given
 * first and the body fed in small uneven chunks: it must agree. */
static void
verify_stream(const char *msg, size_t len, const struct dkim_keyans *ans, size_t nans, time_t now,
	      const struct dkim_sigres *want, size_t max)
{
	const char *end = NULL, *why;
	struct dkim_verify *v;
	struct dkim_sigres res;
	size_t i, n, hlen, pos, step = 1;

	for (i = 0; i + 4 <= len && end == NULL; i++)
		if (memcmp(msg + i, "\r\n\r\n", 4) == 0)
			end = msg + i + 4;
	hlen = end != NULL ? (size_t)(end - msg) : len;
	assert_int_equal(dkim_verify_begin_stream(msg, hlen, &v, &why), 0);
	for (pos = hlen; pos < len; pos += step, step = step * 3 % 17 + 1)
		dkim_verify_body(v, msg + pos, pos + step <= len ? step : len - pos);
	dkim_verify_body_end(v);
	n = dkim_verify_count(v);
	for (i = 0; i < n && i < max; i++) {
		dkim_verify_sig(v, i, &ans[i < nans ? i : nans - 1], now, &res);
		assert_int_equal(res.result, want[i].result);
		assert_string_equal(res.reason, want[i].reason);
		assert_true(res.body_len == want[i].body_len);
	}
	dkim_verify_free(v);
}

/* verify_all - verify every signature of msg with one key answer each,
 * whole and streamed. */
static size_t
verify_all(const char *msg, size_t len, const struct dkim_keyans *ans, size_t nans, time_t now,
	   struct dkim_sigres *res, size_t max)
{
	struct dkim_verify *v;
	const char *why;
	size_t i, n;

	assert_int_equal(dkim_verify_begin(msg, len, &v, &why), 0);
	n = dkim_verify_count(v);
	for (i = 0; i < n && i < max; i++)
		dkim_verify_sig(v, i, &ans[i < nans ? i : nans - 1], now, &res[i]);
	dkim_verify_free(v);
	verify_stream(msg, len, ans, nans, now, res, max);
	return n;
}

static void
test_rfc8463(void **state)
{
	struct buf msg = BUF_INIT, ed = BUF_INIT, rsa = BUF_INIT;
	struct dkim_keyans ans[2];
	struct dkim_sigres res[2];
	struct dkim_verify *v;
	char q[DKIM_QNAME_MAX + 1];
	const char *why;
	char *p;

	(void)state;
	load("rfc6376.signed.msg", true, &msg);
	record("rfc8463.zone", "brisbane._domainkey.football.example.com", &ed);
	record("rfc8463.zone", "test._domainkey.football.example.com", &rsa);
	assert_int_equal(dkim_verify_begin(msg.data, msg.len, &v, &why), 0);
	assert_int_equal(dkim_verify_qname(v, 0, q, sizeof(q)), 0);
	assert_string_equal(q, "brisbane._domainkey.football.example.com");
	dkim_verify_free(v);
	ans[0] = (struct dkim_keyans){DKIM_DNS_FOUND, ed.data, ed.len};
	ans[1] = (struct dkim_keyans){DKIM_DNS_FOUND, rsa.data, rsa.len};
	assert_int_equal(verify_all(msg.data, msg.len, ans, 2, RFC8463_T, res, 2), 2);
	assert_int_equal(res[0].result, DKIM_PASS);
	assert_int_equal(res[0].alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(res[1].result, DKIM_PASS);
	assert_string_equal(res[1].d, "football.example.com");
	/* a one-word body change fails both */
	p = strstr(msg.data, "hungry");
	memcpy(p, "HUNGRY", 6);
	verify_all(msg.data, msg.len, ans, 2, RFC8463_T, res, 2);
	assert_int_equal(res[0].result, DKIM_FAIL);
	assert_string_equal(res[0].reason, "body hash mismatch");
	assert_int_equal(res[1].result, DKIM_FAIL);
	/* a header change fails the signature, not the body hash */
	memcpy(p, "hungry", 6);
	p = strstr(msg.data, "dinner");
	memcpy(p, "DINNER", 6);
	verify_all(msg.data, msg.len, ans, 2, RFC8463_T, res, 2);
	assert_string_equal(res[0].reason, "signature did not verify");
	assert_string_equal(res[1].reason, "signature did not verify");
	/* the keys swapped: wrong type */
	memcpy(p, "dinner", 6);
	ans[0].txt = rsa.data;
	ans[0].len = rsa.len;
	verify_all(msg.data, msg.len, ans, 1, RFC8463_T, res, 2);
	assert_int_equal(res[0].result, DKIM_PERMERROR);
	buf_free(&msg);
	buf_free(&ed);
	buf_free(&rsa);
}

struct signed_msg {
	struct buf msg;
};

/* sign_with - prepend a signature made with key file pem to msg. */
static void
sign_with(struct buf *msg, const char *pem, enum dkim_alg alg, enum dkim_canon c,
	  const char *sel, uint64_t expire)
{
	struct buf key = BUF_INIT, sig = BUF_INIT, out = BUF_INIT;
	struct dkim_signer s = {"example.org", sel, NULL, alg, c, c, NULL, NOW, expire, NULL};
	const char *why = NULL;
	const char *line;

	load(pem, false, &key);
	s.key_pem = key.data;
	if (dkim_sign(msg->data, msg->len, &s, &sig, &why) != 0)
		fail_msg("sign: %s", why);
	/* folded at 78 columns */
	for (line = sig.data; line != NULL; line = strstr(line, "\r\n")) {
		const char *next;

		line += line == sig.data ? 0 : 2;
		next = strstr(line, "\r\n");
		if (next != NULL && (size_t)(next - line) > DKIM_FOLD_COLS)
			fail_msg("line longer than 78: %.*s", (int)(next - line), line);
		if (next == NULL)
			break;
	}
	buf_add(&out, sig.data, sig.len);
	buf_add(&out, msg->data, msg->len);
	buf_free(msg);
	*msg = out;
	buf_free(&key);
	buf_free(&sig);
}

static void
test_roundtrip(void **state)
{
	static const enum dkim_canon canons[] = {DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE};
	struct buf rsa = BUF_INIT, ed = BUF_INIT;
	size_t c;

	(void)state;
	record("2048_testkey_wo_markers.pub.txt", NULL, &rsa);
	record("rfc8463.zone", "brisbane._domainkey.football.example.com", &ed);
	for (c = 0; c < 2; c++) {
		struct buf msg = BUF_INIT;
		struct dkim_keyans ans[2] = {{DKIM_DNS_FOUND, ed.data, ed.len},
					     {DKIM_DNS_FOUND, rsa.data, rsa.len}};
		struct dkim_sigres res[2];

		load("rfc6376.msg", true, &msg);
		sign_with(&msg, "2048_testkey.key", DKIM_ALG_RSA_SHA256, canons[c], "rsa", 0);
		sign_with(&msg, "ed25519-rfc8463.pem", DKIM_ALG_ED25519_SHA256, canons[c], "ed", 0);
		assert_int_equal(verify_all(msg.data, msg.len, ans, 2, NOW + 10, res, 2), 2);
		if (res[0].result != DKIM_PASS || res[1].result != DKIM_PASS)
			fail_msg("canon %zu: %s / %s\n%s", c, res[0].reason, res[1].reason,
				 msg.data);
		assert_int_equal(res[0].alg, DKIM_ALG_ED25519_SHA256);
		assert_int_equal(res[1].alg, DKIM_ALG_RSA_SHA256);
		/* an added From (oversigned) breaks both */
		{
			struct buf m2 = BUF_INIT;

			buf_adds(&m2, "From: mallory@evil.example\r\n");
			buf_add(&m2, msg.data, msg.len);
			verify_all(m2.data, m2.len, ans, 2, NOW + 10, res, 2);
			assert_int_equal(res[0].result, DKIM_FAIL);
			assert_int_equal(res[1].result, DKIM_FAIL);
			buf_free(&m2);
		}
		buf_free(&msg);
	}
	buf_free(&rsa);
	buf_free(&ed);
}

static void
test_times(void **state)
{
	struct buf msg = BUF_INIT, ed = BUF_INIT;
	struct dkim_keyans ans;
	struct dkim_sigres res;

	(void)state;
	record("rfc8463.zone", "brisbane._domainkey.football.example.com", &ed);
	ans = (struct dkim_keyans){DKIM_DNS_FOUND, ed.data, ed.len};
	load("rfc6376.msg", true, &msg);
	sign_with(&msg, "ed25519-rfc8463.pem", DKIM_ALG_ED25519_SHA256, DKIM_CANON_RELAXED, "ed",
		  3600);
	assert_non_null(strstr(msg.data, "x=1700003600;"));
	verify_all(msg.data, msg.len, &ans, 1, NOW + 3600, &res, 1);
	assert_int_equal(res.result, DKIM_PASS);
	verify_all(msg.data, msg.len, &ans, 1, NOW + 3601, &res, 1);
	assert_int_equal(res.result, DKIM_FAIL);
	assert_string_equal(res.reason, "signature expired");
	verify_all(msg.data, msg.len, &ans, 1, NOW - DKIM_CLOCK_SKEW - 1, &res, 1);
	assert_string_equal(res.reason, "signature timestamp in the future");
	buf_free(&msg);
	buf_free(&ed);
}

static void
test_key_answers(void **state)
{
	static const struct {
		enum dkim_dns status;
		const char *txt;
		enum dkim_result want;
	} rows[] = {
		{DKIM_DNS_TEMPFAIL, "", DKIM_TEMPERROR},
		{DKIM_DNS_NOTFOUND, "", DKIM_PERMERROR},
		{DKIM_DNS_FOUND, "v=DKIM1; k=ed25519; p=", DKIM_PERMERROR},
		{DKIM_DNS_FOUND, "v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		 DKIM_PERMERROR},
		{DKIM_DNS_FOUND, "v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		 DKIM_PERMERROR},
		{DKIM_DNS_FOUND, "v=DKIM1; k=ed25519; s=tlsrpt; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		 DKIM_PERMERROR},
		{DKIM_DNS_FOUND, "v=DKIM1; k=ed25519; t=s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		 DKIM_PASS},
		{DKIM_DNS_FOUND, "k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", DKIM_PASS},
		/* a different (valid) key: fails, or is neutral when testing */
		{DKIM_DNS_FOUND, "k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=", DKIM_FAIL},
		{DKIM_DNS_FOUND, "k=ed25519; t=y; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=",
		 DKIM_NEUTRAL},
	};
	struct buf msg = BUF_INIT;
	size_t i;

	(void)state;
	load("rfc6376.msg", true, &msg);
	sign_with(&msg, "ed25519-rfc8463.pem", DKIM_ALG_ED25519_SHA256, DKIM_CANON_RELAXED, "ed", 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dkim_keyans ans = {rows[i].status, rows[i].txt, strlen(rows[i].txt)};
		struct dkim_sigres res;

		verify_all(msg.data, msg.len, &ans, 1, NOW, &res, 1);
		if (res.result != rows[i].want)
			fail_msg("row %zu: %s (%s)", i, dkim_result_name(res.result), res.reason);
	}
	buf_free(&msg);
}

static void
test_rfc8301(void **state)
{
	struct buf msg = BUF_INIT, key = BUF_INIT, rec = BUF_INIT, sig = BUF_INIT;
	struct dkim_signer s = {"example.org", "short", NULL, DKIM_ALG_RSA_SHA256,
				DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, NULL, NOW, 0, NULL};
	struct dkim_keyans ans;
	struct dkim_sigres res;
	const char *why;

	(void)state;
	/* we never sign with a short key or with rsa-sha1 */
	load("rfc6376.msg", true, &msg);
	load("rsa512.pem", false, &key);
	s.key_pem = key.data;
	assert_int_equal(dkim_sign(msg.data, msg.len, &s, &sig, &why), -1);
	buf_free(&key);
	load("test.private", false, &key);
	s.key_pem = key.data;
	s.alg = DKIM_ALG_RSA_SHA1;
	assert_int_equal(dkim_sign(msg.data, msg.len, &s, &sig, &why), -1);
	/* a 1024-bit key passes; the same signature with a 512-bit key record is refused */
	s.alg = DKIM_ALG_RSA_SHA256;
	sign_with(&msg, "test.private", DKIM_ALG_RSA_SHA256, DKIM_CANON_RELAXED, "short", 0);
	record("test.txt", NULL, &rec);
	ans = (struct dkim_keyans){DKIM_DNS_FOUND, rec.data, rec.len};
	verify_all(msg.data, msg.len, &ans, 1, NOW, &res, 1);
	assert_int_equal(res.result, DKIM_PASS);
	buf_reset(&rec);
	buf_adds(&rec, "v=DKIM1; k=rsa; p=");
	record("rsa512.pub.b64", NULL, &rec);
	ans = (struct dkim_keyans){DKIM_DNS_FOUND, rec.data, rec.len};
	verify_all(msg.data, msg.len, &ans, 1, NOW, &res, 1);
	assert_int_equal(res.result, DKIM_PERMERROR);
	assert_string_equal(res.reason, "RSA key shorter than 1024 bits (RFC 8301)");
	/* rsa-sha1 never passes, whatever the key */
	{
		const char *m = "DKIM-Signature: v=1; a=rsa-sha1; d=example.org; s=short; h=from;"
				" bh=AAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=dGVzdA==\r\nFrom: a@example.org\r\n"
				"\r\nbody\r\n";

		verify_all(m, strlen(m), &ans, 1, NOW, &res, 1);
		assert_int_equal(res.result, DKIM_PERMERROR);
		assert_string_equal(res.reason, "rsa-sha1 is not accepted (RFC 8301)");
	}
	buf_free(&msg);
	buf_free(&key);
	buf_free(&rec);
	buf_free(&sig);
}

static void
test_malformed(void **state)
{
	static const char *const msgs[] = {
		"DKIM-Signature: v=1; a=rsa-sha256\r\nFrom: a\r\n\r\n",
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; h=to; "
		"bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=dGVzdA==\r\nFrom: a\r\n\r\n",
	};
	struct dkim_keyans ans = {DKIM_DNS_FOUND, "p=", 2};
	struct dkim_verify *v;
	struct dkim_sigres res;
	const char *why;
	char q[DKIM_QNAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		assert_int_equal(dkim_verify_begin(msgs[i], strlen(msgs[i]), &v, &why), 0);
		assert_int_equal(dkim_verify_count(v), 1);
		assert_int_equal(dkim_verify_qname(v, 0, q, sizeof(q)), -1);
		dkim_verify_sig(v, 0, NULL, NOW, &res);
		assert_int_equal(res.result, DKIM_PERMERROR);
		dkim_verify_sig(v, 0, &ans, NOW, &res);
		assert_int_equal(res.result, DKIM_PERMERROR);
		dkim_verify_free(v);
	}
	assert_int_equal(dkim_verify_begin(" bad\r\n\r\n", 8, &v, &why), -1);
}

/* Streaming signing gives byte for byte what dkim_sign() gives on the whole
 * message (RSA PKCS#1 v1.5 and Ed25519 are deterministic), however the
 * body is cut, and one stream serves several keys. */
static void
test_sign_stream(void **state)
{
	static const size_t chunks[] = {1, 7, 4096, 1 << 20};
	struct buf msg = BUF_INIT, rsa = BUF_INIT, ed = BUF_INIT, whole = BUF_INIT;
	struct dkim_signer s[2] = {
		{"example.org", "rsa", NULL, DKIM_ALG_RSA_SHA256, DKIM_CANON_RELAXED,
		 DKIM_CANON_RELAXED, NULL, NOW, 0, NULL},
		{"example.org", "ed", NULL, DKIM_ALG_ED25519_SHA256, DKIM_CANON_RELAXED,
		 DKIM_CANON_RELAXED, NULL, NOW, 3600, NULL},
	};
	struct dkim_signing *g;
	const char *why = NULL, *body;
	size_t c, k, hlen, off;

	(void)state;
	load("rfc6376.msg", true, &msg);
	load("2048_testkey.key", false, &rsa);
	load("ed25519-rfc8463.pem", false, &ed);
	s[0].key_pem = rsa.data;
	s[1].key_pem = ed.data;
	for (k = 0; k < 2; k++)
		assert_int_equal(dkim_sign(msg.data, msg.len, &s[k], &whole, &why), 0);
	body = strstr(msg.data, "\r\n\r\n") + 4;
	hlen = (size_t)(body - msg.data);
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct buf out = BUF_INIT;

		assert_int_equal(dkim_sign_begin(msg.data, hlen, DKIM_CANON_RELAXED, &g, &why), 0);
		for (off = hlen; off < msg.len; off += chunks[c])
			dkim_sign_body(g, msg.data + off,
				       msg.len - off < chunks[c] ? msg.len - off : chunks[c]);
		for (k = 0; k < 2; k++)
			assert_int_equal(dkim_sign_add(g, &s[k], &out, &why), 0);
		if (strcmp(buf_cstr(&out), buf_cstr(&whole)) != 0)
			fail_msg("chunk %zu:\n%s\nwant\n%s", chunks[c], out.data, whole.data);
		dkim_sign_free(g);
		buf_free(&out);
	}
	/* a header section with part of the body after it: the rest follows */
	{
		struct buf out = BUF_INIT;

		assert_int_equal(dkim_sign_begin(msg.data, hlen + 10, DKIM_CANON_RELAXED, &g, &why),
				 0);
		dkim_sign_body(g, msg.data + hlen + 10, msg.len - hlen - 10);
		assert_int_equal(dkim_sign_add(g, &s[0], &out, &why), 0);
		assert_int_equal(dkim_sign_add(g, &s[1], &out, &why), 0);
		assert_string_equal(buf_cstr(&out), buf_cstr(&whole));
		/* another body canonicalization than the stream hashed is refused */
		s[0].bcanon = DKIM_CANON_SIMPLE;
		assert_int_equal(dkim_sign_add(g, &s[0], &out, &why), -1);
		s[0].bcanon = DKIM_CANON_RELAXED;
		dkim_sign_free(g);
		buf_free(&out);
	}
	/* no From: refused before any body is read */
	body = "To: a@example.org\r\n\r\n";
	assert_int_equal(dkim_sign_begin(body, strlen(body), DKIM_CANON_RELAXED, &g, &why), -1);
	assert_null(g);
	dkim_sign_free(NULL);
	buf_free(&msg);
	buf_free(&rsa);
	buf_free(&ed);
	buf_free(&whole);
}

/* An encrypted key fails with its reason; OpenSSL's default would have
 * asked for a passphrase on the terminal, which a daemon cannot answer. */
static void
test_encrypted_key(void **state)
{
	struct dkim_signer s = {"example.org", "enc", NULL, DKIM_ALG_ED25519_SHA256,
				DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, NULL, NOW, 0, NULL};
	struct buf msg = BUF_INIT, sig = BUF_INIT;
	struct dkim_privkey *k = NULL;
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *bio = BIO_new(BIO_s_mem());
	const char *why = NULL, *m = "From: a@example.org\r\n\r\nhi\r\n";
	char *pem;
	long n;

	(void)state;
	assert_non_null(pk);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, EVP_aes_256_cbc(), NULL, 0, NULL,
						  (void *)"secret"),
			 1);
	n = BIO_get_mem_data(bio, &pem);
	buf_add(&msg, pem, (size_t)n); /* NUL-terminated by buf */
	s.key_pem = msg.data;
	assert_int_equal(dkim_sign(m, strlen(m), &s, &sig, &why), -1);
	assert_string_equal(why, "the private key is encrypted");
	assert_int_equal(sig.len, 0);
	why = NULL;
	assert_int_equal(dkim_privkey_load(msg.data, DKIM_ALG_ED25519_SHA256, &k, &why), -1);
	assert_string_equal(why, "the private key is encrypted");
	assert_null(k);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	buf_free(&msg);
}

static void
test_gmail_folding(void **state)
{
	struct buf msg = BUF_INIT;
	struct dkim_verify *v;
	const char *why;
	char q[DKIM_QNAME_MAX + 1];

	(void)state;
	load("test2.message", true, &msg);
	assert_int_equal(dkim_verify_begin(msg.data, msg.len, &v, &why), 0);
	assert_int_equal(dkim_verify_count(v), 1);
	assert_int_equal(dkim_verify_qname(v, 0, q, sizeof(q)), 0);
	assert_string_equal(q, "20120113._domainkey.gmail.com");
	dkim_verify_free(v);
	buf_free(&msg);
}

static void
test_body_length(void **state)
{
	/* lengthsig.eml: rfc6376.msg signed by dkimpy with l=54 (the whole body) */
	struct buf msg = BUF_INIT, ed = BUF_INIT, m2 = BUF_INIT;
	struct dkim_keyans ans;
	struct dkim_sigres res;
	const time_t now = 1795860698 + 10;
	char *p;

	(void)state;
	load("lengthsig.eml", false, &msg);
	record("rfc8463.zone", "brisbane._domainkey.football.example.com", &ed);
	ans = (struct dkim_keyans){DKIM_DNS_FOUND, ed.data, ed.len};
	verify_all(msg.data, msg.len, &ans, 1, now, &res, 1);
	assert_int_equal(res.result, DKIM_PASS);
	assert_int_equal(res.body_len, 54);
	/* appended content is not vouched for: neutral, never pass */
	buf_add(&m2, msg.data, msg.len);
	buf_adds(&m2, "Click here\r\n");
	verify_all(m2.data, m2.len, &ans, 1, now, &res, 1);
	assert_int_equal(res.result, DKIM_NEUTRAL);
	assert_int_equal(res.body_hashed, 54);
	/* a body shorter than l= fails */
	p = strstr(msg.data, "Joe.\r\n");
	assert_non_null(p);
	msg.len = (size_t)(p - msg.data);
	verify_all(msg.data, msg.len, &ans, 1, now, &res, 1);
	assert_int_equal(res.result, DKIM_FAIL);
	assert_string_equal(res.reason, "l= is longer than the body");
	buf_free(&msg);
	buf_free(&ed);
	buf_free(&m2);
}

/* verify_one - the first signature of msg, through cache c (may be NULL),
 * whole or with the body streamed in 100-byte chunks. */
static void
verify_one(const struct buf *msg, const struct dkim_keyans *ans, struct dkim_keycache *c,
	   bool stream, struct dkim_sigres *res)
{
	const char *body = strstr(msg->data, "\r\n\r\n") + 4, *why;
	size_t hlen = (size_t)(body - msg->data), pos;
	struct dkim_verify *v;

	if (!stream) {
		assert_int_equal(dkim_verify_begin(msg->data, msg->len, &v, &why), 0);
	} else {
		assert_int_equal(dkim_verify_begin_stream(msg->data, hlen, &v, &why), 0);
		for (pos = hlen; pos < msg->len; pos += 100)
			dkim_verify_body(v, msg->data + pos,
					 msg->len - pos < 100 ? msg->len - pos : 100);
		dkim_verify_body_end(v);
	}
	dkim_verify_use_cache(v, c);
	dkim_verify_sig(v, 0, ans, NOW, res);
	dkim_verify_free(v);
}

static bool
same_res(const struct dkim_sigres *a, const struct dkim_sigres *b)
{
	return a->result == b->result && strcmp(a->reason, b->reason) == 0 &&
	       a->testing == b->testing && a->body_len == b->body_len;
}

static void
test_key_cache(void **state)
{
	/* every record twice, whole and streamed: through a cache of two that
	 * keeps evicting, a miss and a hit give what no cache gives; so does
	 * a streamed message through a cache of one, which the rows evict
	 * each time (always a miss) */
	static const struct {
		int rsa; /* the message signed with RSA (else Ed25519) */
		const char *file, *txt;
		enum dkim_result want;
	} rows[] = {
		{0, NULL, "k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", DKIM_PASS},
		{0, NULL, "k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=", DKIM_FAIL},
		{0, NULL, "k=ed25519; t=y; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=", DKIM_NEUTRAL},
		{0, NULL, "k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		 DKIM_PERMERROR},
		{0, NULL, "v=DKIM1; k=ed25519; p=", DKIM_PERMERROR},
		{1, "2048_testkey_wo_markers.pub.txt", NULL, DKIM_PASS},     /* SPKI */
		{1, "2048_testkey_wo_markers.pub.rsa.txt", NULL, DKIM_PASS}, /* PKCS#1 */
		{0, "2048_testkey_wo_markers.pub.txt", NULL, DKIM_PERMERROR},  /* wrong type */
		{1, NULL, "k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", DKIM_PERMERROR},
	};
	struct dkim_keycache *c = dkim_keycache_new(2), *c1 = dkim_keycache_new(1);
	struct buf msg[2] = {BUF_INIT, BUF_INIT};
	size_t i, k;

	(void)state;
	load("rfc6376.msg", true, &msg[0]);
	load("rfc6376.msg", true, &msg[1]);
	sign_with(&msg[0], "ed25519-rfc8463.pem", DKIM_ALG_ED25519_SHA256, DKIM_CANON_RELAXED, "ed",
		  0);
	sign_with(&msg[1], "2048_testkey.key", DKIM_ALG_RSA_SHA256, DKIM_CANON_SIMPLE, "rsa", 0);
	for (k = 0; k < 2; k++)
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			const struct buf *m = &msg[rows[i].rsa];
			struct buf rec = BUF_INIT;
			struct dkim_keyans ans;
			struct dkim_sigres plain, miss, hit, s_hit, s_miss;

			if (rows[i].file != NULL)
				record(rows[i].file, NULL, &rec);
			else
				buf_adds(&rec, rows[i].txt);
			ans = (struct dkim_keyans){DKIM_DNS_FOUND, rec.data, rec.len};
			verify_one(m, &ans, NULL, false, &plain);
			verify_one(m, &ans, c, false, &miss);
			verify_one(m, &ans, c, false, &hit);
			verify_one(m, &ans, c, true, &s_hit);
			verify_one(m, &ans, c1, true, &s_miss);
			if (plain.result != rows[i].want || !same_res(&miss, &plain) ||
			    !same_res(&hit, &plain) || !same_res(&s_hit, &plain) ||
			    !same_res(&s_miss, &plain))
				fail_msg("row %zu: %s (%s) / %s (%s) / %s (%s) / %s (%s) / %s (%s)",
					 i, dkim_result_name(plain.result), plain.reason,
					 dkim_result_name(miss.result), miss.reason,
					 dkim_result_name(hit.result), hit.reason,
					 dkim_result_name(s_hit.result), s_hit.reason,
					 dkim_result_name(s_miss.result), s_miss.reason);
			buf_free(&rec);
		}
	dkim_keycache_free(c);
	dkim_keycache_free(c1);
	dkim_keycache_free(NULL);
	buf_free(&msg[0]);
	buf_free(&msg[1]);
}

/* sign_stream - the signature of s over msg, its body streamed in 100-byte
 * chunks. */
static void
sign_stream(const struct buf *msg, const struct dkim_signer *s, struct buf *out)
{
	const char *body = strstr(msg->data, "\r\n\r\n") + 4, *why = NULL;
	size_t hlen = (size_t)(body - msg->data), pos;
	struct dkim_signing *g;

	assert_int_equal(dkim_sign_begin(msg->data, hlen, s->bcanon, &g, &why), 0);
	for (pos = hlen; pos < msg->len; pos += 100)
		dkim_sign_body(g, msg->data + pos, msg->len - pos < 100 ? msg->len - pos : 100);
	if (dkim_sign_add(g, s, out, &why) != 0)
		fail_msg("dkim_sign_add: %s", why);
	dkim_sign_free(g);
}

static void
test_privkey(void **state)
{
	/* a loaded key signs as its PEM does, whole and streamed (RSA PKCS#1
	 * v1.5 and Ed25519 signatures are deterministic); a key of the wrong
	 * type is refused */
	static const struct {
		const char *file;
		enum dkim_alg alg, other;
	} keys[] = {
		{"ed25519-rfc8463.pem", DKIM_ALG_ED25519_SHA256, DKIM_ALG_RSA_SHA256},
		{"2048_testkey.key", DKIM_ALG_RSA_SHA256, DKIM_ALG_ED25519_SHA256},
	};
	struct buf msg = BUF_INIT;
	struct dkim_privkey *none = NULL;
	const char *why = NULL;
	size_t i;

	(void)state;
	load("rfc6376.msg", true, &msg);
	assert_int_equal(dkim_privkey_load("not a key", DKIM_ALG_ED25519_SHA256, &none, &why), -1);
	assert_string_equal(why, "cannot read the private key");
	assert_null(none);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct buf pem = BUF_INIT, a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
		struct dkim_signer s = {"example.org", "sel", NULL, keys[i].alg,
					DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, NULL, NOW, 0, NULL};
		struct dkim_privkey *k = NULL;

		load(keys[i].file, false, &pem);
		assert_int_equal(dkim_privkey_load(pem.data, keys[i].other, &k, &why), -1);
		assert_string_equal(why, "private key type does not match the algorithm");
		assert_int_equal(dkim_privkey_load(pem.data, keys[i].alg, &k, &why), 0);
		s.key_pem = pem.data;
		assert_int_equal(dkim_sign(msg.data, msg.len, &s, &a, &why), 0);
		s.key_pem = NULL;
		s.key = k;
		assert_int_equal(dkim_sign(msg.data, msg.len, &s, &b, &why), 0);
		assert_string_equal(buf_cstr(&a), buf_cstr(&b));
		sign_stream(&msg, &s, &c);
		assert_string_equal(buf_cstr(&a), buf_cstr(&c));
		/* the key wins over a PEM given as well */
		s.key_pem = "not a key";
		buf_reset(&b);
		assert_int_equal(dkim_sign(msg.data, msg.len, &s, &b, &why), 0);
		assert_string_equal(buf_cstr(&a), buf_cstr(&b));
		s.alg = keys[i].other;
		buf_reset(&b);
		assert_int_equal(dkim_sign(msg.data, msg.len, &s, &b, &why), -1);
		assert_string_equal(why, "private key type does not match the algorithm");
		assert_int_equal(b.len, 0);
		dkim_privkey_free(k);
		buf_free(&pem);
		buf_free(&a);
		buf_free(&b);
		buf_free(&c);
	}
	dkim_privkey_free(NULL);
	buf_free(&msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8463),	    cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_times),	    cmocka_unit_test(test_key_answers),
		cmocka_unit_test(test_rfc8301),	    cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_gmail_folding), cmocka_unit_test(test_body_length),
		cmocka_unit_test(test_encrypted_key), cmocka_unit_test(test_sign_stream),
		cmocka_unit_test(test_key_cache),     cmocka_unit_test(test_privkey),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
