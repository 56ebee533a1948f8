/* SPDX-License-Identifier: ISC */
/*
 * session - one inbound SMTP session: the command state machine, the
 * relay decision, PIPELINING group rules, DATA and BDAT content, limits and
 * timeouts. The owner (the smtp process) supplies the connection and the
 * queue operations; this module never touches the spool except through the
 * descriptor the queue hands it.
 *
 * SECURITY: runs in the unprivileged, chrooted smtp process and parses all
 * network input. Limits are named in struct conf_limits; errors count
 * toward max_errors; bare CR/LF are refused (strict) or normalized.
 * Protocol abuse (talking before the greeting on mx listeners, HTTP or
 * other non-SMTP commands, pipelining without PIPELINING or past a
 * group's end, bare newlines, unknown commands, too many errors) is
 * scored: past abuse_tarpit each command waits a second, past
 * abuse_disconnect the session ends, and every score goes to the guard,
 * which bans an address past abuse_ban in its window. Log line (stable):
 *   <sid> smtp abuse ip=IP score=N check=NAME action=none|tarpit|disconnect
 * Mail authentication on mx listeners (untrusted, unauthenticated
 * clients): SPF at MAIL FROM (the reply waits for it), DKIM and DMARC at
 * the end of the content, the header section held in memory (at most
 * max_header_size) so that forged Authentication-Results claiming our
 * authserv-id are removed on every listener. Log line (stable):
 *   <sid> smtp mailauth ip=IP spf=R dkim=R[,R] dmarc=R from=DOMAIN action=A
 * STANDARDS: RFC 5321, RFC 7208, RFC 6376, RFC 7489, RFC 8601, RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152
 * (8BITMIME), RFC 6531 (SMTPUTF8), RFC 2034 (ENHANCEDSTATUSCODES), RFC 3461
 * (DSN), RFC 3030 (CHUNKING), RFC 6409 section 8 (submission fix-ups),
 * RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 3848 (ESMTPS), RFC 4954
 * section 4 (538 for AUTH before TLS).
 */
#ifndef POSTERN_SESSION_H
#define POSTERN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "mail/envelope.h"

struct event_base;
struct session;
struct dmarc_eval;

/* Rate-limited events (struct conf_guard). */
enum session_rate { RATE_AUTH, RATE_MESSAGE, RATE_RCPT };

/* What a session needs from its owner. The owner answers open and commit
 * asynchronously with session_opened() and session_committed(). */
struct session_ops {
	void (*open)(void *arg, uint64_t sid, const struct envelope *env);
	/* commit - prepend: header lines (wire form) the queue writes before
	 * the message (Authentication-Results), len 0 for none; quarantine:
	 * hold the message with this reason, or NULL. */
	void (*commit)(void *arg, uint64_t sid, const char *queue_id, uint64_t size,
		       const char *prepend, size_t prepend_len, const char *quarantine);
	void (*abort)(void *arg, const char *queue_id);
	void (*closed)(void *arg, struct session *s); /* the session is gone */
	/* AUTH: mechanism 1 PLAIN, 2 LOGIN; data decoded from base64. The
	 * owner answers with session_auth_answer(). */
	void (*auth_begin)(void *arg, uint64_t sid, int mech, const char *ip, bool tls,
			   const uint8_t *initial, size_t len, bool has_initial,
			   const uint8_t *cb, size_t cblen, bool plus_offered);
	void (*auth_step)(void *arg, uint64_t sid, const uint8_t *data, size_t len);
	void (*auth_cancel)(void *arg, uint64_t sid);
	/* abuse - protocol abuse by ip scored weight (check: its name). */
	void (*abuse)(void *arg, const char *ip, const char *check, unsigned weight);
	/* greet_known - ip waited for the greeting recently (no greet delay). */
	bool (*greet_known)(void *arg, const char *ip);
	void (*greet_passed)(void *arg, const char *ip);
	/* rate - count one event for key (an address or a user); false when
	 * it is over the configured limit. */
	bool (*rate)(void *arg, enum session_rate kind, const char *key);
	/* dmarc_eval - one DMARC evaluation for the aggregate reports. */
	void (*dmarc_eval)(void *arg, const struct dmarc_eval *e);
	/* tally - one event for the metrics: family and its label set (as
	 * metrics_labels writes it); NULL: not counted. */
	void (*tally)(void *arg, const char *family, const char *labels);
};

struct tls_server;
struct dns;
struct dmarc_psl;
struct dkim_keycache;

struct session_env {
	struct event_base *base;
	struct dns *dns;	/* DNSBL, SPF, DKIM, DMARC lookups; NULL: none */
	const struct dmarc_psl *psl; /* for DMARC; NULL: no DMARC */
	struct dkim_keycache *dkim_keys; /* DKIM keys met before; NULL: none */
	struct conf *cf;	/* shared; each session holds a reference */
	struct tls_server *tls; /* shared; NULL when no certificate */
	const struct session_ops *ops;
	void *arg;
};

/* session_new - start a session on an accepted, non-blocking socket. */
struct session *session_new(const struct session_env *senv, int fd, const struct sockaddr *peer,
			    socklen_t peerlen, const struct conf_listener *listener, uint64_t sid);
/* session_opened - the queue created the message file (fd, queue id), or
 * failed (fd == -1, reply holds the SMTP reply to give). */
void session_opened(struct session *s, int fd, const char *queue_id, const char *reply);
/* session_committed - the message is safely on disk (ok) or not. */
void session_committed(struct session *s, bool ok, const char *reply);
/* session_auth_answer - the auth process's verdict or next challenge.
 * status: the values of enum auth_status (auth/authd.h); a refusal is held
 * delay_ms before it is given (the guard's tarpit). */
void session_auth_answer(struct session *s, int status, const uint8_t *challenge, size_t len,
			 const char *user, char **addresses, size_t naddresses, int expires_days,
			 uint32_t delay_ms);
/* session_shutdown - stop: finish the current command, then 421 and close. */
void session_shutdown(struct session *s);
uint64_t session_id(const struct session *s);
const char *session_peer_ip(const struct session *s);

#endif
