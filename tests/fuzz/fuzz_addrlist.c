/* SPDX-License-Identifier: ISC */
/*
 * fuzz_addrlist - addr-specs out of RFC 5322 address lists
 * (src/mail/addrlist.c), raw bytes, NUL included.
 *
 * Checked: an accepted list holds 1 to ADDRLIST_MAX addresses, each with an
 * '@', no white space and at most SMTP_PATH_MAX bytes, each made of the
 * input's bytes in order; a NUL anywhere is refused; a comment and blanks
 * before or after the list change nothing; and a list of plain addresses
 * (atext, '.', '@', UTF-8) written back as "<a>, <b>" and as "a, b" parses
 * to the same addresses.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/addrlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* from_input - a is a subsequence of the input. */
static bool
from_input(const char *a, const char *in, size_t len)
{
	size_t i = 0;

	for (; *a != '\0'; a++) {
		while (i < len && in[i] != *a)
			i++;
		if (i == len)
			return false;
		i++;
	}
	return true;
}

static bool
plain(const char *a)
{
	for (; *a != '\0'; a++)
		if (!((unsigned char)*a >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~.@", *a) != NULL ||
		      (*a >= '0' && *a <= '9') || (*a >= 'A' && *a <= 'Z') ||
		      (*a >= 'a' && *a <= 'z')))
			return false;
	return true;
}

static bool
same(const struct addrlist *a, const struct addrlist *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->addr[i], b->addr[i]) != 0)
			return false;
	return true;
}

/* reparse - the addresses written back, in angle brackets or bare. */
static void
reparse(const struct addrlist *l, bool angle)
{
	static struct addrlist again;
	char buf[ADDRLIST_MAX * (SMTP_PATH_MAX + 4)];
	size_t i, n, off = 0;

	for (i = 0; i < l->n; i++) {
		n = strlen(l->addr[i]);
		if (i > 0)
			buf[off++] = ',';
		buf[off++] = ' ';
		if (angle)
			buf[off++] = '<';
		memcpy(buf + off, l->addr[i], n);
		off += n;
		if (angle)
			buf[off++] = '>';
	}
	if (addrlist_parse(buf, off, &again) != 0 || !same(l, &again))
		abort();
}

/* wrapped - the input between a comment and blanks. */
static void
wrapped(const char *in, size_t len, int rc, const struct addrlist *l)
{
	static struct addrlist again;
	char *buf = malloc(len + 12);

	if (buf == NULL)
		abort();
	memcpy(buf, " (c) ", 5);
	memcpy(buf + 5, in, len);
	memcpy(buf + 5 + len, "\t(d)\r\n ", 7);
	if (addrlist_parse(buf, len + 12, &again) != rc || (rc == 0 && !same(l, &again)))
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct addrlist l;
	const char *in = (const char *)data;
	bool all_plain = true;
	size_t i;
	int rc;

	if (size > 16384)
		return 0;
	rc = addrlist_parse(in, size, &l);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && memchr(in, '\0', size) != NULL)
		abort();
	if (rc == 0) {
		if (l.n == 0 || l.n > ADDRLIST_MAX)
			abort();
		for (i = 0; i < l.n; i++) {
			const char *a = l.addr[i];
			size_t n = strnlen(a, sizeof(l.addr[i]));

			if (n == 0 || n > SMTP_PATH_MAX || strchr(a, '@') == NULL ||
			    strpbrk(a, " \t\r\n") != NULL || !from_input(a, in, size))
				abort();
			all_plain = all_plain && plain(a);
		}
		if (all_plain) {
			reparse(&l, true);
			reparse(&l, false);
		}
	}
	if (memchr(in, '\0', size) == NULL)
		wrapped(in, size, rc, &l);
	return 0;
}
