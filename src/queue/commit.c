/* SPDX-License-Identifier: ISC */
/*
 * commit - group commit: fsync, rename, one directory fsync per group.
 *
 * SECURITY: see commit.h. Failure anywhere leaves the request with err set
 * and the destination name removed, so no message is acknowledged unless
 * every step succeeded.
 */
#include "queue/commit.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define COMMIT_MAX_THREADS 16

struct committer {
	struct event_base *base;
	int dirfd;
	int wake[2]; /* worker -> loop */
	struct event *ev_wake;
	commit_done_fn done;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;	 /* pending work or stop */
	pthread_cond_t sync_cv;	 /* sync threads: a group to fsync */
	pthread_cond_t group_cv; /* leader: group fsynced */
	struct commit_req *pending, **pending_tail;
	struct commit_req *finished;
	bool stop;
	/* the group being fsynced by the sync threads */
	struct commit_req **group;
	size_t ngroup, next_in_group, synced;
	unsigned long generation;
	pthread_t leader;
	pthread_t syncers[COMMIT_MAX_THREADS];
	int nsyncers;
};

/* sync_one - take the next file of the group, prepare and fsync it; false
 * if none. */
static bool
sync_one(struct committer *c)
{
	struct commit_req *r;

	if (c->next_in_group >= c->ngroup)
		return false;
	r = c->group[c->next_in_group++];
	pthread_mutex_unlock(&c->mu);
	if (r->prepare != NULL)
		r->err = r->prepare(r);
	if (r->err == 0 && fdatasync(r->fd) == -1)
		r->err = errno;
	pthread_mutex_lock(&c->mu);
	if (++c->synced == c->ngroup)
		pthread_cond_signal(&c->group_cv);
	return true;
}

static void *
syncer_main(void *arg)
{
	struct committer *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->stop && c->next_in_group >= c->ngroup)
			pthread_cond_wait(&c->sync_cv, &c->mu);
		if (c->stop && c->next_in_group >= c->ngroup)
			break;
		while (sync_one(c))
			;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* sync_group - fsync every file of the batch, spread over the threads. */
static void
sync_group(struct committer *c, struct commit_req *batch)
{
	struct commit_req *r;
	size_t n = 0;

	for (r = batch; r != NULL; r = r->next)
		n++;
	c->group = xreallocarray(c->group, n, sizeof(*c->group));
	n = 0;
	for (r = batch; r != NULL; r = r->next)
		c->group[n++] = r;
	c->ngroup = n;
	c->next_in_group = 0;
	c->synced = 0;
	pthread_cond_broadcast(&c->sync_cv);
	while (sync_one(c))
		;
	while (c->synced < c->ngroup)
		pthread_cond_wait(&c->group_cv, &c->mu);
	c->ngroup = 0;
	c->next_in_group = 0;
}

/* finish_group - rename the synced files, fsync the directory once. */
static void
finish_group(struct committer *c, struct commit_req *batch)
{
	struct commit_req *r;
	int dir_err = 0;
	bool any = false;

	for (r = batch; r != NULL; r = r->next) {
		if (r->err == 0 && rename(r->tmp, r->dst) == -1)
			r->err = errno;
		any |= r->err == 0;
	}
	if (any && fsync(c->dirfd) == -1)
		dir_err = errno;
	for (r = batch; r != NULL; r = r->next) {
		if (r->err == 0 && dir_err != 0) {
			r->err = dir_err;
			(void)unlink(r->dst);
		}
	}
}

static void *
leader_main(void *arg)
{
	struct committer *c = arg;
	struct commit_req *batch, *last;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->stop && c->pending == NULL)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->pending == NULL && c->stop)
			break;
		batch = c->pending;
		c->pending = NULL;
		c->pending_tail = &c->pending;
		sync_group(c, batch);
		pthread_mutex_unlock(&c->mu);
		finish_group(c, batch);
		pthread_mutex_lock(&c->mu);
		for (last = batch; last->next != NULL; last = last->next)
			;
		last->next = c->finished;
		c->finished = batch;
		if (write(c->wake[1], "x", 1) == -1 && errno != EAGAIN)
			log_warn("commit: wake");
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct committer *c = arg;
	struct commit_req *done, *next;
	char drain[64];

	(void)what;
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&c->mu);
	done = c->finished;
	c->finished = NULL;
	pthread_mutex_unlock(&c->mu);
	for (; done != NULL; done = next) {
		next = done->next;
		c->done(done, c->arg);
	}
}

struct committer *
committer_new(struct event_base *base, const char *dir, int nthreads, commit_done_fn done,
	      void *arg)
{
	struct committer *c = xcalloc(1, sizeof(*c));
	int i;

	c->base = base;
	c->done = done;
	c->arg = arg;
	c->pending_tail = &c->pending;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd == -1)
		log_fatal("commit: open %s", dir);
	if (pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) == -1)
		log_fatal("commit: pipe");
	c->ev_wake = event_new(base, c->wake[0], EV_READ | EV_PERSIST, on_wake, c);
	event_add(c->ev_wake, NULL);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->sync_cv, NULL);
	pthread_cond_init(&c->group_cv, NULL);
	if (pthread_create(&c->leader, NULL, leader_main, c) != 0)
		log_fatalx("commit: pthread_create");
	c->nsyncers = nthreads < 0 ? 0 : nthreads > COMMIT_MAX_THREADS ? COMMIT_MAX_THREADS
									 : nthreads;
	for (i = 0; i < c->nsyncers; i++)
		if (pthread_create(&c->syncers[i], NULL, syncer_main, c) != 0)
			log_fatalx("commit: pthread_create");
	return c;
}

void
committer_submit(struct committer *c, struct commit_req *req)
{
	req->next = NULL;
	req->err = 0;
	pthread_mutex_lock(&c->mu);
	*c->pending_tail = req;
	c->pending_tail = &req->next;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void
committer_free(struct committer *c)
{
	int i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->cv);
	pthread_cond_broadcast(&c->sync_cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->leader, NULL);
	for (i = 0; i < c->nsyncers; i++)
		pthread_join(c->syncers[i], NULL);
	on_wake(c->wake[0], EV_READ, c);
	event_free(c->ev_wake);
	close(c->wake[0]);
	close(c->wake[1]);
	close(c->dirfd);
	free(c->group);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	pthread_cond_destroy(&c->sync_cv);
	pthread_cond_destroy(&c->group_cv);
	free(c);
}
