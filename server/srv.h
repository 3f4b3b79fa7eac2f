/* SPDX-License-Identifier: GPL-3.0-or-later */
/* srv.h -- mailnsd internals shared by main.c, udp.c, tcp.c, reload.c and metrics.c: the server, its reload, listeners */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <uv.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "server/worker.h"
#include "server/xfr.h"
#include "zones/compile.h"
#include "zones/zset.h"

/* server/rrl.h, server/watch.h */
typedef struct srv_rrl srv_rrl_t;
typedef struct srv_watch srv_watch_t;
typedef struct srv_watchplan srv_watchplan_t;

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

typedef struct srv_metrics srv_metrics_t;

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

	/* DNSSEC: a reload when the first served signature needs refresh (reload.c) */
	uv_timer_t resign;
	bool resign_ready;		/* resign initialized (closed by stop()) */
	time_t resign_at;		/* compile_stats_t.resign_at of the serving set (0: none) */
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

/* reload.c: the handing-over of a reload is complete: log it, run a pending reload. */
void srv_reload_handed(srv_t *srv);

/* reload.c: SIGHUP handling; srv_reload_start() queues one reload. */
void srv_reload_start(srv_t *srv);
/*
 * reload.c: the DNSSEC refresh timer: srv_resign_init() once the loop runs
 * handles; srv_resign_arm() after each compile (srv->resign_at): at that
 * time the policy is reloaded as it is, which signs the zones due again
 * (their serials move, secondaries are notified).
 */
void srv_resign_init(srv_t *srv);
void srv_resign_arm(srv_t *srv, uint64_t min_delay_s);
/* Logs what changed between two zone sets (serials). */
void srv_log_changes(const zset_t *old, const zset_t *cur);


