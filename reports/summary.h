/* SPDX-License-Identifier: GPL-3.0-or-later */
/* summary.h -- what the store's roll-ups say per domain and sending source over a window */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * The store (store.c) fills a summary from its per-day roll-ups; advise.c and
 * html.c read it, and never the store itself.  Strings are owned by the
 * summary and freed by report_summary_free(); "" when unknown, never NULL
 * unless a comment says so.
 */

/* One sending source (IP address) of a domain over the window. */
typedef struct report_source {
	char source[46];		/* canonical text (inet_ntop) */
	char *ptr;			/* its PTR name (--resolve), or NULL */
	uint64_t messages;
	uint64_t dmarc_pass;		/* DKIM or SPF aligned and passing */
	uint64_t dkim_aligned;		/* <policy_evaluated><dkim> pass */
	uint64_t spf_aligned;		/* <policy_evaluated><spf> pass */
	uint64_t disp[3];		/* by report_disp_t: none, quarantine, reject */
	int spf_authorized;		/* 1: the domain's published SPF authorizes it,
					 * 0: it does not, -1: unknown (domain not in the policy) */
	/*
	 * What could align it: the DKIM signing domain and selector seen passing
	 * most often for this source (aligned or not), and the SPF (envelope)
	 * domain seen passing most often; "" when none passed.
	 */
	char *dkim_domain;
	char *dkim_selector;
	char *spf_domain;
} report_source_t;

/* One UTC day of a domain. */
typedef struct report_day {
	int64_t day;			/* unix seconds at 00:00 UTC */
	uint64_t messages;
	uint64_t dmarc_pass;
} report_day_t;

typedef struct report_domain_summary {
	char *domain;			/* lower-case, no final dot */
	uint64_t reports;		/* aggregate reports in the window */
	uint64_t messages, dmarc_pass, dkim_aligned, spf_aligned;
	uint64_t disp[3];
	report_source_t *sources;	/* by messages, most first */
	size_t nsources;
	report_day_t *days;		/* oldest first, only days with reports */
	size_t ndays;
	uint64_t tls_successful, tls_failed;	/* TLS-RPT sessions in the window */
	uint64_t failures;		/* failure reports in the window */
} report_domain_summary_t;

typedef struct report_summary {
	int64_t since, until;		/* the window: [since, until), unix seconds */
	unsigned int days;		/* its length in days */
	report_domain_summary_t *v;	/* by domain name */
	size_t n;
} report_summary_t;

void report_summary_free(report_summary_t *s);	/* NULL is a no-op */
