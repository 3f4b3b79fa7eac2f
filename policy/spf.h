/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spf.h -- SPF record syntax (RFC 7208 §12) and the rules checked before publishing */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy/diag.h"
#include "policy/mn.h"

/* Kinds of terms (RFC 7208 §5 mechanisms, §6 modifiers). */
typedef enum {
	SPF_ALL = 0,
	SPF_INCLUDE,
	SPF_A,
	SPF_MX,
	SPF_PTR,
	SPF_IP4,
	SPF_IP6,
	SPF_EXISTS,
	SPF_REDIRECT,		/* modifier redirect= */
	SPF_EXP,		/* modifier exp= */
	SPF_MODIFIER,		/* any other name=value (RFC 7208 §6: ignored) */
} spf_kind_t;

typedef struct spf_term {
	spf_kind_t kind;
	char qual;		/* '+', '-', '~', '?' for mechanisms (default '+'); 0 for modifiers */
	char *text;		/* the term as written */
	char *name;		/* SPF_MODIFIER: its name as written; else NULL */
	char *domain;		/* domain-spec (or modifier value) as written; NULL when absent */
	bool has_macro;		/* domain contains a macro-expand (%{..}, %%, %_, %-) */
	mn_net_t net;		/* SPF_IP4/SPF_IP6: the network, host bits cleared */
	int cidr4, cidr6;	/* a/mx dual-cidr (ip4/ip6: the prefix); -1 when not written */
} spf_term_t;

typedef struct spf_record {
	spf_term_t *terms;	/* in record order */
	size_t n;
} spf_record_t;

/*
 * Parses an SPF record ("v=spf1 ..." as one string, the TXT strings already
 * joined).  On success *out is a new record (free with spf_record_free).
 * Any grammar error (RFC 7208 §12: version, term syntax, macros, CIDR
 * lengths, domain-specs) returns MN_ESYNTAX and leaves *out untouched;
 * spf_record_check() says what is wrong.
 */
int spf_record_parse(const char *text, spf_record_t **out);
void spf_record_free(spf_record_t *rec);	/* NULL is a no-op */

/* What spf_record_check() found out about a record. */
typedef struct spf_info {
	unsigned terms;		/* well-formed terms */
	unsigned lookups;	/* include a mx ptr exists redirect terms (RFC 7208 §4.6.4),
				   all of them, even those never evaluated */
	bool has_all;
	char all_qual;		/* qualifier of the first 'all' ('+' '-' '~' '?'), 0 without */
	bool has_redirect;
	bool has_exp;
	bool has_ptr;
	bool has_macro;		/* some domain-spec uses a macro */
} spf_info_t;

/*
 * Checks one SPF record against RFC 7208 and adds every problem to diag
 * (error or warning) at pos, each message starting with "SPF: " and naming the
 * term.  Errors: grammar (§12), unknown mechanism, macro syntax and the
 * letters c, r, t outside exp= (§7.2), CIDR lengths, domain-specs (label 63,
 * name 253), '+all' (or 'all'), ip4/ip6 /0, more than 10 lookup terms in
 * this record (§4.6.4; callers account for the apex include), duplicate
 * redirect=/exp= (§6).  Warnings: redirect= beside all (§6.1), mechanisms
 * after all, ptr (§5.5), '?all', unknown modifiers, ip4/ip6 with host bits set.
 * Message order: per term in record order, then redirect-beside-all and the
 * lookup count.
 * Returns MN_OK (diag says whether there were errors), MN_ESYNTAX when the
 * text is not an SPF record at all (no 'v=spf1' first: also an error in
 * diag), MN_EINVAL on bad arguments.  info (may be NULL) is written on MN_OK.
 */
int spf_record_check(const char *text, const mn_pos_t *pos, diag_t *diag, spf_info_t *info);

/* "all", "include", ..., "exp", "modifier". */
const char *spf_kind_name(spf_kind_t kind);
