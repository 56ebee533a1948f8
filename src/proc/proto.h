/* SPDX-License-Identifier: ISC */
/*
 * proto - the messages postern's processes exchange, and the envelope
 * codec they share.
 *
 *   parent -> smtp, queue:  CONF (file name, text), STOP
 *   parent -> smtp:         TLS_CERT (path, cert, key) ... before CONF;
 *                           LISTENER (fd, index) ... LISTENERS_DONE
 *   smtp   -> queue:        MSG_OPEN, MSG_COMMIT, MSG_ABORT
 *   queue  -> smtp:         MSG_OPEN_OK (fd), MSG_OPEN_FAIL, MSG_COMMIT_OK,
 *                           MSG_COMMIT_FAIL
 *   smtp   -> auth:         AUTH_BEGIN, AUTH_STEP (secret), AUTH_CANCEL
 *   auth   -> smtp:         AUTH_ANSWER, GUARD_BAN (net, until, reason),
 *                           GUARD_UNBAN (net)
 *   smtp   -> auth:         GUARD_ABUSE (ip, check, weight)
 *   auth   -> parent:       NOTICE (to, subject, body), GUARD_BAN, GUARD_UNBAN
 *   parent -> queue:        NOTICE (passed on as it came)
 *   auth, queue -> smtp:    METRICS (a registry snapshot, once a second)
 *   smtp, queue, auth -> parent: READY (up; again after each CONF applied,
 *                           the smtp process once its new listeners serve),
 *                           STOPPED
 *
 * SECURITY: the smtp process handles network input and may be hostile to
 * the queue: proto_get_envelope() validates every field again.
 */
#ifndef POSTERN_PROTO_H
#define POSTERN_PROTO_H

#include "conf/conf.h"
#include "lib/ipc.h"
#include "mail/envelope.h"

enum imsg_type {
	IMSG_CONF = 1,
	IMSG_STOP,
	IMSG_STOPPED,
	IMSG_LISTENER,
	IMSG_LISTENERS_DONE,
	IMSG_MSG_OPEN,
	IMSG_MSG_OPEN_OK,
	IMSG_MSG_OPEN_FAIL,
	IMSG_MSG_COMMIT,
	IMSG_MSG_COMMIT_OK,
	IMSG_MSG_COMMIT_FAIL,
	IMSG_MSG_ABORT,
	IMSG_TLS_CERT,
	IMSG_AUTH_BEGIN,
	IMSG_AUTH_STEP,
	IMSG_AUTH_CANCEL,
	IMSG_AUTH_ANSWER,
	IMSG_GUARD_BAN,
	IMSG_GUARD_UNBAN,
	IMSG_GUARD_ABUSE,
	IMSG_NOTICE,
	IMSG_METRICS,
	IMSG_DMARC_EVAL, /* smtp -> queue: one evaluation for the reports */
	IMSG_ADMIN_RUN,	   /* smtp -> queue: an admin API request with its token */
	IMSG_ADMIN_RESULT, /* queue -> smtp: its HTTP status and JSON body (an fd) */
	IMSG_ADMIN_LOGOUT, /* smtp -> queue: a token to end now */
	IMSG_READY,	   /* a child -> parent: up, or running the config just sent */
};

void proto_add_envelope(struct ipc_out *out, const struct envelope *env);
/* proto_get_envelope - read and validate; aborts on a malformed message.
 * Free env->rcpts with envelope_clear(). */
void proto_get_envelope(struct ipc_msg *m, struct envelope *env, uint32_t max_rcpts);

struct dmarc_eval;
void proto_add_dmarc_eval(struct ipc_out *out, const struct dmarc_eval *e);
/* proto_get_dmarc_eval - read and check (strings terminated, enums and
 * counts in range); aborts on a malformed message. */
void proto_get_dmarc_eval(struct ipc_msg *m, struct dmarc_eval *e);

struct metrics;
/* proto_send_metrics - a snapshot of m to the process serving /metrics. */
void proto_send_metrics(struct ipc *ipc, const struct metrics *m);

struct tls_pem;
/* proto_add_cert - a certificate and its key (the key is secret: the
 * message buffer is wiped after sending). */
void proto_send_cert(struct ipc *ipc, const struct tls_pem *p);
/* proto_get_cert - into p (allocated; free with tls_certs_free). */
void proto_get_cert(struct ipc_msg *m, struct tls_pem *p);

/* proto_send_ready - tell the parent this process serves (at start, and
 * once it runs a config the parent sent). */
void proto_send_ready(struct ipc *parent);

/* proto_get_conf - the config of an IMSG_CONF message (file name and
 * text); the parent validated it, so a parse failure is a bug. */
struct conf *proto_get_conf(struct ipc_msg *m);

#endif
