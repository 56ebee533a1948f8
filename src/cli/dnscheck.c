/* SPDX-License-Identifier: ISC */
/*
 * dnscheck - a domain's mail records judged for this gateway (see
 * dnscheck.h), and `postern dns check DOMAIN [--ip ADDRESS]`.
 *
 * SECURITY: see dnscheck.h. Every lookup waits at most dns_timeout; an
 * answer that arrives after its deadline frees itself.
 * STANDARDS: RFC 7208 4.5 (one SPF record), RFC 7489 6.6.3 (one DMARC
 * record), RFC 8461 3.1, RFC 8460 3.
 */
#include "cli/dnscheck.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/mailauth.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/net.h"
#include "lib/util.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_tags.h"
#include "mailauth/dkimkey.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"
#include "mailauth/spf_record.h"

#define CHECK_TXT_MAX 8

struct txt_answer {
	enum spf_dns_status st;
	struct buf txt[CHECK_TXT_MAX];
	size_t n;
	bool done;
	bool abandoned; /* the deadline passed: the answer frees it */
};

static void
txt_release(struct txt_answer *a)
{
	size_t i;

	for (i = 0; i < CHECK_TXT_MAX; i++)
		buf_free(&a->txt[i]);
	free(a);
}

static void
on_txt(void *arg, enum spf_dns_status st, const struct spf_rr *rr, size_t n)
{
	struct txt_answer *a = arg;
	size_t i;

	if (a->abandoned) {
		txt_release(a);
		return;
	}
	a->st = st;
	for (i = 0; st == SPF_DNS_OK && i < n && a->n < CHECK_TXT_MAX; i++)
		buf_add(&a->txt[a->n++], rr[i].text, rr[i].len);
	a->done = true;
}

static void
on_txt_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* lookup_txt - the TXT records at name, waiting at most dns_timeout (then
 * the status is a temporary failure). Free with txt_free. */
static struct txt_answer *
lookup_txt(struct tool *t, const char *name)
{
	struct timeval tv = {(time_t)t->cf->mailauth.dns_timeout, 0};
	struct event *ev = evtimer_new(t->base, on_txt_deadline, NULL);
	struct txt_answer *a = xcalloc(1, sizeof(*a));

	a->st = SPF_DNS_TEMPFAIL;
	t->res.query(t->res.ctx, SPF_RR_TXT, name, on_txt, a);
	evtimer_add(ev, &tv);
	while (!a->done && evtimer_pending(ev, NULL))
		if (event_base_loop(t->base, EVLOOP_ONCE) != 0)
			break;
	event_free(ev);
	return a;
}

static void
txt_free(struct txt_answer *a)
{
	if (a->done)
		txt_release(a);
	else
		a->abandoned = true;
}

/* records_with - the records that start with prefix (case-insensitive). */
static size_t
records_with(const struct txt_answer *a, const char *prefix, size_t *which)
{
	size_t i, n = 0, len = strlen(prefix);

	for (i = 0; i < a->n; i++)
		if (a->txt[i].len >= len && strncasecmp(a->txt[i].data, prefix, len) == 0) {
			if (n++ == 0)
				*which = i;
		}
	return n;
}

/* verdict - a new judgement in r (the last one is reused when r is full:
 * DNSCHECK_VERDICTS_MAX is more than one domain can get). */
static void __attribute__((format(printf, 4, 5)))
verdict(struct dns_report *r, const char *what, const char *status, const char *fmt, ...)
{
	struct dns_verdict *v;
	va_list ap;

	if (r->n == DNSCHECK_VERDICTS_MAX)
		r->n--;
	v = &r->v[r->n++];
	str_copy(v->what, what, sizeof(v->what));
	str_copy(v->status, status, sizeof(v->status));
	buf_reset(&v->text);
	buf_reset(&v->fix);
	va_start(ap, fmt);
	buf_vaddf(&v->text, fmt, ap);
	va_end(ap);
}

/* fix - a line of advice under the last verdict. */
static void __attribute__((format(printf, 2, 3)))
fix(struct dns_report *r, const char *fmt, ...)
{
	struct buf *b = &r->v[r->n - 1].fix;
	va_list ap;

	if (b->len > 0)
		buf_addc(b, '\n');
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

static void
publish(struct dns_report *r, const char *name, const char *value)
{
	fix(r, "publish: %s. IN TXT \"%s\"", name, value);
}

/* not_public - loopback or the wildcard: not an address others see. */
static bool
not_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		return a == 0 || (a >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return true;
}

static void
add_ip(struct dns_ips *ips, const struct sockaddr *sa)
{
	char s[NET_ADDRSTRLEN];
	size_t i;

	if (not_public(sa) || ips->n == nitems(ips->ip))
		return;
	net_ntop(sa, s, sizeof(s));
	for (i = 0; i < ips->n; i++)
		if (strcmp(ips->ip[i], s) == 0)
			return;
	str_copy(ips->ip[ips->n++], s, sizeof(ips->ip[0]));
}

static void
on_addrs(void *arg, enum dns_status st, const struct dns_addrs *a)
{
	struct dns_ips *ips = arg;
	size_t i;

	for (i = 0; st == DNS_OK && i < a->n; i++)
		add_ip(ips, (const struct sockaddr *)&a->addr[i]);
	ips->done = true;
}

void
dnscheck_gateway_ips(struct tool *t, struct dns_ips *ips, const char *const *extra, size_t nextra)
{
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	memset(ips, 0, sizeof(*ips));
	for (i = 0; i < nextra; i++)
		if (net_parse_ip(extra[i], &ss, &len) == 0 && ips->n < nitems(ips->ip))
			str_copy(ips->ip[ips->n++], extra[i], sizeof(ips->ip[0]));
	if (nextra > 0)
		return;
	for (i = 0; i < t->cf->nlisteners; i++)
		add_ip(ips, (const struct sockaddr *)&t->cf->listeners[i].addr);
	dns_addrs(t->dns, t->cf->hostname, on_addrs, ips);
	while (!ips->done)
		if (event_base_loop(t->base, EVLOOP_ONCE) != 0)
			break;
}

/* spf_all_open - +all or ?all: the record lets anyone pass, or leaves
 * anyone neutral, which receivers treat as no SPF at all (RFC 7208 8.2). */
static bool
spf_all_open(const struct spf_record *rec)
{
	size_t i = 0;

	while (i < rec->nterms && rec->term[i].mech != SPF_MECH_ALL)
		i++; /* evaluation stops at the first all */
	return i < rec->nterms &&
	       (rec->term[i].qual == SPF_QUAL_PASS || rec->term[i].qual == SPF_QUAL_NEUTRAL);
}

/* spf_eval - check_host() for each gateway address against a record that
 * parses. */
static void
spf_eval(struct tool *t, const char *domain, const struct dns_ips *ips, const char *text,
	 const char *want, struct dns_report *r)
{
	char sender[300];
	bool all = ips->n > 0;
	size_t i;

	snprintf(sender, sizeof(sender), "postmaster@%s", domain);
	for (i = 0; i < ips->n; i++) {
		tool_spf(t, ips->ip[i], sender, t->cf->hostname);
		if (t->spf_result != SPF_PASS) {
			all = false;
			verdict(r, "SPF", "mismatch", "\"%s\" gives %s for this gateway's %s", text,
				spf_result_str(t->spf_result), ips->ip[i]);
		}
	}
	if (ips->n == 0)
		verdict(r, "SPF", "unknown", "\"%s\" parses; no public address of this gateway "
					  "is known to check it with (give --ip)",
			text);
	else if (all)
		verdict(r, "SPF", "ok", "\"%s\" authorizes this gateway (%zu address%s)", text,
			ips->n, ips->n == 1 ? "" : "es");
	else
		fix(r, "add the addresses above to it, e.g.: %s", want);
}

static void
check_spf(struct tool *t, const char *domain, const struct dns_ips *ips, struct dns_report *r)
{
	struct spf_record *rec = xcalloc(1, sizeof(*rec));
	char err[256], want[512];
	struct txt_answer *ap = lookup_txt(t, domain);
	const struct txt_answer *a = ap;
	size_t which = 0, n, i;

	n = records_with(a, "v=spf1", &which);
	snprintf(want, sizeof(want), "v=spf1 mx");
	for (i = 0; i < ips->n; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), " %s:%s",
			 strchr(ips->ip[i], ':') ? "ip6" : "ip4", ips->ip[i]);
	snprintf(want + strlen(want), sizeof(want) - strlen(want), " -all");
	if (a->st == SPF_DNS_TEMPFAIL) {
		verdict(r, "SPF", "error", "the lookup of %s failed (DNS)", domain);
	} else if (n == 0) {
		verdict(r, "SPF", "missing", "%s publishes no SPF record", domain);
		publish(r, domain, want);
	} else if (n > 1) {
		verdict(r, "SPF", "invalid", "%zu SPF records: receivers give permerror (RFC 7208 "
					  "4.5); keep one", n);
	} else if (!spf_record_is_spf1(a->txt[which].data, a->txt[which].len) ||
		   spf_record_parse(a->txt[which].data, a->txt[which].len, rec, err, sizeof(err)) !=
			   0) {
		verdict(r, "SPF", "invalid", "\"%s\": %s", buf_cstr(&a->txt[which]), err);
		publish(r, domain, want);
	} else if (spf_all_open(rec)) {
		verdict(r, "SPF", "weak", "\"%s\" ends in +all or ?all: anyone may send as %s",
			buf_cstr(&a->txt[which]), domain);
		publish(r, domain, want);
	} else {
		spf_eval(t, domain, ips, buf_cstr(&a->txt[which]), want, r);
	}
	txt_free(ap);
	free(rec);
}

/* check_dkim_selector - the published key of one configured selector,
 * against the key file in state_dir. */
static void
check_dkim_selector(struct tool *t, const char *domain, const char *sel, struct dns_report *r)
{
	struct dkim_key *pub = xcalloc(1, sizeof(*pub));
	struct dkimkey local = {0};
	struct buf want = BUF_INIT;
	char name[DKIM_QNAME_MAX + 1], err[512];
	struct txt_answer *ap;
	const char *why = NULL;
	bool have_local;
	size_t i, found = 0;

	snprintf(name, sizeof(name), "%s._domainkey.%s", sel, domain);
	have_local = dkimkey_load(t->cf->state_dir, domain, sel, &local, err, sizeof(err)) == 0;
	ap = lookup_txt(t, name);
	for (i = 0; i < ap->n && found == 0; i++)
		if (dkim_key_parse(ap->txt[i].data, ap->txt[i].len, pub, &why) == 0)
			found = i + 1;
	if (ap->st == SPF_DNS_TEMPFAIL)
		verdict(r, "DKIM", "error", "the lookup of %s failed (DNS)", name);
	else if (found == 0)
		verdict(r, "DKIM", ap->n ? "invalid" : "missing", "%s: %s", name,
			ap->n ? why : "no key record, so receivers cannot verify our signatures");
	else if (pub->revoked)
		verdict(r, "DKIM", "revoked", "%s: p= is empty (the key is withdrawn) but selector %s "
					   "still signs",
			name, sel);
	else if (!have_local)
		verdict(r, "DKIM", "unknown", "%s is published; the local key cannot be read: %s", name,
			err);
	else if (pub->p_len != local.pub_len || memcmp(pub->p, local.pub, pub->p_len) != 0)
		verdict(r, "DKIM", "mismatch", "%s is not the public half of the key in state_dir: "
					    "receivers will fail our signatures",
			name);
	else
		verdict(r, "DKIM", "ok", "%s matches the key in state_dir%s", name,
			pub->testing ? " (t=y: testing, receivers treat failures as none)" : "");
	if (have_local && ap->st != SPF_DNS_TEMPFAIL &&
	    (found == 0 || pub->revoked || pub->p_len != local.pub_len ||
	     memcmp(pub->p, local.pub, pub->p_len) != 0)) {
		/* a zone line: an RSA key needs several strings of 255 bytes */
		buf_reset(&want);
		if (dkimkey_zone_line(domain, sel, &local, &want) == 0)
			fix(r, "publish: %s", buf_cstr(&want));
	}
	txt_free(ap);
	dkimkey_clear(&local);
	buf_free(&want);
	free(pub);
}

static void
check_dkim(struct tool *t, const char *domain, struct dns_report *r)
{
	const struct conf_domain *d = conf_find_domain(t->cf, domain);
	size_t i;

	if (d == NULL || d->ndkim == 0) {
		verdict(r, "DKIM", "unknown", "no selector signs %s here (add 'dkim selector' to its "
					   "domain block, after 'postern dkim keygen')",
			domain);
		return;
	}
	for (i = 0; i < d->ndkim; i++)
		check_dkim_selector(t, domain, d->dkim[i].name, r);
}

static void
check_dmarc(struct tool *t, const char *domain, struct dns_report *r)
{
	struct dmarc_record rec;
	char name[300], err[200], want[400];
	struct txt_answer *ap;
	const struct txt_answer *a;
	size_t which = 0, n;

	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	snprintf(want, sizeof(want), "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@%s", domain);
	ap = lookup_txt(t, name);
	a = ap;
	n = records_with(a, "v=DMARC1", &which);
	if (a->st == SPF_DNS_TEMPFAIL)
		verdict(r, "DMARC", "error", "the lookup of %s failed (DNS)", name);
	else if (n == 0) {
		verdict(r, "DMARC", "missing", "%s publishes no DMARC policy: anyone may use it in From:",
			domain);
		publish(r, name, want);
	} else if (n > 1) {
		verdict(r, "DMARC", "invalid", "%zu DMARC records: receivers ignore them all (RFC 7489 "
					    "6.6.3); keep one", n);
	} else if (dmarc_record_parse(a->txt[which].data, a->txt[which].len, &rec, err,
				      sizeof(err)) != 0) {
		verdict(r, "DMARC", "invalid", "\"%s\": %s", buf_cstr(&a->txt[which]), err);
		publish(r, name, want);
	} else if (rec.p == DMARC_P_NONE || rec.pct < 100) {
		verdict(r, "DMARC", "weak", "\"%s\": p=%s pct=%u only monitors; once the reports show "
					 "your mail passing, enforce it",
			buf_cstr(&a->txt[which]), dmarc_policy_name(rec.p), rec.pct);
		publish(r, name, want);
	} else {
		verdict(r, "DMARC", "ok", "\"%s\": p=%s%s", buf_cstr(&a->txt[which]),
			dmarc_policy_name(rec.p), rec.nrua ? "" : " (no rua=: you get no reports)");
	}
	txt_free(ap);
}

/* sts_id_ok - RFC 8461 3.1: id is 1 to 32 letters and digits. */
static bool
sts_id_ok(const char *v, size_t n)
{
	size_t i;

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= 'A' && v[i] <= 'Z')))
			return false;
	return true;
}

static void
check_mta_sts(struct tool *t, const char *domain, struct dns_report *r)
{
	char name[300], want[64];
	struct txt_answer *ap;
	const struct txt_answer *a;
	size_t which = 0, n;
	time_t now = time(NULL);
	struct tm tm;

	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	gmtime_r(&now, &tm);
	strftime(want, sizeof(want), "v=STSv1; id=%Y%m%d01", &tm);
	ap = lookup_txt(t, name);
	a = ap;
	n = records_with(a, "v=STSv1", &which);
	if (a->st == SPF_DNS_TEMPFAIL) {
		verdict(r, "MTA-STS", "error", "the lookup of %s failed (DNS)", name);
	} else if (n != 1) {
		verdict(r, "MTA-STS", n ? "invalid" : "missing",
			n ? "%s has %zu STS records (RFC 8461 3.1: exactly one)"
			  : "%s: no MTA-STS, so senders cannot insist on TLS to you (%zu records)",
			name, n);
		publish(r, name, want);
		fix(r, "and serve the policy at https://mta-sts.%s/.well-known/mta-sts.txt",
		       domain);
	} else {
		const char *v = buf_cstr(&a->txt[which]), *id = strstr(v, "id=");
		size_t idlen = id != NULL ? strcspn(id + 3, "; \t") : 0;

		if (id == NULL || !sts_id_ok(id + 3, idlen))
			verdict(r, "MTA-STS", "invalid", "\"%s\": id= must be 1-32 letters and digits", v);
		else
			verdict(r, "MTA-STS", "ok", "\"%s\" (the policy file itself is not fetched)", v);
	}
	txt_free(ap);
}

static void
check_tlsrpt(struct tool *t, const char *domain, struct dns_report *r)
{
	char name[300], want[300];
	struct txt_answer *ap;
	const struct txt_answer *a;
	size_t which = 0, n;

	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	snprintf(want, sizeof(want), "v=TLSRPTv1; rua=mailto:tls-reports@%s", domain);
	ap = lookup_txt(t, name);
	a = ap;
	n = records_with(a, "v=TLSRPTv1", &which);
	if (a->st == SPF_DNS_TEMPFAIL) {
		verdict(r, "TLS-RPT", "error", "the lookup of %s failed (DNS)", name);
	} else if (n != 1) {
		verdict(r, "TLS-RPT", n ? "invalid" : "missing",
			n ? "%s has %zu TLS-RPT records (RFC 8460 3: exactly one)"
			  : "%s: no TLS reporting address, so you never hear of failed TLS (%zu)",
			name, n);
		publish(r, name, want);
	} else if (strstr(buf_cstr(&a->txt[which]), "rua=mailto:") == NULL &&
		   strstr(buf_cstr(&a->txt[which]), "rua=https:") == NULL) {
		verdict(r, "TLS-RPT", "invalid", "\"%s\": rua= needs a mailto: or https: address",
			buf_cstr(&a->txt[which]));
		publish(r, name, want);
	} else {
		verdict(r, "TLS-RPT", "ok", "\"%s\"", buf_cstr(&a->txt[which]));
	}
	txt_free(ap);
}

void
dnscheck_domain(struct tool *t, const char *domain, const struct dns_ips *ips,
		struct dns_report *r)
{
	memset(r, 0, sizeof(*r));
	check_spf(t, domain, ips, r);
	check_dkim(t, domain, r);
	check_dmarc(t, domain, r);
	check_mta_sts(t, domain, r);
	check_tlsrpt(t, domain, r);
}

/* put_printable - s with control bytes and non-ASCII as '?': record text
 * comes from DNS and must not drive the terminal. */
static void
put_printable(const char *s, FILE *out)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?', out);
}

void
dns_report_print(const struct dns_report *r, FILE *out)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct dns_verdict *v = &r->v[i];
		const char *p = buf_cstr(&v->fix), *nl;

		fprintf(out, "%-8s %-9s ", v->what, v->status);
		put_printable(buf_cstr(&v->text), out);
		fputc('\n', out);
		while (*p != '\0') {
			char line[2048];

			nl = strchr(p, '\n');
			snprintf(line, sizeof(line), "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
			fputs("         ", out);
			put_printable(line, out);
			fputc('\n', out);
			p = nl ? nl + 1 : p + strlen(p);
		}
	}
}

bool
dns_report_ok(const struct dns_report *r)
{
	size_t i;
	bool ok = true;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].status, "ok") != 0)
			ok = false;
	return ok;
}

void
dns_report_free(struct dns_report *r)
{
	size_t i;

	for (i = 0; i < DNSCHECK_VERDICTS_MAX; i++) {
		buf_free(&r->v[i].text);
		buf_free(&r->v[i].fix);
	}
	r->n = 0;
}

int
cli_dns_check(struct cli *c)
{
	struct dns_report *r = xcalloc(1, sizeof(*r));
	const char *domain, *extra[1];
	struct dns_ips ips;
	struct tool t;
	int rc = 1;

	if (c->nwords != 3 || strcmp(c->words[1], "check") != 0) {
		free(r);
		fprintf(stderr, "usage: postern dns check DOMAIN [--ip ADDRESS]\n");
		return 2;
	}
	domain = c->words[2];
	if (tool_open(&t, c->config) == 0) {
		extra[0] = c->ip;
		dnscheck_gateway_ips(&t, &ips, extra, c->ip != NULL ? 1 : 0);
		printf("DNS records of %s (this gateway: %s", domain, t.cf->hostname);
		for (size_t i = 0; i < ips.n; i++)
			printf("%s%s", i ? ", " : " at ", ips.ip[i]);
		printf(")\n");
		dnscheck_domain(&t, domain, &ips, r);
		dns_report_print(r, stdout);
		rc = dns_report_ok(r) ? 0 : 1;
		dns_report_free(r);
	}
	tool_close(&t);
	free(r);
	return rc;
}
