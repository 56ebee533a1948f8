/* SPDX-License-Identifier: ISC */
/*
 * fuzz_pwhash - stored password hashes (src/auth/pwhash.c).
 *
 * Byte 0's low 7 bits modulo 6 pick a mode (ASCII "0" to "5" do), its top
 * bit allows the slow steps (below); the rest is split at its first NUL
 * into a string (no NUL) and a password (any bytes).
 * 0 parse: pwhash_scheme() on the string; an accepted one names a scheme
 *   of the table, matching its {PREFIX} in any case or implied by its bare
 *   form, has its work factor within the caps of pwhash.h; the bare form is
 *   also accepted as {THAT-SCHEME} (and {CRYPT} for a crypt(3) form); a
 *   short buffer gives -1 and "".
 * 1 verify: the same, then pwhash_verify() with the password: BAD_FORMAT
 *   exactly when pwhash_scheme() says -1 (never because a library refuses
 *   what the parser took), never ERROR, the rehash hint right on a match.
 *   A malformed string costs the caller's Argon2id (slow: top bit only).
 * 2 crypt: the string is a crypt(3) setting; what crypt_rn() makes of the
 *   password, bare and as {CRYPT}, must verify if pwhash_scheme() takes it.
 * 3 SSHA512: the string is the salt; the {SSHA512} of the password must be
 *   accepted and verify.
 * 4 PBKDF2: byte 1 is the iteration count, the string the salt; the
 *   {PBKDF2} of the password must verify when the salt is crypt(3)'s
 *   alphabet, and be refused otherwise.
 * 5 Argon2id: pwhash_create() at the cheapest cost, then verify (slow:
 *   top bit only; else mode 0).
 * A password over PWHASH_PW_MAX or with a NUL must never match, and a
 * wrong one (first byte changed) must never match either.
 *
 * Cost: the module caps stored work factors at about a second per
 * verification, which is right for a server and far too slow for a fuzzer,
 * so this harness verifies (and crypt_rn() computes) only work factors under
 * a budget of a few milliseconds (cheap() and cheap_setting()); above it,
 * only the parser runs. The caller's cost (what a malformed string costs)
 * is the cheapest Argon2id, ~10 ms. No input takes more than ~50 ms.
 */
#include <crypt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth/pwhash.h"

#define ARGON2_WORK_BUDGET 16384 /* KiB x passes: ~10-20 ms */
#define BCRYPT_COST_BUDGET 6	 /* 2^6 rounds: ~4 ms */
#define ROUNDS_BUDGET 20000	 /* SHA-crypt and PBKDF2: ~10-20 ms */
#define SSHA512_SALT_MAX 119	 /* the most that fits in PWHASH_STORED_MAX */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pwhash_params min_params = {PWHASH_MEMLIMIT_MIN, PWHASH_OPSLIMIT_MIN};

static const char *const names[] = {
	"ARGON2ID", "ARGON2I",	 "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT",
	"MD5-CRYPT", "DES-CRYPT", "CRYPT",     "SSHA512",      "PBKDF2",
};

/* bare forms and the scheme they imply */
static const struct {
	const char *prefix, *scheme;
} bare[] = {
	{"$argon2id$", "ARGON2ID"}, {"$argon2i$", "ARGON2I"}, {"$2a$", "BLF-CRYPT"},
	{"$2b$", "BLF-CRYPT"},	    {"$2y$", "BLF-CRYPT"},    {"$6$", "SHA512-CRYPT"},
	{"$5$", "SHA256-CRYPT"},    {"$1$", "MD5-CRYPT"},
};

static bool
pw_refused(const char *pw, size_t pwlen)
{
	return pwlen > PWHASH_PW_MAX || memchr(pw, '\0', pwlen) != NULL;
}

/* digits - the decimal at s (saturating), or UINT64_MAX if there is none. */
static uint64_t
digits(const char *s)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return UINT64_MAX;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v > UINT64_MAX / 10 - 10 ? UINT64_MAX / 2 : v * 10 + (uint64_t)(*s - '0');
	return v;
}

/* after - the decimal after the first key in s, or dflt without one. */
static uint64_t
after(const char *s, const char *key, uint64_t dflt)
{
	const char *p = strstr(s, key);

	return p == NULL ? dflt : digits(p + strlen(key));
}

/* data_of - after the {PREFIX}, if any, of a string pwhash_scheme() took. */
static const char *
data_of(const char *stored)
{
	return stored[0] == '{' ? strchr(stored, '}') + 1 : stored;
}

/* check_caps - the work factor of an accepted string is within the caps
 * pwhash.h documents. */
static void
check_caps(const char *stored)
{
	const char *d = data_of(stored), *p;
	uint64_t m, t;

	if (strncmp(d, "$argon2", 7) == 0) {
		m = after(d, "$m=", UINT64_MAX);
		t = after(d, ",t=", UINT64_MAX);
		if (m > PWHASH_MEMLIMIT_MAX / 1024 || t > PWHASH_OPSLIMIT_MAX ||
		    m * t > PWHASH_ARGON2_WORK_MAX)
			abort();
	} else if (strncmp(d, "$2", 2) == 0) {
		if (digits(d + 4) > PWHASH_BCRYPT_COST_MAX)
			abort();
	} else if (strncmp(d, "$5$", 3) == 0 || strncmp(d, "$6$", 3) == 0) {
		if (after(d, "$rounds=", 5000) > PWHASH_SHACRYPT_ROUNDS_MAX)
			abort();
	} else if (strncasecmp(stored, "{PBKDF2}", 8) == 0) {
		p = strchr(d + 3, '$');
		if (p == NULL || digits(p + 1) > PWHASH_PBKDF2_ROUNDS_MAX)
			abort();
	}
}

/* cheap - a string pwhash_scheme() accepted costs at most the budget. */
static bool
cheap(const char *stored)
{
	const char *d = data_of(stored), *p;

	if (strncmp(d, "$argon2", 7) == 0)
		return after(d, "$m=", 0) * after(d, ",t=", 0) <= ARGON2_WORK_BUDGET;
	if (strncmp(d, "$2", 2) == 0)
		return digits(d + 4) <= BCRYPT_COST_BUDGET;
	if (strncmp(d, "$5$", 3) == 0 || strncmp(d, "$6$", 3) == 0)
		return after(d, "$rounds=", 5000) <= ROUNDS_BUDGET;
	if (strncasecmp(stored, "{PBKDF2}", 8) == 0) {
		p = strchr(d + 3, '$'); /* "$1$salt$rounds$hex" */
		return p != NULL && digits(p + 1) <= ROUNDS_BUDGET;
	}
	return true; /* MD5-crypt, DES-crypt, SSHA512 */
}

/* cheap_setting - a crypt(3) setting of a method we parse, within the
 * budget; any other method (yescrypt, scrypt, BSDi...) is not computed. */
static bool
cheap_setting(const char *s)
{
	const char *crypt64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	if (strncmp(s, "$1$", 3) == 0)
		return true;
	if (strncmp(s, "$5$", 3) == 0 || strncmp(s, "$6$", 3) == 0)
		return strncmp(s + 3, "rounds=", 7) != 0 || digits(s + 10) <= ROUNDS_BUDGET;
	if (strncmp(s, "$2a$", 4) == 0 || strncmp(s, "$2b$", 4) == 0 || strncmp(s, "$2y$", 4) == 0)
		return s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9' &&
		       digits(s + 4) <= BCRYPT_COST_BUDGET;
	return s[0] != '\0' && s[1] != '\0' && strchr(crypt64, s[0]) != NULL &&
	       strchr(crypt64, s[1]) != NULL; /* traditional DES */
}

/* check_scheme - mode 0: what pwhash_scheme says about s. */
static int
check_scheme(const char *s)
{
	char name[PWHASH_SCHEME_MAX], name2[PWHASH_SCHEME_MAX], small[PWHASH_SCHEME_MAX];
	char alt[PWHASH_STORED_MAX + 32];
	size_t i, n;
	int rc = pwhash_scheme(s, name, sizeof(name));

	if (rc == -1) {
		if (name[0] != '\0')
			abort();
		return -1;
	}
	n = strlen(name);
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && strcmp(name, names[i]) != 0; i++)
		;
	if (i == sizeof(names) / sizeof(names[0]) || strlen(s) > PWHASH_STORED_MAX)
		abort();
	if (pwhash_scheme(s, small, n) != -1 || small[0] != '\0')
		abort();
	check_caps(s);
	if (s[0] == '{') {
		if (strncasecmp(s + 1, name, n) != 0 || s[1 + n] != '}')
			abort();
		/* the same with the name in the other case */
		snprintf(alt, sizeof(alt), "%s", s);
		for (i = 1; i <= n; i++)
			alt[i] ^= (char)((alt[i] >= 'a' && alt[i] <= 'z') || (alt[i] >= 'A' && alt[i] <= 'Z')
					     ? 0x20 : 0);
		if (pwhash_scheme(alt, name2, sizeof(name2)) != 0 || strcmp(name, name2) != 0)
			abort();
		return 0;
	}
	for (i = 0; i < sizeof(bare) / sizeof(bare[0]); i++)
		if (strncmp(s, bare[i].prefix, strlen(bare[i].prefix)) == 0)
			break;
	if (i == sizeof(bare) / sizeof(bare[0]) || strcmp(name, bare[i].scheme) != 0)
		abort();
	/* the bare form under its own name, and crypt(3) forms under {CRYPT} */
	if (strlen(s) + n + 2 <= PWHASH_STORED_MAX) {
		snprintf(alt, sizeof(alt), "{%s}%s", name, s);
		if (pwhash_scheme(alt, name2, sizeof(name2)) != 0 || strcmp(name, name2) != 0)
			abort();
	}
	if (strncmp(name, "ARGON2", 6) != 0 && strlen(s) + 7 <= PWHASH_STORED_MAX) {
		snprintf(alt, sizeof(alt), "{CRYPT}%s", s);
		if (pwhash_scheme(alt, name2, sizeof(name2)) != 0 || strcmp(name2, "CRYPT") != 0)
			abort();
	}
	return 0;
}

/* must_match - stored holds a digest of pw: a match unless pw is refused,
 * and a changed pw never matches. */
static void
must_match(const char *stored, const char *pw, size_t pwlen)
{
	char wrong[PWHASH_PW_MAX + 1];
	bool rehash = false;
	enum pwhash_result r = pwhash_verify(stored, pw, pwlen, &min_params, &rehash);

	if (r != (pw_refused(pw, pwlen) ? PWHASH_MISMATCH : PWHASH_MATCH))
		abort();
	if (r == PWHASH_MATCH && !rehash && strncasecmp(stored, "{ARGON2ID}", 10) != 0 &&
	    strncmp(stored, "$argon2id$", 10) != 0)
		abort();
	if (pwlen > PWHASH_PW_MAX)
		return;
	memcpy(wrong, pw, pwlen);
	if (pwlen > 0)
		wrong[0] ^= 1;
	else
		wrong[pwlen++] = 'x';
	if (pwhash_verify(stored, wrong, pwlen, &min_params, NULL) != PWHASH_MISMATCH)
		abort();
}

/* do_verify - mode 1; on a match (a password found by the fuzzer, or
 * given by a seed) the hint is "rehash" unless the hash is Argon2id with
 * at least the cheapest cost's memory. */
static void
do_verify(const char *s, const char *pw, size_t pwlen, bool slow)
{
	char name[PWHASH_SCHEME_MAX];
	int sc = check_scheme(s);
	bool rehash = true;
	enum pwhash_result r;

	if (sc == 0 ? !cheap(s) : !slow)
		return;
	r = pwhash_verify(s, pw, pwlen, &min_params, &rehash);
	if (sc == -1 ? r != PWHASH_BAD_FORMAT : r != PWHASH_MATCH && r != PWHASH_MISMATCH)
		abort();
	if (r == PWHASH_MATCH && pw_refused(pw, pwlen))
		abort();
	if (r != PWHASH_MATCH) {
		if (rehash)
			abort();
		return;
	}
	if (pwhash_scheme(s, name, sizeof(name)) != 0 ||
	    rehash != (strcmp(name, "ARGON2ID") != 0 ||
		       after(s, "$m=", 0) < PWHASH_MEMLIMIT_MIN / 1024))
		abort();
}

static void
do_crypt(const char *setting, const char *pw, size_t pwlen)
{
	struct crypt_data *cd;
	char pwz[PWHASH_PW_MAX + 1], stored[PWHASH_STORED_MAX + 16];
	const char *out;

	if (pw_refused(pw, pwlen) || !cheap_setting(setting))
		return;
	memcpy(pwz, pw, pwlen);
	pwz[pwlen] = '\0';
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		abort();
	out = crypt_rn(pwz, setting, cd, (int)sizeof(*cd)); /* see pwhash.c verify_crypt */
	if (out != NULL && out[0] != '*' && strlen(out) < PWHASH_STORED_MAX) {
		if (check_scheme(out) == 0)
			must_match(out, pw, pwlen);
		snprintf(stored, sizeof(stored), "{CRYPT}%s", out);
		if (check_scheme(stored) == 0)
			must_match(stored, pw, pwlen);
	}
	free(cd);
}

static void
do_ssha512(const uint8_t *salt, size_t saltlen, const char *pw, size_t pwlen)
{
	uint8_t raw[64 + SSHA512_SALT_MAX];
	char stored[PWHASH_STORED_MAX + 1];
	unsigned dlen = 0;
	EVP_MD_CTX *ctx;

	if (saltlen == 0 || saltlen > SSHA512_SALT_MAX)
		return;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, pw, pwlen) != 1 || EVP_DigestUpdate(ctx, salt, saltlen) != 1 ||
	    EVP_DigestFinal_ex(ctx, raw, &dlen) != 1 || dlen != 64)
		abort();
	EVP_MD_CTX_free(ctx);
	memcpy(raw + 64, salt, saltlen);
	memcpy(stored, "{SSHA512}", 9);
	EVP_EncodeBlock((unsigned char *)stored + 9, raw, (int)(64 + saltlen));
	if (check_scheme(stored) != 0)
		abort();
	must_match(stored, pw, pwlen);
}

static void
do_pbkdf2(unsigned rounds, const char *salt, const char *pw, size_t pwlen)
{
	static const char crypt64[] =
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint8_t dk[20];
	char stored[PWHASH_STORED_MAX + 256];
	size_t saltlen = strlen(salt), off, i;
	bool ok = saltlen > 0 && saltlen <= 64 && strspn(salt, crypt64) == saltlen;

	if (saltlen > 200 ||
	    PKCS5_PBKDF2_HMAC(pw, (int)pwlen, (const unsigned char *)salt, (int)saltlen,
			      (int)rounds, EVP_sha1(), (int)sizeof(dk), dk) != 1)
		return;
	off = (size_t)snprintf(stored, sizeof(stored), "{PBKDF2}$1$%s$%u$", salt, rounds);
	for (i = 0; i < sizeof(dk); i++)
		off += (size_t)snprintf(stored + off, sizeof(stored) - off, "%02x", dk[i]);
	if (check_scheme(stored) != (ok ? 0 : -1))
		abort();
	if (ok)
		must_match(stored, pw, pwlen);
}

static void
do_argon2id(const char *pw, size_t pwlen)
{
	char out[PWHASH_STR_MAX];
	struct pwhash_params p = min_params;
	bool rehash = true;
	int rc = pwhash_create(pw, pwlen, &min_params, out, sizeof(out));

	if (pw_refused(pw, pwlen)) {
		if (rc != -1 || out[0] != '\0')
			abort();
		return;
	}
	if (rc != 0 || check_scheme(out) != 0 ||
	    pwhash_verify(out, pw, pwlen, &min_params, &rehash) != PWHASH_MATCH || rehash)
		abort();
	p.opslimit = 2;
	if (pwhash_verify(out, pw, pwlen, &p, &rehash) != PWHASH_MATCH || !rehash)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[1024];
	const uint8_t *nul;
	const char *pw;
	size_t slen, pwlen, skip;
	unsigned mode;
	bool slow;

	if (size < 1 || size > 1024)
		return 0;
	mode = (data[0] & 0x7f) % 6;
	slow = (data[0] & 0x80) != 0;
	skip = mode == 4 && size > 1 ? 2 : 1;
	data += skip;
	size -= skip;
	nul = memchr(data, '\0', size);
	slen = nul != NULL ? (size_t)(nul - data) : size;
	memcpy(s, data, slen);
	s[slen] = '\0';
	pw = nul != NULL ? (const char *)nul + 1 : "";
	pwlen = nul != NULL ? size - slen - 1 : 0;
	switch (mode) {
	case 0:
		(void)check_scheme(s);
		break;
	case 1:
		do_verify(s, pw, pwlen, slow);
		break;
	case 2:
		do_crypt(s, pw, pwlen);
		break;
	case 3:
		do_ssha512((const uint8_t *)s, slen, pw, pwlen);
		break;
	case 4:
		do_pbkdf2(skip == 2 && data[-1] != 0 ? data[-1] : 1, s, pw, pwlen);
		break;
	default:
		if (slow)
			do_argon2id(pw, pwlen);
		else
			(void)check_scheme(s);
		break;
	}
	return 0;
}
