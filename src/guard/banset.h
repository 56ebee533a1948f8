/* SPDX-License-Identifier: ISC */
/*
 * banset - the networks that are banned, each until a time, and the test
 * at accept time: is this client inside one of them?
 *
 * A lookup costs one hash probe per prefix length in use (a set of single
 * addresses costs one probe), whatever the number of bans.
 *
 * SECURITY: runs in the smtp process at every accept; lookups never
 * allocate. Keys are canonical network strings, so "10.0.0.0/8" put twice
 * is one ban.
 */
#ifndef POSTERN_BANSET_H
#define POSTERN_BANSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/net.h"

struct banset;

struct banset *banset_new(void);
void banset_free(struct banset *b);
/* banset_put - ban net until (seconds since the epoch); replaces. */
void banset_put(struct banset *b, const struct cidr *net, uint64_t until);
/* banset_del - lift the ban on exactly net; false if there was none. */
bool banset_del(struct banset *b, const struct cidr *net);
/* banset_match - the end of the ban covering sa at now, or 0 if none.
 * Bans found expired on the way are dropped. */
uint64_t banset_match(struct banset *b, const struct sockaddr *sa, uint64_t now);
size_t banset_count(const struct banset *b);
/* banset_each - every ban (expired ones too, until a match drops them). */
void banset_each(const struct banset *b, void (*fn)(const char *net, uint64_t until, void *arg),
		 void *arg);

#endif
