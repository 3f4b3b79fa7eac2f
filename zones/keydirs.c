/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keydirs.c -- the DNSSEC key directories' states kept while a watch on them reports nothing */
#include "zones/keydirs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/map.h"

/*
 * An entry lives as long as the process (the map removes nothing): one per
 * key directory ever watched.  gen moves at every start, stop and event of its
 * watch, so a state looked at before an event is never kept after it
 * (keydirs_put compares the ticket handed out before the look).
 */
typedef struct entry {
	char *path;
	uint64_t gen;
	bool watched, has;
	int64_t f[8];
} entry_t;

static struct {
	pthread_mutex_t lock;
	mn_map_t map;
	uint64_t next;		/* the last gen handed out */
	uint64_t watched, hits;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

bool keydirs_get(const char *path, int64_t f[8], uint64_t *gen)
{
	bool hit = false;
	pthread_mutex_lock(&g.lock);
	entry_t *e = g.map.n > 0 ? mn_map_gets(&g.map, path) : NULL;
	*gen = e != NULL && e->watched ? e->gen : 0;
	if (e != NULL && e->watched && e->has) {
		memcpy(f, e->f, sizeof(e->f));
		g.hits++;
		hit = true;
	}
	pthread_mutex_unlock(&g.lock);
	return hit;
}

void keydirs_put(const char *path, uint64_t gen, const int64_t f[8])
{
	if (gen == 0)
		return;
	pthread_mutex_lock(&g.lock);
	entry_t *e = mn_map_gets(&g.map, path);
	if (e != NULL && e->watched && e->gen == gen) {
		memcpy(e->f, f, sizeof(e->f));
		e->has = true;
	}
	pthread_mutex_unlock(&g.lock);
}

/* path's entry, made when absent; NULL on ENOMEM.  Lock held. */
static entry_t *entry_locked(const char *path)
{
	entry_t *e = mn_map_gets(&g.map, path);
	if (e != NULL)
		return e;
	e = calloc(1, sizeof(*e));
	char *p = e != NULL ? strdup(path) : NULL;
	void **slot = p != NULL ? mn_map_put(&g.map, p, strlen(p)) : NULL;
	if (slot == NULL) {
		free(p);
		free(e);
		return NULL;
	}
	e->path = p;
	*slot = e;
	return e;
}

void keydirs_watch(const char *path, bool on)
{
	pthread_mutex_lock(&g.lock);
	entry_t *e = on ? entry_locked(path) : (g.map.n > 0 ? mn_map_gets(&g.map, path) : NULL);
	if (e != NULL) {	/* (ENOMEM: not watched here, looked at every time) */
		if (e->watched != on)
			g.watched = on ? g.watched + 1 : g.watched - 1;
		e->watched = on;
		e->has = false;
		e->gen = ++g.next;
	}
	pthread_mutex_unlock(&g.lock);
}

void keydirs_event(const char *path)
{
	pthread_mutex_lock(&g.lock);
	entry_t *e = g.map.n > 0 ? mn_map_gets(&g.map, path) : NULL;
	if (e != NULL) {
		e->has = false;
		e->gen = ++g.next;
	}
	pthread_mutex_unlock(&g.lock);
}

void keydirs_counts(uint64_t *watched, uint64_t *hits)
{
	pthread_mutex_lock(&g.lock);
	*watched = g.watched;
	*hits = g.hits;
	pthread_mutex_unlock(&g.lock);
}
