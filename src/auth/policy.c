/* SPDX-License-Identifier: ISC */
/*
 * policy - length, zxcvbn strength with context words, banned list.
 *
 * SECURITY: see policy.h. The password is copied only into buffers that
 * are wiped before they are freed.
 */
#include "auth/policy.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zxcvbn.h>

#include "lib/buf.h"
#include "lib/file.h"
#include "lib/util.h"

#define BANNED_FILE_MAX (512 * 1024 * 1024)

struct banned {
	uint8_t (*sha1)[20]; /* sorted */
	size_t nsha1;
	char **words; /* sorted, lower case */
	size_t nwords;
};

static int
cmp_sha1(const void *a, const void *b)
{
	return memcmp(a, b, 20);
}

static int
cmp_word(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* parse_sha1 - 40 hex digits into 20 bytes; 0 or -1. */
static int
parse_sha1(const char *s, size_t n, uint8_t out[20])
{
	size_t i;

	if (n != 40)
		return -1;
	for (i = 0; i < 20; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void
add_line(struct banned *b, const char *s, size_t n)
{
	uint8_t h[20];

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	/* "HASH:COUNT" as in the Pwned Passwords files */
	if (n > 40 && s[40] == ':')
		n = 40;
	if (n == 0 || s[0] == '#')
		return;
	if (parse_sha1(s, n, h) == 0) {
		b->sha1 = xreallocarray(b->sha1, b->nsha1 + 1, sizeof(*b->sha1));
		memcpy(b->sha1[b->nsha1++], h, 20);
	} else {
		char *w = xstrndup(s, n);

		for (char *p = w; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		b->words = xreallocarray(b->words, b->nwords + 1, sizeof(*b->words));
		b->words[b->nwords++] = w;
	}
}

struct banned *
banned_load(const char *path, char *err, size_t errsz)
{
	struct banned *b;
	struct buf text = BUF_INIT;
	size_t i = 0;

	if (file_read(path, BANNED_FILE_MAX, &text) == -1) {
		snprintf(err, errsz, "banned_file %s: %s", path, strerror(errno));
		buf_free(&text);
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	while (i < text.len) {
		const char *nl = memchr(text.data + i, '\n', text.len - i);
		size_t n = nl ? (size_t)(nl - (text.data + i)) : text.len - i;

		add_line(b, text.data + i, n);
		i += n + 1;
	}
	buf_free(&text);
	qsort(b->sha1, b->nsha1, sizeof(*b->sha1), cmp_sha1);
	qsort(b->words, b->nwords, sizeof(*b->words), cmp_word);
	return b;
}

void
banned_free(struct banned *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nwords; i++)
		free(b->words[i]);
	free(b->words);
	free(b->sha1);
	free(b);
}

size_t
banned_count(const struct banned *b)
{
	return b ? b->nsha1 + b->nwords : 0;
}

static bool
is_banned(const struct banned *b, const char *pw, size_t pwlen)
{
	uint8_t h[20];
	char *low;
	bool hit;

	if (b == NULL)
		return false;
	SHA1((const unsigned char *)pw, pwlen, h);
	hit = bsearch(h, b->sha1, b->nsha1, sizeof(*b->sha1), cmp_sha1) != NULL;
	low = xstrndup(pw, pwlen);
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	hit = hit || bsearch(&low, b->words, b->nwords, sizeof(*b->words), cmp_word) != NULL;
	wipe_free(low, pwlen);
	return hit;
}

/* context_words - the account's own words: the whole address, its local
 * part and the labels of its domain (zxcvbn penalises passwords built
 * from them). */
static size_t
context_words(const char *name, char *store, size_t storesz, const char **words, size_t max)
{
	size_t n = 0, o = 0, len = strlen(name), i, start = 0;

	if (len + 1 > storesz)
		return 0;
	memcpy(store, name, len + 1);
	words[n++] = store;
	o = len + 1;
	for (i = 0; i <= len && n + 1 < max; i++) {
		if (i == len || name[i] == '@' || name[i] == '.' || name[i] == '-' ||
		    name[i] == '_' || name[i] == '+') {
			size_t wl = i - start;

			if (wl >= 3 && o + wl + 1 <= storesz) {
				memcpy(store + o, name + start, wl);
				store[o + wl] = '\0';
				words[n++] = store + o;
				o += wl + 1;
			}
			start = i + 1;
		}
	}
	words[n] = NULL;
	return n;
}

int
policy_check(const struct conf_auth *ca, const struct banned *b, const char *name,
	     const char *pw, size_t pwlen, char *why, size_t whysz)
{
	const char *words[16];
	char store[2 * 320 + 64];
	char *copy;
	double bits;
	size_t i, nchars = 0;

	if (memchr(pw, '\0', pwlen) != NULL || !valid_utf8(pw, pwlen)) {
		snprintf(why, whysz, "The password contains bytes that are not text; use letters, "
				     "digits, spaces or symbols.");
		return -1;
	}
	for (i = 0; i < pwlen; i++) /* characters, not bytes (NIST SP 800-63B) */
		if (((unsigned char)pw[i] & 0xC0) != 0x80)
			nchars++;
	if (nchars < ca->min_length) {
		snprintf(why, whysz,
			 "The password is too short: use at least %ju characters (a few unrelated "
			 "words make a long password that is easy to remember).",
			 (uintmax_t)ca->min_length);
		return -1;
	}
	if (nchars > ca->max_length) {
		snprintf(why, whysz, "The password is too long: at most %ju characters.",
			 (uintmax_t)ca->max_length);
		return -1;
	}
	if (is_banned(b, pw, pwlen)) {
		snprintf(why, whysz, "This password is known from breaches or banned here; choose "
				     "a different one that you do not use anywhere else.");
		return -1;
	}
	context_words(name, store, sizeof(store), words, nitems(words) - 1);
	copy = xstrndup(pw, pwlen);
	bits = ZxcvbnMatch(copy, words, NULL);
	wipe_free(copy, pwlen);
	if (bits < (double)ca->min_entropy) {
		snprintf(why, whysz,
			 "The password is too easy to guess (%.0f bits, %ju needed): avoid your "
			 "name, address, common words, dates and keyboard patterns; add unrelated "
			 "words.",
			 bits, (uintmax_t)ca->min_entropy);
		return -1;
	}
	return 0;
}
