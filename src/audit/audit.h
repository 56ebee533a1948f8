/* SPDX-License-Identifier: ISC */
/*
 * audit - the tamper-evident audit log: append-only JSON lines in
 * state_dir/audit.log, each record chained to the one before by SHA-256.
 *
 * A record is one line of compact JSON with sorted keys (jansson,
 * JSON_COMPACT | JSON_SORT_KEYS), for example
 *
 *   {"event":"auth","hash":"<64 hex>","ip":"192.0.2.7","prev":"<64 hex>",
 *    "result":"fail","seq":2,"ts":"2024-05-01T12:00:00.123Z","user":"bob"}
 *
 * (one line in the file). Members:
 *   seq    1, 2, 3, ... with no gaps;
 *   ts     RFC 3339 UTC time with milliseconds, taken under the lock;
 *   event  what happened ("auth", "user.add", ...);
 *   prev   the "hash" of the record before, 64 zeros for the first;
 *   hash   hex SHA-256 of this record serialized the same way without the
 *          "hash" member;
 *   truncated  (only when needed) the names of caller fields whose value
 *          was cut to AUDIT_STR_MAX bytes;
 *   and the caller's fields: strings, integers, booleans, null.
 * A line must be exactly the canonical serialization of its own content,
 * so a different spelling of the same JSON (spaces, escapes, key order) is
 * an edit too, and a change to any byte of a record is reported at that
 * record. What the chain cannot show by itself is the loss of whole records
 * at the end of the file: verify reports the last seq and hash so that an
 * operator (or a backup) can keep an anchor to compare against.
 *
 * Several processes append (the auth process, the `postern user` CLI):
 * each append takes flock(LOCK_EX) on the log (a blocking wait: a holder
 * holds it for one append only), re-reads the last record if the file
 * changed since this handle last wrote, and writes the whole line with one
 * write() on an O_APPEND descriptor; a failed or short write is cut off
 * again under the lock, so the file never keeps half a record.
 *
 * Durability: on the machine this was measured on (ext4 on virtio, under
 * /var/tmp) an append costs about 20 us and an fdatasync about 0.3 ms, so
 * syncing every record would cap a writer near 3,000 records a second, all
 * of it waiting on the disk, when AUTH attempts may come at thousands a
 * second. So an append reaches the page cache only (it survives a crash of
 * the process, not of the machine) unless the log was opened with
 * AUDIT_SYNC; a busy writer (the auth process) calls audit_sync() on a
 * timer, e.g. once a second (about 2 ms for a second of 3,000 appends), and
 * before exit; rare writers (the `postern user` CLI) open with AUDIT_SYNC.
 * A torn last line left by a machine crash is cut off by the next append,
 * which first records an "audit.recover" event with the bytes it dropped.
 *
 * SECURITY: runs in the auth process and in the CLI, as the postern user;
 * the file is created 0600 and never opened through a symlink. Field values
 * are untrusted (client addresses, account names typed by a client): they
 * are only ever JSON string values, escaped by jansson, so they cannot
 * break a line or forge a member; invalid UTF-8 is replaced, lengths are
 * capped. Field names are the caller's own constants and are checked. The
 * chain is unkeyed: it detects edits by anyone who does not rewrite every
 * later record as well; shipping the log (or its last hash) off the machine
 * is what stops a root attacker. The readers (verify, tail, follow) treat
 * the file as untrusted input and bound every line to AUDIT_LINE_MAX.
 * STANDARDS: RFC 8259 (JSON), RFC 3339 (timestamps), FIPS 180-4 (SHA-256).
 */
#ifndef POSTERN_AUDIT_H
#define POSTERN_AUDIT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/buf.h"

/* File name of the log inside state_dir. */
#define AUDIT_FILE "audit.log"
/* Longest string value kept, in bytes; longer ones are cut on a UTF-8
 * boundary and their name listed in the record's "truncated" member. */
#define AUDIT_STR_MAX 1024
/* Most caller fields in one record. */
#define AUDIT_FIELDS_MAX 32
/* Longest field or event name. */
#define AUDIT_NAME_MAX 64
/* Longest line (without its newline) the readers accept. */
#define AUDIT_LINE_MAX 65536
/* Hex SHA-256 plus NUL. */
#define AUDIT_HASH_HEX 65
/* How often audit_follow looks for new lines. */
#define AUDIT_FOLLOW_POLL_MS 250

/* audit_open flags */
#define AUDIT_SYNC 0x1 /* fdatasync after every append */

struct audit;

/* audit_open - open (creating 0600 if missing) the log at path for
 * appending. flags: 0 or AUDIT_SYNC. Does not read or check the file; the
 * first append does. On failure returns NULL with a message in err. The
 * handle belongs to the process that opened it: a child after fork() must
 * open its own (a shared descriptor would share the lock). */
struct audit *audit_open(const char *path, int flags, char *err, size_t errsz);

/* audit_append - add one record for event with the caller's fields.
 * fields: a JSON object of string, integer, boolean or null values (NULL
 * for none), borrowed: the caller keeps its reference and the object is not
 * modified. Names must be 1..AUDIT_NAME_MAX of [a-z0-9_.-] and not one of
 * seq, ts, event, prev, hash, truncated; event likewise. Strings are
 * cleaned as audit_str does and cut to AUDIT_STR_MAX (see "truncated").
 * Waits while another process appends. Returns 0 once the line is in the
 * file (and on disk with AUDIT_SYNC), or -1 with errno and audit_error():
 * EINVAL for a bad name or value (a caller bug), EBADMSG when the last
 * record of the file does not check (someone edited it: appending stays
 * refused until an operator has looked, see `postern audit verify`), or an
 * I/O error. A failed append leaves the file as it was. */
int audit_append(struct audit *a, const char *event, json_t *fields);

/* audit_sync - fdatasync the log if anything was appended through this
 * handle since the last sync. 0 or -1 with errno. */
int audit_sync(struct audit *a);

/* audit_error - a message for the last failure of a, "" if none. */
const char *audit_error(const struct audit *a);

/* audit_close - audit_sync() (errors are lost: call audit_sync first when
 * they matter) and release a. Accepts NULL. */
void audit_close(struct audit *a);

/* audit_str - a JSON string for untrusted bytes s[0..len): invalid UTF-8
 * and NUL bytes become U+FFFD, so the value is always representable. Cut to
 * AUDIT_STR_MAX by audit_append, not here. Returns a new reference; aborts
 * when memory is exhausted. */
json_t *audit_str(const char *s, size_t len);

/* audit_check_line - pure: check one line (without its newline) on its own:
 * it parses as a record, is in canonical form and its "hash" matches its
 * content. On 0, *seq, prev and hash are the record's. On -1, *why says
 * what is wrong (a static string) and *seq is the record's seq if it could
 * be read, 0 otherwise; prev and hash are then "". why may be NULL. */
int audit_check_line(const char *line, size_t len, uint64_t *seq, char prev[AUDIT_HASH_HEX],
		     char hash[AUDIT_HASH_HEX], const char **why);

/* audit_verify - walk the log at path: every line checks, seq starts at 1
 * and goes up by exactly 1, every prev is the hash of the record before and
 * the file ends with a newline. Returns 0 and appends "ok: N records, last
 * seq S, last hash H" to report, or -1 and appends one line naming the first
 * problem ("record 17 (line 17): hash does not match its content", "record
 * 18 (line 18): prev does not match record 17", "line 40: not JSON", "line
 * 41: truncated last line"; an I/O error is "<path>: <strerror>"). */
int audit_verify(const char *path, struct buf *report);

/* audit_verify_mem - audit_verify over the bytes of a log in memory. */
int audit_verify_mem(const char *data, size_t len, struct buf *report);

/* File name of the last anchor inside state_dir. */
#define AUDIT_ANCHOR_FILE "audit.anchor"

/* audit_head - the seq and hash of the last record of the log (0 and 64
 * zeros for an empty log), read under the lock. 0, or -1 with
 * audit_error(). */
int audit_head(struct audit *a, uint64_t *seq, char hash[AUDIT_HASH_HEX]);

/* audit_anchor_format - an anchor as written to audit.anchor and the
 * daemon's log: "seq=N hash=H" (no newline). */
void audit_anchor_format(uint64_t seq, const char *hash, struct buf *out);
/* audit_anchor_parse - pure: "seq=N hash=H" or "N:H" (surrounding
 * whitespace allowed) into seq and hash; 0 or -1. */
int audit_anchor_parse(const char *s, size_t len, uint64_t *seq, char hash[AUDIT_HASH_HEX]);

/* audit_anchor_check - does the log at path still hold record seq with
 * this hash? 0 with "anchor seq=N: ok" appended to report, or -1 and a
 * line saying what is wrong: the log ends before record N (truncated), or
 * record N has another hash (rewritten). An I/O error is -1 with errno. */
int audit_anchor_check(const char *path, uint64_t seq, const char *hash, struct buf *report);

/* audit_tail - append the last n complete lines of the log (each with its
 * newline) to out. A torn last line is left out. 0, or -1 with errno. */
int audit_tail(const char *path, size_t n, struct buf *out);

/* audit_follow - `audit tail -f`: call emit for the last n complete lines,
 * then for every line appended later (looking every AUDIT_FOLLOW_POLL_MS),
 * until *stop is non-zero (set it from a signal handler) or emit returns
 * non-zero. emit gets a line without its newline, valid only during the
 * call. Returns 0 when stopped, -1 with errno on an I/O error, a line over
 * AUDIT_LINE_MAX (EMSGSIZE), a file that shrank (ESTALE: rotation is not
 * followed) or when emit returned non-zero (ECANCELED). */
int audit_follow(const char *path, size_t n, int (*emit)(const char *line, size_t len, void *arg),
		 void *arg, volatile sig_atomic_t *stop);

#endif
