/* SPDX-License-Identifier: ISC */
/*
 * control - control socket server (queue process) and client (CLI).
 *
 * SECURITY: see control.h.
 */
#include "proc/control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/dmarcrep.h"
#include "queue/queue.h"

struct control {
	struct evconnlistener *ev;
	struct queue *q;
};

int
control_split(char *line, char **argv, int maxargs)
{
	int argc = 0;
	char *p = line;

	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return -1;
	p = line;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (argc >= maxargs)
			return -1;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return argc;
}

static void
on_ctl_write(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
on_ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
answer(struct bufferevent *bev, int rc, struct buf *body)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	if (rc == 0)
		evbuffer_add_printf(out, "ok\n%s", buf_cstr(body));
	else
		evbuffer_add_printf(out, "error %s\n", buf_cstr(body));
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, on_ctl_write, on_ctl_event, NULL);
	bufferevent_enable(bev, EV_WRITE);
}

static void
on_ctl_read(struct bufferevent *bev, void *arg)
{
	struct control *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *argv[CONTROL_MAX_ARGS], *line;
	struct buf body = BUF_INIT;
	size_t len;
	int argc, rc;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_MAX_REQUEST) {
			buf_adds(&body, "request too long");
			answer(bev, -1, &body);
			buf_free(&body);
		}
		return;
	}
	argc = len > CONTROL_MAX_REQUEST ? -1 : control_split(line, argv, CONTROL_MAX_ARGS);
	if (argc <= 0) {
		buf_adds(&body, "malformed request");
		rc = -1;
	} else if (strcmp(argv[0], "queue") == 0) {
		rc = queue_ctl(c->q, argv + 1, argc - 1, &body);
	} else if (strcmp(argv[0], "dmarc") == 0) {
		rc = dmarcrep_ctl(c->q->reports, argv + 1, argc - 1, &body);
	} else {
		buf_addf(&body, "unknown command '%s'", argv[0]);
		rc = -1;
	}
	log_info("control request=\"%s\" result=%s", argc > 0 ? argv[0] : "?",
		 rc == 0 ? "ok" : "error");
	free(line);
	answer(bev, rc, &body);
	buf_free(&body);
}

static void
on_ctl_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
	      void *arg)
{
	struct control *c = arg;
	struct bufferevent *bev;
	struct timeval tv = {30, 0};

	(void)ev;
	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(evconnlistener_get_base(c->ev), fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, on_ctl_read, NULL, on_ctl_event, c);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

struct control *
control_new(struct event_base *base, int fd, struct queue *q)
{
	struct control *c = xcalloc(1, sizeof(*c));

	c->q = q;
	c->ev = evconnlistener_new(base, on_ctl_accept, c, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (c->ev == NULL)
		log_fatalx("control: evconnlistener_new failed");
	return c;
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	evconnlistener_free(c->ev);
	free(c);
}

int
control_request(const char *path, int argc, char **argv, struct buf *out)
{
	struct sockaddr_un sun;
	struct buf req = BUF_INIT, resp = BUF_INIT;
	char chunk[4096];
	const char *nl;
	ssize_t n;
	int fd, i, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, path, sizeof(sun.sun_path)) == -1) {
		buf_addf(out, "control socket path too long: %s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		buf_addf(out, "cannot reach the daemon at %s: %s (is 'postern serve' running?)",
			 path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (i = 0; i < argc; i++)
		buf_addf(&req, "%s%s", i ? " " : "", argv[i]);
	buf_adds(&req, "\n");
	if (write_all(fd, req.data, req.len) == -1) {
		buf_addf(out, "write to %s: %s", path, strerror(errno));
		close(fd);
		buf_free(&req);
		return -1;
	}
	buf_free(&req);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&resp, chunk, (size_t)n);
	close(fd);
	nl = memchr(buf_cstr(&resp), '\n', resp.len);
	if (nl == NULL) {
		buf_addf(out, "no answer from the daemon");
		buf_free(&resp);
		return -1;
	}
	if (strncmp(resp.data, "ok\n", 3) == 0) {
		buf_add(out, nl + 1, resp.len - (size_t)(nl + 1 - resp.data));
		rc = 0;
	} else {
		const char *msg = strncmp(resp.data, "error ", 6) == 0 ? resp.data + 6 : resp.data;

		buf_add(out, msg, (size_t)(nl - msg));
		rc = 1;
	}
	buf_free(&resp);
	return rc;
}
