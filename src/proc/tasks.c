/* SPDX-License-Identifier: ISC */
/*
 * tasks - scheduled backups and self-audits (queue process).
 *
 * SECURITY: see tasks.h.
 */
#include "proc/tasks.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/file.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/notice.h"
#include "proc/job.h"

enum task_kind { TASK_BACKUP, TASK_CHECK, TASK_COUNT };

/* The end of a report too long for one mail. */
#define TASKS_CUT "\n[cut: run postern check on the gateway for the whole report]\n"

struct task {
	struct tasks *t;
	enum task_kind kind;
	struct event *ev;
	struct job *job; /* running now, or NULL */
	bool running;
	uint64_t last; /* unix seconds of the last success, 0: never */
};

struct tasks {
	struct event_base *base;
	const struct conf *cf;
	tasks_mail_fn mail;
	void *arg;
	struct task task[TASK_COUNT];
};

static const char *const task_names[TASK_COUNT] = {"backup", "check"};

static uint64_t
task_every(const struct tasks *t, enum task_kind k)
{
	return k == TASK_BACKUP ? t->cf->backup.every : t->cf->check.every;
}

/* load_state - the last successful runs from state_dir/tasks.state, lines
 * of "NAME UNIXTIME"; a missing or unreadable file means never. */
static void
load_state(struct tasks *t)
{
	char path[PATH_MAX], name[16];
	struct buf b = BUF_INIT;
	const char *p;
	uint64_t when;
	size_t k;

	snprintf(path, sizeof(path), "%s/%s", t->cf->state_dir, TASKS_STATE_FILE);
	if (file_read(path, 4096, &b) == -1)
		return;
	for (p = buf_cstr(&b); *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
		if (sscanf(p, "%15s %" SCNu64, name, &when) != 2)
			continue;
		for (k = 0; k < TASK_COUNT; k++)
			if (strcmp(name, task_names[k]) == 0)
				t->task[k].last = when;
	}
	buf_free(&b);
}

static void
save_state(struct tasks *t)
{
	struct buf b = BUF_INIT;
	size_t k;

	for (k = 0; k < TASK_COUNT; k++)
		buf_addf(&b, "%s %" PRIu64 "\n", task_names[k], t->task[k].last);
	if (file_write_durable(t->cf->state_dir, TASKS_STATE_FILE, b.data, b.len) == -1)
		log_warn("queue tasks: cannot write %s", TASKS_STATE_FILE);
	buf_free(&b);
}

/* arm - when k runs next: every after its last success, at the earliest
 * TASKS_FIRST_DELAY from now; or after delay when given. */
static void
arm(struct task *k, uint64_t delay)
{
	uint64_t every = task_every(k->t, k->kind), now = (uint64_t)time(NULL), due;

	evtimer_del(k->ev);
	if (every == 0 || k->running)
		return;
	due = delay > 0 ? now + delay : k->last + every;
	if (due < now + TASKS_FIRST_DELAY)
		due = now + TASKS_FIRST_DELAY;
	evtimer_add(k->ev, (&(struct timeval){(time_t)(due - now), 0}));
}

/* check_subject - the subject of a report mail, by the exit status. */
static void
check_subject(const struct tasks *t, int status, char *out, size_t outsz)
{
	const char *worst = status == 0   ? "nothing above low"
			    : status == 3 ? "worst finding: medium"
			    : status == 4 ? "worst finding: high"
			    : status == 5 ? "worst finding: critical"
					  : NULL;

	if (worst != NULL)
		snprintf(out, outsz, "postern check on %s: %s", t->cf->hostname, worst);
	else
		snprintf(out, outsz, "postern check on %s could not run (exit status %d)",
			 t->cf->hostname, status);
}

static void
mail_check(struct tasks *t, int status, struct buf *out, struct buf *err)
{
	char subject[256];
	struct buf body = BUF_INIT;
	size_t i;

	check_subject(t, status, subject, sizeof(subject));
	buf_add(&body, out->data, out->len);
	if (err->len > 0)
		buf_addf(&body, "\n%s", buf_cstr(err));
	if (body.len > NOTICE_BODY_MAX - sizeof(TASKS_CUT)) {
		body.len = NOTICE_BODY_MAX - sizeof(TASKS_CUT);
		body.data[body.len] = '\0';
		buf_adds(&body, TASKS_CUT);
	}
	for (i = 0; i < t->cf->check.nmail_to; i++)
		t->mail(t->arg, t->cf->check.mail_to[i], subject, buf_cstr(&body));
	buf_free(&body);
}

static void
on_done(int status, struct buf *out, struct buf *err, void *arg)
{
	struct task *k = arg;
	struct tasks *t = k->t;
	/* a check that found something still ran: 3 to 5 are its findings */
	bool ok = status == 0 || (k->kind == TASK_CHECK && status >= 3 && status <= 5);
	char subject[256];

	k->running = false;
	k->job = NULL;
	log_info("queue task=%s status=%d%s", task_names[k->kind], status, ok ? "" : " failed");
	if (k->kind == TASK_CHECK)
		mail_check(t, status, out, err);
	if (!ok && k->kind == TASK_BACKUP && t->cf->guard.alert_to != NULL) {
		snprintf(subject, sizeof(subject), "postern on %s: the scheduled backup failed",
			 t->cf->hostname);
		t->mail(t->arg, t->cf->guard.alert_to, subject, buf_cstr(err));
	}
	if (ok) {
		k->last = (uint64_t)time(NULL);
		save_state(t);
		arm(k, 0);
	} else {
		uint64_t every = task_every(t, k->kind);

		log_warnx("queue task=%s failed: %.200s", task_names[k->kind], buf_cstr(err));
		arm(k, every < TASKS_RETRY ? every : TASKS_RETRY);
	}
}

static void
on_due(evutil_socket_t fd, short what, void *arg)
{
	static char *const backup_argv[] = {"backup", "--scheduled"};
	static char *const check_argv[] = {"check"};
	struct task *k = arg;
	struct tasks *t = k->t;
	char err[256];

	(void)fd;
	(void)what;
	k->running = true;
	if ((k->job = job_start(t->base, t->cf->path, k->kind == TASK_BACKUP ? 2 : 1,
		      k->kind == TASK_BACKUP ? backup_argv : check_argv, NULL, 0, "schedule",
		      k->kind == TASK_BACKUP ? TASKS_BACKUP_TIMEOUT : TASKS_CHECK_TIMEOUT, on_done,
		      k, err, sizeof(err))) == NULL) {
		k->running = false;
		log_warnx("queue task=%s cannot start: %s", task_names[k->kind], err);
		arm(k, TASKS_RETRY);
	}
}

struct tasks *
tasks_new(struct event_base *base, const struct conf *cf, tasks_mail_fn mail, void *arg)
{
	struct tasks *t = xcalloc(1, sizeof(*t));
	size_t k;

	t->base = base;
	t->cf = cf;
	t->mail = mail;
	t->arg = arg;
	load_state(t);
	for (k = 0; k < TASK_COUNT; k++) {
		t->task[k].t = t;
		t->task[k].kind = (enum task_kind)k;
		t->task[k].ev = evtimer_new(base, on_due, &t->task[k]);
		arm(&t->task[k], 0);
	}
	return t;
}

void
tasks_set_conf(struct tasks *t, const struct conf *cf)
{
	size_t k;

	t->cf = cf;
	for (k = 0; k < TASK_COUNT; k++)
		arm(&t->task[k], 0);
}

void
tasks_free(struct tasks *t)
{
	size_t k;

	if (t == NULL)
		return;
	for (k = 0; k < TASK_COUNT; k++) {
		event_free(t->task[k].ev);
		if (t->task[k].job != NULL)
			job_detach(t->task[k].job);
	}
	free(t);
}
