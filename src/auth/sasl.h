/* SPDX-License-Identifier: ISC */
/*
 * sasl - SASL message codecs: base64 framing of SMTP AUTH lines and the
 * PLAIN message. Mechanism state machines live in the auth process; these
 * are the pure parsers both sides share.
 *
 * SECURITY: input from the network before authentication. Bounded by
 * SASL_MAX (decoded bytes); strict base64 (no whitespace, no junk, right
 * padding); NUL rules of RFC 4616 enforced. Callers wipe the buffers.
 * STANDARDS: RFC 4954 (SMTP AUTH), RFC 4616 (PLAIN), RFC 4648 (base64).
 */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Largest decoded SASL message we accept (RFC 4616 allows 255 per field). */
#define SASL_MAX 2048

/* sasl_b64_chars - only the RFC 4648 section 4 alphabet and '='. */
bool sasl_b64_chars(const char *p, size_t n);
/* sasl_b64_decode - strict base64 of len bytes into out (SASL_MAX bytes);
 * *outlen set. "=" alone (an empty response) decodes to 0 bytes. 0 or -1. */
int sasl_b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);
/* sasl_b64_encode - append base64 of n bytes to out. */
void sasl_b64_encode(const uint8_t *in, size_t n, struct buf *out);

struct sasl_plain {
	const char *authzid; /* may be "" */
	const char *authcid;
	const char *passwd;
	size_t passwdlen;
};

/* sasl_plain_parse - split a decoded PLAIN message (authzid NUL authcid NUL
 * passwd) in place; buf must have room for one more byte (a NUL is
 * written at the end). Fields must be non-empty (authzid may be empty),
 * UTF-8, without further NULs. 0 or -1. */
int sasl_plain_parse(uint8_t *buf, size_t len, struct sasl_plain *p);

/* sasl_login_text - a decoded LOGIN response (draft-murchison-sasl-login):
 * the user name or the password as a NUL-terminated string in out (outsz
 * bytes). Non-empty, UTF-8, no NUL, shorter than outsz. 0 or -1. */
int sasl_login_text(const uint8_t *data, size_t len, char *out, size_t outsz);

#endif
