/* SPDX-License-Identifier: GPL-3.0-or-later */
/* serial.h -- SOA serials kept in state_dir/zones/serials: stable for unchanged zones */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "policy/diag.h"
#include "zones/zone.h"

/* YYYYMMDD00 of now (UTC). */
uint32_t serial_date_base(time_t now);

/*
 * Gives every (finished) zone of zs its serial from state_dir/zones/serials,
 * whose lines are "APEX SERIAL DIGESTHEX" sorted by apex: the same digest keeps
 * the stored serial; a changed or new zone gets max(old + 1, YYYYMMDD00 of now).
 * With persist, the file is rewritten atomically (mn_file_replace_at; state_dir
 * and zones/ created 0750 when missing, zones/ never through a symbolic link)
 * when a serial changed; entries of zones not in zs are kept.  Without
 * zones/serials, state_dir/serials (where earlier versions kept it) is read,
 * and removed once zones/serials is written.  A missing file or directory is an
 * empty list.  A malformed file is a diag
 * error at FILE:LINE (MN_EPOLICY); an unreadable or unwritable one a diag
 * error without position and its error code.
 */
int serial_assign(zones_t *zs, const char *state_dir, time_t now, bool persist, diag_t *diag);
/*
 * Sets the serial of zs->v[i]; a zone held elsewhere too (the compile cache,
 * a served set) is not written in place but replaced in zs by a copy with
 * the new serial (the shared one released).  MN_OK or MN_ENOMEM.
 */
int serial_set(zones_t *zs, size_t i, uint32_t serial);
