/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_rrl.c -- the rate-limit decision of one thread: rate and burst, refill, slip, /24 and /56 prefixes */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/mn.h"
#include "server/srv.h"
#include "tests/tap/tap.h"

/*
 * Threads sharing the table, clocks read at different moments and the 32-bit
 * stamp wrapping are in test_udp.c; this file is one thread's view.  Distinct
 * prefixes are checked in a table of 2^20 buckets, where two of the few
 * prefixes here share a bucket (keyed hash) with a chance of about 10^-5.
 */
enum { BIG = 1u << 20 };

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		tap_bail("bad address %s", text);
	return ss;
}

static srv_rrl_t *table(size_t size)
{
	srv_rrl_t *r = NULL;
	if (srv_rrl_new(size, &r) != MN_OK)
		tap_bail("srv_rrl_new(%zu)", size);
	return r;
}

/* count CHECKS responses to address text at rate, slip, now: how many got verdict */
static int count(srv_rrl_t *r, const char *text, uint32_t rate, uint32_t slip, uint64_t now,
		 int checks, int verdict)
{
	struct sockaddr_storage a = addr(text);
	int n = 0;
	for (int i = 0; i < checks; i++)
		n += srv_rrl_check(r, (struct sockaddr *)&a, rate, slip, now) == verdict;
	return n;
}

static void test_new(void)
{
	srv_rrl_t *r = NULL;
	is_int(srv_rrl_new(0, &r), MN_EINVAL, "a table of 0 buckets: refused");
	is_int(srv_rrl_new(1000, &r), MN_EINVAL, "a table of 1000 buckets (not a power of two): refused");
	is_int(srv_rrl_new(1, &r), MN_OK, "a table of 1 bucket");
	srv_rrl_free(r);
	srv_rrl_free(NULL);
	ok(1, "srv_rrl_free(NULL) is a no-op");
}

static void test_rate(void)
{
	srv_rrl_t *r = table(1024);
	is_int(count(r, "192.0.2.1", 10, 0, 1000, 50, SRV_RRL_PASS), 10,
	       "rate 10: a burst of 10 at one instant, then nothing");
	is_int(count(r, "192.0.2.1", 10, 0, 1000, 5, SRV_RRL_DROP), 5, "slip 0: the limited ones are dropped");
	is_int(count(r, "192.0.2.1", 10, 0, 1099, 5, SRV_RRL_PASS), 0, "99 ms later (0.99 response): none");
	is_int(count(r, "192.0.2.1", 10, 0, 1100, 5, SRV_RRL_PASS), 1, "100 ms later: one more");
	is_int(count(r, "192.0.2.1", 10, 0, 1600, 20, SRV_RRL_PASS), 5, "500 ms later: five more");
	is_int(count(r, "192.0.2.1", 10, 0, 11600, 50, SRV_RRL_PASS), 10,
	       "10 s idle: the bucket is full again, no more than one burst");
	/* steady: one response every 100 ms at rate 10 always passes */
	int pass = 0;
	for (int i = 1; i <= 100; i++)
		pass += count(r, "192.0.2.1", 10, 0, 11600 + (uint64_t)i * 100, 1, SRV_RRL_PASS);
	is_int(pass, 100, "a client within its rate (10/s, 10 s) is never limited");
	/* a lower rate in a reload caps the bucket at once */
	is_int(count(r, "192.0.2.77", 100, 0, 50000, 10, SRV_RRL_PASS), 10, "rate 100: 10 of a burst of 100");
	is_int(count(r, "192.0.2.77", 5, 0, 50000, 50, SRV_RRL_PASS), 5,
	       "the rate reloaded down to 5: its 90 tokens are cut to 5");
	srv_rrl_free(r);
}

static void test_slip(void)
{
	srv_rrl_t *r = table(1024);
	is_int(count(r, "198.51.100.1", 4, 0, 1000, 4, SRV_RRL_PASS), 4, "rate 4: the burst passes");
	is_int(count(r, "198.51.100.1", 4, 0, 1000, 100, SRV_RRL_SLIP), 0, "slip 0: never a slipped response");
	is_int(count(r, "198.51.100.1", 4, 1, 1000, 30, SRV_RRL_SLIP), 30, "slip 1: every limited response slips");
	struct sockaddr_storage a = addr("198.51.100.1");
	char seq[16] = "";
	for (int i = 0; i < 9; i++)
		seq[i] = "PDS"[srv_rrl_check(r, (struct sockaddr *)&a, 4, 3, 1000)];
	is_str(seq, "DDSDDSDDS", "slip 3: every third limited response slips, the others are dropped");
	srv_rrl_free(r);
}

static void test_prefixes(void)
{
	srv_rrl_t *r = table(BIG);
	is_int(count(r, "203.0.113.1", 20, 0, 1000, 12, SRV_RRL_PASS), 12, "203.0.113.1: 12 of a burst of 20");
	is_int(count(r, "203.0.113.250", 20, 0, 1000, 20, SRV_RRL_PASS), 8,
	       "203.0.113.250, same /24: the 8 left of the shared burst");
	is_int(count(r, "203.0.112.1", 20, 0, 1000, 30, SRV_RRL_PASS), 20, "203.0.112.1, another /24: its own burst");
	is_int(count(r, "2001:db8:0:ab00::1", 20, 0, 1000, 12, SRV_RRL_PASS), 12,
	       "2001:db8:0:ab00::1: 12 of a burst of 20");
	is_int(count(r, "2001:db8:0:abff:ffff::9", 20, 0, 1000, 20, SRV_RRL_PASS), 8,
	       "2001:db8:0:abff:ffff::9, same /56: the 8 left");
	is_int(count(r, "2001:db8:0:ac00::1", 20, 0, 1000, 30, SRV_RRL_PASS), 20,
	       "2001:db8:0:ac00::1, the next /56: its own burst");
	is_int(count(r, "::203.0.113.1", 20, 0, 1000, 30, SRV_RRL_PASS), 20,
	       "an IPv6 address ending in the IPv4 prefix: its own bucket (the family is in the key)");
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
	test_rate();
	test_slip();
	test_prefixes();
	return tap_done();
}
