/* SPDX-License-Identifier: ISC */
/*
 * sdnotify - the service manager's notify protocol (see sdnotify.h).
 *
 * Our own few lines rather than libsystemd's sd_notify(): the protocol is
 * a documented, stable interface meant to be spoken without the library,
 * and libsystemd would link the compression and crypto libraries it
 * carries (liblzma, libzstd, liblz4, libgcrypt) into the process that
 * keeps the privileges, for one sendto().
 *
 * SECURITY: parent only; see sdnotify.h.
 * STANDARDS: sd_notify(3).
 */
#include "lib/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
sdnotify_addr_parse(const char *s, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(s);

	memset(sun, 0, sizeof(*sun));
	*len = 0;
	/* A path ends in a NUL inside sun_path; an abstract name is all of
	 * sun_path after its leading NUL, which the '@' stands for. */
	if (n < 2 || (s[0] != '/' && s[0] != '@') || n > sizeof(sun->sun_path) - 1)
		return -1;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, s, n);
	if (s[0] == '@') {
		sun->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int
sdnotify_open(struct sdnotify *n, char *err, size_t errsz)
{
	const char *env = getenv("NOTIFY_SOCKET");
	int rc;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (env == NULL)
		return 0;
	rc = sdnotify_addr_parse(env, &n->addr, &n->addrlen);
	if (rc == -1)
		snprintf(err, errsz, "NOTIFY_SOCKET '%.200s' is not an absolute path or "
				     "an @abstract name", env);
	(void)unsetenv("NOTIFY_SOCKET");
	if (rc == -1)
		return -1;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd == -1) {
		snprintf(err, errsz, "notify socket: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
sdnotify_send(const struct sdnotify *n, const char *fmt, ...)
{
	char msg[SDNOTIFY_MSG_MAX];
	va_list ap;
	int len;

	if (n->fd == -1)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg)) {
		errno = EMSGSIZE;
		return -1;
	}
	/* MSG_DONTWAIT: a manager that does not read must not stall us. */
	if (sendto(n->fd, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *)&n->addr, n->addrlen) != len)
		return -1;
	return 0;
}

void
sdnotify_close(struct sdnotify *n)
{
	if (n->fd != -1)
		close(n->fd);
	n->fd = -1;
}
