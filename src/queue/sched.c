/* SPDX-License-Identifier: ISC */
/*
 * sched - jobs, destinations and outbound connections.
 *
 * SECURITY: see sched.h. Every recipient result is logged with the remote
 * reply escaped; a destination that cannot be reached defers all of its
 * waiting jobs at once instead of hammering it.
 */
#include "queue/sched.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/util.h"
#include "mail/dsn.h"
#include "queue/queue.h"
#include "relay/client.h"

/* Recipients per transaction (Postfix's smtp_destination_recipient_limit). */
#define SCHED_RCPTS_PER_JOB 50
/* How long resolved targets of a destination are reused. */
#define SCHED_TARGET_TTL 60

struct dest;
struct conn;

struct job {
	TAILQ_ENTRY(job) entry;
	struct qmsg *m;
	struct dest *dest;
	uint32_t *idx; /* recipient indexes in m */
	uint32_t n;
	struct client_rcpt *rcpts;
	struct client_tx tx;
	int fd; /* the queue file, open while the job runs */
	uint64_t started_ms;
};
TAILQ_HEAD(job_list, job);

struct target {
	struct sockaddr_storage addr;
	char host[DNS_NAME_MAX + 1];
};

enum dest_kind { DEST_ROUTE, DEST_MX };

struct conn {
	TAILQ_ENTRY(conn) entry; /* dest->idle when idle */
	struct dest *dest;
	struct client *client;
	struct job *job;
	size_t target; /* index being tried */
	bool idle;
	struct event *ev_idle;
};
TAILQ_HEAD(conn_list, conn);

struct dest {
	char key[400];
	enum dest_kind kind;
	struct route route;
	char domain[SMTP_DOMAIN_MAX + 1];
	struct job_list jobs; /* waiting */
	struct conn_list idle;
	unsigned nconn;
	bool resolving;
	struct target *targets;
	size_t ntargets;
	uint64_t targets_until;
	TAILQ_ENTRY(dest) wait_entry;
	bool waiting_slot;
	uint64_t dead_until; /* unreachable: defer without trying until then */
	char dead_reason[REPLY_TEXT_MAX + 64];
	struct sched *s;
};
TAILQ_HEAD(dest_list, dest);

struct sched {
	struct queue *q;
	struct map *dests;
	struct dest_list waiting; /* dests waiting for a global slot */
	unsigned nconn;
	bool stopping;
};

static void dest_kick(struct dest *d);
static void conn_next(struct conn *c);

static const struct client_ops conn_ops;

struct sched *
sched_new(struct queue *q)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->q = q;
	s->dests = map_new();
	TAILQ_INIT(&s->waiting);
	return s;
}

unsigned
sched_active(const struct sched *s)
{
	return s->nconn;
}

/* Routing. */

static struct dest *
dest_get(struct sched *s, const char *domain)
{
	const struct conf *cf = s->q->cf;
	const struct conf_domain *cd = conf_find_receiving(cf, domain);
	char key[400];
	struct dest *d;

	if (cd != NULL)
		snprintf(key, sizeof(key), "route:%s", cd->deliver.spec);
	else if (cf->has_smarthost)
		snprintf(key, sizeof(key), "route:%s", cf->smarthost.spec);
	else
		snprintf(key, sizeof(key), "mx:%s", domain);
	d = map_get(s->dests, key);
	if (d != NULL)
		return d;
	d = xcalloc(1, sizeof(*d));
	d->s = s;
	str_copy(d->key, key, sizeof(d->key));
	TAILQ_INIT(&d->jobs);
	TAILQ_INIT(&d->idle);
	if (cd != NULL || cf->has_smarthost) {
		d->kind = DEST_ROUTE;
		d->route = cd != NULL ? cd->deliver : cf->smarthost;
	} else {
		d->kind = DEST_MX;
		str_copy(d->domain, domain, sizeof(d->domain));
	}
	map_put(s->dests, key, d);
	return d;
}

static void
job_free(struct job *j)
{
	if (j->fd != -1)
		close(j->fd);
	free(j->idx);
	free(j->rcpts);
	free(j);
}

static struct job *
job_new(struct qmsg *m, struct dest *d)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->m = m;
	j->dest = d;
	j->fd = -1;
	j->idx = xcalloc(SCHED_RCPTS_PER_JOB, sizeof(*j->idx));
	j->rcpts = xcalloc(SCHED_RCPTS_PER_JOB, sizeof(*j->rcpts));
	m->jobs++;
	return j;
}

void
sched_message(struct sched *s, struct qmsg *m)
{
	struct job **open_jobs = xcalloc(m->env.nrcpts, sizeof(*open_jobs));
	struct dest **dests = xcalloc(m->env.nrcpts, sizeof(*dests));
	size_t nopen = 0, k;
	uint32_t i;

	for (i = 0; i < m->env.nrcpts; i++) {
		struct dest *d;
		struct job *j = NULL;

		if (m->st.status[i] != RS_PENDING)
			continue;
		d = dest_get(s, m->env.rcpts[i].domain);
		for (k = 0; k < nopen; k++)
			if (dests[k] == d && open_jobs[k]->n < SCHED_RCPTS_PER_JOB)
				j = open_jobs[k];
		if (j == NULL) {
			j = job_new(m, d);
			open_jobs[nopen] = j;
			dests[nopen++] = d;
			TAILQ_INSERT_TAIL(&d->jobs, j, entry);
		}
		j->idx[j->n] = i;
		j->rcpts[j->n].addr = m->env.rcpts[i].addr;
		j->rcpts[j->n].notify = m->env.rcpts[i].notify;
		j->rcpts[j->n].orcpt = m->env.rcpts[i].orcpt;
		j->n++;
	}
	for (k = 0; k < nopen; k++)
		dest_kick(dests[k]);
	free(open_jobs);
	free(dests);
}

/* Job results. */

static void
log_result(struct job *j, uint32_t k, const char *relay, const char *tls, const char *status,
	   const char *text)
{
	char esc[LOG_ESCAPE_BUF], esc2[LOG_ESCAPE_BUF];
	uint64_t now = (uint64_t)time(NULL);
	struct queue *q = j->m->q;

	if (strcmp(status, "sent") == 0)
		q->sent++;
	else if (strcmp(status, "deferred") == 0)
		q->deferred++;
	else
		q->bounced++;
	log_info("%s relay %s to=<%s> relay=%s delay=%llus tls=\"%s\" reply=\"%s\"", j->m->id,
		 status, log_escape_str(esc2, j->rcpts[k].addr), relay,
		 (unsigned long long)(now > j->m->env.arrival ? now - j->m->env.arrival : 0),
		 tls ? tls : "none", log_escape_str(esc, text));
}

/* job_finish - the job is over; hand the message back to the queue. */
static void
job_finish(struct job *j)
{
	struct qmsg *m = j->m;

	m->jobs--;
	job_free(j);
	queue_delivery_done(m->q, m);
}

/* job_defer - every recipient of the job stays pending with why. */
static void
job_defer(struct job *j, const char *relay, const char *why)
{
	char text[REPLY_TEXT_MAX + 64];
	uint32_t k;

	snprintf(text, sizeof(text), "%s%s", why[0] >= '4' && why[0] <= '5' ? "" : "451 4.4.1 ",
		 why);
	for (k = 0; k < j->n; k++) {
		queue_set_rcpt(j->m, j->idx[k], RS_PENDING, text);
		log_result(j, k, relay, NULL, "deferred", text);
	}
	job_finish(j);
}

/* job_fail - every recipient fails permanently with why. */
static void
job_fail(struct job *j, const char *relay, const char *why)
{
	uint32_t k;

	for (k = 0; k < j->n; k++) {
		queue_set_rcpt(j->m, j->idx[k], RS_FAILED, why);
		j->m->notice[j->idx[k]] = DSN_FAILED;
		log_result(j, k, relay, NULL, "bounced", why);
	}
	job_finish(j);
}

static void
job_apply(struct job *j, struct conn *c, const struct smtp_reply *res)
{
	const char *relay = client_peer(c->client);
	const char *tls = client_tls(c->client);
	bool dsn = (client_ext(c->client) & EXT_DSN) != 0;
	char text[REPLY_TEXT_MAX + 8];
	uint32_t k;

	for (k = 0; k < j->n; k++) {
		uint32_t i = j->idx[k];

		snprintf(text, sizeof(text), "%d %s", res[k].code, res[k].text);
		switch (reply_class(&res[k])) {
		case 2:
			queue_set_rcpt(j->m, i, RS_DONE, text);
			if (c->dest->route.kind != ROUTE_SMTP && c->dest->kind == DEST_ROUTE)
				j->m->notice[i] = DSN_DELIVERED;
			else if (!dsn)
				j->m->notice[i] = DSN_RELAYED;
			log_result(j, k, relay, tls, "sent", text);
			break;
		case 5:
			queue_set_rcpt(j->m, i, RS_FAILED, text);
			j->m->notice[i] = DSN_FAILED;
			log_result(j, k, relay, tls, "bounced", text);
			break;
		default:
			queue_set_rcpt(j->m, i, RS_PENDING, res[k].code ? text
							: "451 4.4.0 no reply from server");
			log_result(j, k, relay, tls, "deferred", text);
			break;
		}
	}
	job_finish(j);
}

/* Connections. */

static bool
is_lmtp(const struct dest *d)
{
	return d->kind == DEST_ROUTE && d->route.kind != ROUTE_SMTP;
}

static void
conn_free(struct conn *c)
{
	struct dest *d = c->dest;
	struct sched *s = d->s;

	if (c->idle)
		TAILQ_REMOVE(&d->idle, c, entry);
	if (c->ev_idle != NULL)
		event_free(c->ev_idle);
	d->nconn--;
	s->nconn--;
	free(c);
	/* A slot is free: the next destination waiting for one may go. */
	if (!TAILQ_EMPTY(&s->waiting)) {
		struct dest *w = TAILQ_FIRST(&s->waiting);

		TAILQ_REMOVE(&s->waiting, w, wait_entry);
		w->waiting_slot = false;
		dest_kick(w);
	}
}

static void
conn_try(struct conn *c)
{
	struct dest *d = c->dest;
	const struct conf_queue *cq = &d->s->q->cf->queue;
	struct client_conf cc;
	struct target *t;
	uint16_t port;

	memset(&cc, 0, sizeof(cc));
	cc.helo = d->s->q->cf->hostname;
	cc.lmtp = is_lmtp(d);
	cc.connect_timeout = cq->connect_timeout;
	cc.reply_timeout = cq->reply_timeout;
	cc.tlsc = d->s->q->tlsc;
	cc.tls = d->kind == DEST_ROUTE ? d->route.tls : d->s->q->cf->tls.relay_policy;
	if (d->kind == DEST_ROUTE && d->route.kind == ROUTE_LMTP_UNIX) {
		cc.lmtp_unix = true;
		cc.peer_name = d->route.path;
		c->client = client_connect(d->s->q->base, NULL, 0, d->route.path, &cc, &conn_ops, c);
		return;
	}
	t = &d->targets[c->target];
	port = d->kind == DEST_ROUTE ? d->route.port : 25;
	net_set_port((struct sockaddr *)&t->addr, port);
	cc.peer_name = t->host;
	/* The name the certificate must carry: the configured host, or the MX. */
	cc.tls_name = d->kind == DEST_ROUTE ? d->route.host : t->host;
	c->client = client_connect(d->s->q->base, (struct sockaddr *)&t->addr,
				   t->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								 : sizeof(struct sockaddr_in),
				   NULL, &cc, &conn_ops, c);
}

/* dest_mark_dead - nothing there answers: defer new work without
 * connecting for a while (at most retry_min, at most a minute). */
static void
dest_mark_dead(struct dest *d, const char *why)
{
	uint64_t pause = d->s->q->cf->queue.retry_min;

	d->dead_until = (uint64_t)time(NULL) + (pause < 60 ? pause : 60);
	snprintf(d->dead_reason, sizeof(d->dead_reason), "%s", why);
}

/* dest_defer_all - a destination that cannot be reached now. */
static void
dest_defer_all(struct dest *d, const char *why)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&d->jobs)) != NULL) {
		TAILQ_REMOVE(&d->jobs, j, entry);
		job_defer(j, d->key, why);
	}
}

static void
dest_fail_all(struct dest *d, const char *why)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&d->jobs)) != NULL) {
		TAILQ_REMOVE(&d->jobs, j, entry);
		job_fail(j, d->key, why);
	}
}

static void
on_ready(void *arg, struct client *cl)
{
	struct conn *c = arg;
	const char *tls = client_tls(cl);
	char version[16];

	/* once per connection: "TLSv1.3 with cipher ..." -> TLSv1.3 */
	if (tls != NULL && str_fmt(version, sizeof(version), "%.*s", (int)strcspn(tls, " "),
				   tls) == 0)
		queue_count_tls(c->dest->s->q, version);
	conn_next(c);
}

static void
on_done(void *arg, struct client *cl, const struct smtp_reply *res)
{
	struct conn *c = arg;
	struct job *j = c->job;

	(void)cl;
	c->job = NULL;
	job_apply(j, c, res);
	conn_next(c);
}

static void
on_failed(void *arg, struct client *cl, const char *why)
{
	struct conn *c = arg;
	struct dest *d = c->dest;
	char esc[LOG_ESCAPE_BUF];
	struct job *j = c->job;

	log_info("relay connection-failed dest=%s peer=%s reason=\"%s\"", d->key,
		 client_peer(cl), log_escape_str(esc, why));
	c->client = NULL;
	if (j != NULL) {
		/* Mid-transaction: this job waits for the next retry. */
		c->job = NULL;
		job_defer(j, client_peer(cl), why);
		conn_free(c);
		dest_kick(d);
		return;
	}
	if (c->idle) {
		conn_free(c); /* the server closed an idle connection */
		return;
	}
	if (d->kind != DEST_ROUTE || d->route.kind != ROUTE_LMTP_UNIX) {
		if (++c->target < d->ntargets && !d->s->stopping) {
			conn_try(c);
			return;
		}
	}
	/* No target would talk to us: everything waiting here is deferred. */
	d->targets_until = 0;
	conn_free(c);
	if (d->nconn == 0) {
		dest_mark_dead(d, why);
		dest_defer_all(d, why);
	}
}

static const struct client_ops conn_ops = {on_ready, on_done, on_failed};

static void
on_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	client_quit(c->client);
	conn_free(c);
}

static void
job_start(struct conn *c, struct job *j)
{
	struct qmsg *m = j->m;
	char path[PATH_MAX];

	queue_msg_path(m->q, m->id, path, sizeof(path));
	j->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (j->fd == -1) {
		char why[128];

		snprintf(why, sizeof(why), "451 4.3.0 cannot open queue file: %s", strerror(errno));
		job_defer(j, client_peer(c->client), why);
		return;
	}
	j->tx.sender = m->env.sender;
	j->tx.ret = m->env.ret;
	j->tx.envid = m->env.envid;
	j->tx.body8 = m->env.body == BODY_8BITMIME;
	j->tx.smtputf8 = m->env.smtputf8;
	j->tx.rcpts = j->rcpts;
	j->tx.nrcpts = j->n;
	j->tx.body_fd = j->fd;
	j->tx.body_off = (off_t)m->body_off;
	j->tx.body_len = m->body_len;
	j->tx.prepend_off = (off_t)m->prepend_off;
	j->tx.prepend_len = m->prepend_len;
	j->started_ms = now_ms();
	c->job = j;
	client_start(c->client, &j->tx);
}

/* conn_next - an idle connection takes the next job or waits for one. */
static void
conn_next(struct conn *c)
{
	struct dest *d = c->dest;
	struct job *j;

	while (!d->s->stopping && (j = TAILQ_FIRST(&d->jobs)) != NULL) {
		TAILQ_REMOVE(&d->jobs, j, entry);
		if (j->m->deleted) {
			job_finish(j);
			continue;
		}
		job_start(c, j);
		if (c->job != NULL)
			return;
	}
	if (d->s->stopping) {
		client_quit(c->client);
		conn_free(c);
		return;
	}
	{
		struct timeval tv = {(time_t)d->s->q->cf->queue.idle_reuse, 0};

		c->idle = true;
		TAILQ_INSERT_TAIL(&d->idle, c, entry);
		if (c->ev_idle == NULL)
			c->ev_idle = evtimer_new(d->s->q->base, on_idle_timeout, c);
		evtimer_add(c->ev_idle, &tv);
	}
}

static void
conn_open(struct dest *d)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->dest = d;
	d->nconn++;
	d->s->nconn++;
	conn_try(c);
}

/* Resolution of a destination's targets. */

struct resolve {
	struct dest *d;
	struct dns_mx mx[DNS_MAX_MX];
	size_t nmx, next;
	struct target *targets;
	size_t ntargets;
	bool implicit;
};

static void resolve_next_host(struct resolve *r);

static void
resolve_done(struct resolve *r, enum dns_status st, const char *why)
{
	struct dest *d = r->d;

	d->resolving = false;
	if (r->ntargets > 0) {
		free(d->targets);
		d->targets = r->targets;
		d->ntargets = r->ntargets;
		d->targets_until = (uint64_t)time(NULL) + SCHED_TARGET_TTL;
		free(r);
		dest_kick(d);
		return;
	}
	free(r->targets);
	free(r);
	if (st == DNS_NXDOMAIN || st == DNS_NODATA) {
		dest_fail_all(d, why);
	} else {
		dest_mark_dead(d, why);
		dest_defer_all(d, why);
	}
}

static void
on_host_addrs(void *arg, enum dns_status st, const struct dns_addrs *a)
{
	struct resolve *r = arg;
	size_t i;

	(void)st;
	for (i = 0; a != NULL && i < a->n; i++) {
		r->targets = xreallocarray(r->targets, r->ntargets + 1, sizeof(*r->targets));
		r->targets[r->ntargets].addr = a->addr[i];
		str_copy(r->targets[r->ntargets].host, r->mx[r->next - 1].host,
			 sizeof(r->targets[0].host));
		r->ntargets++;
	}
	if (r->implicit && r->ntargets == 0) {
		resolve_done(r, st == DNS_TEMPFAIL ? DNS_TEMPFAIL : DNS_NXDOMAIN,
			     st == DNS_TEMPFAIL ? "451 4.4.3 DNS lookup failed, will retry"
						: "550 5.1.2 Host or domain name not found");
		return;
	}
	resolve_next_host(r);
}

static void
resolve_next_host(struct resolve *r)
{
	if (r->next >= r->nmx) {
		resolve_done(r, DNS_TEMPFAIL, "451 4.4.3 no address for any MX host, will retry");
		return;
	}
	r->next++;
	dns_addrs(r->d->s->q->dns, r->mx[r->next - 1].host, on_host_addrs, r);
}

static void
on_mx(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct resolve *r = arg;
	struct dest *d = r->d;

	if (st == DNS_TEMPFAIL) {
		resolve_done(r, st, "451 4.4.3 DNS lookup failed, will retry");
		return;
	}
	if (st == DNS_NXDOMAIN) {
		resolve_done(r, st, "550 5.1.2 Domain not found");
		return;
	}
	if (st == DNS_NODATA) {
		/* No MX: the domain itself is the implicit MX (RFC 5321 5.1). */
		r->nmx = 1;
		r->implicit = true;
		str_copy(r->mx[0].host, d->domain, sizeof(r->mx[0].host));
	} else {
		if (n == 1 && mx[0].host[0] == '\0') {
			resolve_done(r, DNS_NXDOMAIN,
				     "556 5.1.10 Domain does not accept mail (null MX)");
			return;
		}
		memcpy(r->mx, mx, n * sizeof(*mx));
		r->nmx = n;
	}
	resolve_next_host(r);
}

static void
dest_resolve(struct dest *d)
{
	struct resolve *r = xcalloc(1, sizeof(*r));

	r->d = d;
	d->resolving = true;
	if (d->kind == DEST_MX) {
		dns_mx(d->s->q->dns, d->domain, on_mx, r);
		return;
	}
	r->nmx = 1;
	r->implicit = true;
	str_copy(r->mx[0].host, d->route.host, sizeof(r->mx[0].host));
	resolve_next_host(r);
}

/* dest_kick - put waiting jobs to work within the limits. */
static void
dest_kick(struct dest *d)
{
	struct sched *s = d->s;
	const struct conf_queue *cq = &s->q->cf->queue;
	struct conn *c;
	size_t waiting = 0;
	struct job *j;

	if (s->stopping)
		return;
	while (!TAILQ_EMPTY(&d->jobs) && (c = TAILQ_FIRST(&d->idle)) != NULL) {
		TAILQ_REMOVE(&d->idle, c, entry);
		c->idle = false;
		evtimer_del(c->ev_idle);
		conn_next(c);
	}
	if (TAILQ_EMPTY(&d->jobs) || d->resolving)
		return;
	if (d->nconn == 0 && (uint64_t)time(NULL) < d->dead_until) {
		dest_defer_all(d, d->dead_reason);
		return;
	}
	if (!(d->kind == DEST_ROUTE && d->route.kind == ROUTE_LMTP_UNIX) &&
	    (d->ntargets == 0 || (uint64_t)time(NULL) >= d->targets_until)) {
		if (d->nconn == 0 || d->ntargets == 0) {
			dest_resolve(d);
			return;
		}
	}
	TAILQ_FOREACH(j, &d->jobs, entry)
		waiting++;
	/* Connections being set up will take jobs too: do not overshoot. */
	while (waiting > 0 && d->nconn < cq->max_per_destination) {
		if (s->nconn >= cq->max_deliveries) {
			if (!d->waiting_slot) {
				d->waiting_slot = true;
				TAILQ_INSERT_TAIL(&s->waiting, d, wait_entry);
			}
			return;
		}
		conn_open(d);
		waiting--;
	}
}

void
sched_set_conf(struct sched *s)
{
	(void)s;
}

static void
stop_dest(const char *key, void *val, void *arg)
{
	struct dest *d = val;
	struct conn *c;

	(void)key;
	(void)arg;
	while ((c = TAILQ_FIRST(&d->idle)) != NULL) {
		client_quit(c->client);
		conn_free(c);
	}
}

void
sched_stop(struct sched *s)
{
	s->stopping = true;
	map_each(s->dests, stop_dest, NULL);
}

static void
free_dest(const char *key, void *val, void *arg)
{
	struct dest *d = val;
	struct job *j;

	(void)key;
	(void)arg;
	while ((j = TAILQ_FIRST(&d->jobs)) != NULL) {
		TAILQ_REMOVE(&d->jobs, j, entry);
		j->m->jobs--;
		job_free(j);
	}
	free(d->targets);
	free(d);
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	map_each(s->dests, free_dest, NULL);
	map_free(s->dests);
	free(s);
}
