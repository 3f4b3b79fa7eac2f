/* SPDX-License-Identifier: GPL-3.0-or-later */
/* incr.c -- the compile cache: each domain's zones and diagnostics by the digest of its inputs */
#include "zones/incr.h"

#include <assert.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dmarc.h"
#include "policy/map.h"
#include "policy/schema.h"
#include "zones/zone_internal.h"

struct compile_cache {
	bool valid;		/* global holds a digest */
	bool parts_stale;	/* incr_parts_valid() */
	uint8_t global[32];
	mn_map_t map;		/* name -> incr_entry_t * (one reference each) */
	uint64_t serial_token;	/* incr_serial_token() */
	incr_entry_t **order;	/* incr_order(): the map's entries by domain index (not held) */
	bool *order_from;	/* beside them: the domain reported to another hosted domain */
	size_t norder;
	uint64_t gen;		/* the policy generation they were compiled from (0: none) */
	zone_epoch_t *epoch;	/* held: the current epoch, the zones let go go into (incr_zone_retire) */
};

/* ---- digests ------------------------------------------------------------------ */

void incr_hash_reset(incr_hash_t *h)
{
	h->n[0] = h->n[1] = 0;
	h->file = NULL;
	h->oom = false;
}

void incr_hash_clear(incr_hash_t *h)
{
	free(h->b[0]);
	free(h->b[1]);
	memset(h, 0, sizeof(*h));
}

static void put_slow(incr_hash_t *h, int k, const void *p, size_t n)
{
	if (h->oom || n == 0)
		return;
	if (h->n[k] + n > h->cap[k]) {
		size_t cap = h->cap[k] ? h->cap[k] : 1024;
		while (cap < h->n[k] + n)
			cap *= 2;
		uint8_t *b = realloc(h->b[k], cap);
		if (b == NULL) {
			h->oom = true;
			return;
		}
		h->b[k] = b;
		h->cap[k] = cap;
	}
	memcpy(h->b[k] + h->n[k], p, n);
	h->n[k] += n;
}

/* (a domain makes some 200 small writes: the common case inline) */
static inline void put(incr_hash_t *h, int k, const void *p, size_t n)
{
	if (h->n[k] + n <= h->cap[k]) {
		memcpy(h->b[k] + h->n[k], p, n);
		h->n[k] += n;
		return;
	}
	put_slow(h, k, p, n);
}

void incr_hash_bytes(incr_hash_t *h, const void *p, size_t n)
{
	uint64_t len = n;
	put(h, 0, &len, sizeof(len));
	put(h, 0, p, n);
}

void incr_hash_u32(incr_hash_t *h, uint32_t v)
{
	put(h, 0, &v, sizeof(v));
}

void incr_hash_str(incr_hash_t *h, const char *s)
{
	uint8_t present = s != NULL;
	put(h, 0, &present, 1);
	if (s != NULL)
		incr_hash_bytes(h, s, strlen(s));
}

void incr_hash_pos(incr_hash_t *h, const mn_pos_t *pos)
{
	/* whether a value is set changes the records (sp=, np=, ...) */
	uint8_t set = pos->file != NULL;
	put(h, 0, &set, 1);
	put(h, 1, &set, 1);
	if (pos->file == NULL)
		return;
	/*
	 * The same string as the last position's: a marker instead of the name
	 * (a domain's positions are mostly in one file).  The same pointer is
	 * the same name, so equal digests still mean equal positions.
	 */
	uint8_t same = pos->file == h->file;
	put(h, 1, &same, 1);
	if (!same) {
		uint64_t len = strlen(pos->file);
		put(h, 1, &len, sizeof(len));
		put(h, 1, pos->file, len);
		h->file = pos->file;
	}
	put(h, 1, &pos->line, sizeof(pos->line));
	put(h, 1, &pos->col, sizeof(pos->col));
}

void incr_hash_pos_bytes(incr_hash_t *h, const void *p, size_t n)
{
	put(h, 1, p, n);
}

static void h_str(incr_hash_t *h, const policy_str_t *v)
{
	incr_hash_str(h, v->v);
	incr_hash_pos(h, &v->pos);
}

/* A list's length and position: its items follow. */
static void h_list(incr_hash_t *h, size_t n, const mn_pos_t *pos)
{
	incr_hash_u32(h, (uint32_t)n);
	incr_hash_pos(h, pos);
}

/*
 * Every key of table at base, each by its type (the schema is the list of
 * fields: a key added there is digested without an edit here); only those
 * flagged SCHEMA_ZONES unless all.
 */
static void h_table(incr_hash_t *h, const schema_item_t *table, const void *base, bool all)
{
	for (const schema_item_t *it = table; it->name != NULL; it++) {
		if (!all && !(it->flags & SCHEMA_ZONES))
			continue;
		const void *f = (const char *)base + it->offset;
		switch (it->type) {
		case SCHEMA_U32:
		case SCHEMA_DURATION: {
			const policy_u32_t *v = f;
			incr_hash_u32(h, v->v);
			incr_hash_pos(h, &v->pos);
			break;
		}
		case SCHEMA_BOOL: {
			const policy_bool_t *v = f;
			incr_hash_u32(h, v->v);
			incr_hash_pos(h, &v->pos);
			break;
		}
		case SCHEMA_ENUM: {
			const policy_enum_t *v = f;
			incr_hash_u32(h, (uint32_t)v->v);
			incr_hash_pos(h, &v->pos);
			break;
		}
		case SCHEMA_STR:
		case SCHEMA_PATH:
		case SCHEMA_NAME:
			h_str(h, f);
			break;
		case SCHEMA_NAMES:
		case SCHEMA_STRS: {
			const policy_strs_t *v = f;
			h_list(h, v->n, &v->pos);
			for (size_t i = 0; i < v->n; i++)
				h_str(h, &v->v[i]);
			break;
		}
		case SCHEMA_NET4S:
		case SCHEMA_NET6S: {
			const policy_nets_t *v = f;
			h_list(h, v->n, &v->pos);
			for (size_t i = 0; i < v->n; i++) {
				const mn_net_t *n = &v->v[i].net;
				put(h, 0, &n->family, 1);
				put(h, 0, &n->prefix, 1);
				put(h, 0, n->addr, sizeof(n->addr));
				incr_hash_pos(h, &v->v[i].pos);
			}
			break;
		}
		case SCHEMA_ENUMS: {
			const schema_enums_t *v = f;
			h_list(h, v->n, &v->pos);
			for (size_t i = 0; i < v->n; i++) {
				incr_hash_u32(h, (uint32_t)v->v[i].v);
				incr_hash_pos(h, &v->v[i].pos);
			}
			break;
		}
		case SCHEMA_SELECTORS: {
			const schema_selectors_t *v = f;
			h_list(h, v->n, &v->pos);
			for (size_t i = 0; i < v->n; i++) {
				h_str(h, &v->v[i].name);
				h_str(h, &v->v[i].record);
			}
			break;
		}
		case SCHEMA_MAP:
			if (it->flags & SCHEMA_PRESENT)
				incr_hash_u32(h, *(const bool *)f);
			h_table(h, it->sub, f, true);
			break;
		case SCHEMA_LISTEN:
		case SCHEMA_TSIGS:
			/* server settings no zone is made from */
			assert(!"SCHEMA_ZONES on a key the digest cannot read");
			break;
		}
	}
}

/* Whether each mailto: destination of u is hosted: validate_dmarc warns about the others. */
static void h_dests(incr_hash_t *h, const policy_t *p, const policy_strs_t *u, const char *tag)
{
	for (size_t i = 0; i < u->n; i++) {
		dmarc_dest_t dest = { 0 };
		uint32_t hosted = 2;	/* not a usable mailto: */
		int r = dmarc_uri_check(u->v[i].v ? u->v[i].v : "", tag, NULL, NULL, &dest);
		if (r == MN_ENOMEM)
			h->oom = true;
		if (r == MN_OK && dest.scheme == DMARC_URI_MAILTO && dest.domain != NULL)
			hosted = policy_domain_find(p, dest.domain) != NULL;
		dmarc_dest_clear(&dest);
		incr_hash_u32(h, hosted);
	}
}

void incr_hash_domain(incr_hash_t *h, const policy_t *p, const policy_domain_t *d)
{
	incr_hash_str(h, "domain");
	incr_hash_str(h, d->name);
	incr_hash_pos(h, &d->pos);
	h_table(h, schema_domain, d, true);
	if (d->dmarc.present) {
		h_dests(h, p, &d->dmarc.rua, "rua");
		h_dests(h, p, &d->dmarc.ruf, "ruf");
	}
}

void incr_hash_context(incr_hash_t *h, const policy_t *p)
{
	incr_hash_str(h, "context");
	incr_hash_str(h, p->dir);
	const policy_domain_t *d = policy_defaults(p);
	incr_hash_u32(h, d != NULL);
	if (d != NULL)
		h_table(h, schema_domain, d, true);
	h_table(h, schema_dnssec, &p->server.dnssec, true);
}

void incr_hash_server(incr_hash_t *h, const policy_server_t *s)
{
	incr_hash_str(h, "mailns compile 1");
	h_table(h, schema_server, s, false);
}

int incr_hash_final(incr_hash_t *h, uint8_t key[32], uint8_t pos[32])
{
	if (h->oom)
		return MN_ENOMEM;
	const EVP_MD *sha256 = mn_sha256();
	if (sha256 == NULL)
		return MN_ENOMEM;
	uint8_t *out[2] = { key, pos };
	for (int k = 0; k < 2; k++) {
		unsigned len = 0;
		static const uint8_t empty = 0;
		if (!EVP_Digest(h->b[k] ? h->b[k] : &empty, h->n[k], out[k], &len, sha256, NULL) || len != 32)
			return MN_ENOMEM;
	}
	return MN_OK;
}

/* ---- entries ------------------------------------------------------------------ */

int incr_entry_new(const char *name, incr_entry_t **out)
{
	if (name == NULL || out == NULL)
		return MN_EINVAL;
	incr_entry_t *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return MN_ENOMEM;
	if ((e->name = mn_strdup(name)) == NULL) {
		free(e);
		return MN_ENOMEM;
	}
	e->refs = 1;
	*out = e;
	return MN_OK;
}

incr_entry_t *incr_entry_ref(incr_entry_t *e)
{
	if (e != NULL)
		e->refs++;
	return e;
}

void incr_entry_unref(incr_entry_t *e)
{
	if (e == NULL || --e->refs > 0)
		return;
	for (size_t i = 0; !e->borrowed && i < e->nzones; i++)
		incr_zone_retire(e->cache, e->zones[i]);
	for (size_t i = 0; i < e->ndiags; i++) {
		free(e->diags[i].file);
		free(e->diags[i].msg);
	}
	free(e->diags);
	free(e->name);
	free(e);
}

int incr_entry_add_diag(incr_entry_t *e, const diag_item_t *it, bool keyed, uint64_t key)
{
	incr_diag_t *v = realloc(e->diags, (e->ndiags + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	e->diags = v;
	incr_diag_t x = { .level = it->level, .line = it->line, .col = it->col, .keyed = keyed, .key = key };
	x.msg = mn_strdup(it->msg);
	x.file = it->file != NULL ? mn_strdup(it->file) : NULL;
	if (x.msg == NULL || (it->file != NULL && x.file == NULL)) {
		free(x.msg);
		free(x.file);
		return MN_ENOMEM;
	}
	e->diags[e->ndiags++] = x;
	return MN_OK;
}

/* ---- the cache ------------------------------------------------------------------ */

int compile_cache_new(compile_cache_t **out)
{
	if (out == NULL)
		return MN_EINVAL;
	compile_cache_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return MN_ENOMEM;
	*out = c;
	return MN_OK;
}

static void drop_all(mn_map_t *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].key != NULL)
			incr_entry_unref(m->slot[i].val);
	mn_map_free(m);
}

void compile_cache_free(compile_cache_t *c)
{
	if (c == NULL)
		return;
	drop_all(&c->map);
	zone_epoch_unref(c->epoch);	/* (after the entries: their zones in it) */
	free(c->order);
	free(c->order_from);
	free(c);
}

size_t compile_cache_size(const compile_cache_t *c)
{
	return c != NULL ? c->map.n : 0;
}

incr_entry_t *incr_find(const compile_cache_t *c, const char *name)
{
	return c != NULL ? mn_map_gets(&c->map, name) : NULL;
}

bool incr_global_same(const compile_cache_t *c, const uint8_t global[32])
{
	return c != NULL && c->valid && memcmp(c->global, global, 32) == 0;
}

bool incr_parts_valid(const compile_cache_t *c)
{
	return c != NULL && !c->parts_stale;
}

void incr_parts_invalidate(compile_cache_t *c)
{
	if (c != NULL)
		c->parts_stale = true;
}

uint64_t incr_serial_token(const compile_cache_t *c)
{
	return c != NULL ? c->serial_token : 0;
}

void incr_serial_token_set(compile_cache_t *c, uint64_t token)
{
	if (c != NULL)
		c->serial_token = token;
}

void incr_order_set(compile_cache_t *c, uint64_t gen, incr_entry_t **v, size_t n, bool *from)
{
	if (c == NULL) {
		free(v);
		free(from);
		return;
	}
	free(c->order);
	free(c->order_from);
	c->order = v;
	c->order_from = v != NULL ? from : (free(from), NULL);
	c->norder = v != NULL ? n : 0;
	c->gen = v != NULL ? gen : 0;
}

incr_entry_t *const *incr_order(const compile_cache_t *c, uint64_t gen, size_t *n, const bool **from)
{
	if (c == NULL || c->order == NULL || gen == 0 || c->gen != gen)
		return NULL;
	*n = c->norder;
	*from = c->order_from;
	return c->order;
}

int incr_install(compile_cache_t *c, const uint8_t global[32], incr_entry_t **v, size_t n)
{
	mn_map_t m = { 0 };
	incr_order_set(c, 0, NULL, 0, NULL);	/* (the entries it points to may go) */
	if (mn_map_init(&m, n) != MN_OK)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		/* sized for n at once: no growth, so no failure */
		void **slot = mn_map_put(&m, v[i]->name, strlen(v[i]->name));
		v[i]->cache = c;	/* (the output may read its zones: retired, even a twin's) */
		if (slot == NULL || *slot != NULL)
			incr_entry_unref(v[i]);	/* a name twice: the first one is kept */
		else
			*slot = v[i];
	}
	drop_all(&c->map);
	c->map = m;
	memcpy(c->global, global, 32);
	c->valid = true;
	c->parts_stale = false;	/* every entry's part recorded by this compile */
	return MN_OK;
}

int incr_install_same(compile_cache_t *c, const uint8_t global[32], incr_entry_t **v, incr_entry_t *const *olds,
		      size_t n)
{
	bool same = incr_global_same(c, global) && c->map.n == n;
	/* (an entry made now must replace the map's entry of its name: checked first, nothing changed yet) */
	for (size_t i = 0; same && i < n; i++)
		if (v[i] == NULL || (v[i] != olds[i] && (olds[i] == NULL || strcmp(v[i]->name, olds[i]->name) != 0 ||
							  mn_map_gets(&c->map, olds[i]->name) != olds[i])))
			same = false;
	if (!same) {
		for (size_t i = 0; i < n; i++)
			if (v[i] != NULL && v[i] == olds[i])
				incr_entry_ref(v[i]);	/* (the new map's reference: the old map's goes) */
		return incr_install(c, global, v, n);
	}
	incr_order_set(c, 0, NULL, 0, NULL);	/* (the old entries replaced below go) */
	for (size_t i = 0; i < n; i++) {
		if (v[i] == olds[i])
			continue;	/* (reused: the map's reference stands, its line not read) */
		void **val = mn_map_put(&c->map, olds[i]->name, strlen(olds[i]->name));	/* (found: no growth) */
		/* the slot's key is the entry's name: the new one's from now on */
		mn_map_slot_t *slot = (mn_map_slot_t *)((char *)val - offsetof(mn_map_slot_t, val));
		slot->key = v[i]->name;
		*val = v[i];
		v[i]->cache = c;
		incr_entry_unref(olds[i]);
	}
	c->parts_stale = false;	/* every entry's part recorded by this compile */
	return MN_OK;
}

/* ---- zones ---------------------------------------------------------------------- */

zone_t *incr_zone_copy(const zone_t *z)
{
	zone_t *c = NULL;
	if (zone_new(z->name, z->kind, z->domain, &c) != MN_OK)
		return NULL;
	for (size_t i = 0; i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		char owner[256];
		if (mn_name_from_wire(rr->owner, rr->owner_len, owner, sizeof(owner)) < 0 ||
		    zone_add_rr(c, owner, rr->type, rr->ttl, rr->rdata, rr->rdlen) != MN_OK) {
			zone_unref(c);
			return NULL;
		}
	}
	if (zone_finish(c) != MN_OK) {
		zone_unref(c);
		return NULL;
	}
	return c;
}

bool incr_zone_shared(const zone_t *z)
{
	return z->cached || zone_shared(z);
}

void incr_zone_drop(zone_t *z)
{
	if (z != NULL && !z->cached)
		zone_unref(z);
}

void incr_zone_take(zone_t *z)
{
	z->cached = true;
}

void incr_zone_retire(const compile_cache_t *c, zone_t *z)
{
	if (c != NULL && c->epoch != NULL)
		zone_epoch_retire(c->epoch, z);
	else
		zone_unref(z);	/* (no output borrowed it) */
}

int incr_epoch_begin(compile_cache_t *c)
{
	return c->epoch != NULL ? MN_OK : zone_epoch_new(&c->epoch);
}

void incr_epoch_next(compile_cache_t *c, zone_epoch_t *next, zones_t *zs)
{
	assert(c->epoch != NULL && zs->hold == NULL);
	zone_epoch_chain(c->epoch, next);
	zone_epoch_unref(c->epoch);	/* (the zones it holds go with the generations before zs) */
	c->epoch = zone_epoch_ref(next);
	zs->hold = next;
}
