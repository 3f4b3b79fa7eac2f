/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile.c -- policy + key store + SPF cache -> zones, validated, with serials */
#include "zones/compile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keystore.h"
#include "policy/pool.h"
#include "policy/wire.h"
#include "zones/compile_internal.h"
#include "zones/incr.h"
#include "zones/mtasts.h"
#include "zones/sign.h"
#include "zones/records.h"
#include "zones/serial.h"
#include "zones/validate.h"
#include "zones/zone_internal.h"

/* SOA timers besides the serial and the minimum. */
enum { SOA_REFRESH = 3600, SOA_RETRY = 900, SOA_EXPIRE = 1209600 };

/* ---- names ----------------------------------------------------------------- */

/* prefix + "." + suffix (either may be empty), malloc'd. */
static char *name_join(const char *prefix, const char *suffix)
{
	mn_buf_t b = { 0 };
	mn_buf_add(&b, prefix);
	if (prefix[0] != '\0' && suffix[0] != '\0')
		mn_buf_add(&b, ".");
	mn_buf_add(&b, suffix);
	return mn_buf_take(&b);
}

/*
 * Is name a valid owner (name <= 253 bytes, labels <= 63)?  When not, why
 * gets the reason: "is 260 bytes (limit 253)" / "has a 64-byte label (limit 63)".
 */
bool compile_name_valid(const char *name, char *why, size_t size)
{
	uint8_t wire[256];
	size_t len = strlen(name);
	if (len > 253) {
		snprintf(why, size, "is %zu bytes (limit 253)", len);
		return false;
	}
	for (const char *l = name; *l != '\0';) {
		size_t n = strcspn(l, ".");
		if (n > 63) {
			snprintf(why, size, "has a %zu-byte label (limit 63)", n);
			return false;
		}
		l += n + (l[n] == '.');
	}
	if (mn_name_to_wire(name, wire, sizeof(wire)) <= 0) {
		snprintf(why, size, "is not a valid name");
		return false;
	}
	return true;
}

/* ---- state_dir listings ------------------------------------------------------- */

static void dirset_free(dirset_t *s)
{
	for (size_t i = 0; i < s->names.cap; i++)
		free(s->names.slot[i].val);
	mn_map_free(&s->names);
}

static int dirset_add(dirset_t *s, const char *name)
{
	size_t len = strlen(name);
	if (mn_map_get(&s->names, name, len) != NULL)
		return MN_OK;
	char *copy = mn_strdup(name);
	void **slot = copy != NULL ? mn_map_put(&s->names, copy, len) : NULL;
	if (slot == NULL) {
		free(copy);
		return MN_ENOMEM;
	}
	*slot = copy;
	return MN_OK;
}

/* The names in state_dir/sub into s (s->unknown when they cannot be listed). */
static int dirset_load(dirset_t *s, const char *state_dir, const char *sub)
{
	memset(s, 0, sizeof(*s));
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, sub) >= (int)sizeof(path)) {
		s->unknown = true;
		return MN_OK;
	}
	DIR *dir = opendir(path);
	if (dir == NULL) {
		/* missing: every file below would be missing too */
		s->unknown = errno != ENOENT && errno != ENOTDIR;
		return MN_OK;
	}
	int r = MN_OK;
	struct dirent *e;
	while (r == MN_OK && (errno = 0, e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			r = dirset_add(s, e->d_name);
	if (r == MN_OK && errno != 0) {
		dirset_free(s);
		s->unknown = true;
	}
	closedir(dir);
	if (r != MN_OK)
		dirset_free(s);
	return r;
}

/* Could name have an entry (false: certainly not)? */
bool compile_dirset_maybe(const dirset_t *s, const char *name)
{
	return s == NULL || s->unknown || mn_map_gets(&s->names, name) != NULL;
}

/* ---- SOA and NS -------------------------------------------------------------- */

static void apex_rd_free(apex_rd_t *a)
{
	free(a->ns);
	free(a->ns_len);
	a->ns = NULL;
	a->ns_len = NULL;
}

static int apex_rd_make(const policy_server_t *s, apex_rd_t *a)
{
	memset(a, 0, sizeof(*a));
	uint8_t *rd = a->soa;
	int n1 = mn_name_to_wire(s->nameservers.v[0].v, rd, 256);
	if (n1 < 0) {
		a->err = n1;
		return MN_OK;
	}
	int n2 = mn_name_to_wire(s->hostmaster.v, rd + n1, 256);
	if (n2 < 0) {
		a->err = n2;
		return MN_OK;
	}
	uint8_t *p = rd + n1 + n2;
	uint32_t t[5] = { 0, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, s->negative_ttl.v };
	for (int i = 0; i < 5; i++) {
		mn_put32(p, t[i]);
		p += 4;
	}
	a->soa_len = (uint16_t)(p - rd);
	a->ns = calloc(s->nameservers.n, sizeof(*a->ns));
	a->ns_len = calloc(s->nameservers.n, sizeof(*a->ns_len));
	if (a->ns == NULL || a->ns_len == NULL) {
		apex_rd_free(a);
		return MN_ENOMEM;
	}
	for (size_t i = 0; i < s->nameservers.n; i++) {
		int n = mn_name_to_wire(s->nameservers.v[i].v, a->ns[i], sizeof(a->ns[i]));
		if (n < 0) {
			a->err = n;	/* after the SOA went in, as when each zone converted it */
			break;
		}
		a->ns_len[i] = (uint16_t)n;
		a->nns++;
	}
	return MN_OK;
}

static int add_soa_ns(const ctx_t *c, zone_t *z)
{
	const apex_rd_t *a = c->rd;
	if (a->soa_len == 0)
		return a->err;
	int r = zone_add_rr(z, z->name, ZONE_T_SOA, c->ttl, a->soa, a->soa_len);
	for (size_t i = 0; r == MN_OK && i < a->nns; i++)
		r = zone_add_rr(z, z->name, ZONE_T_NS, c->ttl, a->ns[i], a->ns_len[i]);
	if (r == MN_OK && a->err != MN_OK)
		r = a->err;
	return r;
}

/* Adds TXT text at owner; a text too long for one RDATA is a diag error at pos. */
int compile_add_txt(const ctx_t *c, zone_t *z, const char *owner, const char *text, const mn_pos_t *pos)
{
	int r = zone_add_txt(z, owner, c->ttl, text);
	if (r == MN_ERANGE) {
		diag_error(c->diag, pos, "record at %s is too long (%zu bytes)", owner, strlen(text));
		return MN_OK;
	}
	return r;
}

/* ---- DKIM -------------------------------------------------------------------- */

static int build_dkim(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	keystore_pub_t *keys = NULL;
	size_t nkeys = 0;
	int r = MN_OK;
	const char *state = c->p->server.state_dir.v;
	bool borrowed = c->dom != NULL && c->dom->keys_given;
	if (borrowed || (state != NULL && compile_dirset_maybe(c->keys, d->name))) {
		if (borrowed) {
			r = c->dom->keys_r;
			keys = c->dom->keys;
			nkeys = c->dom->nkeys;
		} else {
			r = keystore_published(state, d->name, &keys, &nkeys);
		}
		if (r == MN_ENOMEM)
			return r;
		if (r != MN_OK) {
			diag_error(c->diag, &d->pos, "cannot read the key store of %s (%s)", d->name,
				   mn_strerror(r));
			keys = NULL;
			nkeys = 0;
		}
	}
	r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < d->dkim.selectors.n; i++) {
		const policy_selector_t *s = &d->dkim.selectors.v[i];
		for (size_t k = 0; k < nkeys; k++) {
			if (strcmp(keys[k].selector, s->name.v) == 0) {
				diag_error(c->diag, &s->name.pos,
					   "selector '%s' of %s is also in the key store", s->name.v, d->name);
				break;
			}
		}
		char *owner = name_join(s->name.v, z->name);
		if (owner == NULL) {
			r = MN_ENOMEM;
			break;
		}
		char why[64];
		if (!compile_name_valid(owner, why, sizeof(why)))
			diag_error(c->diag, &s->name.pos, "DKIM: selector name %s %s", owner, why);
		else
			r = compile_add_txt(c, z, owner, s->record.v ? s->record.v : "", &s->record.pos);
		free(owner);
	}
	for (size_t k = 0; r == MN_OK && k < nkeys; k++) {
		char *owner = name_join(keys[k].selector, z->name);
		if (owner == NULL) {
			r = MN_ENOMEM;
			break;
		}
		char why[64];
		if (!compile_name_valid(owner, why, sizeof(why)))
			diag_error(c->diag, &d->pos, "DKIM: key store selector name %s %s", owner, why);
		else
			r = compile_add_txt(c, z, owner, keys[k].record, &d->pos);
		free(owner);
	}
	if (r == MN_OK)
		r = validate_dkim_selectors(c->val, d);
	if (r == MN_OK && nkeys > 0)
		r = validate_dkim_store(c->val, d->name, keys, nkeys);
	if (!borrowed)
		keystore_pub_free(keys, nkeys);
	return r;
}

/* ---- DMARC ------------------------------------------------------------------- */

const policy_domain_t *compile_domain_find(const policy_t *p, const char *name)
{
	size_t lo = 0, hi = p->ndomains;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->domains[mid].name, name);
		if (c == 0)
			return &p->domains[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int add_report_auth(const ctx_t *c, zone_t *z, const char *who, const mn_pos_t *pos)
{
	char *rep = name_join("_report", z->name);
	char *owner = rep ? name_join(who, rep) : NULL;
	free(rep);
	if (owner == NULL)
		return MN_ENOMEM;
	int r = MN_OK;
	char why[64];
	if (!compile_name_valid(owner, why, sizeof(why)))
		diag_error(c->diag, pos, "DMARC: report authorization name %s %s", owner, why);
	else
		r = compile_add_txt(c, z, owner, "v=DMARC1", pos);
	free(owner);
	return r;
}

static int build_dmarc(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	const policy_dmarc_t *m = &d->dmarc;
	int r = MN_OK;
	if (m->present) {
		char *text = rec_dmarc_text(m);
		if (text == NULL)
			return MN_ENOMEM;
		const mn_pos_t *pos = POLICY_SET(m->p) ? &m->p.pos : &d->pos;
		r = compile_add_txt(c, z, z->name, text, pos);
		if (r == MN_OK)
			r = validate_dmarc(c->val, c->p, d, text);
		free(text);
		for (size_t i = 0; r == MN_OK && i < m->authorize_reports_for.n; i++)
			r = add_report_auth(c, z, m->authorize_reports_for.v[i].v,
					    &m->authorize_reports_for.v[i].pos);
	}
	/* every hosted domain whose reports come here */
	size_t lo = compile_reports_first(c, d->name);
	for (size_t i = lo; r == MN_OK && i < c->nreports && strcmp(c->reports[i].target, d->name) == 0; i++)
		r = add_report_auth(c, z, c->reports[i].source, &c->reports[i].pos);
	return r;
}

/* ---- MTA-STS, TLS-RPT, BIMI: zones only for domains that have the key ---------- */

/* One TXT record text at owner (the apex when NULL); pos is where the key was written. */
static int add_text(const ctx_t *c, zone_t *z, const char *owner, char *text, const mn_pos_t *pos)
{
	if (text == NULL)
		return MN_ENOMEM;
	int r = compile_add_txt(c, z, owner != NULL ? owner : z->name, text, pos);
	free(text);
	return r;
}

static const mn_pos_t *key_pos(const mn_pos_t *pos, const policy_domain_t *d)
{
	return pos->file != NULL ? pos : &d->pos;
}

static int build_mta_sts(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	return add_text(c, z, NULL, rec_mta_sts_text(&d->mta_sts), key_pos(&d->mta_sts.mode.pos, d));
}

/*
 * d's withdrawn MTA-STS policy (RFC 8461 §8.3, mtasts.h) into *w; while it is
 * published (w->active) the compile cache's entry for d ends with it.
 */
int compile_mta_sts_withdrawal(const ctx_t *c, const policy_domain_t *d, mtasts_wd_t *w)
{
	memset(w, 0, sizeof(*w));
	if (d->mta_sts.present || !mtasts_wdset_maybe(c->wdset, d->name))
		return MN_OK;
	int r = mtasts_withdrawal(c->p, d, c->now, w);
	if (r == MN_OK && w->active && c->dom != NULL && w->until < c->dom->until)
		c->dom->until = w->until;
	return r;
}

static int build_tlsrpt(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	return add_text(c, z, NULL, rec_tlsrpt_text(&d->tls_rpt), key_pos(&d->tls_rpt.rua.pos, d));
}

static int build_bimi(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	char *owner = name_join("default", z->name);
	if (owner == NULL)
		return MN_ENOMEM;
	int r = add_text(c, z, owner, rec_bimi_text(&d->bimi), key_pos(&d->bimi.logo.pos, d));
	free(owner);
	return r;
}

/* ---- zones -------------------------------------------------------------------- */

static const struct {
	const char *label;
	zone_kind_t kind;
	int (*build)(const ctx_t *c, const policy_domain_t *d, zone_t *z);
	size_t present;		/* offset of the key's `bool present` in the domain; 0: always made */
} kinds[ZONE_KINDS] = {
	{ "_domainkey", ZONE_DKIM, build_dkim, 0 },
	{ "_dmarc", ZONE_DMARC, build_dmarc, 0 },
	{ "_spf", ZONE_SPF, spf_build, 0 },
	{ "_mta-sts", ZONE_MTA_STS, build_mta_sts, offsetof(policy_domain_t, mta_sts.present) },
	{ "_smtp._tls", ZONE_TLSRPT, build_tlsrpt, offsetof(policy_domain_t, tls_rpt.present) },
	{ "_bimi", ZONE_BIMI, build_bimi, offsetof(policy_domain_t, bimi.present) },
};

int compile_domain(const ctx_t *c, const policy_domain_t *d, zones_t *zs)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		mtasts_wd_t wd = { .active = false };
		if (kinds[k].present != 0 && !*(const bool *)((const char *)d + kinds[k].present)) {
			int r = kinds[k].kind == ZONE_MTA_STS ? compile_mta_sts_withdrawal(c, d, &wd) : MN_OK;
			if (r != MN_OK)
				return r;
			if (!wd.active)
				continue;
		}
		char *apex = name_join(kinds[k].label, d->name);
		if (apex == NULL)
			return MN_ENOMEM;
		char why[64];
		if (!compile_name_valid(apex, why, sizeof(why))) {
			diag_error(c->diag, &d->pos, "zone name %s %s", apex, why);
			free(apex);
			continue;
		}
		zone_t *z = NULL;
		int r = zone_new(apex, kinds[k].kind, d->name, &z);
		free(apex);
		if (r != MN_OK)
			return r;
		zs->v[zs->n++] = z;
		r = add_soa_ns(c, z);
		if (r == MN_OK && wd.active)	/* mode none under its own id */
			r = add_text(c, z, NULL, rec_mta_sts_text(&wd.policy), &d->pos);
		else if (r == MN_OK)
			r = kinds[k].build(c, d, z);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

static int zone_cmp(const void *x, const void *y)
{
	return strcmp((*(zone_t *const *)x)->name, (*(zone_t *const *)y)->name);
}

/* ---- parts: domain ranges compiled on their own threads ------------------------- */

/*
 * Without a thread count given, each thread takes PARTS_PER_THREAD ranges in
 * turn rather than one: a thread that shares its core with something else
 * then takes fewer, and the compile does not wait for the slowest one.
 */
enum { THREADS_MAX = 8, PARTS_PER_THREAD = 4, PARTS_MAX = THREADS_MAX * PARTS_PER_THREAD, PART_MIN_DOMAINS = 2000 };

/*
 * A range of the sorted domains with its own diag and validate_t (the first
 * part uses the caller's), compiled and finished independently: domains share
 * nothing but the read-only policy, the report list and the files they read.
 */
typedef struct part {
	ctx_t c;
	const policy_domain_t *only;
	size_t lo, hi;
	zones_t zs;		/* in domain order */
	int r;
	cache_part_t cache;	/* fresh != NULL: through the compile cache */
} part_t;

static int compile_range(part_t *pt)
{
	if (pt->cache.fresh != NULL) {
		for (size_t i = pt->lo; i < pt->hi; i++) {
			int r = compile_cached(&pt->c, &pt->cache, i, &pt->zs);
			if (r != MN_OK)
				return r;
		}
		return MN_OK;	/* finished domain by domain */
	}
	for (size_t i = pt->lo; i < pt->hi; i++) {
		const policy_domain_t *d = &pt->c.p->domains[i];
		if (pt->only != NULL && d != pt->only)
			continue;
		int r = compile_domain(&pt->c, d, &pt->zs);
		if (r != MN_OK)
			return r;
	}
	for (size_t i = 0; i < pt->zs.n; i++) {
		int r = zone_finish(pt->zs.v[i]);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

/* The parts, after the stored serials' read (item 0) when preload names the state dir. */
typedef struct parts_run {
	part_t *pt;
	const char *preload;
} parts_run_t;

static void part_run(void *arg, size_t k)
{
	parts_run_t *pr = arg;
	if (pr->preload != NULL && k-- == 0) {
		serial_preload(pr->preload);
		return;
	}
	pr->pt[k].r = compile_range(&pr->pt[k]);
}

static unsigned parts_wanted(const compile_opts_t *opts, size_t nd)
{
	unsigned n = opts->threads;
	if (n == 0) {
		n = mn_cpus();
		if (nd / PART_MIN_DOMAINS < n)
			n = (unsigned)(nd / PART_MIN_DOMAINS);
	}
	if (n > THREADS_MAX)
		n = THREADS_MAX;
	if (n > nd)
		n = (unsigned)nd;
	return n > 0 ? n : 1;
}

/*
 * Compiles the domains in ranges on threads threads (this one among them), and
 * gathers the zones into zs in domain order and the parts' messages into
 * c->diag in the same order (what one pass over all domains reports).
 * With fresh (a compile cache), every domain goes through compile_cached():
 * its entry in fresh[i], its messages replayed from there; and with known
 * (beside zs->v, false), a zone reused from the cache is marked true there,
 * and each zone's kind is noted in zkinds (beside zs->v too; with known).
 * preload (a state dir, or NULL): the stored serials are read first, by one
 * of the threads while the others compile (serial_preload()): the read,
 * about 0.1 s at 100,000 domains, no longer runs after the compile.
 */
static int compile_parts(ctx_t *c, const policy_domain_t *only, unsigned threads, zones_t *zs, bool *known,
			 uint8_t *zkinds, const cache_run_t *cr, compile_stats_t *st, const char *preload)
{
	const compile_cache_t *prev = cr->prev;
	incr_entry_t **fresh = cr->fresh;
	unsigned nparts = threads > 1 ? threads * PARTS_PER_THREAD : 1;
	if (nparts > c->p->ndomains)
		nparts = threads;
	const policy_t *p = c->p;
	part_t pt[PARTS_MAX];
	int r = MN_OK;
	memset(pt, 0, sizeof(pt));
	for (unsigned k = 0; k < nparts; k++) {
		pt[k].c = *c;
		pt[k].only = only;
		pt[k].cache.prev = prev;
		pt[k].cache.fresh = fresh;
		pt[k].cache.run = cr;
		pt[k].lo = p->ndomains * k / nparts;
		pt[k].hi = p->ndomains * (k + 1) / nparts;
		size_t nd = only != NULL ? 1 : pt[k].hi - pt[k].lo;
		if (nd > 0 && (pt[k].zs.v = calloc(nd * ZONE_KINDS, sizeof(*pt[k].zs.v))) == NULL)
			r = MN_ENOMEM;
		if (known != NULL && nd > 0 && r == MN_OK &&
		    ((pt[k].cache.known = calloc(nd * ZONE_KINDS, sizeof(*pt[k].cache.known))) == NULL ||
		     (pt[k].cache.kind = malloc(nd * ZONE_KINDS)) == NULL))
			r = MN_ENOMEM;
		if ((k > 0 || fresh != NULL) && r == MN_OK) {
			pt[k].c.diag = NULL;
			if (diag_new(&pt[k].c.diag) != MN_OK || validate_part(pt[k].c.diag, &pt[k].c.val) != MN_OK) {
				pt[k].c.val = NULL;
				r = MN_ENOMEM;
			}
		}
	}
	parts_run_t pr = { .pt = pt, .preload = preload };
	if (r == MN_OK)
		mn_pool_run(nparts + (preload != NULL), threads, part_run, &pr);
	for (unsigned k = 0; r == MN_OK && k < nparts; k++)
		r = pt[k].r;
	for (unsigned k = 1; fresh == NULL && r == MN_OK && k < nparts; k++)
		r = validate_join(c->val, pt[k].c.val);
	if (fresh != NULL && r == MN_OK) {
		compile_cache_replay(c, cr, p->ndomains);
		st->reused = st->compiled = st->digested = 0;
		for (unsigned k = 0; k < nparts; k++) {
			st->reused += pt[k].cache.reused;
			st->compiled += pt[k].cache.compiled;
			st->digested += pt[k].cache.digested;
			st->signed_zones += pt[k].cache.signed_zones;
			st->signed_reused += pt[k].cache.signed_reused;
			st->stored += pt[k].cache.stored;
			time_t at = pt[k].cache.resign_at;
			if (at != 0 && (st->resign_at == 0 || at < st->resign_at))
				st->resign_at = at;
		}
	}
	/* every part's zones move into zs (freed with it, also on failure) */
	for (unsigned k = 0; k < nparts; k++) {
		if (known != NULL && pt[k].cache.known != NULL)
			memcpy(known + zs->n, pt[k].cache.known, pt[k].zs.n * sizeof(*known));
		if (zkinds != NULL && pt[k].cache.kind != NULL)
			memcpy(zkinds + zs->n, pt[k].cache.kind, pt[k].zs.n);
		for (size_t i = 0; i < pt[k].zs.n; i++)
			zs->v[zs->n++] = pt[k].zs.v[i];
		free(pt[k].zs.v);
		free(pt[k].cache.known);
		free(pt[k].cache.kind);
		incr_hash_clear(&pt[k].cache.h);
		/* (a part whose set-up was not reached still has the caller's) */
		if (pt[k].c.val != c->val)
			validate_free(pt[k].c.val);
		if (pt[k].c.diag != c->diag)
			diag_free(pt[k].c.diag);
	}
	return r;
}

/*
 * Sorts zs by apex.  The zones come in domain order, and for each kind the
 * apexes are the kind's label + "." + the domain's name, so each kind alone
 * is in the domains' order, and the kinds, by label, go _bimi < _dmarc <
 * _domainkey < _mta-sts < _smtp < _spf: a stable split by kind sorts them.
 * The policy's domains are in strict name order (the loader sorts them and
 * refuses duplicates; compile_domain_find() relies on it too), so the result
 * is not checked with a strcmp per zone: each zone's kind is read once.
 * known (beside zs->v, or NULL) moves with the zones; zkinds (beside
 * zs->v, or NULL: read from the zones) are their kinds as the compile noted
 * them.  (qsort if a zone is of no kind listed: then none is known.)
 */
static int zones_sort(zones_t *zs, bool *known, const uint8_t *zkinds)
{
	static const zone_kind_t order[] = { ZONE_BIMI, ZONE_DMARC, ZONE_DKIM, ZONE_MTA_STS, ZONE_TLSRPT, ZONE_SPF };
	enum { NORDER = sizeof(order) / sizeof(order[0]) };
	if (zs->n < 2)
		return MN_OK;
	zone_t **v = malloc(zs->n * sizeof(*v));
	uint8_t *rank = malloc(zs->n);
	bool *kv = known != NULL ? malloc(zs->n * sizeof(*kv)) : NULL;
	if (v == NULL || rank == NULL || (known != NULL && kv == NULL)) {
		free(v);
		free(rank);
		free(kv);
		return MN_ENOMEM;
	}
	size_t count[NORDER + 1] = { 0 };
	for (size_t i = 0; i < zs->n; i++) {
		zone_kind_t kind = zkinds != NULL ? (zone_kind_t)zkinds[i] : zs->v[i]->kind;
		uint8_t o = 0;
		while (o < NORDER && order[o] != kind)
			o++;
		rank[i] = o;
		count[o]++;
	}
	if (count[NORDER] > 0) {
		free(v);
		free(rank);
		free(kv);
		qsort(zs->v, zs->n, sizeof(*zs->v), zone_cmp);
		if (known != NULL)
			memset(known, 0, zs->n * sizeof(*known));	/* (moved: none known) */
		return MN_OK;
	}
	size_t at[NORDER], k = 0;
	for (size_t o = 0; o < NORDER; o++) {
		at[o] = k;
		k += count[o];
	}
	for (size_t i = 0; i < zs->n; i++) {
		size_t to = at[rank[i]]++;
		v[to] = zs->v[i];
		if (kv != NULL)
			kv[to] = known[i];
	}
	if (kv != NULL)
		memcpy(known, kv, zs->n * sizeof(*known));
	free(kv);
	free(rank);
	free(zs->v);
	zs->v = v;
	return MN_OK;
}

/* ---- the compile, step by step ---------------------------------------------------- */

/* What one zones_compile() holds from its first step to its last. */
typedef struct run {
	ctx_t c;
	const compile_opts_t *opts;
	const policy_domain_t *only;	/* the domain of opts->only_domain, or NULL */
	size_t nd;			/* domains compiled */
	dirset_t keys, spf;		/* state_dir/keys, state_dir/spf */
	mtasts_wdset_t *wdset;		/* domains that may have MTA-STS files */
	apex_rd_t rd;
	zones_t *zs;
	bool *known;			/* beside zs->v: reused from the cache, serial known (NULL: no cache) */
	bool preloaded;			/* the stored serials read beside the compile */
	uint8_t *zkinds;		/* beside zs->v: the zones' kinds as compiled (NULL: no cache) */
	cache_run_t cache;		/* fresh == NULL: no compile cache */
	compile_stats_t st;
	zone_t **resigned;		/* zones sign_settle replaced, released at the end */
	size_t nresigned;
} run_t;

/* The server settings every zone needs; the domain named by only_domain (MN_ENOENT: none). */
static int run_check(run_t *u)
{
	const policy_t *p = u->c.p;
	if (p->server.nameservers.n == 0 || p->server.hostmaster.v == NULL) {
		diag_error(u->c.diag, NULL, "server.nameservers and server.hostmaster are required");
		return MN_EPOLICY;
	}
	if (u->opts->only_domain != NULL) {
		char norm[256];
		if (mn_name_norm(u->opts->only_domain, norm, sizeof(norm)) != MN_OK ||
		    (u->only = compile_domain_find(p, norm)) == NULL)
			return MN_ENOENT;
	}
	u->nd = u->only != NULL ? 1 : p->ndomains;
	return MN_OK;
}

/* What every domain reads: the state_dir listings, the SOA/NS RDATA, the validator, the report list, zs. */
static int run_prepare(run_t *u)
{
	const policy_t *p = u->c.p;
	int r = MN_OK;
	if (p->server.state_dir.v != NULL) {
		if ((r = dirset_load(&u->keys, p->server.state_dir.v, "keys")) != MN_OK ||
		    (r = dirset_load(&u->spf, p->server.state_dir.v, "spf")) != MN_OK)
			return r;
	}
	u->c.keys = &u->keys;
	u->c.spf = &u->spf;
	if ((r = mtasts_wdset_load(p, &u->wdset)) != MN_OK)
		return r;
	u->c.wdset = u->wdset;
	if ((r = apex_rd_make(&p->server, &u->rd)) != MN_OK)
		return r;
	u->c.rd = &u->rd;
	/* (the cache first: the report list takes what did not change from it) */
	if (u->opts->cache != NULL && u->only == NULL &&
	    (r = compile_cache_begin(p, u->opts->cache, u->nd, &u->cache)) != MN_OK)
		return r;
	if ((r = validate_new(u->c.diag, &u->c.val)) != MN_OK ||
	    (r = compile_reports_collect(&u->c, u->cache.fresh != NULL ? &u->cache : NULL,
					 u->only != NULL ? 1 : parts_wanted(u->opts, u->nd))) != MN_OK ||
	    (r = compile_cache_outside(&u->c, &u->cache)) != MN_OK)
		return r;
	u->zs = calloc(1, sizeof(*u->zs));
	if (u->zs == NULL || (u->nd > 0 && (u->zs->v = calloc(u->nd * ZONE_KINDS, sizeof(*u->zs->v))) == NULL))
		return MN_ENOMEM;
	if (u->cache.fresh != NULL && u->nd > 0 &&
	    ((u->known = calloc(u->nd * ZONE_KINDS, sizeof(*u->known))) == NULL ||
	     (u->zkinds = malloc(u->nd * ZONE_KINDS)) == NULL))
		return MN_ENOMEM;
	return MN_OK;
}

/*
 * Does any domain sign?  (sign_zones() finds out by looking every zone's
 * domain up, 300,000 binary searches at 100,000 domains, to do nothing.)
 */
static bool any_signed(const policy_t *p)
{
	for (size_t i = 0; i < p->ndomains; i++)
		if (p->domains[i].dnssec.enabled.v)
			return true;
	return false;
}

/* The zones sorted and checked as a whole (k 0) while the stored serials are read for run_publish (k 1). */
typedef struct checks {
	run_t *u;
	int r;
} checks_t;

static void checks_run(void *arg, size_t k)
{
	checks_t *t = arg;
	run_t *u = t->u;
	if (k == 1) {
		if (!u->preloaded)
			serial_preload(u->c.p->server.state_dir.v);
		return;
	}
	int r = zones_sort(u->zs, u->known, u->zkinds);
	if (r == MN_OK && u->cache.fresh != NULL && compile_cache_names_known(&u->cache, u->nd))
		validate_names_known(u->c.val);
	if (r == MN_OK && u->cache.prev != NULL)
		validate_known_zones(u->c.val, u->known);	/* (the zones reused from the cache) */
	if (r == MN_OK)
		r = validate_zones(u->c.val, u->c.p, u->zs);
	t->r = r;
}

/* Every domain's zones, sorted; the checks over the whole set; MN_EPOLICY when errors came up. */
static int run_compile(run_t *u, size_t errors)
{
	unsigned threads = u->only != NULL ? 1 : parts_wanted(u->opts, u->nd);
	const char *state = u->c.p->server.state_dir.v;
	u->preloaded = state != NULL && threads > 1;
	int r = compile_parts(&u->c, u->only, threads, u->zs, u->known, u->zkinds, &u->cache, &u->st,
			      u->preloaded ? state : NULL);
	if (u->cache.fresh == NULL)
		u->st.compiled = u->nd;
	if (r == MN_OK) {
		checks_t t = { .u = u };
		mn_pool_run(state != NULL && !u->preloaded ? 2 : 1, threads > 1 ? 2 : 1, checks_run, &t);
		r = t.r;
	}
	/* DNSSEC before the serials, which follow the signed content (the cache's entries are signed already) */
	sign_stats_t ss = { 0 };
	if (r == MN_OK && u->cache.fresh == NULL && any_signed(u->c.p))
		r = sign_zones(u->c.p, u->zs, u->opts->now, u->opts->persist_serials, u->opts->threads, u->c.diag, &ss);
	if (u->cache.fresh == NULL) {
		u->st.signed_zones = ss.zones;
		u->st.resign_at = ss.refresh_at;
	}
	if (u->st.stored > 0)
		mn_log(MN_LOG_INFO, "DNSSEC: %zu domains taken whole from the signed-zone store, not compiled",
		       u->st.stored);
	if (r == MN_OK && diag_errors(u->c.diag) > errors)
		r = MN_EPOLICY;
	return r;
}

/* The MTA-STS policy files first (an id is never served before its file can be fetched), then the serials. */
static int run_publish(run_t *u)
{
	const policy_t *p = u->c.p;
	int r = MN_OK;
	if (u->cache.fresh != NULL && (r = compile_cache_mark(&u->cache, u->zs)) != MN_OK)
		return r;
	if (u->opts->persist_serials && (r = mtasts_write(p, u->only, u->opts->now, u->wdset,
							 u->cache.fresh != NULL ? u->cache.mta_sts : NULL,
							 u->c.diag)) != MN_OK)
		return r;
	if (p->server.state_dir.v != NULL) {
		/* O(changed): the zones reused from the cache have their serials when it was left as they were */
		u->cache.serial_token = incr_serial_token(u->cache.prev);
		r = serial_assign_known(u->zs, u->known, &u->cache.serial_token, p->server.state_dir.v, u->opts->now,
					u->opts->persist_serials, u->c.diag);
		/* (with the cache, its counts say whether any zone is signed: no walk over every domain) */
		bool sign = u->cache.fresh != NULL ? u->st.signed_zones + u->st.signed_reused > 0 : any_signed(p);
		if (r == MN_OK && sign)	/* (a signed SOA whose serial another writer moved) */
			r = sign_settle(p, u->zs, u->opts->now, u->c.diag, &u->resigned, &u->nresigned);
		return r;
	}
	uint32_t base = serial_date_base(u->opts->now);
	for (size_t i = 0; r == MN_OK && i < u->zs->n; i++)
		r = serial_set(u->zs, i, base);
	return r;
}

/* Frees what the run holds but the zones and the cache entries. */
static void run_free(run_t *u)
{
	dirset_free(&u->keys);
	dirset_free(&u->spf);
	mtasts_wdset_free(u->wdset);
	apex_rd_free(&u->rd);
	compile_reports_free(&u->c);
	validate_free(u->c.val);
	for (size_t i = 0; i < u->nresigned; i++)
		incr_zone_drop(u->resigned[i]);	/* (a cache entry's: retired by entries_follow) */
	free(u->resigned);
	free(u->known);
	free(u->zkinds);
}

int zones_compile(const policy_t *p, const compile_opts_t *opts, diag_t *diag, zones_t **out)
{
	if (p == NULL || diag == NULL || out == NULL)
		return MN_EINVAL;
	compile_opts_t defaults = { .now = mn_now() };
	run_t u = {
		.c = { .p = p, .diag = diag, .ttl = p->server.ttl.v, .now = opts != NULL ? opts->now : defaults.now,
		       .persist = opts != NULL && opts->persist_serials },
		.opts = opts != NULL ? opts : &defaults,
		.keys = { .unknown = true },
		.spf = { .unknown = true },
	};
	size_t errors = diag_errors(diag);
	int r = run_check(&u);
	if (r != MN_OK)
		return r;
	if ((r = run_prepare(&u)) != MN_OK || (r = run_compile(&u, errors)) != MN_OK ||
	    (r = run_publish(&u)) != MN_OK)
		goto fail;
	if (u.cache.fresh != NULL && (r = compile_cache_end(p, u.opts->cache, &u.cache, u.zs, u.nd)) != MN_OK)
		goto fail;
	if (u.opts->stats != NULL)
		*u.opts->stats = u.st;
	run_free(&u);
	*out = u.zs;
	return MN_OK;
fail:
	run_free(&u);
	zones_free(u.zs);
	compile_cache_abort(p, &u.cache);
	return r;
}
