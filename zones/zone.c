/* SPDX-License-Identifier: GPL-3.0-or-later */
/* zone.c -- the compiled content of one zone: records in wire form, serial, digest */
#include "zones/zone.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "policy/mn.h"

zone_t *zone_new(const char *apex, zone_kind_t kind, const char *domain)
{
	if (apex == NULL || domain == NULL)
		return NULL;
	zone_t *z = calloc(1, sizeof(*z));
	if (z == NULL)
		return NULL;
	int len = mn_name_to_wire(apex, z->apex, sizeof(z->apex));
	if (len < 0)
		goto fail;
	z->apex_len = (uint16_t)len;
	z->kind = kind;
	z->name = mn_strdup(apex);
	z->domain = mn_strdup(domain);
	if (z->name == NULL || z->domain == NULL)
		goto fail;
	return z;
fail:
	zone_free(z);
	return NULL;
}

void zone_free(zone_t *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->nrrs; i++) {
		free(z->rrs[i].owner);
		free(z->rrs[i].rdata);
	}
	free(z->rrs);
	free(z->name);
	free(z->domain);
	free(z);
}

int zone_add_rr(zone_t *z, const char *owner, uint16_t type, uint32_t ttl,
		const uint8_t *rdata, uint16_t rdlen)
{
	if (z == NULL || owner == NULL || (rdata == NULL && rdlen > 0))
		return MN_EINVAL;
	uint8_t wire[256];
	int wlen = mn_name_to_wire(owner, wire, sizeof(wire));
	if (wlen < 0)
		return wlen;
	/* the owner must be the apex or below it */
	if ((size_t)wlen < z->apex_len ||
	    memcmp(wire + wlen - z->apex_len, z->apex, z->apex_len) != 0)
		return MN_EINVAL;
	if (z->nrrs == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 8;
		zone_rr_t *v = realloc(z->rrs, cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		z->rrs = v;
		z->cap = cap;
	}
	zone_rr_t rr = { .owner_len = (uint16_t)wlen, .type = type, .ttl = ttl, .rdlen = rdlen };
	rr.owner = malloc((size_t)wlen);
	rr.rdata = malloc(rdlen ? rdlen : 1);
	if (rr.owner == NULL || rr.rdata == NULL) {
		free(rr.owner);
		free(rr.rdata);
		return MN_ENOMEM;
	}
	memcpy(rr.owner, wire, (size_t)wlen);
	if (rdlen)
		memcpy(rr.rdata, rdata, rdlen);
	z->rrs[z->nrrs++] = rr;
	return MN_OK;
}

int zone_add_txt(zone_t *z, const char *owner, uint32_t ttl, const char *text)
{
	if (text == NULL)
		return MN_EINVAL;
	size_t len = strlen(text);
	/* each character-string: one length byte and up to 255 bytes */
	size_t nstr = len == 0 ? 1 : (len + 254) / 255;
	size_t rdlen = len + nstr;
	if (rdlen > 65535)
		return MN_ERANGE;
	uint8_t *rd = malloc(rdlen);
	if (rd == NULL)
		return MN_ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < nstr; i++) {
		size_t n = len - i * 255 > 255 ? 255 : len - i * 255;
		rd[o++] = (uint8_t)n;
		memcpy(rd + o, text + i * 255, n);
		o += n;
	}
	int r = zone_add_rr(z, owner, ZONE_T_TXT, ttl, rd, (uint16_t)rdlen);
	free(rd);
	return r;
}

/* RFC 4034 6.1 canonical name order: compare labels from the rightmost. */
static int name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint8_t la[128], lb[128];	/* label offsets */
	int na = 0, nb = 0;
	for (size_t o = 0; o < alen && a[o] != 0 && na < 128; o += a[o] + 1u)
		la[na++] = (uint8_t)o;
	for (size_t o = 0; o < blen && b[o] != 0 && nb < 128; o += b[o] + 1u)
		lb[nb++] = (uint8_t)o;
	while (na > 0 && nb > 0) {
		const uint8_t *pa = a + la[--na], *pb = b + lb[--nb];
		size_t n = pa[0] < pb[0] ? pa[0] : pb[0];
		for (size_t i = 1; i <= n; i++) {
			int ca = pa[i] >= 'A' && pa[i] <= 'Z' ? pa[i] + 32 : pa[i];
			int cb = pb[i] >= 'A' && pb[i] <= 'Z' ? pb[i] + 32 : pb[i];
			if (ca != cb)
				return ca - cb;
		}
		if (pa[0] != pb[0])
			return pa[0] - pb[0];
	}
	return na - nb;
}

static int rr_cmp(const void *x, const void *y)
{
	const zone_rr_t *a = x, *b = y;
	/* the SOA comes first */
	if ((a->type == ZONE_T_SOA) != (b->type == ZONE_T_SOA))
		return a->type == ZONE_T_SOA ? -1 : 1;
	int c = name_cmp(a->owner, a->owner_len, b->owner, b->owner_len);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	size_t n = a->rdlen < b->rdlen ? a->rdlen : b->rdlen;
	c = memcmp(a->rdata, b->rdata, n);
	if (c != 0)
		return c;
	return (int)a->rdlen - (int)b->rdlen;
}

/* Offset of the serial within SOA RDATA, or -1. */
static long soa_serial_off(const zone_rr_t *rr)
{
	size_t o = 0;
	for (int names = 0; names < 2; names++) {
		while (o < rr->rdlen && rr->rdata[o] != 0)
			o += rr->rdata[o] + 1u;
		o++;
	}
	return o + 20 <= rr->rdlen ? (long)o : -1;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int zone_finish(zone_t *z)
{
	if (z == NULL)
		return MN_EINVAL;
	if (z->nrrs > 1)
		qsort(z->rrs, z->nrrs, sizeof(*z->rrs), rr_cmp);
	size_t w = 0;
	for (size_t i = 0; i < z->nrrs; i++) {
		if (w > 0 && rr_cmp(&z->rrs[w - 1], &z->rrs[i]) == 0) {
			free(z->rrs[i].owner);
			free(z->rrs[i].rdata);
			continue;
		}
		z->rrs[w++] = z->rrs[i];
	}
	z->nrrs = w;
	if (z->nrrs == 0 || z->rrs[0].type != ZONE_T_SOA)
		return MN_EINVAL;
	if (z->nrrs > 1 && z->rrs[1].type == ZONE_T_SOA)
		return MN_EINVAL;	/* two SOAs */
	long so = soa_serial_off(&z->rrs[0]);
	if (so < 0)
		return MN_EINVAL;
	z->serial = get32(z->rrs[0].rdata + so);
	uint32_t minimum = get32(z->rrs[0].rdata + so + 16);
	z->negative_ttl = z->rrs[0].ttl < minimum ? z->rrs[0].ttl : minimum;

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return MN_ENOMEM;
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		uint8_t hdr[10];
		hdr[0] = (uint8_t)(rr->type >> 8);
		hdr[1] = (uint8_t)rr->type;
		put32(hdr + 2, rr->ttl);
		put32(hdr + 6, rr->rdlen);
		ok = EVP_DigestUpdate(ctx, rr->owner, rr->owner_len) &&
		     EVP_DigestUpdate(ctx, hdr, sizeof(hdr));
		if (!ok)
			break;
		if (i == 0) {	/* the SOA without its serial */
			ok = EVP_DigestUpdate(ctx, rr->rdata, (size_t)so) &&
			     EVP_DigestUpdate(ctx, rr->rdata + so + 4, rr->rdlen - (size_t)so - 4);
		} else {
			ok = EVP_DigestUpdate(ctx, rr->rdata, rr->rdlen);
		}
	}
	unsigned int dlen = 0;
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, z->digest, &dlen);
	EVP_MD_CTX_free(ctx);
	return ok && dlen == sizeof(z->digest) ? MN_OK : MN_ENOMEM;
}

void zone_set_serial(zone_t *z, uint32_t serial)
{
	assert(z != NULL && z->nrrs > 0 && z->rrs[0].type == ZONE_T_SOA);
	long so = soa_serial_off(&z->rrs[0]);
	assert(so >= 0);
	put32(z->rrs[0].rdata + so, serial);
	z->serial = serial;
}

long zone_find(const zone_t *z, const uint8_t *owner, uint16_t owner_len, uint16_t type)
{
	for (size_t i = 0; i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		if (rr->type == type && rr->owner_len == owner_len &&
		    name_cmp(rr->owner, rr->owner_len, owner, owner_len) == 0)
			return (long)i;
	}
	return -1;
}

const char *zone_kind_name(zone_kind_t k)
{
	switch (k) {
	case ZONE_DKIM: return "dkim";
	case ZONE_DMARC: return "dmarc";
	case ZONE_SPF: return "spf";
	}
	return "?";
}

void zones_free(zones_t *zs)
{
	if (zs == NULL)
		return;
	for (size_t i = 0; i < zs->n; i++)
		zone_free(zs->v[i]);
	free(zs->v);
	free(zs);
}

const zone_t *zones_find(const zones_t *zs, const char *apex)
{
	size_t lo = 0, hi = zs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(zs->v[mid]->name, apex);
		if (c == 0)
			return zs->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
