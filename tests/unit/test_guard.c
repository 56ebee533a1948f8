/* SPDX-License-Identifier: ISC */
/*
 * test_guard - the guard's building blocks and engine with a fake clock:
 * sliding windows, their estimate and recent sets (src/guard/window.c),
 * ban sets (src/guard/banset.c), and the decisions of src/guard/guard.c: bans at
 * ip_failures, trusted pairs untouched, stale passwords counted once,
 * account locks (known and unknown), network throttles, spraying,
 * stuffing, tarpit delays and ban escalation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "guard/banset.h"
#include "guard/guard.h"
#include "guard/window.h"
#include "lib/net.h"

static void
test_window(void **state)
{
	struct window w = {0};

	(void)state;
	/* span 60: buckets [960, 1020), [1020, 1080), ... */
	assert_int_equal(window_add(&w, 960, 60, 1), 1);
	assert_int_equal(window_add(&w, 961, 60, 1), 2);
	assert_int_equal(window_add(&w, 1019, 60, 3), 5);
	assert_int_equal(window_count(&w, 1020, 60), 5);  /* all of the previous bucket */
	assert_int_equal(window_count(&w, 1050, 60), 3);  /* half of 5, rounded up */
	assert_int_equal(window_count(&w, 1080, 60), 0);  /* two buckets on */
	assert_int_equal(window_add(&w, 1050, 60, 2), 5); /* 3 + 2 */
	assert_true(window_idle(&w, 1140, 60));
	assert_false(window_idle(&w, 1139, 60));
}

static void
test_window_decays(void **state)
{
	struct window w = {0};

	(void)state;
	window_add(&w, 600, 600, 10); /* bucket [600, 1200) */
	assert_int_equal(window_count(&w, 1199, 600), 10);
	/* halfway into the next bucket, half of the previous one counts */
	assert_int_equal(window_count(&w, 1500, 600), 5);
	assert_int_equal(window_count(&w, 1800, 600), 0);
}

static void
test_window_estimate(void **state)
{
	(void)state;
	/* the formula both backends use (the Redis one reads the buckets) */
	assert_int_equal(window_estimate(5, 0, 0, 60), 5);
	assert_int_equal(window_estimate(5, 0, 30, 60), 3); /* 2.5 rounded up */
	assert_int_equal(window_estimate(5, 2, 59, 60), 3); /* 5/60 rounded up, + 2 */
	assert_int_equal(window_estimate(5, 2, 60, 60), 2); /* out of the window */
	assert_int_equal(window_estimate(5, 2, 0, 0), 2);   /* no span, no previous */
	assert_int_equal(window_estimate(UINT32_MAX, UINT32_MAX, 0, 60), UINT32_MAX);
}

static void
test_recent(void **state)
{
	struct recent r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(recent_add(&r, 11, 100, 60, 3), 1);
	assert_int_equal(recent_add(&r, 11, 101, 60, 3), 1); /* the same member */
	assert_int_equal(recent_add(&r, 12, 102, 60, 3), 2);
	assert_int_equal(recent_add(&r, 13, 103, 60, 3), 3);
	assert_int_equal(recent_add(&r, 14, 104, 60, 3), 3); /* capped */
	assert_true(recent_has(&r, 14, 105, 60));
	assert_int_equal(recent_add(&r, 15, 200, 60, 3), 1); /* the rest expired */
	assert_false(recent_has(&r, 12, 200, 60));
}

static struct sockaddr_storage
addr(const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(net_parse_ip(ip, &ss, &len), 0);
	return ss;
}

static void
test_banset(void **state)
{
	struct banset *b = banset_new();
	struct sockaddr_storage ss;
	struct cidr c;

	(void)state;
	assert_int_equal(net_parse_cidr("192.0.2.7", &c), 0);
	banset_put(b, &c, 2000);
	assert_int_equal(net_parse_cidr("198.51.100.0/24", &c), 0);
	banset_put(b, &c, 3000);
	assert_int_equal(net_parse_cidr("2001:db8:1::/48", &c), 0);
	banset_put(b, &c, 4000);
	ss = addr("192.0.2.7");
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 1000), 2000);
	ss = addr("192.0.2.8");
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 1000), 0);
	ss = addr("198.51.100.200");
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 1000), 3000);
	ss = addr("::ffff:198.51.100.1"); /* IPv4-mapped counts as IPv4 */
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 1000), 3000);
	ss = addr("2001:db8:1:ffff::1");
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 1000), 4000);
	ss = addr("2001:db8:2::1");
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 1000), 0);
	/* over: dropped when found */
	ss = addr("192.0.2.7");
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 2000), 0);
	assert_int_equal(banset_count(b), 2);
	assert_int_equal(net_parse_cidr("198.51.100.0/24", &c), 0);
	assert_true(banset_del(b, &c));
	assert_false(banset_del(b, &c));
	ss = addr("198.51.100.200");
	assert_int_equal(banset_match(b, (struct sockaddr *)&ss, 1000), 0);
	banset_free(b);
}

/* The engine, with its events recorded. */

struct seen {
	int bans, locks, throttles, sprays, stuffings;
	char last_reason[64];
	char last_ip[64];
};

static void
record(void *arg, const struct guard_alert *a)
{
	struct seen *s = arg;

	switch (a->kind) {
	case GUARD_EV_BAN:
		s->bans++;
		snprintf(s->last_reason, sizeof(s->last_reason), "%s", a->reason);
		snprintf(s->last_ip, sizeof(s->last_ip), "%s", a->ip);
		break;
	case GUARD_EV_LOCK:
		s->locks++;
		break;
	case GUARD_EV_THROTTLE:
		s->throttles++;
		break;
	case GUARD_EV_SPRAY:
		s->sprays++;
		break;
	case GUARD_EV_STUFFING:
		s->stuffings++;
		break;
	}
}

static struct conf cf;

static struct guard *
engine(struct seen *seen)
{
	char err[256];
	static const char text[] = "state_dir /tmp/x\nlisten 127.0.0.1:25 { role mx }\n";

	memset(seen, 0, sizeof(*seen));
	conf_free(&cf);
	assert_int_equal(conf_parse("t.conf", text, sizeof(text) - 1, &cf, err, sizeof(err)), 0);
	cf.guard.tarpit = 1;
	cf.guard.tarpit_max = 8;
	return guard_new(&cf.guard, guard_backend_memory(), record, seen);
}

static struct guard_attempt
att(const char *ip, const char *account, bool trusted, uint64_t tag)
{
	struct guard_attempt a = {ip, account, true, trusted, tag, 0};

	return a;
}

static void
test_ban_after_five(void **state)
{
	struct seen seen;
	struct guard *g = engine(&seen);
	struct guard_attempt a;
	const char *why;
	uint32_t delay, d[5];
	bool rep;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		a = att("192.0.2.1", "alice", false, 100 + (uint64_t)i);
		assert_int_equal(guard_before(g, &a, 1000, &why, &delay), GUARD_OPEN);
		d[i] = guard_failed(g, &a, 1000 + (uint64_t)i, &rep);
		assert_false(rep);
	}
	/* the tarpit doubles: 1, 2, 4, 8, 8 seconds */
	assert_int_equal(d[0], 1000);
	assert_int_equal(d[1], 2000);
	assert_int_equal(d[2], 4000);
	assert_int_equal(d[3], 8000);
	assert_int_equal(d[4], 8000);
	assert_int_equal(seen.bans, 1);
	assert_string_equal(seen.last_reason, "auth-failures");
	assert_string_equal(seen.last_ip, "192.0.2.1");
	/* the address is throttled now, the trusted pair is not */
	a = att("192.0.2.1", "bob", false, 1);
	assert_int_equal(guard_before(g, &a, 1010, &why, &delay), GUARD_THROTTLED);
	assert_string_equal(why, "address-throttled");
	a = att("192.0.2.1", "alice", true, 1);
	assert_int_equal(guard_before(g, &a, 1010, &why, &delay), GUARD_OPEN);
	/* the window passes */
	a = att("192.0.2.1", "bob", false, 1);
	assert_int_equal(guard_before(g, &a, 1000 + 2 * 600 + 1, &why, &delay), GUARD_OPEN);
	guard_free(g);
}

static void
test_stale_password(void **state)
{
	struct seen seen;
	struct guard *g = engine(&seen);
	struct guard_attempt a = att("192.0.2.2", "bob", false, 42);
	const char *why;
	uint32_t delay;
	bool rep;
	int i;

	(void)state;
	assert_int_equal(guard_failed(g, &a, 1000, &rep), 1000);
	assert_false(rep);
	for (i = 0; i < 20; i++) {
		guard_failed(g, &a, 1001 + (uint64_t)i, &rep);
		assert_true(rep);
	}
	assert_int_equal(seen.bans, 0);
	assert_int_equal(guard_before(g, &a, 1030, &why, &delay), GUARD_OPEN);
	/* SCRAM (no tag) always counts */
	a.pwtag = 0;
	for (i = 0; i < 4; i++)
		guard_failed(g, &a, 1040, &rep);
	assert_int_equal(seen.bans, 1);
	guard_free(g);
}

static void
test_account_lock(void **state)
{
	struct seen seen;
	struct guard *g = engine(&seen);
	struct guard_attempt a;
	char ip[32];
	const char *why;
	uint32_t delay;
	bool rep;
	int i;

	(void)state;
	cf.guard.account_failures = 10;
	guard_set_conf(g, &cf.guard);
	/* ten addresses in ten networks, one guess each */
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.%d.0.1", i);
		a = att(ip, "carol", false, 1 + (uint64_t)i);
		guard_failed(g, &a, 1000, &rep);
	}
	assert_int_equal(seen.locks, 1);
	assert_int_equal(seen.bans, 0);
	/* a known account's lock is the caller's (stored); an unknown one's
	 * is the engine's */
	a = att("10.99.0.1", "carol", false, 1);
	a.lock_until = 5000;
	assert_int_equal(guard_before(g, &a, 1001, &why, &delay), GUARD_LOCKED);
	a.trusted = true;
	assert_int_equal(guard_before(g, &a, 1001, &why, &delay), GUARD_OPEN);
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.%d.0.2", 20 + i);
		a = att(ip, "nobody", false, 1 + (uint64_t)i);
		a.exists = false;
		guard_failed(g, &a, 1000, &rep);
	}
	assert_int_equal(seen.locks, 2);
	a = att("10.99.0.2", "NOBODY", false, 1); /* names are case-insensitive */
	a.exists = false;
	assert_int_equal(guard_before(g, &a, 1001, &why, &delay), GUARD_LOCKED);
	assert_string_equal(why, "account-locked");
	/* a success from a trusted pair does not start the count again (the
	 * next failure locks again); one from a new source does */
	a = att("10.99.0.3", "carol", true, 1);
	guard_succeeded(g, &a, 1002);
	a = att("10.98.0.1", "carol", false, 77);
	guard_failed(g, &a, 1003, &rep);
	assert_int_equal(seen.locks, 3);
	a = att("10.97.0.1", "carol", false, 1);
	guard_succeeded(g, &a, 1004);
	a = att("10.96.0.1", "carol", false, 78);
	guard_failed(g, &a, 1005, &rep);
	assert_int_equal(seen.locks, 3);
	guard_free(g);
}

static void
test_network_spray_stuffing(void **state)
{
	struct seen seen;
	struct guard *g = engine(&seen);
	struct guard_attempt a;
	char ip[32], acct[32];
	const char *why;
	uint32_t delay;
	bool rep;
	int i;

	(void)state;
	cf.guard.net_failures = 6;
	cf.guard.stuffing_sources = 5;
	cf.guard.stuffing_accounts = 5;
	guard_set_conf(g, &cf.guard);
	for (i = 0; i < 6; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", 1 + i / 2);
		snprintf(acct, sizeof(acct), "user%d", i);
		a = att(ip, acct, false, 1);
		guard_failed(g, &a, 1000, &rep);
	}
	assert_int_equal(seen.throttles, 1);
	assert_int_equal(seen.bans, 0);
	assert_true(seen.sprays >= 1); /* the /24 failed on six accounts */
	a = att("203.0.113.77", "dave", false, 1);
	assert_int_equal(guard_before(g, &a, 1001, &why, &delay), GUARD_THROTTLED);
	assert_string_equal(why, "network-throttled");
	a.trusted = true;
	assert_int_equal(guard_before(g, &a, 1001, &why, &delay), GUARD_OPEN);
	/* IPv6: the /64 */
	char net[80];
	assert_int_equal(guard_net_of("2001:db8:1:2:3::4", net, sizeof(net)), 0);
	assert_string_equal(net, "2001:db8:1:2::/64");
	assert_int_equal(guard_net_of("::ffff:192.0.2.9", net, sizeof(net)), 0);
	assert_string_equal(net, "192.0.2.0/24");
	/* stuffing: many sources, many accounts */
	for (i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "198.51.%d.1", i);
		snprintf(acct, sizeof(acct), "leak%d", i);
		a = att(ip, acct, false, 1);
		delay = guard_failed(g, &a, 1100, &rep);
	}
	assert_int_equal(seen.stuffings, 1);
	assert_true(guard_stuffing(g, 1101));
	assert_int_equal(delay, 8000); /* tarpit_max while it lasts */
	guard_free(g);
}

static void
test_abuse_and_escalation(void **state)
{
	struct seen seen;
	struct guard *g = engine(&seen);
	const struct conf_guard *c = &cf.guard;

	(void)state;
	guard_abuse(g, "192.0.2.50", 5, 1000);
	assert_int_equal(seen.bans, 0);
	guard_abuse(g, "192.0.2.50", 5, 1001);
	assert_int_equal(seen.bans, 1);
	assert_string_equal(seen.last_reason, "protocol-abuse");
	guard_abuse(g, "192.0.2.50", 5, 1002); /* once a window */
	assert_int_equal(seen.bans, 1);
	assert_int_equal(guard_ban_seconds(c, 0), 600);
	assert_int_equal(guard_ban_seconds(c, 1), 1200);
	assert_int_equal(guard_ban_seconds(c, 3), 4800);
	assert_int_equal(guard_ban_seconds(c, 100), 7 * 86400);
	assert_int_equal(guard_lock_seconds(c, 0), 3600);
	assert_int_equal(guard_lock_seconds(c, 2), 4 * 3600);
	guard_free(g);
	conf_free(&cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_window_decays),
		cmocka_unit_test(test_window_estimate),
		cmocka_unit_test(test_recent),
		cmocka_unit_test(test_banset),
		cmocka_unit_test(test_ban_after_five),
		cmocka_unit_test(test_stale_password),
		cmocka_unit_test(test_account_lock),
		cmocka_unit_test(test_network_spray_stuffing),
		cmocka_unit_test(test_abuse_and_escalation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
