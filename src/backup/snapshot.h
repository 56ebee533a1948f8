/* SPDX-License-Identifier: ISC */
/*
 * snapshot - a consistent copy of state_dir while the daemon runs, written
 * as backup FILE records (bkrecord.h).
 *
 * How each kind of file is copied, so the copy is one a daemon can start
 * from:
 *   - SQLite databases (accounts.db, dmarc.db, any file that starts with
 *     the SQLite header): the online backup API in a single step, that is
 *     one read transaction: the database as of one commit, WAL writers not
 *     held up. The copy goes to a 0600 temp file in state_dir that is
 *     opened and unlinked at once.
 *   - audit.log: up to its last complete line, found under the log's
 *     shared lock (appenders hold it exclusively for a whole line); the seq
 *     and hash of that last record are reported for the manifest.
 *     audit.anchor (the chain head the daemon wrote last) is read just
 *     before, so it never names a record the copy of the log lacks.
 *   - spool/queue: a message file only when its END record is there (a
 *     committed file never changes; one gone by the time we reach it was
 *     delivered meanwhile and is skipped), then its delivery state, read
 *     before the message so that the two belong together.
 *   - any other regular file (totp.key, scram.key, dkim/DOMAIN/SEL.key,
 *     whatever later versions add): as it is; they are replaced by rename,
 *     so one open descriptor reads one version.
 * Left out: postern.lock, control.sock, empty/, spool/incoming (never
 * acknowledged), spool/corrupt (set aside, never delivered), SQLite -wal,
 * -shm and -journal files (the copy holds their content), names starting
 * with '.', symlinks, sockets and names a backup cannot carry (each of
 * the last two with a warning).
 *
 * The databases and the audit log are taken by snapshot_open, the queue
 * and the other files by snapshot_write, so the manifest can say what was
 * taken before the first file record is written.
 *
 * SECURITY: runs as the daemon's user (the CLI sees to it), never follows
 * a symlink (O_NOFOLLOW, lstat), and checks what it copies as the daemon
 * would (spool_parse_header and spool_check_end, audit_check_line).
 */
#ifndef POSTERN_SNAPSHOT_H
#define POSTERN_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "auth/store.h"
#include "lib/buf.h"

#define SNAPSHOT_BUSY_MS 10000		     /* a database locked this long fails the backup */
#define SNAPSHOT_STATE_MAX (64 * 1024 * 1024) /* bytes of a message's delivery state */
#define SNAPSHOT_ITEMS_MAX 10000000	     /* files in one backup */

struct snapshot_info {
	bool have_accounts;
	struct store_counts accounts;
	bool have_audit;
	uint64_t audit_seq; /* of the last complete record; 0: none */
	char audit_hash[AUDIT_HASH_HEX];
	const char *audit_problem; /* why the last record does not check, or NULL */
	/* filled by snapshot_write */
	uint64_t files, bytes;
	uint64_t messages; /* queue files */
	uint64_t skipped;  /* queue files delivered while the backup ran */
};

/* Where the records go: 0 or -1. */
typedef int (*snapshot_emit_fn)(void *arg, const void *p, size_t n);

struct snapshot;

/* snapshot_open - list state_dir and take its databases and audit log
 * now; info gets what was taken, warnings a line for each file left out
 * that someone may miss. NULL with err on failure. */
struct snapshot *snapshot_open(const char *state_dir, struct snapshot_info *info,
			       struct buf *warnings, char *err, size_t errsz);
/* snapshot_write - every file's FILE record, in state_dir order, to emit.
 * 0, or -1 with err (an I/O error, or emit failed: err then says so). */
int snapshot_write(struct snapshot *s, snapshot_emit_fn emit, void *arg, char *err, size_t errsz);
/* snapshot_close - release the copies. Accepts NULL. */
void snapshot_close(struct snapshot *s);

#endif
