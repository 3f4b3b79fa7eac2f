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

/* The keys a zone signs with: one CSK, or a KSK and a ZSK. */
typedef struct dnskey_set {
	dnskey_t *ksk;			/* the SEP key (a CSK when zsk is NULL); NULL: no key */
	dnskey_t *zsk;			/* NULL for a CSK */
} dnskey_set_t;

void dnskey_set_clear(dnskey_set_t *s);	/* frees the keys; the set is empty after */

/*
 * The keys of zone (normalized name) in state_dir/dnssec/ZONE/: each key is
 * K.pem (the private key) and K.key (algorithm, flags, created, state; the
 * key exists once this file does), K = "TAG-CREATED".  The newest active SEP
 * key and the newest active ZSK are taken.  With none there and create, the
 * keys alg and shape ask for are made and written first (directories 0750,
 * files 0640, each atomically, nothing below state_dir followed through a
 * symbolic link; as root, new entries take the owner and group of the
 * directory above them, so the server keeps reading them); without create,
 * *out stays empty.  *matches tells whether the keys found have alg and
 * shape (a change needs a rollover).  MN_OK, MN_ESTATE for a key file that
 * does not read, or a negative errno.
 */
int dnskey_zone_keys(const char *state_dir, const char *zone, dnssec_alg_t alg, dnssec_keys_t shape,
		     bool create, time_t now, dnskey_set_t *out, bool *matches);

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
