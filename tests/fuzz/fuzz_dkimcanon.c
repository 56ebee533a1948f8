/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dkimcanon - DKIM canonicalization (src/mailauth/dkim_canon.c) on
 * arbitrary messages. The first byte picks the chunk size and an l= limit.
 *
 * Checked: header fields are in order, inside the header section, never
 * overlap, and have a name; relaxed header output has a lower-case name,
 * no WSP runs, no CRLF (a bare CR or LF stays a byte), no WSP around the
 * colon or at the end.
 * Relaxed body output has no WSP run, no WSP before CRLF, ends in CRLF
 * unless empty, never in CRLF CRLF; simple body output always ends in
 * exactly one CRLF (never CRLF CRLF, unless the whole body is CRLF).
 * Feeding the body in chunks gives the same bytes as feeding it at once,
 * and l= gives a prefix of the unlimited output with the same total.
 * Both bodies equal ref_body(), the RFC's rules applied line by line to the
 * whole body (an oracle for the streaming canonicalizer's fast paths).
 * Selection picks each field at most once, and only fields of that name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "mailauth/dkim_canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static void
sink_buf(void *arg, const void *p, size_t n)
{
	buf_add(arg, p, n);
}

static uint64_t
run_body(enum dkim_canon c, const char *s, size_t n, size_t step, bool has_l, uint64_t l,
	 struct buf *out)
{
	struct dkim_body b;
	size_t i;

	dkim_body_init(&b, c, has_l, l, sink_buf, out);
	for (i = 0; i < n; i += step)
		dkim_body_update(&b, s + i, n - i < step ? n - i : step);
	dkim_body_final(&b);
	return b.total;
}

/* ref_line - one line (without its CRLF) as relaxed says: WSP runs become
 * one SP, WSP at the end goes. */
static void
ref_line(const char *s, size_t n, struct buf *out)
{
	size_t i;
	bool wsp = false;

	for (i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			wsp = true;
			continue;
		}
		if (wsp)
			buf_addc(out, ' ');
		wsp = false;
		buf_addc(out, s[i]);
	}
}

/* ref_body - RFC 6376 3.4.3 and 3.4.4 on the whole body: lines end at
 * CRLF only (the end of the body ends the last one), empty lines at the
 * end go, an empty simple body is one CRLF, an empty relaxed body stays
 * empty. */
static void
ref_body(enum dkim_canon c, const char *s, size_t n, struct buf *out)
{
	size_t i = 0, e;

	while (i < n) {
		for (e = i; e < n && !(s[e] == '\r' && e + 1 < n && s[e + 1] == '\n'); e++)
			;
		if (c == DKIM_CANON_RELAXED)
			ref_line(s + i, e - i, out);
		else
			buf_add(out, s + i, e - i);
		buf_adds(out, "\r\n");
		i = e < n ? e + 2 : n;
	}
	while (out->len >= 4 && memcmp(out->data + out->len - 4, "\r\n\r\n", 4) == 0)
		out->data[out->len -= 2] = '\0';
	if (out->len == 2 && memcmp(out->data, "\r\n", 2) == 0)
		buf_reset(out);
	if (c == DKIM_CANON_SIMPLE && out->len == 0)
		buf_adds(out, "\r\n");
}

static bool
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
check_relaxed_header(const struct buf *o)
{
	const char *s = buf_cstr(o), *colon = strchr(s, ':');
	size_t i;

	if (colon == NULL || o->len == 0)
		abort();
	for (i = 0; i < o->len; i++) {
		/* a bare CR or LF is a byte like any other (only CRLF folds) */
		if ((s[i] == '\r' && i + 1 < o->len && s[i + 1] == '\n') || s[i] == '\t')
			abort();
		if (s + i < colon && s[i] >= 'A' && s[i] <= 'Z')
			abort();
		if (s[i] == ' ' && i + 1 < o->len && s[i + 1] == ' ')
			abort();
	}
	if (s[o->len - 1] == ' ' || colon[1] == ' ' || (colon > s && colon[-1] == ' '))
		abort();
}

static void
check_bodies(const char *s, size_t n, size_t step, uint64_t l)
{
	struct buf r = BUF_INIT, r1 = BUF_INIT, sm = BUF_INIT, lim = BUF_INIT, ref = BUF_INIT;
	uint64_t tr, tl;
	size_t i;

	tr = run_body(DKIM_CANON_RELAXED, s, n, step, false, 0, &r);
	(void)run_body(DKIM_CANON_RELAXED, s, n, n + 1, false, 0, &r1);
	if (tr != r.len || r.len != r1.len || memcmp(buf_cstr(&r), buf_cstr(&r1), r.len) != 0)
		abort();
	for (i = 0; i < r.len; i++)
		if (r.data[i] == '\t' || (r.data[i] == ' ' && i + 1 < r.len && r.data[i + 1] == ' '))
			abort();
		else if (r.data[i] == ' ' && i + 2 < r.len && memcmp(r.data + i + 1, "\r\n", 2) == 0)
			abort(); /* WSP before a bare CR stays: "a \rb" is one line */
	if (r.len > 0 && (r.len < 2 || memcmp(r.data + r.len - 2, "\r\n", 2) != 0 ||
			  (r.len >= 4 && memcmp(r.data + r.len - 4, "\r\n\r\n", 4) == 0) ||
			  r.len == 2))
		abort();
	ref_body(DKIM_CANON_RELAXED, s, n, &ref);
	if (!same(&r, &ref))
		abort();
	buf_reset(&ref);
	ref_body(DKIM_CANON_SIMPLE, s, n, &ref);
	(void)run_body(DKIM_CANON_SIMPLE, s, n, step, false, 0, &sm);
	if (!same(&sm, &ref))
		abort();
	buf_reset(&sm);
	(void)run_body(DKIM_CANON_SIMPLE, s, n, n + 1, false, 0, &sm);
	if (!same(&sm, &ref))
		abort();
	if (sm.len < 2 || memcmp(sm.data + sm.len - 2, "\r\n", 2) != 0 ||
	    (sm.len >= 4 && memcmp(sm.data + sm.len - 4, "\r\n\r\n", 4) == 0))
		abort();
	tl = run_body(DKIM_CANON_RELAXED, s, n, step, true, l, &lim);
	if (tl != tr || lim.len != (l < r.len ? l : r.len) ||
	    (lim.len > 0 && memcmp(lim.data, r.data, lim.len) != 0))
		abort();
	buf_free(&r);
	buf_free(&r1);
	buf_free(&sm);
	buf_free(&lim);
	buf_free(&ref);
}

static void
check_fields(const char *s, size_t n, const struct dkim_field *f, size_t nf, size_t body)
{
	char h[4][DKIM_HNAME_MAX + 1];
	size_t i, idx[4];

	for (i = 0; i < nf; i++) {
		struct buf o = BUF_INIT;

		if (f[i].off + f[i].len > body || f[i].name_len == 0 || f[i].name_len > f[i].len ||
		    (i > 0 && f[i].off < f[i - 1].off + f[i - 1].len))
			abort();
		dkim_canon_header(DKIM_CANON_RELAXED, s + f[i].off, f[i].len, &o);
		check_relaxed_header(&o);
		buf_free(&o);
	}
	if (body > n)
		abort();
	for (i = 0; i < 4 && i < nf; i++) {
		size_t k = f[nf - 1 - i].name_len;

		if (k > DKIM_HNAME_MAX)
			k = DKIM_HNAME_MAX;
		memcpy(h[i], s + f[nf - 1 - i].off, k);
		h[i][k] = '\0';
	}
	dkim_select_verify(s, f, nf, DKIM_NO_FIELD, (const char(*)[DKIM_HNAME_MAX + 1])h, i, idx);
	for (n = 0; n < i; n++) {
		if (idx[n] == DKIM_NO_FIELD)
			continue;
		if (idx[n] >= nf || strncasecmp(s + f[idx[n]].off, h[n], strlen(h[n])) != 0)
			abort();
		for (size_t m = 0; m < n; m++)
			if (idx[m] == idx[n])
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_field f[DKIM_FIELDS_MAX];
	size_t nf, body, step;
	const char *why, *s;
	uint64_t l;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	step = (size_t)(data[0] & 0x0f) + 1;
	l = data[0] >> 4 == 0 ? 0 : (uint64_t)(data[0] >> 4) * 7;
	s = (const char *)data + 1;
	size--;
	if (dkim_split_header(s, size, f, DKIM_FIELDS_MAX, &nf, &body, &why) == 0)
		check_fields(s, size, f, nf, body);
	check_bodies(s, size, step, l);
	return 0;
}
