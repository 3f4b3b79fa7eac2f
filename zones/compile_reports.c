/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile_reports.c -- the hosted domains' report destinations at other hosted domains, collected once per compile */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pool.h"
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

/* One half of the domains' destinations (compile_reports_collect), on a thread of its own. */
typedef struct rhalf {
	ctx_t *c;
	cache_run_t *cr;
	size_t lo, hi;
	report_t *v;
	size_t n, cap;
	int ret;
} rhalf_t;

static void collect_range(void *arg, size_t k)
{
	rhalf_t *h = &((rhalf_t *)arg)[k];
	ctx_t *c = h->c;
	cache_run_t *cr = h->cr;
	for (size_t i = h->lo; i < h->hi; i++) {
		if (cr != NULL && cr->quick != NULL && cr->prev_from != NULL && cr->quick[i] && !cr->prev_from[i])
			continue;	/* unchanged, and reported to no hosted domain last time: not read */
		const policy_domain_t *d = &c->p->domains[i];
		if (!d->dmarc.present)
			continue;
		if (cr != NULL && cr->part_same != NULL && cr->part_same[i] && cr->olds[i]->reports_none)
			continue;	/* the same rua/ruf, the same hosted names: none again */
		size_t n0 = h->n;
		int r = reports_collect_uris(c->p, d, &d->dmarc.rua, &h->v, &h->n, &h->cap);
		if (r == MN_OK)
			r = reports_collect_uris(c->p, d, &d->dmarc.ruf, &h->v, &h->n, &h->cap);
		if (r != MN_OK) {
			h->ret = r;
			return;
		}
		if (cr != NULL && cr->reports_from != NULL)
			cr->reports_from[i] = h->n > n0;
	}
}

int compile_reports_collect(ctx_t *c, cache_run_t *cr, unsigned threads)
{
	size_t nd = c->p->ndomains;
	/* every domain read (a first compile): its two halves on two threads, one after the other in c->reports */
	bool two = threads > 1 && nd >= 10000 && (cr == NULL || cr->quick == NULL);
	rhalf_t h[2] = { { .c = c, .cr = cr, .lo = 0, .hi = two ? nd / 2 : nd },
			 { .c = c, .cr = cr, .lo = two ? nd / 2 : nd, .hi = nd } };
	mn_pool_run(two ? 2 : 1, two ? 2 : 1, collect_range, h);
	int ret = h[0].ret != MN_OK ? h[0].ret : h[1].ret;
	report_t *v = h[0].v;
	if (ret == MN_OK && h[1].n > 0) {
		if ((v = realloc(h[0].v, (h[0].n + h[1].n) * sizeof(*v))) == NULL) {
			ret = MN_ENOMEM;
			v = h[0].v;
		} else {
			memcpy(v + h[0].n, h[1].v, h[1].n * sizeof(*v));
			h[0].v = v;
			h[0].n += h[1].n;
			h[1].n = 0;
		}
	}
	if (ret != MN_OK) {
		for (int k = 0; k < 2; k++) {
			for (size_t i = 0; i < h[k].n; i++)
				free(h[k].v[i].target);
			free(h[k].v);
		}
		return ret;
	}
	free(h[1].v);
	assert(c->reports == NULL && c->nreports == 0);
	c->reports = v;
	c->nreports = h[0].n;
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
