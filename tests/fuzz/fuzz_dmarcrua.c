/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dmarcrua - the parsers of DMARC report destinations
 * (src/mailauth/dmarc_report.c) on hostile bytes:
 *
 * - the whole input as a rua= URI for dmarc_rua_mailto: an accepted one
 *   yields one address with an '@', no CR, LF, space, ',', '<' or '>', and
 *   a lower-case domain that is a valid domain name;
 * - the input split at NUL bytes into at most 4 TXT records, judged by
 *   dmarc_rua_authorize for a third-party destination: a target is either
 *   still SEND, on the same domain (an override may not move it), or
 *   UNAUTHORIZED;
 * - the input through dmarc_xml_escape: the output is valid UTF-8 without
 *   C0 controls, quotes or angle brackets, and every '&' starts an entity.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mailauth/dmarc_report.h"

#define RECORDS_MAX 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_mailto(const char *s, size_t n)
{
	char addr[SMTP_PATH_MAX + 1], dom[SMTP_DOMAIN_MAX + 1];
	size_t i;

	if (dmarc_rua_mailto(s, n, addr, dom) == -1)
		return;
	if (strchr(addr, '@') == NULL || strpbrk(addr, "\r\n ,<>") != NULL ||
	    strlen(addr) > SMTP_PATH_MAX - 2 || !valid_domain(dom, strlen(dom), false))
		abort();
	for (i = 0; dom[i] != '\0'; i++)
		if (isupper((unsigned char)dom[i]))
			abort();
}

static void
check_authorize(const char *s, size_t n)
{
	struct dmarc_rua_target t = {"dmarc@thirdparty.example", "thirdparty.example", 0,
				     DMARC_RUA_SEND};
	struct dmarc_txt txt[RECORDS_MAX];
	size_t k = 0, start = 0, i;
	const char *at;

	for (i = 0; i <= n && k < RECORDS_MAX; i++) {
		if (i == n || s[i] == '\0') {
			txt[k].txt = s + start;
			txt[k++].len = i - start;
			start = i + 1;
		}
	}
	if (dmarc_rua_authorize(&t, txt, k) == 0) {
		at = strrchr(t.addr, '@');
		if (t.status != DMARC_RUA_SEND || at == NULL ||
		    strcasecmp(at + 1, "thirdparty.example") != 0 ||
		    strcmp(t.domain, "thirdparty.example") != 0)
			abort();
	} else if (t.status != DMARC_RUA_UNAUTHORIZED) {
		abort();
	}
}

static void
check_escape(const char *s, size_t n)
{
	static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;",
					   "&#9;",  "&#10;", "&#13;"};
	struct buf out = BUF_INIT;
	size_t i, e;

	dmarc_xml_escape(s, n, &out);
	if (!valid_utf8(buf_cstr(&out), out.len))
		abort();
	for (i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];

		if (c < 0x20 || c == '<' || c == '>' || c == '"' || c == '\'')
			abort();
		if (c != '&')
			continue;
		for (e = 0; e < nitems(ents); e++)
			if (strncmp(out.data + i, ents[e], strlen(ents[e])) == 0)
				break;
		if (e == nitems(ents))
			abort();
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	if (size > DMARC_RECORD_MAX * 2)
		return 0;
	check_mailto(s, size);
	check_authorize(s, size);
	check_escape(s, size);
	return 0;
}
