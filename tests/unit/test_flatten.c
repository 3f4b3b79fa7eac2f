/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_flatten.c -- address intervals (ipmap), RFC 7208 evaluation over them, flattening and the equivalence proof */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/tap/tap.h"
#include "zones/chain.h"
#include "zones/flatten.h"
#include "zones/ipmap.h"

/* The DNS of these tests: name, type, records ("|"-separated), or a status. */
typedef struct entry {
	const char *name;
	uint16_t type;
	const char *recs;	/* NULL: NXDOMAIN; "": NODATA; "!": SERVFAIL */
} entry_t;

static const entry_t dns[] = {
	{ "prov.test", FLAT_T_TXT, "v=spf1 ip4:192.0.2.0/24 include:deep1.test ~all" },
	{ "deep1.test", FLAT_T_TXT, "v=spf1 ip4:198.51.100.0/25 include:deep2.test -all" },
	{ "deep2.test", FLAT_T_TXT, "v=spf1 ip6:2001:db8:1::/48 ip4:203.0.113.7 -all" },
	{ "soft.test", FLAT_T_TXT, "v=spf1 ~ip4:10.0.0.0/24 ip4:10.0.0.0/16 ~all" },
	{ "redir.test", FLAT_T_TXT, "v=spf1 ip4:10.1.0.0/16 redirect=target.test" },
	{ "target.test", FLAT_T_TXT, "v=spf1 ip4:10.2.0.0/16 -all" },
	{ "redirall.test", FLAT_T_TXT, "v=spf1 ip4:10.3.0.0/16 ?all redirect=target.test" },
	{ "loop1.test", FLAT_T_TXT, "v=spf1 ip4:10.9.0.0/16 include:loop2.test -all" },
	{ "loop2.test", FLAT_T_TXT, "v=spf1 include:loop1.test -all" },
	{ "dual.test", FLAT_T_TXT, "v=spf1 a:host.test/24//64 mx:mail.test -all" },
	{ "host.test", FLAT_T_A, "192.0.2.77" },
	{ "host.test", FLAT_T_AAAA, "2001:db8:5::1" },
	{ "mail.test", FLAT_T_MX, "mx1.test|mx2.test" },
	{ "mx1.test", FLAT_T_A, "198.51.100.200" },
	{ "mx1.test", FLAT_T_AAAA, "" },
	{ "mx2.test", FLAT_T_A, "" },
	{ "mx2.test", FLAT_T_AAAA, "2001:db8:6::25" },
	{ "macro.test", FLAT_T_TXT, "v=spf1 ip4:10.4.0.0/16 exists:%{i}.bl.test -all" },
	{ "fail.test", FLAT_T_TXT, "!" },
	{ "twice.test", FLAT_T_TXT, "v=spf1 -all|v=spf1 +all" },
	{ "nospf.test", FLAT_T_TXT, "google-site-verification=x" },
};

typedef struct view {
	flat_rrset_t sets[sizeof(dns) / sizeof(dns[0])];
	flat_rrset_t nx;
	int calls;
} view_t;

static int lookup(void *arg, const char *name, uint16_t type, const flat_rrset_t **out)
{
	view_t *v = arg;
	v->calls++;
	for (size_t i = 0; i < sizeof(dns) / sizeof(dns[0]); i++) {
		if (dns[i].type != type || strcasecmp(dns[i].name, name) != 0)
			continue;
		flat_rrset_t *s = &v->sets[i];
		if (s->v == NULL && s->status == FLAT_ANSWER) {
			if (strcmp(dns[i].recs, "!") == 0) {
				s->status = FLAT_FAIL;
			} else if (dns[i].recs[0] == '\0') {
				s->status = FLAT_NODATA;
			} else {
				char *copy = strdup(dns[i].recs), *save = NULL;
				s->v = calloc(16, sizeof(*s->v));
				for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save))
					s->v[s->n++] = strdup(t);
				free(copy);
				s->ttl = 300;
			}
		}
		*out = s;
		return MN_OK;
	}
	v->nx.status = FLAT_NXDOMAIN;
	*out = &v->nx;
	return MN_OK;
}

static void view_free(view_t *v)
{
	for (size_t i = 0; i < sizeof(dns) / sizeof(dns[0]); i++) {
		for (size_t k = 0; k < v->sets[i].n; k++)
			free(v->sets[i].v[k]);
		free(v->sets[i].v);
	}
}

/* Flattens terms of example.com; the nets (and kept terms) as one string, or "ERR: why". */
static char *flatten(flat_ctx_t *c, const char *terms, const char *all, flat_result_t *res)
{
	char *copy = strdup(terms), *save = NULL, *tv[32];
	size_t n = 0;
	for (char *t = strtok_r(copy, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save))
		tv[n++] = t;
	flat_input_t in = { .domain = "example.com", .terms = tv, .nterms = n, .all_term = all };
	int r = flat_domain(c, &in, res);
	char buf[2048] = "";
	if (r != MN_OK || res->dns_failed) {
		snprintf(buf, sizeof(buf), "ERR: %s", res->why);
	} else {
		for (size_t i = 0; i < res->nnets; i++) {
			char s[64];
			mn_net_format(&res->nets[i], s, sizeof(s));
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "", s);
		}
		for (size_t i = 0; i < res->nkept; i++)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " [%s]", res->kept[i]);
	}
	free(copy);
	return strdup(buf);
}

static const struct {
	const char *terms, *all, *want;
} cases[] = {
	{ "ip4:192.0.2.0/25 ip4:192.0.2.128/25", "-all", "192.0.2.0/24" },
	/* nested includes: deep2's -all makes deep1 not match outside, prov's ~all likewise */
	{ "include:prov.test", "-all", "192.0.2.0/24 198.51.100.0/25 203.0.113.7 2001:db8:1::/48" },
	/* ~ip4 before the wider pass takes 10.0.0.0/24 away */
	{ "include:soft.test", "~all", "10.0.1.0/24 10.0.2.0/23 10.0.4.0/22 10.0.8.0/21 10.0.16.0/20 10.0.32.0/19 "
				       "10.0.64.0/18 10.0.128.0/17" },
	{ "include:redir.test", "-all", "10.1.0.0/16 10.2.0.0/16" },
	/* redirect= beside all is ignored */
	{ "include:redirall.test", "-all", "10.3.0.0/16" },
	{ "include:dual.test", "-all", "192.0.2.0/24 198.51.100.200 2001:db8:5::/64 2001:db8:6::25" },
	{ "a:host.test mx:mail.test", "-all", "192.0.2.77 198.51.100.200 2001:db8:5::1 2001:db8:6::25" },
	/* a void a: matches nothing */
	{ "a:nothere.test ip4:192.0.2.1", "-all", "192.0.2.1" },
	{ "include:loop1.test", "-all", "ERR: 0.0.0.0 gets permerror from 'include:loop1.test' (include loop at loop1.test)" },
	{ "ip4:192.0.2.0/24 include:void.test", "-all",
	  "ERR: 0.0.0.0 gets permerror from 'include:void.test' (void.test has no SPF record)" },
	{ "include:twice.test", "-all", "ERR: 0.0.0.0 gets permerror from 'include:twice.test' (twice.test has several SPF records)" },
	{ "include:nospf.test", "~all", "ERR: 0.0.0.0 gets permerror from 'include:nospf.test' (nospf.test has no SPF record)" },
	/* an include with exists:%{i}: kept as written, its known part still flattened */
	{ "ip4:192.0.2.0/24 include:macro.test", "-all", "10.4.0.0/16 192.0.2.0/24 [include:macro.test]" },
	{ "include:fail.test", "-all", "ERR: fail.test: TXT lookup failed" },
};

static void test_cases(void)
{
	view_t v = { 0 };
	flat_ctx_t *c = NULL;
	tap_is_int(flat_ctx_new(lookup, &v, &c), MN_OK, "context");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		flat_result_t res;
		char *got = flatten(c, cases[i].terms, cases[i].all, &res);
		tap_is_str(got, cases[i].want, "flatten %s %s", cases[i].terms, cases[i].all);
		free(got);
		flat_result_clear(&res);
	}
	/* memo: flattening the same include again asks nothing */
	int calls = v.calls;
	flat_result_t res;
	free(flatten(c, "include:prov.test", "-all", &res));
	tap_is_int(v.calls, calls, "a second domain including prov.test asks the DNS nothing");
	tap_is_int((int)res.ttl, 300, "the smallest upstream TTL is reported");
	flat_result_clear(&res);
	flat_ctx_free(c);
	view_free(&v);
}

/* Per-address evaluation of single records. */
static const struct {
	const char *owner, *addr, *want;
} addrs[] = {
	{ "prov.test", "192.0.2.5", "pass" },
	{ "prov.test", "198.51.100.127", "pass" },
	{ "prov.test", "198.51.100.128", "softfail" },
	{ "prov.test", "203.0.113.7", "pass" },
	{ "prov.test", "203.0.113.8", "softfail" },
	{ "prov.test", "2001:db8:1::1", "pass" },
	{ "prov.test", "2001:db8:2::1", "softfail" },
	{ "soft.test", "10.0.0.9", "softfail" },
	{ "soft.test", "10.0.9.9", "pass" },
	{ "redir.test", "10.2.3.4", "pass" },
	{ "redir.test", "10.5.3.4", "fail" },
	{ "redirall.test", "10.2.3.4", "neutral" },
	{ "loop1.test", "10.9.0.1", "pass" },
	{ "loop1.test", "10.8.0.1", "permerror" },
	{ "dual.test", "192.0.2.255", "pass" },
	{ "dual.test", "2001:db8:5::ffff", "pass" },
	{ "dual.test", "2001:db8:5:1::1", "fail" },
	{ "macro.test", "10.4.0.1", "pass" },
	{ "macro.test", "10.5.0.1", "unknown" },
	{ "fail.test", "10.5.0.1", "temperror" },
	{ "void.test", "10.5.0.1", "none" },
};

static void test_addrs(void)
{
	view_t v = { 0 };
	flat_ctx_t *c = NULL;
	flat_ctx_new(lookup, &v, &c);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		tap_is_str(flat_eval_addr(c, addrs[i].owner, addrs[i].addr), addrs[i].want, "%s for %s", addrs[i].owner,
			   addrs[i].addr);
	flat_ctx_free(c);
	view_free(&v);
}

/* The proof: the right record is equivalent; dropped, widened or mis-qualified ones are not. */
static void test_prove(void)
{
	view_t v = { 0 };
	flat_ctx_t *c = NULL;
	flat_ctx_new(lookup, &v, &c);
	char *tv[] = { "ip4:192.0.2.0/24", "include:prov.test", "include:redir.test" };
	flat_input_t in = { .domain = "example.com", .terms = tv, .nterms = 3, .all_term = "~all" };
	flat_result_t res;
	tap_is_int(flat_domain(c, &in, &res), MN_OK, "flatten three terms");
	char why[512];
	unsigned lookups = 0;
	static const struct {
		const char *text, *want;
		unsigned lookups;
	} pubs[] = {
		{ "v=spf1 ip4:10.1.0.0/16 ip4:10.2.0.0/16 ip4:192.0.2.0/24 ip4:198.51.100.0/25 ip4:203.0.113.7 "
		  "ip6:2001:db8:1::/48 ~all", "", 1 },
		/* the last include dropped */
		{ "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/25 ip4:203.0.113.7 ip6:2001:db8:1::/48 ~all",
		  "10.1.0.0: the original gives pass ('include:redir.test'), the published record softfail", 1 },
		/* -all where the original says ~all */
		{ "v=spf1 ip4:10.1.0.0/16 ip4:10.2.0.0/16 ip4:192.0.2.0/24 ip4:198.51.100.0/25 ip4:203.0.113.7 "
		  "ip6:2001:db8:1::/48 -all", "0.0.0.0: the original gives softfail ('~all'), the published record fail", 1 },
		/* IPv6 forgotten */
		{ "v=spf1 ip4:10.1.0.0/16 ip4:10.2.0.0/16 ip4:192.0.2.0/24 ip4:198.51.100.0/25 ip4:203.0.113.7 ~all",
		  "2001:db8:1::: the original gives pass ('include:prov.test'), the published record softfail", 1 },
		/* the include kept as written is equivalent too */
		{ "v=spf1 ip4:192.0.2.0/24 include:prov.test include:redir.test ~all", "", 6 },
	};
	for (size_t i = 0; i < sizeof(pubs) / sizeof(pubs[0]); i++) {
		flat_rec_t rec = { "_spf.example.com", pubs[i].text };
		int r = flat_prove(c, &in, &res, FLAT_PUB_FLATTEN, &rec, 1, &lookups, why, sizeof(why));
		tap_is_int(r, pubs[i].want[0] ? MN_EPOLICY : MN_OK, "prove #%zu", i);
		tap_is_str(why, pubs[i].want, "prove #%zu: why", i);
		if (r == MN_OK)
			tap_is_int((int)lookups, (int)pubs[i].lookups, "prove #%zu: lookups", i);
	}

	/* a chain from chain_build() */
	char *terms[64];
	size_t nt = 0;
	char buf[64][32];
	for (int i = 0; i < 40; i++) {
		snprintf(buf[i], sizeof(buf[i]), "ip4:10.%d.%d.0/24", 100 + i, i * 2);
		terms[nt++] = buf[i];
	}
	flat_input_t in2 = { .domain = "example.com", .terms = terms, .nterms = nt, .all_term = "-all" };
	flat_result_t res2;
	tap_is_int(flat_domain(c, &in2, &res2), MN_OK, "flatten 40 networks");
	chain_t ch = { 0 };
	tap_is_int(chain_build("_spf.example.com", terms, nt, "-all", &ch), MN_OK, "chain of 40 networks");
	flat_rec_t recs[8];
	for (size_t i = 0; i < ch.n && i < 8; i++)
		recs[i] = (flat_rec_t){ ch.v[i].owner, ch.v[i].text };
	tap_is_int(flat_prove(c, &in2, &res2, FLAT_PUB_FLATTEN, recs, ch.n, &lookups, why, sizeof(why)), MN_OK,
		   "the chain is equivalent");
	tap_is_int((int)lookups, (int)ch.lookups, "its lookups are chain_build's count (%u)", ch.lookups);
	/* a part lost */
	tap_ok(ch.n >= 2, "the chain has parts");
	int r = flat_prove(c, &in2, &res2, FLAT_PUB_FLATTEN, recs, ch.n - 1, NULL, why, sizeof(why));
	tap_is_int(r, MN_EPOLICY, "a missing part is a difference: %s", why);
	chain_free(&ch);

	/* macro: exists:%{ir}.%{v}._spf.D matches the set exactly */
	flat_rec_t mac = { "_spf.example.com", "v=spf1 exists:%{ir}.%{v}._spf.example.com ~all" };
	tap_is_int(flat_prove(c, &in, &res, FLAT_PUB_MACRO, &mac, 1, &lookups, why, sizeof(why)), MN_OK,
		   "the macro record is equivalent (%s)", why);
	tap_is_int((int)lookups, 2, "and needs 2 lookups");
	flat_rec_t mac2 = { "_spf.example.com", "v=spf1 exists:%{ir}.%{v}._spf.example.com -all" };
	tap_is_int(flat_prove(c, &in, &res, FLAT_PUB_MACRO, &mac2, 1, NULL, why, sizeof(why)), MN_EPOLICY,
		   "a macro record with the wrong all is not");

	/* too many lookups when published */
	flat_rec_t big = { "_spf.example.com", "v=spf1 include:prov.test include:prov.test include:prov.test "
					      "include:redir.test ip4:192.0.2.0/24 ~all" };
	tap_is_int(flat_prove(c, &in, &res, FLAT_PUB_FLATTEN, &big, 1, &lookups, why, sizeof(why)), MN_EPOLICY,
		   "too many lookups");
	tap_is_str(why, "the published record needs 12 DNS lookups (limit 10)", "named (apex 1, prov.test 3 each, redir.test 2)");

	/* kept terms: the original with an unflattenable include and the record keeping it */
	char *tk[] = { "ip4:192.0.2.0/24", "include:macro.test" };
	flat_input_t in3 = { .domain = "example.com", .terms = tk, .nterms = 2, .all_term = "-all" };
	flat_result_t res3;
	tap_is_int(flat_domain(c, &in3, &res3), MN_OK, "flatten with a kept include");
	flat_rec_t k1 = { "_spf.example.com", "v=spf1 ip4:10.4.0.0/16 ip4:192.0.2.0/24 include:macro.test -all" };
	tap_is_int(flat_prove(c, &in3, &res3, FLAT_PUB_FLATTEN, &k1, 1, &lookups, why, sizeof(why)), MN_OK,
		   "kept include: equivalent (%s)", why);
	flat_rec_t k2 = { "_spf.example.com", "v=spf1 ip4:10.4.0.0/16 ip4:192.0.2.0/24 -all" };
	tap_is_int(flat_prove(c, &in3, &res3, FLAT_PUB_FLATTEN, &k2, 1, NULL, why, sizeof(why)), MN_EPOLICY,
		   "kept include dropped: not equivalent");
	flat_result_clear(&res);
	flat_result_clear(&res2);
	flat_result_clear(&res3);
	flat_ctx_free(c);
	view_free(&v);
}

/* ---- address intervals ------------------------------------------------------------ */

/* Networks (space-separated, host bits allowed) merged: the fewest CIDR blocks, ascending. */
static const struct {
	int fam;
	const char *in, *want;
} merges[] = {
	{ 4, "10.0.0.0/25 10.0.0.128/25", "10.0.0.0/24" },
	{ 4, "10.0.0.0/24 10.0.0.0/16", "10.0.0.0/16" },
	{ 4, "10.0.2.0/24 10.0.0.0/24", "10.0.0.0/24 10.0.2.0/24" },
	{ 4, "10.0.2.0/24 10.0.1.0/24 10.0.0.0/24", "10.0.0.0/23 10.0.2.0/24" },
	{ 4, "10.0.0.1 10.0.0.2/31 10.0.0.4/31 10.0.0.6", "10.0.0.1 10.0.0.2/31 10.0.0.4/31 10.0.0.6" },
	{ 4, "10.0.0.0/26 10.0.0.32/27 10.0.0.48/28 10.0.0.64/26", "10.0.0.0/25" },
	{ 4, "192.0.2.77/24", "192.0.2.0/24" },
	{ 4, "128.0.0.0/1 0.0.0.0/1", "0.0.0.0/0" },
	{ 4, "255.255.255.255 255.255.255.254", "255.255.255.254/31" },
	{ 4, "0.0.0.0/0 192.0.2.0/24", "0.0.0.0/0" },
	{ 6, "2001:db8:8000::/33 2001:db8::/33", "2001:db8::/32" },
	{ 6, "2001:db8::1 2001:db8::2/127", "2001:db8::1 2001:db8::2/127" },
	{ 6, "8000::/1 ::/1", "::/0" },
	{ 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::/0", "::/0" },
	{ 6, "2001:db8:1::/48 2001:db8::/48 2001:db8:3::/48", "2001:db8::/47 2001:db8:3::/48" },
};

/* Random ranges, few (the insertion sort) and many (qsort): the merge is ascending, disjoint,
 * not adjacent, covers every input range, and each merged range's ends lie in an input range. */
static void test_ipmap_merge_random(void)
{
	static const size_t sizes[] = { 2, 7, 32, 33, 200 };
	unsigned seed = 17;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		ipmap_range_t in[200], r[200];
		for (size_t i = 0; i < n; i++) {
			ipmap_addr_t lo = rand_r(&seed) % 1000, len = rand_r(&seed) % 20;
			in[i] = (ipmap_range_t){ lo, lo + len };
			r[i] = in[i];
		}
		size_t m = ipmap_ranges_merge(r, n, 4);
		bool good = m >= 1 && m <= n;
		for (size_t k = 0; good && k < m; k++) {
			good = r[k].lo <= r[k].hi && (k == 0 || r[k].lo > r[k - 1].hi + 1);
			bool lo_in = false, hi_in = false;
			for (size_t i = 0; i < n; i++) {
				lo_in = lo_in || (in[i].lo <= r[k].lo && r[k].lo <= in[i].hi);
				hi_in = hi_in || (in[i].lo <= r[k].hi && r[k].hi <= in[i].hi);
			}
			good = good && lo_in && hi_in;
		}
		for (size_t i = 0; good && i < n; i++) {
			bool covered = false;
			for (size_t k = 0; k < m && !covered; k++)
				covered = r[k].lo <= in[i].lo && in[i].hi <= r[k].hi;
			good = covered;
		}
		ok(good, "merge of %zu random ranges: %zu ascending, disjoint, covering", n, m);
	}
}

static void test_ipmap_merge(void)
{
	for (size_t i = 0; i < sizeof(merges) / sizeof(merges[0]); i++) {
		char buf[512], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", merges[i].in);
		ipmap_range_t r[16];
		size_t n = 0;
		for (char *t = strtok_r(buf, " ", &save); t != NULL && n < 16; t = strtok_r(NULL, " ", &save)) {
			mn_net_t net;
			if (mn_net_parse(t, merges[i].fam, true, &net) != MN_OK)
				tap_bail("bad test network %s", t);
			r[n++] = ipmap_net_range(&net);
		}
		size_t m = ipmap_ranges_merge(r, n, merges[i].fam);
		mn_net_t *v = NULL;
		size_t nv = 0, cap = 0;
		int rc = MN_OK;
		for (size_t k = 0; rc == MN_OK && k < m; k++)
			rc = ipmap_range_nets(r[k], merges[i].fam, &v, &nv, &cap);
		char got[512] = "";
		for (size_t k = 0; k < nv; k++) {
			char one[64];
			mn_net_format(&v[k], one, sizeof(one));
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? " " : "", one);
		}
		is_str(got, merges[i].want, "merge %s", merges[i].in);
		free(v);
	}
}

/* A map value: every byte named. */
typedef struct tv {
	uint32_t a, b;
} tv_t;

static void tv_or(void *out, const void *x, const void *y, const void *arg)
{
	const tv_t *p = x, *q = y;
	(void)arg;
	*(tv_t *)out = (tv_t){ p->a | q->a, p->b + q->b };
}

static uint32_t at(const ipmap_t *m, int fam, const char *addr)
{
	mn_net_t net;
	if (mn_net_parse(addr, fam, true, &net) != MN_OK)
		tap_bail("bad test address %s", addr);
	return ((const tv_t *)ipmap_val(m, ipmap_find(m, ipmap_net_range(&net).lo)))->a;
}

static void test_ipmap_maps(void)
{
	mn_net_t n1, n2, n3;
	mn_net_parse("10.0.0.0/24", 4, false, &n1);
	mn_net_parse("10.0.0.128/25", 4, false, &n2);	/* inside n1 */
	mn_net_parse("10.0.1.0/24", 4, false, &n3);	/* adjacent to n1 */
	ipmap_range_t r[3] = { ipmap_net_range(&n3), ipmap_net_range(&n1), ipmap_net_range(&n2) };
	tv_t in = { 1, 0 }, out = { 0, 0 };
	ipmap_t m, c, d;
	is_int(ipmap_of_ranges(r, 3, 4, &in, &out, sizeof(tv_t), &m), MN_OK, "map of overlapping ranges");
	is_int((long long)m.n, 3, "canonical: out, in (10.0.0.0-10.0.1.255), out");
	ok(m.s[0] == 0, "first piece from 0");
	is_int(at(&m, 4, "9.255.255.255"), 0, "just below: out");
	is_int(at(&m, 4, "10.0.0.0"), 1, "first address: in");
	is_int(at(&m, 4, "10.0.1.255"), 1, "last address of the adjacent range: in");
	is_int(at(&m, 4, "10.0.2.0"), 0, "just above: out");
	is_int(at(&m, 4, "255.255.255.255"), 0, "last IPv4 address: out");

	mn_net_t top;
	mn_net_parse("255.255.255.0/24", 4, false, &top);
	ipmap_range_t rt = ipmap_net_range(&top);
	tv_t two = { 2, 0 };
	is_int(ipmap_of_ranges(&rt, 1, 4, &two, &out, sizeof(tv_t), &c), MN_OK, "map up to the last address");
	is_int((long long)c.n, 2, "two pieces, no piece after 2^32 - 1");
	is_int(ipmap_combine(&m, &c, tv_or, NULL, &d), MN_OK, "combine");
	is_int((long long)d.n, 4, "combined: 4 pieces");
	is_int(at(&d, 4, "10.0.0.7"), 1, "combined: first set");
	is_int(at(&d, 4, "255.255.255.9"), 2, "combined: second set");
	is_int(at(&d, 4, "11.0.0.0"), 0, "combined: neither");
	is_int(ipmap_apply(&d, &d, tv_or, NULL), MN_OK, "apply onto itself");
	is_int((long long)d.n, 4, "same pieces");
	ipmap_free(&c);
	is_int(ipmap_copy(&d, &c), MN_OK, "copy");
	ok(c.n == d.n && memcmp(c.s, d.s, d.n * sizeof(*d.s)) == 0 && memcmp(c.v, d.v, d.n * sizeof(tv_t)) == 0,
	   "the copy has the same pieces");
	tv_t one = { 1, 0 };
	is_int(ipmap_push(&c, c.s[c.n - 1], &one), MN_OK, "push at the last start");
	is_int((long long)c.n, 4, "the same start replaces the last value");
	is_int(ipmap_push(&c, c.s[c.n - 1] + 1, &one), MN_OK, "push an equal value");
	is_int((long long)c.n, 4, "an equal value extends the last piece");
	ipmap_free(&m);
	ipmap_free(&c);
	ipmap_free(&d);

	/* IPv6: the whole space, the last address */
	mn_net_t h6;
	mn_net_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6, false, &h6);
	ipmap_range_t r6 = ipmap_net_range(&h6);
	ok(r6.lo == r6.hi && r6.hi == ipmap_max(6), "the last IPv6 address is 2^128 - 1");
	is_int(ipmap_of_ranges(&r6, 1, 6, &in, &out, sizeof(tv_t), &m), MN_OK, "IPv6 map");
	is_int((long long)m.n, 2, "out, then in at the very end");
	is_int(at(&m, 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 0, "one below: out");
	is_int(at(&m, 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1, "the last: in");
	char a[64];
	ipmap_addr_format(6, m.s[1], a, sizeof(a));
	is_str(a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "formatted");
	ipmap_addr_format(4, ipmap_max(4), a, sizeof(a));
	is_str(a, "255.255.255.255", "IPv4 max formatted");
	ipmap_free(&m);
	is_int(ipmap_const(&m, &in, sizeof(tv_t)), MN_OK, "constant map");
	is_int((long long)m.n, 1, "one piece");
	ipmap_free(&m);
}

int main(void)
{
	test_ipmap_merge();
	test_ipmap_merge_random();
	test_ipmap_maps();
	test_cases();
	test_addrs();
	test_prove();
	return tap_done();
}
