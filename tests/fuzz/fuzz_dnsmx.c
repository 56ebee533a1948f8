/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dnsmx - the DNS RDATA parsers (dns_parse_name, dns_parse_mx) on
 * what a hostile or broken DNS server could answer.
 *
 * Checked: a parsed name is NUL-terminated within DNS_NAME_MAX, holds only
 * lower-case letters, digits, '-', '_' and single dots between labels of
 * at most 63 bytes, and re-encodes to exactly the bytes consumed; an MX
 * parses only when its name fills the RDATA.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_name - out is a valid dotted name that encodes to wire[0..used). */
static void
check_name(const char *out, const uint8_t *wire, int used)
{
	uint8_t enc[DNS_NAME_MAX + 2];
	size_t len = strnlen(out, DNS_NAME_MAX + 1), i, o = 0, label = 0;

	if (len > DNS_NAME_MAX || used < 1)
		abort();
	for (i = 0; i <= len; i++) {
		if (i == len || out[i] == '.') {
			if ((label == 0 && len > 0) || label > 63)
				abort();
			if (label > 0) {
				enc[o] = (uint8_t)label;
				memcpy(enc + o + 1, out + i - label, label);
				o += label + 1;
			}
			label = 0;
			continue;
		}
		if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= '0' && out[i] <= '9') ||
		      out[i] == '-' || out[i] == '_'))
			abort();
		label++;
	}
	enc[o++] = 0;
	/* the wire form may differ only in letter case */
	if (o != (size_t)used)
		abort();
	for (i = 0; i < o; i++) {
		uint8_t w = wire[i];

		if (w >= 'A' && w <= 'Z')
			w = (uint8_t)(w - 'A' + 'a');
		if (w != enc[i])
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_MAX + 1];
	struct dns_mx mx;
	int used;

	if (size > 4096)
		return 0;
	memset(name, 'x', sizeof(name));
	used = dns_parse_name(data, size, name);
	if (used != -1) {
		if (used < 1 || (size_t)used > size)
			abort();
		check_name(name, data, used);
	}
	memset(&mx, 'x', sizeof(mx));
	if (dns_parse_mx(data, size, &mx) == 0) {
		if (size < 3 || mx.pref != (uint16_t)(data[0] << 8 | data[1]))
			abort();
		used = dns_parse_name(data + 2, size - 2, name);
		if (used < 0 || (size_t)used != size - 2 || strcmp(name, mx.host) != 0)
			abort();
		check_name(mx.host, data + 2, used);
	}
	return 0;
}
