/* SPDX-License-Identifier: GPL-3.0-or-later */
/* macro.c -- SPF macro mode: exists:%{ir}.%{v}._spf.D and the names of the allowed set */
#include "zones/macro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zones/records.h"

void macro_names_free(char **v, size_t n)
{
	rec_terms_free(v, n);
}

size_t macro_query_len(const char *root, int family)
{
	/* "255.255.255.255.in-addr." or 32 nibbles + "ip6." */
	return (family == 4 ? 16 + 8 : 64 + 4) + strlen(root);
}

/* Adds 1 << low_bit to a big-endian address of width bits (carrying upwards). */
static void addr_add_bit(uint8_t *addr, unsigned width, unsigned low_bit)
{
	unsigned acc = 1u << (low_bit % 8);
	for (int i = (int)(width / 8 - 1 - low_bit / 8); i >= 0 && acc != 0; i--) {
		acc += addr[i];
		addr[i] = (uint8_t)acc;
		acc >>= 8;
	}
}

static int name_of(const char *root, int family, const uint8_t *addr, unsigned bound, char **out)
{
	mn_buf_t b = { 0 };
	unsigned width = family == 4 ? 32 : 128;
	if (bound < width)
		mn_buf_add(&b, "*.");
	if (family == 4) {
		for (int i = (int)bound / 8 - 1; i >= 0; i--)
			mn_buf_addf(&b, "%u.", addr[i]);
		mn_buf_add(&b, "in-addr.");
	} else {
		for (int i = (int)bound / 4 - 1; i >= 0; i--) {
			unsigned nib = i % 2 == 0 ? addr[i / 2] >> 4 : addr[i / 2] & 15;
			mn_buf_addf(&b, "%x.", nib);
		}
		mn_buf_add(&b, "ip6.");
	}
	mn_buf_add(&b, root);
	char *s = mn_buf_take(&b);
	if (s == NULL)
		return MN_ENOMEM;
	uint8_t wire[256];
	if (strlen(s) > 253 || mn_name_to_wire(s, wire, sizeof(wire)) < 0) {
		free(s);
		return MN_ERANGE;
	}
	*out = s;
	return MN_OK;
}

int macro_net_names(const char *root, const mn_net_t *net, char ***out, size_t *nout)
{
	if (root == NULL || net == NULL || out == NULL || nout == NULL ||
	    (net->family != 4 && net->family != 6))
		return MN_EINVAL;
	unsigned width = net->family == 4 ? 32 : 128;
	unsigned step = net->family == 4 ? 8 : 4;
	if (net->prefix > width)
		return MN_EINVAL;
	unsigned bound = (net->prefix + step - 1) / step * step;
	size_t count = (size_t)1 << (bound - net->prefix);
	char **v = calloc(count, sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	uint8_t addr[16];
	memcpy(addr, net->addr, sizeof(addr));
	size_t i;
	int r = MN_OK;
	for (i = 0; i < count; i++) {
		r = name_of(root, net->family, addr, bound, &v[i]);
		if (r != MN_OK)
			break;
		if (bound > 0)
			addr_add_bit(addr, width, width - bound);
	}
	if (r != MN_OK) {
		macro_names_free(v, i);
		return r;
	}
	*out = v;
	*nout = count;
	return MN_OK;
}

char *macro_record_text(const char *root, char *const *kept, size_t nkept, const char *all_term)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "v=spf1 exists:%%{ir}.%%{v}.%s", root);
	for (size_t i = 0; i < nkept; i++) {
		mn_buf_add(&b, " ");
		mn_buf_add(&b, kept[i]);
	}
	mn_buf_add(&b, " ");
	mn_buf_add(&b, all_term);
	return mn_buf_take(&b);
}
