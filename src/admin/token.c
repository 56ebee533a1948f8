/* SPDX-License-Identifier: ISC */
/*
 * token - sealed admin API tokens.
 *
 * SECURITY: see token.h.
 */
#include "admin/token.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define PAYLOAD_MAX 512
#define NONCE_LEN 8

static const char *const role_words[] = {"none", "auditor", "operator", "admin"};

int
token_make(const uint8_t key[TOKEN_KEY_LEN], const struct token_info *t, char *out,
	   size_t outsz)
{
	uint8_t payload[PAYLOAD_MAX], mac[crypto_auth_hmacsha256_BYTES], nonce[NONCE_LEN];
	char hex[2 * NONCE_LEN + 1];
	size_t plen, b64;
	int n;

	if (t->role <= ROLE_NONE || t->role > ROLE_ADMIN)
		return -1;
	randombytes_buf(nonce, sizeof(nonce));
	sodium_bin2hex(hex, sizeof(hex), nonce, sizeof(nonce));
	n = snprintf((char *)payload, sizeof(payload), "v1%c%s%c%s%c%s%c%ju%c%s", 0, t->account, 0,
		     role_words[t->role], 0, t->ip, 0, (uintmax_t)t->expiry, 0, hex);
	if (n < 0 || (size_t)n >= sizeof(payload) || strlen(t->account) > TOKEN_ACCOUNT_MAX ||
	    strlen(t->ip) > TOKEN_IP_MAX)
		return -1;
	plen = (size_t)n;
	crypto_auth_hmacsha256(mac, payload, plen, key);
	b64 = sodium_base64_ENCODED_LEN(plen, B64URL);
	if (b64 + 1 + sodium_base64_ENCODED_LEN(sizeof(mac), B64URL) > outsz ||
	    b64 + sodium_base64_ENCODED_LEN(sizeof(mac), B64URL) > TOKEN_MAX)
		return -1;
	sodium_bin2base64(out, b64, payload, plen, B64URL);
	out[b64 - 1] = '.';
	sodium_bin2base64(out + b64, outsz - b64, mac, sizeof(mac), B64URL);
	return 0;
}

/* next_field - the NUL-terminated field at *p within end, or NULL. */
static const char *
next_field(const char **p, const char *end)
{
	const char *f = *p, *nul = memchr(f, '\0', (size_t)(end - f));

	if (nul == NULL)
		return NULL;
	*p = nul + 1;
	return f;
}

/* parse_payload - the fields of a decoded payload; 0 or -1. */
static int
parse_payload(const uint8_t *payload, size_t plen, struct token_info *t)
{
	const char *p = (const char *)payload, *end = p + plen, *v, *acc, *role, *ip, *exp;
	uint64_t expiry;
	size_t i;

	memset(t, 0, sizeof(*t));
	if ((v = next_field(&p, end)) == NULL || strcmp(v, "v1") != 0 ||
	    (acc = next_field(&p, end)) == NULL || (role = next_field(&p, end)) == NULL ||
	    (ip = next_field(&p, end)) == NULL || (exp = next_field(&p, end)) == NULL ||
	    memchr(p, '\0', (size_t)(end - p)) != NULL || end - p != 2 * NONCE_LEN)
		return -1;
	if (*acc == '\0' || strlen(acc) > TOKEN_ACCOUNT_MAX || strlen(ip) > TOKEN_IP_MAX ||
	    parse_u64(exp, UINT64_MAX, &expiry) == -1)
		return -1;
	for (i = ROLE_AUDITOR; i <= ROLE_ADMIN; i++)
		if (strcmp(role, role_words[i]) == 0)
			t->role = (enum admin_role)i;
	if (t->role == ROLE_NONE)
		return -1;
	(void)str_copy(t->account, acc, sizeof(t->account));
	(void)str_copy(t->ip, ip, sizeof(t->ip));
	t->expiry = expiry;
	return 0;
}

/* split - decode both halves of s; 0 or -1. */
static int
split(const char *s, size_t len, uint8_t *payload, size_t *plen, uint8_t *mac)
{
	const char *dot;
	size_t mlen;

	if (len > TOKEN_MAX || (dot = memchr(s, '.', len)) == NULL)
		return -1;
	if (sodium_base642bin(payload, PAYLOAD_MAX, s, (size_t)(dot - s), NULL, plen, NULL,
			      B64URL) != 0 ||
	    sodium_base642bin(mac, crypto_auth_hmacsha256_BYTES, dot + 1,
			      len - (size_t)(dot + 1 - s), NULL, &mlen, NULL, B64URL) != 0 ||
	    mlen != crypto_auth_hmacsha256_BYTES)
		return -1;
	return 0;
}

int
token_verify(const uint8_t key[TOKEN_KEY_LEN], const char *s, size_t len, uint64_t now,
	     const char *ip, struct token_info *t, const char **why)
{
	uint8_t payload[PAYLOAD_MAX], mac[crypto_auth_hmacsha256_BYTES];
	size_t plen;

	memset(t, 0, sizeof(*t));
	*why = "malformed";
	if (split(s, len, payload, &plen, mac) == -1)
		return -1;
	if (crypto_auth_hmacsha256_verify(mac, payload, plen, key) != 0) {
		*why = "forged";
		return -1;
	}
	if (parse_payload(payload, plen, t) == -1)
		return -1; /* sealed by us but not ours in shape: cannot happen */
	if (now >= t->expiry) {
		*why = "expired";
		return -1;
	}
	if (strcmp(ip, t->ip) != 0) {
		*why = "other-address";
		return -1;
	}
	*why = NULL;
	return 0;
}

int
token_peek(const char *s, size_t len, struct token_info *t)
{
	uint8_t payload[PAYLOAD_MAX], mac[crypto_auth_hmacsha256_BYTES];
	size_t plen;

	memset(t, 0, sizeof(*t));
	if (split(s, len, payload, &plen, mac) == -1)
		return -1;
	return parse_payload(payload, plen, t);
}
