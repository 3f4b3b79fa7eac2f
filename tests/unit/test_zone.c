/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_zone.c -- zone.c: adding records, canonical order, dedup, digest, serial, TXT split */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "tests/tap/tap.h"
#include "zones/zone.h"
#include "zones/zone_internal.h"

static const uint8_t soa_rd[] = {
	3, 'n', 's', '1', 0,			/* mname "ns1." (short, fine for the test) */
	1, 'h', 0,				/* rname "h." */
	0, 0, 0, 0,				/* serial */
	0, 0, 0x0e, 0x10,			/* refresh 3600 */
	0, 0, 0x03, 0x84,			/* retry 900 */
	0, 0x12, 0x75, 0,			/* expire 1209600 */
	0, 0, 0x01, 0x2c,			/* minimum 300 */
};
static const uint8_t ns_rd[] = { 3, 'n', 's', '1', 0 };
static const uint8_t a_rd[] = { 127, 0, 0, 2 };

static zone_t *base_zone(void)
{
	zone_t *z = NULL;
	if (zone_new("_spf.example.com", ZONE_SPF, "example.com", &z) != MN_OK)
		tap_bail("zone_new");
	return z;
}

static const char *owner_text(const zone_rr_t *rr, char *buf)
{
	if (mn_name_from_wire(rr->owner, rr->owner_len, buf, 256) < 0)
		strcpy(buf, "?");
	return buf;
}

/* Compile threads finish zones side by side: the pool and the slabs are shared. */
enum { TZONES = 2000 };
struct tbatch {
	zone_t *v[TZONES];
	int failed;
};

static void *finish_batch(void *arg)
{
	struct tbatch *b = arg;
	char txt[64];
	for (int i = 0; i < TZONES; i++) {
		zone_t *z = NULL;
		snprintf(txt, sizeof(txt), "v=spf1 ip4:10.0.%d.%d -all", i / 250, i % 250);
		if (zone_new("_spf.example.com", ZONE_SPF, "example.com", &z) != MN_OK ||
		    zone_add_rr(z, "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd)) ||
		    zone_add_rr(z, "_spf.example.com", ZONE_T_NS, 60, ns_rd, sizeof(ns_rd)) ||
		    zone_add_txt(z, "_spf.example.com", 60, txt) || zone_finish(z))
			b->failed++;
		b->v[i] = z;
	}
	return NULL;
}

static void test_threads(void)
{
	static struct tbatch b[2];
	pthread_t t[2];
	for (int k = 0; k < 2; k++)
		if (pthread_create(&t[k], NULL, finish_batch, &b[k]) != 0)
			tap_bail("pthread_create");
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	is_int(b[0].failed + b[1].failed, 0, "%d zones finished on two threads", 2 * TZONES);
	int shared = 0, same = 0;
	for (int i = 0; i < TZONES; i++) {
		shared += zone_rr(b[0].v[i], 1)->rdata == zone_rr(b[1].v[0], 1)->rdata;
		same += zone_rr(b[0].v[i], 2)->rdata == zone_rr(b[1].v[i], 2)->rdata &&
			zone_rr(b[0].v[i], 2)->rdata != zone_rr(b[0].v[(i + 1) % TZONES], 2)->rdata;
	}
	is_int(shared, TZONES, "one NS RRset for all of them");
	is_int(same, TZONES, "one TXT RRset per distinct text, across the threads");
	/* freed in another order than made; the survivors' bytes stay (ASan) */
	for (int i = 0; i < TZONES; i += 2)
		zone_unref(b[0].v[i]);
	int good = 0;
	for (int i = 1; i < TZONES; i += 2)
		good += zone_rr(b[0].v[i], 2)->rdata[0] > 0 && zone_rr(b[1].v[i - 1], 1)->rdlen == sizeof(ns_rd) &&
			memcmp(zone_rr(b[1].v[i - 1], 2)->rdata + 1, "v=spf1 ip4:10.0.", 16) == 0;
	is_int(good, TZONES / 2, "the other zones read their records after half were freed");
	for (int i = 0; i < TZONES; i++) {
		if (i % 2)
			zone_unref(b[0].v[i]);
		zone_unref(b[1].v[i]);
	}
}

/* One zone with the TXT "v=spf1 ip4:10.1.N.0/24 -all" (N < 65536), or NULL. */
static zone_t *txt_zone(int n)
{
	zone_t *z = NULL;
	char txt[64];
	snprintf(txt, sizeof(txt), "v=spf1 ip4:10.%d.%d.0/24 -all", n / 256, n % 256);
	if (zone_new("_spf.example.com", ZONE_SPF, "example.com", &z) != MN_OK ||
	    zone_add_rr(z, "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd)) ||
	    zone_add_txt(z, "_spf.example.com", 60, txt) || zone_finish(z))
		return NULL;
	return z;
}

/*
 * A zone's records while it is built share the thread's building slab with
 * the zones built and finished meanwhile: the slab starts over only when
 * nothing in it is held, so a zone left half-built (records small and over
 * the slab's piece size) keeps its bytes through thousands of others, and
 * one freed unfinished gives its pieces back.
 */
static void test_build_memory(void)
{
	static char big[9000];	/* a TXT over 8 KB: from malloc */
	memset(big, 'b', sizeof(big) - 1);
	zone_t *held = base_zone(), *dropped = base_zone();
	bool added = zone_add_rr(held, "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd)) == MN_OK &&
		     zone_add_txt(held, "_spf.example.com", 60, "v=spf1 -all") == MN_OK &&
		     zone_add_txt(held, "big._spf.example.com", 60, big) == MN_OK &&
		     zone_add_txt(dropped, "_spf.example.com", 60, "v=spf1 a -all") == MN_OK;
	ok(added, "two zones half-built");
	bool all = true;
	for (int i = 0; i < 5000 && all; i++) {
		zone_t *z = txt_zone(i);
		all = z != NULL;
		zone_unref(z);
		if (i == 2500) {
			zone_unref(dropped);	/* (freed unfinished, between the others) */
			all = all && zone_add_rr(held, "x._spf.example.com", ZONE_T_A, 60, a_rd, 4) == MN_OK;
		}
	}
	ok(all, "5,000 zones built and freed meanwhile");
	is_int(zone_finish(held), MN_OK, "the half-built zone finished after them");
	char buf[300];
	const zone_rr_t *rr = zone_rr(held, 0);
	is_int(zone_nrrs(held), 4, "its 4 records");
	ok(rr != NULL && rr->type == ZONE_T_SOA && rr->rdlen == sizeof(soa_rd) &&
	   memcmp(rr->rdata, soa_rd, sizeof(soa_rd)) == 0, "its SOA's bytes kept");
	rr = zone_rr(held, 1);
	ok(rr != NULL && rr->type == ZONE_T_TXT && rr->rdlen == 12 && memcmp(rr->rdata, "\x0bv=spf1 -all", 12) == 0,
	   "its TXT's bytes kept");
	rr = zone_rr(held, 2);
	is_str(rr != NULL ? owner_text(rr, buf) : NULL, "big._spf.example.com", "the big TXT's owner kept");
	ok(rr != NULL && rr->rdlen == 8999 + 36 && rr->rdata[0] == 255 && rr->rdata[1] == 'b' &&
	   rr->rdata[rr->rdlen - 1] == 'b', "the big TXT's bytes kept");
	rr = zone_rr(held, 3);
	is_str(rr != NULL ? owner_text(rr, buf) : NULL, "x._spf.example.com", "the A added later kept");
	zone_unref(held);
}

/*
 * The pool's table through growing and many removals in another order than
 * the additions: every RRset still there is found again (the same bytes,
 * not a second copy), and what was freed is made anew.
 */
static void test_pool_churn(void)
{
	enum { N = 6000 };
	static zone_t *v[N], *again[N];
	int made = 0;
	for (int i = 0; i < N; i++)
		made += (v[i] = txt_zone(i)) != NULL;
	is_int(made, N, "%d zones of distinct TXT RRsets", N);
	for (int i = 0; i < N; i++)
		if (i % 3 != 1 && v[i] != NULL) {
			zone_unref(v[i]);
			v[i] = NULL;
		}
	int found = 0, fresh = 0;
	for (int i = N - 1; i >= 0; i--) {
		again[i] = txt_zone(i);
		if (again[i] == NULL)
			continue;
		if (v[i] != NULL)
			found += zone_rr(again[i], 1)->rdata == zone_rr(v[i], 1)->rdata;
		else
			fresh += memcmp(zone_rr(again[i], 1)->rdata + 1, "v=spf1 ip4:10.", 14) == 0;
	}
	is_int(found, N / 3, "each RRset left after 2/3 were freed is found again");
	is_int(fresh, N - N / 3, "and the freed ones are made anew");
	for (int i = 0; i < N; i++) {
		zone_unref(v[i]);
		zone_unref(again[i]);
	}
}

/*
 * A zone finished from sorted records (a signed zone from the store) keeps
 * its RRsets in its own block, not the shared pool: the same records
 * finished normally are not the same bytes, and its records are whole in
 * answer form (the 12-byte header before each RDATA), readable after the
 * caller's records and the pooled zone are gone.
 */
static void test_finish_sorted_private(void)
{
	zone_t *a = NULL, *b = NULL;
	if (zone_new("_spf.example.com", ZONE_SPF, "example.com", &a) != MN_OK ||
	    zone_add_rr(a, "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd)) ||
	    zone_add_rr(a, "_spf.example.com", ZONE_T_NS, 60, ns_rd, sizeof(ns_rd)) ||
	    zone_add_txt(a, "_spf.example.com", 70, "v=spf1 ip4:10.9.9.0/24 -all") ||
	    zone_add_rr(a, "x._spf.example.com", ZONE_T_A, 80, a_rd, sizeof(a_rd)) || zone_finish(a))
		tap_bail("zone a");
	size_t n = zone_nrrs(a);
	zone_rr_t *v = malloc(n * sizeof(*v));
	uint8_t *copy = malloc(4096);
	if (v == NULL || copy == NULL)
		tap_bail("malloc");
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {	/* the caller's own copy, as sigstore.c's mapping */
		v[i] = *zone_rr(a, i);
		memcpy(copy + o, v[i].owner, v[i].owner_len);
		memcpy(copy + o + v[i].owner_len, v[i].rdata, v[i].rdlen);
		v[i].owner = copy + o;
		v[i].rdata = copy + o + v[i].owner_len;
		o += (size_t)v[i].owner_len + v[i].rdlen;
	}
	if (zone_new("_spf.example.com", ZONE_SPF, "example.com", &b) != MN_OK)
		tap_bail("zone b");
	is_int(zone_finish_sorted(b, v, n, zone_digest(a)), MN_OK, "zone_finish_sorted");
	int apart = 0, hdr = 0;
	for (size_t i = 1; i < n; i++) {
		const zone_rr_t *x = zone_rr(a, i), *y = zone_rr(b, i);
		apart += x->rdata != y->rdata;
		hdr += memcmp(x->rdata - 12, y->rdata - 12, 12u + x->rdlen) == 0;
	}
	is_int(apart, (int)n - 1, "its RRsets are its own, not the pool's");
	is_int(hdr, (int)n - 1, "in answer form: the same header and RDATA as the pooled zone's");
	memset(copy, 0, 4096);
	free(copy);
	free(v);
	uint8_t want[64];
	const zone_rr_t *t = zone_rr(a, 2);
	size_t tl = 12u + t->rdlen;
	memcpy(want, t->rdata - 12, tl);
	zone_unref(a);
	t = zone_rr(b, 2);
	tap_is_mem(t->rdata - 12, 12u + t->rdlen, want, tl, "read after the pooled zone is freed (ASan)");
	is_int(zone_serial(b), 0, "its serial from the SOA");
	zone_unref(b);
}

int main(void)
{
	char buf[256];

	/* zone_new */
	zone_t *z = base_zone();
	is_str(zone_name(z), "_spf.example.com", "zone name");
	is_str(zone_domain(z), "example.com", "zone domain");
	is_int(zone_kind(z), ZONE_SPF, "zone kind");
	static const uint8_t apex_wire[] = "\x04_spf\x07" "example\x03" "com";
	tap_is_mem(zone_apex(z), zone_apex_len(z), apex_wire, sizeof(apex_wire), "apex wire form");
	zone_t *keep = z;
	is_int(zone_new("bad..name", ZONE_SPF, "x", &z), MN_EINVAL, "zone_new rejects a bad name: MN_EINVAL");
	is_int(zone_new(NULL, ZONE_SPF, "x", &z), MN_EINVAL, "zone_new without an apex: MN_EINVAL");
	is_int(zone_new("_spf.example.com", ZONE_SPF, NULL, &z), MN_EINVAL, "zone_new without a domain: MN_EINVAL");
	is_int(zone_new("_spf.example.com", ZONE_SPF, "example.com", NULL), MN_EINVAL, "zone_new without out: MN_EINVAL");
	static char long_domain[66000];
	memset(long_domain, 'x', sizeof(long_domain) - 1);
	is_int(zone_new("_spf.example.com", ZONE_SPF, long_domain, &z), MN_EINVAL,
	       "zone_new with names over 65,535 bytes: MN_EINVAL");
	ok(z == keep, "zone_new leaves out untouched on failure");
	is_str(zone_kind_name(ZONE_DKIM), "dkim", "kind name dkim");
	is_str(zone_kind_name(ZONE_DMARC), "dmarc", "kind name dmarc");
	is_str(zone_kind_name(ZONE_SPF), "spf", "kind name spf");

	/* owners outside the zone are refused */
	is_int(zone_add_rr(z, "example.com", ZONE_T_A, 60, a_rd, 4), MN_EINVAL, "owner above the apex: EINVAL");
	is_int(zone_add_rr(z, "x_spf.example.com", ZONE_T_A, 60, a_rd, 4), MN_EINVAL,
	       "owner sharing only a suffix string: EINVAL");
	is_int(zone_add_rr(z, "_spf.example.org", ZONE_T_A, 60, a_rd, 4), MN_EINVAL, "other zone: EINVAL");

	/* a finish without SOA fails */
	is_int(zone_add_rr(z, "_spf.example.com", ZONE_T_NS, 60, ns_rd, sizeof(ns_rd)), MN_OK, "NS added");
	is_int(zone_finish(z), MN_EINVAL, "finish without SOA: EINVAL");
	zone_unref(z);

	/* records added out of order, with a duplicate */
	z = base_zone();
	is_int(zone_add_rr(z, "b.ip6._spf.example.com", ZONE_T_A, 60, a_rd, 4), MN_OK, "A b.ip6");
	is_int(zone_add_txt(z, "_spf.example.com", 60, "v=spf1 -all"), MN_OK, "TXT apex");
	is_int(zone_add_rr(z, "*.a.ip6._spf.example.com", ZONE_T_A, 60, a_rd, 4), MN_OK, "A *.a.ip6");
	is_int(zone_add_rr(z, "_spf.example.com", ZONE_T_NS, 60, ns_rd, sizeof(ns_rd)), MN_OK, "NS");
	is_int(zone_add_rr(z, "b.ip6._spf.example.com", ZONE_T_A, 60, a_rd, 4), MN_OK, "A b.ip6 again");
	is_int(zone_add_rr(z, "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd)), MN_OK, "SOA last");
	is_int(zone_add_rr(z, "a.ip6._spf.example.com", ZONE_T_A, 60, a_rd, 4), MN_OK, "A a.ip6");
	is_int((long long)zone_nrrs(z), 7, "7 records before finish");
	is_int(zone_finish(z), MN_OK, "finish");
	is_int((long long)zone_nrrs(z), 6, "duplicate removed");
	static const struct { const char *owner; int type; } order[] = {
		{ "_spf.example.com", ZONE_T_SOA },
		{ "_spf.example.com", ZONE_T_NS },
		{ "_spf.example.com", ZONE_T_TXT },
		{ "a.ip6._spf.example.com", ZONE_T_A },
		{ "*.a.ip6._spf.example.com", ZONE_T_A },
		{ "b.ip6._spf.example.com", ZONE_T_A },
	};
	for (size_t i = 0; i < zone_nrrs(z) && i < 6; i++) {
		is_str(owner_text(zone_rr(z, i), buf), order[i].owner, "canonical order %zu: owner", i);
		is_int(zone_rr(z, i)->type, order[i].type, "canonical order %zu: type", i);
	}
	/* the iterator walks the same records, in the same order, and stops */
	zone_iter_t it;
	zone_iter_init(&it, z);
	size_t seen = 0, same = 0;
	for (const zone_rr_t *rr; (rr = zone_iter_next(&it)) != NULL && seen < 100; seen++)
		same += seen < zone_nrrs(z) && rr == zone_rr(z, seen) && rr->type == order[seen].type;
	is_int((long long)seen, 6, "the iterator yields the 6 records");
	is_int((long long)same, 6, "each the record of that index, in canonical order");
	ok(zone_iter_next(&it) == NULL, "and stays at the end");
	zone_iter_init(&it, NULL);
	ok(zone_iter_next(&it) == NULL, "no zone: nothing");
	is_int(zone_serial(z), 0, "serial from the SOA");
	is_int(zone_negative_ttl(z), 60, "negative TTL = min(SOA TTL 60, minimum 300)");
	uint8_t digest0[32];
	memcpy(digest0, zone_digest(z), 32);

	/* serial patch */
	zone_set_serial(z, 2030010100);
	is_int(zone_serial(z), 2030010100, "zone_set_serial sets the field");
	static const uint8_t serial_bytes[] = { 0x78, 0xff, 0x7e, 0xf4 };	/* 2030010100 */
	tap_is_mem(zone_rr(z, 0)->rdata + 8, 4, serial_bytes, 4, "and patches the SOA RDATA");

	/* zone_find */
	uint8_t w[256];
	int wl = mn_name_to_wire("b.ip6._spf.example.com", w, sizeof(w));
	is_int(zone_find(z, w, (uint16_t)wl, ZONE_T_A), 5, "zone_find b.ip6 A");
	is_int(zone_find(z, w, (uint16_t)wl, ZONE_T_TXT), -1, "zone_find b.ip6 TXT: absent");
	static const uint8_t upper[] = "\x04_SPF\x07" "EXAMPLE\x03" "com";
	is_int(zone_find(z, upper, sizeof(upper), ZONE_T_NS), 1, "zone_find is case-insensitive");

	/* the digest ignores the serial but not the content */
	zone_t *z2 = base_zone();
	zone_add_rr(z2, "a.ip6._spf.example.com", ZONE_T_A, 60, a_rd, 4);
	zone_add_rr(z2, "b.ip6._spf.example.com", ZONE_T_A, 60, a_rd, 4);
	zone_add_rr(z2, "*.a.ip6._spf.example.com", ZONE_T_A, 60, a_rd, 4);
	zone_add_rr(z2, "_spf.example.com", ZONE_T_NS, 60, ns_rd, sizeof(ns_rd));
	zone_add_txt(z2, "_spf.example.com", 60, "v=spf1 -all");
	uint8_t soa2[sizeof(soa_rd)];
	memcpy(soa2, soa_rd, sizeof(soa2));
	soa2[8] = 0x55;	/* another serial */
	zone_add_rr(z2, "_spf.example.com", ZONE_T_SOA, 60, soa2, sizeof(soa2));
	is_int(zone_finish(z2), MN_OK, "second zone finishes");
	tap_is_mem(zone_digest(z2), 32, digest0, 32, "same records, another serial: same digest");
	zone_unref(z2);

	z2 = base_zone();
	zone_add_rr(z2, "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd));
	zone_add_rr(z2, "_spf.example.com", ZONE_T_NS, 60, ns_rd, sizeof(ns_rd));
	zone_add_txt(z2, "_spf.example.com", 60, "v=spf1 ~all");
	zone_finish(z2);
	ok(memcmp(zone_digest(z2), digest0, 32) != 0, "different records: different digest");
	zone_unref(z2);
	zone_unref(z);

	/* two SOAs */
	z = base_zone();
	zone_add_rr(z, "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd));
	zone_add_rr(z, "_spf.example.com", ZONE_T_SOA, 60, soa2, sizeof(soa2));
	is_int(zone_finish(z), MN_EINVAL, "two SOAs: EINVAL");
	zone_unref(z);

	/* TXT split at 255 */
	z = base_zone();
	char text[600];
	for (int i = 0; i < 600; i++)
		text[i] = (char)('a' + i % 26);
	static const struct { size_t len; size_t nstr; size_t last; } split[] = {
		{ 0, 1, 0 }, { 1, 1, 1 }, { 255, 1, 255 }, { 256, 2, 1 }, { 510, 2, 255 }, { 511, 3, 1 }, { 599, 3, 89 },
	};
	for (size_t k = 0; k < sizeof(split) / sizeof(split[0]); k++) {
		char t[601];
		memcpy(t, text, split[k].len);
		t[split[k].len] = '\0';
		zone_t *tz = base_zone();
		is_int(zone_add_txt(tz, "_spf.example.com", 60, t), MN_OK, "TXT of %zu bytes", split[k].len);
		const zone_rr_t *rr = zone_rr(tz, 0);
		is_int(rr->rdlen, (long long)(split[k].len + split[k].nstr), "TXT %zu: rdlen = text + %zu length bytes",
		       split[k].len, split[k].nstr);
		/* walk the character-strings */
		size_t o = 0, n = 0, last = 0, total = 0;
		while (o < rr->rdlen) {
			last = rr->rdata[o];
			total += last;
			o += 1 + last;
			n++;
		}
		is_int((long long)n, (long long)split[k].nstr, "TXT %zu: %zu strings", split[k].len, split[k].nstr);
		is_int((long long)last, (long long)split[k].last, "TXT %zu: last string %zu bytes", split[k].len,
		       split[k].last);
		is_int((long long)total, (long long)split[k].len, "TXT %zu: all text kept", split[k].len);
		if (split[k].len > 0)
			ok(memcmp(rr->rdata + 1, text, split[k].len < 255 ? split[k].len : 255) == 0,
			   "TXT %zu: first string is the text's start", split[k].len);
		zone_unref(tz);
	}
	static char huge[70000];
	memset(huge, 'x', sizeof(huge) - 1);
	is_int(zone_add_txt(z, "_spf.example.com", 60, huge), MN_ERANGE, "TXT over 65535 bytes of RDATA: ERANGE");
	zone_unref(z);

	/* finished: records in answer form, RRsets but the SOA shared between zones */
	zone_t *za = base_zone(), *zb = base_zone();
	zone_t *zc = NULL;
	if (zone_new("_spf.example.com", ZONE_SPF, "other.example", &zc) != MN_OK)
		tap_bail("zone_new");
	zone_t *zv[] = { za, zb, zc };
	for (int i = 0; i < 3; i++) {
		zone_add_rr(zv[i], "_spf.example.com", ZONE_T_SOA, 60, soa_rd, sizeof(soa_rd));
		zone_add_rr(zv[i], "_spf.example.com", ZONE_T_NS, 60, ns_rd, sizeof(ns_rd));
		zone_add_txt(zv[i], "_spf.example.com", 60, "v=spf1 -all");
		is_int(zone_finish(zv[i]), MN_OK, "zone %d finishes", i);
	}
	static const uint8_t ns_hdr[] = { 0xc0, 0x0c, 0, 2, 0, 1, 0, 0, 0, 60, 0, 5 };
	tap_is_mem(zone_rr(za, 1)->rdata - 12, 12, ns_hdr, 12, "NS header in answer form");
	tap_is_mem(zone_rr(za, 1)->rdata, zone_rr(za, 1)->rdlen, ns_rd, sizeof(ns_rd), "NS rdata after it");
	static const uint8_t soa_hdr[] = { 0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 60, 0, sizeof(soa_rd) };
	tap_is_mem(zone_rr(za, 0)->rdata - 12, 12, soa_hdr, 12, "SOA header in answer form");
	ok(zone_rr(za, 1)->rdata == zone_rr(zb, 1)->rdata && zone_rr(zb, 1)->rdata == zone_rr(zc, 1)->rdata,
	   "the same NS RRset is kept once for three zones");
	ok(zone_rr(za, 2)->rdata == zone_rr(zb, 2)->rdata, "the same TXT RRset is kept once");
	ok(zone_rr(za, 0)->rdata != zone_rr(zb, 0)->rdata, "each zone has its own SOA");
	zone_set_serial(za, 7);
	is_int(zone_rr(zb, 0)->rdata[11], 0, "a serial patch stays in its zone");
	is_int(zone_rr(za, 0)->rdata[11], 7, "and is in the zone's SOA");
	is_str(zone_name(za), "_spf.example.com", "name after finish");
	is_str(zone_domain(za), "example.com", "domain after finish (the name's tail)");
	is_str(zone_domain(zc), "other.example", "a domain that is not the name's tail");
	tap_is_mem(zone_apex(za), zone_apex_len(za), apex_wire, sizeof(apex_wire), "apex after finish");
	ok(zone_rr(za, 0)->owner == zone_apex(za), "the apex is the SOA owner's bytes");
	/* a record added after finish: the zone is taken apart and finished again */
	is_int(zone_add_txt(za, "x._spf.example.com", 60, "x"), MN_OK, "add after finish");
	is_str(zone_domain(za), "example.com", "domain while building again");
	is_int(zone_finish(za), MN_OK, "finish again");
	is_int((long long)zone_nrrs(za), 4, "4 records");
	is_int(zone_serial(za), 7, "the serial kept");
	is_str(owner_text(zone_rr(za, 3), buf), "x._spf.example.com", "the new record last");
	ok(zone_rr(za, 1)->rdata == zone_rr(zb, 1)->rdata, "NS shared again");
	zone_unref(za);
	zone_unref(zb);
	tap_is_mem(zone_rr(zc, 1)->rdata, zone_rr(zc, 1)->rdlen, ns_rd, sizeof(ns_rd),
		   "the last holder still reads the shared NS (ASan: no use after free)");
	is_str(zone_name(zc), "_spf.example.com", "its name");
	zone_unref(zc);

	/* zones_find */
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(3, sizeof(*zs->v));
	const char *names[] = { "_dmarc.a.example", "_domainkey.a.example", "_spf.a.example" };
	for (int i = 0; i < 3; i++, zs->n++)
		if (zone_new(names[i], (zone_kind_t)i, "a.example", &zs->v[i]) != MN_OK)
			tap_bail("zone_new");
	for (int i = 0; i < 3; i++)
		ok(zones_find(zs, names[i]) == zs->v[i], "zones_find %s", names[i]);
	ok(zones_find(zs, "_spf.b.example") == NULL, "zones_find of an absent zone: NULL");

	/* zones_match: a second set sharing _dmarc.a, without _domainkey.a, with _dmarc.b */
	zones_t *next = calloc(1, sizeof(*next));
	next->v = calloc(4, sizeof(*next->v));
	zone_t *dmarc_b = NULL;
	if (zone_new("_dmarc.b.example", ZONE_DMARC, "b.example", &dmarc_b) != MN_OK)
		tap_bail("zone_new");
	zone_t *spf_a = NULL;
	if (zone_new("_spf.a.example", ZONE_SPF, "a.example", &spf_a) != MN_OK)
		tap_bail("zone_new");
	next->v[next->n++] = zs->v[0];	/* the same object: borrowed, not freed with next */
	next->v[next->n++] = dmarc_b;
	next->v[next->n++] = spf_a;
	zones_cursor_t c1 = { .zs = zs };
	ok(zones_match(&c1, next->v[0]) == zs->v[0], "zones_match: the shared zone");
	ok(zones_match(&c1, dmarc_b) == NULL, "zones_match: _dmarc.b.example not in the old set");
	ok(zones_match(&c1, spf_a) == zs->v[2], "zones_match: _spf.a.example by name, past _domainkey.a");
	zones_cursor_t c2 = { .zs = next };
	ok(zones_match(&c2, zs->v[0]) == zs->v[0], "zones_match the other way: _dmarc.a");
	ok(zones_match(&c2, zs->v[1]) == NULL, "zones_match: _domainkey.a.example is gone");
	ok(zones_match(&c2, zs->v[2]) == spf_a, "zones_match: _spf.a.example");
	zones_cursor_t c3 = { .zs = NULL };
	ok(zones_match(&c3, spf_a) == NULL, "zones_match without a set: NULL");
	zone_unref(dmarc_b);
	zone_unref(spf_a);
	free(next->v);
	free(next);
	zones_free(zs);
	zones_free(NULL);
	zone_unref(NULL);

	test_threads();
	test_pool_churn();
	test_build_memory();
	test_finish_sorted_private();

	return tap_done();
}
