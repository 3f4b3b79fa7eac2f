/* SPDX-License-Identifier: GPL-3.0-or-later */
/* policy.c -- loads a version-1 policy file and its includes into the typed model */
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/pool.h"
#include "policy/schema.h"
#include "policy/yaml.h"

typedef struct fileid { dev_t dev; ino_t ino; } fileid_t;

/*
 * One included file's parse, kept by a policy_cache_t and shared by every
 * policy made from it (each holds a reference): its domains as converted,
 * before the defaults are merged (merging copies the structures), the
 * strings and arrays they point to, its messages, and the name positions
 * point to.  It stands for the file while stat() says the same file,
 * unchanged, and the file was last changed a clear second before it was
 * read (git's "racily clean" rule: a change within the clock's granularity
 * of the read would leave the same times).
 */
typedef struct pfile {
	char *name;			/* the path as globbed; positions point here */
	char *dir;			/* relative paths were resolved against it */
	struct stat st;
	struct timespec read_at;	/* CLOCK_REALTIME before the read */
	yarena_t *arena;
	policy_domain_t *domains;
	size_t ndomains;
	diag_t *diag;
	unsigned refs;			/* atomic: policies are freed on any thread */
} pfile_t;

struct policy_cache {
	pfile_t **slot;			/* open addressing by name; NULL = empty */
	size_t cap, n;
	size_t reused;			/* files taken from the cache by the last load */
};

/* What a policy_t's priv holds. */
typedef struct priv {
	yarena_t *arena;
	pfile_t **held;
	size_t nheld;
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
} job_t;

typedef struct loader {
	policy_t *p;
	diag_t *diag;
	schema_ctx_t ctx;
	policy_domain_t defaults;
	size_t cap;			/* of p->domains */
	size_t files_cap;
	fileid_t *ids;			/* of every file read, to read each once */
	size_t nids;
	const char *reldir;		/* the top file's directory as given ("" for the cwd) */
	job_t *jobs;			/* the include list, in order */
	size_t njobs, jobs_cap;
	const policy_cache_t *cache;	/* NULL: parse every file */
	priv_t *priv;
} loader_t;

static void node_error(loader_t *ld, const char *file, const ynode_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void node_error(loader_t *ld, const char *file, const ynode_t *n, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		ld->ctx.oom = MN_ENOMEM;
		return;
	}
	mn_pos_t pos = { file, n->line, n->col };
	diag_error(ld->diag, &pos, "%s", msg);
	free(msg);
}

/* ---- names ------------------------------------------------------------------- */

const char *policy_spf_mode_name(spf_mode_t m)
{
	return schema_value_name(schema_spf_modes, (int)m);
}

const char *policy_spf_all_name(spf_all_t a)
{
	return schema_value_name(schema_spf_alls, (int)a);
}

const char *policy_dkim_alg_name(dkim_alg_t a)
{
	return schema_value_name(schema_dkim_algs, (int)a);
}

const char *policy_dmarc_p_name(dmarc_p_t p)
{
	return schema_value_name(schema_dmarc_ps, (int)p);
}

const char *policy_mta_sts_mode_name(mta_sts_mode_t m)
{
	return schema_value_name(schema_mta_sts_modes, (int)m);
}

/* ---- MTA-STS, TLS-RPT and BIMI across keys (after the merge of `defaults:`) ---- */

/* The value's position when it was written, else the domain's. */
static const mn_pos_t *pos_or(const mn_pos_t *pos, const policy_domain_t *d)
{
	return pos->file != NULL ? pos : &d->pos;
}

static void check_family(const policy_t *p, diag_t *diag)
{
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		const policy_mta_sts_t *m = &d->mta_sts;
		if (m->present && m->mode.v != MTA_STS_NONE && m->mx.n == 0)
			diag_error(diag, pos_or(&m->mode.pos, d), "MTA-STS of %s: mode %s needs at least one mx pattern",
				   d->name, policy_mta_sts_mode_name((mta_sts_mode_t)m->mode.v));
		if (m->present && m->mode.v == MTA_STS_ENFORCE && m->max_age.v < 86400)
			diag_warn(diag, pos_or(&m->max_age.pos, d),
				     "MTA-STS of %s: mode enforce with max_age %u s, under one day (RFC 8461 §3.2 advises weeks)",
				     d->name, (unsigned)m->max_age.v);
		if (d->tls_rpt.present && d->tls_rpt.rua.n == 0)
			diag_error(diag, &d->pos, "missing required key 'rua' in tls_rpt");
		const policy_bimi_t *b = &d->bimi;
		if (!b->present)
			continue;
		if (!POLICY_SET(b->logo))
			diag_error(diag, &d->pos, "missing required key 'logo' in bimi");
		/* an unset sp inherits p (RFC 7489 §6.3) */
		const policy_dmarc_t *dm = &d->dmarc;
		int sp = POLICY_SET(dm->sp) ? dm->sp.v : dm->p.v;
		if (!dm->present)
			diag_error(diag, pos_or(&b->logo.pos, d), "BIMI of %s: needs DMARC with p and sp of quarantine "
				   "or reject (the domain publishes no DMARC)", d->name);
		else if (dm->p.v == DMARC_P_NONE || sp == DMARC_P_NONE)
			diag_error(diag, pos_or(&b->logo.pos, d), "BIMI of %s: needs DMARC with p and sp of quarantine "
				   "or reject (%s is none: receivers ignore BIMI)", d->name, dm->p.v == DMARC_P_NONE ? "p" : "sp");
	}
}

/* ---- files -------------------------------------------------------------------- */

/* Records a file name; the returned string (owned by the policy) names it in positions. */
static const char *add_file(loader_t *ld, const char *name)
{
	policy_t *p = ld->p;
	if (p->nfiles == ld->files_cap) {
		size_t cap = ld->files_cap ? ld->files_cap * 2 : 8;
		char **v = realloc(p->files, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		p->files = v;
		ld->files_cap = cap;
	}
	char *s = yarena_strdup(ld->ctx.arena, name);
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

/* ---- domains -------------------------------------------------------------------- */

static void convert_domains(loader_t *ld, const ynode_t *key, const ynode_t *val)
{
	schema_ctx_t *ctx = &ld->ctx;
	policy_t *p = ld->p;
	if (!schema_expect_map(ctx, key, val) || val == NULL || val->kind != YNODE_MAP)
		return;
	if (p->ndomains + val->n > ld->cap) {
		size_t cap = ld->cap ? ld->cap : 64;
		while (cap < p->ndomains + val->n)
			cap *= 2;
		policy_domain_t *v = realloc(p->domains, cap * sizeof(*v));
		if (v == NULL) {
			ctx->oom = MN_ENOMEM;
			return;
		}
		p->domains = v;
		ld->cap = cap;
	}
	for (const ynode_t *k = val->first; k != NULL; k = k->next) {
		if (k->dup)
			continue;
		char *name = schema_name(ctx, k, NULL, false);
		if (name == NULL)
			continue;
		policy_domain_t *d = &p->domains[p->ndomains++];
		memset(d, 0, sizeof(*d));
		d->name = name;
		d->pos = schema_pos(ctx, k);
		schema_map(ctx, schema_domain, k, k->value, d);
	}
}

static int cmp_domain_ptr(const void *a, const void *b)
{
	const policy_domain_t *x = *(policy_domain_t *const *)a, *y = *(policy_domain_t *const *)b;
	int c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return x < y ? -1 : x > y;	/* file order among equal names */
}

/* Sorts p->domains by name in place and reports names defined twice. */
static int sort_domains(loader_t *ld)
{
	policy_t *p = ld->p;
	size_t n = p->ndomains;
	if (n < 2)
		return MN_OK;
	policy_domain_t **ptr = malloc(n * sizeof(*ptr));
	size_t *perm = malloc(n * sizeof(*perm));
	if (ptr == NULL || perm == NULL) {
		free(ptr);
		free(perm);
		return MN_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		ptr[i] = &p->domains[i];
	qsort(ptr, n, sizeof(*ptr), cmp_domain_ptr);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(ptr[i]->name, ptr[i - 1]->name) != 0)
			continue;
		size_t f = i - 1;
		while (f > 0 && strcmp(ptr[f - 1]->name, ptr[i]->name) == 0)
			f--;
		const mn_pos_t *first = &ptr[f]->pos;
		diag_error(ld->diag, &ptr[i]->pos, "domain '%s' defined twice (first at %s:%u:%u)",
			   ptr[i]->name, first->file, (unsigned)first->line, (unsigned)first->col);
	}
	/* apply the permutation in place: slot i receives element perm[i] */
	for (size_t i = 0; i < n; i++)
		perm[i] = (size_t)(ptr[i] - p->domains);
	for (size_t i = 0; i < n; i++) {
		if (perm[i] == i || perm[i] == SIZE_MAX)
			continue;
		policy_domain_t tmp = p->domains[i];
		size_t j = i;
		for (;;) {
			size_t k = perm[j];
			perm[j] = SIZE_MAX;
			if (k == i) {
				p->domains[j] = tmp;
				break;
			}
			p->domains[j] = p->domains[k];
			j = k;
		}
	}
	free(ptr);
	free(perm);
	return MN_OK;
}

const policy_domain_t *policy_domain_find(const policy_t *p, const char *name)
{
	if (p == NULL || name == NULL)
		return NULL;
	size_t lo = 0, hi = p->ndomains;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, p->domains[mid].name);
		if (c == 0)
			return &p->domains[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Every "key:NAME" of transfer.allow names a key of transfer.tsig. */
static void check_allow_keys(loader_t *ld)
{
	const policy_server_t *s = &ld->p->server;
	for (size_t i = 0; i < s->transfer.allow.n; i++) {
		const policy_str_t *a = &s->transfer.allow.v[i];
		if (strncmp(a->v, "key:", 4) != 0)
			continue;
		char name[256];
		if (mn_name_norm(a->v + 4, name, sizeof(name)) != MN_OK)
			continue;
		bool found = false;
		for (size_t j = 0; j < s->transfer.tsig.n && !found; j++)
			found = strcmp(s->transfer.tsig.v[j].name, name) == 0;
		if (!found)
			diag_error(ld->diag, &a->pos, "unknown TSIG key '%s' in allow (not in transfer.tsig)",
				   a->v + 4);
	}
}

/* ---- files ------------------------------------------------------------------------ */

static void load_include(loader_t *ld, const ynode_t *item);

/* Converts one file's tree; top is false for included files (only `domains:`). */
static void convert_file(loader_t *ld, const ynode_t *root, bool top, const ynode_t **includes)
{
	schema_ctx_t *ctx = &ld->ctx;
	if (!schema_expect_map(ctx, NULL, root))
		return;
	bool version = false, server = false;
	for (const ynode_t *k = root != NULL ? root->first : NULL; k != NULL; k = k->next) {
		if (k->dup)
			continue;
		const ynode_t *v = k->value;
		if (strcmp(k->str, "domains") == 0) {
			convert_domains(ld, k, v);
		} else if (!top) {
			node_error(ld, ctx->file, k,
				   "unknown key '%s'", k->str);
		} else if (strcmp(k->str, "version") == 0) {
			version = true;
			if (v == NULL || v->kind != YNODE_SCALAR || ynode_is_null(v))
				node_error(ld, ctx->file, v ? v : k,
					   "expected a number for version");
			else if (strcmp(v->str, "1") != 0)
				node_error(ld, ctx->file, v,
					   "unsupported version '%s' (expected 1)", v->str);
		} else if (strcmp(k->str, "server") == 0) {
			server = true;
			schema_map(ctx, schema_server, k, v, &ld->p->server);
		} else if (strcmp(k->str, "defaults") == 0) {
			schema_map(ctx, schema_domain, k, v, &ld->defaults);
		} else if (strcmp(k->str, "include") == 0) {
			if (v != NULL && v->kind == YNODE_SEQ)
				*includes = v;
			else if (!ynode_is_null(v))
				node_error(ld, ctx->file, v,
					   "expected a list for include");
		} else {
			node_error(ld, ctx->file, k,
				   "unknown key '%s'", k->str);
		}
	}
	if (!top)
		return;
	mn_pos_t at = { ctx->file, 1, 1 };
	if (root != NULL)
		at = schema_pos(ctx, root);
	if (!version)
		diag_error(ld->diag, &at, "missing required key 'version'");
	if (!server)
		diag_error(ld->diag, &at, "missing required key 'server'");
}

/* ---- the parse cache -------------------------------------------------------------- */

static void pfile_unref(pfile_t *f)
{
	if (f == NULL || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	yarena_free(f->arena);
	free(f->domains);
	diag_free(f->diag);
	free(f->name);
	free(f->dir);
	free(f);
}

static pfile_t *cache_find(const policy_cache_t *c, const char *name)
{
	if (c->cap == 0)
		return NULL;
	size_t j = mn_hash_str(name) & (c->cap - 1);
	while (c->slot[j] != NULL) {
		if (strcmp(c->slot[j]->name, name) == 0)
			return c->slot[j];
		j = (j + 1) & (c->cap - 1);
	}
	return NULL;
}

static bool same_ts(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* The same file, unchanged since f was read, and settled then (see pfile_t). */
static bool pfile_current(const pfile_t *f, const struct stat *st)
{
	const struct stat *o = &f->st;
	if (o->st_dev != st->st_dev || o->st_ino != st->st_ino || o->st_size != st->st_size ||
	    o->st_mode != st->st_mode || !same_ts(&o->st_mtim, &st->st_mtim) || !same_ts(&o->st_ctim, &st->st_ctim))
		return false;
	return o->st_ctim.tv_sec + 1 < f->read_at.tv_sec ||
	       (o->st_ctim.tv_sec + 1 == f->read_at.tv_sec && o->st_ctim.tv_nsec < f->read_at.tv_nsec);
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
	for (size_t i = 0; i < c->cap; i++)
		pfile_unref(c->slot[i]);
	free(c->slot);
	c->slot = NULL;
	c->cap = c->n = 0;
}

void policy_cache_free(policy_cache_t *c)
{
	if (c == NULL)
		return;
	cache_clear(c);
	free(c);
}

size_t policy_cache_reused(const policy_cache_t *c)
{
	return c != NULL ? c->reused : 0;
}

/* The cache becomes the good files of pv (a reference each); the old entries go. */
static int cache_install(policy_cache_t *c, const priv_t *pv)
{
	size_t cap = 16;
	while (cap < pv->nheld * 2)
		cap *= 2;
	pfile_t **slot = calloc(cap, sizeof(*slot));
	if (slot == NULL)
		return MN_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < pv->nheld; i++) {
		pfile_t *f = pv->held[i];
		if (f->arena == NULL)
			continue;	/* not read, or not converted */
		size_t j = mn_hash_str(f->name) & (cap - 1);
		while (slot[j] != NULL && strcmp(slot[j]->name, f->name) != 0)
			j = (j + 1) & (cap - 1);
		if (slot[j] != NULL)
			continue;
		__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
		slot[j] = f;
		n++;
	}
	cache_clear(c);
	c->slot = slot;
	c->cap = cap;
	c->n = n;
	return MN_OK;
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
 * With a cache: true when j's file is the cached parse (j->file then holds
 * it); otherwise j->file is a new entry the parse fills, whose name the
 * positions point to.
 */
static bool job_cached(const loader_t *ld, job_t *j)
{
	struct timespec now;
	struct stat st;
	clock_gettime(CLOCK_REALTIME, &now);
	if (stat(j->path, &st) != 0)
		return false;	/* reading it reports why */
	pfile_t *f = cache_find(ld->cache, j->path);
	if (f != NULL && pfile_current(f, &st) && strcmp(f->dir, ld->ctx.dir) == 0) {
		__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
		j->file = f;
		j->reused = true;
		j->read = MN_OK;
		return true;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || (f->name = strdup(j->path)) == NULL ||
	    (f->dir = strdup(ld->ctx.dir)) == NULL) {
		if (f != NULL)
			free(f->name);
		free(f);
		j->oom = MN_ENOMEM;
		return true;	/* nothing read: the load fails with ENOMEM */
	}
	f->st = st;
	f->read_at = now;
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
			ld->ctx.oom = MN_ENOMEM;
			return NULL;
		}
		ld->jobs = v;
		ld->jobs_cap = cap;
	}
	job_t *j = &ld->jobs[ld->njobs];
	memset(j, 0, sizeof(*j));
	j->item = item;
	j->top_file = top_file;
	if ((j->diag = diag_new()) == NULL) {
		ld->ctx.oom = MN_ENOMEM;
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
	diag_t *saved = ld->diag;
	ld->diag = j->diag;
	node_error(ld, top_file, item, fmt, arg);
	ld->diag = saved;
}

/* Queues one included file (once: a file met again is skipped). */
static void read_included(loader_t *ld, const char *path, const ynode_t *item, const char *top_file)
{
	bool seen;
	if (seen_file(ld, path, &seen) < 0) {
		ld->ctx.oom = MN_ENOMEM;
		return;
	}
	if (seen)
		return;
	const char *name = add_file(ld, path);
	if (name == NULL) {
		ld->ctx.oom = MN_ENOMEM;
		return;
	}
	job_t *j = job_push(ld, item, top_file);
	if (j == NULL)
		return;
	j->name = name;
	if ((j->path = strdup(path)) == NULL || (j->arena = yarena_new()) == NULL)
		ld->ctx.oom = MN_ENOMEM;
}

/* Reads, parses and converts one queued file; touches only the job (any thread). */
static void job_run(const loader_t *ld, job_t *j)
{
	if (j->path == NULL || j->arena == NULL)
		return;
	if (ld->cache != NULL && job_cached(ld, j))
		return;
	ydoc_t *doc = NULL;
	j->read = ydoc_load(j->path, j->name, j->diag, &doc);
	if (j->read != MN_OK)
		return;
	policy_t part = { 0 };
	loader_t jl = { .p = &part, .diag = j->diag };
	jl.ctx.diag = j->diag;
	jl.ctx.arena = j->arena;
	jl.ctx.file = j->name;
	jl.ctx.dir = ld->ctx.dir;
	convert_file(&jl, doc->root, false, NULL);
	j->domains = part.domains;
	j->ndomains = part.ndomains;
	j->oom = jl.ctx.oom;
	ydoc_free(doc);
}

static void job_item(void *arg, size_t i)
{
	const loader_t *ld = arg;
	job_run(ld, &ld->jobs[i]);
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
	mn_pool_run(ld->njobs, n, job_item, (void *)ld);
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

/* Merges the jobs into the policy in include order: messages, domains, memory. */
static void jobs_merge(loader_t *ld)
{
	policy_t *p = ld->p;
	size_t total = p->ndomains;
	for (size_t i = 0; i < ld->njobs; i++)
		total += ld->jobs[i].reused ? ld->jobs[i].file->ndomains : ld->jobs[i].ndomains;
	if (total > ld->cap) {
		policy_domain_t *v = realloc(p->domains, total * sizeof(*v));
		if (v == NULL) {
			ld->ctx.oom = MN_ENOMEM;
			return;
		}
		p->domains = v;
		ld->cap = total;
	}
	for (size_t i = 0; i < ld->njobs; i++) {
		job_t *j = &ld->jobs[i];
		if (j->reused) {
			const pfile_t *f = j->file;
			diag_append(ld->diag, f->diag);
			if (f->ndomains > 0)
				memcpy(p->domains + p->ndomains, f->domains, f->ndomains * sizeof(*f->domains));
			p->ndomains += f->ndomains;
			if (hold(ld, j) != MN_OK)
				ld->ctx.oom = MN_ENOMEM;
			continue;
		}
		if (j->path != NULL && j->read == MN_ENOMEM)
			ld->ctx.oom = MN_ENOMEM;
		else if (j->path != NULL && j->read < 0 && j->read != MN_EPOLICY)
			node_error(ld, j->top_file, j->item,
				   "cannot read include '%s' (%s)", j->path, mn_strerror(j->read));
		diag_append(ld->diag, j->diag);
		if (j->oom != MN_OK)
			ld->ctx.oom = j->oom;
		if (j->ndomains > 0)
			memcpy(p->domains + p->ndomains, j->domains, j->ndomains * sizeof(*j->domains));
		p->ndomains += j->ndomains;
		if (j->file != NULL) {
			/* a new parse for the cache: its memory stays with it, shared */
			pfile_t *f = j->file;
			if (j->read == MN_OK && j->oom == MN_OK) {
				f->arena = j->arena;
				f->domains = j->domains;
				f->ndomains = j->ndomains;
				f->diag = j->diag;
			} else {
				yarena_adopt(ld->ctx.arena, j->arena);
				free(j->domains);
			}
			j->arena = NULL;
			j->domains = NULL;
			j->ndomains = 0;
			if (f->diag == j->diag)
				j->diag = NULL;
			if (hold(ld, j) != MN_OK)
				ld->ctx.oom = MN_ENOMEM;	/* (jobs_free drops it) */
			continue;
		}
		free(j->domains);
		j->domains = NULL;
		j->ndomains = 0;
		yarena_adopt(ld->ctx.arena, j->arena);
		j->arena = NULL;
	}
}

static void load_include(loader_t *ld, const ynode_t *item)
{
	const char *top_file = ld->ctx.file;
	if (item->kind != YNODE_SCALAR || ynode_is_null(item) || item->len == 0) {
		item_error(ld, top_file, item, "%s", "expected a string for include");
		return;
	}
	char *pattern;
	if (item->str[0] == '/' || ld->reldir[0] == '\0')
		pattern = strdup(item->str);
	else if (asprintf(&pattern, "%s%s%s", ld->reldir, strcmp(ld->reldir, "/") == 0 ? "" : "/",
			  item->str) < 0)
		pattern = NULL;
	if (pattern == NULL) {
		ld->ctx.oom = MN_ENOMEM;
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
		ld->ctx.oom = MN_ENOMEM;
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
	policy_t *p = ld->p;
	yarena_t *a = ld->ctx.arena;
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

static int load(const char *path, policy_cache_t *cache, diag_t *diag, policy_t **out)
{
	if (path == NULL || diag == NULL || out == NULL)
		return MN_EINVAL;
	int ret = MN_ENOMEM;
	size_t errors0 = diag_errors(diag);
	ydoc_t *doc = NULL;
	loader_t ld = { .diag = diag, .cache = cache };
	policy_t *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return MN_ENOMEM;
	ld.p = p;
	ld.ctx.diag = diag;
	if ((ld.priv = calloc(1, sizeof(*ld.priv))) == NULL) {
		free(p);
		return MN_ENOMEM;
	}
	p->priv = ld.priv;
	if ((ld.ctx.arena = yarena_new()) == NULL)
		goto fail;
	ld.priv->arena = ld.ctx.arena;
	if ((p->path = yarena_strdup(ld.ctx.arena, path)) == NULL)
		goto fail;
	if ((ret = set_dirs(&ld, path)) < 0)
		goto fail;
	ld.ctx.dir = p->dir;
	ret = MN_ENOMEM;
	if ((ld.ctx.file = add_file(&ld, path)) == NULL)
		goto fail;
	bool seen;
	if (seen_file(&ld, path, &seen) < 0)
		goto fail;

	ret = ydoc_load(path, ld.ctx.file, diag, &doc);
	if (ret < 0 && ret != MN_EPOLICY) {
		if (ret != MN_ENOMEM)
			diag_error(diag, NULL, "cannot read '%s' (%s)", path, mn_strerror(ret));
		goto fail;
	}
	if (ret == MN_OK) {
		const ynode_t *includes = NULL;
		convert_file(&ld, doc->root, true, &includes);
		for (const ynode_t *i = includes != NULL ? includes->first : NULL; i != NULL; i = i->next)
			load_include(&ld, i);
		if (ld.ctx.oom == MN_OK) {
			jobs_run(&ld);
			jobs_merge(&ld);
		}
	}
	ret = ld.ctx.oom;
	if (ret == MN_OK)
		ret = sort_domains(&ld);
	if (ret < 0)
		goto fail;
	check_allow_keys(&ld);
	if (diag_errors(diag) > errors0) {
		ret = MN_EPOLICY;
		goto fail;
	}
	/* built-in defaults, then each domain takes every key it does not set from `defaults:` */
	schema_defaults(&ld.ctx, schema_server, &p->server);
	schema_defaults(&ld.ctx, schema_domain, &ld.defaults);
	if ((ret = ld.ctx.oom) < 0)
		goto fail;
	schema_merge(schema_domain, p->domains, p->ndomains, sizeof(*p->domains), &ld.defaults);
	if (p->ndomains > 0)	/* then what neither sets from server.dnssec */
		schema_merge(schema_dnssec, &p->domains[0].dnssec, p->ndomains, sizeof(*p->domains),
			     &p->server.dnssec);
	const policy_u32_t *dv = &p->server.dnssec_validity, *dr = &p->server.dnssec_refresh;
	if (dr->v >= dv->v)
		diag_error(diag, POLICY_SET(*dr) ? &dr->pos : &dv->pos,
			   "dnssec_refresh (%u s) must be shorter than dnssec_validity (%u s)",
			   (unsigned)dr->v, (unsigned)dv->v);
	check_family(p, diag);
	if (diag_errors(diag) > errors0) {
		ret = MN_EPOLICY;
		goto fail;
	}
	if (cache != NULL) {
		size_t reused = 0;
		for (size_t i = 0; i < ld.njobs; i++)
			reused += ld.jobs[i].reused;
		if (cache_install(cache, ld.priv) < 0)
			goto fail;
		cache->reused = reused;
	}
	jobs_free(&ld);
	ydoc_free(doc);
	free(ld.ids);
	*out = p;
	return MN_OK;
fail:
	jobs_free(&ld);
	ydoc_free(doc);
	free(ld.ids);
	policy_free(p);
	return ret;
}

int policy_load(const char *path, diag_t *diag, policy_t **out)
{
	return load(path, NULL, diag, out);
}

int policy_load_cached(const char *path, policy_cache_t *cache, diag_t *diag, policy_t **out)
{
	if (cache == NULL)
		return MN_EINVAL;
	return load(path, cache, diag, out);
}

void policy_free(policy_t *p)
{
	if (p == NULL)
		return;
	free(p->domains);
	free(p->files);
	priv_t *pv = p->priv;
	if (pv != NULL) {
		yarena_free(pv->arena);
		for (size_t i = 0; i < pv->nheld; i++)
			pfile_unref(pv->held[i]);
		free(pv->held);
		free(pv);
	}
	free(p);
}
