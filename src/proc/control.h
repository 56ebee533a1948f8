/* SPDX-License-Identifier: ISC */
/*
 * control - the control socket (state_dir/control.sock): one request line
 * per connection, answered with "ok" or "error <text>" and the output.
 *
 * SECURITY: local peers only (a Unix socket, mode 0600, owned by the
 * unprivileged user; root may always connect). Requests are bounded to
 * CONTROL_MAX_REQUEST bytes and split into at most CONTROL_MAX_ARGS words.
 */
#ifndef POSTERN_CONTROL_H
#define POSTERN_CONTROL_H

#include "lib/buf.h"

#define CONTROL_MAX_REQUEST 4096
#define CONTROL_MAX_ARGS 16

struct event_base;
struct queue;
struct control;

struct control *control_new(struct event_base *base, int fd, struct queue *q);
void control_free(struct control *c);
/* control_split - split a request line into words (pure); -1 if too many
 * words or bytes outside printable ASCII. argv points into line. */
int control_split(char *line, char **argv, int maxargs);
/* control_request - client side: send argv to the socket at path and
 * append the answer's body to out. Returns 0 for "ok", 1 for "error"
 * (message in out), -1 if the daemon cannot be reached. */
int control_request(const char *path, int argc, char **argv, struct buf *out);

#endif
