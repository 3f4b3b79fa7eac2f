/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ingest.h -- inputs into the store: files, directories, Maildir, mbox, a message on a descriptor */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reports/report.h"
#include "reports/store.h"

/* Inputs larger than this are refused before they are read (mbox files: per message). */
#define INGEST_MAX_INPUT ((size_t)64 << 20)
/* An mbox file itself may be larger (it is mapped, not read whole). */
#define INGEST_MAX_MBOX ((size_t)4 << 30)

typedef enum ingest_status {
	INGEST_STORED = 0,	/* every report of the input stored or a duplicate */
	INGEST_INVALID,		/* no valid report in it (why says what): nothing of it stored */
	INGEST_BUSY,		/* the store is busy or unwritable: stop, retry later */
} ingest_status_t;

/*
 * What happened to one input ("policy.eml", "box.mbox: message 3 (line 212)",
 * "-" for a descriptor): reports stored and duplicates, or why it was refused.
 */
typedef void (*ingest_note_fn)(void *arg, const char *input, ingest_status_t st, unsigned int stored,
			       unsigned int dup, const char *why);

typedef struct ingest {
	report_store_t *store;		/* writable; not owned */
	report_limits_t limits;		/* REPORT_LIMITS_DEFAULT unless set */
	ingest_note_fn note;		/* may be NULL */
	void *note_arg;
	/* Totals of the run */
	uint64_t stored, dup;		/* reports */
	uint64_t inputs, invalid;	/* inputs (messages, files) */
	bool busy;			/* set once: the run stops there */
	int store_err;			/* the store's MN_E* when busy */
} ingest_t;

/* A context for store with default limits; fill note/note_arg as wanted. */
void ingest_init(ingest_t *in, report_store_t *store);

/*
 * One input: a regular file (a message, a bare report, or an mbox: every
 * message in it), or a directory: a Maildir (cur/, new/ and tmp/ in it: the
 * messages of new/ are moved to cur/ with ":2," once stored or a duplicate;
 * those of cur/ are read too), or else every regular file below it
 * (recursively, names starting with '.' skipped, symbolic links not followed).
 * Returns MN_OK when it went through (in->invalid and in->busy say how),
 * MN_ELOCK when the store is busy (in->busy), or another negative MN_E* when
 * the path cannot be read (also counted as invalid, with a note).
 */
int ingest_path(ingest_t *in, const char *path);

/* One message or bare report read from fd (stdin for an MTA pipe), named name. */
int ingest_fd(ingest_t *in, int fd, const char *name);

/* One message or bare report in memory. */
int ingest_buffer(ingest_t *in, const uint8_t *buf, size_t len, const char *name);
