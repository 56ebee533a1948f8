/* SPDX-License-Identifier: ISC */
/*
 * apppw - generation, hashing and checking of app passwords.
 *
 * SECURITY: see apppw.h.
 */
#include "auth/apppw.h"
#include "auth/sasl.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32

static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";

void
apppw_generate(char out[APPPW_TEXT_LEN + 1])
{
	uint8_t r[APPPW_CHARS];
	size_t i, o = 0;

	randombytes_buf(r, sizeof(r));
	for (i = 0; i < APPPW_CHARS; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = alphabet[r[i] & 31]; /* 32 letters: no bias */
	}
	out[o] = '\0';
	sodium_memzero(r, sizeof(r));
}

/* normalise - the 16 letters of pw, lower case, without dashes or spaces;
 * -1 if anything else is there or the count is wrong. */
static int
normalise(const char *pw, size_t len, char out[APPPW_CHARS])
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char c = pw[i];

		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (memchr(alphabet, c, sizeof(alphabet) - 1) == NULL || c == '\0' ||
		    n == APPPW_CHARS)
			return -1;
		out[n++] = c;
	}
	return n == APPPW_CHARS ? 0 : -1;
}

static void
keyed(const uint8_t salt[SALT_LEN], const char norm[APPPW_CHARS], uint8_t out[HASH_LEN])
{
	crypto_generichash(out, HASH_LEN, (const uint8_t *)norm, APPPW_CHARS, salt, SALT_LEN);
}

int
apppw_hash(const char *pw, size_t len, char *out, size_t outsz)
{
	uint8_t salt[SALT_LEN], h[HASH_LEN];
	char norm[APPPW_CHARS], s64[64], h64[64];
	int rc = -1;

	if (normalise(pw, len, norm) == -1)
		goto done;
	randombytes_buf(salt, sizeof(salt));
	keyed(salt, norm, h);
	sodium_bin2base64(s64, sizeof(s64), salt, sizeof(salt),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	sodium_bin2base64(h64, sizeof(h64), h, sizeof(h),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	if (snprintf(out, outsz, "%s%s$%s", APPPW_SCHEME, s64, h64) < (int)outsz)
		rc = 0;
done:
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(h, sizeof(h));
	return rc;
}

bool
apppw_verify(const char *stored, const char *pw, size_t len)
{
	uint8_t salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
	char norm[APPPW_CHARS];
	const char *p, *dollar;
	size_t n;
	bool ok = false;

	if (stored == NULL || strncmp(stored, APPPW_SCHEME, strlen(APPPW_SCHEME)) != 0)
		return false;
	p = stored + strlen(APPPW_SCHEME);
	dollar = strchr(p, '$');
	if (dollar == NULL || !sasl_b64_chars(p, (size_t)(dollar - p)) ||
	    !sasl_b64_chars(dollar + 1, strlen(dollar + 1)) ||
	    sodium_base642bin(salt, sizeof(salt), p, (size_t)(dollar - p), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    n != SALT_LEN ||
	    sodium_base642bin(want, sizeof(want), dollar + 1, strlen(dollar + 1), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    n != HASH_LEN)
		return false;
	if (normalise(pw, len, norm) == 0) {
		keyed(salt, norm, got);
		ok = sodium_memcmp(got, want, HASH_LEN) == 0;
	}
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(got, sizeof(got));
	return ok;
}
