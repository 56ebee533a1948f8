/* SPDX-License-Identifier: ISC */
/*
 * check_probe - the probe part of `postern check`: each configured
 * listener seen as a client sees it. Over one session: the greeting, EHLO,
 * whether AUTH is advertised or answered before TLS (AUTH PLAIN without a
 * response, cancelled with "*"), STARTTLS and a handshake, and a relay
 * attempt without AUTH (MAIL FROM an outside address, else the null
 * sender; RCPT TO relay-test@ an outside domain; then RSET, never DATA).
 * Then one short session per TLS version (1.0 and 1.1 with an OpenSSL
 * client at security level 0, which still speaks them; 1.2; 1.3).
 *
 * A wildcard listener is probed on loopback (0.0.0.0 as 127.0.0.1, :: as
 * ::1). When the probe's own address is in trusted_networks, a relay
 * attempt proves nothing and is not made. A listener nobody answers on is
 * skipped (the daemon may not be running); the rest of the check goes on.
 *
 * SECURITY: runs as the daemon's user and talks only to the configured
 * addresses. Replies are untrusted: read through the fuzzed reply parser
 * (mail/reply.c), lines and waits bounded; only their sanitized text
 * reaches a finding. No credential is ever sent.
 * STANDARDS: RFC 5321 (EHLO, MAIL, RCPT, RSET, QUIT), RFC 3207 (STARTTLS),
 * RFC 8314 (implicit TLS), RFC 4954 4 (AUTH, "*" cancels), RFC 8996 (TLS
 * 1.0 and 1.1 deprecated), RFC 2505 2.1 (relay tests).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/check.h"
#include "lib/buf.h"
#include "lib/net.h"
#include "lib/util.h"
#include "mail/reply.h"

#define PROBE_CONNECT_TIMEOUT 5 /* seconds to connect */
#define PROBE_REPLY_TIMEOUT 30	/* seconds for any reply (MAIL may wait for SPF) */
#define PROBE_BUF 4096		/* read buffer: a few reply lines */
#define PROBE_NVERSIONS 4

/* The TLS versions tried, oldest first. */
static const struct {
	int version;
	const char *name;
} versions[PROBE_NVERSIONS] = {
	{TLS1_VERSION, "TLSv1"},
	{TLS1_1_VERSION, "TLSv1.1"},
	{TLS1_2_VERSION, "TLSv1.2"},
	{TLS1_3_VERSION, "TLSv1.3"},
};

/* One client session. */
struct probe {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char in[PROBE_BUF];
	size_t inlen;
	char helo[NET_ADDRSTRLEN + 8]; /* our address, as a literal */
	struct sockaddr_storage local;
};

enum relay_verdict { RELAY_UNTESTED, RELAY_REFUSED, RELAY_OPEN, RELAY_UNKNOWN };

/* What was learnt about one listener. */
struct lresult {
	const struct conf_listener *li;
	const struct conf *cf;
	char where[NET_ADDRSTRLEN + 40];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool trusted;	    /* the probe's address is in trusted_networks */
	char from[NET_ADDRSTRLEN]; /* the probe's address */
	bool tls_up;	    /* a default handshake worked */
	int tls_default;    /* the version it gave */
	char cipher[64];
	int accepted[PROBE_NVERSIONS]; /* 1 yes, 0 no, -1 not known */
	enum relay_verdict relay;
	char relay_why[REPLY_TEXT_MAX + 128];
};

static void
probe_close(struct probe *p)
{
	if (p->ssl != NULL) {
		SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
	}
	SSL_CTX_free(p->ctx);
	if (p->fd != -1)
		close(p->fd);
	p->ssl = NULL;
	p->ctx = NULL;
	p->fd = -1;
	ERR_clear_error();
}

static void
set_timeout(int fd, int seconds)
{
	struct timeval tv = {seconds, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* connect_wait - a non-blocking connect, waited for at most timeout. */
static int
connect_wait(int fd, const struct sockaddr *sa, socklen_t len, int timeout)
{
	struct pollfd pfd = {fd, POLLOUT, 0};
	socklen_t elen = sizeof(int);
	int e = 0;

	if (net_set_nonblock(fd) == -1)
		return -1;
	if (connect(fd, sa, len) == -1 && errno != EINPROGRESS)
		return -1;
	if (poll(&pfd, 1, timeout * 1000) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1 || e != 0) {
		errno = e != 0 ? e : errno;
		return -1;
	}
	return 0;
}

/* probe_open - connected (blocking, with timeouts) to the listener; -1
 * with errno when nothing answers. */
static int
probe_open(struct probe *p, const struct lresult *lr)
{
	socklen_t len = sizeof(p->local);
	char ip[NET_ADDRSTRLEN];
	int flags;

	memset(p, 0, sizeof(*p));
	p->fd = socket(lr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd == -1 || connect_wait(p->fd, (const struct sockaddr *)&lr->addr, lr->addrlen,
					PROBE_CONNECT_TIMEOUT) == -1 ||
	    getsockname(p->fd, (struct sockaddr *)&p->local, &len) == -1) {
		int e = errno;

		probe_close(p);
		errno = e;
		return -1;
	}
	flags = fcntl(p->fd, F_GETFL);
	fcntl(p->fd, F_SETFL, flags & ~O_NONBLOCK);
	set_timeout(p->fd, PROBE_REPLY_TIMEOUT);
	net_ntop((struct sockaddr *)&p->local, ip, sizeof(ip));
	snprintf(p->helo, sizeof(p->helo), p->local.ss_family == AF_INET6 ? "[IPv6:%s]" : "[%s]",
		 ip);
	return 0;
}

/* probe_fill - more bytes from the server: >0, 0 at its end, -1. */
static int
probe_fill(struct probe *p)
{
	size_t room = sizeof(p->in) - p->inlen;
	ssize_t n;

	if (p->ssl != NULL) {
		int r = SSL_read(p->ssl, p->in + p->inlen, (int)room);

		n = r > 0 ? r : (SSL_get_error(p->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
	} else {
		n = recv(p->fd, p->in + p->inlen, room, 0);
	}
	if (n > 0)
		p->inlen += (size_t)n;
	return n > 0 ? 1 : (int)n;
}

/* probe_line - one line without its CRLF; -1 on end, timeout or a line
 * longer than the buffer. */
static int
probe_line(struct probe *p, char *line, size_t cap, size_t *len)
{
	char *nl;

	while ((nl = memchr(p->in, '\n', p->inlen)) == NULL)
		if (p->inlen == sizeof(p->in) || probe_fill(p) != 1)
			return -1;
	*len = (size_t)(nl - p->in);
	if (*len > 0 && p->in[*len - 1] == '\r')
		(*len)--;
	if (*len >= cap)
		return -1;
	memcpy(line, p->in, *len);
	line[*len] = '\0';
	p->inlen -= (size_t)(nl - p->in) + 1;
	memmove(p->in, nl + 1, p->inlen);
	return 0;
}

/* probe_reply - one whole reply; -1 when none came or it is malformed. */
static int
probe_reply(struct probe *p, struct smtp_reply *r)
{
	char line[REPLY_LINE_MAX + 1];
	size_t len;
	int rc = 0;

	reply_init(r);
	while (rc == 0) {
		if (probe_line(p, line, sizeof(line), &len) == -1)
			return -1;
		rc = reply_feed(r, line, len);
	}
	return rc == 1 ? 0 : -1;
}

/* probe_cmd - send one command line, read its reply; -1 if none. */
static int __attribute__((format(printf, 3, 4)))
probe_cmd(struct probe *p, struct smtp_reply *r, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if (p->ssl != NULL ? SSL_write(p->ssl, line, n) != n
			   : send(p->fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		return -1;
	return probe_reply(p, r);
}

/* probe_tls - a handshake on the connection, version 0 for the best both
 * sides have; 0 or -1. Older versions need security level 0 in OpenSSL 3
 * (their handshakes use SHA-1 and MD5). The certificate is not verified:
 * check_conf.c judges the files. */
static int
probe_tls(struct probe *p, int version, const char *sni)
{
	p->inlen = 0; /* anything the server sent before TLS is not read after it */
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (p->ctx == NULL)
		return -1;
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL);
	if (version != 0 && (SSL_CTX_set_min_proto_version(p->ctx, version) != 1 ||
			     SSL_CTX_set_max_proto_version(p->ctx, version) != 1))
		return -1;
	if (version != 0 && version < TLS1_2_VERSION) {
		SSL_CTX_set_security_level(p->ctx, 0);
		if (SSL_CTX_set_cipher_list(p->ctx, "ALL:@SECLEVEL=0") != 1)
			return -1;
	}
	p->ssl = SSL_new(p->ctx);
	if (p->ssl == NULL || SSL_set_fd(p->ssl, p->fd) != 1 ||
	    SSL_set_tlsext_host_name(p->ssl, sni) != 1 || SSL_connect(p->ssl) != 1) {
		SSL_free(p->ssl);
		p->ssl = NULL;
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Session outcomes. */
enum { SESS_OK, SESS_NOCONN, SESS_NOTLS, SESS_BADGREET };

/* probe_session - connect, TLS first when implicit (version as given),
 * the greeting and EHLO; r holds the last reply. */
static int
probe_session(struct probe *p, const struct lresult *lr, int version, struct smtp_reply *r)
{
	const struct conf_guard *g = &lr->cf->guard;

	reply_init(r);
	if (probe_open(p, lr) == -1)
		return SESS_NOCONN;
	if (lr->li->tls == LTLS_IMPLICIT && probe_tls(p, version, lr->cf->hostname) == -1)
		return SESS_NOTLS;
	/* an mx greeting may wait for greet_delay and the DNSBL lookups */
	set_timeout(p->fd, PROBE_REPLY_TIMEOUT + (int)g->greet_delay + (int)g->dnsbl_timeout);
	if (probe_reply(p, r) == -1 || r->code != 220)
		return SESS_BADGREET;
	set_timeout(p->fd, PROBE_REPLY_TIMEOUT);
	if (probe_cmd(p, r, "EHLO %s", p->helo) == -1 || r->code != 250)
		return SESS_BADGREET;
	return SESS_OK;
}

/* outside - a domain of the examples (RFC 2606) that we do not serve. */
static const char *
outside(const struct conf *cf, const char *not)
{
	static const char *const names[] = {"example.net", "example.com", "example.org",
					    "relay-test.invalid"};
	size_t i;

	for (i = 0; i + 1 < nitems(names); i++)
		if (conf_find_domain(cf, names[i]) == NULL &&
		    (not == NULL || strcmp(names[i], not) != 0))
			return names[i];
	return names[nitems(names) - 1];
}

/* probe_relay - MAIL FROM an outside address (else the null sender: a
 * sender domain's SPF may refuse the first), RCPT TO an outside domain,
 * RSET. Never DATA. */
static void
probe_relay(struct probe *p, struct lresult *lr)
{
	const char *to = outside(lr->cf, NULL), *from = outside(lr->cf, to);
	struct smtp_reply r;

	if (probe_cmd(p, &r, "MAIL FROM:<relay-test@%s>", from) == -1)
		goto noreply;
	if (r.code == 530) { /* authentication required: no relaying here */
		lr->relay = RELAY_REFUSED;
		snprintf(lr->relay_why, sizeof(lr->relay_why), "%s: MAIL FROM without AUTH got %d %s",
			 lr->where, r.code, r.text);
		return;
	}
	if (reply_class(&r) != 2 && (probe_cmd(p, &r, "RSET") == -1 ||
				     probe_cmd(p, &r, "MAIL FROM:<>") == -1))
		goto noreply;
	if (reply_class(&r) != 2) {
		lr->relay = RELAY_UNKNOWN;
		snprintf(lr->relay_why, sizeof(lr->relay_why), "%s: MAIL FROM was refused: %d %s",
			 lr->where, r.code, r.text);
		return;
	}
	if (probe_cmd(p, &r, "RCPT TO:<relay-test@%s>", to) == -1)
		goto noreply;
	lr->relay = reply_class(&r) == 2 ? RELAY_OPEN : RELAY_REFUSED;
	snprintf(lr->relay_why, sizeof(lr->relay_why),
		 "%s: RCPT TO:<relay-test@%s> without AUTH got %d %s", lr->where, to, r.code, r.text);
	probe_cmd(p, &r, "RSET");
	return;
noreply:
	lr->relay = RELAY_UNKNOWN;
	snprintf(lr->relay_why, sizeof(lr->relay_why), "%s: no reply during the relay test",
		 lr->where);
}

/* probe_auth_plain - AUTH offered or answered before TLS. */
static void
probe_auth_plain(struct probe *p, struct lresult *lr, const struct smtp_reply *ehlo,
		 struct findings *f)
{
	struct smtp_reply r;

	if (ehlo->ext & EXT_AUTH) {
		findings_addf(f, "auth.plaintext", "%s: EHLO lists AUTH before STARTTLS", lr->where);
	} else if (probe_cmd(p, &r, "AUTH PLAIN") == 0 && r.code == 334) {
		findings_addf(f, "auth.plaintext", "%s: AUTH PLAIN before STARTTLS got 334",
			      lr->where);
		probe_cmd(p, &r, "*");
	}
}

/* tls_note - the version and cipher of a handshake that worked. */
static void
tls_note(struct probe *p, struct lresult *lr)
{
	lr->tls_up = true;
	lr->tls_default = SSL_version(p->ssl);
	str_copy(lr->cipher, SSL_get_cipher_name(p->ssl), sizeof(lr->cipher));
}

/* probe_starttls - STARTTLS where EHLO offers it, and EHLO again. */
static void
probe_starttls(struct probe *p, struct lresult *lr, const struct smtp_reply *ehlo,
	       struct findings *f)
{
	struct smtp_reply r;

	if (!(ehlo->ext & EXT_STARTTLS)) {
		if (lr->li->tls != LTLS_NONE)
			findings_addf(f, "tls.no-starttls", "%s: EHLO lists no STARTTLS", lr->where);
		return;
	}
	if (probe_cmd(p, &r, "STARTTLS") == -1 || r.code != 220 ||
	    probe_tls(p, 0, lr->cf->hostname) == -1) {
		findings_addf(f, "tls.handshake-failed", "%s: STARTTLS%s", lr->where,
			      r.code == 220 ? ", then the handshake failed" : " was refused");
		return;
	}
	tls_note(p, lr);
	if (probe_cmd(p, &r, "EHLO %s", p->helo) == -1 || r.code != 250)
		lr->tls_up = false;
}

/* probe_main - the first session: everything but the TLS versions.
 * false when the listener could not be probed (already reported). */
static bool
probe_main(struct lresult *lr, struct findings *f)
{
	struct probe p;
	struct smtp_reply r;
	int rc = probe_session(&p, lr, 0, &r), e = errno;
	bool plain = lr->li->tls == LTLS_NONE || lr->li->tls == LTLS_STARTTLS;

	if (rc != SESS_NOCONN) {
		lr->trusted = conf_is_trusted(lr->cf, (struct sockaddr *)&p.local);
		net_ntop((struct sockaddr *)&p.local, lr->from, sizeof(lr->from));
	}
	if (rc == SESS_NOCONN)
		findings_addf(f, "probe.skipped", "%s: %s", lr->where, strerror(e));
	else if (rc == SESS_NOTLS)
		findings_addf(f, "tls.handshake-failed", "%s: the implicit TLS handshake failed",
			      lr->where);
	else if (rc == SESS_BADGREET && r.code == 0)
		findings_addf(f, "probe.inconclusive", "%s: no greeting or EHLO reply in time",
			      lr->where);
	else if (rc == SESS_BADGREET)
		findings_addf(f, "probe.inconclusive", "%s: %d %s", lr->where, r.code, r.text);
	if (rc != SESS_OK) {
		probe_close(&p);
		return false;
	}
	if (p.ssl != NULL)
		tls_note(&p, lr);
	else
		probe_auth_plain(&p, lr, &r, f);
	if (!lr->trusted && plain)
		probe_relay(&p, lr);
	if (p.ssl == NULL)
		probe_starttls(&p, lr, &r, f);
	if (!lr->trusted && lr->relay == RELAY_UNTESTED && lr->tls_up)
		probe_relay(&p, lr);
	probe_cmd(&p, &r, "QUIT");
	probe_close(&p);
	return true;
}

/* probe_version - a session whose handshake allows only version i:
 * 1 it worked, 0 refused, -1 could not tell. */
static int
probe_version(struct lresult *lr, size_t i)
{
	struct probe p;
	struct smtp_reply r;
	int rc = probe_session(&p, lr, versions[i].version, &r), ok = -1;

	if (lr->li->tls == LTLS_IMPLICIT)
		ok = rc == SESS_OK ? 1 : rc == SESS_NOTLS ? 0 : -1;
	else if (rc == SESS_OK && probe_cmd(&p, &r, "STARTTLS") == 0 && r.code == 220)
		ok = probe_tls(&p, versions[i].version, lr->cf->hostname) == 0 ? 1 : 0;
	if (ok == 1)
		probe_cmd(&p, &r, "QUIT");
	probe_close(&p);
	return ok;
}

static const char *
version_name(int version)
{
	size_t i;

	for (i = 0; i < PROBE_NVERSIONS; i++)
		if (versions[i].version == version)
			return versions[i].name;
	return "?";
}

/* report_tls - which versions a listener took, and the old ones if any. */
static void
report_tls(const struct lresult *lr, struct findings *f)
{
	struct buf all = BUF_INIT, old = BUF_INIT;
	size_t i;

	for (i = 0; i < PROBE_NVERSIONS; i++) {
		const char *said = lr->accepted[i] == 1 ? "accepted"
				   : lr->accepted[i] == 0 ? "refused"
							  : "not known";

		buf_addf(&all, "%s%s %s", i ? ", " : "", versions[i].name, said);
		if (lr->accepted[i] == 1 && versions[i].version < TLS1_2_VERSION)
			buf_addf(&old, "%s%s", old.len ? " and " : "", versions[i].name);
	}
	findings_addf(f, "tls.versions", "%s: %s; a client's first choice: %s with %s", lr->where,
		      buf_cstr(&all), version_name(lr->tls_default), lr->cipher);
	if (old.len > 0)
		findings_addf(f, "tls.min-version", "%s: a handshake with %s worked", lr->where,
			      buf_cstr(&old));
	buf_free(&all);
	buf_free(&old);
}

/* report_relay - the relay attempt's verdict. */
static void
report_relay(const struct lresult *lr, struct findings *f)
{
	if (lr->trusted) {
		findings_addf(f, "relay.probe-inconclusive",
			      "%s: the probe comes from %s, which is in trusted_networks", lr->where,
			      lr->from);
	} else if (lr->relay == RELAY_OPEN) {
		findings_add(f, "relay.open", lr->relay_why);
	} else if (lr->relay == RELAY_REFUSED) {
		findings_add(f, "relay.refused", lr->relay_why);
	} else if (lr->relay == RELAY_UNKNOWN) {
		findings_add(f, "relay.probe-inconclusive", lr->relay_why);
	}
}

/* target - the address to probe: a wildcard becomes loopback. */
static void
target(const struct conf_listener *li, struct lresult *lr)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&lr->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&lr->addr;

	memcpy(&lr->addr, &li->addr, sizeof(lr->addr));
	lr->addrlen = li->addrlen;
	if (li->addr.ss_family == AF_INET && sin->sin_addr.s_addr == htonl(INADDR_ANY))
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (li->addr.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
		sin6->sin6_addr = in6addr_loopback;
}

static void
probe_listener(const struct conf *cf, const struct conf_listener *li, struct findings *f)
{
	struct lresult lr;
	char a[NET_ADDRSTRLEN + 8];
	size_t i;

	memset(&lr, 0, sizeof(lr));
	lr.li = li;
	lr.cf = cf;
	target(li, &lr);
	net_format((struct sockaddr *)&lr.addr, a, sizeof(a));
	if (strcmp(a, li->spec) == 0)
		snprintf(lr.where, sizeof(lr.where), "listen %s (%s)", li->spec,
			 conf_role_name(li->role));
	else
		snprintf(lr.where, sizeof(lr.where), "listen %s (%s, probed at %s)", li->spec,
			 conf_role_name(li->role), a);
	if (!probe_main(&lr, f))
		return;
	report_relay(&lr, f);
	if (!lr.tls_up)
		return;
	for (i = 0; i < PROBE_NVERSIONS; i++)
		lr.accepted[i] = versions[i].version == lr.tls_default ? 1 : probe_version(&lr, i);
	report_tls(&lr, f);
}

void
check_probes(const struct conf *cf, struct findings *f)
{
	size_t i;

	/* a server that closes while we write (SSL_write has no MSG_NOSIGNAL)
	 * is an answer, not a reason to die */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < cf->nlisteners; i++)
		probe_listener(cf, &cf->listeners[i], f);
}
