/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dmarc.h -- DMARC policy records (RFC 9989, RFC 9990, RFC 7489) and report URIs */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/diag.h"
#include "policy/mn.h"
#include "policy/policy.h"	/* dmarc_p_t */

typedef enum { DMARC_URI_MAILTO = 1, DMARC_URI_HTTPS } dmarc_scheme_t;

/* One report destination of rua= or ruf=. */
typedef struct dmarc_dest {
	char *uri;		/* as written, without the "!size" suffix */
	dmarc_scheme_t scheme;
	char *domain;		/* mailto: the address's domain; https: the host; lowercase, no final dot */
	bool ruf;		/* from ruf= (else rua=) */
	uint64_t max_size;	/* bytes from "!size" (k m g t are powers of 2), 0 when absent */
} dmarc_dest_t;

typedef struct dmarc_info {
	int p, sp, np;		/* dmarc_p_t, -1 when the tag is absent (or invalid) */
	dmarc_dest_t *dests;	/* rua destinations, then ruf ones, each in record order */
	size_t ndests;
} dmarc_info_t;

/* Frees what *info owns and zeroes it; NULL is a no-op. */
void dmarc_info_clear(dmarc_info_t *info);
void dmarc_dest_clear(dmarc_dest_t *dest);

/*
 * Checks one DMARC record ("v=DMARC1; p=reject; rua=mailto:d@example.com",
 * TXT strings joined) and adds every problem at pos, each message starting
 * "DMARC: ".  Errors: tag-list syntax (shared with DKIM, RFC 6376 §3.2),
 * duplicate tags, v=DMARC1 not first, p missing or not second, bad values of
 * p sp np (none|quarantine|reject), adkim aspf (r|s), fo (0:1:d:s), psd
 * (y|n|u), t (y|n), pct (0..100), ri (seconds), bad rua/ruf URIs (see
 * dmarc_uri_check).  Warnings: pct, rf, ri (removed by RFC 9989), unknown
 * tags (ignored), sp or np weaker than p.
 * Returns MN_OK (diag says whether there were errors), MN_ESYNTAX when the
 * text is not a DMARC record (tag-list syntax, no v=DMARC1 first; also in
 * diag), MN_EINVAL, MN_ENOMEM.  On MN_OK, info (may be NULL) is filled: the
 * caller frees it with dmarc_info_clear().  The destinations' domains are
 * those that need a "<D>._report._dmarc.<dest>" authorization record when
 * they lie outside the domain (RFC 9990 §3 / RFC 7489 §7.1).
 */
int dmarc_record_check(const char *text, const mn_pos_t *pos, diag_t *diag, dmarc_info_t *info);

/*
 * Checks one report URI as written in rua= or ruf= (tag is "rua" or "ruf"
 * for messages): "mailto:" with an addr-spec (percent-encoding decoded,
 * hfields after '?' ignored) or "https://host...", each with an optional
 * "!size" (1*DIGIT [k|m|g|t]).  Errors go to diag (may be NULL) at pos.
 * Returns MN_OK and fills *out (may be NULL; free with dmarc_dest_clear),
 * MN_ESYNTAX when the URI is bad, MN_ENOMEM, MN_EINVAL.
 */
int dmarc_uri_check(const char *uri, const char *tag, const mn_pos_t *pos, diag_t *diag, dmarc_dest_t *out);

/* "none" / "quarantine" / "reject" (case-insensitive) to dmarc_p_t, -1 otherwise. */
int dmarc_p_parse(const char *s);
