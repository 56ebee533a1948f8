/* SPDX-License-Identifier: ISC */
/*
 * dnsbl - weighted DNS block and allow lists (DNSBL, DNSWL), as Postfix's
 * postscreen has them: when a client connects, its address is looked up in
 * every configured list at once, and the weights of the lists that list it
 * add up to a score (allow lists weigh negative) that the smtp session
 * compares with its threshold.
 *
 * The config arguments `dnsbl ZONE WEIGHT [CODES]` go through the pure
 * dnsbl_parse(); dnsbl_query_name() and dnsbl_listed() are pure as well;
 * the checker runs the queries on the event loop through dns_a().
 *
 * SECURITY: runs in the unprivileged smtp process, before the client has
 * sent a byte. Answers are untrusted: only A records in 127.0.0.0/8 count,
 * at most DNS_MAX_A of them per list, and 127.0.0.1 and 127.255.255.0/24
 * (the test address, and the codes lists use to refuse a query: over quota,
 * an open resolver) list nobody unless CODES name them. The work per client
 * is bounded: one query per list, at most DNSBL_MAX_LISTS lists, a deadline,
 * no retries of our own. A list that fails or is late counts as not
 * listing: a dead block list lets mail in, a dead allow list vouches for
 * nobody.
 * STANDARDS: RFC 5782 2.1 (IPv4 query names, answers in 127.0.0.0/8), 2.3
 * (allow lists), 2.4 (IPv6 query names, nibble order), 5 (127.0.0.2 is the
 * test entry, 127.0.0.1 is never listed).
 */
#ifndef POSTERN_DNSBL_H
#define POSTERN_DNSBL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns;

/* Result codes one list may name. */
#define DNSBL_MAX_CODES 16
/* Lists one check may query (the config refuses more). */
#define DNSBL_MAX_LISTS 32
/* Weights are -100..100, never 0. */
#define DNSBL_WEIGHT_MAX 100
/* Longest zone: a reversed IPv6 address (64 bytes with its dots) in front
 * of it must still make a DNS name of at most 253 bytes. */
#define DNSBL_ZONE_MAX (253 - 64)
/* Longest query name, without the final dot (RFC 1035 2.3.4). */
#define DNSBL_QNAME_MAX 253
/* How long a check waits for the last answer, as postscreen_dnsbl_timeout. */
#define DNSBL_TIMEOUT_MS 10000

/* An inclusive range of answers, host byte order, within 127.0.0.0/8. */
struct dnsbl_range {
	uint32_t lo, hi;
};

struct dnsbl_list {
	char zone[256]; /* lower case, no final dot */
	int weight;	/* negative for an allow list (DNSWL) */
	struct dnsbl_range codes[DNSBL_MAX_CODES];
	size_t ncodes; /* 0: any 127.0.0.0/8 answer but 127.0.0.1, 127.255.255.x */
};

/* dnsbl_parse - the arguments of `dnsbl ZONE WEIGHT [CODES]` (codes may be
 * NULL) into out. ZONE: a DNS name of at least two labels of letters,
 * digits and inner hyphens (one final dot allowed), at most DNSBL_ZONE_MAX
 * bytes. WEIGHT: an integer from -100 to 100 other than 0. CODES: a comma
 * list of addresses or ranges (127.0.0.2-127.0.0.11) in 127.0.0.0/8, at most
 * DNSBL_MAX_CODES. Returns 0, or -1 with a message starting "dnsbl: " in
 * err (out is then unspecified). Pure. */
int dnsbl_parse(const char *zone, const char *weight, const char *codes, struct dnsbl_list *out,
		char *err, size_t errsz);

/* dnsbl_query_name - the name to look up for the address sa in zone:
 * "4.3.2.1.zone" for 1.2.3.4 (an IPv4-mapped IPv6 address counts as its
 * IPv4 address), 32 reversed lower-case nibbles then the zone for IPv6.
 * Returns 0, or -1 for another address family, an empty zone, a name
 * longer than DNSBL_QNAME_MAX or one that does not fit outsz. Pure. */
int dnsbl_query_name(const struct sockaddr *sa, const char *zone, char *out, size_t outsz);

/* dnsbl_listed - do the n answers a of a query in l list the address? Only
 * answers in 127.0.0.0/8 count; with codes, an answer must fall in one of
 * the ranges (then 127.0.0.1 lists if a range holds it); without, any
 * answer but 127.0.0.1 and 127.255.255.0/24 lists. Pure. */
bool dnsbl_listed(const struct dnsbl_list *l, const struct in_addr *a, size_t n);

/* The result of a check: score is the sum of the weights of the lists that
 * listed the client; listed_on names them (comma-separated zones in config
 * order, "" for none), for the log. Both live only for the call. */
typedef void (*dnsbl_done_cb)(void *arg, int score, const char *listed_on);

struct dnsbl_check;

/* dnsbl_check_start - look sa up in lists[0..n) in parallel (n at most
 * DNSBL_MAX_LISTS; the lists are copied, so they may be freed or reloaded
 * at once). cb(arg, ...) runs exactly once, from the event loop and never
 * before this returns, when every list has answered or DNSBL_TIMEOUT_MS
 * has passed, unless the check is cancelled first. A list that fails
 * (TEMPFAIL, logged at debug) or has not answered by then does not list.
 * An address no list can be asked about (not IP) scores 0. The handle is
 * valid until cb has been called or dnsbl_check_cancel(). */
struct dnsbl_check *dnsbl_check_start(struct dns *d, const struct dnsbl_list *lists, size_t n,
				      const struct sockaddr *sa, dnsbl_done_cb cb, void *arg);
/* dnsbl_check_start_timeout - the same with a deadline of timeout_ms. */
struct dnsbl_check *dnsbl_check_start_timeout(struct dns *d, const struct dnsbl_list *lists,
					      size_t n, const struct sockaddr *sa,
					      unsigned timeout_ms, dnsbl_done_cb cb, void *arg);
/* dnsbl_check_cancel - the caller is going away: cb is never called after
 * this. The check frees itself when its last outstanding answer comes in,
 * or at once when none is (the same after cb ran on the deadline; dns_free()
 * answers what is still outstanding).
 * Accepts NULL; a no-op when called from cb. */
void dnsbl_check_cancel(struct dnsbl_check *c);

#endif
