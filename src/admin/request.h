/* SPDX-License-Identifier: ISC */
/*
 * request - the admin request and answer, as carried by the control socket
 * (one JSON line each way) and inside the admin API's JSON bodies.
 *
 *   request  {"argv":["user","unlock","bob"],"stdin":"<base64>"}
 *   answer   {"status":0,"stdout":"<base64>","stderr":"<base64>"}
 *
 * argv holds the words and options of a `postern` command line, as typed,
 * without -c; stdin (optional) is what the command reads on its standard
 * input (a password with --password-stdin, a message for `dkim sign`).
 * status is the command's exit status; stdout and stderr its output.
 * Base64 (RFC 4648 section 4) keeps the bytes exact.
 *
 * SECURITY: the request comes from an unauthenticated local process or a
 * network client: admin_req_decode() is pure, bounded (ADMIN_ARGS_MAX words
 * of ADMIN_ARG_MAX bytes, no control characters, ADMIN_STDIN_MAX of input)
 * and fuzzed (tests/fuzz/fuzz_adminreq.c). stdin may carry a password: it
 * is wiped when the request is freed.
 * STANDARDS: RFC 8259 (JSON), RFC 4648 (base64).
 */
#ifndef POSTERN_ADMIN_REQUEST_H
#define POSTERN_ADMIN_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "lib/buf.h"

#define ADMIN_ARGS_MAX 32
#define ADMIN_ARG_MAX 1024
#define ADMIN_STDIN_MAX (1024 * 1024)
/* Longest request line: base64 of the input plus the words. */
#define ADMIN_REQUEST_MAX (2 * ADMIN_STDIN_MAX)
/* Most output kept of a command (each of stdout and stderr). */
#define ADMIN_OUTPUT_MAX (8 * 1024 * 1024)

struct admin_req {
	int argc;
	char *argv[ADMIN_ARGS_MAX + 1]; /* NULL-terminated */
	struct buf in;			/* stdin bytes */
};

/* admin_req_from_json - fill r from a parsed request object; 0, or -1 with
 * a message in err. r is left empty on error; free it with admin_req_free
 * either way. */
int admin_req_from_json(const json_t *o, struct admin_req *r, char *err, size_t errsz);
/* admin_req_decode - the same from len bytes of JSON text. */
int admin_req_decode(const char *text, size_t len, struct admin_req *r, char *err,
		     size_t errsz);
/* admin_req_free - release r, wiping its input. Accepts an empty r. */
void admin_req_free(struct admin_req *r);
/* admin_req_encode - append the request line (with its newline) to out. */
void admin_req_encode(int argc, char *const *argv, const void *in, size_t inlen, struct buf *out);

/* admin_resp_encode - append the answer line (with its newline). */
void admin_resp_encode(int status, const struct buf *out, const struct buf *err,
		       struct buf *line);
/* admin_resp_decode - parse an answer; 0, or -1 when it is not one. */
int admin_resp_decode(const char *text, size_t len, int *status, struct buf *out,
		      struct buf *err);

/* admin_b64_set - set member key of o to the base64 of n bytes. */
void admin_b64_set(json_t *o, const char *key, const void *p, size_t n);

#endif
