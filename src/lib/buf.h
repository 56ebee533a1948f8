/* SPDX-License-Identifier: ISC */
/*
 * buf - the one growable byte buffer. Always NUL-terminated, growth is
 * overflow-checked and aborts on exhaustion (callers bound what they append).
 *
 * SECURITY: holds untrusted bytes; never interprets them.
 */
#ifndef POSTERN_BUF_H
#define POSTERN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
/* buf_free - release the storage; safe on an initialised empty buffer. */
void buf_free(struct buf *b);
/* buf_wipe_free - explicit_bzero the storage, then free it. */
void buf_wipe_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* buf_consume - drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* buf_cstr - the contents as a C string ("" when empty). */
const char *buf_cstr(const struct buf *b);
/* buf_steal - hand the storage to the caller (xstrdup("") when empty). */
char *buf_steal(struct buf *b);

#endif
