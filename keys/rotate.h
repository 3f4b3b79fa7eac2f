/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rotate.h -- the DKIM key phase machine (SPEC §5), pure: state x policy x now -> next state */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys/keystore.h"
#include "policy/policy.h"

/* What one domain's rotation needs from its policy (policy_dkim_t). */
typedef struct rotate_policy {
	dkim_alg_t algs[DKIM_ALG_COUNT];	/* the algorithms to sign with, one active key each */
	size_t nalgs;
	uint32_t rotate_every, publish_ahead, retire_after, revoked_for;	/* seconds */
} rotate_policy_t;

/* From a domain's policy (duplicate algorithms dropped). */
void rotate_policy_from(const policy_dkim_t *d, rotate_policy_t *out);

typedef enum {
	ROT_GENERATE = 0,	/* a new pending key: generate its pair, write the private key first */
	ROT_ACTIVATE,		/* pending -> active (served publish_ahead, confirmed over DNS) */
	ROT_RETIRE,		/* active -> retired (its successor is active) */
	ROT_REVOKE,		/* retired -> revoked: served as p=, destroy the private key */
	ROT_REMOVE,		/* revoked -> removed: no longer served */
	ROT_WAIT_DNS,		/* pending, due for activation, but DNS has not confirmed it */
} rotate_op_t;

typedef struct rotate_action {
	rotate_op_t op;
	char selector[KEYSTORE_SELECTOR_MAX];
	dkim_alg_t alg;
} rotate_action_t;

typedef struct rotate_result {
	keystore_key_t *keys;	/* the next state, sorted by selector (records copied; a
				 * generated key has record NULL until the caller fills it) */
	size_t nkeys;
	rotate_action_t *acts;	/* in the order to carry them out */
	size_t nacts;
	bool changed;		/* keys differ from the input (any action but WAIT_DNS) */
	time_t next;		/* earliest later time at which something becomes due, or 0 */
} rotate_result_t;

/*
 * One step of a domain's keys at time now.  confirmed(selector, arg) says
 * whether every server address answered the pending key's record (called only
 * for pending keys due for activation; NULL means never confirmed).  Rules:
 *
 *  - for each algorithm of the policy with neither an active nor a pending key:
 *    GENERATE one (selector below; created = changed = now);
 *  - a pending key becomes active when confirmed and, if its algorithm has an
 *    active key, after publish_ahead since it was generated; the old active
 *    key is retired in the same step (exactly one active key per algorithm);
 *    otherwise WAIT_DNS when only the confirmation is missing;
 *  - an active key with no pending successor: GENERATE the successor at
 *    rotate_rotation_due();
 *  - retired for retire_after: REVOKE; revoked for revoked_for: REMOVE (the
 *    selector stays as a tombstone and is never reused);
 *  - a key of an algorithm the policy no longer names: pending -> REVOKE;
 *    active -> RETIRE once another algorithm has an active key.
 *
 * Selectors: "mn" + UTC date of generation + one letter, never one already
 * in the state (tombstones included).  A domain with one algorithm takes the
 * first free letter from 'a'; with several, RSA keys take the first free of
 * 'r'..'z', Ed25519 keys of 'e'..'q' (mn20300101r, mn20300101e), then any free
 * letter.  When all 26 of the day are used the key waits for the next day.
 *
 * Returns MN_OK with *res filled (free with rotate_result_clear), MN_EINVAL,
 * MN_ENOMEM.
 */
int rotate_step(const keystore_key_t *keys, size_t n, const rotate_policy_t *pol, const char *domain,
		time_t now, bool (*confirmed)(const char *selector, void *arg), void *arg,
		rotate_result_t *res);
void rotate_result_clear(rotate_result_t *res);	/* NULL is a no-op */

/*
 * The domain's stable offset in [0, rotate_every): a hash (FNV-1a) of the
 * domain name.  Rotation slots are the times t with (t - offset) a multiple
 * of rotate_every, so domains spread evenly over the interval.
 */
uint32_t rotate_offset(const char *domain, uint32_t rotate_every);
/*
 * When the successor of a key that became active at `activated` becomes
 * active: the first slot at least rotate_every/2 after activation (so key
 * lifetimes stay within 0.5..1.5 x rotate_every, and exactly rotate_every once
 * on the schedule).  Its generation is due publish_ahead earlier (never before
 * activation).
 */
time_t rotate_rotation_due(const char *domain, const rotate_policy_t *pol, time_t activated);
/* When key k (in state keys) next changes phase by itself, or 0 (unknown / never). */
time_t rotate_key_next(const keystore_key_t *k, const keystore_key_t *keys, size_t n,
		       const rotate_policy_t *pol, const char *domain);

const char *rotate_op_name(rotate_op_t op);	/* "generate", "activate", ... */
