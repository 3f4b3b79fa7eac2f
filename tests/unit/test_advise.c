/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_advise.c -- the next DMARC step over hand-built summaries: each action, each reason to stay, the edges */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "reports/advise.h"
#include "tests/tap/tap.h"

/* one source: address, messages, DMARC passes, spf_authorized, what passed unaligned */
typedef struct src {
	const char *ip;
	uint64_t messages, pass;
	int auth;
	const char *dkim_domain, *dkim_selector, *spf_domain;
} src_t;

enum { NONE = DMARC_P_NONE, QUAR = DMARC_P_QUARANTINE, REJ = DMARC_P_REJECT, NOTIN = -1 };

typedef struct tcase {
	const char *name;
	int p;			/* NONE, QUAR, REJ, or NOTIN: not in the policy */
	unsigned int days;	/* days with reports */
	src_t s[5];
	/* expected */
	advice_action_t action;
	const char *reason;	/* the whole reason, or a prefix when ending in '*' */
	const char *authorize;	/* the source to authorize, or NULL */
	size_t spoofing;	/* unauthorized sources */
} tcase_t;

static const tcase_t cases[] = {
	/* ---- not enough data (min 100 messages, 14 days) ---- */
	{ "99 messages: too few", NONE, 30, { { "192.0.2.1", 99, 99, 1, "", "", "" } },
	  ADVICE_STAY, "not enough data: 99 messages over 30 days, need 100 messages over 14 days", NULL, 0 },
	{ "13 days: too few", NONE, 13, { { "192.0.2.1", 100000, 100000, 1, "", "", "" } },
	  ADVICE_STAY, "not enough data: 100000 messages over 13 days, need 100 messages over 14 days", NULL, 0 },
	{ "100 messages over 14 days: enough", NONE, 14, { { "192.0.2.1", 100, 100, 1, "", "", "" } },
	  ADVICE_QUARANTINE, "move to p=quarantine: 100.0% of legitimate mail passes DMARC (need 95.0%)", NULL, 0 },
	{ "not in the policy", NOTIN, 30, { { "192.0.2.1", 1000, 1000, -1, "", "", "" } },
	  ADVICE_STAY, "example.com is not in the policy: nothing to change", NULL, 0 },

	/* ---- none -> quarantine at 95% of legitimate mail ---- */
	{ "95.0% passes: quarantine", NONE, 30,
	  { { "192.0.2.1", 1000, 950, 1, "", "", "" } },
	  ADVICE_QUARANTINE, "move to p=quarantine: 95.0% of legitimate mail passes DMARC (need 95.0%)", NULL, 0 },
	{ "94.9% passes: stay, naming the failing source", NONE, 30,
	  { { "192.0.2.1", 1000, 949, 1, "", "", "" } },
	  ADVICE_STAY, "stay at p=none: 94.9% of legitimate mail passes DMARC, need 95.0% for quarantine "
		       "(failing: 192.0.2.1 51)", NULL, 0 },
	{ "100% and spoofed: quarantine, spoofing flagged, never reject from none", NONE, 30,
	  { { "192.0.2.1", 6000, 6000, 1, "", "", "" }, { "203.0.113.9", 4000, 0, 0, "", "", "" } },
	  ADVICE_QUARANTINE, "move to p=quarantine: 100.0% of legitimate mail passes DMARC (need 95.0%)", NULL, 1 },
	{ "nothing legitimate: stay", NONE, 30,
	  { { "203.0.113.1", 400, 0, -1, "", "", "" }, { "203.0.113.2", 400, 0, -1, "", "", "" },
	    { "203.0.113.3", 200, 0, -1, "", "", "" } },
	  ADVICE_STAY, "stay at p=none: no source passes DMARC or is in the domain's SPF", NULL, 0 },

	/* ---- authorize: a significant failing source that looks like the domain's ---- */
	{ "ESP signing unaligned: authorize", NONE, 30,
	  { { "192.0.2.1", 7000, 7000, 1, "", "", "" },
	    { "198.51.100.7", 3000, 0, 0, "esp.example", "s1", "bounce.esp.example" } },
	  ADVICE_AUTHORIZE, "198.51.100.7 sends 30.0% of the mail and 3000 of its 3000 messages fail DMARC: "
			    "align it before any enforcement", "198.51.100.7", 0 },
	{ "authorize at exactly 10%", NONE, 30,
	  { { "192.0.2.1", 900, 900, 1, "", "", "" }, { "198.51.100.7", 100, 0, 0, "esp.example", "s1", "" } },
	  ADVICE_AUTHORIZE, "198.51.100.7 sends 10.0% *", "198.51.100.7", 0 },
	{ "9.9% is not significant: quarantine, the source counted as spoofing", NONE, 30,
	  { { "192.0.2.1", 901, 901, 1, "", "", "" }, { "198.51.100.7", 99, 0, 0, "esp.example", "s1", "" } },
	  ADVICE_QUARANTINE, "move to p=quarantine: *", NULL, 1 },
	{ "most of the mail, nothing passing: authorize (SPF: add the address)", NONE, 30,
	  { { "192.0.2.50", 600, 0, 0, "", "", "" }, { "192.0.2.1", 400, 400, 1, "", "", "" } },
	  ADVICE_AUTHORIZE, "192.0.2.50 sends 60.0% *", "192.0.2.50", 0 },
	{ "40% unauthorized without any pass: spoofing, not authorize", NONE, 30,
	  { { "192.0.2.1", 600, 600, 1, "", "", "" }, { "203.0.113.9", 400, 0, 0, "", "", "" } },
	  ADVICE_QUARANTINE, "move to p=quarantine: *", NULL, 1 },
	{ "at reject, own relay failing: authorize (mail rejected now)", REJ, 30,
	  { { "192.0.2.1", 5000, 5000, 1, "", "", "" }, { "192.0.2.2", 2000, 0, 1, "", "", "" } },
	  ADVICE_AUTHORIZE, "192.0.2.2 sends 28.6% of the mail and 2000 of its 2000 messages fail DMARC: "
			    "align it (its mail is rejected now)", "192.0.2.2", 0 },

	/* ---- quarantine -> reject at 98%, never while legitimate mail would fail ---- */
	{ "98% and the failing source at 1.0% exactly: reject", QUAR, 30,
	  { { "192.0.2.1", 9000, 9000, 1, "", "", "" }, { "192.0.2.2", 1000, 900, 1, "", "", "" },
	    { "203.0.113.9", 500, 0, 0, "", "", "" } },
	  ADVICE_REJECT, "move to p=reject: 99.0% of legitimate mail passes DMARC (need 98.0%) and no legitimate "
			 "source fails more than 1.0%", NULL, 1 },
	{ "never reject: a passing source would lose 1.5%", QUAR, 30,
	  { { "192.0.2.1", 9000, 9000, 1, "", "", "" }, { "192.0.2.2", 1000, 850, 0, "", "", "" } },
	  ADVICE_STAY, "stay at p=quarantine: reject would lose 150 messages (1.5% of legitimate mail, over 1.0%) "
		       "of 192.0.2.2, a source that otherwise passes: fix it first", NULL, 0 },
	{ "never reject: an SPF-authorized source failing alignment", QUAR, 30,
	  { { "192.0.2.1", 9500, 9500, 1, "", "", "" }, { "192.0.2.3", 120, 0, 1, "", "", "" } },
	  ADVICE_STAY, "stay at p=quarantine: reject would lose 120 messages (1.2% *", NULL, 0 },
	{ "never reject: an unknown source (SPF not resolved) would lose 2%", QUAR, 30,
	  { { "192.0.2.1", 10000, 10000, 1, "", "", "" }, { "198.51.100.9", 200, 0, -1, "", "", "" } },
	  ADVICE_STAY, "stay at p=quarantine: reject would lose 200 messages (2.0% of legitimate mail, over 1.0%) "
		       "of 198.51.100.9, a source the domain's SPF may authorize (terms not resolved): run mailns "
		       "flatten, or check it first", NULL, 0 },
	{ "an unknown source of 1% exactly: reject", QUAR, 30,
	  { { "192.0.2.1", 10000, 10000, 1, "", "", "" }, { "198.51.100.9", 100, 0, -1, "", "", "" } },
	  ADVICE_REJECT, "move to p=reject: *", NULL, 0 },
	{ "97.9% at quarantine: stay", QUAR, 30,
	  { { "192.0.2.1", 1000, 979, 1, "", "", "" } },
	  ADVICE_STAY, "stay at p=quarantine: 97.9% of legitimate mail passes DMARC, need 98.0% for reject "
		       "(failing: 192.0.2.1 21)", NULL, 0 },

	/* ---- already at reject ---- */
	{ "at reject: stay, spoofing flagged", REJ, 30,
	  { { "192.0.2.1", 9000, 9000, 1, "", "", "" }, { "203.0.113.9", 500, 0, 0, "", "", "" },
	    { "203.0.113.10", 20, 0, 0, "", "", "" } },
	  ADVICE_STAY, "already at p=reject; 2 unauthorized sources (520 messages) are rejected", NULL, 2 },
	{ "at reject, clean: stay", REJ, 30, { { "192.0.2.1", 9000, 9000, 1, "", "", "" } },
	  ADVICE_STAY, "already at p=reject", NULL, 0 },
};

static bool reason_matches(const char *got, const char *want)
{
	size_t n = strlen(want);
	if (n > 0 && want[n - 1] == '*')
		return strncmp(got, want, n - 1) == 0;
	return strcmp(got, want) == 0;
}

/* the summary of example.com that case c describes */
static report_domain_summary_t *build(const tcase_t *c)
{
	report_domain_summary_t *d = calloc(1, sizeof(*d));
	if (d == NULL)
		tap_bail("out of memory");
	d->domain = "example.com";
	d->sources = calloc(5, sizeof(d->sources[0]));
	d->days = calloc(c->days + 1, sizeof(d->days[0]));
	if (d->sources == NULL || d->days == NULL)
		tap_bail("out of memory");
	d->ndays = c->days;
	for (size_t i = 0; i < 5 && c->s[i].ip != NULL; i++) {
		report_source_t *s = &d->sources[d->nsources++];
		snprintf(s->source, sizeof(s->source), "%s", c->s[i].ip);
		s->messages = c->s[i].messages;
		s->dmarc_pass = c->s[i].pass;
		s->dkim_aligned = c->s[i].pass;
		s->spf_authorized = c->s[i].auth;
		s->dkim_domain = (char *)c->s[i].dkim_domain;
		s->dkim_selector = (char *)c->s[i].dkim_selector;
		s->spf_domain = (char *)c->s[i].spf_domain;
		d->messages += s->messages;
		d->dmarc_pass += s->dmarc_pass;
	}
	return d;
}

static void destroy(report_domain_summary_t *d)
{
	free(d->sources);
	free(d->days);
	free(d);
}

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const tcase_t *c = &cases[i];
		report_domain_summary_t *d = build(c);
		policy_dmarc_t dm = { .present = true };
		dm.p.v = c->p;
		advice_t *a = NULL;
		int r = advise_domain(d, c->p == NOTIN ? NULL : &dm, 30, NULL, &a);
		if (!is_int(r, MN_OK, "%s: advised", c->name)) {
			destroy(d);
			continue;
		}
		is_str(advice_action_name(a->action), advice_action_name(c->action), "%s: action", c->name);
		if (!ok(reason_matches(a->reason, c->reason), "%s: reason", c->name))
			tap_diag("got:  %s\nwant: %s", a->reason, c->reason);
		is_str(a->authorize != NULL ? a->authorize->source : "(none)",
		       c->authorize != NULL ? c->authorize : "(none)", "%s: source to authorize", c->name);
		is_int((long long)a->spoofing_sources, (long long)c->spoofing, "%s: unauthorized sources", c->name);
		advice_free(a);
		destroy(d);
	}
}

/* the numbers the advice states, and the fix it names */
static void test_numbers(void)
{
	const tcase_t *esp = NULL;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].name, "ESP signing unaligned: authorize") == 0)
			esp = &cases[i];
	if (esp == NULL)
		tap_bail("no ESP case");
	report_domain_summary_t *d = build(esp);
	policy_dmarc_t dm = { .present = true };
	dm.p.v = DMARC_P_NONE;
	dm.sp.v = DMARC_P_QUARANTINE;
	dm.sp.pos.file = "policy.yaml";
	advice_t *a = NULL;
	if (advise_domain(d, &dm, 30, NULL, &a) != MN_OK)
		tap_bail("advise failed");
	is_int(a->messages, 10000, "messages");
	is_int(a->dmarc_pass, 7000, "DMARC passes");
	is_int(a->legitimate, 7000, "legitimate messages (the ESP is not yet)");
	is_int(a->window_days, 30, "window");
	is_int(a->days_with_data, 30, "days with data");
	ok(a->served, "served by the policy");
	is_int(a->p, DMARC_P_NONE, "published p");
	is_int(a->sp, DMARC_P_QUARANTINE, "published sp");
	ok(a->pass_rate > 69.99 && a->pass_rate < 70.01, "pass rate 70%% (%.3f)", a->pass_rate);
	is_int(a->authorize_failing, 3000, "authorize: failing volume");
	is_str(a->fix,
	       "DKIM: it signs as esp.example with selector s1: have it sign as example.com and publish its key as "
	       "dkim.selectors.s1; SPF: it passes SPF as bounce.esp.example: add include:bounce.esp.example to "
	       "spf.include and have it send with an envelope sender at example.com",
	       "authorize: the DKIM selector and SPF include that would align it");
	is_int((long long)a->nfailing, 1, "one failing source");
	is_str(a->failing[0].src->source, "198.51.100.7", "failing source named");
	is_int(a->failing[0].failing, 3000, "with its volume");
	is_str(advice_class_name(a->failing[0].cls), "unauthorized", "classified by SPF");
	advice_free(a);

	/* thresholds of the caller are used and reported */
	advise_thresholds_t t;
	advise_thresholds_default(&t);
	is_int(t.min_messages, 100, "default min messages");
	is_int(t.min_days, 14, "default min days");
	t.authorize_share = 50;
	t.quarantine_pass = 70;
	if (advise_domain(d, &dm, 30, &t, &a) != MN_OK)
		tap_bail("advise failed");
	is_str(advice_action_name(a->action), "quarantine", "own thresholds: 30%% is not significant at 50%%");
	ok(a->thresholds.authorize_share == 50, "own thresholds reported");
	advice_free(a);

	/* at p=none with IPv6 and nothing passing: the SPF fix names ip6 */
	d->sources[1].dkim_domain = "";
	d->sources[1].spf_domain = "";
	snprintf(d->sources[1].source, sizeof(d->sources[1].source), "2001:db8::25");
	d->sources[1].messages = 8000;
	d->messages = 15000;
	if (advise_domain(d, &dm, 30, NULL, &a) != MN_OK)
		tap_bail("advise failed");
	is_str(a->fix, "SPF: add 2001:db8::25 to spf.ip6 (or its provider's include)", "IPv6 fix");
	advice_free(a);

	if (advise_domain(d, NULL, 30, NULL, &a) != MN_OK)
		tap_bail("advise failed");
	ok(!a->served, "no DMARC policy given: not served");
	advice_free(a);
	destroy(d);

	is_int(advise_domain(NULL, &dm, 30, NULL, &a), MN_EINVAL, "NULL summary: MN_EINVAL");
	advice_free(NULL);
}

int main(void)
{
	test_cases();
	test_numbers();
	return tap_done();
}
