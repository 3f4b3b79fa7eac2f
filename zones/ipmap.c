/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ipmap.c -- address intervals: ranges of IPv4/IPv6 space, their CIDR blocks, piecewise-constant maps over them */
#include "zones/ipmap.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

enum { VMAX = 32 };	/* the largest value size ipmap_combine() handles */

static ipmap_addr_t low_mask(unsigned bits)
{
	return bits >= 128 ? ~(ipmap_addr_t)0 : ((ipmap_addr_t)1 << bits) - 1;
}

static unsigned fam_width(int family)
{
	return family == 4 ? 32 : 128;
}

ipmap_addr_t ipmap_max(int family)
{
	return low_mask(fam_width(family));
}

ipmap_range_t ipmap_net_range(const mn_net_t *n)
{
	unsigned width = fam_width(n->family), bytes = width / 8;
	ipmap_addr_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | n->addr[i];
	ipmap_addr_t host = low_mask(n->prefix >= width ? 0 : width - n->prefix);
	return (ipmap_range_t){ v & ~host, (v & ~host) | host };
}

void ipmap_addr_format(int family, ipmap_addr_t a, char *buf, size_t size)
{
	uint8_t b[16];
	unsigned bytes = fam_width(family) / 8;
	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(a >> (8 * (bytes - 1 - i)));
	if (inet_ntop(family == 4 ? AF_INET : AF_INET6, b, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
}

static int range_cmp(const void *x, const void *y)
{
	const ipmap_range_t *a = x, *b = y;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return 0;
}

size_t ipmap_ranges_merge(ipmap_range_t *r, size_t n, int family)
{
	if (n == 0)
		return 0;
	ipmap_addr_t max = ipmap_max(family);
	if (n <= 32) {
		/* a domain's few networks (every domain's at each compile): insertion
		 * sort, no qsort call; equal ranges are alike, so the order is qsort's */
		for (size_t i = 1; i < n; i++) {
			ipmap_range_t x = r[i];
			size_t j = i;
			for (; j > 0 && range_cmp(&r[j - 1], &x) > 0; j--)
				r[j] = r[j - 1];
			r[j] = x;
		}
	} else {
		qsort(r, n, sizeof(*r), range_cmp);
	}
	size_t m = 0;
	for (size_t i = 1; i < n; i++) {
		if (r[i].lo <= r[m].hi || (r[m].hi != max && r[i].lo == r[m].hi + 1)) {
			if (r[i].hi > r[m].hi)
				r[m].hi = r[i].hi;
		} else {
			r[++m] = r[i];
		}
	}
	return m + 1;
}

static unsigned ctz128(ipmap_addr_t v, unsigned width)
{
	uint64_t lo = (uint64_t)v, hi = (uint64_t)(v >> 64);
	unsigned n = lo != 0 ? (unsigned)__builtin_ctzll(lo) : hi != 0 ? 64 + (unsigned)__builtin_ctzll(hi) : 128;
	return n < width ? n : width;
}

/* floor(log2(v)), v > 0 */
static unsigned log2_128(ipmap_addr_t v)
{
	uint64_t hi = (uint64_t)(v >> 64);
	if (hi != 0)
		return 127 - (unsigned)__builtin_clzll(hi);
	return 63 - (unsigned)__builtin_clzll((uint64_t)v);
}

/* The largest block 2^k that starts at lo (aligned) and ends at or before hi. */
static unsigned block_bits(ipmap_addr_t lo, ipmap_addr_t hi, unsigned width, ipmap_addr_t max)
{
	ipmap_addr_t d = hi - lo;
	unsigned size = d == max ? width : log2_128(d + 1);
	unsigned align = ctz128(lo, width);
	return size < align ? size : align;
}

int ipmap_range_nets(ipmap_range_t r, int family, mn_net_t **v, size_t *n, size_t *cap)
{
	unsigned width = fam_width(family), bytes = width / 8;
	ipmap_addr_t max = low_mask(width), lo = r.lo;
	for (;;) {
		unsigned k = block_bits(lo, r.hi, width, max);
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 8;
			mn_net_t *nv = realloc(*v, c * sizeof(*nv));
			if (nv == NULL)
				return MN_ENOMEM;
			*v = nv;
			*cap = c;
		}
		mn_net_t *o = &(*v)[(*n)++];
		memset(o, 0, sizeof(*o));
		o->family = (uint8_t)family;
		o->prefix = (uint8_t)(width - k);
		for (unsigned b = 0; b < bytes; b++)
			o->addr[b] = (uint8_t)(lo >> (8 * (bytes - 1 - b)));
		if (r.hi - lo == low_mask(k))
			return MN_OK;
		lo += low_mask(k) + 1;
	}
}

/* ---- piecewise-constant maps ------------------------------------------------------ */

void ipmap_free(ipmap_t *m)
{
	free(m->s);
	free(m->v);
	m->s = NULL;
	m->v = NULL;
	m->n = m->cap = 0;
}

int ipmap_push(ipmap_t *m, ipmap_addr_t s, const void *v)
{
	if (m->n > 0 && m->s[m->n - 1] == s)
		m->n--;	/* the same start: the new value replaces the last */
	if (m->n > 0 && memcmp(ipmap_val(m, m->n - 1), v, m->vsize) == 0)
		return MN_OK;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		ipmap_addr_t *ns = realloc(m->s, cap * sizeof(*ns));
		if (ns == NULL)
			return MN_ENOMEM;
		m->s = ns;
		unsigned char *nv = realloc(m->v, cap * m->vsize);
		if (nv == NULL)
			return MN_ENOMEM;
		m->v = nv;
		m->cap = cap;
	}
	m->s[m->n] = s;
	memcpy(ipmap_val(m, m->n), v, m->vsize);
	m->n++;
	return MN_OK;
}

int ipmap_const(ipmap_t *m, const void *v, size_t vsize)
{
	*m = (ipmap_t){ .vsize = vsize };
	return ipmap_push(m, 0, v);
}

int ipmap_copy(const ipmap_t *a, ipmap_t *out)
{
	ipmap_t m = { .vsize = a->vsize };
	if (a->n > 0) {
		m.s = malloc(a->n * sizeof(*m.s));
		m.v = malloc(a->n * a->vsize);
		if (m.s == NULL || m.v == NULL) {
			ipmap_free(&m);
			return MN_ENOMEM;
		}
		memcpy(m.s, a->s, a->n * sizeof(*m.s));
		memcpy(m.v, a->v, a->n * a->vsize);
		m.n = m.cap = a->n;
	}
	*out = m;
	return MN_OK;
}

int ipmap_of_ranges(ipmap_range_t *r, size_t n, int family, const void *in, const void *out, size_t vsize,
		    ipmap_t *m)
{
	*m = (ipmap_t){ .vsize = vsize };
	n = ipmap_ranges_merge(r, n, family);
	ipmap_addr_t max = ipmap_max(family);
	int rc = MN_OK;
	if (n == 0 || r[0].lo > 0)
		rc = ipmap_push(m, 0, out);
	for (size_t i = 0; rc == MN_OK && i < n; i++) {
		rc = ipmap_push(m, r[i].lo, in);
		if (rc == MN_OK && r[i].hi < max)
			rc = ipmap_push(m, r[i].hi + 1, out);
	}
	if (rc != MN_OK)
		ipmap_free(m);
	return rc;
}

size_t ipmap_find(const ipmap_t *m, ipmap_addr_t a)
{
	size_t lo = 0, hi = m->n;	/* the last start <= a: s[lo] <= a < s[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->s[mid] <= a)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int ipmap_combine(const ipmap_t *a, const ipmap_t *b, ipmap_comb_fn f, const void *arg, ipmap_t *out)
{
	assert(a->vsize == b->vsize && a->vsize <= VMAX);
	ipmap_t m = { .vsize = a->vsize };
	_Alignas(max_align_t) unsigned char val[VMAX];
	size_t i = 0, j = 0;
	while (i < a->n && j < b->n) {
		ipmap_addr_t s = a->s[i] > b->s[j] ? a->s[i] : b->s[j];
		memset(val, 0, m.vsize);
		f(val, ipmap_val(a, i), ipmap_val(b, j), arg);
		if (ipmap_push(&m, s, val) != MN_OK) {
			ipmap_free(&m);
			return MN_ENOMEM;
		}
		bool ai = i + 1 < a->n, bj = j + 1 < b->n;
		if (!ai && !bj)
			break;
		if (ai && (!bj || a->s[i + 1] <= b->s[j + 1])) {
			if (bj && a->s[i + 1] == b->s[j + 1])
				j++;
			i++;
		} else {
			j++;
		}
	}
	*out = m;
	return MN_OK;
}

int ipmap_apply(ipmap_t *a, const ipmap_t *b, ipmap_comb_fn f, const void *arg)
{
	ipmap_t m;
	int r = ipmap_combine(a, b, f, arg, &m);
	if (r != MN_OK)
		return r;
	ipmap_free(a);
	*a = m;
	return MN_OK;
}
