/* SPDX-License-Identifier: GPL-3.0-or-later */
/* store.c -- the report store: SQLite (WAL), reports whole with their raw bytes compressed, daily roll-ups */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "policy/mn.h"
#include "reports/store.h"
#include "reports/store_internal.h"

/*
 * Tables (schema version 1, PRAGMA user_version):
 *   reports  one line per report, UNIQUE(kind, org, report_id)
 *   raw      the report's bytes, zlib-compressed (dropped after keep_raw)
 *   rows     the records of aggregate reports
 *   rollup   per (domain, source, day): messages, aligned and passing counts,
 *            dispositions -- what `summary` adds up, in key order: its GROUP BY
 *            domain, source streams without sorting
 *   rollup_auth  per (domain, source, dkim/spf, domain, selector, day): the
 *            messages whose DKIM signature or SPF check passed with that
 *            identity (the "what could align it" of a source)
 *   daily    per (domain, day): aggregate reports, messages, DMARC passes,
 *            TLS sessions, failure reports
 *   meta     small integers (the day the roll-ups were last pruned)
 * A report's records go to the UTC day its range begins.
 */
#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS reports("
	" id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, org TEXT NOT NULL,"
	" report_id TEXT NOT NULL, domain TEXT NOT NULL, begin INTEGER NOT NULL,"
	" end INTEGER NOT NULL, messages INTEGER NOT NULL, pass INTEGER NOT NULL,"
	" stored_at INTEGER NOT NULL, UNIQUE(kind, org, report_id));"
	"CREATE INDEX IF NOT EXISTS reports_begin ON reports(begin);"
	"CREATE INDEX IF NOT EXISTS reports_stored ON reports(stored_at);"
	"CREATE TABLE IF NOT EXISTS raw("
	" report INTEGER PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS rows("
	" report INTEGER NOT NULL, source TEXT NOT NULL, count INTEGER NOT NULL,"
	" disposition INTEGER NOT NULL, dkim_aligned INTEGER NOT NULL,"
	" spf_aligned INTEGER NOT NULL, header_from TEXT NOT NULL,"
	" envelope_from TEXT NOT NULL, dkim_domain TEXT NOT NULL,"
	" dkim_selector TEXT NOT NULL, spf_domain TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS rows_report ON rows(report);"
	"CREATE TABLE IF NOT EXISTS rollup("
	" domain TEXT NOT NULL, day INTEGER NOT NULL, source TEXT NOT NULL,"
	" messages INTEGER NOT NULL, dmarc_pass INTEGER NOT NULL,"
	" dkim_aligned INTEGER NOT NULL, spf_aligned INTEGER NOT NULL,"
	" disp0 INTEGER NOT NULL, disp1 INTEGER NOT NULL, disp2 INTEGER NOT NULL,"
	" PRIMARY KEY(domain, source, day)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS rollup_auth("
	" domain TEXT NOT NULL, day INTEGER NOT NULL, source TEXT NOT NULL,"
	" dkim INTEGER NOT NULL, adomain TEXT NOT NULL, selector TEXT NOT NULL,"
	" messages INTEGER NOT NULL,"
	" PRIMARY KEY(domain, source, dkim, adomain, selector, day)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS daily("
	" domain TEXT NOT NULL, day INTEGER NOT NULL, reports INTEGER NOT NULL,"
	" messages INTEGER NOT NULL, dmarc_pass INTEGER NOT NULL,"
	" tls_successful INTEGER NOT NULL, tls_failed INTEGER NOT NULL,"
	" failures INTEGER NOT NULL, PRIMARY KEY(domain, day)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"PRAGMA user_version = 1;";

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_FIND] = "SELECT 1 FROM reports WHERE kind = ?1 AND org = ?2 AND report_id = ?3",
	[ST_REPORT] = "INSERT INTO reports(kind, org, report_id, domain, begin, end, messages, pass,"
		      " stored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_RAW] = "INSERT INTO raw(report, size, data) VALUES (?1, ?2, ?3)",
	[ST_ROW] = "INSERT INTO rows VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_ROLLUP] = "INSERT INTO rollup VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
		      " ON CONFLICT DO UPDATE SET messages = messages + excluded.messages,"
		      " dmarc_pass = dmarc_pass + excluded.dmarc_pass,"
		      " dkim_aligned = dkim_aligned + excluded.dkim_aligned,"
		      " spf_aligned = spf_aligned + excluded.spf_aligned,"
		      " disp0 = disp0 + excluded.disp0, disp1 = disp1 + excluded.disp1,"
		      " disp2 = disp2 + excluded.disp2",
	[ST_AUTH] = "INSERT INTO rollup_auth VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		    " ON CONFLICT DO UPDATE SET messages = messages + excluded.messages",
	[ST_DAILY] = "INSERT INTO daily VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
		     " ON CONFLICT DO UPDATE SET reports = reports + excluded.reports,"
		     " messages = messages + excluded.messages,"
		     " dmarc_pass = dmarc_pass + excluded.dmarc_pass,"
		     " tls_successful = tls_successful + excluded.tls_successful,"
		     " tls_failed = tls_failed + excluded.tls_failed,"
		     " failures = failures + excluded.failures",
};

static int stmt(report_store_t *s, int which, sqlite3_stmt **out)
{
	assert(which >= 0 && which < ST_COUNT);
	if (s->st[which] == NULL) {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
					    &s->st[which], NULL);
		if (rc != SQLITE_OK)
			return sq_err(rc);
	}
	sqlite3_reset(s->st[which]);
	sqlite3_clear_bindings(s->st[which]);
	*out = s->st[which];
	return MN_OK;
}

/* Runs a statement that returns no row. */
static int step_done(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? MN_OK : sq_err(rc == SQLITE_ROW ? SQLITE_MISMATCH : rc);
}

static int run(report_store_t *s, int which)
{
	sqlite3_stmt *q;
	int err = stmt(s, which, &q);
	return err < 0 ? err : step_done(q);
}

/* Counts live in SQLite's signed 64-bit integers. */
static bool fits(uint64_t v)
{
	return v <= (uint64_t)INT64_MAX;
}

static int schema_init(report_store_t *s)
{
	sqlite3_stmt *q = NULL;
	int version = -1;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		version = sqlite3_column_int(q, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_OK)
		return sq_err(rc);
	if (version == SCHEMA_VERSION)
		return MN_OK;
	if (version > SCHEMA_VERSION)
		return MN_ESTATE;	/* written by a newer mailns */
	if (s->readonly)
		return MN_ENOENT;	/* nothing stored yet */
	int err = exec(s, "BEGIN IMMEDIATE");
	if (err < 0)
		return err;
	if ((err = exec(s, schema_sql)) < 0) {
		exec(s, "ROLLBACK");
		return err;
	}
	return exec(s, "COMMIT");
}

int report_store_open(const char *path, int flags, report_store_t **out)
{
	report_store_t *s = NULL;
	int err = MN_EINVAL;

	if (path == NULL || out == NULL)
		return MN_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MN_ENOMEM;
	s->readonly = (flags & REPORT_STORE_READONLY) != 0;
	if (s->readonly) {
		if (access(path, F_OK) != 0) {
			err = -errno;
			goto fail;
		}
	} else {
		/* Created here so that it is 0640; -wal and -shm follow it. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd >= 0) {
			int r = fchmod(fd, 0640);	/* whatever the umask (an MTA's is often 077) */
			close(fd);
			if (r != 0) {
				err = -errno;
				goto fail;
			}
		} else if (errno != EEXIST) {
			err = -errno;
			goto fail;
		}
	}
	int rc = sqlite3_open_v2(path, &s->db,
				 (s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
					 SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
				 NULL);
	if (rc != SQLITE_OK) {
		err = sq_err(rc);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(s->db, 1);
	if (!s->readonly && (err = exec(s, "PRAGMA journal_mode = WAL")) < 0)
		goto fail;
	/* WAL + NORMAL: a commit survives a crash of the process; see mailns(1) */
	if ((err = exec(s, "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;"
			   " PRAGMA cache_size = -32768")) < 0)
		goto fail;
	if ((err = schema_init(s)) < 0)
		goto fail;
	*out = s;
	return MN_OK;
fail:
	report_store_close(s);
	return err;
}

void report_store_close(report_store_t *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL && !s->readonly)
		sqlite3_exec(s->db, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, NULL);
	sqlite3_close_v2(s->db);
	free(s->zbuf);
	free(s);
}

static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
	sqlite3_bind_text(q, i, v != NULL ? v : "", -1, SQLITE_STATIC);
}

static int put_raw(report_store_t *s, int64_t id, const report_t *r)
{
	sqlite3_stmt *q;
	uLongf zlen = compressBound(r->rawlen);
	int err;

	if (zlen > s->zcap) {
		uint8_t *nb = realloc(s->zbuf, zlen);
		if (nb == NULL)
			return MN_ENOMEM;
		s->zbuf = nb;
		s->zcap = zlen;
	}
	const uint8_t *raw = r->raw != NULL ? r->raw : (const uint8_t *)"";
	if (compress2(s->zbuf, &zlen, raw, r->rawlen, Z_BEST_SPEED) != Z_OK)
		return MN_ENOMEM;
	if ((err = stmt(s, ST_RAW, &q)) < 0)
		return err;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, (int64_t)r->rawlen);
	sqlite3_bind_blob64(q, 3, s->zbuf, zlen, SQLITE_STATIC);
	return step_done(q);
}

/* The first passing DKIM and SPF identities of a row ("" when none). */
static void row_passing(const report_row_t *row, const report_auth_t **dkim, const report_auth_t **spf)
{
	*dkim = *spf = NULL;
	for (size_t i = 0; i < row->nauth; i++) {
		const report_auth_t *a = &row->auth[i];
		if (strcmp(a->result, "pass") != 0)
			continue;
		if (a->dkim && *dkim == NULL)
			*dkim = a;
		else if (!a->dkim && *spf == NULL)
			*spf = a;
	}
}

static int put_auth(report_store_t *s, const char *domain, int64_t day, const report_row_t *row)
{
	for (size_t i = 0; i < row->nauth; i++) {
		const report_auth_t *a = &row->auth[i];
		sqlite3_stmt *q;
		int err;
		if (strcmp(a->result, "pass") != 0 || a->domain[0] == '\0')
			continue;
		if ((err = stmt(s, ST_AUTH, &q)) < 0)
			return err;
		bind_text(q, 1, domain);
		sqlite3_bind_int64(q, 2, day);
		bind_text(q, 3, row->source);
		sqlite3_bind_int(q, 4, a->dkim);
		bind_text(q, 5, a->domain);
		bind_text(q, 6, a->dkim ? a->selector : "");
		sqlite3_bind_int64(q, 7, (int64_t)row->count);
		if ((err = step_done(q)) < 0)
			return err;
	}
	return MN_OK;
}

static int put_row(report_store_t *s, int64_t id, const char *domain, int64_t day, const report_row_t *row)
{
	const report_auth_t *dkim, *spf;
	sqlite3_stmt *q;
	int err;
	int disp = row->disposition;

	if (!fits(row->count))
		return MN_ERANGE;
	if (disp < REPORT_DISP_NONE || disp > REPORT_DISP_REJECT)
		disp = REPORT_DISP_NONE;
	row_passing(row, &dkim, &spf);
	if ((err = stmt(s, ST_ROW, &q)) < 0)
		return err;
	sqlite3_bind_int64(q, 1, id);
	bind_text(q, 2, row->source);
	sqlite3_bind_int64(q, 3, (int64_t)row->count);
	sqlite3_bind_int(q, 4, disp);
	sqlite3_bind_int(q, 5, row->dkim_aligned);
	sqlite3_bind_int(q, 6, row->spf_aligned);
	bind_text(q, 7, row->header_from);
	bind_text(q, 8, row->envelope_from);
	bind_text(q, 9, dkim != NULL ? dkim->domain : "");
	bind_text(q, 10, dkim != NULL ? dkim->selector : "");
	bind_text(q, 11, spf != NULL ? spf->domain : "");
	if ((err = step_done(q)) < 0)
		return err;

	if ((err = stmt(s, ST_ROLLUP, &q)) < 0)
		return err;
	int64_t c = (int64_t)row->count;
	bind_text(q, 1, domain);
	sqlite3_bind_int64(q, 2, day);
	bind_text(q, 3, row->source);
	sqlite3_bind_int64(q, 4, c);
	sqlite3_bind_int64(q, 5, row->dkim_aligned || row->spf_aligned ? c : 0);
	sqlite3_bind_int64(q, 6, row->dkim_aligned ? c : 0);
	sqlite3_bind_int64(q, 7, row->spf_aligned ? c : 0);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(q, 8 + i, disp == i ? c : 0);
	if ((err = step_done(q)) < 0)
		return err;
	return put_auth(s, domain, day, row);
}

static int put_daily(report_store_t *s, const report_t *r, int64_t day, uint64_t messages, uint64_t pass)
{
	sqlite3_stmt *q;
	int err = stmt(s, ST_DAILY, &q);
	if (err < 0)
		return err;
	int64_t m = r->kind == REPORT_DMARC ? (int64_t)messages : 0;
	int64_t p = r->kind == REPORT_DMARC ? (int64_t)pass : 0;
	int64_t tls_ok = r->kind == REPORT_TLSRPT ? (int64_t)pass : 0;
	int64_t tls_failed = r->kind == REPORT_TLSRPT ? (int64_t)(messages - pass) : 0;
	bind_text(q, 1, r->domain);
	sqlite3_bind_int64(q, 2, day);
	sqlite3_bind_int64(q, 3, r->kind == REPORT_DMARC);
	sqlite3_bind_int64(q, 4, m);
	sqlite3_bind_int64(q, 5, p);
	sqlite3_bind_int64(q, 6, tls_ok);
	sqlite3_bind_int64(q, 7, tls_failed);
	sqlite3_bind_int64(q, 8, r->kind == REPORT_FAILURE);
	return step_done(q);
}

/* Totals in 64-bit unsigned, refused when a sum wraps or does not fit SQLite's integers. */
static int totals(const report_t *r, uint64_t *messages, uint64_t *pass)
{
	uint64_t m = 0, p = 0;
	if (r->kind == REPORT_DMARC) {
		for (size_t i = 0; i < r->nrows; i++) {
			if (m + r->rows[i].count < m)
				return MN_ERANGE;
			m += r->rows[i].count;
			if (r->rows[i].dkim_aligned || r->rows[i].spf_aligned)
				p += r->rows[i].count;
		}
	} else if (r->kind == REPORT_TLSRPT) {
		for (size_t i = 0; i < r->ntls; i++) {
			uint64_t t = r->tls[i].successful + r->tls[i].failed;
			if (t < r->tls[i].successful || m + t < m)
				return MN_ERANGE;
			m += t;
			p += r->tls[i].successful;
		}
	} else {
		m = 1;
	}
	if (!fits(m))
		return MN_ERANGE;
	*messages = m;
	*pass = p;
	return MN_OK;
}

/* Everything of one report inside the open transaction. */
static int put_all(report_store_t *s, const report_t *r, bool *dup)
{
	sqlite3_stmt *q;
	uint64_t messages, pass;
	int err, rc;

	if ((err = stmt(s, ST_FIND, &q)) < 0)
		return err;
	sqlite3_bind_int(q, 1, r->kind);
	bind_text(q, 2, r->org);
	bind_text(q, 3, r->report_id);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_ROW) {
		*dup = true;
		return MN_OK;
	}
	if (rc != SQLITE_DONE)
		return sq_err(rc);
	if ((err = totals(r, &messages, &pass)) < 0)
		return err;

	if ((err = stmt(s, ST_REPORT, &q)) < 0)
		return err;
	sqlite3_bind_int(q, 1, r->kind);
	bind_text(q, 2, r->org);
	bind_text(q, 3, r->report_id);
	bind_text(q, 4, r->domain);
	sqlite3_bind_int64(q, 5, r->begin);
	sqlite3_bind_int64(q, 6, r->end);
	sqlite3_bind_int64(q, 7, (int64_t)messages);
	sqlite3_bind_int64(q, 8, (int64_t)pass);
	sqlite3_bind_int64(q, 9, (int64_t)mn_now());
	if ((err = step_done(q)) < 0)
		return err;
	int64_t id = sqlite3_last_insert_rowid(s->db);
	int64_t day = day_of(r->begin);

	if ((err = put_raw(s, id, r)) < 0)
		return err;
	if (r->kind == REPORT_DMARC) {
		for (size_t i = 0; i < r->nrows; i++) {
			if ((err = put_row(s, id, r->domain, day, &r->rows[i])) < 0)
				return err;
		}
	}
	return put_daily(s, r, day, messages, pass);
}

int report_store_put(report_store_t *s, const report_t *r, bool *dup)
{
	bool d = false;
	int err;

	if (s == NULL || r == NULL || dup == NULL || s->readonly)
		return MN_EINVAL;
	if ((err = run(s, ST_BEGIN)) < 0)
		return err;
	if ((err = put_all(s, r, &d)) < 0)
		goto fail;
	if (d) {
		run(s, ST_ROLLBACK);
		*dup = true;
		return MN_OK;
	}
	if ((err = run(s, ST_COMMIT)) < 0)
		goto fail;
	*dup = false;
	return MN_OK;
fail:
	if (!sqlite3_get_autocommit(s->db))
		run(s, ST_ROLLBACK);
	return err;
}

/* ---- retention ------------------------------------------------------------- */

/* Runs sql (binding ?1 = t, ?2 = limit or -1) and adds the changes to *n. */
static int prune_step(report_store_t *s, const char *sql, int64_t t, unsigned int limit, uint64_t *n)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sq_err(rc);
	sqlite3_bind_int64(q, 1, t);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, limit ? (int64_t)limit : -1);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return sq_err(rc);
	if (n != NULL)
		*n += (uint64_t)sqlite3_changes(s->db);
	return MN_OK;
}

/* One integer of the meta table (0 when absent). */
static int64_t meta_get(report_store_t *s, const char *key)
{
	sqlite3_stmt *q = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW)
			v = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return v;
}

static int meta_set(report_store_t *s, const char *key, int64_t v)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta VALUES (?1, ?2)", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sq_err(rc);
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, v);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? MN_OK : sq_err(rc);
}

/* The roll-ups of days before day: a scan of each table, so at most once a day. */
static int prune_rollups(report_store_t *s, int64_t day)
{
	int err;
	if (meta_get(s, "rollups_pruned_before") >= day)
		return MN_OK;
	if ((err = prune_step(s, "DELETE FROM rollup WHERE day < ?1", day, 0, NULL)) < 0 ||
	    (err = prune_step(s, "DELETE FROM rollup_auth WHERE day < ?1", day, 0, NULL)) < 0 ||
	    (err = prune_step(s, "DELETE FROM daily WHERE day < ?1", day, 0, NULL)) < 0)
		return err;
	return meta_set(s, "rollups_pruned_before", day);
}

int report_store_prune(report_store_t *s, int64_t raw_before, int64_t keep_before, unsigned int limit,
		       uint64_t *pruned)
{
	uint64_t n = 0;
	int err;

	if (s == NULL || s->readonly)
		return MN_EINVAL;
	if ((err = exec(s, "BEGIN IMMEDIATE")) < 0)
		return err;
	/* Reports stored before keep_before (index on stored_at), their rows and raw bytes with them. */
	if ((err = exec(s, "CREATE TEMP TABLE IF NOT EXISTS doomed(id INTEGER PRIMARY KEY);"
			   "DELETE FROM doomed")) < 0 ||
	    (err = prune_step(s, "INSERT INTO doomed SELECT id FROM reports WHERE stored_at < ?1 LIMIT ?2",
			      keep_before, limit, &n)) < 0 ||
	    (err = exec(s, "DELETE FROM rows WHERE report IN doomed;"
			   "DELETE FROM raw WHERE report IN doomed;"
			   "DELETE FROM reports WHERE id IN doomed")) < 0)
		goto fail;
	/*
	 * Raw bytes stored before raw_before: report ids grow with stored_at, so
	 * they are the raw lines up to the newest such id (one index seek).
	 */
	if ((err = prune_step(s, "DELETE FROM raw WHERE report IN (SELECT report FROM raw WHERE report <="
				 " (SELECT id FROM reports WHERE stored_at < ?1 ORDER BY stored_at DESC LIMIT 1)"
				 " ORDER BY report LIMIT ?2)",
			      raw_before, limit, &n)) < 0 ||
	    (err = prune_rollups(s, day_of(keep_before))) < 0)
		goto fail;
	if ((err = exec(s, "COMMIT")) < 0)
		goto fail;
	if (pruned != NULL)
		*pruned = n;
	return MN_OK;
fail:
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
	return err;
}
