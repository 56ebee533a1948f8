/* SPDX-License-Identifier: ISC */
/*
 * mailauth - the operator's SPF, DKIM and DMARC tools:
 *   postern spf IP MAILFROM HELO
 *   postern dkim verify < message
 *   postern dmarc check [--ip IP] [--mail-from ADDR] [--helo NAME] < message
 *   postern dns check DOMAIN [--ip ADDRESS]
 * Each prints the result and the reason, using the resolver the config
 * names (`resolver`, else the system's), with the same code the daemon
 * runs. Exit status: 0 pass, 1 anything else (or an error), 2 usage.
 *
 * SECURITY: runs as the invoking user; reads the config and the message
 * on stdin (bounded by max_message_size); DNS answers are untrusted and go
 * through the same fuzzed parsers as in the daemon.
 * STANDARDS: RFC 7208, RFC 6376, RFC 7489, RFC 8601.
 */
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
#include "conf/conf.h"
#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/net.h"
#include "lib/util.h"
#include "mailauth/authres.h"
#include "mailauth/dkim_tags.h"
#include "mailauth/dkimkey.h"
#include "mailauth/msgauth.h"
#include "mailauth/resolver.h"
#include "mailauth/spf.h"
#include "mailauth/spf_record.h"

/* The lookups of one command, bounded like the daemon's. */
struct tool {
	struct conf cf;
	struct event_base *base;
	struct dns *dns;
	struct spf_resolver res;
	struct event *deadline;
	bool done;
	/* SPF */
	struct spf_check *spf;
	enum spf_result spf_result;
	char spf_exp[SPF_EXP_MAX + 1];
	/* DKIM, DMARC */
	struct msgauth *ma;
};

static int
tool_open(struct tool *t, struct cli *c)
{
	char err[CONF_ERR_MAX + 64];

	memset(t, 0, sizeof(*t));
	if (conf_load(c->config, &t->cf, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	t->base = event_base_new();
	if (t->base == NULL) {
		fprintf(stderr, "postern: event_base_new failed\n");
		return -1;
	}
	t->dns = dns_new(t->base, &t->cf, err, sizeof(err));
	if (t->dns == NULL) {
		fprintf(stderr, "postern: no resolver: %s\n", err);
		return -1;
	}
	resolver_init(&t->res, t->dns);
	return 0;
}

static void
tool_close(struct tool *t)
{
	spf_check_free(t->spf);
	msgauth_free(t->ma);
	if (t->deadline != NULL)
		event_free(t->deadline);
	dns_free(t->dns);
	if (t->base != NULL)
		event_base_free(t->base);
	conf_free(&t->cf);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct tool *t = arg;

	(void)fd;
	(void)what;
	if (t->spf != NULL) {
		spf_check_free(t->spf);
		t->spf = NULL;
		t->spf_result = SPF_TEMPERROR;
		t->done = true;
	} else if (t->ma != NULL) {
		msgauth_deadline(t->ma);
	}
}

/* tool_wait - run the loop until done, at most dns_timeout. */
static void
tool_wait(struct tool *t)
{
	struct timeval tv = {(time_t)t->cf.mailauth.dns_timeout, 0};

	if (t->deadline == NULL)
		t->deadline = evtimer_new(t->base, on_deadline, t);
	evtimer_add(t->deadline, &tv);
	while (!t->done)
		if (event_base_loop(t->base, EVLOOP_ONCE) != 0)
			break;
	evtimer_del(t->deadline);
}

static void
on_spf(void *arg, enum spf_result r, const char *explanation)
{
	struct tool *t = arg;

	t->spf_result = r;
	if (explanation != NULL)
		str_copy(t->spf_exp, explanation, sizeof(t->spf_exp));
	spf_check_free(t->spf);
	t->spf = NULL;
	t->done = true;
}

/* run_spf - check_host() for ip, mailfrom ("" for the null sender), helo. */
static int
run_spf(struct tool *t, const char *ip, const char *mailfrom, const char *helo)
{
	struct spf_params p = {0};

	p.ip = ip;
	p.mailfrom = mailfrom;
	p.helo = helo;
	p.receiver = t->cf.hostname;
	p.now = (long long)time(NULL);
	t->done = false;
	t->spf = spf_check_new(&t->res, &p, on_spf, t);
	if (t->spf == NULL) {
		fprintf(stderr, "postern: '%s' is not an IP address\n", ip);
		return -1;
	}
	spf_check_start(t->spf);
	if (!t->done)
		tool_wait(t);
	return 0;
}

int
cli_spf(struct cli *c)
{
	struct received_spf rs = {0};
	struct buf hdr = BUF_INIT;
	const char *mailfrom;
	struct tool t;
	int rc = 1;

	if (c->nwords != 4) {
		fprintf(stderr, "usage: postern spf IP MAILFROM HELO   (MAILFROM '' or <> for the "
				"null sender)\n");
		return 2;
	}
	mailfrom = strcmp(c->words[2], "<>") == 0 ? "" : c->words[2];
	if (tool_open(&t, c) == 0 && run_spf(&t, c->words[1], mailfrom, c->words[3]) == 0) {
		printf("result: %s\n", spf_result_str(t.spf_result));
		printf("identity: %s\n", mailfrom[0] ? "mailfrom" : "helo");
		if (t.spf_result == SPF_FAIL && t.spf_exp[0])
			printf("explanation: %s\n", t.spf_exp);
		rs.result = spf_result_str(t.spf_result);
		rs.receiver = t.cf.hostname;
		rs.client_ip = c->words[1];
		rs.envelope_from = mailfrom;
		rs.helo = c->words[3];
		rs.identity = mailfrom[0] ? "mailfrom" : "helo";
		if (received_spf_compose(&rs, &hdr) == 0)
			fputs(buf_cstr(&hdr), stdout);
		rc = t.spf_result == SPF_PASS ? 0 : 1;
	}
	buf_free(&hdr);
	tool_close(&t);
	return rc;
}

/* read_message - stdin, LF line ends made CRLF, bounded. */
static int
read_message(const struct conf *cf, struct buf *out)
{
	int ch, prev = 0;

	while ((ch = getchar()) != EOF) {
		if (out->len > cf->limits.max_message_size) {
			fprintf(stderr, "postern: the message is larger than max_message_size\n");
			return -1;
		}
		if (ch == '\n' && prev != '\r')
			buf_addc(out, '\r');
		buf_addc(out, (char)ch);
		prev = ch;
	}
	if (out->len == 0) {
		fprintf(stderr, "postern: no message on standard input\n");
		return -1;
	}
	return 0;
}

static void
on_msgauth(void *arg, const struct msgauth_result *r)
{
	struct tool *t = arg;

	(void)r;
	t->done = true;
}

/* run_msgauth - DKIM (and with dmarc, DMARC) of the message on stdin. */
static int
run_msgauth(struct tool *t, struct cli *c, bool dmarc, struct dmarc_psl **psl)
{
	struct msgauth_params p = {0};
	struct buf msg = BUF_INIT;
	const char *e;
	size_t h;
	char err[256];

	if (read_message(&t->cf, &msg) == -1) {
		buf_free(&msg);
		return -1;
	}
	if (dmarc) {
		const char *path = t->cf.mailauth.psl != NULL ? t->cf.mailauth.psl : CONF_PSL_DEFAULT;

		*psl = dmarc_psl_load(path, err, sizeof(err));
		if (*psl == NULL) {
			fprintf(stderr, "postern: %s\n", err);
			buf_free(&msg);
			return -1;
		}
	}
	if (dmarc && c->ip != NULL &&
	    run_spf(t, c->ip, c->mail_from != NULL ? c->mail_from : "",
		    c->helo != NULL ? c->helo : "unknown") == -1) {
		buf_free(&msg);
		return -1;
	}
	p.authserv_id = t->cf.mailauth.authserv_id ? t->cf.mailauth.authserv_id : t->cf.hostname;
	p.ip = c->ip;
	p.helo = c->helo;
	p.mailfrom = c->mail_from;
	p.spf = t->spf_result;
	p.spf_checked = dmarc && c->ip != NULL;
	p.psl = dmarc ? *psl : NULL;
	p.dkim = true;
	p.now = time(NULL);
	t->ma = msgauth_new(&t->res, &p);
	e = memmem(msg.data, msg.len, "\r\n\r\n", 4);
	h = e != NULL ? (size_t)(e - msg.data) + 4 : msg.len;
	msgauth_header(t->ma, msg.data, h);
	msgauth_body(t->ma, msg.data + h, msg.len - h);
	buf_free(&msg);
	t->done = false;
	msgauth_run(t->ma, on_msgauth, t);
	if (!t->done)
		tool_wait(t);
	return 0;
}

static void
print_dkim(const struct msgauth_result *r)
{
	size_t i;

	if (r->ndkim == 0)
		printf("dkim: none (%s)\n", r->header_bad ? "the header section does not parse"
							  : "no DKIM-Signature");
	for (i = 0; i < r->ndkim; i++) {
		const struct dkim_sigres *d = &r->dkim[i];

		printf("dkim signature %zu: d=%s s=%s: %s (%s)%s\n", i + 1, d->d, d->s,
		       dkim_result_name(d->result), d->reason, d->testing ? " [testing key]" : "");
	}
}

static void
print_authres(const struct tool *t)
{
	struct buf ar = BUF_INIT;

	if (msgauth_authres(t->ma, &ar) == 0)
		fputs(buf_cstr(&ar), stdout);
	buf_free(&ar);
}

int
cli_dkim_verify(struct cli *c)
{
	const struct msgauth_result *r;
	struct tool t;
	size_t i;
	int rc = 1;

	if (c->nwords != 2) {
		fprintf(stderr, "usage: postern dkim verify < message\n");
		return 2;
	}
	if (tool_open(&t, c) == 0 && run_msgauth(&t, c, false, NULL) == 0) {
		r = msgauth_result(t.ma);
		print_dkim(r);
		print_authres(&t);
		rc = r->ndkim > 0 ? 0 : 1;
		for (i = 0; i < r->ndkim; i++)
			if (r->dkim[i].result != DKIM_PASS)
				rc = 1;
	}
	tool_close(&t);
	return rc;
}

int
cli_dmarc(struct cli *c)
{
	struct dmarc_psl *psl = NULL;
	const struct msgauth_result *r;
	struct tool t;
	size_t i;
	int rc = 1;

	if (c->nwords != 2 || strcmp(c->words[1], "check") != 0) {
		fprintf(stderr, "usage: postern dmarc check [--ip IP] [--mail-from ADDR] "
				"[--helo NAME] < message\n");
		return 2;
	}
	if (tool_open(&t, c) == 0 && run_msgauth(&t, c, true, &psl) == 0) {
		r = msgauth_result(t.ma);
		if (c->ip != NULL)
			printf("spf: %s\n", spf_result_str(t.spf_result));
		else
			printf("spf: not checked (give --ip, --mail-from and --helo)\n");
		print_dkim(r);
		for (i = 0; i < r->ndmarc; i++) {
			const struct msgauth_dmarc *d = &r->dmarc[i];

			printf("dmarc %s: %s (%s)", d->domain, dmarc_result_name(d->result),
			       d->reason != NULL ? d->reason : "");
			if (d->have_record)
				printf(" record at _dmarc.%s: p=%s, applies %s, pct=%u, "
				       "dkim %s, spf %s, disposition %s%s",
				       d->policy_domain, dmarc_policy_name(d->rec.p),
				       dmarc_policy_name(d->policy), d->rec.pct,
				       d->dkim_aligned ? "aligned" : "not aligned",
				       d->spf_aligned ? "aligned" : "not aligned",
				       dmarc_action_name(d->action), d->sampled_out ? " (pct)" : "");
			printf("\n");
		}
		printf("dmarc: %s, action %s\n", dmarc_result_name(r->dmarc_result),
		       dmarc_action_name(r->action));
		print_authres(&t);
		rc = r->dmarc_result == DMARC_PASS ? 0 : 1;
	}
	tool_close(&t);
	dmarc_psl_free(psl);
	return rc;
}

/* postern dns check DOMAIN: what the domain publishes, judged. */

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
	struct timeval tv = {(time_t)t->cf.mailauth.dns_timeout, 0};
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

static int verdicts_bad;

static void __attribute__((format(printf, 3, 4)))
verdict(const char *what, const char *status, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(status, "ok") != 0)
		verdicts_bad++;
	printf("%-8s %-9s ", what, status);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
publish(const char *name, const char *value)
{
	printf("         publish: %s. IN TXT \"%s\"\n", name, value);
}

/* gateway_ips - the addresses mail from this gateway comes from: its
 * listeners that are not loopback or wildcard, and its hostname's. */
struct ips {
	char ip[16][NET_ADDRSTRLEN];
	size_t n;
	bool done;
};

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
add_ip(struct ips *ips, const struct sockaddr *sa)
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
	struct ips *ips = arg;
	size_t i;

	for (i = 0; st == DNS_OK && i < a->n; i++)
		add_ip(ips, (const struct sockaddr *)&a->addr[i]);
	ips->done = true;
}

static void
gateway_ips(struct tool *t, struct ips *ips, const char *const *extra, size_t nextra)
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
	for (i = 0; i < t->cf.nlisteners; i++)
		add_ip(ips, (const struct sockaddr *)&t->cf.listeners[i].addr);
	dns_addrs(t->dns, t->cf.hostname, on_addrs, ips);
	while (!ips->done)
		if (event_base_loop(t->base, EVLOOP_ONCE) != 0)
			break;
}

static void
check_spf(struct tool *t, const char *domain, const struct ips *ips)
{
	struct spf_record *rec = xcalloc(1, sizeof(*rec));
	char err[256], sender[300], want[512];
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
		verdict("SPF", "error", "the lookup of %s failed (DNS)", domain);
	} else if (n == 0) {
		verdict("SPF", "missing", "%s publishes no SPF record", domain);
		publish(domain, want);
	} else if (n > 1) {
		verdict("SPF", "invalid", "%zu SPF records: receivers give permerror (RFC 7208 "
					  "4.5); keep one", n);
	} else if (!spf_record_is_spf1(a->txt[which].data, a->txt[which].len) ||
		   spf_record_parse(a->txt[which].data, a->txt[which].len, rec, err, sizeof(err)) !=
			   0) {
		verdict("SPF", "invalid", "\"%s\": %s", buf_cstr(&a->txt[which]), err);
		publish(domain, want);
	} else {
		bool all = ips->n > 0;

		snprintf(sender, sizeof(sender), "postmaster@%s", domain);
		for (i = 0; i < ips->n; i++) {
			run_spf(t, ips->ip[i], sender, t->cf.hostname);
			if (t->spf_result != SPF_PASS) {
				all = false;
				verdict("SPF", "mismatch", "\"%s\" gives %s for this gateway's %s",
					buf_cstr(&a->txt[which]), spf_result_str(t->spf_result),
					ips->ip[i]);
			}
		}
		if (ips->n == 0)
			verdict("SPF", "unknown", "\"%s\" parses; no public address of this gateway "
						  "is known to check it with (give --ip)",
				buf_cstr(&a->txt[which]));
		else if (all)
			verdict("SPF", "ok", "\"%s\" authorizes this gateway (%zu address%s)",
				buf_cstr(&a->txt[which]), ips->n, ips->n == 1 ? "" : "es");
		else
			printf("         add the addresses above to it, e.g.: %s\n", want);
	}
	txt_free(ap);
	free(rec);
}

/* check_dkim_selector - the published key of one configured selector,
 * against the key file in state_dir. */
static void
check_dkim_selector(struct tool *t, const char *domain, const char *sel)
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
	have_local = dkimkey_load(t->cf.state_dir, domain, sel, &local, err, sizeof(err)) == 0;
	ap = lookup_txt(t, name);
	for (i = 0; i < ap->n && found == 0; i++)
		if (dkim_key_parse(ap->txt[i].data, ap->txt[i].len, pub, &why) == 0)
			found = i + 1;
	if (ap->st == SPF_DNS_TEMPFAIL)
		verdict("DKIM", "error", "the lookup of %s failed (DNS)", name);
	else if (found == 0)
		verdict("DKIM", ap->n ? "invalid" : "missing", "%s: %s", name,
			ap->n ? why : "no key record, so receivers cannot verify our signatures");
	else if (pub->revoked)
		verdict("DKIM", "revoked", "%s: p= is empty (the key is withdrawn) but selector %s "
					   "still signs",
			name, sel);
	else if (!have_local)
		verdict("DKIM", "unknown", "%s is published; the local key cannot be read: %s", name,
			err);
	else if (pub->p_len != local.pub_len || memcmp(pub->p, local.pub, pub->p_len) != 0)
		verdict("DKIM", "mismatch", "%s is not the public half of the key in state_dir: "
					    "receivers will fail our signatures",
			name);
	else
		verdict("DKIM", "ok", "%s matches the key in state_dir%s", name,
			pub->testing ? " (t=y: testing, receivers treat failures as none)" : "");
	if (have_local && ap->st != SPF_DNS_TEMPFAIL &&
	    (found == 0 || pub->revoked || pub->p_len != local.pub_len ||
	     memcmp(pub->p, local.pub, pub->p_len) != 0)) {
		/* a zone line: an RSA key needs several strings of 255 bytes */
		buf_reset(&want);
		if (dkimkey_zone_line(domain, sel, &local, &want) == 0)
			printf("         publish: %s\n", buf_cstr(&want));
	}
	txt_free(ap);
	dkimkey_clear(&local);
	buf_free(&want);
	free(pub);
}

static void
check_dkim(struct tool *t, const char *domain)
{
	const struct conf_domain *d = conf_find_domain(&t->cf, domain);
	size_t i;

	if (d == NULL || d->ndkim == 0) {
		verdict("DKIM", "unknown", "no selector signs %s here (add 'dkim selector' to its "
					   "domain block, after 'postern dkim keygen')",
			domain);
		return;
	}
	for (i = 0; i < d->ndkim; i++)
		check_dkim_selector(t, domain, d->dkim[i].name);
}

static void
check_dmarc(struct tool *t, const char *domain)
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
		verdict("DMARC", "error", "the lookup of %s failed (DNS)", name);
	else if (n == 0) {
		verdict("DMARC", "missing", "%s publishes no DMARC policy: anyone may use it in From:",
			domain);
		publish(name, want);
	} else if (n > 1) {
		verdict("DMARC", "invalid", "%zu DMARC records: receivers ignore them all (RFC 7489 "
					    "6.6.3); keep one", n);
	} else if (dmarc_record_parse(a->txt[which].data, a->txt[which].len, &rec, err,
				      sizeof(err)) != 0) {
		verdict("DMARC", "invalid", "\"%s\": %s", buf_cstr(&a->txt[which]), err);
		publish(name, want);
	} else if (rec.p == DMARC_P_NONE || rec.pct < 100) {
		verdict("DMARC", "weak", "\"%s\": p=%s pct=%u only monitors; once the reports show "
					 "your mail passing, enforce it",
			buf_cstr(&a->txt[which]), dmarc_policy_name(rec.p), rec.pct);
		publish(name, want);
	} else {
		verdict("DMARC", "ok", "\"%s\": p=%s%s", buf_cstr(&a->txt[which]),
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
check_mta_sts(struct tool *t, const char *domain)
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
		verdict("MTA-STS", "error", "the lookup of %s failed (DNS)", name);
	} else if (n != 1) {
		verdict("MTA-STS", n ? "invalid" : "missing",
			n ? "%s has %zu STS records (RFC 8461 3.1: exactly one)"
			  : "%s: no MTA-STS, so senders cannot insist on TLS to you (%zu records)",
			name, n);
		publish(name, want);
		printf("         and serve the policy at https://mta-sts.%s/.well-known/mta-sts.txt\n",
		       domain);
	} else {
		const char *v = buf_cstr(&a->txt[which]), *id = strstr(v, "id=");
		size_t idlen = id != NULL ? strcspn(id + 3, "; \t") : 0;

		if (id == NULL || !sts_id_ok(id + 3, idlen))
			verdict("MTA-STS", "invalid", "\"%s\": id= must be 1-32 letters and digits", v);
		else
			verdict("MTA-STS", "ok", "\"%s\" (the policy file itself is not fetched)", v);
	}
	txt_free(ap);
}

static void
check_tlsrpt(struct tool *t, const char *domain)
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
		verdict("TLS-RPT", "error", "the lookup of %s failed (DNS)", name);
	} else if (n != 1) {
		verdict("TLS-RPT", n ? "invalid" : "missing",
			n ? "%s has %zu TLS-RPT records (RFC 8460 3: exactly one)"
			  : "%s: no TLS reporting address, so you never hear of failed TLS (%zu)",
			name, n);
		publish(name, want);
	} else if (strstr(buf_cstr(&a->txt[which]), "rua=mailto:") == NULL &&
		   strstr(buf_cstr(&a->txt[which]), "rua=https:") == NULL) {
		verdict("TLS-RPT", "invalid", "\"%s\": rua= needs a mailto: or https: address",
			buf_cstr(&a->txt[which]));
		publish(name, want);
	} else {
		verdict("TLS-RPT", "ok", "\"%s\"", buf_cstr(&a->txt[which]));
	}
	txt_free(ap);
}

int
cli_dns_check(struct cli *c)
{
	const char *domain, *extra[1];
	struct ips ips;
	struct tool t;
	int rc = 1;

	if (c->nwords != 3 || strcmp(c->words[1], "check") != 0) {
		fprintf(stderr, "usage: postern dns check DOMAIN [--ip ADDRESS]\n");
		return 2;
	}
	domain = c->words[2];
	if (tool_open(&t, c) == 0) {
		extra[0] = c->ip;
		gateway_ips(&t, &ips, extra, c->ip != NULL ? 1 : 0);
		verdicts_bad = 0;
		printf("DNS records of %s (this gateway: %s", domain, t.cf.hostname);
		for (size_t i = 0; i < ips.n; i++)
			printf("%s%s", i ? ", " : " at ", ips.ip[i]);
		printf(")\n");
		check_spf(&t, domain, &ips);
		check_dkim(&t, domain);
		check_dmarc(&t, domain);
		check_mta_sts(&t, domain);
		check_tlsrpt(&t, domain);
		rc = verdicts_bad == 0 ? 0 : 1;
	}
	tool_close(&t);
	return rc;
}
