/* SPDX-License-Identifier: GPL-3.0-or-later */
/* html.c -- one self-contained HTML page (inline CSS and SVG, no script) of a report summary and its advice */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/mn.h"
#include "reports/html.h"

enum { DAY = 86400, MAX_CHART_DAYS = 3660 };

/* chart geometry (SVG user units; the SVG scales to the page width) */
enum { CH_W = 1160, CH_H = 260, CH_L = 64, CH_R = 16, CH_T = 16, CH_B = 44 };

static const char CSS[] =
	"*{box-sizing:border-box}"
	"body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
	"color:#1a202c;background:#f4f5f7}"
	"header{background:#1a2b4c;color:#fff;padding:24px 40px}"
	"header h1{margin:0 0 4px;font-size:26px;font-weight:600}"
	"header p{margin:2px 0;color:#d5dcea}"
	"main{max-width:1240px;margin:0 auto;padding:20px 40px 40px}"
	"nav table,section{background:#fff;border:1px solid #d9dde3;border-radius:8px}"
	"nav{margin-bottom:24px}"
	"section{padding:20px 24px;margin:0 0 28px}"
	"h2{margin:0 0 12px;font-size:22px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}"
	"h3{margin:20px 0 8px;font-size:16px;color:#2d3748}"
	"table{border-collapse:collapse;width:100%}"
	"th,td{padding:6px 10px;text-align:left;border-bottom:1px solid #e6e9ee;vertical-align:top}"
	"th{background:#f0f2f5;font-weight:600;font-size:13px;color:#2d3748}"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
	".ptr{color:#4a5568;word-break:break-all}"
	"code{font:13px ui-monospace,'DejaVu Sans Mono',monospace}"
	".badge{display:inline-block;padding:2px 9px;border-radius:10px;font-size:13px;font-weight:600;"
	"border:1px solid transparent;white-space:nowrap}"
	".b-stay{background:#edf2f7;color:#2d3748;border-color:#a0aec0}"
	".b-quarantine{background:#fefcbf;color:#744210;border-color:#d69e2e}"
	".b-reject{background:#c6f6d5;color:#22543d;border-color:#38a169}"
	".b-authorize{background:#e9d8fd;color:#44337a;border-color:#805ad5}"
	".b-p{background:#fff;color:#2d3748;border-color:#a0aec0;font-weight:500}"
	".ok{background:#e6f0ff;color:#1e3a8a;border-color:#2563eb}"
	".bad{background:#ffedd5;color:#7c2d12;border-color:#ea580c}"
	".unk{background:#edf2f7;color:#4a5568;border-color:#a0aec0}"
	".stats{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 14px}"
	".stat{border:1px solid #e2e8f0;border-radius:6px;padding:8px 14px;min-width:150px}"
	".stat b{display:block;font-size:20px;font-variant-numeric:tabular-nums}"
	".stat span{font-size:12px;color:#4a5568;text-transform:uppercase;letter-spacing:.04em}"
	".advice{border-left:6px solid #a0aec0;background:#f7fafc;padding:12px 16px;border-radius:4px}"
	".advice.a-quarantine{border-color:#d69e2e;background:#fffff0}"
	".advice.a-reject{border-color:#38a169;background:#f0fff4}"
	".advice.a-authorize{border-color:#805ad5;background:#faf5ff}"
	".advice p{margin:4px 0}"
	".advice .what{font-size:17px;font-weight:600}"
	".advice dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0 0;font-size:13px}"
	".advice dt{color:#4a5568}.advice dd{margin:0}"
	".legend{display:flex;gap:18px;font-size:13px;margin:4px 0}"
	".sw{display:inline-block;width:14px;height:14px;vertical-align:-2px;margin-right:6px;border:1px solid #1a202c}"
	".more{font-size:13px;color:#4a5568;margin:6px 0 0}"
	"svg{width:100%;height:auto;display:block}"
	"svg text{font:12px system-ui,'DejaVu Sans',sans-serif;fill:#2d3748}"
	"footer{color:#4a5568;font-size:12px;text-align:center;padding:0 0 24px}";

/* passing: blue; failing: orange with stripes (colour-blind safe, and not colour alone) */
#define C_PASS "#2563eb"
#define C_FAIL "#ea580c"

static void esc(FILE *f, const char *s)
{
	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* control characters would not be valid HTML text */
			if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

/* 1234567 -> "1,234,567" */
static const char *num(uint64_t v, char *buf, size_t size)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	size_t j = 0;
	for (int i = 0; i < n && j + 2 < size; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = '\0';
	return buf;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole == 0 ? 0.0 : 100.0 * (double)part / (double)whole;
}

static void date(int64_t t, const char *fmt, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, fmt, &tm) == 0)
		snprintf(buf, size, "?");
}

/* 1, 2, 5 x 10^k at or above v */
static uint64_t nice_ceil(uint64_t v)
{
	uint64_t m = 1;
	while (m <= UINT64_MAX / 10 && m * 10 <= v)
		m *= 10;
	if (v <= m)
		return m;
	if (v <= 2 * m)
		return 2 * m;
	if (v <= 5 * m)
		return 5 * m;
	return 10 * m;
}

static void chart(FILE *f, const report_summary_t *s, const report_domain_summary_t *d, size_t idx)
{
	int64_t first = s->since - ((s->since % DAY) + DAY) % DAY;
	int64_t span = (s->until - first + DAY - 1) / DAY;
	if (span < 1)
		span = 1;
	if (span > MAX_CHART_DAYS)
		span = MAX_CHART_DAYS;
	uint64_t max = 0;
	for (size_t i = 0; i < d->ndays; i++)
		if (d->days[i].messages > max)
			max = d->days[i].messages;
	uint64_t top = nice_ceil(max < 4 ? 4 : max);
	double pw = CH_W - CH_L - CH_R, ph = CH_H - CH_T - CH_B;
	double bw = pw / (double)span;
	char a[32], b[32], c[32], e[32];

	fprintf(f, "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"ct%zu\">"
		   "<title id=\"ct%zu\">Daily messages of ", CH_W, CH_H, idx, idx);
	esc(f, d->domain);
	fprintf(f, ": passing and failing DMARC</title>"
		   "<defs><pattern id=\"st%zu\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
		   "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"" C_FAIL "\"/>"
		   "<rect width=\"2\" height=\"6\" fill=\"#fff\" fill-opacity=\".45\"/></pattern></defs>",
		idx);
	/* y axis: gridlines and round labels: 2 x 10^n in quarters, 1 and 5 x 10^n in fifths */
	uint64_t lead = top;
	while (lead >= 10)
		lead /= 10;
	int ticks = lead == 2 ? 4 : 5;
	for (int k = 0; k <= ticks; k++) {
		double y = CH_T + ph - ph * k / (double)ticks;
		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", CH_L, CH_W - CH_R, y, y,
			k == 0 ? "#4a5568" : "#e2e8f0");
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", CH_L - 8, y + 4,
			num(top / (uint64_t)ticks * (uint64_t)k, a, sizeof(a)));
	}
	fprintf(f, "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">"
		   "messages per day</text>", CH_T + ph / 2, CH_T + ph / 2);
	/* bars: passing below, failing stacked on top */
	for (size_t i = 0; i < d->ndays; i++) {
		const report_day_t *dy = &d->days[i];
		int64_t k = (dy->day - first) / DAY;
		if (k < 0 || k >= span)
			continue;
		uint64_t pass = dy->dmarc_pass < dy->messages ? dy->dmarc_pass : dy->messages;
		uint64_t fail = dy->messages - pass;
		double x = CH_L + bw * (double)k + (bw > 4 ? bw * 0.12 : 0);
		double w = bw > 4 ? bw * 0.76 : bw;
		double hp = ph * (double)pass / (double)top, hf = ph * (double)fail / (double)top;
		double y0 = CH_T + ph;
		date(dy->day, "%Y-%m-%d", a, sizeof(a));
		fprintf(f, "<g><title>%s: %s messages, %s pass, %s fail DMARC</title>", a,
			num(dy->messages, b, sizeof(b)), num(pass, c, sizeof(c)), num(fail, e, sizeof(e)));
		if (pass > 0)
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" C_PASS "\"/>",
				x, y0 - hp, w, hp);
		if (fail > 0)
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"url(#st%zu)\" "
				   "stroke=\"#7c2d12\" stroke-width=\".5\"/>", x, y0 - hp - hf, w, hf, idx);
		fputs("</g>", f);
	}
	/* x axis: about ten dates */
	int64_t every = (span + 9) / 10;
	for (int64_t k = 0; k < span; k += every) {
		double x = CH_L + bw * ((double)k + 0.5);
		date(first + k * DAY, "%b %d", a, sizeof(a));
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#4a5568\"/>", x, x,
			CH_T + ph, CH_T + ph + 5);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, CH_T + ph + 20, a);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">day (UTC)</text></svg>\n",
		CH_L + pw / 2, CH_H - 4);
	fprintf(f, "<div class=\"legend\"><span><span class=\"sw\" style=\"background:" C_PASS "\"></span>"
		   "Passing DMARC (aligned DKIM or SPF)</span><span><svg width=\"14\" height=\"14\" "
		   "style=\"display:inline;width:14px;vertical-align:-2px;margin-right:6px\">"
		   "<rect width=\"14\" height=\"14\" fill=\"url(#st%zu)\" stroke=\"#1a202c\"/></svg>"
		   "Failing DMARC</span></div>\n", idx);
}

static void stat(FILE *f, const char *label, const char *value)
{
	fprintf(f, "<div class=\"stat\"><span>%s</span><b>%s</b></div>", label, value);
}

static void stats(FILE *f, const report_domain_summary_t *d)
{
	char a[32], v[64];
	stat(f, "messages", num(d->messages, a, sizeof(a)));
	snprintf(v, sizeof(v), "%.1f%%", pct(d->dmarc_pass, d->messages));
	stat(f, "DMARC pass", v);
	snprintf(v, sizeof(v), "%.1f%%", pct(d->dkim_aligned, d->messages));
	stat(f, "DKIM aligned", v);
	snprintf(v, sizeof(v), "%.1f%%", pct(d->spf_aligned, d->messages));
	stat(f, "SPF aligned", v);
	stat(f, "sources", num(d->nsources, a, sizeof(a)));
	stat(f, "aggregate reports", num(d->reports, a, sizeof(a)));
	if (d->tls_successful + d->tls_failed > 0) {
		snprintf(v, sizeof(v), "%.1f%% of %s", pct(d->tls_successful, d->tls_successful + d->tls_failed),
			 num(d->tls_successful + d->tls_failed, a, sizeof(a)));
		stat(f, "TLS sessions ok", v);
	}
	if (d->failures > 0)
		stat(f, "failure reports", num(d->failures, a, sizeof(a)));
}

static const char *what(const advice_t *a, char *buf, size_t size)
{
	switch (a->action) {
	case ADVICE_STAY:
		snprintf(buf, size, "Stay at p=%s", policy_dmarc_p_name(a->p));
		break;
	case ADVICE_QUARANTINE: snprintf(buf, size, "Move to p=quarantine"); break;
	case ADVICE_REJECT: snprintf(buf, size, "Move to p=reject"); break;
	case ADVICE_AUTHORIZE: snprintf(buf, size, "Authorize a sending source first"); break;
	}
	return buf;
}

static void advice_box(FILE *f, const advice_t *a)
{
	char w[64], n1[32], n2[32];
	const advise_thresholds_t *t = &a->thresholds;
	fprintf(f, "<div class=\"advice a-%s\"><p class=\"what\">%s</p><p>", advice_action_name(a->action),
		what(a, w, sizeof(w)));
	esc(f, a->reason);
	fputs("</p>", f);
	if (a->authorize != NULL && a->fix[0] != '\0') {
		fputs("<p><b>How to align ", f);
		esc(f, a->authorize->source);
		fputs(":</b> ", f);
		esc(f, a->fix);
		fputs("</p>", f);
	}
	if (a->spoofing_sources > 0)
		fprintf(f, "<p><b>Spoofing:</b> %s unauthorized source%s sent %s messages that fail DMARC.</p>",
			num(a->spoofing_sources, n1, sizeof(n1)), a->spoofing_sources == 1 ? "" : "s",
			num(a->spoofing_messages, n2, sizeof(n2)));
	fprintf(f, "<dl><dt>window</dt><dd>%u days, %u with reports (need %u)</dd>", a->window_days,
		a->days_with_data, t->min_days);
	fprintf(f, "<dt>messages</dt><dd>%s (need %s)</dd>", num(a->messages, n1, sizeof(n1)),
		num(t->min_messages, n2, sizeof(n2)));
	fprintf(f, "<dt>DMARC pass</dt><dd>%.1f%% of all mail; %.1f%% of legitimate mail (%s messages)</dd>",
		a->pass_rate, a->legitimate_rate, num(a->legitimate, n1, sizeof(n1)));
	fprintf(f, "<dt>thresholds</dt><dd>quarantine at %.1f%%, reject at %.1f%% of legitimate mail passing; "
		   "no legitimate source failing over %.1f%%; a failing source of %.1f%% or more is to be "
		   "authorized</dd></dl></div>\n", t->quarantine_pass, t->reject_pass, t->small_share,
		t->authorize_share);
}

/* spoofing-looking (unauthorized, nothing passes) in orange; unauthorized but passing aligned DKIM: neutral */
static void badge_auth(FILE *f, const report_source_t *s)
{
	if (s->spf_authorized == 1)
		fputs("<span class=\"badge ok\">&#10003; authorized</span>", f);
	else if (s->spf_authorized == 0)
		fprintf(f, "<span class=\"badge %s\">&#10007; unauthorized</span>", s->dmarc_pass > 0 ? "unk" : "bad");
	else
		fputs("<span class=\"badge unk\">? unknown</span>", f);
}

static void sources(FILE *f, const report_domain_summary_t *d)
{
	char a[32];
	size_t n = d->nsources < REPORT_HTML_MAX_SOURCES ? d->nsources : REPORT_HTML_MAX_SOURCES;
	fputs("<h3>Top sending sources</h3>", f);
	if (n == 0) {
		fputs("<p class=\"more\">No source in the window.</p>\n", f);
		return;
	}
	fputs("<table><thead><tr><th>source</th><th>PTR name</th><th class=\"n\">messages</th>"
	      "<th class=\"n\">DMARC pass</th><th class=\"n\">DKIM aligned</th><th class=\"n\">SPF aligned</th>"
	      "<th>signs / sends as</th><th>domain's SPF</th></tr></thead><tbody>\n", f);
	for (size_t i = 0; i < n; i++) {
		const report_source_t *s = &d->sources[i];
		fputs("<tr><td><code>", f);
		esc(f, s->source);
		fputs("</code></td><td class=\"ptr\">", f);
		if (s->ptr != NULL && s->ptr[0] != '\0')
			esc(f, s->ptr);
		else
			fputs("&ndash;", f);
		fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%.1f%%</td><td class=\"n\">%.1f%%</td>"
			   "<td class=\"n\">%.1f%%</td><td>", num(s->messages, a, sizeof(a)),
			pct(s->dmarc_pass, s->messages), pct(s->dkim_aligned, s->messages),
			pct(s->spf_aligned, s->messages));
		bool any = false;
		if (s->dkim_domain != NULL && s->dkim_domain[0] != '\0') {
			fputs("DKIM ", f);
			esc(f, s->dkim_domain);
			if (s->dkim_selector != NULL && s->dkim_selector[0] != '\0') {
				fputs(" (", f);
				esc(f, s->dkim_selector);
				fputs(")", f);
			}
			any = true;
		}
		if (s->spf_domain != NULL && s->spf_domain[0] != '\0') {
			fputs(any ? "<br>SPF " : "SPF ", f);
			esc(f, s->spf_domain);
			any = true;
		}
		if (!any)
			fputs("&ndash;", f);
		fputs("</td><td>", f);
		badge_auth(f, s);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	if (d->nsources > n)
		fprintf(f, "<p class=\"more\">%zu more sources not shown (<code>mailns reports summary</code> "
			   "lists them all).</p>\n", d->nsources - n);
	fputs("<p class=\"more\">Domain's SPF: whether the SPF record mailns publishes for the domain covers "
	      "the address (unknown: terms not resolved yet).  A source outside it can still pass DMARC with "
	      "aligned DKIM; in orange: outside it and passing nothing.</p>\n", f);
}

static void domain(FILE *f, const report_summary_t *s, const report_domain_summary_t *d, const advice_t *a,
		   size_t idx)
{
	char w[64];
	fprintf(f, "<section id=\"d%zu\"><h2>", idx);
	esc(f, d->domain);
	if (a != NULL) {
		if (a->served)
			fprintf(f, " <span class=\"badge b-p\">published p=%s</span>", policy_dmarc_p_name(a->p));
		else
			fputs(" <span class=\"badge b-p\">not in the policy</span>", f);
		fprintf(f, " <span class=\"badge b-%s\">advice: %s</span>", advice_action_name(a->action),
			what(a, w, sizeof(w)));
	}
	fputs("</h2><div class=\"stats\">", f);
	stats(f, d);
	fputs("</div>\n", f);
	if (a != NULL)
		advice_box(f, a);
	fputs("<h3>Daily messages</h3>", f);
	chart(f, s, d, idx);
	sources(f, d);
	fputs("</section>\n", f);
}

typedef struct ordered {
	const report_domain_summary_t *d;
	size_t i;
} ordered_t;

static int by_volume(const void *x, const void *y)
{
	const report_domain_summary_t *a = ((const ordered_t *)x)->d, *b = ((const ordered_t *)y)->d;
	if (a->messages != b->messages)
		return a->messages > b->messages ? -1 : 1;
	return strcmp(a->domain, b->domain);
}

static void contents(FILE *f, const report_summary_t *s, const advice_t *const *advice, const ordered_t *order)
{
	char a[32], w[64];
	fputs("<nav><table><thead><tr><th>domain</th><th class=\"n\">messages</th><th class=\"n\">DMARC pass</th>"
	      "<th>advice</th></tr></thead><tbody>\n", f);
	size_t rows = s->n < REPORT_HTML_MAX_CONTENTS ? s->n : REPORT_HTML_MAX_CONTENTS;
	for (size_t k = 0; k < rows; k++) {
		const report_domain_summary_t *d = order[k].d;
		const advice_t *ad = advice != NULL ? advice[order[k].i] : NULL;
		if (k < REPORT_HTML_MAX_DOMAINS)
			fprintf(f, "<tr><td><a href=\"#d%zu\">", order[k].i);
		else
			fputs("<tr><td><a>", f);
		esc(f, d->domain);
		fprintf(f, "</a></td><td class=\"n\">%s</td><td class=\"n\">%.1f%%</td><td>",
			num(d->messages, a, sizeof(a)), pct(d->dmarc_pass, d->messages));
		if (ad != NULL)
			fprintf(f, "<span class=\"badge b-%s\">%s</span>", advice_action_name(ad->action),
				what(ad, w, sizeof(w)));
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table></nav>\n", f);
	if (s->n > REPORT_HTML_MAX_DOMAINS)
		fprintf(f, "<p class=\"more\">The %d domains with the most mail have a section below; %zu more "
			   "domain%s%s (<code>mailns reports advise</code> lists them all).</p>\n",
			REPORT_HTML_MAX_DOMAINS, s->n - REPORT_HTML_MAX_DOMAINS,
			s->n - REPORT_HTML_MAX_DOMAINS == 1 ? "" : "s",
			s->n > REPORT_HTML_MAX_CONTENTS ? ", not all listed above" : " are only listed above");
}

int report_html(const report_summary_t *s, const advice_t *const *advice, int64_t now, char **out,
		size_t *len)
{
	if (s == NULL || out == NULL || len == NULL || (s->n > 0 && s->v == NULL))
		return MN_EINVAL;
	char *buf = NULL;
	size_t size = 0;
	ordered_t *order = NULL;
	FILE *f = open_memstream(&buf, &size);
	if (f == NULL)
		goto fail;
	order = calloc(s->n + 1, sizeof(order[0]));
	if (order == NULL)
		goto fail;
	for (size_t i = 0; i < s->n; i++)
		order[i] = (ordered_t){ &s->v[i], i };
	qsort(order, s->n, sizeof(order[0]), by_volume);

	uint64_t msgs = 0, pass = 0;
	for (size_t i = 0; i < s->n; i++) {
		msgs += s->v[i].messages;
		pass += s->v[i].dmarc_pass;
	}
	char from[32], to[32], gen[32], n1[32];
	date(s->since, "%Y-%m-%d", from, sizeof(from));
	date(s->until - 1, "%Y-%m-%d", to, sizeof(to));
	date(now, "%Y-%m-%d %H:%M UTC", gen, sizeof(gen));
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		   "style-src 'unsafe-inline'; img-src data:\">"
		   "<title>DMARC reports %s to %s</title><style>%s</style></head><body>\n", from, to, CSS);
	fprintf(f, "<header><h1>DMARC reports</h1><p>Window: <b>%s</b> to <b>%s</b> (%u days, UTC) &middot; "
		   "%zu domain%s &middot; %s messages, %.1f%% passing DMARC</p><p>Made by mailns on %s</p>"
		   "</header>\n<main>\n", from, to, s->days, s->n, s->n == 1 ? "" : "s",
		num(msgs, n1, sizeof(n1)), pct(pass, msgs), gen);
	if (s->n == 0) {
		fputs("<section><p>No reports in the window.</p></section>\n", f);
	} else {
		contents(f, s, advice, order);
		for (size_t k = 0; k < s->n && k < REPORT_HTML_MAX_DOMAINS; k++)
			domain(f, s, order[k].d, advice != NULL ? advice[order[k].i] : NULL, order[k].i);
	}
	fputs("</main><footer>Aggregate counts as receivers reported them. Legitimate mail: sources that "
	      "pass DMARC at least in part or that the domain's SPF authorizes.</footer></body></html>\n", f);
	if (ferror(f))
		goto fail;
	if (fclose(f) != 0) {
		f = NULL;
		goto fail;
	}
	free(order);
	*out = buf;
	*len = size;
	return MN_OK;
fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	free(order);
	return MN_ENOMEM;
}
