/* SPDX-License-Identifier: ISC */
/*
 * spf - check_host() (see spf.h).
 *
 * Shape: `phase` says what the check is doing (fetching a record, walking
 * its terms, validating the client's PTR names, fetching the explanation);
 * `pend` says what the answer in flight is for. run() loops until a query
 * is outstanding or the check is done; an answer handler only updates the
 * state and calls run(), which returns at once when it is already running
 * further up the stack (a synchronous resolver).
 *
 * SECURITY: see spf.h. STANDARDS: RFC 7208 4-8.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/spf.h"
#include "mailauth/spf_macro.h"
#include "mailauth/spf_record.h"

#define NAME_SZ (SPF_MACRO_OUT_MAX + 1)
#define DEFAULT_EXP "%{i} is not one of %{d}'s designated mail servers."

enum phase { PH_FETCH, PH_TERM, PH_PTRVAL, PH_EXP, PH_DONE };
enum pend { P_RECORD, P_ADDR, P_MX, P_MX_ADDR, P_EXISTS, P_PTR, P_PTR_ADDR, P_EXP };

struct frame {
	struct spf_record rec;
	char domain[NAME_SZ];
	size_t ti;	  /* term being evaluated */
	bool counted;	  /* its DNS lookup has been counted */
	bool redirected;  /* this level came from redirect= */
};

struct spf_check {
	struct spf_resolver res;
	spf_done_cb cb;
	void *arg;
	/* identity and macro values */
	char *sender, *local, *sender_dom, *helo, *receiver, *default_exp;
	char ip_i[80], ip_c[INET6_ADDRSTRLEN], ts[24];
	uint8_t ip[16];
	bool v6;
	/* evaluation */
	struct frame *fr[SPF_MAX_DEPTH];
	int depth;
	int lookups, voids;
	enum phase phase, pv_return;
	enum pend pend;
	bool waiting, running, orphan, notified;
	/* MX names of the term in progress */
	char names[SPF_MAX_NAMES][SPF_DOMAIN_MAX + 2];
	size_t nnames, ni;
	bool mx_active;
	/* PTR validation (5.5), done at most once per check */
	bool pv_done;
	char pv_names[SPF_MAX_NAMES][SPF_DOMAIN_MAX + 2];
	char valid[SPF_MAX_NAMES][SPF_DOMAIN_MAX + 2];
	size_t pv_n, pv_i, nvalid;
	/* explanation */
	int exp_state;
	struct buf exp_text;
	enum spf_result result;
	struct buf exp;
};

static void run(struct spf_check *c);

const char *
spf_result_str(enum spf_result r)
{
	static const char *const s[] = {"none",	   "neutral",	"pass",	    "fail",
					"softfail", "temperror", "permerror"};

	return (size_t)r < sizeof(s) / sizeof(s[0]) ? s[r] : "permerror";
}

static void
finish(struct spf_check *c, enum spf_result r)
{
	c->result = r;
	c->phase = PH_DONE;
}

static struct frame *
cur(struct spf_check *c)
{
	return c->fr[c->depth];
}

/* ---- identity and addresses ---- */

/* set_identity - 4.3: sender, local part and domain; null MAIL FROM uses
 * postmaster@helo. */
static void
set_identity(struct spf_check *c, const struct spf_params *p)
{
	const char *from = p->mailfrom != NULL && p->mailfrom[0] != '\0' ? p->mailfrom : NULL;
	const char *at;

	c->helo = xstrdup(p->helo != NULL ? p->helo : "");
	if (from == NULL) {
		c->local = xstrdup("postmaster");
		c->sender_dom = xstrdup(c->helo);
	} else if ((at = strrchr(from, '@')) == NULL) {
		c->local = xstrdup("postmaster");
		c->sender_dom = xstrdup(from);
	} else {
		c->local = at == from ? xstrdup("postmaster") : xstrndup(from, (size_t)(at - from));
		c->sender_dom = xstrdup(at + 1);
	}
	c->sender = xasprintf("%s@%s", c->local, c->sender_dom);
}

/* set_ip - parse the client address; IPv4-mapped IPv6 is IPv4 (5.6). */
static int
set_ip(struct spf_check *c, const char *ip)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t i, o = 0;

	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, c->ip) == 1) {
		c->v6 = false;
	} else if (inet_pton(AF_INET6, ip, c->ip) == 1) {
		c->v6 = memcmp(c->ip, mapped, 12) != 0;
		if (!c->v6)
			memmove(c->ip, c->ip + 12, 4);
	} else
		return -1;
	if (!c->v6) {
		inet_ntop(AF_INET, c->ip, c->ip_c, sizeof(c->ip_c));
		str_copy(c->ip_i, c->ip_c, sizeof(c->ip_i));
		return 0;
	}
	inet_ntop(AF_INET6, c->ip, c->ip_c, sizeof(c->ip_c));
	for (i = 0; i < 32; i++) {
		unsigned nib = i % 2 == 0 ? c->ip[i / 2] >> 4 : c->ip[i / 2] & 15;

		/* upper case, as the OpenSPF suite expects in explanations */
		c->ip_i[o++] = "0123456789ABCDEF"[nib];
		c->ip_i[o++] = i == 31 ? '\0' : '.';
	}
	return 0;
}

static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* valid_name - 4.3: labels of 1 to 63 octets, at most 253 in all; with
 * multi, at least two labels. A final dot is allowed. */
static bool
valid_name(const char *s, bool multi)
{
	size_t len = strlen(s), label = 0, labels = 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_DOMAIN_MAX)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++;
			label = 0;
		} else
			label++;
	}
	return !multi || labels >= 2;
}

/* ---- queries ---- */

static void answer(void *arg, enum spf_dns_status st, const struct spf_rr *rr, size_t n);

static void
query(struct spf_check *c, int type, const char *name, enum pend pend)
{
	c->pend = pend;
	c->waiting = true;
	c->res.query(c->res.ctx, type, name, answer, c);
}

static int
count_lookup(struct spf_check *c)
{
	if (++c->lookups > SPF_MAX_DNS_MECH) {
		finish(c, SPF_PERMERROR);
		return -1;
	}
	return 0;
}

/* void_lookup - 4.6.4: an empty answer; -1 (permerror) past the limit. */
static int
void_lookup(struct spf_check *c)
{
	if (++c->voids > SPF_MAX_VOID) {
		finish(c, SPF_PERMERROR);
		return -1;
	}
	return 0;
}

/* ---- macro expansion ---- */

static const char *
validated_for(struct spf_check *c, const char *domain)
{
	size_t i, dl = strlen(domain), nl;

	for (i = 0; i < c->nvalid; i++) {
		nl = strlen(c->valid[i]);
		if (strcase_eq(c->valid[i], domain) ||
		    (nl > dl && c->valid[i][nl - dl - 1] == '.' &&
		     strcase_eq(c->valid[i] + nl - dl, domain)))
			return c->valid[i];
	}
	return c->nvalid > 0 ? c->valid[0] : "unknown";
}

/* expand - s[0..n) with the current domain d into out; -1 when invalid.
 * Needs the PTR validation done first when the string uses %{p}. */
static int
expand(struct spf_check *c, const char *s, size_t n, const char *d, int flags, struct buf *out)
{
	struct spf_macro_ctx m = {
		.sender = c->sender,
		.local = c->local,
		.sender_dom = c->sender_dom,
		.domain = d,
		.ip = c->ip_i,
		.validated = validated_for(c, d),
		.version = c->v6 ? "ip6" : "in-addr",
		.helo = c->helo,
		.client_ip = c->ip_c,
		.receiver = c->receiver,
		.timestamp = c->ts,
	};

	return spf_macro_expand(s, n, flags, &m, out);
}

/* need_ptrval - when s uses %{p} before the names are validated, start
 * the validation and return true: the caller comes back later. */
static bool
need_ptrval(struct spf_check *c, const char *s, size_t n)
{
	if (c->pv_done || !spf_macro_uses(s, n, 'p'))
		return false;
	c->pv_return = c->phase;
	c->phase = PH_PTRVAL;
	c->pv_n = 0;
	c->pv_i = SIZE_MAX; /* PTR query not sent yet */
	return true;
}

/* target - the domain of a term: its expanded domain-spec or the current
 * domain, truncated to 253 octets (7.3). 0, 1 when %{p} must be resolved
 * first, -1 after finish(permerror). */
static int
target(struct spf_check *c, struct spf_span sp, char out[NAME_SZ])
{
	struct frame *f = cur(c);
	struct buf b = BUF_INIT;
	size_t off;

	if (sp.len == 0)
		return str_copy(out, f->domain, NAME_SZ) == 0 ? 0 : -1;
	if (need_ptrval(c, f->rec.text + sp.off, sp.len))
		return 1;
	if (expand(c, f->rec.text + sp.off, sp.len, f->domain, 0, &b) == -1) {
		buf_free(&b);
		finish(c, SPF_PERMERROR);
		return -1;
	}
	off = spf_domain_truncate(buf_cstr(&b));
	str_copy(out, buf_cstr(&b) + off, NAME_SZ);
	buf_free(&b);
	return 0;
}

/* ---- levels ---- */

static enum spf_result
qual_result(enum spf_qual q)
{
	static const enum spf_result r[] = {SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_NEUTRAL};

	return r[q];
}

static void
next_term(struct spf_check *c)
{
	cur(c)->ti++;
	cur(c)->counted = false;
	c->mx_active = false;
}

/* push - a new level for domain (include), or the same level afresh
 * (redirect). */
static void
enter(struct spf_check *c, const char *domain, bool redirect)
{
	struct frame *f;

	if (!redirect) {
		if (c->depth + 1 >= SPF_MAX_DEPTH) {
			finish(c, SPF_PERMERROR);
			return;
		}
		c->depth++;
	}
	if (c->fr[c->depth] == NULL)
		c->fr[c->depth] = xmalloc(sizeof(struct frame));
	f = c->fr[c->depth];
	str_copy(f->domain, domain, sizeof(f->domain));
	f->ti = 0;
	f->counted = false;
	f->redirected = redirect;
	f->rec.nterms = 0;
	c->phase = PH_FETCH;
}

/* level_result - the current level ended with r: hand it to the include
 * that asked (5.2), or end the check. */
static void
level_result(struct spf_check *c, enum spf_result r)
{
	struct frame *f;

	for (;;) {
		if (r == SPF_TEMPERROR || r == SPF_PERMERROR) {
			finish(c, r);
			return;
		}
		if (c->depth == 0) {
			c->result = r;
			c->phase = r == SPF_FAIL && cur(c)->rec.exp.len > 0 ? PH_EXP : PH_DONE;
			c->exp_state = 0;
			return;
		}
		c->depth--;
		f = cur(c);
		if (r == SPF_NONE) {
			finish(c, SPF_PERMERROR);
			return;
		}
		if (r != SPF_PASS) {
			next_term(c);
			c->phase = PH_TERM;
			return;
		}
		r = qual_result(f->rec.term[f->ti].qual);
	}
}

static void
matched(struct spf_check *c)
{
	struct frame *f = cur(c);

	c->mx_active = false;
	level_result(c, qual_result(f->rec.term[f->ti].qual));
}

/* after_terms - nothing matched: redirect= or neutral (4.7, 6.1). */
static void
after_terms(struct spf_check *c)
{
	struct frame *f = cur(c);
	char *d;
	int rc;

	if (f->rec.redirect.len == 0) {
		level_result(c, SPF_NEUTRAL);
		return;
	}
	d = xmalloc(NAME_SZ);
	if (!f->counted && count_lookup(c) == -1)
		goto out;
	f->counted = true;
	if ((rc = target(c, f->rec.redirect, d)) != 0)
		goto out;
	if (!valid_name(d, false)) {
		finish(c, SPF_PERMERROR);
		goto out;
	}
	enter(c, d, true);
out:
	free(d);
}

/* ---- terms ---- */

static bool
ptr_matches(struct spf_check *c, const char *t)
{
	size_t i, tl = strlen(t), nl;

	if (tl > 0 && t[tl - 1] == '.')
		tl--;
	for (i = 0; i < c->nvalid; i++) {
		nl = strlen(c->valid[i]);
		if (nl == tl && strncasecmp(c->valid[i], t, tl) == 0)
			return true;
		if (nl > tl && c->valid[i][nl - tl - 1] == '.' &&
		    strncasecmp(c->valid[i] + nl - tl, t, tl) == 0)
			return true;
	}
	return false;
}

static void
eval_dns_term(struct spf_check *c, const struct spf_term *t, const char *d)
{
	int addr = c->v6 ? SPF_RR_AAAA : SPF_RR_A;

	if (t->mech != SPF_MECH_PTR && t->mech != SPF_MECH_INCLUDE && !valid_name(d, false)) {
		/* a name DNS cannot carry: nothing exists there */
		if (void_lookup(c) == 0)
			next_term(c);
		return;
	}
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		if (!valid_name(d, false))
			finish(c, SPF_PERMERROR);
		else
			enter(c, d, false);
		break;
	case SPF_MECH_A: query(c, addr, d, P_ADDR); break;
	case SPF_MECH_MX: query(c, SPF_RR_MX, d, P_MX); break;
	case SPF_MECH_EXISTS: query(c, SPF_RR_A, d, P_EXISTS); break;
	case SPF_MECH_PTR:
		if (ptr_matches(c, d))
			matched(c);
		else
			next_term(c);
		break;
	default: abort();
	}
}

/* mx_next - the address lookup of the next MX name, or no match. */
static void
mx_next(struct spf_check *c)
{
	if (c->ni < c->nnames) {
		query(c, c->v6 ? SPF_RR_AAAA : SPF_RR_A, c->names[c->ni++], P_MX_ADDR);
		return;
	}
	next_term(c);
}

static void
eval_term(struct spf_check *c)
{
	struct frame *f = cur(c);
	const struct spf_term *t;
	char *d;

	if (f->ti >= f->rec.nterms) {
		after_terms(c);
		return;
	}
	t = &f->rec.term[f->ti];
	if (t->mech == SPF_MECH_ALL) {
		matched(c);
		return;
	}
	if (t->mech == SPF_MECH_IP4 || t->mech == SPF_MECH_IP6) {
		if ((t->mech == SPF_MECH_IP6) == c->v6 &&
		    prefix_match(c->ip, t->addr, c->v6 ? t->cidr6 : t->cidr4))
			matched(c);
		else
			next_term(c);
		return;
	}
	if (c->mx_active) {
		mx_next(c);
		return;
	}
	if (!f->counted && count_lookup(c) == -1)
		return;
	f->counted = true;
	if (t->mech == SPF_MECH_PTR && !c->pv_done) {
		c->pv_return = PH_TERM;
		c->phase = PH_PTRVAL;
		c->pv_i = SIZE_MAX;
		return;
	}
	d = xmalloc(NAME_SZ);
	if (target(c, t->domain, d) == 0)
		eval_dns_term(c, t, d);
	free(d);
}

/* ---- PTR validation (5.5) and the explanation (6.2) ---- */

static void
reverse_name(const struct spf_check *c, char *out, size_t sz)
{
	size_t i, o = 0;

	if (!c->v6) {
		str_fmt(out, sz, "%u.%u.%u.%u.in-addr.arpa", c->ip[3], c->ip[2], c->ip[1], c->ip[0]);
		return;
	}
	for (i = 32; i-- > 0;) {
		unsigned nib = i % 2 == 0 ? c->ip[i / 2] >> 4 : c->ip[i / 2] & 15;

		out[o++] = "0123456789abcdef"[nib];
		out[o++] = '.';
	}
	str_copy(out + o, "ip6.arpa", sz - o);
}

static void
ptrval_step(struct spf_check *c)
{
	char name[100];

	if (c->pv_i == SIZE_MAX) {
		reverse_name(c, name, sizeof(name));
		query(c, SPF_RR_PTR, name, P_PTR);
	} else if (c->pv_i < c->pv_n) {
		query(c, c->v6 ? SPF_RR_AAAA : SPF_RR_A, c->pv_names[c->pv_i], P_PTR_ADDR);
	} else {
		c->pv_done = true;
		c->phase = c->pv_return;
	}
}

static void
exp_step(struct spf_check *c)
{
	struct frame *f = cur(c);
	struct buf b = BUF_INIT;
	size_t off;

	if (c->exp_state == 0) {
		if (need_ptrval(c, f->rec.text + f->rec.exp.off, f->rec.exp.len))
			return;
		c->exp_state = 3;
		if (expand(c, f->rec.text + f->rec.exp.off, f->rec.exp.len, f->domain, 0, &b) == 0) {
			off = spf_domain_truncate(buf_cstr(&b));
			if (valid_name(buf_cstr(&b) + off, false))
				query(c, SPF_RR_TXT, buf_cstr(&b) + off, P_EXP);
		}
	} else if (c->exp_state == 2) {
		if (need_ptrval(c, c->exp_text.data, c->exp_text.len))
			return;
		if (expand(c, c->exp_text.data, c->exp_text.len, f->domain, SPF_MACRO_EXP, &b) == 0 &&
		    b.len <= SPF_EXP_MAX) {
			buf_reset(&c->exp);
			buf_adds(&c->exp, buf_cstr(&b));
		}
		c->phase = PH_DONE;
	} else
		c->phase = PH_DONE;
	buf_free(&b);
}

/* ---- answers ---- */

static void
got_record(struct spf_check *c, enum spf_dns_status st, const struct spf_rr *rr, size_t n)
{
	struct frame *f = cur(c);
	const char *rec = NULL;
	char err[128];
	size_t i, found = 0, len = 0;

	if (st == SPF_DNS_TEMPFAIL) {
		finish(c, SPF_TEMPERROR);
		return;
	}
	for (i = 0; st == SPF_DNS_OK && i < n; i++) {
		if (rr[i].text != NULL && spf_record_is_spf1(rr[i].text, rr[i].len)) {
			rec = rr[i].text;
			len = rr[i].len;
			found++;
		}
	}
	if (found == 0) {
		level_result(c, f->redirected ? SPF_PERMERROR : SPF_NONE);
		return;
	}
	if (found > 1 || spf_record_parse(rec, len, &f->rec, err, sizeof(err)) == -1) {
		finish(c, SPF_PERMERROR); /* 4.5, 4.6 */
		return;
	}
	c->phase = PH_TERM;
}

static bool
any_addr_matches(struct spf_check *c, const struct spf_rr *rr, size_t n, bool exact)
{
	const struct spf_term *t = &cur(c)->rec.term[cur(c)->ti];
	unsigned bits = c->v6 ? (exact ? 128 : t->cidr6) : (exact ? 32 : t->cidr4);
	size_t i;

	for (i = 0; i < n; i++)
		if (prefix_match(c->ip, rr[i].addr, bits))
			return true;
	return false;
}

/* copy_names - up to max names (final dot dropped, unusable ones skipped). */
static size_t
copy_names(char out[][SPF_DOMAIN_MAX + 2], size_t max, const struct spf_rr *rr, size_t n)
{
	size_t i, k = 0, len;

	for (i = 0; i < n && k < max; i++) {
		if (rr[i].text == NULL || str_copy(out[k], rr[i].text, SPF_DOMAIN_MAX + 2) == -1)
			continue;
		len = strlen(out[k]);
		if (len > 0 && out[k][len - 1] == '.')
			out[k][len - 1] = '\0';
		if (valid_name(out[k], false))
			k++;
	}
	return k;
}

/* got_void - NXDOMAIN, NODATA or an empty answer to a mechanism's query. */
static void
got_void(struct spf_check *c)
{
	if (void_lookup(c) == 0)
		next_term(c);
}

static void
got_term_answer(struct spf_check *c, enum spf_dns_status st, const struct spf_rr *rr, size_t n)
{
	bool ok = st == SPF_DNS_OK && n > 0;

	if (st == SPF_DNS_TEMPFAIL) {
		finish(c, SPF_TEMPERROR); /* 5 */
		return;
	}
	switch (c->pend) {
	case P_ADDR:
		if (!ok)
			got_void(c);
		else if (any_addr_matches(c, rr, n, false))
			matched(c);
		else
			next_term(c);
		break;
	case P_EXISTS:
		if (ok)
			matched(c);
		else
			got_void(c);
		break;
	case P_MX:
		if (!ok)
			got_void(c);
		else if (n > SPF_MAX_NAMES)
			finish(c, SPF_PERMERROR); /* 4.6.4 */
		else {
			c->nnames = copy_names(c->names, SPF_MAX_NAMES, rr, n);
			c->ni = 0;
			c->mx_active = true;
		}
		break;
	case P_MX_ADDR:
		if (ok && any_addr_matches(c, rr, n, false))
			matched(c);
		break;
	default: abort();
	}
}

static void
handle(struct spf_check *c, enum spf_dns_status st, const struct spf_rr *rr, size_t n)
{
	bool ok = st == SPF_DNS_OK && n > 0;

	switch (c->pend) {
	case P_RECORD: got_record(c, st, rr, n); break;
	case P_PTR:
		c->pv_n = ok ? copy_names(c->pv_names, SPF_MAX_NAMES, rr, n) : 0;
		c->pv_i = 0;
		break;
	case P_PTR_ADDR:
		if (ok && any_addr_matches(c, rr, n, true) && c->nvalid < SPF_MAX_NAMES)
			str_copy(c->valid[c->nvalid++], c->pv_names[c->pv_i], SPF_DOMAIN_MAX + 2);
		c->pv_i++;
		break;
	case P_EXP:
		c->exp_state = 3;
		if (ok && n == 1 && rr[0].text != NULL) {
			buf_add(&c->exp_text, rr[0].text, rr[0].len);
			c->exp_state = 2;
		}
		break;
	default: got_term_answer(c, st, rr, n); break;
	}
}

static void
free_now(struct spf_check *c)
{
	int i;

	for (i = 0; i < SPF_MAX_DEPTH; i++)
		free(c->fr[i]);
	free(c->sender);
	free(c->local);
	free(c->sender_dom);
	free(c->helo);
	free(c->receiver);
	free(c->default_exp);
	buf_free(&c->exp_text);
	buf_free(&c->exp);
	free(c);
}

static void
answer(void *arg, enum spf_dns_status st, const struct spf_rr *rr, size_t n)
{
	struct spf_check *c = arg;

	c->waiting = false;
	if (c->orphan) {
		free_now(c);
		return;
	}
	handle(c, st, rr, n);
	run(c);
}

/* ---- the loop ---- */

static void
step(struct spf_check *c)
{
	switch (c->phase) {
	case PH_FETCH: query(c, SPF_RR_TXT, cur(c)->domain, P_RECORD); break;
	case PH_TERM: eval_term(c); break;
	case PH_PTRVAL: ptrval_step(c); break;
	case PH_EXP: exp_step(c); break;
	case PH_DONE: break;
	}
}

static void
notify(struct spf_check *c)
{
	if (c->result == SPF_FAIL && c->exp.len == 0 &&
	    (expand(c, c->default_exp, strlen(c->default_exp), cur(c)->domain, SPF_MACRO_EXP,
		    &c->exp) == -1 ||
	     c->exp.len > SPF_EXP_MAX)) {
		buf_reset(&c->exp);
		buf_adds(&c->exp, "SPF fail");
	}
	c->notified = true;
	c->cb(c->arg, c->result, c->result == SPF_FAIL ? buf_cstr(&c->exp) : NULL);
}

static void
run(struct spf_check *c)
{
	if (c->running)
		return;
	c->running = true;
	while (!c->waiting && c->phase != PH_DONE)
		step(c);
	c->running = false;
	if (c->phase == PH_DONE && !c->notified)
		notify(c); /* last: the callback may free c */
}

struct spf_check *
spf_check_new(const struct spf_resolver *res, const struct spf_params *p, spf_done_cb cb,
	      void *arg)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));

	if (set_ip(c, p->ip) == -1) {
		free(c);
		return NULL;
	}
	c->res = *res;
	c->cb = cb;
	c->arg = arg;
	set_identity(c, p);
	c->receiver = xstrdup(p->receiver != NULL ? p->receiver : "unknown");
	c->default_exp = xstrdup(p->default_exp != NULL ? p->default_exp : DEFAULT_EXP);
	str_fmt(c->ts, sizeof(c->ts), "%lld", p->now);
	buf_init(&c->exp);
	buf_init(&c->exp_text);
	c->depth = -1;
	return c;
}

void
spf_check_start(struct spf_check *c)
{
	c->depth = -1;
	if (c->sender_dom[0] == '[' || !valid_name(c->sender_dom, true)) {
		/* 4.3: malformed or single-label domain; an address literal
		 * (a HELO of "[192.0.2.1]", RFC 5321 4.1.3) is not a domain
		 * and is never looked up */
		c->depth = 0;
		c->fr[0] = xmalloc(sizeof(struct frame));
		str_copy(c->fr[0]->domain, "", sizeof(c->fr[0]->domain));
		c->fr[0]->rec.exp.len = 0;
		finish(c, SPF_NONE);
	} else
		enter(c, c->sender_dom, false);
	run(c);
}

void
spf_check_free(struct spf_check *c)
{
	if (c == NULL)
		return;
	if (c->waiting) {
		c->orphan = true;
		return;
	}
	free_now(c);
}
