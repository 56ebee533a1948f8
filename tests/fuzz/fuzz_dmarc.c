/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dmarc - DMARC policy records (src/mailauth/dmarc.c) from arbitrary
 * bytes: no crash, and an accepted record is consistent (policies in
 * range, pct <= 100, bounded report addresses, each a scheme and a value).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r;
	char err[128];
	size_t i;

	if (dmarc_record_parse((const char *)data, size, &r, err, sizeof(err)) == -1)
		return 0;
	if (r.p > DMARC_P_REJECT || r.sp > DMARC_P_REJECT || r.np > DMARC_P_REJECT ||
	    r.pct > 100 || r.nrua > DMARC_URIS_MAX || r.nruf > DMARC_URIS_MAX)
		abort();
	for (i = 0; i < r.nrua; i++)
		if (strchr(r.rua[i].uri, ':') == NULL || strlen(r.rua[i].uri) > DMARC_URI_MAX)
			abort();
	return 0;
}
