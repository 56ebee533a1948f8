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

/* passwdfile_line - parse one line (no newline; a final CR and white space
 * around the line are ignored). Returns 0 with e filled, 1 for a blank or
 * comment ('#') line, -1 if malformed: over PASSWDFILE_LINE_MAX, a NUL, no
 * ':', an empty, overlong or space/control-character user or password
 * field, or a user that is not UTF-8. e is all zero unless 0 is returned. */
int passwdfile_line(const char *line, size_t len, struct passwd_entry *e);

#endif
