/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tcp.c -- DNS over TCP (RFC 7766): pipelining, idle timeout, connection caps shared by the workers */
#include "server/srv.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "policy/mn.h"
#include "server/answer.h"

enum {
	READ_MIN_FREE = 2048,		/* grow the read buffer below this much room */
	READ_BUF_MAX = 128 * 1024,	/* > one whole message (2 + 65535) + READ_MIN_FREE */
	WRITE_QUEUE_HIGH = 1024 * 1024,	/* stop reading above this many queued bytes */
	WRITE_QUEUE_LOW = 256 * 1024,	/* and read again below this */
	XFR_BATCH = 16,			/* transfer messages queued per callback */
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
	bool closing, eof, reading, in_process;
	xfr_t *xfr;		/* a zone transfer being sent; reading waits meanwhile */
};

/* A queued answer: the request, the length prefix and the message. */
struct tcp_write {
	uv_write_t req;
	uint8_t data[];
};

static _Thread_local uint8_t answer_buf[ANSWER_TCP_MAX];	/* one per loop thread */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

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
	uv_mutex_unlock(&srv->conn_lock);
	uv_close((uv_handle_t *)&c->timer, conn_free_cb);
	uv_close((uv_handle_t *)&c->tcp, conn_free_cb);
}

static void read_resume(srv_conn_t *c);
static void xfr_pump(srv_conn_t *c);
static void process(srv_conn_t *c);
static bool conn_send(srv_conn_t *c, const uint8_t *msg, size_t len);

static void on_idle(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_write(uv_write_t *req, int status)
{
	srv_conn_t *c = req->handle->data;
	free(req);
	c->writes--;
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->xfr != NULL) {
		if (c->tcp.write_queue_size < WRITE_QUEUE_LOW)
			xfr_pump(c);
		return;
	}
	if (c->eof && c->writes == 0) {
		conn_close(c);
		return;
	}
	if (!c->reading && !c->eof && c->tcp.write_queue_size < WRITE_QUEUE_LOW)
		read_resume(c);
}

/* Queues one answer with its length prefix; false when the connection must close. */
static bool conn_send(srv_conn_t *c, const uint8_t *msg, size_t len)
{
	struct tcp_write *w = malloc(sizeof(*w) + 2 + len);
	if (w == NULL)
		return false;
	w->data[0] = (uint8_t)(len >> 8);
	w->data[1] = (uint8_t)len;
	memcpy(w->data + 2, msg, len);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned int)(2 + len));
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
		free(w);
		return false;
	}
	c->writes++;
	return true;
}

/*
 * The answers to the queries of one read, sent with one write (pipelining
 * clients send many queries per segment: one write system call for all).
 */
typedef struct batch {
	struct tcp_write *w;	/* NULL until the first answer */
	size_t len, cap;	/* bytes in w->data, room there */
} batch_t;

enum { BATCH_FLUSH = 64 * 1024 };	/* send what is queued beyond this many bytes */

static bool batch_add(batch_t *b, const uint8_t *msg, size_t len)
{
	if (b->w == NULL || b->len + 2 + len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16384;
		while (cap < b->len + 2 + len)
			cap *= 2;
		struct tcp_write *n = realloc(b->w, sizeof(*n) + cap);	/* not submitted yet */
		if (n == NULL)
			return false;
		b->w = n;
		b->cap = cap;
	}
	uint8_t *p = b->w->data + b->len;
	p[0] = (uint8_t)(len >> 8);
	p[1] = (uint8_t)len;
	memcpy(p + 2, msg, len);
	b->len += 2 + len;
	return true;
}

/* Queues what the batch holds as one write; false when the connection must close. */
static bool batch_flush(srv_conn_t *c, batch_t *b)
{
	struct tcp_write *w = b->w;
	size_t len = b->len;
	*b = (batch_t){ 0 };
	if (w == NULL)
		return true;
	if (len == 0) {
		free(w);
		return true;
	}
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned int)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) {
		free(w);
		return false;
	}
	c->writes++;
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
 * Answers the complete messages in the buffer, in order.  A transfer holds
 * the rest (reading paused) until its last message is queued; xfr_pump()
 * then calls here again.  Never nested (in_process).
 */
static void process(srv_conn_t *c)
{
	if (c->in_process)
		return;
	c->in_process = true;
	uv_stream_t *s = (uv_stream_t *)&c->tcp;
	size_t o = 0;
	batch_t out = { 0 };
	while (!c->closing && c->xfr == NULL && c->len - o >= 2) {
		size_t m = get16(c->buf + o);
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
		if (send && (!batch_add(&out, answer_buf, alen) ||
			     (out.len > BATCH_FLUSH && !batch_flush(c, &out)))) {
			xfr_free(job);
			conn_close(c);
			break;
		}
		o += 2 + m;
		if (xr == XFR_STREAM) {
			SRV_STAT_ADD(w->stats.transfers, 1);
			uv_timer_start(&c->timer, on_idle, w->gen->conf.tcp_idle_ms, 0);
			if (!batch_flush(c, &out)) {	/* the answers before it go first */
				xfr_free(job);
				conn_close(c);
				break;
			}
			c->xfr = job;
			xfr_pump(c);	/* a small zone is done at once: go on */
		}
	}
	if (!c->closing && !batch_flush(c, &out))
		conn_close(c);
	free(out.w);	/* left over when the connection closed meanwhile (else NULL) */
	c->in_process = false;
	if (c->closing)
		return;
	if (o > 0)
		uv_timer_start(&c->timer, on_idle, c->w->gen->conf.tcp_idle_ms, 0);
	if (o > 0) {
		memmove(c->buf, c->buf + o, c->len - o);
		c->len -= o;
	}
	if (c->xfr != NULL || c->tcp.write_queue_size > WRITE_QUEUE_HIGH) {
		/* a transfer is being sent, or the client does not read its answers */
		if (c->reading) {
			uv_read_stop(s);
			c->reading = false;
		}
	} else if (!c->reading && !c->eof && c->tcp.write_queue_size < WRITE_QUEUE_LOW) {
		read_resume(c);
	}
}

/*
 * Queues the next messages of the transfer while the client keeps up: at most
 * XFR_BATCH per call, so one loop iteration stays short; on_write calls again.
 */
static void xfr_pump(srv_conn_t *c)
{
	for (int k = 0; k < XFR_BATCH && c->tcp.write_queue_size < WRITE_QUEUE_LOW; k++) {
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
		if (!conn_send(c, answer_buf, len)) {
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

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

/*
 * The caps count every worker's connections (the kernel spreads one client's
 * connections over the workers): a list of all of them under a mutex, taken
 * on accept and close only, never per query.
 */
static void on_connection(uv_stream_t *server, int status)
{
	srv_tcp_t *l = server->data;
	srv_worker_t *w = l->w;
	srv_t *srv = w->srv;
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
	const srv_conf_t *cf = &w->gen->conf;
	bool over = true;
	if (r == 0 && !w->stopping) {
		uv_mutex_lock(&srv->conn_lock);
		size_t same = 0;
		for (srv_conn_t *o = srv->all_conns; o != NULL; o = o->gnext)
			same += same_addr(&o->peer, &c->peer);
		over = srv->nconns >= cf->tcp_max_clients || same >= cf->tcp_max_per_ip;
		if (!over) {
			c->gnext = srv->all_conns;
			if (srv->all_conns != NULL)
				srv->all_conns->gprev = c;
			srv->all_conns = c;
			srv->nconns++;
		}
		uv_mutex_unlock(&srv->conn_lock);
	}
	if (over) {
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
	uv_timer_start(&c->timer, on_idle, cf->tcp_idle_ms, 0);
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
