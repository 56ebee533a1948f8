/* SPDX-License-Identifier: ISC */
/*
 * test_dmarc_report - DMARC aggregate reports (src/mailauth/dmarc_report.c):
 * XML escaping, the report XML against a golden copy, gzip, the report mail
 * (headers, size limits, the attachment decoded and inflated again), rua=
 * mailto: parsing, the external destination check (query name, TXT judge,
 * override), and the SQLite store (aggregation across hours, latest
 * policy, domains, delete, the daily row limit, refused evaluations) in a
 * temporary directory. The XML schema check is in
 * tests/integration/test_dmarc_report.py (xmllint).
 */
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
#include <openssl/evp.h>
#include <sqlite3.h>
#include <zlib.h>

#include "lib/buf.h"
#include "mailauth/dmarc_report.h"

#define PSL_LIST "/usr/share/publicsuffix/public_suffix_list.dat"
#define T0 INT64_C(1700006400) /* 2023-11-15 00:00:00 UTC, a day boundary */
#define DAY_S INT64_C(86400)

static char dir[64], path[128];

/*
 * XML escaping.
 */
static void
test_xml_escape(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} rows[] = {
		{"plain.example", 13, "plain.example"},
		{"a&b<c>d\"e'f", 11, "a&amp;b&lt;c&gt;d&quot;e&apos;f"},
		{"]]>", 3, "]]&gt;"},
		{"tab\tlf\ncr\r", 10, "tab&#9;lf&#10;cr&#13;"},
		{"nul\0x", 5, "nul?x"},
		{"\x01\x1f\x7f", 3, "??\x7f"},
		{"caf\xc3\xa9", 5, "caf\xc3\xa9"},
		{"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"},
		{"\xc3", 1, "?"},		  /* truncated */
		{"\xc0\xaf", 2, "??"},		  /* overlong '/' */
		{"\xed\xa0\x80", 3, "???"},	  /* a surrogate */
		{"\xef\xbf\xbe", 3, "???"},	  /* U+FFFE */
		{"\xef\xbf\xbd", 3, "\xef\xbf\xbd"}, /* U+FFFD is fine */
		{"\xff<", 2, "?&lt;"},
		{"", 0, ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf b = BUF_INIT;

		dmarc_xml_escape(rows[i].in, rows[i].len, &b);
		if (strcmp(buf_cstr(&b), rows[i].out) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, buf_cstr(&b), rows[i].out);
		buf_free(&b);
	}
}

/*
 * The report XML.
 */
static const char golden_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<feedback>\n"
	"  <version>1.0</version>\n"
	"  <report_metadata>\n"
	"    <org_name>Example &amp; Co</org_name>\n"
	"    <email>dmarc-reports@example.net</email>\n"
	"    <extra_contact_info>https://example.net/dmarc?a=1&amp;b=2</extra_contact_info>\n"
	"    <report_id>r1</report_id>\n"
	"    <date_range>\n"
	"      <begin>1700006400</begin>\n"
	"      <end>1700092799</end>\n"
	"    </date_range>\n"
	"    <error>2 more rows left out (at most 10000 per report)</error>\n"
	"    <error>5 evaluations (all domains) of these days were not recorded: storage "
	"limit</error>\n"
	"  </report_metadata>\n"
	"  <policy_published>\n"
	"    <domain>example.org</domain>\n"
	"    <adkim>r</adkim>\n"
	"    <aspf>s</aspf>\n"
	"    <p>reject</p>\n"
	"    <sp>quarantine</sp>\n"
	"    <pct>50</pct>\n"
	"    <fo>1</fo>\n"
	"  </policy_published>\n"
	"  <record>\n"
	"    <row>\n"
	"      <source_ip>192.0.2.1</source_ip>\n"
	"      <count>3</count>\n"
	"      <policy_evaluated>\n"
	"        <disposition>none</disposition>\n"
	"        <dkim>pass</dkim>\n"
	"        <spf>pass</spf>\n"
	"      </policy_evaluated>\n"
	"    </row>\n"
	"    <identifiers>\n"
	"      <envelope_to>example.net</envelope_to>\n"
	"      <envelope_from>example.org</envelope_from>\n"
	"      <header_from>example.org</header_from>\n"
	"    </identifiers>\n"
	"    <auth_results>\n"
	"      <dkim>\n"
	"        <domain>example.org</domain>\n"
	"        <selector>sel1</selector>\n"
	"        <result>pass</result>\n"
	"      </dkim>\n"
	"      <spf>\n"
	"        <domain>example.org</domain>\n"
	"        <scope>mfrom</scope>\n"
	"        <result>pass</result>\n"
	"      </spf>\n"
	"    </auth_results>\n"
	"  </record>\n"
	"  <record>\n"
	"    <row>\n"
	"      <source_ip>2001:db8:0:0:0:0:0:1</source_ip>\n"
	"      <count>1</count>\n"
	"      <policy_evaluated>\n"
	"        <disposition>none</disposition>\n"
	"        <dkim>fail</dkim>\n"
	"        <spf>fail</spf>\n"
	"        <reason>\n"
	"          <type>sampled_out</type>\n"
	"          <comment>pct=50 &lt;&amp;&gt;</comment>\n"
	"        </reason>\n"
	"      </policy_evaluated>\n"
	"    </row>\n"
	"    <identifiers>\n"
	"      <envelope_from></envelope_from>\n"
	"      <header_from>example.org</header_from>\n"
	"    </identifiers>\n"
	"    <auth_results>\n"
	"      <spf>\n"
	"        <domain>mx.example.com</domain>\n"
	"        <scope>helo</scope>\n"
	"        <result>none</result>\n"
	"      </spf>\n"
	"    </auth_results>\n"
	"  </record>\n"
	"</feedback>\n";

static struct dmarc_report_row golden_rows[2];

static void
golden_data(struct dmarc_report_data *d, struct dmarc_report_meta *m)
{
	struct dmarc_report_row *r = golden_rows;

	memset(d, 0, sizeof(*d));
	memset(golden_rows, 0, sizeof(golden_rows));
	snprintf(d->policy.domain, sizeof(d->policy.domain), "%s", "example.org");
	d->policy.aspf_strict = true;
	d->policy.p = DMARC_P_REJECT;
	d->policy.sp = DMARC_P_QUARANTINE;
	d->policy.has_np = true; /* not written: Appendix C has no np */
	d->policy.np = DMARC_P_REJECT;
	d->policy.pct = 50;
	snprintf(d->policy.fo, sizeof(d->policy.fo), "%s", "1");
	r[0] = (struct dmarc_report_row){.source_ip = "192.0.2.1", .count = 3, .dkim_pass = true,
					 .spf_pass = true, .comment = "",
					 .header_from = "example.org", .envelope_from = "example.org",
					 .envelope_to = "example.net", .ndkim = 1,
					 .spf_domain = "example.org", .spf_result = SPF_PASS};
	r[0].dkim[0] = (struct dmarc_report_dkim){"example.org", "sel1", DMARC_DKIM_PASS};
	r[1] = (struct dmarc_report_row){.source_ip = "2001:db8::1", .count = 1,
					 .override = DMARC_OVERRIDE_SAMPLED_OUT,
					 .comment = "pct=50 <&>", .header_from = "example.org",
					 .envelope_from = "", .envelope_to = "",
					 .spf_domain = "mx.example.com", .spf_scope = DMARC_SPF_HELO,
					 .spf_result = SPF_NONE};
	d->rows = r;
	d->nrows = 2;
	d->omitted = 2;
	d->dropped = 5;
	*m = (struct dmarc_report_meta){"Example & Co", "dmarc-reports@example.net",
					"https://example.net/dmarc?a=1&b=2", "r1", T0, T0 + DAY_S};
}

static void
test_report_xml(void **state)
{
	struct dmarc_report_data d;
	struct dmarc_report_meta m;
	struct buf out = BUF_INIT;
	char err[128];

	(void)state;
	golden_data(&d, &m);
	assert_int_equal(dmarc_report_xml(&m, &d, &out, err, sizeof(err)), 0);
	assert_string_equal(buf_cstr(&out), golden_xml);
	buf_free(&out);
}

static void
test_report_xml_refused(void **state)
{
	struct dmarc_report_data d;
	struct dmarc_report_meta m;
	struct buf out = BUF_INIT;
	char err[128];
	static const char *const bad_ids[] = {"", "r-1", "r 1", "r1.", NULL,
		"12345678901234567890123456789012345678901234567890123456789012345"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		golden_data(&d, &m);
		m.report_id = bad_ids[i];
		assert_int_equal(dmarc_report_xml(&m, &d, &out, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "report_id"));
	}
	golden_data(&d, &m);
	m.org_name = "";
	assert_int_equal(dmarc_report_xml(&m, &d, &out, err, sizeof(err)), -1);
	golden_data(&d, &m);
	m.end = m.begin;
	assert_int_equal(dmarc_report_xml(&m, &d, &out, err, sizeof(err)), -1);
	golden_data(&d, &m);
	d.nrows = 0;
	assert_int_equal(dmarc_report_xml(&m, &d, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "no rows to report");
	golden_data(&d, &m);
	golden_rows[1].source_ip = "not-an-ip";
	assert_int_equal(dmarc_report_xml(&m, &d, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "row 1: source_ip is not an IP address");
	assert_int_equal(out.len, 0); /* nothing half-written */
	buf_free(&out);
}

/*
 * gzip.
 */
static void
inflate_all(const void *in, size_t len, struct buf *out)
{
	unsigned char chunk[4096];
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		assert_true(rc == Z_OK || rc == Z_STREAM_END);
		buf_add(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc != Z_STREAM_END);
	assert_int_equal(z.avail_in, 0);
	inflateEnd(&z);
}

static void
test_gzip(void **state)
{
	struct buf big = BUF_INIT, gz = BUF_INIT, back = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < 20000; i++)
		buf_addf(&big, "<record>%zu</record>\n", i % 97);
	assert_int_equal(dmarc_report_gzip(big.data, big.len, &gz), 0);
	assert_true(gz.len > 18 && gz.len < big.len / 10);
	assert_int_equal((unsigned char)gz.data[0], 0x1f); /* RFC 1952 ID1 ID2 CM */
	assert_int_equal((unsigned char)gz.data[1], 0x8b);
	assert_int_equal((unsigned char)gz.data[2], 8);
	inflate_all(gz.data, gz.len, &back);
	assert_int_equal(back.len, big.len);
	assert_memory_equal(back.data, big.data, big.len);
	buf_reset(&gz);
	buf_reset(&back);
	assert_int_equal(dmarc_report_gzip("", 0, &gz), 0);
	inflate_all(gz.data, gz.len, &back);
	assert_int_equal(back.len, 0);
	buf_free(&big);
	buf_free(&gz);
	buf_free(&back);
}

/*
 * rua= destinations.
 */
static void
test_rua_mailto(void **state)
{
	static const struct {
		const char *uri;
		const char *addr, *domain; /* NULL: refused */
	} rows[] = {
		{"mailto:dmarc@example.org", "dmarc@example.org", "example.org"},
		{"MAILTO:Dmarc@Example.ORG", "Dmarc@Example.ORG", "example.org"},
		{"mailto:rua%2Bdmarc@example.org", "rua+dmarc@example.org", "example.org"},
		{"mailto:a@example.org?subject=DMARC", "a@example.org", "example.org"},
		{"mailto:%61@example.org", "a@example.org", "example.org"},
		{"mailto:a@example.org%2Cb@example.org", NULL, NULL}, /* two addresses */
		{"mailto:a@example.org,b@example.org", NULL, NULL},
		{"mailto:", NULL, NULL},
		{"mailto:?to=a@example.org", NULL, NULL},
		{"https://example.org/rua", NULL, NULL},
		{"mail:a@example.org", NULL, NULL},
		{"mailto:a@[192.0.2.1]", NULL, NULL},
		{"mailto:a%0D%0ARCPT@example.org", NULL, NULL},
		{"mailto:a%20b@example.org", NULL, NULL},
		{"mailto:a%2", NULL, NULL},
		{"mailto:a%zz@example.org", NULL, NULL},
		{"mailto:postmaster", NULL, NULL},
		{"mailto:a", NULL, NULL},
		{"mailto:@relay.example:u@example.org", NULL, NULL}, /* source route */
		{"mailto:d%40x@example.org", NULL, NULL},
		{"mailto:user@exa_mple.org", NULL, NULL},
		{"mailto:r\xc3\xa9@example.org", NULL, NULL},
		{"mailto:<a@example.org>", NULL, NULL},
	};
	char addr[SMTP_PATH_MAX + 1], domain[SMTP_DOMAIN_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = dmarc_rua_mailto(rows[i].uri, strlen(rows[i].uri), addr, domain);

		if (rc != (rows[i].addr ? 0 : -1))
			fail_msg("row %zu \"%s\": rc %d", i, rows[i].uri, rc);
		if (rc == 0) {
			assert_string_equal(addr, rows[i].addr);
			assert_string_equal(domain, rows[i].domain);
		}
	}
}

static void
test_rua_targets(void **state)
{
	static const char rec[] = "v=DMARC1; p=none; rua=mailto:a@example.org!10m,"
				  "https://example.org/r,mailto:bad,mailto:A@example.org,"
				  "mailto:b@other.example!50k";
	static const enum dmarc_rua_status want[] = {DMARC_RUA_SEND, DMARC_RUA_NOT_MAILTO,
		DMARC_RUA_BAD_ADDRESS, DMARC_RUA_DUPLICATE, DMARC_RUA_SEND};
	struct dmarc_rua_target t[DMARC_URIS_MAX];
	struct dmarc_record r;
	char err[128];
	size_t i;

	(void)state;
	assert_int_equal(dmarc_record_parse(rec, strlen(rec), &r, err, sizeof(err)), 0);
	assert_int_equal(r.nrua, 5);
	dmarc_rua_targets(r.rua, r.nrua, t);
	for (i = 0; i < r.nrua; i++)
		if (t[i].status != want[i])
			fail_msg("uri %zu: %s, want %s", i, dmarc_rua_status_name(t[i].status),
				 dmarc_rua_status_name(want[i]));
	assert_string_equal(t[0].addr, "a@example.org");
	assert_int_equal(t[0].max_size, 10 * 1024 * 1024);
	assert_string_equal(t[4].domain, "other.example");
	assert_int_equal(t[4].max_size, 50 * 1024);
}

static void
test_rua_external(void **state)
{
	static const struct {
		const char *policy, *rua;
		bool external;
	} rows[] = {
		{"example.org", "example.org", false},
		{"example.org", "reports.example.org", false},
		{"mail.example.org", "example.org", false},
		{"Example.ORG", "dmarc.example.org.", false},
		{"example.org", "example.net", true},
		{"example.co.uk", "other.co.uk", true},
		{"example.co.uk", "reports.example.co.uk", false},
		{"example.org", "co.uk", true}, /* a public suffix: no org domain */
		{"example.org", "", true},
	};
	char err[256];
	struct dmarc_psl *psl = dmarc_psl_load(PSL_LIST, err, sizeof(err));
	size_t i;

	(void)state;
	assert_non_null(psl);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (dmarc_rua_is_external(psl, rows[i].policy, rows[i].rua) != rows[i].external)
			fail_msg("row %zu: %s -> %s", i, rows[i].policy, rows[i].rua);
	dmarc_psl_free(psl);
}

static void
test_rua_check_name(void **state)
{
	static const struct {
		const char *policy, *rua, *name; /* NULL: refused */
	} rows[] = {
		{"example.org", "thirdparty.example", "example.org._report._dmarc.thirdparty.example"},
		{"Example.ORG.", "ThirdParty.Example.", "example.org._report._dmarc.thirdparty.example"},
		{"exa mple.org", "thirdparty.example", NULL},
		{"example.org", "", NULL},
		{"example.org", "-bad.example", NULL},
		{"example.org", "[192.0.2.1]", NULL},
	};
	char name[DMARC_DOMAIN_MAX + 1], longd[DMARC_DOMAIN_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = dmarc_rua_check_name(rows[i].policy, rows[i].rua, name, sizeof(name));

		if (rc != (rows[i].name ? 0 : -1))
			fail_msg("row %zu: rc %d", i, rc);
		if (rc == 0)
			assert_string_equal(name, rows[i].name);
	}
	/* 4 labels of 59 + dots: 239 bytes, fine alone, too long with the rest */
	snprintf(longd, sizeof(longd), "%1$.59s.%1$.59s.%1$.59s.%1$.59s",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(dmarc_rua_check_name("example.org", longd, name, sizeof(name)), -1);
	assert_int_equal(dmarc_rua_check_name("example.org", "x.example", name, 10), -1);
}

static void
test_rua_authorize(void **state)
{
	static const struct {
		const char *txt[2];
		size_t len0; /* 0: strlen */
		int rc;
		const char *addr;
		uint64_t max;
	} rows[] = {
		{{NULL, NULL}, 0, -1, NULL, 0}, /* NXDOMAIN or no TXT */
		{{"v=DMARC1", NULL}, 0, 0, "dmarc@thirdparty.example", 0},
		{{"v=DMARC1;", NULL}, 0, 0, "dmarc@thirdparty.example", 0},
		{{" v = DMARC1 ; ; ", NULL}, 0, 0, "dmarc@thirdparty.example", 0},
		{{"V=dmarc1", NULL}, 0, 0, "dmarc@thirdparty.example", 0},
		{{"v=spf1 -all", NULL}, 0, -1, NULL, 0},
		{{"v=DMARC2", NULL}, 0, -1, NULL, 0},
		{{"v=DMARC10", NULL}, 0, -1, NULL, 0},
		{{"p=none; v=DMARC1", NULL}, 0, -1, NULL, 0},
		{{"v=DMARC1; garbage", NULL}, 0, -1, NULL, 0},
		{{"v=DMARC1; b@d=1", NULL}, 0, -1, NULL, 0},
		{{"", NULL}, 0, -1, NULL, 0},
		{{"v=DMARC1\0", NULL}, 9, -1, NULL, 0}, /* a NUL inside */
		{{"v=spf1 -all", "v=DMARC1"}, 0, 0, "dmarc@thirdparty.example", 0},
		/* 7.1 step 8: an override on the same host replaces the address */
		{{"v=DMARC1; rua=mailto:other@thirdparty.example!1m", NULL}, 0, 0,
		 "other@thirdparty.example", 1024 * 1024},
		{{"v=DMARC1; rua=https://x.example/r,mailto:o2@ThirdParty.example", NULL}, 0, 0,
		 "o2@ThirdParty.example", 0},
		/* ... and only there */
		{{"v=DMARC1; rua=mailto:evil@elsewhere.example", NULL}, 0, 0,
		 "dmarc@thirdparty.example", 0},
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dmarc_rua_target t = {"dmarc@thirdparty.example", "thirdparty.example", 0,
					     DMARC_RUA_SEND};
		struct dmarc_txt txt[2];
		int rc;

		for (n = 0; n < 2 && rows[i].txt[n] != NULL; n++) {
			txt[n].txt = rows[i].txt[n];
			txt[n].len = n == 0 && rows[i].len0 ? rows[i].len0 : strlen(rows[i].txt[n]);
		}
		rc = dmarc_rua_authorize(&t, txt, n);
		if (rc != rows[i].rc)
			fail_msg("row %zu: rc %d", i, rc);
		if (rc == 0) {
			assert_int_equal(t.status, DMARC_RUA_SEND);
			assert_string_equal(t.addr, rows[i].addr);
			assert_int_equal(t.max_size, rows[i].max);
		} else {
			assert_int_equal(t.status, DMARC_RUA_UNAUTHORIZED);
		}
	}
	/* a target already refused stays as it is */
	{
		struct dmarc_rua_target t = {"", "", 0, DMARC_RUA_NOT_MAILTO};
		struct dmarc_txt ok = {"v=DMARC1", 8};

		assert_int_equal(dmarc_rua_authorize(&t, &ok, 1), -1);
		assert_int_equal(t.status, DMARC_RUA_NOT_MAILTO);
	}
}

/*
 * The report mail.
 */

/* attachment - the base64 body of the mail's attachment, decoded. */
static void
attachment(const char *msg, struct buf *out)
{
	const char *p = strstr(msg, "Content-Disposition: attachment;");
	const char *end;
	struct buf b64 = BUF_INIT;
	int n;

	assert_non_null(p);
	p = strstr(p, "\r\n\r\n");
	assert_non_null(p);
	p += 4;
	end = strstr(p, "\r\n--=_");
	assert_non_null(end);
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			buf_addc(&b64, *p);
	buf_reserve(out, b64.len);
	n = EVP_DecodeBlock((unsigned char *)out->data, (const unsigned char *)b64.data,
			    (int)b64.len);
	assert_true(n >= 0);
	out->len = (size_t)n - (b64.len > 0 && b64.data[b64.len - 1] == '=') -
		   (b64.len > 1 && b64.data[b64.len - 2] == '=');
	buf_free(&b64);
}

/* check_wire - CRLF lines only, none longer than 998, none starting with '.'. */
static void
check_wire(const char *msg, size_t len)
{
	size_t i, col = 0;

	for (i = 0; i < len; i++) {
		if (msg[i] == '\n')
			assert_true(i > 0 && msg[i - 1] == '\r');
		if (msg[i] == '\r')
			assert_true(i + 1 < len && msg[i + 1] == '\n');
		if (col == 0)
			assert_true(msg[i] != '.');
		col = msg[i] == '\n' ? 0 : col + 1;
		assert_true(col <= 998);
	}
	assert_int_equal(col, 0);
}

static struct dmarc_report_mail
mail_fields(void)
{
	return (struct dmarc_report_mail){"dmarc-reports@example.net", "example.net",
					  "mx.example.net", "example.org", "r1", T0, T0 + DAY_S,
					  (time_t)(T0 + DAY_S + 600)};
}

static void
test_report_mail(void **state)
{
	struct dmarc_report_mail m = mail_fields();
	struct dmarc_rua_target t[3] = {
		{"rua@example.org", "example.org", 0, DMARC_RUA_SEND},
		{"small@example.org", "example.org", 1024, DMARC_RUA_SEND},
		{"", "", 0, DMARC_RUA_NOT_MAILTO},
	};
	struct buf out = BUF_INIT, gz = BUF_INIT, xml = BUF_INIT;
	char err[128];

	(void)state;
	assert_int_equal(dmarc_report_mail(&m, golden_xml, strlen(golden_xml), t, 3, &out, err,
					   sizeof(err)),
			 0);
	assert_int_equal(t[0].status, DMARC_RUA_SEND);
	assert_int_equal(t[1].status, DMARC_RUA_TOO_BIG);
	assert_int_equal(t[2].status, DMARC_RUA_NOT_MAILTO);
	check_wire(out.data, out.len);
	assert_true(strncmp(out.data, "From: <dmarc-reports@example.net>\r\nTo: <rua@example.org>\r\n",
			    58) == 0);
	assert_non_null(strstr(out.data, "To: <rua@example.org>\r\nSubject: Report Domain: "
					 "example.org Submitter: example.net Report-ID: <r1>\r\n"
					 "Date: Thu, 16 Nov 2023 00:10:00 +0000\r\n"
					 "Message-ID: <r1.dmarc@mx.example.net>\r\n"
					 "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
					 "Content-Type: multipart/mixed;\r\n boundary=\"=_r1\"\r\n"));
	assert_null(strstr(out.data, "small@"));
	assert_non_null(strstr(out.data, "\r\n--=_r1\r\nContent-Type: text/plain; "
					 "charset=us-ascii\r\n"));
	assert_non_null(strstr(out.data, "Content-Type: application/gzip;\r\n name=\"example.net!"
					 "example.org!1700006400!1700092799!r1.xml.gz\"\r\n"
					 "Content-Transfer-Encoding: base64\r\n"
					 "Content-Disposition: attachment;\r\n filename=\"example.net!"
					 "example.org!1700006400!1700092799!r1.xml.gz\"\r\n\r\n"));
	assert_true(out.len > 10 && strcmp(out.data + out.len - 10, "--=_r1--\r\n") == 0);
	attachment(out.data, &gz);
	inflate_all(gz.data, gz.len, &xml);
	assert_string_equal(buf_cstr(&xml), golden_xml);
	buf_free(&out);
	buf_free(&gz);
	buf_free(&xml);
}

static void
test_report_mail_refused(void **state)
{
	struct dmarc_report_mail m;
	struct dmarc_rua_target t[1];
	struct buf out = BUF_INIT;
	char err[128];
	static const char *const bad_from[] = {"not an address", "a@b.example\r\nBcc: x@y.example",
					       "<a@b.example>", "a@[192.0.2.1]", "postmaster", ""};
	size_t i;

	(void)state;
	t[0] = (struct dmarc_rua_target){"tiny@example.org", "example.org", 100, DMARC_RUA_SEND};
	m = mail_fields();
	assert_int_equal(dmarc_report_mail(&m, golden_xml, strlen(golden_xml), t, 1, &out, err,
					   sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "size limit"));
	assert_int_equal(t[0].status, DMARC_RUA_TOO_BIG);
	/* nobody left to send to */
	assert_int_equal(dmarc_report_mail(&m, golden_xml, strlen(golden_xml), t, 1, &out, err,
					   sizeof(err)),
			 -1);
	assert_string_equal(err, "no destination to send the report to");
	t[0] = (struct dmarc_rua_target){"rua@example.org", "example.org", 0, DMARC_RUA_SEND};
	for (i = 0; i < sizeof(bad_from) / sizeof(bad_from[0]); i++) {
		m = mail_fields();
		m.from = bad_from[i];
		assert_int_equal(dmarc_report_mail(&m, "x", 1, t, 1, &out, err, sizeof(err)), -1);
		assert_string_equal(err, "from is not a plain address");
	}
	m = mail_fields();
	m.report_id = "r1\r\nBcc: x";
	assert_int_equal(dmarc_report_mail(&m, "x", 1, t, 1, &out, err, sizeof(err)), -1);
	m = mail_fields();
	m.policy_domain = "example.org\r\nX: y";
	assert_int_equal(dmarc_report_mail(&m, "x", 1, t, 1, &out, err, sizeof(err)), -1);
	m = mail_fields();
	m.end = m.begin;
	assert_int_equal(dmarc_report_mail(&m, "x", 1, t, 1, &out, err, sizeof(err)), -1);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void
test_report_mail_fold(void **state)
{
	struct dmarc_report_mail m = mail_fields();
	struct dmarc_rua_target t[1] = {{"rua@example.org", "example.org", 0, DMARC_RUA_SEND}};
	struct buf out = BUF_INIT;
	char err[128];

	(void)state;
	m.policy_domain = "a-rather-long-subdomain-label.of-a-long-policy-domain.example.org";
	assert_int_equal(dmarc_report_mail(&m, "x", 1, t, 1, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out.data, "Subject: Report Domain: a-rather-long-subdomain-label."
					 "of-a-long-policy-domain.example.org\r\n"
					 " Submitter: example.net\r\n Report-ID: <r1>\r\n"));
	check_wire(out.data, out.len);
	buf_free(&out);
}

/*
 * The store.
 */
static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/postern-dmarc-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/dmarc.db", dir);
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

static struct dmarc_store *
open_store(uint64_t rows_per_day)
{
	char err[256];
	struct dmarc_store *st = dmarc_store_open(path, rows_per_day, err, sizeof(err));

	if (st == NULL)
		fail_msg("%s", err);
	return st;
}

/* eval - a passing message from 192.0.2.1 for example.org. */
static struct dmarc_eval
eval(int64_t t)
{
	struct dmarc_eval e;
	const char *rec = "v=DMARC1; p=none; aspf=s; pct=100;"
			  " rua=mailto:rua@example.org,mailto:x@thirdparty.example!20k";
	struct dmarc_record r;
	char err[128];

	memset(&e, 0, sizeof(e));
	e.time = t;
	snprintf(e.source_ip, sizeof(e.source_ip), "%s", "192.0.2.1");
	snprintf(e.header_from, sizeof(e.header_from), "%s", "example.org");
	snprintf(e.envelope_from, sizeof(e.envelope_from), "%s", "example.org");
	snprintf(e.envelope_to, sizeof(e.envelope_to), "%s", "example.net");
	assert_int_equal(dmarc_record_parse(rec, strlen(rec), &r, err, sizeof(err)), 0);
	assert_int_equal(dmarc_eval_set_policy(&e, "example.org", &r), 0);
	e.disposition = DMARC_P_NONE;
	e.dkim_pass = e.spf_pass = true;
	e.ndkim = 1;
	snprintf(e.dkim[0].domain, sizeof(e.dkim[0].domain), "%s", "example.org");
	snprintf(e.dkim[0].selector, sizeof(e.dkim[0].selector), "%s", "sel1");
	e.dkim[0].result = dmarc_dkim_result_of(DKIM_PASS);
	snprintf(e.spf.domain, sizeof(e.spf.domain), "%s", "example.org");
	e.spf.result = SPF_PASS;
	return e;
}

static void
add(struct dmarc_store *st, const struct dmarc_eval *e)
{
	if (dmarc_store_add(st, e) != 0)
		fail_msg("add: %s", dmarc_store_error(st));
}

static int64_t
sql_count(const char *table)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	char sql[128];
	int64_t n;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void
test_store_aggregate(void **state)
{
	struct dmarc_store *st = open_store(0);
	struct dmarc_eval e = eval(T0 + 10), e2, e3, e4;
	struct dmarc_report_domain *doms;
	struct dmarc_report_data d;
	struct dmarc_store_stats stats;
	struct stat sb;
	size_t n;

	(void)state;
	add(st, &e);
	e.time = T0 + 3700; /* another hour, the same report row */
	add(st, &e);
	snprintf(e.source_ip, sizeof(e.source_ip), "%s", "::ffff:192.0.2.1"); /* the same client */
	snprintf(e.header_from, sizeof(e.header_from), "%s", "EXAMPLE.org");
	add(st, &e);
	e2 = eval(T0 + 20);
	snprintf(e2.source_ip, sizeof(e2.source_ip), "%s", "2001:DB8::1");
	e2.dkim_pass = e2.spf_pass = false;
	e2.override = DMARC_OVERRIDE_SAMPLED_OUT;
	snprintf(e2.override_comment, sizeof(e2.override_comment), "%s", "pct <50>");
	e2.ndkim = 0;
	e2.envelope_from[0] = e2.envelope_to[0] = '\0';
	snprintf(e2.spf.domain, sizeof(e2.spf.domain), "%s", "mx.example.com");
	e2.spf.scope = DMARC_SPF_HELO;
	e2.spf.result = SPF_NONE;
	add(st, &e2);
	e3 = eval(T0 + 30);
	snprintf(e3.policy.domain, sizeof(e3.policy.domain), "%s", "other.example");
	snprintf(e3.policy.rua[0].uri, sizeof(e3.policy.rua[0].uri), "%s", "mailto:r@other.example");
	e3.policy.nrua = 1;
	e3.policy.fo[0] = '\0'; /* stored as the default */
	add(st, &e3);
	e4 = eval(T0 + 40);
	e4.policy.nrua = 0; /* asks for no reports: not kept */
	add(st, &e4);
	e = eval(T0 + DAY_S + 5); /* the next day */
	add(st, &e);
	/* the policy changes in the afternoon: the report shows the new one */
	e = eval(T0 + 15 * 3600);
	e.policy.p = DMARC_P_REJECT;
	add(st, &e);

	dmarc_store_stats(st, &stats);
	assert_int_equal(stats.recorded, 7);
	assert_int_equal(stats.no_rua, 1);
	assert_int_equal(stats.dropped, 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(dmarc_store_domains(st, T0, T0 + DAY_S, &doms, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(doms[0].domain, "example.org");
	assert_int_equal(doms[0].nrua, 2);
	assert_string_equal(doms[0].rua[1].uri, "mailto:x@thirdparty.example");
	assert_int_equal(doms[0].rua[1].max_size, 20 * 1024);
	assert_string_equal(doms[1].domain, "other.example");
	assert_int_equal(doms[1].nrua, 1);
	free(doms);

	assert_int_equal(dmarc_store_aggregate(st, "Example.ORG", T0, T0 + DAY_S, &d), 0);
	assert_int_equal(d.nrows, 2);
	assert_int_equal(d.policy.p, DMARC_P_REJECT);
	assert_true(d.policy.aspf_strict);
	assert_int_equal(d.rows[0].count, 4);
	assert_string_equal(d.rows[0].source_ip, "192.0.2.1");
	assert_string_equal(d.rows[0].header_from, "example.org");
	assert_int_equal(d.rows[0].ndkim, 1);
	assert_string_equal(d.rows[0].dkim[0].selector, "sel1");
	assert_int_equal(d.rows[0].dkim[0].result, DMARC_DKIM_PASS);
	assert_int_equal(d.rows[1].count, 1);
	assert_string_equal(d.rows[1].source_ip, "2001:db8::1");
	assert_int_equal(d.rows[1].override, DMARC_OVERRIDE_SAMPLED_OUT);
	assert_string_equal(d.rows[1].comment, "pct <50>");
	assert_string_equal(d.rows[1].envelope_from, "");
	assert_int_equal(d.rows[1].ndkim, 0);
	assert_string_equal(d.rows[1].spf_domain, "mx.example.com");
	assert_int_equal(d.rows[1].spf_scope, DMARC_SPF_HELO);
	assert_int_equal(d.omitted, 0);
	assert_int_equal(d.dropped, 0);
	dmarc_report_data_free(&d);

	/* reported: gone, and so are the policies and results nobody uses */
	assert_int_equal(sql_count("policy"), 3);
	assert_int_equal(dmarc_store_delete(st, "example.org", T0, T0 + DAY_S), 0);
	assert_int_equal(dmarc_store_aggregate(st, "example.org", T0, T0 + DAY_S, &d), 0);
	assert_int_equal(d.nrows, 0);
	assert_int_equal(dmarc_store_aggregate(st, "other.example", T0, T0 + DAY_S, &d), 0);
	assert_int_equal(d.nrows, 1);
	assert_string_equal(d.policy.fo, "0");
	dmarc_report_data_free(&d);
	assert_int_equal(dmarc_store_aggregate(st, "example.org", T0 + DAY_S, T0 + 2 * DAY_S, &d),
			 0);
	assert_int_equal(d.nrows, 1);
	dmarc_report_data_free(&d);
	assert_int_equal(sql_count("policy"), 2);
	assert_int_equal(sql_count("policy_rua"), 3);
	assert_int_equal(sql_count("auth"), 1);

	/* periods are whole hours */
	assert_int_equal(dmarc_store_aggregate(st, "example.org", T0 + 1, T0 + DAY_S, &d), -1);
	assert_non_null(strstr(dmarc_store_error(st), "whole hours"));
	assert_int_equal(dmarc_store_domains(st, T0, T0, &doms, &n), -1);
	assert_int_equal(dmarc_store_delete(st, "example.org", T0 + DAY_S, T0), -1);
	dmarc_store_close(st);

	/* everything survives a reopen */
	st = open_store(0);
	assert_int_equal(dmarc_store_domains(st, T0, T0 + 2 * DAY_S, &doms, &n), 0);
	assert_int_equal(n, 2);
	free(doms);
	assert_int_equal(dmarc_store_expire(st, T0 + 2 * DAY_S), 0);
	assert_int_equal(dmarc_store_domains(st, T0, T0 + 2 * DAY_S, &doms, &n), 0);
	assert_int_equal(n, 0);
	free(doms);
	assert_int_equal(sql_count("policy"), 0);
	assert_int_equal(sql_count("auth_dkim"), 0);
	dmarc_store_close(st);
}

static void
test_store_limit(void **state)
{
	struct dmarc_store *st = open_store(2);
	struct dmarc_eval e = eval(T0 + 10);
	struct dmarc_store_stats stats;
	struct dmarc_report_data d;
	struct dmarc_report_meta m = {"example.net", "r@example.net", NULL, "r2", T0, T0 + DAY_S};
	struct buf xml = BUF_INIT;
	char err[128];

	(void)state;
	add(st, &e);
	snprintf(e.source_ip, sizeof(e.source_ip), "%s", "192.0.2.2");
	add(st, &e);
	snprintf(e.source_ip, sizeof(e.source_ip), "%s", "192.0.2.3"); /* a third row: the day is full */
	add(st, &e);
	add(st, &e);
	snprintf(e.source_ip, sizeof(e.source_ip), "%s", "192.0.2.1"); /* an existing row still counts */
	add(st, &e);
	e.time = T0 + DAY_S; /* a new day has room */
	snprintf(e.source_ip, sizeof(e.source_ip), "%s", "192.0.2.9");
	add(st, &e);
	dmarc_store_stats(st, &stats);
	assert_int_equal(stats.recorded, 4);
	assert_int_equal(stats.dropped, 2);

	assert_int_equal(dmarc_store_aggregate(st, "example.org", T0, T0 + DAY_S, &d), 0);
	assert_int_equal(d.nrows, 2);
	assert_int_equal(d.rows[0].count, 2);
	assert_string_equal(d.rows[0].source_ip, "192.0.2.1");
	assert_int_equal(d.dropped, 2);
	assert_int_equal(dmarc_report_xml(&m, &d, &xml, err, sizeof(err)), 0);
	assert_non_null(strstr(xml.data, "<error>2 evaluations (all domains) of these days were "
					 "not recorded: storage limit</error>"));
	dmarc_report_data_free(&d);
	buf_free(&xml);
	/* the drop count goes with its day */
	assert_int_equal(dmarc_store_expire(st, T0 + DAY_S), 0);
	assert_int_equal(dmarc_store_aggregate(st, "example.org", T0, T0 + 2 * DAY_S, &d), 0);
	assert_int_equal(d.nrows, 1);
	assert_int_equal(d.dropped, 0);
	dmarc_report_data_free(&d);
	dmarc_store_close(st);
}

/* The ways an evaluation can be malformed, and what the store says. */
enum spoil {
	SPOIL_TIME,
	SPOIL_TIME_FAR,
	SPOIL_IP,
	SPOIL_IP_SPACE,
	SPOIL_IP_NAME,
	SPOIL_FROM_EMPTY,
	SPOIL_FROM_SPACE,
	SPOIL_FROM_LF,
	SPOIL_FROM_UTF8,
	SPOIL_FROM_UNTERMINATED,
	SPOIL_ENVTO_CTRL,
	SPOIL_DISPOSITION,
	SPOIL_OVERRIDE,
	SPOIL_COMMENT_ALONE,
	SPOIL_COMMENT_LF,
	SPOIL_POLICY_DOMAIN,
	SPOIL_PCT,
	SPOIL_P,
	SPOIL_FO,
	SPOIL_NRUA,
	SPOIL_RUA_SPACE,
	SPOIL_NDKIM,
	SPOIL_DKIM_DOMAIN,
	SPOIL_DKIM_RESULT,
	SPOIL_SPF_RESULT,
	SPOIL_SPF_SCOPE,
};

static void
spoil(struct dmarc_eval *e, enum spoil s)
{
	switch (s) {
	case SPOIL_TIME:
		e->time = -1;
		break;
	case SPOIL_TIME_FAR:
		e->time = INT64_MAX;
		break;
	case SPOIL_IP:
		snprintf(e->source_ip, sizeof(e->source_ip), "%s", "192.0.2");
		break;
	case SPOIL_IP_SPACE:
		snprintf(e->source_ip, sizeof(e->source_ip), "%s", "192.0.2.1 ");
		break;
	case SPOIL_IP_NAME:
		snprintf(e->source_ip, sizeof(e->source_ip), "%s", "mx.example.org");
		break;
	case SPOIL_FROM_EMPTY:
		e->header_from[0] = '\0';
		break;
	case SPOIL_FROM_SPACE:
		snprintf(e->header_from, sizeof(e->header_from), "%s", "example.org evil");
		break;
	case SPOIL_FROM_LF:
		snprintf(e->header_from, sizeof(e->header_from), "%s", "example.org\n<x>");
		break;
	case SPOIL_FROM_UTF8:
		snprintf(e->header_from, sizeof(e->header_from), "%s", "ex\xffmple.org");
		break;
	case SPOIL_FROM_UNTERMINATED:
		memset(e->header_from, 'a', sizeof(e->header_from));
		break;
	case SPOIL_ENVTO_CTRL:
		snprintf(e->envelope_to, sizeof(e->envelope_to), "%s", "a\x01.example");
		break;
	case SPOIL_DISPOSITION:
		e->disposition = (enum dmarc_policy)7;
		break;
	case SPOIL_OVERRIDE:
		e->override = (enum dmarc_override)99;
		break;
	case SPOIL_COMMENT_ALONE:
		snprintf(e->override_comment, sizeof(e->override_comment), "%s", "no override");
		break;
	case SPOIL_COMMENT_LF:
		e->override = DMARC_OVERRIDE_OTHER;
		snprintf(e->override_comment, sizeof(e->override_comment), "%s", "line\nbreak");
		break;
	case SPOIL_POLICY_DOMAIN:
		e->policy.domain[0] = '\0';
		break;
	case SPOIL_PCT:
		e->policy.pct = 101;
		break;
	case SPOIL_P:
		e->policy.sp = (enum dmarc_policy)3;
		break;
	case SPOIL_FO:
		snprintf(e->policy.fo, sizeof(e->policy.fo), "%s", "0 1");
		break;
	case SPOIL_NRUA:
		e->policy.nrua = DMARC_URIS_MAX + 1;
		break;
	case SPOIL_RUA_SPACE:
		snprintf(e->policy.rua[1].uri, sizeof(e->policy.rua[1].uri), "%s", "mailto:a b@example.org");
		break;
	case SPOIL_NDKIM:
		e->ndkim = DMARC_REPORT_DKIM_MAX + 1;
		break;
	case SPOIL_DKIM_DOMAIN:
		e->dkim[0].domain[0] = '\0';
		break;
	case SPOIL_DKIM_RESULT:
		e->dkim[0].result = (enum dmarc_dkim_result)42;
		break;
	case SPOIL_SPF_RESULT:
		e->spf.result = (enum spf_result)9;
		break;
	case SPOIL_SPF_SCOPE:
		e->spf.scope = (enum dmarc_spf_scope)2;
		break;
	}
}

static void
test_store_refuses(void **state)
{
	static const struct {
		enum spoil spoil;
		const char *why;
	} rows[] = {
		{SPOIL_TIME, "time"},
		{SPOIL_TIME_FAR, "time"},
		{SPOIL_IP, "source_ip"},
		{SPOIL_IP_SPACE, "source_ip"},
		{SPOIL_IP_NAME, "source_ip"},
		{SPOIL_FROM_EMPTY, "identifiers"},
		{SPOIL_FROM_SPACE, "identifiers"},
		{SPOIL_FROM_LF, "identifiers"},
		{SPOIL_FROM_UTF8, "identifiers"},
		{SPOIL_FROM_UNTERMINATED, "identifiers"},
		{SPOIL_ENVTO_CTRL, "identifiers"},
		{SPOIL_DISPOSITION, "disposition or override"},
		{SPOIL_OVERRIDE, "disposition or override"},
		{SPOIL_COMMENT_ALONE, "disposition or override"},
		{SPOIL_COMMENT_LF, "disposition or override"},
		{SPOIL_POLICY_DOMAIN, "policy domain"},
		{SPOIL_PCT, "policy values"},
		{SPOIL_P, "policy values"},
		{SPOIL_FO, "policy values"},
		{SPOIL_NRUA, "policy values"},
		{SPOIL_RUA_SPACE, "rua URI"},
		{SPOIL_NDKIM, "DKIM results"},
		{SPOIL_DKIM_DOMAIN, "DKIM results"},
		{SPOIL_DKIM_RESULT, "DKIM results"},
		{SPOIL_SPF_RESULT, "SPF result"},
		{SPOIL_SPF_SCOPE, "SPF result"},
	};
	struct dmarc_store *st = open_store(0);
	struct dmarc_report_domain *doms;
	struct dmarc_store_stats stats;
	char want[128];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dmarc_eval e = eval(T0 + 10);

		spoil(&e, rows[i].spoil);
		snprintf(want, sizeof(want), "malformed evaluation: %s", rows[i].why);
		if (dmarc_store_add(st, &e) != -1 || strcmp(dmarc_store_error(st), want) != 0)
			fail_msg("row %zu: \"%s\", want \"%s\"", i, dmarc_store_error(st), want);
	}
	dmarc_store_stats(st, &stats);
	assert_int_equal(stats.recorded, 0);
	assert_int_equal(dmarc_store_domains(st, T0, T0 + DAY_S, &doms, &n), 0);
	assert_int_equal(n, 0);
	free(doms);
	dmarc_store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_escape),
		cmocka_unit_test(test_report_xml),
		cmocka_unit_test(test_report_xml_refused),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_rua_mailto),
		cmocka_unit_test(test_rua_targets),
		cmocka_unit_test(test_rua_external),
		cmocka_unit_test(test_rua_check_name),
		cmocka_unit_test(test_rua_authorize),
		cmocka_unit_test(test_report_mail),
		cmocka_unit_test(test_report_mail_refused),
		cmocka_unit_test(test_report_mail_fold),
		cmocka_unit_test_setup_teardown(test_store_aggregate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_refuses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
