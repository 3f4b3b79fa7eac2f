/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_tcp.c -- who counts as one client for server.tcp_max_per_ip (IPv4 address, IPv6 /56) */
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "server/srv.h"
#include "tests/tap/tap.h"

/* text -> sockaddr through getaddrinfo (numeric only) */
static struct sockaddr_storage peer(const char *text)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *ai = NULL;
	struct sockaddr_storage ss = { 0 };
	if (getaddrinfo(text, NULL, &hints, &ai) != 0 || ai->ai_addrlen > sizeof(ss))
		tap_bail("bad address %s", text);
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return ss;
}

static const struct {
	const char *a, *b;
	bool same;
} cases[] = {
	{ "192.0.2.1", "192.0.2.1", true },
	{ "192.0.2.1", "192.0.2.2", false },		/* IPv4: per address */
	{ "192.0.2.1", "198.51.100.1", false },
	{ "192.0.2.1", "::ffff:192.0.2.1", true },	/* mapped into IPv6: the same */
	{ "::ffff:192.0.2.1", "::ffff:192.0.2.2", false },
	{ "2001:db8::1", "2001:db8::1", true },
	{ "2001:db8::1", "2001:db8::2", true },		/* one /64 */
	{ "2001:db8:0:1::1", "2001:db8:0:ff::1", true },	/* another /64 of the /56 */
	{ "2001:db8:0:0::1", "2001:db8:0:100::1", false },	/* the next /56 */
	{ "2001:db8::1", "2001:db9::1", false },
	{ "fd00:1::1", "fd00:1:0:ff:ffff:ffff:ffff:ffff", true },
	{ "::1", "::2", true },
	{ "::1", "127.0.0.1", false },			/* families differ */
	{ "0.0.0.0", "::", false },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage a = peer(cases[i].a), b = peer(cases[i].b);
		bool ab = srv_tcp_same_client((struct sockaddr *)&a, (struct sockaddr *)&b);
		bool ba = srv_tcp_same_client((struct sockaddr *)&b, (struct sockaddr *)&a);
		ok(ab == cases[i].same && ba == cases[i].same, "%s and %s: %s", cases[i].a, cases[i].b,
		   cases[i].same ? "one client" : "two clients");
	}
	struct sockaddr_storage un = { .ss_family = AF_UNIX };
	ok(!srv_tcp_same_client((struct sockaddr *)&un, (struct sockaddr *)&un), "another family: never the same");
	return tap_done();
}
