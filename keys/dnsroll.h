/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dnsroll.h -- the DNSSEC key rollover machine, pure: keys x policy x now -> next keys + actions */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys/dnskey.h"
#include "policy/policy.h"

/*
 * What a zone's rollovers need.  The waits (RFC 7583 §3.3): dnskey_ttl is the
 * TTL of the DNSKEY RRset, max_ttl the largest TTL in the zone, propagation
 * the time a change takes to reach every server of the zone; ds_ttl the
 * parent's DS TTL when the answer did not give one.
 */
typedef struct dnsroll_policy {
	dnssec_alg_t alg;		/* the algorithm the policy asks for */
	dnssec_keys_t shape;		/* csk or ksk+zsk */
	uint32_t zsk_lifetime;		/* an active ZSK is replaced after; 0: only when asked */
	uint32_t ksk_lifetime;		/* the same for a KSK or CSK */
	uint32_t dnskey_ttl, max_ttl, propagation, ds_ttl;
	bool roll_zsk, roll_ksk;	/* start a rollover of the ZSK / the KSK or CSK now */
} dnsroll_policy_t;

enum { DNSROLL_PROPAGATION = 3600, DNSROLL_DS_TTL = 86400 };

/* From a domain's policy and the server's TTLs (roll_* false). */
void dnsroll_policy_from(const policy_t *p, const policy_domain_t *d, dnsroll_policy_t *out);

typedef enum {
	DNSROLL_GENERATE = 0,	/* a new key (keys[key] says role, alg, state): written before anything else */
	DNSROLL_DS,		/* keys[key].ds changed (seen at the parent, or seen gone) */
	DNSROLL_STATE,		/* keys[key] entered keys[key].state */
	DNSROLL_WAIT_DS,	/* a ready SEP key: its DS is not at the parent yet */
	DNSROLL_WAIT_DS_GONE,	/* a retired SEP key: its DS is still at the parent */
} dnsroll_op_t;

typedef struct dnsroll_action {
	dnsroll_op_t op;
	size_t key;		/* index in dnsroll_result_t.keys */
	dnskey_state_t from;	/* DNSROLL_STATE: the state it left */
} dnsroll_action_t;

typedef struct dnsroll_result {
	dnskey_meta_t *keys;	/* the next state: the input's keys in their order, then the
				 * generated ones (id "" and tag 0 until the caller makes them) */
	size_t nkeys;
	dnsroll_action_t *acts;	/* in the order to carry them out: GENERATE, DS, STATE, waits */
	size_t nacts;
	bool changed;		/* any action but a wait */
	time_t next;		/* the earliest later time something becomes due, or 0 */
	time_t *key_next;	/* per input key: the earliest later time a rule of that key (its
				 * next state, or its successor for an active key with a lifetime)
				 * becomes due, 0: none or it waits for the parent (see acts) */
} dnsroll_result_t;

/*
 * Whether the DS of key k is at the parent: *present and, when it is, the
 * TTL of the answer (*ttl, 0 unknown).  false when the parent could not be
 * asked (the step waits; why[] filled by the caller's own means).
 */
typedef bool (*dnsroll_ds_fn)(const dnskey_meta_t *k, void *arg, bool *present, uint32_t *ttl);

/*
 * One step of a zone's keys at now: each key moves at most one state, so a
 * run calls it again (on res->keys, after carrying out the actions) until
 * nothing changes, and a crash between two writes leaves a state the next
 * step goes on from.  Rules (with ttl waits as in dnsroll_policy_t, + the
 * propagation delay each):
 *
 *  - PRESIGN --max_ttl--> PUBLISHED (a SEP key's ds: submitted);
 *  - PUBLISHED --dnskey_ttl--> READY;
 *  - READY ZSK -> ACTIVE.  READY SEP key: its DS asked at the parent (ds);
 *    seen: ds SEEN (its TTL kept); SEEN for the DS TTL -> ACTIVE; else WAIT_DS;
 *  - ACTIVE, when a newer ACTIVE key does all it does (signs DNSKEY: a KSK or
 *    CSK; signs the rest: a ZSK or CSK) -> RETIRED (a SEP key's ds: withdrawn);
 *  - RETIRED SEP key with ds withdrawn: asked; gone: ds GONE; still there:
 *    its TTL kept when it changed, else WAIT_DS_GONE;
 *  - RETIRED, its algorithm still signing for it by an ACTIVE key (a rollover
 *    of one algorithm): after max_ttl, and for a SEP key its DS gone for the
 *    DS TTL -> REMOVED;
 *  - RETIRED of an algorithm no ACTIVE key signs for (an algorithm rollover,
 *    RFC 6781 §4.1.4): once every SEP key of that algorithm is RETIRED with
 *    its DS gone for the DS TTL (and max_ttl passed) -> POSTSIGN, out of
 *    DNSKEY; POSTSIGN --dnskey_ttl--> REMOVED;
 *  - for each role of the policy's shape (csk; or ksk and zsk) with the
 *    policy's algorithm: none active nor on its way -> GENERATE one (PRESIGN
 *    when no active key has the policy's algorithm: an algorithm rollover,
 *    else PUBLISHED); an active one older than its lifetime (or roll_*) with
 *    none on its way -> GENERATE its successor (PUBLISHED).  A zone without
 *    any key is left alone (its first keys are made when it is compiled).
 *
 * ds may be NULL (never seen).  MN_OK with *res filled (free with
 * dnsroll_result_clear), MN_EINVAL, MN_ENOMEM.
 */
int dnsroll_step(const dnskey_meta_t *keys, size_t n, const dnsroll_policy_t *pol, time_t now, dnsroll_ds_fn ds,
		 void *arg, dnsroll_result_t *res);
void dnsroll_result_clear(dnsroll_result_t *res);	/* NULL is a no-op */

const char *dnsroll_op_name(dnsroll_op_t op);	/* "generate", "ds", "state", "wait-ds", "wait-ds-gone" */
