/* SPDX-License-Identifier: ISC */
/*
 * data - DATA/BDAT content reader: end-of-data detection, line endings,
 * dot-stuffing, size and line limits, header section tracking.
 *
 * SECURITY: untrusted network bytes; a byte-wise state machine with no
 * lookahead beyond its own state, so chunk boundaries anywhere give the
 * same result. Only CRLF "." CRLF ends DATA (RFC 5321 4.1.1.4).
 */
#include "mail/data.h"

#include <string.h>
#include <strings.h>

enum {
	S_BOL,	 /* at the start of a line */
	S_TEXT,	 /* inside a line */
	S_CR,	 /* inside a line, after a CR */
	S_DOT,	 /* DATA: a line that so far is "." */
	S_DOTCR, /* DATA: a line that so far is ".\r" */
};

void
data_init(struct data_reader *r, enum data_mode mode, bool normalize, uint64_t max_line,
	  uint64_t max_size)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->normalize = normalize;
	r->max_line = max_line;
	r->max_size = max_size;
	r->state = S_BOL;
	r->in_header = true;
	r->naming = true;
}

static void
emit(struct data_reader *r, struct buf *out, const char *p, size_t n)
{
	r->size += n;
	if (r->size > r->max_size)
		r->too_big = true;
	if (!r->too_big && !r->line_too_long)
		buf_add(out, p, n);
}

/* header_name_byte - feed one byte of a header line's start. */
static void
header_name_byte(struct data_reader *r, unsigned char c)
{
	if (!r->naming)
		return;
	if (c == ':') {
		while (r->namelen > 0 && (r->name[r->namelen - 1] == ' ' ||
					  r->name[r->namelen - 1] == '\t'))
			r->namelen--;
		if (r->namelen == 4 && strncasecmp(r->name, "date", 4) == 0)
			r->seen |= DATA_SEEN_DATE;
		if (r->namelen == 10 && strncasecmp(r->name, "message-id", 10) == 0)
			r->seen |= DATA_SEEN_MSGID;
		if (r->namelen == 4 && strncasecmp(r->name, "from", 4) == 0) {
			r->seen |= DATA_SEEN_FROM;
			r->nfrom++;
			r->in_from = true;
		}
		r->naming = false;
		return;
	}
	if (r->namelen >= sizeof(r->name)) {
		r->naming = false;
		return;
	}
	r->name[r->namelen++] = (char)c;
}

static void
line_start(struct data_reader *r)
{
	r->state = S_BOL;
	r->linelen = 0;
	r->namelen = 0;
	r->naming = r->in_header;
}

/* from_byte - keep a byte of the From: value. */
static void
from_byte(struct data_reader *r, char c)
{
	if (r->fromlen >= DATA_FROM_MAX) {
		r->from_too_long = true;
		return;
	}
	r->from[r->fromlen++] = c;
	r->from[r->fromlen] = '\0';
}

/* text_byte - one byte inside a line (not CR or LF). */
static void
text_byte(struct data_reader *r, struct buf *out, char c)
{
	if (r->in_header) {
		bool was_naming = r->naming;

		header_name_byte(r, (unsigned char)c);
		if (r->in_from && !was_naming && !r->naming)
			from_byte(r, c);
	}
	if ((unsigned char)c >= 0x80)
		r->eight_bit = true;
	if (++r->linelen > r->max_line)
		r->line_too_long = true;
	emit(r, out, &c, 1);
	r->state = S_TEXT;
}

/* text_run - the fast path: copy bytes up to the next CR or LF. */
static size_t
text_run(struct data_reader *r, struct buf *out, const char *in, size_t n)
{
	size_t i = 0;

	if (r->in_header)
		return 0;
	while (i < n && in[i] != '\r' && in[i] != '\n') {
		if ((unsigned char)in[i] >= 0x80)
			r->eight_bit = true;
		i++;
	}
	if (i == 0)
		return 0;
	r->linelen += i;
	if (r->linelen > r->max_line)
		r->line_too_long = true;
	emit(r, out, in, i);
	r->state = S_TEXT;
	return i;
}

enum data_status
data_feed(struct data_reader *r, const char *in, size_t n, struct buf *out, size_t *used)
{
	size_t i = 0;

	while (i < n) {
		char c = in[i];

		switch (r->state) {
		case S_BOL:
			if (r->in_header && (c == '\r' || c == '\n') && r->linelen == 0) {
				r->in_header = false;
				r->naming = false;
				*used = i;
				return DATA_HEADERS_DONE;
			}
			if (c == '.' && r->mode == DATA_MODE_DOT) {
				r->state = S_DOT;
				i++;
				continue;
			}
			if (c == '.' && r->mode == DATA_MODE_BDAT)
				emit(r, out, ".", 1); /* stuff it: storage is wire form */
			if (r->in_header && (c == ' ' || c == '\t'))
				r->naming = false; /* a continuation line */
			else if (r->in_header)
				r->in_from = false; /* a new field */
			/* FALLTHROUGH */
		case S_TEXT:
			if (c == '\r') {
				r->state = S_CR;
			} else if (c == '\n') {
				if (!r->normalize) {
					*used = i;
					return DATA_BARE_LF;
				}
				emit(r, out, "\r\n", 2);
				line_start(r);
				r->after_bare_lf = true;
			} else {
				size_t k = text_run(r, out, in + i, n - i);

				if (k > 0) {
					i += k;
					continue;
				}
				text_byte(r, out, c);
			}
			i++;
			continue;
		case S_CR:
			if (c != '\n') {
				*used = i;
				return DATA_BARE_CR;
			}
			emit(r, out, "\r\n", 2);
			line_start(r);
			r->after_bare_lf = false;
			i++;
			continue;
		case S_DOT:
			if (c == '\r') {
				r->state = S_DOTCR;
				i++;
				continue;
			}
			if (c == '\n') {
				if (!r->normalize) {
					*used = i;
					return DATA_BARE_LF;
				}
				/* ".\n" is not the end: keep it as a line "." */
				emit(r, out, "..\r\n", 4);
				line_start(r);
				r->after_bare_lf = true;
				i++;
				continue;
			}
			emit(r, out, ".", 1);
			r->linelen = 1;
			r->state = S_TEXT;
			continue; /* reprocess c inside the line */
		case S_DOTCR:
			if (c != '\n') {
				*used = i;
				return DATA_BARE_CR;
			}
			if (r->after_bare_lf) {
				/* "<LF>.<CR><LF>" (CVE-2023-51764): only CRLF "." CRLF ends
				 * the data, so this "." is a line of content. */
				emit(r, out, "..\r\n", 4);
				line_start(r);
				r->after_bare_lf = false;
				i++;
				continue;
			}
			*used = i + 1;
			return DATA_END;
		}
	}
	*used = n;
	return DATA_MORE;
}

enum data_status
data_finish_bdat(struct data_reader *r, struct buf *out)
{
	if (r->state == S_CR)
		return DATA_BARE_CR;
	if (r->state == S_TEXT)
		emit(r, out, "\r\n", 2);
	r->state = S_BOL;
	return DATA_END;
}

void
data_unstuff_init(struct data_unstuff *u)
{
	u->bol = true;
	u->cr = false;
}

void
data_unstuff(struct data_unstuff *u, const char *in, size_t n, struct buf *out)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (u->bol && in[i] == '.') {
			buf_add(out, in + start, i - start);
			start = i + 1;
		}
		u->bol = u->cr && in[i] == '\n';
		u->cr = in[i] == '\r';
	}
	buf_add(out, in + start, n - start);
}
