/* SPDX-License-Identifier: ISC */
/*
 * net - socket addresses: "host:port" and "[v6]:port" parsing, CIDR
 * networks and matching, printing, and listening/connecting helpers.
 *
 * SECURITY: the parsers take config and CLI text; they are pure and reject
 * anything that is not a numeric address.
 */
#ifndef POSTERN_NET_H
#define POSTERN_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IP address with room for IPv6 and its printable form. */
#define NET_ADDRSTRLEN 64

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

/* net_parse_hostport - "1.2.3.4:25" or "[::1]:25" (numeric only). */
int net_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* net_parse_ip - a bare numeric IPv4 or IPv6 address, port 0. */
int net_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* net_parse_cidr - "10.0.0.0/8", "::1/128", or a bare address (full prefix).
 * Host bits beyond the prefix are an error, so typos are noticed. */
int net_parse_cidr(const char *s, struct cidr *c);
/* net_cidr_match - is the address (IPv4-mapped IPv6 counts as IPv4) in c? */
bool net_cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* net_cidr_of - the network of prefix bits around the address (IPv4-mapped
 * folded to IPv4; prefix clamped to the family's length). 0 or -1. */
int net_cidr_of(const struct sockaddr *sa, unsigned prefix, struct cidr *c);
/* net_cidr_format - "192.0.2.0/24", "2001:db8::/64" (always with a prefix). */
const char *net_cidr_format(const struct cidr *c, char *out, size_t outsz);
/* net_cidr_is_host - a single address (/32 or /128). */
bool net_cidr_is_host(const struct cidr *c);
/* net_ntop - printable address without port ("1.2.3.4", "::1"). */
const char *net_ntop(const struct sockaddr *sa, char *out, size_t outsz);
/* net_format - "1.2.3.4:25" or "[::1]:25". */
const char *net_format(const struct sockaddr *sa, char *out, size_t outsz);
uint16_t net_port(const struct sockaddr *sa);
void net_set_port(struct sockaddr *sa, uint16_t port);
/* net_listen - a non-blocking, close-on-exec listening TCP socket, or -1. */
int net_listen(const struct sockaddr *sa, socklen_t len, int backlog);
/* net_set_nonblock - make fd non-blocking; 0 or -1. */
int net_set_nonblock(int fd);

#endif
