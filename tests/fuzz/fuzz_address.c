/* SPDX-License-Identifier: ISC */
/*
 * fuzz_address - SMTP paths (smtp_parse_path, null sender allowed and not),
 * valid_domain, valid_address_literal and valid_utf8 on raw bytes, NUL
 * included.
 *
 * Checked: an accepted path is exactly what the relay decision will see:
 * no NUL hides a tail, the address is the input's last bytes before '>',
 * it ends in '@' and the domain (lower-cased), the domain is itself valid,
 * and non-ASCII is flagged for SMTPUTF8 and is well-formed UTF-8.
 * valid_utf8 is compared with an independent decoder.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/syntax.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ref_utf8 - RFC 3629 section 4 syntax, table style, as a second opinion. */
static bool
ref_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t k, need;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (n - i - 1 < need)
			return false;
		for (k = 1; k <= need; k++) {
			uint8_t b = s[i + k];

			if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf))
				return false;
		}
		i += need + 1;
	}
	return true;
}

static bool
has_high(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static void
check_path(const char *in, size_t n, const struct smtp_path *p)
{
	size_t alen = strnlen(p->addr, sizeof(p->addr)), dlen;
	const char *at;

	if (p->null) {
		if (n != 2 || p->addr[0] != '\0')
			abort();
		return;
	}
	if (p->postmaster) {
		if (strcasecmp(p->addr, "postmaster") != 0 || p->domain[0] != '\0')
			abort();
		return;
	}
	dlen = strnlen(p->domain, sizeof(p->domain));
	if (alen == 0 || alen > SMTP_PATH_MAX || dlen == 0 || dlen > SMTP_DOMAIN_MAX)
		abort();
	/* the address is the end of the input: "<" [route ":"] addr ">" */
	if (alen + 2 > n || memcmp(in + n - 1 - alen, p->addr, alen) != 0)
		abort();
	if (in[n - 2 - alen] != '<' && in[n - 2 - alen] != ':')
		abort();
	if (memchr(in + n - 1 - alen, '\0', alen) != NULL)
		abort();
	at = strrchr(p->addr, '@');
	if (at == NULL || strlen(at + 1) != dlen || strncasecmp(at + 1, p->domain, dlen) != 0)
		abort();
	if (p->utf8 != has_high(p->addr, alen))
		abort();
	if (p->utf8 && !valid_utf8(p->addr, alen))
		abort();
	if (p->domain[0] == '[') {
		if (!valid_address_literal(p->domain, dlen))
			abort();
	} else if (!valid_domain(p->domain, dlen, p->utf8)) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct smtp_path a, b;
	int ra, rb;

	if (size > 4096)
		return 0;
	ra = smtp_parse_path(s, size, false, &a);
	rb = smtp_parse_path(s, size, true, &b);
	if ((ra != 0 && ra != -1) || (rb != 0 && rb != -1))
		abort();
	if (ra == 0) {
		/* allowing the null path changes nothing else */
		if (rb != 0 || memcmp(&a, &b, sizeof(a)) != 0 || a.null)
			abort();
		check_path(s, size, &a);
	}
	if (rb == 0 && ra != 0 && !(b.null && size == 2))
		abort();
	if (rb == 0)
		check_path(s, size, &b);
	if (valid_utf8(s, size) != ref_utf8(data, size))
		abort();
	if (valid_domain(s, size, false)) {
		if (size > SMTP_DOMAIN_MAX || has_high(s, size) || memchr(s, '\0', size) != NULL)
			abort();
		if (!valid_domain(s, size, true))
			abort();
	}
	if (valid_domain(s, size, true) && (!valid_utf8(s, size) || memchr(s, '\0', size)))
		abort();
	if (valid_address_literal(s, size) && memchr(s, '\0', size) != NULL)
		abort(); /* a NUL would hide the rest of the literal */
	return 0;
}
