/* SPDX-License-Identifier: ISC */
/*
 * backup - `postern backup FILE`, `postern backup --scheduled` and
 * `postern backup keygen FILE`, `postern backup verify FILE`.
 *
 * A backup is taken while the daemon runs (see backup/snapshot.h for how
 * each file is copied consistently) and written as an encrypted,
 * authenticated stream (backup/bkcrypt.h, backup/bkrecord.h): the
 * manifest, the config file given with -c, the files the config names
 * (TLS certificates and keys, ca_file, banned_file), then state_dir. It
 * goes to a temp file beside FILE that becomes FILE only once complete
 * and on disk. `--scheduled` names it DIR/postern-YYYYMMDDTHHMMSSZ.backup
 * (UTC) after backup { dir } and then deletes the oldest beyond `keep`.
 *
 * SECURITY: see cli/bkcli.h for the key and the ids. The backup file is
 * 0600 and owned by whoever runs the command. The key and the passphrase
 * are wiped once the master key is derived, the master key once the
 * stream is written. Files the config names are read as the caller (they
 * may be root's only); one that cannot be read is left out with a
 * warning, not fatal: the rest of the backup is still worth having.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "backup/bkcrypt.h"
#include "backup/bkrecord.h"
#include "backup/restore.h"
#include "backup/snapshot.h"
#include "cli/bkcli.h"
#include "cli/ctx.h"
#include "lib/file.h"
#include "lib/util.h"

#define SCHEDULED_PREFIX "postern-"
#define SCHEDULED_SUFFIX ".backup"
#define STAMP_LEN 16 /* YYYYMMDDTHHMMSSZ */

/* A file from outside state_dir, read before the backup starts. */
struct outside {
	char path[PATH_MAX];
	uint32_t mode;
	struct buf data;
};

struct job {
	struct cli *c;
	struct conf cf;
	struct privsep_user pu;
	uint8_t key[BKCRYPT_KEY_LEN];
	struct bkcrypt_header h;
	char dest[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX];
	int fd;
	struct bkcrypt_writer *w;
	struct outside config;
	struct outside *ext;
	size_t next;
	struct snapshot_info info;
	uint64_t files, bytes; /* records written from outside state_dir */
	struct buf warnings, rec;
};

/* out - the writer's output: the temp file. */
static int
out(void *arg, const void *p, size_t n)
{
	struct job *j = arg;

	return write_all(j->fd, p, n);
}

/* emit - record-stream bytes into the encryption. */
static int
emit(void *arg, const void *p, size_t n)
{
	struct job *j = arg;

	return bkcrypt_write(j->w, p, n);
}

/* read_outside - one file into o; -1 with a warning when it cannot be. */
static int
read_outside(struct job *j, const char *path, struct outside *o)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	if (str_copy(o->path, path, sizeof(o->path)) == -1 ||
	    !valid_bkrecord_path(BKAREA_EXTERNAL, path, strlen(path))) {
		buf_addf(&j->warnings, "left out %s: a name a backup cannot carry\n", path);
		return -1;
	}
	if (stat(path, &st) == -1 || file_read(path, RESTORE_EXTERNAL_MAX, &o->data) == -1) {
		buf_addf(&j->warnings, "left out %s: %s (a restore will not bring it back)\n",
			 path, strerror(errno));
		buf_wipe_free(&o->data);
		return -1;
	}
	o->mode = st.st_mode & 0777;
	return 0;
}

/* add_outside - a file the config names, once. */
static void
add_outside(struct job *j, const char *path)
{
	struct outside o;
	size_t i;

	if (path == NULL || path[0] == '\0' || j->next == RESTORE_EXTERNALS_MAX)
		return;
	for (i = 0; i < j->next; i++)
		if (strcmp(j->ext[i].path, path) == 0)
			return;
	if (read_outside(j, path, &o) == -1)
		return;
	j->ext = xreallocarray(j->ext, j->next + 1, sizeof(*j->ext));
	j->ext[j->next++] = o;
}

/* read_config - the config file and the files it names. */
static int
read_config(struct job *j)
{
	char path[PATH_MAX];
	size_t i;

	if (bkcli_config_path(j->c->config, path, sizeof(path)) == -1 ||
	    read_outside(j, path, &j->config) == -1)
		return cli_say("%s: cannot read the config to back it up", j->c->config);
	for (i = 0; i < j->cf.tls.ncerts; i++) {
		add_outside(j, j->cf.tls.certs[i].cert);
		add_outside(j, j->cf.tls.certs[i].key);
	}
	add_outside(j, j->cf.tls.ca_file);
	add_outside(j, j->cf.auth.banned_file);
	return 0;
}

/* inside_state - refuse a destination in state_dir: the next backup
 * would hold this one. */
static int
inside_state(struct job *j)
{
	char *dir = realpath(j->dir, NULL), *state = realpath(j->cf.state_dir, NULL);
	size_t n = state != NULL ? strlen(state) : 0;
	int rc = 0;

	if (dir != NULL && state != NULL && strncmp(dir, state, n) == 0 &&
	    (dir[n] == '\0' || dir[n] == '/'))
		rc = cli_say("%s is in state_dir %s: a backup belongs elsewhere (and off this "
			     "machine)",
			     j->dest, j->cf.state_dir);
	free(dir);
	free(state);
	return rc;
}

/* destination - FILE, or the next scheduled name in backup { dir }. */
static int
destination(struct job *j)
{
	char stamp[STAMP_LEN + 1];
	time_t now = time(NULL);
	struct tm tm;

	if (!j->c->scheduled) {
		if (str_copy(j->dest, j->c->words[1], sizeof(j->dest)) == -1)
			return cli_say("%s: name too long", j->c->words[1]);
	} else {
		if (j->cf.backup.dir == NULL)
			return cli_say("%s: --scheduled needs backup { dir DIR } in the config",
				       j->c->config);
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		if (str_fmt(j->dest, sizeof(j->dest), "%s/" SCHEDULED_PREFIX "%s" SCHEDULED_SUFFIX,
			    j->cf.backup.dir, stamp) == -1)
			return cli_say("%s: name too long", j->cf.backup.dir);
	}
	str_copy(j->dir, j->dest, sizeof(j->dir));
	str_copy(j->dir, dirname(j->dir), sizeof(j->dir));
	return inside_state(j);
}

/* open_temp - the file the backup is written to before it is FILE. */
static int
open_temp(struct job *j)
{
	char base[PATH_MAX];

	str_copy(base, j->dest, sizeof(base));
	if (str_fmt(j->tmp, sizeof(j->tmp), "%s/.%s.XXXXXX", j->dir, basename(base)) == -1)
		return cli_say("%s: name too long", j->dest);
	j->fd = mkostemp(j->tmp, O_CLOEXEC); /* O_EXCL, 0600 */
	if (j->fd == -1) {
		j->tmp[0] = '\0';
		return cli_say("%s: %s", j->dir, strerror(errno));
	}
	return 0;
}

/* prepare - config, user, destination, key, outside files, temp file:
 * everything done as the caller. 0 or 1. */
static int
prepare(struct job *j)
{
	char err[CONF_ERR_MAX + PATH_MAX];
	struct bkcli_secret s;
	int rc;

	if (conf_load(j->c->config, &j->cf, err, sizeof(err)) == -1 ||
	    privsep_lookup(j->cf.user, &j->pu, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	if (destination(j) != 0)
		return 1;
	if (bkcli_secret_load(j->c, &j->cf, true, &s, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	bkcrypt_header_new(&j->h, s.kind);
	rc = bkcli_master_key(&s, &j->h, j->dest, j->key, err, sizeof(err));
	bkcli_secret_wipe(&s);
	if (rc == -1)
		return cli_say("%s", err);
	if (read_config(j) != 0 || open_temp(j) != 0)
		return 1;
	return 0;
}

/* manifest - what the backup is, for the restore to tell. */
static json_t *
manifest(const struct job *j)
{
	const struct snapshot_info *in = &j->info;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	json_t *m = json_object();

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(m, "format", json_integer(BKCRYPT_VERSION));
	json_object_set_new(m, "created", json_string(ts));
	json_object_set_new(m, "postern", json_string(POSTERN_VERSION));
	json_object_set_new(m, "hostname", json_string(j->cf.hostname));
	json_object_set_new(m, "state_dir", audit_str(j->cf.state_dir, strlen(j->cf.state_dir)));
	json_object_set_new(m, "config", audit_str(j->config.path, strlen(j->config.path)));
	if (in->have_accounts) {
		json_object_set_new(m, "accounts", json_integer(in->accounts.accounts));
		json_object_set_new(m, "accounts_2fa", json_integer(in->accounts.totp));
		json_object_set_new(m, "app_passwords", json_integer(in->accounts.app_passwords));
	}
	if (in->have_audit) {
		json_object_set_new(m, "audit_seq", json_integer((json_int_t)in->audit_seq));
		json_object_set_new(m, "audit_hash", json_string(in->audit_hash));
	}
	if (in->audit_problem != NULL)
		json_object_set_new(m, "audit_problem", json_string(in->audit_problem));
	return m;
}

/* write_outside - the FILE record of a file from outside state_dir. */
static int
write_outside(struct job *j, const struct outside *o, enum bkrecord_area area)
{
	struct bkrecord_file f;

	memset(&f, 0, sizeof(f));
	f.area = area;
	str_copy(f.path, o->path, sizeof(f.path));
	f.mode = o->mode;
	f.size = o->data.len;
	buf_reset(&j->rec);
	if (bkrecord_file_head(&j->rec, &f) == -1)
		return -1;
	buf_add(&j->rec, o->data.data, o->data.len);
	j->files++;
	j->bytes += o->data.len;
	return bkcrypt_write(j->w, j->rec.data, j->rec.len);
}

/* write_stream - header, manifest, outside files, state_dir, end. */
static int
write_stream(struct job *j, struct snapshot *snap, char *err, size_t errsz)
{
	json_t *m = manifest(j);
	char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	size_t i;
	int rc = -1;

	json_decref(m);
	j->w = xmalloc(sizeof(*j->w));
	if (bkcrypt_writer_init(j->w, &j->h, j->key, out, j) == -1)
		goto io;
	sodium_memzero(j->key, sizeof(j->key));
	bkrecord_manifest(&j->rec, text, strlen(text));
	if (bkcrypt_write(j->w, j->rec.data, j->rec.len) == -1 ||
	    write_outside(j, &j->config, BKAREA_CONFIG) == -1)
		goto io;
	for (i = 0; i < j->next; i++)
		if (write_outside(j, &j->ext[i], BKAREA_EXTERNAL) == -1)
			goto io;
	if (snapshot_write(snap, emit, j, err, errsz) == -1)
		goto out;
	buf_reset(&j->rec);
	bkrecord_end(&j->rec, j->files + j->info.files, j->bytes + j->info.bytes);
	if (bkcrypt_write(j->w, j->rec.data, j->rec.len) == -1 || bkcrypt_writer_finish(j->w) == -1)
		goto io;
	rc = 0;
	goto out;
io:
	snprintf(err, errsz, "%s: %s", j->tmp, strerror(errno));
out:
	bkcrypt_writer_wipe(j->w);
	buf_wipe_free(&j->rec);
	free(text);
	return rc;
}

/* take - as the daemon's user: snapshot state_dir into the temp file. */
static int
take(struct job *j)
{
	char err[PATH_MAX + 512];
	struct snapshot *snap;
	int rc = 1;

	if (bkcli_as_user(&j->pu) == -1)
		return cli_say("cannot become user %s: %s", j->cf.user, strerror(errno));
	snap = snapshot_open(j->cf.state_dir, &j->info, &j->warnings, err, sizeof(err));
	if (snap == NULL || write_stream(j, snap, err, sizeof(err)) == -1)
		cli_say("%s", err);
	else
		rc = 0;
	snapshot_close(snap);
	if (bkcli_as_root(&j->pu) == -1)
		return cli_say("cannot take root back: %s", strerror(errno));
	return rc;
}

/* place - the temp file on disk and named FILE (replacing it only with
 * --force). */
static int
place(struct job *j)
{
	int saved;

	if (fsync(j->fd) == -1 || close(j->fd) == -1) {
		j->fd = -1;
		return cli_say("%s: %s", j->tmp, strerror(errno));
	}
	j->fd = -1;
	if (link(j->tmp, j->dest) == -1) {
		saved = errno;
		if (saved != EEXIST || !j->c->force || rename(j->tmp, j->dest) == -1)
			return cli_say("%s: %s", j->dest,
				       saved == EEXIST && !j->c->force
					       ? "exists already (--force replaces it)"
					       : strerror(errno));
	}
	(void)unlink(j->tmp);
	j->tmp[0] = '\0';
	if (fsync_dir(j->dir) == -1)
		return cli_say("%s: %s", j->dir, strerror(errno));
	return 0;
}

static bool
is_scheduled_name(const char *name)
{
	size_t p = strlen(SCHEDULED_PREFIX), s = strlen(SCHEDULED_SUFFIX), i;

	if (strlen(name) != p + STAMP_LEN + s || strncmp(name, SCHEDULED_PREFIX, p) != 0 ||
	    strcmp(name + p + STAMP_LEN, SCHEDULED_SUFFIX) != 0 || name[p + 8] != 'T' ||
	    name[p + STAMP_LEN - 1] != 'Z')
		return false;
	for (i = 0; i < STAMP_LEN - 1; i++)
		if (i != 8 && (name[p + i] < '0' || name[p + i] > '9'))
			return false;
	return true;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* rotate - delete the oldest scheduled backups beyond `keep`. */
static void
rotate(struct job *j)
{
	DIR *d = opendir(j->dir);
	struct dirent *de;
	char **names = NULL, path[PATH_MAX];
	size_t n = 0, i;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (!is_scheduled_name(de->d_name))
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	if (d != NULL)
		closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", j->dir, names[i]);
		if (i + j->cf.backup.keep < n && unlink(path) == 0)
			printf("removed %s (keep %ju)\n", path, (uintmax_t)j->cf.backup.keep);
		free(names[i]);
	}
	free(names);
}

/* record - the audit record and the summary. */
static void
record(struct job *j)
{
	const struct snapshot_info *in = &j->info;
	json_t *f = json_object();
	struct stat st;
	uint64_t size = stat(j->dest, &st) == 0 ? (uint64_t)st.st_size : 0;

	json_object_set_new(f, "file", audit_str(j->dest, strlen(j->dest)));
	json_object_set_new(f, "size", json_integer((json_int_t)size));
	json_object_set_new(f, "files", json_integer((json_int_t)(in->files + j->files)));
	json_object_set_new(f, "messages", json_integer((json_int_t)in->messages));
	json_object_set_new(f, "accounts", json_integer(in->accounts.accounts));
	json_object_set_new(f, "audit_seq", json_integer((json_int_t)in->audit_seq));
	json_object_set_new(f, "scheduled", json_boolean(j->c->scheduled));
	if (bkcli_as_user(&j->pu) == 0) {
		(void)bkcli_audit(j->cf.state_dir, "backup.create", f);
		(void)bkcli_as_root(&j->pu);
	}
	json_decref(f);
	printf("backup %s: %ju bytes: %jd accounts (%jd with 2FA, %jd app passwords), %ju queued "
	       "messages, %ju files, audit log to record %ju\n",
	       j->dest, (uintmax_t)size, (intmax_t)in->accounts.accounts,
	       (intmax_t)in->accounts.totp, (intmax_t)in->accounts.app_passwords,
	       (uintmax_t)in->messages, (uintmax_t)(in->files + j->files),
	       (uintmax_t)in->audit_seq);
	if (in->skipped > 0)
		printf("  %ju queued messages were delivered while the backup ran (not in it)\n",
		       (uintmax_t)in->skipped);
	if (in->audit_problem != NULL)
		printf(
		    "  the audit log's last record does not check (%s): run postern audit verify\n",
		    in->audit_problem);
}

static void
job_free(struct job *j)
{
	size_t i;

	if (j->fd != -1)
		close(j->fd);
	if (j->tmp[0] != '\0')
		(void)unlink(j->tmp);
	sodium_memzero(j->key, sizeof(j->key));
	if (j->w != NULL)
		bkcrypt_writer_wipe(j->w);
	free(j->w);
	buf_wipe_free(&j->config.data);
	for (i = 0; i < j->next; i++)
		buf_wipe_free(&j->ext[i].data);
	free(j->ext);
	buf_free(&j->warnings);
	buf_wipe_free(&j->rec);
	conf_free(&j->cf);
}

/* run - one backup; the exit status. */
static int
run(struct cli *c)
{
	struct job j;
	int rc;

	memset(&j, 0, sizeof(j));
	j.c = c;
	j.fd = -1;
	rc = prepare(&j);
	if (rc == 0)
		rc = take(&j);
	if (rc == 0)
		rc = place(&j);
	if (j.warnings.len > 0)
		fprintf(stderr, "%s", buf_cstr(&j.warnings));
	if (rc == 0) {
		record(&j);
		if (c->scheduled)
			rotate(&j);
	}
	job_free(&j);
	return rc;
}

/* keygen - a new random key in a new 0600 file. */
static int
keygen(const char *path)
{
	uint8_t key[BKCRYPT_KEY_LEN];
	char text[BKCRYPT_KEYFILE_LEN + 1], dir[PATH_MAX];
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return cli_say("%s: %s", path,
			       errno == EEXIST ? "exists already" : strerror(errno));
	randombytes_buf(key, sizeof(key));
	bkcrypt_key_format(key, text);
	if (write_all(fd, text, BKCRYPT_KEYFILE_LEN) == -1 || fsync(fd) == -1)
		rc = cli_say("%s: %s", path, strerror(errno));
	close(fd);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, sizeof(text));
	str_copy(dir, path, sizeof(dir));
	if (rc == 0 && fsync_dir(dirname(dir)) == -1)
		rc = cli_say("%s: %s", dir, strerror(errno));
	if (rc != 0) {
		(void)unlink(path);
		return rc;
	}
	printf("%s: a new backup key. Keep a copy away from this machine: without it no backup "
	       "made with it can be read.\n",
	       path);
	return 0;
}

static void
say_intact(const char *file, const struct restore_info *info)
{
	printf("backup %s is intact: made %s on %s by postern %s; %ju files in state_dir (%ju "
	       "queued messages), %zu outside it, audit log to record %jd\n",
	       file, restore_manifest_str(info, "created"), restore_manifest_str(info, "hostname"),
	       restore_manifest_str(info, "postern"), (uintmax_t)info->files,
	       (uintmax_t)info->messages, info->next + (info->config != NULL),
	       (intmax_t)json_integer_value(json_object_get(info->manifest, "audit_seq")));
}

/* verify - read a whole backup and check it, writing nothing. The key
 * comes from the options or, if it exists, the config. */
static int
verify(struct cli *c, const char *file)
{
	char err[CONF_ERR_MAX + 2 * PATH_MAX];
	uint8_t key[BKCRYPT_KEY_LEN];
	struct bkcli_secret s;
	struct restore *r;
	struct conf cf;
	bool have_conf = access(c->config, F_OK) == 0;
	int rc = -1;

	if (have_conf && conf_load(c->config, &cf, err, sizeof(err)) == -1)
		return cli_say("%s", err);
	if ((r = restore_open(file, err, sizeof(err))) != NULL &&
	    bkcli_secret_load(c, have_conf ? &cf : NULL, false, &s, err, sizeof(err)) == 0) {
		rc = bkcli_master_key(&s, restore_header(r), file, key, err, sizeof(err));
		bkcli_secret_wipe(&s);
		if (rc == 0 && (restore_unlock(r, key, err, sizeof(err)) == -1 ||
				restore_read(r, NULL, NULL, err, sizeof(err)) == -1))
			rc = -1;
		sodium_memzero(key, sizeof(key));
	}
	if (rc == 0)
		say_intact(file, restore_info(r));
	else
		cli_say("%s", err);
	restore_free(r);
	if (have_conf)
		conf_free(&cf);
	return rc == 0 ? 0 : 1;
}

int
cli_backup(struct cli *c)
{
	if (sodium_init() < 0)
		return cli_say("libsodium cannot start");
	if (c->nwords == 3 && strcmp(c->words[1], "keygen") == 0)
		return keygen(c->words[2]);
	if (c->nwords == 3 && strcmp(c->words[1], "verify") == 0)
		return verify(c, c->words[2]);
	if ((c->scheduled && c->nwords == 1) || (!c->scheduled && c->nwords == 2))
		return run(c);
	fprintf(stderr, "usage: postern backup FILE|--scheduled [--passphrase-file F | --key-file "
			"F] [--force] [-c FILE]\n       postern backup keygen FILE\n"
			"       postern backup verify FILE [--passphrase-file F | --key-file F]\n");
	return 2;
}
