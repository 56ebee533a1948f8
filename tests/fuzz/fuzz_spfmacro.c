/* SPDX-License-Identifier: ISC */
/*
 * fuzz_spfmacro - SPF macro strings: spf_macro_check, spf_macro_expand,
 * spf_macro_domain_ok, spf_macro_uses and spf_domain_truncate.
 *
 * Input: byte 0 = flags (bit 0: explanation string), then the macro
 * string. Checked: expansion succeeds exactly when the check accepts the
 * string (the context values are short), stays within SPF_MACRO_OUT_MAX,
 * a domain-spec is a valid macro string, truncation yields at most
 * SPF_DOMAIN_MAX octets on a label boundary.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mailauth/spf_macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct spf_macro_ctx ctx = {
	.sender = "Strong-Bad+x@email.example.com",
	.local = "Strong-Bad+x",
	.sender_dom = "email.example.com",
	.domain = "email.example.com",
	.ip = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1",
	.validated = "unknown",
	.version = "ip6",
	.helo = "mx.example.org",
	.client_ip = "2001:db8::cb01",
	.receiver = "rcv.example.net",
	.timestamp = "1234567890",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT;
	const char *s = (const char *)data + 1;
	size_t n = size - 1, off, len;
	int flags, ok, rc;

	if (size < 1 || size > 8192)
		return 0;
	flags = data[0] & 1 ? SPF_MACRO_EXP : 0;
	ok = spf_macro_check(s, n, flags);
	rc = spf_macro_expand(s, n, flags, &ctx, &out);
	if (ok == -1 && rc != -1)
		abort();
	if (rc == 0 && out.len > SPF_MACRO_OUT_MAX)
		abort();
	if (spf_macro_domain_ok(s, n) && spf_macro_check(s, n, 0) != 0)
		abort();
	(void)spf_macro_uses(s, n, 'p');
	if (rc == 0 && memchr(buf_cstr(&out), '\0', out.len) == NULL) {
		off = spf_domain_truncate(buf_cstr(&out));
		len = strlen(buf_cstr(&out) + off);
		if (len > 0 && buf_cstr(&out)[off + len - 1] == '.')
			len--;
		if (off > out.len || (off > 0 && buf_cstr(&out)[off - 1] != '.'))
			abort();
		if (len > SPF_DOMAIN_MAX && memchr(buf_cstr(&out) + off, '.', len) != NULL)
			abort();
	}
	buf_free(&out);
	return 0;
}
