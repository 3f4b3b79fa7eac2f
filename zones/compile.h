/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile.h -- policy + key store + SPF cache -> zones, validated, with serials */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "zones/zone.h"

typedef struct compile_opts {
	time_t now;			/* for serials; normally mn_now() */
	bool persist_serials;		/* write changed serials to state_dir (server, `mailns zone`) */
	const char *only_domain;	/* compile just this domain (NULL: all) */
	unsigned threads;		/* domains compiled on this many threads (0: one per
					 * core for large policies); the result, diagnostics
					 * included, is the same for any number */
} compile_opts_t;

/*
 * Compiles every domain of the policy into its three zones.  Record problems
 * go into diag at the policy position they came from; with errors nothing is
 * returned (MN_EPOLICY).  Serials come from state_dir/serials: unchanged
 * content keeps its serial, changed content gets a larger one, never smaller.
 */
int zones_compile(const policy_t *p, const compile_opts_t *opts, diag_t *diag, zones_t **out);
