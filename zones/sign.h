/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sign.h -- DNSSEC signing of a finished zone: DNSKEY, CDS, CDNSKEY, the NSEC chain, RRSIGs */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keys/dnskey.h"
#include "zones/zone.h"

typedef struct sign_opts {
	time_t now;		/* signatures valid from now - 1 h (clocks behind) ... */
	uint32_t validity;	/* ... to now + validity seconds */
	size_t *signatures;	/* NULL, or increased by the number of signatures made */
} sign_opts_t;

/*
 * The signed form of the finished zone z, a new finished zone (*out, freed
 * with zone_free; z is not changed), with the same serial: z's records; at
 * the apex the DNSKEY RRset (keys->ksk, and keys->zsk when not NULL; TTL of
 * the SOA), and a CDS (SHA-256) and CDNSKEY for the SEP key (RFC 7344); one
 * NSEC per owner name in canonical order (RFC 4034 §6.1), the last pointing
 * back to the apex, its bitmap the owner's types with RRSIG and NSEC, TTL
 * z->negative_ttl (RFC 9077); and an RRSIG for every RRset (RFC 4034 §3.1.8.1:
 * labels without a wildcard's `*`, original TTL, signer the apex), made by
 * the SEP key for DNSKEY, CDS and CDNSKEY and by keys->zsk (the SEP key when
 * NULL) for the others.  A zone must get its serial before it is signed: the
 * SOA's signature covers it.  MN_EINVAL without a SEP key or for an
 * unfinished zone, MN_ESTATE when OpenSSL fails, MN_ENOMEM.
 */
int sign_zone(const zone_t *z, dnskey_set_t *keys, const sign_opts_t *o, zone_t **out);

enum { ZONE_T_RRSIG = 46, ZONE_T_NSEC = 47, ZONE_T_DNSKEY = 48, ZONE_T_CDS = 59, ZONE_T_CDNSKEY = 60 };
