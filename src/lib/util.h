/* SPDX-License-Identifier: ISC */
/*
 * util - allocation that aborts on failure, bounded string copies and the
 * small number parsers every other module uses.
 *
 * SECURITY: no I/O. Number parsers reject overflow, signs and trailing junk,
 * so attacker-supplied sizes never wrap.
 */
#ifndef POSTERN_UTIL_H
#define POSTERN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* xmalloc - malloc that aborts the process when memory is exhausted. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray - realloc of n * size, aborting on overflow. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf - formatted string in fresh memory; aborts on failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* str_copy - copy src into dst of size dstsize, always NUL-terminating.
 * Returns 0, or -1 when src did not fit (dst then holds a truncated copy). */
int str_copy(char *dst, const char *src, size_t dstsize);

/* str_fmt - snprintf that returns 0, or -1 on error or truncation. */
int str_fmt(char *dst, size_t dstsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* parse_u64 - parse a decimal number in [0, max] from the whole of s. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);
/* parse_u64n - the same for the first n bytes of s (not NUL-terminated). */
int parse_u64n(const char *s, size_t n, uint64_t max, uint64_t *out);

/* parse_duration - "30", "30s", "5m", "2h", "5d", "1w" into seconds. */
int parse_duration(const char *s, uint64_t *seconds);
/* parse_size - "1000", "64k", "50M", "1G" into bytes (powers of 1024). */
int parse_size(const char *s, uint64_t *bytes);

/* strcase_eq - ASCII case-insensitive equality. */
bool strcase_eq(const char *a, const char *b);
/* strcase_prefix - does s start with prefix, ignoring ASCII case? */
bool strcase_prefix(const char *s, const char *prefix);

/* valid_utf8 - well-formed UTF-8 without overlongs or surrogates. */
bool valid_utf8(const char *s, size_t len);
/* utf8_next - the length (1 to 4) of the well-formed UTF-8 sequence that
 * starts s (len bytes available), its code point in *cp; 0 when the bytes
 * there are not one (then *cp is untouched). */
size_t utf8_next(const char *s, size_t len, uint32_t *cp);

/* wipe_free - explicit_bzero then free, for buffers that held secrets. */
void wipe_free(void *p, size_t n);

/* be_load - the big-endian unsigned number in p[0..n), n at most 8. */
uint64_t be_load(const uint8_t *p, size_t n);
/* be_store - v as n big-endian bytes at p (the low n bytes of v). */
void be_store(uint8_t *p, uint64_t v, size_t n);

/* now_ms - monotonic clock in milliseconds. */
uint64_t now_ms(void);

#endif
