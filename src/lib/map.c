/* SPDX-License-Identifier: ISC */
/*
 * map - chained hash table with string keys and a random hash seed.
 *
 * SECURITY: see map.h.
 */
#include "lib/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/util.h"

struct ent {
	struct ent *next;
	char *key;
	void *val;
};

struct map {
	struct ent **b;
	size_t nb, n;
	uint64_t seed;
};

static uint64_t
hash(const struct map *m, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ m->seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

struct map *
map_new(void)
{
	struct map *m = xcalloc(1, sizeof(*m));

	m->nb = 64;
	m->b = xcalloc(m->nb, sizeof(*m->b));
	if (getrandom(&m->seed, sizeof(m->seed), 0) != sizeof(m->seed))
		m->seed = (uint64_t)(uintptr_t)m ^ now_ms();
	return m;
}

void
map_free(struct map *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nb; i++) {
		struct ent *e = m->b[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e->key);
			free(e);
		}
	}
	free(m->b);
	free(m);
}

static struct ent **
find(const struct map *m, const char *key)
{
	struct ent **e = &m->b[hash(m, key) & (m->nb - 1)];

	while (*e != NULL && strcmp((*e)->key, key) != 0)
		e = &(*e)->next;
	return e;
}

static void
grow(struct map *m)
{
	struct ent **old = m->b;
	size_t onb = m->nb, i;

	m->nb *= 2;
	m->b = xcalloc(m->nb, sizeof(*m->b));
	for (i = 0; i < onb; i++) {
		struct ent *e = old[i], *next;

		for (; e != NULL; e = next) {
			size_t h = hash(m, e->key) & (m->nb - 1);

			next = e->next;
			e->next = m->b[h];
			m->b[h] = e;
		}
	}
	free(old);
}

void *
map_get(const struct map *m, const char *key)
{
	struct ent *e = *find(m, key);

	return e ? e->val : NULL;
}

void *
map_put(struct map *m, const char *key, void *val)
{
	struct ent **e = find(m, key), *n;
	void *old;

	if (*e != NULL) {
		old = (*e)->val;
		(*e)->val = val;
		return old;
	}
	n = xcalloc(1, sizeof(*n));
	n->key = xstrdup(key);
	n->val = val;
	*e = n;
	if (++m->n > m->nb)
		grow(m);
	return NULL;
}

void *
map_del(struct map *m, const char *key)
{
	struct ent **e = find(m, key), *d = *e;
	void *val;

	if (d == NULL)
		return NULL;
	*e = d->next;
	val = d->val;
	free(d->key);
	free(d);
	m->n--;
	return val;
}

size_t
map_count(const struct map *m)
{
	return m->n;
}

void
map_each(const struct map *m, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < m->nb; i++)
		for (struct ent *e = m->b[i]; e != NULL; e = e->next)
			fn(e->key, e->val, arg);
}
