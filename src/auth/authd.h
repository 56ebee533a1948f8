/* SPDX-License-Identifier: ISC */
/*
 * authd - the auth process's service: SASL mechanisms on the server side
 * (PLAIN, LOGIN) driven by messages from the smtp process, and the checks
 * behind them: the account store, password hashes on a bounded pool, a
 * verified-credential cache, 2FA (app passwords, password + TOTP code),
 * locks, allowed networks, password expiry, and an audit record for every
 * attempt.
 *
 * SECURITY: the only process that reads hashes, TOTP secrets and the seal
 * key; the smtp process gets a verdict and the account's sending
 * addresses, nothing more. Unknown accounts cost a dummy hash (no
 * enumeration by timing); secrets are compared in constant time and
 * wiped. The cache keys are keyed hashes under a random per-start key and
 * never hold a password; an entry dies with any change of the account's
 * generation.
 * STANDARDS: RFC 4954 (codes), RFC 4616 (PLAIN), draft-murchison-sasl-login
 * (LOGIN), RFC 6238 (TOTP).
 */
#ifndef POSTERN_AUTHD_H
#define POSTERN_AUTHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

struct event_base;
struct authd;

/* MECH_ADMIN: a login to the admin API, framed like PLAIN; only the
 * account password followed by the current TOTP code is accepted (no app
 * passwords, no account without 2FA). */
enum auth_mech { MECH_PLAIN = 1, MECH_LOGIN, MECH_SCRAM, MECH_SCRAM_PLUS, MECH_ADMIN };

enum auth_status {
	AUTH_CONTINUE,	/* a challenge follows */
	AUTH_OK,	/* 235 2.7.0 */
	AUTH_FAIL,	/* 535 5.7.8 */
	AUTH_TEMPFAIL,	/* 454 4.7.0 */
	AUTH_EXPIRED,	/* 432 4.7.12 */
	AUTH_MALFORMED, /* 501 5.5.2: the client's message was not valid */
	AUTH_WEAK,	/* 534 5.7.9: this mechanism cannot serve this account */
};

struct auth_answer {
	enum auth_status status;
	const uint8_t *challenge; /* AUTH_CONTINUE: raw bytes to base64 */
	size_t challenge_len;
	const char *user;	  /* AUTH_OK: the account */
	const char *const *addresses; /* AUTH_OK: what it may send as */
	size_t naddresses;
	int expires_days; /* AUTH_OK: days until the password expires, when
			   * within the warning window; -1 otherwise */
	uint32_t delay_ms; /* hold a refusal this long (the guard's tarpit) */
};

/* What the auth process does with authd's output. */
struct authd_ops {
	void (*answer)(void *arg, uint64_t sid, const struct auth_answer *ans);
	/* the guard banned net until (unix seconds), or lifted a ban */
	void (*ban)(void *arg, const char *net, uint64_t until, const char *reason);
	void (*unban)(void *arg, const char *net);
	/* a mail to queue: a guard alert or a notice to an account owner */
	void (*notice)(void *arg, const char *to, const char *subject, const char *body);
};

/* authd_new - open the store, the seal key and the audit log in state_dir. */
struct authd *authd_new(struct event_base *base, struct conf *cf, const struct authd_ops *ops,
			void *arg, char *err, size_t errsz);
/* authd_abuse - the smtp process scored protocol abuse by ip. */
void authd_abuse(struct authd *a, const char *ip, const char *check, uint32_t weight);
struct metrics;
/* authd_set_metrics - count AUTH attempts and guard events into m (kept,
 * not owned; NULL: none). */
void authd_set_metrics(struct authd *a, struct metrics *m);
/* authd_sync - send every ban in force through ops->ban. */
void authd_sync(struct authd *a);
void authd_set_conf(struct authd *a, struct conf *cf);
/* authd_set_api_key - the key that seals admin API tokens (from the
 * parent; without it, every ADMIN-API login fails). */
void authd_set_api_key(struct authd *a, const uint8_t key[32]);
/* authd_begin - a client said AUTH mech [initial]; answers come through fn. */
/* cb: for SCRAM-SHA-256-PLUS, the connection's 32-byte tls-exporter
 * channel binding; plus_offered: -PLUS was advertised (RFC 5802 6). */
void authd_begin(struct authd *a, uint64_t sid, enum auth_mech mech, const char *ip, bool tls,
		 const uint8_t *initial, size_t len, bool has_initial, const uint8_t *cb,
		 size_t cblen, bool plus_offered);
/* authd_step - the client's next (decoded) response. */
void authd_step(struct authd *a, uint64_t sid, const uint8_t *data, size_t len);
/* authd_cancel - the client cancelled or went away. */
void authd_cancel(struct authd *a, uint64_t sid);
void authd_free(struct authd *a);

#endif
