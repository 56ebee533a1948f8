/* SPDX-License-Identifier: ISC */
/*
 * fuzz_admintoken - token_verify and token_peek (src/admin/token.c), the
 * parsers of the bearer token an admin API client sends.
 *
 * Properties checked beyond the sanitizers: nothing the fuzzer writes
 * verifies under the key (it cannot forge the HMAC), unless it is a token
 * that key made; a refused token leaves no fields behind; what token_peek
 * accepts has a real role, an account and fields within their bounds; a
 * token made from a peeked payload verifies.
 * Seeds (corpus/admintoken/, ours, ISC): tokens made under key 0x07...
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[TOKEN_KEY_LEN] = {1, 2, 3};
	struct token_info t, again;
	char tok[TOKEN_MAX + 1];
	const char *why;

	if (token_verify(key, (const char *)data, size, 0, "", &t, &why) == 0)
		abort(); /* a forgery */
	if (t.account[0] != '\0' || t.role != ROLE_NONE)
		abort();
	if (token_peek((const char *)data, size, &t) == -1)
		return 0;
	if (t.role < ROLE_AUDITOR || t.role > ROLE_ADMIN || t.account[0] == '\0' ||
	    strlen(t.account) > TOKEN_ACCOUNT_MAX || strlen(t.ip) > TOKEN_IP_MAX)
		abort();
	if (t.expiry == UINT64_MAX)
		return 0;
	if (token_make(key, &t, tok, sizeof(tok)) == 0 &&
	    token_verify(key, tok, strlen(tok), t.expiry - (t.expiry > 0), t.ip, &again, &why) !=
		    (t.expiry > 0 ? 0 : -1))
		abort();
	return 0;
}
