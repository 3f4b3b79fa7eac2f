/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mtasts.h -- the MTA-STS policy files, written before the zones that announce their ids */
#pragma once

#include "policy/diag.h"
#include "policy/policy.h"

/*
 * The directory the policy files go under: server.mta_sts_dir, or
 * state_dir/mta-sts when unset.  malloc'd; NULL on ENOMEM or without either.
 */
char *mtasts_dir(const policy_t *p);

/*
 * Writes, for each domain with mta_sts (only `only` when not NULL), its policy
 * file DIR/D/.well-known/mta-sts.txt (rec_mta_sts_policy()) when the file
 * there differs: atomically (a new file renamed over it, mode 0644; the
 * directories made 0755), entered without following a symbolic link below
 * DIR.  The first failure is a diag error naming the file, at the domain;
 * the others are still tried.  Returns MN_OK, MN_EPOLICY after an error, or
 * MN_ENOMEM.
 */
int mtasts_write(const policy_t *p, const policy_domain_t *only, diag_t *diag);

/*
 * Does host (a normalized name: lowercase, no final dot) match the mx pattern
 * (as the policy holds it: lowercase) by RFC 8461 §4.1: equal, or pattern
 * "*.REST" and host one label (non-empty, no dot) followed by ".REST".
 */
bool mtasts_mx_match(const char *pattern, const char *host);
