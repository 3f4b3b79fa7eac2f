/* SPDX-License-Identifier: GPL-3.0-or-later */
/* udp.c -- DNS over UDP: one SO_REUSEPORT socket per listen address and worker, batched receive and send, no send queue */
#include "server/srv.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "policy/mn.h"
#include "server/answer.h"
#include "server/worker.h"

enum {
	UDP_RCVBUF = 4 << 20,	/* bytes asked for each UDP socket's receive buffer */
	/*
	 * libuv (1.44) reads up to 20 datagrams per recvmmsg, one per 64 KiB of
	 * the buffer the alloc callback gives: the buffer is only touched where
	 * datagrams land, so its pages mostly stay unmapped.
	 */
	UDP_BATCH = 20,
	UDP_CHUNK = 65536,
	UDP_OUT_MAX = 4096,	/* > ANSWER_EDNS_PAYLOAD, and an IXFR-over-UDP SOA with TSIG */
};

struct srv_udp {
	uv_udp_t handle;	/* handle.data = this */
	srv_worker_t *w;
	int fd;
	bool batch;		/* recvmmsg + sendmmsg */
	uint8_t *rbuf;		/* UDP_BATCH chunks (batch), else one */
	size_t rlen;
	/* the responses of the batch being received, sent by flush() */
	size_t n;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage peers[UDP_BATCH];
	uint8_t out[UDP_BATCH][UDP_OUT_MAX];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	srv_udp_t *u = h->data;
	buf->base = (char *)u->rbuf;
	buf->len = u->rlen;
}

size_t srv_udp_sendv(int fd, struct mmsghdr *msgs, size_t n)
{
	size_t i = 0, dropped = 0;
	while (i < n) {
		int r;
		do
			r = sendmmsg(fd, msgs + i, (unsigned int)(n - i), MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r > 0) {
			i += (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
			return dropped + (n - i);	/* the send buffer is full: drop the rest */
		dropped++;	/* this one cannot be sent (an unreachable client): the others can */
		i++;
	}
	return dropped;
}

/*
 * Sends the responses of the batch.  What the kernel will not take is
 * dropped and counted, never copied into a queue: under a flood with a slow
 * reply path such a queue grows as fast as queries arrive (NSD and Knot drop
 * too; the client retries).
 */
static void flush(srv_udp_t *u)
{
	size_t dropped = srv_udp_sendv(u->fd, u->msgs, u->n);
	if (dropped > 0)
		SRV_STAT_ADD(u->w->stats.udp_dropped, dropped);
	u->n = 0;
}

/* Answers one query into out; false when nothing is to be sent. */
static bool answer(srv_udp_t *u, const uint8_t *q, size_t qlen, const struct sockaddr *addr,
		   uint8_t *out, size_t cap, size_t *len)
{
	srv_worker_t *w = u->w;
	xfr_t *job = NULL;
	int xr = xfr_request(w->gen->xfr, w->gen->zset, q, qlen, addr, false, (uint64_t)time(NULL),
			     out, cap, len, &job);
	xfr_free(job);	/* never a stream over UDP */
	if (xr == XFR_DROP || xr == XFR_STREAM)
		return false;
	if (xr == XFR_SEND)	/* refused, NOTAUTH, FORMERR, an IXFR's SOA: rate-limited too */
		return srv_answer_xfr(w, q, qlen, addr, out, len) == ANSWER_SEND;
	return srv_answer(w, q, qlen, addr, false, out, cap, len) == ANSWER_SEND;
}

static socklen_t addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		    unsigned flags)
{
	srv_udp_t *u = h->data;
	if (u->w->stopping)
		return;
	if (nread <= 0 || addr == NULL) {
		/* the end of a batch (UV_UDP_MMSG_FREE), nothing more to read, or an error */
		if (u->n > 0)
			flush(u);
		return;
	}
	if (flags & UV_UDP_PARTIAL)
		return;
	/* batch: collect up to UDP_BATCH responses, one sendmmsg; else send each at once */
	size_t i = u->n, len = 0;
	if (!answer(u, (const uint8_t *)buf->base, (size_t)nread, addr, u->out[i], UDP_OUT_MAX, &len))
		return;
	socklen_t alen = addr_len(addr);
	memcpy(&u->peers[i], addr, alen);
	u->iov[i].iov_base = u->out[i];
	u->iov[i].iov_len = len;
	memset(&u->msgs[i], 0, sizeof(u->msgs[i]));
	u->msgs[i].msg_hdr.msg_name = &u->peers[i];
	u->msgs[i].msg_hdr.msg_namelen = alen;
	u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
	u->msgs[i].msg_hdr.msg_iovlen = 1;
	if (++u->n == UDP_BATCH || !u->batch || !(flags & UV_UDP_MMSG_CHUNK))
		flush(u);
}

static void on_close(uv_handle_t *h)
{
	srv_udp_t *u = h->data;
	free(u->rbuf);
	free(u);
}

int srv_socket_bind(int type, const struct sockaddr *addr, bool probe)
{
	socklen_t len = addr_len(addr);
	int one = 1;
	if (probe) {
		/* nobody else on the address: SO_REUSEPORT would share it with them */
		int fd = socket(addr->sa_family, type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (addr->sa_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (type == SOCK_STREAM)
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int r = bind(fd, addr, len) < 0 ? -errno : 0;
		close(fd);
		if (r < 0)
			return r;
	}
	int fd = socket(addr->sa_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    (addr->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, addr, len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int srv_udp_open(srv_worker_t *w, const struct sockaddr *addr, const char *text)
{
	srv_udp_t **v = realloc(w->udp, (w->nudp + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	w->udp = v;
	srv_udp_t *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return MN_ENOMEM;
	u->w = w;
	u->batch = w->srv->udp_batch;
	u->rlen = u->batch ? (size_t)UDP_BATCH * UDP_CHUNK : UDP_CHUNK;
	if ((u->rbuf = malloc(u->rlen)) == NULL) {
		free(u);
		return MN_ENOMEM;
	}
	int fd = srv_socket_bind(SOCK_DGRAM, addr, w->id == 0);
	if (fd < 0) {
		mn_log(MN_LOG_ERR, "cannot listen on %s udp (%s)", text, uv_strerror(fd));
		free(u->rbuf);
		free(u);
		return fd;
	}
	u->fd = fd;
	int r = uv_udp_init_ex(w->loop, &u->handle, AF_UNSPEC | (u->batch ? UV_UDP_RECVMMSG : 0));
	if (r < 0) {
		close(fd);
		free(u->rbuf);
		free(u);
		return r;
	}
	u->handle.data = u;
	w->udp[w->nudp++] = u;	/* closed by srv_udp_close_all from here on */
	r = uv_udp_open(&u->handle, fd);
	if (r < 0)
		close(fd);	/* not the handle's: closing it does not close fd */
	if (r == 0) {
		/*
		 * A large receive buffer carries bursts through the moments the
		 * loop is busy: like NSD, ask for 4 MiB; the kernel caps it at
		 * net.core.rmem_max, and failing is harmless.
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

void srv_udp_close_all(srv_worker_t *w)
{
	for (size_t i = 0; i < w->nudp; i++)
		if (!uv_is_closing((uv_handle_t *)&w->udp[i]->handle))
			uv_close((uv_handle_t *)&w->udp[i]->handle, on_close);
	free(w->udp);
	w->udp = NULL;
	w->nudp = 0;
}
