/* SPDX-License-Identifier: ISC */
/*
 * fuzz_scram - the untrusted-input side of auth/scram: a whole server
 * exchange driven by a client-first and a client-final message, and the
 * stored-key parser (strings from the account store, Dovecot or gsasl).
 *
 * Input layout: byte 0 = flags (bit 0 the -PLUS mechanism, bit 1 -PLUS
 * advertised, bit 2 unknown user, bit 3 no channel binding data from TLS),
 * then client-first NUL client-final NUL stored-string (missing parts are
 * empty). When the stored string parses, the exchange uses its keys,
 * otherwise the RFC 7677 keys of "pencil". The server nonce is the RFC
 * 7677 one and the channel binding data 32 bytes of 0x42, so seeds can
 * carry complete, verifying exchanges.
 *
 * Properties checked beyond the sanitizers: a parsed stored string formats
 * back to itself (prefix case aside) and a refused one leaves the keys
 * wiped; an accepted client-first yields a non-empty UTF-8 username within
 * SCRAM_NAME_MAX; a refusal always names an error and leaves nothing in
 * the output; an exchange succeeds only for a known user, with the channel
 * binding data when -PLUS, and answers "v=" and 44 base64 characters.
 * Seeds (corpus/scram/, all ours, ISC): the RFC 7677 exchange, -PLUS,
 * authzid, "y", extension and unknown-user exchanges, Dovecot and gsasl
 * stored strings, and malformed variants.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/scram.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RFC_STORED                                                                                 \
	"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"                                            \
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"                                            \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

static const uint8_t secret[SCRAM_DUMMY_SECRET_LEN] = "postern-fuzz-scram-dummy-secret";

/* take - the bytes of *p up to the next NUL (or the end). */
static const uint8_t *
take(const uint8_t **p, const uint8_t *end, size_t *n)
{
	const uint8_t *s = *p, *z = s < end ? memchr(s, '\0', (size_t)(end - s)) : NULL;

	*n = z != NULL ? (size_t)(z - s) : (size_t)(end - s);
	*p = z != NULL ? z + 1 : end;
	return s;
}

/* check_stored - parse s; if it parses, it must format back to itself.
 * 0 with the keys in k, or -1. */
static int
check_stored(const uint8_t *s, size_t n, struct scram_keys *k)
{
	char str[SCRAM_STORED_MAX + 2], again[SCRAM_STORED_MAX];
	const size_t plen = sizeof(SCRAM_PREFIX) - 1;

	if (n > SCRAM_STORED_MAX + 1)
		n = SCRAM_STORED_MAX + 1;
	memcpy(str, s, n);
	str[n] = '\0';
	if (scram_keys_parse(str, k) == -1) {
		if (k->iter != 0 || k->saltlen != 0)
			abort();
		return -1;
	}
	if (scram_keys_format(k, again, sizeof(again)) == -1 || strlen(again) != n ||
	    strncasecmp(again, str, plen) != 0 || strcmp(again + plen, str + plen) != 0)
		abort();
	return 0;
}

static void
check_first(const struct scram_server *st)
{
	const char *u = scram_server_username(st), *z = scram_server_authzid(st);

	if (u[0] == '\0' || strlen(u) > SCRAM_NAME_MAX || !valid_utf8(u, strlen(u)) ||
	    strlen(z) > SCRAM_NAME_MAX || !valid_utf8(z, strlen(z)) || st->state != SCRAM_S_LOOKUP)
		abort();
}

static void
check_failed(const struct scram_server *st, const struct buf *out)
{
	if (st->state != SCRAM_S_FAILED || scram_server_error(st) == SCRAM_E_OK || out->len != 0 ||
	    scram_error_name(scram_server_error(st))[0] == '\0')
		abort();
}

/* exchange - run the messages through a server. */
static void
exchange(unsigned flags, const uint8_t *first, size_t flen, const uint8_t *final, size_t fnlen,
	 const struct scram_keys *k)
{
	static const uint8_t cb[SCRAM_CB_LEN] = {
		0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
		0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
		0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};
	bool plus = flags & 1, unknown = flags & 4, nocb = flags & 8;
	struct scram_server st;
	struct buf out = BUF_INIT;
	int rc;

	scram_server_init(&st, plus, flags & 2);
	if (scram_server_parse_first(&st, first, flen) == -1) {
		check_failed(&st, &out);
		goto done;
	}
	check_first(&st);
	if (unknown)
		rc = scram_server_first_unknown(&st, secret, SCRAM_ITER_DEFAULT, RFC_SNONCE, &out);
	else
		rc = scram_server_first(&st, k, RFC_SNONCE, &out);
	if (rc == -1 || out.len >= SCRAM_SERVER_FIRST_MAX || strncmp(out.data, "r=", 2) != 0)
		abort();
	buf_reset(&out);
	rc = scram_server_final(&st, final, fnlen, nocb ? NULL : cb, nocb ? 0 : sizeof(cb), &out);
	if (rc == -1)
		check_failed(&st, &out);
	else if (unknown || (plus && nocb) || out.len != 46 || strncmp(out.data, "v=", 2) != 0 ||
		 st.state != SCRAM_S_DONE)
		abort();
done:
	scram_server_clear(&st);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size, *first, *final, *stored;
	size_t flen, fnlen, slen;
	struct scram_keys k;

	if (size < 1 || size > 3 * SASL_MAX + 512)
		return 0;
	first = take(&p, end, &flen);
	final = take(&p, end, &fnlen);
	stored = take(&p, end, &slen);
	if (check_stored(stored, slen, &k) == -1 && scram_keys_parse(RFC_STORED, &k) == -1)
		abort();
	exchange(data[0], first, flen, final, fnlen, &k);
	return 0;
}
