/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dkimsig - the DKIM tag-list parser and the DKIM-Signature value
 * parser (src/mailauth/dkim_tags.c) on arbitrary bytes.
 *
 * Checked: every tag points inside the input with a well-formed name and
 * no duplicate; an accepted signature has a known algorithm, a d= of
 * lower-case name characters, an i= within d=, From in h=, x > t, a bh= of
 * the digest's length, and a b= span inside the input that starts at a
 * tag boundary; a refusal always gives a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dkim_tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_tags(const char *s, size_t len, const struct dkim_taglist *tl)
{
	size_t i, k;

	if (tl->n > DKIM_TAGS_MAX)
		abort();
	for (i = 0; i < tl->n; i++) {
		const struct dkim_tag *t = &tl->tag[i];

		if (t->name < s || t->name + t->name_len > s + len || t->name_len == 0 ||
		    t->value < s || t->value + t->value_len > s + len || t->raw_off > len ||
		    s[t->raw_off - 1] != '=')
			abort();
		for (k = 0; k < i; k++)
			if (tl->tag[k].name_len == t->name_len &&
			    memcmp(tl->tag[k].name, t->name, t->name_len) == 0)
				abort();
		if (t->value_len > 0 && (t->value[0] == ' ' || t->value[t->value_len - 1] == ' '))
			abort();
	}
}

static void
check_sig(const char *s, size_t len, const struct dkim_sig *sig)
{
	size_t i;
	bool from = false;

	if (sig->alg > DKIM_ALG_RSA_SHA1 || sig->d[0] == '\0' || sig->s[0] == '\0')
		abort();
	for (i = 0; sig->d[i] != '\0'; i++)
		if (sig->d[i] >= 'A' && sig->d[i] <= 'Z')
			abort();
	if (strchr(sig->i, '@') == NULL)
		abort();
	for (i = 0; i < sig->nh; i++)
		from = from || strcasecmp(sig->h[i], "from") == 0;
	if (!from || sig->nh > DKIM_HNAMES_MAX)
		abort();
	if (sig->has_t && sig->has_x && sig->x <= sig->t)
		abort();
	if (sig->bh_len != (sig->alg == DKIM_ALG_RSA_SHA1 ? 20u : 32u) || sig->b_len == 0)
		abort();
	/* FWS may stand between the name and '=' ("b\t=") */
	if (sig->b_off > sig->b_end || sig->b_end > len || s[sig->b_off - 1] != '=')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	struct dkim_taglist tl;
	struct dkim_sig sig;
	const char *why = NULL;

	if (size > DKIM_SIGVALUE_MAX + 16)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	if (dkim_tags_parse(s, size, &tl, &why) == 0)
		check_tags(s, size, &tl);
	else if (why == NULL)
		abort();
	why = NULL;
	if (dkim_sig_parse(s, size, &sig, &why) == 0)
		check_sig(s, size, &sig);
	else if (why == NULL)
		abort();
	free(s);
	return 0;
}
