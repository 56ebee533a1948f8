/* SPDX-License-Identifier: ISC */
/*
 * queue - spool files: open, commit, abort, recover, inject, retry, remove.
 *
 * SECURITY: unprivileged queue process. The smtp process receives an
 * O_APPEND descriptor, so it can add content but never rewrite the
 * envelope written here; the END record and the commit are ours alone.
 * Ids of incoming files are random and checked on every request.
 * STANDARDS: RFC 5321 4.5.4.1 (retry intervals), 6.1 (no message lost
 * once 250 is given).
 */
#include "queue/queue.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/bounce.h"
#include "queue/commit.h"
#include "queue/dkimsign.h"
#include "queue/filepool.h"
#include "queue/sched.h"
#include "mail/dsn.h"
#include "tls/tls.h"

/* Empty spool files kept ready by the pool thread. */
#define QUEUE_POOL_FILES 64

struct qincoming {
	char id[QUEUE_ID_LEN + 1];
	char tmp[PATH_MAX]; /* where the file is while it is received */
	int fd;
	uint64_t header_len;
	uint64_t body_len;	 /* set at commit */
	struct spool_trailer trailer; /* what the commit appended */
	struct envelope env;
	bool committing;
	struct commit_req req;
	queue_commit_cb cb;
	void *cb_arg;
	struct queue *q;
	/* DKIM signing, done in a committer thread (sign_and_finish) */
	struct dkimsign *keys; /* a reference, or NULL: not ours to sign */
	char *prepend;	       /* the smtp process's header lines, copied */
	size_t prepend_len;
	char *quarantine;      /* copied */
	enum dkimsign_result signing;
	struct dkimsign_outcome sign;
};

static void msg_free(struct queue *q, struct qmsg *m);
static void log_signing(const struct qincoming *in);
static void write_state(struct queue *q, struct qmsg *m, bool durable);
static void queue_tls(struct queue *q, const struct conf *cf);
static void queue_keys(struct queue *q, const struct conf *cf);

void
queue_msg_path(const struct queue *q, const char *id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s", q->dir_queue, id);
}

static void
state_path(const struct queue *q, const char *id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s.st", q->dir_queue, id);
}

static void
new_id(char id[QUEUE_ID_LEN + 1])
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		log_fatal("getrandom");
	/* Time first, so ids sort roughly by arrival. */
	snprintf(id, QUEUE_ID_LEN + 1, "%08llx%08x", (unsigned long long)time(NULL) & 0xffffffffULL,
		 r);
}

struct qmsg *
queue_find(struct queue *q, const char *id)
{
	return map_get(q->by_id, id);
}

static struct qmsg *
msg_add(struct queue *q, struct envelope *env, uint64_t body_off, uint64_t body_len,
	const struct spool_trailer *t)
{
	struct qmsg *m = xcalloc(1, sizeof(*m));

	m->q = q;
	str_copy(m->id, env->id, sizeof(m->id));
	m->env = *env;
	memset(env, 0, sizeof(*env));
	m->body_off = body_off;
	m->body_len = body_len;
	m->prepend_off = t->prepend_off;
	m->prepend_len = t->prepend_len;
	if (t->quarantined)
		m->quarantine = xstrdup(t->reason);
	m->notice = xcalloc(m->env.nrcpts, 1);
	spool_state_init(&m->st, m->env.nrcpts);
	TAILQ_INSERT_TAIL(&q->msgs, m, entry);
	map_put(q->by_id, m->id, m);
	q->nmsgs++;
	return m;
}

/* Incoming files. */

/* new_incoming - an empty file for a new message: from the pool, or made
 * here when the pool is empty. */
static int
new_incoming(struct queue *q, char id[QUEUE_ID_LEN + 1], char path[PATH_MAX])
{
	int fd, tries;

	do {
		new_id(id);
	} while (map_get(q->by_id, id) != NULL || map_get(q->incoming, id) != NULL);
	fd = filepool_take(q->pool, path);
	if (fd != -1)
		return fd;
	for (tries = 0; tries < 10; tries++) {
		snprintf(path, PATH_MAX, "%s/%s", q->dir_incoming, id);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
		new_id(id);
	}
	return fd;
}

int
queue_open(struct queue *q, const struct envelope *env, char id[QUEUE_ID_LEN + 1], int *err)
{
	struct qincoming *in;
	struct buf hdr = BUF_INIT;
	char path[PATH_MAX];
	int fd, afd = -1;

	fd = new_incoming(q, id, path);
	if (fd == -1) {
		*err = errno;
		log_warn("queue open-failed dir=%s", q->dir_incoming);
		return -1;
	}
	in = xcalloc(1, sizeof(*in));
	in->q = q;
	str_copy(in->id, id, sizeof(in->id));
	str_copy(in->tmp, path, sizeof(in->tmp));
	in->env = *env;
	in->env.rcpts = xcalloc(env->nrcpts, sizeof(*env->rcpts));
	memcpy(in->env.rcpts, env->rcpts, env->nrcpts * sizeof(*env->rcpts));
	str_copy(in->env.id, id, sizeof(in->env.id));
	spool_header(&in->env, &hdr);
	in->header_len = hdr.len;
	if (write_all(fd, hdr.data, hdr.len) == -1)
		goto fail;
	/* The smtp process may only append: the envelope above is ours. */
	afd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (afd == -1)
		goto fail;
	buf_free(&hdr);
	in->fd = fd;
	map_put(q->incoming, id, in);
	return afd;
fail:
	*err = errno;
	log_warn("%s queue open-failed", id);
	buf_free(&hdr);
	close(fd);
	unlink(path);
	envelope_clear(&in->env);
	free(in);
	return -1;
}

static void
incoming_free(struct queue *q, struct qincoming *in, bool unlink_it)
{
	map_del(q->incoming, in->id);
	dkimsign_unref(in->keys);
	free(in->prepend);
	free(in->quarantine);
	if (in->fd != -1)
		close(in->fd);
	if (unlink_it)
		filepool_recycle(q->pool, in->tmp);
	envelope_clear(&in->env);
	free(in);
}

void
queue_abort(struct queue *q, const char *id)
{
	struct qincoming *in = map_get(q->incoming, id);

	if (in == NULL || in->committing)
		return;
	log_debug("%s queue aborted", id);
	incoming_free(q, in, true);
}

static void
commit_done(struct commit_req *req, void *arg)
{
	struct qincoming *in = req->arg;
	struct queue *q = arg;
	struct qmsg *m;
	if (req->err != 0) {
		if (in->keys != NULL && in->signing == DKIMSIGN_ERROR) {
			char esc[LOG_ESCAPE_BUF];

			log_warnx("%s queue dkim-failed domain=%s reason=\"%s\"", in->id,
				  log_escape_str(esc, in->sign.domain),
				  in->sign.reason ? in->sign.reason : "?");
		}
		log_warnx("%s queue commit-failed error=\"%s\"", in->id, strerror(req->err));
		(void)unlink(req->tmp);
		(void)unlink(req->dst);
		in->cb(in->cb_arg, in->id, req->err);
		incoming_free(q, in, false);
		return;
	}
	log_signing(in);
	in->cb(in->cb_arg, in->id, 0);
	m = msg_add(q, &in->env, in->header_len, in->body_len, &in->trailer);
	incoming_free(q, in, false);
	log_info("%s queue queued from=<%s> nrcpt=%u size=%llu", m->id, m->env.sender,
		 m->env.nrcpts, (unsigned long long)m->body_len);
	if (m->quarantine != NULL) {
		char esc[LOG_ESCAPE_BUF];

		m->st.hold = 1;
		write_state(q, m, true);
		log_info("%s queue quarantined reason=\"%s\"", m->id,
			 log_escape_str(esc, m->quarantine));
		return;
	}
	queue_schedule(q, m);
}

/* finish_file - append the trailer (header lines to send first, the
 * quarantine reason) and END after the body bytes of message; in->trailer
 * then describes it. 0 or an errno. On the loop, or in a committer thread
 * for a message being signed (the loop leaves in alone meanwhile). */
static int
finish_file(struct qincoming *in, uint64_t body, const char *prepend, size_t plen,
	    const char *reason)
{
	uint8_t end[SPOOL_END_SIZE];
	struct buf tail = BUF_INIT;
	uint64_t at = in->header_len + body;
	int rc, saved;

	spool_trailer(prepend, plen, reason, &tail);
	spool_end(body, end);
	buf_add(&tail, end, sizeof(end));
	rc = pwrite_all(in->fd, tail.data, tail.len, (off_t)at);
	saved = errno;
	if (rc == 0 && spool_parse_trailer((const uint8_t *)tail.data, tail.len - SPOOL_END_SIZE,
					   at, &in->trailer) == -1)
		log_bug("%s queue: a trailer we wrote does not parse", in->id);
	buf_free(&tail);
	if (rc == -1)
		return saved;
	in->body_len = body;
	return 0;
}

/* sign_and_finish - the committer's prepare step for a message of ours:
 * its DKIM signatures go first in the header lines, before the smtp
 * process's, then the trailer is written; all before the fsync, so the
 * 250 is given for the signed file. Runs in a committer thread. */
static int
sign_and_finish(struct commit_req *req)
{
	struct qincoming *in = req->arg;
	struct buf lines = BUF_INIT;
	int err;

	in->signing = dkimsign_spool(in->keys, in->fd, in->header_len, in->body_len, time(NULL),
				     &lines, &in->sign);
	if (in->signing == DKIMSIGN_ERROR) {
		buf_free(&lines);
		return in->sign.err != 0 ? in->sign.err : EIO;
	}
	if (in->prepend_len > 0)
		buf_add(&lines, in->prepend, in->prepend_len);
	if (!valid_spool_prepend(buf_cstr(&lines), lines.len)) {
		/* only a prepend from smtp near SPOOL_PREPEND_MAX gets here */
		in->signing = DKIMSIGN_ERROR;
		in->sign.reason = "header lines longer than SPOOL_PREPEND_MAX";
		buf_free(&lines);
		return EMSGSIZE;
	}
	err = finish_file(in, in->body_len, lines.data, lines.len, in->quarantine);
	buf_free(&lines);
	return err;
}

/* log_signing - on the loop, once the file is safe: what signing did.
 * The domain comes from the message's From: and is escaped. */
static void
log_signing(const struct qincoming *in)
{
	char esc[LOG_ESCAPE_BUF];

	if (in->keys == NULL)
		return;
	log_escape_str(esc, in->sign.domain);
	if (in->signing == DKIMSIGN_SIGNED)
		log_info("%s queue dkim-signed domain=%s selectors=%s", in->id, esc,
			 in->sign.selectors);
	else
		log_info("%s queue dkim-unsigned%s%s reason=\"%s\"", in->id,
			 in->sign.domain[0] ? " domain=" : "", esc,
			 in->sign.reason ? in->sign.reason : "?");
}

/* start_commit - write the trailer and END (or, for a message we sign,
 * leave that to the committer's thread) and hand the file to the
 * committer. */
static int
start_commit(struct queue *q, struct qincoming *in, uint64_t expect,
	     const struct queue_commit_opts *opts)
{
	const char *prepend = opts != NULL ? opts->prepend : NULL;
	size_t plen = prepend != NULL ? opts->prepend_len : 0;
	const char *reason = opts != NULL ? opts->quarantine : NULL;
	struct stat st;
	uint64_t body;
	int err;

	if (fstat(in->fd, &st) == -1)
		return errno;
	if ((uint64_t)st.st_size < in->header_len)
		return EIO;
	body = (uint64_t)st.st_size - in->header_len;
	if (expect != UINT64_MAX && body != expect) {
		log_warnx("%s queue size-mismatch wrote=%llu file=%llu", in->id,
			  (unsigned long long)expect, (unsigned long long)body);
		return EIO;
	}
	if (in->env.originated && q->keys != NULL && dkimsign_count(q->keys) > 0) {
		/* opts is the caller's: keep what the thread needs */
		in->keys = dkimsign_ref(q->keys);
		in->prepend = plen > 0 ? xstrndup(prepend, plen) : NULL;
		in->prepend_len = plen;
		in->quarantine = reason != NULL ? xstrdup(reason) : NULL;
		in->body_len = body;
		in->req.prepare = sign_and_finish;
	} else if ((err = finish_file(in, body, prepend, plen, reason)) != 0) {
		return err;
	}
	in->committing = true;
	in->req.fd = in->fd;
	str_copy(in->req.tmp, in->tmp, sizeof(in->req.tmp));
	queue_msg_path(q, in->id, in->req.dst, sizeof(in->req.dst));
	in->req.arg = in;
	committer_submit(q->committer, &in->req);
	return 0;
}

void
queue_commit(struct queue *q, const char *id, uint64_t size, const struct queue_commit_opts *opts,
	     queue_commit_cb cb, void *arg)
{
	struct qincoming *in = map_get(q->incoming, id);
	int err;

	if (in == NULL || in->committing) {
		cb(arg, id, ENOENT);
		return;
	}
	in->cb = cb;
	in->cb_arg = arg;
	err = start_commit(q, in, size, opts);
	if (err != 0) {
		log_warnx("%s queue commit-failed error=\"%s\"", id, strerror(err));
		cb(arg, id, err);
		incoming_free(q, in, true);
	}
}

static void
inject_done(void *arg, const char *id, int err)
{
	(void)arg;
	if (err != 0)
		log_warnx("%s queue inject-failed error=\"%s\"", id, strerror(err));
}

int
queue_inject(struct queue *q, struct envelope *env, const struct buf *content)
{
	char id[QUEUE_ID_LEN + 1];
	struct qincoming *in;
	int err, afd;

	afd = queue_open(q, env, id, &err);
	if (afd == -1)
		return -1;
	if (write_all(afd, content->data, content->len) == -1) {
		err = errno;
		close(afd);
		log_warnx("%s queue inject-failed error=\"%s\"", id, strerror(err));
		queue_abort(q, id);
		return -1;
	}
	close(afd);
	in = map_get(q->incoming, id);
	queue_commit(q, in->id, content->len, NULL, inject_done, NULL);
	return 0;
}

/* Recovery. */

static void
set_aside(struct queue *q, const char *name, const char *why)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof(from), "%s/%s", q->dir_queue, name);
	snprintf(to, sizeof(to), "%s/%s", q->dir_corrupt, name);
	log_warnx("%s queue corrupt reason=\"%s\" moved-to=%s", name, why, to);
	if (rename(from, to) == -1)
		log_warn("%s queue rename to corrupt", name);
}

/* load_header - read and parse the envelope of an open queue file. */
static int
load_header(int fd, uint64_t size, struct envelope *env, uint64_t *body_off)
{
	struct buf b = BUF_INIT;
	size_t want = 16384;
	int rc;

	for (;;) {
		if (want > size)
			want = (size_t)size;
		buf_reset(&b);
		buf_reserve(&b, want);
		if (pread_all(fd, b.data, want, 0) == -1) {
			rc = -1;
			break;
		}
		rc = spool_parse_header((const uint8_t *)b.data, want, env, body_off);
		if (rc != 1 || want >= size)
			break;
		want *= 4;
	}
	buf_free(&b);
	return rc == 0 ? 0 : -1;
}

/* load_trailer - read and parse the tlen trailer bytes at off. */
static int
load_trailer(int fd, uint64_t off, uint64_t tlen, struct spool_trailer *t)
{
	struct buf b = BUF_INIT;
	int rc = -1;

	buf_reserve(&b, (size_t)tlen + 1);
	if (pread_all(fd, b.data, (size_t)tlen, (off_t)off) == 0)
		rc = spool_parse_trailer((const uint8_t *)b.data, (size_t)tlen, off, t);
	buf_free(&b);
	return rc;
}

static void
load_state(struct queue *q, struct qmsg *m)
{
	char path[PATH_MAX];
	struct buf b = BUF_INIT;
	struct spool_state st;

	state_path(q, m->id, path, sizeof(path));
	if (file_read(path, 1024 * 1024, &b) == -1) {
		if (errno != ENOENT)
			log_warn("%s queue state-unreadable", m->id);
		buf_free(&b);
		return;
	}
	m->has_state_file = true;
	if (spool_state_parse(buf_cstr(&b), b.len, m->env.nrcpts, &st) == -1) {
		log_warnx("%s queue state-corrupt: retrying all recipients", m->id);
	} else {
		spool_state_clear(&m->st);
		m->st = st;
	}
	buf_free(&b);
}

static void
recover_one(struct queue *q, const char *name)
{
	struct envelope env;
	uint8_t tail[SPOOL_END_SIZE];
	struct spool_trailer t;
	char path[PATH_MAX];
	uint64_t body_off, body_len, tlen;
	struct stat st;
	struct qmsg *m;
	int fd;

	queue_msg_path(q, name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		log_warn("%s queue open", name);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		set_aside(q, name, "not a regular file");
		return;
	}
	if (load_header(fd, (uint64_t)st.st_size, &env, &body_off) == -1) {
		close(fd);
		set_aside(q, name, "bad envelope");
		return;
	}
	if (strcmp(env.id, name) != 0 ||
	    pread_all(fd, tail, sizeof(tail), st.st_size - (off_t)sizeof(tail)) == -1 ||
	    spool_check_end(tail, (uint64_t)st.st_size, body_off, &body_len, &tlen) == -1) {
		close(fd);
		envelope_clear(&env);
		set_aside(q, name, "no END record (incomplete file)");
		return;
	}
	if (load_trailer(fd, body_off + body_len, tlen, &t) == -1) {
		close(fd);
		envelope_clear(&env);
		set_aside(q, name, "bad trailer");
		return;
	}
	close(fd);
	m = msg_add(q, &env, body_off, body_len, &t);
	load_state(q, m);
	/* without its state file a quarantined message stays held */
	if (m->quarantine != NULL && !m->has_state_file)
		m->st.hold = 1;
}

static int
recover(struct queue *q)
{
	struct dirent *de;
	DIR *d;
	size_t n = 0;

	/* Files still being received when we stopped were never acknowledged. */
	d = opendir(q->dir_incoming);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", q->dir_incoming, de->d_name);
		(void)unlink(path);
	}
	closedir(d);
	d = opendir(q->dir_queue);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (valid_queue_id(de->d_name)) {
			recover_one(q, de->d_name);
			n++;
		}
	}
	closedir(d);
	/* State files whose message is gone are leftovers of a removal. */
	d = opendir(q->dir_queue);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char id[QUEUE_ID_LEN + 1], path[PATH_MAX];
		size_t len = strlen(de->d_name);

		if (len != QUEUE_ID_LEN + 3 || strcmp(de->d_name + QUEUE_ID_LEN, ".st") != 0)
			continue;
		memcpy(id, de->d_name, QUEUE_ID_LEN);
		id[QUEUE_ID_LEN] = '\0';
		if (queue_find(q, id) == NULL) {
			state_path(q, id, path, sizeof(path));
			(void)unlink(path);
		}
	}
	closedir(d);
	log_info("queue recovered messages=%zu", (size_t)q->nmsgs);
	return 0;
}

/* Scheduling and completion. */

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct qmsg *m = arg;

	(void)fd;
	(void)what;
	queue_schedule(m->q, m);
}

static uint32_t
pending_count(const struct qmsg *m)
{
	uint32_t i, n = 0;

	for (i = 0; i < m->env.nrcpts; i++)
		n += m->st.status[i] == RS_PENDING;
	return n;
}

void
queue_schedule(struct queue *q, struct qmsg *m)
{
	uint64_t now = (uint64_t)time(NULL);

	if (m->deleted || m->st.hold || m->jobs > 0 || q->stopping)
		return;
	if (m->ev_retry == NULL)
		m->ev_retry = evtimer_new(q->base, on_retry, m);
	if (m->st.next_try > now) {
		struct timeval tv = {(time_t)(m->st.next_try - now), 0};

		evtimer_add(m->ev_retry, &tv);
		return;
	}
	evtimer_del(m->ev_retry);
	if (pending_count(m) == 0) {
		queue_delivery_done(q, m); /* everything settled earlier */
		return;
	}
	sched_message(q->sched, m);
}

void
queue_set_rcpt(struct qmsg *m, uint32_t idx, enum rcpt_status st, const char *text)
{
	char *copy = NULL;
	size_t i;

	if (idx >= m->env.nrcpts)
		log_bug("%s queue: recipient %u of %u", m->id, idx, m->env.nrcpts);
	if (text != NULL) {
		copy = xstrdup(text);
		for (i = 0; copy[i]; i++)
			if ((unsigned char)copy[i] < 0x20 || copy[i] == 0x7f)
				copy[i] = '?';
	}
	free(m->st.error[idx]);
	m->st.error[idx] = copy;
	m->st.status[idx] = (uint8_t)st;
	m->state_dirty = true;
}

/* write_state - save m's delivery state. Retry bookkeeping is written
 * without waiting for the disk (losing it after a crash only repeats a
 * delivery attempt); an operator's hold or release is made durable. */
static void
write_state(struct queue *q, struct qmsg *m, bool durable)
{
	struct buf b = BUF_INIT;
	char name[QUEUE_ID_LEN + 4];
	int rc;

	snprintf(name, sizeof(name), "%s.st", m->id);
	spool_state_format(&m->st, &b);
	rc = durable ? file_write_durable(q->dir_queue, name, b.data, b.len)
		     : file_write_atomic(q->dir_queue, name, b.data, b.len);
	if (rc == -1) {
		log_warn("%s queue state-write-failed", m->id);
	} else {
		m->state_dirty = false;
		m->has_state_file = true;
	}
	buf_free(&b);
}

static void
remove_msg(struct queue *q, struct qmsg *m, const char *why)
{
	char path[PATH_MAX];

	queue_msg_path(q, m->id, path, sizeof(path));
	filepool_recycle(q->pool, path);
	if (m->has_state_file) {
		state_path(q, m->id, path, sizeof(path));
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("%s queue unlink %s", m->id, path);
	}
	log_info("%s queue removed reason=%s", m->id, why);
	msg_free(q, m);
}

static uint64_t
backoff(const struct conf_queue *cq, uint32_t attempts)
{
	uint64_t d = cq->retry_min;

	while (attempts-- > 1 && d < cq->retry_max)
		d *= 2;
	return d > cq->retry_max ? cq->retry_max : d;
}

/* expire - past max_lifetime: every pending recipient fails. The status
 * stays the persistent transient 4.4.7 (RFC 3463) with Action: failed. */
static void
expire(struct qmsg *m)
{
	uint64_t life = m->q->cf->queue.max_lifetime;
	char text[600], age[32];
	uint32_t i;

	if (life % 86400 == 0)
		snprintf(age, sizeof(age), "%llu days", (unsigned long long)(life / 86400));
	else
		snprintf(age, sizeof(age), "%llus", (unsigned long long)life);
	for (i = 0; i < m->env.nrcpts; i++) {
		if (m->st.status[i] != RS_PENDING)
			continue;
		snprintf(text, sizeof(text), "451 4.4.7 delivery time expired after %s: %s", age,
			 m->st.error[i] ? m->st.error[i] : "never delivered");
		queue_set_rcpt(m, i, RS_FAILED, text);
		m->notice[i] = DSN_FAILED;
	}
}

void
queue_delivery_done(struct queue *q, struct qmsg *m)
{
	uint64_t now = (uint64_t)time(NULL);
	const struct conf_queue *cq = &q->cf->queue;

	if (m->jobs > 0)
		return;
	if (m->deleted) {
		remove_msg(q, m, "deleted");
		return;
	}
	if (pending_count(m) > 0 && now >= m->env.arrival + cq->max_lifetime)
		expire(m);
	if (pending_count(m) > 0 && !m->st.warned && now >= m->env.arrival + cq->delay_warning)
		bounce_delay(q, m);
	bounce_owed(q, m);
	if (pending_count(m) == 0) {
		remove_msg(q, m, "done");
		return;
	}
	m->st.attempts++;
	if (m->st.first_fail == 0)
		m->st.first_fail = now;
	m->st.next_try = now + backoff(cq, m->st.attempts);
	write_state(q, m, false);
	log_info("%s queue deferred attempts=%u next-retry-in=%llus", m->id, m->st.attempts,
		 (unsigned long long)(m->st.next_try - now));
	queue_schedule(q, m);
}

static void
msg_free(struct queue *q, struct qmsg *m)
{
	TAILQ_REMOVE(&q->msgs, m, entry);
	map_del(q->by_id, m->id);
	q->nmsgs--;
	if (m->ev_retry != NULL)
		event_free(m->ev_retry);
	envelope_clear(&m->env);
	spool_state_clear(&m->st);
	free(m->notice);
	free(m->quarantine);
	free(m);
}

/* Setup. */

static int
make_dirs(struct queue *q)
{
	if (mkdir_mode(q->spool, 0700) == -1 || mkdir_mode(q->dir_incoming, 0700) == -1 ||
	    mkdir_mode(q->dir_queue, 0700) == -1 || mkdir_mode(q->dir_corrupt, 0700) == -1) {
		log_warn("queue: cannot create %s", q->spool);
		return -1;
	}
	return 0;
}

int
queue_init(struct queue *q, struct event_base *base, struct conf *cf)
{
	memset(q, 0, sizeof(*q));
	q->base = base;
	q->cf = conf_ref(cf);
	TAILQ_INIT(&q->msgs);
	q->by_id = map_new();
	q->incoming = map_new();
	snprintf(q->spool, sizeof(q->spool), "%s/spool", cf->state_dir);
	snprintf(q->dir_incoming, sizeof(q->dir_incoming), "%s/incoming", q->spool);
	snprintf(q->dir_queue, sizeof(q->dir_queue), "%s/queue", q->spool);
	snprintf(q->dir_corrupt, sizeof(q->dir_corrupt), "%s/corrupt", q->spool);
	if (make_dirs(q) == -1 || recover(q) == -1)
		return -1;
	queue_tls(q, cf);
	queue_keys(q, cf);
	q->pool = filepool_new(q->dir_incoming, QUEUE_POOL_FILES);
	q->committer = committer_new(base, q->dir_queue, 4, commit_done, q);
	q->sched = sched_new(q);
	return 0;
}

void
queue_start(struct queue *q)
{
	struct qmsg *m, *next;

	for (m = TAILQ_FIRST(&q->msgs); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		queue_schedule(q, m);
	}
}

/* queue_tls - (re)build the outbound TLS context for cf. */
static void
queue_tls(struct queue *q, const struct conf *cf)
{
	char err[512];
	struct tls_client *tc = tls_client_new(cf->tls.ca_file, err, sizeof(err));

	if (tc == NULL) {
		log_warnx("queue tls-client-setup-failed reason=\"%s\"%s", err,
			  q->tlsc ? " (keeping the previous one)" : " (outbound TLS off)");
		return;
	}
	tls_client_free(q->tlsc);
	q->tlsc = tc;
}

/* queue_keys - (re)load the DKIM signing keys for cf. Commits in progress
 * keep the set they started with. At start a key that does not load is
 * fatal (the parent checked them: it was removed since); on reload the
 * previous keys stay. */
static void
queue_keys(struct queue *q, const struct conf *cf)
{
	char err[PATH_MAX + 1024];
	struct dkimsign *ks = dkimsign_load(cf, err, sizeof(err));

	if (ks == NULL && q->keys == NULL)
		log_fatalx("queue: DKIM signing keys: %s", err);
	if (ks == NULL) {
		log_warnx("queue dkim-keys-failed reason=\"%s\" (keeping the previous keys)", err);
		return;
	}
	dkimsign_unref(q->keys);
	q->keys = ks;
	if (dkimsign_count(ks) > 0)
		log_info("queue dkim-keys loaded=%zu", dkimsign_count(ks));
}

void
queue_set_conf(struct queue *q, struct conf *cf)
{
	conf_unref(q->cf);
	q->cf = conf_ref(cf);
	queue_tls(q, cf);
	queue_keys(q, cf);
	sched_set_conf(q->sched);
}

void
queue_stop(struct queue *q)
{
	q->stopping = true;
	sched_stop(q->sched);
}

void
queue_free(struct queue *q)
{
	struct qmsg *m;

	committer_free(q->committer);
	dkimsign_unref(q->keys);
	sched_free(q->sched);
	filepool_free(q->pool);
	tls_client_free(q->tlsc);
	while ((m = TAILQ_FIRST(&q->msgs)) != NULL)
		msg_free(q, m);
	/* Files still being received stay in incoming/ and go at the next start. */
	map_free(q->by_id);
	map_free(q->incoming);
	conf_unref(q->cf);
}

/* The operator's view (postern queue ...). */

static const char *
msg_status(const struct qmsg *m)
{
	if (m->st.hold)
		return m->quarantine != NULL ? "quarantined" : "held";
	if (m->jobs > 0)
		return "active";
	if (m->st.attempts > 0)
		return "deferred";
	return "queued";
}

static void
fmt_time(uint64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
ctl_list(struct queue *q, bool quarantine_only, struct buf *out)
{
	static const char *rs[] = {"pending", "done", "failed"};
	char when[32], esc[LOG_ESCAPE_BUF];
	struct qmsg *m;
	uint32_t i;

	uint64_t n = 0;

	TAILQ_FOREACH(m, &q->msgs, entry) {
		if (quarantine_only && (m->quarantine == NULL || !m->st.hold))
			continue;
		n++;
		fmt_time(m->env.arrival, when, sizeof(when));
		buf_addf(out, "%s %10llu %s %-8s <%s>\n", m->id, (unsigned long long)m->body_len,
			 when, msg_status(m), log_escape_str(esc, m->env.sender));
		if (m->quarantine != NULL)
			buf_addf(out, "    quarantine: %s\n", log_escape_str(esc, m->quarantine));
		for (i = 0; i < m->env.nrcpts; i++) {
			buf_addf(out, "    <%s> %s", log_escape_str(esc, m->env.rcpts[i].addr),
				 rs[m->st.status[i]]);
			if (m->st.error[i] != NULL)
				buf_addf(out, " (%s)", log_escape_str(esc, m->st.error[i]));
			buf_adds(out, "\n");
		}
	}
	buf_addf(out, "-- %llu %smessage%s\n", (unsigned long long)n,
		 quarantine_only ? "quarantined " : "", n == 1 ? "" : "s");
}

static void
ctl_show(struct queue *q, struct qmsg *m, struct buf *out)
{
	static const char *rs[] = {"pending", "done", "failed"};
	char when[32], esc[LOG_ESCAPE_BUF], path[PATH_MAX];
	struct buf content = BUF_INIT;
	uint32_t i;
	size_t n;
	int fd;

	fmt_time(m->env.arrival, when, sizeof(when));
	buf_addf(out, "id: %s\nstatus: %s\narrival: %s\nsize: %llu\nsender: <%s>\n", m->id,
		 msg_status(m), when, (unsigned long long)m->body_len,
		 log_escape_str(esc, m->env.sender));
	buf_addf(out, "client: %s helo=%s proto=%s%s%s\n", m->env.client_ip,
		 log_escape_str(esc, m->env.helo), m->env.proto,
		 m->env.submission ? " submission" : "", m->env.originated ? " originated" : "");
	if (m->env.envid[0])
		buf_addf(out, "envid: %s\n", m->env.envid);
	if (m->quarantine != NULL)
		buf_addf(out, "quarantine: %s\n", log_escape_str(esc, m->quarantine));
	if (m->env.ret != RET_UNSET)
		buf_addf(out, "ret: %s\n", m->env.ret == RET_FULL ? "FULL" : "HDRS");
	buf_addf(out, "attempts: %u\n", m->st.attempts);
	if (m->st.next_try) {
		fmt_time(m->st.next_try, when, sizeof(when));
		buf_addf(out, "next-attempt: %s\n", when);
	}
	for (i = 0; i < m->env.nrcpts; i++) {
		buf_addf(out, "recipient: <%s> %s", log_escape_str(esc, m->env.rcpts[i].addr),
			 rs[m->st.status[i]]);
		if (m->st.error[i] != NULL)
			buf_addf(out, " (%s)", log_escape_str(esc, m->st.error[i]));
		buf_adds(out, "\n");
	}
	queue_msg_path(q, m->id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	buf_adds(out, "\n");
	if (m->prepend_len > 0 && m->prepend_len <= SPOOL_PREPEND_MAX) {
		buf_reserve(&content, (size_t)m->prepend_len);
		if (pread_all(fd, content.data, (size_t)m->prepend_len, (off_t)m->prepend_off) == 0)
			buf_add(out, content.data, (size_t)m->prepend_len);
	}
	n = m->body_len < 65536 ? (size_t)m->body_len : 65536;
	buf_reserve(&content, n);
	if (pread_all(fd, content.data, n, (off_t)m->body_off) == 0) {
		content.len = n;
		n = dsn_header_end(content.data, n);
		buf_add(out, content.data, n);
	}
	close(fd);
	buf_free(&content);
}

static int
ctl_need_msg(struct queue *q, char **argv, int argc, struct buf *out, struct qmsg **m)
{
	if (argc != 2) {
		buf_addf(out, "usage: queue %s ID", argv[0]);
		return -1;
	}
	*m = valid_queue_id(argv[1]) ? queue_find(q, argv[1]) : NULL;
	if (*m == NULL || (*m)->deleted) {
		buf_addf(out, "no message %s in the queue", argv[1]);
		return -1;
	}
	return 0;
}

const char *
queue_state_word(struct queue *q, const char *id)
{
	struct qmsg *m = valid_queue_id(id) ? queue_find(q, id) : NULL;

	if (m == NULL)
		return "absent";
	if (m->deleted)
		return "deleted";
	if (m->st.hold)
		return m->quarantine != NULL ? "quarantined" : "held";
	return "queued";
}

int
queue_ctl(struct queue *q, char **argv, int argc, struct buf *out)
{
	struct qmsg *m, *next;
	unsigned n = 0;

	if (argc >= 1 && strcmp(argv[0], "list") == 0 && argc == 1) {
		ctl_list(q, false, out);
		return 0;
	}
	if (argc >= 1 && strcmp(argv[0], "quarantine") == 0 && argc == 1) {
		ctl_list(q, true, out);
		return 0;
	}
	if (argc >= 1 && strcmp(argv[0], "flush") == 0 && argc == 1) {
		for (m = TAILQ_FIRST(&q->msgs); m != NULL; m = next) {
			next = TAILQ_NEXT(m, entry);
			if (m->st.hold || m->jobs > 0 || m->deleted)
				continue;
			m->st.next_try = 0;
			n++;
			queue_schedule(q, m);
		}
		log_info("queue flush messages=%u", n);
		buf_addf(out, "flushed %u message%s\n", n, n == 1 ? "" : "s");
		return 0;
	}
	if (argc < 1 || (strcmp(argv[0], "show") != 0 && strcmp(argv[0], "delete") != 0 &&
			 strcmp(argv[0], "hold") != 0 && strcmp(argv[0], "release") != 0)) {
		buf_adds(out,
			 "usage: queue list|quarantine|show ID|flush|delete ID|hold ID|release ID");
		return -1;
	}
	if (ctl_need_msg(q, argv, argc, out, &m) == -1)
		return -1;
	if (strcmp(argv[0], "show") == 0) {
		ctl_show(q, m, out);
	} else if (strcmp(argv[0], "delete") == 0) {
		m->deleted = true;
		log_info("%s queue delete requested", m->id);
		buf_addf(out, "deleted %s\n", m->id);
		if (m->jobs == 0)
			remove_msg(q, m, "deleted");
	} else if (strcmp(argv[0], "hold") == 0) {
		m->st.hold = 1;
		if (m->ev_retry != NULL)
			evtimer_del(m->ev_retry);
		write_state(q, m, true);
		log_info("%s queue held", m->id);
		buf_addf(out, "held %s\n", m->id);
	} else {
		m->st.hold = 0;
		m->st.next_try = 0;
		write_state(q, m, true);
		log_info("%s queue released", m->id);
		buf_addf(out, "released %s\n", m->id);
		queue_schedule(q, m);
	}
	return 0;
}
