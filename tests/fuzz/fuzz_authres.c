/* SPDX-License-Identifier: ISC */
/*
 * fuzz_authres - the authserv-id of hostile Authentication-Results values
 * (src/mailauth/authres.c): no crash, and an id read is non-empty, at most
 * AUTHRES_ID_MAX bytes, without CR or LF; composing with the input as a
 * property value never lets CR or LF into the header's lines; the same for
 * Received-SPF with hostile HELO, sender and problem text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[AUTHRES_ID_MAX + 1], *v;
	struct authres_result r = {"dkim", "pass", NULL, {{"header", "d", NULL}}, 1};
	struct buf out = BUF_INIT;
	size_t i;

	if (authres_id((const char *)data, size, id) == 0 &&
	    (id[0] == '\0' || strlen(id) > AUTHRES_ID_MAX || strpbrk(id, "\r\n") != NULL))
		abort();
	if (size > 4096)
		return 0;
	v = malloc(size + 1);
	memcpy(v, data, size);
	v[size] = '\0';
	r.reason = v;
	r.props[0].value = v;
	if (authres_compose("mx.example.test", &r, 1, &out) == 0) {
		/* every CR is the start of a CRLF that ends a line we made */
		for (i = 0; i < out.len; i++)
			if ((out.data[i] == '\r') != (i + 1 < out.len && out.data[i + 1] == '\n'))
				abort();
	}
	buf_reset(&out);
	{
		/* Received-SPF with hostile envelope values: no line injected,
		 * every line after the first folded (starts with WSP) */
		struct received_spf rs = {"fail", "mx.example.test", "192.0.2.1", v, v, "mailfrom",
					  v};

		if (received_spf_compose(&rs, &out) == 0) {
			for (i = 0; i < out.len; i++) {
				if ((out.data[i] == '\r') != (i + 1 < out.len && out.data[i + 1] == '\n'))
					abort();
				if (out.data[i] == '\n' && i + 1 < out.len && out.data[i + 1] != ' ' &&
				    out.data[i + 1] != '\t')
					abort();
			}
		}
	}
	buf_free(&out);
	free(v);
	return 0;
}
