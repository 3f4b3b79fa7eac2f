/* SPDX-License-Identifier: GPL-3.0-or-later */
/* journal.c -- IXFR journal: per-zone differences between zone sets, kept in state_dir/journal */
#include "server/xfr.h"
#include "policy/wire.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * state_dir/journal/APEX.jnl: "MNJ1", then entries oldest first, each
 * len(4) followed by len bytes as xfr_diff() writes them:
 *   from(4) to(4) ndel(4) nadd(4), ndel records then nadd records, each
 *   owner_len(1) owner type(2) ttl(4) rdlen(2) rdata.
 * The deleted records start with the old SOA, the added ones with the new.
 * Files are replaced whole (mn_file_replace_at: a new file of a unique name,
 * renamed; no fsync: a journal lost in a crash is a journal miss), in the
 * directory entered without following a link; a damaged file is only a journal
 * miss: the transfer falls back to AXFR.
 */
static const char MAGIC[4] = { 'M', 'N', 'J', '1' };

static int rr_cmp(const void *x, const void *y)
{
	const zone_rr_t *a = *(const zone_rr_t *const *)x, *b = *(const zone_rr_t *const *)y;
	if (a->owner_len != b->owner_len)
		return a->owner_len < b->owner_len ? -1 : 1;
	int c = memcmp(a->owner, b->owner, a->owner_len);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->ttl != b->ttl)
		return a->ttl < b->ttl ? -1 : 1;
	if (a->rdlen != b->rdlen)
		return a->rdlen < b->rdlen ? -1 : 1;
	return memcmp(a->rdata, b->rdata, a->rdlen);
}

/* The records of z but the SOA, sorted by rr_cmp. */
static const zone_rr_t **sorted(const zone_t *z, size_t *n)
{
	const zone_rr_t **v = malloc((zone_nrrs(z) ? zone_nrrs(z) : 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t k = 0;
	zone_iter_t it;
	zone_iter_init(&it, z);
	for (const zone_rr_t *rr; (rr = zone_iter_next(&it)) != NULL;)
		if (rr->type != ZONE_T_SOA)
			v[k++] = rr;
	qsort(v, k, sizeof(*v), rr_cmp);
	*n = k;
	return v;
}

typedef struct buf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
} buf_t;

static uint8_t *buf_room(buf_t *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = true;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	uint8_t *p = b->p + b->len;
	b->len += n;
	return p;
}

static void rr_write(buf_t *b, const zone_rr_t *rr)
{
	uint8_t *p = buf_room(b, 1u + rr->owner_len + 8u + rr->rdlen);
	if (p == NULL)
		return;
	p[0] = (uint8_t)rr->owner_len;
	memcpy(p + 1, rr->owner, rr->owner_len);
	p += 1 + rr->owner_len;
	mn_put16(p, rr->type);
	mn_put32(p + 2, rr->ttl);
	mn_put16(p + 6, rr->rdlen);
	memcpy(p + 8, rr->rdata, rr->rdlen);
}

int xfr_diff(const zone_t *old, const zone_t *cur, uint8_t **out, size_t *len)
{
	if (old == NULL || cur == NULL || out == NULL || len == NULL || zone_nrrs(old) == 0 ||
	    zone_nrrs(cur) == 0 || zone_rr(old, 0)->type != ZONE_T_SOA || zone_rr(cur, 0)->type != ZONE_T_SOA)
		return MN_EINVAL;
	size_t na = 0, nb = 0;
	const zone_rr_t **a = sorted(old, &na), **b = sorted(cur, &nb);
	buf_t w = { 0 };
	int r = MN_ENOMEM;
	if (a == NULL || b == NULL)
		goto fail;
	uint8_t *h = buf_room(&w, 16);
	if (h == NULL)
		goto fail;
	uint32_t ndel = 1, nadd = 1;
	rr_write(&w, zone_rr(old, 0));
	for (size_t i = 0, j = 0; i < na;) {	/* in old, not in cur */
		int c = j < nb ? rr_cmp(&a[i], &b[j]) : -1;
		if (c < 0) {
			rr_write(&w, a[i++]);
			ndel++;
		} else if (c == 0) {
			i++;
			j++;
		} else {
			j++;
		}
	}
	rr_write(&w, zone_rr(cur, 0));
	for (size_t i = 0, j = 0; j < nb;) {	/* in cur, not in old */
		int c = i < na ? rr_cmp(&a[i], &b[j]) : 1;
		if (c > 0) {
			rr_write(&w, b[j++]);
			nadd++;
		} else if (c == 0) {
			i++;
			j++;
		} else {
			i++;
		}
	}
	if (w.failed)
		goto fail;
	mn_put32(w.p, zone_serial(old));
	mn_put32(w.p + 4, zone_serial(cur));
	mn_put32(w.p + 8, ndel);
	mn_put32(w.p + 12, nadd);
	free(a);
	free(b);
	*out = w.p;
	*len = w.len;
	return MN_OK;
fail:
	free(a);
	free(b);
	free(w.p);
	return r;
}

typedef struct entry {
	const uint8_t *p;
	size_t len;
} entry_t;

/* Splits a journal file into entries; false when it is damaged. */
static bool parse(const uint8_t *d, size_t len, entry_t *v, size_t max, size_t *n)
{
	*n = 0;
	if (len < 4 || memcmp(d, MAGIC, 4) != 0)
		return false;
	for (size_t o = 4; o < len;) {
		if (o + 4 > len || *n >= max)
			return false;
		size_t l = mn_get32(d + o);
		if (l < 16 || o + 4 + l > len)
			return false;
		v[*n].p = d + o + 4;
		v[*n].len = l;
		(*n)++;
		o += 4 + l;
	}
	return true;
}

static void journal_path(char *path, size_t size, const char *state_dir, const char *apex)
{
	snprintf(path, size, "%s/journal/%s.jnl", state_dir, apex);
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	char *d = NULL;
	int r = mn_file_read(path, &d, len);
	if (r < 0)
		return r;
	*out = (uint8_t *)d;
	return MN_OK;
}

/* Appends one diff to the zone's journal, dropping the oldest entries over the bounds. */
static int journal_append(const char *state_dir, int dirfd, const zone_t *cur, const uint8_t *diff,
			  size_t dlen, uint32_t old_serial)
{
	char path[4096], name[300];
	journal_path(path, sizeof(path), state_dir, zone_name(cur));
	snprintf(name, sizeof(name), "%s.jnl", zone_name(cur));
	uint8_t *d = NULL;
	size_t len = 0;
	entry_t v[XFR_JOURNAL_VERSIONS + 1];
	size_t n = 0;
	if (read_file(path, &d, &len) == MN_OK &&
	    (!parse(d, len, v, XFR_JOURNAL_VERSIONS + 1, &n) ||
	     (n > 0 && mn_get32(v[n - 1].p + 4) != old_serial)))
		n = 0;	/* damaged, or it does not lead to the old serial: start again */
	/* keep the newest entries that fit with the new one */
	size_t keep = n, total = 4 + 4 + dlen;
	if (keep > XFR_JOURNAL_VERSIONS - 1)
		keep = XFR_JOURNAL_VERSIONS - 1;
	size_t first = n - keep;
	for (size_t i = first; i < n; i++)
		total += 4 + v[i].len;
	while (first < n && total > XFR_JOURNAL_BYTES) {
		total -= 4 + v[first].len;
		first++;
	}
	int r;
	if (total > XFR_JOURNAL_BYTES) {
		/* the change alone is over the bound: no journal, a full transfer */
		free(d);
		r = unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : MN_OK;
		return r;
	}
	buf_t w = { 0 };
	uint8_t *p = buf_room(&w, 4);
	if (p != NULL)
		memcpy(p, MAGIC, 4);
	for (size_t i = first; i <= n; i++) {
		const uint8_t *e = i < n ? v[i].p : diff;
		size_t el = i < n ? v[i].len : dlen;
		p = buf_room(&w, 4 + el);
		if (p == NULL)
			break;
		mn_put32(p, (uint32_t)el);
		memcpy(p + 4, e, el);
	}
	free(d);
	if (w.failed)
		return MN_ENOMEM;
	r = mn_file_replace_at(dirfd, name, w.p, w.len, 0640, 0);
	free(w.p);
	return r;
}

int xfr_journal_update(const char *state_dir, const zones_t *old, const zones_t *cur)
{
	if (state_dir == NULL || old == NULL || cur == NULL)
		return MN_EINVAL;
	int dirfd = -1;
	int written = 0, err = MN_OK;
	zones_cursor_t oc = { .zs = old };
	for (size_t i = 0; i < cur->n; i++) {
		const zone_t *z = cur->v[i];
		const zone_t *o = zones_match(&oc, z);
		if (o == NULL || zone_serial(o) == zone_serial(z))
			continue;
		if (dirfd < 0 && (dirfd = mn_dir_open(state_dir, "journal", 0750, true)) < 0)
			return dirfd;
		uint8_t *diff = NULL;
		size_t dlen = 0;
		int r = xfr_diff(o, z, &diff, &dlen);
		if (r == MN_OK)
			r = journal_append(state_dir, dirfd, z, diff, dlen, zone_serial(o));
		free(diff);
		if (r < 0)
			err = r;
		else
			written++;
	}
	if (dirfd >= 0)
		close(dirfd);
	return err < 0 && written == 0 ? err : written;
}

int xfr_journal_chain(const char *state_dir, const zone_t *z, uint32_t from, uint8_t **out,
		      size_t *len)
{
	if (state_dir == NULL || z == NULL || out == NULL || len == NULL)
		return MN_EINVAL;
	char path[4096];
	journal_path(path, sizeof(path), state_dir, zone_name(z));
	uint8_t *d = NULL;
	size_t dlen = 0;
	entry_t v[XFR_JOURNAL_VERSIONS + 1];
	size_t n = 0;
	int r = read_file(path, &d, &dlen);
	if (r < 0)
		return MN_ENOENT;
	r = MN_ENOENT;
	if (!parse(d, dlen, v, XFR_JOURNAL_VERSIONS + 1, &n))
		goto done;
	size_t i = 0;
	while (i < n && mn_get32(v[i].p) != from)
		i++;
	size_t start = i;
	uint32_t at = from;
	for (; i < n && at != zone_serial(z); i++) {
		if (mn_get32(v[i].p) != at)
			goto done;	/* a gap */
		at = mn_get32(v[i].p + 4);
	}
	if (at != zone_serial(z) || start == n)
		goto done;	/* the journal does not reach the served serial (yet) */
	size_t total = 0;
	for (size_t k = start; k < i; k++)
		total += v[k].len;
	uint8_t *buf = malloc(total ? total : 1);
	if (buf == NULL) {
		r = MN_ENOMEM;
		goto done;
	}
	size_t o = 0;
	for (size_t k = start; k < i; k++) {
		memcpy(buf + o, v[k].p, v[k].len);
		o += v[k].len;
	}
	*out = buf;
	*len = total;
	r = MN_OK;
done:
	free(d);
	return r;
}
