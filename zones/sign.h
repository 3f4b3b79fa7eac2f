/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sign.h -- DNSSEC signing of a finished zone: DNSKEY, CDS, CDNSKEY, the NSEC chain, RRSIGs */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys/dnskey.h"
#include "policy/diag.h"
#include "policy/policy.h"
#include "zones/sigcache.h"
#include "zones/zone.h"

typedef struct sign_opts {
	time_t now;		/* signatures valid from now - 1 h (clocks behind) ... */
	uint32_t validity;	/* ... to now + validity seconds */
	size_t *signatures;	/* NULL, or increased by the number of signatures made */
	/*
	 * Reuse: an RRSIG of old for the same RRset, key and header is taken
	 * as it is while more than refresh seconds of it remain (and it has
	 * begun); NULL: everything is signed.  keep (NULL: none) receives every
	 * RRSIG of the signed zone, reused or made, for the next time.
	 */
	const sigcache_t *old;
	sigcache_t *keep;
	uint32_t refresh;
	size_t *reused;		/* NULL, or increased by the number of signatures reused */
	/*
	 * NULL: the signed zone keeps z's serial; else the serial is the one
	 * serial_assign would give (serial_peek in this state_dir) for the
	 * signed content: a signature made anew moves it.
	 */
	const char *serial_dir;
	time_t *refresh_at;	/* NULL, or lowered (set when 0) to when the first signature needs refresh */
} sign_opts_t;

/*
 * The signed form of the finished zone z, a new finished zone (*out, freed
 * with zone_unref; z is not changed): z's records; at the apex the DNSKEY
 * RRset (every key with DNSKEY_USE_DNSKEY, dnskey_set_keys; TTL of the SOA),
 * and a CDS (SHA-256) and CDNSKEY for each SEP key with DNSKEY_USE_CDS (RFC
 * 7344); one NSEC per owner name in canonical order (RFC 4034 §6.1), the
 * last pointing back to the apex, its bitmap the owner's types with RRSIG and
 * NSEC, TTL z->negative_ttl (RFC 9077); and an RRSIG for every RRset (RFC
 * 4034 §3.1.8.1: labels without a wildcard's `*`, original TTL, signer the
 * apex), one by each key with DNSKEY_USE_SIGN_KEYS for DNSKEY, CDS and
 * CDNSKEY and by each with DNSKEY_USE_SIGN_DATA for the others (two
 * algorithms during an algorithm rollover, RFC 6781 §4.1.4); or taken from
 * o->old (above).  The SOA is signed last, with the serial o->serial_dir
 * gives (above).  The signed zone's digest (zone_digest, what serials follow)
 * is over all that but the SOA serial and the SOA's RRSIG: it changes when a
 * signature is made anew, not when the SOA is signed again for the same
 * content.  MN_EINVAL without a SEP key or for an
 * unfinished zone, MN_ESTATE when OpenSSL fails, MN_ENOMEM.
 */
int sign_zone(const zone_t *z, dnskey_set_t *keys, const sign_opts_t *o, zone_t **out);

/*
 * The compile's step, after the zones are built and before serial_assign:
 * every zone of zs whose domain has dnssec on is replaced by its signed form
 * (sign_zone, validity server.dnssec_validity, serial from state_dir), with
 * the keys of state_dir/dnssec/ZONE (dnskey_zone_keys; made when missing only
 * with persist: `mailns check` writes nothing and leaves a zone without keys
 * unsigned) and the signatures stored beside them reused while more than
 * server.dnssec_refresh of them remains (with persist, the zone's signatures
 * are stored again when they changed).  Zones are signed on up to threads
 * threads (0: one per CPU).  Keys that differ from the policy's algorithm or
 * shape are used, with a warning (changing them is a rollover).  A key that
 * cannot be read or made is an error at the domain: MN_EPOLICY, zs unchanged;
 * MN_ENOMEM.  stats (NULL: not counted) is increased by the signatures made
 * and reused and the zones signed, its refresh_at lowered to the earliest time
 * a signature made or reused needs refresh (dnssec_refresh before it expires).
 */
typedef struct sign_stats {
	size_t made, reused;	/* signatures */
	size_t zones;		/* zones signed */
	time_t refresh_at;	/* 0: none signed */
} sign_stats_t;
int sign_zones(const policy_t *p, zones_t *zs, time_t now, bool persist, unsigned threads, diag_t *diag,
	       sign_stats_t *stats);
/* The same for the zones v[0..n) of one domain, on this thread (the compile cache's parts). */
int sign_domain(const policy_t *p, zone_t **v, size_t n, time_t now, bool persist, diag_t *diag,
		sign_stats_t *stats);
/*
 * The compile cache's way around compiling a signed domain at start: d's
 * zones as stored whole (sigstore.h) when every one of them was noted
 * (sign_domain_note) with inputs, the digest of all the domain's zones are
 * compiled from, and is current (the dnssec settings, key directory and
 * refresh time from_store checks; now before the inputs' until): v[0..*n)
 * (room for ZONE_KINDS; new references, in the compile's order), *until the
 * earliest until noted; stats as sign_domain.  Each key directory is looked
 * at once: keystate and *keys_seq are what sign_keys_state() and
 * sign_keys_seq() of v would give from that look.  MN_ENOENT: compile it (no
 * entry, one damaged, one not current); MN_ENOMEM.
 */
int sign_domain_stored(const policy_t *p, const policy_domain_t *d, const uint8_t inputs[32], time_t now,
		       zone_t **v, size_t *n, time_t *until, uint8_t keystate[32], uint64_t *keys_seq,
		       sign_stats_t *stats);
/*
 * Notes that the signed zones v[0..n), the whole of one domain as just
 * compiled and signed, were compiled from inputs and hold until until (the
 * compile cache's entry's until without the signatures' refresh): the store's
 * next write records it (sign_settle).  Nothing when one of them is unsigned.
 */
void sign_domain_note(const policy_t *p, zone_t *const *v, size_t n, const uint8_t inputs[32], time_t until);
/*
 * After serial_assign: a signed zone whose serial is not the one its SOA was
 * signed with (another writer of state_dir's serials came between) gets its
 * SOA signed again (sign_zone_soa).  The zone replaced in zs is appended to
 * *replaced (realloc'd, *nreplaced of them), for the caller to release once
 * nothing compares against it.  MN_EPOLICY (a diag error) when its keys are
 * gone, MN_ENOMEM.
 */
int sign_settle(const policy_t *p, zones_t *zs, time_t now, diag_t *diag, zone_t ***replaced, size_t *nreplaced);
/* Does z carry an RRSIG of its SOA?  Is it signed for another serial than its SOA's? */
bool sign_zone_is_signed(const zone_t *z);
bool sign_zone_stale(const zone_t *z);
/* A copy of the signed zone z with its SOA signed anew for its serial, the digest z's. */
int sign_zone_soa(const zone_t *z, dnskey_set_t *keys, const sign_opts_t *o, zone_t **out);
/*
 * A digest of the key directories (state_dir/dnssec/ZONE: inode and times,
 * which every atomic write of a key or of the stored signatures changes) of
 * the zones of v whose domain has dnssec on: the compile cache reuses a signed
 * domain only while it is the same.  A directory whose mtime is within a second
 * of now (a change in the same tick of a coarse clock would leave it the
 * same) makes a state that never compares equal: looked at again next time.
 * A directory the server watches (zones/keydirs.h) is looked at only when its
 * watch reported a change since its last settled state: O(changed) a reload.
 */
int sign_keys_state(const policy_t *p, zone_t *const *v, size_t n, uint8_t out[32]);
/*
 * For a state that needs no look at all: sign_keys_seq(), read before
 * sign_keys_state(), is a number (keydirs.h) when every zone of v (one signed
 * domain's) has a watched key directory, else 0; sign_keys_unchanged() tells
 * whether none of them has changed since that number (not 0): then the state
 * is still the one taken after it, without a look (O(1) when no key directory
 * changed at all).
 */
uint64_t sign_keys_seq(const policy_t *p, zone_t *const *v, size_t n);
bool sign_keys_unchanged(const policy_t *p, zone_t *const *v, size_t n, uint64_t seq);

enum { ZONE_T_RRSIG = 46, ZONE_T_NSEC = 47, ZONE_T_DNSKEY = 48, ZONE_T_CDS = 59, ZONE_T_CDNSKEY = 60 };
