/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_udp.c -- the UDP send path drops what the kernel will not take; the rate-limit table shared by threads */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "policy/mn.h"
#include "server/rrl.h"
#include "server/srv.h"
#include "tests/tap/tap.h"

enum { MSG_LEN = 1000, NMSGS = 4000 };

static uint8_t payload[MSG_LEN];
static struct mmsghdr msgs[NMSGS];
static struct iovec iov[NMSGS];

static void msgs_init(size_t n)
{
	memset(msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = sizeof(payload);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
}

/* Reads every datagram waiting on fd; returns how many. */
static size_t drain(int fd)
{
	static uint8_t buf[MSG_LEN * 2];
	size_t n = 0;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/*
 * A datagram socket whose peer does not read (an AF_UNIX pair: its send
 * buffer fills deterministically, as a UDP socket's does when the reply path
 * is slower than the queries): srv_udp_sendv drops what does not fit, counts
 * it, and does not block even on a blocking socket.
 */
static void test_sendv_full(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		tap_bail("socketpair (%s)", strerror(errno));
	alarm(20);	/* a send that blocks fails the test instead of hanging it */
	msgs_init(NMSGS);
	size_t dropped = srv_udp_sendv(sv[0], msgs, NMSGS);
	size_t got = drain(sv[1]);
	tap_diag("%d datagrams of %d bytes to a peer that does not read: %zu sent, %zu dropped",
		 NMSGS, MSG_LEN, got, dropped);
	ok(got > 0, "the kernel took some (%zu)", got);
	ok(dropped > 0, "what it would not take was dropped (%zu), not queued", dropped);
	is_int((long long)(got + dropped), NMSGS, "every message sent or counted as dropped");
	is_int((long long)srv_udp_sendv(sv[0], msgs, 10), 0, "room again once the peer read: none dropped");
	is_int((long long)drain(sv[1]), 10, "... and all 10 arrived");
	alarm(0);
	close(sv[0]);
	close(sv[1]);
}

/* One message the kernel refuses (a bad address) is dropped alone; the rest go. */
static void test_sendv_refused(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		tap_bail("socketpair (%s)", strerror(errno));
	msgs_init(5);
	struct sockaddr_in bad = { .sin_family = AF_INET, .sin_port = htons(53) };
	msgs[1].msg_hdr.msg_name = &bad;	/* not an AF_UNIX address: EINVAL */
	msgs[1].msg_hdr.msg_namelen = sizeof(bad);
	msgs[3].msg_hdr.msg_name = &bad;
	msgs[3].msg_hdr.msg_namelen = sizeof(bad);
	is_int((long long)srv_udp_sendv(sv[0], msgs, 5), 2, "two refused messages dropped");
	is_int((long long)drain(sv[1]), 3, "the three others sent");
	is_int((long long)srv_udp_sendv(sv[0], msgs, 0), 0, "nothing to send: nothing dropped");
	close(sv[0]);
	close(sv[1]);
}

/* ---- the rate-limit table, shared by threads ---- */

enum { THREADS = 4, CHECKS = 20000, RATE = 1000 };

struct hammer {
	srv_rrl_t *rrl;
	struct sockaddr_storage peer;
	size_t verdicts[3];	/* pass, drop, slip */
};

static void hammer_run(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < CHECKS; i++)
		h->verdicts[srv_rrl_check(h->rrl, (struct sockaddr *)&h->peer, RATE, 2, 5000)]++;
}

/*
 * Threads checking responses to one /24 (each its own address, as ports or
 * hosts spread over threads) at the same instant: the prefix gets its burst
 * once, not once per thread.
 */
static void test_rrl_threads(void)
{
	srv_rrl_t *r = NULL;
	if (srv_rrl_new(SRV_RRL_BUCKETS, &r) != MN_OK)
		tap_bail("srv_rrl_new");
	struct hammer h[THREADS];
	uv_thread_t t[THREADS];
	char text[32];
	for (int i = 0; i < THREADS; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].rrl = r;
		snprintf(text, sizeof(text), "198.51.100.%d", 10 + i);
		h[i].peer = tap_addr(text);
		if (uv_thread_create(&t[i], hammer_run, &h[i]) != 0)
			tap_bail("uv_thread_create");
	}
	size_t sum[3] = { 0, 0, 0 };
	for (int i = 0; i < THREADS; i++) {
		uv_thread_join(&t[i]);
		for (int k = 0; k < 3; k++)
			sum[k] += h[i].verdicts[k];
	}
	tap_diag("%d threads x %d checks at rate %d: %zu passed, %zu dropped, %zu slipped", THREADS,
		 CHECKS, RATE, sum[0], sum[1], sum[2]);
	is_int((long long)sum[0], RATE, "%d threads on one /24 at once: exactly the burst of %d passes",
	       THREADS, RATE);
	is_int((long long)sum[2], (long long)(THREADS * CHECKS - RATE) / 2,
	       "slip 2: every second limited response slipped, counted across threads");
	srv_rrl_free(r);
}

/* Clocks of loops read at different moments, and a bucket unused for weeks. */
static void test_rrl_clock(void)
{
	srv_rrl_t *r = NULL;
	if (srv_rrl_new(1024, &r) != MN_OK)
		tap_bail("srv_rrl_new");
	struct sockaddr_storage a = tap_addr("192.0.2.1");
	const struct sockaddr *sa = (struct sockaddr *)&a;
	int pass = 0;
	for (int i = 0; i < 100; i++)
		pass += srv_rrl_check(r, sa, 100, 0, 10000) == SRV_RRL_PASS;
	is_int(pass, 100, "rate 100: a burst of 100");
	is_int(srv_rrl_check(r, sa, 100, 0, 9950), SRV_RRL_DROP,
	       "a thread whose clock is 50 ms behind: no refill");
	pass = 0;
	for (int i = 0; i < 20; i++)
		pass += srv_rrl_check(r, sa, 100, 0, 10050) == SRV_RRL_PASS;
	is_int(pass, 5, "50 ms after the last stamp (not after the clock behind): 5 more");
	pass = 0;
	for (int i = 0; i < 200; i++)
		pass += srv_rrl_check(r, sa, 100, 0, 10050 + 3000000000ull) == SRV_RRL_PASS;
	is_int(pass, 100, "unused for 35 days (the 32-bit stamp wrapped): a full burst, no more");
	srv_rrl_free(r);
}

int main(void)
{
	memset(payload, 'x', sizeof(payload));
	test_sendv_full();
	test_sendv_refused();
	test_rrl_threads();
	test_rrl_clock();
	return tap_done();
}
