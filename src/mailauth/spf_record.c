/* SPDX-License-Identifier: ISC */
/*
 * spf_record - parser of one SPF record (see spf_record.h).
 *
 * SECURITY: pure; input untrusted; fixed-size output.
 * STANDARDS: RFC 7208 4.5, 4.6, 5, 6, 12.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#include "lib/util.h"
#include "mailauth/spf_macro.h"
#include "mailauth/spf_record.h"

/* A piece of the record being parsed. */
struct seg {
	const char *p;
	size_t n;
};

static const struct {
	const char *name;
	enum spf_mech mech;
} mechs[] = {
	{"all", SPF_MECH_ALL},	 {"include", SPF_MECH_INCLUDE}, {"a", SPF_MECH_A},
	{"mx", SPF_MECH_MX},	 {"ptr", SPF_MECH_PTR},		{"ip4", SPF_MECH_IP4},
	{"ip6", SPF_MECH_IP6},	 {"exists", SPF_MECH_EXISTS},
};

static bool
seg_is(struct seg s, const char *word)
{
	size_t i, n = strlen(word);

	if (s.n != n)
		return false;
	for (i = 0; i < n; i++) {
		char c = s.p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool
spf_record_is_spf1(const char *s, size_t n)
{
	struct seg v = {s, 6};

	return n >= 6 && seg_is(v, "v=spf1") && (n == 6 || s[6] == ' ');
}

/* parse_len - a CIDR length: "0" or digits without a leading zero, at most
 * max; -1 when invalid. */
static int
parse_len(struct seg s, int max)
{
	int v = 0;
	size_t i;

	if (s.n == 0 || s.n > 3 || (s.n > 1 && s.p[0] == '0'))
		return -1;
	for (i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (s.p[i] - '0');
	}
	return v <= max ? v : -1;
}

/* split_slash - when s ends in "/" DIGITS, cut it off into *len and
 * return 1; 0 when it does not; the digits are not judged here. */
static int
split_slash(struct seg *s, struct seg *len)
{
	size_t i = s->n;

	while (i > 0 && s->p[i - 1] >= '0' && s->p[i - 1] <= '9')
		i--;
	if (i == s->n || i == 0 || s->p[i - 1] != '/')
		return 0;
	len->p = s->p + i;
	len->n = s->n - i;
	s->n = i - 1;
	return 1;
}

/* dual_cidr - cut [ "/" ip4-len ] [ "//" ip6-len ] off the end of s. */
static int
dual_cidr(struct seg *s, struct spf_term *t)
{
	struct seg len;
	int v;

	if (split_slash(s, &len)) {
		if (s->n > 0 && s->p[s->n - 1] == '/') {
			if ((v = parse_len(len, 128)) < 0)
				return -1;
			t->cidr6 = (uint8_t)v;
			s->n--;
			if (!split_slash(s, &len))
				return 0;
		}
		if ((v = parse_len(len, 32)) < 0)
			return -1;
		t->cidr4 = (uint8_t)v;
	}
	return 0;
}

static int
set_span(const struct spf_record *r, struct seg s, struct spf_span *sp)
{
	sp->off = (uint16_t)(s.p - r->text);
	sp->len = (uint16_t)s.n;
	return spf_macro_domain_ok(s.p, s.n) ? 0 : -1;
}

/* parse_ip - ip4/ip6 argument ":" network [ "/" len ]. */
static int
parse_ip(struct seg arg, struct spf_term *t)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	struct seg len;
	bool v6 = t->mech == SPF_MECH_IP6;
	int v = v6 ? 128 : 32;

	if (arg.n < 2 || arg.p[0] != ':')
		return -1;
	arg.p++;
	arg.n--;
	if (split_slash(&arg, &len) && (v = parse_len(len, v6 ? 128 : 32)) < 0)
		return -1;
	if (arg.n == 0 || arg.n >= sizeof(tmp))
		return -1;
	memcpy(tmp, arg.p, arg.n);
	tmp[arg.n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, t->addr) != 1)
		return -1;
	if (v6)
		t->cidr6 = (uint8_t)v;
	else
		t->cidr4 = (uint8_t)v;
	return 0;
}

/* parse_args - what follows the mechanism name. */
static int
parse_args(const struct spf_record *r, struct seg arg, struct spf_term *t)
{
	switch (t->mech) {
	case SPF_MECH_ALL:
		return arg.n == 0 ? 0 : -1;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		return parse_ip(arg, t);
	case SPF_MECH_A:
	case SPF_MECH_MX:
		if (dual_cidr(&arg, t) == -1)
			return -1;
		/* FALLTHROUGH */
	case SPF_MECH_PTR:
		if (arg.n == 0)
			return 0;
		/* FALLTHROUGH */
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		if (arg.n < 2 || arg.p[0] != ':')
			return -1;
		arg.p++;
		arg.n--;
		return set_span(r, arg, &t->domain);
	}
	return -1;
}

static int
parse_directive(struct spf_record *r, struct seg s)
{
	struct spf_term *t;
	struct seg name;
	size_t i;

	if (r->nterms == SPF_MAX_TERMS)
		return -1;
	t = &r->term[r->nterms];
	memset(t, 0, sizeof(*t));
	t->cidr4 = 32;
	t->cidr6 = 128;
	t->qual = SPF_QUAL_PASS;
	if (s.n > 0 && strchr("+-~?", s.p[0]) != NULL) {
		t->qual = s.p[0] == '+' ? SPF_QUAL_PASS : s.p[0] == '-' ? SPF_QUAL_FAIL :
			  s.p[0] == '~' ? SPF_QUAL_SOFTFAIL : SPF_QUAL_NEUTRAL;
		s.p++;
		s.n--;
	}
	for (i = 0; i < s.n && (is_alpha(s.p[i]) || (i > 0 && s.p[i] >= '0' && s.p[i] <= '9'));
	     i++)
		;
	name.p = s.p;
	name.n = i;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (seg_is(name, mechs[i].name)) {
			struct seg arg = {s.p + name.n, s.n - name.n};

			t->mech = mechs[i].mech;
			if (parse_args(r, arg, t) == -1)
				return -1;
			r->nterms++;
			return 0;
		}
	}
	return -1; /* unknown mechanism: 5 */
}

static int
parse_modifier(struct spf_record *r, struct seg name, struct seg val)
{
	struct spf_span *sp = NULL;

	if (seg_is(name, "redirect"))
		sp = &r->redirect;
	else if (seg_is(name, "exp"))
		sp = &r->exp;
	else
		return spf_macro_check(val.p, val.n, 0);
	if (sp->len != 0 || val.n == 0)
		return -1; /* 6: at most once each; a domain-spec is required */
	return set_span(r, val, sp);
}

static int
parse_term(struct spf_record *r, struct seg s)
{
	size_t i = 0;

	if (s.n > 0 && is_alpha(s.p[0])) {
		for (i = 1; i < s.n && (is_alpha(s.p[i]) || (s.p[i] >= '0' && s.p[i] <= '9') ||
					strchr("-_.", s.p[i]) != NULL);
		     i++)
			;
		if (i < s.n && s.p[i] == '=') {
			struct seg name = {s.p, i}, val = {s.p + i + 1, s.n - i - 1};

			return parse_modifier(r, name, val);
		}
	}
	return parse_directive(r, s);
}

int
spf_record_parse(const char *s, size_t n, struct spf_record *r, char *err, size_t errsz)
{
	size_t i, start;

	memset(r, 0, offsetof(struct spf_record, term));
	r->nterms = 0;
	r->redirect.len = r->exp.len = 0;
	if (n > SPF_RECORD_MAX) {
		str_fmt(err, errsz, "record longer than %d bytes", SPF_RECORD_MAX);
		return -1;
	}
	if (!spf_record_is_spf1(s, n)) {
		str_fmt(err, errsz, "not an spf1 record");
		return -1;
	}
	memcpy(r->text, s, n);
	r->text[n] = '\0';
	for (i = 6; i < n;) {
		struct seg t;

		while (i < n && r->text[i] == ' ')
			i++;
		for (start = i; i < n && r->text[i] != ' '; i++)
			;
		if (i == start)
			break;
		t.p = r->text + start;
		t.n = i - start;
		if (parse_term(r, t) == -1) {
			str_fmt(err, errsz, "bad term at offset %zu", start);
			return -1;
		}
	}
	return 0;
}

void
spf_span_str(const struct spf_record *r, struct spf_span sp, char *out)
{
	memcpy(out, r->text + sp.off, sp.len);
	out[sp.len] = '\0';
}
