/* SPDX-License-Identifier: ISC */
/*
 * reminder - password-expiry reminders (practice 4 and 14), a pass in the
 * auth process every notices { expiry_check_every } (the first shortly
 * after start): each account named by its address, whose password nears
 * auth { max_age }, is mailed the password-expiry notice.
 *
 * Policy: at most two reminders per password, at most one a day per
 * account. The first when the warning window opens (warn_before before
 * max_age), the last when a day or less is left; a password set or reset
 * since starts over. A password already expired, one an admin reset (the
 * user must change it at the next login anyway) and a locked account get
 * nothing: the SMTP reply (432 4.7.12) says what to do. What was sent is
 * kept in the account store, so restarts do not repeat a reminder. A
 * pass mails at most REMINDER_PASS_MAX accounts; the others wait for the
 * next pass. Off when max_age is 0 or notices { password_expiry no }.
 *
 * Log line (stable):
 *   auth notice kind=password-expiry user="U" days=N
 * and an audit record "notice" {kind, account, actor "auth", days}.
 *
 * SECURITY: auth process. The account names come from the store (an
 * admin made them); the notice goes to the name only when it holds '@',
 * as the guard's notices do, and the queue checks it is a mailbox.
 */
#ifndef POSTERN_REMINDER_H
#define POSTERN_REMINDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/template.h"

/* Accounts mailed in one pass at most. */
#define REMINDER_PASS_MAX 500
/* Seconds from start to the first pass. */
#define REMINDER_FIRST_DELAY 5
/* At most one reminder per account in this many seconds. */
#define REMINDER_GAP 86400

struct event_base;
struct conf;
struct store;
struct audit;
struct store_expiring;
struct reminder;

/* reminder_send_fn - queue the notice kind to the mailbox to. */
typedef void (*reminder_send_fn)(void *arg, const char *kind, const char *to,
				 const struct template_var *vars, size_t nvars);

/* reminder_new - passes on base over st (kept, not owned; au may be
 * NULL), mailing through send. cf is referenced. */
struct reminder *reminder_new(struct event_base *base, struct conf *cf, struct store *st,
			      struct audit *au, reminder_send_fn send, void *arg);
/* reminder_set_conf - a reloaded config (a new interval counts from the
 * next pass). */
void reminder_set_conf(struct reminder *r, struct conf *cf);
/* reminder_pass - one pass now; returns how many accounts were mailed. */
unsigned reminder_pass(struct reminder *r);
/* reminder_free - NULL is fine. */
void reminder_free(struct reminder *r);

/* reminder_stage - the reminder a password set at pw_changed is in for at
 * now: 0 none (outside the window, or expired already), 1 the window is
 * open, 2 a day or less is left. max_age 0: always 0. Pure. */
int reminder_stage(int64_t pw_changed, uint64_t max_age, uint64_t warn_before, int64_t now);
/* reminder_due - mail stage now, given what was sent for e? Pure. */
bool reminder_due(int stage, const struct store_expiring *e, int64_t now);

#endif
