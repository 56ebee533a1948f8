/* SPDX-License-Identifier: ISC */
/*
 * bkcrypt - the encryption of a postern backup file (format version 1).
 *
 * A backup file is a fixed 88-byte header and then frames:
 *
 *   offset size
 *        0    8  magic "PSTNBKUP"
 *        8    2  format version, big-endian (1)
 *       10    1  key kind: 1 passphrase (Argon2id), 2 key file
 *       11    5  zero
 *       16    8  Argon2id opslimit (0 for a key file)
 *       24    8  Argon2id memlimit in bytes (0 for a key file)
 *       32   16  Argon2id salt (zero for a key file)
 *       48   24  the secretstream header (its random nonce)
 *       72   16  key check: BLAKE2b-128 of bytes 0..71, keyed with a subkey
 *       88       frames: length:u32 (big-endian) and that many bytes of
 *                crypto_secretstream_xchacha20poly1305 ciphertext holding
 *                at most BKCRYPT_CHUNK bytes of the record stream; the
 *                additional data of a frame is its length field, and for
 *                the first frame the whole header before it as well. The
 *                last frame is tagged FINAL and nothing may follow it.
 *
 * The master key is Argon2id(passphrase, salt) or the 32 bytes of a key
 * file; two subkeys are derived from it with crypto_kdf (context
 * "pstnbkup"): 1 encrypts the stream, 2 makes the key check. A wrong key
 * fails the key check before any frame is read, so it is told apart from a
 * modified file, which fails the frame that was changed (a cut file lacks
 * its FINAL frame; a changed header fails the first frame).
 *
 * SECURITY: no I/O. Header fields are untrusted: the KDF cost is bounded
 * (BKCRYPT_OPSLIMIT_MAX, BKCRYPT_MEMLIMIT_MAX) before any work is done.
 * Keys and the stream state are wiped by bkcrypt_*_wipe; callers wipe the
 * master keys and passphrases they hold.
 * STANDARDS: libsodium secretstream (XChaCha20-Poly1305), RFC 9106
 * (Argon2id), RFC 7693 (BLAKE2b).
 */
#ifndef POSTERN_BKCRYPT_H
#define POSTERN_BKCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define BKCRYPT_MAGIC "PSTNBKUP"
#define BKCRYPT_VERSION 1
#define BKCRYPT_HEADER_SIZE 88
#define BKCRYPT_KEY_LEN 32
#define BKCRYPT_SALT_LEN 16
#define BKCRYPT_CHECK_LEN 16
#define BKCRYPT_CHUNK 65536 /* record-stream bytes per frame */
#define BKCRYPT_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define BKCRYPT_FRAME_MAX (BKCRYPT_CHUNK + BKCRYPT_ABYTES) /* ciphertext bytes of a frame */
/* Argon2id cost of new backups: libsodium's "moderate" (256 MiB, 3 passes). */
#define BKCRYPT_OPSLIMIT crypto_pwhash_OPSLIMIT_MODERATE
#define BKCRYPT_MEMLIMIT crypto_pwhash_MEMLIMIT_MODERATE
/* The most a backup's header may ask of a restore. */
#define BKCRYPT_OPSLIMIT_MAX 32
#define BKCRYPT_MEMLIMIT_MAX (1ULL << 30)
/* A key file: 64 hex digits and a newline. */
#define BKCRYPT_KEYFILE_LEN (2 * BKCRYPT_KEY_LEN + 1)

enum bkcrypt_kind { BKCRYPT_PASSPHRASE = 1, BKCRYPT_KEYFILE = 2 };

struct bkcrypt_header {
	unsigned version;
	enum bkcrypt_kind kind;
	uint64_t opslimit, memlimit;
	uint8_t salt[BKCRYPT_SALT_LEN];
	uint8_t raw[BKCRYPT_HEADER_SIZE]; /* as in the file */
};

/* bkcrypt_header_new - a header for a new backup of kind: a fresh salt
 * and this version's KDF cost for a passphrase. The stream part is filled
 * by bkcrypt_writer_init. */
void bkcrypt_header_new(struct bkcrypt_header *h, enum bkcrypt_kind kind);
/* bkcrypt_header_parse - pure: the n bytes at p (at least the header
 * size) into h. 0; or -1 with *why a static phrase to follow the file
 * name ("is not a postern backup", ...) and *at -1, or with *why NULL and
 * *at the offset of a field that cannot be right (a damaged file). */
int bkcrypt_header_parse(const uint8_t *p, size_t n, struct bkcrypt_header *h, const char **why,
			 long *at);

/* bkcrypt_key_passphrase - the master key from a passphrase and the
 * header's salt and cost. 0, or -1 when Argon2id cannot run (memory). */
int bkcrypt_key_passphrase(const char *pass, size_t len, const struct bkcrypt_header *h,
			   uint8_t key[BKCRYPT_KEY_LEN]);
/* bkcrypt_key_parse - pure: a key file's text (64 hex digits, an optional
 * newline) into key. 0 or -1 (key wiped). */
int bkcrypt_key_parse(const char *text, size_t len, uint8_t key[BKCRYPT_KEY_LEN]);
/* bkcrypt_key_format - the text of a key file, NUL-terminated. */
void bkcrypt_key_format(const uint8_t key[BKCRYPT_KEY_LEN], char out[BKCRYPT_KEYFILE_LEN + 1]);

/* Writing: out receives the header, then each frame; it returns 0 or -1. */
struct bkcrypt_writer {
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t header[BKCRYPT_HEADER_SIZE];
	uint8_t plain[BKCRYPT_CHUNK];
	size_t fill;
	uint8_t frame[4 + BKCRYPT_FRAME_MAX];
	bool first;
	int (*out)(void *arg, const void *p, size_t n);
	void *arg;
	uint64_t written; /* bytes given to out */
};

/* bkcrypt_writer_init - start a backup under master key (its header h
 * from bkcrypt_header_new) and write the header. 0 or -1 (out failed). */
int bkcrypt_writer_init(struct bkcrypt_writer *w, struct bkcrypt_header *h,
			const uint8_t key[BKCRYPT_KEY_LEN],
			int (*out)(void *arg, const void *p, size_t n), void *arg);
/* bkcrypt_write - n more bytes of the record stream. 0 or -1. */
int bkcrypt_write(struct bkcrypt_writer *w, const void *p, size_t n);
/* bkcrypt_writer_finish - the FINAL frame. 0 or -1. Wipes w either way. */
int bkcrypt_writer_finish(struct bkcrypt_writer *w);
/* bkcrypt_writer_wipe - forget the keys (after a failure). */
void bkcrypt_writer_wipe(struct bkcrypt_writer *w);

/* Reading. */
struct bkcrypt_reader {
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t header[BKCRYPT_HEADER_SIZE];
	bool first;
	bool final; /* the FINAL frame was read */
};

/* bkcrypt_reader_init - check master key against h: 0, or -1 when it is
 * not the key the backup was made with (or the header was changed). */
int bkcrypt_reader_init(struct bkcrypt_reader *r, const struct bkcrypt_header *h,
			const uint8_t key[BKCRYPT_KEY_LEN]);
/* bkcrypt_frame_len - the ciphertext length from a frame's 4-byte length
 * field, or 0 when no frame can be that long. */
size_t bkcrypt_frame_len(const uint8_t len[4]);
/* bkcrypt_read - decrypt one frame: len (its 4-byte length field), c
 * (clen bytes of ciphertext) into out (room for BKCRYPT_CHUNK bytes).
 * 0 with *outlen set (r->final after the last frame), or -1 when the frame
 * is not authentic or comes after the FINAL one. */
int bkcrypt_read(struct bkcrypt_reader *r, const uint8_t len[4], const uint8_t *c, size_t clen,
		 uint8_t *out, size_t *outlen);
void bkcrypt_reader_wipe(struct bkcrypt_reader *r);

#endif
