/* SPDX-License-Identifier: GPL-3.0-or-later */
/* srv.h -- mailnsd internals shared by main.c, udp.c, tcp.c and reload.c */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <uv.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "server/xfr.h"
#include "zones/compile.h"
#include "zones/zset.h"

typedef struct srv_udp srv_udp_t;
typedef struct srv_tcp srv_tcp_t;
typedef struct srv_conn srv_conn_t;
typedef struct srv_watch srv_watch_t;
typedef struct srv_watchplan srv_watchplan_t;

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

/* Per-domain values for the metrics, computed when zones are (re)loaded. */
typedef struct srv_domstat {
	char *name;
	int64_t next_rotation;		/* unix time of the next key phase change, 0: none */
	int64_t spf_resolved;		/* when the SPF cache was computed, 0: no cache */
} srv_domstat_t;
typedef struct srv_domstats {
	unsigned int refs;		/* main loop only: the server and each metrics render */
	srv_domstat_t *v;
	size_t n;
	uint64_t phases[4];		/* keys by key_phase_t over all domains */
} srv_domstats_t;

/* What a reload prepares off the loop thread. */
typedef struct srv_reload {
	uv_work_t work;
	bool running;		/* work queued, after-callback not run yet */
	bool again;		/* a SIGHUP or a change arrived meanwhile: one more when done */
	/* results, written by the work callback, consumed by the after-callback */
	int err;
	diag_t *diag;
	zset_t *zset;
	srv_conf_t conf;
	size_t ndomains;
	srv_watchplan_t *plan;	/* what to watch next (NULL: could not be built) */
	xfr_conf_t *xfr;	/* the transfer configuration of the new policy */
	zset_t *old;		/* the set serving when the reload started (journal diff) */
	srv_domstats_t *domstats;	/* for the metrics (NULL when they are off) */
	unsigned int threads;	/* server.threads of the new policy (0: not loaded) */
	compile_stats_t stats;	/* domains reused from the compile cache / compiled */
	size_t files_reused;	/* included files taken from the parse cache */
} srv_reload_t;

typedef struct srv_rrl srv_rrl_t;
typedef struct srv_metrics srv_metrics_t;
typedef struct srv srv_t;

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

/*
 * The whole server: lives on main()'s stack, used on the main loop thread only
 * (except reload.work, see reload.c, and the fields marked otherwise).
 */
struct srv {
	uv_loop_t *loop;
	const char *policy_path;	/* absolute */
	srv_gen_t *gen;			/* the current generation (one reference) */
	bool stopping;
	bool udp_batch;			/* recvmmsg + sendmmsg (MAILNSD_UDP_BATCH=0: off) */

	srv_rrl_t *rrl;			/* the rate-limit buckets of every worker (any thread) */
	srv_worker_t *workers;		/* server.threads of them */
	size_t nworkers;
	uv_async_t acked;		/* a worker took a generation */
	bool acked_ready;
	bool handing;			/* gen not taken by every worker yet */
	size_t handed_domains;		/* for the "reloaded" line */
	compile_stats_t handed_stats;	/* likewise */
	size_t handed_files;		/* likewise */

	/*
	 * What the last good compile left for the next one (reload.c, used by one
	 * compile at a time): each domain's zones under a digest of its inputs,
	 * and (server.parse_cache) the parsed included files.
	 */
	compile_cache_t *ccache;
	policy_cache_t *pcache;		/* NULL when server.parse_cache is off */

	/* every TCP connection of every worker, for the caps (accept and close only) */
	uv_mutex_t conn_lock;
	srv_conn_t *all_conns;		/* under conn_lock */
	size_t nconns;			/* under conn_lock */
	size_t nreserved;		/* of them in the transfer reserve (under conn_lock) */

	uv_signal_t sig_hup, sig_term, sig_int;
	srv_reload_t reload;
	srv_watch_t *watch;		/* file watching (watch.c); NULL when off */
	xfr_notify_t *notify;		/* the NOTIFY sender (xfr.h); NULL when not started */

	uint8_t secret[16];		/* the cookie secret of the start */
	srv_stats_t stats;		/* the reload counters */
	srv_metrics_t *metrics;		/* the metrics listener; NULL when off */
	bool metrics_on;		/* set at start: reloads compute domstats */
	srv_domstats_t *domstats;	/* per-domain values (NULL when metrics are off) */
	size_t ndomains;
};

/*
 * Loads the policy at path and compiles its zones (any thread; serials are
 * persisted), reusing what srv->pcache and srv->ccache hold (either may be
 * NULL) and updating them.  Problems go into diag.  On success *zset has one
 * reference, *conf, *st and *ndomains are set, and *policy (when policy is
 * not NULL) is the loaded policy, freed by the caller.
 */
int srv_load(const char *path, policy_cache_t *pc, compile_cache_t *cc, diag_t *diag,
	     zset_t **zset, srv_conf_t *conf, compile_stats_t *st, size_t *ndomains,
	     policy_t **policy);
/*
 * srv_load() in two steps: srv_compile() compiles the zones of a loaded
 * policy p (not freed) with the compile cache cc (NULL: none) and fills *conf
 * and *st (NULL: not wanted) from it (a problem goes into diag).
 */
int srv_compile(const policy_t *p, compile_cache_t *cc, diag_t *diag, zset_t **zset,
		srv_conf_t *conf, compile_stats_t *st);

/* ---- operation (issue 9) ---- */

/* Fills buf with random bytes (getrandom). */
int srv_random(void *buf, size_t len);

/*
 * rrl.c: a table of size buckets (a power of two; 16 bytes each), one for the
 * whole server.  srv_rrl_check() checks one UDP response to addr at rate
 * responses/s per prefix (1..1000000) from any thread at once (atomics, no
 * lock); now_ms is the calling loop's uv_now().  Returns SRV_RRL_PASS,
 * SRV_RRL_DROP or SRV_RRL_SLIP (every slip-th limited response; 0: never).
 * srv_rrl_new() keys the bucket hash with random bytes; srv_rrl_new_keyed()
 * takes the 16-byte key (tests: a fixed key, so which prefixes share a bucket
 * is known).  srv_rrl_bucket() writes the bucket index of addr's prefix
 * (MN_EINVAL for another family than IPv4 and IPv6).
 */
enum { SRV_RRL_PASS = 0, SRV_RRL_DROP, SRV_RRL_SLIP, SRV_RRL_BUCKETS = 65536 };
int srv_rrl_new(size_t size, srv_rrl_t **out);
int srv_rrl_new_keyed(size_t size, const uint8_t key[16], srv_rrl_t **out);
int srv_rrl_bucket(const srv_rrl_t *r, const struct sockaddr *addr, size_t *out);
void srv_rrl_free(srv_rrl_t *r);	/* NULL is a no-op */
int srv_rrl_check(srv_rrl_t *r, const struct sockaddr *addr, uint32_t rate, uint32_t slip,
		  uint64_t now_ms);

/*
 * query.c: answers one query for udp.c and tcp.c on worker w's thread (cookies,
 * NSID, CHAOS from w->gen->conf), counts it, rate-limits UDP responses and logs queries when
 * asked.  Returns ANSWER_SEND with out[0..*outlen), or ANSWER_DROP.
 */
int srv_answer(srv_worker_t *w, const uint8_t *q, size_t qlen, const struct sockaddr *peer, bool tcp,
	       uint8_t *out, size_t outcap, size_t *outlen);
/*
 * query.c: the single UDP response out[0..*outlen) that xfr_request() made
 * for query q (refused, NOTAUTH, FORMERR, an IXFR's SOA) on worker w's thread:
 * counts it and rate-limits it like any other.  ANSWER_SEND (*outlen may
 * have shrunk to a truncated slip) or ANSWER_DROP.
 */
int srv_answer_xfr(srv_worker_t *w, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
		   uint8_t *out, size_t *outlen);

/* metrics.c: the Prometheus endpoint on addr ("ADDR:PORT"), served on srv->loop. */
int srv_metrics_open(srv_t *srv, const char *addr);
void srv_metrics_close(srv_t *srv);
/*
 * Per-domain values of policy p (any thread), one reference; immutable once
 * built.  srv_domstats_ref/unref on the main loop only (NULL is a no-op): a
 * metrics render off the loop holds one, so a reload never frees them under it.
 */
int srv_domstats_new(const policy_t *p, srv_domstats_t **out);
srv_domstats_t *srv_domstats_ref(srv_domstats_t *d);
void srv_domstats_unref(srv_domstats_t *d);

/*
 * priv.c: the user and group to run as after binding.  srv_priv_plan()
 * resolves server.user / server.group before anything is bound: started as
 * root without server.user it refuses (MN_EPERM, message on stderr);
 * server.user "root" stays root; started as another user, server.user must be
 * that user (or unset).  srv_priv_drop() then switches (setgroups, setgid,
 * setuid) and checks that root cannot be regained; before, state_dir (when
 * not NULL) and the server's own zones/ and journal/ below it are created for
 * the user when missing (state_dir itself may stay root's); after, those two
 * must be writable.
 */
typedef struct srv_priv {
	bool drop;		/* switch user after binding */
	uid_t uid;
	gid_t gid;
	char user[64];
} srv_priv_t;
int srv_priv_plan(const policy_t *p, srv_priv_t *out);
int srv_priv_drop(const srv_priv_t *pv, const char *state_dir);
/*
 * Before the switch (no thread running): can the user of pv read path (the
 * policy, read again on every reload)?  When it cannot, a warning is logged
 * (the loaded policy is served; reloads fail until it can).  Returns MN_OK,
 * or a negative errno when the check itself could not run.
 */
int srv_priv_check_read(const srv_priv_t *pv, const char *path);

/* server.threads of p: set, or the number of online CPUs (1..SRV_THREADS_MAX). */
enum { SRV_THREADS_MAX = 64 };
unsigned int srv_threads(const policy_t *p);

/*
 * udp.c: binds one UDP socket on addr for worker w (SO_REUSEPORT: one per
 * worker on the same address) and starts receiving (errors logged).
 * srv_udp_close_all() closes w's sockets.
 */
int srv_udp_open(srv_worker_t *w, const struct sockaddr *addr, const char *text);
void srv_udp_close_all(srv_worker_t *w);
/*
 * Sends msgs[0..n) on the datagram socket fd without blocking (sendmmsg).
 * Nothing is queued: when the kernel's send buffer is full (EAGAIN,
 * ENOBUFS) the rest is dropped; a message refused otherwise (an unreachable
 * client) is dropped alone.  Returns the number of messages dropped.
 */
size_t srv_udp_sendv(int fd, struct mmsghdr *msgs, size_t n);
/*
 * A socket of type on addr with SO_REUSEPORT (and IPV6_V6ONLY for IPv6),
 * bound; returns the descriptor or < 0.  probe: first check, with a socket
 * without SO_REUSEPORT, that nobody else has the address (a second server
 * would otherwise share it silently).
 */
int srv_socket_bind(int type, const struct sockaddr *addr, bool probe);

/* tcp.c: listens on addr for worker w (errors logged); serves connections until closed. */
int srv_tcp_open(srv_worker_t *w, const struct sockaddr *addr, const char *text);
void srv_tcp_close_all(srv_worker_t *w);	/* listeners and every connection of w */
/*
 * Connections beyond server.tcp_max_clients and tcp_max_per_ip kept for
 * clients in a server.transfer.allow network (their addresses: key: entries
 * are not known at accept).
 */
enum { SRV_TCP_RESERVE = 16 };
/* Do two peers count as one client for tcp_max_per_ip: one IPv4 address, one IPv6 /56? */
bool srv_tcp_same_client(const struct sockaddr *a, const struct sockaddr *b);

/*
 * main.c (workers): srv_workers_hand() gives srv->gen to every worker (the
 * main loop's at once, the others by uv_async); srv_workers_took() is true
 * when every worker answers from it.
 */
void srv_workers_hand(srv_t *srv);
bool srv_workers_took(const srv_t *srv);
/* reload.c: the handing-over of a reload is complete: log it, run a pending reload. */
void srv_reload_handed(srv_t *srv);

/* reload.c: SIGHUP handling; srv_reload_start() queues one reload. */
void srv_reload_start(srv_t *srv);
/* Logs what changed between two zone sets (serials). */
void srv_log_changes(const zset_t *old, const zset_t *cur);

/*
 * watch.c: reloads by itself when the policy, its included files (and new
 * files matching an include glob), the key store or the SPF cache change.
 *
 * srv_watch_plan() (any thread) lists the directories to watch and the names
 * that matter in each, from the policy file at policy_path (its include
 * patterns) and, when p is not NULL, the loaded policy (files read,
 * state_dir, domains).  Free with srv_watch_plan_free(NULL is a no-op).
 *
 * srv_watch_start() (loop thread) sets up srv->watch with nothing watched;
 * srv_watch_apply() takes plan and makes it the watched set (replace), or adds
 * it to the current one (!replace, after a failed reload); srv_watch_close()
 * closes every handle (memory freed in the close callbacks).
 */
int srv_watch_plan(const char *policy_path, const policy_t *p, srv_watchplan_t **plan);
void srv_watch_plan_free(srv_watchplan_t *plan);
int srv_watch_start(srv_t *srv);
void srv_watch_apply(srv_t *srv, srv_watchplan_t *plan, bool replace);
size_t srv_watch_count(const srv_t *srv);	/* directories watched */
void srv_watch_close(srv_t *srv);
