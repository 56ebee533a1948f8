/* SPDX-License-Identifier: ISC */
/*
 * test_scram - SCRAM-SHA-256(-PLUS) server: stored keys (format, parse,
 * Dovecot and gsasl imports, password check) and the exchange (RFC 7677
 * vector, malformed messages, proofs, channel binding, the "y" downgrade
 * rule, unknown users, misuse of the state machine), plus interop with
 * the GNU SASL client.
 *
 * Reference values: RFC 7677 section 3 (the exchange) and the stored keys
 * for it computed once with Python's hashlib/hmac; `doveadm pw -s
 * SCRAM-SHA-256 -p PASSWORD` (Dovecot 2.3.19.1, Debian 12) and `gsasl -k
 * -m SCRAM-SHA-256 -p pencil --iteration-count 4096` (GNU SASL 2.2.0), run
 * by hand, for the fixed strings. When doveadm and gsasl are installed the
 * tests also run them live (no network: gsasl talks over pipes); without
 * them those parts are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "lib/buf.h"

/* RFC 7677 section 3. */
#define RFC_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_NONCE "rOprNGfwEbeRWgbNEkqO" RFC_SNONCE
#define RFC_SERVER_FIRST "r=" RFC_NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_FINAL "c=biws,r=" RFC_NONCE ",p=" RFC_PROOF
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* The stored keys of that exchange (hashlib.pbkdf2_hmac, hmac, sha256). */
#define RFC_STORED                                                                                 \
	"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"                                            \
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"                                            \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
/* doveadm pw -s SCRAM-SHA-256 -p 'correct horse,battery=staple' */
#define DOVEADM_PW "correct horse,battery=staple"
#define DOVEADM_STORED                                                                             \
	"{SCRAM-SHA-256}4096,xFGcYEpYTwM2aDuHKe0YXg==,"                                            \
	"T8f59lGx2I+QVYGw3HfrUBfWr3foNntgjCNAeFtdOA4=,"                                            \
	"lv7tLMHxXCQzXkktrGh0DpArX0BdNV2Dukbph1N/yKQ="
/* gsasl -k -m SCRAM-SHA-256 -p pencil --iteration-count 4096: a 12-byte salt */
#define GSASL_STORED                                                                               \
	"{SCRAM-SHA-256}4096,wduDTmcdNnwD80Av,"                                                    \
	"0tVNRl7nfqiFPEuIO/WWVvtFiFSrCKMTPKZP0+fNR1M=,"                                            \
	"TcggcdRrVbvwdmeLzW+3A3UAJFsyDCE/xrx08fElRS4="

static const uint8_t dummy_secret[SCRAM_DUMMY_SECRET_LEN] = "postern-test-scram-dummy-secret!";

static void
rfc_keys(struct scram_keys *k)
{
	assert_int_equal(scram_keys_parse(RFC_STORED, k), 0);
}

/* ---- a test client (RFC 5802 section 3, client side) ---- */

/* attr - the value of attribute a in a SCRAM message, into out. */
static void
attr(const char *msg, char a, char *out, size_t outsz)
{
	char pat[4] = {',', a, '=', '\0'};
	const char *p = strncmp(msg, pat + 1, 2) == 0 ? msg + 2 : strstr(msg, pat);
	size_t n;

	assert_non_null(p);
	if (p != msg + 2)
		p += 3;
	n = strcspn(p, ",");
	assert_true(n < outsz);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void
b64(const void *in, size_t n, struct buf *out)
{
	sasl_b64_encode(in, n, out);
}

/* client_final - the client-final-message for password pw, given the
 * client-first-message-bare, the server-first-message and the cbind-input
 * (gs2 header plus channel binding data); ext is inserted before the proof
 * ("" for none). The server-final the client expects goes to v. With pw
 * NULL, ckey is the ClientKey (and v is not meaningful). */
static void
client_final(const char *pw, const uint8_t *ckey, const char *bare, const char *sf,
	     const void *cbind, size_t cblen, const char *ext, struct buf *out, struct buf *v)
{
	char nonce[600], salt_b64[200], iter[16];
	uint8_t salt[SASL_MAX], salted[32], ck[32], sk[32], svk[32], cs[32], proof[32], sig[32];
	unsigned int len;
	size_t saltlen, i;
	struct buf am = BUF_INIT, wp = BUF_INIT;

	attr(sf, 'r', nonce, sizeof(nonce));
	attr(sf, 's', salt_b64, sizeof(salt_b64));
	attr(sf, 'i', iter, sizeof(iter));
	assert_int_equal(sasl_b64_decode(salt_b64, strlen(salt_b64), salt, &saltlen), 0);
	if (pw != NULL)
		assert_int_equal(PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)saltlen,
						   (int)strtoul(iter, NULL, 10), EVP_sha256(), 32,
						   salted),
				 1);
	else
		memset(salted, 0, sizeof(salted));
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, ck, &len);
	if (pw == NULL)
		memcpy(ck, ckey, 32);
	EVP_Digest(ck, 32, sk, &len, EVP_sha256(), NULL);
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Server Key", 10, svk, &len);
	buf_adds(&wp, "c=");
	b64(cbind, cblen, &wp);
	buf_addf(&wp, ",r=%s%s", nonce, ext);
	buf_addf(&am, "%s,%s,%s", bare, sf, buf_cstr(&wp));
	HMAC(EVP_sha256(), sk, 32, (const uint8_t *)am.data, am.len, cs, &len);
	for (i = 0; i < 32; i++)
		proof[i] = ck[i] ^ cs[i];
	HMAC(EVP_sha256(), svk, 32, (const uint8_t *)am.data, am.len, sig, &len);
	buf_addf(out, "%s,p=", buf_cstr(&wp));
	b64(proof, 32, out);
	buf_adds(v, "v=");
	b64(sig, 32, v);
	buf_free(&am);
	buf_free(&wp);
}

/* One exchange through the server, with the test client. */
struct ex {
	bool plus, adv;
	const char *first;	   /* client-first-message */
	const char *pw;		   /* the client's password */
	const uint8_t *ckey;	   /* or its ClientKey, when pw is NULL */
	const struct scram_keys *keys; /* NULL: unknown user */
	const uint8_t *ccb;	   /* channel binding the client uses (32 bytes) */
	const uint8_t *scb;	   /* channel binding the server has */
	size_t scblen;
	const char *ext;	   /* extension before the proof */
	const char *cbhdr;	   /* the client's gs2 header in c=, if not its own */
};

/* exchange - run x; 0 or -1 as scram_server_final, *err the error. The
 * client-first must parse. On success the server-final is checked. */
static int
exchange(const struct ex *x, enum scram_error *err)
{
	struct scram_server st;
	struct buf sf = BUF_INIT, cf = BUF_INIT, v = BUF_INIT, sfin = BUF_INIT;
	uint8_t cbind[SASL_MAX];
	const char *bare;
	size_t gs2len;
	int rc;

	scram_server_init(&st, x->plus, x->adv);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)x->first, strlen(x->first)),
			 0);
	if (x->keys != NULL)
		assert_int_equal(scram_server_first(&st, x->keys, "SRVnonce", &sf), 0);
	else
		assert_int_equal(scram_server_first_unknown(&st, dummy_secret, SCRAM_ITER_DEFAULT,
							    "SRVnonce", &sf),
				 0);
	bare = strstr(x->first, ",n=") + 1; /* gs2 headers in these tests have no ",n=" */
	gs2len = (size_t)(bare - x->first);
	if (x->cbhdr != NULL) {
		gs2len = strlen(x->cbhdr);
		memcpy(cbind, x->cbhdr, gs2len);
	} else {
		memcpy(cbind, x->first, gs2len);
	}
	if (x->ccb != NULL)
		memcpy(cbind + gs2len, x->ccb, SCRAM_CB_LEN);
	client_final(x->pw, x->ckey, bare, buf_cstr(&sf), cbind, gs2len + (x->ccb ? SCRAM_CB_LEN : 0),
		     x->ext ? x->ext : "", &cf, &v);
	rc = scram_server_final(&st, (const uint8_t *)cf.data, cf.len, x->scb, x->scblen, &sfin);
	*err = scram_server_error(&st);
	if (rc == 0) {
		assert_int_equal(st.state, SCRAM_S_DONE);
		if (x->pw != NULL)
			assert_string_equal(buf_cstr(&sfin), buf_cstr(&v));
		else
			assert_int_equal(sfin.len, 46);
	} else {
		assert_int_equal(st.state, SCRAM_S_FAILED);
		assert_int_equal(sfin.len, 0);
		assert_int_not_equal(*err, SCRAM_E_OK);
	}
	scram_server_clear(&st);
	buf_free(&sf);
	buf_free(&cf);
	buf_free(&v);
	buf_free(&sfin);
	return rc;
}

/* ---- stored keys ---- */

static void
test_rfc7677_keys(void **state)
{
	static const uint8_t salt[16] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
					 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
	struct scram_keys k, p;
	char s[SCRAM_STORED_MAX];

	(void)state;
	assert_int_equal(scram_keys_derive_salt("pencil", 6, 4096, salt, 16, &k), 0);
	assert_int_equal(scram_keys_format(&k, s, sizeof(s)), 0);
	assert_string_equal(s, RFC_STORED);
	assert_int_equal(scram_keys_parse(s, &p), 0);
	assert_memory_equal(&p, &k, sizeof(k));
	assert_int_equal(scram_keys_check_password(&p, "pencil", 6), 0);
	assert_int_equal(scram_keys_check_password(&p, "pencil ", 7), -1);
	assert_int_equal(scram_keys_check_password(&p, "Pencil", 6), -1);
	assert_int_equal(scram_keys_check_password(&p, "", 0), -1);
	/* the buffer must hold the string and its NUL */
	assert_int_equal(scram_keys_format(&k, s, strlen(RFC_STORED)), -1);
	assert_string_equal(s, "");
	assert_int_equal(scram_keys_format(&k, s, strlen(RFC_STORED) + 1), 0);
}

static void
test_derive(void **state)
{
	struct scram_keys a, b, p;
	char s[SCRAM_STORED_MAX], pw[SCRAM_PW_MAX + 1];

	(void)state;
	assert_int_equal(scram_keys_derive("secret", 6, SCRAM_ITER_DEFAULT, &a), 0);
	assert_int_equal(scram_keys_derive("secret", 6, SCRAM_ITER_DEFAULT, &b), 0);
	assert_int_equal(a.iter, 10000);
	assert_int_equal(a.saltlen, SCRAM_SALT_LEN);
	assert_memory_not_equal(a.salt, b.salt, SCRAM_SALT_LEN); /* random salt */
	assert_memory_not_equal(a.stored_key, b.stored_key, 32);
	assert_int_equal(scram_keys_format(&a, s, sizeof(s)), 0);
	assert_true(strncmp(s, "{SCRAM-SHA-256}10000,", 21) == 0);
	assert_int_equal(scram_keys_parse(s, &p), 0);
	assert_memory_equal(&p, &a, sizeof(a));
	assert_int_equal(scram_keys_check_password(&p, "secret", 6), 0);
	assert_int_equal(scram_keys_check_password(&p, "secreT", 6), -1);
	/* bounds */
	memset(pw, 'x', sizeof(pw));
	assert_int_equal(scram_keys_derive(pw, SCRAM_PW_MAX, SCRAM_ITER_MIN, &a), 0);
	assert_int_equal(scram_keys_derive(pw, SCRAM_PW_MAX + 1, SCRAM_ITER_MIN, &a), -1);
	assert_int_equal(scram_keys_derive(pw, 0, SCRAM_ITER_MIN, &a), -1);
	assert_int_equal(scram_keys_derive("pw", 2, SCRAM_ITER_MIN - 1, &a), -1);
	assert_int_equal(scram_keys_derive("pw", 2, SCRAM_ITER_MAX + 1, &a), -1);
	assert_int_equal(a.iter, 0); /* wiped */
	assert_int_equal(scram_keys_derive_salt("pw", 2, 4096, (const uint8_t *)"1234567", 7, &a),
			 -1);
	assert_int_equal(scram_keys_derive_salt("pw", 2, 4096, (const uint8_t *)"12345678", 8, &a),
			 0);
	/* out-of-range keys are not formatted */
	a.iter = 100;
	assert_int_equal(scram_keys_format(&a, s, sizeof(s)), -1);
}

static void
test_parse_refused(void **state)
{
	static const char *const ok[] = {
		RFC_STORED,
		"{scram-sha-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
		"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"{SCRAM-SHA-256}1000000,W22ZaJ0SNY7soEsUEjb6gQ==,"
		"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		DOVEADM_STORED,
		GSASL_STORED,
	};
#define K1 "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define K2 "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define S "W22ZaJ0SNY7soEsUEjb6gQ=="
	static const char *const bad[] = {
		"",
		"{SCRAM-SHA-256}",
		"4096," S "," K1 "," K2,				 /* no prefix */
		"{SCRAM-SHA-1}4096," S "," K1 "," K2,			 /* other scheme */
		"{SCRAM-SHA-256} 4096," S "," K1 "," K2,		 /* space */
		"{SCRAM-SHA-256}4095," S "," K1 "," K2,		 /* iter too low */
		"{SCRAM-SHA-256}1000001," S "," K1 "," K2,		 /* iter too high */
		"{SCRAM-SHA-256}04096," S "," K1 "," K2,		 /* leading zero */
		"{SCRAM-SHA-256}+4096," S "," K1 "," K2,		 /* sign */
		"{SCRAM-SHA-256}99999999999," S "," K1 "," K2,	 /* overflow */
		"{SCRAM-SHA-256}4096x," S "," K1 "," K2,		 /* junk */
		"{SCRAM-SHA-256},4096," S "," K1 "," K2,		 /* empty field */
		"{SCRAM-SHA-256}4096,," K1 "," K2,			 /* no salt */
		"{SCRAM-SHA-256}4096,=," K1 "," K2,			 /* empty salt */
		"{SCRAM-SHA-256}4096,AAAAAAA=," K1 "," K2,		 /* 5-byte salt */
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gR==," K1 "," K2, /* non-canonical */
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ," K1 "," K2, /* no padding */
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7s oEsUEjb6gQ==," K1 "," K2, /* space */
		/* libsodium 1.0.18 decodes bytes >= 0x80 as '/' (fuzz_scram regress/scram/
		 * stored-high-byte-in-base64) */
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6g\x80==," K1 "," K2,
		"{SCRAM-SHA-256}4096,wduDTm\xe3" "dNnwD00Av," K1 "," K2,
		"{SCRAM-SHA-256}4096," S ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4q\xc3\xa9=," K2,
		"{SCRAM-SHA-256}4096," S ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4q==," K2, /* 31 */
		"{SCRAM-SHA-256}4096," S "," K1 "AAAA," K2,		 /* 35 bytes */
		"{SCRAM-SHA-256}4096," S "," K1,			 /* three fields */
		"{SCRAM-SHA-256}4096," S "," K1 "," K2 ",",		 /* trailing comma */
		"{SCRAM-SHA-256}4096," S "," K1 "," K2 ",00ff",	 /* gsasl --verbose */
		"{SCRAM-SHA-256}4096," S "," K1 "," K2 "\n",		 /* newline */
		"{SCRAM-SHA-256}4096$" S "$" K1 "$" K2,		 /* other separator */
		"{SCRAM-SHA-256}4096," /* a 65-byte salt */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		"," K1 "," K2,
	};
#undef K1
#undef K2
#undef S
	struct scram_keys k;
	char big[SCRAM_STORED_MAX + 8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (scram_keys_parse(ok[i], &k) != 0)
			fail_msg("ok row %zu refused: %s", i, ok[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&k, 0xa5, sizeof(k));
		if (scram_keys_parse(bad[i], &k) != -1)
			fail_msg("bad row %zu accepted: %s", i, bad[i]);
		assert_int_equal(k.iter, 0); /* wiped */
		assert_int_equal(k.saltlen, 0);
	}
	/* a 64-byte salt is the limit; one over SCRAM_STORED_MAX is refused */
	snprintf(big, sizeof(big), "{SCRAM-SHA-256}4096,%.86s==,%s,%s",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
		 "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
	assert_int_equal(scram_keys_parse(big, &k), 0);
	assert_int_equal(k.saltlen, 64);
	memset(big, 'A', sizeof(big));
	memcpy(big, "{SCRAM-SHA-256}", 15);
	big[SCRAM_STORED_MAX + 1] = '\0';
	assert_int_equal(scram_keys_parse(big, &k), -1);
}

/* ---- the exchange ---- */

static void
test_rfc7677_exchange(void **state)
{
	struct scram_server st;
	struct scram_keys k;
	struct buf out = BUF_INIT;

	(void)state;
	rfc_keys(&k);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)RFC_FIRST,
						  strlen(RFC_FIRST)),
			 0);
	assert_string_equal(scram_server_username(&st), "user");
	assert_string_equal(scram_server_authzid(&st), "");
	assert_int_equal(scram_server_first(&st, &k, RFC_SNONCE, &out), 0);
	assert_string_equal(buf_cstr(&out), RFC_SERVER_FIRST);
	buf_reset(&out);
	assert_int_equal(scram_server_final(&st, (const uint8_t *)RFC_FINAL, strlen(RFC_FINAL),
					    NULL, 0, &out),
			 0);
	assert_string_equal(buf_cstr(&out), RFC_SERVER_FINAL);
	assert_int_equal(scram_server_error(&st), SCRAM_E_OK);
	/* done: nothing more is accepted */
	assert_int_equal(scram_server_final(&st, (const uint8_t *)RFC_FINAL, strlen(RFC_FINAL),
					    NULL, 0, &out),
			 -1);
	scram_server_clear(&st);
	buf_free(&out);
}

static void
test_first_messages(void **state)
{
	static const struct {
		const char *msg;
		bool plus, adv;
		enum scram_error want;
		const char *user, *authzid;
	} rows[] = {
		{"n,,n=user,r=abc", false, false, SCRAM_E_OK, "user", ""},
		{"n,,n=user,r=abc", false, true, SCRAM_E_OK, "user", ""},
		{"y,,n=user,r=abc", false, false, SCRAM_E_OK, "user", ""},
		{"y,,n=user,r=abc", false, true, SCRAM_E_SERVER_DOES_SUPPORT_CB, NULL, NULL},
		{"p=tls-exporter,,n=user,r=abc", true, true, SCRAM_E_OK, "user", ""},
		{"p=tls-exporter,,n=user,r=abc", true, false, SCRAM_E_OK, "user", ""},
		{"p=tls-exporter,,n=user,r=abc", false, false, SCRAM_E_CB_NOT_SUPPORTED, NULL, NULL},
		{"p=tls-exporter,,n=user,r=abc", false, true, SCRAM_E_OTHER, NULL, NULL},
		{"p=tls-unique,,n=user,r=abc", true, true, SCRAM_E_UNSUPPORTED_CB_TYPE, NULL, NULL},
		{"p=tls-server-end-point,,n=user,r=abc", true, true, SCRAM_E_UNSUPPORTED_CB_TYPE,
		 NULL, NULL},
		{"p=TLS-EXPORTER,,n=user,r=abc", true, true, SCRAM_E_UNSUPPORTED_CB_TYPE, NULL, NULL},
		{"n,,n=user,r=abc", true, true, SCRAM_E_OTHER, NULL, NULL},
		{"y,,n=user,r=abc", true, true, SCRAM_E_OTHER, NULL, NULL},
		{"p=,,n=user,r=abc", true, true, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"p=tls_exporter,,n=user,r=abc", true, true, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"p=tls-exporter,n=user,r=abc", true, true, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,a=admin,n=user,r=abc", false, false, SCRAM_E_OK, "user", "admin"},
		{"n,a=ad=2Cm=3Din,n=user,r=abc", false, false, SCRAM_E_OK, "user", "ad,m=in"},
		{"n,a=,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,a=ad=3din,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,x=admin,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=a b", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=a\x7f", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=\xc3\xa9", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=abc,x=ext,y=z", false, false, SCRAM_E_OK, "user", ""},
		{"n,,n=user,r=abc,", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=abc,x=", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=abc,1=x", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=abc,xx=y", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,m=ext,n=user,r=abc", false, false, SCRAM_E_EXTENSIONS_NOT_SUPPORTED, NULL, NULL},
		{"n,,r=abc,n=user", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,x=1,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=us=2Cer=3D,r=abc", false, false, SCRAM_E_OK, "us,er=", ""},
		{"n,,n==3D=2C,r=abc", false, false, SCRAM_E_OK, "=,", ""},
		{"n,,n=us=2cer,r=abc", false, false, SCRAM_E_INVALID_USERNAME, NULL, NULL},
		{"n,,n=us=er,r=abc", false, false, SCRAM_E_INVALID_USERNAME, NULL, NULL},
		{"n,,n=user=,r=abc", false, false, SCRAM_E_INVALID_USERNAME, NULL, NULL},
		{"n,,n=user=3,r=abc", false, false, SCRAM_E_INVALID_USERNAME, NULL, NULL},
		{"n,,n=jos\xc3\xa9@example.test,r=abc", false, false, SCRAM_E_OK,
		 "jos\xc3\xa9@example.test", ""},
		{"n,,n=us\xff" "er,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=us\xc0\xafr,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"N,,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"x,,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"nn,,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{",,n=user,r=abc", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
		{"n,,n=user,r=abc ", false, false, SCRAM_E_INVALID_ENCODING, NULL, NULL},
	};
	struct scram_server st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc;

		scram_server_init(&st, rows[i].plus, rows[i].adv);
		rc = scram_server_parse_first(&st, (const uint8_t *)rows[i].msg, strlen(rows[i].msg));
		if (scram_server_error(&st) != rows[i].want || (rc == 0) != (rows[i].want == 0))
			fail_msg("row %zu (%s): rc %d error %s", i, rows[i].msg, rc,
				 scram_error_name(scram_server_error(&st)));
		if (rc == 0) {
			assert_string_equal(scram_server_username(&st), rows[i].user);
			assert_string_equal(scram_server_authzid(&st), rows[i].authzid);
			assert_int_equal(st.state, SCRAM_S_LOOKUP);
		} else {
			assert_int_equal(st.state, SCRAM_S_FAILED);
		}
		scram_server_clear(&st);
	}
}

/* Bounds and bytes a string table cannot hold. */
static void
test_first_limits(void **state)
{
	char msg[SASL_MAX + 16];
	struct scram_server st;
	size_t n;

	(void)state;
	/* empty, and a NUL inside */
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)"", 0), -1);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)"n,,n=u\0v,r=abc", 14), -1);
	assert_int_equal(scram_server_error(&st), SCRAM_E_INVALID_ENCODING);
	/* username: 255 bytes decoded is the limit, escapes count once */
	n = (size_t)snprintf(msg, sizeof(msg), "n,,n=%0255d,r=abc", 0);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)msg, n), 0);
	assert_int_equal(strlen(scram_server_username(&st)), 255);
	n = (size_t)snprintf(msg, sizeof(msg), "n,,n=%0256d,r=abc", 0);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)msg, n), -1);
	memcpy(msg, "n,,n=", 5);
	for (n = 5; n < 5 + 3 * 255; n += 3)
		memcpy(msg + n, "=2C", 3);
	memcpy(msg + n, ",r=abc", 6);
	n += 6;
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)msg, n), 0);
	assert_int_equal(strlen(scram_server_username(&st)), 255);
	/* client nonce: 256 characters is the limit */
	n = (size_t)snprintf(msg, sizeof(msg), "n,,n=u,r=%0256d", 0);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)msg, n), 0);
	n = (size_t)snprintf(msg, sizeof(msg), "n,,n=u,r=%0257d", 0);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)msg, n), -1);
	/* the whole message: SASL_MAX bytes (with a long extension), not one more */
	n = (size_t)snprintf(msg, sizeof(msg), "n,,n=u,r=abc,x=");
	memset(msg + n, 'y', SASL_MAX - n);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)msg, SASL_MAX), 0);
	msg[SASL_MAX] = 'y';
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)msg, SASL_MAX + 1), -1);
	scram_server_clear(&st);
}

/* Client-final messages against the RFC 7677 exchange. */
static void
test_final_messages(void **state)
{
#define WP "c=biws,r=" RFC_NONCE
	static const struct {
		const char *msg;
		enum scram_error want;
	} rows[] = {
		{RFC_FINAL, SCRAM_E_OK},
		{WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVA=", SCRAM_E_INVALID_PROOF},
		{WP ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", SCRAM_E_INVALID_PROOF},
		{WP ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", SCRAM_E_INVALID_PROOF},
		{WP ",x=1,p=" RFC_PROOF, SCRAM_E_INVALID_PROOF}, /* ext changes AuthMessage */
		{WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV==", SCRAM_E_INVALID_ENCODING},
		{WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", SCRAM_E_INVALID_ENCODING},
		{WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=x", SCRAM_E_INVALID_ENCODING},
		{WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQAAAA=", SCRAM_E_INVALID_ENCODING},
		{WP ",p=", SCRAM_E_INVALID_ENCODING},
		{WP ",p==", SCRAM_E_INVALID_ENCODING},
		{WP, SCRAM_E_INVALID_ENCODING},
		{WP ",", SCRAM_E_INVALID_ENCODING},
		{RFC_FINAL ",", SCRAM_E_INVALID_ENCODING},
		{RFC_FINAL ",x=1", SCRAM_E_INVALID_ENCODING},
		{"c=biws,p=" RFC_PROOF ",r=" RFC_NONCE, SCRAM_E_INVALID_ENCODING},
		{"r=" RFC_NONCE ",c=biws,p=" RFC_PROOF, SCRAM_E_INVALID_ENCODING},
		{"c=biws,p=" RFC_PROOF, SCRAM_E_INVALID_ENCODING},
		{"p=" RFC_PROOF, SCRAM_E_INVALID_ENCODING},
		{"c=,r=" RFC_NONCE ",p=" RFC_PROOF, SCRAM_E_INVALID_ENCODING},
		{"c=biw,r=" RFC_NONCE ",p=" RFC_PROOF, SCRAM_E_INVALID_ENCODING},
		{"c=eSws,r=" RFC_NONCE ",p=" RFC_PROOF, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH},
		{"c=biwsAAAA,r=" RFC_NONCE ",p=" RFC_PROOF, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH},
		{"c=bixh,r=" RFC_NONCE ",p=" RFC_PROOF, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH},
		{"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" RFC_PROOF, SCRAM_E_OTHER}, /* client part only */
		{"c=biws,r=" RFC_NONCE "x,p=" RFC_PROOF, SCRAM_E_OTHER},
		{"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=" RFC_PROOF,
		 SCRAM_E_OTHER}, /* same length, last character changed */
		{"c=biws,r=" RFC_NONCE ",x=,p=" RFC_PROOF, SCRAM_E_INVALID_ENCODING},
		{"c=biws,r=,p=" RFC_PROOF, SCRAM_E_OTHER},
		{"c=biws,r=" RFC_NONCE ",p=" RFC_PROOF "\n", SCRAM_E_INVALID_ENCODING},
		/* UTF-8 in base64 fields (libsodium 1.0.18 would decode it as '/') */
		{"c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV\xc3\xa9",
		 SCRAM_E_INVALID_ENCODING},
		{"c=bi\xc3\xa9,r=" RFC_NONCE ",p=" RFC_PROOF, SCRAM_E_INVALID_ENCODING},
		{"", SCRAM_E_INVALID_ENCODING},
	};
#undef WP
	struct scram_server st;
	struct scram_keys k;
	struct buf out = BUF_INIT;
	size_t i;

	(void)state;
	rfc_keys(&k);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc;

		scram_server_init(&st, false, false);
		assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)RFC_FIRST,
							  strlen(RFC_FIRST)),
				 0);
		assert_int_equal(scram_server_first(&st, &k, RFC_SNONCE, &out), 0);
		buf_reset(&out);
		rc = scram_server_final(&st, (const uint8_t *)rows[i].msg, strlen(rows[i].msg), NULL,
					0, &out);
		if (scram_server_error(&st) != rows[i].want || (rc == 0) != (rows[i].want == 0))
			fail_msg("row %zu (%s): rc %d error %s", i, rows[i].msg, rc,
				 scram_error_name(scram_server_error(&st)));
		assert_int_equal(out.len, rc == 0 ? strlen(RFC_SERVER_FINAL) : 0);
		scram_server_clear(&st);
	}
	buf_free(&out);
}

/* Full exchanges with the test client: passwords, extensions, authzid. */
static void
test_exchanges(void **state)
{
	struct scram_keys k;
	enum scram_error e;
	struct ex x;

	(void)state;
	assert_int_equal(scram_keys_derive("s3cret pw", 9, SCRAM_ITER_MIN, &k), 0);
	memset(&x, 0, sizeof(x));
	x.first = "n,,n=alice,r=cnonce";
	x.pw = "s3cret pw";
	x.keys = &k;
	assert_int_equal(exchange(&x, &e), 0);
	x.ext = ",x=optional extension";
	assert_int_equal(exchange(&x, &e), 0); /* unknown extensions are ignored */
	x.ext = NULL;
	x.first = "n,a=bob,n=alice,r=cnonce,e=xt";
	assert_int_equal(exchange(&x, &e), 0);
	x.pw = "s3cret pW";
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_INVALID_PROOF);
	/* the c= header must be the client's own: a changed authzid fails */
	x.pw = "s3cret pw";
	x.cbhdr = "n,a=eve,";
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH);
}

static void
test_y_flag(void **state)
{
	struct scram_keys k;
	struct scram_server st;
	enum scram_error e;
	struct ex x;

	(void)state;
	rfc_keys(&k);
	memset(&x, 0, sizeof(x));
	x.first = "y,,n=user,r=abc";
	x.pw = "pencil";
	x.keys = &k;
	assert_int_equal(exchange(&x, &e), 0); /* -PLUS not offered: fine, c=eSws */
	scram_server_init(&st, false, true);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)x.first, strlen(x.first)),
			 -1);
	assert_int_equal(scram_server_error(&st), SCRAM_E_SERVER_DOES_SUPPORT_CB);
	assert_string_equal(scram_error_name(scram_server_error(&st)),
			    "server-does-support-channel-binding");
	/* a client that says "y" but sends "n" in c= */
	x.cbhdr = "n,,";
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH);
}

static void
test_channel_binding(void **state)
{
	uint8_t cb[SCRAM_CB_LEN], other[SCRAM_CB_LEN];
	struct scram_keys k;
	enum scram_error e;
	struct ex x;

	(void)state;
	memset(cb, 0x42, sizeof(cb));
	memcpy(other, cb, sizeof(cb));
	other[31] ^= 1;
	rfc_keys(&k);
	memset(&x, 0, sizeof(x));
	x.plus = true;
	x.first = "p=tls-exporter,,n=user,r=abc";
	x.pw = "pencil";
	x.keys = &k;
	x.ccb = cb;
	x.scb = cb;
	x.scblen = sizeof(cb);
	assert_int_equal(exchange(&x, &e), 0);
	x.first = "p=tls-exporter,a=admin,n=user,r=abc";
	assert_int_equal(exchange(&x, &e), 0);
	x.scb = other; /* a different TLS session: a man in the middle */
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH);
	x.scb = cb;
	x.scblen = 31;
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_CB_NOT_SUPPORTED);
	x.scb = NULL;
	x.scblen = 0;
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_CB_NOT_SUPPORTED);
	x.scb = cb;
	x.scblen = sizeof(cb);
	x.ccb = NULL; /* c= has the header only */
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH);
	x.ccb = cb;
	x.cbhdr = "n,,"; /* c= claims no binding */
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH);
	x.cbhdr = NULL;
	x.pw = "pencil2";
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_INVALID_PROOF);
	/* without -PLUS the server's channel binding data is ignored */
	x.plus = false;
	x.first = "n,,n=user,r=abc";
	x.pw = "pencil";
	x.ccb = NULL;
	assert_int_equal(exchange(&x, &e), 0);
}

static void
test_unknown_user(void **state)
{
	struct scram_server st;
	struct scram_keys d1, d2, d3;
	struct buf a = BUF_INIT, b = BUF_INIT;
	uint8_t secret2[SCRAM_DUMMY_SECRET_LEN];
	char salt[64], iter[16];
	enum scram_error e;
	struct ex x;

	(void)state;
	/* stable per name, different across names and secrets */
	scram_keys_dummy(dummy_secret, "nobody", SCRAM_ITER_DEFAULT, &d1);
	scram_keys_dummy(dummy_secret, "nobody", SCRAM_ITER_DEFAULT, &d2);
	assert_memory_equal(&d1, &d2, sizeof(d1));
	scram_keys_dummy(dummy_secret, "nobody2", SCRAM_ITER_DEFAULT, &d2);
	assert_memory_not_equal(d1.salt, d2.salt, SCRAM_SALT_LEN);
	memcpy(secret2, dummy_secret, sizeof(secret2));
	secret2[0] ^= 1;
	scram_keys_dummy(secret2, "nobody", SCRAM_ITER_DEFAULT, &d3);
	assert_memory_not_equal(d1.salt, d3.salt, SCRAM_SALT_LEN);
	assert_int_equal(d1.saltlen, SCRAM_SALT_LEN);
	/* two probes see the same server-first, apart from the nonce */
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)"n,,n=nobody,r=abc", 17),
			 0);
	assert_int_equal(scram_server_first_unknown(&st, dummy_secret, 4096, "X", &a), 0);
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)"n,,n=nobody,r=abc", 17),
			 0);
	assert_int_equal(scram_server_first_unknown(&st, dummy_secret, 4096, "Y", &b), 0);
	attr(buf_cstr(&a), 's', salt, sizeof(salt));
	assert_non_null(strstr(buf_cstr(&b), salt));
	attr(buf_cstr(&a), 'i', iter, sizeof(iter));
	assert_string_equal(iter, "4096");
	assert_int_equal(strlen(salt), 24); /* 16 bytes, like a real account */
	scram_server_clear(&st);
	/* the exchange fails whatever the client does: with a password, and
	 * even with the ClientKey of the dummy keys (which only a holder of
	 * the secret can compute) */
	memset(&x, 0, sizeof(x));
	x.first = "n,,n=nobody,r=abc";
	x.pw = "pencil";
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_INVALID_PROOF);
	{
		static const char msg[] = "postern scram client\0nobody";
		uint8_t ck[32], h[32];
		unsigned int len;

		HMAC(EVP_sha256(), dummy_secret, sizeof(dummy_secret), (const uint8_t *)msg,
		     sizeof(msg) - 1, ck, &len);
		EVP_Digest(ck, 32, h, &len, EVP_sha256(), NULL);
		scram_keys_dummy(dummy_secret, "nobody", SCRAM_ITER_DEFAULT, &d1);
		assert_memory_equal(h, d1.stored_key, 32);
		x.pw = NULL;
		x.ckey = ck;
		assert_int_equal(exchange(&x, &e), -1);
		assert_int_equal(e, SCRAM_E_INVALID_PROOF);
		/* the same keys as a known user's do verify */
		x.keys = &d1;
		assert_int_equal(exchange(&x, &e), 0);
	}
	buf_free(&a);
	buf_free(&b);
}

static void
test_misuse(void **state)
{
	struct scram_server st;
	struct scram_keys k;
	struct buf out = BUF_INIT;

	(void)state;
	rfc_keys(&k);
	/* final before first */
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_final(&st, (const uint8_t *)RFC_FINAL, strlen(RFC_FINAL),
					    NULL, 0, &out),
			 -1);
	assert_int_equal(scram_server_error(&st), SCRAM_E_OTHER);
	/* server-first before client-first */
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_first(&st, &k, RFC_SNONCE, &out), -1);
	/* client-first twice */
	scram_server_init(&st, false, false);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)RFC_FIRST,
						  strlen(RFC_FIRST)),
			 0);
	assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)RFC_FIRST,
						  strlen(RFC_FIRST)),
			 -1);
	/* a failed exchange stays failed */
	assert_int_equal(scram_server_first(&st, &k, RFC_SNONCE, &out), -1);
	assert_int_equal(st.state, SCRAM_S_FAILED);
	/* bad server nonces and keys */
	{
		static const char *const nonces[] = {"", "a,b", "a b", "\xc3\xa9",
			"0123456789012345678901234567890123456789012345678901234567890123X"};
		size_t i;

		for (i = 0; i < sizeof(nonces) / sizeof(nonces[0]); i++) {
			scram_server_init(&st, false, false);
			assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)RFC_FIRST,
								  strlen(RFC_FIRST)),
					 0);
			assert_int_equal(scram_server_first(&st, &k, nonces[i], &out), -1);
		}
		k.iter = 1;
		scram_server_init(&st, false, false);
		assert_int_equal(scram_server_parse_first(&st, (const uint8_t *)RFC_FIRST,
							  strlen(RFC_FIRST)),
				 0);
		assert_int_equal(scram_server_first(&st, &k, RFC_SNONCE, &out), -1);
	}
	assert_int_equal(out.len, 0);
	/* the state is wiped */
	scram_server_clear(&st);
	assert_int_equal(st.keys.iter, 0);
	scram_server_clear(NULL);
	/* every error has its RFC 5802 name */
	assert_string_equal(scram_error_name(SCRAM_E_INVALID_PROOF), "invalid-proof");
	assert_string_equal(scram_error_name(SCRAM_E_OTHER), "other-error");
	assert_string_equal(scram_error_name((enum scram_error)99), "other-error");
	assert_string_equal(scram_error_name(SCRAM_E_OK), "");
	buf_free(&out);
}

static void
test_nonce_new(void **state)
{
	char a[SCRAM_SNONCE_LEN + 1], b[SCRAM_SNONCE_LEN + 1];
	size_t i;

	(void)state;
	scram_nonce_new(a);
	scram_nonce_new(b);
	assert_int_equal(strlen(a), SCRAM_SNONCE_LEN);
	assert_string_not_equal(a, b);
	for (i = 0; i < SCRAM_SNONCE_LEN; i++)
		assert_true(a[i] > 0x20 && a[i] < 0x7f && a[i] != ',');
}

/* ---- imported hashes ---- */

/* run_cmd - the first line a command prints, or "" when it cannot run. */
static void
run_cmd(const char *cmd, char *out, size_t outsz)
{
	FILE *f = popen(cmd, "r");

	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, (int)outsz, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(f);
}

/* full exchange for user "user" with stored keys s and password pw */
static void
exchange_stored(const char *s, const char *pw)
{
	struct scram_keys k;
	enum scram_error e;
	struct ex x;

	assert_int_equal(scram_keys_parse(s, &k), 0);
	assert_int_equal(scram_keys_check_password(&k, pw, strlen(pw)), 0);
	assert_int_equal(scram_keys_check_password(&k, "wrong", 5), -1);
	memset(&x, 0, sizeof(x));
	x.first = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
	x.pw = pw;
	x.keys = &k;
	assert_int_equal(exchange(&x, &e), 0);
	x.pw = "wrong";
	assert_int_equal(exchange(&x, &e), -1);
	assert_int_equal(e, SCRAM_E_INVALID_PROOF);
}

static void
test_dovecot(void **state)
{
	char line[512];
	struct scram_keys k;

	(void)state;
	exchange_stored(DOVEADM_STORED, DOVEADM_PW);
	assert_int_equal(scram_keys_parse(DOVEADM_STORED, &k), 0);
	assert_int_equal(k.saltlen, 16);
	assert_int_equal(k.iter, 4096);
	run_cmd("doveadm pw -s SCRAM-SHA-256 -p 'pencil' 2>/dev/null", line, sizeof(line));
	if (line[0] == '\0')
		skip(); /* doveadm not installed: the fixed string above still ran */
	assert_true(strncmp(line, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0);
	exchange_stored(line, "pencil");
}

static void
test_gsasl_mkpasswd(void **state)
{
	char line[512];

	(void)state;
	exchange_stored(GSASL_STORED, "pencil");
	run_cmd("gsasl -k -m SCRAM-SHA-256 -p 'p@ss,w=rd' --iteration-count 5000 --quiet "
		"2>/dev/null",
		line, sizeof(line));
	if (line[0] == '\0')
		skip();
	assert_true(strncmp(line, "{SCRAM-SHA-256}5000,", 20) == 0);
	exchange_stored(line, "p@ss,w=rd");
}

/* ---- interop with the GNU SASL client over pipes ---- */

struct gsasl {
	pid_t pid;
	FILE *in;  /* its stdin */
	FILE *out; /* its stdout */
};

static int
gsasl_start(struct gsasl *g, const char *mech, const char *pw, const char *authzid)
{
	int to[2], from[2];
	char mechname[64];

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid == 0) {
		const char *argv[16];
		int n = 0, nul = open("/dev/null", O_WRONLY);

		dup2(to[0], 0);
		dup2(from[1], 1);
		if (nul >= 0)
			dup2(nul, 2); /* gsasl's prompts and errors */
		close(to[1]);
		close(from[0]);
		argv[n++] = "gsasl";
		argv[n++] = "--client";
		argv[n++] = "--no-starttls";
		argv[n++] = "--quiet";
		argv[n++] = "-m";
		argv[n++] = mech;
		argv[n++] = "-a";
		argv[n++] = "user";
		argv[n++] = "-p";
		argv[n++] = pw;
		if (authzid != NULL) {
			argv[n++] = "-z";
			argv[n++] = authzid;
		}
		if (strstr(mech, "PLUS") == NULL)
			argv[n++] = "--no-cb";
		argv[n] = NULL;
		execvp("gsasl", (char *const *)argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	g->in = fdopen(to[1], "w");
	g->out = fdopen(from[0], "r");
	assert_non_null(g->in);
	assert_non_null(g->out);
	/* gsasl first prints the mechanism name */
	if (fgets(mechname, sizeof(mechname), g->out) == NULL)
		return -1;
	return 0;
}

static int
gsasl_finish(struct gsasl *g)
{
	int status = 0;

	if (g->in != NULL)
		fclose(g->in);
	fclose(g->out);
	assert_int_equal(waitpid(g->pid, &status, 0), g->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* gsasl_read - the next base64 message gsasl prints (after any prompt
 * ending in ": "), decoded into out. -1 at EOF. */
static int
gsasl_read(struct gsasl *g, uint8_t *out, size_t *n)
{
	char line[4 * SASL_MAX], *p;

	if (fgets(line, sizeof(line), g->out) == NULL)
		return -1;
	line[strcspn(line, "\n")] = '\0';
	p = strrchr(line, ' ');
	p = p == NULL ? line : p + 1;
	return sasl_b64_decode(p, strlen(p), out, n);
}

static void
gsasl_write(struct gsasl *g, const void *msg, size_t n)
{
	struct buf b = BUF_INIT;

	if (n > 0)
		sasl_b64_encode(msg, n, &b);
	buf_addc(&b, '\n');
	fwrite(b.data, 1, b.len, g->in);
	fflush(g->in);
	buf_free(&b);
}

/* gsasl_run - one exchange between the gsasl client (password cpw,
 * channel binding ccb for -PLUS) and our server (keys k, binding scb).
 * Returns our verdict; *gs is gsasl's exit status (0: it verified v=). */
static int
gsasl_run(const char *mech, const char *cpw, const char *authzid, const struct scram_keys *k,
	  const uint8_t *ccb, const uint8_t *scb, int *gs)
{
	bool plus = strstr(mech, "PLUS") != NULL;
	struct scram_server st;
	struct gsasl g;
	struct buf out = BUF_INIT;
	uint8_t msg[SASL_MAX];
	char snonce[SCRAM_SNONCE_LEN + 1];
	size_t n;
	int rc = -1;

	if (gsasl_start(&g, mech, cpw, authzid) == -1) {
		*gs = gsasl_finish(&g);
		if (*gs == 127)
			skip();
		fail_msg("gsasl printed nothing (exit %d)", *gs);
	}
	if (plus)
		gsasl_write(&g, ccb, SCRAM_CB_LEN);
	scram_server_init(&st, plus, plus);
	scram_nonce_new(snonce);
	assert_int_equal(gsasl_read(&g, msg, &n), 0);
	assert_int_equal(scram_server_parse_first(&st, msg, n), 0);
	assert_string_equal(scram_server_username(&st), "user");
	assert_string_equal(scram_server_authzid(&st), authzid ? authzid : "");
	assert_int_equal(scram_server_first(&st, k, snonce, &out), 0);
	gsasl_write(&g, out.data, out.len);
	buf_reset(&out);
	assert_int_equal(gsasl_read(&g, msg, &n), 0);
	rc = scram_server_final(&st, msg, n, scb, plus ? SCRAM_CB_LEN : 0, &out);
	if (rc == 0) {
		gsasl_write(&g, out.data, out.len);
		(void)gsasl_read(&g, msg, &n); /* gsasl prints an empty line, then */
		gsasl_write(&g, "", 0);	      /* wants our (empty) outcome */
	}
	*gs = gsasl_finish(&g);
	scram_server_clear(&st);
	buf_free(&out);
	return rc;
}

static void
test_gsasl_interop(void **state)
{
	uint8_t cb[SCRAM_CB_LEN], other[SCRAM_CB_LEN];
	struct scram_keys k;
	int gs;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	alarm(60); /* a stuck gsasl fails the test instead of hanging it */
	randombytes_buf(cb, sizeof(cb));
	memcpy(other, cb, sizeof(cb));
	other[0] ^= 0x80;
	assert_int_equal(scram_keys_derive("pencil", 6, SCRAM_ITER_DEFAULT, &k), 0);
	assert_int_equal(gsasl_run("SCRAM-SHA-256", "pencil", NULL, &k, NULL, NULL, &gs), 0);
	assert_int_equal(gs, 0);
	assert_int_equal(gsasl_run("SCRAM-SHA-256", "pencil", "admin", &k, NULL, NULL, &gs), 0);
	assert_int_equal(gs, 0);
	assert_int_equal(gsasl_run("SCRAM-SHA-256-PLUS", "pencil", NULL, &k, cb, cb, &gs), 0);
	assert_int_equal(gs, 0);
	assert_int_equal(gsasl_run("SCRAM-SHA-256-PLUS", "pencil", "a,b=c", &k, cb, cb, &gs), 0);
	assert_int_equal(gs, 0);
	/* refusals: wrong password, another TLS channel */
	assert_int_equal(gsasl_run("SCRAM-SHA-256", "pencil!", NULL, &k, NULL, NULL, &gs), -1);
	assert_int_not_equal(gs, 0);
	assert_int_equal(gsasl_run("SCRAM-SHA-256-PLUS", "pencil", NULL, &k, cb, other, &gs), -1);
	assert_int_not_equal(gs, 0);
	/* gsasl checks our v=: keys with the right StoredKey but a wrong
	 * ServerKey pass our check and are refused by the client */
	k.server_key[0] ^= 1;
	assert_int_equal(gsasl_run("SCRAM-SHA-256", "pencil", NULL, &k, NULL, NULL, &gs), 0);
	assert_int_not_equal(gs, 0);
	alarm(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_keys),
		cmocka_unit_test(test_derive),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_rfc7677_exchange),
		cmocka_unit_test(test_first_messages),
		cmocka_unit_test(test_first_limits),
		cmocka_unit_test(test_final_messages),
		cmocka_unit_test(test_exchanges),
		cmocka_unit_test(test_y_flag),
		cmocka_unit_test(test_channel_binding),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_nonce_new),
		cmocka_unit_test(test_dovecot),
		cmocka_unit_test(test_gsasl_mkpasswd),
		cmocka_unit_test(test_gsasl_interop),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
