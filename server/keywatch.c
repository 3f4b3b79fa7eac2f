/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keywatch.c -- the DNSSEC key directories' watches: one inotify descriptor, set up off the answering threads */
#include "server/keywatch.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "policy/mn.h"
#include "zones/keydirs.h"

/*
 * Two threads share the table of watches (wd -> directories): the loop maps
 * each event read to its directories, the watcher's thread adds and removes
 * watches.  Both under kw->lock, which the thread holds from an add to the
 * storing of its wd (an event on a new watch may be read at once) and takes
 * again every BATCH steps; when the loop waits for it, the thread lets it in
 * first (a mutex is not fair), so the loop waits for one batch at most.
 *
 * The directories of the last apply, sorted (kw->v), are the thread's: an
 * apply walks them beside the new ones, removes the watches no longer wanted,
 * then adds the new ones (and those whose directory went since).  The loop
 * never frees a directory; it only takes one that went out of the table
 * (wd -1), and the thread frees it at its next apply.
 */

enum {
	BATCH = 64,		/* steps (an add, a remove) per holding of the lock */
	RESERVE = 1024,		/* of max_user_watches, never taken by key directories */
	NICE = 10,		/* the thread's priority below the answering loops' */
	READS_MAX = 64,		/* reads of 64 KB per poll callback (a full default queue: about 1 MB) */
};

#define MASK (IN_ATTRIB | IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | \
	      IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define GONE (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)

/* One key directory: watched (wd >= 0, reachable from kw->wds), or not (wd -1). */
typedef struct kd {
	struct kd *same;	/* the next directory of the same watch (one inode under two paths) */
	int wd;
	char path[];
} kd_t;

/* wd -> the first of its directories: open addressing, linear probing, removal by backward shift. */
typedef struct wdmap {
	kd_t **slot;
	size_t cap, n;		/* n: distinct watches */
} wdmap_t;

typedef struct kplan {
	char *root;		/* (or NULL) its directories join v when the thread applies it */
	char **v;		/* sorted */
	size_t n;
	bool replace, again;
	size_t others;
} kplan_t;

struct srv_keywatch {
	uv_loop_t *loop;
	srv_keywatch_ops_t ops;
	int fd;
	uv_poll_t poll;
	uv_async_t done;	/* the thread finished an apply */
	uv_thread_t thread;
	bool thread_started;
	bool closing;
	int open;		/* handles not closed yet: the memory goes with the last */
	size_t max;		/* fs.inotify.max_user_watches (SIZE_MAX: unknown) */
	int waiting;		/* (atomic) the loop waits for the lock */

	uv_mutex_t lock;
	uv_cond_t cond;
	/* under lock */
	kplan_t *pending;
	bool running, stop;
	size_t anew;		/* watches added by applies asked with again, not reported yet */
	size_t cap;		/* SIZE_MAX: from max */
	wdmap_t wds;

	/* the thread's (the loop's once the thread is joined) */
	kd_t **v;		/* sorted by path: the directories of the last apply, watched */
	size_t n;
	size_t warned;		/* directories left unwatched at the last warning */

	_Alignas(struct inotify_event) char buf[64 * 1024];	/* the loop's */
};

/* ---- wd -> directories ------------------------------------------------------------ */

static size_t wd_home(const wdmap_t *m, int wd)
{
	return ((uint32_t)wd * 2654435761u) & (m->cap - 1);
}

/* The slot of wd, or SIZE_MAX. */
static size_t wdmap_find(const wdmap_t *m, int wd)
{
	if (m->n == 0)
		return SIZE_MAX;
	for (size_t i = wd_home(m, wd);; i = (i + 1) & (m->cap - 1)) {
		if (m->slot[i] == NULL)
			return SIZE_MAX;
		if (m->slot[i]->wd == wd)
			return i;
	}
}

static int wdmap_grow(wdmap_t *m)
{
	wdmap_t nm = { .cap = m->cap ? m->cap * 2 : 64, .n = m->n };
	if ((nm.slot = calloc(nm.cap, sizeof(*nm.slot))) == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slot[i] == NULL)
			continue;
		size_t j = wd_home(&nm, m->slot[i]->wd);
		while (nm.slot[j] != NULL)
			j = (j + 1) & (nm.cap - 1);
		nm.slot[j] = m->slot[i];
	}
	free(m->slot);
	*m = nm;
	return MN_OK;
}

/* e, watched as e->wd, joins the directories of its watch (MN_ENOMEM: not added). */
static int wdmap_add(wdmap_t *m, kd_t *e)
{
	size_t i = wdmap_find(m, e->wd);
	if (i != SIZE_MAX) {
		e->same = m->slot[i]->same;
		m->slot[i]->same = e;
		return MN_OK;
	}
	if ((m->n + 1) * 2 > m->cap && wdmap_grow(m) < 0)
		return MN_ENOMEM;
	for (i = wd_home(m, e->wd); m->slot[i] != NULL; i = (i + 1) & (m->cap - 1))
		;
	e->same = NULL;
	m->slot[i] = e;
	m->n++;
	return MN_OK;
}

/* Empties slot i, moving back the entries after it that belong before it. */
static void wdmap_del_at(wdmap_t *m, size_t i)
{
	size_t mask = m->cap - 1;
	m->slot[i] = NULL;
	m->n--;
	for (size_t j = (i + 1) & mask; m->slot[j] != NULL; j = (j + 1) & mask) {
		size_t k = wd_home(m, m->slot[j]->wd);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);	/* home in (i, j] */
		if (!stays) {
			m->slot[i] = m->slot[j];
			m->slot[j] = NULL;
			i = j;
		}
	}
}

/* ---- locking ---------------------------------------------------------------------- */

static void loop_lock(srv_keywatch_t *kw)
{
	__atomic_add_fetch(&kw->waiting, 1, __ATOMIC_ACQ_REL);
	uv_mutex_lock(&kw->lock);
	__atomic_sub_fetch(&kw->waiting, 1, __ATOMIC_ACQ_REL);
}

/* The thread's turn: after the loop's when the loop waits. */
static void thread_lock(srv_keywatch_t *kw)
{
	while (__atomic_load_n(&kw->waiting, __ATOMIC_ACQUIRE) != 0)
		sched_yield();
	uv_mutex_lock(&kw->lock);
}

/* One more step under the lock: every BATCH, the loop gets its turn. */
static void step(srv_keywatch_t *kw, size_t *steps)
{
	if (++*steps % BATCH != 0)
		return;
	uv_mutex_unlock(&kw->lock);
	thread_lock(kw);
}

/* ---- the thread: applies ---------------------------------------------------------- */

static void plan_free(kplan_t *pl)
{
	if (pl == NULL)
		return;
	for (size_t i = 0; i < pl->n; i++)
		free(pl->v[i]);
	free(pl->v);
	free(pl->root);
	free(pl);
}

static bool plan_join(kplan_t *a, kplan_t *b);

/* Paths with a common prefix of *arg bytes, by what follows it (qsort_r): the order of strcmp. */
static int suffix_cmp(const void *x, const void *y, void *arg)
{
	size_t off = *(const size_t *)arg;
	return strcmp(*(char *const *)x + off, *(char *const *)y + off);
}

/*
 * The directories in pl->root (each entry but dot names that is a directory
 * or a link to one; none when root is missing) join pl->v.  false when they
 * could not be listed (the apply is dropped: the watches stay as they are).
 */
static bool plan_list(kplan_t *pl)
{
	kplan_t l = { 0 };
	size_t cap = 0, rl = strlen(pl->root);
	DIR *dir = opendir(pl->root);
	if (dir == NULL && errno != ENOENT && errno != ENOTDIR) {
		mn_log(MN_LOG_WARNING, "cannot list %s (%s)", pl->root, mn_strerror(-errno));
		return false;
	}
	bool ok = true;
	struct dirent *e;
	while (dir != NULL && ok && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;	/* (.signed-zones, the store, is one) */
		size_t nl = strlen(e->d_name);
		if (l.n == cap) {
			char **nv = realloc(l.v, (cap ? cap * 2 : 1024) * sizeof(*nv));
			if (nv == NULL) {
				ok = false;
				break;
			}
			l.v = nv;
			cap = cap ? cap * 2 : 1024;
		}
		char *path = malloc(rl + nl + 2);
		if (path == NULL) {
			ok = false;
			break;
		}
		memcpy(path, pl->root, rl);
		path[rl] = '/';
		memcpy(path + rl + 1, e->d_name, nl + 1);
		struct stat st;
		bool isdir = e->d_type == DT_DIR ||
			     ((e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) && stat(path, &st) == 0 &&
			      S_ISDIR(st.st_mode));	/* (stat: a link to a directory too) */
		if (isdir)
			l.v[l.n++] = path;
		else
			free(path);
	}
	if (dir != NULL)
		closedir(dir);
	if (ok && l.n > 1) {
		size_t off = rl + 1;	/* (one prefix: compared once, not 5 million times at 300,000) */
		qsort_r(l.v, l.n, sizeof(*l.v), suffix_cmp, &off);
	}
	ok = ok && plan_join(pl, &l);
	if (!ok)
		mn_log(MN_LOG_ERR, "cannot list %s (%s)", pl->root, mn_strerror(MN_ENOMEM));
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return ok;
}

static kd_t *kd_new(const char *path)
{
	size_t len = strlen(path);
	kd_t *e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	e->same = NULL;
	e->wd = -1;
	memcpy(e->path, path, len + 1);
	return e;
}

/* e's watch stops (lock held): out of the table, the kernel's watch removed with its last directory. */
static void unwatch(srv_keywatch_t *kw, kd_t *e)
{
	keydirs_watch(e->path, false);
	if (e->wd < 0)
		return;
	size_t i = wdmap_find(&kw->wds, e->wd);
	assert(i != SIZE_MAX);
	kd_t **pp = &kw->wds.slot[i];
	while (*pp != e)
		pp = &(*pp)->same;
	*pp = e->same;
	if (kw->wds.slot[i] == NULL) {	/* its last directory */
		wdmap_del_at(&kw->wds, i);
		(void)inotify_rm_watch(kw->fd, e->wd);
	}
	e->wd = -1;
	e->same = NULL;
}

/* How many watches key directories may hold now (lock held). */
static size_t cap_now(const srv_keywatch_t *kw, size_t others)
{
	if (kw->cap != SIZE_MAX)
		return kw->cap;
	if (kw->max == SIZE_MAX)
		return SIZE_MAX;
	return kw->max > RESERVE + others ? kw->max - RESERVE - others : 0;
}

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The directories of the last apply beside pl's, into nv (sorted): those not wanted any more stop. */
static size_t merge(srv_keywatch_t *kw, const kplan_t *pl, kd_t **nv, size_t *stopped, size_t *nomem)
{
	size_t i = 0, j = 0, k = 0, steps = 0;
	thread_lock(kw);
	while (i < kw->n || j < pl->n) {
		int c = i == kw->n ? 1 : j == pl->n ? -1 : strcmp(kw->v[i]->path, pl->v[j]);
		if (c < 0 && pl->replace) {
			kd_t *e = kw->v[i++];
			*stopped += e->wd >= 0;
			unwatch(kw, e);
			free(e);
		} else if (c <= 0) {
			nv[k++] = kw->v[i++];	/* (watched, or gone since: added again below) */
			j += c == 0;
		} else if (k > 0 && strcmp(nv[k - 1]->path, pl->v[j]) == 0) {
			j++;	/* a duplicate */
			continue;
		} else if ((nv[k] = kd_new(pl->v[j++])) != NULL) {
			k++;
		} else {
			++*nomem;
		}
		step(kw, &steps);
	}
	uv_mutex_unlock(&kw->lock);
	return k;
}

/* Applies pl: the directories not wanted any more unwatched, the new ones watched; returns how many added. */
static size_t apply(srv_keywatch_t *kw, const kplan_t *pl)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kd_t **nv = malloc((kw->n + pl->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		mn_log(MN_LOG_ERR, "cannot update the watched key directories (%s)", mn_strerror(MN_ENOMEM));
		return 0;
	}
	size_t stopped = 0, failed = 0, capped = 0, added = 0, steps = 0;
	size_t k = merge(kw, pl, nv, &stopped, &failed);
	int first_err = failed > 0 ? ENOMEM : 0;
	char first[256] = "";
	thread_lock(kw);
	size_t cap = cap_now(kw, pl->others);
	bool full = false;
	for (size_t q = 0; q < k && !kw->stop; q++) {
		kd_t *e = nv[q];
		if (e->wd >= 0)
			continue;
		if (full || kw->wds.n >= cap) {
			full = true;
			capped++;
			continue;
		}
		int wd = inotify_add_watch(kw->fd, e->path, MASK);
		if (wd < 0 && errno == ENOSPC) {
			full = true;
			capped++;
			continue;
		}
		if (wd < 0) {
			if (first[0] == '\0') {
				first_err = errno;
				snprintf(first, sizeof(first), "%s", e->path);
			}
			failed++;
			continue;
		}
		e->wd = wd;
		if (wdmap_add(&kw->wds, e) < 0) {
			(void)inotify_rm_watch(kw->fd, wd);	/* (a new wd: a known one never fails) */
			e->wd = -1;
			failed++;
			first_err = first_err ? first_err : ENOMEM;
			continue;
		}
		/* (after the add: a state put from now on is dropped by the next event) */
		keydirs_watch(e->path, true);
		added++;
		step(kw, &steps);
	}
	/* the set: the directories watched (those not, and those gone meanwhile, freed) */
	size_t m = 0;
	for (size_t q = 0; q < k; q++) {
		if (nv[q]->wd >= 0)
			nv[m++] = nv[q];
		else
			free(nv[q]);
	}
	size_t watched = kw->wds.n;
	bool stop = kw->stop;
	uv_mutex_unlock(&kw->lock);
	free(kw->v);
	kw->v = nv;
	kw->n = m;
	if (stop)
		return added;
	if (added + stopped > 0)
		mn_log(MN_LOG_INFO, "watching %zu key directories took %.3f s (%zu added, %zu removed)",
		       watched, since(&t0), added, stopped);
	if (capped != kw->warned) {
		if (capped > 0)
			mn_log(MN_LOG_WARNING,
			       "not watching %zu of %zu DNSSEC key directories: the inotify watch limit is "
			       "reached (fs.inotify.max_user_watches); they are looked at on each reload "
			       "(raise it: sysctl fs.inotify.max_user_watches=%zu)",
			       capped, k, watched + capped + pl->others + 2 * RESERVE);
		kw->warned = capped;
	}
	if (failed > 0)
		mn_log(MN_LOG_WARNING,
		       "cannot watch %zu key directories (first: %s: %s); they are looked at on each reload",
		       failed, first[0] != '\0' ? first : "-", mn_strerror(-first_err));
	return added;
}

static void thread_run(void *arg)
{
	srv_keywatch_t *kw = arg;
	(void)pthread_setname_np(pthread_self(), "mailnsd-keys");	/* (top -H, /proc/PID/task) */
	/* below the answering loops (a thread's own nice value on Linux) */
	id_t tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	int prio = getpriority(PRIO_PROCESS, tid);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, tid, prio + NICE > 19 ? 19 : prio + NICE);
	thread_lock(kw);
	for (;;) {
		while (kw->pending == NULL && !kw->stop)
			uv_cond_wait(&kw->cond, &kw->lock);
		if (kw->stop)
			break;
		kplan_t *pl = kw->pending;
		kw->pending = NULL;
		kw->running = true;
		uv_mutex_unlock(&kw->lock);
		size_t added = pl->root == NULL || plan_list(pl) ? apply(kw, pl) : 0;
		thread_lock(kw);
		kw->running = false;
		if (pl->again)
			kw->anew += added;
		uv_async_send(&kw->done);
		uv_mutex_unlock(&kw->lock);
		plan_free(pl);
		thread_lock(kw);
	}
	uv_mutex_unlock(&kw->lock);
}

/* ---- the loop: events ------------------------------------------------------------- */

typedef struct seen {
	bool want;		/* a change worth a reload */
	bool overflow;
	char dir[4096];		/* the first one's */
	char name[256];
} seen_t;

static void note(seen_t *s, const char *dir, const char *name)
{
	if (s->want)
		return;
	s->want = true;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->name, sizeof(s->name), "%s", name != NULL ? name : "");
}

/* One event (lock held). */
static void event(srv_keywatch_t *kw, const struct inotify_event *ev, seen_t *s)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		s->overflow = true;
		return;
	}
	size_t i = wdmap_find(&kw->wds, ev->wd);
	if (i == SIZE_MAX)
		return;		/* a watch removed (its IN_IGNORED) */
	kd_t *head = kw->wds.slot[i];
	const char *name = ev->len > 0 && ev->name[0] != '\0' ? ev->name : NULL;
	if (ev->mask & GONE) {
		/* the directory itself went: not watched (a new one there is not) until watched anew */
		wdmap_del_at(&kw->wds, i);
		if (!(ev->mask & IN_IGNORED))
			(void)inotify_rm_watch(kw->fd, ev->wd);	/* (a moved one would be watched where it went) */
		note(s, head->path, NULL);
		for (kd_t *e = head, *nx; e != NULL; e = nx) {
			nx = e->same;
			keydirs_watch(e->path, false);
			e->wd = -1;
			e->same = NULL;
		}
		return;
	}
	/* any event (a name ignored for reloading too: a file written there changes its state) */
	for (kd_t *e = head; e != NULL; e = e->same)
		keydirs_event(e->path);
	if (name == NULL || (strstr(name, ".tmp.") == NULL && fnmatch(SRV_KEYWATCH_NAMES, name, FNM_PERIOD) == 0))
		note(s, head->path, name);
}

static void drain(srv_keywatch_t *kw)
{
	seen_t s;
	s.want = s.overflow = false;
	for (int r = 0; r < READS_MAX; r++) {
		ssize_t len = read(kw->fd, kw->buf, sizeof(kw->buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			break;
		loop_lock(kw);
		for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)len;) {
			const struct inotify_event *ev = (const void *)(kw->buf + off);
			event(kw, ev, &s);
			off += sizeof(*ev) + ev->len;
		}
		uv_mutex_unlock(&kw->lock);
	}
	if (s.overflow)
		srv_keywatch_overflow(kw);
	else if (s.want)
		kw->ops.changed(kw->ops.data, s.dir, s.name[0] != '\0' ? s.name : NULL);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	srv_keywatch_t *kw = h->data;
	if (!kw->closing)
		drain(kw);
}

void srv_keywatch_drain(srv_keywatch_t *kw)
{
	if (kw != NULL && !kw->closing)
		drain(kw);
}

void srv_keywatch_overflow(srv_keywatch_t *kw)
{
	if (kw == NULL || kw->closing)
		return;
	keydirs_event_all();
	mn_log(MN_LOG_WARNING, "the key directories' inotify queue overflowed (fs.inotify.max_queued_events): "
	       "every key directory is looked at again");
	kw->ops.changed(kw->ops.data, NULL, NULL);
}

static void on_done(uv_async_t *h)
{
	srv_keywatch_t *kw = h->data;
	loop_lock(kw);
	size_t n = kw->anew;
	kw->anew = 0;
	uv_mutex_unlock(&kw->lock);
	if (n > 0 && !kw->closing && kw->ops.added != NULL)
		kw->ops.added(kw->ops.data, n);
}

/* ---- life --------------------------------------------------------------------------- */

/* Moves b[0..nb) (sorted) into a's sorted strings; false on ENOMEM (b untouched). */
static bool plan_join(kplan_t *a, kplan_t *b)
{
	char **v = malloc((a->n + b->n + 1) * sizeof(*v));
	if (v == NULL)
		return false;
	size_t i = 0, j = 0, k = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
		if (c == 0)
			free(b->v[j++]);
		else
			v[k++] = c < 0 ? a->v[i++] : b->v[j++];
	}
	free(a->v);
	a->v = v;
	a->n = k;
	b->n = 0;
	return true;
}

/* pl (taken) becomes the pending plan, or joins it (!replace). */
static void plan_queue(srv_keywatch_t *kw, kplan_t *pl)
{
	kplan_t *drop = NULL;
	loop_lock(kw);
	kplan_t *old = kw->pending;
	if (old == NULL || pl->replace) {
		if (old != NULL)
			pl->again = pl->again || old->again;
		kw->pending = pl;	/* the newest, whole: the older one is not applied */
		drop = old;
	} else if (plan_join(old, pl)) {
		old->again = old->again || pl->again;	/* added to the pending one */
		old->others = pl->others;
		drop = pl;
	} else {
		mn_log(MN_LOG_ERR, "cannot update the watched key directories (%s)", mn_strerror(MN_ENOMEM));
		drop = pl;
	}
	uv_cond_signal(&kw->cond);
	uv_mutex_unlock(&kw->lock);
	plan_free(drop);
}

void srv_keywatch_apply(srv_keywatch_t *kw, char **dirs, size_t n, bool replace, bool again, size_t others)
{
	kplan_t *pl = calloc(1, sizeof(*pl));
	if (pl == NULL || kw == NULL || kw->closing) {
		for (size_t i = 0; i < n; i++)
			free(dirs[i]);
		free(dirs);
		free(pl);
		return;
	}
	*pl = (kplan_t){ .v = dirs, .n = n, .replace = replace, .again = again, .others = others };
	plan_queue(kw, pl);
}

void srv_keywatch_list(srv_keywatch_t *kw, const char *root, bool again, size_t others)
{
	if (kw == NULL || kw->closing)
		return;
	kplan_t *pl = calloc(1, sizeof(*pl));
	char *r = pl != NULL && root != NULL ? strdup(root) : NULL;
	if (r == NULL) {
		mn_log(MN_LOG_ERR, "cannot update the watched key directories (%s)", mn_strerror(MN_ENOMEM));
		free(pl);
		return;
	}
	*pl = (kplan_t){ .root = r, .replace = true, .again = again, .others = others };
	plan_queue(kw, pl);
}

size_t srv_keywatch_count(srv_keywatch_t *kw)
{
	if (kw == NULL)
		return 0;
	loop_lock(kw);
	size_t n = kw->wds.n;
	uv_mutex_unlock(&kw->lock);
	return n;
}

bool srv_keywatch_busy(srv_keywatch_t *kw)
{
	if (kw == NULL)
		return false;
	loop_lock(kw);
	bool busy = kw->pending != NULL || kw->running;
	uv_mutex_unlock(&kw->lock);
	return busy;
}

void srv_keywatch_set_cap(srv_keywatch_t *kw, size_t cap)
{
	loop_lock(kw);
	kw->cap = cap;
	uv_mutex_unlock(&kw->lock);
}

/* fs.inotify.max_user_watches, or SIZE_MAX. */
static size_t max_user_watches(void)
{
	size_t max = SIZE_MAX;
	unsigned long long v;
	FILE *f = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
	if (f != NULL) {
		if (fscanf(f, "%llu", &v) == 1 && v < SIZE_MAX)
			max = (size_t)v;
		fclose(f);
	}
	return max;
}

static void closed(uv_handle_t *h)
{
	srv_keywatch_t *kw = h->data;
	if (--kw->open > 0)
		return;
	close(kw->fd);
	uv_cond_destroy(&kw->cond);
	uv_mutex_destroy(&kw->lock);
	free(kw);
}

int srv_keywatch_new(uv_loop_t *loop, const srv_keywatch_ops_t *ops, srv_keywatch_t **out)
{
	if (loop == NULL || ops == NULL || ops->changed == NULL || out == NULL)
		return MN_EINVAL;
	srv_keywatch_t *kw = calloc(1, sizeof(*kw));
	if (kw == NULL)
		return MN_ENOMEM;
	kw->loop = loop;
	kw->ops = *ops;
	kw->cap = SIZE_MAX;
	kw->max = max_user_watches();
	int r = MN_OK;
	kw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (kw->fd < 0) {
		r = -errno;
		free(kw);
		return r;
	}
	if ((r = uv_mutex_init(&kw->lock)) < 0)
		goto fail;
	if ((r = uv_cond_init(&kw->cond)) < 0) {
		uv_mutex_destroy(&kw->lock);
		goto fail;
	}
	if ((r = uv_poll_init(loop, &kw->poll, kw->fd)) < 0) {
		uv_cond_destroy(&kw->cond);
		uv_mutex_destroy(&kw->lock);
		goto fail;
	}
	/* from here on the handles' close callbacks free kw */
	kw->poll.data = kw;
	kw->open = 1;
	if ((r = uv_async_init(loop, &kw->done, on_done)) == 0) {
		kw->done.data = kw;
		kw->open = 2;
		r = uv_poll_start(&kw->poll, UV_READABLE, on_poll);
	}
	if (r == 0 && (r = uv_thread_create(&kw->thread, thread_run, kw)) == 0)
		kw->thread_started = true;
	if (r < 0) {
		srv_keywatch_close(kw);
		return r;
	}
	*out = kw;
	return MN_OK;
fail:
	close(kw->fd);
	free(kw);
	return r;
}

void srv_keywatch_close(srv_keywatch_t *kw)
{
	if (kw == NULL || kw->closing)
		return;
	kw->closing = true;
	if (kw->thread_started) {
		loop_lock(kw);
		kw->stop = true;
		uv_cond_signal(&kw->cond);
		uv_mutex_unlock(&kw->lock);
		uv_thread_join(&kw->thread);
		kw->thread_started = false;
	}
	/* the loop's alone now */
	for (size_t i = 0; i < kw->n; i++) {
		if (kw->v[i]->wd >= 0)
			keydirs_watch(kw->v[i]->path, false);
		free(kw->v[i]);
	}
	free(kw->v);
	kw->v = NULL;
	kw->n = 0;
	free(kw->wds.slot);
	memset(&kw->wds, 0, sizeof(kw->wds));
	plan_free(kw->pending);
	kw->pending = NULL;
	uv_close((uv_handle_t *)&kw->poll, closed);
	if (kw->open == 2)
		uv_close((uv_handle_t *)&kw->done, closed);
}
