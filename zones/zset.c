/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zset.c -- the immutable zone set: name table and pre-rendered wire answers */
#include "zones/zset.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "policy/pool.h"
#include "policy/wire.h"
#include "zones/sign.h"
#include "zones/zone_internal.h"

/*
 * One name: an owner, an apex or an empty non-terminal (nrrs == 0).  Its
 * records are z->rrs[first..first+nrrs) of its zone, sorted by type; each
 * RRset's records are one run in answer form (zone.h), served as they are.
 */
struct znode {
	const uint8_t *name;	/* lowercase wire name, in its zone's block */
	uint32_t hash;
	uint32_t zone;		/* index into zones->v */
	uint32_t first;		/* first record in the zone's rrs[] */
	uint16_t nrrs;
	uint8_t name_len;	/* at most 255 */
	uint8_t sig;		/* its first RRSIG: rrs[first + sig - 1]; 0: none (or too far) */
};

/* Where a zone's SOA RRSIGs are: z->rrs[first..first+count); count 0: the zone is unsigned. */
struct zsig {
	uint32_t first;
	uint16_t count;
};

struct zset {
	unsigned int refs;	/* __atomic builtins */
	zones_t *zones;
	struct znode *nodes;
	size_t nnodes, nodes_cap;
	uint32_t *table;	/* node index + 1; 0 = empty */
	size_t table_mask;
	/* nodes freed by a patch (name NULL), reused first: a list through .first */
	uint32_t free_head;	/* node index + 1; 0 = none */
	size_t nfree;
	/* a name of one zone found as a node of another (nested zones): never patched */
	bool shared_names;
	bool sorted;		/* zones->v in strict apex order (checked, or patched from a sorted set) */
	size_t reused;		/* zones whose names came from the previous set */
	struct zsig *zsig;	/* per zone (zones->v order): its SOA RRSIGs, for DO answers */
	/* patched: from which set (not held: only compared), what changed (zset_changes) */
	const zset_t *from;
	uint32_t *fresh, *gone;
	size_t nfresh, ngone;
};

/* FNV-1a over the (lowercase) wire name. */
static uint32_t name_hash(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	return h;
}

static const struct znode *find(const zset_t *zs, const uint8_t *name, size_t len, uint32_t h)
{
	size_t i = h & zs->table_mask;
	for (;;) {
		uint32_t v = zs->table[i];
		if (v == 0)
			return NULL;
		const struct znode *n = &zs->nodes[v - 1];
		if (n->hash == h && n->name_len == len &&
		    memcmp(n->name, name, len) == 0)
			return n;
		i = (i + 1) & zs->table_mask;
	}
}

static int table_grow(zset_t *zs)
{
	size_t size = zs->table_mask ? (zs->table_mask + 1) * 2 : 1024;
	uint32_t *t = calloc(size, sizeof(*t));
	if (t == NULL)
		return MN_ENOMEM;
	for (size_t k = 0; k < zs->nnodes; k++) {
		if (zs->nodes[k].name == NULL)
			continue;	/* freed by a patch */
		size_t i = zs->nodes[k].hash & (size - 1);
		while (t[i] != 0)
			i = (i + 1) & (size - 1);
		t[i] = (uint32_t)(k + 1);
	}
	free(zs->table);
	zs->table = t;
	zs->table_mask = size - 1;
	return MN_OK;
}

/* Puts node k into the table (linear probing). */
static void table_put(zset_t *zs, size_t k)
{
	size_t i = zs->nodes[k].hash & zs->table_mask;
	while (zs->table[i] != 0)
		i = (i + 1) & zs->table_mask;
	zs->table[i] = (uint32_t)(k + 1);
}

/*
 * Takes node k out of the table (backward-shift deletion: the entries after
 * it in its probe run move up, so every lookup still finds its node without
 * tombstones) and onto the free list.
 */
static void node_del(zset_t *zs, size_t k)
{
	size_t mask = zs->table_mask, i = zs->nodes[k].hash & mask;
	while (zs->table[i] != k + 1) {
		assert(zs->table[i] != 0);
		i = (i + 1) & mask;
	}
	for (size_t j = i;;) {
		j = (j + 1) & mask;
		uint32_t v = zs->table[j];
		if (v == 0)
			break;
		size_t home = zs->nodes[v - 1].hash & mask;
		/* v stays when its home slot lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		zs->table[i] = v;
		i = j;
	}
	zs->table[i] = 0;
	zs->nodes[k] = (struct znode){ .first = zs->free_head };
	zs->free_head = (uint32_t)(k + 1);
	zs->nfree++;
}

/*
 * Adds a name (no check for duplicates); *idx is the new node's index.  name
 * stays where it is (a zone's block): the node points at it.
 */
static int node_add(zset_t *zs, const uint8_t *name, size_t len, uint32_t h, uint32_t zone,
		    size_t *idx)
{
	if (zs->nnodes >= UINT32_MAX - 1)
		return MN_ERANGE;
	if ((zs->nnodes - zs->nfree + 1) * 4 > (zs->table_mask + 1) * 3) {	/* load <= 3/4 */
		int r = table_grow(zs);
		if (r < 0)
			return r;
	}
	if (zs->free_head != 0) {
		size_t k = zs->free_head - 1;
		zs->free_head = zs->nodes[k].first;
		zs->nfree--;
		zs->nodes[k] = (struct znode){ .name = name, .hash = h, .zone = zone, .name_len = (uint8_t)len };
		table_put(zs, k);
		*idx = k;
		return MN_OK;
	}
	if (zs->nnodes == zs->nodes_cap) {
		size_t cap = zs->nodes_cap ? zs->nodes_cap * 2 : 1024;
		struct znode *v = realloc(zs->nodes, cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		zs->nodes = v;
		zs->nodes_cap = cap;
	}
	struct znode *n = &zs->nodes[zs->nnodes];
	*n = (struct znode){ .name = name, .hash = h, .zone = zone, .name_len = (uint8_t)len };
	table_put(zs, zs->nnodes);
	*idx = zs->nnodes++;
	return MN_OK;
}

/* A finished zone's records of one owner share its bytes: the pointers match first. */
static bool same_owner(const zone_rr_t *a, const zone_rr_t *b)
{
	return a->owner == b->owner ||
	       (a->owner_len == b->owner_len && memcmp(a->owner, b->owner, a->owner_len) == 0);
}

/* Adds the empty non-terminals between owner (exclusive) and the apex (exclusive). */
static int add_ents(zset_t *zs, const uint8_t *owner, size_t len, size_t apex_len, uint32_t zi)
{
	size_t o = 0;
	for (;;) {
		o += owner[o] + 1u;	/* the parent */
		if (len - o <= apex_len)
			return MN_OK;
		uint32_t h = name_hash(owner + o, len - o);
		const struct znode *n = find(zs, owner + o, len - o, h);
		if (n != NULL) {
			if (n->zone == zi)
				return MN_OK;	/* its ancestors are there already */
			zs->shared_names = true;
			continue;
		}
		size_t idx;
		int r = node_add(zs, owner + o, len - o, h, zi, &idx);
		if (r < 0)
			return r;
	}
}

static int zone_add(zset_t *zs, const zone_t *z, uint32_t zi)
{
	if (!z->frozen || z->nrrs == 0 || z->rrs[0].type != ZONE_T_SOA ||
	    z->rrs[0].owner_len != z->apex_len)
		return MN_EINVAL;
	int r;
	for (size_t i = 0; i < z->nrrs;) {
		const zone_rr_t *rr = &z->rrs[i];
		if (rr->owner_len < z->apex_len ||
		    memcmp(rr->owner + rr->owner_len - z->apex_len, z->apex, z->apex_len) != 0)
			return MN_EINVAL;
		size_t j = i + 1;
		while (j < z->nrrs && same_owner(&z->rrs[j], rr))
			j++;
		/* the owner's node: new, or an empty non-terminal taken over */
		uint32_t h = name_hash(rr->owner, rr->owner_len);
		struct znode *n = (struct znode *)find(zs, rr->owner, rr->owner_len, h);
		if (n != NULL && n->nrrs > 0)
			return MN_EINVAL;	/* data for one name in two places */
		if (n != NULL && n->zone != zi)
			zs->shared_names = true;	/* another zone's empty non-terminal */
		if (j - i > UINT16_MAX)
			return MN_ERANGE;
		if (n == NULL) {
			size_t idx;
			r = node_add(zs, rr->owner, rr->owner_len, h, zi, &idx);
			if (r < 0)
				return r;
			n = &zs->nodes[idx];
		}
		n->zone = zi;
		n->first = (uint32_t)i;
		n->nrrs = (uint16_t)(j - i);
		n->sig = 0;
		for (size_t k = i; k < j && k - i < UINT8_MAX - 1; k++)
			if (rr[k - i].type == ZONE_T_RRSIG) {
				n->sig = (uint8_t)(k - i + 1);
				break;
			}
		r = add_ents(zs, rr->owner, rr->owner_len, z->apex_len, zi);
		if (r < 0)
			return r;
		i = j;
	}
	return MN_OK;
}

/*
 * Sizes the node array and the table for the owners counted in one pass
 * (empty non-terminals may still grow them; zset_new trims the array).
 */
static int presize(zset_t *zs, const zones_t *zones)
{
	size_t owners = 0;
	for (size_t i = 0; i < zones->n; i++) {
		const zone_t *z = zones->v[i];
		for (size_t k = 0; k < z->nrrs; k++)
			owners += k == 0 || !same_owner(&z->rrs[k], &z->rrs[k - 1]);
	}
	zs->nodes = malloc((owners ? owners : 1) * sizeof(*zs->nodes));
	if (zs->nodes == NULL)
		return MN_ENOMEM;
	zs->nodes_cap = owners ? owners : 1;
	size_t size = 1024;
	while (size * 3 < owners * 4)
		size *= 2;
	zs->table = calloc(size, sizeof(*zs->table));
	if (zs->table == NULL)
		return MN_ENOMEM;
	zs->table_mask = size - 1;
	return MN_OK;
}

/* Gives back what growing left unused (empty non-terminals double the array). */
static void trim(zset_t *zs)
{
	if (zs->nnodes > 0 && zs->nnodes < zs->nodes_cap) {
		struct znode *v = realloc(zs->nodes, zs->nnodes * sizeof(*v));
		if (v != NULL) {
			zs->nodes = v;
			zs->nodes_cap = zs->nnodes;
		}
	}
}

/*
 * Where the zone's SOA RRSIGs are: the apex's records come first (the SOA,
 * then the others by type; zone.c), so a scan from the start finds them.
 */
static struct zsig zsig_of(const zone_t *z)
{
	const zone_rr_t *soa = &z->rrs[0];
	size_t k = 1;
	while (k < z->nrrs && same_owner(&z->rrs[k], soa) &&
	       (z->rrs[k].type < ZONE_T_RRSIG ||
		(z->rrs[k].type == ZONE_T_RRSIG && z->rrs[k].rdlen >= 2 && mn_get16(z->rrs[k].rdata) < ZONE_T_SOA)))
		k++;
	size_t e = k;
	while (e < z->nrrs && same_owner(&z->rrs[e], soa) && z->rrs[e].type == ZONE_T_RRSIG &&
	       z->rrs[e].rdlen >= 2 && mn_get16(z->rrs[e].rdata) == ZONE_T_SOA && e - k < UINT16_MAX)
		e++;
	return (struct zsig){ .first = (uint32_t)k, .count = (uint16_t)(e - k) };
}

/*
 * The node array and hash table of the last set freed, kept for the next
 * patch's copy (copy_of): memory already in use, not fresh pages faulted in
 * at every reload (the two sets' arrays live during a reload anyway; between
 * reloads, one set's more than before).
 */
static struct {
	pthread_mutex_t lock;
	struct znode *nodes;
	size_t nodes_cap;
	uint32_t *table;
	size_t table_size;
	struct zsig *zsig;
	size_t nzsig;
} spare = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* zs's arrays into the spare (those there before go); zs's pointers cleared. */
static void spare_put(zset_t *zs)
{
	pthread_mutex_lock(&spare.lock);
	struct znode *nodes = spare.nodes;
	uint32_t *table = spare.table;
	struct zsig *zsig = spare.zsig;
	spare.zsig = zs->zsig;
	spare.nzsig = zs->zsig != NULL && zs->zones != NULL ? zs->zones->n : 0;
	spare.nodes = zs->nodes;
	spare.nodes_cap = zs->nodes != NULL ? zs->nodes_cap : 0;
	spare.table = zs->table;
	spare.table_size = zs->table != NULL ? zs->table_mask + 1 : 0;
	pthread_mutex_unlock(&spare.lock);
	zs->nodes = NULL;
	zs->table = NULL;
	zs->zsig = NULL;
	free(nodes);
	free(table);
	free(zsig);
}

/* The spare's zsig array if it has n entries, else NULL. */
static struct zsig *spare_zsig(size_t n)
{
	pthread_mutex_lock(&spare.lock);
	struct zsig *v = NULL;
	if (spare.zsig != NULL && spare.nzsig == n) {
		v = spare.zsig;
		spare.zsig = NULL;
	}
	pthread_mutex_unlock(&spare.lock);
	return v;
}

/* The spare's node array if it holds ncap nodes, its table if it has tsize slots (each NULL otherwise). */
static void spare_take(size_t ncap, size_t tsize, struct znode **nodes, size_t *nodes_cap, uint32_t **table)
{
	pthread_mutex_lock(&spare.lock);
	*nodes = NULL;
	*table = NULL;
	if (spare.nodes != NULL && spare.nodes_cap >= ncap) {
		*nodes = spare.nodes;
		*nodes_cap = spare.nodes_cap;
		spare.nodes = NULL;
	}
	if (spare.table != NULL && spare.table_size == tsize) {
		*table = spare.table;
		spare.table = NULL;
	}
	pthread_mutex_unlock(&spare.lock);
}

/* The zones' zsig entries: each zone's own, or (map not NULL) prev's for a zone kept. */
static int zsig_fill(zset_t *zs, const zones_t *zones, const zset_t *prev, const uint32_t *map)
{
	if (map != NULL)	/* (a patch: the spare's, when the count is the same) */
		zs->zsig = spare_zsig(zones->n ? zones->n : 1);
	if (zs->zsig == NULL)
		zs->zsig = malloc((zones->n ? zones->n : 1) * sizeof(*zs->zsig));
	if (zs->zsig == NULL)
		return MN_ENOMEM;
	bool *done = NULL;
	if (map != NULL && (done = calloc(zones->n ? zones->n : 1, sizeof(*done))) == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; map != NULL && i < prev->zones->n; i++)
		if (map[i] != 0) {
			zs->zsig[map[i] - 1] = prev->zsig[i];
			done[map[i] - 1] = true;
		}
	for (size_t i = 0; i < zones->n; i++)
		if (done == NULL || !done[i])
			zs->zsig[i] = zsig_of(zones->v[i]);
	free(done);
	return MN_OK;
}

static void zset_free(zset_t *zs)
{
	if (zs == NULL)
		return;
	spare_put(zs);	/* (before the zones: it reads their count) */
	zones_free(zs->zones);
	free(zs->fresh);
	free(zs->gone);
	free(zs);
}

/* The names of every zone, one zone after the other (the table sized for the owners first). */
static int build_whole(zset_t *zs, const zones_t *zones)
{
	int r = presize(zs, zones);
	for (size_t i = 0; r == MN_OK && i < zones->n; i++)
		r = zone_add(zs, zones->v[i], (uint32_t)i);
	if (r == MN_OK)
		r = zsig_fill(zs, zones, NULL, NULL);
	return r;
}

/*
 * ---- the first table on several threads ----
 *
 * At a cold start the table takes every name of every zone (400,000 at
 * 100,000 domains), a cache miss in the table each, on one thread while the
 * other core idles.  build_split() does it in parts: (1) each part of the
 * zones counts its names (each owner, and every name between an owner and
 * its apex: the empty non-terminals it may need) and finds its zones' SOA
 * signatures, (2) writes them as nodes at its place in one array, in the
 * order zone_add() meets them, (3) each part of the table takes the nodes
 * whose hash starts in its slot range, in node order, probing no further
 * than the range's end (those it would probe past are left for (4), on one
 * thread, after the others), and (4) drops the nodes found twice (an empty
 * non-terminal of a zone met again, or one its owner takes over).  A name's
 * nodes all start at one slot, so one part sees them all, in order: each
 * decides as zone_add() would.  What zone_add() would refuse or remember
 * (a zone it refuses, a name of two zones) makes the parts give up, and
 * build_whole() decides.  The result is build_whole()'s but for the table's
 * size and slots.
 */
enum { SPLIT_MAX = 8, SPLIT_MIN_ZONES = 20000 };
static size_t split_spilled;	/* __atomic: nodes step 4 placed (zset_spilled(), for the tests) */

typedef struct split {
	zset_t *zs;
	const zones_t *zones;
	unsigned parts, phase;
	size_t zlo[SPLIT_MAX + 1];	/* part k's zones: [zlo[k], zlo[k + 1]) */
	size_t nlo[SPLIT_MAX + 1];	/* its nodes (step 2): [nlo[k], nlo[k + 1]) */
	size_t nnodes;
	uint32_t *spill[SPLIT_MAX];	/* step 3: nodes probing past part k's range, in order */
	size_t nspill[SPLIT_MAX], spill_cap[SPLIT_MAX];
	size_t dead[SPLIT_MAX];		/* nodes found there already (name NULL) */
	bool odd[SPLIT_MAX];		/* build_whole() decides */
	int r[SPLIT_MAX];
} split_t;

/* Step 1 for one zone: zone_add()'s checks, its names (owners and what lies between them and the apex). */
static bool zone_count(const zone_t *z, size_t *names)
{
	if (!z->frozen || z->nrrs == 0 || z->rrs[0].type != ZONE_T_SOA || z->rrs[0].owner_len != z->apex_len)
		return false;
	for (size_t i = 0; i < z->nrrs;) {
		const zone_rr_t *rr = &z->rrs[i];
		if (rr->owner_len < z->apex_len ||
		    memcmp(rr->owner + rr->owner_len - z->apex_len, z->apex, z->apex_len) != 0)
			return false;
		size_t j = i + 1;
		while (j < z->nrrs && same_owner(&z->rrs[j], rr))
			j++;
		if (j - i > UINT16_MAX)
			return false;
		(*names)++;
		for (size_t o = rr->owner[0] + 1u; rr->owner_len - o > z->apex_len; o += rr->owner[o] + 1u)
			(*names)++;
		i = j;
	}
	return true;
}

/* Step 2 for one zone: its nodes from n on, as zone_add() meets them; returns the next. */
static struct znode *zone_nodes(const zone_t *z, uint32_t zi, struct znode *n)
{
	for (size_t i = 0; i < z->nrrs;) {
		const zone_rr_t *rr = &z->rrs[i];
		size_t j = i + 1;
		while (j < z->nrrs && same_owner(&z->rrs[j], rr))
			j++;
		*n = (struct znode){ .name = rr->owner, .hash = name_hash(rr->owner, rr->owner_len), .zone = zi,
				     .first = (uint32_t)i, .nrrs = (uint16_t)(j - i), .name_len = (uint8_t)rr->owner_len };
		for (size_t k = i; k < j && k - i < UINT8_MAX - 1; k++)
			if (z->rrs[k].type == ZONE_T_RRSIG) {
				n->sig = (uint8_t)(k - i + 1);
				break;
			}
		n++;
		for (size_t o = rr->owner[0] + 1u; rr->owner_len - o > z->apex_len; o += rr->owner[o] + 1u) {
			size_t len = rr->owner_len - o;
			*n++ = (struct znode){ .name = rr->owner + o, .hash = name_hash(rr->owner + o, len), .zone = zi,
					       .name_len = (uint8_t)len };
		}
		i = j;
	}
	return n;
}

/*
 * Node c met at node v already in the table (the same name): as zone_add()
 * would, an owner takes over its zone's empty non-terminal, and a name met
 * again in its zone adds nothing (c is dropped: name NULL).  false: what
 * zone_add() refuses or remembers (data twice, a name of two zones).
 */
static bool node_again(struct znode *nodes, uint32_t v, size_t c)
{
	struct znode *n = &nodes[v - 1], *m = &nodes[c];
	if (n->zone != m->zone || (m->nrrs > 0 && n->nrrs > 0))
		return false;
	if (m->nrrs > 0) {
		n->first = m->first;
		n->nrrs = m->nrrs;
		n->sig = m->sig;
	}
	m->name = NULL;
	return true;
}

/* Step 3 for node c in slots [lo, hi): 1 put (or another part's), 2 dropped, 0 past hi (spilled), -1 odd. */
static int node_place(zset_t *zs, size_t c, size_t lo, size_t hi)
{
	const struct znode *m = &zs->nodes[c];
	size_t i = m->hash & zs->table_mask;
	if (i < lo || i >= hi)
		return 1;	/* another part's */
	for (; i < hi; i++) {
		uint32_t v = zs->table[i];
		if (v == 0) {
			zs->table[i] = (uint32_t)(c + 1);
			return 1;
		}
		const struct znode *n = &zs->nodes[v - 1];
		if (n->hash == m->hash && n->name_len == m->name_len && memcmp(n->name, m->name, m->name_len) == 0)
			return node_again(zs->nodes, v, c) ? 2 : -1;
	}
	return 0;
}

static int spill_add(split_t *s, unsigned k, size_t c)
{
	if (s->nspill[k] == s->spill_cap[k]) {
		size_t cap = s->spill_cap[k] ? s->spill_cap[k] * 2 : 256;
		uint32_t *v = realloc(s->spill[k], cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		s->spill[k] = v;
		s->spill_cap[k] = cap;
	}
	s->spill[k][s->nspill[k]++] = (uint32_t)c;
	return MN_OK;
}

static void split_run(void *arg, size_t k)
{
	split_t *s = arg;
	zset_t *zs = s->zs;
	if (s->phase == 1) {
		size_t names = 0;
		for (size_t i = s->zlo[k]; i < s->zlo[k + 1]; i++) {
			const zone_t *z = s->zones->v[i];
			if (!zone_count(z, &names)) {
				s->odd[k] = true;
				return;
			}
			zs->zsig[i] = zsig_of(z);
		}
		s->nlo[k + 1] = names;	/* (made offsets after the step) */
	} else if (s->phase == 2) {
		struct znode *n = &zs->nodes[s->nlo[k]];
		for (size_t i = s->zlo[k]; i < s->zlo[k + 1]; i++)
			n = zone_nodes(s->zones->v[i], (uint32_t)i, n);
		assert(n == &zs->nodes[s->nlo[k + 1]]);
	} else {
		size_t size = zs->table_mask + 1, lo = size * k / s->parts, hi = size * (k + 1) / s->parts;
		for (size_t c = 0; c < s->nnodes; c++) {
			int r = node_place(zs, c, lo, hi);
			if (r < 0) {
				s->odd[k] = true;
				return;
			}
			if (r == 0 && (s->r[k] = spill_add(s, k, c)) != MN_OK)
				return;
			s->dead[k] += r == 2;
		}
	}
}

/* Step 4: the spilled nodes, probing the whole table; false: odd. */
static bool split_spills(split_t *s, size_t *dead)
{
	zset_t *zs = s->zs;
	for (unsigned k = 0; k < s->parts; k++)
		__atomic_add_fetch(&split_spilled, s->nspill[k], __ATOMIC_RELAXED);
	for (unsigned k = 0; k < s->parts; k++)
		for (size_t x = 0; x < s->nspill[k]; x++) {
			size_t c = s->spill[k][x];
			const struct znode *m = &zs->nodes[c];
			const struct znode *n = find(zs, m->name, m->name_len, m->hash);
			if (n == NULL)
				table_put(zs, c);
			else if (!node_again(zs->nodes, (uint32_t)(n - zs->nodes + 1), c))
				return false;
			else
				(*dead)++;
		}
	return true;
}

/* Step 4: the dropped nodes out of the array, the table's indices moved with the others. */
static int split_compact(zset_t *zs)
{
	uint32_t *to = malloc(zs->nnodes * sizeof(*to));	/* old index -> new + 1 */
	if (to == NULL)
		return MN_ENOMEM;
	size_t w = 0;
	for (size_t c = 0; c < zs->nnodes; c++) {
		to[c] = zs->nodes[c].name != NULL ? (uint32_t)(w + 1) : 0;
		if (zs->nodes[c].name != NULL)
			zs->nodes[w++] = zs->nodes[c];
	}
	for (size_t i = 0; i <= zs->table_mask; i++)
		if (zs->table[i] != 0)
			zs->table[i] = to[zs->table[i] - 1];
	free(to);
	zs->nnodes = w;
	return MN_OK;
}

/* The table in parts (as above); -EAGAIN: build_whole() decides (zs as calloc left it). */
static int build_split(zset_t *zs, const zones_t *zones, unsigned parts)
{
	split_t s = { .zs = zs, .zones = zones, .parts = parts, .phase = 1 };
	int r = MN_ENOMEM;
	bool odd = false;
	for (unsigned k = 0; k <= parts; k++)
		s.zlo[k] = zones->n * k / parts;
	if ((zs->zsig = malloc(zones->n * sizeof(*zs->zsig))) == NULL)
		goto out;
	mn_pool_run(parts, parts, split_run, &s);
	for (unsigned k = 0; k < parts; k++) {
		odd = odd || s.odd[k];
		s.nlo[k + 1] += s.nlo[k];
	}
	s.nnodes = s.nlo[parts];
	if (odd || s.nnodes >= UINT32_MAX - 1)
		goto out;
	size_t size = 1024;
	while (size * 3 < s.nnodes * 4)
		size *= 2;
	if ((zs->nodes = malloc((s.nnodes ? s.nnodes : 1) * sizeof(*zs->nodes))) == NULL ||
	    (zs->table = calloc(size, sizeof(*zs->table))) == NULL)
		goto out;
	zs->nodes_cap = s.nnodes ? s.nnodes : 1;
	zs->nnodes = s.nnodes;
	zs->table_mask = size - 1;
	s.phase = 2;
	mn_pool_run(parts, parts, split_run, &s);
	s.phase = 3;
	mn_pool_run(parts, parts, split_run, &s);
	size_t dead = 0;
	for (unsigned k = 0; k < parts; k++) {
		odd = odd || s.odd[k];
		dead += s.dead[k];
		if (s.r[k] != MN_OK)
			goto out;
	}
	if (odd || !split_spills(&s, &dead)) {
		odd = true;
		goto out;
	}
	r = dead > 0 ? split_compact(zs) : MN_OK;
out:
	for (unsigned k = 0; k < parts; k++)
		free(s.spill[k]);
	if (r != MN_OK || odd) {
		free(zs->nodes);
		free(zs->table);
		free(zs->zsig);
		zs->nodes = NULL;
		zs->table = NULL;
		zs->zsig = NULL;
		zs->nnodes = zs->nodes_cap = zs->table_mask = 0;
	}
	return odd ? -EAGAIN : r;
}

int zset_new_parts(zones_t *zones, unsigned parts, zset_t **out)
{
	if (zones == NULL || out == NULL) {
		zones_free(zones);
		return MN_EINVAL;
	}
	int r = MN_ENOMEM;
	zset_t *zs = calloc(1, sizeof(*zs));
	if (zs == NULL) {
		zones_free(zones);
		return MN_ENOMEM;
	}
	zs->refs = 1;
	zs->zones = zones;
	if (zones->n >= UINT32_MAX) {
		r = MN_ERANGE;
		goto fail;
	}
	if (parts > SPLIT_MAX)
		parts = SPLIT_MAX;
	if (parts > zones->n)
		parts = (unsigned)zones->n;
	r = parts > 1 ? build_split(zs, zones, parts) : -EAGAIN;
	if (r == -EAGAIN)
		r = build_whole(zs, zones);
	if (r < 0)
		goto fail;
	trim(zs);
	*out = zs;
	return MN_OK;
fail:
	zset_free(zs);
	return r;
}

int zset_new(zones_t *zones, zset_t **out)
{
	unsigned parts = zones != NULL && zones->n >= SPLIT_MIN_ZONES ? mn_cpus() : 1;
	return zset_new_parts(zones, parts, out);
}

size_t zset_spilled(void)
{
	return __atomic_load_n(&split_spilled, __ATOMIC_RELAXED);
}

bool zset_same_names(const zset_t *a, const zset_t *b)
{
	if (a->nnodes != b->nnodes || a->shared_names != b->shared_names || a->zones->n != b->zones->n)
		return false;
	for (size_t k = 0; k < a->nnodes; k++) {
		const struct znode *x = &a->nodes[k], *y = &b->nodes[k];
		if (x->name != y->name || x->hash != y->hash || x->zone != y->zone || x->first != y->first ||
		    x->nrrs != y->nrrs || x->name_len != y->name_len || x->sig != y->sig ||
		    find(a, x->name, x->name_len, x->hash) != x || find(b, y->name, y->name_len, y->hash) != y)
			return false;
	}
	for (size_t i = 0; i < a->zones->n; i++)
		if (a->zsig[i].first != b->zsig[i].first || a->zsig[i].count != b->zsig[i].count)
			return false;
	return true;
}

/* ---- the next generation, patched from the previous one ---- */

/* Takes the nodes of zone zi of zs (owners and empty non-terminals) out of the table. */
static void zone_del(zset_t *zs, const zone_t *z, uint32_t zi)
{
	for (size_t i = 0; i < z->nrrs;) {
		const zone_rr_t *rr = &z->rrs[i];
		size_t j = i + 1;
		while (j < z->nrrs && same_owner(&z->rrs[j], rr))
			j++;
		i = j;
		for (size_t o = 0; rr->owner_len - o >= z->apex_len;) {
			size_t len = rr->owner_len - o;
			const struct znode *n = find(zs, rr->owner + o, len, name_hash(rr->owner + o, len));
			if (n != NULL && n->zone == zi)
				node_del(zs, (size_t)(n - zs->nodes));
			if (len == z->apex_len)
				break;
			o += rr->owner[o] + 1u;
		}
	}
}

/* zs's node array and table: prev's copied (into the spare ones when they fit). */
static int copy_of(const zset_t *prev, zset_t *zs)
{
	size_t ncap = prev->nodes_cap ? prev->nodes_cap : 1, tsize = prev->table_mask + 1;
	spare_take(ncap, tsize, &zs->nodes, &zs->nodes_cap, &zs->table);
	if (zs->nodes == NULL) {
		zs->nodes = malloc(ncap * sizeof(*zs->nodes));
		zs->nodes_cap = ncap;
	}
	if (zs->table == NULL)
		zs->table = malloc(tsize * sizeof(*zs->table));
	if (zs->nodes == NULL || zs->table == NULL)
		return MN_ENOMEM;
	memcpy(zs->nodes, prev->nodes, prev->nnodes * sizeof(*zs->nodes));
	memcpy(zs->table, prev->table, tsize * sizeof(*zs->table));
	zs->nnodes = prev->nnodes;
	zs->table_mask = prev->table_mask;
	zs->free_head = prev->free_head;
	zs->nfree = prev->nfree;
	return MN_OK;
}

/*
 * prev's zones against zones, both by apex, in one merge walk: map (old
 * index -> new index + 1, 0 gone), fresh (the new indexes of zones not
 * taken from prev), *diff (zones gone, replaced or added), *moved (a kept
 * zone's index changed).  A zone that is the same object in both is the same
 * apex: no strcmp.  zones' order is checked on the way, with strcmp only
 * where a pair of neighbours is not two zones of prev (which is sorted: two
 * zones of prev met in the walk are in prev's order); all pairs, and prev's
 * too, when check_all.  False when either is not in strict apex order.
 */
static bool diff_walk(const zones_t *old, const zones_t *zones, bool check_all, uint32_t *map, uint32_t *fresh,
		      size_t *nfresh, size_t *diff, bool *moved)
{
	size_t i = 0, j = 0, nf = 0, d = 0, i_seen = 0;
	bool last_kept = false;
	*moved = false;
	while (i < old->n || j < zones->n) {
		const zone_t *a = i < old->n ? old->v[i] : NULL, *b = j < zones->n ? zones->v[j] : NULL;
		if (check_all && a != NULL && i > 0 && i_seen < i) {
			if (strcmp(old->v[i - 1]->name, a->name) >= 0)
				return false;
			i_seen = i;
		}
		int c = a == b ? 0 : a == NULL ? 1 : b == NULL ? -1 : strcmp(a->name, b->name);
		if (c < 0) {
			map[i++] = 0;
			d++;
			continue;
		}
		bool kept = c == 0 && a == b;
		if (j > 0 && (check_all || !kept || !last_kept) && strcmp(zones->v[j - 1]->name, b->name) >= 0)
			return false;
		if (kept) {
			map[i] = (uint32_t)j + 1;
			*moved |= i != j;
		} else {
			fresh[nf++] = (uint32_t)j;
			d++;
			if (c == 0)
				map[i] = 0;	/* replaced */
		}
		i += c == 0;
		j++;
		last_kept = kept;
	}
	*nfresh = nf;
	*diff = d;
	return true;
}

/*
 * Patches zs (a copy of prev's table) for zones, given diff_walk's map and
 * fresh: the nodes of prev's zones that are gone or replaced are taken out,
 * the others renumbered to their index in zones, the new zones added.
 * -EAGAIN when the zones share names (build anew instead); the errors of zset_new.
 */
static int patch(zset_t *zs, const zset_t *prev, const zones_t *zones, const uint32_t *map,
		 const uint32_t *fresh, size_t nfresh, bool moved)
{
	const zones_t *old = prev->zones;
	int r = copy_of(prev, zs);
	if (r != MN_OK)
		return r;
	for (size_t i = 0; i < old->n; i++)
		if (map[i] == 0)
			zone_del(zs, old->v[i], (uint32_t)i);
	if (moved) {
		for (size_t k = 0; k < zs->nnodes; k++)
			if (zs->nodes[k].name != NULL) {
				assert(map[zs->nodes[k].zone] != 0);	/* a gone zone's nodes are out */
				zs->nodes[k].zone = map[zs->nodes[k].zone] - 1;
			}
	}
	for (size_t f = 0; f < nfresh; f++) {
		const zone_t *z = zones->v[fresh[f]];
		if ((r = zone_add(zs, z, fresh[f])) != MN_OK)
			return r;
	}
	if (zs->shared_names)
		return -EAGAIN;
	if ((r = zsig_fill(zs, zones, prev, map)) != MN_OK)
		return r;
	zs->reused = zones->n - nfresh;
	return MN_OK;
}

/* Are zones in strict apex order? */
static bool apex_order(const zones_t *zones)
{
	for (size_t i = 1; i < zones->n; i++)
		if (strcmp(zones->v[i - 1]->name, zones->v[i]->name) >= 0)
			return false;
	return true;
}

/* zset_new() of zones, noting whether they are known to be in strict apex order. */
static int new_noting(zones_t *zones, bool sorted, zset_t **out)
{
	int r = zset_new(zones, out);
	if (r == MN_OK)
		(*out)->sorted = sorted;
	return r;
}

/* zs patched from prev: what changed kept (zset_changes); *fresh taken. */
static int note_changes(zset_t *zs, const zset_t *prev, const uint32_t *map, uint32_t **fresh, size_t nfresh)
{
	size_t ngone = 0;
	for (size_t i = 0; i < prev->zones->n; i++)
		ngone += map[i] == 0;
	if ((zs->gone = malloc((ngone ? ngone : 1) * sizeof(*zs->gone))) == NULL)
		return MN_ENOMEM;
	for (size_t i = 0, k = 0; i < prev->zones->n; i++)
		if (map[i] == 0)
			zs->gone[k++] = (uint32_t)i;
	uint32_t *f = realloc(*fresh, (nfresh ? nfresh : 1) * sizeof(*f));	/* (smaller: fails only oddly) */
	zs->fresh = f != NULL ? f : *fresh;
	*fresh = NULL;
	zs->nfresh = nfresh;
	zs->ngone = ngone;
	zs->from = prev;
	return MN_OK;
}

bool zset_changes(const zset_t *zs, const zset_t *prev, const uint32_t **fresh, size_t *nfresh,
		  const uint32_t **gone, size_t *ngone)
{
	if (zs == NULL || prev == NULL || zs->from != prev || zs->fresh == NULL || zs->gone == NULL)
		return false;
	*fresh = zs->fresh;
	*nfresh = zs->nfresh;
	*gone = zs->gone;
	*ngone = zs->ngone;
	return true;
}

int zset_new_from(const zset_t *prev, zones_t *zones, zset_t **out)
{
	if (zones == NULL || out == NULL || zones->n >= UINT32_MAX)
		return zset_new(zones, out);
	/*
	 * The first set: its order checked now, while its names are fresh from
	 * the compile (not in the first patch's walk, with every name cold then).
	 */
	if (prev == NULL)
		return new_noting(zones, apex_order(zones), out);
	if (prev->shared_names || prev->zones->n == 0)
		return new_noting(zones, false, out);	/* (checked by the first patch) */
	const zones_t *old = prev->zones;
	uint32_t *map = malloc((old->n ? old->n : 1) * sizeof(*map));	/* old index -> new + 1; 0 gone */
	uint32_t *fresh = malloc((zones->n ? zones->n : 1) * sizeof(*fresh));
	zset_t *zs = NULL;
	size_t nfresh = 0, diff = 0;
	bool moved = false;
	int r = MN_ENOMEM;
	if (map == NULL || fresh == NULL) {
		zones_free(zones);
		goto out;
	}
	/* (the walks need apex order; prev's own is checked once, on the first patch) */
	if (!diff_walk(old, zones, !prev->sorted, map, fresh, &nfresh, &diff, &moved)) {
		r = new_noting(zones, false, out);
		goto out;
	}
	/* few enough zones differ for a patch to beat a new table */
	if (diff > zones->n / 8) {
		r = new_noting(zones, true, out);
		goto out;
	}
	if ((zs = calloc(1, sizeof(*zs))) == NULL) {
		zones_free(zones);
		goto out;
	}
	zs->refs = 1;
	zs->sorted = true;
	r = patch(zs, prev, zones, map, fresh, nfresh, moved);
	if (r == MN_OK && (r = note_changes(zs, prev, map, &fresh, nfresh)) == MN_OK) {
		zs->zones = zones;
		*out = zs;
		goto out;
	}
	zs->zones = NULL;
	zset_free(zs);
	if (r == -EAGAIN)
		r = new_noting(zones, true, out);	/* names shared between zones: built anew */
	else
		zones_free(zones);
out:
	free(map);
	free(fresh);
	return r;
}

zset_t *zset_ref(zset_t *zs)
{
	if (zs != NULL)
		__atomic_add_fetch(&zs->refs, 1, __ATOMIC_RELAXED);
	return zs;
}

void zset_unref(zset_t *zs)
{
	if (zs == NULL)
		return;
	if (__atomic_sub_fetch(&zs->refs, 1, __ATOMIC_ACQ_REL) == 0)
		zset_free(zs);
}

const zones_t *zset_zones(const zset_t *zs)
{
	return zs->zones;
}

size_t zset_name_count(const zset_t *zs)
{
	return zs->nnodes - zs->nfree;
}

size_t zset_reused_zones(const zset_t *zs)
{
	return zs->reused;
}

/*
 * The node's RRset of qtype (ANY: TXT, else the first): its records are
 * z->rrs[*first..*first+*count).  False when it has none.
 */
static bool node_rrset(const zone_t *z, const struct znode *n, uint16_t qtype, size_t *first,
		       size_t *count)
{
	const zone_rr_t *v = z->rrs + n->first;
	size_t k = 0;
	while (k < n->nrrs && v[k].type != qtype && !(qtype == ZONE_T_ANY && v[k].type == ZONE_T_TXT))
		k++;
	if (k == n->nrrs) {
		if (qtype != ZONE_T_ANY || n->nrrs == 0)
			return false;
		k = 0;
	}
	size_t m = k + 1;
	while (m < n->nrrs && v[m].type == v[k].type)
		m++;
	*first = n->first + k;
	*count = m - k;
	return true;
}

/* ---- DNSSEC: the signed zone's RRSIGs and NSECs for an answer ---- */

/*
 * A DO query must cost little more than one without: no hash lookup beyond
 * the name's own, no scan of a whole RRset list.  A signed owner's records
 * are sorted by type (zone.c), so its RRSIGs (46) and its NSEC (47) sit
 * together at the end, followed only by the apex's DNSKEY, CDS and CDNSKEY:
 * they are found from the owner's last record backwards.  The covering NSEC
 * of a name without records is found by one binary search over the zone's
 * records, comparing only the labels above the apex.
 */

/* Records z->rrs[first..first+count), one RRset or a part of one: one run in answer form. */
static zset_run_t run_of(const zone_t *z, size_t first, size_t count)
{
	const zone_rr_t *a = &z->rrs[first], *b = &z->rrs[first + count - 1];
	const uint8_t *start = a->rdata - 12;
	return (zset_run_t){ .rrs = start, .len = (uint32_t)(b->rdata + b->rdlen - start),
			     .count = (uint16_t)count };
}

static bool sig_covers(const zone_rr_t *rr, uint16_t type)
{
	return rr->rdlen >= 2 && mn_get16(rr->rdata) == type;
}

/* An owner's DNSSEC records: its RRSIG RRset z->rrs[sig..sig_end), its NSEC (index, or SIZE_MAX). */
typedef struct owner_sec {
	size_t sig, sig_end, nsec;
} owner_sec_t;

/*
 * The NSEC and RRSIGs among the owner's records z->rrs[first..end): from the
 * end back over the types above NSEC (at most the apex's three), the NSEC,
 * the RRSIGs before it.
 */
static owner_sec_t owner_sec(const zone_t *z, size_t first, size_t end)
{
	owner_sec_t o = { .nsec = SIZE_MAX };
	size_t k = end;
	while (k > first && z->rrs[k - 1].type > ZONE_T_NSEC)
		k--;
	if (k > first && z->rrs[k - 1].type == ZONE_T_NSEC)
		o.nsec = --k;
	o.sig_end = k;
	while (k > first && z->rrs[k - 1].type == ZONE_T_RRSIG)
		k--;
	o.sig = k;
	return o;
}

/*
 * The owner's RRSIGs covering type: the RRSIG RRset is sorted by RDATA, whose
 * first two bytes are the type covered, so they are one part of it.
 */
static zset_run_t owner_sigs(const zone_t *z, const owner_sec_t *o, uint16_t type)
{
	size_t k = o->sig;
	while (k < o->sig_end && !sig_covers(&z->rrs[k], type))
		k++;
	size_t m = k;
	while (m < o->sig_end && sig_covers(&z->rrs[m], type))
		m++;
	return m > k ? run_of(z, k, m - k) : (zset_run_t){ 0 };
}

/* The proof has the NSEC of owner already. */
static bool proof_has(const zset_proof_t *p, const uint8_t *owner, size_t olen)
{
	for (unsigned i = 0; i < p->nnsec; i++)
		if (p->nsec[i].owner == owner ||
		    (p->nsec[i].owner_len == olen && memcmp(p->nsec[i].owner, owner, olen) == 0))
			return true;
	return false;
}

/* Adds the owner's NSEC and its RRSIGs to the proof (once; nothing when it has none). */
static void proof_add(const zone_t *z, const uint8_t *owner, size_t olen, size_t first, size_t end,
		      zset_proof_t *p)
{
	if (p->nnsec >= sizeof(p->nsec) / sizeof(p->nsec[0]))
		return;
	if (proof_has(p, owner, olen))
		return;
	owner_sec_t o = owner_sec(z, first, end);
	if (o.nsec == SIZE_MAX)
		return;
	zset_nsec_t *e = &p->nsec[p->nnsec++];
	e->owner = owner;
	e->owner_len = (uint16_t)olen;
	e->nsec = run_of(z, o.nsec, 1);
	e->sig = owner_sigs(z, &o, ZONE_T_NSEC);
}

/* owner_sec() of a node, from its first RRSIG when the table knows it (no scan from the end). */
static owner_sec_t node_sec(const zone_t *z, const struct znode *n)
{
	size_t end = n->first + n->nrrs;
	if (n->sig == 0)
		return owner_sec(z, n->first, end);
	owner_sec_t o = { .sig = n->first + n->sig - 1u, .nsec = SIZE_MAX };
	size_t k = o.sig;
	while (k < end && z->rrs[k].type == ZONE_T_RRSIG)
		k++;
	o.sig_end = k;
	if (k < end && z->rrs[k].type == ZONE_T_NSEC)
		o.nsec = k;
	return o;
}

/*
 * The node's RRSIGs covering type: from its first RRSIG on, in the order of
 * the type covered (the RRSIG RRset is sorted by RDATA).
 */
static zset_run_t node_sigs(const zone_t *z, const struct znode *n, uint16_t type)
{
	if (n->sig == 0) {
		owner_sec_t o = owner_sec(z, n->first, n->first + n->nrrs);
		return owner_sigs(z, &o, type);
	}
	size_t end = n->first + n->nrrs, k = n->first + n->sig - 1u;
	while (k < end && z->rrs[k].type == ZONE_T_RRSIG && z->rrs[k].rdlen >= 2 &&
	       mn_get16(z->rrs[k].rdata) < type)
		k++;
	size_t m = k;
	while (m < end && z->rrs[m].type == ZONE_T_RRSIG && sig_covers(&z->rrs[m], type))
		m++;
	return m > k ? run_of(z, k, m - k) : (zset_run_t){ 0 };
}

/* Adds the NSEC of node n, and its RRSIGs, to the proof. */
static void proof_node(const zone_t *z, const struct znode *n, zset_proof_t *p)
{
	if (p->nnsec >= sizeof(p->nsec) / sizeof(p->nsec[0]))
		return;
	if (proof_has(p, n->name, n->name_len))
		return;
	owner_sec_t o = node_sec(z, n);
	if (o.nsec == SIZE_MAX)
		return;
	zset_nsec_t *e = &p->nsec[p->nnsec++];
	e->owner = n->name;
	e->owner_len = n->name_len;
	e->nsec = run_of(z, o.nsec, 1);
	e->sig = owner_sigs(z, &o, ZONE_T_NSEC);
}

/* A name's labels above the apex: their offsets, last (nearest the apex) at off[n - 1]. */
typedef struct above {
	const uint8_t *name;
	unsigned n;
	uint8_t off[128];
} above_t;

static void above_init(above_t *a, const uint8_t *name, size_t len, size_t apex_len)
{
	a->name = name;
	a->n = 0;
	for (size_t o = 0; o + apex_len < len && a->n < 128; o += name[o] + 1u)
		a->off[a->n++] = (uint8_t)o;
}

/*
 * RFC 4034 6.1 canonical order of an owner of the zone against the name in q
 * (both lowercase, both ending with the apex): their labels above the apex,
 * from the apex down.  <0, 0, >0.
 */
static int above_cmp(const uint8_t *owner, size_t olen, size_t apex_len, const above_t *q)
{
	uint8_t off[128];
	unsigned n = 0;
	for (size_t o = 0; o + apex_len < olen && n < 128; o += owner[o] + 1u)
		off[n++] = (uint8_t)o;
	unsigned i = n, j = q->n;
	while (i > 0 && j > 0) {
		const uint8_t *a = owner + off[--i], *b = q->name + q->off[--j];
		size_t m = a[0] < b[0] ? a[0] : b[0];
		int c = memcmp(a + 1, b + 1, m);
		if (c != 0)
			return c;
		if (a[0] != b[0])
			return a[0] - b[0];
	}
	return (int)i - (int)j;
}

/*
 * Adds the NSEC covering name (a name without records of its own): the last
 * owner at or before it in canonical order, found by a binary search over the
 * zone's records (sorted so, the SOA at the apex first), its records the ones
 * sharing that record's owner.
 */
static void proof_cover(const zone_t *z, const uint8_t *name, size_t len, zset_proof_t *p)
{
	above_t q;
	above_init(&q, name, len, z->apex_len);
	size_t lo = 0, hi = z->nrrs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (above_cmp(z->rrs[mid].owner, z->rrs[mid].owner_len, z->apex_len, &q) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return;
	const zone_rr_t *rr = &z->rrs[lo - 1];
	size_t first = lo - 1;
	while (first > 0 && same_owner(&z->rrs[first - 1], rr))
		first--;
	proof_add(z, rr->owner, rr->owner_len, first, lo, p);
}

static void lookup(const zset_t *zs, const uint8_t *qname, size_t qlen, uint16_t qtype,
		   zset_result_t *res, zset_proof_t *proof)
{
	memset(res, 0, sizeof(*res));
	res->status = ZSET_REFUSED;
	if (proof != NULL) {	/* the fields a caller reads (nsec[]: up to nnsec) */
		proof->is_signed = false;
		proof->answer_sig = proof->soa_sig = (zset_run_t){ 0 };
		proof->nnsec = 0;
	}
	if (zs == NULL || qname == NULL || qlen == 0 || qlen > 255)
		return;
	/* the longest existing suffix of qname: the name itself or its closest encloser */
	const struct znode *n = NULL;
	size_t o = 0;
	for (;;) {
		n = find(zs, qname + o, qlen - o, name_hash(qname + o, qlen - o));
		if (n != NULL || qname[o] == 0)
			break;
		o += qname[o] + 1u;
		if (o >= qlen)
			return;
	}
	if (n == NULL)
		return;
	const zone_t *z = zs->zones->v[n->zone];
	if (z->apex_len > qlen)
		return;
	res->zone = z;
	/* the SOA record's bytes from its type on (zone_add checked it is frozen first) */
	res->soa = z->rrs[0].rdata - 10;
	res->soa_len = (uint16_t)(10u + z->rrs[0].rdlen);
	res->soa_ttl = z->negative_ttl;
	res->apex_len = z->apex_len;
	zset_proof_t *dp = NULL;	/* the proof when asked for and the zone is signed */
	if (proof != NULL && zs->zsig[n->zone].count > 0) {
		const struct zsig *g = &zs->zsig[n->zone];
		proof->soa_sig = run_of(z, g->first, g->count);
		proof->is_signed = true;
		dp = proof;
	}
	if (o > 0) {
		/* RFC 4592: the source of synthesis is *.<closest encloser> */
		uint8_t wild[256];
		size_t celen = qlen - o;
		const struct znode *w = NULL;
		if (celen + 2 <= sizeof(wild)) {
			wild[0] = 1;
			wild[1] = '*';
			memcpy(wild + 2, qname + o, celen);
			w = find(zs, wild, celen + 2, name_hash(wild, celen + 2));
		}
		if (w == NULL || w->zone != n->zone) {
			res->status = ZSET_NXDOMAIN;
			if (dp != NULL) {	/* RFC 4035 3.1.3.2: no such name, no wildcard */
				proof_cover(z, qname, qlen, dp);
				if (celen + 2 <= sizeof(wild))
					proof_cover(z, wild, celen + 2, dp);
			}
			return;
		}
		n = w;
		res->wildcard = true;
		if (dp != NULL)		/* 3.1.3.3, 3.1.3.4: no closer match */
			proof_cover(z, qname, qlen, dp);
	}
	size_t first, count;
	/*
	 * Every type is synthesized from the wildcard, NSEC and RRSIG too (as
	 * Knot does): a NODATA for them cannot be proved, the wildcard's own
	 * NSEC lists both types.
	 */
	if (!node_rrset(z, n, qtype, &first, &count)) {
		res->status = ZSET_NODATA;
		if (dp != NULL && n->nrrs == 0)
			proof_cover(z, n->name, n->name_len, dp);	/* an empty non-terminal */
		else if (dp != NULL)
			proof_node(z, n, dp);		/* 3.1.3.1: the name's (or wildcard's) NSEC */
		return;
	}
	const zone_rr_t *a = &z->rrs[first], *b = &z->rrs[first + count - 1];
	res->status = ZSET_ANSWER;
	res->rrs = a->rdata - 12;
	res->rrs_len = (uint32_t)(b->rdata + b->rdlen - res->rrs);
	res->rrs_count = (uint16_t)count;
	res->rrs_type = a->type;
	if (dp != NULL && a->type != ZONE_T_RRSIG) {
		dp->answer_sig = node_sigs(z, n, a->type);
	}
}

void zset_lookup(const zset_t *zs, const uint8_t *qname, size_t qlen, uint16_t qtype,
		 zset_result_t *res)
{
	lookup(zs, qname, qlen, qtype, res, NULL);
}

void zset_lookup_dnssec(const zset_t *zs, const uint8_t *qname, size_t qlen, uint16_t qtype,
			zset_result_t *res, zset_proof_t *proof)
{
	lookup(zs, qname, qlen, qtype, res, proof);
}
