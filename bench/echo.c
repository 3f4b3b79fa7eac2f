/* SPDX-License-Identifier: GPL-3.0-or-later */
/* echo.c -- the load generator's ceiling for bench/qps.sh: a UDP server that sends
 * every datagram back at once with the QR bit set, 64 datagrams per recvmmsg and
 * sendmmsg, doing no DNS work.  A DNS server cannot be faster than this on the same
 * core, so "mailnsd / echo" is how close it gets to what dnsperf can measure.
 * Usage: echo PORT   (127.0.0.1 only; runs until killed) */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

enum { BATCH = 64, DGRAM = 4096 };

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: echo PORT\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int size = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("echo: bind");
		return 1;
	}
	static unsigned char buf[BATCH][DGRAM];
	static struct sockaddr_in peer[BATCH];
	static struct iovec iov[BATCH];
	static struct mmsghdr msg[BATCH];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = DGRAM };
			msg[i].msg_hdr = (struct msghdr){ .msg_name = &peer[i], .msg_namelen = sizeof(peer[i]),
							  .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, msg, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = msg[i].msg_len;
			if (msg[i].msg_len > 2)
				buf[i][2] |= 0x80;	/* QR: a response */
		}
		for (int done = 0; done < n;) {
			int k = sendmmsg(fd, msg + done, (unsigned)(n - done), 0);
			if (k <= 0)
				break;
			done += k;
		}
	}
}
