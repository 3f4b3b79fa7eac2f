/* SPDX-License-Identifier: GPL-3.0-or-later */
/* compile.c -- policy + key store + SPF cache -> zones, validated, with serials */
#include "zones/compile.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/keystore.h"
#include "zones/chain.h"
#include "zones/incr.h"
#include "zones/macro.h"
#include "zones/records.h"
#include "zones/serial.h"
#include "zones/spfcache.h"
#include "zones/validate.h"


/* SOA timers besides the serial and the minimum. */
enum { SOA_REFRESH = 3600, SOA_RETRY = 900, SOA_EXPIRE = 1209600 };

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
	const apex_rd_t *rd;
	diag_t *diag;
	uint32_t ttl;
	report_t *reports;	/* sorted by target, then source */
	size_t nreports;
	validate_t *val;	/* the publishing rules */
	time_t now;
} ctx_t;

static const uint8_t a_127_0_0_2[4] = { 127, 0, 0, 2 };

/* ---- names ----------------------------------------------------------------- */

/* prefix + "." + suffix (either may be empty), malloc'd. */
static char *name_join(const char *prefix, const char *suffix)
{
	rec_buf_t b = { 0 };
	rec_buf_add(&b, prefix);
	if (prefix[0] != '\0' && suffix[0] != '\0')
		rec_buf_add(&b, ".");
	rec_buf_add(&b, suffix);
	return rec_buf_take(&b);
}

/*
 * Is name a valid owner (name <= 253 bytes, labels <= 63)?  When not, why
 * gets the reason: "is 260 bytes (limit 253)" / "has a 64-byte label (limit 63)".
 */
static bool name_valid(const char *name, char *why, size_t size)
{
	uint8_t wire[256];
	size_t len = strlen(name);
	if (len > 253) {
		snprintf(why, size, "is %zu bytes (limit 253)", len);
		return false;
	}
	for (const char *l = name; *l != '\0';) {
		size_t n = strcspn(l, ".");
		if (n > 63) {
			snprintf(why, size, "has a %zu-byte label (limit 63)", n);
			return false;
		}
		l += n + (l[n] == '.');
	}
	if (mn_name_to_wire(name, wire, sizeof(wire)) <= 0) {
		snprintf(why, size, "is not a valid name");
		return false;
	}
	return true;
}

/* ---- state_dir listings ------------------------------------------------------- */

static size_t dirset_slot(char **slot, size_t cap, const char *name)
{
	size_t j = mn_hash_str(name) & (cap - 1);
	while (slot[j] != NULL && strcmp(slot[j], name) != 0)
		j = (j + 1) & (cap - 1);
	return j;
}

static void dirset_free(dirset_t *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	s->slot = NULL;
	s->cap = 0;
}

static int dirset_add(dirset_t *s, size_t *n, const char *name)
{
	if ((*n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **t = calloc(cap, sizeof(*t));
		if (t == NULL)
			return MN_ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i] != NULL)
				t[dirset_slot(t, cap, s->slot[i])] = s->slot[i];
		free(s->slot);
		s->slot = t;
		s->cap = cap;
	}
	size_t j = dirset_slot(s->slot, s->cap, name);
	if (s->slot[j] != NULL)
		return MN_OK;
	if ((s->slot[j] = mn_strdup(name)) == NULL)
		return MN_ENOMEM;
	(*n)++;
	return MN_OK;
}

static int dirset_load(dirset_t *s, const char *state_dir, const char *sub)
{
	memset(s, 0, sizeof(*s));
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, sub) >= (int)sizeof(path)) {
		s->unknown = true;
		return MN_OK;
	}
	DIR *dir = opendir(path);
	if (dir == NULL) {
		/* missing: every file below would be missing too */
		s->unknown = errno != ENOENT && errno != ENOTDIR;
		return MN_OK;
	}
	size_t n = 0;
	int r = MN_OK;
	struct dirent *e;
	while (r == MN_OK && (errno = 0, e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			r = dirset_add(s, &n, e->d_name);
	if (r == MN_OK && errno != 0) {
		dirset_free(s);
		s->unknown = true;
	}
	closedir(dir);
	if (r != MN_OK)
		dirset_free(s);
	return r;
}

/* Could name have an entry (false: certainly not)? */
static bool dirset_maybe(const dirset_t *s, const char *name)
{
	return s == NULL || s->unknown || (s->cap > 0 && s->slot[dirset_slot(s->slot, s->cap, name)] != NULL);
}

/* ---- SOA and NS -------------------------------------------------------------- */

static void apex_rd_free(apex_rd_t *a)
{
	free(a->ns);
	free(a->ns_len);
}

static int apex_rd_make(const policy_server_t *s, apex_rd_t *a)
{
	memset(a, 0, sizeof(*a));
	uint8_t *rd = a->soa;
	int n1 = mn_name_to_wire(s->nameservers.v[0].v, rd, 256);
	if (n1 < 0) {
		a->err = n1;
		return MN_OK;
	}
	int n2 = mn_name_to_wire(s->hostmaster.v, rd + n1, 256);
	if (n2 < 0) {
		a->err = n2;
		return MN_OK;
	}
	uint8_t *p = rd + n1 + n2;
	uint32_t t[5] = { 0, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, s->negative_ttl.v };
	for (int i = 0; i < 5; i++) {
		*p++ = (uint8_t)(t[i] >> 24);
		*p++ = (uint8_t)(t[i] >> 16);
		*p++ = (uint8_t)(t[i] >> 8);
		*p++ = (uint8_t)t[i];
	}
	a->soa_len = (uint16_t)(p - rd);
	a->ns = calloc(s->nameservers.n, sizeof(*a->ns));
	a->ns_len = calloc(s->nameservers.n, sizeof(*a->ns_len));
	if (a->ns == NULL || a->ns_len == NULL) {
		apex_rd_free(a);
		return MN_ENOMEM;
	}
	for (size_t i = 0; i < s->nameservers.n; i++) {
		int n = mn_name_to_wire(s->nameservers.v[i].v, a->ns[i], sizeof(a->ns[i]));
		if (n < 0) {
			a->err = n;	/* after the SOA went in, as when each zone converted it */
			break;
		}
		a->ns_len[i] = (uint16_t)n;
		a->nns++;
	}
	return MN_OK;
}

static int add_soa_ns(const ctx_t *c, zone_t *z)
{
	const apex_rd_t *a = c->rd;
	if (a->soa_len == 0)
		return a->err;
	int r = zone_add_rr(z, z->name, ZONE_T_SOA, c->ttl, a->soa, a->soa_len);
	for (size_t i = 0; r == MN_OK && i < a->nns; i++)
		r = zone_add_rr(z, z->name, ZONE_T_NS, c->ttl, a->ns[i], a->ns_len[i]);
	if (r == MN_OK && a->err != MN_OK)
		r = a->err;
	return r;
}

/* Adds TXT text at owner; a text too long for one RDATA is a diag error at pos. */
static int add_txt(const ctx_t *c, zone_t *z, const char *owner, const char *text, const mn_pos_t *pos)
{
	int r = zone_add_txt(z, owner, c->ttl, text);
	if (r == MN_ERANGE) {
		diag_error(c->diag, pos, "record at %s is too long (%zu bytes)", owner, strlen(text));
		return MN_OK;
	}
	return r;
}

/* ---- DKIM -------------------------------------------------------------------- */

static int build_dkim(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	keystore_pub_t *keys = NULL;
	size_t nkeys = 0;
	int r = MN_OK;
	const char *state = c->p->server.state_dir.v;
	bool borrowed = c->dom != NULL && c->dom->keys_given;
	if (borrowed || (state != NULL && dirset_maybe(c->keys, d->name))) {
		if (borrowed) {
			r = c->dom->keys_r;
			keys = c->dom->keys;
			nkeys = c->dom->nkeys;
		} else {
			r = keystore_published(state, d->name, &keys, &nkeys);
		}
		if (r == MN_ENOMEM)
			return r;
		if (r != MN_OK) {
			diag_error(c->diag, &d->pos, "cannot read the key store of %s (%s)", d->name,
				   mn_strerror(r));
			keys = NULL;
			nkeys = 0;
		}
	}
	r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < d->dkim.selectors.n; i++) {
		const policy_selector_t *s = &d->dkim.selectors.v[i];
		for (size_t k = 0; k < nkeys; k++) {
			if (strcmp(keys[k].selector, s->name.v) == 0) {
				diag_error(c->diag, &s->name.pos,
					   "selector '%s' of %s is also in the key store", s->name.v, d->name);
				break;
			}
		}
		char *owner = name_join(s->name.v, z->name);
		if (owner == NULL) {
			r = MN_ENOMEM;
			break;
		}
		char why[64];
		if (!name_valid(owner, why, sizeof(why)))
			diag_error(c->diag, &s->name.pos, "DKIM: selector name %s %s", owner, why);
		else
			r = add_txt(c, z, owner, s->record.v ? s->record.v : "", &s->record.pos);
		free(owner);
	}
	for (size_t k = 0; r == MN_OK && k < nkeys; k++) {
		char *owner = name_join(keys[k].selector, z->name);
		if (owner == NULL) {
			r = MN_ENOMEM;
			break;
		}
		char why[64];
		if (!name_valid(owner, why, sizeof(why)))
			diag_error(c->diag, &d->pos, "DKIM: key store selector name %s %s", owner, why);
		else
			r = add_txt(c, z, owner, keys[k].record, &d->pos);
		free(owner);
	}
	if (r == MN_OK)
		r = validate_dkim_selectors(c->val, d);
	if (r == MN_OK && nkeys > 0)
		r = validate_dkim_store(c->val, d->name, keys, nkeys);
	if (!borrowed)
		keystore_pub_free(keys, nkeys);
	return r;
}

/* ---- DMARC ------------------------------------------------------------------- */

/* Binary search of the (sorted) policy domains. */
static const policy_domain_t *domain_find(const policy_t *p, const char *name)
{
	size_t lo = 0, hi = p->ndomains;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->domains[mid].name, name);
		if (c == 0)
			return &p->domains[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int report_cmp(const void *x, const void *y)
{
	const report_t *a = x, *b = y;
	int c = strcmp(a->target, b->target);
	return c != 0 ? c : strcmp(a->source, b->source);
}

static int reports_collect_uris(const policy_t *p, const policy_domain_t *d, const policy_strs_t *u,
				report_t **v, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < u->n; i++) {
		char target[256];
		if (!rec_mailto_domain(u->v[i].v, target, sizeof(target)))
			continue;
		if (strcmp(target, d->name) == 0 || domain_find(p, target) == NULL)
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			report_t *nv = realloc(*v, nc * sizeof(*nv));
			if (nv == NULL)
				return MN_ENOMEM;
			*v = nv;
			*cap = nc;
		}
		char *t = mn_strdup(target);
		if (t == NULL)
			return MN_ENOMEM;
		(*v)[(*n)++] = (report_t){ .target = t, .source = d->name, .pos = u->v[i].pos };
	}
	return MN_OK;
}

static int reports_collect(ctx_t *c)
{
	size_t cap = 0;
	for (size_t i = 0; i < c->p->ndomains; i++) {
		const policy_domain_t *d = &c->p->domains[i];
		if (!d->dmarc.present)
			continue;
		int r = reports_collect_uris(c->p, d, &d->dmarc.rua, &c->reports, &c->nreports, &cap);
		if (r == MN_OK)
			r = reports_collect_uris(c->p, d, &d->dmarc.ruf, &c->reports, &c->nreports, &cap);
		if (r != MN_OK)
			return r;
	}
	if (c->nreports > 1)
		qsort(c->reports, c->nreports, sizeof(*c->reports), report_cmp);
	return MN_OK;
}

static int add_report_auth(const ctx_t *c, zone_t *z, const char *who, const mn_pos_t *pos)
{
	char *rep = name_join("_report", z->name);
	char *owner = rep ? name_join(who, rep) : NULL;
	free(rep);
	if (owner == NULL)
		return MN_ENOMEM;
	int r = MN_OK;
	char why[64];
	if (!name_valid(owner, why, sizeof(why)))
		diag_error(c->diag, pos, "DMARC: report authorization name %s %s", owner, why);
	else
		r = add_txt(c, z, owner, "v=DMARC1", pos);
	free(owner);
	return r;
}

/* The first of c->reports (sorted by target) whose reports go to domain name. */
static size_t reports_first(const ctx_t *c, const char *name)
{
	size_t lo = 0, hi = c->nreports;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(c->reports[mid].target, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int build_dmarc(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	const policy_dmarc_t *m = &d->dmarc;
	int r = MN_OK;
	if (m->present) {
		char *text = rec_dmarc_text(m);
		if (text == NULL)
			return MN_ENOMEM;
		const mn_pos_t *pos = POLICY_SET(m->p) ? &m->p.pos : &d->pos;
		r = add_txt(c, z, z->name, text, pos);
		if (r == MN_OK)
			r = validate_dmarc(c->val, c->p, d, text);
		free(text);
		for (size_t i = 0; r == MN_OK && i < m->authorize_reports_for.n; i++)
			r = add_report_auth(c, z, m->authorize_reports_for.v[i].v,
					    &m->authorize_reports_for.v[i].pos);
	}
	/* every hosted domain whose reports come here */
	size_t lo = reports_first(c, d->name);
	for (size_t i = lo; r == MN_OK && i < c->nreports && strcmp(c->reports[i].target, d->name) == 0; i++)
		r = add_report_auth(c, z, c->reports[i].source, &c->reports[i].pos);
	return r;
}

/* ---- SPF --------------------------------------------------------------------- */

#define spf_pos validate_spf_pos

static int nets_of(const policy_nets_t *in, mn_net_t **out)
{
	*out = NULL;
	if (in->n == 0)
		return MN_OK;
	mn_net_t *v = malloc(in->n * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < in->n; i++)
		v[i] = in->v[i].net;
	*out = v;
	return MN_OK;
}

/* The SPF inputs of one domain, gathered once. */
typedef struct spf_in {
	mn_net_t *v4, *v6;	/* as written */
	size_t n4, n6;
	mn_net_t *m4, *m6;	/* merged */
	size_t nm4, nm6;
	char **kept;		/* a, mx, include terms (from the SPF cache: the terms it kept) */
	size_t nkept;
	spfcache_t *cache;	/* the SPF cache entry in use, or NULL */
} spf_in_t;

static void spf_in_free(spf_in_t *s)
{
	free(s->v4);
	free(s->v6);
	free(s->m4);
	free(s->m6);
	rec_terms_free(s->kept, s->nkept);
	spfcache_free(s->cache);
}

/* terms = a ++ b ++ c, as one array of borrowed pointers. */
static char **concat(char **a, size_t na, char **b, size_t nb, char **c, size_t nc)
{
	char **v = malloc((na + nb + nc + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < na; i++)
		v[k++] = a[i];
	for (size_t i = 0; i < nb; i++)
		v[k++] = b[i];
	for (size_t i = 0; i < nc; i++)
		v[k++] = c[i];
	return v;
}

/* Is inner (a policy entry) inside outer (a merged network)? */
static bool net_inside(const mn_net_t *outer, const mn_net_t *inner)
{
	if (outer->family != inner->family || inner->prefix < outer->prefix)
		return false;
	unsigned full = outer->prefix / 8, rest = outer->prefix % 8;
	for (unsigned i = 0; i < full; i++)
		if (outer->addr[i] != inner->addr[i])
			return false;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return rest == 0 || (outer->addr[full] & mask) == (inner->addr[full] & mask);
}

/* The position of the policy entry a generated network came from: the widest
 * entry inside it (the first of equals). */
static const mn_pos_t *net_pos(const policy_domain_t *d, const mn_net_t *net)
{
	const policy_nets_t *in = net->family == 4 ? &d->spf.ip4 : &d->spf.ip6;
	const policy_net_t *best = NULL;
	for (size_t i = 0; i < in->n; i++) {
		if (net_inside(net, &in->v[i].net) && (best == NULL || in->v[i].net.prefix < best->net.prefix)) {
			best = &in->v[i];
			if (best->net.prefix == net->prefix)
				break;	/* the network itself: nothing inside it is wider */
		}
	}
	if (best != NULL && best->pos.file != NULL)
		return &best->pos;
	return POLICY_SET(*in) ? &in->pos : spf_pos(d);
}

/*
 * Term -> policy position for the validator: the network terms t4/t6 (made
 * from n4/n6), the kept terms (a..., mx, include..., in rec_spf_kept_terms'
 * order) and the all term.  malloc'd; NULL on ENOMEM.
 */
static validate_term_t *term_map(const policy_domain_t *d, char **t4, const mn_net_t *n4, size_t c4,
				 char **t6, const mn_net_t *n6, size_t c6, const spf_in_t *in, size_t *n)
{
	const policy_spf_t *s = &d->spf;
	validate_term_t *v = malloc((c4 + c6 + in->nkept + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < c4; i++)
		v[k++] = (validate_term_t){ t4[i], net_pos(d, &n4[i]) };
	for (size_t i = 0; i < c6; i++)
		v[k++] = (validate_term_t){ t6[i], net_pos(d, &n6[i]) };
	size_t nmx = s->mx.v ? 1 : 0;
	for (size_t i = 0; i < in->nkept; i++) {
		const mn_pos_t *pos = spf_pos(d);
		if (in->cache != NULL)
			;	/* kept terms of the SPF cache: at the spf position */
		else if (i < s->a.n)
			pos = &s->a.v[i].pos;
		else if (i < s->a.n + nmx)
			pos = &s->mx.pos;
		else if (i - s->a.n - nmx < s->include.n)
			pos = &s->include.v[i - s->a.n - nmx].pos;
		v[k++] = (validate_term_t){ in->kept[i], pos->file ? pos : spf_pos(d) };
	}
	v[k++] = (validate_term_t){ rec_spf_all_term(s->all.v), POLICY_SET(s->all) ? &s->all.pos : spf_pos(d) };
	*n = k;
	return v;
}

static void lookups_error(const ctx_t *c, const policy_domain_t *d, unsigned n)
{
	diag_error(c->diag, spf_pos(d), "SPF for %s needs %u DNS lookups (limit %d)", d->name, n,
		   SPF_LOOKUP_LIMIT);
}

static int add_one_record(const ctx_t *c, const policy_domain_t *d, zone_t *z, const char *text)
{
	size_t need = chain_response_size(z->apex_len, strlen(text));
	if (need > CHAIN_UDP_MAX) {
		diag_error(c->diag, spf_pos(d), "SPF record of %s needs a %zu-byte response (limit %d)",
			   d->name, need, CHAIN_UDP_MAX);
		return MN_OK;
	}
	return add_txt(c, z, z->name, text, spf_pos(d));
}

static int spf_plain(const ctx_t *c, const policy_domain_t *d, zone_t *z, const spf_in_t *in)
{
	char **t4 = NULL, **t6 = NULL;
	size_t n4 = 0, n6 = 0, nmap = 0;
	validate_term_t *map = NULL;
	int r = rec_spf_net_terms(in->v4, in->n4, &t4, &n4);
	if (r == MN_OK)
		r = rec_spf_net_terms(in->v6, in->n6, &t6, &n6);
	if (r == MN_OK && (map = term_map(d, t4, in->v4, n4, t6, in->v6, n6, in, &nmap)) == NULL)
		r = MN_ENOMEM;
	if (r == MN_OK) {
		rec_buf_t b = { 0 };
		rec_buf_add(&b, "v=spf1");
		char **all[3] = { t4, t6, in->kept };
		size_t cnt[3] = { n4, n6, in->nkept };
		for (int k = 0; k < 3; k++)
			for (size_t i = 0; i < cnt[k]; i++)
				rec_buf_addf(&b, " %s", all[k][i]);
		rec_buf_addf(&b, " %s", rec_spf_all_term(d->spf.all.v));
		char *text = rec_buf_take(&b);
		if (text == NULL) {
			r = MN_ENOMEM;
		} else {
			unsigned lookups = 1 + (unsigned)in->nkept;
			if (lookups > SPF_LOOKUP_LIMIT)
				lookups_error(c, d, lookups);
			r = add_one_record(c, d, z, text);
			if (r == MN_OK)
				r = validate_spf_record(c->val, d, text, map, nmap);
			free(text);
		}
	}
	free(map);
	rec_terms_free(t4, n4);
	rec_terms_free(t6, n6);
	return r;
}

/*
 * The previous generation's parts (from the SPF cache) stay served for the
 * TTL after they were replaced, so that no resolver holding the old root
 * finds its parts gone.
 */
static int spf_old_parts(const ctx_t *c, zone_t *z, const spfcache_t *cache, const chain_t *ch)
{
	size_t zl = strlen(z->name);
	for (size_t i = 0; i < cache->nold; i++) {
		const spfcache_old_t *o = &cache->old[i];
		if (c->now >= o->replaced_at + (time_t)c->ttl)
			continue;
		/* served because of the time: the output changes when it expires */
		if (c->dom != NULL && o->replaced_at + (time_t)c->ttl < c->dom->until)
			c->dom->until = o->replaced_at + (time_t)c->ttl;
		size_t ol = strlen(o->owner);
		if (ol <= zl + 1 || strcmp(o->owner + ol - zl, z->name) != 0 || o->owner[ol - zl - 1] != '.')
			continue;
		bool current = false;
		for (size_t k = 0; k < ch->n && !current; k++)
			current = strcmp(ch->v[k].owner, o->owner) == 0;
		char why[64];
		if (current || !name_valid(o->owner, why, sizeof(why)))
			continue;
		int r = zone_add_txt(z, o->owner, c->ttl, o->text);
		if (r != MN_OK && r != MN_ERANGE)
			return r;
	}
	return MN_OK;
}

int spf_plan(const char *root, spf_mode_t mode, char *const *terms, size_t nterms, const char *all_term,
	     spf_plan_t *out)
{
	spf_plan_t pl = { .kind = SPF_PLAN_MACRO };
	if (mode != SPF_MODE_MACRO) {
		int r = chain_build(root, terms, nterms, all_term, &pl.chain);
		if (r == MN_ERANGE) {
			chain_free(&pl.chain);
			pl.lookups = chain_lookups_needed(root, terms, nterms, all_term);
			if (mode != SPF_MODE_AUTO)
				pl.kind = pl.lookups > SPF_LOOKUP_LIMIT ? SPF_PLAN_LOOKUPS : SPF_PLAN_SPLIT;
		} else if (r != MN_OK) {
			return r;
		} else if (pl.chain.lookups > SPF_LOOKUP_LIMIT) {
			pl.lookups = pl.chain.lookups;
			chain_free(&pl.chain);
			if (mode != SPF_MODE_AUTO)
				pl.kind = SPF_PLAN_LOOKUPS;
		} else {
			pl.kind = SPF_PLAN_FLATTEN;
		}
	}
	*out = pl;
	return MN_OK;
}

/* Builds the flattened chain; *fits false when auto mode falls back to the macro record. */
static int spf_flatten(const ctx_t *c, const policy_domain_t *d, zone_t *z, const spf_in_t *in, bool *fits)
{
	char **t4 = NULL, **t6 = NULL, **terms = NULL;
	size_t n4 = 0, n6 = 0;
	validate_term_t *map = NULL;
	spf_plan_t pl = { 0 };
	*fits = true;
	int r = rec_spf_net_terms(in->m4, in->nm4, &t4, &n4);
	if (r == MN_OK)
		r = rec_spf_net_terms(in->m6, in->nm6, &t6, &n6);
	if (r != MN_OK)
		goto out;
	terms = concat(t4, n4, t6, n6, in->kept, in->nkept);
	if (terms == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	r = spf_plan(z->name, (spf_mode_t)d->spf.mode.v, terms, n4 + n6 + in->nkept, rec_spf_all_term(d->spf.all.v),
		     &pl);
	if (r != MN_OK)
		goto out;
	switch (pl.kind) {
	case SPF_PLAN_FLATTEN:
		break;
	case SPF_PLAN_MACRO:
		*fits = false;
		goto out;
	case SPF_PLAN_LOOKUPS:
		lookups_error(c, d, pl.lookups);
		goto out;
	case SPF_PLAN_SPLIT:
		diag_error(c->diag, spf_pos(d), "SPF for %s cannot be split into records of 512 bytes", d->name);
		goto out;
	}
	const chain_t ch = pl.chain;
	size_t nmap = 0;
	map = term_map(d, t4, in->m4, n4, t6, in->m6, n6, in, &nmap);
	if (map == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; r == MN_OK && i < ch.n; i++) {
		r = add_txt(c, z, ch.v[i].owner, ch.v[i].text, spf_pos(d));
		if (r == MN_OK)
			r = validate_spf_record(c->val, d, ch.v[i].text, map, nmap);
	}
	if (r == MN_OK && in->cache != NULL)
		r = spf_old_parts(c, z, in->cache, &ch);
out:
	free(map);
	chain_free(&pl.chain);
	free(terms);
	rec_terms_free(t4, n4);
	rec_terms_free(t6, n6);
	return r;
}

static int macro_nets(const ctx_t *c, const policy_domain_t *d, zone_t *z, const mn_net_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char **names = NULL;
		size_t nn = 0;
		int r = macro_net_names(z->name, &v[i], &names, &nn);
		if (r == MN_ERANGE) {
			char buf[64];
			mn_net_format(&v[i], buf, sizeof(buf));
			diag_error(c->diag, net_pos(d, &v[i]), "SPF macro name for %s in %s passes 253 bytes",
				   buf, d->name);
			return MN_OK;
		}
		if (r != MN_OK)
			return r;
		for (size_t k = 0; r == MN_OK && k < nn; k++)
			r = zone_add_rr(z, names[k], ZONE_T_A, c->ttl, a_127_0_0_2, sizeof(a_127_0_0_2));
		macro_names_free(names, nn);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

static int spf_macro(const ctx_t *c, const policy_domain_t *d, zone_t *z, const spf_in_t *in)
{
	for (int fam = 4; fam <= 6; fam += 2) {
		size_t n = fam == 4 ? in->nm4 : in->nm6;
		size_t len = macro_query_len(z->name, fam);
		if (n > 0 && len > 253) {
			diag_error(c->diag, net_pos(d, fam == 4 ? &in->m4[0] : &in->m6[0]),
				   "SPF macro names of %s would be %zu bytes for IPv%d clients (limit 253)",
				   d->name, len, fam);
			return MN_OK;
		}
	}
	char *text = macro_record_text(z->name, in->kept, in->nkept, rec_spf_all_term(d->spf.all.v));
	if (text == NULL)
		return MN_ENOMEM;
	unsigned lookups = 2 + (unsigned)in->nkept;	/* include:_spf.D, exists, kept */
	if (lookups > SPF_LOOKUP_LIMIT)
		lookups_error(c, d, lookups);
	int r = add_one_record(c, d, z, text);
	if (r == MN_OK) {
		size_t nmap = 0;
		validate_term_t *map = term_map(d, NULL, NULL, 0, NULL, NULL, 0, in, &nmap);
		r = map == NULL ? MN_ENOMEM : validate_spf_record(c->val, d, text, map, nmap);
		free(map);
	}
	free(text);
	if (r == MN_OK)
		r = macro_nets(c, d, z, in->m4, in->nm4);
	if (r == MN_OK)
		r = macro_nets(c, d, z, in->m6, in->nm6);
	return r;
}

/*
 * With an SPF cache entry computed from the policy's current terms, the
 * networks of the cache replace the policy's (it holds them too) and its kept
 * terms replace the a/mx/include terms.  Without one (or a stale one), the
 * terms stay as written.
 */
static int spf_use_cache(const policy_domain_t *d, const char *state_dir, spf_in_t *in)
{
	spfcache_t *cache = NULL;
	int r = spfcache_load(state_dir, d->name, &cache);
	if (r != MN_OK)
		return r == MN_ENOMEM ? r : MN_OK;	/* absent or unreadable: as without a cache */
	char **terms = NULL;
	size_t nterms = 0;
	char *source = NULL;
	r = spfcache_terms(d->name, &d->spf, &terms, &nterms);
	if (r == MN_OK && (source = spfcache_source(terms, nterms)) == NULL)
		r = MN_ENOMEM;
	rec_terms_free(terms, nterms);
	if (r != MN_OK || strcmp(source, cache->source) != 0) {
		free(source);
		spfcache_free(cache);
		return r;
	}
	free(source);
	mn_net_t *m4 = NULL, *m6 = NULL;
	size_t n4 = 0, n6 = 0, k4 = 0, k6 = 0;
	for (size_t i = 0; i < cache->nnets; i++)
		cache->nets[i].family == 4 ? n4++ : n6++;
	mn_net_t *v4 = n4 ? malloc(n4 * sizeof(*v4)) : NULL, *v6 = n6 ? malloc(n6 * sizeof(*v6)) : NULL;
	if ((n4 && v4 == NULL) || (n6 && v6 == NULL)) {
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cache->nnets; i++) {
		if (cache->nets[i].family == 4)
			v4[k4++] = cache->nets[i];
		else
			v6[k6++] = cache->nets[i];
	}
	r = rec_nets_merge(v4, n4, &m4, &n4);
	if (r == MN_OK)
		r = rec_nets_merge(v6, n6, &m6, &n6);
	if (r != MN_OK) {
		free(m4);
		goto out;
	}
	char **kept = cache->nkept ? calloc(cache->nkept, sizeof(*kept)) : NULL;
	if (cache->nkept && kept == NULL) {
		free(m4);
		free(m6);
		r = MN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cache->nkept; i++) {
		kept[i] = cache->kept[i];
		cache->kept[i] = NULL;
	}
	free(in->m4);
	free(in->m6);
	rec_terms_free(in->kept, in->nkept);
	in->m4 = m4;
	in->nm4 = n4;
	in->m6 = m6;
	in->nm6 = n6;
	in->kept = kept;
	in->nkept = cache->nkept;
	in->cache = cache;
	cache = NULL;
out:
	free(v4);
	free(v6);
	spfcache_free(cache);
	return r;
}

static int build_spf(const ctx_t *c, const policy_domain_t *d, zone_t *z)
{
	const policy_spf_t *s = &d->spf;
	if (!s->present)
		return MN_OK;
	spf_in_t in = { 0 };
	int r = nets_of(&s->ip4, &in.v4);
	in.n4 = in.v4 ? s->ip4.n : 0;
	if (r == MN_OK)
		r = nets_of(&s->ip6, &in.v6);
	in.n6 = in.v6 ? s->ip6.n : 0;
	if (r == MN_OK)
		r = rec_nets_merge(in.v4, in.n4, &in.m4, &in.nm4);
	if (r == MN_OK)
		r = rec_nets_merge(in.v6, in.n6, &in.m6, &in.nm6);
	if (r == MN_OK)
		r = rec_spf_kept_terms(d->name, s, &in.kept, &in.nkept);
	if (r == MN_EINVAL) {	/* a network of the wrong family */
		diag_error(c->diag, spf_pos(d), "SPF networks of %s are of the wrong family", d->name);
		r = MN_OK;
		goto out;
	}
	if (r != MN_OK)
		goto out;
	if ((spf_mode_t)s->mode.v != SPF_MODE_PLAIN && c->p->server.state_dir.v != NULL &&
	    dirset_maybe(c->spf, d->name)) {
		r = spf_use_cache(d, c->p->server.state_dir.v, &in);
		if (r != MN_OK)
			goto out;
	}
	bool fits = true;
	switch ((spf_mode_t)s->mode.v) {
	case SPF_MODE_PLAIN:
		r = spf_plain(c, d, z, &in);
		break;
	case SPF_MODE_FLATTEN:
		r = spf_flatten(c, d, z, &in, &fits);
		break;
	case SPF_MODE_AUTO:
		r = spf_flatten(c, d, z, &in, &fits);
		if (r == MN_OK && !fits)
			r = spf_macro(c, d, z, &in);
		break;
	case SPF_MODE_MACRO:
		r = spf_macro(c, d, z, &in);
		break;
	default:
		diag_error(c->diag, spf_pos(d), "unknown SPF mode %d", s->mode.v);
		break;
	}
out:
	spf_in_free(&in);
	return r;
}

/* ---- zones -------------------------------------------------------------------- */

static const struct {
	const char *label;
	zone_kind_t kind;
	int (*build)(const ctx_t *c, const policy_domain_t *d, zone_t *z);
} kinds[] = {
	{ "_domainkey", ZONE_DKIM, build_dkim },
	{ "_dmarc", ZONE_DMARC, build_dmarc },
	{ "_spf", ZONE_SPF, build_spf },
};

static int compile_domain(const ctx_t *c, const policy_domain_t *d, zones_t *zs)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char *apex = name_join(kinds[k].label, d->name);
		if (apex == NULL)
			return MN_ENOMEM;
		char why[64];
		if (!name_valid(apex, why, sizeof(why))) {
			diag_error(c->diag, &d->pos, "zone name %s %s", apex, why);
			free(apex);
			continue;
		}
		zone_t *z = zone_new(apex, kinds[k].kind, d->name);
		free(apex);
		if (z == NULL)
			return MN_ENOMEM;
		zs->v[zs->n++] = z;
		int r = add_soa_ns(c, z);
		if (r == MN_OK)
			r = kinds[k].build(c, d, z);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

static int zone_cmp(const void *x, const void *y)
{
	return strcmp((*(zone_t *const *)x)->name, (*(zone_t *const *)y)->name);
}

/* ---- parts: domain ranges compiled on their own threads ------------------------- */

enum { PARTS_MAX = 8, PART_MIN_DOMAINS = 2000 };

/*
 * A range of the sorted domains with its own diag and validate_t (the first
 * part uses the caller's), compiled and finished independently: domains share
 * nothing but the read-only policy, the report list and the files they read.
 */
typedef struct part {
	ctx_t c;
	const policy_domain_t *only;
	size_t lo, hi;
	zones_t zs;		/* in domain order */
	int r;
	/* with a compile cache: */
	const compile_cache_t *prev;	/* the entries to reuse (NULL: none) */
	incr_entry_t **fresh;		/* this compile's entry of each domain, by index */
	incr_hash_t h;
	size_t reused, compiled;
} part_t;

/*
 * Reads what d's zones depend on besides the policy (its key store, kept in
 * dm for build_dkim; its SPF cache file; the hosted domains reporting to it)
 * and digests it all with d's policy subtree.
 */
static int domain_inputs(part_t *pt, const policy_domain_t *d, dom_in_t *dm, uint8_t key[32], uint8_t pos[32])
{
	const ctx_t *c = &pt->c;
	incr_hash_t *h = &pt->h;
	incr_hash_reset(h);
	incr_hash_domain(h, c->p, d);
	size_t lo = reports_first(c, d->name);
	for (size_t i = lo; i < c->nreports && strcmp(c->reports[i].target, d->name) == 0; i++) {
		incr_hash_str(h, c->reports[i].source);
		incr_hash_pos(h, &c->reports[i].pos);
	}
	incr_hash_str(h, "keys");
	const char *state = c->p->server.state_dir.v;
	dm->keys_given = true;
	if (state != NULL && dirset_maybe(c->keys, d->name)) {
		dm->keys_r = keystore_published(state, d->name, &dm->keys, &dm->nkeys);
		if (dm->keys_r == MN_ENOMEM)
			return MN_ENOMEM;
	}
	incr_hash_u32(h, (uint32_t)dm->keys_r);
	incr_hash_u32(h, (uint32_t)dm->nkeys);
	for (size_t i = 0; i < dm->nkeys; i++) {
		incr_hash_str(h, dm->keys[i].selector);
		incr_hash_u32(h, (uint32_t)dm->keys[i].phase);
		incr_hash_str(h, dm->keys[i].record);
	}
	incr_hash_str(h, "spf cache");
	if (state != NULL && dirset_maybe(c->spf, d->name)) {
		rec_buf_t b = { 0 };
		rec_buf_addf(&b, "%s/spf/%s", state, d->name);
		char *path = rec_buf_take(&b), *text = NULL;
		size_t len = 0;
		if (path == NULL)
			return MN_ENOMEM;
		int r = mn_file_read(path, &text, &len);
		free(path);
		if (r == MN_ENOMEM)
			return r;
		incr_hash_u32(h, (uint32_t)r);
		if (r == MN_OK)
			incr_hash_bytes(h, text, len);
		free(text);
	}
	return incr_hash_final(h, key, pos);
}

static bool reusable(const incr_entry_t *e, const uint8_t key[32], const uint8_t pos[32], time_t now)
{
	return e != NULL && memcmp(e->key, key, 32) == 0 && (e->ndiags == 0 || memcmp(e->pos, pos, 32) == 0) &&
	       now >= e->since && now < e->until;
}

/* Domain i through the cache: its entry's zones, or compiled into a new entry. */
static int compile_cached(part_t *pt, size_t i)
{
	const policy_domain_t *d = &pt->c.p->domains[i];
	dom_in_t dm = { .until = TIME_END };
	uint8_t key[32], pos[32];
	diag_t *dd = NULL;
	incr_entry_t *e = NULL;
	size_t z0 = pt->zs.n;
	int r = domain_inputs(pt, d, &dm, key, pos);
	if (r != MN_OK)
		goto out;
	incr_entry_t *old = incr_find(pt->prev, d->name);
	if (reusable(old, key, pos, pt->c.now)) {
		for (size_t k = 0; k < old->nzones; k++) {
			if ((pt->zs.v[pt->zs.n] = incr_zone_hold(old->zones[k])) == NULL) {
				r = MN_ENOMEM;
				goto out;
			}
			pt->zs.n++;
		}
		old->refs++;	/* one thread per domain: no other touches it now */
		pt->fresh[i] = old;
		pt->reused++;
		goto out;
	}
	if ((dd = diag_new()) == NULL || (e = incr_entry_new(d->name)) == NULL) {
		r = MN_ENOMEM;
		goto out;
	}
	if ((r = validate_scope(pt->c.val, dd)) != MN_OK)
		goto out;
	ctx_t c = pt->c;
	c.diag = dd;
	c.dom = &dm;
	r = compile_domain(&c, d, &pt->zs);
	for (size_t k = z0; r == MN_OK && k < pt->zs.n; k++)
		r = zone_finish(pt->zs.v[k]);
	/* held once they have their serials (entries_follow) */
	e->borrowed = true;
	for (size_t k = z0; r == MN_OK && k < pt->zs.n; k++)
		e->zones[e->nzones++] = pt->zs.v[k];
	for (size_t k = 0; r == MN_OK && k < diag_count(dd); k++) {
		uint64_t dk = 0;
		bool keyed = validate_scope_key(pt->c.val, k, &dk);
		r = incr_entry_add_diag(e, diag_get(dd, k), keyed, dk);
	}
	if (r == MN_OK && validate_oom(pt->c.val))
		r = MN_ENOMEM;
	if (r != MN_OK)
		goto out;
	memcpy(e->key, key, 32);
	memcpy(e->pos, pos, 32);
	e->since = pt->c.now;
	e->until = dm.until;
	pt->fresh[i] = e;
	e = NULL;
	pt->compiled++;
out:
	incr_entry_unref(e);
	diag_free(dd);
	keystore_pub_free(dm.keys, dm.nkeys);
	return r;
}

static int compile_range(part_t *pt)
{
	if (pt->fresh != NULL) {
		for (size_t i = pt->lo; i < pt->hi; i++) {
			int r = compile_cached(pt, i);
			if (r != MN_OK)
				return r;
		}
		return MN_OK;	/* finished domain by domain */
	}
	for (size_t i = pt->lo; i < pt->hi; i++) {
		const policy_domain_t *d = &pt->c.p->domains[i];
		if (pt->only != NULL && d != pt->only)
			continue;
		int r = compile_domain(&pt->c, d, &pt->zs);
		if (r != MN_OK)
			return r;
	}
	for (size_t i = 0; i < pt->zs.n; i++) {
		int r = zone_finish(pt->zs.v[i]);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

static void *part_main(void *arg)
{
	part_t *pt = arg;
	pt->r = compile_range(pt);
	return NULL;
}

static unsigned parts_wanted(const compile_opts_t *opts, size_t nd)
{
	unsigned n = opts->threads;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 1 ? (unsigned)cpus : 1;
		if (nd / PART_MIN_DOMAINS < n)
			n = (unsigned)(nd / PART_MIN_DOMAINS);
	}
	if (n > PARTS_MAX)
		n = PARTS_MAX;
	if (n > nd)
		n = (unsigned)nd;
	return n > 0 ? n : 1;
}

/*
 * Compiles the domains in nparts ranges, the first on this thread, and
 * gathers the zones into zs in domain order and the parts' messages into
 * c->diag in the same order (what one pass over all domains reports).
 */
/* Each domain's recorded messages into c's diag, in domain order, each
 * position's message once (what compiling them in one pass reports). */
static void replay(ctx_t *c, incr_entry_t **fresh, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const incr_entry_t *e = fresh[i];
		for (size_t k = 0; e != NULL && k < e->ndiags; k++) {
			const incr_diag_t *m = &e->diags[k];
			if (m->keyed && !validate_first(c->val, m->key))
				continue;
			mn_pos_t pos = { m->file, m->line, m->col };
			diag_add(c->diag, m->level, m->file != NULL ? &pos : NULL, "%s", m->msg);
		}
	}
}

/*
 * With fresh (a compile cache), every domain goes through compile_cached():
 * its entry in fresh[i], its messages replayed from there.
 */
static int compile_parts(ctx_t *c, const policy_domain_t *only, unsigned nparts, zones_t *zs,
			 const compile_cache_t *prev, incr_entry_t **fresh, compile_stats_t *st)
{
	const policy_t *p = c->p;
	part_t pt[PARTS_MAX];
	pthread_t tid[PARTS_MAX];
	bool started[PARTS_MAX] = { false };
	int r = MN_OK;
	memset(pt, 0, sizeof(pt));
	for (unsigned k = 0; k < nparts; k++) {
		pt[k].c = *c;
		pt[k].only = only;
		pt[k].prev = prev;
		pt[k].fresh = fresh;
		pt[k].lo = p->ndomains * k / nparts;
		pt[k].hi = p->ndomains * (k + 1) / nparts;
		size_t nd = only != NULL ? 1 : pt[k].hi - pt[k].lo;
		if (nd > 0 && (pt[k].zs.v = calloc(nd * 3, sizeof(*pt[k].zs.v))) == NULL)
			r = MN_ENOMEM;
		if ((k > 0 || fresh != NULL) && r == MN_OK) {
			pt[k].c.diag = diag_new();
			if (pt[k].c.diag == NULL || validate_part(pt[k].c.diag, &pt[k].c.val) != MN_OK) {
				pt[k].c.val = NULL;
				r = MN_ENOMEM;
			}
		}
	}
	for (unsigned k = 1; r == MN_OK && k < nparts; k++) {
		if (pthread_create(&tid[k], NULL, part_main, &pt[k]) != 0)
			pt[k].r = compile_range(&pt[k]);	/* no thread: here, in turn */
		else
			started[k] = true;
	}
	if (r == MN_OK)
		pt[0].r = compile_range(&pt[0]);
	for (unsigned k = 1; k < nparts; k++)
		if (started[k])
			pthread_join(tid[k], NULL);
	for (unsigned k = 0; r == MN_OK && k < nparts; k++)
		r = pt[k].r;
	for (unsigned k = 1; fresh == NULL && r == MN_OK && k < nparts; k++)
		r = validate_join(c->val, pt[k].c.val);
	if (fresh != NULL && r == MN_OK) {
		replay(c, fresh, p->ndomains);
		st->reused = st->compiled = 0;
		for (unsigned k = 0; k < nparts; k++) {
			st->reused += pt[k].reused;
			st->compiled += pt[k].compiled;
		}
	}
	/* every part's zones move into zs (freed with it, also on failure) */
	for (unsigned k = 0; k < nparts; k++) {
		for (size_t i = 0; i < pt[k].zs.n; i++)
			zs->v[zs->n++] = pt[k].zs.v[i];
		free(pt[k].zs.v);
		incr_hash_clear(&pt[k].h);
		/* (a part whose set-up was not reached still has the caller's) */
		if (pt[k].c.val != c->val)
			validate_free(pt[k].c.val);
		if (pt[k].c.diag != c->diag)
			diag_free(pt[k].c.diag);
	}
	return r;
}

/*
 * Sorts zs by apex.  The zones come in domain order, and for each kind the
 * apexes share their first label, so each kind alone is sorted already and
 * the kinds, by label, go _dmarc < _domainkey < _spf: a stable split by kind
 * sorts them.  (Checked; qsort if that ever stops being true.)
 */
static int zones_sort(zones_t *zs)
{
	static const zone_kind_t order[] = { ZONE_DMARC, ZONE_DKIM, ZONE_SPF };
	if (zs->n < 2)
		return MN_OK;
	zone_t **v = malloc(zs->n * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	size_t k = 0;
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (size_t i = 0; i < zs->n; i++)
			if (zs->v[i]->kind == order[o])
				v[k++] = zs->v[i];
	if (k != zs->n) {
		free(v);
		qsort(zs->v, zs->n, sizeof(*zs->v), zone_cmp);
		return MN_OK;
	}
	free(zs->v);
	zs->v = v;
	for (size_t i = 1; i < zs->n; i++) {
		if (strcmp(zs->v[i - 1]->name, zs->v[i]->name) > 0) {
			qsort(zs->v, zs->n, sizeof(*zs->v), zone_cmp);
			break;
		}
	}
	return MN_OK;
}

/*
 * After the serials: the entries of the domains compiled now hold their
 * zones (the output's, with serials); and a reused zone whose serial changed
 * (serial_set replaced it in zs by a copy: it was shared) is replaced in its
 * entry by that copy, so that the next compile does not copy it again.  (The
 * entry may be the old cache's too: the same records, another serial, which
 * every compile sets anyway.)  before: zs->v as it was before the serials.
 */
static int entries_follow(const policy_t *p, incr_entry_t **fresh, const zones_t *zs, zone_t *const *before)
{
	for (size_t i = 0; i < zs->n; i++) {
		if (zs->v[i] == before[i])
			continue;
		const policy_domain_t *d = domain_find(p, zs->v[i]->domain);
		incr_entry_t *e = d != NULL ? fresh[d - p->domains] : NULL;
		for (size_t k = 0; e != NULL && !e->borrowed && k < e->nzones; k++) {
			if (strcmp(e->zones[k]->name, zs->v[i]->name) != 0)
				continue;
			zone_t *h = incr_zone_hold(zs->v[i]);
			if (h == NULL)
				return MN_ENOMEM;
			zone_free(e->zones[k]);
			e->zones[k] = h;
		}
	}
	for (size_t i = 0; i < p->ndomains; i++) {
		incr_entry_t *e = fresh[i];
		if (e == NULL || !e->borrowed)
			continue;
		size_t k = 0;
		for (; k < e->nzones; k++) {
			zone_t *h = incr_zone_hold(e->zones[k]);	/* (not shared: written in place) */
			if (h == NULL)
				break;
			e->zones[k] = h;
		}
		if (k < e->nzones) {
			/* the held ones go, the rest stay borrowed: the entry frees none */
			for (size_t j = 0; j < k; j++)
				zone_free(e->zones[j]);
			return MN_ENOMEM;
		}
		e->borrowed = false;
	}
	return MN_OK;
}

int zones_compile(const policy_t *p, const compile_opts_t *opts, diag_t *diag, zones_t **out)
{
	if (p == NULL || diag == NULL || out == NULL)
		return MN_EINVAL;
	compile_opts_t defaults = { .now = mn_now() };
	if (opts == NULL)
		opts = &defaults;
	ctx_t c = { .p = p, .diag = diag, .ttl = p->server.ttl.v, .now = opts->now };
	zones_t *zs = NULL;
	const compile_cache_t *prev = NULL;
	incr_entry_t **fresh = NULL;
	zone_t **before = NULL;
	uint8_t global[32], pos[32];
	compile_stats_t st = { 0, 0 };
	size_t errors = diag_errors(diag);
	int r = MN_OK;

	if (p->server.nameservers.n == 0 || p->server.hostmaster.v == NULL) {
		diag_error(diag, NULL, "server.nameservers and server.hostmaster are required");
		return MN_EPOLICY;
	}
	const policy_domain_t *only = NULL;
	if (opts->only_domain != NULL) {
		char norm[256];
		if (mn_name_norm(opts->only_domain, norm, sizeof(norm)) != MN_OK ||
		    (only = domain_find(p, norm)) == NULL)
			return MN_ENOENT;
	}
	dirset_t keys = { .unknown = true }, spf = { .unknown = true };
	if (p->server.state_dir.v != NULL) {
		if ((r = dirset_load(&keys, p->server.state_dir.v, "keys")) != MN_OK)
			return r;
		if ((r = dirset_load(&spf, p->server.state_dir.v, "spf")) != MN_OK) {
			dirset_free(&keys);
			return r;
		}
	}
	c.keys = &keys;
	c.spf = &spf;
	apex_rd_t rd;
	if ((r = apex_rd_make(&p->server, &rd)) != MN_OK) {
		dirset_free(&keys);
		dirset_free(&spf);
		return r;
	}
	c.rd = &rd;
	r = validate_new(diag, &c.val);
	if (r != MN_OK)
		goto fail;
	r = reports_collect(&c);
	if (r != MN_OK)
		goto fail;
	zs = calloc(1, sizeof(*zs));
	size_t nd = only ? 1 : p->ndomains;
	if (zs == NULL || (nd > 0 && (zs->v = calloc(nd * 3, sizeof(*zs->v))) == NULL)) {
		r = MN_ENOMEM;
		goto fail;
	}
	if (opts->cache != NULL && only == NULL) {
		incr_hash_t gh = { 0 };
		incr_hash_server(&gh, &p->server);
		r = incr_hash_final(&gh, global, pos);
		incr_hash_clear(&gh);
		if (r != MN_OK)
			goto fail;
		/* other server settings: nothing is reused */
		if (incr_global_same(opts->cache, global))
			prev = opts->cache;
		if ((fresh = calloc(nd > 0 ? nd : 1, sizeof(*fresh))) == NULL) {
			r = MN_ENOMEM;
			goto fail;
		}
	}
	r = compile_parts(&c, only, only != NULL ? 1 : parts_wanted(opts, nd), zs, prev, fresh, &st);
	if (fresh == NULL)
		st.compiled = nd;
	if (r == MN_OK)
		r = zones_sort(zs);
	if (r != MN_OK)
		goto fail;
	r = validate_zones(c.val, p, zs);
	if (r != MN_OK)
		goto fail;
	if (diag_errors(diag) > errors) {
		r = MN_EPOLICY;
		goto fail;
	}
	if (fresh != NULL && zs->n > 0 && (before = malloc(zs->n * sizeof(*before))) == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	if (before != NULL)
		memcpy(before, zs->v, zs->n * sizeof(*before));
	if (p->server.state_dir.v != NULL) {
		r = serial_assign(zs, p->server.state_dir.v, opts->now, opts->persist_serials, diag);
		if (r != MN_OK)
			goto fail;
	} else {
		uint32_t base = serial_date_base(opts->now);
		for (size_t i = 0; r == MN_OK && i < zs->n; i++)
			r = serial_set(zs, i, base);
		if (r != MN_OK)
			goto fail;
	}
	if (fresh != NULL) {
		r = entries_follow(p, fresh, zs, before);
		if (r == MN_OK)
			r = incr_install(opts->cache, global, fresh, nd);
		if (r != MN_OK)
			goto fail;
		free(fresh);	/* the entries are the cache's now */
		free(before);
	}
	if (opts->stats != NULL)
		*opts->stats = st;
	for (size_t i = 0; i < c.nreports; i++)
		free(c.reports[i].target);
	free(c.reports);
	validate_free(c.val);
	dirset_free(&keys);
	dirset_free(&spf);
	apex_rd_free(&rd);
	*out = zs;
	return MN_OK;
fail:
	dirset_free(&keys);
	dirset_free(&spf);
	apex_rd_free(&rd);
	for (size_t i = 0; i < c.nreports; i++)
		free(c.reports[i].target);
	free(c.reports);
	validate_free(c.val);
	zones_free(zs);
	for (size_t i = 0; fresh != NULL && i < p->ndomains; i++)	/* (fresh: all domains) */
		incr_entry_unref(fresh[i]);
	free(fresh);
	free(before);
	return r;
}
