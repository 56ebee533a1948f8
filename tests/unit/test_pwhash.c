/* SPDX-License-Identifier: ISC */
/*
 * test_pwhash - Argon2id hashes we write, the Dovecot schemes we import,
 * malformed and over-expensive stored strings, the rehash hint and the
 * scheme names. Table-driven: each row is a stored string and what
 * pwhash_scheme() and pwhash_verify() must say about it.
 *
 * The Dovecot vectors were produced by `doveadm pw` from dovecot-core 2.3
 * (2.3.19.1, Debian 12), run once by hand; doveadm is not needed at test
 * time. The commands are given above each table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "auth/pwhash.h"
#include "lib/util.h"

#define PW "correct horse battery staple"
#define PW_UTF8 "p\xc3\xa4ssw\xc3\xb6rd \xe2\x82\xac" /* "pässwörd €" */

/* The cheapest Argon2id cost pwhash_create accepts: keeps the tests fast. */
static const struct pwhash_params min_params = {PWHASH_MEMLIMIT_MIN, PWHASH_OPSLIMIT_MIN};

/* verify - pwhash_verify of the NUL-terminated pw, with rehash. */
static enum pwhash_result
verify(const char *stored, const char *pw, const struct pwhash_params *p, bool *rehash)
{
	return pwhash_verify(stored, pw, strlen(pw), p, rehash);
}

/* ssha512 - a Dovecot {SSHA512} string: base64(SHA-512(pw || salt) || salt). */
static void
ssha512(const char *pw, size_t pwlen, const uint8_t *salt, size_t saltlen, char *out,
	size_t outsz)
{
	uint8_t raw[EVP_MAX_MD_SIZE + 256];
	unsigned dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_true(saltlen <= 256);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha512(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, pw, pwlen), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, salt, saltlen), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, raw, &dlen), 1);
	EVP_MD_CTX_free(ctx);
	memcpy(raw + dlen, salt, saltlen);
	assert_true(outsz >= 9 + (dlen + saltlen + 2) / 3 * 4 + 1);
	memcpy(out, "{SSHA512}", 9);
	EVP_EncodeBlock((unsigned char *)out + 9, raw, (int)(dlen + saltlen));
}

static void
test_params(void **state)
{
	static const struct {
		uint64_t memlimit, opslimit;
		bool valid;
	} rows[] = {
		{PWHASH_MEMLIMIT_DEFAULT, PWHASH_OPSLIMIT_DEFAULT, true},
		{PWHASH_MEMLIMIT_MIN, PWHASH_OPSLIMIT_MIN, true},
		{PWHASH_MEMLIMIT_MIN - 1, 1, false},
		{PWHASH_MEMLIMIT_MIN, 0, false},
		{PWHASH_MEMLIMIT_MAX, 1, true},
		{PWHASH_MEMLIMIT_MAX + 1024, 1, false},
		{PWHASH_MEMLIMIT_MAX, 2, false},	/* over the work cap */
		{256ULL << 20, 4, true},		/* the work cap exactly */
		{256ULL << 20, 5, false},
		{64ULL << 20, PWHASH_OPSLIMIT_MAX, true},
		{64ULL << 20, PWHASH_OPSLIMIT_MAX + 1, false},
		{UINT64_MAX, UINT64_MAX, false},
	};
	struct pwhash_params p;
	size_t i;

	(void)state;
	pwhash_params_default(&p);
	assert_int_equal(p.memlimit, 64ULL << 20);
	assert_int_equal(p.opslimit, 3);
	for (i = 0; i < nitems(rows); i++) {
		p.memlimit = rows[i].memlimit;
		p.opslimit = rows[i].opslimit;
		if (valid_pwhash_params(&p) != rows[i].valid)
			fail_msg("row %zu: valid_pwhash_params is %d", i, !rows[i].valid);
	}
}

/* Create at the cheapest cost, verify, and check the rehash hint against
 * costs above and below the stored one. */
static void
test_create_verify(void **state)
{
	char h1[PWHASH_STR_MAX], h2[PWHASH_STR_MAX], scheme[PWHASH_SCHEME_MAX];
	struct pwhash_params p;
	bool rehash = true;

	(void)state;
	assert_int_equal(pwhash_create(PW, strlen(PW), &min_params, h1, sizeof(h1)), 0);
	assert_int_equal(pwhash_create(PW, strlen(PW), &min_params, h2, sizeof(h2)), 0);
	assert_true(strncmp(h1, "{ARGON2ID}$argon2id$v=19$m=8192,t=1,p=1$", 40) == 0);
	assert_string_not_equal(h1, h2); /* a fresh salt each time */
	assert_int_equal(pwhash_scheme(h1, scheme, sizeof(scheme)), 0);
	assert_string_equal(scheme, "ARGON2ID");

	assert_int_equal(verify(h1, PW, &min_params, &rehash), PWHASH_MATCH);
	assert_false(rehash);
	assert_int_equal(verify(h2, PW, &min_params, NULL), PWHASH_MATCH);
	rehash = true;
	assert_int_equal(verify(h1, PW "x", &min_params, &rehash), PWHASH_MISMATCH);
	assert_false(rehash);
	assert_int_equal(verify(h1, "", &min_params, &rehash), PWHASH_MISMATCH);
	assert_int_equal(verify(h1, "correct horse battery stapl", &min_params, NULL),
			 PWHASH_MISMATCH);

	/* the configured cost went up: more memory, more passes */
	p = min_params;
	p.memlimit *= 2;
	assert_int_equal(verify(h1, PW, &p, &rehash), PWHASH_MATCH);
	assert_true(rehash);
	p = min_params;
	p.opslimit = 2;
	assert_int_equal(verify(h1, PW, &p, &rehash), PWHASH_MATCH);
	assert_true(rehash);
	/* not a multiple of 1024: libsodium rounds down, so does the hint */
	p = min_params;
	p.memlimit += 1000;
	assert_int_equal(verify(h1, PW, &p, &rehash), PWHASH_MATCH);
	assert_false(rehash);
	/* the defaults (NULL) are above the minimum */
	assert_int_equal(verify(h1, PW, NULL, &rehash), PWHASH_MATCH);
	assert_true(rehash);

	/* a stored cost above the configured one is kept */
	p.memlimit = 16ULL << 20;
	p.opslimit = 2;
	assert_int_equal(pwhash_create(PW_UTF8, strlen(PW_UTF8), &p, h2, sizeof(h2)), 0);
	assert_true(strncmp(h2, "{ARGON2ID}$argon2id$v=19$m=16384,t=2,p=1$", 41) == 0);
	assert_int_equal(verify(h2, PW_UTF8, &min_params, &rehash), PWHASH_MATCH);
	assert_false(rehash);
	p.opslimit = 3;
	assert_int_equal(verify(h2, PW_UTF8, &p, &rehash), PWHASH_MATCH);
	assert_true(rehash);
}

static void
test_create_refuses(void **state)
{
	char pw[PWHASH_PW_MAX + 2], out[PWHASH_STR_MAX];
	struct pwhash_params p;

	(void)state;
	memset(pw, 'a', sizeof(pw));
	/* PWHASH_PW_MAX is allowed, one more is not */
	assert_int_equal(pwhash_create(pw, PWHASH_PW_MAX, &min_params, out, sizeof(out)), 0);
	assert_int_equal(verify(out, "", &min_params, NULL), PWHASH_MISMATCH);
	assert_int_equal(pwhash_verify(out, pw, PWHASH_PW_MAX, &min_params, NULL), PWHASH_MATCH);
	assert_int_equal(pwhash_create(pw, PWHASH_PW_MAX + 1, &min_params, out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(pwhash_create("a\0b", 3, &min_params, out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(pwhash_create(NULL, 0, &min_params, out, sizeof(out)), -1);
	assert_int_equal(pwhash_create(PW, strlen(PW), &min_params, NULL, 0), -1);
	/* too small for the string: -1 and "" rather than a cut hash */
	assert_int_equal(pwhash_create(PW, strlen(PW), &min_params, out, 40), -1);
	assert_string_equal(out, "");
	/* bad costs are refused before anything is computed */
	p.memlimit = PWHASH_MEMLIMIT_MIN - 1;
	p.opslimit = 1;
	assert_int_equal(pwhash_create(PW, strlen(PW), &p, out, sizeof(out)), -1);
	p.memlimit = PWHASH_MEMLIMIT_MAX;
	p.opslimit = 2;
	assert_int_equal(pwhash_create(PW, strlen(PW), &p, out, sizeof(out)), -1);
	p.memlimit = 4ULL << 30;
	p.opslimit = 1;
	assert_int_equal(pwhash_create(PW, strlen(PW), &p, out, sizeof(out)), -1);
	p.memlimit = PWHASH_MEMLIMIT_MIN;
	p.opslimit = 100000;
	assert_int_equal(pwhash_create(PW, strlen(PW), &p, out, sizeof(out)), -1);
	assert_string_equal(out, "");
}

/* Every scheme, as Dovecot 2.3 writes it, from
 *   doveadm pw -s SCHEME -p 'correct horse battery staple'
 * and where a row says "-r N",
 *   doveadm pw -s SCHEME -r N -p 'correct horse battery staple'
 * (doveadm raises a SHA-crypt rounds=10 to rounds=1000), and the last three
 * from doveadm pw -s SCHEME -p 'pässwörd €' (UTF-8) and
 * doveadm pw -s SSHA512 -p ''. */
static const struct {
	const char *stored;
	const char *pw;
	const char *scheme;
	bool rehash; /* at the default cost */
} dovecot[] = {
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$SmFl/d38Y+2RCjGnXkktZQ$"
	 "ZUcWkY4LPu1ZGYwxDXOHieFYpWiYjrp4uVR85o38xEU",
	 PW, "ARGON2ID", false},
	{"{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$KSIrJIUSEt3mdYAzemJ2LQ$"
	 "YlZMvc6EMKAOF4sIhZXl075C9RJ7ezAkQTvEFJuz8jk",
	 PW, "ARGON2I", true},
	{"{BLF-CRYPT}$2y$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6", PW,
	 "BLF-CRYPT", true},
	/* -r 4 */
	{"{BLF-CRYPT}$2y$04$.2FIHg0DxOYglCrKfKCFXej2jIZvnYDyYWyrkszW76gYUFrYbOdrm", PW,
	 "BLF-CRYPT", true},
	{"{SHA512-CRYPT}$6$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2"
	 "NS8ofOZNzx2C9qVTKvirA0WR5UKbSUUa30",
	 PW, "SHA512-CRYPT", true},
	/* -r 6000 */
	{"{SHA512-CRYPT}$6$rounds=6000$UwfN.nIegP/H1Mrb$GMMIFfzkwAvixjcCz29pFIANdschE47NJA5UEGIg"
	 "NrKyDSgpgINspfhYO/6UexFjqXl7ES1M.HeMi8pu6R3KO1",
	 PW, "SHA512-CRYPT", true},
	{"{SHA256-CRYPT}$5$.GoosBmK/qIPCiCd$j0qZBS9tZtY161ZJuNSXTb.srFn.njGGvcVIkNcQg.4", PW,
	 "SHA256-CRYPT", true},
	/* -r 10 */
	{"{SHA256-CRYPT}$5$rounds=1000$/KA9/4MVy/cQvXNl$ghPrMeU4NAjR1y1r/D/zBgMqmfJnYwQkXawEvF8O"
	 "SB/",
	 PW, "SHA256-CRYPT", true},
	{"{CRYPT}$2y$05$Xl17Ycrl3JLB26ID02BpZ.U/FP0blsRZUWVx6v4HX9hSR.lrSxsx.", PW, "CRYPT", true},
	{"{MD5-CRYPT}$1$ZSJB50s7$MdJGSHdqO6ON0UdZzRkT2.", PW, "MD5-CRYPT", true},
	{"{DES-CRYPT}yOBji5P3jQGIk", PW, "DES-CRYPT", true},
	{"{SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng6"
	 "QxvZA1OJ0=",
	 PW, "SSHA512", true},
	{"{PBKDF2}$1$7vng2nCj/b6aqpAo$5000$6fe540abcc12450ab406ca742f11646e58780653", PW, "PBKDF2",
	 true},
	/* -r 1 */
	{"{PBKDF2}$1$qc1pt4kjL7YaeFrX$1$99312bc6c7a8cfd34b8e5d2f40a1eb12189e8975", PW, "PBKDF2",
	 true},
	{"{SHA512-CRYPT}$6$xJ5EPp7jc4AHMJ1V$HfHjXYisy562crr91D96AMJtpRquq8B9t9MKlIMYCOeEMps9.It3eEa/"
	 "71yXqbQ2H8uN.Bmt85zWoVlbNmUYi/",
	 PW_UTF8, "SHA512-CRYPT", true},
	{"{SSHA512}LYgSMPYQo7gYCgEd9mMb6Gw09foTnaXCssI/oTPaYX3MLf7k2NuiJIPaIKGN6p1k/1mXkhe9HDu/44vd7"
	 "OYZ3gDmlXQ=",
	 PW_UTF8, "SSHA512", true},
	{"{SSHA512}N27fDfOrNBalDRcqnkjGR82bl8DthZANve1/2YFcpGlOaQ0X/9K/Gx6FkWKZznX0IRnSsEmMuhG2HsPJX8"
	 "j3WBVS1N0=",
	 "", "SSHA512", true},
};

static void
test_dovecot(void **state)
{
	char scheme[PWHASH_SCHEME_MAX], wrong[PWHASH_PW_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(dovecot); i++) {
		bool rehash = !dovecot[i].rehash;
		enum pwhash_result r;

		if (pwhash_scheme(dovecot[i].stored, scheme, sizeof(scheme)) != 0 ||
		    strcmp(scheme, dovecot[i].scheme) != 0)
			fail_msg("row %zu: scheme \"%s\", want %s", i, scheme, dovecot[i].scheme);
		r = verify(dovecot[i].stored, dovecot[i].pw, NULL, &rehash);
		if (r != PWHASH_MATCH || rehash != dovecot[i].rehash)
			fail_msg("row %zu (%s): result %d rehash %d", i, dovecot[i].scheme, r, rehash);
		/* the first byte changed (DES-crypt only sees 8 characters) */
		assert_int_equal(str_fmt(wrong, sizeof(wrong), "%s", dovecot[i].pw), 0);
		if (wrong[0] != '\0')
			wrong[0] ^= 1;
		else
			assert_int_equal(str_copy(wrong, "x", sizeof(wrong)), 0);
		rehash = true;
		r = verify(dovecot[i].stored, wrong, NULL, &rehash);
		if (r != PWHASH_MISMATCH || rehash)
			fail_msg("row %zu (%s): wrong password gave %d", i, dovecot[i].scheme, r);
	}
}

/* Scheme names in any case (as Dovecot reads them), and bare crypt(3)/PHC
 * strings: the rows above without their {PREFIX}, or with another one. */
static void
test_prefixes(void **state)
{
	static const struct {
		const char *stored;
		const char *scheme;
	} rows[] = {
		{"{argon2i}$argon2i$v=19$m=32768,t=4,p=1$KSIrJIUSEt3mdYAzemJ2LQ$"
		 "YlZMvc6EMKAOF4sIhZXl075C9RJ7ezAkQTvEFJuz8jk",
		 "ARGON2I"},
		{"$argon2i$v=19$m=32768,t=4,p=1$KSIrJIUSEt3mdYAzemJ2LQ$"
		 "YlZMvc6EMKAOF4sIhZXl075C9RJ7ezAkQTvEFJuz8jk",
		 "ARGON2I"},
		{"$2y$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6", "BLF-CRYPT"},
		{"{Blf-Crypt}$2y$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6", "BLF-CRYPT"},
		{"{CRYPT}$2y$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6", "CRYPT"},
		{"$6$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZNzx2C9"
		 "qVTKvirA0WR5UKbSUUa30",
		 "SHA512-CRYPT"},
		{"{crypt}$6$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZ"
		 "Nzx2C9qVTKvirA0WR5UKbSUUa30",
		 "CRYPT"},
		{"$5$.GoosBmK/qIPCiCd$j0qZBS9tZtY161ZJuNSXTb.srFn.njGGvcVIkNcQg.4", "SHA256-CRYPT"},
		{"{CRYPT}$5$.GoosBmK/qIPCiCd$j0qZBS9tZtY161ZJuNSXTb.srFn.njGGvcVIkNcQg.4", "CRYPT"},
		{"$1$ZSJB50s7$MdJGSHdqO6ON0UdZzRkT2.", "MD5-CRYPT"},
		{"{CRYPT}$1$ZSJB50s7$MdJGSHdqO6ON0UdZzRkT2.", "CRYPT"},
		{"{CRYPT}yOBji5P3jQGIk", "CRYPT"},
		{"{ssha512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDy"
		 "jeng6QxvZA1OJ0=",
		 "SSHA512"},
		{"{pbkdf2}$1$7vng2nCj/b6aqpAo$5000$6fe540abcc12450ab406ca742f11646e58780653", "PBKDF2"},
	};
	char scheme[PWHASH_SCHEME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		bool rehash = false;
		enum pwhash_result r;

		if (pwhash_scheme(rows[i].stored, scheme, sizeof(scheme)) != 0 ||
		    strcmp(scheme, rows[i].scheme) != 0)
			fail_msg("row %zu: scheme \"%s\", want %s", i, scheme, rows[i].scheme);
		r = verify(rows[i].stored, PW, NULL, &rehash);
		if (r != PWHASH_MATCH || !rehash)
			fail_msg("row %zu: result %d rehash %d", i, r, rehash);
	}
}

/* Strings that are not a hash we accept: pwhash_scheme says -1 and
 * pwhash_verify BAD_FORMAT without computing what they ask for (the
 * caller's cost, here the cheapest, is spent instead). Rows marked "cost"
 * would take seconds to minutes, or gigabytes, if they were computed. */
static const char *const malformed[] = {
	"",
	"{",
	"{}",
	"{ARGON2ID}",
	"{ARGON2ID",
	"ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"{UNKNOWN}abc",
	"{PLAIN}correct horse battery staple",
	"{CLEAR}correct horse battery staple",
	/* doveadm pw -s SHA512: unsalted, not imported */
	"{SHA512}vl73Z52Iq5qQRfYmflX15XhLS4zXZLXNhVpSRPkcYmlTzUbEPXZohz/W7707IhJJMVWAAxljRyoHh4H+BG5i"
	"rg==",
	"{SSHA512.b64}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDy"
	"jeng6QxvZA1OJ0=",
	" {SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng"
	"6QxvZA1OJ0=",
	/* Argon2: the template is "$argon2id$v=19$m=8,t=1,p=1$<16-byte salt>$<32-byte hash>" */
	"$argon2id$v=19$m=4194304,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* cost: 4 GiB */
	"$argon2id$v=19$m=8,t=100000,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* cost */
	"$argon2id$v=19$m=1048576,t=16,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* cost: each cap, not both */
	"{ARGON2ID}$argon2id$v=19$m=1048576,t=4,p=1$+Yr2QPAd/UtZy/MxU5/xrg$"
	"Hn9h73FbVj8l09M+7L/IhvqrH379Jit7h4h+lcqrCis", /* cost: doveadm pw -s ARGON2ID -r 4 */
	"$argon2id$v=19$m=99999999999999999999999,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* cost, and over 64 bits */
	"$argon2id$v=19$m=7,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"$argon2id$v=19$m=8,t=0,p=1$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"$argon2id$v=19$m=08,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"$argon2id$v=19$m=8,t=1,p=2$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"$argon2id$v=16$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"$argon2id$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"$argon2id$v=19$t=1,m=8,p=1$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw==$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* padded */
	"$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIx$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* low bits set */
	"$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySa*jn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* not base64 */
	"$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1yQ$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls", /* salt 7 */
	"$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2", /* hash 15 */
	"$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls$",
	"$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw",
	"$argon2id$v=19$m=8,t=1,p=1$",
	"$argon2id$v=19$m=8,t=1",
	"$argon2d$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"{ARGON2I}$argon2id$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"{ARGON2ID}$argon2i$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	"{ARGON2ID}$ARGON2ID$v=19$m=8,t=1,p=1$gtHIfPC1ySazjn9zeSLCIw$"
	"8oU0ZgPuxn51sr43k/c2eYa3XKgQVwyPBQliYOVIvls",
	/* bcrypt */
	"$2x$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6",
	"$2$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6",
	"$2y$03$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6",
	"$2y$15$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6", /* cost */
	"$2y$31$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6", /* cost: 2^31 rounds */
	"$2y$5$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu6",
	"$2y$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu",
	"$2y$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu66",
	"$2y$05$l92RvEaNGxqasyXxJZFGX.7l6kP.F.q3jmKVOsznFpyc3VuQcTfu!",
	"$2y$05$",
	/* SHA-crypt */
	"$6$rounds=999$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZ"
	"Nzx2C9qVTKvirA0WR5UKbSUUa30",
	"$6$rounds=1000001$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8o"
	"fOZNzx2C9qVTKvirA0WR5UKbSUUa30", /* cost */
	"$6$rounds=999999999$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS"
	"8ofOZNzx2C9qVTKvirA0WR5UKbSUUa30", /* cost: minutes */
	"$6$rounds=05000$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZ"
	"Nzx2C9qVTKvirA0WR5UKbSUUa30",
	"$6$rounds=5000egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZN"
	"zx2C9qVTKvirA0WR5UKbSUUa30",
	"$6$egJJasl8PcwBxeA5x$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZNzx2C9qVTKvi"
	"rA0WR5UKbSUUa30", /* salt 17 */
	"$6$$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZNzx2C9qVTKvirA0WR5UKbSUUa30",
	"$6$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZNzx2C9qVTKvirA"
	"0WR5UKbSUUa3",
	"$6$egJJasl8PcwBxeA5$",
	"$5$.GoosBmK/qIPCiCd$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZNzx2C9qVTKvirA"
	"0WR5UKbSUUa30", /* a SHA-512 digest under $5$ */
	"$5$.GoosBmK/qIPCiCd$j0qZBS9tZtY161ZJuNSXTb.srFn.njGGvcVIkNcQg.",
	/* MD5-crypt, DES-crypt */
	"$1$ZSJB50s7x$MdJGSHdqO6ON0UdZzRkT2.",
	"$1$ZSJB50s7$MdJGSHdqO6ON0UdZzRkT2",
	"yOBji5P3jQGIk", /* DES needs {CRYPT} or {DES-CRYPT} */
	"{DES-CRYPT}yOBji5P3jQGI",
	"{DES-CRYPT}yOBji5P3jQGIkk",
	"{DES-CRYPT}yOBji5P3jQG$k",
	"{DES-CRYPT}$6$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVhX2NS8ofOZ"
	"Nzx2C9qVTKvirA0WR5UKbSUUa30",
	/* crypt(3) forms we do not take, from libxcrypt 4.4.33's crypt_gensalt() */
	"{CRYPT}$y$j9T$xX6nESHq3.wfC2wQnKDm31$hKX6tCG4ugHs4tWsviHxVGU51ta0Gw5ND0BTaUdv5m6",
	"{CRYPT}_J9...F3LXS3eHf98x1A",
	"{CRYPT}",
	/* SSHA512 */
	"{SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng6"
	"QxvZA1OJ0",
	"{SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng6"
	"QxvZA1OJ0==",
	"{SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng6"
	"QxvZA1OJ1=", /* low bits set */
	"{SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng6"
	"QxvZA1O*0=",
	"{SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng6"
	"QxvZA1OJ0=\n",
	"{SSHA512}WImycbpA1CMg5v2Rd4NKBiDdg+hEbvEnkDDF9tH5A5bbZVvRScjvXrhCyeHbiCmYHZ8XkLy3l1SDyjeng6"
	"Qx vZA1OJ0=",
	"{SSHA512}vl73Z52Iq5qQRfYmflX15XhLS4zXZLXNhVpSRPkcYmlTzUbEPXZohz/W7707IhJJMVWAAxljRyoHh4H+BG5"
	"irg==", /* no salt: the {SHA512} row */
	"{SSHA512}",
	/* PBKDF2 */
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$0$6fe540abcc12450ab406ca742f11646e58780653",
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$1000001$6fe540abcc12450ab406ca742f11646e58780653", /* cost */
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$4294967297$6fe540abcc12450ab406ca742f11646e58780653", /* cost */
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$05000$6fe540abcc12450ab406ca742f11646e58780653",
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$5000$6fe540abcc12450ab406ca742f11646e5878065",
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$5000$6fe540abcc12450ab406ca742f11646e587806533",
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$5000$6fe540abcc12450ab406ca742f11646e5878065g",
	"{PBKDF2}$1$$5000$6fe540abcc12450ab406ca742f11646e58780653",
	"{PBKDF2}$2$7vng2nCj/b6aqpAo$5000$6fe540abcc12450ab406ca742f11646e58780653",
	"{PBKDF2}$1$7vng2nCj/b6aqpAo$5000",
	"$1$7vng2nCj/b6aqpAo$5000$6fe540abcc12450ab406ca742f11646e58780653", /* needs {PBKDF2} */
};

static void
test_malformed(void **state)
{
	char scheme[PWHASH_SCHEME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(malformed); i++) {
		uint64_t t0 = now_ms(), ms;
		enum pwhash_result r;
		bool rehash = true;

		scheme[0] = 'X';
		scheme[1] = '\0';
		if (pwhash_scheme(malformed[i], scheme, sizeof(scheme)) != -1 || scheme[0] != '\0')
			fail_msg("row %zu (%s): scheme %s accepted", i, malformed[i], scheme);
		r = verify(malformed[i], PW, &min_params, &rehash);
		ms = now_ms() - t0;
		if (r != PWHASH_BAD_FORMAT || rehash)
			fail_msg("row %zu (%s): result %d", i, malformed[i], r);
		/* the cheapest Argon2id takes ~10 ms; what the row asks for, seconds */
		if (ms > 500)
			fail_msg("row %zu (%s): %ju ms", i, malformed[i], (uintmax_t)ms);
	}
	assert_int_equal(pwhash_scheme(NULL, scheme, sizeof(scheme)), -1);
	assert_int_equal(pwhash_verify(NULL, PW, strlen(PW), &min_params, NULL), PWHASH_BAD_FORMAT);
}

/* Every shorter prefix of every Dovecot vector is refused, except a cut
 * base64 that is still canonical and long enough (an Argon2 digest of 16
 * bytes or more, an SSHA512 salt of 1 or more): that is well-formed and
 * must not match. Each malformed cut costs the cheapest Argon2id in
 * pwhash_verify, so only some are verified. */
static void
test_truncated(void **state)
{
	char cut[PWHASH_STORED_MAX + 1], scheme[PWHASH_SCHEME_MAX];
	size_t i, n, len;

	(void)state;
	for (i = 0; i < nitems(dovecot); i++) {
		len = strlen(dovecot[i].stored);
		for (n = 0; n < len; n++) {
			bool argon2 = strncmp(dovecot[i].scheme, "ARGON2", 6) == 0;
			int sc;
			enum pwhash_result r;

			memcpy(cut, dovecot[i].stored, n);
			cut[n] = '\0';
			sc = pwhash_scheme(cut, scheme, sizeof(scheme));
			if (sc == 0 && !argon2 && strcmp(dovecot[i].scheme, "SSHA512") != 0)
				fail_msg("row %zu cut to %zu (%s) accepted", i, n, cut);
			/* well-formed Argon2 cuts cost the row's 32-64 MiB: ~0.1 s */
			if (sc == 0 ? argon2 && n < len - 2 : n % 8 != 0 && n != len - 1)
				continue;
			r = verify(cut, dovecot[i].pw, &min_params, NULL);
			if (r != (sc == 0 ? PWHASH_MISMATCH : PWHASH_BAD_FORMAT))
				fail_msg("row %zu cut to %zu (%s): scheme %d result %d", i, n, cut, sc, r);
		}
	}
}

/* The length cap holds for strings that are otherwise well-formed. */
static void
test_stored_max(void **state)
{
	uint8_t salt[256];
	char s[512], scheme[PWHASH_SCHEME_MAX];
	bool rehash = false;

	(void)state;
	memset(salt, 0xa5, sizeof(salt));
	/* 64 + 119 bytes: 244 base64 characters, 253 in all */
	ssha512(PW, strlen(PW), salt, 119, s, sizeof(s));
	assert_int_equal(strlen(s), 253);
	assert_true(strlen(s) <= PWHASH_STORED_MAX);
	assert_int_equal(pwhash_scheme(s, scheme, sizeof(scheme)), 0);
	assert_int_equal(verify(s, PW, NULL, &rehash), PWHASH_MATCH);
	assert_true(rehash);
	/* 64 + 122 bytes: 257 characters, one over */
	ssha512(PW, strlen(PW), salt, 122, s, sizeof(s));
	assert_int_equal(strlen(s), PWHASH_STORED_MAX + 1);
	assert_int_equal(pwhash_scheme(s, scheme, sizeof(scheme)), -1);
	assert_int_equal(verify(s, PW, &min_params, NULL), PWHASH_BAD_FORMAT);
	/* the shortest salt, one byte */
	ssha512(PW, strlen(PW), salt, 1, s, sizeof(s));
	assert_int_equal(verify(s, PW, NULL, NULL), PWHASH_MATCH);
}

/* Passwords that never match: over PWHASH_PW_MAX, with a NUL, or NULL,
 * even when the stored digest was made from exactly those bytes. */
static void
test_password_limits(void **state)
{
	static const uint8_t salt[4] = {1, 2, 3, 4};
	char pw[PWHASH_PW_MAX + 1], s[PWHASH_STORED_MAX + 1];
	bool rehash = true;

	(void)state;
	memset(pw, 'p', sizeof(pw));
	ssha512(pw, PWHASH_PW_MAX, salt, sizeof(salt), s, sizeof(s));
	assert_int_equal(pwhash_verify(s, pw, PWHASH_PW_MAX, NULL, NULL), PWHASH_MATCH);
	ssha512(pw, PWHASH_PW_MAX + 1, salt, sizeof(salt), s, sizeof(s));
	assert_int_equal(pwhash_verify(s, pw, PWHASH_PW_MAX + 1, NULL, &rehash), PWHASH_MISMATCH);
	assert_false(rehash);
	ssha512("ab\0cd", 5, salt, sizeof(salt), s, sizeof(s));
	assert_int_equal(pwhash_verify(s, "ab\0cd", 5, NULL, NULL), PWHASH_MISMATCH);
	/* NULL is not the empty password (the last Dovecot row is "") */
	ssha512("", 0, salt, sizeof(salt), s, sizeof(s));
	assert_int_equal(pwhash_verify(s, "", 0, NULL, NULL), PWHASH_MATCH);
	assert_int_equal(pwhash_verify(s, NULL, 0, NULL, NULL), PWHASH_MISMATCH);
	assert_int_equal(pwhash_verify(s, NULL, 5, NULL, NULL), PWHASH_MISMATCH);
}

static void
test_scheme_buffer(void **state)
{
	static const char *const stored =
	    "{SHA512-CRYPT}$6$egJJasl8PcwBxeA5$PrCCAnc3aKU0E8Ww3TlMVD7ChdLbAnGzmlDEAtvMOz3RrWVKVh"
	    "X2NS8ofOZNzx2C9qVTKvirA0WR5UKbSUUa30";
	char scheme[PWHASH_SCHEME_MAX];
	size_t n;

	(void)state;
	for (n = 1; n <= strlen("SHA512-CRYPT"); n++) {
		memset(scheme, 'X', sizeof(scheme));
		assert_int_equal(pwhash_scheme(stored, scheme, n), -1);
		assert_int_equal(scheme[0], '\0');
	}
	assert_int_equal(pwhash_scheme(stored, scheme, n), 0);
	assert_string_equal(scheme, "SHA512-CRYPT");
	assert_int_equal(pwhash_scheme(stored, NULL, 0), -1);
	assert_int_equal(pwhash_scheme(stored, scheme, 0), -1);
}

/* pwhash_dummy clamps what it is given: a cost of 0 is the cheapest, not
 * a libsodium error, and UINT64_MAX passes at the least memory are 16. */
static void
test_dummy(void **state)
{
	struct pwhash_params p = {0, 0};
	uint64_t t0 = now_ms();

	(void)state;
	pwhash_dummy(&p);
	p.memlimit = PWHASH_MEMLIMIT_MIN;
	p.opslimit = UINT64_MAX;
	pwhash_dummy(&p);
	assert_true(now_ms() - t0 < 2000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_create_verify),
		cmocka_unit_test(test_create_refuses),
		cmocka_unit_test(test_dovecot),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_stored_max),
		cmocka_unit_test(test_password_limits),
		cmocka_unit_test(test_scheme_buffer),
		cmocka_unit_test(test_dummy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
