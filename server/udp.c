/* SPDX-License-Identifier: GPL-3.0-or-later */
/* udp.c -- DNS over UDP: one socket per listen address, answers from the current zone set */
#include "server/srv.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/mn.h"
#include "server/answer.h"

enum { UDP_RCVBUF = 4 << 20 };	/* bytes asked for each UDP socket's receive buffer */

struct srv_udp {
	uv_udp_t handle;	/* handle.data = this */
	srv_t *srv;
	uint8_t rbuf[65536];	/* one datagram at a time: the loop is single-threaded */
	uint8_t wbuf[65536];
};

/* A send that could not go out at once: the request and a copy of the bytes. */
struct udp_send {
	uv_udp_send_t req;
	size_t len;
	uint8_t data[];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	srv_udp_t *u = h->data;
	buf->base = (char *)u->rbuf;
	buf->len = sizeof(u->rbuf);
}

static void on_sent(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		    unsigned flags)
{
	srv_udp_t *u = h->data;
	if (nread <= 0 || addr == NULL || (flags & UV_UDP_PARTIAL) || u->srv->stopping)
		return;
	size_t len = 0;
	xfr_t *job = NULL;
	int xr = xfr_request(u->srv->xfr, u->srv->zset, (const uint8_t *)buf->base, (size_t)nread,
			     addr, false, (uint64_t)time(NULL), u->wbuf, sizeof(u->wbuf), &len, &job);
	xfr_free(job);	/* never a stream over UDP */
	if (xr == XFR_DROP || (xr == XFR_STREAM))
		return;
	if (xr == XFR_NOT &&
	    srv_answer(u->srv, (const uint8_t *)buf->base, (size_t)nread, addr, false,
		       u->wbuf, sizeof(u->wbuf), &len) != ANSWER_SEND)
		return;
	uv_buf_t out = uv_buf_init((char *)u->wbuf, (unsigned int)len);
	int r = uv_udp_try_send(h, &out, 1, addr);
	if (r >= 0 || (r != UV_EAGAIN && r != UV_ENOSYS))
		return;		/* sent, or an error we cannot do better on */
	struct udp_send *s = malloc(sizeof(*s) + len);
	if (s == NULL)
		return;
	s->len = len;
	memcpy(s->data, u->wbuf, len);
	out = uv_buf_init((char *)s->data, (unsigned int)len);
	if (uv_udp_send(&s->req, h, &out, 1, addr, on_sent) < 0)
		free(s);
}

static void on_close(uv_handle_t *h)
{
	free(h->data);
}

int srv_udp_open(srv_t *srv, const struct sockaddr *addr, const char *text)
{
	srv_udp_t **v = realloc(srv->udp, (srv->nudp + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	srv->udp = v;
	srv_udp_t *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return MN_ENOMEM;
	u->srv = srv;
	int r = uv_udp_init(srv->loop, &u->handle);
	if (r < 0) {
		free(u);
		return r;
	}
	u->handle.data = u;
	srv->udp[srv->nudp++] = u;	/* closed by srv_udp_close_all from here on */
	unsigned int flags = addr->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
	r = uv_udp_bind(&u->handle, addr, flags);
	if (r == 0) {
		/*
		 * A large receive buffer carries bursts through the moments the
		 * loop is busy (a reload's swap and free): like NSD, ask for 4 MiB;
		 * the kernel caps it at net.core.rmem_max, and failing is harmless.
		 */
		int size = UDP_RCVBUF;
		(void)uv_recv_buffer_size((uv_handle_t *)&u->handle, &size);
		r = uv_udp_recv_start(&u->handle, on_alloc, on_recv);
	}
	if (r < 0) {
		mn_log(MN_LOG_ERR, "cannot listen on %s udp (%s)", text, uv_strerror(r));
		return r;
	}
	return MN_OK;
}

void srv_udp_close_all(srv_t *srv)
{
	for (size_t i = 0; i < srv->nudp; i++)
		if (!uv_is_closing((uv_handle_t *)&srv->udp[i]->handle))
			uv_close((uv_handle_t *)&srv->udp[i]->handle, on_close);
	free(srv->udp);
	srv->udp = NULL;
	srv->nudp = 0;
}
