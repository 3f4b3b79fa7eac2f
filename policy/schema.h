/* SPDX-License-Identifier: GPL-3.0-or-later */
/* schema.h -- declarative key tables: YAML nodes into the typed policy model */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "policy/yaml.h"

/* What a conversion needs; the model's memory comes from arena. */
typedef struct schema_ctx {
	diag_t *diag;
	yarena_t *arena;		/* the policy's arena: model strings and arrays */
	const char *file;		/* the file being converted (string owned by the policy) */
	const char *dir;		/* absolute directory relative paths are resolved against */
	int oom;			/* set to MN_ENOMEM when an allocation failed */
} schema_ctx_t;

typedef enum schema_type {
	SCHEMA_U32 = 1,		/* policy_u32_t, decimal, [min, max] */
	SCHEMA_DURATION,	/* policy_u32_t seconds ("90d", bare number = s), [min, max] */
	SCHEMA_BOOL,		/* policy_bool_t: true/false/yes/no (+ y/n with SCHEMA_YN) */
	SCHEMA_STR,		/* policy_str_t; with values: one of them */
	SCHEMA_PATH,		/* policy_str_t, made absolute against ctx->dir */
	SCHEMA_NAME,		/* policy_str_t, normalized domain name */
	SCHEMA_NAMES,		/* policy_strs_t of normalized names */
	SCHEMA_STRS,		/* policy_strs_t */
	SCHEMA_NET4S,		/* policy_nets_t, IPv4, no host bits */
	SCHEMA_NET6S,		/* policy_nets_t, IPv6, no host bits */
	SCHEMA_ENUM,		/* policy_enum_t from values */
	SCHEMA_ENUMS,		/* schema_enums_t: one value or a list of them */
	SCHEMA_LISTEN,		/* schema_listens_t: "ADDR:PORT", "[ADDR6]:PORT", port default 53 */
	SCHEMA_SELECTORS,	/* schema_selectors_t: selector name -> DKIM record */
	SCHEMA_TSIGS,		/* schema_tsigs_t: key name -> schema_tsig_key */
	SCHEMA_MAP,		/* a nested table (sub) converted into base + offset */
} schema_type_t;

enum {
	SCHEMA_REQUIRED = 1 << 0,	/* "missing required key 'x' in SECTION" when absent */
	SCHEMA_REMOVED = 1 << 1,	/* accepted with a warning: removed by RFC 9989 */
	SCHEMA_YN = 1 << 2,		/* bool also takes y / n */
	SCHEMA_WILDCARD = 1 << 3,	/* names: "*" (or "*.x") allowed */
	SCHEMA_PRESENT = 1 << 4,	/* map: the sub struct starts with `bool present` */
	SCHEMA_NONEMPTY = 1 << 5,	/* list: "missing value" / "empty list" when it has no item */
	SCHEMA_ZONES = 1 << 6,		/* server: every zone is made from it (compile-cache digest) */
};

typedef struct schema_value {
	const char *name;
	int value;
	bool alias;			/* accepted, not listed in "expected ..." */
} schema_value_t;

/* Same layout as the anonymous structs of policy.h. */
typedef struct { policy_enum_t *v; size_t n; mn_pos_t pos; } schema_enums_t;
typedef struct { policy_listen_t *v; size_t n; mn_pos_t pos; } schema_listens_t;
typedef struct { policy_selector_t *v; size_t n; mn_pos_t pos; } schema_selectors_t;
typedef struct { policy_tsig_t *v; size_t n; mn_pos_t pos; } schema_tsigs_t;

/*
 * A key's built-in value where neither the file nor `defaults:` set it (the
 * position stays unset): u for U32, DURATION, BOOL, ENUM and the one item of
 * ENUMS; s for STR, PATH, NAME and the one item of LISTEN.  As Knot's
 * YP_VINT = { min, max, default }: the schema line is the only place a
 * default is written.
 */
typedef struct schema_default {
	bool set;
	uint32_t u;
	const char *s;
} schema_default_t;

#define SCHEMA_DEF(x) { .set = true, .u = (x) }
#define SCHEMA_DEF_STR(x) { .set = true, .s = (x) }

typedef struct schema_item schema_item_t;
/* key is the mapping key (its ->str names it), val its value, dst = base + offset. */
typedef void (*schema_conv_t)(schema_ctx_t *ctx, const schema_item_t *it,
			      const ynode_t *key, const ynode_t *val, void *dst);

/*
 * One key: its type is how the value is stored at base + offset (and so how
 * it is merged, defaulted and digested); conv, when set, converts the YAML
 * value instead of the type's own conversion, into the same storage.
 */
struct schema_item {
	const char *name;		/* NULL ends a table */
	schema_type_t type;
	size_t offset;
	unsigned flags;
	uint32_t min, max;		/* U32 / DURATION range (max 0: UINT32_MAX) */
	const schema_value_t *values;	/* ENUM, ENUMS, STR choices (NULL-name terminated) */
	const schema_item_t *sub;	/* MAP */
	schema_conv_t conv;		/* NULL: the type's conversion */
	schema_default_t def;		/* built-in default */
};

/* Tables: a domain (and `defaults:`) and `server:`. */
extern const schema_item_t schema_domain[];
extern const schema_item_t schema_server[];
/* The keys of a policy_dnssec_t (policy.c merges server.dnssec into each domain's). */
extern const schema_item_t schema_dnssec[];
extern const schema_value_t schema_spf_modes[], schema_spf_alls[], schema_dkim_algs[],
	schema_dmarc_ps[], schema_mta_sts_modes[],
	schema_dnssec_algs[];

/*
 * Converts the mapping val (the value of key; key is NULL for a file's top
 * level, then section names nothing) into base using table.  A null value is
 * an empty mapping.  Unknown keys, wrong types, bad values and missing
 * required keys are reported to ctx->diag; conversion goes on after each.
 */
void schema_map(schema_ctx_t *ctx, const schema_item_t *table, const ynode_t *key,
		const ynode_t *val, void *base);

/*
 * Fills every key of base (a table's struct) that is not set and has a
 * built-in default, in nested maps too; the positions stay unset.  Strings
 * and arrays come from ctx->arena; ctx->oom on failure.
 */
void schema_defaults(schema_ctx_t *ctx, const schema_item_t *table, void *base);

/*
 * Per key, into each of the n structs at dst (stride bytes apart): every key
 * not set there takes the value of from (as set there, or its built-in
 * default, or nothing); SCHEMA_PRESENT maps are present when either is.
 * Values are shared, not copied (both in the same policy).  The keys to look
 * at are found once for all n.
 */
void schema_merge(const schema_item_t *table, void *dst, size_t n, size_t stride, const void *from);

/* Bytes of a key's storage (0 for MAP: its sub table's struct). */
size_t schema_type_size(schema_type_t type);
/* The position of the value stored at field (a key of that type; not MAP). */
const mn_pos_t *schema_field_pos(schema_type_t type, const void *field);

/* Helpers shared with policy.c. */
mn_pos_t schema_pos(const schema_ctx_t *ctx, const ynode_t *n);
/* Reports "expected a mapping for KEY" unless val is a mapping or null. */
bool schema_expect_map(schema_ctx_t *ctx, const ynode_t *key, const ynode_t *val);
/* Normalized name into the arena, or NULL after reporting `invalid domain name`. */
char *schema_name(schema_ctx_t *ctx, const ynode_t *n, const char *forkey, bool wildcard);
const char *schema_value_name(const schema_value_t *values, int v);
