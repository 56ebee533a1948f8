/* SPDX-License-Identifier: ISC */
/*
 * restore - read a backup file back into an empty state_dir.
 *
 * restore_open reads the header; the caller derives the key from it (a
 * passphrase needs the header's salt and cost) and restore_unlock checks
 * it. restore_read then decrypts and checks every frame, parses the
 * records, keeps the config file and the files it names in memory, and
 * writes the state_dir files into a staging directory, STATE_DIR/.restore,
 * each created O_EXCL, written, given its mode and fsynced. Nothing is in
 * place until the whole file has been read and found intact:
 * restore_commit then fsyncs the staged directories, renames each staged
 * entry into state_dir (never over an existing name) and fsyncs state_dir.
 * A failure anywhere before that leaves state_dir as it was (the staging
 * directory is removed by restore_free).
 *
 * Messages name the file and say which of these it is: "wrong passphrase
 * or key for backup F" (the key check failed), "backup F is damaged or was
 * modified (at byte N)" (a frame that does not authenticate, a missing
 * FINAL frame, bytes after it, or records that do not parse), "F is not a
 * postern backup", or an I/O error with its path.
 *
 * SECURITY: the file is untrusted until each frame authenticates, and its
 * records are parsed by the fuzzed bkrecord parser even then. The caller
 * runs this as the daemon's user, so staged files are the daemon's; paths
 * cannot leave the staging directory (bkrecord checks them, and the
 * directories in it are our own, made here). Decrypted data is wiped from
 * the buffers it passed through.
 */
#ifndef POSTERN_RESTORE_H
#define POSTERN_RESTORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/bkcrypt.h"
#include "lib/buf.h"

#define RESTORE_STAGING ".restore"      /* in state_dir, while a restore runs */
#define RESTORE_EXTERNAL_MAX (1 << 20)  /* bytes of a file the config names */
#define RESTORE_EXTERNALS_MAX 64        /* such files in one backup */

/* A file from outside state_dir (the config, or a file it names). */
struct restore_file {
	char *path; /* absolute, as it was when the backup was made */
	uint32_t mode;
	struct buf data;
};

struct restore_info {
	uint64_t size;	   /* of the backup file */
	json_t *manifest;  /* the backup's manifest (an object) */
	struct restore_file *config; /* NULL: the backup has none */
	struct restore_file *ext;    /* the files the config names */
	size_t next;
	uint64_t files, bytes; /* state_dir files restored, their bytes */
	uint64_t messages;     /* of those, queued messages */
};

struct restore;

/* restore_target_fn - called once, before the first state_dir file is
 * written (at the end if there is none), with what was read so far (the
 * manifest, the config): returns the state_dir to restore into, an empty
 * directory this process may write to, or NULL with err. */
typedef const char *(*restore_target_fn)(void *arg, const struct restore_info *info, char *err,
					 size_t errsz);

/* restore_open - open the backup at path and read its header. NULL with
 * the message in err. */
struct restore *restore_open(const char *path, char *err, size_t errsz);
const struct bkcrypt_header *restore_header(const struct restore *r);
/* restore_unlock - 0 if key is the backup's, else -1 with err. */
int restore_unlock(struct restore *r, const uint8_t key[BKCRYPT_KEY_LEN], char *err, size_t errsz);
/* restore_read - read the whole backup into the staging directory of the
 * state_dir target() names; with target NULL, read and check it all but
 * write nothing (`postern backup verify`). 0, or -1 with err. */
int restore_read(struct restore *r, restore_target_fn target, void *arg, char *err, size_t errsz);
/* restore_info - what restore_read found (valid until restore_free). */
const struct restore_info *restore_info(const struct restore *r);
/* restore_manifest_str - a string member of the manifest, or "?". */
const char *restore_manifest_str(const struct restore_info *info, const char *name);
/* restore_staged - the staging directory's path, to check what is in it
 * before restore_commit ("" before restore_read reached the target). */
const char *restore_staged(const struct restore *r);
/* restore_commit - move the staged files into state_dir, durably. 0, or -1
 * with err (what was moved stays: a partial state_dir is then named in
 * err). */
int restore_commit(struct restore *r, char *err, size_t errsz);
/* restore_free - close, remove the staging directory if not committed,
 * wipe. Accepts NULL. */
void restore_free(struct restore *r);

#endif
