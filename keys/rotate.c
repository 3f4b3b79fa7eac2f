/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rotate.c -- the DKIM key phase machine (SPEC §5), pure: state x policy x now -> next state */
#include "keys/rotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"

static const char *const op_names[] = {
	"generate", "activate", "retire", "revoke", "remove", "wait-dns",
};

const char *rotate_op_name(rotate_op_t op)
{
	return (unsigned)op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : "?";
}

void rotate_policy_from(const policy_dkim_t *d, rotate_policy_t *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < d->algorithm.n; i++) {
		dkim_alg_t a = (dkim_alg_t)d->algorithm.v[i].v;
		bool dup = false;
		for (size_t j = 0; j < out->nalgs; j++)
			dup |= out->algs[j] == a;
		if (!dup && out->nalgs < DKIM_ALG_COUNT && (unsigned)a < DKIM_ALG_COUNT)
			out->algs[out->nalgs++] = a;
	}
	out->rotate_every = d->rotate_every.v;
	out->publish_ahead = d->publish_ahead.v;
	out->retire_after = d->retire_after.v;
	out->revoked_for = d->revoked_for.v;
}

uint32_t rotate_offset(const char *domain, uint32_t rotate_every)
{
	if (rotate_every == 0)
		return 0;
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)domain; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (uint32_t)(h % rotate_every);
}

time_t rotate_rotation_due(const char *domain, const rotate_policy_t *pol, time_t activated)
{
	int64_t e = pol->rotate_every;
	if (e == 0)
		return 0;
	int64_t off = rotate_offset(domain, pol->rotate_every);
	int64_t start = (int64_t)activated + e / 2 - off;
	int64_t k = start >= 0 ? (start + e - 1) / e : -((-start) / e);	/* ceil(start / e) */
	return (time_t)(off + k * e);
}

static bool alg_wanted(const rotate_policy_t *pol, int alg)
{
	for (size_t i = 0; i < pol->nalgs; i++)
		if ((int)pol->algs[i] == alg)
			return true;
	return false;
}

static bool is_rsa(int alg)
{
	return alg != DKIM_ALG_ED25519;
}

/* The newest key of alg in phase ph, or NULL. */
static const keystore_key_t *find(const keystore_key_t *v, size_t n, int alg, key_phase_t ph)
{
	const keystore_key_t *best = NULL;
	for (size_t i = 0; i < n; i++)
		if (!v[i].removed && v[i].alg == alg && v[i].phase == ph &&
		    (best == NULL || v[i].created > best->created ||
		     (v[i].created == best->created && strcmp(v[i].selector, best->selector) > 0)))
			best = &v[i];
	return best;
}

/* When the successor of active key a should be generated. */
static time_t generate_due(const char *domain, const rotate_policy_t *pol, const keystore_key_t *a)
{
	time_t t = rotate_rotation_due(domain, pol, a->changed);
	if (t == 0)
		return 0;
	t -= (time_t)pol->publish_ahead;
	return t < a->changed ? a->changed : t;
}

time_t rotate_key_next(const keystore_key_t *k, const keystore_key_t *keys, size_t n,
		       const rotate_policy_t *pol, const char *domain)
{
	if (k->removed)
		return 0;
	switch (k->phase) {
	case KEY_PENDING:
		if (!alg_wanted(pol, k->alg))
			return k->changed;
		return find(keys, n, k->alg, KEY_ACTIVE) != NULL ?
			k->created + (time_t)pol->publish_ahead : k->created;
	case KEY_ACTIVE: {
		const keystore_key_t *p = find(keys, n, k->alg, KEY_PENDING);
		if (p != NULL)
			return p->created + (time_t)pol->publish_ahead;
		return alg_wanted(pol, k->alg) ? rotate_rotation_due(domain, pol, k->changed) : 0;
	}
	case KEY_RETIRED:
		return k->changed + (time_t)pol->retire_after;
	case KEY_REVOKED:
		return k->changed + (time_t)pol->revoked_for;
	}
	return 0;
}

void rotate_result_clear(rotate_result_t *res)
{
	if (res == NULL)
		return;
	keystore_keys_free(res->keys, res->nkeys);
	free(res->acts);
	memset(res, 0, sizeof(*res));
}

typedef struct {
	rotate_result_t *res;
	size_t kcap, acap;
	time_t now;
	int err;
} step_t;

static void act(step_t *s, rotate_op_t op, const char *sel, int alg)
{
	rotate_result_t *r = s->res;
	if (s->err != MN_OK)
		return;
	if (r->nacts == s->acap) {
		size_t c = s->acap ? s->acap * 2 : 8;
		rotate_action_t *nv = realloc(r->acts, c * sizeof(*nv));
		if (nv == NULL) {
			s->err = MN_ENOMEM;
			return;
		}
		r->acts = nv;
		s->acap = c;
	}
	rotate_action_t *a = &r->acts[r->nacts++];
	a->op = op;
	a->alg = (dkim_alg_t)alg;
	snprintf(a->selector, sizeof(a->selector), "%s", sel);
	if (op != ROT_WAIT_DNS)
		r->changed = true;
}

static void next_at(step_t *s, time_t t)
{
	if (t > s->now && (s->res->next == 0 || t < s->res->next))
		s->res->next = t;
}

static void set_phase(step_t *s, keystore_key_t *k, key_phase_t ph, rotate_op_t op)
{
	k->phase = ph;
	k->changed = s->now;
	if (ph == KEY_REVOKED) {
		char *rec = mn_strdup("v=DKIM1; p=");
		if (rec == NULL) {
			s->err = MN_ENOMEM;
			return;
		}
		free(k->record);
		k->record = rec;
	}
	act(s, op, k->selector, k->alg);
}

static bool used(const rotate_result_t *r, const char *sel)
{
	for (size_t i = 0; i < r->nkeys; i++)
		if (strcmp(r->keys[i].selector, sel) == 0)
			return true;
	return false;
}

static void generate(step_t *s, const rotate_policy_t *pol, int alg)
{
	if (s->err != MN_OK)
		return;
	static const char all[] = "abcdefghijklmnopqrstuvwxyz";
	const char *order[2] = { all, NULL };
	if (pol->nalgs > 1)
		order[0] = is_rsa(alg) ? "rstuvwxyz" : "efghijklmnopq", order[1] = all;
	struct tm tm;
	time_t now = s->now;
	if (gmtime_r(&now, &tm) == NULL) {
		s->err = MN_ERANGE;
		return;
	}
	char sel[KEYSTORE_SELECTOR_MAX] = "";
	for (size_t o = 0; o < 2 && order[o] != NULL && sel[0] == '\0'; o++) {
		for (const char *c = order[o]; *c != '\0'; c++) {
			char cand[KEYSTORE_SELECTOR_MAX];
			snprintf(cand, sizeof(cand), "mn%04d%02d%02d%c", tm.tm_year + 1900, tm.tm_mon + 1,
				 tm.tm_mday, *c);
			if (!used(s->res, cand)) {
				memcpy(sel, cand, sizeof(sel));
				break;
			}
		}
	}
	if (sel[0] == '\0') {	/* all letters of the day taken: tomorrow */
		next_at(s, now - (now % 86400) + 86400);
		return;
	}
	rotate_result_t *r = s->res;
	if (r->nkeys == s->kcap) {
		size_t c = s->kcap ? s->kcap * 2 : 8;
		keystore_key_t *nv = realloc(r->keys, c * sizeof(*nv));
		if (nv == NULL) {
			s->err = MN_ENOMEM;
			return;
		}
		r->keys = nv;
		s->kcap = c;
	}
	keystore_key_t *k = &r->keys[r->nkeys++];
	memset(k, 0, sizeof(*k));
	memcpy(k->selector, sel, sizeof(k->selector));
	k->alg = alg;
	k->phase = KEY_PENDING;
	k->created = k->changed = now;
	act(s, ROT_GENERATE, sel, alg);
}

static int act_order(const void *x, const void *y)
{
	const rotate_action_t *a = x, *b = y;
	if (a->op != b->op)
		return (int)a->op - (int)b->op;
	return strcmp(a->selector, b->selector);
}

static int key_order(const void *x, const void *y)
{
	return strcmp(((const keystore_key_t *)x)->selector, ((const keystore_key_t *)y)->selector);
}

int rotate_step(const keystore_key_t *keys, size_t n, const rotate_policy_t *pol, const char *domain,
		time_t now, bool (*confirmed)(const char *selector, void *arg), void *arg,
		rotate_result_t *res)
{
	if ((keys == NULL && n > 0) || pol == NULL || domain == NULL || res == NULL)
		return MN_EINVAL;
	memset(res, 0, sizeof(*res));
	step_t s = { .res = res, .now = now, .err = MN_OK };
	int r = keystore_keys_dup(keys, n, &res->keys);
	if (r != MN_OK)
		return r;
	res->nkeys = s.kcap = n;
	if (n == 0)
		s.kcap = 1;

	/* keys of algorithms the policy still names or not: the time-driven phases */
	bool any_active_wanted = false;
	for (size_t i = 0; i < n; i++)
		any_active_wanted |= !keys[i].removed && keys[i].phase == KEY_ACTIVE && alg_wanted(pol, keys[i].alg);
	for (size_t i = 0; i < n; i++) {
		keystore_key_t *k = &res->keys[i];
		if (k->removed)
			continue;
		time_t due;
		switch (k->phase) {
		case KEY_PENDING:
			if (!alg_wanted(pol, k->alg))
				set_phase(&s, k, KEY_REVOKED, ROT_REVOKE);
			break;
		case KEY_ACTIVE:
			if (!alg_wanted(pol, k->alg) && any_active_wanted)
				set_phase(&s, k, KEY_RETIRED, ROT_RETIRE);
			break;
		case KEY_RETIRED:
			due = k->changed + (time_t)pol->retire_after;
			if (now >= due)
				set_phase(&s, k, KEY_REVOKED, ROT_REVOKE);
			else
				next_at(&s, due);
			break;
		case KEY_REVOKED:
			due = k->changed + (time_t)pol->revoked_for;
			if (now >= due) {
				k->removed = true;
				k->changed = now;
				free(k->record);
				k->record = NULL;
				act(&s, ROT_REMOVE, k->selector, k->alg);
			} else {
				next_at(&s, due);
			}
			break;
		}
	}

	/* each algorithm of the policy: one active key, its successor on time */
	for (size_t a = 0; a < pol->nalgs && s.err == MN_OK; a++) {
		int alg = (int)pol->algs[a];
		const keystore_key_t *ac = find(keys, n, alg, KEY_ACTIVE);
		const keystore_key_t *pe = find(keys, n, alg, KEY_PENDING);
		if (pe != NULL) {
			time_t due = ac != NULL ? pe->created + (time_t)pol->publish_ahead : pe->created;
			if (now < due) {
				next_at(&s, due);
			} else if (confirmed != NULL && confirmed(pe->selector, arg)) {
				for (size_t i = 0; i < n; i++) {
					keystore_key_t *k = &res->keys[i];
					if (k->removed || k->alg != alg)
						continue;
					if (strcmp(k->selector, pe->selector) == 0)
						set_phase(&s, k, KEY_ACTIVE, ROT_ACTIVATE);
					else if (k->phase == KEY_ACTIVE)
						set_phase(&s, k, KEY_RETIRED, ROT_RETIRE);
				}
			} else {
				act(&s, ROT_WAIT_DNS, pe->selector, alg);
			}
		} else if (ac != NULL) {
			time_t due = generate_due(domain, pol, ac);
			if (due != 0 && now >= due)
				generate(&s, pol, alg);
			else
				next_at(&s, due);
		} else {
			generate(&s, pol, alg);
		}
	}
	if (s.err != MN_OK) {
		rotate_result_clear(res);
		return s.err;
	}
	if (res->nkeys > 1)
		qsort(res->keys, res->nkeys, sizeof(*res->keys), key_order);
	if (res->nacts > 1)
		qsort(res->acts, res->nacts, sizeof(*res->acts), act_order);
	return MN_OK;
}
