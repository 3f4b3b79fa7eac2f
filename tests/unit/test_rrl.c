/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_rrl.c -- the rate-limit decision of one thread: rate and burst, refill, slip, /24 and /56 prefixes */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/mn.h"
#include "server/rrl.h"
#include "tests/tap/tap.h"

/*
 * Threads sharing the table, clocks read at different moments and the 32-bit
 * stamp wrapping are in test_udp.c; this file is one thread's view.  Verdicts
 * from a given clock, so nothing depends on the machine's speed.  The tables
 * have a fixed hash key, and each test first asserts that the distinct
 * prefixes it uses are in distinct buckets, so no verdict depends on chance.
 */
enum { BIG = 1u << 20 };
static const uint8_t KEY[16] = "mailns-rrl-test";

static srv_rrl_t *table(size_t size)
{
	srv_rrl_t *r = NULL;
	if (srv_rrl_new_keyed(size, KEY, &r) != MN_OK)
		tap_bail("srv_rrl_new_keyed(%zu)", size);
	return r;
}

/* the bucket of address text in r */
static size_t bucket(const srv_rrl_t *r, const char *text)
{
	struct sockaddr_storage a = tap_addr(text);
	size_t i = 0;
	if (srv_rrl_bucket(r, (struct sockaddr *)&a, &i) != MN_OK)
		tap_bail("srv_rrl_bucket(%s)", text);
	return i;
}

/* addresses of distinct prefixes (NULL-terminated): each in a bucket of its own? */
static void distinct(const srv_rrl_t *r, const char *const *texts, const char *what)
{
	size_t n = 0;
	while (texts[n] != NULL)
		n++;
	int shared = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (bucket(r, texts[i]) == bucket(r, texts[j])) {
				tap_diag("%s and %s share bucket %zu", texts[i], texts[j], bucket(r, texts[i]));
				shared++;
			}
	is_int(shared, 0, "%s: the fixed key puts each prefix in a bucket of its own", what);
}

/* count CHECKS responses to address text at rate, slip, now: how many got verdict */
static int count(srv_rrl_t *r, const char *text, uint32_t rate, uint32_t slip, uint64_t now,
		 int checks, int verdict)
{
	struct sockaddr_storage a = tap_addr(text);
	int n = 0;
	for (int i = 0; i < checks; i++)
		n += srv_rrl_check(r, (struct sockaddr *)&a, rate, slip, now) == verdict;
	return n;
}

static void test_new(void)
{
	srv_rrl_t *r = NULL;
	is_int(srv_rrl_new(0, &r), MN_EINVAL, "a table of 0 buckets: refused");
	is_int(srv_rrl_new(1000, &r), MN_EINVAL, "the table size must be a power of two");
	is_int(srv_rrl_new(1, &r), MN_OK, "a table of 1 bucket");
	srv_rrl_free(r);
	srv_rrl_free(NULL);
	ok(1, "srv_rrl_free(NULL) is a no-op");
	is_int(srv_rrl_new_keyed(1024, NULL, &r), MN_EINVAL, "a keyed table without a key: refused");
	/* the same key: the same buckets; one prefix: one bucket */
	srv_rrl_t *a = table(BIG), *b = table(BIG);
	is_int((long long)bucket(a, "203.0.113.9"), (long long)bucket(b, "203.0.113.9"), "the same key: the same bucket");
	is_int((long long)bucket(a, "203.0.113.9"), (long long)bucket(a, "203.0.113.250"), "one /24: one bucket");
	struct sockaddr un = { .sa_family = AF_UNIX };
	size_t i = 0;
	is_int(srv_rrl_bucket(a, &un, &i), MN_EINVAL, "no bucket for another family than IPv4 and IPv6");
	srv_rrl_free(a);
	srv_rrl_free(b);
}

/* verdicts as letters: P pass, D drop, S slip */
static void test_sequence(void)
{
	srv_rrl_t *r = table(1024);
	distinct(r, (const char *[]){ "192.0.2.1", "2001:db8:0:ff::1", "198.51.100.1", NULL }, "sequence");
	struct sockaddr_storage a = tap_addr("192.0.2.1"), b = tap_addr("192.0.2.200");
	struct sockaddr_storage c = tap_addr("2001:db8:0:ff::1"), d = tap_addr("2001:db8:0:ff:ffff::2");
	const struct sockaddr *sa = (struct sockaddr *)&a, *sb = (struct sockaddr *)&b;
	char got[32] = "";
	uint64_t now = 1000;
	for (int i = 0; i < 11; i++)
		got[i] = "PDS"[srv_rrl_check(r, i % 2 ? sb : sa, 5, 2, now)];
	is_str(got, "PPPPPDSDSDS", "rate 5, slip 2: 5 pass, then drop and slip alternate (one /24)");
	now += 400;	/* 2 tokens back */
	for (int i = 0; i < 4; i++)
		got[i] = "PDS"[srv_rrl_check(r, sa, 5, 2, now)];
	got[4] = '\0';
	is_str(got, "PPDS", "after 400 ms: 2 more");
	now += 10000;	/* full again, but never more than the rate */
	for (int i = 0; i < 7; i++)
		got[i] = "PDS"[srv_rrl_check(r, sa, 5, 0, now)];
	got[7] = '\0';
	is_str(got, "PPPPPDD", "after 10 s: a burst of 5 only; slip 0 drops all");
	for (int i = 0; i < 5; i++)
		got[i] = "PDS"[srv_rrl_check(r, i % 2 ? (struct sockaddr *)&d : (struct sockaddr *)&c, 2, 1, now)];
	got[5] = '\0';
	is_str(got, "PPSSS", "IPv6 /56 shares a bucket; slip 1: every limited response truncated");
	/* slip 3 on a fresh prefix: the limited counter starts at 0 */
	struct sockaddr_storage e = tap_addr("198.51.100.1");
	for (int i = 0; i < 13; i++)
		got[i] = "PDS"[srv_rrl_check(r, (struct sockaddr *)&e, 4, 3, now)];
	got[13] = '\0';
	is_str(got, "PPPPDDSDDSDDS", "slip 3: every third limited response slips, the others are dropped");
	srv_rrl_free(r);
}

static void test_rate(void)
{
	srv_rrl_t *r = table(1024);
	is_int(count(r, "192.0.2.1", 10, 0, 1000, 50, SRV_RRL_PASS), 10, "rate 10: a burst of 10");
	is_int(count(r, "192.0.2.1", 10, 0, 1099, 5, SRV_RRL_PASS), 0,
	       "99 ms later (0.99 of a response): none");
	is_int(count(r, "192.0.2.1", 10, 0, 1100, 5, SRV_RRL_PASS), 1,
	       "1 ms more: the fraction kept, one more");
	/* steady: one response every 100 ms at rate 10 always passes */
	int pass = 0;
	for (int i = 1; i <= 100; i++)
		pass += count(r, "192.0.2.1", 10, 0, 1100 + (uint64_t)i * 100, 1, SRV_RRL_PASS);
	is_int(pass, 100, "a client within its rate (10/s for 10 s) is never limited");
	/* a lower rate in a reload caps the bucket at once */
	is_int(count(r, "192.0.2.77", 100, 0, 50000, 10, SRV_RRL_PASS), 10, "rate 100: 10 of a burst of 100");
	is_int(count(r, "192.0.2.77", 5, 0, 50000, 50, SRV_RRL_PASS), 5,
	       "the rate reloaded down to 5: its 90 tokens are cut to 5");
	srv_rrl_free(r);
}

/* the prefix boundaries: the neighbour /24 and /56 have buckets of their own */
static void test_prefixes(void)
{
	srv_rrl_t *r = table(BIG);
	distinct(r, (const char *[]){ "203.0.113.1", "203.0.112.255", "203.0.114.0", "2001:db8:0:ab00::1",
				      "2001:db8:0:ac00::", "2001:db8:0:aaff::1", "::cb00:7100", NULL },
		 "prefixes");
	is_int(count(r, "203.0.113.1", 20, 0, 1000, 30, SRV_RRL_PASS), 20, "203.0.113.1: a burst of 20");
	is_int(count(r, "203.0.113.255", 20, 0, 1000, 30, SRV_RRL_PASS), 0, "203.0.113.255, same /24: none left");
	is_int(count(r, "203.0.112.255", 20, 0, 1000, 30, SRV_RRL_PASS), 20, "203.0.112.255, the /24 below: its own");
	is_int(count(r, "203.0.114.0", 20, 0, 1000, 30, SRV_RRL_PASS), 20, "203.0.114.0, the /24 above: its own");
	is_int(count(r, "2001:db8:0:ab00::1", 20, 0, 1000, 30, SRV_RRL_PASS), 20, "2001:db8:0:ab00::1: a burst of 20");
	is_int(count(r, "2001:db8:0:abff:ffff:ffff:ffff:ffff", 20, 0, 1000, 30, SRV_RRL_PASS), 0,
	       "the last address of that /56: none left");
	is_int(count(r, "2001:db8:0:ac00::", 20, 0, 1000, 30, SRV_RRL_PASS), 20,
	       "2001:db8:0:ac00::, the next /56: its own");
	is_int(count(r, "2001:db8:0:aaff::1", 20, 0, 1000, 30, SRV_RRL_PASS), 20,
	       "2001:db8:0:aaff::1, the /56 before: its own");
	is_int(count(r, "::cb00:7100", 20, 0, 1000, 30, SRV_RRL_PASS), 20,
	       "::203.0.113.0 (IPv6 bytes of the IPv4 /24): its own bucket, the family is in the key");
	struct sockaddr un = { .sa_family = AF_UNIX };
	int pass = 0;
	for (int i = 0; i < 100; i++)
		pass += srv_rrl_check(r, &un, 1, 1, 1000) == SRV_RRL_PASS;
	is_int(pass, 100, "another family than IPv4 and IPv6: never limited");
	srv_rrl_free(r);
}

int main(void)
{
	test_new();
	test_sequence();
	test_rate();
	test_prefixes();
	return tap_done();
}
