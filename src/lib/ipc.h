/* SPDX-License-Identifier: ISC */
/*
 * ipc - typed, versioned, bounds-checked messages between postern processes
 * over SOCK_SEQPACKET socketpairs, with at most one file descriptor each.
 *
 * A message is a fixed header (version, type, payload length) and a payload
 * built with ipc_add_*() and read back with ipc_get_*(). Readers must consume
 * exactly what the writer added: a short, long or mistyped message comes
 * from a broken peer and aborts the reading process (STYLE.md: a malformed
 * message from our own peer process is a bug).
 *
 * SECURITY: peers are our own processes, but the smtp process is the one that
 * parses network input and may be compromised; every field is checked for
 * length and type before use, strings must be NUL-free and bounded.
 */
#ifndef POSTERN_IPC_H
#define POSTERN_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define IPC_VERSION 1
/* Largest message payload; configs larger than this are refused at load. */
#define IPC_MAX_PAYLOAD (192 * 1024)

struct event_base;
struct ipc;

struct ipc_msg {
	uint16_t type;
	const char *peer; /* the sending peer's name, for error messages */
	const uint8_t *data;
	size_t len;
	size_t pos;
	int fd; /* a passed descriptor, or -1; the handler owns it */
};

struct ipc_out {
	uint16_t type;
	struct buf payload;
	int fd; /* descriptor to pass, or -1; closed after sending */
};

/* ipc_handler - called for each message; msg == NULL means the peer closed. */
typedef void (*ipc_handler)(struct ipc *ipc, struct ipc_msg *msg, void *arg);

/* ipc_new - wrap one end of a socketpair; fd becomes owned by the ipc. */
struct ipc *ipc_new(struct event_base *base, int fd, const char *peer, ipc_handler cb, void *arg);
void ipc_free(struct ipc *ipc);
/* ipc_send_blocking - flush queued messages, blocking; used at shutdown. */
void ipc_flush(struct ipc *ipc);

/* Building a message: ipc_begin, ipc_add_*, ipc_send. */
void ipc_begin(struct ipc_out *out, uint16_t type);
void ipc_add_u8(struct ipc_out *out, uint8_t v);
void ipc_add_u32(struct ipc_out *out, uint32_t v);
void ipc_add_u64(struct ipc_out *out, uint64_t v);
void ipc_add_data(struct ipc_out *out, const void *p, size_t n);
/* ipc_add_str - a NUL-free string (NULL sends an absent string). */
void ipc_add_str(struct ipc_out *out, const char *s);
void ipc_add_fd(struct ipc_out *out, int fd);
/* ipc_send - queue the message; the out buffer is consumed. */
void ipc_send(struct ipc *ipc, struct ipc_out *out);
/* ipc_send_secret - the same, wiping the payload once it is sent. */
void ipc_send_secret(struct ipc *ipc, struct ipc_out *out);

/* Reading a message: each aborts the process on a malformed message. */
uint8_t ipc_get_u8(struct ipc_msg *m);
uint32_t ipc_get_u32(struct ipc_msg *m);
uint64_t ipc_get_u64(struct ipc_msg *m);
/* ipc_get_data - pointer into the message, valid during the handler. */
const void *ipc_get_data(struct ipc_msg *m, size_t *n);
/* ipc_get_str - fresh copy, or NULL for an absent string; maxlen bounds it. */
char *ipc_get_str(struct ipc_msg *m, size_t maxlen);
/* ipc_get_strbuf - copy into a fixed buffer; aborts if it does not fit. */
void ipc_get_strbuf(struct ipc_msg *m, char *dst, size_t dstsize);
/* ipc_end - assert the whole payload was read. */
void ipc_end(struct ipc_msg *m);
/* ipc_take_fd - take the passed descriptor (aborts if none). */
int ipc_take_fd(struct ipc_msg *m);

#endif
