/* SPDX-License-Identifier: ISC */
/*
 * privsep - dropping privileges in the child processes.
 *
 * SECURITY: when postern starts as root, the smtp and queue processes give
 * up root for the configured unprivileged user (all groups replaced) and
 * the smtp process is also confined to an empty directory with chroot.
 * Started as an ordinary user, postern runs all processes as that user;
 * the children then drop whatever capabilities they were started with
 * (the systemd unit grants CAP_NET_BIND_SERVICE, for the parent).
 */
#ifndef POSTERN_PRIVSEP_H
#define POSTERN_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privsep_user {
	bool drop; /* we are root and must drop */
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* privsep_lookup - the user to run as; -1 with err set if root and the
 * user does not exist. */
int privsep_lookup(const char *user, struct privsep_user *pu, char *err, size_t errsz);
/* privsep_drop - chroot (if dir is not NULL) and drop to pu; aborts on
 * any failure, and checks that root cannot be regained. Not root: drop
 * every capability instead (no chroot). Either way the process is no
 * longer dumpable (no core files, no ptrace by the same user). */
void privsep_drop(const struct privsep_user *pu, const char *chroot_dir);

#endif
