/* SPDX-License-Identifier: ISC */
/*
 * audit - the hash-chained audit log: appending under flock, checking one
 * line, verifying, tailing and following the file.
 *
 * SECURITY: the writer runs in the auth process and the CLI; values in the
 * records are untrusted and reach the file only as jansson-escaped JSON
 * strings. The readers treat the file as untrusted: each line is bounded by
 * AUDIT_LINE_MAX, parsed by jansson and must re-serialize to exactly its own
 * bytes. A failed write is cut off under the lock; a torn tail from a crash
 * is cut off by the next writer, which says so in an "audit.recover" record.
 * STANDARDS: RFC 8259, RFC 3339 (timestamps), FIPS 180-4 (SHA-256).
 */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/file.h"
#include "lib/log.h"
#include "lib/util.h"

/* How far back an appender looks for the end of the last complete line: a
 * torn tail is one line plus what a crash may leave after it. */
#define AUDIT_TORN_MAX (1 << 20)
/* pread chunk for the backward scans and the follower. */
#define AUDIT_CHUNK 8192
#define AUDIT_TS_LEN 24 /* 2024-05-01T12:00:00.123Z */
#define AUDIT_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define AUDIT_LOAD_FLAGS JSON_REJECT_DUPLICATES

static const char zero_hash[AUDIT_HASH_HEX] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static const char *const reserved[] = {"seq", "ts", "event", "prev", "hash", "truncated"};

struct audit {
	int fd;
	int flags;
	pid_t pid;
	bool dirty; /* appended since the last fdatasync */
	bool known; /* seq/hash describe the file of dev/ino up to end */
	dev_t dev;
	ino_t ino;
	off_t end;
	uint64_t seq;
	char hash[AUDIT_HASH_HEX];
	char path[256]; /* for messages only, may be cut */
	char err[512];
};

/* The walk over a log shared by audit_verify and audit_verify_mem. */
struct walk {
	uint64_t line;
	uint64_t seq;
	char hash[AUDIT_HASH_HEX];
	struct buf *report;
};

static void
set_err(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
}

/* sha256_hex - lowercase hex SHA-256 of p[0..n). */
static void
sha256_hex(const void *p, size_t n, char out[AUDIT_HASH_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		log_bug("audit: SHA-256 failed");
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
}

static bool
is_hash_hex(const char *s, size_t len)
{
	size_t i;

	if (len != 64)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* valid_name - 1..AUDIT_NAME_MAX bytes of [a-z0-9_.-]. */
static bool
valid_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= AUDIT_NAME_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
					     c == '_' || c == '.' || c == '-'))
			return false;
	}
	return i > 0;
}

static bool
is_reserved(const char *s)
{
	size_t i;

	for (i = 0; i < nitems(reserved); i++)
		if (strcmp(s, reserved[i]) == 0)
			return true;
	return false;
}

/* valid_ts - the exact shape audit_append writes, "YYYY-MM-DDTHH:MM:SS.mmmZ". */
static bool
valid_ts(const char *s, size_t len)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (len != AUDIT_TS_LEN)
		return false;
	for (i = 0; i < len; i++) {
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return false;
	}
	return true;
}

static int
format_ts(char out[AUDIT_TS_LEN + 1])
{
	struct timespec now;
	struct tm tm;

	if (clock_gettime(CLOCK_REALTIME, &now) == -1 || gmtime_r(&now.tv_sec, &tm) == NULL)
		return -1;
	return str_fmt(out, AUDIT_TS_LEN + 1, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		       tm.tm_sec, now.tv_nsec / 1000000);
}

/* utf8_len - length of the valid UTF-8 sequence at s[0..n) (no NUL, no
 * overlong forms, no surrogates, at most U+10FFFF), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* utf8_clean - append s[0..len) to out with every byte that does not
 * start a valid UTF-8 sequence (NUL included) replaced by U+FFFD. */
static void
utf8_clean(const char *s, size_t len, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	buf_reserve(out, len);
	while (i < len) {
		size_t n = utf8_len(u + i, len - i);

		if (n == 0) {
			buf_add(out, "\xef\xbf\xbd", 3);
			i++;
		} else {
			buf_add(out, s + i, n);
			i += n;
		}
	}
}

json_t *
audit_str(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	json_t *j;

	utf8_clean(s, len, &b);
	j = json_stringn(b.len ? b.data : "", b.len);
	buf_free(&b);
	if (j == NULL)
		log_bug("audit: json_stringn refused checked UTF-8");
	return j;
}

/* utf8_cut - the longest prefix of valid UTF-8 s that has at most max bytes
 * and ends on a character boundary. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* copy_value - a copy of the caller's value, cleaned like audit_str (the
 * caller may have used a _nocheck constructor) and cut to AUDIT_STR_MAX;
 * sets *cut when it was cut. NULL for a type a record cannot hold. */
static json_t *
copy_value(json_t *v, bool *cut)
{
	struct buf b = BUF_INIT;
	json_t *c;
	size_t keep;

	*cut = false;
	switch (json_typeof(v)) {
	case JSON_STRING:
		utf8_clean(json_string_value(v), json_string_length(v), &b);
		keep = utf8_cut(b.data, b.len, AUDIT_STR_MAX);
		*cut = keep < b.len;
		c = json_stringn_nocheck(b.len ? b.data : "", keep);
		buf_free(&b);
		return c;
	case JSON_INTEGER:
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		return json_incref(v);
	default:
		return NULL;
	}
}

struct field {
	const char *key;
	json_t *value;
};

static int
cmp_field(const void *a, const void *b)
{
	return strcmp(((const struct field *)a)->key, ((const struct field *)b)->key);
}

/* collect_fields - the caller's fields sorted by name, names checked;
 * returns how many, or -1. */
static int
collect_fields(json_t *fields, struct field f[AUDIT_FIELDS_MAX])
{
	const char *key;
	size_t klen, n = 0;
	json_t *v;

	if (fields == NULL)
		return 0;
	if (!json_is_object(fields) || json_object_size(fields) > AUDIT_FIELDS_MAX)
		return -1;
	json_object_keylen_foreach(fields, key, klen, v) {
		if (n == AUDIT_FIELDS_MAX || strlen(key) != klen || !valid_name(key) ||
		    is_reserved(key))
			return -1;
		f[n].key = key;
		f[n++].value = v;
	}
	qsort(f, n, sizeof(f[0]), cmp_field);
	return (int)n;
}

/* build_body - the record without seq, ts, prev and hash: event, the
 * caller's fields (checked, copied, cut) and "truncated". NULL on EINVAL. */
static json_t *
build_body(struct audit *a, const char *event, json_t *fields)
{
	struct field f[AUDIT_FIELDS_MAX];
	json_t *rec, *cuts;
	int n, i;
	bool cut;

	if (event == NULL || !valid_name(event) || is_reserved(event) ||
	    (n = collect_fields(fields, f)) == -1) {
		set_err(a, "audit: bad event name or field name");
		errno = EINVAL;
		return NULL;
	}
	rec = json_object();
	cuts = json_array();
	for (i = 0; i < n; i++) {
		json_t *c = copy_value(f[i].value, &cut);

		if (c == NULL) {
			set_err(a, "audit: field %s of event %s: not a string, integer, "
				   "boolean or null",
				f[i].key, event);
			json_decref(rec);
			json_decref(cuts);
			errno = EINVAL;
			return NULL;
		}
		json_object_set_new_nocheck(rec, f[i].key, c);
		if (cut)
			json_array_append_new(cuts, json_string_nocheck(f[i].key));
	}
	json_object_set_new_nocheck(rec, "event", json_string_nocheck(event));
	if (json_array_size(cuts) > 0)
		json_object_set_new_nocheck(rec, "truncated", cuts);
	else
		json_decref(cuts);
	return rec;
}

/* dump - canonical serialization; aborts when memory is exhausted. */
static char *
dump(const json_t *j)
{
	char *s = json_dumps(j, AUDIT_DUMP_FLAGS);

	if (s == NULL)
		log_bug("audit: json_dumps failed");
	return s;
}

/* seal - add seq, ts, prev and hash to rec and serialize it as one line
 * with its newline into out; hash gets the record's hash. The line is
 * canonical by construction (the same dump verify compares against), which
 * the unit tests and fuzz_audit check: a re-check here would double the
 * cost of an append. */
static int
seal(json_t *rec, uint64_t seq, const char *prev, struct buf *out, char hash[AUDIT_HASH_HEX])
{
	char ts[AUDIT_TS_LEN + 1];
	char *s;

	if (format_ts(ts) == -1)
		return -1;
	json_object_set_new_nocheck(rec, "seq", json_integer((json_int_t)seq));
	json_object_set_new_nocheck(rec, "ts", json_string_nocheck(ts));
	json_object_set_new_nocheck(rec, "prev", json_string_nocheck(prev));
	json_object_del(rec, "hash");
	s = dump(rec);
	sha256_hex(s, strlen(s), hash);
	free(s);
	json_object_set_new_nocheck(rec, "hash", json_string_nocheck(hash));
	s = dump(rec);
	buf_reset(out);
	buf_adds(out, s);
	buf_addc(out, '\n');
	free(s);
	return 0;
}

/* check_fields - every member other than the chain's own is a field a
 * writer could have produced. */
static int
check_fields(json_t *rec, const char **why)
{
	const char *key;
	json_t *v, *cuts = json_object_get(rec, "truncated");
	size_t nfields = 0, i, klen;

	json_object_keylen_foreach(rec, key, klen, v) {
		if (strlen(key) == klen && is_reserved(key))
			continue;
		nfields++;
		if (strlen(key) != klen || !valid_name(key) ||
		    !(json_is_string(v) || json_is_integer(v) || json_is_boolean(v) ||
		      json_is_null(v))) {
			*why = "bad field";
			return -1;
		}
		if (json_is_string(v) && json_string_length(v) > AUDIT_STR_MAX) {
			*why = "field value too long";
			return -1;
		}
	}
	if (nfields > AUDIT_FIELDS_MAX) {
		*why = "too many fields";
		return -1;
	}
	if (cuts == NULL)
		return 0;
	if (!json_is_array(cuts) || json_array_size(cuts) == 0) {
		*why = "bad truncated list";
		return -1;
	}
	json_array_foreach(cuts, i, v) {
		if (!json_is_string(v) ||
		    !json_is_string(json_object_get(rec, json_string_value(v))) ||
		    is_reserved(json_string_value(v))) {
			*why = "bad truncated list";
			return -1;
		}
	}
	return 0;
}

/* check_shape - the chain members are present and well formed. */
static int
check_shape(json_t *rec, const char **why)
{
	json_t *ev = json_object_get(rec, "event"), *ts = json_object_get(rec, "ts");
	json_t *prev = json_object_get(rec, "prev"), *hash = json_object_get(rec, "hash");

	*why = NULL;
	if (!json_is_string(ts) || !valid_ts(json_string_value(ts), json_string_length(ts)))
		*why = "missing or bad ts";
	else if (!json_is_string(ev) || strlen(json_string_value(ev)) != json_string_length(ev) ||
		 !valid_name(json_string_value(ev)) || is_reserved(json_string_value(ev)))
		*why = "missing or bad event";
	else if (!json_is_string(prev) ||
		 !is_hash_hex(json_string_value(prev), json_string_length(prev)))
		*why = "missing or bad prev";
	else if (!json_is_string(hash) ||
		 !is_hash_hex(json_string_value(hash), json_string_length(hash)))
		*why = "missing or bad hash";
	if (*why != NULL)
		return -1;
	return check_fields(rec, why);
}

/* check_record - the line is the canonical form of rec, and its hash is
 * the SHA-256 of rec without "hash". */
static int
check_record(json_t *rec, const char *line, size_t len, const char **why)
{
	char want[AUDIT_HASH_HEX];
	char *s = dump(rec);
	bool same = strlen(s) == len && memcmp(s, line, len) == 0;
	json_t *copy;

	free(s);
	if (!same) {
		*why = "not in canonical form";
		return -1;
	}
	copy = json_copy(rec);
	json_object_del(copy, "hash");
	s = dump(copy);
	sha256_hex(s, strlen(s), want);
	free(s);
	json_decref(copy);
	if (strcmp(want, json_string_value(json_object_get(rec, "hash"))) != 0) {
		*why = "hash does not match its content";
		return -1;
	}
	return 0;
}

int
audit_check_line(const char *line, size_t len, uint64_t *seq, char prev[AUDIT_HASH_HEX],
		 char hash[AUDIT_HASH_HEX], const char **why)
{
	const char *dummy, **w = why != NULL ? why : &dummy;
	json_t *rec = NULL, *jseq;
	json_error_t jerr;

	*seq = 0;
	prev[0] = hash[0] = '\0';
	*w = "line too long";
	if (len > AUDIT_LINE_MAX)
		goto fail;
	*w = "not JSON";
	if ((rec = json_loadb(line, len, AUDIT_LOAD_FLAGS, &jerr)) == NULL)
		goto fail;
	*w = "not a JSON object";
	if (!json_is_object(rec))
		goto fail;
	jseq = json_object_get(rec, "seq");
	*w = "missing or bad seq";
	if (!json_is_integer(jseq) || json_integer_value(jseq) < 1)
		goto fail;
	*seq = (uint64_t)json_integer_value(jseq);
	if (check_shape(rec, w) == -1 || check_record(rec, line, len, w) == -1)
		goto fail;
	memcpy(prev, json_string_value(json_object_get(rec, "prev")), AUDIT_HASH_HEX);
	memcpy(hash, json_string_value(json_object_get(rec, "hash")), AUDIT_HASH_HEX);
	json_decref(rec);
	*w = NULL;
	return 0;
fail:
	json_decref(rec);
	return -1;
}

/* ---- verify ---- */

static void
walk_init(struct walk *w, struct buf *report)
{
	w->line = 0;
	w->seq = 0;
	memcpy(w->hash, zero_hash, AUDIT_HASH_HEX);
	w->report = report;
}

/* walk_line - one complete line (without its newline); -1 after reporting
 * the first problem. */
static int
walk_line(struct walk *w, const char *line, size_t len)
{
	char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
	const char *why;
	uint64_t seq;

	w->line++;
	if (audit_check_line(line, len, &seq, prev, hash, &why) == -1) {
		/* name the record only when its seq is the expected one: a
		 * damaged seq would name the wrong record */
		if (seq == w->seq + 1)
			buf_addf(w->report, "record %llu (line %llu): %s\n",
				 (unsigned long long)seq, (unsigned long long)w->line, why);
		else
			buf_addf(w->report, "line %llu: %s\n", (unsigned long long)w->line, why);
		return -1;
	}
	if (seq != w->seq + 1) {
		buf_addf(w->report,
			 "record %llu (line %llu): out of sequence, expected record %llu\n",
			 (unsigned long long)seq, (unsigned long long)w->line,
			 (unsigned long long)w->seq + 1);
		return -1;
	}
	if (strcmp(prev, w->hash) != 0) {
		if (w->seq == 0)
			buf_addf(w->report, "record 1 (line %llu): prev is not 64 zeros\n",
				 (unsigned long long)w->line);
		else
			buf_addf(w->report,
				 "record %llu (line %llu): prev does not match record %llu\n",
				 (unsigned long long)seq, (unsigned long long)w->line,
				 (unsigned long long)w->seq);
		return -1;
	}
	w->seq = seq;
	memcpy(w->hash, hash, AUDIT_HASH_HEX);
	return 0;
}

/* walk_lines - feed the complete lines at the front of data; returns the
 * bytes consumed, or -1 after a report (also for a line that is already
 * over AUDIT_LINE_MAX without its newline). */
static ssize_t
walk_lines(struct walk *w, const char *data, size_t len)
{
	size_t off = 0;

	for (;;) {
		const char *nl = memchr(data + off, '\n', len - off);

		if (nl == NULL)
			break;
		if (walk_line(w, data + off, (size_t)(nl - (data + off))) == -1)
			return -1;
		off = (size_t)(nl - data) + 1;
	}
	if (len - off > AUDIT_LINE_MAX) {
		buf_addf(w->report, "line %llu: line too long\n", (unsigned long long)w->line + 1);
		return -1;
	}
	return (ssize_t)off;
}

/* walk_end - the bytes after the last newline, if any, are a torn line. */
static int
walk_end(struct walk *w, size_t rest)
{
	if (rest > 0) {
		buf_addf(w->report, "line %llu: truncated last line\n",
			 (unsigned long long)w->line + 1);
		return -1;
	}
	buf_addf(w->report, "ok: %llu records, last seq %llu, last hash %s\n",
		 (unsigned long long)w->line, (unsigned long long)w->seq, w->hash);
	return 0;
}

int
audit_verify_mem(const char *data, size_t len, struct buf *report)
{
	struct walk w;
	ssize_t used;

	walk_init(&w, report);
	used = walk_lines(&w, data, len);
	if (used == -1)
		return -1;
	return walk_end(&w, len - (size_t)used);
}

int
audit_verify(const char *path, struct buf *report)
{
	struct buf pend = BUF_INIT;
	char chunk[65536];
	struct walk w;
	ssize_t r, used;
	int fd, rc = -1;

	walk_init(&w, report);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		buf_addf(report, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			buf_addf(report, "%s: %s\n", path, strerror(errno));
			goto out;
		}
		buf_add(&pend, chunk, (size_t)r);
		if ((used = walk_lines(&w, pend.data, pend.len)) == -1)
			goto out;
		buf_consume(&pend, (size_t)used);
	}
	rc = walk_end(&w, pend.len);
out:
	close(fd);
	buf_free(&pend);
	return rc;
}

/* ---- backward scans ---- */

/* find_prev_nl - the offset of the last '\n' before offset from, looking at
 * no more than limit bytes: 0 with *pos set (-1 when the start of the file
 * was reached without one), or -1 with errno (EMSGSIZE past the limit). */
static int
find_prev_nl(int fd, off_t from, off_t limit, off_t *pos)
{
	char chunk[AUDIT_CHUNK];
	off_t lo = from > limit ? from - limit : 0;

	while (from > lo) {
		size_t n = (size_t)(from - lo < AUDIT_CHUNK ? from - lo : AUDIT_CHUNK);
		const char *nl;

		if (pread_all(fd, chunk, n, from - (off_t)n) == -1)
			return -1;
		if ((nl = memrchr(chunk, '\n', n)) != NULL) {
			*pos = from - (off_t)n + (nl - chunk);
			return 0;
		}
		from -= (off_t)n;
	}
	if (lo > 0) {
		errno = EMSGSIZE;
		return -1;
	}
	*pos = -1;
	return 0;
}

/* complete_end - the offset just after the last newline of a file of size
 * bytes (0 if there is none), looking back at most limit bytes. */
static int
complete_end(int fd, off_t size, off_t limit, off_t *end)
{
	off_t nl;

	if (find_prev_nl(fd, size, limit, &nl) == -1)
		return -1;
	*end = nl + 1;
	return 0;
}

/* line_start - where the n complete lines before offset end (a line start
 * or 0) begin. */
static int
line_start(int fd, off_t end, size_t n, off_t *start)
{
	off_t pos = end, nl;

	while (n-- > 0 && pos > 0) {
		if (find_prev_nl(fd, pos - 1, AUDIT_LINE_MAX + 1, &nl) == -1)
			return -1;
		pos = nl + 1;
	}
	*start = pos;
	return 0;
}

/* ---- appending ---- */

struct audit *
audit_open(const char *path, int flags, char *err, size_t errsz)
{
	struct audit *a;
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errsz, "audit: open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "audit: %s: not a regular file", path);
		close(fd);
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->fd = fd;
	a->flags = flags;
	a->pid = getpid();
	snprintf(a->path, sizeof(a->path), "%s", path);
	return a;
}

const char *
audit_error(const struct audit *a)
{
	return a->err;
}

/* lock_log - flock(LOCK_EX), waiting for another writer's append to end.
 * A blocking wait rather than LOCK_NB polling: the kernel wakes a waiter on
 * unlock, while a poller keeps missing the short gaps between the appends
 * of a busy writer and starves. Every holder holds it for one append. */
static int
lock_log(struct audit *a)
{
	while (flock(a->fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			set_err(a, "audit: flock %s: %s", a->path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* load_last - read the record that ends at end (a line boundary) into the
 * handle's seq and hash. */
static int
load_last(struct audit *a, off_t end)
{
	struct buf line = BUF_INIT;
	char prev[AUDIT_HASH_HEX];
	const char *why = NULL;
	off_t start;
	int rc = -1;

	a->seq = 0;
	memcpy(a->hash, zero_hash, AUDIT_HASH_HEX);
	if (end == 0)
		return 0;
	if (line_start(a->fd, end, 1, &start) == -1) {
		set_err(a, "audit: reading the last record of %s: %s", a->path, strerror(errno));
		return -1;
	}
	buf_reserve(&line, (size_t)(end - start));
	if (pread_all(a->fd, line.data, (size_t)(end - start), start) == -1) {
		set_err(a, "audit: reading the last record of %s: %s", a->path, strerror(errno));
		goto out;
	}
	if (audit_check_line(line.data, (size_t)(end - start) - 1, &a->seq, prev, a->hash, &why) ==
	    -1) {
		set_err(a,
			"audit: the last record of %s is damaged (%s); appending refused, "
			"run postern audit verify",
			a->path, why);
		errno = EBADMSG;
		goto out;
	}
	rc = 0;
out:
	buf_free(&line);
	return rc;
}

/* write_line - one write() of the whole line at the end of a file of size
 * bytes; on failure the file is cut back to size. */
static int
write_line(struct audit *a, const struct buf *line, off_t size)
{
	ssize_t w;
	int saved;

	do
		w = write(a->fd, line->data, line->len);
	while (w == -1 && errno == EINTR);
	if (w == (ssize_t)line->len) {
		a->dirty = true;
		return 0;
	}
	saved = w == -1 ? errno : EIO;
	if (w > 0 && ftruncate(a->fd, size) == -1)
		log_warn("audit: cannot cut a short write off %s", a->path);
	set_err(a, "audit: write %s: %s", a->path, strerror(saved));
	errno = saved;
	return -1;
}

/* append_locked - seal rec as the next record and write it; the lock is
 * held and a->seq/a->hash describe the file up to a->end == its size. */
static int
append_locked(struct audit *a, json_t *rec)
{
	struct buf line = BUF_INIT;
	char hash[AUDIT_HASH_HEX];
	int rc = -1;

	if (seal(rec, a->seq + 1, a->hash, &line, hash) == -1) {
		set_err(a, "audit: clock: %s", strerror(errno));
		goto out;
	}
	if (line.len - 1 > AUDIT_LINE_MAX) {
		set_err(a, "audit: record too long");
		errno = EINVAL;
		goto out;
	}
	if (write_line(a, &line, a->end) == -1)
		goto out;
	a->seq++;
	memcpy(a->hash, hash, AUDIT_HASH_HEX);
	a->end += (off_t)line.len;
	rc = 0;
out:
	buf_free(&line);
	return rc;
}

/* recover_torn - the file ends in a torn line (a crash during an append):
 * cut it off and record that we did. */
static int
recover_torn(struct audit *a, off_t size)
{
	json_t *rec = json_object();
	int rc;

	if (ftruncate(a->fd, a->end) == -1) {
		set_err(a, "audit: cutting the torn last line off %s: %s", a->path,
			strerror(errno));
		json_decref(rec);
		return -1;
	}
	log_warnx("audit: %s ended in a torn line of %lld bytes; cut off", a->path,
		  (long long)(size - a->end));
	json_object_set_new_nocheck(rec, "event", json_string_nocheck("audit.recover"));
	json_object_set_new_nocheck(rec, "dropped_bytes", json_integer(size - a->end));
	rc = append_locked(a, rec);
	json_decref(rec);
	return rc;
}

/* sync_tail - make a->seq/a->hash/a->end describe the file as it is now,
 * re-reading its last record when another writer has been there. */
static int
sync_tail(struct audit *a)
{
	struct stat st;
	off_t end;

	if (fstat(a->fd, &st) == -1) {
		set_err(a, "audit: fstat %s: %s", a->path, strerror(errno));
		return -1;
	}
	if (a->known && st.st_dev == a->dev && st.st_ino == a->ino && st.st_size == a->end)
		return 0;
	a->known = false;
	if (complete_end(a->fd, st.st_size, AUDIT_TORN_MAX, &end) == -1) {
		set_err(a, "audit: finding the last record of %s: %s", a->path, strerror(errno));
		return -1;
	}
	if (load_last(a, end) == -1)
		return -1;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	a->end = end;
	if (end != st.st_size && recover_torn(a, st.st_size) == -1)
		return -1;
	a->known = true;
	return 0;
}

int
audit_append(struct audit *a, const char *event, json_t *fields)
{
	json_t *rec;
	int rc = -1, saved;

	if (a->pid != getpid())
		log_bug("audit: handle opened by pid %ld used by pid %ld", (long)a->pid,
			(long)getpid());
	a->err[0] = '\0';
	if ((rec = build_body(a, event, fields)) == NULL)
		return -1;
	if (lock_log(a) == -1)
		goto out;
	if (sync_tail(a) == 0 && append_locked(a, rec) == 0)
		rc = 0;
	else
		a->known = false;
	saved = errno;
	(void)flock(a->fd, LOCK_UN);
	errno = saved;
	if (rc == 0 && (a->flags & AUDIT_SYNC))
		rc = audit_sync(a);
out:
	saved = errno;
	json_decref(rec);
	errno = saved;
	return rc;
}

int
audit_sync(struct audit *a)
{
	if (!a->dirty)
		return 0;
	if (fdatasync(a->fd) == -1) {
		set_err(a, "audit: fdatasync %s: %s", a->path, strerror(errno));
		return -1;
	}
	a->dirty = false;
	return 0;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->pid == getpid())
		(void)audit_sync(a);
	close(a->fd);
	free(a);
}

/* ---- anchors ---- */

int
audit_head(struct audit *a, uint64_t *seq, char hash[AUDIT_HASH_HEX])
{
	int rc = -1, saved;

	a->err[0] = '\0';
	if (lock_log(a) == -1)
		return -1;
	if (sync_tail(a) == 0) {
		*seq = a->seq;
		memcpy(hash, a->hash, AUDIT_HASH_HEX);
		rc = 0;
	} else {
		a->known = false;
	}
	saved = errno;
	(void)flock(a->fd, LOCK_UN);
	errno = saved;
	return rc;
}

void
audit_anchor_format(uint64_t seq, const char *hash, struct buf *out)
{
	buf_addf(out, "seq=%ju hash=%s", (uintmax_t)seq, hash);
}

int
audit_anchor_parse(const char *s, size_t len, uint64_t *seq, char hash[AUDIT_HASH_HEX])
{
	const char *end = s + len, *num, *h;
	size_t nlen;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
		end--;
	if ((size_t)(end - s) > 4 && memcmp(s, "seq=", 4) == 0) {
		num = s + 4;
		h = memchr(num, ' ', (size_t)(end - num));
		if (h == NULL || (size_t)(end - h) != 6 + AUDIT_HASH_HEX - 1 ||
		    memcmp(h, " hash=", 6) != 0)
			return -1;
		nlen = (size_t)(h - num);
		h += 6;
	} else {
		num = s;
		h = memchr(num, ':', (size_t)(end - num));
		if (h == NULL || (size_t)(end - h) != AUDIT_HASH_HEX)
			return -1;
		nlen = (size_t)(h - num);
		h += 1;
	}
	if (nlen == 0 || parse_u64n(num, nlen, UINT64_MAX, seq) == -1 || *seq == 0 ||
	    !is_hash_hex(h, AUDIT_HASH_HEX - 1))
		return -1;
	memcpy(hash, h, AUDIT_HASH_HEX - 1);
	hash[AUDIT_HASH_HEX - 1] = '\0';
	return 0;
}

int
audit_anchor_check(const char *path, uint64_t seq, const char *hash, struct buf *report)
{
	char prev[AUDIT_HASH_HEX], h[AUDIT_HASH_HEX];
	uint64_t s, last = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n' || n - 1 > AUDIT_LINE_MAX)
			break;
		if (audit_check_line(line, (size_t)n - 1, &s, prev, h, NULL) == -1) {
			if (s != seq)
				continue; /* audit verify names bad lines; here the anchor counts */
			buf_addf(report, "anchor seq=%ju: record %ju does not check: it was edited",
				 (uintmax_t)seq, (uintmax_t)seq);
			goto out;
		}
		last = s;
		if (s != seq)
			continue;
		if (strcmp(h, hash) == 0) {
			buf_addf(report, "anchor seq=%ju: ok", (uintmax_t)seq);
			rc = 0;
		} else {
			buf_addf(report,
				 "anchor seq=%ju: record %ju has another hash: the log was rewritten",
				 (uintmax_t)seq, (uintmax_t)seq);
		}
		goto out;
	}
	if (ferror(f))
		goto out;
	buf_addf(report,
		 "anchor seq=%ju: the log ends at record %ju: records after it were cut off "
		 "(truncated)",
		 (uintmax_t)seq, (uintmax_t)last);
out:
	free(line);
	fclose(f);
	return rc;
}

/* ---- tail and follow ---- */

int
audit_tail(const char *path, size_t n, struct buf *out)
{
	struct stat st;
	off_t end, start;
	size_t len;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || complete_end(fd, st.st_size, AUDIT_TORN_MAX, &end) == -1 ||
	    line_start(fd, end, n, &start) == -1)
		goto fail;
	len = (size_t)(end - start);
	buf_reserve(out, len);
	if (pread_all(fd, out->data + out->len, len, start) == -1)
		goto fail;
	out->len += len;
	out->data[out->len] = '\0';
	close(fd);
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* follow_emit - hand every complete line in data[0..len) to emit; returns
 * the bytes consumed or -1 (ECANCELED when emit asked to stop). */
static ssize_t
follow_emit(const char *data, size_t len, int (*emit)(const char *, size_t, void *), void *arg)
{
	size_t off = 0;
	const char *nl;

	while ((nl = memchr(data + off, '\n', len - off)) != NULL) {
		if (emit(data + off, (size_t)(nl - (data + off)), arg) != 0) {
			errno = ECANCELED;
			return -1;
		}
		off = (size_t)(nl - data) + 1;
	}
	return (ssize_t)off;
}

/* follow_step - read what is new after *off and emit its complete lines;
 * *more tells whether the read filled the buffer (look again at once). */
static int
follow_step(int fd, off_t *off, struct buf *b, int (*emit)(const char *, size_t, void *), void *arg,
	    bool *more)
{
	struct stat st;
	ssize_t r, used;

	*more = false;
	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_size < *off) {
		errno = ESTALE;
		return -1;
	}
	if (st.st_size == *off)
		return 0;
	if ((r = pread(fd, b->data, b->cap - 1, *off)) == -1)
		return errno == EINTR ? 0 : -1;
	if ((used = follow_emit(b->data, (size_t)r, emit, arg)) == -1)
		return -1;
	if (used == 0 && (size_t)r > AUDIT_LINE_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	*off += used;
	*more = (size_t)r == b->cap - 1 && used > 0;
	return 0;
}

int
audit_follow(const char *path, size_t n, int (*emit)(const char *line, size_t len, void *arg),
	     void *arg, volatile sig_atomic_t *stop)
{
	struct buf b = BUF_INIT;
	struct stat st;
	off_t end, off;
	bool more;
	int fd, rc = -1, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || complete_end(fd, st.st_size, AUDIT_TORN_MAX, &end) == -1 ||
	    line_start(fd, end, n, &off) == -1)
		goto out;
	buf_reserve(&b, 2 * (AUDIT_LINE_MAX + 1)); /* cap - 1 > AUDIT_LINE_MAX */
	while (!*stop) {
		if (follow_step(fd, &off, &b, emit, arg, &more) == -1)
			goto out;
		if (!more && !*stop) {
			struct timespec ts = {AUDIT_FOLLOW_POLL_MS / 1000,
					      (AUDIT_FOLLOW_POLL_MS % 1000) * 1000000L};

			(void)nanosleep(&ts, NULL);
		}
	}
	rc = 0;
out:
	saved = errno;
	close(fd);
	buf_free(&b);
	errno = saved;
	return rc;
}
