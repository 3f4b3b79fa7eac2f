/* SPDX-License-Identifier: GPL-3.0-or-later */
/* policy.c -- one policy file's tree into the typed model; the checks and defaults of a whole policy */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "policy/pool.h"

void policy_conv_error(policy_conv_t *cv, const char *file, const ynode_t *n, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		cv->ctx.oom = MN_ENOMEM;
		return;
	}
	mn_pos_t pos = { file, n->line, n->col };
	diag_error(cv->diag, &pos, "%s", msg);
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

void policy_check_family(const policy_domain_t *v, size_t n, diag_t *diag)
{
	for (size_t i = 0; i < n; i++) {
		const policy_domain_t *d = &v[i];
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
/* ---- domains -------------------------------------------------------------------- */

static void convert_domains(policy_conv_t *cv, const ynode_t *key, const ynode_t *val)
{
	schema_ctx_t *ctx = &cv->ctx;
	policy_t *p = cv->p;
	if (!schema_expect_map(ctx, key, val) || val == NULL || val->kind != YNODE_MAP)
		return;
	if (p->ndomains + val->n > cv->cap) {
		size_t cap = cv->cap ? cv->cap : 64;
		while (cap < p->ndomains + val->n)
			cap *= 2;
		policy_domain_t *v = realloc(p->domains, cap * sizeof(*v));
		if (v == NULL) {
			ctx->oom = MN_ENOMEM;
			return;
		}
		p->domains = v;
		cv->cap = cap;
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

/*
 * A sort key: the name's first 8 bytes as a big-endian number (zero after its
 * end), so that most comparisons are one integer compare and never touch the
 * domain (976 bytes apart) or its name.
 */
typedef struct skey {
	uint64_t head;
	const char *name;
	size_t i;			/* index in the runs, one after another: file order among equal names */
	const policy_domain_t *d;	/* the domain */
} skey_t;

static int cmp_skey(const void *a, const void *b)
{
	const skey_t *x = a, *y = b;
	if (x->head != y->head)
		return x->head < y->head ? -1 : 1;
	/* the same first 8 bytes: the rest decides, unless a name ended within them */
	int c = (x->head & 0xff) != 0 ? strcmp(x->name + 8, y->name + 8) : 0;
	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The keys of v[0..n) into key[0..n), their indexes from base. */
static void keys_fill(skey_t *key, const policy_domain_t *v, size_t n, size_t base)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = v[i].name;
		uint64_t h = 0;
		size_t k = 0;
		for (; k < 8 && s[k] != '\0'; k++)
			h = h << 8 | (unsigned char)s[k];
		key[i].head = k == 0 ? 0 : h << (8 * (8 - k));
		key[i].name = s;
		key[i].i = base + i;
		key[i].d = &v[i];
	}
}

/* The two halves of a key array, sorted on a thread each (sort_domains). */
typedef struct halves {
	skey_t *key;
	size_t n;
} halves_t;

static void sort_half(void *arg, size_t k)
{
	halves_t *h = arg;
	size_t mid = h->n / 2;
	if (k == 0)
		qsort(h->key, mid, sizeof(*h->key), cmp_skey);
	else
		qsort(h->key + mid, h->n - mid, sizeof(*h->key), cmp_skey);
}

/*
 * Sorts key[0..n) by cmp_skey: its two halves on two threads (when the
 * process has two CPUs and n is large), then merged into out.  cmp_skey is a total order
 * (the index decides between equal names), so the result is a whole qsort's.
 */
static void sort_keys(skey_t *key, size_t n, skey_t *out)
{
	halves_t h = { key, n };
	mn_pool_run(2, n >= 10000 ? 0 : 1, sort_half, &h);	/* a thread only when it pays */
	size_t mid = n / 2, a = 0, b = mid, o = 0;
	while (a < mid && b < n)
		out[o++] = cmp_skey(&key[a], &key[b]) <= 0 ? key[a++] : key[b++];
	while (a < mid)
		out[o++] = key[a++];
	while (b < n)
		out[o++] = key[b++];
}

/* Every name defined twice in the sorted key[0..n), at each later definition, naming the first. */
static void report_twice(policy_conv_t *cv, const skey_t *key, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (key[i].head != key[i - 1].head || strcmp(key[i].name, key[i - 1].name) != 0)
			continue;
		size_t f = i - 1;
		while (f > 0 && strcmp(key[f - 1].name, key[i].name) == 0)
			f--;
		const mn_pos_t *first = &key[f].d->pos;
		diag_error(cv->diag, &key[i].d->pos, "domain '%s' defined twice (first at %s:%u:%u)",
			   key[i].name, first->file, (unsigned)first->line, (unsigned)first->col);
	}
}

/* Sorts p->domains by name in place and reports names defined twice. */
static int sort_domains(policy_conv_t *cv)
{
	policy_t *p = cv->p;
	size_t n = p->ndomains;
	if (n < 2)
		return MN_OK;
	skey_t *all = malloc(2 * n * sizeof(*all)), *key = all + n;
	size_t *perm = malloc(n * sizeof(*perm));
	if (all == NULL || perm == NULL) {
		free(all);
		free(perm);
		return MN_ENOMEM;
	}
	keys_fill(key, p->domains, n, 0);
	sort_keys(key, n, all);
	key = all;
	report_twice(cv, key, n);
	/* apply the permutation in place: slot i receives element perm[i] */
	for (size_t i = 0; i < n; i++)
		perm[i] = key[i].i;
	free(all);
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
	free(perm);
	return MN_OK;
}

/* policy_domains_gather()'s copies: out[i] is key[i]'s domain, in two halves (one a thread). */
typedef struct place {
	policy_domain_t *out;
	const skey_t *key;
	size_t n;
} place_t;

static void place_half(void *arg, size_t k)
{
	const place_t *pl = arg;
	size_t lo = k == 0 ? 0 : pl->n / 2, hi = k == 0 ? pl->n / 2 : pl->n;
	for (size_t i = lo; i < hi; i++)
		memcpy(&pl->out[i], pl->key[i].d, sizeof(pl->out[i]));
}

int policy_domains_gather(policy_conv_t *cv, const policy_run_t *runs, size_t nruns)
{
	policy_t *p = cv->p;
	size_t n = 0;
	for (size_t r = 0; r < nruns; r++)
		n += runs[r].n;
	skey_t *all = malloc((2 * n + 1) * sizeof(*all)), *key = all + n;
	policy_domain_t *out = malloc((n + 1) * sizeof(*out));
	if (all == NULL || out == NULL) {
		free(all);
		free(out);
		return MN_ENOMEM;
	}
	for (size_t r = 0, at = 0; r < nruns; r++) {
		keys_fill(key + at, runs[r].v, runs[r].n, at);
		at += runs[r].n;
	}
	sort_keys(key, n, all);
	report_twice(cv, all, n);
	/* each domain copied once, to its place (fresh memory: its pages fault in on both threads) */
	place_t pl = { out, all, n };
	mn_pool_run(2, n >= 10000 ? 0 : 1, place_half, &pl);
	free(all);
	free(p->domains);
	p->domains = out;
	p->ndomains = n;
	cv->cap = n + 1;
	cv->sorted = true;
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
static void check_allow_keys(policy_conv_t *cv)
{
	const policy_server_t *s = &cv->p->server;
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
			diag_error(cv->diag, &a->pos, "unknown TSIG key '%s' in allow (not in transfer.tsig)",
				   a->v + 4);
	}
}

void policy_conv_file(policy_conv_t *cv, const ynode_t *root, bool top, const ynode_t **includes)
{
	schema_ctx_t *ctx = &cv->ctx;
	if (!schema_expect_map(ctx, NULL, root))
		return;
	bool version = false, server = false;
	for (const ynode_t *k = root != NULL ? root->first : NULL; k != NULL; k = k->next) {
		if (k->dup)
			continue;
		const ynode_t *v = k->value;
		if (strcmp(k->str, "domains") == 0) {
			convert_domains(cv, k, v);
		} else if (!top) {
			policy_conv_error(cv, ctx->file, k,
				   "unknown key '%s'", k->str);
		} else if (strcmp(k->str, "version") == 0) {
			version = true;
			if (v == NULL || v->kind != YNODE_SCALAR || ynode_is_null(v))
				policy_conv_error(cv, ctx->file, v ? v : k,
					   "expected a number for version");
			else if (strcmp(v->str, "1") != 0)
				policy_conv_error(cv, ctx->file, v,
					   "unsupported version '%s' (expected 1)", v->str);
		} else if (strcmp(k->str, "server") == 0) {
			server = true;
			schema_map(ctx, schema_server, k, v, &cv->p->server);
		} else if (strcmp(k->str, "defaults") == 0) {
			schema_map(ctx, schema_domain, k, v, &cv->defaults);
		} else if (strcmp(k->str, "include") == 0) {
			if (v != NULL && v->kind == YNODE_SEQ)
				*includes = v;
			else if (!ynode_is_null(v))
				policy_conv_error(cv, ctx->file, v,
					   "expected a list for include");
		} else {
			policy_conv_error(cv, ctx->file, k,
				   "unknown key '%s'", k->str);
		}
	}
	if (!top)
		return;
	mn_pos_t at = { ctx->file, 1, 1 };
	if (root != NULL)
		at = schema_pos(ctx, root);
	if (!version)
		diag_error(cv->diag, &at, "missing required key 'version'");
	if (!server)
		diag_error(cv->diag, &at, "missing required key 'server'");
}


/* policy_merge_defaults' domains, in two halves (one a thread). */
typedef struct merge_job {
	policy_domain_t *v;
	size_t n;
	const policy_domain_t *defaults;
	const policy_dnssec_t *dnssec;
} merge_job_t;

static void merge_half(void *arg, size_t k)
{
	const merge_job_t *j = arg;
	size_t lo = k == 0 ? 0 : j->n / 2, hi = k == 0 ? j->n / 2 : j->n;
	if (lo == hi)
		return;
	schema_merge(schema_domain, &j->v[lo], hi - lo, sizeof(*j->v), j->defaults);
	/* then what neither sets from server.dnssec */
	schema_merge(schema_dnssec, &j->v[lo].dnssec, hi - lo, sizeof(*j->v), j->dnssec);
}

void policy_merge_defaults(policy_domain_t *v, size_t n, const policy_domain_t *defaults,
			   const policy_dnssec_t *dnssec)
{
	/* each domain on its own: a second thread only for many (the first load's 100 MB) */
	merge_job_t j = { v, n, defaults, dnssec };
	mn_pool_run(2, n >= 10000 ? 0 : 1, merge_half, &j);
}

int policy_conv_finish(policy_conv_t *cv, size_t errors0, bool patched)
{
	policy_t *p = cv->p;
	int ret = patched || cv->sorted ? MN_OK : sort_domains(cv);
	if (ret < 0)
		return ret;
	check_allow_keys(cv);
	if (diag_errors(cv->diag) > errors0)
		return MN_EPOLICY;
	/* built-in defaults, then each domain takes every key it does not set from `defaults:` */
	schema_defaults(&cv->ctx, schema_server, &p->server);
	schema_defaults(&cv->ctx, schema_domain, &cv->defaults);
	if (cv->ctx.oom < 0)
		return cv->ctx.oom;
	if (!patched)
		policy_merge_defaults(p->domains, p->ndomains, &cv->defaults, &p->server.dnssec);
	const policy_u32_t *dv = &p->server.dnssec_validity, *dr = &p->server.dnssec_refresh;
	if (dr->v >= dv->v)
		diag_error(cv->diag, POLICY_SET(*dr) ? &dr->pos : &dv->pos,
			   "dnssec_refresh (%u s) must be shorter than dnssec_validity (%u s)",
			   (unsigned)dr->v, (unsigned)dv->v);
	if (!patched)
		policy_check_family(p->domains, p->ndomains, cv->diag);
	for (size_t i = 0; patched && i < cv->nfamily; i++) {
		const policy_domain_t *d = policy_domain_find(p, cv->family[i]);
		if (d != NULL)
			policy_check_family(d, 1, cv->diag);
	}
	return diag_errors(cv->diag) > errors0 ? MN_EPOLICY : MN_OK;
}
