/* SPDX-License-Identifier: ISC */
/*
 * ipc - message passing between postern processes over SOCK_SEQPACKET.
 *
 * SECURITY: every read is bounds-checked; a malformed message aborts the
 * reader. Passed descriptors are received close-on-exec. Strings are sent
 * with a presence byte and a length, and must not contain NUL.
 */
#include "lib/ipc.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct ipc_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len;
};

struct ipc_q {
	struct ipc_q *next;
	struct ipc_hdr hdr;
	struct buf payload;
	int fd;
	bool secret; /* wipe the payload when done */
};

struct ipc {
	int fd;
	char peer[32];
	struct event *ev_read;
	struct event *ev_write;
	struct ipc_q *head, **tail;
	ipc_handler cb;
	void *arg;
	uint8_t *rbuf;
};

static void ipc_on_read(evutil_socket_t fd, short what, void *arg);
static void ipc_on_write(evutil_socket_t fd, short what, void *arg);

struct ipc *
ipc_new(struct event_base *base, int fd, const char *peer, ipc_handler cb, void *arg)
{
	struct ipc *ipc = xcalloc(1, sizeof(*ipc));

	ipc->fd = fd;
	str_copy(ipc->peer, peer, sizeof(ipc->peer));
	ipc->cb = cb;
	ipc->arg = arg;
	ipc->tail = &ipc->head;
	ipc->rbuf = xmalloc(sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD);
	if (evutil_make_socket_nonblocking(fd) == -1)
		log_fatal("ipc %s: nonblocking", peer);
	ipc->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, ipc_on_read, ipc);
	ipc->ev_write = event_new(base, fd, EV_WRITE, ipc_on_write, ipc);
	if (ipc->ev_read == NULL || ipc->ev_write == NULL)
		log_fatalx("ipc %s: event_new failed", peer);
	event_add(ipc->ev_read, NULL);
	return ipc;
}

static void
ipc_q_free(struct ipc_q *q)
{
	if (q->fd != -1)
		close(q->fd);
	if (q->secret)
		buf_wipe_free(&q->payload);
	else
		buf_free(&q->payload);
	free(q);
}

void
ipc_free(struct ipc *ipc)
{
	struct ipc_q *q, *next;

	if (ipc == NULL)
		return;
	event_free(ipc->ev_read);
	event_free(ipc->ev_write);
	for (q = ipc->head; q != NULL; q = next) {
		next = q->next;
		ipc_q_free(q);
	}
	close(ipc->fd);
	free(ipc->rbuf);
	free(ipc);
}

/* ipc_write_one - try to send the head message; 1 sent, 0 would block. */
static int
ipc_write_one(struct ipc *ipc)
{
	struct ipc_q *q = ipc->head;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = &q->hdr;
	iov[0].iov_len = sizeof(q->hdr);
	iov[1].iov_base = q->payload.data;
	iov[1].iov_len = q->payload.len;
	mh.msg_iov = iov;
	mh.msg_iovlen = q->payload.len ? 2 : 1;
	if (q->fd != -1) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &q->fd, sizeof(int));
	}
	n = sendmsg(ipc->fd, &mh, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
			return 0;
		if (errno == EPIPE || errno == ECONNRESET) {
			/* The peer is gone; the read side reports it. */
			ipc->head = q->next;
			if (ipc->head == NULL)
				ipc->tail = &ipc->head;
			ipc_q_free(q);
			return 1;
		}
		log_fatal("ipc %s: sendmsg", ipc->peer);
	}
	ipc->head = q->next;
	if (ipc->head == NULL)
		ipc->tail = &ipc->head;
	ipc_q_free(q);
	return 1;
}

static void
ipc_drain(struct ipc *ipc)
{
	while (ipc->head != NULL)
		if (ipc_write_one(ipc) == 0)
			break;
	if (ipc->head != NULL)
		event_add(ipc->ev_write, NULL);
}

static void
ipc_on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ipc_drain(arg);
}

void
ipc_flush(struct ipc *ipc)
{
	while (ipc->head != NULL) {
		int fl = 0;

		if (ipc_write_one(ipc) == 0) {
			struct timeval tv = {0, 10000};

			(void)fl;
			select(0, NULL, NULL, NULL, &tv);
		}
	}
}

static void
ipc_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc *ipc = arg;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct ipc_hdr hdr;
	struct ipc_msg m;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;
	int i;

	(void)what;
	for (i = 0; i < 64; i++) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = ipc->rbuf;
		iov.iov_len = sizeof(hdr) + IPC_MAX_PAYLOAD;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNRESET) {
				ipc->cb(ipc, NULL, ipc->arg);
				return;
			}
			log_fatal("ipc %s: recvmsg", ipc->peer);
		}
		if (n == 0) {
			ipc->cb(ipc, NULL, ipc->arg);
			return;
		}
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			log_bug("ipc %s: truncated message", ipc->peer);
		if ((size_t)n < sizeof(hdr))
			log_bug("ipc %s: short message (%zd bytes)", ipc->peer, n);
		memcpy(&hdr, ipc->rbuf, sizeof(hdr));
		if (hdr.version != IPC_VERSION)
			log_bug("ipc %s: version %u, expected %u", ipc->peer, hdr.version,
				IPC_VERSION);
		if (hdr.len != (size_t)n - sizeof(hdr))
			log_bug("ipc %s: length %u does not match %zd", ipc->peer, hdr.len, n);
		memset(&m, 0, sizeof(m));
		m.type = hdr.type;
		m.peer = ipc->peer;
		m.data = ipc->rbuf + sizeof(hdr);
		m.len = hdr.len;
		m.fd = -1;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				log_bug("ipc %s: unexpected control message", ipc->peer);
			if (c->cmsg_len != CMSG_LEN(sizeof(int)) || m.fd != -1)
				log_bug("ipc %s: more than one descriptor", ipc->peer);
			memcpy(&m.fd, CMSG_DATA(c), sizeof(int));
		}
		ipc->cb(ipc, &m, ipc->arg);
		if (m.fd != -1)
			log_bug("ipc %s: descriptor of message %u not taken", m.peer, m.type);
		/* Messages may carry passwords and keys: nothing stays behind. */
		explicit_bzero(ipc->rbuf, (size_t)n);
	}
}

void
ipc_begin(struct ipc_out *out, uint16_t type)
{
	out->type = type;
	buf_init(&out->payload);
	out->fd = -1;
}

static void
ipc_add_raw(struct ipc_out *out, const void *p, size_t n)
{
	if (out->payload.len + n > IPC_MAX_PAYLOAD)
		log_bug("ipc: message %u exceeds %d bytes", out->type, IPC_MAX_PAYLOAD);
	buf_add(&out->payload, p, n);
}

void
ipc_add_u8(struct ipc_out *out, uint8_t v)
{
	ipc_add_raw(out, &v, 1);
}

void
ipc_add_u32(struct ipc_out *out, uint32_t v)
{
	ipc_add_raw(out, &v, sizeof(v));
}

void
ipc_add_u64(struct ipc_out *out, uint64_t v)
{
	ipc_add_raw(out, &v, sizeof(v));
}

void
ipc_add_data(struct ipc_out *out, const void *p, size_t n)
{
	if (n > IPC_MAX_PAYLOAD)
		log_bug("ipc: data of %zu bytes", n);
	ipc_add_u32(out, (uint32_t)n);
	ipc_add_raw(out, p, n);
}

void
ipc_add_str(struct ipc_out *out, const char *s)
{
	ipc_add_u8(out, s != NULL);
	if (s != NULL)
		ipc_add_data(out, s, strlen(s));
}

void
ipc_add_fd(struct ipc_out *out, int fd)
{
	if (out->fd != -1)
		log_bug("ipc: second descriptor in message %u", out->type);
	out->fd = fd;
}

static void
ipc_queue(struct ipc *ipc, struct ipc_out *out, bool secret)
{
	struct ipc_q *q = xcalloc(1, sizeof(*q));

	q->secret = secret;
	q->hdr.version = IPC_VERSION;
	q->hdr.type = out->type;
	q->hdr.len = (uint32_t)out->payload.len;
	q->payload = out->payload;
	q->fd = out->fd;
	buf_init(&out->payload);
	out->fd = -1;
	*ipc->tail = q;
	ipc->tail = &q->next;
	if (ipc->head == q)
		ipc_drain(ipc);
}

void
ipc_send(struct ipc *ipc, struct ipc_out *out)
{
	ipc_queue(ipc, out, false);
}

void
ipc_send_secret(struct ipc *ipc, struct ipc_out *out)
{
	ipc_queue(ipc, out, true);
}

static const uint8_t *
ipc_get_raw(struct ipc_msg *m, size_t n)
{
	const uint8_t *p;

	if (n > m->len - m->pos)
		log_bug("ipc %s: message %u too short", m->peer, m->type);
	p = m->data + m->pos;
	m->pos += n;
	return p;
}

uint8_t
ipc_get_u8(struct ipc_msg *m)
{
	return *ipc_get_raw(m, 1);
}

uint32_t
ipc_get_u32(struct ipc_msg *m)
{
	uint32_t v;

	memcpy(&v, ipc_get_raw(m, sizeof(v)), sizeof(v));
	return v;
}

uint64_t
ipc_get_u64(struct ipc_msg *m)
{
	uint64_t v;

	memcpy(&v, ipc_get_raw(m, sizeof(v)), sizeof(v));
	return v;
}

const void *
ipc_get_data(struct ipc_msg *m, size_t *n)
{
	*n = ipc_get_u32(m);
	return ipc_get_raw(m, *n);
}

char *
ipc_get_str(struct ipc_msg *m, size_t maxlen)
{
	const char *p;
	size_t n;
	uint8_t present = ipc_get_u8(m);

	if (present > 1)
		log_bug("ipc %s: bad string marker in message %u", m->peer, m->type);
	if (!present)
		return NULL;
	p = ipc_get_data(m, &n);
	if (n > maxlen || memchr(p, '\0', n) != NULL)
		log_bug("ipc %s: bad string in message %u", m->peer, m->type);
	return xstrndup(p, n);
}

void
ipc_get_strbuf(struct ipc_msg *m, char *dst, size_t dstsize)
{
	char *s = ipc_get_str(m, dstsize - 1);

	if (s == NULL)
		log_bug("ipc %s: missing string in message %u", m->peer, m->type);
	str_copy(dst, s, dstsize);
	free(s);
}

void
ipc_end(struct ipc_msg *m)
{
	if (m->pos != m->len)
		log_bug("ipc %s: %zu trailing bytes in message %u", m->peer, m->len - m->pos,
			m->type);
}

int
ipc_take_fd(struct ipc_msg *m)
{
	int fd = m->fd;

	if (fd == -1)
		log_bug("ipc %s: message %u carries no descriptor", m->peer, m->type);
	m->fd = -1;
	return fd;
}
