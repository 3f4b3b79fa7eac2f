/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keywatch.h -- the DNSSEC key directories' watches: one inotify descriptor, set up off the answering threads */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

/*
 * watch.c's key directories (STATE_DIR/dnssec/ZONE, one per signed zone:
 * 300,000 at 100,000 domains) are watched on an inotify descriptor of their
 * own, not with one uv_fs_event each: its events are read on the loop (a
 * uv_poll_t), while a thread of its own, at a lower priority, adds and
 * removes the watches, so the loop thread (which also answers) does not spend
 * seconds in inotify_add_watch.  Each directory is keydirs_watch()ed
 * (zones/keydirs.h) just after its watch is added, and an event in it or on
 * it drops its state there (keydirs_event, or keydirs_watch(path, false)
 * when the directory itself went).
 *
 * The watches are capped below fs.inotify.max_user_watches, read once: key
 * directories get at most that minus 1,024 minus the other watches, so that
 * the policy, its includes and the key store (watched first) and the next
 * reload's new ones never lose to them.  A directory not watched (the cap, or
 * ENOSPC) is looked at by every reload (one warning says how many and the
 * sysctl to raise).  An overflow of the kernel's event queue drops every
 * directory's state (keydirs_event_all) and asks for a reload.
 */
typedef struct srv_keywatch srv_keywatch_t;

/* The names in a key directory whose change asks for a reload (fnmatch, FNM_PERIOD). */
#define SRV_KEYWATCH_NAMES "*.key"

/* What the watcher reports, on the loop thread (data is the one given). */
typedef struct srv_keywatch_ops {
	/*
	 * A change worth a reload: name (matching SRV_KEYWATCH_NAMES, not a
	 * "*.tmp.*") in key directory dir, or name NULL: dir itself changed or
	 * went; dir NULL too: the event queue overflowed (every state dropped).
	 * Once per batch of events read (the first such change).
	 */
	void (*changed)(void *data, const char *dir, const char *name);
	/* An apply asked with again started n > 0 new watches (their directories may have changed before). */
	void (*added)(void *data, size_t n);
	void *data;
} srv_keywatch_ops_t;

/*
 * A watcher on loop (loop thread), with nothing watched and its thread
 * started; *out freed by srv_keywatch_close().  MN_OK or a negative error
 * (nothing left behind).
 */
int srv_keywatch_new(uv_loop_t *loop, const srv_keywatch_ops_t *ops, srv_keywatch_t **out);
/*
 * Makes dirs[0..n) (sorted by strcmp, each malloc'ed; the array and the
 * strings are taken, whatever happens) the watched key directories (replace),
 * or adds them (!replace).  Returns at once: the thread applies it, one apply
 * at a time, the newest one pending replacing an older one (an added one joins
 * it).  others: the watches the process holds besides (the cap's reserve).
 * again: report the new watches of this apply (ops.added).  Loop thread.
 */
void srv_keywatch_apply(srv_keywatch_t *kw, char **dirs, size_t n, bool replace, bool again, size_t others);
/*
 * srv_keywatch_apply() of the directories in root (STATE_DIR/dnssec: each
 * entry but dot names that is a directory or a link to one; none when root
 * is missing), replacing, listed by the thread when it applies it (300,000 of
 * them: not on the loop, nor on a reload's thread).  root is copied.
 */
void srv_keywatch_list(srv_keywatch_t *kw, const char *root, bool again, size_t others);
/*
 * Reads the events pending now and acts on them (a reload about to start then
 * sees every change made before it); the poll does the same by itself.
 */
void srv_keywatch_drain(srv_keywatch_t *kw);
/* What an overflow of the event queue does (the kernel's IN_Q_OVERFLOW; tests call it). */
void srv_keywatch_overflow(srv_keywatch_t *kw);
/* Key directories watched now (distinct watches), and whether an apply is pending or running. */
size_t srv_keywatch_count(srv_keywatch_t *kw);
bool srv_keywatch_busy(srv_keywatch_t *kw);
/* Tests: at most cap key-directory watches, instead of the sysctl's. */
void srv_keywatch_set_cap(srv_keywatch_t *kw, size_t cap);
/*
 * Stops the thread (waits for its current batch), drops every watch (each
 * directory keydirs_watch(path, false)) and closes the handles; the memory is
 * freed in their close callbacks (run the loop).  NULL is a no-op.  Loop thread.
 */
void srv_keywatch_close(srv_keywatch_t *kw);
