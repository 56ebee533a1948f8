/* SPDX-License-Identifier: ISC */
/*
 * test_httpd - the metrics endpoint (src/lib/httpd.c) over a real loopback
 * socket: a client thread speaks plain HTTP to an httpd served on the test's
 * own event loop and the answers are checked afterwards: status, content
 * type, Allow, body (the render callback's text, byte for byte), the 404
 * and 405 cases, oversized requests, the connection cap (a client past
 * HTTPD_MAX_CONNS waits until one of the others leaves), the idle timeout,
 * and that every way a connection ends gives its slot back.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/httpd.h"
#include "lib/metrics.h"
#include "lib/net.h"

/* One request the client thread sends and what came back. */
struct exchange {
	const char *what;
	const char *request; /* NULL: built at run time (oversized headers) */
	int status;	     /* expected; 0: anything but 200 */
	const char *ctype;   /* expected Content-Type, or NULL: not checked */
	const char *allow;   /* expected Allow, or NULL: none */
	int body;	     /* 1: the metrics text, 0: not checked, -1: empty */
	struct buf got;
};

static struct exchange cases[] = {
	{"GET", "GET /metrics HTTP/1.0\r\n\r\n", 200, HTTPD_CONTENT_TYPE, NULL, 1, BUF_INIT},
	{"GET 1.1", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200,
	 HTTPD_CONTENT_TYPE, NULL, 1, BUF_INIT},
	{"GET with a query", "GET /metrics?name=x HTTP/1.0\r\n\r\n", 200, HTTPD_CONTENT_TYPE,
	 NULL, 1, BUF_INIT},
	{"HEAD", "HEAD /metrics HTTP/1.0\r\n\r\n", 200, HTTPD_CONTENT_TYPE, NULL, -1, BUF_INIT},
	{"POST", "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", 405, NULL,
	 "GET, HEAD", 0, BUF_INIT},
	{"PUT", "PUT /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 405, NULL, "GET, HEAD", 0,
	 BUF_INIT},
	{"DELETE", "DELETE /metrics HTTP/1.0\r\n\r\n", 405, NULL, "GET, HEAD", 0, BUF_INIT},
	{"OPTIONS", "OPTIONS /metrics HTTP/1.0\r\n\r\n", 405, NULL, "GET, HEAD", 0, BUF_INIT},
	{"other path", "GET /other HTTP/1.0\r\n\r\n", 404, NULL, NULL, 0, BUF_INIT},
	{"path prefix", "GET /metricsx HTTP/1.0\r\n\r\n", 404, NULL, NULL, 0, BUF_INIT},
	{"sub path", "GET /metrics/x HTTP/1.0\r\n\r\n", 404, NULL, NULL, 0, BUF_INIT},
	{"root", "GET / HTTP/1.0\r\n\r\n", 404, NULL, NULL, 0, BUF_INIT},
	{"POST elsewhere", "POST /other HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 404, NULL, NULL,
	 0, BUF_INIT},
	{"body too large", "POST /metrics HTTP/1.0\r\nContent-Length: 5000\r\n\r\n", 0, NULL,
	 NULL, 0, BUF_INIT},
	{"headers too large", NULL, 0, NULL, NULL, 0, BUF_INIT},
};

struct client {
	uint16_t port;
	int done_fd; /* written when the client is done */
	struct buf cap_before; /* the capped client's answer while the others stay */
	struct buf cap_after;  /* ... and after one left */
	long idle_ms;	       /* until the server closed an idle connection, or -1 */
	struct buf last;       /* a request with all slots but one taken, at the end */
};

/* The idle timeout of the test's httpd, seconds. */
#define TEST_TIMEOUT 2

static int
connect_to(uint16_t port)
{
	struct sockaddr_in sin;
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* read_until_eof - the whole answer (the server closes after HTTP/1.0),
 * or what came within wait_ms when wait_ms >= 0. */
static void
read_answer(int fd, struct buf *out, int wait_ms)
{
	char b[4096];
	ssize_t n;

	for (;;) {
		if (wait_ms >= 0) {
			struct pollfd p = {fd, POLLIN, 0};

			if (poll(&p, 1, wait_ms) <= 0)
				return;
		}
		n = read(fd, b, sizeof(b));
		if (n <= 0)
			return;
		buf_add(out, b, (size_t)n);
	}
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return; /* the server may close early: it answered already */
		p += w;
		n -= (size_t)w;
	}
}

static void
run_case(struct client *c, struct exchange *e)
{
	struct buf req = BUF_INIT;
	int fd = connect_to(c->port);

	if (fd == -1) {
		buf_adds(&e->got, "(connect failed)");
		return;
	}
	if (e->request != NULL) {
		buf_adds(&req, e->request);
	} else {
		buf_adds(&req, "GET /metrics HTTP/1.0\r\nX-Big: ");
		while (req.len < 2 * HTTPD_MAX_HEADERS)
			buf_adds(&req, "aaaaaaaaaaaaaaaa");
		buf_adds(&req, "\r\n\r\n");
	}
	send_all(fd, req.data, req.len);
	read_answer(fd, &e->got, -1);
	close(fd);
	buf_free(&req);
}

/* run_cap - HTTPD_MAX_CONNS idle connections, then one more with a request:
 * no answer while they stay, an answer once one leaves. */
static void
run_cap(struct client *c)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	int idle[HTTPD_MAX_CONNS], fd, i;

	for (i = 0; i < HTTPD_MAX_CONNS; i++)
		idle[i] = connect_to(c->port);
	fd = connect_to(c->port);
	if (fd == -1)
		goto done;
	send_all(fd, req, sizeof(req) - 1);
	read_answer(fd, &c->cap_before, 500);
	close(idle[0]);
	idle[0] = -1;
	read_answer(fd, &c->cap_after, 5000);
	close(fd);
done:
	for (i = 0; i < HTTPD_MAX_CONNS; i++)
		if (idle[i] != -1)
			close(idle[i]);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* run_idle - a connection that sends nothing is closed after the timeout. */
static void
run_idle(struct client *c)
{
	struct timespec t0;
	struct pollfd p;
	char b[64];
	int fd = connect_to(c->port);

	c->idle_ms = -1;
	if (fd == -1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, (TEST_TIMEOUT + 3) * 1000) == 1 && read(fd, b, sizeof(b)) <= 0)
		c->idle_ms = ms_since(&t0);
	close(fd);
}

/* run_last - all slots but one taken: served only if every connection
 * before gave its slot back. */
static void
run_last(struct client *c)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	int idle[HTTPD_MAX_CONNS - 1], fd, i;

	for (i = 0; i < HTTPD_MAX_CONNS - 1; i++)
		idle[i] = connect_to(c->port);
	fd = connect_to(c->port);
	if (fd != -1) {
		send_all(fd, req, sizeof(req) - 1);
		read_answer(fd, &c->last, 1500);
		close(fd);
	}
	for (i = 0; i < HTTPD_MAX_CONNS - 1; i++)
		if (idle[i] != -1)
			close(idle[i]);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	size_t i;
	char one = 1;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(c, &cases[i]);
	run_cap(c);
	run_idle(c);
	run_last(c);
	if (write(c->done_fd, &one, 1) != 1)
		abort();
	return NULL;
}

struct render_ctx {
	struct metrics *m;
	unsigned calls;
};

static void
render(void *arg, struct buf *out)
{
	struct render_ctx *r = arg;

	r->calls++;
	metrics_render(r->m, out);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static bool timed_out;

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	timed_out = true;
	event_base_loopexit(arg, NULL);
}

/* header - the value of header name in the answer, or "" */
static void
header(const char *answer, const char *name, char *out, size_t outsz)
{
	char key[64];
	const char *p, *end;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	out[0] = '\0';
	p = strstr(answer, key);
	end = strstr(answer, "\r\n\r\n");
	if (p == NULL || (end != NULL && p > end))
		return;
	p += strlen(key);
	end = strstr(p, "\r\n");
	snprintf(out, outsz, "%.*s", end ? (int)(end - p) : 0, p);
}

static int
status_of(const char *answer)
{
	int code = 0;

	if (sscanf(answer, "HTTP/1.%*d %d ", &code) != 1)
		return 0;
	return code;
}

static void
check_case(const struct exchange *e, const char *text)
{
	const char *a = buf_cstr(&e->got), *body = strstr(a, "\r\n\r\n");
	int code = status_of(a);
	char v[256];

	if (e->status != 0 && code != e->status)
		fail_msg("%s: status %d, want %d:\n%s", e->what, code, e->status, a);
	if (e->status == 0 && code == 200)
		fail_msg("%s: served:\n%s", e->what, a);
	if (e->ctype != NULL) {
		header(a, "Content-Type", v, sizeof(v));
		if (strcmp(v, e->ctype) != 0)
			fail_msg("%s: Content-Type \"%s\"", e->what, v);
	}
	header(a, "Allow", v, sizeof(v));
	if (strcmp(v, e->allow ? e->allow : "") != 0)
		fail_msg("%s: Allow \"%s\"", e->what, v);
	if (e->body == 1 && (body == NULL || strcmp(body + 4, text) != 0))
		fail_msg("%s: body differs:\n%s", e->what, a);
	if (e->body == -1 && (body == NULL || body[4] != '\0'))
		fail_msg("%s: a body:\n%s", e->what, a);
	if (e->body != 0) { /* GET and HEAD: the length of the text */
		char want[32];

		header(a, "Content-Length", v, sizeof(v));
		snprintf(want, sizeof(want), "%zu", strlen(text));
		if (strcmp(v, want) != 0)
			fail_msg("%s: Content-Length \"%s\", want %s", e->what, v, want);
	}
	if (e->status == 404 || e->status == 405) {
		header(a, "Content-Type", v, sizeof(v));
		if (strcmp(v, "text/plain; charset=utf-8") != 0)
			fail_msg("%s: error Content-Type \"%s\"", e->what, v);
	}
}

static void
test_httpd(void **state)
{
	struct render_ctx rc = {metrics_new(), 0};
	struct client c = {0, -1, BUF_INIT, BUF_INIT, -1, BUF_INIT};
	struct sockaddr_storage ss;
	struct buf text = BUF_INIT;
	struct event *ev_done, *ev_deadline;
	struct event_base *base;
	struct httpd *h;
	socklen_t len = sizeof(ss);
	pthread_t tid;
	int fd, pfd[2];
	size_t i;

	(void)state;
	metrics_describe(rc.m, "postern_sessions", METRIC_GAUGE, "SMTP sessions open now.");
	metrics_set(rc.m, "postern_sessions", NULL, 3);
	metrics_render(rc.m, &text);

	assert_int_equal(net_parse_ip("127.0.0.1", &ss, &len), 0);
	fd = net_listen((struct sockaddr *)&ss, len, HTTPD_BACKLOG);
	assert_true(fd != -1);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	c.port = net_port((struct sockaddr *)&ss);
	assert_int_equal(pipe(pfd), 0);
	c.done_fd = pfd[1];

	base = event_base_new();
	assert_non_null(base);
	h = httpd_new(base, fd, render, &rc);
	assert_non_null(h);
	httpd_set_timeout(h, TEST_TIMEOUT);
	ev_done = event_new(base, pfd[0], EV_READ, on_done, base);
	ev_deadline = evtimer_new(base, on_deadline, base);
	event_add(ev_done, NULL);
	event_add(ev_deadline, &(struct timeval){30, 0});
	assert_int_equal(pthread_create(&tid, NULL, client_main, &c), 0);
	event_base_dispatch(base);
	assert_int_equal(pthread_join(tid, NULL), 0);
	if (timed_out)
		fail_msg("the client did not finish in time");

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i], buf_cstr(&text));
	if (c.cap_before.len != 0)
		fail_msg("a client past the cap was served:\n%s", buf_cstr(&c.cap_before));
	if (status_of(buf_cstr(&c.cap_after)) != 200)
		fail_msg("the waiting client was not served:\n%s", buf_cstr(&c.cap_after));
	if (c.idle_ms < (TEST_TIMEOUT - 1) * 1000 || c.idle_ms > (TEST_TIMEOUT + 2) * 1000)
		fail_msg("an idle connection closed after %ld ms", c.idle_ms);
	if (status_of(buf_cstr(&c.last)) != 200)
		fail_msg("a slot was not given back:\n%s", buf_cstr(&c.last));
	/* GET x3, HEAD, the capped client, the last one */
	assert_int_equal(rc.calls, 6);

	httpd_free(h);
	httpd_free(NULL);
	event_free(ev_done);
	event_free(ev_deadline);
	event_base_free(base);
	close(pfd[0]);
	close(pfd[1]);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		buf_free(&cases[i].got);
	buf_free(&c.cap_before);
	buf_free(&c.cap_after);
	buf_free(&c.last);
	buf_free(&text);
	metrics_free(rc.m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_httpd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
