/* SPDX-License-Identifier: ISC */
/*
 * test_reminder - password-expiry reminders (src/auth/reminder.c): the
 * policy in tables (which stage a password is in, whether it is mailed),
 * and passes over a real account store: who is mailed, once, what the
 * notice carries, what is audited, and who is left alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "auth/reminder.h"
#include "auth/store.h"
#include "conf/conf.h"

#define DAY 86400

static void
test_stage(void **state)
{
	static const struct {
		int64_t changed;
		uint64_t max_age, warn;
		int stage;
	} rows[] = {
		/* now = 100 days; max_age 90 days, warn 14 days */
		{10 * DAY, 90 * DAY, 14 * DAY, 0},	    /* expired today at 0 left */
		{10 * DAY + 1, 90 * DAY, 14 * DAY, 2},	    /* a second left */
		{11 * DAY, 90 * DAY, 14 * DAY, 2},	    /* exactly a day left */
		{11 * DAY + 1, 90 * DAY, 14 * DAY, 1},	    /* a day and a second */
		{24 * DAY, 90 * DAY, 14 * DAY, 1},	    /* the window just opened */
		{24 * DAY + 1, 90 * DAY, 14 * DAY, 0},	    /* not yet */
		{99 * DAY, 90 * DAY, 14 * DAY, 0},	    /* fresh */
		{5 * DAY, 90 * DAY, 14 * DAY, 0},	    /* long expired */
		{50 * DAY, 0, 14 * DAY, 0},		    /* max_age off */
		{99 * DAY, 2 * DAY, 0, 0},		    /* no warning window */
		{99 * DAY, 3 * DAY, 30 * DAY, 1},	    /* window wider than max_age */
		{99 * DAY, DAY - 10, 30 * DAY, 0},	    /* ... but already past */
		{99 * DAY, UINT64_MAX, 14 * DAY, 0},	    /* absurd values: off */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (reminder_stage(rows[i].changed, rows[i].max_age, rows[i].warn, 100 * DAY) !=
		    rows[i].stage)
			fail_msg("row %zu: stage %d", i,
				 reminder_stage(rows[i].changed, rows[i].max_age, rows[i].warn,
						100 * DAY));
}

static void
test_due(void **state)
{
	static const struct {
		int stage;
		struct store_expiring e; /* name, pw_changed, noticed_pw, stage, sent */
		bool due;
	} rows[] = {
		{0, {"a", 50, 0, 0, 0}, false},			/* nothing to say */
		{1, {"a", 50, 0, 0, 0}, true},			/* first ever */
		{1, {"a", 50, 50, 1, 10 * DAY}, false},		/* said already */
		{2, {"a", 50, 50, 1, 10 * DAY}, true},		/* the last day, a day later */
		{2, {"a", 50, 50, 1, 10 * DAY + 1}, false},	/* not twice in a day */
		{2, {"a", 50, 50, 2, 1}, false},		/* both said */
		{1, {"a", 60, 50, 2, 1}, true},			/* a new password */
		{1, {"a", 60, 50, 2, 10 * DAY + 1}, false},	/* ... but not the same day */
		{2, {"a", 50, 0, 0, 0}, true},			/* straight to the last */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (reminder_due(rows[i].stage, &rows[i].e, 11 * DAY) != rows[i].due)
			fail_msg("row %zu", i);
}

/* A store in a fresh directory, and the notices a pass sends. */

static char dir[64];

struct sent {
	char kind[32], to[64], days[8], expires[40];
	size_t nvars;
};
static struct sent sent[8];
static size_t nsent;

static void
record(void *arg, const char *kind, const char *to, const struct template_var *vars,
       size_t nvars)
{
	struct sent *s = &sent[nsent < 8 ? nsent++ : 7];
	size_t i;

	(void)arg;
	memset(s, 0, sizeof(*s));
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	snprintf(s->to, sizeof(s->to), "%s", to);
	s->nvars = nvars;
	for (i = 0; i < nvars; i++) {
		if (strcmp(vars[i].name, "days") == 0)
			snprintf(s->days, sizeof(s->days), "%s", vars[i].value);
		if (strcmp(vars[i].name, "expires") == 0)
			snprintf(s->expires, sizeof(s->expires), "%s", vars[i].value);
	}
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/postern-reminder-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct conf *
conf_with(const char *extra)
{
	char text[512], err[CONF_ERR_MAX + 64];
	struct conf *cf;

	snprintf(text, sizeof(text), "state_dir %s\nlisten 127.0.0.1:25 { role mx }\n%s", dir,
		 extra);
	cf = conf_new_shared("t.conf", text, strlen(text), err, sizeof(err));
	if (cf == NULL)
		fail_msg("%s", err);
	return cf;
}

static void
test_pass(void **state)
{
	char path[128], err[256];
	int64_t now = (int64_t)time(NULL);
	struct event_base *base = event_base_new();
	struct conf *cf = conf_with("auth {\n\tmax_age 30d\n\twarn_before 7d\n}\n");
	struct reminder *r;
	struct store *st;

	(void)state;
	snprintf(path, sizeof(path), "%s/accounts.db", dir);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	/* 5 days left; 12 hours left (stage 1 mailed 2 days ago); fresh;
	 * expired; not an address; reset by an admin; locked */
	assert_int_equal(store_add(st, "ann@example.test", "h", now - 25 * DAY), 0);
	assert_int_equal(store_add(st, "bob@example.test", "h", now - 30 * DAY + 12 * 3600), 0);
	assert_int_equal(store_reminder_put(st, "bob@example.test", now - 30 * DAY + 12 * 3600, 1,
					    now - 2 * DAY),
			 0);
	assert_int_equal(store_add(st, "cy@example.test", "h", now - DAY), 0);
	assert_int_equal(store_add(st, "dee@example.test", "h", now - 31 * DAY), 0);
	assert_int_equal(store_add(st, "eve", "h", now - 25 * DAY), 0);
	assert_int_equal(store_add(st, "fay@example.test", "h", now - 60 * DAY), 0);
	assert_int_equal(store_set_password(st, "fay@example.test", "h2", now - 25 * DAY, true, 3),
			 0);
	assert_int_equal(store_add(st, "gus@example.test", "h", now - 25 * DAY), 0);
	assert_int_equal(store_set_locked(st, "gus@example.test", true, "admin"), 0);
	assert_int_equal(store_reminder_put(st, "nobody@example.test", 1, 1, 1), 1);

	r = reminder_new(base, cf, st, NULL, record, NULL);
	nsent = 0;
	assert_int_equal(reminder_pass(r), 2);
	assert_int_equal(nsent, 2);
	assert_string_equal(sent[0].kind, "password-expiry");
	assert_string_equal(sent[0].to, "bob@example.test");
	assert_string_equal(sent[0].days, "1");
	assert_string_equal(sent[1].to, "ann@example.test");
	assert_string_equal(sent[1].days, "5");
	assert_non_null(strstr(sent[1].expires, " UTC"));
	assert_int_equal(sent[1].nvars, 3);
	/* a second pass: nothing new to say */
	nsent = 0;
	assert_int_equal(reminder_pass(r), 0);
	/* ann changes her password: nothing (fresh); max_age off: nothing */
	assert_int_equal(store_set_password(st, "ann@example.test", "h3", now, false, 3), 0);
	assert_int_equal(reminder_pass(r), 0);
	reminder_free(r);
	conf_unref(cf);
	cf = conf_with("auth { max_age 30d }\nnotices { password_expiry no }\n");
	assert_int_equal(store_add(st, "hal@example.test", "h", now - 25 * DAY), 0);
	r = reminder_new(base, cf, st, NULL, record, NULL);
	assert_int_equal(reminder_pass(r), 0);
	reminder_free(r);
	conf_unref(cf);
	store_close(st);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage),
		cmocka_unit_test(test_due),
		cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
