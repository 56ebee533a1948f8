/* SPDX-License-Identifier: ISC */
/*
 * test_spf - the check_host() state machine (src/mailauth/spf.c) with a
 * resolver that answers later, as libunbound does: queries are queued and
 * answered one by one from a loop outside the evaluator. Checked: the same
 * results as a synchronous resolver, one query in flight at a time, the
 * lookup limit, HELO identity, and freeing a check with a query in flight
 * (the answer then releases it and the result callback never runs).
 * The OpenSPF suites (test_spf_suite) cover the RFC semantics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "lib/util.h"
#include "mailauth/spf.h"

struct zentry {
	const char *name;
	int type;
	const char *value;
};

static const struct zentry zone[] = {
	{"example.com", SPF_RR_TXT, "v=spf1 mx include:inc.example.com -all exp=why.example.com"},
	{"why.example.com", SPF_RR_TXT, "%{i} may not send for %{d}"},
	{"example.com", SPF_RR_MX, "mx.example.com"},
	{"mx.example.com", SPF_RR_A, "192.0.2.1"},
	{"inc.example.com", SPF_RR_TXT, "v=spf1 ip6:2001:db8::/32 a:host.example.com ?all"},
	{"host.example.com", SPF_RR_A, "192.0.2.7"},
	{"loop.example.com", SPF_RR_TXT, "v=spf1 include:loop.example.com -all"},
	{"helo.example.net", SPF_RR_TXT, "v=spf1 ip4:198.51.100.0/24 -all"},
};

/* The pending query of the deferred resolver (one at a time). */
struct pending {
	int type;
	char name[300];
	spf_answer_cb cb;
	void *cbarg;
	bool busy;
	int queries;
};

static void
answer_now(int type, const char *name, spf_answer_cb cb, void *cbarg)
{
	struct spf_rr rr[8];
	size_t i, n = 0;
	bool exists = false;

	for (i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcasecmp(zone[i].name, name) != 0)
			continue;
		exists = true;
		if (zone[i].type != type)
			continue;
		memset(&rr[n], 0, sizeof(rr[n]));
		if (type == SPF_RR_A)
			assert_int_equal(inet_pton(AF_INET, zone[i].value, rr[n].addr), 1);
		rr[n].text = zone[i].value;
		rr[n].len = strlen(zone[i].value);
		n++;
	}
	cb(cbarg, n > 0 ? SPF_DNS_OK : exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN, rr, n);
}

static void
sync_query(void *ctx, int type, const char *name, spf_answer_cb cb, void *cbarg)
{
	(void)ctx;
	answer_now(type, name, cb, cbarg);
}

static void
deferred_query(void *ctx, int type, const char *name, spf_answer_cb cb, void *cbarg)
{
	struct pending *p = ctx;

	assert_false(p->busy); /* one query in flight */
	p->busy = true;
	p->type = type;
	str_copy(p->name, name, sizeof(p->name));
	p->cb = cb;
	p->cbarg = cbarg;
	p->queries++;
}

/* drain - the "event loop": answer until nothing is pending. */
static void
drain(struct pending *p)
{
	while (p->busy) {
		p->busy = false;
		answer_now(p->type, p->name, p->cb, p->cbarg);
	}
}

struct outcome {
	int calls;
	enum spf_result r;
	char exp[200];
};

static void
done(void *arg, enum spf_result r, const char *exp)
{
	struct outcome *o = arg;

	o->calls++;
	o->r = r;
	str_copy(o->exp, exp != NULL ? exp : "", sizeof(o->exp));
}

static const struct {
	const char *ip, *from, *helo;
	enum spf_result want;
	const char *exp;
} cases[] = {
	{"192.0.2.1", "a@example.com", "x.example.org", SPF_PASS, ""},
	{"192.0.2.7", "a@example.com", "x.example.org", SPF_PASS, ""},
	{"2001:db8::5", "a@example.com", "x.example.org", SPF_PASS, ""},
	{"::ffff:192.0.2.1", "a@example.com", "x.example.org", SPF_PASS, ""},
	{"192.0.2.99", "a@example.com", "x.example.org", SPF_FAIL,
	 "192.0.2.99 may not send for example.com"},
	{"192.0.2.99", "a@loop.example.com", "x.example.org", SPF_PERMERROR, ""},
	{"192.0.2.99", "a@nothere.example.com", "x.example.org", SPF_NONE, ""},
	{"198.51.100.3", "", "helo.example.net", SPF_PASS, ""},
	{"192.0.2.1", NULL, "helo.example.net", SPF_FAIL,
	 "192.0.2.1 is not one of helo.example.net's designated mail servers."},
};

static void
test_sync_and_deferred(void **state)
{
	struct spf_resolver sync = {sync_query, NULL};
	struct pending pend = {0};
	struct spf_resolver deferred = {deferred_query, &pend};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spf_params p = {.ip = cases[i].ip, .mailfrom = cases[i].from,
				       .helo = cases[i].helo};
		struct outcome a = {0}, b = {0};
		struct spf_check *c1 = spf_check_new(&sync, &p, done, &a);
		struct spf_check *c2 = spf_check_new(&deferred, &p, done, &b);

		assert_non_null(c1);
		assert_non_null(c2);
		spf_check_start(c1);
		assert_int_equal(a.calls, 1);
		spf_check_start(c2);
		drain(&pend);
		assert_int_equal(b.calls, 1);
		if (a.r != cases[i].want || b.r != a.r)
			fail_msg("case %zu: %s / %s, want %s", i, spf_result_str(a.r),
				 spf_result_str(b.r), spf_result_str(cases[i].want));
		assert_string_equal(a.exp, cases[i].exp);
		assert_string_equal(b.exp, cases[i].exp);
		spf_check_free(c1);
		spf_check_free(c2);
	}
}

static void
test_free_in_flight(void **state)
{
	struct pending pend = {0};
	struct spf_resolver deferred = {deferred_query, &pend};
	struct spf_params p = {.ip = "192.0.2.99", .mailfrom = "a@example.com", .helo = "h.example"};
	struct outcome o = {0};
	struct spf_check *c = spf_check_new(&deferred, &p, done, &o);

	(void)state;
	spf_check_start(c);
	assert_true(pend.busy);
	spf_check_free(c); /* released by the answer (ASan checks) */
	drain(&pend);
	assert_int_equal(o.calls, 0);
	assert_int_equal(pend.queries, 1);
}

static void
test_bad_ip(void **state)
{
	struct spf_resolver sync = {sync_query, NULL};
	struct spf_params p = {.ip = "192.0.2.300", .mailfrom = "a@example.com", .helo = "h"};

	(void)state;
	assert_null(spf_check_new(&sync, &p, done, NULL));
	spf_check_free(NULL);
	assert_string_equal(spf_result_str(SPF_SOFTFAIL), "softfail");
}

/* A HELO address literal is not a domain: none, and no DNS query (a
 * resolver that cannot answer for it would make it a temperror). */
static void
test_helo_literal(void **state)
{
	static const char *const helos[] = {"[192.0.2.1]", "[IPv6:2001:db8::1]"};
	struct pending pend = {0};
	struct spf_resolver deferred = {deferred_query, &pend};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(helos) / sizeof(helos[0]); i++) {
		struct spf_params p = {.ip = "192.0.2.1", .mailfrom = "", .helo = helos[i]};
		struct outcome o = {0};
		struct spf_check *c = spf_check_new(&deferred, &p, done, &o);

		assert_non_null(c);
		spf_check_start(c);
		assert_int_equal(o.calls, 1);
		assert_int_equal(o.r, SPF_NONE);
		assert_int_equal(pend.queries, 0);
		spf_check_free(c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_and_deferred),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_bad_ip),
		cmocka_unit_test(test_helo_literal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
