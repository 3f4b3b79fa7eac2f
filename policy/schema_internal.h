/* SPDX-License-Identifier: GPL-3.0-or-later */
/* schema_internal.h -- between the schema engine (schema.c) and the key tables (schema_keys.c) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "policy/schema.h"

/* A message at n (ctx->oom on ENOMEM). */
void schema_report(schema_ctx_t *ctx, diag_level_t level, const ynode_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define SCHEMA_ERR(ctx, n, ...) schema_report((ctx), DIAG_ERROR, (n), __VA_ARGS__)

/* From ctx->arena; NULL and ctx->oom on ENOMEM. */
void *schema_alloc(schema_ctx_t *ctx, size_t size);
char *schema_sdup(schema_ctx_t *ctx, const char *s);
/* Where a value's problems are reported: the value, or its key when it is missing. */
const ynode_t *schema_where(const ynode_t *key, const ynode_t *val);
/* The text of a scalar value, or NULL after reporting what was expected. */
const char *schema_scalar(schema_ctx_t *ctx, const char *name, const ynode_t *key,
			  const ynode_t *val, const char *expect);
/* "127.0.0.1:5353", "[::1]:5353", "::1", "192.0.2.1" (port 53). */
bool schema_parse_addr_port(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Converts one item into elem; false when it was reported and is dropped. */
typedef bool (*schema_item_fn)(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem);
typedef struct { void *v; size_t n; mn_pos_t pos; } schema_anylist_t;
/* A list (or, with scalar_ok, one scalar) of items of elem_size bytes converted by fn into dst. */
void schema_conv_list(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		      const ynode_t *val, schema_anylist_t *dst, size_t elem_size, schema_item_fn fn,
		      bool scalar_ok);
/* One string item (policy_str_t). */
bool schema_item_str(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem);

/* One value of the type it->type (it->conv is not called) into dst. */
void schema_convert(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key, const ynode_t *val,
		    void *dst);

/* The conversions of SCHEMA_SELECTORS and SCHEMA_TSIGS (schema_keys.c). */
void schema_conv_selectors(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			   const ynode_t *val, void *dst);
void schema_conv_tsigs(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		       const ynode_t *val, void *dst);
