/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zonefile.h -- a zone as RFC 1035 master-file text (via ldns) */
#pragma once

#include <stddef.h>

#include "zones/zone.h"

/*
 * The zone as master-file text: no $ORIGIN, absolute names with the final
 * dot, one "OWNER<TAB>TTL<TAB>IN<TAB>TYPE<TAB>RDATA" line per record, the SOA
 * first, in the zone's (canonical) order.  *out is malloc'd and NUL-terminated
 * (the caller frees it); *len its length.  MN_ESYNTAX when ldns cannot read a
 * record back from wire form.
 */
int zonefile_render(const zone_t *z, char **out, size_t *len);
