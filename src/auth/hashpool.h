/* SPDX-License-Identifier: ISC */
/*
 * hashpool - a bounded pool of threads for password hashing, so Argon2
 * never runs on the event loop and a flood of AUTH attempts cannot exhaust
 * memory: at most `threads` hashes at once (each takes argon2_memory), at
 * most `queue` waiting; beyond that a submission is refused and the caller
 * answers 454 4.7.0. A second lane, as long again, is served first:
 * for logins the caller has reason to expect (an account from an address
 * it logged in from before), so a flood of guesses that fills the normal
 * lane does not keep the real user out.
 *
 * SECURITY: jobs carry a password copy that the pool wipes when the job is
 * done; results come back on the event loop thread only.
 */
#ifndef POSTERN_HASHPOOL_H
#define POSTERN_HASHPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct hashpool;

/* A job: fn runs on a pool thread; done runs on the loop afterwards. */
struct hashjob {
	void (*fn)(struct hashjob *j);
	void (*done)(struct hashjob *j);
	struct hashjob *next;
};

struct hashpool *hashpool_new(struct event_base *base, unsigned threads, unsigned queue);
/* hashpool_submit - queue j (in the first lane if urgent); -1 when that
 * lane is full (j untouched). */
int hashpool_submit(struct hashpool *p, struct hashjob *j, bool urgent);
/* hashpool_busy - jobs running or waiting. */
unsigned hashpool_busy(const struct hashpool *p);
/* hashpool_free - wait for running jobs, run their done callbacks. */
void hashpool_free(struct hashpool *p);

#endif
