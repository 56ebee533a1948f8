/* SPDX-License-Identifier: ISC */
/*
 * bkrecord - the records of a postern backup once it is decrypted: a
 * manifest, one record per file, an end record.
 *
 *   MANIFEST = 'M' len:u32 json[len]                       first, exactly once
 *   FILE     = 'F' area:u8 plen:u16 path[plen] mode:u32 size:u64 data[size]
 *   END      = 'E' files:u64 bytes:u64                       last, exactly once
 *
 * Integers are big-endian. A FILE's area says where it belongs: the config
 * file (its path as it was, for information), a file the config names such
 * as a TLS key (an absolute path), or state_dir (a path relative to it).
 * Areas come in that order, so a reader knows the config before the first
 * file of state_dir. END repeats how many FILE records and data bytes came
 * before it, so a stream cut at a record boundary is still caught (the
 * encryption layer catches every other cut, see bkcrypt.h).
 *
 * SECURITY: a pure push parser (bytes in, callbacks out, no I/O, no
 * globals), fuzzed by tests/fuzz/fuzz_backup.c. Its input has been
 * authenticated by then, but is still treated as hostile: a state_dir path
 * cannot leave state_dir (relative, components of [A-Za-z0-9_.-] that do
 * not start with '.', bounded length and depth), an absolute path has no
 * '.', '..' or empty components and no control characters, a mode is
 * permission bits only, every length is bounded.
 */
#ifndef POSTERN_BKRECORD_H
#define POSTERN_BKRECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define BKRECORD_MANIFEST_MAX (64 * 1024) /* bytes of manifest JSON */
#define BKRECORD_PATH_MAX 4095		  /* bytes of a path */
#define BKRECORD_NAME_MAX 255		  /* bytes of one path component */
#define BKRECORD_DEPTH_MAX 8		  /* components of a state_dir path */
#define BKRECORD_FILE_MAX (1ULL << 40)	  /* bytes of one file */
/* The longest FILE header: type, area, plen, path, mode, size. */
#define BKRECORD_HEAD_MAX (1 + 1 + 2 + BKRECORD_PATH_MAX + 4 + 8)

enum bkrecord_area {
	BKAREA_CONFIG = 1,   /* the config file (-c) */
	BKAREA_EXTERNAL = 2, /* a file the config names, by absolute path */
	BKAREA_STATE = 3,    /* a file in state_dir, by relative path */
};

struct bkrecord_file {
	enum bkrecord_area area;
	char path[BKRECORD_PATH_MAX + 1];
	uint32_t mode; /* permission bits */
	uint64_t size;
};

/* What the parser calls. Each returns 0 to go on, -1 to stop (the parser
 * then fails with why == NULL: the consumer has its own reason). */
struct bkrecord_cb {
	int (*manifest)(void *arg, const char *json, size_t len);
	int (*file_begin)(void *arg, const struct bkrecord_file *f);
	int (*file_data)(void *arg, const uint8_t *p, size_t n);
	int (*file_end)(void *arg, const struct bkrecord_file *f);
	int (*end)(void *arg, uint64_t files, uint64_t bytes);
	void *arg;
};

struct bkrecord_parser {
	struct bkrecord_cb cb;
	int state;
	uint8_t head[BKRECORD_HEAD_MAX];
	size_t have, need; /* bytes of head collected, wanted */
	struct buf manifest;
	struct bkrecord_file file;
	uint64_t left; /* data bytes of the current file still to come */
	uint64_t files, bytes;
	int area; /* of the last FILE */
	uint64_t offset; /* stream bytes consumed, for messages */
	const char *why; /* after a failure: a static reason, or NULL */
};

/* bkrecord_init - a parser that calls cb; free with bkrecord_free. */
void bkrecord_init(struct bkrecord_parser *p, const struct bkrecord_cb *cb);
void bkrecord_free(struct bkrecord_parser *p);
/* bkrecord_feed - the next n bytes of the stream, in any split. 0, or -1
 * with p->why (NULL when a callback stopped it); after -1 every further
 * call fails. File data goes to file_data in pieces as it arrives. */
int bkrecord_feed(struct bkrecord_parser *p, const uint8_t *data, size_t n);
/* bkrecord_finish - the stream has ended: 0 when it ended right after the
 * END record, -1 with p->why otherwise. */
int bkrecord_finish(struct bkrecord_parser *p);

/* Writing: each appends one record's bytes to out. bkrecord_file_head is
 * followed by exactly f->size data bytes; it returns -1 (out unchanged)
 * for a path or mode the parser would refuse. */
void bkrecord_manifest(struct buf *out, const char *json, size_t len);
int bkrecord_file_head(struct buf *out, const struct bkrecord_file *f);
void bkrecord_end(struct buf *out, uint64_t files, uint64_t bytes);

/* valid_bkrecord_path - would the parser take path (len bytes, no NUL) in
 * area? */
bool valid_bkrecord_path(enum bkrecord_area area, const char *path, size_t len);

#endif
