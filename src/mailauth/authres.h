/* SPDX-License-Identifier: ISC */
/*
 * authres - the Authentication-Results header field: composing ours (one
 * per message, with every method's result) and reading the authserv-id of
 * an incoming one, so that a header claiming to be ours is removed before
 * we add our own (RFC 8601 section 5: forged results must not survive).
 * Also the Received-SPF header field (RFC 7208 section 9.1).
 *
 * SECURITY: pure. Incoming headers are untrusted: the authserv-id reader
 * handles comments (nested up to AUTHRES_COMMENT_DEPTH), quoted strings
 * and folding, and is fuzzed. Values we write that are not tokens, domains
 * or addresses are quoted, and CR, LF and controls never reach the output.
 * STANDARDS: RFC 8601 (Authentication-Results), RFC 7208 9.1
 * (Received-SPF), RFC 5322 3.2.2 (CFWS), 3.2.4 (quoted strings).
 */
#ifndef POSTERN_AUTHRES_H
#define POSTERN_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define AUTHRES_ID_MAX 255	 /* bytes of an authserv-id */
#define AUTHRES_COMMENT_DEPTH 8 /* nested comments we follow */
#define AUTHRES_PROPS_MAX 4	 /* properties of one result */

struct authres_prop {
	const char *ptype;    /* "smtp", "header", "policy" */
	const char *property; /* "mailfrom", "d", "from" */
	const char *value;
};

/* One method's result: "dkim=pass (reason) header.d=example.org". */
struct authres_result {
	const char *method; /* "spf", "dkim", "dmarc", "auth" */
	const char *result; /* "pass", "fail", "none", ... */
	const char *reason; /* a comment, or NULL */
	struct authres_prop props[AUTHRES_PROPS_MAX];
	size_t nprops;
};

/* authres_compose - "Authentication-Results: ID; r1; r2\r\n", folded, into
 * out (appended). No results gives "ID; none". -1 when id or a method or
 * result is not a token (a bug in the caller, or a bad hostname). */
int authres_compose(const char *authserv_id, const struct authres_result *r, size_t n,
		    struct buf *out);
/* authres_id - the authserv-id of an Authentication-Results field value
 * (what follows the colon, folding included) into id; -1 if there is
 * none to read. Pure. */
int authres_id(const char *value, size_t len, char id[AUTHRES_ID_MAX + 1]);
/* authres_is_ours - the value claims authserv_id (case-insensitively). */
bool authres_is_ours(const char *value, size_t len, const char *authserv_id);

/* Received-SPF (RFC 7208 9.1). */
struct received_spf {
	const char *result;	  /* "pass", "fail", ... */
	const char *receiver;	  /* our hostname */
	const char *client_ip;
	const char *envelope_from; /* may be "" */
	const char *helo;
	const char *identity;	  /* "mailfrom" or "helo" */
	const char *problem;	  /* for temperror/permerror, or NULL */
};

/* received_spf_compose - the header field, folded, appended to out; -1 on
 * a field that cannot be written safely. */
int received_spf_compose(const struct received_spf *r, struct buf *out);

#endif
