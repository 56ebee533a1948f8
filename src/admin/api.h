/* SPDX-License-Identifier: ISC */
/*
 * api - the HTTPS admin API: every `postern` command for admins who log in
 * with their account's password and TOTP code (practice 17).
 *
 *   POST /api/v1/login   {"account":A,"password":P,"code":"123456"}
 *        200 {"token":T,"role":R,"expires_in":S}; 401 login failed;
 *        403 password expired; 503 try again later
 *   POST /api/v1/run     Authorization: Bearer T
 *        {"argv":["queue","list"],"stdin":"<base64>"} (as src/admin/request.h)
 *        200 {"status":N,"stdout":"...","stderr":"..."}: the command ran
 *        (status is its exit status; a refusal by role is status 1 with
 *        the reason in stderr); 401 token missing, expired or not valid
 *   POST /api/v1/logout  Authorization: Bearer T   204; the token is dead
 * Anything else is 404 (405 for a known path with another method); a
 * client outside admin { api_allow }, or banned by the guard, gets 403.
 *
 * Runs in the smtp process, which terminates TLS and parses HTTP; it holds
 * no secret of the API: a login goes to the auth process as an
 * authentication of mechanism ADMIN-API (password and code checked there,
 * counted by the guard, audited), which answers with a token it sealed; a
 * run request goes to the queue process with its token, which checks the
 * seal, the expiry and the address before it dispatches the command under
 * the token's role (proc/control.c: the same table, the same audit record
 * as the control socket, via "api").
 *
 * SECURITY: network input. Requests are bounded (API_MAX_HEADERS,
 * API_MAX_BODY, API_TIMEOUT, API_MAX_CONNS at once); the login body is
 * parsed by api_login_parse (pure, fuzzed with the others) and its
 * password wiped after use; refused logins are answered after the guard's
 * tarpit delay.
 * STANDARDS: RFC 9110 (HTTP semantics), RFC 6750 (bearer tokens), RFC 8259.
 */
#ifndef POSTERN_ADMIN_API_H
#define POSTERN_ADMIN_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "lib/buf.h"

#define API_MAX_CONNS 16
#define API_MAX_HEADERS 8192
#define API_MAX_BODY (128 * 1024)
#define API_TIMEOUT 30
#define API_PASSWORD_MAX 1024
#define API_CODE_MAX 10

struct event_base;
struct api;

struct api_ops {
	/* a new TLS connection's SSL (NULL: refuse the connection) */
	SSL *(*new_ssl)(void *arg);
	/* check a login: plain is "\0account\0password+code" (PLAIN framing);
	 * answered by api_login_answer(sid) */
	void (*login)(void *arg, uint64_t sid, const char *ip, const uint8_t *plain, size_t len);
	/* run body (a request) with token from ip; answered by
	 * api_run_answer(rid) */
	void (*run)(void *arg, uint64_t rid, const char *token, const char *ip, const char *body,
		    size_t len);
	/* end token now */
	void (*logout)(void *arg, const char *token, const char *ip);
	/* a fresh id for a login or a run (unique within the process) */
	uint64_t (*next_id)(void *arg);
	/* is sa banned by the guard now? (refused like at the SMTP listeners) */
	bool (*banned)(void *arg, const struct sockaddr *sa);
};

/* api_login_parse - pure: the login body {"account","password","code"}
 * into the PLAIN framing "\0account\0password+code" in out (wipe it after
 * use); 0, or -1 with a reason in err. */
int api_login_parse(const char *body, size_t len, struct buf *out, char *err, size_t errsz);

/* api_new - serve fd (bound by the parent) on base; ops and arg are kept.
 * fd is the api's from now on, also on failure (NULL). */
struct api *api_new(struct event_base *base, int fd, const struct conf *cf,
		    const struct api_ops *ops, void *arg);
/* api_set_conf - the allow list from cf, for requests from now on. */
void api_set_conf(struct api *a, const struct conf *cf);
/* api_login_answer - the auth process's verdict (enum auth_status) for
 * sid, with the token on success; false when sid is not an API login. */
bool api_login_answer(struct api *a, uint64_t sid, int status, const uint8_t *token,
		      size_t len, uint32_t delay_ms);
/* api_run_answer - the queue process's answer for rid: the HTTP status
 * and the JSON body (body_len bytes, borrowed). */
void api_run_answer(struct api *a, uint64_t rid, unsigned http, const char *body,
		    size_t body_len);
void api_free(struct api *a);

#endif
