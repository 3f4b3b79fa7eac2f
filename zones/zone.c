/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zone.c -- the compiled content of one zone: records in wire form, serial, digest */
#include "zones/zone.h"
#include "zones/zone_internal.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "policy/mn.h"
#include "policy/wire.h"

/* ---- memory of finished zones ---------------------------------------------------- */

/*
 * A zone set lives long, a compile's scratch memory briefly; from one malloc
 * heap, every finished piece left among the scratch pins a page that is
 * otherwise free (100,000 domains: about 170 MB resident but unused after
 * malloc_trim).  So zone_t, the frozen blocks and the pooled RRsets come
 * from slabs of their own, aligned to their size so that an object finds its
 * slab; a slab goes back to malloc when its last object is freed.  Bigger
 * pieces use malloc.  Pooled RRsets outlive the zone set that made them (the
 * next compile finds the unchanged ones there), so they fill slabs apart from
 * the zones: an old set's zone slabs empty completely when it goes.
 */
enum { SLAB = 65536, SLAB_BIG = SLAB / 8, SLAB_HDR = 16 };
/*
 * SLAB_BUILD: a building zone's records and strings (build_alloc), freed when
 * it is finished, moments later: a malloc and a free for each record was
 * about a tenth of a cold start's compile.  The slab a thread fills starts
 * over when everything it held is freed, so a compile that finishes each
 * domain's zones as it goes writes the same 64 KB, in cache, again and again.
 */
typedef enum { SLAB_ZONES = 0, SLAB_POOL = 1, SLAB_BUILD = 2, SLAB_KINDS = 3 } slab_kind_t;

typedef struct slab {
	uint32_t live;		/* __atomic: objects, plus one while a thread fills it */
	uint32_t used;		/* under its filler's lock */
	slab_kind_t kind;
} slab_t;

static_assert(sizeof(slab_t) <= SLAB_HDR, "slab header");

/*
 * Compile threads finish zones side by side.  One lock for all of them had
 * both threads waiting on each other (and the futex) for every zone and
 * every new RRset; so each thread fills slabs of its own, and keeps the
 * pool's RRsets it met more than once at hand (pool_get).  That state is
 * a slot of locals[], picked once per thread; its lock is its thread's
 * alone unless more threads than slots run.  (A global array rather than
 * thread-local storage: what a slot holds stays reachable after its
 * thread ends, and the next thread in the slot takes it over.)
 */
enum { LOCALS = 16, HOT = 64, HOT_CREDIT = 1024 };
typedef struct zshared zshared_t;
typedef struct hot {
	zshared_t *e;		/* a pooled RRset seen more than once, or NULL */
	uint32_t credit;	/* references to e taken in advance (>= 1 while e is set) */
} hot_t;
typedef struct local {
	pthread_mutex_t lock;
	slab_t *cur[SLAB_KINDS];	/* the slab of each kind this slot fills */
	hot_t hot[HOT];
	EVP_MD_CTX *md;		/* digest_of()'s, made once */
} __attribute__((aligned(64))) local_t;
static local_t locals[LOCALS] = {
	[0 ... LOCALS - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};
static unsigned locals_next;		/* __atomic */
static _Thread_local local_t *local_mine;

/* This thread's slot, locked. */
static local_t *local_lock(void)
{
	local_t *l = local_mine;
	if (l == NULL)
		l = local_mine = &locals[__atomic_fetch_add(&locals_next, 1, __ATOMIC_RELAXED) % LOCALS];
	pthread_mutex_lock(&l->lock);
	return l;
}

/* Drops one reference to slab s; the last frees it. */
static void slab_drop(slab_t *s)
{
	if (__atomic_sub_fetch(&s->live, 1, __ATOMIC_ACQ_REL) == 0)
		free(s);
}

/* n <= SLAB_BIG bytes, 8-aligned, or NULL. */
static void *slab_alloc(slab_kind_t k, size_t n)
{
	assert(n <= SLAB_BIG);
	n = (n + 7) & ~(size_t)7;
	local_t *l = local_lock();
	slab_t *cur = l->cur[k];
	/* (1: the filler's reference alone, every object freed; no other thread touches it then) */
	if (k == SLAB_BUILD && cur != NULL && __atomic_load_n(&cur->live, __ATOMIC_ACQUIRE) == 1)
		cur->used = SLAB_HDR;
	if (cur == NULL || cur->used + n > SLAB) {
		slab_t *s = aligned_alloc(SLAB, SLAB);
		if (s == NULL) {
			pthread_mutex_unlock(&l->lock);
			return NULL;
		}
		*s = (slab_t){ .live = 1, .used = SLAB_HDR, .kind = k };
		if (cur != NULL)
			slab_drop(cur);	/* the filler's reference */
		cur = l->cur[k] = s;
	}
	void *p = (uint8_t *)cur + cur->used;
	cur->used += (uint32_t)n;
	__atomic_add_fetch(&cur->live, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->lock);
	return p;
}

static void slab_free(void *p)
{
	if (p != NULL)
		slab_drop((slab_t *)((uintptr_t)p & ~(uintptr_t)(SLAB - 1)));
}

/* A finished piece: from a slab when small; *big says where it came from. */
static void *piece_alloc(slab_kind_t k, size_t n, bool *big)
{
	*big = n > SLAB_BIG;
	return *big ? malloc(n) : slab_alloc(k, n);
}

static void piece_free(void *p, bool big)
{
	if (big)
		free(p);
	else
		slab_free(p);
}

/* A building zone's piece of n bytes: from the thread's building slab when small. */
static void *build_alloc(size_t n)
{
	return n > SLAB_BIG ? malloc(n) : slab_alloc(SLAB_BUILD, n);
}

/* What build_alloc(n) gave. */
static void build_free(void *p, size_t n)
{
	if (n > SLAB_BIG)
		free(p);
	else
		slab_free(p);
}

/* What the zone's mem came from: build_alloc while building (apex and strings), a piece once finished. */
static void mem_free(zone_t *z)
{
	if (z->frozen)
		piece_free(z->mem, z->mem_big);
	else
		build_free(z->mem, (size_t)z->apex_len + z->strs_len);
}

int zone_new(const char *apex, zone_kind_t kind, const char *domain, zone_t **out)
{
	if (apex == NULL || domain == NULL || out == NULL)
		return MN_EINVAL;
	uint8_t wire[256];
	int len = mn_name_to_wire(apex, wire, sizeof(wire));
	if (len < 0)
		return MN_EINVAL;
	size_t nl = strlen(apex) + 1, dl = strlen(domain) + 1;
	/* "_dmarc." + domain: the domain string is the tail of the name, not a copy */
	bool tail = dl < nl && apex[nl - dl - 1] == '.' && memcmp(apex + nl - dl, domain, dl) == 0;
	size_t strs = nl + (tail ? 0 : dl);
	if (strs > UINT16_MAX)
		return MN_EINVAL;
	zone_t *z = slab_alloc(SLAB_ZONES, sizeof(*z));
	uint8_t *mem = build_alloc((size_t)len + strs);
	if (z == NULL || mem == NULL) {
		slab_free(z);
		if (mem != NULL)
			build_free(mem, (size_t)len + strs);
		return MN_ENOMEM;
	}
	memset(z, 0, sizeof(*z));
	memcpy(mem, wire, (size_t)len);
	z->apex = mem;
	z->apex_len = (uint16_t)len;
	z->name = (char *)mem + len;
	memcpy(z->name, apex, nl);
	z->domain = tail ? z->name + nl - dl : z->name + nl;
	if (!tail)
		memcpy(z->domain, domain, dl);
	z->strs_len = (uint16_t)strs;
	z->mem = mem;
	z->kind = kind;
	*out = z;
	return MN_OK;
}

static void shared_release(zone_t *z);

/* Frees a building record's owner and rdata (one piece). */
static void rr_free(zone_rr_t *rr)
{
	build_free(rr->owner, (size_t)rr->owner_len + rr->rdlen);
}

/* Frees what a building zone allocated per record. */
static void rrs_free(zone_rr_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rr_free(&v[i]);
	free(v);
}

/* A building record's memory: the owner, then the rdata right after it. */
static int rr_own(zone_rr_t *rr, const uint8_t *owner, const uint8_t *rdata)
{
	rr->owner = build_alloc((size_t)rr->owner_len + rr->rdlen);
	if (rr->owner == NULL)
		return MN_ENOMEM;
	rr->rdata = rr->owner + rr->owner_len;
	memcpy(rr->owner, owner, rr->owner_len);
	if (rr->rdlen)
		memcpy(rr->rdata, rdata, rr->rdlen);
	return MN_OK;
}

zone_t *zone_ref(zone_t *z)
{
	if (z == NULL)
		return NULL;
	uint16_t n = __atomic_load_n(&z->refs, __ATOMIC_RELAXED);
	do {
		if (n == UINT16_MAX)
			return NULL;
	} while (!__atomic_compare_exchange_n(&z->refs, &n, (uint16_t)(n + 1), true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return z;
}

bool zone_shared(const zone_t *z)
{
	return __atomic_load_n(&z->refs, __ATOMIC_ACQUIRE) > 0;
}

void zone_unref(zone_t *z)
{
	if (z == NULL)
		return;
	/* another holder: drop ours (the last one, finding 0, frees) */
	uint16_t n = __atomic_load_n(&z->refs, __ATOMIC_ACQUIRE);
	while (n > 0)
		if (__atomic_compare_exchange_n(&z->refs, &n, (uint16_t)(n - 1), true, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
	if (z->frozen)
		shared_release(z);
	else
		rrs_free(z->rrs, z->nrrs);
	mem_free(z);
	zone_backing_unref(z->backing);
	slab_free(z);
}

void zone_backing_ref(zone_backing_t *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

void zone_backing_unref(zone_backing_t *b)
{
	if (b != NULL && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		b->release(b);
}

/* A finished zone back to building form: every record and string in its own memory. */
static int thaw(zone_t *z)
{
	size_t n = z->nrrs, cap = n < 8 ? 8 : n * 2;
	if (cap > UINT32_MAX)
		return MN_ERANGE;
	zone_rr_t *v = calloc(cap, sizeof(*v));
	uint8_t *mem = build_alloc((size_t)z->apex_len + z->strs_len);
	if (v == NULL || mem == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		v[i] = *rr;
		if (rr_own(&v[i], rr->owner, rr->rdata) < 0) {
			rrs_free(v, i);
			v = NULL;
			goto fail;
		}
	}
	size_t doff = (size_t)(z->domain - z->name);
	memcpy(mem, z->apex, z->apex_len);
	memcpy(mem + z->apex_len, z->name, z->strs_len);
	shared_release(z);
	mem_free(z);
	zone_backing_unref(z->backing);	/* (every record copied out above) */
	z->backing = NULL;
	z->mem = mem;
	z->apex = mem;
	z->name = (char *)mem + z->apex_len;
	z->domain = z->name + doff;
	z->rrs = v;
	z->cap = (uint32_t)cap;
	z->frozen = false;
	return MN_OK;
fail:
	free(v);
	if (mem != NULL)
		build_free(mem, (size_t)z->apex_len + z->strs_len);
	return MN_ENOMEM;
}

int zone_add_rr(zone_t *z, const char *owner, uint16_t type, uint32_t ttl,
		const uint8_t *rdata, uint16_t rdlen)
{
	if (z == NULL || owner == NULL || (rdata == NULL && rdlen > 0))
		return MN_EINVAL;
	uint8_t wire[256];
	int wlen = mn_name_to_wire(owner, wire, sizeof(wire));
	if (wlen < 0)
		return wlen;
	/* the owner must be the apex or below it */
	if ((size_t)wlen < z->apex_len ||
	    memcmp(wire + wlen - z->apex_len, z->apex, z->apex_len) != 0)
		return MN_EINVAL;
	if (z->frozen) {
		int r = thaw(z);
		if (r < 0)
			return r;
	}
	if (z->nrrs == z->cap) {
		size_t cap = z->cap ? (size_t)z->cap * 2 : 8;
		if (cap > UINT32_MAX)
			return MN_ERANGE;
		zone_rr_t *v = realloc(z->rrs, cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		z->rrs = v;
		z->cap = (uint32_t)cap;
	}
	zone_rr_t rr = { .owner_len = (uint16_t)wlen, .type = type, .ttl = ttl, .rdlen = rdlen };
	if (rr_own(&rr, wire, rdata) < 0)
		return MN_ENOMEM;
	z->rrs[z->nrrs++] = rr;
	return MN_OK;
}

int zone_add_txt(zone_t *z, const char *owner, uint32_t ttl, const char *text)
{
	if (text == NULL)
		return MN_EINVAL;
	size_t len = strlen(text);
	/* each character-string: one length byte and up to 255 bytes */
	size_t nstr = len == 0 ? 1 : (len + 254) / 255;
	size_t rdlen = len + nstr;
	if (rdlen > 65535)
		return MN_ERANGE;
	uint8_t buf[1024];	/* (most records: no malloc) */
	uint8_t *rd = rdlen <= sizeof(buf) ? buf : malloc(rdlen);
	if (rd == NULL)
		return MN_ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < nstr; i++) {
		size_t n = len - i * 255 > 255 ? 255 : len - i * 255;
		rd[o++] = (uint8_t)n;
		memcpy(rd + o, text + i * 255, n);
		o += n;
	}
	int r = zone_add_rr(z, owner, ZONE_T_TXT, ttl, rd, (uint16_t)rdlen);
	if (rd != buf)
		free(rd);
	return r;
}

/* RFC 4034 6.1 canonical name order: compare labels from the rightmost. */
int zone_name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint8_t la[128], lb[128];	/* label offsets */
	int na = 0, nb = 0;
	for (size_t o = 0; o < alen && a[o] != 0 && na < 128; o += a[o] + 1u)
		la[na++] = (uint8_t)o;
	for (size_t o = 0; o < blen && b[o] != 0 && nb < 128; o += b[o] + 1u)
		lb[nb++] = (uint8_t)o;
	while (na > 0 && nb > 0) {
		const uint8_t *pa = a + la[--na], *pb = b + lb[--nb];
		size_t n = pa[0] < pb[0] ? pa[0] : pb[0];
		for (size_t i = 1; i <= n; i++) {
			int ca = pa[i] >= 'A' && pa[i] <= 'Z' ? pa[i] + 32 : pa[i];
			int cb = pb[i] >= 'A' && pb[i] <= 'Z' ? pb[i] + 32 : pb[i];
			if (ca != cb)
				return ca - cb;
		}
		if (pa[0] != pb[0])
			return pa[0] - pb[0];
	}
	return na - nb;
}

static int rr_cmp(const void *x, const void *y)
{
	const zone_rr_t *a = x, *b = y;
	/* the SOA comes first */
	if ((a->type == ZONE_T_SOA) != (b->type == ZONE_T_SOA))
		return a->type == ZONE_T_SOA ? -1 : 1;
	int c = zone_name_cmp(a->owner, a->owner_len, b->owner, b->owner_len);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	size_t n = a->rdlen < b->rdlen ? a->rdlen : b->rdlen;
	c = memcmp(a->rdata, b->rdata, n);
	if (c != 0)
		return c;
	return (int)a->rdlen - (int)b->rdlen;
}

/* Offset of the serial within SOA RDATA, or -1. */
static long soa_serial_off(const zone_rr_t *rr)
{
	size_t o = 0;
	for (int names = 0; names < 2; names++) {
		while (o < rr->rdlen && rr->rdata[o] != 0)
			o += rr->rdata[o] + 1u;
		o++;
	}
	return o + 20 <= rr->rdlen ? (long)o : -1;
}

static bool same_owner(const zone_rr_t *a, const zone_rr_t *b)
{
	return a->owner_len == b->owner_len && memcmp(a->owner, b->owner, a->owner_len) == 0;
}

/* ---- the shared RRset pool ---------------------------------------------------- */

typedef struct zshared {
	uint32_t hash, refs, len;
	bool big;		/* from malloc, not a slab */
	uint8_t bytes[];	/* the RRset in answer form */
} zshared_t;

/*
 * Zones are finished on compile threads and freed on whichever thread drops
 * the set last; the pool is split by hash so that they seldom wait.
 */
enum { SHARDS = 16 };
/*
 * Open addressing (linear probing, at most half full), each slot with its
 * entry's hash: a look-up touches an entry only when the hashes match, and
 * growing touches none (300,000 RRsets at 100,000 domains, most of them
 * new at a cold start: with hash chains every step was a cache miss).
 */
typedef struct pslot {
	zshared_t *e;		/* NULL: empty */
	uint32_t hash;
} pslot_t;
typedef struct shard {
	pthread_mutex_t lock;
	pslot_t *t;		/* size a power of two, or NULL */
	size_t size, n;
} shard_t;
static shard_t pool[SHARDS] = {
	[0 ... SHARDS - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static shard_t *shard_of(uint32_t h)
{
	return &pool[h >> 28];	/* the top bits: the chains use the low ones */
}

/* A record's answer-form header: owner pointer to the question, type, IN, TTL, rdlength. */
static void hdr_put(uint8_t *p, const zone_rr_t *rr)
{
	p[0] = 0xc0;
	p[1] = 12;
	mn_put16(p + 2, rr->type);
	mn_put16(p + 4, 1);	/* IN */
	mn_put32(p + 6, rr->ttl);
	mn_put16(p + 10, rr->rdlen);
}


static size_t run_len(const zone_rr_t *rrs, size_t i, size_t j)
{
	size_t len = 0;
	for (size_t k = i; k < j; k++)
		len += 12u + rrs[k].rdlen;
	return len;
}

static uint32_t run_hash(const zone_rr_t *rrs, size_t i, size_t j)
{
	uint64_t h = 0;
	uint8_t hdr[12];
	for (size_t k = i; k < j; k++) {
		hdr_put(hdr, &rrs[k]);
		h = mn_hash64(mn_hash64(h, hdr, sizeof(hdr)), rrs[k].rdata, rrs[k].rdlen);	/* (8 bytes a step: every RRset at load) */
	}
	return (uint32_t)(h ^ h >> 32);
}

static bool run_equal(const uint8_t *p, const zone_rr_t *rrs, size_t i, size_t j)
{
	uint8_t hdr[12];
	for (size_t k = i; k < j; k++) {
		hdr_put(hdr, &rrs[k]);
		if (memcmp(p, hdr, sizeof(hdr)) != 0 || memcmp(p + 12, rrs[k].rdata, rrs[k].rdlen) != 0)
			return false;
		p += 12u + rrs[k].rdlen;
	}
	return true;
}

/* The first empty slot from hash h's place in t (size slots, not full). */
static size_t slot_free(const pslot_t *t, size_t size, uint32_t h)
{
	size_t i = h & (size - 1);
	while (t[i].e != NULL)
		i = (i + 1) & (size - 1);
	return i;
}

/* Shard locked. */
static int pool_grow(shard_t *sh)
{
	size_t size = sh->size ? sh->size * 2 : 1024;
	pslot_t *t = calloc(size, sizeof(*t));
	if (t == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < sh->size; i++)
		if (sh->t[i].e != NULL)
			t[slot_free(t, size, sh->t[i].hash)] = sh->t[i];
	free(sh->t);
	sh->t = t;
	sh->size = size;
	return MN_OK;
}

/* Takes e out of its shard's table (locked): the slots after it that may move back do. */
static void slot_remove(shard_t *sh, const zshared_t *e)
{
	size_t mask = sh->size - 1, i = e->hash & mask;
	while (sh->t[i].e != e)
		i = (i + 1) & mask;
	for (size_t j = (i + 1) & mask; sh->t[j].e != NULL; j = (j + 1) & mask) {
		size_t k = sh->t[j].hash & mask;	/* where slot j's entry belongs */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			sh->t[i] = sh->t[j];
			i = j;
		}
	}
	sh->t[i].e = NULL;
}

/* Drops n references; the last frees the run (and an empty shard's table). */
static void pool_put_n(zshared_t *e, uint32_t n)
{
	shard_t *sh = shard_of(e->hash);
	pthread_mutex_lock(&sh->lock);
	assert(e->refs >= n);
	e->refs -= n;
	if (e->refs == 0) {
		slot_remove(sh, e);
		piece_free(e, e->big);
		if (--sh->n == 0) {
			free(sh->t);
			sh->t = NULL;
			sh->size = 0;
		}
	}
	pthread_mutex_unlock(&sh->lock);
}

static void pool_put(zshared_t *e)
{
	pool_put_n(e, 1);
}

/*
 * The pooled copy of rrs[i..j) (hash h) in the shard, with 1 + extra more
 * references, or NULL; *found: it was there already.  Shard unlocked.
 */
static zshared_t *pool_find_add(const zone_rr_t *rrs, size_t i, size_t j, uint32_t h, size_t len,
				uint32_t extra, bool *found)
{
	shard_t *sh = shard_of(h);
	pthread_mutex_lock(&sh->lock);
	for (size_t k = h & (sh->size - 1); sh->size > 0 && sh->t[k].e != NULL; k = (k + 1) & (sh->size - 1)) {
		zshared_t *e = sh->t[k].e;
		if (sh->t[k].hash == h && e->len == len && run_equal(e->bytes, rrs, i, j)) {
			assert(e->refs < UINT32_MAX - 1 - extra);
			e->refs += 1 + extra;
			pthread_mutex_unlock(&sh->lock);
			*found = true;
			return e;
		}
	}
	*found = false;
	zshared_t *e = NULL;
	bool big;
	if ((sh->n + 1) * 2 > sh->size && pool_grow(sh) < 0)
		goto out;
	e = piece_alloc(SLAB_POOL, sizeof(*e) + len, &big);
	if (e == NULL)
		goto out;
	e->big = big;
	e->hash = h;
	e->refs = 1;
	e->len = (uint32_t)len;
	uint8_t *p = e->bytes;
	for (size_t k = i; k < j; k++) {
		hdr_put(p, &rrs[k]);
		memcpy(p + 12, rrs[k].rdata, rrs[k].rdlen);
		p += 12u + rrs[k].rdlen;
	}
	sh->t[slot_free(sh->t, sh->size, h)] = (pslot_t){ .e = e, .hash = h };
	sh->n++;
out:
	pthread_mutex_unlock(&sh->lock);
	return e;
}

/*
 * The pooled copy of rrs[i..j) (hash h) with one more reference, or NULL.
 * An RRset found in the pool (every zone's NS set, a DMARC record many
 * domains share) is kept in the thread's slot with HOT_CREDIT references
 * taken at once: the next ones come from there, without the shard's lock or
 * its cache line going back and forth between the threads.  The slot always
 * holds at least one of them, so its entry cannot go meanwhile.
 */
static zshared_t *pool_get(const zone_rr_t *rrs, size_t i, size_t j, uint32_t h)
{
	size_t len = run_len(rrs, i, j);
	if (len > UINT32_MAX)
		return NULL;
	local_t *l = local_lock();
	hot_t *c = &l->hot[(h ^ h >> 16) & (HOT - 1)];
	zshared_t *e = c->e;
	if (e != NULL && e->hash == h && e->len == len && run_equal(e->bytes, rrs, i, j)) {
		if (c->credit == 1) {	/* the last one is the slot's own */
			bool found;
			if (pool_find_add(rrs, i, j, h, len, HOT_CREDIT - 1, &found) != e)
				abort();	/* held by the slot: it is there */
			c->credit += HOT_CREDIT;
		}
		c->credit--;
		pthread_mutex_unlock(&l->lock);
		return e;
	}
	pthread_mutex_unlock(&l->lock);
	bool found;
	e = pool_find_add(rrs, i, j, h, len, HOT_CREDIT, &found);
	if (e == NULL || !found)
		return e;
	/* seen before: to the slot, with the credit taken (the one it held goes back) */
	l = local_lock();
	c = &l->hot[(h ^ h >> 16) & (HOT - 1)];
	hot_t old = *c;
	*c = (hot_t){ .e = e, .credit = HOT_CREDIT };
	pthread_mutex_unlock(&l->lock);
	if (old.e != NULL)
		pool_put_n(old.e, old.credit);
	return e;
}

/* A frozen zone's references into the pool: right after its rrs[] in the block. */
static zshared_t **shared_refs(const zone_t *z)
{
	return (zshared_t **)(void *)((uint8_t *)z->mem + z->nrrs * sizeof(zone_rr_t));
}

static void shared_release(zone_t *z)
{
	zshared_t **refs = shared_refs(z);
	for (uint32_t k = 0; k < z->nshared; k++)
		pool_put(refs[k]);
	z->nshared = 0;
}

/* Does rrs[i] start an RRset other than the SOA (rrs[0])? */
static bool set_start(const zone_rr_t *rrs, size_t i)
{
	return i == 1 || (i > 1 && (!same_owner(&rrs[i], &rrs[i - 1]) || rrs[i].type != rrs[i - 1].type));
}

/*
 * Moves a sorted zone (SOA first) into one block: rrs[], the pool references,
 * the SOA in answer form, the distinct owners, the apex (unless it is the
 * first owner), the strings.  The other RRsets go to the pool, or when not
 * pooled into the block too (after the owners, in answer form like the
 * pool's): a zone taken whole from the signed store (sigstore.c), whose
 * RRsets another zone seldom has (its RRSIGs are its own), is not hashed.
 */
static int freeze(zone_t *z, bool borrowed, bool pooled)
{
	size_t n = z->nrrs, owners = 0, nsets = 0, sets_len = 0;
	assert(n > 0);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_owner(&z->rrs[i], &z->rrs[i - 1]))
			owners += z->rrs[i].owner_len;
		if (pooled)
			nsets += set_start(z->rrs, i);
		else if (i > 0)
			sets_len += 12u + z->rrs[i].rdlen;
	}
	if (nsets > UINT32_MAX)
		return MN_ERANGE;
	size_t soa_len = 12u + z->rrs[0].rdlen;
	bool apex_first = z->rrs[0].owner_len == z->apex_len &&
			  memcmp(z->rrs[0].owner, z->apex, z->apex_len) == 0;
	size_t total = n * sizeof(zone_rr_t) + nsets * sizeof(zshared_t *) + soa_len + owners + sets_len +
		       (apex_first ? 0 : z->apex_len) + z->strs_len;
	bool big;
	uint8_t *blk = piece_alloc(SLAB_ZONES, total, &big);
	if (blk == NULL)
		return MN_ENOMEM;
	zone_rr_t *v = (zone_rr_t *)(void *)blk;
	zshared_t **refs = (zshared_t **)(void *)(blk + n * sizeof(zone_rr_t));
	uint8_t *p = (uint8_t *)(refs + nsets), *q = p + soa_len;
	for (size_t i = 0; i < n; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		v[i] = *rr;
		if (i > 0 && same_owner(rr, &z->rrs[i - 1])) {
			v[i].owner = v[i - 1].owner;
		} else {
			memcpy(q, rr->owner, rr->owner_len);
			v[i].owner = q;
			q += rr->owner_len;
		}
	}
	hdr_put(p, &z->rrs[0]);
	memcpy(p + 12, z->rrs[0].rdata, z->rrs[0].rdlen);
	v[0].rdata = p + 12;
	size_t ns = 0;
	for (size_t i = 1; !pooled && i < n; i++) {
		hdr_put(q, &z->rrs[i]);
		memcpy(q + 12, z->rrs[i].rdata, z->rrs[i].rdlen);
		v[i].rdata = q + 12;
		q += 12u + z->rrs[i].rdlen;
	}
	for (size_t i = 1; pooled && i < n;) {
		size_t j = i + 1;
		while (j < n && !set_start(z->rrs, j))
			j++;
		zshared_t *e = pool_get(z->rrs, i, j, run_hash(z->rrs, i, j));
		if (e == NULL) {
			while (ns > 0)
				pool_put(refs[--ns]);
			piece_free(blk, big);
			return MN_ENOMEM;
		}
		refs[ns++] = e;
		uint8_t *r = e->bytes;
		for (size_t k = i; k < j; k++) {
			v[k].rdata = r + 12;
			r += 12u + z->rrs[k].rdlen;
		}
		i = j;
	}
	assert(ns == nsets);
	const uint8_t *apex = apex_first ? v[0].owner : q;
	if (!apex_first) {
		memcpy(q, z->apex, z->apex_len);
		q += z->apex_len;
	}
	size_t doff = (size_t)(z->domain - z->name);
	memcpy(q, z->name, z->strs_len);
	assert(q + z->strs_len == blk + total);
	if (borrowed)
		free(z->rrs);	/* (the records' bytes are the caller's) */
	else
		rrs_free(z->rrs, n);
	build_free(z->mem, (size_t)z->apex_len + z->strs_len);
	z->mem = blk;
	z->mem_big = big;
	z->rrs = v;
	z->nshared = (uint32_t)nsets;
	z->apex = apex;
	z->name = (char *)q;
	z->domain = z->name + doff;
	z->frozen = true;
	return MN_OK;
}

/*
 * The bytes digest_of() hashes, gathered into a buffer: one update a
 * buffer rather than three for each record (300,000 zones at 100,000 domains).
 */
typedef struct dbuf {
	EVP_MD_CTX *md;
	size_t n;
	bool ok;
	uint8_t b[2048];
} dbuf_t;

static void dbuf_add(dbuf_t *d, const void *p, size_t len)
{
	if (d->n + len > sizeof(d->b)) {
		d->ok = d->ok && EVP_DigestUpdate(d->md, d->b, d->n);
		d->n = 0;
	}
	if (len > sizeof(d->b)) {
		d->ok = d->ok && EVP_DigestUpdate(d->md, p, len);
		return;
	}
	memcpy(d->b + d->n, p, len);
	d->n += len;
}

/*
 * z->digest: SHA-256 of each record's owner, type, TTL, rdlength (32 bits)
 * and RDATA, the SOA's without its serial (at so).  The context is the
 * thread's slot's, made once.
 */
static int digest_of(zone_t *z, size_t so)
{
	const EVP_MD *sha256 = mn_sha256();
	if (sha256 == NULL)
		return MN_ENOMEM;
	local_t *l = local_lock();
	if (l->md == NULL)
		l->md = EVP_MD_CTX_new();
	dbuf_t d = { .md = l->md, .ok = l->md != NULL && EVP_DigestInit_ex(l->md, sha256, NULL) };
	for (size_t i = 0; d.ok && i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		uint8_t hdr[10];
		mn_put16(hdr, rr->type);
		mn_put32(hdr + 2, rr->ttl);
		mn_put32(hdr + 6, rr->rdlen);
		dbuf_add(&d, rr->owner, rr->owner_len);
		dbuf_add(&d, hdr, sizeof(hdr));
		if (i == 0) {	/* the SOA without its serial */
			dbuf_add(&d, rr->rdata, so);
			dbuf_add(&d, rr->rdata + so + 4, rr->rdlen - so - 4);
		} else {
			dbuf_add(&d, rr->rdata, rr->rdlen);
		}
	}
	unsigned int dlen = 0;
	d.ok = d.ok && EVP_DigestUpdate(d.md, d.b, d.n) && EVP_DigestFinal_ex(d.md, z->digest, &dlen);
	pthread_mutex_unlock(&l->lock);
	return d.ok && dlen == sizeof(z->digest) ? MN_OK : MN_ENOMEM;
}

int zone_finish(zone_t *z)
{
	if (z == NULL)
		return MN_EINVAL;
	if (z->frozen) {
		int r = thaw(z);
		if (r < 0)
			return r;
	}
	if (z->nrrs > 1)
		qsort(z->rrs, z->nrrs, sizeof(*z->rrs), rr_cmp);
	size_t w = 0;
	for (size_t i = 0; i < z->nrrs; i++) {
		if (w > 0 && rr_cmp(&z->rrs[w - 1], &z->rrs[i]) == 0) {
			rr_free(&z->rrs[i]);
			continue;
		}
		z->rrs[w++] = z->rrs[i];
	}
	z->nrrs = w;
	if (z->nrrs == 0 || z->rrs[0].type != ZONE_T_SOA)
		return MN_EINVAL;
	if (z->nrrs > 1 && z->rrs[1].type == ZONE_T_SOA)
		return MN_EINVAL;	/* two SOAs */
	long so = soa_serial_off(&z->rrs[0]);
	if (so < 0)
		return MN_EINVAL;
	int r = freeze(z, false, true);
	if (r < 0)
		return r;
	z->serial = mn_get32(z->rrs[0].rdata + so);
	uint32_t minimum = mn_get32(z->rrs[0].rdata + so + 16);
	z->negative_ttl = z->rrs[0].ttl < minimum ? z->rrs[0].ttl : minimum;
	return digest_of(z, (size_t)so);
}

/* Is the wire name n[0..len) well formed, ending in the root label exactly at len? */
static bool wire_name_ok(const uint8_t *n, size_t len)
{
	size_t o = 0;
	while (o < len && n[o] != 0) {
		if (n[o] > 63)
			return false;
		o += n[o] + 1u;
	}
	return o + 1 == len;
}

/*
 * The block of a zone whose records but the SOA stay in backing memory: rrs[],
 * the SOA in answer form, the apex, the strings (freeze()'s layout without
 * owners, pool references or RRsets).
 */
static int freeze_backed(zone_t *z, const zone_rr_t *rrs, size_t n)
{
	size_t soa_len = 12u + rrs[0].rdlen;
	size_t total = n * sizeof(zone_rr_t) + soa_len + z->apex_len + z->strs_len;
	bool big;
	uint8_t *blk = piece_alloc(SLAB_ZONES, total, &big);
	if (blk == NULL)
		return MN_ENOMEM;
	zone_rr_t *v = (zone_rr_t *)(void *)blk;
	memcpy(v, rrs, n * sizeof(*v));
	uint8_t *p = blk + n * sizeof(zone_rr_t);
	hdr_put(p, &rrs[0]);
	memcpy(p + 12, rrs[0].rdata, rrs[0].rdlen);
	v[0].rdata = p + 12;
	uint8_t *q = p + soa_len;
	memcpy(q, z->apex, z->apex_len);
	const uint8_t *apex = q;
	q += z->apex_len;
	size_t doff = (size_t)(z->domain - z->name);
	memcpy(q, z->name, z->strs_len);
	assert(q + z->strs_len == blk + total);
	build_free(z->mem, (size_t)z->apex_len + z->strs_len);
	z->mem = blk;
	z->mem_big = big;
	z->rrs = v;
	z->nrrs = n;
	z->nshared = 0;
	z->apex = apex;
	z->name = (char *)q;
	z->domain = z->name + doff;
	z->frozen = true;
	return MN_OK;
}

/* rrs[0..n) as zone_finish_sorted() takes them: MN_OK, or MN_EINVAL with the SOA's serial offset < 0. */
static int sorted_ok(const zone_t *z, const zone_rr_t *rrs, size_t n, long *so)
{
	if (z == NULL || z->frozen || z->nrrs != 0 || rrs == NULL || n == 0 || n > UINT32_MAX ||
	    rrs[0].type != ZONE_T_SOA || (*so = soa_serial_off(&rrs[0])) < 0)
		return MN_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const zone_rr_t *rr = &rrs[i];
		if (i > 0 && rr->type == ZONE_T_SOA)
			return MN_EINVAL;
		if (i > 0 && rr->owner == rrs[i - 1].owner && rr->owner_len == rrs[i - 1].owner_len)
			continue;	/* (the same bytes: looked at) */
		/* (the order is the caller's word: a finished zone's, its bytes checksummed) */
		if (rr->owner_len > 255 || rr->owner_len < z->apex_len ||
		    memcmp(rr->owner + rr->owner_len - z->apex_len, z->apex, z->apex_len) != 0 ||
		    !wire_name_ok(rr->owner, rr->owner_len))
			return MN_EINVAL;
	}
	return MN_OK;
}

/* The SOA's fields into z once its records are in place. */
static void soa_fields(zone_t *z, long so, const uint8_t digest[32])
{
	z->serial = mn_get32(z->rrs[0].rdata + so);
	uint32_t minimum = mn_get32(z->rrs[0].rdata + so + 16);
	z->negative_ttl = z->rrs[0].ttl < minimum ? z->rrs[0].ttl : minimum;
	memcpy(z->digest, digest, sizeof(z->digest));
}

int zone_finish_sorted(zone_t *z, const zone_rr_t *rrs, size_t n, const uint8_t digest[32])
{
	long so = -1;
	if (sorted_ok(z, rrs, n, &so) != MN_OK)
		return MN_EINVAL;
	zone_rr_t *v = malloc(n * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	memcpy(v, rrs, n * sizeof(*v));
	rrs_free(z->rrs, 0);
	z->rrs = v;
	z->nrrs = n;
	z->cap = (uint32_t)n;
	int r = freeze(z, true, false);
	if (r < 0) {
		z->rrs = NULL;
		z->nrrs = 0;
		z->cap = 0;
		free(v);
		return r;
	}
	soa_fields(z, so, digest);
	return MN_OK;
}

int zone_finish_backed(zone_t *z, const zone_rr_t *rrs, size_t n, const uint8_t digest[32], zone_backing_t *b)
{
	long so = -1;
	if (b == NULL || sorted_ok(z, rrs, n, &so) != MN_OK)
		return MN_EINVAL;
	for (size_t i = 1; i < n; i++) {
		const zone_rr_t *rr = &rrs[i];
		const uint8_t *h = rr->rdata - 12;
		if (h[0] != 0xc0 || h[1] != 12 || mn_get16(h + 2) != rr->type || mn_get16(h + 4) != 1 ||
		    mn_get32(h + 6) != rr->ttl || mn_get16(h + 10) != rr->rdlen)
			return MN_EINVAL;
		if (i > 1 && !set_start(rrs, i) && rr->rdata != rrs[i - 1].rdata + rrs[i - 1].rdlen + 12)
			return MN_EINVAL;	/* (an RRset is served as one run) */
	}
	int r = freeze_backed(z, rrs, n);
	if (r != MN_OK)
		return r;
	zone_backing_ref(b);
	z->backing = b;
	soa_fields(z, so, digest);
	return MN_OK;
}

void zone_set_serial(zone_t *z, uint32_t serial)
{
	assert(z != NULL && z->nrrs > 0 && z->rrs[0].type == ZONE_T_SOA);
	long so = soa_serial_off(&z->rrs[0]);
	assert(so >= 0);
	mn_put32(z->rrs[0].rdata + so, serial);
	z->serial = serial;
}

long zone_find(const zone_t *z, const uint8_t *owner, uint16_t owner_len, uint16_t type)
{
	for (size_t i = 0; i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		if (rr->type == type && rr->owner_len == owner_len &&
		    zone_name_cmp(rr->owner, rr->owner_len, owner, owner_len) == 0)
			return (long)i;
	}
	return -1;
}

const char *zone_kind_name(zone_kind_t k)
{
	switch (k) {
	case ZONE_DKIM: return "dkim";
	case ZONE_DMARC: return "dmarc";
	case ZONE_SPF: return "spf";
	case ZONE_MTA_STS: return "mta-sts";
	case ZONE_TLSRPT: return "tlsrpt";
	case ZONE_BIMI: return "bimi";
	}
	return "?";
}

void zones_free(zones_t *zs)
{
	if (zs == NULL)
		return;
	/* (with hold: O(1), the zones are the cache's, unless the set was changed since) */
	for (size_t i = 0; (zs->hold == NULL || zs->owns_some) && i < zs->n; i++)
		if (zs->v[i] != NULL && !zs->v[i]->cached)	/* (a compile's output before its cache took the zones: borrowed ones) */
			zone_unref(zs->v[i]);
	zone_epoch_unref(zs->hold);
	free(zs->v);
	free(zs);
}

/* ---- epochs ---- */

struct zone_epoch {
	unsigned refs;		/* atomic */
	zone_t *retired;	/* linked by retired_next */
	zone_epoch_t *next;	/* held (zone_epoch_chain) */
};

int zone_epoch_new(zone_epoch_t **out)
{
	if (out == NULL)
		return MN_EINVAL;
	zone_epoch_t *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return MN_ENOMEM;
	e->refs = 1;
	*out = e;
	return MN_OK;
}

zone_epoch_t *zone_epoch_ref(zone_epoch_t *e)
{
	if (e != NULL)
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	return e;
}

void zone_epoch_unref(zone_epoch_t *e)
{
	/* (a loop, not a recursion: a long chain of epochs going at once) */
	while (e != NULL && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		zone_t *z = e->retired;
		while (z != NULL) {
			zone_t *n = z->retired_next;
			zone_unref(z);
			z = n;
		}
		zone_epoch_t *next = e->next;
		free(e);
		e = next;
	}
}

void zone_epoch_retire(zone_epoch_t *e, zone_t *z)
{
	assert(e != NULL && z != NULL);
	z->retired_next = e->retired;
	e->retired = z;
}

void zone_epoch_chain(zone_epoch_t *e, zone_epoch_t *next)
{
	assert(e != NULL && e->next == NULL && e != next);
	e->next = zone_epoch_ref(next);
}

const zone_t *zones_match(zones_cursor_t *c, const zone_t *z)
{
	if (c->zs == NULL)
		return NULL;
	const zones_t *zs = c->zs;
	if (c->i < zs->n && zs->v[c->i] == z)
		return zs->v[c->i++];
	while (c->i < zs->n) {
		int k = strcmp(zs->v[c->i]->name, z->name);
		if (k == 0)
			return zs->v[c->i++];
		if (k > 0)
			return NULL;
		c->i++;
	}
	return NULL;
}

const zone_t *zones_find(const zones_t *zs, const char *apex)
{
	size_t lo = 0, hi = zs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(zs->v[mid]->name, apex);
		if (c == 0)
			return zs->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- accessors ---- */

const char *zone_name(const zone_t *z)
{
	return z->name;
}

const char *zone_domain(const zone_t *z)
{
	return z->domain;
}

zone_kind_t zone_kind(const zone_t *z)
{
	return z->kind;
}

uint32_t zone_serial(const zone_t *z)
{
	return z->serial;
}

uint32_t zone_negative_ttl(const zone_t *z)
{
	return z->negative_ttl;
}

const uint8_t *zone_digest(const zone_t *z)
{
	return z->digest;
}

const uint8_t *zone_apex(const zone_t *z)
{
	return z->apex;
}

size_t zone_apex_len(const zone_t *z)
{
	return z->apex_len;
}

size_t zone_nrrs(const zone_t *z)
{
	return z->nrrs;
}

const zone_rr_t *zone_rr(const zone_t *z, size_t i)
{
	assert(i < z->nrrs);
	return &z->rrs[i];
}

void zone_iter_init(zone_iter_t *it, const zone_t *z)
{
	it->z = z;
	it->i = 0;
}

const zone_rr_t *zone_iter_next(zone_iter_t *it)
{
	if (it->z == NULL || it->i >= it->z->nrrs)
		return NULL;
	return &it->z->rrs[it->i++];
}
