/* SPDX-License-Identifier: ISC */
/*
 * notice - the plain-text mails postern writes itself: security alerts to
 * the operator and notices to account owners (locked account, login from
 * a new address).
 *
 * SECURITY: pure. The texts are ours or the operator's, but they quote
 * account names and addresses an attacker chose: header fields refuse CR
 * and LF, a subject that is not plain ASCII (or that holds "=?", which a
 * mail reader would decode) is sent as RFC 2047 encoded words, the body
 * is normalised to CRLF lines of at most NOTICE_LINE_MAX bytes (longer
 * ones are folded at a space, or cut at a character boundary) and
 * dot-stuffed (storage is wire form), and the message is marked
 * Auto-Submitted so that nothing answers it.
 * STANDARDS: RFC 5322 (format, 2.1.1 line length), RFC 2047 (encoded
 * words in the subject), RFC 3834 (Auto-Submitted), RFC 2045 (MIME
 * text/plain, 8bit).
 */
#ifndef POSTERN_NOTICE_H
#define POSTERN_NOTICE_H

#include <time.h>

#include "lib/buf.h"

/* Longest subject and body a notice may have. */
#define NOTICE_SUBJECT_MAX 200
#define NOTICE_BODY_MAX (16 * 1024)
/* Longest body line written; a longer one is folded (RFC 5322 allows 998). */
#define NOTICE_LINE_MAX 900

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
