/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tcp.c -- DNS over TCP (RFC 7766): pipelining, idle timeout, connection caps shared by the workers */
#include "server/srv.h"

#include <assert.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "policy/mn.h"
#include "policy/wire.h"
#include "server/answer.h"
#include "server/worker.h"

/*
 * What one connection may hold (see mailnsd(8), "TCP"): at most READ_BUF_MAX
 * bytes of queries read ahead, and answers waiting for the client below
 * WRITE_QUEUE_HIGH plus one message (the last answer that passed it).  Above
 * the mark the queries already read wait in the buffer and reading stops;
 * below WRITE_QUEUE_LOW they are answered and reading goes on.  So each
 * connection stays under ~200 KiB, and all of them under the number of slots
 * times that.
 */
enum {
	READ_MIN_FREE = 2048,			/* grow the read buffer below this much room */
	READ_BUF_MAX = 72 * 1024,		/* >= one whole message (2 + 65535) + READ_MIN_FREE */
	WRITE_QUEUE_HIGH = 64 * 1024,		/* hold the queries read above this many queued bytes */
	WRITE_QUEUE_LOW = 16 * 1024,		/* and answer them below this */
	BATCH_MAX = 2 + ANSWER_TCP_MAX,	/* answers of one read sent together, at most */
	XFR_BATCH = 16,				/* transfer messages queued per callback */
};

struct srv_tcp {
	uv_tcp_t handle;	/* handle.data = this */
	srv_worker_t *w;
};

struct srv_conn {
	uv_tcp_t tcp;		/* tcp.data = timer.data = this */
	uv_timer_t timer;
	srv_worker_t *w;
	srv_conn_t *prev, *next;	/* w->conns while open */
	srv_conn_t *gprev, *gnext;	/* srv->all_conns while open (under conn_lock) */
	struct sockaddr_storage peer;
	uint8_t *buf;		/* received bytes not yet answered */
	size_t len, cap;
	int handles;		/* handles not closed yet; freed at 0 */
	size_t writes;		/* writes queued */
	size_t queued;		/* bytes they hold (allocated, not written yet) */
	bool closing, eof, reading, in_process;
	bool reserved;		/* in a slot of the transfer reserve (srv->nreserved) */
	xfr_t *xfr;		/* a zone transfer being sent; reading waits meanwhile */
};

/* Bytes the kernel did not take at once: the request, its size, the bytes. */
struct tcp_write {
	uv_write_t req;
	size_t size;		/* counted in the connection's queued */
	uint8_t data[];
};

/* One per loop thread: the answer being built, the answers of one read. */
static _Thread_local uint8_t answer_buf[ANSWER_TCP_MAX];
static _Thread_local uint8_t batch_buf[BATCH_MAX];

static void conn_free_cb(uv_handle_t *h)
{
	srv_conn_t *c = h->data;
	if (--c->handles == 0) {
		xfr_free(c->xfr);
		free(c->buf);
		free(c);
	}
}

static void conn_close(srv_conn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	srv_worker_t *w = c->w;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	srv_t *srv = w->srv;
	uv_mutex_lock(&srv->conn_lock);
	if (c->gprev != NULL)
		c->gprev->gnext = c->gnext;
	else
		srv->all_conns = c->gnext;
	if (c->gnext != NULL)
		c->gnext->gprev = c->gprev;
	c->gprev = c->gnext = NULL;
	srv->nconns--;
	if (c->reserved)
		srv->nreserved--;
	uv_mutex_unlock(&srv->conn_lock);
	uv_close((uv_handle_t *)&c->timer, conn_free_cb);
	uv_close((uv_handle_t *)&c->tcp, conn_free_cb);
}

static void read_resume(srv_conn_t *c);
static void xfr_pump(srv_conn_t *c);
static void process(srv_conn_t *c);

static void on_idle(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_write(uv_write_t *req, int status)
{
	srv_conn_t *c = req->handle->data;
	struct tcp_write *tw = (struct tcp_write *)req;
	c->queued -= tw->size;
	free(tw);
	c->writes--;
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->xfr != NULL) {
		if (c->queued < WRITE_QUEUE_LOW)
			xfr_pump(c);
		return;
	}
	if (c->eof && c->writes == 0) {
		conn_close(c);
		return;
	}
	if (!c->reading && !c->eof && c->queued < WRITE_QUEUE_LOW)
		process(c);	/* the queries held back, then reading again */
}

/*
 * Sends the bytes of bufs: what the kernel takes at once, and a copy of the
 * rest queued (c->queued until written); with queue, a copy of all of them
 * (on_write will be called).  False when the connection must close.
 */
static bool conn_write(srv_conn_t *c, const uv_buf_t *bufs, unsigned int n, bool queue)
{
	size_t total = 0;
	for (unsigned int i = 0; i < n; i++)
		total += bufs[i].len;
	int r = queue ? 0 : uv_try_write((uv_stream_t *)&c->tcp, bufs, n);	/* EAGAIN while writes wait */
	if (r < 0 && r != UV_EAGAIN)
		return false;
	size_t skip = r > 0 ? (size_t)r : 0;
	if (skip == total)
		return true;
	struct tcp_write *w = malloc(sizeof(*w) + total - skip);
	if (w == NULL)
		return false;
	w->size = sizeof(*w) + total - skip;
	uint8_t *p = w->data;
	for (unsigned int i = 0; i < n; i++) {
		if (skip >= bufs[i].len) {
			skip -= bufs[i].len;
			continue;
		}
		memcpy(p, bufs[i].base + skip, bufs[i].len - skip);
		p += bufs[i].len - skip;
		skip = 0;
	}
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned int)(p - w->data));
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
		free(w);
		return false;
	}
	c->writes++;
	c->queued += w->size;
	return true;
}

/* Sends one message with its length prefix (queue: see conn_write). */
static bool conn_send(srv_conn_t *c, const uint8_t *msg, size_t len, bool queue)
{
	uint8_t prefix[2];
	mn_put16(prefix, (uint16_t)len);
	uv_buf_t b[2] = { uv_buf_init((char *)prefix, 2), uv_buf_init((char *)msg, (unsigned int)len) };
	return conn_write(c, b, 2, queue);
}

/*
 * The answers to the queries of one read, sent together (pipelining clients
 * send many queries per segment: one write system call for all), gathered in
 * batch_buf; *blen is the number of bytes there.
 */
static bool batch_flush(srv_conn_t *c, size_t *blen)
{
	if (*blen == 0)
		return true;
	uv_buf_t b = uv_buf_init((char *)batch_buf, (unsigned int)*blen);
	*blen = 0;
	return conn_write(c, &b, 1, false);
}

/* Adds one answer (sending what was gathered first when it would not fit). */
static bool batch_add(srv_conn_t *c, size_t *blen, const uint8_t *msg, size_t len)
{
	assert(len <= ANSWER_TCP_MAX);
	if (*blen + 2 + len > sizeof(batch_buf) && !batch_flush(c, blen))
		return false;
	uint8_t *p = batch_buf + *blen;
	mn_put16(p, (uint16_t)len);
	memcpy(p + 2, msg, len);
	*blen += 2 + len;
	return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	srv_conn_t *c = h->data;
	if (c->cap - c->len < READ_MIN_FREE && c->cap < READ_BUF_MAX) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		if (cap > READ_BUF_MAX)
			cap = READ_BUF_MAX;
		uint8_t *b = realloc(c->buf, cap);
		if (b != NULL) {
			c->buf = b;
			c->cap = cap;
		}
	}
	buf->base = (char *)c->buf + c->len;
	buf->len = c->cap - c->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	srv_conn_t *c = s->data;
	if (c->closing)
		return;
	if (nread < 0) {
		if (nread == UV_EOF && c->writes > 0) {
			/* the client half-closed: finish the answers, then close */
			c->eof = true;
			uv_read_stop(s);
			c->reading = false;
			return;
		}
		conn_close(c);
		return;
	}
	c->len += (size_t)nread;
	process(c);
}

/*
 * Answers the complete messages in the buffer, in order, while the answers
 * waiting for the client stay below WRITE_QUEUE_HIGH: above it the rest wait
 * in the buffer and reading stops until on_write sees the queue drained.  A
 * transfer holds the rest too (reading paused) until its last message is
 * queued; xfr_pump() then calls here again.  Never nested (in_process).
 */
static void process(srv_conn_t *c)
{
	if (c->in_process)
		return;
	c->in_process = true;
	size_t o = 0, blen = 0;
	bool held = false;
	while (!c->closing && c->xfr == NULL && c->len - o >= 2) {
		if (c->queued + blen >= WRITE_QUEUE_HIGH) {
			held = true;	/* the client does not read its answers */
			break;
		}
		size_t m = mn_get16(c->buf + o);
		if (m < 12) {
			conn_close(c);	/* cannot even hold a header: garbage */
			break;
		}
		if (c->len - o - 2 < m)
			break;
		size_t alen = 0;
		xfr_t *job = NULL;
		srv_worker_t *w = c->w;
		int xr = xfr_request(w->gen->xfr, w->gen->zset, c->buf + o + 2, m,
				     (const struct sockaddr *)&c->peer, true, (uint64_t)time(NULL),
				     answer_buf, sizeof(answer_buf), &alen, &job);
		bool send = xr == XFR_SEND;
		if (xr == XFR_NOT)
			send = srv_answer(w, c->buf + o + 2, m, (const struct sockaddr *)&c->peer,
					  true, answer_buf, sizeof(answer_buf), &alen) == ANSWER_SEND;
		if (send && !batch_add(c, &blen, answer_buf, alen)) {
			xfr_free(job);
			conn_close(c);
			break;
		}
		o += 2 + m;
		if (xr == XFR_STREAM) {
			SRV_STAT_ADD(w->stats.transfers, 1);
			uv_timer_start(&c->timer, on_idle, w->gen->conf.tcp_idle_ms, 0);
			if (!batch_flush(c, &blen)) {	/* the answers before it go first */
				xfr_free(job);
				conn_close(c);
				break;
			}
			c->xfr = job;
			xfr_pump(c);	/* a small zone is done at once: go on */
		}
	}
	if (!c->closing && !batch_flush(c, &blen))
		conn_close(c);
	c->in_process = false;
	if (c->closing)
		return;
	if (o > 0) {
		uv_timer_start(&c->timer, on_idle, c->w->gen->conf.tcp_idle_ms, 0);
		memmove(c->buf, c->buf + o, c->len - o);
		c->len -= o;
	}
	if (c->xfr != NULL || held || c->queued >= WRITE_QUEUE_HIGH) {
		/* a transfer is being sent, or the client does not read its answers */
		if (c->reading) {
			uv_read_stop((uv_stream_t *)&c->tcp);
			c->reading = false;
		}
	} else if (!c->reading && !c->eof) {
		read_resume(c);
	}
}

/*
 * Sends the next messages of the transfer while the client keeps up: at most
 * XFR_BATCH per call, so one loop iteration stays short; on_write calls again
 * (the last of the XFR_BATCH is queued so that there is a callback even when
 * the kernel took all the others at once).
 */
static void xfr_pump(srv_conn_t *c)
{
	for (int k = 0; k < XFR_BATCH && c->queued < WRITE_QUEUE_LOW; k++) {
		size_t len = 0;
		int r = xfr_next(c->xfr, answer_buf, sizeof(answer_buf), &len);
		if (r < 0) {
			mn_log(MN_LOG_WARNING, "transfer aborted (%s)", mn_strerror(r));
			conn_close(c);
			return;
		}
		if (r == 0) {
			xfr_free(c->xfr);
			c->xfr = NULL;
			process(c);	/* what the client sent meanwhile (no-op when nested) */
			return;
		}
		if (!conn_send(c, answer_buf, len, k == XFR_BATCH - 1)) {
			conn_close(c);
			return;
		}
		uv_timer_start(&c->timer, on_idle, c->w->gen->conf.tcp_idle_ms, 0);
	}
}

static void read_resume(srv_conn_t *c)
{
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = true;
	else
		conn_close(c);
}

/*
 * The bytes that name a client for tcp_max_per_ip: the IPv4 address (also
 * when mapped into IPv6), the first 56 bits of an IPv6 address (one site's
 * prefix: RFC 6177, as for rate limiting).  Returns their number, 0 for
 * another family.
 */
static size_t client_key(const struct sockaddr *a, uint8_t key[8])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (a->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)a)->sin_addr, 4);
		return 5;
	}
	if (a->sa_family != AF_INET6)
		return 0;
	const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
	if (memcmp(b, mapped, sizeof(mapped)) == 0) {
		key[0] = 4;
		memcpy(key + 1, b + 12, 4);
		return 5;
	}
	key[0] = 6;
	memcpy(key + 1, b, 7);
	return 8;
}

bool srv_tcp_same_client(const struct sockaddr *a, const struct sockaddr *b)
{
	uint8_t ka[8], kb[8];
	size_t n = client_key(a, ka);
	return n != 0 && client_key(b, kb) == n && memcmp(ka, kb, n) == 0;
}

/*
 * The caps count every worker's connections (the kernel spreads one client's
 * connections over the workers): a list of all of them under a mutex, taken
 * on accept and close only, never per query.  A client of a transfer.allow
 * network over a cap takes one of SRV_TCP_RESERVE more slots, so that query
 * clients cannot keep the secondaries out.
 */
static bool admit(srv_t *srv, const srv_gen_t *gen, srv_conn_t *c)
{
	const struct sockaddr *peer = (const struct sockaddr *)&c->peer;
	bool secondary = xfr_acl_match(gen->xfr, peer);
	bool in = true;
	uv_mutex_lock(&srv->conn_lock);
	size_t same = 0;
	for (srv_conn_t *o = srv->all_conns; o != NULL; o = o->gnext)
		same += !o->reserved && srv_tcp_same_client((const struct sockaddr *)&o->peer, peer);
	if (srv->nconns - srv->nreserved < gen->conf.tcp_max_clients &&
	    same < gen->conf.tcp_max_per_ip) {
		c->reserved = false;
	} else if (secondary && srv->nreserved < SRV_TCP_RESERVE) {
		c->reserved = true;
		srv->nreserved++;
	} else {
		in = false;
	}
	if (in) {
		c->gnext = srv->all_conns;
		if (srv->all_conns != NULL)
			srv->all_conns->gprev = c;
		srv->all_conns = c;
		srv->nconns++;
	}
	uv_mutex_unlock(&srv->conn_lock);
	return in;
}

static void on_connection(uv_stream_t *server, int status)
{
	srv_tcp_t *l = server->data;
	srv_worker_t *w = l->w;
	if (status < 0) {
		mn_log(MN_LOG_WARNING, "tcp accept failed (%s)", uv_strerror(status));
		return;
	}
	srv_conn_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->w = w;
	if (uv_tcp_init(w->loop, &c->tcp) < 0) {
		free(c);
		return;
	}
	c->tcp.data = c;
	c->handles = 1;
	int r = uv_accept(server, (uv_stream_t *)&c->tcp);
	int len = sizeof(c->peer);
	if (r == 0)
		r = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len);
	if (r != 0 || w->stopping || !admit(w->srv, w->gen, c)) {
		/* over a cap: accepted, closed at once */
		if (r == 0)
			SRV_STAT_ADD(w->stats.tcp_refused, 1);
		uv_close((uv_handle_t *)&c->tcp, conn_free_cb);
		return;
	}
	uv_timer_init(w->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	uv_tcp_nodelay(&c->tcp, 1);
	uv_timer_start(&c->timer, on_idle, w->gen->conf.tcp_idle_ms, 0);
	read_resume(c);
}

int srv_tcp_open(srv_worker_t *w, const struct sockaddr *addr, const char *text)
{
	srv_tcp_t **v = realloc(w->tcp, (w->ntcp + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	w->tcp = v;
	srv_tcp_t *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return MN_ENOMEM;
	l->w = w;
	int fd = srv_socket_bind(SOCK_STREAM, addr, w->id == 0);
	if (fd < 0) {
		mn_log(MN_LOG_ERR, "cannot listen on %s tcp (%s)", text, uv_strerror(fd));
		free(l);
		return fd;
	}
	int r = uv_tcp_init(w->loop, &l->handle);
	if (r < 0) {
		close(fd);
		free(l);
		return r;
	}
	l->handle.data = l;
	w->tcp[w->ntcp++] = l;	/* closed by srv_tcp_close_all from here on */
	r = uv_tcp_open(&l->handle, fd);
	if (r < 0)
		close(fd);	/* not the handle's yet */
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->handle, 256, on_connection);
	if (r < 0) {
		mn_log(MN_LOG_ERR, "cannot listen on %s tcp (%s)", text, uv_strerror(r));
		return r;
	}
	return MN_OK;
}

static void on_listener_close(uv_handle_t *h)
{
	free(h->data);
}

void srv_tcp_close_all(srv_worker_t *w)
{
	for (size_t i = 0; i < w->ntcp; i++)
		if (!uv_is_closing((uv_handle_t *)&w->tcp[i]->handle))
			uv_close((uv_handle_t *)&w->tcp[i]->handle, on_listener_close);
	free(w->tcp);
	w->tcp = NULL;
	w->ntcp = 0;
	while (w->conns != NULL)
		conn_close(w->conns);
}
