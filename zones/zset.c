/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zset.c -- the immutable zone set: name table and pre-rendered wire answers */
#include "zones/zset.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"

/* One RRset: its records rendered for the answer section. */
struct zrrset {
	size_t off;		/* in the arena */
	uint32_t len;
	uint16_t type;
	uint16_t count;
};

/* One name: an owner, an apex or an empty non-terminal (nrrsets == 0). */
struct znode {
	size_t name_off;	/* lowercase wire name in the arena */
	uint32_t hash;
	uint32_t zone;		/* index into zones->v */
	uint32_t first;		/* first RRset in rrsets[] */
	uint16_t nrrsets;
	uint16_t name_len;
};

/* Per zone: the SOA for the authority section, owner left out. */
struct zinfo {
	size_t soa_off;
	uint16_t soa_len;
};

struct zset {
	unsigned int refs;	/* __atomic builtins */
	zones_t *zones;
	uint8_t *arena;
	size_t arena_len, arena_cap;
	struct znode *nodes;
	size_t nnodes, nodes_cap;
	struct zrrset *rrsets;
	size_t nrrsets, rrsets_cap;
	struct zinfo *zinfo;
	uint32_t *table;	/* node index + 1; 0 = empty */
	size_t table_mask;
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
		    memcmp(zs->arena + n->name_off, name, len) == 0)
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

/* Reserves n bytes at the end of the arena; returns their offset via *off. */
static int arena_reserve(zset_t *zs, size_t n, size_t *off)
{
	if (zs->arena_len + n > zs->arena_cap) {
		size_t cap = zs->arena_cap ? zs->arena_cap : 65536;
		while (cap < zs->arena_len + n)
			cap *= 2;
		uint8_t *a = realloc(zs->arena, cap);
		if (a == NULL)
			return MN_ENOMEM;
		zs->arena = a;
		zs->arena_cap = cap;
	}
	*off = zs->arena_len;
	zs->arena_len += n;
	return MN_OK;
}

/* Adds a name (no check for duplicates); *idx is the new node's index. */
static int node_add(zset_t *zs, const uint8_t *name, size_t len, uint32_t h, uint32_t zone,
		    size_t *idx)
{
	if (zs->nnodes >= UINT32_MAX - 1)
		return MN_ERANGE;
	if ((zs->nnodes + 1) * 2 > zs->table_mask + 1) {
		int r = table_grow(zs);
		if (r < 0)
			return r;
	}
	if (zs->nnodes == zs->nodes_cap) {
		size_t cap = zs->nodes_cap ? zs->nodes_cap * 2 : 1024;
		struct znode *v = realloc(zs->nodes, cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		zs->nodes = v;
		zs->nodes_cap = cap;
	}
	size_t off;
	int r = arena_reserve(zs, len, &off);
	if (r < 0)
		return r;
	memcpy(zs->arena + off, name, len);
	struct znode *n = &zs->nodes[zs->nnodes];
	*n = (struct znode){ .name_off = off, .hash = h, .zone = zone, .name_len = (uint16_t)len };
	size_t i = h & zs->table_mask;
	while (zs->table[i] != 0)
		i = (i + 1) & zs->table_mask;
	zs->table[i] = (uint32_t)(zs->nnodes + 1);
	*idx = zs->nnodes++;
	return MN_OK;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Renders rrs[i..j) (one RRset) with the owner as a pointer to offset 12. */
static int rrset_render(zset_t *zs, const zone_rr_t *rrs, size_t i, size_t j)
{
	size_t len = 0;
	for (size_t k = i; k < j; k++)
		len += 12u + rrs[k].rdlen;
	if (len > UINT32_MAX || j - i > UINT16_MAX)
		return MN_ERANGE;
	if (zs->nrrsets == zs->rrsets_cap) {
		size_t cap = zs->rrsets_cap ? zs->rrsets_cap * 2 : 1024;
		struct zrrset *v = realloc(zs->rrsets, cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		zs->rrsets = v;
		zs->rrsets_cap = cap;
	}
	size_t off;
	int r = arena_reserve(zs, len, &off);
	if (r < 0)
		return r;
	uint8_t *p = zs->arena + off;
	for (size_t k = i; k < j; k++) {
		p[0] = 0xc0;
		p[1] = 12;
		put16(p + 2, rrs[k].type);
		put16(p + 4, 1);	/* IN */
		put32(p + 6, rrs[k].ttl);
		put16(p + 10, rrs[k].rdlen);
		memcpy(p + 12, rrs[k].rdata, rrs[k].rdlen);
		p += 12u + rrs[k].rdlen;
	}
	zs->rrsets[zs->nrrsets++] = (struct zrrset){
		.off = off, .len = (uint32_t)len, .type = rrs[i].type, .count = (uint16_t)(j - i),
	};
	return MN_OK;
}

static bool same_owner(const zone_rr_t *a, const zone_rr_t *b)
{
	return a->owner_len == b->owner_len && memcmp(a->owner, b->owner, a->owner_len) == 0;
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
	if (z->nrrs == 0 || z->rrs[0].type != ZONE_T_SOA ||
	    z->rrs[0].owner_len != z->apex_len)
		return MN_EINVAL;
	/* the negative-answer SOA, owner left out */
	const zone_rr_t *soa = &z->rrs[0];
	size_t off;
	int r = arena_reserve(zs, 10u + soa->rdlen, &off);
	if (r < 0)
		return r;
	uint8_t *p = zs->arena + off;
	put16(p, ZONE_T_SOA);
	put16(p + 2, 1);
	put32(p + 4, z->negative_ttl);
	put16(p + 8, soa->rdlen);
	memcpy(p + 10, soa->rdata, soa->rdlen);
	zs->zinfo[zi] = (struct zinfo){ .soa_off = off, .soa_len = (uint16_t)(10u + soa->rdlen) };

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
		if (n != NULL && n->nrrsets > 0)
			return MN_EINVAL;	/* data for one name in two places */
		if (n == NULL) {
			size_t idx;
			r = node_add(zs, rr->owner, rr->owner_len, h, zi, &idx);
			if (r < 0)
				return r;
			n = &zs->nodes[idx];
		}
		n->zone = zi;
		n->first = (uint32_t)zs->nrrsets;
		size_t count = 0;
		for (size_t k = i; k < j;) {
			size_t m = k + 1;
			while (m < j && z->rrs[m].type == z->rrs[k].type)
				m++;
			r = rrset_render(zs, z->rrs, k, m);
			if (r < 0)
				return r;
			count++;
			k = m;
		}
		if (count > UINT16_MAX)
			return MN_ERANGE;
		n->nrrsets = (uint16_t)count;
		r = add_ents(zs, rr->owner, rr->owner_len, z->apex_len, zi);
		if (r < 0)
			return r;
		i = j;
	}
	return MN_OK;
}

/*
 * Sizes the arena, the node and RRset arrays and the table for the names and
 * records counted in one pass (empty non-terminals may still grow them).
 */
static int presize(zset_t *zs, const zones_t *zones)
{
	size_t bytes = 0, owners = 0, rrsets = 0;
	for (size_t i = 0; i < zones->n; i++) {
		const zone_t *z = zones->v[i];
		for (size_t k = 0; k < z->nrrs; k++) {
			const zone_rr_t *rr = &z->rrs[k];
			bytes += 12u + rr->rdlen;
			if (k == 0 || !same_owner(rr, &z->rrs[k - 1])) {
				owners++;
				bytes += rr->owner_len;
				rrsets++;
			} else if (rr->type != z->rrs[k - 1].type) {
				rrsets++;
			}
		}
		if (z->nrrs > 0)
			bytes += 10u + z->rrs[0].rdlen;	/* the negative SOA */
	}
	zs->arena = malloc(bytes ? bytes : 1);
	zs->nodes = malloc((owners ? owners : 1) * sizeof(*zs->nodes));
	zs->rrsets = malloc((rrsets ? rrsets : 1) * sizeof(*zs->rrsets));
	if (zs->arena == NULL || zs->nodes == NULL || zs->rrsets == NULL)
		return MN_ENOMEM;
	zs->arena_cap = bytes ? bytes : 1;
	zs->nodes_cap = owners ? owners : 1;
	zs->rrsets_cap = rrsets ? rrsets : 1;
	size_t size = 1024;
	while (size < owners * 2 + owners / 2)
		size *= 2;
	zs->table = calloc(size, sizeof(*zs->table));
	if (zs->table == NULL)
		return MN_ENOMEM;
	zs->table_mask = size - 1;
	return MN_OK;
}

static void zset_free(zset_t *zs)
{
	if (zs == NULL)
		return;
	zones_free(zs->zones);
	free(zs->arena);
	free(zs->nodes);
	free(zs->rrsets);
	free(zs->zinfo);
	free(zs->table);
	free(zs);
}

int zset_new(zones_t *zones, zset_t **out)
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
	zs->zinfo = calloc(zones->n ? zones->n : 1, sizeof(*zs->zinfo));
	if (zs->zinfo == NULL)
		goto fail;
	r = presize(zs, zones);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < zones->n; i++) {
		r = zone_add(zs, zones->v[i], (uint32_t)i);
		if (r < 0)
			goto fail;
	}
	*out = zs;
	return MN_OK;
fail:
	zset_free(zs);
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
	return zs->nnodes;
}

/* The node's RRset of qtype (ANY: TXT, else the first), or NULL. */
static const struct zrrset *node_rrset(const zset_t *zs, const struct znode *n, uint16_t qtype)
{
	if (n->nrrsets == 0)
		return NULL;
	const struct zrrset *v = &zs->rrsets[n->first];
	for (size_t i = 0; i < n->nrrsets; i++)
		if (v[i].type == qtype || (qtype == ZONE_T_ANY && v[i].type == ZONE_T_TXT))
			return &v[i];
	return qtype == ZONE_T_ANY ? &v[0] : NULL;
}

void zset_lookup(const zset_t *zs, const uint8_t *qname, size_t qlen, uint16_t qtype,
		 zset_result_t *res)
{
	memset(res, 0, sizeof(*res));
	res->status = ZSET_REFUSED;
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
	res->soa = zs->arena + zs->zinfo[n->zone].soa_off;
	res->soa_len = zs->zinfo[n->zone].soa_len;
	res->apex_len = z->apex_len;
	if (o > 0) {
		/* RFC 4592: the source of synthesis is *.<closest encloser> */
		uint8_t wild[256];
		size_t celen = qlen - o;
		if (celen + 2 > sizeof(wild)) {
			res->status = ZSET_NXDOMAIN;
			return;
		}
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, qname + o, celen);
		const struct znode *w = find(zs, wild, celen + 2, name_hash(wild, celen + 2));
		if (w == NULL || w->zone != n->zone) {
			res->status = ZSET_NXDOMAIN;
			return;
		}
		n = w;
		res->wildcard = true;
	}
	const struct zrrset *rs = node_rrset(zs, n, qtype);
	if (rs == NULL) {
		res->status = ZSET_NODATA;
		return;
	}
	res->status = ZSET_ANSWER;
	res->rrs = zs->arena + rs->off;
	res->rrs_len = rs->len;
	res->rrs_count = rs->count;
	res->rrs_type = rs->type;
}
