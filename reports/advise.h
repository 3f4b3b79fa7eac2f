/* SPDX-License-Identifier: GPL-3.0-or-later */
/* advise.h -- the next safe DMARC step of a domain from its report summary and published policy */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "reports/summary.h"

/*
 * advise.c is pure: no I/O, no clock.  It reads one domain of a summary
 * (summary.h) and the DMARC policy mailns serves for it, and says one of:
 *
 *   stay        keep the published p= (not enough data, legitimate mail still
 *               fails, or already at p=reject)
 *   quarantine  move p=none to p=quarantine
 *   reject      move p=quarantine to p=reject
 *   authorize   a source that sends a significant share of the domain's mail
 *               fails DMARC: align it (DKIM selector or SPF include) first
 *
 * The path is always none -> quarantine -> reject, one step at a time (every
 * deployment guide says the same: never jump from monitoring to reject).
 *
 * Sources are classified from their counts:
 *   legitimate    some of its mail passes DMARC (aligned DKIM or SPF), or the
 *                 domain's published SPF authorizes it (spf_authorized == 1);
 *                 its failing messages are the ones enforcement would lose
 *   unauthorized  nothing passes aligned and the domain's SPF does not
 *                 authorize it (spf_authorized == 0): spoofing, or a forwarder
 *   unknown       nothing passes aligned, spf_authorized == -1 (terms of the
 *                 domain's SPF that are not resolved may cover it): not counted
 *                 in the pass rates, but it blocks reject like a legitimate one
 * Pass rates are of the legitimate mail (all messages but the unauthorized
 * and unknown sources'): spoofing is what enforcement is for, not a reason to
 * wait.  Both the overall and the legitimate rate are given.
 */

typedef enum advice_action {
	ADVICE_STAY = 0,
	ADVICE_QUARANTINE,
	ADVICE_REJECT,
	ADVICE_AUTHORIZE,
} advice_action_t;

/* "stay", "quarantine", "reject", "authorize" (the JSON `action`). */
const char *advice_action_name(advice_action_t a);

/*
 * The thresholds advise uses; advise_thresholds_default() fills the defaults
 * below (shares and rates in percent of the window's messages).
 */
typedef struct advise_thresholds {
	unsigned int window_days;	/* 30: the summary window the caller reads */
	uint64_t min_messages;		/* 100: fewer messages in the window: stay */
	unsigned int min_days;		/* 14: fewer days with reports: stay */
	double quarantine_pass;		/* 95: legitimate pass rate to move none -> quarantine */
	double reject_pass;		/* 98: legitimate pass rate to move quarantine -> reject */
	double small_share;		/* 1: a legitimate source whose failing mail is more than
					 * this share blocks reject */
	double authorize_share;		/* 10: a failing source that sends at least this share
					 * (and looks legitimate) is to be authorized first */
} advise_thresholds_t;

void advise_thresholds_default(advise_thresholds_t *t);

typedef enum advice_class {
	ADVICE_SRC_LEGITIMATE = 0,
	ADVICE_SRC_UNAUTHORIZED,
	ADVICE_SRC_UNKNOWN,
} advice_class_t;

/* "legitimate", "unauthorized", "unknown" */
const char *advice_class_name(advice_class_t c);

/* A source with failing messages; src points into the summary. */
typedef struct advice_source {
	const report_source_t *src;
	uint64_t failing;		/* messages - dmarc_pass */
	advice_class_t cls;
} advice_source_t;

typedef struct advice {
	const char *domain;		/* points into the summary */
	advice_action_t action;
	char reason[512];		/* one line, no final newline */

	/* what mailns serves: p, and sp (-1 when not published); served is false
	 * when the domain is not in the policy (p is then none) */
	bool served;
	dmarc_p_t p;
	int sp;

	/* the numbers used */
	advise_thresholds_t thresholds;
	unsigned int window_days;	/* the summary's window */
	unsigned int days_with_data;	/* days with reports in it */
	uint64_t messages, dmarc_pass;
	uint64_t legitimate, legitimate_pass;	/* messages of legitimate sources, and their passes */
	double pass_rate;		/* percent of messages; 0 when there are none */
	double legitimate_rate;		/* percent of legitimate messages; 0 when none */

	/* every source with failing mail, most failing first (legitimate ones
	 * first among equals) */
	advice_source_t *failing;
	size_t nfailing;

	/* spoofing: the unauthorized sources and their messages */
	size_t spoofing_sources;
	uint64_t spoofing_messages;

	/* ADVICE_AUTHORIZE: the source to align and how (else NULL and "") */
	const report_source_t *authorize;
	uint64_t authorize_failing;
	char fix[320];			/* "DKIM: ...; SPF: ..." one line */
} advice_t;

/*
 * Advises domain d: dmarc is the DMARC policy mailns serves for it (NULL:
 * the domain is not in the policy: the advice is stay, with the numbers),
 * t the thresholds (NULL: the defaults).  The advice points into d: free it
 * (advice_free, NULL is a no-op) before the summary.  Returns MN_OK,
 * MN_EINVAL or MN_ENOMEM.
 */
int advise_domain(const report_domain_summary_t *d, const policy_dmarc_t *dmarc,
		  unsigned int window_days, const advise_thresholds_t *t, advice_t **out);
void advice_free(advice_t *a);
