/* SPDX-License-Identifier: ISC */
/*
 * notice - plain-text mails from postern itself (see notice.h).
 */
#include "mail/notice.h"

#include <string.h>

#include "mail/header.h"

static int
one_line(const char *s, size_t max)
{
	return s != NULL && strlen(s) <= max && strpbrk(s, "\r\n") == NULL ? 0 : -1;
}

/* body - each line ended with CRLF, a leading dot doubled. */
static void
body(const char *text, struct buf *out)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, "\r\n");

		if (p[0] == '.')
			buf_addc(out, '.');
		buf_add(out, p, n);
		buf_adds(out, "\r\n");
		p += n;
		if (*p == '\r')
			p++;
		if (*p == '\n')
			p++;
	}
}

int
notice_compose(const struct notice *n, struct buf *out)
{
	char date[64];

	if (one_line(n->hostname, 255) == -1 || one_line(n->to, 320) == -1 ||
	    one_line(n->subject, NOTICE_SUBJECT_MAX) == -1 || one_line(n->id, 64) == -1 ||
	    n->body == NULL || strlen(n->body) > NOTICE_BODY_MAX || strchr(n->to, '>') != NULL)
		return -1;
	header_date(n->now, date, sizeof(date));
	buf_addf(out, "Date: %s\r\n", date);
	buf_addf(out, "From: \"postern at %s\" <postmaster@%s>\r\n", n->hostname, n->hostname);
	buf_addf(out, "To: <%s>\r\n", n->to);
	buf_addf(out, "Subject: %s\r\n", n->subject);
	buf_addf(out, "Message-ID: <%s.notice@%s>\r\n", n->id, n->hostname);
	buf_adds(out, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: 8bit\r\n\r\n");
	body(n->body, out);
	return 0;
}
