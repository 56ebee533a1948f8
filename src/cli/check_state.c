/* SPDX-License-Identifier: ISC */
/*
 * check_state - the state part of `postern check`: the accounts (legacy
 * hashes, no second factor), their app passwords (no expiry, unused), the
 * DKIM keys (size, age), the breached-password list, and what each
 * configured domain publishes in DNS.
 *
 * App passwords: the store records each one's creation, expiry and last
 * use (store_app_used() at every login), so "unused for 90 days" is exact:
 * last use, or creation when never used, older than CHECK_APP_UNUSED_DAYS.
 * DKIM key age: the key file's mtime, which `dkim keygen` sets when it
 * writes the key (a key made elsewhere and copied keeps the copy's time).
 *
 * SECURITY: runs as the daemon's user; the account store is opened
 * read-only (store_open_ro) and nothing is written to it. Account names go
 * into findings only through findings.c, which escapes them.
 * STANDARDS: RFC 8301 (DKIM RSA sizes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/pwhash.h"
#include "auth/store.h"
#include "cli/check.h"
#include "cli/dnscheck.h"
#include "cli/mailauth.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/dkimkey.h"

/* A list of names for a detail: the first CHECK_NAMES_SHOWN, then a count. */
struct names {
	struct buf text;
	size_t n;
};

static void
names_add(struct names *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
names_add(struct names *l, const char *fmt, ...)
{
	va_list ap;

	if (l->n++ >= CHECK_NAMES_SHOWN)
		return;
	if (l->text.len > 0)
		buf_adds(&l->text, ", ");
	va_start(ap, fmt);
	buf_vaddf(&l->text, fmt, ap);
	va_end(ap);
}

/* names_report - one finding for the list, if it has names. */
static void
names_report(struct names *l, struct findings *f, const char *id, enum findings_sev sev,
	     const char *what)
{
	struct buf d = BUF_INIT;

	if (l->n > 0) {
		buf_addf(&d, "%s: %s", what, buf_cstr(&l->text));
		if (l->n > CHECK_NAMES_SHOWN)
			buf_addf(&d, " and %zu more", l->n - CHECK_NAMES_SHOWN);
		findings_add_as(f, id, sev, buf_cstr(&d), NULL);
	}
	buf_free(&d);
	buf_free(&l->text);
}

struct scan {
	struct store *st;
	int64_t now;
	size_t accounts, active, with_2fa;
	struct names legacy, no2fa, noexp, unused;
	const char *account; /* the one whose app passwords are listed */
};

static int
scan_app(const struct app_password *p, void *arg)
{
	struct scan *s = arg;
	int64_t last = p->last_used != 0 ? p->last_used : p->created;

	if (p->revoked || (p->expires != 0 && p->expires <= s->now))
		return 0; /* cannot be used any more */
	if (p->expires == 0)
		names_add(&s->noexp, "%s/%s", s->account, p->label);
	if (s->now - last > (int64_t)CHECK_APP_UNUSED_DAYS * 86400)
		names_add(&s->unused, "%s/%s (%s %lld days ago)", s->account, p->label,
			  p->last_used != 0 ? "last used" : "made, never used,",
			  (long long)((s->now - last) / 86400));
	return 0;
}

static int
scan_account(const struct account *a, void *arg)
{
	struct scan *s = arg;
	char scheme[PWHASH_SCHEME_MAX] = "?";

	s->accounts++;
	if (pwhash_scheme(a->hash, scheme, sizeof(scheme)) == -1 || strcmp(scheme, "ARGON2ID") != 0)
		names_add(&s->legacy, "%s (%s)", a->name, scheme);
	if (!a->locked) {
		s->active++;
		if (a->totp_sealed != NULL)
			s->with_2fa++;
		else
			names_add(&s->no2fa, "%s", a->name);
	}
	s->account = a->name;
	return store_app_list(s->st, a->name, scan_app, s) == 0 ? 0 : -1;
}

/* scan_report - the findings of a scan. Without 2FA anywhere it is
 * medium: one phished password is anyone's. (With admin roles, an admin
 * account without 2FA would be high.) */
static void
scan_report(struct scan *s, struct findings *f)
{
	char what[96];

	if (s->accounts == 0)
		findings_add(f, "accounts.none", "the account store has no accounts");
	snprintf(what, sizeof(what), "%zu of %zu accounts", s->legacy.n, s->accounts);
	names_report(&s->legacy, f, "accounts.legacy-hash", SEV_MEDIUM, what);
	snprintf(what, sizeof(what), "%zu of %zu active accounts", s->no2fa.n, s->active);
	names_report(&s->no2fa, f, "accounts.no-2fa", s->with_2fa == 0 ? SEV_MEDIUM : SEV_LOW,
		     what);
	snprintf(what, sizeof(what), "%zu app password%s", s->noexp.n, s->noexp.n == 1 ? "" : "s");
	names_report(&s->noexp, f, "accounts.app-password-no-expiry", SEV_LOW, what);
	snprintf(what, sizeof(what), "%zu app password%s", s->unused.n,
		 s->unused.n == 1 ? "" : "s");
	names_report(&s->unused, f, "accounts.app-password-unused", SEV_LOW, what);
}

static void
check_accounts(const struct conf *cf, time_t now, struct findings *f)
{
	char path[PATH_MAX], err[PATH_MAX + 256];
	struct scan s;

	memset(&s, 0, sizeof(s));
	s.now = (int64_t)now;
	snprintf(path, sizeof(path), "%s/accounts.db", cf->state_dir);
	s.st = store_open_ro(path, err, sizeof(err));
	if (s.st == NULL) {
		if (errno == ENOENT)
			findings_addf(f, "accounts.none", "no account store (%s)", path);
		else
			findings_add(f, "accounts.unreadable", err);
		return;
	}
	if (store_list(s.st, scan_account, &s) != 0)
		findings_addf(f, "accounts.unreadable", "%s: %s", path, store_error(s.st));
	else
		scan_report(&s, f);
	buf_free(&s.legacy.text);
	buf_free(&s.no2fa.text);
	buf_free(&s.noexp.text);
	buf_free(&s.unused.text);
	store_close(s.st);
}

/* check_dkim_key - one configured selector's key: loads, big enough, not
 * too old. */
static void
check_dkim_key(const struct conf *cf, const char *domain, const char *sel, time_t now,
	       struct findings *f)
{
	struct dkimkey k = {0};
	char path[PATH_MAX], err[PATH_MAX + 256];
	struct stat sb;

	if (dkimkey_load(cf->state_dir, domain, sel, &k, err, sizeof(err)) == -1) {
		findings_addf(f, "dkim.key-missing", "%s selector %s: %s", domain, sel, err);
		return;
	}
	if (k.alg == DKIM_ALG_RSA_SHA256 && k.bits < CHECK_RSA_MIN_BITS)
		findings_addf(f, "dkim.key-size", "%s selector %s: RSA of %u bits", domain, sel,
			      k.bits);
	if (dkimkey_path(cf->state_dir, domain, sel, path, sizeof(path)) == 0 &&
	    stat(path, &sb) == 0 && now - sb.st_mtime > (time_t)CHECK_DKIM_AGE_DAYS * 86400)
		findings_addf(f, "dkim.key-age", "%s selector %s: made %lld days ago (%s)", domain,
			      sel, (long long)((now - sb.st_mtime) / 86400), path);
	dkimkey_clear(&k);
}

/* check_banned_file - the breached-password list loads for the daemon's
 * user (opening it is enough: banned_load reads it at each change). */
static void
check_banned_file(const struct conf *cf, struct findings *f)
{
	int fd;

	if (cf->auth.banned_file == NULL)
		return;
	fd = open(cf->auth.banned_file, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		findings_addf(f, "auth.breached-list-unreadable", "banned_file %s: %s",
			      cf->auth.banned_file, strerror(errno));
	else
		close(fd);
}

void
check_state(const struct conf *cf, time_t now, struct findings *f)
{
	size_t i, j;

	check_accounts(cf, now, f);
	for (i = 0; i < cf->ndomains; i++)
		for (j = 0; j < cf->domains[i].ndkim; j++)
			check_dkim_key(cf, cf->domains[i].name, cf->domains[i].dkim[j].name, now, f);
	check_banned_file(cf, f);
}

/* dns_finding - a verdict that is not ok as a finding "dns.WHAT.STATUS". */
static void
dns_finding(const char *domain, const struct dns_verdict *v, struct findings *f)
{
	const struct findings_kind *k;
	char id[48], *p;
	struct buf d = BUF_INIT;

	snprintf(id, sizeof(id), "dns.%s.%s", v->what, v->status);
	for (p = id; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	/* every status dnscheck.c gives is in the catalogue: a missing one is
	 * a bug, and findings_add_as() aborts on it */
	k = findings_kind(id);
	buf_addf(&d, "%s: %s", domain, buf_cstr(&v->text));
	findings_add_as(f, id, k != NULL ? k->sev : SEV_INFO, buf_cstr(&d), v->fix.len > 0 ? buf_cstr(&v->fix) : NULL);
	buf_free(&d);
}

void
check_dns(const struct conf *cf, struct findings *f)
{
	struct dns_report *r;
	struct dns_ips ips;
	struct tool t;
	size_t i, j;

	if (cf->ndomains == 0)
		return;
	if (tool_open_conf(&t, cf) == -1) {
		findings_add(f, "dns.unavailable", "no resolver could be set up (see above)");
		tool_close(&t);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	dnscheck_gateway_ips(&t, &ips, NULL, 0);
	for (i = 0; i < cf->ndomains; i++) {
		dnscheck_domain(&t, cf->domains[i].name, &ips, r);
		for (j = 0; j < r->n; j++)
			if (strcmp(r->v[j].status, "ok") != 0)
				dns_finding(cf->domains[i].name, &r->v[j], f);
		dns_report_free(r);
	}
	free(r);
	tool_close(&t);
}
