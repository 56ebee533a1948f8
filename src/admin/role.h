/* SPDX-License-Identifier: ISC */
/*
 * role - what each admin role may do, and which role a local caller has.
 *
 * Three roles, each including the one below it:
 *   auditor   read-only: the audit log, the self-audit, the effective config;
 *   operator  the queue, bans, DMARC reports, looking up accounts, locking,
 *             unlocking and resetting them (`user passwd NAME --reset`);
 *             no config, key or account-policy changes;
 *   admin     everything.
 * The verb table below is the single place that decides; the control
 * socket and the admin API both ask it before they run anything.
 *
 * SECURITY: admin_verb_role() sees the request words of an untrusted local
 * caller or API client: it is pure, reads only the words, and answers
 * ROLE_NONE ("never through the daemon") for anything it does not know.
 */
#ifndef POSTERN_ADMIN_ROLE_H
#define POSTERN_ADMIN_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/conf.h"

/* Most supplementary groups of a caller that are looked at. */
#define ADMIN_GROUPS_MAX 64

/* admin_verb_role - the least role that may run the command argv[0..argc)
 * (words and options as typed, without -c); ROLE_NONE when the command is
 * unknown or never runs through the daemon (serve, restore, audit tail -f,
 * help, version). */
enum admin_role admin_verb_role(int argc, char *const *argv);

/* admin_local_role - the role of a local caller: root and the daemon's own
 * user (who can read state_dir anyway) are admin; otherwise the highest
 * role of admin { } whose user matches uid (by name or number) or whose
 * @group is among gids. why gets "uid 0", "user alice", "group mailops" or
 * "unmapped". Looks names up in the passwd and group databases. */
enum admin_role admin_local_role(const struct conf_admin *a, uid_t uid, uid_t daemon_uid,
				 const gid_t *gids, size_t ngids, char *why, size_t whysz);

/* admin_api_role - the role of an account of the account store in the
 * admin API (api_account lines), ROLE_NONE when it has none. */
enum admin_role admin_api_role(const struct conf_admin *a, const char *account);

#endif
