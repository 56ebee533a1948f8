/* SPDX-License-Identifier: ISC */
/*
 * msgauth - DKIM verification and DMARC evaluation of a received message.
 * See msgauth.h for the contract, SECURITY and STANDARDS.
 *
 * The evaluation is a list of lookups done one after the other: the key of
 * each DKIM signature, then per From domain its DMARC record, the
 * organizational domain's record when there is none, and whether the From
 * domain exists when np= could apply. A lookup answered at once (a test
 * resolver, or the deadline) is taken by the same loop, never by recursion.
 */
#include "mailauth/msgauth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "lib/util.h"
#include "mail/addrlist.h"
#include "mailauth/authres.h"
#include "mailauth/dkim_canon.h"

enum phase { PH_DKIM, PH_DMARC, PH_DONE };
/* Steps of one From domain. */
enum dstep { DS_FROM, DS_ORG, DS_EXISTS, DS_EVAL };

struct query {
	struct msgauth *m; /* NULL once the evaluation gave up on it */
};

struct answer {
	enum spf_dns_status st;
	struct buf txt[MSGAUTH_TXT_MAX];
	size_t n;
};

struct msgauth {
	struct spf_resolver res;
	char *authserv_id, *ip, *helo, *mailfrom;
	enum spf_result spf;
	bool spf_checked;
	const struct dmarc_psl *psl;
	bool dkim;
	struct dkim_keycache *dkim_keys; /* the caller's, or NULL */
	time_t now;
	unsigned (*rand100)(void);

	struct buf hdr;
	bool have_hdr;
	struct dkim_verify *v;
	char from[MSGAUTH_FROM_MAX][DMARC_DOMAIN_MAX + 1];
	size_t nfrom;
	const char *from_why; /* the From field could not be used */
	bool from_exists_known;

	struct msgauth_result r;
	enum phase phase;
	size_t idx;
	enum dstep dstep;
	struct query *q;  /* the lookup in flight */
	bool in_query;	  /* inside res.query(): an answer is only stored */
	bool have_answer;
	struct answer ans;
	bool running, done, deadline, freed;
	msgauth_done_cb cb;
	void *arg;
};

static void step(struct msgauth *m);

const char *
dmarc_result_name(enum dmarc_result r)
{
	static const char *const names[] = {"none", "pass", "fail", "temperror", "permerror"};

	return (size_t)r < nitems(names) ? names[r] : "permerror";
}

const char *
dmarc_action_name(enum dmarc_action a)
{
	static const char *const names[] = {"none", "quarantine", "reject"};

	return (size_t)a < nitems(names) ? names[a] : "none";
}

static unsigned
sys_rand100(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	return r % 100;
}

struct msgauth *
msgauth_new(const struct spf_resolver *res, const struct msgauth_params *p)
{
	struct msgauth *m = xcalloc(1, sizeof(*m));
	size_t i;

	m->res = *res;
	m->authserv_id = xstrdup(p->authserv_id);
	m->ip = xstrdup(p->ip != NULL ? p->ip : "");
	m->helo = xstrdup(p->helo != NULL ? p->helo : "");
	m->mailfrom = xstrdup(p->mailfrom != NULL ? p->mailfrom : "");
	m->spf = p->spf;
	m->spf_checked = p->spf_checked;
	m->psl = p->psl;
	m->dkim = p->dkim;
	m->dkim_keys = p->dkim_keys;
	m->now = p->now;
	m->rand100 = p->rand100 != NULL ? p->rand100 : sys_rand100;
	for (i = 0; i < MSGAUTH_TXT_MAX; i++)
		buf_init(&m->ans.txt[i]);
	return m;
}

/* add_from_domain - the domain of one From address, once. */
static void
add_from_domain(struct msgauth *m, const char *addr)
{
	const char *at = strrchr(addr, '@');
	char d[DMARC_DOMAIN_MAX + 1];
	size_t i, n;

	if (at == NULL || at[1] == '\0') {
		m->from_why = "a From address has no domain";
		return;
	}
	n = strlen(at + 1);
	if (n > 0 && at[n] == '.')
		n--; /* a final dot names the same domain */
	if (n == 0 || n > DMARC_DOMAIN_MAX) {
		m->from_why = "a From domain is too long";
		return;
	}
	for (i = 0; i < n; i++)
		d[i] = (char)((at[1 + i] >= 'A' && at[1 + i] <= 'Z') ? at[1 + i] + 32 : at[1 + i]);
	d[n] = '\0';
	for (i = 0; i < m->nfrom; i++)
		if (strcmp(m->from[i], d) == 0)
			return;
	if (m->nfrom == MSGAUTH_FROM_MAX) {
		m->from_why = "too many From domains";
		return;
	}
	memcpy(m->from[m->nfrom++], d, n + 1);
}

/* find_from - the From domains of the header section (RFC 7489 6.6.1:
 * exactly one From field). */
static void
find_from(struct msgauth *m)
{
	struct dkim_field *f = xcalloc(DKIM_FIELDS_MAX, sizeof(*f));
	struct addrlist *l = xmalloc(sizeof(*l));
	struct buf val = BUF_INIT;
	size_t nf, body_off, k, i, found = 0, which = 0;
	const char *why;

	if (dkim_split_header(m->hdr.data, m->hdr.len, f, DKIM_FIELDS_MAX, &nf, &body_off, &why) !=
	    0) {
		m->from_why = "the header section does not parse";
		goto done;
	}
	for (k = 0; k < nf; k++)
		if (f[k].name_len == 4 && strncasecmp(m->hdr.data + f[k].off, "From", 4) == 0) {
			found++;
			which = k;
		}
	if (found != 1) {
		m->from_why = found == 0 ? "no From field" : "more than one From field";
		goto done;
	}
	/* the value, unfolded: CRLF before WSP goes */
	{
		const char *p = memchr(m->hdr.data + f[which].off, ':', f[which].len);
		const char *end = m->hdr.data + f[which].off + f[which].len;

		for (p++; p < end; p++)
			if (!(*p == '\r' && p + 1 < end && p[1] == '\n'))
				buf_addc(&val, *p == '\n' ? ' ' : *p);
	}
	if (addrlist_parse(buf_cstr(&val), val.len, l) == -1 || l->n == 0 || l->groups > 0) {
		m->from_why = "the From field cannot be read";
		goto done;
	}
	for (i = 0; i < l->n; i++)
		add_from_domain(m, l->addr[i]);
done:
	buf_free(&val);
	free(l);
	free(f);
}

void
msgauth_header(struct msgauth *m, const char *hdr, size_t len)
{
	const char *why;

	if (m->have_hdr)
		abort(); /* the caller's bug */
	m->have_hdr = true;
	buf_add(&m->hdr, hdr, len);
	(void)buf_cstr(&m->hdr);
	if (m->dkim && dkim_verify_begin_stream(m->hdr.data, m->hdr.len, &m->v, &why) != 0) {
		m->v = NULL;
		m->r.header_bad = true;
	}
	if (m->v != NULL)
		dkim_verify_use_cache(m->v, m->dkim_keys);
	if (m->psl != NULL)
		find_from(m);
}

void
msgauth_body(struct msgauth *m, const void *p, size_t n)
{
	if (m->v != NULL)
		dkim_verify_body(m->v, p, n);
}

/* Lookups. */

static void
answer_clear(struct answer *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		buf_reset(&a->txt[i]);
	a->n = 0;
}

static void
on_answer(void *cbarg, enum spf_dns_status st, const struct spf_rr *rr, size_t n)
{
	struct query *q = cbarg;
	struct msgauth *m = q->m;
	size_t i;

	free(q);
	if (m == NULL)
		return;
	m->q = NULL;
	answer_clear(&m->ans);
	m->ans.st = st;
	for (i = 0; st == SPF_DNS_OK && i < n && m->ans.n < MSGAUTH_TXT_MAX; i++)
		if (rr[i].text != NULL)
			buf_add(&m->ans.txt[m->ans.n++], rr[i].text, rr[i].len);
	m->have_answer = true;
	if (m->freed) {
		msgauth_free(m);
		return;
	}
	if (!m->in_query)
		step(m);
}

/* lookup - ask for name; after the deadline the answer is a failure at
 * once. */
static void
lookup(struct msgauth *m, int rrtype, const char *name)
{
	struct query *q;

	if (m->deadline) {
		answer_clear(&m->ans);
		m->ans.st = SPF_DNS_TEMPFAIL;
		m->have_answer = true;
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->m = m;
	m->q = q;
	m->in_query = true;
	m->res.query(m->res.ctx, rrtype, name, on_answer, q);
	m->in_query = false;
}

/* DKIM. */

static void
dkim_take(struct msgauth *m)
{
	struct dkim_sigres *res = &m->r.dkim[m->idx];
	struct dkim_keyans ka = {DKIM_DNS_NOTFOUND, NULL, 0};
	struct dkim_sigres tmp;
	size_t i;

	if (m->ans.st == SPF_DNS_TEMPFAIL)
		ka.status = DKIM_DNS_TEMPFAIL;
	if (m->ans.st != SPF_DNS_OK || m->ans.n == 0) {
		dkim_verify_sig(m->v, m->idx, &ka, m->now, res);
		return;
	}
	/* RFC 6376 3.6.2.2: with several records, any one may be used; a
	 * pass with one of them is a pass. */
	for (i = 0; i < m->ans.n; i++) {
		ka.status = DKIM_DNS_FOUND;
		ka.txt = m->ans.txt[i].data != NULL ? m->ans.txt[i].data : "";
		ka.len = m->ans.txt[i].len;
		dkim_verify_sig(m->v, m->idx, &ka, m->now, i == 0 ? res : &tmp);
		if (i > 0 && tmp.result == DKIM_PASS)
			*res = tmp;
		if (res->result == DKIM_PASS)
			break;
	}
}

/* DMARC. */

/* dmarc_take_record - the DMARC record of the answer into d: 0 when there
 * is one, 1 when there is none (look further up), -1 when what is there
 * stops the discovery (RFC 7489 6.6.3: several records, or one that is not
 * a valid policy: no DMARC processing). */
static int
dmarc_take_record(struct msgauth *m, struct msgauth_dmarc *d)
{
	char err[128];
	size_t i, n = 0, which = 0;

	for (i = 0; i < m->ans.n; i++)
		if (m->ans.txt[i].len >= 8 && strncasecmp(m->ans.txt[i].data, "v=DMARC1", 8) == 0) {
			n++;
			which = i;
		}
	if (n == 0)
		return 1;
	if (n > 1 || dmarc_record_parse(m->ans.txt[which].data, m->ans.txt[which].len, &d->rec,
					err, sizeof(err)) != 0)
		return -1;
	d->have_record = true;
	return 0;
}

static const char *
spf_domain(const struct msgauth *m)
{
	const char *at = strrchr(m->mailfrom, '@');

	if (m->mailfrom[0] == '\0')
		return m->helo;
	return at != NULL ? at + 1 : m->mailfrom;
}

/* dmarc_eval - the verdict for d once its record is known. */
static void
dmarc_eval(struct msgauth *m, struct msgauth_dmarc *d, bool nonexistent)
{
	bool temp = false;
	size_t k;

	if (!d->have_record) {
		d->result = DMARC_NONE;
		d->reason = "no DMARC record";
		return;
	}
	d->policy = strcmp(d->policy_domain, d->domain) == 0 ? d->rec.p
		    : nonexistent			     ? d->rec.np
							     : d->rec.sp;
	for (k = 0; k < m->r.ndkim; k++) {
		bool al = dmarc_aligned(m->psl, m->r.dkim[k].d, d->domain, d->rec.adkim_strict);

		if (al && m->r.dkim[k].result == DKIM_PASS)
			d->dkim_aligned = true;
		if (al && m->r.dkim[k].result == DKIM_TEMPERROR)
			temp = true;
	}
	if (m->spf_checked &&
	    dmarc_aligned(m->psl, spf_domain(m), d->domain, d->rec.aspf_strict)) {
		if (m->spf == SPF_PASS)
			d->spf_aligned = true;
		if (m->spf == SPF_TEMPERROR)
			temp = true;
	}
	if (d->dkim_aligned || d->spf_aligned) {
		d->result = DMARC_PASS;
		d->reason = d->dkim_aligned ? "aligned DKIM signature" : "aligned SPF";
		return;
	}
	if (temp) {
		d->result = DMARC_TEMPERROR;
		d->reason = "an aligned identifier could not be checked";
		return;
	}
	d->result = DMARC_FAIL;
	d->reason = "no aligned DKIM signature or SPF pass";
	d->action = d->policy == DMARC_P_REJECT	    ? DMARC_ACT_REJECT
		    : d->policy == DMARC_P_QUARANTINE ? DMARC_ACT_QUARANTINE
						      : DMARC_ACT_NONE;
	/* RFC 7489 6.6.4: outside pct= the next policy down applies */
	if (d->action != DMARC_ACT_NONE && d->rec.pct < 100 && m->rand100() >= d->rec.pct) {
		d->sampled_out = true;
		d->action = d->action == DMARC_ACT_REJECT ? DMARC_ACT_QUARANTINE : DMARC_ACT_NONE;
	}
}

/* dmarc_take - the answer for the current step of From domain idx. */
static void
dmarc_take(struct msgauth *m)
{
	struct msgauth_dmarc *d = &m->r.dmarc[m->idx];
	int rc;

	switch (m->dstep) {
	case DS_FROM:
		rc = m->ans.st == SPF_DNS_TEMPFAIL ? 0 : dmarc_take_record(m, d);
		if (m->ans.st == SPF_DNS_TEMPFAIL) {
			d->result = DMARC_TEMPERROR;
			d->reason = "DNS failure looking up the DMARC record";
			m->dstep = DS_EVAL;
		} else if (rc == 0) {
			str_copy(d->policy_domain, d->domain, sizeof(d->policy_domain));
			dmarc_eval(m, d, false);
			m->dstep = DS_EVAL;
		} else if (rc == -1 || dmarc_org_domain(m->psl, d->domain, d->policy_domain,
					    sizeof(d->policy_domain)) != 0 ||
			   strcmp(d->policy_domain, d->domain) == 0) {
			d->policy_domain[0] = '\0';
			dmarc_eval(m, d, false);
			m->dstep = DS_EVAL;
		} else {
			m->dstep = DS_ORG;
		}
		break;
	case DS_ORG:
		if (m->ans.st == SPF_DNS_TEMPFAIL) {
			d->result = DMARC_TEMPERROR;
			d->reason = "DNS failure looking up the DMARC record";
			m->dstep = DS_EVAL;
		} else if (dmarc_take_record(m, d) != 0) {
			d->policy_domain[0] = '\0';
			dmarc_eval(m, d, false);
			m->dstep = DS_EVAL;
		} else if (d->rec.np == d->rec.sp) {
			dmarc_eval(m, d, false);
			m->dstep = DS_EVAL;
		} else {
			m->dstep = DS_EXISTS;
		}
		break;
	case DS_EXISTS:
		/* RFC 9091: NXDOMAIN for the name means no A, AAAA or MX */
		dmarc_eval(m, d, m->ans.st == SPF_DNS_NXDOMAIN);
		m->dstep = DS_EVAL;
		break;
	case DS_EVAL:
		break;
	}
	if (m->dstep == DS_EVAL) {
		m->idx++;
		m->dstep = DS_FROM;
	}
}

/* advance - start the next lookup, or settle what needs none; false when
 * everything is done. */
static bool
advance(struct msgauth *m)
{
	char name[DKIM_QNAME_MAX + 16];

	if (m->phase == PH_DKIM) {
		size_t n = m->v != NULL ? dkim_verify_count(m->v) : 0;

		if (m->idx >= n) {
			m->r.ndkim = n;
			m->phase = PH_DMARC;
			m->idx = 0;
			return true;
		}
		if (dkim_verify_qname(m->v, m->idx, name, sizeof(name)) != 0) {
			dkim_verify_sig(m->v, m->idx, NULL, m->now, &m->r.dkim[m->idx]);
			m->idx++;
			return true;
		}
		lookup(m, SPF_RR_TXT, name);
		return true;
	}
	if (m->phase == PH_DMARC && m->idx < m->nfrom) {
		struct msgauth_dmarc *d = &m->r.dmarc[m->idx];

		if (m->dstep == DS_FROM) {
			memset(d, 0, sizeof(*d));
			str_copy(d->domain, m->from[m->idx], sizeof(d->domain));
			m->r.ndmarc = m->idx + 1;
			str_fmt(name, sizeof(name), "_dmarc.%s", d->domain);
		} else if (m->dstep == DS_ORG) {
			str_fmt(name, sizeof(name), "_dmarc.%s", d->policy_domain);
		} else {
			str_copy(name, d->domain, sizeof(name));
		}
		lookup(m, m->dstep == DS_EXISTS ? SPF_RR_A : SPF_RR_TXT, name);
		return true;
	}
	m->phase = PH_DONE;
	return false;
}

static void
take(struct msgauth *m)
{
	if (m->phase == PH_DKIM) {
		dkim_take(m);
		m->idx++;
	} else {
		dmarc_take(m);
	}
}

/* finish - the overall verdict: the worst evaluation decides. */
static void
finish(struct msgauth *m)
{
	static const int rank[] = {[DMARC_NONE] = 0, [DMARC_PASS] = 1, [DMARC_PERMERROR] = 2,
				   [DMARC_TEMPERROR] = 3, [DMARC_FAIL] = 4};
	size_t i;

	m->r.dmarc_result = DMARC_NONE;
	if (m->psl != NULL && m->from_why != NULL)
		m->r.dmarc_result = DMARC_PERMERROR;
	for (i = 0; i < m->r.ndmarc; i++) {
		const struct msgauth_dmarc *d = &m->r.dmarc[i];

		if (rank[d->result] > rank[m->r.dmarc_result])
			m->r.dmarc_result = d->result;
		if (d->action > m->r.action || m->r.decisive == NULL) {
			if (d->action > m->r.action || d->result != DMARC_NONE)
				m->r.decisive = d;
			if (d->action > m->r.action)
				m->r.action = d->action;
		}
	}
	m->done = true;
	if (m->cb != NULL)
		m->cb(m->arg, &m->r);
}

static void
step(struct msgauth *m)
{
	while (!m->done && m->q == NULL) {
		if (m->have_answer) {
			m->have_answer = false;
			take(m);
			continue;
		}
		if (!advance(m)) {
			finish(m); /* its callback may have freed m */
			return;
		}
	}
}

void
msgauth_run(struct msgauth *m, msgauth_done_cb cb, void *arg)
{
	if (m->running)
		abort(); /* the caller's bug */
	m->running = true;
	m->cb = cb;
	m->arg = arg;
	if (!m->have_hdr)
		msgauth_header(m, "", 0);
	if (m->v != NULL)
		dkim_verify_body_end(m->v);
	if (m->from_why != NULL)
		m->nfrom = 0; /* nothing trustworthy to evaluate */
	step(m);
}

void
msgauth_deadline(struct msgauth *m)
{
	if (!m->running || m->done)
		return;
	m->deadline = true;
	if (m->q != NULL) {
		m->q->m = NULL; /* its answer is dropped when it comes */
		m->q = NULL;
		answer_clear(&m->ans);
		m->ans.st = SPF_DNS_TEMPFAIL;
		m->have_answer = true;
	}
	step(m);
}

const struct msgauth_result *
msgauth_result(const struct msgauth *m)
{
	return &m->r;
}

/* Authentication-Results. */

static void
prop(struct authres_result *r, const char *ptype, const char *property, const char *value)
{
	if (r->nprops < AUTHRES_PROPS_MAX && value != NULL && value[0] != '\0')
		r->props[r->nprops++] = (struct authres_prop){ptype, property, value};
}

int
msgauth_authres(const struct msgauth *m, struct buf *out)
{
	struct authres_result r[1 + DKIM_SIGS_MAX + MSGAUTH_FROM_MAX + 1];
	char why[MSGAUTH_FROM_MAX][96];
	size_t n = 0, i;

	memset(r, 0, sizeof(r));
	if (m->spf_checked) {
		r[n].method = "spf";
		r[n].result = spf_result_str(m->spf);
		if (m->mailfrom[0] != '\0')
			prop(&r[n], "smtp", "mailfrom", m->mailfrom);
		else
			prop(&r[n], "smtp", "helo", m->helo);
		n++;
	}
	if (m->dkim) {
		for (i = 0; i < m->r.ndkim; i++) {
			const struct dkim_sigres *d = &m->r.dkim[i];

			r[n].method = "dkim";
			r[n].result = dkim_result_name(d->result);
			r[n].reason = d->result == DKIM_PASS ? NULL : d->reason;
			prop(&r[n], "header", "d", d->d);
			prop(&r[n], "header", "s", d->s);
			prop(&r[n], "header", "i", d->i);
			n++;
		}
		if (m->r.ndkim == 0) {
			r[n].method = "dkim";
			r[n].result = m->r.header_bad ? "permerror" : "none";
			n++;
		}
	}
	if (m->psl != NULL && m->from_why != NULL) {
		r[n].method = "dmarc";
		r[n].result = "permerror";
		r[n].reason = m->from_why;
		n++;
	}
	for (i = 0; m->psl != NULL && i < m->r.ndmarc; i++) {
		const struct msgauth_dmarc *d = &m->r.dmarc[i];

		r[n].method = "dmarc";
		r[n].result = dmarc_result_name(d->result);
		if (d->have_record) {
			str_fmt(why[i], sizeof(why[i]), "p=%s sp=%s dis=%s%s",
				dmarc_policy_name(d->rec.p), dmarc_policy_name(d->rec.sp),
				dmarc_action_name(d->action), d->sampled_out ? " pct" : "");
			r[n].reason = why[i];
		}
		prop(&r[n], "header", "from", d->domain);
		n++;
	}
	return authres_compose(m->authserv_id, r, n, out);
}

void
msgauth_free(struct msgauth *m)
{
	size_t i;

	if (m == NULL)
		return;
	if (m->q != NULL) {
		/* the resolver still owes an answer: release then */
		m->freed = true;
		m->cb = NULL;
		return;
	}
	dkim_verify_free(m->v);
	buf_free(&m->hdr);
	for (i = 0; i < MSGAUTH_TXT_MAX; i++)
		buf_free(&m->ans.txt[i]);
	free(m->authserv_id);
	free(m->ip);
	free(m->helo);
	free(m->mailfrom);
	free(m);
}
