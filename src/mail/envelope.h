/* SPDX-License-Identifier: ISC */
/*
 * envelope - what the SMTP dialogue says about a message: sender,
 * recipients with their DSN parameters, and where it came from.
 *
 * SECURITY: plain data. Filled by the smtp process from parsed commands and
 * by the queue from spool files; both sides validate before filling.
 */
#ifndef POSTERN_ENVELOPE_H
#define POSTERN_ENVELOPE_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/syntax.h"

#define QUEUE_ID_LEN 16
#define ENV_HELO_MAX 255
#define ENV_IP_MAX 64

struct env_rcpt {
	char addr[SMTP_PATH_MAX + 1];	  /* local@domain as received */
	char domain[SMTP_DOMAIN_MAX + 1]; /* lower-cased */
	unsigned notify;		  /* NOTIFY_* bits, 0 if not given */
	char orcpt[SMTP_ORCPT_MAX + 1];	  /* "type;xtext" or "" */
};

struct envelope {
	char id[QUEUE_ID_LEN + 1];
	uint64_t arrival;		 /* unix seconds */
	char sender[SMTP_PATH_MAX + 1];	 /* "" is the null sender */
	enum dsn_ret ret;
	char envid[SMTP_ENVID_MAX + 1];
	enum body_type body;
	bool smtputf8;
	char client_ip[ENV_IP_MAX];
	char helo[ENV_HELO_MAX + 1];
	char proto[16]; /* SMTP, ESMTP, ... (RFC 3848) */
	bool submission; /* came in on a submission listener */
	bool originated; /* sent by an authenticated user or a trusted network:
			  * our own mail, DKIM-signed for our domains */
	struct env_rcpt *rcpts;
	uint32_t nrcpts;
};

/* envelope_clear - free the recipients and zero the envelope. */
void envelope_clear(struct envelope *env);
/* envelope_add_rcpt - append a copy of r. */
void envelope_add_rcpt(struct envelope *env, const struct env_rcpt *r);

#endif
