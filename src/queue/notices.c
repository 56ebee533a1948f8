/* SPDX-License-Identifier: ISC */
/*
 * notices - user notices: kinds, built-in texts, the operator's templates,
 * and queueing them (see notices.h).
 */
#include "queue/notices.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/notice.h"
#include "mail/syntax.h"
#include "queue/queue.h"

_Static_assert(TEMPLATE_SUBJECT_OUT_MAX <= NOTICE_SUBJECT_MAX, "a rendered subject fits a notice");
_Static_assert(TEMPLATE_BODY_OUT_MAX <= NOTICE_BODY_MAX, "a rendered body fits a notice");

#define BUILT_IN "built-in"

static const char *const lockout_vars[] = {"account", "ip",	  "failures", "until",
					   "time",    "hostname", NULL};
static const char *const new_ip_vars[] = {"account", "ip", "mechanism", "time", "hostname", NULL};
static const char *const expiry_vars[] = {"account", "days", "expires", "time", "hostname", NULL};
static const char *const enrol_vars[] = {"account", "time", "hostname", NULL};

/* The built-in texts: plain words for people who are not technical, what
 * happened and what to do. */

static const char lockout_text[] =
	"Subject: Your mail account was protected from a password-guessing attack\n"
	"\n"
	"Hello,\n"
	"\n"
	"Someone tried many times to sign in to your mail account {account} with a\n"
	"wrong password: {failures} failed attempts, the last one from the internet\n"
	"address {ip} at {time}.\n"
	"\n"
	"To protect you, your account now refuses sign-ins from places you have not\n"
	"used before, until {until}. Your own devices, where you signed in recently,\n"
	"keep working as usual.\n"
	"\n"
	"If this was you: wait until then, or ask your mail administrator to unlock\n"
	"your account.\n"
	"\n"
	"If this was not you: your password held and nothing was sent in your name.\n"
	"Still, if you use this password anywhere else, or if it is easy to guess,\n"
	"change it now, and ask your mail administrator about two-step sign-in.\n"
	"\n"
	"-- \n"
	"postern on {hostname}\n";

static const char new_ip_text[] =
	"Subject: New sign-in to your mail account\n"
	"\n"
	"Hello,\n"
	"\n"
	"Your mail account {account} was just used to sign in from an internet\n"
	"address it had not used before:\n"
	"\n"
	"    {ip}, at {time}\n"
	"\n"
	"If this was you (a new phone or computer, a trip, a new internet\n"
	"connection), there is nothing to do.\n"
	"\n"
	"If it was not you, someone knows your password: change it now and tell\n"
	"your mail administrator, who can see every sign-in and block the address.\n"
	"\n"
	"-- \n"
	"postern on {hostname}\n";

static const char expiry_text[] =
	"Subject: Your mail password expires soon\n"
	"\n"
	"Hello,\n"
	"\n"
	"The password of your mail account {account} expires on {expires}\n"
	"(days left: {days}).\n"
	"\n"
	"After that, your phone and computer can no longer send mail with it.\n"
	"Choose a new password before then, the way your organisation has told\n"
	"you to, or ask your mail administrator to set one. Then type the new\n"
	"password into the mail program on each of your devices.\n"
	"\n"
	"A good password is long (a few unrelated words make a good one) and is\n"
	"not used for anything else.\n"
	"\n"
	"-- \n"
	"postern on {hostname}\n";

static const char enrol_text[] =
	"Subject: Set up two-step sign-in for your mail account\n"
	"\n"
	"Hello,\n"
	"\n"
	"Your mail administrator has turned on two-step sign-in for your mail\n"
	"account {account}. From now on your password alone is not enough to send\n"
	"mail: a code from your phone is needed as well. This keeps your account\n"
	"safe even if someone learns your password.\n"
	"\n"
	"What to do:\n"
	"\n"
	"1. Install an authenticator app on your phone, if you have none yet. Any\n"
	"   app for time-based codes (TOTP) works, for example FreeOTP, Aegis,\n"
	"   Google Authenticator or Microsoft Authenticator.\n"
	"\n"
	"2. Your mail administrator gives you a QR code (or a key to type in)\n"
	"   in person. It is never sent by mail, because mail can be read on its\n"
	"   way. In the app, choose to add an account and scan the code. The app\n"
	"   then shows \"{hostname}\" with a new 6-digit code every 30 seconds.\n"
	"\n"
	"3. To send mail, sign in in one of two ways:\n"
	"   - with an app password, which your mail administrator makes for each\n"
	"     of your devices (best for phones and mail programs that remember\n"
	"     the password), or\n"
	"   - with your password immediately followed by the current 6-digit\n"
	"     code, with no space between them.\n"
	"\n"
	"Never tell anyone a code or show anyone the QR code, not even someone\n"
	"who says they are from IT support. If you did not expect this message,\n"
	"tell your mail administrator.\n"
	"\n"
	"-- \n"
	"postern on {hostname}\n";

static const struct {
	const char *name;
	const char *const *vars;
	const char *text;
	size_t len;
} kinds[NK_COUNT] = {
	[NK_LOCKOUT] = {"lockout", lockout_vars, lockout_text, sizeof(lockout_text) - 1},
	[NK_NEW_IP] = {"new-ip", new_ip_vars, new_ip_text, sizeof(new_ip_text) - 1},
	[NK_PASSWORD_EXPIRY] = {"password-expiry", expiry_vars, expiry_text,
				sizeof(expiry_text) - 1},
	[NK_2FA_ENROLMENT] = {"2fa-enrolment", enrol_vars, enrol_text, sizeof(enrol_text) - 1},
};

struct notices {
	struct template t[NK_COUNT];
	char *text[NK_COUNT];
	char *source[NK_COUNT];
};

const char *
notices_kind_name(enum notices_kind k)
{
	return (unsigned)k < NK_COUNT ? kinds[k].name : "?";
}

int
notices_kind_parse(const char *name, enum notices_kind *k)
{
	unsigned i;

	for (i = 0; i < NK_COUNT; i++) {
		if (strcmp(kinds[i].name, name) == 0) {
			*k = (enum notices_kind)i;
			return 0;
		}
	}
	return -1;
}

const char *const *
notices_kind_vars(enum notices_kind k)
{
	if ((unsigned)k >= NK_COUNT)
		log_bug("notices: kind %d", (int)k);
	return kinds[k].vars;
}

int
notices_set(struct notices *ns, enum notices_kind k, const char *source, const char *text,
	    size_t len, char *err, size_t errsz)
{
	struct template t;
	char why[512];
	int line;

	if ((unsigned)k >= NK_COUNT)
		log_bug("notices: kind %d", (int)k);
	if (template_parse(text, len, kinds[k].vars, &t, &line, why, sizeof(why)) == -1) {
		if (line > 0)
			snprintf(err, errsz, "%s:%d: %s", source, line, why);
		else
			snprintf(err, errsz, "%s: %s", source, why);
		return -1;
	}
	template_free(&ns->t[k]);
	free(ns->text[k]);
	free(ns->source[k]);
	ns->t[k] = t;
	ns->text[k] = xstrndup(text, len);
	ns->source[k] = xstrdup(source);
	return 0;
}

struct notices *
notices_new(void)
{
	struct notices *ns = xcalloc(1, sizeof(*ns));
	char err[600];
	unsigned k;

	for (k = 0; k < NK_COUNT; k++)
		if (notices_set(ns, (enum notices_kind)k, BUILT_IN, kinds[k].text, kinds[k].len,
				err, sizeof(err)) == -1)
			log_bug("notices: the built-in text does not parse: %s", err);
	return ns;
}

/* load_file - DIR/KIND.txt over the built-in text, when it exists. */
static int
load_file(struct notices *ns, const char *dir, enum notices_kind k, char *err, size_t errsz)
{
	char path[PATH_MAX];
	struct buf text = BUF_INIT;
	int rc;

	if (str_fmt(path, sizeof(path), "%s/%s%s", dir, kinds[k].name, NOTICES_SUFFIX) == -1) {
		snprintf(err, errsz, "%s: the path is too long", dir);
		return -1;
	}
	if (file_read(path, TEMPLATE_FILE_MAX, &text) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsz, "%s: %s", path,
			 errno == EFBIG ? "longer than 8192 bytes" : strerror(errno));
		return -1;
	}
	rc = notices_set(ns, k, path, buf_cstr(&text), text.len, err, errsz);
	buf_free(&text);
	return rc;
}

/* check_dir - the directory exists and each .txt file in it names a kind. */
static int
check_dir(const char *dir, char *err, size_t errsz)
{
	size_t nsuf = strlen(NOTICES_SUFFIX), n;
	struct dirent *e;
	enum notices_kind k;
	char name[64];
	DIR *d = opendir(dir);

	if (d == NULL) {
		snprintf(err, errsz, "notices dir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n <= nsuf ||
		    strcmp(e->d_name + n - nsuf, NOTICES_SUFFIX) != 0)
			continue;
		if (n - nsuf >= sizeof(name) ||
		    (memcpy(name, e->d_name, n - nsuf), name[n - nsuf] = '\0',
		     notices_kind_parse(name, &k) == -1)) {
			snprintf(err, errsz,
				 "%s/%s: not a notice kind (lockout, new-ip, password-expiry, "
				 "2fa-enrolment)",
				 dir, e->d_name);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

struct notices *
notices_load(const char *dir, char *err, size_t errsz)
{
	struct notices *ns = notices_new();
	unsigned k;

	if (dir == NULL)
		return ns;
	if (check_dir(dir, err, errsz) == -1)
		goto fail;
	for (k = 0; k < NK_COUNT; k++)
		if (load_file(ns, dir, (enum notices_kind)k, err, errsz) == -1)
			goto fail;
	return ns;
fail:
	notices_free(ns);
	return NULL;
}

const char *
notices_text(const struct notices *ns, enum notices_kind k, const char **source)
{
	if ((unsigned)k >= NK_COUNT)
		log_bug("notices: kind %d", (int)k);
	if (source != NULL)
		*source = ns->source[k];
	return ns->text[k];
}

void
notices_render(const struct notices *ns, enum notices_kind k, const struct template_var *vars,
	       size_t nvars, struct buf *subject, struct buf *body)
{
	if ((unsigned)k >= NK_COUNT)
		log_bug("notices: kind %d", (int)k);
	template_render(&ns->t[k], vars, nvars, subject, body);
}

void
notices_free(struct notices *ns)
{
	unsigned k;

	if (ns == NULL)
		return;
	for (k = 0; k < NK_COUNT; k++) {
		template_free(&ns->t[k]);
		free(ns->text[k]);
		free(ns->source[k]);
	}
	free(ns);
}

/* Queueing. */

/* notice_id - a unique token for the Message-ID. */
static void
notice_id(char *out, size_t outsz)
{
	uint32_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)getpid();
	snprintf(out, outsz, "%lld.%08x", (long long)time(NULL), rnd);
}

/* local_envelope - ours, from the null sender, to one recipient. */
static void
local_envelope(const struct queue *q, const struct smtp_path *to, time_t now,
	       struct envelope *env)
{
	struct env_rcpt r;

	memset(env, 0, sizeof(*env));
	memset(&r, 0, sizeof(r));
	env->arrival = (uint64_t)now;
	str_copy(env->client_ip, "127.0.0.1", sizeof(env->client_ip));
	str_copy(env->helo, q->cf->hostname, sizeof(env->helo));
	str_copy(env->proto, "local", sizeof(env->proto));
	env->originated = true; /* ours: DKIM-signed when its From: domain has keys */
	env->body = BODY_8BITMIME;
	env->smtputf8 = to->utf8;
	str_copy(r.addr, to->addr, sizeof(r.addr));
	str_copy(r.domain, to->domain, sizeof(r.domain));
	envelope_add_rcpt(env, &r);
}

int
notices_inject(struct queue *q, const char *to, const char *subject, const char *body)
{
	char quoted[SMTP_PATH_MAX + 3], id[40];
	struct envelope env;
	struct smtp_path path;
	struct notice n;
	struct buf msg = BUF_INIT;
	int rc = -1;

	if (str_fmt(quoted, sizeof(quoted), "<%s>", to) == -1 ||
	    smtp_parse_path(quoted, strlen(quoted), true, &path) == -1 || path.null) {
		log_warnx("queue notice-refused to=<%.80s> reason=bad-address", to);
		return -1;
	}
	notice_id(id, sizeof(id));
	memset(&n, 0, sizeof(n));
	n.hostname = q->cf->hostname;
	n.to = path.addr;
	n.subject = subject;
	n.body = body;
	n.now = time(NULL);
	n.id = id;
	local_envelope(q, &path, n.now, &env);
	if (notice_compose(&n, &msg) == -1)
		log_warnx("queue notice-refused to=<%s> reason=bad-fields", path.addr);
	else if (queue_inject(q, &env, &msg) == 0)
		rc = 0;
	envelope_clear(&env);
	buf_free(&msg);
	return rc;
}

/* has_var - is name among vars? */
static bool
has_var(const struct template_var *vars, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(vars[i].name, name) == 0)
			return true;
	return false;
}

int
notices_send(struct queue *q, enum notices_kind k, const char *to,
	     const struct template_var *vars, size_t nvars)
{
	struct template_var all[NOTICES_VARS_MAX + 2];
	struct buf subject = BUF_INIT, body = BUF_INIT;
	char when[40];
	time_t now = time(NULL);
	struct tm tm;
	size_t n = 0, i;
	int rc;

	if (nvars > NOTICES_VARS_MAX || (unsigned)k >= NK_COUNT)
		log_bug("notices_send: kind %d with %zu values", (int)k, nvars);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	for (i = 0; i < nvars; i++)
		all[n++] = vars[i];
	if (!has_var(vars, nvars, "hostname"))
		all[n++] = (struct template_var){"hostname", q->cf->hostname};
	if (!has_var(vars, nvars, "time"))
		all[n++] = (struct template_var){"time", when};
	notices_render(q->notices, k, all, n, &subject, &body);
	rc = notices_inject(q, to, buf_cstr(&subject), buf_cstr(&body));
	if (rc == 0) {
		q->notices_sent[k]++;
		log_info("queue notice-sent kind=%s to=<%s> subject=\"%.80s\"", kinds[k].name, to,
			 buf_cstr(&subject));
	}
	buf_free(&subject);
	buf_free(&body);
	return rc;
}

/* ctl_list - each kind, where its text comes from, its placeholders. */
static void
ctl_list(const struct queue *q, struct buf *out)
{
	const char *const *v;
	unsigned k;

	for (k = 0; k < NK_COUNT; k++) {
		buf_addf(out, "%-16s %s\n  placeholders:", kinds[k].name, q->notices->source[k]);
		for (v = kinds[k].vars; *v != NULL; v++)
			buf_addf(out, " {%s}", *v);
		buf_adds(out, "\n");
	}
}

/* ctl_send - `notice send 2fa-enrolment ACCOUNT`: the instructions, never
 * the secret (it stays on the admin's terminal). */
static int
ctl_send(struct queue *q, const char *kind, const char *account, struct buf *out)
{
	const struct template_var v[] = {{"account", account}};

	if (strcmp(kind, "2fa-enrolment") != 0) {
		buf_addf(out, "only 2fa-enrolment notices are sent by hand (the others come "
			      "from the events they describe)");
		return -1;
	}
	if (strchr(account, '@') == NULL) {
		buf_addf(out, "%s is not a mail address: hand the instructions over yourself",
			 account);
		return -1;
	}
	if (notices_send(q, NK_2FA_ENROLMENT, account, v, 1) == -1) {
		buf_addf(out, "the mail to %s could not be queued (see the log)", account);
		return -1;
	}
	buf_addf(out, "two-step sign-in instructions queued for %s\n", account);
	return 0;
}

int
notices_ctl(struct queue *q, char **argv, int argc, struct buf *out)
{
	enum notices_kind k;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		ctl_list(q, out);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0) {
		if (notices_kind_parse(argv[1], &k) == -1) {
			buf_addf(out, "no notice kind '%.64s' (postern notice list)", argv[1]);
			return -1;
		}
		buf_adds(out, q->notices->text[k]);
		return 0;
	}
	if (argc == 3 && strcmp(argv[0], "send") == 0)
		return ctl_send(q, argv[1], argv[2], out);
	buf_adds(out, "usage: postern notice list | show KIND | send 2fa-enrolment ACCOUNT");
	return -1;
}
