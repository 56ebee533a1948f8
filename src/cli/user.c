/* SPDX-License-Identifier: ISC */
/*
 * user - `postern user ...` and `postern audit ...`: account management on
 * the state_dir's account store, and the audit log's checks.
 *
 * They work on the files directly (SQLite WAL lets the running daemon and
 * this command share the database; the daemon re-reads an account on every
 * login and its caches follow the account's generation), so the same
 * commands serve a running and a stopped gateway. Every change is audited.
 *
 * SECURITY: run as root, the command first becomes the configured
 * unprivileged user, so the files it creates belong to the daemon. New
 * passwords are read without echo (or from stdin), checked against the
 * policy and the history, hashed with Argon2id, and wiped.
 */
#include "cli/cli.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/auditsearch.h"
#include "auth/apppw.h"
#include "auth/passwdfile.h"
#include "auth/policy.h"
#include "auth/pwhash.h"
#include "auth/scram.h"
#include "auth/store.h"
#include "auth/totp.h"
#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/file.h"
#include "lib/net.h"
#include "lib/util.h"
#include "mail/syntax.h"
#include "proc/privsep.h"
#include "cli/ctx.h"

int
cli_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("postern: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
	return 1;
}

/* become_user - as root, the daemon's user: its files stay its own. */
static int
become_user(const struct conf *cf)
{
	struct privsep_user pu;
	char err[512];

	if (privsep_lookup(cf->user, &pu, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	/* As the daemon does: state_dir exists and belongs to its user, so a
	 * store made by the CLI before the first start is the daemon's. */
	if (mkdir_p(cf->state_dir, 0755) == -1)
		return cli_say("cannot create %s: %s", cf->state_dir, strerror(errno));
	if (pu.drop && chown(cf->state_dir, pu.uid, pu.gid) == -1)
		return cli_say("cannot hand %s to user %s: %s", cf->state_dir, cf->user,
			   strerror(errno));
	if (pu.drop && (setgroups(1, &pu.gid) == -1 || setresgid(pu.gid, pu.gid, pu.gid) == -1 ||
			setresuid(pu.uid, pu.uid, pu.uid) == -1))
		return cli_say("cannot become user %s: %s", cf->user, strerror(errno));
	return 0;
}

int
cli_ctx_open(struct cli_ctx *x, struct cli *c, bool need_store)
{
	char err[CONF_ERR_MAX + 256], path[PATH_MAX];
	struct passwd *pw = getpwuid(getuid());

	memset(x, 0, sizeof(*x));
	x->c = c;
	const char *asker = getenv("POSTERN_ACTOR");

	/* A command the daemon runs for an admin (proc/job.c) names the one
	 * who asked; only root and the daemon's user can run these commands
	 * directly, and they could write any record anyway. */
	if (asker != NULL && getenv("POSTERN_VIA_DAEMON") != NULL)
		snprintf(x->actor, sizeof(x->actor), "%s", asker);
	else
		snprintf(x->actor, sizeof(x->actor), "cli:%s", pw ? pw->pw_name : "?");
	if (conf_load(c->config, &x->cf, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	if (become_user(&x->cf) != 0)
		return 1;
	if (need_store) {
		snprintf(path, sizeof(path), "%s/accounts.db", x->cf.state_dir);
		x->st = store_open(path, err, sizeof(err));
		if (x->st == NULL)
			return cli_say("%s", err);
	}
	snprintf(path, sizeof(path), "%s/%s", x->cf.state_dir, AUDIT_FILE);
	x->audit = audit_open(path, AUDIT_SYNC, err, sizeof(err));
	if (x->audit == NULL)
		return cli_say("%s", err);
	return 0;
}

void
cli_ctx_close(struct cli_ctx *x)
{
	audit_close(x->audit);
	store_close(x->st);
	conf_free(&x->cf);
}

/* state_list - append "," and the item to the list in arg (a buf). */
static int
state_item(const char *item, void *arg)
{
	struct buf *b = arg;

	buf_addf(b, "%s%s", b->len ? "," : "", item);
	return 0;
}

static int
state_app(const struct app_password *p, void *arg)
{
	return p->revoked ? 0 : state_item(p->label, arg);
}

/* account_state - the account as one line, for the before and after of
 * audit records: "absent", or its lock, password state, second factor
 * and lists. Never a secret: the hash's scheme only. */
static void
account_state(struct cli_ctx *x, const char *name, char *out, size_t outsz)
{
	struct buf addrs = BUF_INIT, allows = BUF_INIT, apps = BUF_INIT;
	char scheme[PWHASH_SCHEME_MAX] = "?";
	struct account a;
	int rc = store_get(x->st, name, &a);

	if (rc != 0) {
		snprintf(out, outsz, "%s", rc == 1 ? "absent" : "unknown");
		return;
	}
	pwhash_scheme(a.hash, scheme, sizeof(scheme));
	(void)store_addresses(x->st, name, state_item, &addrs);
	(void)store_allows(x->st, name, state_item, &allows);
	(void)store_app_list(x->st, name, state_app, &apps);
	snprintf(out, outsz,
		 "locked=%s must_change=%s 2fa=%s password=%s changed=%lld addresses=%s "
		 "allow_from=%s app_passwords=%s",
		 a.locked ? "yes" : "no", a.must_change ? "yes" : "no",
		 a.totp_sealed ? "on" : "off", scheme, (long long)a.pw_changed,
		 addrs.len ? addrs.data : "-", allows.len ? allows.data : "-",
		 apps.len ? apps.data : "-");
	account_clear(&a);
	buf_free(&addrs);
	buf_free(&allows);
	buf_free(&apps);
}

/* audit_change - one record per account change: who, what, on whom, and
 * (for the account the command names) its state before and after. */
static int
audit_change(struct cli_ctx *x, const char *event, const char *account, const char *k,
	     const char *v)
{
	json_t *f = json_object();
	int rc;

	json_object_set_new(f, "actor", json_string(x->actor));
	json_object_set_new(f, "account", audit_str(account, strlen(account)));
	if (k != NULL && v != NULL)
		json_object_set_new(f, k, audit_str(v, strlen(v)));
	if (x->target != NULL && strcmp(x->target, account) == 0) {
		char after[CLI_STATE_MAX];

		account_state(x, account, after, sizeof(after));
		json_object_set_new(f, "before", audit_str(x->before, strlen(x->before)));
		json_object_set_new(f, "after", audit_str(after, strlen(after)));
	}
	rc = audit_append(x->audit, event, f);
	json_decref(f);
	if (rc == -1)
		cli_say("audit log: %s", audit_error(x->audit));
	return rc;
}

static bool
valid_account_name(const char *name)
{
	char path[SMTP_PATH_MAX + 3];
	struct smtp_path p;

	if (str_fmt(path, sizeof(path), "<%s>", name) == -1)
		return false;
	return smtp_parse_path(path, strlen(path), false, &p) == 0 && !p.postmaster;
}

/* read_password - from stdin (--password-stdin) or twice from the
 * terminal without echo; 0 or 1 (message said). */
static int
read_line_secret(FILE *in, char *buf, size_t bufsz, size_t *len)
{
	if (fgets(buf, (int)bufsz, in) == NULL)
		return -1;
	*len = strcspn(buf, "\r\n");
	if (buf[*len] == '\0' && !feof(in) && *len == bufsz - 1)
		return -1; /* longer than the buffer */
	buf[*len] = '\0';
	return 0;
}

static int
read_password(struct cli_ctx *x, const char *prompt, char *buf, size_t bufsz, size_t *len)
{
	struct termios old, quiet;
	char again[1024];
	size_t alen;
	FILE *tty;
	int rc = 1;

	if (x->c->password_stdin) {
		if (read_line_secret(stdin, buf, bufsz, len) == -1)
			return cli_say("no password on standard input (or longer than %zu bytes)",
				   bufsz - 2);
		return 0;
	}
	tty = fopen("/dev/tty", "r+");
	if (tty == NULL)
		return cli_say("no terminal to ask for a password: use --password-stdin");
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	fprintf(tty, "%s: ", prompt);
	fflush(tty);
	if (read_line_secret(tty, buf, bufsz, len) == 0) {
		fprintf(tty, "\nagain: ");
		fflush(tty);
		if (read_line_secret(tty, again, sizeof(again), &alen) == 0 &&
		    alen == *len && memcmp(again, buf, alen) == 0)
			rc = 0;
	}
	fprintf(tty, "\n");
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fclose(tty);
	explicit_bzero(again, sizeof(again));
	if (rc != 0)
		cli_say("the passwords do not match");
	return rc;
}

struct hist_ctx {
	const char *pw;
	size_t len;
	bool reused;
};

static int
hist_cb(const char *hash, void *arg)
{
	struct hist_ctx *h = arg;

	if (pwhash_verify(hash, h->pw, h->len, NULL, NULL) == PWHASH_MATCH)
		h->reused = true;
	return h->reused;
}

/* new_password - read, check against the policy (and the account's recent
 * passwords), hash. out gets the hash, scram the SCRAM keys ("" when SCRAM
 * is off); 0 or 1. */
static int
new_password(struct cli_ctx *x, const char *name, const struct account *current, char *out,
	     size_t outsz, char scram[SCRAM_STORED_MAX])
{
	struct scram_keys k;
	char pw[1024], why[512], err[512];
	struct banned *b = NULL;
	struct pwhash_params pp = {x->cf.auth.argon2_memory, x->cf.auth.argon2_ops};
	size_t len;
	int rc = 1;

	if (read_password(x, "new password", pw, sizeof(pw), &len) != 0)
		goto out;
	if (x->cf.auth.banned_file != NULL &&
	    (b = banned_load(x->cf.auth.banned_file, err, sizeof(err))) == NULL) {
		cli_say("%s", err);
		goto out;
	}
	if (policy_check(&x->cf.auth, b, name, pw, len, why, sizeof(why)) == -1) {
		cli_say("password refused: %s", why);
		goto out;
	}
	if (current != NULL && x->cf.auth.history > 0) {
		struct hist_ctx h = {pw, len, false};

		hist_cb(current->hash, &h);
		if (!h.reused)
			store_history(x->st, name, hist_cb, &h);
		if (h.reused) {
			cli_say("password refused: it is one of the last %ju passwords of %s; choose "
			    "a new one",
			    (uintmax_t)x->cf.auth.history, name);
			goto out;
		}
	}
	if (pwhash_create(pw, len, &pp, out, outsz) == -1) {
		cli_say("cannot hash the password");
		goto out;
	}
	scram[0] = '\0';
	if (x->cf.auth.scram_iterations > 0 &&
	    (scram_keys_derive(pw, len, (uint32_t)x->cf.auth.scram_iterations, &k) == -1 ||
	     scram_keys_format(&k, scram, SCRAM_STORED_MAX) == -1)) {
		cli_say("cannot make the SCRAM keys");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(&k, sizeof(k));
	banned_free(b);
	return rc;
}

static int
user_add(struct cli_ctx *x, const char *name)
{
	char hash[PWHASH_STR_MAX], scram[SCRAM_STORED_MAX];
	int rc;

	if (!valid_account_name(name))
		return cli_say("'%s' is not an address (accounts are named user@domain)", name);
	struct account cur;

	if (store_get(x->st, name, &cur) == 0) {
		account_clear(&cur);
		return cli_say("%s exists already", name);
	}
	if (new_password(x, name, NULL, hash, sizeof(hash), scram) != 0)
		return 1;
	rc = store_add(x->st, name, hash, time(NULL));
	if (rc == 0 && scram[0] != '\0')
		rc = store_set_scram(x->st, name, scram);
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(scram, sizeof(scram));
	if (rc != 0)
		return cli_say(rc == 1 ? "%s exists already" : "%s: %s", name, store_error(x->st));
	audit_change(x, "user.add", name, NULL, NULL);
	printf("added %s\n", name);
	return 0;
}

static int
user_passwd(struct cli_ctx *x, const char *name)
{
	char hash[PWHASH_STR_MAX], scram[SCRAM_STORED_MAX];
	struct account a;
	int rc;

	rc = store_get(x->st, name, &a);
	if (rc != 0)
		return cli_say(rc == 1 ? "no account %s" : "%s: %s", name, store_error(x->st));
	rc = new_password(x, name, &a, hash, sizeof(hash), scram);
	account_clear(&a);
	if (rc != 0)
		return 1;
	rc = store_set_password(x->st, name, hash, time(NULL), x->c->reset,
				(unsigned)x->cf.auth.history);
	if (rc == 0 && scram[0] != '\0')
		rc = store_set_scram(x->st, name, scram);
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(scram, sizeof(scram));
	if (rc != 0)
		return cli_say("%s: %s", name, store_error(x->st));
	audit_change(x, x->c->reset ? "user.reset" : "user.passwd", name, NULL, NULL);
	printf("%s %s\n", x->c->reset ? "reset (must change at next login)" : "changed", name);
	return 0;
}

static int
print_addr(const char *t, void *arg)
{
	printf("%s%s", *(int *)arg ? ", " : "", t);
	*(int *)arg = 1;
	return 0;
}

static int
list_cb(const struct account *a, void *arg)
{
	char scheme[PWHASH_SCHEME_MAX] = "?";

	(void)arg;
	pwhash_scheme(a->hash, scheme, sizeof(scheme));
	printf("%-40s %-8s %-4s %-12s %s\n", a->name, a->locked ? "locked" : "active",
	       a->totp_sealed ? "2fa" : "-", scheme, a->must_change ? "must-change" : "");
	return 0;
}

static void
fmt_time(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0) {
		str_copy(out, "never", outsz);
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
app_cb(const struct app_password *p, void *arg)
{
	char c[32], e[32], u[32];

	(void)arg;
	fmt_time(p->created, c, sizeof(c));
	fmt_time(p->expires, e, sizeof(e));
	fmt_time(p->last_used, u, sizeof(u));
	printf("app-password: %s created=%s expires=%s from=%s last-used=%s last-ip=%s%s\n",
	       p->label, c, e, p->from_cidr ? p->from_cidr : "any", u,
	       p->last_ip ? p->last_ip : "-", p->revoked ? " revoked" : "");
	return 0;
}

static int
user_show(struct cli_ctx *x, const char *name)
{
	char scheme[PWHASH_SCHEME_MAX] = "?", when[32];
	struct account a;
	int64_t until, level;
	int rc, first;

	rc = store_get(x->st, name, &a);
	if (rc != 0)
		return cli_say(rc == 1 ? "no account %s" : "%s: %s", name, store_error(x->st));
	pwhash_scheme(a.hash, scheme, sizeof(scheme));
	printf("account: %s\n", a.name);
	printf("status: %s%s%s\n", a.locked ? "locked" : "active",
	       a.lock_reason ? " reason=" : "", a.lock_reason ? a.lock_reason : "");
	if (store_guard_lock_get(x->st, a.name, &until, &level) == 0) {
		fmt_time(until, when, sizeof(when));
		printf("guard lock: %s against untrusted sources until %s (lock %lld; "
		       "`postern user unlock` lifts it)\n",
		       until > (int64_t)time(NULL) ? "locked" : "was locked", when,
		       (long long)level);
	}
	printf("password: %s%s\n", scheme, a.must_change ? " (must change at next login)" : "");
	fmt_time(a.pw_changed, when, sizeof(when));
	printf("password-changed: %s\n", when);
	if (x->cf.auth.max_age > 0) {
		fmt_time(a.pw_changed + (int64_t)x->cf.auth.max_age, when, sizeof(when));
		printf("password-expires: %s%s\n", when,
		       a.pw_changed + (int64_t)x->cf.auth.max_age <= (int64_t)time(NULL)
			   ? " (expired: AUTH gets 432 4.7.12 until it is changed)"
			   : "");
	}
	printf("two-factor: %s\n", a.totp_sealed ? "on (TOTP)" : "off");
	printf("may-send-as: %s", a.name);
	first = 1;
	store_addresses(x->st, name, print_addr, &first);
	printf("\nallow-from: ");
	first = 0;
	store_allows(x->st, name, print_addr, &first);
	printf("%s\n", first ? "" : "anywhere");
	store_app_list(x->st, name, app_cb, NULL);
	account_clear(&a);
	return 0;
}

static int
simple_change(struct cli_ctx *x, int rc, const char *event, const char *name, const char *k,
	      const char *v, const char *done)
{
	if (rc == -1)
		return cli_say("%s: %s", name, store_error(x->st));
	if (rc == 1)
		return cli_say("nothing to do for %s (no such account, or no change)", name);
	audit_change(x, event, name, k, v);
	printf("%s\n", done);
	return 0;
}

/* user_unlock - lift the admin lock and the guard's lock against
 * untrusted sources. */
static int
user_unlock(struct cli_ctx *x, const char *name)
{
	int admin = store_set_locked(x->st, name, false, NULL);
	int guard = admin == -1 ? -1 : store_guard_unlock(x->st, name);

	return simple_change(x, admin == -1 || guard == -1 ? -1 : admin == 0 || guard == 0 ? 0 : 1,
			     "user.unlock", name, NULL, NULL, "unlocked");
}

static int
user_address(struct cli_ctx *x, const char *op, const char *name, const char *address)
{
	char path[SMTP_PATH_MAX + 3];
	struct smtp_path p;
	bool domain = address[0] == '@';

	if (domain ? !valid_domain(address + 1, strlen(address + 1), false)
		   : (str_fmt(path, sizeof(path), "<%s>", address) == -1 ||
		      smtp_parse_path(path, strlen(path), false, &p) == -1))
		return cli_say("'%s' is neither an address nor @domain", address);
	if (strcmp(op, "add") == 0)
		return simple_change(x, store_address_add(x->st, name, address), "user.address.add",
				     name, "address", address, "added");
	if (strcmp(op, "del") == 0)
		return simple_change(x, store_address_del(x->st, name, address), "user.address.del",
				     name, "address", address, "removed");
	return cli_say("usage: user address add|del NAME ADDRESS");
}

static int
user_allow(struct cli_ctx *x, const char *name, const char *cidr)
{
	struct cidr c;

	if (net_parse_cidr(cidr, &c) == -1)
		return cli_say("'%s' is not a network (like 10.0.0.0/8 or 2001:db8::/32)", cidr);
	if (x->c->remove)
		return simple_change(x, store_allow_del(x->st, name, cidr), "user.allow.del", name,
				     "network", cidr, "removed");
	return simple_change(x, store_allow_add(x->st, name, cidr), "user.allow.add", name,
			     "network", cidr, "added");
}

static int
user_import(struct cli_ctx *x, const char *file)
{
	struct passwd_entry e;
	struct buf text = BUF_INIT;
	char scheme[PWHASH_SCHEME_MAX];
	size_t i = 0, lineno = 0, added = 0, skipped = 0;
	int bad = 0;

	if (file_read(file, 64 * 1024 * 1024, &text) == -1)
		return cli_say("%s: %s", file, strerror(errno));
	/* Check every line first: an import is all or nothing. */
	for (int pass = 0; pass < 2 && !bad; pass++) {
		i = 0;
		lineno = 0;
		while (i < text.len) {
			const char *nl = memchr(text.data + i, '\n', text.len - i);
			size_t n = nl ? (size_t)(nl - (text.data + i)) : text.len - i;
			int rc = passwdfile_line(text.data + i, n, &e);

			lineno++;
			i += n + 1;
			if (rc == 1)
				continue;
			if (rc == -1 || !valid_account_name(e.user) ||
			    pwhash_scheme(e.hash, scheme, sizeof(scheme)) == -1) {
				cli_say("%s:%zu: not a passwd-file line with a user@domain and a "
				    "supported password scheme",
				    file, lineno);
				bad = 1;
				continue;
			}
			if (pass == 0)
				continue;
			if (store_add(x->st, e.user, e.hash, time(NULL)) == 0) {
				audit_change(x, "user.import", e.user, "scheme", scheme);
				added++;
			} else {
				skipped++;
			}
		}
	}
	explicit_bzero(text.data, text.len);
	buf_free(&text);
	explicit_bzero(&e, sizeof(e));
	if (bad)
		return cli_say("nothing imported");
	printf("imported %zu account%s%s\n", added, added == 1 ? "" : "s",
	       skipped ? " (existing ones kept)" : "");
	return 0;
}

/* user_2fa - turn TOTP on (printing the secret, the otpauth URI and a QR
 * code, once) or off. */
static int
user_2fa(struct cli_ctx *x, const char *op, const char *name)
{
	uint8_t key[SEAL_KEY_LEN], secret[TOTP_SECRET_LEN];
	char path[PATH_MAX], b32[BASE32_LEN(TOTP_SECRET_LEN) + 1];
	struct buf sealed = BUF_INIT, uri = BUF_INIT, qr = BUF_INIT;
	struct account a;
	int rc;

	rc = store_get(x->st, name, &a);
	if (rc != 0)
		return cli_say(rc == 1 ? "no account %s" : "%s: %s", name, store_error(x->st));
	rc = a.totp_sealed != NULL;
	account_clear(&a);
	if (strcmp(op, "disable") == 0) {
		if (!rc)
			return cli_say("two-factor authentication is not on for %s", name);
		return simple_change(x, store_set_totp(x->st, name, NULL), "user.2fa.disable", name,
				     NULL, NULL, "two-factor authentication off");
	}
	if (strcmp(op, "enable") != 0)
		return cli_say("usage: user 2fa enable|disable NAME");
	if (rc && !x->c->reset)
		return cli_say("two-factor authentication is on for %s already (--reset makes a new "
			   "secret; the old one stops working)",
			   name);
	snprintf(path, sizeof(path), "%s/%s", x->cf.state_dir, TOTP_KEY_FILE);
	if (seal_key_load(path, key) == -1 &&
	    (errno != ENOENT || seal_key_create(path, key) == -1))
		return cli_say("TOTP key %s: %s", path, strerror(errno));
	totp_new_secret(secret);
	rc = 1;
	if (seal(key, secret, sizeof(secret), &sealed) == -1 ||
	    base32_encode(secret, sizeof(secret), b32, sizeof(b32)) == -1 ||
	    totp_uri(x->cf.hostname, name, secret, sizeof(secret), &uri) == -1) {
		cli_say("cannot make a TOTP secret for %s (is the name too long?)", name);
		goto out;
	}
	buf_add(&sealed, "", 1);
	if (store_set_totp(x->st, name, sealed.data) != 0) {
		cli_say("%s: %s", name, store_error(x->st));
		goto out;
	}
	audit_change(x, "user.2fa.enable", name, NULL, NULL);
	buf_add(&uri, "", 1);
	printf("two-factor authentication on for %s\n\n", name);
	printf("secret (base32): %s\n", b32);
	printf("otpauth URI:     %s\n\n", uri.data);
	if (totp_qr_terminal(uri.data, &qr) == 0)
		fwrite(qr.data, 1, qr.len, stdout);
	printf("\nScan the code (or type the secret) into an authenticator app. The account\n"
	       "password alone no longer works for SMTP: log in with an app password\n"
	       "(postern user app-password add %s --label NAME) or with the password\n"
	       "immediately followed by the current 6-digit code. This secret is not\n"
	       "shown again.\n",
	       name);
	rc = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b32, sizeof(b32));
	buf_wipe_free(&sealed);
	buf_wipe_free(&uri);
	buf_wipe_free(&qr);
	return rc;
}

/* user_app - app passwords: add (shown once), list, revoke. */
static int
user_app(struct cli_ctx *x, const char *op, const char *name, const char *label)
{
	struct app_password p;
	char pw[APPPW_TEXT_LEN + 1], hash[APPPW_STORED_MAX];
	struct account a;
	uint64_t ttl = 0;
	struct cidr c;
	int rc;

	rc = store_get(x->st, name, &a);
	if (rc != 0)
		return cli_say(rc == 1 ? "no account %s" : "%s: %s", name, store_error(x->st));
	account_clear(&a);
	if (strcmp(op, "list") == 0 && label == NULL)
		return store_app_list(x->st, name, app_cb, NULL) == 0
			   ? 0
			   : cli_say("%s: %s", name, store_error(x->st));
	if (strcmp(op, "revoke") == 0 && label != NULL)
		return simple_change(x, store_app_revoke(x->st, name, label),
				     "user.app-password.revoke", name, "label", label, "revoked");
	if (strcmp(op, "add") != 0 || label != NULL)
		return cli_say("usage: user app-password add NAME --label LABEL [--expires 90d] "
			   "[--from CIDR] | list NAME | revoke NAME LABEL");
	label = x->c->label;
	if (label == NULL || *label == '\0' || strlen(label) > STORE_LABEL_MAX ||
	    !valid_utf8(label, strlen(label)) || strpbrk(label, " \t\r\n") != NULL)
		return cli_say("an app password needs --label NAME (up to %d characters, no spaces), "
			   "say the device it is for",
			   STORE_LABEL_MAX);
	if (x->c->expires != NULL && (parse_duration(x->c->expires, &ttl) == -1 || ttl == 0))
		return cli_say("--expires '%s' is not a duration like 90d or 12h", x->c->expires);
	if (x->c->from != NULL && net_parse_cidr(x->c->from, &c) == -1)
		return cli_say("--from '%s' is not a network (like 10.0.0.0/8 or 2001:db8::/32)",
			   x->c->from);
	apppw_generate(pw);
	if (apppw_hash(pw, strlen(pw), hash, sizeof(hash)) == -1) {
		sodium_memzero(pw, sizeof(pw));
		return cli_say("cannot hash the app password");
	}
	memset(&p, 0, sizeof(p));
	str_copy(p.label, label, sizeof(p.label));
	p.hash = hash;
	p.created = time(NULL);
	p.expires = ttl ? p.created + (int64_t)ttl : 0;
	p.from_cidr = (char *)x->c->from;
	rc = store_app_add(x->st, name, &p);
	sodium_memzero(hash, sizeof(hash));
	if (rc != 0) {
		sodium_memzero(pw, sizeof(pw));
		return cli_say(rc == 1 ? "%s has an app password labelled %s already"
				   : "%s: cannot store the app password (%s)",
			   name, rc == 1 ? label : store_error(x->st));
	}
	audit_change(x, "user.app-password.add", name, "label", label);
	printf("app password for %s (%s): %s\n", name, label, pw);
	printf("Use it instead of the account password in the mail client on that device. It\n"
	       "is shown only this once; `postern user app-password revoke %s %s` ends it.\n",
	       name, label);
	sodium_memzero(pw, sizeof(pw));
	return 0;
}

static int
user_usage(void)
{
	return cli_say("usage: postern user add|list|show|del|passwd|lock|unlock|address|allow-from|"
		   "import|2fa|app-password ... (see postern help)"),
	       2;
}

/* user_target - the account a changing `user` command names, or NULL. */
static const char *
user_target(const struct cli *c)
{
	const char *verb = c->nwords > 1 ? c->words[1] : "";

	if (strcmp(verb, "address") == 0 || strcmp(verb, "2fa") == 0 ||
	    strcmp(verb, "app-password") == 0)
		return c->nwords > 3 ? c->words[3] : NULL;
	if (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0 || strcmp(verb, "import") == 0)
		return NULL;
	return c->nwords > 2 ? c->words[2] : NULL;
}

int
cli_user(struct cli *c)
{
	struct cli_ctx x;
	const char *verb = c->nwords > 1 ? c->words[1] : "";
	const char *name = c->nwords > 2 ? c->words[2] : NULL;
	int rc;

	if (c->nwords < 2)
		return user_usage();
	if (cli_ctx_open(&x, c, true) != 0) {
		cli_ctx_close(&x);
		return 1;
	}
	x.target = user_target(c);
	if (x.target != NULL)
		account_state(&x, x.target, x.before, sizeof(x.before));
	if (strcmp(verb, "list") == 0 && c->nwords == 2)
		rc = store_list(x.st, list_cb, NULL) == 0 ? 0 : cli_say("%s", store_error(x.st));
	else if (strcmp(verb, "add") == 0 && c->nwords == 3)
		rc = user_add(&x, name);
	else if (strcmp(verb, "show") == 0 && c->nwords == 3)
		rc = user_show(&x, name);
	else if (strcmp(verb, "del") == 0 && c->nwords == 3)
		rc = simple_change(&x, store_del(x.st, name), "user.del", name, NULL, NULL,
				   "deleted");
	else if (strcmp(verb, "passwd") == 0 && c->nwords == 3)
		rc = user_passwd(&x, name);
	else if (strcmp(verb, "lock") == 0 && c->nwords == 3)
		rc = simple_change(&x, store_set_locked(x.st, name, true, c->reason ? c->reason
										  : "admin"),
				   "user.lock", name, "reason", c->reason ? c->reason : "admin",
				   "locked");
	else if (strcmp(verb, "unlock") == 0 && c->nwords == 3)
		rc = user_unlock(&x, name);
	else if (strcmp(verb, "address") == 0 && c->nwords == 5)
		rc = user_address(&x, c->words[2], c->words[3], c->words[4]);
	else if (strcmp(verb, "allow-from") == 0 && c->nwords == 4)
		rc = user_allow(&x, name, c->words[3]);
	else if (strcmp(verb, "import") == 0 && c->nwords == 3)
		rc = user_import(&x, name);
	else if (strcmp(verb, "2fa") == 0 && c->nwords == 4)
		rc = user_2fa(&x, c->words[2], c->words[3]);
	else if (strcmp(verb, "app-password") == 0 && (c->nwords == 4 || c->nwords == 5))
		rc = user_app(&x, c->words[2], c->words[3], c->nwords == 5 ? c->words[4] : NULL);
	else
		rc = user_usage();
	cli_ctx_close(&x);
	return rc;
}

static int
emit_line(const char *line, size_t len, void *arg)
{
	(void)arg;
	fwrite(line, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	return 0;
}

static volatile sig_atomic_t follow_stop;

static void
on_int(int sig)
{
	(void)sig;
	follow_stop = 1;
}

/* since_ts - --since as an RFC 3339 prefix: given as one, or a duration
 * back from now ("24h", "7d"). */
static int
since_ts(const char *arg, char *out, size_t outsz)
{
	uint64_t secs;
	time_t t;
	struct tm tm;

	if (arg == NULL) {
		out[0] = '\0';
		return 0;
	}
	if (parse_duration(arg, &secs) == 0) {
		t = time(NULL) - (time_t)secs;
		gmtime_r(&t, &tm);
		strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	if (strlen(arg) < 4 || strlen(arg) >= outsz || strspn(arg, "0123456789-T:.Z") != strlen(arg))
		return -1;
	str_copy(out, arg, outsz);
	return 0;
}

/* audit_search_cmd - `audit search`: matching records, one per line. */
static int
audit_search_cmd(struct cli *c, const struct conf *cf, const char *path)
{
	struct audit_filter f = {NULL, c->actor, c->event};
	enum audit_format fmt = AUDIT_FMT_JSON;
	struct buf out = BUF_INIT;
	char since[40], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;

	if (since_ts(c->since, since, sizeof(since)) == -1)
		return cli_say("--since: '%s' is not a time (2026-11-28T10:00) or a duration (24h)",
			       c->since);
	f.since = since[0] ? since : NULL;
	if (c->format != NULL && strcmp(c->format, "syslog") == 0)
		fmt = AUDIT_FMT_SYSLOG;
	else if (c->format != NULL && strcmp(c->format, "json") != 0)
		return cli_say("--format: '%s' is not json or syslog", c->format);
	if ((fp = fopen(path, "re")) == NULL)
		return cli_say("%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] != '\n' || n > AUDIT_LINE_MAX)
			continue; /* a torn or over-long line is no record */
		if (!audit_match(line, (size_t)n - 1, &f))
			continue;
		buf_reset(&out);
		if (audit_export(line, (size_t)n - 1, fmt, cf->hostname, &out) == 0)
			fputs(buf_cstr(&out), stdout);
	}
	free(line);
	buf_free(&out);
	fclose(fp);
	return 0;
}

/* say_report - a report line on stdout (ok) or stderr. */
static void
say_report(const struct buf *out, bool ok)
{
	fputs(buf_cstr(out), ok ? stdout : stderr);
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		fputc('\n', ok ? stdout : stderr);
}

/* check_anchor - one anchor (text "seq=N hash=H" or "N:H", from where)
 * against the log; 0 or 1. */
static int
check_anchor(const char *path, const char *text, size_t len, const char *where)
{
	char hash[AUDIT_HASH_HEX];
	struct buf out = BUF_INIT;
	uint64_t seq;
	int rc;

	if (audit_anchor_parse(text, len, &seq, hash) == -1)
		return cli_say("%s: not an anchor (seq=N hash=H, or N:H)", where);
	rc = audit_anchor_check(path, seq, hash, &out);
	if (rc == -1 && out.len == 0)
		buf_addf(&out, "%s: %s", path, strerror(errno));
	buf_addf(&out, " (%s)", where);
	say_report(&out, rc == 0);
	buf_free(&out);
	return rc == 0 ? 0 : 1;
}

/* audit_verify_cmd - the hash chain, then the anchors: the last one the
 * daemon wrote (state_dir/audit.anchor) and --anchor from elsewhere (the
 * copy of the log line syslog shipped away), which also catch a log cut
 * short, something the chain alone cannot see. */
static int
audit_verify_cmd(struct cli *c, const struct conf *cf, const char *path)
{
	char apath[PATH_MAX];
	struct buf out = BUF_INIT, anchor = BUF_INIT;
	int rc;

	rc = audit_verify(path, &out) == 0 ? 0 : 1;
	say_report(&out, rc == 0);
	buf_free(&out);
	snprintf(apath, sizeof(apath), "%s/%s", cf->state_dir, AUDIT_ANCHOR_FILE);
	if (file_read(apath, 4096, &anchor) == 0)
		rc |= check_anchor(path, anchor.data, anchor.len, AUDIT_ANCHOR_FILE);
	else if (errno != ENOENT)
		rc |= cli_say("%s: %s", apath, strerror(errno));
	buf_free(&anchor);
	if (c->anchor != NULL)
		rc |= check_anchor(path, c->anchor, strlen(c->anchor), "--anchor");
	return rc;
}

int
cli_audit(struct cli *c)
{
	struct buf out = BUF_INIT;
	char path[PATH_MAX];
	struct cli_ctx x;
	int rc;

	if (c->nwords != 2 ||
	    (strcmp(c->words[1], "verify") != 0 && strcmp(c->words[1], "tail") != 0 &&
	     strcmp(c->words[1], "search") != 0))
		return cli_say("usage: postern audit verify [--anchor N:HASH] | tail [-f] | "
			       "search [--since T] "
			       "[--actor A] [--event E] [--format json|syslog]"),
		       2;
	if (cli_ctx_open(&x, c, false) != 0) {
		cli_ctx_close(&x);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", x.cf.state_dir, AUDIT_FILE);
	if (strcmp(c->words[1], "verify") == 0) {
		rc = audit_verify_cmd(c, &x.cf, path);
	} else if (strcmp(c->words[1], "search") == 0) {
		rc = audit_search_cmd(c, &x.cf, path);
	} else if (c->follow) {
		signal(SIGINT, on_int);
		signal(SIGTERM, on_int);
		rc = audit_follow(path, 20, emit_line, NULL, &follow_stop) == 0 ? 0 : 1;
	} else {
		rc = audit_tail(path, 20, &out) == 0 ? 0 : 1;
		fputs(buf_cstr(&out), stdout);
	}
	buf_free(&out);
	cli_ctx_close(&x);
	return rc;
}
