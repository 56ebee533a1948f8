/* SPDX-License-Identifier: ISC */
/*
 * dkim_tags - the DKIM tag-list syntax and the two things written in it:
 * the DKIM-Signature header field value and the DNS key record. Also joins
 * the character-strings of a TXT answer's RDATA into one key record.
 *
 * Everything here is pure: bytes in, a bounded struct or an error out (a
 * static reason string), no I/O, no allocation, no globals.
 *
 * SECURITY: all input is untrusted (a header field from any sender, a TXT
 * record from any DNS server). Every field is copied into a fixed-size
 * member with its limit named below; anything longer is an error, never a
 * truncation. Signatures the RFCs forbid us to trust (rsa-sha1) are parsed
 * so the caller can say why they fail, and marked.
 * STANDARDS: RFC 6376 3.2 (tag lists), 3.5 (DKIM-Signature), 3.6.1 and
 * 3.6.2.2 (key records, TXT strings), 6.1.1 (signature validation);
 * RFC 8301 (rsa-sha1 not valid); RFC 8463 (ed25519-sha256, k=ed25519).
 */
#ifndef POSTERN_DKIM_TAGS_H
#define POSTERN_DKIM_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tags in one tag list (a signature has at most 14 defined ones). */
#define DKIM_TAGS_MAX 32
/* A domain name (d=, the domain of i=) in presentation form. */
#define DKIM_DOMAIN_MAX 253
/* A selector (s=), also a dotted name. */
#define DKIM_SELECTOR_MAX 253
/* The agent or user identifier i= (local part, '@', domain). */
#define DKIM_IDENTITY_MAX 320
/* Entries in h= (oversigning repeats names, so allow some room). */
#define DKIM_HNAMES_MAX 64
/* One header field name in h=. */
#define DKIM_HNAME_MAX 96
/* Decoded b= (RSA-8192 is 1024 bytes; Ed25519 is 64). */
#define DKIM_B_MAX 1024
/* Decoded bh= (SHA-256 is 32 bytes, SHA-1 20). */
#define DKIM_BH_MAX 32
/* Decoded p= of a key record (DER SubjectPublicKeyInfo of RSA-8192 ~1100). */
#define DKIM_P_MAX 1200
/* A whole key record after joining its TXT strings. */
#define DKIM_KEYREC_MAX 4096
/* A whole DKIM-Signature field value. */
#define DKIM_SIGVALUE_MAX 8192
/* t= and x= are at most 12 digits (RFC 6376 3.5). */
#define DKIM_TIME_DIGITS 12

struct dkim_tag {
	const char *name; /* into the input, not NUL-terminated */
	size_t name_len;
	const char *value; /* the value without leading and trailing FWS */
	size_t value_len;
	size_t raw_off; /* offset in the input just after '=' */
};

struct dkim_taglist {
	struct dkim_tag tag[DKIM_TAGS_MAX];
	size_t n;
};

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1, /* recognised only to refuse it (RFC 8301) */
};

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char d[DKIM_DOMAIN_MAX + 1];   /* lower-cased */
	char s[DKIM_SELECTOR_MAX + 1]; /* lower-cased */
	char i[DKIM_IDENTITY_MAX + 1]; /* "@" d when absent */
	char h[DKIM_HNAMES_MAX][DKIM_HNAME_MAX + 1];
	size_t nh;
	unsigned char b[DKIM_B_MAX];
	size_t b_len;
	unsigned char bh[DKIM_BH_MAX];
	size_t bh_len;
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
	size_t b_off, b_end; /* b= value span in the input: [b_off, b_end) */
};

enum dkim_keytype {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

struct dkim_key {
	enum dkim_keytype k;
	bool sha256_ok;  /* h= absent or lists sha256 */
	bool email_ok;   /* s= absent or lists "*" or "email" */
	bool testing;    /* t=y */
	bool strict;     /* t=s: i= domain must equal d= */
	bool revoked;    /* p= empty */
	unsigned char p[DKIM_P_MAX];
	size_t p_len;
};

/* dkim_tags_parse - split s[0..len) into tags. Refuses bad syntax, a
 * duplicate tag name and more than DKIM_TAGS_MAX tags. The tags point into
 * s, which must outlive out. Returns 0, or -1 with *why set. */
int dkim_tags_parse(const char *s, size_t len, struct dkim_taglist *out, const char **why);

/* dkim_tags_find - the tag called name, or NULL. */
const struct dkim_tag *dkim_tags_find(const struct dkim_taglist *tl, const char *name);

/* dkim_b64_decode - base64 with FWS anywhere (RFC 6376 2.4), into out of
 * size outsz. Returns 0 and *outlen, or -1 on bad syntax or no room. */
int dkim_b64_decode(const char *s, size_t len, unsigned char *out, size_t outsz,
		    size_t *outlen);

/* dkim_sig_parse - parse and validate a DKIM-Signature field value (the
 * part after the colon, folding included). Returns 0, or -1 with *why set;
 * an rsa-sha1 signature parses (alg says so) and is refused later. */
int dkim_sig_parse(const char *s, size_t len, struct dkim_sig *out, const char **why);

/* dkim_key_parse - parse and validate a key record (the TXT strings
 * already joined). A revoked key (empty p=) parses with revoked set.
 * Returns 0, or -1 with *why set. */
int dkim_key_parse(const char *s, size_t len, struct dkim_key *out, const char **why);

/* dkim_txt_join - concatenate the character-strings of one TXT RDATA
 * (length-prefixed strings, RFC 1035 3.3.14) into out, NUL-terminated.
 * Returns 0 and *outlen, or -1 if the RDATA is malformed or too long. */
int dkim_txt_join(const unsigned char *rdata, size_t len, char *out, size_t outsz,
		  size_t *outlen);

/* dkim_alg_name, dkim_canon_name - the tag spelling. */
const char *dkim_alg_name(enum dkim_alg a);
const char *dkim_canon_name(enum dkim_canon c);

#endif
