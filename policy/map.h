/* SPDX-License-Identifier: GPL-3.0-or-later */
/* map.h -- one string map: open addressing on mn_hash, keys held by reference */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * A map from byte strings to non-NULL pointers.  Keys are not copied: a key
 * must stay unchanged and alive while it is in the map (it is usually a
 * member of the value).  Linear probing, capacity a power of two, grown to
 * keep the load at most one half; nothing is ever removed one by one (a map
 * is built, read, and freed or cleared whole).  Zero-initialize, or
 * mn_map_init() to size it for n entries at once.  Not thread-safe for
 * writers; any number of readers once built.
 */
typedef struct mn_map_slot {
	const char *key;		/* NULL: empty */
	uint32_t len;
	uint32_t hash;			/* low bits of mn_hash (a cheap first compare) */
	void *val;
} mn_map_slot_t;

typedef struct mn_map {
	mn_map_slot_t *slot;
	size_t cap;			/* 0 or a power of two */
	size_t n;			/* entries */
} mn_map_t;

int mn_map_init(mn_map_t *m, size_t n);		/* MN_OK or MN_ENOMEM */
void mn_map_free(mn_map_t *m);			/* frees the table, not keys or values */
void *mn_map_get(const mn_map_t *m, const char *key, size_t len);	/* NULL: absent */
void *mn_map_gets(const mn_map_t *m, const char *key);	/* NUL-terminated key */
/*
 * The value slot of key, added (holding NULL) when absent: the caller stores
 * a non-NULL value into it at once.  NULL on ENOMEM (the map unchanged).
 */
void **mn_map_put(mn_map_t *m, const char *key, size_t len);
/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slot[i].key) ... */
