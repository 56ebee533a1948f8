/* SPDX-License-Identifier: ISC */
/*
 * fuzz_passwdfile - Dovecot passwd-file lines (src/auth/passwdfile.c), as
 * `postern user import` feeds them: the input split at '\n', and whole.
 *
 * Checked: an accepted line gives a user and a password that are its first
 * two ':' fields after leading blanks, bounded, without spaces, control
 * characters or ':', the user valid UTF-8 (compared with a second decoder),
 * and "user:password" alone parses back to the same; a skipped line is
 * blank or a '#' comment; a refused or skipped line leaves the entry all
 * zero; a final CR and leading blanks change nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passwdfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* is_zero - memcmp, not a loop: a byte loop is traced compare by compare. */
static bool
is_zero(const struct passwd_entry *e)
{
	static const struct passwd_entry zero;

	return memcmp(e, &zero, sizeof(*e)) == 0;
}

/* ref_utf8 - RFC 3629 section 4, as a second opinion on valid_utf8. */
static bool
ref_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, need;

	while (i < n) {
		unsigned char c = s[i], lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3;
		else
			return false;
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		if (n - i - 1 < need)
			return false;
		for (k = 1; k <= need; k++)
			if (s[i + k] < (k == 1 ? lo : 0x80) || s[i + k] > (k == 1 ? hi : 0xbf))
				return false;
		i += need + 1;
	}
	return true;
}

static bool
clean_field(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == ':')
			return false;
	return true;
}

/* check_accepted - e came from the line of len bytes. */
static void
check_accepted(const char *line, size_t len, const struct passwd_entry *e)
{
	size_t ul = strnlen(e->user, sizeof(e->user)), hl = strnlen(e->hash, sizeof(e->hash));
	size_t end = len, i = 0;
	struct passwd_entry again;
	char buf[sizeof(e->user) + sizeof(e->hash)];

	if (ul == 0 || ul >= sizeof(e->user) || hl == 0 || hl >= sizeof(e->hash) ||
	    !clean_field(e->user, ul) || !clean_field(e->hash, hl) ||
	    !ref_utf8((const unsigned char *)e->user, ul))
		abort();
	while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	while (i < end && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (end - i < ul + 1 + hl || memcmp(line + i, e->user, ul) != 0 || line[i + ul] != ':' ||
	    memcmp(line + i + ul + 1, e->hash, hl) != 0 ||
	    (i + ul + 1 + hl < end && line[i + ul + 1 + hl] != ':'))
		abort();
	memcpy(buf, e->user, ul);
	buf[ul] = ':';
	memcpy(buf + ul + 1, e->hash, hl);
	if (passwdfile_line(buf, ul + 1 + hl, &again) != 0 || memcmp(&again, e, sizeof(*e)) != 0)
		abort();
}

/* check_skipped - a blank line or a comment. */
static void
check_skipped(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] != '#') {
		for (; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
				abort();
	}
}

static int
one_line(const char *line, size_t len, struct passwd_entry *e)
{
	int rc = passwdfile_line(line, len, e);

	if (rc == 0)
		check_accepted(line, len, e);
	else if (rc == 1)
		check_skipped(line, len);
	else if (rc != -1)
		abort();
	if (rc != 0 && !is_zero(e))
		abort();
	return rc;
}

/* variants - a CR at the end, or a blank at the start, changes nothing. */
static void
variants(const char *line, size_t len, int rc, const struct passwd_entry *e)
{
	struct passwd_entry e2;
	char *v = malloc(len + 1);

	if (v == NULL)
		abort();
	memcpy(v, line, len);
	v[len] = '\r';
	if (passwdfile_line(v, len + 1, &e2) != rc || memcmp(&e2, e, sizeof(e2)) != 0)
		abort();
	if (len < PASSWDFILE_LINE_MAX) {
		v[0] = '\t';
		memcpy(v + 1, line, len);
		if (passwdfile_line(v, len + 1, &e2) != rc || memcmp(&e2, e, sizeof(e2)) != 0)
			abort();
	}
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct passwd_entry e;
	size_t off = 0;
	int rc;

	if (size > 3 * PASSWDFILE_LINE_MAX)
		return 0;
	while (off <= size) {
		const char *nl = memchr(s + off, '\n', size - off);
		size_t len = nl != NULL ? (size_t)(nl - (s + off)) : size - off;

		rc = one_line(s + off, len, &e);
		variants(s + off, len, rc, &e);
		off += len + 1;
	}
	(void)one_line(s, size, &e);
	return 0;
}
