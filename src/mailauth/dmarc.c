/* SPDX-License-Identifier: ISC */
/*
 * dmarc - policy record, organizational domain, alignment (see dmarc.h).
 */
#include "mailauth/dmarc.h"

#include <ctype.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

struct dmarc_psl {
	psl_ctx_t *ctx;
};

/* One tag of a record: name and value, whitespace trimmed. */
struct tag {
	const char *name, *value;
	size_t nlen, vlen;
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* next_tag - the tag at *p (up to ';' or the end); 0, 1 at the end, -1
 * when it has no '=' or a name that is not letters, digits and '_'. */
static int
next_tag(const char **p, const char *end, struct tag *t)
{
	const char *s = *p, *semi, *eq, *ne, *vs, *ve;

	while (s < end && (is_wsp(*s) || *s == ';'))
		s++;
	if (s == end)
		return 1;
	semi = memchr(s, ';', (size_t)(end - s));
	if (semi == NULL)
		semi = end;
	*p = semi;
	eq = memchr(s, '=', (size_t)(semi - s));
	if (eq == NULL)
		return -1;
	for (ne = eq; ne > s && is_wsp(ne[-1]); ne--)
		;
	if (ne == s)
		return -1;
	for (const char *c = s; c < ne; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return -1;
	for (vs = eq + 1; vs < semi && is_wsp(*vs); vs++)
		;
	for (ve = semi; ve > vs && is_wsp(ve[-1]); ve--)
		;
	t->name = s;
	t->nlen = (size_t)(ne - s);
	t->value = vs;
	t->vlen = (size_t)(ve - vs);
	return 0;
}

static bool
is(const struct tag *t, const char *name)
{
	return t->nlen == strlen(name) && strncasecmp(t->name, name, t->nlen) == 0;
}

static bool
value_is(const struct tag *t, const char *v)
{
	return t->vlen == strlen(v) && strncasecmp(t->value, v, t->vlen) == 0;
}

/* policy - none, quarantine or reject; -1 otherwise. */
static int
policy(const struct tag *t, enum dmarc_policy *p)
{
	if (value_is(t, "none"))
		*p = DMARC_P_NONE;
	else if (value_is(t, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (value_is(t, "reject"))
		*p = DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

/* number - decimal digits only, at most max; -1 otherwise. */
static int
number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* one_uri - "scheme:rest[!size[kmgt]]" into u; -1 when not a URI. */
static int
one_uri(const char *s, size_t len, struct dmarc_uri *u)
{
	const char *bang = memchr(s, '!', len), *colon;
	size_t ulen = bang ? (size_t)(bang - s) : len, i;
	uint64_t size = 0, mult = 1;

	while (ulen > 0 && is_wsp(s[ulen - 1]))
		ulen--;
	while (ulen > 0 && is_wsp(*s)) {
		s++;
		ulen--;
		len--;
	}
	colon = memchr(s, ':', ulen);
	if (colon == NULL || colon == s || ulen >= sizeof(u->uri) || colon + 1 == s + ulen)
		return -1;
	for (i = 0; s + i < colon; i++)
		if (!isalpha((unsigned char)s[i]) &&
		    (i == 0 || (!isdigit((unsigned char)s[i]) && !strchr("+-.", s[i]))))
			return -1;
	for (i = 0; i < ulen; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return -1;
	if (bang != NULL) {
		const char *n = bang + 1, *e = s + len;
		size_t nlen = (size_t)(e - n);

		if (nlen > 0 && strchr("kmgtKMGT", e[-1]) != NULL) {
			mult = (uint64_t)1 << (10 * (1 + (strchr("kmgt", tolower((unsigned char)e[-1])) -
							"kmgt")));
			nlen--;
		}
		if (number(n, nlen, UINT64_MAX / mult, &size) == -1)
			return -1;
	}
	memcpy(u->uri, s, ulen);
	u->uri[ulen] = '\0';
	u->max_size = size * mult;
	return 0;
}

/* uris - a comma-separated list; invalid entries are skipped (the rest
 * still serve), at most DMARC_URIS_MAX kept. */
static void
uris(const struct tag *t, struct dmarc_uri *out, size_t *n)
{
	const char *p = t->value, *end = t->value + t->vlen;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;

		if (*n < DMARC_URIS_MAX && one_uri(p, (size_t)(e - p), &out[*n]) == 0)
			(*n)++;
		p = comma ? comma + 1 : end;
	}
}

/* valid_fo - "0", "1", "d", "s" separated by ':'. */
static bool
valid_fo(const struct tag *t)
{
	size_t i;

	if (t->vlen == 0 || t->vlen >= sizeof(((struct dmarc_record *)0)->fo))
		return false;
	for (i = 0; i < t->vlen; i++) {
		char c = (char)tolower((unsigned char)t->value[i]);

		if (i % 2 == 0 ? strchr("01ds", c) == NULL || c == '\0' : c != ':')
			return false;
	}
	return t->vlen % 2 == 1;
}

/* apply - one known tag into r (the caller passes the first of each name). */
static void
apply(struct dmarc_record *r, const struct tag *t, bool *have_p, bool *have_sp, bool *have_np)
{
	uint64_t v;

	if (is(t, "p"))
		*have_p = policy(t, &r->p) == 0;
	else if (is(t, "sp"))
		*have_sp = policy(t, &r->sp) == 0;
	else if (is(t, "np"))
		*have_np = policy(t, &r->np) == 0;
	else if (is(t, "adkim") && (value_is(t, "r") || value_is(t, "s")))
		r->adkim_strict = value_is(t, "s");
	else if (is(t, "aspf") && (value_is(t, "r") || value_is(t, "s")))
		r->aspf_strict = value_is(t, "s");
	else if (is(t, "pct") && number(t->value, t->vlen, 100, &v) == 0)
		r->pct = (unsigned)v;
	else if (is(t, "ri") && number(t->value, t->vlen, UINT32_MAX, &v) == 0)
		r->ri = (uint32_t)v;
	else if (is(t, "rua"))
		uris(t, r->rua, &r->nrua);
	else if (is(t, "ruf"))
		uris(t, r->ruf, &r->nruf);
	else if (is(t, "fo") && valid_fo(t))
		snprintf(r->fo, sizeof(r->fo), "%.*s", (int)t->vlen, t->value);
	/* anything else (rf=, unknown tags, bad values) is ignored (6.3) */
}

int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r, char *err, size_t errsz)
{
	const char *p = txt, *end = txt + len;
	bool have_p = false, have_sp = false, have_np = false;
	char seen[16][8];
	size_t nseen = 0, i;
	struct tag t;
	int rc;

	memset(r, 0, sizeof(*r));
	r->pct = 100;
	r->ri = 86400;
	str_copy(r->fo, "0", sizeof(r->fo));
	if (len > DMARC_RECORD_MAX) {
		snprintf(err, errsz, "longer than %d bytes", DMARC_RECORD_MAX);
		return -1;
	}
	if (next_tag(&p, end, &t) != 0 || !is(&t, "v") || !value_is(&t, "DMARC1")) {
		snprintf(err, errsz, "does not start with v=DMARC1");
		return -1;
	}
	while ((rc = next_tag(&p, end, &t)) == 0) {
		bool dup = false;

		for (i = 0; i < nseen; i++)
			dup |= t.nlen == strlen(seen[i]) && strncasecmp(seen[i], t.name, t.nlen) == 0;
		if (dup || is(&t, "v"))
			continue; /* the first of a tag counts */
		if (nseen < 16 && t.nlen < sizeof(seen[0]))
			snprintf(seen[nseen++], sizeof(seen[0]), "%.*s", (int)t.nlen, t.name);
		apply(r, &t, &have_p, &have_sp, &have_np);
	}
	if (rc == -1) {
		snprintf(err, errsz, "a tag without '=' or with a bad name");
		return -1;
	}
	if (!have_p) {
		/* 6.6.3: without a valid p=, a valid rua= still asks for p=none */
		if (r->nrua == 0) {
			snprintf(err, errsz, "no valid p= policy");
			return -1;
		}
		r->p = DMARC_P_NONE;
		r->p_from_rua = true;
	}
	if (!have_sp)
		r->sp = r->p;
	if (!have_np)
		r->np = r->sp;
	return 0;
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	return p == DMARC_P_REJECT ? "reject" : p == DMARC_P_QUARANTINE ? "quarantine" : "none";
}

struct dmarc_psl *
dmarc_psl_load(const char *path, char *err, size_t errsz)
{
	struct dmarc_psl *psl = xcalloc(1, sizeof(*psl));

	psl->ctx = psl_load_file(path);
	if (psl->ctx == NULL) {
		snprintf(err, errsz, "%s: cannot load the Public Suffix List", path);
		free(psl);
		return NULL;
	}
	return psl;
}

void
dmarc_psl_free(struct dmarc_psl *psl)
{
	if (psl == NULL)
		return;
	psl_free(psl->ctx);
	free(psl);
}

/* lower_domain - domain in lower case without a final dot; -1 if it is
 * empty, too long, starts with a dot or has an empty label. */
static int
lower_domain(const char *domain, char *out, size_t outsz)
{
	size_t len = strlen(domain), i;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > DMARC_DOMAIN_MAX || len >= outsz || domain[0] == '.')
		return -1;
	for (i = 0; i < len; i++) {
		if (domain[i] == '.' && domain[i + 1] == '.')
			return -1;
		out[i] = (char)tolower((unsigned char)domain[i]);
	}
	out[len] = '\0';
	return 0;
}

int
dmarc_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t outsz)
{
	char d[DMARC_DOMAIN_MAX + 1];
	const char *reg;

	if (lower_domain(domain, d, sizeof(d)) == -1)
		return -1;
	reg = psl_registrable_domain(psl->ctx, d);
	if (reg == NULL || str_copy(out, reg, outsz) == -1)
		return -1;
	return 0;
}

bool
dmarc_aligned(const struct dmarc_psl *psl, const char *a, const char *b, bool strict)
{
	char oa[DMARC_DOMAIN_MAX + 1], ob[DMARC_DOMAIN_MAX + 1];

	if (lower_domain(a, oa, sizeof(oa)) == -1 || lower_domain(b, ob, sizeof(ob)) == -1)
		return false;
	if (strict || strcmp(oa, ob) == 0)
		return strcmp(oa, ob) == 0;
	if (dmarc_org_domain(psl, oa, oa, sizeof(oa)) == -1 ||
	    dmarc_org_domain(psl, ob, ob, sizeof(ob)) == -1)
		return false;
	return strcmp(oa, ob) == 0;
}
