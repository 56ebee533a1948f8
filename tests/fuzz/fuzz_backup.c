/* SPDX-License-Identifier: ISC */
/*
 * fuzz_backup - the record parser of a decrypted backup stream
 * (src/backup/bkrecord.c), the part of a restore that reads what the
 * encryption let through.
 *
 * The first input byte chooses a piece size (1 to 256; 0: the whole
 * input); the rest is the stream. It is parsed whole and in pieces, and
 * the two runs must agree on the verdict, the reason and every callback
 * (a log of them is compared). Within a run: each file's data adds up to
 * its declared size, each path is one valid_bkrecord_path takes, modes
 * are permission bits, areas never go backwards, the manifest comes first
 * and once, and the end record's counts are the ones seen. Every record
 * the parser accepted is written again with the writer functions, and
 * that stream must parse to the same log.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/bkrecord.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct buf log;	   /* every callback, in order */
	struct buf again;  /* the accepted records, written anew */
	struct bkrecord_file cur;
	uint64_t got, files, bytes;
	int area;
	bool manifest;
};

static int
on_manifest(void *arg, const char *json, size_t len)
{
	struct run *r = arg;

	if (r->manifest || r->files > 0 || len == 0 || len > BKRECORD_MANIFEST_MAX)
		abort();
	r->manifest = true;
	buf_addf(&r->log, "M%zu:", len);
	buf_add(&r->log, json, len);
	bkrecord_manifest(&r->again, json, len);
	return 0;
}

static int
on_begin(void *arg, const struct bkrecord_file *f)
{
	struct run *r = arg;

	if (!r->manifest || !valid_bkrecord_path(f->area, f->path, strlen(f->path)) ||
	    (f->mode & ~0777u) != 0 || (int)f->area < r->area || f->size > BKRECORD_FILE_MAX)
		abort();
	r->area = (int)f->area;
	r->cur = *f;
	r->got = 0;
	r->files++;
	r->bytes += f->size;
	buf_addf(&r->log, "F%d:%s:%o:%ju:", (int)f->area, f->path, f->mode, (uintmax_t)f->size);
	if (bkrecord_file_head(&r->again, f) == -1)
		abort(); /* the writer refuses what the parser took */
	return 0;
}

static int
on_data(void *arg, const uint8_t *p, size_t n)
{
	struct run *r = arg;

	if (n == 0 || r->got + n > r->cur.size)
		abort();
	r->got += n;
	buf_add(&r->log, p, n);
	buf_add(&r->again, p, n);
	return 0;
}

static int
on_file_end(void *arg, const struct bkrecord_file *f)
{
	struct run *r = arg;

	if (r->got != f->size || strcmp(f->path, r->cur.path) != 0)
		abort();
	buf_adds(&r->log, ";");
	return 0;
}

static int
on_end(void *arg, uint64_t files, uint64_t bytes)
{
	struct run *r = arg;

	if (files != r->files || bytes != r->bytes)
		abort();
	buf_addf(&r->log, "E%ju/%ju", (uintmax_t)files, (uintmax_t)bytes);
	bkrecord_end(&r->again, files, bytes);
	return 0;
}

/* parse - the stream in pieces of step bytes (0: whole); the verdict. */
static int
parse(const uint8_t *p, size_t n, size_t step, struct run *r, const char **why)
{
	static const struct bkrecord_cb cb0 = {on_manifest, on_begin, on_data, on_file_end, on_end,
					       NULL};
	struct bkrecord_cb cb = cb0;
	struct bkrecord_parser *ps = malloc(sizeof(*ps));
	size_t off = 0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->log);
	buf_init(&r->again);
	cb.arg = r;
	bkrecord_init(ps, &cb);
	while (rc == 0 && off < n) {
		size_t k = step == 0 || n - off < step ? n - off : step;

		rc = bkrecord_feed(ps, p + off, k);
		off += k;
	}
	if (rc == 0)
		rc = bkrecord_finish(ps);
	*why = ps->why;
	if (rc == 0 && ps->offset != n)
		abort();
	bkrecord_free(ps);
	free(ps);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, pieces, again;
	const char *why1, *why2, *why3;
	int rc1, rc2, rc3;

	if (size < 1)
		return 0;
	rc1 = parse(data + 1, size - 1, 0, &whole, &why1);
	rc2 = parse(data + 1, size - 1, data[0], &pieces, &why2);
	if (rc1 != rc2 || why1 != why2 || whole.log.len != pieces.log.len ||
	    memcmp(buf_cstr(&whole.log), buf_cstr(&pieces.log), whole.log.len) != 0)
		abort();
	if (rc1 == 0) {
		/* what was accepted, written again, is the same stream */
		rc3 = parse((const uint8_t *)whole.again.data, whole.again.len, 7, &again, &why3);
		if (rc3 != 0 || again.log.len != whole.log.len ||
		    memcmp(buf_cstr(&again.log), buf_cstr(&whole.log), whole.log.len) != 0 ||
		    whole.again.len != size - 1 ||
		    memcmp(whole.again.data, data + 1, size - 1) != 0)
			abort();
		buf_free(&again.log);
		buf_free(&again.again);
	}
	buf_free(&whole.log);
	buf_free(&whole.again);
	buf_free(&pieces.log);
	buf_free(&pieces.again);
	return 0;
}
