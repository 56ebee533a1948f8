/* SPDX-License-Identifier: ISC */
/*
 * store - SQLite account store.
 *
 * SECURITY: see store.h. Statements are prepared with bound parameters;
 * the database is created with mode 0600; a busy timeout lets the daemon
 * and the CLI share it.
 */
#include "auth/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"

#define STORE_SCHEMA_VERSION 1

struct store {
	sqlite3 *db;
	char err[256];
};

static const char schema[] =
	"PRAGMA foreign_keys = ON;"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS accounts ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" hash TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" pw_changed INTEGER NOT NULL,"
	" must_change INTEGER NOT NULL DEFAULT 0,"
	" locked INTEGER NOT NULL DEFAULT 0,"
	" lock_reason TEXT,"
	" totp_sealed TEXT,"
	" totp_last INTEGER NOT NULL DEFAULT 0,"
	" generation INTEGER NOT NULL DEFAULT 1,"
	" scram TEXT);"
	"CREATE TABLE IF NOT EXISTS addresses ("
	" account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" address TEXT NOT NULL COLLATE NOCASE,"
	" PRIMARY KEY (account, address));"
	"CREATE TABLE IF NOT EXISTS allow_from ("
	" account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" cidr TEXT NOT NULL,"
	" PRIMARY KEY (account, cidr));"
	"CREATE TABLE IF NOT EXISTS pw_history ("
	" account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" hash TEXT NOT NULL,"
	" changed INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS app_passwords ("
	" id INTEGER PRIMARY KEY,"
	" account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" label TEXT NOT NULL,"
	" hash TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" from_cidr TEXT,"
	" last_used INTEGER NOT NULL DEFAULT 0,"
	" last_ip TEXT,"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (account, label));"
	"CREATE TABLE IF NOT EXISTS login_ok ("
	" account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" ip TEXT NOT NULL,"
	" last INTEGER NOT NULL,"
	" PRIMARY KEY (account, ip));"
	"CREATE INDEX IF NOT EXISTS login_ok_ip ON login_ok (ip, last);"
	/* Bans outlive their end: count says how many an address earned
	 * (escalation); a row is deleted only by `postern ban del`. */
	"CREATE TABLE IF NOT EXISTS bans ("
	" net TEXT PRIMARY KEY,"
	" until INTEGER NOT NULL,"
	" reason TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" count INTEGER NOT NULL DEFAULT 1,"
	" actor TEXT);"
	/* Locks against untrusted sources, set by the guard. */
	"CREATE TABLE IF NOT EXISTS guard_locks ("
	" account INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
	" until INTEGER NOT NULL,"
	" level INTEGER NOT NULL DEFAULT 1);"
	"INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');";

/* Password-expiry reminders (auth/reminder.h): which were sent for which
 * password. A table of its own, made apart from the schema above. */
static const char reminder_schema[] =
	"CREATE TABLE IF NOT EXISTS pw_reminders ("
	" account INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
	" pw_changed INTEGER NOT NULL,"
	" stage INTEGER NOT NULL,"
	" sent INTEGER NOT NULL);";

static int
fail(struct store *st)
{
	snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
	return -1;
}

const char *
store_error(const struct store *st)
{
	return st->err;
}

struct store *
store_open(const char *path, char *err, size_t errsz)
{
	struct store *st = xcalloc(1, sizeof(*st));
	mode_t old = umask(077);
	int rc;

	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
						 SQLITE_OPEN_NOMUTEX,
			     NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, st->db ? sqlite3_errmsg(st->db)
							   : "cannot open the database");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", NULL,
			 NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, reminder_schema, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	/* Databases made before SCRAM keys were stored: add the column (an
	 * error here only means it is there already). */
	(void)sqlite3_exec(st->db, "ALTER TABLE accounts ADD COLUMN scram TEXT", NULL, NULL, NULL);
	return st;
fail:
	sqlite3_close(st->db);
	free(st);
	return NULL;
}

struct store *
store_open_ro(const char *path, char *err, size_t errsz)
{
	struct store *st = xcalloc(1, sizeof(*st));
	sqlite3_stmt *s = NULL;
	struct stat sb;

	if (stat(path, &sb) == -1) {
		int e = errno;

		snprintf(err, errsz, "%s: %s", path, strerror(e));
		free(st);
		errno = e;
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(st->db, 5000);
	/* not a store (or not one we know) is an error now, not at the first read */
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &s,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto fail;
	sqlite3_finalize(s);
	return st;
fail:
	snprintf(err, errsz, "%s: %s", path, st->db ? sqlite3_errmsg(st->db)
						   : "cannot open the database");
	sqlite3_finalize(s);
	sqlite3_close(st->db);
	free(st);
	errno = EINVAL;
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st);
}

/* prep - a prepared statement, or NULL with the error recorded. */
static sqlite3_stmt *
prep(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		fail(st);
		return NULL;
	}
	return s;
}

static char *
col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

/* exec - run a statement with text and integer arguments; returns the
 * number of rows changed, or -1. spec: 't' text, 'i' int64, 'n' nullable text. */
static int
exec(struct store *st, const char *sql, const char *spec, ...)
{
	sqlite3_stmt *s = prep(st, sql);
	va_list ap;
	int i, rc;

	if (s == NULL)
		return -1;
	va_start(ap, spec);
	for (i = 0; spec[i]; i++) {
		if (spec[i] == 'i') {
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
		} else {
			const char *t = va_arg(ap, const char *);

			if (t == NULL)
				sqlite3_bind_null(s, i + 1);
			else
				sqlite3_bind_text(s, i + 1, t, -1, SQLITE_TRANSIENT);
		}
	}
	va_end(ap);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return fail(st);
	return sqlite3_changes(st->db);
}

void
account_clear(struct account *a)
{
	if (a->hash != NULL)
		explicit_bzero(a->hash, strlen(a->hash));
	free(a->hash);
	free(a->lock_reason);
	if (a->totp_sealed != NULL)
		explicit_bzero(a->totp_sealed, strlen(a->totp_sealed));
	free(a->totp_sealed);
	if (a->scram != NULL)
		explicit_bzero(a->scram, strlen(a->scram));
	free(a->scram);
	memset(a, 0, sizeof(*a));
}

void
app_password_clear(struct app_password *p)
{
	free(p->hash);
	free(p->from_cidr);
	free(p->last_ip);
	memset(p, 0, sizeof(*p));
}

#define ACCOUNT_COLS                                                                               \
	"id, name, hash, created, pw_changed, must_change, locked, lock_reason, totp_sealed, "   \
	"totp_last, generation, scram"

static void
row_account(sqlite3_stmt *s, struct account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(s, 0);
	str_copy(a->name, (const char *)sqlite3_column_text(s, 1), sizeof(a->name));
	a->hash = col_dup(s, 2);
	a->created = sqlite3_column_int64(s, 3);
	a->pw_changed = sqlite3_column_int64(s, 4);
	a->must_change = sqlite3_column_int(s, 5) != 0;
	a->locked = sqlite3_column_int(s, 6) != 0;
	a->lock_reason = col_dup(s, 7);
	a->totp_sealed = col_dup(s, 8);
	a->totp_last = (uint64_t)sqlite3_column_int64(s, 9);
	a->generation = sqlite3_column_int64(s, 10);
	a->scram = col_dup(s, 11);
}

int
store_get(struct store *st, const char *name, struct account *a)
{
	sqlite3_stmt *s = prep(st, "SELECT " ACCOUNT_COLS " FROM accounts WHERE name = ?");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_account(s, a);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return fail(st);
}

int
store_add(struct store *st, const char *name, const char *hash, int64_t now)
{
	int rc = exec(st,
		      "INSERT OR IGNORE INTO accounts (name, hash, created, pw_changed) "
		      "VALUES (?, ?, ?, ?)",
		      "ttii", name, hash, now, now);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_del(struct store *st, const char *name)
{
	int rc = exec(st, "DELETE FROM accounts WHERE name = ?", "t", name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_list(struct store *st, int (*cb)(const struct account *a, void *arg), void *arg)
{
	sqlite3_stmt *s = prep(st, "SELECT " ACCOUNT_COLS " FROM accounts ORDER BY name");
	struct account a;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int stop;

		row_account(s, &a);
		stop = cb(&a, arg);
		account_clear(&a);
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(st);
}

/* tx_begin, tx_end - one write transaction; tx_end commits unless rc is -1. */
static int
tx_begin(struct store *st)
{
	return sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0
										 : fail(st);
}

static int
tx_end(struct store *st, int rc)
{
	if (sqlite3_exec(st->db, rc == -1 ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return fail(st);
	return rc;
}

int
store_set_password(struct store *st, const char *name, const char *hash, int64_t now,
		   bool must_change, unsigned keep)
{
	int rc;

	if (tx_begin(st) == -1)
		return -1;
	rc = exec(st,
		  "INSERT INTO pw_history (account, hash, changed) "
		  "SELECT id, hash, pw_changed FROM accounts WHERE name = ?",
		  "t", name);
	if (rc == 0)
		return tx_end(st, 1);
	if (rc > 0)
		rc = exec(st,
			  "DELETE FROM pw_history WHERE account = (SELECT id FROM accounts WHERE "
			  "name = ?) AND rowid NOT IN (SELECT h.rowid FROM pw_history h JOIN "
			  "accounts a ON a.id = h.account WHERE a.name = ? ORDER BY h.changed DESC, "
			  "h.rowid DESC LIMIT ?)",
			  "tti", name, name, (int64_t)keep);
	if (rc >= 0)
		rc = exec(st,
			  "UPDATE accounts SET hash = ?, pw_changed = ?, must_change = ?, "
			  "scram = NULL, generation = generation + 1 WHERE name = ?",
			  "tiit", hash, now, (int64_t)must_change, name);
	return tx_end(st, rc < 0 ? -1 : 0);
}

int
store_rehash(struct store *st, const char *name, const char *hash)
{
	int rc = exec(st, "UPDATE accounts SET hash = ? WHERE name = ?", "tt", hash, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_pair_ok(struct store *st, const char *name, const char *ip, int64_t now)
{
	int rc = exec(st,
		      "INSERT INTO login_ok (account, ip, last) SELECT id, ?, ? FROM accounts "
		      "WHERE name = ? ON CONFLICT (account, ip) DO UPDATE SET last = excluded.last",
		      "tit", ip, now, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_pair_last(struct store *st, const char *name, const char *ip, int64_t *last)
{
	sqlite3_stmt *s = prep(st, "SELECT p.last FROM login_ok p JOIN accounts a ON "
				   "a.id = p.account WHERE a.name = ? AND p.ip = ?");
	int rc;

	*last = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, ip, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*last = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st);
	return rc == SQLITE_ROW ? 0 : 1;
}

int
store_set_scram(struct store *st, const char *name, const char *scram)
{
	int rc = exec(st, "UPDATE accounts SET scram = ? WHERE name = ?", "nt", scram, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_set_locked(struct store *st, const char *name, bool locked, const char *reason)
{
	int rc = exec(st,
		      "UPDATE accounts SET locked = ?, lock_reason = ?, generation = generation + 1 "
		      "WHERE name = ?",
		      "int", (int64_t)locked, locked ? reason : NULL, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_set_totp(struct store *st, const char *name, const char *sealed)
{
	int rc = exec(st,
		      "UPDATE accounts SET totp_sealed = ?, totp_last = 0, "
		      "generation = generation + 1 WHERE name = ?",
		      "nt", sealed, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_totp_used(struct store *st, const char *name, uint64_t step)
{
	int rc = exec(st,
		      "UPDATE accounts SET totp_last = ? WHERE name = ? AND totp_last < ?", "iti",
		      (int64_t)step, name, (int64_t)step);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

/* each_text - run a one-column query with one text argument. */
static int
each_text(struct store *st, const char *sql, const char *arg,
	  int (*cb)(const char *t, void *a), void *cbarg)
{
	sqlite3_stmt *s = prep(st, sql);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (cb((const char *)sqlite3_column_text(s, 0), cbarg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(st);
}

int
store_history(struct store *st, const char *name, int (*cb)(const char *hash, void *arg),
	      void *arg)
{
	return each_text(st,
			 "SELECT h.hash FROM pw_history h JOIN accounts a ON a.id = h.account "
			 "WHERE a.name = ? ORDER BY h.changed DESC, h.rowid DESC",
			 name, cb, arg);
}

/* add_to - insert (account of name, value) into a two-column table. */
static int
add_to(struct store *st, const char *sql, const char *name, const char *value)
{
	int rc = exec(st, sql, "tt", value, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_address_add(struct store *st, const char *name, const char *address)
{
	return add_to(st,
		      "INSERT OR IGNORE INTO addresses (account, address) "
		      "SELECT id, ? FROM accounts WHERE name = ?",
		      name, address);
}

int
store_address_del(struct store *st, const char *name, const char *address)
{
	return add_to(st,
		      "DELETE FROM addresses WHERE address = ? AND account = "
		      "(SELECT id FROM accounts WHERE name = ?)",
		      name, address);
}

int
store_addresses(struct store *st, const char *name, int (*cb)(const char *address, void *arg),
		void *arg)
{
	return each_text(st,
			 "SELECT d.address FROM addresses d JOIN accounts a ON a.id = d.account "
			 "WHERE a.name = ? ORDER BY d.address",
			 name, cb, arg);
}

int
store_allow_add(struct store *st, const char *name, const char *cidr)
{
	return add_to(st,
		      "INSERT OR IGNORE INTO allow_from (account, cidr) "
		      "SELECT id, ? FROM accounts WHERE name = ?",
		      name, cidr);
}

int
store_allow_del(struct store *st, const char *name, const char *cidr)
{
	return add_to(st,
		      "DELETE FROM allow_from WHERE cidr = ? AND account = "
		      "(SELECT id FROM accounts WHERE name = ?)",
		      name, cidr);
}

int
store_allows(struct store *st, const char *name, int (*cb)(const char *cidr, void *arg),
	     void *arg)
{
	return each_text(st,
			 "SELECT f.cidr FROM allow_from f JOIN accounts a ON a.id = f.account "
			 "WHERE a.name = ? ORDER BY f.cidr",
			 name, cb, arg);
}

int
store_app_add(struct store *st, const char *name, const struct app_password *p)
{
	int rc = exec(st,
		      "INSERT OR IGNORE INTO app_passwords (account, label, hash, created, "
		      "expires, from_cidr) SELECT id, ?, ?, ?, ?, ? FROM accounts WHERE name = ?",
		      "ttiint", p->label, p->hash, p->created, p->expires, p->from_cidr, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_app_list(struct store *st, const char *name,
	       int (*cb)(const struct app_password *p, void *arg), void *arg)
{
	sqlite3_stmt *s = prep(st, "SELECT p.id, p.label, p.hash, p.created, p.expires, "
				   "p.from_cidr, p.last_used, p.last_ip, p.revoked FROM "
				   "app_passwords p JOIN accounts a ON a.id = p.account WHERE "
				   "a.name = ? ORDER BY p.label");
	struct app_password p;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&p, 0, sizeof(p));
		p.id = sqlite3_column_int64(s, 0);
		str_copy(p.label, (const char *)sqlite3_column_text(s, 1), sizeof(p.label));
		p.hash = col_dup(s, 2);
		p.created = sqlite3_column_int64(s, 3);
		p.expires = sqlite3_column_int64(s, 4);
		p.from_cidr = col_dup(s, 5);
		p.last_used = sqlite3_column_int64(s, 6);
		p.last_ip = col_dup(s, 7);
		p.revoked = sqlite3_column_int(s, 8) != 0;
		rc = cb(&p, arg);
		app_password_clear(&p);
		if (rc != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(st);
}

int
store_app_revoke(struct store *st, const char *name, const char *label)
{
	int rc = exec(st,
		      "UPDATE app_passwords SET revoked = 1 WHERE label = ? AND account = "
		      "(SELECT id FROM accounts WHERE name = ?)",
		      "tt", label, name);

	if (rc <= 0)
		return rc < 0 ? -1 : 1;
	/* a revoked credential must fall out of every cache */
	if (exec(st, "UPDATE accounts SET generation = generation + 1 WHERE name = ?", "t",
		 name) < 0)
		return -1;
	return 0;
}

int
store_app_used(struct store *st, int64_t id, int64_t now, const char *ip)
{
	return exec(st, "UPDATE app_passwords SET last_used = ?, last_ip = ? WHERE id = ?", "iti",
		    now, ip, id) < 0
		       ? -1
		       : 0;
}

/* Guard state: bans, locks against untrusted sources, trusted sources. */

int
store_pair_count(struct store *st, const char *name, int64_t *n)
{
	sqlite3_stmt *s = prep(st, "SELECT COUNT(*) FROM login_ok p JOIN accounts a ON a.id = "
				   "p.account WHERE a.name = ?");
	int rc;

	*n = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : fail(st);
}

int
store_ip_trusted(struct store *st, const char *ip, int64_t since)
{
	sqlite3_stmt *s = prep(st, "SELECT 1 FROM login_ok WHERE ip = ? AND last >= ? LIMIT 1");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, ip, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, since);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st);
	return rc == SQLITE_ROW ? 0 : 1;
}

/* ban_row - a row of SELECT net, until, reason, created, count, actor. */
static void
ban_row(sqlite3_stmt *s, struct store_ban *b)
{
	const unsigned char *actor = sqlite3_column_text(s, 5);

	memset(b, 0, sizeof(*b));
	str_copy(b->net, (const char *)sqlite3_column_text(s, 0), sizeof(b->net));
	b->until = sqlite3_column_int64(s, 1);
	str_copy(b->reason, (const char *)sqlite3_column_text(s, 2), sizeof(b->reason));
	b->created = sqlite3_column_int64(s, 3);
	b->count = sqlite3_column_int64(s, 4);
	if (actor != NULL)
		str_copy(b->actor, (const char *)actor, sizeof(b->actor));
}

int
store_ban_get(struct store *st, const char *net, struct store_ban *b)
{
	sqlite3_stmt *s = prep(st, "SELECT net, until, reason, created, count, actor FROM bans "
				   "WHERE net = ?");
	int rc;

	memset(b, 0, sizeof(*b));
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, net, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ban_row(s, b);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st);
	return rc == SQLITE_ROW ? 0 : 1;
}

int
store_ban_put(struct store *st, const char *net, int64_t until, const char *reason,
	      const char *actor, int64_t count, int64_t now)
{
	int rc = exec(st,
		      "INSERT INTO bans (net, until, reason, created, count, actor) "
		      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (net) DO UPDATE SET "
		      "until = excluded.until, reason = excluded.reason, created = "
		      "excluded.created, count = excluded.count, actor = excluded.actor",
		      "titiin", net, until, reason, now, count, actor);

	return rc < 0 ? -1 : 0;
}

int
store_ban_del(struct store *st, const char *net)
{
	int rc = exec(st, "DELETE FROM bans WHERE net = ?", "t", net);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_ban_each(struct store *st, int64_t now, int (*cb)(const struct store_ban *b, void *arg),
	       void *arg)
{
	sqlite3_stmt *s = prep(st, "SELECT net, until, reason, created, count, actor FROM bans "
				   "WHERE until > ? ORDER BY created");
	struct store_ban b;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ban_row(s, &b);
		if (cb(&b, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(st);
}

int
store_guard_lock_get(struct store *st, const char *name, int64_t *until, int64_t *level)
{
	sqlite3_stmt *s = prep(st, "SELECT l.until, l.level FROM guard_locks l JOIN accounts a "
				   "ON a.id = l.account WHERE a.name = ?");
	int rc;

	*until = 0;
	*level = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*until = sqlite3_column_int64(s, 0);
		*level = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st);
	return rc == SQLITE_ROW ? 0 : 1;
}

int
store_guard_lock(struct store *st, const char *name, int64_t until)
{
	int rc = exec(st,
		      "INSERT INTO guard_locks (account, until, level) SELECT id, ?, 1 FROM "
		      "accounts WHERE name = ? ON CONFLICT (account) DO UPDATE SET until = "
		      "excluded.until, level = level + 1",
		      "it", until, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

int
store_guard_unlock(struct store *st, const char *name)
{
	int rc = exec(st,
		      "DELETE FROM guard_locks WHERE account = (SELECT id FROM accounts WHERE "
		      "name = ?)",
		      "t", name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}

/* count - the one integer a SELECT (or PRAGMA) returns. */
static int
count(struct store *st, const char *sql, int64_t *out)
{
	sqlite3_stmt *s = prep(st, sql);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : fail(st);
}

int
store_data_version(struct store *st, int64_t *version)
{
	return count(st, "PRAGMA data_version", version);
}

int
store_counts(struct store *st, struct store_counts *c)
{
	static const char *const sql[] = {
		"SELECT count(*) FROM accounts",
		"SELECT count(*) FROM accounts WHERE totp_sealed IS NOT NULL",
		"SELECT count(*) FROM app_passwords WHERE revoked = 0",
		"SELECT count(*) FROM bans",
	};
	int64_t *out[] = {&c->accounts, &c->totp, &c->app_passwords, &c->bans};
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		if (count(st, sql[i], out[i]) == -1)
			return -1;
	return 0;
}

int
store_expiring(struct store *st, int64_t after, int64_t until,
	       int (*cb)(const struct store_expiring *e, void *arg), void *arg)
{
	sqlite3_stmt *s = prep(st, "SELECT a.name, a.pw_changed, COALESCE(r.pw_changed, 0), "
				   "COALESCE(r.stage, 0), COALESCE(r.sent, 0) FROM accounts a "
				   "LEFT JOIN pw_reminders r ON r.account = a.id WHERE "
				   "a.pw_changed > ? AND a.pw_changed <= ? AND a.must_change = 0 "
				   "AND a.locked = 0 ORDER BY a.pw_changed");
	struct store_expiring e;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, until);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		e.name = (const char *)sqlite3_column_text(s, 0);
		e.pw_changed = sqlite3_column_int64(s, 1);
		e.noticed_pw = sqlite3_column_int64(s, 2);
		e.stage = sqlite3_column_int64(s, 3);
		e.sent = sqlite3_column_int64(s, 4);
		if (e.name != NULL && cb(&e, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(st);
}

int
store_reminder_put(struct store *st, const char *name, int64_t pw_changed, int64_t stage,
		   int64_t sent)
{
	int rc = exec(st,
		      "INSERT INTO pw_reminders (account, pw_changed, stage, sent) SELECT id, ?, "
		      "?, ? FROM accounts WHERE name = ? ON CONFLICT (account) DO UPDATE SET "
		      "pw_changed = excluded.pw_changed, stage = excluded.stage, sent = "
		      "excluded.sent",
		      "iiit", pw_changed, stage, sent, name);

	return rc < 0 ? -1 : rc == 0 ? 1 : 0;
}
