/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dnsroll.c -- the DNSSEC key rollover machine, pure: keys x policy x now -> next keys + actions */
#include "keys/dnsroll.h"

#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"

static const char *const op_names[] = { "generate", "ds", "state", "wait-ds", "wait-ds-gone" };

const char *dnsroll_op_name(dnsroll_op_t op)
{
	return (unsigned)op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : "?";
}

void dnsroll_policy_from(const policy_t *p, const policy_domain_t *d, dnsroll_policy_t *out)
{
	memset(out, 0, sizeof(*out));
	out->alg = (dnssec_alg_t)d->dnssec.algorithm.v;
	out->shape = (dnssec_keys_t)d->dnssec.keys.v;
	out->zsk_lifetime = d->dnssec.zsk_lifetime.v;
	out->ksk_lifetime = d->dnssec.ksk_lifetime.v;
	out->dnskey_ttl = p->server.ttl.v;	/* the apex's records take the SOA's TTL */
	out->max_ttl = p->server.ttl.v > p->server.negative_ttl.v ? p->server.ttl.v : p->server.negative_ttl.v;
	out->propagation = DNSROLL_PROPAGATION;
	out->ds_ttl = DNSROLL_DS_TTL;
}

void dnsroll_result_clear(dnsroll_result_t *res)
{
	if (res == NULL)
		return;
	free(res->keys);
	free(res->acts);
	free(res->key_next);
	memset(res, 0, sizeof(*res));
}

typedef struct step {
	const dnskey_meta_t *in;	/* the input, which every rule reads */
	size_t n;
	const dnsroll_policy_t *pol;
	time_t now;
	dnsroll_result_t *res;
	size_t kcap, acap;
	size_t cur;			/* the input key whose rules are read, or n: none */
	int err;
} step_t;

static void act(step_t *s, dnsroll_op_t op, size_t key, dnskey_state_t from)
{
	dnsroll_result_t *r = s->res;
	if (s->err != MN_OK)
		return;
	if (r->nacts == s->acap) {
		size_t c = s->acap ? s->acap * 2 : 8;
		dnsroll_action_t *v = realloc(r->acts, c * sizeof(*v));
		if (v == NULL) {
			s->err = MN_ENOMEM;
			return;
		}
		r->acts = v;
		s->acap = c;
	}
	r->acts[r->nacts++] = (dnsroll_action_t){ .op = op, .key = key, .from = from };
	if (op != DNSROLL_WAIT_DS && op != DNSROLL_WAIT_DS_GONE)
		r->changed = true;
}

/* Due at t: true when now >= t, else t noted as the next time (of the key s->cur too). */
static bool due(step_t *s, time_t t)
{
	if (s->now >= t)
		return true;
	if (s->res->next == 0 || t < s->res->next)
		s->res->next = t;
	if (s->cur < s->n && (s->res->key_next[s->cur] == 0 || t < s->res->key_next[s->cur]))
		s->res->key_next[s->cur] = t;
	return false;
}

static void set_state(step_t *s, size_t i, dnskey_state_t st)
{
	dnskey_meta_t *k = &s->res->keys[i];
	dnskey_state_t from = k->state;
	k->state = st;
	k->changed = s->now;
	if (k->role != DNSKEY_ROLE_ZSK) {
		if (st == DNSKEY_PUBLISHED && k->ds == DNSKEY_DS_NONE)
			k->ds = DNSKEY_DS_SUBMITTED;
		if (st == DNSKEY_RETIRED)
			k->ds = DNSKEY_DS_WITHDRAWN;
	}
	act(s, DNSROLL_STATE, i, from);
}

static void set_ds(step_t *s, size_t i, dnskey_ds_t ds, uint32_t ttl)
{
	dnskey_meta_t *k = &s->res->keys[i];
	k->ds = ds;
	k->ds_changed = s->now;
	if (ttl != 0)
		k->ds_ttl = ttl;
	act(s, DNSROLL_DS, i, k->state);
}

static bool does_keys(dnskey_role_t r)
{
	return r != DNSKEY_ROLE_ZSK;
}

static bool does_data(dnskey_role_t r)
{
	return r != DNSKEY_ROLE_KSK;
}

static uint32_t ds_ttl(const step_t *s, const dnskey_meta_t *k)
{
	return k->ds_ttl != 0 ? k->ds_ttl : s->pol->ds_ttl;
}

/* Every job of k done by an ACTIVE key of the input: newer than k when newer, of k's algorithm when same_alg. */
static bool covered(const step_t *s, const dnskey_meta_t *k, bool newer, bool same_alg)
{
	bool keys = !does_keys(k->role), data = !does_data(k->role);
	for (size_t j = 0; j < s->n; j++) {
		const dnskey_meta_t *o = &s->in[j];
		if (o == k || o->state != DNSKEY_ACTIVE || (same_alg && o->alg != k->alg))
			continue;
		if (newer && (o->created < k->created || (o->created == k->created && o->tag <= k->tag)))
			continue;
		keys |= does_keys(o->role);
		data |= does_data(o->role);
	}
	return keys && data;
}

/* A SEP key retired whose DS has been gone from the parent for its TTL. */
static bool ds_done(step_t *s, const dnskey_meta_t *k)
{
	return k->state == DNSKEY_RETIRED && k->ds == DNSKEY_DS_GONE && due(s, k->ds_changed + (time_t)ds_ttl(s, k));
}

/* Every SEP key of alg is out of the DNSKEY RRset or retired with its DS gone long enough. */
static bool alg_ds_done(step_t *s, dnssec_alg_t alg)
{
	bool done = true;
	for (size_t j = 0; j < s->n; j++) {
		const dnskey_meta_t *o = &s->in[j];
		if (o->alg != alg || !does_keys(o->role) || o->state == DNSKEY_REMOVED || o->state == DNSKEY_POSTSIGN)
			continue;
		done &= ds_done(s, o);
	}
	return done;
}

static void key_step(step_t *s, size_t i, dnsroll_ds_fn ds, void *arg)
{
	const dnskey_meta_t *k = &s->in[i];
	const dnsroll_policy_t *p = s->pol;
	time_t wait = (time_t)p->propagation;
	bool present = false;
	uint32_t ttl = 0;
	switch (k->state) {
	case DNSKEY_PRESIGN:
		if (due(s, k->changed + (time_t)p->max_ttl + wait))
			set_state(s, i, DNSKEY_PUBLISHED);
		break;
	case DNSKEY_PUBLISHED:
		if (due(s, k->changed + (time_t)p->dnskey_ttl + wait))
			set_state(s, i, DNSKEY_READY);
		break;
	case DNSKEY_READY:
		if (k->role == DNSKEY_ROLE_ZSK) {
			set_state(s, i, DNSKEY_ACTIVE);
		} else if (k->ds == DNSKEY_DS_SEEN) {
			if (due(s, k->ds_changed + (time_t)ds_ttl(s, k)))
				set_state(s, i, DNSKEY_ACTIVE);
		} else if (ds != NULL && ds(k, arg, &present, &ttl) && present) {
			set_ds(s, i, DNSKEY_DS_SEEN, ttl);
		} else {
			act(s, DNSROLL_WAIT_DS, i, k->state);
		}
		break;
	case DNSKEY_ACTIVE:
		if (covered(s, k, true, false))
			set_state(s, i, DNSKEY_RETIRED);
		break;
	case DNSKEY_RETIRED: {
		if (does_keys(k->role) && k->ds != DNSKEY_DS_GONE) {
			if (ds == NULL || !ds(k, arg, &present, &ttl)) {
				act(s, DNSROLL_WAIT_DS_GONE, i, k->state);
			} else if (!present) {
				set_ds(s, i, DNSKEY_DS_GONE, 0);
			} else if (ttl != 0 && ttl != k->ds_ttl) {	/* the TTL it must be gone for */
				s->res->keys[i].ds_ttl = ttl;
				act(s, DNSROLL_DS, i, k->state);
			} else {
				act(s, DNSROLL_WAIT_DS_GONE, i, k->state);
			}
			break;
		}
		if (!due(s, k->changed + (time_t)p->max_ttl + wait))
			break;
		if (!covered(s, k, false, true)) {	/* the last of its algorithm */
			if (alg_ds_done(s, k->alg))
				set_state(s, i, DNSKEY_POSTSIGN);
		} else if (!does_keys(k->role) || ds_done(s, k)) {
			set_state(s, i, DNSKEY_REMOVED);
		}
		break;
	}
	case DNSKEY_POSTSIGN:
		if (due(s, k->changed + (time_t)p->dnskey_ttl + wait))
			set_state(s, i, DNSKEY_REMOVED);
		break;
	case DNSKEY_REMOVED:
	case DNSKEY_STATE_COUNT:
		break;
	}
}

static void generate(step_t *s, dnskey_role_t role, dnskey_state_t st)
{
	if (s->err != MN_OK)
		return;
	dnsroll_result_t *r = s->res;
	if (r->nkeys == s->kcap) {
		size_t c = s->kcap ? s->kcap * 2 : 8;
		dnskey_meta_t *v = realloc(r->keys, c * sizeof(*v));
		if (v == NULL) {
			s->err = MN_ENOMEM;
			return;
		}
		r->keys = v;
		s->kcap = c;
	}
	dnskey_meta_t *k = &r->keys[r->nkeys++];
	memset(k, 0, sizeof(*k));
	k->alg = s->pol->alg;
	k->role = role;
	k->flags = role == DNSKEY_ROLE_ZSK ? DNSKEY_FLAGS_ZSK : DNSKEY_FLAGS_SEP;
	k->state = st;
	k->created = k->changed = s->now;
	if (role != DNSKEY_ROLE_ZSK && st == DNSKEY_PUBLISHED)
		k->ds = DNSKEY_DS_SUBMITTED;
	act(s, DNSROLL_GENERATE, r->nkeys - 1, st);
}

/* The policy's roles: a successor on its way, or made. */
static void roles_step(step_t *s)
{
	const dnsroll_policy_t *p = s->pol;
	dnskey_role_t roles[2] = { DNSKEY_ROLE_CSK, DNSKEY_ROLE_CSK };
	size_t nroles = 1;
	if (p->shape == DNSSEC_KEYS_KSK_ZSK) {
		roles[0] = DNSKEY_ROLE_KSK;
		roles[1] = DNSKEY_ROLE_ZSK;
		nroles = 2;
	}
	bool alg_active = false;
	for (size_t j = 0; j < s->n; j++)
		alg_active |= s->in[j].state == DNSKEY_ACTIVE && s->in[j].alg == p->alg;
	for (size_t r = 0; r < nroles; r++) {
		const dnskey_meta_t *active = NULL;
		bool coming = false;
		for (size_t j = 0; j < s->n; j++) {
			const dnskey_meta_t *k = &s->in[j];
			if (k->role != roles[r] || k->alg != p->alg)
				continue;
			coming |= k->state >= DNSKEY_PRESIGN && k->state <= DNSKEY_READY;
			if (k->state == DNSKEY_ACTIVE && (active == NULL || k->created >= active->created))
				active = k;
		}
		if (coming)
			continue;
		if (active == NULL) {
			generate(s, roles[r], alg_active ? DNSKEY_PUBLISHED : DNSKEY_PRESIGN);
			continue;
		}
		bool zsk = roles[r] == DNSKEY_ROLE_ZSK;
		uint32_t life = zsk ? p->zsk_lifetime : p->ksk_lifetime;
		s->cur = (size_t)(active - s->in);
		if ((zsk ? p->roll_zsk : p->roll_ksk) || (life != 0 && due(s, active->changed + (time_t)life)))
			generate(s, roles[r], DNSKEY_PUBLISHED);
		s->cur = s->n;
	}
}

/* Generations first (the new keys on disk before anything names them), then DS, states, waits. */
static int act_order(const void *x, const void *y)
{
	const dnsroll_action_t *a = x, *b = y;
	if (a->op != b->op)
		return (int)a->op - (int)b->op;
	return a->key < b->key ? -1 : a->key > b->key;
}

int dnsroll_step(const dnskey_meta_t *keys, size_t n, const dnsroll_policy_t *pol, time_t now, dnsroll_ds_fn ds,
		 void *arg, dnsroll_result_t *res)
{
	if ((keys == NULL && n > 0) || pol == NULL || res == NULL)
		return MN_EINVAL;
	memset(res, 0, sizeof(*res));
	step_t s = { .in = keys, .n = n, .pol = pol, .now = now, .res = res, .cur = n, .err = MN_OK };
	s.kcap = n + 2;
	res->keys = malloc(s.kcap * sizeof(*res->keys));
	res->key_next = calloc(n ? n : 1, sizeof(*res->key_next));
	if (res->keys == NULL || res->key_next == NULL) {
		dnsroll_result_clear(res);
		return MN_ENOMEM;
	}
	if (n > 0)
		memcpy(res->keys, keys, n * sizeof(*keys));
	res->nkeys = n;
	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		live += keys[i].state != DNSKEY_REMOVED;
		s.cur = i;
		key_step(&s, i, ds, arg);
	}
	s.cur = n;
	if (live > 0)
		roles_step(&s);
	if (s.err != MN_OK) {
		dnsroll_result_clear(res);
		return s.err;
	}
	if (res->nacts > 1)
		qsort(res->acts, res->nacts, sizeof(*res->acts), act_order);
	return MN_OK;
}
