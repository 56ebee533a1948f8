/* SPDX-License-Identifier: ISC */
/*
 * test_dnsbl - the DNSBL/DNSWL building block (src/guard/dnsbl.c): the
 * `dnsbl ZONE WEIGHT [CODES]` parser and its messages, RFC 5782 query
 * names for IPv4, IPv6 and IPv4-mapped addresses, which answers list an
 * address (codes, ranges, 127.0.0.1 and the 127.255.255.x error codes), and
 * the checker's paths that need no DNS server: nothing to ask, a cancel
 * before the loop runs, a cancel from the result callback. The queries
 * themselves are tested against knot by tests/integration/test_dnsbl_probe.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <sys/un.h>

#include "conf/conf.h"
#include "dns/dns.h"
#include "guard/dnsbl.h"
#include "lib/util.h"

/* A name of total length len made of 9-byte labels: "aaaaaaaaa.bbb...". */
static void
long_zone(char *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = i % 10 == 9 ? '.' : (char)('a' + (int)(i / 10 % 26));
	if (out[len - 1] == '.')
		out[len - 1] = 'z';
	out[len] = '\0';
}

static void
test_parse_ok(void **state)
{
	static const struct {
		const char *zone, *weight, *codes;
		const char *want_zone;
		int want_weight;
		size_t ncodes;
		uint32_t lo0, hi0, lo_last, hi_last;
	} rows[] = {
		{"zen.spamhaus.org", "3", NULL, "zen.spamhaus.org", 3, 0, 0, 0, 0, 0},
		{"BL.Example.ORG.", "-5", NULL, "bl.example.org", -5, 0, 0, 0, 0, 0},
		{"list.dnswl.org", "-100", "127.0.0.0-127.0.255.255", "list.dnswl.org", -100, 1,
		 0x7f000000, 0x7f00ffff, 0x7f000000, 0x7f00ffff},
		{"bl.test", "+100", "127.0.0.2,127.0.0.4-127.0.0.11", "bl.test", 100, 2, 0x7f000002,
		 0x7f000002, 0x7f000004, 0x7f00000b},
		{"a-b.c0.test", "1", "127.0.0.1", "a-b.c0.test", 1, 1, 0x7f000001, 0x7f000001,
		 0x7f000001, 0x7f000001},
		{"0.9.test", "-1", "127.0.0.2-127.0.0.2", "0.9.test", -1, 1, 0x7f000002, 0x7f000002,
		 0x7f000002, 0x7f000002},
		{"bl.test", "007", "127.255.255.255", "bl.test", 7, 1, 0x7fffffff, 0x7fffffff,
		 0x7fffffff, 0x7fffffff},
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		struct dnsbl_list l;
		char err[512] = "";

		if (dnsbl_parse(rows[i].zone, rows[i].weight, rows[i].codes, &l, err,
				sizeof(err)) != 0)
			fail_msg("row %zu refused: %s", i, err);
		assert_string_equal(l.zone, rows[i].want_zone);
		assert_int_equal(l.weight, rows[i].want_weight);
		assert_int_equal(l.ncodes, rows[i].ncodes);
		if (l.ncodes > 0) {
			assert_int_equal(l.codes[0].lo, rows[i].lo0);
			assert_int_equal(l.codes[0].hi, rows[i].hi0);
			assert_int_equal(l.codes[l.ncodes - 1].lo, rows[i].lo_last);
			assert_int_equal(l.codes[l.ncodes - 1].hi, rows[i].hi_last);
		}
	}
}

static void
test_parse_refused(void **state)
{
	static const char *const zone_msg = "is not a DNS name";
	static const char *const weight_msg =
		"dnsbl: weight must be an integer from -100 to 100";
	static const struct {
		const char *zone, *weight, *codes;
		const char *msg; /* a part of the message */
	} rows[] = {
		{"", "1", NULL, "dnsbl: the zone is empty"},
		{".", "1", NULL, "dnsbl: the zone is empty"},
		{"bl", "1", NULL, "dnsbl: zone 'bl' needs at least one dot"},
		{"bl.", "1", NULL, "needs at least one dot"},
		{"-bl.test", "1", NULL, zone_msg},
		{"bl-.test", "1", NULL, zone_msg},
		{"bl.-test", "1", NULL, zone_msg},
		{"bl..test", "1", NULL, zone_msg},
		{".bl.test", "1", NULL, zone_msg},
		{"bl.test..", "1", NULL, zone_msg},
		{"b_l.test", "1", NULL, zone_msg},
		{"bl test.org", "1", NULL, zone_msg},
		{"bl.t\xc3\xa9st", "1", NULL, "dnsbl: zone 'bl.t\\xc3\\xa9st' is not"},
		{"bl.test\n", "1", NULL, "zone 'bl.test\\x0a'"},
		{"bl.test", "0", NULL, "dnsbl: weight must not be 0"},
		{"bl.test", "-0", NULL, "dnsbl: weight must not be 0"},
		{"bl.test", "101", NULL, weight_msg},
		{"bl.test", "-101", NULL, weight_msg},
		{"bl.test", "", NULL, weight_msg},
		{"bl.test", "-", NULL, weight_msg},
		{"bl.test", "--1", NULL, weight_msg},
		{"bl.test", "+-1", NULL, weight_msg},
		{"bl.test", "1.5", NULL, weight_msg},
		{"bl.test", " 1", NULL, weight_msg},
		{"bl.test", "1 ", NULL, weight_msg},
		{"bl.test", "0x10", NULL, weight_msg},
		{"bl.test", "99999999999999999999999", NULL, weight_msg},
		{"bl.test", "1", "", "dnsbl: code '' is not an IPv4 address or a range like "
				     "127.0.0.2-127.0.0.11"},
		{"bl.test", "1", ",", "code ''"},
		{"bl.test", "1", "127.0.0.2,", "code ''"},
		{"bl.test", "1", "127.0.0.2,,127.0.0.3", "code ''"},
		{"bl.test", "1", "127.0.0.2 ", "code '127.0.0.2 ' is not"},
		{"bl.test", "1", "127.0.0", "is not an IPv4 address"},
		{"bl.test", "1", "127.0.0.256", "is not an IPv4 address"},
		{"bl.test", "1", "127.0.0.02", "is not an IPv4 address"},
		{"bl.test", "1", "::1", "is not an IPv4 address"},
		{"bl.test", "1", "127.0.0.2-", "is not an IPv4 address"},
		{"bl.test", "1", "-127.0.0.2", "is not an IPv4 address"},
		{"bl.test", "1", "127.0.0.2-127.0.0.3-127.0.0.4", "is not an IPv4 address"},
		{"bl.test", "1", "127.0.0.2-127.0.0.3333333333333333333", "is not an IPv4"},
		{"bl.test", "1", "1.2.3.4", "dnsbl: code '1.2.3.4' is outside 127.0.0.0/8"},
		{"bl.test", "1", "127.0.0.2-128.0.0.1", "is outside 127.0.0.0/8"},
		{"bl.test", "1", "126.255.255.255-127.0.0.1", "is outside 127.0.0.0/8"},
		{"bl.test", "1", "127.0.0.9-127.0.0.2",
		 "dnsbl: range '127.0.0.9-127.0.0.2' ends before it starts"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		struct dnsbl_list l;
		char err[512] = "";

		if (dnsbl_parse(rows[i].zone, rows[i].weight, rows[i].codes, &l, err,
				sizeof(err)) != -1)
			fail_msg("row %zu accepted", i);
		if (strstr(err, rows[i].msg) == NULL)
			fail_msg("row %zu: message \"%s\" lacks \"%s\"", i, err, rows[i].msg);
	}
}

static void
test_parse_limits(void **state)
{
	char zone[300], codes[400], err[512];
	struct dnsbl_list l;
	size_t i, o = 0;

	(void)state;
	/* 63-byte labels, no more */
	memset(zone, 'a', 63);
	snprintf(zone + 63, sizeof(zone) - 63, ".test");
	assert_int_equal(dnsbl_parse(zone, "1", NULL, &l, err, sizeof(err)), 0);
	memset(zone, 'a', 64);
	snprintf(zone + 64, sizeof(zone) - 64, ".test");
	assert_int_equal(dnsbl_parse(zone, "1", NULL, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not a DNS name"));
	/* a zone leaves room for a reversed IPv6 address */
	long_zone(zone, DNSBL_ZONE_MAX);
	assert_int_equal(dnsbl_parse(zone, "1", NULL, &l, err, sizeof(err)), 0);
	assert_string_equal(l.zone, zone);
	zone[DNSBL_ZONE_MAX] = '.'; /* one final dot is allowed */
	zone[DNSBL_ZONE_MAX + 1] = '\0';
	assert_int_equal(dnsbl_parse(zone, "1", NULL, &l, err, sizeof(err)), 0);
	long_zone(zone, DNSBL_ZONE_MAX + 1);
	assert_int_equal(dnsbl_parse(zone, "1", NULL, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is longer than 189 characters"));
	long_zone(zone, 260);
	assert_int_equal(dnsbl_parse(zone, "1", NULL, &l, err, sizeof(err)), -1);
	/* at most DNSBL_MAX_CODES codes */
	for (i = 0; i < DNSBL_MAX_CODES; i++)
		o += (size_t)snprintf(codes + o, sizeof(codes) - o, "%s127.0.0.%zu",
				      i ? "," : "", i + 2);
	assert_int_equal(dnsbl_parse("bl.test", "1", codes, &l, err, sizeof(err)), 0);
	assert_int_equal(l.ncodes, DNSBL_MAX_CODES);
	assert_int_equal(l.codes[DNSBL_MAX_CODES - 1].lo, 0x7f000000 + DNSBL_MAX_CODES + 1);
	snprintf(codes + o, sizeof(codes) - o, ",127.0.0.99");
	assert_int_equal(dnsbl_parse("bl.test", "1", codes, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "dnsbl: at most 16 codes per list");
	/* a short error buffer truncates, never overflows */
	assert_int_equal(dnsbl_parse("bl.test", "0", NULL, &l, err, 8), -1);
	assert_string_equal(err, "dnsbl: ");
}

static void
set4(struct sockaddr_storage *ss, const char *ip)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr), 1);
	ss->ss_family = AF_INET6;
}

static void
test_query_names(void **state)
{
	static const struct {
		const char *ip, *zone, *name;
	} rows[] = {
		{"1.2.3.4", "bl.test", "4.3.2.1.bl.test"},
		{"192.0.2.99", "bad.example.com", "99.2.0.192.bad.example.com"},
		{"127.0.0.2", "zen.spamhaus.org", "2.0.0.127.zen.spamhaus.org"},
		{"0.0.0.0", "bl.test", "0.0.0.0.bl.test"},
		{"255.255.255.255", "bl.test", "255.255.255.255.bl.test"},
		/* RFC 5782 2.4 */
		{"2001:db8:1:2:3:4:567:89ab", "ugly.example.com",
		 "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"},
		{"2001:DB8::1", "bl.test",
		 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test"},
		{"::1", "bl.test",
		 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "bl.test",
		 "e.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.bl.test"},
		/* IPv4-mapped: the IPv4 client of a dual-stack socket */
		{"::ffff:192.0.2.99", "bl.test", "99.2.0.192.bl.test"},
		{"::ffff:127.0.0.2", "bl.test", "2.0.0.127.bl.test"},
		/* IPv4-compatible (deprecated) is not mapped: asked as IPv6 */
		{"::192.0.2.99", "bl.test",
		 "3.6.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test"},
	};
	struct sockaddr_storage ss;
	char out[DNSBL_QNAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		set4(&ss, rows[i].ip);
		if (dnsbl_query_name((struct sockaddr *)&ss, rows[i].zone, out, sizeof(out)) != 0)
			fail_msg("row %zu refused", i);
		assert_string_equal(out, rows[i].name);
	}
}

static void
test_query_name_limits(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	char out[400], zone[260];

	(void)state;
	set4(&ss, "1.2.3.4");
	/* the buffer must hold the name and its NUL */
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, "bl.test", out, 16), 0);
	assert_string_equal(out, "4.3.2.1.bl.test");
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, "bl.test", out, 15), -1);
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, "", out, sizeof(out)), -1);
	/* 253 bytes at most: the longest zone fits behind any address */
	long_zone(zone, DNSBL_ZONE_MAX);
	set4(&ss, "2001:db8::1");
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, zone, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), DNSBL_QNAME_MAX);
	long_zone(zone, DNSBL_ZONE_MAX + 1);
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, zone, out, sizeof(out)), -1);
	set4(&ss, "255.255.255.255");
	long_zone(zone, 253 - 16);
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, zone, out, sizeof(out)), 0);
	long_zone(zone, 253 - 15);
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, zone, out, sizeof(out)), -1);
	long_zone(zone, 259);
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, zone, out, sizeof(out)), -1);
	/* not an IP client */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&sun, "bl.test", out, sizeof(out)),
			 -1);
}

#define MAX_ANSWERS 4

static void
test_listed(void **state)
{
	static const struct {
		const char *codes; /* NULL: none */
		const char *answers[MAX_ANSWERS];
		bool listed;
	} rows[] = {
		/* no codes: any 127/8 answer but the test and error codes */
		{NULL, {"127.0.0.2"}, true},
		{NULL, {"127.0.0.4"}, true},
		{NULL, {"127.1.2.3"}, true},
		{NULL, {"127.255.254.255"}, true},
		{NULL, {NULL}, false},
		{NULL, {"127.0.0.1"}, false},
		{NULL, {"127.255.255.254"}, false},
		{NULL, {"127.255.255.252"}, false},
		{NULL, {"127.255.255.0"}, false},
		{NULL, {"10.0.0.2"}, false},
		{NULL, {"126.255.255.255"}, false},
		{NULL, {"128.0.0.2"}, false},
		{NULL, {"0.0.0.0"}, false},
		{NULL, {"1.2.3.4", "127.0.0.1", "127.255.255.255"}, false},
		{NULL, {"1.2.3.4", "127.0.0.1", "127.0.0.3"}, true},
		/* codes and ranges */
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.2"}, true},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.3"}, false},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.4"}, true},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.7"}, true},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.11"}, true},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.12"}, false},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.1"}, false},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.0.3", "127.0.0.10"}, true},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {"127.0.1.2"}, false},
		{"127.0.0.2,127.0.0.4-127.0.0.11", {NULL}, false},
		/* 127.0.0.1 and the error codes only where the codes say so */
		{"127.0.0.1", {"127.0.0.1"}, true},
		{"127.0.0.0-127.0.0.3", {"127.0.0.1"}, true},
		{"127.255.255.254", {"127.255.255.254"}, true},
		{"127.0.0.0-127.255.255.255", {"127.255.255.255"}, true},
		/* answers outside 127/8 never match */
		{"127.0.0.2", {"10.0.0.2"}, false},
		{"127.0.0.0-127.255.255.255", {"128.0.0.0", "126.255.255.255"}, false},
		/* DNSWL-style codes (list.dnswl.org answers 127.0.x.y) */
		{"127.0.0.0-127.0.255.255", {"127.0.15.3"}, true},
		{"127.0.0.0-127.0.255.255", {"127.1.0.0"}, false},
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		struct in_addr a[MAX_ANSWERS];
		struct dnsbl_list l;
		char err[256];

		if (dnsbl_parse("bl.test", "1", rows[i].codes, &l, err, sizeof(err)) != 0)
			fail_msg("row %zu: %s", i, err);
		for (n = 0; n < MAX_ANSWERS && rows[i].answers[n] != NULL; n++)
			assert_int_equal(inet_pton(AF_INET, rows[i].answers[n], &a[n]), 1);
		if (dnsbl_listed(&l, a, n) != rows[i].listed)
			fail_msg("row %zu: want %s", i, rows[i].listed ? "listed" : "not listed");
	}
}

/* The checker without a server: a resolver nobody asks. */

struct result {
	int calls, score;
	char listed[512];
	struct dnsbl_check *self; /* cancelled from the callback when set */
};

static void
on_result(void *arg, int score, const char *listed_on)
{
	struct result *r = arg;

	r->calls++;
	r->score = score;
	snprintf(r->listed, sizeof(r->listed), "%s", listed_on);
	dnsbl_check_cancel(r->self);
}

struct loop {
	struct event_base *base;
	struct dns *dns;
	char resolvers[1][NET_ADDRSTRLEN + 8];
	struct conf cf;
};

static int
loop_setup(void **state)
{
	struct loop *lp = xcalloc(1, sizeof(*lp));
	char err[256];

	lp->base = event_base_new();
	snprintf(lp->resolvers[0], sizeof(lp->resolvers[0]), "127.0.0.1@9");
	lp->cf.resolvers = lp->resolvers;
	lp->cf.nresolvers = 1;
	lp->dns = dns_new(lp->base, &lp->cf, err, sizeof(err));
	if (lp->dns == NULL)
		fail_msg("dns_new: %s", err);
	*state = lp;
	return 0;
}

static int
loop_teardown(void **state)
{
	struct loop *lp = *state;

	dns_free(lp->dns);
	event_base_free(lp->base);
	free(lp);
	return 0;
}

static void
test_check_nothing_to_ask(void **state)
{
	struct loop *lp = *state;
	struct dnsbl_list l[2];
	struct sockaddr_un sun;
	struct result r = {0};
	char err[256];

	assert_int_equal(dnsbl_parse("bl.test", "5", NULL, &l[0], err, sizeof(err)), 0);
	assert_int_equal(dnsbl_parse("wl.test", "-5", NULL, &l[1], err, sizeof(err)), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* a local client: no list can be asked; the result still comes
	 * from the loop, never from inside dnsbl_check_start */
	assert_non_null(dnsbl_check_start(lp->dns, l, 2, (struct sockaddr *)&sun, on_result, &r));
	assert_int_equal(r.calls, 0);
	event_base_loop(lp->base, EVLOOP_NONBLOCK);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.score, 0);
	assert_string_equal(r.listed, "");
	/* no lists at all */
	memset(&r, 0, sizeof(r));
	assert_non_null(dnsbl_check_start(lp->dns, l, 0, (struct sockaddr *)&sun, on_result, &r));
	assert_int_equal(r.calls, 0);
	event_base_loop(lp->base, EVLOOP_NONBLOCK);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.score, 0);
}

static void
test_check_cancel(void **state)
{
	struct loop *lp = *state;
	struct dnsbl_list l;
	struct sockaddr_un sun;
	struct result r = {0};
	char err[256];

	assert_int_equal(dnsbl_parse("bl.test", "5", NULL, &l, err, sizeof(err)), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* cancelled before the loop runs: never called, freed (ASan) */
	dnsbl_check_cancel(dnsbl_check_start(lp->dns, &l, 1, (struct sockaddr *)&sun, on_result,
					     &r));
	event_base_loop(lp->base, EVLOOP_NONBLOCK);
	assert_int_equal(r.calls, 0);
	/* a cancel from the callback is harmless */
	r.self = dnsbl_check_start(lp->dns, &l, 1, (struct sockaddr *)&sun, on_result, &r);
	event_base_loop(lp->base, EVLOOP_NONBLOCK);
	assert_int_equal(r.calls, 1);
	dnsbl_check_cancel(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_query_names),
		cmocka_unit_test(test_query_name_limits),
		cmocka_unit_test(test_listed),
		cmocka_unit_test_setup_teardown(test_check_nothing_to_ask, loop_setup,
						loop_teardown),
		cmocka_unit_test_setup_teardown(test_check_cancel, loop_setup, loop_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
