/* SPDX-License-Identifier: ISC */
/*
 * queue_proc - the queue process: answers the smtp process (open, commit,
 * abort), runs the scheduler and the control socket.
 *
 * SECURITY: unprivileged; trusts nothing from the smtp process that it
 * cannot check (proto_get_envelope re-validates, ids must be ones we
 * issued). Control requests are bounded and parsed in control.c.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/file.h"
#include "lib/ipc.h"
#include "mail/notice.h"
#include "mail/syntax.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "admin/api.h"
#include "admin/token.h"
#include "proc/control.h"
#include "proc/procs.h"
#include "proc/tasks.h"
#include "proc/proto.h"
#include "queue/dmarcrep.h"
#include "queue/notices.h"
#include "queue/queue.h"
#include "queue/spool.h"

struct queue_proc {
	struct event_base *base;
	struct conf *cf;
	struct ipc *parent;
	struct ipc *smtp;
	struct queue q;
	struct control *control;
	struct tasks *tasks; /* scheduled backups and self-audits */
};

static struct queue_proc qp_global;

struct commit_ctx {
	struct queue_proc *qp;
	uint64_t sid;
};

static const char *
open_error(int err)
{
	if (err == ENOSPC || err == EDQUOT || err == EFBIG)
		return "452 4.3.1 Error: insufficient system storage";
	return "451 4.3.0 Error: queue file write error, try again later";
}

static void
on_committed(void *arg, const char *id, int err)
{
	struct commit_ctx *ctx = arg;
	struct ipc_out out;

	ipc_begin(&out, err == 0 ? IMSG_MSG_COMMIT_OK : IMSG_MSG_COMMIT_FAIL);
	ipc_add_u64(&out, ctx->sid);
	ipc_add_str(&out, id);
	ipc_add_str(&out, err == 0 ? "" : open_error(err));
	if (ctx->qp->smtp != NULL)
		ipc_send(ctx->qp->smtp, &out);
	else
		buf_free(&out.payload);
	free(ctx);
}

static void
do_open(struct queue_proc *qp, struct ipc_msg *m)
{
	char id[QUEUE_ID_LEN + 1];
	struct envelope env;
	struct ipc_out out;
	uint64_t sid = ipc_get_u64(m);
	int fd, err = 0;

	proto_get_envelope(m, &env, (uint32_t)qp->cf->limits.max_recipients);
	ipc_end(m);
	fd = qp->q.stopping ? -1 : queue_open(&qp->q, &env, id, &err);
	envelope_clear(&env);
	if (fd == -1) {
		ipc_begin(&out, IMSG_MSG_OPEN_FAIL);
		ipc_add_u64(&out, sid);
		ipc_add_str(&out, open_error(err));
	} else {
		ipc_begin(&out, IMSG_MSG_OPEN_OK);
		ipc_add_u64(&out, sid);
		ipc_add_str(&out, id);
		ipc_add_fd(&out, fd);
	}
	ipc_send(qp->smtp, &out);
}

static void
do_commit(struct queue_proc *qp, struct ipc_msg *m)
{
	struct commit_ctx *ctx = xcalloc(1, sizeof(*ctx));
	struct queue_commit_opts opts = {0};
	char id[QUEUE_ID_LEN + 1], reason[SPOOL_REASON_MAX + 1];
	uint64_t size;

	ctx->qp = qp;
	ctx->sid = ipc_get_u64(m);
	ipc_get_strbuf(m, id, sizeof(id));
	size = ipc_get_u64(m);
	opts.prepend = ipc_get_data(m, &opts.prepend_len);
	ipc_get_strbuf(m, reason, sizeof(reason));
	ipc_end(m);
	if (!valid_spool_prepend(opts.prepend, opts.prepend_len))
		log_bug("queue: header lines from smtp are not wire form");
	opts.quarantine = reason[0] != '\0' ? reason : NULL;
	queue_commit(&qp->q, id, size, &opts, on_committed, ctx);
}

/* An admin API answer goes back in an anonymous file: it can be larger
 * than an IPC message. */
struct admin_run {
	struct queue_proc *qp;
	uint64_t rid;
};

static void
on_admin_done(unsigned http, struct buf *body, void *arg)
{
	struct admin_run *r = arg;
	struct ipc_out out;
	int fd = memfd_create("postern-api-answer", MFD_CLOEXEC);

	if (fd != -1 && (write_all(fd, body->data, body->len) == -1 || lseek(fd, 0, SEEK_SET) == -1)) {
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		log_warn("queue admin-answer-lost rid=%llx", (unsigned long long)r->rid);
		fd = memfd_create("postern-api-answer", MFD_CLOEXEC); /* empty: a 500 */
		if (fd == -1)
			log_fatal("memfd_create");
		http = 500;
	}
	if (r->qp->smtp != NULL) {
		ipc_begin(&out, IMSG_ADMIN_RESULT);
		ipc_add_u64(&out, r->rid);
		ipc_add_u32(&out, http);
		ipc_add_fd(&out, fd);
		ipc_send(r->qp->smtp, &out);
	} else {
		close(fd);
	}
	free(r);
}

static void
do_admin_run(struct queue_proc *qp, struct ipc_msg *m)
{
	char token[TOKEN_MAX + 1], ip[TOKEN_IP_MAX + 1];
	struct admin_run *r = xcalloc(1, sizeof(*r));
	const void *body;
	size_t len;

	r->qp = qp;
	r->rid = ipc_get_u64(m);
	ipc_get_strbuf(m, token, sizeof(token));
	ipc_get_strbuf(m, ip, sizeof(ip));
	body = ipc_get_data(m, &len);
	ipc_end(m);
	if (len > API_MAX_BODY)
		log_bug("queue: oversized ADMIN_RUN from %s", m->peer);
	control_api_run(qp->control, token, ip, body, len, on_admin_done, r);
	sodium_memzero(token, sizeof(token));
}

static void
on_smtp(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct queue_proc *qp = arg;
	char id[QUEUE_ID_LEN + 1];

	(void)ipc;
	if (m == NULL) {
		/* The smtp process stopped (or died: then the parent stops us). */
		log_debug("queue: smtp process closed its channel");
		ipc_free(qp->smtp);
		qp->smtp = NULL;
		return;
	}
	switch (m->type) {
	case IMSG_MSG_OPEN:
		do_open(qp, m);
		break;
	case IMSG_MSG_COMMIT:
		do_commit(qp, m);
		break;
	case IMSG_MSG_ABORT:
		ipc_get_strbuf(m, id, sizeof(id));
		ipc_end(m);
		queue_abort(&qp->q, id);
		break;
	case IMSG_ADMIN_RUN:
		do_admin_run(qp, m);
		break;
	case IMSG_ADMIN_LOGOUT: {
		char token[TOKEN_MAX + 1], ip[TOKEN_IP_MAX + 1];

		ipc_get_strbuf(m, token, sizeof(token));
		ipc_get_strbuf(m, ip, sizeof(ip));
		ipc_end(m);
		control_api_logout(qp->control, token, ip);
		sodium_memzero(token, sizeof(token));
		break;
	}
	case IMSG_DMARC_EVAL: {
		struct dmarc_eval e;

		proto_get_dmarc_eval(m, &e);
		if (qp->q.reports != NULL)
			dmarcrep_add(qp->q.reports, &e);
		break;
	}
	default:
		log_bug("queue: unexpected message %u from smtp", m->type);
	}
}

static void
on_conf(struct queue_proc *qp, struct ipc_msg *m)
{
	struct conf *cf = proto_get_conf(m);

	conf_unref(qp->cf);
	qp->cf = cf;
	queue_set_conf(&qp->q, cf);
	tasks_set_conf(qp->tasks, cf);
	log_set_level(cf->log_debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	log_info("queue reloaded");
	proto_send_ready(qp->parent);
}

static void
queue_finish_stop(struct queue_proc *qp)
{
	struct ipc_out out;

	control_free(qp->control);
	tasks_free(qp->tasks);
	queue_free(&qp->q);
	log_info("queue stopped");
	ipc_begin(&out, IMSG_STOPPED);
	ipc_send(qp->parent, &out);
	ipc_flush(qp->parent);
	exit(0);
}

/* send_notice - a mail of ours to the operator (a guard alert, a task's
 * report), composed and queued with the null sender, so that a failure
 * never bounces back (RFC 3834). */
static void
send_notice(struct queue_proc *qp, const char *to, const char *subject, const char *text)
{
	if (notices_inject(&qp->q, to, subject, text != NULL ? text : "") == 0) {
		qp->q.operator_sent++;
		log_info("queue notice-sent to=<%s> subject=\"%s\"", to, subject);
	}
}

/* on_notice - a guard alert, passed on by the parent from the auth process. */
static void
on_notice(struct queue_proc *qp, struct ipc_msg *m)
{
	char to[SMTP_PATH_MAX + 1], subject[NOTICE_SUBJECT_MAX + 1], *text;

	ipc_get_strbuf(m, to, sizeof(to));
	ipc_get_strbuf(m, subject, sizeof(subject));
	text = ipc_get_str(m, NOTICE_BODY_MAX);
	ipc_end(m);
	send_notice(qp, to, subject, text);
	free(text);
}

/* on_user_notice - a notice to an account's owner, from its template. */
static void
on_user_notice(struct queue_proc *qp, struct ipc_msg *m)
{
	struct user_notice *un = xmalloc(sizeof(*un));

	proto_get_user_notice(m, un);
	(void)notices_send(&qp->q, un->kind, un->to, un->vars, un->nvars);
	free(un);
}

/* task_mail - a scheduled task's report or alert. */
static void
task_mail(void *arg, const char *to, const char *subject, const char *body)
{
	send_notice(arg, to, subject, body);
}

static void
on_parent(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct queue_proc *qp = arg;

	(void)ipc;
	if (m == NULL)
		log_fatalx("queue: parent went away");
	switch (m->type) {
	case IMSG_CONF:
		on_conf(qp, m);
		break;
	case IMSG_STOP:
		ipc_end(m);
		queue_stop(&qp->q);
		queue_finish_stop(qp);
		break;
	case IMSG_NOTICE:
		on_notice(qp, m);
		break;
	case IMSG_USER_NOTICE:
		on_user_notice(qp, m);
		break;
	case IMSG_NOTICES:
		notices_free(qp->q.notices);
		qp->q.notices = proto_get_notices(m);
		break;
	default:
		log_bug("queue: unexpected message %u from parent", m->type);
	}
}

/* queue_families - what the queue's snapshot holds. */
static void
queue_families(struct metrics *m)
{
	metrics_describe(m, "postern_queue_messages", METRIC_GAUGE, "messages in the queue");
	metrics_describe(m, "postern_queue_messages_by_state", METRIC_GAUGE,
			 "messages in the queue by state");
	metrics_describe(m, "postern_queue_oldest_seconds", METRIC_GAUGE,
			 "age of the oldest message in the queue (0: empty)");
	metrics_describe(m, "postern_deliveries_total", METRIC_COUNTER,
			 "delivery results per recipient");
	metrics_describe(m, "postern_tls_sessions_total", METRIC_COUNTER,
			 "TLS sessions by direction and protocol version");
	metrics_describe(m, "postern_notices_total", METRIC_COUNTER,
			 "mails of postern's own queued, by kind");
}

/* queue_numbers - the queue's state and counters into m. */
static void
queue_numbers(struct queue *q, struct metrics *m)
{
	static const char *const tls[QUEUE_TLS_VERSIONS] = {"TLSv1.2", "TLSv1.3", "other"};
	struct queue_stats st;
	char l[METRICS_LABELS_MAX];
	uint64_t now = (uint64_t)time(NULL);
	unsigned i;

	queue_stats(q, &st);
	metrics_set(m, "postern_queue_messages", NULL, (double)q->nmsgs);
	for (i = 0; i < QS_COUNT; i++) {
		metrics_labels(l, sizeof(l), "state", queue_state_name(i), (char *)NULL);
		metrics_set(m, "postern_queue_messages_by_state", l, (double)st.by_state[i]);
	}
	metrics_set(m, "postern_queue_oldest_seconds", NULL,
		    st.oldest != 0 && now > st.oldest ? (double)(now - st.oldest) : 0);
	metrics_add(m, "postern_deliveries_total", "result=\"sent\"", (double)q->sent);
	metrics_add(m, "postern_deliveries_total", "result=\"deferred\"", (double)q->deferred);
	metrics_add(m, "postern_deliveries_total", "result=\"bounced\"", (double)q->bounced);
	for (i = 0; i < QUEUE_TLS_VERSIONS; i++) {
		metrics_labels(l, sizeof(l), "direction", "outbound", "version", tls[i], (char *)NULL);
		metrics_add(m, "postern_tls_sessions_total", l, (double)q->tls_out[i]);
	}
	for (i = 0; i < NK_COUNT; i++) {
		metrics_labels(l, sizeof(l), "kind", notices_kind_name(i), (char *)NULL);
		metrics_add(m, "postern_notices_total", l, (double)q->notices_sent[i]);
	}
	metrics_add(m, "postern_notices_total", "kind=\"operator\"", (double)q->operator_sent);
}

/* on_metrics_timer - the queue's numbers, to the smtp process. */
static void
on_metrics_timer(evutil_socket_t fd, short what, void *arg)
{
	struct queue_proc *qp = arg;
	struct metrics *m = metrics_new();

	(void)fd;
	(void)what;
	queue_families(m);
	queue_numbers(&qp->q, m);
	proto_send_metrics(qp->smtp, m);
	metrics_free(m);
}

void
queue_proc_main(struct conf *cf, struct proc_fds *fds, const struct privsep_user *pu)
{
	struct queue_proc *qp = &qp_global;
	char err[256];

	log_set_procname("queue");
	privsep_drop(pu, NULL);
	proc_watch_parent(fds->ppid);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file size limit is an EFBIG, not a crash */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	memset(qp, 0, sizeof(*qp));
	qp->base = event_base_new();
	if (qp->base == NULL)
		log_fatalx("queue: event_base_new failed");
	qp->cf = cf;
	if (queue_init(&qp->q, qp->base, cf) == -1)
		log_fatalx("queue: cannot use the spool in %s", cf->state_dir);
	if (fds->notices != NULL) {
		notices_free(qp->q.notices);
		qp->q.notices = fds->notices;
	}
	qp->q.dns = dns_new(qp->base, cf, err, sizeof(err));
	if (qp->q.dns == NULL)
		log_fatalx("queue: %s", err);
	qp->q.reports = dmarcrep_new(&qp->q);
	qp->parent = ipc_new(qp->base, fds->parent, "parent", on_parent, qp);
	qp->smtp = ipc_new(qp->base, fds->peer, "smtp", on_smtp, qp);
	qp->control = control_new(qp->base, fds->control, &qp->q);
	control_set_api_key(qp->control, fds->api_key);
	qp->tasks = tasks_new(qp->base, cf, task_mail, qp);
	sodium_memzero(fds->api_key, sizeof(fds->api_key));
	queue_start(&qp->q);
	proto_send_ready(qp->parent);
	if (cf->metrics_len > 0)
		event_add(event_new(qp->base, -1, EV_PERSIST, on_metrics_timer, qp),
			  &(struct timeval){1, 0});
	event_base_dispatch(qp->base);
	log_fatalx("queue: event loop ended");
}
