/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dnsbl - the DNSBL config parser (dnsbl_parse), the query names
 * (dnsbl_query_name) and the answer matcher (dnsbl_listed).
 *
 * Input: ZONE, WEIGHT and CODES separated by NUL or newline (a missing
 * WEIGHT is "1", missing or empty CODES are NULL: the empty argument is a
 * unit test row). The first 16 input bytes, zero padded, are also the
 * client address, and from byte 16 on every 4 bytes are a DNS answer.
 *
 * Checked: an accepted list has a valid lower-case zone of at most
 * DNSBL_ZONE_MAX bytes, a weight in -100..100 other than 0, and ordered
 * ranges inside 127.0.0.0/8; a refusal says "dnsbl: " and why. A query
 * name is the reversed address (read back and compared) plus the zone,
 * at most 253 bytes, the same for 1.2.3.4 and ::ffff:1.2.3.4, never longer
 * than the buffer; every accepted zone gives a name for any address.
 * dnsbl_listed agrees with a plain restatement of its rule.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/dnsbl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 2048
#define MAX_ANSWERS 40

static void
check_list(const struct dnsbl_list *l)
{
	size_t len = strnlen(l->zone, sizeof(l->zone)), i;

	if (len == 0 || len > DNSBL_ZONE_MAX || strchr(l->zone, '.') == NULL)
		abort();
	for (i = 0; i < len; i++) {
		char c = l->zone[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			abort();
		if (c == '.' && (i == 0 || i == len - 1 || l->zone[i - 1] == '.'))
			abort();
		if (c == '-' && (i == 0 || i == len - 1 || l->zone[i - 1] == '.' ||
				 l->zone[i + 1] == '.'))
			abort();
	}
	if (l->weight == 0 || l->weight < -DNSBL_WEIGHT_MAX || l->weight > DNSBL_WEIGHT_MAX)
		abort();
	if (l->ncodes > DNSBL_MAX_CODES)
		abort();
	for (i = 0; i < l->ncodes; i++)
		if (l->codes[i].lo > l->codes[i].hi || l->codes[i].lo >> 24 != 127 ||
		    l->codes[i].hi >> 24 != 127)
			abort();
}

/* read_back - the address bytes spelled by the reversed prefix of name. */
static int
read_back(const char *name, bool v6, uint8_t *out)
{
	size_t i, o = 0;

	if (!v6) {
		unsigned b[4];
		int used = 0;

		if (sscanf(name, "%3u.%3u.%3u.%3u.%n", &b[3], &b[2], &b[1], &b[0], &used) != 4 ||
		    used == 0)
			return -1;
		for (i = 0; i < 4; i++)
			out[i] = (uint8_t)b[i];
		return used;
	}
	for (i = 0; i < 32; i++) {
		const char *h = "0123456789abcdef", *p = strchr(h, name[o]);

		if (name[o] == '\0' || p == NULL || name[o + 1] != '.')
			return -1;
		if (i % 2 == 0)
			out[15 - i / 2] = (uint8_t)(p - h);
		else
			out[15 - i / 2] |= (uint8_t)((p - h) << 4);
		o += 2;
	}
	return (int)o;
}

static void
check_name(const struct sockaddr *sa, const uint8_t *addr, bool v6, const char *zone,
	   bool must_fit)
{
	char out[DNSBL_QNAME_MAX + 2], small[DNSBL_QNAME_MAX + 2];
	uint8_t back[16];
	size_t len;
	int used;

	memset(out, 'x', sizeof(out));
	if (dnsbl_query_name(sa, zone, out, sizeof(out)) != 0) {
		if (must_fit)
			abort();
		return;
	}
	len = strnlen(out, sizeof(out));
	if (len > DNSBL_QNAME_MAX)
		abort();
	used = read_back(out, v6, back);
	if (used < 0 || memcmp(back, addr, v6 ? 16 : 4) != 0 || strcmp(out + used, zone) != 0)
		abort();
	/* exactly the room it needs */
	if (dnsbl_query_name(sa, zone, small, len + 1) != 0 || strcmp(small, out) != 0)
		abort();
	if (dnsbl_query_name(sa, zone, small, len) != -1)
		abort();
}

static void
check_names(const uint8_t *addr, const char *zone, bool must_fit)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char a[DNSBL_QNAME_MAX + 2], b[DNSBL_QNAME_MAX + 2];
	int ra, rb;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, addr, 4);
	check_name((struct sockaddr *)&sin, addr, false, zone, must_fit);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, addr, 16);
	if (!IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
		check_name((struct sockaddr *)&sin6, addr, true, zone, must_fit);
	/* a mapped address is asked as the IPv4 address */
	memset(sin6.sin6_addr.s6_addr, 0, 10);
	memset(sin6.sin6_addr.s6_addr + 10, 0xff, 2);
	memcpy(sin6.sin6_addr.s6_addr + 12, addr, 4);
	ra = dnsbl_query_name((struct sockaddr *)&sin, zone, a, sizeof(a));
	rb = dnsbl_query_name((struct sockaddr *)&sin6, zone, b, sizeof(b));
	if (ra != rb || (ra == 0 && strcmp(a, b) != 0))
		abort();
}

/* listed_ref - dnsbl_listed's rule, said once more. */
static bool
listed_ref(const struct dnsbl_list *l, const struct in_addr *a, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		uint32_t x = ntohl(a[i].s_addr);
		bool hit = false;

		if (x >> 24 != 127)
			continue;
		if (l->ncodes == 0)
			hit = x != 0x7f000001 && x >> 8 != 0x7fffff;
		for (k = 0; k < l->ncodes; k++)
			hit = hit || (l->codes[k].lo <= x && x <= l->codes[k].hi);
		if (hit)
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MAX_INPUT + 1];
	char *args[3] = {buf, NULL, NULL}, err[512];
	struct in_addr answers[MAX_ANSWERS];
	uint8_t addr[16] = {0};
	struct dnsbl_list l;
	size_t i, nargs = 1, n;
	int rc;

	if (size > MAX_INPUT)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i < size && nargs < 3; i++)
		if (buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			args[nargs++] = buf + i + 1;
		}
	memset(&l, 0xa5, sizeof(l));
	memset(err, 'x', sizeof(err));
	if (args[2] != NULL && args[2][0] == '\0')
		args[2] = NULL;
	rc = dnsbl_parse(args[0], args[1] != NULL ? args[1] : "1", args[2], &l, err, sizeof(err));
	if (rc == 0)
		check_list(&l);
	else if (rc != -1 || strnlen(err, sizeof(err)) == sizeof(err) ||
		 strncmp(err, "dnsbl: ", 7) != 0)
		abort();

	memcpy(addr, data, size < 16 ? size : 16);
	check_names(addr, rc == 0 ? l.zone : args[0], rc == 0);

	if (rc == 0) {
		n = size > 16 ? (size - 16) / 4 : 0;
		if (n > MAX_ANSWERS)
			n = MAX_ANSWERS;
		memcpy(answers, data + 16, n * 4);
		if (dnsbl_listed(&l, answers, n) != listed_ref(&l, answers, n))
			abort();
		/* an answer copied from a code always lists */
		for (i = 0; i < l.ncodes; i++) {
			answers[0].s_addr = htonl(l.codes[i].hi);
			if (!dnsbl_listed(&l, answers, 1))
				abort();
		}
	}
	return 0;
}
