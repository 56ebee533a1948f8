/* SPDX-License-Identifier: ISC */
/*
 * passwdfile - Dovecot passwd-file line parser.
 *
 * SECURITY: see passwdfile.h. The password field is a stored hash: every
 * check comes before anything is copied, so on any error e is all zero and
 * a caller never holds half of a line.
 * STANDARDS: Dovecot passwd-file format (doc.dovecot.org, "Passwd-file").
 */
#include "auth/passwdfile.h"

#include <stdbool.h>
#include <string.h>

#include "lib/util.h"

/* is_blank - space or tab, the white space around a line. */
static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* valid_field - n bytes, none of them a control character or a space. */
static bool
valid_field(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ')
			return false;
	return true;
}

int
passwdfile_line(const char *line, size_t len, struct passwd_entry *e)
{
	const char *c1, *c2, *p = line, *end;
	size_t ul, hl;

	memset(e, 0, sizeof(*e));
	/* a CR of a CRLF file, and white space around the line */
	while (len > 0 && (line[len - 1] == '\r' || is_blank(line[len - 1])))
		len--;
	end = line + len;
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == '#')
		return 1;
	if (len > PASSWDFILE_LINE_MAX || memchr(line, '\0', len) != NULL)
		return -1;
	c1 = memchr(p, ':', (size_t)(end - p));
	if (c1 == NULL)
		return -1;
	c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
	if (c2 == NULL)
		c2 = end; /* "user:password" alone is allowed */
	ul = (size_t)(c1 - p);
	hl = (size_t)(c2 - c1 - 1);
	if (ul == 0 || ul >= sizeof(e->user) || hl == 0 || hl >= sizeof(e->hash) ||
	    !valid_field(p, ul) || !valid_field(c1 + 1, hl) || !valid_utf8(p, ul))
		return -1;
	memcpy(e->user, p, ul);
	memcpy(e->hash, c1 + 1, hl);
	return 0;
}
