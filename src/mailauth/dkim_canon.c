/* SPDX-License-Identifier: ISC */
/*
 * dkim_canon - DKIM canonicalization and header selection. See
 * dkim_canon.h for the contract, SECURITY and STANDARDS.
 */
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mailauth/dkim_canon.h"

/* RFC 6376 5.4.1 plus the MIME and identity fields a verifier shows. */
static const char *const sign_names[] = {
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Sender",
	"Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
	"Resent-Message-ID", "In-Reply-To", "References", "List-Id", "List-Help",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe", "List-Post",
	"List-Owner", "List-Archive", "Message-ID", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding",
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_crlf(const char *msg, size_t len, size_t i)
{
	return i + 1 < len && msg[i] == '\r' && msg[i + 1] == '\n';
}

/* line_end - index of the CRLF that ends the line at i, or len. */
static size_t
line_end(const char *msg, size_t len, size_t i)
{
	const char *cr;

	while (i < len && (cr = memchr(msg + i, '\r', len - i)) != NULL) {
		i = (size_t)(cr - msg);
		if (is_crlf(msg, len, i))
			return i;
		i++;
	}
	return len;
}

/* field_name - length of the name of the field at msg[off..end), 0 if the
 * first line has no colon or the name is not printable ASCII. */
static size_t
field_name(const char *msg, size_t off, size_t end)
{
	size_t i, n;

	for (i = off; i < end && msg[i] != ':'; i++)
		if ((unsigned char)msg[i] < 0x21 || (unsigned char)msg[i] > 0x7e) {
			if (!is_wsp(msg[i]))
				return 0;
		}
	if (i == end)
		return 0;
	for (n = i - off; n > 0 && is_wsp(msg[off + n - 1]); n--)
		;
	for (i = off; i < off + n; i++)
		if (is_wsp(msg[i]))
			return 0;
	return n;
}

int
dkim_split_header(const char *msg, size_t len, struct dkim_field *f, size_t max, size_t *nf,
		  size_t *body_off, const char **why)
{
	size_t i = 0;

	*nf = 0;
	*body_off = len;
	while (i < len) {
		size_t start = i, end;

		if (is_crlf(msg, len, i)) {
			*body_off = i + 2;
			return 0;
		}
		end = line_end(msg, len, i);
		while (end < len && end + 2 < len && is_wsp(msg[end + 2]))
			end = line_end(msg, len, end + 2);
		if (*nf == max) {
			*why = "too many header fields";
			return -1;
		}
		f[*nf].off = start;
		f[*nf].len = end - start;
		f[*nf].name_len = field_name(msg, start, end);
		if (f[*nf].name_len == 0) {
			*why = "header line without a field name";
			return -1;
		}
		(*nf)++;
		i = end < len ? end + 2 : len;
	}
	return 0;
}

/* canon_value_relaxed - unfold, squeeze WSP runs to one SP, trim both
 * ends; writes at o (at most len bytes) and returns the new end. */
static char *
canon_value_relaxed(const char *v, size_t len, char *o)
{
	size_t i = 0;
	bool wsp = false, any = false;

	while (i < len) {
		if (v[i] == '\r' && i + 1 < len && v[i + 1] == '\n') {
			i += 2;
			continue;
		}
		if (is_wsp(v[i])) {
			wsp = true;
			i++;
			continue;
		}
		if (wsp && any)
			*o++ = ' ';
		wsp = false;
		any = true;
		*o++ = v[i++];
	}
	return o;
}

/* dkim_canon_header - relaxed output is never longer than the field, so
 * it is written in place after one reservation. */
void
dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out)
{
	const char *colon;
	size_t n, i;
	char *o;

	if (c == DKIM_CANON_SIMPLE) {
		buf_add(out, field, len);
		return;
	}
	colon = memchr(field, ':', len);
	if (colon == NULL) { /* not a field; dkim_split_header never yields one */
		buf_add(out, field, len);
		return;
	}
	for (n = (size_t)(colon - field); n > 0 && is_wsp(field[n - 1]); n--)
		;
	buf_reserve(out, len);
	o = out->data + out->len;
	for (i = 0; i < n; i++)
		*o++ = field[i] >= 'A' && field[i] <= 'Z' ? (char)(field[i] + 32) : field[i];
	*o++ = ':';
	o = canon_value_relaxed(colon + 1, len - (size_t)(colon + 1 - field), o);
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
}

/* ---- body ---- */

static void
flush(struct dkim_body *b)
{
	if (b->olen > 0)
		b->sink(b->arg, b->obuf, b->olen);
	b->olen = 0;
}

static void
emit(struct dkim_body *b, char c)
{
	b->total++;
	if (b->has_limit && b->hashed >= b->limit)
		return;
	b->hashed++;
	b->obuf[b->olen++] = (unsigned char)c;
	if (b->olen == sizeof(b->obuf))
		flush(b);
}

/* content - a byte that is not a line end: held line ends and WSP go first. */
static void
content(struct dkim_body *b, char c)
{
	for (; b->ncrlf > 0; b->ncrlf--) {
		emit(b, '\r');
		emit(b, '\n');
	}
	if (b->wsp)
		emit(b, ' ');
	b->wsp = false;
	b->any = true;
	emit(b, c);
}

static void
body_byte(struct dkim_body *b, char c)
{
	if (b->cr) {
		b->cr = false;
		if (c == '\n') {
			b->wsp = false; /* relaxed: WSP at the end of a line goes */
			b->ncrlf++;
			return;
		}
		content(b, '\r');
	}
	if (c == '\r')
		b->cr = true;
	else if (b->c == DKIM_CANON_RELAXED && is_wsp(c))
		b->wsp = true;
	else
		content(b, c);
}

void
dkim_body_init(struct dkim_body *b, enum dkim_canon c, bool has_limit, uint64_t limit,
	       dkim_sink_fn *sink, void *arg)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->has_limit = has_limit;
	b->limit = limit;
	b->sink = sink;
	b->arg = arg;
}

/* emit_run - n canonical bytes at once, as n calls of emit() would. */
static void
emit_run(struct dkim_body *b, const char *p, size_t n)
{
	size_t room = b->limit > b->hashed ? b->limit - b->hashed : 0;

	b->total += n;
	if (b->has_limit && n > room)
		n = (size_t)room;
	b->hashed += n;
	while (n > 0) {
		size_t k = sizeof(b->obuf) - b->olen;

		if (k > n)
			k = n;
		memcpy(b->obuf + b->olen, p, k);
		b->olen += k;
		p += k;
		n -= k;
		if (b->olen == sizeof(b->obuf))
			flush(b);
	}
}

/* is_plain - a byte that canonicalizes to itself in any position. */
static bool
is_plain(enum dkim_canon c, char ch)
{
	return ch != '\r' && (c == DKIM_CANON_SIMPLE || !is_wsp(ch));
}

/* is_inner_crlf - a CRLF at s that a plain byte follows: not trailing, no
 * WSP before it (the caller checked) or after it, so it stays as it is. */
static bool
is_inner_crlf(enum dkim_canon c, const char *s, const char *end)
{
	return end - s > 2 && s[0] == '\r' && s[1] == '\n' && is_plain(c, s[2]);
}

#if defined(__GNUC__) || defined(__clang__)
/* 16 bytes at a time with the compilers' vector extensions (SSE2, NEON):
 * a comparison gives 0xff in each byte where it holds. */
typedef unsigned char vbytes __attribute__((vector_size(16)));
typedef signed char vmask __attribute__((vector_size(16)));

static vbytes
load16(const char *p)
{
	vbytes v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static vmask
eq16(vbytes v, char c)
{
	return v == (vbytes){0} + (unsigned char)c;
}

static vmask
wsp_or_cr16(vbytes v)
{
	return eq16(v, ' ') | eq16(v, '\t') | eq16(v, '\r');
}

/* stop16 - where in s[0..16) a relaxed run stops, 16 if it does not: at
 * a TAB, an SP before WSP or CR, a CR that does not start an inner CRLF.
 * s[16..18) is read. */
static size_t
stop16(const char *s)
{
	vbytes x = load16(s), next = load16(s + 1), next2 = load16(s + 2);
	vmask stop = eq16(x, '\t') | (eq16(x, ' ') & wsp_or_cr16(next)) |
		     (eq16(x, '\r') & ~(eq16(next, '\n') & ~wsp_or_cr16(next2)));
	uint64_t half[2];

	memcpy(half, &stop, sizeof(half));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (half[0] != 0)
		return (size_t)__builtin_ctzll(half[0]) / 8;
	if (half[1] != 0)
		return 8 + (size_t)__builtin_ctzll(half[1]) / 8;
	return 16;
#else
	return (half[0] | half[1]) != 0 ? 0 : 16; /* the byte loop finds it */
#endif
}

/* relaxed_stop - skip 16 bytes at a time to where a relaxed run stops. */
static const char *
relaxed_stop(const char *s, const char *end)
{
	while (end - s >= 18) {
		size_t k = stop16(s);

		if (k < 16)
			return s + k;
		s += 16;
	}
	return s;
}
#else
static const char *
relaxed_stop(const char *s, const char *end)
{
	(void)end;
	return s;
}
#endif

/* run_end - the end of the run at s that canonicalizes to itself when
 * nothing is held back: plain bytes, inner CRLFs, and in relaxed a single
 * SP between two plain bytes (the common word gap). */
static const char *
run_end(enum dkim_canon c, const char *s, const char *end)
{
	if (c == DKIM_CANON_RELAXED)
		s = relaxed_stop(s, end);
	while (s < end) {
		const char *cr;

		if (c == DKIM_CANON_SIMPLE && (cr = memchr(s, '\r', (size_t)(end - s))) != s)
			s = cr != NULL ? cr : end;
		else if (is_plain(c, *s))
			s++;
		else if (*s == ' ' && end - s > 1 && is_plain(c, s[1]))
			s += 2;
		else if (is_inner_crlf(c, s, end))
			s += 3;
		else
			break;
	}
	return s;
}

/* wsp_line_end - the length of WSP+ CRLF at s when a plain byte follows:
 * relaxed drops the WSP and keeps the CRLF (format=flowed ends every line
 * but the last of a paragraph so); 0 otherwise. */
static size_t
wsp_line_end(const char *s, const char *end)
{
	const char *p = s;

	while (p < end && is_wsp(*p))
		p++;
	return p > s && is_inner_crlf(DKIM_CANON_RELAXED, p, end) ? (size_t)(p + 2 - s) : 0;
}

/* dkim_body_update - byte by byte only where state is held (a CR that may
 * start a line end, WSP that may be trailing, line ends that may be
 * trailing); runs that stay as they are, and WSP before an inner line end,
 * are dealt with at once. */
void
dkim_body_update(struct dkim_body *b, const void *p, size_t n)
{
	const char *s = p, *end = s + n, *e;
	size_t k;

	while (s < end) {
		if (b->cr || b->wsp || b->ncrlf > 0)
			body_byte(b, *s++);
		else if ((e = run_end(b->c, s, end)) > s) {
			emit_run(b, s, (size_t)(e - s));
			b->any = true;
			s = e;
		} else if (b->c == DKIM_CANON_RELAXED && (k = wsp_line_end(s, end)) > 0) {
			emit_run(b, "\r\n", 2);
			s += k;
		} else
			body_byte(b, *s++);
	}
}

void
dkim_body_final(struct dkim_body *b)
{
	if (b->cr) {
		b->cr = false;
		content(b, '\r');
	}
	b->wsp = false;
	/* simple: exactly one CRLF ends any body, even an empty one;
	 * relaxed: one CRLF ends a non-empty body, an empty one stays empty */
	if (b->c == DKIM_CANON_SIMPLE || b->any) {
		emit(b, '\r');
		emit(b, '\n');
	}
	b->ncrlf = 0;
	flush(b);
}

/* ---- header selection ---- */

static bool
field_is(const char *msg, const struct dkim_field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(msg + f->off, name, f->name_len) == 0;
}

void
dkim_select_verify(const char *msg, const struct dkim_field *f, size_t nf, size_t self,
		   const char (*h)[DKIM_HNAME_MAX + 1], size_t nh, size_t *idx)
{
	bool used[DKIM_FIELDS_MAX] = {false};
	size_t j, k;

	for (j = 0; j < nh; j++) {
		idx[j] = DKIM_NO_FIELD;
		for (k = nf < DKIM_FIELDS_MAX ? nf : DKIM_FIELDS_MAX; k-- > 0;)
			if (!used[k] && k != self && field_is(msg, &f[k], h[j])) {
				used[k] = true;
				idx[j] = k;
				break;
			}
	}
}

int
dkim_select_sign(const char *msg, const struct dkim_field *f, size_t nf,
		 char (*h)[DKIM_HNAME_MAX + 1], size_t *nh, const char **why)
{
	size_t r, k, count;

	*nh = 0;
	for (r = 0; r < nitems(sign_names); r++) {
		for (k = 0, count = 0; k < nf; k++)
			count += field_is(msg, &f[k], sign_names[r]);
		if (r == 0 && count == 0) {
			*why = "no From field";
			return -1;
		}
		count += r == 0; /* oversign From */
		if (count > DKIM_HNAMES_MAX - *nh) {
			*why = "too many fields to sign";
			return -1;
		}
		while (count-- > 0)
			(void)str_copy(h[(*nh)++], sign_names[r], DKIM_HNAME_MAX + 1);
	}
	return 0;
}
