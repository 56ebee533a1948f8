/* SPDX-License-Identifier: ISC */
/*
 * auditsearch - choosing and exporting audit records: `postern audit
 * search [--since T] [--actor A] [--event E] [--format json|syslog]`.
 *
 * A record matches when its "ts" is at or after since (an RFC 3339 prefix
 * such as "2026-11-28" or "2026-11-28T10:00", compared as text: every ts
 * has the same fixed form), its "actor" or "user" member equals actor, and
 * its "event" equals event or, for an event ending in '.', starts with it
 * ("user." is every account change). Output is the record's line as it is
 * (JSON lines) or an RFC 5424 syslog message for a SIEM:
 *   <110>1 TS HOST postern - audit [audit@32473 seq="N" event="E"] LINE
 * (facility 13 "log audit", severity info; 32473 is the documentation
 * enterprise number of RFC 5612, so no registry is implied).
 *
 * SECURITY: the log is read as untrusted input: lines are bounded by
 * AUDIT_LINE_MAX and parsed by jansson; a line that is not a record is
 * skipped, not trusted (`audit verify` is what judges the chain). Values
 * in structured data are escaped as RFC 5424 6.3.3 requires.
 * STANDARDS: RFC 5424 (syslog), RFC 3339, RFC 5612.
 */
#ifndef POSTERN_AUDITSEARCH_H
#define POSTERN_AUDITSEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct audit_filter {
	const char *since; /* RFC 3339 prefix, or NULL */
	const char *actor; /* or NULL */
	const char *event; /* exact, or a prefix ending in '.'; or NULL */
};

enum audit_format { AUDIT_FMT_JSON, AUDIT_FMT_SYSLOG };

/* audit_match - pure: does the record line[0..len) match f? A line that is
 * not a JSON object with a string ts and event never matches. */
bool audit_match(const char *line, size_t len, const struct audit_filter *f);
/* audit_export - pure: the matching record as fmt, with its newline,
 * appended to out (host: our hostname for syslog). -1 if it is not a
 * record. */
int audit_export(const char *line, size_t len, enum audit_format fmt, const char *host,
		 struct buf *out);

#endif
