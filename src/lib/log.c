/* SPDX-License-Identifier: ISC */
/*
 * log - process-wide logging to stderr or syslog.
 *
 * SECURITY: all callers escape untrusted data with log_escape(); this module
 * only adds a timestamp and the process name.
 */
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_proc[32] = "postern";
static bool log_syslog;
static enum log_level log_lvl = LOG_LEVEL_INFO;

void
log_init(const char *procname, bool use_syslog, enum log_level level)
{
	log_set_procname(procname);
	log_lvl = level;
	log_set_syslog(use_syslog);
}

void
log_set_procname(const char *procname)
{
	snprintf(log_proc, sizeof(log_proc), "%s", procname);
}

void
log_set_syslog(bool use_syslog)
{
	if (use_syslog && !log_syslog)
		openlog("postern", LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog = use_syslog;
}

void
log_set_level(enum log_level level)
{
	log_lvl = level;
}

bool
log_debug_enabled(void)
{
	return log_lvl >= LOG_LEVEL_DEBUG;
}

static void
log_emit(enum log_level lvl, int prio, const char *fmt, va_list ap, int errnum)
{
	char msg[2048];
	size_t n;

	if (lvl > log_lvl)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (errnum != 0)
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	if (log_syslog) {
		syslog(prio, "%s: %s", log_proc, msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ postern/%s[%d]: %s\n", when, ts.tv_nsec / 1000000,
			log_proc, (int)getpid(), msg);
	}
}

#define LOG_BODY(lvl, prio, err)                                                                   \
	do {                                                                                       \
		va_list ap;                                                                        \
		int saved = errno;                                                                 \
		va_start(ap, fmt);                                                                 \
		log_emit(lvl, prio, fmt, ap, err);                                                 \
		va_end(ap);                                                                        \
		errno = saved;                                                                     \
	} while (0)

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, LOG_DEBUG, 0);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, LOG_WARNING, 0);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, LOG_WARNING, errno);
}

void
log_fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, LOG_CRIT, errno);
	exit(1);
}

void
log_fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, LOG_CRIT, 0);
	exit(1);
}

void
log_bug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, LOG_CRIT, 0);
	abort();
}

const char *
log_escape(char *out, const void *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i, o = 0, shown = n < LOG_ESCAPE_SHOWN ? n : LOG_ESCAPE_SHOWN;

	for (i = 0; i < shown; i++) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (shown < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

const char *
log_escape_str(char *out, const char *s)
{
	return log_escape(out, s, s ? strlen(s) : 0);
}
