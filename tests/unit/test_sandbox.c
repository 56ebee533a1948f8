/* SPDX-License-Identifier: ISC */
/*
 * test_sandbox - the smtp process's seccomp filter (src/proc/sandbox.c),
 * one forked child per row: the child loads the filter, makes one call and
 * exits 0 when the call did what the row says; a call that must kill is
 * expected to end the child with SIGSYS. In the sanitizer build, reports
 * of ASan and UBSan still get out under the filter (their extra calls are
 * refused with an errno, never a kill).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/sandbox.h"

/* Calls the filter refuses with an errno: 0 when they failed so. */

static int
refused(long rc, int want)
{
	return rc == -1 && errno == want ? 0 : 1;
}

static int
do_open(void)
{
	return refused(open("/etc/passwd", O_RDONLY | O_CLOEXEC), EACCES);
}

static int
do_openat(void)
{
	return refused(syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY), EACCES);
}

static int
do_creat(void)
{
	return refused(open("/tmp/postern-sandbox-x", O_WRONLY | O_CREAT | O_EXCL, 0600), EACCES);
}

static int
do_exec(void)
{
	char *const argv[] = {(char *)"true", NULL}, *const envp[] = {NULL};

	return refused(execve("/bin/true", argv, envp), EACCES);
}

static int
do_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return refused(pid, EPERM);
}

static int
do_stat(void)
{
	struct stat st;

	return refused(stat("/", &st), EACCES);
}

static int
do_fstat(void)
{
	struct stat st;

	return refused(fstat(2, &st), EACCES);
}

static int
do_unlink(void)
{
	return refused(unlink("/tmp/postern-sandbox-x"), EACCES);
}

static int
do_unix_stream(void)
{
	return refused(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), EACCES);
}

/* Calls it allows: 0 when they worked. */

static void *
thread_main(void *arg)
{
	return arg;
}

static int
do_thread(void)
{
	pthread_t t;
	void *ret = NULL;
	int x;

	if (pthread_create(&t, NULL, thread_main, &x) != 0 || pthread_join(t, &ret) != 0)
		return 1;
	return ret == &x ? 0 : 1;
}

/* DNS-like traffic: a UDP socket bound to a port, a datagram to itself. */
static int
do_udp(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 1, type = 0;
	socklen_t len = sizeof(type);
	char buf[8];

	if (fd == -1)
		return 1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM &&
	    recvfrom(fd, buf, 0, MSG_DONTWAIT, NULL, NULL) == -1 && errno == EAGAIN)
		rc = 0;
	close(fd);
	return rc;
}

static int
do_unix_dgram(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return 1;
	close(fd);
	return 0;
}

static int
do_memory(void)
{
	char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	if (p == MAP_FAILED)
		return 1;
	p[0] = 1;
	q = malloc(1 << 22); /* glibc: an mmap'd chunk */
	if (q == NULL || mprotect(p, 4096, PROT_READ) == -1)
		return 1;
	p[4096] = 2;
	q = realloc(q, 1 << 23); /* glibc: mremap */
	if (q == NULL)
		return 1;
	free(q);
	return munmap(p, 1 << 20) == 0 ? 0 : 1;
}

/* Calls that kill. */

static int
do_mmap_exec(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 1;
}

static int
do_mprotect_exec(void)
{
	static char page[8192] __attribute__((aligned(4096)));

	(void)mprotect(page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
	return 1;
}

static int
do_netlink(void)
{
	(void)socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	return 1;
}

static int
do_kill_other(void)
{
	(void)kill(getppid(), 0);
	return 1;
}

static int
do_ptrace(void)
{
	(void)ptrace(PTRACE_PEEKDATA, getppid(), NULL, NULL);
	return 1;
}

static int
do_listen(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)listen(fd, 1);
	return 1;
}

static int
do_abort(void)
{
	abort(); /* tgkill of ourselves: allowed, so SIGABRT */
}

struct row {
	const char *name;
	int (*fn)(void);
	int sig; /* 0: the child exits 0 */
};

static const struct row rows[] = {
	{"open", do_open, 0},
	{"openat", do_openat, 0},
	{"creat", do_creat, 0},
	{"exec", do_exec, 0},
	{"fork", do_fork, 0},
	{"stat", do_stat, 0},
	{"fstat", do_fstat, 0},
	{"unlink", do_unlink, 0},
	{"unix stream socket", do_unix_stream, 0},
	{"thread", do_thread, 0},
	{"udp", do_udp, 0},
	{"unix datagram socket", do_unix_dgram, 0},
	{"memory", do_memory, 0},
	{"mmap exec", do_mmap_exec, SIGSYS},
	{"mprotect exec", do_mprotect_exec, SIGSYS},
	{"netlink socket", do_netlink, SIGSYS},
	{"kill another process", do_kill_other, SIGSYS},
	{"ptrace", do_ptrace, SIGSYS},
	{"listen", do_listen, SIGSYS},
	{"abort", do_abort, SIGABRT},
};

/* run - fn in a sandboxed child; its wait status, and its stderr in err. */
static int
run(int (*fn)(void), char *err, size_t errsz)
{
	int p[2], st;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], 2) == -1)
			_exit(99);
		sandbox_smtp();
		_exit(fn());
	}
	close(p[1]);
	while (n + 1 < errsz && (r = read(p[0], err + n, errsz - 1 - n)) > 0)
		n += (size_t)r;
	err[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
test_rows(void **state)
{
	char err[8192];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int st = run(rows[i].fn, err, sizeof(err));

		if (rows[i].sig == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			fail_msg("%s: status %#x, not exit 0: %s", rows[i].name, st, err);
		if (rows[i].sig != 0 && !(WIFSIGNALED(st) && WTERMSIG(st) == rows[i].sig))
			fail_msg("%s: status %#x, not signal %d: %s", rows[i].name, st, rows[i].sig,
				 err);
		assert_non_null(strstr(err, "smtp sandbox on rules="));
	}
}

/* The self-test of the smtp process logs what the filter did. */
static int
do_selftest(void)
{
	sandbox_selftest("/etc/passwd");
	return 0;
}

static void
test_selftest(void **state)
{
	char err[8192];
	int st;

	(void)state;
	st = run(do_selftest, err, sizeof(err));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(err, "smtp sandbox selftest open=EACCES exec=EACCES fork=EPERM "
				    "file=/etc/passwd"));
}

#if defined(__SANITIZE_ADDRESS__)
static int
do_asan_report(void)
{
	volatile char *p = calloc(1, 8);
	volatile size_t i = 8;

	return p[i]; /* heap-buffer-overflow */
}
#endif

#if defined(TEST_UBSAN)
static int
do_ubsan_report(void)
{
	volatile int x = INT_MAX;

	return x + 1 == 0; /* signed overflow */
}
#endif

/* A sanitizer report under the filter: printed, and the process dies by
 * abort or the sanitizer's exit, never by SIGSYS. */
static void
check_report(int (*fn)(void), const char *want)
{
	char err[16384];
	int st = run(fn, err, sizeof(err));

	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		fail_msg("killed by the filter: %s", err);
	if (strstr(err, want) == NULL)
		fail_msg("no report (%s) in: %s", want, err);
}

static void
test_sanitizers(void **state)
{
	(void)state;
	(void)check_report;
#if defined(__SANITIZE_ADDRESS__)
	check_report(do_asan_report, "AddressSanitizer: heap-buffer-overflow");
#endif
#if defined(TEST_UBSAN)
	check_report(do_ubsan_report, "runtime error: signed integer overflow");
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(TEST_UBSAN)
	skip();
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_selftest),
		cmocka_unit_test(test_sanitizers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
