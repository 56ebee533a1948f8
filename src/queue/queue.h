/* SPDX-License-Identifier: ISC */
/*
 * queue - the queue process's store of messages: creating spool files for
 * the smtp process, committing them durably, recovering them at start,
 * injecting our own messages (bounces), and the operator's view of them.
 *
 * Layout under state_dir/spool:
 *   incoming/ID  a message being received (never delivered; removed at start)
 *   queue/ID     a committed message (see spool.h)
 *   queue/ID.st  its delivery state, when it has any
 *   corrupt/ID   files that failed to parse, set aside for the operator
 *
 * SECURITY: runs unprivileged in the queue process. Requests come from the
 * smtp process (possibly compromised): ids are checked against the ones we
 * issued, and a session can only commit or abort files it was given.
 * STANDARDS: durability as in STYLE.md; RFC 5321 4.5.4 (retry strategy),
 * 6.1 (reliable delivery).
 */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/map.h"
#include "mail/envelope.h"
#include "queue/spool.h"

struct event_base;
struct event;
struct committer;
struct sched;
struct dns;
struct tls_client;
struct dmarcrep;
struct dkimsign;

struct qmsg {
	TAILQ_ENTRY(qmsg) entry;
	struct queue *q;
	char id[QUEUE_ID_LEN + 1];
	struct envelope env;
	struct spool_state st;
	uint64_t body_off;
	uint64_t body_len;
	uint64_t prepend_off; /* header lines sent before the body (trailer) */
	uint64_t prepend_len;
	char *quarantine;  /* why it was quarantined at arrival, or NULL */
	uint32_t jobs;	   /* deliveries in progress */
	bool deleted;	   /* remove when the jobs finish */
	bool state_dirty;  /* st differs from the file */
	bool has_state_file; /* ID.st exists */
	uint8_t *notice;   /* per recipient: a DSN owed this round (DSN_*), or 0 */
	struct event *ev_retry;
};

TAILQ_HEAD(qmsg_list, qmsg);

/* An incoming message: opened for a session, not yet committed. */
struct qincoming;

struct queue {
	struct event_base *base;
	struct conf *cf;
	char spool[PATH_MAX];
	char dir_incoming[PATH_MAX];
	char dir_queue[PATH_MAX];
	char dir_corrupt[PATH_MAX];
	struct committer *committer;
	struct filepool *pool;
	struct qmsg_list msgs;
	struct map *by_id;	 /* id -> qmsg */
	struct map *incoming;	 /* id -> qincoming */
	struct sched *sched;
	struct dns *dns;
	struct tls_client *tlsc; /* outbound TLS context */
	struct dmarcrep *reports; /* DMARC aggregate reports, or NULL */
	struct dkimsign *keys;	 /* DKIM signing keys (shared with commits in progress) */
	bool stopping;
	uint64_t nmsgs;
	uint64_t sent, deferred, bounced; /* recipient results, for metrics */
};

typedef void (*queue_commit_cb)(void *arg, const char *id, int err);

/* queue_init - create the directories, recover committed messages. */
int queue_init(struct queue *q, struct event_base *base, struct conf *cf);
/* queue_start - schedule the recovered messages. */
void queue_start(struct queue *q);
void queue_set_conf(struct queue *q, struct conf *cf);
/* queue_open - a new spool file for env. Returns an fd positioned where the
 * content goes (dup'ed for the caller) and the queue id, or -1. */
int queue_open(struct queue *q, const struct envelope *env, char id[QUEUE_ID_LEN + 1],
	       int *err);
/* What the committer adds once the whole message is known. */
struct queue_commit_opts {
	const char *prepend; /* header lines to send before the message, or NULL */
	size_t prepend_len;  /* valid_spool_prepend() holds */
	const char *quarantine; /* hold it for the operator, with this reason */
};

/* queue_commit - end and durably commit an opened file; cb is called on the
 * loop with err 0 when the message is safe. size is what the writer says it
 * wrote, checked against the file. opts may be NULL; it is copied. */
void queue_commit(struct queue *q, const char *id, uint64_t size,
		  const struct queue_commit_opts *opts, queue_commit_cb cb, void *arg);
/* queue_abort - discard an opened file. */
void queue_abort(struct queue *q, const char *id);
/* queue_inject - enqueue a message we compose (a DSN): env and wire-form
 * content; committed like any other. */
int queue_inject(struct queue *q, struct envelope *env, const struct buf *content);
/* queue_schedule - (re)consider msg for delivery now or at its next try. */
void queue_schedule(struct queue *q, struct qmsg *m);
/* queue_delivery_done - a delivery job of m finished. */
void queue_delivery_done(struct queue *q, struct qmsg *m);
/* queue_find - by id. */
struct qmsg *queue_find(struct queue *q, const char *id);
/* queue_msg_path - the queue file path of id. */
void queue_msg_path(const struct queue *q, const char *id, char *out, size_t outsz);
/* queue_set_rcpt - record one recipient's result ("250 ..." text etc). */
void queue_set_rcpt(struct qmsg *m, uint32_t idx, enum rcpt_status st, const char *text);
/* queue_ctl - run one control command ("list", "show ID", ...), reply in
 * out; returns 0 or -1 (out then holds the error). */
int queue_ctl(struct queue *q, char **argv, int argc, struct buf *out);
/* queue_state_word - the state of message id for audit records: "absent",
 * "deleted", "quarantined", "held" or "queued". */
const char *queue_state_word(struct queue *q, const char *id);
void queue_stop(struct queue *q);
void queue_free(struct queue *q);

#endif
