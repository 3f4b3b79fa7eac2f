/* SPDX-License-Identifier: GPL-3.0-or-later */
/* policy_internal.h -- between policy.c (a file's tree into the model) and loader.c (files, includes, cache) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"
#include "policy/schema.h"
#include "policy/yaml.h"

/*
 * One conversion into p: the top file's, or an included file's own into a
 * part (on any thread, with its own diag and arena).  Zero it, then set p,
 * diag and ctx.
 */
typedef struct policy_conv {
	policy_t *p;
	diag_t *diag;
	schema_ctx_t ctx;
	policy_domain_t defaults;	/* the top file's `defaults:` */
	size_t cap;			/* of p->domains */
	bool sorted;			/* p->domains sorted and names defined twice reported (policy_domains_gather) */
	/* patched finish: the names of the domains the family checks have messages for, sorted */
	const char *const *family;
	size_t nfamily;
} policy_conv_t;

/* An error at n in file (ctx.oom on ENOMEM). */
void policy_conv_error(policy_conv_t *cv, const char *file, const ynode_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Converts one file's tree: top is false for an included file (only
 * `domains:` is allowed there); for the top file *includes is set to the
 * `include:` list when there is one (its items are the caller's to load).
 */
void policy_conv_file(policy_conv_t *cv, const ynode_t *root, bool top, const ynode_t **includes);
/* A run of domains (one file's, in its order) for policy_domains_gather(). */
typedef struct policy_run {
	const policy_domain_t *v;
	size_t n;
} policy_run_t;
/*
 * Puts the domains of runs[0..nruns) (the top file's, then each included
 * file's, in include order) into cv->p->domains sorted by name, in a new
 * array of their total (the old one freed; the runs are only read), each
 * copied once, straight to its place (on two threads from 10,000 domains).
 * The order and the messages are policy_conv_finish()'s sort's (a name
 * defined twice is reported at each later definition, naming the first),
 * which then sorts no more (cv->sorted).  MN_OK, or MN_ENOMEM with p unchanged.
 */
int policy_domains_gather(policy_conv_t *cv, const policy_run_t *runs, size_t nruns);
/*
 * After every file: sorts the domains, reports names defined twice and the
 * checks across keys, fills the built-in defaults and merges `defaults:`
 * into each domain.  MN_OK, MN_EPOLICY when diag got errors after errors0
 * were there, or MN_ENOMEM.
 */
int policy_conv_finish(policy_conv_t *cv, size_t errors0, bool patched);
/*
 * (patched: p->domains were already sorted, checked for names defined twice
 * and merged, by the loader's patch of the previous load: only the checks
 * and the built-in defaults of server and defaults are done, the family
 * checks only for the domains cv->family names: the others have no message.)
 */
/* Merges defaults, then server.dnssec, into what each of v[0..n) does not set. */
void policy_merge_defaults(policy_domain_t *v, size_t n, const policy_domain_t *defaults,
			   const policy_dnssec_t *dnssec);
/* The checks across keys of v[0..n) (MTA-STS, TLS-RPT, BIMI), after the merge, in order. */
void policy_check_family(const policy_domain_t *v, size_t n, diag_t *diag);
