/* SPDX-License-Identifier: ISC */
/*
 * metrics - counters and gauges, their text exposition and their snapshot.
 *
 * A registry is an array of families sorted by name, each with an array of
 * series sorted by canonical label set (pairs sorted by key), so lookups
 * are binary searches and rendering and encoding walk the arrays in order.
 *
 * Snapshot (all integers little-endian, nothing may follow):
 *
 *   magic    4 bytes "PMS" 0x01 (format version 1)
 *   dropped  u64    the registry's dropped-sample count
 *   nfam     u32    <= METRICS_MAX_FAMILIES, then nfam families, names
 *                   strictly ascending (strcmp):
 *     type   u8     1 counter, 2 gauge
 *     nlen   u16    name bytes follow (a valid name, not the dropped one)
 *     hlen   u16    help bytes follow (non-empty printable UTF-8)
 *   nser     u32    <= METRICS_MAX_SERIES, then nser series ordered by
 *                   family index, then by label set (strcmp), no repeats:
 *     fam    u16    index into the families above
 *     llen   u16    label bytes follow (the canonical set; may be empty)
 *     value  u64    IEEE 754 binary64 bits; finite; counters not negative
 *                   and not -0
 *
 * Every registry's series stay within a byte budget chosen so that the
 * snapshot of the largest registry fits METRICS_SNAPSHOT_MAX, which in
 * turn fits one IPC message. Decoding applies the same limits, so
 * metrics_decode(metrics_encode(m)) always succeeds and re-encodes to the
 * same bytes (the fuzz target checks both directions).
 *
 * SECURITY: see metrics.h. Decoding never trusts a count or a length: each
 * is checked against the bytes left and the named limits before use.
 */
#include "lib/metrics.h"

#include <float.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"

#define SNAP_MAGIC "PMS\x01"
#define SNAP_HEADER (4 + 8 + 4 + 4)
#define FAMILY_COST_MAX (1 + 2 + METRICS_NAME_MAX + 2 + METRICS_HELP_MAX)
#define SERIES_COST(llen) (2 + 2 + (size_t)(llen) + 8)
/* Snapshot bytes the series of one registry may take. */
#define SERIES_BUDGET                                                                        \
	((size_t)METRICS_SNAPSHOT_MAX - SNAP_HEADER - (size_t)METRICS_MAX_FAMILIES * FAMILY_COST_MAX)

_Static_assert(METRICS_SNAPSHOT_MAX + 64 <= IPC_MAX_PAYLOAD, "a snapshot fits one IPC message");
_Static_assert(METRICS_MAX_FAMILIES <= UINT16_MAX && METRICS_NAME_MAX <= UINT16_MAX &&
		       METRICS_HELP_MAX <= UINT16_MAX && METRICS_LABELS_MAX <= UINT16_MAX,
	       "snapshot lengths are u16");
/* Room for every series with a typical label set (three short pairs). */
_Static_assert(SERIES_BUDGET >= (size_t)METRICS_MAX_SERIES * SERIES_COST(56),
	       "the byte budget is not the binding limit for ordinary label sets");

#define DROPPED_HELP                                                                          \
	"Samples dropped because a metrics registry was full or a label set was malformed."

struct series {
	char *labels; /* canonical; "" for none */
	double value;
};

struct family {
	char *name;
	char *help;
	enum metric_type type;
	struct series *s; /* sorted by labels */
	size_t n, cap;
};

struct metrics {
	struct family f[METRICS_MAX_FAMILIES]; /* sorted by name */
	size_t n;
	size_t nseries;
	size_t series_bytes; /* what the series take in a snapshot */
	uint64_t dropped;
	bool warned; /* the first drop was logged */
};

static const char *
type_name(enum metric_type t)
{
	return t == METRIC_COUNTER ? "counter" : "gauge";
}

static bool
is_name_char(unsigned char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

/* valid_metric_name - [a-zA-Z_:][a-zA-Z0-9_:]*, at most METRICS_NAME_MAX. */
static bool
valid_metric_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > METRICS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)s[i], i == 0, true))
			return false;
	return true;
}

/* valid_label_name - [a-zA-Z_][a-zA-Z0-9_]*, not the reserved "__" prefix. */
static bool
valid_label_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || (len >= 2 && s[0] == '_' && s[1] == '_'))
		return false;
	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)s[i], i == 0, false))
			return false;
	return true;
}

/* valid_help - one line of printable UTF-8, 1..METRICS_HELP_MAX bytes. */
static bool
valid_help(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > METRICS_HELP_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return false;
	return valid_utf8(s, len);
}

struct lpair {
	const char *k, *v; /* v: the escaped value, without its quotes */
	size_t klen, vlen;
};

/* scan_value - the closing quote of the escaped value starting at p, or
 * NULL: no raw control bytes, only the escapes \\ \" \n, valid UTF-8, not
 * empty (Prometheus reads an empty value as an absent label). */
static const char *
scan_value(const char *p, const char *end)
{
	const char *v = p;

	while (p < end && *p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			return NULL;
		if (c == '\\') {
			if (end - p < 2 || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
				return NULL;
			p++;
		}
		p++;
	}
	if (p == end || p == v || !valid_utf8(v, (size_t)(p - v)))
		return NULL;
	return p;
}

static int
key_cmp(const struct lpair *a, const struct lpair *b)
{
	int c = memcmp(a->k, b->k, a->klen < b->klen ? a->klen : b->klen);

	if (c != 0)
		return c;
	return a->klen < b->klen ? -1 : a->klen > b->klen;
}

/* parse_labels - split len bytes at in into pairs; the count or -1. */
static int
parse_labels(const char *in, size_t len, struct lpair *pr)
{
	const char *p = in, *end = in + len;
	int n = 0;

	if (len > METRICS_LABELS_MAX)
		return -1;
	while (p < end) {
		const char *k = p;

		if (n == METRICS_MAX_LABELS)
			return -1;
		while (p < end && is_name_char((unsigned char)*p, p == k, false))
			p++;
		if (!valid_label_name(k, (size_t)(p - k)) || end - p < 2 || p[0] != '=' ||
		    p[1] != '"')
			return -1;
		pr[n].k = k;
		pr[n].klen = (size_t)(p - k);
		pr[n].v = p + 2;
		if ((p = scan_value(p + 2, end)) == NULL)
			return -1;
		pr[n].vlen = (size_t)(p - pr[n].v);
		n++;
		p++; /* the closing quote */
		if (p < end && (*p != ',' || ++p == end))
			return -1; /* junk, or a trailing comma */
	}
	return n;
}

/* labels_canon - the canonical form (pairs sorted by key) of the label set
 * of len bytes at in, NUL-terminated in out (METRICS_LABELS_MAX + 1
 * bytes; its length is len); 0, or -1 if malformed or a key repeats. */
static int
labels_canon(const char *in, size_t len, char *out)
{
	struct lpair pr[METRICS_MAX_LABELS], t;
	int n = parse_labels(in, len, pr), i, j;
	size_t o = 0;

	if (n < 0)
		return -1;
	for (i = 1; i < n; i++) {
		t = pr[i];
		for (j = i; j > 0 && key_cmp(&pr[j - 1], &t) > 0; j--)
			pr[j] = pr[j - 1];
		pr[j] = t;
	}
	for (i = 0; i < n; i++) {
		if (i > 0 && key_cmp(&pr[i - 1], &pr[i]) == 0)
			return -1;
		if (i > 0)
			out[o++] = ',';
		memcpy(out + o, pr[i].k, pr[i].klen);
		o += pr[i].klen;
		memcpy(out + o, "=\"", 2);
		o += 2;
		memcpy(out + o, pr[i].v, pr[i].vlen);
		o += pr[i].vlen;
		out[o++] = '"';
	}
	out[o] = '\0';
	return 0;
}

struct metrics *
metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
	size_t i, j;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		for (j = 0; j < m->f[i].n; j++)
			free(m->f[i].s[j].labels);
		free(m->f[i].s);
		free(m->f[i].name);
		free(m->f[i].help);
	}
	free(m);
}

/* family_pos - where name is (found) or would go in m->f. */
static size_t
family_pos(const struct metrics *m, const char *name, bool *found)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->f[mid].name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* family_insert - a new family at pos (the caller checked the limit). */
static struct family *
family_insert(struct metrics *m, size_t pos, const char *name, size_t nlen,
	      enum metric_type type, const char *help, size_t hlen)
{
	struct family *f = &m->f[pos];

	memmove(f + 1, f, (m->n - pos) * sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->name = xstrndup(name, nlen);
	f->help = xstrndup(help, hlen);
	f->type = type;
	m->n++;
	return f;
}

/* series_get - the series of f with the canonical labels (len bytes),
 * created at 0 if needed; NULL when that would pass a limit of m. */
static struct series *
series_get(struct metrics *m, struct family *f, const char *labels, size_t len)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->s[mid].labels, labels);

		if (c == 0)
			return &f->s[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (m->nseries >= METRICS_MAX_SERIES || m->series_bytes + SERIES_COST(len) > SERIES_BUDGET)
		return NULL;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		f->s = xreallocarray(f->s, f->cap, sizeof(*f->s));
	}
	memmove(&f->s[lo + 1], &f->s[lo], (f->n - lo) * sizeof(*f->s));
	f->s[lo].labels = xstrndup(labels, len);
	f->s[lo].value = 0;
	f->n++;
	m->nseries++;
	m->series_bytes += SERIES_COST(len);
	return &f->s[lo];
}

static uint64_t
sat_add_u64(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* counter_sum - a + b, held at DBL_MAX rather than becoming infinite. */
static double
counter_sum(double a, double b)
{
	double r = a + b;

	return isfinite(r) ? r : DBL_MAX;
}

/* drop - count a sample that was not kept; the first one is logged. */
static void
drop(struct metrics *m, const char *name, const char *labels, const char *why)
{
	char en[LOG_ESCAPE_BUF], el[LOG_ESCAPE_BUF];

	m->dropped = sat_add_u64(m->dropped, 1);
	if (m->warned)
		return;
	m->warned = true;
	log_warnx("metrics dropped-sample name=%s labels=\"%s\" reason=%s (further drops are "
		  "only counted in " METRICS_DROPPED_NAME ")",
		  log_escape_str(en, name), log_escape_str(el, labels), why);
}

void
metrics_describe(struct metrics *m, const char *name, enum metric_type type, const char *help)
{
	char esc[LOG_ESCAPE_BUF];
	size_t nlen = strnlen(name, METRICS_NAME_MAX + 1);
	size_t hlen = strnlen(help, METRICS_HELP_MAX + 1);
	struct family *f;
	bool found;
	size_t pos;

	if (!valid_metric_name(name, nlen) || strcmp(name, METRICS_DROPPED_NAME) == 0)
		log_bug("metrics: bad family name \"%s\"", log_escape_str(esc, name));
	if (!valid_help(help, hlen))
		log_bug("metrics: bad help text for %s", name);
	if (type != METRIC_COUNTER && type != METRIC_GAUGE)
		log_bug("metrics: bad type %d for %s", (int)type, name);
	pos = family_pos(m, name, &found);
	if (found) {
		f = &m->f[pos];
		if (f->type != type)
			log_bug("metrics: %s described as a %s and a %s", name, type_name(f->type),
				type_name(type));
		free(f->help);
		f->help = xstrndup(help, hlen);
		return;
	}
	if (m->n == METRICS_MAX_FAMILIES)
		log_bug("metrics: more than %d families (%s)", METRICS_MAX_FAMILIES, name);
	family_insert(m, pos, name, nlen, type, help, hlen);
}

/* public_series - the series metrics_add/set update, or NULL if dropped. */
static struct series *
public_series(struct metrics *m, const char *name, const char *labels, enum metric_type type)
{
	char canon[METRICS_LABELS_MAX + 1], esc[LOG_ESCAPE_BUF];
	struct series *s;
	struct family *f;
	bool found;
	size_t pos, len;

	pos = family_pos(m, name, &found);
	if (!found)
		log_bug("metrics: %s is not described", log_escape_str(esc, name));
	f = &m->f[pos];
	if (f->type != type)
		log_bug("metrics: %s is a %s", name, type_name(f->type));
	if (labels == NULL)
		labels = "";
	len = strnlen(labels, METRICS_LABELS_MAX + 1);
	if (labels_canon(labels, len, canon) == -1) {
		drop(m, name, labels, "malformed-labels");
		return NULL;
	}
	s = series_get(m, f, canon, len);
	if (s == NULL)
		drop(m, name, labels, "registry-full");
	return s;
}

void
metrics_add(struct metrics *m, const char *name, const char *labels, double v)
{
	struct series *s;

	if (!isfinite(v) || v < 0)
		log_bug("metrics: adding %g to the counter %s", v, name);
	s = public_series(m, name, labels, METRIC_COUNTER);
	if (s != NULL)
		s->value = counter_sum(s->value, v);
}

void
metrics_set(struct metrics *m, const char *name, const char *labels, double v)
{
	struct series *s;

	if (!isfinite(v))
		log_bug("metrics: setting the gauge %s to %g", name, v);
	s = public_series(m, name, labels, METRIC_GAUGE);
	if (s != NULL)
		s->value = v;
}

/* add_escaped - v as an exposition label value, stopping once b holds
 * more than a label set may. */
static void
add_escaped(struct buf *b, const char *v)
{
	for (; *v != '\0' && b->len <= METRICS_LABELS_MAX; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '\\' || c == '"') {
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
		} else if (c == '\n') {
			buf_adds(b, "\\n");
		} else {
			buf_addc(b, c < 0x20 || c >= 0x7f ? '?' : (char)c);
		}
	}
}

int
metrics_labels(char *out, size_t outsz, ...)
{
	char canon[METRICS_LABELS_MAX + 1];
	struct buf b = BUF_INIT;
	const char *k, *v;
	size_t n = 0;
	va_list ap;
	int rc = 0;

	if (outsz < 2)
		log_bug("metrics_labels: an output of %zu bytes", outsz);
	va_start(ap, outsz);
	while (rc == 0 && (k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (++n > METRICS_MAX_LABELS || !valid_label_name(k, strlen(k)) || v == NULL ||
		    *v == '\0') {
			rc = -1;
			break;
		}
		buf_addf(&b, "%s%s=\"", b.len > 0 ? "," : "", k);
		add_escaped(&b, v);
		buf_addc(&b, '"');
	}
	va_end(ap);
	if (rc == 0 && (labels_canon(buf_cstr(&b), b.len, canon) == -1 || b.len >= outsz))
		rc = -1;
	if (rc == 0)
		memcpy(out, canon, b.len + 1);
	else
		memcpy(out, "?", 2); /* refused by metrics_add/set */
	buf_free(&b);
	return rc;
}

/* add_value - v as the exposition format reads it back exactly. */
static void
add_value(struct buf *out, double v)
{
	if (isnan(v))
		buf_adds(out, "NaN");
	else if (isinf(v))
		buf_adds(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == 0)
		buf_addc(out, '0'); /* also -0 */
	else if (v == trunc(v) && fabs(v) < 0x1p64)
		buf_addf(out, "%.0f", v);
	else
		buf_addf(out, "%.17g", v);
}

static void
render_head(struct buf *out, const char *name, const char *help, enum metric_type type)
{
	buf_addf(out, "# HELP %s ", name);
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			buf_addc(out, '\\'); /* a newline cannot be in help */
		buf_addc(out, *help);
	}
	buf_addf(out, "\n# TYPE %s %s\n", name, type_name(type));
}

static void
render_family(struct buf *out, const struct family *f)
{
	size_t i;

	render_head(out, f->name, f->help, f->type);
	for (i = 0; i < f->n; i++) {
		buf_adds(out, f->name);
		if (f->s[i].labels[0] != '\0')
			buf_addf(out, "{%s}", f->s[i].labels);
		buf_addc(out, ' ');
		add_value(out, f->s[i].value);
		buf_addc(out, '\n');
	}
}

static void
render_dropped(struct buf *out, const struct metrics *m)
{
	render_head(out, METRICS_DROPPED_NAME, DROPPED_HELP, METRIC_COUNTER);
	buf_addf(out, METRICS_DROPPED_NAME " %llu\n", (unsigned long long)m->dropped);
}

void
metrics_render(const struct metrics *m, struct buf *out)
{
	bool dropped_done = false;
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (!dropped_done && strcmp(METRICS_DROPPED_NAME, m->f[i].name) < 0) {
			render_dropped(out, m);
			dropped_done = true;
		}
		if (m->f[i].n > 0)
			render_family(out, &m->f[i]);
	}
	if (!dropped_done)
		render_dropped(out, m);
}

static void
put_le(struct buf *out, uint64_t v, size_t n)
{
	uint8_t b[8];
	size_t i;

	for (i = 0; i < n; i++, v >>= 8)
		b[i] = (uint8_t)v;
	buf_add(out, b, n);
}

static void
put_str(struct buf *out, const char *s)
{
	size_t n = strlen(s);

	put_le(out, n, 2);
	buf_add(out, s, n);
}

void
metrics_encode(const struct metrics *m, struct buf *out)
{
	size_t start = out->len, i, j;
	uint64_t bits;

	buf_add(out, SNAP_MAGIC, 4);
	put_le(out, m->dropped, 8);
	put_le(out, m->n, 4);
	for (i = 0; i < m->n; i++) {
		put_le(out, (uint64_t)m->f[i].type, 1);
		put_str(out, m->f[i].name);
		put_str(out, m->f[i].help);
	}
	put_le(out, m->nseries, 4);
	for (i = 0; i < m->n; i++) {
		for (j = 0; j < m->f[i].n; j++) {
			put_le(out, i, 2);
			put_str(out, m->f[i].s[j].labels);
			memcpy(&bits, &m->f[i].s[j].value, sizeof(bits));
			put_le(out, bits, 8);
		}
	}
	if (out->len - start > METRICS_SNAPSHOT_MAX)
		log_bug("metrics: a snapshot of %zu bytes", out->len - start);
}

/* A bounds-checked reader over the snapshot. */
struct rd {
	const uint8_t *p;
	size_t len, pos;
};

static bool
rd_take(struct rd *r, size_t n, const char **out)
{
	if (n > r->len - r->pos)
		return false;
	*out = (const char *)r->p + r->pos;
	r->pos += n;
	return true;
}

static bool
rd_le(struct rd *r, size_t n, uint64_t *v)
{
	const char *b;
	size_t i;

	if (!rd_take(r, n, &b))
		return false;
	*v = 0;
	for (i = n; i-- > 0;)
		*v = *v << 8 | (uint8_t)b[i];
	return true;
}

static int
decode_families(struct rd *r, struct metrics *m)
{
	uint64_t n, type, nlen, hlen, i;
	const char *name, *help;

	if (!rd_le(r, 4, &n) || n > METRICS_MAX_FAMILIES)
		return -1;
	for (i = 0; i < n; i++) {
		if (!rd_le(r, 1, &type) || (type != METRIC_COUNTER && type != METRIC_GAUGE) ||
		    !rd_le(r, 2, &nlen) || !rd_take(r, nlen, &name) || !rd_le(r, 2, &hlen) ||
		    !rd_take(r, hlen, &help))
			return -1;
		if (!valid_metric_name(name, nlen) || !valid_help(help, hlen))
			return -1;
		family_insert(m, m->n, name, nlen, (enum metric_type)type, help, hlen);
		/* strictly ascending, so the array stays sorted and has no repeats */
		if ((m->n > 1 && strcmp(m->f[m->n - 2].name, m->f[m->n - 1].name) >= 0) ||
		    strcmp(m->f[m->n - 1].name, METRICS_DROPPED_NAME) == 0)
			return -1;
	}
	return 0;
}

static int
decode_one_series(struct rd *r, struct metrics *m, uint64_t *prev_fam)
{
	char canon[METRICS_LABELS_MAX + 1];
	uint64_t fam, llen, bits;
	const char *labels;
	struct family *f;
	struct series *s;
	double v;

	if (!rd_le(r, 2, &fam) || fam >= m->n || fam < *prev_fam || !rd_le(r, 2, &llen) ||
	    !rd_take(r, llen, &labels) || !rd_le(r, 8, &bits))
		return -1;
	if (labels_canon(labels, llen, canon) == -1 || memcmp(canon, labels, llen) != 0)
		return -1;
	f = &m->f[fam];
	if (f->n > 0 && strcmp(f->s[f->n - 1].labels, canon) >= 0)
		return -1; /* out of order or repeated */
	memcpy(&v, &bits, sizeof(v));
	if (!isfinite(v) || (f->type == METRIC_COUNTER && signbit(v)))
		return -1;
	if ((s = series_get(m, f, canon, llen)) == NULL)
		return -1; /* no honest registry is this large */
	s->value = v;
	*prev_fam = fam;
	return 0;
}

struct metrics *
metrics_decode(const void *p, size_t len)
{
	struct rd r = {p, len, 0};
	uint64_t n, i, prev_fam = 0;
	struct metrics *m;
	const char *magic;

	if (len > METRICS_SNAPSHOT_MAX || !rd_take(&r, 4, &magic) ||
	    memcmp(magic, SNAP_MAGIC, 4) != 0)
		return NULL;
	m = metrics_new();
	if (!rd_le(&r, 8, &m->dropped) || decode_families(&r, m) == -1 || !rd_le(&r, 4, &n) ||
	    n > METRICS_MAX_SERIES)
		goto fail;
	for (i = 0; i < n; i++)
		if (decode_one_series(&r, m, &prev_fam) == -1)
			goto fail;
	if (r.pos != r.len)
		goto fail;
	return m;
fail:
	metrics_free(m);
	return NULL;
}

/* merge_family - dst's family of sf's name, copied in if missing; NULL
 * when dst has no room for it. */
static struct family *
merge_family(struct metrics *dst, const struct family *sf)
{
	bool found;
	size_t pos = family_pos(dst, sf->name, &found);

	if (found)
		return &dst->f[pos];
	if (dst->n == METRICS_MAX_FAMILIES)
		return NULL;
	return family_insert(dst, pos, sf->name, strlen(sf->name), sf->type, sf->help,
			     strlen(sf->help));
}

void
metrics_merge(struct metrics *dst, const struct metrics *src)
{
	size_t i, j;

	if (src == NULL)
		return;
	dst->dropped = sat_add_u64(dst->dropped, src->dropped);
	for (i = 0; i < src->n; i++) {
		const struct family *sf = &src->f[i];
		struct family *df = merge_family(dst, sf);

		for (j = 0; j < sf->n; j++) {
			const struct series *ss = &sf->s[j];
			struct series *ds = NULL;

			if (df != NULL && df->type == sf->type)
				ds = series_get(dst, df, ss->labels, strlen(ss->labels));
			if (ds == NULL) {
				drop(dst, sf->name, ss->labels,
				     df == NULL || df->type == sf->type ? "registry-full"
									: "type-conflict");
				continue;
			}
			if (sf->type == METRIC_COUNTER)
				ds->value = counter_sum(ds->value, ss->value);
			else
				ds->value = ss->value;
		}
	}
}

int
metrics_listen_check(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const uint8_t *a;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&sin->sin_addr;
		if (a[0] != 127)
			return -1;
	} else if (sa->sa_family == AF_INET6) {
		a = sin6->sin6_addr.s6_addr;
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) &&
		    !(IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127))
			return -1;
	} else {
		return -1;
	}
	return 0;
}
