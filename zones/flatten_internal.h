/* SPDX-License-Identifier: GPL-3.0-or-later */
/* flatten_internal.h -- what flatten.c (the evaluator) and proof.c (the proof) share */
#pragma once

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy/map.h"
#include "zones/flatten.h"
#include "zones/ipmap.h"

/* Internal to libzones. */

enum { FLAT_MAX_DEPTH = 20, FLAT_LOOKUP_LIMIT = 10, FLAT_VOID_LIMIT = 2, FLAT_MX_LIMIT = 10, FLAT_MAX_KEPT = 64 };

/* Per-address results.  CONT: no term matched yet. UNK: depends on a term that cannot be flattened. */
enum { R_CONT = 0, R_PASS, R_FAIL, R_SOFT, R_NEUTRAL, R_NONE, R_PERM, R_TEMP, R_UNK };

/* "pass", "permerror"...: the name of a result R_*. */
extern const char *const flat_res_names[];

/* The value of an address in an evaluation map (an ipmap_t of val_t): every byte a named field. */
typedef struct val {
	uint8_t res;
	uint8_t lookups;	/* DNS lookups on the way to this result (saturating) */
	uint8_t voids;
	uint8_t pad;
	uint16_t term;		/* top level: the index of the term that decided */
	uint16_t pad2;
	uint64_t ubits;		/* kept terms passed on the way (their match would give pass) */
} val_t;
static_assert(sizeof(val_t) == 16, "val_t has no unnamed padding (ipmap compares values with memcmp)");

/* Value i of an evaluation map. */
static inline const val_t *flat_val(const ipmap_t *m, size_t i)
{
	return (const val_t *)ipmap_val(m, i);
}

struct flat_ctx {
	flat_lookup_fn fn;
	void *arg;
	mn_map_t memo;			/* lowercased record name -> memo_t */
	/* per evaluation */
	const flat_rec_t *over;		/* published records, over the view */
	size_t nover;
	const mn_net_t *macro_nets;	/* FLAT_PUB_MACRO: what exists:%{ir}.%{v}.<root> matches */
	size_t nmacro;
	char macro_spec[300];
	bool limits;			/* apply the lookup and void limits */
	uint32_t ttl;
	bool failed;
	char note[160];			/* why the first permerror/temperror/unknown came up */
	char *kept[FLAT_MAX_KEPT];	/* terms kept as written: bit i of ubits */
	size_t nkept;
	const char *stack[FLAT_MAX_DEPTH + 1];
	size_t depth;
	bool tainted;			/* a loop or an overlay record was seen: do not memoize */
};

/* Forgets the kept terms of the last evaluation. */
void flat_kept_reset(flat_ctx_t *c);
/* Starts an evaluation: limits on or off, ttl, failure, note and taint cleared. */
void flat_eval_begin(flat_ctx_t *c, bool limits);
/*
 * Evaluates text as the top record at owner for both families (m[0] IPv4,
 * m[1] IPv6), counters starting at start.  MN_EPOLICY (why filled) when the
 * text does not parse.
 */
int flat_eval_top(flat_ctx_t *c, const char *text, const char *owner, val_t start, ipmap_t m[2], char *why,
		  size_t whysize);
/* Evaluates the original of in at _spf.D without limits (flat_eval_begin included). */
int flat_eval_original(flat_ctx_t *c, const flat_input_t *in, ipmap_t m[2], char *why, size_t whysize);
/* The original's term that decided v (its all term after the last). */
const char *flat_term_text(const flat_input_t *in, const val_t *v);
