/* SPDX-License-Identifier: ISC */
/*
 * bkcli - keys, ids and audit records for `postern backup` and `restore`.
 *
 * SECURITY: see bkcli.h.
 */
#include "cli/bkcli.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/ctx.h"
#include "lib/file.h"
#include "lib/util.h"

/* read_secret_file - a small file only its owner may read, into buf
 * (BKCLI_SECRET_FILE_MAX + 1 bytes); its length, or -1 with err. */
static ssize_t
read_secret_file(const char *path, char *buf, char *err, size_t errsz)
{
	struct stat st;
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
	} else if ((st.st_mode & 077) != 0) {
		snprintf(err, errsz,
			 "%s: group or others may read it (mode %03o): chmod 600 %s, and choose a "
			 "new one if someone else may have read it",
			 path, (unsigned)(st.st_mode & 0777), path);
	} else if ((n = read_all(fd, buf, BKCLI_SECRET_FILE_MAX + 1)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
	} else if (n > BKCLI_SECRET_FILE_MAX) {
		snprintf(err, errsz, "%s: larger than %d bytes", path, BKCLI_SECRET_FILE_MAX);
		n = -1;
	}
	if (fd != -1)
		close(fd);
	return n;
}

/* load_passphrase - the first line of the file. */
static int
load_passphrase(struct bkcli_secret *s, const char *text, size_t n, bool new_backup, char *err,
		size_t errsz)
{
	size_t len = 0;

	while (len < n && text[len] != '\n')
		len++;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len == 0) {
		snprintf(err, errsz, "%s: no passphrase on its first line", s->file);
		return -1;
	}
	if (new_backup && len < BKCLI_PASSPHRASE_MIN) {
		snprintf(err, errsz,
			 "%s: the passphrase is shorter than %d characters (a backup is only as "
			 "safe as its passphrase)",
			 s->file, BKCLI_PASSPHRASE_MIN);
		return -1;
	}
	s->pass = xmalloc(len + 1);
	memcpy(s->pass, text, len);
	s->pass[len] = '\0';
	s->passlen = len;
	return 0;
}

/* pick_source - which file holds the key, and of which kind. */
static int
pick_source(const struct cli *c, const struct conf *cf, struct bkcli_secret *s, char *err,
	    size_t errsz)
{
	const char *file = NULL;

	if (c->passphrase_file != NULL && c->key_file != NULL) {
		snprintf(err, errsz, "--passphrase-file or --key-file, not both");
		return -1;
	}
	if (c->passphrase_file != NULL || c->key_file != NULL) {
		s->kind = c->key_file != NULL ? BKCRYPT_KEYFILE : BKCRYPT_PASSPHRASE;
		file = c->key_file != NULL ? c->key_file : c->passphrase_file;
	} else if (cf != NULL && cf->backup.key_file != NULL) {
		s->kind = BKCRYPT_KEYFILE;
		file = cf->backup.key_file;
	} else if (cf != NULL && cf->backup.passphrase_file != NULL) {
		s->kind = BKCRYPT_PASSPHRASE;
		file = cf->backup.passphrase_file;
	}
	if (file == NULL) {
		snprintf(err, errsz, "no key: give --passphrase-file FILE or --key-file FILE, or "
				     "name one in the config (backup { key_file FILE })");
		return -1;
	}
	return str_copy(s->file, file, sizeof(s->file)) == 0 ? 0 : -1;
}

int
bkcli_secret_load(const struct cli *c, const struct conf *cf, bool new_backup,
		  struct bkcli_secret *s, char *err, size_t errsz)
{
	char *text = xmalloc(BKCLI_SECRET_FILE_MAX + 1);
	ssize_t n;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (pick_source(c, cf, s, err, errsz) == -1)
		goto out;
	if ((n = read_secret_file(s->file, text, err, errsz)) == -1)
		goto out;
	if (s->kind == BKCRYPT_PASSPHRASE) {
		rc = load_passphrase(s, text, (size_t)n, new_backup, err, errsz);
	} else if ((rc = bkcrypt_key_parse(text, (size_t)n, s->key)) == -1) {
		snprintf(err, errsz,
			 "%s: not a backup key (64 hex digits; `postern backup keygen FILE` makes "
			 "one)",
			 s->file);
	}
out:
	wipe_free(text, BKCLI_SECRET_FILE_MAX + 1);
	return rc;
}

int
bkcli_master_key(const struct bkcli_secret *s, const struct bkcrypt_header *h, const char *backup,
		 uint8_t key[BKCRYPT_KEY_LEN], char *err, size_t errsz)
{
	if (h->kind != s->kind) {
		snprintf(err, errsz, "backup %s was made with %s: give %s FILE", backup,
			 h->kind == BKCRYPT_PASSPHRASE ? "a passphrase" : "a key file",
			 h->kind == BKCRYPT_PASSPHRASE ? "--passphrase-file" : "--key-file");
		return -1;
	}
	if (s->kind == BKCRYPT_KEYFILE) {
		memcpy(key, s->key, BKCRYPT_KEY_LEN);
		return 0;
	}
	if (bkcrypt_key_passphrase(s->pass, s->passlen, h, key) == -1) {
		snprintf(err, errsz, "Argon2id (%ju MiB) failed: out of memory?",
			 (uintmax_t)(h->memlimit >> 20));
		return -1;
	}
	return 0;
}

void
bkcli_secret_wipe(struct bkcli_secret *s)
{
	if (s->pass != NULL)
		wipe_free(s->pass, s->passlen + 1);
	s->pass = NULL;
	s->passlen = 0;
	sodium_memzero(s->key, sizeof(s->key));
}

int
bkcli_as_user(const struct privsep_user *pu)
{
	if (!pu->drop)
		return 0;
	if (setgroups(1, &pu->gid) == -1 || setresgid((gid_t)-1, pu->gid, (gid_t)-1) == -1 ||
	    setresuid((uid_t)-1, pu->uid, (uid_t)-1) == -1)
		return -1;
	return 0;
}

int
bkcli_as_root(const struct privsep_user *pu)
{
	if (!pu->drop)
		return 0;
	if (setresuid((uid_t)-1, 0, (uid_t)-1) == -1 || setresgid((gid_t)-1, 0, (gid_t)-1) == -1 ||
	    setgroups(0, NULL) == -1)
		return -1;
	return 0;
}

int
bkcli_audit(const char *state_dir, const char *event, json_t *fields)
{
	struct passwd *pw = getpwuid(getuid());
	char path[PATH_MAX], err[PATH_MAX + 256], actor[96];
	struct audit *a;
	int rc = -1;

	snprintf(actor, sizeof(actor), "cli:%s", pw != NULL ? pw->pw_name : "?");
	json_object_set_new(fields, "actor", json_string(actor));
	snprintf(path, sizeof(path), "%s/%s", state_dir, AUDIT_FILE);
	if ((a = audit_open(path, AUDIT_SYNC, err, sizeof(err))) == NULL)
		cli_say("warning: not in the audit log: %s", err);
	else if ((rc = audit_append(a, event, fields)) == -1)
		cli_say("warning: not in the audit log: %s", audit_error(a));
	audit_close(a);
	return rc;
}

int
bkcli_config_path(const char *path, char *out, size_t outsz)
{
	char cwd[PATH_MAX], *real = realpath(path, NULL);
	int rc;

	if (real != NULL) {
		rc = str_copy(out, real, outsz);
		free(real);
		return rc;
	}
	if (path[0] == '/')
		return str_copy(out, path, outsz);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	return str_fmt(out, outsz, "%s/%s", cwd, path);
}
