/* SPDX-License-Identifier: ISC */
/*
 * dnsbl_probe - drives dns_a() and the DNSBL checker (src/guard/dnsbl.c)
 * against a real DNS server, for tests/integration/test_dnsbl_probe.py.
 * Not a unit test (it needs a server); it prints one line on stdout:
 *
 *   dnsbl_probe RESOLVER a NAME
 *	"status=ok addrs=127.0.0.2,..." or "status=nxdomain|nodata|tempfail"
 *   dnsbl_probe RESOLVER check [-t MS] [-l MS] ADDR LIST...
 *	"score=N listed=ZONE,... ms=ELAPSED"; -t is the deadline, -l keeps
 *	the loop running that long after the result so late answers arrive
 *   dnsbl_probe RESOLVER cancel [-l MS] ADDR LIST...
 *	starts a check, cancels it at once, runs the loop for -l ms (default
 *	1000) and prints "cancelled"; exit 1 if the result still came
 *
 * RESOLVER is IP:PORT, LIST is ZONE/WEIGHT[/CODES]. Exit 2 on bad usage.
 * Everything is freed before exit, so ASan's leak check sees a check that
 * was never freed.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dns/dns.h"
#include "guard/dnsbl.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"

struct probe {
	struct event_base *base;
	uint64_t start;
	unsigned linger_ms;
	int results;
};

static const char *const status_names[] = {"ok", "nxdomain", "nodata", "tempfail"};

static void
stop_after(struct probe *p, unsigned ms)
{
	struct timeval tv = {ms / 1000, (long)(ms % 1000) * 1000};

	event_base_loopexit(p->base, &tv);
}

static void
on_a(void *arg, enum dns_status st, const struct in_addr *a, size_t n)
{
	struct probe *p = arg;
	char ip[INET_ADDRSTRLEN];
	size_t i;

	printf("status=%s", status_names[st]);
	for (i = 0; i < n; i++)
		printf("%s%s", i == 0 ? " addrs=" : ",",
		       inet_ntop(AF_INET, &a[i], ip, sizeof(ip)));
	printf("\n");
	p->results++;
	stop_after(p, 0);
}

static void
on_done(void *arg, int score, const char *listed_on)
{
	struct probe *p = arg;

	printf("score=%d listed=%s ms=%llu\n", score, listed_on,
	       (unsigned long long)(now_ms() - p->start));
	p->results++;
	stop_after(p, p->linger_ms);
}

/* parse_list - "ZONE/WEIGHT[/CODES]". */
static int
parse_list(char *s, struct dnsbl_list *l)
{
	char err[512], *weight, *codes;

	weight = strchr(s, '/');
	if (weight == NULL)
		return -1;
	*weight++ = '\0';
	codes = strchr(weight, '/');
	if (codes != NULL)
		*codes++ = '\0';
	if (dnsbl_parse(s, weight, codes, l, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: dnsbl_probe IP:PORT a NAME\n"
			"       dnsbl_probe IP:PORT check|cancel [-t MS] [-l MS] ADDR "
			"ZONE/WEIGHT[/CODES]...\n");
	exit(2);
}

static unsigned
parse_ms(const char *s)
{
	uint64_t v;

	if (parse_u64(s, 600000, &v) == -1)
		usage();
	return (unsigned)v;
}

/* run_check - the check and cancel modes; returns the exit status. */
static int
run_check(struct probe *p, struct dns *d, bool cancel, int argc, char **argv)
{
	struct dnsbl_list lists[DNSBL_MAX_LISTS];
	struct sockaddr_storage ss;
	struct dnsbl_check *c;
	unsigned timeout = DNSBL_TIMEOUT_MS;
	size_t n = 0;
	socklen_t len;
	int i = 0;

	p->linger_ms = cancel ? 1000 : 0;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-t") == 0)
			timeout = parse_ms(argv[i + 1]);
		else if (strcmp(argv[i], "-l") == 0)
			p->linger_ms = parse_ms(argv[i + 1]);
		else
			usage();
	}
	if (i >= argc || net_parse_ip(argv[i++], &ss, &len) == -1)
		usage();
	for (; i < argc && n < DNSBL_MAX_LISTS; i++)
		if (parse_list(argv[i], &lists[n++]) == -1)
			return 2;
	p->start = now_ms();
	c = dnsbl_check_start_timeout(d, lists, n, (struct sockaddr *)&ss, timeout, on_done, p);
	memset(lists, 0xa5, sizeof(lists)); /* the check has its own copy */
	if (cancel) {
		dnsbl_check_cancel(c);
		stop_after(p, p->linger_ms);
	}
	event_base_dispatch(p->base);
	if (cancel) {
		if (p->results != 0)
			return 1;
		printf("cancelled\n");
	}
	return p->results == (cancel ? 0 : 1) ? 0 : 1;
}

int
main(int argc, char **argv)
{
	char resolver[NET_ADDRSTRLEN + 8], ip[NET_ADDRSTRLEN], err[256];
	char(*resolvers)[NET_ADDRSTRLEN + 8] = &resolver;
	struct sockaddr_storage ss;
	struct conf cf;
	struct probe p = {0};
	struct dns *d;
	socklen_t len;
	int rc;

	if (argc < 4 || net_parse_hostport(argv[1], &ss, &len) == -1)
		usage();
	log_init("probe", false, getenv("PROBE_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
	snprintf(resolver, sizeof(resolver), "%s@%u",
		 net_ntop((struct sockaddr *)&ss, ip, sizeof(ip)), net_port((struct sockaddr *)&ss));
	memset(&cf, 0, sizeof(cf));
	cf.resolvers = resolvers;
	cf.nresolvers = 1;
	p.base = event_base_new();
	d = dns_new(p.base, &cf, err, sizeof(err));
	if (d == NULL) {
		fprintf(stderr, "dns_new: %s\n", err);
		return 1;
	}
	if (strcmp(argv[2], "a") == 0 && argc == 4) {
		dns_a(d, argv[3], on_a, &p);
		event_base_dispatch(p.base);
		rc = p.results == 1 ? 0 : 1;
	} else if (strcmp(argv[2], "check") == 0 || strcmp(argv[2], "cancel") == 0) {
		rc = run_check(&p, d, strcmp(argv[2], "cancel") == 0, argc - 3, argv + 3);
	} else {
		usage();
	}
	fflush(stdout);
	dns_free(d);
	event_base_free(p.base);
	return rc;
}
