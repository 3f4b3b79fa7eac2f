/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keypair.h -- DKIM key pairs with OpenSSL EVP: generation, private PEM, public DNS record */
#pragma once

#include <stddef.h>

#include "policy/policy.h"

typedef struct evp_pkey_st keypair_t;	/* an OpenSSL EVP_PKEY */

/*
 * A new key pair of algorithm alg (RSA 1024..4096 bits with e = 65537, or
 * Ed25519).  Free with keypair_free().  MN_EINVAL for an unknown alg,
 * MN_ESTATE when OpenSSL fails.
 */
int keypair_new(dkim_alg_t alg, keypair_t **out);
void keypair_free(keypair_t *k);	/* NULL is a no-op */

/*
 * The private key in PEM (RSA: "BEGIN RSA PRIVATE KEY", PKCS#1, which every
 * signer reads; Ed25519: "BEGIN PRIVATE KEY", PKCS#8).  *pem is malloc'd and
 * NUL-terminated, *len without the NUL.
 */
int keypair_pem(const keypair_t *k, char **pem, size_t *len);
/* Reads a PEM private key (either form) from text. */
int keypair_from_pem(const char *pem, size_t len, keypair_t **out);

/*
 * The public half as a DKIM key record (malloc'd): RSA "v=DKIM1; k=rsa; p=" +
 * base64 DER SubjectPublicKeyInfo; Ed25519 "v=DKIM1; k=ed25519; p=" + base64
 * of the raw 32-byte key (RFC 8463).  No string splitting: the zone compiler
 * splits at 255 bytes.
 */
int keypair_record(const keypair_t *k, char **record);
