/* SPDX-License-Identifier: ISC */
/*
 * dkim_tags - DKIM tag lists, DKIM-Signature values and key records.
 * See dkim_tags.h for the contract, SECURITY and STANDARDS.
 */
#include <string.h>

#include "lib/util.h"
#include "mailauth/dkim_tags.h"

typedef int tag_fn(const struct dkim_tag *, const char *, void *, const char **);

struct tag_rule {
	const char *name;
	tag_fn *fn;
	bool required;
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* is_valchar - VALCHAR of RFC 6376 3.2, plus 8-bit bytes (RFC 8616). */
static bool
is_valchar(char c)
{
	unsigned char u = (unsigned char)c;

	return (u >= 0x21 && u <= 0x7e && u != ';') || u >= 0x80;
}

/* skip_fws - step over WSP and CRLF+WSP; a CRLF without WSP is an error. */
static int
skip_fws(const char *s, size_t len, size_t *i)
{
	for (;;) {
		if (*i < len && is_wsp(s[*i]))
			(*i)++;
		else if (*i + 1 < len && s[*i] == '\r' && s[*i + 1] == '\n') {
			if (*i + 2 >= len || !is_wsp(s[*i + 2]))
				return -1;
			*i += 3;
		} else
			return 0;
	}
}

static bool
name_eq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

/* parse_value - tag-value up to ';' or the end; FWS only between tvals. */
static int
parse_value(const char *s, size_t len, size_t *i, struct dkim_tag *t, const char **why)
{
	size_t vend;

	if (skip_fws(s, len, i) != 0)
		goto bad_fws;
	t->value = s + *i;
	vend = *i;
	while (*i < len && s[*i] != ';') {
		if (is_valchar(s[*i]))
			vend = ++(*i);
		else if (is_wsp(s[*i]) || s[*i] == '\r') {
			size_t before = *i;

			if (skip_fws(s, len, i) != 0 || *i == before)
				goto bad_fws;
		} else {
			*why = "bad character in tag value";
			return -1;
		}
	}
	t->value_len = vend - (size_t)(t->value - s);
	return 0;
bad_fws:
	*why = "line break not followed by white space";
	return -1;
}

/* parse_spec - one tag-spec starting at *i (after leading FWS). */
static int
parse_spec(const char *s, size_t len, size_t *i, struct dkim_tag *t, const char **why)
{
	if (!is_alpha(s[*i])) {
		*why = "bad tag name";
		return -1;
	}
	t->name = s + *i;
	while (*i < len && (is_alpha(s[*i]) || is_digit(s[*i]) || s[*i] == '_'))
		(*i)++;
	t->name_len = (size_t)(s + *i - t->name);
	if (skip_fws(s, len, i) != 0 || *i >= len || s[*i] != '=') {
		*why = "tag without '='";
		return -1;
	}
	t->raw_off = ++(*i);
	return parse_value(s, len, i, t, why);
}

int
dkim_tags_parse(const char *s, size_t len, struct dkim_taglist *out, const char **why)
{
	size_t i = 0, k;

	out->n = 0;
	for (;;) {
		struct dkim_tag t;

		if (skip_fws(s, len, &i) != 0) {
			*why = "line break not followed by white space";
			return -1;
		}
		if (i == len)
			break;
		if (parse_spec(s, len, &i, &t, why) != 0)
			return -1;
		for (k = 0; k < out->n; k++)
			if (out->tag[k].name_len == t.name_len &&
			    memcmp(out->tag[k].name, t.name, t.name_len) == 0) {
				*why = "duplicate tag";
				return -1;
			}
		if (out->n == DKIM_TAGS_MAX) {
			*why = "too many tags";
			return -1;
		}
		out->tag[out->n++] = t;
		if (i == len)
			break;
		i++; /* ';' */
	}
	return 0;
}

const struct dkim_tag *
dkim_tags_find(const struct dkim_taglist *tl, const char *name)
{
	size_t k;

	for (k = 0; k < tl->n; k++)
		if (name_eq(tl->tag[k].name, tl->tag[k].name_len, name))
			return &tl->tag[k];
	return NULL;
}

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
dkim_b64_decode(const char *s, size_t len, unsigned char *out, size_t outsz, size_t *outlen)
{
	size_t i, o = 0, nchars = 0, pad = 0;
	unsigned acc = 0, bits = 0;

	for (i = 0; i < len; i++) {
		int v;

		if (is_wsp(s[i]) || s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64_val(s[i])) < 0)
			return -1;
		nchars++;
		acc = ((acc << 6) | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outsz)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (nchars % 4 == 1 || pad > 2 || (pad > 0 && nchars % 4 == 0) || (nchars + pad) % 4 != 0 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	*outlen = o;
	return 0;
}

/* copy_lower - the value, lower-cased, into dst of dstsz bytes. */
static int
copy_lower(const struct dkim_tag *t, char *dst, size_t dstsz)
{
	size_t k;

	if (t->value_len >= dstsz)
		return -1;
	for (k = 0; k < t->value_len; k++)
		dst[k] = lower(t->value[k]);
	dst[t->value_len] = '\0';
	return 0;
}

/* valid_dname - dot-separated labels of letters, digits, '-', '_'. */
static bool
valid_dname(const char *s)
{
	size_t label = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (is_alpha(*s) || is_digit(*s) || *s == '-' || *s == '_') {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return label > 0;
}

/* list_next - the next ':'-separated element of a tag value, FWS trimmed. */
static bool
list_next(const struct dkim_tag *t, size_t *pos, const char **el, size_t *el_len)
{
	const char *v = t->value;
	size_t i = *pos, end;

	if (i > t->value_len)
		return false;
	while (i < t->value_len && (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n'))
		i++;
	*el = v + i;
	while (i < t->value_len && v[i] != ':')
		i++;
	end = i;
	while (end > (size_t)(*el - v) && (is_wsp(v[end - 1]) || v[end - 1] == '\n' ||
					    v[end - 1] == '\r'))
		end--;
	*el_len = end - (size_t)(*el - v);
	*pos = i + 1;
	return true;
}

static bool
list_has(const struct dkim_tag *t, const char *word)
{
	size_t pos = 0, n;
	const char *el;

	while (list_next(t, &pos, &el, &n))
		if (n == strlen(word) && strncasecmp(el, word, n) == 0)
			return true;
	return false;
}

static bool
value_is(const struct dkim_tag *t, const char *word)
{
	return t->value_len == strlen(word) && strncasecmp(t->value, word, t->value_len) == 0;
}

/* ---- DKIM-Signature tags ---- */

static int
sig_v(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	(void)s;
	(void)arg;
	if (!name_eq(t->value, t->value_len, "1")) {
		*why = "unsupported signature version";
		return -1;
	}
	return 0;
}

static int
sig_a(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (value_is(t, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (value_is(t, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (value_is(t, "rsa-sha1"))
		sig->alg = DKIM_ALG_RSA_SHA1;
	else {
		*why = "unknown signature algorithm";
		return -1;
	}
	return 0;
}

static int
canon_word(const char *w, size_t n, enum dkim_canon *c)
{
	if (n == 6 && strncasecmp(w, "simple", 6) == 0)
		*c = DKIM_CANON_SIMPLE;
	else if (n == 7 && strncasecmp(w, "relaxed", 7) == 0)
		*c = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

static int
sig_c(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;
	const char *slash = memchr(t->value, '/', t->value_len);
	size_t hn = slash != NULL ? (size_t)(slash - t->value) : t->value_len;

	(void)s;
	sig->bcanon = DKIM_CANON_SIMPLE;
	if (canon_word(t->value, hn, &sig->hcanon) != 0 ||
	    (slash != NULL &&
	     canon_word(slash + 1, t->value_len - hn - 1, &sig->bcanon) != 0)) {
		*why = "unknown canonicalization";
		return -1;
	}
	return 0;
}

static int
sig_d(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (copy_lower(t, sig->d, sizeof(sig->d)) != 0 || !valid_dname(sig->d)) {
		*why = "bad d= domain";
		return -1;
	}
	return 0;
}

static int
sig_s(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (copy_lower(t, sig->s, sizeof(sig->s)) != 0 || !valid_dname(sig->s)) {
		*why = "bad s= selector";
		return -1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* qp_decode - dkim-quoted-printable (RFC 6376 2.11) into out; FWS is
 * dropped, "=XX" becomes the byte, NUL and other controls are refused. */
static int
qp_decode(const char *v, size_t len, char *out, size_t outsz)
{
	size_t k, o = 0;

	for (k = 0; k < len; k++) {
		char c = v[k];

		if (is_wsp(c) || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			if (k + 2 >= len || hexval(v[k + 1]) < 0 || hexval(v[k + 2]) < 0)
				return -1;
			c = (char)(hexval(v[k + 1]) * 16 + hexval(v[k + 2]));
			k += 2;
		}
		if ((unsigned char)c < 0x21 || c == 0x7f || o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int
sig_i(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (qp_decode(t->value, t->value_len, sig->i, sizeof(sig->i)) != 0 ||
	    strchr(sig->i, '@') == NULL)
		goto bad;
	return 0;
bad:
	*why = "bad i= identity";
	return -1;
}

static bool
valid_hname(const char *n, size_t len)
{
	size_t k;

	if (len == 0 || len > DKIM_HNAME_MAX)
		return false;
	for (k = 0; k < len; k++)
		if ((unsigned char)n[k] < 0x21 || (unsigned char)n[k] > 0x7e || n[k] == ':')
			return false;
	return true;
}

static int
sig_h(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;
	size_t pos = 0, n;
	const char *el;

	(void)s;
	sig->nh = 0;
	while (list_next(t, &pos, &el, &n)) {
		if (!valid_hname(el, n) || sig->nh == DKIM_HNAMES_MAX) {
			*why = sig->nh == DKIM_HNAMES_MAX ? "too many names in h=" : "bad h= list";
			return -1;
		}
		memcpy(sig->h[sig->nh], el, n);
		sig->h[sig->nh++][n] = '\0';
	}
	return 0;
}

static int
sig_b(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	if (dkim_b64_decode(t->value, t->value_len, sig->b, sizeof(sig->b), &sig->b_len) != 0 ||
	    sig->b_len == 0) {
		*why = "bad b= signature";
		return -1;
	}
	sig->b_off = t->raw_off;
	sig->b_end = (size_t)(t->value - s) + t->value_len;
	return 0;
}

static int
sig_bh(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (dkim_b64_decode(t->value, t->value_len, sig->bh, sizeof(sig->bh), &sig->bh_len) !=
	    0) {
		*why = "bad bh= body hash";
		return -1;
	}
	return 0;
}

static int
sig_q(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	(void)s;
	(void)arg;
	if (!list_has(t, "dns/txt")) {
		*why = "no supported query method in q=";
		return -1;
	}
	return 0;
}

static int
parse_num(const struct dkim_tag *t, size_t maxdigits, uint64_t *out)
{
	if (t->value_len > maxdigits)
		return -1;
	return parse_u64n(t->value, t->value_len, UINT64_MAX, out);
}

static int
sig_l(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (parse_num(t, 20, &sig->l) != 0) {
		*why = "bad l= body length";
		return -1;
	}
	sig->has_l = true;
	return 0;
}

static int
sig_t(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (parse_num(t, DKIM_TIME_DIGITS, &sig->t) != 0) {
		*why = "bad t= timestamp";
		return -1;
	}
	sig->has_t = true;
	return 0;
}

static int
sig_x(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_sig *sig = arg;

	(void)s;
	if (parse_num(t, DKIM_TIME_DIGITS, &sig->x) != 0) {
		*why = "bad x= expiry";
		return -1;
	}
	sig->has_x = true;
	return 0;
}

static const struct tag_rule sig_rules[] = {
	{"v", sig_v, true},	{"a", sig_a, true},   {"b", sig_b, true},  {"bh", sig_bh, true},
	{"d", sig_d, true},	{"h", sig_h, true},   {"s", sig_s, true},  {"c", sig_c, false},
	{"i", sig_i, false},	{"l", sig_l, false},  {"q", sig_q, false}, {"t", sig_t, false},
	{"x", sig_x, false},
};

/* apply_rules - run each rule on its tag; a missing required tag is an error. */
static int
apply_rules(const struct dkim_taglist *tl, const struct tag_rule *rules, size_t nrules,
	    const char *s, void *arg, const char **why)
{
	size_t r;

	for (r = 0; r < nrules; r++) {
		const struct dkim_tag *t = dkim_tags_find(tl, rules[r].name);

		if (t == NULL && rules[r].required) {
			*why = "required tag missing";
			return -1;
		}
		if (t != NULL && rules[r].fn(t, s, arg, why) != 0)
			return -1;
	}
	return 0;
}

/* identity_in_domain - is the domain of i the domain d or below it? */
static bool
identity_in_domain(const char *i, const char *d)
{
	const char *at = strrchr(i, '@');
	size_t il, dl = strlen(d);

	if (at == NULL)
		return false;
	at++;
	il = strlen(at);
	if (il == dl)
		return strncasecmp(at, d, dl) == 0;
	return il > dl && at[il - dl - 1] == '.' && strncasecmp(at + il - dl, d, dl) == 0;
}

static bool
h_has_from(const struct dkim_sig *sig)
{
	size_t k;

	for (k = 0; k < sig->nh; k++)
		if (strcase_eq(sig->h[k], "from"))
			return true;
	return false;
}

/* sig_check - the rules that involve more than one tag. */
static int
sig_check(struct dkim_sig *sig, const char **why)
{
	if (sig->i[0] == '\0' && str_fmt(sig->i, sizeof(sig->i), "@%s", sig->d) != 0)
		*why = "d= too long";
	else if (!identity_in_domain(sig->i, sig->d))
		*why = "i= not within d=";
	else if (!h_has_from(sig))
		*why = "h= does not include From";
	else if (sig->has_t && sig->has_x && sig->x <= sig->t)
		*why = "x= not after t=";
	else if (sig->bh_len != (sig->alg == DKIM_ALG_RSA_SHA1 ? 20u : 32u))
		*why = "bh= has the wrong length";
	else if (sig->alg == DKIM_ALG_ED25519_SHA256 && sig->b_len != 64)
		*why = "ed25519 signature has the wrong length";
	else
		return 0;
	return -1;
}

int
dkim_sig_parse(const char *s, size_t len, struct dkim_sig *out, const char **why)
{
	struct dkim_taglist tl;

	memset(out, 0, sizeof(*out));
	out->hcanon = out->bcanon = DKIM_CANON_SIMPLE;
	if (len > DKIM_SIGVALUE_MAX) {
		*why = "signature too long";
		return -1;
	}
	if (dkim_tags_parse(s, len, &tl, why) != 0 ||
	    apply_rules(&tl, sig_rules, nitems(sig_rules), s, out, why) != 0 ||
	    sig_check(out, why) != 0)
		return -1;
	return 0;
}

/* ---- key records ---- */

static int
key_h(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_key *key = arg;

	(void)s;
	(void)why;
	key->sha256_ok = list_has(t, "sha256");
	return 0;
}

static int
key_k(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_key *key = arg;

	(void)s;
	if (value_is(t, "rsa"))
		key->k = DKIM_KEY_RSA;
	else if (value_is(t, "ed25519"))
		key->k = DKIM_KEY_ED25519;
	else {
		*why = "unknown key type";
		return -1;
	}
	return 0;
}

static int
key_p(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_key *key = arg;

	(void)s;
	if (dkim_b64_decode(t->value, t->value_len, key->p, sizeof(key->p), &key->p_len) != 0) {
		*why = "bad p= public key";
		return -1;
	}
	key->revoked = key->p_len == 0;
	return 0;
}

static int
key_s(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_key *key = arg;

	(void)s;
	(void)why;
	key->email_ok = list_has(t, "*") || list_has(t, "email");
	return 0;
}

static int
key_t(const struct dkim_tag *t, const char *s, void *arg, const char **why)
{
	struct dkim_key *key = arg;

	(void)s;
	(void)why;
	key->testing = list_has(t, "y");
	key->strict = list_has(t, "s");
	return 0;
}

static const struct tag_rule key_rules[] = {
	{"h", key_h, false}, {"k", key_k, false}, {"p", key_p, true},
	{"s", key_s, false}, {"t", key_t, false},
};

int
dkim_key_parse(const char *s, size_t len, struct dkim_key *out, const char **why)
{
	struct dkim_taglist tl;
	const struct dkim_tag *v;

	memset(out, 0, sizeof(*out));
	out->k = DKIM_KEY_RSA;
	out->sha256_ok = out->email_ok = true;
	if (len > DKIM_KEYREC_MAX) {
		*why = "key record too long";
		return -1;
	}
	if (dkim_tags_parse(s, len, &tl, why) != 0)
		return -1;
	v = dkim_tags_find(&tl, "v");
	if (v != NULL && (v != &tl.tag[0] || !name_eq(v->value, v->value_len, "DKIM1"))) {
		*why = "bad key record version";
		return -1;
	}
	if (apply_rules(&tl, key_rules, nitems(key_rules), s, out, why) != 0)
		return -1;
	if (out->k == DKIM_KEY_ED25519 && !out->revoked && out->p_len != 32) {
		*why = "ed25519 key has the wrong length";
		return -1;
	}
	return 0;
}

int
dkim_txt_join(const unsigned char *rdata, size_t len, char *out, size_t outsz, size_t *outlen)
{
	size_t i = 0, o = 0;

	if (outsz == 0 || len == 0)
		return -1;
	while (i < len) {
		size_t n = rdata[i++];

		if (n > len - i || n >= outsz - o)
			return -1;
		memcpy(out + o, rdata + i, n);
		o += n;
		i += n;
	}
	if (memchr(out, '\0', o) != NULL)
		return -1;
	out[o] = '\0';
	*outlen = o;
	return 0;
}

const char *
dkim_alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	case DKIM_ALG_RSA_SHA1:
		return "rsa-sha1";
	}
	return "?";
}

const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}
