/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sigstore.c -- the signed zones of the last generation kept in one file, state_dir/dnssec/.signed-zones */
#include "zones/sigstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include "policy/mn.h"
#include "policy/wire.h"
#include "zones/zone_internal.h"

/*
 * The file (integers big-endian):
 *   header (HDR bytes): "MNZSTOR3", u32 count, u32 0, u64 file length,
 *     u64 offset of the index, u64 checksum of the index
 *   entries, each: u32 length (all of it), u32 0, u64 checksum of the rest,
 *     unsigned digest[32], signed digest[32], keystate 8 x i64, since i64,
 *     refresh_at i64, validity u32, refresh u32, serial u32, offset of the
 *     records in the entry u32, nrrs u32, kind u16, alg u8, shape u8,
 *     mismatch u8, name length u8, domain length u8, nzones u8, inputs[32],
 *     inputs_until i64, name, domain (no NUL); then per record its owner: u8
 *     length and the owner (wire), or a 0 for the previous record's owner;
 *     then the records in answer form (zone.h: c0 0c, type u16, class IN
 *     u16, TTL u32, RDATA length u16, RDATA), one after the other: what the
 *     zone set serves, taken from the mapping as it is (zone_finish_backed)
 *   index: u64 offset of each entry in name order (strcmp), then u64 offset
 *     of each entry in the order of its domain, then name
 * The dot keeps the name from ever being a zone's directory (dnskey.c).
 */
static const char NAME[] = ".signed-zones";
static const uint8_t MAGIC[8] = { 'M', 'N', 'Z', 'S', 'T', 'O', 'R', '3' };
enum { HDR = 40, EHDR = 228, RRHDR = 12, STALE_S = 600 };

/* The mapping, held by the store and by every zone served from it (zone_finish_backed). */
typedef struct smap {
	zone_backing_t b;
	void *p;
	size_t len;
} smap_t;

static void smap_release(zone_backing_t *b)
{
	smap_t *m = (smap_t *)(void *)b;
	munmap(m->p, m->len);
	free(m);
}

struct sigstore {
	smap_t *sm;		/* NULL: empty */
	const uint8_t *map;	/* sm's (NULL: empty) */
	size_t len;
	uint32_t count;
	const uint8_t *index;	/* count offsets in name order, then count in domain order */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
};

static uint64_t get64(const uint8_t *p)
{
	return mn_getn(p, 8);
}

static void put64(uint8_t *p, uint64_t v)
{
	mn_put32(p, (uint32_t)(v >> 32));
	mn_put32(p + 4, (uint32_t)v);
}

/*
 * A checksum against damage (not against an adversary: the file is the
 * server's own, 0640): four lanes of a multiply-xorshift mix over 32 bytes a
 * step, each lane its own 8 (independent: about four times mn_hash64's speed
 * over every byte of the store at a start).
 */
static uint64_t check(const uint8_t *p, size_t n)
{
	uint64_t h[4] = { 0x6d61696c6e73ULL ^ n, 0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL };
	size_t len = n;
	for (; len >= 32; p += 32, len -= 32) {
		for (int k = 0; k < 4; k++) {
			uint64_t w;
			memcpy(&w, p + 8 * k, 8);
			h[k] = (h[k] ^ w) * 0x9e3779b97f4a7c15ULL;
			h[k] ^= h[k] >> 29;
		}
	}
	uint64_t r = mn_hash64(h[0], p, len);	/* (the tail) */
	for (int k = 1; k < 4; k++) {
		r = (r ^ h[k]) * 0xff51afd7ed558ccdULL;
		r ^= r >> 33;
	}
	return r;
}

void sigstore_sum(const uint8_t *p, size_t n, uint8_t out[32])
{
	static const uint64_t seed[4] = { 0x6d61696c6e73ULL, 0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
					  0x165667b19e3779f9ULL };
	uint64_t h[4];
	for (int k = 0; k < 4; k++)
		h[k] = seed[k] ^ n;
	size_t len = n;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		for (int k = 0; k < 4; k++) {
			h[k] = (h[k] ^ w) * (0x9e3779b97f4a7c15ULL + 2 * (uint64_t)k);
			h[k] ^= h[k] >> (29 + k);
		}
	}
	uint64_t w = 0;
	memcpy(&w, p, len);
	for (int k = 0; k < 4; k++) {
		h[k] = (h[k] ^ w ^ len) * 0x9e3779b97f4a7c15ULL;
		h[k] ^= h[k] >> 31;
		h[k] = (h[k] ^ h[(k + 1) % 4]) * 0xff51afd7ed558ccdULL;
		h[k] ^= h[k] >> 33;
		put64(out + 8 * k, h[k]);
	}
}

size_t sigstore_count(const sigstore_t *s)
{
	return s != NULL ? s->count : 0;
}

void sigstore_free(sigstore_t *s)
{
	if (s == NULL)
		return;
	if (s->sm != NULL)
		zone_backing_unref(&s->sm->b);	/* (unmapped when no zone is served from it either) */
	free(s);
}

/* Is the mapping's header whole and its index in bounds and intact? */
static bool header_ok(const uint8_t *m, size_t len, uint32_t *count, const uint8_t **index)
{
	if (len < HDR || memcmp(m, MAGIC, 8) != 0 || get64(m + 16) != len)
		return false;
	uint32_t n = mn_get32(m + 8);
	uint64_t io = get64(m + 24);
	if (io < HDR || io > len || (len - io) / 16 < n || (len - io) != (uint64_t)n * 16 ||
	    check(m + io, (size_t)n * 16) != get64(m + 32))
		return false;
	*count = n;
	*index = m + io;
	return true;
}

int sigstore_open(const char *state_dir, sigstore_t **out)
{
	sigstore_t *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MN_ENOMEM;
	*out = s;
	if (state_dir == NULL)
		return MN_OK;
	int dfd = mn_dir_open(state_dir, "dnssec", 0750, false);
	if (dfd < 0)
		return MN_OK;
	int fd = openat(dfd, NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return MN_OK;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= HDR) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		smap_t *sm = m != MAP_FAILED ? malloc(sizeof(*sm)) : NULL;
		if (m != MAP_FAILED && sm == NULL) {
			munmap(m, (size_t)st.st_size);
			close(fd);
			return MN_ENOMEM;
		}
		if (m != MAP_FAILED) {
			*sm = (smap_t){ .b = { .refs = 1, .release = smap_release }, .p = m, .len = (size_t)st.st_size };
			if (header_ok(m, (size_t)st.st_size, &s->count, &s->index)) {
				s->sm = sm;
				s->map = m;
				s->len = (size_t)st.st_size;
				s->dev = st.st_dev;
				s->ino = st.st_ino;
				s->mtime = st.st_mtim;
			} else {
				zone_backing_unref(&sm->b);
			}
		}
	}
	close(fd);
	return MN_OK;
}

bool sigstore_same_file(const sigstore_t *s, const char *state_dir)
{
	if (state_dir == NULL)
		return s->map == NULL;
	int dfd = mn_dir_open(state_dir, "dnssec", 0750, false);
	struct stat st;
	bool there = dfd >= 0 && fstatat(dfd, NAME, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (dfd >= 0)
		close(dfd);
	if (!there)
		return s->map == NULL;
	return s->map != NULL && st.st_dev == s->dev && st.st_ino == s->ino && (size_t)st.st_size == s->len &&
	       st.st_mtim.tv_sec == s->mtime.tv_sec && st.st_mtim.tv_nsec == s->mtime.tv_nsec;
}

/* The entry at position i of the name index (of the domain index: +count), in bounds, or NULL. */
static const uint8_t *entry_at(const sigstore_t *s, size_t i, uint32_t *elen)
{
	uint64_t o = get64(s->index + i * 8);
	if (o < HDR || o + EHDR > (uint64_t)(s->index - s->map))
		return NULL;
	const uint8_t *e = s->map + o;
	uint32_t n = mn_get32(e);
	if (n < EHDR || n > (uint64_t)(s->index - s->map) - o)
		return NULL;
	if ((size_t)EHDR + e[185] + e[186] > n)
		return NULL;
	*elen = n;
	return e;
}

/* The entry's name (dom: its domain) against name[0..nl). */
static int name_cmp(const uint8_t *e, bool dom, const char *name, size_t nl)
{
	size_t el = e[185 + dom];
	int c = memcmp(e + EHDR + (dom ? e[185] : 0), name, el < nl ? el : nl);
	return c != 0 ? c : el < nl ? -1 : el > nl ? 1 : 0;
}

/* e's meta, signed digest and serial when its checksum holds. */
static bool entry_read(const uint8_t *e, uint32_t elen, sigstore_meta_t *m, uint8_t signed_digest[32],
		       uint32_t *serial)
{
	if (check(e + 16, elen - 16u) != get64(e + 8))
		return false;	/* damaged: signed from its signatures */
	memcpy(m->unsigned_digest, e + 16, 32);
	memcpy(signed_digest, e + 48, 32);
	for (int k = 0; k < 8; k++)
		m->keystate[k] = (int64_t)get64(e + 80 + 8 * k);
	m->since = (int64_t)get64(e + 144);
	m->refresh_at = (int64_t)get64(e + 152);
	m->validity = mn_get32(e + 160);
	m->refresh = mn_get32(e + 164);
	*serial = mn_get32(e + 168);
	m->alg = e[182];
	m->shape = e[183];
	m->mismatch = e[184] != 0;
	m->nzones = e[187];
	memcpy(m->inputs, e + 188, 32);
	m->inputs_until = (int64_t)get64(e + 220);
	return true;
}

int sigstore_find(const sigstore_t *s, const char *name, const uint8_t **ent, sigstore_meta_t *m,
		  uint8_t signed_digest[32], uint32_t *serial)
{
	if (s == NULL || s->map == NULL || name == NULL)
		return MN_ENOENT;
	size_t nl = strlen(name), lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t elen = 0;
		const uint8_t *e = entry_at(s, (uint32_t)mid, &elen);
		if (e == NULL)
			return MN_ENOENT;
		int c = name_cmp(e, false, name, nl);
		if (c < 0) {
			lo = mid + 1;
			continue;
		}
		if (c > 0) {
			hi = mid;
			continue;
		}
		if (!entry_read(e, elen, m, signed_digest, serial))
			return MN_ENOENT;
		*ent = e;
		return MN_OK;
	}
	return MN_ENOENT;
}

int sigstore_domain(const sigstore_t *s, const char *domain, sigstore_ent_t *v, size_t max, size_t *n)
{
	*n = 0;
	if (s == NULL || s->map == NULL || domain == NULL)
		return MN_ENOENT;
	size_t dl = strlen(domain), lo = 0, hi = s->count;
	while (lo < hi) {	/* the first entry of the domain */
		size_t mid = lo + (hi - lo) / 2;
		uint32_t elen = 0;
		const uint8_t *e = entry_at(s, s->count + mid, &elen);
		if (e == NULL)
			return MN_ENOENT;
		if (name_cmp(e, true, domain, dl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t k = 0;
	for (; lo < s->count; lo++) {
		uint32_t elen = 0;
		const uint8_t *e = entry_at(s, s->count + lo, &elen);
		if (e == NULL || name_cmp(e, true, domain, dl) != 0)
			break;
		if (k == max || !entry_read(e, elen, &v[k].m, v[k].signed_digest, &v[k].serial))
			return MN_ENOENT;
		memcpy(v[k].name, e + EHDR, e[185]);
		v[k].name[e[185]] = '\0';
		v[k++].ent = e;
	}
	if (k == 0)
		return MN_ENOENT;
	*n = k;
	return MN_OK;
}

int sigstore_zone(const sigstore_t *s, const uint8_t *e, zone_t **out)
{
	uint32_t elen = mn_get32(e), nrrs = mn_get32(e + 176), ro = mn_get32(e + 172);
	char name[256], domain[256];
	memcpy(name, e + EHDR, e[185]);
	name[e[185]] = '\0';
	memcpy(domain, e + EHDR + e[185], e[186]);
	domain[e[186]] = '\0';
	uint16_t kind = mn_get16(e + 180);
	size_t o = (size_t)EHDR + e[185] + e[186], r = ro;
	if (s == NULL || s->sm == NULL || nrrs == 0 || kind >= ZONE_KINDS || nrrs > elen / RRHDR || ro < o ||
	    ro > elen)
		return MN_EINVAL;
	zone_rr_t *v = malloc(nrrs * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	int rc = MN_OK;
	for (uint32_t i = 0; i < nrrs; i++) {
		zone_rr_t *rr = &v[i];
		if (o >= ro || (e[o] == 0 && i == 0) || (e[o] != 0 && ro - o < 1u + e[o]) || elen - r < RRHDR) {
			rc = MN_EINVAL;
			break;
		}
		if (e[o] == 0) {	/* the previous record's */
			rr->owner = v[i - 1].owner;
			rr->owner_len = v[i - 1].owner_len;
			o++;
		} else {
			rr->owner = (uint8_t *)(uintptr_t)(e + o + 1);	/* read only: zone_finish_backed */
			rr->owner_len = e[o];
			o += 1u + e[o];
		}
		/* (the answer-form header: zone_finish_backed checks its first bytes) */
		rr->type = mn_get16(e + r + 2);
		rr->ttl = mn_get32(e + r + 6);
		rr->rdlen = mn_get16(e + r + 10);
		r += RRHDR;
		if (elen - r < rr->rdlen) {
			rc = MN_EINVAL;
			break;
		}
		rr->rdata = (uint8_t *)(uintptr_t)(e + r);
		r += rr->rdlen;
	}
	if (rc == MN_OK && (o != ro || r != elen))
		rc = MN_EINVAL;
	zone_t *z = NULL;
	if (rc == MN_OK)
		rc = zone_new(name, (zone_kind_t)kind, domain, &z);
	if (rc == MN_OK)
		rc = zone_finish_backed(z, v, nrrs, e + 48, &s->sm->b);
	free(v);
	if (rc != MN_OK) {
		zone_unref(z);
		return rc == MN_ENOMEM ? rc : MN_EINVAL;
	}
	z->signed_serial = mn_get32(e + 168);
	*out = z;
	return MN_OK;
}

/* ---- writing ----------------------------------------------------------------- */

typedef struct out {
	int fd;
	uint8_t *buf;
	size_t n, cap;
	uint64_t off;		/* bytes written before buf */
	int err;
} out_t;

static void out_flush(out_t *w)
{
	if (w->err == MN_OK && w->n > 0)
		w->err = mn_write_all(w->fd, w->buf, w->n);
	w->off += w->n;
	w->n = 0;
}

/* Room for n bytes at the buffer's end (grown for one big entry). */
static uint8_t *out_room(out_t *w, size_t n)
{
	if (w->cap - w->n < n)
		out_flush(w);
	if (w->cap < n) {
		uint8_t *b = realloc(w->buf, n);
		if (b == NULL) {
			w->err = MN_ENOMEM;
			return NULL;
		}
		w->buf = b;
		w->cap = n;
	}
	return w->buf + w->n;
}

/* Does z's record i have the owner of record i - 1? */
static bool owner_again(const zone_t *z, size_t i)
{
	const zone_rr_t *a = &z->rrs[i], *b = &z->rrs[i - (i > 0)];
	return i > 0 && a->owner_len == b->owner_len && memcmp(a->owner, b->owner, a->owner_len) == 0;
}

/* z's entry's length; *ro the offset of its records in it. */
static size_t entry_len(const zone_t *z, size_t *ro)
{
	size_t n = (size_t)EHDR + strlen(z->name) + strlen(z->domain);
	for (size_t i = 0; i < z->nrrs; i++)
		n += 1u + (owner_again(z, i) ? 0 : z->rrs[i].owner_len);
	*ro = n;
	for (size_t i = 0; i < z->nrrs; i++)
		n += RRHDR + (size_t)z->rrs[i].rdlen;
	return n;
}

static void entry_put(uint8_t *e, size_t len, size_t ro, const zone_t *z, const sigstore_meta_t *m)
{
	memset(e, 0, EHDR);
	mn_put32(e, (uint32_t)len);
	memcpy(e + 16, m->unsigned_digest, 32);
	memcpy(e + 48, z->digest, 32);
	for (int k = 0; k < 8; k++)
		put64(e + 80 + 8 * k, (uint64_t)m->keystate[k]);
	put64(e + 144, (uint64_t)m->since);
	put64(e + 152, (uint64_t)m->refresh_at);
	mn_put32(e + 160, m->validity);
	mn_put32(e + 164, m->refresh);
	mn_put32(e + 168, z->signed_serial);
	mn_put32(e + 172, (uint32_t)ro);
	mn_put32(e + 176, (uint32_t)z->nrrs);
	mn_put16(e + 180, (uint16_t)z->kind);
	e[182] = m->alg;
	e[183] = m->shape;
	e[184] = m->mismatch;
	size_t nl = strlen(z->name), dl = strlen(z->domain);
	e[185] = (uint8_t)nl;
	e[186] = (uint8_t)dl;
	e[187] = m->nzones;
	memcpy(e + 188, m->inputs, 32);
	put64(e + 220, (uint64_t)m->inputs_until);
	memcpy(e + EHDR, z->name, nl);
	memcpy(e + EHDR + nl, z->domain, dl);
	size_t o = EHDR + nl + dl, r = ro;
	for (size_t i = 0; i < z->nrrs; i++) {
		const zone_rr_t *rr = &z->rrs[i];
		if (owner_again(z, i)) {
			e[o++] = 0;
		} else {
			e[o] = (uint8_t)rr->owner_len;
			memcpy(e + o + 1, rr->owner, rr->owner_len);
			o += 1u + rr->owner_len;
		}
		e[r] = 0xc0;
		e[r + 1] = 12;
		mn_put16(e + r + 2, rr->type);
		mn_put16(e + r + 4, 1);	/* IN */
		mn_put32(e + r + 6, rr->ttl);
		mn_put16(e + r + 10, rr->rdlen);
		memcpy(e + r + RRHDR, rr->rdata, rr->rdlen);
		r += RRHDR + (size_t)rr->rdlen;
	}
	put64(e + 8, check(e + 16, len - 16));
}

typedef struct byname {
	const zone_t *z;
	size_t i;
	uint64_t off;		/* its entry's, once written */
} byname_t;

static int byname_cmp(const void *a, const void *b)
{
	return strcmp(((const byname_t *)a)->z->name, ((const byname_t *)b)->z->name);
}

static int bydomain_cmp(const void *a, const void *b)
{
	const zone_t *x = (*(const byname_t *const *)a)->z, *y = (*(const byname_t *const *)b)->z;
	int c = strcmp(x->domain, y->domain);
	return c != 0 ? c : strcmp(x->name, y->name);
}

int sigstore_write(const char *state_dir, const zone_t *const *zones, const sigstore_meta_t *metas, size_t n)
{
	if (state_dir == NULL || (n > 0 && (zones == NULL || metas == NULL)) || n > UINT32_MAX)
		return MN_EINVAL;
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s.tmp", NAME);
	byname_t *v = malloc((n ? n : 1) * sizeof(*v));
	byname_t **dv = malloc((n ? n : 1) * sizeof(*dv));
	uint8_t *index = malloc((n ? n : 1) * 16);
	out_t w = { .fd = -1, .cap = 1 << 20 };
	w.buf = malloc(w.cap);
	int dfd = -1, r = MN_OK;
	if (v == NULL || dv == NULL || index == NULL || w.buf == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (byname_t){ zones[i], i, 0 };
	qsort(v, n, sizeof(*v), byname_cmp);
	if ((dfd = mn_dir_open(state_dir, "dnssec", 0750, false)) < 0) {
		r = dfd;
		goto out;
	}
	/*
	 * One name for the new file: another writer's (mailnsd and `mailns zone`)
	 * is left alone; one older than STALE_S was left by a writer that died
	 * (no file of hundreds of MB accumulates per crash): removed.
	 */
	for (int tries = 0; w.fd < 0; tries++) {
		w.fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
		if (w.fd >= 0)
			break;
		struct stat ts;
		if (errno != EEXIST || tries > 0 || fstatat(dfd, tmp, &ts, AT_SYMLINK_NOFOLLOW) != 0 ||
		    time(NULL) - ts.st_mtim.tv_sec < STALE_S || unlinkat(dfd, tmp, 0) != 0) {
			r = errno == EEXIST ? -EEXIST : -errno;
			goto out;
		}
	}
	memset(w.buf, 0, HDR);	/* the header last, over these */
	w.n = HDR;
	uint32_t count = 0;
	for (size_t k = 0; k < n && w.err == MN_OK; k++) {
		const zone_t *z = v[k].z;
		if (k > 0 && strcmp(v[k - 1].z->name, z->name) == 0)
			continue;
		size_t ro = 0, len = entry_len(z, &ro);
		if (len > UINT32_MAX || strlen(z->name) > 255 || strlen(z->domain) > 255 || z->nrrs == 0 ||
		    z->rrs[0].owner_len == 0)
			continue;
		uint8_t *e = out_room(&w, len);
		if (e == NULL)
			break;
		v[k].off = w.off + w.n;
		put64(index + (size_t)count * 8, v[k].off);
		dv[count++] = &v[k];
		entry_put(e, len, ro, z, &metas[v[k].i]);
		w.n += len;
	}
	qsort(dv, count, sizeof(*dv), bydomain_cmp);
	for (size_t k = 0; k < count; k++)
		put64(index + ((size_t)count + k) * 8, dv[k]->off);
	uint64_t io = w.off + w.n;
	uint8_t *ix = out_room(&w, (size_t)count * 16);
	if (ix != NULL) {
		memcpy(ix, index, (size_t)count * 16);
		w.n += (size_t)count * 16;
	}
	out_flush(&w);
	if ((r = w.err) != MN_OK)
		goto out;
	uint8_t hdr[HDR] = { 0 };
	memcpy(hdr, MAGIC, 8);
	mn_put32(hdr + 8, count);
	put64(hdr + 16, w.off);
	put64(hdr + 24, io);
	put64(hdr + 32, check(index, (size_t)count * 16));
	if (pwrite(w.fd, hdr, HDR, 0) != HDR || fsync(w.fd) != 0) {
		r = errno != 0 ? -errno : MN_ESTATE;
		goto out;
	}
	/* owned like the directory (root writing the server's state) */
	struct stat ds;
	if (geteuid() == 0 && fstat(dfd, &ds) == 0 && fchown(w.fd, ds.st_uid, ds.st_gid) != 0) {
		r = -errno;
		goto out;
	}
	if (renameat(dfd, tmp, dfd, NAME) != 0) {
		r = -errno;
		goto out;
	}
	if (fsync(dfd) != 0)
		r = -errno;
out:
	if (w.fd >= 0) {
		close(w.fd);
		if (r != MN_OK)
			unlinkat(dfd, tmp, 0);	/* (ours: opened above) */
	}
	if (dfd >= 0)
		close(dfd);
	free(w.buf);
	free(index);
	free(dv);
	free(v);
	return r;
}
