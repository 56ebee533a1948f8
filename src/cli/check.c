/* SPDX-License-Identifier: ISC */
/*
 * check - `postern check [--json]`: the self-audit (see check.h), the
 * software versions it reports (practice 12), and the report: text for
 * people or JSON for machines, an audit record of the run, and the exit
 * status of the worst finding (0 nothing above low, 3 medium, 4 high,
 * 5 critical; 1 the check could not run; 2 usage).
 *
 * SECURITY: the config and its certificates are read as the caller; then
 * cli_ctx_open() becomes the daemon's user (when run as root) for the rest.
 * STANDARDS: see the parts.
 */
#include <event2/event.h>
#include <hiredis.h>
#include <jansson.h>
#include <libpsl.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <qrencode.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <zlib.h>

#include "audit/audit.h"
#include "cli/check.h"
#include "cli/cli.h"
#include "cli/ctx.h"
#include "cli/findings.h"
#include "lib/buf.h"
#include "lib/util.h"

#define STR2(x) #x
#define STR(x) STR2(x)

/* build_date - the compiler's __DATE__ ("Nov 28 2026", which honours
 * SOURCE_DATE_EPOCH) as 2026-11-28. */
static void
build_date(char *out, size_t outsz)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *d = __DATE__;
	char mon[4] = {d[0], d[1], d[2], '\0'};
	const char *m = strstr(months, mon);

	snprintf(out, outsz, "%.4s-%02d-%c%c", d + 7, m != NULL ? (int)(m - months) / 3 + 1 : 0,
		 d[4] == ' ' ? '0' : d[4], d[5]);
}

/* One library: what runs, and what postern was compiled against (NULL when
 * the library has no way to say). */
struct lib {
	const char *name;
	const char *runtime;
	const char *built;
};

/* same_version - runtime is built, maybe followed by a note after a space
 * ("0.21.2 (+libidn2/2.3.3)"). */
static bool
same_version(const char *runtime, const char *built)
{
	size_t n = strlen(built);

	return strncmp(runtime, built, n) == 0 && (runtime[n] == '\0' || runtime[n] == ' ');
}

/* no_prefix - s without a leading "OpenSSL " (its version text says it). */
static const char *
no_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : s;
}

static void
check_library(const struct lib *l, struct findings *f)
{
	if (l->built == NULL)
		findings_addf(f, "version.library", "%s %s", l->name,
			      l->runtime != NULL ? l->runtime : "(says no version)");
	else if (l->runtime == NULL)
		findings_addf(f, "version.library", "%s built against %s (the library says no "
						    "version at run time)",
			      l->name, l->built);
	else
		findings_addf(f, "version.library", "%s %s (built against %s)", l->name, l->runtime,
			      l->built);
	if (l->built != NULL && l->runtime != NULL && !same_version(l->runtime, l->built))
		findings_addf(f, "version.mismatch", "%s: running %s, built against %s", l->name,
			      l->runtime, l->built);
}

void
check_versions(struct findings *f)
{
	const struct lib libs[] = {
		{"OpenSSL", no_prefix(OpenSSL_version(OPENSSL_VERSION), "OpenSSL "),
		 no_prefix(OPENSSL_VERSION_TEXT, "OpenSSL ")},
		{"libevent", event_get_version(), LIBEVENT_VERSION},
		{"libunbound", ub_version(),
		 STR(UNBOUND_VERSION_MAJOR) "." STR(UNBOUND_VERSION_MINOR) "." STR(
			 UNBOUND_VERSION_MICRO)},
		{"SQLite", sqlite3_libversion(), SQLITE_VERSION},
		{"libsodium", sodium_version_string(), SODIUM_VERSION_STRING},
		{"jansson", jansson_version_str(), JANSSON_VERSION},
		{"zlib", zlibVersion(), ZLIB_VERSION},
		{"libpsl", psl_get_version(), PSL_VERSION},
		{"hiredis", NULL,
		 STR(HIREDIS_MAJOR) "." STR(HIREDIS_MINOR) "." STR(HIREDIS_PATCH)},
		{"libqrencode", QRcode_APIVersionString(), NULL},
	};
	char date[16];
	size_t i;

	build_date(date, sizeof(date));
	findings_addf(f, "version.postern", "postern %s, built %s", POSTERN_VERSION, date);
	for (i = 0; i < nitems(libs); i++)
		check_library(&libs[i], f);
	if (OpenSSL_version_num() < 0x30000000L)
		findings_addf(f, "version.openssl-old", "%s", OpenSSL_version(OPENSSL_VERSION));
}

/* audit_run - the check.run record: who ran it and what it found. */
static void
audit_run(struct cli_ctx *x, const struct findings *f)
{
	json_t *o = json_object();
	size_t i;

	json_object_set_new(o, "actor", json_string(x->actor));
	for (i = 0; i < FINDINGS_SEVS; i++)
		json_object_set_new(o, findings_sev_name((enum findings_sev)i),
				    json_integer((json_int_t)f->count[i]));
	json_object_set_new(o, "worst", json_string(findings_sev_name(findings_worst(f))));
	if (audit_append(x->audit, "check.run", o) == -1)
		cli_say("audit log: %s", audit_error(x->audit));
	json_decref(o);
}

/* report - the findings on stdout, as text or JSON. */
static void
report(const struct cli_ctx *x, const struct findings *f, time_t now)
{
	struct findings_meta m = {x->cf.hostname, x->c->config, POSTERN_VERSION, now};
	struct buf out = BUF_INIT;

	if (x->c->json)
		findings_json(f, &m, &out);
	else
		findings_text(f, &m, &out);
	fputs(buf_cstr(&out), stdout);
	fflush(stdout);
	buf_free(&out);
}

int
cli_check(struct cli *c)
{
	char err[CONF_ERR_MAX + 64];
	struct findings f;
	struct cli_ctx x;
	struct conf cf;
	time_t now = time(NULL);
	int rc = 1;

	if (c->nwords != 1)
		return cli_say("usage: postern check [--json]"), 2;
	if (conf_load(c->config, &cf, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	findings_init(&f);
	/* as the caller: the certificate files are root's, like the parent's */
	check_conf(&cf, now, &f);
	conf_free(&cf);
	if (cli_ctx_open(&x, c, false) == 0) {
		check_state(&x.cf, now, &f);
		check_probes(&x.cf, &f);
		check_dns(&x.cf, &f);
		check_versions(&f);
		findings_sort(&f);
		audit_run(&x, &f);
		report(&x, &f, now);
		rc = findings_exit_status(&f);
	}
	cli_ctx_close(&x);
	findings_free(&f);
	return rc;
}
