/* SPDX-License-Identifier: ISC */
/*
 * dmarc - the pure parts of DMARC: the policy record, the organizational
 * domain (from the Public Suffix List, through libpsl) and identifier
 * alignment. Evaluation against SPF and DKIM results, enforcement and
 * reports build on these.
 *
 * SECURITY: records come from DNS and are untrusted: the parser is pure,
 * bounded (DMARC_URIS_MAX report addresses of DMARC_URI_MAX bytes) and
 * fuzzed; unknown tags are ignored, as the RFC says, and a record that is
 * not DMARC1 or has no usable policy is refused.
 * STANDARDS: RFC 7489 (sections 3.1 alignment, 3.2 organizational domain,
 * 6.3 tags, 6.6.3 policy discovery), RFC 9091 (np=).
 */
#ifndef POSTERN_DMARC_H
#define POSTERN_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMARC_URIS_MAX 8     /* rua= and ruf= addresses kept, each */
#define DMARC_URI_MAX 256    /* bytes of one of them */
#define DMARC_RECORD_MAX 4096 /* bytes of a record we look at */
#define DMARC_DOMAIN_MAX 253

enum dmarc_policy { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

struct dmarc_uri {
	char uri[DMARC_URI_MAX + 1]; /* "mailto:reports@example.org" */
	uint64_t max_size;	     /* the "!10m" limit in bytes, 0: none */
};

struct dmarc_record {
	enum dmarc_policy p;  /* the domain's policy */
	enum dmarc_policy sp; /* subdomains (default p) */
	enum dmarc_policy np; /* non-existent subdomains (RFC 9091; default sp) */
	bool adkim_strict, aspf_strict;
	unsigned pct;	      /* 0..100 */
	uint32_t ri;	      /* report interval, seconds */
	struct dmarc_uri rua[DMARC_URIS_MAX];
	size_t nrua;
	struct dmarc_uri ruf[DMARC_URIS_MAX];
	size_t nruf;
	char fo[16];	      /* failure-report options as given, "0" default */
	bool p_from_rua;      /* p was missing or invalid: p=none because of rua (6.6.3) */
};

/* dmarc_record_parse - one TXT record (the strings joined) into r.
 * Returns 0, or -1 with the reason in err when it is not a usable DMARC
 * record (not v=DMARC1 first, a broken tag list, no valid policy and no
 * valid rua). Pure. */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r, char *err,
		       size_t errsz);
const char *dmarc_policy_name(enum dmarc_policy p);

struct dmarc_psl;
/* dmarc_psl_load - the Public Suffix List at path (the text form, as
 * Debian's publicsuffix package installs it); NULL with err. */
struct dmarc_psl *dmarc_psl_load(const char *path, char *err, size_t errsz);
void dmarc_psl_free(struct dmarc_psl *psl);
/* dmarc_org_domain - the organizational domain of domain (RFC 7489 3.2:
 * the public suffix plus one label), lower case, into out; -1 when domain
 * is itself a public suffix, empty, or not a domain. */
int dmarc_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t outsz);
/* dmarc_aligned - are a and b aligned (RFC 7489 3.1): the same domain
 * when strict, the same organizational domain when relaxed. */
bool dmarc_aligned(const struct dmarc_psl *psl, const char *a, const char *b, bool strict);

#endif
