/* SPDX-License-Identifier: GPL-3.0-or-later */
/* store_internal.h -- the report store's handle and helpers shared by store.c and store_read.c */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/mn.h"
#include "reports/store.h"

#define DAY 86400

enum {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_FIND, ST_REPORT, ST_RAW, ST_ROW, ST_ROLLUP, ST_AUTH,
	ST_DAILY, ST_COUNT
};

struct report_store {
	sqlite3 *db;
	bool readonly;
	sqlite3_stmt *st[ST_COUNT];
	uint8_t *zbuf;		/* compression buffer, reused */
	size_t zcap;
};

/* SQLite result code -> MN_E*: busy and locked are MN_ELOCK (ingest exits 75). */
static inline int sq_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return MN_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return MN_ELOCK;
	case SQLITE_NOMEM:
		return MN_ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return MN_EACCES;
	case SQLITE_CANTOPEN:
		return MN_ENOENT;
	case SQLITE_FULL:
		return MN_ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return MN_ESTATE;
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return MN_ERANGE;
	default:
		return MN_EIO;
	}
}

static inline int exec(report_store_t *s, const char *sql)
{
	return sq_err(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

/* The UTC midnight of t. */
static inline int64_t day_of(int64_t t)
{
	int64_t d = t / DAY;
	if (t % DAY < 0)
		d--;
	return d * DAY;
}
