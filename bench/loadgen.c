/* SPDX-License-Identifier: ISC */
/*
 * loadgen - shared parts of the benchmark load generators; see loadgen.h.
 */
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
struct loadgen_err g_err[MAXERR];
int g_nerr;
long g_err_other;

double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
record_error(const char *fmt, ...)
{
	char buf[200];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&g_mu);
	for (i = 0; i < g_nerr; i++)
		if (strcmp(g_err[i].what, buf) == 0)
			break;
	if (i < g_nerr)
		g_err[i].n++;
	else if (g_nerr < MAXERR) {
		snprintf(g_err[g_nerr].what, sizeof(g_err[g_nerr].what), "%s", buf);
		g_err[g_nerr++].n = 1;
	} else
		g_err_other++;
	pthread_mutex_unlock(&g_mu);
}

const char *
ssl_err(SSL *ssl, int rc, char *e, size_t n)
{
	unsigned long err = ERR_get_error();
	int se = SSL_get_error(ssl, rc);

	if (err != 0)
		ERR_error_string_n(err, e, n);
	else if (se == SSL_ERROR_SYSCALL)
		snprintf(e, n, "syscall: %s", errno ? strerror(errno) : "unexpected EOF");
	else if (se == SSL_ERROR_ZERO_RETURN)
		snprintf(e, n, "close_notify from server");
	else
		snprintf(e, n, "SSL_get_error=%d", se);
	ERR_clear_error();
	return e;
}

/* Read more bytes into c->buf; 0 ok, -1 error (recorded). */
int
fill(struct conn *c)
{
	ssize_t r;
	char e[160];

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf)) {
		record_error("%s: reply too long", c->stage);
		return -1;
	}
	if (c->ssl) {
		int n;

		do {
			errno = 0;
			n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
		} while (n <= 0 && SSL_get_error(c->ssl, n) == SSL_ERROR_SYSCALL && errno == EINTR);
		if (n <= 0) {
			record_error("%s: SSL_read: %s", c->stage, ssl_err(c->ssl, n, e, sizeof(e)));
			return -1;
		}
		c->len += (size_t)n;
		return 0;
	}
	do
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		record_error("%s: read: %s", c->stage, strerror(errno));
		return -1;
	}
	if (r == 0) {
		record_error("%s: connection closed by server", c->stage);
		return -1;
	}
	c->len += (size_t)r;
	return 0;
}

int
send_all(struct conn *c, const char *p, size_t n)
{
	char e[160];

	if (c->ssl) {
		int r;

		do {
			errno = 0;
			r = SSL_write(c->ssl, p, (int)n);	/* blocking: all or error */
		} while (r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_SYSCALL && errno == EINTR);
		if (r <= 0 || (size_t)r != n) {
			record_error("%s: SSL_write: %s", c->stage, ssl_err(c->ssl, r, e, sizeof(e)));
			return -1;
		}
		return 0;
	}
	while (n > 0) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			record_error("%s: send: %s", c->stage, strerror(errno));
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of the n sorted values v, in ms. */
double
pct(const double *v, long n, double p)
{
	long i;

	if (n == 0)
		return -1;
	i = (long)(p / 100.0 * (double)n + 0.5) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i] * 1000;
}

void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* Read one (possibly multi-line) reply into c->last_code. If kw is non-NULL,
 * set *found when a line's keyword (after the code) is kw and, if arg is
 * non-NULL, one of its words is arg. 0 ok (any code), -1 error (recorded). */
int
reply(struct conn *c, const char *kw, const char *arg, int *found)
{
	for (;;) {
		char *line = c->buf + c->off;
		char *nl = memmem(line, c->len - c->off, "\r\n", 2);

		if (nl == NULL) {
			if (fill(c) == -1)
				return -1;
			continue;
		}
		size_t ll = (size_t)(nl - line);
		c->off += ll + 2;
		if (ll < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (ll > 3 && line[3] != ' ' && line[3] != '-')) {
			record_error("%s: malformed reply \"%.60s\"", c->stage, line);
			return -1;
		}
		if (kw && ll > 4) {
			size_t kl = strlen(kw);
			const char *p = line + 4, *end = line + ll;

			if ((size_t)(end - p) >= kl && strncasecmp(p, kw, kl) == 0 &&
			    (p + kl == end || p[kl] == ' ' || p[kl] == '=')) {
				if (arg == NULL) {
					*found = 1;
				} else {
					size_t al = strlen(arg);

					for (p += kl; p < end; p++) {
						if ((p[-1] == ' ' || p[-1] == '=') &&
						    (size_t)(end - p) >= al &&
						    strncasecmp(p, arg, al) == 0 &&
						    (p + al == end || p[al] == ' '))
							*found = 1;
					}
				}
			}
		}
		if (ll > 3 && line[3] == '-')
			continue;
		c->last_code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		snprintf(c->last_line, sizeof(c->last_line), "%.*s", (int)(ll > 80 ? 80 : ll), line);
		return 0;
	}
}

/* reply_want - read a reply; it must have code want. */
int
reply_want(struct conn *c, int want, const char *kw, const char *arg, int *found)
{
	if (reply(c, kw, arg, found) == -1)
		return -1;
	if (c->last_code != want) {
		record_error("%s: expected %d, got \"%s\"", c->stage, want, c->last_line);
		return -1;
	}
	return 0;
}

/* Send a command and check its reply. */
int
cmd(struct conn *c, const char *stage, const char *line, int want, const char *kw,
    const char *arg, int *found)
{
	snprintf(c->stage, sizeof(c->stage), "%s", stage);
	if (send_all(c, line, strlen(line)) == -1)
		return -1;
	return reply_want(c, want, kw, arg, found);
}

int
starttls_handshake(struct conn *c, SSL_CTX *ctx, double *hs)
{
	char e[160];
	double t0;
	int r;

	if (cmd(c, "STARTTLS", "STARTTLS\r\n", 220, NULL, NULL, NULL) == -1)
		return -1;
	if (c->off != c->len) {
		record_error("STARTTLS: %zu plaintext bytes after the 220", c->len - c->off);
		return -1;
	}
	c->len = c->off = 0;
	snprintf(c->stage, sizeof(c->stage), "handshake");
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		record_error("SSL_new/SSL_set_fd failed");
		return -1;
	}
	t0 = mono();
	do {
		errno = 0;
		r = SSL_connect(c->ssl);
	} while (r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_SYSCALL && errno == EINTR);
	if (r != 1) {
		record_error("handshake: %s", ssl_err(c->ssl, r, e, sizeof(e)));
		return -1;
	}
	*hs = mono() - t0;
	return 0;
}
