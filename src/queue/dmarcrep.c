/* SPDX-License-Identifier: ISC */
/*
 * dmarcrep - DMARC aggregate reports in the queue process. See dmarcrep.h.
 *
 * A run covers one period: each policy domain with records becomes a job;
 * a job looks up the consent of its external report addresses (one TXT
 * query each, in parallel), then writes the report, injects the mail and
 * forgets the period's records.
 */
#include "queue/dmarcrep.h"

#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/syntax.h"
#include "mailauth/resolver.h"
#include "queue/queue.h"

#define DAY 86400
/* Records older than this are dropped unreported (a report that never
 * went out, or a gateway that was down at midnight for a week). */
#define DMARCREP_KEEP (7 * DAY)
/* The daily run starts up to this long after midnight (UTC), at random. */
#define DMARCREP_SPREAD 1800

struct dmarcrep {
	struct queue *q;
	struct dmarc_store *st;
	struct dmarc_psl *psl;
	struct spf_resolver res;
	struct event *ev_daily;
	uint64_t last_dropped; /* for one store-full line per growth */
};

struct job {
	struct dmarcrep *r;
	struct dmarc_report_domain dom;
	struct dmarc_rua_target t[DMARC_URIS_MAX];
	int64_t begin, end;
	int pending;
};

struct check {
	struct job *job;
	size_t idx;
};

static void
random_hex(char *out, size_t nbytes)
{
	unsigned char b[32];
	size_t i;

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
		log_fatal("getrandom");
	for (i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* inject - the report mail to the targets that are still SEND. */
static void
inject(struct job *j, const char *mail)
{
	const struct conf *cf = j->r->q->cf;
	struct envelope env;
	struct env_rcpt rc;
	struct buf msg = BUF_INIT;
	size_t i;

	memset(&env, 0, sizeof(env));
	env.arrival = (uint64_t)time(NULL);
	str_copy(env.client_ip, "127.0.0.1", sizeof(env.client_ip));
	str_copy(env.helo, cf->hostname, sizeof(env.helo));
	str_copy(env.proto, "local", sizeof(env.proto));
	env.originated = true; /* ours: DKIM-signed when its From: domain has keys */
	env.body = BODY_7BIT;
	for (i = 0; i < j->dom.nrua; i++) {
		if (j->t[i].status != DMARC_RUA_SEND)
			continue;
		memset(&rc, 0, sizeof(rc));
		str_copy(rc.addr, j->t[i].addr, sizeof(rc.addr));
		str_copy(rc.domain, j->t[i].domain, sizeof(rc.domain));
		envelope_add_rcpt(&env, &rc);
	}
	buf_adds(&msg, mail);
	if (env.nrcpts > 0 && queue_inject(j->r->q, &env, &msg) == -1)
		log_warnx("dmarc report-failed domain=%s reason=queue", j->dom.domain);
	envelope_clear(&env);
	buf_free(&msg);
}

/* job_finish - every consent is known: write, send, forget. */
static void
job_finish(struct job *j)
{
	const struct conf *cf = j->r->q->cf;
	const struct conf_mailauth *m = &cf->mailauth;
	struct dmarc_report_data d;
	struct dmarc_report_meta meta = {0};
	struct dmarc_report_mail rm = {0};
	struct buf xml = BUF_INIT, mail = BUF_INIT;
	char id[2 * 16 + 1], err[256];
	size_t i;

	memset(&d, 0, sizeof(d));
	random_hex(id, 16);
	if (dmarc_store_aggregate(j->r->st, j->dom.domain, j->begin, j->end, &d) == -1) {
		log_warnx("dmarc report-failed domain=%s reason=\"%s\"", j->dom.domain,
			  dmarc_store_error(j->r->st));
		goto done;
	}
	meta.org_name = m->dmarc_report_org != NULL ? m->dmarc_report_org : cf->hostname;
	meta.email = m->dmarc_report_from;
	meta.report_id = id;
	meta.begin = j->begin;
	meta.end = j->end;
	rm.from = m->dmarc_report_from;
	rm.submitter = cf->hostname;
	rm.hostname = cf->hostname;
	rm.policy_domain = j->dom.domain;
	rm.report_id = id;
	rm.begin = j->begin;
	rm.end = j->end;
	rm.now = time(NULL);
	if (dmarc_report_xml(&meta, &d, &xml, err, sizeof(err)) == -1 ||
	    dmarc_report_mail(&rm, xml.data, xml.len, j->t, j->dom.nrua, &mail, err,
			      sizeof(err)) == -1)
		log_info("dmarc report-not-sent domain=%s reason=\"%s\"", j->dom.domain, err);
	else
		inject(j, buf_cstr(&mail));
	for (i = 0; i < j->dom.nrua; i++)
		log_info("dmarc report domain=%s id=%s rows=%zu to=<%s> status=%s", j->dom.domain,
			 id, d.nrows, j->t[i].addr[0] ? j->t[i].addr : "-",
			 j->t[i].status == DMARC_RUA_SEND ? "sent"
							  : dmarc_rua_status_name(j->t[i].status));
	/* reported once, whatever became of it */
	if (dmarc_store_delete(j->r->st, j->dom.domain, j->begin, j->end) == -1)
		log_warnx("dmarc store-error \"%s\"", dmarc_store_error(j->r->st));
done:
	dmarc_report_data_free(&d);
	buf_free(&xml);
	buf_free(&mail);
	free(j);
}

static void
on_consent(void *arg, enum spf_dns_status st, const struct spf_rr *rr, size_t n)
{
	struct check *c = arg;
	struct job *j = c->job;
	struct dmarc_rua_target *t = &j->t[c->idx];
	struct dmarc_txt txt[8];
	size_t i, k = 0;

	if (st == SPF_DNS_TEMPFAIL) {
		log_info("dmarc report-consent-unknown domain=%s to=<%s> reason=dns", j->dom.domain,
			 t->addr);
		t->status = DMARC_RUA_UNAUTHORIZED; /* not this time */
	} else {
		for (i = 0; st == SPF_DNS_OK && i < n && k < nitems(txt); i++)
			txt[k++] = (struct dmarc_txt){rr[i].text, rr[i].len};
		(void)dmarc_rua_authorize(t, txt, k);
	}
	free(c);
	if (--j->pending == 0)
		job_finish(j);
}

/* job_start - the consent of every external address, then the report. */
static void
job_start(struct dmarcrep *r, const struct dmarc_report_domain *dom, int64_t begin, int64_t end)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char name[DMARC_DOMAIN_MAX * 2 + 32];
	size_t i;

	j->r = r;
	j->dom = *dom;
	j->begin = begin;
	j->end = end;
	dmarc_rua_targets(dom->rua, dom->nrua, j->t);
	j->pending = 1; /* held until every check is started */
	for (i = 0; i < dom->nrua; i++) {
		struct check *c;

		if (j->t[i].status != DMARC_RUA_SEND ||
		    !dmarc_rua_is_external(r->psl, dom->domain, j->t[i].domain))
			continue;
		if (dmarc_rua_check_name(dom->domain, j->t[i].domain, name, sizeof(name)) == -1) {
			j->t[i].status = DMARC_RUA_UNAUTHORIZED;
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->job = j;
		c->idx = i;
		j->pending++;
		r->res.query(r->res.ctx, SPF_RR_TXT, name, on_consent, c);
	}
	if (--j->pending == 0)
		job_finish(j);
}

/* run - a report per domain for [begin, end); the number of domains. */
static size_t
run(struct dmarcrep *r, int64_t begin, int64_t end)
{
	struct dmarc_report_domain *v = NULL;
	size_t n = 0, i;

	if (dmarc_store_domains(r->st, begin, end, &v, &n) == -1) {
		log_warnx("dmarc store-error \"%s\"", dmarc_store_error(r->st));
		return 0;
	}
	for (i = 0; i < n; i++)
		job_start(r, &v[i], begin, end);
	free(v);
	if (dmarc_store_expire(r->st, (int64_t)time(NULL) - DMARCREP_KEEP) == -1)
		log_warnx("dmarc store-error \"%s\"", dmarc_store_error(r->st));
	return n;
}

static void
arm_daily(struct dmarcrep *r)
{
	time_t now = time(NULL);
	uint32_t rnd = 0;
	struct timeval tv;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = 0;
	tv.tv_sec = (now / DAY + 1) * DAY - now + 60 + rnd % DMARCREP_SPREAD;
	tv.tv_usec = 0;
	evtimer_add(r->ev_daily, &tv);
}

static void
on_daily(evutil_socket_t fd, short what, void *arg)
{
	struct dmarcrep *r = arg;
	int64_t today = (int64_t)time(NULL) / DAY * DAY;
	size_t n;

	(void)fd;
	(void)what;
	n = run(r, today - DAY, today);
	log_info("dmarc reports period=%lld domains=%zu", (long long)(today - DAY), n);
	arm_daily(r);
}

struct dmarcrep *
dmarcrep_new(struct queue *q)
{
	const struct conf_mailauth *m = &q->cf->mailauth;
	struct dmarcrep *r;
	char path[PATH_MAX], err[256];

	if (m->dmarc_report_from == NULL || q->dns == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->q = q;
	snprintf(path, sizeof(path), "%s/dmarc.db", q->cf->state_dir);
	r->st = dmarc_store_open(path, m->dmarc_report_rows, err, sizeof(err));
	r->psl = dmarc_psl_load(m->psl != NULL ? m->psl : CONF_PSL_DEFAULT, err, sizeof(err));
	if (r->st == NULL || r->psl == NULL) {
		log_warnx("dmarc reports-unavailable error=\"%s\"", err);
		dmarcrep_free(r);
		return NULL;
	}
	resolver_init(&r->res, q->dns);
	r->ev_daily = evtimer_new(q->base, on_daily, r);
	arm_daily(r);
	return r;
}

void
dmarcrep_free(struct dmarcrep *r)
{
	if (r == NULL)
		return;
	if (r->ev_daily != NULL)
		event_free(r->ev_daily);
	dmarc_store_close(r->st);
	dmarc_psl_free(r->psl);
	free(r);
}

void
dmarcrep_add(struct dmarcrep *r, const struct dmarc_eval *e)
{
	struct dmarc_store_stats s;
	char esc[LOG_ESCAPE_BUF];

	if (dmarc_store_add(r->st, e) == -1) {
		log_warnx("dmarc record-refused from=%s reason=\"%s\"",
			  log_escape_str(esc, e->header_from), dmarc_store_error(r->st));
		return;
	}
	dmarc_store_stats(r->st, &s);
	if (s.dropped > r->last_dropped) {
		if (r->last_dropped == 0 || s.dropped / 1000 > r->last_dropped / 1000)
			log_warnx("dmarc store-full dropped=%llu", (unsigned long long)s.dropped);
		r->last_dropped = s.dropped;
	}
}

int
dmarcrep_ctl(struct dmarcrep *r, char **argv, int argc, struct buf *out)
{
	int64_t now = (int64_t)time(NULL), begin, end;
	size_t n;

	if (argc != 1 || strcmp(argv[0], "report") != 0) {
		buf_adds(out, "usage: dmarc report");
		return -1;
	}
	if (r == NULL) {
		buf_adds(out, "DMARC reports are off (mailauth { dmarc_report_from ADDRESS })");
		return -1;
	}
	begin = now / DAY * DAY - DAY;
	end = (now / DMARC_STORE_BUCKET + 1) * DMARC_STORE_BUCKET;
	n = run(r, begin, end);
	log_info("dmarc reports period=%lld domains=%zu requested=yes", (long long)begin, n);
	buf_addf(out, "reporting on %zu domain%s (see the log for each address)\n", n,
		 n == 1 ? "" : "s");
	return 0;
}
