/* SPDX-License-Identifier: ISC */
/*
 * fuzz_findings - the reports of `postern check` (src/cli/findings.c) on
 * the untrusted text that reaches a finding (DNS records, SMTP replies,
 * account names): the input is cut at NUL bytes into a detail, a fix and
 * the config path of the header; its first byte picks the kind.
 *
 * Checked: a kept detail is valid UTF-8 without control characters but
 * '\n', at most FINDINGS_TEXT_MAX bytes, and never longer than the input;
 * the text report holds no control character but '\n'; the JSON report
 * parses, and its detail and fix are the kept strings, byte for byte.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/findings.h"
#include "lib/buf.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_clean(const char *s, size_t max)
{
	size_t i, len;

	if (s == NULL)
		return;
	len = strlen(s);
	if (len > FINDINGS_TEXT_MAX || len > max || !valid_utf8(s, len))
		abort();
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
			abort();
		if ((unsigned char)s[i] == 0xc2 && (unsigned char)s[i + 1] < 0xa0)
			abort(); /* a C1 control */
	}
}

static void
check_json(const struct findings *f, const char *doc)
{
	json_t *j = json_loads(doc, 0, NULL), *x;

	if (j == NULL)
		abort();
	x = json_array_get(json_object_get(j, "findings"), 0);
	if (x == NULL || strcmp(json_string_value(json_object_get(x, "id")), f->v[0].kind->id))
		abort();
	if (f->v[0].detail != NULL &&
	    strcmp(json_string_value(json_object_get(x, "detail")), f->v[0].detail) != 0)
		abort();
	if (f->v[0].fix != NULL && strcmp(json_string_value(json_object_get(x, "fix")), f->v[0].fix))
		abort();
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct findings_kind *kinds;
	struct findings f;
	struct findings_meta m = {"mx.example.test", NULL, "0", 0};
	struct buf in = BUF_INIT, out = BUF_INIT;
	const char *detail, *fix, *end;
	size_t nkinds, i;

	if (size < 1 || size > 3 * FINDINGS_TEXT_MAX)
		return 0;
	kinds = findings_kinds(&nkinds);
	buf_add(&in, data + 1, size - 1); /* NUL-terminated: the last field ends */
	detail = buf_cstr(&in);
	end = detail + in.len;
	fix = detail + strlen(detail) < end ? detail + strlen(detail) + 1 : NULL;
	m.config = fix != NULL && fix + strlen(fix) < end ? fix + strlen(fix) + 1 : "c";
	findings_init(&f);
	findings_add_as(&f, kinds[data[0] % nkinds].id, (enum findings_sev)(data[0] % FINDINGS_SEVS),
			detail, fix);
	check_clean(f.v[0].detail, strlen(detail));
	check_clean(f.v[0].fix, fix != NULL ? strlen(fix) : 0);
	findings_text(&f, &m, &out);
	for (i = 0; i < out.len; i++)
		if (((unsigned char)out.data[i] < 0x20 && out.data[i] != '\n') || out.data[i] == 0x7f)
			abort();
	buf_reset(&out);
	findings_json(&f, &m, &out);
	check_json(&f, buf_cstr(&out));
	findings_free(&f);
	buf_free(&in);
	buf_free(&out);
	return 0;
}
