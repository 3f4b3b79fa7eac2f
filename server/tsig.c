/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tsig.c -- TSIG (RFC 8945) signing and verification on wire messages with OpenSSL HMAC */
#include "server/xfr.h"
#include "policy/wire.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

enum { T_TSIG = 250, CLASS_ANY = 255, DIGEST_MAX = 65535 + 1024 };

static const struct {
	const char *name;
	uint8_t wire[32];
	uint8_t wire_len;
	size_t mac_len;
} algs[] = {
	[XFR_HMAC_MD5] = { "hmac-md5", "\x08hmac-md5\x07sig-alg\x03reg\x03int", 26, 16 },
	[XFR_HMAC_SHA1] = { "hmac-sha1", "\x09hmac-sha1", 11, 20 },
	[XFR_HMAC_SHA224] = { "hmac-sha224", "\x0bhmac-sha224", 13, 28 },
	[XFR_HMAC_SHA256] = { "hmac-sha256", "\x0bhmac-sha256", 13, 32 },
	[XFR_HMAC_SHA384] = { "hmac-sha384", "\x0bhmac-sha384", 13, 48 },
	[XFR_HMAC_SHA512] = { "hmac-sha512", "\x0bhmac-sha512", 13, 64 },
};
enum { NALGS = sizeof(algs) / sizeof(algs[0]) };

static const EVP_MD *alg_md(xfr_alg_t a)
{
	switch (a) {
	case XFR_HMAC_MD5: return EVP_md5();
	case XFR_HMAC_SHA1: return EVP_sha1();
	case XFR_HMAC_SHA224: return EVP_sha224();
	case XFR_HMAC_SHA256: return EVP_sha256();
	case XFR_HMAC_SHA384: return EVP_sha384();
	case XFR_HMAC_SHA512: return EVP_sha512();
	}
	return NULL;
}

const char *xfr_alg_name(xfr_alg_t alg)
{
	return (unsigned int)alg < NALGS ? algs[alg].name : "?";
}

int xfr_alg_parse(const char *s, xfr_alg_t *alg)
{
	if (s == NULL || alg == NULL)
		return MN_EINVAL;
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	for (unsigned int i = 0; i < NALGS; i++)
		if ((strlen(algs[i].name) == n && strncasecmp(s, algs[i].name, n) == 0) ||
		    (i == XFR_HMAC_MD5 && n == 24 && strncasecmp(s, "hmac-md5.sig-alg.reg.int", n) == 0)) {
			*alg = (xfr_alg_t)i;
			return MN_OK;
		}
	return MN_ESYNTAX;
}

int xfr_base64_decode(const char *s, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	bool pad = false;
	for (; *s; s++) {
		int v;
		char c = *s;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		if (pad)
			return MN_ESYNTAX;	/* data after padding */
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			return MN_ESYNTAX;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return MN_ESPACE;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)n;
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 5; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* The digest buffer: one per thread (each loop thread serves transfers). */
static _Thread_local uint8_t digest_buf[DIGEST_MAX + 600];

/*
 * HMAC over: [prior MAC], msg, then the TSIG variables (or the timers only).
 * vars: key name wire, class, ttl, alg wire, time, fudge, error, other.
 */
static int compute(const xfr_key_t *k, const uint8_t *prior, size_t prior_len,
		   const uint8_t *msg, size_t len, bool timers_only, uint64_t time_signed,
		   uint16_t fudge, uint16_t error, const uint8_t *other, uint16_t other_len,
		   uint8_t *mac, unsigned int *mac_len)
{
	size_t need = (prior_len ? 2 + prior_len : 0) + len + k->wire_len + 2 + 4 + 32 + 6 + 2 +
		      2 + 2 + other_len;
	if (need > sizeof(digest_buf))
		return MN_ESPACE;
	uint8_t *d = digest_buf;
	size_t o = 0;
	if (prior_len > 0) {
		mn_put16(d, (uint16_t)prior_len);
		memcpy(d + 2, prior, prior_len);
		o = 2 + prior_len;
	}
	memcpy(d + o, msg, len);
	o += len;
	if (!timers_only) {
		memcpy(d + o, k->wire, k->wire_len);
		o += k->wire_len;
		mn_put16(d + o, CLASS_ANY);
		memset(d + o + 2, 0, 4);
		o += 6;
		memcpy(d + o, algs[k->alg].wire, algs[k->alg].wire_len);
		o += algs[k->alg].wire_len;
	}
	put48(d + o, time_signed);
	mn_put16(d + o + 6, fudge);
	o += 8;
	if (!timers_only) {
		mn_put16(d + o, error);
		mn_put16(d + o + 2, other_len);
		memcpy(d + o + 4, other, other_len);
		o += 4u + other_len;
	}
	if (HMAC(alg_md(k->alg), k->secret, (int)k->secret_len, d, o, mac, mac_len) == NULL)
		return MN_EINVAL;
	return MN_OK;
}

int xfr_tsig_sign(const xfr_key_t *k, uint8_t *msg, size_t *len, size_t cap,
		  const uint8_t *prior, size_t prior_len, bool timers_only, uint16_t error,
		  uint64_t now, uint8_t *mac_out, size_t *mac_len_out)
{
	if (k == NULL || msg == NULL || len == NULL || *len < 12)
		return MN_EINVAL;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	uint8_t other[6];
	uint16_t other_len = 0;
	if (error == XFR_BADTIME) {
		put48(other, now);	/* the server's time (RFC 8945 5.2.3) */
		other_len = 6;
	}
	bool sign = error != XFR_BADKEY && error != XFR_BADSIG;
	if (sign) {
		int r = compute(k, prior, prior_len, msg, *len, timers_only, now, XFR_TSIG_FUDGE,
				error, other, other_len, mac, &mac_len);
		if (r < 0)
			return r;
	}
	size_t rdlen = algs[k->alg].wire_len + 6u + 2 + 2 + mac_len + 2 + 2 + 2 + other_len;
	size_t need = k->wire_len + 10u + rdlen;
	if (*len + need > cap)
		return MN_ESPACE;
	uint8_t *p = msg + *len;
	memcpy(p, k->wire, k->wire_len);
	p += k->wire_len;
	mn_put16(p, T_TSIG);
	mn_put16(p + 2, CLASS_ANY);
	memset(p + 4, 0, 4);
	mn_put16(p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(p, algs[k->alg].wire, algs[k->alg].wire_len);
	p += algs[k->alg].wire_len;
	put48(p, now);
	mn_put16(p + 6, XFR_TSIG_FUDGE);
	mn_put16(p + 8, (uint16_t)mac_len);
	p += 10;
	memcpy(p, mac, mac_len);
	p += mac_len;
	memcpy(p, msg, 2);	/* original ID */
	mn_put16(p + 2, error);
	mn_put16(p + 4, other_len);
	memcpy(p + 6, other, other_len);
	mn_put16(msg + 10, (uint16_t)(mn_get16(msg + 10) + 1));
	*len += need;
	if (mac_out != NULL)
		memcpy(mac_out, mac, mac_len);
	if (mac_len_out != NULL)
		*mac_len_out = mac_len;
	return MN_OK;
}

/* Reads a possibly compressed name at o into low (lowercase wire); returns the offset after it. */
static size_t read_name(const uint8_t *m, size_t len, size_t o, uint8_t *low, uint16_t *low_len)
{
	size_t end = 0, n = 0;
	int jumps = 0;
	for (;;) {
		if (o >= len)
			return 0;
		uint8_t l = m[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 2 > len || ++jumps > 64)
				return 0;
			if (end == 0)
				end = o + 2;
			o = (size_t)(mn_get16(m + o) & 0x3fff);
			continue;
		}
		if (l & 0xc0 || n + l + 1u > 255 || o + l + 1u > len)
			return 0;
		low[n++] = l;
		for (size_t i = 1; i <= l; i++) {
			uint8_t c = m[o + i];
			low[n++] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
		}
		o += l + 1u;
		if (l == 0)
			break;
	}
	*low_len = (uint16_t)n;
	return end ? end : o;
}

int xfr_tsig_verify(const xfr_conf_t *c, const uint8_t *msg, size_t len, uint64_t now,
		    xfr_tsig_t *t)
{
	if (msg == NULL || t == NULL || len < 12)
		return MN_EINVAL;
	memset(t, 0, sizeof(*t));
	t->key = -1;
	unsigned int total = (unsigned int)mn_get16(msg + 4) + mn_get16(msg + 6) + mn_get16(msg + 8) +
			     mn_get16(msg + 10);
	if (mn_get16(msg + 10) == 0)
		return MN_OK;
	/* walk to the last record */
	uint8_t name[256];
	uint16_t nlen;
	size_t o = 12, last = 0;
	for (unsigned int i = 0; i < total; i++) {
		last = o;
		o = read_name(msg, len, o, name, &nlen);
		if (o == 0 || o + (i < mn_get16(msg + 4) ? 4u : 10u) > len)
			return MN_ESYNTAX;
		if (i < mn_get16(msg + 4)) {
			o += 4;
			continue;
		}
		o += 10u + mn_get16(msg + o + 8);
		if (o > len)
			return MN_ESYNTAX;
	}
	size_t rr = read_name(msg, len, last, t->name, &t->name_len);
	if (rr == 0 || mn_get16(msg + rr) != T_TSIG)
		return MN_OK;
	t->present = true;
	t->stripped_len = last;
	size_t rd = rr + 10, rdend = rd + mn_get16(msg + rr + 8);
	if (rdend != len)
		return MN_ESYNTAX;	/* something after the TSIG */
	uint8_t alg[256];
	uint16_t alg_len;
	size_t p = read_name(msg, rdend, rd, alg, &alg_len);
	if (p == 0 || p + 10 > rdend)
		return MN_ESYNTAX;
	t->alg = -1;
	for (unsigned int i = 0; i < NALGS; i++)
		if (algs[i].wire_len == alg_len && memcmp(algs[i].wire, alg, alg_len) == 0)
			t->alg = (int)i;
	uint64_t ts = mn_getn(msg + p, 6);
	uint16_t fudge = mn_get16(msg + p + 6);
	uint16_t mac_len = mn_get16(msg + p + 8);
	p += 10;
	if (p + mac_len + 6 > rdend || mac_len > sizeof(t->mac))
		return MN_ESYNTAX;
	const uint8_t *mac = msg + p;
	memcpy(t->mac, mac, mac_len);
	t->mac_len = mac_len;
	p += mac_len;
	t->orig_id = mn_get16(msg + p);
	uint16_t other_len = mn_get16(msg + p + 4);
	if (p + 6 + other_len != rdend)
		return MN_ESYNTAX;
	t->time_signed = ts;

	for (size_t i = 0; c != NULL && i < c->nkeys; i++)
		if (c->keys[i].wire_len == t->name_len &&
		    memcmp(c->keys[i].wire, t->name, t->name_len) == 0 &&
		    algs[c->keys[i].alg].wire_len == alg_len &&
		    memcmp(algs[c->keys[i].alg].wire, alg, alg_len) == 0)
			t->key = (int)i;
	if (t->key < 0) {
		t->error = XFR_BADKEY;
		return MN_OK;
	}
	const xfr_key_t *k = &c->keys[t->key];
	/* the message as signed: without the TSIG, ARCOUNT - 1, the original ID */
	static _Thread_local uint8_t plain[65536];
	if (last > sizeof(plain))
		return MN_ESYNTAX;
	memcpy(plain, msg, last);
	mn_put16(plain, t->orig_id);
	mn_put16(plain + 10, (uint16_t)(mn_get16(msg + 10) - 1));
	uint8_t want[EVP_MAX_MD_SIZE];
	unsigned int want_len = 0;
	int r = compute(k, NULL, 0, plain, last, false, ts, fudge, mn_get16(msg + p + 2),
			msg + p + 6, other_len, want, &want_len);
	if (r < 0)
		return r;
	/* a truncated MAC (RFC 8945 5.2.2.1) is not accepted: full length only */
	if (mac_len != want_len || CRYPTO_memcmp(mac, want, want_len) != 0) {
		t->error = XFR_BADSIG;
		return MN_OK;
	}
	uint64_t lo = now > fudge ? now - fudge : 0;
	if (ts < lo || ts > now + fudge)
		t->error = XFR_BADTIME;
	return MN_OK;
}

/*
 * The TSIG failure log limit, shared by every thread: the second being
 * counted, the lines logged in it and the failures not logged since the last
 * summary.  A race at the turn of a second may let a thread or two log one
 * line more: bounded all the same.
 */
static struct {
	uint64_t second;
	uint32_t logged;
	uint32_t suppressed;
} tsig_log;

void xfr_tsig_log(const struct sockaddr *peer, uint16_t error, const char *key, uint64_t now)
{
	uint64_t second = __atomic_load_n(&tsig_log.second, __ATOMIC_RELAXED);
	if (second != now &&
	    __atomic_compare_exchange_n(&tsig_log.second, &second, now, false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED)) {
		__atomic_store_n(&tsig_log.logged, 0, __ATOMIC_RELAXED);
		uint32_t missed = __atomic_exchange_n(&tsig_log.suppressed, 0, __ATOMIC_RELAXED);
		if (missed > 0)
			mn_log(MN_LOG_NOTICE, "%u more tsig failures not logged (at most %d a second)",
			       missed, XFR_TSIG_LOG_MAX);
	}
	uint32_t n = __atomic_fetch_add(&tsig_log.logged, 1, __ATOMIC_RELAXED);
	if (n >= XFR_TSIG_LOG_MAX) {
		__atomic_fetch_add(&tsig_log.suppressed, 1, __ATOMIC_RELAXED);
		return;
	}
	char client[64];
	xfr_addr_text(peer, client, sizeof(client));
	const char *name = error == XFR_BADKEY ? "BADKEY" : error == XFR_BADSIG ? "BADSIG"
			 : error == XFR_BADTIME ? "BADTIME" : "error";
	mn_log(MN_LOG_NOTICE, "transfer refused to %s (tsig %s, %s%s)%s", client, name,
	       key != NULL ? "key " : "unknown key", key != NULL ? key : "",
	       n + 1 == XFR_TSIG_LOG_MAX ? "; more tsig failures this second are not logged" : "");
}
