/* SPDX-License-Identifier: ISC */
/*
 * reply - the SMTP client's reply reader: multi-line replies from a server
 * we deliver to, and the EHLO keywords in them.
 *
 * SECURITY: the server may be hostile (CVE-2020-8794 class). Lines and line
 * counts are bounded, every line must carry the same three-digit code, and
 * the text kept is reduced to printable ASCII so it can go into logs,
 * bounces and queue files without injecting anything.
 * STANDARDS: RFC 5321 4.2 (reply syntax), 4.5.3.1.5; RFC 2034 (enhanced
 * status codes); RFC 2920 and the EHLO keywords we act on.
 */
#ifndef POSTERN_REPLY_H
#define POSTERN_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define REPLY_LINE_MAX 1000 /* longer lines end the connection */
#define REPLY_LINES_MAX 100
#define REPLY_TEXT_MAX 512  /* kept of the text, first line and more */

#define EXT_PIPELINING 0x01
#define EXT_8BITMIME 0x02
#define EXT_SMTPUTF8 0x04
#define EXT_SIZE 0x08
#define EXT_DSN 0x10
#define EXT_STARTTLS 0x20
#define EXT_CHUNKING 0x40
#define EXT_ENHANCEDSTATUSCODES 0x80
#define EXT_AUTH 0x100 /* AUTH, or the pre-RFC 4954 "AUTH=" form */

struct smtp_reply {
	int code;	   /* 200..599 once complete */
	int nlines;
	bool done;
	unsigned ext;	   /* EXT_* seen in lines 2.. of an EHLO reply */
	unsigned long long size_limit; /* from SIZE n, 0 if none */
	char text[REPLY_TEXT_MAX + 1]; /* sanitized, lines joined by " / " */
};

void reply_init(struct smtp_reply *r);
/* reply_feed - one line (CRLF removed). Returns 1 when the reply is
 * complete, 0 when more lines follow, -1 when the line is malformed (the
 * connection must then be dropped). */
int reply_feed(struct smtp_reply *r, const char *line, size_t len);
/* reply_class - 2, 3, 4 or 5. */
int reply_class(const struct smtp_reply *r);

#endif
