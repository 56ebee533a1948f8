/* SPDX-License-Identifier: ISC */
/*
 * parent - reads the config, prepares the state directory, binds the
 * listening sockets and the control socket, starts the smtp and queue
 * processes and supervises them: SIGHUP reloads, SIGTERM stops gracefully,
 * an unexpected child exit stops everything (a supervisor restarts us).
 *
 * Under a service manager (systemd Type=notify) it says READY=1 once every
 * child is up and the smtp process serves the listeners, RELOADING=1 and
 * READY=1 around a reload, STOPPING=1 at stop, with a STATUS= line.
 *
 * SECURITY: keeps root when started as root, to bind privileged ports on
 * reload; started unprivileged with CAP_NET_BIND_SERVICE (the systemd unit
 * in contrib/systemd/) it keeps that capability for the same reason and
 * the children drop it. Parses nothing but the operator's config. A config
 * that does not validate on reload is refused and the running one kept.
 *
 * STANDARDS: sd_notify(3) for the notifications.
 */
#include <errno.h>
#include <sodium.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/ipc.h"
#include "lib/httpd.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/sdnotify.h"
#include "lib/util.h"
#include "mailauth/dkimkey.h"
#include "proc/nft.h"
#include "proc/procs.h"
#include "proc/proto.h"
#include "tls/tls.h"

struct child {
	const char *name;
	pid_t pid;
	struct ipc *ipc;
	bool stopped;
};

struct parent {
	struct event_base *base;
	char path[PATH_MAX];
	struct conf *cf;
	struct buf text; /* the config text cf was parsed from */
	struct tls_certs certs; /* keys wiped once handed to the smtp process */
	struct notices *notices; /* the user notice templates (notices { dir }) */
	struct event *ev_expiry;
	struct privsep_user pu;
	int *lfds;	 /* listening sockets, one per cf->listeners */
	int metrics_fd;	 /* listening metrics socket (bound at start only), or -1 */
	int api_fd;	 /* listening admin API socket (bound at start only), or -1 */
	uint8_t api_key[32]; /* seals admin API tokens; wiped once handed out */
	int control_fd;
	int lock_fd;
	struct child smtp, queue, auth;
	struct sdnotify notify; /* the service manager, if one started us */
	unsigned pending_ready; /* READY messages the children still owe */
	bool stopping;
	int status;
	struct event *ev_kill;
};

static struct parent pp;

/* The children: smtp, queue and auth. */
#define NCHILDREN 3

/* notify - a notification for the service manager (if any); a failure is
 * logged, never fatal: the manager's timeouts decide what it means. */
static void __attribute__((format(printf, 2, 3)))
notify(struct parent *p, const char *fmt, ...)
{
	char msg[SDNOTIFY_MSG_MAX];
	va_list ap;

	if (p->notify.fd == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sdnotify_send(&p->notify, "%s", msg) == -1)
		log_warn("parent cannot notify the service manager");
}

/* notify_reloading - RELOADING=1 with the monotonic time of the request,
 * as Type=notify-reload wants it (systemd 253 and later). */
static void
notify_reloading(struct parent *p)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify(p, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading %s",
	       (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000,
	       p->path);
}

/* child_ready - a child is up, or runs a new config; when the last one
 * owed says so, the gateway serves (again). */
static void
child_ready(struct parent *p, struct child *c)
{
	if (p->pending_ready == 0)
		log_bug("parent: unexpected READY from %s", c->name);
	if (--p->pending_ready > 0 || p->stopping)
		return;
	log_info("parent ready listeners=%zu", p->cf->nlisteners);
	notify(p, "READY=1\nSTATUS=Accepting mail on %zu listener%s", p->cf->nlisteners,
	       p->cf->nlisteners == 1 ? "" : "s");
}

void
control_path(const struct conf *cf, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/control.sock", cf->state_dir);
}

/* lock_state - the state_dir lock. All our processes hold it, so a new
 * daemon waits (briefly) until every process of a previous one is gone. */
static int
lock_state(int fd)
{
	int i;

	for (i = 0; i < 50; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -1;
		if (i == 0)
			log_info("parent waiting for a previous postern to release the state_dir");
		usleep(100000);
	}
	errno = EWOULDBLOCK;
	return -1;
}

/* prepare_state - state_dir and what the children need inside it. */
static int
prepare_state(struct parent *p)
{
	const struct conf *cf = p->cf;
	char path[PATH_MAX];

	if (mkdir_p(cf->state_dir, 0755) == -1) {
		log_warn("cannot create state_dir %s", cf->state_dir);
		return -1;
	}
	/* The unprivileged processes keep their files here (the account
	 * database and its WAL, the audit log, the TOTP key); the smtp
	 * process is chrooted to empty/ below and sees none of it. */
	if (p->pu.drop && (chown(cf->state_dir, p->pu.uid, p->pu.gid) == -1 ||
			   chmod(cf->state_dir, 0755) == -1)) {
		log_warn("cannot hand %s to user %s", cf->state_dir, p->pu.name);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/postern.lock", cf->state_dir);
	p->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->lock_fd == -1 || lock_state(p->lock_fd) == -1) {
		log_warnx("state_dir %s is in use by another postern (or not writable: %s)",
			  cf->state_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/spool", cf->state_dir);
	if (mkdir_mode(path, 0700) == -1 ||
	    (p->pu.drop && chown(path, p->pu.uid, p->pu.gid) == -1)) {
		log_warn("cannot prepare %s", path);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/empty", cf->state_dir);
	if (mkdir_mode(path, 0555) == -1) {
		log_warn("cannot prepare %s", path);
		return -1;
	}
	return 0;
}

static int
bind_control(struct parent *p)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	control_path(p->cf, sun.sun_path, sizeof(sun.sun_path));
	(void)unlink(sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* Anyone local may connect: the queue process asks the kernel who
	 * the caller is and maps that to a role (admin { }). */
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 || listen(fd, 16) == -1) {
		umask(old);
		log_warn("cannot bind the control socket %s", sun.sun_path);
		close(fd);
		return -1;
	}
	umask(old);
	if (p->pu.drop && chown(sun.sun_path, p->pu.uid, p->pu.gid) == -1)
		log_warn("chown %s", sun.sun_path);
	p->control_fd = fd;
	return 0;
}

/* bind_listeners - sockets for cf, reusing those in old (same address). */
static int *
bind_listeners(const struct conf *cf, const struct conf *old, int *old_fds)
{
	int *fds = xcalloc(cf->nlisteners ? cf->nlisteners : 1, sizeof(int));
	size_t i, j;

	for (i = 0; i < cf->nlisteners; i++) {
		const struct conf_listener *l = &cf->listeners[i];

		fds[i] = -1;
		for (j = 0; old != NULL && j < old->nlisteners; j++)
			if (strcmp(old->listeners[j].spec, l->spec) == 0 && old_fds[j] != -1)
				fds[i] = dup(old_fds[j]);
		if (fds[i] == -1)
			fds[i] = net_listen((struct sockaddr *)&l->addr, l->addrlen, 1024);
		if (fds[i] == -1) {
			log_warn("cannot listen on %s (%s:%d)", l->spec, cf->path, l->line);
			while (i-- > 0)
				close(fds[i]);
			free(fds);
			return NULL;
		}
	}
	return fds;
}

static void
close_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; fds != NULL && i < n; i++)
		if (fds[i] != -1)
			close(fds[i]);
	free(fds);
}

static void
send_conf(struct parent *p, struct child *c)
{
	struct ipc_out out;

	ipc_begin(&out, IMSG_CONF);
	ipc_add_str(&out, p->path);
	ipc_add_data(&out, p->text.data, p->text.len);
	ipc_send(c->ipc, &out);
}

static void
send_listeners(struct parent *p)
{
	struct ipc_out out;
	size_t i;

	for (i = 0; i < p->cf->nlisteners; i++) {
		int fd = dup(p->lfds[i]);

		if (fd == -1)
			log_fatal("dup");
		ipc_begin(&out, IMSG_LISTENER);
		ipc_add_fd(&out, fd);
		ipc_send(p->smtp.ipc, &out);
	}
	ipc_begin(&out, IMSG_LISTENERS_DONE);
	ipc_send(p->smtp.ipc, &out);
}

/* forget_keys - the parent needs the certificates' dates, not their keys. */
static void
forget_keys(struct tls_certs *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		wipe_free(c->pem[i].key, c->pem[i].keylen);
		c->pem[i].key = NULL;
		c->pem[i].keylen = 0;
	}
}

static void
on_expiry_timer(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	(void)fd;
	(void)what;
	tls_certs_log_expiry(&p->certs);
}

/* reload_load - the new config with its certificates, notice templates
 * and listeners, or NULL with why in err (the running config is then
 * kept). */
static struct conf *
reload_load(struct parent *p, struct buf *text, struct tls_certs *certs,
	    struct notices **notices, int **fds, char *err, size_t errsz)
{
	struct conf *cf;

	if (conf_read_file(p->path, text, err, errsz) == -1 ||
	    (cf = conf_new_shared(p->path, buf_cstr(text), text->len, err, errsz)) == NULL)
		return NULL;
	if (strcmp(cf->state_dir, p->cf->state_dir) != 0 || strcmp(cf->user, p->cf->user) != 0 ||
	    cf->smtp_sandbox != p->cf->smtp_sandbox) {
		snprintf(err, errsz, "state_dir, user and smtp { sandbox } change only with a restart");
		goto fail;
	}
	if (dkimkey_check_conf(cf, p->pu.drop ? p->pu.uid : (uid_t)-1, err, errsz) == -1 ||
	    (*notices = notices_load(cf->notices.dir, err, errsz)) == NULL)
		goto fail;
	if (tls_certs_load(cf, certs, err, errsz) == -1) {
		notices_free(*notices);
		goto fail;
	}
	*fds = bind_listeners(cf, p->cf, p->lfds);
	if (*fds == NULL) {
		tls_certs_free(certs);
		notices_free(*notices);
		snprintf(err, errsz, "cannot listen");
		goto fail;
	}
	return cf;
fail:
	conf_unref(cf);
	return NULL;
}

static void
reload(struct parent *p)
{
	char err[CONF_ERR_MAX + 1024];
	struct buf text = BUF_INIT;
	struct tls_certs certs;
	struct notices *notices = NULL;
	struct conf *cf;
	int *fds = NULL;
	size_t i;

	if (p->stopping)
		return;
	notify_reloading(p);
	cf = reload_load(p, &text, &certs, &notices, &fds, err, sizeof(err));
	if (cf == NULL) {
		log_warnx("parent reload-refused reason=\"%s\" (keeping the running config)", err);
		buf_free(&text);
		notify(p, "READY=1\nSTATUS=Reload refused, running the previous config: %.400s",
		       err);
		return;
	}
	close_fds(p->lfds, p->cf->nlisteners);
	p->lfds = fds;
	conf_unref(p->cf);
	p->cf = cf;
	buf_free(&p->text);
	p->text = text;
	log_set_level(cf->log_debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	for (i = 0; i < certs.n; i++)
		proto_send_cert(p->smtp.ipc, &certs.pem[i]);
	forget_keys(&certs);
	tls_certs_free(&p->certs);
	p->certs = certs;
	tls_certs_log_expiry(&p->certs);
	notices_free(p->notices);
	p->notices = notices;
	proto_send_notices(p->queue.ipc, p->notices);
	send_conf(p, &p->queue);
	send_conf(p, &p->auth);
	send_conf(p, &p->smtp);
	send_listeners(p);
	p->pending_ready += NCHILDREN; /* each says READY once it runs the new config */
	log_info("parent reloaded config=%s listeners=%zu", p->path, cf->nlisteners);
}

static void
kill_children(struct parent *p, int sig)
{
	if (p->smtp.pid > 0 && !p->smtp.stopped)
		kill(p->smtp.pid, sig);
	if (p->queue.pid > 0 && !p->queue.stopped)
		kill(p->queue.pid, sig);
	if (p->auth.pid > 0 && !p->auth.stopped)
		kill(p->auth.pid, sig);
}

static void
on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	(void)fd;
	(void)what;
	log_warnx("parent: children did not stop in time; killing them");
	kill_children(p, SIGKILL);
}

static void stop_backends(struct parent *p);

static void
stop(struct parent *p, int status)
{
	struct timeval tv = {(time_t)p->cf->limits.shutdown_timeout + 15, 0};
	struct ipc_out out;

	if (p->stopping)
		return;
	p->stopping = true;
	p->status = status;
	log_info("parent stopping");
	notify(p, "STOPPING=1\nSTATUS=Stopping: sessions in progress may finish");
	if (!p->smtp.stopped) {
		ipc_begin(&out, IMSG_STOP);
		ipc_send(p->smtp.ipc, &out);
	} else {
		stop_backends(p);
	}
	p->ev_kill = evtimer_new(p->base, on_kill_timer, p);
	evtimer_add(p->ev_kill, &tv);
}

/* stop_backends - the smtp process is gone: queue and auth may stop. */
static void
stop_backends(struct parent *p)
{
	struct ipc_out out;

	if (!p->queue.stopped) {
		ipc_begin(&out, IMSG_STOP);
		ipc_send(p->queue.ipc, &out);
	}
	if (!p->auth.stopped) {
		ipc_begin(&out, IMSG_STOP);
		ipc_send(p->auth.ipc, &out);
	}
}

/* child_gone - one child exited (or said it stopped). */
static void
child_gone(struct parent *p, struct child *c, const char *how)
{
	if (c->stopped)
		return;
	c->stopped = true;
	if (!p->stopping) {
		log_warnx("parent: %s process %s; stopping", c->name, how);
		notify(p, "STOPPING=1\nSTATUS=Stopping: the %s process %s", c->name, how);
		p->stopping = true;
		p->status = 1;
		kill_children(p, SIGKILL);
	}
	if (c == &p->smtp && p->status == 0)
		stop_backends(p); /* sessions are done: the rest can stop */
	if (p->smtp.stopped && p->queue.stopped && p->auth.stopped)
		event_base_loopexit(p->base, NULL);
}

/* forward_user_notice - checked here too, then to the queue. */
static void
forward_user_notice(struct parent *p, struct ipc_msg *m)
{
	struct user_notice *un = xmalloc(sizeof(*un));
	struct ipc_out out;

	proto_get_user_notice(m, un);
	if (p->queue.ipc != NULL && !p->stopping) {
		ipc_begin(&out, IMSG_USER_NOTICE);
		proto_add_user_notice(&out, notices_kind_name(un->kind), un->to, un->vars,
				      un->nvars);
		ipc_send(p->queue.ipc, &out);
	}
	free(un);
}

/* from_auth - what the auth process asks of the parent: a notice to pass
 * on to the queue, bans for the firewall. */
static void
from_auth(struct parent *p, struct ipc_msg *m)
{
	char net[NET_ADDRSTRLEN + 8], reason[64], to[400], subject[256], *text;
	struct ipc_out out;
	uint64_t until = 0;

	if (m->type == IMSG_USER_NOTICE) {
		forward_user_notice(p, m);
		return;
	}
	if (m->type == IMSG_NOTICE) {
		ipc_get_strbuf(m, to, sizeof(to));
		ipc_get_strbuf(m, subject, sizeof(subject));
		text = ipc_get_str(m, 64 * 1024);
		ipc_end(m);
		if (p->queue.ipc != NULL && !p->stopping) {
			ipc_begin(&out, IMSG_NOTICE);
			ipc_add_str(&out, to);
			ipc_add_str(&out, subject);
			ipc_add_str(&out, text);
			ipc_send(p->queue.ipc, &out);
		}
		free(text);
		return;
	}
	ipc_get_strbuf(m, net, sizeof(net));
	if (m->type == IMSG_GUARD_BAN) {
		until = ipc_get_u64(m);
		ipc_get_strbuf(m, reason, sizeof(reason));
	}
	ipc_end(m);
	if (p->cf->guard.nftables_set == NULL)
		return;
	if (m->type == IMSG_GUARD_BAN)
		nft_ban(p->cf->guard.nftables_set, net, until);
	else
		nft_unban(p->cf->guard.nftables_set, net);
}

static void
on_child_msg(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct child *c = arg;

	(void)ipc;
	if (m == NULL)
		return; /* SIGCHLD tells */
	if (c == &pp.auth && (m->type == IMSG_NOTICE || m->type == IMSG_USER_NOTICE ||
			      m->type == IMSG_GUARD_BAN || m->type == IMSG_GUARD_UNBAN)) {
		from_auth(&pp, m);
		return;
	}
	if (m->type == IMSG_READY) {
		ipc_end(m);
		child_ready(&pp, c);
		return;
	}
	if (m->type != IMSG_STOPPED)
		log_bug("parent: unexpected message %u from %s", m->type, c->name);
	ipc_end(m);
	child_gone(&pp, c, "stopped");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;
	pid_t pid;
	int st;

	(void)what;
	switch (sig) {
	case SIGHUP:
		reload(p);
		break;
	case SIGTERM:
	case SIGINT:
		stop(p, 0);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			char how[128];

			/* SIGSYS: the smtp process's seccomp filter killed it */
			if (WIFSIGNALED(st))
				snprintf(how, sizeof(how), "was killed by signal %d%s", WTERMSIG(st),
					 WTERMSIG(st) == SIGSYS ? " (SIGSYS: a system call its sandbox "
								  "forbids)"
								: "");
			else
				snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(st));
			if (pid == p->smtp.pid)
				child_gone(p, &p->smtp, how);
			else if (pid == p->queue.pid)
				child_gone(p, &p->queue, how);
			else if (pid == p->auth.pid)
				child_gone(p, &p->auth, how);
			if (WIFSIGNALED(st) || WEXITSTATUS(st) != 0)
				p->status = 1;
		}
		break;
	}
}

/* start_child - fork; the child keeps only the descriptors it needs. */
enum child_kind { CHILD_QUEUE, CHILD_AUTH, CHILD_SMTP };

static pid_t
start_child(struct parent *p, enum child_kind kind, int child_end, int peer_end, int auth_end,
	    const int *unused, size_t nunused)
{
	struct proc_fds fds;
	pid_t pid = fork();
	size_t i;

	if (pid == -1)
		log_fatal("fork");
	if (pid > 0) {
		close(child_end);
		return pid;
	}
	for (i = 0; i < nunused; i++)
		if (unused[i] != -1)
			close(unused[i]);
	sdnotify_close(&p->notify); /* only the parent speaks to the service manager */
	memset(&fds, 0, sizeof(fds));
	fds.ppid = getppid();
	fds.parent = child_end;
	fds.peer = peer_end;
	fds.auth = auth_end;
	fds.metrics = -1;
	fds.api = -1;
	if (kind == CHILD_SMTP) {
		sodium_memzero(p->api_key, sizeof(p->api_key));
		close(p->control_fd);
		fds.listeners = p->lfds;
		fds.control = -1;
		fds.metrics = p->metrics_fd;
		fds.api = p->api_fd;
		smtp_proc_main(p->cf, &fds, &p->pu, &p->certs);
	}
	memcpy(fds.api_key, p->api_key, sizeof(fds.api_key));
	sodium_memzero(p->api_key, sizeof(p->api_key));
	if (p->metrics_fd != -1)
		close(p->metrics_fd);
	if (p->api_fd != -1)
		close(p->api_fd);
	close_fds(p->lfds, p->cf->nlisteners);
	tls_certs_free(&p->certs);
	if (kind == CHILD_AUTH) {
		close(p->control_fd);
		auth_proc_main(p->cf, &fds, &p->pu);
	}
	fds.control = p->control_fd;
	fds.notices = p->notices;
	queue_proc_main(p->cf, &fds, &p->pu);
}

/* bind_api - the admin API listener, when configured, and the key that
 * seals its tokens. */
static int
bind_api(struct parent *p)
{
	char m[NET_ADDRSTRLEN + 8];

	p->api_fd = -1;
	if (sodium_init() == -1)
		return -1;
	randombytes_buf(p->api_key, sizeof(p->api_key));
	if (p->cf->admin.api_len == 0)
		return 0;
	net_format((struct sockaddr *)&p->cf->admin.api, m, sizeof(m));
	p->api_fd = net_listen((struct sockaddr *)&p->cf->admin.api, p->cf->admin.api_len,
			       HTTPD_BACKLOG);
	if (p->api_fd == -1) {
		fprintf(stderr, "postern: admin api %s: %s\n", m, strerror(errno));
		return -1;
	}
	log_info("parent admin API on https://%s/api/v1/", m);
	return 0;
}

static int
setup(struct parent *p, const char *path)
{
	char err[CONF_ERR_MAX + 1024];

	memset(p, 0, sizeof(*p));
	if (sdnotify_open(&p->notify, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	p->control_fd = -1;
	p->lock_fd = -1;
	p->smtp.name = "smtp";
	p->queue.name = "queue";
	p->auth.name = "auth";
	/* Absolute, so that reloads and the commands the queue process runs
	 * for admins (proc/job.c) find the same file whatever their cwd. */
	if (realpath(path, p->path) == NULL)
		str_copy(p->path, path, sizeof(p->path));
	if (conf_read_file(path, &p->text, err, sizeof(err)) == -1 ||
	    (p->cf = conf_new_shared(p->path, buf_cstr(&p->text), p->text.len, err, sizeof(err))) ==
		    NULL) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	log_set_syslog(p->cf->log_syslog);
	log_set_level(p->cf->log_debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (privsep_lookup(p->cf->user, &p->pu, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	if (tls_certs_load(p->cf, &p->certs, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	/* The queue process signs; a selector without a usable key is a
	 * config error now rather than unsigned mail later. */
	if (dkimkey_check_conf(p->cf, p->pu.drop ? p->pu.uid : (uid_t)-1, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	/* The operator's notice templates: a broken one is a config error. */
	p->notices = notices_load(p->cf->notices.dir, err, sizeof(err));
	if (p->notices == NULL) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	if (prepare_state(p) == -1 || bind_control(p) == -1)
		return -1;
	p->lfds = bind_listeners(p->cf, NULL, NULL);
	if (p->lfds == NULL)
		return -1;
	p->metrics_fd = -1;
	if (p->cf->metrics_len > 0) {
		char m[NET_ADDRSTRLEN + 8];

		net_format((struct sockaddr *)&p->cf->metrics, m, sizeof(m));
		p->metrics_fd = net_listen((struct sockaddr *)&p->cf->metrics, p->cf->metrics_len,
					   HTTPD_BACKLOG);
		if (p->metrics_fd == -1) {
			fprintf(stderr, "postern: metrics %s: %s\n", m, strerror(errno));
			return -1;
		}
		log_info("parent metrics on http://%s/metrics", m);
	}
	return bind_api(p);
}

int
parent_main(const char *path, bool debug)
{
	struct parent *p = &pp;
	int sq[2], ss[2], sx[2], sa[2], xa[2];
	struct event *sigs[4];
	const int signums[4] = {SIGHUP, SIGTERM, SIGINT, SIGCHLD};
	size_t i;

	log_init("parent", false, debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (setup(p, path) == -1)
		return 1;
	p->pending_ready = NCHILDREN;
	if (debug)
		log_set_level(LOG_LEVEL_DEBUG);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sq) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ss) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sx) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sa) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, xa) == -1)
		log_fatal("socketpair");
	signal(SIGPIPE, SIG_IGN);
	/* Each child keeps its own ends and closes every other descriptor the
	 * parent still has open at its fork:
	 *   queue: sq[1] (parent), sx[1] (smtp)
	 *   auth:  sa[1] (parent), xa[1] (smtp)
	 *   smtp:  ss[1] (parent), sx[0] (queue), xa[0] (auth) */
	{
		const int not_queue[] = {sq[0], ss[0], ss[1], sx[0], sa[0], sa[1], xa[0], xa[1]};
		const int not_auth[] = {sq[0], ss[0], ss[1], sx[0], sx[1], sa[0], xa[0]};
		const int not_smtp[] = {sq[0], ss[0], sx[1], sa[0], xa[1]};

		p->queue.pid = start_child(p, CHILD_QUEUE, sq[1], sx[1], -1, not_queue,
					   nitems(not_queue));
		p->auth.pid = start_child(p, CHILD_AUTH, sa[1], xa[1], -1, not_auth,
					  nitems(not_auth));
		p->smtp.pid = start_child(p, CHILD_SMTP, ss[1], sx[0], xa[0], not_smtp,
					  nitems(not_smtp));
	}
	close(sx[0]);
	close(sx[1]);
	close(xa[0]);
	close(xa[1]);
	close(p->control_fd);
	p->control_fd = -1;
	if (p->metrics_fd != -1)
		close(p->metrics_fd);
	p->metrics_fd = -1;
	if (p->api_fd != -1)
		close(p->api_fd);
	p->api_fd = -1;
	sodium_memzero(p->api_key, sizeof(p->api_key));
	forget_keys(&p->certs);
	p->base = event_base_new();
	if (p->base == NULL)
		log_fatalx("event_base_new failed");
	p->queue.ipc = ipc_new(p->base, sq[0], "queue", on_child_msg, &p->queue);
	p->auth.ipc = ipc_new(p->base, sa[0], "auth", on_child_msg, &p->auth);
	p->smtp.ipc = ipc_new(p->base, ss[0], "smtp", on_child_msg, &p->smtp);
	for (i = 0; i < nitems(signums); i++) {
		sigs[i] = evsignal_new(p->base, signums[i], on_signal, p);
		event_add(sigs[i], NULL);
	}
	for (i = 0; i < p->cf->nlisteners; i++)
		log_info("parent listening on %s role=%s tls=%s", p->cf->listeners[i].spec,
			 conf_role_name(p->cf->listeners[i].role),
			 conf_listen_tls_name(p->cf->listeners[i].tls));
	tls_certs_log_expiry(&p->certs);
	{
		struct timeval day = {86400, 0};

		p->ev_expiry = event_new(p->base, -1, EV_PERSIST, on_expiry_timer, p);
		event_add(p->ev_expiry, &day);
	}
	log_info("parent started version=%s config=%s state_dir=%s user=%s", POSTERN_VERSION,
		 p->path, p->cf->state_dir, p->pu.drop ? p->pu.name : "(unchanged)");
	event_base_dispatch(p->base);
	for (i = 0; i < nitems(signums); i++)
		event_free(sigs[i]);
	log_info("parent stopped status=%d", p->status);
	return p->status;
}
