/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile.h -- policy + key store + SPF cache -> zones, validated, with serials */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "policy/diag.h"
#include "policy/policy.h"
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
} compile_stats_t;

typedef struct compile_opts {
	time_t now;			/* for serials; normally mn_now() */
	bool persist_serials;		/* write changed serials to state_dir (server, `mailns zone`) */
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
