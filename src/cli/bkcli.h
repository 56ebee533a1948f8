/* SPDX-License-Identifier: ISC */
/*
 * bkcli - what `postern backup` and `postern restore` share: the key
 * (a passphrase file or a key file, from the command line or the config),
 * switching between root and the daemon's user, and the audit record.
 *
 * SECURITY: passphrase and key files must be readable by their owner only;
 * what they hold is wiped after use. Run as root, the commands read
 * state_dir and write into it with the daemon's user as their effective
 * ids (so a symlink planted there leads nowhere root could go, and the
 * files made there are the daemon's), and take root back only for what
 * lies outside it: the backup file, the config and the files it names.
 */
#ifndef POSTERN_BKCLI_H
#define POSTERN_BKCLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "backup/bkcrypt.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "proc/privsep.h"

#define BKCLI_SECRET_FILE_MAX 4096 /* bytes of a passphrase or key file */
#define BKCLI_PASSPHRASE_MIN 12	   /* characters of a passphrase for a new backup */

struct bkcli_secret {
	enum bkcrypt_kind kind;
	char *pass; /* the first line of the passphrase file */
	size_t passlen;
	uint8_t key[BKCRYPT_KEY_LEN]; /* a key file's key */
	char file[PATH_MAX];	      /* where it came from, for messages */
};

/* bkcli_secret_load - the key the command line names (--passphrase-file,
 * --key-file), else the one the config names (cf may be NULL). new_backup:
 * the passphrase must be long enough. 0, or -1 with err. */
int bkcli_secret_load(const struct cli *c, const struct conf *cf, bool new_backup,
		      struct bkcli_secret *s, char *err, size_t errsz);
/* bkcli_master_key - the master key for header h (a new header made by
 * bkcrypt_header_new, or a backup's). Tells which kind of key a backup
 * needs when s is the other kind. 0, or -1 with err. */
int bkcli_master_key(const struct bkcli_secret *s, const struct bkcrypt_header *h,
		     const char *backup, uint8_t key[BKCRYPT_KEY_LEN], char *err, size_t errsz);
/* bkcli_secret_wipe - forget it. */
void bkcli_secret_wipe(struct bkcli_secret *s);

/* bkcli_as_user - as root, take the daemon's user as effective ids
 * (keeping root as the saved ones); bkcli_as_root - take root back. Both
 * do nothing when not started as root. 0 or -1 with errno. */
int bkcli_as_user(const struct privsep_user *pu);
int bkcli_as_root(const struct privsep_user *pu);

/* bkcli_audit - append event with fields (borrowed) and the actor
 * ("cli:USER") to state_dir's audit log. 0, or -1 with a warning said. */
int bkcli_audit(const char *state_dir, const char *event, json_t *fields);

/* bkcli_config_path - path made absolute (the config in a backup is named
 * by where it was). 0 or -1. */
int bkcli_config_path(const char *path, char *out, size_t outsz);

#endif
