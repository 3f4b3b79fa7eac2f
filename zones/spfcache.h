/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spfcache.h -- the SPF cache in state_dir/spf/<domain>: flattened networks, kept terms, old generations */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/mn.h"
#include "policy/policy.h"

/*
 * One file per domain, state_dir/spf/<domain>, written atomically by
 * `mailns flatten` (tmp + fsync + rename), read by every compile:
 *
 *   mailns-spf-cache 1
 *   source ip4:192.0.2.0/24 include:_spf.google.com      the policy terms it was computed from
 *   resolved 1893456000                                   when this set was computed (unix time)
 *   ttl 300                                               the smallest upstream TTL
 *   net 192.0.2.0/24                                      the merged pass set, one per line
 *   kept include:spf.example.net                          terms kept as written (exists, ptr, macros)
 *   old 1893456000 c1-0a1b2c3d._spf.example.com v=spf1 ... a part of the previous generation,
 *                                                         replaced at that time
 */
typedef struct spfcache_old {
	time_t replaced_at;
	char *owner;
	char *text;
} spfcache_old_t;

typedef struct spfcache {
	char *source;
	time_t resolved;
	uint32_t ttl;
	mn_net_t *nets;		/* IPv4 then IPv6, merged */
	size_t nnets;
	char **kept;
	size_t nkept;
	spfcache_old_t *old;
	size_t nold;
} spfcache_t;

/* MN_OK, MN_ENOENT (no cache for the domain), MN_ESTATE (unreadable content), MN_ENOMEM. */
int spfcache_load(const char *state_dir, const char *domain, spfcache_t **out);
/* Creates state_dir/spf when needed (never through a symbolic link); atomic (mn_file_replace_at). */
int spfcache_save(const char *state_dir, const char *domain, const spfcache_t *c);
void spfcache_free(spfcache_t *c);	/* NULL is a no-op */

/*
 * The original top-level terms of a domain's policy SPF, in order: ip4:...,
 * ip6:..., a:NAME, mx:DOMAIN, include:NAME.  Free with rec_terms_free().
 */
int spfcache_terms(const char *domain, const policy_spf_t *s, char ***out, size_t *n);
/* Those terms joined by spaces (the "source" line), malloc'd. */
char *spfcache_source(char *const *terms, size_t n);
