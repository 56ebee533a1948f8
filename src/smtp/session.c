/* SPDX-License-Identifier: ISC */
/*
 * session - the inbound SMTP state machine.
 *
 * Commands are dispatched through a table whose rows name the states in
 * which a verb is allowed and its flags (LAST: must end a PIPELINING group,
 * RFC 2920 3.1). Every state change goes through enter_state().
 *
 * SECURITY: all input is hostile. Lines are bounded by max_command_length,
 * content by max_message_size and max_data_line_length, the session by its
 * timeouts and max_errors. Relaying is decided here: a recipient is
 * accepted only for a configured domain on an mx listener, or from a
 * trusted network; never otherwise (RFC 5321 3.6.2, practice 1).
 * STANDARDS: see session.h.
 */
#include "smtp/session.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "mail/data.h"
#include "mail/header.h"
#include "mail/syntax.h"
#include "tls/tls.h"
#include "auth/sasl.h"
#include "mail/addrlist.h"
#include "guard/dnsbl.h"
#include "mailauth/authres.h"
#include "mailauth/dmarc_report.h"
#include "mailauth/msgauth.h"
#include "mailauth/resolver.h"
#include "mailauth/spf.h"
#include <sodium.h>

/* Bytes of content buffered before a write to the spool file. */
#define SESSION_WRITE_CHUNK (64 * 1024)
/* Reply bytes a client may leave unread before its commands are no longer
 * read: one that pipelines without reading must not grow our output
 * buffer without bound. */
#define SESSION_OUTPUT_MAX (64 * 1024)
/* Bytes of a quarantine reason (the queue's SPOOL_REASON_MAX). */
#define SESSION_QUARANTINE_MAX 200

enum state {
	ST_GREET,     /* mx: waiting greet_delay before the greeting */
	ST_CONNECTED, /* greeting sent, no HELO/EHLO yet */
	ST_IDLE,      /* greeted, no transaction */
	ST_MAIL,      /* MAIL accepted */
	ST_RCPT,      /* at least one RCPT accepted */
	ST_BDAT,      /* between BDAT chunks */
	ST_CONTENT,   /* reading DATA content or a BDAT chunk */
	ST_WAIT,      /* waiting for the queue; input paused */
	ST_STARTTLS,  /* 220 to STARTTLS being written; then the handshake */
	ST_AUTH_LINE, /* AUTH: waiting for the client's response line */
	ST_AUTH_WAIT, /* AUTH: waiting for the auth process */
	ST_CLOSING,   /* reply flushed, then close */
};

static const char *state_names[] = {"greet", "connected", "idle", "mail",     "rcpt",
				    "bdat",	 "content", "wait", "starttls", "auth-line",
				    "auth-wait", "closing"};

#define SB(s) (1u << (s))

/* Command flags. */
#define F_LAST 0x1    /* must be the last command of a pipelined group */
#define F_PRE_TLS 0x2 /* allowed before STARTTLS on a starttls-required listener */

struct session {
	uint64_t id;
	char sid[17];
	struct session_env env;
	struct conf *cf;
	struct conf_listener listener;
	struct bufferevent *bev;
	struct event *ev_session_timeout;
	enum state state;
	char ip[NET_ADDRSTRLEN];
	struct sockaddr_storage peer;
	bool trusted;
	bool esmtp;	 /* EHLO (extensions on) rather than HELO */
	char helo[ENV_HELO_MAX + 1];
	unsigned errors;
	bool shutting_down;
	bool peer_gone;	  /* the client left while the queue was busy */
	struct tls_server *tls; /* our reference, or NULL */
	bool tls_on;		/* the handshake completed */
	bool tls13;		/* ... with TLS 1.3 */
	bool tls_handshaking;
	char auth_user[321];   /* the authenticated account, "" if none */
	char **auth_addrs;     /* what it may send as: user@domain or @domain */
	size_t nauth_addrs;
	enum state auth_return; /* state to go back to after AUTH */
	char tls_info[128];	/* for Received: version and cipher */
	bool out_blocked; /* reading paused until the client takes its replies */
	const char *close_reason;
	/* transaction */
	struct envelope tx;
	bool tx_smtputf8;
	uint64_t tx_declared_size;
	char qid[QUEUE_ID_LEN + 1];
	int fd; /* spool file, -1 when none */
	struct data_reader reader;
	struct buf out; /* content waiting to be written */
	int write_errno;
	uint64_t extra; /* bytes we added (Received, submission headers) */
	bool is_bdat;
	uint64_t bdat_left;
	bool bdat_last;
	const char *bdat_fail; /* consume the chunk, then give this reply */
	char bdat_fail_buf[SMTP_REPLY_MAX]; /* bdat_fail when it came from the queue */
	uint64_t nmessages;
	/* the guard */
	unsigned score;		 /* protocol abuse */
	struct event *ev_timer;	 /* greet delay, held AUTH answer, tarpit */
	bool tarpit_wait;	 /* a tarpit pause is running */
	int held_auth;		 /* the AUTH status held by the timer, -1: none */
	struct dnsbl_check *dnsbl; /* lookups the greeting waits for */
	bool greet_timer;	 /* the greet delay is still running */
	/* mail authentication (mx listeners) */
	struct spf_check *spf;	 /* in flight at MAIL FROM */
	enum spf_result spf_result;
	bool spf_checked;
	char spf_exp[SMTP_REPLY_MAX]; /* the explanation of a fail, made safe */
	struct msgauth *ma;	 /* DKIM and DMARC of the message */
	struct event *ev_ma;	 /* the deadline of the lookups */
	size_t hdr_start;	 /* where the client's header section starts in out */
	bool hdr_held;		 /* out holds the header section until its end */
	bool hdr_too_big;
	size_t body_mark;	 /* bytes of out already past the header section */
	unsigned ma_skip;	 /* bytes of the empty line still to skip */
	bool ma_bol;		 /* the body feed is at a line start */
	bool ma_sync;		 /* inside msgauth_run() */
	bool ma_decided;	 /* ... and it called back */
	uint64_t commit_size;	 /* bytes written to the spool file */
	uint64_t removed;	 /* bytes of forged header fields left out */
};

struct command {
	enum smtp_verb verb;
	unsigned states; /* SB() of states where the verb is allowed */
	unsigned flags;
	void (*fn)(struct session *, const char *args, size_t len);
	const char *bad_sequence; /* reply when not allowed */
};

static void session_process(struct session *s);
static bool tls_offered(const struct session *s);
static bool auth_offered(const struct session *s);
static bool owns(const struct session *s, const char *addr);
static const char *proto_name(const struct session *s);
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void session_close(struct session *s, const char *reason);
static void session_end(struct session *s, const char *reason);
static void tx_reset(struct session *s);

static void
enter_state(struct session *s, enum state st)
{
	if (log_debug_enabled() && s->state != st)
		log_debug("%s smtp state from=%s to=%s", s->sid, state_names[s->state],
			  state_names[st]);
	s->state = st;
}

static void __attribute__((format(printf, 2, 0)))
vreply(struct session *s, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

static void __attribute__((format(printf, 2, 3)))
reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

/* abuse - protocol abuse: score it, tell the guard, and say what follows
 * (the caller replies and closes when it must anyway). */
static void
abuse(struct session *s, const char *check, unsigned weight)
{
	const struct conf_guard *g = &s->cf->guard;
	const char *action = "none";

	if (!g->enabled || s->trusted)
		return;
	s->score += weight;
	if (s->score >= g->abuse_disconnect)
		action = "disconnect";
	else if (s->score >= g->abuse_tarpit)
		action = "tarpit";
	log_info("%s smtp abuse ip=%s score=%u check=%s action=%s", s->sid, s->ip, s->score, check,
		 action);
	s->env.ops->abuse(s->env.arg, s->ip, check, weight);
}

/* abuse_limit - past abuse_disconnect: 421 and close; true if so. */
static bool
abuse_limit(struct session *s)
{
	if (!s->cf->guard.enabled || s->score < s->cf->guard.abuse_disconnect ||
	    s->state == ST_CLOSING)
		return false;
	reply(s, "421 4.7.0 %s Error: too many protocol errors", s->cf->hostname);
	session_close(s, "protocol-abuse");
	return true;
}

/* error_reply - a reply that counts toward max_errors. */
static void __attribute__((format(printf, 2, 3)))
error_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->cf->limits.max_errors) {
		abuse(s, "errors", 3);
		reply(s, "421 4.7.0 %s Error: too many errors", s->cf->hostname);
		session_close(s, "too-many-errors");
	}
}

static void
set_read_timeout(struct session *s, uint64_t secs)
{
	struct timeval rt = {(time_t)secs, 0};
	struct timeval wt = {(time_t)s->cf->limits.command_timeout, 0};

	bufferevent_set_timeouts(s->bev, &rt, &wt);
}

/* Transaction management. */

static void
tx_reset(struct session *s)
{
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->qid[0] != '\0') {
		s->env.ops->abort(s->env.arg, s->qid);
		s->qid[0] = '\0';
	}
	envelope_clear(&s->tx);
	buf_free(&s->out);
	s->tx_smtputf8 = false;
	s->tx_declared_size = 0;
	s->write_errno = 0;
	s->extra = 0;
	s->is_bdat = false;
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_fail = NULL;
	spf_check_free(s->spf);
	s->spf = NULL;
	s->spf_checked = false;
	s->spf_exp[0] = '\0';
	msgauth_free(s->ma);
	s->ma = NULL;
	if (s->ev_ma != NULL)
		evtimer_del(s->ev_ma);
	s->hdr_held = false;
	s->hdr_too_big = false;
	s->body_mark = 0;
	s->ma_decided = false;
	s->removed = 0;
}

/* Commands. */

/* plus_offered - SCRAM-SHA-256-PLUS: SCRAM on, and TLS 1.3. */
static bool
plus_offered(const struct session *s)
{
	return s->cf->auth.scram_iterations != 0 && s->tls13;
}

static void
ehlo_reply(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_add_printf(out, "250-%s\r\n", s->cf->hostname);
	if (tls_offered(s))
		evbuffer_add_printf(out, "250-STARTTLS\r\n");
	if (auth_offered(s))
		evbuffer_add_printf(out, "250-AUTH PLAIN LOGIN%s%s\r\n",
				    s->cf->auth.scram_iterations ? " SCRAM-SHA-256" : "",
				    plus_offered(s) ? " SCRAM-SHA-256-PLUS" : "");
	evbuffer_add_printf(out,
			    "250-PIPELINING\r\n"
			    "250-SIZE %llu\r\n"
			    "250-8BITMIME\r\n"
			    "250-SMTPUTF8\r\n"
			    "250-ENHANCEDSTATUSCODES\r\n"
			    "250-DSN\r\n"
			    "250 CHUNKING\r\n",
			    (unsigned long long)s->cf->limits.max_message_size);
}

static void
cmd_helo(struct session *s, const char *args, size_t len, bool esmtp)
{
	if (smtp_parse_helo(args, len) == -1) {
		error_reply(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	tx_reset(s);
	memcpy(s->helo, args, len);
	s->helo[len] = '\0';
	s->esmtp = esmtp;
	if (esmtp)
		ehlo_reply(s);
	else
		reply(s, "250 %s", s->cf->hostname);
	enter_state(s, ST_IDLE);
}

static void
cmd_ehlo(struct session *s, const char *args, size_t len)
{
	cmd_helo(s, args, len, true);
}

static void
cmd_helo_plain(struct session *s, const char *args, size_t len)
{
	cmd_helo(s, args, len, false);
}

/* Mail authentication: SPF at MAIL FROM. */

/* mailauth_applies - SPF, DKIM and DMARC judge mail from the internet:
 * untrusted, unauthenticated clients of mx listeners. */
static bool
mailauth_applies(const struct session *s)
{
	return s->listener.role == ROLE_MX && !s->trusted && s->auth_user[0] == '\0';
}

static enum mailauth_action
spf_action(const struct session *s, enum spf_result r)
{
	const struct conf_mailauth *m = &s->cf->mailauth;

	switch (r) {
	case SPF_FAIL:
		return m->spf_fail;
	case SPF_SOFTFAIL:
		return m->spf_softfail;
	case SPF_PERMERROR:
		return m->spf_permerror;
	case SPF_TEMPERROR:
		return m->spf_temperror;
	default:
		return MA_ACCEPT;
	}
}

static const char *const ma_action_word[] = {"accept", "reject", "defer", "dmarc"};

/* spf_reply - the refusal for result r under action a, or NULL to go on. */
static void
spf_refusal(struct session *s, enum spf_result r, enum mailauth_action a, char *out, size_t outsz)
{
	out[0] = '\0';
	if (a == MA_DEFER)
		snprintf(out, outsz, "451 4.7.24 SPF check of <%s> failed temporarily, try later",
			 s->tx.sender);
	else if (a == MA_REJECT && r == SPF_PERMERROR)
		snprintf(out, outsz, "550 5.7.24 SPF record for <%s> is broken", s->tx.sender);
	else if (a == MA_REJECT)
		snprintf(out, outsz, "550 5.7.23 SPF %s for <%s>%s%s", spf_result_str(r),
			 s->tx.sender, s->spf_exp[0] ? ": " : "", s->spf_exp);
}

/* spf_decided - the SPF result is in: give the MAIL reply. resume: called
 * from the loop, so input processing starts again here. */
static void
spf_decided(struct session *s, bool resume)
{
	enum mailauth_action a = spf_action(s, s->spf_result);
	char refusal[SMTP_REPLY_MAX + 64], esc[LOG_ESCAPE_BUF];

	if (s->ev_ma != NULL)
		evtimer_del(s->ev_ma);
	s->spf_checked = true;
	log_info("%s smtp spf ip=%s from=<%s> helo=%s result=%s action=%s", s->sid, s->ip,
		 log_escape_str(esc, s->tx.sender), s->helo, spf_result_str(s->spf_result),
		 ma_action_word[a]);
	if (s->peer_gone) {
		session_end(s, s->close_reason);
		return;
	}
	spf_refusal(s, s->spf_result, a, refusal, sizeof(refusal));
	if (refusal[0] != '\0') {
		tx_reset(s);
		enter_state(s, ST_IDLE);
		error_reply(s, "%s", refusal);
	} else {
		reply(s, "250 2.1.0 Ok");
		enter_state(s, ST_MAIL);
	}
	if (resume) {
		bufferevent_enable(s->bev, EV_READ);
		session_process(s);
	}
}

/* safe_text - DNS-supplied text for a reply: printable ASCII, capped. */
static void
safe_text(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < outsz && o < 200; in++)
		out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[o] = '\0';
}

static void
on_spf(void *arg, enum spf_result r, const char *explanation)
{
	struct session *s = arg;

	s->spf_result = r;
	if (r == SPF_FAIL && explanation != NULL)
		safe_text(explanation, s->spf_exp, sizeof(s->spf_exp));
	spf_check_free(s->spf);
	s->spf = NULL;
	if (s->state == ST_WAIT)
		spf_decided(s, true);
	/* else: answered inside spf_start(), which goes on */
}

static void
on_mailauth_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->spf != NULL) {
		log_info("%s smtp spf-timeout ip=%s", s->sid, s->ip);
		spf_check_free(s->spf); /* a late answer is dropped */
		s->spf = NULL;
		s->spf_result = SPF_TEMPERROR;
		spf_decided(s, true);
	} else if (s->ma != NULL) {
		log_info("%s smtp mailauth-timeout ip=%s id=%s", s->sid, s->ip, s->qid);
		msgauth_deadline(s->ma);
	}
}

static void
arm_mailauth_timer(struct session *s)
{
	struct timeval tv = {(time_t)s->cf->mailauth.dns_timeout, 0};

	if (s->ev_ma == NULL)
		s->ev_ma = evtimer_new(s->env.base, on_mailauth_timeout, s);
	evtimer_add(s->ev_ma, &tv);
}

/* spf_start - check_host() for the sender (or the HELO name for the null
 * sender); the MAIL reply waits for it. */
static void
spf_start(struct session *s)
{
	struct spf_resolver res;
	struct spf_params p = {0};

	resolver_init(&res, s->env.dns);
	p.ip = s->ip;
	p.mailfrom = s->tx.sender;
	p.helo = s->helo;
	p.receiver = s->cf->hostname;
	p.now = (long long)time(NULL);
	s->spf_result = SPF_NONE;
	s->spf = spf_check_new(&res, &p, on_spf, s);
	if (s->spf == NULL) {
		spf_decided(s, false);
		return;
	}
	arm_mailauth_timer(s);
	spf_check_start(s->spf);
	if (s->spf == NULL) {
		spf_decided(s, false); /* answered at once */
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
	enter_state(s, ST_WAIT);
}

static void
cmd_mail(struct session *s, const char *args, size_t len)
{
	char err[SMTP_REPLY_MAX];
	struct smtp_path path;
	struct mail_params mp;

	if (smtp_parse_mail(args, len, &path, &mp, err) == -1) {
		error_reply(s, "%s", err);
		return;
	}
	if (s->listener.role == ROLE_SUBMISSION && !s->trusted && s->auth_user[0] == '\0') {
		error_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if (s->auth_user[0] != '\0' && (path.null || !owns(s, path.addr))) {
		char esc[LOG_ESCAPE_BUF];

		log_info("%s smtp reject reason=sender-not-owned ip=%s user=%s from=<%s>", s->sid,
			 s->ip, s->auth_user, log_escape_str(esc, path.addr));
		error_reply(s, "553 5.7.1 <%s>: sender address not owned by user %s", path.addr,
			    s->auth_user);
		return;
	}
	if (!s->esmtp && (mp.has_size || mp.body || mp.smtputf8 || mp.ret || mp.envid[0])) {
		error_reply(s, "555 5.5.4 MAIL parameters need EHLO");
		return;
	}
	if (path.utf8 && !mp.smtputf8) {
		error_reply(s, "553 5.6.7 Non-ASCII sender address needs SMTPUTF8");
		return;
	}
	if (mp.has_size && mp.size > s->cf->limits.max_message_size) {
		error_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (s->auth_user[0] != '\0' && !s->env.ops->rate(s->env.arg, RATE_MESSAGE, s->auth_user)) {
		log_info("%s smtp refuse reason=user-message-rate ip=%s user=%s", s->sid, s->ip,
			 s->auth_user);
		reply(s, "451 4.7.1 Message rate limit of your account reached, try later");
		return;
	}
	tx_reset(s);
	str_copy(s->tx.sender, path.null ? "" : path.addr, sizeof(s->tx.sender));
	s->tx.ret = mp.ret;
	str_copy(s->tx.envid, mp.envid, sizeof(s->tx.envid));
	s->tx.body = mp.body;
	s->tx.smtputf8 = mp.smtputf8;
	s->tx_smtputf8 = mp.smtputf8;
	s->tx_declared_size = mp.size;
	if (mailauth_applies(s) && s->cf->mailauth.spf && s->env.dns != NULL) {
		spf_start(s);
		return;
	}
	reply(s, "250 2.1.0 Ok");
	enter_state(s, ST_MAIL);
}

/* postmaster_rcpt - RFC 5321 4.5.1: <Postmaster> must be accepted. */
static void
postmaster_rcpt(struct session *s, struct env_rcpt *r)
{
	const char *dom = s->cf->hostname;

	for (size_t i = 0; conf_find_receiving(s->cf, dom) == NULL && i < s->cf->ndomains; i++)
		if (s->cf->domains[i].deliver.spec[0] != '\0')
			dom = s->cf->domains[i].name;
	snprintf(r->addr, sizeof(r->addr), "postmaster@%s", dom);
	str_copy(r->domain, dom, sizeof(r->domain));
}

/* may_relay_to - the relay decision for one recipient domain. */
static bool
may_relay_to(const struct session *s, const char *domain)
{
	if (s->trusted || s->auth_user[0] != '\0')
		return true;
	if (s->listener.role == ROLE_MX && conf_find_receiving(s->cf, domain) != NULL)
		return true;
	return false;
}

static void
cmd_rcpt(struct session *s, const char *args, size_t len)
{
	char err[SMTP_REPLY_MAX], esc[LOG_ESCAPE_BUF];
	struct smtp_path path;
	struct rcpt_params rp;
	struct env_rcpt r;

	if (smtp_parse_rcpt(args, len, &path, &rp, err) == -1) {
		error_reply(s, "%s", err);
		return;
	}
	if (!s->esmtp && (rp.notify || rp.orcpt[0])) {
		error_reply(s, "555 5.5.4 RCPT parameters need EHLO");
		return;
	}
	if (path.utf8 && !s->tx_smtputf8) {
		error_reply(s, "553 5.6.7 Non-ASCII recipient address needs SMTPUTF8");
		return;
	}
	if (s->tx.nrcpts >= s->cf->limits.max_recipients) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	memset(&r, 0, sizeof(r));
	if (path.postmaster) {
		postmaster_rcpt(s, &r);
	} else {
		str_copy(r.addr, path.addr, sizeof(r.addr));
		str_copy(r.domain, path.domain, sizeof(r.domain));
	}
	if (!path.postmaster && !may_relay_to(s, r.domain)) {
		if (s->listener.role == ROLE_SUBMISSION) {
			error_reply(s, "530 5.7.0 Authentication required");
			return;
		}
		log_info("%s smtp reject reason=relay-denied ip=%s rcpt=\"%s\"", s->sid, s->ip,
			 log_escape_str(esc, r.addr));
		error_reply(s, "554 5.7.1 <%s>: Relay access denied", r.addr);
		return;
	}
	if (s->auth_user[0] != '\0' && !s->env.ops->rate(s->env.arg, RATE_RCPT, s->auth_user)) {
		log_info("%s smtp refuse reason=user-recipient-rate ip=%s user=%s", s->sid, s->ip,
			 s->auth_user);
		reply(s, "451 4.7.1 Recipient rate limit of your account reached, try later");
		return;
	}
	r.notify = rp.notify;
	str_copy(r.orcpt, rp.orcpt, sizeof(r.orcpt));
	envelope_add_rcpt(&s->tx, &r);
	reply(s, "250 2.1.5 Ok");
	enter_state(s, ST_RCPT);
}

/* start_content - ask the queue for a spool file; input waits meanwhile. */
static void
start_content(struct session *s, bool bdat)
{
	struct timespec ts;

	s->is_bdat = bdat;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->tx.arrival = (uint64_t)ts.tv_sec;
	str_copy(s->tx.client_ip, s->ip, sizeof(s->tx.client_ip));
	str_copy(s->tx.helo, s->helo, sizeof(s->tx.helo));
	str_copy(s->tx.proto, proto_name(s), sizeof(s->tx.proto));
	s->tx.submission = s->listener.role == ROLE_SUBMISSION;
	s->tx.originated = s->trusted || s->auth_user[0] != '\0';
	data_init(&s->reader, bdat ? DATA_MODE_BDAT : DATA_MODE_DOT,
		  s->cf->limits.line_endings == LINE_ENDINGS_NORMALIZE,
		  s->cf->limits.max_data_line_length, s->cf->limits.max_message_size);
	/* Input stays enabled (bounded by the read watermark): the loop simply
	 * does not process it until the queue answers, and an EOF is seen. */
	enter_state(s, ST_WAIT);
	s->env.ops->open(s->env.arg, s->id, &s->tx);
}

static void
cmd_data(struct session *s, const char *args, size_t len)
{
	(void)args;
	if (len != 0) {
		error_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->is_bdat) {
		error_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	start_content(s, false);
}

static void
cmd_bdat(struct session *s, const char *args, size_t len)
{
	char err[SMTP_REPLY_MAX];
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(args, len, &size, &last, err) == -1) {
		/* The chunk length is unknown: the session cannot stay in sync. */
		reply(s, "%s", err);
		session_close(s, "bad-bdat");
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	if (s->state == ST_IDLE || s->state == ST_CONNECTED || s->state == ST_MAIL) {
		s->bdat_fail = s->state == ST_MAIL ? "554 5.5.1 Error: no valid recipients"
						   : "503 5.5.1 Error: need MAIL and RCPT first";
		s->errors++;
		enter_state(s, ST_CONTENT);
		return;
	}
	if (s->state == ST_RCPT) {
		start_content(s, true);
		return;
	}
	enter_state(s, ST_CONTENT); /* ST_BDAT: the next chunk */
}

static void
cmd_rset(struct session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	tx_reset(s);
	reply(s, "250 2.0.0 Ok");
	enter_state(s, s->state == ST_CONNECTED ? ST_CONNECTED : ST_IDLE);
}

static void
cmd_noop(struct session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	reply(s, "221 2.0.0 Bye");
	session_close(s, "quit");
}

static void
cmd_help(struct session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY\r\n"
		 "214 2.0.0 See RFC 5321");
}

static void
cmd_vrfy(struct session *s, const char *args, size_t len)
{
	(void)args;
	if (len == 0) {
		error_reply(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_expn(struct session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	error_reply(s, "502 5.5.1 Error: EXPN not available");
}

/* tls_offered - does EHLO list STARTTLS now? */
static bool
tls_offered(const struct session *s)
{
	return !s->tls_on && s->tls != NULL &&
	       (s->listener.tls == LTLS_STARTTLS || s->listener.tls == LTLS_REQUIRED);
}

/* proto_name - RFC 3848 / RFC 6531 protocol type for Received. */
static const char *
proto_name(const struct session *s)
{
	if (s->tx_smtputf8)
		return s->tls_on ? "UTF8SMTPS" : "UTF8SMTP";
	if (!s->esmtp)
		return "SMTP";
	if (s->auth_user[0] != '\0')
		return "ESMTPSA"; /* AUTH happens only over TLS */
	return s->tls_on ? "ESMTPS" : "ESMTP";
}

/* tls_start - TLS on the connection's socket (accepting side): from the
 * first byte (implicit) or once the 220 to STARTTLS has been written. */
static int
tls_start(struct session *s)
{
	SSL *ssl;
	struct bufferevent *bev;
	struct timeval tv = {(time_t)s->cf->limits.tls_handshake_timeout, 0};
	evutil_socket_t fd = bufferevent_getfd(s->bev);

	ssl = tls_server_ssl(s->tls);
	if (ssl == NULL) {
		log_debug("%s smtp: SSL_new failed", s->sid);
		return -1;
	}
	bev = bufferevent_openssl_socket_new(s->env.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_debug("%s smtp: bufferevent_openssl_socket_new failed fd=%d", s->sid, (int)fd);
		SSL_free(ssl);
		return -1;
	}
	/* The plain bufferevent hands the socket over. */
	bufferevent_setfd(s->bev, -1);
	bufferevent_free(s->bev);
	s->bev = bev;
	s->tls_handshaking = true;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setwatermark(bev, EV_READ, 0, 256 * 1024);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return 0;
}

static void
cmd_starttls(struct session *s, const char *args, size_t len)
{
	(void)args;
	if (s->tls_on) {
		error_reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (!tls_offered(s)) {
		error_reply(s, "502 5.5.1 Error: STARTTLS not available");
		return;
	}
	if (len != 0) {
		error_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: everything from before is forgotten. */
	tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	enter_state(s, ST_STARTTLS);
	/* on_write starts TLS once the 220 is on its way; nothing is read in
	 * plaintext meanwhile (anything pipelined was refused above). */
	bufferevent_disable(s->bev, EV_READ);
}

/* starttls_now - the 220 is written: the socket is TLS's from here. */
static void
starttls_now(struct session *s)
{
	char e[256];

	enter_state(s, ST_CONNECTED);
	if (tls_start(s) == -1) {
		log_info("%s smtp tls-setup-failed ip=%s reason=\"%s\"", s->sid, s->ip,
			 tls_error(e, sizeof(e)));
		session_end(s, "tls-setup");
	}
}

/* auth_offered - AUTH is listed (and accepted) only on submission
 * listeners, only once TLS is up, only once per session. */
static bool
auth_offered(const struct session *s)
{
	return s->tls_on && s->listener.role == ROLE_SUBMISSION && s->auth_user[0] == '\0' &&
	       s->env.ops->auth_begin != NULL;
}

/* auth_mech - 1 PLAIN, 2 LOGIN, 3 SCRAM-SHA-256, 4 SCRAM-SHA-256-PLUS
 * (enum auth_mech), or 0 for one not offered here. */
static int
auth_mech(const struct session *s, const char *name, size_t len)
{
	if (len == 5 && strncasecmp(name, "PLAIN", 5) == 0)
		return 1;
	if (len == 5 && strncasecmp(name, "LOGIN", 5) == 0)
		return 2;
	if (len == 13 && strncasecmp(name, "SCRAM-SHA-256", 13) == 0 &&
	    s->cf->auth.scram_iterations != 0)
		return 3;
	if (len == 18 && strncasecmp(name, "SCRAM-SHA-256-PLUS", 18) == 0 && plus_offered(s))
		return 4;
	return 0;
}

static void
cmd_auth(struct session *s, const char *args, size_t len)
{
	uint8_t initial[SASL_MAX], cb[32];
	size_t mlen = 0, ilen = 0, cblen = 0;
	int mech;

	/* RFC 4954 4: never credentials in the clear. */
	if (!s->tls_on) {
		error_reply(s, "538 5.7.11 Encryption required for requested authentication "
			       "mechanism");
		return;
	}
	if (s->auth_user[0] != '\0') {
		error_reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (!auth_offered(s)) {
		error_reply(s, "502 5.5.1 Error: authentication not available here");
		return;
	}
	if (s->state != ST_IDLE) {
		error_reply(s, "503 5.5.1 Error: AUTH only between transactions, after EHLO");
		return;
	}
	while (mlen < len && args[mlen] != ' ')
		mlen++;
	mech = auth_mech(s, args, mlen);
	if (mech == 0) {
		error_reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (!s->trusted && !s->env.ops->rate(s->env.arg, RATE_AUTH, s->ip)) {
		log_info("%s smtp refuse reason=auth-rate ip=%s", s->sid, s->ip);
		reply(s, "454 4.7.0 Too many authentication attempts from your address, try later");
		return;
	}
	if (mlen < len) {
		const char *ir = args + mlen + 1;

		if (sasl_b64_decode(ir, len - mlen - 1, initial, &ilen) == -1) {
			error_reply(s, "501 5.5.2 Cannot decode the initial response");
			return;
		}
	}
	if (mech == 4) {
		/* RFC 9266: the tls-exporter channel binding of this connection */
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

		if (ssl == NULL || SSL_export_keying_material(ssl, cb, sizeof(cb),
							      "EXPORTER-Channel-Binding", 24, NULL,
							      0, 0) != 1) {
			reply(s, "454 4.7.0 Temporary authentication failure, try again later");
			return;
		}
		cblen = sizeof(cb);
	}
	s->auth_return = s->state;
	enter_state(s, ST_AUTH_WAIT);
	s->env.ops->auth_begin(s->env.arg, s->id, mech, s->ip, s->tls_on, initial, ilen,
			       mlen < len, cb, cblen, plus_offered(s));
	sodium_memzero(initial, sizeof(initial));
}

/* auth_line - the client's response to a 334 challenge. */
static void
auth_line(struct session *s, const char *line, size_t len)
{
	uint8_t data[SASL_MAX];
	size_t n;

	if (len == 1 && line[0] == '*') {
		s->env.ops->auth_cancel(s->env.arg, s->id);
		enter_state(s, s->auth_return);
		error_reply(s, "501 5.7.0 Authentication cancelled");
		return;
	}
	/* An empty line is an empty response (RFC 4954 4), as SCRAM's last
	 * round has it. */
	if (len == 0)
		n = 0;
	else if (sasl_b64_decode(line, len, data, &n) == -1) {
		s->env.ops->auth_cancel(s->env.arg, s->id);
		enter_state(s, s->auth_return);
		error_reply(s, "501 5.5.2 Cannot decode the response");
		return;
	}
	enter_state(s, ST_AUTH_WAIT);
	s->env.ops->auth_step(s->env.arg, s->id, data, n);
	sodium_memzero(data, sizeof(data));
}

static void
auth_forget(struct session *s)
{
	size_t i;

	for (i = 0; i < s->nauth_addrs; i++)
		free(s->auth_addrs[i]);
	free(s->auth_addrs);
	s->auth_addrs = NULL;
	s->nauth_addrs = 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

/* start_timer - one timer per session serves the greet delay, a held AUTH
 * refusal and a tarpit pause (never two at once). */
static void
start_timer(struct session *s, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	if (s->ev_timer == NULL)
		s->ev_timer = evtimer_new(s->env.base, on_timer, s);
	evtimer_add(s->ev_timer, &tv);
}

void
session_auth_answer(struct session *s, int status, const uint8_t *challenge, size_t len,
		    const char *user, char **addresses, size_t naddresses, int expires_days,
		    uint32_t delay_ms)
{
	struct buf b64 = BUF_INIT;
	char esc[LOG_ESCAPE_BUF];
	size_t i;

	if (s->state != ST_AUTH_WAIT)
		log_bug("%s smtp: auth answer in state %s", s->sid, state_names[s->state]);
	if (s->peer_gone) {
		session_end(s, s->close_reason);
		return;
	}
	if (delay_ms > 0 && (status == 2 || status == 3) && s->held_auth == -1) {
		/* The guard's tarpit: the refusal waits; so does the client. */
		s->held_auth = status;
		start_timer(s, delay_ms);
		return;
	}
	s->held_auth = -1;
	bufferevent_enable(s->bev, EV_READ);
	switch (status) {
	case 0: /* AUTH_CONTINUE */
		sasl_b64_encode(challenge, len, &b64);
		reply(s, "334 %s", buf_cstr(&b64));
		buf_free(&b64);
		enter_state(s, ST_AUTH_LINE);
		break;
	case 1: /* AUTH_OK */
		enter_state(s, s->auth_return);
		str_copy(s->auth_user, user, sizeof(s->auth_user));
		auth_forget(s);
		s->auth_addrs = xcalloc(naddresses ? naddresses : 1, sizeof(char *));
		for (i = 0; i < naddresses; i++)
			s->auth_addrs[i] = xstrdup(addresses[i]);
		s->nauth_addrs = naddresses;
		log_info("%s smtp authenticated ip=%s user=\"%s\"", s->sid, s->ip,
			 log_escape_str(esc, user));
		if (expires_days >= 0)
			reply(s, "235 2.7.0 Authentication successful; your password expires in %d "
				 "day%s, please change it",
			      expires_days, expires_days == 1 ? "" : "s");
		else
			reply(s, "235 2.7.0 Authentication successful");
		break;
	case 3: /* AUTH_TEMPFAIL */
		enter_state(s, s->auth_return);
		reply(s, "454 4.7.0 Temporary authentication failure, try again later");
		break;
	case 4: /* AUTH_EXPIRED */
		enter_state(s, s->auth_return);
		error_reply(s, "432 4.7.12 A password transition is needed: change your password");
		break;
	case 6: /* AUTH_WEAK */
		enter_state(s, s->auth_return);
		error_reply(s, "534 5.7.9 Authentication mechanism is too weak for this account: use "
			       "PLAIN or LOGIN with an app password");
		break;
	case 5: /* AUTH_MALFORMED */
		enter_state(s, s->auth_return);
		error_reply(s, "501 5.5.2 Syntax error in the SASL message");
		break;
	default: /* AUTH_FAIL */
		enter_state(s, s->auth_return);
		error_reply(s, "535 5.7.8 Authentication credentials invalid");
		break;
	}
	session_process(s);
}

/* owns - may the authenticated user send as addr? Its own addresses, or
 * any address of a domain granted as "@domain". */
static bool
owns(const struct session *s, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t i;

	for (i = 0; i < s->nauth_addrs; i++) {
		const char *a = s->auth_addrs[i];

		if (a[0] == '@' ? (at != NULL && strcasecmp(a + 1, at + 1) == 0)
				: strcasecmp(a, addr) == 0)
			return true;
	}
	return false;
}

#define ANY_GREETED (SB(ST_IDLE) | SB(ST_MAIL) | SB(ST_RCPT) | SB(ST_BDAT))
#define ANY (SB(ST_CONNECTED) | ANY_GREETED)

static const struct command commands[] = {
	{VERB_EHLO, ANY & ~SB(ST_BDAT), F_LAST | F_PRE_TLS, cmd_ehlo,
	 "503 5.5.1 Error: finish BDAT first"},
	{VERB_HELO, ANY & ~SB(ST_BDAT), F_LAST | F_PRE_TLS, cmd_helo_plain,
	 "503 5.5.1 Error: finish BDAT first"},
	{VERB_MAIL, SB(ST_IDLE), 0, cmd_mail, NULL},
	{VERB_RCPT, SB(ST_MAIL) | SB(ST_RCPT), 0, cmd_rcpt, "503 5.5.1 Error: need MAIL command"},
	{VERB_DATA, SB(ST_RCPT), F_LAST, cmd_data, NULL},
	{VERB_BDAT, ANY, 0, cmd_bdat, NULL},
	{VERB_RSET, ANY, F_PRE_TLS, cmd_rset, NULL},
	{VERB_NOOP, ANY, F_LAST | F_PRE_TLS, cmd_noop, NULL},
	{VERB_QUIT, ANY, F_LAST | F_PRE_TLS, cmd_quit, NULL},
	{VERB_HELP, ANY, 0, cmd_help, NULL},
	{VERB_VRFY, ANY & ~SB(ST_BDAT), F_LAST, cmd_vrfy, "503 5.5.1 Error: finish BDAT first"},
	{VERB_EXPN, ANY, F_LAST, cmd_expn, NULL},
	{VERB_STARTTLS, ANY & ~SB(ST_BDAT), F_LAST | F_PRE_TLS, cmd_starttls,
	 "503 5.5.1 Error: finish BDAT first"},
	/* AUTH reaches its own check before TLS: 538, not 530 (RFC 4954 4). */
	{VERB_AUTH, ANY, F_LAST | F_PRE_TLS, cmd_auth, NULL},
};

/* bad_sequence - the reply for a verb used in the wrong state. */
static const char *
bad_sequence(const struct session *s, const struct command *c)
{
	if (s->state == ST_CONNECTED)
		return "503 5.5.1 Error: send HELO/EHLO first";
	if (c->bad_sequence != NULL && (s->state != ST_BDAT || c->verb != VERB_RCPT))
		return c->bad_sequence;
	switch (c->verb) {
	case VERB_MAIL:
		return "503 5.5.1 Error: nested MAIL command";
	case VERB_DATA:
		if (s->state == ST_MAIL)
			return "554 5.5.1 Error: no valid recipients";
		if (s->state == ST_BDAT)
			return "503 5.5.1 Error: DATA after BDAT";
		return "503 5.5.1 Error: need RCPT command";
	default:
		return "503 5.5.1 Error: bad sequence of commands";
	}
}

static const struct command *
find_command(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < nitems(commands); i++)
		if (commands[i].verb == verb)
			return &commands[i];
	return NULL;
}

/* pipelining_violation - RFC 2920 3.1: input already waiting behind a
 * command that must end a group, or any pipelining without PIPELINING. */
static bool
pipelining_violation(struct session *s, const struct command *c)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (evbuffer_get_length(in) == 0)
		return false;
	if (c->verb == VERB_BDAT)
		return false; /* chunk data follows the command by design */
	return !s->esmtp || (c->flags & F_LAST);
}

static void
handle_command(struct session *s, const char *line, size_t len)
{
	char esc[LOG_ESCAPE_BUF];
	const struct command *c;
	struct smtp_cmd cmd;

	smtp_cmd_parse(line, len, &cmd);
	c = find_command(cmd.verb);
	if (c == NULL) {
		log_info("%s smtp unknown-command ip=%s line=\"%s\"", s->sid, s->ip,
			 log_escape(esc, line, len));
		if (smtp_is_http(line, len)) {
			abuse(s, "non-smtp", 5);
			reply(s, "521 5.5.1 %s Error: this is an SMTP server", s->cf->hostname);
			session_close(s, "non-smtp");
			return;
		}
		abuse(s, "unknown-command", 1);
		if (abuse_limit(s))
			return;
		error_reply(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if (s->listener.tls == LTLS_REQUIRED && !s->tls_on && !(c->flags & F_PRE_TLS)) {
		error_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (!(c->states & SB(s->state))) {
		error_reply(s, "%s", bad_sequence(s, c));
		return;
	}
	if (pipelining_violation(s, c)) {
		log_info("%s smtp reject reason=pipelining ip=%s after=%s", s->sid, s->ip,
			 smtp_verb_name(cmd.verb));
		abuse(s, "pipelining", 3);
		reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
		session_close(s, "pipelining");
		return;
	}
	c->fn(s, cmd.args, cmd.argslen);
}

/* read_line - the next command line from input, CRLF removed. Returns 1
 * with the line in *line, 0 when incomplete, -1 when the session ends. */
static int
read_line(struct session *s, struct buf *line)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);
	size_t len, max = s->cf->limits.max_command_length;
	bool bare;

	/* A SASL response holds up to SASL_MAX bytes, base64-encoded. */
	if (s->state == ST_AUTH_LINE && max < (SASL_MAX / 3) * 4 + 4)
		max = (SASL_MAX / 3) * 4 + 4;

	if (p.pos == -1) {
		if (evbuffer_get_length(in) > max + 2) {
			reply(s, "500 5.5.2 Error: line too long");
			session_close(s, "line-too-long");
			return -1;
		}
		return 0;
	}
	len = (size_t)p.pos;
	if (len > max + 1) {
		reply(s, "500 5.5.2 Error: line too long");
		session_close(s, "line-too-long");
		return -1;
	}
	buf_reset(line);
	buf_reserve(line, len + 1);
	evbuffer_remove(in, line->data, len + 1);
	line->len = len;
	bare = len == 0 || line->data[len - 1] != '\r';
	if (bare && s->cf->limits.line_endings == LINE_ENDINGS_STRICT) {
		abuse(s, "bare-newline", 3);
		reply(s, "521 5.5.2 %s Error: bare <LF> received", s->cf->hostname);
		session_close(s, "bare-lf");
		return -1;
	}
	if (!bare)
		len--;
	if (memchr(line->data, '\r', len) != NULL) {
		abuse(s, "bare-newline", 3);
		reply(s, "521 5.5.2 %s Error: bare <CR> received", s->cf->hostname);
		session_close(s, "bare-cr");
		return -1;
	}
	line->len = len;
	line->data[len] = '\0';
	return 1;
}

/* Content. */

/* ma_body - body bytes of the spool (wire form) to the DKIM verifier,
 * without the empty line that ends the header section and without the
 * dot-stuffing. */
static void
ma_body(struct session *s, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *nl;
		size_t end;

		if (s->ma_skip > 0) {
			size_t k = n - i < s->ma_skip ? n - i : s->ma_skip;

			i += k;
			s->ma_skip -= (unsigned)k;
			continue;
		}
		if (s->ma_bol && p[i] == '.') {
			i++;
			s->ma_bol = false;
			continue;
		}
		nl = memchr(p + i, '\n', n - i);
		end = nl != NULL ? (size_t)(nl - p) + 1 : n;
		msgauth_body(s->ma, p + i, end - i);
		s->ma_bol = nl != NULL;
		i = end;
	}
}

/* flush_content - write what out holds to the spool file; the header
 * section is held back (up to max_header_size) until it is complete. */
static void
flush_content(struct session *s)
{
	if (s->out.len == 0)
		return;
	if (s->hdr_held) {
		if (s->out.len - s->hdr_start <= s->cf->limits.max_header_size)
			return;
		/* refused at the end of the content: forged fields could hide in
		 * what can no longer be filtered */
		s->hdr_too_big = true;
		s->hdr_held = false;
		msgauth_free(s->ma);
		s->ma = NULL;
	}
	if (s->ma != NULL && s->body_mark < s->out.len)
		ma_body(s, s->out.data + s->body_mark, s->out.len - s->body_mark);
	s->body_mark = 0;
	if (s->fd != -1 && s->write_errno == 0 && write_all(s->fd, s->out.data, s->out.len) == -1)
		s->write_errno = errno ? errno : EIO;
	buf_reset(&s->out);
}

/* authserv_id - our name in Authentication-Results. */
static const char *
authserv_id(const struct session *s)
{
	return s->cf->mailauth.authserv_id != NULL ? s->cf->mailauth.authserv_id
						   : s->cf->hostname;
}

/* header_field_done - one whole field (wire form) of the held header
 * section: kept, or dropped when it is an Authentication-Results that
 * claims to be ours (RFC 8601 5). */
static void
header_field_done(struct session *s, const char *f, size_t n, struct buf *keep, struct buf *plain)
{
	static const char ar[] = "Authentication-Results";
	const char *colon = memchr(f, ':', n);
	size_t name = colon != NULL ? (size_t)(colon - f) : 0, i;

	while (name > 0 && (f[name - 1] == ' ' || f[name - 1] == '\t'))
		name--;
	if (name == sizeof(ar) - 1 && strncasecmp(f, ar, name) == 0 &&
	    authres_is_ours(colon + 1, n - (size_t)(colon + 1 - f), authserv_id(s))) {
		log_info("%s smtp removed-header name=Authentication-Results ip=%s id=%s", s->sid,
			 s->ip, s->qid);
		return;
	}
	buf_add(keep, f, n);
	if (s->ma == NULL)
		return;
	for (i = 0; i < n; i++)
		if (!(f[i] == '.' && (i == 0 || f[i - 1] == '\n')))
			buf_addc(plain, f[i]);
}

/* header_done - the header section is complete: filter it and hand it to
 * the verifier. body: an empty line and a body follow. */
static void
header_done(struct session *s, bool body)
{
	struct buf keep = BUF_INIT, plain = BUF_INIT;
	const char *p, *end, *field;

	if (!s->hdr_held)
		return;
	s->hdr_held = false;
	p = field = s->out.data + s->hdr_start;
	end = s->out.data + s->out.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl != NULL ? nl + 1 : end;

		if (p != field && *p != ' ' && *p != '\t') {
			header_field_done(s, field, (size_t)(p - field), &keep, &plain);
			field = p;
		}
		p = next;
	}
	if (field < end)
		header_field_done(s, field, (size_t)(end - field), &keep, &plain);
	/* what was removed was counted by the reader: take it off the size */
	s->removed += (s->out.len - s->hdr_start) - keep.len;
	s->out.len = s->hdr_start;
	buf_add(&s->out, keep.data, keep.len);
	if (s->ma != NULL) {
		if (body)
			buf_adds(&plain, "\r\n");
		msgauth_header(s->ma, plain.data != NULL ? plain.data : "", plain.len);
		s->ma_skip = body ? 2 : 0;
		s->ma_bol = true;
	}
	s->body_mark = s->out.len;
	buf_free(&keep);
	buf_free(&plain);
}

static void
add_submission_headers(struct session *s)
{
	char date[64];
	size_t before = s->out.len;

	if (!s->tx.submission)
		return;
	if (!(s->reader.seen & DATA_SEEN_DATE)) {
		header_date(time(NULL), date, sizeof(date));
		buf_addf(&s->out, "Date: %s\r\n", date);
	}
	if (!(s->reader.seen & DATA_SEEN_MSGID))
		buf_addf(&s->out, "Message-ID: <%s.%llu@%s>\r\n", s->qid,
			 (unsigned long long)s->tx.arrival, s->cf->hostname);
	s->extra += s->out.len - before;
}

/* from_not_owned - for an authenticated user: the From: header must name
 * only addresses the user owns (practice 1). The reply, or NULL. */
static const char *
from_not_owned(struct session *s)
{
	struct addrlist l;
	size_t i;

	if (s->auth_user[0] == '\0' || s->reader.nfrom == 0)
		return NULL;
	if (s->reader.nfrom > 1)
		return "550 5.7.1 Error: more than one From: header";
	if (s->reader.from_too_long ||
	    addrlist_parse(s->reader.from, s->reader.fromlen, &l) == -1)
		return "553 5.7.1 Error: cannot read the From: header";
	/* RFC 5322 3.6.2: From: is a mailbox-list; a group's name could pose
	 * as an address in a reader's display. */
	if (l.groups > 0)
		return "553 5.7.1 Error: a group is not allowed in the From: header";
	for (i = 0; i < l.n; i++)
		if (!owns(s, l.addr[i]))
			return "553 5.7.1 Error: From: header address not owned by the "
			       "authenticated user";
	return NULL;
}

/* content_failed - the reply for a message that cannot be accepted, or NULL. */
static const char *
content_failed(struct session *s)
{
	if (s->reader.too_big)
		return "552 5.3.4 Error: message too big";
	if (s->reader.line_too_long)
		return "554 5.6.0 Error: message line too long";
	if (s->write_errno == ENOSPC || s->write_errno == EDQUOT || s->write_errno == EFBIG)
		return "452 4.3.1 Error: insufficient system storage";
	if (s->write_errno != 0)
		return "451 4.3.0 Error: queue file write error";
	if (s->hdr_too_big)
		return "552 5.3.4 Error: message header section too big";
	return from_not_owned(s);
}

/* mailauth_headers - Received-SPF and Authentication-Results for the
 * queue to put above the message. */
static void
mailauth_headers(struct session *s, struct buf *out)
{
	if (s->spf_checked) {
		struct received_spf rs = {0};

		rs.result = spf_result_str(s->spf_result);
		rs.receiver = s->cf->hostname;
		rs.client_ip = s->ip;
		rs.envelope_from = s->tx.sender;
		rs.helo = s->helo;
		rs.identity = s->tx.sender[0] != '\0' ? "mailfrom" : "helo";
		if (received_spf_compose(&rs, out) == -1)
			log_warnx("%s smtp received-spf-unwritable id=%s", s->sid, s->qid);
	}
	if (msgauth_authres(s->ma, out) == -1)
		log_warnx("%s smtp authres-unwritable id=%s authserv_id=%s", s->sid, s->qid,
			  authserv_id(s));
}

/* mailauth_verdict - the refusal for the message (into refusal) or the
 * quarantine reason (into reason); both empty: deliver. */
static void
mailauth_verdict(struct session *s, const struct msgauth_result *r, char *refusal, size_t rsz,
		 char *reason, size_t qsz)
{
	const struct conf_mailauth *m = &s->cf->mailauth;
	bool enforce = m->dmarc_enforce && s->env.psl != NULL && m->dmarc;
	const char *dom = r->decisive != NULL ? r->decisive->domain : "";

	refusal[0] = reason[0] = '\0';
	if (enforce && r->action == DMARC_ACT_REJECT)
		snprintf(refusal, rsz, "550 5.7.1 Message rejected: DMARC policy of %s", dom);
	else if (enforce && r->dmarc_result == DMARC_TEMPERROR)
		snprintf(refusal, rsz,
			 "451 4.4.3 DMARC check of %s failed temporarily (DNS), try again later",
			 dom);
	else if (s->spf_checked && spf_action(s, s->spf_result) == MA_DMARC &&
		 (r->dmarc_result == DMARC_NONE || r->dmarc_result == DMARC_PERMERROR))
		snprintf(refusal, rsz, "550 5.7.23 SPF %s for <%s> and no DMARC policy to decide",
			 spf_result_str(s->spf_result), s->tx.sender);
	else if (enforce && r->action == DMARC_ACT_QUARANTINE)
		snprintf(reason, qsz, "dmarc=fail policy=quarantine header.from=%s", dom);
}

/* report_evals - what was decided, per From domain whose policy asks for
 * aggregate reports (rua=), to the queue's report store. applied: the
 * disposition we gave the message. */
static void
report_evals(struct session *s, const struct msgauth_result *r, enum dmarc_policy applied)
{
	struct dmarc_eval *e;
	const char *at;
	size_t i, k;

	if (s->cf->mailauth.dmarc_report_from == NULL)
		return;
	e = xmalloc(sizeof(*e));
	for (i = 0; i < r->ndmarc; i++) {
		const struct msgauth_dmarc *d = &r->dmarc[i];

		if (!d->have_record || d->rec.nrua == 0)
			continue;
		memset(e, 0, sizeof(*e));
		e->time = (int64_t)time(NULL);
		str_copy(e->source_ip, s->ip, sizeof(e->source_ip));
		str_copy(e->header_from, d->domain, sizeof(e->header_from));
		at = strrchr(s->tx.sender, '@');
		str_copy(e->envelope_from, at != NULL ? at + 1 : "", sizeof(e->envelope_from));
		if (s->tx.nrcpts > 0)
			str_copy(e->envelope_to, s->tx.rcpts[0].domain, sizeof(e->envelope_to));
		if (dmarc_eval_set_policy(e, d->policy_domain, &d->rec) == -1)
			continue;
		e->disposition = d->result == DMARC_FAIL ? applied : DMARC_P_NONE;
		e->dkim_pass = d->dkim_aligned;
		e->spf_pass = d->spf_aligned;
		if (d->sampled_out)
			e->override = DMARC_OVERRIDE_SAMPLED_OUT;
		else if (d->result == DMARC_FAIL && (unsigned)e->disposition < (unsigned)d->action)
			e->override = DMARC_OVERRIDE_LOCAL_POLICY;
		for (k = 0; k < r->ndkim && e->ndkim < DMARC_REPORT_DKIM_MAX; k++, e->ndkim++) {
			str_copy(e->dkim[e->ndkim].domain, r->dkim[k].d, sizeof(e->dkim[0].domain));
			str_copy(e->dkim[e->ndkim].selector, r->dkim[k].s, sizeof(e->dkim[0].selector));
			e->dkim[e->ndkim].result = dmarc_dkim_result_of(r->dkim[k].result);
		}
		if (s->spf_checked) {
			e->spf.scope = s->tx.sender[0] != '\0' ? DMARC_SPF_MFROM : DMARC_SPF_HELO;
			str_copy(e->spf.domain, s->tx.sender[0] != '\0' ? e->envelope_from : s->helo,
				 sizeof(e->spf.domain));
			e->spf.result = s->spf_result;
		} else {
			e->spf.result = SPF_NONE;
		}
		s->env.ops->dmarc_eval(s->env.arg, e);
	}
	free(e);
}

/* tally - one event for the owner's metrics: a family and up to three
 * label pairs (k3 NULL: two). */
static void
tally(struct session *s, const char *family, const char *k1, const char *v1, const char *k2,
      const char *v2, const char *k3, const char *v3)
{
	char l[METRICS_LABELS_MAX];

	if (s->env.ops->tally == NULL)
		return;
	metrics_labels(l, sizeof(l), k1, v1, k2, v2, k3, v3, (char *)NULL);
	s->env.ops->tally(s->env.arg, family, l);
}

/* tally_dmarc - the DMARC verdict (when DMARC ran), the policy that
 * applied ("absent": no record) and what became of the message. */
static void
tally_dmarc(struct session *s, const struct msgauth_result *r, const char *action)
{
	const struct msgauth_dmarc *d = r->decisive != NULL ? r->decisive
					: r->ndmarc > 0	    ? &r->dmarc[0]
							    : NULL;

	if (!s->cf->mailauth.dmarc || s->env.psl == NULL)
		return;
	tally(s, "postern_dmarc_results_total", "result", dmarc_result_name(r->dmarc_result),
	      "policy", d != NULL && d->have_record ? dmarc_policy_name(d->policy) : "absent",
	      "action", action);
}

/* mailauth_decide - DKIM and DMARC are in: refuse, quarantine or commit. */
static void
mailauth_decide(struct session *s, bool resume)
{
	const struct msgauth_result *r = msgauth_result(s->ma);
	char refusal[SMTP_REPLY_MAX + 64], reason[SESSION_QUARANTINE_MAX + 1];
	struct buf hdrs = BUF_INIT, dk = BUF_INIT;
	size_t i;

	if (s->ev_ma != NULL)
		evtimer_del(s->ev_ma);
	mailauth_verdict(s, r, refusal, sizeof(refusal), reason, sizeof(reason));
	for (i = 0; i < r->ndkim; i++)
		buf_addf(&dk, "%s%s", i ? "," : "", dkim_result_name(r->dkim[i].result));
	log_info("%s smtp mailauth ip=%s id=%s spf=%s dkim=%s dmarc=%s from=%s action=%s", s->sid,
		 s->ip, s->qid, s->spf_checked ? spf_result_str(s->spf_result) : "off",
		 dk.len ? buf_cstr(&dk) : "none", dmarc_result_name(r->dmarc_result),
		 r->decisive != NULL ? r->decisive->domain
		 : r->ndmarc > 0     ? r->dmarc[0].domain
				     : "-",
		 refusal[0] ? (refusal[0] == '4' ? "defer" : "reject")
		 : reason[0] ? "quarantine"
			     : "accept");
	buf_free(&dk);
	tally_dmarc(s, r, refusal[0] ? (refusal[0] == '4' ? "defer" : "reject")
			  : reason[0] ? "quarantine"
				      : "accept");
	if (refusal[0] != '4')
		report_evals(s, r, refusal[0] == '5' ? DMARC_P_REJECT
				   : reason[0]	     ? DMARC_P_QUARANTINE
							     : DMARC_P_NONE);
	if (s->peer_gone) {
		tx_reset(s); /* aborts the queue file: the client never saw a 250 */
		session_end(s, s->close_reason);
		return;
	}
	if (refusal[0] != '\0') {
		tx_reset(s);
		enter_state(s, ST_IDLE);
		set_read_timeout(s, s->cf->limits.command_timeout);
		bufferevent_enable(s->bev, EV_READ);
		error_reply(s, "%s", refusal);
		if (resume)
			session_process(s);
		return;
	}
	mailauth_headers(s, &hdrs);
	s->env.ops->commit(s->env.arg, s->id, s->qid, s->commit_size, hdrs.data, hdrs.len,
			   reason[0] ? reason : NULL);
	buf_free(&hdrs);
}

static void
on_msgauth(void *arg, const struct msgauth_result *r)
{
	struct session *s = arg;

	(void)r;
	if (s->ma_sync) {
		s->ma_decided = true;
		return;
	}
	mailauth_decide(s, true);
}

static void
content_done(struct session *s)
{
	const char *fail;
	if (s->reader.in_header)
		add_submission_headers(s);
	header_done(s, false);
	flush_content(s);
	fail = content_failed(s);
	if (fail != NULL) {
		char esc[LOG_ESCAPE_BUF];

		log_info("%s smtp reject reason=\"%s\" ip=%s id=%s size=%llu", s->sid,
			 log_escape_str(esc, fail), s->ip, s->qid,
			 (unsigned long long)s->reader.size);
		if (s->write_errno != 0)
			log_warnx("%s smtp spool-write-failed id=%s error=\"%s\"", s->sid, s->qid,
				  strerror(s->write_errno));
		tx_reset(s);
		/* Before the reply: at max_errors it moves on to ST_CLOSING. */
		enter_state(s, ST_IDLE);
		set_read_timeout(s, s->cf->limits.command_timeout);
		error_reply(s, "%s", fail);
		return;
	}
	s->commit_size = s->reader.size + s->extra - s->removed;
	close(s->fd);
	s->fd = -1;
	enter_state(s, ST_WAIT);
	if (s->ma != NULL) {
		arm_mailauth_timer(s);
		s->ma_sync = true;
		msgauth_run(s->ma, on_msgauth, s);
		s->ma_sync = false;
		if (s->ma_decided)
			mailauth_decide(s, false);
		return;
	}
	s->env.ops->commit(s->env.arg, s->id, s->qid, s->commit_size, NULL, 0, NULL);
}

/* bare_in_content - a bare CR or LF in content: refuse and end the session. */
static void
bare_in_content(struct session *s, enum data_status st)
{
	log_info("%s smtp reject reason=%s ip=%s id=%s", s->sid,
		 st == DATA_BARE_LF ? "bare-lf" : "bare-cr", s->ip, s->qid);
	tx_reset(s);
	reply(s, "521 5.5.2 %s Error: bare <%s> received", s->cf->hostname,
	      st == DATA_BARE_LF ? "LF" : "CR");
	session_close(s, st == DATA_BARE_LF ? "bare-lf" : "bare-cr");
}

/* feed - run n bytes through the reader; returns bytes used, or -1 when the
 * session was closed. Sets *end when the content is complete. */
static ssize_t
feed(struct session *s, const char *p, size_t n, bool *end)
{
	size_t used = 0, u;
	enum data_status st;

	*end = false;
	while (used < n) {
		st = data_feed(&s->reader, p + used, n - used, &s->out, &u);
		used += u;
		switch (st) {
		case DATA_MORE:
			break;
		case DATA_HEADERS_DONE:
			add_submission_headers(s);
			header_done(s, true);
			continue;
		case DATA_END:
			*end = true;
			return (ssize_t)used;
		case DATA_BARE_LF:
		case DATA_BARE_CR:
			bare_in_content(s, st);
			return -1;
		}
	}
	if (s->out.len >= SESSION_WRITE_CHUNK)
		flush_content(s);
	return (ssize_t)used;
}

/* read_data - DATA content from input; returns 1 to keep processing. */
static int
read_data(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[16];
	int n, i;

	while (evbuffer_get_length(in) > 0) {
		bool end = false;

		n = evbuffer_peek(in, -1, NULL, v, 16);
		for (i = 0; i < n && i < 16; i++) {
			ssize_t used = feed(s, v[i].iov_base, v[i].iov_len, &end);

			if (used == -1)
				return 0;
			evbuffer_drain(in, (size_t)used);
			if (end) {
				content_done(s);
				return s->state != ST_WAIT && s->state != ST_CLOSING;
			}
			if ((size_t)used < v[i].iov_len)
				break;
		}
	}
	return 0;
}

static void
bdat_chunk_done(struct session *s)
{
	const char *fail = s->bdat_fail;

	if (fail != NULL) {
		tx_reset(s);
		reply(s, "%s", fail);
		enter_state(s, s->helo[0] ? ST_IDLE : ST_CONNECTED);
		return;
	}
	if (!s->bdat_last) {
		flush_content(s);
		reply(s, "250 2.0.0 Ok: %llu octets", (unsigned long long)s->reader.size);
		enter_state(s, ST_BDAT);
		return;
	}
	if (data_finish_bdat(&s->reader, &s->out) != DATA_END) {
		bare_in_content(s, DATA_BARE_CR);
		return;
	}
	content_done(s);
}

/* read_bdat - consume the current chunk; returns 1 to keep processing. */
static int
read_bdat(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (s->bdat_left > 0 && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t n;
		bool end;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = v.iov_len < s->bdat_left ? v.iov_len : (size_t)s->bdat_left;
		if (s->bdat_fail == NULL && feed(s, v.iov_base, n, &end) == -1)
			return 0;
		evbuffer_drain(in, n);
		s->bdat_left -= n;
	}
	if (s->bdat_left > 0)
		return 0;
	bdat_chunk_done(s);
	return s->state != ST_WAIT && s->state != ST_CLOSING;
}

/* early_talker - input before the greeting (RFC 5321 3.1: the client
 * waits for it); spam engines that talk at once give themselves away. */
static void
early_talker(struct session *s)
{
	abuse(s, "early-talk", 5);
	reply(s, "554 5.5.1 %s Error: you talked before the greeting", s->cf->hostname);
	session_close(s, "early-talk");
}

static void
greet(struct session *s)
{
	enter_state(s, ST_CONNECTED);
	reply(s, "220 %s ESMTP postern", s->cf->hostname);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == ST_GREET) {
		s->greet_timer = false;
		s->env.ops->greet_passed(s->env.arg, s->ip);
		if (s->dnsbl == NULL) {
			greet(s);
			session_process(s);
		}
	} else if (s->held_auth != -1) {
		session_auth_answer(s, s->held_auth, NULL, 0, "", NULL, 0, -1, 0);
	} else if (s->tarpit_wait) {
		s->tarpit_wait = false;
		session_process(s);
	}
}

static void
session_process(struct session *s)
{
	struct buf line = BUF_INIT;

	for (;;) {
		int r;

		if (s->state == ST_WAIT || s->state == ST_CLOSING || s->state == ST_STARTTLS ||
		    s->state == ST_AUTH_WAIT || s->tarpit_wait)
			break;
		if (s->state == ST_GREET) {
			if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
				early_talker(s);
			break;
		}
		if (s->state == ST_CONTENT) {
			if (!(s->is_bdat || s->bdat_fail) ? !read_data(s) : !read_bdat(s))
				break;
			continue;
		}
		if (s->shutting_down) {
			reply(s, "421 4.3.2 %s Service shutting down", s->cf->hostname);
			session_close(s, "shutdown");
			break;
		}
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > SESSION_OUTPUT_MAX) {
			/* on_write resumes once the client has read its replies. */
			s->out_blocked = true;
			bufferevent_disable(s->bev, EV_READ);
			break;
		}
		r = read_line(s, &line);
		if (r != 1)
			break;
		if (s->state == ST_AUTH_LINE)
			auth_line(s, line.data, line.len);
		else
			handle_command(s, line.data, line.len);
		explicit_bzero(line.data, line.len); /* AUTH lines carry secrets */
		if (s->cf->guard.enabled && s->score >= s->cf->guard.abuse_tarpit &&
		    s->state != ST_CLOSING && s->state != ST_CONTENT && s->held_auth == -1 &&
		    (s->ev_timer == NULL || !evtimer_pending(s->ev_timer, NULL))) {
			/* The tarpit: a second between commands from now on. */
			s->tarpit_wait = true;
			start_timer(s, 1000);
			break;
		}
	}
	buf_free(&line);
}

/* Callbacks from the owner. */

/* mailauth_begin - a DKIM and DMARC evaluation for the message. */
static void
mailauth_begin(struct session *s)
{
	const struct conf_mailauth *m = &s->cf->mailauth;
	struct msgauth_params p = {0};
	struct spf_resolver res;

	resolver_init(&res, s->env.dns);
	p.authserv_id = authserv_id(s);
	p.ip = s->ip;
	p.helo = s->helo;
	p.mailfrom = s->tx.sender;
	p.spf = s->spf_result;
	p.spf_checked = s->spf_checked;
	p.psl = m->dmarc ? s->env.psl : NULL;
	p.dkim = m->dkim_verify;
	p.dkim_keys = s->env.dkim_keys;
	p.now = time(NULL);
	s->ma = msgauth_new(&res, &p);
}

void
session_opened(struct session *s, int fd, const char *queue_id, const char *err)
{
	struct received_info ri;

	if (s->state != ST_WAIT)
		log_bug("%s smtp: open result in state %s", s->sid, state_names[s->state]);
	if (s->peer_gone) {
		if (fd != -1) {
			close(fd);
			s->env.ops->abort(s->env.arg, queue_id);
		}
		session_end(s, s->close_reason);
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	if (fd == -1) {
		if (s->is_bdat) {
			str_copy(s->bdat_fail_buf, err, sizeof(s->bdat_fail_buf));
			s->bdat_fail = s->bdat_fail_buf;
			enter_state(s, ST_CONTENT);
		} else {
			tx_reset(s);
			reply(s, "%s", err);
			enter_state(s, ST_IDLE);
		}
		session_process(s);
		return;
	}
	s->fd = fd;
	str_copy(s->qid, queue_id, sizeof(s->qid));
	memset(&ri, 0, sizeof(ri));
	ri.helo = s->helo;
	ri.client_ip = s->ip;
	ri.hostname = s->cf->hostname;
	ri.proto = s->tx.proto;
	ri.queue_id = s->qid;
	ri.rcpt = s->tx.nrcpts == 1 ? s->tx.rcpts[0].addr : NULL;
	ri.when = (time_t)s->tx.arrival;
	ri.tls = s->tls_on ? s->tls_info : NULL;
	header_received(&ri, &s->out);
	/* Ours: written to the file, but not counted against the client's SIZE. */
	s->extra = s->out.len;
	s->hdr_start = s->out.len;
	s->hdr_held = true;
	if (mailauth_applies(s) && s->env.dns != NULL)
		mailauth_begin(s);
	enter_state(s, ST_CONTENT);
	if (!s->is_bdat) {
		reply(s, "354 End data with <CR><LF>.<CR><LF>");
		set_read_timeout(s, s->cf->limits.data_timeout);
	}
	session_process(s);
}

void
session_committed(struct session *s, bool ok, const char *err)
{
	char esc[LOG_ESCAPE_BUF];

	if (s->state != ST_WAIT)
		log_bug("%s smtp: commit result in state %s", s->sid, state_names[s->state]);
	if (ok) {
		s->nmessages++;
		log_info("%s smtp accepted sid=%s from=<%s> nrcpt=%u size=%llu proto=%s", s->qid,
			 s->sid, log_escape_str(esc, s->tx.sender), s->tx.nrcpts,
			 (unsigned long long)(s->reader.size + s->extra - s->removed), s->tx.proto);
		if (!s->peer_gone)
			reply(s, "250 2.0.0 Ok: queued as %s", s->qid);
	} else if (!s->peer_gone) {
		reply(s, "%s", err);
	}
	s->qid[0] = '\0'; /* the queue's now, or already discarded: nothing to abort */
	tx_reset(s);
	if (s->peer_gone) {
		session_end(s, s->close_reason);
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	set_read_timeout(s, s->cf->limits.command_timeout);
	enter_state(s, ST_IDLE);
	session_process(s);
}

/* Connection events. */

static void
session_free(struct session *s)
{
	if (s->state == ST_AUTH_WAIT || s->state == ST_AUTH_LINE)
		s->env.ops->auth_cancel(s->env.arg, s->id);
	auth_forget(s);
	tx_reset(s);
	if (s->ev_session_timeout != NULL)
		event_free(s->ev_session_timeout);
	if (s->ev_timer != NULL)
		event_free(s->ev_timer);
	if (s->ev_ma != NULL)
		event_free(s->ev_ma);
	dnsbl_check_cancel(s->dnsbl);
	bufferevent_free(s->bev);
	s->env.ops->closed(s->env.arg, s);
	conf_unref(s->cf);
	tls_server_unref(s->tls);
	free(s);
}

static void
session_end(struct session *s, const char *reason)
{
	log_info("%s smtp disconnect ip=%s reason=%s messages=%llu", s->sid, s->ip, reason,
		 (unsigned long long)s->nmessages);
	session_free(s);
}

/* session_close - flush what is queued for the client, then close. */
static void
session_close(struct session *s, const char *reason)
{
	if (s->state == ST_CLOSING)
		return;
	enter_state(s, ST_CLOSING);
	s->close_reason = reason;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		/* Nothing to flush: close from the loop, not from under a caller. */
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
						      BEV_TRIG_DEFER_CALLBACKS);
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_process(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == ST_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		session_end(s, s->close_reason);
		return;
	}
	if (s->state == ST_STARTTLS && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		starttls_now(s);
		return;
	}
	if (s->out_blocked && s->state != ST_WAIT && s->state != ST_CLOSING) {
		s->out_blocked = false;
		bufferevent_enable(bev, EV_READ);
		session_process(s);
	}
}

/* tls_established - the handshake completed. */
static void
tls_established(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	char esc[LOG_ESCAPE_BUF];

	s->tls_handshaking = false;
	s->tls_on = true;
	/* SCRAM-SHA-256-PLUS with tls-exporter only on TLS 1.3 (RFC 9266 3:
	 * TLS 1.2 would need the extended master secret). */
	s->tls13 = SSL_version(ssl) == TLS1_3_VERSION;
	tls_describe(ssl, s->tls_info, sizeof(s->tls_info));
	log_info("%s smtp tls ip=%s version=%s cipher=%s sni=\"%s\"", s->sid, s->ip,
		 SSL_get_version(ssl), SSL_get_cipher_name(ssl), log_escape_str(esc, sni));
	tally(s, "postern_tls_sessions_total", "direction", "inbound", "version",
	      SSL_get_version(ssl), NULL, NULL);
	set_read_timeout(s, s->cf->limits.command_timeout);
}

/* tls_failed - a handshake that failed or stalled: log why and end. */
static void
tls_failed(struct session *s, short what)
{
	char e[256], esc[LOG_ESCAPE_BUF];
	unsigned long err = bufferevent_get_openssl_error(s->bev);

	if (what & BEV_EVENT_TIMEOUT)
		str_copy(e, "handshake timed out", sizeof(e));
	else if (what & BEV_EVENT_EOF || err == 0)
		str_copy(e, "connection closed during handshake", sizeof(e));
	else
		ERR_error_string_n(err, e, sizeof(e));
	ERR_clear_error();
	log_info("%s smtp tls-handshake-failed ip=%s reason=\"%s\"", s->sid, s->ip,
		 log_escape_str(esc, e));
	session_end(s, "tls-handshake");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		tls_established(s);
		session_process(s);
		return;
	}
	if (s->tls_handshaking && (what & (BEV_EVENT_TIMEOUT | BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		tls_failed(s, what);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == ST_CLOSING) {
			session_end(s, s->close_reason);
			return;
		}
		if (s->state == ST_WAIT || s->state == ST_AUTH_WAIT) {
			/* The queue (or auth) is slow; the timeout covers the client
			 * only. Reading resumes when the answer comes. */
			return;
		}
		reply(s, "421 4.4.2 %s Error: timeout exceeded", s->cf->hostname);
		session_close(s, "timeout");
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s->state == ST_WAIT || s->state == ST_AUTH_WAIT) {
			/* Keep the session until the queue (or auth) answers. */
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			s->close_reason = what & BEV_EVENT_EOF ? "eof" : "error";
			s->peer_gone = true;
			return;
		}
		session_end(s, s->state == ST_CLOSING ? s->close_reason
				: (what & BEV_EVENT_EOF) ? "eof" : "error");
	}
}

static void
on_session_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == ST_WAIT || s->state == ST_CLOSING)
		return;
	reply(s, "421 4.4.2 %s Error: session too long", s->cf->hostname);
	session_close(s, "session-timeout");
}

/* screened - untrusted clients of mx listeners go through the pregreet
 * test and the DNSBL lookups before they are greeted. */
static bool
screened(struct session *s)
{
	const struct conf_guard *g = &s->cf->guard;

	return g->enabled && s->listener.role == ROLE_MX && s->listener.tls != LTLS_IMPLICIT &&
	       !s->trusted && !conf_acl_match(&g->exempt, (struct sockaddr *)&s->peer);
}

/* on_dnsbl - the lookups are in: refuse a listed client, or greet (once
 * the greet delay, if any, is over too). */
static void
on_dnsbl(void *arg, int score, const char *listed_on)
{
	struct session *s = arg;
	const struct conf_guard *g = &s->cf->guard;

	s->dnsbl = NULL;
	if (s->state != ST_GREET)
		return;
	if (score != 0)
		log_info("%s smtp dnsbl ip=%s score=%d lists=%s", s->sid, s->ip, score, listed_on);
	if (score >= (int)g->dnsbl_threshold) {
		log_info("%s smtp refuse reason=dnsbl ip=%s score=%d lists=%s", s->sid, s->ip, score,
			 listed_on);
		reply(s, "554 5.7.1 %s Service unavailable; client [%s] blocked using %s",
		      s->cf->hostname, s->ip, listed_on);
		session_close(s, "dnsbl");
		return;
	}
	if (!s->greet_timer) {
		greet(s);
		session_process(s);
	}
}

/* screen - start the pregreet wait and the DNSBL lookups; false when
 * there is nothing to wait for. */
static bool
screen(struct session *s)
{
	const struct conf_guard *g = &s->cf->guard;

	if (!screened(s))
		return false;
	if (g->greet_delay > 0 && !s->env.ops->greet_known(s->env.arg, s->ip)) {
		s->greet_timer = true;
		start_timer(s, g->greet_delay * 1000);
	}
	if (g->ndnsbl > 0 && s->env.dns != NULL)
		s->dnsbl = dnsbl_check_start_timeout(s->env.dns, g->dnsbl, g->ndnsbl,
						     (struct sockaddr *)&s->peer,
						     (unsigned)g->dnsbl_timeout * 1000, on_dnsbl, s);
	return s->greet_timer || s->dnsbl != NULL;
}

struct session *
session_new(const struct session_env *senv, int fd, const struct sockaddr *peer, socklen_t peerlen,
	    const struct conf_listener *listener, uint64_t sid)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct timeval tv;

	s->id = sid;
	snprintf(s->sid, sizeof(s->sid), "%016llx", (unsigned long long)sid);
	s->env = *senv;
	s->cf = conf_ref(senv->cf);
	s->listener = *listener;
	s->fd = -1;
	memcpy(&s->peer, peer, peerlen < sizeof(s->peer) ? peerlen : sizeof(s->peer));
	net_ntop(peer, s->ip, sizeof(s->ip));
	s->trusted = conf_is_trusted(s->cf, peer);
	s->tls = senv->tls != NULL ? tls_server_ref(senv->tls) : NULL;
	s->bev = bufferevent_socket_new(senv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL)
		log_fatalx("bufferevent_socket_new failed");
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_read_timeout(s, s->cf->limits.command_timeout);
	bufferevent_setwatermark(s->bev, EV_READ, 0, 256 * 1024);
	if (listener->tls == LTLS_IMPLICIT && (s->tls == NULL || tls_start(s) == -1))
		log_fatalx("%s smtp: cannot start TLS on an implicit-TLS listener", s->sid);
	s->ev_session_timeout = evtimer_new(senv->base, on_session_timeout, s);
	tv.tv_sec = (time_t)s->cf->limits.session_timeout;
	tv.tv_usec = 0;
	evtimer_add(s->ev_session_timeout, &tv);
	log_info("%s smtp connect ip=%s port=%u listener=%s role=%s tls=%s trusted=%s", s->sid,
		 s->ip, net_port(peer), listener->spec, conf_role_name(listener->role),
		 conf_listen_tls_name(listener->tls), s->trusted ? "yes" : "no");
	s->held_auth = -1;
	s->state = ST_GREET;
	if (!screen(s))
		greet(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return s;
}

void
session_shutdown(struct session *s)
{
	s->shutting_down = true;
	if (s->state == ST_IDLE || s->state == ST_CONNECTED) {
		if (evbuffer_get_length(bufferevent_get_input(s->bev)) == 0) {
			reply(s, "421 4.3.2 %s Service shutting down", s->cf->hostname);
			session_close(s, "shutdown");
		}
	}
}

uint64_t
session_id(const struct session *s)
{
	return s->id;
}

const char *
session_peer_ip(const struct session *s)
{
	return s->ip;
}
