/* SPDX-License-Identifier: ISC */
/*
 * dkim - `postern dkim keygen | sign | list`: DKIM signing keys in
 * STATE_DIR/dkim, the DNS records that publish them, and signing a message
 * on the command line with the keys the daemon uses.
 *
 *   keygen DOMAIN SELECTOR [--algo rsa2048|ed25519] [--force]
 *       a new key (RSA-2048 by default), written durably and never over an
 *       existing selector without --force; prints the TXT record, the
 *       zone-file line and what to add to the config
 *   sign --domain D [--selector S]... < MESSAGE
 *       MESSAGE (LF or CRLF) with CRLF line ends and one DKIM-Signature per
 *       selector prepended; without --selector, D's configured selectors
 *   list
 *       every configured domain and selector: algorithm, key file, TXT
 *       record; keys on disk that no domain lists yet; exit 1 if a
 *       configured selector has no usable key
 *
 * SECURITY: runs as the daemon's user (cli_ctx_open), so new keys belong
 * to the queue process that signs with them; key bytes are wiped after
 * use and never printed. Key generation and every signature made here are
 * audited with the actor: a signature is a statement by the domain.
 * STANDARDS: RFC 6376 (3.6.1 key records, 5 signing), RFC 8463 (Ed25519),
 * RFC 8301 (RSA-2048).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "cli/ctx.h"
#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/dkim.h"
#include "mailauth/dkimkey.h"

/* ERR_MAX - room for a message that names a key path and a reason. */
#define ERR_MAX (PATH_MAX + 512)
/* SIGN_MAX - signatures `dkim sign` makes at most (--selector repeats). */
#define SIGN_MAX CLI_SELECTORS_MAX

static int
dkim_usage(void)
{
	return cli_say("usage: postern dkim keygen DOMAIN SELECTOR [--algo rsa2048|ed25519] "
		       "[--force] | list | sign --domain D [--selector S]... < MESSAGE | "
		       "verify < MESSAGE"),
	       2;
}

/* audit_dkim - one record per keygen or signature: who, which key. */
static void
audit_dkim(struct cli_ctx *x, const char *event, const char *domain, const char *selector,
	   const char *k, const char *v, const char *before, const char *after)
{
	json_t *f = json_object();

	if (before != NULL)
		json_object_set_new(f, "before", json_string(before));
	if (after != NULL)
		json_object_set_new(f, "after", json_string(after));
	json_object_set_new(f, "actor", json_string(x->actor));
	json_object_set_new(f, "domain", json_string(domain));
	json_object_set_new(f, "selector", json_string(selector));
	if (k != NULL)
		json_object_set_new(f, k, json_string(v));
	if (audit_append(x->audit, event, f) == -1)
		cli_say("audit log: %s", audit_error(x->audit));
	json_decref(f);
}

/* print_record - the TXT record and its zone-file line. */
static void
print_record(const char *domain, const char *selector, const struct dkimkey *k)
{
	struct buf txt = BUF_INIT, zone = BUF_INIT;

	dkimkey_txt(k, &txt);
	(void)dkimkey_zone_line(domain, selector, k, &zone);
	printf("Publish this TXT record as %s._domainkey.%s:\n\n%s\n\nIn a zone file:\n\n%s\n",
	       selector, domain, buf_cstr(&txt), buf_cstr(&zone));
	buf_free(&txt);
	buf_free(&zone);
}

static bool
is_configured(const struct conf *cf, const char *domain, const char *selector)
{
	const struct conf_domain *d = conf_find_domain(cf, domain);
	size_t i;

	for (i = 0; d != NULL && i < d->ndkim; i++)
		if (strcmp(d->dkim[i].name, selector) == 0)
			return true;
	return false;
}

/* print_selectors - " s1 s2": the domain's selectors. */
static void
print_selectors(const struct conf_domain *d)
{
	size_t i;

	for (i = 0; i < d->ndkim; i++)
		printf(" %s", d->dkim[i].name);
}

/* print_next_steps - how the new selector starts signing. */
static void
print_next_steps(const struct cli_ctx *x, const char *domain, const char *selector)
{
	const struct conf_domain *d = conf_find_domain(&x->cf, domain);
	const char *conf = x->c->config;

	printf("\nNext, once the record is published:\n");
	if (d == NULL) {
		printf("add to %s\n\n    domain %s {\n        dkim selector %s\n    }\n\n"
		       "(with 'deliver URL' too if this gateway receives its mail) and reload the "
		       "daemon (kill -HUP).\n",
		       conf, domain, selector);
	} else if (is_configured(&x->cf, domain, selector)) {
		printf("domain %s lists %s already: reload the daemon (kill -HUP) and it signs "
		       "with this key.\n",
		       domain, selector);
	} else if (d->ndkim == 0) {
		printf("add to the domain %s block in %s\n\n    dkim selector %s\n\nand reload the "
		       "daemon (kill -HUP).\n",
		       domain, conf, selector);
	} else {
		printf("domain %s signs with", domain);
		print_selectors(d);
		printf(" now. For a rotation, list the new selector\ntoo in %s (every listed "
		       "selector signs)\n\n    dkim selector",
		       conf);
		print_selectors(d);
		printf(" %s\n\nand reload the daemon (kill -HUP); later drop the old selector, and "
		       "its DNS\nrecord some days after that (mail in transit still needs it).\n",
		       selector);
	}
	printf("`postern dkim list` shows what is configured.\n");
}

/* save_key - k as (domain, selector), durably; 0 or 1 (message said). */
static int
save_key(struct cli_ctx *x, const char *domain, const char *selector, const struct dkimkey *k)
{
	char err[ERR_MAX];

	if (dkimkey_save(x->cf.state_dir, domain, selector, k, x->c->force, err, sizeof(err)) ==
	    0)
		return 0;
	if (errno == EEXIST)
		return cli_say("%s (a published selector keeps its key: make a new selector for a "
			       "new key, or --force replaces it)",
			       err);
	return cli_say("%s", err);
}

static int
dkim_keygen(struct cli_ctx *x, const char *domain_arg, const char *selector_arg)
{
	char domain[DKIM_DOMAIN_MAX + 1], selector[CONF_SELECTOR_MAX + 1];
	char path[PATH_MAX], label[16], before[16] = "none";
	enum dkimkey_algo algo = DKIMKEY_RSA2048;
	struct dkimkey k;
	const char *why;

	if (x->c->algo != NULL && dkimkey_algo_parse(x->c->algo, &algo) == -1)
		return cli_say("--algo '%s' is not rsa2048 or ed25519", x->c->algo);
	if (dkimkey_lower_name(domain_arg, DKIM_DOMAIN_MAX, domain, sizeof(domain)) == -1)
		return cli_say("'%s' is not a domain name", domain_arg);
	if (dkimkey_lower_name(selector_arg, CONF_SELECTOR_MAX, selector, sizeof(selector)) == -1)
		return cli_say("'%s' is not a selector (letters, digits and hyphens between dots, "
			       "like s2026)",
			       selector_arg);
	if (dkimkey_load(x->cf.state_dir, domain, selector, &k, path, sizeof(path)) == 0) {
		dkimkey_alg_label(&k, before, sizeof(before));
		dkimkey_clear(&k);
	}
	if (dkimkey_generate(algo, &k, &why) == -1)
		return cli_say("%s", why);
	if (save_key(x, domain, selector, &k) != 0) {
		dkimkey_clear(&k);
		return 1;
	}
	dkimkey_alg_label(&k, label, sizeof(label));
	audit_dkim(x, "dkim.keygen", domain, selector, "algorithm", label, before, label);
	(void)dkimkey_path(x->cf.state_dir, domain, selector, path, sizeof(path));
	printf("DKIM key for %s, selector %s: %s, in %s%s\n\n", domain, selector, label, path,
	       x->c->force ? " (replaced)" : "");
	print_record(domain, selector, &k);
	if (x->c->force)
		printf("\nThe old key is gone: until this record replaces the old one in the DNS, "
		       "mail the\ndaemon signs with this selector fails verification. The "
		       "daemon reads keys at\nstart and on reload.\n");
	print_next_steps(x, domain, selector);
	dkimkey_clear(&k);
	return 0;
}

/* read_message - stdin, at most max bytes, with every line ending made
 * CRLF (a bare LF becomes CRLF; CRLF stays; a bare CR stays a byte, as
 * DKIM canonicalization treats it). 0 or 1 (message said). */
static int
read_message(uint64_t max, struct buf *out)
{
	char chunk[8192];
	bool cr = false;
	size_t n, i;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		for (i = 0; i < n; i++) {
			if (chunk[i] == '\n' && !cr)
				buf_addc(out, '\r');
			buf_addc(out, chunk[i]);
			cr = chunk[i] == '\r';
		}
		if (out->len > max)
			return cli_say("the message is larger than max_message_size (%ju bytes)",
				       (uintmax_t)max);
	}
	if (ferror(stdin))
		return cli_say("reading the message: %s", strerror(errno));
	if (out->len == 0)
		return cli_say("no message on standard input");
	return 0;
}

/* sign_with - append the signature of msg by (domain, selector, key) to
 * sigs, and audit it; 0 or 1. */
static int
sign_with(struct cli_ctx *x, const char *domain, const char *selector, const struct dkimkey *k,
	  const struct buf *msg, struct buf *sigs)
{
	struct dkim_signer s;
	const char *why;

	memset(&s, 0, sizeof(s));
	s.domain = domain;
	s.selector = selector;
	s.alg = k->alg;
	s.hcanon = s.bcanon = DKIM_CANON_RELAXED;
	s.key_pem = k->pem;
	s.t = time(NULL);
	if (dkim_sign(msg->data, msg->len, &s, sigs, &why) == -1)
		return cli_say("cannot sign with %s of %s: %s", selector, domain, why);
	audit_dkim(x, "dkim.sign", domain, selector, NULL, NULL, NULL, NULL);
	return 0;
}

/* signing_keys - the selectors to sign with (--selector, else the
 * domain's), lower-cased into sel, and their keys; 0 or 1. Keys are
 * loaded before the message is read, so a missing one is said at once. */
static int
signing_keys(struct cli_ctx *x, const char *domain, char (*sel)[CONF_SELECTOR_MAX + 1],
	     struct dkimkey *keys, size_t *n)
{
	const struct conf_domain *d = conf_find_domain(&x->cf, domain);
	const char *names[SIGN_MAX];
	char err[ERR_MAX];
	size_t i, nn = 0;

	for (i = 0; i < (size_t)x->c->nselectors; i++)
		names[nn++] = x->c->selectors[i];
	if (nn == 0 && d != NULL)
		for (i = 0; i < d->ndkim; i++)
			names[nn++] = d->dkim[i].name;
	if (nn == 0)
		return cli_say("no --selector, and domain %s has no dkim selector in %s", domain,
			       x->c->config);
	for (*n = 0; *n < nn; (*n)++) {
		if (dkimkey_lower_name(names[*n], CONF_SELECTOR_MAX, sel[*n], CONF_SELECTOR_MAX + 1) == -1)
			return cli_say("'%s' is not a selector", names[*n]);
		if (dkimkey_load(x->cf.state_dir, domain, sel[*n], &keys[*n], err, sizeof(err)) ==
		    -1)
			return cli_say("%s", err);
	}
	return 0;
}

static int
dkim_sign_cmd(struct cli_ctx *x)
{
	struct dkimkey keys[SIGN_MAX];
	char sel[SIGN_MAX][CONF_SELECTOR_MAX + 1], domain[DKIM_DOMAIN_MAX + 1];
	struct buf msg = BUF_INIT, sigs = BUF_INIT;
	size_t n = 0, i;
	int rc = 1;

	if (x->c->domain == NULL)
		return dkim_usage();
	if (dkimkey_lower_name(x->c->domain, DKIM_DOMAIN_MAX, domain, sizeof(domain)) == -1)
		return cli_say("--domain '%s' is not a domain name", x->c->domain);
	memset(keys, 0, sizeof(keys));
	if (signing_keys(x, domain, sel, keys, &n) != 0 ||
	    read_message(x->cf.limits.max_message_size, &msg) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (sign_with(x, domain, sel[i], &keys[i], &msg, &sigs) != 0)
			goto out;
	if (fwrite(sigs.data, 1, sigs.len, stdout) != sigs.len ||
	    fwrite(msg.data, 1, msg.len, stdout) != msg.len || fflush(stdout) != 0) {
		cli_say("writing the signed message: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < nitems(keys); i++)
		dkimkey_clear(&keys[i]);
	buf_free(&msg);
	buf_free(&sigs);
	return rc;
}

/* list_key - one selector's line (and record); 0, or 1 when its key does
 * not load. */
static int
list_key(const struct cli_ctx *x, const char *domain, const char *selector, bool configured)
{
	char err[ERR_MAX], path[PATH_MAX], label[16];
	struct buf txt = BUF_INIT;
	struct dkimkey k;

	(void)dkimkey_path(x->cf.state_dir, domain, selector, path, sizeof(path));
	if (dkimkey_load(x->cf.state_dir, domain, selector, &k, err, sizeof(err)) == -1) {
		printf("%s %s - %s %s\n", domain, selector,
		       configured ? "MISSING" : "unusable (not configured)", err);
		return configured ? 1 : 0;
	}
	dkimkey_txt(&k, &txt);
	printf("%s %s %s %s %s\n    %s._domainkey.%s TXT %s\n", domain, selector,
	       dkimkey_alg_label(&k, label, sizeof(label)),
	       configured ? "signing" : "not-configured", path, selector, domain,
	       buf_cstr(&txt));
	dkimkey_clear(&k);
	buf_free(&txt);
	return 0;
}

static int
key_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name), sfx = strlen(DKIMKEY_SUFFIX);

	return e->d_name[0] != '.' && n > sfx && strcmp(e->d_name + n - sfx, DKIMKEY_SUFFIX) == 0;
}

static int
name_dir(const struct dirent *e)
{
	return valid_dkim_name(e->d_name, DKIM_DOMAIN_MAX);
}

/* list_unconfigured - keys of domain on disk that no `dkim selector`
 * names: made by keygen, waiting for their record (or left over). */
static void
list_unconfigured(const struct cli_ctx *x, const char *top, const char *domain)
{
	char dir[PATH_MAX], sel[CONF_SELECTOR_MAX + 1];
	struct dirent **e = NULL;
	int n, i;

	if (str_fmt(dir, sizeof(dir), "%s/%s", top, domain) == -1 ||
	    (n = scandir(dir, &e, key_file, alphasort)) < 0)
		return;
	for (i = 0; i < n; i++) {
		size_t len = strlen(e[i]->d_name) - strlen(DKIMKEY_SUFFIX);

		if (len < sizeof(sel)) {
			memcpy(sel, e[i]->d_name, len);
			sel[len] = '\0';
			if (valid_dkim_name(sel, CONF_SELECTOR_MAX) &&
			    !is_configured(&x->cf, domain, sel))
				list_key(x, domain, sel, false);
		}
		free(e[i]);
	}
	free(e);
}

static int
dkim_list(struct cli_ctx *x)
{
	char top[PATH_MAX];
	struct dirent **e = NULL;
	size_t i, j;
	int rc = 0, n, k;

	for (i = 0; i < x->cf.ndomains; i++) {
		const struct conf_domain *d = &x->cf.domains[i];

		if (d->ndkim == 0)
			printf("%s - - unsigned (no dkim selector)\n", d->name);
		for (j = 0; j < d->ndkim; j++)
			rc |= list_key(x, d->name, d->dkim[j].name, true);
	}
	if (str_fmt(top, sizeof(top), "%s/%s", x->cf.state_dir, DKIMKEY_SUBDIR) == 0 &&
	    (n = scandir(top, &e, name_dir, alphasort)) >= 0) {
		for (k = 0; k < n; k++) {
			list_unconfigured(x, top, e[k]->d_name);
			free(e[k]);
		}
		free(e);
	}
	if (rc != 0)
		cli_say("a configured selector has no usable key: the daemon will not start");
	return rc;
}

int
cli_dkim(struct cli *c)
{
	const char *verb = c->nwords > 1 ? c->words[1] : "";
	struct cli_ctx x;
	int rc;

	if (!((strcmp(verb, "keygen") == 0 && c->nwords == 4) ||
	      (strcmp(verb, "sign") == 0 && c->nwords == 2) ||
	      (strcmp(verb, "list") == 0 && c->nwords == 2)))
		return dkim_usage();
	if (cli_ctx_open(&x, c, false) != 0) {
		cli_ctx_close(&x);
		return 1;
	}
	if (strcmp(verb, "keygen") == 0)
		rc = dkim_keygen(&x, c->words[2], c->words[3]);
	else if (strcmp(verb, "sign") == 0)
		rc = dkim_sign_cmd(&x);
	else
		rc = dkim_list(&x);
	cli_ctx_close(&x);
	return rc;
}
