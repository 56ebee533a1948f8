/* SPDX-License-Identifier: ISC */
/*
 * authd - server-side SASL and credential checks (auth process).
 *
 * SECURITY: see authd.h. Passwords live in wiped buffers for the length
 * of one check; nothing secret is logged; every verdict is audited.
 */
#include "auth/authd.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/role.h"
#include "admin/token.h"
#include "audit/audit.h"
#include "auth/apppw.h"
#include "auth/guardd.h"
#include "auth/hashpool.h"
#include "auth/pwhash.h"
#include "auth/sasl.h"
#include "auth/scram.h"
#include "auth/store.h"
#include "auth/totp.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/metrics.h"
#include "lib/net.h"
#include "lib/util.h"

#define AUTHD_CACHE_MAX 100000 /* entries; beyond, the oldest half goes */
#define SCRAM_KEY_FILE "scram.key" /* in state_dir: salts of unknown SCRAM users */

struct asess {
	uint64_t sid;
	enum auth_mech mech;
	int step; /* LOGIN: 0 waiting for the user name, 1 for the password */
	char ip[NET_ADDRSTRLEN];
	bool tls;
	char user[STORE_NAME_MAX + 1];
	bool busy;	/* a verification is running */
	bool cancelled; /* the client went away meanwhile */
	bool detached;	/* replaced by a newer AUTH: owned by its job only */
	const char *credential;		 /* "password", "password+totp", "app-password" */
	struct scram_server *scram;	 /* SCRAM: the exchange */
	const char *scram_reason;	 /* SCRAM: why it will fail, decided at lookup */
	uint8_t cb[SCRAM_CB_LEN];	 /* SCRAM-PLUS: the channel binding */
	bool plus_offered;
	char app_label[STORE_LABEL_MAX + 1]; /* the app password used */
	/* the guard: set once the attempt passed its gate */
	bool guarded;
	struct guard_attempt ga; /* ga.ip and ga.account point into this */
	uint32_t delay_ms;	 /* hold the answer this long */
	char token[TOKEN_MAX + 1]; /* ADMIN-API: the token a success carries */
};

struct cached {
	int64_t generation;
	uint64_t expires;
};

struct authd {
	struct event_base *base;
	struct conf *cf;
	struct store *store;
	struct audit *audit;
	struct event *sync_ev; /* the audit log reaches the disk once a second */
	struct event *anchor_ev; /* the chain head is written down regularly */
	uint8_t api_key[TOKEN_KEY_LEN]; /* seals admin API tokens */
	bool has_api_key;
	struct hashpool *pool;
	struct pwhash_params params;
	struct map *sessions; /* sid hex -> asess */
	struct map *cache;    /* keyed hash hex -> cached */
	uint8_t cache_key[crypto_generichash_KEYBYTES];
	uint8_t seal_key[SEAL_KEY_LEN];
	bool seal_loaded;
	uint8_t scram_secret[SCRAM_DUMMY_SECRET_LEN]; /* salts of unknown SCRAM users */
	const struct authd_ops *ops;
	void *arg;
	struct guardd *gd;
	struct guardd_ops gd_ops;
	struct metrics *metrics;
};

/* A verification on the pool. */
struct vjob {
	struct hashjob job;
	struct authd *a;
	struct asess *s; /* stays valid: a busy session is freed by its job */
	char *stored; /* NULL: a dummy hash for an unknown account */
	char *pw;
	size_t pwlen;
	struct pwhash_params params;
	enum pwhash_result result;
	bool rehash;
	char newhash[256];
	const char *reason; /* set when the outcome is already a failure */
	char code[TOTP_DIGITS + 1]; /* password + TOTP: the code, else "" */
	uint32_t scram_iter;	    /* the account has no SCRAM keys: make them */
	int64_t generation;	    /* of the account when the job started */
	char newscram[SCRAM_STORED_MAX];
};

static void
sid_key(uint64_t sid, char key[17])
{
	snprintf(key, 17, "%016llx", (unsigned long long)sid);
}

static void
sess_free(struct asess *s)
{
	if (s->scram != NULL) {
		scram_server_clear(s->scram);
		free(s->scram);
	}
	explicit_bzero(s, sizeof(*s));
	free(s);
}

static struct asess *
sess_get(struct authd *a, uint64_t sid)
{
	char key[17];

	sid_key(sid, key);
	return map_get(a->sessions, key);
}

static void
sess_end(struct authd *a, struct asess *s)
{
	char key[17];

	sid_key(s->sid, key);
	map_del(a->sessions, key);
	sess_free(s);
}

static const char *
mech_name(enum auth_mech m)
{
	switch (m) {
	case MECH_PLAIN:
		return "PLAIN";
	case MECH_LOGIN:
		return "LOGIN";
	case MECH_SCRAM:
		return "SCRAM-SHA-256";
	case MECH_ADMIN:
		return "ADMIN-API";
	default:
		return "SCRAM-SHA-256-PLUS";
	}
}

static const char *
status_name(enum auth_status st)
{
	switch (st) {
	case AUTH_OK:
		return "ok";
	case AUTH_FAIL:
		return "failed";
	case AUTH_TEMPFAIL:
		return "tempfail";
	case AUTH_EXPIRED:
		return "expired";
	case AUTH_MALFORMED:
		return "malformed";
	case AUTH_WEAK:
		return "mechanism-too-weak";
	default:
		return "continue";
	}
}

/* audit_auth - one record per verdict: account, IP, mechanism, result, why. */
static void
audit_auth(struct authd *a, const struct asess *s, enum auth_status st, const char *reason)
{
	json_t *f = json_object();
	char esc[LOG_ESCAPE_BUF];

	json_object_set_new(f, "account", audit_str(s->user, strlen(s->user)));
	json_object_set_new(f, "ip", json_string(s->ip));
	json_object_set_new(f, "mechanism", json_string(mech_name(s->mech)));
	json_object_set_new(f, "result", json_string(status_name(st)));
	if (s->credential != NULL)
		json_object_set_new(f, "credential", json_string(s->credential));
	if (s->app_label[0] != '\0')
		json_object_set_new(f, "app_password", audit_str(s->app_label, strlen(s->app_label)));
	if (reason != NULL)
		json_object_set_new(f, "reason", json_string(reason));
	if (a->audit != NULL && audit_append(a->audit, "auth", f) == -1)
		log_warnx("auth audit-append-failed error=\"%s\"", audit_error(a->audit));
	json_decref(f);
	if (a->metrics != NULL) {
		char l[METRICS_LABELS_MAX];

		metrics_labels(l, sizeof(l), "mechanism", mech_name(s->mech), "result",
			       status_name(st), (char *)NULL);
		metrics_add(a->metrics, "postern_auth_attempts_total", l, 1);
		if (st != AUTH_OK && reason != NULL) {
			metrics_labels(l, sizeof(l), "reason", reason, (char *)NULL);
			metrics_add(a->metrics, "postern_auth_failures_total", l, 1);
		}
	}
	log_info("%016llx auth %s user=\"%s\" ip=%s mechanism=%s%s%s%s%s",
		 (unsigned long long)s->sid, status_name(st), log_escape_str(esc, s->user), s->ip,
		 mech_name(s->mech), s->credential ? " credential=" : "",
		 s->credential ? s->credential : "", reason ? " reason=" : "", reason ? reason : "");
}

static void
answer_days(struct authd *a, struct asess *s, enum auth_status st, const char *reason,
	    const char *const *addrs, size_t naddrs, int days)
{
	struct auth_answer ans;

	memset(&ans, 0, sizeof(ans));
	ans.expires_days = days;
	ans.status = st;
	ans.user = s->user;
	ans.addresses = addrs;
	ans.naddresses = naddrs;
	if (s->guarded && st == AUTH_FAIL) {
		bool repeat;

		s->delay_ms = guardd_failed(a->gd, &s->ga, &repeat);
		if (repeat)
			reason = reason != NULL && strcmp(reason, "bad-password") == 0
					 ? "bad-password-repeated"
					 : reason;
	} else if (s->guarded && st == AUTH_OK) {
		guardd_succeeded(a->gd, &s->ga);
	}
	ans.delay_ms = s->delay_ms;
	if (st == AUTH_OK && s->token[0] != '\0') {
		ans.challenge = (const uint8_t *)s->token;
		ans.challenge_len = strlen(s->token);
	}
	if (st != AUTH_MALFORMED)
		audit_auth(a, s, st, reason);
	a->ops->answer(a->arg, s->sid, &ans);
	sess_end(a, s);
}

static void
answer(struct authd *a, struct asess *s, enum auth_status st, const char *reason,
       const char *const *addrs, size_t naddrs)
{
	answer_days(a, s, st, reason, addrs, naddrs, -1);
}

static void
challenge(struct authd *a, struct asess *s, const char *text)
{
	struct auth_answer ans;

	memset(&ans, 0, sizeof(ans));
	ans.status = AUTH_CONTINUE;
	ans.expires_days = -1;
	ans.challenge = (const uint8_t *)text;
	ans.challenge_len = strlen(text);
	a->ops->answer(a->arg, s->sid, &ans);
}

/* The verified-credential cache. */

static void
cache_id(struct authd *a, const char *user, const char *pw, size_t pwlen, char out[65])
{
	uint8_t h[32];
	crypto_generichash_state st;

	crypto_generichash_init(&st, a->cache_key, sizeof(a->cache_key), sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)user, strlen(user) + 1);
	crypto_generichash_update(&st, (const uint8_t *)pw, pwlen);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

static bool
cache_hit(struct authd *a, const struct account *acc, const char *pw, size_t pwlen)
{
	char id[65];
	struct cached *c;

	if (a->cf->auth.cache_ttl == 0)
		return false;
	cache_id(a, acc->name, pw, pwlen, id);
	c = map_get(a->cache, id);
	if (c == NULL)
		return false;
	if (c->generation != acc->generation || c->expires <= (uint64_t)time(NULL)) {
		free(map_del(a->cache, id));
		return false;
	}
	return true;
}

static void
drop_all(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

static void
cache_put(struct authd *a, const struct account *acc, const char *pw, size_t pwlen)
{
	struct cached *c;
	char id[65];

	if (a->cf->auth.cache_ttl == 0)
		return;
	if (map_count(a->cache) >= AUTHD_CACHE_MAX) {
		/* Simplest bound: start over (entries are cheap to rebuild). */
		map_each(a->cache, drop_all, NULL);
		map_free(a->cache);
		a->cache = map_new();
	}
	cache_id(a, acc->name, pw, pwlen, id);
	c = xcalloc(1, sizeof(*c));
	c->generation = acc->generation;
	c->expires = (uint64_t)time(NULL) + a->cf->auth.cache_ttl;
	free(map_put(a->cache, id, c));
}

/* Checks after the password is known to be right. */

struct allow_ctx {
	struct sockaddr_storage ss;
	bool any;
	bool match;
};

static int
allow_cb(const char *cidr, void *arg)
{
	struct allow_ctx *x = arg;
	struct cidr c;

	x->any = true;
	if (net_parse_cidr(cidr, &c) == 0 && net_cidr_match(&c, (struct sockaddr *)&x->ss))
		x->match = true;
	return x->match;
}

/* ip_allowed - the account's allow-from networks admit ip (none: anywhere). */
static bool
ip_allowed(struct authd *a, const char *user, const char *ip)
{
	struct allow_ctx x;
	socklen_t len;

	memset(&x, 0, sizeof(x));
	if (net_parse_ip(ip, &x.ss, &len) == -1)
		return false;
	if (store_allows(a->store, user, allow_cb, &x) == -1)
		return false;
	return !x.any || x.match;
}

struct addr_list {
	char **v;
	size_t n;
};

static int
addr_cb(const char *address, void *arg)
{
	struct addr_list *l = arg;

	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(address);
	return 0;
}

/* expired - max_age passed, or an admin reset asks for a new password. */
static bool
expired(struct authd *a, const struct account *acc)
{
	uint64_t age = a->cf->auth.max_age;

	return acc->must_change ||
	       (age > 0 && (uint64_t)(time(NULL) - acc->pw_changed) > age);
}

/* remember_pair - record a login from ip; at most once an hour per pair,
 * so that a busy client does not cost a database write per login. */
static void
remember_pair(struct authd *a, const struct asess *s, const char *name)
{
	int64_t last, n = 0, now = (int64_t)time(NULL);
	int rc = store_pair_last(a->store, name, s->ip, &last);

	if (rc == 0 && last + 3600 > now)
		return;
	/* A first login from here, for an account that logged in elsewhere
	 * before: its owner hears of it. */
	if (rc == 1 && store_pair_count(a->store, name, &n) == 0 && n > 0)
		guardd_new_source(a->gd, name, s->ip, mech_name(s->mech));
	if (store_pair_ok(a->store, name, s->ip, now) == -1)
		log_warnx("auth store-error error=\"%s\"", store_error(a->store));
}

/* expires_days - days left before max_age, when within warn_before of it
 * (the account password only); -1 otherwise. */
static int
expires_days(struct authd *a, const struct account *acc)
{
	uint64_t age = a->cf->auth.max_age, warn = a->cf->auth.warn_before;
	int64_t left;

	if (age == 0 || warn == 0)
		return -1;
	left = acc->pw_changed + (int64_t)age - (int64_t)time(NULL);
	if (left > (int64_t)warn)
		return -1;
	return left <= 0 ? 0 : (int)((left + 86399) / 86400);
}

/* admin_token - an ADMIN-API login succeeded: seal its token, for the
 * role the config gives the account, bound to the client's address. */
static int
admin_token(struct authd *a, struct asess *s, const char *account)
{
	struct token_info t;

	memset(&t, 0, sizeof(t));
	str_copy(t.account, account, sizeof(t.account));
	str_copy(t.ip, s->ip, sizeof(t.ip));
	t.role = admin_api_role(&a->cf->admin, account);
	t.expiry = (uint64_t)time(NULL) + a->cf->admin.api_token_ttl;
	return token_make(a->api_key, &t, s->token, sizeof(s->token));
}

void
authd_set_api_key(struct authd *a, const uint8_t key[TOKEN_KEY_LEN])
{
	memcpy(a->api_key, key, TOKEN_KEY_LEN);
	a->has_api_key = true;
}

/* granted - the password (or app password, or code) was right: apply the
 * account-level rules and answer. */
static void
granted(struct authd *a, struct asess *s, const struct account *acc)
{
	struct addr_list l = {NULL, 0};
	size_t i;

	if (s->credential == NULL || strcmp(s->credential, "app-password") != 0 ? expired(a, acc)
									      : false) {
		answer(a, s, AUTH_EXPIRED, acc->must_change ? "must-change" : "expired", NULL, 0);
		return;
	}
	addr_cb(acc->name, &l);
	if (store_addresses(a->store, acc->name, addr_cb, &l) == -1) {
		answer(a, s, AUTH_TEMPFAIL, "store", NULL, 0);
	} else {
		bool app = s->credential != NULL && strcmp(s->credential, "app-password") == 0;
		int days = app ? -1 : expires_days(a, acc);

		str_copy(s->user, acc->name, sizeof(s->user));
		if (s->mech == MECH_ADMIN && admin_token(a, s, acc->name) == -1) {
			answer(a, s, AUTH_TEMPFAIL, "token", NULL, 0);
			goto out;
		}
		remember_pair(a, s, acc->name);
		answer_days(a, s, AUTH_OK, days >= 0 ? "password-expires-soon" : NULL,
			    (const char *const *)l.v, l.n, days);
	}
out:
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
}

/* Second factors. */

/* seal_key - the TOTP sealing key, read on first use (the CLI makes it
 * when the first account turns 2FA on, perhaps after we started). */
static int
seal_key(struct authd *a)
{
	char path[PATH_MAX];

	if (a->seal_loaded)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", a->cf->state_dir, TOTP_KEY_FILE);
	if (seal_key_load(path, a->seal_key) == -1) {
		log_warn("auth cannot read the TOTP key %s", path);
		return -1;
	}
	a->seal_loaded = true;
	return 0;
}

/* second_factor - the password was right for a 2FA account: code must be
 * the current TOTP code, never used before. */
static void
second_factor(struct authd *a, struct asess *s, const struct account *acc, const char *code)
{
	uint8_t key[TOTP_KEY_MAX];
	size_t keylen = 0;
	uint64_t step = 0, now = (uint64_t)time(NULL);
	unsigned window = (unsigned)a->cf->auth.totp_window;
	const char *reason = NULL;
	int rc;

	s->credential = "password+totp";
	if (acc->totp_sealed == NULL || code[0] == '\0') {
		/* 2FA changed while we hashed; try again */
		answer(a, s, AUTH_FAIL, "second-factor-changed", NULL, 0);
		return;
	}
	if (seal_key(a) == -1 ||
	    unseal(a->seal_key, acc->totp_sealed, key, sizeof(key), &keylen) == -1) {
		log_warnx("auth totp-secret-unreadable user=%s", acc->name);
		answer(a, s, AUTH_TEMPFAIL, "totp-secret-unreadable", NULL, 0);
		return;
	}
	if (totp_check(key, keylen, code, now, window, acc->totp_last, &step) == -1) {
		/* Tell a reused code from a wrong one, for the record only. */
		reason = totp_check(key, keylen, code, now, window, 0, &step) == 0 ? "code-reused"
										      : "bad-code";
	} else {
		rc = store_totp_used(a->store, acc->name, step);
		if (rc == -1) {
			sodium_memzero(key, sizeof(key));
			answer(a, s, AUTH_TEMPFAIL, "store", NULL, 0);
			return;
		}
		if (rc == 1)
			reason = "code-reused";
	}
	sodium_memzero(key, sizeof(key));
	if (reason != NULL)
		answer(a, s, AUTH_FAIL, reason, NULL, 0);
	else
		granted(a, s, acc);
}

struct app_ctx {
	const char *pw;
	size_t pwlen;
	struct app_password found;
	bool match;
};

static int
app_cb(const struct app_password *p, void *arg)
{
	struct app_ctx *x = arg;

	if (p->revoked || !apppw_verify(p->hash, x->pw, x->pwlen))
		return 0;
	x->match = true;
	x->found = *p;
	x->found.hash = NULL;
	x->found.from_cidr = p->from_cidr ? xstrdup(p->from_cidr) : NULL;
	x->found.last_ip = NULL;
	return 1;
}

/* app_password - 1 when pw is one of the account's app passwords (and an
 * answer was given), 0 when it is not, -1 on a store error. */
static int
app_password(struct authd *a, struct asess *s, const struct account *acc, const char *pw,
	     size_t pwlen)
{
	struct app_ctx x;
	const char *reason = NULL;

	memset(&x, 0, sizeof(x));
	x.pw = pw;
	x.pwlen = pwlen;
	if (pwlen < APPPW_CHARS || pwlen > APPPW_TEXT_LEN + 8)
		return 0; /* cannot be one: no need to look */
	if (store_app_list(a->store, acc->name, app_cb, &x) == -1)
		return -1;
	if (!x.match)
		return 0;
	s->credential = "app-password";
	str_copy(s->app_label, x.found.label, sizeof(s->app_label));
	if (x.found.expires != 0 && x.found.expires <= (int64_t)time(NULL)) {
		reason = "app-password-expired";
	} else if (x.found.from_cidr != NULL) {
		struct cidr c;
		struct sockaddr_storage ss;
		socklen_t len;

		if (net_parse_cidr(x.found.from_cidr, &c) == -1 ||
		    net_parse_ip(s->ip, &ss, &len) == -1 ||
		    !net_cidr_match(&c, (struct sockaddr *)&ss))
			reason = "app-password-source-not-allowed";
	}
	if (reason == NULL && acc->locked)
		reason = "locked";
	free(x.found.from_cidr);
	if (reason != NULL) {
		answer(a, s, AUTH_FAIL, reason, NULL, 0);
		return 1;
	}
	if (store_app_used(a->store, x.found.id, (int64_t)time(NULL), s->ip) == -1)
		log_warnx("auth store-error error=\"%s\"", store_error(a->store));
	granted(a, s, acc);
	return 1;
}

/* totp_split - for password + code: the code is the last TOTP_DIGITS
 * characters, all digits, after a non-empty password. */
static bool
totp_split(const char *pw, size_t pwlen, size_t *passlen, char code[TOTP_DIGITS + 1])
{
	size_t i;

	if (pwlen <= TOTP_DIGITS)
		return false;
	for (i = pwlen - TOTP_DIGITS; i < pwlen; i++)
		if (pw[i] < '0' || pw[i] > '9')
			return false;
	memcpy(code, pw + pwlen - TOTP_DIGITS, TOTP_DIGITS);
	code[TOTP_DIGITS] = '\0';
	*passlen = pwlen - TOTP_DIGITS;
	return true;
}

/* Verification on the pool. */

static void
vjob_run(struct hashjob *j)
{
	struct vjob *v = (struct vjob *)j;

	if (v->stored == NULL) {
		pwhash_dummy(&v->params);
		v->result = PWHASH_MISMATCH;
		return;
	}
	v->result = pwhash_verify(v->stored, v->pw, v->pwlen, &v->params, &v->rehash);
	if (v->result == PWHASH_MISMATCH) {
		char scheme[PWHASH_SCHEME_MAX];

		/* A fast legacy hash would answer a wrong password sooner than
		 * an unknown account is answered: spend the same time. */
		if (pwhash_scheme(v->stored, scheme, sizeof(scheme)) == 0 &&
		    strcmp(scheme, "ARGON2ID") != 0)
			pwhash_dummy(&v->params);
	}
	if (v->result == PWHASH_MATCH && v->rehash &&
	    pwhash_create(v->pw, v->pwlen, &v->params, v->newhash, sizeof(v->newhash)) == -1)
		v->newhash[0] = '\0';
	if (v->result == PWHASH_MATCH && v->scram_iter != 0) {
		/* Accounts imported or made before SCRAM get their keys at the
		 * first login that shows us the password. */
		struct scram_keys k;

		if (scram_keys_derive(v->pw, v->pwlen, v->scram_iter, &k) == -1 ||
		    scram_keys_format(&k, v->newscram, sizeof(v->newscram)) == -1)
			v->newscram[0] = '\0';
		sodium_memzero(&k, sizeof(k));
	}
}

static void
vjob_free(struct vjob *v)
{
	if (v->pw != NULL)
		wipe_free(v->pw, v->pwlen);
	if (v->stored != NULL)
		wipe_free(v->stored, strlen(v->stored));
	sodium_memzero(v->newhash, sizeof(v->newhash));
	sodium_memzero(v->newscram, sizeof(v->newscram));
	free(v);
}

static void
vjob_done(struct hashjob *j)
{
	struct vjob *v = (struct vjob *)j;
	struct authd *a = v->a;
	struct asess *s = v->s;
	struct account acc;
	int rc;

	if (s->cancelled) {
		if (s->detached)
			sess_free(s);
		else
			sess_end(a, s);
		vjob_free(v);
		return;
	}
	s->busy = false;
	if (v->reason != NULL) {
		answer(a, s, AUTH_FAIL, v->reason, NULL, 0);
		vjob_free(v);
		return;
	}
	if (v->result == PWHASH_ERROR) {
		answer(a, s, AUTH_TEMPFAIL, "hash-error", NULL, 0);
		vjob_free(v);
		return;
	}
	if (v->result != PWHASH_MATCH) {
		answer(a, s, AUTH_FAIL, v->result == PWHASH_BAD_FORMAT ? "bad-stored-hash"
								       : "bad-password",
		       NULL, 0);
		vjob_free(v);
		return;
	}
	/* Re-read: the account may have changed while we hashed. */
	rc = store_get(a->store, s->user, &acc);
	if (rc != 0) {
		answer(a, s, rc == 1 ? AUTH_FAIL : AUTH_TEMPFAIL, rc == 1 ? "deleted" : "store",
		       NULL, 0);
		vjob_free(v);
		return;
	}
	if (v->rehash && v->newhash[0] != '\0' && store_rehash(a->store, acc.name, v->newhash) == 0)
		log_info("%016llx auth rehashed user=%s scheme=ARGON2ID",
			 (unsigned long long)s->sid, acc.name);
	/* Only if the password did not change while we hashed. */
	if (v->newscram[0] != '\0' && acc.scram == NULL && acc.generation == v->generation &&
	    store_set_scram(a->store, acc.name, v->newscram) == 0)
		log_info("%016llx auth scram-keys-made user=%s", (unsigned long long)s->sid,
			 acc.name);
	if (acc.locked) {
		answer(a, s, AUTH_FAIL, "locked", NULL, 0);
	} else if (v->code[0] != '\0' || acc.totp_sealed != NULL) {
		second_factor(a, s, &acc, v->code);
	} else {
		cache_put(a, &acc, v->pw, v->pwlen);
		granted(a, s, &acc);
	}
	account_clear(&acc);
	vjob_free(v);
}

/* verify - queue a hash check of pw against stored (NULL: dummy). reason:
 * the verdict is already a failure for that reason, but the client waits
 * the same time as for a real check. */
static void
verify(struct authd *a, struct asess *s, const struct account *acc, const char *pw,
       size_t pwlen, const char *reason, const char *code)
{
	const char *stored = acc != NULL ? acc->hash : NULL;
	struct vjob *v = xcalloc(1, sizeof(*v));

	v->job.fn = vjob_run;
	v->job.done = vjob_done;
	v->a = a;
	v->s = s;
	v->stored = stored ? xstrdup(stored) : NULL;
	v->pw = xstrndup(pw, pwlen);
	v->pwlen = pwlen;
	v->params = a->params;
	v->reason = reason;
	if (code != NULL)
		str_copy(v->code, code, sizeof(v->code));
	if (acc != NULL && acc->scram == NULL && a->cf->auth.scram_iterations != 0) {
		v->scram_iter = (uint32_t)a->cf->auth.scram_iterations;
		v->generation = acc->generation;
	}
	/* Trusted pairs go first (NIST SP 800-63B 5.2.2: rate limiting must
	 * not lock the real user out). */
	if (hashpool_submit(a->pool, &v->job, acc != NULL && s->ga.trusted) == -1) {
		vjob_free(v);
		answer(a, s, AUTH_TEMPFAIL, "busy", NULL, 0);
		return;
	}
	s->busy = true;
}

/* pwtag - a short keyed hash of the password tried, by which the guard
 * recognises a client repeating the same wrong one; never 0. */
static uint64_t
pwtag(struct authd *a, const char *user, const char *pw, size_t pwlen)
{
	char id[65];
	uint64_t t = 0;
	size_t i;

	cache_id(a, user, pw, pwlen, id);
	for (i = 0; i < 16; i++)
		t = t << 4 | (uint64_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	sodium_memzero(id, sizeof(id));
	return t ? t : 1;
}

/* gate - the guard's say before a credential check: false when it refused
 * (answered already). acc: the account, NULL if unknown. */
static bool
gate(struct authd *a, struct asess *s, const struct account *acc, const char *pw, size_t pwlen)
{
	const char *reason;
	uint32_t delay;

	s->guarded = true;
	s->ga.ip = s->ip;
	s->ga.account = s->user;
	s->ga.exists = acc != NULL;
	s->ga.trusted = acc != NULL && guardd_trusted(a->gd, acc->name, s->ip);
	s->ga.pwtag = pw != NULL ? pwtag(a, s->user, pw, pwlen) : 0;
	if (guardd_before(a->gd, &s->ga, &reason, &delay) == GUARD_OPEN)
		return true;
	s->guarded = false; /* a refusal is not a failure to count */
	s->delay_ms = delay;
	answer(a, s, AUTH_TEMPFAIL, reason, NULL, 0);
	return false;
}

/* check - the heart: a user name and a password from any mechanism. */
static void
check(struct authd *a, struct asess *s, const char *authzid, const char *user, const char *pw,
      size_t pwlen)
{
	struct account acc;
	int rc;

	str_copy(s->user, user, sizeof(s->user));
	if (strlen(user) > STORE_NAME_MAX) {
		verify(a, s, NULL, pw, pwlen, "authzid-not-allowed", NULL);
		return;
	}
	rc = store_get(a->store, user, &acc);
	if (rc == -1) {
		log_warnx("auth store-error error=\"%s\"", store_error(a->store));
		answer(a, s, AUTH_TEMPFAIL, "store", NULL, 0);
		return;
	}
	if (!gate(a, s, rc == 0 ? &acc : NULL, pw, pwlen)) {
		if (rc == 0)
			account_clear(&acc);
		return;
	}
	if (authzid != NULL && *authzid != '\0' && strcasecmp(authzid, user) != 0) {
		verify(a, s, NULL, pw, pwlen, "authzid-not-allowed", NULL);
	} else if (rc == 1) {
		verify(a, s, NULL, pw, pwlen, "unknown-account", NULL);
		return;
	} else if (!ip_allowed(a, acc.name, s->ip)) {
		verify(a, s, NULL, pw, pwlen, "source-not-allowed", NULL);
	} else if (s->mech == MECH_ADMIN &&
		   (!a->has_api_key || admin_api_role(&a->cf->admin, acc.name) == ROLE_NONE)) {
		verify(a, s, NULL, pw, pwlen, "no-admin-role", NULL);
	} else if (s->mech == MECH_ADMIN && acc.totp_sealed == NULL) {
		/* the admin API takes two factors, always */
		verify(a, s, NULL, pw, pwlen, "admin-needs-2fa", NULL);
	} else if (s->mech != MECH_ADMIN && (rc = app_password(a, s, &acc, pw, pwlen)) != 0) {
		if (rc == -1)
			answer(a, s, AUTH_TEMPFAIL, "store", NULL, 0);
	} else if (acc.totp_sealed != NULL) {
		char code[TOTP_DIGITS + 1];
		size_t passlen;

		/* The account password alone is not enough: it must come
		 * with the current code appended. */
		if (totp_split(pw, pwlen, &passlen, code))
			verify(a, s, &acc, pw, passlen, NULL, code);
		else
			verify(a, s, NULL, pw, pwlen, "second-factor-required", NULL);
		sodium_memzero(code, sizeof(code));
	} else if (cache_hit(a, &acc, pw, pwlen) && !acc.locked) {
		s->credential = "password";
		granted(a, s, &acc);
	} else {
		s->credential = "password";
		verify(a, s, &acc, pw, pwlen, NULL, NULL);
	}
	account_clear(&acc);
}

/* Mechanisms. */

static void
plain(struct authd *a, struct asess *s, const uint8_t *data, size_t len)
{
	uint8_t buf[SASL_MAX + 1];
	struct sasl_plain p;

	if (len > SASL_MAX) {
		answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
		return;
	}
	memcpy(buf, data, len);
	if (sasl_plain_parse(buf, len, &p) == -1) {
		sodium_memzero(buf, sizeof(buf));
		answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
		return;
	}
	check(a, s, p.authzid, p.authcid, p.passwd, p.passwdlen);
	sodium_memzero(buf, sizeof(buf));
}

static void
login(struct authd *a, struct asess *s, const uint8_t *data, size_t len)
{
	char text[SASL_MAX + 1];

	if (len > SASL_MAX || memchr(data, '\0', len) != NULL) {
		answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
		return;
	}
	if (s->step == 0) {
		if (sasl_login_text(data, len, text, STORE_NAME_MAX + 1) == -1) {
			answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
			return;
		}
		str_copy(s->user, text, sizeof(s->user));
		s->step = 1;
		challenge(a, s, "Password:");
		return;
	}
	if (len == 0) {
		answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
		return;
	}
	str_copy(text, s->user, sizeof(text));
	check(a, s, NULL, text, (const char *)data, len);
}

/* SCRAM-SHA-256(-PLUS), RFC 5802/7677/9266: the server's work is a few
 * HMACs (the client does the PBKDF2), so it runs here, not on the pool;
 * unknown accounts get stable made-up salts and fail at the proof, in the
 * same time. */

static void
scram_first(struct authd *a, struct asess *s, const uint8_t *data, size_t len)
{
	struct scram_keys keys;
	struct account acc;
	struct buf out = BUF_INIT;
	char snonce[SCRAM_SNONCE_LEN + 1];
	const char *authzid;
	int rc, ok;

	s->scram = xcalloc(1, sizeof(*s->scram));
	scram_server_init(s->scram, s->mech == MECH_SCRAM_PLUS, s->plus_offered);
	if (scram_server_parse_first(s->scram, data, len) == -1) {
		log_info("%016llx auth scram-refused ip=%s error=%s", (unsigned long long)s->sid,
			 s->ip, scram_error_name(scram_server_error(s->scram)));
		answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
		return;
	}
	str_copy(s->user, scram_server_username(s->scram), sizeof(s->user));
	authzid = scram_server_authzid(s->scram);
	s->credential = "password";
	memset(&keys, 0, sizeof(keys));
	rc = store_get(a->store, s->user, &acc);
	if (rc == -1) {
		answer(a, s, AUTH_TEMPFAIL, "store", NULL, 0);
		return;
	}
	if (!gate(a, s, rc == 0 ? &acc : NULL, NULL, 0)) {
		if (rc == 0)
			account_clear(&acc);
		return;
	}
	if (*authzid != '\0' && strcasecmp(authzid, s->user) != 0)
		s->scram_reason = "authzid-not-allowed";
	else if (rc == 1)
		s->scram_reason = "unknown-account";
	else if (acc.scram == NULL || scram_keys_parse(acc.scram, &keys) == -1)
		s->scram_reason = "no-scram-keys"; /* set before SCRAM, or imported */
	else if (!ip_allowed(a, acc.name, s->ip))
		s->scram_reason = "source-not-allowed";
	if (rc == 0)
		account_clear(&acc);
	scram_nonce_new(snonce);
	if (s->scram_reason == NULL)
		ok = scram_server_first(s->scram, &keys, snonce, &out);
	else
		ok = scram_server_first_unknown(s->scram, a->scram_secret,
						(uint32_t)(a->cf->auth.scram_iterations
							       ? a->cf->auth.scram_iterations
							       : SCRAM_ITER_DEFAULT),
						snonce, &out);
	sodium_memzero(&keys, sizeof(keys));
	if (ok == -1) {
		buf_free(&out);
		answer(a, s, AUTH_TEMPFAIL, "scram", NULL, 0);
		return;
	}
	s->step = 1;
	buf_add(&out, "", 1);
	challenge(a, s, out.data);
	buf_free(&out);
}

static void
scram_final(struct authd *a, struct asess *s, const uint8_t *data, size_t len)
{
	struct buf out = BUF_INIT;
	enum scram_error e;

	if (scram_server_final(s->scram, data, len, s->mech == MECH_SCRAM_PLUS ? s->cb : NULL,
			       s->mech == MECH_SCRAM_PLUS ? SCRAM_CB_LEN : 0, &out) == -1) {
		e = scram_server_error(s->scram);
		if (e == SCRAM_E_INVALID_ENCODING) {
			answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
			return;
		}
		answer(a, s, AUTH_FAIL,
		       s->scram_reason		    ? s->scram_reason
		       : e == SCRAM_E_INVALID_PROOF ? "bad-password"
						    : scram_error_name(e),
		       NULL, 0);
		return;
	}
	/* The proof was right (a made-up account can never get here). The
	 * client checks our v= in one more round, then the verdict. */
	s->step = 2;
	buf_add(&out, "", 1);
	challenge(a, s, out.data);
	buf_free(&out);
}

static void
scram_done(struct authd *a, struct asess *s, size_t len)
{
	struct account acc;
	int rc;

	if (len != 0) {
		answer(a, s, AUTH_MALFORMED, NULL, NULL, 0);
		return;
	}
	rc = store_get(a->store, s->user, &acc);
	if (rc != 0) {
		answer(a, s, rc == 1 ? AUTH_FAIL : AUTH_TEMPFAIL, rc == 1 ? "deleted" : "store",
		       NULL, 0);
		return;
	}
	if (acc.locked)
		answer(a, s, AUTH_FAIL, "locked", NULL, 0);
	else if (acc.totp_sealed != NULL)
		/* SCRAM cannot carry a code: the password alone is not enough */
		answer(a, s, AUTH_WEAK, "second-factor-required", NULL, 0);
	else
		granted(a, s, &acc);
	account_clear(&acc);
}

static void
scram(struct authd *a, struct asess *s, const uint8_t *data, size_t len)
{
	if (s->step == 0)
		scram_first(a, s, data, len);
	else if (s->step == 1)
		scram_final(a, s, data, len);
	else
		scram_done(a, s, len);
}

void
authd_begin(struct authd *a, uint64_t sid, enum auth_mech mech, const char *ip, bool tls,
	    const uint8_t *initial, size_t len, bool has_initial, const uint8_t *cb, size_t cblen,
	    bool plus_offered)
{
	struct asess *s, *old = sess_get(a, sid);
	char key[17];

	sid_key(sid, key);
	if (old != NULL && old->busy) {
		/* A new AUTH while an old one still hashes (the client cancelled
		 * it): the old one's job keeps and frees it. */
		map_del(a->sessions, key);
		old->detached = true;
		old->cancelled = true;
	} else if (old != NULL) {
		sess_end(a, old);
	}
	s = xcalloc(1, sizeof(*s));
	s->sid = sid;
	s->mech = mech;
	s->tls = tls;
	str_copy(s->ip, ip, sizeof(s->ip));
	s->plus_offered = plus_offered;
	if (cb != NULL && cblen == SCRAM_CB_LEN)
		memcpy(s->cb, cb, SCRAM_CB_LEN);
	map_put(a->sessions, key, s);
	if (!tls) {
		/* The smtp process refuses AUTH before TLS; a request like this
		 * is a bug there, and we refuse it here too. */
		answer(a, s, AUTH_FAIL, "no-tls", NULL, 0);
		return;
	}
	if (mech == MECH_SCRAM || mech == MECH_SCRAM_PLUS) {
		if (a->cf->auth.scram_iterations == 0) {
			answer(a, s, AUTH_FAIL, "scram-off", NULL, 0);
			return;
		}
		if (has_initial)
			scram(a, s, initial, len);
		else
			challenge(a, s, "");
		return;
	}
	if (mech == MECH_PLAIN || mech == MECH_ADMIN) {
		if (has_initial)
			plain(a, s, initial, len);
		else
			challenge(a, s, "");
		return;
	}
	if (has_initial) {
		login(a, s, initial, len);
		return;
	}
	challenge(a, s, "Username:");
}

void
authd_step(struct authd *a, uint64_t sid, const uint8_t *data, size_t len)
{
	struct asess *s = sess_get(a, sid);

	if (s == NULL || s->busy)
		return;
	if (s->mech == MECH_PLAIN)
		plain(a, s, data, len);
	else if (s->mech == MECH_LOGIN)
		login(a, s, data, len);
	else
		scram(a, s, data, len);
}

void
authd_cancel(struct authd *a, uint64_t sid)
{
	struct asess *s = sess_get(a, sid);

	if (s == NULL)
		return;
	if (s->busy) {
		s->cancelled = true; /* the job finishes and ends it */
		return;
	}
	sess_end(a, s);
}

static void
on_sync(evutil_socket_t fd, short what, void *arg)
{
	struct authd *a = arg;

	(void)fd;
	(void)what;
	if (audit_sync(a->audit) == -1)
		log_warnx("auth audit-sync-failed error=\"%s\"", audit_error(a->audit));
}

/* write_anchor - the audit log's chain head, into state_dir/audit.anchor
 * and the daemon's log (which syslog can ship off the machine), so that a
 * log cut short after this point is detected by `postern audit verify`. */
static void
write_anchor(struct authd *a)
{
	char hash[AUDIT_HASH_HEX];
	struct buf line = BUF_INIT;
	uint64_t seq;

	if (audit_sync(a->audit) == -1 || audit_head(a->audit, &seq, hash) == -1) {
		log_warnx("auth audit-anchor-failed error=\"%s\"", audit_error(a->audit));
		return;
	}
	if (seq == 0)
		return;
	audit_anchor_format(seq, hash, &line);
	log_info("audit anchor %s", buf_cstr(&line));
	buf_adds(&line, "\n");
	if (file_write_durable(a->cf->state_dir, AUDIT_ANCHOR_FILE, line.data, line.len) == -1)
		log_warn("auth audit-anchor-failed file=%s", AUDIT_ANCHOR_FILE);
	buf_free(&line);
}

static void
on_anchor(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	write_anchor(arg);
}

static void
apply_conf(struct authd *a)
{
	a->params.memlimit = a->cf->auth.argon2_memory;
	a->params.opslimit = a->cf->auth.argon2_ops;
	if (a->anchor_ev != NULL)
		event_add(a->anchor_ev, &(struct timeval){(time_t)a->cf->audit.anchor_every, 0});
}

static void
gd_ban(void *arg, const char *net, uint64_t until, const char *reason)
{
	struct authd *a = arg;

	a->ops->ban(a->arg, net, until, reason);
}

static void
gd_unban(void *arg, const char *net)
{
	struct authd *a = arg;

	a->ops->unban(a->arg, net);
}

static void
gd_notice(void *arg, const char *to, const char *subject, const char *body)
{
	struct authd *a = arg;

	a->ops->notice(a->arg, to, subject, body);
}

void
authd_abuse(struct authd *a, const char *ip, const char *check, uint32_t weight)
{
	guardd_abuse(a->gd, ip, check, weight);
}

void
authd_set_metrics(struct authd *a, struct metrics *m)
{
	a->metrics = m;
	if (m == NULL)
		return;
	metrics_describe(m, "postern_auth_attempts_total", METRIC_COUNTER,
			 "AUTH verdicts by mechanism and result");
	metrics_describe(m, "postern_auth_failures_total", METRIC_COUNTER,
			 "AUTH refusals by reason");
	guardd_set_metrics(a->gd, m);
}

void
authd_sync(struct authd *a)
{
	guardd_sync(a->gd);
}

struct authd *
authd_new(struct event_base *base, struct conf *cf, const struct authd_ops *ops, void *arg,
	  char *err, size_t errsz)
{
	struct authd *a = xcalloc(1, sizeof(*a));
	char path[PATH_MAX];

	if (sodium_init() < 0) {
		snprintf(err, errsz, "libsodium cannot initialise");
		free(a);
		return NULL;
	}
	a->base = base;
	a->cf = conf_ref(cf);
	a->ops = ops;
	a->arg = arg;
	apply_conf(a);
	snprintf(path, sizeof(path), "%s/accounts.db", cf->state_dir);
	a->store = store_open(path, err, errsz);
	if (a->store == NULL)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s", cf->state_dir, AUDIT_FILE);
	a->audit = audit_open(path, 0, err, errsz);
	if (a->audit == NULL)
		goto fail;
	a->sync_ev = event_new(base, -1, EV_PERSIST, on_sync, a);
	event_add(a->sync_ev, &(struct timeval){1, 0});
	a->anchor_ev = event_new(base, -1, EV_PERSIST, on_anchor, a);
	apply_conf(a);
	write_anchor(a);
	a->pool = hashpool_new(base, (unsigned)cf->auth.hash_threads,
			       (unsigned)cf->auth.hash_queue);
	a->sessions = map_new();
	a->cache = map_new();
	randombytes_buf(a->cache_key, sizeof(a->cache_key));
	a->gd_ops.ban = gd_ban;
	a->gd_ops.unban = gd_unban;
	a->gd_ops.notice = gd_notice;
	a->gd = guardd_new(base, cf, a->store, a->audit, &a->gd_ops, a);
	/* The made-up SCRAM salts of unknown accounts must not change across
	 * restarts (a change would tell them from real ones): a key on disk. */
	snprintf(path, sizeof(path), "%s/%s", cf->state_dir, SCRAM_KEY_FILE);
	if (seal_key_load(path, a->scram_secret) == -1 &&
	    (errno != ENOENT || seal_key_create(path, a->scram_secret) == -1)) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		authd_free(a);
		return NULL;
	}
	return a;
fail:
	store_close(a->store);
	conf_unref(a->cf);
	free(a);
	return NULL;
}

void
authd_set_conf(struct authd *a, struct conf *cf)
{
	conf_unref(a->cf);
	a->cf = conf_ref(cf);
	apply_conf(a);
	guardd_set_conf(a->gd, cf);
}

static void
free_sess(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	sess_free(val);
}

void
authd_free(struct authd *a)
{
	if (a == NULL)
		return;
	hashpool_free(a->pool);
	guardd_free(a->gd);
	if (a->sync_ev != NULL)
		event_free(a->sync_ev);
	if (a->anchor_ev != NULL) {
		event_free(a->anchor_ev);
		write_anchor(a);
	}
	map_each(a->sessions, free_sess, NULL);
	map_free(a->sessions);
	map_each(a->cache, drop_all, NULL);
	map_free(a->cache);
	sodium_memzero(a->cache_key, sizeof(a->cache_key));
	sodium_memzero(a->seal_key, sizeof(a->seal_key));
	sodium_memzero(a->scram_secret, sizeof(a->scram_secret));
	sodium_memzero(a->api_key, sizeof(a->api_key));
	audit_close(a->audit);
	store_close(a->store);
	conf_unref(a->cf);
	free(a);
}
