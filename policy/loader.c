/* SPDX-License-Identifier: GPL-3.0-or-later */
/* loader.c -- reads a policy's top file and its includes (in parallel), with the parse cache for reloads */
#include <assert.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "policy/map.h"
#include "policy/policy_internal.h"
#include "policy/pool.h"
#include "policy/schema.h"

typedef struct fileid { dev_t dev; ino_t ino; } fileid_t;

enum { PFILE_DIGEST = 32, STAT_SETTLED_S = 1 };

/* What stat() says of a file, compared to skip reading it (see pfile_t). */
typedef struct pfile_stat {
	bool valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
} pfile_stat_t;

/*
 * One included file's parse, kept by a policy_cache_t and shared by every
 * policy made from it (each holds a reference): the strings and arrays its
 * domains point to, its messages, the name positions point to, its
 * domains' names and the few whose present maps differ from the maps they
 * set keys in (pfile_t.odd).  The domains themselves are
 * kept once, merged, in the cache's set (dset_t): a load that needs them as
 * converted takes them from there (set_unmerge).  It stands for the file at
 * the same path (resolved against the same directory) while the file's bytes
 * have the same SHA-256, and may be reused only while the cache's set holds
 * its domains (set_id).
 *
 * A load first stat()s each included file: when its identity (device, inode,
 * size, modification and status-change times in ns) is the one recorded when
 * its bytes were last read, it is not read at all.  The status-change time
 * cannot be set by a user and moves with every write, rename or utimensat(),
 * so an edit that keeps the size and puts the modification time back is
 * still read.  Otherwise the file is read and hashed, and parsed again only
 * when the digest changed.  An identity is recorded only when the file's
 * times are at least STAT_SETTLED_S older than the load's start: a write
 * in the same clock tick as the one read (file times are coarse) would keep
 * every field, so a file that recent is read and hashed again next time.
 */
typedef struct pfile {
	char *name;			/* the path as globbed; positions point here */
	char *dir;			/* relative paths were resolved against it */
	unsigned char digest[PFILE_DIGEST];	/* SHA-256 of the bytes parsed */
	pfile_stat_t st;		/* when valid: the file's identity when those bytes were read */
	yarena_t *arena;
	size_t ndomains;
	const char **names;		/* the domains' names in file order (strings in arena) */
	struct pfile_own *odd;		/* the domains whose present maps are not those they set keys in */
	size_t nodd;			/* (sorted by the name's address; usually none) */
	policy_domain_t *conv;		/* during the load that parsed it: its domains as converted */
	uint64_t set_id;		/* the id of the cache's set holding its domains, 0 when none */
	diag_t *diag;
	unsigned refs;			/* atomic: policies are freed on any thread */
} pfile_t;

/*
 * The domains of a cache's last successful load, sorted by name and merged
 * with its defaults (issue 17), so that a reload patches in the domains of
 * the included files whose parse changed instead of gathering, sorting and
 * merging every domain again.  It is the cache's only copy of the included
 * files' domains: a full rebuild takes an unchanged file's from v, the merge
 * undone (set_unmerge).  It stands for a load whose top file had the
 * bytes of SHA-256 `top` (against dir) and whose include list was files[]
 * in that order; v is exactly the top file's domains and those files'
 * domains, merged with defaults and dnssec, whose strings (with the top
 * file's domains') live in arena.  Policies use v by reference
 * (priv_t.set); a load patches v in place only when the cache holds the one
 * reference left (the previous policy was freed, as mailnsd does after each
 * compile), otherwise it rebuilds in full.
 */
typedef struct dset {
	unsigned refs;			/* atomic: the cache and each policy using v */
	uint64_t id;			/* the cache's number for it, from 1 (pfile_t.set_id) */
	policy_domain_t *v;
	size_t n, cap;
	yarena_t *arena;		/* the top file's conversion the set was built from */
	policy_domain_t defaults;	/* `defaults:` as merged (built-in ones filled) */
	policy_dnssec_t dnssec;		/* server.dnssec as merged */
	unsigned char top[PFILE_DIGEST];
	char *dir;
	pfile_t **files;		/* a reference each */
	size_t nfiles;
	const char **family;		/* names (in v) of the domains the family checks have messages for, sorted */
	size_t nfamily;
} dset_t;

struct policy_cache {
	mn_map_t files;			/* name -> pfile_t (one reference each) */
	dset_t *set;			/* the last successful load's domains (one reference), or NULL */
	uint64_t sets;			/* sets made (their ids) */
	uint64_t gen;			/* successful loads */
	size_t reused;			/* files taken from the cache by the last load */
	size_t read;			/* included files read (and hashed) by the last load */
};

/*
 * The cache keeps each domain once (issue 17): merged with the defaults, in
 * its set.  What schema_merge() changed in a domain is undone from the
 * positions: a value whose position is not in the domain's own file came
 * from `defaults:`, server.dnssec or a built-in default (zeroed again), and
 * a SCHEMA_PRESENT map is present when the domain sets a key in it, but for
 * the few domains pfile_t.odd lists (an empty map written: `spf: {}`).
 */
typedef struct ukey {
	size_t off, size, pos;		/* size 0: a present flag */
	uint8_t maps;			/* the present flags (bits) of the maps it is in */
} ukey_t;

enum { UKEYS_MAX = 128, OWN_BITS = 8 };

typedef struct pfile_own {
	const char *name;
	uint8_t own;			/* its present maps, a bit each */
} pfile_own_t;

/* The keys of table (a struct at base) that the merge looks at, in its order. */
static size_t ukeys(const schema_item_t *table, size_t base, uint8_t maps, unsigned *bit, ukey_t *v, size_t n)
{
	static const max_align_t any;
	for (const schema_item_t *it = table; it->name != NULL; it++) {
		size_t off = base + it->offset;
		if (it->type == SCHEMA_MAP) {
			uint8_t in = maps;
			if (it->flags & SCHEMA_PRESENT) {
				assert(n < UKEYS_MAX && *bit < OWN_BITS);
				v[n++] = (ukey_t){ off, 0, 0, 0 };
				in |= (uint8_t)(1u << (*bit)++);
			}
			n = ukeys(it->sub, off, in, bit, v, n);
			continue;
		}
		assert(n < UKEYS_MAX);
		const char *f = (const char *)&any;
		v[n++] = (ukey_t){ off, schema_type_size(it->type),
				   (size_t)((const char *)schema_field_pos(it->type, f) - f), maps };
	}
	return n;
}

static size_t domain_keys(ukey_t *v)
{
	unsigned bit = 0;
	return ukeys(schema_domain, 0, 0, &bit, v, 0);
}

/* The present maps of d, a bit each in ukeys() order. */
static uint8_t present_bits(const policy_domain_t *d, const ukey_t *k, size_t nk)
{
	uint8_t own = 0;
	unsigned bit = 0;
	for (size_t i = 0; i < nk; i++) {
		if (k[i].size != 0)
			continue;
		if (*(const bool *)((const char *)d + k[i].off))
			own |= (uint8_t)(1u << bit);
		bit++;
	}
	return own;
}

/* The maps d sets a key of file in (merged or not). */
static uint8_t keyed_maps(const policy_domain_t *d, const char *file, const ukey_t *k, size_t nk)
{
	uint8_t maps = 0;
	for (size_t i = 0; i < nk; i++)
		if (k[i].size != 0 && ((const mn_pos_t *)((const char *)d + k[i].off + k[i].pos))->file == file)
			maps |= k[i].maps;
	return maps;
}

static int cmp_own(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const pfile_own_t *)a)->name, y = (uintptr_t)((const pfile_own_t *)b)->name;
	return (x > y) - (x < y);
}

/* f's domain names and odd present maps, from its n converted domains; MN_ENOMEM. */
static int pfile_index(pfile_t *f, const policy_domain_t *v, size_t n)
{
	ukey_t k[UKEYS_MAX];
	size_t nk = domain_keys(k);
	if ((f->names = malloc((n + 1) * sizeof(*f->names))) == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		f->names[i] = v[i].name;
		uint8_t own = present_bits(&v[i], k, nk);
		if (own == keyed_maps(&v[i], f->name, k, nk))
			continue;
		pfile_own_t *o = realloc(f->odd, (f->nodd + 1) * sizeof(*o));
		if (o == NULL)
			return MN_ENOMEM;
		f->odd = o;
		f->odd[f->nodd++] = (pfile_own_t){ v[i].name, own };
	}
	if (f->nodd > 1)
		qsort(f->odd, f->nodd, sizeof(*f->odd), cmp_own);
	return MN_OK;
}

/* d (merged, of file f) as converted into out. */
static void unmerge(policy_domain_t *out, const policy_domain_t *d, const pfile_t *f, const ukey_t *k, size_t nk)
{
	const char *from = (const char *)d;
	char *to = (char *)out;
	uint8_t own = 0;
	memset(out, 0, sizeof(*out));
	out->name = d->name;
	out->pos = d->pos;
	for (size_t i = 0; i < nk; i++) {
		if (k[i].size == 0)
			continue;
		const mn_pos_t *pos = (const mn_pos_t *)(from + k[i].off + k[i].pos);
		if (pos->file != f->name)
			continue;	/* from `defaults:`, server.dnssec or built in */
		own |= k[i].maps;
		/* (8-byte words: every key's storage holds a pointer) */
		uint64_t *t = (uint64_t *)(void *)(to + k[i].off);
		const uint64_t *w = (const uint64_t *)(const void *)(from + k[i].off);
		for (size_t x = 0; x < k[i].size / 8; x++)
			t[x] = w[x];
	}
	if (f->nodd > 0) {
		pfile_own_t key = { d->name, 0 };
		const pfile_own_t *o = bsearch(&key, f->odd, f->nodd, sizeof(*f->odd), cmp_own);
		if (o != NULL)
			own = o->own;
	}
	unsigned bit = 0;
	for (size_t i = 0; i < nk; i++)
		if (k[i].size == 0)
			*(bool *)(to + k[i].off) = (own >> bit++) & 1u;
}

size_t policy_cache_bytes(const policy_cache_t *c)
{
	size_t n = c != NULL && c->set != NULL ? c->set->cap * sizeof(policy_domain_t) : 0;
	for (size_t i = 0; c != NULL && i < c->files.cap; i++) {
		const pfile_t *f = c->files.slot[i].val;
		if (c->files.slot[i].key != NULL && f->names != NULL)
			n += f->ndomains * sizeof(*f->names) + f->nodd * sizeof(*f->odd);
	}
	return n;
}

/* What a policy_t's priv holds. */
typedef struct priv {
	yarena_t *arena;
	pfile_t **held;
	size_t nheld;
	policy_domain_t defaults;	/* `defaults:` with the built-in ones, as merged (strings in arena) */
	bool has_defaults;
	mn_map_t byname;		/* held parses by name (policy_file_digest) */
	dset_t *set;			/* when set: p->domains are set->v (a reference; arena is then the set's) */
} priv_t;

/*
 * One entry of the include list: an included file, read, parsed and
 * converted on its own (on any thread) into its own diag, arena and domains,
 * then merged into the policy in include order; or (path NULL) just the
 * entry's own error, kept in its place in that order.
 */
typedef struct job {
	const ynode_t *item;		/* the include entry (for errors) */
	const char *top_file;
	char *path;			/* malloc'd */
	const char *name;		/* the file's name in positions (policy-owned) */
	diag_t *diag;
	int read;			/* ydoc_load()'s result */
	yarena_t *arena;		/* the converted domains' strings and arrays */
	policy_domain_t *domains;
	size_t ndomains;
	int oom;
	pfile_t *file;			/* with a cache: the parse reused or made (one reference) */
	bool reused;
	bool was_read;			/* its bytes were read (not known unchanged by stat alone) */
} job_t;

typedef struct loader {
	policy_conv_t cv;		/* the top file's conversion (p, diag, ctx) */
	size_t files_cap;
	fileid_t *ids;			/* of every file read, to read each once */
	size_t nids;
	const char *reldir;		/* the top file's directory as given ("" for the cwd) */
	job_t *jobs;			/* the include list, in order */
	size_t njobs, jobs_cap;
	const policy_cache_t *cache;	/* NULL: parse every file */
	struct timespec start;		/* CLOCK_REALTIME at the load's start (file times are realtime) */
	bool only_includes;		/* policy_includes_read(): the top file's patterns, no file read */
	priv_t *priv;
} loader_t;
/* ---- files -------------------------------------------------------------------- */

/* Records a file name; the returned string (owned by the policy) names it in positions. */
static const char *add_file(loader_t *ld, const char *name)
{
	policy_t *p = ld->cv.p;
	if (p->nfiles == ld->files_cap) {
		size_t cap = ld->files_cap ? ld->files_cap * 2 : 8;
		char **v = realloc(p->files, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		p->files = v;
		ld->files_cap = cap;
	}
	char *s = yarena_strdup(ld->cv.ctx.arena, name);
	if (s == NULL)
		return NULL;
	p->files[p->nfiles++] = s;
	return s;
}

/* True when path was read already (or cannot be stat'ed: then reading reports it). */
static int seen_file(loader_t *ld, const char *path, bool *seen)
{
	struct stat st;
	*seen = false;
	if (stat(path, &st) < 0)
		return MN_OK;
	for (size_t i = 0; i < ld->nids; i++) {
		if (ld->ids[i].dev == st.st_dev && ld->ids[i].ino == st.st_ino) {
			*seen = true;
			return MN_OK;
		}
	}
	fileid_t *v = realloc(ld->ids, (ld->nids + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	ld->ids = v;
	ld->ids[ld->nids].dev = st.st_dev;
	ld->ids[ld->nids].ino = st.st_ino;
	ld->nids++;
	return MN_OK;
}

/* ---- the parse cache -------------------------------------------------------------- */

static void pfile_unref(pfile_t *f)
{
	if (f == NULL || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	yarena_free(f->arena);
	free(f->names);
	free(f->odd);
	free(f->conv);
	diag_free(f->diag);
	free(f->name);
	free(f->dir);
	free(f);
}

static void dset_unref(dset_t *s)
{
	if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(s->v);
	yarena_free(s->arena);
	for (size_t i = 0; i < s->nfiles; i++)
		pfile_unref(s->files[i]);
	free(s->files);
	free(s->family);
	free(s->dir);
	free(s);
}

int policy_cache_new(policy_cache_t **out)
{
	if (out == NULL)
		return MN_EINVAL;
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return MN_ENOMEM;
	return MN_OK;
}

static void cache_clear(policy_cache_t *c)
{
	for (size_t i = 0; i < c->files.cap; i++)
		if (c->files.slot[i].key != NULL)
			pfile_unref(c->files.slot[i].val);
	mn_map_free(&c->files);
}

void policy_cache_free(policy_cache_t *c)
{
	if (c == NULL)
		return;
	cache_clear(c);
	dset_unref(c->set);
	free(c);
}

size_t policy_cache_reused(const policy_cache_t *c)
{
	return c != NULL ? c->reused : 0;
}

size_t policy_cache_read(const policy_cache_t *c)
{
	return c != NULL ? c->read : 0;
}

/* Is t at least STAT_SETTLED_S before start? */
static bool settled(const struct timespec *t, const struct timespec *start)
{
	time_t s = t->tv_sec + STAT_SETTLED_S;
	return s < start->tv_sec || (s == start->tv_sec && t->tv_nsec < start->tv_nsec);
}

/* path's identity into *st (st->valid false when it cannot be stat'ed or is too recent to trust). */
static void pfile_stat(const loader_t *ld, const char *path, pfile_stat_t *st)
{
	struct stat sb;
	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim;
	/* (a modification time in the future, set by hand, is not trusted either) */
	st->valid = settled(&sb.st_ctim, &ld->start) && settled(&sb.st_mtim, &ld->start);
}

static bool pfile_stat_same(const pfile_stat_t *a, const pfile_stat_t *b)
{
	return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * The cached parse of j's file when it is usable for this load's directory
 * (and its domains are in the cache's set), or NULL.
 */
static pfile_t *cache_get(const loader_t *ld, const job_t *j)
{
	const dset_t *s = ld->cache->set;
	pfile_t *f = mn_map_gets(&ld->cache->files, j->path);
	return f != NULL && s != NULL && f->set_id == s->id && strcmp(f->dir, ld->cv.ctx.dir) == 0 ? f : NULL;
}

/* j takes the cached parse f (one more reference). */
static void job_reuse(job_t *j, pfile_t *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	j->file = f;
	j->reused = true;
}

/* The cache becomes the good files of pv (a reference each); the old entries go. */
static int cache_install(policy_cache_t *c, const priv_t *pv)
{
	mn_map_t m = { 0 };
	if (mn_map_init(&m, pv->nheld) < 0)
		return MN_ENOMEM;
	for (size_t i = 0; i < pv->nheld; i++) {
		pfile_t *f = pv->held[i];
		if (f->arena == NULL)
			continue;	/* not read, or not converted */
		void **v = mn_map_put(&m, f->name, strlen(f->name));
		if (v == NULL) {
			for (size_t k = 0; k < m.cap; k++)
				if (m.slot[k].key != NULL)
					pfile_unref(m.slot[k].val);
			mn_map_free(&m);
			return MN_ENOMEM;
		}
		if (*v != NULL)
			continue;
		__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
		*v = f;
	}
	cache_clear(c);
	c->files = m;
	return MN_OK;
}

/* A reused file's domains, wanted as converted at dest (set_unmerge). */
typedef struct want {
	const pfile_t *f;
	policy_domain_t *dest;
} want_t;

/* A file name's slot in a table of 1 << bits (by its address). */
static size_t ptr_slot(const void *p, unsigned bits)
{
	return (size_t)(((uint64_t)(uintptr_t)p * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - bits));
}

typedef struct unmerge_job {
	const dset_t *s;
	const want_t *w;
	const uint32_t *h;		/* want index + 1 by file name (0: empty) */
	unsigned bits;
	size_t *next[2];		/* per want: the first half's next slot up, the second's down */
	ukey_t k[UKEYS_MAX];
	size_t nk;
	bool over[2];
} unmerge_job_t;

/*
 * One half of the set (a thread each at 10,000 domains and more, as the
 * merge): the first half fills each file's slots from its start, the second
 * from its end, so each file's domains end up in name order.
 */
static void unmerge_half(void *arg, size_t half)
{
	unmerge_job_t *j = arg;
	size_t lo = half == 0 ? 0 : j->s->n / 2, hi = half == 0 ? j->s->n / 2 : j->s->n;
	const size_t mask = ((size_t)1 << j->bits) - 1;
	size_t *next = j->next[half];
	for (size_t i = lo; i < hi; i++) {
		const policy_domain_t *d = &j->s->v[i];
		size_t at = ptr_slot(d->pos.file, j->bits);
		while (j->h[at] != 0 && j->w[j->h[at] - 1].f->name != d->pos.file)
			at = (at + 1) & mask;
		if (j->h[at] == 0)
			continue;	/* the top file's, or a file not wanted */
		size_t wi = j->h[at] - 1;
		const pfile_t *f = j->w[wi].f;
		if (half == 0 ? next[wi] >= f->ndomains : next[wi] == 0) {
			j->over[half] = true;	/* (cannot be: the set holds each once) */
			continue;
		}
		policy_domain_t *dest = j->w[wi].dest + (half == 0 ? next[wi]++ : --next[wi]);
		unmerge(dest, d, f, j->k, j->nk);
	}
}

/*
 * The domains of the files w[0..nw) as converted, each file's (in name order)
 * at its dest, from s (the cache's set, which holds them all, merged): one
 * pass over s, each domain's file found by the address of its name (the one
 * positions point to).  MN_OK, MN_ENOMEM, or MN_ESTATE when s has not exactly
 * a file's domains (cannot be: cache_get() reuses only a parse whose domains
 * s holds).
 */
static int set_unmerge(const dset_t *s, const want_t *w, size_t nw)
{
	int ret = MN_ENOMEM;
	unsigned bits = 4;
	for (size_t i = 0; i < nw; i++)
		if (s == NULL || w[i].f->set_id != s->id || i >= UINT32_MAX)
			return MN_ESTATE;
	if (nw == 0)
		return MN_OK;
	while (((size_t)1 << bits) < 2 * nw)
		bits++;
	const size_t mask = ((size_t)1 << bits) - 1;
	uint32_t *h = calloc(mask + 1, sizeof(*h));
	unmerge_job_t *j = calloc(1, sizeof(*j));
	size_t *next = calloc(2 * nw, sizeof(*next));
	if (h == NULL || j == NULL || next == NULL)
		goto out;
	for (size_t i = 0; i < nw; i++) {
		size_t at = ptr_slot(w[i].f->name, bits);
		while (h[at] != 0)
			at = (at + 1) & mask;
		h[at] = (uint32_t)i + 1;
		next[nw + i] = w[i].f->ndomains;
	}
	*j = (unmerge_job_t){ .s = s, .w = w, .h = h, .bits = bits, .next = { next, next + nw } };
	j->nk = domain_keys(j->k);
	mn_pool_run(2, s->n >= 10000 ? 0 : 1, unmerge_half, j);
	ret = j->over[0] || j->over[1] ? MN_ESTATE : MN_OK;
	for (size_t i = 0; i < nw && ret == MN_OK; i++)
		if (next[i] != next[nw + i])
			ret = MN_ESTATE;	/* a slot left empty */
out:
	free(h);
	free(j);
	free(next);
	return ret;
}

/* Frees the converted domains the parses of this load kept for it (pfile_t.conv). */
static void held_conv_free(priv_t *pv)
{
	for (size_t i = 0; i < pv->nheld; i++) {
		free(pv->held[i]->conv);
		pv->held[i]->conv = NULL;
	}
}

/* The policy keeps f (the job's reference moves to it). */
static int hold(loader_t *ld, job_t *j)
{
	priv_t *pv = ld->priv;
	pfile_t **v = realloc(pv->held, (pv->nheld + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	pv->held = v;
	pv->held[pv->nheld++] = j->file;
	j->file = NULL;
	return MN_OK;
}

/*
 * With a cache: true when the bytes read for j are those of the cached parse
 * (j->file then holds it); otherwise j->file is a new entry the parse fills,
 * whose name the positions point to.
 */
static bool job_cached(const loader_t *ld, job_t *j, const char *data, size_t len, const pfile_stat_t *st)
{
	unsigned char md[PFILE_DIGEST];
	if (EVP_Digest(data, len, md, NULL, mn_sha256(), NULL) != 1) {
		j->oom = MN_ENOMEM;	/* OpenSSL fails only on allocation here */
		return true;
	}
	pfile_t *f = cache_get(ld, j);
	if (f != NULL && memcmp(f->digest, md, sizeof(md)) == 0) {
		/* the same bytes (touched, or rewritten as they were): its identity now (one job per file) */
		f->st = *st;
		job_reuse(j, f);
		return true;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || (f->name = strdup(j->path)) == NULL ||
	    (f->dir = strdup(ld->cv.ctx.dir)) == NULL) {
		if (f != NULL)
			free(f->name);
		free(f);
		j->oom = MN_ENOMEM;
		return true;	/* nothing parsed: the load fails with ENOMEM */
	}
	memcpy(f->digest, md, sizeof(md));
	f->st = *st;
	f->refs = 1;
	j->file = f;
	j->name = f->name;
	return false;
}

/* Appends a job for item (with its own diag); NULL on ENOMEM (ctx.oom set). */
static job_t *job_push(loader_t *ld, const ynode_t *item, const char *top_file)
{
	if (ld->njobs == ld->jobs_cap) {
		size_t cap = ld->jobs_cap ? ld->jobs_cap * 2 : 16;
		job_t *v = realloc(ld->jobs, cap * sizeof(*v));
		if (v == NULL) {
			ld->cv.ctx.oom = MN_ENOMEM;
			return NULL;
		}
		ld->jobs = v;
		ld->jobs_cap = cap;
	}
	job_t *j = &ld->jobs[ld->njobs];
	memset(j, 0, sizeof(*j));
	j->item = item;
	j->top_file = top_file;
	if (diag_new(&j->diag) != MN_OK) {
		ld->cv.ctx.oom = MN_ENOMEM;
		return NULL;
	}
	ld->njobs++;
	return j;
}

static void jobs_free(loader_t *ld)
{
	for (size_t i = 0; i < ld->njobs; i++) {
		pfile_unref(ld->jobs[i].file);
		free(ld->jobs[i].path);
		diag_free(ld->jobs[i].diag);
		yarena_free(ld->jobs[i].arena);
		free(ld->jobs[i].domains);
	}
	free(ld->jobs);
	ld->jobs = NULL;
	ld->njobs = ld->jobs_cap = 0;
}

/* An error of the include entry itself, in its place among the files' messages. */
static void item_error(loader_t *ld, const char *top_file, const ynode_t *item, const char *fmt, const char *arg)
{
	job_t *j = job_push(ld, item, top_file);
	if (j == NULL)
		return;
	diag_t *saved = ld->cv.diag;
	ld->cv.diag = j->diag;
	policy_conv_error(&ld->cv, top_file, item, fmt, arg);
	ld->cv.diag = saved;
}

/* Queues one included file (once: a file met again is skipped). */
static void read_included(loader_t *ld, const char *path, const ynode_t *item, const char *top_file)
{
	bool seen;
	if (seen_file(ld, path, &seen) < 0) {
		ld->cv.ctx.oom = MN_ENOMEM;
		return;
	}
	if (seen)
		return;
	const char *name = add_file(ld, path);
	if (name == NULL) {
		ld->cv.ctx.oom = MN_ENOMEM;
		return;
	}
	job_t *j = job_push(ld, item, top_file);
	if (j == NULL)
		return;
	j->name = name;
	if ((j->path = strdup(path)) == NULL || yarena_new(&j->arena) != MN_OK)
		ld->cv.ctx.oom = MN_ENOMEM;
}

/*
 * A reader's memory, reused file after file (by one thread at a time): the
 * bytes read and the tree's arena.  Memory a file's parse used already
 * need not be faulted in again for the next (fresh pages are a large part of
 * reading a big policy).
 */
typedef struct spare {
	struct spare *next;
	yarena_t *arena;
	char *buf;
	size_t cap;
} spare_t;

/* The spares of one jobs_run(), taken and given back under lock. */
typedef struct spares {
	pthread_mutex_t lock;
	spare_t *free;
} spares_t;

/* A spare (a new one when none is free); NULL on ENOMEM. */
static spare_t *spare_take(spares_t *sp)
{
	pthread_mutex_lock(&sp->lock);
	spare_t *s = sp->free;
	if (s != NULL)
		sp->free = s->next;
	pthread_mutex_unlock(&sp->lock);
	if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL && yarena_new(&s->arena) != MN_OK) {
		free(s);
		s = NULL;
	}
	return s;
}

static void spare_give(spares_t *sp, spare_t *s)
{
	pthread_mutex_lock(&sp->lock);
	s->next = sp->free;
	sp->free = s;
	pthread_mutex_unlock(&sp->lock);
}

/* Reads, parses and converts one queued file; touches only the job and a spare (any thread). */
static void job_run(const loader_t *ld, spares_t *spares, job_t *j)
{
	if (j->path == NULL || j->arena == NULL)
		return;
	size_t len = 0;
	pfile_stat_t st = { .valid = false };
	if (ld->cache != NULL) {
		/* stat before reading: a change after the stat moves ctime, seen next time */
		pfile_stat(ld, j->path, &st);
		pfile_t *f = cache_get(ld, j);
		if (f != NULL && pfile_stat_same(&f->st, &st)) {
			job_reuse(j, f);
			return;
		}
	}
	j->was_read = true;
	spare_t *sp = spare_take(spares);
	if (sp == NULL) {
		j->read = MN_ENOMEM;
		return;
	}
	j->read = ydoc_read_into(j->path, &sp->buf, &sp->cap, &len);
	if (j->read != MN_OK || (ld->cache != NULL && job_cached(ld, j, sp->buf, len, &st))) {
		spare_give(spares, sp);
		return;
	}
	ydoc_t *doc = NULL;
	j->read = ydoc_parse_into(sp->buf, len, j->name, j->diag, sp->arena, &doc);
	if (j->read != MN_OK) {
		spare_give(spares, sp);
		return;
	}
	policy_t part = { 0 };
	policy_conv_t cv = { .p = &part, .diag = j->diag };
	cv.ctx.diag = j->diag;
	cv.ctx.arena = j->arena;
	cv.ctx.file = j->name;
	cv.ctx.dir = ld->cv.ctx.dir;
	policy_conv_file(&cv, doc->root, false, NULL);
	j->domains = part.domains;
	j->ndomains = part.ndomains;
	j->oom = cv.ctx.oom;
	ydoc_free(doc);
	spare_give(spares, sp);
	/* a new parse for the cache: its names and own maps, here on the job's thread */
	if (j->file != NULL && j->oom == MN_OK && pfile_index(j->file, j->domains, j->ndomains) != MN_OK)
		j->oom = MN_ENOMEM;
}

/* What each pool thread of jobs_run() reads. */
typedef struct jobs_arg {
	const loader_t *ld;
	spares_t *spares;
} jobs_arg_t;

static void job_item(void *arg, size_t i)
{
	const jobs_arg_t *a = arg;
	job_run(a->ld, a->spares, &a->ld->jobs[i]);
}

enum { LOAD_THREADS_MAX = 8 };

/*
 * Runs the queued files on up to one thread per CPU this process may use
 * (the files are independent: YAML parsing dominates a large policy's load).
 */
static void jobs_run(const loader_t *ld)
{
	size_t files = 0;
	for (size_t i = 0; i < ld->njobs; i++)
		files += ld->jobs[i].path != NULL;
	unsigned n = mn_cpus();
	if (n > LOAD_THREADS_MAX)
		n = LOAD_THREADS_MAX;
	if (n > files)
		n = files > 0 ? (unsigned)files : 1;
	spares_t spares = { .free = NULL };
	pthread_mutex_init(&spares.lock, NULL);
	jobs_arg_t a = { ld, &spares };
	mn_pool_run(ld->njobs, n, job_item, &a);
	while (spares.free != NULL) {
		spare_t *s = spares.free;
		spares.free = s->next;
		yarena_free(s->arena);
		free(s->buf);
		free(s);
	}
	pthread_mutex_destroy(&spares.lock);
}

/* Appends every message of from to to, in order. */
static void diag_append(diag_t *to, const diag_t *from)
{
	for (size_t i = 0; i < diag_count(from); i++) {
		const diag_item_t *it = diag_get(from, i);
		mn_pos_t pos = { it->file, it->line, it->col };
		diag_add(to, it->level, it->file != NULL ? &pos : NULL, "%s", it->msg);
	}
}

/* Room for total domains in the policy's array; false (and the load's oom set) without it. */
static bool domains_reserve(loader_t *ld, size_t total)
{
	if (total <= ld->cv.cap)
		return true;
	policy_domain_t *v = realloc(ld->cv.p->domains, total * sizeof(*v));
	if (v == NULL) {
		ld->cv.ctx.oom = MN_ENOMEM;
		return false;
	}
	ld->cv.p->domains = v;
	ld->cv.cap = total;
	return true;
}

/*
 * The top file's domains and every job's, sorted by name into the policy,
 * each copied once to its place (policy_domains_gather); the jobs' arrays
 * are then freed.
 */
static void jobs_gather(loader_t *ld)
{
	policy_t *p = ld->cv.p;
	policy_run_t *runs = malloc((ld->njobs + 1) * sizeof(*runs));
	if (runs == NULL) {
		ld->cv.ctx.oom = MN_ENOMEM;
		return;
	}
	size_t nr = 0;
	runs[nr++] = (policy_run_t){ p->domains, p->ndomains };
	for (size_t i = 0; i < ld->njobs; i++)
		if (ld->jobs[i].ndomains > 0)
			runs[nr++] = (policy_run_t){ ld->jobs[i].domains, ld->jobs[i].ndomains };
	if (policy_domains_gather(&ld->cv, runs, nr) != MN_OK)
		ld->cv.ctx.oom = MN_ENOMEM;
	free(runs);
}

/*
 * Merges the jobs into the policy in include order: messages, domains
 * (sorted: jobs_gather), memory.  Without gather, the domains are left out
 * (the patch of the cache's set, or held_gather(), takes them from the held
 * parses).
 */
static void jobs_merge(loader_t *ld, bool gather)
{
	size_t nw = 0;
	want_t *w = malloc((ld->njobs + 1) * sizeof(*w));
	if (w == NULL)
		ld->cv.ctx.oom = MN_ENOMEM;
	for (size_t i = 0; i < ld->njobs; i++) {
		job_t *j = &ld->jobs[i];
		if (j->reused) {
			const pfile_t *f = j->file;
			diag_append(ld->cv.diag, f->diag);
			if (gather && f->ndomains > 0 && w != NULL) {
				/* rebuilt from the cache's set for the gather (set_unmerge), like a new parse's domains */
				if ((j->domains = malloc(f->ndomains * sizeof(*j->domains))) == NULL) {
					ld->cv.ctx.oom = MN_ENOMEM;
				} else {
					w[nw++] = (want_t){ f, j->domains };
					j->ndomains = f->ndomains;
				}
			}
			if (hold(ld, j) != MN_OK)
				ld->cv.ctx.oom = MN_ENOMEM;
			continue;
		}
		if (j->path != NULL && j->read == MN_ENOMEM)
			ld->cv.ctx.oom = MN_ENOMEM;
		else if (j->path != NULL && j->read < 0 && j->read != MN_EPOLICY)
			policy_conv_error(&ld->cv, j->top_file, j->item,
				   "cannot read include '%s' (%s)", j->path, mn_strerror(j->read));
		diag_append(ld->cv.diag, j->diag);
		if (j->oom != MN_OK)
			ld->cv.ctx.oom = j->oom;
		if (j->file != NULL) {
			/* a new parse for the cache: its memory stays with it, shared */
			pfile_t *f = j->file;
			if (j->read == MN_OK && j->oom == MN_OK) {
				f->arena = j->arena;
				f->ndomains = j->ndomains;
				f->diag = j->diag;
				if (!gather) {
					/* for the patch or held_gather(), until the load ends */
					f->conv = j->domains;
					j->domains = NULL;
				}
			} else {
				yarena_adopt(ld->cv.ctx.arena, j->arena);
			}
			j->arena = NULL;
			if (f->diag == j->diag)
				j->diag = NULL;
			if (hold(ld, j) != MN_OK)
				ld->cv.ctx.oom = MN_ENOMEM;	/* (jobs_free drops it) */
			continue;
		}
		yarena_adopt(ld->cv.ctx.arena, j->arena);
		j->arena = NULL;
	}
	int r = nw > 0 ? set_unmerge(ld->cache->set, w, nw) : MN_OK;
	if (r < 0)
		ld->cv.ctx.oom = r;
	free(w);
	if (gather && ld->cv.ctx.oom == MN_OK)
		jobs_gather(ld);
	for (size_t i = 0; i < ld->njobs; i++) {
		free(ld->jobs[i].domains);
		ld->jobs[i].domains = NULL;
		ld->jobs[i].ndomains = 0;
	}
}

/* After jobs_merge(ld, false) of jobs that all hold a parse: their domains, in order, after the top file's. */
static void held_gather(loader_t *ld)
{
	policy_t *p = ld->cv.p;
	const priv_t *pv = ld->priv;
	size_t total = p->ndomains;
	for (size_t i = 0; i < pv->nheld; i++)
		total += pv->held[i]->ndomains;
	size_t nw = 0;
	want_t *w = malloc((pv->nheld + 1) * sizeof(*w));
	if (w == NULL)
		ld->cv.ctx.oom = MN_ENOMEM;
	if (w == NULL || !domains_reserve(ld, total)) {
		free(w);
		return;
	}
	for (size_t i = 0; i < pv->nheld; i++) {
		const pfile_t *f = pv->held[i];
		if (f->ndomains == 0)
			continue;
		if (f->conv != NULL)	/* parsed by this load */
			memcpy(p->domains + p->ndomains, f->conv, f->ndomains * sizeof(*f->conv));
		else
			w[nw++] = (want_t){ f, p->domains + p->ndomains };
		p->ndomains += f->ndomains;
	}
	int r = nw > 0 ? set_unmerge(ld->cache->set, w, nw) : MN_OK;
	if (r < 0)
		ld->cv.ctx.oom = r;
	free(w);
}

/* ---- the patch of the cache's set (issue 17) ------------------------------------- */

/*
 * Can this load patch s?  The same top file bytes and directory, no error
 * in it, the same included files in the same order, each read and
 * converted without error, and s held by the cache alone.
 */
static bool dset_fits(const loader_t *ld, const dset_t *s, const unsigned char *top, size_t errors0)
{
	if (s == NULL || __atomic_load_n(&s->refs, __ATOMIC_ACQUIRE) != 1 ||
	    memcmp(s->top, top, PFILE_DIGEST) != 0 || strcmp(s->dir, ld->cv.p->dir) != 0 ||
	    diag_errors(ld->cv.diag) > errors0 || ld->njobs != s->nfiles)
		return false;
	for (size_t i = 0; i < ld->njobs; i++) {
		const job_t *j = &ld->jobs[i];
		if (j->path == NULL || j->file == NULL || j->oom != MN_OK || strcmp(j->path, s->files[i]->name) != 0)
			return false;
		if (j->reused ? diag_errors(j->file->diag) > 0 : j->read != MN_OK || diag_errors(j->diag) > 0)
			return false;
	}
	return true;
}

static int cmp_dom_name(const void *a, const void *b)
{
	return strcmp(((const policy_domain_t *)a)->name, ((const policy_domain_t *)b)->name);
}

/* The first index in v[0..n) (sorted) whose name is not before name. */
static size_t dom_bound(const policy_domain_t *v, size_t n, const char *name)
{
	return mn_name_bound(v, n, sizeof(*v), name);
}

/* The index of name in v[0..n) (sorted), or n. */
static size_t dom_find(const policy_domain_t *v, size_t n, const char *name)
{
	size_t i = dom_bound(v, n, name);
	return i < n && strcmp(v[i].name, name) == 0 ? i : n;
}

/* A domain of a file going out of the set: its name and the file's. */
typedef struct dref {
	const char *name, *file;
} dref_t;

static int cmp_dref(const void *a, const void *b)
{
	return strcmp(((const dref_t *)a)->name, ((const dref_t *)b)->name);
}

/* The index of name in v[0..n) (sorted), or n. */
static size_t dref_find(const dref_t *v, size_t n, const char *name)
{
	size_t lo = mn_name_bound(v, n, sizeof(*v), name);
	return lo < n && strcmp(v[lo].name, name) == 0 ? lo : n;
}

/*
 * Patches s (which the cache alone holds) with the included files whose
 * parse differs from its own (by pointer: a reused parse is the very one):
 * their old domains out, their new ones, merged with s's defaults, in, each
 * place found by binary search.  MN_OK when p's domains are now s's, 1 when
 * a full rebuild must decide (a name defined twice, an error in a new
 * domain: the full load reports it in its place and order), MN_ENOMEM.
 * Nothing that can fail comes after the first change to s, and s stays the
 * merge of its files, which it then lists.
 */
static int dset_patch(loader_t *ld, dset_t *s)
{
	policy_t *p = ld->cv.p;
	priv_t *pv = ld->priv;
	yarena_t *a = ld->cv.ctx.arena;
	const size_t sz = sizeof(policy_domain_t);
	int ret = MN_ENOMEM;
	size_t nold = 0, nnew = 0, nch = 0, nrem = 0;
	size_t *ch = NULL, *rm = NULL, *idx = NULL;
	dref_t *od = NULL;
	policy_domain_t *nd = NULL;
	char **removed = NULL;
	const char **fam = NULL;
	size_t nfam = 0;
	diag_t *scratch = NULL;
	if (pv->nheld != s->nfiles)
		return 1;
	if ((ch = malloc((s->nfiles + 1) * sizeof(*ch))) == NULL)
		goto out;
	for (size_t i = 0; i < s->nfiles; i++) {
		if (pv->held[i] == s->files[i])
			continue;
		if (pv->held[i]->conv == NULL && pv->held[i]->ndomains > 0) {
			ret = 1;	/* (cannot be: a parse not in s is one of this load's) */
			goto out;
		}
		ch[nch++] = i;
		nold += s->files[i]->ndomains;
		nnew += pv->held[i]->ndomains;
	}
	if ((od = malloc((nold + 1) * sizeof(*od))) == NULL || (nd = malloc((nnew + 1) * sz)) == NULL ||
	    (rm = malloc((nold + 1) * sizeof(*rm))) == NULL || diag_new(&scratch) != MN_OK)
		goto out;
	for (size_t k = 0, o = 0, n = 0; k < nch; k++) {
		const pfile_t *was = s->files[ch[k]], *now = pv->held[ch[k]];
		for (size_t i = 0; i < was->ndomains; i++)
			od[o + i] = (dref_t){ was->names[i], was->name };
		if (now->ndomains > 0)
			memcpy(nd + n, now->conv, now->ndomains * sz);
		o += was->ndomains;
		n += now->ndomains;
	}
	qsort(od, nold, sizeof(*od), cmp_dref);
	qsort(nd, nnew, sz, cmp_dom_name);
	ret = 1;
	for (size_t i = 1; i < nnew; i++)
		if (strcmp(nd[i - 1].name, nd[i].name) == 0)
			goto out;	/* defined twice among the changed files */
	for (size_t i = 0; i < nold; i++) {
		size_t at = dom_find(s->v, s->n, od[i].name);
		if (at == s->n || s->v[at].pos.file != od[i].file)
			goto out;	/* (cannot be: s is the merge of its files) */
		rm[i] = at;
	}
	for (size_t i = 0; i < nnew; i++) {
		/* a name already in s must be one of those going out */
		if (dom_find(s->v, s->n, nd[i].name) != s->n && dref_find(od, nold, nd[i].name) == nold)
			goto out;
	}
	policy_merge_defaults(nd, nnew, &s->defaults, &s->dnssec);
	/* the new family list: the old one but for the names going out, and the new domains with messages */
	if ((fam = malloc((s->nfamily + nnew + 1) * sizeof(*fam))) == NULL)
		goto out;
	for (size_t i = 0, j = 0; i < s->nfamily || j < nnew;) {
		if (j == nnew || (i < s->nfamily && strcmp(s->family[i], nd[j].name) < 0)) {
			if (dref_find(od, nold, s->family[i]) == nold)
				fam[nfam++] = s->family[i];
			i++;
			continue;
		}
		size_t c0 = diag_count(scratch);
		policy_check_family(&nd[j], 1, scratch);
		if (diag_count(scratch) > c0)
			fam[nfam++] = nd[j].name;
		j++;
	}
	if (diag_errors(scratch) > 0)
		goto out;
	ret = MN_ENOMEM;
	for (size_t i = 0; i < nold; i++)
		nrem += dom_find(nd, nnew, od[i].name) == nnew;
	if ((idx = yarena_alloc(a, (nnew + 1) * sizeof(*idx))) == NULL ||
	    (removed = yarena_alloc(a, (nrem + 1) * sizeof(*removed))) == NULL)
		goto out;
	for (size_t i = 0, r = 0; i < nold; i++)
		if (dom_find(nd, nnew, od[i].name) == nnew && (removed[r++] = yarena_strdup(a, od[i].name)) == NULL)
			goto out;
	size_t n2 = s->n - nold + nnew;
	if (n2 > s->cap) {
		size_t cap = n2 + n2 / 8 + 16;
		policy_domain_t *v = realloc(s->v, cap * sz);
		if (v == NULL)
			goto out;
		s->v = v;
		s->cap = cap;
	}
	/* ---- nothing fails from here on */
	bool same = nold == nnew;
	for (size_t i = 0; i < nold && same; i++)
		same = strcmp(od[i].name, nd[i].name) == 0;
	if (same) {
		for (size_t i = 0; i < nnew; i++)
			s->v[rm[i]] = nd[i];
	} else {
		if (nold > 0) {
			/* out: the runs between the removed ones move down (rm is ascending, as od) */
			size_t w = rm[0];
			for (size_t k = 0; k < nold; k++) {
				size_t from = rm[k] + 1, to = k + 1 < nold ? rm[k + 1] : s->n;
				memmove(&s->v[w], &s->v[from], (to - from) * sz);
				w += to - from;
			}
			s->n = w;
		}
		/* in: from the last, each run after its place moves up */
		size_t i = s->n, w = s->n + nnew;
		for (size_t j = nnew; j > 0; j--) {
			size_t at = dom_bound(s->v, i, nd[j - 1].name), run = i - at;
			w -= run;
			memmove(&s->v[w], &s->v[at], run * sz);
			i = at;
			s->v[--w] = nd[j - 1];
		}
		s->n += nnew;
	}
	for (size_t i = 0; i < nnew; i++)
		idx[i] = dom_find(s->v, s->n, nd[i].name);
	for (size_t k = 0; k < nch; k++) {
		pfile_t *now = pv->held[ch[k]];
		__atomic_add_fetch(&now->refs, 1, __ATOMIC_RELAXED);
		now->set_id = s->id;
		s->files[ch[k]]->set_id = 0;	/* (its domains are out) */
		pfile_unref(s->files[ch[k]]);
		s->files[ch[k]] = now;
	}
	free(s->family);
	s->family = fam;
	s->nfamily = nfam;
	fam = NULL;
	ld->cv.family = s->family;
	ld->cv.nfamily = s->nfamily;
	free(p->domains);	/* the top file's, converted again: s has them */
	p->domains = s->v;
	p->ndomains = s->n;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	pv->set = s;
	p->changed_known = true;
	p->changed = idx;
	p->nchanged = nnew;
	p->removed = removed;
	p->nremoved = nrem;
	ret = MN_OK;
out:
	free(fam);
	free(ch);
	free(od);
	free(nd);
	free(rm);
	diag_free(scratch);
	return ret;
}

/*
 * After a full load through cache c: p's domains and its arena become a new
 * set of the cache (p keeps a reference), replacing the old one.  Without
 * memory the load fails and the cache keeps the old set (still the merge of
 * its own files, which a failed load's parses never are: the next patch lists
 * them as changed).
 */
static int dset_make(loader_t *ld, policy_cache_t *c, const unsigned char *top)
{
	policy_t *p = ld->cv.p;
	priv_t *pv = ld->priv;
	for (size_t i = 0; i < pv->nheld; i++) {
		if (pv->held[i]->arena == NULL || (pv->held[i]->names == NULL && pv->held[i]->ndomains > 0)) {
			/* (cannot be after a success) no set: the next load is a full one */
			dset_unref(c->set);
			c->set = NULL;
			return MN_OK;
		}
	}
	dset_t *s = calloc(1, sizeof(*s));
	diag_t *scratch = NULL;
	if (s == NULL || (s->dir = strdup(p->dir)) == NULL ||
	    (s->files = malloc((pv->nheld + 1) * sizeof(*s->files))) == NULL || diag_new(&scratch) != MN_OK) {
		if (s != NULL) {
			free(s->files);
			free(s->dir);
		}
		free(s);
		return MN_ENOMEM;
	}
	/* (the domains the family checks had messages for: the same checks, one domain at a time) */
	size_t famcap = 0;
	for (size_t i = 0; i < p->ndomains; i++) {
		size_t c0 = diag_count(scratch);
		policy_check_family(&p->domains[i], 1, scratch);
		if (diag_count(scratch) == c0)
			continue;
		const char **v = s->nfamily < famcap ? s->family :
				  realloc(s->family, (famcap = famcap ? 2 * famcap : 16) * sizeof(*v));
		if (v == NULL) {
			diag_free(scratch);
			free(s->family);
			free(s->files);
			free(s->dir);
			free(s);
			return MN_ENOMEM;
		}
		s->family = v;
		s->family[s->nfamily++] = p->domains[i].name;
	}
	diag_free(scratch);
	s->id = ++c->sets;
	for (size_t i = 0; i < pv->nheld; i++) {
		s->files[i] = pv->held[i];
		s->files[i]->set_id = s->id;
		__atomic_add_fetch(&s->files[i]->refs, 1, __ATOMIC_RELAXED);
	}
	s->nfiles = pv->nheld;
	s->v = p->domains;
	s->n = p->ndomains;
	s->cap = ld->cv.cap;
	s->arena = pv->arena;
	pv->arena = NULL;
	s->defaults = pv->defaults;
	s->dnssec = p->server.dnssec;
	memcpy(s->top, top, PFILE_DIGEST);
	s->refs = 2;
	pv->set = s;
	dset_unref(c->set);
	c->set = s;
	return MN_OK;
}

/* Keeps the pattern of item, made absolute, in p->includes (room made by load()). */
static int keep_include(loader_t *ld, const ynode_t *item)
{
	policy_t *p = ld->cv.p;
	yarena_t *a = ld->cv.ctx.arena;
	policy_include_t *in = &p->includes[p->nincludes];
	if (item->str[0] == '/') {
		in->pattern = yarena_strdup(a, item->str);
	} else {
		size_t dl = strlen(p->dir), len = dl + 1 + item->len + 1;
		if ((in->pattern = yarena_alloc(a, len)) != NULL)
			snprintf(in->pattern, len, "%s%s%s", p->dir, dl > 0 && p->dir[dl - 1] == '/' ? "" : "/",
				 item->str);
	}
	if (in->pattern == NULL)
		return MN_ENOMEM;
	in->pos = schema_pos(&ld->cv.ctx, item);
	p->nincludes++;
	return MN_OK;
}

static void load_include(loader_t *ld, const ynode_t *item)
{
	const char *top_file = ld->cv.ctx.file;
	if (item->kind != YNODE_SCALAR || ynode_is_null(item) || item->len == 0) {
		item_error(ld, top_file, item, "%s", "expected a string for include");
		return;
	}
	if (keep_include(ld, item) < 0) {
		ld->cv.ctx.oom = MN_ENOMEM;
		return;
	}
	if (ld->only_includes)
		return;
	char *pattern;
	if (item->str[0] == '/' || ld->reldir[0] == '\0')
		pattern = strdup(item->str);
	else if (asprintf(&pattern, "%s%s%s", ld->reldir, strcmp(ld->reldir, "/") == 0 ? "" : "/",
			  item->str) < 0)
		pattern = NULL;
	if (pattern == NULL) {
		ld->cv.ctx.oom = MN_ENOMEM;
		return;
	}
	if (strpbrk(item->str, "*?[") == NULL) {
		read_included(ld, pattern, item, top_file);
		free(pattern);
		return;
	}
	glob_t g;
	int r = glob(pattern, 0, NULL, &g);
	if (r == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			read_included(ld, g.gl_pathv[i], item, top_file);
	} else if (r == GLOB_NOSPACE) {
		ld->cv.ctx.oom = MN_ENOMEM;
	} else if (r == GLOB_ABORTED) {
		item_error(ld, top_file, item, "cannot read include '%s' (read error)", pattern);
	}
	if (r != GLOB_NOMATCH)
		globfree(&g);
	free(pattern);
}

/* ---- load ------------------------------------------------------------------------- */

static int set_dirs(loader_t *ld, const char *path)
{
	policy_t *p = ld->cv.p;
	yarena_t *a = ld->cv.ctx.arena;
	const char *slash = strrchr(path, '/');
	char *rel = slash == NULL ? yarena_strdup(a, "") :
		    yarena_strndup(a, path, slash == path ? 1 : (size_t)(slash - path));
	if (rel == NULL)
		return MN_ENOMEM;
	ld->reldir = rel;
	if (rel[0] == '/') {
		p->dir = rel;
		return MN_OK;
	}
	char *cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		return -errno;
	size_t len = strlen(cwd) + strlen(rel) + 2;
	p->dir = yarena_alloc(a, len);
	if (p->dir != NULL) {
		if (rel[0] == '\0' || strcmp(rel, ".") == 0)
			snprintf(p->dir, len, "%s", cwd);
		else if (strncmp(rel, "./", 2) == 0)
			snprintf(p->dir, len, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, rel + 2);
		else
			snprintf(p->dir, len, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, rel);
	}
	free(cwd);
	return p->dir == NULL ? MN_ENOMEM : MN_OK;
}

static int load(const char *path, policy_cache_t *cache, bool only_includes, diag_t *diag, policy_t **out)
{
	if (path == NULL || diag == NULL || out == NULL)
		return MN_EINVAL;
	int ret = MN_ENOMEM;
	size_t errors0 = diag_errors(diag);
	ydoc_t *doc = NULL;
	loader_t ld = { .cv.diag = diag, .cache = cache, .only_includes = only_includes };
	clock_gettime(CLOCK_REALTIME, &ld.start);
	policy_t *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return MN_ENOMEM;
	ld.cv.p = p;
	ld.cv.ctx.diag = diag;
	if ((ld.priv = calloc(1, sizeof(*ld.priv))) == NULL) {
		free(p);
		return MN_ENOMEM;
	}
	p->priv = ld.priv;
	if (yarena_new(&ld.cv.ctx.arena) != MN_OK)
		goto fail;
	ld.priv->arena = ld.cv.ctx.arena;
	if ((p->path = yarena_strdup(ld.cv.ctx.arena, path)) == NULL)
		goto fail;
	if ((ret = set_dirs(&ld, path)) < 0)
		goto fail;
	ld.cv.ctx.dir = p->dir;
	ret = MN_ENOMEM;
	if ((ld.cv.ctx.file = add_file(&ld, path)) == NULL)
		goto fail;
	bool seen;
	if (seen_file(&ld, path, &seen) < 0)
		goto fail;

	unsigned char top[PFILE_DIGEST] = { 0 };
	if (cache != NULL) {
		/* the top file's bytes hashed too: the same ones let the cache's set be patched */
		char *data = NULL;
		size_t len = 0;
		ret = ydoc_read(path, &data, &len);
		if (ret == MN_OK && EVP_Digest(data, len, top, NULL, mn_sha256(), NULL) != 1)
			ret = MN_ENOMEM;
		if (ret == MN_OK)
			ret = ydoc_parse(data, len, ld.cv.ctx.file, diag, &doc);
		free(data);
	} else {
		ret = ydoc_load(path, ld.cv.ctx.file, diag, &doc);
	}
	bool patched = false;
	if (ret < 0 && ret != MN_EPOLICY) {
		if (ret != MN_ENOMEM)
			diag_error(diag, NULL, "cannot read '%s' (%s)", path, mn_strerror(ret));
		goto fail;
	}
	if (ret == MN_OK) {
		const ynode_t *includes = NULL;
		policy_conv_file(&ld.cv, doc->root, true, &includes);
		if (includes != NULL && includes->n > 0 &&
		    (p->includes = yarena_alloc(ld.cv.ctx.arena, includes->n * sizeof(*p->includes))) == NULL)
			ld.cv.ctx.oom = MN_ENOMEM;
		for (const ynode_t *i = includes != NULL ? includes->first : NULL;
		     i != NULL && ld.cv.ctx.oom == MN_OK; i = i->next)
			load_include(&ld, i);
		if (ld.cv.ctx.oom == MN_OK && !only_includes) {
			jobs_run(&ld);
			bool fits = cache != NULL && dset_fits(&ld, cache->set, top, errors0);
			jobs_merge(&ld, !fits);
			int r = fits && ld.cv.ctx.oom == MN_OK ? dset_patch(&ld, cache->set) : MN_OK;
			if (r < 0)
				ld.cv.ctx.oom = r;
			patched = fits && r == MN_OK;
			if (fits && r == 1)
				held_gather(&ld);
		}
	}
	ret = ld.cv.ctx.oom;
	if (ret == MN_OK && only_includes)
		ret = doc != NULL ? MN_OK : MN_EPOLICY;
	else if (ret == MN_OK)
		ret = policy_conv_finish(&ld.cv, errors0, patched);
	if (ret < 0)
		goto fail;
	if (!only_includes) {
		ld.priv->defaults = ld.cv.defaults;
		ld.priv->has_defaults = true;
	}
	if (ld.priv->nheld > 0) {
		ret = MN_ENOMEM;
		if (mn_map_init(&ld.priv->byname, ld.priv->nheld) != MN_OK)
			goto fail;
		for (size_t i = 0; i < ld.priv->nheld; i++) {
			pfile_t *f = ld.priv->held[i];
			/* sized for nheld: no growth, so no failure */
			void **v = f->arena != NULL ? mn_map_put(&ld.priv->byname, f->name, strlen(f->name)) : NULL;
			if (v != NULL && *v == NULL)
				*v = f;
		}
	}
	if (cache != NULL) {
		size_t reused = 0, read = 0;
		for (size_t i = 0; i < ld.njobs; i++) {
			reused += ld.jobs[i].reused;
			read += ld.jobs[i].was_read;
		}
		if ((ret = cache_install(cache, ld.priv)) < 0)
			goto fail;
		if (!patched && (ret = dset_make(&ld, cache, top)) < 0)
			goto fail;
		p->gen = ++cache->gen;
		cache->reused = reused;
		cache->read = read;
	}
	held_conv_free(ld.priv);
	jobs_free(&ld);
	ydoc_free(doc);
	free(ld.ids);
	*out = p;
	return MN_OK;
fail:
	held_conv_free(ld.priv);
	jobs_free(&ld);
	ydoc_free(doc);
	free(ld.ids);
	policy_free(p);
	return ret;
}

bool policy_file_digest(const policy_t *p, const char *file, unsigned char digest[32])
{
	const priv_t *pv = p != NULL ? p->priv : NULL;
	if (pv == NULL || file == NULL || pv->byname.cap == 0)
		return false;
	const pfile_t *f = mn_map_gets(&pv->byname, file);
	/* (the same pointer: a string of the same text elsewhere is not the parse's) */
	if (f == NULL || f->name != file)
		return false;
	memcpy(digest, f->digest, PFILE_DIGEST);
	return true;
}

const policy_domain_t *policy_defaults(const policy_t *p)
{
	const priv_t *pv = p != NULL ? p->priv : NULL;
	return pv != NULL && pv->has_defaults ? &pv->defaults : NULL;
}

int policy_load(const char *path, diag_t *diag, policy_t **out)
{
	return load(path, NULL, false, diag, out);
}

int policy_load_cached(const char *path, policy_cache_t *cache, diag_t *diag, policy_t **out)
{
	if (cache == NULL)
		return MN_EINVAL;
	return load(path, cache, false, diag, out);
}

int policy_includes_read(const char *path, policy_t **out)
{
	diag_t *d = NULL;
	int r = diag_new(&d);
	if (r != MN_OK)
		return r;
	r = load(path, NULL, true, d, out);
	diag_free(d);
	return r;
}

void policy_free(policy_t *p)
{
	if (p == NULL)
		return;
	priv_t *pv = p->priv;
	if (pv == NULL || pv->set == NULL)
		free(p->domains);
	free(p->files);
	if (pv != NULL) {
		dset_unref(pv->set);
		yarena_free(pv->arena);
		for (size_t i = 0; i < pv->nheld; i++)
			pfile_unref(pv->held[i]);
		free(pv->held);
		mn_map_free(&pv->byname);
		free(pv);
	}
	free(p);
}

