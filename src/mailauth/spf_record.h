/* SPDX-License-Identifier: ISC */
/*
 * spf_record - parser of one SPF record ("v=spf1 ...") into its terms:
 * mechanisms with qualifiers, domain-specs, addresses and CIDR lengths, and
 * the redirect= and exp= modifiers. Unknown modifiers are checked and
 * dropped.
 *
 * Pure: bytes in, a struct out; no I/O, no globals. Domain-specs stay
 * unexpanded (offsets into the record's own copy of the text); the
 * evaluator (spf.c) expands them with spf_macro.
 *
 * SECURITY: records come from DNS, written by anybody. The text is copied
 * into a fixed buffer of SPF_RECORD_MAX bytes and at most SPF_MAX_TERMS
 * mechanisms are kept: a longer record is refused (permerror).
 * STANDARDS: RFC 7208 4.5 (record selection), 4.6 (record syntax, the
 * errors that are permerror), 5 (mechanisms and their arguments), 6
 * (modifiers, at most one redirect and one exp), 12 (ABNF).
 */
#ifndef POSTERN_SPF_RECORD_H
#define POSTERN_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest record accepted (the TXT strings joined). */
#define SPF_RECORD_MAX 4096
/* Most mechanisms in one record. */
#define SPF_MAX_TERMS 128

enum spf_qual { SPF_QUAL_PASS, SPF_QUAL_FAIL, SPF_QUAL_SOFTFAIL, SPF_QUAL_NEUTRAL };

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

/* A domain-spec: text[off .. off+len) of the record; len 0 = absent. */
struct spf_span {
	uint16_t off;
	uint16_t len;
};

struct spf_term {
	enum spf_mech mech;
	enum spf_qual qual;
	struct spf_span domain; /* include, a, mx, ptr, exists */
	uint8_t cidr4;		/* a, mx, ip4: prefix length, 32 when absent */
	uint8_t cidr6;		/* a, mx, ip6: prefix length, 128 when absent */
	uint8_t addr[16];	/* ip4 (first 4 bytes), ip6 */
};

struct spf_record {
	char text[SPF_RECORD_MAX + 1];
	struct spf_term term[SPF_MAX_TERMS];
	size_t nterms;
	struct spf_span redirect; /* len 0: none */
	struct spf_span exp;      /* len 0: none */
};

/* spf_record_is_spf1 - true when s[0..n) is an SPF version 1 record
 * ("v=spf1" alone or followed by a space, case-insensitive; 4.5). */
bool spf_record_is_spf1(const char *s, size_t n);

/* spf_record_parse - parse s[0..n) (which must pass spf_record_is_spf1)
 * into r. 0, or -1 on any syntax error (the caller's permerror), with a
 * short reason in err. */
int spf_record_parse(const char *s, size_t n, struct spf_record *r, char *err, size_t errsz);

/* spf_span_str - copy a span of r into out (NUL-terminated); out must
 * hold SPF_RECORD_MAX + 1 bytes. */
void spf_span_str(const struct spf_record *r, struct spf_span sp, char *out);

#endif
