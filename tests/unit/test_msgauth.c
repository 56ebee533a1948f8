/* SPDX-License-Identifier: ISC */
/*
 * test_msgauth - DKIM verification and DMARC evaluation of whole messages
 * over an injected resolver: the authheaders DMARC cases
 * (tests/data/dmarc/authheaders), answers given at once and later, the
 * deadline, pct= sampling, SPF alignment, several From domains, and the
 * Authentication-Results that records it; a DKIM key cache changes none
 * of it.
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

#include "lib/buf.h"
#include "mailauth/msgauth.h"

#define PSL_LIST "/usr/share/publicsuffix/public_suffix_list.dat"
#define DATA SRCDIR "/tests/data/dmarc/authheaders"
#define ZONE_MAX 64

/* The test zone: "NAME VALUE" (TXT), "NAME -" (exists, no TXT),
 * "NAME NXDOMAIN", "NAME TEMPFAIL", "NAME A" (has an address). */
struct zrec {
	char name[256];
	char value[1024];
};

struct zone {
	struct zrec r[ZONE_MAX];
	size_t n;
	bool deferred; /* answer later, from pump() */
	spf_answer_cb pending_cb;
	void *pending_arg;
	char pending_name[256];
	int pending_type;
	unsigned queries;
};

static void
zone_add(struct zone *z, const char *name, const char *value)
{
	assert_true(z->n < ZONE_MAX);
	snprintf(z->r[z->n].name, sizeof(z->r[z->n].name), "%s", name);
	snprintf(z->r[z->n].value, sizeof(z->r[z->n].value), "%s", value);
	z->n++;
}

static void
zone_load(struct zone *z, const char *path)
{
	char line[2048];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp, *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0' || (sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		/* "sub2.example.biz (exists: ...)" */
		zone_add(z, line, sp[1] == '(' ? "A" : sp + 1);
	}
	fclose(f);
}

static void
answer(struct zone *z, int type, const char *name, spf_answer_cb cb, void *cbarg)
{
	struct spf_rr rr[8];
	size_t i, n = 0;
	bool exists = false;

	z->queries++;
	for (i = 0; i < z->n; i++) {
		const char *v = z->r[i].value;

		if (strcasecmp(z->r[i].name, name) != 0)
			continue;
		if (strcmp(v, "NXDOMAIN") == 0) {
			cb(cbarg, SPF_DNS_NXDOMAIN, NULL, 0);
			return;
		}
		if (strcmp(v, "TEMPFAIL") == 0) {
			cb(cbarg, SPF_DNS_TEMPFAIL, NULL, 0);
			return;
		}
		exists = true;
		if (type == SPF_RR_A && strcmp(v, "A") == 0 && n < 8) {
			memset(&rr[n], 0, sizeof(rr[n]));
			rr[n].addr[0] = 192;
			n++;
		} else if (type == SPF_RR_TXT && strcmp(v, "-") != 0 && strcmp(v, "A") != 0 &&
			   n < 8) {
			memset(&rr[n], 0, sizeof(rr[n]));
			rr[n].text = v;
			rr[n].len = strlen(v);
			n++;
		}
	}
	if (n > 0)
		cb(cbarg, SPF_DNS_OK, rr, n);
	else
		cb(cbarg, exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN, NULL, 0);
}

static void
zone_query(void *ctx, int type, const char *name, spf_answer_cb cb, void *cbarg)
{
	struct zone *z = ctx;

	if (!z->deferred) {
		answer(z, type, name, cb, cbarg);
		return;
	}
	assert_null(z->pending_cb); /* one lookup at a time */
	z->pending_cb = cb;
	z->pending_arg = cbarg;
	z->pending_type = type;
	snprintf(z->pending_name, sizeof(z->pending_name), "%s", name);
}

/* pump - answer the pending lookup; false when there was none. */
static bool
pump(struct zone *z)
{
	spf_answer_cb cb = z->pending_cb;

	if (cb == NULL)
		return false;
	z->pending_cb = NULL;
	answer(z, z->pending_type, z->pending_name, cb, z->pending_arg);
	return true;
}

static void
load(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	int c, prev = 0;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF) {
		if (c == '\n' && prev != '\r')
			buf_addc(out, '\r');
		buf_addc(out, (char)c);
		prev = c;
	}
	fclose(f);
}

struct done {
	int calls;
	struct msgauth_result r;
};

static void
on_done(void *arg, const struct msgauth_result *r)
{
	struct done *d = arg;

	d->calls++;
	d->r = *r;
}

static struct dmarc_psl *psl;
static struct dkim_keycache *keycache; /* what evaluate() passes, or NULL */

static unsigned fixed_rand;
static unsigned
rand_fixed(void)
{
	return fixed_rand;
}

/* feed - header section and body of msg into m, the body in small pieces. */
static void
feed(struct msgauth *m, const struct buf *msg)
{
	const char *e = memmem(msg->data, msg->len, "\r\n\r\n", 4);
	size_t h = e != NULL ? (size_t)(e - msg->data) + 4 : msg->len, pos;

	msgauth_header(m, msg->data, h);
	for (pos = h; pos < msg->len; pos += 5)
		msgauth_body(m, msg->data + pos, msg->len - pos < 5 ? msg->len - pos : 5);
}

static struct msgauth *
evaluate(struct zone *z, const char *file_or_text, bool is_text, const char *mailfrom,
	 enum spf_result spf, struct done *d)
{
	struct spf_resolver res = {zone_query, z};
	struct msgauth_params p = {0};
	struct buf msg = BUF_INIT;
	struct msgauth *m;
	char path[512];

	p.authserv_id = "mx.postern.test";
	p.ip = "192.0.2.1";
	p.helo = "mail.sender.test";
	p.mailfrom = mailfrom;
	p.spf = spf;
	p.spf_checked = true;
	p.psl = psl;
	p.dkim = true;
	p.dkim_keys = keycache;
	p.now = 1700000000;
	p.rand100 = rand_fixed;
	if (is_text) {
		buf_adds(&msg, file_or_text);
	} else {
		snprintf(path, sizeof(path), "%s/%s", DATA, file_or_text);
		load(path, &msg);
	}
	m = msgauth_new(&res, &p);
	feed(m, &msg);
	buf_free(&msg);
	memset(d, 0, sizeof(*d));
	msgauth_run(m, on_done, d);
	return m;
}

/* The authheaders cases: every message, answered at once and later. */
static void
test_authheaders(void **state)
{
	static const struct {
		const char *file;
		enum dmarc_result result;
		enum dmarc_action action;
		const char *policy_domain;
	} rows[] = {
		{"test.message_signed", DMARC_PASS, DMARC_ACT_NONE, "example.com"},
		{"testcomma.message", DMARC_PASS, DMARC_ACT_NONE, "example.com"},
		{"test.message_multi", DMARC_FAIL, DMARC_ACT_REJECT, "example.com"},
		{"test.message_multi2", DMARC_FAIL, DMARC_ACT_REJECT, "example.com"},
		{"test.message_sub", DMARC_FAIL, DMARC_ACT_REJECT, "example.net"},
		{"test.message_np1", DMARC_FAIL, DMARC_ACT_REJECT, "example.biz"},
		{"test.message_np2", DMARC_FAIL, DMARC_ACT_QUARANTINE, "example.biz"},
		{"test_nop.message", DMARC_NONE, DMARC_ACT_NONE, NULL},
	};
	size_t i;
	int deferred;

	(void)state;
	for (deferred = 0; deferred < 2; deferred++) {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			struct zone *z = calloc(1, sizeof(*z));
			struct done d;
			struct msgauth *m;

			zone_load(z, DATA "/authheaders.zone");
			z->deferred = deferred;
			m = evaluate(z, rows[i].file, false, "", SPF_NONE, &d);
			while (pump(z))
				;
			if (d.calls != 1 || d.r.dmarc_result != rows[i].result ||
			    d.r.action != rows[i].action)
				fail_msg("%s (deferred %d): calls %d result %s action %s", rows[i].file,
					 deferred, d.calls, dmarc_result_name(d.r.dmarc_result),
					 dmarc_action_name(d.r.action));
			if (rows[i].policy_domain != NULL)
				assert_string_equal(d.r.decisive->policy_domain,
						    rows[i].policy_domain);
			msgauth_free(m);
			free(z);
		}
	}
}

/* The signed message passes DKIM and DMARC; the A-R says so. */
static void
test_authres(void **state)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct buf ar = BUF_INIT;
	struct done d;
	struct msgauth *m;

	(void)state;
	zone_load(z, DATA "/authheaders.zone");
	m = evaluate(z, "test.message_signed", false, "bounce@example.com", SPF_SOFTFAIL, &d);
	assert_int_equal(d.r.ndkim, 1);
	assert_int_equal(d.r.dkim[0].result, DKIM_PASS);
	assert_int_equal(d.r.dmarc_result, DMARC_PASS);
	assert_true(d.r.dmarc[0].dkim_aligned);
	assert_false(d.r.dmarc[0].spf_aligned);
	assert_int_equal(msgauth_authres(m, &ar), 0);
	assert_non_null(strstr(buf_cstr(&ar), "Authentication-Results: mx.postern.test;"));
	assert_non_null(strstr(buf_cstr(&ar), "spf=softfail smtp.mailfrom=bounce@example.com"));
	assert_non_null(strstr(buf_cstr(&ar), "dkim=pass header.d=example.com header.s=test"));
	assert_non_null(strstr(buf_cstr(&ar),
			       "dmarc=pass (p=reject sp=reject dis=none) header.from=example.com"));
	msgauth_free(m);
	buf_free(&ar);
	free(z);
}

static const char spoof[] = "From: Boss <boss@example.com>\r\n"
			    "To: you@postern.test\r\n"
			    "Subject: wire the money\r\n"
			    "\r\n"
			    "now\r\n";

/* SPF alone can pass DMARC when aligned; relaxed alignment takes a
 * subdomain, strict does not. */
static void
test_spf_alignment(void **state)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct done d;
	struct msgauth *m;

	(void)state;
	zone_add(z, "_dmarc.example.com", "v=DMARC1; p=reject");
	m = evaluate(z, spoof, true, "bounce@mail.example.com", SPF_PASS, &d);
	assert_int_equal(d.r.dmarc_result, DMARC_PASS);
	assert_true(d.r.dmarc[0].spf_aligned);
	msgauth_free(m);
	m = evaluate(z, spoof, true, "bounce@example.net", SPF_PASS, &d);
	assert_int_equal(d.r.dmarc_result, DMARC_FAIL);
	assert_int_equal(d.r.action, DMARC_ACT_REJECT);
	msgauth_free(m);
	snprintf(z->r[0].value, sizeof(z->r[0].value), "v=DMARC1; p=reject; aspf=s");
	m = evaluate(z, spoof, true, "bounce@mail.example.com", SPF_PASS, &d);
	assert_int_equal(d.r.dmarc_result, DMARC_FAIL);
	msgauth_free(m);
	/* SPF temperror on an aligned domain: temperror, not fail */
	m = evaluate(z, spoof, true, "bounce@example.com", SPF_TEMPERROR, &d);
	assert_int_equal(d.r.dmarc_result, DMARC_TEMPERROR);
	assert_int_equal(d.r.action, DMARC_ACT_NONE);
	msgauth_free(m);
	free(z);
}

/* pct=: outside the sample reject becomes quarantine, quarantine none. */
static void
test_pct(void **state)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct done d;
	struct msgauth *m;

	(void)state;
	zone_add(z, "_dmarc.example.com", "v=DMARC1; p=reject; pct=30");
	fixed_rand = 29;
	m = evaluate(z, spoof, true, "", SPF_NONE, &d);
	assert_int_equal(d.r.action, DMARC_ACT_REJECT);
	assert_false(d.r.dmarc[0].sampled_out);
	msgauth_free(m);
	fixed_rand = 30;
	m = evaluate(z, spoof, true, "", SPF_NONE, &d);
	assert_int_equal(d.r.action, DMARC_ACT_QUARANTINE);
	assert_true(d.r.dmarc[0].sampled_out);
	msgauth_free(m);
	snprintf(z->r[0].value, sizeof(z->r[0].value), "v=DMARC1; p=quarantine; pct=0");
	fixed_rand = 0;
	m = evaluate(z, spoof, true, "", SPF_NONE, &d);
	assert_int_equal(d.r.dmarc_result, DMARC_FAIL);
	assert_int_equal(d.r.action, DMARC_ACT_NONE);
	msgauth_free(m);
	fixed_rand = 0;
	free(z);
}

/* DNS trouble: a failed record lookup is temperror; the deadline ends a
 * lookup that never answers, and its late answer is dropped; freeing
 * with a lookup in flight waits for it without calling back. */
static void
test_dns_trouble(void **state)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct done d;
	struct msgauth *m;

	(void)state;
	zone_add(z, "_dmarc.example.com", "TEMPFAIL");
	m = evaluate(z, spoof, true, "", SPF_NONE, &d);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.r.dmarc_result, DMARC_TEMPERROR);
	msgauth_free(m);

	z->n = 0;
	zone_add(z, "_dmarc.example.com", "v=DMARC1; p=reject");
	z->deferred = true;
	m = evaluate(z, spoof, true, "", SPF_NONE, &d);
	assert_int_equal(d.calls, 0);
	msgauth_deadline(m);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.r.dmarc_result, DMARC_TEMPERROR);
	assert_true(pump(z)); /* the late answer: dropped */
	assert_int_equal(d.calls, 1);
	msgauth_free(m);

	m = evaluate(z, spoof, true, "", SPF_NONE, &d);
	msgauth_free(m);
	assert_true(pump(z)); /* releases it; ASan would see a leak or a use */
	assert_int_equal(d.calls, 0);
	free(z);
}

/* From fields DMARC cannot use: none, two, a group, no domain. */
static void
test_bad_from(void **state)
{
	static const char *const msgs[] = {
		"To: a@b.test\r\n\r\nx\r\n",
		"From: a@example.com\r\nFrom: b@example.com\r\n\r\nx\r\n",
		"From: team: a@example.com;\r\n\r\nx\r\n",
		"From: nobody\r\n\r\nx\r\n",
	};
	struct zone *z = calloc(1, sizeof(*z));
	struct buf ar = BUF_INIT;
	struct done d;
	size_t i;

	(void)state;
	zone_add(z, "_dmarc.example.com", "v=DMARC1; p=reject");
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct msgauth *m = evaluate(z, msgs[i], true, "", SPF_NONE, &d);

		if (d.r.dmarc_result != DMARC_PERMERROR || d.r.action != DMARC_ACT_NONE)
			fail_msg("message %zu: %s", i, dmarc_result_name(d.r.dmarc_result));
		buf_reset(&ar);
		assert_int_equal(msgauth_authres(m, &ar), 0);
		assert_non_null(strstr(buf_cstr(&ar), "dmarc=permerror"));
		msgauth_free(m);
	}
	buf_free(&ar);
	free(z);
}

/* A DKIM signature whose key is missing, and several key records of
 * which one is right. */
static void
test_dkim_keys(void **state)
{
	struct zone *z = calloc(1, sizeof(*z));
	struct done d;
	struct msgauth *m;
	size_t i;

	(void)state;
	zone_load(z, DATA "/authheaders.zone");
	for (i = 0; i < z->n; i++)
		if (strcmp(z->r[i].name, "test._domainkey.example.com") == 0)
			memcpy(z->r[i].name, "gone", 5);
	m = evaluate(z, "test.message_signed", false, "", SPF_NONE, &d);
	assert_int_equal(d.r.dkim[0].result, DKIM_PERMERROR);
	assert_int_equal(d.r.dmarc_result, DMARC_FAIL);
	msgauth_free(m);
	/* a wrong key first, then the right one: one of them passes */
	zone_add(z, "test._domainkey.example.com",
		 "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	for (i = 0; i < z->n; i++)
		if (strcmp(z->r[i].name, "gone") == 0)
			zone_add(z, "test._domainkey.example.com", z->r[i].value);
	m = evaluate(z, "test.message_signed", false, "", SPF_NONE, &d);
	assert_int_equal(d.r.dkim[0].result, DKIM_PASS);
	msgauth_free(m);
	free(z);
}

/* A record of another RSA key (tests/data/dkim's 2048-bit one). */
static const char other_rsa[] =
	"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5Ru5WVhkPiBuE+mOf29uqontUf"
	"oQpcWX04sA/V6dRmZ0I2kRHOSKYXLW84sqPiWyfKH4WaP7f0p6RvENyIqFjCYWDPxSX5Ck/rj0jUzQ6FKloUb9M/"
	"0hhdUy2xa7przy7wudLu7WpgxyMLogPZfWMV369vvPefyvuXF8B3rCuy5qSNyvnDf0Dn4/blILfyw5df4JWJIj0F"
	"fXxc3LMMLQM+Nn8q71iJmH5qXuB78GWUjT7erEXnrXdWKZimM9l6fMSOb6EBm0AwNVR+mOGwt05LPrSHFrwKJSNR"
	"B5gBOzXfmjdUpghIq+wLF1trz+oJt5CcZs45GPjiuyUomI+HgFpQIDAQAB";

/* outcome - the verdict and the Authentication-Results of file in zone z,
 * through cache c (or none), as one comparable text. */
static void
outcome(struct zone *z, const char *file, struct dkim_keycache *c, struct buf *out)
{
	struct done d;
	struct msgauth *m;
	size_t i;

	keycache = c;
	m = evaluate(z, file, false, "bounce@example.com", SPF_PASS, &d);
	keycache = NULL;
	assert_int_equal(d.calls, 1);
	for (i = 0; i < d.r.ndkim; i++)
		buf_addf(out, "dkim %s (%s) testing=%d len=%llu/%llu\n",
			   dkim_result_name(d.r.dkim[i].result), d.r.dkim[i].reason,
			   d.r.dkim[i].testing, (unsigned long long)d.r.dkim[i].body_hashed,
			   (unsigned long long)d.r.dkim[i].body_len);
	buf_addf(out, "dmarc %s %s\n", dmarc_result_name(d.r.dmarc_result),
		   dmarc_action_name(d.r.action));
	assert_int_equal(msgauth_authres(m, out), 0);
	msgauth_free(m);
}

/* The smtp process keeps one key cache for every message: each
 * authheaders message, and the signed one with a wrong key record before
 * the right one, give what they give without a cache, on a miss and on a
 * hit, through a cache of one (it keeps evicting) and a larger one. */
static void
test_key_cache(void **state)
{
	static const char *const files[] = {
		"test.message_signed", "testcomma.message", "test.message_multi",
		"test.message_multi2", "test.message_sub",  "test.message_np1",
		"test.message_np2",    "test_nop.message",
	};
	static const size_t sizes[] = {1, 16};
	struct zone *z = calloc(1, sizeof(*z));
	size_t i, k, round;

	(void)state;
	zone_load(z, DATA "/authheaders.zone");
	for (round = 0; round < 2; round++) {
		if (round == 1) {
			/* another RSA key's record first: both are parsed and cached */
			struct zone *w = calloc(1, sizeof(*w));

			zone_add(w, "test._domainkey.example.com", other_rsa);
			for (i = 0; i < z->n; i++)
				zone_add(w, z->r[i].name, z->r[i].value);
			free(z);
			z = w;
		}
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			struct dkim_keycache *c = dkim_keycache_new(sizes[k]);

			for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
				struct buf plain = BUF_INIT, miss = BUF_INIT, hit = BUF_INIT;

				outcome(z, files[i], NULL, &plain);
				outcome(z, files[i], c, &miss);
				outcome(z, files[i], c, &hit);
				if (strcmp(buf_cstr(&plain), buf_cstr(&miss)) != 0 ||
				    strcmp(buf_cstr(&plain), buf_cstr(&hit)) != 0)
					fail_msg("%s (cache of %zu):\n%s\n%s\n%s", files[i],
						 sizes[k], plain.data, miss.data, hit.data);
				buf_free(&plain);
				buf_free(&miss);
				buf_free(&hit);
			}
			dkim_keycache_free(c);
		}
	}
	free(z);
}

static struct msgauth *to_free;
static int freed_calls;
static void
on_done_free(void *arg, const struct msgauth_result *r)
{
	(void)arg;
	(void)r;
	freed_calls++;
	msgauth_free(to_free);
}

/* The callback may free the evaluation (the session does when it refuses
 * the message), answered at once or later. */
static void
test_free_in_callback(void **state)
{
	struct spf_resolver res;
	struct msgauth_params p = {0};
	struct zone *z = calloc(1, sizeof(*z));
	struct buf msg = BUF_INIT;
	int deferred;

	(void)state;
	zone_add(z, "_dmarc.example.com", "v=DMARC1; p=reject");
	res.query = zone_query;
	res.ctx = z;
	p.authserv_id = "mx.postern.test";
	p.mailfrom = "";
	p.psl = psl;
	p.dkim = true;
	buf_adds(&msg, spoof);
	for (deferred = 0; deferred < 2; deferred++) {
		z->deferred = deferred;
		freed_calls = 0;
		to_free = msgauth_new(&res, &p);
		feed(to_free, &msg);
		msgauth_run(to_free, on_done_free, NULL);
		while (pump(z))
			;
		assert_int_equal(freed_calls, 1);
	}
	buf_free(&msg);
	free(z);
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	psl = dmarc_psl_load(PSL_LIST, err, sizeof(err));
	return psl == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	dmarc_psl_free(psl);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authheaders), cmocka_unit_test(test_authres),
		cmocka_unit_test(test_spf_alignment), cmocka_unit_test(test_pct),
		cmocka_unit_test(test_dns_trouble),	cmocka_unit_test(test_bad_from),
		cmocka_unit_test(test_dkim_keys),	cmocka_unit_test(test_free_in_callback),
		cmocka_unit_test(test_key_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
