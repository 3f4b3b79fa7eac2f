/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chain.h -- pack SPF terms into one record or a chain of included parts */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Size rules for one TXT record: every character-string <= 255 bytes (the
 * zone splits the text), and the UDP response to a TXT query for its owner
 * without EDNS <= 512 bytes: 12 (header) + owner wire length + 4 (question)
 * + 2 (compressed owner) + 10 + RDATA.
 */
#define CHAIN_UDP_MAX 512
/* Bytes of that response for text at an owner of wire length owner_wire. */
size_t chain_response_size(size_t owner_wire, size_t textlen);
bool chain_fits(size_t owner_wire, size_t textlen);

/* Does an SPF term cost a DNS lookup (a, mx, include, exists, ptr, redirect)? */
bool chain_term_is_lookup(const char *term);

typedef struct chain_rec {
	char *owner;		/* normalized name: the root, or c<N>-<hex8>.<root> */
	char *text;		/* the record */
} chain_rec_t;

typedef struct chain {
	chain_rec_t *v;		/* v[0] is the root */
	size_t n;
	unsigned lookups;	/* from the apex: include of the root + part includes + lookup terms */
} chain_t;

/*
 * Packs terms (in order) into the root record at root ("_spf.example.com"),
 * "v=spf1 TERMS... <all_term>".  When that does not fit, the root holds as
 * many terms as fit plus "include:" of parts named c<N>-<hex8>.<root>
 * (hex8: the first 4 bytes of SHA-256 over the terms joined by spaces), each
 * part "v=spf1 TERMS..." without an all term.  MN_ERANGE when a name would be
 * too long or one term cannot fit a record.  Free with chain_free().
 */
int chain_build(const char *root, char *const *terms, size_t nterms, const char *all_term,
		chain_t *out);
void chain_free(chain_t *c);

/*
 * The DNS lookups a chain of these terms needs at least: what chain_build()
 * reports when it succeeds, and an estimate (parts packed full) when it cannot
 * build the chain because the root cannot even hold the includes.
 */
unsigned chain_lookups_needed(const char *root, char *const *terms, size_t nterms, const char *all_term);
