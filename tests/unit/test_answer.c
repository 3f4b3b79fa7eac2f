/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_answer.c -- the answer path: wire queries in, exact response bytes out (no sockets) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "policy/mn.h"
#include "server/answer.h"
#include "tests/tap/tap.h"
#include "zones/sign.h"
#include "zones/zset.h"

/* ---- a small zone set built by hand ------------------------------------- */

static size_t put_name(uint8_t *p, const char *name)
{
	int n = mn_name_to_wire(name, p, 256);
	if (n < 0)
		tap_bail("bad test name %s", name);
	return (size_t)n;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t soa_rdata[64];
static size_t soa_rdlen;

static zone_t *mkzone(const char *apex, const char *const *txt, size_t ntxt)
{
	zone_t *z = NULL;
	if (zone_new(apex, ZONE_DMARC, "example.com", &z) != MN_OK)
		tap_bail("zone_new");
	size_t o = put_name(soa_rdata, "ns1.example.net");
	o += put_name(soa_rdata + o, "hostmaster.example.net");
	static const uint32_t v[] = { 2030010101, 3600, 600, 1209600, 300 };
	for (size_t i = 0; i < 5; i++, o += 4)
		put32(soa_rdata + o, v[i]);
	soa_rdlen = o;
	int r = zone_add_rr(z, apex, ZONE_T_SOA, 3600, soa_rdata, (uint16_t)o);
	uint8_t rd[256];
	o = put_name(rd, "ns1.example.net");
	r |= zone_add_rr(z, apex, ZONE_T_NS, 3600, rd, (uint16_t)o);
	for (size_t i = 0; i < ntxt; i += 2)
		r |= zone_add_txt(z, txt[i], 3600, txt[i + 1]);
	r |= zone_finish(z);
	if (r != 0)
		tap_bail("cannot build zone %s", apex);
	return z;
}

static char big_key[1100];

/* The test zones; signed with keys when not NULL. */
static zset_t *test_set(dnskey_set_t *keys)
{
	static const char *const dmarc[] = {
		"_dmarc.example.com", "v=DMARC1; p=reject",
		"*._report._dmarc.example.com", "v=DMARC1",
	};
	/* a 1000-byte TXT: too big for 512, fits 1232 */
	memcpy(big_key, "v=DKIM1; k=rsa; p=", 18);
	memset(big_key + 18, 'A', 1000 - 18);
	big_key[1000] = '\0';
	const char *dkim[] = { "big._domainkey.example.com", big_key };
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(2, sizeof(*zs->v));
	zs->v[zs->n++] = mkzone("_dmarc.example.com", dmarc, 4);
	zs->v[zs->n++] = mkzone("_domainkey.example.com", dkim, 2);
	if (keys != NULL) {
		sign_opts_t o = { .now = time(NULL), .validity = 14 * 86400 };
		for (size_t i = 0; i < zs->n; i++) {
			zone_t *signed_z = NULL;
			if (sign_zone(zs->v[i], keys, &o, &signed_z) != MN_OK)
				tap_bail("cannot sign");
			zone_unref(zs->v[i]);
			zs->v[i] = signed_z;
		}
	}
	zset_t *set = NULL;
	if (zset_new(zs, &set) != MN_OK)
		tap_bail("zset_new failed");
	return set;
}

/* ---- queries -------------------------------------------------------------- */

typedef struct qspec {
	uint16_t id;
	uint16_t flags;		/* header flags word (RD = 0x0100) */
	uint16_t qd, an, ns;	/* counts as sent (ar follows from edns) */
	const char *name;	/* presentation, case kept */
	uint16_t type, cls;
	int edns;		/* 0: none; else the payload size */
	uint8_t version;
	bool dnssec_ok;
} qspec_t;

/* Builds a query; returns its length. */
static size_t mkq(const qspec_t *s, uint8_t *q)
{
	put16(q, s->id);
	put16(q + 2, s->flags);
	put16(q + 4, s->qd);
	put16(q + 6, s->an);
	put16(q + 8, s->ns);
	put16(q + 10, s->edns ? 1 : 0);
	size_t o = 12;
	/* wire name keeping the letter case */
	const char *p = s->name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[o++] = (uint8_t)l;
		memcpy(q + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	q[o++] = 0;
	put16(q + o, s->type);
	put16(q + o + 2, s->cls ? s->cls : 1);
	o += 4;
	if (s->edns) {
		q[o] = 0;
		put16(q + o + 1, ZONE_T_OPT);
		put16(q + o + 3, (uint16_t)s->edns);
		q[o + 5] = 0;
		q[o + 6] = s->version;
		put16(q + o + 7, s->dnssec_ok ? 0x8000 : 0);
		put16(q + o + 9, 0);
		o += 11;
	}
	return o;
}

static uint8_t out[70000];
static size_t outlen;

static int ask(const zset_t *set, const uint8_t *q, size_t qlen, bool tcp)
{
	outlen = 0;
	memset(out, 0xee, 64);
	return answer_query(set, q, qlen, tcp, out, sizeof(out), &outlen);
}

/* Header check: flags word, counts, ID. */
static void header_is(const char *what, uint16_t id, uint16_t flags, int qd, int an, int ns, int ar)
{
	char got[128], want[128];
	if (outlen < 12) {
		ok(false, "%s: response of %zu bytes", what, outlen);
		return;
	}
	snprintf(got, sizeof(got), "id=%u flags=%04x qd=%u an=%u ns=%u ar=%u", get16(out),
		 get16(out + 2), get16(out + 4), get16(out + 6), get16(out + 8), get16(out + 10));
	snprintf(want, sizeof(want), "id=%u flags=%04x qd=%d an=%d ns=%d ar=%d", id, flags, qd, an,
		 ns, ar);
	is_str(got, want, "%s: header", what);
}

/* The header/counts table: one query, the expected header and length. */
static void test_table(const zset_t *set)
{
	static const struct {
		const char *what;
		qspec_t q;
		bool tcp;
		uint16_t flags;		/* expected header flags word incl. rcode */
		int qd, an, ns, ar;
	} t[] = {
		{ "TXT answer", { 1, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8500, 1, 1, 0, 0 },
		{ "RD clear stays clear", { 2, 0x0000, 1, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8400, 1, 1, 0, 0 },
		{ "CD copied", { 3, 0x0110, 1, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8510, 1, 1, 0, 0 },
		{ "AD and RA not copied", { 4, 0x01a0, 1, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8500, 1, 1, 0, 0 },
		{ "NODATA", { 5, 0x0100, 1, 0, 0, "_dmarc.example.com", 1, 1, 0, 0, false }, false, 0x8500, 1, 0, 1, 0 },
		{ "NXDOMAIN", { 6, 0x0100, 1, 0, 0, "nope._dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8503, 1, 0, 1, 0 },
		{ "wildcard", { 7, 0x0100, 1, 0, 0, "a.b._report._dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8500, 1, 1, 0, 0 },
		{ "ENT: NODATA", { 8, 0x0100, 1, 0, 0, "_report._dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8500, 1, 0, 1, 0 },
		{ "REFUSED outside", { 9, 0x0100, 1, 0, 0, "example.com", 16, 1, 0, 0, false }, false, 0x8105, 1, 0, 0, 0 },
		{ "REFUSED root", { 10, 0x0100, 1, 0, 0, "", 6, 1, 0, 0, false }, false, 0x8105, 1, 0, 0, 0 },
		{ "class CH: REFUSED", { 11, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 3, 0, 0, false }, false, 0x8105, 1, 0, 0, 0 },
		{ "class ANY: REFUSED", { 12, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 255, 0, 0, false }, false, 0x8105, 1, 0, 0, 0 },
		{ "AXFR: NOTIMP", { 13, 0x0000, 1, 0, 0, "_dmarc.example.com", 252, 1, 0, 0, false }, true, 0x8004, 1, 0, 0, 0 },
		{ "IXFR: NOTIMP", { 14, 0x0000, 1, 0, 0, "_dmarc.example.com", 251, 1, 0, 0, false }, false, 0x8004, 1, 0, 0, 0 },
		{ "ANY: one RRset", { 15, 0x0100, 1, 0, 0, "_dmarc.example.com", 255, 1, 0, 0, false }, false, 0x8500, 1, 1, 0, 0 },
		{ "NS: the RRset", { 16, 0x0100, 1, 0, 0, "_dmarc.example.com", 2, 1, 0, 0, false }, false, 0x8500, 1, 1, 0, 0 },
		{ "opcode STATUS: NOTIMP, question kept", { 17, 0x1100, 1, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x9104, 1, 0, 0, 0 },
		{ "opcode NOTIFY, 2 questions: NOTIMP, no question", { 18, 0x2000, 2, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0xa004, 0, 0, 0, 0 },
		{ "opcode UPDATE with EDNS: NOTIMP", { 19, 0x2800, 1, 0, 0, "_dmarc.example.com", 6, 1, 1232, 0, false }, false, 0xa804, 1, 0, 0, 0 },
		{ "QDCOUNT 2: FORMERR", { 20, 0x0100, 2, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8101, 0, 0, 0, 0 },
		{ "QDCOUNT 0: FORMERR", { 21, 0x0100, 0, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8101, 0, 0, 0, 0 },
		{ "QTYPE OPT: FORMERR", { 22, 0x0000, 1, 0, 0, "_dmarc.example.com", 41, 1, 0, 0, false }, false, 0x8001, 0, 0, 0, 0 },
		{ "EDNS: OPT in the response", { 23, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 1, 4096, 0, false }, false, 0x8500, 1, 1, 0, 1 },
		{ "EDNS NXDOMAIN", { 24, 0x0100, 1, 0, 0, "x._dmarc.example.com", 16, 1, 1232, 0, false }, false, 0x8503, 1, 0, 1, 1 },
		{ "EDNS REFUSED", { 25, 0x0100, 1, 0, 0, "example.org", 16, 1, 1232, 0, false }, false, 0x8105, 1, 0, 0, 1 },
		{ "BADVERS", { 26, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 1, 1232, 1, false }, false, 0x8500, 1, 0, 0, 1 },
		{ "BADVERS outside the zones: no AA", { 27, 0x0100, 1, 0, 0, "example.org", 16, 1, 1232, 1, false }, false, 0x8100, 1, 0, 0, 1 },
		{ "big TXT over UDP: TC", { 28, 0x0100, 1, 0, 0, "big._domainkey.example.com", 16, 1, 0, 0, false }, false, 0x8700, 1, 0, 0, 0 },
		{ "big TXT, EDNS 512: TC, OPT kept", { 29, 0x0100, 1, 0, 0, "big._domainkey.example.com", 16, 1, 512, 0, false }, false, 0x8700, 1, 0, 0, 1 },
		{ "big TXT, EDNS 100: 512 applies, TC", { 30, 0x0100, 1, 0, 0, "big._domainkey.example.com", 16, 1, 100, 0, false }, false, 0x8700, 1, 0, 0, 1 },
		{ "big TXT, EDNS 1232: fits", { 31, 0x0100, 1, 0, 0, "big._domainkey.example.com", 16, 1, 1232, 0, false }, false, 0x8500, 1, 1, 0, 1 },
		{ "big TXT, EDNS 1000: TC", { 32, 0x0100, 1, 0, 0, "big._domainkey.example.com", 16, 1, 1000, 0, false }, false, 0x8700, 1, 0, 0, 1 },
		{ "big TXT over TCP: complete", { 33, 0x0100, 1, 0, 0, "big._domainkey.example.com", 16, 1, 0, 0, false }, true, 0x8500, 1, 1, 0, 0 },
		{ "ANCOUNT 1 with no record after the question: FORMERR", { 34, 0x0100, 1, 1, 0, "_dmarc.example.com", 16, 1, 0, 0, false }, false, 0x8101, 0, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t q[600];
		size_t n = mkq(&t[i].q, q);
		int r = ask(set, q, n, t[i].tcp);
		is_int(r, ANSWER_SEND, "%s: answered", t[i].what);
		header_is(t[i].what, t[i].q.id, t[i].flags, t[i].qd, t[i].an, t[i].ns, t[i].ar);
		size_t qsec = 12 + strlen(t[i].q.name) + (t[i].q.name[0] ? 2 : 1) + 4;
		if (t[i].qd == 1)
			tap_is_mem(out + 12, outlen >= qsec ? qsec - 12 : 0, q + 12, qsec - 12,
				   "%s: question copied", t[i].what);
		if (!t[i].tcp && !(t[i].flags & 0x0200)) {
			size_t lim = t[i].q.edns ? (t[i].q.edns < 512 ? 512 : t[i].q.edns > 1232 ? 1232 : t[i].q.edns) : 512;
			ok(outlen <= lim, "%s: %zu bytes within the UDP limit %zu", t[i].what, outlen, lim);
		}
		if ((t[i].flags & 0x0200) || t[i].qd == 0 || t[i].flags == 0x8105 ||
		    (t[i].flags & 0x000f) == 4)
			is_int(outlen, (t[i].qd ? qsec : 12) + (t[i].ar ? 11 : 0),
			       "%s: nothing but header, question and OPT", t[i].what);
	}
}

static const uint8_t opt_plain[11] = { 0, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0x00, 0x00, 0, 0 };

static void test_bytes(const zset_t *set)
{
	uint8_t q[600];
	/* a positive answer, case preserved, owner pointer to the question */
	qspec_t s = { 0xbeef, 0x0100, 1, 0, 0, "_DMARC.Example.COM", 16, 1, 0, 0, false };
	size_t n = mkq(&s, q);
	ask(set, q, n, false);
	uint8_t want[200];
	memcpy(want, q, n);
	put16(want + 2, 0x8500);
	put16(want + 6, 1);
	static const uint8_t rr[] = {
		0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x13,
		0x12, 'v', '=', 'D', 'M', 'A', 'R', 'C', '1', ';', ' ', 'p', '=',
		'r', 'e', 'j', 'e', 'c', 't',
	};
	memcpy(want + n, rr, sizeof(rr));
	tap_is_mem(out, outlen, want, n + sizeof(rr), "mixed-case TXT query: exact response bytes");

	/* NXDOMAIN: SOA owner points at the apex inside the question, TTL 300 */
	qspec_t nx = { 0x0102, 0x0100, 1, 0, 0, "Nope._dmarc.example.com", 16, 1, 0, 0, false };
	n = mkq(&nx, q);
	ask(set, q, n, false);
	memcpy(want, q, n);
	put16(want + 2, 0x8503);
	put16(want + 8, 1);
	size_t o = n;
	put16(want + o, 0xc000 | (12 + 5));	/* "Nope" label: 5 bytes */
	put16(want + o + 2, ZONE_T_SOA);
	put16(want + o + 4, 1);
	put32(want + o + 6, 300);
	put16(want + o + 10, (uint16_t)soa_rdlen);
	memcpy(want + o + 12, soa_rdata, soa_rdlen);
	o += 12 + soa_rdlen;
	tap_is_mem(out, outlen, want, o, "NXDOMAIN: SOA with negative TTL 300, owner pointer to the apex");

	/* NODATA at the apex: pointer to 12 */
	qspec_t nd = { 0x0103, 0x0100, 1, 0, 0, "_dmarc.example.com", 28, 1, 0, 0, false };
	n = mkq(&nd, q);
	ask(set, q, n, false);
	is_int(outlen > n + 1 ? get16(out + n) : 0, 0xc00c, "NODATA at the apex: SOA owner points to 12");

	/* wildcard: owner is the query name (pointer to 12) */
	qspec_t wc = { 0x0104, 0x0100, 1, 0, 0, "Other.ORG._report._dmarc.example.com", 16, 1, 0, 0, false };
	n = mkq(&wc, q);
	ask(set, q, n, false);
	static const uint8_t wrr[] = {
		0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x09,
		0x08, 'v', '=', 'D', 'M', 'A', 'R', 'C', '1',
	};
	tap_is_mem(out + n, outlen - n, wrr, sizeof(wrr), "wildcard answer: owner pointer to the question");

	/* EDNS: the OPT we add; DO copied (RFC 3225) */
	qspec_t e = { 0x0105, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 1, 4096, 0, false };
	n = mkq(&e, q);
	ask(set, q, n, false);
	tap_is_mem(out + outlen - 11, 11, opt_plain, 11, "OPT: payload 1232, version 0, no flags");
	is_int(outlen, n - 11 + sizeof(rr) + 11, "EDNS answer length");
	e.dnssec_ok = true;
	n = mkq(&e, q);
	ask(set, q, n, false);
	static const uint8_t opt_do[11] = { 0, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0x80, 0x00, 0, 0 };
	tap_is_mem(out + outlen - 11, 11, opt_do, 11, "OPT: DO copied");

	/* BADVERS: extended rcode 1 in the OPT, header rcode 0 */
	qspec_t bv = { 0x0106, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 1, 1232, 2, false };
	n = mkq(&bv, q);
	ask(set, q, n, false);
	static const uint8_t opt_bv[11] = { 0, 0x00, 0x29, 0x04, 0xd0, 1, 0, 0x00, 0x00, 0, 0 };
	is_int(outlen, n, "BADVERS: question and OPT only");
	tap_is_mem(out + outlen - 11, 11, opt_bv, 11, "BADVERS: OPT extended rcode 1, version 0");

	/* TC: header and question only, over TCP the whole record */
	qspec_t tc = { 0x0107, 0x0100, 1, 0, 0, "big._domainkey.example.com", 16, 1, 0, 0, false };
	n = mkq(&tc, q);
	ask(set, q, n, true);
	is_int(outlen, n + 12 + 1000 + 4, "over TCP: the 1000-byte TXT (4 strings) complete");
}

/* Hostile and malformed packets: FORMERR with the header echoed, or dropped. */
static void test_malformed(const zset_t *set)
{
	static const struct {
		const char *what;
		const char *hex;
		int action;
		const char *resp;	/* expected response, hex (FORMERR: 12 bytes) */
	} t[] = {
		{ "4 bytes", "12340100", ANSWER_DROP, NULL },
		{ "11 bytes", "1234010000010000000000", ANSWER_DROP, NULL },
		{ "QR=1", "123481000001000000000000065f646d61726307657861", ANSWER_DROP, NULL },
		{ "QDCOUNT 0, header only", "123401000000000000000000", ANSWER_SEND, "123481010000000000000000" },
		{ "truncated question name", "1234010000010000000000000c5f646d617263", ANSWER_SEND, "123481010000000000000000" },
		{ "extended label type 0x40", "1234010000010000000000004061626300100001", ANSWER_SEND, "123481010000000000000000" },
		{ "label type 0x80", "1234010000010000000000008061626300100001", ANSWER_SEND, "123481010000000000000000" },
		{ "compression pointer in the question", "1234010000010000000000c00c00100001", ANSWER_SEND, "123481010000000000000000" },
		{ "name without QTYPE/QCLASS", "1234000000010000000000000000", ANSWER_SEND, "123480010000000000000000" },
		{ "QCLASS cut short", "123400000001000000000000000006", ANSWER_SEND, "123480010000000000000000" },
		{ "OPT rdlength beyond the end", "12340100000100000000000100000100010000290200000000000005", ANSWER_SEND, "123481010000000000000000" },
		{ "OPT option longer than rdata", "12340100000100000000000100000100010000290200000000000004000a0009", ANSWER_SEND, "123481010000000000000000" },
		{ "two OPTs", "1234010000010000000000020000010001000029020000000000000000002902000000000000", ANSWER_SEND, "123481010000000000000000" },
		{ "OPT owned by a non-root name", "123401000001000000000001000001000101610000290200000000000000", ANSWER_SEND, "123481010000000000000000" },
		{ "ARCOUNT 1, nothing there", "123401000001000000000001000001000" "1", ANSWER_SEND, "123481010000000000000000" },
		{ "ANCOUNT 1 garbage before the OPT", "12340100000100010000000100000100" "01ff", ANSWER_SEND, "123481010000000000000000" },
		{ "opcode 15, 12 bytes: NOTIMP", "123478000000000000000000", ANSWER_SEND, "1234f8040000000000000000" },
		{ "pointer forward in an additional record", "1234000000010000000000010000060001c020000100010000000a000400000000", ANSWER_SEND, "123480010000000000000000" },
		{ "pointer into the header in an additional record", "1234000000010000000000010000060001c002000100010000000a000400000000", ANSWER_SEND, "123480010000000000000000" },
		{ "ANCOUNT and NSCOUNT 65535, no records", "12340100000100ffffff0000000006000" "1", ANSWER_SEND, "123481010000000000000000" },
		/* a valid non-OPT additional record is skipped; compressed name allowed there */
		{ "additional A record with a pointer: ignored", "1234000000010000000000010000060001c00c000100010000000a000400000000", ANSWER_SEND, "123480050001000000000000000006000" "1" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t q[300], want[300];
		size_t n = strlen(t[i].hex) / 2;
		for (size_t k = 0; k < n; k++)
			sscanf(t[i].hex + 2 * k, "%2hhx", &q[k]);
		int r = ask(set, q, n, false);
		is_int(r, t[i].action, "%s: %s", t[i].what, t[i].action == ANSWER_SEND ? "answered" : "dropped");
		if (t[i].resp == NULL) {
			is_int(outlen, 0, "%s: nothing written", t[i].what);
			continue;
		}
		size_t wn = strlen(t[i].resp) / 2;
		for (size_t k = 0; k < wn; k++)
			sscanf(t[i].resp + 2 * k, "%2hhx", &want[k]);
		tap_is_mem(out, outlen, want, wn, "%s: response bytes", t[i].what);
	}

	/* a name of 256 bytes: FORMERR */
	uint8_t q[400];
	memset(q, 0, sizeof(q));
	put16(q, 7);
	put16(q + 4, 1);
	size_t o = 12;
	for (int i = 0; i < 4; i++) {
		q[o++] = 63;
		memset(q + o, 'a', 63);
		o += 63;
	}
	q[o++] = 0;	/* 4 * 64 + 1 = 257 bytes */
	put16(q + o, 16);
	put16(q + o + 2, 1);
	o += 4;
	is_int(ask(set, q, o, false), ANSWER_SEND, "257-byte name: answered");
	header_is("257-byte name: FORMERR", 7, 0x8001, 0, 0, 0, 0);
	/* 255 bytes exactly: a valid (REFUSED) question */
	o = 12;
	for (int i = 0; i < 3; i++) {
		q[o++] = 63;
		memset(q + o, 'a', 63);
		o += 63;
	}
	q[o++] = 61;
	memset(q + o, 'a', 61);
	o += 61;
	q[o++] = 0;
	put16(q + o, 16);
	put16(q + o + 2, 1);
	o += 4;
	is_int(ask(set, q, o, false), ANSWER_SEND, "255-byte name: answered");
	header_is("255-byte name: REFUSED", 7, 0x8005, 1, 0, 0, 0);

	/* trailing garbage after the question without ARCOUNT: lenient */
	qspec_t s = { 8, 0x0100, 1, 0, 0, "_dmarc.example.com", 16, 1, 0, 0, false };
	size_t n = mkq(&s, q);
	memset(q + n, 0xff, 7);
	ask(set, q, n + 7, false);
	header_is("trailing bytes: answered", 8, 0x8500, 1, 1, 0, 0);

	/* an output buffer too small for header and question: dropped */
	n = mkq(&s, q);
	outlen = 99;
	is_int(answer_query(set, q, n, false, out, 20, &outlen), ANSWER_DROP, "outcap 20: dropped");
	/* just big enough for the question: TC */
	is_int(answer_query(set, q, n, false, out, n, &outlen), ANSWER_SEND, "outcap = question: sent");
	header_is("outcap = question: TC", 8, 0x8700, 1, 0, 0, 0);
	is_int(answer_query(NULL, q, n, false, out, sizeof(out), &outlen), ANSWER_SEND, "no zone set: sent");
	header_is("no zone set: REFUSED", 8, 0x8105, 1, 0, 0, 0);
	is_int(answer_query(set, NULL, n, false, out, sizeof(out), &outlen), ANSWER_DROP, "NULL query: dropped");
}

/* Every prefix of a valid EDNS query, and every single-byte corruption, is handled. */
static void test_fuzzish(const zset_t *set)
{
	uint8_t q[300];
	qspec_t s = { 9, 0x0100, 1, 0, 0, "x.y._report._dmarc.example.com", 16, 1, 1232, 0, true };
	size_t n = mkq(&s, q);
	size_t sent = 0, bad = 0;
	for (size_t len = 0; len <= n; len++) {
		int r = ask(set, q, len, false);
		sent += r == ANSWER_SEND;
		bad += r == ANSWER_SEND && (outlen < 12 || outlen > 512);
	}
	is_int((long long)sent, (long long)(n + 1 - 12), "prefixes: all from 12 bytes on answered");
	is_int((long long)bad, 0, "prefixes: every response 12..512 bytes");
	bad = 0;
	for (size_t i = 0; i < n; i++) {
		for (int v = 0; v < 256; v += 7) {
			uint8_t c[300];
			memcpy(c, q, n);
			c[i] = (uint8_t)v;
			int r = ask(set, c, n, false);
			bad += r == ANSWER_SEND && (outlen < 12 || outlen > 512 || !(out[2] & 0x80));
		}
	}
	is_int((long long)bad, 0, "single-byte corruptions: every response well-formed in size");
}

/* ---- DNSSEC: answers with the DO bit from signed zones -------------------- */

/*
 * The response parsed by ldns (so every owner and pointer is well-formed):
 * "RCODE an:TYPE/OWNER... ns:TYPE/OWNER..." with RRSIGs as RRSIG(COVERED).
 */
static void describe(char *buf, size_t cap)
{
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, out, outlen) != LDNS_STATUS_OK) {
		snprintf(buf, cap, "unparsable");
		return;
	}
	snprintf(buf, cap, "%s", (out[3] & 0x0f) == 3 ? "NXDOMAIN" : (out[3] & 0x0f) == 0 ? "NOERROR" : "other");
	ldns_rr_list *sec[2] = { ldns_pkt_answer(pkt), ldns_pkt_authority(pkt) };
	for (int k = 0; k < 2; k++) {
		snprintf(buf + strlen(buf), cap - strlen(buf), " %s", k ? "ns:" : "an:");
		for (size_t i = 0; i < ldns_rr_list_rr_count(sec[k]); i++) {
			ldns_rr *rr = ldns_rr_list_rr(sec[k], i);
			char *owner = ldns_rdf2str(ldns_rr_owner(rr));
			char *type = ldns_rr_type2str(ldns_rr_get_type(rr));
			char cov[32] = "";
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG) {
				char *c = ldns_rr_type2str(ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)));
				snprintf(cov, sizeof(cov), "(%s)", c);
				free(c);
			}
			snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s%s/%s", i ? "," : "", type, cov, owner);
			free(owner);
			free(type);
		}
	}
	ldns_pkt_free(pkt);
}

static void test_dnssec(const zset_t *plain)
{
	dnskey_set_t keys = { 0 };
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, time(NULL), &keys.ksk) != MN_OK)
		tap_bail("no key");
	zset_t *set = test_set(&keys);
	static const struct {
		const char *what, *name;
		uint16_t type;
		const char *want;
	} t[] = {
		{ "positive", "_dmarc.Example.com", 16,
		  "NOERROR an:TXT/_dmarc.Example.com.,RRSIG(TXT)/_dmarc.Example.com. ns:" },
		{ "NODATA", "_dmarc.example.com", 1,
		  "NOERROR an: ns:SOA/_dmarc.example.com.,RRSIG(SOA)/_dmarc.example.com.,"
		  "NSEC/_dmarc.example.com.,RRSIG(NSEC)/_dmarc.example.com." },
		{ "NXDOMAIN", "zz._dmarc.Example.com", 16,
		  "NXDOMAIN an: ns:SOA/_dmarc.Example.com.,RRSIG(SOA)/_dmarc.Example.com.,"
		  "NSEC/*._report._dmarc.Example.com.,RRSIG(NSEC)/*._report._dmarc.Example.com.,"
		  "NSEC/_dmarc.Example.com.,RRSIG(NSEC)/_dmarc.Example.com." },
		{ "wildcard answer", "x.y._report._dmarc.example.com", 16,
		  "NOERROR an:TXT/x.y._report._dmarc.example.com.,RRSIG(TXT)/x.y._report._dmarc.example.com. "
		  "ns:NSEC/*._report._dmarc.example.com.,RRSIG(NSEC)/*._report._dmarc.example.com." },
		{ "wildcard NODATA", "x._report._dmarc.example.com", 1,
		  "NOERROR an: ns:SOA/_dmarc.example.com.,RRSIG(SOA)/_dmarc.example.com.,"
		  "NSEC/*._report._dmarc.example.com.,RRSIG(NSEC)/*._report._dmarc.example.com." },
		{ "empty non-terminal", "_report._dmarc.example.com", 16,
		  "NOERROR an: ns:SOA/_dmarc.example.com.,RRSIG(SOA)/_dmarc.example.com.,"
		  "NSEC/_dmarc.example.com.,RRSIG(NSEC)/_dmarc.example.com." },
		{ "NSEC asked for", "_dmarc.example.com", ZONE_T_NSEC,
		  "NOERROR an:NSEC/_dmarc.example.com.,RRSIG(NSEC)/_dmarc.example.com. ns:" },
		{ "DNSKEY", "_domainkey.example.com", ZONE_T_DNSKEY,
		  "NOERROR an:DNSKEY/_domainkey.example.com.,RRSIG(DNSKEY)/_domainkey.example.com. ns:" },
		/*
		 * RRSIG and NSEC under a wildcard: synthesized like every other
		 * type (a NODATA cannot be proved: the wildcard's NSEC lists
		 * both), with the NSEC that shows no closer name exists
		 */
		{ "RRSIG under a wildcard", "x.y._report._dmarc.example.com", ZONE_T_RRSIG,
		  "NOERROR an:RRSIG(TXT)/x.y._report._dmarc.example.com.,RRSIG(NSEC)/x.y._report._dmarc.example.com. "
		  "ns:NSEC/*._report._dmarc.example.com.,RRSIG(NSEC)/*._report._dmarc.example.com." },
		{ "NSEC under a wildcard", "x.y._report._dmarc.example.com", ZONE_T_NSEC,
		  "NOERROR an:NSEC/x.y._report._dmarc.example.com.,RRSIG(NSEC)/x.y._report._dmarc.example.com. "
		  "ns:NSEC/*._report._dmarc.example.com.,RRSIG(NSEC)/*._report._dmarc.example.com." },
		{ "ANY under a wildcard", "x.y._report._dmarc.example.com", 255,
		  "NOERROR an:TXT/x.y._report._dmarc.example.com.,RRSIG(TXT)/x.y._report._dmarc.example.com. "
		  "ns:NSEC/*._report._dmarc.example.com.,RRSIG(NSEC)/*._report._dmarc.example.com." },
		{ "RRSIG at the wildcard itself", "*._report._dmarc.example.com", ZONE_T_RRSIG,
		  "NOERROR an:RRSIG(TXT)/*._report._dmarc.example.com.,RRSIG(NSEC)/*._report._dmarc.example.com. ns:" },
		{ "RRSIG at an empty non-terminal", "_report._dmarc.example.com", ZONE_T_RRSIG,
		  "NOERROR an: ns:SOA/_dmarc.example.com.,RRSIG(SOA)/_dmarc.example.com.,"
		  "NSEC/_dmarc.example.com.,RRSIG(NSEC)/_dmarc.example.com." },
		{ "NSEC at an empty non-terminal", "_report._dmarc.example.com", ZONE_T_NSEC,
		  "NOERROR an: ns:SOA/_dmarc.example.com.,RRSIG(SOA)/_dmarc.example.com.,"
		  "NSEC/_dmarc.example.com.,RRSIG(NSEC)/_dmarc.example.com." },
		/* RFC 4035 3.1.4.1 and B.8: DS at the apex of a child-only zone, NODATA and the apex NSEC */
		{ "DS at the apex", "_dmarc.example.com", 43 /* DS */,
		  "NOERROR an: ns:SOA/_dmarc.example.com.,RRSIG(SOA)/_dmarc.example.com.,"
		  "NSEC/_dmarc.example.com.,RRSIG(NSEC)/_dmarc.example.com." },
		{ "CDS at the apex", "_domainkey.example.com", ZONE_T_CDS,
		  "NOERROR an:CDS/_domainkey.example.com.,RRSIG(CDS)/_domainkey.example.com. ns:" },
		{ "CDNSKEY at the apex", "_domainkey.example.com", ZONE_T_CDNSKEY,
		  "NOERROR an:CDNSKEY/_domainkey.example.com.,RRSIG(CDNSKEY)/_domainkey.example.com. ns:" },
	};
	uint8_t q[600], plain_out[2048], signed_out[2048];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		qspec_t s = { (uint16_t)(0x4000 + i), 0, 1, 0, 0, t[i].name, t[i].type, 1, 1232, 0, true };
		size_t n = mkq(&s, q);
		is_int(ask(set, q, n, false), ANSWER_SEND, "DO %s: answered", t[i].what);
		char got[2048];
		describe(got, sizeof(got));
		is_str(got, t[i].want, "DO %s: the records", t[i].what);
		ok((out[2] & 0x02) == 0, "DO %s: not truncated", t[i].what);
		ok(outlen >= 2 && (get16(out + outlen - 4) & 0x8000) == 0x8000 && out[outlen - 11] == 0,
		   "DO %s: the DO bit echoed in the OPT", t[i].what);
	}
	/* the negative SOA's RRSIG has the SOA's negative TTL */
	qspec_t nd = { 7, 0, 1, 0, 0, "_dmarc.example.com", 1, 1, 1232, 0, true };
	size_t n = mkq(&nd, q);
	ask(set, q, n, false);
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, out, outlen) == LDNS_STATUS_OK && ldns_rr_list_rr_count(ldns_pkt_authority(pkt)) >= 2) {
		is_int(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(pkt), 1)), 300, "DO NODATA: the SOA's RRSIG with TTL 300");
		is_int(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(pkt), 0)), 300, "DO NODATA: the SOA with TTL 300");
	} else {
		ok(false, "DO NODATA parses");
	}
	ldns_pkt_free(pkt);

	/* without DO: byte for byte the unsigned zones' answers (no EDNS, EDNS without DO) */
	static const char *const names[] = {
		"_dmarc.example.com", "_DMARC.example.com", "zz._dmarc.example.com", "x._report._dmarc.example.com",
		"_report._dmarc.example.com", "big._domainkey.example.com", "nope._domainkey.example.com",
		"example.com",
	};
	static const uint16_t types[] = { 16, 1, 2, 6, 255 };
	int differ = 0, total = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
			for (int e = 0; e < 3; e++) {
				qspec_t s = { 0x77, 0x0100, 1, 0, 0, names[i], types[k], 1, e == 0 ? 0 : e == 1 ? 1232 : 512,
					      0, false };
				n = mkq(&s, q);
				for (int tcp = 0; tcp < 2; tcp++) {
					size_t pl, sl;
					answer_query(plain, q, n, tcp, plain_out, sizeof(plain_out), &pl);
					answer_query(set, q, n, tcp, signed_out, sizeof(signed_out), &sl);
					differ += pl != sl || memcmp(plain_out, signed_out, pl) != 0;
					total++;
				}
			}
	is_int(differ, 0, "without DO: %d answers from the signed zones byte-identical to the unsigned ones'", total);
	/* with DO from unsigned zones: as without, the DO bit echoed */
	qspec_t u = { 9, 0, 1, 0, 0, "zz._dmarc.example.com", 16, 1, 1232, 0, true };
	n = mkq(&u, q);
	answer_query(plain, q, n, false, out, sizeof(out), &outlen);
	header_is("DO to an unsigned zone", 9, 0x8403, 1, 0, 1, 1);

	/* TC: the 1000-byte TXT (1071 bytes with the question and the OPT) fits 1150 alone, not with its RRSIG (RFC 4035 3.1.1) */
	qspec_t big = { 10, 0, 1, 0, 0, "big._domainkey.example.com", 16, 1, 1150, 0, false };
	n = mkq(&big, q);
	ask(set, q, n, false);
	header_is("big TXT without DO over UDP", 10, 0x8400, 1, 1, 0, 1);
	big.dnssec_ok = true;
	n = mkq(&big, q);
	ask(set, q, n, false);
	header_is("big TXT with DO over UDP: truncated", 10, 0x8600, 1, 0, 0, 1);
	ask(set, q, n, true);
	header_is("big TXT with DO over TCP", 10, 0x8400, 1, 2, 0, 1);
	/* the NXDOMAIN proof does not fit 512 bytes: TC, NOERROR, no records */
	qspec_t small = { 11, 0, 1, 0, 0, "zz._dmarc.example.com", 16, 1, 512, 0, true };
	n = mkq(&small, q);
	ask(set, q, n, false);
	char got[2048];
	describe(got, sizeof(got));
	if (outlen > 512 || (out[2] & 0x02) == 0)
		ok(false, "NXDOMAIN with DO at 512 bytes: %zu bytes, %s", outlen, got);
	else
		header_is("NXDOMAIN with DO at 512 bytes: truncated", 11, 0x8600, 1, 0, 0, 1);

	/* hostile variations of DO queries: every response within 1232 bytes and well-formed */
	static const char *const fuzz[] = { "x.y._report._dmarc.example.com", "zz._dmarc.example.com",
					    "_report._dmarc.example.com" };
	int bad = 0, sent = 0;
	for (size_t f = 0; f < sizeof(fuzz) / sizeof(fuzz[0]); f++) {
		qspec_t s = { 12, 0, 1, 0, 0, fuzz[f], 16, 1, 1232, 0, true };
		n = mkq(&s, q);
		for (size_t i = 0; i < n; i++)
			for (int v = 0; v < 256; v += 5) {
				uint8_t c[600];
				memcpy(c, q, n);
				c[i] = (uint8_t)v;
				if (ask(set, c, n, false) != ANSWER_SEND)
					continue;
				sent++;
				ldns_pkt *fp = NULL;
				bad += outlen < 12 || outlen > 1232 || !(out[2] & 0x80) ||
				       ldns_wire2pkt(&fp, out, outlen) != LDNS_STATUS_OK;
				ldns_pkt_free(fp);
			}
	}
	is_int(bad, 0, "DO single-byte corruptions: all %d responses parse, within 1232 bytes", sent);
	zset_unref(set);
	dnskey_set_clear(&keys);
}

/* ---- a reload that patches the zone set: every zone's SOA RRSIG still its own ---- */

/*
 * Zone k of the layout tests, version ver, signed with keys: domains of
 * different layouts at the apex (the SOA RRSIG at a different position):
 * _domainkey.dNN.example with k % 3 selectors below the apex and none at it,
 * _dmarc.dNN.example with 1 + k % 3 TXT at the apex (ver adds more).
 */
static zone_t *lzone(const char *kind, int k, int ver, dnskey_set_t *keys)
{
	char apex[64], names[6][96], txts[6][64];
	const char *t[12];
	size_t nt = 0;
	snprintf(apex, sizeof(apex), "%s.d%02d.example", kind, k);
	bool dkim = strcmp(kind, "_domainkey") == 0;
	int n = dkim ? k % 3 + ver : 1 + k % 3 + ver;
	for (int i = 0; i < n && i < 6; i++, nt += 2) {
		if (dkim)
			snprintf(names[i], sizeof(names[i]), "s%d.%s", i, apex);
		else
			snprintf(names[i], sizeof(names[i]), "%s", apex);
		snprintf(txts[i], sizeof(txts[i]), "v=%s%d; ver=%d", dkim ? "DKIM1; p=" : "DMARC1; p=none; n=", i, ver);
		t[nt] = names[i];
		t[nt + 1] = txts[i];
	}
	zone_t *z = mkzone(apex, t, nt), *sz = NULL;
	sign_opts_t o = { .now = time(NULL), .validity = 14 * 86400 };
	if (sign_zone(z, keys, &o, &sz) != MN_OK)
		tap_bail("cannot sign %s", apex);
	zone_unref(z);
	return sz;
}

/* A zones_t of v[0..n) without the NULL ones (each one more holder). */
static zones_t *lzones(zone_t *const *v, size_t n)
{
	zones_t *zs = calloc(1, sizeof(*zs));
	zs->v = calloc(n ? n : 1, sizeof(*zs->v));
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL)
			zs->v[zs->n++] = zone_ref(v[i]);
	return zs;
}

/* The zone's DNSKEY RRset as served (NULL when none). */
static ldns_rr_list *served_dnskeys(const zset_t *set, const char *apex)
{
	uint8_t q[300];
	qspec_t s = { 0x51, 0, 1, 0, 0, apex, ZONE_T_DNSKEY, 1, 1232, 0, true };
	size_t n = mkq(&s, q);
	ldns_pkt *pkt = NULL;
	if (ask(set, q, n, true) != ANSWER_SEND || ldns_wire2pkt(&pkt, out, outlen) != LDNS_STATUS_OK)
		return NULL;
	ldns_rr_list *keys = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_DNSKEY, LDNS_SECTION_ANSWER);
	ldns_pkt_free(pkt);
	return keys;
}

/*
 * With DO, the SOA of the zone at apex asked for (answer) and a name that does not exist
 * there (authority): the SOA comes with exactly the RRSIGs that cover SOA, are signed
 * by apex, and verify over that SOA with the zone's DNSKEY.  "" or what is wrong.
 */
static const char *soa_sig_wrong(const zset_t *set, const char *apex)
{
	static char why[200];
	char nx[160];
	snprintf(nx, sizeof(nx), "zz-nx.%s", apex);
	ldns_rr_list *keys = served_dnskeys(set, apex);
	if (keys == NULL || ldns_rr_list_rr_count(keys) == 0) {
		ldns_rr_list_deep_free(keys);
		return "no DNSKEY";
	}
	ldns_rdf *zone = ldns_dname_new_frm_str(apex);
	why[0] = '\0';
	for (int k = 0; k < 2 && why[0] == '\0'; k++) {
		uint8_t q[300];
		qspec_t s = { (uint16_t)(0x52 + k), 0, 1, 0, 0, k ? nx : apex, k ? ZONE_T_TXT : ZONE_T_SOA, 1, 1232, 0,
			      true };
		size_t n = mkq(&s, q);
		ldns_pkt *pkt = NULL;
		ldns_pkt_section sec = k ? LDNS_SECTION_AUTHORITY : LDNS_SECTION_ANSWER;
		if (ask(set, q, n, true) != ANSWER_SEND || ldns_wire2pkt(&pkt, out, outlen) != LDNS_STATUS_OK) {
			snprintf(why, sizeof(why), "%s: no answer", s.name);
			break;
		}
		ldns_rr_list *soa = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_SOA, sec);
		ldns_rr_list *sigs = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_RRSIG, sec);
		size_t nsoa_sig = 0;
		for (size_t i = 0; sigs != NULL && i < ldns_rr_list_rr_count(sigs) && why[0] == '\0'; i++) {
			ldns_rr *sig = ldns_rr_list_rr(sigs, i);
			if (ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig)) != LDNS_RR_TYPE_SOA)
				continue;
			nsoa_sig++;
			if (ldns_dname_compare(ldns_rr_rrsig_signame(sig), zone) != 0 ||
			    ldns_dname_compare(ldns_rr_owner(sig), zone) != 0)
				snprintf(why, sizeof(why), "%s: an RRSIG(SOA) of another zone", s.name);
			else if (soa == NULL || ldns_verify_rrsig_keylist_notime(soa, sig, keys, NULL) != LDNS_STATUS_OK)
				snprintf(why, sizeof(why), "%s: the RRSIG(SOA) does not verify", s.name);
		}
		if (why[0] == '\0' && (soa == NULL || ldns_rr_list_rr_count(soa) != 1 || nsoa_sig != 1))
			snprintf(why, sizeof(why), "%s: %zu SOA, %zu RRSIG(SOA)", s.name,
				 soa ? ldns_rr_list_rr_count(soa) : 0, nsoa_sig);
		ldns_rr_list_deep_free(soa);
		ldns_rr_list_deep_free(sigs);
		ldns_pkt_free(pkt);
	}
	ldns_rdf_deep_free(zone);
	ldns_rr_list_deep_free(keys);
	return why;
}

/* Every zone of v[0..n) (NULL: not in the set) has its own SOA RRSIG in set; the wrong ones in bad. */
static int soa_sigs_wrong(const zset_t *set, zone_t *const *v, size_t n, char *bad, size_t cap)
{
	int wrong = 0;
	bad[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		const char *w = soa_sig_wrong(set, zone_name(v[i]));
		if (*w != '\0' && wrong++ < 3)
			snprintf(bad + strlen(bad), cap - strlen(bad), "%s%s", *bad ? "; " : "", w);
	}
	return wrong;
}

static void test_reload_layouts(void)
{
	enum { ND = 9, NZ = 2 * (ND - 1) };	/* cur[d]: _dmarc.dNN, cur[ND - 1 + d]: _domainkey.dNN (name order) */
	dnskey_set_t keys = { 0 };
	if (dnskey_new(DNSSEC_ALG_ECDSAP256SHA256, DNSKEY_FLAGS_SEP, time(NULL), &keys.ksk) != MN_OK)
		tap_bail("no key");
	zone_t *cur[NZ + 1] = { 0 };	/* cur[0]: a zone that sorts first, added by the second reload */
	for (int d = 1; d < ND; d++) {
		cur[d] = lzone("_dmarc", d, 0, &keys);
		cur[ND - 1 + d] = lzone("_domainkey", d, 0, &keys);
	}
	char bad[700];
	zset_t *prev = NULL, *next = NULL;
	if (zset_new_from(NULL, lzones(cur, NZ + 1), &prev) != MN_OK)
		tap_bail("zset_new_from failed");
	int w = soa_sigs_wrong(prev, cur, NZ + 1, bad, sizeof(bad));
	is_int(w, 0, "layouts: built anew, every zone's SOA RRSIG its own %s", bad);

	/* 1. one zone changes its layout (two more TXT at its apex) */
	zone_unref(cur[3]);
	cur[3] = lzone("_dmarc", 3, 2, &keys);
	is_int(zset_new_from(prev, lzones(cur, NZ + 1), &next), MN_OK, "layouts: a reload changes %s",
	       zone_name(cur[3]));
	ok(zset_reused_zones(next) > 0, "layouts: the set patched (%zu zones reused)", zset_reused_zones(next));
	w = soa_sigs_wrong(next, cur, NZ + 1, bad, sizeof(bad));
	is_int(w, 0, "layouts: after it, every zone's SOA RRSIG with DO its own %s", bad);
	zset_unref(prev);
	prev = next;

	/* 2. a zone added before all (every other one moves by one) and one removed */
	cur[0] = lzone("_dmarc", 0, 1, &keys);
	zone_unref(cur[10]);
	cur[10] = NULL;
	is_int(zset_new_from(prev, lzones(cur, NZ + 1), &next), MN_OK, "layouts: a reload adds %s, removes one",
	       zone_name(cur[0]));
	ok(zset_reused_zones(next) > 0, "layouts: the set patched (%zu zones reused)", zset_reused_zones(next));
	w = soa_sigs_wrong(next, cur, NZ + 1, bad, sizeof(bad));
	is_int(w, 0, "layouts: after it, every zone's SOA RRSIG with DO its own %s", bad);
	zset_unref(prev);
	zset_unref(next);
	for (int i = 0; i <= NZ; i++)
		zone_unref(cur[i]);
	dnskey_set_clear(&keys);
}

int main(void)
{
	zset_t *set = test_set(NULL);
	test_table(set);
	test_bytes(set);
	test_malformed(set);
	test_fuzzish(set);
	test_dnssec(set);
	zset_unref(set);
	test_reload_layouts();
	return tap_done();
}
