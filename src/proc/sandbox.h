/* SPDX-License-Identifier: ISC */
/*
 * sandbox - the seccomp filter of the smtp process: once it holds what it
 * needs (listeners, IPC sockets, TLS contexts, the resolver), it may only
 * work on those descriptors, talk to the network and manage its memory.
 *
 * SECURITY: the smtp process is the one that parses network input; the
 * filter is what still holds if that parsing is subverted. Opening or
 * executing files (and every other call that takes a path) fails with
 * EACCES, starting processes with EPERM, and any call outside the
 * allow-list kills the process (the parent then stops the gateway, as for
 * any crash). No new privileges can be gained afterwards (no_new_privs).
 * When postern runs unprivileged (the systemd unit) there is no chroot,
 * and this filter is the confinement.
 *
 * STANDARDS: Linux seccomp(2) through libseccomp.
 */
#ifndef POSTERN_SANDBOX_H
#define POSTERN_SANDBOX_H

/* The test hook: with this set in its environment ("1"), the smtp process
 * tries what the sandbox refuses and logs the outcome (sandbox_selftest);
 * "kill" first makes a call the sandbox does not allow at all. */
#define SANDBOX_SELFTEST_ENV "POSTERN_SANDBOX_SELFTEST"

/* sandbox_smtp - load the filter into the calling (single-threaded)
 * process, for good. Aborts when it cannot: a process meant to be confined
 * never runs unconfined. */
void sandbox_smtp(void);

/* sandbox_selftest_forbidden - make a call outside the allow-list (a
 * netlink socket): under the filter the process is killed right there
 * (POSTERN_SANDBOX_SELFTEST=kill). Without it, logs "kill=survived". */
void sandbox_selftest_forbidden(void);

/* sandbox_selftest - try to open path for reading, to start a process and
 * to execute /bin/true, and log one line with each outcome:
 * "smtp sandbox selftest open=EACCES exec=EACCES fork=EPERM file=PATH"
 * under the filter, "open=ok exec=ok fork=ok" without it (exec and fork
 * are tried in a child then, so the process carries on). */
void sandbox_selftest(const char *path);

#endif
