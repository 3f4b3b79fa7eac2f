/* SPDX-License-Identifier: GPL-3.0-or-later */
/* advise.c -- the next safe DMARC step of a domain (pure: summary + published policy -> advice) */
#include "config.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "reports/advise.h"

const char *advice_action_name(advice_action_t a)
{
	switch (a) {
	case ADVICE_STAY: return "stay";
	case ADVICE_QUARANTINE: return "quarantine";
	case ADVICE_REJECT: return "reject";
	case ADVICE_AUTHORIZE: return "authorize";
	}
	return "?";
}

const char *advice_class_name(advice_class_t c)
{
	switch (c) {
	case ADVICE_SRC_LEGITIMATE: return "legitimate";
	case ADVICE_SRC_UNAUTHORIZED: return "unauthorized";
	case ADVICE_SRC_UNKNOWN: return "unknown";
	}
	return "?";
}

void advise_thresholds_default(advise_thresholds_t *t)
{
	*t = (advise_thresholds_t){
		.window_days = 30,
		.min_messages = 100,
		.min_days = 14,
		.quarantine_pass = 95.0,
		.reject_pass = 98.0,
		.small_share = 1.0,
		.authorize_share = 10.0,
	};
}

void advice_free(advice_t *a)
{
	if (a == NULL)
		return;
	free(a->failing);
	free(a);
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole == 0 ? 0.0 : 100.0 * (double)part / (double)whole;
}

/* part is at least share percent of whole (exact for counts below 2^53) */
static bool share_at_least(uint64_t part, uint64_t whole, double share)
{
	return (double)part * 100.0 >= share * (double)whole;
}

static advice_class_t classify(const report_source_t *s)
{
	if (s->dmarc_pass > 0 || s->spf_authorized == 1)
		return ADVICE_SRC_LEGITIMATE;
	return s->spf_authorized == 0 ? ADVICE_SRC_UNAUTHORIZED : ADVICE_SRC_UNKNOWN;
}

static int by_failing(const void *x, const void *y)
{
	const advice_source_t *a = x, *b = y;
	if (a->failing != b->failing)
		return a->failing > b->failing ? -1 : 1;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	return strcmp(a->src->source, b->src->source);
}

static void say(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	if (len + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/*
 * A source that fails DMARC yet looks like the domain's own mail: it sends at
 * least authorize_share of the messages, and passes DKIM or SPF for another
 * domain, or is in the domain's SPF, or sends most of the mail.
 */
static const advice_source_t *authorize_candidate(const advice_t *a)
{
	for (size_t i = 0; i < a->nfailing; i++) {
		const advice_source_t *f = &a->failing[i];
		if (!share_at_least(f->failing, a->messages, a->thresholds.authorize_share))
			break;	/* sorted by failing volume: the rest are smaller */
		const report_source_t *s = f->src;
		bool evidence = s->spf_authorized == 1 || s->dmarc_pass > 0 ||
				(s->dkim_domain != NULL && s->dkim_domain[0] != '\0') ||
				(s->spf_domain != NULL && s->spf_domain[0] != '\0') ||
				s->messages * 2 > a->messages;
		if (evidence)
			return f;
	}
	return NULL;
}

/* How to align source s of domain: the DKIM selector, the SPF include. */
static void write_fix(advice_t *a, const report_source_t *s)
{
	const char *dd = s->dkim_domain != NULL ? s->dkim_domain : "";
	const char *ds = s->dkim_selector != NULL ? s->dkim_selector : "";
	const char *sd = s->spf_domain != NULL ? s->spf_domain : "";
	a->fix[0] = '\0';
	if (dd[0] != '\0' && strcmp(dd, a->domain) != 0)
		say(a->fix, sizeof(a->fix), "DKIM: it signs as %s%s%s: have it sign as %s and publish its key as "
		    "dkim.selectors.%s", dd, ds[0] != '\0' ? " with selector " : "", ds, a->domain,
		    ds[0] != '\0' ? ds : "SELECTOR");
	if (sd[0] != '\0' && strcmp(sd, a->domain) != 0)
		say(a->fix, sizeof(a->fix), "%sSPF: it passes SPF as %s: add include:%s to spf.include and have it "
		    "send with an envelope sender at %s", a->fix[0] != '\0' ? "; " : "", sd, sd, a->domain);
	else if (s->spf_authorized == 1)
		say(a->fix, sizeof(a->fix), "%sSPF: %s's SPF authorizes it, but its envelope sender is another "
		    "domain: have it send with an envelope sender at %s", a->fix[0] != '\0' ? "; " : "",
		    a->domain, a->domain);
	else if (sd[0] == '\0')
		say(a->fix, sizeof(a->fix), "%sSPF: add %s to spf.%s (or its provider's include)",
		    a->fix[0] != '\0' ? "; " : "", s->source, strchr(s->source, ':') != NULL ? "ip6" : "ip4");
}

/* ", failing: IP N, IP N" for the first few legitimate failing sources */
static void list_failing(advice_t *a, advice_class_t cls, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < a->nfailing && n < max; i++) {
		if (a->failing[i].cls != cls)
			continue;
		say(a->reason, sizeof(a->reason), "%s%s %llu", n == 0 ? " (failing: " : ", ",
		    a->failing[i].src->source, (unsigned long long)a->failing[i].failing);
		n++;
	}
	if (n > 0)
		say(a->reason, sizeof(a->reason), ")");
}

static void count(advice_t *a, const report_domain_summary_t *d)
{
	a->messages = d->messages;
	a->dmarc_pass = d->dmarc_pass;
	a->days_with_data = (unsigned int)d->ndays;
	for (size_t i = 0; i < d->nsources; i++) {
		const report_source_t *s = &d->sources[i];
		advice_class_t cls = classify(s);
		uint64_t pass = s->dmarc_pass <= s->messages ? s->dmarc_pass : s->messages;
		if (cls == ADVICE_SRC_LEGITIMATE) {
			a->legitimate += s->messages;
			a->legitimate_pass += pass;
		}
		if (s->messages > pass)
			a->failing[a->nfailing++] = (advice_source_t){ s, s->messages - pass, cls };
	}
	if (a->nfailing > 1)
		qsort(a->failing, a->nfailing, sizeof(a->failing[0]), by_failing);
	a->pass_rate = percent(a->dmarc_pass, a->messages);
	a->legitimate_rate = percent(a->legitimate_pass, a->legitimate);
}

static void spoofing(advice_t *a)
{
	for (size_t i = 0; i < a->nfailing; i++) {
		if (a->failing[i].cls != ADVICE_SRC_UNAUTHORIZED || a->failing[i].src == a->authorize)
			continue;
		a->spoofing_sources++;
		a->spoofing_messages += a->failing[i].failing;
	}
}

/* The legitimate source whose failing mail reject would lose beyond the small share, or NULL. */
static const advice_source_t *blocks_reject(const advice_t *a)
{
	for (size_t i = 0; i < a->nfailing; i++) {
		const advice_source_t *f = &a->failing[i];
		/*
		 * more than the small share (at it exactly is still small); a
		 * source whose SPF authorization is unknown (unresolved terms
		 * may cover it) counts as one that may be the domain's own
		 */
		if (f->cls != ADVICE_SRC_UNAUTHORIZED &&
		    (double)f->failing * 100.0 > a->thresholds.small_share * (double)a->legitimate)
			return f;
	}
	return NULL;
}

static void decide(advice_t *a, const policy_dmarc_t *dmarc)
{
	const advise_thresholds_t *t = &a->thresholds;
	const char *p = policy_dmarc_p_name(a->p);

	if (dmarc == NULL) {
		a->action = ADVICE_STAY;
		snprintf(a->reason, sizeof(a->reason), "%s is not in the policy: nothing to change", a->domain);
		return;
	}
	if (a->messages < t->min_messages || a->days_with_data < t->min_days) {
		a->action = ADVICE_STAY;
		snprintf(a->reason, sizeof(a->reason),
			 "not enough data: %llu messages over %u day%s, need %llu messages over %u days",
			 (unsigned long long)a->messages, a->days_with_data, a->days_with_data == 1 ? "" : "s",
			 (unsigned long long)t->min_messages, t->min_days);
		return;
	}
	const advice_source_t *cand = authorize_candidate(a);
	if (cand != NULL) {
		a->action = ADVICE_AUTHORIZE;
		a->authorize = cand->src;
		a->authorize_failing = cand->failing;
		write_fix(a, cand->src);
		snprintf(a->reason, sizeof(a->reason),
			 "%s sends %.1f%% of the mail and %llu of its %llu messages fail DMARC: align it %s",
			 cand->src->source, percent(cand->src->messages, a->messages),
			 (unsigned long long)cand->failing, (unsigned long long)cand->src->messages,
			 a->p == DMARC_P_NONE ? "before any enforcement"
					      : a->p == DMARC_P_QUARANTINE ? "(its mail goes to spam now)"
									   : "(its mail is rejected now)");
		return;
	}
	if (a->p == DMARC_P_REJECT) {
		a->action = ADVICE_STAY;
		snprintf(a->reason, sizeof(a->reason), "already at p=reject");
		return;
	}
	if (a->legitimate == 0) {
		a->action = ADVICE_STAY;
		snprintf(a->reason, sizeof(a->reason),
			 "stay at p=%s: no source passes DMARC or is in the domain's SPF", p);
		return;
	}
	double need = a->p == DMARC_P_NONE ? t->quarantine_pass : t->reject_pass;
	if (!share_at_least(a->legitimate_pass, a->legitimate, need)) {
		a->action = ADVICE_STAY;
		snprintf(a->reason, sizeof(a->reason),
			 "stay at p=%s: %.1f%% of legitimate mail passes DMARC, need %.1f%% for %s", p,
			 a->legitimate_rate, need, a->p == DMARC_P_NONE ? "quarantine" : "reject");
		list_failing(a, ADVICE_SRC_LEGITIMATE, 3);
		return;
	}
	if (a->p == DMARC_P_NONE) {
		a->action = ADVICE_QUARANTINE;
		snprintf(a->reason, sizeof(a->reason),
			 "move to p=quarantine: %.1f%% of legitimate mail passes DMARC (need %.1f%%)",
			 a->legitimate_rate, need);
		return;
	}
	const advice_source_t *b = blocks_reject(a);
	if (b != NULL) {
		a->action = ADVICE_STAY;
		snprintf(a->reason, sizeof(a->reason),
			 "stay at p=quarantine: reject would lose %llu messages (%.1f%% of legitimate mail, over "
			 "%.1f%%) of %s, %s", (unsigned long long)b->failing, percent(b->failing, a->legitimate),
			 t->small_share, b->src->source,
			 b->cls == ADVICE_SRC_LEGITIMATE
				 ? "a source that otherwise passes: fix it first"
				 : "a source the domain's SPF may authorize (terms not resolved): run "
				   "mailns flatten, or check it first");
		return;
	}
	a->action = ADVICE_REJECT;
	snprintf(a->reason, sizeof(a->reason),
		 "move to p=reject: %.1f%% of legitimate mail passes DMARC (need %.1f%%) and no legitimate "
		 "source fails more than %.1f%%", a->legitimate_rate, need, t->small_share);
}

int advise_domain(const report_domain_summary_t *d, const policy_dmarc_t *dmarc,
		  unsigned int window_days, const advise_thresholds_t *t, advice_t **out)
{
	if (d == NULL || d->domain == NULL || out == NULL || (d->nsources > 0 && d->sources == NULL))
		return MN_EINVAL;
	advice_t *a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto fail;
	if (d->nsources > 0) {
		a->failing = calloc(d->nsources, sizeof(a->failing[0]));
		if (a->failing == NULL)
			goto fail;
	}
	if (t != NULL)
		a->thresholds = *t;
	else
		advise_thresholds_default(&a->thresholds);
	a->domain = d->domain;
	a->window_days = window_days;
	a->p = DMARC_P_NONE;
	a->sp = -1;
	a->served = dmarc != NULL;
	if (dmarc != NULL && dmarc->present) {
		a->p = (dmarc_p_t)dmarc->p.v;
		if (POLICY_SET(dmarc->sp))
			a->sp = dmarc->sp.v;
	}
	count(a, d);
	decide(a, dmarc);
	spoofing(a);
	if (a->spoofing_sources > 0 && a->action == ADVICE_STAY && a->p == DMARC_P_REJECT)
		say(a->reason, sizeof(a->reason), "; %zu unauthorized sources (%llu messages) are rejected",
		    a->spoofing_sources, (unsigned long long)a->spoofing_messages);
	assert(a->reason[0] != '\0');
	*out = a;
	return MN_OK;
fail:
	advice_free(a);
	return MN_ENOMEM;
}
