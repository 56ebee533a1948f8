/* SPDX-License-Identifier: ISC */
/*
 * fuzz_sasl - SASL framing, PLAIN and LOGIN: base64 decoding of an AUTH
 * line, the PLAIN message split and the LOGIN response check, with the
 * re-encoding round trip checked.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[SASL_MAX + 1], copy[SASL_MAX + 1];
	struct sasl_plain p;
	struct buf b = BUF_INIT;
	size_t n, n2;

	if (size > 8192)
		return 0;
	if (sasl_b64_decode((const char *)data, size, out, &n) == 0) {
		if (n > SASL_MAX)
			abort();
		sasl_b64_encode(out, n, &b);
		if (n > 0 && (sasl_b64_decode(b.data, b.len, copy, &n2) != 0 || n2 != n ||
			      memcmp(copy, out, n) != 0))
			abort();
		buf_free(&b);
		if (sasl_login_text(out, n, (char *)copy, sizeof(copy)) == 0 &&
		    strlen((char *)copy) != n)
			abort();
		(void)sasl_plain_parse(out, n, &p);
	}
	if (size <= SASL_MAX) {
		memcpy(out, data, size);
		if (sasl_plain_parse(out, size, &p) == 0 &&
		    (p.passwdlen == 0 || strlen(p.authcid) == 0))
			abort();
	}
	return 0;
}
