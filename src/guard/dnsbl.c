/* SPDX-License-Identifier: ISC */
/*
 * dnsbl - weighted DNS block and allow lists.
 *
 * SECURITY: see dnsbl.h. The parser takes config text and the matcher takes
 * DNS answers: both are pure and bounded. dns_a() has no cancel, so a check
 * stays allocated until its last answer is in even when its caller has gone
 * (cancelled) or stopped waiting (the deadline): `finished` says no result
 * is wanted any more, `outstanding` counts the answers still to come, and
 * whichever of the two ends last frees the check.
 */
#include "guard/dnsbl.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"

/* Answers that never list unless codes name them (host byte order). */
#define DNSBL_TEST_ADDR 0x7f000001u    /* 127.0.0.1, RFC 5782 5 */
#define DNSBL_ERROR_NET 0x7fffff00u    /* 127.255.255.0/24: query refused */
#define DNSBL_LOOPBACK_NET 0x7f000000u /* 127.0.0.0/8 */

/* Config parsing. */

static bool
is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* zone_ok - s[0..len) is labels of 1..63 label chars, no hyphen at either
 * end of a label, at least two labels. */
static bool
zone_ok(const char *s, size_t len, size_t *dots)
{
	size_t i, label = 0;

	*dots = 0;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			if (i < len)
				(*dots)++;
			label = 0;
			continue;
		}
		if (!is_label_char(s[i]) || (s[i] == '-' && label == 0))
			return false;
		label++;
	}
	return true;
}

static int
parse_zone(const char *zone, struct dnsbl_list *out, char *err, size_t errsz)
{
	char esc[LOG_ESCAPE_BUF];
	size_t len = strlen(zone), dots, i;

	if (len > 0 && zone[len - 1] == '.')
		len--; /* an absolute name is the same zone */
	if (len == 0) {
		snprintf(err, errsz, "dnsbl: the zone is empty");
		return -1;
	}
	if (len > DNSBL_ZONE_MAX) {
		snprintf(err, errsz,
			 "dnsbl: zone '%s' is longer than %d characters (a reversed IPv6 "
			 "address must fit in front of it)",
			 log_escape_str(esc, zone), DNSBL_ZONE_MAX);
		return -1;
	}
	if (!zone_ok(zone, len, &dots)) {
		snprintf(err, errsz,
			 "dnsbl: zone '%s' is not a DNS name (labels of 1 to 63 letters, "
			 "digits or inner hyphens, separated by dots)",
			 log_escape_str(esc, zone));
		return -1;
	}
	if (dots == 0) {
		snprintf(err, errsz, "dnsbl: zone '%s' needs at least one dot (like bl.example.org)",
			 log_escape_str(esc, zone));
		return -1;
	}
	for (i = 0; i < len; i++)
		out->zone[i] = (char)(zone[i] >= 'A' && zone[i] <= 'Z' ? zone[i] - 'A' + 'a'
								      : zone[i]);
	out->zone[len] = '\0';
	return 0;
}

static int
parse_weight(const char *s, int *weight, char *err, size_t errsz)
{
	bool neg = false;
	uint64_t v;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (parse_u64(s, DNSBL_WEIGHT_MAX, &v) == -1) {
		snprintf(err, errsz, "dnsbl: weight must be an integer from -%d to %d",
			 DNSBL_WEIGHT_MAX, DNSBL_WEIGHT_MAX);
		return -1;
	}
	if (v == 0) {
		snprintf(err, errsz,
			 "dnsbl: weight must not be 0 (positive for a block list, negative "
			 "for an allow list)");
		return -1;
	}
	*weight = neg ? -(int)v : (int)v;
	return 0;
}

/* parse_ip4 - a dotted-quad IPv4 address in s[0..n), host byte order. */
static int
parse_ip4(const char *s, size_t n, uint32_t *out)
{
	char tmp[INET_ADDRSTRLEN];
	struct in_addr a;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

/* parse_code - one "ADDR" or "ADDR-ADDR" in s[0..n); 0, or -1 with err. */
static int
parse_code(const char *s, size_t n, struct dnsbl_range *r, char *err, size_t errsz)
{
	char esc[LOG_ESCAPE_BUF];
	const char *dash = memchr(s, '-', n);
	int rc;

	if (dash == NULL) {
		rc = parse_ip4(s, n, &r->lo);
		r->hi = r->lo;
	} else {
		rc = parse_ip4(s, (size_t)(dash - s), &r->lo);
		if (rc == 0)
			rc = parse_ip4(dash + 1, n - (size_t)(dash - s) - 1, &r->hi);
	}
	if (rc == -1)
		snprintf(err, errsz,
			 "dnsbl: code '%s' is not an IPv4 address or a range like "
			 "127.0.0.2-127.0.0.11",
			 log_escape(esc, s, n));
	else if ((r->lo & 0xff000000u) != DNSBL_LOOPBACK_NET ||
		 (r->hi & 0xff000000u) != DNSBL_LOOPBACK_NET)
		snprintf(err, errsz, "dnsbl: code '%s' is outside 127.0.0.0/8",
			 log_escape(esc, s, n));
	else if (r->lo > r->hi)
		snprintf(err, errsz, "dnsbl: range '%s' ends before it starts",
			 log_escape(esc, s, n));
	else
		return 0;
	return -1;
}

static int
parse_codes(const char *s, struct dnsbl_list *out, char *err, size_t errsz)
{
	for (;;) {
		size_t n = strcspn(s, ",");

		if (out->ncodes == DNSBL_MAX_CODES) {
			snprintf(err, errsz, "dnsbl: at most %d codes per list", DNSBL_MAX_CODES);
			return -1;
		}
		if (parse_code(s, n, &out->codes[out->ncodes], err, errsz) == -1)
			return -1;
		out->ncodes++;
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	return 0;
}

int
dnsbl_parse(const char *zone, const char *weight, const char *codes, struct dnsbl_list *out,
	    char *err, size_t errsz)
{
	memset(out, 0, sizeof(*out));
	if (parse_zone(zone, out, err, errsz) == -1)
		return -1;
	if (parse_weight(weight, &out->weight, err, errsz) == -1)
		return -1;
	if (codes != NULL && parse_codes(codes, out, err, errsz) == -1)
		return -1;
	return 0;
}

/* Query names and answers. */

int
dnsbl_query_name(const struct sockaddr *sa, const char *zone, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	char rev[4 * 16 + 1];
	const uint8_t *b;
	size_t o = 0, i;

	if (sa->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		b = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			b += 12; /* a v4 client on a dual-stack socket */
		else
			for (i = 16; i-- > 0;) {
				rev[o++] = hex[b[i] & 0xf];
				rev[o++] = '.';
				rev[o++] = hex[b[i] >> 4];
				rev[o++] = '.';
			}
	} else {
		return -1;
	}
	if (o == 0)
		o = (size_t)snprintf(rev, sizeof(rev), "%u.%u.%u.%u.", b[3], b[2], b[1], b[0]);
	rev[o] = '\0';
	if (zone[0] == '\0' || o + strnlen(zone, DNSBL_QNAME_MAX + 1) > DNSBL_QNAME_MAX)
		return -1;
	return str_fmt(out, outsz, "%s%s", rev, zone);
}

bool
dnsbl_listed(const struct dnsbl_list *l, const struct in_addr *a, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		uint32_t x = ntohl(a[i].s_addr);

		if ((x & 0xff000000u) != DNSBL_LOOPBACK_NET)
			continue; /* not an answer code: ignored */
		if (l->ncodes == 0 && x != DNSBL_TEST_ADDR &&
		    (x & 0xffffff00u) != DNSBL_ERROR_NET)
			return true;
		for (k = 0; k < l->ncodes && k < DNSBL_MAX_CODES; k++)
			if (x >= l->codes[k].lo && x <= l->codes[k].hi)
				return true;
	}
	return false;
}

/* The asynchronous check. */

enum dnsbl_qstate { DNSBL_Q_SKIPPED, DNSBL_Q_PENDING, DNSBL_Q_ANSWERED };

struct dnsbl_query {
	struct dnsbl_check *c;
	struct dnsbl_list list;
	enum dnsbl_qstate state;
	bool hit;
};

struct dnsbl_check {
	dnsbl_done_cb cb;
	void *arg;
	struct event *timer; /* the deadline, or "answer now" when nothing was asked */
	size_t outstanding;  /* dns_a() answers still to come */
	bool finished;	     /* cb called or cancelled: results are not wanted */
	char client[NET_ADDRSTRLEN];
	size_t n;
	struct dnsbl_query q[];
};

/* check_release - free c once nobody needs it any more. */
static void
check_release(struct dnsbl_check *c)
{
	if (!c->finished || c->outstanding > 0)
		return;
	event_free(c->timer);
	free(c);
}

static void
check_finish(struct dnsbl_check *c)
{
	struct buf listed = BUF_INIT;
	int score = 0;
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (!c->q[i].hit)
			continue;
		score += c->q[i].list.weight;
		if (listed.len > 0)
			buf_addc(&listed, ',');
		buf_adds(&listed, c->q[i].list.zone);
	}
	log_debug("dnsbl done client=%s score=%d listed=%s", c->client, score,
		  buf_cstr(&listed));
	c->finished = true; /* before cb: a cancel from cb is then a no-op */
	event_del(c->timer);
	c->cb(c->arg, score, buf_cstr(&listed));
	buf_free(&listed);
	check_release(c);
}

static void
on_answer(void *arg, enum dns_status st, const struct in_addr *a, size_t n)
{
	struct dnsbl_query *q = arg;
	struct dnsbl_check *c = q->c;

	c->outstanding--;
	if (c->finished) {
		check_release(c);
		return;
	}
	q->state = DNSBL_Q_ANSWERED;
	q->hit = st == DNS_OK && dnsbl_listed(&q->list, a, n);
	if (st == DNS_TEMPFAIL)
		log_debug("dnsbl tempfail zone=%s client=%s", q->list.zone, c->client);
	if (c->outstanding == 0)
		check_finish(c);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_check *c = arg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < c->n; i++)
		if (c->q[i].state == DNSBL_Q_PENDING)
			log_debug("dnsbl timeout zone=%s client=%s", c->q[i].list.zone,
				  c->client);
	check_finish(c);
}

struct dnsbl_check *
dnsbl_check_start_timeout(struct dns *d, const struct dnsbl_list *lists, size_t n,
			  const struct sockaddr *sa, unsigned timeout_ms, dnsbl_done_cb cb,
			  void *arg)
{
	struct dnsbl_check *c;
	struct timeval tv = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000};
	char name[DNSBL_QNAME_MAX + 1];
	size_t i;

	if (n > DNSBL_MAX_LISTS)
		log_bug("dnsbl: %zu lists, at most %d", n, DNSBL_MAX_LISTS);
	c = xcalloc(1, sizeof(*c) + n * sizeof(c->q[0]));
	c->cb = cb;
	c->arg = arg;
	c->n = n;
	c->timer = evtimer_new(dns_base(d), on_deadline, c);
	if (c->timer == NULL)
		log_fatalx("dnsbl: evtimer_new failed");
	net_ntop(sa, c->client, sizeof(c->client));
	for (i = 0; i < n; i++) {
		struct dnsbl_query *q = &c->q[i];

		q->c = c;
		q->list = lists[i];
		if (dnsbl_query_name(sa, q->list.zone, name, sizeof(name)) == -1) {
			log_debug("dnsbl skipped zone=%s client=%s", q->list.zone, c->client);
			continue;
		}
		q->state = DNSBL_Q_PENDING;
		c->outstanding++;
		dns_a(d, name, on_answer, q); /* never answers before it returns */
	}
	if (c->outstanding == 0)
		event_active(c->timer, EV_TIMEOUT, 0); /* the result, from the loop */
	else
		evtimer_add(c->timer, &tv);
	return c;
}

struct dnsbl_check *
dnsbl_check_start(struct dns *d, const struct dnsbl_list *lists, size_t n,
		  const struct sockaddr *sa, dnsbl_done_cb cb, void *arg)
{
	return dnsbl_check_start_timeout(d, lists, n, sa, DNSBL_TIMEOUT_MS, cb, arg);
}

void
dnsbl_check_cancel(struct dnsbl_check *c)
{
	if (c == NULL || c->finished)
		return;
	c->finished = true;
	event_del(c->timer);
	check_release(c);
}
