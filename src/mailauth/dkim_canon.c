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
	for (; i < len; i++)
		if (is_crlf(msg, len, i))
			return i;
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

/* canon_value_relaxed - unfold, squeeze WSP runs to one SP, trim both ends. */
static void
canon_value_relaxed(const char *v, size_t len, struct buf *out)
{
	size_t i;
	bool wsp = false, any = false;

	for (i = 0; i < len; i++) {
		if (v[i] == '\r' && i + 1 < len && v[i + 1] == '\n') {
			i++;
			continue;
		}
		if (is_wsp(v[i])) {
			wsp = true;
			continue;
		}
		if (wsp && any)
			buf_addc(out, ' ');
		wsp = false;
		any = true;
		buf_addc(out, v[i]);
	}
}

void
dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out)
{
	const char *colon;
	size_t n, i;

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
	for (i = 0; i < n; i++)
		buf_addc(out, field[i] >= 'A' && field[i] <= 'Z' ? (char)(field[i] + 32) : field[i]);
	buf_addc(out, ':');
	canon_value_relaxed(colon + 1, len - (size_t)(colon + 1 - field), out);
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

void
dkim_body_update(struct dkim_body *b, const void *p, size_t n)
{
	const char *s = p;
	size_t i;

	for (i = 0; i < n; i++)
		body_byte(b, s[i]);
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
