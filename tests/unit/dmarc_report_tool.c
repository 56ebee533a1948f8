/* SPDX-License-Identifier: ISC */
/*
 * dmarc_report_tool - not a unit test: the DMARC report path of
 * src/mailauth/dmarc_report.c end to end, for
 * tests/integration/test_dmarc_report.py, which validates what it writes
 * against the RFC 7489 Appendix C schema with xmllint.
 *
 *   dmarc_report_tool DIR
 *       records a fixed set of evaluations in DIR/dmarc.db, then for each
 *       domain of the period writes DIR/DOMAIN.xml (the report) and
 *       DIR/DOMAIN.eml (the mail carrying it), prints
 *       "DOMAIN BEGIN END STATUS:ADDR ..." (one target per rua= URI) and
 *       deletes the domain's rows. Exit 0, or 1 with a message.
 *
 * The evaluations carry the awkward cases: IPv6 and IPv4-mapped sources,
 * the null sender, several DKIM results, an SPF helo result, an override
 * comment full of markup characters, a UTF-8 From domain, and a third-party
 * rua= that the (simulated) DNS answer authorises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/dmarc_report.h"

#define BEGIN INT64_C(1700006400) /* 2023-11-15 00:00:00 UTC */
#define END (BEGIN + 86400)

static int
die(const char *what, const char *why)
{
	fprintf(stderr, "dmarc_report_tool: %s: %s\n", what, why);
	return 1;
}

static struct dmarc_eval
base(int64_t t, const char *ip, const char *record)
{
	struct dmarc_eval e;
	struct dmarc_record r;
	char err[128];

	memset(&e, 0, sizeof(e));
	e.time = t;
	str_copy(e.source_ip, ip, sizeof(e.source_ip));
	str_copy(e.header_from, "example.org", sizeof(e.header_from));
	str_copy(e.envelope_from, "bounces.example.org", sizeof(e.envelope_from));
	str_copy(e.envelope_to, "example.net", sizeof(e.envelope_to));
	if (dmarc_record_parse(record, strlen(record), &r, err, sizeof(err)) == -1 ||
	    dmarc_eval_set_policy(&e, "example.org", &r) == -1)
		abort();
	e.dkim_pass = e.spf_pass = true;
	e.ndkim = 1;
	str_copy(e.dkim[0].domain, "example.org", sizeof(e.dkim[0].domain));
	str_copy(e.dkim[0].selector, "s2023", sizeof(e.dkim[0].selector));
	e.dkim[0].result = DMARC_DKIM_PASS;
	str_copy(e.spf.domain, "bounces.example.org", sizeof(e.spf.domain));
	e.spf.result = SPF_PASS;
	return e;
}

/* record_all - the sample evaluations. */
static int
record_all(struct dmarc_store *st)
{
	static const char rec[] = "v=DMARC1; p=quarantine; sp=none; adkim=s; pct=50; fo=1;"
				  " rua=mailto:dmarc@example.org,mailto:agg@reports.example!5m,"
				  "https://example.org/nope";
	struct dmarc_eval e[6];
	size_t i;

	e[0] = base(BEGIN + 60, "192.0.2.10", rec);
	e[1] = base(BEGIN + 7200, "::ffff:192.0.2.10", rec); /* the same client */
	e[2] = base(BEGIN + 300, "2001:db8:1::25", rec);
	e[2].dkim_pass = false;
	e[2].disposition = DMARC_P_NONE;
	e[2].override = DMARC_OVERRIDE_SAMPLED_OUT;
	str_copy(e[2].override_comment, "pct=50 & <not> \"sampled\" 'in'",
		 sizeof(e[2].override_comment));
	e[2].ndkim = 2;
	e[2].dkim[0].result = DMARC_DKIM_FAIL;
	str_copy(e[2].dkim[1].domain, "esp.example", sizeof(e[2].dkim[1].domain));
	e[2].dkim[1].result = DMARC_DKIM_PASS; /* no selector */
	e[3] = base(BEGIN + 900, "198.51.100.7", rec);
	e[3].envelope_from[0] = '\0'; /* the null sender */
	e[3].dkim_pass = e[3].spf_pass = false;
	e[3].disposition = DMARC_P_QUARANTINE;
	e[3].ndkim = 0;
	str_copy(e[3].spf.domain, "mx.bulk.example", sizeof(e[3].spf.domain));
	e[3].spf.scope = DMARC_SPF_HELO;
	e[3].spf.result = SPF_SOFTFAIL;
	e[4] = base(BEGIN + 1000, "203.0.113.5", rec);
	str_copy(e[4].header_from, "b\xc3\xbc" "cher.example.org", sizeof(e[4].header_from));
	e[4].spf_pass = false;
	e[4].spf.result = SPF_TEMPERROR;
	e[5] = base(BEGIN + 3600, "192.0.2.99", "v=DMARC1; p=reject; rua=mailto:r@other.example");
	str_copy(e[5].header_from, "other.example", sizeof(e[5].header_from));
	str_copy(e[5].policy.domain, "other.example", sizeof(e[5].policy.domain));
	e[5].disposition = DMARC_P_REJECT;
	e[5].dkim_pass = e[5].spf_pass = false;
	e[5].dkim[0].result = DMARC_DKIM_PERMERROR;
	for (i = 0; i < nitems(e); i++)
		if (dmarc_store_add(st, &e[i]) == -1)
			return die("add", dmarc_store_error(st));
	return 0;
}

static int
write_file(const char *dir, const char *name, const char *ext, const struct buf *b)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(b->data, 1, b->len, fp) != b->len ||
	    fclose(fp) != 0)
		return die(path, "cannot write");
	return 0;
}

/* targets - the rua= destinations of d; third parties are "asked" and
 * reports.example answers as RFC 7489 7.1 wants. */
static void
targets(const struct dmarc_report_domain *d, struct dmarc_rua_target *t)
{
	static const struct dmarc_txt yes = {"v=DMARC1", 8};
	char err[256];
	struct dmarc_psl *psl = dmarc_psl_load("/usr/share/publicsuffix/public_suffix_list.dat", err,
					       sizeof(err));
	size_t i;

	dmarc_rua_targets(d->rua, d->nrua, t);
	for (i = 0; i < d->nrua; i++) {
		if (t[i].status != DMARC_RUA_SEND || psl == NULL ||
		    !dmarc_rua_is_external(psl, d->domain, t[i].domain))
			continue;
		dmarc_rua_authorize(&t[i], &yes, strcmp(t[i].domain, "reports.example") == 0);
	}
	dmarc_psl_free(psl);
}

static int
report_one(struct dmarc_store *st, const char *dir, const struct dmarc_report_domain *dom)
{
	struct dmarc_report_meta meta = {"example.net", "dmarc-reports@example.net",
					 "https://example.net/dmarc", "a1b2c3", BEGIN, END};
	struct dmarc_report_mail mail = {"dmarc-reports@example.net", "example.net", "mx.example.net",
					 dom->domain, "a1b2c3", BEGIN, END, (time_t)END + 600};
	struct dmarc_rua_target t[DMARC_URIS_MAX];
	struct dmarc_report_data d;
	struct buf xml = BUF_INIT, msg = BUF_INIT;
	char err[256];
	size_t i;
	int rc = 1;

	if (dmarc_store_aggregate(st, dom->domain, BEGIN, END, &d) == -1)
		return die("aggregate", dmarc_store_error(st));
	targets(dom, t);
	if (dmarc_report_xml(&meta, &d, &xml, err, sizeof(err)) == -1 ||
	    dmarc_report_mail(&mail, xml.data, xml.len, t, dom->nrua, &msg, err, sizeof(err)) == -1)
		rc = die(dom->domain, err);
	else if (write_file(dir, dom->domain, "xml", &xml) == 0 &&
		 write_file(dir, dom->domain, "eml", &msg) == 0)
		rc = 0;
	if (rc == 0) {
		printf("%s %lld %lld", dom->domain, (long long)BEGIN, (long long)END);
		for (i = 0; i < dom->nrua; i++)
			printf(" %s:%s", dmarc_rua_status_name(t[i].status), t[i].addr);
		printf("\n");
	}
	if (rc == 0 && dmarc_store_delete(st, dom->domain, BEGIN, END) == -1)
		rc = die("delete", dmarc_store_error(st));
	dmarc_report_data_free(&d);
	buf_free(&xml);
	buf_free(&msg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct dmarc_report_domain *doms = NULL;
	struct dmarc_store *st;
	char path[512], err[256];
	size_t n, i;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: dmarc_report_tool DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/dmarc.db", argv[1]);
	if ((st = dmarc_store_open(path, 0, err, sizeof(err))) == NULL)
		return die("open", err);
	if (record_all(st) != 0 || dmarc_store_domains(st, BEGIN, END, &doms, &n) == -1) {
		dmarc_store_close(st);
		return 1;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = report_one(st, argv[1], &doms[i]);
	free(doms);
	doms = NULL;
	if (rc == 0 && (dmarc_store_domains(st, BEGIN, END, &doms, &n) == -1 || n != 0))
		rc = die("after delete", "rows are left");
	free(doms);
	dmarc_store_close(st);
	return rc;
}
