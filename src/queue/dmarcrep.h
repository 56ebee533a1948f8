/* SPDX-License-Identifier: ISC */
/*
 * dmarcrep - DMARC aggregate reports in the queue process: the smtp
 * process sends one struct dmarc_eval per evaluated From domain whose
 * policy asks for reports (rua=); they are counted in STATE_DIR/dmarc.db;
 * once a day (shortly after midnight UTC, plus a random delay) the previous
 * day becomes one report per policy domain, mailed through our own queue to
 * its rua= addresses. A report address on another organizational domain
 * gets it only if that domain agrees (RFC 7489 7.1), checked in DNS.
 *
 * Configured by mailauth { dmarc_report_from ADDRESS } (off without it).
 * `postern dmarc report` sends what is recorded now, without waiting.
 *
 * SECURITY: runs in the unprivileged queue process; evaluations came from
 * the smtp process but their strings from hostile mail: a malformed one is
 * logged and dropped (dmarc_store_add checks it), never trusted. A failing
 * store is logged and mail flow goes on. Report mail uses the null sender,
 * so it can never bounce into a loop.
 * STANDARDS: RFC 7489 7.1, 7.2.
 */
#ifndef POSTERN_DMARCREP_H
#define POSTERN_DMARCREP_H

#include <stdint.h>

#include "lib/buf.h"
#include "mailauth/dmarc_report.h"

struct queue;
struct dmarcrep;

/* dmarcrep_new - reports for the queue q per its config, or NULL when
 * they are not configured (or the store cannot be opened: logged). */
struct dmarcrep *dmarcrep_new(struct queue *q);
void dmarcrep_free(struct dmarcrep *r);
/* dmarcrep_add - count one evaluation. */
void dmarcrep_add(struct dmarcrep *r, const struct dmarc_eval *e);
/* dmarcrep_ctl - `dmarc report`: report [begin of yesterday, the end of
 * this hour) now; a line for the operator in out. 0 or -1. */
int dmarcrep_ctl(struct dmarcrep *r, char **argv, int argc, struct buf *out);

#endif
