/* SPDX-License-Identifier: GPL-3.0-or-later */
/* validate.c -- the publishing rules (SPEC §6) applied to every compiled record, at its policy position */
#include "zones/validate.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/dkim_rec.h"
#include "policy/dmarc.h"
#include "policy/map.h"
#include "policy/spf.h"
#include "zones/zone_internal.h"

#define SPF_VOID_LIMIT 2	/* RFC 7208 §4.6.4 */
#define TXT_STRING_MAX 255

enum { CLEAN_SLOTS = 256 };

struct validate {
	diag_t *diag;
	uint64_t *seen;		/* open addressing; 0 = empty */
	size_t nseen, cap;
	bool oom;
	/*
	 * DKIM key records found clean lately (NULL until the first): each of
	 * CLEAN_SLOTS slots, picked by a few words of the text, holds a copy
	 * of the last clean record that fell there.  A key shared by many
	 * domains (a selector of the defaults) is parsed by OpenSSL once per
	 * compile, not once per domain, and a key of one domain alone costs
	 * one copy into its slot (a map of them all hashed every ~400-byte
	 * record twice, a byte at a time, and grew to 100,000s of copies).
	 */
	struct clean_slot { char *text; size_t cap; } *clean;
	/*
	 * A part (validate_part): the key of every message it reported at a
	 * position, with the message's index in its diag, so that
	 * validate_join() can leave out what the whole already reported.
	 */
	bool part;
	struct emitted { size_t idx; uint64_t key; } *emitted;
	size_t nemitted, emittedcap;
	bool names_known;	/* validate_names_known() */
	const bool *known;	/* validate_known_zones() */
};

int validate_new(diag_t *diag, validate_t **out)
{
	if (diag == NULL || out == NULL)
		return MN_EINVAL;
	validate_t *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	v->diag = diag;
	*out = v;
	return MN_OK;
}

void validate_free(validate_t *v)
{
	if (v == NULL)
		return;
	free(v->seen);
	for (size_t i = 0; v->clean != NULL && i < CLEAN_SLOTS; i++)
		free(v->clean[i].text);
	free(v->clean);
	free(v->emitted);
	free(v);
}

/* ---- reporting each (position, message) once --------------------------------- */

static uint64_t pos_key(const mn_pos_t *pos, int tag, const char *msg)
{
	uint64_t h = MN_HASH_INIT;
	h = mn_hash(h, pos->file, strlen(pos->file));
	h = mn_hash(h, &pos->line, sizeof(pos->line));
	h = mn_hash(h, &pos->col, sizeof(pos->col));
	h = mn_hash(h, &tag, sizeof(tag));
	if (msg != NULL)
		h = mn_hash(h, msg, strlen(msg));
	return h == 0 ? 1 : h;
}

/* true the first time key is offered (and on allocation failure: better twice than never) */
static bool first_time(validate_t *v, uint64_t key)
{
	if (v->nseen * 2 >= v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		uint64_t *t = calloc(cap, sizeof(*t));
		if (t == NULL) {
			v->oom = true;
			return true;
		}
		for (size_t i = 0; i < v->cap; i++) {
			if (v->seen[i] == 0)
				continue;
			size_t j = v->seen[i] & (cap - 1);
			while (t[j] != 0)
				j = (j + 1) & (cap - 1);
			t[j] = v->seen[i];
		}
		free(v->seen);
		v->seen = t;
		v->cap = cap;
	}
	size_t j = key & (v->cap - 1);
	while (v->seen[j] != 0) {
		if (v->seen[j] == key)
			return false;
		j = (j + 1) & (v->cap - 1);
	}
	v->seen[j] = key;
	v->nseen++;
	return true;
}

int validate_part(diag_t *diag, validate_t **out)
{
	validate_t *v = NULL;
	int r = validate_new(diag, &v);
	if (r != MN_OK)
		return r;
	v->part = true;
	*out = v;
	return MN_OK;
}

int validate_join(validate_t *v, const validate_t *part)
{
	if (v == NULL || part == NULL || !part->part)
		return MN_EINVAL;
	size_t e = 0;
	for (size_t i = 0; i < diag_count(part->diag); i++) {
		const diag_item_t *it = diag_get(part->diag, i);
		if (e < part->nemitted && part->emitted[e].idx == i) {
			if (!first_time(v, part->emitted[e++].key))
				continue;
		}
		mn_pos_t pos = { it->file, it->line, it->col };
		diag_add(v->diag, it->level, it->file != NULL ? &pos : NULL, "%s", it->msg);
	}
	if (part->oom)
		v->oom = true;
	return MN_OK;
}

int validate_scope(validate_t *part, diag_t *diag)
{
	if (part == NULL || diag == NULL || !part->part)
		return MN_EINVAL;
	if (part->nseen > 0)
		memset(part->seen, 0, part->cap * sizeof(*part->seen));
	part->nseen = 0;
	part->nemitted = 0;
	part->diag = diag;
	return MN_OK;
}

bool validate_scope_key(const validate_t *part, size_t idx, uint64_t *key)
{
	/* emitted[] is in diag order */
	size_t lo = 0, hi = part->nemitted;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (part->emitted[mid].idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < part->nemitted && part->emitted[lo].idx == idx) {
		*key = part->emitted[lo].key;
		return true;
	}
	return false;
}

bool validate_first(validate_t *v, uint64_t key)
{
	return first_time(v, key);
}

bool validate_oom(const validate_t *v)
{
	return v->oom;
}

/* The clean-record slot of text (len bytes): from four words spread over it, or its bytes when short. */
static struct clean_slot *clean_slot(validate_t *v, const char *text, size_t len)
{
	uint64_t h = len;
	for (size_t k = 1; k <= 4 && len >= 8; k++) {
		uint64_t w;
		memcpy(&w, text + (len - 8) * k / 4, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15u;
	}
	for (size_t i = 0; len < 8 && i < len; i++)
		h = (h ^ (unsigned char)text[i]) * 0x9e3779b97f4a7c15u;
	return &v->clean[(h >> 32) % CLEAN_SLOTS];
}

static bool known_clean(validate_t *v, const char *text)
{
	if (v->clean == NULL)
		return false;
	const struct clean_slot *c = clean_slot(v, text, strlen(text));
	return c->text != NULL && strcmp(c->text, text) == 0;
}

/*
 * Remembers a clean record known_clean() just missed, in place of its slot's;
 * on ENOMEM it is simply checked again next time.
 */
static void remember_clean(validate_t *v, const char *text)
{
	if (v->clean == NULL && (v->clean = calloc(CLEAN_SLOTS, sizeof(*v->clean))) == NULL)
		return;
	size_t len = strlen(text);
	struct clean_slot *c = clean_slot(v, text, len);
	if (c->cap <= len) {
		char *t = malloc(len + 1);
		if (t == NULL)
			return;
		free(c->text);
		c->text = t;
		c->cap = len + 1;
	}
	memcpy(c->text, text, len + 1);
}

/* Adds msg at pos unless the same message was already reported there. */
static void emit(validate_t *v, diag_level_t level, const mn_pos_t *pos, const char *msg)
{
	if (pos != NULL && pos->file == NULL)
		pos = NULL;
	uint64_t key = pos != NULL ? pos_key(pos, (int)level, msg) : 0;
	if (pos != NULL && !first_time(v, key))
		return;
	if (v->part && pos != NULL) {
		if (v->nemitted == v->emittedcap) {
			size_t cap = v->emittedcap ? v->emittedcap * 2 : 16;
			struct emitted *t = realloc(v->emitted, cap * sizeof(*t));
			if (t == NULL) {
				v->oom = true;
				return;
			}
			v->emitted = t;
			v->emittedcap = cap;
		}
		v->emitted[v->nemitted++] = (struct emitted){ diag_count(v->diag), key };
	}
	diag_add(v->diag, level, pos, "%s", msg);
}

__attribute__((format(printf, 4, 5)))
static void emitf(validate_t *v, diag_level_t level, const mn_pos_t *pos, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(v, level, pos, buf);
}

/* A scratch diag for a validator; NULL on ENOMEM. */
static diag_t *scratch(void)
{
	diag_t *d = NULL;
	return diag_new(&d) == MN_OK ? d : NULL;
}

/* ---- SPF ------------------------------------------------------------------------ */

const mn_pos_t *validate_spf_pos(const policy_domain_t *d)
{
	const policy_spf_t *s = &d->spf;
	if (POLICY_SET(s->mode))
		return &s->mode.pos;
	const mn_pos_t *cand[] = { &s->ip4.pos, &s->ip6.pos, &s->a.pos, &s->mx.pos,
				   &s->include.pos, &s->all.pos };
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (cand[i]->file != NULL)
			return cand[i];
	return &d->pos;
}

const mn_pos_t *validate_net_pos(const policy_domain_t *d, const mn_net_t *net)
{
	const policy_nets_t *in = net->family == 4 ? &d->spf.ip4 : &d->spf.ip6;
	const policy_net_t *best = NULL;
	for (size_t i = 0; i < in->n; i++) {
		if (mn_net_inside(net, &in->v[i].net) && (best == NULL || in->v[i].net.prefix < best->net.prefix)) {
			best = &in->v[i];
			if (best->net.prefix == net->prefix)
				break;	/* the network itself: nothing inside it is wider */
		}
	}
	if (best != NULL && best->pos.file != NULL)
		return &best->pos;
	return POLICY_SET(*in) ? &in->pos : validate_spf_pos(d);
}

/* A term's position (a network term's found now: only messages need it). */
static const mn_pos_t *term_pos(const policy_domain_t *d, const validate_term_t *t)
{
	if (t->pos != NULL)
		return t->pos;
	return t->net != NULL ? validate_net_pos(d, t->net) : validate_spf_pos(d);
}

/* The position of the term quoted in msg ("'ip4:0.0.0.0/0' passes ..."), or NULL. */
static const mn_pos_t *term_of(const policy_domain_t *d, const char *msg, const validate_term_t *terms, size_t n)
{
	const validate_term_t *best = NULL;
	size_t bestlen = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(terms[i].text);
		for (const char *q = strchr(msg, '\''); q != NULL; q = strchr(q + 1, '\'')) {
			if (strncmp(q + 1, terms[i].text, len) == 0 && q[1 + len] == '\'') {
				if (best == NULL || len > bestlen) {
					best = &terms[i];
					bestlen = len;
				}
				break;
			}
		}
	}
	return best != NULL ? term_pos(d, best) : NULL;
}

int validate_spf_record(validate_t *v, const policy_domain_t *d, const char *text,
			const validate_term_t *terms, size_t nterms)
{
	if (v == NULL || d == NULL || text == NULL || (terms == NULL && nterms > 0))
		return MN_EINVAL;
	for (size_t i = 0; i < nterms; i++) {
		size_t len = strlen(terms[i].text);
		if (len > TXT_STRING_MAX)
			emitf(v, DIAG_ERROR, term_pos(d, &terms[i]),
			      "SPF: term '%s' is %zu bytes, more than one TXT string holds (%d)",
			      terms[i].text, len, TXT_STRING_MAX);
	}
	diag_t *tmp = scratch();
	if (tmp == NULL)
		return MN_ENOMEM;
	int r = spf_record_check(text, NULL, tmp, NULL);
	if (r == MN_ENOMEM || r == MN_EINVAL) {
		diag_free(tmp);
		return r;
	}
	for (size_t i = 0; i < diag_count(tmp); i++) {
		const diag_item_t *it = diag_get(tmp, i);
		if (strstr(it->msg, "DNS lookup terms") != NULL)
			continue;	/* counted from the apex by compile.c */
		const mn_pos_t *pos = term_of(d, it->msg, terms, nterms);
		emit(v, it->level, pos ? pos : validate_spf_pos(d), it->msg);
	}
	diag_free(tmp);
	return MN_OK;
}

/* ---- DKIM ----------------------------------------------------------------------- */

/*
 * Checks one DKIM key record.  *found stays NULL when it is clean (a record
 * already found clean is not parsed again); otherwise it holds the problems,
 * which the caller reports at its position and frees (diag_free(NULL) is fine).
 */
static int check_dkim(validate_t *v, const char *text, diag_t **found)
{
	*found = NULL;
	if (known_clean(v, text))
		return MN_OK;
	diag_t *tmp = scratch();
	if (tmp == NULL)
		return MN_ENOMEM;
	int r = dkim_key_record_check(text, NULL, tmp, NULL);
	if (r == MN_ENOMEM) {
		diag_free(tmp);
		return r;
	}
	if (diag_count(tmp) == 0) {
		if (r == MN_OK)
			remember_clean(v, text);
		diag_free(tmp);
		return MN_OK;
	}
	*found = tmp;
	return MN_OK;
}

int validate_dkim_selectors(validate_t *v, const policy_domain_t *d)
{
	if (v == NULL || d == NULL)
		return MN_EINVAL;
	for (size_t i = 0; i < d->dkim.selectors.n; i++) {
		const policy_selector_t *s = &d->dkim.selectors.v[i];
		const mn_pos_t *pos = POLICY_SET(s->record) ? &s->record.pos : &s->name.pos;
		/* a selector merged from defaults: checked once */
		if (pos->file != NULL && !first_time(v, pos_key(pos, 'K', NULL)))
			continue;
		diag_t *tmp = NULL;
		int r = check_dkim(v, s->record.v ? s->record.v : "", &tmp);
		if (r != MN_OK)
			return r;
		for (size_t k = 0; k < diag_count(tmp); k++) {
			const diag_item_t *it = diag_get(tmp, k);
			emit(v, it->level, pos, it->msg);
		}
		diag_free(tmp);
	}
	return MN_OK;
}

int validate_dkim_store(validate_t *v, const char *domain, const keystore_pub_t *keys, size_t nkeys)
{
	if (v == NULL || domain == NULL || (keys == NULL && nkeys > 0))
		return MN_EINVAL;
	for (size_t i = 0; i < nkeys; i++) {
		diag_t *tmp = NULL;
		int r = check_dkim(v, keys[i].record ? keys[i].record : "", &tmp);
		if (r != MN_OK)
			return r;
		for (size_t k = 0; k < diag_count(tmp); k++) {
			const diag_item_t *it = diag_get(tmp, k);
			diag_add(v->diag, it->level, NULL, "state_dir/keys/%s/published: selector %s: %s",
				 domain, keys[i].selector, it->msg);
		}
		diag_free(tmp);
	}
	return MN_OK;
}

/* ---- DMARC ---------------------------------------------------------------------- */

/* name is d or below it */
static bool name_under(const char *name, const char *d)
{
	size_t n = strlen(name), k = strlen(d);
	if (n == k)
		return strcmp(name, d) == 0;
	return n > k && name[n - k - 1] == '.' && strcmp(name + n - k, d) == 0;
}

/* Checks the entries of rua or ruf; *bad counts the URIs with errors. */
static int check_uris(validate_t *v, const policy_t *p, const policy_domain_t *d, const policy_strs_t *u,
		      const char *tag, unsigned *bad)
{
	for (size_t i = 0; i < u->n; i++) {
		const policy_str_t *e = &u->v[i];
		diag_t *tmp = scratch();
		if (tmp == NULL)
			return MN_ENOMEM;
		dmarc_dest_t dest = { 0 };
		int r = dmarc_uri_check(e->v ? e->v : "", tag, NULL, tmp, &dest);
		if (r == MN_ENOMEM || r == MN_EINVAL) {
			diag_free(tmp);
			return r;
		}
		for (size_t k = 0; k < diag_count(tmp); k++) {
			const diag_item_t *it = diag_get(tmp, k);
			emit(v, it->level, &e->pos, it->msg);
		}
		if (diag_errors(tmp) > 0 || r != MN_OK)
			(*bad)++;
		diag_free(tmp);
		if (r != MN_OK)
			continue;
		if (dest.scheme == DMARC_URI_MAILTO && dest.domain != NULL && !name_under(dest.domain, d->name) &&
		    policy_domain_find(p, dest.domain) == NULL)
			emitf(v, DIAG_WARNING, &e->pos,
			      "DMARC: %s destination %s is outside %s: %s must publish "
			      "%s._report._dmarc.%s TXT \"v=DMARC1\" (checked by --dns)",
			      tag, dest.domain, d->name, dest.domain, d->name, dest.domain);
		dmarc_dest_clear(&dest);
	}
	return MN_OK;
}

int validate_dmarc(validate_t *v, const policy_t *p, const policy_domain_t *d, const char *text)
{
	if (v == NULL || p == NULL || d == NULL || text == NULL)
		return MN_EINVAL;
	const policy_dmarc_t *m = &d->dmarc;
	unsigned bad = 0;
	int r = check_uris(v, p, d, &m->rua, "rua", &bad);
	if (r == MN_OK)
		r = check_uris(v, p, d, &m->ruf, "ruf", &bad);
	if (r != MN_OK)
		return r;
	static const char *const what[] = { "subdomains", "non-existent subdomains" };
	const policy_enum_t *sub[] = { &m->sp, &m->np };
	for (int i = 0; i < 2; i++)
		if (POLICY_SET(*sub[i]) && sub[i]->v < m->p.v)
			emitf(v, DIAG_WARNING, &sub[i]->pos, "DMARC: %s=%s is weaker than p=%s (%s are less protected)",
			      i == 0 ? "sp" : "np", policy_dmarc_p_name(sub[i]->v), policy_dmarc_p_name(m->p.v),
			      what[i]);
	if (bad > 0)
		return MN_OK;	/* the record repeats the bad URIs: already reported */
	diag_t *tmp = scratch();
	if (tmp == NULL)
		return MN_ENOMEM;
	r = dmarc_record_check(text, NULL, tmp, NULL);
	if (r == MN_ENOMEM) {
		diag_free(tmp);
		return r;
	}
	/* warnings (pct rf ri, sp np) are the loader's and the ones above */
	const mn_pos_t *pos = POLICY_SET(m->p) ? &m->p.pos : &d->pos;
	for (size_t k = 0; k < diag_count(tmp); k++) {
		const diag_item_t *it = diag_get(tmp, k);
		if (it->level == DIAG_ERROR)
			emitf(v, DIAG_ERROR, pos, "%s (in the compiled record \"%s\")", it->msg, text);
	}
	diag_free(tmp);
	return MN_OK;
}

/* ---- the whole set --------------------------------------------------------------- */

/*
 * The apexes of the set by hash: the rules below look up every suffix of
 * every zone and target name (600,000 lookups for 100,000 domains).  Without
 * memory for the table, zones_find() answers.
 */
typedef struct apexes {
	const zones_t *zs;
	mn_map_t map;		/* apex name -> const zone_t * */
	/* every apex starts with '_' (_dmarc, _domainkey, _spf): a name that
	 * does not is none of them, without a lookup (found out at the first) */
	bool underscore, underscore_set;
	bool built;		/* map made (empty after ENOMEM: zones_find) */
} apexes_t;

static void apexes_init(apexes_t *a, const zones_t *zs)
{
	a->zs = zs;
	a->map = (mn_map_t){ 0 };
	a->built = false;
	a->underscore_set = false;
}

/* The table, made at the first lookup that needs it (most policies need none). */
static void apexes_build(apexes_t *a)
{
	const zones_t *zs = a->zs;
	a->built = true;
	if (mn_map_init(&a->map, zs->n) != MN_OK)
		return;
	for (size_t i = 0; i < zs->n; i++) {
		/* sized for zs->n: no growth, so no failure */
		void **slot = mn_map_put(&a->map, zs->v[i]->name, strlen(zs->v[i]->name));
		if (slot != NULL && *slot == NULL)
			*slot = (void *)zs->v[i];	/* the first zone of a name */
	}
}

static const zone_t *apexes_find(apexes_t *a, const char *name)
{
	if (!a->underscore_set) {
		/* (a walk over every zone: not made when nothing is looked up) */
		a->underscore_set = true;
		a->underscore = true;
		for (size_t i = 0; i < a->zs->n && a->underscore; i++)
			a->underscore = a->zs->v[i]->name[0] == '_';
	}
	if (a->underscore && name[0] != '_')
		return NULL;
	if (!a->built)
		apexes_build(a);
	if (a->map.cap == 0)
		return zones_find(a->zs, name);
	return mn_map_gets(&a->map, name);
}

/* The served zone holding name (the closest enclosing apex), or NULL. */
static const zone_t *enclosing(apexes_t *zs, const char *name)
{
	for (const char *q = name; q != NULL;) {
		const zone_t *z = apexes_find(zs, q);
		if (z != NULL)
			return z;
		q = strchr(q, '.');
		if (q != NULL)
			q++;
	}
	return NULL;
}

static const zone_t *enclosing_above(apexes_t *zs, const char *name)
{
	const char *q = strchr(name, '.');
	return q != NULL ? enclosing(zs, q + 1) : NULL;
}

/* Does the TXT rdata start with "v=spf1" / "v=DMARC1" (version tag, then SP or end)? */
static bool txt_is(const zone_rr_t *rr, const char *version)
{
	size_t n = strlen(version);
	if (rr->type != ZONE_T_TXT || rr->rdlen < 1 + n || rr->rdata[0] < n)
		return false;
	const char *s = (const char *)rr->rdata + 1;
	return strncasecmp(s, version, n) == 0 && (rr->rdata[0] == n || s[n] == ' ' || s[n] == ';');
}

static bool has_rr(const zone_t *z, const char *owner, uint16_t type, const char *version)
{
	uint8_t wire[256];
	int len = mn_name_to_wire(owner, wire, sizeof(wire));
	if (len < 0)
		return false;
	long i = zone_find(z, wire, (uint16_t)len, type);
	if (i < 0)
		return false;
	if (version == NULL)
		return true;
	for (size_t k = (size_t)i; k < z->nrrs && z->rrs[k].type == type &&
	     z->rrs[k].owner_len == len && memcmp(z->rrs[k].owner, wire, (size_t)len) == 0; k++)
		if (txt_is(&z->rrs[k], version))
			return true;
	return false;
}

/* A or AAAA at name, or at the wildcard of its parent. */
static bool has_address(const zone_t *z, const char *name)
{
	if (has_rr(z, name, ZONE_T_A, NULL) || has_rr(z, name, ZONE_T_AAAA, NULL))
		return true;
	const char *parent = strchr(name, '.');
	if (parent == NULL)
		return false;
	char wild[260];
	snprintf(wild, sizeof(wild), "*.%s", parent + 1);
	return has_rr(z, wild, ZONE_T_A, NULL) || has_rr(z, wild, ZONE_T_AAAA, NULL);
}

static void check_nesting(validate_t *v, const policy_t *p, apexes_t *ax)
{
	const zones_t *zs = ax->zs;
	for (size_t i = 0; i < zs->n; i++) {
		const zone_t *z = zs->v[i];
		const zone_t *outer = enclosing_above(ax, z->name);
		if (outer == NULL)
			continue;
		const policy_domain_t *in = policy_domain_find(p, z->domain);
		const policy_domain_t *out = policy_domain_find(p, outer->domain);
		char where[600] = "";
		if (out != NULL && out->pos.file != NULL)
			snprintf(where, sizeof(where), " (at %s:%u:%u)", out->pos.file, out->pos.line, out->pos.col);
		emitf(v, DIAG_ERROR, in ? &in->pos : NULL,
		      "domain %s would be served inside zone %s of domain %s%s: a name cannot be in two zones",
		      z->domain, outer->name, outer->domain, where);
	}
}

/* False when z has a name with two SPF (DMARC) records (reported). */
static bool check_one_per_name(validate_t *v, const policy_t *p, const zone_t *z)
{
	static const char *const versions[] = { "v=spf1", "v=DMARC1" };
	bool good = true;
	for (size_t i = 0; i < z->nrrs;) {
		size_t j = i;
		unsigned cnt[2] = { 0, 0 };
		while (j < z->nrrs && z->rrs[j].owner_len == z->rrs[i].owner_len &&
		       memcmp(z->rrs[j].owner, z->rrs[i].owner, z->rrs[i].owner_len) == 0) {
			for (int k = 0; k < 2; k++)
				cnt[k] += txt_is(&z->rrs[j], versions[k]);
			j++;
		}
		for (int k = 0; k < 2; k++) {
			if (cnt[k] < 2)
				continue;
			good = false;
			char owner[256];
			if (mn_name_from_wire(z->rrs[i].owner, z->rrs[i].owner_len, owner, sizeof(owner)) < 0)
				snprintf(owner, sizeof(owner), "?");
			const policy_domain_t *d = policy_domain_find(p, z->domain);
			const mn_pos_t *pos = d == NULL ? NULL : k == 0 ? validate_spf_pos(d) : &d->pos;
			emitf(v, DIAG_ERROR, pos, "%s: %s would have %u %s records (one per name)",
			      k == 0 ? "SPF" : "DMARC", owner, cnt[k], versions[k]);
		}
		i = j;
	}
	return good;
}

/* The include/a/mx targets of d that lie in the served zones. */
static void check_targets(validate_t *v, const policy_domain_t *d, apexes_t *zs)
{
	const policy_spf_t *s = &d->spf;
	unsigned nvoid = 0;
	for (size_t i = 0; i < s->a.n; i++) {
		const char *t = s->a.v[i].v;
		const zone_t *z = enclosing(zs, t);
		if (z == NULL || has_address(z, t))
			continue;
		nvoid++;
		emitf(v, DIAG_WARNING, &s->a.v[i].pos,
		      "SPF: 'a:%s' is a void lookup: %s is served here (zone %s) without A or AAAA records", t, t,
		      z->name);
	}
	if (s->mx.v) {
		const zone_t *z = enclosing(zs, d->name);
		if (z != NULL) {
			nvoid++;
			emitf(v, DIAG_WARNING, &s->mx.pos,
			      "SPF: 'mx:%s' is a void lookup: %s is served here (zone %s) without MX records", d->name,
			      d->name, z->name);
		}
	}
	for (size_t i = 0; i < s->include.n; i++) {
		const char *t = s->include.v[i].v;
		const zone_t *z = enclosing(zs, t);
		if (z == NULL || has_rr(z, t, ZONE_T_TXT, "v=spf1"))
			continue;
		nvoid++;
		emitf(v, DIAG_ERROR, &s->include.v[i].pos,
		      "SPF: 'include:%s' fails (permerror): %s is served here (zone %s) without an SPF record", t, t,
		      z->name);
	}
	if (nvoid > SPF_VOID_LIMIT)
		emitf(v, DIAG_ERROR, validate_spf_pos(d),
		      "SPF for %s has %u void lookups (limit %d, RFC 7208 §4.6.4)", d->name, nvoid, SPF_VOID_LIMIT);
}

void validate_names_known(validate_t *v)
{
	if (v != NULL)
		v->names_known = true;
}

void validate_known_zones(validate_t *v, const bool *known)
{
	if (v != NULL)
		v->known = known;
}

int validate_zones(validate_t *v, const policy_t *p, const zones_t *zs)
{
	if (v == NULL || p == NULL || zs == NULL)
		return MN_EINVAL;
	apexes_t ax;
	apexes_init(&ax, zs);
	/* (the set that passed had no zone inside another: nor has one with its apexes) */
	if (!v->names_known)
		check_nesting(v, p, &ax);
	for (size_t i = 0; i < zs->n; i++) {
		if (v->known != NULL && v->known[i])
			continue;	/* (checked by the compile that passed with it: not read again) */
		zone_t *z = zs->v[i];
		if (z->kind == ZONE_DKIM || __atomic_load_n(&z->one_per_name, __ATOMIC_RELAXED))
			continue;
		/* (atomic: a zone reused by a compile may be shared with another one, on another thread) */
		if (check_one_per_name(v, p, z))
			__atomic_store_n(&z->one_per_name, true, __ATOMIC_RELAXED);
	}
	/*
	 * "_spf.D" for the sorted domains comes in zs order: one forward walk
	 * finds each (zs is sorted by strcmp, as the domains are); the table
	 * answers for what the walk has passed.
	 */
	size_t at = 0;
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		/* (nothing to check without a target: most domains, skipped without a walk) */
		if (!d->spf.present || (d->spf.a.n == 0 && !d->spf.mx.v && d->spf.include.n == 0))
			continue;
		char apex[300] = "_spf.";
		size_t len = strlen(d->name);
		if (len >= sizeof(apex) - 5)
			continue;	/* no such zone: its name would pass 253 bytes */
		memcpy(apex + 5, d->name, len + 1);
		int c = -1;
		while (at < zs->n && (c = strcmp(zs->v[at]->name, apex)) < 0)
			at++;
		if ((at < zs->n && c == 0) || apexes_find(&ax, apex) != NULL)	/* (unsorted input) */
			check_targets(v, d, &ax);
	}
	mn_map_free(&ax.map);
	return v->oom ? MN_ENOMEM : MN_OK;
}
