/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ipmap.h -- address intervals: ranges of IPv4/IPv6 space, their CIDR blocks, piecewise-constant maps over them */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/mn.h"

/*
 * An address as a number: IPv4 in [0, 2^32), IPv6 in [0, 2^128).  family is
 * 4 or 6 throughout (mn_net_t's).  Nothing here does DNS or parses text.
 */
typedef unsigned __int128 ipmap_addr_t;

typedef struct ipmap_range {
	ipmap_addr_t lo, hi;		/* inclusive */
} ipmap_range_t;

/* The last address of the family: 2^32 - 1 or 2^128 - 1. */
ipmap_addr_t ipmap_max(int family);
/* The addresses of a network (host bits ignored). */
ipmap_range_t ipmap_net_range(const mn_net_t *n);
/* An address as text ("192.0.2.1", "2001:db8::1"); "?" when it cannot be formatted. */
void ipmap_addr_format(int family, ipmap_addr_t a, char *buf, size_t size);

/*
 * Sorts r and joins overlapping and adjacent ranges in place: r[0..return)
 * are disjoint, not adjacent, ascending.
 */
size_t ipmap_ranges_merge(ipmap_range_t *r, size_t n, int family);

/*
 * Appends to *v (*n used, *cap allocated; all 0/NULL to start) the fewest
 * CIDR blocks covering exactly [r.lo, r.hi], ascending.  MN_OK or MN_ENOMEM
 * (*v then still holds the blocks appended before, for the caller to free).
 */
int ipmap_range_nets(ipmap_range_t r, int family, mn_net_t **v, size_t *n, size_t *cap);

/*
 * A piecewise-constant function over a family's addresses: value v[i]
 * (vsize bytes, compared with memcmp: no padding bytes in a value) from s[i]
 * up to s[i + 1] - 1; s[0] = 0.  Canonical: adjacent pieces differ, so two
 * maps of the same function are equal piece by piece.  Owned by its holder:
 * ipmap_free().  Out-maps are written whole (any old content is not freed).
 */
typedef struct ipmap {
	ipmap_addr_t *s;
	unsigned char *v;
	size_t n, cap;
	size_t vsize;
} ipmap_t;

void ipmap_free(ipmap_t *m);		/* frees the pieces, leaves an empty map */
/* Value i of the map. */
static inline void *ipmap_val(const ipmap_t *m, size_t i)
{
	return m->v + i * m->vsize;
}
/* Appends a piece starting at s (>= the last start; the same start replaces the last value). */
int ipmap_push(ipmap_t *m, ipmap_addr_t s, const void *v);
/* *m = the constant v everywhere. */
int ipmap_const(ipmap_t *m, const void *v, size_t vsize);
int ipmap_copy(const ipmap_t *a, ipmap_t *out);
/* *m = in on the ranges r (any order, may overlap), out elsewhere; r is sorted in place. */
int ipmap_of_ranges(ipmap_range_t *r, size_t n, int family, const void *in, const void *out, size_t vsize,
		    ipmap_t *m);
/* The index of the piece holding address a. */
size_t ipmap_find(const ipmap_t *m, ipmap_addr_t a);

/* Writes f(a, b) into out (vsize bytes, zero-filled before the call). */
typedef void (*ipmap_comb_fn)(void *out, const void *a, const void *b, const void *arg);
/* *out = f(a, b) pointwise (a and b have the same vsize; out gets it too). */
int ipmap_combine(const ipmap_t *a, const ipmap_t *b, ipmap_comb_fn f, const void *arg, ipmap_t *out);
/* *a = f(*a, b) pointwise. */
int ipmap_apply(ipmap_t *a, const ipmap_t *b, ipmap_comb_fn f, const void *arg);
