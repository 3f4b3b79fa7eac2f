/* SPDX-License-Identifier: GPL-3.0-or-later */
/* map.c -- one string map: open addressing on mn_hash, keys held by reference */
#include "policy/map.h"

#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"

int mn_map_init(mn_map_t *m, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	mn_map_slot_t *s = calloc(cap, sizeof(*s));
	if (s == NULL)
		return MN_ENOMEM;
	free(m->slot);
	m->slot = s;
	m->cap = cap;
	m->n = 0;
	return MN_OK;
}

void mn_map_free(mn_map_t *m)
{
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}

static size_t probe(const mn_map_t *m, const char *key, size_t len, uint32_t h)
{
	size_t j = h & (m->cap - 1);
	for (;;) {
		const mn_map_slot_t *s = &m->slot[j];
		if (s->key == NULL ||
		    (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
			return j;
		j = (j + 1) & (m->cap - 1);
	}
}

void *mn_map_get(const mn_map_t *m, const char *key, size_t len)
{
	if (m->cap == 0)
		return NULL;
	uint32_t h = (uint32_t)mn_hash(MN_HASH_INIT, key, len);
	return m->slot[probe(m, key, len, h)].val;
}

void *mn_map_gets(const mn_map_t *m, const char *key)
{
	return mn_map_get(m, key, strlen(key));
}

static int grow(mn_map_t *m)
{
	size_t cap = m->cap != 0 ? m->cap * 2 : 16;
	mn_map_slot_t *s = calloc(cap, sizeof(*s));
	if (s == NULL)
		return MN_ENOMEM;
	mn_map_t bigger = { s, cap, m->n };
	for (size_t i = 0; i < m->cap; i++) {
		const mn_map_slot_t *o = &m->slot[i];
		if (o->key != NULL)
			s[probe(&bigger, o->key, o->len, o->hash)] = *o;
	}
	free(m->slot);
	*m = bigger;
	return MN_OK;
}

void **mn_map_put(mn_map_t *m, const char *key, size_t len)
{
	if (len > UINT32_MAX)
		return NULL;
	if ((m->n + 1) * 2 > m->cap && grow(m) != MN_OK)
		return NULL;
	uint32_t h = (uint32_t)mn_hash(MN_HASH_INIT, key, len);
	mn_map_slot_t *s = &m->slot[probe(m, key, len, h)];
	if (s->key == NULL) {
		s->key = key;
		s->len = (uint32_t)len;
		s->hash = h;
		s->val = NULL;
		m->n++;
	}
	return &s->val;
}
