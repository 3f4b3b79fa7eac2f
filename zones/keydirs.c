/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keydirs.c -- the DNSSEC key directories' states kept while a watch on them reports nothing */
#include "zones/keydirs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/map.h"

/*
 * Entries, keyed by zone name, live until the table is dropped for another
 * state_dir (the map removes nothing one by one): one per key directory ever
 * watched.  gen is the sequence number of the last start, stop or event of its
 * watch.
 */
typedef struct entry {
	char *zone;
	uint64_t gen;
	bool watched, has;
	int64_t f[8];
} entry_t;

static struct {
	pthread_mutex_t lock;
	char *root;		/* STATE_DIR/dnssec of the entries, or NULL */
	size_t rootlen;
	mn_map_t map;
	uint64_t seq;		/* the last gen handed out */
	uint64_t watched, hits;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Is state_dir the table's (root == state_dir + "/dnssec")? Lock held. */
static bool same_root(const char *state_dir)
{
	size_t sl = strlen(state_dir);
	return g.root != NULL && sl + 7 == g.rootlen && memcmp(g.root, state_dir, sl) == 0 &&
	       memcmp(g.root + sl, "/dnssec", 7) == 0;
}

/* The entry of state_dir's zone, or NULL.  Lock held. */
static entry_t *find(const char *state_dir, const char *zone)
{
	return g.map.n > 0 && same_root(state_dir) ? mn_map_gets(&g.map, zone) : NULL;
}

/*
 * The entry of path (ROOT/ZONE), made when make and absent (a path under
 * another root drops the table first); NULL when absent or on ENOMEM.  Lock held.
 */
static entry_t *find_path(const char *path, bool make)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path || slash[1] == '\0')
		return NULL;
	size_t rl = (size_t)(slash - path);
	const char *zone = slash + 1;
	if (g.root == NULL || rl != g.rootlen || memcmp(g.root, path, rl) != 0) {
		if (!make)
			return NULL;
		char *root = strndup(path, rl);
		if (root == NULL)
			return NULL;
		for (size_t i = 0; i < g.map.cap; i++) {
			entry_t *e = g.map.slot[i].val;
			if (g.map.slot[i].key != NULL) {
				free(e->zone);
				free(e);
			}
		}
		mn_map_free(&g.map);
		memset(&g.map, 0, sizeof(g.map));
		free(g.root);
		g.root = root;
		g.rootlen = rl;
		g.watched = 0;
	}
	entry_t *e = g.map.n > 0 ? mn_map_gets(&g.map, zone) : NULL;
	if (e != NULL || !make)
		return e;
	e = calloc(1, sizeof(*e));
	char *z = e != NULL ? strdup(zone) : NULL;
	void **slot = z != NULL ? mn_map_put(&g.map, z, strlen(z)) : NULL;
	if (slot == NULL) {
		free(z);
		free(e);
		return NULL;
	}
	e->zone = z;
	*slot = e;
	return e;
}

bool keydirs_get(const char *state_dir, const char *zone, int64_t f[8], uint64_t *gen)
{
	bool hit = false;
	pthread_mutex_lock(&g.lock);
	entry_t *e = find(state_dir, zone);
	*gen = e != NULL && e->watched ? e->gen : 0;
	if (e != NULL && e->watched && e->has) {
		memcpy(f, e->f, sizeof(e->f));
		g.hits++;
		hit = true;
	}
	pthread_mutex_unlock(&g.lock);
	return hit;
}

void keydirs_put(const char *state_dir, const char *zone, uint64_t gen, const int64_t f[8])
{
	if (gen == 0)
		return;
	pthread_mutex_lock(&g.lock);
	entry_t *e = find(state_dir, zone);
	if (e != NULL && e->watched && e->gen == gen) {
		memcpy(e->f, f, sizeof(e->f));
		e->has = true;
	}
	pthread_mutex_unlock(&g.lock);
}

/* e moved: its state dropped, a new gen. Lock held. */
static void moved(entry_t *e)
{
	e->has = false;
	e->gen = ++g.seq;
}

void keydirs_watch(const char *path, bool on)
{
	pthread_mutex_lock(&g.lock);
	entry_t *e = find_path(path, on);
	if (e != NULL) {	/* (ENOMEM: not watched here, looked at every time) */
		if (e->watched != on)
			g.watched = on ? g.watched + 1 : g.watched - 1;
		e->watched = on;
		moved(e);
	}
	pthread_mutex_unlock(&g.lock);
}

void keydirs_event(const char *path)
{
	pthread_mutex_lock(&g.lock);
	entry_t *e = find_path(path, false);
	if (e != NULL)
		moved(e);
	pthread_mutex_unlock(&g.lock);
}

void keydirs_event_all(void)
{
	pthread_mutex_lock(&g.lock);
	uint64_t seq = ++g.seq;
	for (size_t i = 0; i < g.map.cap; i++) {
		entry_t *e = g.map.slot[i].val;
		if (g.map.slot[i].key != NULL) {
			e->has = false;
			e->gen = seq;
		}
	}
	pthread_mutex_unlock(&g.lock);
}

void keydirs_forget(const char *state_dir, const char *zone)
{
	pthread_mutex_lock(&g.lock);
	entry_t *e = find(state_dir, zone);
	if (e != NULL)
		moved(e);
	pthread_mutex_unlock(&g.lock);
}

uint64_t keydirs_seq(const char *state_dir, const char *const *zones, size_t n)
{
	pthread_mutex_lock(&g.lock);
	uint64_t seq = g.seq;
	for (size_t i = 0; seq != 0 && i < n; i++) {
		const entry_t *e = find(state_dir, zones[i]);
		if (e == NULL || !e->watched)
			seq = 0;
	}
	pthread_mutex_unlock(&g.lock);
	return seq;
}

bool keydirs_unchanged(const char *state_dir, const char *const *zones, size_t n, uint64_t seq)
{
	if (seq == 0)
		return false;
	pthread_mutex_lock(&g.lock);
	/* (every one was watched at seq: a stop since moved its gen past it) */
	bool same = g.seq == seq && same_root(state_dir);
	if (!same && same_root(state_dir)) {
		same = true;
		for (size_t i = 0; same && i < n; i++) {
			const entry_t *e = g.map.n > 0 ? mn_map_gets(&g.map, zones[i]) : NULL;
			same = e != NULL && e->watched && e->gen <= seq;
		}
	}
	pthread_mutex_unlock(&g.lock);
	return same;
}

void keydirs_counts(uint64_t *watched, uint64_t *hits)
{
	pthread_mutex_lock(&g.lock);
	*watched = g.watched;
	*hits = g.hits;
	pthread_mutex_unlock(&g.lock);
}
