/* SPDX-License-Identifier: GPL-3.0-or-later */
/* proof.c -- the flattening proof: the published records evaluated over every address against the original */
#include "zones/flatten.h"

#include <stdio.h>
#include <string.h>

#include "zones/flatten_internal.h"

/* 1 where the outcomes differ: pass (whatever the kept terms do), or the result and the kept terms passed. */
static void cmp_fn(void *out, const void *av, const void *bv, const void *arg)
{
	const val_t *a = av, *b = bv;
	uint64_t ua = a->res == R_PASS ? 0 : a->ubits, ub = b->res == R_PASS ? 0 : b->ubits;
	(void)arg;
	*(val_t *)out = (val_t){ .res = a->res != b->res || ua != ub };
}

/* The most lookups and void lookups of any address of the published maps p. */
static void published_counts(const ipmap_t p[2], unsigned *maxl, unsigned *maxv)
{
	*maxl = *maxv = 0;
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < p[f].n; i++) {
			const val_t *v = flat_val(&p[f], i);
			if (v->lookups > *maxl)
				*maxl = v->lookups;
			if (v->voids > *maxv)
				*maxv = v->voids;
		}
}

/* MN_EPOLICY with why naming the first address where the original o and the published p differ. */
static int compare(const flat_input_t *in, const ipmap_t o[2], const ipmap_t p[2], char *why, size_t whysize)
{
	int r = MN_OK;
	for (int f = 0; f < 2 && r == MN_OK; f++) {
		ipmap_t d;
		r = ipmap_combine(&o[f], &p[f], cmp_fn, NULL, &d);
		if (r != MN_OK)
			break;
		for (size_t i = 0; i < d.n; i++) {
			if (flat_val(&d, i)->res == 0)
				continue;
			ipmap_addr_t a = d.s[i];
			const val_t *vo = flat_val(&o[f], ipmap_find(&o[f], a));
			const val_t *vp = flat_val(&p[f], ipmap_find(&p[f], a));
			char addr[64];
			ipmap_addr_format(f ? 6 : 4, a, addr, sizeof(addr));
			snprintf(why, whysize, "%s: the original gives %s ('%s'), the published record %s", addr,
				 flat_res_names[vo->res], flat_term_text(in, vo), flat_res_names[vp->res]);
			r = MN_EPOLICY;
			break;
		}
		ipmap_free(&d);
	}
	return r;
}

int flat_prove(flat_ctx_t *c, const flat_input_t *in, const flat_result_t *res, flat_pub_t kind,
	       const flat_rec_t *recs, size_t nrecs, unsigned *lookups, char *why, size_t whysize)
{
	if (c == NULL || in == NULL || res == NULL || recs == NULL || nrecs == 0 || why == NULL)
		return MN_EINVAL;
	ipmap_t o[2] = { 0 }, p[2] = { 0 };
	char dummy[8];
	why[0] = '\0';
	flat_kept_reset(c);
	int r = flat_eval_original(c, in, o, why, whysize);
	if (r != MN_OK)
		return r;
	c->over = recs;
	c->nover = nrecs;
	if (kind == FLAT_PUB_MACRO) {
		c->macro_nets = res->nets;
		c->nmacro = res->nnets;
		snprintf(c->macro_spec, sizeof(c->macro_spec), "%%{ir}.%%{v}.%s", recs[0].owner);
	}
	flat_eval_begin(c, true);
	/* from the apex: include:_spf.D costs one lookup */
	r = flat_eval_top(c, recs[0].text, recs[0].owner, (val_t){ .lookups = 1 }, p, dummy, sizeof(dummy));
	c->over = NULL;
	c->nover = 0;
	c->macro_nets = NULL;
	c->nmacro = 0;
	if (r == MN_EPOLICY)
		snprintf(why, whysize, "the published record '%s' does not parse", recs[0].text);
	if (r != MN_OK)
		goto out;
	unsigned maxl, maxv;
	published_counts(p, &maxl, &maxv);
	if (lookups != NULL)
		*lookups = maxl;
	if (maxl > FLAT_LOOKUP_LIMIT) {
		snprintf(why, whysize, "the published record needs %u DNS lookups (limit %d)", maxl, FLAT_LOOKUP_LIMIT);
		r = MN_EPOLICY;
		goto out;
	}
	if (kind == FLAT_PUB_FLATTEN && maxv > 0) {
		snprintf(why, whysize, "the published record has a void lookup");
		r = MN_EPOLICY;
		goto out;
	}
	r = compare(in, o, p, why, whysize);
out:
	for (int f = 0; f < 2; f++) {
		ipmap_free(&o[f]);
		ipmap_free(&p[f]);
	}
	return r;
}
