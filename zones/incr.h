/* SPDX-License-Identifier: GPL-3.0-or-later */
/* incr.h -- the compile cache: each domain's zones and diagnostics by the digest of its inputs */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "zones/compile.h"
#include "zones/zone.h"

/*
 * Internal to libzones (compile.c).  A domain's compiled output is a pure
 * function of its inputs: its policy subtree (defaults merged), the server
 * settings every zone uses, its key store and SPF cache files, the hosted
 * domains whose reports go to it, whether its own report destinations are
 * hosted, and -- for the previous SPF generation's parts -- the time, up to
 * the moment the next part expires; a signed domain's zones are kept signed,
 * with its DNSSEC key directories' state, until its first signature needs
 * refresh.  Two digests describe the inputs: `key`
 * over the values, `pos` over their positions, which only the diagnostics
 * carry: an entry without diagnostics is reused when the values match, one
 * with diagnostics only when the positions match too.
 */

/* One diagnostic of a domain, replayed through the validator's
 * once-per-position filter (keyed) or always (not keyed). */
typedef struct incr_diag {
	diag_level_t level;
	char *file;		/* NULL: no position */
	uint32_t line, col;
	char *msg;
	bool keyed;
	uint64_t key;
} incr_diag_t;

/*
 * The policy part of a domain's inputs (incr_hash_domain: its subtree with
 * the defaults merged, its report destinations' hosted-ness), digested on its
 * own and kept with the entry under the identity of where it came from: the
 * source digest (the context digest, the included file's SHA-256 and name)
 * and the domain's position in that file.  The same identity, under the same
 * set of hosted names, is the same part: not digested again.
 */
typedef struct incr_part {
	bool known;		/* src and the position identify the part */
	uint32_t line, col;	/* of the domain's key in its file */
	uint8_t src[32];
	uint8_t key[32], pos[32];	/* the part's digests */
} incr_part_t;

typedef struct incr_entry {
	/*
	 * (First, together: what a reused domain's compile reads, in one or two
	 * cache lines of an entry that is cold by then.)
	 */
	bool borrowed;
	bool rest_empty;	/* key and pos were made from the part alone (compile_cache.c) */
	bool reports_none;	/* under that part: no report destination at another hosted domain */
	bool has_keystate;
	unsigned refs;		/* the cache's map, and a compile's fresh entry (compile_cached) */
	/*
	 * Owned (each zone is one entry's: zone_t.cached, and the generations
	 * borrow it), or borrowed from the output until it has its serials.
	 * Owned zones the entry lets go are retired into the cache's epoch
	 * (cache), not freed: a generation may read them still.
	 */
	uint8_t kinds[ZONE_KINDS];	/* zones[k]'s zone_kind_t (read without the zone's cold line) */
	size_t nzones;
	size_t ndiags;
	time_t since, until;	/* the output holds for now in [since, until) */
	zone_t *zones[ZONE_KINDS];
	/*
	 * DNSSEC: the zones are signed ones (nsigned of them); until is no
	 * later than resign_at, when the first of their signatures needs
	 * refresh; and they hold while the key directories are as keystate
	 * digests them (sign_keys_state: new keys, or signatures stored by
	 * another process).
	 */
	size_t nsigned;
	time_t resign_at;
	incr_diag_t *diags;
	const compile_cache_t *cache;	/* the cache that holds it (NULL: none yet) */
	char *name;		/* the domain */
	uint8_t key[32], pos[32];
	incr_part_t part;
	uint8_t keystate[32];
	uint64_t keys_seq;	/* sign_keys_seq() before keystate was taken (0: none) */
} incr_entry_t;

/* The byte streams the two digests are made of; reused from domain to domain. */
typedef struct incr_hash {
	uint8_t *b[2];
	size_t n[2], cap[2];
	const char *file;	/* of the last position (its name written once per run) */
	bool oom;
} incr_hash_t;

void incr_hash_reset(incr_hash_t *h);
void incr_hash_clear(incr_hash_t *h);	/* frees the buffers */
void incr_hash_bytes(incr_hash_t *h, const void *p, size_t n);
void incr_hash_u32(incr_hash_t *h, uint32_t v);
void incr_hash_str(incr_hash_t *h, const char *s);	/* NULL differs from "" */
void incr_hash_pos(incr_hash_t *h, const mn_pos_t *pos);	/* "set" to key, the rest to pos */
void incr_hash_pos_bytes(incr_hash_t *h, const void *p, size_t n);	/* raw bytes to pos */
/*
 * What every domain of p takes besides its own subtree: p->dir (relative
 * paths), the merged `defaults:` and server.dnssec, values and positions.
 */
void incr_hash_context(incr_hash_t *h, const policy_t *p);
/*
 * d's name, position and every key of schema_domain (defaults merged), each
 * by its type, and the hosted-ness of its DMARC report destinations (p).
 */
void incr_hash_domain(incr_hash_t *h, const policy_t *p, const policy_domain_t *d);
/* The server settings the compile uses: the keys of schema_server flagged SCHEMA_ZONES. */
void incr_hash_server(incr_hash_t *h, const policy_server_t *s);
/* SHA-256 of both streams; MN_ENOMEM when a buffer could not grow. */
int incr_hash_final(incr_hash_t *h, uint8_t key[32], uint8_t pos[32]);

/* The entry of name, or NULL. */
incr_entry_t *incr_find(const compile_cache_t *c, const char *name);
/* Global settings digest: entries are usable only under the same one. */
bool incr_global_same(const compile_cache_t *c, const uint8_t global[32]);
/*
 * The entries' parts (incr_part_t) were recorded under the current entries'
 * name set: false after a compile that failed once it may have updated some
 * in place under another set (the next one digests every part again).
 */
bool incr_parts_valid(const compile_cache_t *c);
void incr_parts_invalidate(compile_cache_t *c);
/*
 * Replaces the cache's entries by v[0..n) (NULL slots skipped; each already
 * holds a reference for the cache) and drops the old ones.
 */
int incr_install(compile_cache_t *c, const uint8_t global[32], incr_entry_t **v, size_t n);
/*
 * incr_install() in O(changed) when the cache holds entries of the same
 * names (olds[i]: its entry of v[i]'s name, found before the compile, under
 * the same global digest): a reused entry (v[i] == olds[i], the compile
 * holding no reference on it: the map's stands) is not touched, an entry
 * made now takes its old one's place in the map.  Otherwise incr_install(),
 * the reused entries held once more first.
 */
int incr_install_same(compile_cache_t *c, const uint8_t global[32], incr_entry_t **v, incr_entry_t *const *olds,
		      size_t n);
/*
 * The entries of the last compile by domain index (v, its fresh array, which
 * the cache takes), with the generation (policy_t.gen) of the policy it
 * compiled: incr_order() gives them back for that generation only (NULL
 * otherwise, and after any install, which clears them; gen 0: none).  The
 * entries are the map's, not held again.  from (taken too, NULL: not known):
 * by domain index, whether the domain reported to another hosted domain in
 * that compile; incr_order() gives it back in *from.
 */
void incr_order_set(compile_cache_t *c, uint64_t gen, incr_entry_t **v, size_t n, bool *from);
incr_entry_t *const *incr_order(const compile_cache_t *c, uint64_t gen, size_t *n, const bool **from);
/*
 * The serials token (serial_assign_known) under which the entries' zones got
 * their serials: set by the compile once the cache holds them; 0: none.
 */
uint64_t incr_serial_token(const compile_cache_t *c);
void incr_serial_token_set(compile_cache_t *c, uint64_t token);

/* *out is a new entry for name holding one reference (incr_entry_unref); MN_EINVAL, MN_ENOMEM. */
int incr_entry_new(const char *name, incr_entry_t **out);
/* One more holder (not atomic: one thread per entry at a time); returns e; NULL is a no-op. */
incr_entry_t *incr_entry_ref(incr_entry_t *e);
void incr_entry_unref(incr_entry_t *e);		/* NULL is a no-op */
/* Appends a copy of it (keyed with key when keyed). */
int incr_entry_add_diag(incr_entry_t *e, const diag_item_t *it, bool keyed, uint64_t key);

/* A finished copy of a finished zone (records, serial and digest the same); NULL on ENOMEM. */
zone_t *incr_zone_copy(const zone_t *z);
/*
 * Is z held by more than one, or a cache entry's (which the generations
 * read): its serial must then not be written in place?
 */
bool incr_zone_shared(const zone_t *z);
/*
 * A compile's output lets go of z, replaced by a copy: its reference
 * dropped, or nothing when z is a cache entry's (borrowed).
 */
void incr_zone_drop(zone_t *z);
/*
 * The epochs (zone_internal.h): incr_epoch_begin() gives the cache its
 * current epoch if it has none (MN_ENOMEM); incr_epoch_next() makes next
 * (a new epoch, its one reference taken) the current one, chained after the
 * last, with zs (the output of the compile the cache now holds the zones
 * of) borrowing its zones under next.
 */
int incr_epoch_begin(compile_cache_t *c);
void incr_epoch_next(compile_cache_t *c, zone_epoch_t *next, zones_t *zs);
/* The entry owns z from now on (the output borrows it). */
void incr_zone_take(zone_t *z);
/* z, an owned zone an entry of c lets go: retired into c's epoch (freed when c has none). */
void incr_zone_retire(const compile_cache_t *c, zone_t *z);
