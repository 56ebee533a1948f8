/* SPDX-License-Identifier: ISC */
/*
 * conf - schema, defaults and validation of the postern config.
 *
 * Each directive is a row of a table: its name, argument count, whether it
 * takes a block, and the function that stores it. Unknown directives,
 * wrong argument counts and bad values are errors naming file and line.
 *
 * SECURITY: the parsed values bound every limit the daemon enforces; the
 * validator refuses combinations that would make an open relay.
 * STANDARDS: RFC 5321 section 4.5.3.1 minimums for the limits.
 */
#include "conf/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/pwhash.h"
#include "conf/confparse.h"
#include "guard/dnsbl.h"
#include "guard/redis.h"
#include "lib/metrics.h"
#include "guard/window.h"
#include "lib/file.h"
#include "lib/util.h"

struct ctx {
	const char *file;
	struct conf *cf;
	char *err;
	size_t errsz;
	const struct conf_node *queue_node; /* for errors about the queue block */
	const struct conf_node *guard_node; /* ... and the guard block */
};

static int __attribute__((format(printf, 3, 4)))
cerr(struct ctx *c, const struct conf_node *n, const char *fmt, ...)
{
	char msg[CONF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n != NULL)
		snprintf(c->err, c->errsz, "%s:%d: %s", c->file, n->line, msg);
	else
		snprintf(c->err, c->errsz, "%s: %s", c->file, msg);
	return -1;
}

struct directive {
	const char *name;
	size_t min_args, max_args;
	int block; /* 1: requires a block, 0: forbids one */
	int (*store)(struct ctx *, const struct conf_node *, void *);
	size_t off;   /* offset of the field in the target struct, for setters */
	uint64_t min; /* for numeric setters: the smallest value allowed */
	const char *why; /* said when the value is below min */
};

static int apply(struct ctx *c, const struct conf_node *parent, const struct directive *tab,
		 size_t ntab, void *target);

/* Setters shared by several tables. */

static int
set_duration(struct ctx *c, const struct conf_node *n, void *field)
{
	if (parse_duration(n->args[0], field) == -1)
		return cerr(c, n, "%s: '%s' is not a duration (like 30s, 5m, 2h, 5d)", n->name,
			    n->args[0]);
	return 0;
}

static int
set_size(struct ctx *c, const struct conf_node *n, void *field)
{
	if (parse_size(n->args[0], field) == -1)
		return cerr(c, n, "%s: '%s' is not a size (like 4096, 64k, 50M)", n->name,
			    n->args[0]);
	return 0;
}

static int
set_count(struct ctx *c, const struct conf_node *n, void *field)
{
	if (parse_u64(n->args[0], 1000000000, field) == -1)
		return cerr(c, n, "%s: '%s' is not a number", n->name, n->args[0]);
	return 0;
}

/* valid_hostname - letters, digits and inner hyphens in 1-63 byte labels
 * (RFC 1123 2.1). */
static bool
valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0, i;
	bool ok = len > 0 && len <= CONF_HOSTNAME_MAX;

	for (i = 0; ok && i <= len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || s[i - 1] == '-')
				ok = false;
			label = 0;
		} else if ((!isalnum(ch) && ch != '-') || (label == 0 && ch == '-') ||
			   ++label > 63) {
			ok = false;
		}
	}
	return ok;
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

int
route_parse(const char *s, struct route *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *hp;
	char host[CONF_HOSTNAME_MAX + 8];
	char *colon;
	uint64_t port;

	memset(r, 0, sizeof(*r));
	if (str_copy(r->spec, s, sizeof(r->spec)) == -1)
		return -1;
	if (strncmp(s, "lmtp:unix:", 10) == 0) {
		r->kind = ROUTE_LMTP_UNIX;
		if (s[10] != '/' || str_copy(r->path, s + 10, sizeof(r->path)) == -1)
			return -1;
		return 0;
	}
	if (strncmp(s, "smtp://", 7) == 0) {
		r->kind = ROUTE_SMTP;
		hp = s + 7;
	} else if (strncmp(s, "lmtp://", 7) == 0) {
		r->kind = ROUTE_LMTP;
		hp = s + 7;
	} else {
		return -1;
	}
	if (*hp == '[') {
		if (net_parse_hostport(hp, &ss, &len) == -1)
			return -1;
		net_ntop((struct sockaddr *)&ss, r->host, sizeof(r->host));
		r->port = net_port((struct sockaddr *)&ss);
		return 0;
	}
	if (str_copy(host, hp, sizeof(host)) == -1)
		return -1;
	colon = strrchr(host, ':');
	if (colon != NULL) {
		*colon = '\0';
		if (parse_u64(colon + 1, 65535, &port) == -1 || port == 0)
			return -1;
	} else {
		port = r->kind == ROUTE_LMTP ? 24 : 25;
	}
	if (net_parse_ip(host, &ss, &len) == -1 && !valid_hostname(host))
		return -1;
	str_copy(r->host, host, sizeof(r->host));
	lower(r->host);
	r->port = (uint16_t)port;
	return 0;
}

/* Top-level directives. */

static int
st_hostname(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	if (!valid_hostname(n->args[0]))
		return cerr(c, n, "hostname: '%s' is not a valid host name", n->args[0]);
	str_copy(c->cf->hostname, n->args[0], sizeof(c->cf->hostname));
	lower(c->cf->hostname);
	return 0;
}

static int
st_state_dir(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	if (n->args[0][0] != '/')
		return cerr(c, n, "state_dir: '%s' must be an absolute path", n->args[0]);
	if (strlen(n->args[0]) > 200)
		return cerr(c, n, "state_dir: path longer than 200 bytes");
	free(c->cf->state_dir);
	c->cf->state_dir = xstrdup(n->args[0]);
	return 0;
}

static int
st_user(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	if (n->args[0][0] == '\0' || strlen(n->args[0]) > 32)
		return cerr(c, n, "user: '%s' is not a user name", n->args[0]);
	free(c->cf->user);
	c->cf->user = xstrdup(n->args[0]);
	return 0;
}

static int
st_log(struct ctx *c, const struct conf_node *n, void *t)
{
	size_t i;

	(void)t;
	for (i = 0; i < n->nargs; i++) {
		if (strcmp(n->args[i], "stderr") == 0)
			c->cf->log_syslog = false;
		else if (strcmp(n->args[i], "syslog") == 0)
			c->cf->log_syslog = true;
		else if (strcmp(n->args[i], "debug") == 0)
			c->cf->log_debug = true;
		else
			return cerr(c, n, "log: '%s' is not one of stderr, syslog, debug",
				    n->args[i]);
	}
	return 0;
}

static int
li_role(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_listener *l = t;

	if (strcmp(n->args[0], "mx") == 0)
		l->role = ROLE_MX;
	else if (strcmp(n->args[0], "submission") == 0)
		l->role = ROLE_SUBMISSION;
	else
		return cerr(c, n, "role: '%s' is not one of mx, submission", n->args[0]);
	return 0;
}

static const char *const listen_tls_names[] = {"unset", "none", "starttls", "starttls-required",
					       "implicit"};
static const char *const tls_policy_names[] = {"may", "none", "encrypt", "verify"};

/* pick - the index of word in names (skipping index skip), or -1. */
static int
pick(const char *word, const char *const *names, size_t n, size_t skip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (i != skip && strcmp(word, names[i]) == 0)
			return (int)i;
	return -1;
}

static int
li_tls(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_listener *l = t;
	int v = pick(n->args[0], listen_tls_names, nitems(listen_tls_names), LTLS_UNSET);

	if (v == -1)
		return cerr(c, n, "tls: '%s' is not one of none, starttls, starttls-required, "
				  "implicit",
			    n->args[0]);
	l->tls = (enum listen_tls)v;
	return 0;
}

/* set_policy - an outbound TLS policy word into an enum tls_policy. */
static int
set_policy(struct ctx *c, const struct conf_node *n, void *t)
{
	int v = pick(n->args[0], tls_policy_names, nitems(tls_policy_names), SIZE_MAX);

	if (v == -1)
		return cerr(c, n, "tls: '%s' is not one of none, may, encrypt, verify",
			    n->args[0]);
	*(enum tls_policy *)t = (enum tls_policy)v;
	return 0;
}

const char *
conf_listen_tls_name(enum listen_tls t)
{
	return listen_tls_names[t];
}

const char *
conf_tls_policy_name(enum tls_policy p)
{
	return tls_policy_names[p];
}

/* set_acl - networks into a struct conf_acl (the directive may repeat). */
static int
set_acl(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_acl *acl = t;
	size_t i;

	for (i = 0; i < n->nargs; i++) {
		if (acl->n == CONF_ACL_MAX)
			return cerr(c, n, "%s: more than %d networks", n->name, CONF_ACL_MAX);
		if (net_parse_cidr(n->args[i], &acl->net[acl->n]) == -1)
			return cerr(c, n,
				    "%s: '%s' is not a network (like 192.0.2.0/24 or "
				    "2001:db8::/32; host bits must be zero)",
				    n->name, n->args[i]);
		acl->n++;
	}
	return 0;
}

static const struct directive listen_tab[] = {
	{"role", 1, 1, 0, li_role, 0, 0, NULL},
	{"tls", 1, 1, 0, li_tls, 0, 0, NULL},
	{"allow", 1, CONF_MAX_ARGS, 0, set_acl, offsetof(struct conf_listener, allow), 0, NULL},
	{"deny", 1, CONF_MAX_ARGS, 0, set_acl, offsetof(struct conf_listener, deny), 0, NULL},
};

static int
st_listen(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf *cf = c->cf;
	struct conf_listener l;
	size_t i;

	(void)t;
	memset(&l, 0, sizeof(l));
	l.line = n->line;
	l.role = (enum listen_role)-1;
	if (net_parse_hostport(n->args[0], &l.addr, &l.addrlen) == -1)
		return cerr(c, n,
			    "listen: '%s' is not a numeric address and port (like 127.0.0.1:25 "
			    "or [::1]:25)",
			    n->args[0]);
	net_format((struct sockaddr *)&l.addr, l.spec, sizeof(l.spec));
	if (apply(c, n, listen_tab, nitems(listen_tab), &l) == -1)
		return -1;
	if ((int)l.role == -1)
		return cerr(c, n, "listen %s: missing 'role mx' or 'role submission'", l.spec);
	for (i = 0; i < cf->nlisteners; i++)
		if (strcmp(cf->listeners[i].spec, l.spec) == 0)
			return cerr(c, n, "listen %s: already defined at line %d", l.spec,
				    cf->listeners[i].line);
	cf->listeners = xreallocarray(cf->listeners, cf->nlisteners + 1, sizeof(l));
	cf->listeners[cf->nlisteners++] = l;
	return 0;
}

static int
do_deliver(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_domain *d = t;
	enum tls_policy policy = d->deliver.tls; /* `tls` may come first */

	if (route_parse(n->args[0], &d->deliver) == -1)
		return cerr(c, n,
			    "deliver: '%s' is not smtp://host:port, lmtp://host:port or "
			    "lmtp:unix:/path",
			    n->args[0]);
	d->deliver.tls = policy;
	return 0;
}

/* do_dkim - `dkim selector NAME...`; the line may repeat, every selector
 * signs. Whether each has a key is checked by the daemon, not here. */
static int
do_dkim(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_domain *d = t;
	size_t i, j;

	if (n->nargs == 0 || strcmp(n->args[0], "selector") != 0)
		return cerr(c, n, "dkim: write it as 'dkim selector NAME...'");
	if (n->nargs < 2)
		return cerr(c, n, "dkim selector: name a selector (like dkim selector s2026)");
	for (i = 1; i < n->nargs; i++) {
		struct conf_dkim_selector *s;

		if (!valid_hostname(n->args[i]) || strlen(n->args[i]) > CONF_SELECTOR_MAX)
			return cerr(c, n,
				    "dkim selector: '%s' is not a selector (letters, digits and "
				    "hyphens between dots, like s2026)",
				    n->args[i]);
		if (d->ndkim == CONF_DKIM_SELECTORS_MAX)
			return cerr(c, n, "dkim selector: more than %d selectors for %s",
				    CONF_DKIM_SELECTORS_MAX, d->name);
		s = &d->dkim[d->ndkim];
		str_copy(s->name, n->args[i], sizeof(s->name));
		lower(s->name);
		for (j = 0; j < d->ndkim; j++)
			if (strcmp(d->dkim[j].name, s->name) == 0)
				return cerr(c, n, "dkim selector: '%s' is listed twice for %s",
					    s->name, d->name);
		s->line = n->line;
		d->ndkim++;
	}
	return 0;
}

static const struct directive domain_tab[] = {
	{"deliver", 1, 1, 0, do_deliver, 0, 0, NULL},
	{"tls", 1, 1, 0, set_policy, offsetof(struct conf_domain, deliver.tls), 0, NULL},
	{"dkim", 0, CONF_MAX_ARGS, 0, do_dkim, 0, 0, NULL},
};

static int
st_domain(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf *cf = c->cf;
	struct conf_domain d;

	(void)t;
	memset(&d, 0, sizeof(d));
	if (!valid_hostname(n->args[0]))
		return cerr(c, n, "domain: '%s' is not a valid domain name", n->args[0]);
	str_copy(d.name, n->args[0], sizeof(d.name));
	lower(d.name);
	if (conf_find_domain(cf, d.name) != NULL)
		return cerr(c, n, "domain %s: defined twice", d.name);
	if (apply(c, n, domain_tab, nitems(domain_tab), &d) == -1)
		return -1;
	/* without deliver, a domain only signs: mail for it is not received here */
	if (d.deliver.spec[0] == '\0' && d.ndkim == 0)
		return cerr(c, n, "domain %s: missing 'deliver' (where its mail goes) or 'dkim "
				  "selector' (to sign its mail)",
			    d.name);
	cf->domains = xreallocarray(cf->domains, cf->ndomains + 1, sizeof(d));
	cf->domains[cf->ndomains++] = d;
	return 0;
}

/* set_abs_path - an absolute path into a char * field. */
static int
set_abs_path(struct ctx *c, const struct conf_node *n, void *t)
{
	char **field = t;

	if (n->args[0][0] != '/' || strlen(n->args[0]) >= PATH_MAX)
		return cerr(c, n, "%s: '%s' must be an absolute path", n->name, n->args[0]);
	free(*field);
	*field = xstrdup(n->args[0]);
	return 0;
}

static int
re_smarthost(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	if (route_parse(n->args[0], &c->cf->smarthost) == -1 ||
	    c->cf->smarthost.kind == ROUTE_LMTP_UNIX)
		return cerr(c, n, "smarthost: '%s' is not smtp://host:port or lmtp://host:port",
			    n->args[0]);
	c->cf->has_smarthost = true;
	return 0;
}

static const struct directive relay_tab[] = {
	{"smarthost", 1, 1, 0, re_smarthost, 0, 0, NULL},
	{"tls", 1, 1, 0, set_policy, offsetof(struct conf_tls, relay_policy), 0, NULL},
	{"ca_file", 1, 1, 0, set_abs_path, offsetof(struct conf_tls, ca_file), 0, NULL},
};

static int
st_relay(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return apply(c, n, relay_tab, nitems(relay_tab), &c->cf->tls);
}

/* The tls { } block: a certificate and key, and the server TLS settings. */

struct tls_block {
	struct ctx *c;
	struct conf_cert cert;
	char *certp, *keyp;
};

static int
tl_file(struct ctx *c, const struct conf_node *n, void *t)
{
	return set_abs_path(c, n, t);
}

static int
tl_min_version(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	if (c->cf->tls.min_version != 0)
		return cerr(c, n, "min_version: set twice (it applies to every certificate)");
	if (strcmp(n->args[0], "TLSv1.2") == 0)
		c->cf->tls.min_version = 12;
	else if (strcmp(n->args[0], "TLSv1.3") == 0)
		c->cf->tls.min_version = 13;
	else
		return cerr(c, n, "min_version: '%s' is not TLSv1.2 or TLSv1.3", n->args[0]);
	return 0;
}

static int
tl_string(struct ctx *c, const struct conf_node *n, void *t)
{
	char **field = t;

	(void)c;
	if (*field != NULL)
		return cerr(c, n, "%s: set twice (it applies to every certificate)", n->name);
	*field = xstrdup(n->args[0]);
	return 0;
}

static int
tl_ciphers(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return tl_string(c, n, &c->cf->tls.ciphers);
}

static int
tl_ciphersuites(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return tl_string(c, n, &c->cf->tls.ciphersuites);
}

static const struct directive tls_tab[] = {
	{"cert", 1, 1, 0, tl_file, offsetof(struct tls_block, certp), 0, NULL},
	{"key", 1, 1, 0, tl_file, offsetof(struct tls_block, keyp), 0, NULL},
	{"min_version", 1, 1, 0, tl_min_version, 0, 0, NULL},
	{"ciphers", 1, 1, 0, tl_ciphers, 0, 0, NULL},
	{"ciphersuites", 1, 1, 0, tl_ciphersuites, 0, 0, NULL},
};

static int
st_tls(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_tls *tls = &c->cf->tls;
	struct tls_block b;
	int rc;

	(void)t;
	memset(&b, 0, sizeof(b));
	b.c = c;
	rc = apply(c, n, tls_tab, nitems(tls_tab), &b);
	if (rc == 0 && (b.certp == NULL || b.keyp == NULL))
		rc = cerr(c, n, "tls: needs both 'cert FILE' and 'key FILE'");
	if (rc == 0) {
		str_copy(b.cert.cert, b.certp, sizeof(b.cert.cert));
		str_copy(b.cert.key, b.keyp, sizeof(b.cert.key));
		b.cert.line = n->line;
		tls->certs = xreallocarray(tls->certs, tls->ncerts + 1, sizeof(b.cert));
		tls->certs[tls->ncerts++] = b.cert;
	}
	free(b.certp);
	free(b.keyp);
	return rc;
}

static int
st_trusted(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf *cf = c->cf;
	size_t i;

	(void)t;
	for (i = 0; i < n->nargs; i++) {
		struct cidr net;

		if (net_parse_cidr(n->args[i], &net) == -1)
			return cerr(c, n,
				    "trusted_networks: '%s' is not a network (like 10.0.0.0/8 or "
				    "::1/128; host bits must be zero)",
				    n->args[i]);
		/* /8 covers 10.0.0.0/8, /7 the IPv6 unique-local fc00::/7; anything
		 * wider trusts much of the internet (0.0.0.0/1 twice is everything). */
		if (net.prefix < (net.family == AF_INET ? 8u : 7u))
			return cerr(c, n,
				    "trusted_networks: '%s' trusts a large part of the internet: "
				    "that is an open relay (list your own networks, /%u or longer)",
				    n->args[i], net.family == AF_INET ? 8 : 7);
		cf->trusted = xreallocarray(cf->trusted, cf->ntrusted + 1, sizeof(net));
		cf->trusted[cf->ntrusted++] = net;
	}
	return 0;
}

static int
st_resolver(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf *cf = c->cf;
	struct sockaddr_storage ss;
	socklen_t len;
	char ip[NET_ADDRSTRLEN];
	size_t i;

	(void)t;
	for (i = 0; i < n->nargs; i++) {
		uint16_t port = 53;

		if (net_parse_hostport(n->args[i], &ss, &len) == 0)
			port = net_port((struct sockaddr *)&ss);
		else if (net_parse_ip(n->args[i], &ss, &len) == -1)
			return cerr(c, n,
				    "resolver: '%s' is not an address or address:port (like "
				    "127.0.0.1:5353)",
				    n->args[i]);
		net_ntop((struct sockaddr *)&ss, ip, sizeof(ip));
		cf->resolvers = xreallocarray(cf->resolvers, cf->nresolvers + 1,
					      sizeof(*cf->resolvers));
		snprintf(cf->resolvers[cf->nresolvers++], sizeof(*cf->resolvers), "%s@%u", ip,
			 port);
	}
	return 0;
}

static int
sm_line_endings(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_limits *l = t;

	if (strcmp(n->args[0], "strict") == 0)
		l->line_endings = LINE_ENDINGS_STRICT;
	else if (strcmp(n->args[0], "normalize") == 0)
		l->line_endings = LINE_ENDINGS_NORMALIZE;
	else
		return cerr(c, n, "line_endings: '%s' is not one of strict, normalize",
			    n->args[0]);
	return 0;
}

static int set_bool(struct ctx *c, const struct conf_node *n, void *t);

/* sm_sandbox - smtp { sandbox yes|no }: a field of struct conf, not of the
 * limits the rest of the block sets. */
static int
sm_sandbox(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return set_bool(c, n, &c->cf->smtp_sandbox);
}

#define LIM(f) offsetof(struct conf_limits, f)
static const struct directive smtp_tab[] = {
	{"max_command_length", 1, 1, 0, set_size, LIM(max_command_length), 512, "RFC 5321 4.5.3.1.4"},
	{"max_data_line_length", 1, 1, 0, set_size, LIM(max_data_line_length), 1000,
	 "RFC 5321 4.5.3.1.6"},
	{"max_recipients", 1, 1, 0, set_count, LIM(max_recipients), 1, NULL},
	{"max_message_size", 1, 1, 0, set_size, LIM(max_message_size), 4096, NULL},
	{"max_errors", 1, 1, 0, set_count, LIM(max_errors), 1, NULL},
	{"command_timeout", 1, 1, 0, set_duration, LIM(command_timeout), 1, NULL},
	{"data_timeout", 1, 1, 0, set_duration, LIM(data_timeout), 1, NULL},
	{"session_timeout", 1, 1, 0, set_duration, LIM(session_timeout), 1, NULL},
	{"max_connections", 1, 1, 0, set_count, LIM(max_connections), 1, NULL},
	{"max_connections_per_ip", 1, 1, 0, set_count, LIM(max_connections_per_ip), 1, NULL},
	{"shutdown_timeout", 1, 1, 0, set_duration, LIM(shutdown_timeout), 0, NULL},
	{"tls_handshake_timeout", 1, 1, 0, set_duration, LIM(tls_handshake_timeout), 1, NULL},
	{"max_header_size", 1, 1, 0, set_size, LIM(max_header_size), 4096, NULL},
	{"line_endings", 1, 1, 0, sm_line_endings, 0, 0, NULL},
	{"sandbox", 1, 1, 0, sm_sandbox, 0, 0, NULL},
};
#undef LIM

static int
st_smtp(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return apply(c, n, smtp_tab, nitems(smtp_tab), &c->cf->limits);
}

#define QF(f) offsetof(struct conf_queue, f)
static const struct directive queue_tab[] = {
	{"max_lifetime", 1, 1, 0, set_duration, QF(max_lifetime), 0, NULL},
	{"retry_min", 1, 1, 0, set_duration, QF(retry_min), 1, NULL},
	{"retry_max", 1, 1, 0, set_duration, QF(retry_max), 1, NULL},
	{"delay_warning", 1, 1, 0, set_duration, QF(delay_warning), 0, NULL},
	{"max_per_destination", 1, 1, 0, set_count, QF(max_per_destination), 1, NULL},
	{"max_deliveries", 1, 1, 0, set_count, QF(max_deliveries), 1, NULL},
	{"connect_timeout", 1, 1, 0, set_duration, QF(connect_timeout), 1, NULL},
	{"reply_timeout", 1, 1, 0, set_duration, QF(reply_timeout), 1, NULL},
	{"idle_reuse", 1, 1, 0, set_duration, QF(idle_reuse), 0, NULL},
};
#undef QF

static int
st_queue(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	c->queue_node = n;
	return apply(c, n, queue_tab, nitems(queue_tab), &c->cf->queue);
}

#define AF(f) offsetof(struct conf_auth, f)
static int
au_banned(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return set_abs_path(c, n, &c->cf->auth.banned_file);
}

static const struct directive auth_tab[] = {
	{"argon2_memory", 1, 1, 0, set_size, AF(argon2_memory), 8 * 1024 * 1024, NULL},
	{"argon2_ops", 1, 1, 0, set_count, AF(argon2_ops), 1, NULL},
	{"hash_threads", 1, 1, 0, set_count, AF(hash_threads), 0, NULL},
	{"hash_queue", 1, 1, 0, set_count, AF(hash_queue), 1, NULL},
	{"cache_ttl", 1, 1, 0, set_duration, AF(cache_ttl), 0, NULL},
	{"min_length", 1, 1, 0, set_count, AF(min_length), 8, "NIST SP 800-63B"},
	{"max_length", 1, 1, 0, set_count, AF(max_length), 128, "NIST SP 800-63B: at least 64"},
	{"min_entropy", 1, 1, 0, set_count, AF(min_entropy), 0, NULL},
	{"banned_file", 1, 1, 0, au_banned, 0, 0, NULL},
	{"history", 1, 1, 0, set_count, AF(history), 0, NULL},
	{"max_age", 1, 1, 0, set_duration, AF(max_age), 0, NULL},
	{"warn_before", 1, 1, 0, set_duration, AF(warn_before), 0, NULL},
	{"totp_window", 1, 1, 0, set_count, AF(totp_window), 0, NULL},
	{"scram_iterations", 1, 1, 0, set_count, AF(scram_iterations), 0, NULL},
};
#undef AF

static int
st_auth(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return apply(c, n, auth_tab, nitems(auth_tab), &c->cf->auth);
}

#define GF(f) offsetof(struct conf_guard, f)
static int
set_bool(struct ctx *c, const struct conf_node *n, void *t)
{
	if (strcmp(n->args[0], "yes") == 0)
		*(bool *)t = true;
	else if (strcmp(n->args[0], "no") == 0)
		*(bool *)t = false;
	else
		return cerr(c, n, "%s: '%s' is not yes or no", n->name, n->args[0]);
	return 0;
}

/* valid_mail_address - local@host, no more than 254 bytes, nothing that
 * would need quoting in a header or an SMTP path. */
static bool
valid_mail_address(const char *s)
{
	const char *at = strrchr(s, '@');

	return at != NULL && at != s && valid_hostname(at + 1) && strlen(s) <= 254 &&
	       strpbrk(s, " <>\"\\,;") == NULL;
}

static int
gu_alert_to(struct ctx *c, const struct conf_node *n, void *t)
{
	char **field = t;

	if (!valid_mail_address(n->args[0]))
		return cerr(c, n, "%s: '%s' is not a mail address (like "
				  "security@example.org)",
			    n->name, n->args[0]);
	free(*field);
	*field = xstrdup(n->args[0]);
	return 0;
}

/* nft_word - a family, table or set name as nft(8) takes it unquoted. */
static bool
nft_word(const char *s)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]) || strlen(s) > 64)
		return false;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static int
gu_nftables(struct ctx *c, const struct conf_node *n, void *t)
{
	char **field = t, buf[200];

	if (strcmp(n->args[0], "inet") != 0 && strcmp(n->args[0], "ip") != 0 &&
	    strcmp(n->args[0], "ip6") != 0)
		return cerr(c, n, "nftables_set: family '%s' is not one of inet, ip, ip6",
			    n->args[0]);
	if (!nft_word(n->args[1]) || !nft_word(n->args[2]))
		return cerr(c, n, "nftables_set: table and set names are letters, digits, '_' "
				  "and '-'");
	snprintf(buf, sizeof(buf), "%s %s %s", n->args[0], n->args[1], n->args[2]);
	free(*field);
	*field = xstrdup(buf);
	return 0;
}

/* gu_dnsbl - dnsbl ZONE WEIGHT [CODES]; dnswl is the same with the weight
 * counting against the threshold (an allow list). */
static int
gu_dnsbl(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_guard *g = &c->cf->guard;
	struct dnsbl_list l;
	char err[256];

	(void)t;
	if (g->ndnsbl == DNSBL_MAX_LISTS)
		return cerr(c, n, "%s: more than %d lists", n->name, DNSBL_MAX_LISTS);
	if (dnsbl_parse(n->args[0], n->args[1], n->nargs > 2 ? n->args[2] : NULL, &l, err,
			sizeof(err)) == -1)
		return cerr(c, n, "%s", err);
	if (strcmp(n->name, "dnswl") == 0) {
		if (l.weight < 0)
			return cerr(c, n, "dnswl: give a positive weight (it is subtracted)");
		l.weight = -l.weight;
	}
	g->dnsbl = xreallocarray(g->dnsbl, g->ndnsbl + 1, sizeof(l));
	g->dnsbl[g->ndnsbl++] = l;
	return 0;
}

static int
gu_store(struct ctx *c, const struct conf_node *n, void *t)
{
	char **field = t, host[256], err[200];
	uint16_t port;
	unsigned db;

	if (redis_url_parse(n->args[0], host, sizeof(host), &port, &db, err, sizeof(err)) == -1)
		return cerr(c, n, "store: %s", err);
	free(*field);
	*field = xstrdup(n->args[0]);
	return 0;
}

static const struct directive guard_tab[] = {
	{"enabled", 1, 1, 0, set_bool, GF(enabled), 0, NULL},
	{"window", 1, 1, 0, set_duration, GF(window), 60, NULL},
	{"ip_failures", 1, 1, 0, set_count, GF(ip_failures), 1, NULL},
	{"net_failures", 1, 1, 0, set_count, GF(net_failures), 1, NULL},
	{"pair_failures", 1, 1, 0, set_count, GF(pair_failures), 1, NULL},
	{"account_failures", 1, 1, 0, set_count, GF(account_failures), 1, NULL},
	{"account_lock_time", 1, 1, 0, set_duration, GF(account_lock_time), 60, NULL},
	{"ban_time", 1, 1, 0, set_duration, GF(ban_time), 1, NULL},
	{"ban_max", 1, 1, 0, set_duration, GF(ban_max), 1, NULL},
	{"tarpit", 1, 1, 0, set_duration, GF(tarpit), 0, NULL},
	{"tarpit_max", 1, 1, 0, set_duration, GF(tarpit_max), 0, NULL},
	{"spray_accounts", 1, 1, 0, set_count, GF(spray_accounts), 2, NULL},
	{"stuffing_sources", 1, 1, 0, set_count, GF(stuffing_sources), 2, NULL},
	{"stuffing_accounts", 1, 1, 0, set_count, GF(stuffing_accounts), 2, NULL},
	{"trust_time", 1, 1, 0, set_duration, GF(trust_time), 0, NULL},
	{"conn_rate", 1, 1, 0, set_count, GF(conn_rate), 0, NULL},
	{"auth_rate", 1, 1, 0, set_count, GF(auth_rate), 0, NULL},
	{"user_messages", 1, 1, 0, set_count, GF(user_messages), 0, NULL},
	{"user_recipients", 1, 1, 0, set_count, GF(user_recipients), 0, NULL},
	{"greet_delay", 1, 1, 0, set_duration, GF(greet_delay), 0, NULL},
	{"abuse_tarpit", 1, 1, 0, set_count, GF(abuse_tarpit), 1, NULL},
	{"abuse_disconnect", 1, 1, 0, set_count, GF(abuse_disconnect), 1, NULL},
	{"abuse_ban", 1, 1, 0, set_count, GF(abuse_ban), 1, NULL},
	{"allow", 1, CONF_MAX_ARGS, 0, set_acl, GF(allow), 0, NULL},
	{"deny", 1, CONF_MAX_ARGS, 0, set_acl, GF(deny), 0, NULL},
	{"exempt", 1, CONF_MAX_ARGS, 0, set_acl, GF(exempt), 0, NULL},
	{"alert_to", 1, 1, 0, gu_alert_to, GF(alert_to), 0, NULL},
	{"notify_users", 1, 1, 0, set_bool, GF(notify_users), 0, NULL},
	{"nftables_set", 3, 3, 0, gu_nftables, GF(nftables_set), 0, NULL},
	{"store", 1, 1, 0, gu_store, GF(store), 0, NULL},
	{"dnsbl", 2, 3, 0, gu_dnsbl, 0, 0, NULL},
	{"dnswl", 2, 3, 0, gu_dnsbl, 0, 0, NULL},
	{"dnsbl_threshold", 1, 1, 0, set_count, GF(dnsbl_threshold), 1, NULL},
	{"dnsbl_timeout", 1, 1, 0, set_duration, GF(dnsbl_timeout), 1, NULL},
};
#undef GF

static int
st_guard(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	c->guard_node = n;
	return apply(c, n, guard_tab, nitems(guard_tab), &c->cf->guard);
}

#define MF(f) offsetof(struct conf_mailauth, f)
/* ma_action - an SPF result's action; which ones a result may take is in
 * the table's why field as "accept,reject,...". */
static const char *const ma_action_names[] = {"accept", "reject", "defer", "dmarc"};

static int
ma_action(struct ctx *c, const struct conf_node *n, void *t)
{
	static const struct {
		const char *name;
		const char *allowed;
	} rows[] = {
		{"spf_fail", "accept reject dmarc"},
		{"spf_softfail", "accept reject dmarc"},
		{"spf_permerror", "accept reject dmarc"},
		{"spf_temperror", "accept defer dmarc"},
	};
	enum mailauth_action *a = t;
	size_t i, k;

	for (i = 0; i < nitems(rows); i++) {
		if (strcmp(rows[i].name, n->name) != 0)
			continue;
		for (k = 0; k < nitems(ma_action_names); k++) {
			const char *hit = strstr(rows[i].allowed, ma_action_names[k]);

			if (strcmp(n->args[0], ma_action_names[k]) == 0 && hit != NULL) {
				*a = (enum mailauth_action)k;
				return 0;
			}
		}
		return cerr(c, n, "%s: '%s' is not one of %s", n->name, n->args[0],
			    rows[i].allowed);
	}
	return cerr(c, n, "%s: no actions known", n->name);
}

static int
ma_authserv_id(struct ctx *c, const struct conf_node *n, void *t)
{
	char **field = t;

	if (!valid_hostname(n->args[0]))
		return cerr(c, n, "authserv_id: '%s' is not a host name", n->args[0]);
	free(*field);
	*field = xstrdup(n->args[0]);
	lower(*field);
	return 0;
}

/* ma_text - a short printable text (quoted in the file when it has
 * spaces). */
static int
ma_text(struct ctx *c, const struct conf_node *n, void *t)
{
	char **field = t;
	size_t i, len = strlen(n->args[0]);

	if (len == 0 || len > 200)
		return cerr(c, n, "%s: give 1 to 200 characters", n->name);
	for (i = 0; i < len; i++)
		if ((unsigned char)n->args[0][i] < 0x20 || n->args[0][i] == 0x7f)
			return cerr(c, n, "%s: control characters are not allowed", n->name);
	free(*field);
	*field = xstrdup(n->args[0]);
	return 0;
}

static const struct directive mailauth_tab[] = {
	{"authserv_id", 1, 1, 0, ma_authserv_id, MF(authserv_id), 0, NULL},
	{"spf", 1, 1, 0, set_bool, MF(spf), 0, NULL},
	{"spf_fail", 1, 1, 0, ma_action, MF(spf_fail), 0, NULL},
	{"spf_softfail", 1, 1, 0, ma_action, MF(spf_softfail), 0, NULL},
	{"spf_permerror", 1, 1, 0, ma_action, MF(spf_permerror), 0, NULL},
	{"spf_temperror", 1, 1, 0, ma_action, MF(spf_temperror), 0, NULL},
	{"dkim_verify", 1, 1, 0, set_bool, MF(dkim_verify), 0, NULL},
	{"dmarc", 1, 1, 0, set_bool, MF(dmarc), 0, NULL},
	{"dmarc_enforce", 1, 1, 0, set_bool, MF(dmarc_enforce), 0, NULL},
	{"psl", 1, 1, 0, set_abs_path, MF(psl), 0, NULL},
	{"dns_timeout", 1, 1, 0, set_duration, MF(dns_timeout), 1, NULL},
	{"dmarc_report_from", 1, 1, 0, gu_alert_to, MF(dmarc_report_from), 0, NULL},
	{"dmarc_report_org", 1, 1, 0, ma_text, MF(dmarc_report_org), 0, NULL},
	{"dmarc_report_rows", 1, 1, 0, set_count, MF(dmarc_report_rows), 100, NULL},
};
#undef MF

static int
st_mailauth(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return apply(c, n, mailauth_tab, nitems(mailauth_tab), &c->cf->mailauth);
}

static int
st_metrics(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf *cf = c->cf;

	(void)t;
	if (net_parse_hostport(n->args[0], &cf->metrics, &cf->metrics_len) == -1)
		return cerr(c, n, "metrics: '%s' is not an address and port (like 127.0.0.1:9925)",
			    n->args[0]);
	if (metrics_listen_check((struct sockaddr *)&cf->metrics) == -1)
		return cerr(c, n,
			    "metrics: '%s' is not a loopback address: metrics say much about "
			    "the gateway (put a proxy in front to share them)",
			    n->args[0]);
	return 0;
}


/* Admin roles and the admin API. */
#define AF(f) offsetof(struct conf_admin, f)
static const char *const admin_role_names[] = {"none", "auditor", "operator", "admin"};

const char *
conf_admin_role_name(enum admin_role r)
{
	return (size_t)r < nitems(admin_role_names) ? admin_role_names[r] : "none";
}

static int
parse_admin_role(const char *s, enum admin_role *r)
{
	size_t i;

	for (i = ROLE_AUDITOR; i < nitems(admin_role_names); i++)
		if (strcmp(s, admin_role_names[i]) == 0) {
			*r = (enum admin_role)i;
			return 0;
		}
	return -1;
}

/* valid_principal - a Unix user or group name (or number) as useradd(8)
 * allows it: [a-z_][a-z0-9_.-]*$?, or digits. */
static bool
valid_principal(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > CONF_PRINCIPAL_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!(islower(ch) || isdigit(ch) || ch == '_' || ch == '.' || ch == '-' ||
		      isupper(ch) || (ch == '$' && i == len - 1)))
			return false;
	}
	return s[0] != '-' && s[0] != '.';
}

/* ad_role - `admin|operator|auditor USER|@GROUP...`. */
static int
ad_role(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_admin *a = t;
	enum admin_role role;
	size_t i;

	if (parse_admin_role(n->name, &role) == -1)
		return cerr(c, n, "%s: not a role", n->name);
	for (i = 0; i < n->nargs; i++) {
		const char *s = n->args[i];
		bool group = s[0] == '@';
		struct conf_principal *p;

		if (!valid_principal(s + group))
			return cerr(c, n, "%s: '%s' is not a user or @group name or number", n->name,
				    s);
		if (a->nprincipals == CONF_PRINCIPALS_MAX)
			return cerr(c, n, "%s: more than %d users and groups in admin { }", n->name,
				    CONF_PRINCIPALS_MAX);
		p = &a->principals[a->nprincipals++];
		str_copy(p->name, s + group, sizeof(p->name));
		p->group = group;
		p->role = role;
	}
	return 0;
}

static int
ad_api(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_admin *a = t;

	if (net_parse_hostport(n->args[0], &a->api, &a->api_len) == -1)
		return cerr(c, n, "api: '%s' is not an address and port (like 127.0.0.1:8443)",
			    n->args[0]);
	return 0;
}

static int
ad_api_allow(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_acl *acl = t;
	size_t i;

	acl->n = 0;
	for (i = 0; i < n->nargs; i++) {
		if (acl->n == CONF_ACL_MAX)
			return cerr(c, n, "api_allow: more than %d networks", CONF_ACL_MAX);
		if (net_parse_cidr(n->args[i], &acl->net[acl->n]) == -1)
			return cerr(c, n, "api_allow: '%s' is not a network (like 127.0.0.1/32)",
				    n->args[i]);
		acl->n++;
	}
	return 0;
}

static int
ad_api_account(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_admin *a = t;
	struct conf_api_account *x;

	if (strlen(n->args[0]) > CONF_PRINCIPAL_MAX)
		return cerr(c, n, "api_account: '%s' is too long", n->args[0]);
	if (parse_admin_role(n->args[1], &(enum admin_role){0}) == -1)
		return cerr(c, n, "api_account: '%s' is not admin, operator or auditor",
			    n->args[1]);
	if (a->napi_accounts == CONF_API_ACCOUNTS_MAX)
		return cerr(c, n, "api_account: more than %d accounts", CONF_API_ACCOUNTS_MAX);
	x = &a->api_accounts[a->napi_accounts++];
	str_copy(x->name, n->args[0], sizeof(x->name));
	(void)parse_admin_role(n->args[1], &x->role);
	return 0;
}

static const struct directive admin_tab[] = {
	{"admin", 1, CONF_MAX_ARGS, 0, ad_role, 0, 0, NULL},
	{"operator", 1, CONF_MAX_ARGS, 0, ad_role, 0, 0, NULL},
	{"auditor", 1, CONF_MAX_ARGS, 0, ad_role, 0, 0, NULL},
	{"api", 1, 1, 0, ad_api, 0, 0, NULL},
	{"api_allow", 1, CONF_MAX_ARGS, 0, ad_api_allow, AF(api_allow), 0, NULL},
	{"api_account", 2, 2, 0, ad_api_account, 0, 0, NULL},
	{"api_token_ttl", 1, 1, 0, set_duration, AF(api_token_ttl), 60, "a minute"},
};
#undef AF

static int
st_admin(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return apply(c, n, admin_tab, nitems(admin_tab), &c->cf->admin);
}

static const struct directive audit_tab[] = {
	{"anchor_every", 1, 1, 0, set_duration, offsetof(struct conf_audit, anchor_every), 10,
	 "ten seconds"},
};

static int
st_audit(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return apply(c, n, audit_tab, nitems(audit_tab), &c->cf->audit);
}

/* The check block: when `postern check` runs by itself, and who reads it. */
static int
ck_mail_to(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_check *k = t;
	size_t i;

	for (i = 0; i < n->nargs; i++) {
		if (!valid_mail_address(n->args[i]))
			return cerr(c, n, "mail_to: '%s' is not a mail address (like "
					  "security@example.org)",
				    n->args[i]);
		if (k->nmail_to == CONF_CHECK_MAIL_TO_MAX)
			return cerr(c, n, "mail_to: more than %d addresses", CONF_CHECK_MAIL_TO_MAX);
		k->mail_to[k->nmail_to++] = xstrdup(n->args[i]);
	}
	return 0;
}

static const struct directive check_tab[] = {
	{"every", 1, 1, 0, set_duration, offsetof(struct conf_check, every), CONF_CHECK_EVERY_MIN,
	 "a check probes the listeners and looks up DNS: 1h at the most often"},
	{"mail_to", 1, CONF_MAX_ARGS, 0, ck_mail_to, 0, 0, NULL},
};

static int
st_check(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_check *k = &c->cf->check;

	(void)t;
	if (apply(c, n, check_tab, nitems(check_tab), k) == -1)
		return -1;
	if (k->nmail_to == 0)
		return cerr(c, n, "check: add 'mail_to ADDRESS' (who gets the report)");
	if (k->every == 0)
		k->every = CONF_CHECK_EVERY_DEFAULT;
	return 0;
}

/* The backup block. */

/* bk_every - a duration, or `off`. */
static int
bk_every(struct ctx *c, const struct conf_node *n, void *t)
{
	uint64_t *every = t;

	if (strcmp(n->args[0], "off") == 0) {
		*every = 0;
		return 0;
	}
	if (set_duration(c, n, t) == -1)
		return -1;
	if (*every < CONF_BACKUP_EVERY_MIN)
		return cerr(c, n, "every: at least %ds (or off)", CONF_BACKUP_EVERY_MIN);
	return 0;
}

#define BF(f) offsetof(struct conf_backup, f)
static const struct directive backup_tab[] = {
	{"dir", 1, 1, 0, set_abs_path, BF(dir), 0, NULL},
	{"every", 1, 1, 0, bk_every, BF(every), 0, NULL},
	{"keep", 1, 1, 0, set_count, BF(keep), 1, "a backup that is deleted at once is none"},
	{"key_file", 1, 1, 0, set_abs_path, BF(key_file), 0, NULL},
	{"passphrase_file", 1, 1, 0, set_abs_path, BF(passphrase_file), 0, NULL},
};
#undef BF

/* st_backup - the block, and what its directives need of each other. */
static int
st_backup(struct ctx *c, const struct conf_node *n, void *t)
{
	struct conf_backup *b = &c->cf->backup;

	(void)t;
	if (apply(c, n, backup_tab, nitems(backup_tab), b) == -1)
		return -1;
	if (b->key_file != NULL && b->passphrase_file != NULL)
		return cerr(c, n, "backup: key_file or passphrase_file, not both");
	if (b->every > 0 && b->dir == NULL)
		return cerr(c, n, "backup: 'every' needs 'dir' (where the backups go)");
	if (b->every > 0 && b->key_file == NULL && b->passphrase_file == NULL)
		return cerr(c, n, "backup: 'every' needs 'key_file' or 'passphrase_file' (backups "
				  "are always encrypted)");
	return 0;
}

static void
backup_free(struct conf_backup *b)
{
	free(b->dir);
	free(b->key_file);
	free(b->passphrase_file);
}

#define NF(f) offsetof(struct conf_notices, f)
static const struct directive notices_tab[] = {
	{"dir", 1, 1, 0, set_abs_path, NF(dir), 0, NULL},
	{"expiry_check_every", 1, 1, 0, set_duration, NF(expiry_check_every), 10, "ten seconds"},
	{"password_expiry", 1, 1, 0, set_bool, NF(password_expiry), 0, NULL},
};
#undef NF

static int
st_notices(struct ctx *c, const struct conf_node *n, void *t)
{
	(void)t;
	return apply(c, n, notices_tab, nitems(notices_tab), &c->cf->notices);
}

/* notices_defaults - the notices block when it is not written. */
static void
notices_defaults(struct conf_notices *n)
{
	n->expiry_check_every = 3600;
	n->password_expiry = true;
}

static const struct directive top_tab[] = {
	{"hostname", 1, 1, 0, st_hostname, 0, 0, NULL},
	{"state_dir", 1, 1, 0, st_state_dir, 0, 0, NULL},
	{"user", 1, 1, 0, st_user, 0, 0, NULL},
	{"log", 1, 3, 0, st_log, 0, 0, NULL},
	{"listen", 1, 1, 1, st_listen, 0, 0, NULL},
	{"domain", 1, 1, 1, st_domain, 0, 0, NULL},
	{"relay", 0, 0, 1, st_relay, 0, 0, NULL},
	{"trusted_networks", 1, CONF_MAX_ARGS, 0, st_trusted, 0, 0, NULL},
	{"resolver", 1, 8, 0, st_resolver, 0, 0, NULL},
	{"smtp", 0, 0, 1, st_smtp, 0, 0, NULL},
	{"queue", 0, 0, 1, st_queue, 0, 0, NULL},
	{"tls", 0, 0, 1, st_tls, 0, 0, NULL},
	{"auth", 0, 0, 1, st_auth, 0, 0, NULL},
	{"guard", 0, 0, 1, st_guard, 0, 0, NULL},
	{"mailauth", 0, 0, 1, st_mailauth, 0, 0, NULL},
	{"metrics", 1, 1, 0, st_metrics, 0, 0, NULL},
	{"check", 0, 0, 1, st_check, 0, 0, NULL},
	{"backup", 0, 0, 1, st_backup, 0, 0, NULL},
	{"admin", 0, 0, 1, st_admin, 0, 0, NULL},
	{"audit", 0, 0, 1, st_audit, 0, 0, NULL},
	{"notices", 0, 0, 1, st_notices, 0, 0, NULL},
};

/* apply - store each child of parent through the matching table row. */
static int
apply(struct ctx *c, const struct conf_node *parent, const struct directive *tab, size_t ntab,
      void *target)
{
	size_t i, j;

	for (i = 0; i < parent->nchildren; i++) {
		const struct conf_node *n = &parent->children[i];
		const struct directive *d = NULL;

		for (j = 0; j < ntab; j++)
			if (strcmp(tab[j].name, n->name) == 0)
				d = &tab[j];
		if (d == NULL)
			return cerr(c, n, "unknown directive '%s'%s%s", n->name,
				    parent->name ? " in " : "", parent->name ? parent->name : "");
		if (n->nargs < d->min_args || n->nargs > d->max_args) {
			if (d->min_args == d->max_args)
				return cerr(c, n, "%s takes %zu argument%s, not %zu", n->name,
					    d->min_args, d->min_args == 1 ? "" : "s", n->nargs);
			return cerr(c, n, "%s takes %zu to %zu arguments, not %zu", n->name,
				    d->min_args, d->max_args, n->nargs);
		}
		if (d->block && !n->has_block)
			return cerr(c, n, "%s needs a { ... } block", n->name);
		if (!d->block && n->has_block)
			return cerr(c, n, "%s takes no block", n->name);
		if (d->store(c, n, target ? (char *)target + d->off : NULL) == -1)
			return -1;
		if (d->min > 0 && *(uint64_t *)(void *)((char *)target + d->off) < d->min)
			return cerr(c, n, "%s must be at least %ju%s%s%s", n->name, (uintmax_t)d->min,
				    d->why ? " (" : "", d->why ? d->why : "", d->why ? ")" : "");
	}
	return 0;
}

static void
conf_defaults(struct conf *cf)
{
	memset(cf, 0, sizeof(*cf));
	str_copy(cf->hostname, "localhost", sizeof(cf->hostname));
	cf->user = xstrdup("postern");
	cf->limits.max_command_length = 2048;
	cf->limits.max_data_line_length = 65536;
	cf->limits.max_recipients = 100;
	cf->limits.max_message_size = 50 * 1024 * 1024;
	cf->limits.max_errors = 10;
	cf->limits.command_timeout = 300;
	cf->limits.data_timeout = 180;
	cf->limits.session_timeout = 1800;
	cf->limits.max_connections = 1000;
	cf->limits.max_connections_per_ip = 20;
	cf->limits.shutdown_timeout = 30;
	cf->limits.tls_handshake_timeout = 30;
	cf->limits.max_header_size = 1024 * 1024;
	cf->smtp_sandbox = true;
	cf->mailauth.spf = true;
	cf->mailauth.spf_fail = MA_REJECT;
	cf->mailauth.spf_softfail = MA_ACCEPT;
	cf->mailauth.spf_permerror = MA_ACCEPT;
	cf->mailauth.spf_temperror = MA_DEFER;
	cf->mailauth.dkim_verify = true;
	cf->mailauth.dmarc = true;
	cf->mailauth.dmarc_enforce = true;
	cf->mailauth.dns_timeout = 20;
	cf->limits.line_endings = LINE_ENDINGS_STRICT;
	cf->queue.max_lifetime = 5 * 86400;
	cf->queue.retry_min = 300;
	cf->queue.retry_max = 4000;
	cf->queue.delay_warning = 4 * 3600;
	cf->queue.max_per_destination = 20;
	cf->queue.max_deliveries = 100;
	cf->queue.connect_timeout = 30;
	cf->queue.reply_timeout = 300;
	cf->queue.idle_reuse = 2;
	cf->auth.argon2_memory = 64 * 1024 * 1024;
	cf->auth.argon2_ops = 3;
	cf->auth.hash_queue = 64;
	cf->auth.cache_ttl = 3600;
	cf->auth.min_length = 12;
	cf->auth.max_length = 256;
	cf->auth.min_entropy = 40;
	cf->auth.history = 5;
	cf->auth.warn_before = 14 * 86400;
	cf->auth.totp_window = 1;
	cf->auth.scram_iterations = 50000;
	cf->guard.enabled = true;
	cf->admin.api_token_ttl = 15 * 60;
	(void)net_parse_cidr("127.0.0.0/8", &cf->admin.api_allow.net[0]);
	(void)net_parse_cidr("::1/128", &cf->admin.api_allow.net[1]);
	cf->admin.api_allow.n = 2;
	cf->audit.anchor_every = 3600;
	notices_defaults(&cf->notices);
	cf->guard.window = 600;
	cf->guard.ip_failures = 5;
	cf->guard.net_failures = 20;
	cf->guard.pair_failures = 10;
	cf->guard.account_failures = 100;
	cf->guard.account_lock_time = 3600;
	cf->guard.ban_time = 600;
	cf->guard.ban_max = 7 * 86400;
	cf->guard.tarpit = 1;
	cf->guard.tarpit_max = 15;
	cf->guard.spray_accounts = 3;
	cf->guard.stuffing_sources = 20;
	cf->guard.stuffing_accounts = 20;
	cf->guard.trust_time = 30 * 86400;
	cf->guard.conn_rate = 120;
	cf->guard.auth_rate = 30;
	cf->guard.user_messages = 500;
	cf->guard.user_recipients = 1000;
	cf->guard.greet_delay = 2;
	cf->guard.abuse_tarpit = 3;
	cf->guard.abuse_disconnect = 6;
	cf->guard.abuse_ban = 10;
	cf->guard.notify_users = true;
	cf->guard.dnsbl_threshold = 1;
	cf->guard.dnsbl_timeout = 10;
	cf->backup.keep = 7;
}

/* validate_listener_tls - defaults and the rule that submission is
 * never in plaintext (RFC 8314, practice 8). */
static int
validate_listener_tls(struct ctx *c, struct conf_listener *l)
{
	bool have_cert = c->cf->tls.ncerts > 0;
	struct conf_node at = {0};

	at.line = l->line;
	if (l->tls == LTLS_UNSET) {
		if (l->role == ROLE_MX)
			l->tls = have_cert ? LTLS_STARTTLS : LTLS_NONE;
		else
			l->tls = LTLS_REQUIRED;
	}
	if (l->role == ROLE_SUBMISSION && l->tls != LTLS_REQUIRED && l->tls != LTLS_IMPLICIT)
		return cerr(c, &at,
			    "listen %s: a submission listener needs 'tls starttls-required' or "
			    "'tls implicit': plaintext submission cannot be configured",
			    l->spec);
	if (l->tls != LTLS_NONE && !have_cert)
		return cerr(c, &at,
			    "listen %s: tls %s needs a certificate: add a tls { cert FILE; key "
			    "FILE } block%s",
			    l->spec, listen_tls_names[l->tls],
			    l->role == ROLE_SUBMISSION ? " (plaintext submission cannot be "
							 "configured)"
						       : "");
	return 0;
}

/* validate_guard - thresholds that fit the counters and each other. */
static int
validate_guard(struct ctx *c)
{
	const struct conf_guard *g = &c->cf->guard;

	if (g->spray_accounts > WINDOW_SET_MAX || g->stuffing_sources > WINDOW_SET_MAX ||
	    g->stuffing_accounts > WINDOW_SET_MAX)
		return cerr(c, c->guard_node,
			    "guard: spray_accounts, stuffing_sources and stuffing_accounts are at "
			    "most %d",
			    WINDOW_SET_MAX);
	if (g->ban_max < g->ban_time)
		return cerr(c, c->guard_node, "guard: ban_max must be at least ban_time");
	if (g->tarpit_max < g->tarpit)
		return cerr(c, c->guard_node, "guard: tarpit_max must be at least tarpit");
	if (g->tarpit_max > 60)
		return cerr(c, c->guard_node,
			    "guard: tarpit_max is at most 60s (clients give up after that)");
	if (g->greet_delay > 30)
		return cerr(c, c->guard_node,
			    "guard: greet_delay is at most 30s (RFC 5321 4.5.3.2.1 gives clients "
			    "5 minutes, but senders retry slow servers less)");
	if (g->dnsbl_timeout > 60)
		return cerr(c, c->guard_node, "guard: dnsbl_timeout is at most 60s");
	if (g->abuse_disconnect < g->abuse_tarpit || g->abuse_ban < g->abuse_disconnect)
		return cerr(c, c->guard_node,
			    "guard: abuse_tarpit <= abuse_disconnect <= abuse_ban, please");
	return 0;
}

/* conf_validate - cross-directive checks after everything is read. */
static int
conf_validate(struct ctx *c)
{
	struct conf *cf = c->cf;
	size_t i;
	if (cf->state_dir == NULL)
		return cerr(c, NULL, "missing 'state_dir' (where postern keeps its queue)");
	if (cf->nlisteners == 0)
		return cerr(c, NULL, "no 'listen' directive: postern would accept nothing");
	if (cf->queue.retry_max < cf->queue.retry_min)
		return cerr(c, c->queue_node, "queue: retry_max must be at least retry_min");
	if (cf->tls.min_version == 0)
		cf->tls.min_version = 12;
	if (cf->auth.max_length < cf->auth.min_length)
		return cerr(c, NULL, "auth: max_length must be at least min_length");
	if (!valid_pwhash_params(&(struct pwhash_params){cf->auth.argon2_memory,
							  cf->auth.argon2_ops}))
		return cerr(c, NULL,
			    "auth: argon2_memory must be 8M to 1G, argon2_ops 1 to 16, and "
			    "argon2_memory x argon2_ops at most 1G (about a second a hash)");
	if (cf->auth.scram_iterations != 0 &&
	    (cf->auth.scram_iterations < 4096 || cf->auth.scram_iterations > 1000000))
		return cerr(c, NULL,
			    "auth: scram_iterations must be 0 (no SCRAM) or 4096 to 1000000");
	if (cf->auth.totp_window > 10)
		return cerr(c, NULL, "auth: totp_window is at most 10 steps");
	if (validate_guard(c) == -1)
		return -1;
	if (cf->has_smarthost)
		cf->smarthost.tls = cf->tls.relay_policy;
	if (cf->admin.api_len > 0 && cf->tls.ncerts == 0)
		return cerr(c, NULL, "admin: the api listener needs a certificate (tls { cert; key })");
	if (cf->admin.api_len > 0 && cf->admin.napi_accounts == 0)
		return cerr(c, NULL,
			    "admin: the api listener needs at least one api_account NAME ROLE");
	for (i = 0; i < cf->nlisteners; i++)
		if (validate_listener_tls(c, &cf->listeners[i]) == -1)
			return -1;
	return 0;
}

int
conf_parse(const char *file, const char *text, size_t len, struct conf *cf, char *err,
	   size_t errsz)
{
	struct conf_node root;
	struct ctx c = {file, cf, err, errsz, NULL, NULL};
	int rc;

	conf_defaults(cf);
	if (conf_parse_text(file, text, len, &root, err, errsz) == -1) {
		conf_free(cf);
		return -1;
	}
	rc = apply(&c, &root, top_tab, nitems(top_tab), NULL);
	if (rc == 0)
		rc = conf_validate(&c);
	conf_node_free(&root);
	if (rc == -1) {
		conf_free(cf);
		return -1;
	}
	cf->path = xstrdup(file);
	return 0;
}

int
conf_read_file(const char *path, struct buf *out, char *err, size_t errsz)
{
	if (file_read(path, CONF_MAX_FILE, out) == -1) {
		if (errno == EFBIG)
			snprintf(err, errsz, "%s: larger than %d bytes", path, CONF_MAX_FILE);
		else
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
conf_load(const char *path, struct conf *cf, char *err, size_t errsz)
{
	struct buf text = BUF_INIT;
	int rc;

	if (conf_read_file(path, &text, err, errsz) == -1) {
		conf_defaults(cf);
		conf_free(cf);
		return -1;
	}
	rc = conf_parse(path, buf_cstr(&text), text.len, cf, err, errsz);
	buf_free(&text);
	return rc;
}

static void
check_free(struct conf_check *k)
{
	size_t i;

	for (i = 0; i < k->nmail_to; i++)
		free(k->mail_to[i]);
	k->nmail_to = 0;
}

void
conf_free(struct conf *cf)
{
	free(cf->path);
	free(cf->state_dir);
	free(cf->user);
	free(cf->listeners);
	free(cf->domains);
	free(cf->trusted);
	free(cf->resolvers);
	free(cf->tls.certs);
	free(cf->tls.ciphers);
	free(cf->tls.ciphersuites);
	free(cf->tls.ca_file);
	free(cf->auth.banned_file);
	free(cf->guard.dnsbl);
	free(cf->guard.alert_to);
	free(cf->guard.nftables_set);
	free(cf->guard.store);
	free(cf->mailauth.authserv_id);
	free(cf->mailauth.psl);
	free(cf->mailauth.dmarc_report_from);
	free(cf->mailauth.dmarc_report_org);
	check_free(&cf->check);
	backup_free(&cf->backup);
	free(cf->notices.dir);
	memset(cf, 0, sizeof(*cf));
}

const struct conf_domain *
conf_find_domain(const struct conf *cf, const char *domain)
{
	size_t i;

	for (i = 0; i < cf->ndomains; i++)
		if (strcasecmp(cf->domains[i].name, domain) == 0)
			return &cf->domains[i];
	return NULL;
}

const struct conf_domain *
conf_find_receiving(const struct conf *cf, const char *domain)
{
	const struct conf_domain *d = conf_find_domain(cf, domain);

	return d != NULL && d->deliver.spec[0] != '\0' ? d : NULL;
}

bool
conf_acl_match(const struct conf_acl *acl, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < acl->n; i++)
		if (net_cidr_match(&acl->net[i], sa))
			return true;
	return false;
}

bool
conf_is_trusted(const struct conf *cf, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < cf->ntrusted; i++)
		if (net_cidr_match(&cf->trusted[i], sa))
			return true;
	return false;
}

const char *
conf_role_name(enum listen_role role)
{
	return role == ROLE_MX ? "mx" : "submission";
}

/* dump_word - s as one config word followed by end: bare when the lexer
 * reads it back unchanged, else quoted with '"' and '\\' escaped. */
static void
dump_word(struct buf *out, const char *s, const char *end)
{
	const char *p;
	bool bare = *s != '\0';

	for (p = s; *p; p++)
		if (strchr(" \t\r\n{};#\"", *p) != NULL)
			bare = false;
	if (bare) {
		buf_adds(out, s);
	} else {
		buf_addc(out, '"');
		for (p = s; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_addc(out, '\\');
			buf_addc(out, *p);
		}
		buf_addc(out, '"');
	}
	buf_adds(out, end);
}

/* dump_nets - "indent name net..." on one line, nothing for an empty list. */
static void
dump_nets(struct buf *out, const char *indent, const char *name, const struct cidr *nets,
	  size_t n)
{
	char net[NET_ADDRSTRLEN + 8];
	size_t i;

	if (n == 0)
		return;
	buf_addf(out, "%s%s", indent, name);
	for (i = 0; i < n; i++)
		buf_addf(out, " %s", net_cidr_format(&nets[i], net, sizeof(net)));
	buf_adds(out, "\n");
}

/* dump_admin - the roles, the admin API and the audit anchors. */
static void
dump_admin(const struct conf *cf, struct buf *out)
{
	const struct conf_admin *a = &cf->admin;
	char addr[NET_ADDRSTRLEN + 8];
	enum admin_role r;
	size_t i;

	buf_adds(out, "admin {\n");
	for (r = ROLE_AUDITOR; r <= ROLE_ADMIN; r++) {
		bool any = false;

		for (i = 0; i < a->nprincipals; i++) {
			if (a->principals[i].role != r)
				continue;
			buf_addf(out, "%s%s%s", any ? " " : "\t", any ? "" : conf_admin_role_name(r),
				 any ? "" : " ");
			buf_addf(out, "%s%s", a->principals[i].group ? "@" : "", a->principals[i].name);
			any = true;
		}
		if (any)
			buf_adds(out, "\n");
	}
	if (a->api_len > 0)
		buf_addf(out, "\tapi %s\n",
			 net_format((const struct sockaddr *)&a->api, addr, sizeof(addr)));
	dump_nets(out, "\t", "api_allow", a->api_allow.net, a->api_allow.n);
	for (i = 0; i < a->napi_accounts; i++)
		buf_addf(out, "\tapi_account %s %s\n", a->api_accounts[i].name,
			 conf_admin_role_name(a->api_accounts[i].role));
	buf_addf(out, "\tapi_token_ttl %ju\n}\naudit {\n\tanchor_every %ju\n}\n",
		 (uintmax_t)a->api_token_ttl, (uintmax_t)cf->audit.anchor_every);
}

/* dump_dnsbl - one list as `dnsbl` or `dnswl` with its codes. */
static void
dump_dnsbl(struct buf *out, const struct dnsbl_list *l)
{
	size_t i;

	buf_addf(out, "\t%s %s %d", l->weight < 0 ? "dnswl" : "dnsbl", l->zone,
		 l->weight < 0 ? -l->weight : l->weight);
	for (i = 0; i < l->ncodes; i++) {
		const struct dnsbl_range *r = &l->codes[i];

		buf_addf(out, "%s127.%u.%u.%u", i ? "," : " ", (r->lo >> 16) & 255,
			 (r->lo >> 8) & 255, r->lo & 255);
		if (r->hi != r->lo)
			buf_addf(out, "-127.%u.%u.%u", (r->hi >> 16) & 255, (r->hi >> 8) & 255,
				 r->hi & 255);
	}
	buf_adds(out, "\n");
}

static void
dump_guard(const struct conf_guard *g, struct buf *out)
{
	size_t i;

	buf_addf(out,
		 "guard {\n\tenabled %s\n\twindow %jus\n\tip_failures %ju\n"
		 "\tnet_failures %ju\n\tpair_failures %ju\n\taccount_failures %ju\n"
		 "\taccount_lock_time %jus\n\tban_time %jus\n\tban_max %jus\n"
		 "\ttarpit %jus\n\ttarpit_max %jus\n\tspray_accounts %ju\n"
		 "\tstuffing_sources %ju\n\tstuffing_accounts %ju\n\ttrust_time %jus\n"
		 "\tconn_rate %ju\n\tauth_rate %ju\n\tuser_messages %ju\n"
		 "\tuser_recipients %ju\n\tgreet_delay %jus\n\tabuse_tarpit %ju\n"
		 "\tabuse_disconnect %ju\n\tabuse_ban %ju\n\tnotify_users %s\n",
		 g->enabled ? "yes" : "no", (uintmax_t)g->window, (uintmax_t)g->ip_failures,
		 (uintmax_t)g->net_failures, (uintmax_t)g->pair_failures,
		 (uintmax_t)g->account_failures, (uintmax_t)g->account_lock_time,
		 (uintmax_t)g->ban_time, (uintmax_t)g->ban_max, (uintmax_t)g->tarpit,
		 (uintmax_t)g->tarpit_max, (uintmax_t)g->spray_accounts,
		 (uintmax_t)g->stuffing_sources, (uintmax_t)g->stuffing_accounts,
		 (uintmax_t)g->trust_time, (uintmax_t)g->conn_rate, (uintmax_t)g->auth_rate,
		 (uintmax_t)g->user_messages, (uintmax_t)g->user_recipients,
		 (uintmax_t)g->greet_delay, (uintmax_t)g->abuse_tarpit,
		 (uintmax_t)g->abuse_disconnect, (uintmax_t)g->abuse_ban,
		 g->notify_users ? "yes" : "no");
	dump_nets(out, "\t", "allow", g->allow.net, g->allow.n);
	dump_nets(out, "\t", "deny", g->deny.net, g->deny.n);
	dump_nets(out, "\t", "exempt", g->exempt.net, g->exempt.n);
	buf_addf(out, "\tdnsbl_threshold %ju\n\tdnsbl_timeout %jus\n", (uintmax_t)g->dnsbl_threshold,
		 (uintmax_t)g->dnsbl_timeout);
	for (i = 0; i < g->ndnsbl; i++)
		dump_dnsbl(out, &g->dnsbl[i]);
	if (g->alert_to != NULL)
		buf_addf(out, "\talert_to %s\n", g->alert_to);
	if (g->nftables_set != NULL)
		buf_addf(out, "\tnftables_set %s\n", g->nftables_set);
	if (g->store != NULL) {
		buf_adds(out, "\tstore ");
		dump_word(out, g->store, "\n");
	}
	buf_adds(out, "}\n");
}

static void
dump_mailauth(const struct conf *cf, struct buf *out)
{
	const struct conf_mailauth *m = &cf->mailauth;

	buf_addf(out,
		 "mailauth {\n\tauthserv_id %s\n\tspf %s\n\tspf_fail %s\n\tspf_softfail %s\n"
		 "\tspf_permerror %s\n\tspf_temperror %s\n\tdkim_verify %s\n\tdmarc %s\n"
		 "\tdmarc_enforce %s\n\tpsl ",
		 m->authserv_id != NULL ? m->authserv_id : cf->hostname, m->spf ? "yes" : "no",
		 ma_action_names[m->spf_fail], ma_action_names[m->spf_softfail],
		 ma_action_names[m->spf_permerror], ma_action_names[m->spf_temperror],
		 m->dkim_verify ? "yes" : "no", m->dmarc ? "yes" : "no",
		 m->dmarc_enforce ? "yes" : "no");
	dump_word(out, m->psl != NULL ? m->psl : CONF_PSL_DEFAULT, "\n");
	buf_addf(out, "\tdns_timeout %jus\n", (uintmax_t)m->dns_timeout);
	if (m->dmarc_report_from != NULL)
		buf_addf(out, "\tdmarc_report_from %s\n", m->dmarc_report_from);
	if (m->dmarc_report_org != NULL) {
		buf_adds(out, "\tdmarc_report_org ");
		dump_word(out, m->dmarc_report_org, "\n");
	}
	if (m->dmarc_report_rows != 0)
		buf_addf(out, "\tdmarc_report_rows %ju\n", (uintmax_t)m->dmarc_report_rows);
	buf_adds(out, "}\n");
}

static void
dump_backup(const struct conf_backup *b, struct buf *out)
{
	if (b->every > 0)
		buf_addf(out, "backup {\n\tevery %jus\n", (uintmax_t)b->every);
	else
		buf_adds(out, "backup {\n\tevery off\n");
	buf_addf(out, "\tkeep %ju\n", (uintmax_t)b->keep);
	if (b->dir != NULL) {
		buf_adds(out, "\tdir ");
		dump_word(out, b->dir, "\n");
	}
	if (b->key_file != NULL) {
		buf_adds(out, "\tkey_file ");
		dump_word(out, b->key_file, "\n");
	}
	if (b->passphrase_file != NULL) {
		buf_adds(out, "\tpassphrase_file ");
		dump_word(out, b->passphrase_file, "\n");
	}
	buf_adds(out, "}\n");
}

static void
dump_domain(const struct conf_domain *d, struct buf *out)
{
	size_t j;

	buf_addf(out, "domain %s {\n", d->name);
	if (d->deliver.spec[0] != '\0') {
		buf_adds(out, "\tdeliver ");
		dump_word(out, d->deliver.spec, "\n");
		buf_addf(out, "\ttls %s\n", tls_policy_names[d->deliver.tls]);
	}
	if (d->ndkim > 0) {
		buf_adds(out, "\tdkim selector");
		for (j = 0; j < d->ndkim; j++)
			buf_addf(out, " %s", d->dkim[j].name);
		buf_adds(out, "\n");
	}
	buf_adds(out, "}\n");
}

/* dump_check - the check block, when the check is scheduled. */
static void
dump_check(const struct conf_check *k, struct buf *out)
{
	size_t i;

	if (k->every == 0)
		return;
	buf_addf(out, "check {\n\tevery %jus\n\tmail_to", (uintmax_t)k->every);
	for (i = 0; i < k->nmail_to; i++)
		buf_addf(out, " %s", k->mail_to[i]);
	buf_adds(out, "\n}\n");
}

/* dump_notices - the notices block, defaults included. */
static void
dump_notices(const struct conf_notices *n, struct buf *out)
{
	buf_adds(out, "notices {\n");
	if (n->dir != NULL) {
		buf_adds(out, "\tdir ");
		dump_word(out, n->dir, "\n");
	}
	buf_addf(out, "\texpiry_check_every %jus\n\tpassword_expiry %s\n}\n",
		 (uintmax_t)n->expiry_check_every, n->password_expiry ? "yes" : "no");
}

void
conf_dump(const struct conf *cf, struct buf *out)
{
	const struct conf_limits *l = &cf->limits;
	const struct conf_queue *q = &cf->queue;
	size_t i;

	buf_addf(out, "hostname %s\nstate_dir ", cf->hostname);
	dump_word(out, cf->state_dir, "\nuser ");
	dump_word(out, cf->user, "\n");
	buf_addf(out, "log %s%s\n", cf->log_syslog ? "syslog" : "stderr",
		 cf->log_debug ? " debug" : "");
	for (i = 0; i < cf->tls.ncerts; i++) {
		buf_adds(out, "tls {\n\tcert ");
		dump_word(out, cf->tls.certs[i].cert, "\n\tkey ");
		dump_word(out, cf->tls.certs[i].key, "\n");
		if (i == 0) {
			buf_addf(out, "\tmin_version TLSv1.%d\n", cf->tls.min_version == 13 ? 3 : 2);
			if (cf->tls.ciphers != NULL) {
				buf_adds(out, "\tciphers ");
				dump_word(out, cf->tls.ciphers, "\n");
			}
			if (cf->tls.ciphersuites != NULL) {
				buf_adds(out, "\tciphersuites ");
				dump_word(out, cf->tls.ciphersuites, "\n");
			}
		}
		buf_adds(out, "}\n");
	}
	for (i = 0; i < cf->nlisteners; i++) {
		const struct conf_listener *li = &cf->listeners[i];

		buf_addf(out, "listen %s {\n\trole %s\n\ttls %s\n", li->spec,
			 conf_role_name(li->role), listen_tls_names[li->tls]);
		dump_nets(out, "\t", "allow", li->allow.net, li->allow.n);
		dump_nets(out, "\t", "deny", li->deny.net, li->deny.n);
		buf_adds(out, "}\n");
	}
	for (i = 0; i < cf->ndomains; i++)
		dump_domain(&cf->domains[i], out);
	buf_adds(out, "relay {\n");
	if (cf->has_smarthost) {
		buf_adds(out, "\tsmarthost ");
		dump_word(out, cf->smarthost.spec, "\n");
	}
	buf_addf(out, "\ttls %s\n", tls_policy_names[cf->tls.relay_policy]);
	if (cf->tls.ca_file != NULL) {
		buf_adds(out, "\tca_file ");
		dump_word(out, cf->tls.ca_file, "\n");
	}
	buf_adds(out, "}\n");
	dump_nets(out, "", "trusted_networks", cf->trusted, cf->ntrusted);
	for (i = 0; i < cf->nresolvers; i++) {
		/* stored "ip@port" for libunbound; written as the config spells it */
		const char *r = cf->resolvers[i], *at = strrchr(r, '@');
		int iplen = (int)(at - r);

		buf_addf(out, memchr(r, ':', (size_t)iplen) ? "resolver [%.*s]:%s\n"
							    : "resolver %.*s:%s\n",
			 iplen, r, at + 1);
	}
	buf_addf(out,
		 "smtp {\n\tmax_command_length %ju\n\tmax_data_line_length %ju\n"
		 "\tmax_recipients %ju\n\tmax_message_size %ju\n\tmax_errors %ju\n"
		 "\tcommand_timeout %jus\n\tdata_timeout %jus\n\tsession_timeout %jus\n"
		 "\tmax_connections %ju\n\tmax_connections_per_ip %ju\n"
		 "\tshutdown_timeout %jus\n\ttls_handshake_timeout %jus\n\tmax_header_size %ju\n"
		 "\tline_endings %s\n",
		 (uintmax_t)l->max_command_length, (uintmax_t)l->max_data_line_length,
		 (uintmax_t)l->max_recipients, (uintmax_t)l->max_message_size,
		 (uintmax_t)l->max_errors, (uintmax_t)l->command_timeout,
		 (uintmax_t)l->data_timeout, (uintmax_t)l->session_timeout,
		 (uintmax_t)l->max_connections, (uintmax_t)l->max_connections_per_ip,
		 (uintmax_t)l->shutdown_timeout, (uintmax_t)l->tls_handshake_timeout,
		 (uintmax_t)l->max_header_size, l->line_endings == LINE_ENDINGS_STRICT ? "strict" : "normalize");
	buf_addf(out, "\tsandbox %s\n}\n", cf->smtp_sandbox ? "yes" : "no");
	buf_addf(out,
		 "auth {\n\targon2_memory %ju\n\targon2_ops %ju\n\thash_threads %ju\n"
		 "\thash_queue %ju\n\tcache_ttl %jus\n\tmin_length %ju\n\tmax_length %ju\n"
		 "\tmin_entropy %ju\n\thistory %ju\n\tmax_age %jus\n\twarn_before %jus\n"
		 "\ttotp_window %ju\n\tscram_iterations %ju\n",
		 (uintmax_t)cf->auth.argon2_memory, (uintmax_t)cf->auth.argon2_ops,
		 (uintmax_t)cf->auth.hash_threads, (uintmax_t)cf->auth.hash_queue,
		 (uintmax_t)cf->auth.cache_ttl, (uintmax_t)cf->auth.min_length,
		 (uintmax_t)cf->auth.max_length, (uintmax_t)cf->auth.min_entropy,
		 (uintmax_t)cf->auth.history, (uintmax_t)cf->auth.max_age,
		 (uintmax_t)cf->auth.warn_before, (uintmax_t)cf->auth.totp_window,
		 (uintmax_t)cf->auth.scram_iterations);
	if (cf->auth.banned_file != NULL) {
		buf_adds(out, "\tbanned_file ");
		dump_word(out, cf->auth.banned_file, "\n");
	}
	buf_adds(out, "}\n");
	buf_addf(out,
		 "queue {\n\tmax_lifetime %jus\n\tretry_min %jus\n\tretry_max %jus\n"
		 "\tdelay_warning %jus\n\tmax_per_destination %ju\n\tmax_deliveries %ju\n"
		 "\tconnect_timeout %jus\n\treply_timeout %jus\n\tidle_reuse %jus\n}\n",
		 (uintmax_t)q->max_lifetime, (uintmax_t)q->retry_min, (uintmax_t)q->retry_max,
		 (uintmax_t)q->delay_warning, (uintmax_t)q->max_per_destination,
		 (uintmax_t)q->max_deliveries, (uintmax_t)q->connect_timeout,
		 (uintmax_t)q->reply_timeout, (uintmax_t)q->idle_reuse);
	dump_guard(&cf->guard, out);
	dump_mailauth(cf, out);
	dump_check(&cf->check, out);
	dump_backup(&cf->backup, out);
	dump_admin(cf, out);
	dump_notices(&cf->notices, out);
	if (cf->metrics_len > 0) {
		char m[NET_ADDRSTRLEN + 8];

		buf_addf(out, "metrics %s\n",
			 net_format((const struct sockaddr *)&cf->metrics, m, sizeof(m)));
	}
}

struct conf *
conf_new_shared(const char *file, const char *text, size_t len, char *err, size_t errsz)
{
	struct conf *cf = xcalloc(1, sizeof(*cf));

	if (conf_parse(file, text, len, cf, err, errsz) == -1) {
		free(cf);
		return NULL;
	}
	cf->refs = 1;
	return cf;
}

struct conf *
conf_ref(struct conf *cf)
{
	cf->refs++;
	return cf;
}

void
conf_unref(struct conf *cf)
{
	if (cf == NULL || --cf->refs > 0)
		return;
	conf_free(cf);
	free(cf);
}
