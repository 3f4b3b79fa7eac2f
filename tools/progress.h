/* SPDX-License-Identifier: GPL-3.0-or-later */
/* progress.h -- one updating progress line on a terminal's stderr for long runs (keys rotate, flatten) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * A line "LABEL: DONE/TOTAL (P%), R/s, T left" on stderr, rewritten in place
 * (carriage return) at most PROGRESS_HZ times a second, and cleared by
 * progress_end.  Only when stderr is a terminal and the caller is not quiet:
 * otherwise progress_new returns NULL, and every function below takes NULL
 * as "no line" (a cron job prints nothing).  progress_add, progress_grow and
 * progress_hide may be called from several threads at once.
 */
enum { PROGRESS_HZ = 4 };

typedef struct progress progress_t;

/* label is copied (at most 31 bytes kept).  NULL: quiet, not a terminal, or out of memory. */
progress_t *progress_new(const char *label, size_t total, bool quiet);
/* n more items done (done never passes the total). */
void progress_add(progress_t *p, size_t n);
/* n more items to do (a total found as the work goes). */
void progress_grow(progress_t *p, size_t n);
/*
 * Erases the line (it comes back at the next update): call before writing
 * to stdout when stdout may be the same terminal.
 */
void progress_hide(progress_t *p);
/* Erases the line and frees p. */
void progress_end(progress_t *p);

/*
 * The line's text for done of total after elapsed seconds, into buf (for the
 * tests): "keys: 1234/10000 (12.3%), 45.6/s, 3m12s left"; the rate and time
 * left only once something is done.
 */
void progress_format(const char *label, size_t done, size_t total, double elapsed, char *buf, size_t size);

/*
 * The --jobs N of a long run (keys rotate, flatten): a whole number in
 * 1..max into *out (MN_OK), else MN_ERANGE.
 */
int progress_jobs_parse(const char *s, unsigned max, unsigned *out);
