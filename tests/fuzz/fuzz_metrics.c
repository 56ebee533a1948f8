/* SPDX-License-Identifier: ISC */
/*
 * fuzz_metrics - the metrics snapshot decoder (src/lib/metrics.c) on bytes
 * another process could send, and the label-set parser behind metrics_add.
 *
 * When the input decodes, checked: it re-encodes to exactly the input
 * (only canonical snapshots are accepted); merged into an empty registry
 * it encodes the same again; merged once more (counters double, perhaps
 * up to the DBL_MAX cap) it still encodes within the limit and decodes;
 * and its rendering is exposition text a scraper reads: every line a
 * "# HELP", "# TYPE" or sample line, each family once with HELP, then
 * TYPE, then its samples, families in ascending order, labels well
 * quoted, values that parse as numbers.
 * Then the input, up to its first NUL, is used as a label set: whether
 * metrics_add keeps or drops it, the registry renders well and its
 * snapshot decodes again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* name_len - the length of the metric name at p (0 if none). */
static size_t
name_len(const char *p, const char *end)
{
	size_t n = 0;

	while (p + n < end && name_char(p[n], n == 0))
		n++;
	return n;
}

/* labels_end - past the "}" of the label set at p ("{" ...), or NULL. */
static const char *
labels_end(const char *p, const char *end)
{
	bool in_value = false;

	for (p++; p < end; p++) {
		if (in_value) {
			if (*p == '\\') {
				if (p + 1 >= end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
					return NULL;
				p++;
			} else if (*p == '"') {
				in_value = false;
			}
		} else if (*p == '"') {
			in_value = true;
		} else if (*p == '}') {
			return p + 1;
		} else if (!name_char(*p, false) && *p != '=' && *p != ',') {
			return NULL;
		}
	}
	return NULL;
}

static void
check_value(const char *p, const char *end)
{
	char v[64], *e;
	size_t n = (size_t)(end - p);

	if (n == 0 || n >= sizeof(v))
		abort();
	memcpy(v, p, n);
	v[n] = '\0';
	if (strcmp(v, "NaN") == 0 || strcmp(v, "+Inf") == 0 || strcmp(v, "-Inf") == 0)
		return;
	(void)strtod(v, &e);
	if (*e != '\0')
		abort();
}

/* check_render - the rendering of a registry, line by line. */
static void
check_render(const struct buf *b)
{
	const char *p = buf_cstr(b), *end = p + b->len;
	char fam[METRICS_NAME_MAX + 1] = "", name[METRICS_NAME_MAX + 1];
	int state = 0; /* 0 want HELP, 1 want TYPE, 2 in samples */

	if (strlen(p) != b->len || (b->len > 0 && end[-1] != '\n'))
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q;
		size_t n;

		if (strncmp(p, "# HELP ", 7) == 0 && state != 1) {
			n = name_len(p + 7, nl);
			if (n == 0 || n > METRICS_NAME_MAX || p[7 + n] != ' ')
				abort();
			memcpy(name, p + 7, n);
			name[n] = '\0';
			if (fam[0] != '\0' && strcmp(fam, name) >= 0)
				abort(); /* families ascend and appear once */
			memcpy(fam, name, n + 1);
			state = 1;
		} else if (strncmp(p, "# TYPE ", 7) == 0 && state == 1) {
			n = strlen(fam);
			if (strncmp(p + 7, fam, n) != 0 || p[7 + n] != ' ' ||
			    (strncmp(p + 8 + n, "counter\n", 8) != 0 &&
			     strncmp(p + 8 + n, "gauge\n", 6) != 0))
				abort();
			state = 2;
		} else if (state == 2 && p[0] != '#') {
			n = strlen(fam);
			if (strncmp(p, fam, n) != 0)
				abort();
			q = p + n;
			if (*q == '{' && (q = labels_end(q, nl)) == NULL)
				abort();
			if (*q != ' ')
				abort();
			check_value(q + 1, nl);
		} else {
			abort();
		}
		p = nl + 1;
	}
	if (state != 2)
		abort(); /* at least the dropped counter, complete */
}

static void
check_snapshot(const uint8_t *data, size_t size, struct metrics *m)
{
	struct metrics *copy = metrics_new(), *twice;
	struct buf b = BUF_INIT;

	metrics_encode(m, &b);
	if (b.len != size || memcmp(b.data, data, size) != 0)
		abort();
	metrics_merge(copy, m);
	buf_reset(&b);
	metrics_encode(copy, &b);
	if (b.len != size || memcmp(b.data, data, size) != 0)
		abort();
	metrics_merge(copy, m);
	buf_reset(&b);
	metrics_encode(copy, &b);
	if (b.len > METRICS_SNAPSHOT_MAX || (twice = metrics_decode(b.data, b.len)) == NULL)
		abort();
	metrics_free(twice);
	buf_reset(&b);
	metrics_render(m, &b);
	check_render(&b);
	buf_reset(&b);
	metrics_render(copy, &b);
	check_render(&b);
	buf_free(&b);
	metrics_free(copy);
}

static void
check_labels(const uint8_t *data, size_t size)
{
	struct metrics *m = metrics_new(), *d;
	struct buf b = BUF_INIT;
	char s[METRICS_LABELS_MAX + 64];
	size_t n = strnlen((const char *)data, size);

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	metrics_describe(m, "f_total", METRIC_COUNTER, "F.");
	metrics_describe(m, "g", METRIC_GAUGE, "G.");
	metrics_add(m, "f_total", s, 1);
	metrics_set(m, "g", s, -1.5);
	metrics_render(m, &b);
	check_render(&b);
	buf_reset(&b);
	metrics_encode(m, &b);
	if ((d = metrics_decode(b.data, b.len)) == NULL)
		abort();
	metrics_free(d);
	buf_free(&b);
	metrics_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics *m;

	log_set_level(LOG_LEVEL_ERROR); /* a first drop warns; not news here */
	if (size > METRICS_SNAPSHOT_MAX + 16)
		return 0;
	m = metrics_decode(data, size);
	if (m != NULL)
		check_snapshot(data, size, m);
	metrics_free(m);
	check_labels(data, size);
	return 0;
}
