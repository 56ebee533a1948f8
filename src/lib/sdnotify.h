/* SPDX-License-Identifier: ISC */
/*
 * sdnotify - tell the service manager how the daemon is doing: the
 * "notify" readiness protocol of systemd (READY=1, RELOADING=1,
 * STOPPING=1, STATUS=...), one datagram of newline-separated VAR=value
 * lines to the AF_UNIX socket named by $NOTIFY_SOCKET.
 *
 * SECURITY: used by the parent only. The socket name comes from the
 * environment the service manager set; it is removed from the environment
 * once read, so the children and the programs the parent runs (nft) never
 * see it. Nothing is ever read from the socket, and a send never blocks.
 * sdnotify_addr_parse() is pure.
 *
 * STANDARDS: sd_notify(3) and systemd's "notify" protocol (a path or an
 * '@'-prefixed abstract socket name); no AF_VSOCK.
 */
#ifndef POSTERN_SDNOTIFY_H
#define POSTERN_SDNOTIFY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The longest notification we send: a few short lines. */
#define SDNOTIFY_MSG_MAX 1024

struct sdnotify {
	int fd; /* -1: no service manager is listening; sends do nothing */
	struct sockaddr_un addr;
	socklen_t addrlen;
};

/* sdnotify_addr_parse - the socket address for a $NOTIFY_SOCKET value:
 * an absolute path, or "@name" for the abstract name "name". 0 with *sun
 * and *len set, or -1 (empty, relative, too long, an empty abstract name,
 * or another address family) with *sun zeroed and *len 0. */
int sdnotify_addr_parse(const char *s, struct sockaddr_un *sun, socklen_t *len);

/* sdnotify_open - read and unset $NOTIFY_SOCKET. Without it, 0 and
 * n->fd == -1 (not started by a service manager). -1 with err set when it
 * names no usable socket. */
int sdnotify_open(struct sdnotify *n, char *err, size_t errsz);

/* sdnotify_send - one notification, formatted (lines separated by "\n").
 * 0 when sent or when there is no manager; -1 (errno set) when it could not
 * be sent or did not fit SDNOTIFY_MSG_MAX. */
int sdnotify_send(const struct sdnotify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* sdnotify_close - the socket; n may be unopened (fd -1). */
void sdnotify_close(struct sdnotify *n);

#endif
