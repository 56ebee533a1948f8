/* SPDX-License-Identifier: ISC */
/*
 * spf_macro - SPF macro strings (see spf_macro.h).
 *
 * SECURITY: pure; all input untrusted; output bounded by SPF_MACRO_OUT_MAX.
 * STANDARDS: RFC 7208 section 7.
 */
#include <string.h>

#include "mailauth/spf_macro.h"

/* One parsed %{...}: letter, digits (0 = all), reversal, delimiter set. */
struct macro_expand {
	char letter;
	bool upper;
	unsigned digits;
	bool reverse;
	char delims[8];
};

static bool
is_delim(char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

static bool
is_letter_ok(char c, int flags)
{
	if (c >= 'A' && c <= 'Z')
		c = (char)(c - 'A' + 'a');
	if (strchr("slodiphv", c) != NULL)
		return c != '\0';
	return (flags & SPF_MACRO_EXP) && (c == 'c' || c == 'r' || c == 't');
}

/* parse_expand - s[i] is just past "%{"; fill m and return the index just
 * past "}", or -1. */
static long
parse_expand(const char *s, size_t n, size_t i, int flags, struct macro_expand *m)
{
	size_t nd = 0;
	bool digit = false;

	memset(m, 0, sizeof(*m));
	if (i >= n || !is_letter_ok(s[i], flags))
		return -1;
	m->upper = s[i] >= 'A' && s[i] <= 'Z';
	m->letter = m->upper ? (char)(s[i] - 'A' + 'a') : s[i];
	for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		digit = true;
		if (m->digits <= SPF_MACRO_MAX_DIGITS)
			m->digits = m->digits * 10 + (unsigned)(s[i] - '0');
	}
	if (digit && m->digits == 0)
		return -1; /* 7.1: a DIGIT transformer is nonzero */
	if (i < n && (s[i] == 'r' || s[i] == 'R')) {
		m->reverse = true;
		i++;
	}
	for (; i < n && is_delim(s[i]); i++)
		if (strchr(m->delims, s[i]) == NULL && nd < sizeof(m->delims) - 1)
			m->delims[nd++] = s[i];
	if (i >= n || s[i] != '}')
		return -1;
	if (nd == 0)
		m->delims[0] = '.';
	return (long)(i + 1);
}

/* literal_ok - c may stand for itself in a macro string. */
static bool
literal_ok(char c, int flags)
{
	unsigned char u = (unsigned char)c;

	if (u == ' ')
		return (flags & SPF_MACRO_EXP) != 0;
	return u >= 0x21 && u <= 0x7e && u != '%';
}

/* step - the index after the element at s[i] (a literal or a macro), -1
 * when it is invalid; m->letter is 0 for anything but %{...}. */
static long
step(const char *s, size_t n, size_t i, int flags, struct macro_expand *m)
{
	m->letter = '\0';
	if (s[i] != '%')
		return literal_ok(s[i], flags) ? (long)(i + 1) : -1;
	if (i + 1 >= n)
		return -1;
	if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-')
		return (long)(i + 2);
	if (s[i + 1] != '{')
		return -1;
	return parse_expand(s, n, i + 2, flags, m);
}

int
spf_macro_check(const char *s, size_t n, int flags)
{
	struct macro_expand m;
	size_t i = 0;
	long next;

	while (i < n) {
		next = step(s, n, i, flags, &m);
		if (next < 0)
			return -1;
		i = (size_t)next;
	}
	return 0;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* toplabel_ok - RFC 7208 12: alphanumerics with a letter, or with an
 * inner hyphen; never all digits, never a hyphen at either end. */
static bool
toplabel_ok(const char *s, size_t n)
{
	bool alpha = false, hyphen = false;
	size_t i;

	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '-')
			hyphen = true;
		else if (!is_alnum(s[i]))
			return false;
		else if (!(s[i] >= '0' && s[i] <= '9'))
			alpha = true;
	}
	return alpha || hyphen;
}

bool
spf_macro_domain_ok(const char *s, size_t n)
{
	struct macro_expand m;
	size_t i = 0, lit = 0, dot;
	long next;

	while (i < n) {
		next = step(s, n, i, 0, &m);
		if (next < 0)
			return false;
		if (s[i] == '%')
			lit = (size_t)next; /* literal text starts after the last macro */
		i = (size_t)next;
	}
	if (n > lit && s[n - 1] == '.')
		n--;
	if (n == lit)
		return n > 0; /* ends in a macro */
	for (dot = n; dot > lit && s[dot - 1] != '.'; dot--)
		;
	if (dot == lit)
		return false; /* no "." before the top label */
	return toplabel_ok(s + dot, n - dot);
}

bool
spf_macro_uses(const char *s, size_t n, char letter)
{
	struct macro_expand m;
	size_t i = 0;
	long next;

	while (i < n) {
		next = step(s, n, i, SPF_MACRO_EXP, &m);
		if (next < 0)
			return false;
		if (m.letter == letter)
			return true;
		i = (size_t)next;
	}
	return false;
}

static const char *
letter_value(const struct spf_macro_ctx *c, char letter)
{
	const char *v = NULL;

	switch (letter) {
	case 's': v = c->sender; break;
	case 'l': v = c->local; break;
	case 'o': v = c->sender_dom; break;
	case 'd': v = c->domain; break;
	case 'i': v = c->ip; break;
	case 'p': v = c->validated; break;
	case 'v': v = c->version; break;
	case 'h': v = c->helo; break;
	case 'c': v = c->client_ip; break;
	case 'r': v = c->receiver; break;
	case 't': v = c->timestamp; break;
	default: break;
	}
	return v != NULL ? v : "";
}

/* add_part - append one part, URL-encoded when asked (7.3, RFC 3986 2.3). */
static void
add_part(struct buf *out, const char *p, size_t len, bool encode)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char u = (unsigned char)p[i];
		bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
				  (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' ||
				  u == '~';

		if (!encode || unreserved) {
			buf_addc(out, (char)u);
			continue;
		}
		buf_addc(out, '%');
		buf_addc(out, hex[u >> 4]);
		buf_addc(out, hex[u & 15]);
	}
}

/* expand_one - append the value of m; -1 when it has too many parts. */
static int
expand_one(const struct macro_expand *m, const struct spf_macro_ctx *ctx, struct buf *out)
{
	const char *v = letter_value(ctx, m->letter);
	size_t off[SPF_MACRO_MAX_PARTS], len[SPF_MACRO_MAX_PARTS];
	size_t np = 0, start = 0, i, first, k;

	for (i = 0;; i++) {
		if (v[i] != '\0' && strchr(m->delims, v[i]) == NULL)
			continue;
		if (np == SPF_MACRO_MAX_PARTS)
			return -1;
		off[np] = start;
		len[np++] = i - start;
		start = i + 1;
		if (v[i] == '\0')
			break;
	}
	first = m->digits != 0 && m->digits < np ? np - m->digits : 0;
	for (k = first; k < np; k++) {
		size_t idx = m->reverse ? np - 1 - k : k;

		if (k > first)
			buf_addc(out, '.');
		add_part(out, v + off[idx], len[idx], m->upper);
	}
	return 0;
}

int
spf_macro_expand(const char *s, size_t n, int flags, const struct spf_macro_ctx *ctx,
		 struct buf *out)
{
	struct macro_expand m;
	size_t i = 0, base = out->len;
	long next;

	while (i < n) {
		next = step(s, n, i, flags, &m);
		if (next < 0)
			return -1;
		if (m.letter != '\0') {
			if (expand_one(&m, ctx, out) == -1)
				return -1;
		} else if (s[i] != '%')
			buf_addc(out, s[i]);
		else if (s[i + 1] == '%')
			buf_addc(out, '%');
		else if (s[i + 1] == '_')
			buf_addc(out, ' ');
		else
			buf_adds(out, "%20");
		if (out->len - base > SPF_MACRO_OUT_MAX)
			return -1;
		i = (size_t)next;
	}
	return 0;
}

size_t
spf_domain_truncate(const char *name)
{
	size_t len = strlen(name), off = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	while (len - off > SPF_DOMAIN_MAX) {
		const char *dot = memchr(name + off, '.', len - off);

		if (dot == NULL)
			return off; /* one label too long: the caller's DNS check refuses it */
		off = (size_t)(dot - name) + 1;
	}
	return off;
}
