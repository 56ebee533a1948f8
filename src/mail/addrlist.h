/* SPDX-License-Identifier: ISC */
/*
 * addrlist - the addresses in a header field such as From: (RFC 5322
 * address-list): display names, quoted strings, comments and groups are
 * skipped; what remains are the addr-specs.
 *
 * SECURITY: message content, possibly hostile. Pure, bounded (at most
 * ADDRLIST_MAX addresses of SMTP_PATH_MAX bytes), fuzzed. Used to decide
 * whether an authenticated user may send a message, so anything it cannot
 * parse is reported as an error rather than guessed.
 * STANDARDS: RFC 5322 3.4 (address specification), 3.2.2 (comments).
 */
#ifndef POSTERN_ADDRLIST_H
#define POSTERN_ADDRLIST_H

#include <stddef.h>

#include "mail/syntax.h"

#define ADDRLIST_MAX 32

struct addrlist {
	char addr[ADDRLIST_MAX][SMTP_PATH_MAX + 1];
	size_t n;
	size_t groups; /* "name: a, b;" groups seen (not allowed in From:) */
};

/* addrlist_parse - the addresses of an unfolded header value of len bytes.
 * 0, or -1 if the value is malformed or holds too many addresses. */
int addrlist_parse(const char *value, size_t len, struct addrlist *out);

#endif
