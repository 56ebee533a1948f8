/* SPDX-License-Identifier: ISC */
/*
 * pwhash - Argon2id password hashes, and verification of the stored hash
 * formats Dovecot writes.
 *
 * SECURITY: see pwhash.h. Every stored string goes through one strict
 * parser, parse_stored(), before anything is hashed: a {SCHEME} from a
 * fixed table, then that scheme's exact syntax with the work factor capped,
 * so libsodium and libxcrypt only ever see strings of a form we know and
 * the fuzz target can check that they agree with the parser. Digits of
 * stored digests are classified and decoded with arithmetic instead of
 * branches or tables; digests are compared with CRYPTO_memcmp() (crypt(3)
 * output included) or inside libsodium (sodium_memcmp). Password copies
 * (for crypt(3)'s NUL-terminated interface), derived keys and decoded
 * digests are wiped before return. No I/O; no state besides libsodium's own
 * initialisation, so every function may run on any hash-pool thread.
 * STANDARDS: RFC 9106 and the PHC string format (libsodium's encoder:
 * version 19, canonical unpadded base64); RFC 8018 section 5.2 (PBKDF2 with
 * HMAC-SHA1, as Dovecot's "$1$salt$rounds$hex"); RFC 4648 section 4; the
 * crypt(5) formats of libxcrypt; Dovecot 2.3 SSHA512 (base64 of
 * SHA-512(password || salt) || salt).
 */
#include "auth/pwhash.h"

#include <crypt.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "lib/util.h"

#define SSHA512_LEN 64	 /* SHA-512 digest, before the salt */
#define PBKDF2_LEN 20	 /* Dovecot's key size: one HMAC-SHA1 block */
#define PBKDF2_SALT_MAX 64
#define ARGON2_M_MIN 8	     /* KiB: libsodium's floor for one lane */
#define ARGON2_SALT_MIN 8    /* bytes (libsodium) */
#define ARGON2_HASH_MIN 16   /* bytes (libsodium) */
#define SHACRYPT_ROUNDS_MIN 1000
#define SHACRYPT_SALT_MAX 16 /* libxcrypt silently cuts longer salts */
#define MD5CRYPT_SALT_MAX 8
#define BCRYPT_COST_MIN 4
#define DUMMY_LEN 32 /* bytes of Argon2id output in a libsodium string */

_Static_assert(PWHASH_STR_MAX >= sizeof("{ARGON2ID}") - 1 + crypto_pwhash_argon2id_STRBYTES,
	       "PWHASH_STR_MAX too small for a libsodium string");
_Static_assert(PWHASH_PW_MAX < CRYPT_MAX_PASSPHRASE_SIZE, "crypt(3) refuses long passwords");
_Static_assert(PWHASH_SCHEME_MAX > sizeof("SHA512-CRYPT") - 1, "PWHASH_SCHEME_MAX");
_Static_assert(PWHASH_MEMLIMIT_MAX / 1024 <= PWHASH_ARGON2_WORK_MAX &&
		       PWHASH_MEMLIMIT_DEFAULT / 1024 * PWHASH_OPSLIMIT_DEFAULT <= PWHASH_ARGON2_WORK_MAX,
	       "PWHASH_ARGON2_WORK_MAX below one pass at the most memory, or the defaults");

/* A read position in a stored string. */
struct cur {
	const char *p, *end;
};

/* A stored hash taken apart by parse_stored(). */
struct parsed {
	const struct scheme *scheme;
	const char *data; /* after the {PREFIX}; NUL-terminated */
	size_t datalen;
	uint64_t mem;	 /* Argon2 m= (KiB) */
	uint64_t passes; /* Argon2 t=, PBKDF2 iterations */
	const char *salt; /* PBKDF2: the salt as written (it is used as text) */
	size_t saltlen;
	uint8_t bin[PWHASH_STORED_MAX]; /* decoded digest (SSHA512: and salt) */
	size_t binlen;
};

struct scheme {
	const char *name;
	int (*check)(struct cur *c, struct parsed *ps); /* 0/-1; fills ps */
	enum pwhash_result (*verify)(const struct parsed *ps, const char *pw, size_t pwlen);
	bool current; /* what pwhash_create writes: no rehash needed */
};

/* Character classes and digits, without branches or lookups on the
 * character: it may belong to a stored digest. */

/* in_range - all ones when lo <= x <= hi, else 0. */
static unsigned
in_range(int x, int lo, int hi)
{
	return 0U - ((unsigned)((lo - 1 - x) & (x - hi - 1)) >> (sizeof(unsigned) * CHAR_BIT - 1));
}

/* b64_value - the RFC 4648 base64 digit ch, or -1. */
static int
b64_value(unsigned char ch)
{
	int c = ch;
	unsigned v = (in_range(c, 'A', 'Z') & (unsigned)(c - 'A' + 1)) |
		     (in_range(c, 'a', 'z') & (unsigned)(c - 'a' + 27)) |
		     (in_range(c, '0', '9') & (unsigned)(c - '0' + 53)) |
		     (in_range(c, '+', '+') & 63U) | (in_range(c, '/', '/') & 64U);

	return (int)v - 1;
}

/* hex_value - the hex digit ch (either case), or -1. */
static int
hex_value(unsigned char ch)
{
	int c = ch;
	unsigned v = (in_range(c, '0', '9') & (unsigned)(c - '0' + 1)) |
		     (in_range(c, 'a', 'f') & (unsigned)(c - 'a' + 11)) |
		     (in_range(c, 'A', 'F') & (unsigned)(c - 'A' + 11));

	return (int)v - 1;
}

static bool
is_b64(unsigned char c)
{
	return b64_value(c) >= 0;
}

static bool
is_hex(unsigned char c)
{
	return hex_value(c) >= 0;
}

/* is_crypt64 - the crypt(3) alphabet "./0-9A-Za-z" ('.' to '9' is one run). */
static bool
is_crypt64(unsigned char ch)
{
	int c = ch;

	return (in_range(c, '.', '9') | in_range(c, 'A', 'Z') | in_range(c, 'a', 'z')) != 0;
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* The cursor: each step consumes input only when it matches. */

/* cur_lit - consume lit if the input continues with it. */
static bool
cur_lit(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* cur_span - consume up to max characters of class is; how many. */
static size_t
cur_span(struct cur *c, bool (*is)(unsigned char), size_t max)
{
	size_t n = 0;

	while (n < max && c->p < c->end && is((unsigned char)*c->p)) {
		c->p++;
		n++;
	}
	return n;
}

/* cur_exact - consume exactly n characters of class is. */
static bool
cur_exact(struct cur *c, bool (*is)(unsigned char), size_t n)
{
	return cur_span(c, is, n) == n;
}

/* cur_num - consume a decimal in [min, max] without leading zeros (the
 * form libsodium and libxcrypt write and insist on). */
static bool
cur_num(struct cur *c, uint64_t min, uint64_t max, uint64_t *v)
{
	size_t n = cur_span(c, is_digit, 20);
	const char *s = c->p - n;

	return n > 0 && !(s[0] == '0' && n > 1) && parse_u64n(s, n, max, v) == 0 && *v >= min;
}

/* cur_end - nothing left. */
static bool
cur_end(const struct cur *c)
{
	return c->p == c->end;
}

/* cur_b64 - consume RFC 4648 base64 of min..max bytes, '='-padded when pad
 * (Dovecot) or unpadded (PHC), with the unused low bits zero so that a byte
 * string has exactly one encoding; decode into out (max bytes) unless NULL. */
static bool
cur_b64(struct cur *c, bool pad, size_t min, size_t max, uint8_t *out, size_t *outlen)
{
	const char *s = c->p;
	size_t n = cur_span(c, is_b64, max / 3 * 4 + 4), npad = 0, len, i, k = 0;
	unsigned acc = 0, bits = 0;

	while (pad && npad < 2 && cur_lit(c, "="))
		npad++;
	if (pad ? (n + npad) % 4 != 0 : n % 4 == 1)
		return false;
	len = n / 4 * 3 + (n % 4 != 0 ? n % 4 - 1 : 0);
	if (len < min || len > max)
		return false;
	for (i = 0; i < n; i++) {
		acc = (acc << 6) | (unsigned)b64_value((unsigned char)s[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out != NULL)
				out[k++] = (uint8_t)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	*outlen = len;
	return acc == 0;
}

/* cur_hex - consume exactly 2 * n hex digits into out. */
static bool
cur_hex(struct cur *c, uint8_t *out, size_t n)
{
	const char *s = c->p;
	size_t i;

	if (!cur_exact(c, is_hex, 2 * n))
		return false;
	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(hex_value((unsigned char)s[2 * i]) << 4 |
				   hex_value((unsigned char)s[2 * i + 1]));
	return true;
}

/* Syntax of each scheme's data: one success return, at the end. */

/* argon2_work_ok - m (KiB) times t within PWHASH_ARGON2_WORK_MAX; both
 * are already capped, so the product does not overflow. */
static bool
argon2_work_ok(uint64_t m, uint64_t t)
{
	return m * t <= PWHASH_ARGON2_WORK_MAX;
}

/* check_argon2 - "$argon2id$v=19$m=M,t=T,p=1$salt$hash" as libsodium
 * writes it; libsodium computes one lane only, so p=1. */
static int
check_argon2(struct cur *c, const char *type, struct parsed *ps)
{
	size_t n;

	if (!cur_lit(c, type) || !cur_lit(c, "$v=19$m=") ||
	    !cur_num(c, ARGON2_M_MIN, PWHASH_MEMLIMIT_MAX / 1024, &ps->mem) ||
	    !cur_lit(c, ",t=") || !cur_num(c, 1, PWHASH_OPSLIMIT_MAX, &ps->passes) ||
	    !argon2_work_ok(ps->mem, ps->passes) || !cur_lit(c, ",p=1$") ||
	    !cur_b64(c, false, ARGON2_SALT_MIN, PWHASH_STORED_MAX, NULL, &n) ||
	    !cur_lit(c, "$") ||
	    !cur_b64(c, false, ARGON2_HASH_MIN, PWHASH_STORED_MAX, NULL, &n) || !cur_end(c))
		return -1;
	return 0;
}

static int
check_argon2id(struct cur *c, struct parsed *ps)
{
	return check_argon2(c, "$argon2id", ps);
}

static int
check_argon2i(struct cur *c, struct parsed *ps)
{
	return check_argon2(c, "$argon2i", ps);
}

/* check_bcrypt - "$2y$NN$" + 22 characters of salt + 31 of hash; $2a$ and
 * $2b$ too, never the buggy $2x$. The cost has two digits. */
static int
check_bcrypt(struct cur *c, struct parsed *ps)
{
	uint64_t cost;

	(void)ps;
	if (!(cur_lit(c, "$2a$") || cur_lit(c, "$2b$") || cur_lit(c, "$2y$")) ||
	    !cur_exact(c, is_digit, 2) || parse_u64n(c->p - 2, 2, PWHASH_BCRYPT_COST_MAX, &cost) == -1 ||
	    cost < BCRYPT_COST_MIN || !cur_lit(c, "$") || !cur_exact(c, is_crypt64, 53) ||
	    !cur_end(c))
		return -1;
	return 0;
}

/* check_shacrypt - "$6$[rounds=N$]salt$hash" (id "$5$": SHA-256). */
static int
check_shacrypt(struct cur *c, const char *id, size_t hashlen)
{
	uint64_t rounds;
	size_t salt;

	if (!cur_lit(c, id))
		return -1;
	if (cur_lit(c, "rounds=") &&
	    (!cur_num(c, SHACRYPT_ROUNDS_MIN, PWHASH_SHACRYPT_ROUNDS_MAX, &rounds) ||
	     !cur_lit(c, "$")))
		return -1;
	salt = cur_span(c, is_crypt64, SHACRYPT_SALT_MAX);
	if (salt == 0 || !cur_lit(c, "$") || !cur_exact(c, is_crypt64, hashlen) || !cur_end(c))
		return -1;
	return 0;
}

static int
check_sha512crypt(struct cur *c, struct parsed *ps)
{
	(void)ps;
	return check_shacrypt(c, "$6$", 86);
}

static int
check_sha256crypt(struct cur *c, struct parsed *ps)
{
	(void)ps;
	return check_shacrypt(c, "$5$", 43);
}

/* check_md5crypt - "$1$salt$hash", salt of up to 8. */
static int
check_md5crypt(struct cur *c, struct parsed *ps)
{
	size_t salt;

	(void)ps;
	if (!cur_lit(c, "$1$"))
		return -1;
	salt = cur_span(c, is_crypt64, MD5CRYPT_SALT_MAX);
	if (salt == 0 || !cur_lit(c, "$") || !cur_exact(c, is_crypt64, 22) || !cur_end(c))
		return -1;
	return 0;
}

/* check_descrypt - traditional crypt: 2 characters of salt, 11 of hash. */
static int
check_descrypt(struct cur *c, struct parsed *ps)
{
	(void)ps;
	if (!cur_exact(c, is_crypt64, 13) || !cur_end(c))
		return -1;
	return 0;
}

/* check_crypt - Dovecot's CRYPT: whatever crypt(3) form the string has. */
static int
check_crypt(struct cur *c, struct parsed *ps)
{
	static const struct {
		const char *prefix;
		int (*check)(struct cur *, struct parsed *);
	} forms[] = {
		{"$2", check_bcrypt},	   {"$6$", check_sha512crypt}, {"$5$", check_sha256crypt},
		{"$1$", check_md5crypt},   {"", check_descrypt},
	};
	size_t i, n;

	for (i = 0; i < nitems(forms); i++) {
		n = strlen(forms[i].prefix);
		if ((size_t)(c->end - c->p) >= n && memcmp(c->p, forms[i].prefix, n) == 0)
			break;
	}
	return forms[i].check(c, ps);
}

/* check_ssha512 - padded base64 of a 64-byte digest and a salt of 1 byte
 * or more (Dovecot writes 4). */
static int
check_ssha512(struct cur *c, struct parsed *ps)
{
	if (!cur_b64(c, true, SSHA512_LEN + 1, sizeof(ps->bin), ps->bin, &ps->binlen) ||
	    !cur_end(c))
		return -1;
	return 0;
}

/* check_pbkdf2 - Dovecot's "$1$salt$rounds$hex"; the salt is the text as
 * written (Dovecot's salt alphabet is crypt(3)'s), the key 20 bytes. */
static int
check_pbkdf2(struct cur *c, struct parsed *ps)
{
	if (!cur_lit(c, "$1$"))
		return -1;
	ps->salt = c->p;
	ps->saltlen = cur_span(c, is_crypt64, PBKDF2_SALT_MAX);
	if (ps->saltlen == 0 || !cur_lit(c, "$") ||
	    !cur_num(c, 1, PWHASH_PBKDF2_ROUNDS_MAX, &ps->passes) || !cur_lit(c, "$") ||
	    !cur_hex(c, ps->bin, PBKDF2_LEN) || !cur_end(c))
		return -1;
	ps->binlen = PBKDF2_LEN;
	return 0;
}

/* Verification: MATCH, MISMATCH, ERROR (no memory); BAD_FORMAT only when a
 * library refuses what the parser accepted, which the fuzz target hunts. */

/* verify_sodium - libsodium says -1 for a mismatch (errno EINVAL), for a
 * failed allocation (ENOMEM from malloc or mmap) and for a string it cannot
 * decode (errno untouched). */
static enum pwhash_result
verify_sodium(int rc)
{
	if (rc == 0)
		return PWHASH_MATCH;
	if (errno == EINVAL)
		return PWHASH_MISMATCH;
	return errno == 0 ? PWHASH_BAD_FORMAT : PWHASH_ERROR;
}

static enum pwhash_result
verify_argon2id(const struct parsed *ps, const char *pw, size_t pwlen)
{
	errno = 0;
	return verify_sodium(crypto_pwhash_argon2id_str_verify(ps->data, pw, pwlen));
}

static enum pwhash_result
verify_argon2i(const struct parsed *ps, const char *pw, size_t pwlen)
{
	errno = 0;
	return verify_sodium(crypto_pwhash_argon2i_str_verify(ps->data, pw, pwlen));
}

/* verify_crypt - crypt(pw, stored) must give back stored. crypt_data is
 * 32 KiB: on the heap, as pool threads have small stacks. crypt_rn, not
 * crypt_r: the sanitizer runtimes (ASan) define crypt_r, so in a sanitizer
 * build the linker finds no use for libcrypt and drops it (--as-needed),
 * and the interceptor then calls NULL; crypt_rn is libxcrypt's own. */
static enum pwhash_result
verify_crypt(const struct parsed *ps, const char *pw, size_t pwlen)
{
	char pwz[PWHASH_PW_MAX + 1];
	struct crypt_data *cd;
	const char *out;
	enum pwhash_result r;

	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return PWHASH_ERROR;
	memcpy(pwz, pw, pwlen);
	pwz[pwlen] = '\0';
	out = crypt_rn(pwz, ps->data, cd, (int)sizeof(*cd));
	if (out == NULL || out[0] == '*')
		r = PWHASH_BAD_FORMAT;
	else if (strlen(out) == ps->datalen && CRYPTO_memcmp(out, ps->data, ps->datalen) == 0)
		r = PWHASH_MATCH;
	else
		r = PWHASH_MISMATCH;
	explicit_bzero(pwz, sizeof(pwz));
	wipe_free(cd, sizeof(*cd));
	return r;
}

static enum pwhash_result
verify_ssha512(const struct parsed *ps, const char *pw, size_t pwlen)
{
	uint8_t dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	EVP_MD_CTX *ctx;
	enum pwhash_result r = PWHASH_ERROR;

	ctx = EVP_MD_CTX_new();
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pw, pwlen) == 1 &&
	    EVP_DigestUpdate(ctx, ps->bin + SSHA512_LEN, ps->binlen - SSHA512_LEN) == 1 &&
	    EVP_DigestFinal_ex(ctx, dig, &dlen) == 1 && dlen == SSHA512_LEN)
		r = CRYPTO_memcmp(dig, ps->bin, SSHA512_LEN) == 0 ? PWHASH_MATCH : PWHASH_MISMATCH;
	EVP_MD_CTX_free(ctx);
	explicit_bzero(dig, sizeof(dig));
	return r;
}

static enum pwhash_result
verify_pbkdf2(const struct parsed *ps, const char *pw, size_t pwlen)
{
	uint8_t dk[PBKDF2_LEN];
	enum pwhash_result r = PWHASH_ERROR;

	if (PKCS5_PBKDF2_HMAC(pw, (int)pwlen, (const unsigned char *)ps->salt, (int)ps->saltlen,
			      (int)ps->passes, EVP_sha1(), (int)sizeof(dk), dk) == 1)
		r = CRYPTO_memcmp(dk, ps->bin, PBKDF2_LEN) == 0 ? PWHASH_MATCH : PWHASH_MISMATCH;
	explicit_bzero(dk, sizeof(dk));
	return r;
}

static const struct scheme schemes[] = {
	{"ARGON2ID", check_argon2id, verify_argon2id, true},
	{"ARGON2I", check_argon2i, verify_argon2i, false},
	{"BLF-CRYPT", check_bcrypt, verify_crypt, false},
	{"SHA512-CRYPT", check_sha512crypt, verify_crypt, false},
	{"SHA256-CRYPT", check_sha256crypt, verify_crypt, false},
	{"MD5-CRYPT", check_md5crypt, verify_crypt, false},
	{"DES-CRYPT", check_descrypt, verify_crypt, false},
	{"CRYPT", check_crypt, verify_crypt, false},
	{"SSHA512", check_ssha512, verify_ssha512, false},
	{"PBKDF2", check_pbkdf2, verify_pbkdf2, false},
};

/* Bare strings: the scheme their crypt(3)/PHC prefix implies. Traditional
 * DES has no prefix and is only taken with {CRYPT} or {DES-CRYPT}. */
static const struct {
	const char *prefix;
	const char *scheme;
} bare[] = {
	{"$argon2id$", "ARGON2ID"},  {"$argon2i$", "ARGON2I"},	    {"$2a$", "BLF-CRYPT"},
	{"$2b$", "BLF-CRYPT"},	     {"$2y$", "BLF-CRYPT"},	    {"$6$", "SHA512-CRYPT"},
	{"$5$", "SHA256-CRYPT"},     {"$1$", "MD5-CRYPT"},
};

/* scheme_find - the table row for a name of len bytes, any case (as in
 * Dovecot), or NULL. */
static const struct scheme *
scheme_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < nitems(schemes); i++)
		if (strlen(schemes[i].name) == len && strncasecmp(schemes[i].name, name, len) == 0)
			return &schemes[i];
	return NULL;
}

/* parse_stored - find the scheme of stored and check its data; 0/-1. ps
 * points into stored and holds decoded digests: wipe it after use. */
static int
parse_stored(const char *stored, struct parsed *ps)
{
	const char *close;
	struct cur c;
	size_t len, i;

	memset(ps, 0, sizeof(*ps));
	if (stored == NULL)
		return -1;
	len = strnlen(stored, PWHASH_STORED_MAX + 1);
	if (len > PWHASH_STORED_MAX)
		return -1;
	ps->data = stored;
	if (stored[0] == '{') {
		close = memchr(stored, '}', len);
		if (close == NULL)
			return -1;
		ps->scheme = scheme_find(stored + 1, (size_t)(close - stored - 1));
		ps->data = close + 1;
	} else {
		for (i = 0; i < nitems(bare) && ps->scheme == NULL; i++)
			if (strncmp(stored, bare[i].prefix, strlen(bare[i].prefix)) == 0)
				ps->scheme = scheme_find(bare[i].scheme, strlen(bare[i].scheme));
	}
	if (ps->scheme == NULL)
		return -1;
	ps->datalen = len - (size_t)(ps->data - stored);
	c.p = ps->data;
	c.end = ps->data + ps->datalen;
	return ps->scheme->check(&c, ps);
}

void
pwhash_params_default(struct pwhash_params *p)
{
	p->memlimit = PWHASH_MEMLIMIT_DEFAULT;
	p->opslimit = PWHASH_OPSLIMIT_DEFAULT;
}

bool
valid_pwhash_params(const struct pwhash_params *p)
{
	return p->memlimit >= PWHASH_MEMLIMIT_MIN && p->memlimit <= PWHASH_MEMLIMIT_MAX &&
	       p->opslimit >= PWHASH_OPSLIMIT_MIN && p->opslimit <= PWHASH_OPSLIMIT_MAX &&
	       argon2_work_ok(p->memlimit / 1024, p->opslimit);
}

/* sodium_ready - sodium_init() is idempotent and thread-safe, and picks the
 * fastest Argon2 code for this CPU; -1 means no usable randomness. */
static int
sodium_ready(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int
pwhash_create(const char *pw, size_t pwlen, const struct pwhash_params *p, char *out,
	      size_t outsz)
{
	char str[crypto_pwhash_argon2id_STRBYTES];
	struct pwhash_params def;
	int rc = -1;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (p == NULL) {
		pwhash_params_default(&def);
		p = &def;
	}
	if (pw == NULL || pwlen > PWHASH_PW_MAX || memchr(pw, '\0', pwlen) != NULL ||
	    !valid_pwhash_params(p) || sodium_ready() == -1)
		return -1;
	if (crypto_pwhash_argon2id_str(str, pw, pwlen, p->opslimit, (size_t)p->memlimit) == 0 &&
	    str_fmt(out, outsz, "{ARGON2ID}%s", str) == 0)
		rc = 0;
	else
		out[0] = '\0';
	explicit_bzero(str, sizeof(str));
	return rc;
}

/* needs_rehash - not what pwhash_create would write at cost p, or weaker.
 * libsodium stores m = memlimit / 1024 (rounded down). */
static bool
needs_rehash(const struct parsed *ps, const struct pwhash_params *p)
{
	return !ps->scheme->current || ps->mem < p->memlimit / 1024 || ps->passes < p->opslimit;
}

enum pwhash_result
pwhash_verify(const char *stored, const char *pw, size_t pwlen, const struct pwhash_params *p,
	      bool *rehash)
{
	struct pwhash_params def;
	struct parsed ps;
	enum pwhash_result r;
	bool refuse;

	if (rehash != NULL)
		*rehash = false;
	if (p == NULL) {
		pwhash_params_default(&def);
		p = &def;
	}
	if (parse_stored(stored, &ps) == -1) {
		explicit_bzero(&ps, sizeof(ps));
		pwhash_dummy(p);
		return PWHASH_BAD_FORMAT;
	}
	/* A password that can never match still costs one verification. */
	refuse = pw == NULL || pwlen > PWHASH_PW_MAX ||
		 (pwlen > 0 && memchr(pw, '\0', pwlen) != NULL);
	if (sodium_ready() == -1)
		r = PWHASH_ERROR;
	else
		r = ps.scheme->verify(&ps, refuse ? "" : pw, refuse ? 0 : pwlen);
	if (refuse && r == PWHASH_MATCH)
		r = PWHASH_MISMATCH;
	if (r == PWHASH_MATCH && rehash != NULL)
		*rehash = needs_rehash(&ps, p);
	explicit_bzero(&ps, sizeof(ps));
	return r;
}

int
pwhash_scheme(const char *stored, char *scheme, size_t schemesz)
{
	struct parsed ps;
	int rc = -1;

	if (scheme != NULL && schemesz > 0)
		scheme[0] = '\0';
	if (parse_stored(stored, &ps) == 0 && scheme != NULL &&
	    str_copy(scheme, ps.scheme->name, schemesz) == 0)
		rc = 0;
	else if (scheme != NULL && schemesz > 0)
		scheme[0] = '\0';
	explicit_bzero(&ps, sizeof(ps));
	return rc;
}

void
pwhash_dummy(const struct pwhash_params *p)
{
	static const unsigned char salt[crypto_pwhash_argon2id_SALTBYTES];
	static const char pw[] = "not a password";
	unsigned char out[DUMMY_LEN];
	struct pwhash_params q;
	int rc = -1;

	pwhash_params_default(&q);
	if (p != NULL) {
		q.memlimit = p->memlimit < PWHASH_MEMLIMIT_MIN	 ? PWHASH_MEMLIMIT_MIN
			     : p->memlimit > PWHASH_MEMLIMIT_MAX ? PWHASH_MEMLIMIT_MAX
								 : p->memlimit;
		q.opslimit = p->opslimit < PWHASH_OPSLIMIT_MIN	 ? PWHASH_OPSLIMIT_MIN
			     : p->opslimit > PWHASH_OPSLIMIT_MAX ? PWHASH_OPSLIMIT_MAX
								 : p->opslimit;
		/* memlimit / 1024 <= PWHASH_ARGON2_WORK_MAX: at least one pass */
		if (!argon2_work_ok(q.memlimit / 1024, q.opslimit))
			q.opslimit = PWHASH_ARGON2_WORK_MAX / (q.memlimit / 1024);
	}
	/* A failure (no memory) has nothing to report: the caller fails the
	 * login anyway. */
	if (sodium_ready() == 0)
		rc = crypto_pwhash_argon2id(out, sizeof(out), pw, sizeof(pw) - 1, salt, q.opslimit,
					    (size_t)q.memlimit, crypto_pwhash_argon2id_ALG_ARGON2ID13);
	(void)rc;
	explicit_bzero(out, sizeof(out));
}
