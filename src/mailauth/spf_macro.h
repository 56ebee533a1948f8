/* SPDX-License-Identifier: ISC */
/*
 * spf_macro - SPF macro strings: syntax check and expansion of the
 * domain-specs and explanation strings of an SPF record.
 *
 * Pure: bytes and a context in, a checked string out; no I/O, no globals.
 * The values that need DNS (%{p}, the validated name of the client) are
 * looked up by the evaluator (spf.c) before expansion and handed in through
 * the context.
 *
 * SECURITY: macro strings come from DNS records of anybody's choosing and
 * the context holds the client's MAIL FROM and HELO. Expansion is bounded
 * by SPF_MACRO_OUT_MAX; transformer digits are capped at SPF_MACRO_MAX_DIGITS;
 * label splitting is bounded by SPF_MACRO_MAX_PARTS.
 * STANDARDS: RFC 7208 section 7 (macros: letters s l o d i p h c r t v,
 * transformers, delimiters, %%, %_, %-, URL-encoding of upper-case
 * letters, c/r/t in explanations only), 7.3 (truncation to 253 octets),
 * RFC 3986 2.3 (unreserved characters).
 */
#ifndef POSTERN_SPF_MACRO_H
#define POSTERN_SPF_MACRO_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Longest expansion of one macro string. */
#define SPF_MACRO_OUT_MAX 4096
/* Largest transformer digit value kept (bigger means "all parts"). */
#define SPF_MACRO_MAX_DIGITS 128
/* Most parts a value is split into; more fails the expansion. */
#define SPF_MACRO_MAX_PARTS 256
/* Longest domain name handed to DNS after expansion (7.3). */
#define SPF_DOMAIN_MAX 253

/* Flags for check and expand. */
#define SPF_MACRO_EXP 0x1 /* an explanation string: c, r, t and spaces allowed */

/* The values of the macro letters; each a NUL-terminated string. */
struct spf_macro_ctx {
	const char *sender;    /* s: local@domain */
	const char *local;     /* l */
	const char *sender_dom; /* o */
	const char *domain;    /* d: the current domain */
	const char *ip;        /* i: dotted IPv4 or dot-separated IPv6 nibbles */
	const char *validated; /* p: validated name, or "unknown" */
	const char *version;   /* v: "in-addr" or "ip6" */
	const char *helo;      /* h */
	const char *client_ip; /* c: the address as usually written */
	const char *receiver;  /* r */
	const char *timestamp; /* t: seconds since the epoch, in decimal */
};

/* spf_macro_check - 0 when s[0..n) is a valid macro string (an explain-
 * string with SPF_MACRO_EXP), -1 otherwise. */
int spf_macro_check(const char *s, size_t n, int flags);

/* spf_macro_domain_ok - true when s[0..n) is a valid domain-spec: a macro
 * string (without c, r, t) that ends in a macro or in "." and a top label
 * that is not all digits (RFC 7208 12, domain-end), a final dot allowed. */
bool spf_macro_domain_ok(const char *s, size_t n);

/* spf_macro_uses - true when the valid macro string s[0..n) uses the
 * letter (lower case) in a %{...} expansion. */
bool spf_macro_uses(const char *s, size_t n, char letter);

/* spf_macro_expand - expand s[0..n) with ctx, appending to out (which the
 * caller owns and initialised). 0, or -1 when the string is invalid or the
 * result would exceed SPF_MACRO_OUT_MAX (out then holds a partial result). */
int spf_macro_expand(const char *s, size_t n, int flags, const struct spf_macro_ctx *ctx,
		     struct buf *out);

/* spf_domain_truncate - the offset into name where a name of at most
 * SPF_DOMAIN_MAX octets starts (whole labels are dropped from the left,
 * RFC 7208 7.3); 0 when it is short enough. A trailing dot is ignored. */
size_t spf_domain_truncate(const char *name);

#endif
