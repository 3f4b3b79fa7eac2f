/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile.h -- policy + key store + SPF cache -> zones, validated, with serials */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "zones/chain.h"
#include "zones/zone.h"

/*
 * A compile cache keeps, between compiles, every domain's finished zones and
 * diagnostics under a digest of everything they came from (zones/incr.h).
 * A compile given one reuses each domain whose inputs are unchanged instead
 * of compiling it again -- the zones, serials and diagnostics are the same
 * as a compile without it -- and, when it succeeds, replaces the cache's
 * content by this compile's; when it fails the cache is left as it was (the
 * caller keeps the last good set, the next compile compares against it).
 * One compile at a time per cache.  Freed by compile_cache_free (NULL: no-op).
 */
typedef struct compile_cache compile_cache_t;
int compile_cache_new(compile_cache_t **out);
void compile_cache_free(compile_cache_t *c);
size_t compile_cache_size(const compile_cache_t *c);	/* domains held */

typedef struct compile_stats {
	size_t reused;			/* domains taken from the cache */
	size_t compiled;		/* domains compiled */
	size_t digested;		/* domains whose policy part was digested (the others': by
					 * their file's identity, incr_part_t) */
	size_t signed_zones;		/* DNSSEC: zones signed (stored signatures reused or made) */
	size_t signed_reused;		/* DNSSEC: signed zones taken from the cache as they were */
	size_t stored;			/* DNSSEC: domains taken whole from the signed-zone store
					 * (state_dir/dnssec/.signed-zones), not compiled */
	time_t resign_at;		/* DNSSEC: when the first signature needs refresh (0: none) */
} compile_stats_t;

typedef struct compile_opts {
	time_t now;			/* for serials; normally mn_now() */
	bool persist_serials;		/* write changed serials to state_dir and the MTA-STS policy files
				   (zones/mtasts.h) first (server, `mailns zone`) */
	const char *only_domain;	/* compile just this domain (NULL: all) */
	unsigned threads;		/* domains compiled on this many threads (0: one per
					 * core for large policies); the result, diagnostics
					 * included, is the same for any number */
	compile_cache_t *cache;		/* NULL: compile everything; ignored with only_domain */
	compile_stats_t *stats;		/* NULL or filled on success */
} compile_opts_t;

/*
 * Compiles every domain of the policy into its three zones.  Record problems
 * go into diag at the policy position they came from; with errors nothing is
 * returned (MN_EPOLICY).  Serials come from state_dir/serials: unchanged
 * content keeps its serial, changed content gets a larger one, never smaller.
 */
int zones_compile(const policy_t *p, const compile_opts_t *opts, diag_t *diag, zones_t **out);

/* DNS lookups an SPF evaluation may need (RFC 7208 §4.6.4). */
#define SPF_LOOKUP_LIMIT 10

typedef enum {
	SPF_PLAN_FLATTEN = 1,	/* publish chain */
	SPF_PLAN_MACRO,		/* publish the macro record (auto mode when flattening does not fit) */
	SPF_PLAN_LOOKUPS,	/* flatten mode: needs lookups (> SPF_LOOKUP_LIMIT) */
	SPF_PLAN_SPLIT,		/* flatten mode: cannot be split into records of 512 bytes */
} spf_plan_kind_t;

typedef struct spf_plan {
	spf_plan_kind_t kind;
	chain_t chain;		/* FLATTEN: the records (free with chain_free) */
	unsigned lookups;	/* LOOKUPS: how many */
} spf_plan_t;

/*
 * What is published for the SPF terms (networks first, then the kept terms)
 * of a domain in mode flatten, auto or macro at root ("_spf.D"): the one
 * decision both the compile and `mailns flatten` make, so that the record the
 * CLI proves is the record the server publishes.  MN_OK with *out, or MN_ENOMEM.
 */
int spf_plan(const char *root, spf_mode_t mode, char *const *terms, size_t nterms, const char *all_term,
	     spf_plan_t *out);
