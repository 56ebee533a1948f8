/* SPDX-License-Identifier: ISC */
/*
 * smtp_proc - the smtp process: listeners, connection limits, sessions,
 * and the IPC that connects sessions to the queue.
 *
 * SECURITY: the only process that reads network input. Chrooted to an
 * empty directory and unprivileged; it holds no keys and no spool access
 * beyond the O_APPEND descriptors the queue gives it, one per message.
 * Connection counts per client address are enforced before a session
 * starts (max_connections, max_connections_per_ip).
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/net.h"
#include "lib/util.h"
#include "proc/procs.h"
#include "proc/proto.h"
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
	size_t nsessions;
	uint64_t next_sid;
	bool stopping;
	struct event *ev_stop;
	struct session_env senv;
};

static struct smtp_proc sp_global;

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
ops_commit(void *arg, uint64_t sid, const char *qid, uint64_t size)
{
	struct smtp_proc *sp = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_MSG_COMMIT);
	ipc_add_u64(&out, sid);
	ipc_add_str(&out, qid);
	ipc_add_u64(&out, size);
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

static const struct session_ops sp_ops = {
	ops_open,	  ops_commit,	 ops_abort,	  ops_closed,
	ops_auth_begin, ops_auth_step, ops_auth_cancel,
};

static void
refuse(int fd, const char *line)
{
	/* Best effort: the socket is fresh, the reply fits its buffer. */
	if (write(fd, line, strlen(line)) == -1)
		log_debug("smtp refuse: %s", strerror(errno));
	close(fd);
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
	if (sp->nsessions >= sp->cf->limits.max_connections) {
		log_info("smtp refuse reason=max-connections ip=%s", ip);
		snprintf(line, sizeof(line), "421 4.7.0 %s Too many connections, try later\r\n",
			 sp->cf->hostname);
		refuse(fd, line);
		return;
	}
	if (n >= sp->cf->limits.max_connections_per_ip) {
		log_info("smtp refuse reason=max-connections-per-ip ip=%s", ip);
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
		l->ev = evconnlistener_new(sp->base, on_accept, l, LEV_OPT_CLOSE_ON_FREE, -1,
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
		break;
	default:
		log_bug("smtp: unexpected message %u from queue", m->type);
	}
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
	uint32_t n, i, days;
	uint64_t sid;
	uint8_t st;

	(void)ipc;
	if (m == NULL)
		log_fatalx("smtp: auth process went away");
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
	ipc_end(m);
	s = session_of(sp, sid);
	if (s != NULL)
		session_auth_answer(s, st, challenge, clen, user, addrs, n,
				    days == UINT32_MAX ? -1 : (int)(days > 36500 ? 36500 : days));
	for (i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
}

void
smtp_proc_main(struct conf *cf, struct proc_fds *fds, const struct privsep_user *pu,
	       struct tls_certs *certs)
{
	struct smtp_proc *sp = &sp_global;
	char empty[PATH_MAX];
	uint32_t r;

	log_set_procname("smtp");
	snprintf(empty, sizeof(empty), "%s/empty", cf->state_dir);
	privsep_drop(pu, empty);
	proc_watch_parent(fds->ppid);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file size limit is an EFBIG, not a crash */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	memset(sp, 0, sizeof(*sp));
	sp->base = event_base_new();
	if (sp->base == NULL)
		log_fatalx("smtp: event_base_new failed");
	sp->cf = cf;
	sp->sessions = map_new();
	sp->per_ip = map_new();
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
	event_base_dispatch(sp->base);
	log_fatalx("smtp: event loop ended");
}
