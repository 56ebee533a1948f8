/* SPDX-License-Identifier: ISC */
/*
 * api - the HTTPS admin API (smtp process side).
 *
 * SECURITY: see api.h.
 */
#include "admin/api.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/token.h"
#include "lib/httpd.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"

/* enum auth_status values as the auth process sends them (auth/authd.h:
 * the smtp layer does not include the auth service's header). */
#define API_AUTH_OK 1
#define API_AUTH_TEMPFAIL 3
#define API_AUTH_EXPIRED 4
#define API_AUTH_MALFORMED 5

struct api_pending {
	struct api_pending *next;
	struct api *a;
	uint64_t id;
	bool login;
	struct evhttp_request *req;
	struct event *ev_delay;		/* a refused login waits out the tarpit */
	unsigned code;
	char body[128];
};

struct api {
	struct event_base *base;
	struct httpd *httpd;
	struct conf_acl allow;
	const struct api_ops *ops;
	void *arg;
	struct api_pending *pending;
};

int
api_login_parse(const char *body, size_t len, struct buf *out, char *err, size_t errsz)
{
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const json_t *acc = json_object_get(o, "account"), *pw = json_object_get(o, "password"),
		     *code = json_object_get(o, "code");
	size_t i;
	int rc = -1;

	buf_reset(out);
	if (!json_is_string(acc) || !json_is_string(pw) || !json_is_string(code)) {
		snprintf(err, errsz, "give {\"account\", \"password\", \"code\"} as strings");
		goto out;
	}
	if (json_string_length(acc) == 0 || json_string_length(acc) > TOKEN_ACCOUNT_MAX ||
	    strlen(json_string_value(acc)) != json_string_length(acc) ||
	    json_string_length(pw) == 0 || json_string_length(pw) > API_PASSWORD_MAX ||
	    strlen(json_string_value(pw)) != json_string_length(pw) ||
	    json_string_length(code) < 6 || json_string_length(code) > API_CODE_MAX) {
		snprintf(err, errsz, "account, password or code of a wrong length");
		goto out;
	}
	for (i = 0; i < json_string_length(code); i++)
		if (json_string_value(code)[i] < '0' || json_string_value(code)[i] > '9') {
			snprintf(err, errsz, "the code is digits");
			goto out;
		}
	buf_addc(out, '\0');
	buf_adds(out, json_string_value(acc));
	buf_addc(out, '\0');
	buf_adds(out, json_string_value(pw));
	buf_adds(out, json_string_value(code));
	rc = 0;
out:
	if (json_is_string(pw))
		sodium_memzero((void *)json_string_value(pw), json_string_length(pw));
	json_decref(o);
	return rc;
}

/* reply_json - answer req with code and a JSON body. */
static void
reply_json(struct evhttp_request *req, unsigned code, const char *body, size_t len)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);

	evhttp_add_header(hdr, "Content-Type", "application/json");
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (body != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, (int)code, code == 200 ? "OK" : code == 204 ? "No Content" : "Error",
			  NULL);
}

static void
reply_error(struct evhttp_request *req, unsigned code, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = json_dumps(o, JSON_COMPACT);

	reply_json(req, code, s, s ? strlen(s) : 0);
	free(s);
	json_decref(o);
}

static struct api_pending *
pending_new(struct api *a, struct evhttp_request *req, bool login)
{
	struct api_pending *p = xcalloc(1, sizeof(*p));

	p->a = a;
	p->id = a->ops->next_id(a->arg);
	p->login = login;
	p->req = req;
	p->next = a->pending;
	a->pending = p;
	return p;
}

static void
pending_free(struct api_pending *p)
{
	struct api_pending **pp;

	for (pp = &p->a->pending; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->ev_delay != NULL)
		event_free(p->ev_delay);
	free(p);
}

static struct api_pending *
pending_find(struct api *a, uint64_t id, bool login)
{
	struct api_pending *p;

	for (p = a->pending; p != NULL; p = p->next)
		if (p->id == id && p->login == login)
			return p;
	return NULL;
}

/* peer - the client's address as text, and whether it may come in: in
 * api_allow and not banned (*why says which when not). */
static bool
peer(struct api *a, struct evhttp_request *req, char *ip, size_t ipsz, const char **why)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct sockaddr *sa = evcon ? evhttp_connection_get_addr(evcon) : NULL;

	ip[0] = '\0';
	if (sa == NULL || net_ntop(sa, ip, ipsz) == NULL)
		return false;
	if (a->ops->banned(a->arg, sa)) {
		*why = "banned";
		return false;
	}
	*why = "not-in-api_allow";
	return conf_acl_match(&a->allow, sa);
}

/* bearer - the token of an "Authorization: Bearer T" header, or NULL. */
static const char *
bearer(struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > TOKEN_MAX)
		return NULL;
	return h + 7;
}

/* body - the request body, NUL-terminated, in out. */
static void
body(struct evhttp_request *req, struct buf *out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);

	buf_reserve(out, n);
	evbuffer_remove(in, out->data + out->len, n);
	out->len += n;
	out->data[out->len] = '\0';
}

static void
do_login(struct api *a, struct evhttp_request *req, const char *ip)
{
	struct buf b = BUF_INIT, plain = BUF_INIT;
	struct api_pending *p;
	char err[128];

	body(req, &b);
	if (api_login_parse(b.data, b.len, &plain, err, sizeof(err)) == -1) {
		reply_error(req, 400, err);
	} else {
		p = pending_new(a, req, true);
		a->ops->login(a->arg, p->id, ip, (const uint8_t *)plain.data, plain.len);
	}
	buf_wipe_free(&b);
	buf_wipe_free(&plain);
}

static void
do_run(struct api *a, struct evhttp_request *req, const char *ip, const char *token)
{
	struct buf b = BUF_INIT;
	struct api_pending *p;

	body(req, &b);
	p = pending_new(a, req, false);
	a->ops->run(a->arg, p->id, token, ip, b.data, b.len);
	buf_wipe_free(&b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL, *token;
	char ip[NET_ADDRSTRLEN];
	const char *why = "no-address";

	if (!peer(a, req, ip, sizeof(ip), &why)) {
		log_warnx("api refused ip=%s reason=%s", ip[0] ? ip : "?", why);
		reply_error(req, 403, "not allowed from this address");
		return;
	}
	if (path == NULL || (strcmp(path, "/api/v1/login") != 0 &&
			     strcmp(path, "/api/v1/run") != 0 && strcmp(path, "/api/v1/logout") != 0)) {
		reply_error(req, 404, "no such endpoint: /api/v1/login, /api/v1/run, /api/v1/logout");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		reply_error(req, 405, "use POST");
		return;
	}
	if (strcmp(path, "/api/v1/login") == 0) {
		do_login(a, req, ip);
		return;
	}
	if ((token = bearer(req)) == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"postern\"");
		reply_error(req, 401, "log in first: Authorization: Bearer TOKEN");
		return;
	}
	if (strcmp(path, "/api/v1/logout") == 0) {
		a->ops->logout(a->arg, token, ip);
		reply_json(req, 204, NULL, 0);
		return;
	}
	do_run(a, req, ip, token);
}

static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
	struct api *a = arg;
	SSL *ssl = a->ops->new_ssl(a->arg);

	if (ssl == NULL)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE); /* plain: fails */
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

struct api *
api_new(struct event_base *base, int fd, const struct conf *cf, const struct api_ops *ops,
	void *arg)
{
	struct api *a = xcalloc(1, sizeof(*a));
	/* A request whose client went away stays valid (evhttp detaches it
	 * from the connection) until it is answered, which frees it: so every
	 * pending request is answered, whoever still listens. */
	struct httpd_opts o = {on_request, make_bev, NULL, a, API_MAX_CONNS,
			       API_MAX_HEADERS, API_MAX_BODY, API_TIMEOUT, "admin API"};

	a->base = base;
	a->ops = ops;
	a->arg = arg;
	api_set_conf(a, cf);
	a->httpd = httpd_new_opts(base, fd, &o);
	if (a->httpd == NULL) {
		free(a);
		return NULL;
	}
	return a;
}

void
api_set_conf(struct api *a, const struct conf *cf)
{
	a->allow = cf->admin.api_allow;
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct api_pending *p = arg;

	(void)fd;
	(void)what;
	reply_error(p->req, p->code, p->body);
	pending_free(p);
}

/* login_ok - the token and what it says, to the client. */
static void
login_ok(struct api_pending *p, const uint8_t *token, size_t len)
{
	static const char *const roles[] = {"none", "auditor", "operator", "admin"};
	struct token_info t;
	json_t *o;
	char *s;

	if (token_peek((const char *)token, len, &t) == -1) {
		reply_error(p->req, 500, "no token");
		return;
	}
	o = json_object();
	json_object_set_new(o, "token", json_stringn((const char *)token, len));
	json_object_set_new(o, "role", json_string(roles[t.role]));
	json_object_set_new(o, "expires_in",
			    json_integer((json_int_t)(t.expiry > (uint64_t)time(NULL)
							      ? t.expiry - (uint64_t)time(NULL)
							      : 0)));
	s = json_dumps(o, JSON_COMPACT);
	reply_json(p->req, 200, s, s ? strlen(s) : 0);
	sodium_memzero(s, s ? strlen(s) : 0);
	free(s);
	json_decref(o);
}

bool
api_login_answer(struct api *a, uint64_t sid, int status, const uint8_t *token, size_t len,
		 uint32_t delay_ms)
{
	struct api_pending *p = a != NULL ? pending_find(a, sid, true) : NULL;

	if (p == NULL)
		return false;
	if (status == API_AUTH_OK && len > 0) {
		login_ok(p, token, len);
		pending_free(p);
		return true;
	}
	p->code = status == API_AUTH_TEMPFAIL	? 503
		  : status == API_AUTH_EXPIRED	? 403
		  : status == API_AUTH_MALFORMED ? 400
						: 401;
	snprintf(p->body, sizeof(p->body), "%s",
		 p->code == 503	  ? "try again later"
		 : p->code == 403 ? "password expired: change it first"
				  : "login failed");
	p->ev_delay = evtimer_new(a->base, on_delay, p);
	evtimer_add(p->ev_delay, (&(struct timeval){delay_ms / 1000, (delay_ms % 1000) * 1000}));
	return true;
}

void
api_run_answer(struct api *a, uint64_t rid, unsigned http, const char *b, size_t len)
{
	struct api_pending *p = a != NULL ? pending_find(a, rid, false) : NULL;

	if (p == NULL)
		return;
	reply_json(p->req, http, b, len);
	pending_free(p);
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	httpd_free(a->httpd);
	while (a->pending != NULL)
		pending_free(a->pending);
	free(a);
}
