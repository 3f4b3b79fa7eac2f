/* SPDX-License-Identifier: GPL-3.0-or-later */
/* authorize.h -- whether a domain's own published SPF authorizes each source of a summary */
#pragma once

#include "policy/policy.h"
#include "reports/summary.h"

/*
 * Sets spf_authorized of every source of s from what mailns publishes for the
 * domain: with a current SPF cache entry (flatten, macro or auto mode after
 * `mailns flatten`), its flattened networks; otherwise (plain mode, or no
 * cache yet) the policy's ip4:/ip6: terms.  A source inside them is 1.  One
 * outside them is 0 when nothing else in the record could authorize it, and
 * -1 (unknown) when the record also has terms mailns has not resolved
 * (a:, mx:, include: without a cache; the kept exists:/ptr:/macro terms of a
 * cache), or when the domain is not in the policy or publishes no SPF.
 * Reads p->server.state_dir/spf/.  Returns MN_OK or MN_ENOMEM.
 */
int report_summary_authorize(report_summary_t *s, const policy_t *p);
