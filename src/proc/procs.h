/* SPDX-License-Identifier: ISC */
/*
 * procs - entry points of postern's processes and what they are handed.
 *
 * SECURITY: parent keeps root (to bind ports on reload) and parses only the
 * config; smtp is chrooted and unprivileged and the only process reading
 * the network; queue is unprivileged, owns the spool and the control
 * socket and runs the outbound client; auth is unprivileged, holds the
 * account store, hashes, TOTP secrets and the audit log, and never reads
 * the network.
 */
#ifndef POSTERN_PROCS_H
#define POSTERN_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/conf.h"
#include "proc/privsep.h"

struct proc_fds {
	pid_t ppid;	/* the parent, to notice its death */
	int parent;	/* socketpair end to the parent */
	int peer;	/* smtp and queue: socketpair end to each other; auth: to smtp */
	int auth;	/* smtp: socketpair end to the auth process */
	int *listeners; /* smtp: one per cf->listeners, in order */
	int control;	/* queue: the listening control socket */
	int metrics;	/* smtp: the listening metrics socket, or -1 */
	int api;	/* smtp: the listening admin API socket, or -1 */
	/* auth and queue: the key sealing admin API tokens (made by the
	 * parent at each start; the smtp process never has it) */
	uint8_t api_key[32];
};

struct tls_certs;

/* smtp_proc_main - never returns. certs: the server certificates (wiped
 * once the TLS contexts are built). */
void smtp_proc_main(struct conf *cf, struct proc_fds *fds, const struct privsep_user *pu,
		    struct tls_certs *certs) __attribute__((noreturn));
/* queue_proc_main - never returns. */
void queue_proc_main(struct conf *cf, struct proc_fds *fds, const struct privsep_user *pu)
	__attribute__((noreturn));
/* auth_proc_main - never returns. */
void auth_proc_main(struct conf *cf, struct proc_fds *fds, const struct privsep_user *pu)
	__attribute__((noreturn));
/* parent_main - serve with the config at path; returns the exit status. */
int parent_main(const char *path, bool foreground_debug);

/* proc_watch_parent - die with the parent (called after dropping
 * privileges, which clears the setting). */
void proc_watch_parent(pid_t ppid);

/* control_path - state_dir/control.sock */
void control_path(const struct conf *cf, char *out, size_t outsz);

#endif
