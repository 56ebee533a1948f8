/* SPDX-License-Identifier: ISC */
/*
 * guard - login monitoring: failed AUTH counted per address, per network
 * (/24, /64), per account and per (account, address) pair in sliding
 * windows, and the decisions drawn from them: a tarpit delay per failure,
 * bans of single offending addresses, networks whose untrusted AUTH is
 * refused for a while, accounts locked against untrusted sources after
 * account_failures consecutive failures, and password spraying and
 * credential stuffing named when they happen.
 *
 * The rule that makes lockout harmless to the real user: an (account,
 * address) pair that logged in successfully within trust_time is trusted.
 * Trusted attempts pass every gate (account lock, network throttle,
 * stuffing tarpit) and their failures count only against the pair itself.
 * A client repeating the same wrong (stale) password counts once.
 *
 * Counters live behind struct guard_backend: in this process's memory by
 * default, or in a shared store (Redis) so that several gateways see one
 * set of counters. The engine decides; its owner (the auth process) makes
 * the decisions durable (bans, locks), audits them and tells the smtp
 * process.
 *
 * SECURITY: runs in the auth process. Keys include attacker-chosen account
 * names (capped at STORE_NAME_MAX by the caller) and client addresses; the
 * memory backend bounds its tables (GUARD_MAX_KEYS) and forgets idle
 * entries. Nothing here blocks except a shared backend's round trip.
 * STANDARDS: NIST SP 800-63B 5.2.2 (at most 100 consecutive failures).
 */
#ifndef POSTERN_GUARD_H
#define POSTERN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/* Entries the memory backend keeps before it refuses to track more. */
#define GUARD_MAX_KEYS 200000
/* Wrong passwords remembered per pair to recognise a stale one. */
#define GUARD_STALE_TAGS 4

/* Where counters live. Keys are short strings made by the engine; times
 * are seconds. Every operation is total: a backend that fails answers as
 * if nothing had been counted (the guard fails open, and says so once). */
struct guard_backend {
	/* count - add n (0: just read) to the window counter key; the estimate. */
	uint32_t (*count)(void *ctx, const char *key, uint64_t span, uint32_t n, uint64_t now);
	/* distinct - add member (0: just read) to the set key; distinct members
	 * seen within span, at most cap. */
	size_t (*distinct)(void *ctx, const char *key, uint64_t member, uint64_t span, size_t cap,
			   uint64_t now);
	/* consec - op +1: increment, 0: read, -1: reset; the count after. Kept
	 * for keep seconds after the last change. */
	uint32_t (*consec)(void *ctx, const char *key, int op, uint64_t keep, uint64_t now);
	/* once - true the first time key is asked within span. */
	bool (*once)(void *ctx, const char *key, uint64_t span, uint64_t now);
	/* tag_seen - was tag recorded under key within span? Records it. */
	bool (*tag_seen)(void *ctx, const char *key, uint64_t tag, uint64_t span, uint64_t now);
	/* sweep - forget what is idle (called about once a minute). */
	void (*sweep)(void *ctx, uint64_t now);
	void (*free)(void *ctx);
	void *ctx;
};

/* guard_backend_memory - counters in this process. */
struct guard_backend guard_backend_memory(void);

enum guard_event {
	GUARD_EV_BAN,	   /* ip: ban it */
	GUARD_EV_LOCK,	   /* account: lock it against untrusted sources */
	GUARD_EV_THROTTLE, /* net: untrusted AUTH from it refused for a window */
	GUARD_EV_SPRAY,	   /* ip or net: failures on many accounts */
	GUARD_EV_STUFFING, /* many sources failing on many accounts */
};

struct guard_alert {
	enum guard_event kind;
	const char *ip;	     /* BAN, SPRAY from one address */
	const char *net;     /* THROTTLE, SPRAY from a network */
	const char *account; /* LOCK */
	const char *reason;  /* BAN: auth-failures, spray, protocol-abuse */
	uint32_t failures;   /* the count that crossed the threshold */
	uint32_t accounts;   /* SPRAY, STUFFING: distinct accounts */
	uint32_t sources;    /* STUFFING: distinct addresses */
};

typedef void (*guard_event_fn)(void *arg, const struct guard_alert *a);

/* One AUTH attempt as the guard sees it. */
struct guard_attempt {
	const char *ip;	     /* client address, as printed by net_ntop */
	const char *account; /* the name given (any case) */
	bool exists;	     /* the account exists */
	bool trusted;	     /* the pair logged in within trust_time */
	uint64_t pwtag;	     /* keyed hash of the password tried; 0: unknown (SCRAM) */
	uint64_t lock_until; /* the account's stored lock against untrusted sources */
};

enum guard_gate {
	GUARD_OPEN,	 /* go on and check the credentials */
	GUARD_THROTTLED, /* refuse for now (454) without checking */
	GUARD_LOCKED,	 /* the account is locked against this source (454) */
};

struct guard;

/* guard_new - an engine with its counters in be (taken over: freed with
 * the guard). fn receives every event. */
struct guard *guard_new(const struct conf_guard *cf, struct guard_backend be, guard_event_fn fn,
			void *arg);
void guard_free(struct guard *g);
/* guard_set_conf - new thresholds (a reload); counters are kept. */
void guard_set_conf(struct guard *g, const struct conf_guard *cf);
/* guard_before - may this attempt go ahead? reason: why not (for the log
 * and audit); delay_ms: how long to hold the refusal. */
enum guard_gate guard_before(struct guard *g, const struct guard_attempt *a, uint64_t now,
			     const char **reason, uint32_t *delay_ms);
/* guard_failed - the credentials were wrong: count, raise events, and
 * return the tarpit delay (milliseconds) to hold the 535 for. *repeat is
 * set when this was a stale password seen before (counted once). */
uint32_t guard_failed(struct guard *g, const struct guard_attempt *a, uint64_t now, bool *repeat);
/* guard_refused - the gate refused an untrusted attempt (locked account,
 * throttled network): the address still pays for it, so hammering a
 * locked account gets the attacker banned like guessing does. */
void guard_refused(struct guard *g, const struct guard_attempt *a, uint64_t now);
/* guard_succeeded - the credentials were right: from an untrusted source,
 * the account's consecutive failures start again. */
void guard_succeeded(struct guard *g, const struct guard_attempt *a, uint64_t now);
/* guard_abuse - the smtp process scored a protocol abuse by ip. */
void guard_abuse(struct guard *g, const char *ip, uint32_t weight, uint64_t now);
/* guard_tick - once a minute: forget idle entries. */
void guard_tick(struct guard *g, uint64_t now);
/* guard_stuffing - a credential-stuffing wave is under way. */
bool guard_stuffing(const struct guard *g, uint64_t now);

/* guard_ban_seconds - how long the ban after `earlier` previous ones lasts:
 * ban_time doubled for each, at most ban_max. */
uint64_t guard_ban_seconds(const struct conf_guard *cf, uint32_t earlier);
/* guard_lock_seconds - the same for account locks. */
uint64_t guard_lock_seconds(const struct conf_guard *cf, uint32_t earlier);
/* guard_net_of - the /24 (IPv4) or /64 (IPv6) around ip as "net/len";
 * -1 when ip is not an address. */
int guard_net_of(const char *ip, char *out, size_t outsz);

#endif
