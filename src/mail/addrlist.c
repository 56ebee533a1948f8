/* SPDX-License-Identifier: ISC */
/*
 * addrlist - extract addr-specs from an RFC 5322 address list.
 *
 * SECURITY: see addrlist.h. Nesting of comments is bounded.
 */
#include "mail/addrlist.h"

#include <stdbool.h>
#include <string.h>

#define COMMENT_DEPTH_MAX 16

struct scan {
	const char *p, *end;
};

/* skip_cfws - spaces, tabs and (nested (comments)); -1 if one is open. */
static int
skip_cfws(struct scan *s)
{
	int depth = 0;

	while (s->p < s->end) {
		char c = *s->p;

		if (depth == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			s->p++;
		} else if (c == '(') {
			if (++depth > COMMENT_DEPTH_MAX)
				return -1;
			s->p++;
		} else if (depth > 0) {
			if (c == '\\' && s->p + 1 < s->end)
				s->p++;
			else if (c == ')')
				depth--;
			s->p++;
		} else {
			break;
		}
	}
	return depth == 0 ? 0 : -1;
}

/* skip_quoted - a "quoted string" starting at s->p; -1 if unterminated. */
static int
skip_quoted(struct scan *s)
{
	s->p++;
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		s->p++;
	}
	if (s->p >= s->end)
		return -1;
	s->p++;
	return 0;
}

static int
add(struct addrlist *out, const char *a, size_t n)
{
	size_t i, o = 0;

	/* trailing and leading CFWS of a bare addr-spec */
	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
		n--;
	if (n == 0 || out->n >= ADDRLIST_MAX || n > SMTP_PATH_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (a[i] != ' ' && a[i] != '\t' && a[i] != '\r' && a[i] != '\n')
			out->addr[out->n][o++] = a[i];
	out->addr[out->n][o] = '\0';
	if (strchr(out->addr[out->n], '@') == NULL)
		return -1;
	out->n++;
	return 0;
}

/* one_item - a mailbox, or the start of a group, up to ',' ';' or the end.
 * A bare addr-spec is collected without its comments and folding white
 * space; a mailbox with two angle-addrs, or text after its angle-addr, is
 * refused rather than guessed at (a reader might show the other one). What
 * is collected is only an address if no angle-addr follows: a display name
 * may be longer than an address (RFC 5322 sets no limit), so running out
 * of room is an error only then. */
static int
one_item(struct scan *s, struct addrlist *out)
{
	const char *angle = NULL, *angle_end = NULL;
	char bare[SMTP_PATH_MAX + 1];
	size_t nbare = 0;
	bool any = false, toolong = false;

	if (skip_cfws(s) == -1)
		return -1;
	/* ';' ends a group; outside quotes it cannot be part of an address */
	while (s->p < s->end && *s->p != ',' && *s->p != ';') {
		char c = *s->p;

		if (angle_end != NULL && c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
		    c != '(')
			return -1;
		any = true;
		if (c == '"') {
			const char *q = s->p;

			if (skip_quoted(s) == -1)
				return -1;
			if (nbare + (size_t)(s->p - q) > SMTP_PATH_MAX) {
				toolong = true;
			} else {
				memcpy(bare + nbare, q, (size_t)(s->p - q));
				nbare += (size_t)(s->p - q);
			}
		} else if (c == '(') {
			if (skip_cfws(s) == -1)
				return -1;
		} else if (c == '<') {
			if (angle != NULL)
				return -1;
			angle = s->p + 1;
			angle_end = memchr(angle, '>', (size_t)(s->end - angle));
			if (angle_end == NULL || memchr(angle, '(', (size_t)(angle_end - angle)) != NULL)
				return -1;
			s->p = angle_end + 1;
		} else if (c == ':' && angle == NULL) {
			/* display-name ":" [mailbox-list] ";": the members follow */
			out->groups++;
			s->p++;
			return 0;
		} else {
			if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
				if (nbare >= SMTP_PATH_MAX)
					toolong = true;
				else
					bare[nbare++] = c;
			}
			s->p++;
		}
	}
	if (angle != NULL)
		return add(out, angle, (size_t)(angle_end - angle));
	if (!any)
		return 0; /* an empty item ("a@b,,c@d" is lenient) */
	if (toolong)
		return -1;
	return add(out, bare, nbare);
}

int
addrlist_parse(const char *value, size_t len, struct addrlist *out)
{
	struct scan s = {value, value + len};

	out->n = 0;
	out->groups = 0;
	if (memchr(value, '\0', len) != NULL)
		return -1;
	while (s.p < s.end) {
		if (one_item(&s, out) == -1)
			return -1;
		if (skip_cfws(&s) == -1)
			return -1;
		while (s.p < s.end && (*s.p == ',' || *s.p == ';'))
			s.p++;
	}
	return out->n > 0 ? 0 : -1;
}
