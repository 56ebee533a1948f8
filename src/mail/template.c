/* SPDX-License-Identifier: ISC */
/*
 * template - user notice templates (see template.h).
 */
#include "mail/template.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* fault - a message for line (0: the whole text); always -1. */
static int __attribute__((format(printf, 5, 6)))
fault(int *line, int at, char *err, size_t errsz, const char *fmt, ...);

static int
fault(int *line, int at, char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	*line = at;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* check_bytes - UTF-8 text with no control characters but tab and line
 * ends (LF, or CRLF). */
static int
check_bytes(const char *text, size_t len, int *line, char *err, size_t errsz)
{
	size_t i = 0, n;
	uint32_t cp;
	int at = 1;

	while (i < len) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n')
			at++;
		if (c == '\r' && (i + 1 == len || text[i + 1] != '\n'))
			return fault(line, at, err, errsz, "a carriage return not followed by a "
							   "line feed");
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
			return fault(line, at, err, errsz, "a control character (0x%02x)", c);
		n = utf8_next(text + i, len - i, &cp);
		if (n == 0)
			return fault(line, at, err, errsz,
				     "not UTF-8 (save the file as UTF-8 text)");
		i += n;
	}
	return 0;
}

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool
known(const char *name, size_t n, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strlen(*names) == n && memcmp(*names, name, n) == 0)
			return true;
	return false;
}

/* say_names - "{a}, {b} and {c}" into out. */
static void
say_names(const char *const *names, char *out, size_t outsz)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		buf_addf(&b, "%s{%s}", i == 0 ? "" : names[i + 1] == NULL ? " and " : ", ",
			 names[i]);
	(void)str_copy(out, buf_cstr(&b), outsz);
	buf_free(&b);
}

/* check_uses - every '{' in s starts {{ or a known {name}; *uses counts
 * the placeholders; at is the line s starts on. */
static int
check_uses(const char *s, int at, const char *const *names, size_t *uses, int *line, char *err,
	   size_t errsz)
{
	char list[512];
	size_t n;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			at++;
		if (*s != '{')
			continue;
		if (s[1] == '{') {
			s++;
			continue;
		}
		for (n = 0; is_name_char(s[1 + n]) && n <= TEMPLATE_NAME_MAX; n++)
			;
		if (n == 0 || n > TEMPLATE_NAME_MAX || s[1 + n] != '}')
			return fault(line, at, err, errsz,
				     "a '{' that starts no placeholder (write {{ for a brace)");
		if (!known(s + 1, n, names)) {
			say_names(names, list, sizeof(list));
			return fault(line, at, err, errsz,
				     "unknown placeholder {%.*s} (this notice knows %s)", (int)n,
				     s + 1, list);
		}
		if (++*uses > TEMPLATE_USES_MAX)
			return fault(line, at, err, errsz, "more than %d placeholders",
				     TEMPLATE_USES_MAX);
		s += n + 1;
	}
	return 0;
}

/* next_line - the line at *p (without its end), advancing *p past it. */
static size_t
next_line(const char **p, const char *end, const char **start)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl != NULL ? nl : end) - *p);

	*start = *p;
	*p = nl != NULL ? nl + 1 : end;
	if (n > 0 && (*start)[n - 1] == '\r')
		n--;
	return n;
}

/* subject_line - the Subject line's text (trimmed) into t->subject. */
static int
subject_line(const char *s, size_t n, int at, struct template *t, int *line, char *err,
	     size_t errsz)
{
	if (n < 8 || !strcase_prefix(s, "subject:"))
		return fault(line, at, err, errsz,
			     "expected 'Subject: ...' (the first line that is not a # comment)");
	s += 8;
	n -= 8;
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return fault(line, at, err, errsz, "the subject is empty");
	if (n > TEMPLATE_SUBJECT_MAX)
		return fault(line, at, err, errsz, "the subject is longer than %d bytes",
			     TEMPLATE_SUBJECT_MAX);
	t->subject = xstrndup(s, n);
	return 0;
}

static bool
is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* body_text - the rest with LF line ends; -1 when it is only blanks. */
static int
body_text(const char *p, const char *end, struct template *t)
{
	struct buf b = BUF_INIT;
	const char *s;
	bool blank = true;

	while (p < end) {
		size_t n = next_line(&p, end, &s);

		buf_add(&b, s, n);
		buf_addc(&b, '\n');
		if (!is_blank(s, n))
			blank = false;
	}
	if (blank) {
		buf_free(&b);
		return -1;
	}
	t->body = buf_steal(&b);
	return 0;
}

/* parse_text - template_parse on a NUL-terminated copy. */
static int
parse_text(const char *p, const char *end, const char *const *names, struct template *t,
	   int *line, char *err, size_t errsz)
{
	const char *s;
	size_t n, uses = 0;
	int at = 1;

	for (n = next_line(&p, end, &s); n > 0 && s[0] == '#' && p < end;
	     n = next_line(&p, end, &s))
		at++;
	if (subject_line(s, n, at, t, line, err, errsz) == -1)
		return -1;
	at++;
	if (p >= end || next_line(&p, end, &s) != 0)
		return fault(line, at, err, errsz, "a blank line must follow the Subject line");
	if (body_text(p, end, t) == -1)
		return fault(line, at + 1, err, errsz, "the body is empty");
	if (check_uses(t->subject, at - 1, names, &uses, line, err, errsz) == -1 ||
	    check_uses(t->body, at + 1, names, &uses, line, err, errsz) == -1)
		return -1;
	return 0;
}

int
template_parse(const char *text, size_t len, const char *const *names, struct template *t,
	       int *line, char *err, size_t errsz)
{
	char *copy;
	int rc;

	memset(t, 0, sizeof(*t));
	if (len > TEMPLATE_FILE_MAX)
		return fault(line, 0, err, errsz, "longer than %d bytes", TEMPLATE_FILE_MAX);
	if (check_bytes(text, len, line, err, errsz) == -1)
		return -1;
	copy = xstrndup(text, len); /* no NUL inside: check_bytes refused it */
	rc = parse_text(copy, copy + len, names, t, line, err, errsz);
	free(copy);
	if (rc == -1)
		template_free(t);
	return rc;
}

void
template_free(struct template *t)
{
	free(t->subject);
	free(t->body);
	t->subject = t->body = NULL;
}

/* unsafe - a code point a value must not carry: controls (C0, DEL, C1),
 * line and paragraph separators, and the marks that reorder text (bidi
 * embeddings, overrides, isolates and marks). */
static bool
unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x61c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void
template_value(const char *v, struct buf *out)
{
	struct buf safe = BUF_INIT;
	size_t len = v != NULL ? strlen(v) : 0, i = 0, n, keep;
	uint32_t cp = 0;

	while (i < len) {
		n = utf8_next(v + i, len - i, &cp);
		if (n == 0 || unsafe(cp)) {
			buf_addc(&safe, '?');
			i += n ? n : 1;
			continue;
		}
		buf_add(&safe, v + i, n);
		i += n;
	}
	if (safe.len <= TEMPLATE_VALUE_MAX) {
		buf_add(out, safe.data, safe.len);
	} else {
		for (keep = 0; (n = utf8_next(safe.data + keep, safe.len - keep, &cp)) != 0 &&
			       keep + n <= TEMPLATE_VALUE_MAX - 3;
		     keep += n)
			;
		buf_add(out, safe.data, keep);
		buf_adds(out, "...");
	}
	buf_free(&safe);
}

static const char *
value_of(const struct template_var *vars, size_t nvars, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < nvars; i++)
		if (vars[i].name != NULL && strlen(vars[i].name) == n &&
		    memcmp(vars[i].name, name, n) == 0)
			return vars[i].value;
	return NULL;
}

/* fill - src with its placeholders replaced, appended to out. */
static void
fill(const char *src, const struct template_var *vars, size_t nvars, struct buf *out)
{
	const char *p = src, *brace;
	size_t n;

	while ((brace = strchr(p, '{')) != NULL) {
		buf_add(out, p, (size_t)(brace - p));
		if (brace[1] == '{') {
			buf_addc(out, '{');
			p = brace + 2;
			continue;
		}
		for (n = 0; is_name_char(brace[1 + n]); n++)
			;
		if (brace[1 + n] != '}') { /* template_parse refused it: not here */
			buf_addc(out, '{');
			p = brace + 1;
			continue;
		}
		template_value(value_of(vars, nvars, brace + 1, n), out);
		p = brace + n + 2;
	}
	buf_adds(out, p);
}

/* cut - keep at most max bytes of b from start, at a character boundary. */
static void
cut(struct buf *b, size_t start, size_t max)
{
	size_t i = start, n;
	uint32_t cp;

	if (b->len - start <= max)
		return;
	while (i < b->len && (n = utf8_next(b->data + i, b->len - i, &cp)) != 0 &&
	       i + n - start <= max)
		i += n;
	b->len = i;
	b->data[i] = '\0';
}

void
template_render(const struct template *t, const struct template_var *vars, size_t nvars,
		struct buf *subject, struct buf *body)
{
	size_t s0 = subject->len, b0 = body->len;

	fill(t->subject, vars, nvars, subject);
	cut(subject, s0, TEMPLATE_SUBJECT_OUT_MAX);
	fill(t->body, vars, nvars, body);
	cut(body, b0, TEMPLATE_BODY_OUT_MAX);
}
