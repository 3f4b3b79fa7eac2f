/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_keys_dnssec.c -- mailns keys rotate|list: the DNSSEC rollovers and keys of every signed zone (keys/dnsroll.c) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/dnskey.h"
#include "keys/dnsroll.h"
#include "keys/keystore.h"
#include "tools/cmd.h"
#include "tools/resolve.h"

enum { T_DS = 43, PASSES_MAX = 16, LOCK_TIMEOUT_S = 120 };

/* What the DS question of one zone needs: the zone's keys (their DS) and the resolver. */
typedef struct zctx {
	const char *zone;
	dnskey_set_t keys;	/* the zone's keys not removed, for their DS */
	resolve_t *res;		/* NULL: the parent cannot be asked */
	char why[200];		/* the last failure */
	bool asked;		/* the DS RRset fetched once per pass */
	resolve_result_t answer;
	bool answered;
} zctx_t;

static bool key_ds(zctx_t *z, uint16_t tag, uint8_t ds[DNSKEY_DS_LEN])
{
	uint8_t owner[256];
	int ol = mn_name_to_wire(z->zone, owner, sizeof(owner));
	for (size_t i = 0; ol > 0 && i < z->keys.n; i++)
		if (dnskey_tag(z->keys.v[i]) == tag)
			return dnskey_ds(z->keys.v[i], owner, (size_t)ol, ds) == MN_OK;
	return false;
}

static bool ds_at_parent(const dnskey_meta_t *k, void *arg, bool *present, uint32_t *ttl)
{
	zctx_t *z = arg;
	uint8_t ds[1][DNSKEY_DS_LEN];
	if (!key_ds(z, k->tag, ds[0])) {
		snprintf(z->why, sizeof(z->why), "key %u cannot be read", (unsigned)k->tag);
		return false;
	}
	if (z->res == NULL) {
		snprintf(z->why, sizeof(z->why), "no resolver");
		return false;
	}
	if (!z->asked) {
		z->asked = true;
		z->answered = resolve_query(z->res, z->zone, T_DS, &z->answer) == MN_OK;
		if (z->answered && z->answer.status == RESOLVE_FAIL) {
			snprintf(z->why, sizeof(z->why), "DS %s: %s", z->zone, z->answer.why);
			resolve_result_clear(&z->answer);
			z->answered = false;
		}
	}
	if (!z->answered)
		return false;
	*present = false;
	for (size_t i = 0; z->answer.status == RESOLVE_ANSWER && i < z->answer.n && !*present; i++)
		*present = cmd_ds_matches(z->answer.v[i], (const uint8_t (*)[DNSKEY_DS_LEN])ds, 1);
	*ttl = *present ? z->answer.ttl : 0;
	return true;
}

static void print_ds(const char *zone, const uint8_t ds[DNSKEY_DS_LEN])
{
	printf("%s. IN DS %u %u %u ", zone, (unsigned)(ds[0] << 8 | ds[1]), (unsigned)ds[2], (unsigned)ds[3]);
	for (size_t k = 4; k < DNSKEY_DS_LEN; k++)
		printf("%02X", (unsigned)ds[k]);
}

const char *cmd_dnssec_alg_name(dnssec_alg_t alg)
{
	return alg == DNSSEC_ALG_ED25519 ? "ed25519" : "ecdsap256sha256";
}

static void print_act(time_t now, const char *zone, const dnsroll_action_t *a, const dnskey_meta_t *k, bool dry)
{
	char t[32];
	mn_time_format(now, t, sizeof(t));
	const char *alg = cmd_dnssec_alg_name(k->alg);
	char tag[8];
	snprintf(tag, sizeof(tag), "%u", (unsigned)k->tag);
	printf("%s%s\tdnssec\t%s\t%s\t%s\t%s\t", dry ? "plan " : "", t, zone, a->op == DNSROLL_GENERATE && dry ? "new" : tag,
	       dnskey_role_name(k->role), alg);
	if (a->op == DNSROLL_GENERATE)
		printf("generate %s\n", dnskey_state_name(k->state));
	else if (a->op == DNSROLL_DS && k->ds_ttl != 0)
		printf("ds %s (ttl %u)\n", dnskey_ds_name(k->ds), (unsigned)k->ds_ttl);
	else if (a->op == DNSROLL_DS)
		printf("ds %s\n", dnskey_ds_name(k->ds));
	else
		printf("%s\n", dnskey_state_name(k->state));
}

/* A new key for k (its tag unlike those of keys[0..n)), written with its metadata (k->id, tag filled). */
static int generate(const char *state, const char *zone, dnskey_meta_t *k, const dnskey_meta_t *keys, size_t n,
		    time_t now)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		dnskey_t *key = NULL;
		int r = dnskey_new(k->alg, k->flags, now, &key);
		if (r != MN_OK)
			return r;
		bool clash = false;
		for (size_t i = 0; i < n; i++)
			clash |= keys[i].tag == dnskey_tag(key) && keys[i].id[0] != '\0';
		if (!clash)
			r = dnskey_zone_add(state, zone, key, k);
		dnskey_free(key);
		if (!clash)
			return r;
	}
	return MN_ESTATE;
}

/* Carries out res's writes in order: new keys first, then DS and state changes, then private keys destroyed. */
static int apply(const char *state, const char *zone, dnsroll_result_t *res, time_t now)
{
	for (size_t a = 0; a < res->nacts; a++) {
		const dnsroll_action_t *ac = &res->acts[a];
		dnskey_meta_t *k = &res->keys[ac->key];
		int r = MN_OK;
		if (ac->op == DNSROLL_GENERATE)
			r = generate(state, zone, k, res->keys, res->nkeys, now);
		else if (ac->op == DNSROLL_DS || ac->op == DNSROLL_STATE)
			r = dnskey_zone_update(state, zone, k);
		if (r == MN_OK && ac->op == DNSROLL_STATE && k->state == DNSKEY_REMOVED)
			r = dnskey_zone_destroy(state, zone, k->id);
		if (r != MN_OK) {
			cmd_err("%s: cannot write DNSSEC key %u in %s/dnssec/%s (%s)", zone, (unsigned)k->tag, state, zone,
				mn_strerror(r));
			return r;
		}
	}
	return MN_OK;
}

/* The waits of a zone's last step, said once each. */
static void print_waits(const char *zone, zctx_t *z, const dnsroll_result_t *res)
{
	for (size_t a = 0; a < res->nacts; a++) {
		const dnsroll_action_t *ac = &res->acts[a];
		const dnskey_meta_t *k = &res->keys[ac->key];
		uint8_t ds[DNSKEY_DS_LEN];
		if (ac->op != DNSROLL_WAIT_DS && ac->op != DNSROLL_WAIT_DS_GONE)
			continue;
		bool have = key_ds(z, k->tag, ds);
		printf("%s: key %u (%s) %s", zone, (unsigned)k->tag, dnskey_role_name(k->role),
		       ac->op == DNSROLL_WAIT_DS ? "waiting for DS at the parent: publish " :
						   "retired, waiting for its DS to leave the parent: remove ");
		if (have)
			print_ds(zone, ds);
		if (z->why[0] != '\0')
			printf(" (%s)", z->why);
		putchar('\n');
	}
}

static bool zone_wanted(const cmd_dnsroll_t *o, const char *zone)
{
	return o->roll != NULL && (strcmp(o->roll, "all") == 0 || strcmp(o->roll, zone) == 0);
}

/* One zone's run: steps until nothing changes (dry: in memory only). */
static int zone_run(const policy_t *p, const policy_domain_t *d, const char *zone, const cmd_dnsroll_t *o,
		    resolve_t *res, bool *waiting)
{
	const char *state = p->server.state_dir.v;
	dnskey_meta_t *keys = NULL;
	size_t n = 0;
	int r = dnskey_zone_list(state, zone, &keys, &n);
	if (r != MN_OK) {
		cmd_err("%s: cannot read the DNSSEC keys in %s/dnssec/%s (%s)", zone, state, zone, mn_strerror(r));
		return r;
	}
	dnsroll_policy_t pol;
	dnsroll_policy_from(p, d, &pol);
	if (zone_wanted(o, zone)) {
		pol.roll_ksk = o->ksk || !o->zsk;
		pol.roll_zsk = (o->zsk || !o->ksk) && pol.shape == DNSSEC_KEYS_KSK_ZSK;
	}
	for (size_t i = 0; !o->dry_run && i < n; i++)	/* a removal stopped before its private key went */
		if (keys[i].state == DNSKEY_REMOVED && (r = dnskey_zone_destroy(state, zone, keys[i].id)) != MN_OK)
			cmd_err("%s: cannot destroy DNSSEC key %s (%s)", zone, keys[i].id, mn_strerror(r));
	zctx_t z = { .zone = zone, .res = res };
	r = dnskey_zone_keys(state, zone, pol.alg, pol.shape, false, o->now, &z.keys, NULL);
	for (int pass = 0; r == MN_OK && pass < PASSES_MAX; pass++) {
		dnsroll_result_t step;
		z.asked = false;
		z.why[0] = '\0';
		r = dnsroll_step(keys, n, &pol, o->now, ds_at_parent, &z, &step);
		if (z.answered)
			resolve_result_clear(&z.answer);
		z.answered = false;
		if (r != MN_OK)
			break;
		if (!o->dry_run)
			r = apply(state, zone, &step, o->now);
		for (size_t a = 0; r == MN_OK && a < step.nacts; a++)
			if (step.acts[a].op <= DNSROLL_STATE)
				print_act(o->now, zone, &step.acts[a], &step.keys[step.acts[a].key], o->dry_run);
		if (r == MN_OK && !step.changed) {
			print_waits(zone, &z, &step);
			for (size_t a = 0; a < step.nacts; a++)
				*waiting |= step.acts[a].op == DNSROLL_WAIT_DS || step.acts[a].op == DNSROLL_WAIT_DS_GONE;
		}
		bool more = r == MN_OK && step.changed;
		free(keys);
		keys = step.keys;
		n = step.nkeys;
		step.keys = NULL;
		dnsroll_result_clear(&step);
		if (!more)
			break;
		if (!o->dry_run) {	/* a new key is read back for its DS */
			dnskey_set_clear(&z.keys);
			r = dnskey_zone_keys(state, zone, pol.alg, pol.shape, false, o->now, &z.keys, NULL);
		}
		pol.roll_ksk = pol.roll_zsk = false;	/* a rollover asked for is started once */
	}
	dnskey_set_clear(&z.keys);
	free(keys);
	if (r != MN_OK && r != MN_ENOMEM)
		cmd_err("%s: DNSSEC rollover: %s", zone, mn_strerror(r));
	return r;
}

int cmd_keys_dnssec(const policy_t *p, const cmd_dnsroll_t *o, bool *waiting, int *errors)
{
	resolve_t *res = NULL;
	bool any = false, found = o->roll == NULL || strcmp(o->roll, "all") == 0;
	for (size_t i = 0; i < p->ndomains && !any; i++)
		any = p->domains[i].dnssec.enabled.v;
	if (!any && o->roll == NULL)
		return MN_OK;
	/* two runs (the DNSSEC job as the server's user, another by hand) one after the other */
	int lock = -1;
	if (any && !o->dry_run) {
		int e = keystore_lock_in(p->server.state_dir.v, "dnssec", LOCK_TIMEOUT_S, &lock);
		if (e != MN_OK) {
			cmd_err("cannot lock %s/dnssec/.lock (%s)", p->server.state_dir.v, mn_strerror(e));
			(*errors)++;
			return e;
		}
	}
	char err[160];
	if (any && resolve_new(o->resolver, err, sizeof(err), &res) != MN_OK) {
		cmd_err("the parent's DS cannot be asked: %s", err);
		res = NULL;	/* the rollovers that need it wait */
	}
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		if (!d->dnssec.enabled.v)
			continue;
		char zone[300];
		for (size_t k = 0; k < CMD_ZONES_MAX; k++) {
			if (!cmd_domain_zone(d, k, zone))
				continue;
			found |= zone_wanted(o, zone);
			if (zone_run(p, d, zone, o, res, waiting) != MN_OK)
				(*errors)++;
		}
	}
	resolve_free(res);
	keystore_unlock(lock);
	if (!found) {
		cmd_err("--dnssec-roll: no signed zone '%s'", o->roll);
		(*errors)++;
	}
	return MN_OK;
}

void cmd_keys_dnssec_list(const policy_t *p, time_t now, cmd_dnskey_row_fn row, void *arg, int *errors)
{
	const char *state = p->server.state_dir.v;
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		char zone[300];
		for (size_t k = 0; d->dnssec.enabled.v && k < CMD_ZONES_MAX; k++) {
			if (!cmd_domain_zone(d, k, zone))
				continue;
			dnskey_meta_t *keys = NULL;
			size_t n = 0;
			int r = dnskey_zone_list(state, zone, &keys, &n);
			dnsroll_policy_t pol;
			dnsroll_result_t step = { 0 };
			dnsroll_policy_from(p, d, &pol);
			if (r == MN_OK)	/* what is due when: the step at now, without asking the parent */
				r = dnsroll_step(keys, n, &pol, now, NULL, NULL, &step);
			if (r != MN_OK) {
				cmd_err("%s: cannot read the DNSSEC keys in %s/dnssec/%s (%s)", zone, state, zone,
					mn_strerror(r));
				(*errors)++;
				free(keys);
				continue;
			}
			for (size_t j = 0; j < n; j++) {
				if (keys[j].state == DNSKEY_REMOVED)
					continue;
				const char *wait = NULL;
				for (size_t a = 0; a < step.nacts; a++)
					if (step.acts[a].key == j && step.acts[a].op == DNSROLL_WAIT_DS)
						wait = "ds";
					else if (step.acts[a].key == j && step.acts[a].op == DNSROLL_WAIT_DS_GONE)
						wait = "ds-gone";
				row(zone, &keys[j], step.key_next[j], wait, arg);
			}
			dnsroll_result_clear(&step);
			free(keys);
		}
	}
}
