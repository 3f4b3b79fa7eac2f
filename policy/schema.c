/* SPDX-License-Identifier: GPL-3.0-or-later */
/* schema.c -- the schema engine: walks key tables to convert, default and merge the policy model */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/mn.h"
#include "policy/schema_internal.h"

/* ---- helpers ---------------------------------------------------------------- */

mn_pos_t schema_pos(const schema_ctx_t *ctx, const ynode_t *n)
{
	mn_pos_t p = { ctx->file, n->line, n->col };
	return p;
}

void schema_report(schema_ctx_t *ctx, diag_level_t level, const ynode_t *n, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		ctx->oom = MN_ENOMEM;
		return;
	}
	mn_pos_t pos = schema_pos(ctx, n);
	diag_add(ctx->diag, level, &pos, "%s", msg);
	free(msg);
}

void *schema_alloc(schema_ctx_t *ctx, size_t size)
{
	void *p = yarena_alloc(ctx->arena, size);
	if (p == NULL)
		ctx->oom = MN_ENOMEM;
	return p;
}

char *schema_sdup(schema_ctx_t *ctx, const char *s)
{
	char *d = yarena_strdup(ctx->arena, s);
	if (d == NULL)
		ctx->oom = MN_ENOMEM;
	return d;
}

/* Where a value's problems are reported: the value, or its key when it is missing. */
const ynode_t *schema_where(const ynode_t *key, const ynode_t *val)
{
	if (val == NULL || (ynode_is_null(val) && key != NULL))
		return key;
	return val;
}

/* The text of a scalar value, or NULL after reporting what was expected. */
const char *schema_scalar(schema_ctx_t *ctx, const char *name, const ynode_t *key,
			  const ynode_t *val, const char *expect)
{
	if (ynode_is_null(val)) {
		if (key != NULL)
			SCHEMA_ERR(ctx, key, "missing value for %s", name);
		else
			SCHEMA_ERR(ctx, val, "expected %s for %s", expect, name);
		return NULL;
	}
	if (val->kind != YNODE_SCALAR) {
		SCHEMA_ERR(ctx, val, "expected %s for %s", expect, name);
		return NULL;
	}
	return val->str;
}

bool schema_expect_map(schema_ctx_t *ctx, const ynode_t *key, const ynode_t *val)
{
	if (val == NULL || ynode_is_null(val) || val->kind == YNODE_MAP)
		return true;
	if (key != NULL)
		SCHEMA_ERR(ctx, val, "expected a mapping for %s", key->str);
	else
		SCHEMA_ERR(ctx, val, "expected a mapping");
	return false;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
		return false;
	uint64_t v = 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

const char *schema_value_name(const schema_value_t *values, int v)
{
	for (; values->name != NULL; values++)
		if (values->value == v && !values->alias)
			return values->name;
	return "?";
}

static bool lookup_value(const schema_value_t *values, const char *s, int *out)
{
	for (; values->name != NULL; values++) {
		if (strcasecmp(values->name, s) == 0) {
			*out = values->value;
			return true;
		}
	}
	return false;
}

/* "none, quarantine, reject" */
static void value_list(const schema_value_t *values, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (; values->name != NULL; values++) {
		if (values->alias)
			continue;
		int r = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", values->name);
		if (r < 0 || (size_t)r >= size - used)
			return;
		used += (size_t)r;
	}
}

static void bad_value(schema_ctx_t *ctx, const ynode_t *n, const char *name, const schema_value_t *values)
{
	char list[256];
	value_list(values, list, sizeof(list));
	SCHEMA_ERR(ctx, n, "unknown value '%s' for %s (expected %s)", n->str, name, list);
}

char *schema_name(schema_ctx_t *ctx, const ynode_t *n, const char *forkey, bool wildcard)
{
	char buf[256];
	bool ok = mn_name_norm(n->str, buf, sizeof(buf)) == MN_OK && buf[0] != '\0';
	if (ok && !wildcard && buf[0] == '*' && (buf[1] == '\0' || buf[1] == '.'))
		ok = false;
	if (!ok) {
		if (forkey != NULL)
			SCHEMA_ERR(ctx, n, "invalid domain name '%s' for %s", n->str, forkey);
		else
			SCHEMA_ERR(ctx, n, "invalid domain name '%s'", n->str);
		return NULL;
	}
	return schema_sdup(ctx, buf);
}

/* "127.0.0.1:5353", "[::1]:5353", "::1", "192.0.2.1" (port 53). */
bool schema_parse_addr_port(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *port = NULL;
	size_t hlen;
	bool need6 = false;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (e == NULL)
			return false;
		hlen = (size_t)(e - s - 1);
		s++;
		if (e[1] == ':')
			port = e + 2;
		else if (e[1] != '\0')
			return false;
		need6 = true;
	} else {
		const char *c = strchr(s, ':');
		if (c != NULL && strchr(c + 1, ':') == NULL) {
			hlen = (size_t)(c - s);
			port = c + 1;
		} else {
			hlen = strlen(s);
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	uint32_t p = 53;
	if (port != NULL && (!parse_u32(port, &p) || p == 0 || p > 65535))
		return false;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (!need6 && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
		return true;
	}
	return false;
}

/* ---- lists -------------------------------------------------------------------- */

void schema_conv_list(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		      const ynode_t *val, schema_anylist_t *dst, size_t elem_size, schema_item_fn fn,
		      bool scalar_ok)
{
	const ynode_t *one = NULL;
	size_t n = 0;
	if (val != NULL && val->kind == YNODE_SEQ) {
		n = val->n;
	} else if (val != NULL && val->kind == YNODE_SCALAR && !ynode_is_null(val) && scalar_ok) {
		one = val;
		n = 1;
	} else if (!ynode_is_null(val)) {
		SCHEMA_ERR(ctx, val, "expected a list for %s", it->name);
		return;
	}
	char *arr = NULL;
	if (n > 0 && (arr = schema_alloc(ctx, n * elem_size)) == NULL)
		return;
	size_t got = 0;
	for (const ynode_t *i = one != NULL ? one : n > 0 ? val->first : NULL; i != NULL && got < n;
	     i = one != NULL ? NULL : i->next) {
		if (fn(ctx, it, i, arr + got * elem_size))
			got++;
	}
	if (n == 0 && (it->flags & SCHEMA_NONEMPTY)) {
		if (ynode_is_null(val) && key != NULL)
			SCHEMA_ERR(ctx, key, "missing value for %s", it->name);
		else
			SCHEMA_ERR(ctx, val, "empty list for %s", it->name);
	}
	dst->v = arr;
	dst->n = got;
	dst->pos = schema_pos(ctx, schema_where(key, val));
}

bool schema_item_str(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = schema_scalar(ctx, it->name, NULL, item, "a string");
	if (s == NULL)
		return false;
	policy_str_t *e = elem;
	e->v = schema_sdup(ctx, s);
	e->pos = schema_pos(ctx, item);
	return e->v != NULL;
}

static bool item_name(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	if (schema_scalar(ctx, it->name, NULL, item, "a domain name") == NULL)
		return false;
	policy_str_t *e = elem;
	e->v = schema_name(ctx, item, it->name, (it->flags & SCHEMA_WILDCARD) != 0);
	e->pos = schema_pos(ctx, item);
	return e->v != NULL;
}

static bool item_net(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = schema_scalar(ctx, it->name, NULL, item, "a network");
	if (s == NULL)
		return false;
	int family = it->type == SCHEMA_NET4S ? 4 : 6;
	policy_net_t *e = elem;
	mn_net_t net;
	/* one parse for a good network; a second only to tell which message a bad one gets */
	bool good = mn_net_parse(s, 0, false, &net) == MN_OK;
	if (!good && mn_net_parse(s, 0, true, &net) != MN_OK) {
		SCHEMA_ERR(ctx, item, "invalid network '%s' for %s", s, it->name);
		return false;
	}
	if (net.family != family) {
		SCHEMA_ERR(ctx, item, "invalid network '%s' for %s (not %s)", s, it->name,
			   family == 4 ? "IPv4" : "IPv6");
		return false;
	}
	if (!good) {
		SCHEMA_ERR(ctx, item, "invalid network '%s' for %s (host bits set)", s, it->name);
		return false;
	}
	e->net = net;
	e->pos = schema_pos(ctx, item);
	return true;
}

static bool item_enum(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = schema_scalar(ctx, it->name, NULL, item, "a string");
	if (s == NULL)
		return false;
	policy_enum_t *e = elem;
	if (!lookup_value(it->values, s, &e->v)) {
		bad_value(ctx, item, it->name, it->values);
		return false;
	}
	e->pos = schema_pos(ctx, item);
	return true;
}

static bool item_listen(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = schema_scalar(ctx, it->name, NULL, item, "an address");
	if (s == NULL)
		return false;
	policy_listen_t *e = elem;
	if (!schema_parse_addr_port(s, &e->addr, &e->addrlen)) {
		SCHEMA_ERR(ctx, item, "invalid address '%s' for %s (expected ADDRESS[:PORT] or [IPV6][:PORT])",
			   s, it->name);
		return false;
	}
	e->text = schema_sdup(ctx, s);
	e->pos = schema_pos(ctx, item);
	return e->text != NULL;
}

/* ---- one value ------------------------------------------------------------------- */

static void convert(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		    const ynode_t *val, void *dst)
{
	const char *s;
	if (it->conv != NULL) {
		it->conv(ctx, it, key, val, dst);
		return;
	}
	switch (it->type) {
	case SCHEMA_U32:
	case SCHEMA_DURATION: {
		bool dur = it->type == SCHEMA_DURATION;
		if ((s = schema_scalar(ctx, it->name, key, val, dur ? "a duration" : "a number")) == NULL)
			return;
		uint32_t v;
		if (dur ? mn_duration_parse(s, &v) != MN_OK : !parse_u32(s, &v)) {
			SCHEMA_ERR(ctx, val, "invalid %s '%s' for %s", dur ? "duration" : "number", s, it->name);
			return;
		}
		uint32_t max = it->max != 0 ? it->max : UINT32_MAX;
		if (v < it->min || v > max) {
			if (max == UINT32_MAX)
				SCHEMA_ERR(ctx, val, "value '%s' out of range for %s (at least %u%s)", s, it->name,
					   (unsigned)it->min, dur ? "s" : "");
			else
				SCHEMA_ERR(ctx, val, "value '%s' out of range for %s (%u..%u)", s, it->name,
					   (unsigned)it->min, (unsigned)max);
			return;
		}
		policy_u32_t *e = dst;
		e->v = v;
		e->pos = schema_pos(ctx, val);
		return;
	}
	case SCHEMA_BOOL: {
		if ((s = schema_scalar(ctx, it->name, key, val, "true or false")) == NULL)
			return;
		bool yn = (it->flags & SCHEMA_YN) != 0;
		policy_bool_t *e = dst;
		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || (yn && strcasecmp(s, "y") == 0)) {
			e->v = true;
		} else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
			   (yn && strcasecmp(s, "n") == 0)) {
			e->v = false;
		} else {
			SCHEMA_ERR(ctx, val, "invalid boolean '%s' for %s (expected %s)", s, it->name,
				   yn ? "y or n" : "true or false");
			return;
		}
		e->pos = schema_pos(ctx, val);
		return;
	}
	case SCHEMA_STR:
	case SCHEMA_PATH:
	case SCHEMA_NAME: {
		const char *what = it->type == SCHEMA_NAME ? "a domain name" :
				   it->type == SCHEMA_PATH ? "a path" : "a string";
		if ((s = schema_scalar(ctx, it->name, key, val, what)) == NULL)
			return;
		policy_str_t *e = dst;
		int dummy;
		if (it->values != NULL && !lookup_value(it->values, s, &dummy)) {
			bad_value(ctx, val, it->name, it->values);
			return;
		}
		if (it->type == SCHEMA_NAME) {
			e->v = schema_name(ctx, val, it->name, false);
		} else if (it->type == SCHEMA_PATH && s[0] != '/') {
			if (s[0] == '\0') {
				SCHEMA_ERR(ctx, val, "invalid path '' for %s", it->name);
				return;
			}
			size_t len = strlen(ctx->dir) + strlen(s) + 2;
			if ((e->v = schema_alloc(ctx, len)) != NULL)
				snprintf(e->v, len, "%s%s%s", ctx->dir,
					 ctx->dir[strlen(ctx->dir) - 1] == '/' ? "" : "/", s);
		} else {
			e->v = schema_sdup(ctx, s);
		}
		if (e->v != NULL)
			e->pos = schema_pos(ctx, val);
		return;
	}
	case SCHEMA_ENUM: {
		if ((s = schema_scalar(ctx, it->name, key, val, "a string")) == NULL)
			return;
		policy_enum_t *e = dst;
		if (!lookup_value(it->values, s, &e->v)) {
			bad_value(ctx, val, it->name, it->values);
			return;
		}
		e->pos = schema_pos(ctx, val);
		return;
	}
	case SCHEMA_ENUMS: {
		schema_enums_t *e = dst;
		schema_conv_list(ctx, it, key, val, (schema_anylist_t *)dst, sizeof(policy_enum_t), item_enum, true);
		for (size_t i = 1; i < e->n; i++) {
			for (size_t j = 0; j < i; j++) {
				if (e->v[i].v == e->v[j].v) {
					mn_pos_t pos = e->v[i].pos;
					diag_error(ctx->diag, &pos, "duplicate value '%s' for %s",
						   schema_value_name(it->values, e->v[i].v), it->name);
					break;
				}
			}
		}
		return;
	}
	case SCHEMA_NAMES:
		schema_conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_name, false);
		return;
	case SCHEMA_STRS:
		schema_conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), schema_item_str, false);
		return;
	case SCHEMA_NET4S:
	case SCHEMA_NET6S:
		schema_conv_list(ctx, it, key, val, dst, sizeof(policy_net_t), item_net, false);
		return;
	case SCHEMA_LISTEN:
		schema_conv_list(ctx, it, key, val, dst, sizeof(policy_listen_t), item_listen, false);
		return;
	case SCHEMA_MAP:
		if (it->flags & SCHEMA_PRESENT) {
			if (!schema_expect_map(ctx, key, val))
				return;
			*(bool *)dst = true;
		}
		schema_map(ctx, it->sub, key, val, dst);
		return;
	case SCHEMA_SELECTORS:
		schema_conv_selectors(ctx, it, key, val, dst);
		return;
	case SCHEMA_TSIGS:
		schema_conv_tsigs(ctx, it, key, val, dst);
		return;
	}
}

/* ---- storage: defaults and merging ------------------------------------------------- */

static const struct {
	size_t size, pos;
} storage[] = {
	[SCHEMA_U32] = { sizeof(policy_u32_t), offsetof(policy_u32_t, pos) },
	[SCHEMA_DURATION] = { sizeof(policy_u32_t), offsetof(policy_u32_t, pos) },
	[SCHEMA_BOOL] = { sizeof(policy_bool_t), offsetof(policy_bool_t, pos) },
	[SCHEMA_STR] = { sizeof(policy_str_t), offsetof(policy_str_t, pos) },
	[SCHEMA_PATH] = { sizeof(policy_str_t), offsetof(policy_str_t, pos) },
	[SCHEMA_NAME] = { sizeof(policy_str_t), offsetof(policy_str_t, pos) },
	[SCHEMA_NAMES] = { sizeof(policy_strs_t), offsetof(policy_strs_t, pos) },
	[SCHEMA_STRS] = { sizeof(policy_strs_t), offsetof(policy_strs_t, pos) },
	[SCHEMA_NET4S] = { sizeof(policy_nets_t), offsetof(policy_nets_t, pos) },
	[SCHEMA_NET6S] = { sizeof(policy_nets_t), offsetof(policy_nets_t, pos) },
	[SCHEMA_ENUM] = { sizeof(policy_enum_t), offsetof(policy_enum_t, pos) },
	[SCHEMA_ENUMS] = { sizeof(schema_enums_t), offsetof(schema_enums_t, pos) },
	[SCHEMA_LISTEN] = { sizeof(schema_listens_t), offsetof(schema_listens_t, pos) },
	[SCHEMA_SELECTORS] = { sizeof(schema_selectors_t), offsetof(schema_selectors_t, pos) },
	[SCHEMA_TSIGS] = { sizeof(schema_tsigs_t), offsetof(schema_tsigs_t, pos) },
	[SCHEMA_MAP] = { 0, 0 },
};

size_t schema_type_size(schema_type_t type)
{
	assert(type >= SCHEMA_U32 && type <= SCHEMA_MAP);
	return storage[type].size;
}

const mn_pos_t *schema_field_pos(schema_type_t type, const void *field)
{
	assert(type >= SCHEMA_U32 && type < SCHEMA_MAP);
	return (const mn_pos_t *)((const char *)field + storage[type].pos);
}

/* The built-in default of it into the unset field f. */
static void fill_default(schema_ctx_t *ctx, const schema_item_t *it, void *f)
{
	const schema_default_t *def = &it->def;
	switch (it->type) {
	case SCHEMA_U32:
	case SCHEMA_DURATION:
		((policy_u32_t *)f)->v = def->u;
		return;
	case SCHEMA_BOOL:
		((policy_bool_t *)f)->v = def->u != 0;
		return;
	case SCHEMA_ENUM:
		((policy_enum_t *)f)->v = (int)def->u;
		return;
	case SCHEMA_STR:
	case SCHEMA_PATH:
	case SCHEMA_NAME:
		((policy_str_t *)f)->v = schema_sdup(ctx, def->s);
		return;
	case SCHEMA_ENUMS: {
		schema_enums_t *e = f;
		if ((e->v = schema_alloc(ctx, sizeof(*e->v))) == NULL)
			return;
		memset(e->v, 0, sizeof(*e->v));
		e->v->v = (int)def->u;
		e->n = 1;
		return;
	}
	case SCHEMA_LISTEN: {
		schema_listens_t *e = f;
		if ((e->v = schema_alloc(ctx, sizeof(*e->v))) == NULL)
			return;
		memset(e->v, 0, sizeof(*e->v));
		bool ok = schema_parse_addr_port(def->s, &e->v->addr, &e->v->addrlen);
		assert(ok);
		(void)ok;
		if ((e->v->text = schema_sdup(ctx, def->s)) != NULL)
			e->n = 1;
		return;
	}
	default:
		assert(!"no built-in default for this type");
		return;
	}
}

void schema_convert(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key, const ynode_t *val,
		    void *dst)
{
	convert(ctx, it, key, val, dst);
}

void schema_defaults(schema_ctx_t *ctx, const schema_item_t *table, void *base)
{
	for (const schema_item_t *it = table; it->name != NULL; it++) {
		void *f = (char *)base + it->offset;
		if (it->type == SCHEMA_MAP)
			schema_defaults(ctx, it->sub, f);
		else if (it->def.set && schema_field_pos(it->type, f)->file == NULL)
			fill_default(ctx, it, f);
	}
}

/* The position's file of the value at f (NULL: not set). */
static inline const char *set_in(schema_type_t type, const char *f)
{
	return ((const mn_pos_t *)(f + storage[type].pos))->file;
}

/* One key schema_merge() looks at: a present flag to set, or a value to take when unset. */
typedef struct merge_step {
	size_t offset, size, pos;	/* size 0: a present flag */
} merge_step_t;

enum { MERGE_STEPS_MAX = 128 };

/* The keys of table (at base in from) that from sets or that have a built-in default. */
static size_t merge_steps(const schema_item_t *table, const char *from, size_t base, merge_step_t *v, size_t n)
{
	for (const schema_item_t *it = table; it->name != NULL; it++) {
		size_t off = base + it->offset;
		if (it->type == SCHEMA_MAP) {
			if ((it->flags & SCHEMA_PRESENT) && *(const bool *)(from + off)) {
				assert(n < MERGE_STEPS_MAX);
				v[n++] = (merge_step_t){ off, 0, 0 };
			}
			n = merge_steps(it->sub, from, off, v, n);
		} else if (it->def.set || set_in(it->type, from + off) != NULL) {
			assert(n < MERGE_STEPS_MAX);
			v[n++] = (merge_step_t){ off, storage[it->type].size, storage[it->type].pos };
		}
	}
	return n;
}

void schema_merge(const schema_item_t *table, void *dst, size_t n, size_t stride, const void *from)
{
	/* (a key from neither sets nor defaults is zero on both sides: nothing to take) */
	merge_step_t v[MERGE_STEPS_MAX];
	size_t k = merge_steps(table, from, 0, v, 0);
	for (size_t i = 0; i < n; i++) {
		char *d = (char *)dst + i * stride;
		for (const merge_step_t *st = v; st < v + k; st++) {
			if (st->size == 0)
				*(bool *)(d + st->offset) = true;
			else if (((const mn_pos_t *)(d + st->offset + st->pos))->file == NULL)
				memcpy(d + st->offset, (const char *)from + st->offset, st->size);
		}
	}
}

void schema_map(schema_ctx_t *ctx, const schema_item_t *table, const ynode_t *key,
		const ynode_t *val, void *base)
{
	if (!schema_expect_map(ctx, key, val))
		return;
	uint64_t seen = 0;
	if (val != NULL && val->kind == YNODE_MAP) {
		for (const ynode_t *k = val->first; k != NULL; k = k->next) {
			if (k->dup)
				continue;
			size_t i = 0;
			while (table[i].name != NULL && strcmp(table[i].name, k->str) != 0)
				i++;
			const schema_item_t *it = &table[i];
			if (it->name == NULL) {
				SCHEMA_ERR(ctx, k, "unknown key '%s'", k->str);
				continue;
			}
			seen |= UINT64_C(1) << i;
			convert(ctx, it, k, k->value, (char *)base + it->offset);
			if (it->flags & SCHEMA_REMOVED)
				schema_report(ctx, DIAG_WARNING, k, "%s was removed by RFC 9989 and is ignored by receivers",
				       it->name);
		}
	}
	for (size_t i = 0; table[i].name != NULL; i++) {
		if (!(table[i].flags & SCHEMA_REQUIRED) || (seen & (UINT64_C(1) << i)))
			continue;
		if (key != NULL)
			SCHEMA_ERR(ctx, key, "missing required key '%s' in %s", table[i].name, key->str);
		else if (val != NULL)
			SCHEMA_ERR(ctx, val, "missing required key '%s'", table[i].name);
	}
}
