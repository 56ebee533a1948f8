/* SPDX-License-Identifier: ISC */
/*
 * passwdfile - Dovecot passwd-file line parser.
 *
 * SECURITY: see passwdfile.h.
 */
#include "auth/passwdfile.h"

#include <string.h>

#include "lib/util.h"

int
passwdfile_line(const char *line, size_t len, struct passwd_entry *e)
{
	const char *c1, *c2, *p = line;
	size_t ul, hl, i;

	memset(e, 0, sizeof(*e));
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	while (p < line + len && (*p == ' ' || *p == '\t'))
		p++;
	if (p == line + len || *p == '#')
		return 1;
	if (len > PASSWDFILE_LINE_MAX || memchr(line, '\0', len) != NULL)
		return -1;
	c1 = memchr(p, ':', (size_t)(line + len - p));
	if (c1 == NULL)
		return -1;
	c2 = memchr(c1 + 1, ':', (size_t)(line + len - c1 - 1));
	if (c2 == NULL)
		c2 = line + len; /* "user:password" alone is allowed */
	ul = (size_t)(c1 - p);
	hl = (size_t)(c2 - c1 - 1);
	if (ul == 0 || ul >= sizeof(e->user) || hl == 0 || hl >= sizeof(e->hash))
		return -1;
	for (i = 0; i < ul; i++)
		if ((unsigned char)p[i] <= ' ')
			return -1;
	for (i = 0; i < hl; i++)
		if ((unsigned char)c1[1 + i] <= ' ')
			return -1;
	memcpy(e->user, p, ul);
	memcpy(e->hash, c1 + 1, hl);
	if (!valid_utf8(e->user, ul))
		return -1;
	return 0;
}
