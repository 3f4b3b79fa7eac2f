/* SPDX-License-Identifier: GPL-3.0-or-later */
/* store_read.c -- the report store's read side: the summary of a window, the list of reports */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "reports/store.h"
#include "reports/store_internal.h"

/* ---- summary -------------------------------------------------------------- */

static char *col_dup(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return strdup(t != NULL ? (const char *)t : "");
}

static uint64_t col_u64(sqlite3_stmt *q, int i)
{
	int64_t v = sqlite3_column_int64(q, i);
	return v < 0 ? 0 : (uint64_t)v;
}

/*
 * Prepares "HEAD WHERE day >= ?1 AND day < ?2 [AND domain = ?3] TAIL" with
 * ?1 = since, ?2 = until and ?3 = domain: that clause only when domain is not NULL.
 */
static int window_query(report_store_t *s, const char *head, const char *tail, const char *domain,
			int64_t since, int64_t until, sqlite3_stmt **out)
{
	char *sql = sqlite3_mprintf("%s WHERE day >= ?1 AND day < ?2%s %s", head,
				    domain != NULL ? " AND domain = ?3" : "", tail);
	if (sql == NULL)
		return MN_ENOMEM;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return sq_err(rc);
	sqlite3_bind_int64(*out, 1, day_of(since));
	sqlite3_bind_int64(*out, 2, until);
	if (domain != NULL)
		sqlite3_bind_text(*out, 3, domain, -1, SQLITE_STATIC);
	return MN_OK;
}

/*
 * Room for element n of an array of n elements whose capacity follows from n
 * (16, then doubling): the array, moved or not, or NULL (the old one kept).
 */
static void *grow(void *v, size_t n, size_t size)
{
	if (n != 0 && (n < 16 || (n & (n - 1)) != 0))
		return v;
	size_t cap = n < 16 ? 16 : n * 2;
	return realloc(v, cap * size);
}

/* Binary search of sum->v (sorted by name): true with *pos, or false with where d goes. */
static bool domain_find(const report_summary_t *sum, const char *d, size_t *pos)
{
	size_t lo = 0, hi = sum->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(sum->v[mid].domain, d);
		if (c == 0) {
			*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

/* The entry of domain d (sum->v stays sorted by name): found, or inserted. */
static report_domain_summary_t *domain_entry(report_summary_t *sum, const char *d)
{
	size_t lo;
	if (domain_find(sum, d, &lo))
		return &sum->v[lo];
	report_domain_summary_t *nv = grow(sum->v, sum->n, sizeof(*nv));
	if (nv == NULL)
		return NULL;
	sum->v = nv;
	char *name = strdup(d);
	if (name == NULL)
		return NULL;
	memmove(&nv[lo + 1], &nv[lo], (sum->n - lo) * sizeof(*nv));
	memset(&nv[lo], 0, sizeof(*nv));
	nv[lo].domain = name;
	sum->n++;
	return &nv[lo];
}

static int sum_daily(report_store_t *s, report_summary_t *sum, const char *domain)
{
	sqlite3_stmt *q = NULL;
	int err = window_query(s,
			       "SELECT domain, day, reports, messages, dmarc_pass, tls_successful,"
			       " tls_failed, failures FROM daily",
			       "ORDER BY domain, day", domain, sum->since, sum->until, &q);
	int rc;
	while (err == MN_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		report_domain_summary_t *d = domain_entry(sum, (const char *)sqlite3_column_text(q, 0));
		if (d == NULL) {
			err = MN_ENOMEM;
			break;
		}
		d->reports += col_u64(q, 2);
		d->tls_successful += col_u64(q, 5);
		d->tls_failed += col_u64(q, 6);
		d->failures += col_u64(q, 7);
		if (col_u64(q, 2) == 0)
			continue;	/* no aggregate report that day */
		report_day_t *nv = grow(d->days, d->ndays, sizeof(*nv));
		if (nv == NULL) {
			err = MN_ENOMEM;
			break;
		}
		d->days = nv;
		d->days[d->ndays++] = (report_day_t){ .day = sqlite3_column_int64(q, 1),
						      .messages = col_u64(q, 3),
						      .dmarc_pass = col_u64(q, 4) };
	}
	if (err == MN_OK && rc != SQLITE_DONE)
		err = sq_err(rc);
	sqlite3_finalize(q);
	return err;
}

static int sum_sources(report_store_t *s, report_summary_t *sum, const char *domain)
{
	sqlite3_stmt *q = NULL;
	int err = window_query(s,
			       "SELECT domain, source, SUM(messages), SUM(dmarc_pass), SUM(dkim_aligned),"
			       " SUM(spf_aligned), SUM(disp0), SUM(disp1), SUM(disp2) FROM rollup",
			       "GROUP BY domain, source ORDER BY domain, source", domain, sum->since, sum->until,
			       &q);
	int rc;
	while (err == MN_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		report_domain_summary_t *d = domain_entry(sum, (const char *)sqlite3_column_text(q, 0));
		if (d == NULL) {
			err = MN_ENOMEM;
			break;
		}
		report_source_t *nv = grow(d->sources, d->nsources, sizeof(*nv));
		if (nv == NULL) {
			err = MN_ENOMEM;
			break;
		}
		d->sources = nv;
		report_source_t *src = &d->sources[d->nsources];
		memset(src, 0, sizeof(*src));
		src->spf_authorized = -1;
		snprintf(src->source, sizeof(src->source), "%s", (const char *)sqlite3_column_text(q, 1));
		d->nsources++;
		src->messages = col_u64(q, 2);
		src->dmarc_pass = col_u64(q, 3);
		src->dkim_aligned = col_u64(q, 4);
		src->spf_aligned = col_u64(q, 5);
		for (int i = 0; i < 3; i++)
			src->disp[i] = col_u64(q, 6 + i);
		d->messages += src->messages;
		d->dmarc_pass += src->dmarc_pass;
		d->dkim_aligned += src->dkim_aligned;
		d->spf_aligned += src->spf_aligned;
		for (int i = 0; i < 3; i++)
			d->disp[i] += src->disp[i];
	}
	if (err == MN_OK && rc != SQLITE_DONE)
		err = sq_err(rc);
	sqlite3_finalize(q);
	return err;
}

static int cmp_source_name(const void *a, const void *b)
{
	return strcmp(((const report_source_t *)a)->source, ((const report_source_t *)b)->source);
}

/* The DKIM d=/s= and SPF domain that passed most for each source (sources still sorted by name). */
static int sum_auth(report_store_t *s, report_summary_t *sum, const char *domain)
{
	sqlite3_stmt *q = NULL;
	int err = window_query(s,
			       "SELECT domain, source, dkim, adomain, selector, SUM(messages) AS m FROM rollup_auth",
			       "GROUP BY domain, source, dkim, adomain, selector ORDER BY domain, source", domain,
			       sum->since, sum->until, &q);
	report_domain_summary_t *d = NULL;
	int rc;
	/* best[i][dkim] per source: the messages of its current choice */
	uint64_t *best = NULL;
	size_t bestn = 0;

	while (err == MN_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *dn = (const char *)sqlite3_column_text(q, 0);
		if (d == NULL || strcmp(d->domain, dn) != 0) {
			size_t i;
			d = domain_find(sum, dn, &i) ? &sum->v[i] : NULL;
			if (d == NULL)
				continue;
			free(best);
			bestn = d->nsources;
			if ((best = calloc(bestn * 2 + 1, sizeof(*best))) == NULL) {
				err = MN_ENOMEM;
				break;
			}
		}
		report_source_t key;
		snprintf(key.source, sizeof(key.source), "%s", (const char *)sqlite3_column_text(q, 1));
		report_source_t *src = d->nsources == 0 ? NULL
				       : bsearch(&key, d->sources, d->nsources, sizeof(key), cmp_source_name);
		if (src == NULL)
			continue;
		size_t i = (size_t)(src - d->sources);
		int dkim = sqlite3_column_int(q, 2) != 0;
		uint64_t m = col_u64(q, 5);
		if (m <= best[i * 2 + dkim])
			continue;
		best[i * 2 + dkim] = m;
		char **dom = dkim ? &src->dkim_domain : &src->spf_domain;
		free(*dom);
		if ((*dom = col_dup(q, 3)) == NULL) {
			err = MN_ENOMEM;
			break;
		}
		if (dkim) {
			free(src->dkim_selector);
			if ((src->dkim_selector = col_dup(q, 4)) == NULL) {
				err = MN_ENOMEM;
				break;
			}
		}
	}
	if (err == MN_OK && rc != SQLITE_DONE)
		err = sq_err(rc);
	free(best);
	sqlite3_finalize(q);
	return err;
}

static int cmp_source_messages(const void *a, const void *b)
{
	const report_source_t *x = a, *y = b;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->source, y->source);
}

/* Every string a summary promises ("" rather than NULL); sources by messages. */
static int finish(report_summary_t *sum)
{
	for (size_t i = 0; i < sum->n; i++) {
		report_domain_summary_t *d = &sum->v[i];
		for (size_t j = 0; j < d->nsources; j++) {
			report_source_t *src = &d->sources[j];
			if ((src->dkim_domain == NULL && (src->dkim_domain = strdup("")) == NULL) ||
			    (src->dkim_selector == NULL && (src->dkim_selector = strdup("")) == NULL) ||
			    (src->spf_domain == NULL && (src->spf_domain = strdup("")) == NULL))
				return MN_ENOMEM;
		}
		if (d->nsources > 1)
			qsort(d->sources, d->nsources, sizeof(*d->sources), cmp_source_messages);
	}
	return MN_OK;
}

int report_store_summary(report_store_t *s, const char *domain, int64_t since, int64_t until,
			 report_summary_t **out)
{
	report_summary_t *sum = NULL;
	int err;

	if (s == NULL || out == NULL || until < since)
		return MN_EINVAL;
	if ((sum = calloc(1, sizeof(*sum))) == NULL)
		return MN_ENOMEM;
	sum->since = since;
	sum->until = until;
	sum->days = (unsigned int)((until - since + DAY - 1) / DAY);
	/* One read transaction: the three queries see the same store. */
	if ((err = exec(s, "BEGIN")) < 0)
		goto fail;
	if ((err = sum_daily(s, sum, domain)) < 0 || (err = sum_sources(s, sum, domain)) < 0 ||
	    (err = sum_auth(s, sum, domain)) < 0) {
		exec(s, "ROLLBACK");
		goto fail;
	}
	exec(s, "COMMIT");
	if ((err = finish(sum)) < 0)
		goto fail;
	*out = sum;
	return MN_OK;
fail:
	report_summary_free(sum);
	return err;
}

/* ---- list ------------------------------------------------------------------ */

int report_store_list(report_store_t *s, const char *domain, int64_t since,
		      int (*fn)(const report_store_entry_t *e, void *ctx), void *ctx)
{
	sqlite3_stmt *q = NULL;
	int err = MN_OK, rc;

	if (s == NULL || fn == NULL)
		return MN_EINVAL;
	rc = sqlite3_prepare_v2(s->db,
				domain != NULL
					? "SELECT kind, org, report_id, domain, begin, end, messages, pass"
					  " FROM reports WHERE begin >= ?1 AND domain = ?2 ORDER BY begin, id"
					: "SELECT kind, org, report_id, domain, begin, end, messages, pass"
					  " FROM reports WHERE begin >= ?1 ORDER BY begin, id",
				-1, &q, NULL);
	if (rc != SQLITE_OK)
		return sq_err(rc);
	sqlite3_bind_int64(q, 1, since);
	if (domain != NULL)
		sqlite3_bind_text(q, 2, domain, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		report_store_entry_t e = {
			.kind = (report_kind_t)sqlite3_column_int(q, 0),
			.org = (const char *)sqlite3_column_text(q, 1),
			.report_id = (const char *)sqlite3_column_text(q, 2),
			.domain = (const char *)sqlite3_column_text(q, 3),
			.begin = sqlite3_column_int64(q, 4),
			.end = sqlite3_column_int64(q, 5),
			.messages = col_u64(q, 6),
			.pass = col_u64(q, 7),
		};
		if ((err = fn(&e, ctx)) != 0)
			break;
	}
	if (err == MN_OK && rc != SQLITE_DONE)
		err = sq_err(rc);
	sqlite3_finalize(q);
	return err;
}
