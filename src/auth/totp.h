/* SPDX-License-Identifier: ISC */
/*
 * totp - time-based one-time passwords for two-factor accounts: base32
 * secrets, HOTP/TOTP codes, the otpauth:// enrolment URI and its QR code,
 * and sealing of the secrets at rest.
 *
 * SECURITY: runs in the auth process (no network, unprivileged). The codes
 * given to totp_check() and the sealed strings given to unseal() are
 * untrusted (from the SMTP client and the account store); both are checked
 * byte by byte against fixed limits. Codes are compared in constant time and
 * every candidate step in the window is computed whatever matches, so the
 * timing says nothing about which step matched. Secrets, sealing keys and
 * intermediate MACs are wiped after use; the URI and the QR drawing contain
 * the secret, so their buffers must be released with buf_wipe_free(). The
 * only I/O is in seal_key_load() and seal_key_create().
 * STANDARDS: RFC 4648 section 6 (base32) and section 4 (base64, for sealed
 * strings); RFC 4226 (HOTP, section 5.3 dynamic truncation, R6 secret
 * length); RFC 6238 (TOTP, 30 s step, section 5.2 validation window and
 * replay); RFC 3986 section 2 (percent-encoding); the Google Authenticator
 * "Key Uri Format" for otpauth://; ISO/IEC 18004 (QR, 4-module quiet zone).
 */
#ifndef POSTERN_TOTP_H
#define POSTERN_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define TOTP_DIGITS 6
#define TOTP_PERIOD 30	    /* seconds per step */
#define TOTP_SECRET_LEN 20  /* bytes made by totp_new_secret (RFC 4226 R6: 160 bits) */
#define TOTP_KEY_MIN 16	    /* RFC 4226 R6: at least 128 bits */
#define TOTP_KEY_MAX 64	    /* the HMAC-SHA1 block size */
#define TOTP_WINDOW_MAX 10  /* steps either side of now */
#define TOTP_LABEL_MAX 256  /* bytes of issuer or account name in a URI */
#define SEAL_KEY_LEN 32	    /* crypto_secretbox_KEYBYTES */
#define SEAL_OVERHEAD 40    /* 24-byte nonce + 16-byte Poly1305 tag */
#define SEAL_PLAIN_MAX 4096 /* largest secret seal() and unseal() handle */
#define TOTP_KEY_FILE "totp.key" /* the sealing key, in state_dir */

/* Characters of base32 for n bytes, without padding (buffer: one more). */
#define BASE32_LEN(n) (((n) * 8 + 4) / 5)
/* Characters of a sealed string for n plaintext bytes (buffer: one more). */
#define SEAL_LEN(n) ((((n) + SEAL_OVERHEAD + 2) / 3) * 4)

/* base32_encode - RFC 4648 base32 of n bytes, upper case, no padding, into
 * out (outsz >= BASE32_LEN(n) + 1), NUL-terminated. 0, or -1 when out is too
 * small. The symbol mapping has no branches or table lookups on the data. */
int base32_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
/* base32_decode - decode the C string in: either case, spaces anywhere,
 * '=' padding allowed at the end only and then exactly as RFC 4648 writes
 * it. Refused (-1): any other character, an impossible length, non-zero
 * unused trailing bits (a non-canonical encoding), more than outsz bytes.
 * On success *outlen is the byte count; on failure *outlen is 0 and what was
 * written to out is wiped. */
int base32_decode(const char *in, uint8_t *out, size_t outsz, size_t *outlen);

/* totp_at - the RFC 4226 HOTP value (HMAC-SHA1, dynamic truncation, modulo
 * 10^6) of counter under key; TOTP is totp_at(key, keylen, now / 30). Any
 * key length is accepted (keylen <= INT_MAX); an OpenSSL failure is a broken
 * environment and aborts. */
uint32_t totp_at(const uint8_t *key, size_t keylen, uint64_t counter);
/* totp_check - is code (exactly TOTP_DIGITS ASCII digits, NUL-terminated)
 * the TOTP of a step in [now/30 - window, now/30 + window] that is greater
 * than last_used (0 when no code was ever accepted)? Returns 0 and sets
 * *step to that step (the highest one, should two match) for the caller to
 * store as the new last_used; -1 for a malformed code, no match, a replayed
 * step, keylen outside [TOTP_KEY_MIN, TOTP_KEY_MAX] or window above
 * TOTP_WINDOW_MAX (*step untouched). */
int totp_check(const uint8_t *key, size_t keylen, const char *code, uint64_t now, unsigned window,
	       uint64_t last_used, uint64_t *step);
/* totp_new_secret - TOTP_SECRET_LEN bytes from libsodium's randombytes_buf. */
void totp_new_secret(uint8_t key[TOTP_SECRET_LEN]);
/* totp_uri - append "otpauth://totp/ISSUER:ACCOUNT?secret=B32&issuer=ISSUER
 * &algorithm=SHA1&digits=6&period=30" to out, with issuer and account
 * percent-encoded (everything but RFC 3986 unreserved characters). Issuer
 * and account are UTF-8, 1 to TOTP_LABEL_MAX bytes, with no ':' (the label
 * separator) and no control characters; keylen is within [TOTP_KEY_MIN,
 * TOTP_KEY_MAX]. -1 with out unchanged otherwise. out then holds the secret:
 * release it with buf_wipe_free(). */
int totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen,
	     struct buf *out);
/* totp_qr_terminal - append text as a QR code (libqrencode, 8-bit mode, ECC
 * level M, 4-module quiet zone) drawn with U+2588, U+2580, U+2584 and spaces,
 * two module rows per line, each line ending in '\n'. As in `qrencode -t
 * UTF8` (whose output this matches byte for byte, colour codes aside),
 * blocks are the light modules: meant for light text on a dark terminal.
 * -1 (out unchanged) when text is empty or too long for a QR code.
 * The drawing encodes text, so wipe out when text held a secret. */
int totp_qr_terminal(const char *text, struct buf *out);

/* seal_key_load - read the sealing key from path: a regular file (not a
 * symlink), owned by the effective user, with no permission beyond 0600,
 * of exactly SEAL_KEY_LEN bytes. 0, or -1 with errno (EPERM for the owner or
 * mode, EINVAL for the type or size) and key wiped. */
int seal_key_load(const char *path, uint8_t key[SEAL_KEY_LEN]);
/* seal_key_create - make a new random key and store it at path, which must
 * not exist: written to a 0600 temp file in the same directory, fsynced,
 * linked to path (EEXIST if path appeared meanwhile: never replaced), temp
 * unlinked, directory fsynced. So path is either absent or complete, even
 * after a crash. 0 with the key in key, or -1 with errno and key wiped (a
 * crash may leave a ".NAME.XXXXXX" temp file behind). */
int seal_key_create(const char *path, uint8_t key[SEAL_KEY_LEN]);
/* seal - encrypt and authenticate n (<= SEAL_PLAIN_MAX) bytes with
 * crypto_secretbox (XSalsa20-Poly1305) under a fresh random nonce and append
 * base64 (RFC 4648 section 4, padded) of nonce || ciphertext to out:
 * SEAL_LEN(n) printable characters. 0, or -1 when n is too large. */
int seal(const uint8_t key[SEAL_KEY_LEN], const uint8_t *plain, size_t n, struct buf *out);
/* unseal - the reverse: 0 with *outlen plaintext bytes in out, or -1 (out
 * not written, *outlen 0) for anything but a canonical base64 string from
 * seal() under this key whose plaintext fits outsz: a changed character,
 * truncation, trailing bytes or the wrong key are all refused. */
int unseal(const uint8_t key[SEAL_KEY_LEN], const char *sealed, uint8_t *out, size_t outsz,
	   size_t *outlen);

#endif
