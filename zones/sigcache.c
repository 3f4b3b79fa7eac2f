/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sigcache.c -- a zone's RRSIGs kept in state_dir/dnssec/ZONE/sigs, reused while valid */
#include "zones/sigcache.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "keys/dnskey.h"
#include "policy/mn.h"
#include "policy/wire.h"

static const char MAGIC[] = "MNSIG2\n";
enum { MAGIC_LEN = sizeof(MAGIC) - 1, SUM_LEN = 32, FILE_MAX = 64 << 20 };

/*
 * The file's checksum: SHA-256 of the zone's name (and a NUL) and the file
 * but its last 32 bytes (which hold it).  A file damaged in place, or one of
 * another zone copied over it, does not match: none of it is reused.
 */
static int checksum(const char *zone, const uint8_t *b, size_t len, uint8_t out[SUM_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int ol = 0;
	int ok = md != NULL && mn_sha256() != NULL && EVP_DigestInit_ex(md, mn_sha256(), NULL) &&
		 EVP_DigestUpdate(md, zone, strlen(zone) + 1) && EVP_DigestUpdate(md, b, len) &&
		 EVP_DigestFinal_ex(md, out, &ol) && ol == SUM_LEN;
	EVP_MD_CTX_free(md);
	return ok ? MN_OK : MN_ENOMEM;
}

typedef struct entry {
	uint8_t key[32];
	uint16_t len;
	uint8_t *rrsig;
} entry_t;

struct sigcache {
	entry_t *v;
	size_t n, cap;
	bool sorted;
	uint8_t *raw;		/* the file as loaded (the entries point into it), or NULL */
	size_t rawlen;
};

int sigcache_new(sigcache_t **out)
{
	sigcache_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return MN_ENOMEM;
	c->sorted = true;
	*out = c;
	return MN_OK;
}

void sigcache_free(sigcache_t *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		bool in_raw = c->raw != NULL && c->v[i].rrsig >= c->raw && c->v[i].rrsig < c->raw + c->rawlen;
		if (!in_raw)
			free(c->v[i].rrsig);
	}
	free(c->v);
	free(c->raw);
	free(c);
}

size_t sigcache_count(const sigcache_t *c)
{
	return c->n;
}

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(((const entry_t *)a)->key, ((const entry_t *)b)->key, 32);
}

static int push(sigcache_t *c, const uint8_t key[32], uint8_t *rrsig, uint16_t len)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		entry_t *v = realloc(c->v, cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	entry_t *e = &c->v[c->n++];
	memcpy(e->key, key, 32);
	e->len = len;
	e->rrsig = rrsig;
	c->sorted = c->n < 2 || (c->sorted && memcmp(c->v[c->n - 2].key, key, 32) < 0);
	return MN_OK;
}

static void sort(sigcache_t *c)
{
	if (!c->sorted)
		qsort(c->v, c->n, sizeof(*c->v), entry_cmp);
	c->sorted = true;
}

const uint8_t *sigcache_find(const sigcache_t *c, const uint8_t key[32], uint16_t *len)
{
	if (c == NULL)
		return NULL;
	if (!c->sorted)
		sort((sigcache_t *)c);
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int k = memcmp(c->v[mid].key, key, 32);
		if (k == 0) {
			*len = c->v[mid].len;
			return c->v[mid].rrsig;
		}
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int sigcache_add(sigcache_t *c, const uint8_t key[32], const uint8_t *rrsig, uint16_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return MN_ENOMEM;
	memcpy(copy, rrsig, len);
	int r = push(c, key, copy, len);
	if (r != MN_OK)
		free(copy);
	return r;
}

int sigcache_load(const char *state_dir, const char *zone, sigcache_t **out)
{
	if (state_dir == NULL || zone == NULL || out == NULL)
		return MN_EINVAL;
	sigcache_t *c = NULL;
	int r = sigcache_new(&c);
	if (r != MN_OK)
		return r;
	char *text = NULL;
	size_t len = 0;
	r = dnskey_dir_read(state_dir, zone, "sigs", FILE_MAX, &text, &len);
	uint8_t *buf = (uint8_t *)text;
	if (r == MN_ENOENT || r == -EACCES) {	/* none yet, or made by another user: signed anew */
		*out = c;
		return MN_OK;
	}
	if (r != MN_OK) {
		sigcache_free(c);
		return r;
	}
	c->raw = buf;
	c->rawlen = len;
	uint8_t sum[SUM_LEN];
	bool good = len >= MAGIC_LEN + SUM_LEN && memcmp(buf, MAGIC, MAGIC_LEN) == 0;
	if (good && (r = checksum(zone, buf, len - SUM_LEN, sum)) != MN_OK) {
		sigcache_free(c);
		return r;
	}
	good = good && memcmp(sum, buf + len - SUM_LEN, SUM_LEN) == 0;
	size_t end = good ? len - SUM_LEN : 0;
	for (size_t o = MAGIC_LEN; good && o < end;) {
		if (end - o < 34) {
			good = false;
			break;
		}
		uint16_t l = mn_get16(buf + o + 32);
		if (end - o - 34 < l || l < 18) {
			good = false;
			break;
		}
		r = push(c, buf + o, buf + o + 34, l);
		if (r != MN_OK) {
			sigcache_free(c);
			return r;
		}
		o += 34u + l;
	}
	if (!good) {	/* damaged, another zone's, or of an older format: sign everything anew */
		if (len > 0 && !(len >= MAGIC_LEN && memcmp(buf, "MNSIG1\n", MAGIC_LEN) == 0))
			mn_log(MN_LOG_WARNING, "DNSSEC: %s/dnssec/%s/sigs is damaged or not the zone's: its "
			       "signatures are made anew", state_dir, zone);
		c->n = 0;
	}
	sort(c);
	*out = c;
	return MN_OK;
}

int sigcache_save(sigcache_t *c, const sigcache_t *old, const char *state_dir, const char *zone)
{
	if (c == NULL || state_dir == NULL || zone == NULL)
		return MN_EINVAL;
	sort(c);
	size_t len = MAGIC_LEN + SUM_LEN;
	for (size_t i = 0; i < c->n; i++)
		len += 34u + c->v[i].len;
	uint8_t *buf = malloc(len);
	if (buf == NULL)
		return MN_ENOMEM;
	memcpy(buf, MAGIC, MAGIC_LEN);
	size_t o = MAGIC_LEN;
	for (size_t i = 0; i < c->n; i++) {
		memcpy(buf + o, c->v[i].key, 32);
		mn_put16(buf + o + 32, c->v[i].len);
		memcpy(buf + o + 34, c->v[i].rrsig, c->v[i].len);
		o += 34u + c->v[i].len;
	}
	int r = checksum(zone, buf, o, buf + o);
	if (r == MN_OK &&
	    (old == NULL || old->raw == NULL || old->rawlen != len || memcmp(old->raw, buf, len) != 0)) {
		r = dnskey_dir_write(state_dir, zone, "sigs", buf, len);
	}
	free(buf);
	return r;
}
