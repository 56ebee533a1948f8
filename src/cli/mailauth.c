/* SPDX-License-Identifier: ISC */
/*
 * mailauth - the operator's SPF, DKIM and DMARC tools:
 *   postern spf IP MAILFROM HELO
 *   postern dkim verify < message
 *   postern dmarc check [--ip IP] [--mail-from ADDR] [--helo NAME] < message
 * (and the lookup context they share with `postern dns check`, mailauth.h).
 * Each prints the result and the reason, using the resolver the config
 * names (`resolver`, else the system's), with the same code the daemon
 * runs. Exit status: 0 pass, 1 anything else (or an error), 2 usage.
 *
 * SECURITY: runs as the invoking user; reads the config and the message
 * on stdin (bounded by max_message_size); DNS answers are untrusted and go
 * through the same fuzzed parsers as in the daemon.
 * STANDARDS: RFC 7208, RFC 6376, RFC 7489, RFC 8601.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/mailauth.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/authres.h"
#include "mailauth/msgauth.h"
#include "mailauth/resolver.h"
#include "mailauth/spf.h"

/* tool_start - the loop and the resolver for t->cf. */
static int
tool_start(struct tool *t)
{
	char err[CONF_ERR_MAX + 64];

	t->base = event_base_new();
	if (t->base == NULL) {
		fprintf(stderr, "postern: event_base_new failed\n");
		return -1;
	}
	t->dns = dns_new(t->base, t->cf, err, sizeof(err));
	if (t->dns == NULL) {
		fprintf(stderr, "postern: no resolver: %s\n", err);
		return -1;
	}
	resolver_init(&t->res, t->dns);
	return 0;
}

int
tool_open(struct tool *t, const char *path)
{
	char err[CONF_ERR_MAX + 64];

	memset(t, 0, sizeof(*t));
	t->cf = &t->own;
	if (conf_load(path, &t->own, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	return tool_start(t);
}

int
tool_open_conf(struct tool *t, const struct conf *cf)
{
	memset(t, 0, sizeof(*t));
	t->cf = cf;
	return tool_start(t);
}

void
tool_close(struct tool *t)
{
	spf_check_free(t->spf);
	msgauth_free(t->ma);
	if (t->deadline != NULL)
		event_free(t->deadline);
	dns_free(t->dns);
	if (t->base != NULL)
		event_base_free(t->base);
	if (t->cf == &t->own)
		conf_free(&t->own);
	t->cf = NULL;
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

void
tool_wait(struct tool *t)
{
	struct timeval tv = {(time_t)t->cf->mailauth.dns_timeout, 0};

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

int
tool_spf(struct tool *t, const char *ip, const char *mailfrom, const char *helo)
{
	struct spf_params p = {0};

	p.ip = ip;
	p.mailfrom = mailfrom;
	p.helo = helo;
	p.receiver = t->cf->hostname;
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
	if (tool_open(&t, c->config) == 0 && tool_spf(&t, c->words[1], mailfrom, c->words[3]) == 0) {
		printf("result: %s\n", spf_result_str(t.spf_result));
		printf("identity: %s\n", mailfrom[0] ? "mailfrom" : "helo");
		if (t.spf_result == SPF_FAIL && t.spf_exp[0])
			printf("explanation: %s\n", t.spf_exp);
		rs.result = spf_result_str(t.spf_result);
		rs.receiver = t.cf->hostname;
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

	if (read_message(t->cf, &msg) == -1) {
		buf_free(&msg);
		return -1;
	}
	if (dmarc) {
		const char *path = t->cf->mailauth.psl != NULL ? t->cf->mailauth.psl : CONF_PSL_DEFAULT;

		*psl = dmarc_psl_load(path, err, sizeof(err));
		if (*psl == NULL) {
			fprintf(stderr, "postern: %s\n", err);
			buf_free(&msg);
			return -1;
		}
	}
	if (dmarc && c->ip != NULL &&
	    tool_spf(t, c->ip, c->mail_from != NULL ? c->mail_from : "",
		    c->helo != NULL ? c->helo : "unknown") == -1) {
		buf_free(&msg);
		return -1;
	}
	p.authserv_id = t->cf->mailauth.authserv_id ? t->cf->mailauth.authserv_id : t->cf->hostname;
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
	if (tool_open(&t, c->config) == 0 && run_msgauth(&t, c, false, NULL) == 0) {
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
	if (tool_open(&t, c->config) == 0 && run_msgauth(&t, c, true, &psl) == 0) {
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

