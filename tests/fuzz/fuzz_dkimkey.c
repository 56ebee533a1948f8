/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dkimkey - the DKIM key-record parser and the TXT RDATA joiner
 * (src/mailauth/dkim_tags.c). The input is read twice: as a key record,
 * and as TXT RDATA whose joined text is then parsed as a key record.
 *
 * Checked: an accepted key has a known type, p_len within DKIM_P_MAX, a
 * 32-byte Ed25519 key unless revoked, revoked exactly when p= is empty; a
 * refusal always gives a reason. A joined TXT is NUL-terminated, as long
 * as it says, and is the RDATA without its length bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim_tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
parse_key(const char *s, size_t len)
{
	struct dkim_key key;
	const char *why = NULL;

	if (dkim_key_parse(s, len, &key, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (key.k != DKIM_KEY_RSA && key.k != DKIM_KEY_ED25519)
		abort();
	if (key.p_len > DKIM_P_MAX || key.revoked != (key.p_len == 0))
		abort();
	if (key.k == DKIM_KEY_ED25519 && !key.revoked && key.p_len != 32)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, txt[DKIM_KEYREC_MAX + 1];
	size_t n, i, o;

	if (size > DKIM_KEYREC_MAX + 16)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	parse_key(s, size);
	free(s);
	if (dkim_txt_join(data, size, txt, sizeof(txt), &n) != 0)
		return 0;
	if (txt[n] != '\0' || strlen(txt) != n)
		abort();
	for (i = 0, o = 0; i < size; o += data[i], i += 1 + (size_t)data[i])
		if (memcmp(txt + o, data + i + 1, data[i]) != 0)
			abort();
	if (o != n)
		abort();
	parse_key(txt, n);
	return 0;
}
