/* SPDX-License-Identifier: GPL-3.0-or-later */
/* reload.c -- load and compile the policy; SIGHUP or a change reloads off the loop and swaps the zone set */
#include "server/srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "policy/mn.h"
#include "zones/compile.h"

enum { LOG_CHANGES_MAX = 20, LOG_DIAG_MAX = 20 };

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

int srv_compile(const policy_t *p, diag_t *diag, zset_t **zset, srv_conf_t *conf)
{
	zones_t *zones = NULL;
	compile_opts_t opts = { .now = mn_now(), .persist_serials = true };
	int r = zones_compile(p, &opts, diag, &zones);
	if (r < 0)
		return r;
	zset_t *zs = NULL;
	r = zset_new(zones, &zs);	/* takes the zones */
	if (r < 0) {
		diag_error(diag, NULL, "cannot build the zone set (%s)", mn_strerror(r));
		return r;
	}
	const policy_server_t *s = &p->server;
	memset(conf, 0, sizeof(*conf));
	conf->tcp_idle_ms = (s->tcp_idle_timeout.v ? s->tcp_idle_timeout.v : 10) * 1000u;
	conf->tcp_max_clients = s->tcp_max_clients.v ? s->tcp_max_clients.v : 1000;
	conf->tcp_max_per_ip = s->tcp_max_per_ip.v ? s->tcp_max_per_ip.v : 32;
	conf->rate_limit = s->rate_limit.v;
	conf->rate_limit_slip = POLICY_SET(s->rate_limit_slip) ? s->rate_limit_slip.v : 2;
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

int srv_load(const char *path, diag_t *diag, zset_t **zset, srv_conf_t *conf,
	     size_t *ndomains, policy_t **policy)
{
	policy_t *p = NULL;
	int r = policy_load(path, diag, &p);
	if (r < 0)
		return r;
	r = srv_compile(p, diag, zset, conf);
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

void srv_log_changes(const zset_t *old, const zset_t *cur)
{
	const zones_t *a = zset_zones(old), *b = zset_zones(cur);
	size_t logged = 0, changes = 0;
	for (size_t i = 0; i < b->n; i++) {
		const zone_t *z = b->v[i];
		const zone_t *o = zones_find(a, z->name);
		if (o != NULL && o->serial == z->serial)
			continue;
		changes++;
		if (logged++ >= LOG_CHANGES_MAX)
			continue;
		if (o == NULL)
			mn_log(MN_LOG_INFO, "zone %s added (serial %u)", z->name, z->serial);
		else
			mn_log(MN_LOG_INFO, "zone %s serial %u -> %u", z->name, o->serial, z->serial);
	}
	for (size_t i = 0; i < a->n; i++) {
		if (zones_find(b, a->v[i]->name) != NULL)
			continue;
		changes++;
		if (logged++ < LOG_CHANGES_MAX)
			mn_log(MN_LOG_INFO, "zone %s removed", a->v[i]->name);
	}
	if (changes > LOG_CHANGES_MAX)
		mn_log(MN_LOG_INFO, "%zu zone changes (%zu not logged)", changes,
		       changes - LOG_CHANGES_MAX);
}

static void reload_work(uv_work_t *w)
{
	srv_t *srv = w->data;
	srv_reload_t *rl = &srv->reload;
	rl->diag = diag_new();
	if (rl->diag == NULL) {
		rl->err = MN_ENOMEM;
		return;
	}
	policy_t *p = NULL;
	rl->err = srv_load(srv->policy_path, rl->diag, &rl->zset, &rl->conf, &rl->ndomains, &p);
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
	diag_t *e = diag_new();
	if (e == NULL)
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
	zset_unref(rl->old);
	rl->old = NULL;
	srv_domstats_t *domstats = rl->domstats;
	rl->domstats = NULL;
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
		srv_domstats_free(domstats);
	} else if (rl->err == MN_OK) {
		srv_log_changes(srv->zset, rl->zset);
		xfr_notify_changes(srv->notify, rl->xfr, zset_zones(srv->zset), zset_zones(rl->zset));
		xfr_conf_free(srv->xfr);
		srv->xfr = rl->xfr;
		/*
		 * The one pointer every query reads, swapped on the loop thread that
		 * answers: a query sees the old set or the new one, never a mix.
		 * (With several loop threads each would get the set by uv_async.)
		 */
		zset_t *old = srv->zset;
		srv->zset = rl->zset;
		srv->conf = rl->conf;
		if (srv->conf.has_secret)
			memcpy(srv->secret, srv->conf.secret, sizeof(srv->secret));
		/* else: the random secret of the start stays (cookies stay valid) */
		srv->ndomains = rl->ndomains;
		if (domstats != NULL) {
			srv_domstats_free(srv->domstats);
			srv->domstats = domstats;
		}
		zset_unref(old);
		srv_watch_apply(srv, plan, true);
#ifdef __GLIBC__
		malloc_trim(0);	/* give the old set's memory back to the system */
#endif
		mn_log(MN_LOG_NOTICE, "reloaded: %zu zones (%zu domains)",
		       zset_zones(srv->zset)->n, rl->ndomains);
	} else {
		xfr_conf_free(rl->xfr);
		srv_domstats_free(domstats);
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
	if (rl->again && !srv->stopping) {
		rl->again = false;
		srv_reload_start(srv);
	}
}

void srv_reload_start(srv_t *srv)
{
	srv_reload_t *rl = &srv->reload;
	if (srv->stopping)
		return;
	if (rl->running) {
		rl->again = true;
		return;
	}
	rl->err = MN_OK;
	rl->zset = NULL;
	rl->diag = NULL;
	rl->plan = NULL;
	rl->xfr = NULL;
	rl->old = zset_ref(srv->zset);
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
