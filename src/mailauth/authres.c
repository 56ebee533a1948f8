/* SPDX-License-Identifier: ISC */
/*
 * authres - Authentication-Results and Received-SPF (see authres.h).
 */
#include "mailauth/authres.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* keyword - a method, result, ptype or property: letters, digits, '-',
 * '_' and '.' (RFC 8601 2.2 keyword, a little wider for ptype.property). */
static bool
is_keyword(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return false;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return i <= 64;
}

/* bare - a value that may go unquoted: a token that is a domain or an
 * address (RFC 8601 2.2 pvalue). */
static bool
is_bare(const char *s)
{
	size_t i;

	if (*s == '\0')
		return false;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.@+", s[i]))
			return false;
	return true;
}

/* is_ip_text - the characters of a printed IPv4 or IPv6 address. */
static bool
is_ip_text(const char *s)
{
	size_t i;

	if (*s == '\0')
		return false;
	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != '.' && s[i] != ':')
			return false;
	return true;
}

/* safe_char - what goes into a quoted string or a comment: printable
 * ASCII; anything else becomes '?'. */
static char
safe_char(char c)
{
	return (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f ? c : '?';
}

static void
quoted(struct buf *out, const char *s)
{
	buf_addc(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addc(out, '\\');
		buf_addc(out, safe_char(*s));
	}
	buf_addc(out, '"');
}

static void
comment(struct buf *out, const char *s)
{
	buf_adds(out, " (");
	for (; *s; s++) {
		if (*s == '(' || *s == ')' || *s == '\\')
			buf_addc(out, '\\');
		buf_addc(out, safe_char(*s));
	}
	buf_addc(out, ')');
}

static void
value(struct buf *out, const char *s)
{
	if (is_bare(s))
		buf_adds(out, s);
	else
		quoted(out, s);
}

int
authres_compose(const char *authserv_id, const struct authres_result *r, size_t n,
		struct buf *out)
{
	size_t i, j;

	if (!is_keyword(authserv_id))
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_keyword(r[i].method) || !is_keyword(r[i].result) ||
		    r[i].nprops > AUTHRES_PROPS_MAX)
			return -1;
		for (j = 0; j < r[i].nprops; j++)
			if (!is_keyword(r[i].props[j].ptype) || !is_keyword(r[i].props[j].property) ||
			    r[i].props[j].value == NULL)
				return -1;
	}
	buf_addf(out, "Authentication-Results: %s;", authserv_id);
	if (n == 0)
		buf_adds(out, " none");
	for (i = 0; i < n; i++) {
		buf_addf(out, "%s\r\n\t%s=%s", i ? ";" : "", r[i].method, r[i].result);
		if (r[i].reason != NULL)
			comment(out, r[i].reason);
		for (j = 0; j < r[i].nprops; j++) {
			buf_addf(out, " %s.%s=", r[i].props[j].ptype, r[i].props[j].property);
			value(out, r[i].props[j].value);
		}
	}
	buf_adds(out, "\r\n");
	return 0;
}

/* skip_cfws - whitespace, folding and comments; the position after them,
 * or NULL for an unterminated or too deeply nested comment. */
static const char *
skip_cfws(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (depth > 0 && *p == '\\' && p + 1 < end) {
			p += 2;
			continue;
		}
		if (*p == '(') {
			if (++depth > AUTHRES_COMMENT_DEPTH)
				return NULL;
		} else if (*p == ')' && depth > 0) {
			depth--;
		} else if (depth == 0 && !strchr(" \t\r\n", *p)) {
			return p;
		}
		p++;
	}
	return depth == 0 ? p : NULL;
}

int
authres_id(const char *v, size_t len, char id[AUTHRES_ID_MAX + 1])
{
	const char *p = skip_cfws(v, v + len), *end = v + len;
	size_t n = 0;

	if (p == NULL || p == end)
		return -1;
	if (*p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			/* no controls (NUL would cut the id short), no line ends */
			if (n == AUTHRES_ID_MAX || ((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f)
				return -1;
			id[n++] = *p;
		}
		if (p == end)
			return -1;
	} else {
		for (; p < end && !strchr(" \t\r\n(;\"", *p); p++) {
			if (n == AUTHRES_ID_MAX || (unsigned char)*p < 0x21 || *p == 0x7f)
				return -1;
			id[n++] = *p;
		}
	}
	id[n] = '\0';
	return n > 0 ? 0 : -1;
}

bool
authres_is_ours(const char *v, size_t len, const char *authserv_id)
{
	char id[AUTHRES_ID_MAX + 1];

	return authres_id(v, len, id) == 0 && strcasecmp(id, authserv_id) == 0;
}

static const char *
spf_comment(const char *result)
{
	if (strcmp(result, "pass") == 0)
		return "designates %s as permitted sender";
	if (strcmp(result, "fail") == 0)
		return "does not designate %s as permitted sender";
	if (strcmp(result, "softfail") == 0)
		return "does not designate %s as permitted sender (softfail)";
	if (strcmp(result, "neutral") == 0)
		return "neither permits nor denies %s";
	return NULL;
}

int
received_spf_compose(const struct received_spf *r, struct buf *out)
{
	const char *who = r->envelope_from[0] ? r->envelope_from : r->helo, *fmt;
	char text[600];

	if (!is_keyword(r->result) || !is_keyword(r->receiver) || !is_keyword(r->identity) ||
	    !is_ip_text(r->client_ip))
		return -1;
	fmt = spf_comment(r->result);
	if (fmt != NULL) {
		char what[300];

		snprintf(what, sizeof(what), fmt, r->client_ip);
		snprintf(text, sizeof(text), "%s: domain of %s %s", r->receiver, who, what);
	} else {
		snprintf(text, sizeof(text), "%s: %s for %s", r->receiver,
			 strcmp(r->result, "none") == 0 ? "no SPF record" : "SPF error", who);
	}
	buf_addf(out, "Received-SPF: %s", r->result);
	comment(out, text);
	/* 9.1: the value is a dot-atom or a quoted-string; IPv6 has colons */
	buf_addf(out, strchr(r->client_ip, ':') ? "\r\n\tclient-ip=\"%s\"; envelope-from="
						: "\r\n\tclient-ip=%s; envelope-from=",
		 r->client_ip);
	quoted(out, r->envelope_from);
	buf_adds(out, "; helo=");
	quoted(out, r->helo);
	buf_addf(out, ";\r\n\tidentity=%s; receiver=%s;", r->identity, r->receiver);
	if (r->problem != NULL) {
		buf_adds(out, " problem=");
		quoted(out, r->problem);
		buf_addc(out, ';');
	}
	buf_adds(out, "\r\n");
	return 0;
}
