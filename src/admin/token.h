/* SPDX-License-Identifier: ISC */
/*
 * token - the admin API's short-lived bearer tokens.
 *
 * A token says "account A, with role R, logged in from address IP, until
 * time T" and is sealed with HMAC-SHA-256 under a key that the parent makes
 * at each start and gives to the auth process (which issues tokens after a
 * login with password and TOTP code) and the queue process (which checks
 * them before it runs anything), never to the smtp process that carries
 * them: a compromised smtp process can replay a token it has seen, within
 * its lifetime and from its address, but cannot make one or raise a role.
 * A restart ends every token.
 *
 *   token = base64url(payload) "." base64url(HMAC-SHA-256(key, payload))
 *   payload = "v1" NUL account NUL role NUL ip NUL expiry NUL nonce
 *
 * SECURITY: token_verify() and token_peek() parse what a network client
 * sends (the Authorization header): pure, bounded (TOKEN_MAX), fuzzed
 * (tests/fuzz/fuzz_admintoken.c); the MAC is compared in constant time
 * before any field is believed.
 * STANDARDS: RFC 2104 (HMAC), RFC 6750 (bearer tokens), RFC 4648 section 5
 * (base64url, no padding).
 */
#ifndef POSTERN_ADMIN_TOKEN_H
#define POSTERN_ADMIN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

#define TOKEN_KEY_LEN 32
#define TOKEN_ACCOUNT_MAX 320
#define TOKEN_IP_MAX 64
/* Longest token accepted: base64url of the longest payload plus the MAC. */
#define TOKEN_MAX 640

struct token_info {
	char account[TOKEN_ACCOUNT_MAX + 1];
	enum admin_role role;
	char ip[TOKEN_IP_MAX + 1];
	uint64_t expiry; /* unix seconds */
};

/* token_make - a token for t under key into out (TOKEN_MAX + 1 bytes);
 * 0, or -1 when a field does not fit. */
int token_make(const uint8_t key[TOKEN_KEY_LEN], const struct token_info *t, char *out,
	       size_t outsz);
/* token_verify - check s (len bytes) under key: sealed by key, not expired
 * at now, issued to ip. 0 with t filled, or -1 with *why "malformed",
 * "forged", "expired" or "other-address". */
int token_verify(const uint8_t key[TOKEN_KEY_LEN], const char *s, size_t len, uint64_t now,
		 const char *ip, struct token_info *t, const char **why);
/* token_peek - the fields of s without checking its seal (for display
 * only: what to tell the client it was given). 0 or -1. */
int token_peek(const char *s, size_t len, struct token_info *t);

#endif
