/* SPDX-License-Identifier: ISC */
/*
 * policy - the password policy applied on every set and change: length
 * bounds, strength measured by zxcvbn with the user's own words as context,
 * an operator list of breached or banned passwords, and no reuse of recent
 * passwords (checked by the caller against the history hashes). No
 * composition rules (NIST SP 800-63B 5.1.1.2).
 *
 * SECURITY: handles the new password in clear, in the process that sets
 * it; never logs it; the banned list is matched by SHA-1 (as published
 * breach corpora are) or by the lower-cased word.
 * STANDARDS: NIST SP 800-63B 5.1.1.2.
 */
#ifndef POSTERN_POLICY_H
#define POSTERN_POLICY_H

#include <stddef.h>

#include "conf/conf.h"

struct banned;

/* banned_load - the operator's list: one entry per line, either 40 hex
 * digits (SHA-1 of the password, any case) or a word (compared without
 * case). NULL with err set on failure. Lookups are O(log n). */
struct banned *banned_load(const char *path, char *err, size_t errsz);
void banned_free(struct banned *b);
size_t banned_count(const struct banned *b);

/* policy_check - 0 if pw may be used by account name; otherwise -1 with a
 * sentence for the user in why (what is wrong and what to do). b may be
 * NULL (no list). Does not check the history. */
int policy_check(const struct conf_auth *ca, const struct banned *b, const char *name,
		 const char *pw, size_t pwlen, char *why, size_t whysz);

#endif
