/* SPDX-License-Identifier: ISC */
/*
 * dmarc_report - DMARC aggregate reports: what the daemon records about
 * each message it evaluated, the store that keeps those records until the
 * report is sent, the report itself (XML, per RFC 7489 Appendix C) and the
 * mail that carries it, the rua= destinations and the check that an
 * external destination agreed to receive reports.
 *
 * The store is SQLite, at a path the caller gives (the queue process owns
 * STATE_DIR/dmarc.db). Evaluations are aggregated as they arrive: a row is
 * one combination of the reported fields within one hour, with a count, so
 * a flood of identical messages costs one row. Rows created per day are
 * capped (dmarc_store_open's rows_per_day); what is refused is counted, and
 * the count is written into the next reports as an <error>.
 *
 * Everything but the store is pure: no I/O, no DNS, no clock. The daemon
 * does the DNS query of the external check, injects the mail and runs the
 * daily timer (docs/dev/dmarc-report.md).
 *
 * SECURITY: the store runs in the queue process, unprivileged. Every string
 * of an evaluation came from a hostile peer (From: domain, MAIL FROM, DKIM
 * d= and s=, DNS records): dmarc_store_add refuses control characters,
 * spaces and invalid UTF-8, and bounds each field; SQL uses bound
 * parameters only. The XML writer escapes every string it writes (and
 * replaces what XML 1.0 cannot carry), the mail composer refuses CR and LF
 * in header fields, and rua= addresses pass the SMTP path parser before
 * they become recipients. Report addresses on another organizational
 * domain receive nothing until that domain authorises them (RFC 7489 7.1),
 * so a record cannot turn us into a mail cannon against a third party.
 * STANDARDS: RFC 7489 (6.2 DMARC URIs and size limits, 7.1 verifying
 * external destinations, 7.2 aggregate reports, 7.2.1.1 email transport,
 * Appendix C the XML schema), RFC 6068 (mailto:), RFC 1952 (gzip), RFC 2045
 * and 2046 (MIME, base64, multipart/mixed), RFC 3834 (Auto-Submitted).
 */
#ifndef POSTERN_DMARC_REPORT_H
#define POSTERN_DMARC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"
#include "mail/syntax.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"

#define DMARC_REPORT_DKIM_MAX 4	      /* DKIM results kept per message */
#define DMARC_REPORT_SELECTOR_MAX 253 /* bytes of a DKIM selector */
#define DMARC_REPORT_IP_MAX 45	      /* bytes of a printable IP address */
#define DMARC_REPORT_COMMENT_MAX 128  /* bytes of an override comment */
#define DMARC_REPORT_ID_MAX 64	      /* letters and digits of a report id */
#define DMARC_REPORT_ROWS_MAX 10000   /* <record>s in one report, most messages first */
#define DMARC_REPORT_META_MAX 256     /* bytes of org_name, email, extra contact */
/* Rows the store creates per day (UTC) when the caller gives 0. */
#define DMARC_STORE_ROWS_PER_DAY 50000
/* Rows aggregate evaluations per hour: periods are whole hours. */
#define DMARC_STORE_BUCKET 3600
/* A gzipped report bigger than this is not sent at all (RFC 7489 7.2.1.1
 * notes ten megabytes as a common receiver limit). */
#define DMARC_REPORT_GZ_MAX (10 * 1024 * 1024)

/* A DKIM result as the report states it (RFC 8601 2.7.1 names). */
enum dmarc_dkim_result {
	DMARC_DKIM_NONE,
	DMARC_DKIM_PASS,
	DMARC_DKIM_FAIL,
	DMARC_DKIM_POLICY,
	DMARC_DKIM_NEUTRAL,
	DMARC_DKIM_TEMPERROR,
	DMARC_DKIM_PERMERROR,
};

enum dmarc_spf_scope { DMARC_SPF_MFROM, DMARC_SPF_HELO };

/* Why the disposition differs from the policy (Appendix C PolicyOverrideType). */
enum dmarc_override {
	DMARC_OVERRIDE_NONE,
	DMARC_OVERRIDE_FORWARDED,
	DMARC_OVERRIDE_SAMPLED_OUT, /* pct= left this message out */
	DMARC_OVERRIDE_TRUSTED_FORWARDER,
	DMARC_OVERRIDE_MAILING_LIST,
	DMARC_OVERRIDE_LOCAL_POLICY,
	DMARC_OVERRIDE_OTHER,
};

struct dmarc_dkim_res {
	char domain[DMARC_DOMAIN_MAX + 1];	   /* d= */
	char selector[DMARC_REPORT_SELECTOR_MAX + 1]; /* s= */
	enum dmarc_dkim_result result;
};

struct dmarc_spf_res {
	char domain[DMARC_DOMAIN_MAX + 1]; /* the checked domain ("" if none) */
	enum dmarc_spf_scope scope;
	enum spf_result result;
};

/* The policy record as published when the message was evaluated. */
struct dmarc_published {
	char domain[DMARC_DOMAIN_MAX + 1]; /* where the record was found */
	bool adkim_strict, aspf_strict;
	enum dmarc_policy p, sp;
	bool has_np;	      /* np= (RFC 9091) given and kept */
	enum dmarc_policy np;
	unsigned pct;	      /* 0..100 */
	char fo[16];	      /* as published, "0" by default */
	struct dmarc_uri rua[DMARC_URIS_MAX];
	size_t nrua;
};

/* dmarc_eval - one evaluated message. Strings are NUL-terminated; an empty
 * envelope_from is the null sender, an empty envelope_to is unknown. */
struct dmarc_eval {
	int64_t time;					/* unix seconds */
	char source_ip[DMARC_REPORT_IP_MAX + 1];	/* "192.0.2.1", "2001:db8::1" */
	char header_from[DMARC_DOMAIN_MAX + 1];		/* RFC5322.From domain */
	char envelope_from[DMARC_DOMAIN_MAX + 1];	/* RFC5321.MailFrom domain */
	char envelope_to[DMARC_DOMAIN_MAX + 1];		/* RFC5321.RcptTo domain */
	struct dmarc_published policy;
	enum dmarc_policy disposition;			/* what we did */
	bool dkim_pass, spf_pass;			/* DMARC-aligned results */
	enum dmarc_override override;
	char override_comment[DMARC_REPORT_COMMENT_MAX + 1]; /* "" if none */
	struct dmarc_dkim_res dkim[DMARC_REPORT_DKIM_MAX];
	size_t ndkim;
	struct dmarc_spf_res spf;
};

/* dmarc_eval_set_policy - fill e->policy from a parsed record r found at
 * domain. np is kept when it differs from sp (the parsed record does not
 * say whether np= was written). -1 when domain does not fit. */
int dmarc_eval_set_policy(struct dmarc_eval *e, const char *domain, const struct dmarc_record *r);
/* dmarc_dkim_result_of - the report's name for a verifier result. */
enum dmarc_dkim_result dmarc_dkim_result_of(enum dkim_result r);
const char *dmarc_dkim_result_name(enum dmarc_dkim_result r);
const char *dmarc_override_name(enum dmarc_override o);

/*
 * The store.
 */
struct dmarc_store;

struct dmarc_store_stats {
	uint64_t recorded; /* evaluations counted since open */
	uint64_t dropped;  /* refused: the day's row limit was reached */
	uint64_t no_rua;   /* not kept: the policy asks for no aggregate reports */
};

/* dmarc_store_open - open (creating the schema, mode 0600) the database at
 * path; rows_per_day caps the rows created per UTC day (0: the default).
 * NULL with err on failure. */
struct dmarc_store *dmarc_store_open(const char *path, uint64_t rows_per_day, char *err,
				     size_t errsz);
void dmarc_store_close(struct dmarc_store *st);
/* dmarc_store_error - the last error, for messages. */
const char *dmarc_store_error(const struct dmarc_store *st);
/* dmarc_store_add - count e. 0 when counted, and also when it is not kept
 * (no rua= in the policy, or the day's row limit reached: see the stats);
 * -1 when e is malformed (a bug in the caller: see the error) or the
 * database failed. */
int dmarc_store_add(struct dmarc_store *st, const struct dmarc_eval *e);
void dmarc_store_stats(const struct dmarc_store *st, struct dmarc_store_stats *out);

/* One domain to report on: the policy domain and its rua= destinations
 * as published in its latest record of the period. */
struct dmarc_report_domain {
	char domain[DMARC_DOMAIN_MAX + 1];
	struct dmarc_uri rua[DMARC_URIS_MAX];
	size_t nrua;
};

/* dmarc_store_domains - the policy domains with rows in [begin, end), in
 * order, into *out (freed by the caller with free()), their number in *n.
 * begin and end are multiples of DMARC_STORE_BUCKET. 0 or -1. */
int dmarc_store_domains(struct dmarc_store *st, int64_t begin, int64_t end,
			struct dmarc_report_domain **out, size_t *n);

/* A DKIM result in a report row (strings owned by the report data). */
struct dmarc_report_dkim {
	const char *domain, *selector;
	enum dmarc_dkim_result result;
};

/* One <record>: the messages sharing every reported field. */
struct dmarc_report_row {
	const char *source_ip;
	uint64_t count;
	enum dmarc_policy disposition;
	bool dkim_pass, spf_pass;
	enum dmarc_override override;
	const char *comment; /* "" if none */
	const char *header_from, *envelope_from, *envelope_to;
	struct dmarc_report_dkim dkim[DMARC_REPORT_DKIM_MAX];
	size_t ndkim;
	const char *spf_domain;
	enum dmarc_spf_scope spf_scope;
	enum spf_result spf_result;
};

/* What one report says. */
struct dmarc_report_data {
	struct dmarc_published policy; /* the latest of the period */
	struct dmarc_report_row *rows;
	size_t nrows;
	uint64_t omitted;  /* rows left out beyond DMARC_REPORT_ROWS_MAX */
	uint64_t dropped;  /* evaluations (all domains) the store refused on the period's days */
	char **pool;	   /* private: the strings the rows point to */
	size_t npool, cpool;
};

/* dmarc_store_aggregate - the rows of domain in [begin, end) summed over
 * the period, most messages first, at most DMARC_REPORT_ROWS_MAX, into d
 * (clear it with dmarc_report_data_free). 0, or -1 (no rows is not an
 * error: d->nrows is 0). */
int dmarc_store_aggregate(struct dmarc_store *st, const char *domain, int64_t begin, int64_t end,
			  struct dmarc_report_data *d);
void dmarc_report_data_free(struct dmarc_report_data *d);
/* dmarc_store_delete - forget domain's rows in [begin, end), once reported. */
int dmarc_store_delete(struct dmarc_store *st, const char *domain, int64_t begin, int64_t end);
/* dmarc_store_expire - forget every row before `before` (reports that
 * could not be sent), and the drop counts of those days. */
int dmarc_store_expire(struct dmarc_store *st, int64_t before);

/*
 * The report.
 */
struct dmarc_report_meta {
	const char *org_name;		/* who reports: "example.net" */
	const char *email;		/* the report address */
	const char *extra_contact_info; /* or NULL */
	const char *report_id;		/* 1 to DMARC_REPORT_ID_MAX letters and digits */
	int64_t begin, end;		/* [begin, end); <end> says end - 1, the last second */
};

/* dmarc_xml_escape - len bytes of s as XML character data, appended to out:
 * markup characters as entities, TAB, LF and CR as references, other
 * control characters, invalid UTF-8 and U+FFFE/U+FFFF as '?'. */
void dmarc_xml_escape(const char *s, size_t len, struct buf *out);
/* dmarc_report_xml - the aggregate report (RFC 7489 Appendix C), appended
 * to out. -1 with err when there are no rows or m is unusable. Pure. */
int dmarc_report_xml(const struct dmarc_report_meta *m, const struct dmarc_report_data *d,
		     struct buf *out, char *err, size_t errsz);
/* dmarc_report_gzip - len bytes of in as a gzip file (RFC 1952), appended
 * to out. -1 when zlib fails or the result exceeds DMARC_REPORT_GZ_MAX. */
int dmarc_report_gzip(const void *in, size_t len, struct buf *out);

/*
 * Where the report goes: rua= destinations.
 */
enum dmarc_rua_status {
	DMARC_RUA_SEND,		/* a mailto: address that gets the report */
	DMARC_RUA_NOT_MAILTO,	/* another scheme: skipped */
	DMARC_RUA_BAD_ADDRESS,	/* mailto: without exactly one valid address */
	DMARC_RUA_DUPLICATE,	/* the same address as an earlier one */
	DMARC_RUA_UNAUTHORIZED, /* external, and its domain did not agree (7.1) */
	DMARC_RUA_TOO_BIG,	/* the report mail exceeds the URI's !size */
};

struct dmarc_rua_target {
	char addr[SMTP_PATH_MAX + 1];	   /* "reports@example.org", no brackets */
	char domain[SMTP_DOMAIN_MAX + 1]; /* lower case */
	uint64_t max_size;		   /* bytes, 0: no limit */
	enum dmarc_rua_status status;
};

/* A TXT record of the external check: its strings joined. */
struct dmarc_txt {
	const char *txt;
	size_t len;
};

/* dmarc_rua_mailto - the address of a "mailto:" URI of len bytes (RFC
 * 6068: percent-decoded, header fields after '?' ignored) into addr and its
 * lower-case domain into domain. -1 when it is not mailto:, holds no or
 * several addresses, or one that is not a plain ASCII SMTP mailbox on a
 * domain name. Pure. */
int dmarc_rua_mailto(const char *uri, size_t len, char addr[SMTP_PATH_MAX + 1],
		     char domain[SMTP_DOMAIN_MAX + 1]);
/* dmarc_rua_targets - a target per URI of rua (n of them) into out (room
 * for n), status SEND or why not. */
void dmarc_rua_targets(const struct dmarc_uri *rua, size_t n, struct dmarc_rua_target *out);
const char *dmarc_rua_status_name(enum dmarc_rua_status s);
/* dmarc_rua_is_external - does a report for policy_domain going to
 * rua_domain need the domain's consent (RFC 7489 7.1): their organizational
 * domains differ, or one cannot be determined. */
bool dmarc_rua_is_external(const struct dmarc_psl *psl, const char *policy_domain,
			   const char *rua_domain);
/* dmarc_rua_check_name - "<policy_domain>._report._dmarc.<rua_domain>",
 * the TXT name to query, into out. -1 if it is not a valid DNS name. */
int dmarc_rua_check_name(const char *policy_domain, const char *rua_domain, char *out,
			 size_t outsz);
/* dmarc_rua_authorize - judge the TXT records (n; 0 for NXDOMAIN or no
 * TXT) found at t's check name: a record starting with v=DMARC1 and well
 * formed authorises t (0). When that record has a rua= mailto: on t's
 * domain, it replaces t's address and limit (7.1 step 8). Otherwise t's
 * status becomes UNAUTHORIZED (-1). Pure. */
int dmarc_rua_authorize(struct dmarc_rua_target *t, const struct dmarc_txt *txt, size_t n);

/*
 * The report mail (RFC 7489 7.2.1.1).
 */
struct dmarc_report_mail {
	const char *from;	   /* the report address (From:) */
	const char *submitter;	   /* our domain: Subject and file name */
	const char *hostname;	   /* the Message-ID's right-hand side */
	const char *policy_domain; /* the report's domain */
	const char *report_id;	   /* as in the XML */
	int64_t begin, end;	   /* the period [begin, end) */
	time_t now;		   /* Date: */
};

/* dmarc_report_mail - the message carrying xml (gzipped, base64, as
 * "submitter!domain!begin!end-1!id.xml.gz") to every target whose status
 * is SEND, in wire form (CRLF, no line starting with '.'), appended to out.
 * Targets whose !size the message exceeds become TOO_BIG and are left out.
 * -1 with err when no target remains, a field is unusable, or gzip fails.
 * Pure. */
int dmarc_report_mail(const struct dmarc_report_mail *m, const char *xml, size_t xmllen,
		      struct dmarc_rua_target *t, size_t nt, struct buf *out, char *err,
		      size_t errsz);

#endif
