/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile_internal.h -- what compile.c and spfbuild.c share: the compile's context and helpers */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "keys/keystore.h"
#include "policy/diag.h"
#include "policy/policy.h"
#include "zones/validate.h"
#include "zones/zone.h"

/* Internal to libzones. */

/* "A reports to T": hosted domain `source` has a mailto: rua/ruf at domain `target`. */
typedef struct report {
	char *target;
	const char *source;
	mn_pos_t pos;		/* of the URI */
} report_t;

/*
 * The names in a directory of state_dir (keys/, spf/), listed once: a domain
 * without an entry there has no file to read, which spares 100,000 domains
 * two failing open() calls each.  unknown: the directory could not be listed
 * (not because it is missing), so every domain's file is tried as before.
 */
typedef struct dirset {
	bool unknown;
	char **slot;		/* open addressing; NULL = empty */
	size_t cap;
} dirset_t;

/* The SOA and NS RDATA, the same in every zone: made once per compile. */
typedef struct apex_rd {
	int err;			/* a name did not convert: every zone fails with it */
	uint8_t soa[256 + 256 + 20];
	uint16_t soa_len;
	uint8_t (*ns)[256];
	uint16_t *ns_len;
	size_t nns;
} apex_rd_t;

/*
 * What the compile cache already read for the domain being compiled (its key
 * store, so that it is read once), and what it learns: until when the output
 * holds (the previous SPF generation's parts leave it at their expiry).
 */
typedef struct dom_in {
	bool keys_given;
	int keys_r;		/* keystore_published()'s result */
	keystore_pub_t *keys;
	size_t nkeys;
	time_t until;
} dom_in_t;

#define TIME_END ((time_t)INT64_MAX)

typedef struct ctx {
	const policy_t *p;
	dom_in_t *dom;		/* NULL without a compile cache */
	const dirset_t *keys, *spf;	/* state_dir/keys, state_dir/spf */
	const struct mtasts_wdset *wdset;	/* domains that may have MTA-STS files (mtasts.h) */
	const apex_rd_t *rd;
	diag_t *diag;
	uint32_t ttl;
	report_t *reports;	/* sorted by target, then source */
	size_t nreports;
	validate_t *val;	/* the publishing rules */
	time_t now;
} ctx_t;

/* "has a 64-byte label (limit 63)" into why when name is not a valid owner name. */
bool compile_name_valid(const char *name, char *why, size_t size);
/* May state_dir's listing s hold name (false: surely not)? */
bool compile_dirset_maybe(const dirset_t *s, const char *name);
/* Adds TXT text at owner; a text too long for one RDATA is a diag error at pos. */
int compile_add_txt(const ctx_t *c, zone_t *z, const char *owner, const char *text, const mn_pos_t *pos);

/* The SPF records of d (when it has spf:) into its _spf zone z, by its mode. */
int spf_build(const ctx_t *c, const policy_domain_t *d, zone_t *z);
