/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cookie.c -- DNS server cookies (RFC 7873, RFC 9018) with SipHash-2-4 */
#include "server/answer.h"
#include "policy/wire.h"

#include <netinet/in.h>
#include <string.h>

enum {
	COOKIE_VERSION = 1,
	COOKIE_MAX_AGE = 3600,		/* RFC 9018 4.3: older than one hour is invalid */
	COOKIE_MAX_AHEAD = 300,		/* and more than five minutes in the future */
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);      \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);      \
	} while (0)

/* The reference SipHash-2-4 (Aumasson, Bernstein), 64-bit output. */
uint64_t answer_siphash(const uint8_t key[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t end = len - len % 8;
	for (size_t i = 0; i < end; i += 8) {
		uint64_t m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)in[end + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* client cookie | version | reserved | timestamp | address, hashed into out[8..16). */
static void cookie_hash(const uint8_t *secret, const uint8_t client[8], const uint8_t head[8],
			const struct sockaddr *addr, uint8_t hash[8])
{
	uint8_t in[8 + 8 + 16];
	size_t n = 0;
	memcpy(in, client, 8);
	memcpy(in + 8, head, 8);
	n = 16;
	if (addr != NULL && addr->sa_family == AF_INET) {
		memcpy(in + n, &((const struct sockaddr_in *)addr)->sin_addr, 4);
		n += 4;
	} else if (addr != NULL && addr->sa_family == AF_INET6) {
		memcpy(in + n, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
		n += 16;
	}
	uint64_t h = answer_siphash(secret, in, n);
	/* RFC 9018 appendix: the hash is written as SipHash's 8 output bytes (little endian) */
	for (int i = 0; i < 8; i++)
		hash[i] = (uint8_t)(h >> (8 * i));
}

void answer_cookie_make(const uint8_t *secret, const uint8_t client[8], uint32_t now,
			const struct sockaddr *addr, uint8_t out[16])
{
	out[0] = COOKIE_VERSION;
	out[1] = out[2] = out[3] = 0;
	mn_put32(out + 4, now);
	cookie_hash(secret, client, out, addr, out + 8);
}

bool answer_cookie_valid(const uint8_t *secret, const uint8_t client[8], const uint8_t *sc,
			 size_t sclen, uint32_t now, const struct sockaddr *addr)
{
	if (sclen != 16 || sc[0] != COOKIE_VERSION)
		return false;
	uint32_t ts = mn_get32(sc + 4);
	/* serial-number arithmetic (RFC 1982) on the 32-bit timestamp */
	int32_t age = (int32_t)(now - ts);
	if (age > COOKIE_MAX_AGE || age < -COOKIE_MAX_AHEAD)
		return false;
	uint8_t hash[8];
	cookie_hash(secret, client, sc, addr, hash);
	uint8_t diff = 0;
	for (int i = 0; i < 8; i++)
		diff |= (uint8_t)(hash[i] ^ sc[8 + i]);
	return diff == 0;
}
