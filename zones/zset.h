/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zset.h -- the immutable zone set: name table and pre-rendered wire answers */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zones/zone.h"

/*
 * A zset_t is built once from compiled zones and never changes; readers share
 * it through a reference count (atomic: a reload thread builds, the loop
 * threads answer).  It holds one hash table (open addressing) keyed by the
 * lowercase wire owner name over every name of every zone: owners, apexes
 * and the empty non-terminals between them.  Each name knows its zone and its
 * RRsets, each RRset pre-rendered as answer-section bytes whose owner is a
 * compression pointer to offset 12 (the question name), so the same bytes
 * answer exact and wildcard-synthesized queries.  Names and bytes are not
 * copied: they are the finished zones' memory (zone.h: each zone's block and
 * the shared RRset pool), and the set owns the zones; nothing is allocated
 * per name.
 */
typedef struct zset zset_t;

typedef enum {
	ZSET_REFUSED = 0,	/* not inside any served zone */
	ZSET_ANSWER,		/* rrset found (exact or wildcard) */
	ZSET_NODATA,		/* the name exists (or a wildcard matched), not this type */
	ZSET_NXDOMAIN,		/* inside a zone, no such name, no wildcard */
} zset_status_t;

typedef struct zset_result {
	zset_status_t status;
	bool wildcard;		/* the answer / NODATA came from a wildcard */
	const zone_t *zone;	/* the zone (NULL when REFUSED) */
	/* ANSWER: the RRset's records, owner = pointer to offset 12 */
	const uint8_t *rrs;
	uint32_t rrs_len;
	uint16_t rrs_count;
	uint16_t rrs_type;
	/*
	 * Every status but REFUSED: the zone's SOA record for the authority
	 * section WITHOUT its owner name (type, class, TTL, rdlength, rdata),
	 * the zone's own bytes: the TTL there is the SOA's, the caller's copy
	 * puts soa_ttl (the negative TTL, RFC 2308 3) in its place.  The owner
	 * is the apex: apex_len bytes, the last apex_len bytes of the question
	 * name.
	 */
	const uint8_t *soa;
	uint16_t soa_len;
	uint16_t apex_len;
	uint32_t soa_ttl;
} zset_result_t;

/*
 * Builds a zone set from finished zones (sorted by apex, as zones_compile
 * returns them).  Takes ownership of zones in every case (freed on failure
 * too).  Returns MN_OK, MN_ENOMEM, MN_ERANGE, or MN_EINVAL (a zone not
 * finished or without SOA, an owner outside its zone, or a name with data in
 * two zones).  *out has one reference.
 */
int zset_new(zones_t *zones, zset_t **out);
/*
 * zset_new() with the name table built on parts threads (1: on this one);
 * zset_new() takes one a CPU from 20,000 zones.  The same set (names, nodes
 * in the same order) either way, but for the table's size and slots.
 */
int zset_new_parts(zones_t *zones, unsigned parts, zset_t **out);
/* Do a and b (of the same zones) hold the same names, nodes and SOA signatures, each found in its table?  (tests) */
bool zset_same_names(const zset_t *a, const zset_t *b);
/* Names zset_new_parts() placed after the parts, probing past a part's slots (tests). */
size_t zset_spilled(void);
/*
 * zset_new() for the generation after prev: when at most an eighth of the
 * zones differ from prev's (by apex, and by zone object: a zone prev holds
 * too is the same zone), prev's name table is copied and patched -- the
 * names of the zones gone or replaced taken out, the new zones' added --
 * instead of built from every name; otherwise, or when zones share names
 * (one zone's apex another's empty non-terminal), it is built anew.  prev is
 * only read (it may be answering on other threads) and keeps its zones; the
 * new set holds its own references.  Only zones in strict apex order are
 * patched (else built anew); the order is checked in the same walk, with a
 * strcmp only next to a zone prev does not hold (a zone held by both is
 * matched by its object), every pair on the first patch after a set built
 * anew.  Results and ownership as zset_new(); prev NULL is zset_new().
 */
int zset_new_from(const zset_t *prev, zones_t *zones, zset_t **out);
/* The zones whose names the set took from the previous one (0: built anew). */
size_t zset_reused_zones(const zset_t *zs);
/*
 * What changed, in O(changed): when zs was patched from prev (the same set,
 * held by the caller since zs was made from it), true, with the indexes in
 * zs of the zones not taken from prev (replaced or added) and the indexes in
 * prev of the zones zs does not hold (replaced or removed), each increasing
 * (arrays owned by zs).  False when zs was built anew or from another set.
 */
bool zset_changes(const zset_t *zs, const zset_t *prev, const uint32_t **fresh, size_t *nfresh,
		  const uint32_t **gone, size_t *ngone);
zset_t *zset_ref(zset_t *zs);		/* returns zs; NULL is a no-op */
void zset_unref(zset_t *zs);		/* frees (with the zones) at 0; NULL is a no-op */

/* The zones the set was built from (read-only, owned by the set). */
const zones_t *zset_zones(const zset_t *zs);
size_t zset_name_count(const zset_t *zs);	/* names in the table (incl. ENTs) */

/*
 * Looks qname up.  qname is uncompressed wire format, LOWERCASE, qlen bytes
 * including the root label.  qtype ZONE_T_ANY answers one RRset (RFC 8482:
 * TXT when the name has one, else its first).  Never allocates.
 */
void zset_lookup(const zset_t *zs, const uint8_t *qname, size_t qlen, uint16_t qtype,
		 zset_result_t *res);

/*
 * DNSSEC (RFC 4035 3.1): what a DO query adds to the answer, all of it the
 * signed zone's own records (nothing is signed at query time).  A run is one
 * or more records in answer form (zone.h: each record's owner a 2-byte
 * pointer the caller replaces when the owner is not the question name).
 */
typedef struct zset_run {
	const uint8_t *rrs;	/* NULL: none */
	uint32_t len;
	uint16_t count;
} zset_run_t;

typedef struct zset_nsec {
	const uint8_t *owner;	/* lowercase wire name, owner_len bytes, ends with the apex */
	uint16_t owner_len;
	zset_run_t nsec;	/* the NSEC record */
	zset_run_t sig;		/* its RRSIG(s) */
} zset_nsec_t;

typedef struct zset_proof {
	bool is_signed;		/* the zone has an RRSIG over its SOA; false: nothing below */
	zset_run_t answer_sig;	/* ANSWER: the RRSIGs covering the answer RRset (owner: the question) */
	zset_run_t soa_sig;	/* the RRSIGs of the SOA (owner: the apex) */
	/*
	 * The NSECs for the authority section, each with its RRSIGs: NODATA:
	 * the name's; empty non-terminal: the one covering it; NXDOMAIN: the
	 * one covering the name and the one covering the wildcard at the
	 * closest encloser (one when they are the same); wildcard answer: the
	 * one covering the name; wildcard NODATA: that one and the wildcard's.
	 */
	unsigned nnsec;
	zset_nsec_t nsec[2];
} zset_proof_t;

/*
 * zset_lookup(), and with proof not NULL the DNSSEC records for the answer
 * (*proof; is_signed false for an unsigned zone or a REFUSED name).  A
 * wildcard answers every type it has, RRSIG and NSEC too (their NODATA could
 * not be proved: the wildcard's NSEC lists both).  Binary searches over the
 * zone's canonical order; never allocates.
 */
void zset_lookup_dnssec(const zset_t *zs, const uint8_t *qname, size_t qlen, uint16_t qtype,
			zset_result_t *res, zset_proof_t *proof);
