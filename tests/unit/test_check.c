/* SPDX-License-Identifier: ISC */
/*
 * test_check - the config part of `postern check` (src/cli/check_conf.c):
 * a table of config texts and the findings each must and must not give,
 * and certificates made here in memory (expired, expiring, self-signed,
 * small keys, SHA-1, the wrong name) judged by check_cert_x509().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/check.h"
#include "cli/findings.h"
#include "conf/conf.h"

#define MX "state_dir /var/lib/postern\nlisten 127.0.0.1:25 { role mx }\n"
#define TLS "tls { cert /nonexistent/mx.crt; key /nonexistent/mx.key"
/* What every row but the first adds, so that the rest can be judged alone. */
#define QUIET "guard { alert_to sec@example.test }\nauth { banned_file /etc/banned.txt }\n"

static const struct {
	const char *text;
	const char *want[8];
	const char *not[8];
} rows[] = {
	{MX, {"tls.mx-plaintext", "auth.breached-list-off", "guard.no-alerts"},
	 {"guard.off", "relay.trusted-wide", "auth.strength-off", "auth.min-length",
	  "tls.relay-plaintext", "mailauth.spf-off"}},
	{MX QUIET, {NULL}, {"auth.breached-list-off", "guard.no-alerts", "auth.hash-weak",
			    "smtp.sandbox-off"}},
	/* a certificate makes the mx listener offer STARTTLS; its file is missing */
	{MX QUIET TLS " }\n", {"tls.cert-unreadable"}, {"tls.mx-plaintext"}},
	{MX QUIET "guard { enabled no; conn_rate 0 }\n", {"guard.off"}, {"guard.rate-off"}},
	{MX QUIET "guard { conn_rate 0; auth_rate 1000; ip_failures 51; ban_time 30s; tarpit 0 }\n",
	 {"guard.rate-off", "guard.rate-loose", "guard.lockout-loose", "guard.ban-short",
	  "guard.tarpit-off"},
	 {"guard.off", "guard.user-rate-off"}},
	{MX QUIET "guard { user_messages 0; account_failures 5000; ban_max 10m }\n",
	 {"guard.user-rate-off", "guard.lockout-loose", "guard.ban-short"},
	 {"guard.rate-off", "guard.tarpit-off"}},
	{MX QUIET "auth { min_entropy 0; min_length 8; history 0; argon2_memory 8M; argon2_ops 1; "
		  "totp_window 3 }\n",
	 {"auth.strength-off", "auth.min-length", "auth.history-off", "auth.hash-weak",
	  "auth.totp-window"},
	 {"auth.strength-weak", "auth.breached-list-off"}},
	{MX QUIET "auth { min_entropy 20; argon2_memory 19M; argon2_ops 2 }\n",
	 {"auth.strength-weak"},
	 {"auth.strength-off", "auth.hash-weak"}},
	{MX QUIET "trusted_networks 8.0.0.0/8\n", {"relay.trusted-wide"}, {NULL}},
	{MX QUIET "trusted_networks 2001:db8::/32\n", {"relay.trusted-wide"}, {NULL}},
	{MX QUIET "trusted_networks 172.0.0.0/8\n", {"relay.trusted-wide"}, {NULL}},
	{MX QUIET "trusted_networks 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fd00::/8 "
		  "203.0.113.0/24 2001:db8::/48 127.0.0.1\n",
	 {NULL},
	 {"relay.trusted-wide"}},
	{MX QUIET "mailauth { spf no; dkim_verify no; dmarc_enforce no }\n",
	 {"mailauth.spf-off", "mailauth.dkim-off", "mailauth.dmarc-not-enforced"},
	 {"mailauth.dmarc-off", "mailauth.spf-fail-accepted"}},
	{MX QUIET "mailauth { dmarc no; spf_fail accept }\n",
	 {"mailauth.dmarc-off", "mailauth.spf-fail-accepted"},
	 {"mailauth.dmarc-not-enforced", "mailauth.spf-off"}},
	/* SPF, DKIM and DMARC matter only where mail from the internet arrives */
	{"state_dir /x\nlisten 127.0.0.1:587 { role submission }\n" QUIET TLS " }\n"
	 "mailauth { spf no; dmarc no }\n",
	 {NULL},
	 {"mailauth.spf-off", "mailauth.dmarc-off"}},
	{MX QUIET "relay { tls none }\n", {"tls.relay-plaintext"}, {NULL}},
	{MX QUIET "smtp { sandbox no }\n", {"smtp.sandbox-off"}, {NULL}},
	/* the admin API: who can reach it */
	{MX QUIET TLS " }\nadmin { api 127.0.0.1:8443; api_account a@x.test admin }\n",
	 {NULL},
	 {"admin.api-exposed", "admin.api-not-loopback"}},
	{MX QUIET TLS " }\nadmin { api 192.0.2.1:8443; api_allow 0.0.0.0/0; "
		      "api_account a@x.test admin }\n",
	 {"admin.api-exposed", "admin.api-not-loopback"},
	 {NULL}},
	{MX QUIET TLS " }\nadmin { api [::]:8443; api_allow 10.0.0.0/8 2001:db8::/64; "
		      "api_account a@x.test admin }\n",
	 {"admin.api-not-loopback"},
	 {"admin.api-exposed"}},
	{MX QUIET TLS "; ciphers \"AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256\" }\n",
	 {"tls.ciphers-no-forward-secrecy"},
	 {"tls.ciphers-broken", "tls.ciphers-cbc"}},
	{MX QUIET TLS "; ciphers ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-CHACHA20-POLY1305 }\n",
	 {"tls.ciphers-cbc"},
	 {"tls.ciphers-broken", "tls.ciphers-no-forward-secrecy"}},
	{MX QUIET TLS "; ciphers \"NULL-SHA256:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0\" }\n",
	 {"tls.ciphers-broken"},
	 {"tls.ciphers-cbc"}},
	{MX QUIET TLS "; ciphers ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305 }\n",
	 {NULL},
	 {"tls.ciphers-broken", "tls.ciphers-no-forward-secrecy", "tls.ciphers-cbc"}},
	/* with TLS 1.3 only, the TLS 1.2 list is never used */
	{MX QUIET TLS "; min_version TLSv1.3; ciphers AES128-SHA }\n",
	 {NULL},
	 {"tls.ciphers-no-forward-secrecy", "tls.ciphers-cbc"}},
};

static void
test_conf_rows(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct conf cf;
		struct findings f;
		char err[CONF_ERR_MAX + 64];

		if (conf_parse("t.conf", rows[i].text, strlen(rows[i].text), &cf, err,
			       sizeof(err)) != 0)
			fail_msg("row %zu: %s", i, err);
		findings_init(&f);
		check_conf(&cf, 1795860000, &f);
		for (j = 0; j < 8 && rows[i].want[j] != NULL; j++)
			if (!findings_has(&f, rows[i].want[j]))
				fail_msg("row %zu: no %s", i, rows[i].want[j]);
		for (j = 0; j < 8 && rows[i].not[j] != NULL; j++)
			if (findings_has(&f, rows[i].not[j]))
				fail_msg("row %zu: %s", i, rows[i].not[j]);
		findings_free(&f);
		conf_free(&cf);
	}
}

static EVP_PKEY *
key(const char *type, size_t bits)
{
	EVP_PKEY *k = strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
					      : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

	assert_non_null(k);
	return k;
}

/* cert - a certificate for pk named cn, valid from..to days around now,
 * signed by ca (NULL: by itself) with md. */
static X509 *
cert(EVP_PKEY *pk, const char *cn, long from, long to, EVP_PKEY *ca, const char *ca_cn,
     const EVP_MD *md)
{
	X509 *x = X509_new();
	X509_NAME *subj = X509_NAME_new(), *iss = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	char san[300];
	time_t now = 1795860000;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC,
				   (const unsigned char *)(ca ? ca_cn : cn), -1, -1, 0);
	X509_set_subject_name(x, subj);
	X509_set_issuer_name(x, iss);
	X509_time_adj_ex(X509_getm_notBefore(x), (int)from, 0, &now);
	X509_time_adj_ex(X509_getm_notAfter(x), (int)to, 0, &now);
	X509_set_pubkey(x, pk);
	snprintf(san, sizeof(san), "DNS:%s", cn);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, ca ? ca : pk, md) > 0);
	X509_NAME_free(subj);
	X509_NAME_free(iss);
	return x;
}

static void
test_certs(void **state)
{
	static const struct {
		const char *keytype;
		size_t bits;
		long from, to;
		bool by_ca;
		bool sha1;
		const char *hostname;
		const char *want[4];
		const char *not[4];
	} crows[] = {
		{"EC", 0, -1, 90, true, false, "mx.example.test", {NULL},
		 {"tls.cert-self-signed", "tls.cert-expiring", "tls.cert-name", "tls.cert-key-small"}},
		{"EC", 0, -1, 90, false, false, "mx.example.test", {"tls.cert-self-signed"},
		 {"tls.cert-weak-signature", "tls.cert-expiring"}},
		{"EC", 0, -1, 90, true, false, "other.example.test", {"tls.cert-name"}, {NULL}},
		{"EC", 0, -1, 90, true, false, NULL, {NULL}, {"tls.cert-name"}},
		{"EC", 0, -90, 10, true, false, "mx.example.test", {"tls.cert-expiring"},
		 {"tls.cert-expired"}},
		{"EC", 0, -90, -1, true, false, "mx.example.test", {"tls.cert-expired"},
		 {"tls.cert-expiring"}},
		{"RSA", 1024, -1, 90, true, true, "mx.example.test",
		 {"tls.cert-key-small", "tls.cert-weak-signature"},
		 {"tls.cert-self-signed"}},
		{"RSA", 2048, -1, 90, true, false, "mx.example.test", {NULL},
		 {"tls.cert-key-small", "tls.cert-weak-signature"}},
	};
	EVP_PKEY *ca = key("EC", 0);
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(crows) / sizeof(crows[0]); i++) {
		EVP_PKEY *pk = key(crows[i].keytype, crows[i].bits);
		X509 *x = cert(pk, "mx.example.test", crows[i].from, crows[i].to,
			       crows[i].by_ca ? ca : NULL, "Test CA",
			       crows[i].sha1 ? EVP_sha1() : EVP_sha256());
		struct findings f;

		findings_init(&f);
		check_cert_x509(x, "mx.crt", crows[i].hostname, 1795860000, &f);
		for (j = 0; j < 4 && crows[i].want[j] != NULL; j++)
			if (!findings_has(&f, crows[i].want[j]))
				fail_msg("cert row %zu: no %s", i, crows[i].want[j]);
		for (j = 0; j < 4 && crows[i].not[j] != NULL; j++)
			if (findings_has(&f, crows[i].not[j]))
				fail_msg("cert row %zu: %s", i, crows[i].not[j]);
		/* the expiry says how long, and the severity follows it */
		if (findings_has(&f, "tls.cert-expired"))
			assert_int_equal(findings_worst(&f), SEV_CRITICAL);
		if (crows[i].to == 10)
			assert_non_null(strstr(f.v[0].detail, "mx.crt: 10 days left (until "));
		findings_free(&f);
		X509_free(x);
		EVP_PKEY_free(pk);
	}
	EVP_PKEY_free(ca);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_rows),
		cmocka_unit_test(test_certs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
