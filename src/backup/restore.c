/* SPDX-License-Identifier: ISC */
/*
 * restore - decrypt, check and stage a backup, then move it into place.
 *
 * SECURITY: see restore.h.
 */
#include "backup/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/bkrecord.h"
#include "conf/conf.h"
#include "lib/file.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "queue/spool.h"

struct restore {
	char path[PATH_MAX];
	int fd;
	struct bkcrypt_header h;
	struct bkcrypt_reader rd;
	bool unlocked;
	struct restore_info info;
	struct bkrecord_parser p;
	restore_target_fn target; /* NULL: only check the backup */
	void *targ;
	char staging[PATH_MAX]; /* "" until the target is known */
	bool committed;
	int cur_fd;		     /* the state_dir file being written */
	struct restore_file *cur;    /* or the outside file being read */
	char *err;		     /* where callbacks say what went wrong */
	size_t errsz;
	uint8_t frame[BKCRYPT_FRAME_MAX];
	uint8_t plain[BKCRYPT_CHUNK];
};

static int
damaged(struct restore *r, uint64_t at, const char *why, char *err, size_t errsz)
{
	snprintf(err, errsz, "backup %s is damaged or was modified (at byte %ju%s%s)", r->path,
		 (uintmax_t)at, why != NULL ? ": " : "", why != NULL ? why : "");
	return -1;
}

static int
io_error(char *err, size_t errsz, const char *path)
{
	snprintf(err, errsz, "%s: %s", path, strerror(errno));
	return -1;
}

struct restore *
restore_open(const char *path, char *err, size_t errsz)
{
	struct restore *r = xcalloc(1, sizeof(*r));
	uint8_t head[BKCRYPT_HEADER_SIZE];
	const char *why;
	struct stat st;
	ssize_t n;
	long at;

	r->cur_fd = -1;
	str_copy(r->path, path, sizeof(r->path));
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd == -1 || fstat(r->fd, &st) == -1 ||
	    (n = read_all(r->fd, head, sizeof(head))) == -1) {
		io_error(err, errsz, path);
		goto fail;
	}
	r->info.size = (uint64_t)st.st_size;
	if (bkcrypt_header_parse(head, (size_t)n, &r->h, &why, &at) == -1) {
		if (why != NULL)
			snprintf(err, errsz, "%s %s", path, why);
		else
			damaged(r, (uint64_t)at, NULL, err, errsz);
		goto fail;
	}
	return r;
fail:
	restore_free(r);
	return NULL;
}

const struct bkcrypt_header *
restore_header(const struct restore *r)
{
	return &r->h;
}

int
restore_unlock(struct restore *r, const uint8_t key[BKCRYPT_KEY_LEN], char *err, size_t errsz)
{
	if (bkcrypt_reader_init(&r->rd, &r->h, key) == -1) {
		snprintf(err, errsz, "wrong passphrase or key for backup %s", r->path);
		return -1;
	}
	r->unlocked = true;
	return 0;
}

const struct restore_info *
restore_info(const struct restore *r)
{
	return &r->info;
}

const char *
restore_manifest_str(const struct restore_info *info, const char *name)
{
	const char *v = json_string_value(json_object_get(info->manifest, name));

	return v != NULL ? v : "?";
}

const char *
restore_staged(const struct restore *r)
{
	return r->staging;
}

/* Record callbacks. */

static int
on_manifest(void *arg, const char *json, size_t len)
{
	struct restore *r = arg;
	json_t *m = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);

	if (m == NULL || !json_is_object(m) ||
	    json_integer_value(json_object_get(m, "format")) != BKCRYPT_VERSION) {
		json_decref(m);
		snprintf(r->err, r->errsz, "backup %s: its manifest is not one this postern reads",
			 r->path);
		return -1;
	}
	r->info.manifest = m;
	return 0;
}

/* outside_file - room for the config or a file it names. */
static int
outside_file(struct restore *r, const struct bkrecord_file *f)
{
	uint64_t max = f->area == BKAREA_CONFIG ? CONF_MAX_FILE : RESTORE_EXTERNAL_MAX;
	struct restore_file *o;

	if (f->size > max ||
	    (f->area == BKAREA_EXTERNAL && r->info.next == RESTORE_EXTERNALS_MAX)) {
		snprintf(r->err, r->errsz, "backup %s: %s is over %ju bytes (or one too many)",
			 r->path, f->path, (uintmax_t)max);
		return -1;
	}
	if (f->area == BKAREA_CONFIG) {
		o = r->info.config = xcalloc(1, sizeof(*o));
	} else {
		r->info.ext = xreallocarray(r->info.ext, r->info.next + 1, sizeof(*r->info.ext));
		o = &r->info.ext[r->info.next++];
		memset(o, 0, sizeof(*o));
	}
	o->path = xstrdup(f->path);
	o->mode = f->mode;
	buf_init(&o->data);
	r->cur = o;
	return 0;
}

/* find_target - the state_dir, once: where the staging directory goes. */
static int
find_target(struct restore *r)
{
	const char *dir;

	if (r->staging[0] != '\0' || r->target == NULL)
		return 0;
	if ((dir = r->target(r->targ, &r->info, r->err, r->errsz)) == NULL)
		return -1;
	if (str_fmt(r->staging, sizeof(r->staging), "%s/%s", dir, RESTORE_STAGING) == -1) {
		errno = ENAMETOOLONG;
		r->staging[0] = '\0';
		return io_error(r->err, r->errsz, dir);
	}
	if (mkdir(r->staging, 0700) == -1) {
		io_error(r->err, r->errsz, r->staging);
		r->staging[0] = '\0'; /* not ours to remove */
		return -1;
	}
	return 0;
}

/* staged_file - create staging/rel and the directories on its way. */
static int
staged_file(struct restore *r, const char *rel)
{
	char path[PATH_MAX];
	size_t base = strlen(r->staging) + 1, i;

	if (str_fmt(path, sizeof(path), "%s/%s", r->staging, rel) == -1) {
		errno = ENAMETOOLONG;
		return io_error(r->err, r->errsz, rel);
	}
	for (i = base; path[i] != '\0'; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return io_error(r->err, r->errsz, path);
		path[i] = '/';
	}
	r->cur_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return r->cur_fd == -1 ? io_error(r->err, r->errsz, path) : 0;
}

static int
on_file_begin(void *arg, const struct bkrecord_file *f)
{
	struct restore *r = arg;

	if (f->area != BKAREA_STATE)
		return outside_file(r, f);
	if (find_target(r) == -1)
		return -1;
	return r->target != NULL ? staged_file(r, f->path) : 0;
}

static int
on_file_data(void *arg, const uint8_t *p, size_t n)
{
	struct restore *r = arg;

	if (r->cur != NULL) {
		buf_add(&r->cur->data, p, n);
		return 0;
	}
	if (r->target == NULL)
		return 0; /* only checking */
	if (write_all(r->cur_fd, p, n) == -1)
		return io_error(r->err, r->errsz, r->staging);
	return 0;
}

static bool
is_message(const char *rel)
{
	return strncmp(rel, "spool/queue/", 12) == 0 && strlen(rel + 12) == QUEUE_ID_LEN &&
	       valid_queue_id(rel + 12);
}

static int
on_file_end(void *arg, const struct bkrecord_file *f)
{
	struct restore *r = arg;
	int fd = r->cur_fd;

	if (r->cur != NULL) {
		r->cur = NULL;
		return 0;
	}
	r->cur_fd = -1;
	if (r->target != NULL &&
	    (fchmod(fd, f->mode) == -1 || fsync(fd) == -1 || close(fd) == -1)) {
		(void)close(fd);
		return io_error(r->err, r->errsz, f->path);
	}
	r->info.files++;
	r->info.bytes += f->size;
	if (is_message(f->path))
		r->info.messages++;
	return 0;
}

static int
on_end(void *arg, uint64_t files, uint64_t bytes)
{
	struct restore *r = arg;

	(void)files;
	(void)bytes;
	return find_target(r);
}

/* read_frames - every frame, into the parser; the FINAL one must be last. */
static int
read_frames(struct restore *r, char *err, size_t errsz)
{
	uint64_t off = BKCRYPT_HEADER_SIZE;
	uint8_t len[4];
	size_t clen, plen;
	ssize_t n;
	int rc;

	while (!r->rd.final) {
		if ((n = read_all(r->fd, len, sizeof(len))) == -1)
			return io_error(err, errsz, r->path);
		if (n < (ssize_t)sizeof(len) || (clen = bkcrypt_frame_len(len)) == 0)
			return damaged(r, off, NULL, err, errsz);
		if ((n = read_all(r->fd, r->frame, clen)) == -1)
			return io_error(err, errsz, r->path);
		if ((size_t)n != clen ||
		    bkcrypt_read(&r->rd, len, r->frame, clen, r->plain, &plen) == -1)
			return damaged(r, off, NULL, err, errsz);
		rc = bkrecord_feed(&r->p, r->plain, plen);
		sodium_memzero(r->plain, plen);
		if (rc == -1)
			return r->p.why != NULL ? damaged(r, off, r->p.why, err, errsz) : -1;
		off += sizeof(len) + clen;
	}
	if ((n = read_all(r->fd, len, 1)) != 0)
		return n == -1 ? io_error(err, errsz, r->path) : damaged(r, off, NULL, err, errsz);
	if (bkrecord_finish(&r->p) == -1)
		return damaged(r, off, r->p.why, err, errsz);
	return 0;
}

int
restore_read(struct restore *r, restore_target_fn target, void *arg, char *err, size_t errsz)
{
	static const struct bkrecord_cb cb0 = {on_manifest, on_file_begin, on_file_data,
					       on_file_end, on_end, NULL};
	struct bkrecord_cb cb = cb0;
	int rc;

	if (!r->unlocked) {
		snprintf(err, errsz, "backup %s: not unlocked", r->path);
		return -1;
	}
	r->target = target;
	r->targ = arg;
	r->err = err;
	r->errsz = errsz;
	cb.arg = r;
	bkrecord_init(&r->p, &cb);
	rc = read_frames(r, err, errsz);
	bkrecord_free(&r->p);
	if (r->cur_fd != -1) {
		close(r->cur_fd);
		r->cur_fd = -1;
	}
	r->err = NULL;
	return rc;
}

/* Moving into place. */

/* fsync_tree - every directory under dir, then dir. */
static int
fsync_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];
	struct stat st;
	int rc = 0;

	if (d == NULL)
		return -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (str_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) == -1 ||
		    lstat(path, &st) == -1)
			rc = -1;
		else if (S_ISDIR(st.st_mode))
			rc = fsync_tree(path);
	}
	closedir(d);
	return rc == 0 ? fsync_dir(dir) : -1;
}

/* remove_tree - dir and everything in it (symlinks are not followed). */
static void
remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];
	struct stat st;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    str_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) == -1 ||
		    lstat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode))
			remove_tree(path);
		else
			(void)unlink(path);
	}
	if (d != NULL)
		closedir(d);
	(void)rmdir(dir);
}

/* move_new - rename from to to, never over an existing name. */
static int
move_new(const char *from, const char *to)
{
	struct stat st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* a file system without RENAME_NOREPLACE; the target is ours alone */
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

int
restore_commit(struct restore *r, char *err, size_t errsz)
{
	char state[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	str_copy(state, r->staging, sizeof(state));
	*strrchr(state, '/') = '\0';
	if (fsync_tree(r->staging) == -1 || (d = opendir(r->staging)) == NULL)
		return io_error(err, errsz, r->staging);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", r->staging, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", state, de->d_name);
		if (move_new(from, to) == -1)
			rc = io_error(err, errsz, to);
	}
	closedir(d);
	if (rc == -1) {
		size_t n = strlen(err);

		snprintf(err + n, errsz - n, " (%s is partly restored: empty it and restore again)",
			 state);
		return -1;
	}
	if (fsync_dir(state) == -1 || rmdir(r->staging) == -1 || fsync_dir(state) == -1)
		return io_error(err, errsz, state);
	r->committed = true;
	return 0;
}

static void
file_free(struct restore_file *f)
{
	free(f->path);
	buf_wipe_free(&f->data);
}

void
restore_free(struct restore *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->staging[0] != '\0' && !r->committed)
		remove_tree(r->staging);
	if (r->fd != -1)
		close(r->fd);
	if (r->info.config != NULL)
		file_free(r->info.config);
	free(r->info.config);
	for (i = 0; i < r->info.next; i++)
		file_free(&r->info.ext[i]);
	free(r->info.ext);
	json_decref(r->info.manifest);
	bkcrypt_reader_wipe(&r->rd);
	sodium_memzero(r->plain, sizeof(r->plain));
	free(r);
}
