/* SPDX-License-Identifier: ISC */
/*
 * privsep - user lookup, chroot and privilege drop.
 *
 * SECURITY: a failure to drop is fatal; after dropping we verify that
 * setuid(0) fails. Started unprivileged but with capabilities (the systemd
 * unit's CAP_NET_BIND_SERVICE, which only the parent needs, to bind on
 * reload), the children give up every capability instead.
 */
#include "proc/privsep.h"
#include "proc/procs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/* drop_caps - no capability left: none effective, permitted, inheritable
 * or ambient (capset(2) through syscall(2): glibc has no wrapper, and
 * libcap is not worth a dependency for one call). */
static void
drop_caps(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 && errno != EINVAL)
		log_fatal("cannot clear the ambient capabilities");
	if (syscall(SYS_capset, &h, d) == -1)
		log_fatal("cannot drop capabilities");
}

void
privsep_drop(const struct privsep_user *pu, const char *chroot_dir)
{
	if (!pu->drop) {
		drop_caps();
		(void)prctl(PR_SET_DUMPABLE, 0);
		return;
	}
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
