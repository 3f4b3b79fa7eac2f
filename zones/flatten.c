/* SPDX-License-Identifier: GPL-3.0-or-later */
/* flatten.c -- RFC 7208 evaluation over interval sets of the whole address space: flattening */
#include "zones/flatten.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/spf.h"
#include "zones/flatten_internal.h"
#include "zones/records.h"

const char *const flat_res_names[] = { "no match", "pass", "fail", "softfail", "neutral", "none",
				       "permerror", "temperror", "unknown" };

/* Memoized evaluation of one record name: [limits][fam == 6]. */
typedef struct memo {
	char *name;		/* lowercased: the key in flat_ctx.memo */
	bool done[2][2];
	ipmap_t m[2][2];
	uint32_t ttl;
	bool failed;
	char note[160];
} memo_t;

static int map_const(ipmap_t *m, val_t v)
{
	return ipmap_const(m, &v, sizeof(v));
}

/* in on the ranges, out elsewhere (r sorted in place). */
static int map_of_ranges(ipmap_range_t *r, size_t n, int fam, val_t in, val_t out, ipmap_t *m)
{
	return ipmap_of_ranges(r, n, fam, &in, &out, sizeof(val_t), m);
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

void flat_kept_reset(flat_ctx_t *c)
{
	for (size_t i = 0; i < c->nkept; i++)
		free(c->kept[i]);
	c->nkept = 0;
}

void flat_ctx_free(flat_ctx_t *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->memo.cap; i++) {
		memo_t *m = c->memo.slot[i].val;
		if (c->memo.slot[i].key == NULL)
			continue;
		for (int l = 0; l < 2; l++)
			for (int f = 0; f < 2; f++)
				ipmap_free(&m->m[l][f]);
		free(m->name);
		free(m);
	}
	mn_map_free(&c->memo);
	flat_kept_reset(c);
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
	if (!add || c->nkept == FLAT_MAX_KEPT)
		return -1;
	if ((c->kept[c->nkept] = mn_strdup(text)) == NULL)
		return -1;
	return (int)c->nkept++;
}

/* ---- evaluation ------------------------------------------------------------------ */

static int eval_name(flat_ctx_t *c, const char *name, int fam, ipmap_t *out);

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
static val_t seq_step_val(const val_t *s, const val_t *t, const step_t *st)
{
	if (s->res != R_CONT)
		return *s;
	val_t v = { .res = R_CONT, .lookups = sat((unsigned)s->lookups + t->lookups),
		    .voids = sat((unsigned)s->voids + t->voids), .term = s->term, .ubits = s->ubits | t->ubits };
	if (st->limits && (v.lookups > FLAT_LOOKUP_LIMIT || v.voids > FLAT_VOID_LIMIT)) {
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

static void seq_step(void *out, const void *s, const void *t, const void *arg)
{
	*(val_t *)out = seq_step_val(s, t, arg);
}

/* include: the included record's result as a match of qualifier q (RFC 7208 §5.2). */
static void include_map(void *out, const void *sv, const void *unused, const void *arg)
{
	const val_t *s = sv;
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
	*(val_t *)out = v;
}

/* redirect=: the target's result as the record's (none: permerror, RFC 7208 §6.1). */
static void redirect_map(void *out, const void *sv, const void *unused, const void *arg)
{
	const val_t *s = sv;
	(void)unused;
	(void)arg;
	val_t v = *s;
	v.lookups = sat((unsigned)v.lookups + 1);
	v.term = 0;
	if (v.res == R_NONE)
		v.res = R_PERM;
	*(val_t *)out = v;
}

static void cont_to_neutral(void *out, const void *sv, const void *unused, const void *arg)
{
	const val_t *s = sv;
	(void)unused;
	(void)arg;
	val_t v = *s;
	if (v.res == R_CONT)
		v.res = R_NEUTRAL;
	*(val_t *)out = v;
}

/* Addresses (A/AAAA text) with a prefix into ranges appended to *r. */
static int add_addr_ranges(const flat_rrset_t *rs, int fam, int prefix, ipmap_range_t **r, size_t *n)
{
	if (rs->status != FLAT_ANSWER)
		return MN_OK;
	ipmap_range_t *nr = realloc(*r, (*n + rs->n + 1) * sizeof(*nr));
	if (nr == NULL)
		return MN_ENOMEM;
	*r = nr;
	for (size_t i = 0; i < rs->n; i++) {
		char buf[80];
		snprintf(buf, sizeof(buf), "%s/%d", rs->v[i], prefix);
		mn_net_t net;
		if (mn_net_parse(buf, fam, true, &net) != MN_OK)
			continue;
		(*r)[(*n)++] = ipmap_net_range(&net);
	}
	return MN_OK;
}

/* A term whose address set is unknown: decided "unknown" everywhere, one lookup. */
static int term_unknown(flat_ctx_t *c, const spf_term_t *t, const char *why, ipmap_t *out)
{
	note(c, "'%s' cannot be flattened (%s)", t->text, why);
	return map_const(out, (val_t){ .res = R_UNK, .lookups = 1 });
}

/* The map of one mechanism for clients of family fam (values: R_CONT or a result). */
static int eval_mech(flat_ctx_t *c, const spf_term_t *t, const char *cur, int fam, ipmap_t *out)
{
	uint8_t q = qual_res(t->qual);
	const char *dom = t->domain != NULL ? t->domain : cur;
	const flat_rrset_t *rs = NULL;
	flat_rrset_t tmp;
	char *tmpv[1];
	ipmap_range_t *rg = NULL;
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
			ipmap_range_t one = ipmap_net_range(&t->net);
			return map_of_ranges(&one, 1, fam, (val_t){ .res = q }, (val_t){ .res = R_CONT }, out);
		}
	case SPF_PTR:
		return term_unknown(c, t, "ptr", out);
	case SPF_INCLUDE: {
		if (t->has_macro)
			return term_unknown(c, t, "macro", out);
		ipmap_t inner;
		r = eval_name(c, dom, fam, &inner);
		if (r != MN_OK)
			return r;
		r = ipmap_combine(&inner, &inner, include_map, &t->qual, out);
		ipmap_free(&inner);
		return r;
	}
	case SPF_EXISTS:
		if (t->has_macro) {
			if (c->macro_nets != NULL && strcasecmp(t->domain, c->macro_spec) == 0) {
				for (size_t i = 0; i < c->nmacro; i++) {
					if (c->macro_nets[i].family != fam)
						continue;
					ipmap_range_t *nrg = realloc(rg, (nr + 1) * sizeof(*nrg));
					if (nrg == NULL) {
						free(rg);
						return MN_ENOMEM;
					}
					rg = nrg;
					rg[nr++] = ipmap_net_range(&c->macro_nets[i]);
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
			if (rs->n > FLAT_MX_LIMIT) {
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
		       val_t start, ipmap_t *out)
{
	ipmap_t st;
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
		ipmap_t tm;
		r = eval_mech(c, t, cur, fam, &tm);
		if (r != MN_OK)
			break;
		step_t s = { .limits = c->limits, .top = top, .term = (uint16_t)i, .bit = -1 };
		if (top || over) {
			bool unk = false;
			for (size_t k = 0; k < tm.n; k++)
				unk |= flat_val(&tm, k)->res == R_UNK;
			if (unk && t->qual == '+')
				s.bit = kept_bit(c, t->text, top && !c->limits);
		}
		r = ipmap_apply(&st, &tm, seq_step, &s);
		ipmap_free(&tm);
	}
	if (r == MN_OK && redirect != NULL && !has_all) {
		ipmap_t tm, inner;
		if (redirect->has_macro) {
			note(c, "'%s' cannot be flattened (%s)", redirect->text, "macro");
			r = map_const(&tm, (val_t){ .res = R_UNK, .lookups = 1 });
		} else {
			r = eval_name(c, redirect->domain, fam, &inner);
			if (r == MN_OK) {
				r = ipmap_combine(&inner, &inner, redirect_map, NULL, &tm);
				ipmap_free(&inner);
			}
		}
		if (r == MN_OK) {
			step_t s = { .limits = c->limits, .top = top, .term = (uint16_t)(redirect - rec->terms),
				     .bit = -1 };
			r = ipmap_apply(&st, &tm, seq_step, &s);
			ipmap_free(&tm);
		}
	}
	if (r == MN_OK)
		r = ipmap_apply(&st, &st, cont_to_neutral, NULL);
	if (r != MN_OK) {
		ipmap_free(&st);
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

static int eval_name(flat_ctx_t *c, const char *name, int fam, ipmap_t *out)
{
	for (size_t i = 0; i < c->depth; i++) {
		if (strcasecmp(c->stack[i], name) == 0) {
			note(c, "include loop at %s%s", name, "");
			c->tainted = true;
			return map_const(out, (val_t){ .res = R_PERM });
		}
	}
	if (c->depth >= FLAT_MAX_DEPTH) {
		note(c, "includes nested too deep at %s%s", name, "");
		return map_const(out, (val_t){ .res = R_PERM });
	}
	/* the memo, by lowercased name (a name longer than any DNS name is not memoized) */
	char key[256];
	size_t klen = strlen(name);
	bool memoize = klen < sizeof(key);
	memo_t *m = NULL;
	if (memoize) {
		for (size_t i = 0; i <= klen; i++)
			key[i] = (char)tolower((unsigned char)name[i]);
		m = mn_map_get(&c->memo, key, klen);
	}
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
		return ipmap_copy(&m->m[l][f], out);
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
	ipmap_t mm = { 0 };
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

	if (memoize && !sub_taint && !in_over) {
		if (m == NULL) {
			void **slot = NULL;
			m = calloc(1, sizeof(*m));
			if (m == NULL || (m->name = mn_strdup(key)) == NULL ||
			    (slot = mn_map_put(&c->memo, m->name, klen)) == NULL) {
				if (m != NULL)
					free(m->name);
				free(m);
				ipmap_free(&mm);
				return MN_ENOMEM;
			}
			*slot = m;
		}
		if (ipmap_copy(&mm, &m->m[l][f]) != MN_OK) {
			ipmap_free(&mm);
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
int flat_eval_top(flat_ctx_t *c, const char *text, const char *owner, val_t start, ipmap_t m[2], char *why,
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
			ipmap_free(&m[0]);
	}
	c->depth = 0;
	spf_record_free(rec);
	return r;
}

void flat_eval_begin(flat_ctx_t *c, bool limits)
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

const char *flat_term_text(const flat_input_t *in, const val_t *v)
{
	return v->term < in->nterms ? in->terms[v->term] : in->all_term;
}

static char *spf_root(const char *domain)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "_spf.%s", domain);
	return mn_buf_take(&b);
}

int flat_eval_original(flat_ctx_t *c, const flat_input_t *in, ipmap_t m[2], char *why, size_t whysize)
{
	char *text = original_text(in), *root = spf_root(in->domain);
	int r = MN_ENOMEM;
	if (text != NULL && root != NULL) {
		flat_eval_begin(c, false);
		r = flat_eval_top(c, text, root, (val_t){ 0 }, m, why, whysize);
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

/* The CIDR blocks of the pass ranges of m appended to v (*n used, *cap allocated). */
static int pass_nets(const ipmap_t *m, int fam, mn_net_t **v, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < m->n; i++) {
		if (flat_val(m, i)->res != R_PASS)
			continue;
		ipmap_range_t rg = { .lo = m->s[i] };
		while (i + 1 < m->n && flat_val(m, i + 1)->res == R_PASS)
			i++;	/* adjacent pass ranges from different terms */
		rg.hi = i + 1 < m->n ? m->s[i + 1] - 1 : ipmap_max(fam);
		int r = ipmap_range_nets(rg, fam, v, n, cap);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

int flat_domain(flat_ctx_t *c, const flat_input_t *in, flat_result_t *out)
{
	if (c == NULL || in == NULL || in->domain == NULL || in->all_term == NULL || out == NULL)
		return MN_EINVAL;
	flat_result_t res = { 0 };
	ipmap_t m[2] = { 0 };
	flat_kept_reset(c);
	int r = flat_eval_original(c, in, m, res.why, sizeof(res.why));
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
			const val_t *v = flat_val(&m[f], i);
			if (v->res == R_PERM || v->res == R_TEMP || v->res == R_UNK) {
				char a[64];
				ipmap_addr_format(f ? 6 : 4, m[f].s[i], a, sizeof(a));
				snprintf(res.why, sizeof(res.why), "%s gets %s from '%s'%s%s%s", a, flat_res_names[v->res],
					 flat_term_text(in, v), c->note[0] ? " (" : "", c->note, c->note[0] ? ")" : "");
				r = MN_EPOLICY;
				goto done;
			}
		}
	}
	size_t cap = 0;
	r = pass_nets(&m[0], 4, &res.nets, &res.nnets, &cap);
	if (r == MN_OK)
		r = pass_nets(&m[1], 6, &res.nets, &res.nnets, &cap);
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
	ipmap_free(&m[0]);
	ipmap_free(&m[1]);
	if (r != MN_OK && r != MN_EPOLICY) {
		flat_result_clear(&res);
		return r;
	}
	*out = res;
	return r;
}

const char *flat_eval_addr(flat_ctx_t *c, const char *owner, const char *addr)
{
	mn_net_t net;
	if (c == NULL || owner == NULL || addr == NULL || mn_net_parse(addr, 0, true, &net) != MN_OK)
		return "?";
	ipmap_range_t rg = ipmap_net_range(&net);
	ipmap_t m;
	flat_eval_begin(c, true);
	flat_kept_reset(c);
	c->depth = 0;
	if (eval_name(c, owner, net.family, &m) != MN_OK)
		return "?";
	const char *s = flat_res_names[flat_val(&m, ipmap_find(&m, rg.lo))->res];
	ipmap_free(&m);
	return s;
}
