/* SPDX-License-Identifier: ISC */
/*
 * fuzz_data - the DATA/BDAT content reader (src/mail/data.c).
 *
 * The first byte picks the mode (DOT or BDAT), strict or normalize line
 * endings and tight or loose limits; the second seeds the chunk sizes. The
 * rest is the content, fed once in random chunks and once whole. Checked:
 * - the output never holds a bare CR or bare LF (every LF follows a CR and
 *   every CR is followed by an LF): nothing we store can smuggle;
 * - DATA_END comes only in DOT mode, and the consumed bytes end in
 *   CRLF "." CRLF (or are exactly ".\r\n" at the start);
 * - strict DOT mode stores the bytes as received, minus the terminator;
 * - BDAT mode stores wire form: removing one leading dot from each line
 *   gives back the input (with a final CRLF added by data_finish_bdat);
 * - chunk boundaries change nothing (status, bytes used, flags, and the
 *   output unless a limit was hit and the message is refused anyway);
 * - the size accounting and limits hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	enum data_status st;
	size_t used;
	struct buf out;
	struct data_reader r;
};

static uint32_t
next_rand(uint32_t *s)
{
	/* xorshift32: deterministic, so a crash input replays exactly */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* run - feed in chunks from the generator (seed 0: one chunk). */
static void
run(struct outcome *o, uint8_t flags, uint32_t seed, const char *in, size_t n)
{
	size_t pos = 0;
	int headers_done = 0;

	memset(o, 0, sizeof(*o));
	buf_init(&o->out);
	data_init(&o->r, (flags & 1) ? DATA_MODE_BDAT : DATA_MODE_DOT, (flags & 2) != 0,
		  (flags & 4) ? 4 + (flags >> 5) : 1000, (flags & 8) ? 32 + (flags >> 4) : 1 << 20);
	o->st = DATA_MORE;
	while (pos < n) {
		size_t len = n - pos, used = (size_t)-1;

		if (seed != 0) {
			uint32_t r = next_rand(&seed);
			size_t want = (r & 0x100) ? 1 + (r & 0xff) : 1 + (r & 7);

			if (want < len)
				len = want;
		}
		o->st = data_feed(&o->r, in + pos, len, &o->out, &used);
		if (used > len)
			abort();
		pos += used;
		if (o->st == DATA_HEADERS_DONE) {
			if (headers_done++)
				abort(); /* the header section ends once */
			continue;
		}
		if (o->st != DATA_MORE)
			break;
		if (used != len)
			abort(); /* DATA_MORE consumes everything */
	}
	if (o->st == DATA_HEADERS_DONE)
		o->st = DATA_MORE;
	if (o->st == DATA_MORE && o->r.mode == DATA_MODE_BDAT)
		o->st = data_finish_bdat(&o->r, &o->out);
	o->used = pos;
}

static void
check_no_bare(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			abort();
		if (b->data[i] == '\r' && (i + 1 >= b->len || b->data[i + 1] != '\n'))
			abort();
	}
}

/* check_bdat_unstuffed - out minus one leading dot per line is the input. */
static void
check_bdat_unstuffed(const struct outcome *o, const char *in, size_t n)
{
	const char *p = o->out.data ? o->out.data : "";
	size_t len = o->out.len, i = 0, k = 0;
	int bol = 1;

	while (i < len) {
		if (bol && p[i] == '.') {
			if (i + 1 >= len || p[i + 1] != '.')
				abort(); /* a line starting with '.' must be stuffed */
			i++;
		}
		bol = p[i] == '\n';
		if (k < n) {
			if (p[i] != in[k])
				abort();
		} else if (!(k == n && p[i] == '\r' && i + 2 == len) &&
			   !(k == n + 1 && p[i] == '\n' && i + 1 == len)) {
			abort(); /* only the CRLF that completes the last line */
		}
		i++;
		k++;
	}
	if (k < n)
		abort();
}

static void
check(const struct outcome *o, uint8_t flags, const char *in, size_t n)
{
	const struct data_reader *r = &o->r;
	bool limited = r->too_big || r->line_too_long;

	check_no_bare(&o->out);
	if (o->used > n || o->out.len > r->size)
		abort();
	if (r->too_big != (r->size > r->max_size))
		abort();
	if (!limited && o->out.len != r->size)
		abort();
	if (o->st == DATA_END && r->mode == DATA_MODE_DOT) {
		if (!(o->used == 3 && memcmp(in, ".\r\n", 3) == 0) &&
		    (o->used < 5 || memcmp(in + o->used - 5, "\r\n.\r\n", 5) != 0))
			abort();
	}
	if (o->st == DATA_BARE_CR && r->mode == DATA_MODE_DOT && in[o->used - 1] != '\r')
		abort();
	if (o->st == DATA_BARE_LF && (in[o->used] != '\n' || (flags & 2)))
		abort(); /* normalize mode never refuses a bare LF */
	if (limited || (flags & 2))
		return;
	if (r->mode == DATA_MODE_DOT) {
		/* strict: stored as received; pending ".", "\r" or ".\r" not yet */
		size_t want = o->st == DATA_END ? o->used - 3 : o->used;

		if (o->out.len > want || o->out.len + 2 < want ||
		    memcmp(o->out.data ? o->out.data : "", in, o->out.len) != 0)
			abort();
		if (o->st == DATA_END && o->out.len != want)
			abort();
	} else if (o->st == DATA_END) {
		check_bdat_unstuffed(o, in, n);
	}
}

static void
compare(const struct outcome *a, const struct outcome *b)
{
	if (a->st != b->st || a->used != b->used)
		abort();
	/* once a limit is hit the output is dropped and the message refused:
	 * where the dropping started may depend on the chunks */
	if (!a->r.too_big && !a->r.line_too_long &&
	    (a->out.len != b->out.len ||
	     (a->out.len && memcmp(a->out.data, b->out.data, a->out.len) != 0)))
		abort();
	if (a->r.size != b->r.size || a->r.too_big != b->r.too_big ||
	    a->r.line_too_long != b->r.line_too_long || a->r.eight_bit != b->r.eight_bit ||
	    a->r.seen != b->r.seen || a->r.in_header != b->r.in_header)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, chunked;
	uint8_t flags;
	uint32_t seed;
	const char *in;
	size_t n;

	if (size < 2 || size > 65536)
		return 0;
	flags = data[0];
	seed = 0x9e3779b9u ^ (uint32_t)data[1] << 8 ^ data[0];
	in = (const char *)data + 2;
	n = size - 2;
	run(&whole, flags, 0, in, n);
	check(&whole, flags, in, n);
	run(&chunked, flags, seed, in, n);
	check(&chunked, flags, in, n);
	compare(&whole, &chunked);
	buf_free(&whole.out);
	buf_free(&chunked.out);
	return 0;
}
