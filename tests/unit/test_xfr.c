/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_xfr.c -- transfers: AXFR/IXFR messages, access control, journal, TSIG against ldns */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "policy/mn.h"
#include "server/xfr.h"
#include "tests/tap/tap.h"
#include "zones/zset.h"

static const char SECRET_B64[] = "AA5yXWKeTRnf1etoKPDN7sOtUaDBM7OHBmfeTvYIfus=";	/* examples/xfr1.key */
static uint64_t NOW = 1900000000;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* _dmarc.example.com: SOA (serial), NS, TXT, and ntxt more TXT of 200 bytes each. */
static zone_t *mkzone(uint32_t serial, const char *policy, size_t ntxt)
{
	zone_t *z = NULL;
	if (zone_new("_dmarc.example.com", ZONE_DMARC, "example.com", &z) != MN_OK)
		tap_bail("zone_new");
	uint8_t rd[600];
	int o = mn_name_to_wire("ns1.example.net", rd, 256);
	o += mn_name_to_wire("hostmaster.example.net", rd + o, 256);
	uint32_t v[] = { serial, 3600, 600, 1209600, 300 };
	for (size_t i = 0; i < 5; i++, o += 4)
		put32(rd + o, v[i]);
	int r = zone_add_rr(z, "_dmarc.example.com", ZONE_T_SOA, 3600, rd, (uint16_t)o);
	o = mn_name_to_wire("ns1.example.net", rd, 256);
	r |= zone_add_rr(z, "_dmarc.example.com", ZONE_T_NS, 3600, rd, (uint16_t)o);
	r |= zone_add_txt(z, "_dmarc.example.com", 3600, policy);
	r |= zone_add_txt(z, "*._report._dmarc.example.com", 3600, "v=DMARC1");
	for (size_t i = 0; i < ntxt; i++) {
		char owner[64], text[201];
		snprintf(owner, sizeof(owner), "n%zu._report._dmarc.example.com", i);
		memset(text, 'a' + (int)(i % 26), 200);
		text[200] = '\0';
		r |= zone_add_txt(z, owner, 3600, text);
	}
	r |= zone_finish(z);
	zone_set_serial(z, serial);
	if (r != 0)
		tap_bail("cannot build the zone");
	return z;
}

static zset_t *mkset(zone_t *z)
{
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(1, sizeof(*zs->v));
	zs->v[zs->n++] = z;
	zset_t *set = NULL;
	if (zset_new(zs, &set) != MN_OK)
		tap_bail("zset_new");
	return set;
}

static xfr_conf_t *mkconf(const char *state_dir)
{
	xfr_conf_t *c = calloc(1, sizeof(*c));
	c->nets = calloc(3, sizeof(*c->nets));
	mn_net_parse("192.0.2.0/24", 0, false, &c->nets[c->nnets++]);
	mn_net_parse("2001:db8::/32", 0, false, &c->nets[c->nnets++]);
	mn_net_parse("10.0.0.0/9", 0, false, &c->nets[c->nnets++]);
	c->keys = calloc(2, sizeof(*c->keys));
	for (int i = 0; i < 2; i++) {
		xfr_key_t *k = &c->keys[c->nkeys++];
		strcpy(k->name, i == 0 ? "xfr1" : "other");
		k->wire_len = (uint16_t)mn_name_to_wire(k->name, k->wire, sizeof(k->wire));
		k->alg = i == 0 ? XFR_HMAC_SHA256 : XFR_HMAC_SHA512;
		k->secret_len = (size_t)xfr_base64_decode(SECRET_B64, k->secret, sizeof(k->secret));
		k->allowed = i == 0;
	}
	c->notify_key = 0;
	c->state_dir = state_dir != NULL ? mn_strdup(state_dir) : NULL;
	return c;
}

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	return ss;
}

/* A query for name/qtype, id 0x1234; IXFR with the client's SOA serial in authority. */
static size_t query(uint8_t *q, const char *name, uint16_t qtype, uint32_t ixfr_serial)
{
	memset(q, 0, 12);
	put16(q, 0x1234);
	put16(q + 4, 1);
	int n = mn_name_to_wire(name, q + 12, 256);
	size_t o = 12u + (size_t)n;
	put16(q + o, qtype);
	put16(q + o + 2, 1);
	o += 4;
	if (qtype == ZONE_T_IXFR) {
		put16(q + 8, 1);
		q[o++] = 0xc0;
		q[o++] = 12;
		put16(q + o, ZONE_T_SOA);
		put16(q + o + 2, 1);
		put32(q + o + 4, 0);
		put16(q + o + 8, 22);
		o += 10;
		q[o++] = 0;	/* mname, rname: root */
		q[o++] = 0;
		put32(q + o, ixfr_serial);
		memset(q + o + 4, 0, 16);
		o += 20;
	}
	return o;
}

/* ---- small helpers ---- */

static void test_base64_addr_alg(void)
{
	uint8_t b[64];
	static const struct { const char *in; const char *want; int len; } b64[] = {
		{ "aGVsbG8=", "hello", 5 }, { "aGVs bG8h\n", "hello!", 6 }, { "", "", 0 },
		{ "aGV*", NULL, MN_ESYNTAX }, { "aGVsbG8=x", NULL, MN_ESYNTAX },
	};
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		int n = xfr_base64_decode(b64[i].in, b, sizeof(b));
		tap_is_int(n, b64[i].len, "base64 case %zu: %d", i, b64[i].len);
		if (b64[i].want != NULL && n == b64[i].len)
			tap_is_mem(b, (size_t)n, b64[i].want, strlen(b64[i].want), "base64 case %zu: '%s'", i,
				   b64[i].want);
	}
	tap_is_int(xfr_base64_decode(SECRET_B64, b, sizeof(b)), 32, "the example secret is 32 bytes");
	tap_is_int(xfr_base64_decode(SECRET_B64, b, 8), MN_ESPACE, "no room: MN_ESPACE");

	static const struct { const char *in; int family; const char *ip; int port; } ad[] = {
		{ "127.0.0.1:5300", AF_INET, "127.0.0.1", 5300 },
		{ "192.0.2.53", AF_INET, "192.0.2.53", 53 },
		{ "[::1]:5301", AF_INET6, "::1", 5301 },
		{ "[2001:db8::53]", AF_INET6, "2001:db8::53", 53 },
		{ "2001:db8::53", AF_INET6, "2001:db8::53", 53 },
		{ "127.0.0.1:0", 0, NULL, 0 }, { "127.0.0.1:65536", 0, NULL, 0 },
		{ "host:53", 0, NULL, 0 }, { "[::1]x", 0, NULL, 0 }, { "127.0.0.1:", 0, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(ad) / sizeof(ad[0]); i++) {
		xfr_addr_t a;
		int r = xfr_addr_parse(ad[i].in, &a);
		if (ad[i].family == 0) {
			tap_is_int(r, MN_ESYNTAX, "address '%s' rejected", ad[i].in);
			continue;
		}
		char text[64] = "";
		int port = 0;
		if (a.sa.sa_family == AF_INET) {
			inet_ntop(AF_INET, &a.in.sin_addr, text, sizeof(text));
			port = ntohs(a.in.sin_port);
		} else {
			inet_ntop(AF_INET6, &a.in6.sin6_addr, text, sizeof(text));
			port = ntohs(a.in6.sin6_port);
		}
		tap_ok(r == MN_OK && a.sa.sa_family == ad[i].family && strcmp(text, ad[i].ip) == 0 &&
		       port == ad[i].port, "address '%s' is %s port %d", ad[i].in, ad[i].ip, ad[i].port);
	}
	static const struct { const char *in; int want; } al[] = {
		{ "hmac-sha256", XFR_HMAC_SHA256 }, { "HMAC-SHA512.", XFR_HMAC_SHA512 },
		{ "hmac-sha1", XFR_HMAC_SHA1 }, { "hmac-md5.sig-alg.reg.int", XFR_HMAC_MD5 },
		{ "hmac-sha3", -1 },
	};
	for (size_t i = 0; i < sizeof(al) / sizeof(al[0]); i++) {
		xfr_alg_t a = XFR_HMAC_MD5;
		int r = xfr_alg_parse(al[i].in, &a);
		if (al[i].want < 0)
			tap_is_int(r, MN_ESYNTAX, "algorithm '%s' unknown", al[i].in);
		else
			tap_ok(r == MN_OK && (int)a == al[i].want, "algorithm '%s'", al[i].in);
	}
}

static void test_acl(void)
{
	xfr_conf_t *c = mkconf(NULL);
	static const struct { const char *ip; bool want; } t[] = {
		{ "192.0.2.53", true }, { "192.0.2.0", true }, { "192.0.3.1", false },
		{ "10.127.255.255", true }, { "10.128.0.0", false }, { "127.0.0.1", false },
		{ "2001:db8::1", true }, { "2001:db9::1", false }, { "::ffff:192.0.2.7", true },
		{ "::ffff:127.0.0.1", false }, { "::1", false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sockaddr_storage ss = addr(t[i].ip);
		tap_is_int(xfr_acl_match(c, (struct sockaddr *)&ss), t[i].want, "acl %s: %s", t[i].ip,
			   t[i].want ? "allowed" : "not allowed");
	}
	tap_is_int(xfr_acl_match(NULL, NULL), false, "no configuration: nothing allowed");
	xfr_conf_free(c);
}

/* ---- TSIG against ldns ---- */

static void test_tsig(void)
{
	xfr_conf_t *c = mkconf(NULL);
	uint8_t q[1024];
	size_t len = query(q, "_dmarc.example.com", ZONE_T_AXFR, 0);
	size_t plain = len;
	uint8_t mac[64];
	size_t mac_len = 0;
	uint64_t now = (uint64_t)time(NULL);
	tap_is_int(xfr_tsig_sign(&c->keys[0], q, &len, sizeof(q), NULL, 0, false, 0, now, mac, &mac_len),
		   MN_OK, "sign a request");
	tap_is_int((long long)mac_len, 32, "hmac-sha256: a 32-byte MAC");
	tap_is_int(get16(q + 10), 1, "ARCOUNT 1");
	tap_is_int((long long)len, (long long)(plain + 6 + 10 + 13 + 10 + 32 + 6), "TSIG record length");

	/* ldns verifies our request */
	ldns_pkt *pkt = NULL;
	tap_is_int(ldns_wire2pkt(&pkt, q, len), LDNS_STATUS_OK, "ldns parses the signed request");
	tap_ok(pkt != NULL && ldns_pkt_tsig_verify(pkt, q, len, "xfr1.", SECRET_B64, NULL),
	       "ldns verifies our request MAC");
	/* (ldns_pkt_tsig_verify with a wrong secret leaks in ldns 1.8: not asked here) */
	ldns_pkt_free(pkt);

	/* we verify our own, and see tampering, unknown keys and old times */
	xfr_tsig_t t;
	tap_is_int(xfr_tsig_verify(c, q, len, now, &t), MN_OK, "verify our request");
	tap_ok(t.present && t.error == 0 && t.key == 0 && t.orig_id == 0x1234 && t.stripped_len == plain,
	       "valid, key xfr1, original id, stripped length %zu", plain);
	tap_is_mem(t.mac, t.mac_len, mac, mac_len, "the MAC as signed");
	q[13] ^= 0x20;	/* a letter of the name changes case */
	xfr_tsig_verify(c, q, len, now, &t);
	tap_is_int(t.error, XFR_BADSIG, "a changed byte: BADSIG");
	q[13] ^= 0x20;
	xfr_tsig_verify(c, q, len, now + 301, &t);
	tap_is_int(t.error, XFR_BADTIME, "301 s later (fudge 300): BADTIME");
	xfr_tsig_verify(c, q, len, now + 300, &t);
	tap_is_int(t.error, 0, "300 s later: valid");
	xfr_tsig_verify(NULL, q, len, now, &t);
	tap_is_int(t.error, XFR_BADKEY, "no keys: BADKEY");
	xfr_key_t other = c->keys[0];
	other.alg = XFR_HMAC_SHA512;
	size_t len2 = plain;
	put16(q + 10, 0);
	xfr_tsig_sign(&other, q, &len2, sizeof(q), NULL, 0, false, 0, now, NULL, NULL);
	xfr_tsig_verify(c, q, len2, now, &t);
	tap_is_int(t.error, XFR_BADKEY, "known name, other algorithm: BADKEY");

	/* ldns signs, we verify (sha256 and sha512) */
	static const struct { const char *alg; const char *name; int key; } ls[] = {
		{ "hmac-sha256.", "xfr1.", 0 }, { "hmac-sha512.", "other.", 1 },
	};
	for (size_t i = 0; i < 2; i++) {
		ldns_pkt *p = NULL;
		ldns_pkt_query_new_frm_str(&p, "_dmarc.example.com.", LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0);
		ldns_pkt_set_id(p, 0x4321);
		tap_is_int(ldns_pkt_tsig_sign(p, ls[i].name, SECRET_B64, 300, ls[i].alg, NULL), LDNS_STATUS_OK,
			   "ldns signs with %s", ls[i].alg);
		uint8_t *w = NULL;
		size_t wl = 0;
		ldns_pkt2wire(&w, p, &wl);
		xfr_tsig_verify(c, w, wl, (uint64_t)time(NULL), &t);
		tap_ok(t.present && t.error == 0 && t.key == ls[i].key && t.orig_id == 0x4321,
		       "we verify the ldns %s request (error %u)", ls[i].alg, t.error);
		free(w);
		ldns_pkt_free(p);
	}
	xfr_conf_free(c);
}

/* ---- AXFR / IXFR ---- */

/* Runs a job to the end; returns the messages' records (answer counts summed). */
static int run(xfr_t *x, int *msgs, uint8_t *first_type_last, bool tsig, const uint8_t *req_mac,
	       size_t req_mac_len)
{
	static uint8_t out[XFR_MSG_MAX + 2048];
	size_t len = 0;
	int total = 0, r;
	*msgs = 0;
	ldns_rdf *mac = req_mac_len ? ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 0, NULL) : NULL;
	uint8_t macbuf[2 + 64];
	if (req_mac_len) {
		put16(macbuf, (uint16_t)req_mac_len);
		memcpy(macbuf + 2, req_mac, req_mac_len);
		ldns_rdf_deep_free(mac);
		mac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2 + req_mac_len, macbuf);
	}
	bool verified = true, sized = true;
	while ((r = xfr_next(x, out, sizeof(out), &len)) == 1) {
		total += get16(out + 6);
		if (len > XFR_MSG_MAX + 400)
			sized = false;
		if (*msgs == 0)
			first_type_last[0] = get16(out + 4) == 1;
		else if (get16(out + 4) != 0)
			first_type_last[0] = 0;
		(*msgs)++;
		if (tsig) {
			ldns_pkt *p = NULL;
			if (ldns_wire2pkt(&p, out, len) != LDNS_STATUS_OK) {
				verified = false;
				continue;
			}
			bool ok = *msgs == 1 ?
				  ldns_pkt_tsig_verify(p, out, len, "xfr1.", SECRET_B64, mac) :
				  ldns_pkt_tsig_verify_next(p, out, len, "xfr1.", SECRET_B64, mac, 1);
			verified &= ok;
			ldns_rdf *next = ldns_rr_rdf(ldns_pkt_tsig(p), 3);
			ldns_rdf_deep_free(mac);
			mac = next != NULL ? ldns_rdf_clone(next) : NULL;
			ldns_pkt_free(p);
		}
	}
	ldns_rdf_deep_free(mac);
	first_type_last[1] = verified;
	first_type_last[2] = sized;
	return r < 0 ? r : total;
}

static void test_axfr(void)
{
	xfr_conf_t *c = mkconf(NULL);
	zone_t *z = mkzone(2030010100, "v=DMARC1; p=none", 300);
	size_t nrrs = zone_nrrs(z);
	zset_t *set = mkset(z);
	uint8_t q[512], out[65536];
	size_t qlen = query(q, "_dmarc.example.com", ZONE_T_AXFR, 0), olen = 0;
	struct sockaddr_storage in = addr("192.0.2.53"), outside = addr("127.0.0.1");
	xfr_t *x = NULL;

	tap_is_int(xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x),
		   XFR_STREAM, "AXFR from an allowed address: a transfer");
	tap_ok(x != NULL && !xfr_is_ixfr(x), "a full transfer job");
	int msgs = 0;
	uint8_t flags[3] = { 0 };
	int n = run(x, &msgs, flags, false, NULL, 0);
	tap_is_int(n, (long long)nrrs + 1, "SOA, %zu records, SOA", nrrs - 1);
	tap_ok(msgs >= 4, "several messages (%d) of at most 16 KiB", msgs);
	tap_ok(flags[0] && flags[2], "the question in the first message only; sizes bounded");
	xfr_free(x);

	/* refusals */
	static const struct { const char *name; uint16_t qtype; bool tcp; const char *peer; int rcode; const char *what; } rf[] = {
		{ "_dmarc.example.com", ZONE_T_AXFR, true, "127.0.0.1", 5, "outside allow: REFUSED" },
		{ "_dmarc.example.com", ZONE_T_AXFR, false, "192.0.2.53", 1, "AXFR over UDP: FORMERR" },
		{ "x._dmarc.example.com", ZONE_T_AXFR, true, "192.0.2.53", 9, "not an apex: NOTAUTH" },
		{ "example.net", ZONE_T_AXFR, true, "192.0.2.53", 5, "not served: REFUSED" },
	};
	for (size_t i = 0; i < sizeof(rf) / sizeof(rf[0]); i++) {
		struct sockaddr_storage p = addr(rf[i].peer);
		qlen = query(q, rf[i].name, rf[i].qtype, 0);
		x = NULL;
		int r = xfr_request(c, set, q, qlen, (struct sockaddr *)&p, rf[i].tcp, NOW, out, sizeof(out), &olen, &x);
		tap_ok(r == XFR_SEND && x == NULL && (out[3] & 0x0f) == rf[i].rcode && get16(out) == 0x1234 &&
		       (out[2] & 0x80) && get16(out + 4) == 1 && get16(out + 6) == 0, "%s", rf[i].what);
	}
	qlen = query(q, "_dmarc.example.com", ZONE_T_TXT, 0);
	tap_is_int(xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x),
		   XFR_NOT, "a TXT query is not a transfer");
	tap_is_int(xfr_request(NULL, set, q, query(q, "_dmarc.example.com", ZONE_T_AXFR, 0),
			       (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x), XFR_SEND,
		   "no transfer configuration: answered");
	tap_is_int(out[3] & 0x0f, 5, "... REFUSED");

	/* TSIG: an allowed key from outside the networks; every message signed */
	uint64_t now = (uint64_t)time(NULL);
	qlen = query(q, "_dmarc.example.com", ZONE_T_AXFR, 0);
	uint8_t mac[64];
	size_t mac_len = 0;
	xfr_tsig_sign(&c->keys[0], q, &qlen, sizeof(q), NULL, 0, false, 0, now, mac, &mac_len);
	x = NULL;
	tap_is_int(xfr_request(c, set, q, qlen, (struct sockaddr *)&outside, true, now, out, sizeof(out), &olen, &x),
		   XFR_STREAM, "outside the networks with TSIG xfr1: a transfer");
	memset(flags, 0, sizeof(flags));
	n = run(x, &msgs, flags, true, mac, mac_len);
	tap_is_int(n, (long long)nrrs + 1, "every record");
	tap_ok(flags[1], "ldns verifies all %d messages (first with the request MAC, then chained)", msgs);
	xfr_free(x);
	x = NULL;
	xfr_request(c, set, q, qlen, (struct sockaddr *)&outside, true, now, out, sizeof(out), &olen, &x);
	mac[0] ^= 1;
	memset(flags, 0, sizeof(flags));
	run(x, &msgs, flags, true, mac, mac_len);
	tap_ok(x != NULL && !flags[1], "... and not against another request MAC");
	xfr_free(x);
	/* a valid key that is not allowed */
	qlen = query(q, "_dmarc.example.com", ZONE_T_AXFR, 0);
	xfr_tsig_sign(&c->keys[1], q, &qlen, sizeof(q), NULL, 0, false, 0, now, NULL, NULL);
	xfr_request(c, set, q, qlen, (struct sockaddr *)&outside, true, now, out, sizeof(out), &olen, &x);
	tap_is_int(out[3] & 0x0f, 5, "a valid key not in allow: REFUSED");
	tap_is_int(get16(out + 10), 1, "... signed (TSIG in additional)");
	/* a bad MAC */
	qlen = query(q, "_dmarc.example.com", ZONE_T_AXFR, 0);
	xfr_tsig_sign(&c->keys[0], q, &qlen, sizeof(q), NULL, 0, false, 0, now, NULL, NULL);
	q[qlen - 10] ^= 1;	/* the last MAC byte */
	xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, now, out, sizeof(out), &olen, &x);
	xfr_tsig_t t;
	xfr_tsig_verify(NULL, out, olen, now, &t);
	tap_ok((out[3] & 0x0f) == 9 && x == NULL, "a bad MAC from an allowed address: NOTAUTH");
	tap_ok(t.present && get16(out + olen - 4) == XFR_BADSIG && t.mac_len == 0,
	       "... TSIG error BADSIG, unsigned");
	/* BADTIME is signed, with the server time */
	qlen = query(q, "_dmarc.example.com", ZONE_T_AXFR, 0);
	xfr_tsig_sign(&c->keys[0], q, &qlen, sizeof(q), NULL, 0, false, 0, now - 1000, NULL, NULL);
	xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, now, out, sizeof(out), &olen, &x);
	tap_ok((out[3] & 0x0f) == 9 && get16(out + olen - 10) == XFR_BADTIME && get16(out + olen - 8) == 6,
	       "a request 1000 s old: NOTAUTH, BADTIME with the server time");
	zset_unref(set);
	xfr_conf_free(c);
}

static int count_soa(const uint8_t *m, size_t len, uint32_t *serials, int max)
{
	ldns_pkt *p = NULL;
	int n = 0;
	if (ldns_wire2pkt(&p, m, len) != LDNS_STATUS_OK)
		return -1;
	ldns_rr_list *an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && n < max)
			serials[n++] = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
	}
	ldns_pkt_free(p);
	return n;
}

static void test_journal_ixfr(void)
{
	char dir[] = "/tmp/mailns-test-xfr.XXXXXX";
	if (mkdtemp(dir) == NULL)
		tap_bail("mkdtemp");
	xfr_conf_t *c = mkconf(dir);

	/* the difference: policy TXT replaced, n0 removed, n5 added */
	zone_t *a = mkzone(2030010100, "v=DMARC1; p=none", 5);
	zone_t *b = mkzone(2030010101, "v=DMARC1; p=reject", 6);
	uint8_t *d = NULL;
	size_t dlen = 0;
	tap_is_int(xfr_diff(a, b, &d, &dlen), MN_OK, "diff of two versions");
	tap_ok(dlen >= 16 && d[3] == (2030010100 & 0xff) && d[7] == (2030010101 & 0xff),
	       "from 2030010100 to 2030010101");
	tap_is_int(d != NULL ? (long long)(d[8] << 24 | d[9] << 16 | d[10] << 8 | d[11]) : -1, 2,
		   "deleted: the old SOA and the old TXT");
	tap_is_int(d != NULL ? (long long)(d[12] << 24 | d[13] << 16 | d[14] << 8 | d[15]) : -1, 3,
		   "added: the new SOA, the new TXT, n5");
	free(d);

	/* journal: 25 versions, 20 kept */
	zones_t za = { .v = &a, .n = 1 }, zb = { .v = &b, .n = 1 };
	tap_is_int(xfr_journal_update(dir, &za, &zb), 1, "one journal written");
	zone_t *prev = b;
	zone_t *keep[32] = { a, b };
	size_t nk = 2;
	for (uint32_t s = 2030010102; s < 2030010125; s++) {
		char pol[64];
		snprintf(pol, sizeof(pol), "v=DMARC1; p=reject; rua=mailto:%u@example.com", s);
		zone_t *z = mkzone(s, pol, 6);
		zones_t zp = { .v = &prev, .n = 1 }, zc = { .v = &z, .n = 1 };
		xfr_journal_update(dir, &zp, &zc);
		prev = z;
		keep[nk++] = z;
	}
	tap_is_int(zone_serial(prev), 2030010124, "at serial 2030010124");
	uint8_t *buf = NULL;
	size_t blen = 0;
	tap_is_int(xfr_journal_chain(dir, prev, 2030010100, &buf, &blen), MN_ENOENT,
		   "the oldest versions are gone (20 kept)");
	tap_is_int(xfr_journal_chain(dir, prev, 2030010103, &buf, &blen), MN_ENOENT, "from 2030010103: gone");
	tap_is_int(xfr_journal_chain(dir, prev, 2030010104, &buf, &blen), MN_OK, "from 2030010104: 20 entries");
	free(buf);
	tap_is_int(xfr_journal_chain(dir, prev, 2030010123, &buf, &blen), MN_OK, "from 2030010123: one entry");
	free(buf);
	tap_is_int(xfr_journal_chain(dir, prev, 2030010124, &buf, &blen), MN_ENOENT, "from the current serial: none");
	tap_is_int(xfr_journal_chain(dir, b, 2030010100, &buf, &blen), MN_ENOENT,
		   "a journal that does not stop at the served serial: none");

	/* IXFR responses */
	for (size_t i = 0; i + 1 < nk; i++)
		if (keep[i] != prev)
			zone_unref(keep[i]);
	zset_t *set = mkset(prev);
	uint8_t q[512], out[65536];
	struct sockaddr_storage in = addr("192.0.2.53");
	size_t olen = 0, qlen = query(q, "_dmarc.example.com", ZONE_T_IXFR, 2030010122);
	xfr_t *x = NULL;
	tap_is_int(xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x),
		   XFR_STREAM, "IXFR from 2030010122: a transfer");
	tap_ok(xfr_is_ixfr(x), "incremental");
	size_t len = 0;
	uint32_t s[16];
	static uint8_t msg[XFR_MSG_MAX + 2048];
	tap_is_int(xfr_next(x, msg, sizeof(msg), &len), 1, "one message");
	int ns = count_soa(msg, len, s, 16);
	tap_ok(ns == 6 && s[0] == 2030010124 && s[1] == 2030010122 && s[2] == 2030010123 &&
	       s[3] == 2030010123 && s[4] == 2030010124 && s[5] == 2030010124,
	       "SOA 24, (22 ... 23 ...), (23 ... 24 ...), SOA 24");
	tap_is_int(get16(msg + 6), 10, "10 records: 6 SOA and 4 TXT");
	tap_is_int(xfr_next(x, msg, sizeof(msg), &len), 0, "then done");
	xfr_free(x);

	qlen = query(q, "_dmarc.example.com", ZONE_T_IXFR, 2030010000);
	xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x);
	tap_ok(x != NULL && !xfr_is_ixfr(x), "IXFR from a serial the journal lacks: a full transfer");
	xfr_free(x);
	qlen = query(q, "_dmarc.example.com", ZONE_T_IXFR, 2030010124);
	tap_is_int(xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x),
		   XFR_SEND, "IXFR from the current serial: one message");
	tap_ok(count_soa(out, olen, s, 16) == 1 && s[0] == 2030010124, "the SOA alone");
	qlen = query(q, "_dmarc.example.com", ZONE_T_IXFR, 2030010122);
	tap_is_int(xfr_request(c, set, q, qlen, (struct sockaddr *)&in, false, NOW, out, sizeof(out), &olen, &x),
		   XFR_SEND, "IXFR over UDP: one message");
	tap_ok(count_soa(out, olen, s, 16) == 1 && s[0] == 2030010124 && (out[2] & 0x04),
	       "the current SOA alone (the client retries over TCP), AA");
	qlen = query(q, "_dmarc.example.com", ZONE_T_IXFR, 0) - 32;
	put16(q + 8, 0);
	xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x);
	tap_is_int(out[3] & 0x0f, 1, "IXFR without a SOA in authority: FORMERR");

	/* a damaged journal is a miss */
	char path[256];
	snprintf(path, sizeof(path), "%s/journal/_dmarc.example.com.jnl", dir);
	tap_is_int(mn_file_write_atomic(path, "MNJ1\0\0\0\x40xx", 10, 0600), MN_OK, "damage the journal");
	qlen = query(q, "_dmarc.example.com", ZONE_T_IXFR, 2030010122);
	xfr_request(c, set, q, qlen, (struct sockaddr *)&in, true, NOW, out, sizeof(out), &olen, &x);
	tap_ok(x != NULL && !xfr_is_ixfr(x), "a damaged journal: a full transfer");
	xfr_free(x);
	unlink(path);
	snprintf(path, sizeof(path), "%s/journal", dir);
	rmdir(path);
	rmdir(dir);
	zset_unref(set);
	xfr_conf_free(c);
}

int main(void)
{
	test_base64_addr_alg();
	test_acl();
	test_tsig();
	test_axfr();
	test_journal_ixfr();
	return tap_done();
}
