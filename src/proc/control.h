/* SPDX-License-Identifier: ISC */
/*
 * control - the control socket (state_dir/control.sock) and the admin
 * request dispatcher behind it and behind the admin API.
 *
 * One request per connection: a JSON line (src/admin/request.h) with the
 * words of a `postern` command; the answer is one JSON line with the exit
 * status and output. The dispatcher decides with the role table
 * (src/admin/role.h) whether the caller may, runs queue and DMARC report
 * requests here and every other command as a child `postern` (proc/job.h),
 * and writes one audit record per request: admin.request (who, from where,
 * the role, the command, its exit status and, for queue changes, the
 * message's state before and after) or admin.denied.
 *
 * SECURITY: the socket is mode 0666 so that any local user can ask; the
 * caller's uid, gid and groups come from the kernel (SO_PEERCRED,
 * SO_PEERGROUPS), never from the request, and are mapped to a role by
 * admin { } in the config; unmapped callers are refused. Requests are
 * bounded to ADMIN_REQUEST_MAX bytes and parsed by the fuzzed
 * admin_req_decode().
 */
#ifndef POSTERN_CONTROL_H
#define POSTERN_CONTROL_H

#include "admin/request.h"
#include "conf/conf.h"
#include "lib/buf.h"

/* How long a command run for a caller may take. */
#define CONTROL_JOB_TIMEOUT 600
/* Commands run for callers at once; more are answered "busy". */
#define CONTROL_MAX_JOBS 4
/* Control connections open at once; more wait in the listen backlog. */
#define CONTROL_MAX_CONNS 32

struct event_base;
struct queue;
struct control;

/* Who asks, as the dispatcher sees it. */
struct admin_caller {
	enum admin_role role;
	char actor[128]; /* "uid:alice", "api:bob": goes into audit records */
	char via[16];	 /* "control" or "api" */
	char from[128];	 /* "pid=123 uid=1001 gid=1001", "192.0.2.7" */
	char why[96];	 /* how the role was given: "group mailops" */
};

/* admin_done_fn - a request's outcome (buffers freed after the call). */
typedef void (*admin_done_fn)(int status, struct buf *out, struct buf *err, void *arg);

struct control *control_new(struct event_base *base, int fd, struct queue *q);
void control_free(struct control *c);

/* control_dispatch - check, run and audit req for who; done is called
 * exactly once, possibly before this returns. The returned handle (NULL
 * when done was already called) can be given to control_cancel when the
 * asker goes away. req is not kept (the queue commands may reorder
 * nothing in it, but take its words as modifiable strings). */
struct admin_pending *control_dispatch(struct control *c, const struct admin_caller *who,
				       struct admin_req *req, admin_done_fn done,
				       void *arg);
/* control_cancel - done will not be called for p (the work still ends). */
void control_cancel(struct admin_pending *p);

/* Longest API answer body (JSON of both outputs, escaped). */
#define CONTROL_API_ANSWER_MAX (8 * ADMIN_OUTPUT_MAX)
/* Most tokens ended by logout before their time, remembered until then. */
#define CONTROL_REVOKED_MAX 4096

/* control_set_api_key - the key that seals admin API tokens. */
void control_set_api_key(struct control *c, const uint8_t key[32]);
/* control_api_done_fn - the HTTP status and JSON body of an API answer
 * (body freed after the call). */
typedef void (*control_api_done_fn)(unsigned http, struct buf *body, void *arg);
/* control_api_run - an admin API request (body: a request as in
 * admin/request.h) with the bearer token from the client at ip: the token
 * is checked (seal, expiry, address, not logged out), then the command is
 * dispatched under its role (via "api"). done is called exactly once. */
void control_api_run(struct control *c, const char *token, const char *ip, const char *body,
		     size_t len, control_api_done_fn done, void *arg);
/* control_api_logout - end token now (if it is valid for ip). */
void control_api_logout(struct control *c, const char *token, const char *ip);

/* control_request - client side: send the command argv (with in[0..inlen)
 * as its input, in NULL for none) to the socket at path; the command's
 * output goes to out and err. Returns its exit status, or -1 with a
 * message in err when the daemon cannot be reached. */
int control_request(const char *path, int argc, char *const *argv, const void *in, size_t inlen,
		    struct buf *out, struct buf *err);

#endif
