/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_dnskey.c -- DNSSEC keys: RDATA, key tag and DS against ldns, PEM, state_dir/dnssec/ZONE */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "keys/dnskey.h"
#include "policy/mn.h"
#include "tests/tap/tap.h"

static char tmp[PATH_MAX];

/* The key's DNSKEY as an ldns RR owned by apex. */
static ldns_rr *ldns_dnskey(const dnskey_t *k, const char *apex)
{
	uint16_t len;
	const uint8_t *rd = dnskey_rdata(k, &len);
	char text[512];
	int o = snprintf(text, sizeof(text), "%s. 3600 IN DNSKEY \\# %u ", apex, (unsigned)len);
	for (uint16_t i = 0; i < len; i++)
		o += snprintf(text + o, sizeof(text) - (size_t)o, "%02x", rd[i]);
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		return NULL;
	return rr;
}

static void test_key(dnssec_alg_t alg, uint16_t flags, const char *what)
{
	dnskey_t *k = NULL;
	if (!is_int(dnskey_new(alg, flags, 1700000000, &k), MN_OK, "%s: generated", what))
		return;
	uint16_t len;
	const uint8_t *rd = dnskey_rdata(k, &len);
	is_int(len, alg == DNSSEC_ALG_ED25519 ? 36 : 68, "%s: RDATA length", what);
	ok(rd[0] == flags >> 8 && rd[1] == (flags & 0xff) && rd[2] == 3 && rd[3] == alg,
	   "%s: flags, protocol 3, algorithm %d", what, (int)alg);
	ldns_rr *rr = ldns_dnskey(k, "example.com");
	if (ok(rr != NULL, "%s: ldns reads the DNSKEY", what)) {
		is_int(dnskey_tag(k), ldns_calc_keytag(rr), "%s: key tag as ldns computes it", what);
		ldns_rr *ds = ldns_key_rr2ds(rr, LDNS_SHA256);
		uint8_t mine[DNSKEY_DS_LEN];
		const uint8_t owner[] = "\007EXAMPLE\003com";	/* hashed lowercase */
		is_int(dnskey_ds(k, owner, sizeof(owner), mine), MN_OK, "%s: DS", what);
		ldns_buffer *b = ldns_buffer_new(128);
		if (ds != NULL && b != NULL && ldns_rr_rdata2buffer_wire(b, ds) == LDNS_STATUS_OK)
			tap_is_mem(mine, sizeof(mine), ldns_buffer_begin(b), ldns_buffer_position(b),
				   "%s: DS RDATA (SHA-256) as ldns_key_rr2ds makes it", what);
		else
			ok(false, "%s: ldns DS", what);
		ldns_buffer_free(b);
		ldns_rr_free(ds);
		ldns_rr_free(rr);
	}
	uint8_t sig[DNSKEY_SIG_MAX], sig2[DNSKEY_SIG_MAX];
	size_t sl = 0, sl2 = 0;
	const uint8_t data[] = "signed data";
	ok(dnskey_sign(k, data, sizeof(data), sig, &sl) == MN_OK && sl == 64, "%s: a 64-byte signature", what);
	ok(dnskey_sign(k, data, sizeof(data), sig2, &sl2) == MN_OK && sl2 == 64, "%s: the context signs again", what);
	/* the PEM round trip gives the same key */
	char *pem = NULL;
	size_t plen = 0;
	dnskey_t *back = NULL;
	ok(dnskey_pem(k, &pem, &plen) == MN_OK && strstr(pem, "BEGIN PRIVATE KEY") != NULL, "%s: PKCS#8 PEM", what);
	if (is_int(dnskey_from_pem(pem, plen, flags, 1700000000, &back), MN_OK, "%s: PEM read back", what)) {
		uint16_t bl;
		const uint8_t *brd = dnskey_rdata(back, &bl);
		tap_is_mem(brd, bl, rd, len, "%s: the same public key", what);
		is_int(dnskey_alg(back), alg, "%s: the same algorithm", what);
	}
	is_int(dnskey_from_pem("nonsense", 8, flags, 0, &back), MN_ESTATE, "%s: a bad PEM is refused", what);
	/* another form of the same key (traditional "EC PRIVATE KEY", or PKCS#8 re-wrapped at 76 columns) */
	char cmd[512], *other = NULL;
	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | openssl %s 2>/dev/null", pem,
		 alg == DNSSEC_ALG_ED25519 ? "pkey -outform PEM" : "ec -outform PEM");
	FILE *f = popen(cmd, "r");
	size_t olen = 0;
	if (f != NULL) {
		other = calloc(1, 4096);
		olen = other != NULL ? fread(other, 1, 4095, f) : 0;
		pclose(f);
	}
	dnskey_t *k2 = NULL;
	if (ok(olen > 0, "%s: openssl rewrote the key", what) &&
	    is_int(dnskey_from_pem(other, olen, flags, 0, &k2), MN_OK, "%s: that form loads too", what)) {
		uint16_t l2;
		const uint8_t *rd2 = dnskey_rdata(k2, &l2);
		tap_is_mem(rd2, l2, rd, len, "%s: the same key", what);
	}
	dnskey_free(k2);
	free(other);
	free(pem);
	dnskey_free(back);
	dnskey_free(k);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_mode & 07777 : 0;
}

/* The names in dir ending in sfx, counted. */
static int count_files(const char *dir, const char *sfx)
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "ls '%s' 2>/dev/null | grep -c '%s$'", dir, sfx);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f != NULL && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f != NULL)
		pclose(f);
	return n;
}

static void test_store(void)
{
	char state[PATH_MAX + 16], zdir[PATH_MAX + 64];
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(zdir, sizeof(zdir), "%s/dnssec/_dmarc.example.com", state);
	dnskey_set_t s = { 0 };
	bool match = false;
	is_int(dnskey_zone_keys(state, "_dmarc.example.com", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, false, 1000,
				&s, &match), MN_OK, "no state_dir, no create: MN_OK");
	ok(s.ksk == NULL && s.zsk == NULL && access(state, F_OK) != 0, "nothing made, nothing written");

	is_int(dnskey_zone_keys(state, "_dmarc.example.com", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, true, 1000,
				&s, &match), MN_OK, "create: a CSK");
	ok(s.ksk != NULL && s.zsk == NULL && dnskey_flags(s.ksk) == DNSKEY_FLAGS_SEP && match, "one SEP key, as asked");
	is_int(count_files(zdir, ".pem"), 1, "one .pem");
	is_int(count_files(zdir, ".key"), 1, "one .key");
	is_int(mode_of(zdir), 0750, "the zone's directory 0750");
	char path[PATH_MAX + 128];
	snprintf(path, sizeof(path), "%s/%05u-1000.pem", zdir, (unsigned)dnskey_tag(s.ksk));
	is_int(mode_of(path), 0640, "the private key 0640 (read by the server)");
	uint16_t l1, l2;
	uint8_t first[DNSKEY_RDATA_MAX];
	const uint8_t *made = dnskey_rdata(s.ksk, &l1);
	memcpy(first, made, l1);
	dnskey_set_clear(&s);

	is_int(dnskey_zone_keys(state, "_dmarc.example.com", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, true, 2000,
				&s, &match), MN_OK, "again");
	if (ok(s.ksk != NULL, "the stored key loads")) {
		const uint8_t *again = dnskey_rdata(s.ksk, &l2);
		tap_is_mem(again, l2, first, l1, "the same key, not a new one");
	}
	is_int(count_files(zdir, ".key"), 1, "still one key");
	dnskey_set_clear(&s);
	is_int(dnskey_zone_keys(state, "_dmarc.example.com", DNSSEC_ALG_ED25519, DNSSEC_KEYS_CSK, false, 2000, &s,
				&match), MN_OK, "asked for ed25519");
	ok(s.ksk != NULL && dnskey_alg(s.ksk) == DNSSEC_ALG_ECDSAP256SHA256 && !match,
	   "the stored key is kept and reported as not matching (a rollover's job)");
	dnskey_set_clear(&s);

	is_int(dnskey_zone_keys(state, "_spf.example.com", DNSSEC_ALG_ED25519, DNSSEC_KEYS_KSK_ZSK, true, 3000, &s,
				&match), MN_OK, "create: KSK + ZSK, ed25519");
	ok(s.ksk != NULL && s.zsk != NULL && dnskey_flags(s.ksk) == 257 && dnskey_flags(s.zsk) == 256 &&
	   dnskey_alg(s.zsk) == DNSSEC_ALG_ED25519 && dnskey_tag(s.ksk) != dnskey_tag(s.zsk) && match,
	   "flags 257 and 256, distinct tags");
	dnskey_set_clear(&s);
	snprintf(zdir, sizeof(zdir), "%s/dnssec/_spf.example.com", state);
	is_int(count_files(zdir, ".key"), 2, "two keys stored");
	is_int(dnskey_zone_keys(state, "_spf.example.com", DNSSEC_ALG_ED25519, DNSSEC_KEYS_KSK_ZSK, false, 3000, &s,
				&match), MN_OK, "the pair loads");
	ok(s.ksk != NULL && s.zsk != NULL && match, "both");
	dnskey_set_clear(&s);

	/* a symbolic link where a zone's directory goes is not entered */
	snprintf(path, sizeof(path), "%s/dnssec/_bimi.example.com", state);
	if (symlink(tmp, path) != 0)
		tap_bail("symlink");
	is_int(dnskey_zone_keys(state, "_bimi.example.com", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, true, 1,
				&s, &match), MN_ESYMLINK, "a link in place of the zone's directory: refused");
	/* a damaged key file is an error, not a silent new key */
	snprintf(path, sizeof(path), "%s/dnssec/_dmarc.example.com/%05u-1000.pem", state, (unsigned)0);
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd), "for f in '%s'/dnssec/_dmarc.example.com/*.pem; do echo broken > \"$f\"; done", state);
	if (system(cmd) != 0)
		tap_bail("cannot damage");
	is_int(dnskey_zone_keys(state, "_dmarc.example.com", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, true, 1,
				&s, &match), MN_ESTATE, "a damaged private key: MN_ESTATE");
	ok(s.ksk == NULL, "nothing returned");
	is_int(dnskey_zone_keys(state, "../x", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_CSK, true, 1, &s, &match),
	       MN_EINVAL, "a zone name with a slash: MN_EINVAL");
}

/* Writes a key file in the format of before rollovers (no role, no changed, no ds). */
static void write_legacy(const char *zdir, const dnskey_t *k)
{
	char path[PATH_MAX + 128], *pem = NULL;
	size_t plen = 0;
	if (dnskey_pem(k, &pem, &plen) != MN_OK)
		tap_bail("pem");
	snprintf(path, sizeof(path), "%s/%05u-%lld.pem", zdir, (unsigned)dnskey_tag(k), (long long)dnskey_created(k));
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(pem, 1, plen, f) != plen || fclose(f) != 0)
		tap_bail("write %s", path);
	free(pem);
	snprintf(path, sizeof(path), "%s/%05u-%lld.key", zdir, (unsigned)dnskey_tag(k), (long long)dnskey_created(k));
	f = fopen(path, "w");
	if (f == NULL || fprintf(f, "algorithm %u\nflags %u\ncreated %lld\nstate active\n", (unsigned)dnskey_alg(k),
				 (unsigned)dnskey_flags(k), (long long)dnskey_created(k)) < 0 || fclose(f) != 0)
		tap_bail("write %s", path);
}

/* Keys of before rollovers read as active; a zone's keys in every state: published, what each signs. */
static void test_states(void)
{
	char state[PATH_MAX + 16], zdir[PATH_MAX + 64], cmd[PATH_MAX + 80];
	snprintf(state, sizeof(state), "%s/st2", tmp);
	snprintf(zdir, sizeof(zdir), "%s/dnssec/_dmarc.example.org", state);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", zdir);
	if (system(cmd) != 0)
		tap_bail("mkdir");
	dnskey_t *ksk = NULL, *zsk = NULL;
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, 100, &ksk) != MN_OK ||
	    dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_ZSK, 100, &zsk) != MN_OK)
		tap_bail("keys");
	write_legacy(zdir, ksk);
	dnskey_meta_t *v = NULL;
	size_t n = 0;
	is_int(dnskey_zone_list(state, "_dmarc.example.org", &v, &n), MN_OK, "migration: a CSK of before rollovers lists");
	ok(n == 1 && v[0].state == DNSKEY_ACTIVE && v[0].role == DNSKEY_ROLE_CSK && v[0].changed == 100 &&
	   v[0].ds == DNSKEY_DS_NONE && v[0].tag == dnskey_tag(ksk), "read as an active CSK, changed = created, ds none");
	free(v);
	write_legacy(zdir, zsk);
	is_int(dnskey_zone_list(state, "_dmarc.example.org", &v, &n), MN_OK, "migration: KSK + ZSK list");
	ok(n == 2 && v[0].state == DNSKEY_ACTIVE && v[1].state == DNSKEY_ACTIVE &&
	   ((v[0].role == DNSKEY_ROLE_KSK && v[1].role == DNSKEY_ROLE_ZSK) ||
	    (v[1].role == DNSKEY_ROLE_KSK && v[0].role == DNSKEY_ROLE_ZSK)), "the SEP key beside a ZSK is a KSK");
	free(v);
	dnskey_set_t s = { 0 };
	bool match = false;
	is_int(dnskey_zone_keys(state, "_dmarc.example.org", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, true, 200,
				&s, &match), MN_OK, "migration: the old files sign");
	ok(s.ksk != NULL && s.zsk != NULL && dnskey_tag(s.ksk) == dnskey_tag(ksk) && dnskey_tag(s.zsk) == dnskey_tag(zsk) &&
	   match && s.n == 2, "the same two keys, nothing made");
	dnskey_set_clear(&s);

	/* a new ZSK published beside them, then the old one retired: every key published */
	dnskey_t *z2 = NULL, *k2 = NULL;
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_ZSK, 300, &z2) != MN_OK ||
	    dnskey_new(DNSSEC_ALG_ED25519, DNSKEY_FLAGS_SEP, 400, &k2) != MN_OK)
		tap_bail("keys");
	dnskey_meta_t zm = { .role = DNSKEY_ROLE_ZSK, .state = DNSKEY_PUBLISHED, .changed = 300 };
	is_int(dnskey_zone_add(state, "_dmarc.example.org", z2, &zm), MN_OK, "a published ZSK added");
	ok(zm.tag == dnskey_tag(z2) && zm.id[0] != '\0', "its id and tag filled in");
	is_int(dnskey_zone_keys(state, "_dmarc.example.org", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, false, 300,
				&s, &match), MN_OK, "three keys load");
	dnskey_t *kv[DNSKEY_SET_MAX];
	is_int((long long)dnskey_set_keys(&s, DNSKEY_USE_DNSKEY, kv, DNSKEY_SET_MAX), 3, "all three in DNSKEY");
	ok(dnskey_set_keys(&s, DNSKEY_USE_SIGN_DATA, kv, DNSKEY_SET_MAX) == 1 && dnskey_tag(kv[0]) == dnskey_tag(zsk),
	   "the active ZSK alone signs the data (pre-publish)");
	ok(dnskey_set_keys(&s, DNSKEY_USE_SIGN_KEYS, kv, DNSKEY_SET_MAX) == 1 && dnskey_tag(kv[0]) == dnskey_tag(ksk),
	   "the KSK alone signs DNSKEY");
	ok(s.zsk != NULL && dnskey_tag(s.zsk) == dnskey_tag(zsk), "zsk: the active one");
	dnskey_set_clear(&s);

	/* an algorithm rollover's presign: the new algorithm's key signs the data, not in DNSKEY */
	dnskey_meta_t km = { .role = DNSKEY_ROLE_CSK, .state = DNSKEY_PRESIGN, .changed = 400 };
	is_int(dnskey_zone_add(state, "_dmarc.example.org", k2, &km), MN_OK, "an ed25519 CSK in presign added");
	is_int(dnskey_zone_keys(state, "_dmarc.example.org", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, false, 400,
				&s, &match), MN_OK, "four keys load");
	is_int((long long)dnskey_set_keys(&s, DNSKEY_USE_DNSKEY, kv, DNSKEY_SET_MAX), 3, "presign: not in DNSKEY");
	is_int((long long)dnskey_set_keys(&s, DNSKEY_USE_SIGN_DATA, kv, DNSKEY_SET_MAX), 2,
	       "both algorithms sign the data");
	is_int((long long)dnskey_set_keys(&s, DNSKEY_USE_SIGN_KEYS, kv, DNSKEY_SET_MAX), 1, "DNSKEY: the old KSK only");
	dnskey_set_clear(&s);
	km.state = DNSKEY_PUBLISHED;
	is_int(dnskey_zone_update(state, "_dmarc.example.org", &km), MN_OK, "published");
	is_int(dnskey_zone_keys(state, "_dmarc.example.org", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, false, 400,
				&s, &match), MN_OK, "loads");
	is_int((long long)dnskey_set_keys(&s, DNSKEY_USE_SIGN_KEYS, kv, DNSKEY_SET_MAX), 2,
	       "DNSKEY signed by both algorithms' SEP keys");
	is_int((long long)dnskey_set_keys(&s, DNSKEY_USE_CDS, kv, DNSKEY_SET_MAX), 2, "CDS: both SEP keys");
	dnskey_set_clear(&s);
	km.state = DNSKEY_REMOVED;
	is_int(dnskey_zone_update(state, "_dmarc.example.org", &km), MN_OK, "removed");
	is_int(dnskey_zone_destroy(state, "_dmarc.example.org", km.id), MN_OK, "its private key destroyed");
	is_int(dnskey_zone_destroy(state, "_dmarc.example.org", km.id), MN_OK, "again: nothing to do");
	is_int(dnskey_zone_keys(state, "_dmarc.example.org", DNSSEC_ALG_ECDSAP256SHA256, DNSSEC_KEYS_KSK_ZSK, false, 400,
				&s, &match), MN_OK, "a removed key without its private half: loads");
	is_int((long long)s.n, 3, "the tombstone is not loaded");
	dnskey_set_clear(&s);
	is_int(dnskey_zone_list(state, "_dmarc.example.org", &v, &n), MN_OK, "listed");
	ok(n == 4 && v[3].state == DNSKEY_REMOVED && v[3].role == DNSKEY_ROLE_CSK, "the tombstone listed, its role kept");
	free(v);
	dnskey_free(ksk);
	dnskey_free(zsk);
	dnskey_free(z2);
	dnskey_free(k2);
}

int main(void)
{
	char templ[] = "/tmp/test_dnskey.XXXXXX";
	if (mkdtemp(templ) == NULL || realpath(templ, tmp) == NULL)
		tap_bail("mkdtemp");
	test_key(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, "p256 csk");
	test_key(DNSSEC_ALG_ED25519, DNSKEY_FLAGS_ZSK, "ed25519 zsk");
	dnskey_t *k = NULL;
	is_int(dnskey_new(8, DNSKEY_FLAGS_SEP, 0, &k), MN_EINVAL, "RSASHA256 is not offered");
	is_int(dnskey_new(DNSSEC_ALG_ED25519, 385, 0, &k), MN_EINVAL, "flags other than 256/257 refused");
	/* RFC 4034 Appendix B over a known RDATA: flags 256, protocol 3, algorithm 5, key 0x01 0x02 */
	const uint8_t rd[] = { 1, 0, 3, 5, 1, 2 };
	is_int(dnskey_rdata_tag(rd, sizeof(rd)), (0x0100 + 0x0305 + 0x0102) & 0xffff, "key tag: the sum of 16-bit words");
	test_store();
	test_states();
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
	return tap_done();
}
