/* SPDX-License-Identifier: ISC */
/*
 * guardd - the guard in the auth process (see guardd.h).
 */
#include "auth/guardd.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "auth/banstore.h"
#include "auth/store.h"
#include "guard/redis.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/metrics.h"
#include "lib/net.h"
#include "lib/util.h"
#include "guard/window.h"

/* Alert mails to alert_to per hour; beyond, the log and audit still say
 * everything, the mailbox does not fill up during a large attack. */
#define GUARDD_ALERTS_MAX 30

struct guardd {
	struct event_base *base;
	struct conf *cf;
	struct store *st;
	struct audit *au;
	const struct guardd_ops *ops;
	void *arg;
	struct guard *guard;
	struct event *tick;	/* polls the store for CLI changes; sweeps */
	struct banstore *bans;	/* SQLite, or Redis shared with other gateways */
	int64_t data_version;	/* of the ban store at the last poll */
	struct map *pushed;	/* net -> (uintptr_t) until, as the smtp process has it */
	unsigned ticks;
	struct window alerts;	/* mails to alert_to in the last hour */
	struct metrics *metrics;
};

static uint64_t
now_s(void)
{
	return (uint64_t)time(NULL);
}

static void
fmt_utc(uint64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* alert - a mail to the security address, if there is one (and the hour's
 * allowance is not used up). */
static void
alert(struct guardd *gd, const char *kind, const char *subject, const char *body)
{
	const char *to = gd->cf->guard.alert_to;
	uint64_t now = now_s();

	if (to == NULL)
		return;
	if (window_count(&gd->alerts, now, 3600) >= GUARDD_ALERTS_MAX) {
		log_info("guard alert-suppressed kind=%s", kind);
		return;
	}
	window_add(&gd->alerts, now, 3600, 1);
	log_info("guard alert kind=%s to=%s", kind, to);
	gd->ops->notice(gd->arg, to, subject, body);
}

/* owner - the account's owner hears of it (notify_users; accounts are
 * named by their address): a notice from the template of kind, audited as
 * what (the stable words "lock" and "new-source"). */
static void
owner(struct guardd *gd, const char *what, const char *kind, const char *account,
      const struct template_var *vars, size_t nvars)
{
	char esc[LOG_ESCAPE_BUF];
	json_t *f;

	if (!gd->cf->guard.notify_users || strchr(account, '@') == NULL)
		return;
	log_info("guard notice kind=%s user=\"%s\" to=%s", what, log_escape_str(esc, account),
		 account);
	f = json_object();
	json_object_set_new(f, "kind", json_string(what));
	json_object_set_new(f, "account", audit_str(account, strlen(account)));
	json_object_set_new(f, "actor", json_string("guard"));
	if (gd->au != NULL && audit_append(gd->au, "notice", f) == -1)
		log_warnx("guard audit-append-failed error=\"%s\"", audit_error(gd->au));
	json_decref(f);
	gd->ops->user_notice(gd->arg, kind, account, vars, nvars);
}

/* audit_guard - one audit record of a guard event. */
static void
audit_guard(struct guardd *gd, const char *what, json_t *f)
{
	json_object_set_new(f, "action", json_string(what));
	json_object_set_new(f, "actor", json_string("guard"));
	if (gd->au != NULL && audit_append(gd->au, "guard", f) == -1)
		log_warnx("guard audit-append-failed error=\"%s\"", audit_error(gd->au));
	json_decref(f);
}

static void
push_ban(struct guardd *gd, const char *net, uint64_t until, const char *reason)
{
	map_put(gd->pushed, net, (void *)(uintptr_t)until);
	gd->ops->ban(gd->arg, net, until, reason);
}

/* trusted_source - some account logged in from ip within trust_time: the
 * address is a real user's (an office, a home), never banned outright. */
static bool
trusted_source(struct guardd *gd, const char *ip)
{
	uint64_t t = gd->cf->guard.trust_time;

	return t != 0 && store_ip_trusted(gd->st, ip, (int64_t)(now_s() - t)) == 0;
}

static bool
exempt(struct guardd *gd, const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return net_parse_ip(ip, &ss, &len) == 0 &&
	       conf_acl_match(&gd->cf->guard.exempt, (struct sockaddr *)&ss);
}

/* ban - the engine wants ip banned. */
static void
ban(struct guardd *gd, const struct guard_alert *al)
{
	struct store_ban old = {0};
	char net[NET_ADDRSTRLEN + 8];
	struct cidr c;
	uint64_t now = now_s(), secs;
	uint32_t earlier = 0;
	json_t *f;

	if (net_parse_cidr(al->ip, &c) == -1)
		return;
	net_cidr_format(&c, net, sizeof(net));
	if (exempt(gd, al->ip) || trusted_source(gd, al->ip)) {
		log_info("guard ban-skipped ip=%s reason=%s why=%s", al->ip, al->reason,
			 exempt(gd, al->ip) ? "exempt" : "trusted-source");
		return;
	}
	/* Escalation: earlier bans count unless the last one ended long ago. */
	if (banstore_get(gd->bans, net, &old) == 0 &&
	    (uint64_t)old.until + gd->cf->guard.ban_max > now)
		earlier = old.count > UINT32_MAX ? UINT32_MAX : (uint32_t)old.count;
	secs = guard_ban_seconds(&gd->cf->guard, earlier);
	/* A longer ban in force (the operator's, say) is not shortened. */
	if (old.until > 0 && (uint64_t)old.until > now + secs)
		secs = (uint64_t)old.until - now;
	if (banstore_put(gd->bans, net, (int64_t)(now + secs), al->reason, "guard",
			 (int64_t)earlier + 1, (int64_t)now) == -1)
		log_warnx("guard store-error error=\"%s\"", banstore_error(gd->bans));
	banstore_version(gd->bans, &gd->data_version);
	log_info("guard ban ip=%s for=%llus reason=%s count=%u", al->ip,
		 (unsigned long long)secs, al->reason, earlier + 1);
	f = json_object();
	json_object_set_new(f, "ip", json_string(al->ip));
	json_object_set_new(f, "seconds", json_integer((json_int_t)secs));
	json_object_set_new(f, "reason", json_string(al->reason));
	json_object_set_new(f, "failures", json_integer(al->failures));
	json_object_set_new(f, "bans", json_integer(earlier + 1));
	audit_guard(gd, "ban", f);
	push_ban(gd, net, now + secs, al->reason);
	{
		char subject[200], body[1024], until[40];

		fmt_utc(now + secs, until, sizeof(until));
		snprintf(subject, sizeof(subject), "[postern] %s banned: %s", al->ip, al->reason);
		snprintf(body, sizeof(body),
			 "postern on %s banned the address %s until %s.\n\n"
			 "Reason: %s (%u failures or abuse points in the last %llu minutes, "
			 "ban number %u for this address).\n\n"
			 "See `postern ban list`; `postern ban del %s` lifts the ban.\n",
			 gd->cf->hostname, al->ip, until, al->reason, al->failures,
			 (unsigned long long)gd->cf->guard.window / 60, earlier + 1, net);
		alert(gd, "ban", subject, body);
	}
}

static void
lock(struct guardd *gd, const struct guard_alert *al)
{
	char esc[LOG_ESCAPE_BUF];
	int64_t until = 0, level = 0;
	uint64_t now = now_s(), secs;
	bool known;
	json_t *f;

	if (store_guard_lock_get(gd->st, al->account, &until, &level) == -1)
		log_warnx("guard store-error error=\"%s\"", store_error(gd->st));
	if (until > (int64_t)now)
		return; /* already locked */
	secs = guard_lock_seconds(&gd->cf->guard, (uint32_t)(level > 0 ? level : 0));
	/* Unknown accounts are locked in the engine's memory only, and their
	 * "owner" is never mailed: the name is the attacker's choice. */
	known = store_guard_lock(gd->st, al->account, (int64_t)(now + secs)) == 0;
	log_info("guard lock user=\"%s\" ip=%s failures=%u for=%llus", log_escape_str(esc,
		 al->account), al->ip, al->failures, (unsigned long long)secs);
	f = json_object();
	json_object_set_new(f, "account", audit_str(al->account, strlen(al->account)));
	json_object_set_new(f, "ip", json_string(al->ip));
	json_object_set_new(f, "failures", json_integer(al->failures));
	json_object_set_new(f, "seconds", json_integer((json_int_t)secs));
	audit_guard(gd, "lock", f);
	{
		char subject[200], body[2048], until_s[40], when[40];

		fmt_utc(now + secs, until_s, sizeof(until_s));
		fmt_utc(now, when, sizeof(when));
		snprintf(subject, sizeof(subject), "[postern] account %s locked against new sources",
			 esc);
		snprintf(body, sizeof(body),
			 "postern on %s locked the account %s against logins from addresses it "
			 "has not used before, until %s, after %u consecutive failed logins (the "
			 "last from %s).\n\nLogins from its usual addresses keep working. "
			 "`postern user unlock %s` lifts the lock.\n",
			 gd->cf->hostname, esc, until_s, al->failures, al->ip, esc);
		alert(gd, "lock", subject, body);
		if (known) {
			char failures[16];
			const struct template_var v[] = {
				{"account", al->account}, {"ip", al->ip}, {"failures", failures},
				{"until", until_s},	  {"time", when},
			};

			snprintf(failures, sizeof(failures), "%u", al->failures);
			owner(gd, "lock", "lockout", al->account, v, nitems(v));
		}
	}
}

/* count - one guard event in the metrics. */
static void
count(struct guardd *gd, const struct guard_alert *al)
{
	static const char *const kinds[] = {"ban", "lock", "throttle", "spray", "stuffing"};
	char l[METRICS_LABELS_MAX];

	if (gd->metrics == NULL)
		return;
	if (al->kind == GUARD_EV_BAN) {
		metrics_labels(l, sizeof(l), "reason", al->reason, (char *)NULL);
		metrics_add(gd->metrics, "postern_guard_bans_total", l, 1);
	} else if (al->kind == GUARD_EV_LOCK) {
		metrics_add(gd->metrics, "postern_guard_locks_total", NULL, 1);
	} else {
		metrics_labels(l, sizeof(l), "kind", kinds[al->kind], (char *)NULL);
		metrics_add(gd->metrics, "postern_guard_events_total", l, 1);
	}
}

static void
on_event(void *arg, const struct guard_alert *al)
{
	struct guardd *gd = arg;
	char subject[200], body[1024];
	json_t *f;

	count(gd, al);
	switch (al->kind) {
	case GUARD_EV_BAN:
		ban(gd, al);
		return;
	case GUARD_EV_LOCK:
		lock(gd, al);
		return;
	case GUARD_EV_THROTTLE:
		log_info("guard throttle net=%s failures=%u", al->net, al->failures);
		f = json_object();
		json_object_set_new(f, "net", json_string(al->net));
		json_object_set_new(f, "failures", json_integer(al->failures));
		audit_guard(gd, "throttle", f);
		snprintf(subject, sizeof(subject), "[postern] network %s throttled", al->net);
		snprintf(body, sizeof(body),
			 "postern on %s saw %u failed logins from the network %s and refuses "
			 "logins from it for now, except from addresses where accounts logged "
			 "in before.\n",
			 gd->cf->hostname, al->failures, al->net);
		alert(gd, "throttle", subject, body);
		return;
	case GUARD_EV_SPRAY:
		log_info("guard spray %s=%s accounts=%u", al->ip ? "ip" : "net",
			 al->ip ? al->ip : al->net, al->accounts);
		f = json_object();
		json_object_set_new(f, al->ip ? "ip" : "net", json_string(al->ip ? al->ip : al->net));
		json_object_set_new(f, "accounts", json_integer(al->accounts));
		audit_guard(gd, "spray", f);
		snprintf(subject, sizeof(subject), "[postern] password spraying from %s",
			 al->ip ? al->ip : al->net);
		snprintf(body, sizeof(body),
			 "postern on %s saw logins fail on %u different accounts from %s %s: "
			 "someone is trying common passwords against many accounts.\n",
			 gd->cf->hostname, al->accounts, al->ip ? "the address" : "the network",
			 al->ip ? al->ip : al->net);
		alert(gd, "spray", subject, body);
		return;
	case GUARD_EV_STUFFING:
		log_info("guard stuffing sources=%u accounts=%u", al->sources, al->accounts);
		f = json_object();
		json_object_set_new(f, "sources", json_integer(al->sources));
		json_object_set_new(f, "accounts", json_integer(al->accounts));
		audit_guard(gd, "stuffing", f);
		snprintf(subject, sizeof(subject), "[postern] credential stuffing under way");
		snprintf(body, sizeof(body),
			 "postern on %s saw logins fail from %u addresses on %u accounts in the "
			 "last %llu minutes, few tries each: leaked passwords are being tried. "
			 "Failed logins from unknown addresses are slowed to the maximum while "
			 "it lasts.\n",
			 gd->cf->hostname, al->sources, al->accounts,
			 (unsigned long long)gd->cf->guard.window / 60);
		alert(gd, "stuffing", subject, body);
		return;
	}
}

/* Keeping the smtp process's bans in step with the store. */

struct seen {
	struct guardd *gd;
	struct map *live; /* nets in force in the store */
};

static int
each_live(const struct store_ban *b, void *arg)
{
	struct seen *sn = arg;
	uintptr_t had = (uintptr_t)map_get(sn->gd->pushed, b->net);
	struct cidr c;

	if (net_parse_cidr(b->net, &c) == -1) {
		log_warnx("guard bad-ban net=\"%.80s\" (not a network; ignored)", b->net);
		return 0;
	}
	map_put(sn->live, b->net, (void *)1);
	if (had != (uintptr_t)b->until)
		push_ban(sn->gd, b->net, (uint64_t)b->until, b->reason);
	return 0;
}

struct gone {
	struct map *live;
	char **nets;
	size_t n;
};

static void
each_pushed(const char *net, void *val, void *arg)
{
	struct gone *g = arg;

	(void)val;
	if (map_get(g->live, net) == NULL) {
		g->nets = xreallocarray(g->nets, g->n + 1, sizeof(*g->nets));
		g->nets[g->n++] = xstrdup(net);
	}
}

/* reconcile - push new and changed bans, lift the ones deleted or over. */
static void
reconcile(struct guardd *gd)
{
	struct seen sn = {gd, map_new()};
	struct gone g = {sn.live, NULL, 0};
	uint64_t now = now_s();
	size_t i;

	if (banstore_each(gd->bans, (int64_t)now, each_live, &sn) == -1) {
		log_warnx("guard store-error error=\"%s\"", banstore_error(gd->bans));
		map_free(sn.live);
		return;
	}
	map_each(gd->pushed, each_pushed, &g);
	for (i = 0; i < g.n; i++) {
		uintptr_t until = (uintptr_t)map_del(gd->pushed, g.nets[i]);

		/* Over by itself: the smtp process expires it too. */
		if (until > now) {
			log_info("guard unban net=%s", g.nets[i]);
			gd->ops->unban(gd->arg, g.nets[i]);
		}
		free(g.nets[i]);
	}
	free(g.nets);
	map_free(sn.live);
}

static void
each_over(const char *net, void *val, void *arg)
{
	struct gone *g = arg;

	if ((uintptr_t)val <= (uintptr_t)time(NULL)) {
		g->nets = xreallocarray(g->nets, g->n + 1, sizeof(*g->nets));
		g->nets[g->n++] = xstrdup(net);
	}
}

/* forget_over - bans that ran out (the smtp process drops them itself). */
static void
forget_over(struct guardd *gd)
{
	struct gone g = {NULL, NULL, 0};
	size_t i;

	map_each(gd->pushed, each_over, &g);
	for (i = 0; i < g.n; i++) {
		map_del(gd->pushed, g.nets[i]);
		free(g.nets[i]);
	}
	free(g.nets);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct guardd *gd = arg;
	int64_t v;

	(void)fd;
	(void)what;
	if (banstore_version(gd->bans, &v) == 0 && v != gd->data_version) {
		gd->data_version = v;
		reconcile(gd);
	}
	if (++gd->ticks % 60 == 0) {
		guard_tick(gd->guard, now_s());
		forget_over(gd);
	}
	if (gd->metrics != NULL)
		metrics_set(gd->metrics, "postern_guard_bans_active", NULL,
			    (double)map_count(gd->pushed));
}

void
guardd_set_metrics(struct guardd *gd, struct metrics *m)
{
	gd->metrics = m;
	if (m == NULL)
		return;
	metrics_describe(m, "postern_guard_bans_total", METRIC_COUNTER,
			 "bans the guard decided, by reason");
	metrics_describe(m, "postern_guard_bans_active", METRIC_GAUGE,
			 "bans in force (the guard's and the operator's)");
	metrics_describe(m, "postern_guard_locks_total", METRIC_COUNTER,
			 "accounts locked against untrusted sources");
	metrics_describe(m, "postern_guard_events_total", METRIC_COUNTER,
			 "network throttles, spraying and stuffing named");
	metrics_add(m, "postern_guard_locks_total", NULL, 0);
	metrics_set(m, "postern_guard_bans_active", NULL, (double)map_count(gd->pushed));
}

void
guardd_sync(struct guardd *gd)
{
	map_free(gd->pushed);
	gd->pushed = map_new();
	banstore_version(gd->bans, &gd->data_version);
	reconcile(gd);
}

/* backend - the counters: in this process, or shared through Redis. */
static struct guard_backend
backend(const struct conf *cf)
{
	struct guard_redis *r;
	char err[256];

	if (cf->guard.store == NULL)
		return guard_backend_memory();
	r = guard_redis_new(cf->guard.store, "postern:", 200, err, sizeof(err));
	if (r == NULL)
		log_fatalx("guard: %s", err); /* the config parser checked the URL */
	log_info("guard store=%s (counters and bans shared)", cf->guard.store);
	return guard_backend_redis(r);
}

struct guardd *
guardd_new(struct event_base *base, struct conf *cf, struct store *st, struct audit *au,
	   const struct guardd_ops *ops, void *arg)
{
	struct guardd *gd = xcalloc(1, sizeof(*gd));
	char err[256];

	gd->base = base;
	gd->cf = conf_ref(cf);
	gd->st = st;
	gd->au = au;
	gd->ops = ops;
	gd->arg = arg;
	gd->pushed = map_new();
	gd->guard = guard_new(&cf->guard, backend(cf), on_event, gd);
	gd->bans = banstore_open(cf, st, err, sizeof(err));
	if (gd->bans == NULL)
		log_fatalx("guard: %s", err); /* the config parser checked the URL */
	gd->tick = event_new(base, -1, EV_PERSIST, on_tick, gd);
	event_add(gd->tick, &(struct timeval){1, 0});
	return gd;
}

void
guardd_set_conf(struct guardd *gd, struct conf *cf)
{
	conf_unref(gd->cf);
	gd->cf = conf_ref(cf);
	guard_set_conf(gd->guard, &cf->guard);
}

void
guardd_free(struct guardd *gd)
{
	if (gd == NULL)
		return;
	if (gd->tick != NULL)
		event_free(gd->tick);
	guard_free(gd->guard);
	banstore_close(gd->bans);
	map_free(gd->pushed);
	conf_unref(gd->cf);
	free(gd);
}

bool
guardd_trusted(struct guardd *gd, const char *account, const char *ip)
{
	int64_t last;
	uint64_t t = gd->cf->guard.trust_time;

	return t != 0 && store_pair_last(gd->st, account, ip, &last) == 0 &&
	       (uint64_t)last + t > now_s();
}

enum guard_gate
guardd_before(struct guardd *gd, struct guard_attempt *ga, const char **reason,
	      uint32_t *delay_ms)
{
	int64_t until = 0, level;
	enum guard_gate gate;

	if (ga->exists && store_guard_lock_get(gd->st, ga->account, &until, &level) == -1)
		log_warnx("guard store-error error=\"%s\"", store_error(gd->st));
	ga->lock_until = until > 0 ? (uint64_t)until : 0;
	gate = guard_before(gd->guard, ga, now_s(), reason, delay_ms);
	if (gate != GUARD_OPEN)
		guard_refused(gd->guard, ga, now_s());
	return gate;
}

uint32_t
guardd_failed(struct guardd *gd, const struct guard_attempt *ga, bool *repeat)
{
	return guard_failed(gd->guard, ga, now_s(), repeat);
}

void
guardd_succeeded(struct guardd *gd, const struct guard_attempt *ga)
{
	int64_t until, level;

	guard_succeeded(gd->guard, ga, now_s());
	/* A lock that is over is forgotten with its level once the account
	 * logs in again; one still running stays (the attack may go on). */
	if (ga->exists && store_guard_lock_get(gd->st, ga->account, &until, &level) == 0 &&
	    until <= (int64_t)now_s())
		(void)store_guard_unlock(gd->st, ga->account);
}

void
guardd_new_source(struct guardd *gd, const char *account, const char *ip, const char *mechanism)
{
	char when[40];
	const struct template_var v[] = {
		{"account", account}, {"ip", ip}, {"mechanism", mechanism}, {"time", when}};

	fmt_utc(now_s(), when, sizeof(when));
	owner(gd, "new-source", "new-ip", account, v, nitems(v));
}

void
guardd_abuse(struct guardd *gd, const char *ip, const char *check, uint32_t weight)
{
	(void)check;
	guard_abuse(gd->guard, ip, weight, now_s());
}
