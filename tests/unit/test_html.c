/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_html.c -- the report page: escaping of what reports say, no script or external resource, structure, order */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "reports/html.h"
#include "tests/tap/tap.h"

enum { DAY = 86400 };
static const int64_t SINCE = 1764979200;	/* 2025-12-06T00:00:00Z */

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static bool has_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p != '\0'; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

/*
 * Escaped text holds no '<', so every '<' of the page starts a real tag: each
 * tag is checked for what would run or fetch something.  NULL when all are
 * harmless, else the first bad tag (a pointer into page).
 */
static const char *bad_tag(const char *page)
{
	static const char *const banned[] = { "<script", "<img", "<link", "<iframe", "<object", "<embed",
					      "<base", "<form", "<audio", "<video", "<source", "<image" };
	for (const char *t = strchr(page, '<'); t != NULL; t = strchr(t + 1, '<')) {
		const char *end = strchr(t, '>');
		if (end == NULL)
			return t;
		for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
			if (strncasecmp(t, banned[i], strlen(banned[i])) == 0)
				return t;
		for (const char *a = t; a < end; a++) {
			if (a[0] == ' ' && strncasecmp(a + 1, "on", 2) == 0)
				return t;	/* an event handler attribute */
			if (strncasecmp(a, " src=", 5) == 0 || strncasecmp(a, "xlink:href", 10) == 0)
				return t;
			if (strncasecmp(a, " href=\"", 7) == 0 && a[7] != '#')
				return t;
		}
	}
	return NULL;
}

static void source(report_source_t *s, const char *ip, const char *ptr, uint64_t messages, uint64_t pass,
		   int auth, const char *dkim_domain, const char *sel, const char *spf_domain)
{
	snprintf(s->source, sizeof(s->source), "%s", ip);
	s->ptr = ptr != NULL ? strdup(ptr) : NULL;
	s->messages = messages;
	s->dmarc_pass = pass;
	s->dkim_aligned = pass;
	s->spf_aligned = pass / 2;
	s->spf_authorized = auth;
	s->dkim_domain = strdup(dkim_domain);
	s->dkim_selector = strdup(sel);
	s->spf_domain = strdup(spf_domain);
}

/*
 * Two domains: small.example (100 messages) first by name, and a hostile
 * "big" one whose name, PTR names and DKIM/SPF domains carry markup, with
 * 30 sources (more than the table shows) and 30 days.
 */
static report_summary_t *build(void)
{
	report_summary_t *s = calloc(1, sizeof(*s));
	s->since = SINCE;
	s->until = SINCE + 30 * DAY;
	s->days = 30;
	s->n = 2;
	s->v = calloc(2, sizeof(s->v[0]));

	report_domain_summary_t *a = &s->v[0];
	a->domain = strdup("a-small.example");
	a->sources = calloc(1, sizeof(a->sources[0]));
	a->nsources = 1;
	source(&a->sources[0], "192.0.2.1", "mx.a-small.example", 100, 100, 1, "a-small.example", "sel", "");
	a->days = calloc(1, sizeof(a->days[0]));
	a->ndays = 1;
	a->days[0] = (report_day_t){ SINCE + 3 * DAY, 100, 100 };
	a->messages = a->dmarc_pass = a->dkim_aligned = 100;
	a->reports = 1;

	report_domain_summary_t *b = &s->v[1];
	b->domain = strdup("b<script>alert(1)</script>.example");
	b->nsources = 30;
	b->sources = calloc(b->nsources, sizeof(b->sources[0]));
	source(&b->sources[0], "198.51.100.7", "<img src=x onerror=alert(2)>", 50000, 0, 0,
	       "esp\"><script>x</script>", "s1'", "http://evil.example/<b>");
	for (size_t i = 1; i < b->nsources; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "192.0.2.%zu", 100 + i);
		/* the first of them outside the SPF, yet passing (aligned DKIM) */
		source(&b->sources[i], ip, NULL, 1000 - i, 1000 - i, i == 1 ? 0 : 1, "", "", "");
	}
	b->ndays = 30;
	b->days = calloc(b->ndays, sizeof(b->days[0]));
	for (size_t i = 0; i < b->ndays; i++)
		b->days[i] = (report_day_t){ SINCE + (int64_t)i * DAY, 2000 + i, 1000 + i };
	for (size_t i = 0; i < b->nsources; i++) {
		b->messages += b->sources[i].messages;
		b->dmarc_pass += b->sources[i].dmarc_pass;
	}
	b->reports = 60;
	b->tls_successful = 90;
	b->tls_failed = 10;
	return s;
}

static void test_page(void)
{
	report_summary_t *s = build();
	advice_t *adv[2] = { NULL, NULL };
	policy_dmarc_t dm = { .present = true };
	dm.p.v = DMARC_P_NONE;
	if (advise_domain(&s->v[0], &dm, 30, NULL, &adv[0]) != MN_OK ||
	    advise_domain(&s->v[1], &dm, 30, NULL, &adv[1]) != MN_OK)
		tap_bail("advise failed");
	char *page = NULL;
	size_t len = 0;
	is_int(report_html(s, (const advice_t *const *)adv, SINCE + 30 * DAY, &page, &len), MN_OK, "rendered");
	if (page == NULL)
		tap_bail("no page");
	is_int((long long)len, (long long)strlen(page), "length is that of the text");
	ok(strncmp(page, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0, "an HTML5 document");
	ok(strstr(page, "</html>\n") == page + len - 8, "ends with </html>");

	/* nothing from a report becomes markup */
	ok(!has_ci(page, "<script"), "no <script> anywhere");
	ok(!has_ci(page, "<img"), "no <img> from the PTR name");
	const char *bad = bad_tag(page);
	if (!ok(bad == NULL, "no tag that runs or fetches anything (event handlers, src, external href)"))
		tap_diag("%.80s", bad);
	ok(strstr(page, "b&lt;script&gt;alert(1)&lt;/script&gt;.example") != NULL, "domain escaped");
	ok(strstr(page, "&lt;img src=x onerror=alert(2)&gt;") != NULL, "PTR name escaped");
	ok(strstr(page, "esp&quot;&gt;&lt;script&gt;x&lt;/script&gt; (s1&#39;)") != NULL,
	   "DKIM domain and selector escaped");
	ok(strstr(page, "http://evil.example/&lt;b&gt;") != NULL, "SPF domain escaped, shown as text");
	ok(strstr(page, "esp&quot;&gt;&lt;script&gt;x&lt;/script&gt; with selector s1&#39;") != NULL,
	   "the advice's fix escaped too");

	/* self-contained: no external resource of any kind */
	ok(!has_ci(page, "<link"), "no <link>");
	ok(!has_ci(page, "@import"), "no @import");
	is_int((long long)count(page, "url("), (long long)count(page, "url(#"), "every url() is a local #id");
	is_int((long long)count(page, "href=\""), (long long)count(page, "href=\"#"), "every link is in the page");
	is_int((long long)count(page, "http"),
	       (long long)(count(page, "http-equiv") + count(page, "http://evil.example/&lt;b&gt;")),
	       "'http' only in the meta http-equiv and the escaped text");

	/* structure */
	is_int((long long)count(page, "<section "), 2, "one section per domain");
	is_int((long long)count(page, "</section>"), 2, "sections closed");
	is_int((long long)count(page, "<svg viewBox"), 2, "one chart per domain");
	is_int((long long)count(page, "<svg"), (long long)count(page, "</svg>"), "every svg closed");
	is_int((long long)count(page, "<table"), (long long)count(page, "</table>"), "every table closed");
	const char *big = strstr(page, "<section id=\"d1\">"), *small = strstr(page, "<section id=\"d0\">");
	ok(big != NULL && small != NULL && big < small, "the domain with more mail comes first");
	ok(strstr(page, "Window: <b>2025-12-06</b> to <b>2026-01-04</b> (30 days, UTC)") != NULL,
	   "header states the window");
	ok(strstr(page, "Passing DMARC (aligned DKIM or SPF)") != NULL && strstr(page, "Failing DMARC") != NULL,
	   "legend in words");
	ok(strstr(page, "messages per day") != NULL && strstr(page, "day (UTC)") != NULL, "axis labels");
	ok(strstr(page, "text-anchor=\"end\">1,000</text>") != NULL &&
	   strstr(page, "text-anchor=\"end\">5,000</text>") != NULL &&
	   strstr(page, "text-anchor=\"end\">1,250</text>") == NULL, "round y labels: 0 to 5,000 by 1,000");
	ok(strstr(page, "<title>2025-12-06: 2,000 messages, 1,000 pass, 1,000 fail DMARC</title>") != NULL,
	   "each bar says its numbers");
	/* 30 days of the big domain: 30 passing and 30 failing bars; one passing bar of the small one */
	is_int((long long)count(page, "fill=\"#2563eb\"/>"), 31, "passing bars");
	is_int((long long)count(page, "fill=\"url(#st1)\" stroke=\"#7c2d12\""), 30, "failing bars of the big domain");
	is_int((long long)count(page, "<tr><td><code>"), REPORT_HTML_MAX_SOURCES + 1, "sources table rows (capped)");
	ok(strstr(page, "5 more sources not shown") != NULL, "the rest counted");
	ok(strstr(page, "<span class=\"badge bad\">&#10007; unauthorized</span>") != NULL &&
	   strstr(page, "<span class=\"badge ok\">&#10003; authorized</span>") != NULL,
	   "authorization badges in words");
	is_int((long long)count(page, "<span class=\"badge unk\">&#10007; unauthorized</span>"), 1,
	       "unauthorized but passing DMARC: the neutral badge, not the spoofing one");
	ok(strstr(page, "<p class=\"what\">Authorize a sending source first</p>") != NULL, "advice box: authorize");
	ok(strstr(page, "<p class=\"what\">Stay at p=none</p><p>not enough data: 100 messages over 1 day,") != NULL,
	   "advice box: stay with its reason");
	ok(strstr(page, "quarantine at 95.0%, reject at 98.0%") != NULL, "thresholds stated");
	ok(strstr(page, "TLS sessions ok</span><b>90.0% of 100</b>") != NULL, "TLS-RPT sessions");
	free(page);

	/* without advice and with no domain */
	is_int(report_html(s, NULL, 0, &page, &len), MN_OK, "rendered without advice");
	ok(strstr(page, "class=\"advice") == NULL, "no advice box");
	free(page);
	report_summary_t empty = { .since = SINCE, .until = SINCE + DAY, .days = 1 };
	is_int(report_html(&empty, NULL, 0, &page, &len), MN_OK, "empty summary rendered");
	ok(strstr(page, "No reports in the window.") != NULL, "says there is nothing");
	free(page);
	is_int(report_html(NULL, NULL, 0, &page, &len), MN_EINVAL, "NULL summary: MN_EINVAL");

	advice_free(adv[0]);
	advice_free(adv[1]);
	report_summary_free(s);
}

/* a provider's page: sections for the busiest domains only, the rest counted */
static void test_many(void)
{
	enum { N = REPORT_HTML_MAX_DOMAINS + 50 };
	report_summary_t *s = calloc(1, sizeof(*s));
	s->since = SINCE;
	s->until = SINCE + DAY;
	s->days = 1;
	s->n = N;
	s->v = calloc(N, sizeof(s->v[0]));
	for (size_t i = 0; i < N; i++) {
		char name[64];
		snprintf(name, sizeof(name), "d%03zu.example", i);
		s->v[i].domain = strdup(name);
		s->v[i].messages = 1000 + i;	/* the last is the busiest */
	}
	char *page = NULL;
	size_t len = 0;
	is_int(report_html(s, NULL, 0, &page, &len), MN_OK, "%d domains rendered", N);
	is_int((long long)count(page, "<section "), REPORT_HTML_MAX_DOMAINS, "sections for the busiest only");
	ok(strstr(page, "<h2>d149.example") != NULL && strstr(page, "<h2>d049.example") == NULL &&
	   strstr(page, "<h2>d050.example") != NULL, "the busiest have them");
	ok(strstr(page, "; 50 more domains are only listed above") != NULL, "the rest counted");
	is_int((long long)count(page, "<tr><td><a"), N, "every domain in the table of contents");
	is_int((long long)count(page, "<tr><td><a>d0"), 50, "the rest without a link to a section");
	free(page);
	report_summary_free(s);
}

int main(void)
{
	test_page();
	test_many();
	return tap_done();
}
