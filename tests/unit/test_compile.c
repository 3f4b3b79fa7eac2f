/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_compile.c -- records, network merging, SPF chains and macro names, compile, serials, zone files */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/mn.h"
#include "policy/policy.h"
#include "tests/tap/tap.h"
#include "zones/chain.h"
#include "zones/compile.h"
#include "zones/macro.h"
#include "zones/records.h"
#include "zones/serial.h"
#include "zones/zonefile.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define T_2030_01_01 ((time_t)1893456000)
#define T_2030_02_01 ((time_t)1896134400)

static const char *const FILE_NAME = "test.yaml";
/* real keys: compiling validates every DKIM record (RSA 2048 bits, Ed25519 32 bytes) */
#define GOOGLE_KEY "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAspFF8kjtbuVCHSM5w9jqXyXKsn0hob2Q++FlcopJ7Ef8nKm2IVwd9L/Jwkz8zaHpIxwgRtO3Nu/z044ChFhW5aRHEUYMdCDo1ASbA7MsqOta25JUu8iwORnv3BTgrScm8sy3NvSnFRaRleSRYCkQWWKzmlat6FRq7n/kI8dUnyQNauIOpUxpVZwQyPUY9pA0SABkxGEAviCxlfUy9SV8ShY61eNETjHQFOIuqLTnIryBBGyaYg9dS77AQKSQgtpJ/PC5g4x0b0xM2ZefxaebXZ2y+wRFY7UQ0Uj+YsQRq/dPXbqpODRVIQ8a9J5aenPPp0HD4ryjzUstosxbAAlbpQIDAQAB"
#define STORE_KEY "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAp8UmigFEss9qC4xyk7pvNACUIDib5Q9r6S2U+8S/gfgvrtfU1YTdr3X1X8AP8pFobyrcLzmstBaRzRpq3FF6vBa90Homu9Ex9PMU9cfliK2yCw52amixrh16617yTf/B/6WGDnQQeSKh1q3gN+2jkl9Xt4dQztTJF7sncRr01Uwae0GJm0lGNHDK/xkYa5/0m+d3NGRUiEDj4C5d5xrPMUDpti3nF/rLtwQI+G/btFPpzTuUJSsltk34+vgcrck5UAyVeM7KaP3i9AmZwKS4lMRisoqKUmjbOCGMJhHTwQUgduwsIvazDbGnWScT4joLJhPptknNw9qwRf/31bfdqQIDAQAB"
#define ED_KEY "l3GF7d54mh6z+4YMVI32gDp5ovICkdUaS8tSlDg8Kes="
static char tmp[256];

/* ---- a small arena for hand-built policies -------------------------------- */

static void **arena;
static size_t narena, carena;

static void *A(size_t n)
{
	if (narena == carena) {
		carena = carena ? carena * 2 : 256;
		arena = realloc(arena, carena * sizeof(*arena));
		if (arena == NULL)
			tap_bail("out of memory");
	}
	void *p = calloc(1, n ? n : 1);
	if (p == NULL)
		tap_bail("out of memory");
	return arena[narena++] = p;
}

static void arena_free(void)
{
	for (size_t i = 0; i < narena; i++)
		free(arena[i]);
	narena = 0;
}

static char *S(const char *s)
{
	char *p = A(strlen(s) + 1);
	strcpy(p, s);
	return p;
}

static mn_pos_t P(uint32_t line, uint32_t col)
{
	return (mn_pos_t){ FILE_NAME, line, col };
}

static policy_str_t str(const char *s, uint32_t line)
{
	return (policy_str_t){ S(s), P(line, 5) };
}

static policy_strs_t strs(const char *const *v, size_t n, uint32_t line)
{
	policy_strs_t r = { A(n * sizeof(policy_str_t)), n, P(line, 3) };
	for (size_t i = 0; i < n; i++)
		r.v[i] = (policy_str_t){ S(v[i]), P(line, 5 + 10 * (uint32_t)i) };
	return r;
}

static mn_net_t net(const char *s)
{
	mn_net_t n;
	if (mn_net_parse(s, 0, false, &n) != MN_OK)
		tap_bail("bad network %s", s);
	return n;
}

static policy_nets_t nets(const char *const *v, size_t n, uint32_t line)
{
	policy_nets_t r = { A(n * sizeof(policy_net_t)), n, P(line, 3) };
	for (size_t i = 0; i < n; i++)
		r.v[i] = (policy_net_t){ net(v[i]), P(line, 5) };
	return r;
}

static policy_t pol;

static void pol_init(const char *state_dir)
{
	arena_free();
	memset(&pol, 0, sizeof(pol));
	static const char *const ns[] = { "ns1.example.net", "ns2.example.net" };
	pol.server.nameservers = strs(ns, 2, 3);
	pol.server.hostmaster = str("hostmaster.example.net", 4);
	pol.server.ttl = (policy_u32_t){ 3600, P(5, 8) };
	pol.server.negative_ttl = (policy_u32_t){ 300, P(6, 17) };
	if (state_dir != NULL)
		pol.server.state_dir = str(state_dir, 7);
	pol.domains = A(16 * sizeof(policy_domain_t));
}

static policy_domain_t *dom(const char *name, uint32_t line)
{
	policy_domain_t *d = &pol.domains[pol.ndomains++];
	d->name = S(name);
	d->pos = P(line, 3);
	return d;
}

static int dom_cmp(const void *x, const void *y)
{
	return strcmp(((const policy_domain_t *)x)->name, ((const policy_domain_t *)y)->name);
}

static void pol_done(void)
{
	qsort(pol.domains, pol.ndomains, sizeof(*pol.domains), dom_cmp);
}

static void spf(policy_domain_t *d, spf_mode_t mode, uint32_t line, spf_all_t all)
{
	d->spf.present = true;
	d->spf.mode = (policy_enum_t){ (int)mode, P(line, 13) };
	d->spf.all = (policy_enum_t){ (int)all, P(line + 1, 12) };
}

static void dmarc(policy_domain_t *d, dmarc_p_t p, uint32_t line)
{
	d->dmarc.present = true;
	d->dmarc.p = (policy_enum_t){ (int)p, P(line, 10) };
}

/* ---- reading zones ------------------------------------------------------------ */

/* The TXT strings at owner, concatenated; "" when none (static buffer). */
static const char *txt(const zone_t *z, const char *owner)
{
	static char out[70000];
	out[0] = '\0';
	uint8_t w[256];
	int wl = mn_name_to_wire(owner, w, sizeof(w));
	long i = z ? zone_find(z, w, (uint16_t)wl, ZONE_T_TXT) : -1;
	if (i < 0)
		return "(none)";
	const zone_rr_t *rr = zone_rr(z, i);
	size_t o = 0, n = 0;
	while (o < rr->rdlen) {
		size_t l = rr->rdata[o];
		memcpy(out + n, rr->rdata + o + 1, l);
		n += l;
		o += 1 + l;
	}
	out[n] = '\0';
	return out;
}

static size_t count_type(const zone_t *z, uint16_t type)
{
	size_t n = 0;
	for (size_t i = 0; z && i < zone_nrrs(z); i++)
		n += zone_rr(z, i)->type == type;
	return n;
}

static bool has_a(const zone_t *z, const char *owner)
{
	uint8_t w[256];
	int wl = mn_name_to_wire(owner, w, sizeof(w));
	return z != NULL && wl > 0 && zone_find(z, w, (uint16_t)wl, ZONE_T_A) >= 0;
}

static char *render(const zone_t *z)
{
	char *text = NULL;
	size_t len = 0;
	if (z == NULL || zonefile_render(z, &text, &len) != MN_OK)
		return NULL;
	return text;
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
}

static char *read_text(const char *path)
{
	char *t = NULL;
	size_t n = 0;
	return mn_file_read(path, &t, &n) == MN_OK ? t : NULL;
}

static void write_text(const char *path, const char *text)
{
	if (mn_file_write_atomic(path, text, strlen(text), 0644) != MN_OK)
		tap_bail("cannot write %s", path);
}

/* ---- records ------------------------------------------------------------------- */

static void test_dmarc_text(void)
{
	pol_init(NULL);
	policy_dmarc_t d = { .present = true, .p = { DMARC_P_REJECT, P(1, 1) } };
	static const char *const rua1[] = { "mailto:d@example.com" };
	d.rua = strs(rua1, 1, 2);
	char *t = rec_dmarc_text(&d);
	is_str(t, "v=DMARC1; p=reject; rua=mailto:d@example.com", "DMARC: p and rua");
	free(t);

	policy_dmarc_t n = { .present = true };
	t = rec_dmarc_text(&n);
	is_str(t, "v=DMARC1; p=none", "DMARC: p=none alone");
	free(t);

	/* every tag, in the fixed order whatever the order they are set in */
	policy_dmarc_t f = { .present = true, .p = { DMARC_P_QUARANTINE, P(1, 1) } };
	f.ri = (policy_u32_t){ 86400, P(9, 1) };
	f.rf = str("afrf", 9);
	f.pct = (policy_u32_t){ 50, P(9, 1) };
	static const char *const ruf[] = { "mailto:f@x.example" };
	static const char *const rua2[] = { "mailto:a@x.example", "mailto:b@y.example!10m" };
	f.ruf = strs(ruf, 1, 8);
	f.rua = strs(rua2, 2, 8);
	f.fo = str("1:d", 7);
	f.aspf = (policy_enum_t){ DMARC_ALIGN_R, P(6, 1) };
	f.adkim = (policy_enum_t){ DMARC_ALIGN_S, P(6, 1) };
	f.t = (policy_bool_t){ true, P(5, 1) };
	f.psd = (policy_enum_t){ DMARC_PSD_N, P(4, 1) };
	f.np = (policy_enum_t){ DMARC_P_NONE, P(3, 1) };
	f.sp = (policy_enum_t){ DMARC_P_REJECT, P(2, 1) };
	t = rec_dmarc_text(&f);
	is_str(t, "v=DMARC1; p=quarantine; sp=reject; np=none; psd=n; t=y; adkim=s; aspf=r; fo=1:d; "
		  "rua=mailto:a@x.example,mailto:b@y.example!10m; ruf=mailto:f@x.example; pct=50; rf=afrf; ri=86400",
	       "DMARC: all tags in order sp np psd t adkim aspf fo rua ruf pct rf ri");
	free(t);
	f.t.v = false;
	f.psd.v = DMARC_PSD_U;
	f.sp.pos.file = NULL;	/* unset */
	f.pct.pos.file = NULL;
	f.rf.pos.file = NULL;
	f.ri.pos.file = NULL;
	f.ruf.n = 0;
	t = rec_dmarc_text(&f);
	is_str(t, "v=DMARC1; p=quarantine; np=none; psd=u; t=n; adkim=s; aspf=r; fo=1:d; "
		  "rua=mailto:a@x.example,mailto:b@y.example!10m",
	       "DMARC: unset tags are left out; t=n, psd=u");
	free(t);

	static const struct { const char *uri, *want; } mt[] = {
		{ "mailto:d@Example.COM", "example.com" },
		{ "MAILTO:reports@example.org!10m", "example.org" },
		{ "mailto:%22a%40b%22@sub.example.net.", "sub.example.net" },	/* percent-decoded: "a@b" the local part */
		{ "mailto:r@example.org%2esub.example", "example.org.sub.example" },
		{ "mailto:a@b@sub.example.net.", NULL },	/* '@' is not atext */
		{ "https://example.com/report", NULL },
		{ "mailto:nobody", NULL },
		{ "mailto:x@", NULL },
		{ "mailto:x@bad..name", NULL },
	};
	for (size_t i = 0; i < N_ELEMS(mt); i++) {
		char out[256] = "";
		bool r = rec_mailto_domain(mt[i].uri, out, sizeof(out));
		if (mt[i].want != NULL)
			ok(r && strcmp(out, mt[i].want) == 0, "mailto domain of %s is %s (got %s)", mt[i].uri,
			   mt[i].want, out);
		else
			ok(!r, "no mailto domain in %s", mt[i].uri);
	}
	is_str(rec_spf_all_term(SPF_ALL_FAIL), "-all", "all: fail");
	is_str(rec_spf_all_term(SPF_ALL_SOFTFAIL), "~all", "all: softfail");
	is_str(rec_spf_all_term(SPF_ALL_NEUTRAL), "?all", "all: neutral");
	is_str(rec_spf_all_term(SPF_ALL_PASS), "+all", "all: pass");
}

/* ---- merging --------------------------------------------------------------------- */

static void check_merge(const char *const *in, size_t n, const char *want, const char *what)
{
	mn_net_t v[16];
	for (size_t i = 0; i < n; i++)
		v[i] = net(in[i]);
	mn_net_t *out = NULL;
	size_t nout = 0;
	int r = rec_nets_merge(v, n, &out, &nout);
	char got[512] = "";
	for (size_t i = 0; r == MN_OK && i < nout; i++) {
		char b[64];
		mn_net_format(&out[i], b, sizeof(b));
		if (i > 0)
			strcat(got, " ");
		strcat(got, b);
	}
	is_str(got, want, "merge: %s", what);
	free(out);
}

static void test_merge(void)
{
	static const struct {
		const char *in[6];
		size_t n;
		const char *want, *what;
	} t[] = {
		{ { "192.0.2.0/25", "192.0.2.128/25", "198.51.100.7" }, 3, "192.0.2.0/24 198.51.100.7", "adjacent halves" },
		{ { "198.51.100.7", "192.0.2.128/25", "192.0.2.0/25" }, 3, "192.0.2.0/24 198.51.100.7", "any input order" },
		{ { "192.0.2.0/24", "192.0.2.64/26", "192.0.2.5" }, 3, "192.0.2.0/24", "contained networks" },
		{ { "192.0.2.0/24", "192.0.3.0/24" }, 2, "192.0.2.0/23", "two /24 into a /23" },
		{ { "192.0.3.0/24", "192.0.4.0/24" }, 2, "192.0.3.0/24 192.0.4.0/24", "adjacent but not one block" },
		{ { "192.0.2.0/24", "192.0.3.0/25" }, 2, "192.0.2.0/24 192.0.3.0/25", "a range split into blocks" },
		{ { "10.0.0.1", "10.0.0.2" }, 2, "10.0.0.1 10.0.0.2", "unaligned pair stays" },
		{ { "10.0.0.2", "10.0.0.3" }, 2, "10.0.0.2/31", "aligned pair: /31" },
		{ { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4" }, 4, "10.0.0.1 10.0.0.2/31 10.0.0.4", "1..4" },
		{ { "0.0.0.0/1", "128.0.0.0/1", "255.255.255.255" }, 3, "0.0.0.0/0", "everything" },
		{ { "255.255.255.255", "255.255.255.254" }, 2, "255.255.255.254/31", "the top of the space" },
		{ { "192.0.2.1", "192.0.2.1" }, 2, "192.0.2.1", "duplicates" },
		{ { "2001:db8::/48", "2001:db8:1::/48" }, 2, "2001:db8::/47", "IPv6 halves" },
		{ { "2001:db8::/48", "2001:db8:2::/48" }, 2, "2001:db8::/48 2001:db8:2::/48", "IPv6 apart" },
		{ { "2001:db8::1", "2001:db8::" }, 2, "2001:db8::/127", "IPv6 /127" },
		{ { "::/1", "8000::/1" }, 2, "::/0", "IPv6 everything" },
		{ { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1" }, 2,
		  "2001:db8::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "IPv6 single addresses, sorted" },
	};
	for (size_t i = 0; i < N_ELEMS(t); i++)
		check_merge(t[i].in, t[i].n, t[i].want, t[i].what);
	mn_net_t *out = (mn_net_t *)1;
	size_t n = 5;
	is_int(rec_nets_merge(NULL, 0, &out, &n), MN_OK, "merge of nothing");
	ok(out == NULL && n == 0, "merge of nothing: empty");
	mn_net_t mixed[2] = { net("192.0.2.0/24"), net("2001:db8::/32") };
	is_int(rec_nets_merge(mixed, 2, &out, &n), MN_EINVAL, "mixed families: EINVAL");
}

/*
 * Random sets of networks inside 10.0.0.0/20 (and the same shifted into
 * IPv6): the merge covers exactly the addresses of its input, with the
 * fewest CIDR blocks (each range cut greedily into the largest aligned
 * blocks, as the first implementation did, one prefix length at a time).
 */
static void test_merge_random(void)
{
	enum { SPACE = 4096 };
	uint32_t x = 7;
	unsigned bad = 0, rounds = 0;
	for (int round = 0; round < 300; round++) {
		for (int fam = 4; fam <= 6; fam += 2) {
			bool want[SPACE] = { false }, got[SPACE] = { false };
			mn_net_t v[12];
			size_t n = 1 + round % 12;
			for (size_t i = 0; i < n; i++) {
				x = x * 1103515245u + 12345u;
				unsigned bits = (x >> 16) % 9, start = ((x >> 4) % SPACE) & ~((1u << bits) - 1);
				memset(&v[i], 0, sizeof(v[i]));
				v[i].family = (uint8_t)fam;
				unsigned width = fam == 4 ? 32 : 128;
				v[i].prefix = (uint8_t)(width - bits);
				uint8_t *a = v[i].addr + (fam == 4 ? 0 : 12);
				a[0] = 10;
				a[2] = (uint8_t)(start >> 8);
				a[3] = (uint8_t)start;
				for (unsigned k = 0; k < (1u << bits); k++)
					want[start + k] = true;
			}
			mn_net_t *out = NULL;
			size_t nout = 0;
			if (rec_nets_merge(v, n, &out, &nout) != MN_OK) {
				bad++;
				continue;
			}
			for (size_t i = 0; i < nout; i++) {
				const uint8_t *a = out[i].addr + (fam == 4 ? 0 : 12);
				unsigned bits = (fam == 4 ? 32u : 128u) - out[i].prefix;
				unsigned start = (unsigned)a[2] << 8 | a[3];
				for (unsigned k = 0; k < (1u << bits) && start + k < SPACE; k++)
					got[start + k] = true;
			}
			size_t blocks = 0;
			for (unsigned lo = 0; lo < SPACE;) {
				if (!want[lo]) {
					lo++;
					continue;
				}
				unsigned hi = lo;
				while (hi + 1 < SPACE && want[hi + 1])
					hi++;
				while (lo <= hi) {
					unsigned k = 12;
					while (k > 0 && ((lo & ((1u << k) - 1)) != 0 || hi - lo < (1u << k) - 1))
						k--;
					blocks++;
					lo += 1u << k;
				}
			}
			if (memcmp(want, got, sizeof(want)) != 0 || nout != blocks) {
				if (bad++ < 3)
					tap_diag("round %d IPv%d: %zu blocks, want %zu", round, fam, nout, blocks);
			}
			rounds++;
			free(out);
		}
	}
	is_int(bad, 0, "%u random merges cover their input with the fewest blocks", rounds);
}

/* ---- chains ------------------------------------------------------------------------ */

static void test_chain(void)
{
	ok(chain_term_is_lookup("include:x.example"), "include is a lookup");
	ok(chain_term_is_lookup("mx"), "mx is a lookup");
	ok(chain_term_is_lookup("mx:example.net"), "mx:D is a lookup");
	ok(chain_term_is_lookup("a/24"), "a/24 is a lookup");
	ok(chain_term_is_lookup("-exists:%{i}.x"), "exists is a lookup");
	ok(chain_term_is_lookup("ptr"), "ptr is a lookup");
	ok(chain_term_is_lookup("redirect=x.example"), "redirect is a lookup");
	ok(!chain_term_is_lookup("ip4:192.0.2.1"), "ip4 is not a lookup");
	ok(!chain_term_is_lookup("all"), "all is not a lookup");
	ok(!chain_term_is_lookup("amx"), "'amx' is not a lookup");

	/* response size: 12 + (qname 18 + 4) + 12 + (10 + 1) for "_spf.example.com" */
	is_int((long long)chain_response_size(18, 10), 12 + 22 + 12 + 11, "response size of a short record");
	is_int((long long)chain_response_size(18, 256), 12 + 22 + 12 + 258, "two strings for 256 bytes");

	/* one record */
	char *small[] = { "ip4:192.0.2.0/24", "ip6:2001:db8::/48", "include:_spf.example.net" };
	chain_t c = { 0 };
	is_int(chain_build("_spf.example.com", small, 3, "-all", &c), MN_OK, "small chain builds");
	is_int((long long)c.n, 1, "one record");
	if (c.n == 1) {
		is_str(c.v[0].owner, "_spf.example.com", "at the root");
		is_str(c.v[0].text, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/48 include:_spf.example.net -all",
		       "terms in order, then all");
	}
	is_int(c.lookups, 2, "lookups: apex include + 1 include");
	chain_free(&c);

	/* 200 networks that do not merge */
	mn_net_t v[200];
	for (int i = 0; i < 200; i++) {
		char b[32];
		snprintf(b, sizeof(b), "10.%d.%d.0/25", i / 100, i % 100);
		v[i] = net(b);
	}
	mn_net_t *m = NULL;
	size_t nm = 0;
	rec_nets_merge(v, 200, &m, &nm);
	is_int((long long)nm, 200, "200 networks stay 200");
	char **terms = NULL;
	size_t nt = 0;
	rec_spf_net_terms(m, nm, &terms, &nt);
	free(m);
	is_int(chain_build("_spf.example.com", terms, nt, "-all", &c), MN_OK, "200-network chain builds");
	ok(c.n > 2, "split into a root and %zu parts", c.n - 1);
	is_int(c.lookups, (long long)(1 + c.n - 1), "lookups: apex include + one per part (%u)", c.lookups);
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "c1-");
	int seen[200] = { 0 };
	bool sizes_ok = true, names_ok = true, shape_ok = true;
	for (size_t i = 0; i < c.n; i++) {
		uint8_t w[256];
		int wl = mn_name_to_wire(c.v[i].owner, w, sizeof(w));
		size_t len = strlen(c.v[i].text);
		size_t nstr = (len + 254) / 255;
		if (wl < 0 || 12 + (size_t)wl + 4 + 2 + 10 + len + nstr > 512)
			sizes_ok = false;
		if (strncmp(c.v[i].text, "v=spf1 ", 7) != 0)
			shape_ok = false;
		if (i == 0) {
			if (strcmp(c.v[i].owner, "_spf.example.com") != 0 ||
			    strcmp(c.v[i].text + len - 5, " -all") != 0)
				shape_ok = false;
		} else {
			char want[64];
			snprintf(want, sizeof(want), "c%zu-", i);
			const char *dot = strchr(c.v[i].owner, '.');
			if (strncmp(c.v[i].owner, want, strlen(want)) != 0 || dot == NULL ||
			    dot - c.v[i].owner != (long)(strlen(want) + 8) ||
			    strcmp(dot, "._spf.example.com") != 0 ||
			    strncmp(c.v[i].owner + strlen(want), c.v[1].owner + 3, 8) != 0)
				names_ok = false;
			if (strstr(c.v[i].text, "all") != NULL)
				shape_ok = false;
			char inc[128];
			snprintf(inc, sizeof(inc), " include:%s", c.v[i].owner);
			if (strstr(c.v[0].text, inc) == NULL)
				shape_ok = false;
		}
		/* count the networks */
		char *copy = strdup(c.v[i].text), *save = NULL;
		for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			for (size_t k = 0; k < nt; k++)
				if (strcmp(tok, terms[k]) == 0)
					seen[k]++;
		}
		free(copy);
	}
	ok(sizes_ok, "every record fits a 512-byte response without EDNS");
	ok(names_ok, "parts are named c<N>-<hex8>._spf.example.com with one hex8");
	ok(shape_ok, "root ends in -all and includes every part; parts have no all");
	int once = 0;
	for (int k = 0; k < 200; k++)
		once += seen[k] == 1;
	is_int(once, 200, "every network appears exactly once across the records");
	char first_hex[9] = "";
	if (c.n > 1)
		memcpy(first_hex, c.v[1].owner + 3, 8);
	chain_free(&c);

	/* a changed term list gets fresh part names */
	free(terms[199]);
	terms[199] = strdup("ip4:10.1.99.128/25");
	is_int(chain_build("_spf.example.com", terms, nt, "-all", &c), MN_OK, "changed chain builds");
	ok(c.n > 1 && strncmp(c.v[1].owner + 3, first_hex, 8) != 0, "a changed chain has fresh names (%s vs %s)",
	   c.n > 1 ? c.v[1].owner : "-", first_hex);
	chain_free(&c);
	rec_terms_free(terms, nt);

	/* 2000 single addresses need more than 10 lookups */
	mn_net_t *many = malloc(2000 * sizeof(*many));
	for (int i = 0; i < 2000; i++) {
		char b[32];
		snprintf(b, sizeof(b), "10.%d.%d.%d", i / 250, i % 250, 1 + (i % 2) * 2);
		many[i] = net(b);
	}
	rec_nets_merge(many, 2000, &m, &nm);
	free(many);
	rec_spf_net_terms(m, nm, &terms, &nt);
	free(m);
	is_int(chain_build("_spf.example.com", terms, nt, "-all", &c), MN_ERANGE,
	       "2000 addresses: the root cannot hold the includes of all parts");
	unsigned need = chain_lookups_needed("_spf.example.com", terms, nt, "-all");
	ok(need > 60 && need < 80, "and would need about 70 lookups (%u)", need);
	rec_terms_free(terms, nt);
}

/* ---- macro names ------------------------------------------------------------------- */

static void test_macro(void)
{
	static const struct {
		const char *net;
		size_t n;
		const char *first, *last;
	} t[] = {
		{ "192.0.2.0/24", 1, "*.2.0.192.in-addr._spf.example.org", NULL },
		{ "192.0.2.5", 1, "5.2.0.192.in-addr._spf.example.org", NULL },
		{ "192.0.0.0/16", 1, "*.0.192.in-addr._spf.example.org", NULL },
		{ "10.0.0.0/8", 1, "*.10.in-addr._spf.example.org", NULL },
		{ "0.0.0.0/0", 1, "*.in-addr._spf.example.org", NULL },
		{ "198.51.100.16/28", 16, "16.100.51.198.in-addr._spf.example.org", "31.100.51.198.in-addr._spf.example.org" },
		{ "198.51.100.0/25", 128, "0.100.51.198.in-addr._spf.example.org", "127.100.51.198.in-addr._spf.example.org" },
		{ "198.51.0.0/17", 128, "*.0.51.198.in-addr._spf.example.org", "*.127.51.198.in-addr._spf.example.org" },
		{ "10.0.0.0/7", 2, "*.10.in-addr._spf.example.org", "*.11.in-addr._spf.example.org" },
		{ "128.0.0.0/1", 128, "*.128.in-addr._spf.example.org", "*.255.in-addr._spf.example.org" },
		{ "192.0.2.254/31", 2, "254.2.0.192.in-addr._spf.example.org", "255.2.0.192.in-addr._spf.example.org" },
		{ "2001:db8:1234::/48", 1, "*.4.3.2.1.8.b.d.0.1.0.0.2.ip6._spf.example.org", NULL },
		{ "2001:db8:1234::/46", 4, "*.4.3.2.1.8.b.d.0.1.0.0.2.ip6._spf.example.org",
		  "*.7.3.2.1.8.b.d.0.1.0.0.2.ip6._spf.example.org" },
		{ "2001:db8::/32", 1, "*.8.b.d.0.1.0.0.2.ip6._spf.example.org", NULL },
		{ "2001:db8::/29", 8, "*.8.b.d.0.1.0.0.2.ip6._spf.example.org", "*.f.b.d.0.1.0.0.2.ip6._spf.example.org" },
		{ "::/0", 1, "*.ip6._spf.example.org", NULL },
		{ "2001:db8::1", 1, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.org", NULL },
		{ "2001:db8::a8/125", 8, "8.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.org",
		  "f.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.org" },
	};
	for (size_t i = 0; i < N_ELEMS(t); i++) {
		mn_net_t n = net(t[i].net);
		char **v = NULL;
		size_t cnt = 0;
		int r = macro_net_names("_spf.example.org", &n, &v, &cnt);
		is_int(r, MN_OK, "macro names of %s", t[i].net);
		is_int((long long)cnt, (long long)t[i].n, "%s: %zu names", t[i].net, t[i].n);
		if (r == MN_OK && cnt > 0) {
			is_str(v[0], t[i].first, "%s: first name", t[i].net);
			if (t[i].last != NULL)
				is_str(v[cnt - 1], t[i].last, "%s: last name", t[i].net);
			/* all distinct */
			bool distinct = true;
			for (size_t a = 1; a < cnt; a++)
				if (strcmp(v[a - 1], v[a]) == 0)
					distinct = false;
			ok(distinct, "%s: names distinct", t[i].net);
		}
		macro_names_free(v, cnt);
	}
	/* a root so long that the /128 name passes 253 bytes */
	char root[256];
	strcpy(root, "_spf");
	while (strlen(root) < 200)
		strcat(root, ".abcdefghij");
	mn_net_t n6 = net("2001:db8::1");
	char **v = NULL;
	size_t cnt = 0;
	is_int(macro_net_names(root, &n6, &v, &cnt), MN_ERANGE, "an expanded name over 253 bytes: ERANGE");
	is_int((long long)macro_query_len("_spf.example.org", 4), 24 + 16, "IPv4 query name length");
	is_int((long long)macro_query_len("_spf.example.org", 6), 68 + 16, "IPv6 query name length");
	char *kept[] = { "mx:example.org" };
	char *t1 = macro_record_text("_spf.example.org", kept, 1, "~all");
	is_str(t1, "v=spf1 exists:%{ir}.%{v}._spf.example.org mx:example.org ~all", "macro record with a kept term");
	free(t1);
}

/* ---- compiling a hand-built policy -------------------------------------------------- */

static void example_policy(const char *state)
{
	pol_init(state);
	policy_domain_t *d = dom("example.com", 20);
	spf(d, SPF_MODE_FLATTEN, 22, SPF_ALL_FAIL);
	static const char *const ip4a[] = { "192.0.2.0/25", "192.0.2.128/25", "198.51.100.7" };
	static const char *const ip6a[] = { "2001:db8::/48" };
	d->spf.ip4 = nets(ip4a, 3, 24);
	d->spf.ip6 = nets(ip6a, 1, 25);
	d->dkim.present = true;
	d->dkim.selectors.v = A(sizeof(policy_selector_t));
	d->dkim.selectors.n = 1;
	d->dkim.selectors.v[0] = (policy_selector_t){ str("google", 30), str("v=DKIM1; k=rsa; p=" GOOGLE_KEY, 30) };
	d->dkim.selectors.v[0].name.pos.col = 9;
	dmarc(d, DMARC_P_REJECT, 32);
	static const char *const rua[] = { "mailto:d@example.com", "mailto:reports@example.org" };
	d->dmarc.rua = strs(rua, 2, 33);
	static const char *const arf[] = { "example.net", "*" };
	d->dmarc.authorize_reports_for = strs(arf, 2, 34);

	d = dom("example.org", 40);
	spf(d, SPF_MODE_MACRO, 42, SPF_ALL_SOFTFAIL);
	static const char *const ip4b[] = { "203.0.113.0/24", "198.51.100.16/28" };
	static const char *const ip6b[] = { "2001:db8:1234::/46" };
	d->spf.ip4 = nets(ip4b, 2, 44);
	d->spf.ip6 = nets(ip6b, 1, 45);
	dmarc(d, DMARC_P_NONE, 48);

	d = dom("example.net", 50);
	spf(d, SPF_MODE_PLAIN, 52, SPF_ALL_SOFTFAIL);
	static const char *const ip4c[] = { "192.0.2.10" };
	static const char *const incc[] = { "_spf.example.org" };
	d->spf.ip4 = nets(ip4c, 1, 54);
	d->spf.mx = (policy_bool_t){ true, P(55, 11) };
	d->spf.include = strs(incc, 1, 56);
	dmarc(d, DMARC_P_NONE, 58);
	d->dmarc.fo = str("1:d", 59);
	static const char *const ruac[] = { "mailto:dmarc@example.net" };
	d->dmarc.rua = strs(ruac, 1, 60);

	d = dom("shop.example.com", 62);
	spf(d, SPF_MODE_AUTO, 64, SPF_ALL_FAIL);
	static const char *const ip4d[] = { "203.0.113.64/26" };
	d->spf.ip4 = nets(ip4d, 1, 66);
	dmarc(d, DMARC_P_QUARANTINE, 68);
	d->dmarc.rua = strs(ruac, 1, 69);
	pol_done();
}

static const char *const want_dmarc_org =
	"_dmarc.example.org.\t3600\tIN\tSOA\tns1.example.net. hostmaster.example.net. 2030010100 3600 900 1209600 300\n"
	"_dmarc.example.org.\t3600\tIN\tNS\tns1.example.net.\n"
	"_dmarc.example.org.\t3600\tIN\tNS\tns2.example.net.\n"
	"_dmarc.example.org.\t3600\tIN\tTXT\t\"v=DMARC1; p=none\"\n"
	"example.com._report._dmarc.example.org.\t3600\tIN\tTXT\t\"v=DMARC1\"\n";

static void test_compile_example(void)
{
	char state[300];
	snprintf(state, sizeof(state), "%s/state", tmp);
	/* a key-store entry for example.com */
	char dir[400], path[500];
	snprintf(dir, sizeof(dir), "%s/keys/example.com", state);
	mn_mkdir_p(dir, 0700);
	snprintf(path, sizeof(path), "%s/published", dir);
	write_text(path, "mn20300101r active v=DKIM1; k=rsa; p=" STORE_KEY "\n");

	example_policy(state);
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	zones_t *zs = NULL;
	compile_opts_t co = { .now = T_2030_01_01, .persist_serials = true };
	int r = zones_compile(&pol, &co, dg, &zs);
	is_int(r, MN_OK, "example policy compiles");
	is_int((long long)diag_count(dg), 0, "with no diagnostics");
	if (r != MN_OK || zs == NULL) {
		diag_print(dg, stderr);
		diag_free(dg);
		return;
	}
	static const char *const names[] = {
		"_dmarc.example.com", "_dmarc.example.net", "_dmarc.example.org", "_dmarc.shop.example.com",
		"_domainkey.example.com", "_domainkey.example.net", "_domainkey.example.org",
		"_domainkey.shop.example.com", "_spf.example.com", "_spf.example.net", "_spf.example.org",
		"_spf.shop.example.com",
	};
	is_int((long long)zs->n, 12, "12 zones");
	for (size_t i = 0; i < zs->n && i < 12; i++) {
		is_str(zone_name(zs->v[i]), names[i], "zone %zu in strcmp order", i);
		is_int(zone_serial(zs->v[i]), 2030010100, "zone %s serial YYYYMMDD00", names[i]);
		is_int((long long)count_type(zs->v[i], ZONE_T_NS), 2, "zone %s has 2 NS", names[i]);
	}
	const zone_t *z;
	z = zones_find(zs, "_spf.example.com");
	is_str(txt(z, "_spf.example.com"), "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 ip6:2001:db8::/48 -all",
	       "flatten: merged networks");
	is_int(z ? (int)zone_kind(z) : -1, ZONE_SPF, "kind spf");
	z = zones_find(zs, "_spf.example.net");
	is_str(txt(z, "_spf.example.net"), "v=spf1 ip4:192.0.2.10 mx:example.net include:_spf.example.org ~all",
	       "plain: terms in order (mx names the domain)");
	z = zones_find(zs, "_spf.shop.example.com");
	is_str(txt(z, "_spf.shop.example.com"), "v=spf1 ip4:203.0.113.64/26 -all", "auto that fits: flattened");
	z = zones_find(zs, "_spf.example.org");
	is_str(txt(z, "_spf.example.org"), "v=spf1 exists:%{ir}.%{v}._spf.example.org ~all", "macro record");
	is_int((long long)count_type(z, ZONE_T_A), 1 + 16 + 4, "macro: 21 A records (1 + 16 + 4)");
	ok(has_a(z, "*.113.0.203.in-addr._spf.example.org"), "macro: /24 wildcard");
	ok(has_a(z, "16.100.51.198.in-addr._spf.example.org") && has_a(z, "31.100.51.198.in-addr._spf.example.org") &&
	   !has_a(z, "32.100.51.198.in-addr._spf.example.org"), "macro: /28 as 16 names");
	ok(has_a(z, "*.4.3.2.1.8.b.d.0.1.0.0.2.ip6._spf.example.org") &&
	   has_a(z, "*.7.3.2.1.8.b.d.0.1.0.0.2.ip6._spf.example.org"), "macro: /46 as 4 nibble wildcards");

	z = zones_find(zs, "_dmarc.example.com");
	is_str(txt(z, "_dmarc.example.com"), "v=DMARC1; p=reject; rua=mailto:d@example.com,mailto:reports@example.org",
	       "DMARC record of example.com");
	is_str(txt(z, "example.net._report._dmarc.example.com"), "v=DMARC1", "authorize_reports_for example.net");
	is_str(txt(z, "*._report._dmarc.example.com"), "v=DMARC1", "authorize_reports_for * is a wildcard");
	is_int((long long)count_type(z, ZONE_T_TXT), 3, "no more TXT in _dmarc.example.com");
	z = zones_find(zs, "_dmarc.example.net");
	is_str(txt(z, "_dmarc.example.net"), "v=DMARC1; p=none; fo=1:d; rua=mailto:dmarc@example.net",
	       "DMARC of example.net");
	is_str(txt(z, "shop.example.com._report._dmarc.example.net"), "v=DMARC1",
	       "automatic authorization for a hosted domain reporting to example.net");
	is_str(txt(z, "example.net._report._dmarc.example.net"), "(none)", "no authorization for itself");
	char *text = render(zones_find(zs, "_dmarc.example.org"));
	is_str(text, want_dmarc_org, "zone file of _dmarc.example.org (automatic authorization for example.com)");
	free(text);

	z = zones_find(zs, "_domainkey.example.com");
	is_str(txt(z, "google._domainkey.example.com"), "v=DKIM1; k=rsa; p=" GOOGLE_KEY, "DKIM selector from the policy");
	is_str(txt(z, "mn20300101r._domainkey.example.com"), "v=DKIM1; k=rsa; p=" STORE_KEY, "DKIM key from the key store");
	is_int((long long)count_type(zones_find(zs, "_domainkey.example.org"), ZONE_T_TXT), 0, "no DKIM for example.org");
	zones_free(zs);

	/* the serials file */
	snprintf(path, sizeof(path), "%s/zones/serials", state);
	char *s1 = read_text(path);
	ok(s1 != NULL, "serials file written");
	size_t lines = 0;
	for (const char *p = s1; p && *p; p++)
		lines += *p == '\n';
	is_int((long long)lines, 12, "one line per zone");
	ok(s1 && strncmp(s1, "_dmarc.example.com 2030010100 ", 30) == 0, "first line: APEX SERIAL DIGEST");
	struct stat st1, st2;
	stat(path, &st1);

	/* unchanged: same serials, file untouched */
	zs = NULL;
	co.now = T_2030_01_01 + 3600;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "second compile");
	z = zones_find(zs, "_dmarc.example.org");
	is_int(z ? zone_serial(z) : 0, 2030010100, "unchanged zone keeps its serial");
	zones_free(zs);
	char *s2 = read_text(path);
	is_str(s2, s1, "serials file unchanged");
	stat(path, &st2);
	ok(st1.st_ino == st2.st_ino, "serials file not rewritten");
	free(s2);

	/* a change on the same day: +1 */
	policy_domain_t *org = NULL;
	for (size_t i = 0; i < pol.ndomains; i++)
		if (strcmp(pol.domains[i].name, "example.org") == 0)
			org = &pol.domains[i];
	org->dmarc.p.v = DMARC_P_QUARANTINE;
	zs = NULL;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "compile after a change");
	is_int(zone_serial(zones_find(zs, "_dmarc.example.org")), 2030010101, "changed zone: serial + 1 the same day");
	is_int(zone_serial(zones_find(zs, "_spf.example.org")), 2030010100, "other zones keep theirs");
	zones_free(zs);

	/* without persist: computed but not stored */
	org->dmarc.p.v = DMARC_P_REJECT;
	zs = NULL;
	co.persist_serials = false;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "compile without persist");
	is_int(zone_serial(zones_find(zs, "_dmarc.example.org")), 2030010102, "changed again: + 1");
	zones_free(zs);
	zs = NULL;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "again without persist");
	is_int(zone_serial(zones_find(zs, "_dmarc.example.org")), 2030010102, "still from the stored 2030010101");
	zones_free(zs);

	/* a later day: the date wins */
	co.persist_serials = true;
	co.now = T_2030_02_01;
	zs = NULL;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "compile a month later");
	is_int(zone_serial(zones_find(zs, "_dmarc.example.org")), 2030020100, "changed zone a month later: YYYYMMDD00");
	is_int(zone_serial(zones_find(zs, "_spf.example.org")), 2030010100, "unchanged zone still keeps its serial");
	zones_free(zs);

	/* only_domain: other entries of the file are kept */
	co.only_domain = "example.org";
	org->dmarc.p.v = DMARC_P_NONE;
	zs = NULL;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "only_domain compiles");
	is_int(zs ? (long long)zs->n : 0, 3, "only_domain: 3 zones");
	is_int(zone_serial(zones_find(zs, "_dmarc.example.org")), 2030020101, "only_domain: serial + 1");
	zones_free(zs);
	char *s3 = read_text(path);
	lines = 0;
	for (const char *p = s3; p && *p; p++)
		lines += *p == '\n';
	is_int((long long)lines, 12, "only_domain keeps the other 9 lines");
	free(s3);
	/* the changed serials are appended to the journal (the base file stays) */
	char jpath[520];
	snprintf(jpath, sizeof(jpath), "%s.journal", path);
	s3 = read_text(jpath);
	ok(s3 && strstr(s3, "_dmarc.example.org 2030020101 ") != NULL &&
	   s3[strlen(s3) - 1] == '\n', "and stores the new serial in zones/serials.journal");
	free(s3);
	co.only_domain = "nowhere.example";
	zs = NULL;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_ENOENT, "only_domain not in the policy: ENOENT");
	co.only_domain = NULL;

	/* a broken serials file */
	write_text(path, "_dmarc.example.com 2030010100 00\n_dmarc.example.org x y\n");
	diag_t *d2 = NULL;
	if (diag_new(&d2) != MN_OK)
		tap_bail("diag_new");
	zs = NULL;
	is_int(zones_compile(&pol, &co, d2, &zs), MN_EPOLICY, "malformed serials file: EPOLICY");
	ok(zs == NULL, "nothing returned");
	const diag_item_t *it = diag_count(d2) > 0 ? diag_get(d2, 0) : NULL;
	is_int((long long)diag_count(d2), 2, "one error per bad line");
	ok(it && it->file && strcmp(it->file, path) == 0 && it->line == 1 && it->level == DIAG_ERROR,
	   "error names the file and line 1");
	it = diag_count(d2) > 1 ? diag_get(d2, 1) : NULL;
	ok(it && it->line == 2, "and line 2");
	diag_free(d2);
	free(s1);

	/* persisting creates a missing state dir */
	char fresh[400];
	snprintf(fresh, sizeof(fresh), "%s/fresh/state", tmp);
	pol.server.state_dir.v = fresh;
	zs = NULL;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "compile into a missing state dir");
	zones_free(zs);
	snprintf(path, sizeof(path), "%s/zones/serials", fresh);
	struct stat st;
	ok(stat(fresh, &st) == 0 && (st.st_mode & 0777) == 0750, "state dir created 0750");
	ok(stat(path, &st) == 0, "serials file created");

	/* the file where earlier versions kept it (state_dir/serials): read, then moved */
	char *cur = read_text(path), legacy[450];
	char *sp = cur != NULL ? strchr(cur, ' ') : NULL, *sp2 = sp != NULL ? strchr(sp + 1, ' ') : NULL;
	snprintf(legacy, sizeof(legacy), "%s/serials", fresh);
	if (sp2 != NULL && strncmp(cur, "_dmarc.example.com ", 19) == 0 && rename(path, legacy) == 0) {
		sp2[-1] = '9';	/* a serial the date rule would not give: YYYYMMDD09 */
		long want = strtol(sp + 1, NULL, 10);
		write_text(legacy, cur);
		zs = NULL;
		is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "compile with only the old state_dir/serials");
		is_int(zs ? zone_serial(zones_find(zs, "_dmarc.example.com")) : 0, want,
		       "an unchanged zone keeps its serial from the old file");
		zones_free(zs);
		ok(stat(path, &st) == 0 && stat(legacy, &st) != 0, "the old file moved to zones/serials");
	} else {
		ok(false, "set up the old serials file");
	}
	free(cur);

	/* without persist and without a state dir: fine */
	co.persist_serials = false;
	snprintf(fresh, sizeof(fresh), "%s/none/state", tmp);
	zs = NULL;
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "compile with no state dir, no persist");
	zones_free(zs);
	ok(stat(fresh, &st) != 0, "and no state dir made");
	is_int((long long)diag_count(dg), 0, "no diagnostics in all those compiles");
	diag_free(dg);
}

/* ---- errors at their positions -------------------------------------------------- */

static const diag_item_t *first_error(const diag_t *d)
{
	for (size_t i = 0; i < diag_count(d); i++)
		if (diag_get(d, i)->level == DIAG_ERROR)
			return diag_get(d, i);
	return NULL;
}

static void test_errors(void)
{
	char state[300];
	snprintf(state, sizeof(state), "%s/state2", tmp);

	/* flatten with 10 includes: 11 lookups */
	pol_init(state);
	policy_domain_t *d = dom("example.com", 10);
	spf(d, SPF_MODE_FLATTEN, 12, SPF_ALL_FAIL);
	const char *inc[10];
	char incs[10][32];
	for (int i = 0; i < 10; i++) {
		snprintf(incs[i], sizeof(incs[i]), "_spf%d.example.net", i);
		inc[i] = incs[i];
	}
	d->spf.include = strs(inc, 10, 14);
	pol_done();
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	zones_t *zs = NULL;
	compile_opts_t co = { .now = T_2030_01_01 };
	is_int(zones_compile(&pol, &co, dg, &zs), MN_EPOLICY, "11 lookups in flatten mode: EPOLICY");
	const diag_item_t *it = first_error(dg);
	is_str(it ? it->msg : "", "SPF for example.com needs 11 DNS lookups (limit 10)", "lookup limit message");
	ok(it && it->file && strcmp(it->file, FILE_NAME) == 0 && it->line == 12 && it->col == 13,
	   "at the spf mode's position (%u:%u)", it ? it->line : 0, it ? it->col : 0);
	diag_free(dg);

	/* the same in plain mode */
	pol.domains[0].spf.mode.v = SPF_MODE_PLAIN;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	is_int(zones_compile(&pol, &co, dg, &zs), MN_EPOLICY, "11 lookups in plain mode: EPOLICY");
	it = first_error(dg);
	is_str(it ? it->msg : "", "SPF for example.com needs 11 DNS lookups (limit 10)", "plain: same message");
	diag_free(dg);

	/* auto with 9 includes fits flatten (10 lookups) */
	pol.domains[0].spf.mode.v = SPF_MODE_AUTO;
	pol.domains[0].spf.include.n = 9;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "auto with 10 lookups compiles");
	ok(zs && strncmp(txt(zones_find(zs, "_spf.example.com"), "_spf.example.com"), "v=spf1 include:_spf0", 20) == 0,
	   "auto within the limits: flattened");
	zones_free(zs);
	zs = NULL;
	diag_free(dg);

	/* auto with 2000 addresses falls back to macro */
	pol.domains[0].spf.include.n = 0;
	const char **addrs = malloc(2000 * sizeof(*addrs));
	char (*ab)[32] = malloc(2000 * sizeof(*ab));
	for (int i = 0; i < 2000; i++) {
		snprintf(ab[i], 32, "10.%d.%d.%d", i / 250, i % 250, 1 + (i % 2) * 2);
		addrs[i] = ab[i];
	}
	pol.domains[0].spf.ip4 = nets(addrs, 2000, 16);
	free(addrs);
	free(ab);
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	is_int(zones_compile(&pol, &co, dg, &zs), MN_OK, "auto with 2000 addresses compiles");
	const zone_t *z = zones_find(zs, "_spf.example.com");
	is_str(txt(z, "_spf.example.com"), "v=spf1 exists:%{ir}.%{v}._spf.example.com -all", "auto over the limits: macro");
	is_int((long long)count_type(z, ZONE_T_A), 2000, "2000 names");
	ok(has_a(z, "1.0.0.10.in-addr._spf.example.com") && has_a(z, "3.249.7.10.in-addr._spf.example.com"),
	   "first and last address names");
	zones_free(zs);
	zs = NULL;
	diag_free(dg);

	/* flatten with 2000 addresses: an error */
	pol.domains[0].spf.mode.v = SPF_MODE_FLATTEN;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	is_int(zones_compile(&pol, &co, dg, &zs), MN_EPOLICY, "flatten with 2000 addresses: EPOLICY");
	it = first_error(dg);
	ok(it && strncmp(it->msg, "SPF for example.com needs ", 26) == 0 && strstr(it->msg, "DNS lookups (limit 10)") != NULL,
	   "over the lookup limit (%s)", it ? it->msg : "");
	diag_free(dg);

	/* a policy selector that the key store also has */
	pol_init(state);
	d = dom("example.com", 10);
	d->dkim.present = true;
	d->dkim.selectors.v = A(2 * sizeof(policy_selector_t));
	d->dkim.selectors.n = 2;
	d->dkim.selectors.v[0] = (policy_selector_t){ str("mine", 20), str("v=DKIM1; k=ed25519; p=" ED_KEY, 20) };
	d->dkim.selectors.v[1] = (policy_selector_t){ str("mn20300101r", 21), str("v=DKIM1; k=ed25519; p=" ED_KEY, 21) };
	d->dkim.selectors.v[1].name.pos.col = 9;
	pol_done();
	char dir[400], path[500];
	snprintf(dir, sizeof(dir), "%s/keys/example.com", state);
	mn_mkdir_p(dir, 0700);
	snprintf(path, sizeof(path), "%s/published", dir);
	write_text(path, "mn20300101r active v=DKIM1; k=rsa; p=" STORE_KEY "\n");
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	is_int(zones_compile(&pol, &co, dg, &zs), MN_EPOLICY, "duplicate selector: EPOLICY");
	it = first_error(dg);
	is_str(it ? it->msg : "", "selector 'mn20300101r' of example.com is also in the key store",
	       "duplicate selector message");
	ok(it && it->line == 21 && it->col == 9, "at the selector's position (%u:%u)", it ? it->line : 0,
	   it ? it->col : 0);
	diag_free(dg);

	/* a malformed key store */
	write_text(path, "mn20300101r sleeping v=DKIM1; p=X\n");
	d->dkim.selectors.n = 1;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	is_int(zones_compile(&pol, &co, dg, &zs), MN_EPOLICY, "malformed key store: EPOLICY");
	it = first_error(dg);
	ok(it && strstr(it->msg, "key store of example.com") != NULL && it->line == 10, "reported at the domain (%s)",
	   it ? it->msg : "");
	diag_free(dg);

	/* a long domain: its macro IPv6 names would pass 253 bytes */
	pol_init(state);
	char longname[256];
	strcpy(longname, "a");
	while (strlen(longname) < 180)
		strcat(longname, ".abcdefghi");
	d = dom(longname, 10);
	spf(d, SPF_MODE_MACRO, 12, SPF_ALL_FAIL);
	static const char *const v6[] = { "2001:db8::/32" };
	d->spf.ip6 = nets(v6, 1, 14);
	pol_done();
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	is_int(zones_compile(&pol, &co, dg, &zs), MN_EPOLICY, "macro names over 253 bytes: EPOLICY");
	it = first_error(dg);
	ok(it && strstr(it->msg, "(limit 253)") != NULL && it->line == 14, "reported at the ip6 entry (%s)",
	   it ? it->msg : "");
	diag_free(dg);
}

/* ---- zone file text ------------------------------------------------------------ */

static void test_zonefile(void)
{
	zone_t *z = NULL;
	if (zone_new("_domainkey.example.com", ZONE_DKIM, "example.com", &z) != MN_OK)
		tap_bail("zone_new");
	static const uint8_t soa[] = {
		3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
		1, 'h', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
		0x78, 0xff, 0x7e, 0xf4, 0, 0, 0x0e, 0x10, 0, 0, 0x03, 0x84, 0, 0x12, 0x75, 0, 0, 0, 0x01, 0x2c,
	};
	zone_add_rr(z, "_domainkey.example.com", ZONE_T_SOA, 3600, soa, sizeof(soa));
	zone_add_txt(z, "q._domainkey.example.com", 3600, "a\"b\\c;d e");
	char long_text[300];
	memset(long_text, 'k', 299);
	long_text[299] = '\0';
	zone_add_txt(z, "l._domainkey.example.com", 3600, long_text);
	zone_add_txt(z, "*.w._domainkey.example.com", 60, "v=DKIM1; p=");
	zone_finish(z);
	char *text = render(z);
	char want[2048];
	snprintf(want, sizeof(want),
		 "_domainkey.example.com.\t3600\tIN\tSOA\tns1.example.net. h.example.net. 2030010100 3600 900 1209600 300\n"
		 "l._domainkey.example.com.\t3600\tIN\tTXT\t\"%.*s\" \"%.*s\"\n"
		 "q._domainkey.example.com.\t3600\tIN\tTXT\t\"a\\\"b\\\\c;d e\"\n"
		 "*.w._domainkey.example.com.\t60\tIN\tTXT\t\"v=DKIM1; p=\"\n",
		 255, long_text, 44, long_text);
	is_str(text, want, "zone file text: SOA first, strings split and quoted, escapes, wildcard owner");
	free(text);
	zone_unref(z);
}

/* ---- the bundled example policy, loaded from YAML --------------------------------- */

/* ---- threads ------------------------------------------------------------------------ */

/*
 * Writes a policy of 1 + 5 x 12 domains in tmp/NAME: the top file and five
 * included ones (parsed on several threads); bad makes every domain report
 * something, and the defaults one warning and one error shared by all.
 */
static char *write_threads_policy(const char *name, bool bad)
{
	char dir[400], path[500];
	snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
	snprintf(path, sizeof(path), "%s/inc", dir);
	if (mn_mkdir_p(path, 0755) != MN_OK)
		tap_bail("mkdir %s", path);
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "version: 1\nserver:\n  nameservers: [ns1.example.net.]\n"
		     "  hostmaster: hostmaster.example.net.\n  state_dir: %s/state\n"
		     "include: [\"inc/*.yaml\"]\ndefaults:\n", dir);
	if (bad)
		mn_buf_add(&b, "  dmarc: { p: reject, sp: none }\n"
			    "  dkim: { selectors: { shared: \"v=DKIM1; k=rsa; p=AAAA\" } }\n");
	else
		mn_buf_add(&b, "  dmarc: { p: reject }\n");
	mn_buf_add(&b, "domains:\n  top.example: { spf: { ip4: [192.0.2.0/24] } }\n");
	char *text = mn_buf_take(&b);
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	write_text(path, text);
	free(text);
	for (int f = 0; f < 5; f++) {
		mn_buf_add(&b, "domains:\n");
		for (int i = 0; i < 12; i++) {
			int k = f * 12 + i;
			mn_buf_addf(&b, "  d%02d.example:\n", k);
			if (bad && i % 3 == 0) {
				mn_buf_add(&b, "    spf: { mode: plain, include: [");
				for (int j = 0; j < 11; j++)
					mn_buf_addf(&b, "%si%d.example.org", j ? ", " : "", j);
				mn_buf_add(&b, "] }\n");
			} else if (bad && i % 3 == 1) {
				mn_buf_add(&b, "    dkim: { selectors: { s1: \"v=DKIM1; k=rsa; p=AAAA\" } }\n");
			} else if (bad) {
				mn_buf_add(&b, "    dmarc: { p: reject, rua: [\"mailto:d@outside.example\"] }\n");
			} else {
				mn_buf_addf(&b, "    spf: { mode: %s, ip4: [10.%d.0.0/16, 10.%d.0.0/16], ip6: [\"2001:db8:%x::/48\"] }\n",
					     k % 2 ? "flatten" : "plain", k, k + 1, k);
				/* reports to a domain compiled in another part */
				mn_buf_addf(&b, "    dmarc: { p: quarantine, rua: [\"mailto:r@d%02d.example\"] }\n", 59 - k);
			}
		}
		text = mn_buf_take(&b);
		snprintf(path, sizeof(path), "%s/inc/f%d.yaml", dir, f);
		write_text(path, text);
		free(text);
	}
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	return mn_strdup(path);
}

/* Compiles path on `threads` threads: the messages (joined) and zones (rendered). */
static int compile_threads(const char *path, unsigned threads, char **msgs, char **zones, size_t *nzones)
{
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;
	zones_t *zs = NULL;
	int r = policy_load(path, dg, &p);
	if (r == MN_OK) {
		compile_opts_t co = { .now = T_2030_01_01, .threads = threads };
		r = zones_compile(p, &co, dg, &zs);
	}
	*msgs = diag_join(dg, 100000);
	mn_buf_t b = { 0 };
	*nzones = zs != NULL ? zs->n : 0;
	for (size_t i = 0; i < *nzones; i++) {
		char *z = render(zs->v[i]);
		mn_buf_add(&b, z != NULL ? z : "(none)\n");
		free(z);
	}
	*zones = mn_buf_take(&b);
	zones_free(zs);
	policy_free(p);
	diag_free(dg);
	return r;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *q = strstr(hay, needle); q != NULL; q = strstr(q + 1, needle))
		n++;
	return n;
}

static void test_threads(void)
{
	char *bad = write_threads_policy("threads-bad", true);
	char *m1, *m4, *z1, *z4;
	size_t n1, n4;
	is_int(compile_threads(bad, 1, &m1, &z1, &n1), MN_EPOLICY, "bad policy, one thread: fails");
	is_int(compile_threads(bad, 4, &m4, &z4, &n4), MN_EPOLICY, "bad policy, four threads: fails");
	is_str(m4, m1, "four threads report what one thread reports, in the same order");
	is_int((long long)count_of(m1, "sp=none is weaker"), 1, "the defaults' warning: once");
	is_int((long long)count_of(m1, "needs 12 DNS lookups"), 20, "20 domains over the lookup limit");
	is_int((long long)count_of(m1, "outside.example is outside"), 20, "20 report destinations outside");
	/* 20 domains' own selector and the defaults' one, merged into the other 41 */
	ok(count_of(m1, "f0.yaml:5:") == 1 && count_of(m1, "policy.yaml:8:") == 1,
	   "the own selector's error at its line, the shared one once at the defaults");
	free(m1);
	free(m4);
	free(z1);
	free(z4);

	char *good = write_threads_policy("threads-good", false);
	is_int(compile_threads(good, 1, &m1, &z1, &n1), MN_OK, "good policy, one thread: compiles");
	is_int(compile_threads(good, 3, &m4, &z4, &n4), MN_OK, "good policy, three threads: compiles");
	is_int((long long)n1, 3 * 61, "61 domains, 183 zones");
	is_int((long long)n4, (long long)n1, "as many zones on three threads");
	ok(z1 != NULL && z4 != NULL && strcmp(z1, z4) == 0, "the same zones, record for record, in the same order");
	is_str(m4, m1, "the same (no) messages");
	ok(count_of(z1, "d59.example._report._dmarc.d00.example.") == 1,
	   "a report authorization from the last part in the first part's zone");
	free(m1);
	free(m4);
	free(z1);
	free(z4);
	free(bad);
	free(good);
}

/*
 * 10,000 domains (enough for the report list's two halves on two threads),
 * each reporting to another hosted domain across the halves (some to
 * themselves, some twice to one): on two threads the same zones as on one,
 * with every authorization.
 */
static void test_reports_halves(void)
{
	enum { N = 10000 };
	char dir[400], path[500];
	snprintf(dir, sizeof(dir), "%s/reports-halves", tmp);
	if (mn_mkdir_p(dir, 0755) != MN_OK)
		tap_bail("mkdir %s", dir);
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "version: 1\nserver:\n  nameservers: [ns1.example.net.]\n"
		     "  hostmaster: hostmaster.example.net.\n  state_dir: %s/state\ndomains:\n", dir);
	size_t want = 0;
	for (int k = 0; k < N; k++) {
		int t = (int)(((long)k * 7 + 1) % N);
		mn_buf_addf(&b, "  d%05d.example: { dmarc: { p: reject, rua: [\"mailto:r@d%05d.example\"", k, t);
		if (k % 3 == 0)
			mn_buf_addf(&b, ", \"mailto:s@D%05d.Example\"", t);	/* the same target again */
		if (k % 5 == 0)
			mn_buf_addf(&b, ", \"mailto:me@d%05d.example\"", k);	/* itself: no authorization */
		mn_buf_add(&b, "] } }\n");
		want++;
	}
	char *text = mn_buf_take(&b);
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	write_text(path, text);
	free(text);
	char *m1, *m2, *z1, *z2;
	size_t n1, n2;
	is_int(compile_threads(path, 1, &m1, &z1, &n1), MN_OK, "10,000 domains reporting to each other, one thread: compiles");
	is_int(compile_threads(path, 2, &m2, &z2, &n2), MN_OK, "two threads: compiles");
	ok(z1 != NULL && z2 != NULL && n1 == n2 && strcmp(z1, z2) == 0, "the same zones on two threads (%zu)", n2);
	is_str(m2, m1, "the same messages");
	is_int((long long)count_of(z2, "._report._dmarc.d"), (long long)want, "every authorization, once");
	ok(count_of(z2, "\nd08572.example._report._dmarc.d00005.example.") == 1 &&
	   count_of(z2, "\nd00000.example._report._dmarc.d00001.example.") == 1,
	   "from the second half to the first and within the first");
	free(m1);
	free(m2);
	free(z1);
	free(z2);
}

static void test_example_yaml(void)
{
	const char *top = getenv("top_srcdir");
	char path[600];
	snprintf(path, sizeof(path), "%s/examples/policy.yaml", top && *top ? top : ".");
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;
	int r = policy_load(path, dg, &p);
	is_int(r, MN_OK, "examples/policy.yaml loads");
	if (r != MN_OK) {
		diag_print(dg, stderr);
		diag_free(dg);
		return;
	}
	zones_t *zs = NULL;
	compile_opts_t co = { .now = T_2030_01_01, .persist_serials = false };
	r = zones_compile(p, &co, dg, &zs);
	is_int(r, MN_OK, "examples/policy.yaml compiles");
	is_int((long long)diag_count(dg), 0, "with no diagnostics");
	if (r != MN_OK) {
		diag_print(dg, stderr);
		goto out;
	}
	is_int((long long)zs->n, 15, "15 zones (example.com with _mta-sts, _smtp._tls and _bimi)");
	static const struct { const char *zone, *owner, *text; } want[] = {
		{ "_dmarc.example.com", "_dmarc.example.com",
		  "v=DMARC1; p=reject; sp=reject; np=reject; adkim=s; aspf=r; "
		  "rua=mailto:dmarc@example.com,mailto:reports@example.org" },
		{ "_dmarc.example.com", "example.net._report._dmarc.example.com", "v=DMARC1" },
		{ "_dmarc.example.com", "*._report._dmarc.example.com", "v=DMARC1" },
		{ "_dmarc.example.org", "_dmarc.example.org", "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org" },
		{ "_dmarc.example.org", "example.com._report._dmarc.example.org", "v=DMARC1" },
		{ "_dmarc.example.net", "_dmarc.example.net", "v=DMARC1; p=none; fo=1:d; rua=mailto:dmarc@example.net" },
		{ "_dmarc.example.net", "shop.example.com._report._dmarc.example.net", "v=DMARC1" },
		{ "_dmarc.shop.example.com", "_dmarc.shop.example.com", "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.net" },
		{ "_spf.example.com", "_spf.example.com", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 ip6:2001:db8::/48 -all" },
		{ "_spf.example.org", "_spf.example.org", "v=spf1 exists:%{ir}.%{v}._spf.example.org ~all" },
		{ "_spf.example.net", "_spf.example.net", "v=spf1 ip4:192.0.2.10 mx:example.net include:_spf.example.org ~all" },
		{ "_spf.shop.example.com", "_spf.shop.example.com", "v=spf1 ip4:203.0.113.64/26 -all" },
	};
	for (size_t i = 0; i < N_ELEMS(want); i++)
		is_str(txt(zones_find(zs, want[i].zone), want[i].owner), want[i].text, "example: %s TXT", want[i].owner);
	const zone_t *z = zones_find(zs, "_domainkey.example.com");
	ok(strncmp(txt(z, "google._domainkey.example.com"), "v=DKIM1; k=rsa; p=MIIBIjANBgkq", 30) == 0 &&
	   strlen(txt(z, "google._domainkey.example.com")) == 410, "example: the google selector, whole (410 bytes)");
	z = zones_find(zs, "_spf.example.org");
	is_int((long long)count_type(z, ZONE_T_A), 21, "example: 21 macro names for example.org");
	is_int((long long)count_type(zones_find(zs, "_dmarc.shop.example.com"), ZONE_T_TXT), 1,
	       "example: shop.example.com has only its DMARC record");
	zones_free(zs);
out:
	policy_free(p);
	diag_free(dg);
}


/* ---- the SPF publishing plan (compile and `mailns flatten` both call spf_plan) --------- */

static void test_spf_plan(void)
{
	char *terms[40];
	char buf[40][64];
	for (int i = 0; i < 40; i++) {
		snprintf(buf[i], sizeof(buf[i]), "include:i%d.example", i);
		terms[i] = buf[i];
	}
	static const struct {
		spf_mode_t mode;
		size_t n;
		spf_plan_kind_t want;
		unsigned lookups;
	} c[] = {
		{ SPF_MODE_AUTO, 3, SPF_PLAN_FLATTEN, 0 },	/* include of the root + 3 */
		{ SPF_MODE_AUTO, 9, SPF_PLAN_FLATTEN, 0 },	/* 10: at the limit */
		{ SPF_MODE_AUTO, 10, SPF_PLAN_MACRO, 0 },	/* 11 */
		{ SPF_MODE_AUTO, 40, SPF_PLAN_MACRO, 0 },
		{ SPF_MODE_FLATTEN, 9, SPF_PLAN_FLATTEN, 0 },
		{ SPF_MODE_FLATTEN, 10, SPF_PLAN_LOOKUPS, 11 },
		{ SPF_MODE_MACRO, 3, SPF_PLAN_MACRO, 0 },
	};
	for (size_t i = 0; i < N_ELEMS(c); i++) {
		spf_plan_t pl = { 0 };
		int r = spf_plan("_spf.d.example", c[i].mode, terms, c[i].n, "-all", &pl);
		is_int(r, MN_OK, "plan %zu: MN_OK", i);
		is_int(pl.kind, c[i].want, "plan %zu: mode %s, %zu includes -> kind %d", i, policy_spf_mode_name(c[i].mode),
		       c[i].n, (int)c[i].want);
		if (c[i].want == SPF_PLAN_LOOKUPS)
			is_int(pl.lookups, c[i].lookups, "plan %zu: %u lookups", i, c[i].lookups);
		if (c[i].want == SPF_PLAN_FLATTEN)
			ok(pl.chain.n >= 1 && pl.chain.lookups <= SPF_LOOKUP_LIMIT, "plan %zu: a chain within the limit", i);
		else
			ok(pl.chain.n == 0, "plan %zu: no chain", i);
		chain_free(&pl.chain);
	}
}

/* ---- MTA-STS, TLS-RPT, BIMI ------------------------------------------------------ */

static void test_family(void)
{
	pol_init(NULL);	/* (frees the arena: first) */
	/* the policy file and its id */
	policy_mta_sts_t m = { .present = true };
	m.mode = (policy_enum_t){ MTA_STS_ENFORCE, P(9, 20) };
	static const char *const mx[] = { "mx1.example.com", "*.mail.example.net" };
	m.mx = strs(mx, 2, 9);
	m.max_age = (policy_u32_t){ 604800, P(9, 70) };
	char *text = rec_mta_sts_policy(&m);
	is_str(text, "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.net\r\n"
		     "max_age: 604800\r\n", "MTA-STS policy file: version first, CRLF, one mx line per pattern");
	char id1[33] = "", id2[33] = "", id3[33] = "";
	is_int(rec_mta_sts_id(text, id1, sizeof(id1)), MN_OK, "id of the policy text");
	free(text);
	bool alnum = strlen(id1) >= 1 && strlen(id1) <= 32;
	for (const char *c = id1; *c != '\0'; c++)
		alnum = alnum && ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'));
	ok(alnum, "the id is 1-32 letters and digits (%s)", id1);
	/* the same text (another struct, other positions): the same id */
	policy_mta_sts_t m2 = m;
	m2.mode.pos = P(20, 1);
	text = rec_mta_sts_policy(&m2);
	rec_mta_sts_id(text, id2, sizeof(id2));
	free(text);
	is_str(id2, id1, "the same text, the same id");
	m2.max_age.v = 604801;
	text = rec_mta_sts_policy(&m2);
	rec_mta_sts_id(text, id3, sizeof(id3));
	free(text);
	ok(strcmp(id3, id1) != 0, "max_age changed: another id");
	m2.max_age.v = 604800;
	m2.mode.v = MTA_STS_TESTING;
	text = rec_mta_sts_policy(&m2);
	rec_mta_sts_id(text, id3, sizeof(id3));
	free(text);
	ok(strcmp(id3, id1) != 0, "mode changed: another id");
	policy_mta_sts_t none = { .present = true, .mode = { MTA_STS_NONE, P(1, 1) }, .max_age = { 86400, P(1, 1) } };
	text = rec_mta_sts_policy(&none);
	is_str(text, "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n", "mode none without mx: no mx line");
	free(text);

	/* the zones: only for the domains that have the key */
	policy_domain_t *a = dom("a.example", 10);
	dmarc(a, DMARC_P_REJECT, 11);
	a->mta_sts = m;
	a->tls_rpt.present = true;
	static const char *const rua[] = { "mailto:tls@a.example", "https://r.example/tlsrpt" };
	a->tls_rpt.rua = strs(rua, 2, 12);
	a->bimi.present = true;
	a->bimi.logo = str("https://a.example/logo.svg", 13);
	a->bimi.authority = str("https://a.example/vmc.pem", 13);
	policy_domain_t *b = dom("b.example", 20);
	dmarc(b, DMARC_P_QUARANTINE, 21);
	b->bimi.present = true;
	b->bimi.logo = str("https://b.example/logo.svg", 22);
	pol_done();
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	zones_t *zs = NULL;
	compile_opts_t co = { .now = T_2030_01_01 };
	int r = zones_compile(&pol, &co, dg, &zs);
	is_int(r, MN_OK, "family policy compiles");
	if (r != MN_OK) {
		diag_print(dg, stderr);
		diag_free(dg);
		return;
	}
	is_int((long long)diag_count(dg), 0, "with no diagnostics");
	/* a: 3 + 3; b: 3 + bimi */
	is_int((long long)zs->n, 10, "10 zones");
	char want[64];
	snprintf(want, sizeof(want), "v=STSv1; id=%s", id1);
	const zone_t *z = zones_find(zs, "_mta-sts.a.example");
	is_str(txt(z, "_mta-sts.a.example"), want, "_mta-sts.a.example TXT with the policy's id");
	ok(z != NULL && zone_kind(z) == ZONE_MTA_STS && count_type(z, ZONE_T_SOA) == 1 && count_type(z, ZONE_T_NS) == 2,
	   "_mta-sts.a.example: kind, SOA, NS");
	z = zones_find(zs, "_smtp._tls.a.example");
	is_str(txt(z, "_smtp._tls.a.example"), "v=TLSRPTv1; rua=mailto:tls@a.example,https://r.example/tlsrpt",
	       "_smtp._tls.a.example TXT");
	ok(z != NULL && zone_kind(z) == ZONE_TLSRPT && count_type(z, ZONE_T_SOA) == 1, "_smtp._tls.a.example: its own zone");
	z = zones_find(zs, "_bimi.a.example");
	is_str(txt(z, "default._bimi.a.example"), "v=BIMI1; l=https://a.example/logo.svg; a=https://a.example/vmc.pem",
	       "default._bimi.a.example TXT");
	is_str(txt(zones_find(zs, "_bimi.b.example"), "default._bimi.b.example"), "v=BIMI1; l=https://b.example/logo.svg",
	       "no authority: no a=");
	ok(zones_find(zs, "_mta-sts.b.example") == NULL && zones_find(zs, "_smtp._tls.b.example") == NULL,
	   "b.example without mta_sts and tls_rpt: no such zones");
	for (size_t i = 1; i < zs->n; i++)
		if (strcmp(zone_name(zs->v[i - 1]), zone_name(zs->v[i])) >= 0)
			ok(false, "zones sorted: %s before %s", zone_name(zs->v[i - 1]), zone_name(zs->v[i]));
	is_str(zone_kind_name(ZONE_MTA_STS), "mta-sts", "kind name mta-sts");
	zones_free(zs);
	diag_free(dg);
}

/* rec_spf_net_block(): the terms rec_spf_net_terms() makes, in one block (the longest IPv6 text too). */
static void test_net_block(void)
{
	static const char *const in[] = { "192.0.2.0/24", "10.0.0.1/32", "2001:db8::/32",
					  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "0.0.0.0/0",
					  "1234:5678:9abc:def0:1234:5678:9abc:def0/128", "198.51.100.128/25" };
	enum { N = sizeof(in) / sizeof(in[0]) };
	mn_net_t v[N];
	for (size_t i = 0; i < N; i++)
		v[i] = net(in[i]);
	char **terms = NULL, **block = rec_spf_net_block(v, N);
	size_t nt = 0;
	is_int(rec_spf_net_terms(v, N, &terms, &nt), MN_OK, "net terms");
	ok(block != NULL && nt == N, "a block of %d terms", N);
	for (size_t i = 0; block != NULL && i < nt; i++)
		is_str(block[i], terms[i], "block term %zu: %s", i, terms[i]);
	is_str(block != NULL ? block[3] : NULL, "ip6:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "the longest term whole");
	rec_terms_free(terms, nt);
	free(block);
	block = rec_spf_net_block(v, 0);
	ok(block != NULL, "a block of none");
	free(block);
}

int main(void)
{
	test_spf_plan();
	test_net_block();
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/test_compile.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	test_dmarc_text();
	test_merge();
	test_merge_random();
	test_chain();
	test_macro();
	test_compile_example();
	test_errors();
	test_zonefile();
	test_threads();
	test_reports_halves();
	test_example_yaml();
	test_family();
	arena_free();
	free(arena);
	rm_rf(tmp);
	return tap_done();
}
