/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile.c -- policy + key store + SPF cache -> zones, validated, with serials */
#include "zones/compile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/keystore.h"
#include "policy/pool.h"
#include "policy/wire.h"
#include "zones/compile_internal.h"
#include "zones/incr.h"
#include "zones/mtasts.h"
#include "zones/records.h"
#include "zones/serial.h"
#include "zones/validate.h"


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

static size_t dirset_slot(char **slot, size_t cap, const char *name)
{
	size_t j = mn_hash_str(name) & (cap - 1);
	while (slot[j] != NULL && strcmp(slot[j], name) != 0)
		j = (j + 1) & (cap - 1);
	return j;
}

static void dirset_free(dirset_t *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	s->slot = NULL;
	s->cap = 0;
}

static int dirset_add(dirset_t *s, size_t *n, const char *name)
{
	if ((*n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **t = calloc(cap, sizeof(*t));
		if (t == NULL)
			return MN_ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i] != NULL)
				t[dirset_slot(t, cap, s->slot[i])] = s->slot[i];
		free(s->slot);
		s->slot = t;
		s->cap = cap;
	}
	size_t j = dirset_slot(s->slot, s->cap, name);
	if (s->slot[j] != NULL)
		return MN_OK;
	if ((s->slot[j] = mn_strdup(name)) == NULL)
		return MN_ENOMEM;
	(*n)++;
	return MN_OK;
}

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
	size_t n = 0;
	int r = MN_OK;
	struct dirent *e;
	while (r == MN_OK && (errno = 0, e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			r = dirset_add(s, &n, e->d_name);
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
	return s == NULL || s->unknown || (s->cap > 0 && s->slot[dirset_slot(s->slot, s->cap, name)] != NULL);
}

/* ---- SOA and NS -------------------------------------------------------------- */

static void apex_rd_free(apex_rd_t *a)
{
	free(a->ns);
	free(a->ns_len);
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

/* Binary search of the (sorted) policy domains. */
static const policy_domain_t *domain_find(const policy_t *p, const char *name)
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
		if (strcmp(target, d->name) == 0 || domain_find(p, target) == NULL)
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

static int reports_collect(ctx_t *c)
{
	size_t cap = 0;
	for (size_t i = 0; i < c->p->ndomains; i++) {
		const policy_domain_t *d = &c->p->domains[i];
		if (!d->dmarc.present)
			continue;
		int r = reports_collect_uris(c->p, d, &d->dmarc.rua, &c->reports, &c->nreports, &cap);
		if (r == MN_OK)
			r = reports_collect_uris(c->p, d, &d->dmarc.ruf, &c->reports, &c->nreports, &cap);
		if (r != MN_OK)
			return r;
	}
	if (c->nreports > 1)
		qsort(c->reports, c->nreports, sizeof(*c->reports), report_cmp);
	return MN_OK;
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

/* The first of c->reports (sorted by target) whose reports go to domain name. */
static size_t reports_first(const ctx_t *c, const char *name)
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
	size_t lo = reports_first(c, d->name);
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

static int compile_domain(const ctx_t *c, const policy_domain_t *d, zones_t *zs)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (kinds[k].present != 0 && !*(const bool *)((const char *)d + kinds[k].present))
			continue;
		char *apex = name_join(kinds[k].label, d->name);
		if (apex == NULL)
			return MN_ENOMEM;
		char why[64];
		if (!compile_name_valid(apex, why, sizeof(why))) {
			diag_error(c->diag, &d->pos, "zone name %s %s", apex, why);
			free(apex);
			continue;
		}
		zone_t *z = zone_new(apex, kinds[k].kind, d->name);
		free(apex);
		if (z == NULL)
			return MN_ENOMEM;
		zs->v[zs->n++] = z;
		int r = add_soa_ns(c, z);
		if (r == MN_OK)
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

enum { PARTS_MAX = 8, PART_MIN_DOMAINS = 2000 };

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
	/* with a compile cache: */
	const compile_cache_t *prev;	/* the entries to reuse (NULL: none) */
	incr_entry_t **fresh;		/* this compile's entry of each domain, by index */
	incr_hash_t h;
	size_t reused, compiled;
} part_t;

/*
 * Reads what d's zones depend on besides the policy (its key store, kept in
 * dm for build_dkim; its SPF cache file; the hosted domains reporting to it)
 * and digests it all with d's policy subtree.
 */
static int domain_inputs(part_t *pt, const policy_domain_t *d, dom_in_t *dm, uint8_t key[32], uint8_t pos[32])
{
	const ctx_t *c = &pt->c;
	incr_hash_t *h = &pt->h;
	incr_hash_reset(h);
	incr_hash_domain(h, c->p, d);
	size_t lo = reports_first(c, d->name);
	for (size_t i = lo; i < c->nreports && strcmp(c->reports[i].target, d->name) == 0; i++) {
		incr_hash_str(h, c->reports[i].source);
		incr_hash_pos(h, &c->reports[i].pos);
	}
	incr_hash_str(h, "keys");
	const char *state = c->p->server.state_dir.v;
	dm->keys_given = true;
	if (state != NULL && compile_dirset_maybe(c->keys, d->name)) {
		dm->keys_r = keystore_published(state, d->name, &dm->keys, &dm->nkeys);
		if (dm->keys_r == MN_ENOMEM)
			return MN_ENOMEM;
	}
	incr_hash_u32(h, (uint32_t)dm->keys_r);
	incr_hash_u32(h, (uint32_t)dm->nkeys);
	for (size_t i = 0; i < dm->nkeys; i++) {
		incr_hash_str(h, dm->keys[i].selector);
		incr_hash_u32(h, (uint32_t)dm->keys[i].phase);
		incr_hash_str(h, dm->keys[i].record);
	}
	incr_hash_str(h, "spf cache");
	if (state != NULL && compile_dirset_maybe(c->spf, d->name)) {
		mn_buf_t b = { 0 };
		mn_buf_addf(&b, "%s/spf/%s", state, d->name);
		char *path = mn_buf_take(&b), *text = NULL;
		size_t len = 0;
		if (path == NULL)
			return MN_ENOMEM;
		int r = mn_file_read(path, &text, &len);
		free(path);
		if (r == MN_ENOMEM)
			return r;
		incr_hash_u32(h, (uint32_t)r);
		if (r == MN_OK)
			incr_hash_bytes(h, text, len);
		free(text);
	}
	return incr_hash_final(h, key, pos);
}

static bool reusable(const incr_entry_t *e, const uint8_t key[32], const uint8_t pos[32], time_t now)
{
	return e != NULL && memcmp(e->key, key, 32) == 0 && (e->ndiags == 0 || memcmp(e->pos, pos, 32) == 0) &&
	       now >= e->since && now < e->until;
}

/* Domain i through the cache: its entry's zones, or compiled into a new entry. */
static int compile_cached(part_t *pt, size_t i)
{
	const policy_domain_t *d = &pt->c.p->domains[i];
	dom_in_t dm = { .until = TIME_END };
	uint8_t key[32], pos[32];
	diag_t *dd = NULL;
	incr_entry_t *e = NULL;
	size_t z0 = pt->zs.n;
	int r = domain_inputs(pt, d, &dm, key, pos);
	if (r != MN_OK)
		goto out;
	incr_entry_t *old = incr_find(pt->prev, d->name);
	if (reusable(old, key, pos, pt->c.now)) {
		for (size_t k = 0; k < old->nzones; k++) {
			if ((pt->zs.v[pt->zs.n] = incr_zone_hold(old->zones[k])) == NULL) {
				r = MN_ENOMEM;
				goto out;
			}
			pt->zs.n++;
		}
		incr_entry_ref(old);	/* one thread per domain: no other touches it now */
		pt->fresh[i] = old;
		pt->reused++;
		goto out;
	}
	if ((dd = diag_new()) == NULL || (e = incr_entry_new(d->name)) == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	if ((r = validate_scope(pt->c.val, dd)) != MN_OK)
		goto out;
	ctx_t c = pt->c;
	c.diag = dd;
	c.dom = &dm;
	r = compile_domain(&c, d, &pt->zs);
	for (size_t k = z0; r == MN_OK && k < pt->zs.n; k++)
		r = zone_finish(pt->zs.v[k]);
	/* held once they have their serials (entries_follow) */
	e->borrowed = true;
	for (size_t k = z0; r == MN_OK && k < pt->zs.n; k++)
		e->zones[e->nzones++] = pt->zs.v[k];
	for (size_t k = 0; r == MN_OK && k < diag_count(dd); k++) {
		uint64_t dk = 0;
		bool keyed = validate_scope_key(pt->c.val, k, &dk);
		r = incr_entry_add_diag(e, diag_get(dd, k), keyed, dk);
	}
	if (r == MN_OK && validate_oom(pt->c.val))
		r = MN_ENOMEM;
	if (r != MN_OK)
		goto out;
	memcpy(e->key, key, 32);
	memcpy(e->pos, pos, 32);
	e->since = pt->c.now;
	e->until = dm.until;
	pt->fresh[i] = e;
	e = NULL;
	pt->compiled++;
out:
	incr_entry_unref(e);
	diag_free(dd);
	keystore_pub_free(dm.keys, dm.nkeys);
	return r;
}

static int compile_range(part_t *pt)
{
	if (pt->fresh != NULL) {
		for (size_t i = pt->lo; i < pt->hi; i++) {
			int r = compile_cached(pt, i);
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

static void part_run(void *arg, size_t k)
{
	part_t *pt = arg;
	pt[k].r = compile_range(&pt[k]);
}

static unsigned parts_wanted(const compile_opts_t *opts, size_t nd)
{
	unsigned n = opts->threads;
	if (n == 0) {
		n = mn_cpus();
		if (nd / PART_MIN_DOMAINS < n)
			n = (unsigned)(nd / PART_MIN_DOMAINS);
	}
	if (n > PARTS_MAX)
		n = PARTS_MAX;
	if (n > nd)
		n = (unsigned)nd;
	return n > 0 ? n : 1;
}

/*
 * Compiles the domains in nparts ranges, the first on this thread, and
 * gathers the zones into zs in domain order and the parts' messages into
 * c->diag in the same order (what one pass over all domains reports).
 */
/* Each domain's recorded messages into c's diag, in domain order, each
 * position's message once (what compiling them in one pass reports). */
static void replay(ctx_t *c, incr_entry_t **fresh, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const incr_entry_t *e = fresh[i];
		for (size_t k = 0; e != NULL && k < e->ndiags; k++) {
			const incr_diag_t *m = &e->diags[k];
			if (m->keyed && !validate_first(c->val, m->key))
				continue;
			mn_pos_t pos = { m->file, m->line, m->col };
			diag_add(c->diag, m->level, m->file != NULL ? &pos : NULL, "%s", m->msg);
		}
	}
}

/*
 * With fresh (a compile cache), every domain goes through compile_cached():
 * its entry in fresh[i], its messages replayed from there.
 */
static int compile_parts(ctx_t *c, const policy_domain_t *only, unsigned nparts, zones_t *zs,
			 const compile_cache_t *prev, incr_entry_t **fresh, compile_stats_t *st)
{
	const policy_t *p = c->p;
	part_t pt[PARTS_MAX];
	int r = MN_OK;
	memset(pt, 0, sizeof(pt));
	for (unsigned k = 0; k < nparts; k++) {
		pt[k].c = *c;
		pt[k].only = only;
		pt[k].prev = prev;
		pt[k].fresh = fresh;
		pt[k].lo = p->ndomains * k / nparts;
		pt[k].hi = p->ndomains * (k + 1) / nparts;
		size_t nd = only != NULL ? 1 : pt[k].hi - pt[k].lo;
		if (nd > 0 && (pt[k].zs.v = calloc(nd * ZONE_KINDS, sizeof(*pt[k].zs.v))) == NULL)
			r = MN_ENOMEM;
		if ((k > 0 || fresh != NULL) && r == MN_OK) {
			pt[k].c.diag = diag_new();
			if (pt[k].c.diag == NULL || validate_part(pt[k].c.diag, &pt[k].c.val) != MN_OK) {
				pt[k].c.val = NULL;
				r = MN_ENOMEM;
			}
		}
	}
	if (r == MN_OK)
		mn_pool_run(nparts, nparts, part_run, pt);
	for (unsigned k = 0; r == MN_OK && k < nparts; k++)
		r = pt[k].r;
	for (unsigned k = 1; fresh == NULL && r == MN_OK && k < nparts; k++)
		r = validate_join(c->val, pt[k].c.val);
	if (fresh != NULL && r == MN_OK) {
		replay(c, fresh, p->ndomains);
		st->reused = st->compiled = 0;
		for (unsigned k = 0; k < nparts; k++) {
			st->reused += pt[k].reused;
			st->compiled += pt[k].compiled;
		}
	}
	/* every part's zones move into zs (freed with it, also on failure) */
	for (unsigned k = 0; k < nparts; k++) {
		for (size_t i = 0; i < pt[k].zs.n; i++)
			zs->v[zs->n++] = pt[k].zs.v[i];
		free(pt[k].zs.v);
		incr_hash_clear(&pt[k].h);
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
 * apexes share their first label, so each kind alone is sorted already and
 * the kinds, by label, go _bimi < _dmarc < _domainkey < _mta-sts < _smtp < _spf:
 * a stable split by kind sorts them.  (Checked; qsort if that ever stops being true.)
 */
static int zones_sort(zones_t *zs)
{
	static const zone_kind_t order[] = { ZONE_BIMI, ZONE_DMARC, ZONE_DKIM, ZONE_MTA_STS, ZONE_TLSRPT, ZONE_SPF };
	if (zs->n < 2)
		return MN_OK;
	zone_t **v = malloc(zs->n * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	size_t k = 0;
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (size_t i = 0; i < zs->n; i++)
			if (zs->v[i]->kind == order[o])
				v[k++] = zs->v[i];
	if (k != zs->n) {
		free(v);
		qsort(zs->v, zs->n, sizeof(*zs->v), zone_cmp);
		return MN_OK;
	}
	free(zs->v);
	zs->v = v;
	for (size_t i = 1; i < zs->n; i++) {
		if (strcmp(zs->v[i - 1]->name, zs->v[i]->name) > 0) {
			qsort(zs->v, zs->n, sizeof(*zs->v), zone_cmp);
			break;
		}
	}
	return MN_OK;
}

/*
 * After the serials: the entries of the domains compiled now hold their
 * zones (the output's, with serials); and a reused zone whose serial changed
 * (serial_set replaced it in zs by a copy: it was shared) is replaced in its
 * entry by that copy, so that the next compile does not copy it again.  (The
 * entry may be the old cache's too: the same records, another serial, which
 * every compile sets anyway.)  before: zs->v as it was before the serials.
 */
static int entries_follow(const policy_t *p, incr_entry_t **fresh, const zones_t *zs, zone_t *const *before)
{
	for (size_t i = 0; i < zs->n; i++) {
		if (zs->v[i] == before[i])
			continue;
		const policy_domain_t *d = domain_find(p, zs->v[i]->domain);
		incr_entry_t *e = d != NULL ? fresh[d - p->domains] : NULL;
		for (size_t k = 0; e != NULL && !e->borrowed && k < e->nzones; k++) {
			if (strcmp(e->zones[k]->name, zs->v[i]->name) != 0)
				continue;
			zone_t *h = incr_zone_hold(zs->v[i]);
			if (h == NULL)
				return MN_ENOMEM;
			zone_unref(e->zones[k]);
			e->zones[k] = h;
		}
	}
	for (size_t i = 0; i < p->ndomains; i++) {
		incr_entry_t *e = fresh[i];
		if (e == NULL || !e->borrowed)
			continue;
		size_t k = 0;
		for (; k < e->nzones; k++) {
			zone_t *h = incr_zone_hold(e->zones[k]);	/* (not shared: written in place) */
			if (h == NULL)
				break;
			e->zones[k] = h;
		}
		if (k < e->nzones) {
			/* the held ones go, the rest stay borrowed: the entry frees none */
			for (size_t j = 0; j < k; j++)
				zone_unref(e->zones[j]);
			return MN_ENOMEM;
		}
		e->borrowed = false;
	}
	return MN_OK;
}

int zones_compile(const policy_t *p, const compile_opts_t *opts, diag_t *diag, zones_t **out)
{
	if (p == NULL || diag == NULL || out == NULL)
		return MN_EINVAL;
	compile_opts_t defaults = { .now = mn_now() };
	if (opts == NULL)
		opts = &defaults;
	ctx_t c = { .p = p, .diag = diag, .ttl = p->server.ttl.v, .now = opts->now };
	zones_t *zs = NULL;
	const compile_cache_t *prev = NULL;
	incr_entry_t **fresh = NULL;
	zone_t **before = NULL;
	uint8_t global[32], pos[32];
	compile_stats_t st = { 0, 0 };
	size_t errors = diag_errors(diag);
	int r = MN_OK;

	if (p->server.nameservers.n == 0 || p->server.hostmaster.v == NULL) {
		diag_error(diag, NULL, "server.nameservers and server.hostmaster are required");
		return MN_EPOLICY;
	}
	const policy_domain_t *only = NULL;
	if (opts->only_domain != NULL) {
		char norm[256];
		if (mn_name_norm(opts->only_domain, norm, sizeof(norm)) != MN_OK ||
		    (only = domain_find(p, norm)) == NULL)
			return MN_ENOENT;
	}
	dirset_t keys = { .unknown = true }, spf = { .unknown = true };
	if (p->server.state_dir.v != NULL) {
		if ((r = dirset_load(&keys, p->server.state_dir.v, "keys")) != MN_OK)
			return r;
		if ((r = dirset_load(&spf, p->server.state_dir.v, "spf")) != MN_OK) {
			dirset_free(&keys);
			return r;
		}
	}
	c.keys = &keys;
	c.spf = &spf;
	apex_rd_t rd;
	if ((r = apex_rd_make(&p->server, &rd)) != MN_OK) {
		dirset_free(&keys);
		dirset_free(&spf);
		return r;
	}
	c.rd = &rd;
	r = validate_new(diag, &c.val);
	if (r != MN_OK)
		goto fail;
	r = reports_collect(&c);
	if (r != MN_OK)
		goto fail;
	zs = calloc(1, sizeof(*zs));
	size_t nd = only ? 1 : p->ndomains;
	if (zs == NULL || (nd > 0 && (zs->v = calloc(nd * ZONE_KINDS, sizeof(*zs->v))) == NULL)) {
		r = MN_ENOMEM;
		goto fail;
	}
	if (opts->cache != NULL && only == NULL) {
		incr_hash_t gh = { 0 };
		incr_hash_server(&gh, &p->server);
		r = incr_hash_final(&gh, global, pos);
		incr_hash_clear(&gh);
		if (r != MN_OK)
			goto fail;
		/* other server settings: nothing is reused */
		if (incr_global_same(opts->cache, global))
			prev = opts->cache;
		if ((fresh = calloc(nd > 0 ? nd : 1, sizeof(*fresh))) == NULL) {
			r = MN_ENOMEM;
			goto fail;
		}
	}
	r = compile_parts(&c, only, only != NULL ? 1 : parts_wanted(opts, nd), zs, prev, fresh, &st);
	if (fresh == NULL)
		st.compiled = nd;
	if (r == MN_OK)
		r = zones_sort(zs);
	if (r != MN_OK)
		goto fail;
	r = validate_zones(c.val, p, zs);
	if (r != MN_OK)
		goto fail;
	if (diag_errors(diag) > errors) {
		r = MN_EPOLICY;
		goto fail;
	}
	if (fresh != NULL && zs->n > 0 && (before = malloc(zs->n * sizeof(*before))) == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	if (before != NULL)
		memcpy(before, zs->v, zs->n * sizeof(*before));
	/* the policy files first: an id is never served before its file can be fetched */
	if (opts->persist_serials && (r = mtasts_write(p, only, diag)) != MN_OK)
		goto fail;
	if (p->server.state_dir.v != NULL) {
		r = serial_assign(zs, p->server.state_dir.v, opts->now, opts->persist_serials, diag);
		if (r != MN_OK)
			goto fail;
	} else {
		uint32_t base = serial_date_base(opts->now);
		for (size_t i = 0; r == MN_OK && i < zs->n; i++)
			r = serial_set(zs, i, base);
		if (r != MN_OK)
			goto fail;
	}
	if (fresh != NULL) {
		r = entries_follow(p, fresh, zs, before);
		if (r == MN_OK)
			r = incr_install(opts->cache, global, fresh, nd);
		if (r != MN_OK)
			goto fail;
		free(fresh);	/* the entries are the cache's now */
		free(before);
	}
	if (opts->stats != NULL)
		*opts->stats = st;
	for (size_t i = 0; i < c.nreports; i++)
		free(c.reports[i].target);
	free(c.reports);
	validate_free(c.val);
	dirset_free(&keys);
	dirset_free(&spf);
	apex_rd_free(&rd);
	*out = zs;
	return MN_OK;
fail:
	dirset_free(&keys);
	dirset_free(&spf);
	apex_rd_free(&rd);
	for (size_t i = 0; i < c.nreports; i++)
		free(c.reports[i].target);
	free(c.reports);
	validate_free(c.val);
	zones_free(zs);
	for (size_t i = 0; fresh != NULL && i < p->ndomains; i++)	/* (fresh: all domains) */
		incr_entry_unref(fresh[i]);
	free(fresh);
	free(before);
	return r;
}
