/* SPDX-License-Identifier: GPL-3.0-or-later */
/* worker.h -- mailnsd's loop threads and the generations (zone set, values, transfers) they answer from */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "policy/policy.h"
#include "server/xfr.h"
#include "zones/zset.h"

typedef struct srv srv_t;
typedef struct srv_udp srv_udp_t;
typedef struct srv_tcp srv_tcp_t;
typedef struct srv_conn srv_conn_t;

/* The values of the policy the running server uses (copied: the policy is freed). */
typedef struct srv_conf {
	uint32_t tcp_idle_ms;
	uint32_t tcp_max_clients;
	uint32_t tcp_max_per_ip;
	uint32_t rate_limit;		/* UDP responses/s per prefix; 0 = off */
	uint32_t rate_limit_slip;	/* every Nth limited response truncated; 0 = none */
	bool log_queries;
	bool has_identity, has_version, has_secret;
	char identity[256];		/* NSID, id.server (when has_identity) */
	char version[256];		/* version.bind (when has_version) */
	uint8_t secret[16];		/* cookie secret (when has_secret: configured) */
} srv_conf_t;

/*
 * Counters for the metrics endpoint.  Each loop thread counts its own queries
 * in its worker's copy (one writer: SRV_STAT_ADD, a relaxed load and store,
 * no locked instruction on the hot path); the scrape on the main loop sums
 * the copies with relaxed atomic loads.  The reload counters live in srv_t's
 * copy (main loop only).
 */
enum { SRV_QTYPES = 14, SRV_RCODES = 24 };
typedef struct srv_stats {
	uint64_t queries[2];		/* udp, tcp */
	uint64_t qtype[SRV_QTYPES];	/* see metrics.c: A NS SOA ... other */
	uint64_t rcode[SRV_RCODES];	/* by 12-bit rcode (0..23) */
	uint64_t kind[4];		/* answer_kind_t: none dkim dmarc spf */
	uint64_t truncated;
	uint64_t rl_dropped, rl_slipped;
	uint64_t reload_ok, reload_failed;
	bool last_reload_ok;
	uint64_t last_reload_time;	/* unix seconds of the last reload attempt (start: start-up) */
	uint64_t transfers;		/* AXFR/IXFR streams started */
	uint64_t cookies_bad;		/* BADCOOKIE sent */
	uint64_t tcp_refused;		/* connections closed at once (over a cap) */
	uint64_t udp_dropped;		/* UDP responses the kernel would not take (not queued) */
} srv_stats_t;
#define SRV_STAT_ADD(c, v) \
	__atomic_store_n(&(c), __atomic_load_n(&(c), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#define SRV_STAT_GET(c) __atomic_load_n(&(c), __ATOMIC_RELAXED)

/*
 * One generation of what answers read: the zone set, the server values and
 * the transfer configuration, shared by every loop thread through a
 * reference count (atomic).  Built on the main loop after a (re)load; each
 * worker holds one reference to the generation it answers from.  The last
 * reference frees it off the loop (a zone set of 300,000 zones takes a while
 * to free): see srv_gen_unref.
 */
typedef struct srv_gen {
	unsigned int refs;	/* __atomic builtins */
	uint64_t seq;		/* 1, 2, ...: the order of the generations */
	zset_t *zset;		/* one reference */
	srv_conf_t conf;
	xfr_conf_t *xfr;	/* owned */
	uv_work_t work;		/* frees it */
} srv_gen_t;

/* Takes zset's reference and xfr (NULL: no transfers); refs = 1. */
int srv_gen_new(zset_t *zset, const srv_conf_t *conf, xfr_conf_t *xfr, uint64_t seq,
		srv_gen_t **out);
srv_gen_t *srv_gen_ref(srv_gen_t *g);	/* returns g; NULL is a no-op */
/*
 * Drops one reference (any thread; NULL is a no-op).  The last one queues the
 * free on loop's thread pool (and gives the memory back to the system); with
 * loop NULL, or when that fails, it frees at once.
 */
void srv_gen_unref(srv_gen_t *g, uv_loop_t *loop);

/*
 * One loop thread: its loop, its sockets (SO_REUSEPORT: the kernel spreads
 * clients over the threads by their address and port), the generation it
 * answers from and its own counters (the rate-limit buckets are srv->rrl).  Worker 0 runs on
 * the main loop (signals, reload, watch, notify, metrics are there too); the
 * others on threads of their own.  Everything but the mailbox (lock) and the
 * counters is used on the worker's thread only.
 */
typedef struct srv_worker {
	srv_t *srv;
	unsigned int id;
	uv_loop_t *loop;		/* srv->loop for worker 0, else &own */
	uv_loop_t own;
	uv_thread_t thread;
	bool loop_ready, wake_ready, started;
	int close_rc;			/* uv_loop_close() of own, when the thread ends */

	/* the mailbox: the main loop hands over a generation or asks to stop */
	uv_async_t wake;
	uv_mutex_t lock;
	srv_gen_t *next;		/* under lock */
	bool stop;			/* under lock */
	uint64_t served;		/* seq of gen (__atomic): the main loop reads it */

	srv_gen_t *gen;			/* the generation answered from */
	uint8_t secret[16];		/* the cookie secret in use (the same on every worker) */
	srv_stats_t stats;
	bool stopping;

	srv_udp_t **udp;		/* one per listen address */
	size_t nudp;
	srv_tcp_t **tcp;
	size_t ntcp;
	srv_conn_t *conns;		/* this worker's open TCP connections (doubly linked) */
} srv_worker_t;

/* server.threads of p: set, or the number of online CPUs (1..SRV_THREADS_MAX). */
enum { SRV_THREADS_MAX = 64 };
unsigned int srv_threads(const policy_t *p);

/*
 * reload.c: srv_workers_hand() gives srv->gen to every worker (the
 * main loop's at once, the others by uv_async); srv_workers_took() is true
 * when every worker answers from it.
 */
void srv_workers_hand(srv_t *srv);
bool srv_workers_took(const srv_t *srv);
