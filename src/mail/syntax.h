/* SPDX-License-Identifier: ISC */
/*
 * syntax - SMTP command lines, paths and ESMTP parameters (server side).
 *
 * Each parser takes the bytes of one command line (CRLF removed) and either
 * fills a structure or writes the complete SMTP reply to send back
 * ("501 5.1.7 Bad sender address syntax"). No I/O, no globals.
 *
 * SECURITY: input is straight from the network, before any authentication;
 * every field is length-checked against the RFC limits below, and the relay
 * decision is made on the domain this parser returns, so %-hacks, bang
 * paths and source routes cannot smuggle a second destination.
 * STANDARDS: RFC 5321 sections 4.1.1-4.1.2 and 4.5.3.1, RFC 1870 (SIZE),
 * RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3461 (DSN), RFC 3030 (BDAT).
 */
#ifndef POSTERN_SYNTAX_H
#define POSTERN_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h" /* valid_utf8 */

#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256 /* RFC 5321 4.5.3.1.3, brackets included */
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX 500
#define SMTP_REPLY_MAX 256

enum smtp_verb {
	VERB_UNKNOWN,
	VERB_HELO,
	VERB_EHLO,
	VERB_MAIL,
	VERB_RCPT,
	VERB_DATA,
	VERB_BDAT,
	VERB_RSET,
	VERB_NOOP,
	VERB_QUIT,
	VERB_HELP,
	VERB_VRFY,
	VERB_EXPN,
	VERB_STARTTLS,
	VERB_AUTH,
	VERB_COUNT
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *args; /* after the verb and one space; "" if none */
	size_t argslen;
};

/* A mailbox: local@domain, as written (quoted local parts keep quotes). */
struct smtp_path {
	bool null;	 /* "<>" */
	bool postmaster; /* "<Postmaster>" without a domain */
	bool utf8;	 /* contains non-ASCII (needs SMTPUTF8) */
	char addr[SMTP_PATH_MAX + 1];
	char domain[SMTP_DOMAIN_MAX + 1]; /* lower-cased ASCII, or as written */
};

enum body_type { BODY_UNSET, BODY_7BIT, BODY_8BITMIME };
enum dsn_ret { RET_UNSET, RET_FULL, RET_HDRS };

#define NOTIFY_NEVER 0x1
#define NOTIFY_SUCCESS 0x2
#define NOTIFY_FAILURE 0x4
#define NOTIFY_DELAY 0x8

struct mail_params {
	bool has_size;
	uint64_t size;
	enum body_type body;
	bool smtputf8;
	enum dsn_ret ret;
	char envid[SMTP_ENVID_MAX + 1]; /* xtext as received, "" if none */
	bool has_auth; /* AUTH= given (RFC 4954 5; not used further) */
};

struct rcpt_params {
	unsigned notify;		 /* NOTIFY_* bits, 0 when not given */
	char orcpt[SMTP_ORCPT_MAX + 1]; /* "rfc822;xtext" as received, or "" */
};

/* smtp_cmd_parse - split line (len bytes, no CRLF) into verb and arguments.
 * Unknown verbs give VERB_UNKNOWN; never fails. */
void smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd);
const char *smtp_verb_name(enum smtp_verb verb);

/* smtp_parse_mail - "FROM:<path> params". 0, or -1 with reply set. */
int smtp_parse_mail(const char *args, size_t len, struct smtp_path *path,
		    struct mail_params *mp, char reply[SMTP_REPLY_MAX]);
/* smtp_parse_rcpt - "TO:<path> params". 0, or -1 with reply set. */
int smtp_parse_rcpt(const char *args, size_t len, struct smtp_path *path,
		    struct rcpt_params *rp, char reply[SMTP_REPLY_MAX]);
/* smtp_parse_path - a bare "<...>" path (used by the parsers above). */
int smtp_parse_path(const char *s, size_t len, bool allow_null, struct smtp_path *path);
/* smtp_parse_bdat - "size [LAST]". 0, or -1 with reply set. */
int smtp_parse_bdat(const char *args, size_t len, uint64_t *size, bool *last,
		    char reply[SMTP_REPLY_MAX]);
/* smtp_parse_helo - a domain or address literal; 0 or -1. */
int smtp_parse_helo(const char *args, size_t len);
/* valid_domain - RFC 5321 Domain (optionally with UTF-8 U-labels). */
bool valid_domain(const char *s, size_t len, bool utf8);
/* valid_address_literal - "[1.2.3.4]" or "[IPv6:...]". */
bool valid_address_literal(const char *s, size_t len);
/* valid_xtext - RFC 3461 xtext. */
bool valid_xtext(const char *s, size_t len);
/* xtext_encode - append the xtext form of s into out (size outsz); 0/-1. */
int xtext_encode(const char *s, char *out, size_t outsz);
/* xtext_decode - decode xtext into out (size outsz); 0/-1. */
int xtext_decode(const char *s, char *out, size_t outsz);

/* smtp_is_http - the line is an HTTP request line or header (a proxy
 * abuser or a scanner speaking HTTP to an SMTP port), as postscreen's
 * non-SMTP command test has it: a request method followed by a space, or a
 * first word that ends in ':'. */
bool smtp_is_http(const char *line, size_t len);

#endif
