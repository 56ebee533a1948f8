/* SPDX-License-Identifier: ISC */
/*
 * loadgen - what the benchmark load generators (tls-source.c, auth-source.c)
 * share: a blocking SMTP connection over TCP or TLS with a read buffer,
 * a table of distinct error reasons with counts, percentiles and JSON
 * output helpers. Benchmark tooling, not part of postern.
 */
#ifndef POSTERN_BENCH_LOADGEN_H
#define POSTERN_BENCH_LOADGEN_H

#include <pthread.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* First few distinct failure reasons, with counts. */
#define MAXERR 10
extern pthread_mutex_t g_mu; /* guards the table, and free for the tools' own use */
extern struct loadgen_err {
	char what[200];
	long n;
} g_err[MAXERR];
extern int g_nerr;
extern long g_err_other;

struct conn {
	int fd;
	SSL *ssl;
	size_t len;	/* bytes in buf */
	size_t off;	/* start of the unparsed part */
	char buf[8192];
	char stage[16];	/* what we were doing, for error messages */
	int last_code;	/* code of the last reply read (auth-source) */
	char last_line[100];
};

/* mono - a monotonic clock in seconds. */
double mono(void);
/* record_error - count one failure under its (formatted) reason. */
void record_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ssl_err - a readable reason for an OpenSSL failure, in e. */
const char *ssl_err(SSL *ssl, int rc, char *e, size_t n);
/* fill - read more bytes into c->buf (EINTR retried); 0, or -1 recorded. */
int fill(struct conn *c);
/* send_all - all n bytes or -1 (recorded). */
int send_all(struct conn *c, const char *p, size_t n);
/* reply - read one (possibly multi-line) reply into c->last_code and
 * c->last_line; if kw is non-NULL, set *found when a line's keyword is kw
 * (and, if arg is non-NULL, one of its words is arg). 0, or -1 recorded. */
int reply(struct conn *c, const char *kw, const char *arg, int *found);
/* reply_want - the same, and the code must be want. */
int reply_want(struct conn *c, int want, const char *kw, const char *arg, int *found);
/* cmd - send line (stage names it in errors) and reply_want its reply. */
int cmd(struct conn *c, const char *stage, const char *line, int want, const char *kw,
	const char *arg, int *found);
/* starttls_handshake - STARTTLS, its 220 (nothing may follow it), then
 * the TLS handshake on c->fd under ctx; *hs its duration in seconds. */
int starttls_handshake(struct conn *c, SSL_CTX *ctx, double *hs);
/* cmpd - qsort order of doubles; pct - percentile p (0..100) of n sorted
 * seconds, in ms (-1 when n is 0). */
int cmpd(const void *a, const void *b);
double pct(const double *v, long n, double p);
/* json_str - print s as a JSON string. */
void json_str(const char *s);

#endif
