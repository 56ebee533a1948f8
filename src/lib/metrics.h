/* SPDX-License-Identifier: ISC */
/*
 * metrics - a small registry of counters and gauges, rendered in the
 * Prometheus text exposition format, and a compact binary snapshot of it
 * that one process sends another.
 *
 * Each process keeps its own registry. A family is described once
 * (metrics_describe) with a name, a type and a help text; its series are
 * told apart by a label set such as `mechanism="PLAIN",result="ok"`.
 * Counters only grow (metrics_add), gauges are set (metrics_set). The
 * processes that do not serve HTTP send metrics_encode() snapshots to the
 * one that does, which decodes them (metrics_decode), merges everything
 * into one registry (metrics_merge) and renders it (metrics_render), so no
 * family is ever rendered twice.
 *
 * A registry holds at most METRICS_MAX_SERIES series and its snapshot at
 * most METRICS_SNAPSHOT_MAX bytes; samples beyond either, and samples with
 * a malformed label set, are dropped and counted in the built-in counter
 * postern_metrics_dropped_total (the first drop is logged). Names, types
 * and help texts come from code: a bad one is a bug and aborts.
 *
 * SECURITY: label values may carry runtime strings (a reason, a check name
 * passed by another process): build label sets with metrics_labels(),
 * which escapes them; metrics_add/set refuse a set that is not well formed,
 * so nothing given here can break the exposition format. metrics_decode()
 * is a parser for bytes from another process: every count and length is
 * bounds-checked and only the canonical encoding is accepted. Pure: no
 * I/O but the log line of a first drop, no globals.
 *
 * STANDARDS: Prometheus text exposition format 0.0.4 (HELP, TYPE, samples;
 * label values escaped \\, \" and \n; values as Go's ParseFloat reads them).
 */
#ifndef POSTERN_METRICS_H
#define POSTERN_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"

/* Series per registry (the built-in dropped counter not included). */
#define METRICS_MAX_SERIES 2048
/* Families per registry (the built-in dropped counter not included). */
#define METRICS_MAX_FAMILIES 64
/* Longest family name, help text, and label set (canonical text). */
#define METRICS_NAME_MAX 100
#define METRICS_HELP_MAX 200
#define METRICS_LABELS_MAX 256
/* Label pairs per series. */
#define METRICS_MAX_LABELS 8
/* Largest snapshot metrics_encode() writes and metrics_decode() reads;
 * fits one IPC message with room to spare (checked in metrics.c). */
#define METRICS_SNAPSHOT_MAX (160 * 1024)

/* The built-in counter of dropped samples, present in every rendering. */
#define METRICS_DROPPED_NAME "postern_metrics_dropped_total"

enum metric_type {
	METRIC_COUNTER = 1,
	METRIC_GAUGE = 2,
};

struct metrics;

/* metrics_new - an empty registry; never NULL. */
struct metrics *metrics_new(void);
/* metrics_free - release m; NULL is fine. */
void metrics_free(struct metrics *m);

/* metrics_describe - declare the family name ([a-zA-Z_:][a-zA-Z0-9_:]*, at
 * most METRICS_NAME_MAX bytes) of type with a non-empty one-line help text
 * (printable UTF-8, at most METRICS_HELP_MAX bytes). Describing it again
 * with the same type replaces the help. A bad name or help, a type change,
 * METRICS_DROPPED_NAME or one family more than METRICS_MAX_FAMILIES is a
 * bug: log_bug() aborts. */
void metrics_describe(struct metrics *m, const char *name, enum metric_type type,
		      const char *help);

/* metrics_add - add v (finite, >= 0) to the counter series name{labels};
 * the series is created at 0 first if needed. labels is NULL or "" for no
 * labels, else `key="value"` pairs joined by commas, values escaped as
 * the exposition format says (\\, \", \n), not empty; pair order does not
 * matter. A malformed label set or a full registry drops the sample (see
 * above). An undescribed name, a gauge, or a bad v is a bug: aborts.
 * Adding 0 makes a series visible before its first event. */
void metrics_add(struct metrics *m, const char *name, const char *labels, double v);
/* metrics_set - set the gauge series name{labels} to v (finite); as
 * metrics_add otherwise. */
void metrics_set(struct metrics *m, const char *name, const char *labels, double v);

/* metrics_labels - write the label set of the (key, value) string pairs
 * that follow, ended by NULL, into out: values are escaped (\\, \", \n),
 * other control and non-ASCII bytes become '?'. Returns 0, or -1 when a
 * key is not a label name, a value is empty, there are more than
 * METRICS_MAX_LABELS pairs or the set does not fit outsz; out then holds a
 * set that metrics_add/set refuse, so an unchecked failure shows up as a
 * dropped sample and never as a wrong series. outsz >= 2.
 * Example: metrics_labels(l, sizeof(l), "reason", why, (char *)NULL). */
int metrics_labels(char *out, size_t outsz, ...) __attribute__((sentinel));

/* metrics_render - append m in the text exposition format to out: families
 * sorted by name, each with # HELP and # TYPE, then its series sorted by
 * label set; families without series are left out, except the dropped
 * counter, always present. Integral values print without exponent, others
 * with %.17g (exact round trip). Deterministic for a given registry. */
void metrics_render(const struct metrics *m, struct buf *out);

/* metrics_encode - append the snapshot of m to out (at most
 * METRICS_SNAPSHOT_MAX bytes; equal registries give equal bytes). */
void metrics_encode(const struct metrics *m, struct buf *out);
/* metrics_decode - the registry a snapshot of len bytes at p describes, or
 * NULL when it is malformed, not canonical, or over any limit. The caller
 * frees it with metrics_free(). */
struct metrics *metrics_decode(const void *p, size_t len);

/* metrics_merge - fold src into dst: families missing in dst are copied
 * (dst keeps its own help text), counter series add, gauge series take
 * src's value, the dropped counts add. Series of a family whose type
 * differs in dst, and series beyond dst's limits, are dropped and counted
 * in dst. src NULL does nothing. */
void metrics_merge(struct metrics *dst, const struct metrics *src);

/* metrics_listen_check - the metrics listener's address policy: 0 when sa
 * is a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104), -1
 * otherwise (any other address, another family, NULL). Pure: for the
 * config validator. The port is not looked at. */
int metrics_listen_check(const struct sockaddr *sa);

#endif
