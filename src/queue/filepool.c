/* SPDX-License-Identifier: ISC */
/*
 * filepool - a background thread that prepares and recycles spool files.
 *
 * SECURITY: see filepool.h. The thread touches only paths under the
 * pool directory and paths handed to filepool_recycle().
 */
#include "queue/filepool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct pooled {
	struct pooled *next;
	int fd;
	char path[PATH_MAX];
};

struct filepool {
	char dir[PATH_MAX];
	size_t target; /* create new files while fewer than this are ready */
	size_t keep;   /* recycled files are kept up to this many */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pooled *ready; /* stack of empty files */
	size_t nready;
	struct pooled *recycle; /* files to bring back */
	size_t nrecycle;
	unsigned long long serial;
	bool stop;
};

/* next_name - a fresh pool file name (under the lock). */
static void
next_name(struct filepool *p, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/pool.%d.%llu", p->dir, (int)getpid(), p->serial++);
}

static struct pooled *
make_new(struct filepool *p)
{
	struct pooled *f = xcalloc(1, sizeof(*f));

	pthread_mutex_lock(&p->mu);
	next_name(p, f->path, sizeof(f->path));
	pthread_mutex_unlock(&p->mu);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f->fd == -1) {
		log_warn("filepool: create %s", f->path);
		free(f);
		return NULL;
	}
	return f;
}

/* bring_back - rename a finished file into the pool and empty it. */
static struct pooled *
bring_back(struct filepool *p, struct pooled *f)
{
	char to[PATH_MAX];

	pthread_mutex_lock(&p->mu);
	next_name(p, to, sizeof(to));
	pthread_mutex_unlock(&p->mu);
	if (rename(f->path, to) == -1) {
		if (errno != ENOENT)
			log_warn("filepool: rename %s", f->path);
		free(f);
		return NULL;
	}
	str_copy(f->path, to, sizeof(f->path));
	f->fd = open(f->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	/* Truncated to one byte, not zero: ext4 flushes a file truncated to
	 * zero when it is next closed (auto_da_alloc), and that close would
	 * be the smtp process's. The header write covers the byte. */
	if (f->fd == -1 || ftruncate(f->fd, 1) == -1) {
		log_warn("filepool: reuse %s", f->path);
		if (f->fd != -1)
			close(f->fd);
		(void)unlink(f->path);
		free(f);
		return NULL;
	}
	return f;
}

static void *
pool_main(void *arg)
{
	struct filepool *p = arg;
	struct pooled *f, *r;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->recycle == NULL && p->nready >= p->target)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		r = p->recycle;
		if (r != NULL) {
			p->recycle = r->next;
			p->nrecycle--;
		}
		pthread_mutex_unlock(&p->mu);
		if (r != NULL && p->nready >= p->keep) {
			if (unlink(r->path) == -1 && errno != ENOENT)
				log_warn("filepool: unlink %s", r->path);
			free(r);
			f = NULL;
		} else {
			f = r != NULL ? bring_back(p, r) : make_new(p);
		}
		pthread_mutex_lock(&p->mu);
		if (f != NULL) {
			f->next = p->ready;
			p->ready = f;
			p->nready++;
		} else if (r == NULL) {
			/* Creation failed (disk full?): do not spin; wait for a wakeup. */
			pthread_cond_wait(&p->cv, &p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct filepool *
filepool_new(const char *dir, size_t target)
{
	struct filepool *p = xcalloc(1, sizeof(*p));

	str_copy(p->dir, dir, sizeof(p->dir));
	p->target = target;
	p->keep = target * 8;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, pool_main, p) != 0)
		log_fatalx("filepool: pthread_create");
	return p;
}

int
filepool_take(struct filepool *p, char path[PATH_MAX])
{
	struct pooled *f;
	int fd;

	pthread_mutex_lock(&p->mu);
	f = p->ready;
	if (f != NULL) {
		p->ready = f->next;
		p->nready--;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (f == NULL)
		return -1;
	fd = f->fd;
	str_copy(path, f->path, PATH_MAX);
	free(f);
	return fd;
}

void
filepool_recycle(struct filepool *p, const char *path)
{
	struct pooled *f = xcalloc(1, sizeof(*f));

	f->fd = -1;
	str_copy(f->path, path, sizeof(f->path));
	pthread_mutex_lock(&p->mu);
	f->next = p->recycle;
	p->recycle = f;
	p->nrecycle++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
filepool_free(struct filepool *p)
{
	struct pooled *f, *next;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	for (f = p->ready; f != NULL; f = next) {
		next = f->next;
		close(f->fd);
		(void)unlink(f->path);
		free(f);
	}
	for (f = p->recycle; f != NULL; f = next) {
		next = f->next;
		(void)unlink(f->path);
		free(f);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
