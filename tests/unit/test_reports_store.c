/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_reports_store.c -- the report store: put, duplicates, summary sums, all-or-nothing, locks, retention */
#include "config.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/mn.h"
#include "reports/authorize.h"
#include "reports/store.h"
#include "zones/spfcache.h"
#include "tests/tap/tap.h"

#define DAY 86400
#define T0 1893456000	/* 2030-01-01T00:00:00Z */

static char *xs(const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		tap_bail("out of memory");
	return d;
}

static report_t *new_report(report_kind_t kind, const char *org, const char *id, const char *domain,
			    int64_t begin)
{
	report_t *r = calloc(1, sizeof(*r));
	if (r == NULL)
		tap_bail("out of memory");
	r->kind = kind;
	r->org = xs(org);
	r->email = xs("");
	r->report_id = xs(id);
	r->domain = xs(domain);
	r->begin = begin;
	r->end = begin + DAY - 1;
	r->rawlen = 64;
	r->raw = calloc(1, r->rawlen);
	if (r->raw == NULL)
		tap_bail("out of memory");
	memset(r->raw, 'x', r->rawlen);
	return r;
}

/* Adds a record; dkim_d/spf_d NULL: no passing result of that kind. */
static void add_row(report_t *r, const char *source, uint64_t count, report_disp_t disp, bool dkim_al,
		    bool spf_al, const char *dkim_d, const char *dkim_s, const char *spf_d)
{
	report_row_t *v = realloc(r->rows, (r->nrows + 1) * sizeof(*v));
	if (v == NULL)
		tap_bail("out of memory");
	r->rows = v;
	report_row_t *row = &v[r->nrows++];
	memset(row, 0, sizeof(*row));
	snprintf(row->source, sizeof(row->source), "%s", source);
	row->count = count;
	row->disposition = disp;
	row->dkim_aligned = dkim_al;
	row->spf_aligned = spf_al;
	row->header_from = xs(r->domain);
	row->envelope_from = xs("");
	row->envelope_to = xs("");
	row->reason = xs("");
	row->auth = calloc(2, sizeof(*row->auth));
	if (row->auth == NULL)
		tap_bail("out of memory");
	if (dkim_d != NULL)
		row->auth[row->nauth++] = (report_auth_t){ true, xs(dkim_d), xs(dkim_s), xs("pass") };
	row->auth[row->nauth++] =
		(report_auth_t){ false, xs(spf_d != NULL ? spf_d : "bounce.example"), xs("mfrom"),
				 xs(spf_d != NULL ? "pass" : "fail") };
}

static report_t *tls_report(const char *id, const char *domain, int64_t begin, uint64_t ok, uint64_t failed)
{
	report_t *r = new_report(REPORT_TLSRPT, "tls.example", id, domain, begin);
	r->tls = calloc(1, sizeof(*r->tls));
	if (r->tls == NULL)
		tap_bail("out of memory");
	r->ntls = 1;
	r->tls[0].policy_type = xs("sts");
	r->tls[0].policy_domain = xs(domain);
	r->tls[0].successful = ok;
	r->tls[0].failed = failed;
	return r;
}

static long long count_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	long long n = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		tap_bail("sqlite3_open %s", path);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static int put(report_store_t *s, report_t *r, bool *dup)
{
	int err = report_store_put(s, r, dup);
	report_free(r);
	return err;
}

static const report_source_t *find_source(const report_domain_summary_t *d, const char *src)
{
	for (size_t i = 0; i < d->nsources; i++) {
		if (strcmp(d->sources[i].source, src) == 0)
			return &d->sources[i];
	}
	return NULL;
}

static const char policy_yaml[] =
	"version: 1\n"
	"server:\n"
	"  nameservers: [ns1.example.net]\n"
	"  hostmaster: hostmaster.example.net\n"
	"  state_dir: state\n"
	"domains:\n"
	"  example.com:\n"
	"    spf: { mode: plain, ip4: [192.0.2.0/28], ip6: [\"2001:db8::/32\"] }\n"
	"  other.example:\n"
	"    spf: { mode: flatten, include: [spf.esp.example] }\n"
	"  third.example:\n"
	"    spf: { mode: flatten, include: [spf.esp.example] }\n"
	"  fourth.example:\n"
	"    spf: { mode: plain, ip4: [192.0.2.0/28], mx: true }\n";

/* spf_authorized from the policy's plain terms and from a current SPF cache. */
static void test_authorize(const char *dir)
{
	char path[300], state[300];
	diag_t *diag = NULL;
	if (diag_new(&diag) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;

	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	if (mn_file_write_atomic(path, policy_yaml, strlen(policy_yaml), 0644) != MN_OK ||
	    policy_load(path, diag, &p) != MN_OK)
		tap_bail("policy for authorize");
	/* other.example: a cache from its current terms; third.example: a stale one */
	spfcache_t c = { .source = "include:spf.esp.example", .resolved = T0, .ttl = 300 };
	mn_net_t nets[2];
	mn_net_parse("203.0.113.0/24", 0, false, &nets[0]);
	mn_net_parse("2001:db8:1::/48", 0, false, &nets[1]);
	c.nets = nets;
	c.nnets = 2;
	is_int(spfcache_save(state, "other.example", &c), MN_OK, "SPF cache of other.example");
	c.source = "include:old.esp.example";
	is_int(spfcache_save(state, "third.example", &c), MN_OK, "stale SPF cache of third.example");

	const char *names[] = { "example.com", "other.example", "third.example", "fourth.example", "absent.example" };
	const char *srcs[] = { "192.0.2.15", "192.0.2.16", "2001:db8:1::25", "203.0.113.9" };
	report_summary_t *sum = calloc(1, sizeof(*sum));
	sum->n = 5;
	sum->v = calloc(5, sizeof(*sum->v));
	for (size_t i = 0; i < 5; i++) {
		sum->v[i].domain = xs(names[i]);
		sum->v[i].nsources = 4;
		sum->v[i].sources = calloc(4, sizeof(report_source_t));
		for (size_t j = 0; j < 4; j++) {
			snprintf(sum->v[i].sources[j].source, 46, "%s", srcs[j]);
			sum->v[i].sources[j].spf_authorized = 7;
		}
	}
	is_int(report_summary_authorize(sum, p), MN_OK, "authorize");
	static const int want[5][4] = {
		{ 1, 0, 1, 0 },		/* plain terms: ip4 /28, ip6 /32; nothing unresolved */
		{ 0, 0, 1, 1 },		/* the cache's flattened set */
		{ -1, -1, -1, -1 },	/* stale cache, include: unresolved */
		{ 1, -1, -1, -1 },	/* mx: unresolved */
		{ -1, -1, -1, -1 },	/* not in the policy */
	};
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 4; j++)
			is_int(sum->v[i].sources[j].spf_authorized, want[i][j], "%s %s: spf_authorized", names[i],
			       srcs[j]);
	report_summary_free(sum);
	policy_free(p);
	diag_free(diag);
}

static int count_entry(const report_store_entry_t *e, void *ctx)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/test_reports_store.XXXXXX";
	char path[256];
	report_store_t *s = NULL;
	report_summary_t *sum = NULL;
	bool dup = false;
	struct stat st;

	setenv("MAILNS_NOW", "@1893456000", 1);	/* T0: stored_at of every report but one */
	if (mkdtemp(dir) == NULL)
		tap_bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/reports.db", dir);

	/* Read-only before anything is stored: absent. */
	is_int(report_store_open(path, REPORT_STORE_READONLY, &s), MN_ENOENT, "read-only open of no store: ENOENT");

	umask(077);
	is_int(report_store_open(path, 0, &s), MN_OK, "open creates the store");
	memset(&st, 0, sizeof(st));
	int sr = stat(path, &st);
	ok(sr == 0 && (st.st_mode & 0777) == 0640, "store is mode 0640 under umask 077 (%o)", st.st_mode & 0777);
	is_int(count_sql(path, "PRAGMA user_version"), 1, "schema version 1");
	ok(access(path, F_OK) == 0, "store file exists");

	/* Day 1: two sources, three records. */
	report_t *r = new_report(REPORT_DMARC, "google.com", "r1", "example.com", T0);
	add_row(r, "192.0.2.1", 100, REPORT_DISP_NONE, true, true, "example.com", "s1", "example.com");
	add_row(r, "192.0.2.1", 5, REPORT_DISP_QUARANTINE, false, false, NULL, NULL, NULL);
	add_row(r, "2001:db8::25", 40, REPORT_DISP_NONE, false, false, "esp.example", "k1", "esp.example");
	is_int(put(s, r, &dup), MN_OK, "put aggregate report");
	ok(!dup, "first put is not a duplicate");

	r = new_report(REPORT_DMARC, "google.com", "r1", "example.com", T0);
	add_row(r, "198.51.100.7", 999, REPORT_DISP_REJECT, false, false, NULL, NULL, NULL);
	is_int(put(s, r, &dup), MN_OK, "put the same (kind, org, report id) again");
	ok(dup, "second put is a duplicate");
	is_int(count_sql(path, "SELECT COUNT(*) FROM reports"), 1, "duplicate stored nothing (reports)");
	is_int(count_sql(path, "SELECT COUNT(*) FROM rows"), 3, "duplicate stored nothing (rows)");

	/* Same report id from another org is another report; day 2. */
	r = new_report(REPORT_DMARC, "yahoo.com", "r1", "example.com", T0 + DAY);
	add_row(r, "192.0.2.1", 20, REPORT_DISP_NONE, true, false, "example.com", "s1", NULL);
	add_row(r, "2001:db8::25", 10, REPORT_DISP_NONE, false, true, "esp.example", "k2", "example.com");
	add_row(r, "2001:db8::25", 15, REPORT_DISP_NONE, false, false, "esp.example", "k2", NULL);
	is_int(put(s, r, &dup), MN_OK, "put a second report (other org, same id)");
	ok(!dup, "other org: not a duplicate");

	/* Another domain, TLS and failure reports, and one outside the window. */
	r = new_report(REPORT_DMARC, "google.com", "r2", "other.example", T0);
	add_row(r, "203.0.113.9", 7, REPORT_DISP_REJECT, false, false, NULL, NULL, NULL);
	is_int(put(s, r, &dup), MN_OK, "put a report of another domain");
	is_int(put(s, tls_report("t1", "example.com", T0, 90, 3), &dup), MN_OK, "put a TLS report");
	is_int(put(s, new_report(REPORT_FAILURE, "example.net", "<f1@x>", "example.com", T0 + 5), &dup), MN_OK,
	       "put a failure report");
	r = new_report(REPORT_DMARC, "google.com", "old", "example.com", T0 - 40 * DAY);
	add_row(r, "192.0.2.1", 1000, REPORT_DISP_NONE, true, true, "example.com", "s0", "example.com");
	setenv("MAILNS_NOW", "@1889999999", 1);	/* stored 40 days before the others */
	is_int(put(s, r, &dup), MN_OK, "put a report 40 days older");
	setenv("MAILNS_NOW", "@1893456000", 1);

	is_int(report_store_summary(s, NULL, T0 - 28 * DAY, T0 + 2 * DAY, &sum), MN_OK, "summary of 30 days");
	if (sum == NULL)
		tap_bail("no summary");
	is_int((long long)sum->n, 2, "two domains");
	is_int((long long)sum->days, 30, "window of 30 days");
	const report_domain_summary_t *d = &sum->v[0];
	is_str(d->domain, "example.com", "domains sorted by name");
	is_int((long long)d->reports, 2, "aggregate reports in the window (the old one outside)");
	is_int((long long)d->messages, 100 + 5 + 40 + 20 + 10 + 15, "messages summed");
	is_int((long long)d->dmarc_pass, 100 + 20 + 10, "DMARC passes summed");
	is_int((long long)d->dkim_aligned, 120, "DKIM aligned summed");
	is_int((long long)d->spf_aligned, 110, "SPF aligned summed");
	is_int((long long)d->disp[REPORT_DISP_QUARANTINE], 5, "quarantined summed");
	is_int((long long)d->disp[REPORT_DISP_NONE], 185, "disposition none summed");
	is_int((long long)d->tls_successful, 90, "TLS successful sessions");
	is_int((long long)d->tls_failed, 3, "TLS failed sessions");
	is_int((long long)d->failures, 1, "failure reports");
	is_int((long long)d->ndays, 2, "two days with aggregate reports");
	if (d->ndays == 2) {
		is_int(d->days[0].day, T0, "first day");
		is_int((long long)d->days[0].messages, 145, "first day's messages");
		is_int((long long)d->days[1].dmarc_pass, 30, "second day's passes");
	}
	is_int((long long)d->nsources, 2, "two sources");
	if (d->nsources == 2) {
		is_str(d->sources[0].source, "192.0.2.1", "sources by messages, most first");
		const report_source_t *a = find_source(d, "192.0.2.1");
		const report_source_t *b = find_source(d, "2001:db8::25");
		is_int((long long)a->messages, 125, "source messages");
		is_int((long long)a->dmarc_pass, 120, "source passes");
		is_int((long long)a->disp[REPORT_DISP_QUARANTINE], 5, "source quarantined");
		is_int(a->spf_authorized, -1, "spf_authorized left -1");
		is_str(a->dkim_domain, "example.com", "source's passing DKIM domain");
		is_str(a->dkim_selector, "s1", "source's passing DKIM selector");
		is_str(a->spf_domain, "example.com", "source's passing SPF domain");
		is_int((long long)b->messages, 65, "IPv6 source messages");
		is_int((long long)b->spf_aligned, 10, "IPv6 source SPF aligned");
		is_str(b->dkim_selector, "k1", "most frequent passing selector (k1: 40, k2: 25)");
		is_str(b->spf_domain, "esp.example", "most frequent passing SPF domain (40 vs 10)");
		ok(a->ptr == NULL, "no PTR without --resolve");
	}
	is_str(sum->v[1].domain, "other.example", "second domain");
	is_int((long long)sum->v[1].disp[REPORT_DISP_REJECT], 7, "second domain's rejects");
	report_summary_free(sum);
	sum = NULL;

	is_int(report_store_summary(s, "other.example", T0 - 28 * DAY, T0 + 2 * DAY, &sum), MN_OK,
	       "summary of one domain");
	is_int((long long)(sum != NULL ? sum->n : 0), 1, "one domain only");
	report_summary_free(sum);
	sum = NULL;

	int n = 0;
	is_int(report_store_list(s, NULL, T0 - 100 * DAY, count_entry, &n), MN_OK, "list");
	is_int(n, 6, "six reports listed");
	n = 0;
	report_store_list(s, "example.com", T0, count_entry, &n);
	is_int(n, 4, "four of example.com since T0");

	/* All or nothing: a trigger fails the roll-up of the second record. */
	sqlite3 *db2;
	if (sqlite3_open(path, &db2) != SQLITE_OK)
		tap_bail("second connection");
	sqlite3_busy_timeout(db2, 5000);
	is_int(sqlite3_exec(db2,
			    "CREATE TRIGGER fail_midway BEFORE INSERT ON rollup WHEN NEW.source = '192.0.2.99'"
			    " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
			    NULL, NULL, NULL),
	       SQLITE_OK, "trigger that fails a roll-up");
	long long rows0 = count_sql(path, "SELECT COUNT(*) FROM rows");
	long long raw0 = count_sql(path, "SELECT COUNT(*) FROM raw");
	long long msg0 = count_sql(path, "SELECT SUM(messages) FROM rollup");
	r = new_report(REPORT_DMARC, "google.com", "midway", "example.com", T0);
	add_row(r, "192.0.2.1", 11, REPORT_DISP_NONE, true, true, "example.com", "s1", "example.com");
	add_row(r, "192.0.2.99", 12, REPORT_DISP_NONE, true, true, "example.com", "s1", "example.com");
	ok(put(s, r, &dup) < 0, "put fails midway");
	is_int(count_sql(path, "SELECT COUNT(*) FROM reports WHERE report_id = 'midway'"), 0, "no report line");
	is_int(count_sql(path, "SELECT COUNT(*) FROM rows"), rows0, "no row of it");
	is_int(count_sql(path, "SELECT COUNT(*) FROM raw"), raw0, "no raw bytes of it");
	is_int(count_sql(path, "SELECT SUM(messages) FROM rollup"), msg0, "roll-ups unchanged");
	sqlite3_exec(db2, "DROP TRIGGER fail_midway", NULL, NULL, NULL);
	r = new_report(REPORT_DMARC, "google.com", "midway", "example.com", T0);
	add_row(r, "192.0.2.99", 12, REPORT_DISP_NONE, true, true, "example.com", "s1", "example.com");
	is_int(put(s, r, &dup), MN_OK, "the same report stores once the failure is gone");
	ok(!dup, "and was not a duplicate");

	/* A count that does not fit SQLite's integers: refused whole. */
	r = new_report(REPORT_DMARC, "google.com", "huge", "example.com", T0);
	add_row(r, "192.0.2.1", 1, REPORT_DISP_NONE, true, true, "example.com", "s1", "example.com");
	add_row(r, "192.0.2.2", (uint64_t)INT64_MAX + 1, REPORT_DISP_NONE, true, true, "example.com", "s1",
		"example.com");
	is_int(put(s, r, &dup), MN_ERANGE, "count over 2^63-1: MN_ERANGE");
	is_int(count_sql(path, "SELECT COUNT(*) FROM reports WHERE report_id = 'huge'"), 0, "nothing of it");

	/* Locked: another connection holds the write lock past the busy timeout. */
	is_int(sqlite3_exec(db2, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK, "second connection locks");
	r = new_report(REPORT_DMARC, "google.com", "while-locked", "example.com", T0);
	add_row(r, "192.0.2.1", 3, REPORT_DISP_NONE, true, true, "example.com", "s1", "example.com");
	time_t t = time(NULL);
	is_int(put(s, r, &dup), MN_ELOCK, "locked store: MN_ELOCK");
	t = time(NULL) - t;
	ok(t >= 3 && t < 120, "after the busy timeout (%lld s)", (long long)t);
	report_store_t *s2 = NULL;
	is_int(report_store_open(path, 0, &s2), MN_OK, "open while locked (WAL readers go on)");
	report_store_close(s2);
	sqlite3_exec(db2, "COMMIT", NULL, NULL, NULL);
	r = new_report(REPORT_DMARC, "google.com", "while-locked", "example.com", T0);
	add_row(r, "192.0.2.1", 3, REPORT_DISP_NONE, true, true, "example.com", "s1", "example.com");
	is_int(put(s, r, &dup), MN_OK, "stored once the lock is gone");
	sqlite3_close(db2);

	/* Retention. */
	uint64_t pruned = 0;
	long long reports0 = count_sql(path, "SELECT COUNT(*) FROM reports");
	is_int(report_store_prune(s, 0, T0 - 30 * DAY, 100, &pruned), MN_OK, "prune reports stored before T0-30d");
	is_int((long long)pruned, 1, "one report pruned (the one stored 40 days before)");
	is_int(count_sql(path, "SELECT COUNT(*) FROM reports"), reports0 - 1, "it is gone");
	is_int(count_sql(path, "SELECT COUNT(*) FROM rollup WHERE day < 1893456000 - 30 * 86400"), 0,
	       "its roll-ups are gone");
	is_int(count_sql(path, "SELECT COUNT(*) FROM rows WHERE count = 1000"), 0, "its rows are gone");
	long long raw1 = count_sql(path, "SELECT COUNT(*) FROM raw");
	is_int(report_store_prune(s, INT64_MAX, 0, 2, &pruned), MN_OK, "prune raw, at most 2");
	is_int((long long)pruned, 2, "two raw pruned");
	is_int(count_sql(path, "SELECT COUNT(*) FROM raw"), raw1 - 2, "two raw fewer");
	is_int(count_sql(path, "SELECT COUNT(*) FROM reports"), reports0 - 1, "reports kept");
	report_store_close(s);

	/* Read-only: summary works, put refused. */
	is_int(report_store_open(path, REPORT_STORE_READONLY, &s), MN_OK, "read-only open");
	r = new_report(REPORT_DMARC, "google.com", "ro", "example.com", T0);
	is_int(put(s, r, &dup), MN_EINVAL, "read-only: put refused");
	is_int(report_store_summary(s, "example.com", T0, T0 + DAY, &sum), MN_OK, "read-only summary");
	report_summary_free(sum);
	report_store_close(s);

	test_authorize(dir);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
