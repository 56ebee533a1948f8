/* SPDX-License-Identifier: ISC */
/*
 * mailauth - what the operator's SPF, DKIM, DMARC and DNS tools share: a
 * config, an event loop, the resolver the config names and its deadline
 * (`mailauth { dns_timeout }`), and check_host() run to completion.
 *
 * SECURITY: runs as the invoking user (or the daemon's user under
 * `postern check`); DNS answers are untrusted and go through the same
 * fuzzed parsers as in the daemon.
 * STANDARDS: RFC 7208 (check_host()).
 */
#ifndef POSTERN_CLI_MAILAUTH_H
#define POSTERN_CLI_MAILAUTH_H

#include <stdbool.h>

#include "conf/conf.h"
#include "mailauth/resolver.h"
#include "mailauth/spf.h"

struct event_base;
struct event;
struct dns;
struct msgauth;

/* The lookups of one command, bounded like the daemon's. */
struct tool {
	struct conf own;       /* the config tool_open() loaded */
	const struct conf *cf; /* &own, or the caller's (tool_open_conf) */
	struct event_base *base;
	struct dns *dns;
	struct spf_resolver res;
	struct event *deadline;
	bool done;
	/* SPF */
	struct spf_check *spf;
	enum spf_result spf_result;
	char spf_exp[SPF_EXP_MAX + 1];
	/* DKIM, DMARC */
	struct msgauth *ma;
};

/* tool_open - load the config at path and set up the loop and resolver;
 * 0, or -1 with the reason on stderr. Close with tool_close() either way. */
int tool_open(struct tool *t, const char *path);
/* tool_open_conf - the same on a config the caller loaded; cf must
 * outlive the tool. */
int tool_open_conf(struct tool *t, const struct conf *cf);
void tool_close(struct tool *t);
/* tool_spf - check_host() for ip, mailfrom ("" for the null sender) and
 * helo, waiting at most dns_timeout; the result is in t->spf_result (and
 * t->spf_exp). 0, or -1 when ip is not an address (said on stderr). */
int tool_spf(struct tool *t, const char *ip, const char *mailfrom, const char *helo);
/* tool_wait - run the loop until t->done, at most dns_timeout. */
void tool_wait(struct tool *t);

#endif
