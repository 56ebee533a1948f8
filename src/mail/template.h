/* SPDX-License-Identifier: ISC */
/*
 * template - the operator-editable texts of the mails postern writes to
 * users (src/queue/notices.h): parsing a template and filling it in.
 *
 * A template is a Subject line, a blank line and a body:
 *
 *   # comment lines, before the Subject line only
 *   Subject: Your mail account {account} was locked
 *
 *   Hello, ... {ip} ... {until} ...
 *
 * {name} is a placeholder, replaced by a value when the mail is written;
 * {{ is a literal '{'. Names are lower-case letters, digits and '-'.
 * template_parse() refuses a placeholder its caller does not know, so an
 * operator's typo is an error when the config is loaded, not a hole in a
 * user's mail.
 *
 * SECURITY: pure. Templates come from the operator; values come from
 * anywhere (an account name an attacker chose, a client address) and are
 * untrusted: each is inserted once and never scanned for placeholders
 * again (no template injection), control characters, line breaks, bidi
 * overrides and invalid UTF-8 become '?' (no header injection, no lines an
 * attacker writes into the mail, no text that reads backwards), and each
 * is cut at TEMPLATE_VALUE_MAX bytes. Every bound below keeps a rendered
 * mail inside the limits of mail/notice.h.
 */
#ifndef POSTERN_TEMPLATE_H
#define POSTERN_TEMPLATE_H

#include <stddef.h>

#include "lib/buf.h"

/* A template file: at most this many bytes. */
#define TEMPLATE_FILE_MAX (8 * 1024)
/* The Subject line's text as written, placeholders included. */
#define TEMPLATE_SUBJECT_MAX 150
/* A rendered subject is cut (at a character boundary) to this. */
#define TEMPLATE_SUBJECT_OUT_MAX 200
/* Placeholder uses in one template (subject and body together). */
#define TEMPLATE_USES_MAX 32
/* A placeholder name. */
#define TEMPLATE_NAME_MAX 24
/* A value as inserted, "..." included when it was cut. */
#define TEMPLATE_VALUE_MAX 256
/* A rendered body is at most TEMPLATE_FILE_MAX + TEMPLATE_USES_MAX *
 * TEMPLATE_VALUE_MAX bytes. */
#define TEMPLATE_BODY_OUT_MAX (TEMPLATE_FILE_MAX + TEMPLATE_USES_MAX * TEMPLATE_VALUE_MAX)

struct template_var {
	const char *name;
	const char *value; /* NULL is taken as "" */
};

struct template {
	char *subject; /* as written: placeholders and {{ in place */
	char *body;    /* LF line ends */
};

/* template_parse - the template text[0..len) into t, allowing the
 * placeholders named in names (NULL-terminated). Returns 0, or -1 with the
 * 1-based line of the fault in *line (0: the whole text) and a message
 * for the operator in err; t is then empty. Free t with template_free(). */
int template_parse(const char *text, size_t len, const char *const *names, struct template *t,
		   int *line, char *err, size_t errsz);

/* template_free - release t (an empty or zeroed t is fine). */
void template_free(struct template *t);

/* template_render - the subject (one line, at most
 * TEMPLATE_SUBJECT_OUT_MAX bytes) and the body (at most
 * TEMPLATE_BODY_OUT_MAX bytes) of t, appended to subject and body, with
 * each placeholder replaced by the value of the same name in
 * vars[0..nvars) (the first one wins; none: empty), made safe as said
 * above. Both outputs are valid UTF-8. */
void template_render(const struct template *t, const struct template_var *vars, size_t nvars,
		     struct buf *subject, struct buf *body);

/* template_value - v made safe and cut, appended to out (as
 * template_render inserts it). */
void template_value(const char *v, struct buf *out);

#endif
