/* SPDX-License-Identifier: GPL-3.0-or-later */
/* watch.h -- mailnsd's file watching: reload when the policy, its includes, keys or SPF cache change */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

typedef struct srv srv_t;
typedef struct srv_watch srv_watch_t;
typedef struct srv_watchplan srv_watchplan_t;

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
 * it to the current one (!replace, after a failed reload): the policy's files
 * at once, the DNSSEC key directories (every directory of STATE_DIR/dnssec,
 * listed then) by a thread of their own afterwards (server/keywatch.h); srv_watch_close() stops that thread and closes every
 * handle (memory freed in the close callbacks).
 */
int srv_watch_plan(const char *policy_path, const policy_t *p, srv_watchplan_t **plan);
void srv_watch_plan_free(srv_watchplan_t *plan);
/*
 * Does plan watch directory dir for name (a file name or pattern, as added)?
 * (tests)  The key directories: dir STATE_DIR/dnssec, name SRV_WATCH_KEYDIRS.
 */
#define SRV_WATCH_KEYDIRS "*/*.key"
bool srv_watch_plan_has(const srv_watchplan_t *plan, const char *dir, const char *name);
size_t srv_watch_plan_count(const srv_watchplan_t *plan);	/* rules: (directory, name) pairs */
int srv_watch_start(srv_t *srv);
void srv_watch_apply(srv_t *srv, srv_watchplan_t *plan, bool replace);
size_t srv_watch_count(const srv_t *srv);	/* directories watched, key directories aside */
size_t srv_watch_keydirs(const srv_t *srv);	/* DNSSEC key directories watched now (keywatch.h) */
bool srv_watch_pending(const srv_t *srv);	/* a debounced reload is pending (tests) */
/*
 * A reload starts or is queued (SIGHUP): it reads every file after the events
 * seen so far, so the reload they were going to start (debounced) is dropped;
 * the key directories' events pending are read first (their states dropped).
 */
void srv_watch_settled(srv_t *srv);
void srv_watch_close(srv_t *srv);
