/* SPDX-License-Identifier: ISC */
/*
 * banset - banned networks with an end time (see banset.h).
 */
#include "guard/banset.h"

#include <stdlib.h>

#include "lib/map.h"
#include "lib/util.h"

struct banset {
	struct map *bans;     /* canonical "net/prefix" -> uint64_t *until */
	uint32_t v4[33];      /* bans per IPv4 prefix length */
	uint32_t v6[129];     /* bans per IPv6 prefix length */
};

static uint32_t *
per_prefix(struct banset *b, const struct cidr *net)
{
	return net->family == AF_INET ? &b->v4[net->prefix] : &b->v6[net->prefix];
}

struct banset *
banset_new(void)
{
	struct banset *b = xcalloc(1, sizeof(*b));

	b->bans = map_new();
	return b;
}

static void
free_val(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

void
banset_free(struct banset *b)
{
	if (b == NULL)
		return;
	map_each(b->bans, free_val, NULL);
	map_free(b->bans);
	free(b);
}

void
banset_put(struct banset *b, const struct cidr *net, uint64_t until)
{
	char key[NET_ADDRSTRLEN + 8];
	uint64_t *v;

	net_cidr_format(net, key, sizeof(key));
	v = map_get(b->bans, key);
	if (v == NULL) {
		v = xmalloc(sizeof(*v));
		map_put(b->bans, key, v);
		(*per_prefix(b, net))++;
	}
	*v = until;
}

bool
banset_del(struct banset *b, const struct cidr *net)
{
	char key[NET_ADDRSTRLEN + 8];
	uint64_t *v;

	net_cidr_format(net, key, sizeof(key));
	v = map_del(b->bans, key);
	if (v == NULL)
		return false;
	free(v);
	(*per_prefix(b, net))--;
	return true;
}

uint64_t
banset_match(struct banset *b, const struct sockaddr *sa, uint64_t now)
{
	char key[NET_ADDRSTRLEN + 8];
	struct cidr net;
	uint64_t best = 0, *v;
	unsigned p, bits;
	uint32_t *counts;

	if (map_count(b->bans) == 0 || net_cidr_of(sa, 128, &net) == -1)
		return 0;
	bits = net.family == AF_INET ? 32 : 128;
	counts = net.family == AF_INET ? b->v4 : b->v6;
	for (p = 0; p <= bits; p++) {
		if (counts[p] == 0)
			continue;
		net_cidr_of(sa, p, &net);
		net_cidr_format(&net, key, sizeof(key));
		v = map_get(b->bans, key);
		if (v == NULL)
			continue;
		if (*v <= now) {
			banset_del(b, &net);
			continue;
		}
		if (*v > best)
			best = *v;
	}
	return best;
}

size_t
banset_count(const struct banset *b)
{
	return map_count(b->bans);
}

struct each_ctx {
	void (*fn)(const char *, uint64_t, void *);
	void *arg;
};

static void
each_one(const char *key, void *val, void *arg)
{
	struct each_ctx *c = arg;

	c->fn(key, *(uint64_t *)val, c->arg);
}

void
banset_each(const struct banset *b, void (*fn)(const char *net, uint64_t until, void *arg),
	    void *arg)
{
	struct each_ctx c = {fn, arg};

	map_each(b->bans, each_one, &c);
}
