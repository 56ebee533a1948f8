/* SPDX-License-Identifier: ISC */
/*
 * map - a string-keyed hash table (keys copied, values borrowed).
 *
 * SECURITY: keys may come from the network (client addresses); the hash is
 * keyed with a per-process random seed so collisions cannot be forced.
 */
#ifndef POSTERN_MAP_H
#define POSTERN_MAP_H

#include <stddef.h>

struct map;

struct map *map_new(void);
/* map_free - frees the table and keys, not the values. */
void map_free(struct map *m);
void *map_get(const struct map *m, const char *key);
/* map_put - insert or replace; returns the previous value or NULL. */
void *map_put(struct map *m, const char *key, void *val);
/* map_del - remove; returns the value or NULL. */
void *map_del(struct map *m, const char *key);
size_t map_count(const struct map *m);
/* map_each - call fn for every entry; fn must not modify the map. */
void map_each(const struct map *m, void (*fn)(const char *key, void *val, void *arg), void *arg);

#endif
