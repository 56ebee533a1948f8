/* SPDX-License-Identifier: ISC */
/*
 * check_conf - the config part of `postern check`: what the config allows
 * that it should not, judged against the defaults and the practices, and
 * the certificates it names.
 *
 * Pure apart from reading the certificate files: everything else is a
 * function of the parsed config, so the unit test drives it with config
 * text. The config parser refuses the worst (plaintext submission, TLS
 * below 1.2, trusted networks wider than /8); this reports what it allows.
 *
 * SECURITY: certificate files are read with the caller's privileges, as
 * the parent does; only their public parts are looked at.
 * STANDARDS: RFC 8996 (no TLS 1.0/1.1), RFC 7525 (BCP 195 cipher advice),
 * RFC 5280 (certificates), RFC 6125 6.4 (host names, via X509_check_host),
 * NIST SP 800-63B 5.1.1.2 (password policy), RFC 1918 and RFC 4193 (private
 * networks).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/check.h"
#include "lib/buf.h"
#include "lib/metrics.h"
#include "lib/net.h"
#include "lib/util.h"

/* check_listeners - mx listeners that cannot do TLS. */
static void
check_listeners(const struct conf *cf, struct findings *f)
{
	size_t i;

	for (i = 0; i < cf->nlisteners; i++)
		if (cf->listeners[i].role == ROLE_MX && cf->listeners[i].tls == LTLS_NONE)
			findings_addf(f, "tls.mx-plaintext", "listen %s (line %d): tls none%s",
				      cf->listeners[i].spec, cf->listeners[i].line,
				      cf->tls.ncerts == 0 ? ", and no certificate is configured" : "");
}

/* cipher_broken - a suite no one should accept: no encryption, no
 * authentication, export strength, or a broken cipher or MAC. */
static bool
cipher_broken(const SSL_CIPHER *c)
{
	static const int bad[] = {NID_undef,	   NID_rc4,	    NID_des_cbc, NID_des_ede3_cbc,
				  NID_idea_cbc, NID_rc2_cbc, NID_seed_cbc};
	int nid = SSL_CIPHER_get_cipher_nid(c), bits = SSL_CIPHER_get_bits(c, NULL);
	size_t i;
	bool broken = bits < 128 || SSL_CIPHER_get_auth_nid(c) == NID_auth_null ||
		      SSL_CIPHER_get_digest_nid(c) == NID_md5;

	for (i = 0; i < nitems(bad); i++)
		if (nid == bad[i])
			broken = true;
	return broken;
}

/* cipher_no_fs - key exchange without an ephemeral key. */
static bool
cipher_no_fs(const SSL_CIPHER *c)
{
	int kx = SSL_CIPHER_get_kx_nid(c);

	return kx != NID_kx_ecdhe && kx != NID_kx_dhe && kx != NID_kx_ecdhe_psk &&
	       kx != NID_kx_dhe_psk && kx != NID_kx_any;
}

static void
name_to(struct buf *b, const SSL_CIPHER *c)
{
	buf_addf(b, "%s%s", b->len ? ", " : "", SSL_CIPHER_get_name(c));
}

/* sort_ciphers - the enabled TLS 1.2 suites into the three lists. */
static void
sort_ciphers(STACK_OF(SSL_CIPHER) *sk, struct buf *broken, struct buf *nofs, struct buf *cbc)
{
	int i;

	for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);

		if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0)
			continue; /* TLS 1.3 suites are all AEAD with ephemeral keys */
		if (cipher_broken(c))
			name_to(broken, c);
		else if (cipher_no_fs(c))
			name_to(nofs, c);
		else if (!SSL_CIPHER_is_aead(c))
			name_to(cbc, c);
	}
}

void
check_tls_ciphers(const struct conf *cf, struct findings *f)
{
	struct buf broken = BUF_INIT, nofs = BUF_INIT, cbc = BUF_INIT;
	STACK_OF(SSL_CIPHER) *sk = NULL;
	SSL_CTX *ctx;
	SSL *ssl = NULL;

	if (cf->tls.ciphers == NULL || cf->tls.min_version == 13)
		return; /* ours, or TLS 1.2 is off */
	/* A client with the same settings offers exactly the suites the
	 * server accepts: the security level included. */
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, cf->tls.ciphers) != 1 || (ssl = SSL_new(ctx)) == NULL ||
	    (sk = SSL_get1_supported_ciphers(ssl)) == NULL)
		goto out; /* the daemon refuses such a list at start */
	sort_ciphers(sk, &broken, &nofs, &cbc);
	if (broken.len > 0)
		findings_addf(f, "tls.ciphers-broken", "ciphers \"%s\" enables %s", cf->tls.ciphers,
			      buf_cstr(&broken));
	if (nofs.len > 0)
		findings_addf(f, "tls.ciphers-no-forward-secrecy", "ciphers \"%s\" enables %s",
			      cf->tls.ciphers, buf_cstr(&nofs));
	if (cbc.len > 0)
		findings_addf(f, "tls.ciphers-cbc", "ciphers \"%s\" enables %s", cf->tls.ciphers,
			      buf_cstr(&cbc));
out:
	ERR_clear_error();
	sk_SSL_CIPHER_free(sk);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	buf_free(&broken);
	buf_free(&nofs);
	buf_free(&cbc);
}

static void
fmt_asn1_date(const ASN1_TIME *t, char *out, size_t outsz)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, outsz, "%Y-%m-%d", &tm) == 0)
		str_copy(out, "?", outsz);
}

/* cert_expiry - expired (critical) or within CHECK_CERT_DAYS (high). */
static void
cert_expiry(X509 *x, const char *where, time_t now, struct findings *f)
{
	const ASN1_TIME *na = X509_get0_notAfter(x);
	ASN1_TIME *at = ASN1_TIME_set(NULL, now);
	int days = 0, secs = 0;
	char date[32];

	fmt_asn1_date(na, date, sizeof(date));
	if (at != NULL && ASN1_TIME_diff(&days, &secs, at, na) == 1) {
		if (days < 0 || (days == 0 && secs <= 0))
			findings_addf(f, "tls.cert-expired", "%s: expired on %s", where, date);
		else if (days < CHECK_CERT_DAYS)
			findings_addf(f, "tls.cert-expiring", "%s: %d day%s left (until %s)", where,
				      days, days == 1 ? "" : "s", date);
	}
	ASN1_TIME_free(at);
}

/* cert_key - the certificate's public key is big enough. */
static void
cert_key(X509 *x, const char *where, struct findings *f)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int id = pk != NULL ? EVP_PKEY_get_base_id(pk) : NID_undef;
	int bits = pk != NULL ? EVP_PKEY_get_bits(pk) : 0;

	if (((id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS || id == EVP_PKEY_DSA) &&
	     bits < CHECK_RSA_MIN_BITS) ||
	    (id == EVP_PKEY_EC && bits < CHECK_EC_MIN_BITS))
		findings_addf(f, "tls.cert-key-small", "%s: %s key of %d bits", where,
			      OBJ_nid2sn(id), bits);
}

void
check_cert_x509(X509 *x, const char *where, const char *hostname, time_t now,
		struct findings *f)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	bool self = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
		    pk != NULL && X509_verify(x, pk) == 1;
	int mdnid = NID_undef;

	cert_expiry(x, where, now, f);
	cert_key(x, where, f);
	if (self)
		findings_addf(f, "tls.cert-self-signed", "%s", where);
	/* a self-signed certificate's own signature proves nothing anyway */
	if (!self && X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) == 1 &&
	    (mdnid == NID_sha1 || mdnid == NID_md5 || mdnid == NID_md4))
		findings_addf(f, "tls.cert-weak-signature", "%s: signed with %s", where,
			      OBJ_nid2sn(mdnid));
	if (hostname != NULL && X509_check_host(x, hostname, 0, 0, NULL) != 1)
		findings_addf(f, "tls.cert-name", "%s does not name %s", where, hostname);
	ERR_clear_error();
}

/* check_certs - each certificate file; the first is the default one, which
 * must name the hostname. */
static void
check_certs(const struct conf *cf, time_t now, struct findings *f)
{
	size_t i;

	for (i = 0; i < cf->tls.ncerts; i++) {
		const char *path = cf->tls.certs[i].cert;
		BIO *b = BIO_new_file(path, "r");
		X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		char why[256];

		if (x == NULL) {
			ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
			findings_addf(f, "tls.cert-unreadable", "%s: %s", path,
				      b == NULL ? "cannot be opened" : why);
		} else {
			check_cert_x509(x, path, i == 0 ? cf->hostname : NULL, now, f);
		}
		X509_free(x);
		BIO_free(b);
		ERR_clear_error();
	}
}

/* Guard settings judged against their defaults. */
enum guard_test { GT_ZERO, GT_ABOVE, GT_BELOW };

#define GF(field) offsetof(struct conf_guard, field)
static const struct guard_rule {
	const char *id;
	const char *name;
	size_t off;
	enum guard_test test;
	uint64_t limit; /* reported above or below this */
	uint64_t def;
	bool seconds;
} guard_rules[] = {
	{"guard.lockout-loose", "ip_failures", GF(ip_failures), GT_ABOVE, 50, 5, false},
	{"guard.lockout-loose", "net_failures", GF(net_failures), GT_ABOVE, 200, 20, false},
	{"guard.lockout-loose", "pair_failures", GF(pair_failures), GT_ABOVE, 100, 10, false},
	{"guard.lockout-loose", "account_failures", GF(account_failures), GT_ABOVE, 1000, 100,
	 false},
	{"guard.ban-short", "ban_time", GF(ban_time), GT_BELOW, 60, 600, true},
	{"guard.ban-short", "ban_max", GF(ban_max), GT_BELOW, 3600, 7 * 86400, true},
	{"guard.rate-off", "conn_rate", GF(conn_rate), GT_ZERO, 0, 120, false},
	{"guard.rate-off", "auth_rate", GF(auth_rate), GT_ZERO, 0, 30, false},
	{"guard.rate-loose", "conn_rate", GF(conn_rate), GT_ABOVE, 1200, 120, false},
	{"guard.rate-loose", "auth_rate", GF(auth_rate), GT_ABOVE, 300, 30, false},
	{"guard.user-rate-off", "user_messages", GF(user_messages), GT_ZERO, 0, 500, false},
	{"guard.user-rate-off", "user_recipients", GF(user_recipients), GT_ZERO, 0, 1000, false},
	{"guard.rate-loose", "user_messages", GF(user_messages), GT_ABOVE, 5000, 500, false},
	{"guard.rate-loose", "user_recipients", GF(user_recipients), GT_ABOVE, 10000, 1000, false},
	{"guard.tarpit-off", "tarpit", GF(tarpit), GT_ZERO, 0, 1, true},
};
#undef GF

static void
check_guard(const struct conf *cf, struct findings *f)
{
	const struct conf_guard *g = &cf->guard;
	size_t i;

	if (!g->enabled) {
		findings_add(f, "guard.off", "guard { enabled no }");
		return;
	}
	for (i = 0; i < nitems(guard_rules); i++) {
		const struct guard_rule *r = &guard_rules[i];
		uint64_t v = *(const uint64_t *)(const void *)((const char *)g + r->off);
		const char *unit = r->seconds ? "s" : "";

		if ((r->test == GT_ZERO && v == 0) || (r->test == GT_ABOVE && v > r->limit) ||
		    (r->test == GT_BELOW && v < r->limit))
			findings_addf(f, r->id, "guard { %s %ju%s } (the default is %ju%s)", r->name,
				      (uintmax_t)v, unit, (uintmax_t)r->def, unit);
	}
	if (g->alert_to == NULL)
		findings_add(f, "guard.no-alerts", "guard { } has no alert_to");
}

/* check_auth - the password policy and hashing (the breached list's file
 * is checked with the state, as the daemon's user). */
static void
check_auth(const struct conf *cf, struct findings *f)
{
	const struct conf_auth *a = &cf->auth;

	if (a->min_entropy == 0)
		findings_add(f, "auth.strength-off", "auth { min_entropy 0 }");
	else if (a->min_entropy < 30)
		findings_addf(f, "auth.strength-weak", "auth { min_entropy %ju } (the default is 40)",
			      (uintmax_t)a->min_entropy);
	if (a->min_length < 12)
		findings_addf(f, "auth.min-length", "auth { min_length %ju } (the default is 12)",
			      (uintmax_t)a->min_length);
	if (a->banned_file == NULL)
		findings_add(f, "auth.breached-list-off", "auth { } has no banned_file");
	if (a->history == 0)
		findings_add(f, "auth.history-off", "auth { history 0 } (the default is 5)");
	/* OWASP: 19 MiB and 2 passes, or the same product of memory and passes */
	if (a->argon2_memory * a->argon2_ops < 2 * 19 * 1024 * 1024)
		findings_addf(f, "auth.hash-weak", "auth { argon2_memory %juK; argon2_ops %ju }",
			      (uintmax_t)(a->argon2_memory / 1024), (uintmax_t)a->argon2_ops);
	if (a->totp_window > 2)
		findings_addf(f, "auth.totp-window", "auth { totp_window %ju } (the default is 1)",
			      (uintmax_t)a->totp_window);
}

/* Networks that are not the public internet's: RFC 1918, loopback,
 * link-local, RFC 4193 unique-local. */
static const char *const private_nets[] = {"10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16",
					   "127.0.0.0/8",    "169.254.0.0/16", "::1/128",
					   "fc00::/7",	     "fe80::/10"};

/* is_private_net - n lies inside one of private_nets. */
static bool
is_private_net(const struct cidr *n)
{
	struct sockaddr_storage ss;
	struct cidr p;
	size_t i;
	bool inside = false;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)n->family;
	if (n->family == AF_INET)
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, n->addr, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, n->addr, 16);
	for (i = 0; i < nitems(private_nets); i++)
		if (net_parse_cidr(private_nets[i], &p) == 0 && p.family == n->family &&
		    n->prefix >= p.prefix && net_cidr_match(&p, (struct sockaddr *)&ss))
			inside = true;
	return inside;
}

static void
check_trusted(const struct conf *cf, struct findings *f)
{
	char s[NET_ADDRSTRLEN + 8];
	size_t i;

	for (i = 0; i < cf->ntrusted; i++) {
		const struct cidr *n = &cf->trusted[i];
		unsigned wide = n->family == AF_INET ? CHECK_TRUSTED_V4_PREFIX : CHECK_TRUSTED_V6_PREFIX;

		if (n->prefix < wide && !is_private_net(n))
			findings_addf(f, "relay.trusted-wide",
				      "trusted_networks %s: public, and wider than /%u",
				      net_cidr_format(n, s, sizeof(s)), wide);
	}
}

/* check_admin_api - who can reach the HTTPS admin API: a public network
 * wider than a /24 (/48) in api_allow is "anyone", an address beyond
 * loopback is worth knowing. */
static void
check_admin_api(const struct conf *cf, struct findings *f)
{
	const struct conf_admin *a = &cf->admin;
	const struct sockaddr *sa = (const struct sockaddr *)&a->api;
	char s[NET_ADDRSTRLEN + 8];
	size_t i;

	if (a->api_len == 0)
		return;
	for (i = 0; i < a->api_allow.n; i++) {
		const struct cidr *n = &a->api_allow.net[i];
		unsigned wide = n->family == AF_INET ? CHECK_TRUSTED_V4_PREFIX : CHECK_TRUSTED_V6_PREFIX;

		if (n->prefix < wide && !is_private_net(n))
			findings_addf(f, "admin.api-exposed",
				      "admin { api_allow %s }: public, and wider than /%u",
				      net_cidr_format(n, s, sizeof(s)), wide);
	}
	if (metrics_listen_check(sa) == -1)
		findings_addf(f, "admin.api-not-loopback", "admin { api %s }",
			      net_format(sa, s, sizeof(s)));
}

/* check_mailauth - SPF, DKIM and DMARC, where mail from the internet
 * arrives (an mx listener). */
static void
check_mailauth(const struct conf *cf, struct findings *f)
{
	const struct conf_mailauth *m = &cf->mailauth;
	size_t i;
	bool mx = false;

	for (i = 0; i < cf->nlisteners; i++)
		mx = mx || cf->listeners[i].role == ROLE_MX;
	if (!mx)
		return;
	if (!m->spf)
		findings_add(f, "mailauth.spf-off", "mailauth { spf no }");
	else if (m->spf_fail == MA_ACCEPT)
		findings_add(f, "mailauth.spf-fail-accepted", "mailauth { spf_fail accept }");
	if (!m->dkim_verify)
		findings_add(f, "mailauth.dkim-off", "mailauth { dkim_verify no }");
	if (!m->dmarc)
		findings_add(f, "mailauth.dmarc-off", "mailauth { dmarc no }");
	else if (!m->dmarc_enforce)
		findings_add(f, "mailauth.dmarc-not-enforced", "mailauth { dmarc_enforce no }");
}

void
check_conf(const struct conf *cf, time_t now, struct findings *f)
{
	check_listeners(cf, f);
	check_tls_ciphers(cf, f);
	check_certs(cf, now, f);
	if (cf->tls.relay_policy == TLSP_NONE)
		findings_add(f, "tls.relay-plaintext", "relay { tls none }");
	check_trusted(cf, f);
	check_admin_api(cf, f);
	if (!cf->smtp_sandbox)
		findings_add(f, "smtp.sandbox-off", "smtp { sandbox no }");
	check_guard(cf, f);
	check_auth(cf, f);
	check_mailauth(cf, f);
}
