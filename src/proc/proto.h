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
 *   auth   -> parent:       NOTICE (to, subject, body), GUARD_BAN, GUARD_UNBAN,
 *                           USER_NOTICE (kind, to, values by name)
 *   parent -> queue:        NOTICE, USER_NOTICE (passed on as they came);
 *                           NOTICES (the templates) before CONF on a reload
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
#include "mail/syntax.h"
#include "queue/notices.h"

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
	IMSG_USER_NOTICE,  /* auth -> parent -> queue: a notice from a template */
	IMSG_NOTICES,	   /* parent -> queue: the notice templates */
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

/* A user notice as it travels: the kind, the mailbox, the values. */
struct user_notice {
	enum notices_kind kind;
	char to[SMTP_PATH_MAX + 1];
	size_t nvars;
	char name[NOTICES_VARS_MAX][TEMPLATE_NAME_MAX + 1];
	char value[NOTICES_VARS_MAX][NOTICES_VALUE_MAX + 1];
	struct template_var vars[NOTICES_VARS_MAX]; /* pointing into name and value */
};

/* proto_add_user_notice - kind (its name, as notices_kind_name says), to
 * and vars; values longer than NOTICES_VALUE_MAX are cut. */
void proto_add_user_notice(struct ipc_out *out, const char *kind, const char *to,
			   const struct template_var *vars, size_t nvars);
/* proto_get_user_notice - read and check (a known kind, no more than
 * NOTICES_VARS_MAX values, each a placeholder of that kind); aborts on a
 * malformed message. */
void proto_get_user_notice(struct ipc_msg *m, struct user_notice *un);
/* proto_send_notices - every kind's template text and source. */
void proto_send_notices(struct ipc *ipc, const struct notices *ns);
/* proto_get_notices - the templates of a NOTICES message (the parent
 * checked them: one that does not parse is a bug). */
struct notices *proto_get_notices(struct ipc_msg *m);

/* proto_get_conf - the config of an IMSG_CONF message (file name and
 * text); the parent validated it, so a parse failure is a bug. */
struct conf *proto_get_conf(struct ipc_msg *m);

#endif
