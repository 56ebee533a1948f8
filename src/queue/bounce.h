/* SPDX-License-Identifier: ISC */
/*
 * bounce - turn delivery results into DSNs and enqueue them.
 *
 * SECURITY: a DSN goes to the original envelope sender only, from the null
 * sender; mail from the null sender never gets one (no bounce loops).
 * STANDARDS: RFC 3461 section 5 (when to send what), RFC 3464, RFC 5321
 * 6.1 and 4.5.5 (null reverse-path).
 */
#ifndef POSTERN_BOUNCE_H
#define POSTERN_BOUNCE_H

#include "queue/queue.h"

/* bounce_owed - send the DSNs recorded in m->notice (failures, relayed,
 * delivered), then clear them. */
void bounce_owed(struct queue *q, struct qmsg *m);
/* bounce_delay - a "delayed" DSN for pending recipients that asked for
 * NOTIFY=DELAY; marks the message warned. */
void bounce_delay(struct queue *q, struct qmsg *m);

#endif
