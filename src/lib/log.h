/* SPDX-License-Identifier: ISC */
/*
 * log - one line per event, to stderr or syslog (LOG_MAIL).
 *
 * Lines read "<id> <subsystem> <event> key=value ..."; callers build that
 * shape, this module adds the time and process name on stderr. Untrusted
 * values must pass through log_escape() first.
 *
 * SECURITY: never given secrets. log_escape() caps and escapes untrusted
 * bytes so a hostile peer cannot forge log lines (CVE-2020-8794 class).
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Maximum untrusted bytes shown by log_escape() before "...". */
#define LOG_ESCAPE_SHOWN 200
/* A buffer large enough for any log_escape() output. */
#define LOG_ESCAPE_BUF (LOG_ESCAPE_SHOWN * 4 + 8)

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* log_init - name this process ("parent", "smtp", "queue", "cli"). */
void log_init(const char *procname, bool use_syslog, enum log_level level);
void log_set_procname(const char *procname);
void log_set_syslog(bool use_syslog);
void log_set_level(enum log_level level);
bool log_debug_enabled(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warnx - a warning; log_warn appends ": strerror(errno)". */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_fatal/log_fatalx - log and exit(1); for broken invariants, abort. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* log_bug - a broken invariant or a malformed message from a peer process:
 * log and abort(), leaving a core for the developer. */
void log_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* log_escape - render n untrusted bytes into out (LOG_ESCAPE_BUF bytes):
 * printable ASCII except backslash and quote as is, everything else \xHH,
 * at most LOG_ESCAPE_SHOWN input bytes then "...". Returns out. */
const char *log_escape(char *out, const void *in, size_t n);
/* log_escape_str - log_escape() of a C string. */
const char *log_escape_str(char *out, const char *s);

#endif
