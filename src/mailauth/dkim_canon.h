/* SPDX-License-Identifier: ISC */
/*
 * dkim_canon - DKIM canonicalization: split a header section into fields
 * (folding included), the simple and relaxed header algorithms, a
 * streaming body canonicalizer that hands its output to a sink (the hash),
 * and the choice of header fields to sign or to verify.
 *
 * Pure: no I/O, no globals. The body canonicalizer holds O(1) state
 * whatever the input (a run of a million empty lines is a counter, not a
 * buffer), so it can be fed the message as it arrives.
 *
 * SECURITY: all input is untrusted. The number of header fields is capped
 * at DKIM_FIELDS_MAX; beyond that the message is refused, not truncated, so
 * a verifier never sees a different header than a reader. l= stops the
 * hash, never the count: the caller learns how much of the body was left
 * unsigned.
 * STANDARDS: RFC 6376 3.4.1-3.4.5 (canonicalization), 3.4.6 (example),
 * 3.5 l= (body length), 5.4.1 (recommended signed fields), 5.4.2
 * (instances picked bottom-up, missing ones sign as null, oversigning);
 * RFC 5322 2.2 (header fields, folding).
 */
#ifndef POSTERN_DKIM_CANON_H
#define POSTERN_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mailauth/dkim_tags.h"

/* Header fields in one header section. */
#define DKIM_FIELDS_MAX 1000
/* Bytes the body canonicalizer gathers before it calls the sink. */
#define DKIM_CANON_BUFSZ 4096
/* No field index (an h= name with no instance left: signs as null). */
#define DKIM_NO_FIELD SIZE_MAX

struct dkim_field {
	size_t off;	 /* start of the field in the message */
	size_t len;	 /* up to, not including, the CRLF that ends it */
	size_t name_len; /* the field name, without WSP before the colon */
};

/* dkim_split_header - split the header section of msg[0..len) (wire form,
 * CRLF) into at most max fields. *body_off is where the body starts (after
 * the empty line), or len when there is none. Returns 0, or -1 with *why
 * when a line has no colon, begins with WSP before any field, or there
 * are more than max fields. */
int dkim_split_header(const char *msg, size_t len, struct dkim_field *f, size_t max,
		      size_t *nf, size_t *body_off, const char **why);

/* dkim_canon_header - append the canonical form of one field (len bytes
 * without its final CRLF) to out, without a final CRLF. */
void dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out);

typedef void dkim_sink_fn(void *arg, const void *p, size_t n);

struct dkim_body {
	enum dkim_canon c;
	dkim_sink_fn *sink;
	void *arg;
	bool has_limit;
	uint64_t limit;
	uint64_t total;	 /* canonical bytes, hashed or not */
	uint64_t hashed; /* canonical bytes given to the sink */
	uint64_t ncrlf;	 /* line ends held back: they may be trailing */
	bool cr, wsp, any;
	size_t olen;
	unsigned char obuf[DKIM_CANON_BUFSZ];
};

/* dkim_body_init - start a body; with has_limit only the first limit
 * canonical bytes reach sink (l=). sink and arg must outlive b. */
void dkim_body_init(struct dkim_body *b, enum dkim_canon c, bool has_limit, uint64_t limit,
		    dkim_sink_fn *sink, void *arg);
/* dkim_body_update - feed n more bytes of the wire-form body (CRLF lines,
 * dot-stuffing removed); chunks may split anywhere, even inside CRLF. */
void dkim_body_update(struct dkim_body *b, const void *p, size_t n);
/* dkim_body_final - end the body: trailing empty lines dropped, the final
 * CRLF added as the algorithm says, everything flushed to the sink.
 * Afterwards b->total is the canonical body length. */
void dkim_body_final(struct dkim_body *b);

/* dkim_select_verify - for each of the nh names in h, the index of the
 * field it signs, taking instances from the bottom up and each at most
 * once, or DKIM_NO_FIELD. The field at index self (the signature being
 * verified) is never picked. idx has room for nh entries. */
void dkim_select_verify(const char *msg, const struct dkim_field *f, size_t nf, size_t self,
			const char (*h)[DKIM_HNAME_MAX + 1], size_t nh, size_t *idx);

/* dkim_select_sign - the h= list to sign msg with: every field of the
 * recommended set once per instance, From once more (oversigned, so no
 * From can be added). Returns 0, or -1 with *why when there is no From or
 * the list would exceed DKIM_HNAMES_MAX. */
int dkim_select_sign(const char *msg, const struct dkim_field *f, size_t nf,
		     char (*h)[DKIM_HNAME_MAX + 1], size_t *nh, const char **why);

#endif
