/* SPDX-License-Identifier: ISC */
/*
 * reminder - password-expiry reminders (see reminder.h).
 */
#include "auth/reminder.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "auth/store.h"
#include "conf/conf.h"
#include "lib/log.h"
#include "lib/util.h"

struct reminder {
	struct event_base *base;
	struct conf *cf;
	struct store *st;
	struct audit *au;
	reminder_send_fn send;
	void *arg;
	struct event *ev;
};

/* One account a pass decided to mail (collected first: the store is not
 * written while it is being read). */
struct due {
	char *name;
	int64_t pw_changed;
	int stage;
	int days;
	int64_t expires;
};

struct pass {
	const struct conf *cf;
	int64_t now;
	struct due *v;
	size_t n;
};

int
reminder_stage(int64_t pw_changed, uint64_t max_age, uint64_t warn_before, int64_t now)
{
	int64_t left;

	if (max_age == 0 || max_age > INT64_MAX / 2 || warn_before > INT64_MAX / 2)
		return 0;
	left = pw_changed + (int64_t)max_age - now;
	if (left <= 0 || left > (int64_t)warn_before)
		return 0;
	return left <= 86400 ? 2 : 1;
}

bool
reminder_due(int stage, const struct store_expiring *e, int64_t now)
{
	bool same = e->noticed_pw == e->pw_changed;

	return stage > 0 && (!same || e->stage < stage) &&
	       (e->sent == 0 || now - e->sent >= REMINDER_GAP);
}

static int
each_expiring(const struct store_expiring *e, void *arg)
{
	struct pass *p = arg;
	const struct conf_auth *a = &p->cf->auth;
	int stage = reminder_stage(e->pw_changed, a->max_age, a->warn_before, p->now);
	int64_t expires = e->pw_changed + (int64_t)a->max_age;

	if (strchr(e->name, '@') == NULL || !reminder_due(stage, e, p->now))
		return 0;
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	p->v[p->n].name = xstrdup(e->name);
	p->v[p->n].pw_changed = e->pw_changed;
	p->v[p->n].stage = stage;
	p->v[p->n].days = (int)((expires - p->now + 86399) / 86400);
	p->v[p->n].expires = expires;
	p->n++;
	return p->n >= REMINDER_PASS_MAX;
}

static void
fmt_utc(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%d %H:%M UTC", &tm);
}

/* remind - mail one account, record it, audit it. */
static void
remind(struct reminder *r, const struct due *d, int64_t now)
{
	char days[16], expires[40], esc[LOG_ESCAPE_BUF];
	const struct template_var v[] = {{"account", d->name}, {"days", days},
					 {"expires", expires}};
	json_t *f;

	if (store_reminder_put(r->st, d->name, d->pw_changed, d->stage, now) != 0) {
		log_warnx("auth store-error error=\"%s\" (no password reminder for \"%s\")",
			  store_error(r->st), log_escape_str(esc, d->name));
		return;
	}
	snprintf(days, sizeof(days), "%d", d->days);
	fmt_utc(d->expires, expires, sizeof(expires));
	log_info("auth notice kind=password-expiry user=\"%s\" days=%d",
		 log_escape_str(esc, d->name), d->days);
	f = json_object();
	json_object_set_new(f, "kind", json_string("password-expiry"));
	json_object_set_new(f, "account", audit_str(d->name, strlen(d->name)));
	json_object_set_new(f, "actor", json_string("auth"));
	json_object_set_new(f, "days", json_integer(d->days));
	if (r->au != NULL && audit_append(r->au, "notice", f) == -1)
		log_warnx("auth audit-append-failed error=\"%s\"", audit_error(r->au));
	json_decref(f);
	r->send(r->arg, "password-expiry", d->name, v, nitems(v));
}

unsigned
reminder_pass(struct reminder *r)
{
	const struct conf_auth *a = &r->cf->auth;
	struct pass p = {r->cf, (int64_t)time(NULL), NULL, 0};
	size_t i;

	if (a->max_age == 0 || !r->cf->notices.password_expiry || a->max_age > INT64_MAX / 2 ||
	    a->warn_before > INT64_MAX / 2)
		return 0;
	if (store_expiring(r->st, p.now - (int64_t)a->max_age,
			   p.now - (int64_t)a->max_age + (int64_t)a->warn_before, each_expiring,
			   &p) == -1)
		log_warnx("auth store-error error=\"%s\" (password reminders)", store_error(r->st));
	for (i = 0; i < p.n; i++) {
		remind(r, &p.v[i], p.now);
		free(p.v[i].name);
	}
	free(p.v);
	return (unsigned)p.n;
}

static void
on_pass(evutil_socket_t fd, short what, void *arg)
{
	struct reminder *r = arg;

	(void)fd;
	(void)what;
	(void)reminder_pass(r);
	event_add(r->ev, &(struct timeval){(time_t)r->cf->notices.expiry_check_every, 0});
}

struct reminder *
reminder_new(struct event_base *base, struct conf *cf, struct store *st, struct audit *au,
	     reminder_send_fn send, void *arg)
{
	struct reminder *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->cf = conf_ref(cf);
	r->st = st;
	r->au = au;
	r->send = send;
	r->arg = arg;
	r->ev = evtimer_new(base, on_pass, r);
	event_add(r->ev, &(struct timeval){REMINDER_FIRST_DELAY, 0});
	return r;
}

void
reminder_set_conf(struct reminder *r, struct conf *cf)
{
	conf_unref(r->cf);
	r->cf = conf_ref(cf);
}

void
reminder_free(struct reminder *r)
{
	if (r == NULL)
		return;
	if (r->ev != NULL)
		event_free(r->ev);
	conf_unref(r->cf);
	free(r);
}
