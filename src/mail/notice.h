/* SPDX-License-Identifier: ISC */
/*
 * notice - the plain-text mails postern writes itself: security alerts to
 * the operator and notices to account owners (locked account, login from
 * a new address).
 *
 * SECURITY: pure. The texts are ours, but they quote account names and
 * addresses an attacker chose: header fields refuse CR and LF, the body
 * is normalised to CRLF lines and dot-stuffed (storage is wire form), and
 * the message is marked Auto-Submitted so that nothing answers it.
 * STANDARDS: RFC 5322 (format), RFC 3834 (Auto-Submitted), RFC 2045
 * (MIME text/plain, 8bit).
 */
#ifndef POSTERN_NOTICE_H
#define POSTERN_NOTICE_H

#include <time.h>

#include "lib/buf.h"

/* Longest subject and body a notice may have. */
#define NOTICE_SUBJECT_MAX 200
#define NOTICE_BODY_MAX (16 * 1024)

struct notice {
	const char *hostname; /* ours: the From domain and the Message-ID's */
	const char *to;	      /* the recipient's address */
	const char *subject;  /* one line */
	const char *body;     /* LF or CRLF lines, UTF-8 */
	time_t now;
	const char *id; /* unique token for the Message-ID (letters, digits) */
};

/* notice_compose - the message in wire form into out; -1 when a field is
 * unusable (CR or LF in a header, too long). */
int notice_compose(const struct notice *n, struct buf *out);

#endif
