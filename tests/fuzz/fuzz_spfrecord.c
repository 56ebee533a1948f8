/* SPDX-License-Identifier: ISC */
/*
 * fuzz_spfrecord - the SPF record parser (spf_record_parse) on any TXT
 * record a DNS server could hand us.
 *
 * Checked: a parsed record has at most SPF_MAX_TERMS terms, every span
 * lies inside the text and is a valid domain-spec, CIDR lengths are in
 * range, and parsing is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf_macro.h"
#include "mailauth/spf_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_span(const struct spf_record *r, struct spf_span sp, size_t n)
{
	if (sp.len == 0)
		return;
	if ((size_t)sp.off + sp.len > n || !spf_macro_domain_ok(r->text + sp.off, sp.len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spf_record r, r2;
	char err[128];
	size_t i;
	int rc;

	rc = spf_record_parse((const char *)data, size, &r, err, sizeof(err));
	if (rc != spf_record_parse((const char *)data, size, &r2, err, sizeof(err)))
		abort();
	if (rc != 0)
		return 0;
	if (!spf_record_is_spf1((const char *)data, size) || r.nterms > SPF_MAX_TERMS ||
	    r.nterms != r2.nterms)
		abort();
	for (i = 0; i < r.nterms; i++) {
		const struct spf_term *t = &r.term[i];

		if (t->cidr4 > 32 || t->cidr6 > 128 || t->qual > SPF_QUAL_NEUTRAL ||
		    t->mech > SPF_MECH_EXISTS)
			abort();
		check_span(&r, t->domain, size);
		if ((t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_EXISTS) &&
		    t->domain.len == 0)
			abort();
	}
	check_span(&r, r.redirect, size);
	check_span(&r, r.exp, size);
	return 0;
}
