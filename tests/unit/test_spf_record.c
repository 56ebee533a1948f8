/* SPDX-License-Identifier: ISC */
/*
 * test_spf_record - the pure SPF parsers: records (src/mailauth/spf_record.c)
 * and macro strings (src/mailauth/spf_macro.c). Tables of valid and invalid
 * records, the parsed terms, and the expansion examples of RFC 7208 7.4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "mailauth/spf_macro.h"
#include "mailauth/spf_record.h"

static int
parse(const char *s, struct spf_record *r)
{
	char err[128];

	return spf_record_parse(s, strlen(s), r, err, sizeof(err));
}

static void
test_select(void **state)
{
	(void)state;
	assert_true(spf_record_is_spf1("v=spf1", 6));
	assert_true(spf_record_is_spf1("V=SPF1 -all", 11));
	assert_false(spf_record_is_spf1("v=spf10", 7));
	assert_false(spf_record_is_spf1("v=spf1-all", 10));
	assert_false(spf_record_is_spf1(" v=spf1", 7));
	assert_false(spf_record_is_spf1("v=spf", 5));
}

static void
test_valid(void **state)
{
	static const char *const ok[] = {
		"v=spf1",
		"v=spf1 ",
		"v=spf1  -all  ",
		"v=spf1 +all ~all ?all -ALL",
		"v=spf1 a mx ptr a:example.com mx:example.com/24 a/24//64 a//64 mx:foo.example.com//0",
		"v=spf1 ip4:192.0.2.0/24 ip4:1.2.3.4 ip6:2001:db8::/32 ip6:::1 ip4:0.0.0.0/0",
		"v=spf1 include:_spf.example.com exists:%{ir}.%{v}._spf.%{d2} ptr:%{d}",
		"v=spf1 redirect=_spf.example.com",
		"v=spf1 exp=explain.%{d} -all",
		"v=spf1 foo=bar moo.cow-far_out=man:dog/cat -all",
		"v=spf1 unknown= -all",
		"v=spf1 a:foo-bar.1-2",
		"v=spf1 a:example.com. mx:%{d}",
		"v=spf1 a:foo.example.com/32//128",
	};
	struct spf_record *r = malloc(sizeof(*r));
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (parse(ok[i], r) != 0)
			fail_msg("refused: %s", ok[i]);
	}
	free(r);
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
		"v=spf1 -all:foo",
		"v=spf1 al",
		"v=spf1 include",
		"v=spf1 include:",
		"v=spf1 exists",
		"v=spf1 a:museum",
		"v=spf1 a:111.222.33.44",
		"v=spf1 a:example.com:8080",
		"v=spf1 a/33",
		"v=spf1 a//129",
		"v=spf1 a/024",
		"v=spf1 a:foo.com/",
		"v=spf1 ip4:1.2.3.4/33",
		"v=spf1 ip4:1.2.3",
		"v=spf1 ip4:1.2.3.04",
		"v=spf1 ip4:1.2.3.4//32",
		"v=spf1 ip6:1.2.3.4",
		"v=spf1 ip6:::1/129",
		"v=spf1 ip4",
		"v=spf1 redirect=a.example.com redirect=b.example.com",
		"v=spf1 exp=a.example.com exp=b.example.com",
		"v=spf1 redirect=",
		"v=spf1 exp=",
		"v=spf1 =foo",
		"v=spf1 foo=%{x}",
		"v=spf1 a:%{d0}.example.com",
		"v=spf1 exists:%{c}.example.com",
		"v=spf1 a:%{d",
		"v=spf1 a:foo%.example.com",
		"v=spf1 -all\tmx",
		"v=spf1 a:\xc3\xa9.example.com",
		"v=spf1 +-all",
		"v=spf1 ip4:1.2.3.4 ip6",
	};
	struct spf_record *r = malloc(sizeof(*r));
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], r) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	free(r);
}

static void
test_terms(void **state)
{
	struct spf_record *r = malloc(sizeof(*r));
	char d[SPF_RECORD_MAX + 1];
	static const uint8_t net[4] = {192, 0, 2, 0};

	(void)state;
	assert_int_equal(parse("v=spf1 -a:Foo.example.com/24//64 ~mx ip4:192.0.2.0/24 "
			       "?include:x.example.net redirect=r.example.org exp=e.%{d} x=y",
			       r),
			 0);
	assert_int_equal(r->nterms, 4);
	assert_int_equal(r->term[0].mech, SPF_MECH_A);
	assert_int_equal(r->term[0].qual, SPF_QUAL_FAIL);
	assert_int_equal(r->term[0].cidr4, 24);
	assert_int_equal(r->term[0].cidr6, 64);
	spf_span_str(r, r->term[0].domain, d);
	assert_string_equal(d, "Foo.example.com");
	assert_int_equal(r->term[1].mech, SPF_MECH_MX);
	assert_int_equal(r->term[1].qual, SPF_QUAL_SOFTFAIL);
	assert_int_equal(r->term[1].domain.len, 0);
	assert_int_equal(r->term[1].cidr4, 32);
	assert_int_equal(r->term[1].cidr6, 128);
	assert_int_equal(r->term[2].mech, SPF_MECH_IP4);
	assert_int_equal(r->term[2].qual, SPF_QUAL_PASS);
	assert_memory_equal(r->term[2].addr, net, 4);
	assert_int_equal(r->term[2].cidr4, 24);
	assert_int_equal(r->term[3].mech, SPF_MECH_INCLUDE);
	assert_int_equal(r->term[3].qual, SPF_QUAL_NEUTRAL);
	spf_span_str(r, r->redirect, d);
	assert_string_equal(d, "r.example.org");
	spf_span_str(r, r->exp, d);
	assert_string_equal(d, "e.%{d}");
	free(r);
}

static void
test_too_many(void **state)
{
	struct spf_record *r = malloc(sizeof(*r));
	struct buf b = BUF_INIT;
	int i;

	(void)state;
	buf_adds(&b, "v=spf1");
	for (i = 0; i < SPF_MAX_TERMS; i++)
		buf_adds(&b, " a");
	assert_int_equal(parse(buf_cstr(&b), r), 0);
	buf_adds(&b, " a");
	assert_int_equal(parse(buf_cstr(&b), r), -1);
	buf_reset(&b);
	buf_adds(&b, "v=spf1 ");
	for (i = 0; i < SPF_RECORD_MAX; i++)
		buf_addc(&b, ' ');
	assert_int_equal(parse(buf_cstr(&b), r), -1);
	buf_free(&b);
	free(r);
}

static const struct spf_macro_ctx ctx4 = {
	.sender = "strong-bad@email.example.com",
	.local = "strong-bad",
	.sender_dom = "email.example.com",
	.domain = "email.example.com",
	.ip = "192.0.2.3",
	.validated = "mx.example.org",
	.version = "in-addr",
	.helo = "mx.example.org",
	.client_ip = "192.0.2.3",
	.receiver = "rcv.example.net",
	.timestamp = "1234567890",
};

static void
expect(const struct spf_macro_ctx *c, const char *in, int flags, const char *want)
{
	struct buf b = BUF_INIT;

	if (spf_macro_expand(in, strlen(in), flags, c, &b) != 0)
		fail_msg("refused: %s", in);
	if (strcmp(buf_cstr(&b), want) != 0)
		fail_msg("%s -> %s, want %s", in, buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_rfc_examples(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		/* RFC 7208 7.4 */
		{"%{s}", "strong-bad@email.example.com"},
		{"%{o}", "email.example.com"},
		{"%{d}", "email.example.com"},
		{"%{d4}", "email.example.com"},
		{"%{d3}", "email.example.com"},
		{"%{d2}", "example.com"},
		{"%{d1}", "com"},
		{"%{dr}", "com.example.email"},
		{"%{d2r}", "example.email"},
		{"%{l}", "strong-bad"},
		{"%{l-}", "strong.bad"},
		{"%{lr}", "strong-bad"},
		{"%{lr-}", "bad.strong"},
		{"%{l1r-}", "strong"},
		{"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
		{"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
		{"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		 "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		 "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
		/* escapes, URL encoding, other letters */
		{"%%%_%-", "% %20"},
		{"%{S}", "strong-bad%40email.example.com"},
		{"%{h}.%{p}", "mx.example.org.mx.example.org"},
		{"%{d999}", "email.example.com"},
		{"%{l+-}", "strong.bad"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		expect(&ctx4, rows[i].in, 0, rows[i].want);
	expect(&ctx4, "%{c} at %{t} by %{r}: %{i}", SPF_MACRO_EXP,
	       "192.0.2.3 at 1234567890 by rcv.example.net: 192.0.2.3");
}

static void
test_ipv6(void **state)
{
	struct spf_macro_ctx c = ctx4;

	(void)state;
	c.ip = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1";
	c.version = "ip6";
	expect(&c, "%{ir}.%{v}._spf.%{d2}",
	       0, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

static void
test_macro_invalid(void **state)
{
	static const char *const bad[] = {
		"%", "%{", "%{d", "%{x}", "%{d0}", "%{c}", "%{dr2}", "%a", "a b", "%{d.}x}\x01",
		"\x7f",
	};
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (spf_macro_check(bad[i], strlen(bad[i]), 0) != -1)
			fail_msg("accepted: %s", bad[i]);
		if (spf_macro_expand(bad[i], strlen(bad[i]), 0, &ctx4, &b) != -1)
			fail_msg("expanded: %s", bad[i]);
	}
	assert_int_equal(spf_macro_check("a b %{c}", 8, SPF_MACRO_EXP), 0);
	assert_true(spf_macro_uses("x.%{p}.y", 8, 'p'));
	assert_false(spf_macro_uses("x.%%{p}.y", 9, 'p'));
	buf_free(&b);
}

static void
test_domain_end(void **state)
{
	(void)state;
	assert_true(spf_macro_domain_ok("example.com", 11));
	assert_true(spf_macro_domain_ok("example.com.", 12));
	assert_true(spf_macro_domain_ok("%{d}", 4));
	assert_true(spf_macro_domain_ok("a.1-2", 5));
	assert_false(spf_macro_domain_ok("com", 3));
	assert_false(spf_macro_domain_ok("a.123", 5));
	assert_false(spf_macro_domain_ok("a.-b", 4));
	assert_true(spf_macro_domain_ok("%{d}.", 5)); /* lenient: a final dot after a macro */
	assert_false(spf_macro_domain_ok("", 0));
	assert_false(spf_macro_domain_ok(".", 1));
}

static void
test_truncate(void **state)
{
	char name[600];
	size_t i, off;

	(void)state;
	assert_int_equal(spf_domain_truncate("example.com"), 0);
	for (i = 0; i < 599; i++)
		name[i] = i % 10 == 9 ? '.' : 'a';
	name[599] = '\0';
	off = spf_domain_truncate(name);
	assert_true(strlen(name + off) <= SPF_DOMAIN_MAX);
	assert_true(strlen(name + off) > SPF_DOMAIN_MAX - 10);
	assert_int_equal(name[off - 1], '.');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select),	   cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),	   cmocka_unit_test(test_terms),
		cmocka_unit_test(test_too_many),   cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_ipv6),	   cmocka_unit_test(test_macro_invalid),
		cmocka_unit_test(test_domain_end), cmocka_unit_test(test_truncate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
