/* SPDX-License-Identifier: ISC */
/*
 * passwdfile - Dovecot passwd-file lines, for `postern user import`:
 * "user:{SCHEME}hash:uid:gid:gecos:home:shell:extra"; only the user and
 * password fields are used.
 *
 * SECURITY: reads an operator's file; pure and fuzzed. Fields are bounded;
 * a line that does not parse is reported by number, never half-imported.
 * STANDARDS: Dovecot passwd-file format (doc.dovecot.org, "Passwd-file").
 */
#ifndef POSTERN_PASSWDFILE_H
#define POSTERN_PASSWDFILE_H

#include <stddef.h>

#define PASSWDFILE_LINE_MAX 4096

struct passwd_entry {
	char user[321];
	char hash[257];
};

/* passwdfile_line - parse one line (no newline). Returns 0 with e filled,
 * 1 for a blank or comment line, -1 if malformed. */
int passwdfile_line(const char *line, size_t len, struct passwd_entry *e);

#endif
