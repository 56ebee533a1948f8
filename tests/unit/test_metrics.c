/* SPDX-License-Identifier: ISC */
/*
 * test_metrics - the metrics registry (src/lib/metrics.c): the exact text
 * it renders, value formatting, label sets (canonical order, escaping,
 * the ones refused), the series and byte limits, the snapshot (round trip,
 * a table of malformed snapshots, every truncation and byte flip), merge,
 * the bugs that abort, and the metrics listener's address policy.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/metrics.h"
#include "lib/net.h"

#define DROPPED_HEAD                                                                          \
	"# HELP postern_metrics_dropped_total Samples dropped because a metrics registry was "  \
	"full or a label set was malformed.\n"                                                 \
	"# TYPE postern_metrics_dropped_total counter\n"

static void
assert_render(const struct metrics *m, const char *want)
{
	struct buf b = BUF_INIT;

	metrics_render(m, &b);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

/* sample_registry - the registry of the golden text below. */
static struct metrics *
sample_registry(void)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "postern_sessions", METRIC_GAUGE, "SMTP sessions open now.");
	metrics_describe(m, "postern_auth_attempts_total", METRIC_COUNTER,
			 "AUTH exchanges by mechanism and result.");
	metrics_describe(m, "postern_connections_total", METRIC_COUNTER,
			 "Connections by listener and result.");
	metrics_describe(m, "postern_unused_total", METRIC_COUNTER, "Described, never counted.");
	metrics_describe(m, "a_first", METRIC_GAUGE, "Help with a back\\slash.");
	metrics_add(m, "postern_auth_attempts_total", "result=\"ok\",mechanism=\"PLAIN\"", 1);
	metrics_add(m, "postern_auth_attempts_total", "mechanism=\"PLAIN\",result=\"ok\"", 2);
	metrics_add(m, "postern_auth_attempts_total", "mechanism=\"LOGIN\",result=\"fail\"", 1);
	metrics_add(m, "postern_connections_total", "listener=\"[::1]:587\",result=\"accepted\"",
		    3);
	metrics_add(m, "postern_connections_total", NULL, 0);
	metrics_set(m, "postern_sessions", NULL, 2);
	metrics_set(m, "postern_sessions", "", 1);
	metrics_set(m, "a_first", NULL, 0.25);
	return m;
}

static const char sample_text[] =
	"# HELP a_first Help with a back\\\\slash.\n"
	"# TYPE a_first gauge\n"
	"a_first 0.25\n"
	"# HELP postern_auth_attempts_total AUTH exchanges by mechanism and result.\n"
	"# TYPE postern_auth_attempts_total counter\n"
	"postern_auth_attempts_total{mechanism=\"LOGIN\",result=\"fail\"} 1\n"
	"postern_auth_attempts_total{mechanism=\"PLAIN\",result=\"ok\"} 3\n"
	"# HELP postern_connections_total Connections by listener and result.\n"
	"# TYPE postern_connections_total counter\n"
	"postern_connections_total 0\n"
	"postern_connections_total{listener=\"[::1]:587\",result=\"accepted\"} 3\n" DROPPED_HEAD
	"postern_metrics_dropped_total 0\n"
	"# HELP postern_sessions SMTP sessions open now.\n"
	"# TYPE postern_sessions gauge\n"
	"postern_sessions 1\n";

static void
test_render_golden(void **state)
{
	struct metrics *m = sample_registry();

	(void)state;
	assert_render(m, sample_text);
	metrics_free(m);
	metrics_free(NULL);

	m = metrics_new(); /* empty: only the dropped counter */
	assert_render(m, DROPPED_HEAD "postern_metrics_dropped_total 0\n");
	metrics_free(m);
}

static void
test_values(void **state)
{
	static const struct {
		double v;
		const char *want;
	} rows[] = {
		{0, "0"},
		{-0.0, "0"},
		{1, "1"},
		{-3, "-3"},
		{1e15, "1000000000000000"},
		{9007199254740993.0, "9007199254740992"}, /* 2^53 + 1 rounds to 2^53 */
		{9223372036854775808.0, "9223372036854775808"},
		{18446744073709549568.0, "18446744073709549568"}, /* the last double < 2^64 */
		{18446744073709551616.0, "1.8446744073709552e+19"},
		{DBL_MAX, "1.7976931348623157e+308"},
		{0.25, "0.25"},
		{-2.5, "-2.5"},
		{0.1, "0.10000000000000001"},
		{1.5e-7, "1.4999999999999999e-07"},
		{1.0 / 3, "0.33333333333333331"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct metrics *m = metrics_new();
		struct buf b = BUF_INIT;
		char want[128];

		metrics_describe(m, "g", METRIC_GAUGE, "G.");
		metrics_set(m, "g", NULL, rows[i].v);
		metrics_render(m, &b);
		snprintf(want, sizeof(want), "\ng %s\n", rows[i].want);
		if (strstr(buf_cstr(&b), want) == NULL)
			fail_msg("row %zu: want %s in:\n%s", i, rows[i].want, buf_cstr(&b));
		buf_free(&b);
		metrics_free(m);
	}
}

static void
test_counter_saturates(void **state)
{
	struct metrics *m = metrics_new();

	(void)state;
	metrics_describe(m, "c_total", METRIC_COUNTER, "C.");
	metrics_add(m, "c_total", NULL, DBL_MAX);
	metrics_add(m, "c_total", NULL, DBL_MAX);
	assert_render(m, "# HELP c_total C.\n# TYPE c_total counter\n"
			 "c_total 1.7976931348623157e+308\n" DROPPED_HEAD
			 "postern_metrics_dropped_total 0\n");
	metrics_free(m);
}

static void
test_describe_again(void **state)
{
	struct metrics *m = metrics_new();

	(void)state;
	metrics_describe(m, "x:y_total", METRIC_COUNTER, "Old.");
	metrics_add(m, "x:y_total", NULL, 1);
	metrics_describe(m, "x:y_total", METRIC_COUNTER, "New.");
	assert_render(m, DROPPED_HEAD "postern_metrics_dropped_total 0\n"
				      "# HELP x:y_total New.\n# TYPE x:y_total counter\n"
				      "x:y_total 1\n");
	metrics_free(m);
}

static void
test_labels_builder(void **state)
{
	char l[METRICS_LABELS_MAX + 1], big[400];
	struct metrics *m = metrics_new();

	(void)state;
	assert_int_equal(metrics_labels(l, sizeof(l), "reason", "a\\b\"c\nd", "check",
					"x\ty\x80", (char *)NULL),
			 0);
	/* sorted by key; \ " newline escaped, other bytes made '?' */
	assert_string_equal(l, "check=\"x?y?\",reason=\"a\\\\b\\\"c\\nd\"");
	metrics_describe(m, "e_total", METRIC_COUNTER, "E.");
	metrics_add(m, "e_total", l, 1);
	assert_int_equal(metrics_labels(l, sizeof(l), (char *)NULL), 0);
	assert_string_equal(l, "");
	assert_render(m, "# HELP e_total E.\n# TYPE e_total counter\n"
			 "e_total{check=\"x?y?\",reason=\"a\\\\b\\\"c\\nd\"} 1\n" DROPPED_HEAD
			 "postern_metrics_dropped_total 0\n");

	/* refused: out then holds a set metrics_add drops */
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(metrics_labels(l, sizeof(l), "1x", "v", (char *)NULL), -1);
	assert_string_equal(l, "?");
	assert_int_equal(metrics_labels(l, sizeof(l), "__x", "v", (char *)NULL), -1);
	assert_int_equal(metrics_labels(l, sizeof(l), "k", "", (char *)NULL), -1);
	assert_int_equal(metrics_labels(l, sizeof(l), "k", "a", "k", "b", (char *)NULL), -1);
	assert_int_equal(metrics_labels(l, sizeof(l), "k", big, (char *)NULL), -1);
	assert_int_equal(metrics_labels(l, 10, "k", "abcdef", (char *)NULL), -1);
	assert_int_equal(metrics_labels(l, 11, "k", "abcdef", (char *)NULL), 0);
	assert_int_equal(metrics_labels(l, sizeof(l), "a", "1", "b", "1", "c", "1", "d", "1",
					"e", "1", "f", "1", "g", "1", "h", "1", "i", "1",
					(char *)NULL),
			 -1);
	assert_string_equal(l, "?");
	metrics_add(m, "e_total", l, 1);
	assert_render(m, "# HELP e_total E.\n# TYPE e_total counter\n"
			 "e_total{check=\"x?y?\",reason=\"a\\\\b\\\"c\\nd\"} 1\n" DROPPED_HEAD
			 "postern_metrics_dropped_total 1\n");
	metrics_free(m);
}

static void
test_labels_refused(void **state)
{
	char nine[200], longset[METRICS_LABELS_MAX + 8];
	const char *rows[] = {
		"mechanism=PLAIN",
		"a=\"x\",",
		",a=\"x\"",
		"a=\"x\",,b=\"y\"",
		"a=\"x\"b=\"y\"",
		"a=\"x\" ",
		" a=\"x\"",
		"a =\"x\"",
		"a= \"x\"",
		"1a=\"x\"",
		"a:b=\"x\"",
		"a-b=\"x\"",
		"__a=\"x\"",
		"=\"x\"",
		"a=\"x\",a=\"y\"",
		"b=\"1\",a=\"2\",b=\"3\"",
		"a=\"\"",
		"a=\"x",
		"a=\"x\\\"",
		"a=\"\\q\"",
		"a=\"x\\",
		"a=\"x\ny\"",
		"a=\"x\ry\"",
		"a=\"\x01\"",
		"a=\"\x7f\"",
		"a=\"\xff\"",
		"a=\"\xc0\xaf\"",
		"a=\"x\"\"",
		"a='x'",
		"?",
		nine,
		longset,
	};
	struct metrics *m = metrics_new();
	char want[512];
	size_t i, n = sizeof(rows) / sizeof(rows[0]);

	(void)state;
	snprintf(nine, sizeof(nine), "a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\","
				     "h=\"1\",i=\"1\"");
	memset(longset, 'x', sizeof(longset) - 1);
	longset[sizeof(longset) - 1] = '\0';
	memcpy(longset, "k=\"", 3);
	longset[sizeof(longset) - 2] = '"'; /* well formed, but over METRICS_LABELS_MAX */
	metrics_describe(m, "r_total", METRIC_COUNTER, "R.");
	metrics_describe(m, "r", METRIC_GAUGE, "R.");
	for (i = 0; i < n; i++) {
		metrics_add(m, "r_total", rows[i], 1);
		metrics_set(m, "r", rows[i], 1);
	}
	/* the accepted neighbours of some of those */
	metrics_add(m, "r_total", "a=\"x\\\\\",b=\"\xc3\xa9\",c=\"\\n\\\"\"", 1);
	metrics_add(m, "r_total", "c=\"\\n\\\"\",b=\"\xc3\xa9\",a=\"x\\\\\"", 1);
	snprintf(want, sizeof(want),
		 DROPPED_HEAD "postern_metrics_dropped_total %zu\n"
		 "# HELP r_total R.\n# TYPE r_total counter\n"
		 "r_total{a=\"x\\\\\",b=\"\xc3\xa9\",c=\"\\n\\\"\"} 2\n",
		 2 * n);
	assert_render(m, want);
	metrics_free(m);
}

static void
test_series_cap(void **state)
{
	struct metrics *m = metrics_new();
	struct buf b = BUF_INIT;
	char l[64];
	size_t i, lines = 0;
	const char *p;

	(void)state;
	metrics_describe(m, "c_total", METRIC_COUNTER, "C.");
	for (i = 0; i < METRICS_MAX_SERIES + 10; i++) {
		snprintf(l, sizeof(l), "n=\"%zu\"", i);
		metrics_add(m, "c_total", l, 1);
	}
	metrics_add(m, "c_total", "n=\"0\"", 1); /* existing series still count */
	metrics_render(m, &b);
	for (p = buf_cstr(&b); (p = strstr(p, "\nc_total{")) != NULL; p++)
		lines++;
	assert_int_equal(lines, METRICS_MAX_SERIES);
	assert_non_null(strstr(buf_cstr(&b), "\nc_total{n=\"0\"} 2\n"));
	assert_null(strstr(buf_cstr(&b), "n=\"2048\""));
	assert_non_null(strstr(buf_cstr(&b), "\npostern_metrics_dropped_total 10\n"));
	buf_free(&b);
	metrics_free(m);
}

/* The byte budget: long label sets fill a snapshot before the series cap. */
static void
test_byte_budget(void **state)
{
	struct metrics *m = metrics_new(), *d;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	char l[METRICS_LABELS_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < METRICS_MAX_FAMILIES; i++) {
		char name[METRICS_NAME_MAX + 1], help[METRICS_HELP_MAX + 1];

		memset(name, 'n', METRICS_NAME_MAX);
		snprintf(name + METRICS_NAME_MAX - 3, 4, "%03zu", i);
		memset(help, 'h', METRICS_HELP_MAX);
		help[METRICS_HELP_MAX] = '\0';
		metrics_describe(m, name, METRIC_GAUGE, help);
		if (i == 0) {
			size_t j;

			for (j = 0; j < METRICS_MAX_SERIES; j++) {
				memset(l, 'x', METRICS_LABELS_MAX);
				snprintf(l, 12, "k=\"%08zu", j);
				l[11] = 'x';
				l[METRICS_LABELS_MAX - 1] = '"';
				l[METRICS_LABELS_MAX] = '\0';
				metrics_set(m, name, l, (double)j);
			}
		}
	}
	metrics_encode(m, &b);
	assert_true(b.len <= METRICS_SNAPSHOT_MAX);
	assert_true(b.len > METRICS_SNAPSHOT_MAX - 300);
	d = metrics_decode(b.data, b.len);
	assert_non_null(d);
	metrics_encode(d, &b2);
	assert_int_equal(b2.len, b.len);
	assert_memory_equal(b2.data, b.data, b.len);
	buf_reset(&b2);
	metrics_render(m, &b2);
	assert_null(strstr(buf_cstr(&b2), "\npostern_metrics_dropped_total 0\n"));
	buf_free(&b);
	buf_free(&b2);
	metrics_free(m);
	metrics_free(d);
}

static void
test_round_trip(void **state)
{
	struct metrics *m = sample_registry(), *d, *e;
	struct buf b = BUF_INIT, b2 = BUF_INIT;

	(void)state;
	metrics_describe(m, "neg", METRIC_GAUGE, "Negative and signed zero gauges.");
	metrics_set(m, "neg", "s=\"minus\"", -1e300);
	metrics_set(m, "neg", "s=\"zero\"", -0.0);
	metrics_add(m, "postern_auth_attempts_total", "bad", 1); /* dropped: 1 */
	metrics_encode(m, &b);
	d = metrics_decode(b.data, b.len);
	assert_non_null(d);
	metrics_encode(d, &b2);
	assert_int_equal(b2.len, b.len);
	assert_memory_equal(b2.data, b.data, b.len);
	buf_reset(&b);
	buf_reset(&b2);
	metrics_render(m, &b);
	metrics_render(d, &b2);
	assert_string_equal(buf_cstr(&b2), buf_cstr(&b));
	assert_non_null(strstr(buf_cstr(&b), "\nneg{s=\"minus\"} -1.0000000000000001e+300\n"));
	assert_non_null(strstr(buf_cstr(&b), "\nneg{s=\"zero\"} 0\n"));
	assert_non_null(strstr(buf_cstr(&b), "\npostern_metrics_dropped_total 1\n"));

	/* an empty registry too */
	e = metrics_new();
	buf_reset(&b);
	metrics_encode(e, &b);
	assert_int_equal(b.len, 20);
	metrics_free(e);
	e = metrics_decode(b.data, b.len);
	assert_non_null(e);
	metrics_free(e);
	buf_free(&b);
	buf_free(&b2);
	metrics_free(m);
	metrics_free(d);
}

/* A snapshot writer for the malformed-snapshot table. */
struct w {
	uint8_t b[4096];
	size_t n;
};

static void
w_le(struct w *w, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, v >>= 8)
		w->b[w->n++] = (uint8_t)v;
}

static void
w_bytes(struct w *w, const char *s, int len)
{
	size_t n = len < 0 ? strlen(s) : (size_t)len;

	w_le(w, n, 2);
	memcpy(w->b + w->n, s, n);
	w->n += n;
}

static void
w_double(struct w *w, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	w_le(w, bits, 8);
}

struct fspec {
	int type;
	const char *name;
	int nlen; /* -1: strlen */
	const char *help;
	int hlen;
};

struct sspec {
	int fam;
	const char *labels;
	int llen;
	double v;
};

static char long_name[METRICS_NAME_MAX + 2], long_help[METRICS_HELP_MAX + 2];
static char long_labels[METRICS_LABELS_MAX + 2];

#define F(t, n, h) {t, n, -1, h, -1}
#define S(f, l, v) {f, l, -1, v}
static const struct {
	const char *what;
	bool ok;
	const char *magic; /* NULL: "PMS\1" */
	int nfam, nser;	   /* the counts written; -1: the rows given */
	struct fspec f[3];
	struct sspec s[3];
	const char *tail; /* bytes after the series */
} snaps[] = {
	{"valid", true, NULL, -1, -1, {F(1, "a_total", "A."), F(2, "b", "B.")},
	 {S(0, "", 1), S(0, "k=\"v\"", 2), S(1, "", -0.5)}, NULL},
	{"valid: no families", true, NULL, 0, 0, {{0}}, {{0}}, NULL},
	{"valid: families without series", true, NULL, -1, 0, {F(1, "a", "A.")}, {{0}}, NULL},
	{"valid: gauge -0", true, NULL, -1, -1, {F(2, "g", "G.")}, {S(0, "", -0.0)}, NULL},
	{"version 2", false, "PMS\x02", -1, -1, {F(1, "a", "A.")}, {{0}}, NULL},
	{"bad magic", false, "XMS\x01", -1, -1, {F(1, "a", "A.")}, {{0}}, NULL},
	{"family count past the data", false, NULL, 2, 0, {F(1, "a", "A.")}, {{0}}, NULL},
	{"family count over the limit", false, NULL, METRICS_MAX_FAMILIES + 1, 0, {{0}}, {{0}},
	 NULL},
	{"type 0", false, NULL, -1, -1, {F(0, "a", "A.")}, {{0}}, NULL},
	{"type 3", false, NULL, -1, -1, {F(3, "a", "A.")}, {{0}}, NULL},
	{"empty name", false, NULL, -1, -1, {F(1, "", "A.")}, {{0}}, NULL},
	{"name starts with a digit", false, NULL, -1, -1, {F(1, "9a", "A.")}, {{0}}, NULL},
	{"name with a dash", false, NULL, -1, -1, {F(1, "a-b", "A.")}, {{0}}, NULL},
	{"name with a NUL", false, NULL, -1, -1, {{1, "a\0b", 3, "A.", -1}}, {{0}}, NULL},
	{"name too long", false, NULL, -1, -1, {F(1, long_name, "A.")}, {{0}}, NULL},
	{"the dropped counter's name", false, NULL, -1, -1,
	 {F(1, "postern_metrics_dropped_total", "A.")}, {{0}}, NULL},
	{"families out of order", false, NULL, -1, -1, {F(1, "b", "B."), F(1, "a", "A.")},
	 {{0}}, NULL},
	{"family repeated", false, NULL, -1, -1, {F(1, "a", "A."), F(1, "a", "A.")}, {{0}},
	 NULL},
	{"empty help", false, NULL, -1, -1, {F(1, "a", "")}, {{0}}, NULL},
	{"help with a newline", false, NULL, -1, -1, {F(1, "a", "A\nB.")}, {{0}}, NULL},
	{"help with DEL", false, NULL, -1, -1, {F(1, "a", "A\x7f")}, {{0}}, NULL},
	{"help not UTF-8", false, NULL, -1, -1, {F(1, "a", "A\xff")}, {{0}}, NULL},
	{"help with a NUL", false, NULL, -1, -1, {{1, "a", -1, "A\0B", 3}}, {{0}}, NULL},
	{"help too long", false, NULL, -1, -1, {F(1, "a", long_help)}, {{0}}, NULL},
	{"name length past the data", false, NULL, -1, -1, {{1, "a", 400, "A.", -1}}, {{0}},
	 NULL},
	{"series count past the data", false, NULL, -1, 2, {F(1, "a", "A.")}, {S(0, "", 1)},
	 NULL},
	{"series count over the limit", false, NULL, -1, METRICS_MAX_SERIES + 1,
	 {F(1, "a", "A.")}, {{0}}, NULL},
	{"family index out of range", false, NULL, -1, -1, {F(1, "a", "A.")}, {S(1, "", 1)},
	 NULL},
	{"series of families out of order", false, NULL, -1, -1,
	 {F(1, "a", "A."), F(1, "b", "B.")}, {S(1, "", 1), S(0, "", 1)}, NULL},
	{"series out of order", false, NULL, -1, -1, {F(1, "a", "A.")},
	 {S(0, "k=\"b\"", 1), S(0, "k=\"a\"", 1)}, NULL},
	{"series repeated", false, NULL, -1, -1, {F(1, "a", "A.")},
	 {S(0, "k=\"a\"", 1), S(0, "k=\"a\"", 1)}, NULL},
	{"labels not canonical", false, NULL, -1, -1, {F(1, "a", "A.")},
	 {S(0, "b=\"1\",a=\"2\"", 1)}, NULL},
	{"labels malformed", false, NULL, -1, -1, {F(1, "a", "A.")}, {S(0, "k=v", 1)}, NULL},
	{"labels with a NUL", false, NULL, -1, -1, {F(1, "a", "A.")},
	 {{0, "k=\"a\0\"", 6, 1}}, NULL},
	{"labels too long", false, NULL, -1, -1, {F(1, "a", "A.")}, {S(0, long_labels, 1)},
	 NULL},
	{"label length past the data", false, NULL, -1, -1, {F(1, "a", "A.")},
	 {{0, "k=\"v\"", 300, 1}}, NULL},
	{"NaN", false, NULL, -1, -1, {F(2, "a", "A.")}, {S(0, "", NAN)}, NULL},
	{"+Inf", false, NULL, -1, -1, {F(2, "a", "A.")}, {S(0, "", INFINITY)}, NULL},
	{"-Inf", false, NULL, -1, -1, {F(2, "a", "A.")}, {S(0, "", -INFINITY)}, NULL},
	{"negative counter", false, NULL, -1, -1, {F(1, "a", "A.")}, {S(0, "", -1)}, NULL},
	{"counter -0", false, NULL, -1, -1, {F(1, "a", "A.")}, {S(0, "", -0.0)}, NULL},
	{"trailing byte", false, NULL, -1, -1, {F(1, "a", "A.")}, {S(0, "", 1)}, "x"},
};
#undef F
#undef S

static void
build_snapshot(size_t r, struct w *w)
{
	size_t nf = 0, ns = 0, i;

	while (nf < 3 && snaps[r].f[nf].name != NULL)
		nf++;
	while (ns < 3 && snaps[r].s[ns].labels != NULL)
		ns++;
	w->n = 0;
	memcpy(w->b, snaps[r].magic ? snaps[r].magic : "PMS\x01", 4);
	w->n = 4;
	w_le(w, 7, 8); /* dropped */
	w_le(w, snaps[r].nfam < 0 ? nf : (size_t)snaps[r].nfam, 4);
	for (i = 0; i < nf; i++) {
		const struct fspec *f = &snaps[r].f[i];

		w_le(w, (uint64_t)f->type, 1);
		if (f->nlen > (int)strlen(f->name) && f->nlen > 8) {
			w_le(w, (uint64_t)f->nlen, 2); /* a length past the data */
			return;
		}
		w_bytes(w, f->name, f->nlen);
		w_bytes(w, f->help, f->hlen);
	}
	w_le(w, snaps[r].nser < 0 ? ns : (size_t)snaps[r].nser, 4);
	for (i = 0; i < ns; i++) {
		const struct sspec *s = &snaps[r].s[i];

		w_le(w, (uint64_t)s->fam, 2);
		if (s->llen > (int)strlen(s->labels) && s->llen > 8) {
			w_le(w, (uint64_t)s->llen, 2);
			w_bytes(w, s->labels, -1);
			return;
		}
		w_bytes(w, s->labels, s->llen);
		w_double(w, s->v);
	}
	if (snaps[r].tail != NULL) {
		memcpy(w->b + w->n, snaps[r].tail, strlen(snaps[r].tail));
		w->n += strlen(snaps[r].tail);
	}
}

static void
test_decode_table(void **state)
{
	struct w w;
	size_t r;

	(void)state;
	memset(long_name, 'a', METRICS_NAME_MAX + 1);
	memset(long_help, 'h', METRICS_HELP_MAX + 1);
	memset(long_labels, 'x', METRICS_LABELS_MAX + 1);
	memcpy(long_labels, "k=\"", 3);
	long_labels[METRICS_LABELS_MAX] = '"';
	for (r = 0; r < sizeof(snaps) / sizeof(snaps[0]); r++) {
		struct metrics *m;

		build_snapshot(r, &w);
		m = metrics_decode(w.b, w.n);
		if ((m != NULL) != snaps[r].ok)
			fail_msg("%s: decode %s", snaps[r].what, m ? "accepted" : "refused");
		if (m != NULL) {
			struct buf b = BUF_INIT;

			metrics_encode(m, &b); /* what is accepted is canonical */
			assert_int_equal(b.len, w.n);
			assert_memory_equal(b.data, w.b, w.n);
			buf_free(&b);
		}
		metrics_free(m);
	}
}

static void
test_decode_golden_and_limits(void **state)
{
	struct w w;
	struct metrics *m;
	struct buf b = BUF_INIT;
	uint8_t *big;

	(void)state;
	build_snapshot(0, &w);
	m = metrics_decode(w.b, w.n);
	assert_non_null(m);
	assert_render(m, "# HELP a_total A.\n# TYPE a_total counter\n"
			 "a_total 1\n"
			 "a_total{k=\"v\"} 2\n"
			 "# HELP b B.\n# TYPE b gauge\n"
			 "b -0.5\n" DROPPED_HEAD "postern_metrics_dropped_total 7\n");
	metrics_free(m);
	/* a valid start followed by zeros up to one byte over the limit */
	big = calloc(1, METRICS_SNAPSHOT_MAX + 1);
	assert_non_null(big);
	memcpy(big, w.b, w.n);
	assert_null(metrics_decode(big, METRICS_SNAPSHOT_MAX + 1));
	assert_null(metrics_decode(big, METRICS_SNAPSHOT_MAX)); /* trailing zeros */
	assert_null(metrics_decode(NULL, 0));
	free(big);
	buf_free(&b);
}

/* Every truncation of a valid snapshot is refused; every single-byte
 * change is refused or, if accepted, is itself canonical. */
static void
test_decode_truncated_and_flipped(void **state)
{
	struct metrics *src = sample_registry(), *m;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	size_t i, accepted = 0;
	uint8_t *c;
	int bit;

	(void)state;
	metrics_encode(src, &b);
	for (i = 0; i < b.len; i++)
		if ((m = metrics_decode(b.data, i)) != NULL)
			fail_msg("a prefix of %zu of %zu bytes was accepted", i, b.len);
	c = malloc(b.len);
	assert_non_null(c);
	for (i = 0; i < b.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(c, b.data, b.len);
			c[i] ^= (uint8_t)(1u << bit);
			m = metrics_decode(c, b.len);
			if (m == NULL)
				continue;
			accepted++;
			buf_reset(&b2);
			metrics_encode(m, &b2);
			assert_int_equal(b2.len, b.len);
			assert_memory_equal(b2.data, c, b.len);
			metrics_free(m);
		}
	}
	/* values, the dropped count and label/name letters may change */
	assert_true(accepted > 0);
	free(c);
	buf_free(&b);
	buf_free(&b2);
	metrics_free(src);
}

static void
test_merge(void **state)
{
	struct metrics *dst = metrics_new(), *src = metrics_new(), *copy = metrics_new();
	struct buf b1 = BUF_INIT, b2 = BUF_INIT;

	(void)state;
	metrics_describe(dst, "c_total", METRIC_COUNTER, "C in dst.");
	metrics_describe(dst, "g", METRIC_GAUGE, "G.");
	metrics_describe(dst, "t", METRIC_COUNTER, "T as a counter.");
	metrics_add(dst, "c_total", "k=\"a\"", 1);
	metrics_set(dst, "g", NULL, 5);
	metrics_describe(src, "c_total", METRIC_COUNTER, "C in src.");
	metrics_describe(src, "g", METRIC_GAUGE, "G.");
	metrics_describe(src, "t", METRIC_GAUGE, "T as a gauge.");
	metrics_describe(src, "x_total", METRIC_COUNTER, "X.");
	metrics_add(src, "c_total", "k=\"a\"", 2);
	metrics_add(src, "c_total", "k=\"b\"", 4);
	metrics_set(src, "g", NULL, 7);
	metrics_set(src, "t", NULL, 3);
	metrics_add(src, "x_total", NULL, 1);
	metrics_add(src, "x_total", "bad", 1);
	metrics_add(src, "x_total", "bad", 1); /* src dropped 2 */

	metrics_merge(copy, src); /* into an empty registry: a copy */
	metrics_encode(src, &b1);
	metrics_encode(copy, &b2);
	assert_int_equal(b1.len, b2.len);
	assert_memory_equal(b1.data, b2.data, b1.len);

	metrics_merge(dst, src);
	metrics_merge(dst, NULL);
	assert_render(dst, "# HELP c_total C in dst.\n# TYPE c_total counter\n"
			   "c_total{k=\"a\"} 3\n"
			   "c_total{k=\"b\"} 4\n"
			   "# HELP g G.\n# TYPE g gauge\n"
			   "g 7\n" DROPPED_HEAD "postern_metrics_dropped_total 3\n"
			   "# HELP x_total X.\n# TYPE x_total counter\n"
			   "x_total 1\n");
	/* again: counters add up, gauges stay the source's, t still conflicts */
	metrics_merge(dst, src);
	assert_render(dst, "# HELP c_total C in dst.\n# TYPE c_total counter\n"
			   "c_total{k=\"a\"} 5\n"
			   "c_total{k=\"b\"} 8\n"
			   "# HELP g G.\n# TYPE g gauge\n"
			   "g 7\n" DROPPED_HEAD "postern_metrics_dropped_total 6\n"
			   "# HELP x_total X.\n# TYPE x_total counter\n"
			   "x_total 2\n");
	buf_free(&b1);
	buf_free(&b2);
	metrics_free(dst);
	metrics_free(src);
	metrics_free(copy);
}

static void
test_merge_limits(void **state)
{
	struct metrics *dst = metrics_new(), *src = metrics_new();
	char name[32], l[32];
	size_t i;

	(void)state;
	/* dst full of families: src's new family is dropped, series by series */
	for (i = 0; i < METRICS_MAX_FAMILIES; i++) {
		snprintf(name, sizeof(name), "f%02zu", i);
		metrics_describe(dst, name, METRIC_GAUGE, "F.");
	}
	metrics_describe(src, "z_total", METRIC_COUNTER, "Z.");
	metrics_add(src, "z_total", "k=\"1\"", 1);
	metrics_add(src, "z_total", "k=\"2\"", 1);
	metrics_merge(dst, src);
	assert_render(dst, DROPPED_HEAD "postern_metrics_dropped_total 2\n");
	metrics_free(dst);
	metrics_free(src);

	/* series: two registries of METRICS_MAX_SERIES each */
	dst = metrics_new();
	src = metrics_new();
	metrics_describe(dst, "c_total", METRIC_COUNTER, "C.");
	metrics_describe(src, "c_total", METRIC_COUNTER, "C.");
	for (i = 0; i < METRICS_MAX_SERIES; i++) {
		snprintf(l, sizeof(l), "d=\"%zu\"", i);
		metrics_add(dst, "c_total", l, 1);
		snprintf(l, sizeof(l), "s=\"%zu\"", i);
		metrics_add(src, "c_total", l, 1);
	}
	metrics_merge(dst, src);
	{
		struct buf b = BUF_INIT;

		metrics_render(dst, &b);
		assert_non_null(strstr(buf_cstr(&b), "\npostern_metrics_dropped_total 2048\n"));
		buf_free(&b);
	}
	metrics_free(dst);
	metrics_free(src);
}

/* Bugs: each must abort (log_bug) rather than go on. */
static char bug_long_name[METRICS_NAME_MAX + 2];

static void
bug_name_digit(void)
{
	metrics_describe(metrics_new(), "9abc", METRIC_COUNTER, "X.");
}

static void
bug_name_dash(void)
{
	metrics_describe(metrics_new(), "a-b", METRIC_COUNTER, "X.");
}

static void
bug_name_empty(void)
{
	metrics_describe(metrics_new(), "", METRIC_COUNTER, "X.");
}

static void
bug_name_long(void)
{
	memset(bug_long_name, 'a', METRICS_NAME_MAX + 1);
	metrics_describe(metrics_new(), bug_long_name, METRIC_COUNTER, "X.");
}

static void
bug_name_reserved(void)
{
	metrics_describe(metrics_new(), METRICS_DROPPED_NAME, METRIC_COUNTER, "X.");
}

static void
bug_help_empty(void)
{
	metrics_describe(metrics_new(), "a", METRIC_COUNTER, "");
}

static void
bug_help_newline(void)
{
	metrics_describe(metrics_new(), "a", METRIC_COUNTER, "X\nY");
}

static void
bug_bad_type(void)
{
	metrics_describe(metrics_new(), "a", (enum metric_type)3, "X.");
}

static void
bug_type_change(void)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "a", METRIC_COUNTER, "X.");
	metrics_describe(m, "a", METRIC_GAUGE, "X.");
}

static void
bug_too_many_families(void)
{
	struct metrics *m = metrics_new();
	char name[16];
	int i;

	for (i = 0; i <= METRICS_MAX_FAMILIES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		metrics_describe(m, name, METRIC_COUNTER, "X.");
	}
}

static void
bug_undescribed(void)
{
	metrics_add(metrics_new(), "a", NULL, 1);
}

static void
bug_add_gauge(void)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "a", METRIC_GAUGE, "X.");
	metrics_add(m, "a", NULL, 1);
}

static void
bug_set_counter(void)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "a", METRIC_COUNTER, "X.");
	metrics_set(m, "a", NULL, 1);
}

static void
bug_add_negative(void)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "a", METRIC_COUNTER, "X.");
	metrics_add(m, "a", NULL, -1);
}

static void
bug_add_nan(void)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "a", METRIC_COUNTER, "X.");
	metrics_add(m, "a", NULL, NAN);
}

static void
bug_set_inf(void)
{
	struct metrics *m = metrics_new();

	metrics_describe(m, "a", METRIC_GAUGE, "X.");
	metrics_set(m, "a", NULL, INFINITY);
}

static void
bug_labels_tiny_out(void)
{
	char l[1];

	metrics_labels(l, sizeof(l), (char *)NULL);
}

static void
test_bugs_abort(void **state)
{
	static const struct {
		const char *what;
		void (*fn)(void);
	} rows[] = {
		{"name starting with a digit", bug_name_digit},
		{"name with a dash", bug_name_dash},
		{"empty name", bug_name_empty},
		{"name too long", bug_name_long},
		{"the reserved name", bug_name_reserved},
		{"empty help", bug_help_empty},
		{"help with a newline", bug_help_newline},
		{"bad type", bug_bad_type},
		{"type change", bug_type_change},
		{"a family too many", bug_too_many_families},
		{"add to an undescribed family", bug_undescribed},
		{"add to a gauge", bug_add_gauge},
		{"set a counter", bug_set_counter},
		{"add a negative", bug_add_negative},
		{"add NaN", bug_add_nan},
		{"set Inf", bug_set_inf},
		{"metrics_labels with outsz 1", bug_labels_tiny_out},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int st;
		pid_t pid = fork();

		assert_true(pid != -1);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			if (null != -1)
				dup2(null, 2);
			rows[i].fn();
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
			fail_msg("%s: did not abort (status %d)", rows[i].what, st);
	}
}

static void
test_listen_check(void **state)
{
	static const struct {
		const char *ip;
		int want;
	} rows[] = {
		{"127.0.0.1", 0},
		{"127.0.0.2", 0},
		{"127.255.255.254", 0},
		{"::1", 0},
		{"::ffff:127.0.0.1", 0},
		{"0.0.0.0", -1},
		{"10.0.0.1", -1},
		{"126.255.255.255", -1},
		{"128.0.0.1", -1},
		{"192.0.2.1", -1},
		{"::", -1},
		{"::2", -1},
		{"::127.0.0.1", -1}, /* IPv4-compatible, deprecated: not loopback */
		{"::ffff:10.0.0.1", -1},
		{"fe80::1", -1},
		{"2001:db8::1", -1},
	};
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	socklen_t len;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(net_parse_ip(rows[i].ip, &ss, &len), 0);
		if (metrics_listen_check((struct sockaddr *)&ss) != rows[i].want)
			fail_msg("%s: want %d", rows[i].ip, rows[i].want);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(metrics_listen_check((struct sockaddr *)&sun), -1);
	assert_int_equal(metrics_listen_check(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_golden),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_counter_saturates),
		cmocka_unit_test(test_describe_again),
		cmocka_unit_test(test_labels_builder),
		cmocka_unit_test(test_labels_refused),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_byte_budget),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_golden_and_limits),
		cmocka_unit_test(test_decode_truncated_and_flipped),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_limits),
		cmocka_unit_test(test_bugs_abort),
		cmocka_unit_test(test_listen_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
