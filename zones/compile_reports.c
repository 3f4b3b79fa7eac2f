/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile_reports.c -- the hosted domains' report destinations at other hosted domains, collected once per compile */
#include <stdlib.h>
#include <string.h>

#include "zones/compile_internal.h"
#include "zones/records.h"

static int report_cmp(const void *x, const void *y)
{
	const report_t *a = x, *b = y;
	int c = strcmp(a->target, b->target);
	return c != 0 ? c : strcmp(a->source, b->source);
}

static int reports_collect_uris(const policy_t *p, const policy_domain_t *d, const policy_strs_t *u,
				report_t **v, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < u->n; i++) {
		char target[256];
		if (!rec_mailto_domain(u->v[i].v, target, sizeof(target)))
			continue;
		if (strcmp(target, d->name) == 0 || compile_domain_find(p, target) == NULL)
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			report_t *nv = realloc(*v, nc * sizeof(*nv));
			if (nv == NULL)
				return MN_ENOMEM;
			*v = nv;
			*cap = nc;
		}
		char *t = mn_strdup(target);
		if (t == NULL)
			return MN_ENOMEM;
		(*v)[(*n)++] = (report_t){ .target = t, .source = d->name, .pos = u->v[i].pos };
	}
	return MN_OK;
}

int compile_reports_collect(ctx_t *c, cache_run_t *cr)
{
	size_t cap = 0;
	for (size_t i = 0; i < c->p->ndomains; i++) {
		if (cr != NULL && cr->quick != NULL && cr->prev_from != NULL && cr->quick[i] && !cr->prev_from[i])
			continue;	/* unchanged, and reported to no hosted domain last time: not read */
		const policy_domain_t *d = &c->p->domains[i];
		if (!d->dmarc.present)
			continue;
		if (cr != NULL && cr->part_same != NULL && cr->part_same[i] && cr->olds[i]->reports_none)
			continue;	/* the same rua/ruf, the same hosted names: none again */
		size_t n0 = c->nreports;
		int r = reports_collect_uris(c->p, d, &d->dmarc.rua, &c->reports, &c->nreports, &cap);
		if (r == MN_OK)
			r = reports_collect_uris(c->p, d, &d->dmarc.ruf, &c->reports, &c->nreports, &cap);
		if (r != MN_OK)
			return r;
		if (cr != NULL && cr->reports_from != NULL)
			cr->reports_from[i] = c->nreports > n0;
	}
	if (c->nreports > 1)
		qsort(c->reports, c->nreports, sizeof(*c->reports), report_cmp);
	return MN_OK;
}

void compile_reports_free(ctx_t *c)
{
	for (size_t i = 0; i < c->nreports; i++)
		free(c->reports[i].target);
	free(c->reports);
	c->reports = NULL;
	c->nreports = 0;
}

/* The first of c->reports (sorted by target) whose reports go to domain name. */
size_t compile_reports_first(const ctx_t *c, const char *name)
{
	size_t lo = 0, hi = c->nreports;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(c->reports[mid].target, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
