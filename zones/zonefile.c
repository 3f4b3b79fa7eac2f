/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zonefile.c -- a zone as RFC 1035 master-file text (via ldns) */
#include "zones/zonefile.h"

#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "policy/mn.h"
#include "policy/wire.h"
#include "zones/records.h"
#include "zones/zone_internal.h"

/* One record's text ("owner.\tTTL\tIN\tTYPE\tRDATA\n"), malloc'd, or NULL. */
static int rr_text(const zone_rr_t *rr, char **out)
{
	size_t wlen = (size_t)rr->owner_len + 10 + rr->rdlen;
	uint8_t *wire = malloc(wlen);
	if (wire == NULL)
		return MN_ENOMEM;
	uint8_t *p = wire;
	memcpy(p, rr->owner, rr->owner_len);
	p += rr->owner_len;
	mn_put16(p, rr->type);
	mn_put16(p + 2, 1);	/* class IN */
	mn_put32(p + 4, rr->ttl);
	mn_put16(p + 8, rr->rdlen);
	p += 10;
	memcpy(p, rr->rdata, rr->rdlen);

	ldns_rr *lrr = NULL;
	size_t pos = 0;
	ldns_status st = ldns_wire2rr(&lrr, wire, wlen, &pos, LDNS_SECTION_ANSWER);
	free(wire);
	if (st != LDNS_STATUS_OK || pos != wlen) {
		ldns_rr_free(lrr);
		return MN_ESYNTAX;
	}
	char *s = ldns_rr2str(lrr);
	ldns_rr_free(lrr);
	if (s == NULL)
		return MN_ENOMEM;
	*out = s;
	return MN_OK;
}

int zonefile_render(const zone_t *z, char **out, size_t *len)
{
	if (z == NULL || out == NULL)
		return MN_EINVAL;
	mn_buf_t b = { 0 };
	for (size_t i = 0; i < z->nrrs; i++) {
		char *s = NULL;
		int r = rr_text(&z->rrs[i], &s);
		if (r != MN_OK) {
			mn_buf_free(&b);
			return r;
		}
		mn_buf_add(&b, s);
		size_t n = strlen(s);
		if (n == 0 || s[n - 1] != '\n')
			mn_buf_add(&b, "\n");
		free(s);
	}
	size_t n = b.len;
	char *text = mn_buf_take(&b);
	if (text == NULL)
		return MN_ENOMEM;
	*out = text;
	if (len != NULL)
		*len = n;
	return MN_OK;
}
