/* SPDX-License-Identifier: ISC */
/*
 * reply - bounded parser for SMTP server replies.
 *
 * SECURITY: hostile server input; see reply.h. Nothing here allocates.
 */
#include "mail/reply.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

void
reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

int
reply_class(const struct smtp_reply *r)
{
	return r->code / 100;
}

static void
keep_text(struct smtp_reply *r, const char *p, size_t n)
{
	size_t have = strlen(r->text), i;

	if (r->nlines > 1 && have + 3 < REPLY_TEXT_MAX) {
		memcpy(r->text + have, " / ", 3);
		have += 3;
	}
	for (i = 0; i < n && have < REPLY_TEXT_MAX; i++) {
		unsigned char c = (unsigned char)p[i];

		r->text[have++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	r->text[have] = '\0';
}

static void
ehlo_keyword(struct smtp_reply *r, const char *p, size_t n)
{
	static const struct {
		const char *kw;
		unsigned bit;
	} kws[] = {
		{"PIPELINING", EXT_PIPELINING}, {"8BITMIME", EXT_8BITMIME},
		{"SMTPUTF8", EXT_SMTPUTF8},	{"SIZE", EXT_SIZE},
		{"DSN", EXT_DSN},		{"STARTTLS", EXT_STARTTLS},
		{"CHUNKING", EXT_CHUNKING},	{"ENHANCEDSTATUSCODES", EXT_ENHANCEDSTATUSCODES},
		{"AUTH", EXT_AUTH},
	};
	size_t klen = 0, i;

	while (klen < n && p[klen] != ' ')
		klen++;
	if (n >= 5 && strncasecmp(p, "AUTH=", 5) == 0)
		r->ext |= EXT_AUTH; /* what some servers sent before RFC 4954 */
	for (i = 0; i < nitems(kws); i++) {
		if (strlen(kws[i].kw) != klen || strncasecmp(kws[i].kw, p, klen) != 0)
			continue;
		r->ext |= kws[i].bit;
		if (kws[i].bit == EXT_SIZE && klen + 1 < n) {
			unsigned long long v = 0;
			size_t j;

			for (j = klen + 1; j < n && isdigit((unsigned char)p[j]) && v < 1ULL << 50;
			     j++)
				v = v * 10 + (unsigned)(p[j] - '0');
			r->size_limit = v;
		}
	}
}

int
reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	int code;

	if (r->done || len < 3 || len > REPLY_LINE_MAX || r->nlines >= REPLY_LINES_MAX)
		return -1;
	if (line[0] < '2' || line[0] > '5' || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return -1;
	r->code = code;
	r->nlines++;
	if (r->nlines > 1)
		ehlo_keyword(r, line + 4 > line + len ? line + len : line + 4,
			     len > 4 ? len - 4 : 0);
	keep_text(r, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0);
	if (len == 3 || line[3] == ' ') {
		r->done = true;
		return 1;
	}
	return 0;
}
