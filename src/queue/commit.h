/* SPDX-License-Identifier: ISC */
/*
 * commit - group commit of queue files: fsync each file, rename it into the
 * queue directory, fsync the directory once for the whole group, then
 * report back to the event loop.
 *
 * Concurrent sessions' messages that arrive while a group is being synced
 * form the next group, so one directory fsync (and overlapping file
 * fsyncs) serve many messages; each message is still individually durable
 * before its 250. A request may carry work to do on the file before its
 * fsync (DKIM signing), which the sync threads then share.
 *
 * SECURITY: runs in the queue process; worker threads touch only the file
 * descriptors and paths in the requests, never the event loop.
 */
#ifndef POSTERN_COMMIT_H
#define POSTERN_COMMIT_H

#include <limits.h>

struct event_base;
struct committer;

struct commit_req {
	struct commit_req *next;
	int fd;		     /* the open temp file; left open */
	char tmp[PATH_MAX];  /* where it is now */
	char dst[PATH_MAX];  /* where it goes once durable */
	int err;	     /* 0, or the errno of the step that failed */
	void *arg;	     /* the caller's */
	/* prepare - NULL, or called in a committer thread before the fsync to
	 * finish the file (the queue signs the message and writes its
	 * trailer there, off the event loop); returns 0 or an errno, which
	 * fails the commit. It may use only the request and what arg owns. */
	int (*prepare)(struct commit_req *req);
};

typedef void (*commit_done_fn)(struct commit_req *req, void *arg);

/* committer_new - nthreads sync threads for the directory dir. */
struct committer *committer_new(struct event_base *base, const char *dir, int nthreads,
				commit_done_fn done, void *arg);
/* committer_submit - queue req; done() is later called on the loop with
 * req->err set. */
void committer_submit(struct committer *c, struct commit_req *req);
/* committer_free - wait for the groups in progress, then stop. */
void committer_free(struct committer *c);

#endif
