/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sigcache.h -- a zone's RRSIGs kept in state_dir/dnssec/ZONE/sigs, reused while valid */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The signatures of one zone, keyed by a SHA-256 of what an RRSIG signs
 * except its inception and expiration (covered type, algorithm, labels,
 * original TTL, key tag, signer, the RRset): an unchanged RRset signed by
 * the same key finds its signature (sign.c mixes a digest of the whole
 * DNSKEY into the key: another key of the same tag finds none).  The file is
 * "MNSIG2\n", per entry the 32-byte key, a 16-bit length and the RRSIG RDATA,
 * then SHA-256 over the zone's name, a NUL and all that.  Freed with
 * sigcache_free (NULL: no-op).  One thread at a time.
 */
typedef struct sigcache sigcache_t;

int sigcache_new(sigcache_t **out);
void sigcache_free(sigcache_t *c);
/*
 * The signatures stored for zone (empty when there are none yet, or the
 * zone's directory does not exist).  A file that does not parse or fails its
 * checksum (damaged in place, another zone's, an older format) is taken as
 * empty (everything is signed anew, a warning logged but for an older format);
 * MN_ESYMLINK and read errors are returned.
 */
int sigcache_load(const char *state_dir, const char *zone, sigcache_t **out);
/* The RRSIG RDATA stored under key, or NULL. */
const uint8_t *sigcache_find(const sigcache_t *c, const uint8_t key[32], uint16_t *len);
/* Adds an entry (copied); a key is added once (a zone has each RRset once). */
int sigcache_add(sigcache_t *c, const uint8_t key[32], const uint8_t *rrsig, uint16_t len);
/*
 * Writes c as the zone's file (atomically, 0640, in the zone's key directory,
 * which must exist) unless its content is the same as was loaded into old.
 */
int sigcache_save(sigcache_t *c, const sigcache_t *old, const char *state_dir, const char *zone);
size_t sigcache_count(const sigcache_t *c);
