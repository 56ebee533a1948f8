/* SPDX-License-Identifier: ISC */
/*
 * check - `postern check`, the self-audit (practices 12 and 18): the
 * config, the state (accounts, app passwords, DKIM keys), the gateway's own
 * listeners probed over loopback, its domains' DNS and the software it runs
 * on, each weakness reported as a finding (findings.h) with what it means
 * and how to fix it. The parts, one function each, add to one list:
 *   check_conf.c  the config and the certificate files it names;
 *   check_probe.c the listeners, as a client would see them;
 *   check_state.c accounts, app passwords, DKIM keys, the domains' DNS;
 *   check.c       the versions, the command and its report.
 *
 * SECURITY: the config and certificate files are read with the caller's
 * privileges (root, usually: the daemon reads them as root too); everything
 * after, state, probes and DNS, runs as the daemon's user (cli_ctx_open()).
 * Probes connect only to the configured listen addresses (a wildcard is
 * probed on loopback), never send DATA, and end every session with QUIT.
 * Text from the network (replies, DNS records) only ever reaches a
 * finding's detail, which findings.c makes harmless.
 */
#ifndef POSTERN_CLI_CHECK_H
#define POSTERN_CLI_CHECK_H

#include <time.h>

#include "cli/findings.h"
#include "conf/conf.h"

typedef struct x509_st X509;

/* Public networks wider than these in trusted_networks are reported. */
#define CHECK_TRUSTED_V4_PREFIX 24
#define CHECK_TRUSTED_V6_PREFIX 48
/* A certificate this close to its end is reported (the daemon warns too). */
#define CHECK_CERT_DAYS 30
/* App passwords unused this long are reported. */
#define CHECK_APP_UNUSED_DAYS 90
/* DKIM keys older than this are reported. */
#define CHECK_DKIM_AGE_DAYS 365
/* Smallest sound keys: RSA (certificates and DKIM), elliptic curves. */
#define CHECK_RSA_MIN_BITS 2048
#define CHECK_EC_MIN_BITS 256
/* Names listed in one finding's detail before "and N more". */
#define CHECK_NAMES_SHOWN 10

/* check_conf - what the config allows: listeners, ciphers, the
 * certificate files (read here), guard, password policy, trusted
 * networks, SPF/DKIM/DMARC and outbound TLS. */
void check_conf(const struct conf *cf, time_t now, struct findings *f);
/* check_tls_ciphers - the TLS 1.2 suites the `ciphers` setting enables, as
 * this OpenSSL expands it. */
void check_tls_ciphers(const struct conf *cf, struct findings *f);
/* check_cert_x509 - one certificate: expiry against now, self-signed,
 * key size, signature hash and (hostname not NULL) whether it names the
 * host. where names it in the findings (its file). */
void check_cert_x509(X509 *x, const char *where, const char *hostname, time_t now,
		     struct findings *f);

/* check_probes - every listener, over loopback for wildcards: greeting,
 * EHLO, AUTH before TLS, STARTTLS, the TLS versions it accepts, and an
 * attempt to relay without AUTH (never DATA). A listener nobody answers
 * on is reported as skipped. */
void check_probes(const struct conf *cf, struct findings *f);

/* check_state - the account store (opened read-only), app passwords, DKIM
 * keys and the breached-password list, as the daemon's user. */
void check_state(const struct conf *cf, time_t now, struct findings *f);
/* check_dns - each configured domain's records, judged as `postern dns
 * check` does, through the configured resolvers. */
void check_dns(const struct conf *cf, struct findings *f);

/* check_versions - postern's version and build date, and each library as
 * loaded against the version it was built with (practice 12). */
void check_versions(struct findings *f);


#endif
