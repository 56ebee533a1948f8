/* SPDX-License-Identifier: ISC */
/*
 * header - writers for the header fields postern adds.
 *
 * SECURITY: every client-supplied value passes header_sanitize().
 */
#include "mail/header.h"

#include <stdio.h>
#include <string.h>

void
header_date(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outsz, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

void
header_sanitize(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz == 0)
		return;
	for (; *s && o + 1 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\' && c != ';')
			out[o++] = (char)c;
		else if (c >= 0x80)
			out[o++] = (char)c; /* UTF-8 is allowed with SMTPUTF8 */
		else
			out[o++] = '?';
	}
	out[o] = '\0';
}

void
header_received(const struct received_info *ri, struct buf *out)
{
	char helo[256], rcpt[300], date[64];

	header_sanitize(ri->helo ? ri->helo : "unknown", helo, sizeof(helo));
	header_date(ri->when, date, sizeof(date));
	/* RFC 5321 4.1.3: an IPv6 address literal carries the IPv6: tag. */
	buf_addf(out, "Received: from %s ([%s%s])\r\n\tby %s (postern) with %s", helo,
		 strchr(ri->client_ip, ':') ? "IPv6:" : "", ri->client_ip, ri->hostname,
		 ri->proto);
	if (ri->tls != NULL)
		buf_addf(out, "\r\n\t(%s)", ri->tls);
	buf_addf(out, "\r\n\tid %s", ri->queue_id);
	if (ri->rcpt != NULL) {
		header_sanitize(ri->rcpt, rcpt, sizeof(rcpt));
		buf_addf(out, "\r\n\tfor <%s>", rcpt);
	}
	buf_addf(out, ";\r\n\t%s\r\n", date);
}
