/* SPDX-License-Identifier: GPL-3.0-or-later */
/* flatten.c -- RFC 7208 evaluation over interval sets of the whole address space: flattening and its proof */
#include "zones/flatten.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/spf.h"
#include "zones/records.h"

typedef unsigned __int128 u128;

enum { MAX_DEPTH = 20, LOOKUP_LIMIT = 10, VOID_LIMIT = 2, MX_LIMIT = 10, MAX_KEPT = 64 };

/* Per-address results.  CONT: no term matched yet. UNK: depends on a term that cannot be flattened. */
enum { R_CONT = 0, R_PASS, R_FAIL, R_SOFT, R_NEUTRAL, R_NONE, R_PERM, R_TEMP, R_UNK };

static const char *const res_names[] = { "no match", "pass", "fail", "softfail", "neutral", "none",
					  "permerror", "temperror", "unknown" };

typedef struct val {
	uint8_t res;
	uint8_t lookups;	/* DNS lookups on the way to this result (saturating) */
	uint8_t voids;
	uint8_t pad;
	uint16_t term;		/* top level: the index of the term that decided */
	uint64_t ubits;		/* kept terms passed on the way (their match would give pass) */
} val_t;

/* Piecewise-constant function over [0, 2^32) or [0, 2^128): value v[i] from s[i] on; s[0] = 0. */
typedef struct map {
	u128 *s;
	val_t *v;
	size_t n, cap;
} map_t;

static bool val_eq(const val_t *a, const val_t *b)
{
	return a->res == b->res && a->lookups == b->lookups && a->voids == b->voids && a->term == b->term &&
	       a->ubits == b->ubits;
}

static u128 fam_max(int fam)
{
	return fam == 4 ? (u128)0xffffffffu : ~(u128)0;
}

static void map_free(map_t *m)
{
	free(m->s);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int map_push(map_t *m, u128 s, val_t v)
{
	if (m->n > 0 && m->s[m->n - 1] == s)
		m->n--;	/* the same start: the new value replaces the last */
	if (m->n > 0 && val_eq(&m->v[m->n - 1], &v))
		return MN_OK;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		u128 *ns = realloc(m->s, cap * sizeof(*ns));
		if (ns == NULL)
			return MN_ENOMEM;
		m->s = ns;
		val_t *nv = realloc(m->v, cap * sizeof(*nv));
		if (nv == NULL)
			return MN_ENOMEM;
		m->v = nv;
		m->cap = cap;
	}
	m->s[m->n] = s;
	m->v[m->n] = v;
	m->n++;
	return MN_OK;
}

static int map_const(map_t *m, val_t v)
{
	memset(m, 0, sizeof(*m));
	return map_push(m, 0, v);
}

static int map_copy(const map_t *a, map_t *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < a->n; i++)
		if (map_push(out, a->s[i], a->v[i]) != MN_OK) {
			map_free(out);
			return MN_ENOMEM;
		}
	return MN_OK;
}

typedef val_t (*comb_fn)(const val_t *a, const val_t *b, const void *arg);

/* out = f(a, b) pointwise. */
static int map_combine(const map_t *a, const map_t *b, comb_fn f, const void *arg, map_t *out)
{
	map_t m = { 0 };
	size_t i = 0, j = 0;
	while (i < a->n && j < b->n) {
		u128 s = a->s[i] > b->s[j] ? a->s[i] : b->s[j];
		if (map_push(&m, s, f(&a->v[i], &b->v[j], arg)) != MN_OK) {
			map_free(&m);
			return MN_ENOMEM;
		}
		bool ai = i + 1 < a->n, bj = j + 1 < b->n;
		if (!ai && !bj)
			break;
		if (ai && (!bj || a->s[i + 1] <= b->s[j + 1])) {
			if (bj && a->s[i + 1] == b->s[j + 1])
				j++;
			i++;
		} else {
			j++;
		}
	}
	*out = m;
	return MN_OK;
}

/* Replaces *a by f(*a, b). */
static int map_apply(map_t *a, const map_t *b, comb_fn f, const void *arg)
{
	map_t m;
	int r = map_combine(a, b, f, arg, &m);
	if (r != MN_OK)
		return r;
	map_free(a);
	*a = m;
	return MN_OK;
}

/* ---- address sets -------------------------------------------------------------- */

typedef struct range {
	u128 lo, hi;
} range_t;

static int range_cmp(const void *x, const void *y)
{
	const range_t *a = x, *b = y;
	return a->lo < b->lo ? -1 : a->lo > b->lo ? 1 : 0;
}

/* A map "in" where an address is in one of the ranges, "out" elsewhere. */
static int map_of_ranges(range_t *r, size_t n, int fam, val_t in, val_t out, map_t *m)
{
	memset(m, 0, sizeof(*m));
	if (n > 1)
		qsort(r, n, sizeof(*r), range_cmp);
	u128 max = fam_max(fam), next = 0;
	bool end = false;
	int rc = MN_OK;
	if (n == 0 || r[0].lo > 0)
		rc = map_push(m, 0, out);
	for (size_t i = 0; rc == MN_OK && i < n && !end; i++) {
		u128 lo = r[i].lo, hi = r[i].hi;
		if (i > 0 && hi < next)
			continue;
		if (i > 0 && lo < next)
			lo = next;
		rc = map_push(m, lo, in);
		if (rc == MN_OK && hi < max)
			rc = map_push(m, hi + 1, out);
		if (hi == max)
			end = true;
		else
			next = hi + 1;
	}
	if (rc != MN_OK)
		map_free(m);
	return rc;
}

static range_t net_range(const mn_net_t *n)
{
	unsigned width = n->family == 4 ? 32 : 128, bytes = width / 8;
	u128 v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | n->addr[i];
	u128 host = n->prefix >= width ? 0 : (width - n->prefix >= 128 ? ~(u128)0 : ((u128)1 << (width - n->prefix)) - 1);
	return (range_t){ v & ~host, (v & ~host) | host };
}

static void addr_format(int fam, u128 v, char *buf, size_t size)
{
	uint8_t b[16];
	unsigned bytes = fam == 4 ? 4 : 16;
	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	if (inet_ntop(fam == 4 ? AF_INET : AF_INET6, b, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
}

/* ---- the context: view, memo, kept terms ------------------------------------------ */

typedef struct memo {
	struct memo *next;
	char *name;
	bool done[2][2];	/* [limits][fam == 6] */
	map_t m[2][2];
	uint32_t ttl;
	bool failed;
	char note[160];
} memo_t;

enum { MEMO_BUCKETS = 4096 };

struct flat_ctx {
	flat_lookup_fn fn;
	void *arg;
	memo_t *memo[MEMO_BUCKETS];
	/* per evaluation */
	const flat_rec_t *over;		/* published records, over the view */
	size_t nover;
	const mn_net_t *macro_nets;	/* FLAT_PUB_MACRO: what exists:%{ir}.%{v}.<root> matches */
	size_t nmacro;
	char macro_spec[300];
	bool limits;			/* apply the lookup and void limits */
	uint32_t ttl;
	bool failed;
	char note[160];			/* why the first permerror/temperror/unknown came up */
	char *kept[MAX_KEPT];		/* terms kept as written: bit i of ubits */
	size_t nkept;
	const char *stack[MAX_DEPTH + 1];
	size_t depth;
	bool tainted;			/* a loop or an overlay record was seen: do not memoize */
};

static unsigned hash_name(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)(*s | 0x20)) * 16777619u;
	return h % MEMO_BUCKETS;
}

int flat_ctx_new(flat_lookup_fn fn, void *arg, flat_ctx_t **out)
{
	if (fn == NULL || out == NULL)
		return MN_EINVAL;
	flat_ctx_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return MN_ENOMEM;
	c->fn = fn;
	c->arg = arg;
	*out = c;
	return MN_OK;
}

static void kept_reset(flat_ctx_t *c)
{
	for (size_t i = 0; i < c->nkept; i++)
		free(c->kept[i]);
	c->nkept = 0;
}

void flat_ctx_free(flat_ctx_t *c)
{
	if (c == NULL)
		return;
	for (size_t b = 0; b < MEMO_BUCKETS; b++) {
		for (memo_t *m = c->memo[b], *next; m != NULL; m = next) {
			next = m->next;
			for (int l = 0; l < 2; l++)
				for (int f = 0; f < 2; f++)
					map_free(&m->m[l][f]);
			free(m->name);
			free(m);
		}
	}
	kept_reset(c);
	free(c);
}

static void note(flat_ctx_t *c, const char *fmt, const char *a, const char *b)
{
	if (c->note[0] == '\0')
		snprintf(c->note, sizeof(c->note), fmt, a, b);
}

/* The records of (name, type): from the overlay (TXT only) or the view. */
static int lookup(flat_ctx_t *c, const char *name, uint16_t type, const flat_rrset_t **out, flat_rrset_t *tmp,
		  char **tmpv)
{
	for (size_t i = 0; i < c->nover; i++) {
		if (strcasecmp(c->over[i].owner, name) == 0) {
			c->tainted = true;
			memset(tmp, 0, sizeof(*tmp));
			if (type == FLAT_T_TXT) {
				tmpv[0] = (char *)c->over[i].text;
				tmp->v = tmpv;
				tmp->n = 1;
			} else {
				tmp->status = FLAT_NODATA;
			}
			*out = tmp;
			return MN_OK;
		}
	}
	int r = c->fn(c->arg, name, type, out);
	if (r != MN_OK)
		return r;
	if ((*out)->status == FLAT_FAIL) {
		c->failed = true;
		note(c, "%s: %s lookup failed", name, type == FLAT_T_TXT ? "TXT" : type == FLAT_T_MX ? "MX" :
		     type == FLAT_T_A ? "A" : "AAAA");
	}
	if ((*out)->status == FLAT_ANSWER && (*out)->ttl > 0 && (c->ttl == 0 || (*out)->ttl < c->ttl))
		c->ttl = (*out)->ttl;
	return MN_OK;
}

static int kept_bit(flat_ctx_t *c, const char *text, bool add)
{
	for (size_t i = 0; i < c->nkept; i++)
		if (strcasecmp(c->kept[i], text) == 0)
			return (int)i;
	if (!add || c->nkept == MAX_KEPT)
		return -1;
	if ((c->kept[c->nkept] = mn_strdup(text)) == NULL)
		return -1;
	return (int)c->nkept++;
}

/* ---- evaluation ------------------------------------------------------------------ */

static int eval_name(flat_ctx_t *c, const char *name, int fam, map_t *out);

static uint8_t sat(unsigned v)
{
	return v > 255 ? 255 : (uint8_t)v;
}

static uint8_t qual_res(char q)
{
	switch (q) {
	case '-': return R_FAIL;
	case '~': return R_SOFT;
	case '?': return R_NEUTRAL;
	}
	return R_PASS;
}

typedef struct step {
	bool limits, top;
	uint16_t term;
	int bit;		/* kept-term bit of this term, or -1 */
} step_t;

/* First match wins: a decided address stays; counters add up. */
static val_t seq_step(const val_t *s, const val_t *t, const void *arg)
{
	const step_t *st = arg;
	if (s->res != R_CONT)
		return *s;
	val_t v = { .res = R_CONT, .lookups = sat((unsigned)s->lookups + t->lookups),
		    .voids = sat((unsigned)s->voids + t->voids), .term = s->term, .ubits = s->ubits | t->ubits };
	if (st->limits && (v.lookups > LOOKUP_LIMIT || v.voids > VOID_LIMIT)) {
		v.res = R_PERM;
		v.term = st->term;
		return v;
	}
	if (t->res == R_CONT)
		return v;
	if (t->res == R_UNK && st->bit >= 0) {
		v.ubits |= (uint64_t)1 << st->bit;
		return v;
	}
	v.res = t->res;
	v.term = st->term;
	if (t->res == R_PASS)
		v.ubits = 0;
	return v;
}

/* include: the included record's result as a match of qualifier q (RFC 7208 §5.2). */
static val_t include_map(const val_t *s, const val_t *unused, const void *arg)
{
	(void)unused;
	char q = *(const char *)arg;
	val_t v = *s;
	v.lookups = sat((unsigned)v.lookups + 1);
	v.term = 0;
	switch (s->res) {
	case R_PASS: v.res = qual_res(q); v.ubits = 0; break;
	case R_FAIL: case R_SOFT: case R_NEUTRAL: v.res = R_CONT; break;
	case R_NONE: v.res = R_PERM; break;
	default: break;
	}
	return v;
}

/* redirect=: the target's result as the record's (none: permerror, RFC 7208 §6.1). */
static val_t redirect_map(const val_t *s, const val_t *unused, const void *arg)
{
	(void)unused;
	(void)arg;
	val_t v = *s;
	v.lookups = sat((unsigned)v.lookups + 1);
	v.term = 0;
	if (v.res == R_NONE)
		v.res = R_PERM;
	return v;
}

static val_t cont_to_neutral(const val_t *s, const val_t *unused, const void *arg)
{
	(void)unused;
	(void)arg;
	val_t v = *s;
	if (v.res == R_CONT)
		v.res = R_NEUTRAL;
	return v;
}

/* Addresses (A/AAAA text) with a prefix into ranges appended to *r. */
static int add_addr_ranges(const flat_rrset_t *rs, int fam, int prefix, range_t **r, size_t *n)
{
	if (rs->status != FLAT_ANSWER)
		return MN_OK;
	range_t *nr = realloc(*r, (*n + rs->n + 1) * sizeof(*nr));
	if (nr == NULL)
		return MN_ENOMEM;
	*r = nr;
	for (size_t i = 0; i < rs->n; i++) {
		char buf[80];
		snprintf(buf, sizeof(buf), "%s/%d", rs->v[i], prefix);
		mn_net_t net;
		if (mn_net_parse(buf, fam, true, &net) != MN_OK)
			continue;
		(*r)[(*n)++] = net_range(&net);
	}
	return MN_OK;
}

/* A term whose address set is unknown: decided "unknown" everywhere, one lookup. */
static int term_unknown(flat_ctx_t *c, const spf_term_t *t, const char *why, map_t *out)
{
	note(c, "'%s' cannot be flattened (%s)", t->text, why);
	return map_const(out, (val_t){ .res = R_UNK, .lookups = 1 });
}

/* The map of one mechanism for clients of family fam (values: R_CONT or a result). */
static int eval_mech(flat_ctx_t *c, const spf_term_t *t, const char *cur, int fam, map_t *out)
{
	uint8_t q = qual_res(t->qual);
	const char *dom = t->domain != NULL ? t->domain : cur;
	const flat_rrset_t *rs = NULL;
	flat_rrset_t tmp;
	char *tmpv[1];
	range_t *rg = NULL;
	size_t nr = 0;
	int r = MN_OK;
	switch (t->kind) {
	case SPF_ALL:
		return map_const(out, (val_t){ .res = q });
	case SPF_IP4:
	case SPF_IP6:
		if (t->net.family != fam)
			return map_const(out, (val_t){ .res = R_CONT });
		else {
			range_t one = net_range(&t->net);
			return map_of_ranges(&one, 1, fam, (val_t){ .res = q }, (val_t){ .res = R_CONT }, out);
		}
	case SPF_PTR:
		return term_unknown(c, t, "ptr", out);
	case SPF_INCLUDE: {
		if (t->has_macro)
			return term_unknown(c, t, "macro", out);
		map_t inner;
		r = eval_name(c, dom, fam, &inner);
		if (r != MN_OK)
			return r;
		r = map_combine(&inner, &inner, include_map, &t->qual, out);
		map_free(&inner);
		return r;
	}
	case SPF_EXISTS:
		if (t->has_macro) {
			if (c->macro_nets != NULL && strcasecmp(t->domain, c->macro_spec) == 0) {
				for (size_t i = 0; i < c->nmacro; i++) {
					if (c->macro_nets[i].family != fam)
						continue;
					range_t *nrg = realloc(rg, (nr + 1) * sizeof(*nrg));
					if (nrg == NULL) {
						free(rg);
						return MN_ENOMEM;
					}
					rg = nrg;
					rg[nr++] = net_range(&c->macro_nets[i]);
				}
				r = map_of_ranges(rg, nr, fam, (val_t){ .res = q, .lookups = 1 },
						  (val_t){ .res = R_CONT, .lookups = 1, .voids = 1 }, out);
				free(rg);
				return r;
			}
			return term_unknown(c, t, "macro", out);
		}
		r = lookup(c, dom, FLAT_T_A, &rs, &tmp, tmpv);
		if (r != MN_OK)
			return r;
		if (rs->status == FLAT_FAIL)
			return map_const(out, (val_t){ .res = R_TEMP, .lookups = 1 });
		if (rs->status == FLAT_ANSWER && rs->n > 0)
			return map_const(out, (val_t){ .res = q, .lookups = 1 });
		return map_const(out, (val_t){ .res = R_CONT, .lookups = 1, .voids = 1 });
	case SPF_A:
	case SPF_MX: {
		if (t->has_macro)
			return term_unknown(c, t, "macro", out);
		int prefix = fam == 4 ? (t->cidr4 >= 0 ? t->cidr4 : 32) : (t->cidr6 >= 0 ? t->cidr6 : 128);
		uint16_t at = fam == 4 ? FLAT_T_A : FLAT_T_AAAA;
		r = lookup(c, dom, t->kind == SPF_A ? at : FLAT_T_MX, &rs, &tmp, tmpv);
		if (r != MN_OK)
			return r;
		if (rs->status == FLAT_FAIL)
			return map_const(out, (val_t){ .res = R_TEMP, .lookups = 1 });
		if (rs->status != FLAT_ANSWER || rs->n == 0)
			return map_const(out, (val_t){ .res = R_CONT, .lookups = 1, .voids = 1 });
		if (t->kind == SPF_A) {
			r = add_addr_ranges(rs, fam, prefix, &rg, &nr);
		} else {
			if (rs->n > MX_LIMIT) {
				note(c, "'%s': more than 10 MX names%s", t->text, "");
				return map_const(out, (val_t){ .res = R_PERM, .lookups = 1 });
			}
			const flat_rrset_t *mx = rs;
			for (size_t i = 0; r == MN_OK && i < mx->n; i++) {
				const flat_rrset_t *ar = NULL;
				r = lookup(c, mx->v[i], at, &ar, &tmp, tmpv);
				if (r == MN_OK && ar->status == FLAT_FAIL) {
					free(rg);
					return map_const(out, (val_t){ .res = R_TEMP, .lookups = 1 });
				}
				if (r == MN_OK)
					r = add_addr_ranges(ar, fam, prefix, &rg, &nr);
			}
		}
		if (r == MN_OK)
			r = map_of_ranges(rg, nr, fam, (val_t){ .res = q, .lookups = 1 },
					  (val_t){ .res = R_CONT, .lookups = 1 }, out);
		free(rg);
		return r;
	}
	default:
		return map_const(out, (val_t){ .res = R_CONT });
	}
}

/*
 * Evaluates a parsed record for clients of family fam.  top: the domain's own
 * record (terms numbered for messages; kept terms become ubits).  start:
 * counters before the record.  The result has no R_CONT left.
 */
static int eval_record(flat_ctx_t *c, const spf_record_t *rec, const char *cur, int fam, bool top, bool over,
		       val_t start, map_t *out)
{
	map_t st;
	int r = map_const(&st, start);
	if (r != MN_OK)
		return r;
	const spf_term_t *redirect = NULL;
	bool has_all = false;
	for (size_t i = 0; r == MN_OK && i < rec->n; i++) {
		const spf_term_t *t = &rec->terms[i];
		if (t->kind == SPF_REDIRECT) {
			redirect = t;
			continue;
		}
		if (t->kind == SPF_EXP || t->kind == SPF_MODIFIER)
			continue;
		has_all |= t->kind == SPF_ALL;
		map_t tm;
		r = eval_mech(c, t, cur, fam, &tm);
		if (r != MN_OK)
			break;
		step_t s = { .limits = c->limits, .top = top, .term = (uint16_t)i, .bit = -1 };
		if (top || over) {
			bool unk = false;
			for (size_t k = 0; k < tm.n; k++)
				unk |= tm.v[k].res == R_UNK;
			if (unk && t->qual == '+')
				s.bit = kept_bit(c, t->text, top && !c->limits);
		}
		r = map_apply(&st, &tm, seq_step, &s);
		map_free(&tm);
	}
	if (r == MN_OK && redirect != NULL && !has_all) {
		map_t tm, inner;
		if (redirect->has_macro) {
			note(c, "'%s' cannot be flattened (%s)", redirect->text, "macro");
			r = map_const(&tm, (val_t){ .res = R_UNK, .lookups = 1 });
		} else {
			r = eval_name(c, redirect->domain, fam, &inner);
			if (r == MN_OK) {
				r = map_combine(&inner, &inner, redirect_map, NULL, &tm);
				map_free(&inner);
			}
		}
		if (r == MN_OK) {
			step_t s = { .limits = c->limits, .top = top, .term = (uint16_t)(redirect - rec->terms),
				     .bit = -1 };
			r = map_apply(&st, &tm, seq_step, &s);
			map_free(&tm);
		}
	}
	if (r == MN_OK)
		r = map_apply(&st, &st, cont_to_neutral, NULL);
	if (r != MN_OK) {
		map_free(&st);
		return r;
	}
	*out = st;
	return MN_OK;
}

/* The SPF record at name: parsed, or a constant result (none, permerror, temperror). */
static int fetch_record(flat_ctx_t *c, const char *name, spf_record_t **rec, uint8_t *res)
{
	const flat_rrset_t *rs = NULL;
	flat_rrset_t tmp;
	char *tmpv[1];
	*rec = NULL;
	int r = lookup(c, name, FLAT_T_TXT, &rs, &tmp, tmpv);
	if (r != MN_OK)
		return r;
	if (rs->status == FLAT_FAIL) {
		*res = R_TEMP;
		return MN_OK;
	}
	const char *text = NULL;
	size_t n = 0;
	for (size_t i = 0; rs->status == FLAT_ANSWER && i < rs->n; i++) {
		const char *s = rs->v[i];
		if (strncasecmp(s, "v=spf1", 6) == 0 && (s[6] == ' ' || s[6] == '\0')) {
			text = s;
			n++;
		}
	}
	if (n == 0) {
		note(c, "%s has no SPF record%s", name, "");
		*res = R_NONE;
		return MN_OK;
	}
	if (n > 1) {
		note(c, "%s has several SPF records%s", name, "");
		*res = R_PERM;
		return MN_OK;
	}
	r = spf_record_parse(text, rec);
	if (r == MN_ESYNTAX) {
		note(c, "the SPF record of %s does not parse%s", name, "");
		*res = R_PERM;
		return MN_OK;
	}
	return r;
}

static int eval_name(flat_ctx_t *c, const char *name, int fam, map_t *out)
{
	for (size_t i = 0; i < c->depth; i++) {
		if (strcasecmp(c->stack[i], name) == 0) {
			note(c, "include loop at %s%s", name, "");
			c->tainted = true;
			return map_const(out, (val_t){ .res = R_PERM });
		}
	}
	if (c->depth >= MAX_DEPTH) {
		note(c, "includes nested too deep at %s%s", name, "");
		return map_const(out, (val_t){ .res = R_PERM });
	}
	unsigned h = hash_name(name);
	memo_t *m = c->memo[h];
	while (m != NULL && strcasecmp(m->name, name) != 0)
		m = m->next;
	int l = c->limits, f = fam == 6;
	bool in_over = false;
	for (size_t i = 0; i < c->nover; i++)
		in_over |= strcasecmp(c->over[i].owner, name) == 0;
	if (m != NULL && m->done[l][f] && !in_over) {
		if (m->ttl > 0 && (c->ttl == 0 || m->ttl < c->ttl))
			c->ttl = m->ttl;
		c->failed |= m->failed;
		if (m->note[0] != '\0')
			note(c, "%s%s", m->note, "");
		return map_copy(&m->m[l][f], out);
	}
	/* evaluate with fresh per-subtree state */
	uint32_t ttl0 = c->ttl;
	bool failed0 = c->failed, taint0 = c->tainted;
	char note0[sizeof(c->note)];
	memcpy(note0, c->note, sizeof(note0));
	c->ttl = 0;
	c->failed = false;
	c->tainted = false;
	c->note[0] = '\0';
	c->stack[c->depth++] = name;

	spf_record_t *rec = NULL;
	uint8_t res = R_CONT;
	int r = fetch_record(c, name, &rec, &res);
	map_t mm = { 0 };
	if (r == MN_OK && rec == NULL)
		r = map_const(&mm, (val_t){ .res = res });
	else if (r == MN_OK)
		r = eval_record(c, rec, name, fam, false, in_over, (val_t){ 0 }, &mm);
	spf_record_free(rec);
	c->depth--;

	uint32_t sub_ttl = c->ttl;
	bool sub_failed = c->failed, sub_taint = c->tainted;
	char sub_note[sizeof(c->note)];
	memcpy(sub_note, c->note, sizeof(sub_note));
	c->ttl = ttl0 == 0 ? sub_ttl : (sub_ttl == 0 || ttl0 < sub_ttl ? ttl0 : sub_ttl);
	c->failed = failed0 || sub_failed;
	c->tainted = taint0 || sub_taint;
	memcpy(c->note, note0, sizeof(note0));
	if (sub_note[0] != '\0')
		note(c, "%s%s", sub_note, "");
	if (r != MN_OK)
		return r;

	if (!sub_taint && !in_over) {
		if (m == NULL) {
			m = calloc(1, sizeof(*m));
			if (m == NULL || (m->name = mn_strdup(name)) == NULL) {
				free(m);
				map_free(&mm);
				return MN_ENOMEM;
			}
			m->next = c->memo[h];
			c->memo[h] = m;
		}
		if (map_copy(&mm, &m->m[l][f]) != MN_OK) {
			map_free(&mm);
			return MN_ENOMEM;
		}
		m->done[l][f] = true;
		m->ttl = sub_ttl;
		m->failed = sub_failed;
		memcpy(m->note, sub_note, sizeof(m->note));
	}
	*out = mm;
	return MN_OK;
}

/* Evaluates text as the top record at owner for both families. */
static int eval_top(flat_ctx_t *c, const char *text, const char *owner, val_t start, map_t m[2], char *why,
		    size_t whysize)
{
	spf_record_t *rec = NULL;
	int r = spf_record_parse(text, &rec);
	if (r == MN_ESYNTAX) {
		snprintf(why, whysize, "the record '%s' does not parse", text);
		return MN_EPOLICY;
	}
	if (r != MN_OK)
		return r;
	c->stack[0] = owner;
	c->depth = 1;
	r = eval_record(c, rec, owner, 4, true, false, start, &m[0]);
	if (r == MN_OK) {
		r = eval_record(c, rec, owner, 6, true, false, start, &m[1]);
		if (r != MN_OK)
			map_free(&m[0]);
	}
	c->depth = 0;
	spf_record_free(rec);
	return r;
}

static void eval_begin(flat_ctx_t *c, bool limits)
{
	c->limits = limits;
	c->ttl = 0;
	c->failed = false;
	c->note[0] = '\0';
	c->tainted = false;
}

/* "v=spf1 TERMS ALL" of the original. */
static char *original_text(const flat_input_t *in)
{
	mn_buf_t b = { 0 };
	mn_buf_add(&b, "v=spf1");
	for (size_t i = 0; i < in->nterms; i++) {
		mn_buf_add(&b, " ");
		mn_buf_add(&b, in->terms[i]);
	}
	mn_buf_add(&b, " ");
	mn_buf_add(&b, in->all_term);
	return mn_buf_take(&b);
}

static const char *term_text(const flat_input_t *in, const val_t *v)
{
	return v->term < in->nterms ? in->terms[v->term] : in->all_term;
}

static char *spf_root(const char *domain)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "_spf.%s", domain);
	return mn_buf_take(&b);
}

static int eval_original(flat_ctx_t *c, const flat_input_t *in, map_t m[2], char *why, size_t whysize)
{
	char *text = original_text(in), *root = spf_root(in->domain);
	int r = MN_ENOMEM;
	if (text != NULL && root != NULL) {
		eval_begin(c, false);
		r = eval_top(c, text, root, (val_t){ 0 }, m, why, whysize);
	}
	free(text);
	free(root);
	return r;
}

void flat_result_clear(flat_result_t *r)
{
	if (r == NULL)
		return;
	free(r->nets);
	rec_terms_free(r->kept, r->nkept);
	memset(r, 0, sizeof(*r));
}

/* The CIDR blocks of the pass ranges of m into v (appended). */
static int pass_nets(const map_t *m, int fam, mn_net_t **v, size_t *n)
{
	u128 max = fam_max(fam);
	unsigned width = fam == 4 ? 32 : 128;
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].res != R_PASS)
			continue;
		u128 lo = m->s[i];
		while (i + 1 < m->n && m->v[i + 1].res == R_PASS)
			i++;	/* adjacent pass ranges from different terms */
		u128 hi = i + 1 < m->n ? m->s[i + 1] - 1 : max;
		for (;;) {
			unsigned k = 0;	/* the largest aligned block at lo inside [lo, hi] */
			if (lo == 0 && hi == max) {
				k = width;
			} else {
				while (k + 1 < width && (lo & (((u128)1 << (k + 1)) - 1)) == 0 &&
				       hi - lo >= ((u128)1 << (k + 1)) - 1)
					k++;
			}
			mn_net_t *nv = realloc(*v, (*n + 1) * sizeof(*nv));
			if (nv == NULL)
				return MN_ENOMEM;
			*v = nv;
			mn_net_t *o = &nv[(*n)++];
			memset(o, 0, sizeof(*o));
			o->family = (uint8_t)fam;
			o->prefix = (uint8_t)(width - k);
			for (unsigned b = 0; b < width / 8; b++)
				o->addr[b] = (uint8_t)(lo >> (8 * (width / 8 - 1 - b)));
			u128 last = k >= width ? max : lo + (((u128)1 << k) - 1);
			if (last >= hi)
				break;
			lo = last + 1;
		}
	}
	return MN_OK;
}

int flat_domain(flat_ctx_t *c, const flat_input_t *in, flat_result_t *out)
{
	if (c == NULL || in == NULL || in->domain == NULL || in->all_term == NULL || out == NULL)
		return MN_EINVAL;
	flat_result_t res = { 0 };
	map_t m[2] = { 0 };
	kept_reset(c);
	int r = eval_original(c, in, m, res.why, sizeof(res.why));
	if (r != MN_OK) {
		*out = res;
		return r;
	}
	res.ttl = c->ttl;
	if (c->failed) {
		res.dns_failed = true;
		snprintf(res.why, sizeof(res.why), "%s", c->note);
		goto done;
	}
	/* an error for some address cannot be flattened */
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < m[f].n; i++) {
			const val_t *v = &m[f].v[i];
			if (v->res == R_PERM || v->res == R_TEMP || v->res == R_UNK) {
				char a[64];
				addr_format(f ? 6 : 4, m[f].s[i], a, sizeof(a));
				snprintf(res.why, sizeof(res.why), "%s gets %s from '%s'%s%s%s", a, res_names[v->res],
					 term_text(in, v), c->note[0] ? " (" : "", c->note, c->note[0] ? ")" : "");
				r = MN_EPOLICY;
				goto done;
			}
		}
	}
	r = pass_nets(&m[0], 4, &res.nets, &res.nnets);
	if (r == MN_OK)
		r = pass_nets(&m[1], 6, &res.nets, &res.nnets);
	/* kept terms, in the original's order */
	for (size_t i = 0; r == MN_OK && i < in->nterms; i++) {
		if (kept_bit(c, in->terms[i], false) < 0)
			continue;
		char **nk = realloc(res.kept, (res.nkept + 1) * sizeof(*nk));
		if (nk == NULL) {
			r = MN_ENOMEM;
			break;
		}
		res.kept = nk;
		if ((nk[res.nkept] = mn_strdup(in->terms[i])) == NULL)
			r = MN_ENOMEM;
		else
			res.nkept++;
	}
done:
	map_free(&m[0]);
	map_free(&m[1]);
	if (r != MN_OK && r != MN_EPOLICY) {
		flat_result_clear(&res);
		return r;
	}
	*out = res;
	return r;
}

/* Canonical per-address outcome: pass (whatever the kept terms do), or result + kept terms passed. */
typedef struct cmpst {
	bool differ;
	val_t a, b;
} cmpst_t;

static val_t cmp_fn(const val_t *a, const val_t *b, const void *arg)
{
	uint64_t ua = a->res == R_PASS ? 0 : a->ubits, ub = b->res == R_PASS ? 0 : b->ubits;
	val_t v = { .res = a->res != b->res || ua != ub };
	(void)arg;
	return v;
}

int flat_prove(flat_ctx_t *c, const flat_input_t *in, const flat_result_t *res, flat_pub_t kind,
	       const flat_rec_t *recs, size_t nrecs, unsigned *lookups, char *why, size_t whysize)
{
	if (c == NULL || in == NULL || res == NULL || recs == NULL || nrecs == 0 || why == NULL)
		return MN_EINVAL;
	map_t o[2] = { 0 }, p[2] = { 0 };
	char dummy[8];
	why[0] = '\0';
	kept_reset(c);
	int r = eval_original(c, in, o, why, whysize);
	if (r != MN_OK)
		return r;
	c->over = recs;
	c->nover = nrecs;
	if (kind == FLAT_PUB_MACRO) {
		c->macro_nets = res->nets;
		c->nmacro = res->nnets;
		snprintf(c->macro_spec, sizeof(c->macro_spec), "%%{ir}.%%{v}.%s", recs[0].owner);
	}
	eval_begin(c, true);
	/* from the apex: include:_spf.D costs one lookup */
	r = eval_top(c, recs[0].text, recs[0].owner, (val_t){ .lookups = 1 }, p, dummy, sizeof(dummy));
	c->over = NULL;
	c->nover = 0;
	c->macro_nets = NULL;
	c->nmacro = 0;
	if (r == MN_EPOLICY)
		snprintf(why, whysize, "the published record '%s' does not parse", recs[0].text);
	if (r != MN_OK)
		goto out;
	unsigned maxl = 0, maxv = 0;
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < p[f].n; i++) {
			if (p[f].v[i].lookups > maxl)
				maxl = p[f].v[i].lookups;
			if (p[f].v[i].voids > maxv)
				maxv = p[f].v[i].voids;
		}
	if (lookups != NULL)
		*lookups = maxl;
	if (maxl > LOOKUP_LIMIT) {
		snprintf(why, whysize, "the published record needs %u DNS lookups (limit %d)", maxl, LOOKUP_LIMIT);
		r = MN_EPOLICY;
		goto out;
	}
	if (kind == FLAT_PUB_FLATTEN && maxv > 0) {
		snprintf(why, whysize, "the published record has a void lookup");
		r = MN_EPOLICY;
		goto out;
	}
	for (int f = 0; f < 2 && r == MN_OK; f++) {
		map_t d;
		r = map_combine(&o[f], &p[f], cmp_fn, NULL, &d);
		if (r != MN_OK)
			break;
		for (size_t i = 0; i < d.n; i++) {
			if (d.v[i].res == 0)
				continue;
			/* find the values at that address */
			u128 a = d.s[i];
			size_t io = 0, ip = 0;
			while (io + 1 < o[f].n && o[f].s[io + 1] <= a)
				io++;
			while (ip + 1 < p[f].n && p[f].s[ip + 1] <= a)
				ip++;
			char addr[64];
			addr_format(f ? 6 : 4, a, addr, sizeof(addr));
			snprintf(why, whysize, "%s: the original gives %s ('%s'), the published record %s", addr,
				 res_names[o[f].v[io].res], term_text(in, &o[f].v[io]), res_names[p[f].v[ip].res]);
			r = MN_EPOLICY;
			break;
		}
		map_free(&d);
	}
out:
	for (int f = 0; f < 2; f++) {
		map_free(&o[f]);
		map_free(&p[f]);
	}
	return r;
}

const char *flat_eval_addr(flat_ctx_t *c, const char *owner, const char *addr)
{
	mn_net_t net;
	if (c == NULL || owner == NULL || addr == NULL || mn_net_parse(addr, 0, true, &net) != MN_OK)
		return "?";
	range_t rg = net_range(&net);
	map_t m;
	eval_begin(c, true);
	kept_reset(c);
	c->depth = 0;
	if (eval_name(c, owner, net.family, &m) != MN_OK)
		return "?";
	size_t i = 0;
	while (i + 1 < m.n && m.s[i + 1] <= rg.lo)
		i++;
	const char *s = res_names[m.v[i].res];
	map_free(&m);
	return s;
}
