/* SPDX-License-Identifier: ISC */
/*
 * guard - the login-monitoring engine and its memory backend (see guard.h).
 *
 * Keys: "i:IP" failures from an address, "n:NET" from its /24 or /64,
 * "p:ACCOUNT|IP" from a pair, "c:ACCOUNT" consecutive failures of an
 * account, "a:IP" / "A:NET" accounts failed from a source, "g:src" and
 * "g:acct" every failing source and account (stuffing), "x:IP" abuse
 * score, "w:ACCOUNT|IP" stale-password tags, "L:ACCOUNT" locks of unknown
 * accounts (known ones are locked in the account store), "o:..." events
 * already raised in this window.
 */
#include "guard/guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/window.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/net.h"
#include "lib/util.h"

#define KEY_MAX 512

struct guard {
	struct conf_guard cf; /* the numbers only: pointers are not used */
	struct guard_backend be;
	guard_event_fn fn;
	void *arg;
	uint64_t stuffing_until;
};

/* The memory backend. */

enum mkind { MK_COUNT, MK_SET, MK_CONSEC, MK_ONCE, MK_TAGS };

struct mentry {
	enum mkind kind;
	uint64_t last; /* last change */
	uint64_t keep; /* forgotten keep seconds after last */
	union {
		struct window w;
		struct recent *set;
		uint32_t consec;
		uint64_t tags[GUARD_STALE_TAGS + 1]; /* [0]: next slot */
	} u;
};

struct mem {
	struct map *m;
	bool full_logged;
};

static void
mentry_free(struct mentry *e)
{
	if (e != NULL && e->kind == MK_SET)
		free(e->u.set);
	free(e);
}

static void mem_sweep(void *ctx, uint64_t now);

/* mem_get - the entry of key, made when create; NULL when the table is
 * full (the guard then stops tracking new keys until a sweep). */
static struct mentry *
mem_get(struct mem *mm, const char *key, enum mkind kind, bool create, uint64_t now)
{
	struct mentry *e = map_get(mm->m, key);

	if (e != NULL && e->kind != kind)
		log_bug("guard: key %s has another kind", key);
	if (e != NULL || !create)
		return e;
	if (map_count(mm->m) >= GUARD_MAX_KEYS) {
		mem_sweep(mm, now);
		if (map_count(mm->m) >= GUARD_MAX_KEYS) {
			if (!mm->full_logged)
				log_warnx("guard table-full entries=%zu: new sources are not "
					  "tracked until old ones expire",
					  map_count(mm->m));
			mm->full_logged = true;
			return NULL;
		}
	}
	mm->full_logged = false;
	e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	if (kind == MK_SET)
		e->u.set = xcalloc(1, sizeof(*e->u.set));
	map_put(mm->m, key, e);
	return e;
}

static uint32_t
mem_count(void *ctx, const char *key, uint64_t span, uint32_t n, uint64_t now)
{
	struct mentry *e = mem_get(ctx, key, MK_COUNT, n > 0, now);

	if (e == NULL)
		return 0;
	if (n == 0)
		return window_count(&e->u.w, now, span);
	e->last = now;
	e->keep = 2 * span;
	return window_add(&e->u.w, now, span, n);
}

static size_t
mem_distinct(void *ctx, const char *key, uint64_t member, uint64_t span, size_t cap,
	     uint64_t now)
{
	struct mentry *e = mem_get(ctx, key, MK_SET, member != 0, now);
	struct recent *r;
	size_t i, n = 0;

	if (e == NULL)
		return 0;
	r = e->u.set;
	if (member != 0) {
		e->last = now;
		e->keep = span;
		return recent_add(r, member, now, span, cap);
	}
	for (i = 0; i < r->n; i++)
		if (r->seen[i] + span > now)
			n++;
	return n;
}

static uint32_t
mem_consec(void *ctx, const char *key, int op, uint64_t keep, uint64_t now)
{
	struct mem *mm = ctx;
	struct mentry *e = mem_get(mm, key, MK_CONSEC, op > 0, now);

	if (e == NULL)
		return 0;
	if (op < 0) {
		mentry_free(map_del(mm->m, key));
		return 0;
	}
	if (op > 0) {
		if (e->u.consec < UINT32_MAX)
			e->u.consec++;
		e->last = now;
		e->keep = keep;
	}
	return e->u.consec;
}

static bool
mem_once(void *ctx, const char *key, uint64_t span, uint64_t now)
{
	struct mentry *e = mem_get(ctx, key, MK_ONCE, true, now);

	if (e == NULL)
		return false; /* a full table raises nothing new */
	if (e->last != 0 && e->last + span > now)
		return false;
	e->last = now;
	e->keep = span;
	return true;
}

static bool
mem_tag_seen(void *ctx, const char *key, uint64_t tag, uint64_t span, uint64_t now)
{
	struct mentry *e = mem_get(ctx, key, MK_TAGS, true, now);
	size_t i;

	if (e == NULL)
		return false;
	if (e->last + span <= now)
		memset(e->u.tags, 0, sizeof(e->u.tags));
	e->last = now;
	e->keep = span;
	for (i = 1; i <= GUARD_STALE_TAGS; i++)
		if (e->u.tags[i] == tag)
			return true;
	e->u.tags[1 + e->u.tags[0] % GUARD_STALE_TAGS] = tag;
	e->u.tags[0]++;
	return false;
}

struct sweep_ctx {
	uint64_t now;
	char **dead;
	size_t n, cap;
};

static void
sweep_one(const char *key, void *val, void *arg)
{
	struct sweep_ctx *c = arg;
	struct mentry *e = val;

	if (e->last + e->keep > c->now)
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->dead = xreallocarray(c->dead, c->cap, sizeof(*c->dead));
	}
	c->dead[c->n++] = xstrdup(key);
}

static void
mem_sweep(void *ctx, uint64_t now)
{
	struct mem *mm = ctx;
	struct sweep_ctx c = {now, NULL, 0, 0};
	size_t i;

	map_each(mm->m, sweep_one, &c);
	for (i = 0; i < c.n; i++) {
		mentry_free(map_del(mm->m, c.dead[i]));
		free(c.dead[i]);
	}
	free(c.dead);
}

static void
free_one(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	mentry_free(val);
}

static void
mem_free(void *ctx)
{
	struct mem *mm = ctx;

	if (mm == NULL)
		return;
	map_each(mm->m, free_one, NULL);
	map_free(mm->m);
	free(mm);
}

struct guard_backend
guard_backend_memory(void)
{
	struct guard_backend be = {mem_count, mem_distinct, mem_consec, mem_once,
				   mem_tag_seen, mem_sweep,    mem_free,   NULL};
	struct mem *mm = xcalloc(1, sizeof(*mm));

	mm->m = map_new();
	be.ctx = mm;
	return be;
}

/* The engine. */

static void
key(char out[KEY_MAX], const char *prefix, const char *a, const char *b)
{
	size_t i;

	snprintf(out, KEY_MAX, "%s:%s%s%s", prefix, a, b ? "|" : "", b ? b : "");
	/* account names are case-insensitive */
	for (i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

/* member - a 64-bit stand-in for a string in a distinct set (FNV-1a; the
 * sets are per source or global and only count, so a collision merely
 * undercounts by one). Never 0, which means "just read". */
static uint64_t
member(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (uint8_t)tolower((unsigned char)*s);
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

int
guard_net_of(const char *ip, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct cidr c;

	if (net_parse_ip(ip, &ss, &len) == -1 ||
	    net_cidr_of((struct sockaddr *)&ss,
			ss.ss_family == AF_INET6 &&
					!IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)
				? 64
				: 24,
			&c) == -1)
		return -1;
	net_cidr_format(&c, out, outsz);
	return 0;
}

static uint64_t
doubled(uint64_t base, uint32_t times, uint64_t max)
{
	uint64_t v = base;

	while (times-- > 0 && v < max)
		v = v > max / 2 ? max : v * 2;
	return v < max ? v : max;
}

uint64_t
guard_ban_seconds(const struct conf_guard *cf, uint32_t earlier)
{
	return doubled(cf->ban_time, earlier, cf->ban_max);
}

uint64_t
guard_lock_seconds(const struct conf_guard *cf, uint32_t earlier)
{
	/* Locks grow like bans, up to a week at most. */
	return doubled(cf->account_lock_time, earlier,
		       cf->account_lock_time > 7 * 86400 ? cf->account_lock_time : 7 * 86400);
}

struct guard *
guard_new(const struct conf_guard *cf, struct guard_backend be, guard_event_fn fn, void *arg)
{
	struct guard *g = xcalloc(1, sizeof(*g));

	guard_set_conf(g, cf);
	g->be = be;
	g->fn = fn;
	g->arg = arg;
	return g;
}

void
guard_set_conf(struct guard *g, const struct conf_guard *cf)
{
	g->cf = *cf;
	/* the numbers only: the lists and strings belong to the conf */
	g->cf.alert_to = NULL;
	g->cf.nftables_set = NULL;
	g->cf.store = NULL;
	g->cf.dnsbl = NULL;
	g->cf.ndnsbl = 0;
}

void
guard_free(struct guard *g)
{
	if (g == NULL)
		return;
	g->be.free(g->be.ctx);
	free(g);
}

bool
guard_stuffing(const struct guard *g, uint64_t now)
{
	return g->stuffing_until > now;
}

static void
emit(struct guard *g, const struct guard_alert *a)
{
	if (g->fn != NULL)
		g->fn(g->arg, a);
}

/* tarpit_ms - the delay for the n-th failure: tarpit doubled each time. */
static uint32_t
tarpit_ms(const struct guard *g, uint32_t n)
{
	if (g->cf.tarpit == 0 || n == 0)
		return 0;
	return (uint32_t)doubled(g->cf.tarpit, n - 1, g->cf.tarpit_max) * 1000;
}

enum guard_gate
guard_before(struct guard *g, const struct guard_attempt *a, uint64_t now, const char **reason,
	     uint32_t *delay_ms)
{
	const struct conf_guard *cf = &g->cf;
	char k[KEY_MAX], net[NET_ADDRSTRLEN + 8];
	uint32_t n;

	*reason = NULL;
	*delay_ms = 0;
	if (!cf->enabled)
		return GUARD_OPEN;
	if (a->trusted) {
		/* Trusted pairs pass every gate but their own. */
		key(k, "p", a->account, a->ip);
		n = g->be.count(g->be.ctx, k, cf->window, 0, now);
		if (n >= cf->pair_failures) {
			*reason = "pair-throttled";
			*delay_ms = tarpit_ms(g, 1);
			return GUARD_THROTTLED;
		}
		return GUARD_OPEN;
	}
	key(k, "i", a->ip, NULL);
	n = g->be.count(g->be.ctx, k, cf->window, 0, now);
	if (n >= cf->ip_failures) {
		*reason = "address-throttled";
		*delay_ms = tarpit_ms(g, n);
		return GUARD_THROTTLED;
	}
	if (guard_net_of(a->ip, net, sizeof(net)) == 0) {
		key(k, "n", net, NULL);
		if (g->be.count(g->be.ctx, k, cf->window, 0, now) >= cf->net_failures) {
			*reason = "network-throttled";
			*delay_ms = tarpit_ms(g, 2);
			return GUARD_THROTTLED;
		}
	}
	if (!a->exists) {
		/* Unknown accounts lock in memory the same way, so that a lock
		 * tells nothing about whether the account exists. */
		key(k, "L", a->account, NULL);
		if (g->be.count(g->be.ctx, k, cf->account_lock_time, 0, now) > 0) {
			*reason = "account-locked";
			*delay_ms = tarpit_ms(g, 2);
			return GUARD_LOCKED;
		}
	} else if (a->lock_until > now) {
		*reason = "account-locked";
		*delay_ms = tarpit_ms(g, 2);
		return GUARD_LOCKED;
	}
	return GUARD_OPEN;
}

/* spread - distinct accounts failed from a source (ip or net); names
 * spraying once per window. Returns the distinct count. */
static size_t
spread(struct guard *g, const char *prefix, const char *source, bool is_net,
       const char *account, uint64_t now)
{
	const struct conf_guard *cf = &g->cf;
	char k[KEY_MAX];
	size_t n;

	key(k, prefix, source, NULL);
	n = g->be.distinct(g->be.ctx, k, member(account), cf->window, cf->spray_accounts, now);
	if (n >= cf->spray_accounts) {
		key(k, "o:spray", source, NULL);
		if (g->be.once(g->be.ctx, k, cf->window, now)) {
			struct guard_alert al = {GUARD_EV_SPRAY, is_net ? NULL : source,
						 is_net ? source : NULL, NULL, NULL, 0, (uint32_t)n, 0};

			emit(g, &al);
		}
	}
	return n;
}

/* stuffing - many sources failing on many accounts: name it once a window
 * and hold every untrusted failure at tarpit_max while it lasts. */
static void
stuffing(struct guard *g, const struct guard_attempt *a, uint64_t now)
{
	const struct conf_guard *cf = &g->cf;
	size_t src, acc;

	src = g->be.distinct(g->be.ctx, "g:src", member(a->ip), cf->window, cf->stuffing_sources,
			     now);
	acc = g->be.distinct(g->be.ctx, "g:acct", member(a->account), cf->window,
			     cf->stuffing_accounts, now);
	if (src < cf->stuffing_sources || acc < cf->stuffing_accounts)
		return;
	g->stuffing_until = now + cf->window;
	if (g->be.once(g->be.ctx, "o:stuffing", cf->window, now)) {
		struct guard_alert al = {GUARD_EV_STUFFING, NULL, NULL, NULL, NULL, 0,
					 (uint32_t)acc, (uint32_t)src};

		emit(g, &al);
	}
}

/* lock_account - the consecutive failures reached the threshold. */
static void
lock_account(struct guard *g, const struct guard_attempt *a, uint32_t consec, uint64_t now)
{
	char k[KEY_MAX];
	struct guard_alert al = {GUARD_EV_LOCK, a->ip, NULL, a->account, NULL, consec, 0, 0};

	if (!a->exists) {
		key(k, "L", a->account, NULL);
		g->be.count(g->be.ctx, k, g->cf.account_lock_time, 1, now);
	}
	emit(g, &al);
}

/* ban_check - nip failures from ip: past ip_failures, ban it (once a
 * window); named spraying when they went to many accounts. */
static void
ban_check(struct guard *g, const char *ip, uint32_t nip, size_t accounts, uint64_t now)
{
	const struct conf_guard *cf = &g->cf;
	char k[KEY_MAX];

	if (nip < cf->ip_failures)
		return;
	key(k, "o:ban", ip, NULL);
	if (g->be.once(g->be.ctx, k, cf->window, now)) {
		struct guard_alert al = {GUARD_EV_BAN,
					 ip,
					 NULL,
					 NULL,
					 accounts >= cf->spray_accounts ? "spray" : "auth-failures",
					 nip,
					 (uint32_t)accounts,
					 0};

		emit(g, &al);
	}
}

void
guard_refused(struct guard *g, const struct guard_attempt *a, uint64_t now)
{
	char k[KEY_MAX];
	uint32_t nip;

	if (!g->cf.enabled || a->trusted)
		return;
	key(k, "i", a->ip, NULL);
	nip = g->be.count(g->be.ctx, k, g->cf.window, 1, now);
	key(k, "a", a->ip, NULL);
	ban_check(g, a->ip, nip, g->be.distinct(g->be.ctx, k, 0, g->cf.window, 0, now), now);
}

uint32_t
guard_failed(struct guard *g, const struct guard_attempt *a, uint64_t now, bool *repeat)
{
	const struct conf_guard *cf = &g->cf;
	char k[KEY_MAX], net[NET_ADDRSTRLEN + 8];
	uint32_t nip, nnet = 0, npair, consec, worst;
	size_t accounts;
	bool have_net;

	*repeat = false;
	if (!cf->enabled)
		return 0;
	if (a->pwtag != 0) {
		key(k, "w", a->account, a->ip);
		if (g->be.tag_seen(g->be.ctx, k, a->pwtag, cf->window, now)) {
			*repeat = true;
			return tarpit_ms(g, 1);
		}
	}
	key(k, "p", a->account, a->ip);
	npair = g->be.count(g->be.ctx, k, cf->window, 1, now);
	if (a->trusted)
		return tarpit_ms(g, 1); /* the pair's own gate limits it */
	key(k, "i", a->ip, NULL);
	nip = g->be.count(g->be.ctx, k, cf->window, 1, now);
	have_net = guard_net_of(a->ip, net, sizeof(net)) == 0;
	if (have_net) {
		key(k, "n", net, NULL);
		nnet = g->be.count(g->be.ctx, k, cf->window, 1, now);
	}
	key(k, "c", a->account, NULL);
	consec = g->be.consec(g->be.ctx, k, +1, 86400, now);
	accounts = spread(g, "a", a->ip, false, a->account, now);
	if (have_net)
		spread(g, "A", net, true, a->account, now);
	stuffing(g, a, now);
	ban_check(g, a->ip, nip, accounts, now);
	if (have_net && nnet >= cf->net_failures) {
		key(k, "o:net", net, NULL);
		if (g->be.once(g->be.ctx, k, cf->window, now)) {
			struct guard_alert al = {GUARD_EV_THROTTLE, NULL, net, NULL, NULL, nnet, 0, 0};

			emit(g, &al);
		}
	}
	if (consec >= cf->account_failures)
		lock_account(g, a, consec, now);
	if (guard_stuffing(g, now))
		return (uint32_t)cf->tarpit_max * 1000;
	worst = nip > npair ? nip : npair;
	if ((nnet + 3) / 4 > worst)
		worst = (nnet + 3) / 4;
	return tarpit_ms(g, worst);
}

void
guard_succeeded(struct guard *g, const struct guard_attempt *a, uint64_t now)
{
	char k[KEY_MAX];

	/* Only a success from an untrusted source starts the count again: the
	 * real user logging in from her usual place all day must not give an
	 * attacker elsewhere a fresh allowance each time. */
	if (!g->cf.enabled || a->trusted)
		return;
	key(k, "c", a->account, NULL);
	g->be.consec(g->be.ctx, k, -1, 0, now);
}

void
guard_abuse(struct guard *g, const char *ip, uint32_t weight, uint64_t now)
{
	const struct conf_guard *cf = &g->cf;
	char k[KEY_MAX];
	uint32_t score;

	if (!cf->enabled || weight == 0)
		return;
	key(k, "x", ip, NULL);
	score = g->be.count(g->be.ctx, k, cf->window, weight, now);
	if (score < cf->abuse_ban)
		return;
	key(k, "o:ban", ip, NULL);
	if (g->be.once(g->be.ctx, k, cf->window, now)) {
		struct guard_alert al = {GUARD_EV_BAN, ip, NULL, NULL, "protocol-abuse", score, 0, 0};

		emit(g, &al);
	}
}

void
guard_tick(struct guard *g, uint64_t now)
{
	g->be.sweep(g->be.ctx, now);
}
