/* SPDX-License-Identifier: ISC */
/*
 * fuzz_notice - user notice templates (src/mail/template.c) and the mail
 * they become (src/mail/notice.c). The input is a template, then NUL and
 * the values of {a}, {b}, {c} and {d}, NUL-separated. No crash, and:
 *   - a refused template names a line and says why;
 *   - a value made safe is valid UTF-8 of at most TEMPLATE_VALUE_MAX bytes
 *     without control characters;
 *   - a rendered subject has no line break and fits TEMPLATE_SUBJECT_OUT_MAX,
 *     a rendered body has exactly the template's lines (values add none)
 *     and fits TEMPLATE_BODY_OUT_MAX, both valid UTF-8;
 *   - the notice composes, every line ends in CRLF and is at most 998
 *     bytes, and the header section holds our fields only (an injected
 *     field would start a line with another name).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/notice.h"
#include "mail/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"a", "b", "c", "d", NULL};

static size_t
count_lf(const char *s, size_t n)
{
	size_t k = 0, i;

	for (i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

static void
check_value(const char *v)
{
	struct buf out = BUF_INIT;
	size_t i;

	template_value(v, &out);
	if (out.len > TEMPLATE_VALUE_MAX || !valid_utf8(out.data ? out.data : "", out.len))
		abort();
	for (i = 0; i < out.len; i++)
		if ((unsigned char)out.data[i] < 0x20 || out.data[i] == 0x7f)
			abort();
	buf_free(&out);
}

/* check_mail - wire form: CRLF lines of at most 998 bytes, and only our
 * header fields (or continuation lines) before the blank line. */
static void
check_mail(const struct buf *m)
{
	static const char *const fields[] = {"Date: ", "From: ", "To: ", "Subject:",
					     "Message-ID: ", "Auto-Submitted: ", "MIME-Version: ",
					     "Content-Type: ", "Content-Transfer-Encoding: "};
	const char *p = m->data, *end = m->data + m->len, *nl;
	int header = 1;
	size_t i;

	while (p < end) {
		nl = memchr(p, '\r', (size_t)(end - p));
		if (nl == NULL || nl + 1 >= end || nl[1] != '\n' || nl - p > 998 ||
		    memchr(p, '\n', (size_t)(nl - p)) != NULL)
			abort();
		if (nl == p)
			header = 0;
		else if (header && p[0] != ' ') {
			for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
				if (strncmp(p, fields[i], strlen(fields[i])) == 0)
					break;
			if (i == sizeof(fields) / sizeof(fields[0]))
				abort();
		}
		p = nl + 2;
	}
}

static void
render(const struct template *t, const struct template_var *vars)
{
	struct buf s = BUF_INIT, b = BUF_INIT, m = BUF_INIT;
	struct notice n = {"mx.example.test", "ann@example.test", NULL, NULL, 0, "abc"};

	template_render(t, vars, 4, &s, &b);
	if (s.len > TEMPLATE_SUBJECT_OUT_MAX || strpbrk(buf_cstr(&s), "\r\n") != NULL ||
	    !valid_utf8(buf_cstr(&s), s.len) || b.len > TEMPLATE_BODY_OUT_MAX ||
	    !valid_utf8(buf_cstr(&b), b.len) ||
	    count_lf(buf_cstr(&b), b.len) != count_lf(t->body, strlen(t->body)))
		abort();
	n.subject = buf_cstr(&s);
	n.body = buf_cstr(&b);
	if (notice_compose(&n, &m) == -1)
		abort();
	check_mail(&m);
	buf_free(&s);
	buf_free(&b);
	buf_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *nul;
	struct template_var vars[4] = {{"a", NULL}, {"b", NULL}, {"c", NULL}, {"d", NULL}};
	char *copy, err[512];
	struct template t;
	size_t tlen, i;
	int line = -1;

	if (size > 2 * TEMPLATE_FILE_MAX)
		return 0;
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	nul = memchr(data, '\0', size);
	tlen = nul != NULL ? (size_t)(nul - (const char *)data) : size;
	/* the values: copy + tlen + 1 ..., each NUL-terminated in the copy */
	p = copy + tlen;
	for (i = 0; i < 4 && p < copy + size; i++) {
		vars[i].value = p + 1;
		p += 1 + strlen(p + 1);
		check_value(vars[i].value);
	}
	err[0] = '\0';
	if (template_parse(copy, tlen, names, &t, &line, err, sizeof(err)) == 0) {
		render(&t, vars);
		template_free(&t);
	} else if (line < 0 || err[0] == '\0' || t.subject != NULL || t.body != NULL) {
		abort();
	}
	check_value(copy);
	free(copy);
	return 0;
}
