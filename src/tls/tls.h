/* SPDX-License-Identifier: ISC */
/*
 * tls - OpenSSL contexts: the server side (certificates chosen by SNI,
 * protocol and cipher policy) and the client side (outbound policy:
 * opportunistic, required, verified).
 *
 * Defaults: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with
 * AEAD ciphers (forward secrecy); no compression; no renegotiation; the
 * server's cipher order; a peer that closes without close_notify is an
 * ordinary end of stream.
 *
 * SECURITY: certificate and key files are read by the parent (root) and
 * handed to the smtp process as PEM text; key bytes are wiped after use.
 * The server context is reference-counted so a reload never pulls it from
 * under a handshake in progress.
 * STANDARDS: RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 6066
 * (SNI), RFC 6125 (host name checks), RFC 7525 (BCP 195 recommendations).
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf/conf.h"

typedef struct ssl_st SSL;

/* Certificates in memory, as read from the files the config names. */
struct tls_pem {
	char *cert; /* PEM, the leaf first, then its chain */
	size_t certlen;
	char *key; /* PEM; wiped on free */
	size_t keylen;
	char *cert_path;
	time_t not_after;
};

struct tls_certs {
	struct tls_pem *pem;
	size_t n;
};

/* tls_certs_load - read and check every certificate of cf (parses, key
 * matches); 0, or -1 with "file:line: ..." in err. */
int tls_certs_load(const struct conf *cf, struct tls_certs *out, char *err, size_t errsz);
/* tls_certs_free - free, wiping the keys. */
void tls_certs_free(struct tls_certs *c);
/* tls_certs_log_expiry - a log line per certificate; a warning when it
 * expires within 30 days or has expired. */
void tls_certs_log_expiry(const struct tls_certs *c);

struct tls_server;

/* tls_server_new - contexts for certs with cf's settings; NULL with err. */
struct tls_server *tls_server_new(const struct tls_certs *certs, const struct conf *cf,
				  char *err, size_t errsz);
struct tls_server *tls_server_ref(struct tls_server *ts);
void tls_server_unref(struct tls_server *ts);
/* tls_server_ssl - a new SSL for one accepted connection; holds a
 * reference to ts until the SSL is freed. */
SSL *tls_server_ssl(struct tls_server *ts);

struct tls_client;

/* tls_client_new - the outbound context; ca_file NULL: system store. */
struct tls_client *tls_client_new(const char *ca_file, char *err, size_t errsz);
void tls_client_free(struct tls_client *tc);
/* tls_client_ssl - an SSL for a connection to host (SNI); verify checks
 * the chain and that the certificate names host. */
SSL *tls_client_ssl(struct tls_client *tc, const char *host, bool verify);

/* tls_describe - "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)". */
const char *tls_describe(SSL *ssl, char *out, size_t outsz);
/* tls_error - the last OpenSSL error as text (and clears the queue). */
const char *tls_error(char *out, size_t outsz);

#endif
