/* SPDX-License-Identifier: GPL-3.0-or-later */
/* schema.c -- declarative key tables: YAML nodes into the typed policy model */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/mn.h"
#include "policy/schema.h"

/* ---- helpers ---------------------------------------------------------------- */

mn_pos_t schema_pos(const schema_ctx_t *ctx, const ynode_t *n)
{
	mn_pos_t p = { ctx->file, n->line, n->col };
	return p;
}

static void report(schema_ctx_t *ctx, diag_level_t level, const ynode_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(schema_ctx_t *ctx, diag_level_t level, const ynode_t *n, const char *fmt, ...)
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

#define ERR(ctx, n, ...) report((ctx), DIAG_ERROR, (n), __VA_ARGS__)

static void *alloc(schema_ctx_t *ctx, size_t size)
{
	void *p = yarena_alloc(ctx->arena, size);
	if (p == NULL)
		ctx->oom = MN_ENOMEM;
	return p;
}

static char *sdup(schema_ctx_t *ctx, const char *s)
{
	char *d = yarena_strdup(ctx->arena, s);
	if (d == NULL)
		ctx->oom = MN_ENOMEM;
	return d;
}

/* Where a value's problems are reported: the value, or its key when it is missing. */
static const ynode_t *where(const ynode_t *key, const ynode_t *val)
{
	if (val == NULL || (ynode_is_null(val) && key != NULL))
		return key;
	return val;
}

/* The text of a scalar value, or NULL after reporting what was expected. */
static const char *scalar(schema_ctx_t *ctx, const char *name, const ynode_t *key,
			  const ynode_t *val, const char *expect)
{
	if (ynode_is_null(val)) {
		if (key != NULL)
			ERR(ctx, key, "missing value for %s", name);
		else
			ERR(ctx, val, "expected %s for %s", expect, name);
		return NULL;
	}
	if (val->kind != YNODE_SCALAR) {
		ERR(ctx, val, "expected %s for %s", expect, name);
		return NULL;
	}
	return val->str;
}

bool schema_expect_map(schema_ctx_t *ctx, const ynode_t *key, const ynode_t *val)
{
	if (val == NULL || ynode_is_null(val) || val->kind == YNODE_MAP)
		return true;
	if (key != NULL)
		ERR(ctx, val, "expected a mapping for %s", key->str);
	else
		ERR(ctx, val, "expected a mapping");
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
	ERR(ctx, n, "unknown value '%s' for %s (expected %s)", n->str, name, list);
}

char *schema_name(schema_ctx_t *ctx, const ynode_t *n, const char *forkey, bool wildcard)
{
	char buf[256];
	bool ok = mn_name_norm(n->str, buf, sizeof(buf)) == MN_OK && buf[0] != '\0';
	if (ok && !wildcard && buf[0] == '*' && (buf[1] == '\0' || buf[1] == '.'))
		ok = false;
	if (!ok) {
		if (forkey != NULL)
			ERR(ctx, n, "invalid domain name '%s' for %s", n->str, forkey);
		else
			ERR(ctx, n, "invalid domain name '%s'", n->str);
		return NULL;
	}
	return sdup(ctx, buf);
}

/* "127.0.0.1:5353", "[::1]:5353", "::1", "192.0.2.1" (port 53). */
static bool parse_addr_port(const char *s, struct sockaddr_storage *ss, socklen_t *len)
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

/* Converts one item into elem; false when it was reported and is dropped. */
typedef bool (*item_fn)(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem);

typedef struct { void *v; size_t n; mn_pos_t pos; } anylist_t;

static void conv_list(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		      const ynode_t *val, anylist_t *dst, size_t elem_size, item_fn fn,
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
		ERR(ctx, val, "expected a list for %s", it->name);
		return;
	}
	char *arr = NULL;
	if (n > 0 && (arr = alloc(ctx, n * elem_size)) == NULL)
		return;
	size_t got = 0;
	for (const ynode_t *i = one != NULL ? one : n > 0 ? val->first : NULL; i != NULL && got < n;
	     i = one != NULL ? NULL : i->next) {
		if (fn(ctx, it, i, arr + got * elem_size))
			got++;
	}
	if (n == 0 && (it->flags & SCHEMA_NONEMPTY)) {
		if (ynode_is_null(val) && key != NULL)
			ERR(ctx, key, "missing value for %s", it->name);
		else
			ERR(ctx, val, "empty list for %s", it->name);
	}
	dst->v = arr;
	dst->n = got;
	dst->pos = schema_pos(ctx, where(key, val));
}

static bool item_str(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = scalar(ctx, it->name, NULL, item, "a string");
	if (s == NULL)
		return false;
	policy_str_t *e = elem;
	e->v = sdup(ctx, s);
	e->pos = schema_pos(ctx, item);
	return e->v != NULL;
}

static bool item_name(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	if (scalar(ctx, it->name, NULL, item, "a domain name") == NULL)
		return false;
	policy_str_t *e = elem;
	e->v = schema_name(ctx, item, it->name, (it->flags & SCHEMA_WILDCARD) != 0);
	e->pos = schema_pos(ctx, item);
	return e->v != NULL;
}

static bool item_net(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = scalar(ctx, it->name, NULL, item, "a network");
	if (s == NULL)
		return false;
	int family = it->type == SCHEMA_NET4S ? 4 : 6;
	policy_net_t *e = elem;
	mn_net_t any;
	if (mn_net_parse(s, 0, true, &any) != MN_OK) {
		ERR(ctx, item, "invalid network '%s' for %s", s, it->name);
		return false;
	}
	if (any.family != family) {
		ERR(ctx, item, "invalid network '%s' for %s (not %s)", s, it->name,
		    family == 4 ? "IPv4" : "IPv6");
		return false;
	}
	if (mn_net_parse(s, family, false, &e->net) != MN_OK) {
		ERR(ctx, item, "invalid network '%s' for %s (host bits set)", s, it->name);
		return false;
	}
	e->pos = schema_pos(ctx, item);
	return true;
}

static bool item_enum(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = scalar(ctx, it->name, NULL, item, "a string");
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
	const char *s = scalar(ctx, it->name, NULL, item, "an address");
	if (s == NULL)
		return false;
	policy_listen_t *e = elem;
	if (!parse_addr_port(s, &e->addr, &e->addrlen)) {
		ERR(ctx, item, "invalid address '%s' for %s (expected ADDRESS[:PORT] or [IPV6][:PORT])",
		    s, it->name);
		return false;
	}
	e->text = sdup(ctx, s);
	e->pos = schema_pos(ctx, item);
	return e->text != NULL;
}

/* transfer.notify: like listen, kept as text. */
static bool item_notify(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = scalar(ctx, it->name, NULL, item, "an address");
	if (s == NULL)
		return false;
	struct sockaddr_storage ss;
	socklen_t len;
	if (!parse_addr_port(s, &ss, &len)) {
		ERR(ctx, item, "invalid address '%s' for %s (expected ADDRESS[:PORT] or [IPV6][:PORT])",
		    s, it->name);
		return false;
	}
	return item_str(ctx, it, item, elem);
}

/* transfer.allow: a network, or "key:NAME" (the key must be in tsig: checked by policy.c). */
static bool item_allow(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = scalar(ctx, it->name, NULL, item, "a string");
	if (s == NULL)
		return false;
	if (strncmp(s, "key:", 4) == 0) {
		char buf[256];
		if (mn_name_norm(s + 4, buf, sizeof(buf)) != MN_OK || buf[0] == '\0') {
			ERR(ctx, item, "invalid key name '%s' for %s", s + 4, it->name);
			return false;
		}
	} else {
		mn_net_t net;
		int r = mn_net_parse(s, 0, false, &net);
		if (r != MN_OK) {
			ERR(ctx, item, "invalid network '%s' for %s%s", s, it->name,
			    mn_net_parse(s, 0, true, &net) == MN_OK ? " (host bits set)" :
			    " (expected a network or key:NAME)");
			return false;
		}
	}
	return item_str(ctx, it, item, elem);
}

static void conv_allow(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		       const ynode_t *val, void *dst)
{
	conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_allow, false);
}

static void conv_notify(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			const ynode_t *val, void *dst)
{
	conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_notify, false);
}

/* server.metrics: one ADDRESS:PORT (the port is required), kept as text. */
static void conv_addr(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		      const ynode_t *val, void *dst)
{
	const char *s = scalar(ctx, it->name, key, val, "an address");
	if (s == NULL)
		return;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *e = s[0] == '[' ? strchr(s, ']') : s;
	if (!parse_addr_port(s, &ss, &len) || e == NULL || strchr(e, ':') == NULL ||
	    (s[0] != '[' && strchr(s, ':') != strrchr(s, ':'))) {
		ERR(ctx, val, "invalid address '%s' for %s (expected ADDRESS:PORT or [IPV6]:PORT)",
		    s, it->name);
		return;
	}
	policy_str_t *d = dst;
	d->v = sdup(ctx, s);
	if (d->v != NULL)
		d->pos = schema_pos(ctx, val);
}

/* server.cookie_secret: 32 hexadecimal digits. */
static void conv_hex16(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		       const ynode_t *val, void *dst)
{
	const char *s = scalar(ctx, it->name, key, val, "a string");
	if (s == NULL)
		return;
	bool ok = strlen(s) == 32;
	for (const char *p = s; ok && *p != '\0'; p++)
		ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F');
	if (!ok) {
		ERR(ctx, val, "invalid value for %s (expected 32 hexadecimal digits)", it->name);
		return;
	}
	policy_str_t *d = dst;
	d->v = sdup(ctx, s);
	if (d->v != NULL)
		d->pos = schema_pos(ctx, val);
}

/* server.identity, server.version: at most 255 bytes (one TXT string, NSID). */
static void conv_text255(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			 const ynode_t *val, void *dst)
{
	const char *s = scalar(ctx, it->name, key, val, "a string");
	if (s == NULL)
		return;
	if (s[0] == '\0' || strlen(s) > 255) {
		ERR(ctx, val, "invalid value for %s (expected 1 to 255 characters)", it->name);
		return;
	}
	policy_str_t *d = dst;
	d->v = sdup(ctx, s);
	if (d->v != NULL)
		d->pos = schema_pos(ctx, val);
}

/* ---- special values ------------------------------------------------------------- */

static void conv_fo(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		    const ynode_t *val, void *dst)
{
	const char *s = scalar(ctx, it->name, key, val, "a string");
	if (s == NULL)
		return;
	bool ok = s[0] != '\0';
	for (const char *p = s; *p != '\0' && ok; p++) {
		bool tok = *p == '0' || *p == '1' || *p == 'd' || *p == 's';
		bool sep = p[1] == '\0' || p[1] == ':';
		ok = tok && sep && !(p[1] == ':' && p[2] == '\0');
		if (p[1] == ':')
			p++;
	}
	if (!ok) {
		ERR(ctx, val, "invalid value '%s' for %s (expected 0, 1, d or s, separated by ':')", s,
		    it->name);
		return;
	}
	policy_str_t *e = dst;
	e->v = sdup(ctx, s);
	e->pos = schema_pos(ctx, val);
}

static void conv_selectors(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			   const ynode_t *val, void *dst)
{
	if (!schema_expect_map(ctx, key, val))
		return;
	schema_selectors_t *e = dst;
	size_t n = val != NULL && val->kind == YNODE_MAP ? val->n : 0;
	if (n > 0 && (e->v = alloc(ctx, n * sizeof(*e->v))) == NULL)
		return;
	e->n = 0;
	e->pos = schema_pos(ctx, where(key, val));
	for (const ynode_t *k = n > 0 ? val->first : NULL; k != NULL; k = k->next) {
		if (k->dup)
			continue;
		char buf[256];
		if (mn_name_norm(k->str, buf, sizeof(buf)) != MN_OK || buf[0] == '\0' || buf[0] == '*') {
			ERR(ctx, k, "invalid selector '%s' for %s", k->str, it->name);
			continue;
		}
		const policy_selector_t *first = NULL;
		for (size_t i = 0; i < e->n && first == NULL; i++)
			if (strcmp(e->v[i].name.v, buf) == 0)
				first = &e->v[i];
		if (first != NULL) {
			ERR(ctx, k, "selector '%s' defined twice (first at %u:%u)", buf,
			    (unsigned)first->name.pos.line, (unsigned)first->name.pos.col);
			continue;
		}
		const char *rec = scalar(ctx, k->str, k, k->value, "a string");
		if (rec == NULL)
			continue;
		policy_selector_t *s = &e->v[e->n];
		s->name.v = sdup(ctx, buf);
		s->name.pos = schema_pos(ctx, k);
		s->record.v = sdup(ctx, rec);
		s->record.pos = schema_pos(ctx, k->value);
		if (s->name.v == NULL || s->record.v == NULL)
			return;
		e->n++;
	}
}

/* ---- MTA-STS, TLS-RPT, BIMI ---------------------------------------------------- */

/*
 * mta_sts.mx: RFC 8461 §4.1 patterns: a host name, or "*." and a name (the
 * wildcard stands for exactly one label).  Kept lowercase, without a final dot.
 */
static bool item_mx(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = scalar(ctx, it->name, NULL, item, "a host name pattern");
	if (s == NULL)
		return false;
	const char *host = strncmp(s, "*.", 2) == 0 ? s + 2 : s;
	char buf[256];
	bool ok = mn_name_norm(host, buf, sizeof(buf)) == MN_OK && buf[0] != '\0' && strchr(buf, '*') == NULL &&
		  strchr(buf, '.') != NULL;
	if (!ok) {
		ERR(ctx, item, "invalid MX pattern '%s' for %s (expected a host name or *. and a name, "
		    "the * standing for one label)", s, it->name);
		return false;
	}
	policy_str_t *e = elem;
	char full[260];
	snprintf(full, sizeof(full), "%s%s", host != s ? "*." : "", buf);
	e->v = sdup(ctx, full);
	e->pos = schema_pos(ctx, item);
	return e->v != NULL;
}

static void conv_mx(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		    const ynode_t *val, void *dst)
{
	conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_mx, true);
}

/* "https://HOST[/...]" with a non-empty host; 'path' set: the path ends in that suffix. */
static bool https_url(const char *s, const char *suffix)
{
	if (strncasecmp(s, "https://", 8) != 0)
		return false;
	const char *h = s + 8;
	size_t hl = strcspn(h, "/?#");
	if (hl == 0 || memchr(h, '@', hl) != NULL)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == ';' || *p == ',' || (unsigned char)*p >= 0x7f)
			return false;
	if (suffix == NULL)
		return true;
	size_t pl = strcspn(h + hl, "?#");
	size_t sl = strlen(suffix);
	return pl > sl && strncasecmp(h + hl + pl - sl, suffix, sl) == 0;
}

/* "mailto:LOCAL@DOMAIN" */
static bool mailto_uri(const char *s)
{
	if (strncasecmp(s, "mailto:", 7) != 0)
		return false;
	const char *at = strchr(s + 7, '@');
	if (at == NULL || at == s + 7 || strchr(at + 1, '@') != NULL)
		return false;
	char buf[256];
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == ';' || *p == ',' || *p == '!' || (unsigned char)*p >= 0x7f)
			return false;
	return mn_name_norm(at + 1, buf, sizeof(buf)) == MN_OK && strchr(buf, '.') != NULL;
}

/* tls_rpt.rua: mailto: or https: (RFC 8460 §3). */
static bool item_tlsrpt_uri(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = scalar(ctx, it->name, NULL, item, "a URI");
	if (s == NULL)
		return false;
	if (!mailto_uri(s) && !https_url(s, NULL)) {
		ERR(ctx, item, "invalid URI '%s' for %s (expected mailto:ADDRESS or https://HOST/...)", s, it->name);
		return false;
	}
	return item_str(ctx, it, item, elem);
}

static void conv_tlsrpt_rua(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			    const ynode_t *val, void *dst)
{
	conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_tlsrpt_uri, true);
}

/* bimi.logo (an https URL of an .svg) and bimi.authority (an https URL). */
static void conv_bimi_url(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			  const ynode_t *val, void *dst)
{
	const char *s = scalar(ctx, it->name, key, val, "a URL");
	if (s == NULL)
		return;
	bool logo = strcmp(it->name, "logo") == 0;
	if (!https_url(s, logo ? ".svg" : NULL)) {
		ERR(ctx, val, "invalid URL '%s' for %s (expected https://HOST/...%s)", s, it->name,
		    logo ? ".svg" : "");
		return;
	}
	policy_str_t *d = dst;
	d->v = sdup(ctx, s);
	if (d->v != NULL)
		d->pos = schema_pos(ctx, val);
}

static const schema_value_t tsig_algs[] = {
	{ "hmac-md5", 0, false }, { "hmac-sha1", 0, false }, { "hmac-sha224", 0, false },
	{ "hmac-sha256", 0, false }, { "hmac-sha384", 0, false }, { "hmac-sha512", 0, false },
	{ NULL, 0, false },
};

static const schema_item_t schema_tsig_key[] = {
	{ .name = "algorithm", .type = SCHEMA_STR, .offset = offsetof(policy_tsig_t, algorithm),
	  .values = tsig_algs, .def = SCHEMA_DEF_STR("hmac-sha256") },
	{ .name = "secret_file", .type = SCHEMA_PATH, .offset = offsetof(policy_tsig_t, secret_file),
	  .flags = SCHEMA_REQUIRED },
	{ .name = NULL },
};

static void conv_tsig(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		      const ynode_t *val, void *dst)
{
	(void)it;
	if (!schema_expect_map(ctx, key, val))
		return;
	schema_tsigs_t *e = dst;
	size_t n = val != NULL && val->kind == YNODE_MAP ? val->n : 0;
	if (n > 0 && (e->v = alloc(ctx, n * sizeof(*e->v))) == NULL)
		return;
	e->n = 0;
	e->pos = schema_pos(ctx, where(key, val));
	for (const ynode_t *k = n > 0 ? val->first : NULL; k != NULL; k = k->next) {
		if (k->dup)
			continue;
		char *name = schema_name(ctx, k, "tsig", false);
		if (name == NULL)
			continue;
		const policy_tsig_t *first = NULL;
		for (size_t i = 0; i < e->n && first == NULL; i++)
			if (strcmp(e->v[i].name, name) == 0)
				first = &e->v[i];
		if (first != NULL) {
			ERR(ctx, k, "TSIG key '%s' defined twice (first at %u:%u)", name,
			    (unsigned)first->pos.line, (unsigned)first->pos.col);
			continue;
		}
		policy_tsig_t *t = &e->v[e->n++];
		t->name = name;
		t->pos = schema_pos(ctx, k);
		schema_map(ctx, schema_tsig_key, k, k->value, t);
		schema_defaults(ctx, schema_tsig_key, t);
	}
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
		if ((s = scalar(ctx, it->name, key, val, dur ? "a duration" : "a number")) == NULL)
			return;
		uint32_t v;
		if (dur ? mn_duration_parse(s, &v) != MN_OK : !parse_u32(s, &v)) {
			ERR(ctx, val, "invalid %s '%s' for %s", dur ? "duration" : "number", s, it->name);
			return;
		}
		uint32_t max = it->max != 0 ? it->max : UINT32_MAX;
		if (v < it->min || v > max) {
			if (max == UINT32_MAX)
				ERR(ctx, val, "value '%s' out of range for %s (at least %u%s)", s, it->name,
				    (unsigned)it->min, dur ? "s" : "");
			else
				ERR(ctx, val, "value '%s' out of range for %s (%u..%u)", s, it->name,
				    (unsigned)it->min, (unsigned)max);
			return;
		}
		policy_u32_t *e = dst;
		e->v = v;
		e->pos = schema_pos(ctx, val);
		return;
	}
	case SCHEMA_BOOL: {
		if ((s = scalar(ctx, it->name, key, val, "true or false")) == NULL)
			return;
		bool yn = (it->flags & SCHEMA_YN) != 0;
		policy_bool_t *e = dst;
		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || (yn && strcasecmp(s, "y") == 0)) {
			e->v = true;
		} else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
			   (yn && strcasecmp(s, "n") == 0)) {
			e->v = false;
		} else {
			ERR(ctx, val, "invalid boolean '%s' for %s (expected %s)", s, it->name,
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
		if ((s = scalar(ctx, it->name, key, val, what)) == NULL)
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
				ERR(ctx, val, "invalid path '' for %s", it->name);
				return;
			}
			size_t len = strlen(ctx->dir) + strlen(s) + 2;
			if ((e->v = alloc(ctx, len)) != NULL)
				snprintf(e->v, len, "%s%s%s", ctx->dir,
					 ctx->dir[strlen(ctx->dir) - 1] == '/' ? "" : "/", s);
		} else {
			e->v = sdup(ctx, s);
		}
		if (e->v != NULL)
			e->pos = schema_pos(ctx, val);
		return;
	}
	case SCHEMA_ENUM: {
		if ((s = scalar(ctx, it->name, key, val, "a string")) == NULL)
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
		conv_list(ctx, it, key, val, (anylist_t *)dst, sizeof(policy_enum_t), item_enum, true);
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
		conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_name, false);
		return;
	case SCHEMA_STRS:
		conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_str, false);
		return;
	case SCHEMA_NET4S:
	case SCHEMA_NET6S:
		conv_list(ctx, it, key, val, dst, sizeof(policy_net_t), item_net, false);
		return;
	case SCHEMA_LISTEN:
		conv_list(ctx, it, key, val, dst, sizeof(policy_listen_t), item_listen, false);
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
		conv_selectors(ctx, it, key, val, dst);
		return;
	case SCHEMA_TSIGS:
		conv_tsig(ctx, it, key, val, dst);
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
		((policy_str_t *)f)->v = sdup(ctx, def->s);
		return;
	case SCHEMA_ENUMS: {
		schema_enums_t *e = f;
		if ((e->v = alloc(ctx, sizeof(*e->v))) == NULL)
			return;
		memset(e->v, 0, sizeof(*e->v));
		e->v->v = (int)def->u;
		e->n = 1;
		return;
	}
	case SCHEMA_LISTEN: {
		schema_listens_t *e = f;
		if ((e->v = alloc(ctx, sizeof(*e->v))) == NULL)
			return;
		memset(e->v, 0, sizeof(*e->v));
		bool ok = parse_addr_port(def->s, &e->v->addr, &e->v->addrlen);
		assert(ok);
		(void)ok;
		if ((e->v->text = sdup(ctx, def->s)) != NULL)
			e->n = 1;
		return;
	}
	default:
		assert(!"no built-in default for this type");
		return;
	}
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
				ERR(ctx, k, "unknown key '%s'", k->str);
				continue;
			}
			seen |= UINT64_C(1) << i;
			convert(ctx, it, k, k->value, (char *)base + it->offset);
			if (it->flags & SCHEMA_REMOVED)
				report(ctx, DIAG_WARNING, k, "%s was removed by RFC 9989 and is ignored by receivers",
				       it->name);
		}
	}
	for (size_t i = 0; table[i].name != NULL; i++) {
		if (!(table[i].flags & SCHEMA_REQUIRED) || (seen & (UINT64_C(1) << i)))
			continue;
		if (key != NULL)
			ERR(ctx, key, "missing required key '%s' in %s", table[i].name, key->str);
		else if (val != NULL)
			ERR(ctx, val, "missing required key '%s'", table[i].name);
	}
}

/* ---- tables ----------------------------------------------------------------------- */

/*
 * Adding a key is its member in policy.h and its line here: the line's type,
 * offset and default drive the conversion, the built-in default, the merge
 * of `defaults:` into each domain (schema_merge) and the compile-cache digest
 * (zones/incr.c walks these tables; a server key the zones are made from is
 * flagged SCHEMA_ZONES).  A domain member without a line fails test_incr.
 */

const schema_value_t schema_spf_modes[] = {
	{ "flatten", SPF_MODE_FLATTEN, false }, { "macro", SPF_MODE_MACRO, false },
	{ "auto", SPF_MODE_AUTO, false }, { "plain", SPF_MODE_PLAIN, false },
	{ NULL, 0, false },
};

const schema_value_t schema_spf_alls[] = {
	{ "fail", SPF_ALL_FAIL, false }, { "softfail", SPF_ALL_SOFTFAIL, false },
	{ "neutral", SPF_ALL_NEUTRAL, false }, { "pass", SPF_ALL_PASS, false },
	{ "-all", SPF_ALL_FAIL, true }, { "~all", SPF_ALL_SOFTFAIL, true },
	{ "?all", SPF_ALL_NEUTRAL, true }, { "+all", SPF_ALL_PASS, true },
	{ NULL, 0, false },
};

const schema_value_t schema_dkim_algs[] = {
	{ "rsa-1024", DKIM_ALG_RSA1024, false }, { "rsa-2048", DKIM_ALG_RSA2048, false },
	{ "rsa-3072", DKIM_ALG_RSA3072, false }, { "rsa-4096", DKIM_ALG_RSA4096, false },
	{ "ed25519", DKIM_ALG_ED25519, false },
	{ NULL, 0, false },
};

const schema_value_t schema_dmarc_ps[] = {
	{ "none", DMARC_P_NONE, false }, { "quarantine", DMARC_P_QUARANTINE, false },
	{ "reject", DMARC_P_REJECT, false },
	{ NULL, 0, false },
};

static const schema_value_t dmarc_psds[] = {
	{ "y", DMARC_PSD_Y, false }, { "n", DMARC_PSD_N, false }, { "u", DMARC_PSD_U, false },
	{ NULL, 0, false },
};

static const schema_value_t dmarc_aligns[] = {
	{ "r", DMARC_ALIGN_R, false }, { "s", DMARC_ALIGN_S, false },
	{ NULL, 0, false },
};

#define TTL_MAX 2147483647u	/* RFC 2181 */
#define DAY 86400u

static const schema_item_t schema_spf[] = {
	{ .name = "mode", .type = SCHEMA_ENUM, .offset = offsetof(policy_spf_t, mode), .values = schema_spf_modes,
	  .def = SCHEMA_DEF(SPF_MODE_FLATTEN) },
	{ .name = "ip4", .type = SCHEMA_NET4S, .offset = offsetof(policy_spf_t, ip4) },
	{ .name = "ip6", .type = SCHEMA_NET6S, .offset = offsetof(policy_spf_t, ip6) },
	{ .name = "a", .type = SCHEMA_NAMES, .offset = offsetof(policy_spf_t, a) },
	{ .name = "mx", .type = SCHEMA_BOOL, .offset = offsetof(policy_spf_t, mx) },
	{ .name = "include", .type = SCHEMA_NAMES, .offset = offsetof(policy_spf_t, include) },
	{ .name = "all", .type = SCHEMA_ENUM, .offset = offsetof(policy_spf_t, all), .values = schema_spf_alls,
	  .def = SCHEMA_DEF(SPF_ALL_FAIL) },
	{ .name = NULL },
};

static const schema_item_t schema_dkim[] = {
	{ .name = "algorithm", .type = SCHEMA_ENUMS, .offset = offsetof(policy_dkim_t, algorithm),
	  .values = schema_dkim_algs, .flags = SCHEMA_NONEMPTY, .def = SCHEMA_DEF(DKIM_ALG_RSA2048) },
	{ .name = "rotate_every", .type = SCHEMA_DURATION, .offset = offsetof(policy_dkim_t, rotate_every), .min = 1,
	  .def = SCHEMA_DEF(90 * DAY) },
	{ .name = "publish_ahead", .type = SCHEMA_DURATION, .offset = offsetof(policy_dkim_t, publish_ahead),
	  .def = SCHEMA_DEF(3 * DAY) },
	{ .name = "retire_after", .type = SCHEMA_DURATION, .offset = offsetof(policy_dkim_t, retire_after),
	  .def = SCHEMA_DEF(7 * DAY) },
	{ .name = "revoked_for", .type = SCHEMA_DURATION, .offset = offsetof(policy_dkim_t, revoked_for),
	  .def = SCHEMA_DEF(30 * DAY) },
	{ .name = "on_change", .type = SCHEMA_STR, .offset = offsetof(policy_dkim_t, on_change) },
	{ .name = "selectors", .type = SCHEMA_SELECTORS, .offset = offsetof(policy_dkim_t, selectors) },
	{ .name = NULL },
};

static const schema_item_t schema_dmarc[] = {
	{ .name = "p", .type = SCHEMA_ENUM, .offset = offsetof(policy_dmarc_t, p), .values = schema_dmarc_ps },
	{ .name = "sp", .type = SCHEMA_ENUM, .offset = offsetof(policy_dmarc_t, sp), .values = schema_dmarc_ps },
	{ .name = "np", .type = SCHEMA_ENUM, .offset = offsetof(policy_dmarc_t, np), .values = schema_dmarc_ps },
	{ .name = "psd", .type = SCHEMA_ENUM, .offset = offsetof(policy_dmarc_t, psd), .values = dmarc_psds },
	{ .name = "t", .type = SCHEMA_BOOL, .offset = offsetof(policy_dmarc_t, t), .flags = SCHEMA_YN },
	{ .name = "adkim", .type = SCHEMA_ENUM, .offset = offsetof(policy_dmarc_t, adkim), .values = dmarc_aligns },
	{ .name = "aspf", .type = SCHEMA_ENUM, .offset = offsetof(policy_dmarc_t, aspf), .values = dmarc_aligns },
	{ .name = "fo", .type = SCHEMA_STR, .offset = offsetof(policy_dmarc_t, fo), .conv = conv_fo },
	{ .name = "rua", .type = SCHEMA_STRS, .offset = offsetof(policy_dmarc_t, rua) },
	{ .name = "ruf", .type = SCHEMA_STRS, .offset = offsetof(policy_dmarc_t, ruf) },
	{ .name = "pct", .type = SCHEMA_U32, .offset = offsetof(policy_dmarc_t, pct), .flags = SCHEMA_REMOVED,
	  .max = 100 },
	{ .name = "rf", .type = SCHEMA_STR, .offset = offsetof(policy_dmarc_t, rf), .flags = SCHEMA_REMOVED },
	{ .name = "ri", .type = SCHEMA_DURATION, .offset = offsetof(policy_dmarc_t, ri), .flags = SCHEMA_REMOVED },
	{ .name = "authorize_reports_for", .type = SCHEMA_NAMES,
	  .offset = offsetof(policy_dmarc_t, authorize_reports_for), .flags = SCHEMA_WILDCARD },
	{ .name = NULL },
};

const schema_value_t schema_mta_sts_modes[] = {
	{ "enforce", MTA_STS_ENFORCE, false }, { "testing", MTA_STS_TESTING, false },
	{ "none", MTA_STS_NONE, false },
	{ NULL, 0, false },
};

#define MTA_STS_MAX_AGE 31557600u	/* RFC 8461 §3.2: about one year */

static const schema_item_t schema_mta_sts[] = {
	{ .name = "mode", .type = SCHEMA_ENUM, .offset = offsetof(policy_mta_sts_t, mode),
	  .values = schema_mta_sts_modes, .def = SCHEMA_DEF(MTA_STS_TESTING) },
	{ .name = "mx", .type = SCHEMA_STRS, .offset = offsetof(policy_mta_sts_t, mx), .conv = conv_mx },
	{ .name = "max_age", .type = SCHEMA_DURATION, .offset = offsetof(policy_mta_sts_t, max_age),
	  .max = MTA_STS_MAX_AGE, .def = SCHEMA_DEF(7 * DAY) },
	{ .name = NULL },
};

static const schema_item_t schema_tls_rpt[] = {
	{ .name = "rua", .type = SCHEMA_STRS, .offset = offsetof(policy_tls_rpt_t, rua),
	  .flags = SCHEMA_NONEMPTY, .conv = conv_tlsrpt_rua },	/* required: checked after the merge */
	{ .name = NULL },
};

static const schema_item_t schema_bimi[] = {
	{ .name = "logo", .type = SCHEMA_STR, .offset = offsetof(policy_bimi_t, logo),
	  .conv = conv_bimi_url },	/* required: checked after the merge (defaults may set it) */
	{ .name = "authority", .type = SCHEMA_STR, .offset = offsetof(policy_bimi_t, authority),
	  .conv = conv_bimi_url },
	{ .name = NULL },
};

const schema_value_t schema_dnssec_algs[] = {
	{ "ecdsap256sha256", DNSSEC_ALG_ECDSAP256SHA256, false }, { "ed25519", DNSSEC_ALG_ED25519, false },
	{ NULL, 0, false },
};

static const schema_value_t dnssec_keys[] = {
	{ "csk", DNSSEC_KEYS_CSK, false }, { "ksk+zsk", DNSSEC_KEYS_KSK_ZSK, false },
	{ NULL, 0, false },
};

/* `dnssec: true|false` sets enabled; a mapping sets it true unless it says otherwise (conv_dnssec) */
const schema_item_t schema_dnssec[] = {
	{ .name = "enabled", .type = SCHEMA_BOOL, .offset = offsetof(policy_dnssec_t, enabled),
	  .def = SCHEMA_DEF(false) },
	{ .name = "algorithm", .type = SCHEMA_ENUM, .offset = offsetof(policy_dnssec_t, algorithm),
	  .values = schema_dnssec_algs, .def = SCHEMA_DEF(DNSSEC_ALG_ECDSAP256SHA256) },
	{ .name = "keys", .type = SCHEMA_ENUM, .offset = offsetof(policy_dnssec_t, keys),
	  .values = dnssec_keys, .def = SCHEMA_DEF(DNSSEC_KEYS_CSK) },
	{ .name = NULL },
};

/*
 * dnssec: true or false (enabled, at the value), or a mapping of enabled,
 * algorithm and keys, which turns it on (enabled at the key) unless its
 * enabled says false.
 */
static void conv_dnssec(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			const ynode_t *val, void *dst)
{
	policy_dnssec_t *d = dst;
	if (val != NULL && val->kind == YNODE_SCALAR && !ynode_is_null(val)) {
		const schema_item_t b = { .name = it->name, .type = SCHEMA_BOOL };
		convert(ctx, &b, key, val, &d->enabled);
		d->present = POLICY_SET(d->enabled);
		return;
	}
	if (val == NULL || val->kind != YNODE_MAP) {
		ERR(ctx, where(key, val), "expected true, false or a mapping for %s", it->name);
		return;
	}
	d->present = true;
	d->enabled.v = true;
	d->enabled.pos = schema_pos(ctx, key);
	schema_map(ctx, schema_dnssec, key, val, d);
}

const schema_item_t schema_domain[] = {
	{ .name = "spf", .type = SCHEMA_MAP, .offset = offsetof(policy_domain_t, spf),
	  .flags = SCHEMA_PRESENT, .sub = schema_spf },
	{ .name = "dkim", .type = SCHEMA_MAP, .offset = offsetof(policy_domain_t, dkim),
	  .flags = SCHEMA_PRESENT, .sub = schema_dkim },
	{ .name = "dmarc", .type = SCHEMA_MAP, .offset = offsetof(policy_domain_t, dmarc),
	  .flags = SCHEMA_PRESENT, .sub = schema_dmarc },
	{ .name = "mta_sts", .type = SCHEMA_MAP, .offset = offsetof(policy_domain_t, mta_sts),
	  .flags = SCHEMA_PRESENT, .sub = schema_mta_sts },
	{ .name = "tls_rpt", .type = SCHEMA_MAP, .offset = offsetof(policy_domain_t, tls_rpt),
	  .flags = SCHEMA_PRESENT, .sub = schema_tls_rpt },
	{ .name = "bimi", .type = SCHEMA_MAP, .offset = offsetof(policy_domain_t, bimi),
	  .flags = SCHEMA_PRESENT, .sub = schema_bimi },
	{ .name = "dnssec", .type = SCHEMA_MAP, .offset = offsetof(policy_domain_t, dnssec),
	  .flags = SCHEMA_PRESENT, .sub = schema_dnssec, .conv = conv_dnssec },
	{ .name = NULL },
};

#define XFR(m) (offsetof(policy_server_t, transfer.m) - offsetof(policy_server_t, transfer))

static const schema_item_t schema_transfer[] = {
	{ .name = "allow", .type = SCHEMA_STRS, .offset = XFR(allow), .conv = conv_allow },
	{ .name = "notify", .type = SCHEMA_STRS, .offset = XFR(notify), .conv = conv_notify },
	{ .name = "tsig", .type = SCHEMA_TSIGS, .offset = XFR(tsig) },
	{ .name = NULL },
};

#define RPT(m) (offsetof(policy_server_t, reports.m) - offsetof(policy_server_t, reports))

static const schema_item_t schema_reports[] = {
	{ .name = "keep_raw", .type = SCHEMA_DURATION, .offset = RPT(keep_raw), .min = DAY,
	  .def = SCHEMA_DEF(90 * DAY) },
	{ .name = "keep", .type = SCHEMA_DURATION, .offset = RPT(keep), .min = DAY,
	  .def = SCHEMA_DEF(730 * DAY) },
	{ .name = NULL },
};

const schema_item_t schema_server[] = {
	{ .name = "listen", .type = SCHEMA_LISTEN, .offset = offsetof(policy_server_t, listen),
	  .flags = SCHEMA_NONEMPTY, .def = SCHEMA_DEF_STR("127.0.0.1:53") },
	{ .name = "nameservers", .type = SCHEMA_NAMES, .offset = offsetof(policy_server_t, nameservers),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY | SCHEMA_ZONES },
	{ .name = "hostmaster", .type = SCHEMA_NAME, .offset = offsetof(policy_server_t, hostmaster),
	  .flags = SCHEMA_REQUIRED | SCHEMA_ZONES },
	{ .name = "ttl", .type = SCHEMA_DURATION, .offset = offsetof(policy_server_t, ttl), .max = TTL_MAX,
	  .flags = SCHEMA_ZONES, .def = SCHEMA_DEF(3600) },
	{ .name = "negative_ttl", .type = SCHEMA_DURATION, .offset = offsetof(policy_server_t, negative_ttl),
	  .max = TTL_MAX, .flags = SCHEMA_ZONES, .def = SCHEMA_DEF(300) },
	{ .name = "state_dir", .type = SCHEMA_PATH, .offset = offsetof(policy_server_t, state_dir),
	  .flags = SCHEMA_ZONES, .def = SCHEMA_DEF_STR(MN_STATE_DIR) },
	/* the MTA-STS policy files: written by the compile, not in the zones */
	{ .name = "mta_sts_dir", .type = SCHEMA_PATH, .offset = offsetof(policy_server_t, mta_sts_dir) },
	/* DNSSEC: each domain takes server.dnssec where it sets nothing (policy.c) */
	{ .name = "dnssec", .type = SCHEMA_MAP, .offset = offsetof(policy_server_t, dnssec),
	  .flags = SCHEMA_PRESENT | SCHEMA_ZONES, .sub = schema_dnssec, .conv = conv_dnssec },
	{ .name = "dnssec_validity", .type = SCHEMA_DURATION, .offset = offsetof(policy_server_t, dnssec_validity),
	  .min = 3600, .flags = SCHEMA_ZONES, .def = SCHEMA_DEF(14 * DAY) },
	{ .name = "dnssec_refresh", .type = SCHEMA_DURATION, .offset = offsetof(policy_server_t, dnssec_refresh),
	  .min = 1800, .flags = SCHEMA_ZONES, .def = SCHEMA_DEF(7 * DAY) },
	{ .name = "tcp_idle_timeout", .type = SCHEMA_DURATION, .offset = offsetof(policy_server_t, tcp_idle_timeout),
	  .min = 1, .def = SCHEMA_DEF(10) },
	{ .name = "tcp_max_clients", .type = SCHEMA_U32, .offset = offsetof(policy_server_t, tcp_max_clients),
	  .min = 1, .def = SCHEMA_DEF(1000) },
	{ .name = "tcp_max_per_ip", .type = SCHEMA_U32, .offset = offsetof(policy_server_t, tcp_max_per_ip),
	  .min = 1, .def = SCHEMA_DEF(32) },
	{ .name = "transfer", .type = SCHEMA_MAP, .offset = offsetof(policy_server_t, transfer),
	  .sub = schema_transfer },
	{ .name = "user", .type = SCHEMA_STR, .offset = offsetof(policy_server_t, user) },
	{ .name = "group", .type = SCHEMA_STR, .offset = offsetof(policy_server_t, group) },
	/* UDP responses/s per prefix: NSD's rrl-ratelimit */
	{ .name = "rate_limit", .type = SCHEMA_U32, .offset = offsetof(policy_server_t, rate_limit),
	  .max = 1000000, .def = SCHEMA_DEF(200) },
	{ .name = "rate_limit_slip", .type = SCHEMA_U32, .offset = offsetof(policy_server_t, rate_limit_slip),
	  .max = 100, .def = SCHEMA_DEF(2) },
	{ .name = "identity", .type = SCHEMA_STR, .offset = offsetof(policy_server_t, identity),
	  .conv = conv_text255 },
	{ .name = "version", .type = SCHEMA_STR, .offset = offsetof(policy_server_t, version),
	  .conv = conv_text255 },
	{ .name = "cookie_secret", .type = SCHEMA_STR, .offset = offsetof(policy_server_t, cookie_secret),
	  .conv = conv_hex16 },
	{ .name = "metrics", .type = SCHEMA_STR, .offset = offsetof(policy_server_t, metrics),
	  .conv = conv_addr },
	{ .name = "log_queries", .type = SCHEMA_BOOL, .offset = offsetof(policy_server_t, log_queries) },
	{ .name = "threads", .type = SCHEMA_U32, .offset = offsetof(policy_server_t, threads),
	  .min = 1, .max = 64 },
	{ .name = "parse_cache", .type = SCHEMA_BOOL, .offset = offsetof(policy_server_t, parse_cache) },
	{ .name = "reports", .type = SCHEMA_MAP, .offset = offsetof(policy_server_t, reports),
	  .sub = schema_reports },
	{ .name = NULL },
};
