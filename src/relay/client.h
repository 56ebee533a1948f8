/* SPDX-License-Identifier: ISC */
/*
 * client - the outbound SMTP and LMTP client: connect, greeting, EHLO/LHLO,
 * then transactions (MAIL, RCPT, DATA with the spool body) on request,
 * pipelined when the server offers PIPELINING.
 *
 * SECURITY: the server is untrusted (CVE-2020-8794 class): replies go
 * through the bounded parser in mail/reply.c, every wait has a timeout,
 * and nothing the server says reaches logs or queue files unsanitized.
 * STANDARDS: RFC 5321 (client side), RFC 2033 (LMTP), RFC 2920, RFC 1870,
 * RFC 6152, RFC 6531, RFC 3461 (passing DSN parameters on), RFC 3207
 * (STARTTLS, with policy none/may/encrypt/verify; RFC 6125 name checks).
 */
#ifndef POSTERN_CLIENT_H
#define POSTERN_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "mail/reply.h"
#include "conf/conf.h"
#include "mail/syntax.h"

struct event_base;
struct client;

struct client_rcpt {
	const char *addr;
	unsigned notify;   /* NOTIFY_* or 0 */
	const char *orcpt; /* "" when none */
};

struct client_tx {
	const char *sender; /* "" for <> */
	enum dsn_ret ret;
	const char *envid;
	bool body8;	/* BODY=8BITMIME */
	bool smtputf8;
	const struct client_rcpt *rcpts;
	uint32_t nrcpts;
	int body_fd; /* borrowed; the client dups it */
	off_t body_off;
	uint64_t body_len;
	off_t prepend_off; /* header lines sent before the body, in the same file */
	uint64_t prepend_len;
};

struct client_ops {
	/* The server greeted us and accepted EHLO/LHLO: the client is idle. */
	void (*ready)(void *arg, struct client *c);
	/* A transaction ended: result[i] is the outcome for recipient i. The
	 * client is idle again afterwards (or dead if it then fails). */
	void (*done)(void *arg, struct client *c, const struct smtp_reply *result);
	/* The connection failed or closed; the client is freed after this. */
	void (*failed)(void *arg, struct client *c, const char *why);
};

struct tls_client;

struct client_conf {
	const char *helo;	/* our host name */
	const char *peer_name;	/* for logs: host name of the server */
	bool lmtp;
	enum tls_policy tls;	/* conf.h: may, none, encrypt, verify */
	struct tls_client *tlsc; /* NULL: no TLS at all */
	const char *tls_name;	/* SNI and the name the certificate must carry */
	bool lmtp_unix;		/* a local socket: no TLS */
	uint64_t connect_timeout;
	uint64_t reply_timeout;
};

/* client_connect - start connecting to addr (or, with addr NULL, to the
 * unix socket path). Never calls back before returning. */
struct client *client_connect(struct event_base *base, const struct sockaddr *addr,
			      socklen_t len, const char *path, const struct client_conf *cc,
			      const struct client_ops *ops, void *arg);
/* client_start - run one transaction on an idle client. tx must stay valid
 * until done() or failed(). */
void client_start(struct client *c, const struct client_tx *tx);
/* client_quit - QUIT politely and free; no more callbacks. */
void client_quit(struct client *c);
/* client_free - drop the connection now; no more callbacks. */
void client_free(struct client *c);
unsigned client_ext(const struct client *c);
/* client_tls - "TLSv1.3 with cipher ..." once TLS is up, else NULL. */
const char *client_tls(const struct client *c);
/* client_peer - "host[ip]:port" for logs. */
const char *client_peer(const struct client *c);
void client_set_arg(struct client *c, void *arg);

#endif
