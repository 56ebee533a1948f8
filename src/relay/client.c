/* SPDX-License-Identifier: ISC */
/*
 * client - outbound SMTP/LMTP protocol engine.
 *
 * Replies are matched against a FIFO of what was asked, so a pipelined
 * group (MAIL, RCPT..., DATA) and a lock-step dialogue share one code path.
 *
 * SECURITY: see client.h. A reply line longer than REPLY_LINE_MAX, a
 * malformed line, or a timeout ends the connection with a temporary error.
 */
#include "relay/client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"
#include "tls/tls.h"

enum cstate {
	C_CONNECT,
	C_GREETING,
	C_EHLO,
	C_HELO,
	C_STARTTLS,  /* STARTTLS sent, waiting for 220 */
	C_HANDSHAKE, /* TLS handshake in progress */
	C_READY,
	C_TX,
	C_QUIT,
	C_DEAD
};
enum expect { X_MAIL, X_RCPT, X_DATA, X_DOT, X_RSET, X_QUIT };

#define CLIENT_MAX_EXPECT 2048

struct client {
	struct bufferevent *bev;
	struct event_base *base;
	enum cstate state;
	struct client_conf cc;
	char peer[NET_ADDRSTRLEN + 300];
	const struct client_ops *ops;
	void *arg;
	unsigned ext;
	bool tls_on;
	char tls_info[128];
	bool zombie; /* freed by its owner or failed: destroyed from the loop */
	struct smtp_reply reply;
	/* the transaction */
	const struct client_tx *tx;
	struct smtp_reply *results;
	bool *accepted;
	uint32_t naccepted;
	uint32_t next_rcpt;   /* lock-step: next RCPT to send */
	uint32_t dot_next;    /* LMTP: next accepted recipient to assign */
	bool mail_ok;
	bool data_sent;
	/* expected replies */
	enum expect expect[CLIENT_MAX_EXPECT];
	uint32_t expect_idx[CLIENT_MAX_EXPECT];
	size_t xhead, xtail;
};

static void client_fail(struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool want_tls(const struct client *c);
static void start_tls(struct client *c);

static void
set_timeout(struct client *c, uint64_t secs)
{
	struct timeval tv = {(time_t)secs, 0};

	bufferevent_set_timeouts(c->bev, secs ? &tv : NULL, secs ? &tv : NULL);
}

static void
expect_push(struct client *c, enum expect x, uint32_t idx)
{
	if (c->xtail - c->xhead >= CLIENT_MAX_EXPECT)
		log_bug("client: too many replies outstanding");
	c->expect[c->xtail % CLIENT_MAX_EXPECT] = x;
	c->expect_idx[c->xtail % CLIENT_MAX_EXPECT] = idx;
	c->xtail++;
}

static void __attribute__((format(printf, 2, 3)))
send_cmd(struct client *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* synth - a reply we make up (for results that never reached the server). */
static void
synth(struct smtp_reply *r, const char *text)
{
	reply_init(r);
	reply_feed(r, text, strlen(text));
}

static void
destroy(struct client *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c->results);
	free(c->accepted);
	free(c);
}

static void
on_destroy(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	destroy(arg);
}

/* kill_client - no more callbacks; the memory goes from the event loop,
 * never under a caller that may still hold the pointer. */
static void
kill_client(struct client *c)
{
	struct timeval now = {0, 0};

	c->state = C_DEAD;
	if (c->zombie)
		return;
	c->zombie = true;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (event_base_once(c->base, -1, EV_TIMEOUT, on_destroy, c, &now) == -1)
		log_fatalx("client: event_base_once failed");
}

static void
client_fail(struct client *c, const char *fmt, ...)
{
	char why[REPLY_TEXT_MAX + 128];
	va_list ap;

	if (c->state == C_DEAD)
		return;
	if (c->state == C_QUIT) {
		kill_client(c); /* the owner let go at QUIT: no callbacks */
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->state = C_DEAD;
	c->ops->failed(c->arg, c, why);
	kill_client(c);
}

/* The transaction. */

static void
send_mail(struct client *c)
{
	const struct client_tx *tx = c->tx;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "MAIL FROM:<%s>", tx->sender);
	if (c->ext & EXT_SIZE)
		evbuffer_add_printf(out, " SIZE=%llu",
				    (unsigned long long)(tx->body_len + tx->prepend_len));
	if (tx->body8 && (c->ext & EXT_8BITMIME))
		evbuffer_add_printf(out, " BODY=8BITMIME");
	if (tx->smtputf8)
		evbuffer_add_printf(out, " SMTPUTF8");
	if (c->ext & EXT_DSN) {
		if (tx->ret != RET_UNSET)
			evbuffer_add_printf(out, " RET=%s", tx->ret == RET_FULL ? "FULL" : "HDRS");
		if (tx->envid && tx->envid[0])
			evbuffer_add_printf(out, " ENVID=%s", tx->envid);
	}
	evbuffer_add(out, "\r\n", 2);
	expect_push(c, X_MAIL, 0);
}

static void
send_rcpt(struct client *c, uint32_t i)
{
	const struct client_rcpt *r = &c->tx->rcpts[i];
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "RCPT TO:<%s>", r->addr);
	if ((c->ext & EXT_DSN) && r->notify) {
		const char *sep = "";

		evbuffer_add_printf(out, " NOTIFY=");
		if (r->notify & NOTIFY_NEVER)
			evbuffer_add_printf(out, "NEVER");
		if (r->notify & NOTIFY_SUCCESS) {
			evbuffer_add_printf(out, "%sSUCCESS", sep);
			sep = ",";
		}
		if (r->notify & NOTIFY_FAILURE) {
			evbuffer_add_printf(out, "%sFAILURE", sep);
			sep = ",";
		}
		if (r->notify & NOTIFY_DELAY)
			evbuffer_add_printf(out, "%sDELAY", sep);
	}
	if ((c->ext & EXT_DSN) && r->orcpt && r->orcpt[0])
		evbuffer_add_printf(out, " ORCPT=%s", r->orcpt);
	evbuffer_add(out, "\r\n", 2);
	expect_push(c, X_RCPT, i);
}

static void
tx_finish(struct client *c)
{
	c->state = C_READY;
	set_timeout(c, 0);
	c->ops->done(c->arg, c, c->results);
}

static void
send_rset(struct client *c)
{
	send_cmd(c, "RSET");
	expect_push(c, X_RSET, 0);
}

void
client_start(struct client *c, const struct client_tx *tx)
{
	uint32_t i;

	if (c->state != C_READY)
		log_bug("client: transaction in state %d", c->state);
	c->tx = tx;
	c->state = C_TX;
	free(c->results);
	free(c->accepted);
	c->results = xcalloc(tx->nrcpts, sizeof(*c->results));
	c->accepted = xcalloc(tx->nrcpts, sizeof(*c->accepted));
	c->naccepted = 0;
	c->next_rcpt = 0;
	c->dot_next = 0;
	c->mail_ok = false;
	c->data_sent = false;
	set_timeout(c, c->cc.reply_timeout);
	if (tx->smtputf8 && !(c->ext & EXT_SMTPUTF8)) {
		for (i = 0; i < tx->nrcpts; i++)
			synth(&c->results[i],
			      "553 5.6.7 Destination does not support SMTPUTF8 (RFC 6531)");
		tx_finish(c);
		return;
	}
	if (tx->body8 && !(c->ext & EXT_8BITMIME)) {
		/* RFC 6152 3: never 8-bit octets to a 7-bit server; we do not
		 * convert, so it is a permanent failure. */
		for (i = 0; i < tx->nrcpts; i++)
			synth(&c->results[i], "554 5.6.3 Destination does not support 8BITMIME "
					      "and conversion is not supported");
		tx_finish(c);
		return;
	}
	send_mail(c);
	if (c->ext & EXT_PIPELINING) {
		for (i = 0; i < tx->nrcpts; i++)
			send_rcpt(c, i);
		c->next_rcpt = tx->nrcpts;
		send_cmd(c, "DATA");
		expect_push(c, X_DATA, 0);
	}
}

/* add_segment - len bytes of the queue file at off to the output. */
static int
add_segment(struct client *c, struct evbuffer *out, off_t off, uint64_t len)
{
	struct evbuffer_file_segment *seg;
	int fd;

	if (len == 0)
		return 0;
	fd = dup(c->tx->body_fd);
	if (fd == -1) {
		client_fail(c, "dup: %s", strerror(errno));
		return -1;
	}
	seg = evbuffer_file_segment_new(fd, off, (ev_off_t)len, EVBUF_FS_CLOSE_ON_FREE);
	if (seg == NULL) {
		close(fd);
		client_fail(c, "cannot read the queue file");
		return -1;
	}
	evbuffer_add_file_segment(out, seg, 0, -1);
	evbuffer_file_segment_free(seg);
	return 0;
}

/* send_body - the header lines added at commit, then the message as
 * received (both already in wire form), then the final dot. */
static void
send_body(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct client_tx *tx = c->tx;

	if (add_segment(c, out, tx->prepend_off, tx->prepend_len) == -1 ||
	    add_segment(c, out, tx->body_off, tx->body_len) == -1)
		return;
	evbuffer_add(out, ".\r\n", 3);
}

static void
on_mail(struct client *c)
{
	uint32_t i;

	c->mail_ok = reply_class(&c->reply) == 2;
	if (!c->mail_ok) {
		for (i = 0; i < c->tx->nrcpts; i++)
			c->results[i] = c->reply;
		if (!(c->ext & EXT_PIPELINING)) {
			send_rset(c);
		}
		return;
	}
	if (!(c->ext & EXT_PIPELINING)) {
		send_rcpt(c, 0);
		c->next_rcpt = 1;
	}
}

static void
on_rcpt(struct client *c, uint32_t i)
{
	if (c->mail_ok) {
		if (reply_class(&c->reply) == 2) {
			c->accepted[i] = true;
			c->naccepted++;
		} else {
			c->results[i] = c->reply;
		}
	}
	if (c->ext & EXT_PIPELINING)
		return;
	if (c->next_rcpt < c->tx->nrcpts) {
		send_rcpt(c, c->next_rcpt++);
		return;
	}
	if (c->naccepted == 0) {
		send_rset(c);
		return;
	}
	send_cmd(c, "DATA");
	expect_push(c, X_DATA, 0);
}

static void
on_data(struct client *c)
{
	uint32_t i;

	if (c->reply.code == 354) {
		if (c->naccepted == 0 || !c->mail_ok) {
			/* A server that said 354 with nobody to deliver to. */
			evbuffer_add(bufferevent_get_output(c->bev), ".\r\n", 3);
			expect_push(c, X_DOT, UINT32_MAX);
			return;
		}
		c->data_sent = true;
		send_body(c);
		if (c->state == C_DEAD)
			return;
		if (!c->cc.lmtp) {
			expect_push(c, X_DOT, 0);
		} else {
			for (i = 0; i < c->tx->nrcpts; i++)
				if (c->accepted[i])
					expect_push(c, X_DOT, i);
		}
		return;
	}
	for (i = 0; i < c->tx->nrcpts; i++)
		if (c->accepted[i])
			c->results[i] = c->reply;
	send_rset(c);
}

static void
on_dot(struct client *c, uint32_t idx)
{
	uint32_t i;

	if (idx == UINT32_MAX) {
		send_rset(c);
		return;
	}
	if (c->cc.lmtp) {
		c->results[idx] = c->reply;
	} else {
		for (i = 0; i < c->tx->nrcpts; i++)
			if (c->accepted[i])
				c->results[i] = c->reply;
	}
	if (c->xhead == c->xtail)
		tx_finish(c);
}

/* handle_reply - a complete reply arrived; match it with what we asked. */
static void
handle_reply(struct client *c)
{
	enum expect x;
	uint32_t idx;

	switch (c->state) {
	case C_GREETING:
		if (reply_class(&c->reply) != 2) {
			client_fail(c, "greeting: %d %s", c->reply.code, c->reply.text);
			return;
		}
		c->state = C_EHLO;
		send_cmd(c, "%s %s", c->cc.lmtp ? "LHLO" : "EHLO", c->cc.helo);
		return;
	case C_EHLO:
	case C_HELO:
		if (reply_class(&c->reply) != 2) {
			if (c->state == C_EHLO && !c->cc.lmtp && reply_class(&c->reply) == 5) {
				c->state = C_HELO;
				send_cmd(c, "HELO %s", c->cc.helo);
				return;
			}
			client_fail(c, "%s: %d %s", c->state == C_EHLO ? "EHLO" : "HELO",
				    c->reply.code, c->reply.text);
			return;
		}
		c->ext = c->state == C_EHLO ? c->reply.ext : 0;
		if (want_tls(c)) {
			c->state = C_STARTTLS;
			send_cmd(c, "STARTTLS");
			return;
		}
		if (c->cc.tls >= TLSP_ENCRYPT && !c->tls_on) {
			client_fail(c, "451 4.7.4 TLS is required (policy %s) but %s does not offer "
				       "STARTTLS",
				    conf_tls_policy_name(c->cc.tls), c->peer);
			return;
		}
		c->state = C_READY;
		set_timeout(c, 0);
		c->ops->ready(c->arg, c);
		return;
	case C_STARTTLS:
		if (reply_class(&c->reply) != 2) {
			if (c->cc.tls >= TLSP_ENCRYPT) {
				client_fail(c, "451 4.7.4 TLS is required but STARTTLS was refused: "
					       "%d %s",
					    c->reply.code, c->reply.text);
				return;
			}
			c->state = C_READY; /* opportunistic: carry on in plaintext */
			set_timeout(c, 0);
			c->ops->ready(c->arg, c);
			return;
		}
		start_tls(c);
		return;
	case C_TX:
		break;
	case C_QUIT:
		kill_client(c); /* the 221 */
		return;
	default:
		client_fail(c, "unexpected reply: %d %s", c->reply.code, c->reply.text);
		return;
	}
	if (c->xhead == c->xtail) {
		client_fail(c, "reply nobody asked for: %d %s", c->reply.code, c->reply.text);
		return;
	}
	x = c->expect[c->xhead % CLIENT_MAX_EXPECT];
	idx = c->expect_idx[c->xhead % CLIENT_MAX_EXPECT];
	c->xhead++;
	switch (x) {
	case X_MAIL:
		on_mail(c);
		break;
	case X_RCPT:
		on_rcpt(c, idx);
		break;
	case X_DATA:
		on_data(c);
		break;
	case X_DOT:
		on_dot(c, idx);
		break;
	case X_RSET:
		tx_finish(c);
		break;
	case X_QUIT:
		break;
	}
}

/* want_tls - should we STARTTLS now? */
static bool
want_tls(const struct client *c)
{
	return !c->tls_on && c->cc.tlsc != NULL && c->cc.tls != TLSP_NONE &&
	       (c->ext & EXT_STARTTLS) && !c->cc.lmtp_unix;
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* start_tls - the server said 220 to STARTTLS: the socket is TLS's now. */
static void
start_tls(struct client *c)
{
	bool verify = c->cc.tls == TLSP_VERIFY;
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	struct bufferevent *bev;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		client_fail(c, "451 4.7.5 the server sent data after its 220 to STARTTLS");
		return;
	}
	ssl = tls_client_ssl(c->cc.tlsc, c->cc.tls_name, verify);
	if (ssl == NULL) {
		client_fail(c, "451 4.7.5 cannot set up TLS");
		return;
	}
	bev = bufferevent_openssl_socket_new(c->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		client_fail(c, "451 4.7.5 cannot set up TLS");
		return;
	}
	bufferevent_setfd(c->bev, -1);
	bufferevent_free(c->bev);
	c->bev = bev;
	c->state = C_HANDSHAKE;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	set_timeout(c, c->cc.connect_timeout);
}

/* tls_up - the handshake completed: EHLO again (RFC 3207 4.2). */
static void
tls_up(struct client *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	c->tls_on = true;
	tls_describe(ssl, c->tls_info, sizeof(c->tls_info));
	c->ext = 0;
	c->state = C_EHLO;
	reply_init(&c->reply);
	c->reply.done = true;
	set_timeout(c, c->cc.reply_timeout);
	send_cmd(c, "%s %s", c->cc.lmtp ? "LHLO" : "EHLO", c->cc.helo);
}

/* tls_broke - the handshake failed: say why, in delivery terms. */
static void
tls_broke(struct client *c, short what)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	char why[256];

	if (vr != X509_V_OK)
		snprintf(why, sizeof(why), "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
	else if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		str_copy(why, what & BEV_EVENT_TIMEOUT ? "handshake timed out"
						       : "connection closed during handshake",
			 sizeof(why));
	ERR_clear_error();
	client_fail(c, "451 4.7.5 TLS handshake with %s failed: %s", c->peer, why);
}

static void
read_replies(struct client *c, struct evbuffer *in)
{
	while (c->state != C_DEAD) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		int r;

		if (line == NULL) {
			if (evbuffer_get_length(in) > REPLY_LINE_MAX)
				client_fail(c, "reply line too long");
			return;
		}
		if (c->reply.done)
			reply_init(&c->reply);
		r = reply_feed(&c->reply, line, len);
		free(line);
		if (r == -1) {
			client_fail(c, "malformed reply from server");
			return;
		}
		if (r == 1)
			handle_reply(c);
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	read_replies(arg, bufferevent_get_input(bev));
}

static void
handle_event(struct client *c, struct bufferevent *bev, short what)
{
	int fd, one = 1;

	if (c->state == C_DEAD)
		return;
	if (c->state == C_HANDSHAKE) {
		if (what & BEV_EVENT_CONNECTED)
			tls_up(c);
		else
			tls_broke(c, what);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		fd = bufferevent_getfd(bev);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->state = C_GREETING;
		reply_init(&c->reply);
		c->reply.done = true;
		return;
	}
	if (c->state == C_QUIT) {
		kill_client(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		client_fail(c, "timeout %s", c->state == C_CONNECT ? "connecting" : "waiting for reply");
	else if (what & BEV_EVENT_EOF)
		client_fail(c, "connection closed by server");
	else
		client_fail(c, "%s", strerror(EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : EIO));
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	handle_event(arg, bev, what);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	/* After QUIT, wait for the server's 221 or close (on_event). */
	(void)bev;
	(void)c;
}

struct client *
client_connect(struct event_base *base, const struct sockaddr *addr, socklen_t len,
	       const char *path, const struct client_conf *cc, const struct client_ops *ops,
	       void *arg)
{
	struct client *c = xcalloc(1, sizeof(*c));
	struct sockaddr_un sun;
	char a[NET_ADDRSTRLEN + 8];

	c->base = base;
	c->cc = *cc;
	c->ops = ops;
	c->arg = arg;
	c->state = C_CONNECT;
	if (addr != NULL)
		snprintf(c->peer, sizeof(c->peer), "%s[%s]", cc->peer_name,
			 net_format(addr, a, sizeof(a)));
	else
		snprintf(c->peer, sizeof(c->peer), "%s", path);
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	set_timeout(c, cc->connect_timeout);
	if (addr == NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		str_copy(sun.sun_path, path, sizeof(sun.sun_path));
		addr = (struct sockaddr *)&sun;
		len = sizeof(sun);
	}
	if (bufferevent_socket_connect(c->bev, addr, (int)len) == -1) {
		/* Report from the loop, as promised. */
		bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR, BEV_TRIG_DEFER_CALLBACKS);
	}
	return c;
}

void
client_quit(struct client *c)
{
	if (c->state == C_DEAD)
		return;
	if (c->state == C_READY) {
		c->state = C_QUIT;
		send_cmd(c, "QUIT");
		set_timeout(c, 5);
		return;
	}
	client_free(c);
}

void
client_free(struct client *c)
{
	kill_client(c);
}

const char *
client_tls(const struct client *c)
{
	return c->tls_on ? c->tls_info : NULL;
}

unsigned
client_ext(const struct client *c)
{
	return c->ext;
}

const char *
client_peer(const struct client *c)
{
	return c->peer;
}

void
client_set_arg(struct client *c, void *arg)
{
	c->arg = arg;
}
