/* SPDX-License-Identifier: GPL-3.0-or-later */
/* reload.c -- load and compile the policy; SIGHUP or a change reloads off the loop and hands the new set to every worker */
#include "server/srv.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "policy/mn.h"
#include "policy/pool.h"
#include "server/watch.h"
#include "server/worker.h"
#include "zones/compile.h"

enum {
	LOG_CHANGES_MAX = 20, LOG_DIAG_MAX = 20,
	RESIGN_CHECK_MAX = 3600,	/* s: the wall clock is looked at again at least this often */
	RESIGN_RETRY = 300,		/* s: after a failed reload while signatures are due */
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/*
 * srv_compile() for the generation after prev (NULL: none): when few zones
 * changed, the name table is prev's patched (zset_new_from).
 */
static int compile_from(const policy_t *p, compile_cache_t *cc, const zset_t *prev, diag_t *diag,
			zset_t **zset, srv_conf_t *conf, compile_stats_t *st)
{
	zones_t *zones = NULL;
	compile_opts_t opts = { .now = mn_now(), .persist_serials = true, .cache = cc, .stats = st };
	int r = zones_compile(p, &opts, diag, &zones);
	if (r < 0)
		return r;
	zset_t *zs = NULL;
	r = zset_new_from(prev, zones, &zs);	/* takes the zones */
	if (r < 0) {
		diag_error(diag, NULL, "cannot build the zone set (%s)", mn_strerror(r));
		return r;
	}
	const policy_server_t *s = &p->server;
	memset(conf, 0, sizeof(*conf));
	conf->tcp_idle_ms = s->tcp_idle_timeout.v * 1000u;	/* >= 1: schema min and default */
	conf->tcp_max_clients = s->tcp_max_clients.v;
	conf->tcp_max_per_ip = s->tcp_max_per_ip.v;
	conf->rate_limit = s->rate_limit.v;
	conf->rate_limit_slip = s->rate_limit_slip.v;	/* the schema default (2) when unset */
	conf->log_queries = s->log_queries.v;
	if (s->identity.v != NULL) {
		conf->has_identity = true;
		snprintf(conf->identity, sizeof(conf->identity), "%s", s->identity.v);
	}
	if (s->version.v != NULL) {
		conf->has_version = true;
		snprintf(conf->version, sizeof(conf->version), "%s", s->version.v);
	}
	if (s->cookie_secret.v != NULL && strlen(s->cookie_secret.v) == 32) {
		conf->has_secret = true;
		for (size_t i = 0; i < 16; i++)
			conf->secret[i] = (uint8_t)(hexval(s->cookie_secret.v[2 * i]) << 4 |
						    hexval(s->cookie_secret.v[2 * i + 1]));
	}
	*zset = zs;
	return MN_OK;
}

int srv_compile(const policy_t *p, compile_cache_t *cc, diag_t *diag, zset_t **zset,
		srv_conf_t *conf, compile_stats_t *st)
{
	return compile_from(p, cc, NULL, diag, zset, conf, st);
}

unsigned int srv_threads(const policy_t *p)
{
	if (POLICY_SET(p->server.threads))
		return p->server.threads.v;
	/* the CPUs this process may run on (taskset, a cgroup cpuset) */
	unsigned int n = mn_cpus();
	return n > SRV_THREADS_MAX ? SRV_THREADS_MAX : n;
}

/* ---- generations ---- */

int srv_gen_new(zset_t *zset, const srv_conf_t *conf, xfr_conf_t *xfr, uint64_t seq,
		srv_gen_t **out)
{
	srv_gen_t *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return MN_ENOMEM;
	g->refs = 1;
	g->seq = seq;
	g->zset = zset;
	g->conf = *conf;
	g->xfr = xfr;
	*out = g;
	return MN_OK;
}

srv_gen_t *srv_gen_ref(srv_gen_t *g)
{
	if (g != NULL)
		__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
	return g;
}

static void gen_free_work(uv_work_t *w)
{
	srv_gen_t *g = w->data;
	zset_unref(g->zset);
	xfr_conf_free(g->xfr);
	g->zset = NULL;
	g->xfr = NULL;
#ifdef __GLIBC__
	malloc_trim(0);	/* give the old set's memory back to the system */
#endif
}

static void gen_free_done(uv_work_t *w, int status)
{
	srv_gen_t *g = w->data;
	if (status < 0)
		gen_free_work(w);	/* cancelled: free here */
	free(g);
}

void srv_gen_unref(srv_gen_t *g, uv_loop_t *loop)
{
	if (g == NULL || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/*
	 * Freeing 300,000 zones and trimming the heap takes long enough to let
	 * a loop's socket buffers overflow under load: off the loop.
	 */
	g->work.data = g;
	if (loop != NULL && uv_queue_work(loop, &g->work, gen_free_work, gen_free_done) == 0)
		return;
	gen_free_work(&g->work);
	free(g);
}

/* ---- loading ---- */

/* srv_load() for the generation after prev (NULL: none). */
static int load_from(const char *path, policy_cache_t *pc, compile_cache_t *cc, const zset_t *prev,
		     diag_t *diag, zset_t **zset, srv_conf_t *conf, compile_stats_t *st,
		     size_t *ndomains, policy_t **policy)
{
	policy_t *p = NULL;
	int r = pc != NULL ? policy_load_cached(path, pc, diag, &p) : policy_load(path, diag, &p);
	if (r < 0)
		return r;
	r = compile_from(p, cc, prev, diag, zset, conf, st);
	if (r < 0)
		goto fail;
	*ndomains = p->ndomains;
	if (policy != NULL)
		*policy = p;
	else
		policy_free(p);
	return MN_OK;
fail:
	policy_free(p);
	return r;
}

int srv_load(const char *path, policy_cache_t *pc, compile_cache_t *cc, diag_t *diag,
	     zset_t **zset, srv_conf_t *conf, compile_stats_t *st, size_t *ndomains,
	     policy_t **policy)
{
	return load_from(path, pc, cc, NULL, diag, zset, conf, st, ndomains, policy);
}

/* One changed zone of cur (o: old's of its name, or NULL): logged while under the limit. */
static void log_change(const zone_t *z, const zone_t *o, size_t *logged)
{
	if ((*logged)++ >= LOG_CHANGES_MAX)
		return;
	if (o == NULL)
		mn_log(MN_LOG_INFO, "zone %s added (serial %u)", zone_name(z), zone_serial(z));
	else
		mn_log(MN_LOG_INFO, "zone %s serial %u -> %u", zone_name(z), zone_serial(o), zone_serial(z));
}

/*
 * srv_log_changes() from what the patch of old into cur noted: the zones
 * not taken from old and those gone, looked up by name (a few), none of the
 * others read.  False when cur was not patched from old.
 */
static bool log_patched(const zset_t *old, const zset_t *cur, size_t *logged, size_t *changes)
{
	const uint32_t *fresh = NULL, *gone = NULL;
	size_t nfresh = 0, ngone = 0;
	if (!zset_changes(cur, old, &fresh, &nfresh, &gone, &ngone))
		return false;
	const zones_t *a = zset_zones(old), *b = zset_zones(cur);
	for (size_t k = 0; k < nfresh; k++) {
		const zone_t *z = b->v[fresh[k]], *o = zones_find(a, zone_name(z));
		if (o != NULL && zone_serial(o) == zone_serial(z))
			continue;
		(*changes)++;
		log_change(z, o, logged);
	}
	for (size_t k = 0; k < ngone; k++) {
		const zone_t *o = a->v[gone[k]];
		if (zones_find(b, zone_name(o)) != NULL)
			continue;	/* (replaced: above) */
		(*changes)++;
		if ((*logged)++ < LOG_CHANGES_MAX)
			mn_log(MN_LOG_INFO, "zone %s removed", zone_name(o));
	}
	return true;
}

/* srv_log_changes() by a walk over both sets (the same zone objects matched without a read). */
static void log_walked(const zset_t *old, const zset_t *cur, size_t *logged, size_t *changes)
{
	const zones_t *a = zset_zones(old), *b = zset_zones(cur);
	zones_cursor_t ac = { .zs = a }, bc = { .zs = b };
	for (size_t i = 0; i < b->n; i++) {
		const zone_t *z = b->v[i];
		const zone_t *o = zones_match(&ac, z);
		/* (the same zone object: not read, 300,000 SOAs in cold memory) */
		if (o == z || (o != NULL && zone_serial(o) == zone_serial(z)))
			continue;
		(*changes)++;
		log_change(z, o, logged);
	}
	for (size_t i = 0; i < a->n; i++) {
		if (zones_match(&bc, a->v[i]) != NULL)
			continue;
		(*changes)++;
		if ((*logged)++ < LOG_CHANGES_MAX)
			mn_log(MN_LOG_INFO, "zone %s removed", zone_name(a->v[i]));
	}
}

void srv_log_changes(const zset_t *old, const zset_t *cur)
{
	size_t logged = 0, changes = 0;
	if (!log_patched(old, cur, &logged, &changes))
		log_walked(old, cur, &logged, &changes);
	if (changes > LOG_CHANGES_MAX)
		mn_log(MN_LOG_INFO, "%zu zone changes (%zu not logged)", changes,
		       changes - LOG_CHANGES_MAX);
}

static void reload_work(uv_work_t *w)
{
	srv_t *srv = w->data;
	srv_reload_t *rl = &srv->reload;
	rl->diag = NULL;
	if ((rl->err = diag_new(&rl->diag)) != MN_OK)
		return;
	policy_t *p = NULL;
	rl->stats = (compile_stats_t){ 0 };
	rl->err = load_from(srv->policy_path, srv->pcache, srv->ccache, rl->old, rl->diag, &rl->zset,
			    &rl->conf, &rl->stats, &rl->ndomains, &p);
	rl->files_reused = rl->err == MN_OK && srv->pcache != NULL ? policy_cache_reused(srv->pcache) : 0;
	if (rl->err == MN_OK) {
		rl->err = xfr_conf_new(p, rl->diag, &rl->xfr);
		if (rl->err < 0) {
			zset_unref(rl->zset);
			rl->zset = NULL;
		}
	}
	/* IXFR: the differences to the set serving now, journaled before the swap */
	if (rl->err == MN_OK && rl->old != NULL && rl->xfr->state_dir != NULL &&
	    (rl->xfr->nnets > 0 || rl->xfr->nkeys > 0)) {
		int r = xfr_journal_update(rl->xfr->state_dir, zset_zones(rl->old),
					   zset_zones(rl->zset));
		if (r < 0)
			mn_log(MN_LOG_WARNING, "cannot write the transfer journal (%s)",
			       mn_strerror(r));
	}
	/* the zones that changed, listed here: walking 300,000 zones would hold the loop */
	if (rl->err == MN_OK && rl->old != NULL)
		srv_log_changes(rl->old, rl->zset);
	rl->threads = rl->err == MN_OK ? srv_threads(p) : 0;
	/* per-domain values for the metrics (off the loop: it reads every key state) */
	rl->domstats = NULL;
	if (rl->err == MN_OK && srv->metrics_on &&
	    srv_domstats_new(p, &rl->domstats) < 0)
		mn_log(MN_LOG_WARNING, "cannot read the key states for the metrics");
	/* what to watch from now on (on failure: the include patterns, added) */
	rl->plan = NULL;
	(void)srv_watch_plan(srv->policy_path, p, &rl->plan);	/* NULL on failure: watch as before */
	policy_free(p);
}

/* "FILE:LINE:COL: error: msg; ..." of the errors only (warnings do not fail a reload). */
static char *errors_join(const diag_t *d)
{
	diag_t *e = NULL;
	if (diag_new(&e) != MN_OK)
		return NULL;
	for (size_t i = 0; i < diag_count(d); i++) {
		const diag_item_t *it = diag_get(d, i);
		if (it->level != DIAG_ERROR)
			continue;
		mn_pos_t pos = { .file = it->file, .line = it->line, .col = it->col };
		diag_add(e, DIAG_ERROR, it->file != NULL ? &pos : NULL, "%s", it->msg);
	}
	char *s = diag_join(e, LOG_DIAG_MAX);
	diag_free(e);
	return s;
}

static void reload_done(uv_work_t *w, int status)
{
	srv_t *srv = w->data;
	srv_reload_t *rl = &srv->reload;
	rl->running = false;
	srv_watchplan_t *plan = rl->plan;
	rl->plan = NULL;
	zset_unref(rl->old);	/* never the last reference: srv->gen holds one */
	rl->old = NULL;
	srv_domstats_t *domstats = rl->domstats;
	rl->domstats = NULL;
	srv_gen_t *g = NULL;
	bool handed = false;
	if (!srv->stopping && status >= 0 && rl->err == MN_OK) {
		rl->err = srv_gen_new(rl->zset, &rl->conf, rl->xfr, srv->gen->seq + 1, &g);
		if (rl->err == MN_OK)
			rl->zset = NULL, rl->xfr = NULL;	/* the generation's now */
	}
	if (!srv->stopping && status >= 0 && rl->err == MN_OK) {
		srv->resign_at = rl->stats.resign_at;
		srv_resign_arm(srv, 0);
	} else if (!srv->stopping && status >= 0) {
		srv_resign_arm(srv, RESIGN_RETRY);	/* (the signatures due are not refreshed yet) */
	}
	if (!srv->stopping && status >= 0) {
		srv->stats.last_reload_ok = rl->err == MN_OK;
		srv->stats.last_reload_time = (uint64_t)time(NULL);
		if (rl->err == MN_OK)
			srv->stats.reload_ok++;
		else
			srv->stats.reload_failed++;
	}
	if (srv->stopping || status < 0) {
		zset_unref(rl->zset);
		xfr_conf_free(rl->xfr);
		srv_watch_plan_free(plan);
		srv_domstats_unref(domstats);
	} else if (g != NULL) {
		xfr_notify_changes(srv->notify, g->xfr, zset_zones(srv->gen->zset),
				   zset_zones(g->zset));
		/*
		 * Every worker swaps its one pointer on its own thread (srv_workers_hand):
		 * a query sees the old generation or the new one, never a mix, and a
		 * worker never goes back to an older one.  The main loop's reference
		 * to the old one is dropped here; the last worker to let go of it
		 * frees it off its loop.
		 */
		srv_gen_t *old = srv->gen;
		srv->gen = g;
		srv->ndomains = rl->ndomains;
		if (domstats != NULL) {
			srv_domstats_unref(srv->domstats);
			srv->domstats = domstats;
		}
		if (rl->threads != 0 && rl->threads != srv->nworkers)
			mn_log(MN_LOG_WARNING,
			       "server.threads changed (%zu -> %u): restart mailnsd to apply it",
			       srv->nworkers, rl->threads);
		srv->handing = true;
		srv->handed_domains = rl->ndomains;
		srv->handed_stats = rl->stats;
		srv->handed_files = rl->files_reused;
		srv_workers_hand(srv);
		srv_gen_unref(old, srv->loop);
		srv_watch_apply(srv, plan, true);
		handed = srv_workers_took(srv);	/* logged below, once rl is cleared */
	} else {
		zset_unref(rl->zset);
		xfr_conf_free(rl->xfr);
		srv_domstats_unref(domstats);
		char *why = NULL;
		if (rl->diag != NULL) {
			diag_sort(rl->diag);
			why = errors_join(rl->diag);
		}
		mn_log(MN_LOG_ERR, "reload failed, keeping the current zones (%s)",
		       why != NULL && why[0] != '\0' ? why : mn_strerror(rl->err));
		free(why);
		srv_watch_apply(srv, plan, false);
	}
	rl->zset = NULL;
	rl->xfr = NULL;
	diag_free(rl->diag);
	rl->diag = NULL;
	/* it may start the next reload, whose work uses rl: not before rl is cleared */
	if (handed)
		srv_reload_handed(srv);
	if (rl->again && !srv->stopping && !srv->handing) {
		rl->again = false;
		srv_reload_start(srv);
	}
}

void srv_reload_handed(srv_t *srv)
{
	if (!srv->handing)
		return;
	srv->handing = false;
	char files[64] = "";
	if (srv->pcache != NULL)
		snprintf(files, sizeof(files), "; %zu included files unchanged", srv->handed_files);
	const compile_stats_t *st = &srv->handed_stats;
	char dnssec[96] = "";
	if (st->signed_zones + st->signed_reused > 0)
		snprintf(dnssec, sizeof(dnssec), "; DNSSEC: signed %zu zones, reused %zu", st->signed_zones,
			 st->signed_reused);
	mn_log(MN_LOG_NOTICE, "reloaded: %zu zones (%zu domains: %zu compiled, %zu unchanged%s%s)",
	       zset_zones(srv->gen->zset)->n, srv->handed_domains, st->compiled, st->reused, files, dnssec);
	srv_reload_t *rl = &srv->reload;
	if (rl->again && !srv->stopping && !rl->running) {
		rl->again = false;
		srv_reload_start(srv);
	}
}

/* ---- handing a generation to the workers ---- */

void srv_workers_hand(srv_t *srv)
{
	for (size_t i = 0; i < srv->nworkers; i++) {
		srv_worker_t *w = &srv->workers[i];
		if (w->loop == srv->loop) {
			/* the main loop's worker: at once */
			srv_gen_t *old = w->gen;
			w->gen = srv_gen_ref(srv->gen);
			if (w->gen->conf.has_secret)
				memcpy(w->secret, w->gen->conf.secret, sizeof(w->secret));
			__atomic_store_n(&w->served, w->gen->seq, __ATOMIC_RELEASE);
			srv_gen_unref(old, srv->loop);
			continue;
		}
		srv_gen_t *pending = NULL;
		uv_mutex_lock(&w->lock);
		if (!w->stop) {
			pending = w->next;	/* not taken yet: the newer one replaces it */
			w->next = srv_gen_ref(srv->gen);
			uv_async_send(&w->wake);
		}
		uv_mutex_unlock(&w->lock);
		srv_gen_unref(pending, srv->loop);
	}
}

bool srv_workers_took(const srv_t *srv)
{
	for (size_t i = 0; i < srv->nworkers; i++)
		if (__atomic_load_n(&srv->workers[i].served, __ATOMIC_ACQUIRE) != srv->gen->seq)
			return false;
	return true;
}

void srv_reload_start(srv_t *srv)
{
	srv_reload_t *rl = &srv->reload;
	if (srv->stopping)
		return;
	/* this reload (or the one queued) reads every file after the changes the watcher saw */
	srv_watch_settled(srv);
	if (rl->running || srv->handing) {
		/* one at a time: the next starts when every worker has the last one */
		rl->again = true;
		return;
	}
	rl->err = MN_OK;
	rl->zset = NULL;
	rl->diag = NULL;
	rl->plan = NULL;
	rl->xfr = NULL;
	rl->threads = 0;
	rl->old = zset_ref(srv->gen->zset);
	rl->work.data = srv;
	int r = uv_queue_work(srv->loop, &rl->work, reload_work, reload_done);
	if (r < 0) {
		zset_unref(rl->old);
		rl->old = NULL;
		mn_log(MN_LOG_ERR, "reload failed, keeping the current zones (%s)", uv_strerror(r));
		return;
	}
	rl->running = true;
	mn_log(MN_LOG_INFO, "reloading %s", srv->policy_path);
}

/* ---- the DNSSEC refresh timer ---- */

static void on_resign(uv_timer_t *t)
{
	srv_t *srv = t->data;
	if (srv->stopping || srv->resign_at == 0)
		return;
	if (mn_now() < srv->resign_at) {	/* woken to look at the clock again */
		srv_resign_arm(srv, 0);
		return;
	}
	mn_log(MN_LOG_INFO, "DNSSEC signatures need refresh: the policy is compiled again to sign them");
	srv_reload_start(srv);
}

void srv_resign_init(srv_t *srv)
{
	if (uv_timer_init(srv->loop, &srv->resign) < 0)
		return;
	srv->resign.data = srv;
	srv->resign_ready = true;
	srv_resign_arm(srv, 0);
}

void srv_resign_arm(srv_t *srv, uint64_t min_delay_s)
{
	if (!srv->resign_ready || srv->stopping)
		return;
	if (srv->resign_at == 0) {
		uv_timer_stop(&srv->resign);
		return;
	}
	/* due (or nearly): at once, but for a second of slack; never more than an hour without a look */
	time_t now = mn_now();
	uint64_t delay = srv->resign_at > now ? (uint64_t)(srv->resign_at - now) : 0;
	if (delay < 1)
		delay = 1;
	if (delay < min_delay_s)
		delay = min_delay_s;
	if (delay > RESIGN_CHECK_MAX)
		delay = RESIGN_CHECK_MAX;
	uv_timer_start(&srv->resign, on_resign, delay * 1000u, 0);
}
