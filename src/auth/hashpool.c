/* SPDX-License-Identifier: ISC */
/*
 * hashpool - bounded worker threads for password hashing.
 *
 * SECURITY: see hashpool.h.
 */
#include "auth/hashpool.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct hashpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct hashjob *pending, **pending_tail; /* the normal lane */
	struct hashjob *urgent, **urgent_tail;	 /* served first */
	unsigned uwaiting;
	struct hashjob *finished;
	unsigned nthreads, queue_max, waiting, running;
	bool stop;
	pthread_t *threads;
	int wake[2];
	struct event *ev;
};

static void *
worker(void *arg)
{
	struct hashpool *p = arg;
	struct hashjob *j;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->pending == NULL && p->urgent == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->urgent != NULL) {
			j = p->urgent;
			p->urgent = j->next;
			if (p->urgent == NULL)
				p->urgent_tail = &p->urgent;
			p->uwaiting--;
		} else if (p->pending != NULL) {
			j = p->pending;
			p->pending = j->next;
			if (p->pending == NULL)
				p->pending_tail = &p->pending;
			p->waiting--;
		} else {
			break;
		}
		p->running++;
		pthread_mutex_unlock(&p->mu);
		j->fn(j);
		pthread_mutex_lock(&p->mu);
		p->running--;
		j->next = p->finished;
		p->finished = j;
		if (write(p->wake[1], "x", 1) == -1 && errno != EAGAIN)
			log_warn("hashpool: wake");
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct hashpool *p = arg;
	struct hashjob *done, *next;
	char drain[64];

	(void)what;
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->mu);
	done = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->mu);
	for (; done != NULL; done = next) {
		next = done->next;
		done->done(done);
	}
}

struct hashpool *
hashpool_new(struct event_base *base, unsigned threads, unsigned queue)
{
	struct hashpool *p = xcalloc(1, sizeof(*p));
	unsigned i;

	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	p->nthreads = threads;
	p->queue_max = queue;
	p->pending_tail = &p->pending;
	p->urgent_tail = &p->urgent;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) == -1)
		log_fatal("hashpool: pipe");
	p->ev = event_new(base, p->wake[0], EV_READ | EV_PERSIST, on_wake, p);
	event_add(p->ev, NULL);
	p->threads = xcalloc(threads, sizeof(*p->threads));
	for (i = 0; i < threads; i++)
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			log_fatalx("hashpool: pthread_create");
	return p;
}

int
hashpool_submit(struct hashpool *p, struct hashjob *j, bool urgent)
{
	unsigned idle;

	pthread_mutex_lock(&p->mu);
	idle = p->running < p->nthreads ? p->nthreads - p->running : 0;
	if ((urgent ? p->uwaiting : p->waiting) >= p->queue_max + idle) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	j->next = NULL;
	if (urgent) {
		*p->urgent_tail = j;
		p->urgent_tail = &j->next;
		p->uwaiting++;
	} else {
		*p->pending_tail = j;
		p->pending_tail = &j->next;
		p->waiting++;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

unsigned
hashpool_busy(const struct hashpool *p)
{
	return p->waiting + p->uwaiting + p->running;
}

void
hashpool_free(struct hashpool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	on_wake(p->wake[0], EV_READ, p);
	event_free(p->ev);
	close(p->wake[0]);
	close(p->wake[1]);
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
