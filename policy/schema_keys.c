/* SPDX-License-Identifier: GPL-3.0-or-later */
/* schema_keys.c -- the key tables of a policy, and the conversions particular keys need */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "policy/mn.h"
#include "policy/schema_internal.h"

/* transfer.notify: like listen, kept as text. */
static bool item_notify(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = schema_scalar(ctx, it->name, NULL, item, "an address");
	if (s == NULL)
		return false;
	struct sockaddr_storage ss;
	socklen_t len;
	if (!schema_parse_addr_port(s, &ss, &len)) {
		SCHEMA_ERR(ctx, item, "invalid address '%s' for %s (expected ADDRESS[:PORT] or [IPV6][:PORT])",
			   s, it->name);
		return false;
	}
	return schema_item_str(ctx, it, item, elem);
}

/* transfer.allow: a network, or "key:NAME" (the key must be in tsig: checked by policy.c). */
static bool item_allow(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *item, void *elem)
{
	const char *s = schema_scalar(ctx, it->name, NULL, item, "a string");
	if (s == NULL)
		return false;
	if (strncmp(s, "key:", 4) == 0) {
		char buf[256];
		if (mn_name_norm(s + 4, buf, sizeof(buf)) != MN_OK || buf[0] == '\0') {
			SCHEMA_ERR(ctx, item, "invalid key name '%s' for %s", s + 4, it->name);
			return false;
		}
	} else {
		mn_net_t net;
		int r = mn_net_parse(s, 0, false, &net);
		if (r != MN_OK) {
			SCHEMA_ERR(ctx, item, "invalid network '%s' for %s%s", s, it->name,
				   mn_net_parse(s, 0, true, &net) == MN_OK ? " (host bits set)" :
				   " (expected a network or key:NAME)");
			return false;
		}
	}
	return schema_item_str(ctx, it, item, elem);
}

static void conv_allow(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		       const ynode_t *val, void *dst)
{
	schema_conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_allow, false);
}

static void conv_notify(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			const ynode_t *val, void *dst)
{
	schema_conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_notify, false);
}

/* server.metrics: one ADDRESS:PORT (the port is required), kept as text. */
static void conv_addr(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		      const ynode_t *val, void *dst)
{
	const char *s = schema_scalar(ctx, it->name, key, val, "an address");
	if (s == NULL)
		return;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *e = s[0] == '[' ? strchr(s, ']') : s;
	if (!schema_parse_addr_port(s, &ss, &len) || e == NULL || strchr(e, ':') == NULL ||
	    (s[0] != '[' && strchr(s, ':') != strrchr(s, ':'))) {
		SCHEMA_ERR(ctx, val, "invalid address '%s' for %s (expected ADDRESS:PORT or [IPV6]:PORT)",
			   s, it->name);
		return;
	}
	policy_str_t *d = dst;
	d->v = schema_sdup(ctx, s);
	if (d->v != NULL)
		d->pos = schema_pos(ctx, val);
}

/* server.cookie_secret: 32 hexadecimal digits. */
static void conv_hex16(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		       const ynode_t *val, void *dst)
{
	const char *s = schema_scalar(ctx, it->name, key, val, "a string");
	if (s == NULL)
		return;
	bool ok = strlen(s) == 32;
	for (const char *p = s; ok && *p != '\0'; p++)
		ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F');
	if (!ok) {
		SCHEMA_ERR(ctx, val, "invalid value for %s (expected 32 hexadecimal digits)", it->name);
		return;
	}
	policy_str_t *d = dst;
	d->v = schema_sdup(ctx, s);
	if (d->v != NULL)
		d->pos = schema_pos(ctx, val);
}

/* server.identity, server.version: at most 255 bytes (one TXT string, NSID). */
static void conv_text255(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			 const ynode_t *val, void *dst)
{
	const char *s = schema_scalar(ctx, it->name, key, val, "a string");
	if (s == NULL)
		return;
	if (s[0] == '\0' || strlen(s) > 255) {
		SCHEMA_ERR(ctx, val, "invalid value for %s (expected 1 to 255 characters)", it->name);
		return;
	}
	policy_str_t *d = dst;
	d->v = schema_sdup(ctx, s);
	if (d->v != NULL)
		d->pos = schema_pos(ctx, val);
}

/* ---- special values ------------------------------------------------------------- */

static void conv_fo(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		    const ynode_t *val, void *dst)
{
	const char *s = schema_scalar(ctx, it->name, key, val, "a string");
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
		SCHEMA_ERR(ctx, val, "invalid value '%s' for %s (expected 0, 1, d or s, separated by ':')", s,
			   it->name);
		return;
	}
	policy_str_t *e = dst;
	e->v = schema_sdup(ctx, s);
	e->pos = schema_pos(ctx, val);
}

void schema_conv_selectors(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			   const ynode_t *val, void *dst)
{
	if (!schema_expect_map(ctx, key, val))
		return;
	schema_selectors_t *e = dst;
	size_t n = val != NULL && val->kind == YNODE_MAP ? val->n : 0;
	if (n > 0 && (e->v = schema_alloc(ctx, n * sizeof(*e->v))) == NULL)
		return;
	e->n = 0;
	e->pos = schema_pos(ctx, schema_where(key, val));
	for (const ynode_t *k = n > 0 ? val->first : NULL; k != NULL; k = k->next) {
		if (k->dup)
			continue;
		char buf[256];
		if (mn_name_norm(k->str, buf, sizeof(buf)) != MN_OK || buf[0] == '\0' || buf[0] == '*') {
			SCHEMA_ERR(ctx, k, "invalid selector '%s' for %s", k->str, it->name);
			continue;
		}
		const policy_selector_t *first = NULL;
		for (size_t i = 0; i < e->n && first == NULL; i++)
			if (strcmp(e->v[i].name.v, buf) == 0)
				first = &e->v[i];
		if (first != NULL) {
			SCHEMA_ERR(ctx, k, "selector '%s' defined twice (first at %u:%u)", buf,
				   (unsigned)first->name.pos.line, (unsigned)first->name.pos.col);
			continue;
		}
		const char *rec = schema_scalar(ctx, k->str, k, k->value, "a string");
		if (rec == NULL)
			continue;
		policy_selector_t *s = &e->v[e->n];
		s->name.v = schema_sdup(ctx, buf);
		s->name.pos = schema_pos(ctx, k);
		s->record.v = schema_sdup(ctx, rec);
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
	const char *s = schema_scalar(ctx, it->name, NULL, item, "a host name pattern");
	if (s == NULL)
		return false;
	const char *host = strncmp(s, "*.", 2) == 0 ? s + 2 : s;
	char buf[256];
	bool ok = mn_name_norm(host, buf, sizeof(buf)) == MN_OK && buf[0] != '\0' && strchr(buf, '*') == NULL &&
		  strchr(buf, '.') != NULL;
	if (!ok) {
		SCHEMA_ERR(ctx, item, "invalid MX pattern '%s' for %s (expected a host name or *. and a name, "
			   "the * standing for one label)", s, it->name);
		return false;
	}
	policy_str_t *e = elem;
	char full[260];
	snprintf(full, sizeof(full), "%s%s", host != s ? "*." : "", buf);
	e->v = schema_sdup(ctx, full);
	e->pos = schema_pos(ctx, item);
	return e->v != NULL;
}

static void conv_mx(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		    const ynode_t *val, void *dst)
{
	schema_conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_mx, true);
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
	const char *s = schema_scalar(ctx, it->name, NULL, item, "a URI");
	if (s == NULL)
		return false;
	if (!mailto_uri(s) && !https_url(s, NULL)) {
		SCHEMA_ERR(ctx, item, "invalid URI '%s' for %s (expected mailto:ADDRESS or https://HOST/...)", s, it->name);
		return false;
	}
	return schema_item_str(ctx, it, item, elem);
}

static void conv_tlsrpt_rua(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			    const ynode_t *val, void *dst)
{
	schema_conv_list(ctx, it, key, val, dst, sizeof(policy_str_t), item_tlsrpt_uri, true);
}

/* bimi.logo (an https URL of an .svg) and bimi.authority (an https URL). */
static void conv_bimi_url(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
			  const ynode_t *val, void *dst)
{
	const char *s = schema_scalar(ctx, it->name, key, val, "a URL");
	if (s == NULL)
		return;
	bool logo = strcmp(it->name, "logo") == 0;
	if (!https_url(s, logo ? ".svg" : NULL)) {
		SCHEMA_ERR(ctx, val, "invalid URL '%s' for %s (expected https://HOST/...%s)", s, it->name,
			   logo ? ".svg" : "");
		return;
	}
	policy_str_t *d = dst;
	d->v = schema_sdup(ctx, s);
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

void schema_conv_tsigs(schema_ctx_t *ctx, const schema_item_t *it, const ynode_t *key,
		       const ynode_t *val, void *dst)
{
	(void)it;
	if (!schema_expect_map(ctx, key, val))
		return;
	schema_tsigs_t *e = dst;
	size_t n = val != NULL && val->kind == YNODE_MAP ? val->n : 0;
	if (n > 0 && (e->v = schema_alloc(ctx, n * sizeof(*e->v))) == NULL)
		return;
	e->n = 0;
	e->pos = schema_pos(ctx, schema_where(key, val));
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
			SCHEMA_ERR(ctx, k, "TSIG key '%s' defined twice (first at %u:%u)", name,
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
	/* rollovers by `mailns keys rotate` (keys/dnsroll.c); 0: only when asked (--dnssec-roll) */
	{ .name = "zsk_lifetime", .type = SCHEMA_DURATION, .offset = offsetof(policy_dnssec_t, zsk_lifetime),
	  .def = SCHEMA_DEF(90 * DAY) },
	{ .name = "ksk_lifetime", .type = SCHEMA_DURATION, .offset = offsetof(policy_dnssec_t, ksk_lifetime),
	  .def = SCHEMA_DEF(0) },
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
		schema_convert(ctx, &b, key, val, &d->enabled);
		d->present = POLICY_SET(d->enabled);
		return;
	}
	if (val == NULL || val->kind != YNODE_MAP) {
		SCHEMA_ERR(ctx, schema_where(key, val), "expected true, false or a mapping for %s", it->name);
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
