/* SPDX-License-Identifier: ISC */
/*
 * httpd - the metrics endpoint on evhttp.
 *
 * evhttp 2.1 parses requests and enforces the header, body and time
 * limits; it has no bound on concurrent connections (that came with
 * evhttp_set_max_connections in 2.2), so we count them: evhttp asks us
 * for each new connection's bufferevent (evhttp_set_bevcb), which counts
 * one, and on the next pass of the loop, before any I/O on it, we find
 * the connection evhttp wrapped around it (the bufferevent's callback
 * argument) and ask to be told when it is freed (closecb), which counts
 * one off. At HTTPD_MAX_CONNS the listener is disabled, and it is enabled
 * again when one closes; meanwhile the kernel's backlog holds new clients.
 *
 * SECURITY: see httpd.h. Nothing from the request is echoed back or
 * logged: evhttp's own 404 page would echo the URI, so every answer here
 * is a fixed text.
 */
#include "lib/httpd.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define HTTPD_PATH "/metrics"

/* A connection between its bufferevent's creation and its adoption. */
struct httpd_new_conn {
	struct httpd_new_conn *next;
	struct httpd *h;
	struct bufferevent *bev; /* we hold a reference until adopted */
	struct event *ev;
};

struct httpd {
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *lev;
	struct httpd_new_conn *pending;
	httpd_render render;
	void *arg;
	struct httpd_opts o;
	unsigned nconns; /* open connections, counted by bevcb and closecb */
	bool paused;	 /* the listener is disabled: HTTPD_MAX_CONNS are open */
	bool freeing;
};

/* slot_release - one connection less. */
static void
slot_release(struct httpd *h)
{
	if (h->nconns == 0)
		log_bug("httpd: connection count underflow");
	h->nconns--;
	if (h->paused && !h->freeing && h->nconns < h->o.max_conns) {
		if (evconnlistener_enable(h->lev) == -1)
			log_warnx("httpd: cannot resume the %s listener", h->o.what);
		h->paused = false;
	}
}

/* on_conn_closed - evhttp is freeing a connection we adopted. */
static void
on_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct httpd *h = arg;

	/* once only, whatever evhttp does after this */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (h->o.closed != NULL)
		h->o.closed(evcon, h->o.arg);
	slot_release(h);
}

static void
unlink_new_conn(struct httpd *h, struct httpd_new_conn *nc)
{
	struct httpd_new_conn **pp;

	for (pp = &h->pending; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == nc) {
			*pp = nc->next;
			break;
		}
	}
	event_free(nc->ev);
	bufferevent_decref(nc->bev);
	free(nc);
}

/* on_adopt - evhttp has wrapped a connection around nc->bev (it made it
 * the callback argument); no I/O has happened on it yet. If evhttp gave
 * up on it already, its callbacks are cleared and the slot is free. */
static void
on_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_new_conn *nc = arg;
	struct httpd *h = nc->h;
	struct evhttp_connection *evcon;
	void *cbarg = NULL;

	(void)fd;
	(void)what;
	bufferevent_getcb(nc->bev, NULL, NULL, NULL, &cbarg);
	evcon = cbarg;
	if (evcon != NULL && evhttp_connection_get_bufferevent(evcon) == nc->bev)
		evhttp_connection_set_closecb(evcon, on_conn_closed, h);
	else
		slot_release(h);
	unlink_new_conn(h, nc);
}

/* on_new_conn - evhttp accepted a connection and wants its bufferevent
 * (without a descriptor: evhttp sets it). */
static struct bufferevent *
on_new_conn(struct event_base *base, void *arg)
{
	struct httpd *h = arg;
	struct httpd_new_conn *nc = xcalloc(1, sizeof(*nc));

	nc->h = h;
	nc->bev = h->o.make_bev != NULL ? h->o.make_bev(base, h->o.arg)
					: bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	nc->ev = event_new(base, -1, 0, on_adopt, nc);
	if (nc->bev == NULL || nc->ev == NULL)
		log_fatalx("httpd: cannot allocate a connection");
	bufferevent_incref(nc->bev);
	/* Runs before any I/O callback of the new connection: it is queued
	 * now, while the connection's descriptor is not even polled yet. */
	event_active(nc->ev, EV_TIMEOUT, 1);
	nc->next = h->pending;
	h->pending = nc;
	if (++h->nconns >= h->o.max_conns && !h->paused) {
		if (evconnlistener_disable(h->lev) == -1)
			log_warnx("httpd: cannot pause the %s listener", h->o.what);
		h->paused = true;
	}
	return nc->bev;
}

static void
reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evhttp_request_get_output_buffer(req);

	evhttp_add_header(hdr, "Content-Type", "text/plain; charset=utf-8");
	evbuffer_add(body, text, strlen(text));
	evhttp_send_reply(req, code, reason, NULL);
}

/* is_metrics_path - the request's path is exactly /metrics. */
static bool
is_metrics_path(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	return path != NULL && strcmp(path, HTTPD_PATH) == 0;
}

static void
on_metrics(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct buf text = BUF_INIT;
	struct evkeyvalq *hdr;
	char len[32];

	if (!is_metrics_path(req)) {
		reply_text(req, HTTP_NOTFOUND, "Not Found", "Not found: try /metrics\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed", "Method not allowed: use GET\n");
		return;
	}
	h->render(h->arg, &text);
	hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", HTTPD_CONTENT_TYPE);
	/* Always, so HEAD and HTTP/1.0 answers carry it too; evhttp 2.1 would
	 * send a body even for HEAD, so HEAD gets the length only. */
	snprintf(len, sizeof(len), "%zu", text.len);
	evhttp_add_header(hdr, "Content-Length", len);
	if (cmd == EVHTTP_REQ_GET)
		evbuffer_add(evhttp_request_get_output_buffer(req), buf_cstr(&text), text.len);
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
	buf_free(&text);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;

	if (h->o.handle != NULL)
		h->o.handle(req, h->o.arg);
	else
		on_metrics(req, h);
}

struct httpd *
httpd_new_opts(struct event_base *base, int fd, const struct httpd_opts *o)
{
	struct evhttp_bound_socket *bound;
	struct httpd *h;

	/* evconnlistener accepts in a loop until EAGAIN */
	if (evutil_make_socket_nonblocking(fd) == -1) {
		log_warn("httpd: cannot serve the %s listener", o->what);
		close(fd);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->o = *o;
	h->http = evhttp_new(base);
	if (h->http == NULL) {
		close(fd);
		goto fail;
	}
	evhttp_set_max_headers_size(h->http, (ev_ssize_t)o->max_headers);
	evhttp_set_max_body_size(h->http, (ev_ssize_t)o->max_body);
	evhttp_set_timeout(h->http, o->timeout);
	/* Every method reaches on_request, which answers 405; evhttp itself
	 * would answer 501 to the ones it was not told about. */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(h->http, "text/plain; charset=utf-8");
	evhttp_set_gencb(h->http, on_request, h);
	evhttp_set_bevcb(h->http, on_new_conn, h);
	bound = evhttp_accept_socket_with_handle(h->http, fd);
	if (bound == NULL) {
		close(fd);
		goto fail;
	}
	h->lev = evhttp_bound_socket_get_listener(bound);
	return h;
fail:
	log_warnx("httpd: cannot serve the %s listener", o->what);
	httpd_free(h);
	return NULL;
}

struct httpd *
httpd_new(struct event_base *base, int fd, httpd_render render, void *arg)
{
	struct httpd_opts o = {NULL, NULL, NULL, NULL, HTTPD_MAX_CONNS, HTTPD_MAX_HEADERS,
			       HTTPD_MAX_BODY, HTTPD_TIMEOUT, "metrics"};
	struct httpd *h = httpd_new_opts(base, fd, &o);

	if (h != NULL) {
		h->render = render;
		h->arg = arg;
	}
	return h;
}

void
httpd_set_timeout(struct httpd *h, int seconds)
{
	evhttp_set_timeout(h->http, seconds);
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	h->freeing = true;
	while (h->pending != NULL)
		unlink_new_conn(h, h->pending);
	if (h->http != NULL)
		evhttp_free(h->http); /* calls on_conn_closed for the open ones */
	free(h);
}
