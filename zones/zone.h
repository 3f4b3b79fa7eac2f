/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zone.h -- the compiled content of one zone: records in wire form, serial, digest */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A zone_t is what compile.c produces and what both zonefile.c (master-file
 * text) and zset.c (the server's lookup structure) consume.  Owner names and
 * RDATA are uncompressed wire format; owners are lowercase.  After
 * zone_finish() the records are in canonical order (RFC 4034 6.1, owner then
 * type then RDATA), duplicates removed, the SOA first.
 *
 * zone_finish() also freezes the zone into ONE allocation (a 100,000-domain
 * server keeps 300,000 zones): the rrs array, then every record in answer
 * form (c0 0c TYPE CLASS TTL RDLEN RDATA, so one RRset is one contiguous run
 * the zone set serves as is: rdata - 12 is the record's first byte), then each
 * distinct owner once, then the apex and the name strings.  rr.owner,
 * rr.rdata, apex, name and domain point into it.  Every RRset but the SOA
 * goes to a pool shared by all zones instead (the same DKIM key or NS set is
 * served by thousands of zones): its records are still one run in answer
 * form, kept once, reference counted, thread-safe.  Adding a record to a
 * finished zone copies it back out (rare; nothing in the tree does it).
 */
typedef enum {
	ZONE_DKIM = 0, ZONE_DMARC = 1, ZONE_SPF = 2, ZONE_MTA_STS = 3, ZONE_TLSRPT = 4, ZONE_BIMI = 5,
} zone_kind_t;
#define ZONE_KINDS 6	/* zones a domain can have */

enum {
	ZONE_T_A = 1, ZONE_T_NS = 2, ZONE_T_SOA = 6, ZONE_T_TXT = 16, ZONE_T_AAAA = 28,
	ZONE_T_OPT = 41, ZONE_T_IXFR = 251, ZONE_T_AXFR = 252, ZONE_T_ANY = 255,
};

/*
 * One record as zone_rr() and zone_iter_next() hand it out: pointers into the
 * zone's memory, valid while the zone is held and unchanged.
 */
typedef struct zone_rr {
	uint8_t *owner;
	uint16_t owner_len;
	uint16_t type;
	uint32_t ttl;
	uint16_t rdlen;
	uint8_t *rdata;
} zone_rr_t;

/* Opaque outside zones/ (its fields: zones/zone_internal.h); read through the accessors below. */
typedef struct zone zone_t;

/*
 * *out is a new empty zone apex (of the policy domain domain) holding one
 * reference (zone_unref).  MN_EINVAL for no apex, domain or out, a bad apex
 * name or names over 65,535 bytes together; MN_ENOMEM.
 */
int zone_new(const char *apex, zone_kind_t kind, const char *domain, zone_t **out);
void zone_unref(zone_t *z);	/* NULL is a no-op; with other holders: drops one */
/*
 * One more holder of a finished zone: each holder frees its own with
 * zone_unref().  A shared zone must not change (zone_shared(): a new serial
 * goes into a copy).  NULL when z is NULL or already has 65,535 other
 * holders (the caller copies instead).  Thread-safe.  (The compile cache and
 * the zone sets built from its output do not use it: the sets borrow the
 * cache's zones under an epoch, zones_t.hold.)
 */
zone_t *zone_ref(zone_t *z);
bool zone_shared(const zone_t *z);
/* owner: normalized absolute name inside the zone. Copies rdata. */
int zone_add_rr(zone_t *z, const char *owner, uint16_t type, uint32_t ttl,
		const uint8_t *rdata, uint16_t rdlen);
/* TXT from text: split into <= 255-byte character-strings. */
int zone_add_txt(zone_t *z, const char *owner, uint32_t ttl, const char *text);
/* Sorts, removes duplicates, computes digest, freezes into one block (above). */
int zone_finish(zone_t *z);
/* Sets the serial (patches the SOA RDATA). */
void zone_set_serial(zone_t *z, uint32_t serial);
/* Finds an RRset: index of the first record of (owner wire, type), or -1. */
long zone_find(const zone_t *z, const uint8_t *owner, uint16_t owner_len, uint16_t type);
const char *zone_kind_name(zone_kind_t k);	/* "dkim", "dmarc", "spf", "mta-sts", "tlsrpt", "bimi" */

/* ---- what a zone holds (z not NULL; strings and bytes live as long as z) ---- */
const char *zone_name(const zone_t *z);		/* apex, normalized ("_dmarc.example.com") */
const char *zone_domain(const zone_t *z);	/* the policy domain it belongs to */
zone_kind_t zone_kind(const zone_t *z);
uint32_t zone_serial(const zone_t *z);		/* also in the SOA RDATA */
uint32_t zone_negative_ttl(const zone_t *z);	/* min(SOA TTL, SOA minimum) */
const uint8_t *zone_digest(const zone_t *z);	/* 32 bytes: SHA-256 of the records, serial excluded */
const uint8_t *zone_apex(const zone_t *z);	/* apex, wire form, zone_apex_len() bytes */
size_t zone_apex_len(const zone_t *z);
/*
 * The records, in canonical order once finished (the SOA first): by index
 * (i < zone_nrrs(z)), or with an iterator:
 *	zone_iter_t it;
 *	zone_iter_init(&it, z);
 *	for (const zone_rr_t *rr; (rr = zone_iter_next(&it)) != NULL;) ...
 * An RRset is a run of records of one owner and type.  The zone must not
 * change while iterated.
 */
size_t zone_nrrs(const zone_t *z);
const zone_rr_t *zone_rr(const zone_t *z, size_t i);
typedef struct zone_iter {
	const zone_t *z;
	size_t i;
} zone_iter_t;
void zone_iter_init(zone_iter_t *it, const zone_t *z);
const zone_rr_t *zone_iter_next(zone_iter_t *it);	/* NULL after the last record */

typedef struct zone_epoch zone_epoch_t;

/*
 * A set of compiled zones, sorted by apex name (strcmp of the normalized
 * name).  It holds a reference on each zone, or (hold, the output of a
 * compile with a cache) borrows them all from the cache under one reference
 * on an epoch that keeps them until no set can read them (zone_internal.h).
 */
typedef struct zones {
	zone_t **v;
	size_t n;
	zone_epoch_t *hold;	/* NULL: one reference a zone */
	bool owns_some;		/* with hold: some zones are the set's own, not the cache's (serial_set after the compile) */
} zones_t;

void zones_free(zones_t *zs);	/* frees every zone (or drops hold); NULL is a no-op */
const zone_t *zones_find(const zones_t *zs, const char *apex);
/*
 * Pairs the zones of two sets in one walk (a reload compares 300,000 zones
 * with the previous set's): zones_match() returns the zone of c->zs (NULL:
 * none) named like z, for zones z given in increasing name order.  The same
 * zone object (reused by an incremental compile) is found without comparing
 * names.  c->zs may be NULL (nothing matches).
 */
typedef struct zones_cursor {
	const zones_t *zs;
	size_t i;
} zones_cursor_t;
const zone_t *zones_match(zones_cursor_t *c, const zone_t *z);
