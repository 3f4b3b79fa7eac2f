/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_reports.c -- mailns reports: ingest, list, summary, prune (and the dispatch to advise and html) */
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/authorize.h"
#include "reports/ingest.h"
#include "reports/store.h"
#include "tools/cmd.h"
#include "tools/resolve.h"

#define DAY 86400
#define PRUNE_PER_RUN 1000	/* reports an ingest run prunes at most */

static void usage(FILE *f)
{
	fprintf(f, "usage: mailns reports SUBCOMMAND [OPTIONS]\n\n"
		   "  ingest [-c POLICY] [-q] [PATH...]   store the reports in each PATH (stdin: one message)\n"
		   "  list [-c POLICY] [--domain D] [--since DATE] [--json]\n"
		   "                                      one line per stored report\n"
		   "  summary [-c POLICY] [--domain D] [--days N] [--json] [--resolve]\n"
		   "                                      per domain and sending source, over the last N days\n"
		   "  advise [-c POLICY] [--days N] [--json] [DOMAIN...]\n"
		   "                                      the next safe DMARC step per domain\n"
		   "  html [-c POLICY] [--days N] [-o FILE]\n"
		   "                                      one self-contained HTML page of summary and advice\n"
		   "  prune [-c POLICY]                   apply the retention (server.reports) now\n\n"
		   "'mailns reports SUBCOMMAND --help' describes each.\n");
}

int cmd_reports_open(const char *policy_path, int store_flags, policy_t **policy, report_store_t **store)
{
	char path[4096];
	policy_t *p = cmd_policy_load(policy_path, false);
	int err;

	*policy = NULL;
	*store = NULL;
	if (p == NULL)
		return MN_EPOLICY;
	const char *dir = p->server.state_dir.v;
	if (snprintf(path, sizeof(path), "%s/reports/reports.db", dir) >= (int)sizeof(path)) {
		cmd_err("state_dir too long");
		policy_free(p);
		return MN_ERANGE;
	}
	/* state_dir/reports/, entered without following a link (made when writing) */
	int fd = mn_dir_open(dir, "reports", 0750, !(store_flags & REPORT_STORE_READONLY));
	if (fd < 0 && !(fd == MN_ENOENT && (store_flags & REPORT_STORE_READONLY))) {
		cmd_err("cannot %s %s/reports (%s)", store_flags & REPORT_STORE_READONLY ? "open" : "create",
			dir, mn_strerror(fd));
		policy_free(p);
		return fd;
	}
	if (fd >= 0)
		close(fd);
	err = report_store_open(path, store_flags, store);
	if (err == MN_ENOENT && (store_flags & REPORT_STORE_READONLY)) {
		*policy = p;
		return MN_ENOENT;
	}
	if (err < 0) {
		cmd_err("report store %s: %s", path,
			err == MN_ELOCK ? "busy (locked past the timeout)" : mn_strerror(err));
		policy_free(p);
		return err;
	}
	*policy = p;
	return MN_OK;
}

/* "2030-01-01", "2030-01-01T12:00:00Z" or "@SECONDS". */
static int parse_date(const char *s, int64_t *out)
{
	char buf[32];
	time_t t;
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		s = buf;
	}
	if (mn_time_parse(s, &t) != MN_OK)
		return MN_ESYNTAX;
	*out = t;
	return MN_OK;
}

static int parse_domain(const char *s, char *out)
{
	if (mn_name_norm(s, out, 254) != MN_OK) {
		cmd_err("--domain '%s' is not a domain name", s);
		return MN_EINVAL;
	}
	return MN_OK;
}

/* The options list and summary share. */
typedef struct read_args {
	const char *policy_path;	/* -c; NULL: the default policy */
	char domain[254];		/* -d, normalized; "": every domain */
	bool json;			/* -j */
} read_args_t;

/*
 * The default branch of the getopt switch of list and summary: takes -c, -d
 * and -j, prints usage for -h (stdout) or an unknown option (stderr).
 * Returns -1 when the option was taken, else the exit code (CMD_OK after -h,
 * CMD_USAGE for a bad domain or an unknown option).
 */
static int read_opt(int c, read_args_t *a, void (*usage_fn)(FILE *f))
{
	switch (c) {
	case 'c': a->policy_path = optarg; return -1;
	case 'd': return parse_domain(optarg, a->domain) < 0 ? CMD_USAGE : -1;
	case 'j': a->json = true; return -1;
	case 'h': usage_fn(stdout); return CMD_OK;
	default: usage_fn(stderr); return CMD_USAGE;
	}
}

/* A whole number in min..max: MN_OK with *out, else MN_ERANGE. */
static int parse_count(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || v < min || v > max)
		return MN_ERANGE;
	*out = v;
	return MN_OK;
}

static int json_print(json_t *j)
{
	if (j == NULL) {
		cmd_err("out of memory");
		return CMD_ERRORS;
	}
	int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(j);
	return r == 0 ? CMD_OK : CMD_ERRORS;
}

/* Text columns stay one line: control characters and tabs of reporter strings become '?'. */
static void print_field(const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, stdout);
}

/* ---- ingest ----------------------------------------------------------------- */

typedef struct ingest_out {
	bool quiet;
} ingest_out_t;

static void ingest_note(void *arg, const char *input, ingest_status_t st, unsigned int stored, unsigned int dup,
			const char *why)
{
	ingest_out_t *o = arg;
	if (st == INGEST_INVALID)
		cmd_err("%s: %s; nothing of it stored", input, why);
	else if (st == INGEST_BUSY)
		cmd_err("%s: %s; try again later", input, why);
	else if (why != NULL)
		cmd_err("%s: %s", input, why);
	else if (!o->quiet && (stored || dup))
		fprintf(stderr, "%s: %u stored, %u duplicate%s\n", input, stored, dup, dup == 1 ? "" : "s");
}

static void ingest_usage(FILE *f)
{
	fprintf(f, "usage: mailns reports ingest [-c POLICY] [-q] [PATH...]\n\n"
		   "Stores the reports (DMARC aggregate, failure, TLS-RPT) found in each PATH:\n"
		   "a message file, a bare report (.xml, .xml.gz, .zip, .json, .json.gz), an\n"
		   "mbox, a Maildir (messages in new/ move to cur/ once stored) or a directory\n"
		   "(every file below it).  Without PATH: one message on stdin (an MTA pipe).\n\n"
		   "  -c, --policy FILE   the policy (the store: STATE_DIR/reports/reports.db)\n"
		   "  -q, --quiet         only errors on stderr, no totals\n"
		   "  -h, --help          this help\n\n"
		   "Exit: 0 every input stored or a duplicate; 1 an input held no valid report\n"
		   "(named on stderr with why; the others were stored); 75 the store is busy or\n"
		   "unwritable, or the policy cannot be read: an MTA retries later.\n");
}

static int reports_ingest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy_path = NULL;
	ingest_out_t out = { false };
	int c;

	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': policy_path = optarg; break;
		case 'q': out.quiet = true; break;
		case 'h': ingest_usage(stdout); return CMD_OK;
		default: ingest_usage(stderr); return CMD_USAGE;
		}
	}
	policy_t *p = NULL;
	report_store_t *s = NULL;
	if (cmd_reports_open(policy_path, 0, &p, &s) < 0)
		return CMD_TEMPFAIL;	/* nothing read, nothing lost: the MTA keeps the message */

	ingest_t in;
	ingest_init(&in, s);
	in.note = ingest_note;
	in.note_arg = &out;
	if (optind == argc)
		ingest_fd(&in, 0, "-");
	for (int i = optind; i < argc && !in.busy; i++)
		ingest_path(&in, argv[i]);

	if (!in.busy) {
		/* retention: bounded, so that every run stays cheap; errors only warned */
		int64_t now = mn_now();
		int err = report_store_prune(s, now - (int64_t)p->server.reports.keep_raw.v,
					     now - (int64_t)p->server.reports.keep.v, PRUNE_PER_RUN, NULL);
		if (err < 0 && err != MN_ELOCK)
			cmd_err("pruning old reports failed (%s)", mn_strerror(err));
	}
	if (!out.quiet)
		fprintf(stderr, "mailns: %llu report%s stored, %llu duplicate%s, %llu invalid input%s\n",
			(unsigned long long)in.stored, in.stored == 1 ? "" : "s", (unsigned long long)in.dup,
			in.dup == 1 ? "" : "s", (unsigned long long)in.invalid, in.invalid == 1 ? "" : "s");
	report_store_close(s);
	policy_free(p);
	return in.busy ? CMD_TEMPFAIL : in.invalid ? CMD_ERRORS : CMD_OK;
}

/* ---- list ------------------------------------------------------------------- */

static void list_usage(FILE *f)
{
	fprintf(f, "usage: mailns reports list [-c POLICY] [--domain D] [--since DATE] [--json]\n\n"
		   "One line per stored report, oldest first, tab-separated:\n"
		   "  BEGIN END KIND ORG REPORT-ID DOMAIN MESSAGES DMARC-PASS\n"
		   "(times ISO 8601 UTC; KIND dmarc, tlsrpt or failure; for tlsrpt, MESSAGES and\n"
		   "DMARC-PASS are sessions and successful sessions).\n\n"
		   "  -c, --policy FILE   the policy (the store: STATE_DIR/reports/reports.db)\n"
		   "  -d, --domain D      only reports about D\n"
		   "  -s, --since DATE    only reports whose range begins at or after DATE\n"
		   "                      (2030-01-01, 2030-01-01T12:00:00Z or @SECONDS)\n"
		   "  -j, --json          one JSON array of objects\n"
		   "  -h, --help          this help\n");
}

static int list_text(const report_store_entry_t *e, void *ctx)
{
	char b[32], en[32];
	(void)ctx;
	mn_time_format((time_t)e->begin, b, sizeof(b));
	mn_time_format((time_t)e->end, en, sizeof(en));
	printf("%s\t%s\t%s\t", b, en, report_kind_name(e->kind));
	print_field(e->org);
	putchar('\t');
	print_field(e->report_id);
	putchar('\t');
	print_field(e->domain);
	printf("\t%llu\t%llu\n", (unsigned long long)e->messages, (unsigned long long)e->pass);
	return 0;
}

static int list_json(const report_store_entry_t *e, void *ctx)
{
	char b[32], en[32];
	mn_time_format((time_t)e->begin, b, sizeof(b));
	mn_time_format((time_t)e->end, en, sizeof(en));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "begin", b, "end", en, "kind",
			      report_kind_name(e->kind), "org", e->org, "report_id", e->report_id, "domain",
			      e->domain, "messages", (json_int_t)e->messages, "dmarc_pass", (json_int_t)e->pass);
	if (o == NULL || json_array_append_new(ctx, o) != 0)
		return MN_ENOMEM;
	return 0;
}

static int reports_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "domain", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	read_args_t a = { .policy_path = NULL };
	int64_t since = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:d:s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_date(optarg, &since) < 0) {
				cmd_err("--since '%s': expected 2030-01-01, 2030-01-01T00:00:00Z or @SECONDS", optarg);
				return CMD_USAGE;
			}
			break;
		default:
			if ((r = read_opt(c, &a, list_usage)) >= 0)
				return r;
			break;
		}
	}
	if (optind != argc) {
		list_usage(stderr);
		return CMD_USAGE;
	}
	policy_t *p = NULL;
	report_store_t *s = NULL;
	int err = cmd_reports_open(a.policy_path, REPORT_STORE_READONLY, &p, &s);
	json_t *arr = a.json ? json_array() : NULL;
	if (err == MN_OK)
		err = report_store_list(s, a.domain[0] ? a.domain : NULL, since, a.json ? list_json : list_text,
					arr);
	else if (err == MN_ENOENT)
		err = MN_OK;	/* nothing stored yet */
	report_store_close(s);
	policy_free(p);
	if (err < 0) {
		if (err != MN_EPOLICY)
			cmd_err("list: %s", mn_strerror(err));
		json_decref(arr);
		return CMD_ERRORS;
	}
	return a.json ? json_print(arr) : CMD_OK;
}

/* ---- summary ---------------------------------------------------------------- */

static void summary_usage(FILE *f)
{
	fprintf(f, "usage: mailns reports summary [-c POLICY] [--domain D] [--days N] [--json] [--resolve]\n\n"
		   "Per domain and sending source (IP address), over the last N days (today\n"
		   "included): messages, DMARC pass, DKIM and SPF aligned, dispositions, and\n"
		   "whether the domain's published SPF authorizes the source (yes, no, or ?\n"
		   "when terms mailns has not resolved could).  Read from the daily roll-ups.\n\n"
		   "  -c, --policy FILE     the policy (the store: STATE_DIR/reports/reports.db)\n"
		   "  -d, --domain D        only D\n"
		   "  -n, --days N          the window in days (default 30, 1..3660)\n"
		   "  -t, --top N           sources shown per domain in the text table (default 20)\n"
		   "  -j, --json            one JSON array (every source)\n"
		   "  -r, --resolve         add the PTR name of the top N sources of each domain\n"
		   "                        (asks the resolver of /etc/resolv.conf, or --resolver)\n"
		   "      --resolver ADDR   the recursive resolver for --resolve\n"
		   "  -h, --help            this help\n");
}

/* "192.0.2.1" -> "1.2.0.192.in-addr.arpa", IPv6 by nibbles. */
static bool reverse_name(const char *addr, char *out, size_t size)
{
	uint8_t a[16];
	size_t n = 0;
	if (inet_pton(AF_INET, addr, a) == 1) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return true;
	}
	if (inet_pton(AF_INET6, addr, a) != 1 || size < 74)
		return false;
	for (int i = 15; i >= 0; i--)
		n += (size_t)snprintf(out + n, size - n, "%x.%x.", a[i] & 0xf, a[i] >> 4);
	snprintf(out + n, size - n, "ip6.arpa");
	return true;
}

static void resolve_ptrs(report_summary_t *sum, resolve_t *res, size_t top)
{
	for (size_t i = 0; i < sum->n; i++) {
		report_domain_summary_t *d = &sum->v[i];
		for (size_t j = 0; j < d->nsources && j < top; j++) {
			char name[80];
			resolve_result_t rr = { 0 };
			if (!reverse_name(d->sources[j].source, name, sizeof(name)) ||
			    resolve_query(res, name, 12 /* PTR */, &rr) != MN_OK)
				continue;
			if (rr.status == RESOLVE_ANSWER && rr.n > 0)
				d->sources[j].ptr = mn_strdup(rr.v[0]);
			resolve_result_clear(&rr);
		}
	}
}

static const char *auth_text(int a)
{
	return a > 0 ? "yes" : a == 0 ? "no" : "?";
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void summary_text(const report_summary_t *sum, size_t top)
{
	char since[32], until[32];
	mn_time_format((time_t)sum->since, since, sizeof(since));
	mn_time_format((time_t)(sum->until - DAY), until, sizeof(until));	/* the last day in it */
	if (sum->n == 0)
		printf("no reports from %.10s to %.10s (%u days)\n", since, until, sum->days);
	for (size_t i = 0; i < sum->n; i++) {
		const report_domain_summary_t *d = &sum->v[i];
		printf("%s%s: %.10s to %.10s (%u days), %llu aggregate report%s\n", i ? "\n" : "", d->domain, since,
		       until, sum->days, (unsigned long long)d->reports, d->reports == 1 ? "" : "s");
		printf("  messages %llu, DMARC pass %llu (%.1f%%), DKIM aligned %llu, SPF aligned %llu, "
		       "quarantined %llu, rejected %llu\n",
		       (unsigned long long)d->messages, (unsigned long long)d->dmarc_pass, pct(d->dmarc_pass, d->messages),
		       (unsigned long long)d->dkim_aligned, (unsigned long long)d->spf_aligned,
		       (unsigned long long)d->disp[1], (unsigned long long)d->disp[2]);
		if (d->tls_successful || d->tls_failed || d->failures)
			printf("  TLS sessions %llu successful, %llu failed; %llu failure report%s\n",
			       (unsigned long long)d->tls_successful, (unsigned long long)d->tls_failed,
			       (unsigned long long)d->failures, d->failures == 1 ? "" : "s");
		if (d->nsources == 0)
			continue;
		printf("  %-39s %10s %10s %10s %10s %8s %10s %10s %10s  %s\n", "SOURCE", "MESSAGES", "DMARC-PASS",
		       "DKIM-ALIGN", "SPF-ALIGN", "SPF-AUTH", "NONE", "QUARANTINE", "REJECT", "DKIM-PASS SPF-PASS PTR");
		for (size_t j = 0; j < d->nsources && j < top; j++) {
			const report_source_t *s = &d->sources[j];
			printf("  %-39s %10llu %10llu %10llu %10llu %8s %10llu %10llu %10llu  ", s->source,
			       (unsigned long long)s->messages, (unsigned long long)s->dmarc_pass,
			       (unsigned long long)s->dkim_aligned, (unsigned long long)s->spf_aligned,
			       auth_text(s->spf_authorized), (unsigned long long)s->disp[0],
			       (unsigned long long)s->disp[1], (unsigned long long)s->disp[2]);
			if (s->dkim_domain[0]) {
				print_field(s->dkim_domain);
				putchar('/');
				print_field(s->dkim_selector);
			} else {
				putchar('-');
			}
			putchar(' ');
			print_field(s->spf_domain[0] ? s->spf_domain : "-");
			putchar(' ');
			print_field(s->ptr != NULL ? s->ptr : "-");
			putchar('\n');
		}
		if (d->nsources > top)
			printf("  ... %zu more source%s (--top, --json)\n", d->nsources - top,
			       d->nsources - top == 1 ? "" : "s");
	}
}

static json_t *disp_json(const uint64_t disp[3])
{
	return json_pack("{s:I, s:I, s:I}", "none", (json_int_t)disp[0], "quarantine", (json_int_t)disp[1], "reject",
			 (json_int_t)disp[2]);
}

static json_t *summary_json(const report_summary_t *sum)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr != NULL && i < sum->n; i++) {
		const report_domain_summary_t *d = &sum->v[i];
		json_t *srcs = json_array(), *days = json_array();
		for (size_t j = 0; srcs != NULL && j < d->nsources; j++) {
			const report_source_t *s = &d->sources[j];
			json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:s, s:s, s:s}", "source", s->source,
					      "messages", (json_int_t)s->messages, "dmarc_pass", (json_int_t)s->dmarc_pass,
					      "dkim_aligned", (json_int_t)s->dkim_aligned, "spf_aligned",
					      (json_int_t)s->spf_aligned, "spf_authorized",
					      s->spf_authorized < 0 ? json_null() : json_boolean(s->spf_authorized),
					      "dispositions", disp_json(s->disp), "dkim_domain", s->dkim_domain,
					      "dkim_selector", s->dkim_selector, "spf_domain", s->spf_domain);
			if (o != NULL && s->ptr != NULL)
				json_object_set_new(o, "ptr", json_string(s->ptr));
			if (o == NULL || json_array_append_new(srcs, o) != 0)
				goto oom;
		}
		for (size_t j = 0; days != NULL && j < d->ndays; j++) {
			char t[32];
			mn_time_format((time_t)d->days[j].day, t, sizeof(t));
			t[10] = '\0';
			if (json_array_append_new(days, json_pack("{s:s, s:I, s:I}", "day", t, "messages",
								  (json_int_t)d->days[j].messages, "dmarc_pass",
								  (json_int_t)d->days[j].dmarc_pass)) != 0)
				goto oom;
		}
		json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o, s:o}", "domain",
				      d->domain, "reports", (json_int_t)d->reports, "messages", (json_int_t)d->messages,
				      "dmarc_pass", (json_int_t)d->dmarc_pass, "dkim_aligned", (json_int_t)d->dkim_aligned,
				      "spf_aligned", (json_int_t)d->spf_aligned, "dispositions", disp_json(d->disp),
				      "tls_successful", (json_int_t)d->tls_successful, "tls_failed",
				      (json_int_t)d->tls_failed, "failures", (json_int_t)d->failures, "days", days,
				      "sources", srcs);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto oom;
		continue;
oom:
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static int reports_summary(int argc, char **argv)
{
	enum { OPT_RESOLVER = 1000 };
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "domain", required_argument, NULL, 'd' },
		{ "days", required_argument, NULL, 'n' },
		{ "top", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "resolve", no_argument, NULL, 'r' },
		{ "resolver", required_argument, NULL, OPT_RESOLVER },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	read_args_t a = { .policy_path = NULL };
	const char *resolver = NULL;
	unsigned long days = 30, top = 20;
	bool resolve = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:d:n:t:jrh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_count(optarg, 1, 3660, &days) < 0) {
				cmd_err("--days '%s': expected 1..3660", optarg);
				return CMD_USAGE;
			}
			break;
		case 't':
			if (parse_count(optarg, 1, ULONG_MAX, &top) < 0) {
				cmd_err("--top '%s': expected a positive number", optarg);
				return CMD_USAGE;
			}
			break;
		case 'r': resolve = true; break;
		case OPT_RESOLVER: resolver = optarg; resolve = true; break;
		default:
			if ((r = read_opt(c, &a, summary_usage)) >= 0)
				return r;
			break;
		}
	}
	if (optind != argc) {
		summary_usage(stderr);
		return CMD_USAGE;
	}
	policy_t *p = NULL;
	report_store_t *s = NULL;
	report_summary_t *sum = NULL;
	resolve_t *res = NULL;
	int rc = CMD_ERRORS;
	int64_t until = ((int64_t)mn_now() / DAY + 1) * DAY;	/* today included */
	int64_t since = until - (int64_t)days * DAY;
	int err = cmd_reports_open(a.policy_path, REPORT_STORE_READONLY, &p, &s);

	if (err == MN_EPOLICY || (err < 0 && err != MN_ENOENT))
		goto out;
	if (err == MN_ENOENT) {
		/* nothing stored yet: an empty summary */
		if ((sum = calloc(1, sizeof(*sum))) == NULL)
			goto oom;
		sum->since = since;
		sum->until = until;
		sum->days = (unsigned int)days;
	} else if ((err = report_store_summary(s, a.domain[0] ? a.domain : NULL, since, until, &sum)) < 0) {
		cmd_err("summary: %s", mn_strerror(err));
		goto out;
	}
	if (report_summary_authorize(sum, p) < 0)
		goto oom;
	if (resolve) {
		char why[256] = "";
		if (resolve_new(resolver, why, sizeof(why), &res) < 0) {
			cmd_err("--resolve: %s", why);
			goto out;
		}
		resolve_ptrs(sum, res, top);	/* bounded: one query per source, the top N */
	}
	if (a.json)
		rc = json_print(summary_json(sum));
	else {
		summary_text(sum, top);
		rc = CMD_OK;
	}
	goto out;
oom:
	cmd_err("out of memory");
out:
	resolve_free(res);
	report_summary_free(sum);
	report_store_close(s);
	policy_free(p);
	return rc;
}

/* ---- prune ------------------------------------------------------------------ */

static int reports_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy_path = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': policy_path = optarg; break;
		case 'h':
			printf("usage: mailns reports prune [-c POLICY]\n\n"
			       "Drops the raw bytes of reports stored more than server.reports.keep_raw\n"
			       "ago (default 90d), and reports and roll-ups older than server.reports.keep\n"
			       "(default 730d).  ingest does the same a little at a time.\n");
			return CMD_OK;
		default: fprintf(stderr, "usage: mailns reports prune [-c POLICY]\n"); return CMD_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: mailns reports prune [-c POLICY]\n");
		return CMD_USAGE;
	}
	policy_t *p = NULL;
	report_store_t *s = NULL;
	if (cmd_reports_open(policy_path, 0, &p, &s) < 0)
		return CMD_TEMPFAIL;
	int64_t now = mn_now();
	uint64_t total = 0, n = 0;
	int err;
	do {
		err = report_store_prune(s, now - (int64_t)p->server.reports.keep_raw.v,
					 now - (int64_t)p->server.reports.keep.v, 10000, &n);
		total += n;
	} while (err == MN_OK && n == 10000);
	report_store_close(s);
	policy_free(p);
	if (err < 0) {
		cmd_err("prune: %s", mn_strerror(err));
		return err == MN_ELOCK ? CMD_TEMPFAIL : CMD_ERRORS;
	}
	printf("pruned %llu report%s or raw copies\n", (unsigned long long)total, total == 1 ? "" : "s");
	return CMD_OK;
}

/* ---- dispatch ---------------------------------------------------------------- */

static const cmd_sub_t subs[] = {
	{ "ingest", reports_ingest, NULL },
	{ "list", reports_list, NULL },
	{ "summary", reports_summary, NULL },
	{ "prune", reports_prune, NULL },
	{ "advise", cmd_reports_advise, NULL },
	{ "html", cmd_reports_html, NULL },
};

int cmd_reports(int argc, char **argv)
{
	return cmd_dispatch(subs, sizeof(subs) / sizeof(subs[0]), argc, argv, usage,
			    "reports: unknown subcommand '%s'");
}
