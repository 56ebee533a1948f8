/* SPDX-License-Identifier: ISC */
/*
 * spf - the SPF check_host() function as an asynchronous state machine
 * over an injected resolver: one check per identity (MAIL FROM, or HELO
 * when MAIL FROM is null), one DNS query in flight at a time.
 *
 * The resolver may answer from inside query() (a test table) or later
 * from the event loop (libunbound): the evaluator runs a loop that picks
 * up synchronous answers without recursing, so the stack depth does not
 * grow with the number of queries.
 *
 * SECURITY: runs in the unprivileged smtp process; every record, name and
 * address from DNS is untrusted. Work per check is bounded: 10 DNS
 * mechanisms and modifiers, 2 void lookups, 10 names per MX and PTR, one
 * record of SPF_RECORD_MAX bytes per level, SPF_MAX_DEPTH levels. A DNS
 * failure is temperror for this check only; it never blocks the loop.
 * STANDARDS: RFC 7208 2.3-2.4 (identities), 4 (check_host: 4.3 initial
 * processing, 4.4 record lookup, 4.5 selection, 4.6.4 DNS limits), 5
 * (mechanisms), 6 (redirect, exp), 7 (macros), 8 (results), 5.5 and 5.6
 * (PTR validation, IPv4-mapped IPv6).
 */
#ifndef POSTERN_SPF_H
#define POSTERN_SPF_H

#include <stddef.h>
#include <stdint.h>

/* RFC 7208 4.6.4 */
#define SPF_MAX_DNS_MECH 10
#define SPF_MAX_VOID 2
#define SPF_MAX_NAMES 10
/* Include levels (bounded by SPF_MAX_DNS_MECH anyway). */
#define SPF_MAX_DEPTH (SPF_MAX_DNS_MECH + 2)
/* Longest explanation kept. */
#define SPF_EXP_MAX 1024

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_dns_status { SPF_DNS_OK, SPF_DNS_NXDOMAIN, SPF_DNS_NODATA, SPF_DNS_TEMPFAIL };

/* DNS RR types the evaluator asks for. */
#define SPF_RR_A 1
#define SPF_RR_PTR 12
#define SPF_RR_MX 15
#define SPF_RR_TXT 16
#define SPF_RR_AAAA 28

/* One answer record: text for TXT (the strings of one record joined,
 * RFC 7208 3.3; len bytes, which may include NUL), MX (the exchange) and
 * PTR (the target), both NUL-terminated names; addr for A (4 bytes) and
 * AAAA (16 bytes). */
struct spf_rr {
	const char *text;
	size_t len;
	uint8_t addr[16];
};

/* The answer to one query: n records when st is SPF_DNS_OK; rr lives only
 * for the duration of the call. */
typedef void (*spf_answer_cb)(void *cbarg, enum spf_dns_status st, const struct spf_rr *rr,
			      size_t n);

/* The injected resolver: query() must call cb exactly once, either before
 * it returns or later from the event loop. */
struct spf_resolver {
	void (*query)(void *ctx, int rrtype, const char *name, spf_answer_cb cb, void *cbarg);
	void *ctx;
};

struct spf_params {
	const char *ip;	      /* client address, IPv4 or IPv6 text */
	const char *mailfrom; /* MAIL FROM address; NULL or "" checks HELO */
	const char *helo;     /* HELO/EHLO argument */
	const char *receiver; /* %{r}; NULL = "unknown" */
	const char *default_exp; /* macro string used when fail has no exp= */
	long long now;		 /* %{t} */
};

/* Called once with the result; explanation is set for SPF_FAIL only and
 * lives until spf_check_free(). The callback may free the check. */
typedef void (*spf_done_cb)(void *arg, enum spf_result r, const char *explanation);

struct spf_check;

/* spf_check_new - a check of p (strings are copied); NULL when p->ip is
 * not an address. Nothing runs until spf_check_start(). */
struct spf_check *spf_check_new(const struct spf_resolver *res, const struct spf_params *p,
				spf_done_cb cb, void *arg);
/* spf_check_start - run the check; cb may be called before this returns. */
void spf_check_start(struct spf_check *c);
/* spf_check_free - release c; with a query in flight, the release happens
 * when its answer arrives and cb is never called. NULL is fine. */
void spf_check_free(struct spf_check *c);
/* spf_result_str - "pass", "fail", ... */
const char *spf_result_str(enum spf_result r);

#endif
