/* SPDX-License-Identifier: ISC */
/*
 * test_store - the SQLite account store: accounts, history, generations,
 * addresses, allowed networks, app passwords, file mode.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/store.h"

static char dir[64], path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/postern-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *
open_store(void)
{
	char err[256];
	struct store *st = store_open(path, err, sizeof(err));

	if (st == NULL)
		fail_msg("%s", err);
	return st;
}

static int
collect(const char *t, void *arg)
{
	char *acc = arg;

	strncat(acc, t, 500 - strlen(acc));
	strncat(acc, ";", 500 - strlen(acc));
	return 0;
}

static void
test_accounts(void **state)
{
	struct store *st = open_store();
	struct account a;
	struct stat sb;

	(void)state;
	assert_int_equal(store_add(st, "alice@example.test", "{X}h1", 100), 0);
	assert_int_equal(store_add(st, "ALICE@example.test", "{X}h2", 100), 1); /* nocase */
	assert_int_equal(store_get(st, "Alice@Example.TEST", &a), 0);
	assert_string_equal(a.name, "alice@example.test");
	assert_string_equal(a.hash, "{X}h1");
	assert_int_equal(a.created, 100);
	assert_false(a.locked);
	assert_null(a.totp_sealed);
	assert_int_equal(a.generation, 1);
	account_clear(&a);
	assert_int_equal(store_get(st, "bob@example.test", &a), 1);
	assert_int_equal(store_set_locked(st, "alice@example.test", true, "admin"), 0);
	assert_int_equal(store_get(st, "alice@example.test", &a), 0);
	assert_true(a.locked);
	assert_string_equal(a.lock_reason, "admin");
	assert_int_equal(a.generation, 2);
	account_clear(&a);
	assert_int_equal(store_set_locked(st, "nobody@example.test", true, NULL), 1);
	/* SCRAM keys: set without a generation bump, dropped by a new password */
	assert_null(a.scram);
	assert_int_equal(store_set_scram(st, "alice@example.test", "{SCRAM-SHA-256}k"), 0);
	assert_int_equal(store_get(st, "alice@example.test", &a), 0);
	assert_string_equal(a.scram, "{SCRAM-SHA-256}k");
	assert_int_equal(a.generation, 2);
	account_clear(&a);
	assert_int_equal(store_set_password(st, "alice@example.test", "{X}h3", 200, false, 5), 0);
	assert_int_equal(store_get(st, "alice@example.test", &a), 0);
	assert_null(a.scram);
	account_clear(&a);
	assert_int_equal(store_set_scram(st, "nobody@example.test", "x"), 1);
	/* (account, IP) pairs that logged in */
	{
		int64_t last;

		assert_int_equal(store_pair_last(st, "alice@example.test", "192.0.2.1", &last), 1);
		assert_int_equal(last, 0);
		assert_int_equal(store_pair_ok(st, "alice@example.test", "192.0.2.1", 500), 0);
		assert_int_equal(store_pair_ok(st, "alice@example.test", "192.0.2.1", 600), 0);
		assert_int_equal(store_pair_last(st, "ALICE@example.test", "192.0.2.1", &last), 0);
		assert_int_equal(last, 600);
		assert_int_equal(store_pair_last(st, "alice@example.test", "192.0.2.2", &last), 1);
		assert_int_equal(store_pair_ok(st, "nobody@example.test", "192.0.2.1", 600), 1);
	}
	assert_int_equal(store_del(st, "alice@example.test"), 0);
	assert_int_equal(store_del(st, "alice@example.test"), 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	store_close(st);
}

static void
test_password_history(void **state)
{
	struct store *st = open_store();
	char hist[512] = "";
	struct account a;
	int i;

	(void)state;
	assert_int_equal(store_add(st, "h@example.test", "p0", 1), 0);
	for (i = 1; i <= 5; i++) {
		char h[8];

		snprintf(h, sizeof(h), "p%d", i);
		assert_int_equal(store_set_password(st, "h@example.test", h, 10 + i, i == 5, 3), 0);
	}
	assert_int_equal(store_history(st, "h@example.test", collect, hist), 0);
	assert_string_equal(hist, "p4;p3;p2;"); /* the last 3, newest first */
	assert_int_equal(store_get(st, "h@example.test", &a), 0);
	assert_string_equal(a.hash, "p5");
	assert_true(a.must_change);
	assert_int_equal(a.pw_changed, 15);
	assert_int_equal(a.generation, 6);
	account_clear(&a);
	/* a rehash changes neither history nor generation */
	assert_int_equal(store_rehash(st, "h@example.test", "p5-argon"), 0);
	assert_int_equal(store_get(st, "h@example.test", &a), 0);
	assert_string_equal(a.hash, "p5-argon");
	assert_int_equal(a.generation, 6);
	account_clear(&a);
	assert_int_equal(store_set_password(st, "none@example.test", "x", 1, false, 3), 1);
	store_close(st);
}

static void
test_addresses_and_networks(void **state)
{
	struct store *st = open_store();
	char got[512] = "";

	(void)state;
	assert_int_equal(store_add(st, "c@example.test", "h", 1), 0);
	assert_int_equal(store_address_add(st, "c@example.test", "sales@example.test"), 0);
	assert_int_equal(store_address_add(st, "c@example.test", "@other.test"), 0);
	assert_int_equal(store_address_add(st, "c@example.test", "SALES@example.test"), 1);
	assert_int_equal(store_address_add(st, "x@example.test", "a@example.test"), 1);
	assert_int_equal(store_addresses(st, "c@example.test", collect, got), 0);
	assert_string_equal(got, "@other.test;sales@example.test;");
	assert_int_equal(store_address_del(st, "c@example.test", "@other.test"), 0);
	assert_int_equal(store_address_del(st, "c@example.test", "@other.test"), 1);
	got[0] = '\0';
	assert_int_equal(store_allow_add(st, "c@example.test", "10.0.0.0/8"), 0);
	assert_int_equal(store_allows(st, "c@example.test", collect, got), 0);
	assert_string_equal(got, "10.0.0.0/8;");
	/* deleting the account takes everything with it */
	assert_int_equal(store_del(st, "c@example.test"), 0);
	assert_int_equal(store_add(st, "c@example.test", "h", 2), 0);
	got[0] = '\0';
	assert_int_equal(store_addresses(st, "c@example.test", collect, got), 0);
	assert_int_equal(store_allows(st, "c@example.test", collect, got), 0);
	assert_string_equal(got, "");
	store_close(st);
}

static int
app_cb(const struct app_password *p, void *arg)
{
	char *acc = arg;
	char line[128];

	snprintf(line, sizeof(line), "%s:%s:%lld:%s:%d;", p->label, p->hash,
		 (long long)p->last_used, p->last_ip ? p->last_ip : "-", p->revoked);
	strncat(acc, line, 500 - strlen(acc));
	return 0;
}

static void
test_app_passwords(void **state)
{
	struct store *st = open_store();
	struct app_password p;
	struct account a;
	char got[512] = "";

	(void)state;
	assert_int_equal(store_add(st, "d@example.test", "h", 1), 0);
	memset(&p, 0, sizeof(p));
	snprintf(p.label, sizeof(p.label), "phone");
	p.hash = "ah";
	p.created = 5;
	assert_int_equal(store_app_add(st, "d@example.test", &p), 0);
	assert_int_equal(store_app_add(st, "d@example.test", &p), 1); /* label taken */
	assert_int_equal(store_app_list(st, "d@example.test", app_cb, got), 0);
	assert_string_equal(got, "phone:ah:0:-:0;");
	got[0] = '\0';
	assert_int_equal(store_app_used(st, 1, 77, "192.0.2.7"), 0);
	assert_int_equal(store_app_revoke(st, "d@example.test", "phone"), 0);
	assert_int_equal(store_app_revoke(st, "d@example.test", "laptop"), 1);
	assert_int_equal(store_app_list(st, "d@example.test", app_cb, got), 0);
	assert_string_equal(got, "phone:ah:77:192.0.2.7:1;");
	assert_int_equal(store_get(st, "d@example.test", &a), 0);
	assert_int_equal(a.generation, 2); /* revocation invalidates caches */
	account_clear(&a);
	store_close(st);
}

static void
test_totp_state(void **state)
{
	struct store *st = open_store();
	struct account a;

	(void)state;
	assert_int_equal(store_add(st, "t@example.test", "h", 1), 0);
	assert_int_equal(store_set_totp(st, "t@example.test", "sealed"), 0);
	assert_int_equal(store_totp_used(st, "t@example.test", 100), 0);
	assert_int_equal(store_totp_used(st, "t@example.test", 90), 1); /* never backwards */
	assert_int_equal(store_totp_used(st, "t@example.test", 100), 1); /* no replay */
	assert_int_equal(store_get(st, "t@example.test", &a), 0);
	assert_string_equal(a.totp_sealed, "sealed");
	assert_int_equal(a.totp_last, 100);
	account_clear(&a);
	assert_int_equal(store_set_totp(st, "t@example.test", NULL), 0);
	assert_int_equal(store_get(st, "t@example.test", &a), 0);
	assert_null(a.totp_sealed);
	assert_int_equal(a.totp_last, 0);
	account_clear(&a);
	store_close(st);
}

static int
count_cb(const struct account *a, void *arg)
{
	(void)a;
	(*(int *)arg)++;
	return 0;
}

/* store_open_ro: for reports; it never makes a database, nor writes. */
static void
test_read_only(void **state)
{
	struct store *st;
	struct stat sb;
	char err[256];
	int n = 0;

	(void)state;
	errno = 0;
	assert_null(store_open_ro(path, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(path, &sb), -1); /* not created */
	st = open_store();
	assert_int_equal(store_add(st, "r@example.test", "{PLAIN}x", 1), 0);
	store_close(st);
	st = store_open_ro(path, err, sizeof(err));
	if (st == NULL)
		fail_msg("%s", err);
	assert_int_equal(store_list(st, count_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_add(st, "w@example.test", "{PLAIN}x", 1), -1);
	store_close(st);
	/* a file that is not a store */
	st = open_store();
	store_close(st);
	{
		FILE *fp = fopen(path, "w");

		fputs("not a database", fp);
		fclose(fp);
	}
	assert_null(store_open_ro(path, err, sizeof(err)));
	assert_non_null(strstr(err, "accounts.db"));
}

/* store_counts: what a backup reports. */
static void
test_counts(void **state)
{
	struct store *st = open_store();
	struct store_counts n;
	struct app_password p;

	(void)state;
	assert_int_equal(store_counts(st, &n), 0);
	assert_int_equal(n.accounts, 0);
	assert_int_equal(store_add(st, "a@example.test", "h", 1), 0);
	assert_int_equal(store_add(st, "b@example.test", "h", 1), 0);
	assert_int_equal(store_set_totp(st, "b@example.test", "sealed"), 0);
	memset(&p, 0, sizeof(p));
	p.hash = "ah";
	snprintf(p.label, sizeof(p.label), "phone");
	assert_int_equal(store_app_add(st, "b@example.test", &p), 0);
	snprintf(p.label, sizeof(p.label), "old");
	assert_int_equal(store_app_add(st, "b@example.test", &p), 0);
	assert_int_equal(store_app_revoke(st, "b@example.test", "old"), 0);
	assert_int_equal(store_ban_put(st, "192.0.2.0/24", 10, "test", "guard", 1, 1), 0);
	assert_int_equal(store_counts(st, &n), 0);
	assert_int_equal(n.accounts, 2);
	assert_int_equal(n.totp, 1);
	assert_int_equal(n.app_passwords, 1); /* the revoked one is not counted */
	assert_int_equal(n.bans, 1);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addresses_and_networks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_app_passwords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
