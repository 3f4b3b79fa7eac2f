/* SPDX-License-Identifier: GPL-3.0-or-later */
/* records.h -- record text builders: DMARC, plain SPF, network merging, report targets */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy/buf.h"
#include "policy/policy.h"

/*
 * "v=DMARC1; p=reject; sp=...": v, p, then sp np psd t adkim aspf fo rua ruf
 * pct rf ri when set.  malloc'd; NULL on ENOMEM.
 */
char *rec_dmarc_text(const policy_dmarc_t *d);

/*
 * The MTA-STS policy file (RFC 8461 §3.2): "version: STSv1", mode, one "mx:"
 * line per pattern, max_age in seconds, each line ending CRLF.  malloc'd;
 * NULL on ENOMEM.
 */
char *rec_mta_sts_policy(const policy_mta_sts_t *m);
/* The id of a policy text: the first 32 hex digits of its SHA-256, into out (>= 33 bytes). */
int rec_mta_sts_id(const char *policy_text, char *out, size_t outsize);
/* "v=STSv1; id=ID" of m's policy file, malloc'd; NULL on ENOMEM. */
char *rec_mta_sts_text(const policy_mta_sts_t *m);
/* "v=TLSRPTv1; rua=URI,URI" (RFC 8460 §3), malloc'd; NULL on ENOMEM. */
char *rec_tlsrpt_text(const policy_tls_rpt_t *t);
/* "v=BIMI1; l=LOGO; a=AUTHORITY" (a= omitted when unset), malloc'd; NULL on ENOMEM. */
char *rec_bimi_text(const policy_bimi_t *b);

/* "-all", "~all", "?all", "+all". */
const char *rec_spf_all_term(int all);

/*
 * The domain of a "mailto:" report URI ("mailto:d%40x@Example.COM!10m" ->
 * "example.com") as dmarc_uri_check() reads it (percent-decoded, RFC 6068),
 * normalized, into out (>= 254 bytes).  false for other or invalid URIs.
 */
bool rec_mailto_domain(const char *uri, char *out, size_t outsize);

/*
 * Merges networks of one family (adjacent and overlapping) into the smallest
 * sorted list of CIDR blocks covering exactly the same addresses.  *out is
 * malloc'd (NULL when n is 0 and the result is empty); caller frees.
 */
int rec_nets_merge(const mn_net_t *in, size_t n, mn_net_t **out, size_t *nout);

/*
 * The SPF terms of a domain that are not networks, in order a, mx, include:
 * "a:NAME", "mx:DOMAIN", "include:NAME".  (mx names the domain explicitly:
 * the record is evaluated through include:_spf.D, where a bare "mx" would mean
 * the MX of _spf.D.)  Each string and the array malloc'd; free with
 * rec_terms_free().
 */
int rec_spf_kept_terms(const char *domain, const policy_spf_t *s, char ***out, size_t *n);
/* Networks as "ip4:..."/"ip6:..." terms, in the order given. */
int rec_spf_net_terms(const mn_net_t *nets, size_t n, char ***out, size_t *nout);
/*
 * The same terms in one block: the n pointers, then the strings (a compile
 * makes them for every domain's networks); one free().  NULL: no memory.
 */
char **rec_spf_net_block(const mn_net_t *nets, size_t n);
void rec_terms_free(char **v, size_t n);
