/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_keys.c -- mailns keys rotate|list|revoke: DKIM keys from cron (SPEC §5), DNSSEC rollovers (cmd_keys_dnssec.c) */
#include <assert.h>
#include <getopt.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keypair.h"
#include "keys/keystore.h"
#include "keys/rotate.h"
#include "keys/signer.h"
#include "policy/dkim_rec.h"
#include "policy/pool.h"
#include "tools/cmd.h"
#include "tools/progress.h"
#include "tools/resolve.h"

enum { LOCK_TIMEOUT_S = 120 };

static void usage(FILE *f)
{
	fprintf(f, "usage: mailns keys rotate [-c POLICY] [--now TIME] [--jobs N] [--quiet] [--dry-run]\n"
		   "                         [--dnssec-roll ZONE|all [--ksk|--zsk]] [--resolver ADDR[:PORT]]\n"
		   "                         [--only dkim|dnssec]\n"
		   "       mailns keys list [-c POLICY] [--now TIME] [--json]\n"
		   "       mailns keys revoke [-c POLICY] [--now TIME] DOMAIN SELECTOR\n"
		   "Manages the DKIM keys of every domain whose policy has dkim, and rolls the\n"
		   "DNSSEC keys of every signed zone; list shows both.\n"
		   "  -c, --policy FILE  the policy (default $MAILNS_POLICY, " MN_POLICY_PATH ")\n"
		   "      --now TIME     the current time (ISO 8601 UTC or @SECONDS; also MAILNS_NOW)\n"
		   "  -j, --jobs N       rotate: generate keys on N threads (default: the CPUs\n"
		   "                     this process may use)\n"
		   "  -q, --quiet        rotate: no progress line on a terminal's stderr\n"
		   "      --json         keys list: a JSON array (DKIM keys, then DNSSEC keys)\n"
		   "      --dry-run      rotate: print the plan (\"plan\" lines), change nothing\n"
		   "      --dnssec-roll ZONE|all  rotate: start a DNSSEC key rollover of ZONE\n"
		   "                     (or every signed zone) now: the KSK or CSK and the ZSK,\n"
		   "                     or with --ksk / --zsk that key only\n"
		   "      --resolver ADDR[:PORT]  rotate: where the parent's DS records are asked\n"
		   "                     (default: the first nameserver of /etc/resolv.conf)\n"
		   "      --only dkim|dnssec  rotate: the DKIM keys only (state_dir/keys, written\n"
		   "                     by the key store's owner) or the DNSSEC rollovers only\n"
		   "                     (state_dir/dnssec, the server's user); default both\n"
		   "  -h, --help         this help\n"
		   "rotate exits 0 done, 1 errors, 3 a pending key was not confirmed over DNS\n"
		   "or a DNSSEC rollover waits for a DS to appear at (or leave) the parent.\n");
}

/* A domain whose keys mailns manages: dkim present, with an algorithm or no
 * hand-managed selectors (a domain with only `selectors:` is left alone). */
static bool managed(const policy_domain_t *d)
{
	return d->dkim.present && (POLICY_SET(d->dkim.algorithm) || d->dkim.selectors.n == 0);
}

static const char *alg_name(int a)
{
	return policy_dkim_alg_name((dkim_alg_t)a);
}

/* ---- DNS confirmation ------------------------------------------------------------ */

/*
 * Each server is asked over one TCP connection kept for the whole run (never
 * rate-limited, unlike UDP from one address: server.rate_limit would drop
 * most of a burst of confirmations and each drop cost a 3 s retry).
 */
typedef struct server {
	char addr[80];		/* as resolve_new_tcp takes it */
	resolve_t *res;		/* lazily created */
} server_t;

typedef struct confirm {
	server_t *srv;
	size_t nsrv;
	const char *domain;
	const keystore_key_t *keys;
	size_t nkeys;
	char why[300];		/* the last failure */
} confirm_t;

/* A wildcard listen address is asked at loopback. */
static void server_add(server_t *v, size_t *n, size_t cap, const char *text)
{
	if (*n == cap || text == NULL)
		return;
	char a[80];
	if (strncmp(text, "0.0.0.0", 7) == 0)
		snprintf(a, sizeof(a), "127.0.0.1%s", text + 7);
	else if (strncmp(text, "[::]", 4) == 0)
		snprintf(a, sizeof(a), "[::1]%s", text + 4);
	else
		snprintf(a, sizeof(a), "%s", text);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i].addr, a) == 0)
			return;
	snprintf(v[*n].addr, sizeof(v[*n].addr), "%s", a);
	v[*n].res = NULL;
	(*n)++;
}

static char *p_value(const char *record)
{
	dkim_tags_t *t = NULL;
	if (dkim_tags_parse(record, "DKIM", NULL, NULL, &t) != MN_OK)
		return NULL;
	const char *p = dkim_tags_get(t, "p", NULL);
	char *s = NULL;
	if (p != NULL) {	/* without folding whitespace */
		s = malloc(strlen(p) + 1);
		if (s != NULL) {
			size_t l = 0;
			for (const char *c = p; *c != '\0'; c++)
				if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n')
					s[l++] = *c;
			s[l] = '\0';
		}
	}
	dkim_tags_free(t);
	return s;
}

static bool confirm_key(const char *selector, void *arg)
{
	confirm_t *c = arg;
	const char *record = NULL;
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcmp(c->keys[i].selector, selector) == 0)
			record = c->keys[i].record;
	char *want = record != NULL ? p_value(record) : NULL;
	if (want == NULL || want[0] == '\0') {
		snprintf(c->why, sizeof(c->why), "no key record in the state");
		free(want);
		return false;
	}
	char name[300];
	snprintf(name, sizeof(name), "%s._domainkey.%s", selector, c->domain);
	bool ok = c->nsrv > 0;
	if (!ok)
		snprintf(c->why, sizeof(c->why), "no server address to ask");
	for (size_t i = 0; ok && i < c->nsrv; i++) {
		server_t *s = &c->srv[i];
		if (s->res == NULL) {
			char err[160];
			if (resolve_new_tcp(s->addr, err, sizeof(err), &s->res) != MN_OK) {
				snprintf(c->why, sizeof(c->why), "%s: %s", s->addr, err);
				ok = false;
				break;
			}
		}
		resolve_result_t res;
		if (resolve_query(s->res, name, LDNS_RR_TYPE_TXT, &res) != MN_OK) {
			snprintf(c->why, sizeof(c->why), "%s: query failed", s->addr);
			ok = false;
			break;
		}
		bool match = false;
		for (size_t j = 0; res.status == RESOLVE_ANSWER && j < res.n && !match; j++) {
			char *got = p_value(res.v[j]);
			match = got != NULL && strcmp(got, want) == 0;
			free(got);
		}
		if (!match) {
			snprintf(c->why, sizeof(c->why), "%s answered %s", s->addr,
				 res.status == RESOLVE_FAIL ? res.why :
				 res.status == RESOLVE_NXDOMAIN ? "NXDOMAIN" :
				 res.status == RESOLVE_NODATA ? "no TXT" : "another key");
			ok = false;
		}
		resolve_result_clear(&res);
	}
	free(want);
	return ok;
}

/* ---- the runs -------------------------------------------------------------------- */

typedef struct dom {
	const policy_domain_t *d;
	keystore_key_t *keys;
	size_t n;
} dom_t;

typedef struct run {
	const policy_t *p;
	const char *state;
	time_t now;
	dom_t *doms;
	size_t ndoms;
	int errors;
	bool kept;
	bool tables_changed;	/* by this run, on_change not run yet */
	unsigned jobs;		/* key generation threads (0: the CPUs) */
	bool quiet;		/* no progress line */
	bool dry;		/* --dry-run: the plan printed, nothing written */
} run_t;

static void run_free(run_t *r)
{
	for (size_t i = 0; i < r->ndoms; i++)
		keystore_keys_free(r->doms[i].keys, r->doms[i].n);
	free(r->doms);
}

/* Loads the state of every managed domain. */
static int run_load(run_t *r)
{
	r->doms = calloc(r->p->ndomains ? r->p->ndomains : 1, sizeof(*r->doms));
	if (r->doms == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < r->p->ndomains; i++) {
		const policy_domain_t *d = &r->p->domains[i];
		if (!managed(d))
			continue;
		dom_t *x = &r->doms[r->ndoms];
		x->d = d;
		int e = keystore_state_load(r->state, d->name, &x->keys, &x->n);
		if (e != MN_OK) {
			cmd_err("%s: cannot read the key state (%s)", d->name, mn_strerror(e));
			r->errors++;
			continue;
		}
		r->ndoms++;
	}
	return MN_OK;
}

/*
 * Writes the signer tables for the active keys.  With hooks, runs each
 * distinct on_change once if this run changed them (now or earlier).
 */
static int run_tables(run_t *r, bool hooks)
{
	size_t n = 0;
	for (size_t i = 0; i < r->ndoms; i++)
		for (size_t k = 0; k < r->doms[i].n; k++)
			n += !r->doms[i].keys[k].removed && r->doms[i].keys[k].phase == KEY_ACTIVE;
	signer_key_t *v = malloc((n ? n : 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	n = 0;
	for (size_t i = 0; i < r->ndoms; i++) {
		for (size_t k = 0; k < r->doms[i].n; k++) {
			const keystore_key_t *key = &r->doms[i].keys[k];
			if (!key->removed && key->phase == KEY_ACTIVE)
				v[n++] = (signer_key_t){ r->doms[i].d->name, key->selector, key->alg };
		}
	}
	bool changed = false;
	int e = signer_tables_write(r->state, v, n, &changed);
	free(v);
	if (e != MN_OK) {
		cmd_err("cannot write the signer tables in %s (%s)", r->state, mn_strerror(e));
		r->errors++;
		return e;
	}
	r->tables_changed |= changed;
	if (!hooks || !r->tables_changed)
		return MN_OK;
	r->tables_changed = false;
	printf("signer tables updated\n");
	/* each distinct on_change once */
	for (size_t i = 0; i < r->ndoms; i++) {
		const char *cmd = r->doms[i].d->dkim.on_change.v;
		if (cmd == NULL || cmd[0] == '\0')
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *o = r->doms[j].d->dkim.on_change.v;
			seen = o != NULL && strcmp(o, cmd) == 0;
		}
		if (seen)
			continue;
		fflush(stdout);
		int st = system(cmd);
		if (st != 0) {
			cmd_err("on_change '%s' failed (status %d)", cmd, st);
			r->errors++;
		}
	}
	return MN_OK;
}

/* Destroys the private key of a revoked or removed key if it is still there. */
static int destroy_private(run_t *r, const char *domain, const char *selector)
{
	int e = keystore_key_remove(r->state, domain, selector);
	if (e == MN_ENOENT)
		return MN_OK;
	if (e != MN_OK) {
		char *path = keystore_key_path(r->state, domain, selector);
		cmd_err("%s: cannot remove %s (%s)", domain, path != NULL ? path : selector, mn_strerror(e));
		free(path);
		r->errors++;
	}
	return e;
}

static void print_act(const char *domain, const rotate_action_t *a, time_t now, bool plan)
{
	char t[32];
	mn_time_format(now, t, sizeof(t));
	printf("%s%s\t%s\t%s\t%s\t%s\n", plan ? "plan " : "", t, domain, a->selector, alg_name(a->alg),
	       rotate_op_name(a->op));
}

/* ---- key generation: on every CPU, ahead of the commits ---------------------------- */

/* One key pair to generate: its algorithm in, the key and its record out. */
typedef struct gen {
	dkim_alg_t alg;
	size_t dom;		/* the index in the batch of the domain it is for */
	keypair_t *key;
	char *record;
	int err;
} gen_t;

/* One domain of a batch: its step computed, its generations counted. */
typedef struct step {
	dom_t *x;
	rotate_result_t res;
	int err;		/* rotate_step's */
	char why[300];		/* the last failed confirmation */
	size_t ngen;		/* keys to generate for it */
	size_t left;		/* of those not generated yet (atomic) */
} step_t;

typedef struct batch {
	step_t *steps;
	size_t nsteps;
	gen_t *gens;
	size_t ngens, cap;	/* cap: the room in gens */
	progress_t *pr;
} batch_t;

/* Pure: no file, no output; the key and its record kept for apply(). */
static void gen_one(void *arg, size_t k)
{
	batch_t *b = arg;
	gen_t *g = &b->gens[k];
	g->err = keypair_new(g->alg, &g->key);
	if (g->err == MN_OK)
		g->err = keypair_record(g->key, &g->record);
	step_t *st = &b->steps[g->dom];
	if (__atomic_sub_fetch(&st->left, 1, __ATOMIC_ACQ_REL) == 0)
		progress_add(b->pr, 1);	/* the domain's last key */
}

static void batch_clear(batch_t *b)
{
	for (size_t i = 0; i < b->ngens; i++) {
		keypair_free(b->gens[i].key);
		free(b->gens[i].record);
	}
	for (size_t i = 0; i < b->nsteps; i++)
		rotate_result_clear(&b->steps[i].res);
	b->ngens = 0;
	b->nsteps = 0;
}

/*
 * Carries out a step's result for one domain: private keys first (written,
 * fsynced; generated beforehand into gens, in the order of the GENERATE
 * actions), then the state (one atomic replace), then the private halves of
 * revoked keys are destroyed.  gens NULL: generated here, one after another.
 */
static int apply(run_t *r, dom_t *x, rotate_result_t *res, gen_t *gens)
{
	const char *dn = x->d->name;
	size_t g = 0;
	for (size_t a = 0; a < res->nacts; a++) {
		const rotate_action_t *ac = &res->acts[a];
		if (ac->op != ROT_GENERATE)
			continue;
		keystore_key_t *k = NULL;
		for (size_t i = 0; i < res->nkeys; i++)
			if (strcmp(res->keys[i].selector, ac->selector) == 0)
				k = &res->keys[i];
		gen_t here = { .alg = ac->alg };
		gen_t *gk = gens != NULL ? &gens[g++] : &here;
		assert(gk->alg == ac->alg);
		if (gens == NULL) {
			here.err = keypair_new(ac->alg, &here.key);
			if (here.err == MN_OK)
				here.err = keypair_record(here.key, &here.record);
		}
		char *path = keystore_key_path(r->state, dn, ac->selector);
		int e = path == NULL ? MN_ENOMEM : gk->err;
		if (e == MN_OK)	/* keys/DOMAIN 0750 (never a link), the .pem 0600 */
			e = keystore_key_write(r->state, dn, ac->selector, gk->key);
		if (e == MN_OK && k != NULL) {
			k->record = gk->record;
			gk->record = NULL;
		}
		keypair_free(here.key);
		free(here.record);
		if (e != MN_OK) {
			cmd_err("%s: cannot generate %s key %s (%s)", dn, alg_name(ac->alg), path ? path : "",
				mn_strerror(e));
			free(path);
			r->errors++;
			return e;
		}
		free(path);
	}
	int e = keystore_state_save(r->state, dn, res->keys, res->nkeys);
	if (e != MN_OK) {
		cmd_err("%s: cannot write the key state (%s)", dn, mn_strerror(e));
		r->errors++;
		return e;
	}
	for (size_t a = 0; a < res->nacts; a++)
		if (res->acts[a].op == ROT_REVOKE)
			destroy_private(r, dn, res->acts[a].selector);
	for (size_t a = 0; a < res->nacts; a++)
		if (res->acts[a].op != ROT_WAIT_DNS)
			print_act(dn, &res->acts[a], r->now, false);
	keystore_keys_free(x->keys, x->n);
	x->keys = res->keys;
	x->n = res->nkeys;
	res->keys = NULL;
	res->nkeys = 0;
	return MN_OK;
}

/*
 * The steps of up to BATCH_DOMS domains in order (their DNS confirmations
 * asked one after another), then the keys they need generated on all jobs
 * threads, then each domain committed in order exactly as one domain at a
 * time would: the same disk writes in the same order (crash.sh), only the
 * key generation earlier.  Batches bound the memory and keep the work of an
 * interrupted run: at most one batch of keys is generated and not written.
 */
enum { BATCH_DOMS = 1024, BATCH_KEYS_PER_JOB = 16 };

/* Step of one domain into the batch (phase one: no disk write, no output). */
static void batch_step(run_t *r, batch_t *b, dom_t *x, server_t *srv, size_t nsrv)
{
	step_t *st = &b->steps[b->nsteps];
	memset(st, 0, sizeof(*st));
	st->x = x;
	rotate_policy_t pol;
	rotate_policy_from(&x->d->dkim, &pol);
	confirm_t c = { .srv = srv, .nsrv = nsrv, .domain = x->d->name, .keys = x->keys, .nkeys = x->n };
	st->err = rotate_step(x->keys, x->n, &pol, x->d->name, r->now, confirm_key, &c, &st->res);
	snprintf(st->why, sizeof(st->why), "%s", c.why);
	for (size_t a = 0; st->err == MN_OK && st->res.changed && !r->dry && a < st->res.nacts; a++) {
		if (st->res.acts[a].op != ROT_GENERATE)
			continue;
		assert(b->ngens < b->cap);	/* one GENERATE per algorithm at most */
		b->gens[b->ngens++] = (gen_t){ .alg = st->res.acts[a].alg, .dom = b->nsteps };
		st->ngen++;
	}
	st->left = st->ngen;
	b->nsteps++;
	if (st->ngen == 0)
		progress_add(b->pr, 1);
}

/* Commits one domain of the batch (phase three), gens its generated keys. */
static void batch_commit(run_t *r, step_t *st, gen_t *gens)
{
	dom_t *x = st->x;
	for (size_t k = 0; !r->dry && k < x->n; k++)
		if (x->keys[k].removed || x->keys[k].phase == KEY_REVOKED)
			destroy_private(r, x->d->name, x->keys[k].selector);
	if (st->err != MN_OK) {
		cmd_err("%s: %s", x->d->name, mn_strerror(st->err));
		r->errors++;
		return;
	}
	for (size_t a = 0; a < st->res.nacts; a++) {
		if (st->res.acts[a].op == ROT_WAIT_DNS) {
			printf("%s: %s stays pending: not confirmed over DNS (%s)\n", x->d->name,
			       st->res.acts[a].selector, st->why);
			r->kept = true;
		}
	}
	if (st->res.changed && r->dry) {
		for (size_t a = 0; a < st->res.nacts; a++)
			if (st->res.acts[a].op != ROT_WAIT_DNS)
				print_act(x->d->name, &st->res.acts[a], r->now, true);
	} else if (st->res.changed) {
		apply(r, x, &st->res, gens);
	}
}

static int do_rotate(run_t *r)
{
	server_t srv[64];
	size_t nsrv = 0;
	const policy_server_t *s = &r->p->server;
	for (size_t i = 0; i < s->listen.n; i++)
		server_add(srv, &nsrv, 64, s->listen.v[i].text);
	for (size_t i = 0; i < s->transfer.notify.n; i++)
		server_add(srv, &nsrv, 64, s->transfer.notify.v[i].v);

	unsigned jobs = r->jobs != 0 ? r->jobs : mn_cpus();
	size_t max_gens = (size_t)jobs * BATCH_KEYS_PER_JOB;
	batch_t b = { .steps = calloc(BATCH_DOMS, sizeof(*b.steps)),
		      .gens = calloc(max_gens + DKIM_ALG_COUNT, sizeof(*b.gens)),
		      .cap = max_gens + DKIM_ALG_COUNT };
	if (b.steps == NULL || b.gens == NULL) {
		free(b.steps);
		free(b.gens);
		cmd_err("%s", mn_strerror(MN_ENOMEM));
		r->errors++;
		return MN_ENOMEM;
	}
	/* a crash may have left the tables behind the state: catch up before any revocation */
	if (!r->dry)
		run_tables(r, false);
	b.pr = progress_new("keys", r->ndoms, r->quiet);
	for (size_t i = 0; i < r->ndoms;) {
		while (i < r->ndoms && b.nsteps < BATCH_DOMS && b.ngens < max_gens)
			batch_step(r, &b, &r->doms[i++], srv, nsrv);
		mn_pool_run(b.ngens, jobs, gen_one, &b);
		progress_hide(b.pr);	/* no update until the next batch: the commits print */
		for (size_t k = 0, g = 0; k < b.nsteps; g += b.steps[k].ngen, k++)
			batch_commit(r, &b.steps[k], &b.gens[g]);
		fflush(stdout);
		batch_clear(&b);
	}
	progress_end(b.pr);
	free(b.steps);
	free(b.gens);
	for (size_t i = 0; i < nsrv; i++)
		resolve_free(srv[i].res);
	if (!r->dry)
		run_tables(r, true);
	return MN_OK;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

typedef struct list_out {
	bool json, first;
} list_out_t;

/* A DNSSEC key of keys list: ZONE TAG ALGORITHM STATE CREATED NEXT ROLE DS (as the DKIM keys' columns, then two). */
static void list_dnskey(const char *zone, const dnskey_meta_t *k, time_t next, const char *wait, void *arg)
{
	list_out_t *o = arg;
	const char *alg = cmd_dnssec_alg_name(k->alg);
	char c[32], nx[32] = "-";
	mn_time_format(k->created, c, sizeof(c));
	if (next != 0)
		mn_time_format(next, nx, sizeof(nx));
	else if (wait != NULL)
		snprintf(nx, sizeof(nx), "wait-%s", wait);
	if (!o->json) {
		printf("%s\t%u\t%s\t%s\t%s\t%s\t%s\t%s\n", zone, (unsigned)k->tag, alg, dnskey_state_name(k->state), c,
		       nx, dnskey_role_name(k->role), dnskey_ds_name(k->ds));
		return;
	}
	printf("%s\n  {\"zone\": ", o->first ? "" : ",");
	json_str(zone);
	printf(", \"key_tag\": %u, \"algorithm\": \"%s\", \"state\": \"%s\", \"created\": \"%s\", \"next_change\": ",
	       (unsigned)k->tag, alg, dnskey_state_name(k->state), c);
	if (next != 0)
		printf("\"%s\"", nx);
	else
		printf("null");
	printf(", \"waits_for\": ");
	if (wait != NULL)
		printf("\"%s\"", wait);
	else
		printf("null");
	printf(", \"role\": \"%s\", \"ds\": \"%s\"}", dnskey_role_name(k->role), dnskey_ds_name(k->ds));
	o->first = false;
}

static int do_list(run_t *r, bool json)
{
	bool first = true;
	if (json)
		printf("[");
	for (size_t i = 0; i < r->ndoms; i++) {
		const dom_t *x = &r->doms[i];
		rotate_policy_t pol;
		rotate_policy_from(&x->d->dkim, &pol);
		for (size_t k = 0; k < x->n; k++) {
			const keystore_key_t *key = &x->keys[k];
			if (key->removed)
				continue;
			char c[32], nx[32] = "-";
			mn_time_format(key->created, c, sizeof(c));
			time_t t = rotate_key_next(key, x->keys, x->n, &pol, x->d->name);
			if (t != 0)
				mn_time_format(t, nx, sizeof(nx));
			if (!json) {
				printf("%s\t%s\t%s\t%s\t%s\t%s\n", x->d->name, key->selector, alg_name(key->alg),
				       keystore_phase_name(key->phase), c, nx);
				continue;
			}
			printf("%s\n  {\"domain\": ", first ? "" : ",");
			json_str(x->d->name);
			printf(", \"selector\": ");
			json_str(key->selector);
			printf(", \"algorithm\": \"%s\", \"phase\": \"%s\", \"created\": \"%s\", \"next_change\": ",
			       alg_name(key->alg), keystore_phase_name(key->phase), c);
			if (t != 0)
				printf("\"%s\"}", nx);
			else
				printf("null}");
			first = false;
		}
	}
	list_out_t o = { .json = json, .first = first };
	cmd_keys_dnssec_list(r->p, r->now, list_dnskey, &o, &r->errors);
	if (json)
		printf("%s]\n", o.first ? "" : "\n");
	return MN_OK;
}

/*
 * A compromised key: out of the signer tables first (as retired), then served
 * as p= with its private half destroyed, then a replacement started.
 */
static int do_revoke(run_t *r, const char *domain, const char *selector)
{
	char dn[256];
	if (mn_name_norm(domain, dn, sizeof(dn)) != MN_OK) {
		cmd_err("bad domain name '%s'", domain);
		return CMD_USAGE;
	}
	dom_t *x = NULL;
	for (size_t i = 0; i < r->ndoms; i++)
		if (strcmp(r->doms[i].d->name, dn) == 0)
			x = &r->doms[i];
	keystore_key_t *k = NULL;
	for (size_t i = 0; x != NULL && i < x->n; i++)
		if (strcmp(x->keys[i].selector, selector) == 0 && !x->keys[i].removed)
			k = &x->keys[i];
	if (k == NULL) {
		cmd_err("%s: no managed key with selector '%s'", dn, selector);
		return CMD_ERRORS;
	}
	bool again = k->phase == KEY_REVOKED;	/* a revocation stopped half-way: finish it */
	if (again)
		printf("%s: %s is already revoked\n", dn, selector);
	if (k->phase == KEY_ACTIVE) {
		k->phase = KEY_RETIRED;
		k->changed = r->now;
		if (keystore_state_save(r->state, dn, x->keys, x->n) != MN_OK ||
		    run_tables(r, false) != MN_OK)
			return CMD_ERRORS;
	}
	if (!again) {
		char *rec = mn_strdup("v=DKIM1; p=");
		if (rec == NULL)
			return CMD_ERRORS;
		free(k->record);
		k->record = rec;
		k->phase = KEY_REVOKED;
		k->changed = r->now;
	}
	/* the replacement: a step now generates it when its algorithm has no key left */
	rotate_policy_t pol;
	rotate_policy_from(&x->d->dkim, &pol);
	rotate_result_t res;
	if (rotate_step(x->keys, x->n, &pol, dn, r->now, NULL, NULL, &res) != MN_OK)
		return CMD_ERRORS;
	/* the revocation itself is not in res.acts: add it for apply() */
	rotate_action_t *na = realloc(res.acts, (res.nacts + 1) * sizeof(*na));
	if (na == NULL) {
		rotate_result_clear(&res);
		return CMD_ERRORS;
	}
	res.acts = na;
	res.acts[res.nacts++] = (rotate_action_t){ .op = ROT_REVOKE, .alg = (dkim_alg_t)k->alg };
	snprintf(res.acts[res.nacts - 1].selector, KEYSTORE_SELECTOR_MAX, "%s", selector);
	if (again)
		res.nacts--;	/* already on disk; its private key is destroyed below */
	if (!again || res.changed)
		apply(r, x, &res, NULL);
	rotate_result_clear(&res);
	destroy_private(r, dn, selector);
	run_tables(r, true);
	return r->errors ? CMD_ERRORS : CMD_OK;
}

int cmd_keys(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CMD_USAGE;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		usage(stdout);
		return CMD_OK;
	}
	if (strcmp(sub, "rotate") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0) {
		cmd_err("keys: unknown subcommand '%s'", sub);
		usage(stderr);
		return CMD_USAGE;
	}
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "now", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'J' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "dnssec-roll", required_argument, NULL, 'D' },
		{ "ksk", no_argument, NULL, 'K' },
		{ "zsk", no_argument, NULL, 'Z' },
		{ "resolver", required_argument, NULL, 'R' },
		{ "only", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *popt = NULL, *nowopt = NULL;
	bool json = false, quiet = false, rotate_only = false, dkim = true, dnssec = true;
	cmd_dnsroll_t dns = { .roll = NULL };
	unsigned jobs = 0;
	int c;
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': popt = optarg; break;
		case 'N': nowopt = optarg; break;
		case 'J': json = true; break;
		case 'j':
			if (progress_jobs_parse(optarg, MN_POOL_MAX, &jobs) != MN_OK) {
				cmd_err("bad --jobs '%s' (1 to %d)", optarg, MN_POOL_MAX);
				return CMD_USAGE;
			}
			rotate_only = true;
			break;
		case 'q': quiet = rotate_only = true; break;
		case 'n': dns.dry_run = rotate_only = true; break;
		case 'D': dns.roll = optarg; rotate_only = true; break;
		case 'K': dns.ksk = rotate_only = true; break;
		case 'Z': dns.zsk = rotate_only = true; break;
		case 'R': dns.resolver = optarg; rotate_only = true; break;
		case 'O':
			if (strcmp(optarg, "dkim") != 0 && strcmp(optarg, "dnssec") != 0) {
				cmd_err("bad --only '%s' (dkim or dnssec)", optarg);
				return CMD_USAGE;
			}
			dkim = strcmp(optarg, "dkim") == 0;
			dnssec = !dkim;
			rotate_only = true;
			break;
		case 'h': usage(stdout); return CMD_OK;
		default: usage(stderr); return CMD_USAGE;
		}
	}
	bool revoke = strcmp(sub, "revoke") == 0;
	if ((revoke && argc - optind != 2) || (!revoke && argc != optind) ||
	    (json && strcmp(sub, "list") != 0) || (rotate_only && strcmp(sub, "rotate") != 0) ||
	    ((dns.ksk || dns.zsk) && dns.roll == NULL) || (dns.ksk && dns.zsk) ||
	    (!dnssec && dns.roll != NULL)) {
		usage(stderr);
		return CMD_USAGE;
	}
	time_t now = mn_now();
	if (nowopt != NULL && mn_time_parse(nowopt, &now) != MN_OK) {
		cmd_err("bad --now '%s' (ISO 8601 UTC or @SECONDS)", nowopt);
		return CMD_USAGE;
	}
	policy_t *p = cmd_policy_load(popt, false);
	if (p == NULL)
		return CMD_ERRORS;
	run_t r = { .p = p, .state = p->server.state_dir.v, .now = now, .jobs = jobs, .quiet = quiet,
		    .dry = dns.dry_run };
	dns.now = now;
	if (dns.roll != NULL && strcmp(dns.roll, "all") != 0) {	/* a zone name as the keys store it */
		static char norm[256];
		if (mn_name_norm(dns.roll, norm, sizeof(norm)) != MN_OK) {
			cmd_err("bad zone name '%s'", dns.roll);
			policy_free(p);
			return CMD_USAGE;
		}
		dns.roll = norm;
	}
	int rc = CMD_ERRORS, lock = -1;
	if (r.state == NULL) {
		cmd_err("the policy has no server.state_dir");
		goto out;
	}
	if (strcmp(sub, "list") != 0 && dkim) {	/* --only dnssec: keys/ is not this user's */
		int e = keystore_lock(r.state, LOCK_TIMEOUT_S, &lock);
		if (e != MN_OK) {
			cmd_err("cannot lock %s/keys/.lock (%s)", r.state, mn_strerror(e));
			goto out;
		}
	}
	if (dkim && run_load(&r) != MN_OK)
		goto out;
	if (strcmp(sub, "list") == 0) {
		do_list(&r, json);
		rc = r.errors ? CMD_ERRORS : CMD_OK;
	} else if (revoke) {
		rc = do_revoke(&r, argv[optind], argv[optind + 1]);
	} else {
		bool waiting = false;
		if (dkim)
			do_rotate(&r);
		if (dnssec)
			cmd_keys_dnssec(p, &dns, &waiting, &r.errors);
		rc = r.errors ? CMD_ERRORS : r.kept || waiting ? CMD_KEPT : CMD_OK;
	}
out:
	fflush(stdout);
	keystore_unlock(lock);
	run_free(&r);
	policy_free(p);
	return rc;
}
