/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_incr.c -- the compile cache: reused domains give what a full compile gives */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/mn.h"
#include "policy/policy.h"
#include "policy/schema.h"
#include "tests/tap/tap.h"
#include "zones/compile.h"
#include "zones/incr.h"
#include "zones/records.h"
#include "zones/spfcache.h"
#include "zones/zonefile.h"

#define T0 ((time_t)1893456000)	/* 2030-01-01 */
#define GOOGLE_KEY "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAspFF8kjtbuVCHSM5w9jqXyXKsn0hob2Q++FlcopJ7Ef8nKm2IVwd9L/Jwkz8zaHpIxwgRtO3Nu/z044ChFhW5aRHEUYMdCDo1ASbA7MsqOta25JUu8iwORnv3BTgrScm8sy3NvSnFRaRleSRYCkQWWKzmlat6FRq7n/kI8dUnyQNauIOpUxpVZwQyPUY9pA0SABkxGEAviCxlfUy9SV8ShY61eNETjHQFOIuqLTnIryBBGyaYg9dS77AQKSQgtpJ/PC5g4x0b0xM2ZefxaebXZ2y+wRFY7UQ0Uj+YsQRq/dPXbqpODRVIQ8a9J5aenPPp0HD4ryjzUstosxbAAlbpQIDAQAB"
#define STORE_KEY "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAp8UmigFEss9qC4xyk7pvNACUIDib5Q9r6S2U+8S/gfgvrtfU1YTdr3X1X8AP8pFobyrcLzmstBaRzRpq3FF6vBa90Homu9Ex9PMU9cfliK2yCw52amixrh16617yTf/B/6WGDnQQeSKh1q3gN+2jkl9Xt4dQztTJF7sncRr01Uwae0GJm0lGNHDK/xkYa5/0m+d3NGRUiEDj4C5d5xrPMUDpti3nF/rLtwQI+G/btFPpzTuUJSsltk34+vgcrck5UAyVeM7KaP3i9AmZwKS4lMRisoqKUmjbOCGMJhHTwQUgduwsIvazDbGnWScT4joLJhPptknNw9qwRf/31bfdqQIDAQAB"

static char tmp[256];
static char state[400], top[400];

static void write_text(const char *path, const char *text)
{
	if (mn_file_write_atomic(path, text, strlen(text), 0644) != MN_OK)
		tap_bail("cannot write %s", path);
}

/* Leaves a file with the same content alone (the parse cache keeps it). */
static void write_changed(const char *path, const char *text)
{
	char *old = NULL;
	size_t len = 0;
	if (mn_file_read(path, &old, &len) == MN_OK && strcmp(old, text) == 0) {
		free(old);
		return;
	}
	free(old);
	write_text(path, text);
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *q = hay ? strstr(hay, needle) : NULL; q != NULL; q = strstr(q + 1, needle))
		n++;
	return n;
}

/* ---- the policy: 50 domains in five included files ----------------------------- */

typedef struct variant {
	uint32_t ttl;		/* server.ttl (0: unset) */
	bool defaults_fo;	/* defaults add fo: "1" */
	const char *d07_p;	/* d07's DMARC p (NULL: reject) */
	bool add_d50, drop_d49;
	bool drop_d10;		/* d09 (inc/f0.yaml, untouched) reports to d10 (inc/f1.yaml) */
	bool d20_hosted;	/* d20 sends its reports to d30 (hosted) instead of outside */
	bool shift;		/* a comment line at the top of inc/f0.yaml */
	bool bad;		/* d07 gets a DKIM record that does not parse: an error */
	bool bad_defaults;	/* so do the defaults: one error for all who inherit it */
} variant_t;

/*
 * Domain shapes by i % 5: 0 flatten SPF, 1 + a DKIM selector, 2 macro SPF,
 * 3 reports to an outside address (a warning naming the domain), 4 reports
 * to the next domain (hosted: an authorization record there).  The defaults
 * carry sp=none, a warning at one position that every domain inherits
 * (reported once).  d03 has a key store, d05 an SPF cache.
 */
static void write_policy(const variant_t *v)
{
	mn_buf_t b = { 0 };
	char path[600];
	mn_buf_addf(&b, "version: 1\nserver:\n  nameservers: [ns1.example.net., ns2.example.net.]\n"
		     "  hostmaster: hostmaster.example.net.\n  state_dir: %s\n", state);
	if (v->ttl != 0)
		mn_buf_addf(&b, "  ttl: %u\n", v->ttl);
	mn_buf_addf(&b, "include: [\"inc/*.yaml\"]\ndefaults:\n  dmarc: { p: reject, sp: none%s }\n",
		     v->defaults_fo ? ", fo: \"1\"" : "");
	if (v->bad_defaults)
		mn_buf_add(&b, "  dkim: { selectors: { shared: \"v=DKIM1; k=rsa; p=AAAA\" } }\n");
	mn_buf_add(&b, "domains: {}\n");
	char *text = mn_buf_take(&b);
	write_changed(top, text);
	free(text);
	for (int f = 0; f < 5; f++) {
		if (f == 0 && v->shift)
			mn_buf_add(&b, "# moved one line down\n");
		mn_buf_add(&b, "domains:\n");
		for (int k = 0; k < 10 + (f == 4 && v->add_d50); k++) {
			int i = f * 10 + k;
			if ((i == 49 && v->drop_d49) || (i == 10 && v->drop_d10))
				continue;
			mn_buf_addf(&b, "  d%02d.example:\n", i);
			if (i % 5 == 2)
				mn_buf_addf(&b, "    spf: { mode: macro, ip4: [10.%d.0.0/16, 192.0.2.%d] }\n", i, i);
			else if (i == 5)
				mn_buf_add(&b, "    spf: { ip4: [10.5.0.0/16], include: [_spf.prov.test] }\n");
			else
				mn_buf_addf(&b, "    spf: { ip4: [10.%d.0.0/16, 192.0.2.%d] }\n", i, i);
			if (i == 7 && v->bad)
				mn_buf_add(&b, "    dkim: { selectors: { s1: \"v=DKIM1; k=rsa; p=AAAA\" } }\n");
			else if (i % 5 == 1)
				mn_buf_add(&b, "    dkim: { selectors: { s1: \"v=DKIM1; k=rsa; p=" GOOGLE_KEY "\" } }\n");
			const char *p = i == 7 && v->d07_p ? v->d07_p : "reject";
			if (i == 20 && v->d20_hosted)
				mn_buf_addf(&b, "    dmarc: { p: %s, rua: [\"mailto:r@d30.example\"] }\n", p);
			else if (i % 5 == 3 || i == 20)
				mn_buf_addf(&b, "    dmarc: { p: %s, rua: [\"mailto:r@outside.example\"] }\n", p);
			else if (i % 5 == 4)
				mn_buf_addf(&b, "    dmarc: { p: %s, rua: [\"mailto:r@d%02d.example\"] }\n", p, i + 1);
			else
				mn_buf_addf(&b, "    dmarc: { p: %s }\n", p);
		}
		text = mn_buf_take(&b);
		snprintf(path, sizeof(path), "%s/inc/f%d.yaml", tmp, f);
		write_changed(path, text);
		free(text);
	}
}

/* dom's key store: k1 published, and k2 pending too when second. */
static void write_store(const char *dom, bool second)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/keys/%s", state, dom);
	if (mn_mkdir_p(path, 0700) != MN_OK)
		tap_bail("mkdir %s", path);
	snprintf(path, sizeof(path), "%s/keys/%s/published", state, dom);
	write_text(path, second ? "k1 active v=DKIM1; k=rsa; p=" STORE_KEY "\n"
				  "k2 pending v=DKIM1; k=rsa; p=" GOOGLE_KEY "\n"
				: "k1 active v=DKIM1; k=rsa; p=" STORE_KEY "\n");
}

static void write_keys(bool second)
{
	write_store("d03.example", second);
}

/* d05's SPF cache: the include resolved to net, an old part replaced at T0 - 600. */
static void write_spf_cache(const policy_t *p, const char *net)
{
	const policy_domain_t *d = policy_domain_find(p, "d05.example");
	char **terms = NULL;
	size_t nterms = 0;
	if (d == NULL || spfcache_terms(d->name, &d->spf, &terms, &nterms) != MN_OK)
		tap_bail("d05 terms");
	spfcache_t c = { .resolved = T0 - 600, .ttl = 300 };
	c.source = spfcache_source(terms, nterms);
	rec_terms_free(terms, nterms);
	mn_net_t nets[3];
	if (mn_net_parse("10.5.0.0/16", 0, false, &nets[0]) != MN_OK ||
	    mn_net_parse(net, 0, false, &nets[1]) != MN_OK)
		tap_bail("nets");
	c.nets = nets;
	c.nnets = 2;
	spfcache_old_t old = { T0 - 600, (char *)"c1-0123abcd._spf.d05.example",
			       (char *)"v=spf1 ip4:203.0.113.0/24 -all" };
	c.old = &old;
	c.nold = 1;
	if (spfcache_save(state, "d05.example", &c) != MN_OK)
		tap_bail("spf cache");
	free(c.source);
}

/* ---- compiling ---------------------------------------------------------------------- */

typedef struct result {
	int r;
	char *msgs;		/* every diagnostic, in order */
	char *zones;		/* every zone rendered, serials included */
	size_t nzones;
	compile_stats_t st;
} result_t;

static void result_free(result_t *x)
{
	free(x->msgs);
	free(x->zones);
	memset(x, 0, sizeof(*x));
}

static policy_cache_t *pcache;
static size_t patched_loads;	/* cached loads that patched the one before (policy_t.changed_known) */

/* Loads the policy and compiles it (with the compile and the parse cache when cache is not NULL). */
static result_t compile(compile_cache_t *cache, time_t now, bool persist, unsigned threads)
{
	result_t x = { 0 };
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;
	zones_t *zs = NULL;
	x.r = cache != NULL ? policy_load_cached(top, pcache, dg, &p) : policy_load(top, dg, &p);
	if (x.r == MN_OK && p->changed_known)
		patched_loads++;
	if (x.r == MN_OK) {
		compile_opts_t co = { .now = now, .persist_serials = persist, .threads = threads, .cache = cache,
				      .stats = &x.st };
		x.r = zones_compile(p, &co, dg, &zs);
	}
	x.msgs = diag_join(dg, 100000);
	mn_buf_t b = { 0 };
	x.nzones = zs != NULL ? zs->n : 0;
	for (size_t i = 0; i < x.nzones; i++) {
		char *text = NULL;
		size_t len = 0;
		mn_buf_add(&b, zonefile_render(zs->v[i], &text, &len) == MN_OK ? text : "(none)\n");
		free(text);
	}
	x.zones = mn_buf_take(&b);
	zones_free(zs);
	policy_free(p);
	diag_free(dg);
	return x;
}

enum { ANY = -1 };

/*
 * The same input without the cache (serials not written, so that both see
 * the same serials file) and with it: same result, and the counters; digested
 * (unless ANY): the domains whose policy part was digested, not taken by the
 * identity of their file.
 */
static void check_dig(compile_cache_t *cache, time_t now, int want_r, size_t reused, size_t compiled, int digested,
		      const char *what)
{
	result_t full = compile(NULL, now, false, 0);
	result_t inc = compile(cache, now, true, 0);
	is_int(inc.r, want_r, "%s: result", what);
	is_int(full.r, want_r, "%s: result without the cache", what);
	ok(inc.zones != NULL && full.zones != NULL && strcmp(inc.zones, full.zones) == 0,
	   "%s: zones byte-identical to a full compile (%zu zones)", what, inc.nzones);
	is_int((long long)inc.nzones, (long long)full.nzones, "%s: as many zones", what);
	is_str(inc.msgs, full.msgs, "%s: the same diagnostics", what);
	if (want_r == MN_OK) {
		is_int((long long)inc.st.reused, (long long)reused, "%s: %zu domains reused", what, reused);
		is_int((long long)inc.st.compiled, (long long)compiled, "%s: %zu compiled", what, compiled);
		if (digested != ANY)
			is_int((long long)inc.st.digested, digested, "%s: %d policy parts digested", what,
			       digested);
	}
	result_free(&full);
	result_free(&inc);
}

static void check(compile_cache_t *cache, time_t now, int want_r, size_t reused, size_t compiled, const char *what)
{
	check_dig(cache, now, want_r, reused, compiled, ANY, what);
}

static void test_incr(void)
{
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(top, sizeof(top), "%s/policy.yaml", tmp);
	char path[600];
	snprintf(path, sizeof(path), "%s/inc", tmp);
	if (mn_mkdir_p(path, 0755) != MN_OK)
		tap_bail("mkdir");
	variant_t v = { 0 };
	write_policy(&v);
	write_keys(false);
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;
	if (policy_load(top, dg, &p) != MN_OK) {
		diag_print(dg, stderr);
		tap_bail("policy");
	}
	write_spf_cache(p, "198.51.100.0/24");
	policy_free(p);
	diag_free(dg);

	compile_cache_t *cache = NULL;
	is_int(compile_cache_new(&cache), MN_OK, "cache made");
	is_int(policy_cache_new(&pcache), MN_OK, "parse cache made");
	time_t now = T0;

	/* the first compile fills the cache */
	result_t x = compile(cache, now, true, 0);
	is_int(x.r, MN_OK, "first compile with an empty cache");
	is_int((long long)x.st.compiled, 50, "50 domains compiled");
	is_int((long long)x.st.reused, 0, "none reused");
	is_int((long long)compile_cache_size(cache), 50, "50 domains cached");
	is_int((long long)x.nzones, 150, "150 zones");
	is_int((long long)count_of(x.msgs, "sp=none is weaker"), 1, "the defaults' warning once");
	is_int((long long)count_of(x.msgs, "outside.example is outside"), 11, "11 outside report addresses");
	ok(count_of(x.zones, "d04.example._report._dmarc.d05.example.") == 1, "d04's reports authorized at d05");
	ok(count_of(x.zones, "k1._domainkey.d03.example.") == 1, "d03's key store selector served");
	ok(count_of(x.zones, "198.51.100.0/24") == 1, "d05's include resolved by its SPF cache");
	ok(count_of(x.zones, "c1-0123abcd._spf.d05.example.") == 1, "d05's old part served until T0 + 3000");
	result_free(&x);

	check_dig(cache, now, MN_OK, 50, 0, 0, "nothing changed");

	v.d07_p = "quarantine";
	write_policy(&v);
	/* (the parts of f0's ten domains: their file's digest changed) */
	check_dig(cache, now, MN_OK, 49, 1, 10, "d07's DMARC p changed");
	check_dig(cache, now, MN_OK, 50, 0, 0, "the same again");

	/*
	 * d10 goes: d09's file is untouched, but its reports now go outside (a
	 * warning): another set of hosted names digests every part again.
	 */
	v.drop_d10 = true;
	write_policy(&v);
	/* (and f1's nine, at new lines, and d20, whose authorization of d19 has its position) */
	check_dig(cache, now, MN_OK, 38, 11, 49, "d10 removed (d09 in its untouched file recompiled)");
	x = compile(cache, now, false, 0);
	ok(count_of(x.msgs, "destination d10.example is outside d09.example") == 1,
	   "d09's reports to d10 now warned about");
	result_free(&x);
	v.drop_d10 = false;
	write_policy(&v);
	check_dig(cache, now, MN_OK, 38, 12, 50, "d10 back (d09, d10 and the others recompiled)");
	check_dig(cache, now, MN_OK, 50, 0, 0, "and again: nothing digested");
	x = compile(NULL, now, false, 0);
	ok(count_of(x.zones, "\"v=DMARC1; p=quarantine; sp=none\"") == 1, "d07 publishes p=quarantine");
	result_free(&x);

	v.add_d50 = true;
	write_policy(&v);
	/* d49 reports to d50: no longer outside (its warning goes), and d50 authorizes it */
	check(cache, now, MN_OK, 49, 2, "d50 added (d49 recompiled)");
	v.drop_d49 = true;
	write_policy(&v);
	check(cache, now, MN_OK, 49, 1, "d49 removed (d50 loses its authorization)");
	x = compile(NULL, now, false, 0);
	ok(count_of(x.zones, "d49.example._report") == 0 && count_of(x.zones, "_dmarc.d50.example.") > 0,
	   "d50 without d49's authorization");
	result_free(&x);

	v.d20_hosted = true;
	write_policy(&v);
	check(cache, now, MN_OK, 48, 2, "d20's reports to hosted d30 (d20, d30 recompiled)");
	x = compile(NULL, now, false, 0);
	ok(count_of(x.zones, "d20.example._report._dmarc.d30.example.") == 1, "d30 authorizes d20's reports");
	result_free(&x);
	v.d20_hosted = false;
	write_policy(&v);
	check(cache, now, MN_OK, 48, 2, "d20's reports back outside");

	write_keys(true);
	check(cache, now, MN_OK, 49, 1, "d03's key store published file changed");
	write_keys(false);
	check(cache, now, MN_OK, 49, 1, "d03's key store back");

	/*
	 * Inputs outside the policy of a domain its reload did not change (the
	 * policy's changed list is empty): a key store appears for d12, which
	 * had none, its key rotates, and the store goes.
	 */
	patched_loads = 0;
	write_store("d12.example", false);
	check(cache, now, MN_OK, 49, 1, "d12's key store appeared, its policy unchanged");
	x = compile(cache, now, false, 0);
	ok(count_of(x.zones, "k1._domainkey.d12.example.") == 1, "d12's key store selector served");
	result_free(&x);
	write_store("d12.example", true);
	check(cache, now, MN_OK, 49, 1, "d12's key rotated (k2 published), its policy unchanged");
	x = compile(cache, now, false, 0);
	ok(count_of(x.zones, "k2._domainkey.d12.example.") == 1, "d12's new key served");
	result_free(&x);
	snprintf(path, sizeof(path), "%s/keys/d12.example/published", state);
	is_int(unlink(path), 0, "d12's published file removed");
	snprintf(path, sizeof(path), "%s/keys/d12.example", state);
	is_int(rmdir(path), 0, "d12's key store removed");
	check(cache, now, MN_OK, 49, 1, "d12's key store gone, its policy unchanged");
	x = compile(cache, now, false, 0);
	ok(count_of(x.zones, "k1._domainkey.d12.example.") == 0 && count_of(x.zones, "k2._domainkey.d12.example.") == 0,
	   "d12's key store selectors gone");
	result_free(&x);
	ok(patched_loads >= 6, "those loads patched the one before (%zu)", patched_loads);

	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	if (policy_load(top, dg, &p) != MN_OK)
		tap_bail("policy");
	write_spf_cache(p, "198.51.100.0/25");
	policy_free(p);
	diag_free(dg);
	check(cache, now, MN_OK, 49, 1, "d05's SPF cache file changed");
	x = compile(NULL, now, false, 0);
	ok(count_of(x.zones, "198.51.100.0/25") == 1, "d05 serves the new network");
	result_free(&x);

	/*
	 * Every domain has a message (the defaults' sp=none, reported once), so
	 * the ten of f0 are recompiled for their new positions, and d10, whose
	 * authorization for d09 carries the position of d09's rua in f0.
	 */
	v.shift = true;
	write_policy(&v);
	check(cache, now, MN_OK, 39, 11, "f0 moved one line down (its domains with messages recompiled)");
	x = compile(cache, now, false, 0);
	/* d03: "domains:" line 2, d00 3-5, d01 6-9, d02 10-12, d03 13-15 (its rua) */
	ok(count_of(x.msgs, "f0.yaml:15:") == 1 && count_of(x.msgs, "f0.yaml:14:") == 0,
	   "d03's warning at its new line");
	if (getenv("TEST_VERBOSE") != NULL)
		tap_diag("%s", x.msgs);
	result_free(&x);

	v.bad = true;
	write_policy(&v);
	size_t before = compile_cache_size(cache);
	check(cache, now, MN_EPOLICY, 0, 0, "a bad DKIM record");
	is_int((long long)compile_cache_size(cache), (long long)before, "the failed compile left the cache as it was");
	v.bad = false;
	v.bad_defaults = true;
	write_policy(&v);
	check(cache, now, MN_EPOLICY, 0, 0, "a bad DKIM record in the defaults");
	x = compile(cache, now, false, 0);
	is_int((long long)count_of(x.msgs, "policy.yaml:9:"), 1, "its error once, at the defaults");
	result_free(&x);
	is_int((long long)compile_cache_size(cache), (long long)before, "the cache still as it was");
	v.bad_defaults = false;
	write_policy(&v);
	check(cache, now, MN_OK, 50, 0, "the last good policy again: everything reused");

	now = T0 + 2999;
	check(cache, now, MN_OK, 50, 0, "d05's old part still served at T0 + 2999");
	now = T0 + 3000;
	check(cache, now, MN_OK, 49, 1, "d05's old part expired at T0 + 3000: d05 recompiled");
	x = compile(NULL, now, false, 0);
	ok(count_of(x.zones, "c1-0123abcd") == 0, "the old part gone");
	result_free(&x);
	now = T0 + 86400;
	check(cache, now, MN_OK, 50, 0, "a day later: nothing depends on the time any more");
	check(cache, T0, MN_OK, 49, 1, "the clock went back: d05 recompiled");
	check(cache, T0 + 86400, MN_OK, 49, 1, "and forward again");

	v.defaults_fo = true;
	write_policy(&v);
	check(cache, now, MN_OK, 0, 50, "defaults changed: all recompiled");
	v.ttl = 600;
	write_policy(&v);
	check(cache, now, MN_OK, 0, 50, "server.ttl changed: all recompiled");
	check(cache, now, MN_OK, 50, 0, "and then reused");

	/* serials changed under reused zones: the serials file gone, 40 days later */
	snprintf(path, sizeof(path), "%s/zones/serials", state);
	is_int(unlink(path), 0, "serials file removed");
	now = T0 + 40 * 86400;
	check(cache, now, MN_OK, 50, 0, "no serials file, 40 days later: reused with new serials");
	x = compile(cache, now, false, 0);
	is_int((long long)count_of(x.zones, " 2030021000 "), 150, "every zone at 2030021000");
	result_free(&x);

	/* threads: the same from a cache filled on one thread or three */
	compile_cache_t *c1 = NULL, *c3 = NULL;
	compile_cache_new(&c1);
	compile_cache_new(&c3);
	result_t a = compile(c1, now, false, 1), b = compile(c3, now, false, 3);
	v.d07_p = "none";
	write_policy(&v);
	result_t a2 = compile(c1, now, false, 1), b2 = compile(c3, now, false, 3);
	ok(a.r == MN_OK && b.r == MN_OK && strcmp(a.zones, b.zones) == 0 && strcmp(a.msgs, b.msgs) == 0,
	   "one thread and three: the same zones and messages");
	ok(a2.r == MN_OK && b2.r == MN_OK && strcmp(a2.zones, b2.zones) == 0 && strcmp(a2.msgs, b2.msgs) == 0,
	   "and after a change");
	ok(a2.st.reused == 49 && b2.st.reused == 49 && a2.st.compiled == 1 && b2.st.compiled == 1,
	   "49 reused / 1 compiled on one thread and on three");
	result_free(&a);
	result_free(&b);
	result_free(&a2);
	result_free(&b2);
	compile_cache_free(c1);
	compile_cache_free(c3);
	compile_cache_free(cache);
	compile_cache_free(NULL);
	/* (every check above compares the zones with a full compile's: so those of patched loads too) */
	ok(patched_loads >= 10, "%zu of the cached loads patched the previous one's domains", patched_loads);
	policy_cache_free(pcache);
	pcache = NULL;
}

/*
 * The parse cache: a file is reused once it was settled (changed more than a
 * second before it was read) and is the same file since; the result is what
 * policy_load() gives.
 */
static void test_parse_cache(void)
{
	variant_t v = { .ttl = 600 };
	write_policy(&v);
	is_int(policy_cache_new(&pcache), MN_OK, "parse cache made");
	compile_cache_t *cache = NULL;
	compile_cache_new(&cache);
	result_t x = compile(cache, T0, false, 0);
	is_int(x.r, MN_OK, "first load through the parse cache");
	is_int((long long)policy_cache_reused(pcache), 0, "nothing to reuse yet");
	result_free(&x);
	/*
	 * After two seconds every file is settled: the next load reuses each
	 * cached parse that was settled already and reads the others again
	 * (settled now), so the load after it reuses all five.  (How many the
	 * first one reuses depends on the machine's speed: not asserted.)
	 */
	sleep(2);
	x = compile(cache, T0, false, 0);
	is_int(x.r, MN_OK, "load after the files settled");
	result_free(&x);
	check(cache, T0, MN_OK, 50, 0, "settled files");
	is_int((long long)policy_cache_reused(pcache), 5, "all five included files reused");

	v.d07_p = "none";
	write_policy(&v);	/* only inc/f0.yaml changes */
	check(cache, T0, MN_OK, 49, 1, "d07 changed through the parse cache");
	is_int((long long)policy_cache_reused(pcache), 4, "four files reused, the changed one parsed");
	x = compile(NULL, T0, false, 0);
	ok(count_of(x.zones, "\"v=DMARC1; p=none; sp=none\"") == 1, "d07 publishes p=none");
	result_free(&x);

	/* a policy outlives the cache and the policies it shares files with */
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	policy_t *p1 = NULL, *p2 = NULL;
	is_int(policy_load_cached(top, pcache, dg, &p1), MN_OK, "load 1");
	is_int(policy_load_cached(top, pcache, dg, &p2), MN_OK, "load 2");
	/* f0 changed a moment ago: read again until settled */
	ok(policy_cache_reused(pcache) >= 4, "load 2 shares the four settled files (%zu)", policy_cache_reused(pcache));
	policy_cache_free(pcache);
	pcache = NULL;
	policy_free(p1);
	const policy_domain_t *d = p2 != NULL ? policy_domain_find(p2, "d33.example") : NULL;
	ok(d != NULL && d->dmarc.rua.n == 1 && strcmp(d->dmarc.rua.v[0].v, "mailto:r@outside.example") == 0 &&
	   strstr(d->pos.file, "inc/f3.yaml") != NULL && d->pos.line == 12,	/* "domains:", d30 2-4, d31 5-8, d32 9-11 */
	   "its domains, values and positions intact");
	policy_free(p2);
	diag_free(dg);
	compile_cache_free(cache);
}


/* ---- every field of a domain is in the schema, and the digest reads it ------------ */

/*
 * Every member of the domain structures, once.  The initializers below are
 * positional: the compiler rejects this file when a member is added to one
 * of the structures and not to its list (missing initializer: an error
 * here), so the coverage test sees every member, padding or not, and fails
 * when one has no schema line (the schema drives the merge of `defaults:`,
 * the built-in defaults and the compile-cache digest).
 */
#pragma GCC diagnostic error "-Wmissing-field-initializers"
#define DOMAIN_MEMBERS(S, M) S(name) M(pos) M(spf) M(dkim) M(dmarc) M(mta_sts) M(tls_rpt) M(bimi) M(dnssec)
#define SPF_MEMBERS(S, M) S(present) M(mode) M(ip4) M(ip6) M(a) M(mx) M(include) M(all)
#define DKIM_MEMBERS(S, M) S(present) M(algorithm) M(rotate_every) M(publish_ahead) M(retire_after) \
	M(revoked_for) M(on_change) M(selectors)
#define DMARC_MEMBERS(S, M) S(present) M(p) M(sp) M(np) M(psd) M(t) M(adkim) M(aspf) M(fo) M(rua) M(ruf) \
	M(pct) M(rf) M(ri) M(authorize_reports_for)
#define MTA_STS_MEMBERS(S, M) S(present) M(mode) M(mx) M(max_age)
#define TLS_RPT_MEMBERS(S, M) S(present) M(rua)
#define BIMI_MEMBERS(S, M) S(present) M(logo) M(authority)
#define DNSSEC_MEMBERS(S, M) S(present) M(enabled) M(algorithm) M(keys) M(zsk_lifetime) M(ksk_lifetime)
#define SELECTOR_MEMBERS(S, M) M(name) M(record)
#define SCALAR_INIT(m) 0,
#define AGGREGATE_INIT(m) { 0 },
static const policy_domain_t all_domain_members = { DOMAIN_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_spf_t all_spf_members = { SPF_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_dkim_t all_dkim_members = { DKIM_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_dmarc_t all_dmarc_members = { DMARC_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_mta_sts_t all_mta_sts_members = { MTA_STS_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_tls_rpt_t all_tls_rpt_members = { TLS_RPT_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_bimi_t all_bimi_members = { BIMI_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_dnssec_t all_dnssec_members = { DNSSEC_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };
static const policy_selector_t all_selector_members = { SELECTOR_MEMBERS(SCALAR_INIT, AGGREGATE_INIT) };

typedef struct member {
	const char *name;
	size_t offset, size;
} member_t;

#define MEMBER_OF(T, m) { #m, offsetof(T, m), sizeof(((T *)0)->m) },
#define DOMAIN_M(m) MEMBER_OF(policy_domain_t, m)
#define SPF_M(m) MEMBER_OF(policy_spf_t, m)
#define DKIM_M(m) MEMBER_OF(policy_dkim_t, m)
#define DMARC_M(m) MEMBER_OF(policy_dmarc_t, m)
static const member_t domain_members[] = { DOMAIN_MEMBERS(DOMAIN_M, DOMAIN_M) { NULL, 0, 0 } };
static const member_t spf_members[] = { SPF_MEMBERS(SPF_M, SPF_M) { NULL, 0, 0 } };
static const member_t dkim_members[] = { DKIM_MEMBERS(DKIM_M, DKIM_M) { NULL, 0, 0 } };
static const member_t dmarc_members[] = { DMARC_MEMBERS(DMARC_M, DMARC_M) { NULL, 0, 0 } };
#define MTA_STS_M(m) MEMBER_OF(policy_mta_sts_t, m)
#define TLS_RPT_M(m) MEMBER_OF(policy_tls_rpt_t, m)
#define BIMI_M(m) MEMBER_OF(policy_bimi_t, m)
static const member_t mta_sts_members[] = { MTA_STS_MEMBERS(MTA_STS_M, MTA_STS_M) { NULL, 0, 0 } };
static const member_t tls_rpt_members[] = { TLS_RPT_MEMBERS(TLS_RPT_M, TLS_RPT_M) { NULL, 0, 0 } };
static const member_t bimi_members[] = { BIMI_MEMBERS(BIMI_M, BIMI_M) { NULL, 0, 0 } };
#define DNSSEC_M(m) MEMBER_OF(policy_dnssec_t, m)
static const member_t dnssec_members[] = { DNSSEC_MEMBERS(DNSSEC_M, DNSSEC_M) { NULL, 0, 0 } };

/* The members of the struct a MAP item of schema_domain converts into. */
static const member_t *sub_members(const schema_item_t *it)
{
	if (it->offset == offsetof(policy_domain_t, spf))
		return spf_members;
	if (it->offset == offsetof(policy_domain_t, dkim))
		return dkim_members;
	if (it->offset == offsetof(policy_domain_t, dmarc))
		return dmarc_members;
	if (it->offset == offsetof(policy_domain_t, mta_sts))
		return mta_sts_members;
	if (it->offset == offsetof(policy_domain_t, tls_rpt))
		return tls_rpt_members;
	if (it->offset == offsetof(policy_domain_t, bimi))
		return bimi_members;
	if (it->offset == offsetof(policy_domain_t, dnssec))
		return dnssec_members;
	return NULL;
}

/*
 * Every member of what has one schema item at its offset, of a type stored
 * in exactly the member's bytes; `bool present` first is the map item's
 * SCHEMA_PRESENT; by_hand members are digested by incr_hash_domain() itself.
 */
static void check_members(const char *what, const member_t *m, const schema_item_t *table, bool present,
			  const char *const *by_hand)
{
	for (; m->name != NULL; m++) {
		bool hand = false;
		for (const char *const *b = by_hand; b != NULL && *b != NULL; b++)
			hand = hand || strcmp(*b, m->name) == 0;
		if (hand) {
			ok(true, "%s.%s: hashed by incr_hash_domain (name and position)", what, m->name);
			continue;
		}
		if (strcmp(m->name, "present") == 0 && m->offset == 0) {
			ok(present, "%s.present: the map's SCHEMA_PRESENT", what);
			continue;
		}
		const schema_item_t *it = table;
		while (it->name != NULL && it->offset != m->offset)
			it++;
		if (!ok(it->name != NULL, "%s.%s has a schema line", what, m->name))
			continue;
		if (it->type == SCHEMA_MAP) {
			const member_t *sub = sub_members(it);
			if (ok(sub != NULL, "%s.%s: a map the test knows", what, m->name))
				check_members(it->name, sub, it->sub, (it->flags & SCHEMA_PRESENT) != 0, NULL);
			continue;
		}
		is_int((long long)schema_type_size(it->type), (long long)m->size, "%s.%s: the schema type '%s' covers its %zu bytes",
		       what, m->name, it->name, m->size);
	}
}

/* A pool of allocations for the synthetic domain, freed at the end. */
static void *held[256];
static size_t nheld;

static void *hold_mem(size_t n)
{
	if (nheld == sizeof(held) / sizeof(held[0]))
		tap_bail("too many allocations");
	void *p = calloc(1, n);
	if (p == NULL)
		tap_bail("calloc");
	return held[nheld++] = p;
}

static char *hold_str(const char *s)
{
	char *d = hold_mem(strlen(s) + 1);
	memcpy(d, s, strlen(s) + 1);
	return d;
}

static const char *const TFILE = "t.yaml";
static uint32_t tline = 1;

static mn_pos_t tpos(void)
{
	return (mn_pos_t){ TFILE, tline++, 3 };
}

/* Sets every key of table at base (nested maps present), each to its own value and position. */
static void fill_all(const schema_item_t *table, void *base)
{
	for (const schema_item_t *it = table; it->name != NULL; it++) {
		void *f = (char *)base + it->offset;
		switch (it->type) {
		case SCHEMA_U32:
		case SCHEMA_DURATION:
			*(policy_u32_t *)f = (policy_u32_t){ 7, tpos() };
			break;
		case SCHEMA_BOOL:
			*(policy_bool_t *)f = (policy_bool_t){ true, tpos() };
			break;
		case SCHEMA_ENUM:
			*(policy_enum_t *)f = (policy_enum_t){ 1, tpos() };
			break;
		case SCHEMA_STR:
		case SCHEMA_PATH:
		case SCHEMA_NAME:
			*(policy_str_t *)f = (policy_str_t){ hold_str("x.example"), tpos() };
			break;
		case SCHEMA_NAMES:
		case SCHEMA_STRS: {
			policy_strs_t *v = f;
			v->v = hold_mem(sizeof(*v->v));
			v->v[0] = (policy_str_t){ hold_str("mailto:r@x.example"), tpos() };
			v->n = 1;
			v->pos = tpos();
			break;
		}
		case SCHEMA_NET4S:
		case SCHEMA_NET6S: {
			policy_nets_t *v = f;
			v->v = hold_mem(sizeof(*v->v));
			if (mn_net_parse(it->type == SCHEMA_NET4S ? "192.0.2.0/24" : "2001:db8::/32", 0, false,
					 &v->v[0].net) != MN_OK)
				tap_bail("mn_net_parse");
			v->v[0].pos = tpos();
			v->n = 1;
			v->pos = tpos();
			break;
		}
		case SCHEMA_ENUMS: {
			schema_enums_t *v = f;
			v->v = hold_mem(sizeof(*v->v));
			v->v[0] = (policy_enum_t){ 1, tpos() };
			v->n = 1;
			v->pos = tpos();
			break;
		}
		case SCHEMA_SELECTORS: {
			schema_selectors_t *v = f;
			v->v = hold_mem(sizeof(*v->v));
			v->v[0].name = (policy_str_t){ hold_str("s1"), tpos() };
			v->v[0].record = (policy_str_t){ hold_str("v=DKIM1; p="), tpos() };
			v->n = 1;
			v->pos = tpos();
			break;
		}
		case SCHEMA_MAP:
			if (it->flags & SCHEMA_PRESENT)
				*(bool *)f = true;
			fill_all(it->sub, f);
			break;
		default:
			tap_bail("a domain key of type %d the test cannot set", (int)it->type);
		}
	}
}

typedef struct digest {
	uint8_t key[32], pos[32];
} digest_t;

static digest_t digest_of(const policy_domain_t *d)
{
	static incr_hash_t h;
	policy_t p = { .domains = (policy_domain_t *)d, .ndomains = 1 };
	digest_t x;
	incr_hash_reset(&h);
	incr_hash_domain(&h, &p, d);
	if (incr_hash_final(&h, x.key, x.pos) != MN_OK)
		tap_bail("incr_hash_final");
	return x;
}

/* The element of a one-item list field whose value changes, and its position. */
static void mutate(const schema_item_t *it, void *f, bool position)
{
	mn_pos_t *pos = (mn_pos_t *)schema_field_pos(it->type, f);
	switch (it->type) {
	case SCHEMA_U32:
	case SCHEMA_DURATION:
		((policy_u32_t *)f)->v ^= 1;
		break;
	case SCHEMA_BOOL:
		((policy_bool_t *)f)->v = !((policy_bool_t *)f)->v;
		break;
	case SCHEMA_ENUM:
		((policy_enum_t *)f)->v ^= 1;
		break;
	case SCHEMA_STR:
	case SCHEMA_PATH:
	case SCHEMA_NAME:
		((policy_str_t *)f)->v[0] ^= 1;
		break;
	case SCHEMA_NAMES:
	case SCHEMA_STRS:
		if (position)
			pos = &((policy_strs_t *)f)->v[0].pos;
		else
			((policy_strs_t *)f)->v[0].v[0] ^= 1;
		break;
	case SCHEMA_NET4S:
	case SCHEMA_NET6S:
		if (position)
			pos = &((policy_nets_t *)f)->v[0].pos;
		else
			((policy_nets_t *)f)->v[0].net.addr[1] ^= 1;
		break;
	case SCHEMA_ENUMS:
		if (position)
			pos = &((schema_enums_t *)f)->v[0].pos;
		else
			((schema_enums_t *)f)->v[0].v ^= 1;
		break;
	case SCHEMA_SELECTORS:
		if (position)
			pos = &((schema_selectors_t *)f)->v[0].record.pos;
		else
			((schema_selectors_t *)f)->v[0].record.v[0] ^= 1;
		break;
	default:
		tap_bail("type %d", (int)it->type);
	}
	if (position)
		pos->line ^= 1024;
}

/* Each key of table (at base inside d) changed alone, in value, item position and list position. */
static void check_digest_reads(const char *what, const schema_item_t *table, void *base, policy_domain_t *d)
{
	for (const schema_item_t *it = table; it->name != NULL; it++) {
		void *f = (char *)base + it->offset;
		digest_t before = digest_of(d);
		if (it->type == SCHEMA_MAP) {
			if (it->flags & SCHEMA_PRESENT) {
				*(bool *)f = false;
				digest_t now = digest_of(d);
				*(bool *)f = true;
				ok(memcmp(now.key, before.key, 32) != 0, "digest reads %s.%s present", what, it->name);
			}
			check_digest_reads(it->name, it->sub, f, d);
			continue;
		}
		for (int position = 0; position < 2; position++) {
			mutate(it, f, position);
			digest_t now = digest_of(d);
			mutate(it, f, position);	/* (each change is its own inverse) */
			const uint8_t *a = position ? now.pos : now.key, *b = position ? before.pos : before.key;
			ok(memcmp(a, b, 32) != 0, "digest reads %s.%s %s", what, it->name,
			   position ? "position" : "value");
			digest_t again = digest_of(d);
			ok(memcmp(again.key, before.key, 32) == 0 && memcmp(again.pos, before.pos, 32) == 0,
			   "%s.%s restored", what, it->name);
		}
		/* the list's own position: where "key:" was written */
		if (schema_type_size(it->type) > sizeof(policy_str_t)) {
			mn_pos_t *lp = (mn_pos_t *)schema_field_pos(it->type, f);
			lp->col ^= 64;
			digest_t now = digest_of(d);
			lp->col ^= 64;
			ok(memcmp(now.pos, before.pos, 32) != 0, "digest reads the position of the list %s.%s", what,
			   it->name);
		}
	}
}

static void test_digest_fields(void)
{
	(void)all_domain_members;
	(void)all_spf_members;
	(void)all_dkim_members;
	(void)all_dmarc_members;
	(void)all_selector_members;
	(void)all_mta_sts_members;
	(void)all_tls_rpt_members;
	(void)all_bimi_members;
	(void)all_dnssec_members;
	static const char *const by_hand[] = { "name", "pos", NULL };
	check_members("domain", domain_members, schema_domain, false, by_hand);

	policy_domain_t d = { 0 };
	d.name = hold_str("d.example");
	d.pos = tpos();
	fill_all(schema_domain, &d);
	digest_t before = digest_of(&d);
	d.name[0] = 'e';
	digest_t now = digest_of(&d);
	d.name[0] = 'd';
	ok(memcmp(now.key, before.key, 32) != 0, "digest reads the domain's name");
	d.pos.line++;
	now = digest_of(&d);
	d.pos.line--;
	ok(memcmp(now.pos, before.pos, 32) != 0, "digest reads the domain's position");
	check_digest_reads("domain", schema_domain, &d, &d);
	while (nheld > 0)
		free(held[--nheld]);
}

/* Entries are reference counted: the cache holds one, a compile that reuses one takes another. */
static void test_entry_refs(void)
{
	compile_cache_t *c = NULL;
	is_int(compile_cache_new(&c), MN_OK, "entry: a cache");
	incr_entry_t *e = NULL;
	is_int(incr_entry_new("a.example", &e), MN_OK, "entry: new");
	ok(e != NULL && e->refs == 1, "entry: new holds one reference");
	incr_entry_t *keep = e;
	is_int(incr_entry_new(NULL, &e), MN_EINVAL, "entry: no name is MN_EINVAL");
	is_int(incr_entry_new("a.example", NULL), MN_EINVAL, "entry: no out is MN_EINVAL");
	ok(e == keep, "entry: out untouched on failure");
	ok(incr_entry_ref(e) == e && e->refs == 2, "entry: ref returns it with one more holder");
	incr_entry_t *twin = NULL;
	is_int(incr_entry_new("a.example", &twin), MN_OK, "entry: a second one of the name");
	incr_entry_ref(twin);
	incr_entry_t *v[3] = { e, NULL, twin };
	uint8_t g[32] = { 0 };
	is_int(incr_install(c, g, v, 3), MN_OK, "entry: installed, NULL slots skipped");
	is_int((long long)compile_cache_size(c), 1, "entry: a name twice is held once");
	ok(incr_find(c, "a.example") == e, "entry: the first of a name is the one found");
	is_int(twin->refs, 1, "entry: the cache's reference to the second one dropped");
	incr_entry_unref(twin);
	incr_entry_t *none[1] = { NULL };
	is_int(incr_install(c, g, none, 1), MN_OK, "entry: replaced by an empty set");
	ok(incr_find(c, "a.example") == NULL, "entry: gone from the cache");
	is_int(e->refs, 1, "entry: the cache's reference dropped, the compile's stays");
	is_str(e->name, "a.example", "entry: still alive");
	incr_entry_unref(e);
	ok(incr_entry_ref(NULL) == NULL, "entry: ref of NULL is NULL");
	compile_cache_free(c);
}

/* nest/: c.example (nest/c.yaml), with MTA-STS or not, and x._mta-sts.c.example (nest/x.yaml). */
static void write_nest(bool mta_sts)
{
	char path[600];
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "version: 1\nserver:\n  nameservers: [ns1.example.net.]\n  hostmaster: hostmaster.example.net.\n"
		     "  state_dir: %s/nest/state\ninclude: [\"*.yaml\"]\n", tmp);
	char *text = mn_buf_take(&b);
	snprintf(path, sizeof(path), "%s/nest/top/policy.yaml", tmp);
	write_changed(path, text);
	free(text);
	snprintf(path, sizeof(path), "%s/nest/top/c.yaml", tmp);
	write_changed(path, mta_sts ? "domains:\n  c.example:\n    dmarc: { p: reject }\n"
				      "    mta_sts: { mode: enforce, mx: [mx.c.example] }\n"
				    : "domains:\n  c.example:\n    dmarc: { p: reject }\n");
	snprintf(path, sizeof(path), "%s/nest/top/x.yaml", tmp);
	write_changed(path, "domains:\n  x._mta-sts.c.example:\n    dmarc: { p: reject }\n");
}

/*
 * The checks over the whole set with the cache: a domain whose own file did
 * not change becomes invalid by another's edit (its zones would be inside
 * c.example's new _mta-sts zone), and valid again when the edit is undone,
 * while the set's apexes stay those of the last good compile.
 */
static void test_whole_set(void)
{
	char path[600], saved[400];
	snprintf(path, sizeof(path), "%s/nest/top", tmp);
	if (mn_mkdir_p(path, 0755) != MN_OK)
		tap_bail("mkdir");
	snprintf(saved, sizeof(saved), "%s", top);
	snprintf(top, sizeof(top), "%s/nest/top/policy.yaml", tmp);
	write_nest(false);
	compile_cache_t *cache = NULL;
	if (compile_cache_new(&cache) != MN_OK || policy_cache_new(&pcache) != MN_OK)
		tap_bail("caches");
	time_t now = T0;
	check(cache, now, MN_OK, 0, 2, "nest: first compile");
	check(cache, now, MN_OK, 2, 0, "nest: nothing changed");
	write_nest(true);
	check(cache, now, MN_EPOLICY, 0, 0, "nest: c.example gets MTA-STS");
	result_t x = compile(cache, now, false, 0);
	ok(x.r == MN_EPOLICY && count_of(x.msgs, "x.yaml:2:3: error: domain x._mta-sts.c.example would be served "
						 "inside zone _mta-sts.c.example") == 1,
	   "nest: x._mta-sts.c.example, its file untouched, is inside c.example's new zone");
	result_free(&x);
	write_nest(false);
	check(cache, now, MN_OK, 2, 0, "nest: MTA-STS gone again: valid, nothing compiled");
	write_nest(true);
	check(cache, now, MN_EPOLICY, 0, 0, "nest: and again");
	compile_cache_free(cache);
	policy_cache_free(pcache);
	pcache = NULL;
	snprintf(top, sizeof(top), "%s", saved);
}

/* Loads the policy and compiles it with cache: the output kept (NULL on failure). */
static zones_t *compile_keep(compile_cache_t *cache, time_t now)
{
	diag_t *dg = NULL;
	policy_t *p = NULL;
	zones_t *zs = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	compile_opts_t co = { .now = now, .persist_serials = true, .cache = cache };
	if (policy_load_cached(top, pcache, dg, &p) != MN_OK || zones_compile(p, &co, dg, &zs) != MN_OK)
		zs = NULL;
	policy_free(p);
	diag_free(dg);
	return zs;
}

/* Every zone of zs rendered, serials included ("" for NULL). */
static char *render_all(const zones_t *zs)
{
	mn_buf_t b = { 0 };
	mn_buf_add(&b, "");
	for (size_t i = 0; zs != NULL && i < zs->n; i++) {
		char *text = NULL;
		size_t len = 0;
		mn_buf_add(&b, zonefile_render(zs->v[i], &text, &len) == MN_OK ? text : "(none)\n");
		free(text);
	}
	return mn_buf_take(&b);
}

static const zone_t *zone_in(const zones_t *zs, const char *name)
{
	return zs != NULL ? zones_find(zs, name) : NULL;
}

/*
 * Generations borrow the cache's zones (one epoch reference each, not one
 * per zone): a generation still served while the next ones are compiled --
 * a domain changed, then every serial moved under the reused zones -- keeps
 * its zones as they were, records and serials, whatever is freed first.
 */
static void test_generations(void)
{
	char path[600];
	variant_t v = { 0 };
	write_policy(&v);
	compile_cache_t *cache = NULL;
	if (compile_cache_new(&cache) != MN_OK || policy_cache_new(&pcache) != MN_OK)
		tap_bail("caches");
	time_t now = T0 + 50 * 86400;
	zones_t *a = compile_keep(cache, now);
	ok(a != NULL && a->n == 150, "gen: the first generation");
	char *text_a = render_all(a);

	v.d07_p = "quarantine";
	write_policy(&v);
	zones_t *b = compile_keep(cache, now);
	ok(b != NULL && b->n == 150, "gen: d07 changed, the second generation");
	const zone_t *a7 = zone_in(a, "_dmarc.d07.example"), *b7 = zone_in(b, "_dmarc.d07.example");
	ok(a7 != NULL && b7 != NULL && a7 != b7, "gen: d07's DMARC zone is a new one");
	ok(zone_in(a, "_dmarc.d01.example") != NULL && zone_in(a, "_dmarc.d01.example") == zone_in(b, "_dmarc.d01.example"),
	   "gen: an unchanged zone is the same object in both (borrowed from the cache, not copied)");
	char *t = render_all(b);
	ok(count_of(t, "p=quarantine") == 1 && count_of(text_a, "p=quarantine") == 0, "gen: the new one answers new");
	free(t);
	t = render_all(a);
	is_str(t, text_a, "gen: the old one is as it was, records and serials");
	free(t);
	char *text_b = render_all(b);

	/* every serial moves: the reused zones are copied, the generations before keep theirs */
	snprintf(path, sizeof(path), "%s/zones/serials", state);
	is_int(unlink(path), 0, "gen: serials file removed");
	snprintf(path, sizeof(path), "%s/zones/serials.journal", state);
	unlink(path);	/* (and its journal, when there is one) */
	zones_t *c = compile_keep(cache, now + 40 * 86400);
	ok(c != NULL && c->n == 150, "gen: 40 days later, the third generation");
	const zone_t *b1 = zone_in(b, "_dmarc.d01.example"), *c1 = zone_in(c, "_dmarc.d01.example");
	ok(b1 != NULL && c1 != NULL && b1 != c1 && zone_serial(c1) != zone_serial(b1),
	   "gen: a reused zone whose serial moved is a copy (%u -> %u)", b1 ? zone_serial(b1) : 0,
	   c1 ? zone_serial(c1) : 0);
	t = render_all(b);
	is_str(t, text_b, "gen: the second is as it was, its serials not moved");
	free(t);

	/* freed out of order, the cache before the oldest: each still reads its own */
	zones_free(b);
	t = render_all(a);
	is_str(t, text_a, "gen: the first, once the second is freed");
	free(t);
	zones_t *d = compile_keep(cache, now + 40 * 86400);
	ok(d != NULL && zone_in(d, "_dmarc.d01.example") == c1, "gen: the next one borrows the third's zones");
	zones_free(c);
	compile_cache_free(cache);
	t = render_all(a);
	is_str(t, text_a, "gen: the first, once the cache is freed too");
	free(t);
	t = render_all(d);
	ok(count_of(t, "p=quarantine") == 1 && d != NULL && d->n == 150, "gen: the last one too");
	free(t);
	zones_free(a);
	zones_free(d);
	free(text_a);
	free(text_b);
	policy_cache_free(pcache);
	pcache = NULL;
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/test_incr.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	test_entry_refs();
	test_incr();
	test_whole_set();
	test_generations();
	test_parse_cache();
	test_digest_fields();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
	return tap_done();
}
