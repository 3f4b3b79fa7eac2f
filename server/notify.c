/* SPDX-License-Identifier: GPL-3.0-or-later */
/* notify.c -- NOTIFY (RFC 1996) to secondaries: queued, coalesced, paced, retried with backoff */
#include "server/xfr.h"
#include "server/srv.h"
#include "policy/wire.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * Every (zone, target) to notify is one entry, found through a hash table so
 * that a zone changed again while queued is not queued twice.  New entries
 * wait in one FIFO per target; per target, at most XFR_NOTIFY_INFLIGHT are
 * unanswered at once and at most XFR_NOTIFY_PER_TICK leave the FIFO per
 * 100 ms tick (2,000/s), so a reload that changes 100,000 zones makes a steady
 * stream, not a burst, and a secondary that is down does not hold up the
 * others.  An entry is sent again 1, 2, 4, 8 s later (at 0, 1, 3, 7, 15 s)
 * until a response with its ID comes from its target, and dropped at 31 s.
 *
 * Each message has a random ID (a new one for every try), so that nobody who
 * sees one NOTIFY can guess the next and answer it in place of the
 * secondary; a response counts only with the ID of a message in flight, from
 * the address it went to, and echoing the zone.  Messages leave from the
 * server's first listen address of the target's family (xfr_notify_source),
 * so secondaries that check the primary's address see the one they know; a
 * target off the host gets the first one that can reach it (a loopback or
 * link-local address cannot), the wildcard address when none can.
 */
enum { TICK_MS = 100, FIRST_RETRY_MS = 1000, MSG_MAX = 12 + 256 + 4 + 600, IDS = 256 };

/* A sending socket, bound to src (port 0) when first used. */
typedef struct nsock {
	uv_udp_t udp;		/* udp.data = the sender */
	xfr_addr_t src;
	bool open, ready;	/* open: initialized (closed at the end); ready: bound, reading */
} nsock_t;

/* socks[]: for IPv4 and IPv6, the first listen address, and the first off the host */
enum { S4_FIRST, S4_WIDE, S6_FIRST, S6_WIDE, NSOCKS };

typedef struct nent {
	uint8_t *apex;
	uint16_t apex_len;
	uint16_t id;
	uint8_t tries;
	bool inflight;
	uint64_t due;
	size_t target;		/* index in targets */
	xfr_addr_t to;
	uint32_t hash;
	struct nent *hnext;	/* hash chain */
	struct nent *qnext;	/* FIFO of entries not sent yet */
} nent_t;

struct xfr_notify {
	uv_loop_t *loop;
	uv_timer_t timer;
	nsock_t socks[NSOCKS];
	bool set[NSOCKS];	/* socks[i].src given by xfr_notify_source (else the wildcard) */
	bool timer_on, closing;
	int handles;		/* open handles; freed at 0 after close */
	nent_t **table;
	size_t table_size, count;
	struct target {
		xfr_addr_t addr;
		nent_t *head, *tail;	/* FIFO of entries not sent yet */
		size_t inflight;
	} *targets;
	size_t ntargets;
	nent_t **inflight;	/* every target's, unordered */
	size_t ninflight, inflight_cap;
	uint16_t ids[IDS];	/* random message IDs, used from the end */
	size_t nids;
	bool have_key;
	xfr_key_t key;
	uint8_t rbuf[1024];
	uint64_t sent, acked, dropped;
};

static uint32_t ent_hash(const uint8_t *apex, size_t len, const xfr_addr_t *to)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ apex[i]) * 16777619u;
	const uint8_t *a = (const uint8_t *)to;
	size_t n = to->sa.sa_family == AF_INET ? sizeof(to->in) : sizeof(to->in6);
	for (size_t i = 0; i < n; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

static bool same_addr(const xfr_addr_t *a, const xfr_addr_t *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       memcmp(&a->in.sin_addr, &b->in.sin_addr, 4) == 0;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
}

static void handle_closed(uv_handle_t *h)
{
	xfr_notify_t *n = h->data;
	if (--n->handles > 0)
		return;
	for (size_t i = 0; i < n->table_size; i++)
		for (nent_t *e = n->table[i], *next; e != NULL; e = next) {
			next = e->hnext;
			free(e->apex);
			free(e);
		}
	free(n->table);
	free(n->targets);
	free(n->inflight);
	memset(&n->key, 0, sizeof(n->key));
	free(n);
}

int xfr_notify_new(uv_loop_t *loop, xfr_notify_t **out)
{
	if (loop == NULL || out == NULL)
		return MN_EINVAL;
	xfr_notify_t *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return MN_ENOMEM;
	n->loop = loop;
	n->table_size = 1024;
	n->table = calloc(n->table_size, sizeof(*n->table));
	if (n->table == NULL) {
		free(n);
		return MN_ENOMEM;
	}
	int r = uv_timer_init(loop, &n->timer);
	if (r < 0) {
		free(n->table);
		free(n);
		return r;
	}
	n->timer.data = n;
	n->handles = 1;
	for (int i = 0; i < NSOCKS; i++) {
		if (i < S6_FIRST)
			uv_ip4_addr("0.0.0.0", 0, &n->socks[i].src.in);
		else
			uv_ip6_addr("::", 0, &n->socks[i].src.in6);
	}
	*out = n;
	return MN_OK;
}

/* Loopback and link-local addresses reach only this host (or link). */
static bool host_only(const xfr_addr_t *a)
{
	if (a->sa.sa_family == AF_INET)
		return (ntohl(a->in.sin_addr.s_addr) >> 24) == 127;
	const struct in6_addr *v6 = &a->in6.sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(v6))
		return v6->s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(v6) || IN6_IS_ADDR_LINKLOCAL(v6);
}

int xfr_notify_source(xfr_notify_t *n, const struct sockaddr *addr)
{
	if (n == NULL || addr == NULL || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return MN_EINVAL;
	xfr_addr_t a;
	memset(&a, 0, sizeof(a));
	memcpy(&a, addr, addr->sa_family == AF_INET ? sizeof(a.in) : sizeof(a.in6));
	if (a.sa.sa_family == AF_INET)
		a.in.sin_port = 0;
	else
		a.in6.sin6_port = 0;
	int first = a.sa.sa_family == AF_INET ? S4_FIRST : S6_FIRST;
	for (int i = first; i <= first + 1; i++) {
		if (n->set[i] || (i == first + 1 && host_only(&a)))
			continue;
		n->socks[i].src = a;
		n->set[i] = true;
	}
	return MN_OK;
}

/* A random message ID (getrandom, IDS at a time). */
static uint16_t next_id(xfr_notify_t *n)
{
	if (n->nids == 0) {
		if (srv_random(n->ids, sizeof(n->ids)) != MN_OK) {
			/* no getrandom: still not sequential, though guessable */
			uint64_t x = uv_hrtime() ^ (uintptr_t)n;
			for (size_t i = 0; i < IDS; i++) {
				x = x * 6364136223846793005u + 1442695040888963407u;
				n->ids[i] = (uint16_t)(x >> 48);
			}
		}
		n->nids = IDS;
	}
	return n->ids[--n->nids];
}

size_t xfr_notify_pending(const xfr_notify_t *n)
{
	return n != NULL ? n->count : 0;
}

static void unlink_entry(xfr_notify_t *n, nent_t *e)
{
	nent_t **p = &n->table[e->hash & (n->table_size - 1)];
	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	n->count--;
	free(e->apex);
	free(e);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		    unsigned flags)
{
	xfr_notify_t *n = h->data;
	(void)flags;
	if (nread < 12 || addr == NULL || n->closing)
		return;
	const uint8_t *m = (const uint8_t *)buf->base;
	if (!(m[2] & 0x80) || ((m[2] >> 3) & 0x0f) != 4)
		return;		/* not a NOTIFY response */
	xfr_addr_t from;
	memset(&from, 0, sizeof(from));
	memcpy(&from, addr, addr->sa_family == AF_INET ? sizeof(from.in) : sizeof(from.in6));
	uint16_t id = mn_get16(m);
	for (size_t i = 0; i < n->ninflight; i++) {
		nent_t *e = n->inflight[i];
		if (e->id != id || !same_addr(&e->to, &from))
			continue;
		/* the question, when echoed, must be the zone */
		if (mn_get16(m + 4) == 1 && ((size_t)nread < 12u + e->apex_len ||
					  strncasecmp((const char *)m + 12, (const char *)e->apex,
						      e->apex_len) != 0))
			continue;
		if ((m[3] & 0x0f) != 0)
			mn_log(MN_LOG_WARNING, "notify answered with rcode %u", m[3] & 0x0f);
		n->inflight[i] = n->inflight[--n->ninflight];
		n->targets[e->target].inflight--;
		n->acked++;
		unlink_entry(n, e);
		return;
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	xfr_notify_t *n = h->data;
	buf->base = (char *)n->rbuf;
	buf->len = sizeof(n->rbuf);
}

/* The socket for target to, bound to its source on first use; NULL when it cannot be. */
static uv_udp_t *socket_for(xfr_notify_t *n, const xfr_addr_t *to)
{
	int first = to->sa.sa_family == AF_INET ? S4_FIRST : S6_FIRST;
	int i = first;
	/* off the host: the first listen address that can reach it (the same socket when it is the first) */
	if (!host_only(to) && !(n->set[first] && !host_only(&n->socks[first].src)))
		i = first + 1;
	nsock_t *k = &n->socks[i];
	if (k->ready)
		return &k->udp;
	if (k->open)
		return NULL;	/* failed once (logged): an unbound socket would send from anywhere */
	if (uv_udp_init(n->loop, &k->udp) < 0)
		return NULL;
	k->udp.data = n;
	n->handles++;
	k->open = true;
	bool v4 = to->sa.sa_family == AF_INET;
	int r = uv_udp_bind(&k->udp, &k->src.sa, v4 ? 0 : UV_UDP_IPV6ONLY);
	if (r == 0)
		r = uv_udp_recv_start(&k->udp, on_alloc, on_recv);
	if (r < 0) {
		char text[INET6_ADDRSTRLEN] = "?";
		if (v4)
			uv_ip4_name(&k->src.in, text, sizeof(text));
		else
			uv_ip6_name(&k->src.in6, text, sizeof(text));
		mn_log(MN_LOG_ERR, "cannot open the notify socket on %s (%s)", text, uv_strerror(r));
		return NULL;
	}
	k->ready = true;
	return &k->udp;
}

static void send_one(xfr_notify_t *n, nent_t *e)
{
	uint8_t msg[MSG_MAX];
	memset(msg, 0, 12);
	e->id = next_id(n);
	mn_put16(msg, e->id);
	msg[2] = 4 << 3 | 0x04;	/* opcode NOTIFY, AA */
	mn_put16(msg + 4, 1);
	memcpy(msg + 12, e->apex, e->apex_len);
	size_t len = 12u + e->apex_len;
	mn_put16(msg + len, ZONE_T_SOA);
	mn_put16(msg + len + 2, 1);
	len += 4;
	if (n->have_key &&
	    xfr_tsig_sign(&n->key, msg, &len, sizeof(msg), NULL, 0, false, 0,
			  (uint64_t)time(NULL), NULL, NULL) < 0)
		return;
	uv_udp_t *u = socket_for(n, &e->to);
	if (u == NULL)
		return;
	uv_buf_t b = uv_buf_init((char *)msg, (unsigned int)len);
	(void)uv_udp_try_send(u, &b, 1, &e->to.sa);	/* lost: sent again on retry */
	n->sent++;
}

static void on_tick(uv_timer_t *t)
{
	xfr_notify_t *n = t->data;
	uint64_t now = uv_now(n->loop);
	size_t dropped = 0;
	char first[256] = "";
	for (size_t i = 0; i < n->ninflight;) {
		nent_t *e = n->inflight[i];
		if (e->due > now) {
			i++;
			continue;
		}
		if (e->tries >= XFR_NOTIFY_TRIES) {
			if (dropped++ == 0)
				mn_name_from_wire(e->apex, e->apex_len, first, sizeof(first));
			n->inflight[i] = n->inflight[--n->ninflight];
			n->targets[e->target].inflight--;
			n->dropped++;
			unlink_entry(n, e);
			continue;
		}
		send_one(n, e);
		e->due = now + ((uint64_t)FIRST_RETRY_MS << e->tries);
		e->tries++;
		i++;
	}
	if (dropped > 0)	/* one line per tick, not one per zone */
		mn_log(MN_LOG_WARNING, "notify unanswered after %d tries for %zu zones (%s%s)",
		       XFR_NOTIFY_TRIES, dropped, first, dropped > 1 ? ", ..." : "");
	for (size_t ti = 0; ti < n->ntargets; ti++) {
		struct target *tg = &n->targets[ti];
		for (int k = 0; k < XFR_NOTIFY_PER_TICK && tg->head != NULL &&
				tg->inflight < XFR_NOTIFY_INFLIGHT; k++) {
			if (n->ninflight == n->inflight_cap) {
				size_t cap = n->inflight_cap ? n->inflight_cap * 2 : XFR_NOTIFY_INFLIGHT;
				nent_t **v = realloc(n->inflight, cap * sizeof(*v));
				if (v == NULL)
					break;
				n->inflight = v;
				n->inflight_cap = cap;
			}
			nent_t *e = tg->head;
			tg->head = e->qnext;
			if (tg->head == NULL)
				tg->tail = NULL;
			e->qnext = NULL;
			e->inflight = true;
			send_one(n, e);
			e->tries = 1;
			e->due = now + FIRST_RETRY_MS;
			n->inflight[n->ninflight++] = e;
			tg->inflight++;
		}
	}
	if (n->count == 0) {
		uv_timer_stop(&n->timer);
		n->timer_on = false;
	}
}

static int table_grow(xfr_notify_t *n)
{
	size_t size = n->table_size * 2;
	nent_t **t = calloc(size, sizeof(*t));
	if (t == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n->table_size; i++)
		for (nent_t *e = n->table[i], *next; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = t[e->hash & (size - 1)];
			t[e->hash & (size - 1)] = e;
		}
	free(n->table);
	n->table = t;
	n->table_size = size;
	return MN_OK;
}

/* Queues (zone, target), or restarts the tries of the entry already there. */
static void queue(xfr_notify_t *n, const zone_t *z, const xfr_addr_t *to)
{
	uint32_t h = ent_hash(zone_apex(z), zone_apex_len(z), to);
	for (nent_t *e = n->table[h & (n->table_size - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->apex_len == zone_apex_len(z) && same_addr(&e->to, to) &&
		    memcmp(e->apex, zone_apex(z), zone_apex_len(z)) == 0) {
			if (e->inflight) {
				e->tries = 0;	/* the zone changed again: send at the next tick */
				e->due = 0;
			}
			return;
		}
	size_t t = 0;
	while (t < n->ntargets && !same_addr(&n->targets[t].addr, to))
		t++;
	if (t == n->ntargets) {
		struct target *v = realloc(n->targets, (t + 1) * sizeof(*v));
		if (v == NULL)
			return;
		n->targets = v;
		memset(&v[t], 0, sizeof(v[t]));
		v[t].addr = *to;
		n->ntargets++;
	}
	if (n->count >= n->table_size && table_grow(n) < 0)
		return;
	nent_t *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	e->apex = malloc(zone_apex_len(z));
	if (e->apex == NULL) {
		free(e);
		return;
	}
	memcpy(e->apex, zone_apex(z), zone_apex_len(z));
	e->apex_len = zone_apex_len(z);
	e->to = *to;
	e->target = t;
	e->hash = h;
	e->hnext = n->table[h & (n->table_size - 1)];
	n->table[h & (n->table_size - 1)] = e;
	n->count++;
	struct target *tg = &n->targets[t];
	if (tg->tail != NULL)
		tg->tail->qnext = e;
	else
		tg->head = e;
	tg->tail = e;
}

void xfr_notify_changes(xfr_notify_t *n, const xfr_conf_t *conf, const zones_t *old,
			const zones_t *cur)
{
	if (n == NULL || conf == NULL || cur == NULL || n->closing || conf->nnotify == 0)
		return;
	n->have_key = conf->notify_key >= 0;
	if (n->have_key)
		n->key = conf->keys[conf->notify_key];
	size_t zones = 0;
	zones_cursor_t oc = { .zs = old };
	for (size_t i = 0; i < cur->n; i++) {
		const zone_t *z = cur->v[i];
		const zone_t *o = zones_match(&oc, z);
		if (o != NULL && zone_serial(o) == zone_serial(z))
			continue;
		zones++;
		for (size_t k = 0; k < conf->nnotify; k++)
			queue(n, z, &conf->notify[k]);
	}
	if (zones == 0)
		return;
	mn_log(MN_LOG_INFO, "notify: %zu zones queued for %zu secondaries%s%s", zones,
	       conf->nnotify, n->have_key ? ", key " : "", n->have_key ? n->key.name : "");
	if (!n->timer_on) {
		uv_timer_start(&n->timer, on_tick, 0, TICK_MS);
		n->timer_on = true;
	}
}

void xfr_notify_close(xfr_notify_t *n)
{
	if (n == NULL || n->closing)
		return;
	n->closing = true;
	uv_close((uv_handle_t *)&n->timer, handle_closed);
	for (int i = 0; i < NSOCKS; i++)
		if (n->socks[i].open)
			uv_close((uv_handle_t *)&n->socks[i].udp, handle_closed);
}
