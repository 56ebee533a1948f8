/* SPDX-License-Identifier: ISC */
/*
 * resolver - struct spf_resolver on src/dns. See resolver.h.
 */
#include "mailauth/resolver.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mailauth/dkim_tags.h"

struct rq {
	spf_answer_cb cb;
	void *cbarg;
	int rrtype;
};

static enum spf_dns_status
map_status(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return SPF_DNS_OK;
	case DNS_NXDOMAIN:
		return SPF_DNS_NXDOMAIN;
	case DNS_NODATA:
		return SPF_DNS_NODATA;
	default:
		return SPF_DNS_TEMPFAIL;
	}
}

/* convert - one RDATA into rr (text pointing into store); 0 or -1. */
static int
convert(int rrtype, const struct dns_rdata *rd, struct spf_rr *rr, char *store)
{
	size_t len;

	memset(rr, 0, sizeof(*rr));
	switch (rrtype) {
	case SPF_RR_TXT:
		if (dkim_txt_join(rd->p, rd->len, store, RESOLVER_TXT_MAX + 1, &len) != 0)
			return -1;
		rr->text = store;
		rr->len = len;
		return 0;
	case SPF_RR_MX: {
		struct dns_mx mx;

		if (dns_parse_mx(rd->p, rd->len, &mx) != 0)
			return -1;
		memcpy(store, mx.host, strlen(mx.host) + 1);
		rr->text = store;
		rr->len = strlen(store);
		return 0;
	}
	case SPF_RR_PTR:
		if (dns_parse_name(rd->p, rd->len, store) != (int)rd->len)
			return -1;
		rr->text = store;
		rr->len = strlen(store);
		return 0;
	case SPF_RR_A:
	case SPF_RR_AAAA:
		if (rd->len != (rrtype == SPF_RR_A ? 4u : 16u))
			return -1;
		memcpy(rr->addr, rd->p, rd->len);
		return 0;
	default:
		return -1;
	}
}

static void
on_answer(void *arg, enum dns_status st, const struct dns_rdata *rd, size_t n)
{
	struct rq *q = arg;
	struct spf_rr *rr = NULL;
	char *store = NULL;
	size_t i, k = 0;
	enum spf_dns_status s = map_status(st);

	if (s == SPF_DNS_OK) {
		rr = xcalloc(n, sizeof(*rr));
		store = xmalloc(n * (RESOLVER_TXT_MAX + 1));
		for (i = 0; i < n; i++)
			if (convert(q->rrtype, &rd[i], &rr[k], store + k * (RESOLVER_TXT_MAX + 1)) == 0)
				k++;
		if (k == 0)
			s = SPF_DNS_TEMPFAIL;
	}
	q->cb(q->cbarg, s, rr, k);
	free(rr);
	free(store);
	free(q);
}

static void
query(void *ctx, int rrtype, const char *name, spf_answer_cb cb, void *cbarg)
{
	struct rq *q = xcalloc(1, sizeof(*q));

	q->cb = cb;
	q->cbarg = cbarg;
	q->rrtype = rrtype;
	dns_query(ctx, rrtype, name, on_answer, q);
}

void
resolver_init(struct spf_resolver *r, struct dns *d)
{
	r->query = query;
	r->ctx = d;
}
