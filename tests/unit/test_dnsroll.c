/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_dnsroll.c -- the pure DNSSEC rollover machine: ZSK pre-publish, double-DS, algorithm rollover, crash re-entry */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/dnsroll.h"
#include "policy/mn.h"
#include "tests/tap/tap.h"

enum { H = 3600, D = 86400, KMAX = 16 };

/* A zone's keys, the parent's DS (by key tag), and the log of what happened. */
typedef struct world {
	dnskey_meta_t k[KMAX];
	size_t n;
	uint16_t parent[KMAX];	/* the tags whose DS the parent publishes */
	size_t nparent;
	uint16_t next_tag;
	int asked;		/* DS questions */
	char log[4096];		/* "TAG:state " per state change, in order */
	int waits_ds, waits_gone;
	int bad;		/* invariant breaks */
	char why[200];
} world_t;

static bool at_parent(const world_t *w, uint16_t tag)
{
	for (size_t i = 0; i < w->nparent; i++)
		if (w->parent[i] == tag)
			return true;
	return false;
}

static bool ds_fn(const dnskey_meta_t *k, void *arg, bool *present, uint32_t *ttl)
{
	world_t *w = arg;
	w->asked++;
	*present = at_parent(w, k->tag);
	*ttl = *present ? 2 * H : 0;
	return true;
}

static void parent_add(world_t *w, uint16_t tag)
{
	if (!at_parent(w, tag))
		w->parent[w->nparent++] = tag;
}

static void parent_del(world_t *w, uint16_t tag)
{
	for (size_t i = 0; i < w->nparent; i++)
		if (w->parent[i] == tag)
			w->parent[i] = w->parent[--w->nparent];
}

/*
 * What a validator needs, checked on the keys as served: every algorithm of
 * the DNSKEY RRset signs the data and the DNSKEY RRset; every algorithm of
 * the parent's DS has a SEP key in DNSKEY that signs it; some DS matches a
 * key that signs DNSKEY.
 */
static void invariants(world_t *w, time_t now)
{
	unsigned use[KMAX];
	for (size_t i = 0; i < w->n; i++)
		use[i] = dnskey_meta_use(w->k, w->n, i);
	bool anchored = w->nparent == 0;
	for (size_t i = 0; i < w->n; i++) {
		if (!(use[i] & DNSKEY_USE_DNSKEY))
			continue;
		bool data = false, keys = false;
		for (size_t j = 0; j < w->n; j++) {
			if (w->k[j].alg != w->k[i].alg)
				continue;
			data |= (use[j] & DNSKEY_USE_SIGN_DATA) != 0;
			keys |= (use[j] & DNSKEY_USE_SIGN_KEYS) != 0;
		}
		if (!data || !keys) {
			snprintf(w->why, sizeof(w->why), "@%lld: algorithm %d in DNSKEY without %s signatures",
				 (long long)now, w->k[i].alg, data ? "DNSKEY" : "data");
			w->bad++;
		}
		if (at_parent(w, w->k[i].tag) && (use[i] & DNSKEY_USE_SIGN_KEYS))
			anchored = true;
	}
	if (!anchored) {
		snprintf(w->why, sizeof(w->why), "@%lld: no DS at the parent matches a key signing DNSKEY", (long long)now);
		w->bad++;
	}
}

/* Carries out the first upto actions of res (all: SIZE_MAX) into w. */
static void apply(world_t *w, const dnsroll_result_t *res, size_t upto)
{
	for (size_t a = 0; a < res->nacts && a < upto; a++) {
		const dnsroll_action_t *ac = &res->acts[a];
		const dnskey_meta_t *k = &res->keys[ac->key];
		switch (ac->op) {
		case DNSROLL_GENERATE:
			if (ac->key != w->n)
				tap_bail("a generated key out of order");
			w->k[w->n] = *k;
			w->k[w->n].tag = w->next_tag++;
			snprintf(w->k[w->n].id, sizeof(w->k[w->n].id), "%05u-%lld", w->k[w->n].tag, (long long)k->created);
			w->n++;
			break;
		case DNSROLL_DS:
			w->k[ac->key] = *k;
			break;
		case DNSROLL_STATE: {
			w->k[ac->key] = *k;
			size_t l = strlen(w->log);
			snprintf(w->log + l, sizeof(w->log) - l, "%u:%s ", k->tag, dnskey_state_name(k->state));
			break;
		}
		case DNSROLL_WAIT_DS:
			w->waits_ds++;
			break;
		case DNSROLL_WAIT_DS_GONE:
			w->waits_gone++;
			break;
		}
	}
}

/* A run of `mailns keys rotate` at now: steps until nothing changes. */
static time_t run(world_t *w, const dnsroll_policy_t *pol, time_t now)
{
	time_t next = 0;
	for (int pass = 0; pass < 16; pass++) {
		dnsroll_result_t res;
		if (dnsroll_step(w->k, w->n, pol, now, ds_fn, w, &res) != MN_OK)
			tap_bail("dnsroll_step");
		apply(w, &res, SIZE_MAX);
		invariants(w, now);
		next = res.next;
		bool changed = res.changed;
		dnsroll_result_clear(&res);
		if (!changed)
			break;
	}
	return next;
}

static void first_keys(world_t *w, dnssec_alg_t alg, dnssec_keys_t shape, time_t now, bool ds_at_parent)
{
	memset(w, 0, sizeof(*w));
	w->next_tag = 100;
	if (shape == DNSSEC_KEYS_KSK_ZSK)
		w->k[w->n++] = (dnskey_meta_t){ .alg = alg, .flags = 256, .tag = w->next_tag++, .role = DNSKEY_ROLE_ZSK,
						.state = DNSKEY_ACTIVE, .created = now, .changed = now };
	w->k[w->n++] = (dnskey_meta_t){ .alg = alg, .flags = 257, .tag = w->next_tag++,
					.role = shape == DNSSEC_KEYS_CSK ? DNSKEY_ROLE_CSK : DNSKEY_ROLE_KSK,
					.state = DNSKEY_ACTIVE, .created = now, .changed = now };
	if (ds_at_parent)
		parent_add(w, w->k[w->n - 1].tag);
}

static dnsroll_policy_t policy(dnssec_alg_t alg, dnssec_keys_t shape)
{
	return (dnsroll_policy_t){ .alg = alg, .shape = shape, .zsk_lifetime = 90 * D, .ksk_lifetime = 0,
				   .dnskey_ttl = H, .max_ttl = H, .propagation = H, .ds_ttl = 2 * H };
}

static const dnskey_meta_t *key(const world_t *w, uint16_t tag)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->k[i].tag == tag)
			return &w->k[i];
	return NULL;
}

/* The newest SEP key's tag. */
static uint16_t newest_sep(const world_t *w)
{
	uint16_t t = 0;
	for (size_t i = 0; i < w->n; i++)
		if (w->k[i].role != DNSKEY_ROLE_ZSK)
			t = w->k[i].tag;
	return t;
}

static void test_zsk(void)
{
	world_t w;
	time_t t0 = 1900000000;
	first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, t0, true);
	dnsroll_policy_t pol = policy(DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK);
	time_t next = run(&w, &pol, t0 + D);
	is_int((long long)w.n, 2, "ZSK: nothing to do in its first 90 days");
	is_int((long long)next, (long long)(t0 + 90 * D), "the next run due when the ZSK's lifetime ends");
	run(&w, &pol, t0 + 90 * D - 1);
	is_int((long long)w.n, 2, "a second early: still nothing");
	run(&w, &pol, t0 + 90 * D);
	ok(w.n == 3 && w.k[2].role == DNSKEY_ROLE_ZSK && w.k[2].state == DNSKEY_PUBLISHED, "at 90 days: a new ZSK, published");
	ok(key(&w, 100)->state == DNSKEY_ACTIVE, "the old ZSK still signs");
	next = run(&w, &pol, t0 + 90 * D + 2 * H - 1);
	ok(w.k[2].state == DNSKEY_PUBLISHED, "not ready before the DNSKEY TTL + propagation (2 h)");
	is_int((long long)next, (long long)(t0 + 90 * D + 2 * H), "due then");
	run(&w, &pol, t0 + 90 * D + 2 * H);
	ok(w.k[2].state == DNSKEY_ACTIVE && key(&w, 100)->state == DNSKEY_RETIRED,
	   "after 2 h: the new ZSK active, the old retired (one run)");
	run(&w, &pol, t0 + 90 * D + 4 * H - 1);
	ok(key(&w, 100)->state == DNSKEY_RETIRED, "the retired ZSK stays for the zone's TTL + propagation");
	run(&w, &pol, t0 + 90 * D + 4 * H);
	ok(key(&w, 100)->state == DNSKEY_REMOVED, "then removed: a ZSK rollover takes 4 h with these TTLs");
	is_str(w.log, "102:ready 102:active 100:retired 100:removed ", "the ZSK's states in order");
	is_int(w.asked, 0, "a ZSK rollover asks the parent nothing");
	is_int(w.bad, 0, "valid at every step %s", w.why);
}

static void test_csk(void)
{
	world_t w;
	time_t t0 = 1900000000;
	first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, t0, true);
	dnsroll_policy_t pol = policy(DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK);
	run(&w, &pol, t0 + 400 * D);
	is_int((long long)w.n, 1, "CSK: ksk_lifetime 0: never rolled by itself");
	pol.roll_ksk = true;
	time_t t = t0 + 400 * D;
	run(&w, &pol, t);
	pol.roll_ksk = false;
	ok(w.n == 2 && w.k[1].role == DNSKEY_ROLE_CSK && w.k[1].state == DNSKEY_PUBLISHED &&
	   w.k[1].ds == DNSKEY_DS_SUBMITTED, "roll_ksk: a new CSK published, its DS to submit");
	uint16_t nw = w.k[1].tag, old = w.k[0].tag;
	run(&w, &pol, t + 2 * H);
	ok(w.k[1].state == DNSKEY_READY && w.waits_ds == 1, "ready after 2 h; waits for its DS");
	/* the DS is not at the parent: days pass, nothing is withdrawn (the negative case) */
	for (int d = 1; d <= 30; d++)
		run(&w, &pol, t + d * D);
	ok(w.k[1].state == DNSKEY_READY && w.k[0].state == DNSKEY_ACTIVE, "30 days without the DS: the old CSK still signs");
	ok(w.waits_ds == 31, "each run says it waits for the DS (%d)", w.waits_ds);
	t += 30 * D;
	parent_add(&w, nw);
	run(&w, &pol, t);
	ok(w.k[1].ds == DNSKEY_DS_SEEN && w.k[1].ds_ttl == 2 * H && w.k[1].state == DNSKEY_READY,
	   "the DS seen at the parent, its TTL (2 h) kept; not active yet");
	run(&w, &pol, t + 2 * H - 1);
	ok(w.k[1].state == DNSKEY_READY, "not before the DS TTL");
	run(&w, &pol, t + 2 * H);
	ok(w.k[1].state == DNSKEY_ACTIVE && w.k[0].state == DNSKEY_RETIRED && w.k[0].ds == DNSKEY_DS_WITHDRAWN,
	   "after the DS TTL: the new CSK signs, the old retired, its DS to withdraw");
	int before = w.waits_gone;
	run(&w, &pol, t + 10 * D);
	ok(w.k[0].state == DNSKEY_RETIRED && w.waits_gone > before, "the old DNSKEY stays while its DS is at the parent");
	parent_del(&w, old);
	t += 10 * D;
	run(&w, &pol, t);
	ok(w.k[0].ds == DNSKEY_DS_GONE && w.k[0].state == DNSKEY_RETIRED, "its DS seen gone");
	run(&w, &pol, t + 2 * H - 1);
	ok(w.k[0].state == DNSKEY_RETIRED, "kept for the DS TTL");
	run(&w, &pol, t + 2 * H);
	ok(w.k[0].state == DNSKEY_REMOVED, "then removed");
	is_str(w.log, "101:ready 101:active 100:retired 100:removed ", "the CSK's states in order");
	is_int(w.bad, 0, "valid at every step %s", w.why);
}

static void test_algorithm(dnssec_keys_t shape, const char *what)
{
	world_t w;
	time_t t0 = 1900000000, t = t0 + D;
	first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, shape, t0, true);
	dnsroll_policy_t pol = policy(DNSSEC_ALG_ED25519, shape);
	pol.zsk_lifetime = 0;
	size_t n0 = w.n;
	run(&w, &pol, t);
	bool presign = w.n == 2 * n0;
	for (size_t i = n0; i < w.n; i++)
		presign &= w.k[i].state == DNSKEY_PRESIGN && w.k[i].alg == DNSSEC_ALG_ED25519;
	ok(presign, "%s: the policy's algorithm changed: new keys in presign", what);
	unsigned use = 0;
	for (size_t i = n0; i < w.n; i++)
		use |= dnskey_meta_use(w.k, w.n, i);
	ok(use == DNSKEY_USE_SIGN_DATA, "%s: presign: the new algorithm signs the data, not in DNSKEY (0x%x)", what, use);
	run(&w, &pol, t + 2 * H);
	use = 0;
	for (size_t i = n0; i < w.n; i++)
		use |= dnskey_meta_use(w.k, w.n, i);
	ok(w.k[n0].state == DNSKEY_PUBLISHED && (use & DNSKEY_USE_SIGN_KEYS) && (use & DNSKEY_USE_DNSKEY),
	   "%s: after max TTL: published; DNSKEY signed by both algorithms", what);
	uint16_t sep = newest_sep(&w), oldsep = w.k[n0 - 1].tag;
	run(&w, &pol, t + 4 * H);
	ok(key(&w, sep)->state == DNSKEY_READY && w.waits_ds > 0, "%s: ready, waiting for the new DS", what);
	parent_add(&w, sep);
	parent_del(&w, oldsep);	/* the operator replaces the DS */
	run(&w, &pol, t + 5 * H);
	run(&w, &pol, t + 7 * H);
	ok(key(&w, sep)->state == DNSKEY_ACTIVE, "%s: the new DS seen, after its TTL the new SEP key active", what);
	const dnskey_meta_t *o = key(&w, oldsep);
	ok(o->state == DNSKEY_RETIRED && o->ds == DNSKEY_DS_GONE &&
	   (dnskey_meta_use(w.k, w.n, (size_t)(o - w.k)) & DNSKEY_USE_SIGN_KEYS),
	   "%s: the old SEP key retired, its DS gone, its algorithm still signing", what);
	run(&w, &pol, t + 9 * H);
	o = key(&w, oldsep);
	ok(o->state == DNSKEY_POSTSIGN && !(dnskey_meta_use(w.k, w.n, (size_t)(o - w.k)) & DNSKEY_USE_DNSKEY),
	   "%s: the old DNSKEY removed first, its signatures stay (postsign)", what);
	run(&w, &pol, t + 11 * H);
	bool gone = true;
	for (size_t i = 0; i < n0; i++)
		gone &= w.k[i].state == DNSKEY_REMOVED;
	ok(gone, "%s: then the old algorithm's signatures go", what);
	is_int(w.bad, 0, "%s: valid at every step %s", what, w.why);
	tap_diag("%s: %s", what, w.log);
}

/*
 * Crash re-entry: at each step of a CSK rollover and of a ZSK rollover, stop
 * after every prefix of the step's writes, then run on: the same end as a run
 * never stopped, and valid throughout.
 */
static void test_crash(dnssec_keys_t shape, const char *what)
{
	time_t t0 = 1900000000;
	time_t times[] = { t0 + D, t0 + D + 2 * H, t0 + D + 3 * H, t0 + D + 5 * H, t0 + D + 6 * H, t0 + D + 9 * H,
			   t0 + D + 12 * H };
	size_t ntimes = sizeof(times) / sizeof(times[0]);
	int stops = 0, same = 0, bad = 0;
	for (size_t at = 0; at < ntimes; at++) {
		for (size_t cut = 0; cut < 8; cut++) {
			world_t w, ref;
			first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, shape, t0, true);
			uint16_t oldsep = newest_sep(&w);
			dnsroll_policy_t pol = policy(DNSSEC_ALG_ECDSAP256SHA256, shape);
			pol.roll_ksk = pol.roll_zsk = true;
			bool stopped = false;
			for (size_t i = 0; i < ntimes; i++) {
				if (i == 1)
					pol.roll_ksk = pol.roll_zsk = false;
				if (i == 3)
					parent_add(&w, newest_sep(&w));	/* the new DS published */
				if (i == 5)
					parent_del(&w, oldsep);
				if (i == at && !stopped) {
					dnsroll_result_t res;
					if (dnsroll_step(w.k, w.n, &pol, times[i], ds_fn, &w, &res) != MN_OK)
						tap_bail("step");
					size_t writes = 0;
					for (size_t a = 0; a < res.nacts; a++)
						writes += res.acts[a].op <= DNSROLL_STATE;
					if (cut < writes) {
						apply(&w, &res, cut);
						stopped = true;
						stops++;
					}
					dnsroll_result_clear(&res);
				}
				run(&w, &pol, times[i]);
			}
			if (!stopped)
				continue;
			first_keys(&ref, DNSSEC_ALG_ECDSAP256SHA256, shape, t0, true);
			pol.roll_ksk = pol.roll_zsk = true;
			for (size_t i = 0; i < ntimes; i++) {
				if (i == 1)
					pol.roll_ksk = pol.roll_zsk = false;
				if (i == 3)
					parent_add(&ref, newest_sep(&ref));
				if (i == 5)
					parent_del(&ref, oldsep);
				run(&ref, &pol, times[i]);
			}
			bool eq = w.n == ref.n;
			for (size_t i = 0; eq && i < w.n; i++)
				eq = w.k[i].state == ref.k[i].state && w.k[i].role == ref.k[i].role && w.k[i].ds == ref.k[i].ds;
			same += eq;
			bad += w.bad;
			if (!eq)
				tap_diag("%s: stopped at step %zu after %zu writes: %s / %s", what, at, cut, w.log, ref.log);
		}
	}
	ok(stops >= 5, "%s: %d stops", what, stops);
	is_int(same, stops, "%s: each ends as the run never stopped", what);
	is_int(bad, 0, "%s: and the zone validates throughout", what);
}

static void test_reentry(void)
{
	/* two active ZSKs (a stop between the new one's activation and the old one's retirement) */
	world_t w;
	time_t t0 = 1900000000;
	first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, t0, true);
	w.k[w.n++] = (dnskey_meta_t){ .alg = DNSSEC_ALG_ECDSAP256SHA256, .flags = 256, .tag = 200,
				      .role = DNSKEY_ROLE_ZSK, .state = DNSKEY_ACTIVE, .created = t0 + 5,
				      .changed = t0 + 10 };
	dnsroll_policy_t pol = policy(DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK);
	dnsroll_result_t res;
	is_int(dnsroll_step(w.k, w.n, &pol, t0 + 11, ds_fn, &w, &res), MN_OK, "re-entry: two active ZSKs");
	ok(res.nacts == 1 && res.acts[0].op == DNSROLL_STATE && res.keys[res.acts[0].key].tag == 100 &&
	   res.keys[res.acts[0].key].state == DNSKEY_RETIRED, "the older one is retired, nothing else");
	dnsroll_result_clear(&res);
	is_int(dnsroll_step(NULL, 1, &pol, 0, NULL, NULL, &res), MN_EINVAL, "no keys with n > 0: MN_EINVAL");
	is_int(dnsroll_step(NULL, 0, &pol, 0, NULL, NULL, &res), MN_OK, "a zone without keys");
	ok(res.nacts == 0, "is left alone (its first keys are made when compiled)");
	dnsroll_result_clear(&res);
	/* a ready CSK with no way to ask the parent waits */
	first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, t0, true);
	w.k[w.n++] = (dnskey_meta_t){ .alg = DNSSEC_ALG_ECDSAP256SHA256, .flags = 257, .tag = 300,
				      .role = DNSKEY_ROLE_CSK, .state = DNSKEY_READY, .ds = DNSKEY_DS_SUBMITTED,
				      .created = t0, .changed = t0 };
	pol = policy(DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK);
	dnsroll_step(w.k, w.n, &pol, t0 + 100 * D, NULL, NULL, &res);
	ok(!res.changed && res.nacts == 1 && res.acts[0].op == DNSROLL_WAIT_DS, "no DS lookup: it waits for the DS");
	dnsroll_result_clear(&res);
	is_str(dnsroll_op_name(DNSROLL_WAIT_DS), "wait-ds", "op names");
}

/* key_next: when each key's own next step is due (what mailns keys list shows) */
static void test_key_next(void)
{
	world_t w;
	time_t t0 = 1900000000;
	first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, t0, true);	/* ZSK 100, KSK 101 */
	w.k[w.n++] = (dnskey_meta_t){ .alg = DNSSEC_ALG_ECDSAP256SHA256, .flags = 256, .tag = 200,
				      .role = DNSKEY_ROLE_ZSK, .state = DNSKEY_PUBLISHED, .created = t0 + 10 * D,
				      .changed = t0 + 10 * D };
	w.k[w.n++] = (dnskey_meta_t){ .alg = DNSSEC_ALG_ECDSAP256SHA256, .flags = 257, .tag = 201,
				      .role = DNSKEY_ROLE_KSK, .state = DNSKEY_READY, .ds = DNSKEY_DS_SUBMITTED,
				      .created = t0 + 10 * D, .changed = t0 + 10 * D };
	dnsroll_policy_t pol = policy(DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK);
	dnsroll_result_t res;
	is_int(dnsroll_step(w.k, w.n, &pol, t0 + 10 * D + 60, NULL, NULL, &res), MN_OK, "key_next: a step");
	ok(res.key_next != NULL, "key_next: filled");
	if (res.key_next != NULL) {
		is_int((long long)res.key_next[2], (long long)(t0 + 10 * D + 2 * H), "key_next: published ZSK: DNSKEY TTL + propagation");
		is_int((long long)res.key_next[3], 0, "key_next: ready KSK without its DS: no time (it waits)");
		ok(res.nacts == 1 && res.acts[0].op == DNSROLL_WAIT_DS && res.acts[0].key == 3, "key_next: which a wait says");
		is_int((long long)res.key_next[0], 0, "key_next: the active ZSK with a successor on its way: none");
		is_int((long long)res.key_next[1], 0, "key_next: the active KSK without a lifetime: none");
		is_int((long long)res.next, (long long)(t0 + 10 * D + 2 * H), "next: the earliest of them");
	}
	dnsroll_result_clear(&res);
	/* the active ZSK alone: its successor at its lifetime */
	first_keys(&w, DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, t0, true);
	dnsroll_step(w.k, w.n, &pol, t0 + D, NULL, NULL, &res);
	is_int((long long)res.key_next[0], (long long)(t0 + 90 * D), "key_next: the active ZSK: replaced at its lifetime");
	dnsroll_result_clear(&res);
	ok(res.key_next == NULL, "dnsroll_result_clear frees key_next");
}

int main(void)
{
	test_zsk();
	test_csk();
	test_algorithm(DNSSEC_KEYS_CSK, "algorithm rollover, CSK");
	test_algorithm(DNSSEC_KEYS_KSK_ZSK, "algorithm rollover, KSK+ZSK");
	test_crash(DNSSEC_KEYS_CSK, "crash, CSK rollover");
	test_crash(DNSSEC_KEYS_KSK_ZSK, "crash, KSK and ZSK rollovers");
	test_reentry();
	test_key_next();
	return tap_done();
}
