/* SPDX-License-Identifier: ISC */
/*
 * guardd - the guard's service in the auth process: it runs the counting
 * engine (guard/guard.h) beside the account store, turns the engine's
 * events into durable state (bans and locks in the store), writes the
 * stable log lines and audit records of every alert, and keeps the smtp
 * process's ban set in step with the store, including bans added or lifted
 * by `postern ban` (the store is polled once a second).
 *
 * Log lines (stable; contrib/fail2ban matches them):
 *   guard ban ip=IP for=Ns reason=R count=N
 *   guard ban-skipped ip=IP reason=R why=trusted-source|exempt
 *   guard unban net=NET
 *   guard lock user="U" ip=IP failures=N until=T
 *   guard throttle net=NET failures=N
 *   guard spray ip=IP|net=NET accounts=N
 *   guard stuffing sources=N accounts=N
 *   guard alert kind=K to=ADDRESS            (a mail to alert_to)
 *   guard alert-suppressed kind=K            (more than GUARDD_ALERTS_MAX an hour)
 *   guard notice kind=lock|new-source user="U" to=ADDRESS
 *
 * SECURITY: auth process (unprivileged, no network). Ban nets come from
 * the engine (client addresses) or from the store, written by the CLI;
 * both are parsed again before they are pushed.
 */
#ifndef POSTERN_GUARDD_H
#define POSTERN_GUARDD_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "guard/guard.h"
#include "mail/template.h"

struct event_base;
struct store;
struct audit;
struct guardd;

struct guardd_ops {
	/* ban - net is banned until (unix seconds); also at sync time. */
	void (*ban)(void *arg, const char *net, uint64_t until, const char *reason);
	/* unban - a ban was lifted before its end. */
	void (*unban)(void *arg, const char *net);
	/* notice - a mail to queue for alert_to. */
	void (*notice)(void *arg, const char *to, const char *subject, const char *body);
	/* user_notice - a notice of kind ("lockout", "new-ip") to an account
	 * owner, written from its template with vars (src/queue/notices.h). */
	void (*user_notice)(void *arg, const char *kind, const char *to,
			    const struct template_var *vars, size_t nvars);
};

/* guardd_new - st and au stay the caller's and must outlive the guardd. */
struct guardd *guardd_new(struct event_base *base, struct conf *cf, struct store *st,
			  struct audit *au, const struct guardd_ops *ops, void *arg);
void guardd_free(struct guardd *gd);
void guardd_set_conf(struct guardd *gd, struct conf *cf);
/* guardd_trusted - the account logged in from ip within trust_time. */
bool guardd_trusted(struct guardd *gd, const char *account, const char *ip);
/* guardd_before - the gate before a credential check; fills ga->lock_until
 * for existing accounts. */
enum guard_gate guardd_before(struct guardd *gd, struct guard_attempt *ga, const char **reason,
			      uint32_t *delay_ms);
/* guardd_failed - count a failure; the tarpit delay in milliseconds. */
uint32_t guardd_failed(struct guardd *gd, const struct guard_attempt *ga, bool *repeat);
void guardd_succeeded(struct guardd *gd, const struct guard_attempt *ga);
/* guardd_abuse - protocol abuse scored by the smtp process. */
void guardd_abuse(struct guardd *gd, const char *ip, const char *check, uint32_t weight);
/* guardd_new_source - account logged in from ip for the first time (it
 * had logged in from elsewhere before): tell its owner (notify_users). */
void guardd_new_source(struct guardd *gd, const char *account, const char *ip,
		       const char *mechanism);
struct metrics;
/* guardd_set_metrics - count bans, locks and events into m (NULL: none);
 * describes the families. */
void guardd_set_metrics(struct guardd *gd, struct metrics *m);
/* guardd_sync - push every ban in force (the smtp process starts empty). */
void guardd_sync(struct guardd *gd);

#endif
