/* SPDX-License-Identifier: ISC */
/*
 * bounce - DSN generation for queued messages.
 *
 * SECURITY: see bounce.h. The original content is read from our own spool
 * file and bounded by bounce_size_limit; beyond it only headers return.
 */
#include "queue/bounce.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/dsn.h"

/* Content beyond this returns headers only (Postfix's bounce_size_limit). */
#define BOUNCE_SIZE_LIMIT (512 * 1024)

/* wants - does the recipient's NOTIFY ask for this kind of DSN? */
static bool
wants(unsigned notify, enum dsn_action a)
{
	if (notify & NOTIFY_NEVER)
		return false;
	switch (a) {
	case DSN_FAILED:
		return notify == 0 || (notify & NOTIFY_FAILURE);
	case DSN_DELAYED:
		return (notify & NOTIFY_DELAY) != 0;
	case DSN_DELIVERED:
	case DSN_RELAYED:
		return (notify & NOTIFY_SUCCESS) != 0;
	}
	return false;
}

static int
read_content(struct queue *q, struct qmsg *m, bool headers_only, struct buf *out)
{
	char path[PATH_MAX];
	size_t n = (size_t)m->body_len;
	int fd;

	if (headers_only && n > BOUNCE_SIZE_LIMIT)
		n = BOUNCE_SIZE_LIMIT; /* headers are in the first part */
	queue_msg_path(q, m->id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	buf_reserve(out, n);
	if (pread_all(fd, out->data, n, (off_t)m->body_off) == -1) {
		close(fd);
		return -1;
	}
	out->len = n;
	out->data[n] = '\0';
	close(fd);
	if (headers_only)
		out->len = dsn_header_end(out->data, out->len);
	return 0;
}

/* send_dsn - compose one DSN for the recipients in rc and enqueue it. */
static void
send_dsn(struct queue *q, struct qmsg *m, struct dsn_rcpt *rc, size_t n, bool with_content)
{
	struct envelope env;
	struct env_rcpt to;
	struct dsn_info d;
	struct buf content = BUF_INIT, msg = BUF_INIT;
	const char *at;
	bool hdrs = m->env.ret == RET_HDRS || m->body_len > BOUNCE_SIZE_LIMIT;

	memset(&d, 0, sizeof(d));
	d.reporting_mta = q->cf->hostname;
	d.from_domain = q->cf->hostname;
	d.to = m->env.sender;
	d.queue_id = m->id;
	d.envid = m->env.envid;
	d.arrival = (time_t)m->env.arrival;
	d.now = time(NULL);
	d.rcpts = rc;
	d.nrcpts = n;
	d.headers_only = hdrs || !with_content;
	d.utf8 = m->env.smtputf8;
	if (read_content(q, m, d.headers_only, &content) == 0) {
		d.content = content.data;
		d.content_len = content.len;
	}
	dsn_compose(&d, &msg);
	memset(&env, 0, sizeof(env));
	memset(&to, 0, sizeof(to));
	env.arrival = (uint64_t)d.now;
	str_copy(env.client_ip, "127.0.0.1", sizeof(env.client_ip));
	str_copy(env.helo, q->cf->hostname, sizeof(env.helo));
	str_copy(env.proto, "local", sizeof(env.proto));
	env.originated = true; /* ours: DKIM-signed when its From: domain has keys */
	/* The notification carries the original: it needs the same transport. */
	env.smtputf8 = m->env.smtputf8;
	env.body = m->env.body;
	str_copy(to.addr, m->env.sender, sizeof(to.addr));
	at = strrchr(to.addr, '@');
	str_copy(to.domain, at ? at + 1 : "", sizeof(to.domain));
	for (char *p = to.domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	envelope_add_rcpt(&env, &to);
	if (queue_inject(q, &env, &msg) == 0)
		log_info("%s queue dsn-sent action=%s to=<%s> recipients=%zu", m->id,
			 rc[0].action == DSN_FAILED    ? "failed"
			 : rc[0].action == DSN_DELAYED ? "delayed"
						       : "success",
			 m->env.sender, n);
	envelope_clear(&env);
	buf_free(&content);
	buf_free(&msg);
}

/* collect - the recipients owed a DSN of one action into rc. */
static size_t
collect(struct qmsg *m, enum dsn_action a, struct dsn_rcpt *rc, char (*status)[16])
{
	uint32_t i;
	size_t n = 0;

	for (i = 0; i < m->env.nrcpts; i++) {
		if (m->notice[i] != a)
			continue;
		m->notice[i] = 0;
		if (!wants(m->env.rcpts[i].notify, a))
			continue;
		memset(&rc[n], 0, sizeof(rc[n]));
		rc[n].addr = m->env.rcpts[i].addr;
		rc[n].orcpt = m->env.rcpts[i].orcpt;
		rc[n].action = a;
		rc[n].diagnostic = m->st.error[i];
		dsn_status_from_reply(m->st.error[i] ? m->st.error[i]
						     : (a == DSN_FAILED ? "550" : "250"),
				      status[n]);
		if (a == DSN_DELIVERED || a == DSN_RELAYED)
			str_copy(status[n], "2.0.0", 16);
		rc[n].status = status[n];
		n++;
	}
	return n;
}

static void
owed(struct queue *q, struct qmsg *m, enum dsn_action a)
{
	struct dsn_rcpt *rc = xcalloc(m->env.nrcpts, sizeof(*rc));
	char (*status)[16] = xcalloc(m->env.nrcpts, sizeof(*status));
	size_t n = collect(m, a, rc, status);

	if (n > 0) {
		if (m->env.sender[0] == '\0')
			log_info("%s queue dsn-suppressed reason=null-sender recipients=%zu",
				 m->id, n);
		else
			send_dsn(q, m, rc, n, a == DSN_FAILED);
	}
	free(rc);
	free(status);
}

void
bounce_owed(struct queue *q, struct qmsg *m)
{
	owed(q, m, DSN_FAILED);
	owed(q, m, DSN_RELAYED);
	owed(q, m, DSN_DELIVERED);
}

void
bounce_delay(struct queue *q, struct qmsg *m)
{
	uint32_t i;

	for (i = 0; i < m->env.nrcpts; i++)
		if (m->st.status[i] == RS_PENDING)
			m->notice[i] = DSN_DELAYED;
	owed(q, m, DSN_DELAYED);
	m->st.warned = 1;
	m->state_dirty = true;
}
