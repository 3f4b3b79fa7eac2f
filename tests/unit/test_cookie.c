/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_cookie.c -- SipHash-2-4, RFC 9018 server cookies, cookie/NSID/CHAOS answers */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"
#include "server/answer.h"
#include "tests/tap/tap.h"
#include "zones/zset.h"

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	for (; s[0] != '\0' && s[1] != '\0'; s += 2) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			tap_bail("bad hex %s", s);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* ---- SipHash-2-4: the reference vectors (key 00..0f, input 00..len-1) ---- */
static void test_siphash(void)
{
	static const struct { size_t len; uint64_t want; } v[] = {
		{ 0, 0x726fdb47dd0e0e31ULL },
		{ 1, 0x74f839c593dc67fdULL },
		{ 7, 0xab0200f58b01d137ULL },
		{ 8, 0x93f5f5799a932462ULL },
		{ 15, 0xa129ca6149be45e5ULL },
		{ 63, 0x958a324ceb064572ULL },
	};
	uint8_t key[16], in[64];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		tap_ok(answer_siphash(key, in, v[i].len) == v[i].want, "siphash-2-4 of %zu bytes", v[i].len);
}

/* ---- RFC 9018 appendix A ---- */
static void test_rfc9018(void)
{
	static const struct { const char *client, *ip; uint32_t now; const char *want; } v[] = {
		{ "2464c4abcf10c957", "198.51.100.100", 1559731985, "010000005cf79f111f8130c3eee29480" },
		{ "2464c4abcf10c957", "198.51.100.100", 1559734385, "010000005cf7a871d4a564a1442aca77" },
	};
	uint8_t secret[16], client[8], got[16], want[16];
	unhex("e5e973e5a6b2a43f48e7dc849e37bfcf", secret);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sockaddr_storage a = tap_addr(v[i].ip);
		unhex(v[i].client, client);
		unhex(v[i].want, want);
		answer_cookie_make(secret, client, v[i].now, (struct sockaddr *)&a, got);
		tap_is_mem(got, 16, want, 16, "RFC 9018 A.%zu server cookie", i + 1);
	}
	/* A.2: the cookie of A.1 comes back 40 minutes later: still valid */
	struct sockaddr_storage a = tap_addr("198.51.100.100"), b = tap_addr("198.51.100.101");
	unhex(v[0].client, client);
	unhex(v[0].want, want);
	const struct sockaddr *sa = (struct sockaddr *)&a;
	tap_ok(answer_cookie_valid(secret, client, want, 16, 1559734385, sa), "A.1 cookie valid 40 min later");
	tap_ok(answer_cookie_valid(secret, client, want, 16, 1559731985 + 3600, sa), "valid after one hour");
	tap_ok(!answer_cookie_valid(secret, client, want, 16, 1559731985 + 3601, sa), "expired after one hour");
	tap_ok(answer_cookie_valid(secret, client, want, 16, 1559731985 - 300, sa), "5 min ahead: valid");
	tap_ok(!answer_cookie_valid(secret, client, want, 16, 1559731985 - 301, sa), "more than 5 min ahead: invalid");
	tap_ok(!answer_cookie_valid(secret, client, want, 16, 1559731985, (struct sockaddr *)&b),
	       "another client address: invalid");
	want[15] ^= 1;
	tap_ok(!answer_cookie_valid(secret, client, want, 16, 1559731985, sa), "a changed hash: invalid");
	want[15] ^= 1;
	client[0] ^= 1;
	tap_ok(!answer_cookie_valid(secret, client, want, 16, 1559731985, sa), "another client cookie: invalid");
	client[0] ^= 1;
	tap_ok(!answer_cookie_valid(secret, client, want, 8, 1559731985, sa), "8 bytes: invalid");
	want[0] = 2;
	tap_ok(!answer_cookie_valid(secret, client, want, 16, 1559731985, sa), "version 2: invalid");
}

/* ---- the answer path with a context ---- */

/* A query for name/type/class with an OPT carrying opts (optlen bytes). */
static size_t query(uint8_t *q, const char *name, uint16_t type, uint16_t class, const uint8_t *opts,
		    size_t optlen, bool edns)
{
	memset(q, 0, 12);
	q[0] = 0xab;
	q[1] = 0xcd;
	q[2] = 0x01;	/* RD */
	q[5] = 1;
	q[11] = edns ? 1 : 0;
	int n = mn_name_to_wire(name, q + 12, 256);
	if (n < 0)
		tap_bail("bad name %s", name);
	size_t o = 12 + (size_t)n;
	q[o++] = (uint8_t)(type >> 8);
	q[o++] = (uint8_t)type;
	q[o++] = (uint8_t)(class >> 8);
	q[o++] = (uint8_t)class;
	if (edns) {
		q[o++] = 0;
		q[o++] = 0;
		q[o++] = 41;
		q[o++] = 0x04;	/* payload 1232 */
		q[o++] = 0xd0;
		memset(q + o, 0, 4);
		o += 4;
		q[o++] = (uint8_t)(optlen >> 8);
		q[o++] = (uint8_t)optlen;
		memcpy(q + o, opts, optlen);
		o += optlen;
	}
	return o;
}

static void test_answer_ctx(void)
{
	zones_t *zones = calloc(1, sizeof(*zones));
	zset_t *zs = NULL;
	if (zones == NULL || zset_new(zones, &zs) != MN_OK)
		tap_bail("cannot build an empty zone set");
	uint8_t secret[16];
	unhex("000102030405060708090a0b0c0d0e0f", secret);
	struct sockaddr_storage a = tap_addr("192.0.2.1");
	answer_ctx_t ctx = { .client = (struct sockaddr *)&a, .secret = secret, .now = 1893456000,
			     .identity = "ns1-test", .version = "mailns 9" };
	uint8_t q[512], out[2048], opts[64];
	size_t qlen, len;
	answer_info_t info;

	/* CHAOS TXT */
	static const struct { const char *name; uint16_t type; const char *want; int rcode; } ch[] = {
		{ "version.bind", 16, "mailns 9", 0 }, { "VERSION.server", 16, "mailns 9", 0 },
		{ "id.server", 16, "ns1-test", 0 }, { "hostname.bind", 16, "ns1-test", 0 },
		{ "authors.bind", 16, NULL, 5 }, { "version.bind", 1, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(ch) / sizeof(ch[0]); i++) {
		qlen = query(q, ch[i].name, ch[i].type, 3, NULL, 0, false);
		int r = answer_query_ctx(zs, &ctx, q, qlen, false, out, sizeof(out), &len, &info);
		tap_is_int(r == ANSWER_SEND ? info.rcode : -1, ch[i].rcode, "CH %s type %u: rcode", ch[i].name,
			   ch[i].type);
		tap_is_int(out[7], ch[i].want != NULL ? 1 : 0, "CH %s type %u: answers", ch[i].name, ch[i].type);
		if (ch[i].want != NULL) {
			size_t tl = strlen(ch[i].want);
			/* c00c 0010 0003 00000000 rdlen len text */
			tap_is_int((long long)len, (long long)(qlen + 13 + tl), "CH %s: length", ch[i].name);
			tap_is_mem(out + qlen + 2, 4, "\x00\x10\x00\x03", 4, "CH %s: TXT CH", ch[i].name);
			tap_is_mem(out + qlen + 13, tl, ch[i].want, tl, "CH %s: the text", ch[i].name);
		}
	}
	answer_ctx_t none = ctx;
	none.version = none.identity = NULL;
	qlen = query(q, "version.bind", 16, 3, NULL, 0, false);
	answer_query_ctx(zs, &none, q, qlen, false, out, sizeof(out), &len, &info);
	tap_is_int(info.rcode, 5, "CH version.bind without server.version: REFUSED");
	tap_is_int(out[7], 0, "... and no answer");

	/* NSID: asked (empty option) -> the identity; not configured -> no option */
	qlen = query(q, "version.bind", 16, 3, (const uint8_t *)"\x00\x03\x00\x00", 4, true);
	answer_query_ctx(zs, &ctx, q, qlen, false, out, sizeof(out), &len, &info);
	tap_is_mem(out + len - 14, 14, "\x00\x0c\x00\x03\x00\x08ns1-test", 14, "NSID option with the identity");
	answer_query_ctx(zs, &none, q, qlen, false, out, sizeof(out), &len, &info);
	tap_is_mem(out + len - 2, 2, "\x00\x00", 2, "no identity: OPT without options");

	/* cookies */
	static const uint8_t client[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t sc[16];
	answer_cookie_make(secret, client, ctx.now, ctx.client, sc);
	memcpy(opts, "\x00\x0a\x00\x08", 4);
	memcpy(opts + 4, client, 8);
	qlen = query(q, "version.bind", 16, 3, opts, 12, true);
	answer_query_ctx(zs, &ctx, q, qlen, false, out, sizeof(out), &len, &info);
	tap_is_int(info.rcode, 0, "client cookie only: answered");
	tap_is_mem(out + len - 28, 4, "\x00\x0a\x00\x18", 4, "COOKIE option of 24 bytes");
	tap_is_mem(out + len - 24, 8, client, 8, "the client cookie echoed");
	tap_is_mem(out + len - 16, 16, sc, 16, "our server cookie");
	tap_ok(!info.cookie_valid, "not a valid server cookie");

	memcpy(opts, "\x00\x0a\x00\x18", 4);
	memcpy(opts + 12, sc, 16);
	qlen = query(q, "version.bind", 16, 3, opts, 28, true);
	ctx.now += 100;
	answer_query_ctx(zs, &ctx, q, qlen, false, out, sizeof(out), &len, &info);
	tap_is_int(info.rcode, 0, "valid server cookie: answered");
	tap_ok(info.cookie_valid, "valid server cookie recognized");
	answer_cookie_make(secret, client, ctx.now, ctx.client, sc);
	tap_is_mem(out + len - 16, 16, sc, 16, "a fresh server cookie");

	opts[27] ^= 0xff;
	qlen = query(q, "version.bind", 16, 3, opts, 28, true);
	answer_query_ctx(zs, &ctx, q, qlen, false, out, sizeof(out), &len, &info);
	tap_is_int(info.rcode, ANSWER_RCODE_BADCOOKIE, "bad server cookie over UDP: BADCOOKIE");
	tap_is_int(out[3] & 0x0f, 7, "BADCOOKIE: 7 in the header");
	tap_is_int(out[7], 0, "BADCOOKIE: no answer");
	tap_is_mem(out + len - 16, 16, sc, 16, "BADCOOKIE: with a fresh server cookie");
	answer_query_ctx(zs, &ctx, q, qlen, true, out, sizeof(out), &len, &info);
	tap_is_int(info.rcode, 0, "bad server cookie over TCP: answered");

	static const size_t badlen[] = { 0, 7, 9, 15, 41 };
	for (size_t i = 0; i < sizeof(badlen) / sizeof(badlen[0]); i++) {
		opts[0] = 0;
		opts[1] = 10;
		opts[2] = 0;
		opts[3] = (uint8_t)badlen[i];
		memset(opts + 4, 0x11, badlen[i]);
		qlen = query(q, "version.bind", 16, 3, opts, 4 + badlen[i], true);
		int r = answer_query_ctx(zs, &ctx, q, qlen, false, out, sizeof(out), &len, &info);
		tap_is_int(r == ANSWER_SEND ? info.rcode : -1, 1, "COOKIE of %zu bytes: FORMERR", badlen[i]);
	}
	/* without a context (answer_query) cookies and CHAOS are not served */
	qlen = query(q, "version.bind", 16, 3, opts, 4 + 41, true);
	tap_is_int(answer_query(zs, q, qlen, false, out, sizeof(out), &len), ANSWER_SEND, "no context: answered");
	tap_is_int(out[3] & 0x0f, 5, "no context: REFUSED as before");

	/* slip: header and question, TC, no records */
	qlen = query(q, "id.server", 16, 3, NULL, 0, false);
	answer_query_ctx(zs, &ctx, q, qlen, false, out, sizeof(out), &len, &info);
	len = answer_truncate(out, len, &info);
	tap_is_int((long long)len, (long long)qlen, "truncated to the question");
	tap_is_int(out[2] & 0x02, 0x02, "TC set");
	tap_is_mem(out + 6, 6, "\0\0\0\0\0\0", 6, "no records");
	zset_unref(zs);
}

int main(void)
{
	test_siphash();
	test_rfc9018();
	test_answer_ctx();
	return tap_done();
}
