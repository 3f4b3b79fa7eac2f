/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sign.c -- DNSSEC signing of a finished zone: DNSKEY, CDS, CDNSKEY, the NSEC chain, RRSIGs */
#include "zones/sign.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <openssl/evp.h>

#include "policy/buf.h"
#include "policy/mn.h"
#include "policy/pool.h"
#include "policy/wire.h"
#include "zones/keydirs.h"
#include "zones/serial.h"
#include "zones/sigstore.h"
#include "zones/zone_internal.h"

/* A record to add to the zone being signed (RDATA owned). */
typedef struct pend {
	uint16_t type, rdlen;
	uint32_t ttl;
	uint8_t *rdata;
	uint8_t owner_len;
	uint8_t owner[255];	/* wire: the zone's records move when it takes new ones */
} pend_t;

typedef struct pends {
	pend_t *v;
	size_t n, cap;
} pends_t;

static void pends_free(pends_t *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].rdata);
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

/* Takes rdata (freed on failure too). */
static int pends_add(pends_t *p, const zone_rr_t *at, uint16_t type, uint32_t ttl, uint8_t *rdata, size_t rdlen)
{
	if (rdlen > UINT16_MAX || at->owner_len > 255) {
		free(rdata);
		return MN_ERANGE;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		pend_t *v = realloc(p->v, cap * sizeof(*v));
		if (v == NULL) {
			free(rdata);
			return MN_ENOMEM;
		}
		p->v = v;
		p->cap = cap;
	}
	pend_t *e = &p->v[p->n++];
	*e = (pend_t){ .type = type, .rdlen = (uint16_t)rdlen, .ttl = ttl, .rdata = rdata,
		       .owner_len = (uint8_t)at->owner_len };
	memcpy(e->owner, at->owner, at->owner_len);
	return MN_OK;
}

/* Adds a record with a wire owner to the building zone t. */
static int add_wire(zone_t *t, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		    const uint8_t *rdata, uint16_t rdlen)
{
	char name[256];
	int r = mn_name_from_wire(owner, owner_len, name, sizeof(name));
	if (r < 0)
		return r;
	return zone_add_rr(t, name, type, ttl, rdata, rdlen);
}

static bool same_owner(const zone_rr_t *a, const zone_rr_t *b)
{
	return a->owner_len == b->owner_len && memcmp(a->owner, b->owner, a->owner_len) == 0;
}

/* Labels of a wire name for the RRSIG labels field: the root's 0 and a leading `*` not counted. */
static uint8_t rrsig_labels(const uint8_t *name, size_t len)
{
	uint8_t n = 0;
	for (size_t o = 0; o < len && name[o] != 0; o += name[o] + 1u)
		n++;
	if (len >= 2 && name[0] == 1 && name[1] == '*')
		n--;
	return n;
}

/* ---- the NSEC chain --------------------------------------------------------------- */

/*
 * The NSEC RDATA of the owner whose records are rrs[i..j) (sorted by type):
 * next owner name, then the type bitmap (RFC 4034 §4.1.2) with RRSIG and NSEC.
 */
static int nsec_rdata(const zone_rr_t *rrs, size_t i, size_t j, const uint8_t *next, size_t next_len,
		      uint8_t **out, size_t *outlen)
{
	uint8_t bits[256][32];	/* per window, 256 types */
	bool used[256] = { false };
	uint8_t last[256] = { 0 };	/* highest byte used + 1 per window */
	memset(bits, 0, sizeof(bits));
	uint16_t extra[2] = { ZONE_T_RRSIG, ZONE_T_NSEC };
	for (size_t k = i; k < j + 2; k++) {
		uint16_t t = k < j ? rrs[k].type : extra[k - j];
		uint8_t w = (uint8_t)(t >> 8), lo = (uint8_t)t;
		bits[w][lo / 8] |= (uint8_t)(0x80 >> (lo % 8));
		used[w] = true;
		if (lo / 8 + 1 > last[w])
			last[w] = (uint8_t)(lo / 8 + 1);
	}
	size_t len = next_len;
	for (int w = 0; w < 256; w++)
		if (used[w])
			len += 2u + last[w];
	uint8_t *rd = malloc(len);
	if (rd == NULL)
		return MN_ENOMEM;
	memcpy(rd, next, next_len);
	size_t o = next_len;
	for (int w = 0; w < 256; w++) {
		if (!used[w])
			continue;
		rd[o++] = (uint8_t)w;
		rd[o++] = last[w];
		memcpy(rd + o, bits[w], last[w]);
		o += last[w];
	}
	assert(o == len);
	*out = rd;
	*outlen = len;
	return MN_OK;
}

/* One NSEC per owner of t (finished: canonical order, the apex first). */
static int nsec_chain(const zone_t *t, pends_t *p)
{
	const zone_rr_t *rrs = t->rrs;
	for (size_t i = 0; i < t->nrrs;) {
		size_t j = i + 1;
		while (j < t->nrrs && same_owner(&rrs[j], &rrs[i]))
			j++;
		/* the SOA sorts first, at the apex: the apex's other types follow it directly */
		const zone_rr_t *next = j < t->nrrs ? &rrs[j] : &rrs[0];
		uint8_t *rd = NULL;
		size_t rdlen = 0;
		int r = nsec_rdata(rrs, i, j, next->owner, next->owner_len, &rd, &rdlen);
		if (r == MN_OK)
			r = pends_add(p, &rrs[i], ZONE_T_NSEC, t->negative_ttl, rd, rdlen);
		if (r != MN_OK)
			return r;
		i = j;
	}
	return MN_OK;
}

/* ---- signatures ---------------------------------------------------------------- */

typedef struct signer {
	dnskey_set_t *keys;
	const zone_t *z;
	const sign_opts_t *o;
	uint32_t inception, expiration;
	uint8_t *buf;		/* the signed data */
	size_t cap;
	size_t made, reused;
	bool any;		/* a signature was made or reused: first_exp holds */
	uint32_t first_exp;	/* the earliest expiration of them (serial arithmetic from now) */
	const EVP_MD *sha256;	/* mn_sha256(): the reuse keys and the signed digest */
	/* per signing key: a digest of its DNSKEY RDATA, mixed into its reuse keys */
	const dnskey_t *kd_key[DNSKEY_SET_MAX];
	uint8_t kd[DNSKEY_SET_MAX][32];
	size_t nkd;
} signer_t;

static int buf_reserve(signer_t *s, size_t n)
{
	if (n <= s->cap)
		return MN_OK;
	size_t cap = s->cap ? s->cap : 4096;
	while (cap < n)
		cap *= 2;
	uint8_t *b = realloc(s->buf, cap);
	if (b == NULL)
		return MN_ENOMEM;
	s->buf = b;
	s->cap = cap;
	return MN_OK;
}

/* The RRset's records, one pointer each (n of them), in canonical RDATA order already. */
typedef struct rrset {
	const uint8_t *owner;
	uint16_t owner_len, type;
	uint32_t ttl;
	size_t n;
	const uint8_t *const *rdata;
	const uint16_t *rdlen;
} rrset_t;

/* Notes the expiration of a signature the zone carries. */
static void note_exp(signer_t *s, uint32_t exp)
{
	uint32_t now = (uint32_t)s->o->now;
	if (!s->any || exp - now < s->first_exp - now)	/* (every one is after now) */
		s->first_exp = exp;
	s->any = true;
}

/*
 * Binds a reuse key to the whole key k, not its 16-bit tag and algorithm
 * alone: another key of the same tag (a signature file of another key set)
 * never finds its signatures.  The key XORed with a digest of k's DNSKEY RDATA.
 */
static int key_bind(signer_t *s, const dnskey_t *k, uint8_t key[32])
{
	size_t i = 0;
	while (i < s->nkd && s->kd_key[i] != k)
		i++;
	if (i == s->nkd) {
		if (i == DNSKEY_SET_MAX)
			return MN_ERANGE;
		uint16_t len = 0;
		const uint8_t *rd = dnskey_rdata(k, &len);
		unsigned int dl = 0;
		if (!EVP_Digest(rd, len, s->kd[i], &dl, s->sha256, NULL) || dl != 32)
			return MN_ESTATE;
		s->kd_key[i] = k;
		s->nkd++;
	}
	for (size_t b = 0; b < 32; b++)
		key[b] ^= s->kd[i][b];
	return MN_OK;
}

/* The RRSIG RDATA over set (RFC 4034 §3.1.8.1) by key k. */
static int rrsig_make(signer_t *s, const rrset_t *set, dnskey_t *k, uint8_t **out, size_t *outlen)
{
	const uint8_t *apex = s->z->apex;
	size_t head = 18u + s->z->apex_len, need = head;
	for (size_t i = 0; i < set->n; i++)
		need += set->owner_len + 10u + set->rdlen[i];
	int r = buf_reserve(s, need);
	if (r != MN_OK)
		return r;
	uint8_t *b = s->buf;
	mn_put16(b, set->type);
	b[2] = (uint8_t)dnskey_alg(k);
	b[3] = rrsig_labels(set->owner, set->owner_len);
	mn_put32(b + 4, set->ttl);
	mn_put32(b + 8, s->expiration);
	mn_put32(b + 12, s->inception);
	mn_put16(b + 16, dnskey_tag(k));
	memcpy(b + 18, apex, s->z->apex_len);	/* lowercase already */
	size_t o = head;
	for (size_t i = 0; i < set->n; i++) {
		memcpy(b + o, set->owner, set->owner_len);	/* owners are lowercase */
		o += set->owner_len;
		mn_put16(b + o, set->type);
		mn_put16(b + o + 2, 1);	/* IN */
		mn_put32(b + o + 4, set->ttl);
		mn_put16(b + o + 8, set->rdlen[i]);
		o += 10;
		memcpy(b + o, set->rdata[i], set->rdlen[i]);
		o += set->rdlen[i];
	}
	assert(o == need);
	/* the reuse key: all that is signed but the inception and expiration */
	uint8_t key[32];
	unsigned int kl = 0;
	bool keyed = s->o->keep != NULL || s->o->old != NULL;
	if (keyed) {
		/* b[0..8) || b[16..need) in one call: the first 8 bytes moved over the times for it */
		uint8_t times[8];
		memcpy(times, b + 8, 8);
		memcpy(b + 8, b, 8);
		int ok = EVP_Digest(b + 8, need - 8, key, &kl, s->sha256, NULL);
		memcpy(b + 8, times, 8);
		if (!ok || kl != 32)
			return MN_ESTATE;
		if ((r = key_bind(s, k, key)) != MN_OK)
			return r;
	}
	uint16_t ol = 0;
	const uint8_t *old = keyed ? sigcache_find(s->o->old, key, &ol) : NULL;
	if (old != NULL && ol > head && memcmp(old, b, 8) == 0 && memcmp(old + 16, b + 16, head - 16) == 0 &&
	    (int32_t)(mn_get32(old + 8) - (uint32_t)s->o->now) > (int64_t)s->o->refresh &&
	    (int32_t)((uint32_t)s->o->now - mn_get32(old + 12)) >= 0) {
		uint8_t *rd = malloc(ol);
		if (rd == NULL)
			return MN_ENOMEM;
		memcpy(rd, old, ol);
		r = s->o->keep != NULL ? sigcache_add(s->o->keep, key, rd, ol) : MN_OK;
		if (r != MN_OK) {
			free(rd);
			return r;
		}
		s->reused++;
		note_exp(s, mn_get32(old + 8));
		*out = rd;
		*outlen = ol;
		return MN_OK;
	}
	uint8_t sig[DNSKEY_SIG_MAX];
	size_t sl = 0;
	r = dnskey_sign(k, b, need, sig, &sl);
	if (r != MN_OK)
		return r;
	uint8_t *rd = malloc(head + sl);
	if (rd == NULL)
		return MN_ENOMEM;
	memcpy(rd, b, head);
	memcpy(rd + head, sig, sl);
	if (s->o->keep != NULL && (r = sigcache_add(s->o->keep, key, rd, (uint16_t)(head + sl))) != MN_OK) {
		free(rd);
		return r;
	}
	s->made++;
	note_exp(s, s->expiration);
	*out = rd;
	*outlen = head + sl;
	return MN_OK;
}

enum { SET_MAX = 4096 };	/* records per RRset signed at once (a zone's RRsets are small) */

/*
 * The keys that sign an RRset of type (dnskey_set_keys: during a rollover,
 * every algorithm of the DNSKEY RRset signs, RFC 6781 §4.1.4).
 */
static size_t signers(const signer_t *s, uint16_t type, dnskey_t *kv[DNSKEY_SET_MAX])
{
	bool sep = type == ZONE_T_DNSKEY || type == ZONE_T_CDS || type == ZONE_T_CDNSKEY;
	return dnskey_set_keys(s->keys, sep ? DNSKEY_USE_SIGN_KEYS : DNSKEY_USE_SIGN_DATA, kv, DNSKEY_SET_MAX);
}

/* The RRSIGs over t's RRset rrs[i..j) into out, one by each of its signing keys. */
static int sign_set(signer_t *s, const zone_t *t, size_t i, size_t j, const uint8_t **rdv, uint16_t *rlv,
		    pends_t *out)
{
	for (size_t k = i; k < j; k++) {
		rdv[k - i] = t->rrs[k].rdata;
		rlv[k - i] = t->rrs[k].rdlen;
	}
	rrset_t set = { t->rrs[i].owner, t->rrs[i].owner_len, t->rrs[i].type, t->rrs[i].ttl, j - i, rdv, rlv };
	dnskey_t *kv[DNSKEY_SET_MAX];
	size_t nk = signers(s, set.type, kv);
	int r = MN_OK;
	for (size_t q = 0; r == MN_OK && q < nk; q++) {
		uint8_t *sig = NULL;
		size_t sl = 0;
		r = rrsig_make(s, &set, kv[q], &sig, &sl);
		if (r == MN_OK)
			r = pends_add(out, &t->rrs[i], ZONE_T_RRSIG, t->rrs[i].ttl, sig, sl);
	}
	return r;
}

/*
 * Signs each RRset of t (finished) but its SOA (rrs[0]: it is signed once
 * the serial is known) and each NSEC of nsec (one per owner).
 */
static int sign_all(signer_t *s, const zone_t *t, const pends_t *nsec, pends_t *out)
{
	const uint8_t **rdv = malloc(SET_MAX * sizeof(*rdv));
	uint16_t *rlv = malloc(SET_MAX * sizeof(*rlv));
	int r = MN_OK;
	if (rdv == NULL || rlv == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 1; r == MN_OK && i < t->nrrs;) {	/* (rrs[0], the SOA, is an RRset alone) */
		size_t j = i + 1;
		while (j < t->nrrs && same_owner(&t->rrs[j], &t->rrs[i]) && t->rrs[j].type == t->rrs[i].type)
			j++;
		if (j - i > SET_MAX) {
			r = MN_ERANGE;
			break;
		}
		r = sign_set(s, t, i, j, rdv, rlv, out);
		i = j;
	}
	for (size_t i = 0; r == MN_OK && i < nsec->n; i++) {
		const pend_t *e = &nsec->v[i];
		const uint8_t *one = e->rdata;
		rrset_t set = { e->owner, e->owner_len, ZONE_T_NSEC, e->ttl, 1, &one, &e->rdlen };
		zone_rr_t at = { .owner = (uint8_t *)e->owner, .owner_len = e->owner_len };
		dnskey_t *kv[DNSKEY_SET_MAX];
		size_t nk = signers(s, ZONE_T_NSEC, kv);
		for (size_t q = 0; r == MN_OK && q < nk; q++) {
			uint8_t *sig = NULL;
			size_t sl = 0;
			r = rrsig_make(s, &set, kv[q], &sig, &sl);
			if (r == MN_OK)
				r = pends_add(out, &at, ZONE_T_RRSIG, e->ttl, sig, sl);
		}
	}
out:
	free(rdv);
	free(rlv);
	return r;
}

/* ---- the signed zone ------------------------------------------------------------ */

/* DNSKEY (each published key), CDS and CDNSKEY (the SEP keys not replaced) at t's apex. */
static int apex_keys(zone_t *t, const dnskey_set_t *keys, uint32_t ttl)
{
	dnskey_t *kv[DNSKEY_SET_MAX];
	size_t n = dnskey_set_keys(keys, DNSKEY_USE_DNSKEY, kv, DNSKEY_SET_MAX);
	int r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < n; i++) {
		uint16_t len;
		const uint8_t *rd = dnskey_rdata(kv[i], &len);
		r = zone_add_rr(t, t->name, ZONE_T_DNSKEY, ttl, rd, len);
	}
	n = dnskey_set_keys(keys, DNSKEY_USE_CDS, kv, DNSKEY_SET_MAX);
	for (size_t i = 0; r == MN_OK && i < n; i++) {
		uint16_t len;
		const uint8_t *rd = dnskey_rdata(kv[i], &len);
		uint8_t ds[DNSKEY_DS_LEN];
		r = zone_add_rr(t, t->name, ZONE_T_CDNSKEY, ttl, rd, len);
		if (r == MN_OK)
			r = dnskey_ds(kv[i], t->apex, t->apex_len, ds);
		if (r == MN_OK)
			r = zone_add_rr(t, t->name, ZONE_T_CDS, ttl, ds, sizeof(ds));
	}
	return r;
}

/* The records of z (finished) and the apex keys into a new zone, finished (sorted). */
static int unsigned_copy(const zone_t *z, const dnskey_set_t *keys, zone_t **out)
{
	zone_t *t = NULL;
	int r = zone_new(z->name, z->kind, z->domain, &t);
	if (r != MN_OK)
		return r;
	for (size_t i = 0; r == MN_OK && i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		if (rr->type == ZONE_T_RRSIG || rr->type == ZONE_T_NSEC || rr->type == ZONE_T_DNSKEY ||
		    rr->type == ZONE_T_CDS || rr->type == ZONE_T_CDNSKEY)
			continue;	/* a signed zone signed again: made anew */
		r = add_wire(t, rr->owner, rr->owner_len, rr->type, rr->ttl, rr->rdata, rr->rdlen);
	}
	if (r == MN_OK)
		r = apex_keys(t, keys, z->rrs[0].ttl);
	if (r == MN_OK)
		r = zone_finish(t);
	if (r != MN_OK) {
		zone_unref(t);
		return r;
	}
	*out = t;
	return MN_OK;
}

/*
 * The digest the zone's serial follows (zone_t.digest of a signed zone): its
 * unsigned records and apex keys (t's, the SOA serial excluded), its NSEC
 * records and every RRSIG but the SOA's -- which covers the serial, so it is
 * made once the serial is known.  A signature made anew changes it.
 */
static int signed_digest(signer_t *s, const zone_t *t, const pends_t *nsec, const pends_t *sigs, uint8_t out[32])
{
	static const char tag[] = "mailns signed zone 1";
	/* one buffer, one update: OpenSSL 3 spends more on a call than on a record's bytes */
	const pends_t *adds[2] = { nsec, sigs };
	size_t need = sizeof(tag) + sizeof(t->digest);
	for (size_t a = 0; a < 2; a++)
		for (size_t i = 0; i < adds[a]->n; i++)
			need += 9u + adds[a]->v[i].owner_len + adds[a]->v[i].rdlen;
	int r = buf_reserve(s, need);
	if (r != MN_OK)
		return r;
	uint8_t *b = s->buf;
	memcpy(b, tag, sizeof(tag));
	memcpy(b + sizeof(tag), t->digest, sizeof(t->digest));
	size_t o = sizeof(tag) + sizeof(t->digest);
	for (size_t a = 0; a < 2; a++) {
		for (size_t i = 0; i < adds[a]->n; i++) {
			const pend_t *e = &adds[a]->v[i];
			b[o] = e->owner_len;
			mn_put16(b + o + 1, e->type);
			mn_put32(b + o + 3, e->ttl);
			mn_put16(b + o + 7, e->rdlen);
			memcpy(b + o + 9, e->owner, e->owner_len);
			memcpy(b + o + 9 + e->owner_len, e->rdata, e->rdlen);
			o += 9u + e->owner_len + e->rdlen;
		}
	}
	unsigned int len = 0;
	return EVP_Digest(b, o, out, &len, s->sha256, NULL) && len == 32 ? MN_OK : MN_ESTATE;
}

static int signer_open(signer_t *s, dnskey_set_t *keys, const sign_opts_t *o)
{
	*s = (signer_t){ .keys = keys, .o = o, .inception = (uint32_t)(o->now - 3600),
			 .expiration = (uint32_t)(o->now + (time_t)o->validity) };
	s->sha256 = mn_sha256();
	return s->sha256 != NULL ? MN_OK : MN_ENOMEM;
}

/* Frees s's buffers; on success, its counts into o. */
static void signer_close(signer_t *s, int r)
{
	free(s->buf);
	const sign_opts_t *o = s->o;
	if (r != MN_OK)
		return;
	if (o->signatures != NULL)
		*o->signatures += s->made;
	if (o->reused != NULL)
		*o->reused += s->reused;
	if (o->refresh_at != NULL && s->any) {
		time_t at = o->now + (time_t)(s->first_exp - (uint32_t)o->now) - (time_t)o->refresh;
		if (*o->refresh_at == 0 || at < *o->refresh_at)
			*o->refresh_at = at;
	}
}

/* The records of adds into t, finished again, with digest and the serial its SOA's RRSIG covers. */
static int signed_finish(zone_t *t, const pends_t *const *adds, size_t nadds, const uint8_t digest[32])
{
	int r = MN_OK;
	/* t's records were read above; adding copies them back out of the finished block */
	for (size_t a = 0; a < nadds; a++) {
		for (size_t i = 0; r == MN_OK && i < adds[a]->n; i++) {
			const pend_t *e = &adds[a]->v[i];
			r = add_wire(t, e->owner, e->owner_len, e->type, e->ttl, e->rdata, e->rdlen);
		}
	}
	if (r == MN_OK)
		r = zone_finish(t);
	if (r == MN_OK) {
		memcpy(t->digest, digest, sizeof(t->digest));
		t->signed_serial = t->serial;
	}
	return r;
}

int sign_zone(const zone_t *z, dnskey_set_t *keys, const sign_opts_t *o, zone_t **out)
{
	if (z == NULL || keys == NULL || keys->ksk == NULL || o == NULL || out == NULL || z->nrrs == 0 ||
	    z->rrs[0].type != ZONE_T_SOA)
		return MN_EINVAL;
	zone_t *t = NULL;
	pends_t nsec = { 0 }, sigs = { 0 };
	signer_t s;
	uint8_t digest[32];
	uint32_t serial = z->serial;
	const uint8_t *rd1[1];
	uint16_t rl1[1];
	int r = signer_open(&s, keys, o);
	if (r == MN_OK)
		r = unsigned_copy(z, keys, &t);
	s.z = t;
	if (r == MN_OK)
		r = nsec_chain(t, &nsec);
	if (r == MN_OK)
		r = sign_all(&s, t, &nsec, &sigs);
	if (r == MN_OK)
		r = signed_digest(&s, t, &nsec, &sigs, digest);
	/* the serial follows the signed content; then the SOA is signed */
	if (r == MN_OK && o->serial_dir != NULL)
		r = serial_peek(o->serial_dir, t->name, digest, o->now, &serial);
	if (r == MN_OK) {
		zone_set_serial(t, serial);
		r = sign_set(&s, t, 0, 1, rd1, rl1, &sigs);
	}
	signer_close(&s, r);
	const pends_t *adds[2] = { &nsec, &sigs };
	if (r == MN_OK)
		r = signed_finish(t, adds, 2, digest);
	pends_free(&nsec);
	pends_free(&sigs);
	if (r != MN_OK) {
		zone_unref(t);
		return r;
	}
	*out = t;
	return MN_OK;
}

/* Is rr the RRSIG of the SOA (at the apex: rrs[0]'s owner)? */
static bool soa_rrsig(const zone_t *z, const zone_rr_t *rr)
{
	return rr->type == ZONE_T_RRSIG && rr->rdlen >= 2 && mn_get16(rr->rdata) == ZONE_T_SOA &&
	       same_owner(rr, &z->rrs[0]);
}

bool sign_zone_is_signed(const zone_t *z)
{
	for (size_t i = 1; z != NULL && i < z->nrrs && same_owner(&z->rrs[i], &z->rrs[0]); i++)
		if (soa_rrsig(z, &z->rrs[i]))
			return true;
	return false;
}

bool sign_zone_stale(const zone_t *z)
{
	return sign_zone_is_signed(z) && z->signed_serial != z->serial;
}

int sign_zone_soa(const zone_t *z, dnskey_set_t *keys, const sign_opts_t *o, zone_t **out)
{
	if (z == NULL || keys == NULL || keys->ksk == NULL || o == NULL || out == NULL || z->nrrs == 0 ||
	    z->rrs[0].type != ZONE_T_SOA)
		return MN_EINVAL;
	zone_t *t = NULL;
	pends_t sigs = { 0 };
	signer_t s;
	const uint8_t *rd1[1];
	uint16_t rl1[1];
	int r = signer_open(&s, keys, o);
	if (r == MN_OK)
		r = zone_new(z->name, z->kind, z->domain, &t);
	for (size_t i = 0; r == MN_OK && i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		if (!soa_rrsig(z, rr))
			r = add_wire(t, rr->owner, rr->owner_len, rr->type, rr->ttl, rr->rdata, rr->rdlen);
	}
	if (r == MN_OK)
		r = zone_finish(t);
	s.z = t;
	if (r == MN_OK)
		r = sign_set(&s, t, 0, 1, rd1, rl1, &sigs);
	signer_close(&s, r);
	const pends_t *adds[1] = { &sigs };
	if (r == MN_OK)
		r = signed_finish(t, adds, 1, z->digest);
	pends_free(&sigs);
	if (r != MN_OK) {
		zone_unref(t);
		return r;
	}
	*out = t;
	return MN_OK;
}

/* ---- the compile's step ----------------------------------------------------------- */

static const policy_domain_t *signed_domain(const policy_t *p, const zone_t *z)
{
	const policy_domain_t *d = policy_domain_find(p, z->domain);
	return d != NULL && d->dnssec.enabled.v ? d : NULL;
}

/* What signing one zone of the compile gave. */
typedef struct one {
	zone_t *out;		/* its signed form, or NULL */
	int err;		/* MN_OK or why its keys failed */
	bool mismatch;		/* keys of another algorithm or shape */
	size_t made, reused;	/* signatures */
	time_t refresh_at;	/* the earliest refresh of its signatures (0: none) */
} one_t;

/* ---- the key directories' state and the signed-zone store (sigstore.h) ------------- */

/* The wall clock (file times are on it), whatever MAILNS_NOW says. */
static struct timespec wall_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

/*
 * state_dir/dnssec/ZONE's lstat fields into f (inode and times: every
 * atomic write of a key or of the stored signatures changes them; f[7] the
 * errno when it is missing).  *settled: its mtime is more than a second
 * before now, so that a change after this look cannot leave the same mtime on
 * a file system of coarse timestamps (policy/loader.c's settle).
 */
static void dir_state(const char *state, const char *zone, int64_t f[8], bool *settled)
{
	char path[4096];
	memset(f, 0, 8 * sizeof(*f));
	*settled = false;
	if (snprintf(path, sizeof(path), "%s/dnssec/%s", state, zone) >= (int)sizeof(path)) {
		f[7] = ENAMETOOLONG;
		return;
	}
	struct stat st;
	if (lstat(path, &st) != 0) {
		f[7] = errno;
		*settled = true;	/* (a directory made later has a new inode) */
		return;
	}
	f[0] = (int64_t)st.st_dev;
	f[1] = (int64_t)st.st_ino;
	f[2] = (int64_t)st.st_mode;
	f[3] = (int64_t)st.st_mtim.tv_sec;
	f[4] = (int64_t)st.st_mtim.tv_nsec;
	f[5] = (int64_t)st.st_ctim.tv_sec;
	f[6] = (int64_t)st.st_ctim.tv_nsec;
	f[7] = -(int64_t)st.st_nlink;
	struct timespec now = wall_now();
	*settled = now.tv_sec - st.st_mtim.tv_sec > 1 ||
		   (now.tv_sec - st.st_mtim.tv_sec == 1 && now.tv_nsec > st.st_mtim.tv_nsec);
}

/*
 * dir_state() through the watched directories' table (keydirs.h): a settled
 * state of a directory whose watch has reported nothing since is taken from
 * there (no lstat: a reload looks again only at the directories that changed);
 * else looked at, and kept when it is a settled directory under a watch.
 */
static void dir_state_known(const char *state, const char *zone, int64_t f[8], bool *settled)
{
	uint64_t gen = 0;
	if (keydirs_get(state, zone, f, &gen)) {
		*settled = true;	/* (only settled states are kept) */
		return;
	}
	dir_state(state, zone, f, settled);
	if (gen != 0 && *settled && f[7] < 0 && S_ISDIR((mode_t)f[2]))
		keydirs_put(state, zone, gen, f);
}

/*
 * sign_keys_state()'s digest, gathered a zone at a time: one buffer, one sum
 * (a domain has at most ZONE_KINDS zones; more: chained in rounds).
 */
typedef struct ks {
	size_t o;
	uint8_t buf[64 + 32 + ZONE_KINDS * (256 + 8 * 9)];
} ks_t;
static const char KS_TAG[] = "mailns dnssec key directories 3";
static uint64_t ks_unsettled;	/* a directory changed this second: never the same state */

static void ks_init(ks_t *k)
{
	memcpy(k->buf, KS_TAG, sizeof(KS_TAG));
	memset(k->buf + sizeof(KS_TAG), 0, 32);
	k->o = sizeof(KS_TAG) + 32;
}

/* Zone name's key directory state f (dir_state), settled or not. */
static void ks_add(ks_t *k, const char *name, const int64_t f[8], bool settled)
{
	if (k->o + 256 + 8 * 9 > sizeof(k->buf)) {
		uint8_t chain[32];
		sigstore_sum(k->buf, k->o, chain);	/* (not SHA-256: the server's own state, compared) */
		memcpy(k->buf + sizeof(KS_TAG), chain, 32);
		k->o = sizeof(KS_TAG) + 32;
	}
	int64_t w[9] = { 0 };
	memcpy(w, f, 8 * sizeof(*f));
	if (!settled)
		w[8] = (int64_t)__atomic_add_fetch(&ks_unsettled, 1, __ATOMIC_RELAXED);
	size_t nl = strlen(name) + 1;
	memcpy(k->buf + k->o, name, nl);
	memcpy(k->buf + k->o + nl, w, sizeof(w));
	k->o += nl + sizeof(w);
}

static void ks_end(ks_t *k, uint8_t out[32])
{
	sigstore_sum(k->buf, k->o, out);
}

static int meta_id_cmp(const void *a, const void *b)
{
	return strcmp(((const dnskey_meta_t *)a)->id, ((const dnskey_meta_t *)b)->id);
}

/*
 * A digest of the metadata of keys metas[0..n) (the removed ones skipped), in
 * the order of their ids (a set made now lists them as made, a listing sorted).
 */
static int keys_digest(const dnskey_meta_t *metas, size_t n, uint8_t out[32])
{
	dnskey_meta_t v[DNSKEY_SET_MAX];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (metas[i].state == DNSKEY_REMOVED)
			continue;
		if (k == DNSKEY_SET_MAX)
			return MN_ERANGE;
		v[k++] = metas[i];
	}
	qsort(v, k, sizeof(*v), meta_id_cmp);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_DigestInit_ex(md, mn_sha256(), NULL);
	for (size_t i = 0; ok && i < k; i++) {
		char *t = dnskey_meta_text(&v[i]);
		ok = t != NULL && EVP_DigestUpdate(md, t, strlen(t) + 1);
		free(t);
	}
	unsigned int len = 0;
	ok = ok && EVP_DigestFinal_ex(md, out, &len) && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? MN_OK : MN_ENOMEM;
}

/* A zone signed anew by this process, for the store's next write. */
typedef struct pending {
	char *name;
	uint8_t signed_digest[32];
	uint8_t keys[32];	/* keys_digest of what it was signed with */
	bool settled;		/* m.keystate was taken settled */
	sigstore_meta_t m;
} pending_t;

typedef struct held {
	sigstore_t *s;
	unsigned refs;
} held_t;

/* What a domain's zone was compiled from (sign_domain_note), for the store's next write. */
typedef struct note {
	char *name;
	uint8_t signed_digest[32];
	uint8_t inputs[32];
	int64_t until;
	uint8_t nzones;
} note_t;

/* The store as last opened (one state_dir a process) and the zones signed since it was written. */
static struct {
	pthread_mutex_t lock;
	char *state_dir;
	held_t *cur;
	time_t checked;		/* monotonic second the file was last looked at */
	bool written;		/* a compile of this process flushed (store_flush) */
	pending_t *v;
	size_t n, cap;
	note_t *notes;		/* since the last store_flush, which takes them */
	size_t nnotes, notes_cap;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void held_drop(held_t *h)
{
	if (h != NULL && h->refs == 0 && h != g.cur) {
		sigstore_free(h->s);
		free(h);
	}
}

/* The store of state (opened again when the file was replaced since); NULL on ENOMEM. Lock held. */
static held_t *store_get_locked(const char *state)
{
	struct timespec mt;
	clock_gettime(CLOCK_MONOTONIC, &mt);
	bool same_dir = g.state_dir != NULL && strcmp(g.state_dir, state) == 0;
	if (g.cur != NULL && same_dir && (mt.tv_sec == g.checked || sigstore_same_file(g.cur->s, state))) {
		g.checked = mt.tv_sec;
		g.cur->refs++;
		return g.cur;
	}
	held_t *h = calloc(1, sizeof(*h));
	char *dir = same_dir ? g.state_dir : strdup(state);
	if (h == NULL || dir == NULL || sigstore_open(state, &h->s) != MN_OK) {
		free(h);
		if (dir != g.state_dir)
			free(dir);
		return NULL;
	}
	if (!same_dir) {
		free(g.state_dir);
		g.state_dir = dir;
	}
	held_t *old = g.cur;
	g.cur = h;
	held_drop(old);
	g.checked = mt.tv_sec;
	h->refs++;
	return h;
}

static held_t *store_get(const char *state)
{
	pthread_mutex_lock(&g.lock);
	held_t *h = store_get_locked(state);
	pthread_mutex_unlock(&g.lock);
	return h;
}

static void store_put(held_t *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&g.lock);
	h->refs--;
	held_drop(h);
	pthread_mutex_unlock(&g.lock);
}

/* The compile is over: the mapping goes (its pages are not the zones'), opened again by the next. */
static void store_close_locked(void)
{
	held_t *h = g.cur;
	g.cur = NULL;
	held_drop(h);
}

static void pending_free(pending_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Notes that z was signed anew as out with keys (its meta m but the key state, taken here). */
static void pending_add(const char *state, const zone_t *z, const zone_t *out, const dnskey_set_t *keys,
			sigstore_meta_t *m)
{
	pending_t e = { .m = *m };
	memcpy(e.m.unsigned_digest, z->digest, 32);
	memcpy(e.signed_digest, out->digest, 32);
	dir_state(state, z->name, e.m.keystate, &e.settled);
	if (keys_digest(keys->meta, keys->n, e.keys) != MN_OK || (e.name = strdup(z->name)) == NULL)
		return;	/* (not stored: signed from its signatures next time) */
	pthread_mutex_lock(&g.lock);
	if (g.n == g.cap) {
		size_t cap = g.cap ? g.cap * 2 : 64;
		pending_t *v = realloc(g.v, cap * sizeof(*v));
		if (v == NULL) {
			pthread_mutex_unlock(&g.lock);
			free(e.name);
			return;
		}
		g.v = v;
		g.cap = cap;
	}
	g.v[g.n++] = e;
	pthread_mutex_unlock(&g.lock);
}

/* RRSIGs in z (the signatures a zone from the store reuses). */
static size_t count_rrsigs(const zone_t *z)
{
	size_t n = 0;
	for (size_t i = 0; i < z->nrrs; i++)
		n += z->rrs[i].type == ZONE_T_RRSIG;
	return n;
}

static void notes_free(note_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int note_cmp(const void *a, const void *b)
{
	return strcmp(((const note_t *)a)->name, ((const note_t *)b)->name);
}

/* The note of z's name and signed digest in v[0..n) (sorted), or NULL. */
static const note_t *note_find(const note_t *v, size_t n, const zone_t *z)
{
	size_t lo = mn_name_bound(v, n, sizeof(*v), z->name);
	for (; lo < n && strcmp(v[lo].name, z->name) == 0; lo++)
		if (memcmp(v[lo].signed_digest, z->digest, 32) == 0)
			return &v[lo];
	return NULL;
}

void sign_domain_note(const policy_t *p, zone_t *const *v, size_t n, const uint8_t inputs[32], time_t until)
{
	if (p == NULL || p->server.state_dir.v == NULL || n == 0 || n > ZONE_KINDS)
		return;
	for (size_t i = 0; i < n; i++)
		if (!sign_zone_is_signed(v[i]))
			return;	/* (a domain is taken from the store whole or not at all) */
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < n; i++) {
		if (g.nnotes == g.notes_cap) {
			size_t cap = g.notes_cap ? g.notes_cap * 2 : 64;
			note_t *nv = realloc(g.notes, cap * sizeof(*nv));
			if (nv == NULL)
				break;
			g.notes = nv;
			g.notes_cap = cap;
		}
		note_t *e = &g.notes[g.nnotes];
		if ((e->name = strdup(v[i]->name)) == NULL)
			break;	/* (the others then miss it: the domain is compiled next time) */
		memcpy(e->signed_digest, v[i]->digest, 32);
		memcpy(e->inputs, inputs, 32);
		e->until = (int64_t)until;
		e->nzones = (uint8_t)n;
		g.nnotes++;
	}
	pthread_mutex_unlock(&g.lock);
}

static int pending_cmp(const void *a, const void *b)
{
	return strcmp(((const pending_t *)a)->name, ((const pending_t *)b)->name);
}

/* The pending entry of z's name and signed digest in v[0..n) (sorted), or NULL. */
static pending_t *pending_find(pending_t *v, size_t n, const zone_t *z)
{
	size_t lo = mn_name_bound(v, n, sizeof(*v), z->name);
	for (; lo < n && strcmp(v[lo].name, z->name) == 0; lo++)
		if (memcmp(v[lo].signed_digest, z->digest, 32) == 0)
			return &v[lo];
	return NULL;
}

/*
 * e's key state taken again once settled, kept when the keys are still those
 * it was signed with (read after the state: a change after that moves the
 * mtime): 1; 0: not settled yet; -1: the keys changed (not to be stored).
 */
static int pending_settle(const char *state, pending_t *e)
{
	int64_t f[8];
	bool settled;
	dir_state(state, e->name, f, &settled);
	if (!settled)
		return 0;
	dnskey_meta_t *metas = NULL;
	size_t n = 0;
	uint8_t d[32];
	bool same = dnskey_zone_list(state, e->name, &metas, &n) == MN_OK && keys_digest(metas, n, d) == MN_OK &&
		    memcmp(d, e->keys, 32) == 0;
	free(metas);
	if (!same)
		return -1;
	memcpy(e->m.keystate, f, sizeof(f));
	e->settled = true;
	return 1;
}

/*
 * After a compile that signed zones anew (and its serials): the store written
 * again with every signed zone of zs whose making is known (signed now, or
 * its entry there already) when at least an eighth of it would change, the
 * entries of zones no longer there dropped.  Else the zones signed anew wait
 * for a later write (a restart signs them from their signatures meanwhile).
 * (One compile at a time: the compile's last step, single-threaded.)
 * Errors are not the compile's: the store is only a shortcut.
 */
static void store_flush(const policy_t *p, const zones_t *zs)
{
	const char *state = p->server.state_dir.v;
	pthread_mutex_lock(&g.lock);
	/* the notes are this compile's: taken now, whatever happens */
	note_t *nts = g.notes;
	size_t nn = g.nnotes;
	g.notes = NULL;
	g.nnotes = g.notes_cap = 0;
	held_t *h = g.n + nn > 0 ? store_get_locked(state) : NULL;
	size_t have = h != NULL ? sigstore_count(h->s) : 0;
	if (h == NULL || (g.n + nn) * 8 < have) {	/* (most of it the same: not looked at) */
		if (h != NULL)
			h->refs--;
		store_close_locked();
		pthread_mutex_unlock(&g.lock);
		notes_free(nts, nn);
		return;
	}
	pending_t *v = g.v;
	size_t n = g.n;
	g.v = NULL;
	g.n = g.cap = 0;
	pthread_mutex_unlock(&g.lock);
	if (n > 1)
		qsort(v, n, sizeof(*v), pending_cmp);	/* (v is NULL when only notes came) */
	if (nn > 1)
		qsort(nts, nn, sizeof(*nts), note_cmp);
	const zone_t **zv = calloc(zs->n ? zs->n : 1, sizeof(*zv));
	sigstore_meta_t *mv = calloc(zs->n ? zs->n : 1, sizeof(*mv));
	pending_t **pv = calloc(zs->n ? zs->n : 1, sizeof(*pv));
	size_t m = 0, fresh = 0, kept = 0;
	for (size_t i = 0; zv != NULL && mv != NULL && pv != NULL && i < zs->n; i++) {
		const zone_t *z = zs->v[i];
		if (signed_domain(p, z) == NULL || !sign_zone_is_signed(z))
			continue;
		pending_t *e = pending_find(v, n, z);
		const uint8_t *ent;
		uint8_t sd[32];
		uint32_t serial;
		const note_t *nt = note_find(nts, nn, z);
		if (e != NULL) {
			/* (what it was compiled from: noted, else not known and its domain compiled) */
			e->m.nzones = nt != NULL ? nt->nzones : 0;
			if (nt != NULL) {
				memcpy(e->m.inputs, nt->inputs, 32);
				e->m.inputs_until = nt->until;
			}
			pv[m] = e;
			mv[m] = e->m;
			fresh++;
		} else if (sigstore_find(h->s, z->name, &ent, &mv[m], sd, &serial) == MN_OK &&
			   memcmp(sd, z->digest, 32) == 0) {
			pv[m] = NULL;
			/* (what it was compiled from is news too) */
			bool same_inputs = nt == NULL || (mv[m].nzones == nt->nzones &&
							  mv[m].inputs_until == nt->until &&
							  memcmp(mv[m].inputs, nt->inputs, 32) == 0);
			kept += serial == z->signed_serial && same_inputs;
			fresh += !same_inputs;
		} else {
			continue;	/* made elsewhere: not known here */
		}
		if (nt != NULL && e == NULL) {
			mv[m].nzones = nt->nzones;
			memcpy(mv[m].inputs, nt->inputs, 32);
			mv[m].inputs_until = nt->until;
		}
		zv[m++] = z;
	}
	bool write = zv != NULL && mv != NULL && pv != NULL && (m - kept) * 8 >= m && fresh > 0;
	/*
	 * Zones signed within the second (their key directories just written): the
	 * first write of the process (a start, `mailns zone`) waits for that second
	 * to pass; a reload does not wait, and leaves them for a later write.
	 */
	bool first = !g.written;
	g.written = true;
	if (write) {
		/*
		 * Zones whose key directories were written within the second: the
		 * first write of a process (a start, `mailns zone`) waits for that
		 * second to pass and reads their keys again; a reload takes those
		 * settled by now and leaves the others for a later write.
		 */
		bool waited = false;
		size_t w = 0;
		for (size_t k = 0; k < m; k++) {
			pending_t *e = pv[k];
			if (e != NULL && !e->settled) {
				if (first && !waited) {
					struct timespec ts = { 1, 50000000 };
					nanosleep(&ts, NULL);
					waited = true;
				}
				int st = pending_settle(state, e);
				if (st < 0)
					pv[k] = NULL;	/* its keys changed: not stored */
				if (st <= 0)
					continue;	/* (not settled yet: pending still) */
				mv[k] = e->m;
			}
			pv[k] = NULL;	/* written */
			zv[w] = zv[k];
			mv[w++] = mv[k];
		}
		int r = sigstore_write(state, zv, mv, w);
		if (r != MN_OK)
			mn_log(MN_LOG_WARNING, "DNSSEC: cannot write the signed zones to %s/dnssec (%s)", state,
			       mn_strerror(r));
	}
	if (pv != NULL) {
		/* the ones served and not written wait for the next write; the rest go */
		pthread_mutex_lock(&g.lock);
		for (size_t k = 0; k < m; k++) {
			if (pv[k] == NULL)
				continue;
			if (g.n == g.cap) {
				size_t cap = g.cap ? g.cap * 2 : 64;
				pending_t *nv = realloc(g.v, cap * sizeof(*nv));
				if (nv == NULL)
					break;
				g.v = nv;
				g.cap = cap;
			}
			g.v[g.n++] = *pv[k];
			pv[k]->name = NULL;	/* (moved) */
		}
		pthread_mutex_unlock(&g.lock);
	}
	pthread_mutex_lock(&g.lock);
	h->refs--;
	store_close_locked();
	pthread_mutex_unlock(&g.lock);
	pending_free(v, n);
	notes_free(nts, nn);
	free(zv);
	free(mv);
	free(pv);
}

/*
 * Was the entry m made with d's dnssec settings now, and are its signatures
 * not yet due for refresh?  (Its key directory: keys_current.)
 */
static bool meta_settings(const policy_t *p, const policy_domain_t *d, const sigstore_meta_t *m, time_t now)
{
	return m->alg == (uint8_t)d->dnssec.algorithm.v && m->shape == (uint8_t)d->dnssec.keys.v &&
	       m->validity == p->server.dnssec_validity.v && m->refresh == p->server.dnssec_refresh.v &&
	       (int64_t)now >= m->since && (int64_t)now < m->refresh_at;
}

/* Was the entry m of zone name made from its key directory as f shows it now (dir_state)? */
static bool keys_current(const sigstore_meta_t *m, const int64_t f[8])
{
	return memcmp(f, m->keystate, 8 * sizeof(*f)) == 0;
}

/* meta_settings and keys_current, the directory looked at now. */
static bool meta_current(const policy_t *p, const policy_domain_t *d, const char *name, const sigstore_meta_t *m,
			 time_t now)
{
	if (!meta_settings(p, d, m, now))
		return false;
	int64_t f[8];
	bool settled;
	dir_state(p->server.state_dir.v, name, f, &settled);
	return keys_current(m, f);
}

/*
 * z's signed form from the store into j when its entry was made from what
 * makes it now: the same unsigned zone, key directory, dnssec settings, and
 * its signatures not yet due for refresh.
 */
static bool from_store(const policy_t *p, const policy_domain_t *d, const zone_t *z, time_t now, one_t *j)
{
	const char *state = p->server.state_dir.v;
	held_t *h = store_get(state);
	const uint8_t *ent = NULL;
	sigstore_meta_t m;
	uint8_t sd[32];
	uint32_t serial;
	bool ok = false;
	if (h != NULL && sigstore_find(h->s, z->name, &ent, &m, sd, &serial) == MN_OK &&
	    memcmp(m.unsigned_digest, z->digest, 32) == 0 && meta_current(p, d, z->name, &m, now)) {
		zone_t *out = NULL;
		if (sigstore_zone(h->s, ent, &out) == MN_OK) {
			j->out = out;
			j->mismatch = m.mismatch;
			j->reused = count_rrsigs(out);
			j->refresh_at = (time_t)m.refresh_at;
			ok = true;
		}
	}
	store_put(h);
	return ok;
}

/* z signed with its keys and stored signatures (above: sign_zones), its serial from state_dir. */
static void sign_compiled(const policy_t *p, const zone_t *z, time_t now, bool persist, one_t *j)
{
	const policy_domain_t *d = signed_domain(p, z);
	if (d == NULL)
		return;
	const char *state = p->server.state_dir.v;
	if (from_store(p, d, z, now, j))
		return;
	dnskey_set_t keys = { 0 };
	int r = dnskey_zone_keys(state, z->name, (dnssec_alg_t)d->dnssec.algorithm.v,
				 (dnssec_keys_t)d->dnssec.keys.v, persist, now, &keys, &j->mismatch);
	j->mismatch = r == MN_OK && keys.ksk != NULL && !j->mismatch;
	sigcache_t *old = NULL, *keep = NULL;
	if (r == MN_OK && keys.ksk != NULL) {
		r = sigcache_load(state, z->name, &old);
		if (r == MN_OK)
			r = sigcache_new(&keep);
	}
	if (r == MN_OK && keys.ksk != NULL) {
		sign_opts_t o = { .now = now, .validity = p->server.dnssec_validity.v,
				  .refresh = p->server.dnssec_refresh.v, .old = old, .keep = keep,
				  .signatures = &j->made, .reused = &j->reused, .serial_dir = state,
				  .refresh_at = &j->refresh_at };
		r = sign_zone(z, &keys, &o, &j->out);
		if (r == MN_OK && persist)
			r = sigcache_save(keep, old, state, z->name);
		if (r == MN_OK && persist) {
			sigstore_meta_t m = { .since = now, .refresh_at = j->refresh_at,
					      .validity = o.validity, .refresh = o.refresh,
					      .alg = (uint8_t)d->dnssec.algorithm.v, .shape = (uint8_t)d->dnssec.keys.v,
					      .mismatch = j->mismatch };
			pending_add(state, z, j->out, &keys, &m);
		}
	}
	sigcache_free(old);
	sigcache_free(keep);
	dnskey_set_clear(&keys);
	j->err = r;
}

/* j's messages about z into diag; MN_EPOLICY for a key error, MN_ENOMEM. */
static int sign_report(const policy_t *p, const zone_t *z, const one_t *j, bool persist, diag_t *diag)
{
	const policy_domain_t *d = signed_domain(p, z);
	if (d == NULL)
		return MN_OK;
	if (j->err == MN_ENOMEM)
		return MN_ENOMEM;
	if (j->err != MN_OK) {
		diag_error(diag, &d->pos, "cannot %s the DNSSEC keys of %s in %s/dnssec/%s (%s)",
			   persist ? "read or make" : "read", z->name, p->server.state_dir.v, z->name,
			   mn_strerror(j->err));
		return MN_EPOLICY;
	}
	if (j->mismatch)
		diag_warn(diag, &d->pos, "the DNSSEC keys of %s are not those dnssec asks for "
			  "(algorithm or keys): they sign until a rollover replaces them", z->name);
	return MN_OK;
}

static void stats_add(sign_stats_t *st, const one_t *j)
{
	if (st == NULL || j->out == NULL)
		return;
	st->made += j->made;
	st->reused += j->reused;
	st->zones++;
	if (j->refresh_at != 0 && (st->refresh_at == 0 || j->refresh_at < st->refresh_at))
		st->refresh_at = j->refresh_at;
}

typedef struct job {
	const policy_t *p;
	zones_t *zs;
	one_t *one;		/* per zone */
	time_t now;
	bool persist;
} job_t;

static void sign_one(void *arg, size_t k)
{
	job_t *j = arg;
	sign_compiled(j->p, j->zs->v[k], j->now, j->persist, &j->one[k]);
}

int sign_zones(const policy_t *p, zones_t *zs, time_t now, bool persist, unsigned threads, diag_t *diag,
	       sign_stats_t *stats)
{
	if (p == NULL || zs == NULL || diag == NULL)
		return MN_EINVAL;
	size_t n = zs->n, want = 0;
	for (size_t i = 0; i < n; i++)
		want += signed_domain(p, zs->v[i]) != NULL;
	if (want == 0)
		return MN_OK;
	if (p->server.state_dir.v == NULL)
		return MN_EINVAL;
	job_t j = { .p = p, .zs = zs, .now = now, .persist = persist };
	int r = MN_OK;
	if ((j.one = calloc(n, sizeof(*j.one))) == NULL)
		return MN_ENOMEM;
	mn_pool_run(n, threads, sign_one, &j);
	for (size_t i = 0; i < n; i++) {
		int e = sign_report(p, zs->v[i], &j.one[i], persist, diag);
		if (e == MN_ENOMEM || (e != MN_OK && r == MN_OK))
			r = e;
	}
	for (size_t i = 0; r == MN_OK && i < n; i++) {
		if (j.one[i].out == NULL)
			continue;
		zone_unref(zs->v[i]);
		zs->v[i] = j.one[i].out;
		stats_add(stats, &j.one[i]);
		j.one[i].out = NULL;
	}
	for (size_t i = 0; i < n; i++)
		zone_unref(j.one[i].out);
	free(j.one);
	return r;
}

static int kind_cmp(const void *a, const void *b)
{
	const zone_t *x = *(zone_t *const *)a, *y = *(zone_t *const *)b;
	return (x->kind > y->kind) - (x->kind < y->kind);
}

int sign_domain_stored(const policy_t *p, const policy_domain_t *d, const uint8_t inputs[32], time_t now,
		       zone_t **v, size_t *n, time_t *until, uint8_t keystate[32], uint64_t *keys_seq,
		       sign_stats_t *stats)
{
	*n = 0;
	if (p == NULL || d == NULL || !d->dnssec.enabled.v || p->server.state_dir.v == NULL)
		return MN_ENOENT;
	const char *state = p->server.state_dir.v;
	held_t *h = store_get(state);
	if (h == NULL)
		return MN_ENOMEM;
	sigstore_ent_t ev[ZONE_KINDS];
	size_t ne = 0, k = 0;
	int r = sigstore_domain(h->s, d->name, ev, ZONE_KINDS, &ne);
	/*
	 * One look at each key directory serves both the entries' check and the
	 * compile cache's key state (sign_keys_state of the zones): the watch's
	 * ticket first (keydirs.h), then the look.
	 */
	const char *names[ZONE_KINDS];
	for (size_t i = 0; r == MN_OK && i < ne; i++)
		names[i] = ev[i].name;
	uint64_t seq = r == MN_OK ? keydirs_seq(state, names, ne) : 0;
	int64_t f[ZONE_KINDS][8];
	bool settled[ZONE_KINDS];
	int64_t till = INT64_MAX;
	for (size_t i = 0; r == MN_OK && i < ne; i++) {
		const sigstore_meta_t *m = &ev[i].m;
		if (m->nzones != ne || memcmp(m->inputs, inputs, 32) != 0 || (int64_t)now >= m->inputs_until ||
		    !meta_settings(p, d, m, now))
			r = MN_ENOENT;
		else
			dir_state_known(state, ev[i].name, f[i], &settled[i]);
		if (r == MN_OK && !keys_current(m, f[i]))
			r = MN_ENOENT;
		else if (r == MN_OK && m->inputs_until < till)
			till = m->inputs_until;
	}
	while (r == MN_OK && k < ne) {
		r = sigstore_zone(h->s, ev[k].ent, &v[k]);
		if (r == MN_OK)
			k++;
		else if (r == MN_EINVAL)
			r = MN_ENOENT;	/* damaged: compiled */
	}
	store_put(h);
	if (r != MN_OK) {
		for (size_t i = 0; i < k; i++)
			zone_unref(v[i]);
		return r;
	}
	/* the compile's order (by kind; the store's is by name), and the key state in it */
	ks_t ks;
	ks_init(&ks);
	for (int kind = 0; kind < ZONE_KINDS; kind++)
		for (size_t i = 0; i < ne; i++)
			if (v[i]->kind == (zone_kind_t)kind)
				ks_add(&ks, ev[i].name, f[i], settled[i]);
	ks_end(&ks, keystate);
	*keys_seq = seq;
	qsort(v, ne, sizeof(*v), kind_cmp);
	for (size_t i = 0; i < ne; i++) {
		one_t j = { .out = v[i], .reused = count_rrsigs(v[i]), .refresh_at = (time_t)ev[i].m.refresh_at };
		stats_add(stats, &j);
	}
	*until = (time_t)till;
	*n = ne;
	return MN_OK;
}

int sign_domain(const policy_t *p, zone_t **v, size_t n, time_t now, bool persist, diag_t *diag,
		sign_stats_t *stats)
{
	if (p == NULL || (v == NULL && n > 0) || diag == NULL)
		return MN_EINVAL;
	int r = MN_OK;
	for (size_t i = 0; i < n; i++) {
		if (signed_domain(p, v[i]) == NULL)
			continue;
		if (p->server.state_dir.v == NULL)
			return MN_EINVAL;
		one_t j = { .out = NULL };
		sign_compiled(p, v[i], now, persist, &j);
		if (persist)	/* (its directory written, maybe: looked at again, before its event comes) */
			keydirs_forget(p->server.state_dir.v, v[i]->name);
		int e = sign_report(p, v[i], &j, persist, diag);
		if (e == MN_ENOMEM)
			r = e;
		if (j.out != NULL) {
			zone_unref(v[i]);
			v[i] = j.out;
			stats_add(stats, &j);
		}
		if (r == MN_ENOMEM)
			break;
	}
	return r;
}

int sign_settle(const policy_t *p, zones_t *zs, time_t now, diag_t *diag, zone_t ***replaced, size_t *nreplaced)
{
	if (p == NULL || zs == NULL || diag == NULL || replaced == NULL || nreplaced == NULL)
		return MN_EINVAL;
	int r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < zs->n; i++) {
		zone_t *z = zs->v[i];
		const policy_domain_t *d = signed_domain(p, z);
		if (d == NULL || !sign_zone_stale(z))
			continue;
		dnskey_set_t keys = { 0 };
		bool matches = true;
		zone_t *t = NULL;
		r = dnskey_zone_keys(p->server.state_dir.v, z->name, (dnssec_alg_t)d->dnssec.algorithm.v,
				     (dnssec_keys_t)d->dnssec.keys.v, false, now, &keys, &matches);
		if (r == MN_OK && keys.ksk == NULL)
			r = MN_ENOENT;
		if (r == MN_OK) {
			sign_opts_t o = { .now = now, .validity = p->server.dnssec_validity.v,
					  .refresh = p->server.dnssec_refresh.v };
			r = sign_zone_soa(z, &keys, &o, &t);
		}
		dnskey_set_clear(&keys);
		zone_t **nv = r == MN_OK ? realloc(*replaced, (*nreplaced + 1) * sizeof(*nv)) : NULL;
		if (r == MN_OK && nv == NULL)
			r = MN_ENOMEM;
		if (r != MN_OK) {
			zone_unref(t);
			if (r != MN_ENOMEM)
				diag_error(diag, &d->pos, "cannot sign the SOA of %s again (%s)", z->name,
					   mn_strerror(r));
			return r == MN_ENOMEM ? r : MN_EPOLICY;
		}
		*replaced = nv;
		nv[(*nreplaced)++] = z;
		zs->v[i] = t;
	}
	if (r == MN_OK)
		store_flush(p, zs);
	return r;
}

int sign_keys_state(const policy_t *p, zone_t *const *v, size_t n, uint8_t out[32])
{
	if (p == NULL || (v == NULL && n > 0) || out == NULL)
		return MN_EINVAL;
	ks_t k;
	ks_init(&k);
	const char *state = p->server.state_dir.v;
	for (size_t i = 0; state != NULL && i < n; i++) {
		if (signed_domain(p, v[i]) == NULL)
			continue;
		int64_t f[8];
		bool settled;
		dir_state_known(state, v[i]->name, f, &settled);
		ks_add(&k, v[i]->name, f, settled);
	}
	ks_end(&k, out);
	return MN_OK;
}

/* The names of v[0..n) (one domain's, at most ZONE_KINDS) into names; false when not (check: or not signed). */
static bool zone_names(const policy_t *p, zone_t *const *v, size_t n, bool check, const char *names[ZONE_KINDS])
{
	if (p == NULL || p->server.state_dir.v == NULL || n == 0 || n > ZONE_KINDS ||
	    (check && signed_domain(p, v[0]) == NULL))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i]->domain != v[0]->domain && strcmp(v[i]->domain, v[0]->domain) != 0)
			return false;	/* (one domain's zones: all signed or none) */
		names[i] = v[i]->name;
	}
	return true;
}

uint64_t sign_keys_seq(const policy_t *p, zone_t *const *v, size_t n)
{
	const char *names[ZONE_KINDS];
	return zone_names(p, v, n, true, names) ? keydirs_seq(p->server.state_dir.v, names, n) : 0;
}

bool sign_keys_unchanged(const policy_t *p, zone_t *const *v, size_t n, uint64_t seq)
{
	const char *names[ZONE_KINDS];
	return seq != 0 && zone_names(p, v, n, false, names) && keydirs_unchanged(p->server.state_dir.v, names, n, seq);
}
