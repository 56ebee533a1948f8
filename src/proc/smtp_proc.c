/* SPDX-License-Identifier: ISC */
/*
 * smtp_proc - the smtp process: listeners, connection limits, sessions,
 * and the IPC that connects sessions to the queue.
 *
 * SECURITY: the only process that reads network input. Unprivileged,
 * chrooted to an empty directory when started as root, and confined by its
 * seccomp filter (proc/sandbox.c) once it holds its listeners, TLS
 * contexts and resolver: no file can be opened or run from here. It holds
 * no keys and no spool access beyond the O_APPEND descriptors the queue
 * gives it, one per message.
 * At accept, before a session starts: the allow and deny lists (global and
 * per listener), the bans the auth process pushes, connection counts
 * (max_connections, max_connections_per_ip) and the connection rate. The
 * rate limits of sessions (AUTH per address, messages and recipients per
 * user) are counted here too, in sliding windows, and the pregreet pass
 * list (addresses that waited for the greeting) is kept here. One DKIM key
 * cache serves every session: the process is single-threaded, and a
 * cache is keyed by the exact record text, so what DNS answers decides
 * (a hostile sender's keys can only push others out, at most
 * SMTP_DKIM_KEYS of them are kept).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/ipc.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "lib/httpd.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/map.h"
#include "lib/net.h"
#include "lib/util.h"
#include "guard/banset.h"
#include "guard/window.h"
#include "admin/api.h"
#include "auth/authd.h"
#include "proc/control.h"
#include "proc/procs.h"
#include "proc/proto.h"
#include "proc/sandbox.h"
#include "smtp/session.h"
#include "tls/tls.h"

struct listener {
	struct evconnlistener *ev;
	struct conf_listener conf;
	struct smtp_proc *sp;
};

struct smtp_proc {
	struct event_base *base;
	struct conf *cf;
	struct ipc *parent;
	struct ipc *queue;
	struct ipc *auth;
	struct listener *listeners;
	size_t nlisteners;
	/* listeners and certificates arriving during a reload */
	int *pending_fds;
	size_t npending;
	struct tls_certs pending_certs;
	struct map *sessions; /* sid hex -> session */
	struct map *per_ip;   /* ip -> count (as a pointer-sized integer) */
	struct banset *bans;  /* pushed by the auth process */
	struct map *rates;    /* "kind:key" -> struct rate */
	struct map *greeted;  /* ip -> (uintptr_t) end of its pregreet pass */
	struct event *ev_sweep;
	struct metrics *metrics;	/* ours; NULL when metrics are off */
	struct metrics *snap_auth, *snap_queue; /* the others', latest */
	struct httpd *httpd;
	struct api *api;	/* the admin API, or NULL */
	size_t nsessions;
	uint64_t next_sid;
	bool stopping;
	struct event *ev_stop;
	struct session_env senv;
	struct dmarc_psl *psl; /* the Public Suffix List, for DMARC */
	/* DKIM keys of recent senders, parsed once (this process has one
	 * thread, and a cache is for one thread); kept until exit */
	struct dkim_keycache *dkim_keys;
	/* the certificates in use: path and end of validity, for metrics */
	struct cert_date *cert_dates;
	size_t ncert_dates;
};

struct cert_date {
	char path[PATH_MAX];
	time_t not_after;
};

static struct smtp_proc sp_global;

/* Clients that waited for the greeting skip the greet delay this long. */
#define GREET_PASS_SECONDS (24 * 3600)
/* Rate-table entries idle this long are forgotten. */
#define RATE_IDLE_SECONDS (2 * 3600)
/* DKIM keys kept parsed (each at most about 8 KiB with its record and
 * OpenSSL's state; mostly far less). */
#define SMTP_DKIM_KEYS 1024

struct rate {
	struct window w;
	uint64_t last;
};

static uint64_t
now_s(void)
{
	return (uint64_t)time(NULL);
}

/* count - one event in a counter with one label (metrics on). */
static void
count(struct smtp_proc *sp, const char *name, const char *k1, const char *v1, const char *k2,
      const char *v2)
{
	char l[METRICS_LABELS_MAX];

	if (sp->metrics == NULL)
		return;
	metrics_labels(l, sizeof(l), k1, v1, k2, v2, (char *)NULL);
	metrics_add(sp->metrics, name, l, 1);
}

static void
connection(struct smtp_proc *sp, const struct listener *l, const char *result)
{
	count(sp, "postern_connections_total", "listener", l->conf.spec, "result", result);
}

/* rate_hit - count one event of kind for key against limit per span;
 * false when that goes over the limit (the event is not counted then). */
static bool
rate_hit(struct smtp_proc *sp, char kind, const char *key, uint64_t limit, uint64_t span)
{
	char k[400];
	struct rate *r;
	uint64_t now = now_s();

	if (limit == 0 || !sp->cf->guard.enabled)
		return true;
	snprintf(k, sizeof(k), "%c:%s", kind, key);
	r = map_get(sp->rates, k);
	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		map_put(sp->rates, k, r);
	}
	r->last = now;
	if (window_count(&r->w, now, span) >= limit)
		return false;
	window_add(&r->w, now, span, 1);
	return true;
}

static void
sid_key(uint64_t sid, char key[17])
{
	snprintf(key, 17, "%016llx", (unsigned long long)sid);
}

static void
ops_open(void *arg, uint64_t sid, const struct envelope *env)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_MSG_OPEN);
	ipc_add_u64(&out, sid);
	proto_add_envelope(&out, env);
	ipc_send(sp->queue, &out);
}

static void
ops_commit(void *arg, uint64_t sid, const char *qid, uint64_t size, const char *prepend,
	   size_t prepend_len, const char *quarantine)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_MSG_COMMIT);
	ipc_add_u64(&out, sid);
	ipc_add_str(&out, qid);
	ipc_add_u64(&out, size);
	ipc_add_data(&out, prepend != NULL ? prepend : "", prepend_len);
	ipc_add_str(&out, quarantine != NULL ? quarantine : "");
	ipc_send(sp->queue, &out);
}

static void
ops_dmarc_eval(void *arg, const struct dmarc_eval *e)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_DMARC_EVAL);
	proto_add_dmarc_eval(&out, e);
	ipc_send(sp->queue, &out);
}

static void
ops_abort(void *arg, const char *qid)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_MSG_ABORT);
	ipc_add_str(&out, qid);
	ipc_send(sp->queue, &out);
}

static void smtp_finish_stop(struct smtp_proc *sp);

static void
ops_closed(void *arg, struct session *s)
{
	struct smtp_proc *sp = arg;
	const char *ip = session_peer_ip(s);
	uintptr_t n = (uintptr_t)map_get(sp->per_ip, ip);
	char key[17];

	sid_key(session_id(s), key);
	map_del(sp->sessions, key);
	if (n <= 1)
		map_del(sp->per_ip, ip);
	else
		map_put(sp->per_ip, ip, (void *)(n - 1));
	sp->nsessions--;
	if (sp->stopping && sp->nsessions == 0)
		smtp_finish_stop(sp);
}

static void
ops_auth_begin(void *arg, uint64_t sid, int mech, const char *ip, bool tls,
	       const uint8_t *initial, size_t len, bool has_initial, const uint8_t *cb,
	       size_t cblen, bool plus_offered)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_AUTH_BEGIN);
	ipc_add_u64(&out, sid);
	ipc_add_u8(&out, (uint8_t)mech);
	ipc_add_u8(&out, tls);
	ipc_add_u8(&out, has_initial);
	ipc_add_str(&out, ip);
	ipc_add_data(&out, initial, len);
	ipc_add_data(&out, cb, cblen);
	ipc_add_u8(&out, plus_offered);
	ipc_send_secret(sp->auth, &out);
}

static void
ops_auth_step(void *arg, uint64_t sid, const uint8_t *data, size_t len)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_AUTH_STEP);
	ipc_add_u64(&out, sid);
	ipc_add_data(&out, data, len);
	ipc_send_secret(sp->auth, &out);
}

static void
ops_auth_cancel(void *arg, uint64_t sid)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_AUTH_CANCEL);
	ipc_add_u64(&out, sid);
	ipc_send(sp->auth, &out);
}

static void
ops_abuse(void *arg, const char *ip, const char *check, unsigned weight)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	count(sp, "postern_abuse_total", "check", check, NULL, NULL);
	ipc_begin(&out, IMSG_GUARD_ABUSE);
	ipc_add_str(&out, ip);
	ipc_add_str(&out, check);
	ipc_add_u32(&out, weight);
	ipc_send(sp->auth, &out);
}

static bool
ops_greet_known(void *arg, const char *ip)
{
	struct smtp_proc *sp = arg;

	return (uintptr_t)map_get(sp->greeted, ip) > now_s();
}

static void
ops_greet_passed(void *arg, const char *ip)
{
	struct smtp_proc *sp = arg;

	map_put(sp->greeted, ip, (void *)(uintptr_t)(now_s() + GREET_PASS_SECONDS));
}

static bool
ops_rate(void *arg, enum session_rate kind, const char *key)
{
	struct smtp_proc *sp = arg;
	const struct conf_guard *g = &sp->cf->guard;

	bool ok;
	const char *why;

	switch (kind) {
	case RATE_AUTH:
		ok = rate_hit(sp, 'a', key, g->auth_rate, 60);
		why = "auth-rate";
		break;
	case RATE_MESSAGE:
		ok = rate_hit(sp, 'm', key, g->user_messages, 3600);
		why = "user-message-rate";
		break;
	default:
		ok = rate_hit(sp, 'r', key, g->user_recipients, 3600);
		why = "user-recipient-rate";
		break;
	}
	if (!ok)
		count(sp, "postern_rejects_total", "reason", why, NULL, NULL);
	return ok;
}

/* ops_tally - a session's event in our metrics. */
static void
ops_tally(void *arg, const char *family, const char *labels)
{
	struct smtp_proc *sp = arg;

	if (sp->metrics != NULL)
		metrics_add(sp->metrics, family, labels, 1);
}

static const struct session_ops sp_ops = {
	ops_open,	  ops_commit,	 ops_abort,	  ops_closed,
	ops_auth_begin, ops_auth_step, ops_auth_cancel, ops_abuse,
	ops_greet_known, ops_greet_passed, ops_rate,	  ops_dmarc_eval,
	ops_tally,
};

struct sweep {
	uint64_t now;
	char **dead;
	size_t n;
};

static void
sweep_rate(const char *key, void *val, void *arg)
{
	struct sweep *w = arg;
	struct rate *r = val;

	if (r->last + RATE_IDLE_SECONDS <= w->now) {
		w->dead = xreallocarray(w->dead, w->n + 1, sizeof(*w->dead));
		w->dead[w->n++] = xstrdup(key);
	}
}

static void
sweep_greeted(const char *key, void *val, void *arg)
{
	struct sweep *w = arg;

	if ((uintptr_t)val <= w->now) {
		w->dead = xreallocarray(w->dead, w->n + 1, sizeof(*w->dead));
		w->dead[w->n++] = xstrdup(key);
	}
}

/* on_sweep - once a minute: forget idle rate counters and old passes. */
static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_proc *sp = arg;
	struct sweep w = {now_s(), NULL, 0};
	size_t i;

	(void)fd;
	(void)what;
	map_each(sp->rates, sweep_rate, &w);
	for (i = 0; i < w.n; i++) {
		free(map_del(sp->rates, w.dead[i]));
		free(w.dead[i]);
	}
	w.n = 0;
	map_each(sp->greeted, sweep_greeted, &w);
	for (i = 0; i < w.n; i++) {
		map_del(sp->greeted, w.dead[i]);
		free(w.dead[i]);
	}
	free(w.dead);
}

static void
refuse(int fd, const char *line)
{
	/* Best effort: the socket is fresh, the reply fits its buffer. */
	if (write(fd, line, strlen(line)) == -1)
		log_debug("smtp refuse: %s", strerror(errno));
	close(fd);
}

/* refused_by_guard - the allow and deny lists, bans and the connection
 * rate; true when the connection was answered and closed. */
static bool
refused_by_guard(struct smtp_proc *sp, const struct listener *l, const struct sockaddr *sa,
		 const char *ip, int fd)
{
	const struct conf_guard *g = &sp->cf->guard;
	char line[300];
	uint64_t until;

	if (conf_acl_match(&g->deny, sa) || conf_acl_match(&l->conf.deny, sa) ||
	    (g->allow.n > 0 && !conf_acl_match(&g->allow, sa)) ||
	    (l->conf.allow.n > 0 && !conf_acl_match(&l->conf.allow, sa))) {
		log_info("smtp refuse reason=denied ip=%s listener=%s", ip, l->conf.spec);
		connection(sp, l, "denied");
		snprintf(line, sizeof(line), "554 5.7.1 %s Access denied\r\n", sp->cf->hostname);
		refuse(fd, line);
		return true;
	}
	until = banset_match(sp->bans, sa, now_s());
	if (until != 0) {
		log_info("smtp refuse reason=banned ip=%s for=%llus", ip,
			 (unsigned long long)(until - now_s()));
		connection(sp, l, "banned");
		snprintf(line, sizeof(line),
			 "421 4.7.0 %s Your address is blocked for a while, try later\r\n",
			 sp->cf->hostname);
		refuse(fd, line);
		return true;
	}
	if (!conf_is_trusted(sp->cf, sa) && !conf_acl_match(&g->exempt, sa) &&
	    !rate_hit(sp, 'c', ip, g->conn_rate, 60)) {
		log_info("smtp refuse reason=connection-rate ip=%s", ip);
		connection(sp, l, "rate");
		snprintf(line, sizeof(line),
			 "421 4.7.0 %s Too many connections from your address, slow down\r\n",
			 sp->cf->hostname);
		refuse(fd, line);
		return true;
	}
	return false;
}

static void
on_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
	  void *arg)
{
	struct listener *l = arg;
	struct smtp_proc *sp = l->sp;
	char ip[NET_ADDRSTRLEN], key[17], line[300];
	uintptr_t n;
	struct session *s;
	int one = 1;

	(void)ev;
	net_ntop(sa, ip, sizeof(ip));
	n = (uintptr_t)map_get(sp->per_ip, ip);
	if (sp->stopping) {
		snprintf(line, sizeof(line), "421 4.3.2 %s Service shutting down\r\n",
			 sp->cf->hostname);
		refuse(fd, line);
		return;
	}
	if (refused_by_guard(sp, l, sa, ip, fd))
		return;
	if (sp->nsessions >= sp->cf->limits.max_connections) {
		log_info("smtp refuse reason=max-connections ip=%s", ip);
		connection(sp, l, "busy");
		snprintf(line, sizeof(line), "421 4.7.0 %s Too many connections, try later\r\n",
			 sp->cf->hostname);
		refuse(fd, line);
		return;
	}
	if (n >= sp->cf->limits.max_connections_per_ip) {
		log_info("smtp refuse reason=max-connections-per-ip ip=%s", ip);
		connection(sp, l, "busy");
		snprintf(line, sizeof(line),
			 "421 4.7.0 %s Too many connections from your address\r\n",
			 sp->cf->hostname);
		refuse(fd, line);
		return;
	}
	/* Replies are whole lines written at once; Nagle would hold the one
	 * after a TLS handshake's ticket writes until the client's delayed ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	map_put(sp->per_ip, ip, (void *)(n + 1));
	sp->nsessions++;
	connection(sp, l, "accepted");
	sp->senv.cf = sp->cf;
	s = session_new(&sp->senv, fd, sa, (socklen_t)salen, &l->conf, sp->next_sid++);
	sid_key(session_id(s), key);
	map_put(sp->sessions, key, s);
}

static void
close_listeners(struct smtp_proc *sp)
{
	size_t i;

	for (i = 0; i < sp->nlisteners; i++)
		evconnlistener_free(sp->listeners[i].ev);
	free(sp->listeners);
	sp->listeners = NULL;
	sp->nlisteners = 0;
}

/* install_listeners - one evconnlistener per fd, matching cf->listeners. */
static void
install_listeners(struct smtp_proc *sp, int *fds, size_t n)
{
	size_t i;

	close_listeners(sp);
	if (n != sp->cf->nlisteners)
		log_bug("smtp: %zu listener fds for %zu listeners", n, sp->cf->nlisteners);
	sp->listeners = xcalloc(n ? n : 1, sizeof(*sp->listeners));
	for (i = 0; i < n; i++) {
		struct listener *l = &sp->listeners[i];

		l->sp = sp;
		l->conf = sp->cf->listeners[i];
		/* backlog 0: the parent's listen() stands (-1 would call it again
		 * with libevent's 128) */
		l->ev = evconnlistener_new(sp->base, on_accept, l, LEV_OPT_CLOSE_ON_FREE, 0,
					   fds[i]);
		if (l->ev == NULL)
			log_fatalx("smtp: evconnlistener_new failed");
	}
	sp->nlisteners = n;
}

static void
each_shutdown(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	session_shutdown(val);
}

static void
smtp_finish_stop(struct smtp_proc *sp)
{
	struct ipc_out out;

	log_info("smtp stopped");
	ipc_begin(&out, IMSG_STOPPED);
	ipc_send(sp->parent, &out);
	ipc_flush(sp->parent);
	exit(0);
}

static void
on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_proc *sp = arg;

	(void)fd;
	(void)what;
	log_info("smtp stop-timeout sessions=%zu: closing them", sp->nsessions);
	smtp_finish_stop(sp);
}

static void
smtp_stop(struct smtp_proc *sp)
{
	struct timeval tv = {(time_t)sp->cf->limits.shutdown_timeout, 0};

	if (sp->stopping)
		return;
	sp->stopping = true;
	close_listeners(sp);
	log_info("smtp stopping sessions=%zu", sp->nsessions);
	if (sp->nsessions == 0)
		smtp_finish_stop(sp);
	map_each(sp->sessions, each_shutdown, NULL);
	sp->ev_stop = evtimer_new(sp->base, on_stop_timeout, sp);
	evtimer_add(sp->ev_stop, &tv);
}

/* keep_cert_dates - which certificates are in use, until when. */
static void
keep_cert_dates(struct smtp_proc *sp, const struct tls_certs *certs)
{
	size_t i;

	free(sp->cert_dates);
	sp->cert_dates = xcalloc(certs->n ? certs->n : 1, sizeof(*sp->cert_dates));
	for (i = 0; i < certs->n; i++) {
		(void)str_copy(sp->cert_dates[i].path, certs->pem[i].cert_path,
			       sizeof(sp->cert_dates[i].path));
		sp->cert_dates[i].not_after = certs->pem[i].not_after;
	}
	sp->ncert_dates = certs->n;
}

/* cert_days - days each certificate in use has left (negative: expired),
 * into m. */
static void
cert_days(const struct smtp_proc *sp, struct metrics *m)
{
	char l[METRICS_LABELS_MAX];
	time_t now = time(NULL);
	size_t i;

	metrics_describe(m, "postern_cert_expiry_days", METRIC_GAUGE,
			 "whole days until a certificate in use expires (negative: expired)");
	for (i = 0; i < sp->ncert_dates; i++) {
		double left = (double)(sp->cert_dates[i].not_after - now) / 86400.0;

		metrics_labels(l, sizeof(l), "cert", sp->cert_dates[i].path, (char *)NULL);
		metrics_set(m, "postern_cert_expiry_days", l, floor(left));
	}
}

/* use_certs - TLS contexts for certs and cf, replacing the current ones
 * (sessions keep theirs); the certificates are wiped afterwards. */
static void
use_certs(struct smtp_proc *sp, struct tls_certs *certs, const struct conf *cf)
{
	struct tls_server *ts = NULL;
	char err[512];

	if (certs->n > 0) {
		ts = tls_server_new(certs, cf, err, sizeof(err));
		if (ts == NULL) {
			log_warnx("smtp tls-setup-failed reason=\"%s\" (keeping the old certificates)",
				  err);
			tls_certs_free(certs);
			return;
		}
	}
	keep_cert_dates(sp, certs);
	tls_certs_free(certs);
	tls_server_unref(sp->senv.tls);
	sp->senv.tls = ts;
}

static void
on_conf(struct smtp_proc *sp, struct ipc_msg *m)
{
	struct conf *cf = proto_get_conf(m);

	use_certs(sp, &sp->pending_certs, cf);
	conf_unref(sp->cf);
	sp->cf = cf;
	sp->senv.cf = cf;
	if (sp->api != NULL)
		api_set_conf(sp->api, cf);
	log_set_level(cf->log_debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
}

static void
on_parent(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct smtp_proc *sp = arg;

	(void)ipc;
	if (m == NULL)
		log_fatalx("smtp: parent went away");
	switch (m->type) {
	case IMSG_CONF:
		on_conf(sp, m);
		break;
	case IMSG_TLS_CERT: {
		struct tls_certs *pc = &sp->pending_certs;

		pc->pem = xreallocarray(pc->pem, pc->n + 1, sizeof(*pc->pem));
		proto_get_cert(m, &pc->pem[pc->n++]);
		break;
	}
	case IMSG_LISTENER:
		sp->pending_fds = xreallocarray(sp->pending_fds, sp->npending + 1, sizeof(int));
		sp->pending_fds[sp->npending++] = ipc_take_fd(m);
		ipc_end(m);
		break;
	case IMSG_LISTENERS_DONE:
		ipc_end(m);
		if (!sp->stopping)
			install_listeners(sp, sp->pending_fds, sp->npending);
		free(sp->pending_fds);
		sp->pending_fds = NULL;
		sp->npending = 0;
		log_info("smtp reloaded listeners=%zu", sp->nlisteners);
		proto_send_ready(sp->parent);
		break;
	case IMSG_STOP:
		ipc_end(m);
		smtp_stop(sp);
		break;
	default:
		log_bug("smtp: unexpected message %u from parent", m->type);
	}
}

static struct session *
session_of(struct smtp_proc *sp, uint64_t sid)
{
	char key[17];

	sid_key(sid, key);
	return map_get(sp->sessions, key);
}

/* take_snapshot - the latest registry of a peer (it is ours to trust: a
 * snapshot that does not decode is a bug there). */
static void
take_snapshot(struct smtp_proc *sp, struct metrics **slot, struct ipc_msg *m)
{
	const void *p;
	size_t len;
	struct metrics *snap;

	p = ipc_get_data(m, &len);
	snap = metrics_decode(p, len);
	ipc_end(m);
	if (snap == NULL)
		log_bug("smtp: malformed metrics snapshot from %s", m->peer);
	metrics_free(*slot);
	*slot = sp->metrics != NULL ? snap : (metrics_free(snap), NULL);
}

/* render_metrics - GET /metrics: ours and the other processes' latest. */
static void
render_metrics(void *arg, struct buf *out)
{
	struct smtp_proc *sp = arg;
	struct metrics *all = metrics_new();

	metrics_set(sp->metrics, "postern_sessions", NULL, (double)sp->nsessions);
	metrics_set(sp->metrics, "postern_bans_enforced", NULL, (double)banset_count(sp->bans));
	metrics_merge(all, sp->metrics);
	metrics_merge(all, sp->snap_auth);
	metrics_merge(all, sp->snap_queue);
	cert_days(sp, all);
	metrics_render(all, out);
	metrics_free(all);
}

/* metrics_start - the registry and the HTTP endpoint on fd. */
static void
metrics_start(struct smtp_proc *sp, int fd)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "postern_connections_total", METRIC_COUNTER,
			 "connections by listener and what became of them");
	metrics_describe(m, "postern_sessions", METRIC_GAUGE, "SMTP sessions open");
	metrics_describe(m, "postern_bans_enforced", METRIC_GAUGE,
			 "networks the smtp process refuses at accept");
	metrics_describe(m, "postern_abuse_total", METRIC_COUNTER,
			 "protocol abuse scored, by check");
	metrics_describe(m, "postern_rejects_total", METRIC_COUNTER,
			 "commands refused by a rate limit, by reason");
	metrics_describe(m, "postern_messages_accepted_total", METRIC_COUNTER,
			 "messages committed to the queue");
	metrics_add(m, "postern_messages_accepted_total", NULL, 0);
	metrics_describe(m, "postern_tls_sessions_total", METRIC_COUNTER,
			 "TLS sessions by direction and protocol version");
	metrics_add(m, "postern_tls_sessions_total", "direction=\"inbound\",version=\"TLSv1.2\"", 0);
	metrics_add(m, "postern_tls_sessions_total", "direction=\"inbound\",version=\"TLSv1.3\"", 0);
	metrics_describe(m, "postern_dmarc_results_total", METRIC_COUNTER,
			 "DMARC verdicts on received mail, by policy and what was done");
	sp->metrics = m;
	sp->httpd = httpd_new(sp->base, fd, render_metrics, sp);
	if (sp->httpd == NULL)
		log_warnx("smtp metrics-unavailable (the HTTP endpoint could not start)");
}

/* The admin API: this process carries its requests, the auth process
 * checks logins and seals tokens, the queue process checks tokens and
 * runs the commands. */

static SSL *
api_new_ssl(void *arg)
{
	struct smtp_proc *sp = arg;

	return sp->senv.tls != NULL ? tls_server_ssl(sp->senv.tls) : NULL;
}

static void
api_login(void *arg, uint64_t sid, const char *ip, const uint8_t *plain, size_t len)
{
	ops_auth_begin(arg, sid, MECH_ADMIN, ip, true, plain, len, true, NULL, 0, false);
}

static void
api_run(void *arg, uint64_t rid, const char *token, const char *ip, const char *body, size_t len)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_ADMIN_RUN);
	ipc_add_u64(&out, rid);
	ipc_add_str(&out, token);
	ipc_add_str(&out, ip);
	ipc_add_data(&out, body, len);
	ipc_send_secret(sp->queue, &out);
}

static void
api_logout(void *arg, const char *token, const char *ip)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_ADMIN_LOGOUT);
	ipc_add_str(&out, token);
	ipc_add_str(&out, ip);
	ipc_send_secret(sp->queue, &out);
}

static uint64_t
api_next_id(void *arg)
{
	struct smtp_proc *sp = arg;

	return sp->next_sid++;
}

static bool
api_banned(void *arg, const struct sockaddr *sa)
{
	struct smtp_proc *sp = arg;

	return banset_match(sp->bans, sa, now_s()) != 0;
}

static const struct api_ops sp_api_ops = {api_new_ssl, api_login,   api_run,
					  api_logout,  api_next_id, api_banned};

/* on_admin_result - the queue's answer to an API request, in a file. */
static void
on_admin_result(struct smtp_proc *sp, struct ipc_msg *m)
{
	struct buf body = BUF_INIT;
	uint64_t rid = ipc_get_u64(m);
	uint32_t http = ipc_get_u32(m);
	int fd = ipc_take_fd(m);
	char chunk[16384];
	ssize_t n;

	ipc_end(m);
	if (http < 200 || http > 599)
		log_bug("smtp: bad ADMIN_RESULT status %u", http);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && body.len < CONTROL_API_ANSWER_MAX)
		buf_add(&body, chunk, (size_t)n);
	close(fd);
	if (n != 0)
		http = 500;
	api_run_answer(sp->api, rid, http, body.data, body.len);
	buf_free(&body);
}

static void
on_queue(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct smtp_proc *sp = arg;
	char qid[QUEUE_ID_LEN + 1], reply[256];
	struct session *s;
	uint64_t sid;
	int fd;

	(void)ipc;
	if (m == NULL)
		log_fatalx("smtp: queue process went away");
	if (m->type == IMSG_METRICS) {
		take_snapshot(sp, &sp->snap_queue, m);
		return;
	}
	if (m->type == IMSG_ADMIN_RESULT) {
		on_admin_result(sp, m);
		return;
	}
	sid = ipc_get_u64(m);
	s = session_of(sp, sid);
	switch (m->type) {
	case IMSG_MSG_OPEN_OK:
		ipc_get_strbuf(m, qid, sizeof(qid));
		fd = ipc_take_fd(m);
		ipc_end(m);
		if (s == NULL) {
			close(fd);
			ops_abort(sp, qid);
			return;
		}
		session_opened(s, fd, qid, NULL);
		break;
	case IMSG_MSG_OPEN_FAIL:
		ipc_get_strbuf(m, reply, sizeof(reply));
		ipc_end(m);
		if (s != NULL)
			session_opened(s, -1, NULL, reply);
		break;
	case IMSG_MSG_COMMIT_OK:
	case IMSG_MSG_COMMIT_FAIL:
		ipc_get_strbuf(m, qid, sizeof(qid));
		ipc_get_strbuf(m, reply, sizeof(reply));
		ipc_end(m);
		if (s != NULL)
			session_committed(s, m->type == IMSG_MSG_COMMIT_OK, reply);
		if (m->type == IMSG_MSG_COMMIT_OK && sp->metrics != NULL)
			metrics_add(sp->metrics, "postern_messages_accepted_total", NULL, 1);
		break;
	default:
		log_bug("smtp: unexpected message %u from queue", m->type);
	}
}

/* on_ban - the auth process banned a network or lifted a ban. */
static void
on_ban(struct smtp_proc *sp, struct ipc_msg *m)
{
	char net[NET_ADDRSTRLEN + 8], reason[64];
	struct cidr c;
	uint64_t until = 0;

	ipc_get_strbuf(m, net, sizeof(net));
	if (m->type == IMSG_GUARD_BAN) {
		until = ipc_get_u64(m);
		ipc_get_strbuf(m, reason, sizeof(reason));
	}
	ipc_end(m);
	if (net_parse_cidr(net, &c) == -1)
		log_bug("smtp: bad ban network from auth");
	if (m->type == IMSG_GUARD_BAN)
		banset_put(sp->bans, &c, until);
	else
		banset_del(sp->bans, &c);
}

/* Answers of the auth process. */
static void
on_auth(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct smtp_proc *sp = arg;
	char user[321], **addrs;
	const void *challenge;
	struct session *s;
	size_t clen;
	uint32_t n, i, days, delay;
	uint64_t sid;
	uint8_t st;

	(void)ipc;
	if (m == NULL)
		log_fatalx("smtp: auth process went away");
	if (m->type == IMSG_GUARD_BAN || m->type == IMSG_GUARD_UNBAN) {
		on_ban(sp, m);
		return;
	}
	if (m->type == IMSG_METRICS) {
		take_snapshot(sp, &sp->snap_auth, m);
		return;
	}
	if (m->type != IMSG_AUTH_ANSWER)
		log_bug("smtp: unexpected message %u from auth", m->type);
	sid = ipc_get_u64(m);
	st = ipc_get_u8(m);
	challenge = ipc_get_data(m, &clen);
	ipc_get_strbuf(m, user, sizeof(user));
	n = ipc_get_u32(m);
	if (n > 10000 || st > 6)
		log_bug("smtp: bad AUTH_ANSWER");
	addrs = xcalloc(n ? n : 1, sizeof(*addrs));
	for (i = 0; i < n; i++)
		addrs[i] = ipc_get_str(m, SMTP_PATH_MAX);
	days = ipc_get_u32(m);
	delay = ipc_get_u32(m);
	ipc_end(m);
	if (delay > 120000)
		log_bug("smtp: bad AUTH_ANSWER delay");
	s = session_of(sp, sid);
	if (s == NULL && sp->api != NULL)
		(void)api_login_answer(sp->api, sid, st, challenge, clen, delay);
	if (s != NULL)
		session_auth_answer(s, st, challenge, clen, user, addrs, n,
				    days == UINT32_MAX ? -1 : (int)(days > 36500 ? 36500 : days),
				    delay);
	for (i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
}

/* confine - the seccomp sandbox, now that the process holds everything it
 * will use (and, when a test asks for it, the self-test under it). */
static void
confine(const struct conf *cf)
{
	const char *test = getenv(SANDBOX_SELFTEST_ENV);
	char path[PATH_MAX];

	if (cf->smtp_sandbox)
		sandbox_smtp();
	else
		log_warnx("smtp sandbox off (smtp { sandbox no }): for debugging only");
	if (test == NULL)
		return;
	if (strcmp(test, "kill") == 0)
		sandbox_selftest_forbidden();
	snprintf(path, sizeof(path), "%s/postern.lock", cf->state_dir);
	sandbox_selftest(path);
}

void
smtp_proc_main(struct conf *cf, struct proc_fds *fds, const struct privsep_user *pu,
	       struct tls_certs *certs)
{
	struct smtp_proc *sp = &sp_global;
	char empty[PATH_MAX], err[256];
	uint32_t r;

	log_set_procname("smtp");
	snprintf(empty, sizeof(empty), "%s/empty", cf->state_dir);
	memset(sp, 0, sizeof(*sp));
	/* The resolver for DNSBL lookups reads resolv.conf: before the chroot. */
	sp->base = event_base_new();
	if (sp->base == NULL)
		log_fatalx("smtp: event_base_new failed");
	sp->senv.dns = dns_new(sp->base, cf, err, sizeof(err));
	if (sp->senv.dns == NULL)
		log_warnx("smtp dns-unavailable error=\"%s\" (no DNSBL, SPF, DKIM, DMARC)", err);
	/* The Public Suffix List too (read once: a changed path needs a restart). */
	if (cf->mailauth.dmarc) {
		const char *psl = cf->mailauth.psl != NULL ? cf->mailauth.psl : CONF_PSL_DEFAULT;

		sp->senv.psl = sp->psl = dmarc_psl_load(psl, err, sizeof(err));
		if (sp->psl == NULL)
			log_warnx("smtp dmarc-unavailable error=\"%s\"", err);
	}
	sp->senv.dkim_keys = sp->dkim_keys = dkim_keycache_new(SMTP_DKIM_KEYS);
	privsep_drop(pu, empty);
	proc_watch_parent(fds->ppid);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file size limit is an EFBIG, not a crash */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	sp->cf = cf;
	sp->sessions = map_new();
	sp->per_ip = map_new();
	sp->bans = banset_new();
	sp->rates = map_new();
	sp->greeted = map_new();
	sp->ev_sweep = event_new(sp->base, -1, EV_PERSIST, on_sweep, sp);
	event_add(sp->ev_sweep, &(struct timeval){60, 0});
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		log_fatal("getrandom");
	sp->next_sid = (uint64_t)r << 32;
	sp->senv.base = sp->base;
	sp->senv.cf = cf;
	sp->senv.ops = &sp_ops;
	sp->senv.arg = sp;
	use_certs(sp, certs, cf);
	sp->parent = ipc_new(sp->base, fds->parent, "parent", on_parent, sp);
	sp->queue = ipc_new(sp->base, fds->peer, "queue", on_queue, sp);
	sp->auth = ipc_new(sp->base, fds->auth, "auth", on_auth, sp);
	install_listeners(sp, fds->listeners, cf->nlisteners);
	if (fds->metrics != -1)
		metrics_start(sp, fds->metrics);
	if (fds->api != -1) {
		sp->api = api_new(sp->base, fds->api, cf, &sp_api_ops, sp);
		if (sp->api == NULL)
			log_warnx("smtp admin-api-unavailable");
	}
	confine(cf);
	proto_send_ready(sp->parent);
	event_base_dispatch(sp->base);
	log_fatalx("smtp: event loop ended");
}
