/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rrl.c -- response rate limiting: a token bucket per client prefix (/24, /56) */
#include "server/srv.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "policy/mn.h"
#include "server/answer.h"

/*
 * A fixed table of buckets indexed by a keyed hash of the client's prefix
 * (IPv4 /24, IPv6 /56): nothing is allocated per query, and prefixes that
 * collide share a bucket (as in NSD and Knot).  Each bucket holds up to
 * `rate` responses (one second of burst) in thousandths, refilled at `rate`
 * per second from the loop's millisecond clock.
 */
typedef struct bucket {
	uint64_t last_ms;	/* when tokens was last brought up to date */
	uint32_t tokens;	/* in thousandths of a response */
	uint32_t limited;	/* limited responses so far (for the slip) */
} bucket_t;

struct srv_rrl {
	uint8_t key[16];	/* the hash key, random: prefixes cannot be aimed at one bucket */
	size_t mask;
	bucket_t buckets[];
};

int srv_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : MN_EINVAL;
		p += n;
		len -= (size_t)n;
	}
	return MN_OK;
}

int srv_rrl_new(size_t size, srv_rrl_t **out)
{
	if (size == 0 || (size & (size - 1)) != 0)
		return MN_EINVAL;
	srv_rrl_t *r = calloc(1, sizeof(*r) + size * sizeof(bucket_t));
	if (r == NULL)
		return MN_ENOMEM;
	r->mask = size - 1;
	if (srv_random(r->key, sizeof(r->key)) != MN_OK) {
		free(r);
		return MN_ENOMEM;
	}
	*out = r;
	return MN_OK;
}

void srv_rrl_free(srv_rrl_t *r)
{
	free(r);
}

int srv_rrl_check(srv_rrl_t *r, const struct sockaddr *addr, uint32_t rate, uint32_t slip,
		  uint64_t now_ms)
{
	uint8_t prefix[8] = { 0 };
	if (addr->sa_family == AF_INET) {
		memcpy(prefix + 1, &((const struct sockaddr_in *)addr)->sin_addr, 3);
		prefix[0] = 4;
	} else if (addr->sa_family == AF_INET6) {
		memcpy(prefix + 1, &((const struct sockaddr_in6 *)addr)->sin6_addr, 7);
		prefix[0] = 6;
	} else {
		return SRV_RRL_PASS;
	}
	bucket_t *b = &r->buckets[answer_siphash(r->key, prefix, sizeof(prefix)) & r->mask];
	uint64_t cap = (uint64_t)rate * 1000u;
	if (b->last_ms == 0) {
		b->tokens = (uint32_t)cap;
	} else if (now_ms > b->last_ms) {
		uint64_t t = b->tokens + (now_ms - b->last_ms) * rate;
		b->tokens = (uint32_t)(t > cap ? cap : t);
	}
	b->last_ms = now_ms;
	if (b->tokens > cap)
		b->tokens = (uint32_t)cap;	/* the rate went down in a reload */
	if (b->tokens >= 1000u) {
		b->tokens -= 1000u;
		return SRV_RRL_PASS;
	}
	b->limited++;
	if (slip != 0 && b->limited % slip == 0)
		return SRV_RRL_SLIP;
	return SRV_RRL_DROP;
}
