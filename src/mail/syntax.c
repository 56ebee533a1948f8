/* SPDX-License-Identifier: ISC */
/*
 * syntax - pure parsers for SMTP command lines, paths and ESMTP parameters.
 *
 * SECURITY: network input before authentication. Every parser is bounded by
 * the RFC 5321 limits, treats the input as bytes (NUL included) and writes
 * only into the caller's fixed-size structures. Validators have a single
 * success return at the end (STYLE.md, CVE-2020-7247).
 * STANDARDS: RFC 5321 4.1.1, 4.1.2, 4.5.3.1; RFC 1870; RFC 6152; RFC 6531;
 * RFC 3461 (NOTIFY, ORCPT, RET, ENVID, xtext); RFC 3030 (BDAT).
 */
#include "mail/syntax.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{"HELO", VERB_HELO}, {"EHLO", VERB_EHLO}, {"MAIL", VERB_MAIL},
	{"RCPT", VERB_RCPT}, {"DATA", VERB_DATA}, {"BDAT", VERB_BDAT},
	{"RSET", VERB_RSET}, {"NOOP", VERB_NOOP}, {"QUIT", VERB_QUIT},
	{"HELP", VERB_HELP}, {"VRFY", VERB_VRFY}, {"EXPN", VERB_EXPN},
	{"STARTTLS", VERB_STARTTLS}, {"AUTH", VERB_AUTH},
};

void
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t vlen = 0, i;

	while (vlen < len && line[vlen] != ' ')
		vlen++;
	cmd->verb = VERB_UNKNOWN;
	for (i = 0; i < nitems(verbs); i++)
		if (strlen(verbs[i].name) == vlen && strncasecmp(verbs[i].name, line, vlen) == 0)
			cmd->verb = verbs[i].verb;
	/* Arguments: after the spaces that follow the verb, trailing spaces cut. */
	while (vlen < len && line[vlen] == ' ')
		vlen++;
	while (len > vlen && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	cmd->args = line + vlen;
	cmd->argslen = len - vlen;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < nitems(verbs); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "UNKNOWN";
}

static bool
is_atext(unsigned char c)
{
	/* c != 0: strchr() would find the terminating NUL */
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) || c >= 0x80;
}

static bool
valid_label(const char *s, size_t len, bool utf8)
{
	size_t i;

	if (len == 0 || len > 63)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 && utf8)
			continue;
		if (!isalnum(c) && c != '-')
			return false;
	}
	return s[0] != '-' && s[len - 1] != '-';
}

bool
valid_domain(const char *s, size_t len, bool utf8)
{
	size_t start = 0, i;
	bool ok = len > 0 && len <= SMTP_DOMAIN_MAX;

	if (ok && utf8 && !valid_utf8(s, len))
		ok = false;
	for (i = 0; ok && i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!valid_label(s + start, i - start, utf8))
				ok = false;
			start = i + 1;
		}
	}
	return ok;
}

bool
valid_address_literal(const char *s, size_t len)
{
	char tmp[64];
	unsigned char bin[16];
	size_t i;
	bool ok;

	if (len < 3 || len - 2 >= sizeof(tmp) || s[0] != '[' || s[len - 1] != ']')
		return false;
	if (memchr(s, '\0', len) != NULL)
		return false; /* inet_pton would stop there and accept a prefix */
	memcpy(tmp, s + 1, len - 2);
	tmp[len - 2] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, bin) == 1;
	if (inet_pton(AF_INET, tmp, bin) == 1)
		return true;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	ok = false;
	for (i = 0; i < len - 2; i++) {
		unsigned char c = (unsigned char)tmp[i];

		if (c == ':' && i > 0) {
			ok = tmp[i + 1] != '\0';
			/* '@' is dcontent too, but then the last '@' of the
			 * address would no longer start its domain */
			for (i++; ok && tmp[i] != '\0'; i++)
				if (tmp[i] < 33 || tmp[i] > 126 || tmp[i] == '[' ||
				    tmp[i] == '\\' || tmp[i] == ']' || tmp[i] == '@')
					ok = false;
			break;
		}
		if (!isalnum(c) && c != '-')
			break;
	}
	return ok;
}

struct cursor {
	const char *p, *end;
};

/* parse_local - dot-string or quoted-string; returns 0/-1, sets utf8. */
static int
parse_local(struct cursor *c, bool *utf8)
{
	const char *start = c->p;

	if (c->p < c->end && *c->p == '"') {
		c->p++;
		while (c->p < c->end && *c->p != '"') {
			unsigned char ch = (unsigned char)*c->p;

			if (ch == '\\') {
				c->p++;
				if (c->p >= c->end || (unsigned char)*c->p < 32 ||
				    (unsigned char)*c->p > 126)
					return -1;
			} else if (ch < 32 || ch == 127) {
				return -1;
			} else if (ch >= 0x80) {
				*utf8 = true;
			}
			c->p++;
		}
		if (c->p >= c->end)
			return -1;
		c->p++;
	} else {
		bool need_atext = true;

		while (c->p < c->end && *c->p != '@') {
			unsigned char ch = (unsigned char)*c->p;

			if (ch == '.') {
				if (need_atext)
					return -1;
				need_atext = true;
			} else if (is_atext(ch)) {
				if (ch >= 0x80)
					*utf8 = true;
				need_atext = false;
			} else {
				break;
			}
			c->p++;
		}
		if (need_atext)
			return -1;
	}
	if (c->p - start > SMTP_LOCAL_MAX)
		return -1;
	return 0;
}

/* skip_source_route - "@a,@b:" before the mailbox (RFC 5321 4.1.2, C.1):
 * accepted and ignored. */
static int
skip_source_route(struct cursor *c)
{
	if (c->p >= c->end || *c->p != '@')
		return 0;
	while (c->p < c->end && *c->p != ':') {
		const char *d;

		if (*c->p != '@')
			return -1;
		d = ++c->p;
		while (c->p < c->end && *c->p != ',' && *c->p != ':')
			c->p++;
		if (!valid_domain(d, (size_t)(c->p - d), false) &&
		    !valid_address_literal(d, (size_t)(c->p - d)))
			return -1;
		if (c->p < c->end && *c->p == ',')
			c->p++;
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	return 0;
}

int
smtp_parse_path(const char *s, size_t len, bool allow_null, struct smtp_path *path)
{
	struct cursor c = {s, s + len};
	const char *mbox, *dom;
	size_t dlen, i;

	memset(path, 0, sizeof(*path));
	if (len < 2 || s[0] != '<' || s[len - 1] != '>' || len > SMTP_PATH_MAX)
		return -1;
	c.p++;
	c.end--;
	if (c.p == c.end) {
		if (!allow_null)
			return -1;
		path->null = true;
		return 0;
	}
	if ((size_t)(c.end - c.p) == 10 && strncasecmp(c.p, "postmaster", 10) == 0) {
		path->postmaster = true;
		memcpy(path->addr, c.p, 10);
		return 0;
	}
	if (skip_source_route(&c) == -1)
		return -1;
	mbox = c.p;
	if (parse_local(&c, &path->utf8) == -1)
		return -1;
	if (c.p >= c.end || *c.p != '@')
		return -1;
	dom = ++c.p;
	dlen = (size_t)(c.end - dom);
	if (dlen > 0 && dom[0] == '[') {
		if (!valid_address_literal(dom, dlen))
			return -1;
	} else {
		for (i = 0; i < dlen; i++)
			if ((unsigned char)dom[i] >= 0x80)
				path->utf8 = true;
		if (!valid_domain(dom, dlen, path->utf8))
			return -1;
	}
	if (path->utf8 && !valid_utf8(mbox, (size_t)(c.end - mbox)))
		return -1;
	memcpy(path->addr, mbox, (size_t)(c.end - mbox));
	memcpy(path->domain, dom, dlen);
	for (i = 0; i < dlen; i++)
		if ((unsigned char)path->domain[i] < 0x80)
			path->domain[i] = (char)tolower((unsigned char)path->domain[i]);
	return 0;
}

bool
valid_xtext(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

int
xtext_encode(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 4 > outsz)
			return -1;
		if (c < 33 || c > 126 || c == '+' || c == '=') {
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
xtext_decode(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *s; s++) {
		char c = *s;

		if (c == '+') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi * 16 + lo);
			s += 2;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* A parameter "KEYWORD[=value]" split out of the argument string. */
struct param {
	const char *key, *val;
	size_t klen, vlen;
	bool has_val;
};

/* next_param - the next space-separated parameter; 1 found, 0 end, -1 bad. */
static int
next_param(struct cursor *c, struct param *p)
{
	const char *start;
	size_t i;

	while (c->p < c->end && *c->p == ' ')
		c->p++;
	if (c->p >= c->end)
		return 0;
	start = c->p;
	while (c->p < c->end && *c->p != ' ')
		c->p++;
	memset(p, 0, sizeof(*p));
	p->key = start;
	for (i = 0; start + i < c->p && start[i] != '='; i++)
		if (!isalnum((unsigned char)start[i]) && !(i > 0 && start[i] == '-'))
			return -1;
	p->klen = i;
	if (p->klen == 0)
		return -1;
	if (start + i < c->p) {
		p->has_val = true;
		p->val = start + i + 1;
		p->vlen = (size_t)(c->p - p->val);
		if (p->vlen == 0)
			return -1;
		for (i = 0; i < p->vlen; i++) {
			unsigned char ch = (unsigned char)p->val[i];

			if ((ch < 33 || ch == '=' || ch == 127) && ch < 0x80)
				return -1;
		}
	}
	return 1;
}

static bool
key_is(const struct param *p, const char *name)
{
	return p->klen == strlen(name) && strncasecmp(p->key, name, p->klen) == 0;
}

static bool
val_is(const struct param *p, const char *v)
{
	return p->vlen == strlen(v) && strncasecmp(p->val, v, p->vlen) == 0;
}

static int
reply(char out[SMTP_REPLY_MAX], const char *text)
{
	str_copy(out, text, SMTP_REPLY_MAX);
	return -1;
}

/* split_path - "FROM:" or "TO:" prefix, then the path up to its '>'. */
static int
split_path(const char *args, size_t len, const char *prefix, struct cursor *path,
	   struct cursor *rest)
{
	size_t plen = strlen(prefix), i;
	bool quoted = false;

	if (len < plen || strncasecmp(args, prefix, plen) != 0)
		return -1;
	i = plen;
	while (i < len && args[i] == ' ')
		i++;
	if (i >= len || args[i] != '<')
		return -1;
	path->p = args + i;
	for (; i < len; i++) {
		if (args[i] == '"')
			quoted = !quoted;
		else if (args[i] == '\\' && quoted)
			i++;
		else if (args[i] == '>' && !quoted)
			break;
	}
	if (i >= len)
		return -1;
	path->end = args + i + 1;
	rest->p = path->end;
	rest->end = args + len;
	if (rest->p < rest->end && *rest->p != ' ')
		return -1;
	return 0;
}

static int
mail_param(const struct param *p, struct mail_params *mp, unsigned *seen, char *out)
{
	if (key_is(p, "SIZE")) {
		if (*seen & 1)
			return reply(out, "501 5.5.4 Duplicate SIZE parameter");
		*seen |= 1;
		if (!p->has_val || parse_u64n(p->val, p->vlen, UINT64_MAX, &mp->size) == -1)
			return reply(out, "501 5.5.4 Bad SIZE parameter");
		mp->has_size = true;
	} else if (key_is(p, "BODY")) {
		if (*seen & 2)
			return reply(out, "501 5.5.4 Duplicate BODY parameter");
		*seen |= 2;
		if (p->has_val && val_is(p, "7BIT"))
			mp->body = BODY_7BIT;
		else if (p->has_val && val_is(p, "8BITMIME"))
			mp->body = BODY_8BITMIME;
		else
			return reply(out, "501 5.5.4 Bad BODY parameter (7BIT or 8BITMIME)");
	} else if (key_is(p, "SMTPUTF8")) {
		if (p->has_val || (*seen & 4))
			return reply(out, "501 5.5.4 Bad SMTPUTF8 parameter");
		*seen |= 4;
		mp->smtputf8 = true;
	} else if (key_is(p, "RET")) {
		if (*seen & 8)
			return reply(out, "501 5.5.4 Duplicate RET parameter");
		*seen |= 8;
		if (p->has_val && val_is(p, "FULL"))
			mp->ret = RET_FULL;
		else if (p->has_val && val_is(p, "HDRS"))
			mp->ret = RET_HDRS;
		else
			return reply(out, "501 5.5.4 Bad RET parameter (FULL or HDRS)");
	} else if (key_is(p, "ENVID")) {
		if (*seen & 16)
			return reply(out, "501 5.5.4 Duplicate ENVID parameter");
		*seen |= 16;
		if (!p->has_val || p->vlen > SMTP_ENVID_MAX || !valid_xtext(p->val, p->vlen))
			return reply(out, "501 5.5.4 Bad ENVID parameter");
		memcpy(mp->envid, p->val, p->vlen);
		mp->envid[p->vlen] = '\0';
	} else if (key_is(p, "AUTH")) {
		/* RFC 4954 5: the submitter's identity as another server saw it;
		 * accepted and not passed on (we authenticate ourselves). */
		if (*seen & 32)
			return reply(out, "501 5.5.4 Duplicate AUTH parameter");
		*seen |= 32;
		if (!p->has_val || p->vlen > SMTP_PATH_MAX ||
		    !(val_is(p, "<>") || valid_xtext(p->val, p->vlen)))
			return reply(out, "501 5.5.4 Bad AUTH parameter");
		mp->has_auth = true;
	} else {
		return reply(out, "555 5.5.4 Unsupported MAIL parameter");
	}
	return 0;
}

int
smtp_parse_mail(const char *args, size_t len, struct smtp_path *path, struct mail_params *mp,
		char out[SMTP_REPLY_MAX])
{
	struct cursor pc, rest;
	struct param p;
	unsigned seen = 0;
	int r;

	memset(mp, 0, sizeof(*mp));
	if (split_path(args, len, "FROM:", &pc, &rest) == -1)
		return reply(out, "501 5.5.4 Syntax: MAIL FROM:<address>");
	if (smtp_parse_path(pc.p, (size_t)(pc.end - pc.p), true, path) == -1 ||
	    path->postmaster)
		return reply(out, "501 5.1.7 Bad sender address syntax");
	while ((r = next_param(&rest, &p)) == 1)
		if (mail_param(&p, mp, &seen, out) == -1)
			return -1;
	if (r == -1)
		return reply(out, "501 5.5.4 Bad MAIL parameter syntax");
	return 0;
}

static int
parse_notify(const struct param *p, unsigned *notify)
{
	const char *s = p->val, *e = p->val + p->vlen;

	*notify = 0;
	while (s < e) {
		const char *comma = memchr(s, ',', (size_t)(e - s));
		size_t n = comma ? (size_t)(comma - s) : (size_t)(e - s);
		unsigned bit;

		if (n == 5 && strncasecmp(s, "NEVER", 5) == 0)
			bit = NOTIFY_NEVER;
		else if (n == 7 && strncasecmp(s, "SUCCESS", 7) == 0)
			bit = NOTIFY_SUCCESS;
		else if (n == 7 && strncasecmp(s, "FAILURE", 7) == 0)
			bit = NOTIFY_FAILURE;
		else if (n == 5 && strncasecmp(s, "DELAY", 5) == 0)
			bit = NOTIFY_DELAY;
		else
			return -1;
		if (*notify & bit)
			return -1;
		*notify |= bit;
		s += n + (comma ? 1 : 0);
		if (comma && s == e)
			return -1;
	}
	if ((*notify & NOTIFY_NEVER) && *notify != NOTIFY_NEVER)
		return -1;
	return *notify ? 0 : -1;
}

static int
valid_orcpt(const struct param *p)
{
	const char *semi = memchr(p->val, ';', p->vlen);
	size_t tlen, i;

	if (semi == NULL || p->vlen > SMTP_ORCPT_MAX)
		return -1;
	tlen = (size_t)(semi - p->val);
	if (tlen == 0 || semi + 1 == p->val + p->vlen)
		return -1;
	for (i = 0; i < tlen; i++)
		if (!isalnum((unsigned char)p->val[i]) && p->val[i] != '-')
			return -1;
	if (!valid_utf8(p->val, p->vlen))
		return -1;
	return 0;
}

int
smtp_parse_rcpt(const char *args, size_t len, struct smtp_path *path, struct rcpt_params *rp,
		char out[SMTP_REPLY_MAX])
{
	struct cursor pc, rest;
	struct param p;
	int r;
	bool seen_notify = false;

	memset(rp, 0, sizeof(*rp));
	if (split_path(args, len, "TO:", &pc, &rest) == -1)
		return reply(out, "501 5.5.4 Syntax: RCPT TO:<address>");
	if (smtp_parse_path(pc.p, (size_t)(pc.end - pc.p), false, path) == -1)
		return reply(out, "501 5.1.3 Bad recipient address syntax");
	while ((r = next_param(&rest, &p)) == 1) {
		if (key_is(&p, "NOTIFY")) {
			if (seen_notify || !p.has_val || parse_notify(&p, &rp->notify) == -1)
				return reply(out, "501 5.5.4 Bad NOTIFY parameter");
			seen_notify = true;
		} else if (key_is(&p, "ORCPT")) {
			if (rp->orcpt[0] != '\0' || !p.has_val || valid_orcpt(&p) == -1)
				return reply(out, "501 5.5.4 Bad ORCPT parameter");
			memcpy(rp->orcpt, p.val, p.vlen);
			rp->orcpt[p.vlen] = '\0';
		} else {
			return reply(out, "555 5.5.4 Unsupported RCPT parameter");
		}
	}
	if (r == -1)
		return reply(out, "501 5.5.4 Bad RCPT parameter syntax");
	return 0;
}

int
smtp_parse_bdat(const char *args, size_t len, uint64_t *size, bool *last,
		char out[SMTP_REPLY_MAX])
{
	size_t n = 0;

	while (n < len && args[n] != ' ')
		n++;
	if (parse_u64n(args, n, UINT64_MAX, size) == -1)
		return reply(out, "501 5.5.4 Syntax: BDAT size [LAST]");
	while (n < len && args[n] == ' ')
		n++;
	*last = false;
	if (n < len) {
		if (len - n != 4 || strncasecmp(args + n, "LAST", 4) != 0)
			return reply(out, "501 5.5.4 Syntax: BDAT size [LAST]");
		*last = true;
	}
	return 0;
}

int
smtp_parse_helo(const char *args, size_t len)
{
	size_t i;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)args[i];

		if ((c < 33 || c == 127) && c < 0x80)
			return -1;
	}
	if (!valid_utf8(args, len))
		return -1;
	return 0;
}

bool
smtp_is_http(const char *line, size_t len)
{
	static const char *const methods[] = {"GET ",	  "POST ",  "HEAD ",  "PUT ",   "DELETE ",
					      "OPTIONS ", "CONNECT ", "PATCH ", "TRACE "};
	size_t i, n;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		n = strlen(methods[i]);
		if (len > n && strncasecmp(line, methods[i], n) == 0)
			return true;
	}
	/* "Host: ...", "User-Agent: ...": a header-like first word */
	for (i = 0; i < len && (isalnum((unsigned char)line[i]) || line[i] == '-'); i++)
		;
	return i > 0 && i < len && line[i] == ':' && isalpha((unsigned char)line[0]);
}
