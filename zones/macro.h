/* SPDX-License-Identifier: GPL-3.0-or-later */
/* macro.h -- SPF macro mode: exists:%{ir}.%{v}._spf.D and the names of the allowed set */
#pragma once

#include <stddef.h>

#include "policy/mn.h"

/* The most networks one network off an octet (nibble) boundary expands to. */
#define MACRO_MAX_V4 128
#define MACRO_MAX_V6 8

/*
 * The owner names (normalized, under in-addr.<root> or ip6.<root>) answering
 * A 127.0.0.2 for one network: one wildcard (or, for a /32 or /128, one exact
 * name) on an octet (nibble) boundary; off the boundary, every network at the
 * next boundary (at most 128 for IPv4, 8 for IPv6).  MN_ERANGE when a name
 * would pass 253 bytes.  Free with macro_names_free().
 */
int macro_net_names(const char *root, const mn_net_t *net, char ***out, size_t *n);
void macro_names_free(char **v, size_t n);

/*
 * Length of the longest name an evaluator queries for exists:%{ir}.%{v}.<root>
 * with a client of this family (4 or 6): 253 at most for a valid setup.
 */
size_t macro_query_len(const char *root, int family);

/*
 * "v=spf1 exists:%{ir}.%{v}.<root> [KEPT...] <all>": malloc'd, NULL on ENOMEM.
 */
char *macro_record_text(const char *root, char *const *kept, size_t nkept, const char *all_term);
