/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rrl.c -- response rate limiting: a token bucket per client prefix (/24, /56), one table for every thread */
#include "server/rrl.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "policy/mn.h"
#include "server/answer.h"
#include "server/srv.h"

/*
 * One fixed table of buckets for the whole server, shared by every loop
 * thread, indexed by a keyed hash of the client's prefix (IPv4 /24, IPv6
 * /56): nothing is allocated per query, and prefixes that collide share a
 * bucket (as in NSD and Knot).  SO_REUSEPORT spreads one client's source
 * ports over the threads, so per-thread buckets would multiply the rate by
 * the threads; one table holds it whatever the spread.
 *
 * Each bucket holds up to `rate` responses (one second of burst) in
 * thousandths, refilled at `rate` per second from the loops' millisecond
 * clocks.  Its state is one 64-bit word (the low 32 bits of the clock when it
 * was last brought up to date, and the tokens) changed by compare-and-swap:
 * no lock, and a limited client whose bucket is empty within the same
 * millisecond is not even written.  The slip counter beside it is a plain
 * atomic increment (used when a response is limited and the slip is on).
 */
typedef struct bucket {
	uint64_t state;		/* stamp << 32 | tokens (__atomic); 0: never used */
	uint32_t limited;	/* limited responses so far (__atomic, for the slip) */
	uint32_t unused;
} bucket_t;

enum {
	/*
	 * The loops' clocks are read at different moments: a stamp written by
	 * another thread may lie up to this many ms ahead of a thread's clock
	 * (no refill then); further ahead, the bucket was last used ~49 days ago
	 * (the 32-bit stamp wrapped) and is full again.
	 */
	RRL_SKEW_MS = 60000,
};

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

int srv_rrl_new_keyed(size_t size, const uint8_t key[16], srv_rrl_t **out)
{
	if (size == 0 || (size & (size - 1)) != 0 || key == NULL)
		return MN_EINVAL;
	srv_rrl_t *r = calloc(1, sizeof(*r) + size * sizeof(bucket_t));
	if (r == NULL)
		return MN_ENOMEM;
	r->mask = size - 1;
	memcpy(r->key, key, sizeof(r->key));
	*out = r;
	return MN_OK;
}

int srv_rrl_new(size_t size, srv_rrl_t **out)
{
	uint8_t key[16];
	if (srv_random(key, sizeof(key)) != MN_OK)
		return MN_ENOMEM;
	return srv_rrl_new_keyed(size, key, out);
}

void srv_rrl_free(srv_rrl_t *r)
{
	free(r);
}

int srv_rrl_bucket(const srv_rrl_t *r, const struct sockaddr *addr, size_t *out)
{
	uint8_t prefix[8] = { 0 };
	if (addr->sa_family == AF_INET) {
		memcpy(prefix + 1, &((const struct sockaddr_in *)addr)->sin_addr, 3);
		prefix[0] = 4;
	} else if (addr->sa_family == AF_INET6) {
		memcpy(prefix + 1, &((const struct sockaddr_in6 *)addr)->sin6_addr, 7);
		prefix[0] = 6;
	} else {
		return MN_EINVAL;
	}
	*out = (size_t)(answer_siphash(r->key, prefix, sizeof(prefix)) & r->mask);
	return MN_OK;
}

int srv_rrl_check(srv_rrl_t *r, const struct sockaddr *addr, uint32_t rate, uint32_t slip,
		  uint64_t now_ms)
{
	size_t i;
	if (srv_rrl_bucket(r, addr, &i) != MN_OK)
		return SRV_RRL_PASS;	/* another family than IPv4 and IPv6 */
	bucket_t *b = &r->buckets[i];
	uint64_t cap = (uint64_t)rate * 1000u;	/* <= 10^9: fits the 32 bits of tokens */
	uint32_t now = (uint32_t)now_ms;
	uint64_t old = __atomic_load_n(&b->state, __ATOMIC_RELAXED), next;
	bool pass;
	do {
		uint32_t stamp = (uint32_t)(old >> 32), elapsed = now - stamp;
		uint64_t tokens = (uint32_t)old;
		if (old == 0 || (elapsed > INT32_MAX && elapsed < (uint32_t)-RRL_SKEW_MS)) {
			tokens = cap;		/* first use, or unused for weeks */
			stamp = now;
		} else if (elapsed <= INT32_MAX) {
			tokens += (uint64_t)elapsed * rate;
			stamp = now;
		}				/* else another thread's clock is a little ahead */
		if (tokens > cap)
			tokens = cap;		/* full, or the rate went down in a reload */
		pass = tokens >= 1000u;
		if (pass)
			tokens -= 1000u;
		next = (uint64_t)stamp << 32 | tokens;
		if (next == old)
			break;			/* empty and limited: nothing to write */
	} while (!__atomic_compare_exchange_n(&b->state, &old, next, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if (pass)
		return SRV_RRL_PASS;
	if (slip != 0 && __atomic_add_fetch(&b->limited, 1, __ATOMIC_RELAXED) % slip == 0)
		return SRV_RRL_SLIP;
	return SRV_RRL_DROP;
}
