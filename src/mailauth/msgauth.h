/* SPDX-License-Identifier: ISC */
/*
 * msgauth - DKIM verification and DMARC evaluation of one received
 * message, and the Authentication-Results that records them.
 *
 * The caller gives the envelope facts (client address, HELO, MAIL FROM and
 * the SPF result it already has), then the header section, then the body
 * in chunks, then runs the evaluation: the DKIM key and DMARC record
 * lookups go through the injected resolver (struct spf_resolver, the same
 * asynchronous query interface SPF uses), one at a time, and the callback
 * gets the verdict. msgauth_deadline() ends a slow evaluation with
 * temperror for whatever is still unanswered.
 *
 * DMARC (RFC 7489 6.6): the RFC5322.From domains (every mailbox of the
 * From field, at most MSGAUTH_FROM_MAX distinct domains; the worst
 * verdict wins, so a second mailbox cannot launder a spoofed one); the
 * record at _dmarc.FROM, else at _dmarc.ORG (sp=, or np= of RFC 9091 when
 * the From domain does not exist); pass when an aligned DKIM signature or
 * the aligned SPF identity passed; pct= sampling (6.6.4: a sampled-out
 * reject becomes quarantine, a quarantine none).
 *
 * SECURITY: runs in the smtp process on hostile input: the header section
 * is bounded by the caller, DNS answers go through the pure, fuzzed
 * parsers (dkim_tags, dmarc), at most MSGAUTH_TXT_MAX records per answer
 * are looked at. No allocation grows with the body. A key cache
 * (msgauth_params.dkim_keys) holds at most its size in keys, keyed by the
 * exact record text, so a hostile sender can only push other keys out.
 * STANDARDS: RFC 6376 (DKIM) with RFC 8301 and RFC 8463, RFC 7489 (DMARC),
 * RFC 9091 (np=), RFC 8601 (Authentication-Results), RFC 7208 9.1.
 */
#ifndef POSTERN_MSGAUTH_H
#define POSTERN_MSGAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"

/* Distinct From domains evaluated. */
#define MSGAUTH_FROM_MAX 4
/* TXT records of one answer looked at (keys, DMARC records). */
#define MSGAUTH_TXT_MAX 8

enum dmarc_result {
	DMARC_NONE, /* no policy published (or no From domain to check) */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,
	DMARC_PERMERROR, /* the From field cannot be read */
};

/* What to do with the message. */
enum dmarc_action { DMARC_ACT_NONE, DMARC_ACT_QUARANTINE, DMARC_ACT_REJECT };

struct msgauth_params {
	const char *authserv_id; /* our name in Authentication-Results */
	const char *ip;		 /* client address */
	const char *helo;
	const char *mailfrom;	  /* "" for the null sender */
	enum spf_result spf;	  /* of mailfrom, or of helo for the null sender */
	bool spf_checked;	  /* false: SPF off, nothing to report */
	const struct dmarc_psl *psl; /* NULL: no DMARC */
	bool dkim;		  /* verify DKIM signatures */
	/* parsed DKIM keys kept between messages, or NULL: the caller's, used
	 * by the calling thread only (a cache is not thread-safe), and it must
	 * outlive the evaluation */
	struct dkim_keycache *dkim_keys;
	time_t now;
	unsigned (*rand100)(void); /* 0..99 for pct=; NULL: a system random */
};

/* The verdict on one From domain. */
struct msgauth_dmarc {
	char domain[DMARC_DOMAIN_MAX + 1];    /* the From domain */
	char policy_domain[DMARC_DOMAIN_MAX + 1]; /* where the record was found */
	enum dmarc_result result;
	bool have_record;
	struct dmarc_record rec;
	enum dmarc_policy policy; /* p, sp or np, as it applies */
	bool dkim_aligned, spf_aligned;
	bool sampled_out; /* pct= spared it */
	enum dmarc_action action;
	const char *reason; /* static text */
};

struct msgauth_result {
	struct dkim_sigres dkim[DKIM_SIGS_MAX];
	size_t ndkim;
	bool header_bad; /* the header section did not parse */
	struct msgauth_dmarc dmarc[MSGAUTH_FROM_MAX];
	size_t ndmarc;
	enum dmarc_result dmarc_result; /* the worst of them */
	enum dmarc_action action;	/* the strictest */
	const struct msgauth_dmarc *decisive; /* the evaluation that set action */
};

struct msgauth;
typedef void (*msgauth_done_cb)(void *arg, const struct msgauth_result *r);

/* msgauth_new - an evaluation; strings in p are copied. */
struct msgauth *msgauth_new(const struct spf_resolver *res, const struct msgauth_params *p);
/* msgauth_header - the header section (wire form without dot-stuffing,
 * ending with the empty line when there is a body); copied. Once only. */
void msgauth_header(struct msgauth *m, const char *hdr, size_t len);
/* msgauth_body - more body bytes (CRLF lines, no dot-stuffing). */
void msgauth_body(struct msgauth *m, const void *p, size_t n);
/* msgauth_run - the body is complete: look up keys and records; cb runs
 * once, possibly before this returns, and may free m. */
void msgauth_run(struct msgauth *m, msgauth_done_cb cb, void *arg);
/* msgauth_deadline - stop waiting: what is unanswered is temperror and cb
 * runs now (if it has not). */
void msgauth_deadline(struct msgauth *m);
/* msgauth_result - the verdict so far (complete once cb has run). */
const struct msgauth_result *msgauth_result(const struct msgauth *m);
/* msgauth_authres - the Authentication-Results field for the message
 * (spf, dkim, dmarc), appended to out; 0 or -1. */
int msgauth_authres(const struct msgauth *m, struct buf *out);
/* msgauth_free - release m; with a lookup in flight the release waits for
 * its answer and cb never runs. NULL is fine. */
void msgauth_free(struct msgauth *m);

const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_action_name(enum dmarc_action a);

#endif
