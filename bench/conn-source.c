/* SPDX-License-Identifier: ISC */
/*
 * conn-source: connection load generator for bench/guard.py.
 *
 * CONC threads, each looping for SECONDS: a TCP connection from SRC (an
 * address on loopback), read the first reply line (the greeting, or the
 * refusal of a banned or denied client), close with an RST (SO_LINGER 0,
 * so no TIME_WAIT piles up on either side). Output: one JSON object on
 * stdout with the connections done, the rate, the reply codes seen and
 * latency percentiles (connect to first line). Benchmark tooling, not
 * part of postern.
 *
 * cc -O2 -o conn-source bench/conn-source.c bench/loadgen.c -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"

#define MAXLAT 2000000 /* latency samples kept */

static struct sockaddr_in g_addr, g_src;
static int g_conc = 8;
static double g_secs = 5, g_end;
static atomic_long g_done, g_failed, g_codes[6]; /* 0: other, 1..5: first digit */
static double *g_lat;

/* one - a connection, its first line, an RST; the reply's first digit. */
static int
one(double *lat)
{
	struct linger lg = {1, 0};
	struct timeval tv = {10, 0};
	char buf[512];
	double t0 = mono();
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), digit = -1;
	size_t got = 0;

	if (fd < 0) {
		record_error("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (g_src.sin_family == AF_INET && bind(fd, (struct sockaddr *)&g_src, sizeof(g_src)) == -1) {
		record_error("bind: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) == -1) {
		record_error("connect: %s", strerror(errno));
		goto out;
	}
	while (got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0) {
			record_error("read: %s", n == 0 ? "closed before a reply" : strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	digit = buf[0] >= '1' && buf[0] <= '5' ? buf[0] - '0' : 0;
	*lat = mono() - t0;
out:
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	return digit;
}

static void *
worker(void *arg)
{
	(void)arg;
	while (mono() < g_end) {
		double lat = 0;
		int d = one(&lat);
		long i;

		if (d < 0) {
			atomic_fetch_add(&g_failed, 1);
			continue;
		}
		atomic_fetch_add(&g_codes[d], 1);
		i = atomic_fetch_add(&g_done, 1);
		if (i < MAXLAT)
			g_lat[i] = lat;
	}
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: conn-source [-c conc] [-d seconds] [-b src-ip] IP:PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	pthread_t *th;
	double t0, took;
	long n, i;
	char host[64], *colon;
	int opt;

	while ((opt = getopt(argc, argv, "c:d:b:")) != -1) {
		if (opt == 'c')
			g_conc = (int)strtol(optarg, NULL, 10);
		else if (opt == 'd')
			g_secs = strtod(optarg, NULL);
		else if (opt == 'b') {
			g_src.sin_family = AF_INET;
			if (inet_pton(AF_INET, optarg, &g_src.sin_addr) != 1)
				usage();
		} else
			usage();
	}
	if (optind != argc - 1 || g_conc < 1 || g_secs <= 0)
		usage();
	snprintf(host, sizeof(host), "%s", argv[optind]);
	colon = strrchr(host, ':');
	if (colon == NULL)
		usage();
	*colon = '\0';
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1)
		usage();
	g_lat = calloc(MAXLAT, sizeof(*g_lat));
	th = calloc((size_t)g_conc, sizeof(*th));
	if (g_lat == NULL || th == NULL)
		return 2;
	t0 = mono();
	g_end = t0 + g_secs;
	for (i = 0; i < g_conc; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < g_conc; i++)
		pthread_join(th[i], NULL);
	took = mono() - t0;
	n = atomic_load(&g_done);
	if (n > MAXLAT)
		n = MAXLAT;
	qsort(g_lat, (size_t)n, sizeof(*g_lat), cmpd);
	printf("{\"conns\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"rate\": %.1f, "
	       "\"codes\": {\"2\": %ld, \"4\": %ld, \"5\": %ld, \"other\": %ld}, "
	       "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": [",
	       atomic_load(&g_done), atomic_load(&g_failed), took, atomic_load(&g_done) / took,
	       atomic_load(&g_codes[2]), atomic_load(&g_codes[4]), atomic_load(&g_codes[5]),
	       atomic_load(&g_codes[0]) + atomic_load(&g_codes[1]) + atomic_load(&g_codes[3]),
	       pct(g_lat, n, 50), pct(g_lat, n, 99));
	for (i = 0; i < g_nerr; i++) {
		printf("%s{\"what\": ", i ? ", " : "");
		json_str(g_err[i].what);
		printf(", \"n\": %ld}", g_err[i].n);
	}
	printf("]}\n");
	return 0;
}
