/* SPDX-License-Identifier: ISC */
/*
 * spool - the on-disk format of a queued message, and of its delivery
 * state.
 *
 * A queue file is a sequence of typed records, each TYPE (1 byte), LENGTH
 * (4 bytes, big-endian) and DATA. It opens with a version record, then the
 * envelope (id, time, sender, attributes, recipients), then a BODY record
 * after which the message follows in wire form (CRLF, dot-stuffed), then
 * an optional trailer written at commit: a PREPEND record (header lines
 * the gateway adds once the whole message has been seen: its
 * Authentication-Results, DKIM signatures) and a QUARANTINE record (why the
 * message is held). It ends with a fixed-size END record holding the body
 * length. A file whose last 13 bytes are not a matching END record, or
 * whose trailer does not parse, is incomplete and is never delivered.
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

#define SPOOL_PREPEND_MAX (256 * 1024)
#define SPOOL_REASON_MAX 200
#define SPOOL_TRAILER_MAX (SPOOL_PREPEND_MAX + SPOOL_REASON_MAX + 16)

/* What the trailer of a queue file holds. */
struct spool_trailer {
	uint64_t prepend_off; /* file offset of the header lines to send first */
	uint64_t prepend_len; /* 0: none */
	bool quarantined;
	char reason[SPOOL_REASON_MAX + 1]; /* why it is quarantined */
};

/* spool_header - append the records before the body to out. */
void spool_header(const struct envelope *env, struct buf *out);
/* spool_end - the END record for a body of body_len bytes. */
void spool_end(uint64_t body_len, uint8_t out[SPOOL_END_SIZE]);
/* spool_parse_header - parse the records up to and including BODY from the
 * first n bytes of a file. Returns 0 with env filled (free its rcpts with
 * envelope_clear) and *body_off set, 1 if more bytes are needed, or -1 if
 * the file is malformed. */
int spool_parse_header(const uint8_t *p, size_t n, struct envelope *env, uint64_t *body_off);
/* spool_trailer - append the trailer records: prepend (plen bytes of
 * CRLF-ended header lines, may be 0) and, when reason is not NULL, the
 * quarantine reason. Callers check the limits with valid_spool_prepend. */
void spool_trailer(const char *prepend, size_t plen, const char *reason, struct buf *out);
/* valid_spool_prepend - whole CRLF-ended header lines, no NUL, no line that
 * starts with '.', at most SPOOL_PREPEND_MAX bytes. */
bool valid_spool_prepend(const char *p, size_t n);
/* spool_check_end - does tail (the last SPOOL_END_SIZE bytes of a file of
 * file_size bytes) close a body that starts at body_off? Sets *body_len
 * and *trailer_len (the bytes between the body and END, at most
 * SPOOL_TRAILER_MAX). 0 or -1. */
int spool_check_end(const uint8_t *tail, uint64_t file_size, uint64_t body_off,
		    uint64_t *body_len, uint64_t *trailer_len);
/* spool_parse_trailer - the n trailer bytes at p, which start at file
 * offset off, into t. Each record at most once; 0 or -1. */
int spool_parse_trailer(const uint8_t *p, size_t n, uint64_t off, struct spool_trailer *t);

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
