/* SPDX-License-Identifier: ISC */
/*
 * dns - libunbound on the event loop.
 *
 * SECURITY: see dns.h. libunbound decompresses names in MX RDATA, so the
 * parser only accepts uncompressed names and rejects pointers.
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unbound.h>

#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"

/* A lookup not yet answered. Each query type begins with one, on the list
 * of its dns, so that dns_free can answer what libunbound still owes. */
struct pending {
	struct pending *next, *prev;
	struct dns *d;
	void (*fail)(struct pending *); /* answer DNS_TEMPFAIL, free the query */
	int id[2];			/* libunbound async ids ... */
	bool live[2];			/* ... and whether each is still out */
};

struct dns {
	struct ub_ctx *ctx;
	struct event *ev;
	struct event_base *base;
	struct pending *pending;
	bool closing; /* inside dns_free: new lookups are not sent */
};

static void
pending_add(struct dns *d, struct pending *p, void (*fail)(struct pending *))
{
	p->d = d;
	p->fail = fail;
	p->prev = NULL;
	p->next = d->pending;
	if (d->pending != NULL)
		d->pending->prev = p;
	d->pending = p;
}

static void
pending_del(struct pending *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		p->d->pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
}

int
dns_parse_name(const uint8_t *p, size_t n, char out[DNS_NAME_MAX + 1])
{
	size_t i = 0, o = 0;

	for (;;) {
		uint8_t len;

		if (i >= n)
			return -1;
		len = p[i++];
		if (len == 0)
			break;
		if (len > 63 || i + len > n || o + len + 1 > DNS_NAME_MAX)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < len; k++) {
			unsigned char c = p[i + k];

			/* Host names only: letters, digits, hyphen, underscore. */
			if (!isalnum(c) && c != '-' && c != '_')
				return -1;
			out[o++] = (char)tolower(c);
		}
		i += len;
	}
	out[o] = '\0';
	return (int)i;
}

int
dns_parse_mx(const uint8_t *p, size_t n, struct dns_mx *mx)
{
	int used;

	if (n < 3)
		return -1;
	mx->pref = (uint16_t)(p[0] << 8 | p[1]);
	used = dns_parse_name(p + 2, n - 2, mx->host);
	if (used < 0 || (size_t)used != n - 2)
		return -1;
	return 0;
}

static void
on_ub(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	(void)fd;
	(void)what;
	if (ub_process(d->ctx) != 0)
		log_warnx("dns: ub_process failed");
}

struct dns *
dns_new(struct event_base *base, const struct conf *cf, char *err, size_t errsz)
{
	struct dns *d = xcalloc(1, sizeof(*d));
	size_t i;
	int r = 0;

	d->base = base;
	d->ctx = ub_ctx_create();
	if (d->ctx == NULL) {
		snprintf(err, errsz, "ub_ctx_create failed");
		free(d);
		return NULL;
	}
	r |= ub_ctx_async(d->ctx, 1);
	if (cf->nresolvers > 0) {
		r |= ub_ctx_set_option(d->ctx, "do-not-query-localhost:", "no");
		/* libunbound answers .test (RFC 6761) itself by default: with a
		 * configured resolver, names there are asked of it instead. */
		r |= ub_ctx_set_option(d->ctx, "local-zone:", "test. transparent");
		for (i = 0; i < cf->nresolvers; i++)
			r |= ub_ctx_set_fwd(d->ctx, cf->resolvers[i]);
	} else {
		r |= ub_ctx_resolvconf(d->ctx, NULL);
	}
	if (r != 0) {
		snprintf(err, errsz, "resolver setup failed: %s", ub_strerror(r));
		ub_ctx_delete(d->ctx);
		free(d);
		return NULL;
	}
	d->ev = event_new(base, ub_fd(d->ctx), EV_READ | EV_PERSIST, on_ub, d);
	event_add(d->ev, NULL);
	return d;
}

/* libunbound drops the queries of a deleted context without calling back,
 * so whatever their owners kept for the answer would be lost: answer them
 * first. */
void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	d->closing = true;
	while (d->pending != NULL) {
		struct pending *p = d->pending;
		int k;

		for (k = 0; k < 2; k++)
			if (p->live[k])
				(void)ub_cancel(d->ctx, p->id[k]);
		pending_del(p);
		p->fail(p);
	}
	event_free(d->ev);
	ub_ctx_delete(d->ctx);
	free(d);
}

static enum dns_status
status_of(int err, const struct ub_result *res)
{
	if (err != 0 || res == NULL)
		return DNS_TEMPFAIL;
	if (res->rcode == 3)
		return DNS_NXDOMAIN;
	if (res->rcode != 0)
		return DNS_TEMPFAIL;
	if (!res->havedata)
		return DNS_NODATA;
	return DNS_OK;
}

/* MX lookups. */

struct mx_query {
	struct pending p; /* first: the query is its pending entry */
	dns_mx_cb cb;
	void *arg;
};

static void
mx_fail(struct pending *p)
{
	struct mx_query *q = (struct mx_query *)p;

	q->cb(q->arg, DNS_TEMPFAIL, NULL, 0);
	free(q);
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (int)x->pref - (int)y->pref;
}

static void
shuffle_equal(struct dns_mx *mx, size_t n)
{
	size_t i, j, start = 0;

	for (i = 1; i <= n; i++) {
		if (i < n && mx[i].pref == mx[start].pref)
			continue;
		for (j = i - 1; j > start; j--) {
			uint32_t r;
			size_t k;
			struct dns_mx t;

			if (getrandom(&r, sizeof(r), 0) != sizeof(r))
				r = 0;
			k = start + r % (j - start + 1);
			t = mx[j];
			mx[j] = mx[k];
			mx[k] = t;
		}
		start = i;
	}
}

static void
on_mx(void *arg, int err, struct ub_result *res)
{
	struct mx_query *q = arg;
	struct dns_mx mx[DNS_MAX_MX] = {0};
	enum dns_status st = status_of(err, res);
	size_t n = 0;
	int i;

	pending_del(&q->p);
	if (st == DNS_OK) {
		for (i = 0; res->data[i] != NULL && n < DNS_MAX_MX; i++)
			if (dns_parse_mx((const uint8_t *)res->data[i], (size_t)res->len[i],
					 &mx[n]) == 0)
				n++;
		if (n == 0)
			st = DNS_TEMPFAIL; /* records there but none parsed */
		qsort(mx, n, sizeof(mx[0]), mx_cmp);
		shuffle_equal(mx, n);
	}
	q->cb(q->arg, st, mx, n);
	if (res != NULL)
		ub_resolve_free(res);
	free(q);
}

void
dns_mx(struct dns *d, const char *domain, dns_mx_cb cb, void *arg)
{
	struct mx_query *q = xcalloc(1, sizeof(*q));
	int r;

	q->cb = cb;
	q->arg = arg;
	pending_add(d, &q->p, mx_fail);
	if (d->closing)
		return;
	r = ub_resolve_async(d->ctx, domain, 15 /* MX */, 1, q, on_mx, &q->p.id[0]);
	if (r != 0) {
		log_warnx("dns: resolve %s: %s", domain, ub_strerror(r));
		pending_del(&q->p);
		free(q);
		cb(arg, DNS_TEMPFAIL, NULL, 0);
		return;
	}
	q->p.live[0] = true;
}

/* Address lookups: A and AAAA in parallel. */

struct addr_query {
	struct pending p; /* first: the query is its pending entry */
	struct dns *d;
	dns_addr_cb cb;
	void *arg;
	int outstanding;
	enum dns_status st4, st6;
	struct dns_addrs v4, v6;
	struct event *ev_now; /* numeric host: answer from the loop */
	struct dns_addrs numeric;
};

static void
addr_finish(struct addr_query *q)
{
	struct dns_addrs all;
	enum dns_status st;
	size_t i;

	memset(&all, 0, sizeof(all));
	for (i = 0; i < q->v6.n && all.n < DNS_MAX_ADDRS; i++)
		all.addr[all.n++] = q->v6.addr[i];
	for (i = 0; i < q->v4.n && all.n < DNS_MAX_ADDRS; i++)
		all.addr[all.n++] = q->v4.addr[i];
	if (all.n > 0)
		st = DNS_OK;
	else if (q->st4 == DNS_TEMPFAIL || q->st6 == DNS_TEMPFAIL)
		st = DNS_TEMPFAIL;
	else if (q->st4 == DNS_NXDOMAIN && q->st6 != DNS_NODATA)
		st = DNS_NXDOMAIN;
	else
		st = DNS_NODATA;
	q->cb(q->arg, st, &all);
	free(q);
}

static void
addr_fail(struct pending *p)
{
	struct addr_query *q = (struct addr_query *)p;
	struct dns_addrs none;

	memset(&none, 0, sizeof(none));
	if (q->ev_now != NULL)
		event_free(q->ev_now);
	q->cb(q->arg, DNS_TEMPFAIL, &none);
	free(q);
}

static void
collect_addrs(struct ub_result *res, int family, struct dns_addrs *out)
{
	int i;

	for (i = 0; res->data[i] != NULL && out->n < DNS_MAX_ADDRS; i++) {
		struct sockaddr_storage *ss = &out->addr[out->n];

		memset(ss, 0, sizeof(*ss));
		if (family == AF_INET && res->len[i] == 4) {
			ss->ss_family = AF_INET;
			memcpy(&((struct sockaddr_in *)ss)->sin_addr, res->data[i], 4);
			out->n++;
		} else if (family == AF_INET6 && res->len[i] == 16) {
			ss->ss_family = AF_INET6;
			memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, res->data[i], 16);
			out->n++;
		}
	}
}

static void
on_a(void *arg, int err, struct ub_result *res)
{
	struct addr_query *q = arg;

	q->p.live[0] = false;
	q->st4 = status_of(err, res);
	if (q->st4 == DNS_OK)
		collect_addrs(res, AF_INET, &q->v4);
	if (res != NULL)
		ub_resolve_free(res);
	if (--q->outstanding == 0) {
		pending_del(&q->p);
		addr_finish(q);
	}
}

static void
on_aaaa(void *arg, int err, struct ub_result *res)
{
	struct addr_query *q = arg;

	q->p.live[1] = false;
	q->st6 = status_of(err, res);
	if (q->st6 == DNS_OK)
		collect_addrs(res, AF_INET6, &q->v6);
	if (res != NULL)
		ub_resolve_free(res);
	if (--q->outstanding == 0) {
		pending_del(&q->p);
		addr_finish(q);
	}
}

static void
on_numeric(evutil_socket_t fd, short what, void *arg)
{
	struct addr_query *q = arg;

	(void)fd;
	(void)what;
	pending_del(&q->p);
	event_free(q->ev_now);
	q->cb(q->arg, DNS_OK, &q->numeric);
	free(q);
}

void
dns_addrs(struct dns *d, const char *host, dns_addr_cb cb, void *arg)
{
	struct addr_query *q = xcalloc(1, sizeof(*q));
	socklen_t len;
	int r;

	q->d = d;
	q->cb = cb;
	q->arg = arg;
	pending_add(d, &q->p, addr_fail);
	if (d->closing)
		return;
	if (net_parse_ip(host, &q->numeric.addr[0], &len) == 0) {
		q->numeric.n = 1;
		q->ev_now = evtimer_new(d->base, on_numeric, q);
		event_active(q->ev_now, EV_TIMEOUT, 0);
		return;
	}
	q->st4 = q->st6 = DNS_TEMPFAIL;
	r = ub_resolve_async(d->ctx, host, 1 /* A */, 1, q, on_a, &q->p.id[0]);
	q->p.live[0] = r == 0;
	r = ub_resolve_async(d->ctx, host, 28 /* AAAA */, 1, q, on_aaaa, &q->p.id[1]);
	q->p.live[1] = r == 0;
	q->outstanding = q->p.live[0] + q->p.live[1];
	if (q->outstanding == 0) {
		pending_del(&q->p);
		addr_finish(q);
	}
}

/* Plain A lookups (DNSBL and DNSWL queries): raw lookups whose RDATA must
 * be addresses. */

struct a_query {
	dns_a_cb cb;
	void *arg;
};

static void
on_a_only(void *arg, enum dns_status st, const struct dns_rdata *rd, size_t n)
{
	struct a_query *q = arg;
	struct in_addr a[DNS_MAX_A];
	size_t i, k = 0;

	for (i = 0; st == DNS_OK && i < n && k < DNS_MAX_A; i++)
		if (rd[i].len == 4)
			memcpy(&a[k++], rd[i].p, 4);
	if (st == DNS_OK && k == 0)
		st = DNS_TEMPFAIL; /* records there but none an address */
	q->cb(q->arg, st, a, k);
	free(q);
}

void
dns_a(struct dns *d, const char *name, dns_a_cb cb, void *arg)
{
	struct a_query *q = xcalloc(1, sizeof(*q));

	q->cb = cb;
	q->arg = arg;
	dns_query(d, 1 /* A */, name, on_a_only, q);
}

struct event_base *
dns_base(const struct dns *d)
{
	return d->base;
}

/* Raw lookups (SPF, DKIM and DMARC records). */

struct raw_query {
	struct pending p; /* first: the query is its pending entry */
	dns_raw_cb cb;
	void *arg;
	struct event *ev_refused;
};

static void
on_raw(void *arg, int err, struct ub_result *res)
{
	struct raw_query *q = arg;
	struct dns_rdata rd[DNS_MAX_RR];
	enum dns_status st = status_of(err, res);
	size_t n = 0;
	int i;

	pending_del(&q->p);
	if (st == DNS_OK) {
		for (i = 0; res->data[i] != NULL && n < DNS_MAX_RR; i++) {
			rd[n].p = (const uint8_t *)res->data[i];
			rd[n].len = res->len[i] > 0 ? (size_t)res->len[i] : 0;
			n++;
		}
		if (n == 0)
			st = DNS_NODATA;
	}
	q->cb(q->arg, st, n > 0 ? rd : NULL, n);
	if (res != NULL)
		ub_resolve_free(res);
	free(q);
}

static void
on_raw_refused(evutil_socket_t fd, short what, void *arg)
{
	struct raw_query *q = arg;

	(void)fd;
	(void)what;
	pending_del(&q->p);
	event_free(q->ev_refused);
	q->cb(q->arg, DNS_TEMPFAIL, NULL, 0);
	free(q);
}

static void
raw_fail(struct pending *p)
{
	struct raw_query *q = (struct raw_query *)p;

	if (q->ev_refused != NULL)
		event_free(q->ev_refused);
	q->cb(q->arg, DNS_TEMPFAIL, NULL, 0);
	free(q);
}

void
dns_query(struct dns *d, int rrtype, const char *name, dns_raw_cb cb, void *arg)
{
	struct raw_query *q = xcalloc(1, sizeof(*q));
	char esc[LOG_ESCAPE_BUF];
	int r;

	q->cb = cb;
	q->arg = arg;
	pending_add(d, &q->p, raw_fail);
	if (d->closing)
		return;
	r = ub_resolve_async(d->ctx, name, rrtype, 1 /* IN */, q, on_raw, &q->p.id[0]);
	q->p.live[0] = r == 0;
	if (r != 0) {
		log_warnx("dns: resolve %s: %s", log_escape_str(esc, name), ub_strerror(r));
		q->ev_refused = evtimer_new(d->base, on_raw_refused, q);
		event_active(q->ev_refused, EV_TIMEOUT, 0);
	}
}
