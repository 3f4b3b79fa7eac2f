/* SPDX-License-Identifier: GPL-3.0-or-later */
/* srv.h -- mailnsd internals shared by main.c, udp.c, tcp.c and reload.c */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "server/xfr.h"
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
} srv_conf_t;

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
} srv_reload_t;

/*
 * The whole server: lives on main()'s stack, used on the loop thread only
 * (except reload.work, see reload.c).  It holds one reference to zset.
 */
typedef struct srv {
	uv_loop_t *loop;
	const char *policy_path;	/* absolute */
	zset_t *zset;			/* the current zone set */
	srv_conf_t conf;
	bool stopping;

	srv_udp_t **udp;		/* one per listen address */
	size_t nudp;
	srv_tcp_t **tcp;
	size_t ntcp;

	srv_conn_t *conns;		/* open TCP connections (doubly linked) */
	size_t nconns;
	uint64_t tcp_refused;		/* connections closed at once (over a cap) */

	uv_signal_t sig_hup, sig_term, sig_int;
	srv_reload_t reload;
	srv_watch_t *watch;		/* file watching (watch.c); NULL when off */
	xfr_conf_t *xfr;		/* transfers: allow, keys, notify targets (owned) */
	xfr_notify_t *notify;		/* the NOTIFY sender (xfr.h); NULL when not started */
} srv_t;

/*
 * Loads the policy at path and compiles its zones (any thread; serials are
 * persisted).  Problems go into diag.  On success *zset has one reference,
 * *conf and *ndomains are set, and *policy (when policy is not NULL) is the
 * loaded policy, freed by the caller.
 */
int srv_load(const char *path, diag_t *diag, zset_t **zset, srv_conf_t *conf,
	     size_t *ndomains, policy_t **policy);

/* udp.c: binds one UDP socket on addr and starts receiving (errors logged). */
int srv_udp_open(srv_t *srv, const struct sockaddr *addr, const char *text);
void srv_udp_close_all(srv_t *srv);

/* tcp.c: binds and listens on addr (errors logged); serves connections until closed. */
int srv_tcp_open(srv_t *srv, const struct sockaddr *addr, const char *text);
void srv_tcp_close_all(srv_t *srv);	/* listeners and every connection */

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
