/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_flatten.c -- mailns flatten: resolve SPF terms, prove the flattened set equivalent, update the SPF cache */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/pool.h"
#include "tools/cmd.h"
#include "tools/progress.h"
#include "tools/resolve.h"
#include "zones/chain.h"
#include "zones/compile.h"
#include "zones/flatten.h"
#include "zones/macro.h"
#include "zones/records.h"
#include "zones/spfcache.h"

/* Lookups in flight by default: they wait on the network, not on a CPU. */
enum { FLATTEN_JOBS = 16 };

static void usage(FILE *f)
{
	fprintf(f, "usage: mailns flatten [-c POLICY] [--resolver ADDR[:PORT]] [--dry-run] [--force]\n"
		   "                      [--jobs N] [--quiet]\n\n"
		   "Resolves the include, a, mx and redirect terms of every domain in flatten,\n"
		   "auto and macro mode, proves the flattened set equivalent to the original for\n"
		   "every address, and updates the SPF cache in state_dir/spf.  Prints what\n"
		   "changed per domain; quiet when nothing did.\n\n"
		   "  -c, --policy FILE      the policy (default $MAILNS_POLICY, " MN_POLICY_PATH ")\n"
		   "  -r, --resolver ADDR    the recursive resolver (default: /etc/resolv.conf)\n"
		   "  -n, --dry-run          print what would change, write nothing\n"
		   "  -f, --force            write a set that shrank by more than half\n"
		   "  -j, --jobs N           lookups in flight (1..%d, default %d; 1: one at a\n"
		   "                         time, as the evaluation asks)\n"
		   "  -q, --quiet            no progress line on a terminal's stderr\n"
		   "  -h, --help             this help\n\n"
		   "Exit: 0 done, 1 errors (nothing written for those domains), 3 a resolution\n"
		   "failed and the last good set was kept.\n", MN_POOL_MAX, FLATTEN_JOBS);
}

/* ---- the DNS view: every (name, type) asked once per run ----------------------- */

typedef struct ventry {
	struct ventry *next;
	char *name;
	uint16_t type;
	bool pending;		/* found by a probe, not asked yet (rs: FLAT_FAIL) */
	flat_rrset_t rs;
} ventry_t;

enum { VIEW_BUCKETS = 8192 };

typedef struct view {
	resolve_t *res;		/* the main thread's */
	ventry_t *b[VIEW_BUCKETS];
	/* the prefetch: the names a probe found, asked by the pool */
	ventry_t **pend;
	size_t npend, cpend;
	const char *resolver;	/* --resolver, for one resolver per thread */
	pthread_mutex_t lock;	/* free, nfree, err */
	resolve_t *free[MN_POOL_MAX];
	size_t nfree;
	int err;		/* the first failure of a prefetch thread */
	progress_t *pr;
} view_t;

static unsigned vhash(const char *s, uint16_t type)
{
	unsigned h = 2166136261u ^ type;
	for (; *s; s++)
		h = (h ^ (unsigned char)(*s | 0x20)) * 16777619u;
	return h % VIEW_BUCKETS;
}

static ventry_t *view_find(view_t *v, const char *name, uint16_t type)
{
	for (ventry_t *e = v->b[vhash(name, type)]; e != NULL; e = e->next)
		if (e->type == type && strcasecmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* A new entry for (name, type), in the view (rs zeroed), or NULL on ENOMEM. */
static ventry_t *view_add(view_t *v, const char *name, uint16_t type)
{
	ventry_t *e = calloc(1, sizeof(*e));
	if (e == NULL || (e->name = mn_strdup(name)) == NULL) {
		free(e);
		return NULL;
	}
	e->type = type;
	unsigned h = vhash(name, type);
	e->next = v->b[h];
	v->b[h] = e;
	return e;
}

/* Asks res for e's name and type into e->rs: MN_OK (an answer or a failure) or MN_ENOMEM. */
static int entry_resolve(resolve_t *res, ventry_t *e)
{
	resolve_result_t rr = { 0 };
	int r = MN_OK;
	char norm[256];
	memset(&e->rs, 0, sizeof(e->rs));
	if (mn_name_norm(e->name, norm, sizeof(norm)) != MN_OK) {
		e->rs.status = FLAT_NXDOMAIN;	/* not a name: nothing there */
	} else if ((r = resolve_query(res, norm, e->type, &rr)) == MN_EINVAL) {
		e->rs.status = FLAT_NXDOMAIN;
		r = MN_OK;
	} else if (r == MN_OK) {
		switch (rr.status) {
		case RESOLVE_ANSWER: e->rs.status = FLAT_ANSWER; break;
		case RESOLVE_NODATA: e->rs.status = FLAT_NODATA; break;
		case RESOLVE_NXDOMAIN: e->rs.status = FLAT_NXDOMAIN; break;
		default: e->rs.status = FLAT_FAIL; break;
		}
		e->rs.v = rr.v;
		e->rs.n = rr.n;
		e->rs.ttl = rr.ttl;
	}
	return r;
}

/* The flatten's view: each (name, type) asked once, here unless a prefetch asked it. */
static int view_lookup(void *arg, const char *name, uint16_t type, const flat_rrset_t **out)
{
	view_t *v = arg;
	ventry_t *e = view_find(v, name, type);
	if (e == NULL) {
		if ((e = view_add(v, name, type)) == NULL)
			return MN_ENOMEM;
		e->pending = true;
	}
	if (e->pending) {
		int r = entry_resolve(v->res, e);
		if (r != MN_OK)
			return r;
		e->pending = false;
	}
	*out = &e->rs;
	return MN_OK;
}

/* ---- the prefetch: the lookups of every domain, several in flight ----------------- */

/*
 * A probe's view: a name not in the view yet is added as pending and
 * answered as a failed lookup, so the evaluation goes on with the other
 * terms and finds their names too (a failed include is not followed: its
 * names are found by the next probe, once it is resolved).
 */
static int probe_lookup(void *arg, const char *name, uint16_t type, const flat_rrset_t **out)
{
	view_t *v = arg;
	ventry_t *e = view_find(v, name, type);
	if (e == NULL) {
		if (v->npend == v->cpend) {
			size_t c = v->cpend ? 2 * v->cpend : 256;
			ventry_t **n = realloc(v->pend, c * sizeof(*n));
			if (n == NULL)
				return MN_ENOMEM;
			v->pend = n;
			v->cpend = c;
		}
		if ((e = view_add(v, name, type)) == NULL)
			return MN_ENOMEM;
		e->pending = true;
		e->rs.status = FLAT_FAIL;
		v->pend[v->npend++] = e;
	}
	*out = &e->rs;
	return MN_OK;
}

/* One pending lookup, on a pool thread, with a resolver of its own (kept for the next). */
static void prefetch_one(void *arg, size_t k)
{
	view_t *v = arg;
	ventry_t *e = v->pend[k];
	resolve_t *res = NULL;
	pthread_mutex_lock(&v->lock);
	int r = v->err;
	if (v->nfree > 0)
		res = v->free[--v->nfree];
	pthread_mutex_unlock(&v->lock);
	if (r == MN_OK && res == NULL)
		r = resolve_new(v->resolver, NULL, 0, &res);
	if (r == MN_OK)
		r = entry_resolve(res, e);
	if (r == MN_OK)
		e->pending = false;	/* only this thread writes e; read after the pool's join */
	else
		e->rs.status = FLAT_FAIL;	/* still pending: asked again by view_lookup */
	pthread_mutex_lock(&v->lock);
	if (res != NULL)
		v->free[v->nfree++] = res;	/* at most one per thread: <= MN_POOL_MAX */
	if (r != MN_OK && v->err == MN_OK)
		v->err = r;
	pthread_mutex_unlock(&v->lock);
	progress_add(v->pr, 1);
}

/* Does mailns flatten the SPF of d. */
static bool flattened(const policy_domain_t *d)
{
	return d->spf.present && (spf_mode_t)d->spf.mode.v != SPF_MODE_PLAIN;
}

/* Evaluates d over the probe's view (results dropped): MN_OK, or MN_ENOMEM. */
static int probe_domain(flat_ctx_t *pc, const policy_domain_t *d)
{
	char **terms = NULL;
	size_t nterms = 0;
	flat_result_t res = { 0 };
	int r = spfcache_terms(d->name, &d->spf, &terms, &nterms);
	if (r == MN_OK) {
		flat_input_t in = { .domain = d->name, .terms = terms, .nterms = nterms,
				    .all_term = rec_spf_all_term(d->spf.all.v) };
		r = flat_domain(pc, &in, &res);
	}
	flat_result_clear(&res);
	rec_terms_free(terms, nterms);
	return r == MN_ENOMEM ? r : MN_OK;	/* the flatten itself reports the rest */
}

/*
 * Before the flatten, which asks one name at a time: each probe evaluates the
 * domains over what is resolved so far, then the names it found missing are
 * resolved on `jobs` threads at once; until a probe finds nothing new (a wave
 * per level of includes, PREFETCH_WAVES at most).  The flatten then finds
 * every answer in the view: the same answers, so the same sets and proofs,
 * as when it asked them itself; whatever a probe did not foresee it still
 * asks (as it does after a prefetch thread failed: no resolver client, no
 * socket).  MN_OK, or MN_ENOMEM.
 */
enum { PREFETCH_WAVES = 12 };

static int prefetch(const policy_t *p, view_t *v, unsigned jobs)
{
	bool *todo = calloc(p->ndomains + 1, sizeof(*todo));
	if (todo == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < p->ndomains; i++)
		todo[i] = flattened(&p->domains[i]);
	int r = MN_OK;
	for (int wave = 0; r == MN_OK && wave < PREFETCH_WAVES; wave++) {
		flat_ctx_t *pc = NULL;
		r = flat_ctx_new(probe_lookup, v, &pc);
		for (size_t i = 0; r == MN_OK && i < p->ndomains; i++) {
			if (!todo[i])
				continue;
			size_t before = v->npend;
			r = probe_domain(pc, &p->domains[i]);
			todo[i] = v->npend > before;	/* done when its probe found nothing new */
		}
		flat_ctx_free(pc);
		if (r != MN_OK || v->npend == 0)
			break;
		progress_grow(v->pr, v->npend);
		mn_pool_run(v->npend, jobs, prefetch_one, v);
		v->npend = 0;
		if (v->err != MN_OK) {	/* the flatten asks what is left itself */
			r = v->err == MN_ENOMEM ? MN_ENOMEM : MN_OK;
			break;
		}
	}
	free(todo);
	return r;
}

static void view_free(view_t *v)
{
	for (size_t i = 0; i < VIEW_BUCKETS; i++) {
		for (ventry_t *e = v->b[i], *n; e != NULL; e = n) {
			n = e->next;
			for (size_t k = 0; k < e->rs.n; k++)
				free(e->rs.v[k]);
			free(e->rs.v);
			free(e->name);
			free(e);
		}
	}
	free(v->pend);
	for (size_t i = 0; i < v->nfree; i++)
		resolve_free(v->free[i]);
	resolve_free(v->res);
}

/* ---- one domain ------------------------------------------------------------------ */

typedef struct run {
	const policy_t *p;
	flat_ctx_t *fc;
	bool dry_run, force;
	time_t now;
	int errors, kept_last;
} run_t;

/* Networks of a family as "ip4:"/"ip6:" terms (the order compile uses). */
static int net_terms(const mn_net_t *nets, size_t n, int fam, char ***out, size_t *nout)
{
	mn_net_t *v = n ? malloc(n * sizeof(*v)) : NULL;
	size_t k = 0;
	if (n && v == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (nets[i].family == fam)
			v[k++] = nets[i];
	int r = rec_spf_net_terms(v, k, out, nout);
	free(v);
	return r;
}

/* The terms the published chain holds: networks, then the kept terms (borrowed). */
static int pub_terms(const flat_result_t *res, char ***t4, size_t *n4, char ***t6, size_t *n6, char ***all,
		     size_t *n)
{
	int r = net_terms(res->nets, res->nnets, 4, t4, n4);
	if (r == MN_OK)
		r = net_terms(res->nets, res->nnets, 6, t6, n6);
	if (r != MN_OK)
		return r;
	char **v = calloc(*n4 + *n6 + res->nkept + 1, sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < *n4; i++)
		v[k++] = (*t4)[i];
	for (size_t i = 0; i < *n6; i++)
		v[k++] = (*t6)[i];
	for (size_t i = 0; i < res->nkept; i++)
		v[k++] = res->kept[i];
	*all = v;
	*n = k;
	return MN_OK;
}

/* Address count of a family, as a double (enough to compare halves). */
static double set_size(const mn_net_t *v, size_t n, int fam)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].family == fam)
			s += __builtin_ldexp(1.0, (fam == 4 ? 32 : 128) - v[i].prefix);
	return s;
}

static bool net_in(const mn_net_t *v, size_t n, const mn_net_t *x)
{
	for (size_t i = 0; i < n; i++)
		if (mn_net_cmp(&v[i], x) == 0)
			return true;
	return false;
}

static bool str_in(char *const *v, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], x) == 0)
			return true;
	return false;
}

/* "example.com: +ip4:198.51.100.0/24 -ip4:192.0.2.0/24"; false when nothing changed. */
static bool print_diff(const char *domain, const spfcache_t *old, const flat_result_t *res, bool print)
{
	mn_buf_t b = { 0 };
	bool changed = false;
	for (size_t i = 0; i < res->nnets; i++) {
		if (old != NULL && net_in(old->nets, old->nnets, &res->nets[i]))
			continue;
		char s[64];
		mn_net_format(&res->nets[i], s, sizeof(s));
		mn_buf_addf(&b, " +ip%d:%s", res->nets[i].family, s);
		changed = true;
	}
	for (size_t i = 0; old != NULL && i < old->nnets; i++) {
		if (net_in(res->nets, res->nnets, &old->nets[i]))
			continue;
		char s[64];
		mn_net_format(&old->nets[i], s, sizeof(s));
		mn_buf_addf(&b, " -ip%d:%s", old->nets[i].family, s);
		changed = true;
	}
	for (size_t i = 0; i < res->nkept; i++)
		if (old == NULL || !str_in(old->kept, old->nkept, res->kept[i])) {
			mn_buf_addf(&b, " +%s", res->kept[i]);
			changed = true;
		}
	for (size_t i = 0; old != NULL && i < old->nkept; i++)
		if (!str_in(res->kept, res->nkept, old->kept[i])) {
			mn_buf_addf(&b, " -%s", old->kept[i]);
			changed = true;
		}
	char *s = mn_buf_take(&b);
	if (print && s != NULL && (changed || old == NULL))
		printf("%s:%s\n", domain, changed ? s : " (no networks)");
	free(s);
	return changed;
}

/* The chain of this set (the previous generation's parts). */
static int build_chain(const char *root, const flat_result_t *res, const char *all_term, chain_t *ch)
{
	char **t4 = NULL, **t6 = NULL, **terms = NULL;
	size_t n4 = 0, n6 = 0, n = 0;
	int r = pub_terms(res, &t4, &n4, &t6, &n6, &terms, &n);
	if (r == MN_OK)
		r = chain_build(root, terms, n, all_term, ch);
	free(terms);
	rec_terms_free(t4, n4);
	rec_terms_free(t6, n6);
	return r;
}

/* What compile would publish from this set: spf_plan(), the compile's own decision. */
static int plan_of(const char *root, spf_mode_t mode, const flat_result_t *res, const char *all_term, spf_plan_t *pl)
{
	char **t4 = NULL, **t6 = NULL, **terms = NULL;
	size_t n4 = 0, n6 = 0, n = 0;
	int r = pub_terms(res, &t4, &n4, &t6, &n6, &terms, &n);
	if (r == MN_OK)
		r = spf_plan(root, mode, terms, n, all_term, pl);
	free(terms);
	rec_terms_free(t4, n4);
	rec_terms_free(t6, n6);
	return r;
}

/* The old generation's parts to keep: earlier ones still within the TTL, and the old chain's. */
static int carry_old(const run_t *run, const char *root, const spfcache_t *old, const chain_t *now_ch,
		     const char *all_term, spfcache_t *nc)
{
	uint32_t ttl = run->p->server.ttl.v;
	int r = MN_OK;
	chain_t oc = { 0 };
	if (old == NULL)
		return MN_OK;
	for (size_t i = 0; r == MN_OK && i < old->nold; i++) {
		if (run->now >= old->old[i].replaced_at + (time_t)ttl)
			continue;
		nc->old = realloc(nc->old, (nc->nold + 1) * sizeof(*nc->old));
		if (nc->old == NULL)
			return MN_ENOMEM;
		nc->old[nc->nold] = (spfcache_old_t){ old->old[i].replaced_at, mn_strdup(old->old[i].owner),
						      mn_strdup(old->old[i].text) };
		nc->nold++;
	}
	flat_result_t tmp = { .nets = old->nets, .nnets = old->nnets, .kept = old->kept, .nkept = old->nkept };
	if (build_chain(root, &tmp, all_term, &oc) != MN_OK)
		return MN_OK;
	for (size_t i = 1; i < oc.n; i++) {
		bool current = false;
		for (size_t k = 0; k < now_ch->n && !current; k++)
			current = strcmp(now_ch->v[k].owner, oc.v[i].owner) == 0;
		if (current)
			continue;
		spfcache_old_t *nv = realloc(nc->old, (nc->nold + 1) * sizeof(*nv));
		if (nv == NULL) {
			r = MN_ENOMEM;
			break;
		}
		nc->old = nv;
		nc->old[nc->nold++] = (spfcache_old_t){ run->now, mn_strdup(oc.v[i].owner), mn_strdup(oc.v[i].text) };
	}
	chain_free(&oc);
	return r;
}

static int flatten_domain(run_t *run, const policy_domain_t *d)
{
	const char *state = run->p->server.state_dir.v;
	const char *all_term = rec_spf_all_term(d->spf.all.v);
	char **terms = NULL, *source = NULL;
	size_t nterms = 0;
	flat_result_t res = { 0 };
	spfcache_t *old = NULL, nc = { 0 };
	chain_t ch = { 0 };
	char root[300], why[600];
	snprintf(root, sizeof(root), "_spf.%s", d->name);
	int r = spfcache_terms(d->name, &d->spf, &terms, &nterms);
	if (r != MN_OK)
		goto out;
	if ((source = spfcache_source(terms, nterms)) == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	flat_input_t in = { .domain = d->name, .terms = terms, .nterms = nterms, .all_term = all_term };
	r = flat_domain(run->fc, &in, &res);
	if (r == MN_EPOLICY) {
		cmd_err("%s: cannot flatten: %s", d->name, res.why);
		run->errors++;
		r = MN_OK;
		goto out;
	}
	if (r != MN_OK)
		goto out;
	if (res.dns_failed) {
		cmd_err("%s: resolution failed, keeping the last good set (%s)", d->name, res.why);
		run->kept_last++;
		goto out;
	}
	/* what would be published, and the proof */
	spf_plan_t pl = { 0 };
	r = plan_of(root, (spf_mode_t)d->spf.mode.v, &res, all_term, &pl);
	if (r != MN_OK)
		goto out;
	if (pl.kind == SPF_PLAN_LOOKUPS || pl.kind == SPF_PLAN_SPLIT) {
		cmd_err("%s: the flattened record needs more than %d DNS lookups", d->name, SPF_LOOKUP_LIMIT);
		run->errors++;
		goto out;
	}
	ch = pl.chain;
	flat_pub_t kind = pl.kind == SPF_PLAN_MACRO ? FLAT_PUB_MACRO : FLAT_PUB_FLATTEN;
	char *mtext = NULL;
	unsigned lookups = 0;
	if (kind == FLAT_PUB_FLATTEN) {
		flat_rec_t *recs = calloc(ch.n, sizeof(*recs));
		if (recs == NULL) {
			r = MN_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < ch.n; i++)
			recs[i] = (flat_rec_t){ ch.v[i].owner, ch.v[i].text };
		r = flat_prove(run->fc, &in, &res, kind, recs, ch.n, &lookups, why, sizeof(why));
		free(recs);
	} else {
		mtext = macro_record_text(root, res.kept, res.nkept, all_term);
		if (mtext == NULL) {
			r = MN_ENOMEM;
			goto out;
		}
		flat_rec_t rec = { root, mtext };
		r = flat_prove(run->fc, &in, &res, kind, &rec, 1, &lookups, why, sizeof(why));
		free(mtext);
	}
	if (r == MN_EPOLICY) {
		cmd_err("%s: not equivalent, nothing published: %s", d->name, why);
		run->errors++;
		r = MN_OK;
		goto out;
	}
	if (r != MN_OK)
		goto out;

	r = spfcache_load(state, d->name, &old);
	if (r == MN_ENOENT || r == MN_ESTATE) {
		old = NULL;
		r = MN_OK;
	}
	if (r != MN_OK)
		goto out;
	bool same_source = old != NULL && strcmp(old->source, source) == 0;
	bool changed = print_diff(d->name, old, &res, false) || !same_source;
	if (!changed)
		goto out;
	for (int fam = 4; fam <= 6 && old != NULL && !run->force; fam += 2) {
		double was = set_size(old->nets, old->nnets, fam), now = set_size(res.nets, res.nnets, fam);
		if (was > 0 && now < was / 2) {
			print_diff(d->name, old, &res, true);
			cmd_err("%s: warning: the IPv%d set shrinks by more than half; not written (--force writes it)",
				d->name, fam);
			run->errors++;
			goto out;
		}
	}
	print_diff(d->name, old, &res, true);
	if (run->dry_run)
		goto out;
	nc.source = source;
	nc.resolved = run->now;
	nc.ttl = res.ttl;
	nc.nets = res.nets;
	nc.nnets = res.nnets;
	nc.kept = res.kept;
	nc.nkept = res.nkept;
	r = carry_old(run, root, old, &ch, all_term, &nc);
	if (r == MN_OK)
		r = spfcache_save(state, d->name, &nc);
	if (r != MN_OK) {
		cmd_err("%s: cannot write the SPF cache (%s)", d->name, mn_strerror(r));
		run->errors++;
		r = MN_OK;
	}
out:
	for (size_t i = 0; i < nc.nold; i++) {
		free(nc.old[i].owner);
		free(nc.old[i].text);
	}
	free(nc.old);
	chain_free(&ch);
	spfcache_free(old);
	flat_result_clear(&res);
	free(source);
	rec_terms_free(terms, nterms);
	return r;
}

int cmd_flatten(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "resolver", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *resolver = NULL;
	run_t run = { 0 };
	unsigned jobs = FLATTEN_JOBS;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:r:nfj:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'r': resolver = optarg; break;
		case 'n': run.dry_run = true; break;
		case 'f': run.force = true; break;
		case 'j':
			if (progress_jobs_parse(optarg, MN_POOL_MAX, &jobs) != MN_OK) {
				cmd_err("bad --jobs '%s' (1 to %d)", optarg, MN_POOL_MAX);
				return CMD_USAGE;
			}
			break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return CMD_OK;
		default: usage(stderr); return CMD_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return CMD_USAGE;
	}
	policy_t *p = cmd_policy_load(path, false);
	if (p == NULL)
		return CMD_ERRORS;
	if (p->server.state_dir.v == NULL) {
		cmd_err("server.state_dir is not set");
		policy_free(p);
		return CMD_ERRORS;
	}
	view_t v = { .resolver = resolver, .err = MN_OK };
	char err[256] = "";
	int r = resolve_new(resolver, err, sizeof(err), &v.res);
	if (r != MN_OK) {
		cmd_err("%s", err[0] ? err : mn_strerror(r));
		policy_free(p);
		return r == MN_EINVAL ? CMD_USAGE : CMD_ERRORS;
	}
	pthread_mutex_init(&v.lock, NULL);
	run.p = p;
	run.now = mn_now();
	size_t ndoms = 0;
	for (size_t i = 0; i < p->ndomains; i++)
		ndoms += flattened(&p->domains[i]);
	v.pr = progress_new("flatten", ndoms, quiet);
	if (jobs > 1)	/* --jobs 1: one lookup at a time, as the evaluation asks */
		r = prefetch(p, &v, jobs);
	if (r == MN_OK)
		r = flat_ctx_new(view_lookup, &v, &run.fc);
	for (size_t i = 0; r == MN_OK && i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		if (!flattened(d))
			continue;
		progress_hide(v.pr);	/* the domain may print */
		r = flatten_domain(&run, d);
		fflush(stdout);
		progress_add(v.pr, 1);
	}
	progress_end(v.pr);
	fflush(stdout);
	if (r != MN_OK)
		cmd_err("flatten failed (%s)", mn_strerror(r));
	flat_ctx_free(run.fc);
	view_free(&v);
	pthread_mutex_destroy(&v.lock);
	policy_free(p);
	if (r != MN_OK || run.errors > 0)
		return CMD_ERRORS;
	return run.kept_last > 0 ? CMD_KEPT : CMD_OK;
}
