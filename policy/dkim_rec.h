/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dkim_rec.h -- DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463) and tag-lists */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy/diag.h"
#include "policy/mn.h"

/*
 * Tag-lists (RFC 6376 §3.2), also used by DMARC records (RFC 9989):
 * "tag=value; tag=value[;]", whitespace allowed around tags, '=' and values,
 * and inside values; tag names are ALPHA *(ALPHA / DIGIT / "_"), case-sensitive.
 */
typedef struct dkim_tag {
	char *name;
	char *value;		/* leading and trailing whitespace removed */
} dkim_tag_t;

typedef struct dkim_tags {
	dkim_tag_t *v;		/* the well-formed tags, in record order, without duplicates */
	size_t n;
	unsigned bad;		/* malformed tag-specs and duplicates (each reported) */
} dkim_tags_t;

/*
 * Splits text into tags.  Every malformed tag-spec and every duplicate tag
 * (RFC 6376 §3.2: the whole list is then invalid) is added to diag (may be
 * NULL) as an error at pos, prefixed "WHAT: " (what is "DKIM" or "DMARC"), and
 * counted in bad; the first of duplicate tags is kept.  *out is a new list
 * (free with dkim_tags_free) even when bad > 0.  Returns MN_OK, MN_EINVAL or
 * MN_ENOMEM.
 */
int dkim_tags_parse(const char *text, const char *what, const mn_pos_t *pos, diag_t *diag, dkim_tags_t **out);
void dkim_tags_free(dkim_tags_t *tags);	/* NULL is a no-op */
/* The value of tag name, or NULL; *index (may be NULL) gets its position in v. */
const char *dkim_tags_get(const dkim_tags_t *tags, const char *name, size_t *index);

typedef enum { DKIM_KEY_NONE = 0, DKIM_KEY_RSA, DKIM_KEY_ED25519 } dkim_key_type_t;

typedef struct dkim_key_info {
	dkim_key_type_t type;	/* from k= (default rsa); NONE when k= is unknown */
	unsigned bits;		/* RSA modulus bits, 256 for Ed25519, 0 when p= did not parse */
	bool revoked;		/* p= is empty (RFC 6376 §3.6.1) */
	bool testing;		/* t=y */
} dkim_key_info_t;

/*
 * Checks one DKIM key record ("v=DKIM1; k=rsa; p=MIIB...", TXT strings
 * joined) and adds every problem at pos, each message starting "DKIM: ".
 * Errors: tag-list syntax, duplicate tags, v= not first or not DKIM1,
 * k= not rsa or ed25519, h= with sha1 only (RFC 8301 §3.1) or no known hash,
 * p= missing, not base64, not a key of type k (RSA: SubjectPublicKeyInfo or
 * PKCS#1 RSAPublicKey DER; Ed25519: 32 raw bytes, RFC 8463 §4.2), RSA
 * below 1024 bits (RFC 8301 §3.2).  Warnings: RSA below 2048 bits, t=y,
 * unknown hashes in h=, unknown service types in s=.  Unknown tags are
 * ignored (RFC 6376 §3.6.1).  An empty p= is a revoked key: allowed.
 * Returns MN_OK (diag says whether there were errors), MN_ESYNTAX when the
 * tag-list does not parse (also in diag), MN_EINVAL, MN_ENOMEM.  info (may be
 * NULL) is written on MN_OK.
 */
int dkim_key_record_check(const char *text, const mn_pos_t *pos, diag_t *diag, dkim_key_info_t *info);
