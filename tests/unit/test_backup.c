/* SPDX-License-Identifier: ISC */
/*
 * test_backup - the backup format: the record parser (src/backup/bkrecord.c)
 * against a table of streams, whole and fed one byte at a time; the paths
 * it takes and refuses; and the encryption (src/backup/bkcrypt.c): a
 * round trip, a wrong key told apart from a changed file, and every kind
 * of change (header, length, ciphertext, a cut, bytes after the end)
 * found at the frame it touches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backup/bkcrypt.h"
#include "backup/bkrecord.h"
#include "lib/buf.h"

/* What the callbacks saw, as text: "M{...} F3:a:600:1 D1 E ..." */
struct seen {
	struct buf log;
};

static int
cb_manifest(void *arg, const char *json, size_t len)
{
	buf_addf(&((struct seen *)arg)->log, "M%.*s ", (int)len, json);
	return 0;
}

static int
cb_begin(void *arg, const struct bkrecord_file *f)
{
	buf_addf(&((struct seen *)arg)->log, "F%d:%s:%o:%ju", (int)f->area, f->path, f->mode,
		 (uintmax_t)f->size);
	return 0;
}

static int
cb_data(void *arg, const uint8_t *p, size_t n)
{
	buf_add(&((struct seen *)arg)->log, p, n);
	return 0;
}

static int
cb_end_file(void *arg, const struct bkrecord_file *f)
{
	(void)f;
	buf_adds(&((struct seen *)arg)->log, " ");
	return 0;
}

static int
cb_end(void *arg, uint64_t files, uint64_t bytes)
{
	buf_addf(&((struct seen *)arg)->log, "E%ju/%ju", (uintmax_t)files, (uintmax_t)bytes);
	return 0;
}

/* parse - the stream whole (step 0) or in pieces of step bytes; the
 * parser's verdict, why, and the log. */
static int
parse(const uint8_t *p, size_t n, size_t step, struct seen *s, const char **why)
{
	struct bkrecord_cb cb = {cb_manifest, cb_begin, cb_data, cb_end_file, cb_end, s};
	struct bkrecord_parser ps;
	size_t off;
	int rc = 0;

	buf_init(&s->log);
	bkrecord_init(&ps, &cb);
	for (off = 0; rc == 0 && off < n; off += step ? step : n)
		rc = bkrecord_feed(&ps, p + off, step && n - off > step ? step : n - off);
	if (rc == 0)
		rc = bkrecord_finish(&ps);
	*why = ps.why;
	bkrecord_free(&ps);
	return rc;
}

#define MAN "M\0\0\0\2{}"
#define CONF "F\1\0\6/a.cnf\0\0\1\244\0\0\0\0\0\0\0\1x"
#define EXT "F\2\0\4/k/y\0\0\1\200\0\0\0\0\0\0\0\0"
#define ST "F\3\0\3d/f\0\0\1\200\0\0\0\0\0\0\0\2hi"
#define END(files, bytes) "E\0\0\0\0\0\0\0" files "\0\0\0\0\0\0\0" bytes
#define ROW(s) s, sizeof(s) - 1
#define NOPATH "a file path that is not allowed"
#define NOEND "the end record does not match the files before it"
#define INSIDE "the stream ends inside a record"
#define TAIL0 "\0\0\1\200\0\0\0\0\0\0\0\0" /* mode 0600, size 0 */

static void
test_records(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *why; /* NULL: parses */
		const char *log;
	} rows[] = {
		{ROW(MAN CONF EXT ST END("\3", "\3")), NULL,
		 "M{} F1:/a.cnf:644:1x F2:/k/y:600:0 F3:d/f:600:2hi E3/3"},
		{ROW(MAN END("\0", "\0")), NULL, "M{} E0/0"},
		{ROW(MAN ST ST END("\2", "\4")), NULL, "M{} F3:d/f:600:2hi F3:d/f:600:2hi E2/4"},
		{ROW(""), "no end record", ""},
		{ROW(MAN), "no end record", "M{} "},
		{ROW(MAN "F\3\0\3d/"), INSIDE, "M{} "},
		{ROW(MAN "F\3\0\3d/f\0\0\1\200\0\0\0\0\0\0\0\2h"), INSIDE, "M{} F3:d/f:600:2h"},
		{ROW(ST), "the stream does not start with a manifest", ""},
		{ROW(MAN MAN), "a second manifest", "M{} "},
		{ROW("M\0\0\0\0"), "a manifest of a size not allowed", ""},
		{ROW("M\0\1\0\1"), "a manifest of a size not allowed", ""},
		{ROW(MAN "X"), "unknown record type", "M{} "},
		{ROW(MAN END("\1", "\0")), NOEND, "M{} "},
		{ROW(MAN ST END("\1", "\3")), NOEND, "M{} F3:d/f:600:2hi "},
		{ROW(MAN END("\0", "\0") "E"), "data after the end record", "M{} E0/0"},
		{ROW(MAN ST CONF), "files out of order (config, files it names, then state_dir)",
		 "M{} F3:d/f:600:2hi "},
		{ROW(MAN CONF CONF), "a second config file", "M{} F1:/a.cnf:644:1x "},
		{ROW(MAN "F\4\0\1a" TAIL0), "a file of an unknown area", "M{} "},
		{ROW(MAN "F\3\0\0"), "a file path of a length not allowed", "M{} "},
		{ROW(MAN "F\3\0\4../a" TAIL0), NOPATH, "M{} "},
		{ROW(MAN "F\3\0\2/a" TAIL0), NOPATH, "M{} "},
		{ROW(MAN "F\2\0\4/../" TAIL0), NOPATH, "M{} "},
		{ROW(MAN "F\3\0\1a\0\0\11\355\0\0\0\0\0\0\0\0"),
		 "a file mode with more than permission bits", "M{} "},
		{ROW(MAN "F\3\0\1a\0\0\1\200\0\0\1\0\0\0\0\1"), "a file too large", "M{} "},
	};
	size_t i, step;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (step = 0; step <= 1; step++) {
			struct seen s;
			const char *why = NULL;
			int rc = parse((const uint8_t *)rows[i].in, rows[i].len, step, &s, &why);

			bool why_ok = rows[i].why == NULL ? rc == 0
							  : rc == -1 && why != NULL &&
								    strcmp(why, rows[i].why) == 0;

			if (!why_ok || strcmp(buf_cstr(&s.log), rows[i].log) != 0)
				fail_msg("row %zu step %zu: rc %d why '%s' log '%s'", i, step, rc,
					 why ? why : "(null)", buf_cstr(&s.log));
			buf_free(&s.log);
		}
	}
}

static void
test_paths(void **state)
{
	static const struct {
		enum bkrecord_area area;
		const char *path;
		bool ok;
	} rows[] = {
		{BKAREA_STATE, "accounts.db", true},
		{BKAREA_STATE, "spool/queue/6b0a36900c8b0d6b.st", true},
		{BKAREA_STATE, "dkim/example.test/s-2026_a.key", true},
		{BKAREA_STATE, "a/b/c/d/e/f/g/h", true},
		{BKAREA_STATE, "a/b/c/d/e/f/g/h/i", false}, /* deeper than BKRECORD_DEPTH_MAX */
		{BKAREA_STATE, "", false},
		{BKAREA_STATE, "/etc/passwd", false},
		{BKAREA_STATE, "..", false},
		{BKAREA_STATE, "a/../b", false},
		{BKAREA_STATE, "a/./b", false},
		{BKAREA_STATE, ".restore/x", false},
		{BKAREA_STATE, "a//b", false},
		{BKAREA_STATE, "a/", false},
		{BKAREA_STATE, "a b", false},
		{BKAREA_STATE, "a\\b", false},
		{BKAREA_EXTERNAL, "/etc/postern/tls/mx key.pem", true},
		{BKAREA_EXTERNAL, "/etc/postern/.hidden", true},
		{BKAREA_EXTERNAL, "etc/postern", false},
		{BKAREA_EXTERNAL, "/", false},
		{BKAREA_EXTERNAL, "/etc/../shadow", false},
		{BKAREA_EXTERNAL, "/etc/./x", false},
		{BKAREA_EXTERNAL, "/etc//x", false},
		{BKAREA_EXTERNAL, "/etc/x/", false},
		{BKAREA_EXTERNAL, "/etc/x\ny", false},
		{BKAREA_CONFIG, "/etc/postern/postern.conf", true},
		{(enum bkrecord_area)0, "/etc/postern/postern.conf", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (valid_bkrecord_path(rows[i].area, rows[i].path, strlen(rows[i].path)) !=
		    rows[i].ok)
			fail_msg("row %zu: %s", i, rows[i].path);
	/* a NUL inside the bytes is never a path */
	assert_false(valid_bkrecord_path(BKAREA_STATE, "a\0b", 3));
}

/* The writer and the parser agree. */
static void
test_write_then_parse(void **state)
{
	struct bkrecord_file f = {BKAREA_STATE, "spool/queue/6b0a36900c8b0d6b", 0600, 3};
	struct buf b = BUF_INIT;
	struct seen s;
	const char *why;

	(void)state;
	bkrecord_manifest(&b, "{\"format\":1}", 12);
	assert_int_equal(bkrecord_file_head(&b, &f), 0);
	buf_add(&b, "abc", 3);
	f.area = BKAREA_STATE;
	snprintf(f.path, sizeof(f.path), "../x");
	assert_int_equal(bkrecord_file_head(&b, &f), -1); /* refused, nothing appended */
	snprintf(f.path, sizeof(f.path), "x");
	f.mode = 04755;
	assert_int_equal(bkrecord_file_head(&b, &f), -1);
	bkrecord_end(&b, 1, 3);
	assert_int_equal(parse((const uint8_t *)b.data, b.len, 0, &s, &why), 0);
	assert_string_equal(buf_cstr(&s.log),
			    "M{\"format\":1} F3:spool/queue/6b0a36900c8b0d6b:600:3abc E1/3");
	buf_free(&s.log);
	buf_free(&b);
}

/* Encryption. */

static int
to_buf(void *arg, const void *p, size_t n)
{
	buf_add(arg, p, n);
	return 0;
}

/* seal - plain (n bytes) as a backup file under key, into out. */
static void
seal(const uint8_t *key, struct bkcrypt_header *h, const uint8_t *plain, size_t n, struct buf *out)
{
	static struct bkcrypt_writer w;

	buf_init(out);
	assert_int_equal(bkcrypt_writer_init(&w, h, key, to_buf, out), 0);
	assert_int_equal(bkcrypt_write(&w, plain, n), 0);
	assert_int_equal(bkcrypt_writer_finish(&w), 0);
}

/* open_file - decrypt a backup file in memory: 0 with the plaintext, -2
 * for a wrong key, or -1 with *at the offset of the first bad frame. */
static int
open_file(const uint8_t *key, const struct buf *file, struct buf *plain, long *at)
{
	static uint8_t chunk[BKCRYPT_CHUNK];
	const uint8_t *p = (const uint8_t *)file->data;
	struct bkcrypt_header h;
	struct bkcrypt_reader r;
	size_t off = BKCRYPT_HEADER_SIZE, clen, n;
	const char *why;

	buf_init(plain);
	if (bkcrypt_header_parse(p, file->len, &h, &why, at) == -1)
		return -1;
	if (bkcrypt_reader_init(&r, &h, key) == -1)
		return -2;
	while (!r.final) {
		*at = (long)off;
		if (off + 4 > file->len || (clen = bkcrypt_frame_len(p + off)) == 0 ||
		    off + 4 + clen > file->len ||
		    bkcrypt_read(&r, p + off, p + off + 4, clen, chunk, &n) == -1)
			return -1;
		buf_add(plain, chunk, n);
		off += 4 + clen;
	}
	*at = (long)off;
	return off == file->len ? 0 : -1;
}

static void
test_crypt(void **state)
{
	static uint8_t plain[3 * BKCRYPT_CHUNK + 100];
	uint8_t key[BKCRYPT_KEY_LEN], other[BKCRYPT_KEY_LEN];
	const size_t frame = 4 + BKCRYPT_CHUNK + BKCRYPT_ABYTES;
	struct bkcrypt_header h;
	struct buf file, back, bad;
	long at;
	size_t i;

	(void)state;
	assert_true(sodium_init() >= 0);
	randombytes_buf(plain, sizeof(plain));
	randombytes_buf(key, sizeof(key));
	memcpy(other, key, sizeof(key));
	other[0] ^= 1;
	bkcrypt_header_new(&h, BKCRYPT_KEYFILE);
	seal(key, &h, plain, sizeof(plain), &file);
	/* header, three full frames, a last one of 100 bytes */
	assert_int_equal(file.len, BKCRYPT_HEADER_SIZE + 3 * frame + 4 + 100 + BKCRYPT_ABYTES);
	assert_int_equal(open_file(key, &file, &back, &at), 0);
	assert_int_equal(back.len, sizeof(plain));
	assert_memory_equal(back.data, plain, sizeof(plain));
	buf_free(&back);
	assert_int_equal(open_file(other, &file, &back, &at), -2);
	buf_free(&back);
	/* a changed byte is found at its frame */
	{
		static const struct {
			size_t off;
			long at;
		} rows[] = {
			{20, 16}, /* the KDF cost, which a key file does not have */
			{40, -2}, /* the salt: covered by the key check */
			{60, -2}, /* the stream header: the same */
			{80, -2}, /* the key check itself */
			{BKCRYPT_HEADER_SIZE + 2, BKCRYPT_HEADER_SIZE},	   /* a frame length */
			{BKCRYPT_HEADER_SIZE + 4 + 10, BKCRYPT_HEADER_SIZE}, /* ciphertext */
			{BKCRYPT_HEADER_SIZE + frame + 4 + 500, BKCRYPT_HEADER_SIZE + frame},
			{BKCRYPT_HEADER_SIZE + 3 * frame + 4 + 99, BKCRYPT_HEADER_SIZE + 3 * frame},
		};

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			int rc;

			buf_init(&bad);
			buf_add(&bad, file.data, file.len);
			bad.data[rows[i].off] ^= 0x20;
			rc = open_file(key, &bad, &back, &at);
			if (rows[i].at == -2 ? rc != -2 : (rc != -1 || at != rows[i].at))
				fail_msg("row %zu: rc %d at %ld", i, rc, at);
			buf_free(&back);
			buf_free(&bad);
		}
	}
	/* cut at a frame boundary (no FINAL frame), cut inside one, one frame
	 * dropped, bytes after the end */
	{
		static const struct {
			size_t keep;
			long at;
		} cuts[] = {
			{BKCRYPT_HEADER_SIZE + frame, BKCRYPT_HEADER_SIZE + frame},
			{BKCRYPT_HEADER_SIZE + 2 * frame + 7, BKCRYPT_HEADER_SIZE + 2 * frame},
			{BKCRYPT_HEADER_SIZE, BKCRYPT_HEADER_SIZE},
		};

		for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			buf_init(&bad);
			buf_add(&bad, file.data, cuts[i].keep);
			if (open_file(key, &bad, &back, &at) != -1 || at != cuts[i].at)
				fail_msg("cut %zu: at %ld", i, at);
			buf_free(&back);
			buf_free(&bad);
		}
		buf_init(&bad);
		buf_add(&bad, file.data, BKCRYPT_HEADER_SIZE + frame);
		buf_add(&bad, file.data + BKCRYPT_HEADER_SIZE + 2 * frame,
			file.len - BKCRYPT_HEADER_SIZE - 2 * frame);
		assert_int_equal(open_file(key, &bad, &back, &at), -1);
		assert_int_equal(at, BKCRYPT_HEADER_SIZE + frame);
		buf_free(&back);
		buf_free(&bad);
		buf_init(&bad);
		buf_add(&bad, file.data, file.len);
		buf_add(&bad, "x", 1);
		assert_int_equal(open_file(key, &bad, &back, &at), -1);
		assert_int_equal(at, (long)file.len);
		buf_free(&back);
		buf_free(&bad);
	}
	buf_free(&file);
}

/* A passphrase backup, with the cheapest Argon2id cost (set in the header
 * as a backup of another cost would have it). */
static void
test_passphrase(void **state)
{
	uint8_t key[BKCRYPT_KEY_LEN], again[BKCRYPT_KEY_LEN];
	struct bkcrypt_header h, parsed;
	const char *why;
	long at;
	int i;

	(void)state;
	assert_true(sodium_init() >= 0);
	bkcrypt_header_new(&h, BKCRYPT_PASSPHRASE);
	assert_int_equal(h.opslimit, BKCRYPT_OPSLIMIT);
	assert_int_equal(h.memlimit, BKCRYPT_MEMLIMIT);
	for (i = 0; i < 8; i++) {
		h.raw[16 + i] = (uint8_t)(i == 7 ? crypto_pwhash_OPSLIMIT_MIN : 0);
		h.raw[24 + i] = (uint8_t)(i == 5 ? 0x20 : 0); /* 2 MiB */
	}
	assert_int_equal(bkcrypt_header_parse(h.raw, sizeof(h.raw), &parsed, &why, &at), 0);
	assert_int_equal(parsed.memlimit, 2 * 1024 * 1024);
	assert_int_equal(bkcrypt_key_passphrase("correct horse", 13, &parsed, key), 0);
	assert_int_equal(bkcrypt_key_passphrase("correct horse", 13, &parsed, again), 0);
	assert_memory_equal(key, again, sizeof(key));
	assert_int_equal(bkcrypt_key_passphrase("correct horsf", 13, &parsed, again), 0);
	assert_memory_not_equal(key, again, sizeof(key));
	/* a header that asks too much is damaged, at the cost */
	h.raw[24 + 3] = 1; /* 4 GiB and more */
	assert_int_equal(bkcrypt_header_parse(h.raw, sizeof(h.raw), &parsed, &why, &at), -1);
	assert_null(why);
	assert_int_equal(at, 16);
}

static void
test_header(void **state)
{
	struct bkcrypt_header h, p;
	uint8_t raw[BKCRYPT_HEADER_SIZE];
	const char *why;
	long at;

	(void)state;
	bkcrypt_header_new(&h, BKCRYPT_KEYFILE);
	memcpy(raw, h.raw, sizeof(raw));
	assert_int_equal(bkcrypt_header_parse(raw, sizeof(raw), &p, &why, &at), 0);
	assert_int_equal(p.kind, BKCRYPT_KEYFILE);
	assert_int_equal(bkcrypt_header_parse(raw, 7, &p, &why, &at), -1);
	assert_string_equal(why, "is not a postern backup");
	assert_int_equal(bkcrypt_header_parse(raw, 40, &p, &why, &at), -1);
	assert_null(why);
	assert_int_equal(at, 40); /* cut inside the header */
	raw[9] = 2;
	assert_int_equal(bkcrypt_header_parse(raw, sizeof(raw), &p, &why, &at), -1);
	assert_string_equal(why, "is a backup of another format version (this postern reads "
				 "version 1)");
	raw[9] = 1;
	raw[10] = 3;
	assert_int_equal(bkcrypt_header_parse(raw, sizeof(raw), &p, &why, &at), -1);
	assert_int_equal(at, 10);
	raw[10] = BKCRYPT_KEYFILE;
	raw[13] = 1;
	assert_int_equal(bkcrypt_header_parse(raw, sizeof(raw), &p, &why, &at), -1);
	assert_int_equal(at, 11);
	raw[13] = 0;
	raw[23] = 1; /* a key file has no KDF cost */
	assert_int_equal(bkcrypt_header_parse(raw, sizeof(raw), &p, &why, &at), -1);
	assert_int_equal(at, 16);
	raw[0] = 'X';
	assert_int_equal(bkcrypt_header_parse(raw, sizeof(raw), &p, &why, &at), -1);
	assert_string_equal(why, "is not a postern backup");
}

static void
test_key_file(void **state)
{
	static const struct {
		const char *text;
		bool ok;
	} rows[] = {
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", true},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", true},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", false},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0\n", false},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n", false},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n", false},
		{"", false},
	};
	uint8_t key[BKCRYPT_KEY_LEN];
	char text[BKCRYPT_KEYFILE_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if ((bkcrypt_key_parse(rows[i].text, strlen(rows[i].text), key) == 0) != rows[i].ok)
			fail_msg("row %zu", i);
	assert_int_equal(bkcrypt_key_parse(rows[0].text, strlen(rows[0].text), key), 0);
	assert_int_equal(key[31], 0x1f);
	bkcrypt_key_format(key, text);
	assert_string_equal(text, rows[0].text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),	  cmocka_unit_test(test_paths),
		cmocka_unit_test(test_write_then_parse), cmocka_unit_test(test_crypt),
		cmocka_unit_test(test_passphrase), cmocka_unit_test(test_header),
		cmocka_unit_test(test_key_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
