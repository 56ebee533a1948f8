/* SPDX-License-Identifier: ISC */
/*
 * dmarc_report - DMARC aggregate reports: evaluations, their store, the
 * XML report, the rua= destinations and the report mail (see
 * dmarc_report.h).
 *
 * SECURITY: see dmarc_report.h. Evaluation strings are checked and
 * lower-cased before they reach the database; the database is created
 * 0600; statements use bound parameters only; integers read back are
 * range-checked, so a damaged database gives an error, not a bad report.
 */
#include "mailauth/dmarc_report.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#define ZLIB_CONST /* next_in points to const input */
#include <zlib.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/header.h"

/* The last second a date may name (31 Dec 9999): keeps arithmetic sane. */
#define DMARC_TIME_MAX INT64_C(253402300799)
#define DAY 86400
/* Base64 input bytes per 76-character line (RFC 2045 6.8). */
#define B64_LINE_IN 57
/* zlib works through this much output at a time. */
#define GZ_CHUNK 16384

/*
 * Names.
 */
static const char *const dkim_names[] = {"none",    "pass",	 "fail",     "policy",
					 "neutral", "temperror", "permerror"};
static const char *const override_names[] = {"none",	      "forwarded",    "sampled_out",
					     "trusted_forwarder", "mailing_list", "local_policy",
					     "other"};
static const char *const rua_names[] = {"send",	 "not-mailto",	 "bad-address",
					"duplicate", "unauthorized", "too-big"};

const char *
dmarc_dkim_result_name(enum dmarc_dkim_result r)
{
	return (size_t)r < nitems(dkim_names) ? dkim_names[r] : "permerror";
}

const char *
dmarc_override_name(enum dmarc_override o)
{
	return (size_t)o < nitems(override_names) ? override_names[o] : "other";
}

const char *
dmarc_rua_status_name(enum dmarc_rua_status s)
{
	return (size_t)s < nitems(rua_names) ? rua_names[s] : "unknown";
}

enum dmarc_dkim_result
dmarc_dkim_result_of(enum dkim_result r)
{
	switch (r) {
	case DKIM_PASS:
		return DMARC_DKIM_PASS;
	case DKIM_FAIL:
		return DMARC_DKIM_FAIL;
	case DKIM_NEUTRAL:
		return DMARC_DKIM_NEUTRAL;
	case DKIM_TEMPERROR:
		return DMARC_DKIM_TEMPERROR;
	default:
		return DMARC_DKIM_PERMERROR;
	}
}

int
dmarc_eval_set_policy(struct dmarc_eval *e, const char *domain, const struct dmarc_record *r)
{
	struct dmarc_published *p = &e->policy;

	memset(p, 0, sizeof(*p));
	if (str_copy(p->domain, domain, sizeof(p->domain)) == -1)
		return -1;
	p->adkim_strict = r->adkim_strict;
	p->aspf_strict = r->aspf_strict;
	p->p = r->p;
	p->sp = r->sp;
	p->has_np = r->np != r->sp;
	p->np = r->np;
	p->pct = r->pct;
	str_copy(p->fo, r->fo, sizeof(p->fo));
	memcpy(p->rua, r->rua, sizeof(p->rua));
	p->nrua = r->nrua;
	return 0;
}

/*
 * Checking an evaluation.
 */
#define NAME_EMPTY_OK 0x1 /* "" is allowed */
#define NAME_SPACES 0x2	  /* spaces are allowed (comments) */
#define NAME_KEEP_CASE 0x4

/* clean - the string in s[size] is NUL-terminated, non-empty unless
 * allowed, without controls (or spaces unless allowed), valid UTF-8;
 * ASCII letters are lower-cased unless told otherwise. */
static int
clean(char *s, size_t size, unsigned flags)
{
	size_t len = strnlen(s, size), i;

	if (len == size || (len == 0 && !(flags & NAME_EMPTY_OK)) || !valid_utf8(s, len))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (c == ' ' && !(flags & NAME_SPACES)))
			return -1;
		if (!(flags & NAME_KEEP_CASE))
			s[i] = (char)tolower(c);
	}
	return 0;
}

/* canon_ip - the address in s as inet_ntop prints it (IPv4-mapped IPv6
 * as IPv4), in place; -1 if it is not an address. */
static int
canon_ip(char *s, size_t size)
{
	unsigned char a[16];
	char out[INET6_ADDRSTRLEN];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (strnlen(s, size) == size)
		return -1;
	if (inet_pton(AF_INET, s, a) == 1) {
		if (inet_ntop(AF_INET, a, out, sizeof(out)) == NULL)
			return -1;
	} else if (inet_pton(AF_INET6, s, a) == 1) {
		if (memcmp(a, mapped, sizeof(mapped)) == 0
			    ? inet_ntop(AF_INET, a + 12, out, sizeof(out)) == NULL
			    : inet_ntop(AF_INET6, a, out, sizeof(out)) == NULL)
			return -1;
	} else {
		return -1;
	}
	return str_copy(s, out, size);
}

static bool
valid_policy(enum dmarc_policy p)
{
	return p == DMARC_P_NONE || p == DMARC_P_QUARANTINE || p == DMARC_P_REJECT;
}

/* check_published - the policy part of an evaluation, normalised in place. */
static int
check_published(struct dmarc_published *p, const char **why)
{
	size_t i;

	*why = "policy domain";
	if (clean(p->domain, sizeof(p->domain), 0) == -1)
		return -1;
	*why = "policy values";
	if (!valid_policy(p->p) || !valid_policy(p->sp) || (p->has_np && !valid_policy(p->np)) ||
	    p->pct > 100 || clean(p->fo, sizeof(p->fo), NAME_EMPTY_OK) == -1 ||
	    p->nrua > DMARC_URIS_MAX)
		return -1;
	if (p->fo[0] == '\0')
		str_copy(p->fo, "0", sizeof(p->fo)); /* the default (RFC 7489 6.3) */
	if (!p->has_np)
		p->np = DMARC_P_NONE;
	*why = "rua URI";
	for (i = 0; i < p->nrua; i++)
		if (clean(p->rua[i].uri, sizeof(p->rua[i].uri), NAME_KEEP_CASE) == -1)
			return -1;
	return 0;
}

/* check_auth - the DKIM and SPF results, normalised in place. */
static int
check_auth(struct dmarc_eval *e, const char **why)
{
	size_t i;

	*why = "DKIM results";
	if (e->ndkim > DMARC_REPORT_DKIM_MAX)
		return -1;
	for (i = 0; i < e->ndkim; i++) {
		struct dmarc_dkim_res *k = &e->dkim[i];

		if (clean(k->domain, sizeof(k->domain), 0) == -1 ||
		    clean(k->selector, sizeof(k->selector), NAME_EMPTY_OK) == -1 ||
		    (size_t)k->result >= nitems(dkim_names))
			return -1;
	}
	*why = "SPF result";
	if (clean(e->spf.domain, sizeof(e->spf.domain), NAME_EMPTY_OK) == -1 ||
	    (e->spf.scope != DMARC_SPF_MFROM && e->spf.scope != DMARC_SPF_HELO) ||
	    (size_t)e->spf.result > SPF_PERMERROR)
		return -1;
	return 0;
}

/* check_eval - every field of e within its range and syntax; e is
 * normalised in place (lower case, canonical address). */
static int
check_eval(struct dmarc_eval *e, const char **why)
{
	*why = "time";
	if (e->time < 0 || e->time > DMARC_TIME_MAX)
		return -1;
	*why = "source_ip";
	if (canon_ip(e->source_ip, sizeof(e->source_ip)) == -1)
		return -1;
	*why = "identifiers";
	if (clean(e->header_from, sizeof(e->header_from), 0) == -1 ||
	    clean(e->envelope_from, sizeof(e->envelope_from), NAME_EMPTY_OK) == -1 ||
	    clean(e->envelope_to, sizeof(e->envelope_to), NAME_EMPTY_OK) == -1)
		return -1;
	*why = "disposition or override";
	if (!valid_policy(e->disposition) || (size_t)e->override >= nitems(override_names) ||
	    clean(e->override_comment, sizeof(e->override_comment),
		  NAME_EMPTY_OK | NAME_SPACES | NAME_KEEP_CASE) == -1 ||
	    (e->override == DMARC_OVERRIDE_NONE && e->override_comment[0] != '\0'))
		return -1;
	if (check_published(&e->policy, why) == -1)
		return -1;
	return check_auth(e, why);
}

/*
 * The store.
 */
struct dmarc_store {
	sqlite3 *db;
	uint64_t rows_per_day;
	int64_t cap_day;   /* the day cap_rows counts, -1: none yet */
	uint64_t cap_rows; /* rows of that day */
	struct dmarc_store_stats stats;
	char err[256];
};

/* policy and auth hold each distinct published policy and each distinct set
 * of authentication results once, found again by their canonical text
 * (key); counts holds one row per hour and combination of reported fields. */
static const char store_schema[] =
	"PRAGMA foreign_keys = ON;"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS policy ("
	" id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, domain TEXT NOT NULL,"
	" adkim INTEGER NOT NULL, aspf INTEGER NOT NULL, p INTEGER NOT NULL,"
	" sp INTEGER NOT NULL, np INTEGER NOT NULL, pct INTEGER NOT NULL, fo TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS policy_rua ("
	" policy INTEGER NOT NULL REFERENCES policy(id) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL, uri TEXT NOT NULL, max_size INTEGER NOT NULL,"
	" PRIMARY KEY (policy, pos));"
	"CREATE TABLE IF NOT EXISTS auth ("
	" id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, spf_domain TEXT NOT NULL,"
	" spf_scope INTEGER NOT NULL, spf_result INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS auth_dkim ("
	" auth INTEGER NOT NULL REFERENCES auth(id) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL, domain TEXT NOT NULL, selector TEXT NOT NULL,"
	" result INTEGER NOT NULL, PRIMARY KEY (auth, pos));"
	"CREATE TABLE IF NOT EXISTS counts ("
	" id INTEGER PRIMARY KEY, hour INTEGER NOT NULL, day INTEGER NOT NULL,"
	" domain TEXT NOT NULL, policy INTEGER NOT NULL REFERENCES policy(id),"
	" source_ip TEXT NOT NULL, header_from TEXT NOT NULL, envelope_from TEXT NOT NULL,"
	" envelope_to TEXT NOT NULL, disposition INTEGER NOT NULL, dkim INTEGER NOT NULL,"
	" spf INTEGER NOT NULL, override INTEGER NOT NULL, comment TEXT NOT NULL,"
	" auth INTEGER NOT NULL REFERENCES auth(id), count INTEGER NOT NULL,"
	" UNIQUE (hour, policy, source_ip, header_from, envelope_from, envelope_to,"
	"  disposition, dkim, spf, override, comment, auth));"
	"CREATE INDEX IF NOT EXISTS counts_domain ON counts (domain, hour);"
	"CREATE INDEX IF NOT EXISTS counts_day ON counts (day);"
	"CREATE TABLE IF NOT EXISTS dropped (day INTEGER PRIMARY KEY, count INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');";

static int
db_fail(struct dmarc_store *st, const char *what)
{
	snprintf(st->err, sizeof(st->err), "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

const char *
dmarc_store_error(const struct dmarc_store *st)
{
	return st->err;
}

/* vprep - sql with its arguments bound; spec has one letter per argument:
 * 't' a C string, 'i' an int64_t. NULL with the error recorded. */
static sqlite3_stmt *
vprep(struct dmarc_store *st, const char *sql, const char *spec, va_list ap)
{
	sqlite3_stmt *s = NULL;
	int i, rc = SQLITE_OK;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_fail(st, "prepare");
		return NULL;
	}
	if ((size_t)sqlite3_bind_parameter_count(s) != strlen(spec))
		log_bug("dmarc store: %zu arguments for \"%.60s\"", strlen(spec), sql);
	for (i = 0; spec[i] != '\0' && rc == SQLITE_OK; i++) {
		if (spec[i] == 'i')
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
		else
			rc = sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1,
					       SQLITE_TRANSIENT);
	}
	if (rc != SQLITE_OK) {
		db_fail(st, "bind");
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static sqlite3_stmt *
prep(struct dmarc_store *st, const char *sql, const char *spec, ...)
{
	sqlite3_stmt *s;
	va_list ap;

	va_start(ap, spec);
	s = vprep(st, sql, spec, ap);
	va_end(ap);
	return s;
}

/* exec - run a statement that returns no rows: the rows it changed, or -1. */
static int
exec(struct dmarc_store *st, const char *sql, const char *spec, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	va_start(ap, spec);
	s = vprep(st, sql, spec, ap);
	va_end(ap);
	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		db_fail(st, "step");
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	return sqlite3_changes(st->db);
}

/* query_i64 - the first column of the first row into *out (0 when there
 * is no row or it is NULL). */
static int
query_i64(struct dmarc_store *st, int64_t *out, const char *sql, const char *spec, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	va_start(ap, spec);
	s = vprep(st, sql, spec, ap);
	va_end(ap);
	if (s == NULL)
		return -1;
	*out = 0;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		db_fail(st, "step");
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : "";
}

/* col_enum - column i as a number in [0, max]; -1 otherwise (a damaged
 * database). */
static int
col_enum(sqlite3_stmt *s, int i, int max)
{
	int64_t v = sqlite3_column_int64(s, i);

	return v >= 0 && v <= max ? (int)v : -1;
}

struct dmarc_store *
dmarc_store_open(const char *path, uint64_t rows_per_day, char *err, size_t errsz)
{
	struct dmarc_store *st = xcalloc(1, sizeof(*st));
	mode_t old = umask(077);
	int rc;

	st->rows_per_day = rows_per_day != 0 ? rows_per_day : DMARC_STORE_ROWS_PER_DAY;
	st->cap_day = -1;
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "cannot open the database");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	/* Statistics, not mail: a power cut may lose the last seconds of
	 * counts (synchronous NORMAL in WAL mode), never the database. */
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL,
			 NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, store_schema, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	return st;
fail:
	sqlite3_close(st->db);
	free(st);
	return NULL;
}

void
dmarc_store_close(struct dmarc_store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st);
}

void
dmarc_store_stats(const struct dmarc_store *st, struct dmarc_store_stats *out)
{
	*out = st->stats;
}

/* key_add - s into a canonical key: length-prefixed, so no two different
 * field lists give the same key. */
static void
key_add(struct buf *k, const char *s)
{
	buf_addf(k, "%zu:%s;", strlen(s), s);
}

/* add_rua - the rua= URIs of a new policy row. */
static int
add_rua(struct dmarc_store *st, int64_t policy, const struct dmarc_published *p)
{
	size_t i;

	for (i = 0; i < p->nrua; i++)
		/* max_size is kept bit for bit in the signed column */
		if (exec(st, "INSERT INTO policy_rua (policy, pos, uri, max_size) VALUES (?, ?, ?, ?)",
			 "iiti", policy, (int64_t)i, p->rua[i].uri, (int64_t)p->rua[i].max_size) == -1)
			return -1;
	return 0;
}

/* intern_policy - the id of p's row, created if new. */
static int
intern_policy(struct dmarc_store *st, const struct dmarc_published *p, int64_t *id)
{
	struct buf k = BUF_INIT;
	size_t i;
	int n, rc = -1;

	key_add(&k, p->domain);
	buf_addf(&k, "%d%d%d%d%d%u;", p->adkim_strict, p->aspf_strict, (int)p->p, (int)p->sp,
		 p->has_np ? (int)p->np : -1, p->pct);
	key_add(&k, p->fo);
	for (i = 0; i < p->nrua; i++) {
		key_add(&k, p->rua[i].uri);
		buf_addf(&k, "%" PRIu64 ";", p->rua[i].max_size);
	}
	n = exec(st,
		 "INSERT OR IGNORE INTO policy (key, domain, adkim, aspf, p, sp, np, pct, fo)"
		 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 "ttiiiiiit", buf_cstr(&k), p->domain, (int64_t)p->adkim_strict,
		 (int64_t)p->aspf_strict, (int64_t)p->p, (int64_t)p->sp,
		 (int64_t)(p->has_np ? (int)p->np : -1), (int64_t)p->pct, p->fo);
	if (n == 1) {
		*id = sqlite3_last_insert_rowid(st->db);
		rc = add_rua(st, *id, p);
	} else if (n == 0) {
		rc = query_i64(st, id, "SELECT id FROM policy WHERE key = ?", "t", buf_cstr(&k));
	}
	buf_free(&k);
	return rc;
}

/* intern_auth - the id of the row of e's DKIM and SPF results. */
static int
intern_auth(struct dmarc_store *st, const struct dmarc_eval *e, int64_t *id)
{
	struct buf k = BUF_INIT;
	size_t i;
	int n, rc = -1;

	key_add(&k, e->spf.domain);
	buf_addf(&k, "%d%d;", (int)e->spf.scope, (int)e->spf.result);
	for (i = 0; i < e->ndkim; i++) {
		key_add(&k, e->dkim[i].domain);
		key_add(&k, e->dkim[i].selector);
		buf_addf(&k, "%d;", (int)e->dkim[i].result);
	}
	n = exec(st,
		 "INSERT OR IGNORE INTO auth (key, spf_domain, spf_scope, spf_result)"
		 " VALUES (?, ?, ?, ?)",
		 "ttii", buf_cstr(&k), e->spf.domain, (int64_t)e->spf.scope, (int64_t)e->spf.result);
	if (n == 0) {
		rc = query_i64(st, id, "SELECT id FROM auth WHERE key = ?", "t", buf_cstr(&k));
	} else if (n == 1) {
		*id = sqlite3_last_insert_rowid(st->db);
		for (i = 0, rc = 0; i < e->ndkim && rc == 0; i++)
			if (exec(st,
				 "INSERT INTO auth_dkim (auth, pos, domain, selector, result)"
				 " VALUES (?, ?, ?, ?, ?)",
				 "iitti", *id, (int64_t)i, e->dkim[i].domain, e->dkim[i].selector,
				 (int64_t)e->dkim[i].result) == -1)
				rc = -1;
	}
	buf_free(&k);
	return rc;
}

/* day_rows - how many rows day has (cached between calls). */
static int
day_rows(struct dmarc_store *st, int64_t day, uint64_t *n)
{
	int64_t v;

	if (st->cap_day != day) {
		if (query_i64(st, &v, "SELECT COUNT(*) FROM counts WHERE day = ?", "i", day) == -1)
			return -1;
		st->cap_day = day;
		st->cap_rows = (uint64_t)v;
	}
	*n = st->cap_rows;
	return 0;
}

/* count_row - add one to e's row, creating it unless the day is full
 * (then *dropped). */
static int
count_row(struct dmarc_store *st, const struct dmarc_eval *e, int64_t policy, int64_t auth,
	  bool *dropped)
{
	int64_t hour = e->time / DMARC_STORE_BUCKET, day = e->time / DAY;
	uint64_t rows;
	int n;

	*dropped = false;
	n = exec(st,
		 "UPDATE counts SET count = count + 1 WHERE hour = ? AND policy = ?"
		 " AND source_ip = ? AND header_from = ? AND envelope_from = ? AND envelope_to = ?"
		 " AND disposition = ? AND dkim = ? AND spf = ? AND override = ? AND comment = ?"
		 " AND auth = ?",
		 "iittttiiiiti", hour, policy, e->source_ip, e->header_from, e->envelope_from,
		 e->envelope_to, (int64_t)e->disposition, (int64_t)e->dkim_pass,
		 (int64_t)e->spf_pass, (int64_t)e->override, e->override_comment, auth);
	if (n != 0)
		return n < 0 ? -1 : 0;
	if (day_rows(st, day, &rows) == -1)
		return -1;
	if (rows >= st->rows_per_day) {
		*dropped = true;
		return 0;
	}
	n = exec(st,
		 "INSERT INTO counts (hour, day, domain, policy, source_ip, header_from,"
		 " envelope_from, envelope_to, disposition, dkim, spf, override, comment, auth,"
		 " count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
		 "iitittttiiiiti", hour, day, e->policy.domain, policy, e->source_ip,
		 e->header_from, e->envelope_from, e->envelope_to, (int64_t)e->disposition,
		 (int64_t)e->dkim_pass, (int64_t)e->spf_pass, (int64_t)e->override,
		 e->override_comment, auth);
	if (n == -1)
		return -1;
	st->cap_rows++;
	return 0;
}

int
dmarc_store_add(struct dmarc_store *st, const struct dmarc_eval *in)
{
	struct dmarc_eval e = *in;
	const char *why;
	int64_t policy, auth;
	bool dropped;

	if (check_eval(&e, &why) == -1) {
		snprintf(st->err, sizeof(st->err), "malformed evaluation: %s", why);
		return -1;
	}
	if (e.policy.nrua == 0) {
		st->stats.no_rua++;
		return 0;
	}
	if (exec(st, "BEGIN IMMEDIATE", "") == -1)
		return -1;
	if (intern_policy(st, &e.policy, &policy) == -1 || intern_auth(st, &e, &auth) == -1 ||
	    count_row(st, &e, policy, auth, &dropped) == -1)
		goto fail;
	if (dropped) {
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		st->stats.dropped++;
		return exec(st,
			    "INSERT INTO dropped (day, count) VALUES (?, 1)"
			    " ON CONFLICT (day) DO UPDATE SET count = count + 1",
			    "i", e.time / DAY) == -1
			       ? -1
			       : 0;
	}
	if (exec(st, "COMMIT", "") == -1)
		goto fail;
	st->stats.recorded++;
	return 0;
fail:
	(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->cap_day = -1;
	return -1;
}

/* check_period - [begin, end) in whole buckets. */
static int
check_period(struct dmarc_store *st, int64_t begin, int64_t end)
{
	if (begin < 0 || end <= begin || end > DMARC_TIME_MAX + 1 ||
	    begin % DMARC_STORE_BUCKET != 0 || end % DMARC_STORE_BUCKET != 0) {
		snprintf(st->err, sizeof(st->err),
			 "period [%" PRId64 ", %" PRId64 ") is not in whole hours", begin, end);
		return -1;
	}
	return 0;
}

/* lower_domain - domain in lower case into out; -1 if it does not fit. */
static int
lower_domain(struct dmarc_store *st, const char *domain, char out[DMARC_DOMAIN_MAX + 1])
{
	size_t i;

	if (str_copy(out, domain, DMARC_DOMAIN_MAX + 1) == -1) {
		snprintf(st->err, sizeof(st->err), "domain longer than %d bytes", DMARC_DOMAIN_MAX);
		return -1;
	}
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

/* load_rua - the rua= URIs of a policy row. */
static int
load_rua(struct dmarc_store *st, int64_t policy, struct dmarc_uri *rua, size_t *n)
{
	sqlite3_stmt *s = prep(st, "SELECT uri, max_size FROM policy_rua WHERE policy = ?"
				   " ORDER BY pos LIMIT ?",
			       "ii", policy, (int64_t)DMARC_URIS_MAX);
	int rc;

	*n = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (str_copy(rua[*n].uri, col_text(s, 0), sizeof(rua[*n].uri)) == -1)
			break;
		rua[*n].max_size = (uint64_t)sqlite3_column_int64(s, 1);
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		rc == SQLITE_ROW ? (void)snprintf(st->err, sizeof(st->err), "damaged rua row")
				 : (void)db_fail(st, "rua");
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* load_policy - a policy row into p. */
static int
load_policy(struct dmarc_store *st, int64_t id, struct dmarc_published *p)
{
	sqlite3_stmt *s = prep(st, "SELECT domain, adkim, aspf, p, sp, np, pct, fo FROM policy"
				   " WHERE id = ?",
			       "i", id);
	int np, ok;

	memset(p, 0, sizeof(*p));
	if (s == NULL)
		return -1;
	ok = sqlite3_step(s) == SQLITE_ROW &&
	     str_copy(p->domain, col_text(s, 0), sizeof(p->domain)) == 0 &&
	     col_enum(s, 1, 1) != -1 && col_enum(s, 2, 1) != -1 && col_enum(s, 3, 2) != -1 &&
	     col_enum(s, 4, 2) != -1 && sqlite3_column_int64(s, 5) >= -1 &&
	     sqlite3_column_int64(s, 5) <= 2 && col_enum(s, 6, 100) != -1 &&
	     str_copy(p->fo, col_text(s, 7), sizeof(p->fo)) == 0;
	if (ok) {
		p->adkim_strict = col_enum(s, 1, 1) == 1;
		p->aspf_strict = col_enum(s, 2, 1) == 1;
		p->p = (enum dmarc_policy)col_enum(s, 3, 2);
		p->sp = (enum dmarc_policy)col_enum(s, 4, 2);
		np = (int)sqlite3_column_int64(s, 5);
		p->has_np = np != -1;
		p->np = p->has_np ? (enum dmarc_policy)np : DMARC_P_NONE;
		p->pct = (unsigned)col_enum(s, 6, 100);
	} else {
		snprintf(st->err, sizeof(st->err), "policy %" PRId64 " missing or damaged", id);
	}
	sqlite3_finalize(s);
	return ok ? load_rua(st, id, p->rua, &p->nrua) : -1;
}

int
dmarc_store_domains(struct dmarc_store *st, int64_t begin, int64_t end,
		    struct dmarc_report_domain **out, size_t *n)
{
	struct dmarc_report_domain *v = NULL;
	int64_t *pol = NULL;
	size_t cnt = 0, cap = 0, i;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (check_period(st, begin, end) == -1)
		return -1;
	/* The row created last carries the latest policy: a new policy always
	 * makes new rows (SQLite takes the bare column from the MAX row). */
	s = prep(st, "SELECT domain, policy, MAX(id) FROM counts WHERE hour >= ? AND hour < ?"
		     " GROUP BY domain ORDER BY domain",
		 "ii", begin / DMARC_STORE_BUCKET, end / DMARC_STORE_BUCKET);
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
			pol = xreallocarray(pol, cap, sizeof(*pol));
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		str_copy(v[cnt].domain, col_text(s, 0), sizeof(v[cnt].domain));
		pol[cnt++] = sqlite3_column_int64(s, 1);
	}
	if (rc != SQLITE_DONE)
		db_fail(st, "domains");
	sqlite3_finalize(s);
	for (i = 0; i < cnt && rc == SQLITE_DONE; i++)
		if (load_rua(st, pol[i], v[i].rua, &v[i].nrua) == -1)
			rc = SQLITE_ERROR;
	free(pol);
	if (rc != SQLITE_DONE) {
		free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* pool_dup - a copy of s owned by d. */
static const char *
pool_dup(struct dmarc_report_data *d, const char *s)
{
	if (d->npool == d->cpool) {
		d->cpool = d->cpool ? d->cpool * 2 : 64;
		d->pool = xreallocarray(d->pool, d->cpool, sizeof(*d->pool));
	}
	d->pool[d->npool] = xstrdup(s);
	return d->pool[d->npool++];
}

void
dmarc_report_data_free(struct dmarc_report_data *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->npool; i++)
		free(d->pool[i]);
	free(d->pool);
	free(d->rows);
	memset(d, 0, sizeof(*d));
}

/* load_auth - the DKIM and SPF results of auth row id into r. */
static int
load_auth(struct dmarc_store *st, int64_t id, struct dmarc_report_data *d,
	  struct dmarc_report_row *r)
{
	sqlite3_stmt *s = prep(st, "SELECT spf_domain, spf_scope, spf_result FROM auth WHERE id = ?",
			       "i", id);
	int rc, ok;

	if (s == NULL)
		return -1;
	ok = sqlite3_step(s) == SQLITE_ROW && col_enum(s, 1, 1) != -1 &&
	     col_enum(s, 2, SPF_PERMERROR) != -1;
	if (ok) {
		r->spf_domain = pool_dup(d, col_text(s, 0));
		r->spf_scope = (enum dmarc_spf_scope)col_enum(s, 1, 1);
		r->spf_result = (enum spf_result)col_enum(s, 2, SPF_PERMERROR);
	}
	sqlite3_finalize(s);
	if (!ok || (s = prep(st, "SELECT domain, selector, result FROM auth_dkim WHERE auth = ?"
				 " ORDER BY pos LIMIT ?",
			     "ii", id, (int64_t)DMARC_REPORT_DKIM_MAX)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && col_enum(s, 2, DMARC_DKIM_PERMERROR) != -1) {
		struct dmarc_report_dkim *k = &r->dkim[r->ndkim++];

		k->domain = pool_dup(d, col_text(s, 0));
		k->selector = pool_dup(d, col_text(s, 1));
		k->result = (enum dmarc_dkim_result)col_enum(s, 2, DMARC_DKIM_PERMERROR);
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
fail:
	snprintf(st->err, sizeof(st->err), "auth %" PRId64 " missing or damaged", id);
	return -1;
}

/* fill_row - one grouped row of the aggregate query into r. */
static int
fill_row(struct dmarc_store *st, sqlite3_stmt *s, struct dmarc_report_data *d,
	 struct dmarc_report_row *r)
{
	memset(r, 0, sizeof(*r));
	if (col_enum(s, 1, 2) == -1 || col_enum(s, 2, 1) == -1 || col_enum(s, 3, 1) == -1 ||
	    col_enum(s, 4, (int)nitems(override_names) - 1) == -1 ||
	    sqlite3_column_int64(s, 10) <= 0) {
		snprintf(st->err, sizeof(st->err), "damaged count row");
		return -1;
	}
	r->source_ip = pool_dup(d, col_text(s, 0));
	r->disposition = (enum dmarc_policy)col_enum(s, 1, 2);
	r->dkim_pass = col_enum(s, 2, 1) == 1;
	r->spf_pass = col_enum(s, 3, 1) == 1;
	r->override = (enum dmarc_override)col_enum(s, 4, (int)nitems(override_names) - 1);
	r->comment = pool_dup(d, col_text(s, 5));
	r->header_from = pool_dup(d, col_text(s, 6));
	r->envelope_from = pool_dup(d, col_text(s, 7));
	r->envelope_to = pool_dup(d, col_text(s, 8));
	r->count = (uint64_t)sqlite3_column_int64(s, 10);
	return load_auth(st, sqlite3_column_int64(s, 9), d, r);
}

/* read_rows - domain's rows of the period, grouped, into d. */
static int
read_rows(struct dmarc_store *st, const char *domain, int64_t begin, int64_t end,
	  struct dmarc_report_data *d)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int rc;

	s = prep(st,
		 "SELECT source_ip, disposition, dkim, spf, override, comment, header_from,"
		 " envelope_from, envelope_to, auth, SUM(count) AS n FROM counts"
		 " WHERE domain = ? AND hour >= ? AND hour < ?"
		 " GROUP BY source_ip, disposition, dkim, spf, override, comment, header_from,"
		 " envelope_from, envelope_to, auth ORDER BY n DESC, source_ip, header_from",
		 "tii", domain, begin / DMARC_STORE_BUCKET, end / DMARC_STORE_BUCKET);
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (d->nrows == DMARC_REPORT_ROWS_MAX) {
			d->omitted++;
			continue;
		}
		if (d->nrows == cap) {
			cap = cap ? cap * 2 : 64;
			d->rows = xreallocarray(d->rows, cap, sizeof(*d->rows));
		}
		if (fill_row(st, s, d, &d->rows[d->nrows]) == -1)
			break;
		d->nrows++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(st, "aggregate");
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
dmarc_store_aggregate(struct dmarc_store *st, const char *domain, int64_t begin, int64_t end,
		      struct dmarc_report_data *d)
{
	char dom[DMARC_DOMAIN_MAX + 1];
	int64_t policy, dropped;

	memset(d, 0, sizeof(*d));
	if (check_period(st, begin, end) == -1 || lower_domain(st, domain, dom) == -1)
		return -1;
	if (query_i64(st, &policy,
		      "SELECT policy FROM counts WHERE domain = ? AND hour >= ? AND hour < ?"
		      " ORDER BY id DESC LIMIT 1",
		      "tii", dom, begin / DMARC_STORE_BUCKET, end / DMARC_STORE_BUCKET) == -1)
		return -1;
	if (policy == 0)
		return 0; /* nothing in the period */
	if (load_policy(st, policy, &d->policy) == -1 || read_rows(st, dom, begin, end, d) == -1 ||
	    query_i64(st, &dropped,
		      "SELECT COALESCE(SUM(count), 0) FROM dropped WHERE day >= ? AND day <= ?", "ii",
		      begin / DAY, (end - 1) / DAY) == -1) {
		dmarc_report_data_free(d);
		return -1;
	}
	d->dropped = (uint64_t)dropped;
	return 0;
}

/* gc - policies and auth results no row refers to any more. */
static int
gc(struct dmarc_store *st)
{
	if (exec(st, "DELETE FROM policy WHERE id NOT IN (SELECT policy FROM counts)", "") == -1 ||
	    exec(st, "DELETE FROM auth WHERE id NOT IN (SELECT auth FROM counts)", "") == -1)
		return -1;
	return 0;
}

/* in_transaction - the deletion sql (with its arguments) and gc, at once. */
static int
in_transaction(struct dmarc_store *st, int rc)
{
	st->cap_day = -1;
	if (rc != -1 && gc(st) == 0 && exec(st, "COMMIT", "") != -1)
		return 0;
	(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
dmarc_store_delete(struct dmarc_store *st, const char *domain, int64_t begin, int64_t end)
{
	char dom[DMARC_DOMAIN_MAX + 1];

	if (check_period(st, begin, end) == -1 || lower_domain(st, domain, dom) == -1 ||
	    exec(st, "BEGIN IMMEDIATE", "") == -1)
		return -1;
	return in_transaction(st, exec(st,
				       "DELETE FROM counts WHERE domain = ? AND hour >= ?"
				       " AND hour < ?",
				       "tii", dom, begin / DMARC_STORE_BUCKET,
				       end / DMARC_STORE_BUCKET));
}

int
dmarc_store_expire(struct dmarc_store *st, int64_t before)
{
	int rc;

	if (before < 0) {
		snprintf(st->err, sizeof(st->err), "expire: negative time");
		return -1;
	}
	if (exec(st, "BEGIN IMMEDIATE", "") == -1)
		return -1;
	rc = exec(st, "DELETE FROM counts WHERE hour < ?", "i", before / DMARC_STORE_BUCKET);
	if (rc != -1)
		rc = exec(st, "DELETE FROM dropped WHERE day < ?", "i", before / DAY);
	return in_transaction(st, rc);
}

/*
 * The XML report.
 */

/* utf8_seq - the length of the valid UTF-8 sequence at p (lead byte
 * >= 0x80), 0 when it is invalid or a character XML cannot carry. */
static size_t
utf8_seq(const unsigned char *p, size_t left)
{
	size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;

	if (n > left || !valid_utf8((const char *)p, n))
		return 0;
	if (n == 3 && p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
		return 0; /* U+FFFE, U+FFFF: not XML characters */
	return n;
}

void
dmarc_xml_escape(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		unsigned char c = p[i];

		if (c >= 0x80) {
			n = utf8_seq(p + i, len - i);
			if (n == 0) {
				buf_addc(out, '?');
				n = 1;
			} else {
				buf_add(out, p + i, n);
			}
			i += n;
			continue;
		}
		switch (c) {
		case '&':
			buf_adds(out, "&amp;");
			break;
		case '<':
			buf_adds(out, "&lt;");
			break;
		case '>':
			buf_adds(out, "&gt;");
			break;
		case '"':
			buf_adds(out, "&quot;");
			break;
		case '\'':
			buf_adds(out, "&apos;");
			break;
		case '\t':
		case '\n':
		case '\r':
			buf_addf(out, "&#%d;", c);
			break;
		default:
			buf_addc(out, c < 0x20 ? '?' : (char)c); /* XML 1.0 has no other C0 */
		}
		i++;
	}
}

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* elem - "<name>value</name>" on its own line, value escaped. */
static void
elem(struct buf *out, int depth, const char *name, const char *value)
{
	buf_addf(out, "%*s<%s>", depth * 2, "", name);
	dmarc_xml_escape(nz(value), strlen(nz(value)), out);
	buf_addf(out, "</%s>\n", name);
}

static void
elem_num(struct buf *out, int depth, const char *name, int64_t v)
{
	buf_addf(out, "%*s<%s>%" PRId64 "</%s>\n", depth * 2, "", name, v, name);
}

static void
open_tag(struct buf *out, int depth, const char *name)
{
	buf_addf(out, "%*s<%s>\n", depth * 2, "", name);
}

static void
close_tag(struct buf *out, int depth, const char *name)
{
	buf_addf(out, "%*s</%s>\n", depth * 2, "", name);
}

/* xml_ip - s as Appendix C's IPAddress pattern accepts it: a dotted quad,
 * or IPv6 as eight groups (the pattern has no "::" form). */
static int
xml_ip(const char *s, char *out, size_t outsz)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		return inet_ntop(AF_INET, a, out, (socklen_t)outsz) != NULL ? 0 : -1;
	if (inet_pton(AF_INET6, s, a) != 1)
		return -1;
	return str_fmt(out, outsz, "%x:%x:%x:%x:%x:%x:%x:%x", a[0] << 8 | a[1], a[2] << 8 | a[3],
		       a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9], a[10] << 8 | a[11],
		       a[12] << 8 | a[13], a[14] << 8 | a[15]);
}

static bool
valid_report_id(const char *id)
{
	size_t i, len = id != NULL ? strlen(id) : 0;

	if (len == 0 || len > DMARC_REPORT_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]))
			return false;
	return true;
}

static bool
valid_period(int64_t begin, int64_t end)
{
	return begin >= 0 && end > begin && end <= DMARC_TIME_MAX + 1;
}

static bool
valid_meta_string(const char *s, bool empty_ok)
{
	size_t len = s != NULL ? strlen(s) : 0;

	return (s != NULL || empty_ok) && (len > 0 || empty_ok) && len <= DMARC_REPORT_META_MAX;
}

static int
check_meta(const struct dmarc_report_meta *m, const struct dmarc_report_data *d, char *err,
	   size_t errsz)
{
	const char *why = NULL;

	if (!valid_meta_string(m->org_name, false))
		why = "org_name is empty or too long";
	else if (!valid_meta_string(m->email, false))
		why = "email is empty or too long";
	else if (!valid_meta_string(m->extra_contact_info, true))
		why = "extra_contact_info is too long";
	else if (!valid_report_id(m->report_id))
		why = "report_id is not 1 to 64 letters and digits";
	else if (!valid_period(m->begin, m->end))
		why = "the period is empty or out of range";
	else if (d->nrows == 0)
		why = "no rows to report";
	if (why == NULL)
		return 0;
	snprintf(err, errsz, "%s", why);
	return -1;
}

static void
xml_metadata(struct buf *out, const struct dmarc_report_meta *m, const struct dmarc_report_data *d)
{
	char text[160];

	open_tag(out, 1, "report_metadata");
	elem(out, 2, "org_name", m->org_name);
	elem(out, 2, "email", m->email);
	if (m->extra_contact_info != NULL && m->extra_contact_info[0] != '\0')
		elem(out, 2, "extra_contact_info", m->extra_contact_info);
	elem(out, 2, "report_id", m->report_id);
	open_tag(out, 2, "date_range");
	elem_num(out, 3, "begin", m->begin);
	elem_num(out, 3, "end", m->end - 1);
	close_tag(out, 2, "date_range");
	if (d->omitted > 0) {
		snprintf(text, sizeof(text), "%" PRIu64 " more rows left out (at most %d per report)",
			 d->omitted, DMARC_REPORT_ROWS_MAX);
		elem(out, 2, "error", text);
	}
	if (d->dropped > 0) {
		snprintf(text, sizeof(text),
			 "%" PRIu64 " evaluations (all domains) of these days were not recorded:"
			 " storage limit",
			 d->dropped);
		elem(out, 2, "error", text);
	}
	close_tag(out, 1, "report_metadata");
}

/* xml_policy - policy_published. np (RFC 9091) is not written: Appendix
 * C has no element for it, and a report must validate against it. */
static void
xml_policy(struct buf *out, const struct dmarc_published *p)
{
	open_tag(out, 1, "policy_published");
	elem(out, 2, "domain", p->domain);
	elem(out, 2, "adkim", p->adkim_strict ? "s" : "r");
	elem(out, 2, "aspf", p->aspf_strict ? "s" : "r");
	elem(out, 2, "p", dmarc_policy_name(p->p));
	elem(out, 2, "sp", dmarc_policy_name(p->sp));
	elem_num(out, 2, "pct", p->pct);
	elem(out, 2, "fo", p->fo[0] != '\0' ? p->fo : "0");
	close_tag(out, 1, "policy_published");
}

static void
xml_row(struct buf *out, const struct dmarc_report_row *r, const char *ip)
{
	open_tag(out, 2, "row");
	elem(out, 3, "source_ip", ip);
	elem_num(out, 3, "count", (int64_t)r->count);
	open_tag(out, 3, "policy_evaluated");
	elem(out, 4, "disposition", dmarc_policy_name(r->disposition));
	elem(out, 4, "dkim", r->dkim_pass ? "pass" : "fail");
	elem(out, 4, "spf", r->spf_pass ? "pass" : "fail");
	if (r->override != DMARC_OVERRIDE_NONE) {
		open_tag(out, 4, "reason");
		elem(out, 5, "type", dmarc_override_name(r->override));
		if (r->comment != NULL && r->comment[0] != '\0')
			elem(out, 5, "comment", r->comment);
		close_tag(out, 4, "reason");
	}
	close_tag(out, 3, "policy_evaluated");
	close_tag(out, 2, "row");
}

static void
xml_auth(struct buf *out, const struct dmarc_report_row *r)
{
	size_t i;

	open_tag(out, 2, "auth_results");
	for (i = 0; i < r->ndkim && i < DMARC_REPORT_DKIM_MAX; i++) {
		open_tag(out, 3, "dkim");
		elem(out, 4, "domain", r->dkim[i].domain);
		if (r->dkim[i].selector != NULL && r->dkim[i].selector[0] != '\0')
			elem(out, 4, "selector", r->dkim[i].selector);
		elem(out, 4, "result", dmarc_dkim_result_name(r->dkim[i].result));
		close_tag(out, 3, "dkim");
	}
	open_tag(out, 3, "spf");
	elem(out, 4, "domain", r->spf_domain);
	elem(out, 4, "scope", r->spf_scope == DMARC_SPF_HELO ? "helo" : "mfrom");
	elem(out, 4, "result", spf_result_str(r->spf_result));
	close_tag(out, 3, "spf");
	close_tag(out, 2, "auth_results");
}

static int
xml_record(struct buf *out, const struct dmarc_report_row *r)
{
	char ip[64];

	if (r->source_ip == NULL || xml_ip(r->source_ip, ip, sizeof(ip)) == -1)
		return -1;
	open_tag(out, 1, "record");
	xml_row(out, r, ip);
	open_tag(out, 2, "identifiers");
	if (r->envelope_to != NULL && r->envelope_to[0] != '\0')
		elem(out, 3, "envelope_to", r->envelope_to);
	elem(out, 3, "envelope_from", r->envelope_from); /* "" for the null sender */
	elem(out, 3, "header_from", r->header_from);
	close_tag(out, 2, "identifiers");
	xml_auth(out, r);
	close_tag(out, 1, "record");
	return 0;
}

int
dmarc_report_xml(const struct dmarc_report_meta *m, const struct dmarc_report_data *d,
		 struct buf *out, char *err, size_t errsz)
{
	struct buf x = BUF_INIT;
	size_t i;

	if (check_meta(m, d, err, errsz) == -1)
		return -1;
	/* No namespace on <feedback>: what reports carry in practice. */
	buf_adds(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n");
	elem(&x, 1, "version", "1.0");
	xml_metadata(&x, m, d);
	xml_policy(&x, &d->policy);
	for (i = 0; i < d->nrows; i++) {
		if (xml_record(&x, &d->rows[i]) == -1) {
			snprintf(err, errsz, "row %zu: source_ip is not an IP address", i);
			buf_free(&x);
			return -1;
		}
	}
	buf_adds(&x, "</feedback>\n");
	buf_add(out, x.data, x.len);
	buf_free(&x);
	return 0;
}

int
dmarc_report_gzip(const void *in, size_t len, struct buf *out)
{
	unsigned char chunk[GZ_CHUNK];
	const unsigned char *p = in;
	size_t start = out->len, left = len;
	z_stream z;
	int flush, rc = Z_OK;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip header and trailer around the deflate data */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	do {
		uInt step = left > (1u << 30) ? (1u << 30) : (uInt)left;

		z.next_in = p;
		z.avail_in = step;
		p += step;
		left -= step;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			rc = deflate(&z, flush);
			buf_add(out, chunk, sizeof(chunk) - z.avail_out);
		} while (rc != Z_STREAM_ERROR && z.avail_out == 0 &&
			 out->len - start <= DMARC_REPORT_GZ_MAX);
	} while (flush != Z_FINISH && rc != Z_STREAM_ERROR && out->len - start <= DMARC_REPORT_GZ_MAX);
	deflateEnd(&z);
	if (rc != Z_STREAM_END || out->len - start > DMARC_REPORT_GZ_MAX) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

/*
 * rua= destinations.
 */
static int
hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

int
dmarc_rua_mailto(const char *uri, size_t len, char addr[SMTP_PATH_MAX + 1],
		 char domain[SMTP_DOMAIN_MAX + 1])
{
	char path[SMTP_PATH_MAX + 1];
	struct smtp_path sp;
	const char *q;
	size_t i, n = 0;

	addr[0] = domain[0] = '\0';
	if (len < 7 || strncasecmp(uri, "mailto:", 7) != 0)
		return -1;
	if ((q = memchr(uri, '?', len)) != NULL)
		len = (size_t)(q - uri); /* header fields (RFC 6068 2) are ignored */
	path[n++] = '<';
	for (i = 7; i < len; i++) {
		int c = (unsigned char)uri[i];

		if (c == '%') {
			if (i + 2 >= len || !isxdigit((unsigned char)uri[i + 1]) ||
			    !isxdigit((unsigned char)uri[i + 2]))
				return -1;
			c = hexval(uri[i + 1]) * 16 + hexval(uri[i + 2]);
			i += 2;
		}
		/* one plain ASCII address: no list, no brackets, no controls */
		if (c <= ' ' || c >= 0x7f || c == ',' || c == '<' || c == '>' ||
		    n >= SMTP_PATH_MAX - 1)
			return -1;
		path[n++] = (char)c;
	}
	path[n++] = '>';
	if (n == 2 || path[1] == '@' || smtp_parse_path(path, n, false, &sp) == -1 || sp.null ||
	    sp.postmaster || sp.utf8 || sp.domain[0] == '\0' || sp.domain[0] == '[')
		return -1;
	str_copy(addr, sp.addr, SMTP_PATH_MAX + 1);
	str_copy(domain, sp.domain, SMTP_DOMAIN_MAX + 1);
	return 0;
}

void
dmarc_rua_targets(const struct dmarc_uri *rua, size_t n, struct dmarc_rua_target *out)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		struct dmarc_rua_target *t = &out[i];
		const char *u = rua[i].uri;
		size_t len = strnlen(u, sizeof(rua[i].uri));

		memset(t, 0, sizeof(*t));
		t->max_size = rua[i].max_size;
		if (len < 7 || strncasecmp(u, "mailto:", 7) != 0)
			t->status = DMARC_RUA_NOT_MAILTO;
		else if (dmarc_rua_mailto(u, len, t->addr, t->domain) == -1)
			t->status = DMARC_RUA_BAD_ADDRESS;
		for (j = 0; j < i && t->status == DMARC_RUA_SEND; j++)
			if (out[j].status == DMARC_RUA_SEND && strcasecmp(out[j].addr, t->addr) == 0)
				t->status = DMARC_RUA_DUPLICATE;
	}
}

bool
dmarc_rua_is_external(const struct dmarc_psl *psl, const char *policy_domain,
		      const char *rua_domain)
{
	char a[DMARC_DOMAIN_MAX + 1], b[DMARC_DOMAIN_MAX + 1];

	if (dmarc_org_domain(psl, policy_domain, a, sizeof(a)) == -1 ||
	    dmarc_org_domain(psl, rua_domain, b, sizeof(b)) == -1)
		return true;
	return strcmp(a, b) != 0;
}

/* dns_name - a domain name without its final dot, lower case; -1 if it is
 * not one. */
static int
dns_name(const char *s, char out[DMARC_DOMAIN_MAX + 1])
{
	size_t len = s != NULL ? strlen(s) : 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > DMARC_DOMAIN_MAX || !valid_domain(s, len, false))
		return -1;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	return 0;
}

int
dmarc_rua_check_name(const char *policy_domain, const char *rua_domain, char *out, size_t outsz)
{
	static const char mid[] = "._report._dmarc.";
	char a[DMARC_DOMAIN_MAX + 1], b[DMARC_DOMAIN_MAX + 1];

	if (dns_name(policy_domain, a) == -1 || dns_name(rua_domain, b) == -1 ||
	    strlen(a) + strlen(mid) + strlen(b) > DMARC_DOMAIN_MAX)
		return -1;
	return str_fmt(out, outsz, "%s%s%s", a, mid, b);
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* auth_tag - one ';'-separated part of a record (RFC 7489 6.4): 0 if it is
 * empty, 1 if it is a tag (the first must be v=DMARC1), -1 otherwise. */
static int
auth_tag(const char *s, size_t len, bool first)
{
	const char *eq, *ne, *vs, *end = s + len;

	while (s < end && is_wsp(*s))
		s++;
	while (end > s && is_wsp(end[-1]))
		end--;
	if (s == end)
		return first ? -1 : 0;
	if ((eq = memchr(s, '=', (size_t)(end - s))) == NULL)
		return -1;
	for (ne = eq; ne > s && is_wsp(ne[-1]); ne--)
		;
	for (vs = eq + 1; vs < end && is_wsp(*vs); vs++)
		;
	if (ne == s)
		return -1;
	for (const char *c = s; c < ne; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return -1;
	if (first && (ne - s != 1 || tolower((unsigned char)*s) != 'v' || end - vs != 6 ||
		      strncasecmp(vs, "DMARC1", 6) != 0))
		return -1;
	return 1;
}

/* is_auth_record - a well-formed tag list that starts with v=DMARC1 (RFC
 * 7489 7.1 step 5; the version is read as leniently as dmarc.c reads it). */
static bool
is_auth_record(const char *s, size_t len)
{
	size_t i = 0, tags = 0;

	if (s == NULL || len > DMARC_RECORD_MAX || memchr(s, '\0', len) != NULL)
		return false;
	while (i <= len) {
		const char *semi = memchr(s + i, ';', len - i);
		size_t end = semi != NULL ? (size_t)(semi - s) : len;
		int rc = auth_tag(s + i, end - i, tags == 0);

		if (rc == -1)
			return false;
		tags += (size_t)rc;
		i = end + 1;
	}
	return tags > 0;
}

/* take_override - a rua= mailto: on t's own domain in the authorising
 * record replaces t's address (7.1 step 8: only the same host, so the
 * override cannot send reports anywhere else). */
static bool
take_override(struct dmarc_rua_target *t, const struct dmarc_txt *txt)
{
	char addr[SMTP_PATH_MAX + 1], dom[SMTP_DOMAIN_MAX + 1], err[128];
	struct dmarc_record r;
	size_t i;

	if (dmarc_record_parse(txt->txt, txt->len, &r, err, sizeof(err)) == -1)
		return false;
	for (i = 0; i < r.nrua; i++) {
		if (dmarc_rua_mailto(r.rua[i].uri, strlen(r.rua[i].uri), addr, dom) == 0 &&
		    strcmp(dom, t->domain) == 0) {
			str_copy(t->addr, addr, sizeof(t->addr));
			t->max_size = r.rua[i].max_size;
			return true;
		}
	}
	return false;
}

int
dmarc_rua_authorize(struct dmarc_rua_target *t, const struct dmarc_txt *txt, size_t n)
{
	bool ok = false, replaced = false;
	size_t i;

	if (t->status != DMARC_RUA_SEND)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_auth_record(txt[i].txt, txt[i].len))
			continue;
		ok = true;
		if (!replaced)
			replaced = take_override(t, &txt[i]);
	}
	if (!ok) {
		t->status = DMARC_RUA_UNAUTHORIZED;
		return -1;
	}
	return 0;
}

/*
 * The report mail.
 */
static bool
is_domain(const char *s)
{
	return s != NULL && valid_domain(s, strlen(s), false);
}

static int
check_mail(const struct dmarc_report_mail *m, char *err, size_t errsz)
{
	char q[SMTP_PATH_MAX + 3];
	struct smtp_path p;
	const char *why = NULL;

	if (m->from == NULL || str_fmt(q, sizeof(q), "<%s>", m->from) == -1 ||
	    smtp_parse_path(q, strlen(q), false, &p) == -1 || p.postmaster || p.utf8 ||
	    p.domain[0] == '[' || strcmp(p.addr, m->from) != 0)
		why = "from is not a plain address";
	else if (!is_domain(m->submitter))
		why = "submitter is not a domain";
	else if (!is_domain(m->hostname))
		why = "hostname is not a domain";
	else if (!is_domain(m->policy_domain))
		why = "policy_domain is not a domain";
	else if (!valid_report_id(m->report_id))
		why = "report_id is not 1 to 64 letters and digits";
	else if (!valid_period(m->begin, m->end))
		why = "the period is empty or out of range";
	if (why == NULL)
		return 0;
	snprintf(err, errsz, "%s", why);
	return -1;
}

static size_t
count_send(const struct dmarc_rua_target *t, size_t nt)
{
	size_t i, n = 0;

	for (i = 0; i < nt; i++)
		n += t[i].status == DMARC_RUA_SEND;
	return n;
}

/* b64_lines - base64 of n bytes in lines of 76 characters (RFC 2045 6.8). */
static void
b64_lines(const unsigned char *p, size_t n, struct buf *out)
{
	unsigned char line[4 * B64_LINE_IN / 3 + 1];
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < B64_LINE_IN ? n - i : B64_LINE_IN;
		buf_add(out, line, (size_t)EVP_EncodeBlock(line, p + i, (int)k));
		buf_adds(out, "\r\n");
	}
}

/* subject - RFC 7489 7.2.1.1, folded before Submitter: and Report-ID: when
 * one line would be longer than 78 characters. */
static void
subject(const struct dmarc_report_mail *m, struct buf *out)
{
	size_t len = strlen("Subject: Report Domain:  Submitter:  Report-ID: <>") +
		     strlen(m->policy_domain) + strlen(m->submitter) + strlen(m->report_id);
	const char *sep = len > 78 ? "\r\n " : " ";

	buf_addf(out, "Subject: Report Domain: %s%sSubmitter: %s%sReport-ID: <%s>\r\n",
		 m->policy_domain, sep, m->submitter, sep, m->report_id);
}

/* text_part - the human-readable part. No line starts with '.', so the
 * message is already in wire form. */
static void
text_part(const struct dmarc_report_mail *m, struct buf *out)
{
	char b[64], e[64];

	header_date((time_t)m->begin, b, sizeof(b));
	header_date((time_t)(m->end - 1), e, sizeof(e));
	buf_adds(out, "Content-Type: text/plain; charset=us-ascii\r\n"
		      "Content-Transfer-Encoding: 7bit\r\n\r\n");
	buf_addf(out,
		 "This is a DMARC aggregate report (RFC 7489) from %s\r\n"
		 "for the domain %s.\r\n\r\n"
		 "Period: %s\r\n"
		 "    to %s\r\n"
		 "Report-ID: %s\r\n\r\n"
		 "The report is the attached gzip-compressed XML file.\r\n",
		 m->submitter, m->policy_domain, b, e, m->report_id);
}

/* compose - the whole message to the targets whose status is SEND. The
 * boundary starts with "=_", which base64 never contains. */
static void
compose(const struct dmarc_report_mail *m, const struct dmarc_rua_target *t, size_t nt,
	const struct buf *b64, struct buf *out)
{
	char date[64];
	const char *sep = "";
	size_t i;

	header_date(m->now, date, sizeof(date));
	buf_addf(out, "From: <%s>\r\nTo: ", m->from);
	for (i = 0; i < nt; i++) {
		if (t[i].status != DMARC_RUA_SEND)
			continue;
		buf_addf(out, "%s<%s>", sep, t[i].addr);
		sep = ",\r\n ";
	}
	buf_adds(out, "\r\n");
	subject(m, out);
	buf_addf(out, "Date: %s\r\nMessage-ID: <%s.dmarc@%s>\r\n", date, m->report_id, m->hostname);
	buf_adds(out, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n");
	buf_addf(out, "Content-Type: multipart/mixed;\r\n boundary=\"=_%s\"\r\n\r\n", m->report_id);
	buf_adds(out, "This is a DMARC aggregate report in MIME format.\r\n\r\n");
	buf_addf(out, "--=_%s\r\n", m->report_id);
	text_part(m, out);
	buf_addf(out, "\r\n--=_%s\r\n", m->report_id);
	buf_addf(out,
		 "Content-Type: application/gzip;\r\n name=\"%s!%s!%" PRId64 "!%" PRId64
		 "!%s.xml.gz\"\r\n",
		 m->submitter, m->policy_domain, m->begin, m->end - 1, m->report_id);
	buf_adds(out, "Content-Transfer-Encoding: base64\r\n");
	buf_addf(out,
		 "Content-Disposition: attachment;\r\n filename=\"%s!%s!%" PRId64 "!%" PRId64
		 "!%s.xml.gz\"\r\n\r\n",
		 m->submitter, m->policy_domain, m->begin, m->end - 1, m->report_id);
	buf_add(out, b64->data, b64->len);
	buf_addf(out, "\r\n--=_%s--\r\n", m->report_id);
}

int
dmarc_report_mail(const struct dmarc_report_mail *m, const char *xml, size_t xmllen,
		  struct dmarc_rua_target *t, size_t nt, struct buf *out, char *err,
		  size_t errsz)
{
	struct buf gz = BUF_INIT, b64 = BUF_INIT, msg = BUF_INIT;
	bool shrunk = false;
	size_t i;
	int rc = -1;

	if (check_mail(m, err, errsz) == -1)
		return -1;
	if (count_send(t, nt) == 0) {
		snprintf(err, errsz, "no destination to send the report to");
		return -1;
	}
	if (dmarc_report_gzip(xml, xmllen, &gz) == -1) {
		snprintf(err, errsz, "gzip failed, or the report exceeds %d bytes",
			 DMARC_REPORT_GZ_MAX);
		goto done;
	}
	b64_lines((const unsigned char *)gz.data, gz.len, &b64);
	compose(m, t, nt, &b64, &msg);
	/* The limit is held against the whole message as sent: the strictest
	 * reading of RFC 7489 6.2. Leaving a target out only shrinks it. */
	for (i = 0; i < nt; i++) {
		if (t[i].status == DMARC_RUA_SEND && t[i].max_size != 0 && msg.len > t[i].max_size) {
			t[i].status = DMARC_RUA_TOO_BIG;
			shrunk = true;
		}
	}
	if (shrunk && count_send(t, nt) == 0) {
		snprintf(err, errsz, "the report (%zu bytes) exceeds every destination's size limit",
			 msg.len);
		goto done;
	}
	if (shrunk) {
		buf_reset(&msg);
		compose(m, t, nt, &b64, &msg);
	}
	buf_add(out, msg.data, msg.len);
	rc = 0;
done:
	buf_free(&gz);
	buf_free(&b64);
	buf_free(&msg);
	return rc;
}
