/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile_cache.c -- the incremental compile: each domain's inputs digested, its zones reused or compiled into a new entry */
#include <stdlib.h>
#include <string.h>

#include "keys/keystore.h"
#include "zones/compile_internal.h"
#include "zones/incr.h"
#include "zones/mtasts.h"
#include "zones/records.h"
#include "zones/sign.h"
#include "zones/sigstore.h"
#include "zones/validate.h"
#include "zones/zone_internal.h"

/* The source digest of the domains whose positions name file (incr_part_t); false: unknown. */
static bool part_src_of(const policy_t *p, cache_part_t *cp, const char *file, uint8_t src[32])
{
	if (file == NULL)
		return false;
	if (file != cp->src_file) {
		uint8_t md[32];
		cp->src_file = file;
		cp->src_known = policy_file_digest(p, file, md);
		if (cp->src_known) {
			incr_hash_t *h = &cp->h;
			incr_hash_reset(h);
			incr_hash_bytes(h, cp->run->context, 32);
			incr_hash_bytes(h, md, sizeof(md));
			incr_hash_str(h, file);
			uint8_t unused[32];
			if (incr_hash_final(h, cp->src, unused) != MN_OK)
				cp->src_known = false;	/* (digested instead) */
		}
	}
	memcpy(src, cp->src, 32);
	return cp->src_known;
}

static bool part_src(const ctx_t *c, cache_part_t *cp, const char *file, uint8_t src[32])
{
	return part_src_of(c->p, cp, file, src);
}

/*
 * d's policy part into *pt: its digests taken from old when its source and
 * position are old's (under the same name set), else digested.
 */
static int part_inputs(const ctx_t *c, cache_part_t *cp, const policy_domain_t *d, const incr_entry_t *old,
		       incr_part_t *pt, bool *same)
{
	*same = false;
	memset(pt, 0, sizeof(*pt));
	pt->line = d->pos.line;
	pt->col = d->pos.col;
	pt->known = part_src(c, cp, d->pos.file, pt->src);
	if (pt->known && cp->run->parts_ok && old != NULL && old->part.known && old->part.line == pt->line &&
	    old->part.col == pt->col && memcmp(old->part.src, pt->src, 32) == 0) {
		memcpy(pt->key, old->part.key, 32);
		memcpy(pt->pos, old->part.pos, 32);
		*same = true;
		return MN_OK;
	}
	cp->digested++;
	incr_hash_t *h = &cp->h;
	incr_hash_reset(h);
	incr_hash_domain(h, c->p, d);
	return incr_hash_final(h, pt->key, pt->pos);
}

/*
 * Reads what d's zones depend on besides the policy (its key store, kept in
 * dm for build_dkim; its SPF cache file; the hosted domains reporting to it)
 * and digests it all with d's policy part (pt).
 */
static int domain_inputs(const ctx_t *c, incr_hash_t *h, const policy_domain_t *d, const incr_part_t *pt,
			 dom_in_t *dm, uint8_t key[32], uint8_t pos[32])
{
	incr_hash_reset(h);
	incr_hash_str(h, "domain part");
	incr_hash_bytes(h, pt->key, 32);
	incr_hash_pos_bytes(h, pt->pos, 32);
	size_t lo = compile_reports_first(c, d->name);
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
	incr_hash_str(h, "mta-sts withdrawal");
	mtasts_wd_t wd;
	int wr = compile_mta_sts_withdrawal(c, d, &wd);
	if (wr != MN_OK)
		return wr;
	incr_hash_u32(h, wd.active);
	incr_hash_u32(h, wd.max_age);
	incr_hash_bytes(h, &wd.until, sizeof(wd.until));
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

/*
 * Has d nothing besides its part among its inputs (no hosted domain
 * reporting to it, no key store, no SPF cache, no MTA-STS withdrawal)?  Then
 * its digests are a function of its part alone (domain_inputs()).
 */
static int rest_empty(const ctx_t *c, const policy_domain_t *d, bool *empty)
{
	const char *state = c->p->server.state_dir.v;
	size_t lo = compile_reports_first(c, d->name);
	*empty = (lo >= c->nreports || strcmp(c->reports[lo].target, d->name) != 0) &&
		 (state == NULL || (!compile_dirset_maybe(c->keys, d->name) && !compile_dirset_maybe(c->spf, d->name)));
	if (!*empty)
		return MN_OK;
	mtasts_wd_t wd;
	int r = compile_mta_sts_withdrawal(c, d, &wd);
	*empty = r == MN_OK && !wd.active && wd.max_age == 0 && wd.until == 0;
	return r;
}

static bool reusable(const ctx_t *c, incr_entry_t *e, const uint8_t key[32], const uint8_t pos[32], time_t now)
{
	if (e == NULL || memcmp(e->key, key, 32) != 0 || (e->ndiags > 0 && memcmp(e->pos, pos, 32) != 0) ||
	    now < e->since || now >= e->until)
		return false;
	/*
	 * Signed zones: the keys (or the stored signatures) changed on disk?  Not
	 * looked at while the server's watch reported nothing in their key
	 * directories since (O(changed)); else their state is taken and compared.
	 */
	if (!e->has_keystate || sign_keys_unchanged(c->p, e->zones, e->nzones, e->keys_seq))
		return true;
	uint8_t ks[32];
	uint64_t seq = sign_keys_seq(c->p, e->zones, e->nzones);
	if (sign_keys_state(c->p, e->zones, e->nzones, ks) != MN_OK || memcmp(ks, e->keystate, 32) != 0)
		return false;
	e->keys_seq = seq;	/* (one thread per domain: no other touches it now) */
	return true;
}

/* The earlier of two times, 0 being none. */
static time_t earliest(time_t a, time_t b)
{
	return a == 0 ? b : b == 0 || a < b ? a : b;
}

/*
 * What a signed domain's zones are compiled from, for the signed-zone store:
 * the compile's server settings and context and the domain's inputs (key).
 */
static void store_inputs(const cache_run_t *cr, const uint8_t key[32], uint8_t out[32])
{
	static const char tag[] = "mailns signed domain inputs 1";
	uint8_t b[sizeof(tag) + 3 * 32];
	memcpy(b, tag, sizeof(tag));
	memcpy(b + sizeof(tag), cr->global, 32);
	memcpy(b + sizeof(tag) + 32, cr->context, 32);
	memcpy(b + sizeof(tag) + 64, key, 32);
	sigstore_sum(b, sizeof(b), out);	/* (the server's own state, compared) */
}

/*
 * A signed domain not in the cache (at a start): its zones as the signed-zone
 * store kept them, when they were compiled from the same inputs and their
 * signatures are current (sign_domain_stored), in a new entry: not compiled.
 * *taken false: compile it.
 */
static int stored_entry(const ctx_t *pc, cache_part_t *cp, size_t i, const uint8_t key[32], const uint8_t pos[32],
			const incr_part_t *pt, bool empty, zones_t *zs, bool *taken)
{
	const policy_domain_t *d = &pc->p->domains[i];
	uint8_t inputs[32];
	store_inputs(cp->run, key, inputs);
	zone_t *v[ZONE_KINDS];
	size_t n = 0;
	time_t until = TIME_END;
	sign_stats_t ss = { 0 };
	incr_entry_t *e = NULL;
	*taken = false;
	uint8_t keystate[32];
	uint64_t keys_seq = 0;
	int r = sign_domain_stored(pc->p, d, inputs, pc->now, v, &n, &until, keystate, &keys_seq, &ss);
	if (r != MN_OK)
		return r == MN_ENOENT ? MN_OK : r;
	if ((r = incr_entry_new(d->name, &e)) == MN_OK) {
		e->keys_seq = keys_seq;	/* (the store's check looked at the key directories: once) */
		memcpy(e->keystate, keystate, 32);
	}
	if (r != MN_OK) {
		for (size_t k = 0; k < n; k++)
			zone_unref(v[k]);
		incr_entry_unref(e);
		return r;
	}
	e->has_keystate = true;
	e->borrowed = true;	/* (held once they have their serials: entries_follow) */
	for (size_t k = 0; k < n; k++) {
		if (cp->kind != NULL)
			cp->kind[zs->n] = (uint8_t)v[k]->kind;
		cp->run->mta_sts[i] |= v[k]->kind == ZONE_MTA_STS;
		zs->v[zs->n++] = v[k];
		e->kinds[e->nzones] = (uint8_t)v[k]->kind;
		e->zones[e->nzones++] = v[k];
	}
	memcpy(e->key, key, 32);
	memcpy(e->pos, pos, 32);
	e->part = *pt;
	e->reports_none = !cp->run->reports_from[i];
	e->rest_empty = empty;
	e->since = pc->now;
	e->nsigned = ss.zones;
	e->resign_at = ss.refresh_at;
	e->until = ss.refresh_at != 0 && ss.refresh_at < until ? ss.refresh_at : until;
	cp->fresh[i] = e;
	cp->run->diags[i] = false;	/* (only a domain compiled without messages is stored) */
	cp->stored++;
	cp->signed_zones += ss.zones;
	cp->resign_at = earliest(cp->resign_at, ss.refresh_at);
	*taken = true;
	return MN_OK;
}

/*
 * Domain i's old entry reused: its zones borrowed (their own lines not
 * touched: their kinds are the entry's), the entry itself not held again
 * (fresh[i] == olds[i]: the cache's reference stands; compile_cache_end).
 */
static void reuse(cache_part_t *cp, size_t i, incr_entry_t *old, zones_t *zs)
{
	bool mta_sts = false;
	for (size_t k = 0; k < old->nzones; k++) {
		mta_sts |= old->kinds[k] == ZONE_MTA_STS;
		zs->v[zs->n] = old->zones[k];
		if (cp->known != NULL)	/* (its serial the one the last compile gave it) */
			cp->known[zs->n] = true;
		if (cp->kind != NULL)
			cp->kind[zs->n] = old->kinds[k];
		zs->n++;
	}
	cp->fresh[i] = old;
	cp->run->diags[i] = old->ndiags > 0;
	cp->run->mta_sts[i] = mta_sts;
	cp->reused++;
	cp->signed_reused += old->nsigned;
	cp->resign_at = earliest(cp->resign_at, old->resign_at);
}

/* Domain i through the cache: its entry's zones, or compiled into a new entry. */
int compile_cached(const ctx_t *pc, cache_part_t *cp, size_t i, zones_t *zs)
{
	const policy_domain_t *d = &pc->p->domains[i];
	dom_in_t dm = { .until = TIME_END };
	uint8_t key[32], pos[32];
	incr_part_t pt;
	diag_t *dd = NULL;
	incr_entry_t *e = NULL;
	size_t z0 = zs->n;
	incr_entry_t *old = cp->run->olds != NULL ? cp->run->olds[i] : incr_find(cp->prev, d->name);
	bool same = false, empty = false;
	int r = MN_OK;
	/*
	 * Not changed in the policy, nothing outside it then nor now, not
	 * signed, in its time: reused as it is, none of its digests copied (the
	 * path below would find them the same; its fields read here share the
	 * entry's first lines).
	 */
	if (cp->run->quick != NULL && cp->run->quick[i] && old->rest_empty && !old->has_keystate &&
	    pc->now >= old->since && pc->now < old->until) {
		reuse(cp, i, old, zs);
		if (old->reports_none != !cp->run->reports_from[i])
			old->reports_none = !cp->run->reports_from[i];
		return MN_OK;
	}
	if (cp->run->quick != NULL && cp->run->quick[i] && old->rest_empty) {
		/* not changed in the policy, nothing outside it then nor now (compile_cache_outside) */
		pt = old->part;
		same = empty = true;
	} else {
		r = part_inputs(pc, cp, d, old, &pt, &same);
		if (r == MN_OK)
			r = rest_empty(pc, d, &empty);
	}
	if (r == MN_OK && same && empty && old->rest_empty) {
		/* the same part, nothing else then and now: the same digests, not made again */
		memcpy(key, old->key, 32);
		memcpy(pos, old->pos, 32);
	} else if (r == MN_OK) {
		r = domain_inputs(pc, &cp->h, d, &pt, &dm, key, pos);
	}
	if (r != MN_OK)
		goto out;
	if (reusable(pc, old, key, pos, pc->now)) {
		reuse(cp, i, old, zs);
		/*
		 * Its part as identified now (another file digest or position, the
		 * same part): true for the old cache too, but under this name set
		 * (a failed compile invalidates the cache's parts).
		 */
		old->part = pt;
		old->reports_none = !cp->run->reports_from[i];
		old->rest_empty = empty;
		goto out;
	}
	if (d->dnssec.enabled.v && pc->persist) {
		bool taken = false;
		if ((r = stored_entry(pc, cp, i, key, pos, &pt, empty, zs, &taken)) != MN_OK || taken)
			goto out;
	}
	if ((r = diag_new(&dd)) != MN_OK || (r = incr_entry_new(d->name, &e)) != MN_OK)
		goto out;
	if ((r = validate_scope(pc->val, dd)) != MN_OK)
		goto out;
	ctx_t c = *pc;
	c.diag = dd;
	c.dom = &dm;
	r = compile_domain(&c, d, zs);
	for (size_t k = z0; cp->kind != NULL && k < zs->n; k++)
		cp->kind[k] = (uint8_t)zs->v[k]->kind;
	for (size_t k = z0; r == MN_OK && k < zs->n; k++)
		r = zone_finish(zs->v[k]);
	/* DNSSEC: signed here, once per change (the entry keeps them signed) */
	sign_stats_t ss = { 0 };
	if (r == MN_OK && d->dnssec.enabled.v) {
		r = sign_domain(pc->p, &zs->v[z0], zs->n - z0, pc->now, pc->persist, dd, &ss);
		e->keys_seq = r == MN_OK ? sign_keys_seq(pc->p, &zs->v[z0], zs->n - z0) : 0;
		if (r == MN_OK)
			r = sign_keys_state(pc->p, &zs->v[z0], zs->n - z0, e->keystate);
		e->has_keystate = r == MN_OK;
	}
	/* held once they have their serials (entries_follow) */
	e->borrowed = true;
	for (size_t k = z0; r == MN_OK && k < zs->n; k++) {
		cp->run->mta_sts[i] |= zs->v[k]->kind == ZONE_MTA_STS;
		e->kinds[e->nzones] = (uint8_t)zs->v[k]->kind;
		e->zones[e->nzones++] = zs->v[k];
	}
	for (size_t k = 0; r == MN_OK && k < diag_count(dd); k++) {
		uint64_t dk = 0;
		bool keyed = validate_scope_key(pc->val, k, &dk);
		r = incr_entry_add_diag(e, diag_get(dd, k), keyed, dk);
	}
	if (r == MN_OK && validate_oom(pc->val))
		r = MN_ENOMEM;
	if (r != MN_OK)
		goto out;
	memcpy(e->key, key, 32);
	memcpy(e->pos, pos, 32);
	e->part = pt;
	e->reports_none = !cp->run->reports_from[i];
	e->rest_empty = empty;
	e->since = pc->now;
	e->nsigned = ss.zones;
	e->resign_at = ss.refresh_at;
	e->until = ss.refresh_at != 0 && ss.refresh_at < dm.until ? ss.refresh_at : dm.until;
	if (ss.zones > 0 && e->ndiags == 0 && pc->persist) {
		/* for the next start: the store takes the domain whole while its inputs are these */
		uint8_t inputs[32];
		store_inputs(cp->run, key, inputs);
		sign_domain_note(pc->p, e->zones, e->nzones, inputs, dm.until);
	}
	cp->fresh[i] = e;
	cp->run->diags[i] = e->ndiags > 0;
	e = NULL;
	cp->compiled++;
	cp->signed_zones += ss.zones;
	cp->resign_at = earliest(cp->resign_at, ss.refresh_at);
out:
	incr_entry_unref(e);
	diag_free(dd);
	keystore_pub_free(dm.keys, dm.nkeys);
	return r;
}

/* Each domain's recorded messages into c's diag, in domain order, each
 * position's message once (what compiling them in one pass reports). */
void compile_cache_replay(ctx_t *c, const cache_run_t *cr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!cr->diags[i])
			continue;	/* (the entry's line not read) */
		const incr_entry_t *e = cr->fresh[i];
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
 * After the serials: the entries of the domains compiled now own their
 * zones (the output's, with serials: the output borrows them from now on);
 * and a reused zone whose serial changed (serial_set replaced it in zs by a
 * copy: it was the cache's) is replaced in its entry by that copy, so that
 * the next compile does not copy it again; the zone it replaces is retired
 * into the cache's epoch (the generations being served read it still), never
 * written.  A zone compiled now and replaced after the serials (sign_settle)
 * is replaced in its entry too.  before: zs->v as it was before the serials;
 * olds (NULL: none): the old entries, by domain index.  Nothing is
 * allocated: it cannot fail.
 */
static void entries_follow(const compile_cache_t *cache, const policy_t *p, incr_entry_t **fresh,
			   incr_entry_t *const *olds, const zones_t *zs, zone_t *const *before)
{
	for (size_t i = 0; i < zs->n; i++) {
		if (zs->v[i] == before[i])
			continue;
		const policy_domain_t *d = compile_domain_find(p, zs->v[i]->domain);
		incr_entry_t *e = d != NULL ? fresh[d - p->domains] : NULL;
		/* (a zone compiled now whose SOA was signed again: sign_settle kept before[i] alive) */
		for (size_t k = 0; e != NULL && k < e->nzones; k++) {
			if (e->zones[k] != before[i])
				continue;
			if (!e->borrowed)
				incr_zone_retire(cache, e->zones[k]);
			e->zones[k] = zs->v[i];
			if (!e->borrowed)
				incr_zone_take(zs->v[i]);
		}
	}
	for (size_t i = 0; i < p->ndomains; i++) {
		incr_entry_t *e = fresh[i];
		/* (a reused entry is its old one: its own line not read) */
		if (e == NULL || (olds != NULL && e == olds[i]) || !e->borrowed)
			continue;
		for (size_t k = 0; k < e->nzones; k++)
			incr_zone_take(e->zones[k]);
		e->borrowed = false;
	}
}

/*
 * When p was patched from the policy the cache's entries were compiled from
 * (p->changed against generation gen - 1), with no name removed and as many
 * domains (so none added: the same names at the same indexes), prev's entry
 * of each domain is its entry at the same index, and the part of each domain
 * not in the changed list is its old entry's: O(changed) instead of a name
 * look-up and a source digest compare per domain.  Sets cr->quick (else
 * leaves cr as it was).
 */
static int begin_known(const policy_t *p, cache_run_t *cr, size_t nd)
{
	size_t no = 0;
	incr_entry_t *const *order = NULL;
	const bool *from = NULL;
	if (p->changed_known && p->gen > 1 && p->nremoved == 0 && nd == p->ndomains)
		order = incr_order(cr->prev, p->gen - 1, &no, &from);
	if (order == NULL || no != nd || compile_cache_size(cr->prev) != nd || !incr_parts_valid(cr->prev))
		return MN_OK;
	for (size_t k = 0; k < p->nchanged; k++) {
		size_t i = p->changed[k];
		if (i >= nd || order[i] == NULL || strcmp(order[i]->name, p->domains[i].name) != 0)
			return MN_OK;	/* (not what the list says: the look-ups) */
	}
	if (nd == 0)
		return MN_OK;
	cr->olds = malloc(nd * sizeof(*cr->olds));
	cr->part_same = malloc(nd * sizeof(*cr->part_same));
	cr->quick = malloc(nd * sizeof(*cr->quick));
	if (cr->olds == NULL || cr->part_same == NULL || cr->quick == NULL)
		return MN_ENOMEM;	/* (freed by compile_cache_abort) */
	memcpy(cr->olds, order, nd * sizeof(*cr->olds));
	memset(cr->part_same, 1, nd * sizeof(*cr->part_same));
	memset(cr->quick, 1, nd * sizeof(*cr->quick));
	cr->names_same = true;
	cr->parts_ok = true;
	cr->prev_from = from;
	cache_part_t cp = { .run = cr };
	for (size_t k = 0; k < p->nchanged; k++) {
		size_t i = p->changed[k];
		const policy_domain_t *d = &p->domains[i];
		const incr_entry_t *o = cr->olds[i];
		uint8_t src[32];
		cr->quick[i] = false;
		cr->part_same[i] = o->part.known && o->part.line == d->pos.line && o->part.col == d->pos.col &&
				   part_src_of(p, &cp, d->pos.file, src) && memcmp(o->part.src, src, 32) == 0;
	}
	incr_hash_clear(&cp.h);
	return MN_OK;
}

/* Clears quick[] at the domain named name (when one is). */
static void outside_mark(const policy_t *p, bool *quick, const char *name)
{
	const policy_domain_t *d = compile_domain_find(p, name);
	if (d != NULL)
		quick[d - p->domains] = false;
}

static bool outside_dir(const policy_t *p, bool *quick, const dirset_t *s)
{
	if (s == NULL || s->unknown)
		return false;
	for (size_t i = 0; i < s->names.cap; i++)
		if (s->names.slot[i].key != NULL)
			outside_mark(p, quick, s->names.slot[i].val);
	return true;
}

int compile_cache_outside(const ctx_t *c, cache_run_t *cr)
{
	if (cr->quick == NULL)
		return MN_OK;
	const policy_t *p = c->p;
	const mn_map_t *wd = NULL;
	bool ok = true;
	if (p->server.state_dir.v != NULL)
		ok = outside_dir(p, cr->quick, c->keys) && outside_dir(p, cr->quick, c->spf);
	if (ok && !mtasts_wdset_names(c->wdset, &wd))
		ok = false;
	for (size_t i = 0; ok && wd != NULL && i < wd->cap; i++)
		if (wd->slot[i].key != NULL)
			outside_mark(p, cr->quick, wd->slot[i].val);
	for (size_t i = 0; ok && i < c->nreports; i++)
		outside_mark(p, cr->quick, c->reports[i].target);
	if (!ok) {
		free(cr->quick);	/* (every domain looked at) */
		cr->quick = NULL;
	}
	return MN_OK;
}

int compile_cache_begin(const policy_t *p, compile_cache_t *cache, size_t nd, cache_run_t *cr)
{
	incr_hash_t gh = { 0 };
	incr_hash_server(&gh, &p->server);
	uint8_t pos[32];
	int r = incr_hash_final(&gh, cr->global, pos);
	incr_hash_clear(&gh);
	if (r != MN_OK)
		return r;
	incr_hash_t ch = { 0 };
	incr_hash_context(&ch, p);
	r = incr_hash_final(&ch, cr->context, pos);
	incr_hash_clear(&ch);
	if (r != MN_OK)
		return r;
	cr->cache = cache;
	/* other server settings: nothing is reused */
	if (incr_global_same(cache, cr->global))
		cr->prev = cache;
	if ((cr->fresh = calloc(nd > 0 ? nd : 1, sizeof(*cr->fresh))) == NULL ||
	    (cr->diags = calloc(nd > 0 ? nd : 1, sizeof(*cr->diags))) == NULL ||
	    (cr->mta_sts = calloc(nd > 0 ? nd : 1, sizeof(*cr->mta_sts))) == NULL ||
	    (cr->reports_from = calloc(nd > 0 ? nd : 1, sizeof(*cr->reports_from))) == NULL)
		return MN_ENOMEM;
	/* the epochs: the current one, the next (made now: the end cannot fail for want of it) */
	if ((r = incr_epoch_begin(cache)) != MN_OK || (r = zone_epoch_new(&cr->next)) != MN_OK)
		return r;
	if (cr->prev == NULL)
		return MN_OK;
	if ((r = begin_known(p, cr, nd)) != MN_OK || cr->quick != NULL)
		return r;
	/*
	 * prev's entry of each domain, looked up once; when every name is one of
	 * prev's and as many, the hosted names are the same set: the parts of
	 * entries (the hosted-ness of report destinations) hold.
	 */
	if ((cr->olds = calloc(nd > 0 ? nd : 1, sizeof(*cr->olds))) == NULL)
		return MN_ENOMEM;
	size_t found = 0;
	for (size_t i = 0; i < nd; i++)
		found += (cr->olds[i] = incr_find(cr->prev, p->domains[i].name)) != NULL;
	cr->names_same = found == nd && compile_cache_size(cr->prev) == nd;
	cr->parts_ok = cr->names_same && incr_parts_valid(cr->prev);
	if (!cr->parts_ok)
		return MN_OK;
	/* whose part is its old entry's (compile_reports_collect() skips them) */
	if ((cr->part_same = calloc(nd > 0 ? nd : 1, sizeof(*cr->part_same))) == NULL)
		return MN_ENOMEM;
	cache_part_t cp = { .run = cr };
	for (size_t i = 0; i < nd; i++) {
		const policy_domain_t *d = &p->domains[i];
		const incr_entry_t *o = cr->olds[i];
		uint8_t src[32];
		cr->part_same[i] = o->part.known && o->part.line == d->pos.line && o->part.col == d->pos.col &&
				   part_src_of(p, &cp, d->pos.file, src) && memcmp(o->part.src, src, 32) == 0;
	}
	incr_hash_clear(&cp.h);
	return MN_OK;
}

bool compile_cache_names_known(const cache_run_t *cr, size_t nd)
{
	if (cr->prev == NULL || cr->olds == NULL || !cr->names_same)
		return false;
	for (size_t i = 0; i < nd; i++) {
		const incr_entry_t *e = cr->fresh[i], *o = cr->olds[i];
		if (e == o)
			continue;	/* reused: its zones */
		if (e == NULL || o == NULL || e->nzones != o->nzones)
			return false;
		for (size_t k = 0; k < e->nzones; k++)
			if (strcmp(e->zones[k]->name, o->zones[k]->name) != 0)
				return false;
	}
	return true;
}

int compile_cache_mark(cache_run_t *cr, const zones_t *zs)
{
	if (zs->n == 0)
		return MN_OK;
	if ((cr->before = malloc(zs->n * sizeof(*cr->before))) == NULL)
		return MN_ENOMEM;
	memcpy(cr->before, zs->v, zs->n * sizeof(*cr->before));
	return MN_OK;
}

int compile_cache_end(const policy_t *p, compile_cache_t *cache, cache_run_t *cr, zones_t *zs, size_t nd)
{
	int r = MN_OK;
	entries_follow(cache, p, cr->fresh, cr->prev != NULL ? cr->olds : NULL, zs, cr->before);
	if (cr->prev != NULL && cr->names_same) {
		r = incr_install_same(cache, cr->global, cr->fresh, cr->olds, nd);	/* (the map patched) */
	} else {
		for (size_t i = 0; cr->olds != NULL && i < nd; i++)
			if (cr->fresh[i] != NULL && cr->fresh[i] == cr->olds[i])
				incr_entry_ref(cr->fresh[i]);	/* (reused: held by the new map too) */
		r = incr_install(cache, cr->global, cr->fresh, nd);
	}
	incr_serial_token_set(cache, r == MN_OK ? cr->serial_token : 0);
	if (r != MN_OK)
		return r;
	/* the output borrows its zones, all the cache's entries' now, under the next epoch */
	incr_epoch_next(cache, cr->next, zs);
	cr->next = NULL;
	cr->prev_from = NULL;	/* (the cache's, replaced now) */
	incr_order_set(cache, p->gen, cr->fresh, nd, cr->reports_from);	/* (the entries are the cache's now) */
	free(cr->before);
	free(cr->olds);
	free(cr->part_same);
	free(cr->quick);
	free(cr->diags);
	free(cr->mta_sts);
	cr->diags = NULL;
	cr->mta_sts = NULL;
	cr->quick = NULL;
	cr->fresh = NULL;
	cr->before = NULL;
	cr->olds = NULL;
	cr->part_same = NULL;
	cr->reports_from = NULL;
	return MN_OK;
}

void compile_cache_abort(const policy_t *p, cache_run_t *cr)
{
	for (size_t i = 0; cr->fresh != NULL && i < p->ndomains; i++)	/* (fresh: all domains) */
		if (cr->olds == NULL || cr->fresh[i] != cr->olds[i])	/* (a reused one is not held) */
			incr_entry_unref(cr->fresh[i]);
	/* reused entries took this compile's parts, maybe under another name set */
	if (cr->prev != NULL)
		incr_parts_invalidate(cr->cache);
	incr_serial_token_set(cr->cache, 0);	/* (the serials may have moved on without the entries) */
	cr->prev_from = NULL;
	incr_order_set(cr->cache, 0, NULL, 0, NULL);
	zone_epoch_unref(cr->next);
	cr->next = NULL;
	free(cr->fresh);
	free(cr->before);
	free(cr->olds);
	free(cr->part_same);
	free(cr->quick);
	free(cr->diags);
	free(cr->mta_sts);
	cr->diags = NULL;
	cr->mta_sts = NULL;
	free(cr->reports_from);
	cr->quick = NULL;
	cr->fresh = NULL;
	cr->before = NULL;
	cr->olds = NULL;
	cr->part_same = NULL;
	cr->reports_from = NULL;
}
