/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sigstore.h -- the signed zones of the last generation kept in one file, state_dir/dnssec/.signed-zones */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "zones/zone.h"

/*
 * A restart takes a signed zone from this store as it was served (one check,
 * no copy: the zone's records stay in the mapping, which it holds:
 * sigstore_zone) instead of signing it again from its stored signatures
 * (sigcache.h): an entry holds the zone's finished records and what they
 * were made from, which must all be the same now for the entry to be used.
 * A signed domain's entries also record the digest of everything its
 * zones were compiled from (the compile cache's inputs of the domain): a
 * start takes a domain whose inputs are the same from here without
 * compiling it (sigstore_domain).
 * The file is written whole and atomically (a new file fsynced, renamed, the
 * directory fsynced; 0640 like the keys); a file that is missing, of another
 * version, torn or damaged (bounds and a checksum per entry) is not used:
 * the zones are signed from their signatures as without it.
 */
typedef struct sigstore_meta {
	uint8_t unsigned_digest[32];	/* zone_digest() of the zone before signing */
	int64_t keystate[8];		/* state_dir/dnssec/ZONE: sign_dir_state() */
	int64_t since;			/* signed at (now of that compile) */
	int64_t refresh_at;		/* the first of its signatures needs refresh then */
	uint32_t validity, refresh;	/* server.dnssec_validity, dnssec_refresh then */
	uint8_t alg, shape;		/* the domain's dnssec algorithm and keys then */
	bool mismatch;			/* its keys were not those (a warning) */
	/*
	 * The domain's zones (nzones of them, 0: not known) were compiled from
	 * inputs (sign_domain_note) and hold for that until inputs_until.
	 */
	uint8_t nzones;
	uint8_t inputs[32];
	int64_t inputs_until;
} sigstore_meta_t;

typedef struct sigstore sigstore_t;

/*
 * A 256-bit sum of p[0..n) against damage and change (four lanes of a
 * multiply-xorshift mix, eight bytes a step: not against an adversary), for
 * what the server compares with its own earlier state: sign_keys_state()'s
 * key-directory state (a SHA-256 was most of its cost).
 */
void sigstore_sum(const uint8_t *p, size_t n, uint8_t out[32]);

/*
 * The store of state_dir, mapped (read-only); *out is an empty store when
 * there is none or it cannot be used (above).  MN_ENOMEM only.
 */
int sigstore_open(const char *state_dir, sigstore_t **out);
void sigstore_free(sigstore_t *s);	/* NULL: no-op */
size_t sigstore_count(const sigstore_t *s);
/* The file's identity when opened (device, inode, size, mtime), to see it replaced. */
bool sigstore_same_file(const sigstore_t *s, const char *state_dir);
/*
 * The entry of zone name: *ent (an opaque handle into s) and its meta, its
 * signed zone's digest and serial; MN_ENOENT when there is none or it is
 * damaged.  Thread-safe (s does not change).
 */
int sigstore_find(const sigstore_t *s, const char *name, const uint8_t **ent, sigstore_meta_t *m,
		  uint8_t signed_digest[32], uint32_t *serial);
/* An entry: its handle into the store, meta, signed zone's digest and serial. */
typedef struct sigstore_ent {
	const uint8_t *ent;
	char name[256];		/* the zone's */
	sigstore_meta_t m;
	uint8_t signed_digest[32];
	uint32_t serial;
} sigstore_ent_t;
/*
 * Every entry of the zones of domain (v[0..*n), at most max, in name order);
 * MN_ENOENT when there is none, one is damaged, or more than max.  Thread-safe.
 */
int sigstore_domain(const sigstore_t *s, const char *domain, sigstore_ent_t *v, size_t max, size_t *n);
/*
 * The zone of entry ent as a new finished zone (zone_unref) whose records
 * point into s's mapping (zone_finish_backed: the zone holds it, so it may
 * outlive s); MN_EINVAL for a damaged entry, MN_ENOMEM.
 */
int sigstore_zone(const sigstore_t *s, const uint8_t *ent, zone_t **out);
/*
 * Writes the store of state_dir anew: zones[i] (signed, finished) with
 * metas[i], n of them, any order (a name once).  MN_OK or a negative errno.
 */
int sigstore_write(const char *state_dir, const zone_t *const *zones, const sigstore_meta_t *metas, size_t n);
