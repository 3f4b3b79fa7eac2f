/* SPDX-License-Identifier: GPL-3.0-or-later */
/* watch.c -- reload by itself when the policy, its includes, the key store or the SPF cache change */
#include "server/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/mn.h"
#include "server/keywatch.h"
#include "server/srv.h"

/*
 * Directories are watched, not files: an editor that saves by rename (vim,
 * sed -i) or an atomic writer (tmp + rename) replaces the inode, and a watch
 * on the old file would see nothing more.  Each watched directory has a list
 * of names (exact, or fnmatch patterns for include globs) that matter; events
 * on other names (editor swap files, private keys) are ignored, and so are the
 * files the server writes itself (state_dir/serials and every "*.tmp.*"), or
 * each reload would start the next one.
 *
 * Events are debounced: a reload starts DEBOUNCE_MS after the last event of a
 * burst.  An editor that truncates and then writes is read once, after the
 * write; if a reload reads a half-written file anyway, it fails validation
 * and the current zones stay.  An event during a running reload queues one
 * more (srv_reload_start).
 *
 * The plan (which directories, which names) is built from a loaded policy off
 * the loop thread (reload_work) and applied on the loop thread after each
 * reload: a directory still wanted keeps its handle (no window where events
 * are lost), others are closed, new ones started.  A directory that does not
 * exist yet is replaced by its nearest existing ancestor, watching for the
 * name of the next component, so that its creation is noticed.  A directory
 * watched anew after a reload (a domain's key directory that `mailns keys`
 * just made) may have changed between the reload reading it and its watch
 * starting: each such apply runs one more (debounced) reload, which reads it
 * under the watch; that one adds no directory, so it is the last.
 *
 * The DNSSEC key directories (one per signed zone: 300,000 at 100,000
 * domains) are not watched here but by keywatch.c, on an inotify descriptor
 * of their own whose watches a thread of its own lists (the plan names
 * STATE_DIR/dnssec only), adds and removes (the loop thread answers too):
 * the other watches are set here first, synchronously, so they never lose
 * to key directories at the watch limit.  A reload about
 * to start reads the key directories' pending events first (settled), so a
 * key written before a SIGHUP is seen by its reload.
 */

enum { DEBOUNCE_MS = 300 };

typedef struct rule {
	char *dir;
	char *name;		/* a file name, or a pattern when glob */
	bool glob;
} rule_t;

struct srv_watchplan {
	rule_t *v;
	size_t n, cap;
	char *kdroot;		/* STATE_DIR/dnssec: every directory in it is a key directory (keywatch.c's) */
	int err;		/* first allocation failure */
};

typedef struct pat {
	char *name;
	bool glob;
} pat_t;

typedef struct wdir {
	uv_fs_event_t h;	/* h.data = the srv_watch */
	char *dir;
	pat_t *pats;
	size_t npats;
	bool stale;		/* the directory itself was deleted or moved: watch it anew */
} wdir_t;

struct srv_watch {
	srv_t *srv;
	uv_timer_t timer;	/* debounce; freed with the watch in its close callback */
	wdir_t **dirs;		/* sorted by dir */
	size_t ndirs;
	srv_keywatch_t *kw;	/* the key directories (made at the first plan with one) */
	bool applied;		/* a plan was applied before (the start-up's) */
	bool closing;
};

/* ---- plan (any thread) ------------------------------------------------------------ */

static void plan_add(srv_watchplan_t *pl, const char *dir, size_t dlen, const char *name, bool glob)
{
	if (pl->err < 0)
		return;
	if (pl->n == pl->cap) {
		size_t c = pl->cap ? pl->cap * 2 : 16;
		rule_t *nv = realloc(pl->v, c * sizeof(*nv));
		if (nv == NULL) {
			pl->err = MN_ENOMEM;
			return;
		}
		pl->v = nv;
		pl->cap = c;
	}
	rule_t *r = &pl->v[pl->n];
	r->dir = strndup(dir, dlen);
	r->name = strdup(name);
	r->glob = glob && strpbrk(name, "*?[") != NULL;
	if (r->dir == NULL || r->name == NULL) {
		free(r->dir);
		free(r->name);
		pl->err = MN_ENOMEM;
		return;
	}
	pl->n++;
}

/* dir/name for a path: the part before the last slash ("/" for "/x"). */
static void plan_add_path(srv_watchplan_t *pl, const char *path, bool glob)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash[1] == '\0')
		return;
	plan_add(pl, path, slash == path ? 1 : (size_t)(slash - path), slash + 1, glob);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* An include pattern, absolute: its files, and the directories where new ones may appear. */
static void plan_add_include(srv_watchplan_t *pl, const char *pattern)
{
	const char *wild = strpbrk(pattern, "*?[");
	if (wild == NULL) {
		plan_add_path(pl, pattern, false);
		return;
	}
	/* the first component with a wildcard, and the directory above it */
	const char *start = wild;
	while (start > pattern && start[-1] != '/')
		start--;
	const char *end = strchr(wild, '/');
	if (start == pattern)
		return;		/* not absolute: cannot happen (made absolute by the caller) */
	size_t dlen = start - 1 == pattern ? 1 : (size_t)(start - 1 - pattern);
	char *comp = strndup(start, end != NULL ? (size_t)(end - start) : strlen(start));
	if (comp == NULL) {
		pl->err = MN_ENOMEM;
		return;
	}
	plan_add(pl, pattern, dlen, comp, true);
	free(comp);
	if (end == NULL)
		return;
	/* a wildcard above the last component: the last one in every directory matching now */
	const char *last = strrchr(pattern, '/');
	char *dirpat = strndup(pattern, (size_t)(last - pattern));
	if (dirpat == NULL) {
		pl->err = MN_ENOMEM;
		return;
	}
	glob_t g;
	if (glob(dirpat, GLOB_ONLYDIR, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			plan_add(pl, g.gl_pathv[i], strlen(g.gl_pathv[i]), last + 1, true);
		globfree(&g);
	}
	free(dirpat);
}

/* The include patterns of the policy (absolute, as the loader globbed them). */
static void plan_add_includes(srv_watchplan_t *pl, const policy_t *p)
{
	for (size_t i = 0; i < p->nincludes; i++)
		plan_add_include(pl, p->includes[i].pattern);
}

static void plan_add_state(srv_watchplan_t *pl, const policy_t *p)
{
	const char *s = p->server.state_dir.v;
	if (s == NULL || s[0] != '/')
		return;
	size_t sl = strlen(s);
	plan_add(pl, s, sl, "keys", false);	/* created: keys/ and spf/ appear */
	plan_add(pl, s, sl, "spf", false);
	char *buf = malloc(sl + 300);
	if (buf == NULL) {
		pl->err = MN_ENOMEM;
		return;
	}
	snprintf(buf, sl + 300, "%s/spf", s);
	plan_add(pl, buf, strlen(buf), "*", true);
	snprintf(buf, sl + 300, "%s/keys", s);
	plan_add(pl, buf, strlen(buf), "*", true);	/* a domain's directory created */
	/*
	 * The key directories of the policy's domains: keys/ listed once and each
	 * name looked up among the domains (not a stat per domain: 100,000 of
	 * them at every reload); one missing now is seen in keys/ when made.
	 */
	DIR *dir = opendir(buf);
	struct dirent *e;
	while (dir != NULL && pl->err == MN_OK && (e = readdir(dir)) != NULL) {
		const policy_domain_t *d = e->d_name[0] != '.' ? policy_domain_find(p, e->d_name) : NULL;
		if (d == NULL || strcmp(d->name, e->d_name) != 0)
			continue;	/* (the directory of a domain is its name as the policy has it) */
		snprintf(buf, sl + 300, "%s/keys/%s", s, e->d_name);
		/* (a symbolic link to a directory too, as stat() follows it) */
		if (e->d_type == DT_DIR || ((e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) && is_dir(buf)))
			plan_add(pl, buf, strlen(buf), "published", false);
	}
	if (dir != NULL)
		closedir(dir);
	/*
	 * DNSSEC key states (mailns keys rotate, keys/dnsroll.c): each zone's
	 * K.key files, in every directory of dnssec/.  Listed by keywatch.c's
	 * thread when it applies the plan (300,000 at 100,000 domains: 0.2 s of
	 * readdir, malloc and sorting, neither on the loop nor on the reload's
	 * thread), not here.
	 */
	snprintf(buf, sl + 300, "%s/dnssec", s);
	if (is_dir(buf) && (pl->kdroot = strdup(buf)) == NULL)
		pl->err = MN_ENOMEM;
	free(buf);
}

static int rule_cmp(const void *x, const void *y)
{
	const rule_t *a = x, *b = y;
	int c = strcmp(a->dir, b->dir);
	if (c == 0)
		c = strcmp(a->name, b->name);
	if (c == 0)
		c = (int)a->glob - (int)b->glob;
	return c;
}

/* Missing directories -> nearest existing ancestor; then sorted, without duplicates. */
static void plan_finish(srv_watchplan_t *pl)
{
	for (size_t i = 0; pl->err == MN_OK && i < pl->n; i++) {
		rule_t *r = &pl->v[i];
		if (is_dir(r->dir))
			continue;
		char *slash = strrchr(r->dir, '/');
		if (slash == NULL || slash[1] == '\0') {
			r->dir[0] = '\0';	/* dropped below */
			continue;
		}
		char *name = strdup(slash + 1);
		if (name == NULL) {
			pl->err = MN_ENOMEM;
			break;
		}
		slash[slash == r->dir ? 1 : 0] = '\0';	/* "/x" -> "/" */
		free(r->name);
		r->name = name;
		r->glob = false;
		i--;		/* check the parent too */
	}
	if (pl->n > 1)
		qsort(pl->v, pl->n, sizeof(*pl->v), rule_cmp);
	size_t k = 0;
	for (size_t i = 0; i < pl->n; i++) {
		rule_t *r = &pl->v[i];
		if (r->dir[0] == '\0' || (k > 0 && rule_cmp(&pl->v[k - 1], r) == 0)) {
			free(r->dir);
			free(r->name);
			continue;
		}
		pl->v[k++] = *r;
	}
	pl->n = k;
}

void srv_watch_plan_free(srv_watchplan_t *pl)
{
	if (pl == NULL)
		return;
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->v[i].dir);
		free(pl->v[i].name);
	}
	free(pl->v);
	free(pl->kdroot);
	free(pl);
}

bool srv_watch_plan_has(const srv_watchplan_t *pl, const char *dir, const char *name)
{
	for (size_t i = 0; pl != NULL && i < pl->n; i++)
		if (strcmp(pl->v[i].dir, dir) == 0 && strcmp(pl->v[i].name, name) == 0)
			return true;
	if (pl != NULL && pl->kdroot != NULL && strcmp(dir, pl->kdroot) == 0 &&
	    strcmp(name, SRV_WATCH_KEYDIRS) == 0)
		return true;
	return false;
}

size_t srv_watch_plan_count(const srv_watchplan_t *pl)
{
	return pl != NULL ? pl->n : 0;
}

int srv_watch_plan(const char *policy_path, const policy_t *p, srv_watchplan_t **out)
{
	if (policy_path == NULL || policy_path[0] != '/' || out == NULL)
		return MN_EINVAL;
	srv_watchplan_t *pl = calloc(1, sizeof(*pl));
	if (pl == NULL)
		return MN_ENOMEM;
	plan_add_path(pl, policy_path, false);
	if (p == NULL) {
		/* a failed load: the include patterns of the file as it is now (the set only grows) */
		policy_t *inc = NULL;
		int r = policy_includes_read(policy_path, &inc);
		if (r == MN_OK)
			plan_add_includes(pl, inc);
		else if (r == MN_ENOMEM)
			pl->err = r;
		policy_free(inc);
	} else {
		plan_add_includes(pl, p);
		for (size_t i = 0; i < p->nfiles; i++)
			if (p->files[i] != NULL && p->files[i][0] == '/')
				plan_add_path(pl, p->files[i], false);
		plan_add_state(pl, p);
	}
	plan_finish(pl);
	int r = pl->err;
	if (r < 0) {
		srv_watch_plan_free(pl);
		return r;
	}
	*out = pl;
	return MN_OK;
}

/* ---- events (loop thread) --------------------------------------------------------- */

static bool ignored(const char *name)
{
	return strcmp(name, "serials") == 0 || strstr(name, ".tmp.") != NULL;
}

static bool wanted(wdir_t *d, const char *name, int events)
{
	if (name == NULL || name[0] == '\0')
		return true;	/* no name (not inotify): assume it matters */
	const char *base = strrchr(d->dir, '/');
	if (base != NULL && strcmp(base + 1, name) == 0) {
		/* the directory itself (libuv names it so): deleted or moved */
		if (events & UV_RENAME)
			d->stale = true;
		return true;
	}
	if (ignored(name))
		return false;
	for (size_t i = 0; i < d->npats; i++) {
		const pat_t *p = &d->pats[i];
		if (p->glob ? fnmatch(p->name, name, FNM_PERIOD) == 0 : strcmp(p->name, name) == 0)
			return true;
	}
	return false;
}

static void on_timer(uv_timer_t *t)
{
	srv_watch_t *w = t->data;
	if (!w->closing)
		srv_reload_start(w->srv);
}

static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	srv_watch_t *w = h->data;
	wdir_t *d = (wdir_t *)h;
	if (w->closing || status < 0 || !wanted(d, name, events))
		return;
	if (!uv_is_active((uv_handle_t *)&w->timer))
		mn_log(MN_LOG_INFO, "%s/%s changed, reloading", d->dir, name != NULL ? name : "");
	uv_timer_start(&w->timer, on_timer, DEBOUNCE_MS, 0);
}

/* ---- watched set (loop thread) ---------------------------------------------------- */

static void pats_free(pat_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void wdir_closed(uv_handle_t *h)
{
	wdir_t *d = (wdir_t *)h;
	pats_free(d->pats, d->npats);
	free(d->dir);
	free(d);
}

/* Closes d's handle (memory freed in the close callback). */
static void wdir_close(wdir_t *d)
{
	uv_close((uv_handle_t *)&d->h, wdir_closed);
}

/* Moves the rules v[0..n) (one directory) into a pattern list; "*" alone when present. */
static int pats_take(rule_t *v, size_t n, pat_t **out, size_t *nout)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].glob && strcmp(v[i].name, "*") == 0) {
			v = &v[i];
			n = 1;
			break;
		}
	pat_t *p = malloc(n * sizeof(*p));
	if (p == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p[i].name = v[i].name;
		p[i].glob = v[i].glob;
		v[i].name = NULL;
	}
	*out = p;
	*nout = n;
	return MN_OK;
}

static void on_keydir_change(void *data, const char *dir, const char *name)
{
	srv_watch_t *w = data;
	if (w->closing)
		return;
	if (!uv_is_active((uv_handle_t *)&w->timer) && dir != NULL)
		mn_log(MN_LOG_INFO, "%s%s%s changed, reloading", dir, name != NULL ? "/" : "",
		       name != NULL ? name : "");
	uv_timer_start(&w->timer, on_timer, DEBOUNCE_MS, 0);
}

static void on_keydirs_added(void *data, size_t n)
{
	srv_watch_t *w = data;
	if (w->closing)
		return;
	/* what changed in them before their watch started: read once more */
	if (!uv_is_active((uv_handle_t *)&w->timer))
		mn_log(MN_LOG_INFO, "%zu key director%s watched anew, reloading once more", n,
		       n == 1 ? "y" : "ies");
	uv_timer_start(&w->timer, on_timer, DEBOUNCE_MS, 0);
}

/*
 * The key directories, every directory in root, to keywatch.c (after the
 * other watches: w->ndirs of them); root NULL: none (replace), or none added
 * (!replace).  again: not the start-up's.
 */
static void keydirs_apply(srv_watch_t *w, const char *root, bool replace, bool again)
{
	if (w->kw == NULL && root != NULL) {
		srv_keywatch_ops_t ops = { .changed = on_keydir_change, .added = on_keydirs_added, .data = w };
		int r = srv_keywatch_new(w->srv->loop, &ops, &w->kw);
		if (r < 0)
			mn_log(MN_LOG_WARNING, "cannot watch the DNSSEC key directories (%s); "
			       "they are looked at on each reload", mn_strerror(r));
	}
	if (w->kw == NULL || !replace)	/* (nothing to add: a failed reload's plan lists none) */
		return;
	if (root != NULL)
		srv_keywatch_list(w->kw, root, again, w->ndirs);
	else
		srv_keywatch_apply(w->kw, NULL, 0, true, again, w->ndirs);	/* (DNSSEC off: none) */
}

void srv_watch_apply(srv_t *srv, srv_watchplan_t *pl, bool replace)
{
	srv_watch_t *w = srv->watch;
	if (w == NULL || w->closing || pl == NULL) {
		srv_watch_plan_free(pl);
		return;
	}
	if (!replace) {	/* add only: the current rules join the plan */
		for (size_t i = 0; i < w->ndirs; i++) {
			const wdir_t *d = w->dirs[i];
			for (size_t j = 0; j < d->npats; j++)
				plan_add(pl, d->dir, strlen(d->dir), d->pats[j].name, d->pats[j].glob);
		}
		plan_finish(pl);
		if (pl->err < 0) {
			srv_watch_plan_free(pl);
			return;
		}
	}
	char *kdroot = pl->kdroot;	/* (taken) */
	pl->kdroot = NULL;
	size_t ngroups = 0;
	for (size_t i = 0; i < pl->n; i++)
		if (i == 0 || strcmp(pl->v[i - 1].dir, pl->v[i].dir) != 0)
			ngroups++;
	wdir_t **nv = calloc(ngroups ? ngroups : 1, sizeof(*nv));
	if (nv == NULL) {
		mn_log(MN_LOG_ERR, "cannot update the watched files (%s)", mn_strerror(MN_ENOMEM));
		srv_watch_plan_free(pl);
		keydirs_apply(w, kdroot, replace, w->applied);
		free(kdroot);
		return;
	}
	size_t k = 0, oi = 0, failed = 0, added = 0;
	int first_err = 0;
	const char *first_dir = NULL;
	for (size_t i = 0, j; i < pl->n; i = j) {
		for (j = i + 1; j < pl->n && strcmp(pl->v[j].dir, pl->v[i].dir) == 0; j++)
			;
		const char *dir = pl->v[i].dir;
		while (oi < w->ndirs && strcmp(w->dirs[oi]->dir, dir) < 0)
			wdir_close(w->dirs[oi++]);
		pat_t *pats;
		size_t npats;
		if (pats_take(&pl->v[i], j - i, &pats, &npats) < 0) {
			failed++;
			first_err = first_err ? first_err : MN_ENOMEM;
			continue;
		}
		wdir_t *same = oi < w->ndirs && strcmp(w->dirs[oi]->dir, dir) == 0 ? w->dirs[oi++] : NULL;
		if (same != NULL && same->stale) {
			wdir_close(same);	/* started anew below */
		} else if (same != NULL) {
			wdir_t *d = same;	/* still wanted: same handle, new names */
			pats_free(d->pats, d->npats);
			d->pats = pats;
			d->npats = npats;
			nv[k++] = d;
			continue;
		}
		wdir_t *d = calloc(1, sizeof(*d));
		char *dcopy = d != NULL ? strdup(dir) : NULL;
		if (dcopy == NULL) {
			free(d);
			pats_free(pats, npats);
			failed++;
			first_err = first_err ? first_err : MN_ENOMEM;
			continue;
		}
		d->dir = dcopy;
		d->pats = pats;
		d->npats = npats;
		uv_fs_event_init(srv->loop, &d->h);
		d->h.data = w;
		int r = uv_fs_event_start(&d->h, on_event, d->dir, 0);
		if (r < 0) {
			if (failed++ == 0) {
				first_err = r;
				first_dir = pl->v[i].dir;
				mn_log(MN_LOG_WARNING, "cannot watch %s (%s); SIGHUP still reloads",
				       first_dir, uv_strerror(r));
			}
			uv_close((uv_handle_t *)&d->h, wdir_closed);
			continue;
		}
		nv[k++] = d;
		added++;
	}
	while (oi < w->ndirs)
		wdir_close(w->dirs[oi++]);
	if (failed > 1)
		mn_log(MN_LOG_WARNING, "cannot watch %zu directories (first: %s)", failed,
		       first_err == MN_ENOMEM ? mn_strerror(first_err) : uv_strerror(first_err));
	free(w->dirs);
	w->dirs = nv;
	w->ndirs = k;
	srv_watch_plan_free(pl);
	/* the key directories after the others (which they never take the place of), off this thread */
	keydirs_apply(w, kdroot, replace, w->applied);
	free(kdroot);
	if (added > 0 && w->applied) {
		/* what changed in them before their watch started: read once more */
		if (!uv_is_active((uv_handle_t *)&w->timer))
			mn_log(MN_LOG_INFO, "%zu director%s watched anew, reloading once more", added,
			       added == 1 ? "y" : "ies");
		uv_timer_start(&w->timer, on_timer, DEBOUNCE_MS, 0);
	}
	w->applied = true;
}

void srv_watch_settled(srv_t *srv)
{
	srv_watch_t *w = srv->watch;
	if (w == NULL || w->closing)
		return;
	/* the key directories' events so far (a key written before a SIGHUP: its state dropped now) */
	srv_keywatch_drain(w->kw);
	if (uv_is_active((uv_handle_t *)&w->timer))
		uv_timer_stop(&w->timer);
}

size_t srv_watch_count(const srv_t *srv)
{
	return srv->watch != NULL ? srv->watch->ndirs : 0;
}

bool srv_watch_pending(const srv_t *srv)
{
	return srv->watch != NULL && uv_is_active((const uv_handle_t *)&srv->watch->timer);
}

size_t srv_watch_keydirs(const srv_t *srv)
{
	return srv->watch != NULL ? srv_keywatch_count(srv->watch->kw) : 0;
}

int srv_watch_start(srv_t *srv)
{
	srv_watch_t *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return MN_ENOMEM;
	w->srv = srv;
	int r = uv_timer_init(srv->loop, &w->timer);
	if (r < 0) {
		free(w);
		return r;
	}
	w->timer.data = w;
	srv->watch = w;
	return MN_OK;
}

static void timer_closed(uv_handle_t *h)
{
	srv_watch_t *w = h->data;
	free(w->dirs);
	free(w);
}

void srv_watch_close(srv_t *srv)
{
	srv_watch_t *w = srv->watch;
	if (w == NULL)
		return;
	srv->watch = NULL;
	w->closing = true;
	srv_keywatch_close(w->kw);	/* (waits for its thread; freed in its close callbacks) */
	w->kw = NULL;
	for (size_t i = 0; i < w->ndirs; i++)
		wdir_close(w->dirs[i]);
	w->ndirs = 0;
	uv_close((uv_handle_t *)&w->timer, timer_closed);
}
