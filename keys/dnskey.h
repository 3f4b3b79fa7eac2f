/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dnskey.h -- DNSSEC signing keys: OpenSSL EVP, DNSKEY RDATA, key tag, DS, state_dir/dnssec/ZONE */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/policy.h"

enum {
	DNSKEY_FLAGS_ZSK = 256,		/* Zone Key */
	DNSKEY_FLAGS_SEP = 257,		/* Zone Key + Secure Entry Point: a KSK or a CSK */
	DNSKEY_RDATA_MAX = 4 + 64,	/* flags, protocol, algorithm, the P-256 point */
	DNSKEY_SIG_MAX = 64,		/* ECDSA P-256 r||s and Ed25519 */
	DNSKEY_DS_LEN = 4 + 32,		/* key tag, algorithm, digest type 2, SHA-256 */
};

/*
 * One DNSSEC key pair.  Signing reuses one prepared OpenSSL context per key:
 * a key signs on one thread at a time.  Freed with dnskey_free().
 */
typedef struct dnskey dnskey_t;

/*
 * A new key pair: alg DNSSEC_ALG_ECDSAP256SHA256 (P-256) or DNSSEC_ALG_ED25519,
 * flags DNSKEY_FLAGS_SEP or DNSKEY_FLAGS_ZSK, created at now.  MN_EINVAL for
 * another alg or flags, MN_ESTATE when OpenSSL fails, MN_ENOMEM.
 */
int dnskey_new(dnssec_alg_t alg, uint16_t flags, time_t now, dnskey_t **out);
void dnskey_free(dnskey_t *k);	/* NULL is a no-op */

dnssec_alg_t dnskey_alg(const dnskey_t *k);
uint16_t dnskey_flags(const dnskey_t *k);
uint16_t dnskey_tag(const dnskey_t *k);		/* RFC 4034 Appendix B */
time_t dnskey_created(const dnskey_t *k);
/* The DNSKEY RDATA (flags, protocol 3, algorithm, public key): *len bytes in the key. */
const uint8_t *dnskey_rdata(const dnskey_t *k, uint16_t *len);
/* The key tag of any DNSKEY RDATA (RFC 4034 Appendix B). */
uint16_t dnskey_rdata_tag(const uint8_t *rdata, size_t len);

/*
 * The DS (and CDS) RDATA of the key for owner (uncompressed wire, any case:
 * hashed lowercase), digest type 2 (SHA-256): DNSKEY_DS_LEN bytes into ds.
 */
int dnskey_ds(const dnskey_t *k, const uint8_t *owner, size_t owner_len, uint8_t ds[DNSKEY_DS_LEN]);

/*
 * Signs data (RFC 4034 §3.1.8.1 signed data): ECDSAP256SHA256 as r||s, 64
 * bytes (RFC 6605); Ed25519 64 bytes (RFC 8080).  *siglen is the length.
 * MN_ESTATE when OpenSSL fails.
 */
int dnskey_sign(dnskey_t *k, const uint8_t *data, size_t len, uint8_t sig[DNSKEY_SIG_MAX], size_t *siglen);

/* The private key as PKCS#8 PEM (malloc'd, NUL-terminated; *len without the NUL); and back. */
int dnskey_pem(const dnskey_t *k, char **pem, size_t *len);
int dnskey_from_pem(const char *pem, size_t len, uint16_t flags, time_t created, dnskey_t **out);

/* ---- a zone's keys: roles, states (RFC 7583), the DS at the parent ---------------- */

typedef enum { DNSKEY_ROLE_CSK = 0, DNSKEY_ROLE_KSK, DNSKEY_ROLE_ZSK } dnskey_role_t;

/*
 * A key's state (RFC 7583 §3.1 terms; PRESIGN and POSTSIGN for an algorithm
 * rollover, RFC 6781 §4.1.4): in the DNSKEY RRset from PUBLISHED to RETIRED;
 * what it signs is dnskey_set_use().
 */
typedef enum {
	DNSKEY_PRESIGN = 0,	/* generated; its algorithm's signatures first, not in DNSKEY */
	DNSKEY_PUBLISHED,	/* in DNSKEY; waits the DNSKEY TTL + propagation */
	DNSKEY_READY,		/* known to every cache; a SEP key waits for its DS at the parent */
	DNSKEY_ACTIVE,		/* signs */
	DNSKEY_RETIRED,		/* in DNSKEY, replaced; waits the zone's TTLs (and its DS gone) */
	DNSKEY_POSTSIGN,	/* out of DNSKEY, its algorithm's signatures still served */
	DNSKEY_REMOVED,		/* a tombstone: the private key is destroyed */
	DNSKEY_STATE_COUNT
} dnskey_state_t;

/* A SEP key's DS at the parent. */
typedef enum {
	DNSKEY_DS_NONE = 0,	/* not followed (a zone's first key, a ZSK) */
	DNSKEY_DS_SUBMITTED,	/* mailns delegation prints it: to be published at the parent */
	DNSKEY_DS_SEEN,		/* seen at the parent over DNS at ds_changed */
	DNSKEY_DS_WITHDRAWN,	/* the key is replaced: to be removed at the parent */
	DNSKEY_DS_GONE,		/* seen gone from the parent at ds_changed */
	DNSKEY_DS_COUNT
} dnskey_ds_t;

/*
 * The metadata of one key, K.key in state_dir/dnssec/ZONE/ (K = id):
 *     algorithm 13 / flags 257 / created T / state active        (every version)
 *     role csk / changed T / ds seen / ds_changed T / ds_ttl N   (since rollovers)
 * A file without role is of before rollovers: the SEP key is a CSK unless a
 * ZSK is beside it; changed is created; ds none.  Times are Unix seconds.
 */
typedef struct dnskey_meta {
	char id[32];			/* "TAG-CREATED": K.pem, K.key */
	dnssec_alg_t alg;
	uint16_t flags, tag;
	dnskey_role_t role;
	dnskey_state_t state;
	dnskey_ds_t ds;
	time_t created, changed;	/* changed: when it entered its state */
	time_t ds_changed;		/* when ds took its value */
	uint32_t ds_ttl;		/* the parent's DS TTL, as last seen (0: unknown) */
} dnskey_meta_t;

const char *dnskey_state_name(dnskey_state_t s);	/* "published", ... */
const char *dnskey_ds_name(dnskey_ds_t d);		/* "submitted", ... */
const char *dnskey_role_name(dnskey_role_t r);		/* "csk", "ksk", "zsk" */
/* The metadata file's text (malloc'd, NUL-terminated), NULL on ENOMEM. */
char *dnskey_meta_text(const dnskey_meta_t *m);
/* Parses K.key's text (MN_ESTATE when a required line is missing); role and changed as above. */
int dnskey_meta_parse(const char *text, dnskey_meta_t *m, bool *has_role);

/* What a key of a set does in the signed zone (dnskey_set_use). */
enum {
	DNSKEY_USE_DNSKEY = 1,		/* in the DNSKEY RRset */
	DNSKEY_USE_CDS = 2,		/* in CDS and CDNSKEY (a SEP key that is not replaced) */
	DNSKEY_USE_SIGN_KEYS = 4,	/* signs DNSKEY, CDS, CDNSKEY */
	DNSKEY_USE_SIGN_DATA = 8,	/* signs every other RRset */
};
enum { DNSKEY_SET_MAX = 8 };

/*
 * The keys a zone signs with.  ksk and zsk: the active SEP key and ZSK (zsk
 * NULL for a CSK); a set built by hand may set only those (n == 0: the SEP
 * key is published and signs DNSKEY, the ZSK or else the SEP key signs the
 * rest).  dnskey_zone_keys fills v[0..n) with every key of the zone that is
 * not removed (owned), meta[i] its metadata, use[i] its DNSKEY_USE_* bits;
 * ksk and zsk then point into v.
 */
typedef struct dnskey_set {
	dnskey_t *ksk;
	dnskey_t *zsk;
	size_t n;
	dnskey_t *v[DNSKEY_SET_MAX];
	dnskey_meta_t meta[DNSKEY_SET_MAX];
	unsigned use[DNSKEY_SET_MAX];
} dnskey_set_t;

void dnskey_set_clear(dnskey_set_t *s);	/* frees the keys; the set is empty after */
/*
 * The keys of s with any of the use bits, in the set's order, into out (at
 * most max): the number found.  The rules (RFC 6781 §4.1.4: every algorithm
 * of the DNSKEY RRset signs every RRset):  DNSKEY for PUBLISHED..RETIRED; CDS
 * for SEP keys PUBLISHED..ACTIVE; SIGN_KEYS for an ACTIVE SEP key, and for a
 * PUBLISHED, READY or RETIRED one when no ACTIVE SEP key has its algorithm;
 * SIGN_DATA for an ACTIVE ZSK or CSK, and for one in any other state but
 * REMOVED when no ACTIVE ZSK or CSK has its algorithm.
 */
size_t dnskey_set_keys(const dnskey_set_t *s, unsigned use, dnskey_t **out, size_t max);
/* The DNSKEY_USE_* bits of metas[i] among metas[0..n) (the rules above). */
unsigned dnskey_meta_use(const dnskey_meta_t *metas, size_t n, size_t i);

/*
 * The keys of zone (normalized name) in state_dir/dnssec/ZONE/: each key is
 * K.pem (the private key) and K.key (its dnskey_meta_t; the key exists once
 * this file does), K = "TAG-CREATED".  Every key not removed is loaded into
 * out (dnskey_set_t above).  With none there and create, the keys alg and
 * shape ask for are made ACTIVE and written first (directories 0750,
 * files 0640, each atomically, nothing below state_dir followed through a
 * symbolic link; as root, new entries take the owner and group of the
 * directory above them, so the server keeps reading them); without create,
 * *out stays empty.  *matches tells whether the active keys have alg and
 * shape (a change needs a rollover).  MN_OK, MN_ESTATE for a key file that
 * does not read, MN_ERANGE for more than DNSKEY_SET_MAX keys, or a negative errno.
 */
int dnskey_zone_keys(const char *state_dir, const char *zone, dnssec_alg_t alg, dnssec_keys_t shape,
		     bool create, time_t now, dnskey_set_t *out, bool *matches);

/*
 * The metadata of every key of the zone, removed ones included, sorted by
 * created then tag (*out malloc'd, freed with free(); none: *n = 0, also
 * when the directory is missing).  Reads no private key.
 */
int dnskey_zone_list(const char *state_dir, const char *zone, dnskey_meta_t **out, size_t *n);
/*
 * Writes a new key k of the zone (created if missing, as dnskey_zone_keys
 * does) with metadata m (m->id, tag, alg, flags and created are set from k):
 * K.pem first, then K.key; each counts as one step (keystore_step).
 */
int dnskey_zone_add(const char *state_dir, const char *zone, const dnskey_t *k, dnskey_meta_t *m);
/* Replaces K.key of an existing key with m (one atomic write, one step). */
int dnskey_zone_update(const char *state_dir, const char *zone, const dnskey_meta_t *m);
/* Destroys K.pem of key id (MN_OK also when it is not there; one step when it was). */
int dnskey_zone_destroy(const char *state_dir, const char *zone, const char *id);

/*
 * Other files of a zone's key directory state_dir/dnssec/ZONE/ (the stored
 * signatures): dnskey_dir_read reads the regular file name there (not through
 * a link; *out malloc'd, NUL-terminated, at most max bytes: MN_ERANGE above;
 * MN_ENOENT when it or the directory is missing); dnskey_dir_write replaces
 * it atomically (0640, owned like the directory when root writes it; the
 * directory must exist).
 */
int dnskey_dir_read(const char *state_dir, const char *zone, const char *name, size_t max, char **out, size_t *len);
int dnskey_dir_write(const char *state_dir, const char *zone, const char *name, const void *data, size_t len);
