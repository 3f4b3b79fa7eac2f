/* SPDX-License-Identifier: GPL-3.0-or-later */
/* flatten.h -- RFC 7208 evaluation over interval sets of the whole address space: flattening and its proof */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/mn.h"

/*
 * No DNS here: the evaluator asks a "view" (a callback) for the records it
 * needs.  `mailns flatten` answers from a resolver (each name once per run);
 * the unit tests answer from a table.
 */
enum { FLAT_T_A = 1, FLAT_T_MX = 15, FLAT_T_TXT = 16, FLAT_T_AAAA = 28 };

typedef enum {
	FLAT_ANSWER = 0,	/* records of the type */
	FLAT_NODATA,
	FLAT_NXDOMAIN,
	FLAT_FAIL,		/* timeout, SERVFAIL...: the evaluation is not trustworthy */
} flat_status_t;

typedef struct flat_rrset {
	flat_status_t status;
	char **v;		/* TXT: strings joined; A/AAAA: address text; MX: exchange name */
	size_t n;
	uint32_t ttl;		/* smallest TTL of the answer (0: unknown) */
} flat_rrset_t;

/* Answers (name, type); *out stays owned by the view and valid for the ctx's life. */
typedef int (*flat_lookup_fn)(void *arg, const char *name, uint16_t type, const flat_rrset_t **out);

typedef struct flat_ctx flat_ctx_t;

/*
 * A context memoizes the evaluation of every record name across domains
 * (10,000 domains including the same provider evaluate it once).
 */
int flat_ctx_new(flat_lookup_fn fn, void *arg, flat_ctx_t **out);
void flat_ctx_free(flat_ctx_t *c);	/* NULL is a no-op */

typedef enum { FLAT_PUB_FLATTEN = 0, FLAT_PUB_MACRO } flat_pub_t;

/* The original: the policy's SPF of one domain as terms (ip4:, ip6:, a:, mx:, include:). */
typedef struct flat_input {
	const char *domain;	/* "example.com" */
	char *const *terms;	/* top-level terms, in order, all '+' */
	size_t nterms;
	const char *all_term;	/* "-all", "~all", "?all" */
} flat_input_t;

typedef struct flat_result {
	mn_net_t *nets;		/* the merged pass set: IPv4 then IPv6 */
	size_t nnets;
	char **kept;		/* top-level terms kept as written (their set is unknown) */
	size_t nkept;
	uint32_t ttl;		/* smallest upstream TTL seen (0: none) */
	bool dns_failed;	/* a lookup failed: keep the last good set */
	char why[512];		/* on MN_EPOLICY / dns_failed: the reason */
} flat_result_t;

/*
 * Evaluates the original over the whole IPv4 and IPv6 space and computes the
 * flattened set.  MN_OK with *out filled; MN_EPOLICY when it cannot be
 * flattened (an address gets permerror/temperror from the original, a term
 * that cannot be flattened in flatten mode...: out->why says which address
 * and term); out->dns_failed when a lookup failed (out->why names it).
 * Free with flat_result_clear().
 */
int flat_domain(flat_ctx_t *c, const flat_input_t *in, flat_result_t *out);
void flat_result_clear(flat_result_t *r);

/* A published record (name, text) placed over the view for the proof. */
typedef struct flat_rec {
	const char *owner;
	const char *text;
} flat_rec_t;

/*
 * The proof: evaluates the published records (root first: "_spf.D", then
 * chained parts; or the macro record, whose exists:%{ir}.%{v}.<root> matches
 * exactly res->nets) from the apex include (one lookup) and the original,
 * over every address, and compares them.  MN_OK when equal and the published
 * evaluation needs <= 10 lookups and no void lookup; MN_EPOLICY otherwise,
 * with why naming an address, the result of each and the term.
 * *lookups (may be NULL) gets the most lookups the published record needs.
 */
int flat_prove(flat_ctx_t *c, const flat_input_t *in, const flat_result_t *res, flat_pub_t kind,
	       const flat_rec_t *recs, size_t nrecs, unsigned *lookups, char *why, size_t whysize);

/*
 * Evaluates one record text at owner for one address (for tests): returns
 * "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror",
 * "unknown".
 */
const char *flat_eval_addr(flat_ctx_t *c, const char *owner, const char *addr);
