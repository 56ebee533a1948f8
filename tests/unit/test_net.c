/* SPDX-License-Identifier: ISC */
/*
 * test_net - address parsing and matching (src/lib/net.c): host:port for
 * listeners and resolvers, CIDR networks for trusted_networks, matching
 * with IPv4-mapped IPv6 folded to IPv4, and printing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sys/un.h>

#include "lib/net.h"

static void
test_hostport(void **state)
{
	static const struct {
		const char *in;
		int ok;
		int family;
		const char *formatted;
	} rows[] = {
		{"127.0.0.1:25", 0, AF_INET, "127.0.0.1:25"},
		{"0.0.0.0:65535", 0, AF_INET, "0.0.0.0:65535"},
		{"[::1]:25", 0, AF_INET6, "[::1]:25"},
		{"[2001:DB8::1]:587", 0, AF_INET6, "[2001:db8::1]:587"},
		{"[::ffff:192.0.2.1]:25", 0, AF_INET6, "[::ffff:192.0.2.1]:25"},
		{"127.0.0.1", -1, 0, NULL},
		{"127.0.0.1:", -1, 0, NULL},
		{"127.0.0.1:0", -1, 0, NULL},
		{"127.0.0.1:65536", -1, 0, NULL},
		{"127.0.0.1:+25", -1, 0, NULL},
		{"127.0.0.1:25x", -1, 0, NULL},
		{"127.0.0.1: 25", -1, 0, NULL},
		{" 127.0.0.1:25", -1, 0, NULL},
		{"::1:25", -1, 0, NULL}, /* IPv6 needs brackets */
		{"[::1]25", -1, 0, NULL},
		{"[::1]", -1, 0, NULL},
		{"[::1:25", -1, 0, NULL},
		{"[127.0.0.1]:25", -1, 0, NULL},
		{"[]:25", -1, 0, NULL},
		{":25", -1, 0, NULL},
		{"localhost:25", -1, 0, NULL},
		{"1.2.3:25", -1, 0, NULL},
		{"[fe80::1%eth0]:25", -1, 0, NULL},
		{"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001]:25", -1, 0,
		 NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		char out[NET_ADDRSTRLEN + 8];
		int rc = net_parse_hostport(rows[i].in, &ss, &len);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].in, rc);
		if (rc != 0)
			continue;
		assert_int_equal(ss.ss_family, rows[i].family);
		assert_int_equal(len, rows[i].family == AF_INET ? sizeof(struct sockaddr_in)
								: sizeof(struct sockaddr_in6));
		assert_string_equal(net_format((struct sockaddr *)&ss, out, sizeof(out)),
				    rows[i].formatted);
	}
}

static void
test_parse_ip(void **state)
{
	static const struct {
		const char *in;
		int ok;
		const char *printed;
	} rows[] = {
		{"192.0.2.1", 0, "192.0.2.1"}, {"::1", 0, "::1"},
		{"FD00::1", 0, "fd00::1"},     {"::ffff:10.0.0.1", 0, "::ffff:10.0.0.1"},
		{"", -1, NULL},		       {"1.2.3.4.5", -1, NULL},
		{"256.1.1.1", -1, NULL},       {"1.2.3.4:25", -1, NULL},
		{"example.test", -1, NULL},    {"fe80::1%lo", -1, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		char out[NET_ADDRSTRLEN];
		int rc = net_parse_ip(rows[i].in, &ss, &len);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].in, rc);
		if (rc == 0) {
			assert_string_equal(net_ntop((struct sockaddr *)&ss, out, sizeof(out)),
					    rows[i].printed);
			assert_int_equal(net_port((struct sockaddr *)&ss), 0);
		}
	}
}

static void
test_parse_cidr(void **state)
{
	static const struct {
		const char *in;
		int ok;
		int family;
		unsigned prefix;
	} rows[] = {
		{"10.0.0.0/8", 0, AF_INET, 8},
		{"10.0.0.1", 0, AF_INET, 32},
		{"192.168.1.128/25", 0, AF_INET, 25},
		{"0.0.0.0/0", 0, AF_INET, 0}, /* syntax only: conf refuses it */
		{"::1/128", 0, AF_INET6, 128},
		{"::1", 0, AF_INET6, 128},
		{"fd00::/8", 0, AF_INET6, 8},
		{"2001:db8::/32", 0, AF_INET6, 32},
		{"::/0", 0, AF_INET6, 0},
		{"10.0.0.1/8", -1, 0, 0}, /* host bits set: a typo, say so */
		{"192.168.1.64/25", -1, 0, 0},
		{"fd00::1/8", -1, 0, 0},
		{"10.0.0.0/33", -1, 0, 0},
		{"::/129", -1, 0, 0},
		{"10.0.0.0/", -1, 0, 0},
		{"10.0.0.0/-1", -1, 0, 0},
		{"10.0.0.0/+8", -1, 0, 0},
		{"10.0.0.0/8/8", -1, 0, 0},
		{"10.0.0.0 /8", -1, 0, 0},
		{"/8", -1, 0, 0},
		{"", -1, 0, 0},
		{"10/8", -1, 0, 0},
		{"example.test/8", -1, 0, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cidr c;
		int rc = net_parse_cidr(rows[i].in, &c);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].in, rc);
		if (rc == 0) {
			assert_int_equal(c.family, rows[i].family);
			assert_int_equal(c.prefix, rows[i].prefix);
		}
	}
}

static void
test_cidr_match(void **state)
{
	static const struct {
		const char *net, *ip;
		bool match;
	} rows[] = {
		{"10.0.0.0/8", "10.0.0.0", true},
		{"10.0.0.0/8", "10.255.255.255", true},
		{"10.0.0.0/8", "11.0.0.0", false},
		{"10.0.0.0/8", "9.255.255.255", false},
		{"10.0.0.0/8", "::ffff:10.1.2.3", true}, /* IPv4-mapped counts as IPv4 */
		{"10.0.0.0/8", "::ffff:11.1.2.3", false},
		{"10.0.0.0/8", "::10.1.2.3", false}, /* IPv4-compatible does not */
		{"10.0.0.0/8", "a00::", false},
		{"192.168.1.128/25", "192.168.1.200", true},
		{"192.168.1.128/25", "192.168.1.127", false},
		{"192.168.1.7", "192.168.1.7", true},
		{"192.168.1.7", "192.168.1.6", false},
		{"0.0.0.0/0", "203.0.113.9", true},
		{"0.0.0.0/0", "::ffff:203.0.113.9", true},
		{"0.0.0.0/0", "2001:db8::1", false},
		{"::1/128", "::1", true},
		{"::1/128", "::2", false},
		{"::1", "127.0.0.1", false},
		{"2001:db8::/33", "2001:db8:7fff::1", true},
		{"2001:db8::/33", "2001:db8:8000::1", false},
		{"fd00::/8", "fdff:ffff::1", true},
		{"fd00::/8", "fe00::1", false},
		{"::/0", "2001:db8::1", true},
		{"::/0", "192.0.2.1", false},
		/* an IPv4-mapped network is the IPv4 network */
		{"::ffff:10.0.0.0/104", "10.1.2.3", true},
		{"::ffff:10.0.0.0/104", "::ffff:10.1.2.3", true},
		{"::ffff:10.0.0.0/104", "11.1.2.3", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cidr c;
		struct sockaddr_storage ss;
		socklen_t len;

		assert_int_equal(net_parse_cidr(rows[i].net, &c), 0);
		assert_int_equal(net_parse_ip(rows[i].ip, &ss, &len), 0);
		if (net_cidr_match(&c, (struct sockaddr *)&ss) != rows[i].match)
			fail_msg("row %zu (%s in %s)", i, rows[i].ip, rows[i].net);
	}
	{
		struct cidr c;
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		assert_int_equal(net_parse_cidr("0.0.0.0/0", &c), 0);
		assert_false(net_cidr_match(&c, (struct sockaddr *)&sun));
	}
}

static void
test_print(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	socklen_t len;
	char out[NET_ADDRSTRLEN + 8], tiny[4];

	(void)state;
	assert_int_equal(net_parse_ip("2001:db8::25", &ss, &len), 0);
	net_set_port((struct sockaddr *)&ss, 2525);
	assert_int_equal(net_port((struct sockaddr *)&ss), 2525);
	assert_string_equal(net_format((struct sockaddr *)&ss, out, sizeof(out)),
			    "[2001:db8::25]:2525");
	assert_string_equal(net_ntop((struct sockaddr *)&ss, out, sizeof(out)), "2001:db8::25");
	/* too small a buffer: "unknown", cut, never an overflow */
	assert_string_equal(net_ntop((struct sockaddr *)&ss, tiny, sizeof(tiny)), "unk");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_string_equal(net_ntop((struct sockaddr *)&sun, out, sizeof(out)), "unknown");
	assert_int_equal(net_port((struct sockaddr *)&sun), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport),   cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_parse_cidr), cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
