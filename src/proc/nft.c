/* SPDX-License-Identifier: ISC */
/*
 * nft - bans into nftables sets (see nft.h).
 */
#include "proc/nft.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/net.h"
#include "lib/util.h"

#define NFT_PATH "/usr/sbin/nft"
/* nft gets this long before it is killed (the parent waits for it). */
#define NFT_TIMEOUT_MS 3000

/* run - nft with argv; its stderr, if it fails, into the log. */
static int
run(char *const argv[])
{
	int pipefd[2], st = 0, waited = 0;
	char err[512];
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) == -1)
		return -1;
	pid = fork();
	if (pid == -1) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null == -1 || dup2(null, 0) == -1 || dup2(null, 1) == -1 ||
		    dup2(pipefd[1], 2) == -1)
			_exit(127);
		execv(NFT_PATH, argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (waited >= NFT_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
		waited += 10;
	}
	n = read(pipefd[0], err, sizeof(err) - 1);
	close(pipefd[0]);
	err[n > 0 ? n : 0] = '\0';
	err[strcspn(err, "\n")] = '\0';
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	log_warnx("parent nft-failed command=\"%s %s\" status=%d error=\"%s\"", argv[1], argv[2],
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1, err);
	return -1;
}

/* element - the set for the family of net and the element text: a host as
 * a bare address, a network with its prefix. -1 if net is not one. */
static int
element(const char *setspec, const char *net, char *family, char *table, char *set,
	size_t wordsz, char *elem, size_t elemsz)
{
	char ip[NET_ADDRSTRLEN];
	struct cidr c;

	if (net_parse_cidr(net, &c) == -1 ||
	    sscanf(setspec, "%15s %63s %62s", family, table, set) != 3)
		return -1;
	if (c.family == AF_INET6) {
		size_t len = strlen(set);

		if (len + 2 > wordsz)
			return -1;
		set[len] = '6';
		set[len + 1] = '\0';
	}
	net_cidr_format(&c, elem, elemsz);
	if (net_cidr_is_host(&c)) {
		str_copy(ip, elem, sizeof(ip));
		ip[strcspn(ip, "/")] = '\0';
		str_copy(elem, ip, elemsz);
	}
	return 0;
}

int
nft_ban(const char *setspec, const char *net, uint64_t until)
{
	char family[16], table[64], set[64], elem[NET_ADDRSTRLEN + 8], timeout[32];
	uint64_t now = (uint64_t)time(NULL);

	if (element(setspec, net, family, table, set, sizeof(set), elem, sizeof(elem)) == -1)
		return -1;
	if (until > now && until - now < 10 * 365 * 86400ull) {
		char *argv[] = {"nft", "add", "element", family, table, set, "{", elem, "timeout",
				timeout, "}", NULL};

		snprintf(timeout, sizeof(timeout), "%llus", (unsigned long long)(until - now));
		return run(argv);
	} else {
		char *argv[] = {"nft", "add", "element", family, table, set, "{", elem, "}", NULL};

		return run(argv);
	}
}

int
nft_unban(const char *setspec, const char *net)
{
	char family[16], table[64], set[64], elem[NET_ADDRSTRLEN + 8];
	char *argv[] = {"nft", "delete", "element", family, table, set, "{", elem, "}", NULL};

	if (element(setspec, net, family, table, set, sizeof(set), elem, sizeof(elem)) == -1)
		return -1;
	return run(argv);
}
