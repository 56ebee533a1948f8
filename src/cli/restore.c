/* SPDX-License-Identifier: ISC */
/*
 * restore - `postern restore FILE`: a backup back into an empty state_dir.
 *
 * Where it goes: the state_dir of the config given with -c. When that
 * file does not exist (a new machine after a disaster), the config comes
 * from the backup: it is written to the -c path once everything else is
 * in place, and its state_dir and user are used. The files the config
 * names (TLS certificates and keys, ca_file, banned_file) are written back
 * where they were, only where nothing is there now; existing files are
 * left alone and named in the report.
 *
 * Nothing is restored unless the whole backup reads back intact (see
 * backup/restore.h): a wrong key, a changed byte, a cut file each leave
 * state_dir as it was, with a message that says which. A state_dir that is
 * not empty is refused, naming a file in the way. While the restore runs,
 * it holds state_dir/postern.lock, so a daemon started meanwhile waits.
 *
 * SECURITY: see cli/bkcli.h. As root, state_dir is created and handed to
 * the daemon's user as the daemon would, and the files in it are written
 * with that user's ids; the config and the files it names are root's.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/store.h"
#include "backup/bkcrypt.h"
#include "backup/restore.h"
#include "cli/bkcli.h"
#include "cli/ctx.h"
#include "lib/file.h"
#include "lib/util.h"

struct job {
	struct cli *c;
	const char *file;
	struct conf cf;
	bool have_conf;	   /* cf is loaded */
	bool conf_written; /* from the backup, to be written to -c */
	struct privsep_user pu;
	bool as_user;
	struct restore *r;
	char lock[PATH_MAX]; /* state_dir/postern.lock while we hold it */
	int lock_fd;
	struct buf report; /* lines for the summary */
	int64_t accounts;  /* in the restored accounts.db */
};

/* first_entry - the first name (in order) in dir, "" for an empty or
 * missing directory; -1 with errno when it cannot be read. */
static int
first_entry(const char *dir, char *name, size_t namesz)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	name[0] = '\0';
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (name[0] == '\0' || strcmp(de->d_name, name) < 0)
			str_copy(name, de->d_name, namesz);
	}
	closedir(d);
	return 0;
}

/* check_empty - state_dir is empty or missing; else say what is in it. */
static int
check_empty(const char *dir, char *err, size_t errsz)
{
	char name[NAME_MAX + 1];

	if (first_entry(dir, name, sizeof(name)) == -1) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (name[0] != '\0') {
		snprintf(err, errsz,
			 "state_dir %s is not empty (%s/%s is in the way): restore needs an empty "
			 "state_dir; stop postern and move the old one aside",
			 dir, dir, name);
		return -1;
	}
	return 0;
}

/* load_conf - the -c config and its empty state_dir: 0, 1 when there is
 * no such file (the config is in the backup), -1 after saying why not. */
static int
load_conf(struct job *j)
{
	char err[CONF_ERR_MAX + PATH_MAX];
	struct stat st;

	if (stat(j->c->config, &st) == -1 && errno == ENOENT)
		return 1;
	if (conf_load(j->c->config, &j->cf, err, sizeof(err)) == 0) {
		j->have_conf = true;
		if (check_empty(j->cf.state_dir, err, sizeof(err)) == 0)
			return 0;
	}
	cli_say("%s", err);
	return -1;
}

/* conf_from_backup - the backup's config, as if it were at the -c path. */
static int
conf_from_backup(struct job *j, const struct restore_info *info, char *err, size_t errsz)
{
	const struct restore_file *f = info->config;

	if (f == NULL) {
		snprintf(err, errsz, "%s does not exist and backup %s holds no config",
			 j->c->config, j->file);
		return -1;
	}
	if (conf_parse(j->c->config, buf_cstr(&f->data), f->data.len, &j->cf, err, errsz) == -1)
		return -1;
	j->have_conf = true;
	j->conf_written = true;
	return 0;
}

/* take_state - state_dir made (as the daemon makes it), ours and locked. */
static int
take_state(struct job *j, char *err, size_t errsz)
{
	const char *dir = j->cf.state_dir;

	if (mkdir_p(dir, 0755) == -1 ||
	    (j->pu.drop && (chown(dir, j->pu.uid, j->pu.gid) == -1 || chmod(dir, 0755) == -1))) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (bkcli_as_user(&j->pu) == -1) {
		snprintf(err, errsz, "cannot become user %s: %s", j->cf.user, strerror(errno));
		return -1;
	}
	j->as_user = true;
	snprintf(j->lock, sizeof(j->lock), "%s/postern.lock", dir);
	j->lock_fd = open(j->lock, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->lock_fd == -1 || flock(j->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errsz, "%s: %s (is a postern using this state_dir?)", j->lock,
			 strerror(errno));
		if (j->lock_fd == -1)
			j->lock[0] = '\0';
		return -1;
	}
	return 0;
}

/* target - restore_read's question: where does state_dir go? */
static const char *
target(void *arg, const struct restore_info *info, char *err, size_t errsz)
{
	struct job *j = arg;

	if (!j->have_conf && conf_from_backup(j, info, err, errsz) == -1)
		return NULL;
	if (privsep_lookup(j->cf.user, &j->pu, err, errsz) == -1 ||
	    check_empty(j->cf.state_dir, err, errsz) == -1 || take_state(j, err, errsz) == -1)
		return NULL;
	return j->cf.state_dir;
}

/* unlock - the key, checked against the backup's header. 0 or 1. */
static int
unlock(struct job *j)
{
	const struct conf *cf = j->have_conf ? &j->cf : NULL;
	char err[PATH_MAX + 512];
	uint8_t key[BKCRYPT_KEY_LEN];
	struct bkcli_secret s;
	int rc;

	if (bkcli_secret_load(j->c, cf, false, &s, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	rc = bkcli_master_key(&s, restore_header(j->r), j->file, key, err, sizeof(err));
	bkcli_secret_wipe(&s);
	if (rc == 0)
		rc = restore_unlock(j->r, key, err, sizeof(err));
	sodium_memzero(key, sizeof(key));
	return rc == 0 ? 0 : cli_say("%s", err);
}

/* check_staged - what a daemon will read: the accounts open, the audit
 * chain holds. Said in the report. 0 or 1. */
static int
check_staged(struct job *j)
{
	char path[PATH_MAX], err[PATH_MAX + 256];
	struct store_counts n;
	struct buf v = BUF_INIT;
	struct store *st;
	struct stat sb;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/accounts.db", restore_staged(j->r));
	if (stat(path, &sb) == 0) {
		if ((st = store_open(path, err, sizeof(err))) == NULL || store_counts(st, &n) == -1)
			rc = cli_say("restored accounts.db does not open: %s",
				     st != NULL ? store_error(st) : err);
		else
			buf_addf(&j->report, "  %jd accounts (%jd with 2FA, %jd app passwords)\n",
				 (intmax_t)n.accounts, (intmax_t)n.totp, (intmax_t)n.app_passwords);
		j->accounts = st != NULL ? n.accounts : 0;
		store_close(st);
	}
	snprintf(path, sizeof(path), "%s/%s", restore_staged(j->r), AUDIT_FILE);
	/* restored as it was: a broken chain is reported, not repaired */
	if (rc == 0 && stat(path, &sb) == 0) {
		if (audit_verify(path, &v) == -1)
			buf_addf(&j->report, "  audit log (as it was): DOES NOT VERIFY: %s",
				 buf_cstr(&v));
		else
			buf_addf(&j->report, "  audit log %s", buf_cstr(&v));
	}
	buf_free(&v);
	return rc;
}

/* write_new - data into a new file path with mode, durably; never over
 * an existing file. 0, or -1 with errno. */
static int
write_new(const char *path, uint32_t mode, const struct buf *data)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	int fd, saved;

	str_copy(dir, path, sizeof(dir));
	str_copy(dir, dirname(dir), sizeof(dir));
	if (mkdir_p(dir, 0755) == -1 || str_fmt(tmp, sizeof(tmp), "%s/.restore.XXXXXX", dir) == -1)
		return -1;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if (write_all(fd, data->data, data->len) == -1 || fchmod(fd, mode) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1 || link(tmp, path) == -1) {
		saved = errno;
		(void)close(fd);
		(void)unlink(tmp);
		errno = saved;
		return -1;
	}
	(void)unlink(tmp);
	return fsync_dir(dir);
}

/* put_outside - one file from outside state_dir, only where none is. */
static int
put_outside(struct job *j, const char *path, const struct restore_file *f)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		buf_addf(&j->report, "  %s: kept (it exists; the backup's copy is not written)\n",
			 path);
		return 0;
	}
	if (write_new(path, f->mode, &f->data) == -1)
		return cli_say("%s: %s", path, strerror(errno));
	buf_addf(&j->report, "  %s: written\n", path);
	return 0;
}

/* config_names - does the config in use name path (as a TLS certificate
 * or key, ca_file or banned_file)? Only such files are written back: a
 * backup cannot put a file anywhere else. */
static bool
config_names(const struct conf *cf, const char *path)
{
	size_t i;

	for (i = 0; i < cf->tls.ncerts; i++)
		if (strcmp(cf->tls.certs[i].cert, path) == 0 ||
		    strcmp(cf->tls.certs[i].key, path) == 0)
			return true;
	return (cf->tls.ca_file != NULL && strcmp(cf->tls.ca_file, path) == 0) ||
	       (cf->auth.banned_file != NULL && strcmp(cf->auth.banned_file, path) == 0);
}

/* put_outsides - as root: the config (when it came from the backup) and
 * the files it names. 0 or 1. */
static int
put_outsides(struct job *j)
{
	const struct restore_info *info = restore_info(j->r);
	size_t i;
	int rc = 0;

	if (j->as_user && bkcli_as_root(&j->pu) == -1)
		return cli_say("cannot take root back: %s", strerror(errno));
	j->as_user = false;
	if (j->conf_written)
		rc = put_outside(j, j->c->config, info->config);
	else if (info->config != NULL)
		buf_addf(&j->report, "  %s: kept (the backup's config, from %s, is not written)\n",
			 j->c->config, info->config->path);
	for (i = 0; rc == 0 && i < info->next; i++) {
		if (config_names(&j->cf, info->ext[i].path))
			rc = put_outside(j, info->ext[i].path, &info->ext[i]);
		else
			buf_addf(&j->report, "  %s: not written (%s does not name it)\n",
				 info->ext[i].path, j->c->config);
	}
	return rc;
}

/* record - the audit record (in the restored log) and the summary. */
static void
record(struct job *j)
{
	const struct restore_info *info = restore_info(j->r);
	json_t *f = json_object();

	json_object_set_new(f, "file", audit_str(j->file, strlen(j->file)));
	json_object_set_new(f, "size", json_integer((json_int_t)info->size));
	json_object_set_new(f, "files", json_integer((json_int_t)info->files));
	json_object_set_new(f, "messages", json_integer((json_int_t)info->messages));
	json_object_set_new(f, "accounts", json_integer(j->accounts));
	json_object_set_new(f, "audit_seq",
			    json_integer(json_integer_value(json_object_get(info->manifest,
									    "audit_seq"))));
	json_object_set_new(f, "created", json_string(restore_manifest_str(info, "created")));
	json_object_set_new(f, "hostname", json_string(restore_manifest_str(info, "hostname")));
	if (bkcli_as_user(&j->pu) == 0) {
		(void)bkcli_audit(j->cf.state_dir, "backup.restore", f);
		(void)bkcli_as_root(&j->pu);
	}
	json_decref(f);
	printf("restored backup %s (made %s on %s by postern %s) into %s:\n", j->file,
	       restore_manifest_str(info, "created"), restore_manifest_str(info, "hostname"),
	       restore_manifest_str(info, "postern"), j->cf.state_dir);
	printf("  %ju files, %ju bytes, %ju queued messages (delivered once postern runs)\n%s",
	       (uintmax_t)info->files, (uintmax_t)info->bytes, (uintmax_t)info->messages,
	       buf_cstr(&j->report));
}

static void
job_free(struct job *j, bool ok)
{
	if (j->as_user)
		(void)bkcli_as_root(&j->pu);
	restore_free(j->r); /* removes what was staged unless committed */
	if (!ok && j->lock[0] != '\0')
		(void)unlink(j->lock);
	if (j->lock_fd != -1)
		close(j->lock_fd);
	buf_free(&j->report);
	if (j->have_conf)
		conf_free(&j->cf);
}

/* run - the steps; 0 or 1. */
static int
run(struct job *j)
{
	char err[CONF_ERR_MAX + 2 * PATH_MAX];

	if (load_conf(j) == -1)
		return 1;
	if ((j->r = restore_open(j->file, err, sizeof(err))) == NULL)
		return cli_say("%s", err);
	if (unlock(j) != 0)
		return 1;
	if (restore_read(j->r, target, j, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	if (check_staged(j) != 0)
		return 1;
	if (restore_commit(j->r, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	return put_outsides(j);
}

int
cli_restore(struct cli *c)
{
	struct job j;
	int rc;

	if (c->nwords != 2) {
		fprintf(stderr, "usage: postern restore FILE [--passphrase-file F | --key-file F] "
				"[-c FILE]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return cli_say("libsodium cannot start");
	memset(&j, 0, sizeof(j));
	j.c = c;
	j.file = c->words[1];
	j.lock_fd = -1;
	rc = run(&j);
	if (rc == 0)
		record(&j);
	job_free(&j, rc == 0);
	return rc;
}
