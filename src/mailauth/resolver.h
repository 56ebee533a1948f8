/* SPDX-License-Identifier: ISC */
/*
 * resolver - the asynchronous query interface of SPF, DKIM and DMARC
 * (struct spf_resolver) on the daemon's libunbound resolver.
 *
 * TXT answers are joined per record (RFC 7208 3.3, RFC 6376 3.6.2.2) by
 * the pure dkim_txt_join(); MX exchanges and PTR targets are read by
 * dns_parse_name(); A and AAAA must be 4 and 16 bytes. A record that does
 * not parse is skipped; an answer of which nothing parses is a temporary
 * failure (the same rule as the MX lookups of delivery).
 *
 * SECURITY: answers are untrusted; every parser used is pure, bounded and
 * fuzzed; at most DNS_MAX_RR records of RESOLVER_TXT_MAX bytes each.
 * STANDARDS: RFC 1035 3.3.14 (TXT), RFC 7208 4.6.4.
 */
#ifndef POSTERN_RESOLVER_H
#define POSTERN_RESOLVER_H

#include "dns/dns.h"
#include "mailauth/spf.h"

/* Bytes of one joined TXT record passed on. */
#define RESOLVER_TXT_MAX 8192

/* resolver_init - r answers from d (which must outlive every query). */
void resolver_init(struct spf_resolver *r, struct dns *d);

#endif
