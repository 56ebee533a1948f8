/* SPDX-License-Identifier: ISC */
/*
 * auth-source: SMTP AUTH load generator for bench/auth.py (see bench/README.md).
 *
 * CONC threads, each looping whole sessions on blocking sockets, one login
 * per connection:
 *
 *   connect, 220, EHLO, 250 (must advertise STARTTLS),
 *   STARTTLS, 220, TLS handshake (TLS 1.3 only, one ciphersuite, a fresh
 *   SSL per session, no resumption, certificate not verified), EHLO, 250
 *   (must advertise AUTH with PLAIN), AUTH PLAIN <initial response>,
 *   235 (valid logins) or 535 (-x), QUIT, 221, close_notify, close.
 *
 * Accounts: -u USER -p PASS (the same one for every login), or -a FILE of
 * "user password" lines, one line per login, in order, never reused: the run
 * ends when the file is used up (a verified-credential cache cannot help).
 *
 * -x (the attacker): every login uses a wrong password (the account's
 * password with a counter appended, so never the same twice); the expected
 * reply is 535, after which the connection is closed at once, without QUIT,
 * and the next attempt reconnects.
 *
 * The run ends after -d seconds (no new sessions start; those in flight
 * finish), after -n sessions, when the accounts are used up, or on SIGTERM /
 * SIGINT / SIGUSR1 (same: finish what is in flight; only the main thread
 * takes them). -b binds the source address. Every reply code is checked; a
 * session that gets anything else (a 454, say) is a failure and is counted
 * by its reply. Output: one JSON object on stdout: logins/s (expected
 * outcomes / wall time), the reply counts, latency percentiles of whole
 * sessions, of the AUTH command alone (AUTH sent to its final reply) and of
 * the TLS handshake, the client's own CPU time, and the first failure
 * reasons. Exit status 0 iff no session failed.
 *
 * cc -O2 -o auth-source bench/auth-source.c -lssl -lcrypto -lpthread
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

static struct sockaddr_in g_addr, g_src;
static int g_have_src, g_conc = 1, g_timeout = 60, g_wrong;
static long g_max;		/* sessions; 0: no limit */
static double g_duration;	/* seconds; 0: no limit */
static const char *g_helo = "auth-source.bench.test";
static const char *g_suites = "TLS_AES_256_GCM_SHA384";

/* Accounts: one (user, password) per login, or a single one for all. */
static char **g_users, **g_pws;
static long g_naccounts;
static int g_single;

static volatile sig_atomic_t g_stop;
static double g_deadline;
static atomic_long g_next, g_ok, g_failed, g_c235, g_c535, g_c454, g_cother, g_handshakes;

/* Per-thread latency records, merged at the end. */
struct lat {
	double *sess, *auth, *hs;
	long n, cap;
};

static size_t
b64(const unsigned char *in, size_t n, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* One whole session; returns 0 on the expected outcome. *hs and *auth get
 * the handshake's and the AUTH command's time. */
static int
session(SSL_CTX *ctx, struct conn *c, long idx, double *hs, double *auth)
{
	char line[1200], wrong[300];
	unsigned char plain[700];
	int one = 1, starttls = 0, authplain = 0, rc = -1;
	struct timeval tv = {g_timeout, 0};
	const char *user, *pw;
	size_t ul, pl, n;

	if (g_single) {
		user = g_users[0];
		pw = g_pws[0];
	} else {
		user = g_users[idx];
		pw = g_pws[idx];
	}
	if (g_wrong) {
		snprintf(wrong, sizeof(wrong), "%s-wrong-%ld", pw, idx);
		pw = wrong;
	}
	ul = strlen(user);
	pl = strlen(pw);
	if (2 + ul + pl > sizeof(plain)) {
		record_error("account too long");
		return -1;
	}
	plain[0] = '\0';
	memcpy(plain + 1, user, ul);
	plain[1 + ul] = '\0';
	memcpy(plain + 2 + ul, pw, pl);

	c->fd = -1;
	c->ssl = NULL;
	c->len = c->off = 0;
	*hs = *auth = 0;
	snprintf(c->stage, sizeof(c->stage), "connect");
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		record_error("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (g_have_src) {
		/* the port is chosen at connect(), as without bind() */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&g_src, sizeof(g_src)) == -1) {
			record_error("bind: %s", strerror(errno));
			goto out;
		}
	}
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
	if (!starttls) {
		record_error("EHLO: STARTTLS not advertised");
		goto out;
	}
	if (starttls_handshake(c, ctx, hs) == -1)
		goto out;
	atomic_fetch_add(&g_handshakes, 1);
	if (cmd(c, "EHLO-TLS", line, 250, "AUTH", "PLAIN", &authplain) == -1)
		goto out;
	if (!authplain) {
		record_error("EHLO-TLS: AUTH PLAIN not advertised");
		goto out;
	}
	memcpy(line, "AUTH PLAIN ", 11);
	n = b64(plain, 2 + ul + pl, line + 11);
	memcpy(line + 11 + n, "\r\n", 3);
	explicit_bzero(plain, sizeof(plain));
	snprintf(c->stage, sizeof(c->stage), "AUTH");
	{
		double t0 = mono();

		if (send_all(c, line, strlen(line)) == -1 || reply(c, NULL, NULL, NULL) == -1)
			goto out;
		*auth = mono() - t0;
	}
	switch (c->last_code) {
	case 235: atomic_fetch_add(&g_c235, 1); break;
	case 535: atomic_fetch_add(&g_c535, 1); break;
	case 454: atomic_fetch_add(&g_c454, 1); break;
	default: atomic_fetch_add(&g_cother, 1); break;
	}
	if (c->last_code != (g_wrong ? 535 : 235)) {
		record_error("AUTH: expected %d, got \"%s\"", g_wrong ? 535 : 235, c->last_line);
		goto out;
	}
	if (g_wrong) {
		rc = 0;	/* close at once and try again */
		goto out;
	}
	if (cmd(c, "QUIT", "QUIT\r\n", 221, NULL, NULL, NULL) == -1)
		goto out;
	rc = 0;
out:
	explicit_bzero(line, sizeof(line));
	if (c->ssl) {
		if (rc == 0 && !g_wrong)
			SSL_shutdown(c->ssl);	/* our close_notify; not waiting for theirs */
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	return rc;
}

static void
lat_add(struct lat *l, double sess, double auth, double hs)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->sess = realloc(l->sess, sizeof(double) * (size_t)l->cap);
		l->auth = realloc(l->auth, sizeof(double) * (size_t)l->cap);
		l->hs = realloc(l->hs, sizeof(double) * (size_t)l->cap);
		if (!l->sess || !l->auth || !l->hs)
			abort();
	}
	l->sess[l->n] = sess;
	l->auth[l->n] = auth;
	l->hs[l->n++] = hs;
}

static void *
worker(void *arg)
{
	struct lat *l = arg;
	SSL_CTX *ctx;
	struct conn *c = malloc(sizeof(*c));
	long idx;

	if (c == NULL)
		abort();
	/* One context per thread: no lock contention on a shared one. */
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, g_suites) != 1) {
		fprintf(stderr, "auth-source: cannot set up the TLS context (suites %s)\n", g_suites);
		exit(2);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	for (;;) {
		double hs, auth, t0;

		if (g_stop || (g_duration > 0 && mono() >= g_deadline))
			break;
		idx = atomic_fetch_add(&g_next, 1);
		if ((g_max > 0 && idx >= g_max) || (!g_single && idx >= g_naccounts))
			break;
		t0 = mono();
		if (session(ctx, c, idx, &hs, &auth) == 0) {
			lat_add(l, mono() - t0, auth, hs);
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
		"usage: auth-source [-x] [-c conc] [-d seconds] [-n sessions] [-b src-ip]\n"
		"                   (-u user -p password | -a accounts-file) [-H helo]\n"
		"                   [-C tls13-suites] [-T timeout-s] IP:PORT\n");
	exit(2);
}

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

static void
on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* load_accounts - "user password" lines. */
static void
load_accounts(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[1024];
	long cap = 0;

	if (f == NULL) {
		fprintf(stderr, "auth-source: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *sp, *nl = strchr(buf, '\n');

		if (nl)
			*nl = '\0';
		if (buf[0] == '\0' || buf[0] == '#')
			continue;
		sp = strchr(buf, ' ');
		if (sp == NULL) {
			fprintf(stderr, "auth-source: %s: line without a password\n", path);
			exit(2);
		}
		*sp = '\0';
		if (g_naccounts == cap) {
			cap = cap ? cap * 2 : 256;
			g_users = realloc(g_users, sizeof(char *) * (size_t)cap);
			g_pws = realloc(g_pws, sizeof(char *) * (size_t)cap);
			if (!g_users || !g_pws)
				abort();
		}
		g_users[g_naccounts] = strdup(buf);
		g_pws[g_naccounts++] = strdup(sp + 1);
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	int ch;
	char *host, *colon;
	const char *user = NULL, *pw = NULL, *file = NULL, *src = NULL;
	pthread_t *th;
	struct lat *lats;
	struct rusage ru;
	struct sigaction sa;
	sigset_t stopset;
	double t0, t1;
	long i, n, total = 0;

	while ((ch = getopt(argc, argv, "xc:d:n:b:u:p:a:H:C:T:")) != -1) {
		switch (ch) {
		case 'x': g_wrong = 1; break;
		case 'c': g_conc = (int)num(optarg); break;
		case 'd': g_duration = strtod(optarg, NULL); break;
		case 'n': g_max = num(optarg); break;
		case 'b': src = optarg; break;
		case 'u': user = optarg; break;
		case 'p': pw = optarg; break;
		case 'a': file = optarg; break;
		case 'H': g_helo = optarg; break;
		case 'C': g_suites = optarg; break;
		case 'T': g_timeout = (int)num(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || g_conc < 1 || (file == NULL) == (user == NULL) ||
	    (user != NULL) != (pw != NULL))
		usage();
	if (file) {
		load_accounts(file);
		if (g_naccounts == 0) {
			fprintf(stderr, "auth-source: %s: no accounts\n", file);
			return 2;
		}
	} else {
		g_single = 1;
		g_naccounts = 1;
		g_users = malloc(sizeof(char *));
		g_pws = malloc(sizeof(char *));
		g_users[0] = strdup(user);
		g_pws[0] = strdup(pw);
	}
	host = strdup(argv[optind]);
	colon = strrchr(host, ':');
	if (colon == NULL)
		usage();
	*colon = '\0';
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((unsigned short)num(colon + 1));
	if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1)
		usage();
	if (src) {
		g_src.sin_family = AF_INET;
		if (inet_pton(AF_INET, src, &g_src.sin_addr) != 1)
			usage();
		g_have_src = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: blocked reads see EINTR and retry */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	th = calloc((size_t)g_conc, sizeof(*th));
	lats = calloc((size_t)g_conc, sizeof(*lats));
	if (!th || !lats)
		return 2;
	/* The stop signals go to the main thread only (blocked in the workers,
	 * which inherit this mask): no EINTR in the middle of a session. */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	t0 = mono();
	g_deadline = t0 + g_duration;
	for (i = 0; i < g_conc; i++) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
		if (pthread_create(&th[i], &a, worker, &lats[i]) != 0) {
			fprintf(stderr, "auth-source: pthread_create failed\n");
			return 2;
		}
		pthread_attr_destroy(&a);
	}
	pthread_sigmask(SIG_UNBLOCK, &stopset, NULL);
	for (i = 0; i < g_conc; i++)
		pthread_join(th[i], NULL);
	t1 = mono();
	getrusage(RUSAGE_SELF, &ru);

	for (i = 0; i < g_conc; i++)
		total += lats[i].n;
	double *sess = malloc(sizeof(double) * (size_t)(total + 1));
	double *auth = malloc(sizeof(double) * (size_t)(total + 1));
	double *hs = malloc(sizeof(double) * (size_t)(total + 1));
	if (!sess || !auth || !hs)
		return 2;
	for (i = n = 0; i < g_conc; i++) {
		memcpy(sess + n, lats[i].sess, sizeof(double) * (size_t)lats[i].n);
		memcpy(auth + n, lats[i].auth, sizeof(double) * (size_t)lats[i].n);
		memcpy(hs + n, lats[i].hs, sizeof(double) * (size_t)lats[i].n);
		n += lats[i].n;
	}
	qsort(sess, (size_t)n, sizeof(double), cmpd);
	qsort(auth, (size_t)n, sizeof(double), cmpd);
	qsort(hs, (size_t)n, sizeof(double), cmpd);

	long ok = atomic_load(&g_ok), failed = atomic_load(&g_failed);
	printf("{\"mode\": \"%s\", \"conc\": %d, \"ok\": %ld, \"failed\": %ld, "
	       "\"wall_s\": %.4f, \"rate\": %.3f, ",
	       g_wrong ? "attack" : (g_single ? "repeat" : "first"), g_conc, ok, failed, t1 - t0,
	       (t1 - t0) > 0 ? ok / (t1 - t0) : 0.0);
	printf("\"codes\": {\"235\": %ld, \"535\": %ld, \"454\": %ld, \"other\": %ld}, ",
	       atomic_load(&g_c235), atomic_load(&g_c535), atomic_load(&g_c454),
	       atomic_load(&g_cother));
	printf("\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, ",
	       pct(sess, n, 50), pct(sess, n, 90), pct(sess, n, 99), pct(sess, n, 100));
	printf("\"auth_p50_ms\": %.3f, \"auth_p90_ms\": %.3f, \"auth_p99_ms\": %.3f, "
	       "\"auth_max_ms\": %.3f, ",
	       pct(auth, n, 50), pct(auth, n, 90), pct(auth, n, 99), pct(auth, n, 100));
	printf("\"hs_p50_ms\": %.3f, \"hs_p99_ms\": %.3f, ", pct(hs, n, 50), pct(hs, n, 99));
	printf("\"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, \"handshakes\": %ld, \"accounts_used\": %ld, ",
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, atomic_load(&g_handshakes),
	       g_single ? 1 : (ok + failed));
	printf("\"errors\": [");
	for (i = 0; i < g_nerr; i++) {
		printf("%s[", i ? ", " : "");
		json_str(g_err[i].what);
		printf(", %ld]", g_err[i].n);
	}
	if (g_err_other)
		printf("%s[\"(other reasons)\", %ld]", g_nerr ? ", " : "", g_err_other);
	printf("]}\n");
	fflush(stdout);
	return failed == 0 ? 0 : 1;
}
