/* SPDX-License-Identifier: ISC */
/*
 * privsep - user lookup, chroot and privilege drop.
 *
 * SECURITY: a failure to drop is fatal; after dropping we verify that
 * setuid(0) fails.
 */
#include "proc/privsep.h"
#include "proc/procs.h"

#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

int
privsep_lookup(const char *user, struct privsep_user *pu, char *err, size_t errsz)
{
	struct passwd *pw;

	memset(pu, 0, sizeof(*pu));
	if (geteuid() != 0) {
		pu->uid = geteuid();
		pu->gid = getegid();
		return 0;
	}
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errsz,
			 "user '%s' does not exist; create it with "
			 "'useradd --system --no-create-home --shell /usr/sbin/nologin %s' "
			 "or set 'user' in the config",
			 user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errsz, "user '%s' is root: postern needs an unprivileged user",
			 user);
		return -1;
	}
	pu->drop = true;
	pu->uid = pw->pw_uid;
	pu->gid = pw->pw_gid;
	str_copy(pu->name, user, sizeof(pu->name));
	return 0;
}

void
privsep_drop(const struct privsep_user *pu, const char *chroot_dir)
{
	if (!pu->drop)
		return;
	if (chroot_dir != NULL) {
		if (chroot(chroot_dir) == -1 || chdir("/") == -1)
			log_fatal("chroot %s", chroot_dir);
	}
	if (setgroups(1, &pu->gid) == -1 || setresgid(pu->gid, pu->gid, pu->gid) == -1 ||
	    setresuid(pu->uid, pu->uid, pu->uid) == -1)
		log_fatal("cannot drop privileges to %s", pu->name);
	if (setuid(0) != -1)
		log_fatalx("privilege drop failed: root regained");
	(void)prctl(PR_SET_DUMPABLE, 0);
}

void
proc_watch_parent(pid_t ppid)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		log_warn("prctl PR_SET_PDEATHSIG");
	if (getppid() != ppid)
		exit(1); /* the parent died before we asked */
}
