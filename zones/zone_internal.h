/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zone_internal.h -- the fields of zone_t, for the .c files of zones/ only (everyone else: the accessors in zone.h) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zones/zone.h"

/* The layout of a finished zone's memory: see zone.h (zone_finish). */
struct zone {
	char *name;			/* apex, normalized ("_dmarc.example.com") */
	char *domain;			/* the policy domain it belongs to (often a suffix of name) */
	const uint8_t *apex;		/* apex, wire (apex_len bytes, in the zone's own memory) */
	zone_rr_t *rrs;
	void *mem;			/* private: the strings while building; the block once finished */
	size_t nrrs;
	union {				/* private */
		uint32_t cap;		/* building: capacity of rrs[] */
		uint32_t nshared;	/* finished: RRsets held in the shared pool */
	};
	uint32_t serial;		/* also in the SOA RDATA */
	uint32_t negative_ttl;		/* min(SOA TTL, SOA minimum) */
	zone_kind_t kind;
	uint16_t apex_len;
	uint16_t strs_len;		/* private: bytes of the name and domain strings */
	bool frozen;			/* private: finished, everything in mem and the pool */
	bool mem_big;			/* private: mem from malloc, not a slab (zone.c) */
	bool one_per_name;		/* validate.c: found with one SPF and one DMARC record per name */
	bool cached;			/* incr.c: a compile cache entry's, borrowed by the generations (never written) */
	uint16_t refs;			/* private: holders besides the first (zone_ref); atomic */
	uint32_t signed_serial;		/* sign.c: the serial the SOA's RRSIG covers (0: not signed there) */
	uint8_t digest[32];		/* SHA-256 of the records, SOA serial excluded (signed: sign.c's) */
	zone_t *retired_next;		/* private: the next zone on its epoch's list (zone_epoch_retire) */
	struct zone_backing *backing;	/* private: held while its records point there (zone_finish_backed), or NULL */
};

/* RFC 4034 6.1 canonical order of two wire names (case-insensitive): <0, 0, >0. */
int zone_name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/*
 * Finishes the new, empty zone z from rrs[0..n) (the caller's memory, copied):
 * already in canonical order without duplicates, as a finished zone's records
 * are (not checked); the SOA first and once, every owner a wire name at or
 * below the apex (checked: MN_EINVAL otherwise); digest is taken as the
 * zone's (not computed).  Its RRsets are not put in the shared pool: the
 * zone holds its own copy (a signed zone's RRsets are rarely another's).
 * What zone_finish() does without the sort and the hashing (sigstore.c).
 */
int zone_finish_sorted(zone_t *z, const zone_rr_t *rrs, size_t n, const uint8_t digest[32]);

/*
 * Read-only memory besides a zone's own block that finished zones' records
 * point into (the signed-zone store's mapping, sigstore.c): reference counted
 * (atomic), each such zone holding one; the last zone_backing_unref() calls
 * release.  The creator holds the first reference.
 */
typedef struct zone_backing {
	unsigned refs;
	void (*release)(struct zone_backing *b);
} zone_backing_t;
void zone_backing_ref(zone_backing_t *b);
void zone_backing_unref(zone_backing_t *b);	/* NULL is a no-op */

/*
 * zone_finish_sorted() without copying the records: rrs[1..n) stay where
 * they are, in b's memory, in answer form there (rdata - 12 the record's
 * first byte: c0 0c TYPE IN TTL RDLEN; checked) and each RRset one run (the
 * records one after the other; checked), as the zone set serves them; their
 * owners there too.  Only the SOA (its serial is written: zone_set_serial),
 * the rrs[] array, the apex and the strings are the zone's own.  z holds a
 * reference on b until it goes (or is changed: copied out).
 */
int zone_finish_backed(zone_t *z, const zone_rr_t *rrs, size_t n, const uint8_t digest[32], zone_backing_t *b);

/*
 * An epoch: the zones a compile cache let go while generations built from
 * it may still read them (a generation borrows the cache's zones instead of
 * holding a reference on each: zones_t.hold).  A generation holds the epoch
 * of the compile that made it; each epoch holds the next one
 * (zone_epoch_chain), so an epoch's zones go only once it and every epoch
 * before it are gone: no generation older than the next one is read then.
 * References are atomic (generations are dropped by other threads); the
 * retiring and the chaining are done by the one thread that holds the cache.
 */
int zone_epoch_new(zone_epoch_t **out);	/* one reference; MN_EINVAL, MN_ENOMEM */
zone_epoch_t *zone_epoch_ref(zone_epoch_t *e);	/* returns e; NULL is a no-op */
void zone_epoch_unref(zone_epoch_t *e);	/* NULL is a no-op; the last frees its zones, then the next epoch's reference */
/* One reference of z (its holder's) let go with e (zone_unref then); not NULL. */
void zone_epoch_retire(zone_epoch_t *e, zone_t *z);
/* e takes one reference on next (e has none yet), given back when e goes. */
void zone_epoch_chain(zone_epoch_t *e, zone_epoch_t *next);
