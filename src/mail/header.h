/* SPDX-License-Identifier: ISC */
/*
 * header - header fields postern writes: Received (trace), Date and
 * Message-ID for submissions, and the RFC 5322 date format.
 *
 * SECURITY: values from the client (HELO name, addresses) are reduced to a
 * safe character set before they go into a header, so nothing a client
 * sends can start a new header line.
 * STANDARDS: RFC 5321 4.4 (trace information), RFC 5322 3.3 and 3.6,
 * RFC 3848 (protocol types), RFC 6409 section 8.
 */
#ifndef POSTERN_HEADER_H
#define POSTERN_HEADER_H

#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

struct received_info {
	const char *helo;      /* as sent by the client */
	const char *client_ip; /* printable address */
	const char *hostname;  /* ours */
	const char *proto;     /* "ESMTP", "SMTP", ... */
	const char *queue_id;
	const char *rcpt; /* the single recipient, or NULL */
	const char *tls;  /* "version=... cipher=..." or NULL */
	time_t when;
};

/* header_date - RFC 5322 date-time of t in UTC ("Sat, 28 Nov 2026 01:41:14 +0000"). */
void header_date(time_t t, char *out, size_t outsz);
/* header_received - append a folded Received field with CRLF. */
void header_received(const struct received_info *ri, struct buf *out);
/* header_sanitize - copy at most n bytes of s keeping only characters safe
 * inside a header comment; others become '?'. */
void header_sanitize(const char *s, char *out, size_t outsz);

#endif
