/* SPDX-License-Identifier: ISC */
/*
 * findings - what `postern check` reports: a catalogue of finding kinds
 * (a stable id such as "tls.min-version", a default severity, a title,
 * what it means and how to fix it), the findings of one run (a kind, the
 * severity it got, where: a listener, an account, a domain), and the
 * report as text for people and as JSON for machines.
 *
 * Pure: no I/O; the formatters take the time they print. Every kind is in
 * the catalogue (docs/operations.md lists the same ids, which the unit test
 * checks); adding a finding of an unknown kind is a bug and aborts.
 *
 * SECURITY: details carry untrusted text (DNS records, SMTP replies,
 * account names): they are stored with control characters replaced, as
 * valid UTF-8 (else ASCII), and capped at FINDINGS_TEXT_MAX, so neither the
 * terminal nor a JSON reader can be driven by them.
 * STANDARDS: RFC 8259 (JSON), RFC 3339 (the time).
 */
#ifndef POSTERN_CLI_FINDINGS_H
#define POSTERN_CLI_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

/* Severities, in order. */
enum findings_sev { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };
#define FINDINGS_SEVS 5

/* Most findings one report keeps (the counts go on beyond it). */
#define FINDINGS_MAX 1000
/* Longest detail or fix kept, in bytes. */
#define FINDINGS_TEXT_MAX 4096
/* The version of the JSON document's layout. */
#define FINDINGS_JSON_FORMAT 1

/* Exit statuses of `postern check` (1 and 2 are the usual error and usage). */
#define FINDINGS_EXIT_OK 0	 /* nothing above low */
#define FINDINGS_EXIT_MEDIUM 3
#define FINDINGS_EXIT_HIGH 4
#define FINDINGS_EXIT_CRITICAL 5

struct findings_kind {
	const char *id;
	enum findings_sev sev; /* the default */
	const char *title;
	const char *meaning; /* one or two plain sentences */
	const char *fix;     /* the directive or command; "" for info */
};

struct finding {
	const struct findings_kind *kind;
	enum findings_sev sev;
	char *detail; /* where, or NULL */
	char *fix;    /* instead of the kind's, or NULL */
};

struct findings {
	struct finding *v;
	size_t n;
	size_t count[FINDINGS_SEVS]; /* every finding added, kept or not */
	size_t dropped;		     /* added beyond FINDINGS_MAX */
};

/* What the report header says. */
struct findings_meta {
	const char *hostname;
	const char *config;
	const char *version;
	time_t now;
};

/* findings_kind - the catalogue entry of id, or NULL. */
const struct findings_kind *findings_kind(const char *id);
/* findings_kinds - the whole catalogue (n entries), in documentation order. */
const struct findings_kind *findings_kinds(size_t *n);
/* findings_sev_name - "info", "low", "medium", "high", "critical". */
const char *findings_sev_name(enum findings_sev sev);

void findings_init(struct findings *f);
void findings_free(struct findings *f);
/* findings_add - a finding of kind id with its default severity and fix;
 * detail may be NULL. Aborts if id is not in the catalogue. */
void findings_add(struct findings *f, const char *id, const char *detail);
void findings_addf(struct findings *f, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* findings_add_as - the same with a severity and (unless NULL) a fix of
 * the caller's. */
void findings_add_as(struct findings *f, const char *id, enum findings_sev sev,
		     const char *detail, const char *fix);
/* findings_has - is there a finding of kind id? */
bool findings_has(const struct findings *f, const char *id);

/* findings_worst - the highest severity added (SEV_INFO when none). */
enum findings_sev findings_worst(const struct findings *f);
/* findings_exit_status - FINDINGS_EXIT_* for the worst severity. */
int findings_exit_status(const struct findings *f);
/* findings_sort - worst first, then by id, then by detail: the order both
 * reports use, the same for the same findings. */
void findings_sort(struct findings *f);

/* findings_text - the report for people, appended to out. */
void findings_text(const struct findings *f, const struct findings_meta *m, struct buf *out);
/* findings_json - the report as one JSON document (sorted keys, two-space
 * indent, a final newline), appended to out. */
void findings_json(const struct findings *f, const struct findings_meta *m, struct buf *out);

#endif
