/* SPDX-License-Identifier: ISC */
/*
 * notices - the mails postern writes to its users (practice 14): a lockout,
 * a sign-in from a new address, a password about to expire, instructions
 * for two-step sign-in. Each kind has a built-in text; the operator may
 * replace it with a template file DIR/KIND.txt (notices { dir DIR }), read
 * by the parent at start and at each reload: a file that does not parse is
 * a config error naming the file and line, and the running texts stay.
 * The queue process renders a notice (mail/template.h), composes it
 * (mail/notice.h) and queues it with the null sender.
 *
 * SECURITY: the templates are the operator's (root's files, read by the
 * parent, which passes their text on). Values come from other processes
 * and name things an attacker chose (an account, an address): template.h
 * makes them safe, and a notice goes only to an address that parses as a
 * mailbox. Secrets (a TOTP secret, a password) are never a value of any
 * notice: mail is not a safe channel.
 * STANDARDS: RFC 3834 (automatic replies: null sender, Auto-Submitted).
 */
#ifndef POSTERN_NOTICES_H
#define POSTERN_NOTICES_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/template.h"

enum notices_kind {
	NK_LOCKOUT,	    /* the guard locked the account against new sources */
	NK_NEW_IP,	    /* a sign-in from an address the account never used */
	NK_PASSWORD_EXPIRY, /* the password nears auth { max_age } */
	NK_2FA_ENROLMENT,   /* two-step sign-in was turned on: how to set it up */
	NK_COUNT
};

/* Values one notice may carry (the kind's placeholders at most). */
#define NOTICES_VARS_MAX 8
/* A value as it travels between processes (template.h cuts it shorter). */
#define NOTICES_VALUE_MAX 512
/* The template file of a kind: DIR/NAME.txt. */
#define NOTICES_SUFFIX ".txt"

struct notices;
struct queue;

/* notices_kind_name - "lockout", "new-ip", "password-expiry",
 * "2fa-enrolment". */
const char *notices_kind_name(enum notices_kind k);
/* notices_kind_parse - the kind of name; 0, or -1 when there is none. */
int notices_kind_parse(const char *name, enum notices_kind *k);
/* notices_kind_vars - the kind's placeholder names, NULL-terminated. */
const char *const *notices_kind_vars(enum notices_kind k);

/* notices_load - the built-in texts, each replaced by DIR/KIND.txt when
 * that file exists (dir NULL: none). NULL with "FILE:LINE: message" in err
 * when a file cannot be read or does not parse, or when dir holds a .txt
 * file that names no kind (a typo would otherwise go unnoticed). */
struct notices *notices_load(const char *dir, char *err, size_t errsz);
/* notices_new - the built-in texts only. */
struct notices *notices_new(void);
/* notices_set - kind k's text from source ("built-in" or a path): 0, or -1
 * with "SOURCE:LINE: message" in err (ns unchanged). */
int notices_set(struct notices *ns, enum notices_kind k, const char *source, const char *text,
		size_t len, char *err, size_t errsz);
/* notices_text - kind k's template text; *source: where it came from. */
const char *notices_text(const struct notices *ns, enum notices_kind k, const char **source);
/* notices_render - kind k filled in with vars (template_render). */
void notices_render(const struct notices *ns, enum notices_kind k,
		    const struct template_var *vars, size_t nvars, struct buf *subject,
		    struct buf *body);
/* notices_free - NULL is fine. */
void notices_free(struct notices *ns);

/* notices_inject - a mail of ours (subject and body, as notice_compose
 * takes them) to the mailbox to, queued with the null sender: 0, or -1
 * (logged) when to is not a mailbox or the mail cannot be queued. */
int notices_inject(struct queue *q, const char *to, const char *subject, const char *body);
/* notices_send - kind k to the mailbox to, rendered from q->notices with
 * vars plus {hostname} and {time} (now) unless vars has them; counted in
 * the queue's metrics. 0 or -1 (logged). */
int notices_send(struct queue *q, enum notices_kind k, const char *to,
		 const struct template_var *vars, size_t nvars);
/* notices_ctl - `postern notice list|show KIND|send 2fa-enrolment ACCOUNT`
 * (argv without "notice"): 0 with the answer in out, or -1 with why. */
int notices_ctl(struct queue *q, char **argv, int argc, struct buf *out);

#endif
