/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_reports_advise.c -- mailns reports advise, mailns reports html, and the advice of mailns check --reports */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/advise.h"
#include "reports/authorize.h"
#include "reports/html.h"
#include "reports/store.h"
#include "tools/cmd.h"

enum { DAY = 86400, MAX_DAYS = 3660, TEXT_FAILING = 5 };

/* The window of the last `days` UTC days, today included: [since, until). */
static void window(unsigned int days, int64_t *since, int64_t *until)
{
	int64_t now = (int64_t)mn_now();
	*until = (now - ((now % DAY) + DAY) % DAY) + DAY;
	*since = *until - (int64_t)days * DAY;
}

static int parse_days(const char *s, unsigned int *out)
{
	char *end = NULL;
	unsigned long v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < 1 || v > MAX_DAYS) {
		cmd_err("--days wants a number of days from 1 to %d ('%s')", MAX_DAYS, s);
		return MN_EINVAL;
	}
	*out = (unsigned int)v;
	return MN_OK;
}

/*
 * The summary of the window for domain (NULL: every domain), spf_authorized
 * filled from the policy.  A store that does not exist yet is an empty
 * summary.  Prints why on stderr.
 */
static int load_summary(const char *policy_path, unsigned int days, const char *domain, policy_t **policy,
			report_summary_t **out)
{
	report_store_t *st = NULL;
	report_summary_t *s = NULL;
	int64_t since, until;
	window(days, &since, &until);
	int r = cmd_reports_open(policy_path, REPORT_STORE_READONLY, policy, &st);
	if (r == MN_ENOENT && *policy != NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL) {
			r = MN_ENOMEM;
			goto fail;
		}
	} else if (r != MN_OK) {
		return r;
	} else {
		r = report_store_summary(st, domain, since, until, &s);
		if (r != MN_OK) {
			cmd_err("cannot read the report store (%s)", mn_strerror(r));
			goto fail;
		}
		r = report_summary_authorize(s, *policy);
		if (r != MN_OK) {
			cmd_err("cannot match the sources against the domains' SPF (%s)", mn_strerror(r));
			goto fail;
		}
	}
	s->since = since;
	s->until = until;
	s->days = days;
	report_store_close(st);
	*out = s;
	return MN_OK;
fail:
	report_store_close(st);
	report_summary_free(s);
	policy_free(*policy);
	*policy = NULL;
	return r != MN_OK ? r : MN_ENOMEM;
}

static int status_of(int r)
{
	return r == MN_ELOCK ? CMD_TEMPFAIL : CMD_ERRORS;
}

static const policy_dmarc_t *dmarc_of(const policy_t *p, const char *domain)
{
	const policy_domain_t *d = policy_domain_find(p, domain);
	return d != NULL ? &d->dmarc : NULL;
}

/* ---- the options of advise and html --------------------------------------------- */

typedef struct opts {
	const char *policy, *output;
	unsigned int days;
	bool json;
} opts_t;

static void advise_usage(FILE *f);
static void html_usage(FILE *f);

/*
 * -c, --days, --help, and --json (advise) or -o (html); html takes no
 * operands.  Returns -1 to go on (optind at the operands), else the exit status.
 */
static int parse_opts(int argc, char **argv, bool html, opts_t *o)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "days", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	void (*usage)(FILE *) = html ? html_usage : advise_usage;
	*o = (opts_t){ .days = 30 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, html ? "c:o:h" : "c:h", opts, NULL)) != -1) {
		if ((c == 'j' && html) || (c == 'o' && !html))
			c = '?';
		switch (c) {
		case 'c': o->policy = optarg; break;
		case 'd':
			if (parse_days(optarg, &o->days) != MN_OK)
				return CMD_USAGE;
			break;
		case 'j': o->json = true; break;
		case 'o': o->output = optarg; break;
		case 'h': usage(stdout); return CMD_OK;
		default: usage(stderr); return CMD_USAGE;
		}
	}
	if (html && optind != argc) {
		cmd_err("reports html takes no arguments ('%s')", argv[optind]);
		return CMD_USAGE;
	}
	return -1;
}

/* ---- mailns reports advise ---------------------------------------------------- */

static void advise_usage(FILE *f)
{
	fprintf(f, "usage: mailns reports advise [-c POLICY] [--days N] [--json] [DOMAIN...]\n\n"
		   "The next safe DMARC step of each domain with reports in the last N days (or\n"
		   "of each DOMAIN named): stay, quarantine, reject, or authorize a source first,\n"
		   "with the reason and the numbers and thresholds behind it.\n\n"
		   "  -c, --policy FILE   the policy (default $MAILNS_POLICY, " MN_POLICY_PATH ")\n"
		   "      --days N        the window in days, today included (default 30)\n"
		   "      --json          one JSON array of objects (domain, action, reason, numbers)\n"
		   "  -h, --help          this help\n");
}

static void print_text(const advice_t *a, bool first)
{
	const advise_thresholds_t *t = &a->thresholds;
	printf("%s%s: %s (", first ? "" : "\n", a->domain, advice_action_name(a->action));
	if (!a->served)
		printf("not in the policy");
	else
		printf("published p=%s", policy_dmarc_p_name(a->p));
	if (a->sp >= 0)
		printf(", sp=%s", policy_dmarc_p_name((dmarc_p_t)a->sp));
	printf(")\n  %s\n", a->reason);
	if (a->authorize != NULL && a->fix[0] != '\0')
		printf("  align %s: %s\n", a->authorize->source, a->fix);
	printf("  numbers: %llu messages on %u of %u days; DMARC pass %.1f%% of all mail, %.1f%% of "
	       "legitimate mail (%llu messages)\n", (unsigned long long)a->messages, a->days_with_data,
	       a->window_days, a->pass_rate, a->legitimate_rate, (unsigned long long)a->legitimate);
	printf("  thresholds: %llu messages and %u days of data; quarantine at %.1f%%, reject at %.1f%%; "
	       "small share %.1f%%; authorize share %.1f%%\n", (unsigned long long)t->min_messages, t->min_days,
	       t->quarantine_pass, t->reject_pass, t->small_share, t->authorize_share);
	for (size_t i = 0; i < a->nfailing && i < TEXT_FAILING; i++)
		printf("%s %s %llu (%s)", i == 0 ? "  failing:" : ",", a->failing[i].src->source,
		       (unsigned long long)a->failing[i].failing, advice_class_name(a->failing[i].cls));
	if (a->nfailing > TEXT_FAILING)
		printf(", and %zu more", a->nfailing - TEXT_FAILING);
	if (a->nfailing > 0)
		printf("\n");
	if (a->spoofing_sources > 0)
		printf("  spoofing: %zu unauthorized source%s, %llu messages failing DMARC\n", a->spoofing_sources,
		       a->spoofing_sources == 1 ? "" : "s", (unsigned long long)a->spoofing_messages);
}

static json_t *rate(double v)
{
	return json_real((double)(long long)(v * 100.0 + 0.5) / 100.0);
}

static json_t *to_json(const advice_t *a)
{
	const advise_thresholds_t *t = &a->thresholds;
	json_t *failing = json_array(), *o = NULL;
	if (failing == NULL)
		return NULL;
	for (size_t i = 0; i < a->nfailing; i++) {
		const advice_source_t *f = &a->failing[i];
		json_array_append_new(failing, json_pack("{s:s, s:I, s:I, s:s}", "source", f->src->source,
							 "messages", (json_int_t)f->src->messages, "failing",
							 (json_int_t)f->failing, "class", advice_class_name(f->cls)));
	}
	json_t *auth = json_null();
	if (a->authorize != NULL)
		auth = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s}", "source", a->authorize->source, "messages",
				 (json_int_t)a->authorize->messages, "failing", (json_int_t)a->authorize_failing,
				 "dkim_domain", a->authorize->dkim_domain ? a->authorize->dkim_domain : "",
				 "dkim_selector", a->authorize->dkim_selector ? a->authorize->dkim_selector : "",
				 "spf_domain", a->authorize->spf_domain ? a->authorize->spf_domain : "", "fix", a->fix);
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:o}",
		      "domain", a->domain, "action", advice_action_name(a->action), "reason", a->reason,
		      "published_p", a->served ? json_string(policy_dmarc_p_name(a->p)) : json_null(), "published_sp",
		      a->sp >= 0 ? json_string(policy_dmarc_p_name((dmarc_p_t)a->sp)) : json_null(),
		      "window_days", (json_int_t)a->window_days, "days_with_data", (json_int_t)a->days_with_data,
		      "messages", (json_int_t)a->messages, "dmarc_pass", (json_int_t)a->dmarc_pass,
		      "pass_rate", rate(a->pass_rate), "legitimate_messages", (json_int_t)a->legitimate,
		      "legitimate_pass", (json_int_t)a->legitimate_pass, "legitimate_rate", rate(a->legitimate_rate),
		      "thresholds",
		      json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f}", "window_days", (json_int_t)t->window_days,
				"min_messages", (json_int_t)t->min_messages, "min_days", (json_int_t)t->min_days,
				"quarantine_pass", t->quarantine_pass, "reject_pass", t->reject_pass, "small_share",
				t->small_share, "authorize_share", t->authorize_share),
		      "failing_sources", failing, "spoofing_sources", (json_int_t)a->spoofing_sources,
		      "spoofing_messages", (json_int_t)a->spoofing_messages, "authorize", auth);
	return o;
}

/* the domains to advise: every one with reports, or those named (with or without reports) */
static int select_domains(const report_summary_t *s, int argc, char **argv, const report_domain_summary_t ***out,
			  size_t *n, report_domain_summary_t *empty)
{
	size_t want = argc > 0 ? (size_t)argc : s->n;
	const report_domain_summary_t **v = calloc(want + 1, sizeof(v[0]));
	if (v == NULL)
		return MN_ENOMEM;
	*n = 0;
	if (argc == 0) {
		for (size_t i = 0; i < s->n; i++)
			v[(*n)++] = &s->v[i];
	}
	for (int k = 0; k < argc; k++) {
		char name[256];
		if (mn_name_norm(argv[k], name, sizeof(name)) != MN_OK) {
			cmd_err("'%s' is not a domain name", argv[k]);
			free(v);
			return MN_EINVAL;
		}
		const report_domain_summary_t *d = NULL;
		for (size_t i = 0; i < s->n && d == NULL; i++)
			if (strcmp(s->v[i].domain, name) == 0)
				d = &s->v[i];
		if (d == NULL) {
			empty[k].domain = strdup(name);
			if (empty[k].domain == NULL) {
				free(v);
				return MN_ENOMEM;
			}
			d = &empty[k];
		}
		v[(*n)++] = d;
	}
	*out = v;
	return MN_OK;
}

int cmd_reports_advise(int argc, char **argv)
{
	opts_t o;
	int st = parse_opts(argc, argv, false, &o);
	if (st >= 0)
		return st;
	const char *path = o.policy;
	unsigned int days = o.days;
	bool json = o.json;
	/* one domain named: read only its roll-ups */
	char one[256] = "";
	if (argc - optind == 1 && mn_name_norm(argv[optind], one, sizeof(one)) != MN_OK) {
		cmd_err("'%s' is not a domain name", argv[optind]);
		return CMD_USAGE;
	}
	policy_t *p = NULL;
	report_summary_t *s = NULL;
	int r = load_summary(path, days, one[0] != '\0' ? one : NULL, &p, &s);
	if (r != MN_OK)
		return status_of(r);

	int status = CMD_ERRORS;
	int nargs = argc - optind;
	report_domain_summary_t *empty = calloc((size_t)nargs + 1, sizeof(empty[0]));
	const report_domain_summary_t **doms = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	advise_thresholds_t t;
	advise_thresholds_default(&t);
	t.window_days = days;
	if (empty == NULL || arr == NULL) {
		cmd_err("out of memory");
		goto done;
	}
	r = select_domains(s, nargs, argv + optind, &doms, &n, empty);
	if (r != MN_OK) {
		status = r == MN_EINVAL ? CMD_USAGE : CMD_ERRORS;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		advice_t *a = NULL;
		r = advise_domain(doms[i], dmarc_of(p, doms[i]->domain), days, &t, &a);
		if (r != MN_OK) {
			cmd_err("cannot advise %s (%s)", doms[i]->domain, mn_strerror(r));
			goto done;
		}
		if (json && json_array_append_new(arr, to_json(a)) != 0) {
			advice_free(a);
			cmd_err("out of memory");
			goto done;
		} else if (!json)
			print_text(a, i == 0);
		advice_free(a);
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
	} else if (n == 0) {
		printf("no reports in the last %u days\n", days);
	}
	status = fflush(stdout) == 0 ? CMD_OK : CMD_ERRORS;
done:
	json_decref(arr);
	free(doms);
	for (int k = 0; empty != NULL && k < nargs; k++)
		free(empty[k].domain);
	free(empty);
	report_summary_free(s);
	policy_free(p);
	return status;
}

/* ---- mailns reports html ------------------------------------------------------ */

static void html_usage(FILE *f)
{
	fprintf(f, "usage: mailns reports html [-c POLICY] [--days N] [-o FILE]\n\n"
		   "One self-contained HTML page (inline CSS and SVG, no script, nothing fetched)\n"
		   "of the last N days: per domain, by volume, a chart of the daily messages\n"
		   "passing and failing DMARC, the top sending sources, and the advice.\n\n"
		   "  -c, --policy FILE   the policy (default $MAILNS_POLICY, " MN_POLICY_PATH ")\n"
		   "      --days N        the window in days, today included (default 30)\n"
		   "  -o, --output FILE   write FILE (atomically: complete or unchanged) instead of stdout\n"
		   "  -h, --help          this help\n");
}

int cmd_reports_html(int argc, char **argv)
{
	opts_t o;
	int st = parse_opts(argc, argv, true, &o);
	if (st >= 0)
		return st;
	const char *path = o.policy, *output = o.output;
	unsigned int days = o.days;
	policy_t *p = NULL;
	report_summary_t *s = NULL;
	int r = load_summary(path, days, NULL, &p, &s);
	if (r != MN_OK)
		return status_of(r);

	int status = CMD_ERRORS;
	char *page = NULL;
	size_t len = 0;
	advise_thresholds_t t;
	advise_thresholds_default(&t);
	t.window_days = days;
	advice_t **adv = calloc(s->n + 1, sizeof(adv[0]));
	if (adv == NULL) {
		cmd_err("out of memory");
		goto done;
	}
	for (size_t i = 0; i < s->n; i++) {
		r = advise_domain(&s->v[i], dmarc_of(p, s->v[i].domain), days, &t, &adv[i]);
		if (r != MN_OK) {
			cmd_err("cannot advise %s (%s)", s->v[i].domain, mn_strerror(r));
			goto done;
		}
	}
	r = report_html(s, (const advice_t *const *)adv, (int64_t)mn_now(), &page, &len);
	if (r != MN_OK) {
		cmd_err("cannot render the page (%s)", mn_strerror(r));
		goto done;
	}
	if (output != NULL) {
		r = mn_file_write_atomic(output, page, len, 0644);
		if (r != MN_OK) {
			cmd_err("cannot write %s (%s)", output, mn_strerror(r));
			goto done;
		}
	} else if (fwrite(page, 1, len, stdout) != len || fflush(stdout) != 0) {
		cmd_err("cannot write the page (%s)", strerror(errno));
		goto done;
	}
	status = CMD_OK;
done:
	for (size_t i = 0; adv != NULL && i < s->n; i++)
		advice_free(adv[i]);
	free(adv);
	free(page);
	report_summary_free(s);
	policy_free(p);
	return status;
}

/* ---- mailns check --reports --------------------------------------------------- */

int cmd_check_reports(const policy_t *p, const char *policy_path, diag_t *diag)
{
	if (p == NULL || diag == NULL)
		return MN_EINVAL;
	policy_t *own = NULL;
	report_summary_t *s = NULL;
	advise_thresholds_t t;
	advise_thresholds_default(&t);
	/* the store of this policy; the summary is matched against p, the policy checked */
	int r = load_summary(policy_path, t.window_days, NULL, &own, &s);
	if (r != MN_OK) {
		diag_warn(diag, NULL, "reports: cannot read the report store (%s)", mn_strerror(r));
		return MN_OK;
	}
	if (s->n == 0)
		diag_warn(diag, NULL, "reports: no reports stored for the last %u days", t.window_days);
	for (size_t i = 0; i < s->n; i++) {
		const policy_domain_t *dom = policy_domain_find(p, s->v[i].domain);
		if (dom == NULL)
			continue;	/* reports about a domain this policy does not serve */
		advice_t *a = NULL;
		r = advise_domain(&s->v[i], &dom->dmarc, t.window_days, &t, &a);
		if (r != MN_OK)
			break;
		const mn_pos_t *pos = POLICY_SET(dom->dmarc.p) ? &dom->dmarc.p.pos : &dom->pos;
		diag_warn(diag, pos, "reports for %s (last %u days): %s: %s", dom->name, t.window_days,
			  advice_action_name(a->action), a->reason);
		if (a->authorize != NULL && a->fix[0] != '\0')
			diag_warn(diag, pos, "reports for %s: align %s: %s", dom->name, a->authorize->source, a->fix);
		advice_free(a);
	}
	report_summary_free(s);
	policy_free(own);
	return r == MN_OK ? MN_OK : r;
}
