/* SPDX-License-Identifier: GPL-3.0-or-later */
/* html.h -- one self-contained HTML page of a report summary and its advice */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "reports/advise.h"
#include "reports/summary.h"

/*
 * Renders summary s and the advice of each domain (advice[i] is that of
 * s->v[i]; advice, or any advice[i], may be NULL: no advice box) into one
 * page: inline CSS and SVG, no script, no external resource.  Everything
 * that came from a report (domains, PTR names, DKIM and SPF domains) is
 * HTML-escaped.  Per domain, ordered by messages (most first; at most
 * REPORT_HTML_MAX_DOMAINS of them, the table of contents up to
 * REPORT_HTML_MAX_CONTENTS): the numbers,
 * the advice box, a stacked bar chart of the daily messages passing and
 * failing DMARC over the window, and the top sources table.  now is the
 * time the page says it was made (unix seconds).
 *
 * Returns MN_OK with *out (NUL-terminated, malloc'd: the caller frees it)
 * and *len its length; MN_EINVAL or MN_ENOMEM (nothing in *out).
 */
int report_html(const report_summary_t *s, const advice_t *const *advice, int64_t now, char **out,
		size_t *len);

/* The most sources a domain's table shows (the rest are counted below it). */
#define REPORT_HTML_MAX_SOURCES 25
/* The most domains (by volume) with a section of their own, and the most rows of
 * the table of contents; the rest are counted, so that a provider's page stays
 * readable and its size bounded. */
#define REPORT_HTML_MAX_DOMAINS 100
#define REPORT_HTML_MAX_CONTENTS 1000
