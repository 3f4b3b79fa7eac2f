/* SPDX-License-Identifier: GPL-3.0-or-later */
/* store.h -- the report store: SQLite in state_dir/reports/reports.db, reports whole, raw kept compressed, daily roll-ups */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reports/report.h"
#include "reports/summary.h"

typedef struct report_store report_store_t;

enum {
	REPORT_STORE_READONLY = 1,	/* list, summary, advise, html */
};

/*
 * Opens (creating when writable and absent) the store at path: WAL, a busy
 * timeout.  Returns MN_OK, MN_ELOCK when the store stays busy or locked past
 * the timeout (`ingest` exits 75 then), or another negative MN_E*.  Close with
 * report_store_close (NULL is a no-op).
 */
int report_store_open(const char *path, int flags, report_store_t **out);
void report_store_close(report_store_t *s);

/*
 * Stores r whole (one transaction: the report, its raw bytes compressed, its
 * rows, and the roll-ups per day, domain and source) or not at all.  *dup is
 * set when (kind, org, report id) was stored before: nothing changes then.
 * MN_ELOCK: busy or locked past the timeout.
 */
int report_store_put(report_store_t *s, const report_t *r, bool *dup);

/*
 * The roll-ups of [since, until) for domain (NULL: every domain), into a new
 * summary (free with report_summary_free).  spf_authorized is left -1 for
 * every source: see report_summary_authorize (reports/authorize.h).
 */
int report_store_summary(report_store_t *s, const char *domain, int64_t since, int64_t until,
			 report_summary_t **out);

/* ---- listing and retention (mailns reports list, ingest's pruning) ---------- */

/* One stored report, as `mailns reports list` prints it; strings valid during the call. */
typedef struct report_store_entry {
	report_kind_t kind;
	const char *org, *report_id, *domain;
	int64_t begin, end;
	uint64_t messages, pass;	/* report_totals() of the report */
} report_store_entry_t;

/*
 * Calls fn for every stored report of domain (NULL: all) whose range begins at
 * or after since, oldest first; stops when fn returns non-zero (that value is
 * returned).  Otherwise MN_OK or a negative MN_E*.
 */
int report_store_list(report_store_t *s, const char *domain, int64_t since,
		      int (*fn)(const report_store_entry_t *e, void *ctx), void *ctx);

/*
 * Retention: drops the raw bytes of reports stored before raw_before, the
 * reports (and their rows) stored before keep_before, and the roll-ups of
 * days before keep_before's day (a scan, done at most once a day); at
 * most limit reports of each in one transaction (0: no limit), so that an
 * ingest run stays cheap.  *pruned (may be NULL) counts the reports dropped
 * or stripped; a caller loops while it equals limit.
 */
int report_store_prune(report_store_t *s, int64_t raw_before, int64_t keep_before, unsigned int limit,
		       uint64_t *pruned);
