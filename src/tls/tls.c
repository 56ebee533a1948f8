/* SPDX-License-Identifier: ISC */
/*
 * tls - OpenSSL server and client contexts.
 *
 * SECURITY: see tls.h. PEM parsing happens on operator files only; the
 * key buffers are wiped; contexts are built from memory so the chrooted
 * smtp process needs no file access.
 */
#include "tls/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"

/* Forward-secret AEAD suites only for TLS 1.2 (BCP 195 / RFC 9325). */
#define TLS_DEFAULT_CIPHERS                                                                        \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                             \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                             \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"
#define TLS_PEM_MAX (1024 * 1024)

const char *
tls_error(char *out, size_t outsz)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		str_copy(out, "unknown TLS error", outsz);
	else
		ERR_error_string_n(e, out, outsz);
	ERR_clear_error();
	return out;
}

/* Loading certificates (parent). */

static X509 *
pem_leaf(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

static EVP_PKEY *
pem_key(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

static int
load_one(const struct conf *cf, const struct conf_cert *cc, struct tls_pem *p, char *err,
	 size_t errsz)
{
	struct buf cert = BUF_INIT, key = BUF_INIT;
	char e[256];
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	struct tm tm;
	int rc = -1;

	if (file_read(cc->cert, TLS_PEM_MAX, &cert) == -1) {
		snprintf(err, errsz, "%s:%d: tls: cannot read cert %s: %s", cf->path, cc->line,
			 cc->cert, strerror(errno));
		goto out;
	}
	if (file_read(cc->key, TLS_PEM_MAX, &key) == -1) {
		snprintf(err, errsz, "%s:%d: tls: cannot read key %s: %s", cf->path, cc->line,
			 cc->key, strerror(errno));
		goto out;
	}
	if ((x = pem_leaf(buf_cstr(&cert), cert.len)) == NULL) {
		snprintf(err, errsz, "%s:%d: tls: %s is not a PEM certificate: %s", cf->path,
			 cc->line, cc->cert, tls_error(e, sizeof(e)));
		goto out;
	}
	if ((k = pem_key(buf_cstr(&key), key.len)) == NULL) {
		snprintf(err, errsz, "%s:%d: tls: %s is not a PEM private key: %s", cf->path,
			 cc->line, cc->key, tls_error(e, sizeof(e)));
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		snprintf(err, errsz, "%s:%d: tls: the key %s does not belong to the certificate %s",
			 cf->path, cc->line, cc->key, cc->cert);
		ERR_clear_error();
		goto out;
	}
	memset(&tm, 0, sizeof(tm));
	p->not_after = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 ? timegm(&tm) : 0;
	p->certlen = cert.len;
	p->cert = buf_steal(&cert);
	p->keylen = key.len;
	p->key = buf_steal(&key);
	p->cert_path = xstrdup(cc->cert);
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	buf_free(&cert);
	buf_wipe_free(&key);
	return rc;
}

int
tls_certs_load(const struct conf *cf, struct tls_certs *out, char *err, size_t errsz)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (cf->tls.ncerts == 0)
		return 0;
	out->pem = xcalloc(cf->tls.ncerts, sizeof(*out->pem));
	for (i = 0; i < cf->tls.ncerts; i++) {
		if (load_one(cf, &cf->tls.certs[i], &out->pem[i], err, errsz) == -1) {
			tls_certs_free(out);
			return -1;
		}
		out->n++;
	}
	return 0;
}

void
tls_certs_free(struct tls_certs *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->pem[i].cert);
		wipe_free(c->pem[i].key, c->pem[i].keylen);
		free(c->pem[i].cert_path);
	}
	free(c->pem);
	memset(c, 0, sizeof(*c));
}

void
tls_certs_log_expiry(const struct tls_certs *c)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < c->n; i++) {
		long days = (long)((c->pem[i].not_after - now) / 86400);

		if (c->pem[i].not_after <= now)
			log_warnx("tls certificate-expired cert=%s", c->pem[i].cert_path);
		else if (days < 30)
			log_warnx("tls certificate-expires-soon cert=%s days=%ld", c->pem[i].cert_path,
				  days);
		else
			log_info("tls certificate cert=%s days-left=%ld", c->pem[i].cert_path, days);
	}
}

/* Server contexts (smtp process). */

struct tls_server {
	int refs;
	SSL_CTX **ctx; /* one per certificate; ctx[0] is the default */
	size_t n;
};

static int ssl_ex_index = -1;

static void
ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr != NULL)
		tls_server_unref(ptr);
}

/* on_sni - pick the certificate that names the requested host. */
static int
on_sni(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *ts = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	size_t i;

	(void)alert;
	if (name == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < ts->n; i++) {
		X509 *x = SSL_CTX_get0_certificate(ts->ctx[i]);

		if (x != NULL && X509_check_host(x, name, 0, 0, NULL) == 1) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, ts->ctx[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static int
use_pem(SSL_CTX *ctx, const struct tls_pem *p)
{
	BIO *b = BIO_new_mem_buf(p->cert, (int)p->certlen);
	X509 *x, *extra;
	EVP_PKEY *k;
	int rc = -1;

	if (b == NULL)
		return -1;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1)
		goto out;
	while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
			X509_free(extra);
			goto out;
		}
	ERR_clear_error(); /* the end of the chain is an "error" */
	k = pem_key(p->key, p->keylen);
	if (k == NULL || SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		EVP_PKEY_free(k);
		goto out;
	}
	EVP_PKEY_free(k);
	rc = SSL_CTX_check_private_key(ctx) == 1 ? 0 : -1;
out:
	X509_free(x);
	BIO_free(b);
	return rc;
}

static SSL_CTX *
server_ctx(const struct conf *cf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	/* OpenSSL 3 refuses client-initiated renegotiation unless
	 * SSL_OP_ALLOW_CLIENT_RENEGOTIATION; NO_RENEGOTIATION stops the rest. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* No read-ahead: libevent's OpenSSL bufferevent would not see records
	 * OpenSSL had already buffered, and a session would stall. */
	/* One resumption ticket (OpenSSL sends two): MTAs seldom resume, and
	 * each ticket costs a write and an encryption per handshake. */
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_set_min_proto_version(ctx, cf->tls.min_version == 13 ? TLS1_3_VERSION
									 : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, cf->tls.ciphers ? cf->tls.ciphers
							 : TLS_DEFAULT_CIPHERS) != 1 ||
	    (cf->tls.ciphersuites != NULL &&
	     SSL_CTX_set_ciphersuites(ctx, cf->tls.ciphersuites) != 1) ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"postern", 7) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_server *
tls_server_new(const struct tls_certs *certs, const struct conf *cf, char *err, size_t errsz)
{
	struct tls_server *ts;
	char e[256];
	size_t i;

	if (certs->n == 0) {
		snprintf(err, errsz, "no certificate configured");
		return NULL;
	}
	if (ssl_ex_index == -1)
		ssl_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, ex_free);
	ts = xcalloc(1, sizeof(*ts));
	ts->refs = 1;
	ts->ctx = xcalloc(certs->n, sizeof(*ts->ctx));
	for (i = 0; i < certs->n; i++) {
		ts->ctx[i] = server_ctx(cf);
		ts->n++;
		if (ts->ctx[i] == NULL || use_pem(ts->ctx[i], &certs->pem[i]) == -1) {
			snprintf(err, errsz, "tls: %s: %s", certs->pem[i].cert_path,
				 tls_error(e, sizeof(e)));
			tls_server_unref(ts);
			return NULL;
		}
	}
	SSL_CTX_set_tlsext_servername_callback(ts->ctx[0], on_sni);
	SSL_CTX_set_tlsext_servername_arg(ts->ctx[0], ts);
	return ts;
}

struct tls_server *
tls_server_ref(struct tls_server *ts)
{
	ts->refs++;
	return ts;
}

void
tls_server_unref(struct tls_server *ts)
{
	size_t i;

	if (ts == NULL || --ts->refs > 0)
		return;
	for (i = 0; i < ts->n; i++)
		SSL_CTX_free(ts->ctx[i]);
	free(ts->ctx);
	free(ts);
}

SSL *
tls_server_ssl(struct tls_server *ts)
{
	SSL *ssl = SSL_new(ts->ctx[0]);

	if (ssl == NULL)
		return NULL;
	/* The SNI callback reads ts: keep it alive as long as the SSL. */
	SSL_set_ex_data(ssl, ssl_ex_index, tls_server_ref(ts));
	return ssl;
}

/* Client context (queue process). */

struct tls_client {
	SSL_CTX *ctx;
};

struct tls_client *
tls_client_new(const char *ca_file, char *err, size_t errsz)
{
	struct tls_client *tc = xcalloc(1, sizeof(*tc));
	char e[256];
	int ok;

	tc->ctx = SSL_CTX_new(TLS_client_method());
	if (tc->ctx == NULL)
		goto fail;
	SSL_CTX_set_options(tc->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					     SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_RELEASE_BUFFERS);
	ok = SSL_CTX_set_min_proto_version(tc->ctx, TLS1_2_VERSION) == 1;
	if (ca_file != NULL)
		ok = ok && SSL_CTX_load_verify_locations(tc->ctx, ca_file, NULL) == 1;
	else
		ok = ok && SSL_CTX_set_default_verify_paths(tc->ctx) == 1;
	if (!ok)
		goto fail;
	return tc;
fail:
	snprintf(err, errsz, "tls client setup%s%s: %s", ca_file ? " with ca_file " : "",
		 ca_file ? ca_file : "", tls_error(e, sizeof(e)));
	tls_client_free(tc);
	return NULL;
}

void
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc);
}

SSL *
tls_client_ssl(struct tls_client *tc, const char *host, bool verify)
{
	struct sockaddr_storage ss;
	socklen_t len;
	SSL *ssl = SSL_new(tc->ctx);
	bool numeric;

	if (ssl == NULL)
		return NULL;
	numeric = net_parse_ip(host, &ss, &len) == 0;
	if (!numeric)
		SSL_set_tlsext_host_name(ssl, host);
	if (verify) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if ((numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
			     : SSL_set1_host(ssl, host)) != 1) {
			SSL_free(ssl);
			return NULL;
		}
	} else {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	}
	return ssl;
}

const char *
tls_describe(SSL *ssl, char *out, size_t outsz)
{
	int alg = 0, bits = SSL_get_cipher_bits(ssl, &alg);

	snprintf(out, outsz, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		 SSL_get_cipher_name(ssl), bits, alg);
	return out;
}
