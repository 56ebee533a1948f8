/* SPDX-License-Identifier: ISC */
/*
 * dsn - RFC 3464 delivery status notifications.
 *
 * SECURITY: see dsn.h. The boundary is derived from the queue id and time
 * and checked against the content so it cannot collide.
 */
#include "mail/dsn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mail/header.h"

static const char *
action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED:
		return "failed";
	case DSN_DELAYED:
		return "delayed";
	case DSN_DELIVERED:
		return "delivered";
	case DSN_RELAYED:
		return "relayed";
	}
	return "failed";
}

/* digits - the number of decimal digits at p, at most max. */
static size_t
digits(const char *p, size_t max)
{
	size_t n = 0;

	while (n < max && isdigit((unsigned char)p[n]))
		n++;
	return n;
}

static bool
is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

void
dsn_status_from_reply(const char *reply, char out[16])
{
	const char *p = reply;
	int cls = reply[0] - '0';
	size_t n, subject, detail;

	/* "ddd x.y.z ..." where x matches the reply class (2, 4 or 5) and y and
	 * z have 1 to 3 digits (RFC 3463 section 2) */
	if ((cls == 2 || cls == 4 || cls == 5) && strlen(reply) > 4 &&
	    (reply[3] == ' ' || reply[3] == '-')) {
		p = reply + 4;
		if (p[0] - '0' == cls && p[1] == '.') {
			subject = digits(p + 2, 3);
			detail = subject > 0 && p[2 + subject] == '.' ? digits(p + 3 + subject, 3) : 0;
			n = 3 + subject + detail;
			if (detail > 0 && (p[n] == ' ' || p[n] == '\0')) {
				memcpy(out, p, n);
				out[n] = '\0';
				return;
			}
		}
	}
	snprintf(out, 16, "%d.0.0", cls == 2 || cls == 4 || cls == 5 ? cls : 5);
}

size_t
dsn_header_end(const char *content, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(content + i, '\n', len - i);
		size_t next;

		if (nl == NULL)
			return len;
		next = (size_t)(nl - content) + 1;
		if (next - i <= 2) /* an empty line: "\r\n" */
			return next;
		i = next;
	}
	return len;
}

static void
human_part(const struct dsn_info *d, struct buf *out)
{
	size_t i;
	int failed = 0, delayed = 0;

	for (i = 0; i < d->nrcpts; i++) {
		failed += d->rcpts[i].action == DSN_FAILED;
		delayed += d->rcpts[i].action == DSN_DELAYED;
	}
	buf_addf(out, "This is the mail system at host %s.\r\n\r\n", d->reporting_mta);
	if (failed)
		buf_adds(out, "Your message could not be delivered to one or more recipients.\r\n"
			      "It is attached below.\r\n\r\n");
	else if (delayed)
		buf_adds(out, "Your message has not been delivered yet to one or more\r\n"
			      "recipients. Delivery will be retried; you do not need to\r\n"
			      "send it again.\r\n\r\n");
	else
		buf_adds(out, "Your message was delivered to the recipients listed below\r\n"
			      "(you asked to be told).\r\n\r\n");
	for (i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];

		buf_addf(out, "<%s>: %s", r->addr, action_name(r->action));
		if (r->diagnostic)
			buf_addf(out, "\r\n    %s", r->diagnostic);
		buf_adds(out, "\r\n");
	}
}

static void
status_part(const struct dsn_info *d, struct buf *out)
{
	char date[64];
	size_t i;

	buf_addf(out, "Reporting-MTA: dns; %s\r\n", d->reporting_mta);
	if (d->envid && d->envid[0])
		buf_addf(out, "Original-Envelope-Id: %s\r\n", d->envid);
	buf_addf(out, "X-Postern-Queue-ID: %s\r\n", d->queue_id);
	header_date(d->arrival, date, sizeof(date));
	buf_addf(out, "Arrival-Date: %s\r\n", date);
	header_date(d->now, date, sizeof(date));
	for (i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];

		buf_adds(out, "\r\n");
		if (r->orcpt && r->orcpt[0])
			buf_addf(out, "Original-Recipient: %s\r\n", r->orcpt);
		/* RFC 6533 3: a non-ASCII address is of type utf-8 */
		buf_addf(out, "Final-Recipient: %s; %s\r\n", is_ascii(r->addr) ? "rfc822" : "utf-8",
			 r->addr);
		buf_addf(out, "Action: %s\r\nStatus: %s\r\n", action_name(r->action), r->status);
		if (r->remote_mta)
			buf_addf(out, "Remote-MTA: dns; %s\r\n", r->remote_mta);
		if (r->diagnostic)
			buf_addf(out, "Diagnostic-Code: smtp; %s\r\n", r->diagnostic);
		if (r->action == DSN_FAILED || r->action == DSN_DELAYED)
			buf_addf(out, "Last-Attempt-Date: %s\r\n", date);
	}
}

void
dsn_compose(const struct dsn_info *d, struct buf *out)
{
	char date[64], boundary[80];
	size_t i, hdr_len, failed = 0, delayed = 0;
	int salt = 0;
	const char *subject;

	for (i = 0; i < d->nrcpts; i++) {
		failed += d->rcpts[i].action == DSN_FAILED;
		delayed += d->rcpts[i].action == DSN_DELAYED;
	}
	subject = failed ? "Undelivered Mail Returned to Sender"
			 : delayed ? "Delayed Mail (still being retried)"
				   : "Successful Mail Delivery Report";
	do {
		snprintf(boundary, sizeof(boundary), "%s.%lld.%d/%s", d->queue_id,
			 (long long)d->now, salt++, d->reporting_mta);
	} while (d->content && memmem(d->content, d->content_len, boundary, strlen(boundary)));
	header_date(d->now, date, sizeof(date));
	buf_addf(out, "Date: %s\r\n", date);
	buf_addf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", d->from_domain);
	buf_addf(out, "To: <%s>\r\n", d->to);
	buf_addf(out, "Subject: %s\r\n", subject);
	buf_addf(out, "Message-ID: <%s.%lld.dsn@%s>\r\n", d->queue_id, (long long)d->now,
		 d->from_domain);
	buf_adds(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	/* RFC 6533: a message that needed SMTPUTF8 gets a "global" report,
	 * whose status and returned parts may hold UTF-8. */
	buf_addf(out,
		 "Content-Type: multipart/report; report-type=%sdelivery-status;\r\n"
		 "\tboundary=\"%s\"\r\n\r\n",
		 d->utf8 ? "global-" : "", boundary);
	buf_adds(out, "This is a MIME-encapsulated message.\r\n\r\n");
	buf_addf(out, "--%s\r\nContent-Description: Notification\r\n"
		      "Content-Type: text/plain; charset=%s\r\n\r\n", boundary,
		 d->utf8 ? "utf-8" : "us-ascii");
	human_part(d, out);
	buf_addf(out, "\r\n--%s\r\nContent-Description: Delivery report\r\n"
		      "Content-Type: message/%sdelivery-status\r\n\r\n", boundary,
		 d->utf8 ? "global-" : "");
	status_part(d, out);
	if (d->content != NULL) {
		hdr_len = d->headers_only ? dsn_header_end(d->content, d->content_len)
					  : d->content_len;
		buf_addf(out, "\r\n--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n\r\n",
			 boundary, d->headers_only ? "Undelivered Message Headers"
						   : "Undelivered Message",
			 d->headers_only ? (d->utf8 ? "message/global-headers" : "text/rfc822-headers")
					 : (d->utf8 ? "message/global" : "message/rfc822"));
		buf_add(out, d->content, hdr_len);
		if (hdr_len > 0 && d->content[hdr_len - 1] != '\n')
			buf_adds(out, "\r\n");
	}
	buf_addf(out, "\r\n--%s--\r\n", boundary);
}
