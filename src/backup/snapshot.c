/* SPDX-License-Identifier: ISC */
/*
 * snapshot - copy a live state_dir into backup records.
 *
 * SECURITY: see snapshot.h. Runs as the daemon's user; temp copies of the
 * databases are 0600 and unlinked as soon as they are open.
 */
#include "backup/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/bkrecord.h"
#include "lib/file.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "queue/spool.h"

#define COPY_BLOCK (64 * 1024)
#define BUSY_SLEEP_US 50000
#define SQLITE_MAGIC "SQLite format 3"	    /* and a NUL: 16 bytes */
#define AUDIT_TAIL (2 * (AUDIT_LINE_MAX + 1)) /* holds a torn line and the last whole one */
#define STATE_SUFFIX ".st"

enum item_kind { IT_FILE, IT_SQLITE, IT_AUDIT, IT_ANCHOR, IT_MESSAGE };

struct item {
	char *path; /* relative to state_dir */
	enum item_kind kind;
	int fd;	       /* IT_SQLITE: the unlinked copy; IT_AUDIT: the log */
	uint64_t size; /* IT_SQLITE, IT_AUDIT: bytes to copy */
	uint32_t mode; /* of the file listed */
	struct buf mem; /* IT_ANCHOR: the file, read with the log */
	bool gone;	/* IT_ANCHOR: removed before it was read */
};

struct snapshot {
	char dir[PATH_MAX];
	struct item *items;
	size_t nitems, cap;
	unsigned ntemp;
	struct snapshot_info *info;
	struct buf *warnings;
	snapshot_emit_fn emit;
	void *arg;
	struct buf head;
	uint8_t block[COPY_BLOCK];
};

static int
say(char *err, size_t errsz, const char *what, int e)
{
	snprintf(err, errsz, "%s: %s", what, strerror(e));
	errno = e;
	return -1;
}

static void
full_path(const struct snapshot *s, const char *rel, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s", s->dir, rel);
}

static struct item *
add_item(struct snapshot *s, const char *rel, enum item_kind kind, uint32_t mode)
{
	struct item *it;

	if (s->nitems == SNAPSHOT_ITEMS_MAX)
		return NULL;
	if (s->nitems == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->items = xreallocarray(s->items, s->cap, sizeof(*s->items));
	}
	it = &s->items[s->nitems++];
	it->path = xstrdup(rel);
	it->kind = kind;
	it->fd = -1;
	it->size = 0;
	it->mode = mode & 0777;
	it->gone = false;
	buf_init(&it->mem);
	return it;
}

/* Listing. */

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* is_left_out - names never copied (rel is the directory, "" at the top). */
static bool
is_left_out(const char *rel, const char *name)
{
	static const char *const top[] = {"postern.lock", "control.sock", "empty"};
	size_t i;

	if (name[0] == '.' || has_suffix(name, "-wal") || has_suffix(name, "-shm") ||
	    has_suffix(name, "-journal"))
		return true;
	for (i = 0; rel[0] == '\0' && i < nitems(top); i++)
		if (strcmp(name, top[i]) == 0)
			return true;
	return false;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* list_dir - the names in dir (full path), sorted; NULL with errno. */
static char **
list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names = xreallocarray(names, *n + 1, sizeof(*names));
		names[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 0)
		qsort(names, *n, sizeof(*names), cmp_names);
	else
		names = xcalloc(1, sizeof(*names));
	return names;
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* is_sqlite - does the file start with the SQLite header? */
static bool
is_sqlite(const char *path)
{
	char magic[16];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	bool yes;

	if (fd == -1)
		return false;
	yes = pread_all(fd, magic, sizeof(magic), 0) == 0 &&
	      memcmp(magic, SQLITE_MAGIC, sizeof(magic)) == 0;
	close(fd);
	return yes;
}

/* list_queue - the messages in spool/queue (their state files go with them). */
static int
list_queue(struct snapshot *s, char *err, size_t errsz)
{
	char dir[PATH_MAX];
	char **names;
	size_t n, i;
	int rc = 0;

	full_path(s, "spool/queue", dir, sizeof(dir));
	if ((names = list_dir(dir, &n)) == NULL)
		return errno == ENOENT ? 0 : say(err, errsz, dir, errno);
	for (i = 0; i < n && rc == 0; i++) {
		char rel[PATH_MAX];

		if (strlen(names[i]) != QUEUE_ID_LEN || !valid_queue_id(names[i]))
			continue;
		snprintf(rel, sizeof(rel), "spool/queue/%s", names[i]);
		if (add_item(s, rel, IT_MESSAGE, 0600) == NULL)
			rc = say(err, errsz, dir, EFBIG);
	}
	free_names(names, n);
	return rc;
}

static int list_tree(struct snapshot *s, const char *rel, int depth, char *err, size_t errsz);

/* list_one - what to do with the entry rel. */
static int
list_one(struct snapshot *s, const char *rel, int depth, char *err, size_t errsz)
{
	enum item_kind kind = IT_FILE;
	char path[PATH_MAX];
	struct stat st;

	full_path(s, rel, path, sizeof(path));
	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : say(err, errsz, path, errno);
	if (S_ISDIR(st.st_mode) && strcmp(rel, "spool") == 0)
		return list_queue(s, err, errsz);
	if (!valid_bkrecord_path(BKAREA_STATE, rel, strlen(rel)) ||
	    (S_ISDIR(st.st_mode) && depth + 1 >= BKRECORD_DEPTH_MAX)) {
		buf_addf(s->warnings, "left out %s: a name or depth a backup cannot carry\n", path);
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return list_tree(s, rel, depth + 1, err, errsz);
	if (!S_ISREG(st.st_mode)) {
		buf_addf(s->warnings, "left out %s: not a regular file\n", path);
		return 0;
	}
	if (depth == 0 && strcmp(rel, AUDIT_FILE) == 0)
		kind = IT_AUDIT;
	else if (depth == 0 && strcmp(rel, AUDIT_ANCHOR_FILE) == 0)
		kind = IT_ANCHOR;
	else if (is_sqlite(path))
		kind = IT_SQLITE;
	if (add_item(s, rel, kind, st.st_mode) == NULL)
		return say(err, errsz, path, EFBIG);
	return 0;
}

/* list_tree - the directory rel ("" for state_dir itself). */
static int
list_tree(struct snapshot *s, const char *rel, int depth, char *err, size_t errsz)
{
	char dir[PATH_MAX], child[PATH_MAX];
	char **names;
	size_t n, i;
	int rc = 0;

	if (rel[0] == '\0')
		str_copy(dir, s->dir, sizeof(dir));
	else
		full_path(s, rel, dir, sizeof(dir));
	if ((names = list_dir(dir, &n)) == NULL)
		return say(err, errsz, dir, errno);
	for (i = 0; i < n && rc == 0; i++) {
		if (is_left_out(rel, names[i]))
			continue;
		if (str_fmt(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", names[i]) == -1)
			buf_addf(s->warnings, "left out %s/%s: path too long\n", dir, names[i]);
		else
			rc = list_one(s, child, depth, err, errsz);
	}
	free_names(names, n);
	return rc;
}

/* Databases. */

/* sqlite_copy - the online backup of src into dst (an existing empty file). */
static int
sqlite_copy(const char *src, const char *dst, char *err, size_t errsz)
{
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	int rc, tries = 0;

	rc = sqlite3_open_v2(src, &from, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(from, SNAPSHOT_BUSY_MS);
		b = sqlite3_backup_init(to, "main", from, "main");
		if (b == NULL) {
			rc = sqlite3_errcode(to);
		} else {
			/* -1: every page in one step, under one read transaction */
			while (((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
				rc == SQLITE_LOCKED) &&
			       ++tries < SNAPSHOT_BUSY_MS / (BUSY_SLEEP_US / 1000))
				usleep(BUSY_SLEEP_US);
			if (sqlite3_backup_finish(b) != SQLITE_OK && rc == SQLITE_DONE)
				rc = sqlite3_errcode(to);
		}
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errsz, "%s: cannot copy the database: %s", src, sqlite3_errstr(rc));
	sqlite3_close(to);
	sqlite3_close(from);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
unlink_db(const char *path)
{
	static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
	char p[PATH_MAX];
	size_t i;

	for (i = 0; i < nitems(ext); i++)
		if (str_fmt(p, sizeof(p), "%s%s", path, ext[i]) == 0)
			(void)unlink(p);
}

/* count_accounts - what the copy of accounts.db holds, for the manifest. */
static void
count_accounts(struct snapshot *s, const char *copy)
{
	char err[512];
	struct store *st = store_open(copy, err, sizeof(err));

	if (st != NULL && store_counts(st, &s->info->accounts) == 0)
		s->info->have_accounts = true;
	else
		buf_addf(s->warnings, "cannot count the accounts in the copy: %s\n",
			 st != NULL ? store_error(st) : err);
	store_close(st);
}

static int
take_sqlite(struct snapshot *s, struct item *it, char *err, size_t errsz)
{
	char src[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int fd;

	full_path(s, it->path, src, sizeof(src));
	snprintf(tmp, sizeof(tmp), "%s/.backup-%ld-%u.db", s->dir, (long)getpid(), s->ntemp++);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return say(err, errsz, tmp, errno);
	close(fd);
	if (sqlite_copy(src, tmp, err, errsz) == -1) {
		unlink_db(tmp);
		return -1;
	}
	if (strcmp(it->path, "accounts.db") == 0)
		count_accounts(s, tmp);
	it->fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (it->fd == -1 || fstat(it->fd, &st) == -1) {
		say(err, errsz, tmp, errno);
		unlink_db(tmp);
		return -1;
	}
	unlink_db(tmp);
	it->size = (uint64_t)st.st_size;
	return 0;
}

/* Audit log. */

/* take_anchor - the chain head the daemon last wrote, read before the log
 * is cut (the two are listed in that order), so it never names a record
 * the copy of the log does not hold. */
static int
take_anchor(struct snapshot *s, struct item *it, char *err, size_t errsz)
{
	char path[PATH_MAX];

	full_path(s, it->path, path, sizeof(path));
	if (file_read(path, 4096, &it->mem) == 0)
		return 0;
	if (errno != ENOENT)
		return say(err, errsz, path, errno);
	it->gone = true;
	return 0;
}

/* audit_anchor - the last complete record in the tail t (n bytes, which
 * end at the cut; from_start: t is the start of the file): its seq and
 * hash into info. */
static void
audit_anchor(struct snapshot_info *info, const char *t, size_t n, bool from_start)
{
	const char *start;
	char prev[AUDIT_HASH_HEX];

	if (n == 0)
		return; /* an empty log */
	start = t + n - 1;
	while (start > t && start[-1] != '\n')
		start--;
	if (start == t && !from_start) {
		info->audit_problem = "the last record is too long";
		return;
	}
	if (audit_check_line(start, (size_t)(t + n - 1 - start), &info->audit_seq, prev,
			     info->audit_hash, &info->audit_problem) == -1)
		info->audit_seq = 0;
}

static int
take_audit(struct snapshot *s, struct item *it, char *err, size_t errsz)
{
	char path[PATH_MAX];
	struct stat st;
	char *tail = xmalloc(AUDIT_TAIL);
	size_t n = 0, got;
	int rc = -1;

	full_path(s, it->path, path, sizeof(path));
	it->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (it->fd == -1 || flock(it->fd, LOCK_SH) == -1 || fstat(it->fd, &st) == -1) {
		say(err, errsz, path, errno);
		goto out;
	}
	got = (uint64_t)st.st_size < AUDIT_TAIL ? (size_t)st.st_size : AUDIT_TAIL;
	if (pread_all(it->fd, tail, got, st.st_size - (off_t)got) == -1) {
		say(err, errsz, path, errno);
		goto out;
	}
	(void)flock(it->fd, LOCK_UN);
	/* a line being written, or torn by a crash, is not copied */
	for (n = got; n > 0 && tail[n - 1] != '\n'; n--)
		;
	it->size = (uint64_t)st.st_size - (got - n);
	s->info->have_audit = true;
	audit_anchor(s->info, tail, n, got == (uint64_t)st.st_size);
	rc = 0;
out:
	free(tail);
	return rc;
}

/* sweep - copies left in state_dir by a backup that was killed (their
 * process is gone): they hold what the databases hold. */
static void
sweep(const struct snapshot *s)
{
	char **names, path[PATH_MAX];
	size_t n, i;
	long pid;

	if ((names = list_dir(s->dir, &n)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (sscanf(names[i], ".backup-%ld-", &pid) != 1 || pid <= 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* not ours, or its backup still runs */
		if (str_fmt(path, sizeof(path), "%s/%s", s->dir, names[i]) == 0)
			(void)unlink(path);
	}
	free_names(names, n);
}

struct snapshot *
snapshot_open(const char *state_dir, struct snapshot_info *info, struct buf *warnings, char *err,
	      size_t errsz)
{
	struct snapshot *s = xcalloc(1, sizeof(*s));
	size_t i;
	int rc;

	memset(info, 0, sizeof(*info));
	s->info = info;
	s->warnings = warnings;
	buf_init(&s->head);
	if (str_copy(s->dir, state_dir, sizeof(s->dir)) == -1) {
		say(err, errsz, state_dir, ENAMETOOLONG);
		goto fail;
	}
	sweep(s);
	if (list_tree(s, "", 0, err, errsz) == -1)
		goto fail;
	for (i = 0, rc = 0; i < s->nitems && rc == 0; i++) {
		if (s->items[i].kind == IT_SQLITE)
			rc = take_sqlite(s, &s->items[i], err, errsz);
		else if (s->items[i].kind == IT_ANCHOR)
			rc = take_anchor(s, &s->items[i], err, errsz);
		else if (s->items[i].kind == IT_AUDIT)
			rc = take_audit(s, &s->items[i], err, errsz);
	}
	if (rc == 0)
		return s;
fail:
	snapshot_close(s);
	return NULL;
}

void
snapshot_close(struct snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nitems; i++) {
		if (s->items[i].fd != -1)
			close(s->items[i].fd);
		free(s->items[i].path);
		buf_free(&s->items[i].mem);
	}
	free(s->items);
	buf_free(&s->head);
	explicit_bzero(s->block, sizeof(s->block));
	free(s);
}

/* Writing. */

/* emit_file - a FILE record: the head, then size bytes of fd from 0. */
static int
emit_file(struct snapshot *s, const char *rel, uint32_t mode, int fd, uint64_t size, char *err,
	  size_t errsz)
{
	struct bkrecord_file f;
	uint64_t off = 0;

	memset(&f, 0, sizeof(f));
	f.area = BKAREA_STATE;
	str_copy(f.path, rel, sizeof(f.path));
	f.mode = mode & 0777;
	f.size = size;
	buf_reset(&s->head);
	if (bkrecord_file_head(&s->head, &f) == -1)
		return say(err, errsz, rel, EINVAL);
	if (s->emit(s->arg, s->head.data, s->head.len) == -1)
		goto emit_failed;
	while (off < size) {
		size_t k = size - off < sizeof(s->block) ? (size_t)(size - off) : sizeof(s->block);

		if (pread_all(fd, s->block, k, (off_t)off) == -1) {
			snprintf(err, errsz, "%s/%s: %s", s->dir, rel,
				 errno == 0 ? "shrank while it was copied" : strerror(errno));
			return -1;
		}
		if (s->emit(s->arg, s->block, k) == -1)
			goto emit_failed;
		off += k;
	}
	s->info->files++;
	s->info->bytes += size;
	return 0;
emit_failed:
	snprintf(err, errsz, "writing the backup: %s", strerror(errno));
	return -1;
}

/* emit_buf - a FILE record from memory. */
static int
emit_buf(struct snapshot *s, const char *rel, uint32_t mode, const struct buf *b, char *err,
	 size_t errsz)
{
	struct bkrecord_file f;

	memset(&f, 0, sizeof(f));
	f.area = BKAREA_STATE;
	str_copy(f.path, rel, sizeof(f.path));
	f.mode = mode & 0777;
	f.size = b->len;
	buf_reset(&s->head);
	if (bkrecord_file_head(&s->head, &f) == -1)
		return say(err, errsz, rel, EINVAL);
	if (s->emit(s->arg, s->head.data, s->head.len) == -1 ||
	    (b->len > 0 && s->emit(s->arg, b->data, b->len) == -1)) {
		snprintf(err, errsz, "writing the backup: %s", strerror(errno));
		return -1;
	}
	s->info->files++;
	s->info->bytes += b->len;
	return 0;
}

/* is_complete - a queue file with its envelope and a matching END record. */
static bool
is_complete(int fd, uint64_t size)
{
	struct envelope env;
	uint8_t tail[SPOOL_END_SIZE];
	uint64_t body_off, body_len, tlen;
	struct buf b = BUF_INIT;
	size_t want = 16384;
	int rc = -1;

	for (;;) {
		if (want > size)
			want = (size_t)size;
		buf_reset(&b);
		buf_reserve(&b, want);
		if (pread_all(fd, b.data, want, 0) == -1)
			break;
		rc = spool_parse_header((const uint8_t *)b.data, want, &env, &body_off);
		if (rc != 1 || want >= size || want >= SPOOL_HEADER_MAX)
			break;
		want *= 4;
	}
	buf_free(&b);
	if (rc != 0)
		return false;
	envelope_clear(&env);
	return size >= SPOOL_END_SIZE &&
	       pread_all(fd, tail, sizeof(tail), (off_t)(size - SPOOL_END_SIZE)) == 0 &&
	       spool_check_end(tail, size, body_off, &body_len, &tlen) == 0;
}

/* read_state - a delivery state file into b (never through a symlink):
 * 1 read, 0 there is none, -1 with errno. */
static int
read_state(const char *path, struct buf *b)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int rc = -1;

	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size > SNAPSHOT_STATE_MAX) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto out;
	}
	buf_reserve(b, (size_t)st.st_size);
	if (pread_all(fd, b->data, (size_t)st.st_size, 0) == 0) {
		b->len = (size_t)st.st_size;
		b->data[b->len] = '\0';
		rc = 1;
	}
out:
	close(fd);
	return rc;
}

/* write_message - a queue file and its delivery state, if it is still
 * queued and complete. */
static int
write_message(struct snapshot *s, const struct item *it, char *err, size_t errsz)
{
	char path[PATH_MAX], srel[PATH_MAX], spath[PATH_MAX];
	struct buf state = BUF_INIT;
	struct stat st;
	int fd, have_state, rc = 0;

	full_path(s, it->path, path, sizeof(path));
	snprintf(srel, sizeof(srel), "%s%s", it->path, STATE_SUFFIX);
	full_path(s, srel, spath, sizeof(spath));
	/* the state first: should the message be done before we open it,
	 * both are left out together */
	if ((have_state = read_state(spath, &state)) == -1) {
		buf_free(&state);
		return say(err, errsz, spath, errno);
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || st.st_nlink == 0 ||
	    !is_complete(fd, (uint64_t)st.st_size)) {
		if (fd == -1 && errno != ENOENT)
			rc = say(err, errsz, path, errno);
		s->info->skipped++;
	} else {
		rc = emit_file(s, it->path, st.st_mode, fd, (uint64_t)st.st_size, err, errsz);
		if (rc == 0 && have_state)
			rc = emit_buf(s, srel, 0600, &state, err, errsz);
		if (rc == 0)
			s->info->messages++;
	}
	if (fd != -1)
		close(fd);
	buf_free(&state);
	return rc;
}

/* write_plain - a file as it is now; one removed since the listing is
 * left out. */
static int
write_plain(struct snapshot *s, const char *rel, char *err, size_t errsz)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, rc;

	full_path(s, rel, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : say(err, errsz, path, errno);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return say(err, errsz, path, errno != 0 ? errno : EINVAL);
	}
	errno = 0;
	rc = emit_file(s, rel, st.st_mode, fd, (uint64_t)st.st_size, err, errsz);
	close(fd);
	return rc;
}

int
snapshot_write(struct snapshot *s, snapshot_emit_fn emit, void *arg, char *err, size_t errsz)
{
	size_t i;
	int rc = 0;

	s->emit = emit;
	s->arg = arg;
	for (i = 0; i < s->nitems && rc == 0; i++) {
		struct item *it = &s->items[i];

		errno = 0;
		if (it->kind == IT_MESSAGE)
			rc = write_message(s, it, err, errsz);
		else if (it->kind == IT_FILE)
			rc = write_plain(s, it->path, err, errsz);
		else if (it->kind == IT_ANCHOR && !it->gone)
			rc = emit_buf(s, it->path, it->mode, &it->mem, err, errsz);
		else if (it->kind == IT_SQLITE || it->kind == IT_AUDIT)
			rc = emit_file(s, it->path, it->mode, it->fd, it->size, err, errsz);
	}
	return rc;
}
