/* SPDX-License-Identifier: ISC */
/*
 * sandbox - the smtp process's seccomp filter (see sandbox.h): one table
 * of system calls, each allowed (some only with certain arguments) or
 * refused with an errno; every call the table does not name kills the
 * process.
 *
 * SECURITY: the table is the whole policy. It allows what an event-driven
 * network server does on descriptors it already holds, what libunbound's
 * resolver thread does for DNS (UDP and TCP sockets, bind to a random
 * port), memory management without executable mappings, clocks and
 * randomness, and what ASan and UBSan need in the sanitizer build (their
 * reports try to read /proc/self/maps and to start a symbolizer: both are
 * refused with an errno, so a report is printed, unsymbolized, instead of
 * a kill). Nothing that takes a path name is allowed.
 *
 * STANDARDS: seccomp(2), libseccomp's seccomp_rule_add(3).
 */
#include "proc/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

/* A comparison of one argument; SB_SELF as the value stands for our pid. */
#define SB_SELF UINT64_MAX
struct sb_arg {
	unsigned arg;
	enum scmp_compare op;
	uint64_t a, b; /* as SCMP_CMP() takes them: EQ a; MASKED_EQ mask a, value b */
};

/* A call (with these arguments) is allowed (err 0) or fails with err. */
struct sb_rule {
	const char *name;
	int err;
	unsigned nargs; /* 0: whatever the arguments */
	struct sb_arg args[2];
};

#define SB_ALLOW 0
#define ALLOW(n) {n, SB_ALLOW, 0, {{0, 0, 0, 0}, {0, 0, 0, 0}}}
#define REFUSE(n, err) {n, err, 0, {{0, 0, 0, 0}, {0, 0, 0, 0}}}
#define IF(n, err, arg, op, a, b) {n, err, 1, {{arg, op, a, b}, {0, 0, 0, 0}}}
#define IF2(n, err, arg1, op1, a1, b1, arg2, op2, a2, b2)                                          \
	{n, err, 2, {{arg1, op1, a1, b1}, {arg2, op2, a2, b2}}}
/* the socket type without SOCK_NONBLOCK and SOCK_CLOEXEC */
#define SOCK_TYPE_MASK 0xf

static const struct sb_rule sb_rules[] = {
	/* I/O on the descriptors it holds: client sockets, the IPC
	 * socketpairs, the append-only message files the queue hands over
	 * (SCM_RIGHTS), the metrics listener, stderr or the syslog socket. */
	ALLOW("read"), ALLOW("readv"), ALLOW("write"), ALLOW("writev"), ALLOW("close"),
	ALLOW("fcntl"),
	/* how many bytes wait on a socket (libevent reads that much); is
	 * stderr a terminal (ASan, to colour a report): no */
	IF("ioctl", SB_ALLOW, 1, SCMP_CMP_EQ, FIONREAD, 0),
	IF("ioctl", ENOTTY, 1, SCMP_CMP_EQ, TCGETS, 0),

	/* The network: accepting on the inherited listeners, SMTP and TLS,
	 * DNS over UDP and TCP from a random local port (libunbound). Unix
	 * sockets only as datagrams: syslog(3) reconnecting to /dev/log. */
	ALLOW("accept4"), ALLOW("shutdown"), ALLOW("recvmsg"), ALLOW("sendmsg"),
	ALLOW("setsockopt"), ALLOW("connect"), ALLOW("bind"), ALLOW("recvfrom"), ALLOW("sendto"),
	ALLOW("getsockopt"), /* SO_ERROR: a DNS-over-TCP connect finished */
	IF("socket", SB_ALLOW, 0, SCMP_CMP_EQ, AF_INET, 0),
	IF("socket", SB_ALLOW, 0, SCMP_CMP_EQ, AF_INET6, 0),
	IF2("socket", SB_ALLOW, 0, SCMP_CMP_EQ, AF_UNIX, 0, 1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK,
	    SOCK_DGRAM),
	IF2("socket", EACCES, 0, SCMP_CMP_EQ, AF_UNIX, 0, 1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK,
	    SOCK_STREAM),
	IF2("socket", EACCES, 0, SCMP_CMP_EQ, AF_UNIX, 0, 1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK,
	    SOCK_SEQPACKET),

	/* The event loops: ours (libevent) and the resolver thread's, which
	 * makes its own at its first query, with the pipes that connect them.
	 * (epoll_pwait: what epoll_wait is where that call does not exist.) */
	ALLOW("epoll_wait"), ALLOW("epoll_pwait"), ALLOW("epoll_ctl"), ALLOW("epoll_create1"),
	ALLOW("pipe2"),

	/* Memory, never executable: no code arrives after the filter. */
	ALLOW("brk"), ALLOW("munmap"), ALLOW("mremap"), ALLOW("madvise"),
	IF("mmap", SB_ALLOW, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
	IF("mprotect", SB_ALLOW, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),

	/* Clocks, sleeps, randomness (OpenSSL, session ids), who we are. */
	ALLOW("clock_gettime"), ALLOW("clock_getres"), ALLOW("gettimeofday"), ALLOW("time"),
	ALLOW("nanosleep"), ALLOW("clock_nanosleep"), ALLOW("getrandom"), ALLOW("getpid"),
	ALLOW("getppid"), ALLOW("gettid"), ALLOW("getuid"), ALLOW("geteuid"), ALLOW("getgid"), ALLOW("getegid"),

	/* Signals; abort() and raise() signal only ourselves. */
	ALLOW("rt_sigaction"), ALLOW("rt_sigprocmask"), ALLOW("rt_sigreturn"),
	ALLOW("sigaltstack"), ALLOW("restart_syscall"),
	IF("kill", SB_ALLOW, 0, SCMP_CMP_EQ, SB_SELF, 0),
	IF("tgkill", SB_ALLOW, 0, SCMP_CMP_EQ, SB_SELF, 0),

	/* Threads (libunbound resolves in one of its own), not processes. */
	IF("clone", SB_ALLOW, 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD),
	IF("clone", EPERM, 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0),
	REFUSE("clone3", ENOSYS), REFUSE("fork", EPERM), REFUSE("vfork", EPERM),
	ALLOW("futex"), ALLOW("set_robust_list"), ALLOW("rseq"), ALLOW("sched_yield"),
	ALLOW("sched_getaffinity"), ALLOW("exit"), ALLOW("exit_group"),

	/* Anything by path name: the files are not ours to open, run, list,
	 * inspect or change. (glibc's fstat() is newfstatat(fd, "",
	 * AT_EMPTY_PATH): refused too, nothing here needs it.) */
	REFUSE("open", EACCES), REFUSE("openat", EACCES), REFUSE("openat2", EACCES),
	REFUSE("creat", EACCES), REFUSE("open_by_handle_at", EACCES),
	REFUSE("name_to_handle_at", EACCES), REFUSE("execve", EACCES),
	REFUSE("execveat", EACCES), REFUSE("stat", EACCES), REFUSE("lstat", EACCES),
	REFUSE("newfstatat", EACCES), REFUSE("fstat", EACCES),
	REFUSE("statx", EACCES), REFUSE("statfs", EACCES), REFUSE("access", EACCES),
	REFUSE("faccessat", EACCES), REFUSE("faccessat2", EACCES),
	REFUSE("readlink", EACCES), REFUSE("readlinkat", EACCES), REFUSE("chdir", EACCES),
	REFUSE("chroot", EACCES), REFUSE("mkdir", EACCES), REFUSE("mkdirat", EACCES),
	REFUSE("rmdir", EACCES), REFUSE("unlink", EACCES), REFUSE("unlinkat", EACCES),
	REFUSE("rename", EACCES), REFUSE("renameat", EACCES), REFUSE("renameat2", EACCES),
	REFUSE("link", EACCES), REFUSE("linkat", EACCES), REFUSE("symlink", EACCES),
	REFUSE("symlinkat", EACCES), REFUSE("chmod", EACCES), REFUSE("fchmodat", EACCES),
	REFUSE("chown", EACCES), REFUSE("lchown", EACCES), REFUSE("fchownat", EACCES),
	REFUSE("truncate", EACCES), REFUSE("mknod", EACCES), REFUSE("mknodat", EACCES),
	REFUSE("utime", EACCES), REFUSE("utimes", EACCES), REFUSE("utimensat", EACCES),
	REFUSE("futimesat", EACCES), REFUSE("inotify_add_watch", EACCES),
};

/* sb_add - one rule; a call this architecture does not have is skipped. */
static int
sb_add(scmp_filter_ctx ctx, const struct sb_rule *r, uint64_t self)
{
	struct scmp_arg_cmp cmp[2];
	int nr = seccomp_syscall_resolve_name(r->name);
	unsigned i;

	if (nr < 0) /* __NR_SCMP_ERROR, or a call this architecture lacks */
		return 0;
	for (i = 0; i < r->nargs; i++) {
		cmp[i].arg = r->args[i].arg;
		cmp[i].op = r->args[i].op;
		cmp[i].datum_a = r->args[i].a == SB_SELF ? self : r->args[i].a;
		cmp[i].datum_b = r->args[i].b;
	}
	return seccomp_rule_add_array(ctx, r->err == SB_ALLOW ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(r->err),
				      nr, r->nargs, cmp);
}

void
sandbox_smtp(void)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc = 0;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		log_fatalx("smtp sandbox: seccomp_init failed");
	/* Another architecture's calls (x32, i386 on x86_64) are killed too. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0)
		log_fatalx("smtp sandbox: cannot set the bad-architecture action");
	for (i = 0; i < nitems(sb_rules) && rc == 0; i++)
		rc = sb_add(ctx, &sb_rules[i], (uint64_t)getpid());
	if (rc != 0)
		log_fatalx("smtp sandbox: rule for %s: %s", sb_rules[i - 1].name, strerror(-rc));
	/* seccomp_load sets no_new_privs first (SCMP_FLTATR_CTL_NNP). */
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0)
		log_fatalx("smtp sandbox: cannot load the seccomp filter: %s (the kernel needs "
			   "CONFIG_SECCOMP_FILTER; 'smtp { sandbox no }' runs without it, for "
			   "debugging only)",
			   strerror(-rc));
	log_info("smtp sandbox on rules=%zu", nitems(sb_rules));
}

/* errname - "EACCES" for EACCES, "ok" for 0. */
static const char *
errname(int e, char *buf, size_t bufsz)
{
	const char *n = e == 0 ? "ok" : strerrorname_np(e);

	if (n != NULL)
		return n;
	snprintf(buf, bufsz, "errno%d", e);
	return buf;
}

static const char *const selftest_argv[] = {"true", NULL};
static const char *const selftest_envp[] = {NULL};
#define SELFTEST_EXE "/bin/true"

/* try_exec_child - execute /bin/true in the child pid (forked just now);
 * 0 when it ran, else the errno its execve() failed with. */
static int
try_exec_child(pid_t pid, int rfd)
{
	int e = 0, st;
	ssize_t n;

	do
		n = read(rfd, &e, sizeof(e));
	while (n == -1 && errno == EINTR);
	close(rfd);
	if (waitpid(pid, &st, 0) == -1)
		return errno;
	if (n == (ssize_t)sizeof(e))
		return e;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : ECHILD;
}

/* try_exec - 0 when /bin/true could be executed, else the errno. Without
 * a sandbox it runs in a child (fork and pipe allowed); under it fork is
 * refused, and the execve() here must fail (if it did not, this process
 * would become /bin/true, and its exit would stop the gateway: the test
 * fails loudly). */
static int
try_exec(int *fork_err)
{
	int p[2], e;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		p[0] = p[1] = -1;
	pid = fork();
	*fork_err = pid == -1 ? errno : 0;
	if (pid == 0) {
		(void)execve(SELFTEST_EXE, (char *const *)selftest_argv,
			     (char *const *)selftest_envp);
		e = errno;
		if (write(p[1], &e, sizeof(e)) != (ssize_t)sizeof(e))
			_exit(126);
		_exit(127);
	}
	if (p[1] != -1)
		close(p[1]);
	if (pid > 0)
		return try_exec_child(pid, p[0]);
	if (p[0] != -1)
		close(p[0]);
	(void)execve(SELFTEST_EXE, (char *const *)selftest_argv, (char *const *)selftest_envp);
	return errno;
}

void
sandbox_selftest_forbidden(void)
{
	int fd;

	log_info("smtp sandbox selftest trying socket(AF_NETLINK)");
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	log_info("smtp sandbox selftest kill=survived fd=%d", fd);
	if (fd != -1)
		close(fd);
}

void
sandbox_selftest(const char *path)
{
	char b1[32], b2[32], b3[32];
	int fd, open_err, exec_err, fork_err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	open_err = fd == -1 ? errno : 0;
	if (fd != -1)
		close(fd);
	exec_err = try_exec(&fork_err);
	log_info("smtp sandbox selftest open=%s exec=%s fork=%s file=%s",
		 errname(open_err, b1, sizeof(b1)), errname(exec_err, b2, sizeof(b2)),
		 errname(fork_err, b3, sizeof(b3)), path);
}
