/* SPDX-License-Identifier: ISC */
/*
 * spool - the on-disk format of a queued message, and of its delivery
 * state.
 *
 * A queue file is a sequence of typed records, each TYPE (1 byte), LENGTH
 * (4 bytes, big-endian) and DATA. It opens with a version record, then the
 * envelope (id, time, sender, attributes, recipients), then a BODY record
 * after which the message follows in wire form (CRLF, dot-stuffed), and it
 * ends with a fixed-size END record holding the body length. A file whose
 * last 13 bytes are not a matching END record is incomplete and is never
 * delivered.
 *
 * The delivery state (attempts, next try, hold, per-recipient results)
 * lives in a small text file beside it, replaced atomically; losing it
 * costs at most a repeated delivery, never a message.
 *
 * SECURITY: the queue process reads files that it wrote itself, but parses
 * them as untrusted (fuzzed): a damaged file is set aside, never trusted.
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/envelope.h"

#define SPOOL_MAGIC "POSTERN-QUEUE-1"
#define SPOOL_END_SIZE 13
#define SPOOL_MAX_RCPTS 100000
#define SPOOL_HEADER_MAX (64 * 1024 * 1024)

/* spool_header - append the records before the body to out. */
void spool_header(const struct envelope *env, struct buf *out);
/* spool_end - the END record for a body of body_len bytes. */
void spool_end(uint64_t body_len, uint8_t out[SPOOL_END_SIZE]);
/* spool_parse_header - parse the records up to and including BODY from the
 * first n bytes of a file. Returns 0 with env filled (free its rcpts with
 * envelope_clear) and *body_off set, 1 if more bytes are needed, or -1 if
 * the file is malformed. */
int spool_parse_header(const uint8_t *p, size_t n, struct envelope *env, uint64_t *body_off);
/* spool_check_end - does tail (the last SPOOL_END_SIZE bytes of a file of
 * file_size bytes) close a body that starts at body_off? 0 or -1. */
int spool_check_end(const uint8_t *tail, uint64_t file_size, uint64_t body_off);

/* Delivery state of one recipient. */
enum rcpt_status { RS_PENDING, RS_DONE, RS_FAILED };

struct spool_state {
	uint32_t attempts;
	uint64_t next_try;   /* unix seconds */
	uint64_t first_fail; /* unix seconds of the first temporary failure */
	int hold;
	int warned; /* a delay DSN was sent */
	uint32_t nrcpts;
	uint8_t *status;     /* enum rcpt_status per recipient */
	char **error;	     /* last error text per recipient, or NULL */
};

/* spool_state_format - the text form of st. */
void spool_state_format(const struct spool_state *st, struct buf *out);
/* spool_state_parse - parse text for a message of nrcpts recipients into
 * st (allocated; free with spool_state_clear). 0 or -1. */
int spool_state_parse(const char *text, size_t len, uint32_t nrcpts, struct spool_state *st);
void spool_state_init(struct spool_state *st, uint32_t nrcpts);
void spool_state_clear(struct spool_state *st);
/* valid_queue_id - 16 lower-case hex digits. */
bool valid_queue_id(const char *s);

#endif
