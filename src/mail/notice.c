/* SPDX-License-Identifier: ISC */
/*
 * notice - plain-text mails from postern itself (see notice.h).
 */
#include "mail/notice.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/util.h"
#include "mail/header.h"

/* Bytes of subject text per RFC 2047 encoded word: base64 of 45 bytes is
 * 60 characters, 72 with "=?utf-8?b?" and "?=" (an encoded word is at most
 * 75, RFC 2047 2). */
#define NOTICE_WORD_BYTES 45

static int
one_line(const char *s, size_t max)
{
	return s != NULL && strlen(s) <= max && strpbrk(s, "\r\n") == NULL ? 0 : -1;
}

/* fold_at - where to end a line of n bytes at p that is too long: after
 * the last space within NOTICE_LINE_MAX bytes, else at the last character
 * boundary there (never 0). */
static size_t
fold_at(const char *p, size_t n)
{
	size_t i = 0, k, space = 0;
	uint32_t cp;

	while (i < n && i < NOTICE_LINE_MAX) {
		k = utf8_next(p + i, n - i, &cp);
		if (k == 0)
			k = 1;
		if (i + k > NOTICE_LINE_MAX)
			break;
		i += k;
		if (p[i - 1] == ' ')
			space = i;
	}
	return space > 0 ? space : i > 0 ? i : 1;
}

/* body - each line ended with CRLF, folded to NOTICE_LINE_MAX, a leading
 * dot doubled. */
static void
body(const char *text, struct buf *out)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, "\r\n"), take;

		do {
			take = n > NOTICE_LINE_MAX ? fold_at(p, n) : n;
			if (p[0] == '.')
				buf_addc(out, '.');
			buf_add(out, p, take);
			buf_adds(out, "\r\n");
			p += take;
			n -= take;
		} while (n > 0);
		if (*p == '\r')
			p++;
		if (*p == '\n')
			p++;
	}
}

/* plain_subject - can s go into the header as it is? */
static bool
plain_subject(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80 || (s[0] == '=' && s[1] == '?'))
			return false;
	return true;
}

/* subject - "Subject: s\r\n", as encoded words folded onto continuation
 * lines when s is not plain (each word holds whole characters). */
static void
subject(const char *s, struct buf *out)
{
	char b64[sodium_base64_ENCODED_LEN(NOTICE_WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	size_t len = strlen(s), i = 0, n, k;
	uint32_t cp;

	if (plain_subject(s)) {
		buf_addf(out, "Subject: %s\r\n", s);
		return;
	}
	buf_adds(out, "Subject:");
	while (i < len) {
		for (n = 0; i + n < len; n += k) {
			k = utf8_next(s + i + n, len - i - n, &cp);
			if (k == 0)
				k = 1;
			if (n + k > NOTICE_WORD_BYTES)
				break;
		}
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)s + i, n,
				  sodium_base64_VARIANT_ORIGINAL);
		buf_addf(out, "%s=?utf-8?b?%s?=", i == 0 ? " " : "\r\n ", b64);
		i += n;
	}
	buf_adds(out, "\r\n");
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
	subject(n->subject, out);
	buf_addf(out, "Message-ID: <%s.notice@%s>\r\n", n->id, n->hostname);
	buf_adds(out, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: 8bit\r\n\r\n");
	body(n->body, out);
	return 0;
}
