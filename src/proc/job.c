/* SPDX-License-Identifier: ISC */
/*
 * job - child `postern` commands of the queue process.
 *
 * SECURITY: see job.h.
 */
#include "proc/job.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin/request.h"
#include "lib/file.h"
#include "lib/net.h"
#include "lib/log.h"
#include "lib/util.h"

/* How often an ended child is looked for once its output is closed. */
#define JOB_REAP_MS 20
#define JOB_ENV_MAX 8

struct job {
	pid_t pid;
	struct event *ev_out, *ev_err, *ev_timer, *ev_reap;
	int out_fd, err_fd;
	struct buf out, err;
	bool timed_out;
	job_done_fn done;
	void *arg;
};

static void
job_free(struct job *j)
{
	if (j->ev_out != NULL)
		event_free(j->ev_out);
	if (j->ev_err != NULL)
		event_free(j->ev_err);
	event_free(j->ev_timer);
	event_free(j->ev_reap);
	if (j->out_fd != -1)
		close(j->out_fd);
	if (j->err_fd != -1)
		close(j->err_fd);
	buf_free(&j->out);
	buf_free(&j->err);
	free(j);
}

static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	int st, status;
	pid_t r;

	(void)fd;
	(void)what;
	r = waitpid(j->pid, &st, WNOHANG);
	if (r == 0) {
		evtimer_add(j->ev_reap, (&(struct timeval){0, JOB_REAP_MS * 1000}));
		return;
	}
	if (r == -1)
		status = 127;
	else if (j->timed_out)
		status = 124;
	else if (WIFEXITED(st))
		status = WEXITSTATUS(st);
	else
		status = 128 + WTERMSIG(st);
	if (j->timed_out)
		buf_adds(&j->err, "postern: the command ran out of time and was stopped\n");
	if (j->done != NULL)
		j->done(status, &j->out, &j->err, j->arg);
	job_free(j);
}

/* on_output - read what the child wrote; at the end of both, reap it. */
static void
on_output(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	bool is_out = fd == j->out_fd;
	struct buf *b = is_out ? &j->out : &j->err;
	char chunk[16384];
	ssize_t n;

	(void)what;
	n = read(fd, chunk, sizeof(chunk));
	if (n > 0) {
		if (b->len < ADMIN_OUTPUT_MAX)
			buf_add(b, chunk, (size_t)n);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (b->len >= ADMIN_OUTPUT_MAX)
		buf_adds(b, "\n[output cut]\n");
	event_free(is_out ? j->ev_out : j->ev_err);
	*(is_out ? &j->ev_out : &j->ev_err) = NULL;
	close(fd);
	*(is_out ? &j->out_fd : &j->err_fd) = -1;
	if (j->ev_out == NULL && j->ev_err == NULL)
		evtimer_add(j->ev_reap, (&(struct timeval){0, 0}));
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	j->timed_out = true;
	log_warnx("job pid=%ld timeout: stopped", (long)j->pid);
	(void)kill(j->pid, SIGKILL);
}

/* stdin_fd - an anonymous file holding in[0..inlen), at offset 0. */
static int
stdin_fd(const void *in, size_t inlen)
{
	int fd = memfd_create("postern-job-stdin", MFD_CLOEXEC);

	if (fd == -1)
		return -1;
	if ((inlen > 0 && write_all(fd, in, inlen) == -1) || lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* build_env - the child's whole environment. */
static void
build_env(char **env, size_t *n, char *actor_var, size_t actor_sz, const char *actor)
{
	static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
	size_t i;

	*n = 0;
	env[(*n)++] = (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	env[(*n)++] = (char *)"POSTERN_VIA_DAEMON=1";
	if (actor != NULL) {
		snprintf(actor_var, actor_sz, "POSTERN_ACTOR=%s", actor);
		env[(*n)++] = actor_var;
	}
	for (i = 0; i < nitems(pass); i++) {
		const char *v = getenv(pass[i]);

		/* environ entries are "NAME=value": step back to the name */
		if (v != NULL)
			env[(*n)++] = (char *)v - strlen(pass[i]) - 1;
	}
	env[*n] = NULL;
}

/* spawn - posix_spawn /proc/self/exe with stdin from infd and stdout and
 * stderr into the pipes; 0 or an errno value. */
static int
spawn(pid_t *pid, char **av, char **env, int infd, const int outp[2], const int errp[2])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc;

	/* a session of its own: no controlling terminal to prompt on */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, infd, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawn(pid, "/proc/self/exe", &fa, &attr, av, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

struct job *
job_start(struct event_base *base, const char *config, int argc, char *const *argv,
	  const void *in, size_t inlen, const char *actor, unsigned timeout_sec, job_done_fn done,
	  void *arg, char *err, size_t errsz)
{
	char *av[ADMIN_ARGS_MAX + 4], *env[JOB_ENV_MAX], actor_var[512];
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, infd, i, rc;
	struct job *j;
	size_t nenv;

	if (argc > ADMIN_ARGS_MAX) {
		snprintf(err, errsz, "too many words");
		return NULL;
	}
	av[0] = (char *)"postern";
	for (i = 0; i < argc; i++)
		av[i + 1] = argv[i];
	av[argc + 1] = (char *)"-c";
	av[argc + 2] = (char *)config;
	av[argc + 3] = NULL;
	build_env(env, &nenv, actor_var, sizeof(actor_var), actor);
	infd = stdin_fd(in, inlen);
	if (infd == -1 || pipe2(outp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "cannot start a command: %s", strerror(errno));
		goto fail;
	}
	j = xcalloc(1, sizeof(*j));
	rc = spawn(&j->pid, av, env, infd, outp, errp);
	if (rc != 0) {
		snprintf(err, errsz, "cannot start a command: %s", strerror(rc));
		free(j);
		goto fail;
	}
	close(infd);
	close(outp[1]);
	close(errp[1]);
	j->out_fd = outp[0];
	j->err_fd = errp[0];
	(void)net_set_nonblock(j->out_fd);
	(void)net_set_nonblock(j->err_fd);
	j->done = done;
	j->arg = arg;
	j->ev_out = event_new(base, j->out_fd, EV_READ | EV_PERSIST, on_output, j);
	j->ev_err = event_new(base, j->err_fd, EV_READ | EV_PERSIST, on_output, j);
	j->ev_timer = evtimer_new(base, on_timeout, j);
	j->ev_reap = evtimer_new(base, on_reap, j);
	event_add(j->ev_out, NULL);
	event_add(j->ev_err, NULL);
	evtimer_add(j->ev_timer, (&(struct timeval){(time_t)timeout_sec, 0}));
	return j;
fail:
	for (i = 0; i < 2; i++) {
		if (outp[i] != -1)
			close(outp[i]);
		if (errp[i] != -1)
			close(errp[i]);
	}
	if (infd != -1)
		close(infd);
	return NULL;
}

void
job_detach(struct job *j)
{
	j->done = NULL;
}
