/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_zset.c -- the zone set: names, empty non-terminals, wildcards, pre-rendered RRsets */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/mn.h"
#include "tests/tap/tap.h"
#include "zones/sign.h"
#include "zones/zset.h"

static size_t put_name(uint8_t *p, const char *name)
{
	int n = mn_name_to_wire(name, p, 256);
	if (n < 0)
		tap_bail("bad test name %s", name);
	return (size_t)n;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A zone with SOA (TTL soa_ttl, minimum 300), two NS and the given records. */
static zone_t *mkzone(const char *apex, uint32_t soa_ttl, const char *const *txt, size_t ntxt,
		      const char *const *a, size_t na)
{
	zone_t *z = NULL;
	if (zone_new(apex, ZONE_DMARC, "example.com", &z) != MN_OK)
		tap_bail("zone_new");
	uint8_t rd[600];
	size_t o = put_name(rd, "ns1.example.net");
	o += put_name(rd + o, "hostmaster.example.net");
	static const uint32_t v[] = { 2030010101, 3600, 600, 1209600, 300 };
	for (size_t i = 0; i < 5; i++, o += 4)
		put32(rd + o, v[i]);
	int r = zone_add_rr(z, apex, ZONE_T_SOA, soa_ttl, rd, (uint16_t)o);
	o = put_name(rd, "ns2.example.net");
	r |= zone_add_rr(z, apex, ZONE_T_NS, 3600, rd, (uint16_t)o);
	o = put_name(rd, "ns1.example.net");
	r |= zone_add_rr(z, apex, ZONE_T_NS, 3600, rd, (uint16_t)o);
	for (size_t i = 0; i < ntxt; i += 2)
		r |= zone_add_txt(z, txt[i], 3600, txt[i + 1]);
	static const uint8_t lo[4] = { 127, 0, 0, 2 };
	for (size_t i = 0; i < na; i++)
		r |= zone_add_rr(z, a[i], ZONE_T_A, 600, lo, 4);
	r |= zone_finish(z);
	if (r != 0)
		tap_bail("cannot build zone %s", apex);
	return z;
}

static zones_t *test_zones(void)
{
	static const char *const dmarc[] = {
		"_dmarc.example.com", "v=DMARC1; p=reject",
		"*._report._dmarc.example.com", "v=DMARC1",
		"example.net._report._dmarc.example.com", "v=DMARC1",
	};
	static const char *const dkim[] = {
		"sel._domainkey.example.com", "v=DKIM1; k=ed25519; p=abc",
	};
	static const char *const spf[] = {
		"_spf.example.org", "v=spf1 exists:%{ir}.%{v}._spf.example.org ~all",
	};
	static const char *const spf_a[] = {
		"*.113.0.203.in-addr._spf.example.org",
		"*.8.b.d.0.1.0.0.2.ip6._spf.example.org",
	};
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(3, sizeof(*zs->v));
	/* sorted by apex name */
	zs->v[zs->n++] = mkzone("_dmarc.example.com", 3600, dmarc, 6, NULL, 0);
	zs->v[zs->n++] = mkzone("_domainkey.example.com", 120, dkim, 2, NULL, 0);
	zs->v[zs->n++] = mkzone("_spf.example.org", 3600, spf, 2, spf_a, 2);
	return zs;
}

static const char *status_name(zset_status_t s)
{
	switch (s) {
	case ZSET_REFUSED: return "REFUSED";
	case ZSET_ANSWER: return "ANSWER";
	case ZSET_NODATA: return "NODATA";
	case ZSET_NXDOMAIN: return "NXDOMAIN";
	}
	return "?";
}

static void test_lookups(const zset_t *set)
{
	static const struct {
		const char *name;
		uint16_t type;
		zset_status_t status;
		const char *zone;	/* NULL for REFUSED */
		int count;		/* ANSWER: records */
		uint16_t rtype;		/* ANSWER: type of the RRset */
		bool wildcard;
	} t[] = {
		{ "_dmarc.example.com", ZONE_T_TXT, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_TXT, false },
		{ "_dmarc.example.com", ZONE_T_NS, ZSET_ANSWER, "_dmarc.example.com", 2, ZONE_T_NS, false },
		{ "_dmarc.example.com", ZONE_T_SOA, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_SOA, false },
		{ "_dmarc.example.com", ZONE_T_ANY, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_TXT, false },
		{ "_dmarc.example.com", ZONE_T_A, ZSET_NODATA, "_dmarc.example.com", 0, 0, false },
		{ "nope._dmarc.example.com", ZONE_T_TXT, ZSET_NXDOMAIN, "_dmarc.example.com", 0, 0, false },
		/* empty non-terminal */
		{ "_report._dmarc.example.com", ZONE_T_TXT, ZSET_NODATA, "_dmarc.example.com", 0, 0, false },
		/* wildcard: one and two labels below the closest encloser */
		{ "other.org._report._dmarc.example.com", ZONE_T_TXT, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_TXT, true },
		{ "x._report._dmarc.example.com", ZONE_T_TXT, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_TXT, true },
		{ "x._report._dmarc.example.com", ZONE_T_A, ZSET_NODATA, "_dmarc.example.com", 0, 0, true },
		{ "x._report._dmarc.example.com", ZONE_T_ANY, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_TXT, true },
		/* the name exists: no synthesis; below it, its closest encloser has no wildcard */
		{ "example.net._report._dmarc.example.com", ZONE_T_TXT, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_TXT, false },
		{ "example.net._report._dmarc.example.com", ZONE_T_A, ZSET_NODATA, "_dmarc.example.com", 0, 0, false },
		{ "a.example.net._report._dmarc.example.com", ZONE_T_TXT, ZSET_NXDOMAIN, "_dmarc.example.com", 0, 0, false },
		/* the wildcard owner itself */
		{ "*._report._dmarc.example.com", ZONE_T_TXT, ZSET_ANSWER, "_dmarc.example.com", 1, ZONE_T_TXT, false },
		{ "*._report._dmarc.example.com", ZONE_T_A, ZSET_NODATA, "_dmarc.example.com", 0, 0, false },
		/* DKIM zone */
		{ "sel._domainkey.example.com", ZONE_T_TXT, ZSET_ANSWER, "_domainkey.example.com", 1, ZONE_T_TXT, false },
		{ "other._domainkey.example.com", ZONE_T_TXT, ZSET_NXDOMAIN, "_domainkey.example.com", 0, 0, false },
		{ "a.sel._domainkey.example.com", ZONE_T_TXT, ZSET_NXDOMAIN, "_domainkey.example.com", 0, 0, false },
		/* macro SPF zone: ENTs down to the wildcards */
		{ "7.113.0.203.in-addr._spf.example.org", ZONE_T_A, ZSET_ANSWER, "_spf.example.org", 1, ZONE_T_A, true },
		{ "7.113.0.203.in-addr._spf.example.org", ZONE_T_TXT, ZSET_NODATA, "_spf.example.org", 0, 0, true },
		{ "113.0.203.in-addr._spf.example.org", ZONE_T_A, ZSET_NODATA, "_spf.example.org", 0, 0, false },
		{ "0.203.in-addr._spf.example.org", ZONE_T_A, ZSET_NODATA, "_spf.example.org", 0, 0, false },
		{ "in-addr._spf.example.org", ZONE_T_A, ZSET_NODATA, "_spf.example.org", 0, 0, false },
		{ "7.114.0.203.in-addr._spf.example.org", ZONE_T_A, ZSET_NXDOMAIN, "_spf.example.org", 0, 0, false },
		{ "1.2.3.4.8.b.d.0.1.0.0.2.ip6._spf.example.org", ZONE_T_A, ZSET_ANSWER, "_spf.example.org", 1, ZONE_T_A, true },
		{ "ip6._spf.example.org", ZONE_T_A, ZSET_NODATA, "_spf.example.org", 0, 0, false },
		{ "9.ip6._spf.example.org", ZONE_T_A, ZSET_NXDOMAIN, "_spf.example.org", 0, 0, false },
		/* outside every zone */
		{ "example.com", ZONE_T_TXT, ZSET_REFUSED, NULL, 0, 0, false },
		{ "com", ZONE_T_TXT, ZSET_REFUSED, NULL, 0, 0, false },
		{ "", ZONE_T_SOA, ZSET_REFUSED, NULL, 0, 0, false },
		{ "www.example.net", ZONE_T_A, ZSET_REFUSED, NULL, 0, 0, false },
		{ "dmarc.example.com", ZONE_T_TXT, ZSET_REFUSED, NULL, 0, 0, false },
		{ "x_dmarc.example.com", ZONE_T_TXT, ZSET_REFUSED, NULL, 0, 0, false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t w[256];
		size_t n = put_name(w, t[i].name);
		zset_result_t res;
		memset(&res, 0xa5, sizeof(res));
		zset_lookup(set, w, n, t[i].type, &res);
		const char *what = t[i].name[0] ? t[i].name : ".";
		is_str(status_name(res.status), status_name(t[i].status), "%s type %u: %s", what,
		       t[i].type, status_name(t[i].status));
		if (t[i].zone == NULL) {
			ok(res.zone == NULL && res.rrs == NULL && res.soa == NULL,
			   "%s: no zone, no records", what);
			continue;
		}
		is_str(res.zone != NULL ? zone_name(res.zone) : NULL, t[i].zone, "%s: zone %s", what, t[i].zone);
		is_int(res.wildcard, t[i].wildcard, "%s: wildcard %d", what, t[i].wildcard);
		is_int(res.apex_len, res.zone ? zone_apex_len(res.zone) : 0, "%s: apex length", what);
		if (t[i].status == ZSET_ANSWER) {
			is_int(res.rrs_count, t[i].count, "%s: %d records", what, t[i].count);
			is_int(res.rrs_type, t[i].rtype, "%s: RRset type %u", what, t[i].rtype);
		} else {
			ok(res.rrs == NULL && res.rrs_count == 0, "%s: no records", what);
		}
	}
}

/* The exact pre-rendered bytes: owner pointer, type, class, TTL, rdata. */
static void test_bytes(const zset_t *set)
{
	uint8_t w[256];
	size_t n = put_name(w, "_dmarc.example.com");
	zset_result_t res;
	zset_lookup(set, w, n, ZONE_T_TXT, &res);
	static const uint8_t want[] = {
		0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x13,
		0x12, 'v', '=', 'D', 'M', 'A', 'R', 'C', '1', ';', ' ', 'p', '=',
		'r', 'e', 'j', 'e', 'c', 't',
	};
	tap_is_mem(res.rrs, res.rrs_len, want, sizeof(want), "TXT RRset pre-rendered with owner pointer to 12");

	zset_lookup(set, w, n, ZONE_T_NS, &res);
	static const uint8_t ns[] = {
		0xc0, 0x0c, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x11,
		3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
		0xc0, 0x0c, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x11,
		3, 'n', 's', '2', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
	};
	tap_is_mem(res.rrs, res.rrs_len, ns, sizeof(ns), "NS RRset: two records in canonical order");

	/* negative SOA: the zone's SOA bytes, owner left out; TTL min(SOA TTL, minimum) beside */
	static const struct { const char *name; uint32_t ttl, soa_ttl; } neg[] = {
		{ "nope._dmarc.example.com", 300, 3600 },	/* SOA TTL 3600, minimum 300 */
		{ "nope._domainkey.example.com", 120, 120 },	/* SOA TTL 120, minimum 300 */
	};
	for (size_t i = 0; i < 2; i++) {
		n = put_name(w, neg[i].name);
		zset_lookup(set, w, n, ZONE_T_TXT, &res);
		ok(res.soa != NULL && res.soa_len == 10 + 17 + 24 + 20, "%s: SOA of %u bytes", neg[i].name,
		   res.soa_len);
		if (res.soa == NULL)
			continue;
		static const uint8_t head[] = { 0x00, 0x06, 0x00, 0x01 };
		tap_is_mem(res.soa, 4, head, 4, "%s: SOA type and class", neg[i].name);
		uint32_t ttl = (uint32_t)res.soa[4] << 24 | res.soa[5] << 16 | res.soa[6] << 8 | res.soa[7];
		is_int(ttl, neg[i].soa_ttl, "%s: the SOA's own TTL %u in its bytes", neg[i].name, neg[i].soa_ttl);
		is_int(res.soa_ttl, neg[i].ttl, "%s: negative TTL %u", neg[i].name, neg[i].ttl);
		is_int(res.soa[8] << 8 | res.soa[9], res.soa_len - 10, "%s: SOA rdlength", neg[i].name);
	}
}

static void test_counts(const zset_t *set)
{
	/*
	 * _dmarc.example.com: apex, _report (ENT), *._report, example.net._report
	 *   and net._report (ENT) = 5
	 * _domainkey.example.com: apex, sel = 2
	 * _spf.example.org: apex, in-addr, 203, 0, 113, *.113 (= 6)
	 *   + ip6, 2, 0, 0, 1, 0, d, b, 8, *.8 (= 10) = 16
	 */
	is_int((long long)zset_name_count(set), 5 + 2 + 16, "name count with empty non-terminals");
	is_int((long long)zset_zones(set)->n, 3, "three zones");
}

static void test_refs_and_errors(void)
{
	zset_t *set = NULL;
	is_int(zset_new(test_zones(), &set), MN_OK, "zset_new");
	ok(zset_ref(set) == set, "zset_ref returns the set");
	zset_unref(set);
	uint8_t w[256];
	size_t n = put_name(w, "_dmarc.example.com");
	zset_result_t res;
	zset_lookup(set, w, n, ZONE_T_TXT, &res);
	is_int(res.status, ZSET_ANSWER, "still usable after ref + unref");
	zset_unref(set);
	zset_unref(NULL);
	ok(zset_ref(NULL) == NULL, "zset_ref(NULL)");

	/* a zone without SOA: rejected, zones freed (no leak under ASan) */
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(1, sizeof(*zs->v));
	zone_t *z = NULL;
	if (zone_new("_dmarc.example.org", ZONE_DMARC, "example.org", &z) != MN_OK)
		tap_bail("zone_new");
	zone_add_txt(z, "_dmarc.example.org", 300, "v=DMARC1; p=none");
	zs->v[zs->n++] = z;
	set = (zset_t *)1;
	is_int(zset_new(zs, &set), MN_EINVAL, "a zone without SOA: MN_EINVAL");
	ok(set == (zset_t *)1, "out-param untouched on failure");

	/* the same zone twice: data for one name in two places */
	zones_t *two = test_zones();
	zones_t *dup = test_zones();
	two->v = realloc(two->v, 4 * sizeof(*two->v));
	two->v[two->n++] = dup->v[0];
	dup->v[0] = NULL;
	zones_free(dup);
	is_int(zset_new(two, &set), MN_EINVAL, "a name with data in two zones: MN_EINVAL");
	is_int(zset_new(NULL, &set), MN_EINVAL, "zset_new(NULL)");
}

/* Many zones: the build stays fast (timing is informational). */
static void test_scale(void)
{
	enum { N = 30000 };
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(N, sizeof(*zs->v));
	char apex[64], owner[96];
	for (size_t i = 0; i < N; i++) {
		snprintf(apex, sizeof(apex), "_dmarc.d%06zu.example", i);
		snprintf(owner, sizeof(owner), "*._report.%s", apex);
		const char *txt[] = { apex, "v=DMARC1; p=none", owner, "v=DMARC1" };
		zs->v[zs->n++] = mkzone(apex, 3600, txt, 4, NULL, 0);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	zset_t *set = NULL;
	is_int(zset_new(zs, &set), MN_OK, "%d zones build", N);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# zset_new of %d zones: %.3f s\n", N,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	is_int((long long)zset_name_count(set), 3 * N, "3 names per zone");
	uint8_t w[256];
	size_t n = put_name(w, "x.y._report._dmarc.d012345.example");
	zset_result_t res;
	zset_lookup(set, w, n, ZONE_T_TXT, &res);
	is_str(res.status == ZSET_ANSWER && res.zone ? zone_name(res.zone) : NULL,
	       "_dmarc.d012345.example", "wildcard answer from the right zone among %d", N);
	n = put_name(w, "_dmarc.d030000.example");
	zset_lookup(set, w, n, ZONE_T_TXT, &res);
	is_int(res.status, ZSET_REFUSED, "a zone not in the set: REFUSED");
	zset_unref(set);
}

/* ---- DNSSEC: the proofs of zset_lookup_dnssec over signed zones ---- */

/* Every zone of zs replaced by its signed form (one P-256 CSK for all). */
static void sign_all(zones_t *zs, dnskey_set_t *keys)
{
	time_t now = time(NULL);
	sign_opts_t o = { .now = now, .validity = 14 * 86400 };
	for (size_t i = 0; i < zs->n; i++) {
		zone_t *s = NULL;
		if (sign_zone(zs->v[i], keys, &o, &s) != MN_OK)
			tap_bail("cannot sign %s", zone_name(zs->v[i]));
		zone_unref(zs->v[i]);
		zs->v[i] = s;
	}
}

/* A run's records: every one of type, and (RRSIG) covering covered; the count. */
static int run_check(const zset_run_t *r, uint16_t type, uint16_t covered)
{
	int n = 0;
	for (size_t o = 0; r->rrs != NULL && o < r->len; n++) {
		const uint8_t *p = r->rrs + o;
		uint16_t t = (uint16_t)(p[2] << 8 | p[3]), rdlen = (uint16_t)(p[10] << 8 | p[11]);
		if (p[0] != 0xc0 || p[1] != 12 || t != type)
			return -1;
		if (type == ZONE_T_RRSIG && (p[12] << 8 | p[13]) != covered)
			return -1;
		o += 12u + rdlen;
	}
	return r->rrs != NULL && n != r->count ? -1 : n;
}

/* The NSEC owners of a proof, presentation form, space-separated ("" for none). */
static void proof_owners(const zset_proof_t *p, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (unsigned i = 0; i < p->nnsec; i++) {
		char name[256];
		size_t o = 0, w = 0;
		const uint8_t *n = p->nsec[i].owner;
		while (o < p->nsec[i].owner_len && n[o] != 0) {
			memcpy(name + w, n + o + 1, n[o]);
			w += n[o];
			name[w++] = '.';
			o += n[o] + 1u;
		}
		name[w ? w - 1 : 0] = '\0';
		/* each NSEC record with one RRSIG over it */
		if (run_check(&p->nsec[i].nsec, ZONE_T_NSEC, 0) != 1 ||
		    run_check(&p->nsec[i].sig, ZONE_T_RRSIG, ZONE_T_NSEC) != 1)
			snprintf(name + strlen(name), sizeof(name) - strlen(name), "(bad)");
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? " " : "", name);
	}
}

static void test_dnssec(void)
{
	dnskey_set_t keys = { 0 };
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, time(NULL), &keys.ksk) != MN_OK)
		tap_bail("no key");
	zones_t *plain = test_zones(), *zs = test_zones();
	sign_all(zs, &keys);
	zset_t *set = NULL, *uset = NULL;
	if (zset_new(zs, &set) != MN_OK || zset_new(plain, &uset) != MN_OK)
		tap_bail("zset_new failed");
	static const struct {
		const char *what, *name;
		uint16_t type;
		zset_status_t status;
		uint16_t rtype;		/* ANSWER: the RRset's type; its RRSIG: sigs (0: none) */
		int sigs;
		const char *nsec;	/* the NSEC owners, in order */
	} t[] = {
		{ "positive", "_dmarc.example.com", ZONE_T_TXT, ZSET_ANSWER, ZONE_T_TXT, 1, "" },
		{ "positive NS", "_dmarc.example.com", ZONE_T_NS, ZSET_ANSWER, ZONE_T_NS, 1, "" },
		{ "DNSKEY", "_dmarc.example.com", ZONE_T_DNSKEY, ZSET_ANSWER, ZONE_T_DNSKEY, 1, "" },
		{ "NSEC asked for", "_dmarc.example.com", ZONE_T_NSEC, ZSET_ANSWER, ZONE_T_NSEC, 1, "" },
		{ "RRSIG asked for: as stored, unsigned", "_dmarc.example.com", ZONE_T_RRSIG, ZSET_ANSWER,
		  ZONE_T_RRSIG, 0, "" },
		{ "NODATA", "_dmarc.example.com", ZONE_T_A, ZSET_NODATA, 0, 0, "_dmarc.example.com" },
		{ "NODATA below", "example.net._report._dmarc.example.com", ZONE_T_A, ZSET_NODATA, 0, 0,
		  "example.net._report._dmarc.example.com" },
		{ "NXDOMAIN: the name's cover and the wildcard's", "zzz._domainkey.example.com", ZONE_T_TXT,
		  ZSET_NXDOMAIN, 0, 0, "sel._domainkey.example.com _domainkey.example.com" },
		{ "NXDOMAIN: one NSEC covers both", "a._domainkey.example.com", ZONE_T_TXT, ZSET_NXDOMAIN, 0, 0,
		  "_domainkey.example.com" },
		{ "NXDOMAIN below an owner", "a.sel._domainkey.example.com", ZONE_T_TXT, ZSET_NXDOMAIN, 0, 0,
		  "sel._domainkey.example.com" },
		{ "NXDOMAIN beside the wildcards", "7.114.0.203.in-addr._spf.example.org", ZONE_T_A,
		  ZSET_NXDOMAIN, 0, 0, "*.113.0.203.in-addr._spf.example.org _spf.example.org" },
		{ "wildcard answer", "7.113.0.203.in-addr._spf.example.org", ZONE_T_A, ZSET_ANSWER, ZONE_T_A, 1,
		  "*.113.0.203.in-addr._spf.example.org" },
		{ "wildcard answer, two labels down", "a.b._report._dmarc.example.com", ZONE_T_TXT, ZSET_ANSWER,
		  ZONE_T_TXT, 1, "*._report._dmarc.example.com" },
		{ "wildcard NODATA", "7.113.0.203.in-addr._spf.example.org", ZONE_T_TXT, ZSET_NODATA, 0, 0,
		  "*.113.0.203.in-addr._spf.example.org" },
		{ "wildcard NODATA, cover and wildcard apart", "zz._report._dmarc.example.com", ZONE_T_A,
		  ZSET_NODATA, 0, 0, "example.net._report._dmarc.example.com *._report._dmarc.example.com" },
		/* a NODATA for them cannot be proved: the wildcard's NSEC lists both types */
		{ "NSEC synthesized from a wildcard", "a._report._dmarc.example.com", ZONE_T_NSEC,
		  ZSET_ANSWER, ZONE_T_NSEC, 1, "*._report._dmarc.example.com" },
		{ "RRSIG synthesized from a wildcard", "x._report._dmarc.example.com", ZONE_T_RRSIG,
		  ZSET_ANSWER, ZONE_T_RRSIG, 0, "example.net._report._dmarc.example.com" },
		{ "empty non-terminal", "113.0.203.in-addr._spf.example.org", ZONE_T_TXT, ZSET_NODATA, 0, 0,
		  "_spf.example.org" },
		{ "empty non-terminal beside a wildcard", "ip6._spf.example.org", ZONE_T_A, ZSET_NODATA, 0, 0,
		  "*.113.0.203.in-addr._spf.example.org" },
		{ "empty non-terminal _report", "_report._dmarc.example.com", ZONE_T_TXT, ZSET_NODATA, 0, 0,
		  "_dmarc.example.com" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t q[256];
		size_t ql = put_name(q, t[i].name);
		zset_result_t res, plain_res;
		zset_proof_t pf;
		zset_lookup_dnssec(set, q, ql, t[i].type, &res, &pf);
		is_str(status_name(res.status), status_name(t[i].status), "dnssec %s: %s", t[i].what, t[i].name);
		ok(pf.is_signed, "dnssec %s: signed zone", t[i].what);
		is_int(run_check(&pf.soa_sig, ZONE_T_RRSIG, ZONE_T_SOA), 1, "dnssec %s: the SOA's RRSIG", t[i].what);
		if (t[i].status == ZSET_ANSWER) {
			is_int(res.rrs_type, t[i].rtype, "dnssec %s: type", t[i].what);
			is_int(run_check(&pf.answer_sig, ZONE_T_RRSIG, t[i].rtype), t[i].sigs,
			       "dnssec %s: its RRSIGs", t[i].what);
			if (res.wildcard && pf.answer_sig.rrs != NULL) {
				/* labels (RDATA byte 3): the wildcard's, without the '*' */
				int labels = 0;
				for (const char *c = t[i].nsec; *c; c++)
					labels += *c == '.';
				is_int(pf.answer_sig.rrs[12 + 3], labels, "dnssec %s: labels of the wildcard",
				       t[i].what);
			}
		} else {
			ok(pf.answer_sig.rrs == NULL, "dnssec %s: no answer RRSIG", t[i].what);
		}
		char owners[1024];
		proof_owners(&pf, owners, sizeof(owners));
		is_str(owners, t[i].nsec, "dnssec %s: the NSECs", t[i].what);
		/* without DO: what zset_lookup finds, and the unsigned zone's for the old types */
		zset_lookup(set, q, ql, t[i].type, &plain_res);
		ok(memcmp(&plain_res, &res, sizeof(res)) == 0, "dnssec %s: zset_lookup finds the same", t[i].what);
		if (t[i].type == ZONE_T_TXT || t[i].type == ZONE_T_A || t[i].type == ZONE_T_NS) {
			zset_result_t u;
			zset_lookup(uset, q, ql, t[i].type, &u);
			bool same = u.status == res.status && u.rrs_len == res.rrs_len &&
				    (u.rrs_len == 0 || memcmp(u.rrs, res.rrs, u.rrs_len) == 0) &&
				    u.soa_len == res.soa_len && memcmp(u.soa, res.soa, u.soa_len) == 0;
			ok(same, "dnssec %s: the unsigned zone's answer, byte for byte", t[i].what);
		}
	}
	/* an unsigned zone: nothing */
	uint8_t q[256];
	size_t ql = put_name(q, "nope._dmarc.example.com");
	zset_result_t res;
	zset_proof_t pf;
	zset_lookup_dnssec(uset, q, ql, ZONE_T_TXT, &res, &pf);
	ok(res.status == ZSET_NXDOMAIN && !pf.is_signed && pf.nnsec == 0 && pf.soa_sig.rrs == NULL,
	   "dnssec: an unsigned zone has no proof");
	ql = put_name(q, "example.com");
	zset_lookup_dnssec(set, q, ql, ZONE_T_TXT, &res, &pf);
	ok(res.status == ZSET_REFUSED && !pf.is_signed, "dnssec: outside every zone, no proof");
	zset_unref(set);
	zset_unref(uset);
	dnskey_set_clear(&keys);
}

/* ---- the next generation patched from the previous one ---- */

static int zone_cmp_name(const void *x, const void *y)
{
	return strcmp(zone_name(*(zone_t *const *)x), zone_name(*(zone_t *const *)y));
}

/* Zone k of the patch tests, version ver: names at its apex, a wildcard and a deep owner. */
static zone_t *pzone(int k, int ver)
{
	char apex[64], wild[96], deep[96], txt[64];
	snprintf(apex, sizeof(apex), "_dmarc.d%03d.example", k);
	snprintf(wild, sizeof(wild), "*._report.%s", apex);
	snprintf(deep, sizeof(deep), "v%d.b.c.%s", ver, apex);	/* its ENTs b.c and c */
	snprintf(txt, sizeof(txt), "v=DMARC1; p=none; ver=%d", ver);
	const char *t[] = { apex, txt, wild, "v=DMARC1", deep, txt };
	return mkzone(apex, 3600, t, 6, NULL, 0);
}

/* A zones_t of the given zones (each one more holder: zone_ref), in order. */
static zones_t *zones_of(zone_t *const *v, size_t n)
{
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(n ? n : 1, sizeof(*zs->v));
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL)
			zs->v[zs->n++] = zone_ref(v[i]);
	return zs;
}

static bool same_run(const zset_run_t *x, const zset_run_t *y)
{
	return x->len == y->len && x->count == y->count && (x->len == 0 || memcmp(x->rrs, y->rrs, x->len) == 0);
}

/* Do a and b give the same DNSSEC records for the name (none for unsigned zones)? */
static bool same_proof(const zset_t *a, const zset_t *b, const uint8_t *w, size_t n, uint16_t qtype)
{
	zset_result_t ra, rb;
	zset_proof_t pa, pb;
	zset_lookup_dnssec(a, w, n, qtype, &ra, &pa);
	zset_lookup_dnssec(b, w, n, qtype, &rb, &pb);
	if (pa.is_signed != pb.is_signed || pa.nnsec != pb.nnsec || !same_run(&pa.answer_sig, &pb.answer_sig) ||
	    !same_run(&pa.soa_sig, &pb.soa_sig))
		return false;
	for (unsigned i = 0; i < pa.nnsec; i++)
		if (pa.nsec[i].owner_len != pb.nsec[i].owner_len ||
		    memcmp(pa.nsec[i].owner, pb.nsec[i].owner, pa.nsec[i].owner_len) != 0 ||
		    !same_run(&pa.nsec[i].nsec, &pb.nsec[i].nsec) || !same_run(&pa.nsec[i].sig, &pb.nsec[i].sig))
			return false;
	return true;
}

/* Do a and b answer qname/qtype alike (status, zone, answer and SOA bytes, DNSSEC records)? */
static bool same_answer(const zset_t *a, const zset_t *b, const char *qname, uint16_t qtype)
{
	uint8_t w[256];
	size_t n = put_name(w, qname);
	zset_result_t ra, rb;
	zset_lookup(a, w, n, qtype, &ra);
	zset_lookup(b, w, n, qtype, &rb);
	if (ra.status != rb.status || ra.wildcard != rb.wildcard || (ra.zone == NULL) != (rb.zone == NULL))
		return false;
	if (ra.zone != NULL && strcmp(zone_name(ra.zone), zone_name(rb.zone)) != 0)
		return false;
	if (ra.rrs_len != rb.rrs_len || ra.rrs_count != rb.rrs_count ||
	    (ra.rrs_len > 0 && memcmp(ra.rrs, rb.rrs, ra.rrs_len) != 0))
		return false;
	return ra.soa_len == rb.soa_len && (ra.soa_len == 0 || memcmp(ra.soa, rb.soa, ra.soa_len) == 0) &&
	       same_proof(a, b, w, n, qtype);
}

/* Every name of zones 0..NZ-1 in any version, and around them: a and b answer alike. */
static bool same_answers(const zset_t *a, const zset_t *b, int nz, int maxver)
{
	static const uint16_t types[] = { ZONE_T_TXT, ZONE_T_A, ZONE_T_SOA, ZONE_T_ANY };
	char q[128];
	for (int k = 0; k < nz; k++) {
		for (int v = -5; v <= maxver; v++) {
			const char *fmt[] = { "_dmarc.d%03d.example", "x._report._dmarc.d%03d.example",
					      "c._dmarc.d%03d.example", "b.c._dmarc.d%03d.example",
					      "nx._dmarc.d%03d.example", "v%d.b.c._dmarc.d%03d.example" };
			for (size_t f = 0; f < sizeof(fmt) / sizeof(*fmt); f++) {
				if (f == 5)
					snprintf(q, sizeof(q), fmt[f], v, k);
				else if (v == -5)
					snprintf(q, sizeof(q), fmt[f], k);
				else
					continue;
				for (size_t t = 0; t < sizeof(types) / sizeof(*types); t++)
					if (!same_answer(a, b, q, types[t])) {
						tap_diag("differs: %s type %u", q, types[t]);
						return false;
					}
			}
		}
	}
	return true;
}

static void test_patch(void)
{
	enum { NZ = 64 };
	zone_t *cur[NZ] = { 0 };
	for (int k = 0; k < NZ; k++)
		if (k % 10 != 5)	/* zones 5, 15, ... added later */
			cur[k] = pzone(k, 0);
	zset_t *prev = NULL;
	is_int(zset_new_from(NULL, zones_of(cur, NZ), &prev), MN_OK, "zset_new_from(NULL): built anew");
	is_int((long long)zset_reused_zones(prev), 0, "built anew: no zone reused");

	/* one zone replaced, one gone, one added (every later index moves) */
	zone_t *gone = cur[20];
	zone_unref(cur[7]);
	cur[7] = pzone(7, 1);
	cur[20] = NULL;
	cur[25] = pzone(25, 0);
	zset_t *next = NULL, *full = NULL;
	is_int(zset_new_from(prev, zones_of(cur, NZ), &next), MN_OK, "the next generation patched");
	is_int(zset_new(zones_of(cur, NZ), &full), MN_OK, "and built anew from the same zones");
	size_t nzones = zset_zones(full)->n;
	is_int((long long)zset_reused_zones(next), (long long)nzones - 2,
	       "every zone but the replaced and the added one reused");
	is_int((long long)zset_name_count(next), (long long)zset_name_count(full), "as many names as built anew");
	ok(same_answers(next, full, NZ, 3), "every answer the same as from the set built anew");
	/* what changed, as the patch noted it: by index, read back by name */
	const uint32_t *fr = NULL, *gn = NULL;
	size_t nfr = 0, ngn = 0;
	ok(zset_changes(next, prev, &fr, &nfr, &gn, &ngn), "changes: noted by the patch");
	const zones_t *pz = zset_zones(prev), *nz = zset_zones(next);
	ok(nfr == 2 && fr[0] < fr[1] && fr[1] < nz->n && strcmp(zone_name(nz->v[fr[0]]), "_dmarc.d007.example") == 0 &&
	   strcmp(zone_name(nz->v[fr[1]]), "_dmarc.d025.example") == 0, "changes: d007 replaced and d025 added, in order");
	ok(ngn == 2 && gn[0] < gn[1] && gn[1] < pz->n && strcmp(zone_name(pz->v[gn[0]]), "_dmarc.d007.example") == 0 &&
	   strcmp(zone_name(pz->v[gn[1]]), "_dmarc.d020.example") == 0, "changes: d007 (replaced) and d020 gone, in order");
	ok(!zset_changes(full, prev, &fr, &nfr, &gn, &ngn) && !zset_changes(prev, NULL, &fr, &nfr, &gn, &ngn) &&
	   !zset_changes(next, full, &fr, &nfr, &gn, &ngn), "changes: none known for a set built anew or from another");
	uint8_t w[256];
	zset_result_t res;
	size_t n = put_name(w, "_dmarc.d020.example");
	zset_lookup(prev, w, n, ZONE_T_TXT, &res);
	is_int(res.status, ZSET_ANSWER, "the previous set still answers the gone zone");
	zset_lookup(next, w, n, ZONE_T_TXT, &res);
	is_int(res.status, ZSET_REFUSED, "the patched one does not");
	n = put_name(w, "v0.b.c._dmarc.d007.example");
	zset_lookup(prev, w, n, ZONE_T_TXT, &res);
	is_int(res.status, ZSET_ANSWER, "the previous set answers the replaced zone's old name");
	zset_lookup(next, w, n, ZONE_T_TXT, &res);
	is_int(res.status, ZSET_NXDOMAIN, "the patched one: NXDOMAIN for it");
	zone_unref(gone);
	zset_unref(prev);
	zset_unref(full);
	prev = next;

	/* churn: 200 generations, one or two zones each, patched from the last */
	bool alike = true, patched = true;
	for (int g = 1; g <= 200 && alike && patched; g++) {
		int k = (g * 37) % NZ;
		zone_unref(cur[k]);
		cur[k] = g % 3 == 0 ? NULL : pzone(k, g % 4);	/* replaced, or gone */
		if (g % 5 == 0) {
			int a = (g * 11 + 3) % NZ;
			if (cur[a] == NULL)
				cur[a] = pzone(a, 2);
		}
		next = full = NULL;
		if (zset_new_from(prev, zones_of(cur, NZ), &next) != MN_OK ||
		    zset_new(zones_of(cur, NZ), &full) != MN_OK) {
			alike = false;
			break;
		}
		patched = zset_reused_zones(next) > 0;
		alike = zset_name_count(next) == zset_name_count(full) && same_answers(next, full, NZ, 3);
		zset_unref(prev);
		zset_unref(full);
		prev = next;
	}
	ok(patched, "200 generations of churn: each patched");
	ok(alike, "and each answering as the set built anew");

	/* many zones changed: built anew */
	for (int k = 0; k < NZ; k += 2) {
		zone_unref(cur[k]);
		cur[k] = pzone(k, 3);
	}
	is_int(zset_new_from(prev, zones_of(cur, NZ), &next), MN_OK, "half the zones changed");
	is_int((long long)zset_reused_zones(next), 0, "built anew");
	zset_unref(prev);
	prev = next;

	/* a zone whose apex is another's empty non-terminal: built anew */
	zone_t *nest[NZ + 1] = { 0 };
	memcpy(nest, cur, sizeof(cur));
	const char *t[] = { "c._dmarc.d001.example", "v=nested" };
	nest[NZ] = mkzone("c._dmarc.d001.example", 3600, t, 2, NULL, 0);
	zones_t *zn = zones_of(nest, NZ + 1);
	/* (sorted: the nested apex after _dmarc.d001.example's) */
	qsort(zn->v, zn->n, sizeof(*zn->v), zone_cmp_name);
	is_int(zset_new_from(prev, zn, &next), MN_OK, "a nested zone added");
	is_int((long long)zset_reused_zones(next), 0, "names shared between zones: built anew");
	n = put_name(w, "c._dmarc.d001.example");
	zset_lookup(next, w, n, ZONE_T_TXT, &res);
	is_str(res.status == ZSET_ANSWER && res.zone ? zone_name(res.zone) : NULL, "c._dmarc.d001.example",
	       "the nested zone answers its apex");
	zone_unref(nest[NZ]);
	zset_unref(prev);
	zset_unref(next);
	for (int k = 0; k < NZ; k++)
		zone_unref(cur[k]);
}

/*
 * The order check of zset_new_from's walk: a pair of zones the previous set
 * holds too is matched by object, without strcmp; out of order anywhere (the
 * previous set's zones too, on the first patch after a set built anew) is
 * built anew, never patched.
 */
static void test_patch_order(void)
{
	enum { NZ = 40 };
	zone_t *cur[NZ];
	for (int k = 0; k < NZ; k++)
		cur[k] = pzone(k, 0);
	zset_t *a = NULL, *b = NULL, *c = NULL, *full = NULL;
	if (zset_new_from(NULL, zones_of(cur, NZ), &a) != MN_OK || zset_new_from(a, zones_of(cur, NZ), &b) != MN_OK)
		tap_bail("zset_new_from failed");
	/* (b, patched from a, is known in order: its next generations are checked next to new zones only) */
	zset_unref(a);
	a = b;

	/* two neighbours the previous set holds, swapped: built anew */
	zone_t *sw[NZ];
	memcpy(sw, cur, sizeof(sw));
	sw[20] = cur[21];
	sw[21] = cur[20];
	is_int(zset_new_from(a, zones_of(sw, NZ), &b), MN_OK, "two held zones swapped");
	is_int((long long)zset_reused_zones(b), 0, "out of order: built anew, not patched");
	zset_unref(b);

	/* a new zone out of place among held ones: built anew */
	zone_t *nw[NZ];
	memcpy(nw, cur, sizeof(nw));
	nw[10] = pzone(50, 1);	/* (an apex after every other) */
	is_int(zset_new_from(a, zones_of(nw, NZ), &b), MN_OK, "a new zone out of place");
	is_int((long long)zset_reused_zones(b), 0, "built anew");
	zone_unref(nw[10]);
	zset_unref(b);

	/* in order, zones replaced, added and removed in the middle: patched, and answering alike */
	zone_t *mid[NZ];
	memcpy(mid, cur, sizeof(mid));
	mid[13] = pzone(13, 2);	/* replaced */
	mid[14] = NULL;		/* removed */
	is_int(zset_new_from(a, zones_of(mid, NZ), &b), MN_OK, "one replaced, one removed in the middle");
	is_int((long long)zset_reused_zones(b), NZ - 2, "patched: the others reused");
	mid[14] = pzone(14, 3);	/* re-added, another version */
	is_int(zset_new_from(b, zones_of(mid, NZ), &c), MN_OK, "the removed one back");
	is_int((long long)zset_reused_zones(c), NZ - 1, "patched: only it new");
	is_int(zset_new(zones_of(mid, NZ), &full), MN_OK, "and built anew from the same zones");
	ok(same_answers(c, full, NZ, 3), "every answer as from the set built anew");
	zone_unref(mid[13]);
	zone_unref(mid[14]);
	zset_unref(b);
	zset_unref(c);
	zset_unref(full);
	zset_unref(a);

	/* a set built anew from zones out of order: its next generation is built anew too */
	if (zset_new_from(NULL, zones_of(sw, NZ), &a) != MN_OK)
		tap_bail("zset_new_from failed");
	is_int(zset_new_from(a, zones_of(sw, NZ), &b), MN_OK, "the same zones out of order again");
	is_int((long long)zset_reused_zones(b), 0, "the previous set's order unchecked before: built anew");
	is_int(zset_new_from(b, zones_of(cur, NZ), &c), MN_OK, "then in order");
	is_int((long long)zset_reused_zones(c), 0, "built anew (the previous set is out of order)");
	zset_unref(a);
	zset_unref(b);
	a = c;
	is_int(zset_new_from(a, zones_of(cur, NZ), &b), MN_OK, "in order after in order");
	is_int((long long)zset_reused_zones(b), NZ, "patched: every zone reused");
	zset_unref(a);
	zset_unref(b);
	for (int k = 0; k < NZ; k++)
		zone_unref(cur[k]);
}

/*
 * A freed set's node array and table (kept spare) make the next patch's
 * copy: the patched set answers as one built anew, the set it was patched
 * from keeps answering as before, and so does the one after.
 */
static void test_patch_spare(void)
{
	enum { NZ = 40 };
	zone_t *cur[NZ], *v1[NZ], *v2[NZ];
	for (int k = 0; k < NZ; k++)
		cur[k] = pzone(k, 0);
	memcpy(v1, cur, sizeof(v1));
	memcpy(v2, cur, sizeof(v2));
	v1[7] = pzone(7, 1);
	v2[7] = v1[7];
	v2[30] = pzone(30, 2);
	zset_t *a = NULL, *b = NULL, *c = NULL, *d = NULL, *fb = NULL, *fc = NULL, *fd = NULL;
	if (zset_new_from(NULL, zones_of(cur, NZ), &a) != MN_OK || zset_new_from(a, zones_of(v1, NZ), &b) != MN_OK ||
	    zset_new(zones_of(v1, NZ), &fb) != MN_OK || zset_new(zones_of(v2, NZ), &fc) != MN_OK ||
	    zset_new(zones_of(cur, NZ), &fd) != MN_OK)
		tap_bail("zset_new_from failed");
	is_int((long long)zset_reused_zones(b), NZ - 1, "spare: b patched from a");
	zset_unref(a);	/* (its arrays kept spare) */
	is_int(zset_new_from(b, zones_of(v2, NZ), &c), MN_OK, "spare: c patched from b, into a's arrays");
	is_int((long long)zset_reused_zones(c), NZ - 1, "spare: c patched");
	ok(same_answers(c, fc, NZ, 3), "spare: c answers as built anew");
	ok(same_answers(b, fb, NZ, 3), "spare: b as before");
	zset_t *e = NULL;	/* (the spare taken: new arrays, not c's) */
	is_int(zset_new_from(b, zones_of(cur, NZ), &e), MN_OK, "spare: e patched from b too");
	ok(same_answers(e, fd, NZ, 3) && same_answers(c, fc, NZ, 3), "spare: e answers as built anew, c as before");
	zset_unref(e);
	zset_unref(b);	/* (b's arrays spare now) */
	is_int(zset_new_from(c, zones_of(cur, NZ), &d), MN_OK, "spare: d patched from c, into b's arrays");
	ok(same_answers(d, fd, NZ, 3), "spare: d answers as built anew");
	ok(same_answers(c, fc, NZ, 3), "spare: c as before");
	zset_unref(c);
	zset_unref(d);
	zset_unref(fb);
	zset_unref(fc);
	zset_unref(fd);
	zone_unref(v1[7]);
	zone_unref(v2[30]);
	for (int k = 0; k < NZ; k++)
		zone_unref(cur[k]);
}

/* Zone k, version ver, signed with keys. */
static zone_t *spzone(int k, int ver, dnskey_set_t *keys)
{
	zone_t *z = pzone(k, ver), *s = NULL;
	sign_opts_t o = { .now = time(NULL), .validity = 14 * 86400 };
	if (sign_zone(z, keys, &o, &s) != MN_OK)
		tap_bail("cannot sign zone %d", k);
	zone_unref(z);
	return s;
}

/* A patched generation of signed zones: the same answers and DNSSEC records as built anew. */
static void test_patch_signed(void)
{
	enum { NZ = 16 };
	dnskey_set_t keys = { 0 };
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, time(NULL), &keys.ksk) != MN_OK)
		tap_bail("no key");
	zone_t *cur[NZ] = { 0 };
	for (int k = 0; k < NZ; k++)
		if (k != 5)
			cur[k] = spzone(k, 0, &keys);
	zset_t *prev = NULL, *next = NULL, *full = NULL;
	if (zset_new_from(NULL, zones_of(cur, NZ), &prev) != MN_OK)
		tap_bail("zset_new_from failed");
	zone_unref(cur[7]);
	cur[7] = spzone(7, 1, &keys);
	cur[5] = spzone(5, 0, &keys);
	is_int(zset_new_from(prev, zones_of(cur, NZ), &next), MN_OK, "signed: the next generation patched");
	is_int(zset_new(zones_of(cur, NZ), &full), MN_OK, "signed: and built anew");
	ok(zset_reused_zones(next) > 0, "signed: zones reused");
	ok(same_answers(next, full, NZ, 3), "signed: every answer and its DNSSEC records as from the set built anew");
	uint8_t w[256];
	size_t n = put_name(w, "v0.b.c._dmarc.d007.example");
	zset_result_t res;
	zset_proof_t pf;
	zset_lookup_dnssec(next, w, n, ZONE_T_TXT, &res, &pf);
	ok(res.status == ZSET_NXDOMAIN && pf.is_signed && pf.nnsec > 0,
	   "signed: the replaced zone's old name: NXDOMAIN with its proof");
	zset_unref(prev);
	zset_unref(next);
	zset_unref(full);
	for (int k = 0; k < NZ; k++)
		zone_unref(cur[k]);
	dnskey_set_clear(&keys);
}

/* ---- the first table built in parts: the same as built whole ---- */

/* Zone k of the split tests: an apex, a wildcard (its ENT), a deep owner (two ENTs) and an owner below it. */
static zone_t *szone(int k, bool with_deep)
{
	char apex[64], wild[96], deep[96], mid[96];
	snprintf(apex, sizeof(apex), "_dmarc.s%05d.example", k);
	snprintf(wild, sizeof(wild), "*._report.%s", apex);
	snprintf(deep, sizeof(deep), "x.b.c.%s", apex);	/* ENTs b.c and c ... */
	snprintf(mid, sizeof(mid), "b.c.%s", apex);	/* ... b.c taken over by this owner (after x.b.c) */
	const char *t[] = { apex, "v=DMARC1; p=none", wild, "v=DMARC1", deep, "x", mid, "m" };
	return mkzone(apex, 3600, t, with_deep && k % 3 == 0 ? 8 : 4, NULL, 0);
}

/* zset_new_parts(zones, parts) beside zset_new_parts(zones, 1) of the same zone objects. */
static void split_same(zone_t *const *v, size_t n, unsigned parts, const char *what)
{
	zset_t *whole = NULL, *split = NULL;
	int rw = zset_new_parts(zones_of(v, n), 1, &whole);
	int rs = zset_new_parts(zones_of(v, n), parts, &split);
	is_int(rs, rw, "%s, %u parts: the result of the whole build (%d)", what, parts, rw);
	if (rw == MN_OK && rs == MN_OK) {
		ok(zset_same_names(whole, split), "%s, %u parts: the same names, nodes and order", what, parts);
		is_int((long long)zset_name_count(split), (long long)zset_name_count(whole), "%s, %u parts: %zu names",
		       what, parts, zset_name_count(whole));
	}
	zset_unref(whole);
	zset_unref(split);
}

static void test_split(void)
{
	enum { N = 6000 };
	zone_t **v = calloc(N + 2, sizeof(*v));
	size_t spilled = zset_spilled();
	/* 8,000 zones of three names: the table 3/4 full, runs of names across the parts' slots */
	zone_t **flat = calloc(8000, sizeof(*flat));
	for (int k = 0; k < 8000; k++)
		flat[k] = szone(k, false);
	for (unsigned parts = 2; parts <= 8; parts += 3)
		split_same(flat, 8000, parts, "8000 zones");
	for (int k = 0; k < 8000; k++)
		zone_unref(flat[k]);
	free(flat);
	ok(zset_spilled() > spilled + 10, "names probing past a part's slots were placed after (%zu)",
	   zset_spilled() - spilled);
	for (int k = 0; k < N; k++)
		v[k] = szone(k, true);
	for (unsigned parts = 2; parts <= 8; parts += 3)
		split_same(v, N, parts, "6000 zones");
	split_same(v, 2, 2, "2 zones");
	split_same(v, 777, 2, "777 zones");
	/* a signed zone in each half: their SOA signatures found alike */
	dnskey_set_t keys = { 0 };
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, time(NULL), &keys.ksk) != MN_OK)
		tap_bail("no key");
	zones_t *two = zones_of((zone_t *[]){ v[10], v[N - 10] }, 2);
	sign_all(two, &keys);
	zone_t *plain[2] = { v[10], v[N - 10] };
	v[10] = two->v[0];
	v[N - 10] = two->v[1];
	split_same(v, N, 2, "2 signed zones among 6000");
	v[10] = plain[0];
	v[N - 10] = plain[1];
	zones_free(two);
	dnskey_set_clear(&keys);
	/* the first half's zone again in the second: data for one name in two zones */
	v[N] = zone_ref(v[5]);
	split_same(v, N + 1, 2, "a zone in both halves");
	zone_unref(v[N]);
	/* a zone whose apex is an empty non-terminal of a zone in the other half: shared names */
	zone_t *nested = NULL;
	{
		const char *t[] = { "c._dmarc.s00003.example", "nested" };
		nested = mkzone("c._dmarc.s00003.example", 3600, t, 2, NULL, 0);
	}
	v[N] = nested;
	split_same(v, N + 1, 2, "a zone at another's empty non-terminal");
	/* one zone unfinished, in the second half */
	zone_t *raw = NULL;
	if (zone_new("_dmarc.raw.example", ZONE_DMARC, "raw.example", &raw) != MN_OK)
		tap_bail("zone_new");
	v[N + 1] = raw;
	split_same(v, N + 2, 2, "an unfinished zone");
	for (int k = 0; k < N + 2; k++)
		zone_unref(v[k]);
	free(v);
}

int main(void)
{
	zset_t *set = NULL;
	if (zset_new(test_zones(), &set) != MN_OK)
		tap_bail("zset_new failed");
	test_lookups(set);
	test_bytes(set);
	test_counts(set);
	zset_unref(set);
	test_dnssec();
	test_refs_and_errors();
	test_scale();
	test_patch();
	test_patch_order();
	test_patch_spare();
	test_patch_signed();
	test_split();
	return tap_done();
}
