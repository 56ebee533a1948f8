/* SPDX-License-Identifier: ISC */
/*
 * fuzz_reply - the SMTP client's reply reader (src/mail/reply.c) on what a
 * hostile server could send: the input is split into lines at LF (a CR
 * before it is dropped, as evbuffer_readln does) and fed until the reader
 * says the reply is complete or malformed, then the next reply starts.
 * Checked: the kept text is printable ASCII within REPLY_TEXT_MAX, a
 * complete reply has a code 200..599 whose class reply_class returns, every
 * line of a reply carries that code, and nothing is accepted after the end.
 * The enhanced status derived from it (dsn_status_from_reply) is also run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dsn.h"
#include "mail/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const struct smtp_reply *r)
{
	size_t len = strnlen(r->text, sizeof(r->text));
	size_t i;

	if (len > REPLY_TEXT_MAX)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)r->text[i] < 0x20 || (unsigned char)r->text[i] >= 0x7f)
			abort();
}

static void
check_status(const struct smtp_reply *r)
{
	char line[REPLY_TEXT_MAX + 8], st[16];
	size_t len, i, dots = 0, seg = 0;

	memcpy(line, "000 ", 4);
	line[0] = (char)('0' + r->code / 100);
	line[1] = (char)('0' + r->code / 10 % 10);
	line[2] = (char)('0' + r->code % 10);
	memcpy(line + 4, r->text, strlen(r->text) + 1);
	memset(st, 'x', sizeof(st));
	dsn_status_from_reply(line, st);
	len = strnlen(st, sizeof(st));
	if (len >= sizeof(st) || len < 5)
		abort();
	/* class.subject.detail, digits only, the class of the reply (2, 4 or
	 * 5: RFC 3463 has no other), 1 to 3 digits each for subject and detail */
	if (st[0] != (strchr("245", line[0]) ? line[0] : '5') || st[1] != '.')
		abort();
	for (i = 0; i <= len; i++) {
		if (i == len || st[i] == '.') {
			if (seg == 0 || seg > 3 || (dots == 0 && seg != 1))
				abort();
			dots++;
			seg = 0;
		} else if (st[i] >= '0' && st[i] <= '9') {
			seg++;
		} else {
			abort();
		}
	}
	if (dots != 3)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	const char *p = (const char *)data, *end = p + size;

	if (size > 65536)
		return 0;
	reply_init(&r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *line;
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int rc, prev_code = r.code, prev_lines = r.nlines;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		line = p;
		rc = reply_feed(&r, line, len);
		p += (nl ? (size_t)(nl - p) + 1 : (size_t)(end - p));
		check_text(&r);
		if (r.nlines > REPLY_LINES_MAX)
			abort();
		if (rc == -1) {
			/* a refused line changes nothing that was kept */
			if (r.nlines != prev_lines || (prev_lines > 0 && r.code != prev_code))
				abort();
			reply_init(&r);
			continue;
		}
		if (rc != 0 && rc != 1)
			abort();
		if (r.code < 200 || r.code > 599 || reply_class(&r) != r.code / 100)
			abort();
		if (prev_lines > 0 && r.code != prev_code)
			abort();
		if (line[0] - '0' != r.code / 100 || line[1] - '0' != r.code / 10 % 10 ||
		    line[2] - '0' != r.code % 10)
			abort(); /* the code is the one on this line */
		if (rc == 1) {
			if (!r.done || reply_feed(&r, "250 again", 9) != -1)
				abort();
			check_status(&r);
			reply_init(&r);
		}
	}
	return 0;
}
