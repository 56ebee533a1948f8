/* SPDX-License-Identifier: ISC */
/*
 * fuzz_audit - the audit log reader and writer (src/audit/audit.c).
 *
 * Log mode (any input not starting with a NUL byte): the input is a log.
 * Every line goes through audit_check_line; an accepted line must be the
 * canonical jansson form of itself with 64-hex prev and hash, and flipping
 * any one of its bytes (a sample of positions) must make it fail. Then
 * audit_verify_mem must agree with a verdict rebuilt here from the line
 * results (every line checks, seq 1, 2, ..., each prev the hash before, a
 * final newline), write exactly one report line, and audit_verify on the
 * same bytes through a memfd must write the same report.
 *
 * Value mode (input starting with a NUL byte): the rest, split at NUL
 * bytes, becomes up to four untrusted field values appended to a scratch
 * log; the new last line must check, chain to the previous one, stay one
 * line and give back each value as audit_str cleaned it, cut at
 * AUDIT_STR_MAX on a character boundary.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "lib/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

/* check_accepted - invariants of a line audit_check_line accepted. */
static void
check_accepted(const char *line, size_t len, uint64_t seq, const char *prev, const char *hash)
{
	json_t *rec = json_loadb(line, len, 0, NULL);
	char *again, *copy;
	char p2[AUDIT_HASH_HEX], h2[AUDIT_HASH_HEX];
	uint64_t s2;
	size_t i, step;

	if (rec == NULL || seq == 0 || !is_hex64(prev) || !is_hex64(hash) ||
	    memchr(line, '\n', len))
		abort();
	again = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (again == NULL || strlen(again) != len || memcmp(again, line, len) != 0)
		abort();
	if ((uint64_t)json_integer_value(json_object_get(rec, "seq")) != seq)
		abort();
	free(again);
	json_decref(rec);
	/* tamper evidence: one flipped byte anywhere is refused */
	copy = malloc(len);
	step = len / 24 + 1;
	for (i = seq % step; i < len; i += step) {
		memcpy(copy, line, len);
		copy[i] ^= (char)(1u << (i % 8));
		if (audit_check_line(copy, len, &s2, p2, h2, NULL) == 0)
			abort();
	}
	free(copy);
}

/* expected - the verdict rebuilt from the line results. */
static int
expected(const char *data, size_t size)
{
	char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
	char last[AUDIT_HASH_HEX] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	uint64_t seq, want = 1;
	size_t off = 0;
	int ok = 0;
	const char *nl;

	while ((nl = memchr(data + off, '\n', size - off)) != NULL) {
		size_t len = (size_t)(nl - (data + off));

		if (audit_check_line(data + off, len, &seq, prev, hash, NULL) == 0) {
			check_accepted(data + off, len, seq, prev, hash);
			if (ok == 0 && (seq != want || strcmp(prev, last) != 0))
				ok = -1;
			memcpy(last, hash, sizeof(last));
		} else {
			if (prev[0] != '\0' || hash[0] != '\0')
				abort();
			ok = -1;
		}
		want++;
		off += len + 1;
	}
	return off == size ? ok : -1;
}

static void
do_log(const char *data, size_t size)
{
	struct buf rep = BUF_INIT, rep2 = BUF_INIT;
	int rc = audit_verify_mem(data, size, &rep), fd;
	char path[64];

	if (rc != expected(data, size))
		abort();
	if (rep.len == 0 || rep.data[rep.len - 1] != '\n' || memchr(rep.data, '\n', rep.len - 1))
		abort();
	if ((rc == 0) != (strncmp(rep.data, "ok: ", 4) == 0))
		abort();
	fd = memfd_create("fuzz_audit", MFD_CLOEXEC);
	if (fd == -1 || write_all(fd, data, size) == -1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (audit_verify(path, &rep2) != rc || strcmp(rep.data, buf_cstr(&rep2)) != 0)
		abort();
	close(fd);
	buf_free(&rep);
	buf_free(&rep2);
}

/* ---- value mode ---- */

static char scratch_dir[] = "/tmp/fuzz_audit.XXXXXX";
static char scratch_log[64];
static struct audit *scratch;
static char scratch_hash[AUDIT_HASH_HEX];
static uint64_t scratch_seq;

static void
cleanup(void)
{
	audit_close(scratch);
	(void)unlink(scratch_log);
	(void)rmdir(scratch_dir);
}

/* scratch_open - a fresh scratch log (the first time, and when it grew). */
static void
scratch_open(void)
{
	char err[256];

	if (scratch == NULL) {
		if (mkdtemp(scratch_dir) == NULL)
			abort();
		snprintf(scratch_log, sizeof(scratch_log), "%s/%s", scratch_dir, AUDIT_FILE);
		atexit(cleanup);
	}
	audit_close(scratch);
	(void)unlink(scratch_log);
	if ((scratch = audit_open(scratch_log, 0, err, sizeof(err))) == NULL)
		abort();
	memset(scratch_hash, '0', 64);
	scratch_hash[64] = '\0';
	scratch_seq = 0;
}

static void
check_value(json_t *rec, const char *key, const char *raw, size_t len)
{
	json_t *want = audit_str(raw, len), *got = json_object_get(rec, key);
	size_t wlen = json_string_length(want), glen = json_string_length(got);

	if (!json_is_string(got) || glen > AUDIT_STR_MAX || glen > wlen ||
	    memcmp(json_string_value(got), json_string_value(want), glen) != 0)
		abort();
	/* cut only when needed, and never inside a character */
	if (glen < wlen && (wlen <= AUDIT_STR_MAX || AUDIT_STR_MAX - glen > 3 ||
			    ((unsigned char)json_string_value(want)[glen] & 0xc0) == 0x80))
		abort();
	json_decref(want);
}

static void
do_values(const char *data, size_t size)
{
	static const char *const keys[] = {"ip", "user", "helo", "mech"};
	const char *part[4];
	size_t plen[4], n = 0, off = 0, i;
	json_t *f = json_object(), *rec;
	struct buf last = BUF_INIT;
	char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
	uint64_t seq;

	while (n < 4 && off <= size) {
		const char *z = memchr(data + off, '\0', size - off);
		size_t len = z ? (size_t)(z - (data + off)) : size - off;

		part[n] = data + off;
		plen[n] = len;
		json_object_set_new(f, keys[n++], audit_str(data + off, len));
		off += len + 1;
	}
	if (scratch == NULL || scratch_seq > 2000)
		scratch_open();
	if (audit_append(scratch, "auth", f) == -1 || audit_tail(scratch_log, 1, &last) == -1)
		abort();
	if (last.len < 2 || memchr(last.data, '\n', last.len - 1) != NULL ||
	    audit_check_line(last.data, last.len - 1, &seq, prev, hash, NULL) == -1 ||
	    seq != scratch_seq + 1 || strcmp(prev, scratch_hash) != 0)
		abort();
	scratch_seq = seq;
	memcpy(scratch_hash, hash, sizeof(hash));
	rec = json_loadb(last.data, last.len - 1, 0, NULL);
	for (i = 0; i < n; i++)
		check_value(rec, keys[i], part[i], plen[i]);
	json_decref(rec);
	json_decref(f);
	buf_free(&last);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 18)
		return 0;
	if (size > 0 && data[0] == '\0')
		do_values((const char *)data + 1, size - 1);
	else
		do_log((const char *)data, size);
	return 0;
}
