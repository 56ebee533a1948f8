/* SPDX-License-Identifier: ISC */
/*
 * tasks - what the queue process runs on a schedule: `postern backup
 * --scheduled` (backup { every }) and `postern check` (check { every;
 * mail_to }), as child commands (proc/job.h), so that they are the very
 * commands an operator runs by hand. The check's report is mailed to
 * mail_to through our own queue; a failed backup is logged and mailed to
 * guard { alert_to } when there is one.
 *
 * The time of each task's last successful run is kept in state_dir
 * (tasks.state), so a daemon restarted every night still backs up: the
 * next run is due `every` after the last one, or shortly after start when
 * that time has passed or the task never ran. A failed run is tried again
 * after min(every, TASKS_RETRY).
 *
 * SECURITY: runs in the queue process (unprivileged); the children run as
 * its user. Nothing here reads input from outside the process.
 */
#ifndef POSTERN_TASKS_H
#define POSTERN_TASKS_H

#include "conf/conf.h"

/* A task never run, or overdue, starts this long after the daemon. */
#define TASKS_FIRST_DELAY 10
/* A failed task is tried again after at most this long. */
#define TASKS_RETRY 3600
/* How long a scheduled backup and check may take. */
#define TASKS_BACKUP_TIMEOUT (6 * 3600)
#define TASKS_CHECK_TIMEOUT 600
/* The file in state_dir with the last successful runs. */
#define TASKS_STATE_FILE "tasks.state"

struct event_base;
struct tasks;

/* tasks_mail_fn - send a mail of ours (a notice) to one address. */
typedef void (*tasks_mail_fn)(void *arg, const char *to, const char *subject, const char *body);

/* tasks_new - schedule the tasks of cf (kept: see tasks_set_conf). */
struct tasks *tasks_new(struct event_base *base, const struct conf *cf, tasks_mail_fn mail,
			void *arg);
/* tasks_set_conf - a reloaded config: the schedules are set again. */
void tasks_set_conf(struct tasks *t, const struct conf *cf);
void tasks_free(struct tasks *t);

#endif
