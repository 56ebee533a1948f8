/* SPDX-License-Identifier: ISC */
/*
 * test_commit - the group committer (src/queue/commit.c): files are
 * renamed into place once synced; a request's prepare step runs in a
 * committer thread before the sync, what it writes is in the committed
 * file, and its error fails that request alone (no file in place).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/file.h"
#include "queue/commit.h"

struct job {
	struct commit_req req;
	int prepare_rc;	     /* what prepare returns */
	bool prepared;	     /* prepare ran */
	pthread_t thread;    /* where */
	bool done;
};

static pthread_t loop_thread;
static int ndone;

static int
prepare(struct commit_req *req)
{
	struct job *j = req->arg;

	j->prepared = true;
	j->thread = pthread_self();
	if (j->prepare_rc == 0 && write_all(req->fd, " +signed", 8) == -1)
		return errno;
	return j->prepare_rc;
}

static void
done(struct commit_req *req, void *arg)
{
	struct job *j = req->arg;

	(void)arg;
	assert_true(pthread_equal(pthread_self(), loop_thread));
	j->done = true;
	ndone++;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
new_job(struct job *j, const char *dir, const char *name, bool with_prepare, int rc)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->req.tmp, sizeof(j->req.tmp), "%s/.%s", dir, name);
	snprintf(j->req.dst, sizeof(j->req.dst), "%s/%s", dir, name);
	j->req.fd = open(j->req.tmp, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	assert_true(j->req.fd != -1);
	assert_int_equal(write_all(j->req.fd, "message", 7), 0);
	j->req.arg = j;
	j->req.prepare = with_prepare ? prepare : NULL;
	j->prepare_rc = rc;
}

static void
test_prepare(void **state)
{
	char dir[] = "/tmp/test_commit.XXXXXX";
	struct event_base *base = event_base_new();
	struct committer *c;
	struct job j[3];
	struct buf got = BUF_INIT;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	loop_thread = pthread_self();
	ndone = 0;
	c = committer_new(base, dir, 2, done, NULL);
	new_job(&j[0], dir, "plain", false, 0);
	new_job(&j[1], dir, "signed", true, 0);
	new_job(&j[2], dir, "failed", true, EIO);
	for (i = 0; i < 3; i++)
		committer_submit(c, &j[i].req);
	while (ndone < 3)
		event_base_loop(base, EVLOOP_ONCE);
	/* without a prepare step: committed as written */
	assert_int_equal(j[0].req.err, 0);
	assert_false(j[0].prepared);
	assert_int_equal(file_read(j[0].req.dst, 100, &got), 0);
	assert_string_equal(buf_cstr(&got), "message");
	buf_reset(&got);
	/* prepared in a committer thread, before the sync and the rename */
	assert_int_equal(j[1].req.err, 0);
	assert_true(j[1].prepared);
	assert_false(pthread_equal(j[1].thread, loop_thread));
	assert_int_equal(file_read(j[1].req.dst, 100, &got), 0);
	assert_string_equal(buf_cstr(&got), "message +signed");
	assert_int_equal(access(j[1].req.tmp, F_OK), -1);
	/* a failed prepare fails its request only: nothing put in place */
	assert_int_equal(j[2].req.err, EIO);
	assert_true(j[2].prepared);
	assert_int_equal(access(j[2].req.dst, F_OK), -1);
	assert_int_equal(access(j[2].req.tmp, F_OK), 0);
	committer_free(c);
	for (i = 0; i < 3; i++)
		close(j[i].req.fd);
	event_base_free(base);
	buf_free(&got);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
