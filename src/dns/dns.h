/* SPDX-License-Identifier: ISC */
/*
 * dns - asynchronous lookups on the event loop through libunbound: MX
 * records (with RFC 7505 null MX), the addresses of a host, and plain A
 * records (the DNSBL and DNSWL queries of the guard).
 *
 * The resolver is configured from the config: `resolver IP[:PORT]` sends
 * every query to that server (names under .test then resolve through it),
 * otherwise the system's resolv.conf is used.
 *
 * SECURITY: answers are untrusted; the RDATA parser is pure, bounded and
 * fuzzed; A answers are cut to DNS_MAX_A records of exactly 4 bytes.
 * Lookups never block the loop.
 * STANDARDS: RFC 1035 (wire format), RFC 5321 5.1 (MX, implicit MX),
 * RFC 7505 (null MX).
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conf/conf.h"

struct event_base;
struct dns;

enum dns_status { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL };

#define DNS_NAME_MAX 255
#define DNS_MAX_MX 32
#define DNS_MAX_ADDRS 32
/* At most this many records of one dns_a() answer are passed on. */
#define DNS_MAX_A 32

struct dns_mx {
	uint16_t pref;
	char host[DNS_NAME_MAX + 1];
};

struct dns_addrs {
	struct sockaddr_storage addr[DNS_MAX_ADDRS];
	size_t n;
};

typedef void (*dns_mx_cb)(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n);
typedef void (*dns_addr_cb)(void *arg, enum dns_status st, const struct dns_addrs *a);
/* addrs holds n (<= DNS_MAX_A) addresses, n > 0 exactly when st is DNS_OK
 * (addrs may be NULL when n is 0); it lives only for the duration of the
 * call. */
typedef void (*dns_a_cb)(void *arg, enum dns_status st, const struct in_addr *addrs, size_t n);

/* dns_new - a resolver per the config; NULL with err set on failure. */
struct dns *dns_new(struct event_base *base, const struct conf *cf, char *err, size_t errsz);
/* dns_free - every lookup still pending is cancelled and its callback is
 * called with DNS_TEMPFAIL from inside dns_free, so owners waiting for an
 * answer to release themselves do; a lookup started from such a callback
 * is not sent and is answered the same way. Accepts NULL. */
void dns_free(struct dns *d);
/* dns_mx - MX records of domain, sorted by preference (shuffled within
 * one preference). n == 0 with DNS_OK never happens: no MX is NODATA. */
void dns_mx(struct dns *d, const char *domain, dns_mx_cb cb, void *arg);
/* dns_addrs - A and AAAA of host (IPv6 first when present); a numeric
 * address answers at once (from the loop). */
void dns_addrs(struct dns *d, const char *host, dns_addr_cb cb, void *arg);
/* dns_a - the A records of name (libunbound follows CNAMEs), unsorted and
 * unfiltered: judging them is the caller's business. cb is called exactly
 * once, always from the event loop, never before dns_a returns: DNS_OK with
 * the addresses, DNS_NXDOMAIN, DNS_NODATA, or DNS_TEMPFAIL (timeout,
 * SERVFAIL, a refused query, records that are not 4 bytes long). There is
 * no cancel: a caller that may go away first keeps arg alive until cb runs
 * (see guard/dnsbl.c). A lookup still pending at dns_free() is answered
 * DNS_TEMPFAIL from there. */
void dns_a(struct dns *d, const char *name, dns_a_cb cb, void *arg);
/* Raw answers of dns_query(): at most DNS_MAX_RR records passed on. */
#define DNS_MAX_RR 32

struct dns_rdata {
	const uint8_t *p;
	size_t len;
};

/* rd holds n records (n > 0 exactly when st is DNS_OK); it lives only for
 * the duration of the call. */
typedef void (*dns_raw_cb)(void *arg, enum dns_status st, const struct dns_rdata *rd, size_t n);

/* dns_query - the records of type rrtype at name as RDATA, unparsed
 * (parsing is the caller's, with its own pure parsers). Called back
 * exactly once, always from the event loop, never before dns_query
 * returns; same statuses and no-cancel rule as dns_a(). */
void dns_query(struct dns *d, int rrtype, const char *name, dns_raw_cb cb, void *arg);
/* dns_base - the event loop the lookups run on (for callers' own timers). */
struct event_base *dns_base(const struct dns *d);

/* dns_parse_name - a domain name in uncompressed wire format at p (n bytes)
 * into out (dotted, no final dot); returns bytes consumed or -1. */
int dns_parse_name(const uint8_t *p, size_t n, char out[DNS_NAME_MAX + 1]);
/* dns_parse_mx - one MX RDATA; 0 or -1. */
int dns_parse_mx(const uint8_t *p, size_t n, struct dns_mx *mx);

#endif
