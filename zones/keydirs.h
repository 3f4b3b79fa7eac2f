/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keydirs.h -- the DNSSEC key directories' states kept while a watch on them reports nothing */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * One table for the process (thread-safe), keyed by a key directory's path
 * (STATE_DIR/dnssec/ZONE, as sign.c and server/watch.c spell it).  The server's
 * watcher (loop thread) says when a watch on a directory starts and stops and
 * when it reports an event there; the compile (any thread) takes a directory's
 * state (sign.c: an lstat) from here instead of looking again while its watch
 * has reported nothing since the state was put.  A directory never watched (the
 * mailns commands, a watch that failed) is looked at every time, as before.
 */

/*
 * The state put for path while watched and nothing reported since: true, f
 * filled.  Else false and *gen the ticket keydirs_put() takes (0: not watched,
 * nothing will be kept).  Read the ticket before looking at the directory.
 */
bool keydirs_get(const char *path, int64_t f[8], uint64_t *gen);
/* Keeps f for path when nothing was reported since gen was handed out (else nothing). */
void keydirs_put(const char *path, uint64_t gen, const int64_t f[8]);
/* A watch on path started (on) or stopped (its state is dropped either way). */
void keydirs_watch(const char *path, bool on);
/* The watch on path reported an event in it or on it: its state is looked at again. */
void keydirs_event(const char *path);
/* Counts (tests, metrics): directories watched, and the look-ups answered from the table. */
void keydirs_counts(uint64_t *watched, uint64_t *hits);
