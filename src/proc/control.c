/* SPDX-License-Identifier: ISC */
/*
 * control - control socket server (queue process), admin dispatcher and
 * client (CLI).
 *
 * SECURITY: see control.h.
 */
#include "proc/control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin/role.h"
#include "admin/token.h"
#include "audit/audit.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/util.h"
#include "proc/job.h"
#include "queue/dmarcrep.h"
#include "queue/notices.h"
#include "queue/queue.h"

/* The command as written into audit records and log lines. */
#define CONTROL_COMMAND_MAX 512
/* Idle time allowed to a client before its request line is complete. */
#define CONTROL_READ_TIMEOUT 30

struct control {
	struct event_base *base;
	struct evconnlistener *ev;
	struct queue *q;
	struct audit *audit;
	uint8_t api_key[TOKEN_KEY_LEN];
	bool has_api_key;
	unsigned njobs;	 /* child commands running for callers */
	unsigned nconns; /* control connections open */
	bool paused;	 /* the listener waits for a connection to close */
	struct map *revoked; /* token -> its expiry (uint64_t *) */
};

struct admin_pending {
	struct control *c;
	struct admin_caller who;
	char command[CONTROL_COMMAND_MAX];
	struct job *job;
	admin_done_fn done;
	void *arg;
};

struct ctl_conn {
	struct control *c;
	struct bufferevent *bev;
	struct admin_caller who;
	struct admin_pending *p;
};

/* join_command - the words, space-separated and cut to fit. */
static void
join_command(int argc, char *const *argv, char *out, size_t outsz)
{
	struct buf b = BUF_INIT;
	int i;

	for (i = 0; i < argc; i++)
		buf_addf(&b, "%s%s", i ? " " : "", argv[i]);
	(void)str_copy(out, buf_cstr(&b), outsz);
	buf_free(&b);
}

/* audit_act - one record for a request: who, from where, what, outcome. */
static void
audit_act(struct control *c, const char *event, const struct admin_pending *p, json_t *extra)
{
	json_t *f = extra != NULL ? extra : json_object();

	json_object_set_new(f, "actor", audit_str(p->who.actor, strlen(p->who.actor)));
	json_object_set_new(f, "via", json_string(p->who.via));
	json_object_set_new(f, "from", audit_str(p->who.from, strlen(p->who.from)));
	json_object_set_new(f, "role", json_string(conf_admin_role_name(p->who.role)));
	json_object_set_new(f, "command", audit_str(p->command, strlen(p->command)));
	if (c->audit == NULL || audit_append(c->audit, event, f) == -1)
		log_warnx("control audit-failed event=%s error=\"%s\"", event,
			  c->audit ? audit_error(c->audit) : "no audit log");
	json_decref(f);
}

/* finish - report p's outcome, log and audit it, release p. */
static void
finish(struct admin_pending *p, int status, struct buf *out, struct buf *err, json_t *extra)
{
	json_t *f = extra != NULL ? extra : json_object();

	json_object_set_new(f, "status", json_integer(status));
	audit_act(p->c, "admin.request", p, f);
	log_info("control request actor=%s via=%s role=%s command=\"%.80s\" status=%d",
		 p->who.actor, p->who.via, conf_admin_role_name(p->who.role), p->command, status);
	if (p->done != NULL)
		p->done(status, out, err, p->arg);
	free(p);
}

/* deny - refuse p with a message (status 1, or 2 for a command that never
 * runs through the daemon). */
static void
deny(struct admin_pending *p, int status, enum admin_role need, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
deny(struct admin_pending *p, int status, enum admin_role need, const char *fmt, ...)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	json_t *f = json_object();
	va_list ap;

	buf_adds(&err, "postern: ");
	va_start(ap, fmt);
	buf_vaddf(&err, fmt, ap);
	va_end(ap);
	buf_adds(&err, "\n");
	json_object_set_new(f, "need", json_string(conf_admin_role_name(need)));
	audit_act(p->c, "admin.denied", p, f);
	log_warnx("control denied actor=%s via=%s role=%s command=\"%.80s\" need=%s",
		  p->who.actor, p->who.via, conf_admin_role_name(p->who.role), p->command,
		  conf_admin_role_name(need));
	if (p->done != NULL)
		p->done(status, &out, &err, p->arg);
	buf_free(&out);
	buf_free(&err);
	free(p);
}

static void
on_job_done(int status, struct buf *out, struct buf *err, void *arg)
{
	struct admin_pending *p = arg;

	p->job = NULL;
	p->c->njobs--;
	finish(p, status, out, err, NULL);
}

/* run_here - a queue, DMARC report or notice request, answered here; queue
 * changes are recorded with the message's state before and after. */
static void
run_here(struct admin_pending *p, struct admin_req *req)
{
	struct control *c = p->c;
	struct buf out = BUF_INIT, err = BUF_INIT, body = BUF_INIT;
	json_t *f = json_object();
	const char *id = req->argc >= 3 ? req->argv[2] : NULL;
	bool change = id != NULL && strcmp(req->argv[1], "show") != 0;
	int rc;

	if (strcmp(req->argv[0], "queue") == 0) {
		if (change)
			json_object_set_new(f, "before", json_string(queue_state_word(c->q, id)));
		rc = queue_ctl(c->q, req->argv + 1, req->argc - 1, &body);
		if (change) {
			json_object_set_new(f, "message", audit_str(id, strlen(id)));
			json_object_set_new(f, "after", json_string(queue_state_word(c->q, id)));
		}
	} else if (strcmp(req->argv[0], "notice") == 0) {
		rc = notices_ctl(c->q, req->argv + 1, req->argc - 1, &body);
	} else {
		rc = c->q->reports != NULL
			     ? dmarcrep_ctl(c->q->reports, req->argv + 1, req->argc - 1, &body)
			     : (buf_adds(&body, "DMARC reports are off"), -1);
	}
	if (rc == 0)
		buf_add(&out, body.data, body.len);
	else
		buf_addf(&err, "postern: %s\n", buf_cstr(&body));
	finish(p, rc == 0 ? 0 : 1, &out, &err, f);
	buf_free(&body);
	buf_free(&out);
	buf_free(&err);
}

/* answer_role - `postern role`: what the daemon makes of the caller. */
static void
answer_role(struct admin_pending *p)
{
	struct buf out = BUF_INIT, err = BUF_INIT;

	buf_addf(&out, "%s (%s, via %s)\n", conf_admin_role_name(p->who.role), p->who.why,
		 p->who.via);
	if (p->done != NULL)
		p->done(p->who.role == ROLE_NONE ? 1 : 0, &out, &err, p->arg);
	buf_free(&out);
	buf_free(&err);
	free(p);
}

struct admin_pending *
control_dispatch(struct control *c, const struct admin_caller *who, struct admin_req *req,
		 admin_done_fn done, void *arg)
{
	struct admin_pending *p = xcalloc(1, sizeof(*p));
	enum admin_role need = admin_verb_role(req->argc, req->argv);
	char err[256];

	p->c = c;
	p->who = *who;
	p->done = done;
	p->arg = arg;
	join_command(req->argc, req->argv, p->command, sizeof(p->command));
	if (req->argc >= 1 && strcmp(req->argv[0], "role") == 0) {
		answer_role(p);
		return NULL;
	}
	if (need == ROLE_NONE) {
		deny(p, 2, need, "'%s' does not run through the daemon (run it on the gateway)",
		     p->command);
		return NULL;
	}
	if (who->role == ROLE_NONE) {
		deny(p, 1, need,
		     "you have no admin role here (%s): an admin must add your user or group to "
		     "admin { } in the config",
		     who->from);
		return NULL;
	}
	if (who->role < need) {
		deny(p, 1, need, "'%s' needs the %s role; you are %s (%s)", p->command,
		     conf_admin_role_name(need), conf_admin_role_name(who->role), who->why);
		return NULL;
	}
	if (strcmp(req->argv[0], "queue") == 0 || strcmp(req->argv[0], "dmarc") == 0 ||
	    strcmp(req->argv[0], "notice") == 0) {
		run_here(p, req);
		return NULL;
	}
	if (c->njobs >= CONTROL_MAX_JOBS)
		snprintf(err, sizeof(err), "busy: %u commands are running; try again shortly",
			 c->njobs);
	else
		p->job = job_start(c->base, c->q->cf->path, req->argc, req->argv, req->in.data,
				   req->in.len, who->actor, CONTROL_JOB_TIMEOUT, on_job_done, p,
				   err, sizeof(err));
	if (p->job == NULL) {
		struct buf o = BUF_INIT, e = BUF_INIT;

		buf_addf(&e, "postern: %s\n", err);
		finish(p, 1, &o, &e, NULL);
		buf_free(&o);
		buf_free(&e);
		return NULL;
	}
	c->njobs++;
	return p;
}

void
control_cancel(struct admin_pending *p)
{
	p->done = NULL;
}

/* Connections. */

static void
conn_free(struct ctl_conn *k)
{
	struct control *c = k->c;

	if (k->p != NULL)
		control_cancel(k->p);
	bufferevent_free(k->bev);
	free(k);
	c->nconns--;
	if (c->paused && c->nconns < CONTROL_MAX_CONNS) {
		c->paused = false;
		evconnlistener_enable(c->ev);
	}
}

static void
on_ctl_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(arg);
}

static void
on_ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn_free(arg);
}

static void
on_conn_done(int status, struct buf *out, struct buf *err, void *arg)
{
	struct ctl_conn *k = arg;
	struct buf line = BUF_INIT;

	k->p = NULL;
	admin_resp_encode(status, out, err, &line);
	bufferevent_write(k->bev, line.data, line.len);
	buf_free(&line);
	bufferevent_disable(k->bev, EV_READ);
	bufferevent_setcb(k->bev, NULL, on_ctl_write, on_ctl_event, k);
	bufferevent_enable(k->bev, EV_WRITE);
}

/* refuse - answer a request that could not be read. */
static void
refuse(struct ctl_conn *k, const char *why)
{
	struct buf out = BUF_INIT, err = BUF_INIT;

	buf_addf(&err, "postern: %s\n", why);
	log_warnx("control malformed-request from=\"%s\" why=\"%s\"", k->who.from, why);
	on_conn_done(2, &out, &err, k);
	buf_free(&out);
	buf_free(&err);
}

static void
on_ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct admin_req req;
	char err[256], *line;
	size_t len;

	if (k->p != NULL)
		return;
	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > ADMIN_REQUEST_MAX)
			refuse(k, "request too long");
		return;
	}
	bufferevent_disable(bev, EV_READ);
	if (admin_req_decode(line, len, &req, err, sizeof(err)) == -1) {
		refuse(k, err);
	} else {
		k->p = control_dispatch(k->c, &k->who, &req, on_conn_done, k);
	}
	admin_req_free(&req);
	explicit_bzero(line, len);
	free(line);
}

/* peer_caller - who is on the other end of fd, from the kernel. */
static int
peer_caller(struct control *c, int fd, struct admin_caller *who)
{
	gid_t gids[ADMIN_GROUPS_MAX];
	socklen_t len = sizeof(struct ucred);
	struct ucred cr;
	struct passwd *pw;
	size_t ngids;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	len = sizeof(gids);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len) == -1) {
		if (errno != ERANGE)
			return -1;
		len = sizeof(gids); /* more groups than we look at: the first ones */
	}
	ngids = len / sizeof(gid_t);
	if (ngids < ADMIN_GROUPS_MAX)
		gids[ngids++] = cr.gid;
	memset(who, 0, sizeof(*who));
	who->role = admin_local_role(&c->q->cf->admin, cr.uid, getuid(), gids, ngids, who->why,
				     sizeof(who->why));
	pw = getpwuid(cr.uid);
	if (pw != NULL)
		snprintf(who->actor, sizeof(who->actor), "uid:%s", pw->pw_name);
	else
		snprintf(who->actor, sizeof(who->actor), "uid:%lu", (unsigned long)cr.uid);
	snprintf(who->via, sizeof(who->via), "control");
	snprintf(who->from, sizeof(who->from), "pid=%ld uid=%lu gid=%lu", (long)cr.pid,
		 (unsigned long)cr.uid, (unsigned long)cr.gid);
	return 0;
}

static void
on_ctl_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
	      void *arg)
{
	struct control *c = arg;
	struct ctl_conn *k;
	struct timeval tv = {CONTROL_READ_TIMEOUT, 0};

	(void)ev;
	(void)sa;
	(void)salen;
	k = xcalloc(1, sizeof(*k));
	k->c = c;
	if (peer_caller(c, fd, &k->who) == -1) {
		log_warn("control: cannot tell who the caller is");
		close(fd);
		free(k);
		return;
	}
	k->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (k->bev == NULL) {
		close(fd);
		free(k);
		return;
	}
	if (++c->nconns >= CONTROL_MAX_CONNS && !c->paused) {
		c->paused = true;
		evconnlistener_disable(c->ev);
	}
	bufferevent_setcb(k->bev, on_ctl_read, NULL, on_ctl_event, k);
	bufferevent_set_timeouts(k->bev, &tv, &tv);
	bufferevent_enable(k->bev, EV_READ);
}

struct control *
control_new(struct event_base *base, int fd, struct queue *q)
{
	struct control *c = xcalloc(1, sizeof(*c));
	char path[PATH_MAX], err[512];

	c->base = base;
	c->q = q;
	c->revoked = map_new();
	snprintf(path, sizeof(path), "%s/%s", q->cf->state_dir, AUDIT_FILE);
	c->audit = audit_open(path, AUDIT_SYNC, err, sizeof(err));
	if (c->audit == NULL)
		log_warnx("control: admin acts cannot be audited: %s", err);
	c->ev = evconnlistener_new(base, on_ctl_accept, c, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (c->ev == NULL)
		log_fatalx("control: evconnlistener_new failed");
	return c;
}

static void
free_revoked(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	evconnlistener_free(c->ev);
	audit_close(c->audit);
	map_each(c->revoked, free_revoked, NULL);
	map_free(c->revoked);
	sodium_memzero(c->api_key, sizeof(c->api_key));
	free(c);
}

/* The admin API's requests (they come from the smtp process). */

struct api_call {
	control_api_done_fn done;
	void *arg;
};

void
control_set_api_key(struct control *c, const uint8_t key[TOKEN_KEY_LEN])
{
	memcpy(c->api_key, key, TOKEN_KEY_LEN);
	c->has_api_key = true;
}

/* api_error - an answer of code with {"error": msg}. */
static void
api_error(control_api_done_fn done, void *arg, unsigned code, const char *msg)
{
	struct buf b = BUF_INIT;
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = json_dumps(o, JSON_COMPACT);

	buf_adds(&b, s != NULL ? s : "{}");
	done(code, &b, arg);
	free(s);
	json_decref(o);
	buf_free(&b);
}

static void
on_api_done(int status, struct buf *out, struct buf *err, void *arg)
{
	struct api_call *k = arg;
	struct buf b = BUF_INIT;
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "stdout", audit_str(out->data ? out->data : "", out->len));
	json_object_set_new(o, "stderr", audit_str(err->data ? err->data : "", err->len));
	s = json_dumps(o, JSON_COMPACT);
	if (s == NULL)
		log_fatalx("control: cannot encode an API answer");
	buf_adds(&b, s);
	k->done(200, &b, k->arg);
	free(s);
	json_decref(o);
	buf_free(&b);
	free(k);
}

/* api_caller - who the token says the caller is; 0, or -1 with why. */
static int
api_caller(struct control *c, const char *token, const char *ip, struct admin_caller *who,
	   const char **why)
{
	struct token_info t;

	if (!c->has_api_key) {
		*why = "no-key";
		return -1;
	}
	if (token_verify(c->api_key, token, strlen(token), (uint64_t)time(NULL), ip, &t, why) ==
	    -1)
		return -1;
	if (map_get(c->revoked, token) != NULL) {
		*why = "logged-out";
		return -1;
	}
	memset(who, 0, sizeof(*who));
	who->role = t.role;
	snprintf(who->actor, sizeof(who->actor), "api:%s", t.account);
	snprintf(who->via, sizeof(who->via), "api");
	snprintf(who->from, sizeof(who->from), "%s", ip);
	snprintf(who->why, sizeof(who->why), "api_account %s", t.account);
	return 0;
}

void
control_api_run(struct control *c, const char *token, const char *ip, const char *body,
		size_t len, control_api_done_fn done, void *arg)
{
	struct admin_caller who;
	struct admin_req req;
	struct api_call *k;
	const char *why;
	char err[256];

	if (api_caller(c, token, ip, &who, &why) == -1) {
		log_warnx("control api-token-refused ip=%s why=%s", ip, why);
		api_error(done, arg, 401, "log in again: the token is expired or not valid");
		return;
	}
	if (admin_req_decode(body, len, &req, err, sizeof(err)) == -1) {
		api_error(done, arg, 400, err);
		admin_req_free(&req);
		return;
	}
	k = xcalloc(1, sizeof(*k));
	k->done = done;
	k->arg = arg;
	(void)control_dispatch(c, &who, &req, on_api_done, k);
	admin_req_free(&req);
}

static void
forget_one(const char *key, void *val, void *arg)
{
	map_del(arg, key);
	free(val);
}

/* sweep_revoked - forget logged-out tokens that have expired anyway. */
static void
sweep_one(const char *key, void *val, void *arg)
{
	struct map *gone = arg;

	if (*(uint64_t *)val <= (uint64_t)time(NULL))
		map_put(gone, key, val);
}

static void
sweep_revoked(struct control *c)
{
	struct map *gone = map_new();

	map_each(c->revoked, sweep_one, gone);
	map_each(gone, forget_one, c->revoked);
	map_free(gone);
}

void
control_api_logout(struct control *c, const char *token, const char *ip)
{
	struct admin_caller who;
	struct token_info t;
	uint64_t *exp;
	const char *why;

	if (api_caller(c, token, ip, &who, &why) == -1 ||
	    token_peek(token, strlen(token), &t) == -1)
		return;
	sweep_revoked(c);
	if (map_count(c->revoked) >= CONTROL_REVOKED_MAX) {
		log_warnx("control api-logout-refused reason=too-many-logged-out-tokens");
		return;
	}
	exp = xmalloc(sizeof(*exp));
	*exp = t.expiry;
	map_put(c->revoked, token, exp);
	log_info("control api-logout actor=%s", who.actor);
}

/* Client. */

static int
connect_unix(const char *path, struct buf *err)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, path, sizeof(sun.sun_path)) == -1) {
		buf_addf(err, "control socket path too long: %s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		buf_addf(err, "cannot reach the daemon at %s: %s (is 'postern serve' running?)",
			 path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

int
control_request(const char *path, int argc, char *const *argv, const void *in, size_t inlen,
		struct buf *out, struct buf *err)
{
	struct buf req = BUF_INIT, resp = BUF_INIT;
	char chunk[16384];
	ssize_t n;
	int fd, status = -1;

	fd = connect_unix(path, err);
	if (fd == -1)
		return -1;
	admin_req_encode(argc, argv, in, inlen, &req);
	if (write_all(fd, req.data, req.len) == -1) {
		buf_addf(err, "write to %s: %s", path, strerror(errno));
		goto done;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&resp, chunk, (size_t)n);
	if (admin_resp_decode(resp.data, resp.len, &status, out, err) == -1) {
		buf_reset(err);
		buf_addf(err, "no answer from the daemon");
		status = -1;
	}
done:
	close(fd);
	buf_wipe_free(&req);
	buf_free(&resp);
	return status;
}
