/* SPDX-License-Identifier: ISC */
/*
 * filepool - empty spool files made ready ahead of need by a background
 * thread, and finished queue files recycled into it instead of unlinked.
 *
 * Creating a file is the most expensive step of receiving a message on
 * many filesystems (inode and directory updates under the journal lock);
 * doing it off the event loop, and mostly not at all in steady state, keeps
 * the queue process answering while files are prepared in parallel.
 *
 * SECURITY: files are created O_EXCL|O_NOFOLLOW, mode 0600, in the spool's
 * incoming directory, which only the queue user can enter. A recycled file
 * is truncated to zero before it is handed out again, so no old content
 * survives into a new message.
 */
#ifndef POSTERN_FILEPOOL_H
#define POSTERN_FILEPOOL_H

#include <limits.h>
#include <stddef.h>

struct filepool;

/* filepool_new - create files while fewer than target are ready in dir;
 * keep up to 8 * target recycled ones, so steady traffic creates none. */
struct filepool *filepool_new(const char *dir, size_t target);
/* filepool_take - an empty file opened O_RDWR, its path in path; -1 if none
 * is ready (the caller then creates one itself). Never blocks on I/O. */
int filepool_take(struct filepool *p, char path[PATH_MAX]);
/* filepool_recycle - path is finished with: move it into the pool (or
 * unlink it when the pool is full). Asynchronous. */
void filepool_recycle(struct filepool *p, const char *path);
/* filepool_free - stop the thread; pooled files are unlinked. */
void filepool_free(struct filepool *p);

#endif
