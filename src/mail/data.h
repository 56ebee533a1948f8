/* SPDX-License-Identifier: ISC */
/*
 * data - the message content reader for DATA and BDAT.
 *
 * Input is the bytes the client sends after 354 (DATA) or in BDAT chunks;
 * output is the message in "wire form": CRLF line endings, dot-stuffed,
 * without the terminating ".\r\n". Storing the wire form lets delivery send
 * the spool bytes as they are, and keeps one canonical line ending.
 *
 * Strict mode refuses any bare CR or bare LF (SMTP smuggling,
 * CVE-2023-51764 class). Normalize mode accepts a bare LF as a line end
 * and writes CRLF; a bare CR is refused in both modes. In both modes only
 * the exact sequence CRLF "." CRLF ends the message.
 *
 * The reader also watches the header section: it reports its end (so the
 * caller can add headers there) and whether Date and Message-ID occurred.
 *
 * SECURITY: network input; pure state machine, no allocation besides the
 * output buffer, fuzzed. Over-long lines and over-size messages are
 * noted and the rest discarded up to the end, so the session stays in sync.
 * STANDARDS: RFC 5321 2.3.8, 4.1.1.4, 4.5.2 (transparency), 4.5.3.1.6;
 * RFC 3030 (BDAT: content is not dot-stuffed on the wire).
 */
#ifndef POSTERN_DATA_H
#define POSTERN_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum data_mode { DATA_MODE_DOT, DATA_MODE_BDAT };

enum data_status {
	DATA_MORE,	   /* all input consumed, message continues */
	DATA_HEADERS_DONE, /* stopped at the end of the header section */
	DATA_END,	   /* the end-of-data line was consumed */
	DATA_BARE_LF,	   /* stopped at a bare LF (strict mode) */
	DATA_BARE_CR,	   /* stopped at a bare CR */
};

#define DATA_SEEN_DATE 0x1
#define DATA_SEEN_MSGID 0x2
#define DATA_SEEN_FROM 0x4

/* Bytes of the From: header value kept (unfolded) for sender checks. */
#define DATA_FROM_MAX 2048

struct data_reader {
	enum data_mode mode;
	bool normalize;
	uint64_t max_line; /* bytes per line, CRLF excluded */
	uint64_t max_size; /* bytes of wire-form output */
	/* results */
	uint64_t size;	    /* bytes the message has (even past max_size) */
	bool too_big;	    /* size exceeded max_size: reject at the end */
	bool line_too_long; /* a line exceeded max_line: reject at the end */
	bool eight_bit;	    /* a byte >= 0x80 was seen */
	unsigned seen;	    /* DATA_SEEN_* */
	bool in_header;
	/* private state */
	int state;
	uint64_t linelen;
	char name[16];
	size_t namelen;
	bool naming;
	bool after_bare_lf; /* the last line ended in a bare LF (normalize) */
	/* the From: header, unfolded (wire form: a leading dot is stuffed) */
	char from[DATA_FROM_MAX + 1];
	size_t fromlen;
	unsigned nfrom;	   /* From: fields seen (RFC 5322 allows one) */
	bool from_too_long;
	bool in_from;	   /* the current header line belongs to From: */
};

/* data_init - a reader for one message. */
void data_init(struct data_reader *r, enum data_mode mode, bool normalize, uint64_t max_line,
	       uint64_t max_size);
/* data_feed - consume input, append wire-form output to out (nothing once
 * too_big or line_too_long is set). *used is the number of input bytes
 * consumed; for DATA_BARE_* it is the offset of the offending byte. */
enum data_status data_feed(struct data_reader *r, const char *in, size_t n, struct buf *out,
			   size_t *used);
/* data_finish_bdat - after BDAT LAST: complete a last line without CRLF.
 * Returns DATA_END, or DATA_BARE_CR if the content ended in a lone CR. */
enum data_status data_finish_bdat(struct data_reader *r, struct buf *out);

/* Reading stored content back as the message it carries: the dot that
 * stuffs a line beginning with '.' is dropped (RFC 5321 4.5.2), as a
 * receiver of the wire form would. For the queue's DKIM signer. */
struct data_unstuff {
	bool bol; /* the next byte starts a line */
	bool cr;  /* the last byte was CR */
};

/* data_unstuff_init - at the start of the content. */
void data_unstuff_init(struct data_unstuff *u);
/* data_unstuff - append in[0..n) without stuffing dots to out; chunks may
 * split anywhere, even inside CRLF. */
void data_unstuff(struct data_unstuff *u, const char *in, size_t n, struct buf *out);

#endif
