/* SPDX-License-Identifier: ISC */
/*
 * tls-source: SMTP session load generator for bench/ (see bench/README.md).
 *
 * CONC threads, each looping whole sessions on blocking sockets until COUNT
 * sessions have been started in all:
 *
 *   connect, 220, EHLO, 250 (must advertise STARTTLS),
 *   STARTTLS, 220, TLS handshake (TLS 1.3 only, one ciphersuite, a fresh
 *   SSL per session, no resumption, certificate not verified), EHLO, 250,
 *   MAIL FROM, 250, RCPT TO, 250, DATA, 354, headers + SIZE bytes of body
 *   + ".", 250, QUIT, 221, close_notify, close.
 *
 * With -P the STARTTLS part is skipped (plain SMTP, same client). Every reply
 * code is checked; a session that gets anything unexpected is a failure and
 * is abandoned. Output: one JSON object on stdout (sessions/s, failures,
 * latency percentiles, what TLS was negotiated on the first session, tickets
 * received, the client's own CPU time). Exit status 0 iff no session failed.
 *
 * cc -O2 -o tls-source bench/tls-source.c -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "loadgen.h"
#include <openssl/x509.h>

static struct sockaddr_in g_addr;
static int g_plain, g_conc = 20, g_timeout = 60;
static long g_count = 1000, g_size = 4096;
static const char *g_from = "a@example.test", *g_to = "b@example.test";
static const char *g_helo = "tls-source.bench.test";
static const char *g_suites = "TLS_AES_256_GCM_SHA384";
static const char *g_groups;	/* NULL: OpenSSL's default list */

static atomic_long g_next, g_ok, g_failed, g_accepted, g_tickets, g_handshakes;
static double *g_lat, *g_hs;	/* per session slot; -1 if failed */
static char *g_body;		/* headers are per message; body + ".\r\n" shared */
static size_t g_bodylen;

/* What the first TLS session negotiated. */
static int g_have_info;
static char g_version[32], g_cipher[64], g_group[32], g_sig[64], g_cert[64], g_fpr[40];

static int
on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	atomic_fetch_add(&g_tickets, 1);
	return 0;	/* not kept: no resumption */
}

static void
tls_info(SSL *ssl)
{
	int nid = 0, gid;
	X509 *cert;

	pthread_mutex_lock(&g_mu);
	if (g_have_info) {
		pthread_mutex_unlock(&g_mu);
		return;
	}
	g_have_info = 1;
	snprintf(g_version, sizeof(g_version), "%s", SSL_get_version(ssl));
	snprintf(g_cipher, sizeof(g_cipher), "%s", SSL_get_cipher_name(ssl));
	gid = SSL_get_negotiated_group(ssl);
	snprintf(g_group, sizeof(g_group), "%s",
		 gid ? (OBJ_nid2sn(gid & ~TLSEXT_nid_unknown) ?: "?") : "?");
	if (SSL_get_peer_signature_type_nid(ssl, &nid) == 1) {
		int hnid = 0;
		SSL_get_peer_signature_nid(ssl, &hnid);
		snprintf(g_sig, sizeof(g_sig), "%s+%s", OBJ_nid2sn(nid), OBJ_nid2sn(hnid));
	}
	cert = SSL_get1_peer_certificate(ssl);
	if (cert) {
		EVP_PKEY *pk = X509_get0_pubkey(cert);
		char gname[32] = "";
		size_t gl = 0;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;

		if (pk && EVP_PKEY_get_group_name(pk, gname, sizeof(gname), &gl) != 1)
			gname[0] = '\0';
		snprintf(g_cert, sizeof(g_cert), "%s %s %d bits", pk ? EVP_PKEY_get0_type_name(pk) : "?",
			 gname, pk ? EVP_PKEY_get_bits(pk) : 0);
		if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
			for (unsigned i = 0; i < 8 && i < mdlen; i++)
				snprintf(g_fpr + 2 * i, sizeof(g_fpr) - 2 * i, "%02x", md[i]);
		X509_free(cert);
	}
	pthread_mutex_unlock(&g_mu);
}

/* One whole session; returns 0 on success. *hs gets the handshake time. */
static int
session(SSL_CTX *ctx, struct conn *c, long idx, double *hs)
{
	char line[600];
	int one = 1, starttls = 0, rc = -1;
	struct timeval tv = {g_timeout, 0};
	size_t hl;

	c->fd = -1;
	c->ssl = NULL;
	c->len = c->off = 0;
	*hs = 0;
	snprintf(c->stage, sizeof(c->stage), "connect");
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		record_error("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) == -1) {
		record_error("connect: %s", strerror(errno));
		goto out;
	}
	snprintf(c->stage, sizeof(c->stage), "greeting");
	if (reply_want(c, 220, NULL, NULL, NULL) == -1)
		goto out;
	snprintf(line, sizeof(line), "EHLO %s\r\n", g_helo);
	if (cmd(c, "EHLO", line, 250, "STARTTLS", NULL, &starttls) == -1)
		goto out;
	if (!g_plain) {
		if (!starttls) {
			record_error("EHLO: STARTTLS not advertised");
			goto out;
		}
		if (starttls_handshake(c, ctx, hs) == -1)
			goto out;
		atomic_fetch_add(&g_handshakes, 1);
		if (!g_have_info)
			tls_info(c->ssl);
		if (cmd(c, "EHLO-TLS", line, 250, NULL, NULL, NULL) == -1)
			goto out;
	}
	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", g_from);
	if (cmd(c, "MAIL", line, 250, NULL, NULL, NULL) == -1)
		goto out;
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", g_to);
	if (cmd(c, "RCPT", line, 250, NULL, NULL, NULL) == -1)
		goto out;
	if (cmd(c, "DATA", "DATA\r\n", 354, NULL, NULL, NULL) == -1)
		goto out;
	/* Headers, then the shared body with its final dot: one write for all. */
	hl = (size_t)snprintf(line, sizeof(line),
			      "From: <%s>\r\nTo: <%s>\r\nSubject: tls-source %ld\r\n"
			      "Message-ID: <%ld.%ld@tls-source.bench.test>\r\n\r\n",
			      g_from, g_to, idx, (long)getpid(), idx);
	{
		char *msg = malloc(hl + g_bodylen);
		if (msg == NULL) {
			record_error("out of memory");
			goto out;
		}
		memcpy(msg, line, hl);
		memcpy(msg + hl, g_body, g_bodylen);
		snprintf(c->stage, sizeof(c->stage), "message");
		int r = send_all(c, msg, hl + g_bodylen);
		free(msg);
		if (r == -1 || reply_want(c, 250, NULL, NULL, NULL) == -1)
			goto out;
	}
	atomic_fetch_add(&g_accepted, 1);
	if (cmd(c, "QUIT", "QUIT\r\n", 221, NULL, NULL, NULL) == -1)
		goto out;
	rc = 0;
out:
	if (c->ssl) {
		if (rc == 0)
			SSL_shutdown(c->ssl);	/* our close_notify; not waiting for theirs */
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	return rc;
}

static void *
worker(void *arg)
{
	SSL_CTX *ctx = NULL;
	struct conn *c = malloc(sizeof(*c));
	long idx;

	(void)arg;
	if (c == NULL)
		abort();
	if (!g_plain) {
		/* One context per thread: no lock contention on a shared one. */
		ctx = SSL_CTX_new(TLS_client_method());
		if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
		    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
		    SSL_CTX_set_ciphersuites(ctx, g_suites) != 1 ||
		    (g_groups && SSL_CTX_set1_groups_list(ctx, g_groups) != 1)) {
			fprintf(stderr, "tls-source: cannot set up the TLS context (suites %s)\n",
				g_suites);
			exit(2);
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		/* Count the server's tickets, keep none (no resumption). */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
							    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	}
	while ((idx = atomic_fetch_add(&g_next, 1)) < g_count) {
		double hs, t0 = mono();

		if (session(ctx, c, idx, &hs) == 0) {
			g_lat[idx] = mono() - t0;
			g_hs[idx] = hs;
			atomic_fetch_add(&g_ok, 1);
		} else {
			atomic_fetch_add(&g_failed, 1);
		}
	}
	SSL_CTX_free(ctx);
	free(c);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: tls-source [-P] [-c conc] [-n sessions] [-s body-bytes] [-f from] [-t to]\n"
		"                  [-H helo] [-C tls13-suites] [-g groups] [-T timeout-s] "
		"IP:PORT\n");
	exit(2);
}

/* num - a non-negative decimal argument, or usage. */
static long
num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	int ch;
	char *host, *colon;
	pthread_t *th;
	struct rusage ru;
	double t0, t1;
	long i, n;

	while ((ch = getopt(argc, argv, "Pc:n:s:f:t:H:C:g:T:")) != -1) {
		switch (ch) {
		case 'P': g_plain = 1; break;
		case 'c': g_conc = (int)num(optarg); break;
		case 'n': g_count = num(optarg); break;
		case 's': g_size = num(optarg); break;
		case 'f': g_from = optarg; break;
		case 't': g_to = optarg; break;
		case 'H': g_helo = optarg; break;
		case 'C': g_suites = optarg; break;
		case 'g': g_groups = optarg; break;
		case 'T': g_timeout = (int)num(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || g_conc < 1 || g_count < 1 || g_size < 0)
		usage();
	host = strdup(argv[optind]);
	colon = strrchr(host, ':');
	if (colon == NULL)
		usage();
	*colon = '\0';
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((unsigned short)num(colon + 1));
	if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1)
		usage();
	if (g_conc > g_count)
		g_conc = (int)g_count;
	signal(SIGPIPE, SIG_IGN);

	/* Body: lines of 78 characters + CRLF (never a leading dot), exactly g_size
	 * bytes, then the final ".\r\n". */
	g_body = malloc((size_t)g_size + 90);
	if (g_body == NULL)
		return 2;
	{
		static const char pat[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
		size_t left = (size_t)g_size, p = 0, k = 0;
		while (left > 0) {
			size_t ll = left >= 80 ? 78 : (left >= 2 ? left - 2 : 0);
			for (size_t j = 0; j < ll; j++)
				g_body[p++] = pat[(k + j) % (sizeof(pat) - 1)];
			k++;
			if (left >= 2) {
				g_body[p++] = '\r';
				g_body[p++] = '\n';
				left -= ll + 2;
			} else {	/* one byte left: make the previous line longer */
				g_body[p - 2] = 'x';
				g_body[p - 1] = '\r';
				g_body[p++] = '\n';
				left = 0;
			}
		}
		memcpy(g_body + p, ".\r\n", 3);
		g_bodylen = p + 3;
	}
	g_lat = malloc(sizeof(double) * (size_t)g_count);
	g_hs = malloc(sizeof(double) * (size_t)g_count);
	th = calloc((size_t)g_conc, sizeof(*th));
	if (!g_lat || !g_hs || !th)
		return 2;
	for (i = 0; i < g_count; i++)
		g_lat[i] = g_hs[i] = -1;

	t0 = mono();
	for (i = 0; i < g_conc; i++) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
		if (pthread_create(&th[i], &a, worker, NULL) != 0) {
			fprintf(stderr, "tls-source: pthread_create failed\n");
			return 2;
		}
		pthread_attr_destroy(&a);
	}
	for (i = 0; i < g_conc; i++)
		pthread_join(th[i], NULL);
	t1 = mono();
	getrusage(RUSAGE_SELF, &ru);

	/* Compact and sort the latencies of the sessions that succeeded. */
	for (i = n = 0; i < g_count; i++)
		if (g_lat[i] >= 0) {
			g_lat[n] = g_lat[i];
			g_hs[n++] = g_hs[i];
		}
	qsort(g_lat, (size_t)n, sizeof(double), cmpd);
	qsort(g_hs, (size_t)n, sizeof(double), cmpd);

	long ok = atomic_load(&g_ok), failed = atomic_load(&g_failed);
	printf("{\"mode\": \"%s\", \"conc\": %d, \"sessions\": %ld, \"ok\": %ld, \"failed\": %ld, "
	       "\"accepted\": %ld, \"wall_s\": %.4f, \"rate\": %.2f, ",
	       g_plain ? "plain" : "starttls", g_conc, g_count, ok, failed,
	       atomic_load(&g_accepted), t1 - t0, (t1 - t0) > 0 ? ok / (t1 - t0) : 0.0);
	printf("\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, ",
	       pct(g_lat, n, 50), pct(g_lat, n, 90), pct(g_lat, n, 99), pct(g_lat, n, 100));
	printf("\"hs_p50_ms\": %.3f, \"hs_p99_ms\": %.3f, ", g_plain ? -1 : pct(g_hs, n, 50),
	       g_plain ? -1 : pct(g_hs, n, 99));
	printf("\"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, \"handshakes\": %ld, \"tickets\": %ld, ",
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, atomic_load(&g_handshakes),
	       atomic_load(&g_tickets));
	printf("\"tls\": {\"version\": ");
	json_str(g_version);
	printf(", \"cipher\": ");
	json_str(g_cipher);
	printf(", \"group\": ");
	json_str(g_group);
	printf(", \"sig\": ");
	json_str(g_sig);
	printf(", \"cert\": ");
	json_str(g_cert);
	printf(", \"cert_sha256\": ");
	json_str(g_fpr);
	printf("}, \"errors\": [");
	for (i = 0; i < g_nerr; i++) {
		printf("%s[", i ? ", " : "");
		json_str(g_err[i].what);
		printf(", %ld]", g_err[i].n);
	}
	if (g_err_other)
		printf("%s[\"(other reasons)\", %ld]", g_nerr ? ", " : "", g_err_other);
	printf("]}\n");
	fflush(stdout);
	return failed == 0 && ok == g_count ? 0 : 1;
}
