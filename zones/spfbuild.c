/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spfbuild.c -- the SPF records of a domain: plain, flattened chain or macro, by spf_plan() */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zones/chain.h"
#include "zones/compile.h"
#include "zones/compile_internal.h"
#include "zones/macro.h"
#include "zones/records.h"
#include "zones/spfcache.h"
#include "zones/validate.h"
#include "zones/zone_internal.h"

static const uint8_t a_127_0_0_2[4] = { 127, 0, 0, 2 };

#define spf_pos validate_spf_pos

static int nets_of(const policy_nets_t *in, mn_net_t **out)
{
	*out = NULL;
	if (in->n == 0)
		return MN_OK;
	mn_net_t *v = malloc(in->n * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < in->n; i++)
		v[i] = in->v[i].net;
	*out = v;
	return MN_OK;
}

/* The SPF inputs of one domain, gathered once. */
typedef struct spf_in {
	mn_net_t *v4, *v6;	/* as written */
	size_t n4, n6;
	mn_net_t *m4, *m6;	/* merged */
	size_t nm4, nm6;
	char **kept;		/* a, mx, include terms (from the SPF cache: the terms it kept) */
	size_t nkept;
	spfcache_t *cache;	/* the SPF cache entry in use, or NULL */
} spf_in_t;

static void spf_in_free(spf_in_t *s)
{
	free(s->v4);
	free(s->v6);
	free(s->m4);
	free(s->m6);
	rec_terms_free(s->kept, s->nkept);
	spfcache_free(s->cache);
}

/* terms = a ++ b ++ c, as one array of borrowed pointers. */
static char **concat(char **a, size_t na, char **b, size_t nb, char **c, size_t nc)
{
	char **v = malloc((na + nb + nc + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < na; i++)
		v[k++] = a[i];
	for (size_t i = 0; i < nb; i++)
		v[k++] = b[i];
	for (size_t i = 0; i < nc; i++)
		v[k++] = c[i];
	return v;
}

/*
 * Term -> policy position for the validator: the network terms t4/t6 (made
 * from n4/n6), the kept terms (a..., mx, include..., in rec_spf_kept_terms'
 * order) and the all term.  malloc'd; NULL on ENOMEM.
 */
static validate_term_t *term_map(const policy_domain_t *d, char **t4, const mn_net_t *n4, size_t c4,
				 char **t6, const mn_net_t *n6, size_t c6, const spf_in_t *in, size_t *n)
{
	const policy_spf_t *s = &d->spf;
	validate_term_t *v = malloc((c4 + c6 + in->nkept + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < c4; i++)
		v[k++] = (validate_term_t){ t4[i], NULL, &n4[i] };
	for (size_t i = 0; i < c6; i++)
		v[k++] = (validate_term_t){ t6[i], NULL, &n6[i] };
	size_t nmx = s->mx.v ? 1 : 0;
	for (size_t i = 0; i < in->nkept; i++) {
		const mn_pos_t *pos = spf_pos(d);
		if (in->cache != NULL)
			;	/* kept terms of the SPF cache: at the spf position */
		else if (i < s->a.n)
			pos = &s->a.v[i].pos;
		else if (i < s->a.n + nmx)
			pos = &s->mx.pos;
		else if (i - s->a.n - nmx < s->include.n)
			pos = &s->include.v[i - s->a.n - nmx].pos;
		v[k++] = (validate_term_t){ in->kept[i], pos->file ? pos : spf_pos(d), NULL };
	}
	v[k++] = (validate_term_t){ rec_spf_all_term(s->all.v), POLICY_SET(s->all) ? &s->all.pos : spf_pos(d), NULL };
	*n = k;
	return v;
}

static void lookups_error(const ctx_t *c, const policy_domain_t *d, unsigned n)
{
	diag_error(c->diag, spf_pos(d), "SPF for %s needs %u DNS lookups (limit %d)", d->name, n,
		   SPF_LOOKUP_LIMIT);
}

static int add_one_record(const ctx_t *c, const policy_domain_t *d, zone_t *z, const char *text)
{
	size_t need = chain_response_size(z->apex_len, strlen(text));
	if (need > CHAIN_UDP_MAX) {
		diag_error(c->diag, spf_pos(d), "SPF record of %s needs a %zu-byte response (limit %d)",
			   d->name, need, CHAIN_UDP_MAX);
		return MN_OK;
	}
	return compile_add_txt(c, z, z->name, text, spf_pos(d));
}

static int spf_plain(const ctx_t *c, const policy_domain_t *d, zone_t *z, const spf_in_t *in)
{
	char **t4 = NULL, **t6 = NULL;
	size_t n4 = 0, n6 = 0, nmap = 0;
	validate_term_t *map = NULL;
	int r = MN_OK;
	if ((t4 = rec_spf_net_block(in->v4, n4 = in->n4)) == NULL ||
	    (t6 = rec_spf_net_block(in->v6, n6 = in->n6)) == NULL)
		r = MN_ENOMEM;
	if (r == MN_OK && (map = term_map(d, t4, in->v4, n4, t6, in->v6, n6, in, &nmap)) == NULL)
		r = MN_ENOMEM;
	if (r == MN_OK) {
		mn_buf_t b = { 0 };
		mn_buf_add(&b, "v=spf1");
		char **all[3] = { t4, t6, in->kept };
		size_t cnt[3] = { n4, n6, in->nkept };
		for (int k = 0; k < 3; k++)
			for (size_t i = 0; i < cnt[k]; i++)
				mn_buf_addf(&b, " %s", all[k][i]);
		mn_buf_addf(&b, " %s", rec_spf_all_term(d->spf.all.v));
		char *text = mn_buf_take(&b);
		if (text == NULL) {
			r = MN_ENOMEM;
		} else {
			unsigned lookups = 1 + (unsigned)in->nkept;
			if (lookups > SPF_LOOKUP_LIMIT)
				lookups_error(c, d, lookups);
			r = add_one_record(c, d, z, text);
			if (r == MN_OK)
				r = validate_spf_record(c->val, d, text, map, nmap);
			free(text);
		}
	}
	free(map);
	free(t4);	/* (blocks) */
	free(t6);
	return r;
}

/*
 * The previous generation's parts (from the SPF cache) stay served for the
 * TTL after they were replaced, so that no resolver holding the old root
 * finds its parts gone.
 */
static int spf_old_parts(const ctx_t *c, zone_t *z, const spfcache_t *cache, const chain_t *ch)
{
	size_t zl = strlen(z->name);
	for (size_t i = 0; i < cache->nold; i++) {
		const spfcache_old_t *o = &cache->old[i];
		if (c->now >= o->replaced_at + (time_t)c->ttl)
			continue;
		/* served because of the time: the output changes when it expires */
		if (c->dom != NULL && o->replaced_at + (time_t)c->ttl < c->dom->until)
			c->dom->until = o->replaced_at + (time_t)c->ttl;
		size_t ol = strlen(o->owner);
		if (ol <= zl + 1 || strcmp(o->owner + ol - zl, z->name) != 0 || o->owner[ol - zl - 1] != '.')
			continue;
		bool current = false;
		for (size_t k = 0; k < ch->n && !current; k++)
			current = strcmp(ch->v[k].owner, o->owner) == 0;
		char why[64];
		if (current || !compile_name_valid(o->owner, why, sizeof(why)))
			continue;
		int r = zone_add_txt(z, o->owner, c->ttl, o->text);
		if (r != MN_OK && r != MN_ERANGE)
			return r;
	}
	return MN_OK;
}

int spf_plan(const char *root, spf_mode_t mode, char *const *terms, size_t nterms, const char *all_term,
	     spf_plan_t *out)
{
	spf_plan_t pl = { .kind = SPF_PLAN_MACRO };
	if (mode != SPF_MODE_MACRO) {
		int r = chain_build(root, terms, nterms, all_term, &pl.chain);
		if (r == MN_ERANGE) {
			chain_free(&pl.chain);
			pl.lookups = chain_lookups_needed(root, terms, nterms, all_term);
			if (mode != SPF_MODE_AUTO)
				pl.kind = pl.lookups > SPF_LOOKUP_LIMIT ? SPF_PLAN_LOOKUPS : SPF_PLAN_SPLIT;
		} else if (r != MN_OK) {
			return r;
		} else if (pl.chain.lookups > SPF_LOOKUP_LIMIT) {
			pl.lookups = pl.chain.lookups;
			chain_free(&pl.chain);
			if (mode != SPF_MODE_AUTO)
				pl.kind = SPF_PLAN_LOOKUPS;
		} else {
			pl.kind = SPF_PLAN_FLATTEN;
		}
	}
	*out = pl;
	return MN_OK;
}

/* Builds the flattened chain; *fits false when auto mode falls back to the macro record. */
static int spf_flatten(const ctx_t *c, const policy_domain_t *d, zone_t *z, const spf_in_t *in, bool *fits)
{
	char **t4 = NULL, **t6 = NULL, **terms = NULL;
	size_t n4 = 0, n6 = 0;
	validate_term_t *map = NULL;
	spf_plan_t pl = { 0 };
	*fits = true;
	int r = MN_ENOMEM;
	if ((t4 = rec_spf_net_block(in->m4, n4 = in->nm4)) == NULL ||
	    (t6 = rec_spf_net_block(in->m6, n6 = in->nm6)) == NULL)
		goto out;
	terms = concat(t4, n4, t6, n6, in->kept, in->nkept);
	if (terms == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	r = spf_plan(z->name, (spf_mode_t)d->spf.mode.v, terms, n4 + n6 + in->nkept, rec_spf_all_term(d->spf.all.v),
		     &pl);
	if (r != MN_OK)
		goto out;
	switch (pl.kind) {
	case SPF_PLAN_FLATTEN:
		break;
	case SPF_PLAN_MACRO:
		*fits = false;
		goto out;
	case SPF_PLAN_LOOKUPS:
		lookups_error(c, d, pl.lookups);
		goto out;
	case SPF_PLAN_SPLIT:
		diag_error(c->diag, spf_pos(d), "SPF for %s cannot be split into records of 512 bytes", d->name);
		goto out;
	}
	const chain_t ch = pl.chain;
	size_t nmap = 0;
	map = term_map(d, t4, in->m4, n4, t6, in->m6, n6, in, &nmap);
	if (map == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; r == MN_OK && i < ch.n; i++) {
		r = compile_add_txt(c, z, ch.v[i].owner, ch.v[i].text, spf_pos(d));
		if (r == MN_OK)
			r = validate_spf_record(c->val, d, ch.v[i].text, map, nmap);
	}
	if (r == MN_OK && in->cache != NULL)
		r = spf_old_parts(c, z, in->cache, &ch);
out:
	free(map);
	chain_free(&pl.chain);
	free(terms);
	free(t4);	/* (blocks) */
	free(t6);
	return r;
}

static int macro_nets(const ctx_t *c, const policy_domain_t *d, zone_t *z, const mn_net_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char **names = NULL;
		size_t nn = 0;
		int r = macro_net_names(z->name, &v[i], &names, &nn);
		if (r == MN_ERANGE) {
			char buf[64];
			mn_net_format(&v[i], buf, sizeof(buf));
			diag_error(c->diag, validate_net_pos(d, &v[i]), "SPF macro name for %s in %s passes 253 bytes",
				   buf, d->name);
			return MN_OK;
		}
		if (r != MN_OK)
			return r;
		for (size_t k = 0; r == MN_OK && k < nn; k++)
			r = zone_add_rr(z, names[k], ZONE_T_A, c->ttl, a_127_0_0_2, sizeof(a_127_0_0_2));
		macro_names_free(names, nn);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

static int spf_macro(const ctx_t *c, const policy_domain_t *d, zone_t *z, const spf_in_t *in)
{
	for (int fam = 4; fam <= 6; fam += 2) {
		size_t n = fam == 4 ? in->nm4 : in->nm6;
		size_t len = macro_query_len(z->name, fam);
		if (n > 0 && len > 253) {
			diag_error(c->diag, validate_net_pos(d, fam == 4 ? &in->m4[0] : &in->m6[0]),
				   "SPF macro names of %s would be %zu bytes for IPv%d clients (limit 253)",
				   d->name, len, fam);
			return MN_OK;
		}
	}
	char *text = macro_record_text(z->name, in->kept, in->nkept, rec_spf_all_term(d->spf.all.v));
	if (text == NULL)
		return MN_ENOMEM;
	unsigned lookups = 2 + (unsigned)in->nkept;	/* include:_spf.D, exists, kept */
	if (lookups > SPF_LOOKUP_LIMIT)
		lookups_error(c, d, lookups);
	int r = add_one_record(c, d, z, text);
	if (r == MN_OK) {
		size_t nmap = 0;
		validate_term_t *map = term_map(d, NULL, NULL, 0, NULL, NULL, 0, in, &nmap);
		r = map == NULL ? MN_ENOMEM : validate_spf_record(c->val, d, text, map, nmap);
		free(map);
	}
	free(text);
	if (r == MN_OK)
		r = macro_nets(c, d, z, in->m4, in->nm4);
	if (r == MN_OK)
		r = macro_nets(c, d, z, in->m6, in->nm6);
	return r;
}

/*
 * With an SPF cache entry computed from the policy's current terms, the
 * networks of the cache replace the policy's (it holds them too) and its kept
 * terms replace the a/mx/include terms.  Without one (or a stale one), the
 * terms stay as written.
 */
static int spf_use_cache(const policy_domain_t *d, const char *state_dir, spf_in_t *in)
{
	spfcache_t *cache = NULL;
	int r = spfcache_load(state_dir, d->name, &cache);
	if (r != MN_OK)
		return r == MN_ENOMEM ? r : MN_OK;	/* absent or unreadable: as without a cache */
	char **terms = NULL;
	size_t nterms = 0;
	char *source = NULL;
	r = spfcache_terms(d->name, &d->spf, &terms, &nterms);
	if (r == MN_OK && (source = spfcache_source(terms, nterms)) == NULL)
		r = MN_ENOMEM;
	rec_terms_free(terms, nterms);
	if (r != MN_OK || strcmp(source, cache->source) != 0) {
		free(source);
		spfcache_free(cache);
		return r;
	}
	free(source);
	mn_net_t *m4 = NULL, *m6 = NULL;
	size_t n4 = 0, n6 = 0, k4 = 0, k6 = 0;
	for (size_t i = 0; i < cache->nnets; i++)
		cache->nets[i].family == 4 ? n4++ : n6++;
	mn_net_t *v4 = n4 ? malloc(n4 * sizeof(*v4)) : NULL, *v6 = n6 ? malloc(n6 * sizeof(*v6)) : NULL;
	if ((n4 && v4 == NULL) || (n6 && v6 == NULL)) {
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cache->nnets; i++) {
		if (cache->nets[i].family == 4)
			v4[k4++] = cache->nets[i];
		else
			v6[k6++] = cache->nets[i];
	}
	r = rec_nets_merge(v4, n4, &m4, &n4);
	if (r == MN_OK)
		r = rec_nets_merge(v6, n6, &m6, &n6);
	if (r != MN_OK) {
		free(m4);
		goto out;
	}
	char **kept = cache->nkept ? calloc(cache->nkept, sizeof(*kept)) : NULL;
	if (cache->nkept && kept == NULL) {
		free(m4);
		free(m6);
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cache->nkept; i++) {
		kept[i] = cache->kept[i];
		cache->kept[i] = NULL;
	}
	free(in->m4);
	free(in->m6);
	rec_terms_free(in->kept, in->nkept);
	in->m4 = m4;
	in->nm4 = n4;
	in->m6 = m6;
	in->nm6 = n6;
	in->kept = kept;
	in->nkept = cache->nkept;
	in->cache = cache;
	cache = NULL;
out:
	free(v4);
	free(v6);
	spfcache_free(cache);
	return r;
}

int spf_build(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	const policy_spf_t *s = &d->spf;
	if (!s->present)
		return MN_OK;
	spf_in_t in = { 0 };
	int r = nets_of(&s->ip4, &in.v4);
	in.n4 = in.v4 ? s->ip4.n : 0;
	if (r == MN_OK)
		r = nets_of(&s->ip6, &in.v6);
	in.n6 = in.v6 ? s->ip6.n : 0;
	if (r == MN_OK)
		r = rec_nets_merge(in.v4, in.n4, &in.m4, &in.nm4);
	if (r == MN_OK)
		r = rec_nets_merge(in.v6, in.n6, &in.m6, &in.nm6);
	if (r == MN_OK)
		r = rec_spf_kept_terms(d->name, s, &in.kept, &in.nkept);
	if (r == MN_EINVAL) {	/* a network of the wrong family */
		diag_error(c->diag, spf_pos(d), "SPF networks of %s are of the wrong family", d->name);
		r = MN_OK;
		goto out;
	}
	if (r != MN_OK)
		goto out;
	if ((spf_mode_t)s->mode.v != SPF_MODE_PLAIN && c->p->server.state_dir.v != NULL &&
	    compile_dirset_maybe(c->spf, d->name)) {
		r = spf_use_cache(d, c->p->server.state_dir.v, &in);
		if (r != MN_OK)
			goto out;
	}
	bool fits = true;
	switch ((spf_mode_t)s->mode.v) {
	case SPF_MODE_PLAIN:
		r = spf_plain(c, d, z, &in);
		break;
	case SPF_MODE_FLATTEN:
		r = spf_flatten(c, d, z, &in, &fits);
		break;
	case SPF_MODE_AUTO:
		r = spf_flatten(c, d, z, &in, &fits);
		if (r == MN_OK && !fits)
			r = spf_macro(c, d, z, &in);
		break;
	case SPF_MODE_MACRO:
		r = spf_macro(c, d, z, &in);
		break;
	default:
		diag_error(c->diag, spf_pos(d), "unknown SPF mode %d", s->mode.v);
		break;
	}
out:
	spf_in_free(&in);
	return r;
}

