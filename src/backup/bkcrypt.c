/* SPDX-License-Identifier: ISC */
/*
 * bkcrypt - header, keys and framed secretstream of a backup file.
 *
 * SECURITY: see bkcrypt.h. Subkeys live on the stack only as long as one
 * call needs them and are wiped before it returns.
 */
#include "backup/bkcrypt.h"

#include <string.h>

#include "lib/util.h"

#define OFF_VERSION 8
#define OFF_KIND 10
#define OFF_ZERO 11
#define OFF_OPS 16
#define OFF_MEM 24
#define OFF_SALT 32
#define OFF_STREAM 48
#define OFF_CHECK 72
#define KDF_CONTEXT "pstnbkup"
#define SUBKEY_STREAM 1
#define SUBKEY_CHECK 2

void
bkcrypt_header_new(struct bkcrypt_header *h, enum bkcrypt_kind kind)
{
	memset(h, 0, sizeof(*h));
	h->version = BKCRYPT_VERSION;
	h->kind = kind;
	if (kind == BKCRYPT_PASSPHRASE) {
		h->opslimit = BKCRYPT_OPSLIMIT;
		h->memlimit = BKCRYPT_MEMLIMIT;
		randombytes_buf(h->salt, sizeof(h->salt));
	}
	memcpy(h->raw, BKCRYPT_MAGIC, 8);
	be_store(h->raw + OFF_VERSION, h->version, 2);
	h->raw[OFF_KIND] = (uint8_t)kind;
	be_store(h->raw + OFF_OPS, h->opslimit, 8);
	be_store(h->raw + OFF_MEM, h->memlimit, 8);
	memcpy(h->raw + OFF_SALT, h->salt, sizeof(h->salt));
}

/* valid_cost - the KDF fields fit the kind (and a restore can afford them). */
static bool
valid_cost(const struct bkcrypt_header *h)
{
	if (h->kind == BKCRYPT_KEYFILE)
		return h->opslimit == 0 && h->memlimit == 0;
	return h->opslimit >= crypto_pwhash_OPSLIMIT_MIN && h->opslimit <= BKCRYPT_OPSLIMIT_MAX &&
	       h->memlimit >= crypto_pwhash_MEMLIMIT_MIN && h->memlimit <= BKCRYPT_MEMLIMIT_MAX;
}

int
bkcrypt_header_parse(const uint8_t *p, size_t n, struct bkcrypt_header *h, const char **why,
		     long *at)
{
	static const uint8_t zero[5];

	memset(h, 0, sizeof(*h));
	*why = NULL;
	*at = -1;
	if (n < 8 || memcmp(p, BKCRYPT_MAGIC, 8) != 0) {
		*why = "is not a postern backup";
		return -1;
	}
	if (n < BKCRYPT_HEADER_SIZE) {
		*at = (long)n; /* cut inside the header */
		return -1;
	}
	memcpy(h->raw, p, BKCRYPT_HEADER_SIZE);
	h->version = (unsigned)be_load(p + OFF_VERSION, 2);
	if (h->version != BKCRYPT_VERSION) {
		*why = "is a backup of another format version (this postern reads version 1)";
		return -1;
	}
	h->kind = (enum bkcrypt_kind)p[OFF_KIND];
	h->opslimit = be_load(p + OFF_OPS, 8);
	h->memlimit = be_load(p + OFF_MEM, 8);
	memcpy(h->salt, p + OFF_SALT, sizeof(h->salt));
	if (h->kind != BKCRYPT_PASSPHRASE && h->kind != BKCRYPT_KEYFILE)
		*at = OFF_KIND;
	else if (memcmp(p + OFF_ZERO, zero, sizeof(zero)) != 0)
		*at = OFF_ZERO;
	else if (!valid_cost(h))
		*at = OFF_OPS;
	return *at == -1 ? 0 : -1;
}

int
bkcrypt_key_passphrase(const char *pass, size_t len, const struct bkcrypt_header *h,
		       uint8_t key[BKCRYPT_KEY_LEN])
{
	if (crypto_pwhash(key, BKCRYPT_KEY_LEN, pass, len, h->salt, h->opslimit,
			  (size_t)h->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_memzero(key, BKCRYPT_KEY_LEN);
		return -1;
	}
	return 0;
}

int
bkcrypt_key_parse(const char *text, size_t len, uint8_t key[BKCRYPT_KEY_LEN])
{
	size_t got = 0;
	const char *end = NULL;

	if (len == BKCRYPT_KEYFILE_LEN && text[len - 1] == '\n')
		len--;
	if (len != 2 * BKCRYPT_KEY_LEN ||
	    sodium_hex2bin(key, BKCRYPT_KEY_LEN, text, len, NULL, &got, &end) != 0 ||
	    got != BKCRYPT_KEY_LEN || end != text + len) {
		sodium_memzero(key, BKCRYPT_KEY_LEN);
		return -1;
	}
	return 0;
}

void
bkcrypt_key_format(const uint8_t key[BKCRYPT_KEY_LEN], char out[BKCRYPT_KEYFILE_LEN + 1])
{
	sodium_bin2hex(out, BKCRYPT_KEYFILE_LEN, key, BKCRYPT_KEY_LEN);
	out[BKCRYPT_KEYFILE_LEN - 1] = '\n';
	out[BKCRYPT_KEYFILE_LEN] = '\0';
}

/* key_check - the check field for the first OFF_CHECK bytes of raw. */
static void
key_check(const uint8_t *raw, const uint8_t key[BKCRYPT_KEY_LEN], uint8_t out[BKCRYPT_CHECK_LEN])
{
	uint8_t sub[BKCRYPT_KEY_LEN];

	crypto_kdf_derive_from_key(sub, sizeof(sub), SUBKEY_CHECK, KDF_CONTEXT, key);
	crypto_generichash(out, BKCRYPT_CHECK_LEN, raw, OFF_CHECK, sub, sizeof(sub));
	sodium_memzero(sub, sizeof(sub));
}

int
bkcrypt_writer_init(struct bkcrypt_writer *w, struct bkcrypt_header *h,
		    const uint8_t key[BKCRYPT_KEY_LEN],
		    int (*out)(void *arg, const void *p, size_t n), void *arg)
{
	uint8_t sub[BKCRYPT_KEY_LEN];

	memset(w, 0, sizeof(*w));
	w->out = out;
	w->arg = arg;
	w->first = true;
	crypto_kdf_derive_from_key(sub, sizeof(sub), SUBKEY_STREAM, KDF_CONTEXT, key);
	crypto_secretstream_xchacha20poly1305_init_push(&w->st, h->raw + OFF_STREAM, sub);
	sodium_memzero(sub, sizeof(sub));
	key_check(h->raw, key, h->raw + OFF_CHECK);
	memcpy(w->header, h->raw, sizeof(w->header));
	if (out(arg, w->header, sizeof(w->header)) == -1)
		return -1;
	w->written = sizeof(w->header);
	return 0;
}

/* push - the buffered plaintext as one frame (tag FINAL or not). */
static int
push(struct bkcrypt_writer *w, uint8_t tag)
{
	size_t clen = w->fill + BKCRYPT_ABYTES;
	uint8_t ad[BKCRYPT_HEADER_SIZE + 4];
	size_t adlen = 0;

	be_store(w->frame, clen, 4);
	if (w->first)
		memcpy(ad, w->header, (adlen = sizeof(w->header)));
	memcpy(ad + adlen, w->frame, 4);
	adlen += 4;
	crypto_secretstream_xchacha20poly1305_push(&w->st, w->frame + 4, NULL, w->plain, w->fill,
						   ad, adlen, tag);
	w->first = false;
	sodium_memzero(w->plain, w->fill);
	w->fill = 0;
	if (w->out(w->arg, w->frame, 4 + clen) == -1)
		return -1;
	w->written += 4 + clen;
	return 0;
}

int
bkcrypt_write(struct bkcrypt_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		size_t k = sizeof(w->plain) - w->fill;

		if (k > n)
			k = n;
		memcpy(w->plain + w->fill, b, k);
		w->fill += k;
		b += k;
		n -= k;
		/* a full chunk waits for more, so the last chunk can be FINAL */
		if (w->fill == sizeof(w->plain) && n > 0 &&
		    push(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) == -1)
			return -1;
	}
	return 0;
}

int
bkcrypt_writer_finish(struct bkcrypt_writer *w)
{
	int rc = push(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL);

	bkcrypt_writer_wipe(w);
	return rc;
}

void
bkcrypt_writer_wipe(struct bkcrypt_writer *w)
{
	sodium_memzero(&w->st, sizeof(w->st));
	sodium_memzero(w->plain, sizeof(w->plain));
	w->fill = 0;
}

int
bkcrypt_reader_init(struct bkcrypt_reader *r, const struct bkcrypt_header *h,
		    const uint8_t key[BKCRYPT_KEY_LEN])
{
	uint8_t check[BKCRYPT_CHECK_LEN], sub[BKCRYPT_KEY_LEN];
	int rc;

	memset(r, 0, sizeof(*r));
	key_check(h->raw, key, check);
	if (sodium_memcmp(check, h->raw + OFF_CHECK, sizeof(check)) != 0)
		return -1;
	memcpy(r->header, h->raw, sizeof(r->header));
	r->first = true;
	crypto_kdf_derive_from_key(sub, sizeof(sub), SUBKEY_STREAM, KDF_CONTEXT, key);
	rc = crypto_secretstream_xchacha20poly1305_init_pull(&r->st, h->raw + OFF_STREAM, sub);
	sodium_memzero(sub, sizeof(sub));
	return rc == 0 ? 0 : -1;
}

size_t
bkcrypt_frame_len(const uint8_t len[4])
{
	uint64_t n = be_load(len, 4);

	return n >= BKCRYPT_ABYTES && n <= BKCRYPT_FRAME_MAX ? (size_t)n : 0;
}

int
bkcrypt_read(struct bkcrypt_reader *r, const uint8_t len[4], const uint8_t *c, size_t clen,
	     uint8_t *out, size_t *outlen)
{
	uint8_t ad[BKCRYPT_HEADER_SIZE + 4];
	size_t adlen = 0;
	unsigned long long n;
	unsigned char tag;

	*outlen = 0;
	if (r->final || bkcrypt_frame_len(len) != clen)
		return -1;
	if (r->first)
		memcpy(ad, r->header, (adlen = sizeof(r->header)));
	memcpy(ad + adlen, len, 4);
	adlen += 4;
	if (crypto_secretstream_xchacha20poly1305_pull(&r->st, out, &n, &tag, c, clen, ad, adlen) !=
	    0)
		return -1;
	r->first = false;
	*outlen = (size_t)n;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		r->final = true;
	else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
		return -1;
	return 0;
}

void
bkcrypt_reader_wipe(struct bkcrypt_reader *r)
{
	sodium_memzero(&r->st, sizeof(r->st));
}
