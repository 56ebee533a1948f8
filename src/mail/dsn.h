/* SPDX-License-Identifier: ISC */
/*
 * dsn - delivery status notifications: the multipart/report message that
 * tells a sender what became of their mail.
 *
 * SECURITY: composes from our own records; every text that came from a
 * remote server was already reduced to printable ASCII by reply.c, and
 * addresses were validated at RCPT time. Output is wire form (CRLF,
 * dot-stuffed) so it can be spooled like received mail.
 * STANDARDS: RFC 3464 (message/delivery-status), RFC 3461 (RET, ENVID,
 * ORCPT), RFC 6522 (multipart/report), RFC 3463 (status codes), RFC 6533
 * (internationalized DSNs).
 */
#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

enum dsn_action { DSN_FAILED = 1, DSN_DELAYED, DSN_DELIVERED, DSN_RELAYED };

struct dsn_rcpt {
	const char *addr;	 /* final recipient */
	const char *orcpt;	 /* "type;xtext" or NULL */
	enum dsn_action action;
	const char *status;	 /* "5.1.1" */
	const char *diagnostic;	 /* "550 5.1.1 no such user" or NULL */
	const char *remote_mta;	 /* host name or address, or NULL */
};

struct dsn_info {
	const char *reporting_mta; /* our hostname */
	const char *from_domain;   /* for MAILER-DAEMON@ and the Message-ID */
	const char *to;		   /* the original sender */
	const char *queue_id;	   /* of the original message */
	const char *envid;	   /* xtext or NULL */
	time_t arrival;
	time_t now;
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
	int headers_only;	   /* RET=HDRS, or too large */
	int utf8;		   /* the message needed SMTPUTF8: RFC 6533 report */
	const char *content;	   /* the original message, wire form */
	size_t content_len;
};

/* dsn_compose - append the whole notification (headers and body, wire
 * form) to out. */
void dsn_compose(const struct dsn_info *d, struct buf *out);
/* dsn_status_from_reply - the enhanced status of an SMTP reply text
 * ("550 5.1.1 ...") or a default from its class; writes into out[16]. */
void dsn_status_from_reply(const char *reply, char out[16]);
/* dsn_header_end - length of the header section of wire-form content
 * (up to and including the empty line), or len if there is none. */
size_t dsn_header_end(const char *content, size_t len);

#endif
