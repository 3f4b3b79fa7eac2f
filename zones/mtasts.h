/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mtasts.h -- the MTA-STS policy files, written before the zones that announce their ids */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "policy/diag.h"
#include "policy/map.h"
#include "policy/policy.h"

/*
 * The directory the policy files go under: server.mta_sts_dir, or
 * state_dir/mta-sts when unset.  malloc'd; NULL on ENOMEM or without either.
 */
char *mtasts_dir(const policy_t *p);

/* Below state_dir: one record per domain whose MTA-STS policy is being withdrawn. */
#define MTASTS_WITHDRAWN "mta-sts/.withdrawn"

/*
 * RFC 8461 §8.3: when mta_sts is removed from a domain (still in the policy),
 * its last policy file (MTA_STS_DIR/D/.well-known/mta-sts.txt) is replaced by
 * one with mode none and that file's max_age, announced under its own id, for
 * max_age seconds from the removal; then the file and the zone go.  The
 * removal time and max_age are recorded in state_dir/MTASTS_WITHDRAWN/D
 * ("since SECONDS\nmax_age SECONDS\n", written atomically) by the first
 * persisting compile that sees the removal, so a restart carries on.
 */
typedef struct mtasts_wd {
	bool active;		/* publish the mode none policy now */
	bool recorded;		/* the record exists (since and max_age from it) */
	bool file;		/* not recorded: a policy file of ours is there (max_age from it) */
	time_t since;		/* the removal (now when not recorded) */
	uint32_t max_age;
	time_t until;		/* since + max_age: published while now < until */
	policy_mta_sts_t policy;	/* active: mode none, max_age (no mx; nothing to free) */
} mtasts_wd_t;

/*
 * The withdrawal state of d at now into *out (all false when d has mta_sts,
 * or nothing of d's was published).  Reads, never writes.  MN_OK or
 * MN_EINVAL / MN_ENOMEM.
 */
int mtasts_withdrawal(const policy_t *p, const policy_domain_t *d, time_t now, mtasts_wd_t *out);

/*
 * The names that may have a policy file or a withdrawal record (the entries
 * of MTA_STS_DIR and state_dir/MTASTS_WITHDRAWN, listed once), so that a
 * compile need not look for the files of every domain.  A NULL set: every
 * name may.
 */
typedef struct mtasts_wdset mtasts_wdset_t;
int mtasts_wdset_load(const policy_t *p, mtasts_wdset_t **out);	/* MN_OK, MN_EINVAL, MN_ENOMEM */
bool mtasts_wdset_maybe(const mtasts_wdset_t *s, const char *name);
/* The names in s (*names: a map whose values are the names; NULL for none); false when any name may be. */
bool mtasts_wdset_names(const mtasts_wdset_t *s, const mn_map_t **names);
void mtasts_wdset_free(mtasts_wdset_t *s);	/* NULL is a no-op */

/*
 * Writes, for each domain with mta_sts (only `only` when not NULL), its policy
 * file DIR/D/.well-known/mta-sts.txt (rec_mta_sts_policy()) when the file
 * there differs: atomically (a new file renamed over it, mode 0644; the
 * directories made 0755), entered without following a symbolic link below
 * DIR, and drops a withdrawal record left from an earlier removal.  For each
 * domain without it (and in set), carries its withdrawal at now: records its
 * start, writes the mode none file, or at its end removes the file (and the
 * directories it leaves empty) and the record.  The first failure is a diag
 * error naming the file, at the domain; the others are still tried.  Returns
 * MN_OK, MN_EPOLICY after an error, or MN_ENOMEM.  may (by domain index,
 * NULL: unknown) is false for a domain known to be without mta_sts (no
 * MTA-STS zone compiled for it): its own memory is not read unless set names
 * it (a reload at 100,000 domains looks at the few that have one).
 */
int mtasts_write(const policy_t *p, const policy_domain_t *only, time_t now, const mtasts_wdset_t *set,
		 const bool *may, diag_t *diag);

/*
 * Does host (a normalized name: lowercase, no final dot) match the mx pattern
 * (as the policy holds it: lowercase) by RFC 8461 §4.1: equal, or pattern
 * "*.REST" and host one label (non-empty, no dot) followed by ".REST".
 */
bool mtasts_mx_match(const char *pattern, const char *host);
