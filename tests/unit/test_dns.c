/* SPDX-License-Identifier: ISC */
/*
 * test_dns - the DNS RDATA parsers (src/dns/dns.c): names in wire format
 * and MX records, including the RFC 7505 null MX, compression pointers
 * (refused: libunbound hands us decompressed RDATA), and length limits;
 * and dns_free() answering the lookups still pending. No network: the
 * resolver is a loopback socket that never answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/net.h"

#define W(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void
test_names(void **state)
{
	static const struct {
		const uint8_t *wire;
		size_t len;
		int used;
		const char *name;
	} rows[] = {
		{W("\x02mx\x07" "example\x04test\x00"), 17, "mx.example.test"},
		{W("\x02MX\x07" "Example\x04TEST\x00"), 17, "mx.example.test"},
		{W("\x00"), 1, ""},
		{W("\x04_srv\x03" "a-b\x00"), 10, "_srv.a-b"},
		{W("\x02mx\x00trailing"), 4, "mx"}, /* the caller checks the length */
		{W(""), -1, NULL},
		{W("\x02mx"), -1, NULL},	       /* no root label */
		{W("\x05mx"), -1, NULL},	       /* label past the end */
		{W("\x02mx\xc0\x0c"), -1, NULL},	       /* compression pointer */
		{W("\x40" "aaaa"), -1, NULL},	       /* label type 01 */
		{W("\x03m.x\x00"), -1, NULL},	       /* a dot inside a label */
		{W("\x03m x\x00"), -1, NULL},
		{W("\x03m\x00x\x00"), -1, NULL},
		{W("\x03m\xc3\xa9\x00"), -1, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[DNS_NAME_MAX + 1];
		int used = dns_parse_name(rows[i].wire, rows[i].len, out);

		if (used != rows[i].used)
			fail_msg("row %zu: got %d, want %d", i, used, rows[i].used);
		if (used >= 0)
			assert_string_equal(out, rows[i].name);
	}
}

/* wire_name - labels of llen bytes each, n of them, then the root. */
static size_t
wire_name(uint8_t *w, size_t n, size_t llen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		w[o++] = (uint8_t)llen;
		memset(w + o, 'a' + (int)(i % 26), llen);
		o += llen;
	}
	w[o++] = 0;
	return o;
}

static void
test_name_limits(void **state)
{
	uint8_t w[600];
	char out[DNS_NAME_MAX + 1];
	size_t len;

	(void)state;
	/* 63-byte labels are the most there is */
	len = wire_name(w, 1, 63);
	assert_int_equal(dns_parse_name(w, len, out), (int)len);
	assert_int_equal(strlen(out), 63);
	len = wire_name(w, 1, 64);
	assert_int_equal(dns_parse_name(w, len, out), -1);
	/* the dotted name fits DNS_NAME_MAX bytes, never more */
	len = wire_name(w, 4, 62);
	assert_int_equal(dns_parse_name(w, len, out), (int)len);
	assert_int_equal(strlen(out), 4 * 62 + 3);
	len = wire_name(w, 128, 1);
	assert_int_equal(dns_parse_name(w, len, out), (int)len);
	assert_int_equal(strlen(out), 255);
	len = wire_name(w, 129, 1);
	assert_int_equal(dns_parse_name(w, len, out), -1);
}

static void
test_mx(void **state)
{
	static const struct {
		const uint8_t *rdata;
		size_t len;
		int ok;
		unsigned pref;
		const char *host;
	} rows[] = {
		{W("\x00\x0a\x02mx\x07" "example\x04test\x00"), 0, 10, "mx.example.test"},
		{W("\xff\xff\x03" "MX1\x00"), 0, 65535, "mx1"},
		{W("\x00\x00\x00"), 0, 0, ""}, /* RFC 7505 null MX */
		{W("\x00\x0a\x02mx\x00\x00"), -1, 0, NULL}, /* junk after the name */
		{W("\x00\x0a\x02mx"), -1, 0, NULL},
		{W("\x00\x0a"), -1, 0, NULL},
		{W("\x00"), -1, 0, NULL},
		{W(""), -1, 0, NULL},
		{W("\x00\x0a\xc0\x0c"), -1, 0, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dns_mx mx;
		int rc = dns_parse_mx(rows[i].rdata, rows[i].len, &mx);

		if (rc != rows[i].ok)
			fail_msg("row %zu: got %d", i, rc);
		if (rc == 0) {
			assert_int_equal(mx.pref, rows[i].pref);
			assert_string_equal(mx.host, rows[i].host);
		}
	}
}

/* ---- dns_free with lookups pending ---- */

struct answers {
	struct dns *d;
	int mx, addrs, a, raw, again; /* calls per callback */
	int bad;		      /* calls with a status other than TEMPFAIL */
};

static void
on_mx(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct answers *r = arg;

	(void)mx;
	r->mx++;
	r->bad += st != DNS_TEMPFAIL || n != 0;
}

static void
on_addrs(void *arg, enum dns_status st, const struct dns_addrs *a)
{
	struct answers *r = arg;

	r->addrs++;
	r->bad += st != DNS_TEMPFAIL || a == NULL || a->n != 0;
}

static void
on_a(void *arg, enum dns_status st, const struct in_addr *a, size_t n)
{
	struct answers *r = arg;

	(void)a;
	r->a++;
	r->bad += st != DNS_TEMPFAIL || n != 0;
}

static void
on_again(void *arg, enum dns_status st, const struct dns_rdata *rd, size_t n)
{
	struct answers *r = arg;

	(void)rd;
	r->again++;
	r->bad += st != DNS_TEMPFAIL || n != 0;
}

/* on_raw - asks again, as an owner retrying would, from inside dns_free */
static void
on_raw(void *arg, enum dns_status st, const struct dns_rdata *rd, size_t n)
{
	struct answers *r = arg;

	(void)rd;
	r->raw++;
	r->bad += st != DNS_TEMPFAIL || n != 0;
	dns_query(r->d, 16, "again.example.test", on_again, r);
}

/* Lookups libunbound still owes at dns_free() were dropped without a
 * callback, and what their owners kept for the answer leaked (the CLI
 * after its deadline). Each is now answered DNS_TEMPFAIL, exactly once,
 * a lookup started from such a callback too; ASan checks nothing leaks. */
static void
test_free_pending(void **state)
{
	char resolvers[1][NET_ADDRSTRLEN + 8], err[256];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct answers r = {0};
	struct event_base *base;
	struct conf cf;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(resolvers[0], sizeof(resolvers[0]), "127.0.0.1@%u", ntohs(sin.sin_port));
	memset(&cf, 0, sizeof(cf));
	cf.resolvers = resolvers;
	cf.nresolvers = 1;
	base = event_base_new();
	assert_non_null(base);
	r.d = dns_new(base, &cf, err, sizeof(err));
	assert_non_null(r.d);
	dns_mx(r.d, "example.test", on_mx, &r);
	dns_addrs(r.d, "mx.example.test", on_addrs, &r);
	dns_addrs(r.d, "192.0.2.1", on_addrs, &r); /* answered from the loop */
	dns_a(r.d, "2.0.0.127.bl.example.test", on_a, &r);
	dns_query(r.d, 16, "s._domainkey.example.test", on_raw, &r);
	assert_int_equal(r.mx + r.addrs + r.a + r.raw, 0);
	dns_free(r.d);
	assert_int_equal(r.mx, 1);
	assert_int_equal(r.addrs, 2);
	assert_int_equal(r.a, 1);
	assert_int_equal(r.raw, 1);
	assert_int_equal(r.again, 1);
	assert_int_equal(r.bad, 0);
	dns_free(NULL);
	event_base_free(base);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_mx),
		cmocka_unit_test(test_free_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
