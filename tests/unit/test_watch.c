/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_watch.c -- watch.c's plan and keywatch.c: the key directories of state_dir/dnssec, watched off the loop */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "policy/mn.h"
#include "policy/policy.h"
#include "server/keywatch.h"
#include "server/srv.h"
#include "server/watch.h"
#include "tests/tap/tap.h"
#include "zones/keydirs.h"

/* snprintf into array buf, bailing out when it does not fit */
#define PATH(buf, ...)                                                        \
	do {                                                                  \
		if (snprintf(buf, sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf)) \
			tap_bail("path too long");                            \
	} while (0)

static void mk(const char *dir, const char *name)
{
	char path[4096];
	PATH(path, "%s/%s", dir, name);
	if (mkdir(path, 0750) != 0)
		tap_bail("mkdir %s", path);
}

/* ---- keywatch.c: real inotify on a temporary state_dir ---- */

typedef struct rec {
	int changed;		/* ops.changed calls */
	int overflows;		/* of them with dir NULL */
	char dir[4096], name[256];	/* the last one's ("" for NULL) */
	size_t added;		/* sum of ops.added */
} rec_t;

static void rec_changed(void *data, const char *dir, const char *name)
{
	rec_t *r = data;
	r->changed++;
	r->overflows += dir == NULL;
	snprintf(r->dir, sizeof(r->dir), "%s", dir != NULL ? dir : "");
	snprintf(r->name, sizeof(r->name), "%s", name != NULL ? name : "");
}

static void rec_added(void *data, size_t n)
{
	((rec_t *)data)->added += n;
}

enum { NZ = 6 };
static char g_state[4096];
static uv_loop_t g_loop;
static rec_t g_rec;

static const char *zone(int i)
{
	static char z[NZ + 1][32];
	if (i == NZ)
		return "zlink";		/* a link to z0's directory */
	PATH(z[i], "z%d", i);
	return z[i];
}

/* The key directories of zones idx[0..n) (sorted, as a plan has them), malloc'ed for srv_keywatch_apply. */
static char **dirs(const int *idx, size_t n)
{
	char **v = malloc((n ? n : 1) * sizeof(*v));
	if (v == NULL)
		tap_bail("malloc");
	for (size_t i = 0; i < n; i++) {
		char p[4200];
		PATH(p, "%s/dnssec/%s", g_state, zone(idx[i]));
		if ((v[i] = strdup(p)) == NULL)
			tap_bail("strdup");
	}
	return v;
}

/* Runs the loop until the watcher is idle and (want_changed >= 0) that many changes were seen; 10 s at most. */
static bool settle(srv_keywatch_t *kw, int want_changed)
{
	for (int i = 0; i < 1000; i++) {
		uv_run(&g_loop, UV_RUN_NOWAIT);
		if (!srv_keywatch_busy(kw) && (want_changed < 0 || g_rec.changed >= want_changed)) {
			uv_run(&g_loop, UV_RUN_NOWAIT);	/* (the done notice) */
			return true;
		}
		usleep(10000);
	}
	return false;
}

static uint64_t watched(void)
{
	uint64_t w = 0, h = 0;
	keydirs_counts(&w, &h);
	return w;
}

/* A state kept for zone i (as the compile keeps one): true when the table holds it. */
static bool keep(int i)
{
	int64_t f[8] = { 1, 2, 3, 4, 5, 6, 7, -1 };
	uint64_t gen = 0;
	if (keydirs_get(g_state, zone(i), f, &gen))
		return true;
	keydirs_put(g_state, zone(i), gen, f);
	return keydirs_get(g_state, zone(i), f, &gen);
}

static bool kept(int i)
{
	int64_t f[8];
	uint64_t gen = 0;
	return keydirs_get(g_state, zone(i), f, &gen);
}

static void write_in(int i, const char *name)
{
	char p[4400];
	PATH(p, "%s/dnssec/%s/%s", g_state, zone(i), name);
	FILE *f = fopen(p, "w");
	if (f == NULL || fputs("x\n", f) < 0 || fclose(f) != 0)
		tap_bail("write %s", p);
}

static void test_keywatch(const char *tmp)
{
	char p[4400];
	PATH(g_state, "%s/kstate", tmp);
	mk(tmp, "kstate");
	mk(g_state, "dnssec");
	for (int i = 0; i < NZ; i++) {
		PATH(p, "%s/dnssec", g_state);
		mk(p, zone(i));
	}
	PATH(p, "%s/dnssec/%s", g_state, zone(NZ));
	if (symlink("z0", p) != 0)
		tap_bail("symlink");
	if (uv_loop_init(&g_loop) != 0)
		tap_bail("uv_loop_init");
	srv_keywatch_ops_t ops = { .changed = rec_changed, .added = rec_added, .data = &g_rec };
	srv_keywatch_t *kw = NULL;
	is_int(srv_keywatch_new(&g_loop, &ops, &kw), MN_OK, "a key-directory watcher");
	uint64_t w0 = watched();

	/* added by its thread: srv_keywatch_apply returns at once */
	static const int first[] = { 0, 1, 2, 3, 4 };
	srv_keywatch_apply(kw, dirs(first, 5), 5, true, false, 0);
	ok(settle(kw, -1), "the apply done");
	is_int((long long)srv_keywatch_count(kw), 5, "5 directories watched");
	is_int((long long)(watched() - w0), 5, "each keydirs_watch()ed (its state can be kept)");
	is_int((long long)g_rec.added, 0, "the first apply (again false) reports nothing");

	/* an event in one directory: its state dropped, the others' kept; a "*.key": a reload */
	ok(keep(0) && keep(1), "states kept for z0 and z1");
	write_in(0, "Kz0.+013+00001.key");
	ok(settle(kw, 1), "the change seen on the loop");
	PATH(p, "%s/dnssec/z0", g_state);
	is_str(g_rec.dir, p, "in z0's directory");
	is_str(g_rec.name, "Kz0.+013+00001.key", "the key's name");
	ok(!kept(0), "z0's state dropped");
	ok(kept(1), "z1's kept");

	/* read at once by a drain (a SIGHUP's reload): no loop turn needed */
	ok(keep(1) && keep(2), "states kept for z1 and z2");
	int c0 = g_rec.changed;
	write_in(1, "Kz1.key.tmp.123");	/* (a writer's temporary: no reload, its state still dropped) */
	write_in(2, "Kz2.+013+00002.key");
	srv_keywatch_drain(kw);
	ok(!kept(1) && !kept(2), "both states dropped by the drain, before any loop turn");
	is_int(g_rec.changed, c0 + 1, "one change reported");
	is_str(g_rec.name, "Kz2.+013+00002.key", "the key, not the temporary");

	/* the directory itself removed: no longer watched */
	PATH(p, "%s/dnssec/z4", g_state);
	if (rmdir(p) != 0)
		tap_bail("rmdir");
	c0 = g_rec.changed;
	ok(settle(kw, c0 + 1), "its removal seen");
	is_str(g_rec.dir, p, "z4 itself");
	is_str(g_rec.name, "", "(no name: the directory)");
	is_int((long long)srv_keywatch_count(kw), 4, "4 watched");
	is_int((long long)(watched() - w0), 4, "z4 no longer keydirs_watch()ed");

	/* the kernel's queue overflowed: every state dropped, a reload asked */
	ok(keep(0) && keep(1) && keep(3), "states kept");
	static const char *const zs[] = { "z0", "z1", "z3" };
	uint64_t seq = keydirs_seq(g_state, zs, 3);
	ok(seq != 0 && keydirs_unchanged(g_state, zs, 3, seq), "unchanged since a number");
	c0 = g_rec.changed;
	srv_keywatch_overflow(kw);
	ok(!kept(0) && !kept(1) && !kept(3), "an overflow: every state dropped");
	ok(!keydirs_unchanged(g_state, zs, 3, seq), "and changed since the number");
	is_int(g_rec.overflows, 1, "a reload asked (no directory named)");
	is_int((long long)(watched() - w0), 4, "still watched");
	ok(keep(0) && kept(0), "a state kept again after it");

	/* replaced by fewer, then more with again: the new ones reported */
	static const int two[] = { 0, 1 }, four[] = { 0, 1, 2, 3 };
	srv_keywatch_apply(kw, dirs(two, 2), 2, true, true, 0);
	ok(settle(kw, -1), "replaced by 2");
	is_int((long long)srv_keywatch_count(kw), 2, "2 watched");
	is_int((long long)(watched() - w0), 2, "the others no longer keydirs_watch()ed");
	srv_keywatch_apply(kw, dirs(four, 4), 4, true, true, 0);
	ok(settle(kw, -1), "replaced by 4");
	is_int((long long)g_rec.added, 2, "2 watched anew reported (again)");
	/* added only (a failed reload's plan): nothing stops */
	static const int five[] = { 5 };
	srv_keywatch_apply(kw, dirs(five, 1), 1, false, false, 0);
	ok(settle(kw, -1), "z5 added");
	is_int((long long)srv_keywatch_count(kw), 5, "5 watched: none stopped");

	/* one directory under two paths: one watch, an event drops both states */
	static const int linked[] = { 0, 1, 2, 3, 5, NZ };
	srv_keywatch_apply(kw, dirs(linked, 6), 6, true, false, 0);
	ok(settle(kw, -1), "z0 under a second path");
	is_int((long long)srv_keywatch_count(kw), 5, "still 5 watches (the link's is z0's)");
	is_int((long long)(watched() - w0), 6, "6 directories keydirs_watch()ed");
	ok(keep(0) && keep(NZ), "states kept for both paths");
	c0 = g_rec.changed;
	write_in(0, "Kz0.+013+00003.key");
	ok(settle(kw, c0 + 1), "the change seen");
	ok(!kept(0) && !kept(NZ), "both paths' states dropped");
	static const int nolink[] = { 0, 1, 2, 3, 5 };
	srv_keywatch_apply(kw, dirs(nolink, 5), 5, true, false, 0);
	ok(settle(kw, -1), "the link's path dropped");
	ok(keep(0), "z0 still watched (its watch kept for it)");
	c0 = g_rec.changed;
	write_in(0, "Kz0.+013+00004.key");
	ok(settle(kw, c0 + 1) && !kept(0), "and its events still seen");

	/* closed: every directory unwatched, the loop closes cleanly */
	srv_keywatch_close(kw);
	is_int((long long)(watched() - w0), 0, "closed: nothing keydirs_watch()ed");
	uv_run(&g_loop, UV_RUN_DEFAULT);

	/* a cap below the directories: that many watched, one warning, the rest on the next apply */
	kw = NULL;
	is_int(srv_keywatch_new(&g_loop, &ops, &kw), MN_OK, "another watcher");
	srv_keywatch_set_cap(kw, 2);
	char log[4200];
	PATH(log, "%s/stderr.log", tmp);
	int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600), saved = dup(2);
	if (lfd < 0 || saved < 0 || dup2(lfd, 2) < 0)
		tap_bail("stderr");
	mn_log_init("test_watch", true, MN_LOG_INFO);
	srv_keywatch_apply(kw, dirs(nolink, 5), 5, true, false, 0);
	bool done = settle(kw, -1);
	srv_keywatch_apply(kw, dirs(nolink, 5), 5, true, false, 0);	/* the same: no second warning */
	done = settle(kw, -1) && done;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(lfd);
	ok(done, "capped applies done");
	is_int((long long)srv_keywatch_count(kw), 2, "a cap of 2: 2 watched");
	is_int((long long)(watched() - w0), 2, "2 keydirs_watch()ed (the others looked at every time)");
	FILE *f = fopen(log, "r");
	char line[1024];
	int warnings = 0, timings = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		warnings += strstr(line, "not watching 3 of 5 DNSSEC key directories") != NULL &&
			    strstr(line, "fs.inotify.max_user_watches") != NULL;
		timings += strstr(line, "watching 2 key directories took") != NULL;
	}
	if (f != NULL)
		fclose(f);
	is_int(warnings, 1, "one warning, naming the count and the sysctl");
	is_int(timings, 1, "the time the adds took, logged once");
	srv_keywatch_set_cap(kw, SIZE_MAX);
	srv_keywatch_apply(kw, dirs(nolink, 5), 5, true, false, 0);
	ok(settle(kw, -1), "the cap lifted");
	is_int((long long)srv_keywatch_count(kw), 5, "the rest watched by the next apply");
	srv_keywatch_close(kw);
	uv_run(&g_loop, UV_RUN_DEFAULT);
	is_int(uv_loop_close(&g_loop), 0, "the loop closes cleanly (every handle freed)");
}

/*
 * watch.c with a server's loop: the plan's key directories go to keywatch.c
 * (watched off the loop), a reload's start (srv_watch_settled) reads their
 * pending events at once, and closing frees everything.
 */
static void test_srv_watch(const char *tmp, const char *policy)
{
	char state[4200], dir[4300];
	PATH(state, "%s/state", tmp);
	policy_t p;
	memset(&p, 0, sizeof(p));
	p.server.state_dir.v = state;
	uv_loop_t loop;
	if (uv_loop_init(&loop) != 0)
		tap_bail("uv_loop_init");
	srv_t srv;
	memset(&srv, 0, sizeof(srv));
	srv.loop = &loop;
	srv.stopping = true;	/* (a debounced reload would find no zones: none starts) */
	is_int(srv_watch_start(&srv), MN_OK, "srv: the watcher");
	srv_watchplan_t *pl = NULL;
	is_int(srv_watch_plan(policy, &p, &pl), MN_OK, "srv: a plan");
	uint64_t w0 = watched();
	srv_watch_apply(&srv, pl, true);
	is_int((long long)srv_watch_count(&srv), 2, "srv: the policy's and state_dir's directories watched at once");
	size_t n = 0;
	for (int i = 0; i < 1000 && (n = srv_watch_keydirs(&srv)) < 4; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	is_int((long long)n, 4, "srv: the 4 key directories watched by the key thread");
	is_int((long long)(watched() - w0), 4, "srv: and keydirs_watch()ed");
	/* which: the plain ones and a link to a directory; no dot name, file or dangling link */
	static const char *const zones[] = { "_dmarc.a.example", "_spf.a.example", "_domainkey.a.example",
					     "_dmarc.b.example" };
	static const char *const not[] = { ".hidden", ".signed-zones", "junk", "dangling" };
	int found = 0, others = 0;
	for (size_t i = 0; i < 4; i++) {
		int64_t f0[8];
		uint64_t g0 = 0, g1 = 0;
		(void)keydirs_get(state, zones[i], f0, &g0);
		(void)keydirs_get(state, not[i], f0, &g1);
		found += g0 != 0;	/* (a ticket: watched) */
		others += g1 != 0;
	}
	is_int(found, 4, "srv: each zone's key directory watched (a linked one too)");
	is_int(others, 0, "srv: no dot name, file or dangling link");
	PATH(dir, "%s/dnssec/_dmarc.b.example/Kb.+013+00001.key", state);
	int64_t f[8] = { 1, 2, 3, 4, 5, 6, 7, -1 };
	uint64_t gen = 0;
	(void)keydirs_get(state, "_dmarc.b.example", f, &gen);
	keydirs_put(state, "_dmarc.b.example", gen, f);
	ok(keydirs_get(state, "_dmarc.b.example", f, &gen), "srv: a state kept");
	FILE *kf = fopen(dir, "w");
	if (kf == NULL || fclose(kf) != 0)
		tap_bail("write %s", dir);
	srv_watch_settled(&srv);	/* (what srv_reload_start does first: a SIGHUP's reload) */
	ok(!keydirs_get(state, "_dmarc.b.example", f, &gen),
	   "srv: a reload's start read the key written before it (no loop turn between)");
	/* a zone directory made later: the next plan's apply (a reload's) watches it, and reloads once more */
	PATH(dir, "%s/dnssec", state);
	mk(dir, "_dmarc.c.example");
	pl = NULL;
	is_int(srv_watch_plan(policy, &p, &pl), MN_OK, "srv: the plan again");
	srv_watch_apply(&srv, pl, true);
	for (int i = 0; i < 1000 && (n = srv_watch_keydirs(&srv)) < 5; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	is_int((long long)n, 5, "srv: the new key directory watched");
	for (int i = 0; i < 1000 && !srv_watch_pending(&srv); i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	ok(srv_watch_pending(&srv), "srv: and a reload once more pending (it may have changed before its watch)");
	srv_watch_close(&srv);
	is_int((long long)(watched() - w0), 0, "srv: closed, nothing keydirs_watch()ed");
	uv_run(&loop, UV_RUN_DEFAULT);
	is_int(uv_loop_close(&loop), 0, "srv: the loop closes cleanly");
}

/* keydirs_event_all() alone: every state dropped, tickets handed out before keep nothing. */
static void test_event_all(const char *tmp)
{
	char state[4200], dir[4300];
	PATH(state, "%s/estate", tmp);
	PATH(dir, "%s/dnssec/za", state);
	keydirs_watch(dir, true);
	int64_t f[8] = { 9, 9, 9, 9, 9, 9, 9, -1 };
	uint64_t gen = 0, gen2 = 0;
	ok(!keydirs_get(state, "za", f, &gen) && gen != 0, "a ticket");
	keydirs_put(state, "za", gen, f);
	ok(keydirs_get(state, "za", f, &gen2), "kept");
	uint64_t gen3 = 0;
	keydirs_event(dir);
	ok(!keydirs_get(state, "za", f, &gen3) && gen3 != 0, "an event: a new ticket");
	keydirs_event_all();
	keydirs_put(state, "za", gen3, f);
	ok(!keydirs_get(state, "za", f, &gen), "event_all after the ticket: nothing kept");
	keydirs_put(state, "za", gen, f);
	ok(keydirs_get(state, "za", f, &gen2), "a ticket after it keeps");
	keydirs_watch(dir, false);
}

int main(void)
{
	char tmp[] = "/tmp/mailns-test-watch.XXXXXX", dnssec[4096], path[4096], policy[4096];
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	PATH(dnssec, "%s/state/dnssec", tmp);
	mk(tmp, "state");
	mk(tmp, "state/dnssec");
	mk(tmp, "elsewhere");
	/* zones' key directories: two plain, one a link to a directory (stat follows it) */
	mk(dnssec, "_dmarc.a.example");
	mk(dnssec, "_spf.a.example");
	PATH(path, "%s/_domainkey.a.example", dnssec);
	char target[4096];
	PATH(target, "%s/elsewhere", tmp);
	if (symlink(target, path) != 0)
		tap_bail("symlink");
	/* not zones: a dot directory, a file (the store is one), a link to nothing */
	mk(dnssec, ".hidden");
	PATH(path, "%s/.signed-zones", dnssec);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		tap_bail("fopen");
	fclose(f);
	PATH(path, "%s/junk", dnssec);
	if ((f = fopen(path, "w")) == NULL)
		tap_bail("fopen");
	fclose(f);
	PATH(path, "%s/dangling", dnssec);
	if (symlink("/nonexistent/mailns-test", path) != 0)
		tap_bail("symlink");

	policy_t p;
	memset(&p, 0, sizeof(p));
	PATH(path, "%s/state", tmp);
	p.server.state_dir.v = path;
	PATH(policy, "%s/policy.yaml", tmp);
	srv_watchplan_t *pl = NULL;
	is_int(srv_watch_plan(policy, &p, &pl), MN_OK, "a plan");
	/* (which directories of dnssec/: the key thread lists them, test_srv_watch) */
	ok(srv_watch_plan_has(pl, dnssec, SRV_WATCH_KEYDIRS), "every directory of dnssec/ watched for *.key");
	PATH(path, "%s/_dmarc.a.example", dnssec);
	ok(!srv_watch_plan_has(pl, path, "*.key"), "not listed in the plan (listed by the key thread)");
	srv_watch_plan_free(pl);
	mk(dnssec, "_dmarc.b.example");

	test_srv_watch(tmp, policy);
	test_keywatch(tmp);
	test_event_all(tmp);

	char cmd[4200];
	PATH(cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
	return tap_done();
}
