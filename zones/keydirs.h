/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keydirs.h -- the DNSSEC key directories' states kept while a watch on them reports nothing */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One table for the process (thread-safe), of the key directories
 * STATE_DIR/dnssec/ZONE of one STATE_DIR (the last one watched; a watch under
 * another drops the table).  The server's watcher (server/keywatch.c: its
 * thread, just after each inotify_add_watch, and the loop thread) says when a
 * watch on a key directory starts and stops and when it reports an event there
 * (keydirs_watch, keydirs_event, keydirs_event_all: path is STATE_DIR/dnssec/ZONE
 * as server/watch.c spells it); the compile (any thread) takes a directory's
 * state (sign.c: an lstat) from here instead of looking again while its watch
 * has reported nothing since the state was put.  A directory never watched
 * (the mailns commands, a watch that failed) is looked at every time.
 *
 * Every start, stop and event moves a sequence number (keydirs_seq): a
 * directory unchanged since a number was read has not moved since, and a
 * state looked at before an event is never kept after it.
 */

/*
 * The state put for state_dir's zone while watched and nothing reported
 * since: true, f filled.  Else false and *gen the ticket keydirs_put() takes
 * (0: not watched, nothing will be kept).  Take the ticket before the look.
 */
bool keydirs_get(const char *state_dir, const char *zone, int64_t f[8], uint64_t *gen);
/* Keeps f for the zone when nothing was reported since gen was handed out (else nothing). */
void keydirs_put(const char *state_dir, const char *zone, uint64_t gen, const int64_t f[8]);
/* A watch on path started (on) or stopped (its state is dropped either way). */
void keydirs_watch(const char *path, bool on);
/* The watch on path reported an event in it or on it: its state is looked at again. */
void keydirs_event(const char *path);
/*
 * Every directory may have changed unreported (the watcher's event queue
 * overflowed): every state dropped, every directory's sequence number moved
 * (a ticket handed out before keeps nothing; nothing is unchanged since a
 * number read before).  Watched ones stay watched.
 */
void keydirs_event_all(void);
/* This process wrote in state_dir's zone's directory (keydirs_event before its event comes). */
void keydirs_forget(const char *state_dir, const char *zone);
/*
 * The sequence number now when every zone of zones[0..n) has a watched key
 * directory in state_dir, else 0 (nothing can be known without a look).
 */
uint64_t keydirs_seq(const char *state_dir, const char *const *zones, size_t n);
/*
 * Has none of the key directories of zones[0..n) had an event, a start or a
 * stop of its watch since seq (keydirs_seq, not 0)?  O(1) when nothing at all
 * happened since, else a look-up per zone.
 */
bool keydirs_unchanged(const char *state_dir, const char *const *zones, size_t n, uint64_t seq);
/* Counts (tests): directories watched, and the states answered from the table. */
void keydirs_counts(uint64_t *watched, uint64_t *hits);
