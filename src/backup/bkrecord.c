/* SPDX-License-Identifier: ISC */
/*
 * bkrecord - the record stream inside a backup: writer and push parser.
 *
 * SECURITY: see bkrecord.h. Pure: no I/O, no globals; every length read
 * from the stream is checked against a named limit before it is used.
 */
#include "backup/bkrecord.h"

#include <string.h>
#include <sys/types.h>

#include "lib/util.h"

enum {
	ST_TYPE,     /* at a record boundary */
	ST_HEAD,     /* collecting a record's fixed part (and a FILE's path) */
	ST_MANIFEST, /* the manifest's JSON */
	ST_DATA,     /* a file's data */
	ST_DONE,     /* after END */
	ST_FAIL,
};

#define MHEAD 5	     /* 'M' len:u32 */
#define FHEAD 4	     /* 'F' area:u8 plen:u16, then the path */
#define FTAIL 12     /* mode:u32 size:u64 after the path */
#define EHEAD 17     /* 'E' files:u64 bytes:u64 */
#define MODE_BITS 0777

static void
put_be(struct buf *out, uint64_t v, size_t n)
{
	uint8_t b[8];

	be_store(b, v, n);
	buf_add(out, b, n);
}

/* valid_component - one state_dir path component. */
static bool
valid_component(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > BKRECORD_NAME_MAX || s[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool
valid_relative(const char *path, size_t len)
{
	size_t start = 0, i, depth = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		if (!valid_component(path + start, i - start) || ++depth > BKRECORD_DEPTH_MAX)
			return false;
		start = i + 1;
	}
	return true;
}

/* valid_absolute - '/' then components that are not empty, '.' or '..',
 * with no control characters. */
static bool
valid_absolute(const char *path, size_t len)
{
	size_t start = 1, i;

	if (len < 2 || path[0] != '/')
		return false;
	for (i = 1; i <= len; i++) {
		if (i < len && path[i] != '/') {
			if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
				return false;
			continue;
		}
		if (i == start || (i - start == 1 && path[start] == '.') ||
		    (i - start == 2 && path[start] == '.' && path[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

bool
valid_bkrecord_path(enum bkrecord_area area, const char *path, size_t len)
{
	bool ok = len > 0 && len <= BKRECORD_PATH_MAX && memchr(path, '\0', len) == NULL;

	if (ok && area == BKAREA_STATE)
		ok = valid_relative(path, len);
	else if (ok && (area == BKAREA_CONFIG || area == BKAREA_EXTERNAL))
		ok = valid_absolute(path, len);
	else
		ok = false;
	return ok;
}

/* Writing. */

void
bkrecord_manifest(struct buf *out, const char *json, size_t len)
{
	buf_addc(out, 'M');
	put_be(out, len, 4);
	buf_add(out, json, len);
}

int
bkrecord_file_head(struct buf *out, const struct bkrecord_file *f)
{
	size_t plen = strlen(f->path);

	if (!valid_bkrecord_path(f->area, f->path, plen) || (f->mode & ~(uint32_t)MODE_BITS) != 0 ||
	    f->size > BKRECORD_FILE_MAX)
		return -1;
	buf_addc(out, 'F');
	put_be(out, (uint64_t)f->area, 1);
	put_be(out, plen, 2);
	buf_add(out, f->path, plen);
	put_be(out, f->mode, 4);
	put_be(out, f->size, 8);
	return 0;
}

void
bkrecord_end(struct buf *out, uint64_t files, uint64_t bytes)
{
	buf_addc(out, 'E');
	put_be(out, files, 8);
	put_be(out, bytes, 8);
}

/* Parsing. */

void
bkrecord_init(struct bkrecord_parser *p, const struct bkrecord_cb *cb)
{
	memset(p, 0, sizeof(*p));
	p->cb = *cb;
	p->state = ST_TYPE;
	buf_init(&p->manifest);
}

void
bkrecord_free(struct bkrecord_parser *p)
{
	if (p == NULL)
		return;
	buf_free(&p->manifest);
}

static int
fail(struct bkrecord_parser *p, const char *why)
{
	p->state = ST_FAIL;
	p->why = why;
	return -1;
}

/* start - a record's type byte: how much of its head to collect. */
static int
start(struct bkrecord_parser *p, uint8_t type)
{
	if (p->manifest.data == NULL && type != 'M')
		return fail(p, "the stream does not start with a manifest");
	if (type == 'M' && p->manifest.data != NULL)
		return fail(p, "a second manifest");
	if (type == 'M')
		p->need = MHEAD;
	else if (type == 'F')
		p->need = FHEAD;
	else if (type == 'E')
		p->need = EHEAD;
	else
		return fail(p, "unknown record type");
	p->head[0] = type;
	p->have = 1;
	p->state = ST_HEAD;
	return 0;
}

/* file_head - a complete FILE head (FHEAD + path + FTAIL bytes). */
static int
file_head(struct bkrecord_parser *p, size_t plen)
{
	struct bkrecord_file *f = &p->file;
	const uint8_t *tail = p->head + FHEAD + plen;

	memset(f, 0, sizeof(*f));
	f->area = (enum bkrecord_area)p->head[1];
	if (p->head[1] < BKAREA_CONFIG || p->head[1] > BKAREA_STATE)
		return fail(p, "a file of an unknown area");
	if (p->head[1] < p->area)
		return fail(p, "files out of order (config, files it names, then state_dir)");
	if (p->head[1] == BKAREA_CONFIG && p->area == BKAREA_CONFIG)
		return fail(p, "a second config file");
	if (!valid_bkrecord_path(f->area, (const char *)p->head + FHEAD, plen))
		return fail(p, "a file path that is not allowed");
	memcpy(f->path, p->head + FHEAD, plen);
	f->mode = (uint32_t)be_load(tail, 4);
	f->size = be_load(tail + 4, 8);
	if ((f->mode & ~(uint32_t)MODE_BITS) != 0)
		return fail(p, "a file mode with more than permission bits");
	if (f->size > BKRECORD_FILE_MAX || p->bytes + f->size > UINT64_MAX / 2)
		return fail(p, "a file too large");
	p->area = p->head[1];
	p->files++;
	p->bytes += f->size;
	p->left = f->size;
	if (p->cb.file_begin(p->cb.arg, f) == -1)
		return fail(p, NULL);
	p->state = ST_DATA;
	if (f->size == 0) {
		p->state = ST_TYPE;
		if (p->cb.file_end(p->cb.arg, f) == -1)
			return fail(p, NULL);
	}
	return 0;
}

/* head_done - the head collected so far is as long as it needed to be. */
static int
head_done(struct bkrecord_parser *p)
{
	uint64_t n;

	switch (p->head[0]) {
	case 'M':
		n = be_load(p->head + 1, 4);
		if (n == 0 || n > BKRECORD_MANIFEST_MAX)
			return fail(p, "a manifest of a size not allowed");
		buf_reserve(&p->manifest, (size_t)n);
		p->left = n;
		p->state = ST_MANIFEST;
		return 0;
	case 'F':
		n = be_load(p->head + 2, 2);
		if (p->have == FHEAD) {
			if (n == 0 || n > BKRECORD_PATH_MAX)
				return fail(p, "a file path of a length not allowed");
			p->need = FHEAD + (size_t)n + FTAIL;
			return 0;
		}
		return file_head(p, (size_t)n);
	default: /* 'E' */
		if (be_load(p->head + 1, 8) != p->files || be_load(p->head + 9, 8) != p->bytes)
			return fail(p, "the end record does not match the files before it");
		p->state = ST_DONE;
		if (p->cb.end(p->cb.arg, p->files, p->bytes) == -1)
			return fail(p, NULL);
		return 0;
	}
}

/* step - consume some of data[0..n) in the current state; the count, or
 * -1. */
static ssize_t
step(struct bkrecord_parser *p, const uint8_t *data, size_t n)
{
	size_t k;

	switch (p->state) {
	case ST_TYPE:
		return start(p, data[0]) == -1 ? -1 : 1;
	case ST_HEAD:
		k = p->need - p->have < n ? p->need - p->have : n;
		memcpy(p->head + p->have, data, k);
		p->have += k;
		if (p->have == p->need && head_done(p) == -1)
			return -1;
		return (ssize_t)k;
	case ST_MANIFEST:
		k = p->left < n ? (size_t)p->left : n;
		buf_add(&p->manifest, data, k);
		p->left -= k;
		if (p->left == 0) {
			p->state = ST_TYPE;
			if (p->cb.manifest(p->cb.arg, p->manifest.data, p->manifest.len) == -1)
				return fail(p, NULL);
		}
		return (ssize_t)k;
	case ST_DATA:
		k = p->left < n ? (size_t)p->left : n;
		if (p->cb.file_data(p->cb.arg, data, k) == -1)
			return fail(p, NULL);
		p->left -= k;
		if (p->left == 0) {
			p->state = ST_TYPE;
			if (p->cb.file_end(p->cb.arg, &p->file) == -1)
				return fail(p, NULL);
		}
		return (ssize_t)k;
	case ST_DONE:
		return fail(p, "data after the end record");
	default:
		return -1;
	}
}

int
bkrecord_feed(struct bkrecord_parser *p, const uint8_t *data, size_t n)
{
	while (n > 0) {
		ssize_t k = step(p, data, n);

		if (k == -1)
			return -1;
		data += k;
		n -= (size_t)k;
		p->offset += (uint64_t)k;
	}
	return p->state == ST_FAIL ? -1 : 0;
}

int
bkrecord_finish(struct bkrecord_parser *p)
{
	if (p->state == ST_DONE)
		return 0;
	if (p->state == ST_FAIL)
		return -1;
	return fail(p, p->state == ST_TYPE ? "no end record" : "the stream ends inside a record");
}
