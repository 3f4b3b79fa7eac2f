/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_query.c -- fuzz target: query bytes -> answer_query() over UDP and TCP, with invariants */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/diag.h"
#include "policy/mn.h"
#include "policy/policy.h"
#include "server/answer.h"
#include "zones/compile.h"
#include "zones/zone.h"
#include "zones/zset.h"

/*
 * The zone set is built once, on the first input, from the policy below
 * (written to a private temp directory, loaded, compiled and signed -- the
 * keys made in the temp directory, removed after --, turned into a zset): a
 * query with the DO bit gets RRSIGs and NSEC proofs.  Every input is then answered over UDP with
 * several output buffer sizes and over TCP, and each response is checked:
 *
 * - ANSWER_SEND only for queries of >= 12 bytes with QR clear; 12 <= outlen
 *   <= outcap and <= the transport's limit (TCP 65535; UDP 512 without OPT in
 *   the response, else the client's EDNS size clamped to 512..1232);
 * - the ID is the query's, QR set, RA clear, the opcode echoed;
 * - the response parses: every section count is matched by records, names
 *   (with backward compression pointers only) stay inside it, no trailing bytes;
 *   at most one OPT, in the additional section, owner root;
 * - a question in the response is the query's question byte for byte;
 * - rcode one of NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED; FORMERR without
 *   records; AA on answers and negative answers; TCP into a 64 KiB buffer
 *   never TC; a response OPT offers 1232 bytes, version 0, extended rcode 0
 *   or BADVERS (then without records, and only for a query whose EDNS
 *   version is > 0);
 * - UDP with TC has no answer or authority records;
 * - with a buffer of at least the UDP limit the UDP result does not depend on
 *   the buffer size, and a UDP response without TC equals the TCP response.
 */

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_query: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static const char policy_text[] =
	"version: 1\n"
	"server:\n"
	"  listen: [\"127.0.0.1:5300\"]\n"
	"  nameservers: [ns1.example.net., ns2.example.net.]\n"
	"  hostmaster: hostmaster.example.net.\n"
	"  ttl: 3600\n"
	"  negative_ttl: 300\n"
	"  state_dir: state\n"
	"  dnssec: true\n"
	"domains:\n"
	"  example.com:\n"
	"    spf:\n"
	"      mode: plain\n"
	"      ip4: [192.0.2.0/24, 198.51.100.7]\n"
	"      ip6: [\"2001:db8::/48\"]\n"
	"      all: fail\n"
	"    dkim:\n"
	"      selectors:\n"
	"        big: \"v=DKIM1; k=rsa; p="
	"MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA0Nv1PHZjDgWDtm/IH1KHrRYBWH78jIrZb+GDPZRF5RhERwI8b0icJd8dRg78ELJELOrSh4sMlN4l"
	"uDU16wBIZRLN6a279bVUvumqD349UNakn/7uhN3NOx455xYKOHl7PbFOa+ISMTiMEwb02E2vKhcIFxZ/rBs/eZqw2ME1RGp4y2VxYUyj1PJd3n2JKIiCQrYi"
	"sgxwUwbLIk3o1vAadysgj7c3Vkf17yQOCQEdv6RABKDAHIYUuq7Mk+ecsaKB+m6nQ/bhUHtObzWDej2FwGgLDUcEVM4uA7raPtIaHIL8ZQDFtYKSQQ6M7jA5"
	"X+2XWk9zSuKsd2S6dCdK7geJaIQo0H/CN/RXG9q5kfmeRolgSqYqhubbO+nqo4f33uJmc0m4x1kNeyFS5iIhCp8xSb27yAfrSKO/yzn8uBgofzjPg9Mmx9GT"
	"PM49Ov/mCKpdgRo9mxbsVF9s/TLSWupDXr29h7/vpn10MngDZ4zBmYTIffz5rvzyODW1Dv6cPN/vOEg6e0iV2w8+5CfBlQMxuTTbG08DLhIp5+O6E4DPxlh7"
	"Q3pTnkiakHwB89cJX/YTjHwVEWa5pzsZ4WQPO0Ws6LWnv7QJL0A893baUfQy8FPanWyNkTJwjoLDHr0vOBEY6GUqary24cOCasg2zfyjdcchufjXbLa4Cd5T"
	"mjFYv4cCAwEAAQ==\"\n"
	"        ed: \"v=DKIM1; k=ed25519; p=FKJ2xm5ga8OoJpp5Nd4lUZiLf3INYeimMIZpwM9/Chk=\"\n"
	"        old: \"v=DKIM1; k=rsa; p="
	"MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCpkEilpg/YHw2UMVqh+hVSCWoHcy2DPBU1hVahBkGsIblhPJezEFTKM2lZ89JxWm16ElIIdYUdA/ge1AGkil5wMukXDE4GiWI1bC5WOZ"
	"LAWywyrwpjBowAcb80qwpb0pDrihUi0ivO7g2d9g8r42/x7uoeZjBPZNwl/up6WUVmbQIDAQAB\"\n"
	"    dmarc:\n"
	"      p: reject\n"
	"      sp: quarantine\n"
	"      rua: [\"mailto:dmarc@example.com\", \"mailto:reports@example.org\"]\n"
	"      adkim: s\n"
	"      authorize_reports_for: [\"example.net\", \"*\"]\n"
	"  example.org:\n"
	"    spf:\n"
	"      mode: macro\n"
	"      ip4: [203.0.113.0/24, 198.51.100.16/28]\n"
	"      ip6: [\"2001:db8:1234::/46\"]\n"
	"      all: softfail\n"
	"    dmarc: { p: none, rua: [\"mailto:dmarc@example.org\"] }\n"
	"  example.net:\n"
	"    spf: { mode: plain, ip4: [192.0.2.10], include: [_spf.example.org], all: softfail }\n"
	"    dmarc: { p: quarantine }\n";

static zset_t *zset;
static int verbose = -1;	/* FUZZ_VERBOSE=1: one line per response on stderr */

static void dump(const char *what, const uint8_t *out, size_t len)
{
	if (len == 0) {
		fprintf(stderr, "# %s: drop\n", what);
		return;
	}
	fprintf(stderr, "# %s: %zu bytes, rcode %d, flags %02x%02x, counts %u/%u/%u/%u\n", what, len,
		out[3] & 0x0f, out[2], out[3], (unsigned)(out[4] << 8 | out[5]),
		(unsigned)(out[6] << 8 | out[7]), (unsigned)(out[8] << 8 | out[9]),
		(unsigned)(out[10] << 8 | out[11]));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static zset_t *build(void)
{
	char dir[] = "/tmp/mailns-fuzz-query.XXXXXX", path[64];
	diag_t *diag = NULL;
	policy_t *p = NULL;
	zones_t *zs = NULL;
	zset_t *set = NULL;
	int r = MN_ENOMEM;

	if (diag_new(&diag) != MN_OK)
		goto fail;
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	r = mn_file_write_atomic(path, policy_text, sizeof(policy_text) - 1, 0600);
	if (r == MN_OK)
		r = policy_load(path, diag, &p);
	if (r == MN_OK) {
		/* persisting: the signing keys are made (in the temp directory) */
		compile_opts_t opts = { .now = 1893456000, .persist_serials = true };
		r = zones_compile(p, &opts, diag, &zs);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (r != MN_OK)
		goto fail;
	r = zset_new(zs, &set);
	zs = NULL;	/* owned by zset_new in every case */
	if (r != MN_OK)
		goto fail;
	policy_free(p);
	diag_free(diag);
	return set;
fail:
	fprintf(stderr, "fuzz_query: cannot build the zone set (%s)\n", mn_strerror(r));
	if (diag != NULL)
		diag_print(diag, stderr);
	zones_free(zs);
	policy_free(p);
	diag_free(diag);
	abort();
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Skips a name at o; pointers must go backwards.  Returns the offset after it, or 0. */
static size_t skip_name(const uint8_t *m, size_t len, size_t o)
{
	size_t end = 0, total = 0;
	for (int hops = 0; hops < 128; hops++) {
		if (o >= len)
			return 0;
		uint8_t l = m[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 1 >= len)
				return 0;
			size_t to = (size_t)(l & 0x3f) << 8 | m[o + 1];
			if (end == 0)
				end = o + 2;
			if (to >= o)
				return 0;
			o = to;
			continue;
		}
		if (l & 0xc0)
			return 0;
		total += l + 1u;
		if (total > 255 || o + l + 1u > len)
			return 0;
		o += l + 1u;
		if (l == 0)
			return end ? end : o;
	}
	return 0;
}

typedef struct {
	bool ok;		/* every section parsed, nothing left over */
	size_t qend;		/* end of the question section (12 when none) */
	int nopt;		/* OPT records in the additional section */
	int opt_elsewhere;	/* OPT records in other sections */
	uint16_t opt_class;	/* payload size of the (first) OPT */
	uint32_t opt_ttl;	/* extended rcode, version, flags */
	bool opt_root;		/* the OPT owner is the root */
} msg_t;

static void parse(const uint8_t *m, size_t len, msg_t *out)
{
	memset(out, 0, sizeof(*out));
	out->qend = 12;
	if (len < 12)
		return;
	size_t o = 12;
	uint16_t qd = get16(m + 4);
	for (uint16_t i = 0; i < qd; i++) {
		o = skip_name(m, len, o);
		if (o == 0 || o + 4 > len)
			return;
		o += 4;
	}
	out->qend = o;
	out->opt_root = true;
	for (int s = 0; s < 3; s++) {
		uint16_t n = get16(m + 6 + 2 * s);
		for (uint16_t i = 0; i < n; i++) {
			size_t start = o;
			o = skip_name(m, len, o);
			if (o == 0 || o + 10 > len)
				return;
			uint16_t type = get16(m + o);
			size_t rdlen = get16(m + o + 8);
			if (type == ZONE_T_OPT) {
				if (s == 2) {
					if (out->nopt == 0) {
						out->opt_class = get16(m + o + 2);
						out->opt_ttl = (uint32_t)get16(m + o + 4) << 16 | get16(m + o + 6);
						out->opt_root = o == start + 1 && m[start] == 0;
					}
					out->nopt++;
				} else {
					out->opt_elsewhere++;
				}
			}
			o += 10;
			if (o + rdlen > len)
				return;
			o += rdlen;
		}
	}
	out->ok = o == len;
}

/* The UDP size limit for a response r to query q. */
static size_t udp_limit(const msg_t *q, const msg_t *r)
{
	if (r->nopt == 0)
		return ANSWER_UDP_MIN;
	if (!q->ok || q->nopt != 1)
		return ANSWER_EDNS_PAYLOAD;
	size_t want = q->opt_class;
	if (want < ANSWER_UDP_MIN)
		want = ANSWER_UDP_MIN;
	if (want > ANSWER_EDNS_PAYLOAD)
		want = ANSWER_EDNS_PAYLOAD;
	return want;
}

static uint8_t out_big[65536 + 64];
static uint8_t out_udp[65536 + 64];
static uint8_t out_tcp[65536 + 64];
static uint8_t out_small[2048];

/* Checks one response; returns its length (0 for DROP). */
static size_t check(const uint8_t *q, size_t qlen, const msg_t *qm, bool tcp,
		    int rc, const uint8_t *out, size_t outcap, size_t outlen)
{
	CHECK(rc == ANSWER_SEND || rc == ANSWER_DROP);
	if (rc == ANSWER_DROP)
		return 0;
	CHECK(qlen >= 12);
	CHECK((q[2] & 0x80) == 0);		/* a response is never answered */
	CHECK(outlen >= 12);
	CHECK(outlen <= outcap);
	CHECK(out[0] == q[0] && out[1] == q[1]);	/* ID */
	CHECK(out[2] & 0x80);			/* QR */
	CHECK((out[3] & 0x80) == 0);		/* RA clear */
	CHECK((out[2] & 0x78) == (q[2] & 0x78));	/* opcode */

	msg_t rm;
	parse(out, outlen, &rm);
	CHECK(rm.ok);
	CHECK(rm.nopt <= 1);
	CHECK(rm.opt_elsewhere == 0);
	CHECK(rm.nopt == 0 || rm.opt_root);
	/*
	 * No OPT in a response to a query without one.  Only where the query
	 * parses strictly here: answer.c skips compression pointers in records
	 * without following them, so it may find an OPT after a name this walker
	 * rejects (a pointer forward or out of the message).
	 */
	CHECK(rm.nopt == 0 || !qm->ok || qm->nopt >= 1);
	CHECK(get16(out + 4) <= 1);
	if (get16(out + 4) == 1) {
		/* the question copied byte for byte */
		CHECK(rm.qend <= qlen);
		CHECK(memcmp(out + 12, q + 12, rm.qend - 12) == 0);
	}
	uint8_t rcode = out[3] & 0x0f;
	CHECK(rcode == 0 || rcode == 1 || rcode == 3 || rcode == 4 || rcode == 5);
	if (rcode == 1)
		CHECK(get16(out + 6) == 0 && get16(out + 8) == 0);	/* FORMERR: no records */
	if ((rcode == 0 || rcode == 3) && get16(out + 6) + get16(out + 8) > 0)
		CHECK(out[2] & 0x04);				/* AA on authoritative data */
	if (rm.nopt == 1) {
		CHECK(rm.opt_class == ANSWER_EDNS_PAYLOAD);
		CHECK((rm.opt_ttl >> 16 & 0xff) == 0);		/* version 0 */
		uint8_t ext = (uint8_t)(rm.opt_ttl >> 24);
		CHECK(ext == 0 || ext == 1);
		if (ext == 1) {					/* BADVERS */
			CHECK(get16(out + 6) == 0 && get16(out + 8) == 0);
			CHECK(!qm->ok || (qm->opt_ttl >> 16 & 0xff) > 0);
		}
	}
	if (tcp && outcap >= ANSWER_TCP_MAX)
		CHECK((out[2] & 0x02) == 0);		/* nothing here is > 65535 */
	size_t limit = tcp ? ANSWER_TCP_MAX : udp_limit(qm, &rm);
	CHECK(outlen <= limit);
	if (!tcp && (out[2] & 0x02)) {
		CHECK(get16(out + 6) == 0);	/* TC: no records but the OPT */
		CHECK(get16(out + 8) == 0);
	}
	return outlen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (zset == NULL)
		zset = build();
	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;

	msg_t qm;
	parse(data, size, &qm);

	/* UDP, a buffer of any size at least the transport's limit */
	size_t big = 0, udp = 0, tcp = 0, n;
	int rc = answer_query(zset, data, size, false, out_big, sizeof(out_big), &big);
	big = check(data, size, &qm, false, rc, out_big, sizeof(out_big), big);
	rc = answer_query(zset, data, size, false, out_udp, ANSWER_EDNS_PAYLOAD, &udp);
	udp = check(data, size, &qm, false, rc, out_udp, ANSWER_EDNS_PAYLOAD, udp);
	CHECK(udp == big);
	CHECK(memcmp(out_udp, out_big, udp) == 0);

	/* UDP into buffers smaller than the limit: drop or fit */
	static const size_t small[] = { 0, 11, 12, 100, 511, 512, 1231 };
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		n = 0;
		rc = answer_query(zset, data, size, false, out_small, small[i], &n);
		check(data, size, &qm, false, rc, out_small, small[i], n);
	}

	/* TCP: complete where UDP had to truncate, identical where it did not */
	rc = answer_query(zset, data, size, true, out_tcp, ANSWER_TCP_MAX, &tcp);
	tcp = check(data, size, &qm, true, rc, out_tcp, ANSWER_TCP_MAX, tcp);
	CHECK((tcp == 0) == (udp == 0));
	if (udp > 0 && !(out_udp[2] & 0x02)) {
		CHECK(tcp == udp);
		CHECK(memcmp(out_tcp, out_udp, udp) == 0);
	}
	if (verbose) {
		dump("udp", out_udp, udp);
		dump("tcp", out_tcp, tcp);
	}
	n = 0;
	rc = answer_query(zset, data, size, true, out_small, 600, &n);
	check(data, size, &qm, true, rc, out_small, 600, n);
	return 0;
}
