/* SPDX-License-Identifier: GPL-3.0-or-later */
/* metrics.c -- server.metrics: Prometheus text over a minimal HTTP/1.x GET; long pages rendered off the loop */
#include "server/srv.h"
#include "server/worker.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/keystore.h"
#include "keys/rotate.h"
#include "policy/mn.h"
#include "zones/spfcache.h"

/*
 * GET /metrics answers the counters of srv->stats and the state of the zones;
 * ?serials=1 adds the SOA serial of every zone, ?domains=1 the days to each
 * domain's next key change and its SPF cache age (per-domain series are
 * opt-in: a provider may host 100,000 domains).  Anything else is 404 (405
 * for a method other than GET).  The connection is closed after the response.
 *
 * Nothing a client does holds the listener or the loop (worker 0 answers
 * queries on it):
 * - every connection has its own timer: the request (at most REQ_MAX bytes)
 *   must arrive within REQ_TIMEOUT_MS, the response be taken within
 *   WRITE_TIMEOUT_MS;
 * - at most CONNS_MAX connections; one more closes the oldest idle one (still
 *   reading its request, or lingering after its response) to make room, and
 *   is refused only when every slot is writing or rendering;
 * - the counters are rendered on the loop (cheap); the per-zone and
 *   per-domain lines off it (uv_queue_work, one render at a time) over a
 *   snapshot: a reference to the generation (its zone set is immutable) and
 *   to the domain values; at most BIG_MAX such responses exist at once (503
 *   beyond), which bounds their memory.
 */
enum {
	REQ_MAX = 4096, REQ_TIMEOUT_MS = 2000, WRITE_TIMEOUT_MS = 30000, LINGER_MS = 1000,
	CONNS_MAX = 64, BIG_MAX = 4,
	LISTEN_BACKLOG = 128,	/* a burst of connections waits for accept, not for SYN retries */
};

typedef struct mconn mconn_t;
typedef struct mjob mjob_t;

typedef enum { C_READING, C_RENDERING, C_WRITING, C_LINGER } cstate_t;

struct srv_metrics {
	uv_tcp_t handle;	/* handle.data = this */
	srv_t *srv;
	mconn_t *conns;		/* open connections (doubly linked), newest first */
	size_t nconns;
	size_t nbig;		/* connections rendering, waiting for or sending a long page */
	mjob_t *job;		/* the render running off the loop, or NULL */
	mjob_t *queue, *queue_tail;	/* renders waiting for it */
	bool closing, listener_closed;	/* freed when both are closed, nconns is 0, no job */
};

typedef struct text {
	char *s;
	size_t len, cap;
	bool oom;
} text_t;

/* A long page: rendered off the loop from what it holds references to. */
struct mjob {
	uv_work_t work;		/* work.data = this */
	srv_metrics_t *m;
	mconn_t *c;		/* NULL once the connection closed */
	srv_gen_t *gen;		/* one reference */
	srv_domstats_t *dom;	/* one reference, or NULL */
	bool serials, domains;
	text_t t;		/* the lines, written by the work callback */
	mjob_t *next;		/* in m->queue */
};

struct mconn {
	uv_tcp_t tcp;		/* tcp.data = timer.data = this */
	uv_timer_t timer;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	srv_metrics_t *m;
	cstate_t state;
	char req[REQ_MAX];
	size_t len;
	char *resp;		/* the head and the cheap lines */
	size_t resp_len;
	char *body;		/* the long lines (NULL: none) */
	size_t body_len;
	mjob_t *job;		/* while C_RENDERING */
	bool big;		/* counted in m->nbig */
	int handles;
	bool closing;
	mconn_t *prev, *next;
};

/* ---- per-domain values (computed at load, off the loop) ---- */

static void domstats_free(srv_domstats_t *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	free(d);
}

srv_domstats_t *srv_domstats_ref(srv_domstats_t *d)
{
	if (d != NULL)
		d->refs++;
	return d;
}

void srv_domstats_unref(srv_domstats_t *d)
{
	if (d != NULL && --d->refs == 0)
		domstats_free(d);
}

int srv_domstats_new(const policy_t *p, srv_domstats_t **out)
{
	srv_domstats_t *d = calloc(1, sizeof(*d));
	if (d == NULL || (p->ndomains > 0 && (d->v = calloc(p->ndomains, sizeof(*d->v))) == NULL)) {
		free(d);
		return MN_ENOMEM;
	}
	d->refs = 1;
	const char *state = p->server.state_dir.v;
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *dom = &p->domains[i];
		srv_domstat_t *e = &d->v[d->n];
		if ((e->name = strdup(dom->name)) == NULL) {
			domstats_free(d);
			return MN_ENOMEM;
		}
		d->n++;
		if (state == NULL)
			continue;
		keystore_key_t *keys = NULL;
		size_t n = 0;
		if (dom->dkim.present && keystore_state_load(state, dom->name, &keys, &n) == MN_OK) {
			rotate_policy_t pol;
			rotate_policy_from(&dom->dkim, &pol);
			for (size_t k = 0; k < n; k++) {
				if (keys[k].removed)
					continue;
				if ((unsigned)keys[k].phase < 4)
					d->phases[keys[k].phase]++;
				time_t t = rotate_key_next(&keys[k], keys, n, &pol, dom->name);
				if (t != 0 && (e->next_rotation == 0 || t < e->next_rotation))
					e->next_rotation = t;
			}
			keystore_keys_free(keys, n);
		}
		spfcache_t *c = NULL;
		if (dom->spf.present && spfcache_load(state, dom->name, &c) == MN_OK) {
			e->spf_resolved = c->resolved;
			spfcache_free(c);
		}
	}
	*out = d;
	return MN_OK;
}

/* ---- the text ---- */

static void add(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text_t *t, const char *fmt, ...)
{
	if (t->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)n + 1;
		char *s = realloc(t->s, cap);
		if (s == NULL) {
			t->oom = true;
			return;
		}
		t->s = s;
		t->cap = cap;
	}
}

/* A label value with \\, " and newline escaped (Prometheus text format). */
static const char *esc(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (; *in != '\0' && n + 3 < size; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n')
			out[n++] = '\\';
		out[n++] = *in == '\n' ? 'n' : *in;
	}
	out[n] = '\0';
	return out;
}

static void help(text_t *t, const char *name, const char *type, const char *what)
{
	add(t, "# HELP %s %s\n# TYPE %s %s\n", name, what, name, type);
}

static const char *const qtype_names[SRV_QTYPES] = { "A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT",
	"AAAA", "SRV", "SPF", "IXFR", "AXFR", "ANY", "other" };

static const char *rcode_label(int i)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
					     "REFUSED" };
	if (i < 6)
		return names[i];
	return i == 16 ? "BADVERS" : i == 23 ? "BADCOOKIE" : NULL;
}

/*
 * The query counters summed over the workers (each written by its own thread:
 * relaxed loads, a scrape may miss the queries of the last microseconds), the
 * reload counters of the main loop.
 */
static void stats_sum(const srv_t *srv, srv_stats_t *out)
{
	*out = srv->stats;
	for (size_t i = 0; i < srv->nworkers; i++) {
		const srv_stats_t *s = &srv->workers[i].stats;
		for (int k = 0; k < 2; k++)
			out->queries[k] += SRV_STAT_GET(s->queries[k]);
		for (int k = 0; k < SRV_QTYPES; k++)
			out->qtype[k] += SRV_STAT_GET(s->qtype[k]);
		for (int k = 0; k < SRV_RCODES; k++)
			out->rcode[k] += SRV_STAT_GET(s->rcode[k]);
		for (int k = 0; k < 4; k++)
			out->kind[k] += SRV_STAT_GET(s->kind[k]);
		out->truncated += SRV_STAT_GET(s->truncated);
		out->rl_dropped += SRV_STAT_GET(s->rl_dropped);
		out->rl_slipped += SRV_STAT_GET(s->rl_slipped);
		out->transfers += SRV_STAT_GET(s->transfers);
		out->cookies_bad += SRV_STAT_GET(s->cookies_bad);
		out->tcp_refused += SRV_STAT_GET(s->tcp_refused);
		out->udp_dropped += SRV_STAT_GET(s->udp_dropped);
	}
}

static bool text_init(text_t *t, size_t cap)
{
	*t = (text_t){ .cap = cap };
	if ((t->s = malloc(cap)) == NULL)
		return false;
	t->s[0] = '\0';
	return true;
}

/* The counters and gauges: on the loop (the same few lines whatever the number of domains). */
static void render_counters(const srv_t *srv, text_t *t)
{
	srv_stats_t sum;
	stats_sum(srv, &sum);
	const srv_stats_t *st = &sum;
	help(t, "mailns_queries_total", "counter", "DNS queries answered or dropped, by transport");
	add(t, "mailns_queries_total{transport=\"udp\"} %llu\n", (unsigned long long)st->queries[0]);
	add(t, "mailns_queries_total{transport=\"tcp\"} %llu\n", (unsigned long long)st->queries[1]);
	help(t, "mailns_responses_total", "counter", "responses sent, by rcode");
	for (int i = 0; i < SRV_RCODES; i++) {
		const char *n = rcode_label(i);
		if (n != NULL || st->rcode[i] != 0)
			add(t, "mailns_responses_total{rcode=\"%s%.0d\"} %llu\n", n != NULL ? n : "RCODE",
			    n != NULL ? 0 : i, (unsigned long long)st->rcode[i]);
	}
	help(t, "mailns_queries_by_type_total", "counter", "responses sent, by query type");
	for (int i = 0; i < SRV_QTYPES; i++)
		add(t, "mailns_queries_by_type_total{qtype=\"%s\"} %llu\n", qtype_names[i],
		    (unsigned long long)st->qtype[i]);
	help(t, "mailns_queries_by_zone_total", "counter",
	     "responses sent, by the kind of zone the name fell in");
	static const char *const kinds[4] = { "none", "dkim", "dmarc", "spf" };
	for (int i = 0; i < 4; i++)
		add(t, "mailns_queries_by_zone_total{kind=\"%s\"} %llu\n", kinds[i],
		    (unsigned long long)st->kind[i]);
	help(t, "mailns_truncated_total", "counter", "responses sent with TC set");
	add(t, "mailns_truncated_total %llu\n", (unsigned long long)st->truncated);
	help(t, "mailns_ratelimited_total", "counter", "UDP responses limited by server.rate_limit");
	add(t, "mailns_ratelimited_total{action=\"dropped\"} %llu\n", (unsigned long long)st->rl_dropped);
	add(t, "mailns_ratelimited_total{action=\"slipped\"} %llu\n", (unsigned long long)st->rl_slipped);
	help(t, "mailns_udp_dropped_total", "counter", "UDP responses dropped: the socket's send buffer was full");
	add(t, "mailns_udp_dropped_total %llu\n", (unsigned long long)st->udp_dropped);
	help(t, "mailns_badcookie_total", "counter", "BADCOOKIE responses");
	add(t, "mailns_badcookie_total %llu\n", (unsigned long long)st->cookies_bad);
	help(t, "mailns_reloads_total", "counter", "reloads, by result");
	add(t, "mailns_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)st->reload_ok);
	add(t, "mailns_reloads_total{result=\"failed\"} %llu\n", (unsigned long long)st->reload_failed);
	help(t, "mailns_last_reload_success", "gauge", "1 when the last load or reload succeeded");
	add(t, "mailns_last_reload_success %d\n", st->last_reload_ok ? 1 : 0);
	help(t, "mailns_last_reload_time_seconds", "gauge", "unix time of the last load or reload");
	add(t, "mailns_last_reload_time_seconds %llu\n", (unsigned long long)st->last_reload_time);
	help(t, "mailns_transfers_total", "counter", "zone transfers (AXFR, IXFR) served");
	add(t, "mailns_transfers_total %llu\n", (unsigned long long)st->transfers);
	const zones_t *zones = zset_zones(srv->gen->zset);
	help(t, "mailns_threads", "gauge", "loop threads answering queries");
	add(t, "mailns_threads %zu\n", srv->nworkers);
	help(t, "mailns_thread_queries_total", "counter", "DNS queries, by loop thread");
	for (size_t i = 0; i < srv->nworkers; i++) {
		const srv_stats_t *ws = &srv->workers[i].stats;
		add(t, "mailns_thread_queries_total{thread=\"%zu\"} %llu\n", i,
		    (unsigned long long)(SRV_STAT_GET(ws->queries[0]) + SRV_STAT_GET(ws->queries[1])));
	}
	help(t, "mailns_zones", "gauge", "zones served");
	add(t, "mailns_zones %zu\n", zones->n);
	help(t, "mailns_domains", "gauge", "domains in the policy");
	add(t, "mailns_domains %zu\n", srv->ndomains);
	const srv_domstats_t *d = srv->domstats;
	if (d != NULL) {
		static const char *const phases[4] = { "pending", "active", "retired", "revoked" };
		help(t, "mailns_dkim_keys", "gauge", "managed DKIM keys, by phase");
		for (int i = 0; i < 4; i++)
			add(t, "mailns_dkim_keys{phase=\"%s\"} %llu\n", phases[i],
			    (unsigned long long)d->phases[i]);
	}
}

/*
 * The per-zone and per-domain lines: off the loop (a line per zone, two per
 * domain: megabytes for 100,000 domains), reading only the immutable zones
 * and domain values the job holds references to.
 */
static void render_long(const zones_t *zones, const srv_domstats_t *d, bool serials, bool domains,
			text_t *t)
{
	char eb[1024];
	if (serials) {
		help(t, "mailns_zone_serial", "gauge", "SOA serial of each zone");
		for (size_t i = 0; i < zones->n; i++)
			add(t, "mailns_zone_serial{zone=\"%s\"} %u\n", esc(zone_name(zones->v[i]), eb, sizeof(eb)),
			    (unsigned)zone_serial(zones->v[i]));
	}
	if (domains && d != NULL) {
		time_t now = mn_now();
		help(t, "mailns_dkim_next_change_days", "gauge",
		     "days until the domain's next DKIM key phase change");
		for (size_t i = 0; i < d->n; i++)
			if (d->v[i].next_rotation != 0)
				add(t, "mailns_dkim_next_change_days{domain=\"%s\"} %.3f\n",
				    esc(d->v[i].name, eb, sizeof(eb)),
				    (double)(d->v[i].next_rotation - now) / 86400.0);
		help(t, "mailns_spf_cache_age_seconds", "gauge",
		     "seconds since the domain's SPF cache was computed (at the last reload)");
		for (size_t i = 0; i < d->n; i++)
			if (d->v[i].spf_resolved != 0)
				add(t, "mailns_spf_cache_age_seconds{domain=\"%s\"} %lld\n",
				    esc(d->v[i].name, eb, sizeof(eb)),
				    (long long)(now - d->v[i].spf_resolved));
	}
}

/* ---- HTTP ---- */

static void on_timeout(uv_timer_t *t);
static void start_next(srv_metrics_t *m);

static void metrics_maybe_free(srv_metrics_t *m)
{
	if (m->closing && m->listener_closed && m->nconns == 0 && m->job == NULL && m->queue == NULL)
		free(m);
}

/* The long page of c is sent or abandoned: its slot is free for another. */
static void big_release(mconn_t *c)
{
	if (c->big) {
		c->big = false;
		c->m->nbig--;
	}
}

static void mconn_free_cb(uv_handle_t *h)
{
	mconn_t *c = h->data;
	if (--c->handles == 0) {
		srv_metrics_t *m = c->m;
		m->nconns--;
		free(c->resp);
		free(c->body);
		free(c);
		metrics_maybe_free(m);
	}
}

static void mconn_close(mconn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	srv_metrics_t *m = c->m;
	if (c->job != NULL) {
		c->job->c = NULL;	/* it finishes (or leaves the queue) without us */
		c->job = NULL;
	}
	big_release(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (m->conns == c)
		m->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	uv_close((uv_handle_t *)&c->timer, mconn_free_cb);
	uv_close((uv_handle_t *)&c->tcp, mconn_free_cb);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	mconn_t *c = req->data;
	if (status < 0)
		mconn_close(c);
}

/*
 * The response is out: its memory goes back at once; FIN, then wait
 * (LINGER_MS at most) for the client to close, reading and discarding what it
 * still sends, so that no RST destroys the response before it is read.
 */
static void on_written(uv_write_t *req, int status)
{
	mconn_t *c = req->data;
	if (c->closing)
		return;
	free(c->resp);
	free(c->body);
	c->resp = c->body = NULL;
	big_release(c);
	c->state = C_LINGER;
	c->sreq.data = c;
	if (status < 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
		mconn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
}

/* Sends the HTTP head, c->resp and c->body (either may be empty); then closes. */
static void send_response(mconn_t *c, const char *status, const char *type, const char *extra)
{
	char head[256];
	int h = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
			 status, type, c->resp_len + c->body_len, extra);
	assert(h > 0 && (size_t)h < sizeof(head));	/* our own status, type and headers */
	/* the head goes in front of the cheap part (short), the long part is sent as it is */
	char *resp = malloc((size_t)h + c->resp_len);
	if (resp == NULL) {
		mconn_close(c);
		return;
	}
	memcpy(resp, head, (size_t)h);
	if (c->resp_len > 0)
		memcpy(resp + h, c->resp, c->resp_len);
	free(c->resp);
	c->resp = resp;
	c->resp_len += (size_t)h;
	c->state = C_WRITING;
	c->len = 0;	/* the request buffer now takes what the client still sends */
	uv_buf_t b[2] = { uv_buf_init(c->resp, (unsigned int)c->resp_len),
			  uv_buf_init(c->body, (unsigned int)c->body_len) };
	c->wreq.data = c;
	uv_timer_start(&c->timer, on_timeout, WRITE_TIMEOUT_MS, 0);
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, b, c->body != NULL ? 2 : 1, on_written) < 0)
		mconn_close(c);
}

static void respond_text(mconn_t *c, const char *status, const char *msg, const char *extra)
{
	free(c->resp);
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->resp_len = strlen(msg);
	if ((c->resp = strdup(msg)) == NULL) {
		mconn_close(c);
		return;
	}
	send_response(c, status, "text/plain; charset=utf-8", extra);
}

static const char *const PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/* ---- long pages off the loop ---- */

static void job_free(srv_metrics_t *m, mjob_t *j)
{
	srv_gen_unref(j->gen, m->srv->loop);
	srv_domstats_unref(j->dom);
	free(j->t.s);
	free(j);
}

static void job_work(uv_work_t *w)
{
	mjob_t *j = w->data;
	if (!text_init(&j->t, 65536))
		return;
	render_long(zset_zones(j->gen->zset), j->dom, j->serials, j->domains, &j->t);
}

static void job_done(uv_work_t *w, int status)
{
	mjob_t *j = w->data;
	srv_metrics_t *m = j->m;
	mconn_t *c = j->c;
	m->job = NULL;
	if (c != NULL) {
		c->job = NULL;
		if (status == 0 && j->t.s != NULL && !j->t.oom) {
			c->body = j->t.s;
			c->body_len = j->t.len;
			j->t.s = NULL;
			send_response(c, "200 OK", PROM_TYPE, "");
		} else {
			respond_text(c, "500 Internal Server Error", "out of memory\n", "");
		}
	}
	job_free(m, j);
	start_next(m);
	metrics_maybe_free(m);
}

/* Runs the next waiting render, one at a time (the thread pool also reloads). */
static void start_next(srv_metrics_t *m)
{
	while (m->job == NULL && m->queue != NULL) {
		mjob_t *j = m->queue;
		m->queue = j->next;
		if (m->queue == NULL)
			m->queue_tail = NULL;
		j->next = NULL;
		if (j->c == NULL || m->closing) {
			if (j->c != NULL)
				j->c->job = NULL;
			job_free(m, j);
			continue;
		}
		j->work.data = j;
		if (uv_queue_work(m->srv->loop, &j->work, job_work, job_done) < 0) {
			mconn_t *c = j->c;
			c->job = NULL;
			job_free(m, j);
			respond_text(c, "500 Internal Server Error", "cannot render\n", "");
			continue;
		}
		m->job = j;
	}
}

/* c asked for serials or domains: the counters now, the rest off the loop. */
static void render_later(mconn_t *c, bool serials, bool domains)
{
	srv_metrics_t *m = c->m;
	if (m->nbig >= BIG_MAX) {
		respond_text(c, "503 Service Unavailable", "busy with other long pages: retry\n",
			     "Retry-After: 1\r\n");
		return;
	}
	mjob_t *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		respond_text(c, "500 Internal Server Error", "out of memory\n", "");
		return;
	}
	j->m = m;
	j->c = c;
	j->gen = srv_gen_ref(m->srv->gen);
	j->dom = srv_domstats_ref(m->srv->domstats);
	j->serials = serials;
	j->domains = domains;
	c->job = j;
	c->big = true;
	m->nbig++;
	c->state = C_RENDERING;
	c->len = 0;
	uv_timer_stop(&c->timer);	/* the render is ours to bound, not the client's */
	if (m->queue_tail != NULL)
		m->queue_tail->next = j;
	else
		m->queue = j;
	m->queue_tail = j;
	start_next(m);
}

/* ---- requests ---- */

/* Does the query string q (after '?') hold NAME=1? */
static bool param(const char *q, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = q; p != NULL && *p != '\0'; p = strchr(p, '&'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '=' && p[n + 1] == '1' &&
		    (p[n + 2] == '\0' || p[n + 2] == '&'))
			return true;
	return false;
}

static void handle(mconn_t *c)
{
	/* "GET /metrics?serials=1 HTTP/1.1" */
	char *eol = strpbrk(c->req, "\r\n");
	if (eol != NULL)
		*eol = '\0';
	char *sp1 = strchr(c->req, ' ');
	char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		respond_text(c, "400 Bad Request", "bad request\n", "");
		return;
	}
	*sp1 = *sp2 = '\0';
	char *target = sp1 + 1;
	if (strcmp(c->req, "GET") != 0) {
		respond_text(c, "405 Method Not Allowed", "only GET\n", "");
		return;
	}
	char *query = strchr(target, '?');
	if (query != NULL)
		*query++ = '\0';
	if (strcmp(target, "/metrics") != 0) {
		respond_text(c, "404 Not Found", "not found: try /metrics\n", "");
		return;
	}
	const srv_t *srv = c->m->srv;
	bool serials = param(query, "serials");
	bool domains = param(query, "domains") && srv->domstats != NULL;
	text_t t;
	if (!text_init(&t, 8192)) {
		respond_text(c, "500 Internal Server Error", "out of memory\n", "");
		return;
	}
	render_counters(srv, &t);
	if (t.oom) {
		free(t.s);
		respond_text(c, "500 Internal Server Error", "out of memory\n", "");
		return;
	}
	c->resp = t.s;
	c->resp_len = t.len;
	if (serials || domains)
		render_later(c, serials, domains);
	else
		send_response(c, "200 OK", PROM_TYPE, "");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	mconn_t *c = h->data;
	buf->base = c->req + c->len;
	buf->len = sizeof(c->req) - 1 - c->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	mconn_t *c = s->data;
	if (c->closing)
		return;
	if (nread < 0) {
		/* a client that shuts down its side after the request still gets the response */
		if (nread == UV_EOF && (c->state == C_RENDERING || c->state == C_WRITING))
			uv_read_stop(s);
		else
			mconn_close(c);
		return;
	}
	if (c->state != C_READING) {
		c->len = 0;	/* after the request: discarded */
		return;
	}
	c->len += (size_t)nread;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL) {
		handle(c);
		return;
	}
	if (c->len >= sizeof(c->req) - 1)
		respond_text(c, "431 Request Header Fields Too Large", "request too large\n", "");
}

static void on_timeout(uv_timer_t *t)
{
	mconn_close(t->data);
}

/* The idle connection (reading its request, or lingering) accepted first, or NULL. */
static mconn_t *oldest_idle(srv_metrics_t *m)
{
	mconn_t *old = NULL;
	for (mconn_t *c = m->conns; c != NULL; c = c->next)	/* newest first */
		if (c->state == C_READING || c->state == C_LINGER)
			old = c;
	return old;
}

static void on_connection(uv_stream_t *server, int status)
{
	srv_metrics_t *m = server->data;
	if (status < 0)
		return;
	mconn_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->m = m;
	if (uv_tcp_init(m->srv->loop, &c->tcp) < 0) {
		free(c);
		return;
	}
	m->nconns++;
	c->tcp.data = c;
	c->handles = 1;
	bool room = true;
	size_t live = 0;
	for (mconn_t *o = m->conns; o != NULL; o = o->next)
		live++;
	if (live >= CONNS_MAX) {
		/* full: the oldest idle client makes room; refused only when all are busy */
		mconn_t *old = oldest_idle(m);
		if (old != NULL)
			mconn_close(old);
		else
			room = false;
	}
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || m->srv->stopping || !room) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, mconn_free_cb);
		return;
	}
	uv_timer_init(m->srv->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->state = C_READING;
	c->next = m->conns;
	if (m->conns != NULL)
		m->conns->prev = c;
	m->conns = c;
	uv_timer_start(&c->timer, on_timeout, REQ_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
		mconn_close(c);
}

static void on_listener_close(uv_handle_t *h)
{
	srv_metrics_t *m = h->data;
	m->listener_closed = true;
	metrics_maybe_free(m);
}

int srv_metrics_open(srv_t *srv, const char *addr)
{
	xfr_addr_t a;
	int r = xfr_addr_parse(addr, &a);
	if (r < 0)
		return r;
	srv_metrics_t *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return MN_ENOMEM;
	m->srv = srv;
	r = uv_tcp_init(srv->loop, &m->handle);
	if (r < 0) {
		free(m);
		return r;
	}
	m->handle.data = m;
	srv->metrics = m;	/* closed by srv_metrics_close from here on */
	unsigned int flags = a.sa.sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
	r = uv_tcp_bind(&m->handle, &a.sa, flags);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&m->handle, LISTEN_BACKLOG, on_connection);
	if (r < 0) {
		mn_log(MN_LOG_ERR, "cannot serve metrics on %s (%s)", addr, uv_strerror(r));
		return r;
	}
	mn_log(MN_LOG_INFO, "serving metrics on http://%s/metrics", addr);
	return MN_OK;
}

void srv_metrics_close(srv_t *srv)
{
	srv_metrics_t *m = srv->metrics;
	if (m == NULL)
		return;
	srv->metrics = NULL;
	m->closing = true;
	while (m->conns != NULL)
		mconn_close(m->conns);
	start_next(m);	/* frees the renders waiting; the running one ends in job_done */
	uv_close((uv_handle_t *)&m->handle, on_listener_close);
}
