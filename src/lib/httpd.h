/* SPDX-License-Identifier: ISC */
/*
 * httpd - the metrics endpoint: a minimal HTTP/1.x server on the libevent
 * loop (evhttp) that answers `GET /metrics` with whatever the render
 * callback writes, in the Prometheus text format.
 *
 *   GET or HEAD /metrics  200, Content-Type: text/plain; version=0.0.4;
 *                         charset=utf-8 (a query string is ignored)
 *   another method        405 with Allow: GET, HEAD
 *   another path          404
 *
 * Limits: request headers HTTPD_MAX_HEADERS bytes, body HTTPD_MAX_BODY
 * bytes, HTTPD_TIMEOUT seconds of inactivity, at most HTTPD_MAX_CONNS
 * connections at once (the listener pauses while they are open, later
 * clients wait in the socket's backlog).
 *
 * The listening socket is not created here: like the SMTP listeners, the
 * parent (root) binds it (net_listen, a loopback address checked by
 * metrics_listen_check when the config is read, backlog HTTPD_BACKLOG)
 * and hands it to the smtp process over IPC; that process, chrooted and
 * unprivileged, serves it on its event loop.
 *
 * SECURITY: runs in the smtp process, which reads the network; the
 * listener is loopback-only by config policy, and anything a client sends
 * is parsed by evhttp within the limits above. The response carries
 * counters only: no addresses, user names or secrets are rendered.
 *
 * STANDARDS: RFC 9112 (HTTP/1.1 messages, as evhttp implements them), RFC
 * 9110 section 15.5.6 (405 and Allow); Prometheus text format 0.0.4.
 */
#ifndef POSTERN_HTTPD_H
#define POSTERN_HTTPD_H

#include "lib/buf.h"

#define HTTPD_MAX_HEADERS 4096
#define HTTPD_MAX_BODY 1024
#define HTTPD_TIMEOUT 10
#define HTTPD_MAX_CONNS 4
#define HTTPD_BACKLOG 8
#define HTTPD_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct event_base;
struct bufferevent;
struct evhttp_request;
struct evhttp_connection;
struct httpd;

/* For other servers than the metrics one (the admin API): who answers,
 * how connections are made (TLS) and the limits. */
struct httpd_opts {
	/* every request; may answer later (evhttp_send_reply) unless closed
	 * is called for its connection first */
	void (*handle)(struct evhttp_request *req, void *arg);
	/* the bufferevent of a new connection (fd -1: evhttp sets it) */
	struct bufferevent *(*make_bev)(struct event_base *base, void *arg);
	/* a connection is going away: drop every request of it */
	void (*closed)(struct evhttp_connection *evcon, void *arg);
	void *arg;
	unsigned max_conns;
	size_t max_headers, max_body;
	int timeout; /* seconds */
	const char *what; /* for log lines: "metrics", "admin API" */
};

/* httpd_render - append the exposition text to out (an empty buffer). */
typedef void (*httpd_render)(void *arg, struct buf *out);

/* httpd_new - serve fd (bound, listening, non-blocking) on base; fd is
 * owned by the httpd from now on, also when NULL (an evhttp failure) is
 * returned. render is called once per GET with arg. */
struct httpd *httpd_new(struct event_base *base, int fd, httpd_render render, void *arg);
/* httpd_new_opts - the same for another server, as o says (copied). */
struct httpd *httpd_new_opts(struct event_base *base, int fd, const struct httpd_opts *o);
/* httpd_set_timeout - seconds of inactivity before a connection is closed
 * (HTTPD_TIMEOUT by default); for connections accepted from now on. */
void httpd_set_timeout(struct httpd *h, int seconds);
/* httpd_free - close the listener and every connection; NULL is fine. */
void httpd_free(struct httpd *h);

#endif
