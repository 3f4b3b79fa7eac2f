/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_sign.c -- signed zones: every RRSIG verified by ldns, the NSEC chain closed and exact */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ldns/ldns.h>

#include "policy/buf.h"
#include "policy/mn.h"
#include "policy/policy.h"
#include "policy/wire.h"
#include "tests/tap/tap.h"
#include "zones/compile.h"
#include "zones/serial.h"
#include "zones/keydirs.h"
#include "zones/sigstore.h"
#include "zones/sign.h"
#include "zones/zone_internal.h"	/* white-box: flips signature bytes */
#include "zones/zonefile.h"

static const uint8_t soa_rd[] = {
	3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
	1, 'h', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0,
	0x78, 0x9a, 0xbc, 0xde,	/* serial */
	0, 0, 0x0e, 0x10, 0, 0, 0x03, 0x84, 0, 0x09, 0x3a, 0x80,
	0, 0, 0x01, 0x2c,	/* minimum 300 */
};
static const uint8_t ns_rd[] = { 3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0 };

/* An SPF macro zone: apex SOA/NS, a wildcard TXT, a name two labels down, a second NS. */
static zone_t *make_zone(const char *apex, size_t extra)
{
	zone_t *z = NULL;
	if (zone_new(apex, ZONE_SPF, "example.com", &z) != MN_OK)
		tap_bail("zone_new");
	char owner[300];
	if (z == NULL || zone_add_rr(z, apex, ZONE_T_SOA, 3600, soa_rd, sizeof(soa_rd)) != MN_OK ||
	    zone_add_rr(z, apex, ZONE_T_NS, 3600, ns_rd, sizeof(ns_rd)) != MN_OK)
		tap_bail("zone");
	snprintf(owner, sizeof(owner), "*.%s", apex);
	if (zone_add_txt(z, owner, 3600, "v=spf1 ip4:192.0.2.0/24 -all") != MN_OK ||
	    zone_add_txt(z, apex, 3600, "v=spf1 include:%{ir}._spf.example.com -all") != MN_OK)
		tap_bail("txt");
	snprintf(owner, sizeof(owner), "a.b.%s", apex);
	if (zone_add_txt(z, owner, 300, "two") != MN_OK || zone_add_txt(z, owner, 300, "one") != MN_OK)
		tap_bail("txt");
	for (size_t i = 0; i < extra; i++) {
		snprintf(owner, sizeof(owner), "n%zu.%s", i, apex);
		if (zone_add_txt(z, owner, 3600, "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=") != MN_OK)
			tap_bail("txt");
	}
	if (zone_finish(z) != MN_OK)
		tap_bail("finish");
	return z;
}

/* The signed zone as ldns reads it from its master-file text. */
static ldns_zone *to_ldns(const zone_t *z)
{
	char *text = NULL;
	size_t len = 0;
	if (zonefile_render(z, &text, &len) != MN_OK)
		return NULL;
	FILE *f = fmemopen(text, len, "r");
	ldns_zone *lz = NULL;
	int line = 0;
	ldns_status st = f != NULL ? ldns_zone_new_frm_fp_l(&lz, f, NULL, 3600, LDNS_RR_CLASS_IN, &line) :
				     LDNS_STATUS_ERR;
	if (f != NULL)
		fclose(f);
	free(text);
	if (st != LDNS_STATUS_OK) {
		tap_diag("ldns: %s at line %d", ldns_get_errorstr_by_id(st), line);
		return NULL;
	}
	return lz;
}

/* Every record of lz, the SOA first. */
static ldns_rr_list *all_rrs(ldns_zone *lz)
{
	ldns_rr_list *l = ldns_rr_list_clone(ldns_zone_rrs(lz));
	ldns_rr_list_push_rr(l, ldns_rr_clone(ldns_zone_soa(lz)));
	return l;
}

/* The RRset of (owner, type) in l, cloned. */
static ldns_rr_list *rrset_of(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type type)
{
	ldns_rr_list *s = ldns_rr_list_new();
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		if (ldns_rr_get_type(rr) == type && ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			ldns_rr_list_push_rr(s, ldns_rr_clone(rr));
	}
	return s;
}

static void diag_rr(const char *what, const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	tap_diag("%s: %s", what, s != NULL ? s : "?");
	free(s);
}

typedef struct verdict {
	size_t rrsets, rrsigs, verified, nsec, nsec_ok;
	bool closed;
	uint16_t ksk_tag_of_dnskey, tag_of_txt;
	uint8_t labels_of_wildcard;
} verdict_t;

/* Verifies every RRSIG of z with ldns against its DNSKEY RRset at time at, and walks the NSEC chain. */
static verdict_t check_zone_at(const zone_t *z, time_t at)
{
	verdict_t v = { 0 };
	ldns_zone *lz = to_ldns(z);
	if (lz == NULL)
		return v;
	ldns_rr_list *l = all_rrs(lz);
	ldns_rdf *apex = ldns_rdf_clone(ldns_rr_owner(ldns_zone_soa(lz)));
	ldns_rr_list *keys = rrset_of(l, apex, LDNS_RR_TYPE_DNSKEY);
	ldns_rr_list_sort(l);
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t == LDNS_RR_TYPE_RRSIG) {
			v.rrsigs++;
			ldns_rr_type cov = ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr));
			ldns_rr_list *set = rrset_of(l, ldns_rr_owner(rr), cov);
			ldns_rr_list *good = ldns_rr_list_new();
			if (ldns_verify_rrsig_keylist_time(set, rr, keys, at, good) == LDNS_STATUS_OK)
				v.verified++;
			else
				diag_rr("RRSIG does not verify", rr);
			uint16_t tag = ldns_rdf2native_int16(ldns_rr_rrsig_keytag(rr));
			if (cov == LDNS_RR_TYPE_DNSKEY)
				v.ksk_tag_of_dnskey = tag;
			if (cov == LDNS_RR_TYPE_TXT)
				v.tag_of_txt = tag;
			if (cov == LDNS_RR_TYPE_TXT && ldns_dname_is_wildcard(ldns_rr_owner(rr)))
				v.labels_of_wildcard = ldns_rdf2native_int8(ldns_rr_rrsig_labels(rr));
			ldns_rr_list_free(good);
			ldns_rr_list_deep_free(set);
			continue;
		}
		/* a new RRset starts: count it (the list is sorted) */
		ldns_rr *prev = i > 0 ? ldns_rr_list_rr(l, i - 1) : NULL;
		if (prev == NULL || ldns_rr_get_type(prev) != t ||
		    ldns_dname_compare(ldns_rr_owner(prev), ldns_rr_owner(rr)) != 0)
			v.rrsets++;
		if (t != LDNS_RR_TYPE_NSEC)
			continue;
		v.nsec++;
		/* its bitmap: exactly the owner's types, RRSIG and NSEC */
		bool exact = ldns_nsec_bitmap_covers_type(ldns_nsec_get_bitmap(rr), LDNS_RR_TYPE_RRSIG);
		size_t types = 0;
		for (size_t k = 0; k < ldns_rr_list_rr_count(l); k++) {
			ldns_rr *o = ldns_rr_list_rr(l, k);
			if (ldns_dname_compare(ldns_rr_owner(o), ldns_rr_owner(rr)) != 0)
				continue;
			exact = exact && ldns_nsec_bitmap_covers_type(ldns_nsec_get_bitmap(rr), ldns_rr_get_type(o));
		}
		for (uint16_t ty = 1; ty < 256; ty++) {
			if (!ldns_nsec_bitmap_covers_type(ldns_nsec_get_bitmap(rr), ty))
				continue;
			types++;
			ldns_rr_list *s = rrset_of(l, ldns_rr_owner(rr), ty);
			exact = exact && ldns_rr_list_rr_count(s) > 0;
			ldns_rr_list_deep_free(s);
		}
		if (exact && types >= 3)
			v.nsec_ok++;
		else
			diag_rr("NSEC bitmap wrong", rr);
	}
	/* the chain: from the apex, each owner once, back to the apex */
	ldns_rdf *pos = ldns_rdf_clone(apex);
	size_t steps = 0;
	for (; steps <= v.nsec; steps++) {
		ldns_rr_list *n = rrset_of(l, pos, LDNS_RR_TYPE_NSEC);
		if (ldns_rr_list_rr_count(n) != 1) {
			ldns_rr_list_deep_free(n);
			break;
		}
		ldns_rdf *next = ldns_rdf_clone(ldns_rr_rdf(ldns_rr_list_rr(n, 0), 0));
		ldns_rr_list_deep_free(n);
		/* canonical order: next sorts after pos, except the last one, back pos the apex */
		bool back = ldns_dname_compare(next, apex) == 0;
		if (!back && ldns_dname_compare(pos, next) >= 0) {
			ldns_rdf_deep_free(next);
			break;
		}
		ldns_rdf_deep_free(pos);
		pos = next;
		if (back) {
			steps++;
			break;
		}
	}
	v.closed = steps == v.nsec && ldns_dname_compare(pos, apex) == 0;
	ldns_rdf_deep_free(pos);
	ldns_rdf_deep_free(apex);
	ldns_rr_list_deep_free(keys);
	ldns_rr_list_deep_free(l);
	ldns_zone_deep_free(lz);
	return v;
}

static verdict_t check_zone(const zone_t *z)
{
	return check_zone_at(z, time(NULL));
}

static void test_sign(dnssec_alg_t alg, bool split, const char *what)
{
	zone_t *z = make_zone("_spf.example.com", 3);
	dnskey_set_t keys = { 0 };
	time_t now = time(NULL);
	if (dnskey_new(alg, DNSKEY_FLAGS_SEP, now, &keys.ksk) != MN_OK ||
	    (split && dnskey_new(alg, DNSKEY_FLAGS_ZSK, now, &keys.zsk) != MN_OK))
		tap_bail("keys");
	size_t made = 0;
	sign_opts_t o = { .now = now, .validity = 14 * 86400, .signatures = &made };
	zone_t *s = NULL;
	if (!is_int(sign_zone(z, &keys, &o, &s), MN_OK, "%s: signed", what))
		return;
	is_int(s->serial, z->serial, "%s: the same serial", what);
	ok(s->rrs[0].type == ZONE_T_SOA, "%s: the SOA first", what);
	/* owners: apex, *, a.b, n0..n2 = 6; RRsets: apex SOA NS TXT DNSKEY CDS CDNSKEY NSEC (7), 5 x (TXT NSEC) */
	verdict_t v = check_zone(s);
	is_int(v.nsec, 6, "%s: one NSEC per owner name", what);
	is_int(v.nsec_ok, 6, "%s: each bitmap is the owner's types with RRSIG and NSEC", what);
	ok(v.closed, "%s: the NSEC chain runs from the apex through every owner back to it", what);
	is_int(v.rrsets, 17, "%s: 17 RRsets", what);
	is_int(v.rrsigs, v.rrsets, "%s: one RRSIG per RRset", what);
	is_int(v.verified, v.rrsigs, "%s: ldns verifies every RRSIG", what);
	is_int(made, v.rrsigs, "%s: signatures counted", what);
	is_int(v.labels_of_wildcard, 3, "%s: the wildcard's RRSIG counts 3 labels (not the *)", what);
	is_int(v.ksk_tag_of_dnskey, dnskey_tag(keys.ksk), "%s: the DNSKEY RRset signed by the SEP key", what);
	is_int(v.tag_of_txt, dnskey_tag(split ? keys.zsk : keys.ksk), "%s: TXT signed by the %s", what,
	       split ? "ZSK" : "CSK");
	uint8_t apex[64];
	int al = mn_name_to_wire("_spf.example.com", apex, sizeof(apex));
	long i = zone_find(s, apex, (uint16_t)al, ZONE_T_NSEC);
	ok(i >= 0 && s->rrs[i].ttl == 300, "%s: NSEC TTL = min(SOA TTL, minimum) = 300", what);
	i = zone_find(s, apex, (uint16_t)al, ZONE_T_CDS);
	ok(i >= 0 && s->rrs[i].rdlen == 36 && s->rrs[i].rdata[3] == 2, "%s: a CDS with a SHA-256 digest", what);
	ok(zone_find(s, apex, (uint16_t)al, ZONE_T_CDNSKEY) >= 0, "%s: a CDNSKEY", what);

	/* the verification can fail: one bit of one signature flipped */
	i = zone_find(s, apex, (uint16_t)al, ZONE_T_RRSIG);
	if (i >= 0) {
		s->rrs[i].rdata[s->rrs[i].rdlen - 1] ^= 1;
		verdict_t bad = check_zone(s);
		is_int(bad.verified, v.verified - 1, "%s: a flipped bit fails exactly that RRSIG", what);
		s->rrs[i].rdata[s->rrs[i].rdlen - 1] ^= 1;
	}
	/* signing a signed zone makes it anew, not twice */
	zone_t *again = NULL;
	if (is_int(sign_zone(s, &keys, &o, &again), MN_OK, "%s: a signed zone signed again", what)) {
		is_int(again->nrrs, s->nrrs, "%s: the same number of records", what);
		zone_unref(again);
	}
	zone_unref(s);
	zone_unref(z);
	dnskey_set_clear(&keys);
}

static char *render(const zone_t *z)
{
	char *text = NULL;
	size_t len = 0;
	if (zonefile_render(z, &text, &len) != MN_OK)
		tap_bail("render");
	return text;
}

/* Stored signatures: reused while valid, made anew near expiry or for a changed RRset. */
static void test_reuse(void)
{
	zone_t *z = make_zone("_spf.example.com", 3);
	dnskey_set_t keys = { 0 };
	time_t now = time(NULL);
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, now, &keys.ksk) != MN_OK)
		tap_bail("key");
	sigcache_t *first = NULL, *second = NULL, *third = NULL;
	if (sigcache_new(&first) != MN_OK || sigcache_new(&second) != MN_OK || sigcache_new(&third) != MN_OK)
		tap_bail("cache");
	size_t made = 0, reused = 0;
	sign_opts_t o = { .now = now, .validity = 14 * 86400, .refresh = 7 * 86400, .keep = first,
			  .signatures = &made, .reused = &reused };
	zone_t *a = NULL, *b = NULL, *c = NULL;
	is_int(sign_zone(z, &keys, &o, &a), MN_OK, "signed, the signatures kept");
	is_int(sigcache_count(first), made, "one kept per signature made");
	size_t all = made;
	/* a day later: every signature reused, the same bytes */
	made = reused = 0;
	o.now = now + 86400;
	o.old = first;
	o.keep = second;
	is_int(sign_zone(z, &keys, &o, &b), MN_OK, "a day later, signed with the old signatures");
	is_int(reused, all, "every signature reused");
	is_int(made, 0, "none made");
	char *ta = render(a), *tb = render(b);
	is_str(tb, ta, "the signed zone is the same, byte for byte");
	free(ta);
	free(tb);
	/* eight days later: less than the refresh period remains: all made anew */
	made = reused = 0;
	o.now = now + 8 * 86400;
	o.old = second;
	o.keep = third;
	is_int(sign_zone(z, &keys, &o, &c), MN_OK, "eight days later");
	ok(made == all && reused == 0, "every signature made anew (made %zu, reused %zu)", made, reused);
	verdict_t v = check_zone_at(c, o.now);
	ok(v.verified == v.rrsigs && v.rrsigs == all, "and they verify (then)");
	zone_unref(c);
	/* a changed RRset: its signature alone is made (its owner's NSEC stays: same types) */
	zone_t *z2 = NULL;
	if (zone_new("_spf.example.com", ZONE_SPF, "example.com", &z2) != MN_OK)
		tap_bail("zone_new");
	for (size_t i = 0; i < z->nrrs; i++) {
		char owner[256];
		mn_name_from_wire(z->rrs[i].owner, z->rrs[i].owner_len, owner, sizeof(owner));
		if (z->rrs[i].type == ZONE_T_TXT && strncmp(owner, "a.b.", 4) == 0)
			continue;
		zone_add_rr(z2, owner, z->rrs[i].type, z->rrs[i].ttl, z->rrs[i].rdata, z->rrs[i].rdlen);
	}
	zone_add_txt(z2, "a.b._spf.example.com", 300, "three");
	if (zone_finish(z2) != MN_OK)
		tap_bail("finish");
	made = reused = 0;
	o.now = now + 86400;
	o.old = first;
	o.keep = NULL;
	is_int(sign_zone(z2, &keys, &o, &c), MN_OK, "a zone with one RRset changed");
	ok(made == 1 && reused == all - 1, "one signature made, the others reused (made %zu, reused %zu)", made, reused);
	v = check_zone_at(c, o.now);
	ok(v.verified == v.rrsigs && v.rrsigs == all, "and all verify (then)");
	/* a signature of another key is not taken */
	dnskey_set_t other = { 0 };
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, now, &other.ksk) != MN_OK)
		tap_bail("key");
	made = reused = 0;
	zone_t *d = NULL;
	is_int(sign_zone(z, &other, &o, &d), MN_OK, "another key");
	ok(reused == 0 && made == all, "nothing reused across keys");
	zone_unref(d);
	dnskey_set_clear(&other);
	zone_unref(z2);
	zone_unref(c);
	zone_unref(a);
	zone_unref(b);
	zone_unref(z);
	sigcache_free(first);
	sigcache_free(second);
	sigcache_free(third);
	dnskey_set_clear(&keys);
}

/* The stored form: saved, loaded back, a damaged file taken as empty, a link refused. */
static void test_sigfile(void)
{
	char state[] = "/tmp/test_sign.XXXXXX";
	if (mkdtemp(state) == NULL)
		tap_bail("mkdtemp");
	const char *zn = "_spf.example.com";
	dnskey_set_t keys = { 0 };
	bool match;
	if (dnskey_zone_keys(state, zn, DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, true, time(NULL), &keys, &match) != MN_OK)
		tap_bail("keys");
	/* signing with the keys read back from their files: ldns verifies it */
	for (int alg = 0; alg < 2; alg++) {
		const char *n2 = alg ? "_dmarc.example.com" : "_domainkey.example.com";
		dnssec_alg_t al = alg ? DNSSEC_ALG_ED25519 : DNSSEC_ALG_ECDSAP256SHA256;
		dnskey_set_t made = { 0 }, read = { 0 };
		if (dnskey_zone_keys(state, n2, al, DNSSEC_KEYS_KSK_ZSK, true, time(NULL), &made, &match) != MN_OK ||
		    dnskey_zone_keys(state, n2, al, DNSSEC_KEYS_KSK_ZSK, false, time(NULL), &read, &match) != MN_OK ||
		    read.ksk == NULL || read.zsk == NULL)
			tap_bail("keys read back");
		zone_t *zz = make_zone(n2, 1), *ss = NULL;
		sign_opts_t o2 = { .now = time(NULL), .validity = 86400 };
		if (is_int(sign_zone(zz, &read, &o2, &ss), MN_OK, "%s: signed with the keys read from state_dir", n2)) {
			verdict_t v = check_zone(ss);
			ok(v.rrsigs > 0 && v.verified == v.rrsigs, "%s: ldns verifies all %zu RRSIGs", n2, v.rrsigs);
		}
		zone_unref(ss);
		zone_unref(zz);
		dnskey_set_clear(&made);
		dnskey_set_clear(&read);
	}
	zone_t *z = make_zone(zn, 1), *a = NULL;
	sigcache_t *keep = NULL, *back = NULL, *none = NULL;
	if (sigcache_new(&keep) != MN_OK)
		tap_bail("cache");
	sign_opts_t o = { .now = time(NULL), .validity = 86400, .refresh = 3600, .keep = keep };
	is_int(sign_zone(z, &keys, &o, &a), MN_OK, "signed");
	is_int(sigcache_load(state, zn, &none), MN_OK, "no file yet: an empty cache");
	is_int(sigcache_count(none), 0, "empty");
	is_int(sigcache_save(keep, none, state, zn), MN_OK, "saved");
	is_int(sigcache_load(state, zn, &back), MN_OK, "loaded back");
	is_int(sigcache_count(back), sigcache_count(keep), "every entry back");
	char path[512], cmd[1100];
	snprintf(path, sizeof(path), "%s/dnssec/%s/sigs", state, zn);
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "the file is 0640");
	time_t before = st.st_mtime;
	ino_t ino = st.st_ino;
	is_int(sigcache_save(back, back, state, zn), MN_OK, "saved unchanged");
	ok(stat(path, &st) == 0 && st.st_ino == ino && st.st_mtime == before, "an unchanged cache is not written again");
	sigcache_free(back);
	back = NULL;
	/* damaged in place, its structure intact: a byte of the last RRSIG's signature flipped */
	FILE *f = fopen(path, "r+b");
	if (f == NULL || fseek(f, st.st_size - 32 - 1, SEEK_SET) != 0)
		tap_bail("open sigs");
	int byte = fgetc(f);
	if (byte == EOF || fseek(f, st.st_size - 32 - 1, SEEK_SET) != 0 || fputc(byte ^ 0x5a, f) == EOF ||
	    fclose(f) != 0)
		tap_bail("damage sigs");
	is_int(sigcache_load(state, zn, &back), MN_OK, "a signature damaged in place: the file loads");
	is_int(sigcache_count(back), 0, "as empty (its checksum): no signature of it is reused");
	zone_t *a2 = NULL;
	size_t reused = 0, made = 0;
	sign_opts_t o3 = { .now = time(NULL), .validity = 86400, .refresh = 3600, .old = back,
			   .reused = &reused, .signatures = &made };
	if (is_int(sign_zone(z, &keys, &o3, &a2), MN_OK, "signed with it")) {
		verdict_t v = check_zone(a2);
		ok(reused == 0 && made > 0 && v.verified == v.rrsigs, "every signature made anew (%zu), all verify",
		   made);
	}
	zone_unref(a2);
	sigcache_free(back);
	back = NULL;
	/* another zone's file (valid for it) copied over this one's */
	const char *other = "_domainkey.example.com";
	is_int(sigcache_save(keep, NULL, state, other), MN_OK, "the same signatures saved as another zone's");
	snprintf(cmd, sizeof(cmd), "cp '%s/dnssec/%s/sigs' '%s'", state, other, path);
	if (system(cmd) != 0)
		tap_bail("cp");
	is_int(sigcache_load(state, other, &back), MN_OK, "loaded as that zone's");
	is_int(sigcache_count(back), sigcache_count(keep), "every entry");
	sigcache_free(back);
	back = NULL;
	is_int(sigcache_load(state, zn, &back), MN_OK, "copied into this zone's directory");
	is_int(sigcache_count(back), 0, "another zone's file: none of it is reused");
	sigcache_free(back);
	back = NULL;
	snprintf(cmd, sizeof(cmd), "truncate -s -5 '%s'", path);
	if (system(cmd) != 0)
		tap_bail("truncate");
	is_int(sigcache_load(state, zn, &back), MN_OK, "a damaged file loads");
	is_int(sigcache_count(back), 0, "as empty: everything is signed anew");
	sigcache_free(back);
	back = NULL;
	snprintf(cmd, sizeof(cmd), "rm -f '%s' && ln -s /etc/passwd '%s'", path, path);
	if (system(cmd) != 0)
		tap_bail("ln");
	is_int(sigcache_load(state, zn, &back), MN_ESYMLINK, "a link in its place is refused");
	sigcache_free(keep);
	sigcache_free(none);
	zone_unref(a);
	zone_unref(z);
	dnskey_set_clear(&keys);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", state);
}

/* ---- the compile cache keeps signed zones ---------------------------------------------- */

enum { CACHE_DOMAINS = 1000, CACHE_T0 = 1900000000 };

/* The policy of test_cache: CACHE_DOMAINS signed domains, d<changed> with p: reject. */
static void cache_policy(const char *state, const char *path, int changed)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "version: 1\nserver:\n  nameservers: [ns1.example.net.]\n"
		    "  hostmaster: hostmaster.example.net.\n  state_dir: %s\n  dnssec: true\n"
		    "  dnssec_validity: 2h\n  dnssec_refresh: 1h\ndomains:\n", state);
	for (int i = 0; i < CACHE_DOMAINS; i++)
		mn_buf_addf(&b, "  d%04d.example: { dmarc: { p: %s } }\n", i, i == changed ? "reject" : "none");
	char *text = mn_buf_take(&b);
	FILE *f = fopen(path, "w");
	if (text == NULL || f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		tap_bail("write %s", path);
	free(text);
}

/* Compiles path with the cache at now: the stats, the zones (*out, freed by the caller). */
static int cache_compile(const char *path, compile_cache_t *cc, time_t now, compile_stats_t *st, zones_t **out)
{
	diag_t *dg = NULL;
	policy_t *p = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag");
	int r = policy_load(path, dg, &p);
	compile_opts_t co = { .now = now, .persist_serials = true, .cache = cc, .stats = st };
	*st = (compile_stats_t){ 0 };
	if (r == MN_OK)
		r = zones_compile(p, &co, dg, out);
	if (r != MN_OK) {
		char *m = diag_join(dg, 2000);
		tap_diag("compile: %s: %s", mn_strerror(r), m != NULL ? m : "");
		free(m);
	}
	policy_free(p);
	diag_free(dg);
	return r;
}

static const zone_t *find_zone(const zones_t *zs, const char *name)
{
	for (size_t i = 0; zs != NULL && i < zs->n; i++)
		if (strcmp(zone_name(zs->v[i]), name) == 0)
			return zs->v[i];
	return NULL;
}

/* The expiration of the RRSIG over the apex's TXT (0: none). */
static uint32_t txt_rrsig_exp(const zone_t *z)
{
	for (size_t i = 0; z != NULL && i < z->nrrs; i++)
		if (z->rrs[i].type == ZONE_T_RRSIG && mn_get16(z->rrs[i].rdata) == 16 &&
		    z->rrs[i].owner_len == z->apex_len)
			return mn_get32(z->rrs[i].rdata + 8);
	return 0;
}

static void test_cache(void)
{
	char state[] = "/tmp/test_sign_cache.XXXXXX", path[300], cmd[700];
	if (mkdtemp(state) == NULL)
		tap_bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/policy.yaml", state);
	serial_forget();
	compile_cache_t *cc = NULL;
	if (compile_cache_new(&cc) != MN_OK)
		tap_bail("cache");
	compile_stats_t st;
	zones_t *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
	const size_t nz = 3 * CACHE_DOMAINS;	/* _domainkey, _dmarc, _spf each */
	time_t t = CACHE_T0;

	cache_policy(state, path, -1);
	is_int(cache_compile(path, cc, t, &st, &a), MN_OK, "1,000 signed domains compiled");
	is_int(st.signed_zones, nz, "every zone signed: %zu", st.signed_zones);
	is_int(st.signed_reused, 0, "none reused");
	is_int(st.resign_at, t + 3600, "the first refresh: validity 2 h - refresh 1 h from now");
	tap_diag("first compile: signed %zu zones, reused %zu", st.signed_zones, st.signed_reused);

	/* the key directories were written within the second (the signatures): looked at again */
	is_int(cache_compile(path, cc, t + 30, &st, &b), MN_OK, "compiled again, unchanged");
	is_int(st.signed_zones, nz, "every domain looked at again (its key directory had just changed)");
	ok(find_zone(b, "_dmarc.d0001.example") != NULL &&
	   memcmp(zone_digest(find_zone(b, "_dmarc.d0001.example")), zone_digest(find_zone(a, "_dmarc.d0001.example")),
		  32) == 0, "the same signed content (from the store)");
	zones_free(b);
	b = NULL;
	is_int(cache_compile(path, cc, t + 60, &st, &b), MN_OK, "compiled again, unchanged");
	is_int(st.signed_zones, 0, "nothing signed");
	is_int(st.signed_reused, nz, "every signed zone reused from the cache");
	ok(find_zone(b, "_dmarc.d0001.example") == find_zone(a, "_dmarc.d0001.example") ||
	   zone_serial(find_zone(b, "_dmarc.d0001.example")) == zone_serial(find_zone(a, "_dmarc.d0001.example")),
	   "the same zone, the same serial");

	/* another zone's stored signatures damaged in place: read, it would be signed anew */
	snprintf(cmd, sizeof(cmd), "truncate -s 10 '%s/dnssec/_dmarc.d0001.example/sigs'", state);
	if (system(cmd) != 0)
		tap_bail("truncate");
	cache_policy(state, path, 500);
	is_int(cache_compile(path, cc, t + 120, &st, &c), MN_OK, "one domain changed");
	tap_diag("one domain changed: signed %zu zones, reused %zu", st.signed_zones, st.signed_reused);
	is_int(st.signed_zones, 3, "its three zones signed, no other");
	is_int(st.signed_reused, nz - 3, "the others reused, their signature files not read");
	const zone_t *o1 = find_zone(a, "_dmarc.d0500.example"), *n1 = find_zone(c, "_dmarc.d0500.example");
	ok(o1 != NULL && n1 != NULL && zone_serial(n1) > zone_serial(o1), "the changed zone's serial moved");
	o1 = find_zone(a, "_spf.d0500.example");
	n1 = find_zone(c, "_spf.d0500.example");
	ok(o1 != NULL && n1 != NULL && zone_serial(n1) == zone_serial(o1) &&
	   memcmp(zone_digest(n1), zone_digest(o1), 32) == 0,
	   "its unchanged zone signed with the stored signatures: same content, same serial");
	verdict_t v = check_zone_at(find_zone(c, "_dmarc.d0500.example"), t + 120);
	ok(v.rrsigs > 0 && v.verified == v.rrsigs, "the changed zone verifies (%zu of %zu)", v.verified, v.rrsigs);

	/* a key directory changed (a key added by a rollover): that domain signed again */
	snprintf(cmd, sizeof(cmd), "touch '%s/dnssec/_spf.d0002.example/new' && rm '%s/dnssec/_spf.d0002.example/new'",
		 state, state);
	if (system(cmd) != 0)
		tap_bail("touch");
	is_int(cache_compile(path, cc, t + 180, &st, &d), MN_OK, "a key directory changed");
	is_int(st.signed_zones, 6, "that domain's zones signed again, and those of d0500 signed the last time "
	       "(its directory then changed within the second: looked at again), no other");

	/* the refresh time: everything is due, signed anew, the serials move */
	uint32_t exp0 = txt_rrsig_exp(find_zone(a, "_dmarc.d0001.example"));
	is_int(cache_compile(path, cc, t + 3601, &st, &e), MN_OK, "compiled when the signatures need refresh");
	is_int(st.signed_zones, nz, "every zone signed again");
	const zone_t *z0 = find_zone(a, "_dmarc.d0007.example"), *z1 = find_zone(e, "_dmarc.d0007.example");
	ok(z0 != NULL && z1 != NULL && zone_serial(z1) > zone_serial(z0), "the serial moved: %u -> %u",
	   z0 ? zone_serial(z0) : 0, z1 ? zone_serial(z1) : 0);
	uint32_t exp1 = txt_rrsig_exp(find_zone(e, "_dmarc.d0001.example"));
	is_int(exp0, t + 7200, "the first signatures expired at t + 2 h");
	is_int(exp1, t + 3601 + 7200, "the new ones at the refresh + 2 h");
	/* (the signatures d0500's change made at t + 120 were not due: reused, the first to refresh next) */
	is_int(st.resign_at, t + 120 + 3600, "the next refresh: the change's signatures, an hour after it");

	/* a serial moved under a signed zone (another writer of the serials): its SOA is signed again */
	diag_t *dg = NULL;
	policy_t *p = NULL;
	if (diag_new(&dg) != MN_OK || policy_load(path, dg, &p) != MN_OK)
		tap_bail("policy");
	size_t at = 0;
	while (at < e->n && strcmp(zone_name(e->v[at]), "_spf.d0009.example") != 0)
		at++;
	if (at == e->n)
		tap_bail("no _spf.d0009.example");
	ok(!sign_zone_stale(e->v[at]), "signed for its serial");
	uint8_t dg9[32];	/* (the zone as the cache and the stored list have it) */
	memcpy(dg9, e->v[at]->digest, sizeof(dg9));
	uint32_t moved = zone_serial(e->v[at]) + 5;
	is_int(serial_set(e, at, zone_serial(e->v[at]) + 7), MN_OK, "its serial moved");
	ok(sign_zone_stale(e->v[at]), "stale: the SOA's RRSIG is for another serial");
	v = check_zone_at(e->v[at], t + 3601);
	ok(v.verified + 1 == v.rrsigs, "ldns rejects the SOA's RRSIG (%zu of %zu verify)", v.verified, v.rrsigs);
	zone_t **old = NULL;
	size_t nold = 0;
	is_int(sign_settle(p, e, t + 3601, dg, &old, &nold), MN_OK, "settled");
	is_int(nold, 1, "one zone signed again");
	ok(!sign_zone_stale(e->v[at]), "signed for its serial now");
	v = check_zone_at(e->v[at], t + 3601);
	ok(v.rrsigs > 0 && v.verified == v.rrsigs, "ldns verifies all %zu RRSIGs", v.rrsigs);
	for (size_t i = 0; i < nold; i++)
		zone_unref(old[i]);
	free(old);
	policy_free(p);
	diag_free(dg);

	/*
	 * Through the compile: another writer's journal line moves the serial of
	 * a zone the cache hands on unchanged; the next compile gives it that
	 * serial (the stored list read again) and signs its SOA again.
	 */
	char line[200], jpath[400];
	int k = snprintf(line, sizeof(line), "_spf.d0009.example %u ", moved);
	for (size_t i = 0; i < 32; i++)
		k += snprintf(line + k, sizeof(line) - (size_t)k, "%02x", dg9[i]);
	snprintf(line + k, sizeof(line) - (size_t)k, "\n");
	snprintf(jpath, sizeof(jpath), "%s/zones/serials.journal", state);
	FILE *jf = fopen(jpath, "a");
	if (jf == NULL || fputs(line, jf) < 0 || fclose(jf) != 0)
		tap_bail("cannot append to %s", jpath);
	zones_t *f = NULL;
	is_int(cache_compile(path, cc, t + 3660, &st, &f), MN_OK, "compiled after another writer's serial");
	const zone_t *z9 = find_zone(f, "_spf.d0009.example");
	is_int(z9 != NULL ? zone_serial(z9) : 0, moved, "the reused zone has the other writer's serial");
	ok(z9 != NULL && !sign_zone_stale(z9), "and its SOA signed for it");
	v = check_zone_at(z9, t + 3661);
	ok(v.rrsigs > 0 && v.verified == v.rrsigs, "ldns verifies all %zu RRSIGs", v.rrsigs);
	zones_free(f);

	zones_free(a);
	zones_free(b);
	zones_free(c);
	zones_free(d);
	zones_free(e);
	compile_cache_free(cc);
	serial_forget();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", state);
}

/* How many of test_cache's domains the store of state holds whole (all three zones); one: the first of them. */
static size_t stored_whole(const char *state, char one[64])
{
	sigstore_t *s = NULL;
	if (sigstore_open(state, &s) != MN_OK)
		tap_bail("sigstore_open");
	size_t whole = 0;
	one[0] = '\0';
	for (int i = 0; i < CACHE_DOMAINS; i++) {
		char dom[64];
		sigstore_ent_t ev[ZONE_KINDS];
		size_t n = 0;
		snprintf(dom, sizeof(dom), "d%04d.example", i);
		if (sigstore_domain(s, dom, ev, ZONE_KINDS, &n) != MN_OK || n != 3 || ev[0].m.nzones != 3)
			continue;
		if (whole++ == 0)
			snprintf(one, 64, "%s", dom);
	}
	sigstore_free(s);
	return whole;
}

/*
 * A start from the signed-zone store (a new cache over the same state): every
 * domain taken whole, each key directory looked at once, and the key state
 * that look gave is the one the next compile finds (every domain reused from
 * the cache); a key directory changed between two starts: its domain is not
 * taken from the store.
 */
static void test_stored(void)
{
	char state[] = "/tmp/test_sign_stored.XXXXXX", path[300], cmd[700];
	if (mkdtemp(state) == NULL)
		tap_bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/policy.yaml", state);
	serial_forget();
	compile_cache_t *c1 = NULL, *c2 = NULL, *c3 = NULL;
	if (compile_cache_new(&c1) != MN_OK || compile_cache_new(&c2) != MN_OK || compile_cache_new(&c3) != MN_OK)
		tap_bail("cache");
	compile_stats_t st;
	zones_t *a = NULL, *b = NULL, *c = NULL;
	const size_t nz = 3 * CACHE_DOMAINS;
	time_t t = CACHE_T0;
	cache_policy(state, path, -1);
	is_int(cache_compile(path, c1, t, &st, &a), MN_OK, "stored: 1,000 signed domains compiled, the store written");
	/*
	 * (This process wrote a store before, test_cache's: the zones signed within
	 * the second were left for a later write, which an eighth of the store must
	 * warrant: the store holds the domains settled by then, whole.)
	 */
	sleep(2);	/* (their key directories settled for the cache entries below) */
	char one[64];
	size_t whole = stored_whole(state, one);
	ok(whole > 0, "the store holds %zu domains whole", whole);
	is_int(cache_compile(path, c2, t + 30, &st, &b), MN_OK, "a start: compiled with a new cache");
	is_int(st.stored, whole, "every domain stored whole taken whole from the store (%zu)", st.stored);
	zones_free(b);
	b = NULL;
	is_int(cache_compile(path, c2, t + 60, &st, &b), MN_OK, "compiled again with that cache");
	is_int(st.stored, 0, "nothing taken from the store");
	is_int(st.signed_reused, nz, "every signed zone reused from the cache: the stored start's key state holds");
	ok(find_zone(b, "_dmarc.d0001.example") != NULL &&
	   memcmp(zone_digest(find_zone(b, "_dmarc.d0001.example")), zone_digest(find_zone(a, "_dmarc.d0001.example")),
		  32) == 0, "the same signed content");

	/* a file added to and removed from a key directory while stopped: not taken whole */
	snprintf(cmd, sizeof(cmd), "touch '%s/dnssec/_spf.%s/new' && rm '%s/dnssec/_spf.%s/new'", state, one, state, one);
	if (system(cmd) != 0)
		tap_bail("touch");
	char again[64];
	whole = stored_whole(state, again);
	is_int(cache_compile(path, c3, t + 90, &st, &c), MN_OK, "a start after a key directory changed");
	char spf[80], other[80];
	snprintf(spf, sizeof(spf), "_spf.%s", one);
	snprintf(other, sizeof(other), "_dmarc.%s", one);
	const zone_t *z = find_zone(c, spf), *y = find_zone(c, other);
	ok(z != NULL && z->backing == NULL, "%s not served from the store (its key directory changed)", spf);
	ok(y != NULL && y->backing != NULL, "%s (its own directory unchanged) from the store", other);
	is_int(st.stored, whole - 1, "the other domains stored whole taken whole (%zu), not that one", st.stored);
	verdict_t v = check_zone_at(z, t + 90);
	ok(z != NULL && v.rrsigs > 0 && v.verified == v.rrsigs, "its zone signed and verifies (%zu of %zu)",
	   v.verified, v.rrsigs);
	zones_free(a);
	zones_free(b);
	zones_free(c);
	compile_cache_free(c1);
	compile_cache_free(c2);
	compile_cache_free(c3);
	serial_forget();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", state);
}

/* sign_keys_state: a key directory whose mtime is within the second is not trusted (coarse timestamps) */
static void test_settle(void)
{
	char state[] = "/tmp/test_sign_settle.XXXXXX", path[300], dir[400], cmd[700];
	if (mkdtemp(state) == NULL)
		tap_bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/policy.yaml", state);
	snprintf(dir, sizeof(dir), "%s/dnssec/_dmarc.d0003.example", state);
	serial_forget();
	cache_policy(state, path, -1);
	compile_stats_t st;
	zones_t *a = NULL;
	if (cache_compile(path, NULL, time(NULL), &st, &a) != MN_OK)
		tap_bail("compile");
	diag_t *dg = NULL;
	policy_t *p = NULL;
	if (diag_new(&dg) != MN_OK || policy_load(path, dg, &p) != MN_OK)
		tap_bail("policy");
	zone_t *v[1] = { (zone_t *)find_zone(a, "_dmarc.d0003.example") };
	if (v[0] == NULL)
		tap_bail("no zone");
	uint8_t s1[32], s2[32];
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[1] = ts[0];	/* mtime: now */
	is_int(utimensat(AT_FDCWD, dir, ts, 0), 0, "the key directory's mtime set to now");
	is_int(sign_keys_state(p, v, 1, s1), MN_OK, "its state");
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "its state again, nothing changed");
	ok(memcmp(s1, s2, 32) != 0, "not trusted: a change in the same tick would not show (never the same)");
	ts[0].tv_sec -= 10;
	ts[1] = ts[0];	/* mtime: 10 s ago */
	is_int(utimensat(AT_FDCWD, dir, ts, 0), 0, "the mtime set 10 s back");
	is_int(sign_keys_state(p, v, 1, s1), MN_OK, "its state");
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "its state again");
	ok(memcmp(s1, s2, 32) == 0, "settled: the same state");
	ts[0].tv_nsec = (ts[0].tv_nsec + 1) % 1000000000;
	ts[1] = ts[0];	/* only the mtime's nanoseconds differ */
	is_int(utimensat(AT_FDCWD, dir, ts, 0), 0, "the mtime moved by a nanosecond");
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "its state");
	ok(memcmp(s1, s2, 32) != 0, "another state (every field counts)");
	is_int(sign_keys_state(p, v, 1, s1), MN_OK, "and again: the same state");
	ok(memcmp(s1, s2, 32) == 0, "the same");
	snprintf(cmd, sizeof(cmd), "touch '%s/x'", dir);
	if (system(cmd) != 0)
		tap_bail("touch");
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "a file added");
	ok(memcmp(s1, s2, 32) != 0, "another state");
	/*
	 * Watched (keydirs.h, as mailnsd's watcher does): the state is looked at
	 * once, then kept while the watch reports nothing -- a change without an
	 * event (which a real watch would have reported) is not looked at.
	 */
	uint8_t s3[32];
	uint64_t nw = 0, h0 = 0, h1 = 0;
	ts[0].tv_sec -= 10;
	ts[1] = ts[0];
	is_int(utimensat(AT_FDCWD, dir, ts, 0), 0, "the mtime set 10 s back again");
	keydirs_watch(dir, true);
	keydirs_counts(&nw, &h0);
	is_int((int)nw, 1, "one directory watched");
	is_int(sign_keys_state(p, v, 1, s1), MN_OK, "watched: its state (looked at)");
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "its state again");
	keydirs_counts(&nw, &h1);
	ok(memcmp(s1, s2, 32) == 0 && h1 == h0 + 1, "the same, the second from the table (%llu hit)",
	   (unsigned long long)(h1 - h0));
	snprintf(cmd, sizeof(cmd), "touch '%s/y'", dir);
	if (system(cmd) != 0)
		tap_bail("touch");
	ts[1] = ts[0];
	utimensat(AT_FDCWD, dir, ts, 0);	/* (settled, and not reported) */
	is_int(sign_keys_state(p, v, 1, s3), MN_OK, "a file added, no event");
	ok(memcmp(s1, s3, 32) == 0, "not looked at: the state kept (O(changed): only reported directories)");
	keydirs_event(dir);
	is_int(sign_keys_state(p, v, 1, s3), MN_OK, "the event reported");
	ok(memcmp(s1, s3, 32) != 0, "looked at again: another state");
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "and again");
	ok(memcmp(s2, s3, 32) == 0, "kept: the same");
	/* a state taken within the second is never kept, watched or not */
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[1] = ts[0];
	utimensat(AT_FDCWD, dir, ts, 0);
	keydirs_event(dir);
	is_int(sign_keys_state(p, v, 1, s1), MN_OK, "changed now (reported)");
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "and again, unreported");
	ok(memcmp(s1, s2, 32) != 0, "not settled: never the same, not kept");
	/* an event between the look and the keeping: not kept */
	ts[0].tv_sec -= 10;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, dir, ts, 0);
	int64_t f[8] = { 0 };
	uint64_t gen = 0;
	const char *zn = "_dmarc.d0003.example";
	ok(!keydirs_get(state, zn, f, &gen) && gen != 0, "a ticket for the look");
	keydirs_event(dir);
	keydirs_put(state, zn, gen, f);
	ok(!keydirs_get(state, zn, f, &gen), "an event came before the put: nothing kept");
	/* no look at all while nothing changed since a number (the compile cache's reuse) */
	uint64_t seq = sign_keys_seq(p, v, 1);
	ok(seq != 0, "watched: a number (%llu)", (unsigned long long)seq);
	ok(sign_keys_unchanged(p, v, 1, seq), "unchanged since");
	keydirs_event("/elsewhere/dnssec/x");	/* (another state_dir's: nothing) */
	ok(sign_keys_unchanged(p, v, 1, seq), "an event elsewhere: still unchanged");
	keydirs_watch(dir, true);
	ok(!sign_keys_unchanged(p, v, 1, seq), "its watch started again: changed");
	seq = sign_keys_seq(p, v, 1);
	keydirs_forget(state, zn);
	ok(!sign_keys_unchanged(p, v, 1, seq), "written by this process: changed");
	seq = sign_keys_seq(p, v, 1);
	keydirs_event(dir);
	ok(!sign_keys_unchanged(p, v, 1, seq), "an event: changed");
	seq = sign_keys_seq(p, v, 1);
	keydirs_watch(dir, false);
	ok(!sign_keys_unchanged(p, v, 1, seq), "its watch stopped: changed");
	is_int((int)sign_keys_seq(p, v, 1), 0, "unwatched: no number");
	keydirs_counts(&nw, &h1);
	is_int((int)nw, 0, "no longer watched");
	is_int(sign_keys_state(p, v, 1, s1), MN_OK, "its state");
	snprintf(cmd, sizeof(cmd), "touch '%s/z'", dir);
	if (system(cmd) != 0)
		tap_bail("touch");
	ts[1] = ts[0];
	utimensat(AT_FDCWD, dir, ts, 0);
	is_int(sign_keys_state(p, v, 1, s2), MN_OK, "a file added, unwatched");
	ok(memcmp(s1, s2, 32) != 0, "unwatched: looked at every time");
	policy_free(p);
	diag_free(dg);
	zones_free(a);
	serial_forget();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", state);
}

/* Signatures per second for a zone of n names (a figure, not an assertion). */
static void bench(dnssec_alg_t alg, const char *what)
{
	zone_t *z = make_zone("_domainkey.example.com", 2000);
	dnskey_set_t keys = { 0 };
	if (dnskey_new(alg, DNSKEY_FLAGS_SEP, time(NULL), &keys.ksk) != MN_OK)
		tap_bail("key");
	size_t made = 0;
	sign_opts_t o = { .now = time(NULL), .validity = 86400, .signatures = &made };
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	zone_t *s = NULL;
	int r = sign_zone(z, &keys, &o, &s);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double sec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	if (is_int(r, MN_OK, "%s: a zone of 2005 names signed", what))
		tap_diag("%s: %zu signatures in %.3f s: %.0f zone signatures/s (one thread, zone copy and NSEC included)",
			 what, made, sec, (double)made / sec);
	zone_unref(s);
	zone_unref(z);
	dnskey_set_clear(&keys);
}

int main(void)
{
	test_sign(DNSSEC_ALG_ECDSAP256SHA256, false, "p256 csk");
	test_sign(DNSSEC_ALG_ED25519, false, "ed25519 csk");
	test_sign(DNSSEC_ALG_ECDSAP256SHA256, true, "p256 ksk+zsk");
	dnskey_set_t none = { 0 };
	zone_t *z = make_zone("_dmarc.example.com", 0), *s = NULL;
	sign_opts_t o = { .now = time(NULL), .validity = 3600 };
	is_int(sign_zone(z, &none, &o, &s), MN_EINVAL, "no key: MN_EINVAL");
	zone_unref(z);
	test_reuse();
	test_sigfile();
	test_cache();
	test_stored();
	test_settle();
	bench(DNSSEC_ALG_ECDSAP256SHA256, "p256");
	bench(DNSSEC_ALG_ED25519, "ed25519");
	return tap_done();
}
