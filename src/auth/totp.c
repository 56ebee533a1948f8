/* SPDX-License-Identifier: ISC */
/*
 * totp - base32, HOTP/TOTP codes, otpauth:// URIs and their QR codes, and
 * sealing of TOTP secrets at rest (crypto_secretbox under a key file).
 *
 * SECURITY: auth process only. Untrusted input: the code typed by the SMTP
 * client (totp_check) and sealed strings read back from the account store
 * (unseal); both are length-bounded before anything else is done. Work that
 * depends on a secret (base32 symbols, the code comparison, the choice of
 * the matching step) is done without data-dependent branches or lookups.
 * Every stack or heap copy of a secret is wiped before it goes out of scope.
 * The key file is read with O_NOFOLLOW and checked for type, owner, mode and
 * size; it is created complete or not at all (temp file, fsync, link, fsync
 * of the directory).
 * STANDARDS: RFC 4648 sections 4 and 6; RFC 4226 section 5.3 and R6;
 * RFC 6238 sections 4 and 5.2; RFC 3986 section 2.1 and 2.3; Google
 * Authenticator Key Uri Format; ISO/IEC 18004 quiet zone.
 */
#include "auth/totp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>
#include <sodium.h>

#include "lib/file.h"
#include "lib/log.h"
#include "lib/util.h"

_Static_assert(SEAL_KEY_LEN == crypto_secretbox_KEYBYTES, "SEAL_KEY_LEN");
_Static_assert(SEAL_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
	       "SEAL_OVERHEAD");
_Static_assert(SEAL_LEN(20) + 1 == sodium_base64_ENCODED_LEN(20 + SEAL_OVERHEAD,
							   sodium_base64_VARIANT_ORIGINAL),
	       "SEAL_LEN");
_Static_assert(TOTP_DIGITS == 6, "totp_check and totp_digits assume six digits");

#define QR_QUIET 4 /* modules of quiet zone on each side (ISO/IEC 18004) */
#define URI_PREFIX "otpauth://totp/"
#define URI_SUFFIX "&algorithm=SHA1&digits=6&period=30"

/* in_range - 1 if lo <= c <= hi, else 0, without a branch (c, lo, hi are
 * byte values, so both differences fit in 9 bits and bit 8 is their sign). */
static unsigned
in_range(unsigned c, unsigned lo, unsigned hi)
{
	return (((lo - 1 - c) & (c - hi - 1)) >> 8) & 1;
}

/* b32_symbol - the base32 character for a 5-bit value, branch-free. */
static char
b32_symbol(unsigned v)
{
	unsigned ge26 = 1 - (((v - 26) >> 8) & 1); /* v is 0..31 */

	return (char)('A' + v - ge26 * ('A' + 26 - '2'));
}

/* b32_value - the 5-bit value of a base32 character, or -1; branch-free. */
static int
b32_value(unsigned char ch)
{
	unsigned c = ch, v;

	v = (0u - in_range(c, 'A', 'Z')) & (c - 'A' + 1);
	v |= (0u - in_range(c, 'a', 'z')) & (c - 'a' + 1);
	v |= (0u - in_range(c, '2', '7')) & (c - '2' + 27);
	return (int)v - 1;
}

int
base32_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;

	if (n > (SIZE_MAX - 5) / 8 || outsz < BASE32_LEN(n) + 1)
		return -1;
	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_symbol((acc >> bits) & 31);
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		out[o++] = b32_symbol((acc << (5 - bits)) & 31);
	out[o] = '\0';
	explicit_bzero(&acc, sizeof(acc));
	return 0;
}

/* valid_b32_padding - is in (just after the first '=') the rest of a valid
 * padding for nsym symbols? Only '=' and spaces may follow, and the '='s
 * must complete a multiple of 8 symbols (RFC 4648 section 6). */
static bool
valid_b32_padding(const char *in, size_t nsym)
{
	size_t npad = 1;

	for (; *in != '\0'; in++) {
		if (*in == '=')
			npad++;
		else if (*in != ' ')
			return false;
	}
	return nsym % 8 != 0 && (nsym + npad) % 8 == 0;
}

int
base32_decode(const char *in, uint8_t *out, size_t outsz, size_t *outlen)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t len = 0, nsym = 0;
	int v;

	*outlen = 0;
	for (; *in != '\0' && *in != '='; in++) {
		if (*in == ' ')
			continue;
		if ((v = b32_value((unsigned char)*in)) == -1 || (bits >= 3 && len == outsz))
			goto fail;
		acc = ((acc << 5) | (uint32_t)v) & 0x1fff;
		bits += 5;
		nsym++;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (uint8_t)(acc >> bits);
		}
	}
	/* Five or more bits left means a symbol that ends no byte: a length
	 * (1, 3 or 6 modulo 8) no encoder writes. Non-zero leftover bits would
	 * let two strings decode to one secret. */
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		goto fail;
	if (*in == '=' && !valid_b32_padding(in + 1, nsym))
		goto fail;
	explicit_bzero(&acc, sizeof(acc));
	*outlen = len;
	return 0;
fail:
	explicit_bzero(&acc, sizeof(acc));
	explicit_bzero(out, len);
	return -1;
}

uint32_t
totp_at(const uint8_t *key, size_t keylen, uint64_t counter)
{
	static const uint8_t nokey; /* HMAC() takes a NULL key to mean "reuse" */
	unsigned char mac[EVP_MAX_MD_SIZE], msg[8];
	unsigned int maclen = 0, off, i;
	uint32_t bin;

	if (keylen > INT_MAX)
		log_bug("totp_at: key of %zu bytes", keylen);
	for (i = 0; i < 8; i++)
		msg[i] = (unsigned char)(counter >> (56 - 8 * i));
	if (HMAC(EVP_sha1(), keylen > 0 ? key : &nokey, (int)keylen, msg, sizeof(msg), mac,
		 &maclen) == NULL ||
	    maclen != 20)
		log_fatalx("totp: HMAC-SHA1 failed");
	/* RFC 4226 section 5.3: dynamic truncation. */
	off = mac[19] & 0xf;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	      ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	explicit_bzero(mac, sizeof(mac));
	return bin % 1000000;
}

/* totp_digits - v (< 10^6) as six ASCII digits; division by constants
 * compiles to multiplications, so this does not branch on the value. */
static void
totp_digits(uint32_t v, char d[TOTP_DIGITS])
{
	int i;

	for (i = TOTP_DIGITS - 1; i >= 0; i--) {
		d[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* valid_totp_code - exactly TOTP_DIGITS ASCII digits, then the NUL. Reads
 * no byte past the first non-digit, so a short string is never overrun. */
static bool
valid_totp_code(const char *code)
{
	size_t i;

	for (i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return false;
	return code[TOTP_DIGITS] == '\0';
}

int
totp_check(const uint8_t *key, size_t keylen, const char *code, uint64_t now, unsigned window,
	   uint64_t last_used, uint64_t *step)
{
	char want[TOTP_DIGITS];
	uint64_t t = now / TOTP_PERIOD, c, lo, hi, found = 0, mask;
	unsigned match = 0, eq;

	if (keylen < TOTP_KEY_MIN || keylen > TOTP_KEY_MAX || window > TOTP_WINDOW_MAX ||
	    !valid_totp_code(code))
		return -1;
	lo = t >= window ? t - window : 0;
	hi = t + window; /* t <= UINT64_MAX / 30: no overflow */
	/* Every step is computed and compared, match or not; the steps and
	 * last_used are public, the code and which step it matched are not. */
	for (c = lo; c <= hi; c++) {
		if (c <= last_used)
			continue;
		totp_digits(totp_at(key, keylen, c), want);
		eq = (unsigned)(CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0);
		mask = 0 - (uint64_t)eq;
		found = (found & ~mask) | (c & mask);
		match |= eq;
	}
	explicit_bzero(want, sizeof(want));
	if (!match)
		return -1;
	*step = found;
	return 0;
}

/* sodium_ready - sodium_init() is idempotent and thread-safe; failure
 * means no usable randomness, which nothing here can work around. */
static void
sodium_ready(void)
{
	if (sodium_init() < 0)
		log_fatalx("totp: libsodium initialisation failed");
}

void
totp_new_secret(uint8_t key[TOTP_SECRET_LEN])
{
	sodium_ready();
	randombytes_buf(key, TOTP_SECRET_LEN);
}

/* valid_uri_label - an issuer or account name totp_uri() accepts. */
static bool
valid_uri_label(const char *s)
{
	size_t n = strnlen(s, TOTP_LABEL_MAX + 1), i;

	if (n == 0 || n > TOTP_LABEL_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == ':')
			return false;
	return true;
}

/* uri_escape - append s with every byte but the RFC 3986 unreserved
 * characters as %XX (upper-case hex, section 2.1). */
static void
uri_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (in_range(c, 'A', 'Z') || in_range(c, 'a', 'z') || in_range(c, '0', '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf_addc(out, (char)c);
			continue;
		}
		buf_addc(out, '%');
		buf_addc(out, hex[c >> 4]);
		buf_addc(out, hex[c & 15]);
	}
}

int
totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen,
	 struct buf *out)
{
	char b32[BASE32_LEN(TOTP_KEY_MAX) + 1];
	size_t ni, na;

	if (!valid_uri_label(issuer) || !valid_uri_label(account) || keylen < TOTP_KEY_MIN ||
	    keylen > TOTP_KEY_MAX)
		return -1;
	if (base32_encode(key, keylen, b32, sizeof(b32)) == -1)
		log_bug("totp_uri: base32 of %zu bytes", keylen);
	ni = strlen(issuer);
	na = strlen(account);
	/* One reservation up front: a later realloc would leave a copy of the
	 * secret in freed memory. */
	buf_reserve(out, sizeof(URI_PREFIX) + 6 * ni + 3 * na + sizeof("?secret=") +
			     BASE32_LEN(keylen) + sizeof("&issuer=") + sizeof(URI_SUFFIX));
	buf_adds(out, URI_PREFIX);
	uri_escape(out, issuer);
	buf_addc(out, ':');
	uri_escape(out, account);
	buf_adds(out, "?secret=");
	buf_adds(out, b32);
	buf_adds(out, "&issuer=");
	uri_escape(out, issuer);
	buf_adds(out, URI_SUFFIX);
	explicit_bzero(b32, sizeof(b32));
	return 0;
}

/* is_light_module - is the module at (x, y) of the drawing light? The quiet
 * zone is, and so is the half row under it that completes the last line (an
 * odd number of rows), as in `qrencode -t UTF8`. */
static bool
is_light_module(const QRcode *qr, int x, int y)
{
	int w = qr->width;

	x -= QR_QUIET;
	y -= QR_QUIET;
	if (x < 0 || y < 0 || x >= w || y >= w)
		return true;
	return (qr->data[y * w + x] & 1) == 0;
}

int
totp_qr_terminal(const char *text, struct buf *out)
{
	static const char *const glyph[4] = {" ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88"};
	QRcode *qr;
	int size, x, y;

	if (*text == '\0' || (qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M)) == NULL)
		return -1;
	size = qr->width + 2 * QR_QUIET;
	/* Up to 3 bytes per cell and a newline per line, reserved at once for
	 * the same reason as in totp_uri(). */
	buf_reserve(out, (size_t)(size + 1) / 2 * ((size_t)size * 3 + 1));
	for (y = 0; y < size; y += 2) {
		for (x = 0; x < size; x++)
			buf_adds(out, glyph[is_light_module(qr, x, y) << 1 |
					    is_light_module(qr, x, y + 1)]);
		buf_addc(out, '\n');
	}
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return 0;
}

/* key_file_ok - the checks seal_key_load() makes on an open key file. */
static int
key_file_ok(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_size != SEAL_KEY_LEN) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 07777 & ~(mode_t)0600) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
seal_key_load(const char *path, uint8_t key[SEAL_KEY_LEN])
{
	uint8_t tmp[SEAL_KEY_LEN + 1];
	ssize_t got;
	int fd, saved;

	/* O_NONBLOCK: a FIFO planted at path must not hang the open. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		goto fail;
	if (key_file_ok(fd) == -1 || (got = read_all(fd, tmp, sizeof(tmp))) == -1)
		goto fail;
	if (got != SEAL_KEY_LEN) { /* changed size since fstat */
		errno = EINVAL;
		goto fail;
	}
	close(fd);
	memcpy(key, tmp, SEAL_KEY_LEN);
	explicit_bzero(tmp, sizeof(tmp));
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	explicit_bzero(tmp, sizeof(tmp));
	explicit_bzero(key, SEAL_KEY_LEN);
	errno = saved;
	return -1;
}

/* split_path - the directory of path ("." when it has no slash) and a temp
 * name in that directory for the new key file. */
static int
split_path(const char *path, char *dir, size_t dirsz, char *tmp, size_t tmpsz)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	int rc;

	if (slash == NULL)
		rc = str_copy(dir, ".", dirsz);
	else if (slash == path)
		rc = str_copy(dir, "/", dirsz);
	else if ((size_t)(slash - path) < dirsz)
		rc = str_fmt(dir, dirsz, "%.*s", (int)(slash - path), path);
	else
		rc = -1;
	if (rc == -1 || *base == '\0' || str_fmt(tmp, tmpsz, "%s/.%s.XXXXXX", dir, base) == -1) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* write_key_temp - a new 0600 temp file holding key, fsynced. */
static int
write_key_temp(char *tmp, const uint8_t key[SEAL_KEY_LEN])
{
	int fd, saved;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fchmod(fd, 0600) == -1 || write_all(fd, key, SEAL_KEY_LEN) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		(void)unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		(void)unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int
seal_key_create(const char *path, uint8_t key[SEAL_KEY_LEN])
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	uint8_t k[SEAL_KEY_LEN];
	int saved;

	sodium_ready();
	crypto_secretbox_keygen(k);
	if (split_path(path, dir, sizeof(dir), tmp, sizeof(tmp)) == -1 ||
	    write_key_temp(tmp, k) == -1)
		goto fail;
	/* link() never replaces an existing path, symlinks included. */
	if (link(tmp, path) == -1) {
		saved = errno;
		(void)unlink(tmp);
		errno = saved;
		goto fail;
	}
	(void)unlink(tmp);
	if (fsync_dir(dir) == -1) {
		saved = errno;
		(void)unlink(path); /* ours: linked a moment ago */
		errno = saved;
		goto fail;
	}
	memcpy(key, k, SEAL_KEY_LEN);
	explicit_bzero(k, sizeof(k));
	return 0;
fail:
	saved = errno;
	explicit_bzero(k, sizeof(k));
	explicit_bzero(key, SEAL_KEY_LEN);
	errno = saved;
	return -1;
}

int
seal(const uint8_t key[SEAL_KEY_LEN], const uint8_t *plain, size_t n, struct buf *out)
{
	size_t boxlen = n + SEAL_OVERHEAD;
	uint8_t *box;
	char *b64;

	if (n > SEAL_PLAIN_MAX)
		return -1;
	sodium_ready();
	box = xmalloc(boxlen);
	b64 = xmalloc(SEAL_LEN(n) + 1);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	if (crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain, n, box, key) != 0)
		log_bug("seal: crypto_secretbox_easy of %zu bytes", n);
	sodium_bin2base64(b64, SEAL_LEN(n) + 1, box, boxlen, sodium_base64_VARIANT_ORIGINAL);
	buf_add(out, b64, SEAL_LEN(n));
	free(b64);
	free(box);
	return 0;
}

int
unseal(const uint8_t key[SEAL_KEY_LEN], const char *sealed, uint8_t *out, size_t outsz,
       size_t *outlen)
{
	size_t cap = (outsz < SEAL_PLAIN_MAX ? outsz : SEAL_PLAIN_MAX) + SEAL_OVERHEAD;
	size_t max = SEAL_LEN(cap - SEAL_OVERHEAD), slen, boxlen = 0;
	const char *end = NULL;
	uint8_t *box;
	int rc = -1;

	*outlen = 0;
	slen = strnlen(sealed, max + 1);
	if (slen > max)
		return -1;
	sodium_ready();
	box = xmalloc(cap);
	/* libsodium's decoder refuses bad padding and non-zero unused bits, so
	 * every change to the string changes the bytes or is refused here. */
	if (sodium_base642bin(box, cap, sealed, slen, NULL, &boxlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != sealed + slen || boxlen < SEAL_OVERHEAD || boxlen - SEAL_OVERHEAD > outsz)
		goto done;
	if (crypto_secretbox_open_easy(out, box + crypto_secretbox_NONCEBYTES,
				       boxlen - crypto_secretbox_NONCEBYTES, box, key) != 0)
		goto done;
	*outlen = boxlen - SEAL_OVERHEAD;
	rc = 0;
done:
	free(box);
	return rc;
}
