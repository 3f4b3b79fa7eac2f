/* SPDX-License-Identifier: GPL-3.0-or-later */
/* authorize.c -- whether a domain's own published SPF authorizes each source of a summary */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "reports/authorize.h"
#include "zones/records.h"
#include "zones/spfcache.h"

static bool nets_have(const mn_net_t *v, size_t n, const mn_net_t *a)
{
	for (size_t i = 0; i < n; i++) {
		if (mn_net_inside(&v[i], a))
			return true;
	}
	return false;
}

static bool pnets_have(const policy_nets_t *v, const mn_net_t *a)
{
	for (size_t i = 0; i < v->n; i++) {
		if (mn_net_inside(&v->v[i].net, a))
			return true;
	}
	return false;
}

/* The cache entry of d when it was computed from the policy's current terms, else NULL. */
static int current_cache(const policy_domain_t *d, const char *state_dir, spfcache_t **out)
{
	spfcache_t *cache = NULL;
	char **terms = NULL, *source = NULL;
	size_t nterms = 0;

	*out = NULL;
	if (d->spf.mode.v == SPF_MODE_PLAIN)
		return MN_OK;
	int r = spfcache_load(state_dir, d->name, &cache);
	if (r != MN_OK)
		return r == MN_ENOMEM ? r : MN_OK;
	r = spfcache_terms(d->name, &d->spf, &terms, &nterms);
	if (r == MN_OK && (source = spfcache_source(terms, nterms)) == NULL)
		r = MN_ENOMEM;
	rec_terms_free(terms, nterms);
	if (r == MN_OK && strcmp(source, cache->source) == 0) {
		*out = cache;
		cache = NULL;
	}
	free(source);
	spfcache_free(cache);
	return r;
}

static void authorize_domain(report_domain_summary_t *ds, const policy_domain_t *d, const spfcache_t *cache)
{
	bool unresolved = cache != NULL ? cache->nkept > 0
					: d->spf.a.n > 0 || d->spf.include.n > 0 || d->spf.mx.v;
	for (size_t i = 0; i < ds->nsources; i++) {
		report_source_t *src = &ds->sources[i];
		mn_net_t a;
		if (mn_net_parse(src->source, 0, false, &a) != MN_OK) {
			src->spf_authorized = -1;
			continue;
		}
		bool in = cache != NULL ? nets_have(cache->nets, cache->nnets, &a)
					: pnets_have(&d->spf.ip4, &a) || pnets_have(&d->spf.ip6, &a);
		src->spf_authorized = in ? 1 : unresolved ? -1 : 0;
	}
}

int report_summary_authorize(report_summary_t *s, const policy_t *p)
{
	if (s == NULL || p == NULL)
		return MN_EINVAL;
	for (size_t i = 0; i < s->n; i++) {
		report_domain_summary_t *ds = &s->v[i];
		const policy_domain_t *d = policy_domain_find(p, ds->domain);
		for (size_t j = 0; j < ds->nsources; j++)
			ds->sources[j].spf_authorized = -1;
		if (d == NULL || !d->spf.present)
			continue;
		spfcache_t *cache = NULL;
		int r = current_cache(d, p->server.state_dir.v, &cache);
		if (r < 0)
			return r;
		authorize_domain(ds, d, cache);
		spfcache_free(cache);
	}
	return MN_OK;
}
