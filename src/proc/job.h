/* SPDX-License-Identifier: ISC */
/*
 * job - run `postern ARGS -c CONFIG` as a child of the queue process and
 * collect what it prints: how admin requests that work on state_dir (user,
 * ban, audit, dkim, check, backup) are carried out for callers who cannot
 * touch state_dir themselves, and how scheduled tasks (backups, the
 * self-audit) run. One implementation of each command, run the same way
 * whoever asks.
 *
 * SECURITY: the child is this very binary (/proc/self/exe), started with
 * posix_spawn (safe in the threaded queue process) with the queue
 * process's user, no inherited descriptors beyond 0-2, a fixed environment
 * (PATH, and POSTERN_ACTOR naming who asked, which the child writes into
 * its audit records) and a time limit after which it is killed by PID.
 * Its output is bounded (ADMIN_OUTPUT_MAX each for stdout and stderr).
 */
#ifndef POSTERN_JOB_H
#define POSTERN_JOB_H

#include <stddef.h>

#include "lib/buf.h"

struct event_base;
struct job;

/* job_done_fn - the child ended: status is its exit status (128 + signal
 * when killed, 124 when it ran out of time, 127 when it could not start);
 * out and err hold its output (truncated ones say so at their end). The
 * buffers belong to the job and are freed after the call. */
typedef void (*job_done_fn)(int status, struct buf *out, struct buf *err, void *arg);

/* job_start - start `postern argv... -c config` with in[0..inlen) on its
 * standard input. actor is put in POSTERN_ACTOR (NULL: none). Returns the
 * job (freed by itself after done is called), or NULL with a message in
 * err when the child could not be started (done is not called then). */
struct job *job_start(struct event_base *base, const char *config, int argc, char *const *argv,
		      const void *in, size_t inlen, const char *actor, unsigned timeout_sec,
		      job_done_fn done, void *arg, char *err, size_t errsz);

/* job_detach - the caller is gone: done is not called any more for j (it
 * still runs to its end and is reaped). */
void job_detach(struct job *j);

#endif
