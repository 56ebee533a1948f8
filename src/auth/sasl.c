/* SPDX-License-Identifier: ISC */
/*
 * sasl - SASL codecs (base64, PLAIN).
 *
 * SECURITY: see sasl.h; pure and fuzzed.
 */
#include "auth/sasl.h"

#include <sodium.h>
#include <string.h>

#include "lib/util.h"

bool
sasl_b64_chars(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '='))
			return false;
	}
	return true;
}

int
sasl_b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	const char *end = NULL;

	*outlen = 0;
	if (len == 1 && in[0] == '=')
		return 0; /* RFC 4954 4: "=" is an empty initial response */
	if (len == 0 || len > (SASL_MAX / 3) * 4 + 4)
		return -1;
	/* libsodium 1.0.18 decodes every byte from 0x80 up as '/' (found by
	 * fuzz_scram): check the alphabet first. */
	if (!sasl_b64_chars(in, len))
		return -1;
	if (sodium_base642bin(out, SASL_MAX, in, len, NULL, outlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != in + len)
		return -1;
	return 0;
}

void
sasl_b64_encode(const uint8_t *in, size_t n, struct buf *out)
{
	size_t need = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);

	buf_reserve(out, need);
	sodium_bin2base64(out->data + out->len, need, in, n, sodium_base64_VARIANT_ORIGINAL);
	out->len += need - 1; /* need counts the NUL */
}

int
sasl_plain_parse(uint8_t *buf, size_t len, struct sasl_plain *p)
{
	uint8_t *z1, *z2;

	memset(p, 0, sizeof(p[0]));
	if (len == 0 || len > SASL_MAX)
		return -1;
	z1 = memchr(buf, '\0', len);
	if (z1 == NULL)
		return -1;
	z2 = memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - buf));
	if (z2 == NULL || memchr(z2 + 1, '\0', len - (size_t)(z2 + 1 - buf)) != NULL)
		return -1;
	buf[len] = '\0';
	p->authzid = (const char *)buf;
	p->authcid = (const char *)z1 + 1;
	p->passwd = (const char *)z2 + 1;
	p->passwdlen = len - (size_t)(z2 + 1 - buf);
	if (*p->authcid == '\0' || p->passwdlen == 0 ||
	    !valid_utf8(p->authzid, strlen(p->authzid)) ||
	    !valid_utf8(p->authcid, strlen(p->authcid)) || !valid_utf8(p->passwd, p->passwdlen))
		return -1;
	return 0;
}

int
sasl_login_text(const uint8_t *data, size_t len, char *out, size_t outsz)
{
	if (len == 0 || len >= outsz || memchr(data, '\0', len) != NULL ||
	    !valid_utf8((const char *)data, len))
		return -1;
	memcpy(out, data, len);
	out[len] = '\0';
	return 0;
}
