/* SPDX-License-Identifier: ISC */
/*
 * test_findings - the findings model of `postern check` (src/cli/
 * findings.c): the catalogue (ids well formed, unique, each documented in
 * docs/operations.md), the exit status for each worst severity, the order,
 * the text and JSON reports (golden), untrusted text made harmless, and
 * the cap on kept findings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli/findings.h"
#include "lib/buf.h"
#include "lib/file.h"

static const struct findings_meta meta = {"mx.example.test", "/etc/postern/postern.conf",
					  "0.1.0", 1795860000}; /* 2026-11-28T10:00:00Z */

static void
test_catalogue(void **state)
{
	const struct findings_kind *k;
	struct buf doc = BUF_INIT, tick = BUF_INIT;
	size_t n, i, j;

	(void)state;
	k = findings_kinds(&n);
	assert_true(n > 50);
	assert_int_equal(file_read(SRCDIR "/docs/operations.md", 1 << 20, &doc), 0);
	for (i = 0; i < n; i++) {
		assert_true(strlen(k[i].id) > 3);
		assert_int_equal(strspn(k[i].id, "abcdefghijklmnopqrstuvwxyz0123456789.-"), strlen(k[i].id));
		assert_non_null(strchr(k[i].id, '.'));
		assert_true(k[i].title[0] != '\0' && k[i].meaning[0] != '\0');
		/* every finding above info says how to fix it */
		if (k[i].sev != SEV_INFO && k[i].fix[0] == '\0')
			fail_msg("%s has no fix", k[i].id);
		for (j = 0; j < i; j++)
			if (strcmp(k[i].id, k[j].id) == 0)
				fail_msg("%s twice", k[i].id);
		assert_ptr_equal(findings_kind(k[i].id), &k[i]);
		/* documented, with its severity: "| `id` | severity |" */
		buf_reset(&tick);
		buf_addf(&tick, "| `%s` | %s |", k[i].id, findings_sev_name(k[i].sev));
		if (strstr(buf_cstr(&doc), buf_cstr(&tick)) == NULL)
			fail_msg("docs/operations.md lacks the row %s", buf_cstr(&tick));
	}
	assert_null(findings_kind("no.such-kind"));
	buf_free(&doc);
	buf_free(&tick);
}

static void
test_exit_status(void **state)
{
	static const struct {
		const char *ids[3];
		enum findings_sev worst;
		int exit;
	} rows[] = {
		{{NULL}, SEV_INFO, 0},
		{{"version.library", NULL}, SEV_INFO, 0},
		{{"auth.min-length", "version.postern", NULL}, SEV_LOW, 0},
		{{"auth.min-length", "guard.ban-short", NULL}, SEV_MEDIUM, 3},
		{{"tls.cert-expiring", "guard.ban-short", NULL}, SEV_HIGH, 4},
		{{"relay.open", "tls.cert-expiring", "accounts.none"}, SEV_CRITICAL, 5},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct findings f;

		findings_init(&f);
		for (j = 0; j < 3 && rows[i].ids[j] != NULL; j++)
			findings_add(&f, rows[i].ids[j], NULL);
		if (findings_worst(&f) != rows[i].worst || findings_exit_status(&f) != rows[i].exit)
			fail_msg("row %zu: worst %d exit %d", i, findings_worst(&f),
				 findings_exit_status(&f));
		findings_free(&f);
	}
	/* a severity of the caller's counts, not the kind's */
	{
		struct findings f;

		findings_init(&f);
		findings_add_as(&f, "accounts.no-2fa", SEV_MEDIUM, "2 of 2 accounts", NULL);
		assert_int_equal(findings_exit_status(&f), 3);
		assert_int_equal(f.count[SEV_MEDIUM], 1);
		assert_int_equal(f.count[SEV_LOW], 0);
		assert_true(findings_has(&f, "accounts.no-2fa"));
		assert_false(findings_has(&f, "accounts.none"));
		findings_free(&f);
	}
}

/* The three findings the golden reports hold, added out of order. */
static void
golden_findings(struct findings *f)
{
	findings_init(f);
	findings_add(f, "version.library", "OpenSSL 3.0.15 (built with 3.0.15)");
	findings_add_as(f, "dns.dmarc.missing", SEV_HIGH, "example.test",
			"publish: _dmarc.example.test. IN TXT \"v=DMARC1; p=quarantine\"");
	findings_addf(f, "guard.rate-off", "%s 0 (default %d)", "conn_rate", 120);
	findings_sort(f);
}

static const char golden_text[] =
	"postern check of mx.example.test (/etc/postern/postern.conf, postern 0.1.0) at "
	"2026-11-28T10:00:00Z\n"
	"0 critical, 1 high, 1 medium, 0 low, 1 info: exit status 4\n"
	"\n"
	"HIGH     dns.dmarc.missing: A domain publishes no DMARC policy\n"
	"    where:   example.test\n"
	"    means:   Anyone may put the domain in the From: of their mail, and receivers have no "
	"policy telling them to refuse it.\n"
	"    fix:     publish: _dmarc.example.test. IN TXT \"v=DMARC1; p=quarantine\"\n"
	"\n"
	"MEDIUM   guard.rate-off: A connection or AUTH rate limit is off\n"
	"    where:   conn_rate 0 (default 120)\n"
	"    means:   Without conn_rate and auth_rate one address may connect and try passwords as "
	"fast as the network allows.\n"
	"    fix:     Remove the directive named under it from the guard block (conn_rate 120 and "
	"auth_rate 30 a minute are the defaults).\n"
	"\n"
	"INFO     version.library: OpenSSL 3.0.15 (built with 3.0.15)\n";

static void
test_text(void **state)
{
	struct findings f;
	struct buf out = BUF_INIT;

	(void)state;
	golden_findings(&f);
	findings_text(&f, &meta, &out);
	assert_string_equal(buf_cstr(&out), golden_text);
	/* a multi-line detail is indented under its label */
	findings_add(&f, "guard.off", "127.0.0.1:25\nsecond line");
	findings_add(&f, "accounts.none", NULL);
	findings_sort(&f);
	buf_reset(&out);
	findings_text(&f, &meta, &out);
	assert_non_null(strstr(buf_cstr(&out), "    where:   127.0.0.1:25\n             second line\n"));
	/* info: one line each, the title when there is no detail */
	assert_non_null(strstr(buf_cstr(&out), "\n\nINFO     accounts.none: No accounts\n"
					       "INFO     version.library: OpenSSL"));
	findings_free(&f);
	buf_free(&out);
}

static void
test_json(void **state)
{
	struct findings f;
	struct buf out = BUF_INIT, again = BUF_INIT;
	json_error_t e;
	json_t *doc, *list, *x;

	(void)state;
	golden_findings(&f);
	findings_json(&f, &meta, &out);
	doc = json_loads(buf_cstr(&out), 0, &e);
	if (doc == NULL)
		fail_msg("not JSON: %s\n%s", e.text, buf_cstr(&out));
	assert_int_equal(json_integer_value(json_object_get(doc, "format")), 1);
	assert_string_equal(json_string_value(json_object_get(doc, "hostname")), "mx.example.test");
	assert_string_equal(json_string_value(json_object_get(doc, "time")), "2026-11-28T10:00:00Z");
	x = json_object_get(doc, "summary");
	assert_int_equal(json_integer_value(json_object_get(x, "high")), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "medium")), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "info")), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "exit")), 4);
	assert_string_equal(json_string_value(json_object_get(x, "worst")), "high");
	list = json_object_get(doc, "findings");
	assert_int_equal(json_array_size(list), 3);
	x = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(x, "id")), "dns.dmarc.missing");
	assert_string_equal(json_string_value(json_object_get(x, "severity")), "high");
	assert_string_equal(json_string_value(json_object_get(x, "detail")), "example.test");
	assert_string_equal(json_string_value(json_object_get(x, "fix")),
			    "publish: _dmarc.example.test. IN TXT \"v=DMARC1; p=quarantine\"");
	x = json_array_get(list, 2);
	assert_string_equal(json_string_value(json_object_get(x, "id")), "version.library");
	assert_string_equal(json_string_value(json_object_get(x, "fix")), "");
	/* deterministic: the same findings, the same bytes; sorted keys */
	findings_json(&f, &meta, &again);
	assert_string_equal(buf_cstr(&out), buf_cstr(&again));
	assert_true(strstr(buf_cstr(&out), "\"config\"") < strstr(buf_cstr(&out), "\"findings\""));
	assert_int_equal(buf_cstr(&out)[out.len - 1], '\n');
	json_decref(doc);
	findings_free(&f);
	buf_free(&out);
	buf_free(&again);
}

/* What a DNS record or an SMTP reply could put in a detail. */
static void
test_untrusted_text(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{"plain", "plain"},
		{"esc\x1b[31mred", "esc?[31mred"},
		{"tab\there", "tab here"},
		{"two\nlines", "two\nlines"},
		{"cr\rlf", "cr?lf"},
		{"del\x7f", "del?"},
		{"caf\xc3\xa9", "caf\xc3\xa9"},  /* valid UTF-8 stays */
		{"bad\xff\xc3\xa9", "bad???"},   /* invalid: ASCII only */
		{"csi\xc2\x9b" "31m", "csi??31m"}, /* a C1 control */
		{"nbsp\xc2\xa0", "nbsp\xc2\xa0"},
	};
	struct findings f;
	size_t i;

	(void)state;
	findings_init(&f);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		findings_add(&f, "probe.inconclusive", rows[i].in);
		if (strcmp(f.v[i].detail, rows[i].want) != 0)
			fail_msg("row %zu: got '%s'", i, f.v[i].detail);
	}
	findings_free(&f);
	/* long text is cut on a character boundary */
	{
		char *big = malloc(FINDINGS_TEXT_MAX + 16);
		size_t n;

		memset(big, 'a', FINDINGS_TEXT_MAX - 1);
		memcpy(big + FINDINGS_TEXT_MAX - 1, "\xc3\xa9xyz", 6);
		findings_init(&f);
		findings_add(&f, "probe.inconclusive", big);
		n = strlen(f.v[0].detail);
		assert_int_equal(n, FINDINGS_TEXT_MAX - 1);
		findings_free(&f);
		free(big);
	}
}

static void
test_cap(void **state)
{
	struct findings f;
	struct buf out = BUF_INIT;
	size_t i;

	(void)state;
	findings_init(&f);
	for (i = 0; i < FINDINGS_MAX + 5; i++)
		findings_addf(&f, "accounts.no-2fa", "account %zu", i);
	findings_add(&f, "relay.open", NULL);
	assert_int_equal(f.n, FINDINGS_MAX);
	assert_int_equal(f.dropped, 6);
	assert_int_equal(f.count[SEV_LOW], FINDINGS_MAX + 5);
	/* the exit status counts what was dropped too */
	assert_int_equal(findings_exit_status(&f), 5);
	findings_text(&f, &meta, &out);
	assert_non_null(strstr(buf_cstr(&out), "(6 more findings not shown)"));
	findings_free(&f);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalogue),   cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_text),	    cmocka_unit_test(test_json),
		cmocka_unit_test(test_untrusted_text), cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
