/* SPDX-License-Identifier: ISC */
/*
 * sched - delivery scheduling: recipients grouped by next hop into jobs,
 * jobs run on outbound connections with per-destination and global
 * concurrency limits, connections reused while work is waiting.
 *
 * Next hops: a recipient in a configured domain goes to that domain's
 * `deliver`; anything else (accepted from trusted networks) goes to the
 * smarthost, or by MX lookup when there is none.
 *
 * SECURITY: queue process. Results from remote servers are applied per
 * recipient; a 5xx bounces, a 4xx or any connection trouble defers.
 * STANDARDS: RFC 5321 5.1 (MX selection, implicit MX), RFC 7505 (null MX),
 * RFC 5321 4.5.4 (retries), RFC 3461 (relayed/delivered notices).
 */
#ifndef POSTERN_SCHED_H
#define POSTERN_SCHED_H

struct queue;
struct qmsg;
struct sched;

struct sched *sched_new(struct queue *q);
/* sched_message - start delivery of m's pending recipients. */
void sched_message(struct sched *s, struct qmsg *m);
/* sched_set_conf - limits may have changed (reload). */
void sched_set_conf(struct sched *s);
/* sched_stop - close idle connections, abandon active ones (their
 * messages stay queued and are retried after restart). */
void sched_stop(struct sched *s);
void sched_free(struct sched *s);
/* sched_active - deliveries in progress, for status output. */
unsigned sched_active(const struct sched *s);

#endif
