/* SPDX-License-Identifier: ISC */
/*
 * store - the account store: accounts, their password hashes and history,
 * the addresses they may send as, where they may log in from, TOTP state
 * and app passwords. SQLite in WAL mode in state_dir by default; the
 * functions here are the interface a PostgreSQL or LDAP backend implements.
 *
 * Every change to credentials, 2FA or the lock bumps the account's
 * generation, which caches of verified credentials compare against.
 *
 * SECURITY: opened by the auth process (and by `postern user` on the same
 * state_dir); holds hashes and sealed TOTP secrets, never passwords. The
 * file is created 0600. Names are compared case-insensitively (ASCII).
 * All SQL uses bound parameters.
 */
#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_NAME_MAX 320 /* an account is named by its address */
#define STORE_LABEL_MAX 64

struct store;

struct account {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	char *hash;	   /* current password hash */
	int64_t created;   /* unix seconds */
	int64_t pw_changed;
	bool must_change;  /* set by an admin reset */
	bool locked;
	char *lock_reason; /* or NULL */
	char *totp_sealed; /* sealed TOTP secret, NULL when 2FA is off */
	uint64_t totp_last; /* last TOTP step accepted (replay guard) */
	int64_t generation;
	char *scram;	   /* SCRAM-SHA-256 keys (scram_keys_format), or NULL */
};

struct app_password {
	int64_t id;
	char label[STORE_LABEL_MAX + 1];
	char *hash;
	int64_t created;
	int64_t expires;   /* 0: never */
	char *from_cidr;   /* NULL: anywhere */
	int64_t last_used; /* 0: never */
	char *last_ip;
	bool revoked;
};

/* store_open - open (creating the schema) the database at path. */
struct store *store_open(const char *path, char *err, size_t errsz);
/* store_open_ro - an existing database, read-only: no schema is made or
 * changed (for reports such as `postern check`). NULL with err set; errno
 * ENOENT when there is no database. */
struct store *store_open_ro(const char *path, char *err, size_t errsz);
void store_close(struct store *st);
/* store_error - the last database error, for messages. */
const char *store_error(const struct store *st);

void account_clear(struct account *a);
void app_password_clear(struct app_password *p);

/* store_get - 0 found (a filled; clear it), 1 no such account, -1 error. */
int store_get(struct store *st, const char *name, struct account *a);
/* store_add - a new account; 1 if it exists already. */
int store_add(struct store *st, const char *name, const char *hash, int64_t now);
/* store_del - 1 if there was no such account. */
int store_del(struct store *st, const char *name);
/* store_list - every account name, in order; cb returns 0 to go on. */
int store_list(struct store *st, int (*cb)(const struct account *a, void *arg), void *arg);
/* store_set_password - new hash; the old one goes to the history (keeping
 * the last keep); must_change as given. */
int store_set_password(struct store *st, const char *name, const char *hash, int64_t now,
		       bool must_change, unsigned keep);
/* store_rehash - replace the hash after a login (same password, better
 * scheme): no history entry, no generation bump. */
int store_rehash(struct store *st, const char *name, const char *hash);
/* store_pair_ok - the account logged in from ip at now (the pairs that
 * have are trusted: their logins go first when the hashing pool is busy).
 * 1 if there is no such account. */
int store_pair_ok(struct store *st, const char *name, const char *ip, int64_t now);
/* store_pair_last - when the account last logged in from ip: 0 with *last
 * set, 1 never (*last 0), -1 error. */
int store_pair_last(struct store *st, const char *name, const char *ip, int64_t *last);
/* store_set_scram - the SCRAM keys of the current password (NULL: none).
 * store_set_password drops them: they must be made again from the new
 * password. No generation bump (the password is the same). */
int store_set_scram(struct store *st, const char *name, const char *scram);
int store_set_locked(struct store *st, const char *name, bool locked, const char *reason);
/* store_set_totp - sealed secret, or NULL to turn 2FA off. */
int store_set_totp(struct store *st, const char *name, const char *sealed);
/* store_totp_used - remember the last accepted TOTP step (only upward):
 * 0, or 1 if that step (or a later one) was used already (a replay). */
int store_totp_used(struct store *st, const char *name, uint64_t step);
/* store_history - the previous hashes, newest first; cb returns 0 to go on. */
int store_history(struct store *st, const char *name, int (*cb)(const char *hash, void *arg),
		  void *arg);

/* Addresses an account may send as: "user@domain", or "@domain" for a
 * whole domain. */
int store_address_add(struct store *st, const char *name, const char *address);
int store_address_del(struct store *st, const char *name, const char *address);
int store_addresses(struct store *st, const char *name,
		    int (*cb)(const char *address, void *arg), void *arg);

/* Networks an account may log in from (none: anywhere). */
int store_allow_add(struct store *st, const char *name, const char *cidr);
int store_allow_del(struct store *st, const char *name, const char *cidr);
int store_allows(struct store *st, const char *name, int (*cb)(const char *cidr, void *arg),
		 void *arg);

/* App passwords. */
int store_app_add(struct store *st, const char *name, const struct app_password *p);
int store_app_list(struct store *st, const char *name,
		   int (*cb)(const struct app_password *p, void *arg), void *arg);
/* store_app_revoke - 1 if there is no such label. */
int store_app_revoke(struct store *st, const char *name, const char *label);
int store_app_used(struct store *st, int64_t id, int64_t now, const char *ip);

/* Guard state. */

struct store_ban {
	char net[72];	  /* canonical "address/prefix" */
	int64_t until;	  /* unix seconds */
	char reason[64];
	int64_t created;  /* of the latest ban */
	int64_t count;	  /* bans this network earned (escalation) */
	char actor[64];	  /* who: "guard" or the admin */
};

/* store_pair_count - how many addresses the account logged in from. */
int store_pair_count(struct store *st, const char *name, int64_t *n);
/* store_ip_trusted - 0 if some account logged in from ip at or after
 * since, 1 if none, -1 error. */
int store_ip_trusted(struct store *st, const char *ip, int64_t since);
/* store_ban_get - 0 found (expired or not), 1 none, -1 error. */
int store_ban_get(struct store *st, const char *net, struct store_ban *b);
/* store_ban_put - ban net until; count: the bans it has earned, this one
 * included. 0 or -1. */
int store_ban_put(struct store *st, const char *net, int64_t until, const char *reason,
		  const char *actor, int64_t count, int64_t now);
/* store_ban_del - forget net (its history too): 0, 1 if none, -1. */
int store_ban_del(struct store *st, const char *net);
/* store_ban_each - the bans still in force at now, oldest first. */
int store_ban_each(struct store *st, int64_t now, int (*cb)(const struct store_ban *b, void *arg),
		   void *arg);
/* store_guard_lock_get - the account's lock against untrusted sources:
 * 0 with until and level (locks so far), 1 none, -1 error. */
int store_guard_lock_get(struct store *st, const char *name, int64_t *until, int64_t *level);
/* store_guard_lock - lock until (the level grows by one): 0, 1 no such
 * account, -1. */
int store_guard_lock(struct store *st, const char *name, int64_t until);
/* store_guard_unlock - 0, 1 if there was no lock, -1. */
int store_guard_unlock(struct store *st, const char *name);
/* store_data_version - changes whenever another connection (the CLI)
 * commits to the database. */
int store_data_version(struct store *st, int64_t *version);

/* What a store holds, in numbers (backups report them). */
struct store_counts {
	int64_t accounts;
	int64_t totp;	       /* accounts with 2FA on */
	int64_t app_passwords; /* not revoked */
	int64_t bans;	       /* rows, in force or not */
};

/* store_counts - count them. 0 or -1. */
int store_counts(struct store *st, struct store_counts *c);

#endif
