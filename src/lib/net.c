/* SPDX-License-Identifier: ISC */
/*
 * net - address parsing and socket helpers.
 *
 * SECURITY: numeric addresses only: no name resolution happens here.
 */
#include "lib/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

int
net_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

int
net_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[NET_ADDRSTRLEN];
	const char *colon, *hs = s;
	size_t hl;
	uint64_t port;

	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		hs = s + 1;
		hl = (size_t)(end - hs);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - s);
		if (memchr(s, ':', hl) != NULL)
			return -1; /* IPv6 needs brackets */
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (parse_u64(colon + 1, 65535, &port) == -1 || port == 0)
		return -1;
	if (net_parse_ip(host, ss, len) == -1)
		return -1;
	if (*s == '[' && ss->ss_family != AF_INET6)
		return -1;
	net_set_port((struct sockaddr *)ss, (uint16_t)port);
	return 0;
}

static bool
is_v4mapped(const uint8_t *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, mapped, sizeof(mapped)) == 0;
}

int
net_parse_cidr(const char *s, struct cidr *c)
{
	char host[NET_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len;
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;
	unsigned bits, i;

	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (net_parse_ip(host, &ss, &len) == -1)
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = ss.ss_family;
	if (c->family == AF_INET) {
		memcpy(c->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		bits = 32;
	} else {
		memcpy(c->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		bits = 128;
	}
	if (slash != NULL) {
		if (parse_u64(slash + 1, bits, &prefix) == -1)
			return -1;
	} else {
		prefix = bits;
	}
	c->prefix = (unsigned)prefix;
	for (i = c->prefix; i < bits; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8)))
			return -1;
	/* An IPv4-mapped network is an IPv4 network: clients are matched as
	 * IPv4 (net_cidr_match folds mapped addresses too). */
	if (c->family == AF_INET6 && c->prefix >= 96 && is_v4mapped(c->addr)) {
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->family = AF_INET;
		c->prefix -= 96;
	}
	return 0;
}

/* sa_bytes - the address bytes of sa, IPv4-mapped IPv6 folded to IPv4. */
static const uint8_t *
sa_bytes(const struct sockaddr *sa, int *family)
{
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (is_v4mapped(b)) {
			*family = AF_INET;
			return b + 12;
		}
		*family = AF_INET6;
		return b;
	}
	*family = AF_UNSPEC;
	return NULL;
}

bool
net_cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	int family;
	const uint8_t *b = sa_bytes(sa, &family);
	unsigned full, rest;

	if (b == NULL || family != c->family)
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(b, c->addr, full) != 0)
		return false;
	if (rest != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((b[full] & mask) != (c->addr[full] & mask))
			return false;
	}
	return true;
}

int
net_cidr_of(const struct sockaddr *sa, unsigned prefix, struct cidr *c)
{
	int family;
	const uint8_t *b = sa_bytes(sa, &family);
	unsigned bits, i;

	if (b == NULL)
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = family;
	bits = family == AF_INET ? 32 : 128;
	c->prefix = prefix < bits ? prefix : bits;
	memcpy(c->addr, b, bits / 8);
	for (i = c->prefix; i < bits; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	return 0;
}

const char *
net_cidr_format(const struct cidr *c, char *out, size_t outsz)
{
	char ip[NET_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, ip, sizeof(ip)) == NULL)
		str_copy(ip, "unknown", sizeof(ip));
	snprintf(out, outsz, "%s/%u", ip, c->prefix);
	return out;
}

bool
net_cidr_is_host(const struct cidr *c)
{
	return c->prefix == (c->family == AF_INET ? 32u : 128u);
}

const char *
net_ntop(const struct sockaddr *sa, char *out, size_t outsz)
{
	const void *a;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		a = NULL;
	if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)outsz) == NULL)
		str_copy(out, "unknown", outsz);
	return out;
}

const char *
net_format(const struct sockaddr *sa, char *out, size_t outsz)
{
	char ip[NET_ADDRSTRLEN];

	net_ntop(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET6)
		snprintf(out, outsz, "[%s]:%u", ip, net_port(sa));
	else
		snprintf(out, outsz, "%s:%u", ip, net_port(sa));
	return out;
}

uint16_t
net_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void
net_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

int
net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

int
net_listen(const struct sockaddr *sa, socklen_t len, int backlog)
{
	int fd, one = 1, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	if (bind(fd, sa, len) == -1 || listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
