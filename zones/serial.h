/* SPDX-License-Identifier: GPL-3.0-or-later */
/* serial.h -- SOA serials kept in state_dir/zones/serials and its journal: stable for unchanged zones */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "policy/diag.h"
#include "zones/zone.h"

/* YYYYMMDD00 of now (UTC). */
uint32_t serial_date_base(time_t now);

/*
 * Gives every (finished) zone of zs its serial from the stored ones: the same
 * digest keeps the stored serial; a changed or new zone gets max(old + 1,
 * YYYYMMDD00 of now).  They are stored in state_dir/zones/serials, whose lines
 * are "APEX SERIAL DIGESTHEX" sorted by apex, and its journal
 * state_dir/zones/serials.journal, lines of the same form appended for the
 * zones that changed (a later line wins; an incomplete last line, left by a
 * crash during an append, is ignored and cut off by the next append).
 * With persist the changed serials are appended to the journal (fsynced;
 * state_dir and zones/ created 0750 when missing, zones/ never through a
 * symbolic link), or, when the journal would outgrow the number of entries
 * (or there is no base file yet), all of them are written as the base file
 * atomically (mn_file_replace_at) and the journal emptied; entries of zones
 * not in zs are kept.  Every write happens under flock on the journal, and
 * only when the journal is still as it was read: else the files are read
 * again and the serials assigned anew (a few times).  Without zones/serials
 * and without a line in the journal, state_dir/serials (where earlier
 * versions kept them) is read, and removed once zones/serials is written.
 * A missing file or directory is an empty list.  The list is kept in memory
 * (one state_dir at a time, serialized by a mutex) and read again when a
 * file is not as this process left it.  A malformed line is a diag
 * error at FILE:LINE (MN_EPOLICY); an unreadable or unwritable file a diag
 * error without position and its error code.
 */
int serial_assign(zones_t *zs, const char *state_dir, time_t now, bool persist, diag_t *diag);
/*
 * serial_assign() in O(changed): *token (0: none) is what the last call gave
 * out; when the stored list is still as that call left it (this process's
 * copy unchanged, the files as it left them), a zone with known[i] true is
 * taken to be one that call gave its serial (the same object, or one with the
 * same apex, serial and digest) and is not looked at, and only the others are
 * looked up (a binary search each).  Otherwise, or known NULL, every zone is
 * walked as serial_assign() does.  *token is set to the list's token after
 * the call (0 on failure, or when changes were not persisted): pass it with
 * the next call's known.  token may be NULL.
 */
int serial_assign_known(zones_t *zs, const bool *known, uint64_t *token, const char *state_dir, time_t now,
			bool persist, diag_t *diag);
/*
 * Sets the serial of zs->v[i]; a zone held elsewhere too (the compile cache,
 * a served set) is not written in place but replaced in zs by a copy with
 * the new serial (the shared one released).  MN_OK or MN_ENOMEM.
 */
int serial_set(zones_t *zs, size_t i, uint32_t serial);
/*
 * The serial serial_assign would give now to the zone apex whose digest is
 * digest (the stored one when the digests match), read from the same list
 * (loaded when not current); nothing is written.  The signing step uses it:
 * the SOA's signature covers the serial, which follows the signed content.
 * MN_OK, MN_ENOMEM, or the error reading the files.
 */
int serial_peek(const char *state_dir, const char *apex, const uint8_t digest[32], time_t now, uint32_t *out);
/*
 * Reads the serials stored in state_dir into memory now, unless they are held
 * already, for the next serial_assign (which reports any error reading them).
 */
void serial_preload(const char *state_dir);
/* How many times this process has read the stored serials (for tests). */
size_t serial_loads(void);
/* Drops the list kept in memory (the next serial_assign reads the files). */
void serial_forget(void);
