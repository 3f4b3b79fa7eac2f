/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_check_dns.c -- mailns check --dns: what the world sees through a resolver */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/cmd.h"
#include "tools/https.h"
#include "tools/resolve.h"
#include "zones/mtasts.h"
#include "zones/records.h"
#include "zones/zone.h"

/*
 * Severities (documented in mailns(1)):
 *  - a zone not delegated to any of server.nameservers (_domainkey, _dmarc,
 *    _spf; _mta-sts, _smtp._tls, _bimi when the domain has the key): error (nothing we
 *    serve is visible); delegated to some of them and others too, or to only
 *    some: warning;
 *  - the apex SPF record missing, doubled, or without include:_spf.D: error;
 *  - a foreign report destination without its authorization record: warning
 *    (receivers then drop the reports, mail still flows; SPEC 6);
 *  - a served DKIM key missing from DNS or different from the local one: error;
 *  - MTA-STS (mode testing or enforce): an MX host of the domain that no mx
 *    pattern covers: error (enforcing senders will not deliver to it);
 *  - the policy file fetched from https://mta-sts.D/.well-known/mta-sts.txt
 *    (the addresses the resolver gives for mta-sts.D, port 443, certificate
 *    and name verified, no redirect followed, 64 KiB at most) missing or
 *    different from the local one: error;
 *  - a signed zone (dnssec) whose parent has no DS: warning (the zone is not
 *    validated); DS records at the parent of which none matches a SEP key of
 *    the zone (state_dir/dnssec): error (validation fails: SERVFAIL for every
 *    validating resolver).  A DS of another digest type than SHA-256 matches
 *    on its key tag and algorithm; any published SEP key matches (both during
 *    a KSK/CSK rollover); a rollover waiting for the DS of its new key at the
 *    parent: warning;
 *  - a query that gets no usable answer (timeout, SERVFAIL, ...): error.
 *    After a timeout the resolver is not asked again (every check would wait
 *    for it): one more error says the checks stopped.
 */

typedef struct ctx {
	const policy_t *p;
	const zones_t *zs;
	resolve_t *res;
	diag_t *diag;
	const char *ca_file;	/* --ca-file, or NULL: the system store */
	bool stopped;		/* the resolver timed out: no more queries */
} ctx_t;

/*
 * Asks (name, type).  A failure is an error at pos ("cannot resolve NAME TYPE
 * (why)") and *ok = false; so is a stopped resolver (silently).  Returns
 * MN_OK or MN_ENOMEM.
 */
static int ask(ctx_t *c, const char *name, uint16_t type, const mn_pos_t *pos,
	       resolve_result_t *out, bool *ok)
{
	*ok = false;
	memset(out, 0, sizeof(*out));
	if (c->stopped)
		return MN_OK;
	int r = resolve_query(c->res, name, type, out);
	if (r == MN_EINVAL) {
		diag_error(c->diag, pos, "cannot resolve %s %s (bad name)", name, resolve_type_name(type));
		return MN_OK;
	}
	if (r != MN_OK)
		return r;
	if (out->status == RESOLVE_FAIL) {
		diag_error(c->diag, pos, "cannot resolve %s %s (%s)", name, resolve_type_name(type), out->why);
		if (strcmp(out->why, "timeout") == 0)
			c->stopped = true;
		resolve_result_clear(out);
		return MN_OK;
	}
	*ok = true;
	return MN_OK;
}

static const char *negative_why(const resolve_result_t *res, const char *nodata)
{
	return res->status == RESOLVE_NXDOMAIN ? "NXDOMAIN" : nodata;
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* ---- 1. delegations ------------------------------------------------------- */

enum { ZONES_MAX = CMD_ZONES_MAX };

static bool domain_zone(const policy_domain_t *d, size_t k, char zone[300])
{
	return cmd_domain_zone(d, k, zone);
}

static int check_delegation(ctx_t *c, const policy_domain_t *d, const char *expected)
{
	const policy_strs_t *ns = &c->p->server.nameservers;
	int r = MN_OK;
	for (size_t k = 0; r == MN_OK && k < ZONES_MAX; k++) {
		char zone[300];
		if (!domain_zone(d, k, zone))
			continue;
		resolve_result_t res;
		bool ok;
		r = ask(c, zone, ZONE_T_NS, &d->pos, &res, &ok);
		if (r != MN_OK || !ok)
			continue;
		if (res.status != RESOLVE_ANSWER) {
			diag_error(c->diag, &d->pos, "%s is not delegated to this server (NS: none; expected %s)",
				   zone, expected);
			resolve_result_clear(&res);
			continue;
		}
		qsort(res.v, res.n, sizeof(*res.v), str_cmp);
		size_t ours = 0, theirs = 0, found = 0;
		for (size_t i = 0; i < res.n; i++) {
			if (i > 0 && strcmp(res.v[i], res.v[i - 1]) == 0)
				continue;
			bool mine = false;
			for (size_t j = 0; j < ns->n && !mine; j++)
				mine = strcmp(res.v[i], ns->v[j].v) == 0;
			if (mine)
				ours++;
			else
				theirs++;
		}
		found = ours + theirs;
		mn_buf_t got = { 0 };
		for (size_t i = 0; i < res.n; i++) {
			if (i > 0 && strcmp(res.v[i], res.v[i - 1]) == 0)
				continue;
			mn_buf_addf(&got, "%s%s", got.len ? ", " : "", res.v[i]);
		}
		char *g = mn_buf_take(&got);
		if (g == NULL) {
			r = MN_ENOMEM;
		} else if (ours == 0) {
			diag_error(c->diag, &d->pos, "%s is not delegated to this server (NS: %s; expected %s)",
				   zone, g, expected);
		} else if (theirs > 0 || ours != ns->n || found != ns->n) {
			diag_warn(c->diag, &d->pos, "the NS records of %s differ from server.nameservers (NS: %s; expected %s)",
				  zone, g, expected);
		}
		free(g);
		resolve_result_clear(&res);
	}
	return r;
}

/* ---- 1b. the parent's DS ------------------------------------------------------ */

enum { T_DS = 43 };

static bool ds_matches(const char *text, const uint8_t ours[][DNSKEY_DS_LEN], size_t n)
{
	return cmd_ds_matches(text, ours, n);
}

/* A rollover of zone waiting for the DS of a ready SEP key that res (the parent's DS) lacks: a warning. */
static void check_roll_wait(ctx_t *c, const policy_domain_t *d, const char *zone, const resolve_result_t *res,
			    const uint8_t ours[][DNSKEY_DS_LEN], size_t n)
{
	dnskey_meta_t *keys = NULL;
	size_t nk = 0;
	if (dnskey_zone_list(c->p->server.state_dir.v, zone, &keys, &nk) != MN_OK)
		return;
	for (size_t k = 0; k < nk; k++) {
		if (keys[k].role == DNSKEY_ROLE_ZSK || keys[k].state != DNSKEY_READY || keys[k].ds == DNSKEY_DS_SEEN)
			continue;
		bool at_parent = false;
		for (size_t i = 0; i < n; i++) {
			if ((unsigned)(ours[i][0] << 8 | ours[i][1]) != keys[k].tag)
				continue;
			for (size_t j = 0; res->status == RESOLVE_ANSWER && j < res->n && !at_parent; j++)
				at_parent = ds_matches(res->v[j], &ours[i], 1);
		}
		if (!at_parent)
			diag_warn(c->diag, &d->pos, "a key rollover of %s waits for the DS of key %u at the parent "
				  "(publish the DS that mailns delegation prints)", zone, (unsigned)keys[k].tag);
	}
	free(keys);
}

static int check_ds(ctx_t *c, const policy_domain_t *d)
{
	if (!d->dnssec.enabled.v)
		return MN_OK;
	int r = MN_OK;
	for (size_t k = 0; r == MN_OK && k < ZONES_MAX && !c->stopped; k++) {
		char zone[300];
		if (!domain_zone(d, k, zone))
			continue;
		uint8_t ours[CMD_DS_MAX][DNSKEY_DS_LEN];
		size_t n = 0;
		r = cmd_zone_ds(c->p, d, zone, ours, NULL, CMD_DS_MAX, &n);
		if (r == MN_ENOMEM)
			return r;
		if (r != MN_OK) {
			diag_error(c->diag, &d->pos, "cannot read the DNSSEC keys of %s in %s/dnssec/%s (%s)", zone,
				   c->p->server.state_dir.v, zone, mn_strerror(r));
			r = MN_OK;
			continue;
		}
		resolve_result_t res;
		bool ok;
		r = ask(c, zone, T_DS, &d->pos, &res, &ok);
		if (r != MN_OK || !ok)
			continue;
		bool match = false;
		for (size_t i = 0; i < res.n && !match; i++)
			match = ds_matches(res.v[i], (const uint8_t (*)[DNSKEY_DS_LEN])ours, n);
		mn_buf_t want = { 0 };
		for (size_t i = 0; i < n; i++)
			mn_buf_addf(&want, "%s%u %u 2", i ? ", " : "", (unsigned)(ours[i][0] << 8 | ours[i][1]),
				     (unsigned)ours[i][2]);
		char *w = mn_buf_take(&want);
		if (w == NULL) {
			r = MN_ENOMEM;
		} else if (res.status != RESOLVE_ANSWER || res.n == 0) {
			diag_warn(c->diag, &d->pos, "the parent has no DS for %s: the zone is not validated "
				  "(publish the DS that mailns delegation prints)", zone);
		} else if (!match) {
			mn_buf_t gb = { 0 };
			for (size_t i = 0; i < res.n; i++) {
				unsigned tag, alg, type;
				if (sscanf(res.v[i], "%u %u %u", &tag, &alg, &type) == 3)
					mn_buf_addf(&gb, "%s%u %u %u", i ? ", " : "", tag, alg, type);
				else
					mn_buf_addf(&gb, "%s%.40s", i ? ", " : "", res.v[i]);
			}
			char *got = mn_buf_take(&gb);
			if (got == NULL) {
				free(w);
				resolve_result_clear(&res);
				return MN_ENOMEM;
			}
			diag_error(c->diag, &d->pos, "no DS of the parent matches a key of %s (DS: %s; keys: %s): "
				   "validation fails, SERVFAIL for every validating resolver", zone, got,
				   n ? w : "none yet");
			free(got);
		}
		if (match)
			check_roll_wait(c, d, zone, &res, (const uint8_t (*)[DNSKEY_DS_LEN])ours, n);
		free(w);
		resolve_result_clear(&res);
	}
	return r;
}

/* ---- 2. apex SPF ------------------------------------------------------------ */

static bool is_spf(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == ' ' || txt[6] == '\0');
}

/* The record has a pass ("+" or no qualifier) include:_spf.D term. */
static bool includes_spf(const char *txt, const char *domain)
{
	char want[300];
	snprintf(want, sizeof(want), "_spf.%s", domain);
	size_t wl = strlen(want);
	const char *s = txt + 6;
	while (*s != '\0') {
		while (*s == ' ')
			s++;
		size_t n = strcspn(s, " ");
		const char *t = s;
		size_t tl = n;
		if (tl > 0 && *t == '+') {
			t++;
			tl--;
		}
		if (tl > 8 && strncasecmp(t, "include:", 8) == 0) {
			t += 8;
			tl -= 8;
			if (tl > 0 && t[tl - 1] == '.')
				tl--;
			if (tl == wl && strncasecmp(t, want, wl) == 0)
				return true;
		}
		s += n;
	}
	return false;
}

static int check_apex_spf(ctx_t *c, const policy_domain_t *d)
{
	if (!d->spf.present)
		return MN_OK;
	resolve_result_t res;
	bool ok;
	int r = ask(c, d->name, ZONE_T_TXT, &d->pos, &res, &ok);
	if (r != MN_OK || !ok)
		return r;
	size_t nspf = 0;
	const char *rec = NULL;
	for (size_t i = 0; i < res.n; i++) {
		if (is_spf(res.v[i])) {
			nspf++;
			rec = res.v[i];
		}
	}
	if (nspf == 0)
		diag_error(c->diag, &d->pos, "%s has no SPF record (publish \"v=spf1 include:_spf.%s %s\")",
			   d->name, d->name, rec_spf_all_term(d->spf.all.v));
	else if (nspf > 1)
		diag_error(c->diag, &d->pos, "%s has %zu SPF records (RFC 7208 allows one)", d->name, nspf);
	else if (!includes_spf(rec, d->name))
		diag_error(c->diag, &d->pos, "the SPF record of %s does not include _spf.%s", d->name, d->name);
	resolve_result_clear(&res);
	return MN_OK;
}

/* ---- 3. foreign report destinations ----------------------------------------- */

/* name is domain or below it. */
static bool name_within(const char *name, const char *domain)
{
	size_t n = strlen(name), m = strlen(domain);
	return n == m ? strcmp(name, domain) == 0
		      : n > m && name[n - m - 1] == '.' && strcmp(name + n - m, domain) == 0;
}

/* "v=DMARC1" first, then ';', space or the end (RFC 7489 7.1). */
static bool is_dmarc(const char *txt)
{
	const char *s = txt;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != 'v' && *s != 'V')
		return false;
	s++;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s++ != '=')
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	return strncmp(s, "DMARC1", 6) == 0 && (s[6] == '\0' || s[6] == ';' || s[6] == ' ' || s[6] == '\t');
}

/* Already asked for this destination in an earlier rua/ruf entry of d (rua first). */
static bool dest_seen(const policy_domain_t *d, const policy_strs_t *u, size_t upto, const char *dest)
{
	const policy_strs_t *lists[2] = { &d->dmarc.rua, &d->dmarc.ruf };
	for (int l = 0; l < 2; l++) {
		size_t n = lists[l] == u ? upto : lists[l]->n;
		for (size_t i = 0; i < n; i++) {
			char e[256];
			if (rec_mailto_domain(lists[l]->v[i].v, e, sizeof(e)) && strcmp(e, dest) == 0)
				return true;
		}
		if (lists[l] == u)
			break;
	}
	return false;
}

static int check_reports_list(ctx_t *c, const policy_domain_t *d, const policy_strs_t *u)
{
	for (size_t i = 0; i < u->n; i++) {
		char dest[256];
		const mn_pos_t *pos = &u->v[i].pos;
		if (!rec_mailto_domain(u->v[i].v, dest, sizeof(dest)))
			continue;
		if (name_within(dest, d->name) || policy_domain_find(c->p, dest) != NULL ||
		    dest_seen(d, u, i, dest))
			continue;
		char name[600];
		snprintf(name, sizeof(name), "%s._report._dmarc.%s", d->name, dest);
		if (strlen(name) > 253) {
			diag_warn(c->diag, pos, "%s cannot authorize DMARC reports for %s (the name %s is too long)",
				  dest, d->name, name);
			continue;
		}
		resolve_result_t res;
		bool ok;
		int r = ask(c, name, ZONE_T_TXT, pos, &res, &ok);
		if (r != MN_OK)
			return r;
		if (!ok)
			continue;
		bool found = false;
		for (size_t k = 0; k < res.n && !found; k++)
			found = is_dmarc(res.v[k]);
		if (!found)
			diag_warn(c->diag, pos, "%s does not authorize DMARC reports for %s (%s: %s)", dest,
				  d->name, name, res.status == RESOLVE_ANSWER ? "no v=DMARC1 record"
					  : negative_why(&res, "no TXT record"));
		resolve_result_clear(&res);
	}
	return MN_OK;
}

static int check_reports(ctx_t *c, const policy_domain_t *d)
{
	if (!d->dmarc.present)
		return MN_OK;
	int r = check_reports_list(c, d, &d->dmarc.rua);
	if (r == MN_OK)
		r = check_reports_list(c, d, &d->dmarc.ruf);
	return r;
}

/* ---- 4. DKIM keys ------------------------------------------------------------- */

/*
 * The value of tag in a tag-list, all whitespace removed, into out; false when
 * the tag is absent.
 */
static bool tag_value(const char *list, const char *tag, char *out, size_t outsize)
{
	size_t tl = strlen(tag);
	const char *s = list;
	while (*s != '\0') {
		size_t n = strcspn(s, ";");
		const char *eq = memchr(s, '=', n);
		if (eq != NULL) {
			const char *a = s, *b = eq;
			while (a < b && isspace((unsigned char)*a))
				a++;
			while (b > a && isspace((unsigned char)b[-1]))
				b--;
			if ((size_t)(b - a) == tl && strncmp(a, tag, tl) == 0) {
				size_t o = 0;
				for (const char *v = eq + 1; v < s + n; v++) {
					if (isspace((unsigned char)*v))
						continue;
					if (o + 1 < outsize)
						out[o++] = *v;
				}
				out[o] = '\0';
				return true;
			}
		}
		s += n;
		if (*s == ';')
			s++;
	}
	return false;
}

/* NULL when the records carry the same key, else the tag that differs. */
static const char *dkim_diff(const char *local, const char *remote)
{
	char a[8192], b[8192];
	bool ha = tag_value(local, "p", a, sizeof(a)), hb = tag_value(remote, "p", b, sizeof(b));
	if (ha != hb || strcmp(a, b) != 0)
		return "p=";
	if (!tag_value(local, "k", a, sizeof(a)))
		strcpy(a, "rsa");
	if (!tag_value(remote, "k", b, sizeof(b)))
		strcpy(b, "rsa");
	if (strcasecmp(a, b) != 0)
		return "k=";
	return NULL;
}

/* The TXT RDATA's strings joined, malloc'd. */
static char *txt_join(const zone_rr_t *rr)
{
	char *s = malloc((size_t)rr->rdlen + 1), *o = s;
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < rr->rdlen;) {
		size_t n = rr->rdata[i++];
		if (n > (size_t)rr->rdlen - i)
			n = (size_t)rr->rdlen - i;
		memcpy(o, rr->rdata + i, n);
		o += n;
		i += n;
	}
	*o = '\0';
	return s;
}

static int check_dkim_one(ctx_t *c, const policy_domain_t *d, const char *owner, const char *local)
{
	const mn_pos_t *pos = NULL;
	size_t al = strlen(owner), zl = strlen("._domainkey.") + strlen(d->name);
	for (size_t i = 0; i < d->dkim.selectors.n && al > zl; i++) {
		const policy_selector_t *s = &d->dkim.selectors.v[i];
		if (strlen(s->name.v) == al - zl && strncmp(owner, s->name.v, al - zl) == 0)
			pos = &s->name.pos;
	}
	const char *from = pos != NULL ? "" : " (key store)";
	resolve_result_t res;
	bool ok;
	int r = ask(c, owner, ZONE_T_TXT, pos, &res, &ok);
	if (r != MN_OK || !ok)
		return r;
	if (res.status != RESOLVE_ANSWER) {
		diag_error(c->diag, pos, "the DKIM key %s%s is not published (%s)", owner, from,
			   negative_why(&res, "no TXT record"));
	} else if (res.n > 1) {
		diag_error(c->diag, pos, "the DKIM key %s%s is published %zu times (one TXT record expected)",
			   owner, from, res.n);
	} else {
		const char *tag = dkim_diff(local, res.v[0]);
		if (tag != NULL)
			diag_error(c->diag, pos, "the DKIM key published at %s%s differs from the local one (%s)",
				   owner, from, tag);
	}
	resolve_result_clear(&res);
	return MN_OK;
}

static int check_dkim(ctx_t *c, const policy_domain_t *d)
{
	char apex[300];
	snprintf(apex, sizeof(apex), "_domainkey.%s", d->name);
	const zone_t *z = zones_find(c->zs, apex);
	if (z == NULL)
		return MN_OK;
	int r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < zone_nrrs(z); i++) {
		const zone_rr_t *rr = zone_rr(z, i);
		if (rr->type != ZONE_T_TXT)
			continue;
		char owner[256];
		if (mn_name_from_wire(rr->owner, rr->owner_len, owner, sizeof(owner)) != MN_OK)
			continue;
		/* one TXT per selector: check the first record of each owner */
		if (i > 0 && zone_rr(z, i - 1)->type == ZONE_T_TXT && zone_rr(z, i - 1)->owner_len == rr->owner_len &&
		    memcmp(zone_rr(z, i - 1)->owner, rr->owner, rr->owner_len) == 0)
			continue;
		char *local = txt_join(rr);
		if (local == NULL)
			return MN_ENOMEM;
		r = check_dkim_one(c, d, owner, local);
		free(local);
	}
	return r;
}

/* ---- 5. MTA-STS --------------------------------------------------------------- */

enum { T_MX = 15, MTA_STS_FILE_MAX = 65536 };
#define MTA_STS_PATH "/.well-known/mta-sts.txt"

/* Where a finding about the mta_sts map goes: its mx list, else its first written key, else the domain. */
static const mn_pos_t *sts_pos(const policy_domain_t *d)
{
	const policy_mta_sts_t *m = &d->mta_sts;
	if (m->mx.pos.file != NULL)
		return &m->mx.pos;
	if (m->mode.pos.file != NULL)
		return &m->mode.pos;
	if (m->max_age.pos.file != NULL)
		return &m->max_age.pos;
	return &d->pos;
}

static int check_mta_sts_mx(ctx_t *c, const policy_domain_t *d)
{
	const policy_mta_sts_t *m = &d->mta_sts;
	if (m->mode.v == MTA_STS_NONE)
		return MN_OK;
	resolve_result_t res;
	bool ok;
	int r = ask(c, d->name, T_MX, sts_pos(d), &res, &ok);
	if (r != MN_OK || !ok)
		return r;
	for (size_t i = 0; i < res.n; i++) {
		if (res.v[i][0] == '\0')
			continue;	/* a null MX (RFC 7505): no host to cover */
		bool covered = false;
		for (size_t k = 0; k < m->mx.n && !covered; k++)
			covered = mtasts_mx_match(m->mx.v[k].v, res.v[i]);
		if (!covered)
			diag_error(c->diag, sts_pos(d),
				   "the MX host %s of %s matches no mta_sts mx pattern (senders enforcing MTA-STS will not deliver to it)",
				   res.v[i], d->name);
	}
	resolve_result_clear(&res);
	return MN_OK;
}

/* Appends the addresses of one type for host to addrs (owned strings moved out of res). */
static int add_addrs(ctx_t *c, const char *host, uint16_t type, const mn_pos_t *pos, char ***addrs, size_t *n)
{
	resolve_result_t res;
	bool ok;
	int r = ask(c, host, type, pos, &res, &ok);
	if (r != MN_OK || !ok || res.status != RESOLVE_ANSWER)
		goto done;
	char **v = realloc(*addrs, (*n + res.n) * sizeof(*v));
	if (v == NULL) {
		r = MN_ENOMEM;
		goto done;
	}
	*addrs = v;
	for (size_t i = 0; i < res.n; i++) {
		v[(*n)++] = res.v[i];
		res.v[i] = NULL;
	}
done:
	resolve_result_clear(&res);
	return r;
}

/* One line of s from *at (to the line end; CR dropped), printable, into out. */
static void line_at(const char *s, size_t len, size_t *at, char *out, size_t outsize)
{
	size_t o = 0;
	while (*at < len && s[*at] != '\n') {
		unsigned char ch = (unsigned char)s[(*at)++];
		if (ch == '\r')
			continue;
		if (o + 1 < outsize)
			out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (*at < len)
		(*at)++;
	out[o] = '\0';
}

/* What differs between the served text and the local one, for the message. */
static void text_diff(const char *got, size_t glen, const char *want, char *out, size_t outsize)
{
	size_t wlen = strlen(want), gi = 0, wi = 0;
	for (unsigned line = 1; gi < glen || wi < wlen; line++) {
		char g[80], w[80];
		bool gend = gi >= glen, wend = wi >= wlen;
		line_at(got, glen, &gi, g, sizeof(g));
		line_at(want, wlen, &wi, w, sizeof(w));
		if (gend || wend || strcmp(g, w) != 0) {
			snprintf(out, outsize, "line %u: served '%s', local '%s'", line, gend ? "(end)" : g,
				 wend ? "(end)" : w);
			return;
		}
	}
	snprintf(out, outsize, "the same lines, other line ends: RFC 8461 wants CRLF");
}

static int check_mta_sts_file(ctx_t *c, const policy_domain_t *d)
{
	char host[300], url[400];
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	snprintf(url, sizeof(url), "https://%s" MTA_STS_PATH, host);
	const mn_pos_t *pos = sts_pos(d);
	char **addrs = NULL;
	size_t n = 0;
	char *local = NULL;
	https_result_t hr = { 0 };
	int r = add_addrs(c, host, ZONE_T_A, pos, &addrs, &n);
	if (r == MN_OK)
		r = add_addrs(c, host, ZONE_T_AAAA, pos, &addrs, &n);
	if (r != MN_OK || c->stopped)
		goto fail;
	if (n == 0) {
		diag_error(c->diag, pos, "cannot fetch %s (%s has no address)", url, host);
		goto fail;
	}
	r = MN_ENOMEM;
	if ((local = rec_mta_sts_policy(&d->mta_sts)) == NULL)
		goto fail;
	https_opts_t o = { .ca_file = c->ca_file, .max_body = MTA_STS_FILE_MAX };
	r = https_get(host, (const char *const *)addrs, n, MTA_STS_PATH, &o, &hr);
	if (r != MN_OK)
		goto fail;
	if (hr.body == NULL) {
		diag_error(c->diag, pos, "cannot fetch %s (%s)", url, hr.why);
	} else if (hr.len != strlen(local) || memcmp(hr.body, local, hr.len) != 0) {
		char why[240];
		text_diff(hr.body, hr.len, local, why, sizeof(why));
		diag_error(c->diag, pos, "the MTA-STS policy served at %s differs from the local one (%s)", url, why);
	}
fail:
	https_result_clear(&hr);
	free(local);
	for (size_t i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
	return r;
}

static int check_mta_sts(ctx_t *c, const policy_domain_t *d)
{
	if (!d->mta_sts.present)
		return MN_OK;
	int r = check_mta_sts_mx(c, d);
	if (r == MN_OK)
		r = check_mta_sts_file(c, d);
	return r;
}

/* ---- entry point -------------------------------------------------------------- */

int cmd_check_dns(const policy_t *p, const zones_t *zs, resolve_t *res, const char *ca_file, diag_t *diag)
{
	if (p == NULL || zs == NULL || res == NULL || diag == NULL)
		return MN_EINVAL;
	ctx_t c = { .p = p, .zs = zs, .res = res, .diag = diag, .ca_file = ca_file };
	mn_buf_t eb = { 0 };
	for (size_t i = 0; i < p->server.nameservers.n; i++)
		mn_buf_addf(&eb, "%s%s", i ? ", " : "", p->server.nameservers.v[i].v);
	char *expected = mn_buf_take(&eb);
	if (expected == NULL)
		return MN_ENOMEM;
	int r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < p->ndomains && !c.stopped; i++) {
		const policy_domain_t *d = &p->domains[i];
		r = check_delegation(&c, d, expected);
		if (r == MN_OK)
			r = check_ds(&c, d);
		if (r == MN_OK)
			r = check_apex_spf(&c, d);
		if (r == MN_OK)
			r = check_reports(&c, d);
		if (r == MN_OK)
			r = check_dkim(&c, d);
		if (r == MN_OK)
			r = check_mta_sts(&c, d);
	}
	if (r == MN_OK && c.stopped)
		diag_error(diag, NULL, "DNS checks stopped: the resolver %s does not answer", resolve_server(res));
	free(expected);
	return r;
}
