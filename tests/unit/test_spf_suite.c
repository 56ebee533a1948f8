/* SPDX-License-Identifier: ISC */
/*
 * test_spf_suite - the OpenSPF RFC 7208 and RFC 4408 suites against our
 * check_host() (src/mailauth/spf.c), with each scenario's zone data as an
 * injected synchronous resolver (the rules of tests/data/spf/README.md:
 * SPF served as TXT, TIMEOUT, NONE, names not listed are NXDOMAIN, CNAMEs
 * followed). Every test must give one of its accepted results and, when
 * the suite names one, its explanation (the default explanation is
 * "DEFAULT"). Failures are printed by name, then one "N passed, N failed"
 * line per suite.
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

#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/spf.h"

#ifndef SPF_SUITE_DIR
#error SPF_SUITE_DIR must name tests/data/spf
#endif

#define MAX_ZONE 512
#define MAX_FIELDS 8

struct zrec {
	char *name, *type, *value;
	size_t len; /* of value, which may hold NUL */
};

struct zone {
	struct zrec r[MAX_ZONE];
	size_t n;
};

struct outcome {
	bool done;
	enum spf_result r;
	char exp[1100];
};

/* unesc - undo the converter's escaping in place; the length in *len. */
static char *
unesc(char *s, size_t *len)
{
	char *o = s, *p = s;

	*len = 0;
	if (strcmp(s, "-") == 0) {
		s[0] = '\0';
		return s;
	}
	while (*p != '\0') {
		unsigned v;

		if (p[0] == '\\' && p[1] == 'x' && sscanf(p + 2, "%2x", &v) == 1) {
			*o++ = (char)v;
			p += 4;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	*len = (size_t)(o - s);
	return s;
}

static bool
name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static const char *
type_name(int t)
{
	switch (t) {
	case SPF_RR_A: return "A";
	case SPF_RR_AAAA: return "AAAA";
	case SPF_RR_MX: return "MX";
	case SPF_RR_PTR: return "PTR";
	default: return "TXT";
	}
}

static bool
long_label(const char *name)
{
	size_t label = 0;

	for (; *name != '\0'; name++) {
		label = *name == '.' ? 0 : label + 1;
		if (label > 63)
			return true;
	}
	return false;
}

/* lookup - answer from the zone; CNAMEs followed up to 8 deep. */
static void
zone_query(void *ctx, int type, const char *qname, spf_answer_cb cb, void *cbarg)
{
	struct zone *z = ctx;
	struct spf_rr rr[MAX_ZONE];
	const char *name = qname, *tn = type_name(type);
	size_t i, n = 0, hops;
	bool exists, timeout = false;

	if (long_label(qname)) {
		cb(cbarg, SPF_DNS_NXDOMAIN, NULL, 0);
		return;
	}
	for (hops = 0; hops < 8; hops++) {
		const char *cname = NULL;

		exists = timeout = false;
		for (i = 0; i < z->n; i++) {
			if (!name_eq(z->r[i].name, name))
				continue;
			exists = true;
			if (strcmp(z->r[i].type, "TIMEOUT") == 0 &&
			    (z->r[i].value[0] == '\0' || strcmp(z->r[i].value, tn) == 0))
				timeout = true;
			if (strcmp(z->r[i].type, "CNAME") == 0)
				cname = z->r[i].value;
		}
		if (cname == NULL)
			break;
		name = cname;
	}
	if (hops == 8) {
		cb(cbarg, SPF_DNS_TEMPFAIL, NULL, 0);
		return;
	}
	for (i = 0; i < z->n; i++) {
		struct zrec *r = &z->r[i];

		if (!name_eq(r->name, name) || strcmp(r->type, tn) != 0)
			continue;
		memset(&rr[n], 0, sizeof(rr[n]));
		if (type == SPF_RR_A && inet_pton(AF_INET, r->value, rr[n].addr) != 1)
			continue;
		if (type == SPF_RR_AAAA && inet_pton(AF_INET6, r->value, rr[n].addr) != 1)
			continue;
		if (type == SPF_RR_MX) {
			const char *sp = strchr(r->value, ' ');

			rr[n].text = sp != NULL ? sp + 1 : r->value;
		} else if (type == SPF_RR_TXT || type == SPF_RR_PTR) {
			rr[n].text = r->value;
			rr[n].len = r->len;
		}
		n++;
	}
	if (n == 0 && timeout) {
		/* the suite's TIMEOUT hits the types the name has no records of */
		cb(cbarg, SPF_DNS_TEMPFAIL, NULL, 0);
		return;
	}
	if (n > 0)
		cb(cbarg, SPF_DNS_OK, rr, n);
	else
		cb(cbarg, exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN, NULL, 0);
}

static void
done(void *arg, enum spf_result r, const char *exp)
{
	struct outcome *o = arg;

	o->done = true;
	o->r = r;
	str_copy(o->exp, exp != NULL ? exp : "", sizeof(o->exp));
}

/* run_test - 0 when the test passes; prints why it does not. */
static int
suite_test(struct zone *z, char **f, const char *scenario)
{
	struct spf_resolver res = {zone_query, z};
	struct spf_params p = {.ip = f[1], .mailfrom = f[2], .helo = f[3],
			       .receiver = "receiver.example", .default_exp = "DEFAULT", .now = 0};
	struct outcome o = {0};
	struct spf_check *c = spf_check_new(&res, &p, done, &o);
	char want[200], *tok, *comma;
	bool ok = false, first = true;

	if (c == NULL) {
		printf("FAIL %s/%s: bad address %s\n", scenario, f[0], f[1]);
		return -1;
	}
	spf_check_start(c);
	spf_check_free(c);
	if (!o.done) {
		printf("FAIL %s/%s: no result\n", scenario, f[0]);
		return -1;
	}
	str_copy(want, f[4], sizeof(want));
	for (tok = want; tok != NULL; tok = comma != NULL ? comma + 1 : NULL) {
		if ((comma = strchr(tok, ',')) != NULL)
			*comma = '\0';
		if (strcmp(tok, spf_result_str(o.r)) == 0) {
			ok = true;
			if (!first)
				printf("note %s/%s: %s accepted, %s preferred\n", scenario, f[0],
				       tok, f[4]);
			break;
		}
		first = false;
	}
	if (ok && f[5][0] != '\0' && o.r == SPF_FAIL && strcmp(f[5], o.exp) != 0) {
		printf("FAIL %s/%s: explanation \"%s\", want \"%s\"\n", scenario, f[0], o.exp, f[5]);
		return -1;
	}
	if (!ok) {
		printf("FAIL %s/%s: %s, want %s (ip %s from <%s> helo %s)\n", scenario, f[0],
		       spf_result_str(o.r), f[4], f[1], f[2], f[3]);
		return -1;
	}
	return 0;
}

static size_t
split(char *line, char **f, size_t *lens, size_t max)
{
	size_t n = 0;
	char *sp;

	line[strcspn(line, "\n")] = '\0';
	while (line != NULL && *line != '\0' && n < max) {
		if ((sp = strchr(line, ' ')) != NULL)
			*sp = '\0';
		f[n] = unesc(line, &lens[n]);
		n++;
		line = sp != NULL ? sp + 1 : NULL;
	}
	return n;
}

static void
zone_clear(struct zone *z)
{
	size_t i;

	for (i = 0; i < z->n; i++) {
		free(z->r[i].name);
		free(z->r[i].type);
		free(z->r[i].value);
	}
	z->n = 0;
}

static void
run_suite(const char *file)
{
	static struct zone z;
	char path[512], line[8192], scenario[256] = "", *f[MAX_FIELDS];
	int passed = 0, failed = 0;
	FILE *fp;

	assert_int_equal(str_fmt(path, sizeof(path), "%s/%s", SPF_SUITE_DIR, file), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t lens[MAX_FIELDS], n = split(line, f, lens, MAX_FIELDS);

		if (n == 2 && strcmp(f[0], "S") == 0) {
			zone_clear(&z);
			str_copy(scenario, f[1], sizeof(scenario));
		} else if (n == 4 && strcmp(f[0], "Z") == 0 && z.n < MAX_ZONE) {
			z.r[z.n].name = xstrdup(f[1]);
			z.r[z.n].type = xstrdup(f[2]);
			z.r[z.n].value = xmalloc(lens[3] + 1);
			memcpy(z.r[z.n].value, f[3], lens[3] + 1);
			z.r[z.n++].len = lens[3];
		} else if (n == 7 && strcmp(f[0], "T") == 0) {
			if (suite_test(&z, f + 1, scenario) == 0)
				passed++;
			else
				failed++;
		} else
			fail_msg("%s: bad line (%zu fields)", file, n);
	}
	fclose(fp);
	zone_clear(&z);
	printf("%s: %d passed, %d failed\n", file, passed, failed);
	assert_int_equal(failed, 0);
	assert_true(passed > 150);
}

static void
test_rfc7208(void **state)
{
	(void)state;
	run_suite("rfc7208-tests.txt");
}

static void
test_rfc4408(void **state)
{
	(void)state;
	run_suite("rfc4408-tests.txt");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7208),
		cmocka_unit_test(test_rfc4408),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
