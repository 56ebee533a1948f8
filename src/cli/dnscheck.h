/* SPDX-License-Identifier: ISC */
/*
 * dnscheck - what a domain publishes for mail, judged: its SPF record
 * (evaluated for this gateway's addresses), the key record of each DKIM
 * selector configured for it (against the key in state_dir), its DMARC
 * policy, MTA-STS and TLS-RPT records. `postern dns check` prints the
 * report; `postern check` turns it into findings.
 *
 * SECURITY: DNS answers are untrusted: they are parsed by the daemon's own
 * SPF, DKIM and DMARC parsers, and kept only as text for the report (the
 * printers make it printable). The DKIM keys are read from state_dir, so
 * the caller runs as the daemon's user or root.
 * STANDARDS: RFC 7208 (SPF), RFC 6376 3.6 (DKIM key records), RFC 7489
 * (DMARC), RFC 8461 3.1 (MTA-STS TXT), RFC 8460 3 (TLS-RPT).
 */
#ifndef POSTERN_CLI_DNSCHECK_H
#define POSTERN_CLI_DNSCHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/buf.h"
#include "lib/net.h"

struct tool;

/* Most verdicts one domain gets: SPF (one per gateway address), DKIM (one
 * per selector), DMARC, MTA-STS, TLS-RPT. */
#define DNSCHECK_VERDICTS_MAX 32
/* Most gateway addresses an SPF record is evaluated for. */
#define DNSCHECK_IPS_MAX 16

/* One judgement: what (SPF, DKIM, DMARC, MTA-STS, TLS-RPT), its status
 * (ok, missing, invalid, weak, mismatch, revoked, unknown, error), a
 * sentence, and what to do ("publish: ..." lines, '\n'-separated). */
struct dns_verdict {
	char what[8];
	char status[10];
	struct buf text;
	struct buf fix;
};

struct dns_report {
	struct dns_verdict v[DNSCHECK_VERDICTS_MAX];
	size_t n;
};

/* The addresses mail from this gateway comes from. */
struct dns_ips {
	char ip[DNSCHECK_IPS_MAX][NET_ADDRSTRLEN];
	size_t n;
	bool done;
};

/* dnscheck_gateway_ips - extra if given (the operator's --ip), else the
 * listeners that are neither loopback nor wildcard and the A/AAAA records
 * of the hostname. */
void dnscheck_gateway_ips(struct tool *t, struct dns_ips *ips, const char *const *extra,
			  size_t nextra);
/* dnscheck_domain - judge domain's records into r (dns_report_free it). */
void dnscheck_domain(struct tool *t, const char *domain, const struct dns_ips *ips,
		     struct dns_report *r);
/* dns_report_print - the report as `dns check` shows it: one line per
 * verdict, its fix lines indented under it. */
void dns_report_print(const struct dns_report *r, FILE *out);
/* dns_report_ok - every verdict is "ok". */
bool dns_report_ok(const struct dns_report *r);
void dns_report_free(struct dns_report *r);

#endif
