/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sign.c -- DNSSEC signing of a finished zone: DNSKEY, CDS, CDNSKEY, the NSEC chain, RRSIGs */
#include "zones/sign.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "policy/mn.h"
#include "policy/pool.h"
#include "policy/wire.h"
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
	EVP_MD_CTX *md;		/* the reuse key's SHA-256 */
	EVP_MD *sha256;
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
	if (keyed && (!EVP_DigestInit_ex(s->md, s->sha256, NULL) || !EVP_DigestUpdate(s->md, b, 8) ||
		      !EVP_DigestUpdate(s->md, b + 16, need - 16) || !EVP_DigestFinal_ex(s->md, key, &kl)))
		return MN_ESTATE;
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

/* Signs each RRset of t (finished) and each NSEC of nsec (one per owner). */
static int sign_all(signer_t *s, const zone_t *t, const pends_t *nsec, pends_t *out)
{
	const uint8_t **rdv = malloc(SET_MAX * sizeof(*rdv));
	uint16_t *rlv = malloc(SET_MAX * sizeof(*rlv));
	int r = MN_OK;
	if (rdv == NULL || rlv == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; r == MN_OK && i < t->nrrs;) {
		size_t j = i + 1;
		while (j < t->nrrs && same_owner(&t->rrs[j], &t->rrs[i]) && t->rrs[j].type == t->rrs[i].type)
			j++;
		if (j - i > SET_MAX) {
			r = MN_ERANGE;
			break;
		}
		for (size_t k = i; k < j; k++) {
			rdv[k - i] = t->rrs[k].rdata;
			rlv[k - i] = t->rrs[k].rdlen;
		}
		rrset_t set = { t->rrs[i].owner, t->rrs[i].owner_len, t->rrs[i].type, t->rrs[i].ttl, j - i,
				rdv, rlv };
		dnskey_t *kv[DNSKEY_SET_MAX];
		size_t nk = signers(s, set.type, kv);
		for (size_t q = 0; r == MN_OK && q < nk; q++) {
			uint8_t *sig = NULL;
			size_t sl = 0;
			r = rrsig_make(s, &set, kv[q], &sig, &sl);
			if (r == MN_OK)
				r = pends_add(out, &t->rrs[i], ZONE_T_RRSIG, t->rrs[i].ttl, sig, sl);
		}
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

int sign_zone(const zone_t *z, dnskey_set_t *keys, const sign_opts_t *o, zone_t **out)
{
	if (z == NULL || keys == NULL || keys->ksk == NULL || o == NULL || out == NULL || z->nrrs == 0 ||
	    z->rrs[0].type != ZONE_T_SOA)
		return MN_EINVAL;
	zone_t *t = NULL;
	pends_t nsec = { 0 }, sigs = { 0 };
	signer_t s = { .keys = keys, .z = NULL, .o = o, .inception = (uint32_t)(o->now - 3600),
		       .expiration = (uint32_t)(o->now + (time_t)o->validity) };
	s.md = EVP_MD_CTX_new();
	s.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	int r = s.md != NULL && s.sha256 != NULL ? unsigned_copy(z, keys, &t) : MN_ENOMEM;
	if (r != MN_OK) {
		EVP_MD_CTX_free(s.md);
		EVP_MD_free(s.sha256);
		return r;
	}
	s.z = t;
	r = nsec_chain(t, &nsec);
	if (r == MN_OK)
		r = sign_all(&s, t, &nsec, &sigs);
	free(s.buf);
	EVP_MD_CTX_free(s.md);
	EVP_MD_free(s.sha256);
	if (o->signatures != NULL && r == MN_OK)
		*o->signatures += s.made;
	if (o->reused != NULL && r == MN_OK)
		*o->reused += s.reused;
	/* t's records were read above; adding copies them back out of the finished block */
	const pends_t *adds[2] = { &nsec, &sigs };
	for (size_t a = 0; a < 2; a++) {
		for (size_t i = 0; r == MN_OK && i < adds[a]->n; i++) {
			const pend_t *e = &adds[a]->v[i];
			r = add_wire(t, e->owner, e->owner_len, e->type, e->ttl, e->rdata, e->rdlen);
		}
	}
	if (r == MN_OK)
		r = zone_finish(t);
	pends_free(&nsec);
	pends_free(&sigs);
	if (r != MN_OK) {
		zone_unref(t);
		return r;
	}
	*out = t;
	return MN_OK;
}

/* ---- the compile's step ----------------------------------------------------------- */

typedef struct job {
	const policy_t *p;
	zones_t *zs;
	zone_t **out;		/* per zone: its signed form, or NULL */
	int *err;		/* per zone: MN_OK or why its keys failed */
	bool *mismatch;		/* per zone: keys of another algorithm or shape */
	size_t *made, *reused;	/* per zone: signatures */
	time_t now;
	bool persist;
} job_t;

static const policy_domain_t *signed_domain(const policy_t *p, const zone_t *z)
{
	const policy_domain_t *d = policy_domain_find(p, z->domain);
	return d != NULL && d->dnssec.enabled.v ? d : NULL;
}

static void sign_one(void *arg, size_t k)
{
	job_t *j = arg;
	const zone_t *z = j->zs->v[k];
	const policy_domain_t *d = signed_domain(j->p, z);
	if (d == NULL)
		return;
	dnskey_set_t keys = { 0 };
	int r = dnskey_zone_keys(j->p->server.state_dir.v, z->name, (dnssec_alg_t)d->dnssec.algorithm.v,
				 (dnssec_keys_t)d->dnssec.keys.v, j->persist, j->now, &keys, &j->mismatch[k]);
	j->mismatch[k] = r == MN_OK && keys.ksk != NULL && !j->mismatch[k];
	sigcache_t *old = NULL, *keep = NULL;
	if (r == MN_OK && keys.ksk != NULL) {
		r = sigcache_load(j->p->server.state_dir.v, z->name, &old);
		if (r == MN_OK)
			r = sigcache_new(&keep);
	}
	if (r == MN_OK && keys.ksk != NULL) {
		sign_opts_t o = { .now = j->now, .validity = j->p->server.dnssec_validity.v,
				  .refresh = j->p->server.dnssec_refresh.v, .old = old, .keep = keep,
				  .signatures = &j->made[k], .reused = &j->reused[k] };
		r = sign_zone(z, &keys, &o, &j->out[k]);
		if (r == MN_OK && j->persist)
			r = sigcache_save(keep, old, j->p->server.state_dir.v, z->name);
	}
	sigcache_free(old);
	sigcache_free(keep);
	dnskey_set_clear(&keys);
	j->err[k] = r;
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
	j.out = calloc(n, sizeof(*j.out));
	j.err = calloc(n, sizeof(*j.err));
	j.mismatch = calloc(n, sizeof(*j.mismatch));
	j.made = calloc(n, sizeof(*j.made));
	j.reused = calloc(n, sizeof(*j.reused));
	int r = MN_OK;
	if (j.out == NULL || j.err == NULL || j.mismatch == NULL || j.made == NULL || j.reused == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	mn_pool_run(n, threads, sign_one, &j);
	for (size_t i = 0; i < n; i++) {
		const policy_domain_t *d = signed_domain(p, zs->v[i]);
		if (j.err[i] == MN_ENOMEM) {
			r = MN_ENOMEM;
		} else if (j.err[i] != MN_OK) {
			diag_error(diag, &d->pos, "cannot %s the DNSSEC keys of %s in %s/dnssec/%s (%s)",
				   persist ? "read or make" : "read", zs->v[i]->name, p->server.state_dir.v,
				   zs->v[i]->name, mn_strerror(j.err[i]));
			if (r == MN_OK)
				r = MN_EPOLICY;
		} else if (j.mismatch[i]) {
			diag_warn(diag, &d->pos, "the DNSSEC keys of %s are not those dnssec asks for "
				  "(algorithm or keys): they sign until a rollover replaces them", zs->v[i]->name);
		}
	}
	if (r != MN_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (j.out[i] == NULL)
			continue;
		zone_unref(zs->v[i]);
		zs->v[i] = j.out[i];
		j.out[i] = NULL;
		if (stats != NULL) {
			stats->made += j.made[i];
			stats->reused += j.reused[i];
		}
	}
out:
	for (size_t i = 0; j.out != NULL && i < n; i++)
		zone_unref(j.out[i]);
	free(j.out);
	free(j.err);
	free(j.mismatch);
	free(j.made);
	free(j.reused);
	return r;
}
