/* SPDX-License-Identifier: ISC */
/*
 * fuzz_totp - the untrusted-input side of auth/totp: base32_decode (of an
 * imported secret), totp_check (the code an SMTP client types) and unseal
 * (a sealed secret read back from the account store) under a fixed key.
 * The input, cut at its first NUL, goes to all three. Properties checked
 * beyond the sanitizers: a decoded string re-encodes to one that decodes to
 * the same bytes; an accepted code is the code of the step reported, inside
 * the window and above last_used; an unsealed secret seals and unseals back.
 * Seeds (corpus/totp/, all ours, ISC): base32 secrets (RFC 4648 section 10
 * vectors, padded, lower case, spaced, malformed), codes around NOW, and
 * sealed strings, valid and tampered.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sealed seeds in corpus/totp/ (sealed-*) were made with seal() under
 * this key, so unseal() gets past the MAC on them. */
static const uint8_t seal_key[SEAL_KEY_LEN] = "postern-fuzz-totp-seal-key-32-by";
static const uint8_t totp_key[20] = "12345678901234567890";
#define NOW 1111111109 /* step 37037036 */
#define WINDOW 2
#define LAST_USED 37037034

static void
check_base32(const char *s)
{
	uint8_t out[TOTP_KEY_MAX], again[TOTP_KEY_MAX], small[8];
	char enc[BASE32_LEN(TOTP_KEY_MAX) + 1];
	size_t n, m;

	(void)base32_decode(s, small, sizeof(small), &n);
	if (base32_decode(s, out, sizeof(out), &n) == -1) {
		if (n != 0)
			abort();
		return;
	}
	if (base32_encode(out, n, enc, sizeof(enc)) == -1 ||
	    base32_decode(enc, again, sizeof(again), &m) == -1 || m != n ||
	    memcmp(out, again, n) != 0)
		abort();
}

static void
check_code(const char *s)
{
	uint64_t step = 0;
	char want[8];

	if (totp_check(totp_key, sizeof(totp_key), s, NOW, WINDOW, LAST_USED, &step) == -1)
		return;
	snprintf(want, sizeof(want), "%06u", totp_at(totp_key, sizeof(totp_key), step));
	if (strcmp(want, s) != 0 || step <= LAST_USED || step > NOW / 30 + WINDOW)
		abort();
}

static void
check_unseal(const char *s)
{
	uint8_t out[SEAL_PLAIN_MAX], again[SEAL_PLAIN_MAX], tiny[4];
	struct buf b = BUF_INIT;
	size_t n, m;

	(void)unseal(seal_key, s, tiny, sizeof(tiny), &n);
	if (unseal(seal_key, s, out, sizeof(out), &n) == -1) {
		if (n != 0)
			abort();
		return;
	}
	if (seal(seal_key, out, n, &b) == -1 ||
	    unseal(seal_key, buf_cstr(&b), again, sizeof(again), &m) == -1 || m != n ||
	    memcmp(out, again, n) != 0)
		abort();
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 3 * SEAL_PLAIN_MAX)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_base32(s);
	check_code(s);
	check_unseal(s);
	free(s);
	return 0;
}
