/* SPDX-License-Identifier: ISC */
/*
 * dns - asynchronous lookups on the event loop through libunbound: MX
 * records (with RFC 7505 null MX) and the addresses of a host.
 *
 * The resolver is configured from the config: `resolver IP[:PORT]` sends
 * every query to that server (names under .test then resolve through it),
 * otherwise the system's resolv.conf is used.
 *
 * SECURITY: answers are untrusted; the RDATA parser is pure, bounded and
 * fuzzed. Lookups never block the loop.
 * STANDARDS: RFC 1035 (wire format), RFC 5321 5.1 (MX, implicit MX),
 * RFC 7505 (null MX).
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"

struct event_base;
struct dns;

enum dns_status { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL };

#define DNS_NAME_MAX 255
#define DNS_MAX_MX 32
#define DNS_MAX_ADDRS 32

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

/* dns_new - a resolver per the config; NULL with err set on failure. */
struct dns *dns_new(struct event_base *base, const struct conf *cf, char *err, size_t errsz);
void dns_free(struct dns *d);
/* dns_mx - MX records of domain, sorted by preference (shuffled within
 * one preference). n == 0 with DNS_OK never happens: no MX is NODATA. */
void dns_mx(struct dns *d, const char *domain, dns_mx_cb cb, void *arg);
/* dns_addrs - A and AAAA of host (IPv6 first when present); a numeric
 * address answers at once (from the loop). */
void dns_addrs(struct dns *d, const char *host, dns_addr_cb cb, void *arg);

/* dns_parse_name - a domain name in uncompressed wire format at p (n bytes)
 * into out (dotted, no final dot); returns bytes consumed or -1. */
int dns_parse_name(const uint8_t *p, size_t n, char out[DNS_NAME_MAX + 1]);
/* dns_parse_mx - one MX RDATA; 0 or -1. */
int dns_parse_mx(const uint8_t *p, size_t n, struct dns_mx *mx);

#endif
