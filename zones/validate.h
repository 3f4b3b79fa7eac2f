/* SPDX-License-Identifier: GPL-3.0-or-later */
/* validate.h -- the publishing rules (SPEC §6) applied to every compiled record, at its policy position */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/keystore.h"
#include "policy/diag.h"
#include "policy/policy.h"
#include "zones/zone.h"

/*
 * compile.c builds records and hands each to these checks with the policy
 * positions its parts came from; the checks themselves are the record
 * validators of libpolicy (spf.h, dkim_rec.h, dmarc.h).  A validate_t
 * remembers which positions it has already checked, so a value merged from
 * `defaults:` into every domain is reported once, not once per domain.
 */
typedef struct validate validate_t;

/* diag is borrowed (must outlive the validate_t).  Free with validate_free(). */
int validate_new(diag_t *diag, validate_t **out);
void validate_free(validate_t *v);	/* NULL is a no-op */
/*
 * A validate_t for one part of the domains, checked on another thread with
 * its own diag; validate_join() then appends that diag's messages to v's
 * diag in their order, leaving out each one v (or an earlier part) already
 * reported at the same position: the result is what one validate_t checking
 * the parts one after the other reports.
 */
int validate_part(diag_t *diag, validate_t **out);
int validate_join(validate_t *v, const validate_t *part);

/*
 * The compile cache records each domain's messages on their own: a part
 * validate_t starts a new scope per domain (forgetting which positions it
 * reported, keeping what it learned about clean DKIM records) with a fresh
 * diag; validate_scope_key() tells whether message idx of that diag is
 * reported once per position, and its key; validate_first() is the filter
 * those keys pass when the messages are replayed into the whole compile's
 * diag in domain order -- the same messages one validate_t reports.
 */
int validate_scope(validate_t *part, diag_t *diag);
bool validate_scope_key(const validate_t *part, size_t idx, uint64_t *key);
bool validate_first(validate_t *v, uint64_t key);
bool validate_oom(const validate_t *v);

/* Where SPF problems of a domain without a more precise source are reported:
 * spf.mode, else the first spf key set, else the domain. */
const mn_pos_t *validate_spf_pos(const policy_domain_t *d);

/* The position of the policy entry a generated network came from: the widest
 * entry of d inside it (the first of equals), else spf.ip4/ip6, else validate_spf_pos(d). */
const mn_pos_t *validate_net_pos(const policy_domain_t *d, const mn_net_t *net);

/* One generated SPF term and the policy value it came from. */
typedef struct validate_term {
	const char *text;	/* "ip4:192.0.2.0/24", "include:x.example", "-all" */
	const mn_pos_t *pos;	/* borrowed; when NULL, validate_net_pos(d, net) */
	const mn_net_t *net;	/* borrowed: found only when a message needs it */
} validate_term_t;

/*
 * Checks one compiled SPF record (root or chained part) with spf_record_check();
 * every problem that names a term (quoted) is reported at that term's
 * position in terms, the others at validate_spf_pos(d).  The record's own
 * lookup count is left out: compile.c counts from the apex include.  Also an
 * error for each term longer than one TXT character-string (255 bytes).
 */
int validate_spf_record(validate_t *v, const policy_domain_t *d, const char *text,
			const validate_term_t *terms, size_t nterms);

/* Every `selectors:` record of d through dkim_key_record_check(), at the record value. */
int validate_dkim_selectors(validate_t *v, const policy_domain_t *d);
/* The key store's published records of domain, reported without a policy position
 * as "state_dir/keys/DOMAIN/published: selector S: DKIM: ..." (the words
 * "state_dir/" as written, so that messages do not depend on where the tree is). */
int validate_dkim_store(validate_t *v, const char *domain, const keystore_pub_t *keys, size_t nkeys);

/*
 * DMARC of d: each rua/ruf entry through dmarc_uri_check() at its position,
 * sp/np weaker than p (warning at sp/np), a mailto: destination outside d and
 * not hosted by this policy (warning: it needs D._report._dmarc.DEST), and the
 * compiled record text through dmarc_record_check() (an error there is a bug
 * of the compiler: reported at p).
 */
int validate_dmarc(validate_t *v, const policy_t *p, const policy_domain_t *d, const char *text);

/*
 * Rules over the whole compiled set (zs sorted by apex): no zone inside
 * another zone (a domain under another's _dmarc/_spf/_domainkey), one SPF
 * (DMARC) record per owner name, and the SPF include/a/mx targets that lie in
 * the served zones: an include without an SPF record there is an error, a
 * name without the records an a/mx needs is a void lookup (warning; more than
 * 2 in one domain's evaluation: error).
 *
 * Limited to what can have changed: a zone checked once for one record per
 * name is not checked again (its records are fixed once finished, and the
 * compile cache hands the same zone to the next compile), and the nesting of
 * zones is not checked when validate_names_known() said the apexes are those
 * of the last compile that passed.
 */
int validate_zones(validate_t *v, const policy_t *p, const zones_t *zs);
/* The apexes of the set given to validate_zones() are those of a set that passed it. */
void validate_names_known(validate_t *v);
/*
 * Beside the zones given to validate_zones() (zs->v order, kept by the
 * caller until then): known[i] true says zs->v[i] passed the per-zone rules
 * in a compile that passed (a zone reused from the compile cache), so it is
 * not read again.  NULL: every zone is looked at.
 */
void validate_known_zones(validate_t *v, const bool *known);
