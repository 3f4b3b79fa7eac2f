/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile_internal.h -- what compile.c, compile_cache.c, compile_reports.c and spfbuild.c share: the compile's context and helpers */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "keys/keystore.h"
#include "policy/diag.h"
#include "policy/map.h"
#include "policy/policy.h"
#include "zones/incr.h"
#include "zones/validate.h"
#include "zones/zone.h"

/* Internal to libzones. */

/* "A reports to T": hosted domain `source` has a mailto: rua/ruf at domain `target`. */
typedef struct report {
	char *target;
	const char *source;
	mn_pos_t pos;		/* of the URI */
} report_t;

/*
 * The names in a directory of state_dir (keys/, spf/), listed once: a domain
 * without an entry there has no file to read, which spares 100,000 domains
 * two failing open() calls each.  unknown: the directory could not be listed
 * (not because it is missing), so every domain's file is tried as before.
 */
typedef struct dirset {
	bool unknown;
	mn_map_t names;		/* name -> itself (malloc'd) */
} dirset_t;

/* The SOA and NS RDATA, the same in every zone: made once per compile. */
typedef struct apex_rd {
	int err;			/* a name did not convert: every zone fails with it */
	uint8_t soa[256 + 256 + 20];
	uint16_t soa_len;
	uint8_t (*ns)[256];
	uint16_t *ns_len;
	size_t nns;
} apex_rd_t;

/*
 * What the compile cache already read for the domain being compiled (its key
 * store, so that it is read once), and what it learns: until when the output
 * holds (the previous SPF generation's parts leave it at their expiry).
 */
typedef struct dom_in {
	bool keys_given;
	int keys_r;		/* keystore_published()'s result */
	keystore_pub_t *keys;
	size_t nkeys;
	time_t until;
} dom_in_t;

#define TIME_END ((time_t)INT64_MAX)

typedef struct ctx {
	const policy_t *p;
	dom_in_t *dom;		/* NULL without a compile cache */
	const dirset_t *keys, *spf;	/* state_dir/keys, state_dir/spf */
	const struct mtasts_wdset *wdset;	/* domains that may have MTA-STS files (mtasts.h) */
	const apex_rd_t *rd;
	diag_t *diag;
	uint32_t ttl;
	report_t *reports;	/* sorted by target, then source */
	size_t nreports;
	validate_t *val;	/* the publishing rules */
	time_t now;
	bool persist;		/* compile_opts_t.persist_serials (DNSSEC keys and signatures too) */
} ctx_t;

/* "has a 64-byte label (limit 63)" into why when name is not a valid owner name. */
bool compile_name_valid(const char *name, char *why, size_t size);
/* May state_dir's listing s hold name (false: surely not)? */
bool compile_dirset_maybe(const dirset_t *s, const char *name);
/* Adds TXT text at owner; a text too long for one RDATA is a diag error at pos. */
int compile_add_txt(const ctx_t *c, zone_t *z, const char *owner, const char *text, const mn_pos_t *pos);

/* The SPF records of d (when it has spf:) into its _spf zone z, by its mode. */
int spf_build(const ctx_t *c, const policy_domain_t *d, zone_t *z);

/* Binary search of the (sorted) policy domains: NULL when name is not one. */
const policy_domain_t *compile_domain_find(const policy_t *p, const char *name);
/* The zones of d appended to zs (room for ZONE_KINDS more), not yet finished. */
int compile_domain(const ctx_t *c, const policy_domain_t *d, zones_t *zs);
struct mtasts_wd;
/* d's withdrawn MTA-STS policy (RFC 8461 §8.3) into *w (w->active: published); compile.c. */
int compile_mta_sts_withdrawal(const ctx_t *c, const policy_domain_t *d, struct mtasts_wd *w);

/* ---- compile_reports.c ---- */

struct cache_run;
/*
 * c->reports: every hosted domain's mailto: rua/ruf at another hosted domain,
 * sorted.  With cr (a compile cache run): a domain whose policy part is the
 * one its entry was made from (cr->part_same) and which reported to no other
 * hosted domain then (its entry's reports_none) is not looked at; cr->reports_from
 * records which domains report.  When every domain is read (no cr, or a
 * first compile) and there are many, two halves are read on two threads
 * (threads > 1); the list is the same.
 */
int compile_reports_collect(ctx_t *c, struct cache_run *cr, unsigned threads);
void compile_reports_free(ctx_t *c);
/* The first of c->reports (sorted by target) whose reports go to domain name. */
size_t compile_reports_first(const ctx_t *c, const char *name);

/* ---- compile_cache.c: the incremental compile ---- */

struct cache_run;

/* One part's view of the cache: the entries to reuse, this compile's entry of each domain. */
typedef struct cache_part {
	const compile_cache_t *prev;	/* NULL: nothing reused */
	incr_entry_t **fresh;		/* by domain index */
	bool *known;			/* beside the part's zones: true for a reused one (NULL: not kept) */
	uint8_t *kind;			/* beside the part's zones: each one's zone_kind_t (NULL: not kept) */
	const struct cache_run *run;	/* the compile's (olds, context digest) */
	incr_hash_t h;			/* the part's digest buffers */
	const char *src_file;		/* the file of the last source digest made (pos.file) */
	bool src_known;
	uint8_t src[32];		/* its source digest (incr_part_t) */
	size_t reused, compiled, digested;
	size_t stored;			/* signed domains taken from the signed-zone store, not compiled */
	size_t signed_zones, signed_reused;	/* zones signed; signed zones reused */
	time_t resign_at;		/* the earliest signature refresh of the part's zones (0: none) */
} cache_part_t;

/* Domain i through the cache: its entry's zones, or compiled (and finished) into a new entry; zones into zs. */
int compile_cached(const ctx_t *c, cache_part_t *cp, size_t i, zones_t *zs);
/* Each domain's recorded messages into c's diag, in domain order, each
 * position's message once (what compiling them in one pass reports). */
void compile_cache_replay(ctx_t *c, const struct cache_run *cr, size_t n);

/* One incremental compile from start to end: zero-initialize. */
typedef struct cache_run {
	const compile_cache_t *prev;	/* the cache when its server digest matches */
	compile_cache_t *cache;		/* the same, to invalidate its parts on failure */
	incr_entry_t **fresh;		/* this compile's entries, by domain index (a reused one: olds[i], not held again) */
	incr_entry_t **olds;		/* prev's entry of each domain (NULL: none), by domain index */
	bool names_same;		/* prev's domain names are this policy's */
	bool *part_same;		/* by domain index: its part is its old entry's (NULL: none is) */
	bool *reports_from;		/* by domain index: it reports to another hosted domain */
	const bool *prev_from;		/* with quick: reports_from of the compile prev's entries came from (NULL: unknown) */
	bool parts_ok;			/* prev's parts usable: names_same, and valid */
	/*
	 * By domain index (NULL: none): not in the policy's changed list, which
	 * holds against prev (its part is its old entry's, not looked at), and
	 * nothing outside the policy names it (compile_cache_outside()).
	 */
	bool *quick;
	uint8_t context[32];		/* incr_hash_context() */
	zone_t **before;		/* zs->v before the serials */
	uint8_t global[32];		/* digest of the server settings */
	uint64_t serial_token;		/* serial_assign_known()'s, for the cache at the end (0: none) */
	zone_epoch_t *next;		/* held: the epoch the output will borrow its zones under */
	bool *diags;			/* by domain index: its entry has messages (compile_cache_replay) */
	bool *mta_sts;			/* by domain index: its entry has an MTA-STS zone (mtasts_write's may) */
} cache_run_t;

/* Digests the server settings, decides whether anything is reused, makes fresh for nd domains. */
int compile_cache_begin(const policy_t *p, compile_cache_t *cache, size_t nd, cache_run_t *cr);
/*
 * After the report list (c->reports) is made: a domain that a key store, an
 * SPF cache file, an MTA-STS file or a hosted domain's reports name is not
 * quick (each set walked once: it names few domains); every domain is not,
 * when one of the state_dir listings failed.
 */
int compile_cache_outside(const ctx_t *c, cache_run_t *cr);
/*
 * After the domains went through the cache: are the zones' apexes those of
 * prev (the set of the last compile that passed validate_zones)?
 */
bool compile_cache_names_known(const cache_run_t *cr, size_t nd);
/* Notes the zones before the serials are set. */
int compile_cache_mark(cache_run_t *cr, const zones_t *zs);
/* After the serials: the entries follow the zones, and the cache takes them (cr emptied). */
int compile_cache_end(const policy_t *p, compile_cache_t *cache, cache_run_t *cr, zones_t *zs, size_t nd);
/* On failure: the entries made go (the cache stays as it was). */
void compile_cache_abort(const policy_t *p, cache_run_t *cr);
