/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c -- mailnsd: options, startup, loop threads and their listeners, signals, clean stop */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/mn.h"
#include "server/priv.h"
#include "server/rrl.h"
#include "server/srv.h"
#include "server/watch.h"
#include "server/worker.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailnsd [-c POLICY] [-f]\n"
		"  -c, --config POLICY  the policy file (default $MAILNS_POLICY, then\n"
		"                       " MN_POLICY_PATH ")\n"
		"  -f, --foreground     stay in the foreground, log to stderr\n"
		"  -h, --help           this help\n"
		"  -V, --version        the version\n"
		"A change to the policy, its included files, the key store or the SPF\n"
		"cache reloads by itself, as SIGHUP does; SIGTERM and SIGINT stop.\n");
}

/*
 * Fixed malloc thresholds instead of glibc's sliding ones.  By default the
 * first large buffer freed (a reload's name table, a file read whole) raises
 * the mmap threshold up to 32 MB and the trim threshold to twice that: later
 * large buffers then come from the heaps, and a thread arena's free top is
 * never given back (malloc_trim trims only the main heap's top).  At 10,000
 * domains the resident size grew 30-50 % over the first reloads and swung by
 * 25 % from one to the next; with the thresholds fixed it stays within 1-3 %
 * (bench/soak.sh).  MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES in the
 * environment leave the choice to whoever set them.
 */
enum { MMAP_THRESHOLD = 256 * 1024 };	/* above a zone slab's aligned request (2 x 64 KiB) */

static void malloc_steady(void)
{
#ifdef __GLIBC__
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL && getenv("GLIBC_TUNABLES") == NULL)
		(void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}

/* ---- loop threads ---- */

/* Closes the handles of w and lets go of its generations (on w's thread). */
static void worker_close(srv_worker_t *w)
{
	w->stopping = true;
	srv_udp_close_all(w);
	srv_tcp_close_all(w);
	if (w->wake_ready && !uv_is_closing((uv_handle_t *)&w->wake))
		uv_close((uv_handle_t *)&w->wake, NULL);
	uv_mutex_lock(&w->lock);
	srv_gen_t *next = w->next;
	w->next = NULL;
	uv_mutex_unlock(&w->lock);
	srv_gen_unref(next, w->loop);
	srv_gen_unref(w->gen, w->loop);
	w->gen = NULL;
}

/*
 * The mailbox of a worker thread: a new generation (take it, tell the main
 * loop), or stop.  The main loop sends under w->lock and sets stop under it,
 * and this answers under it: no uv_async_send reaches a closed handle.
 */
static void on_wake(uv_async_t *a)
{
	srv_worker_t *w = a->data;
	srv_gen_t *old = NULL;
	uv_mutex_lock(&w->lock);
	bool stop = w->stop;
	srv_gen_t *g = w->next;
	w->next = NULL;
	if (g != NULL && !stop) {
		old = w->gen;
		w->gen = g;
		g = NULL;
		if (w->gen->conf.has_secret)
			memcpy(w->secret, w->gen->conf.secret, sizeof(w->secret));
		__atomic_store_n(&w->served, w->gen->seq, __ATOMIC_RELEASE);
		uv_async_send(&w->srv->acked);
	}
	uv_mutex_unlock(&w->lock);
	srv_gen_unref(g, w->loop);
	srv_gen_unref(old, w->loop);
	if (stop)
		worker_close(w);
}

/* A worker took a generation: when all have, the reload is complete. */
static void on_acked(uv_async_t *a)
{
	srv_t *srv = a->data;
	if (srv->handing && srv_workers_took(srv))
		srv_reload_handed(srv);
}

static void worker_run(void *arg)
{
	srv_worker_t *w = arg;
	uv_run(w->loop, UV_RUN_DEFAULT);
	w->close_rc = uv_loop_close(w->loop);
}

/* Sets up n workers (worker 0 on the main loop); their sockets are opened later. */
static int workers_new(srv_t *srv, size_t n)
{
	srv->workers = calloc(n, sizeof(*srv->workers));
	if (srv->workers == NULL)
		return MN_ENOMEM;
	srv->nworkers = n;
	for (size_t i = 0; i < n; i++) {
		srv_worker_t *w = &srv->workers[i];
		w->srv = srv;
		w->id = (unsigned int)i;
		w->loop = srv->loop;
		if (uv_mutex_init(&w->lock) < 0)
			return MN_ENOMEM;
		if (i > 0) {
			int r = uv_loop_init(&w->own);
			if (r < 0)
				return r;
			w->loop = &w->own;
			w->loop_ready = true;
			r = uv_async_init(w->loop, &w->wake, on_wake);
			if (r < 0)
				return r;
			w->wake.data = w;
			w->wake_ready = true;
		}
	}
	return srv_rrl_new(SRV_RRL_BUCKETS, &srv->rrl);	/* one table for every worker */
}

/*
 * After the main loop has stopped: joins the threads; the loops of workers
 * whose thread never started are run here to their end.  Returns 0 when every
 * loop closed cleanly.
 */
static int workers_free(srv_t *srv)
{
	int rc = 0;
	for (size_t i = 0; i < srv->nworkers; i++) {
		srv_worker_t *w = &srv->workers[i];
		if (w->started) {
			uv_thread_join(&w->thread);
		} else if (w->loop_ready) {
			uv_run(w->loop, UV_RUN_DEFAULT);
			w->close_rc = uv_loop_close(w->loop);
		}
		if (w->loop_ready && w->close_rc != 0) {
			mn_log(MN_LOG_ERR, "event loop of thread %u not closed cleanly (%s)", w->id,
			       uv_strerror(w->close_rc));
			rc = 1;
		}
		uv_mutex_destroy(&w->lock);
	}
	srv_rrl_free(srv->rrl);
	srv->rrl = NULL;
	free(srv->workers);
	srv->workers = NULL;
	srv->nworkers = 0;
	return rc;
}

/* Closes every handle; uv_run() then returns once pending work is done. */
static void stop(srv_t *srv)
{
	srv->stopping = true;
	srv_watch_close(srv);
	srv_metrics_close(srv);
	xfr_notify_close(srv->notify);
	srv->notify = NULL;
	for (size_t i = 0; i < srv->nworkers; i++) {
		srv_worker_t *w = &srv->workers[i];
		if (!w->started) {
			worker_close(w);	/* the main loop's, or a thread that never ran */
			continue;
		}
		uv_mutex_lock(&w->lock);
		w->stop = true;
		uv_async_send(&w->wake);
		uv_mutex_unlock(&w->lock);
	}
	if (srv->acked_ready)
		uv_close((uv_handle_t *)&srv->acked, NULL);
	uv_close((uv_handle_t *)&srv->sig_hup, NULL);
	if (srv->resign_ready)
		uv_close((uv_handle_t *)&srv->resign, NULL);
	uv_close((uv_handle_t *)&srv->sig_term, NULL);
	uv_close((uv_handle_t *)&srv->sig_int, NULL);
}

static void on_stop(uv_signal_t *sig, int signum)
{
	srv_t *srv = sig->data;
	if (srv->stopping)
		return;
	mn_log(MN_LOG_NOTICE, "stopping (%s)", signum == SIGINT ? "sigint" : "sigterm");
	stop(srv);
}

static void on_hup(uv_signal_t *sig, int signum)
{
	(void)signum;
	srv_reload_start(sig->data);
}

/*
 * Forks: the parent waits for the child to report (one byte on a pipe) that
 * it listens, and exits 0, or 1 when the child failed.  Returns the write end
 * of the pipe in the child.
 */
static int daemonize(void)
{
	int fds[2];
	if (pipe(fds) < 0) {
		perror("mailnsd: pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("mailnsd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		char c = 1;
		ssize_t n;
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 && c == 0 ? 0 : 1);
	}
	close(fds[0]);
	setsid();
	if (chdir("/") < 0)
		perror("mailnsd: chdir /");
	return fds[1];
}

/* The child listens: tell the parent, leave the terminal, log to syslog. */
static void daemon_ready(int fd)
{
	char c = 0;
	if (write(fd, &c, 1) != 1)
		perror("mailnsd: write");
	close(fd);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	mn_log_init("mailnsd", false, MN_LOG_INFO);
}

/* ---- main, in the order it runs ---- */

typedef struct opts {
	const char *path;		/* the policy file (abspath when it resolves) */
	bool foreground;
	char abspath[PATH_MAX];
} opts_t;

/* Reads the command line into o; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, opts_t *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:fhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->path = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mailnsd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mailnsd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o->path == NULL)
		o->path = getenv("MAILNS_POLICY");
	if (o->path == NULL || o->path[0] == '\0')
		o->path = MN_POLICY_PATH;
	if (realpath(o->path, o->abspath) != NULL)
		o->path = o->abspath;
	return -1;
}

/*
 * Loads the policy at path (diagnostics on stderr) into *out, filling
 * srv->pcache, which is kept for the reloads (freed on failure).
 */
static int load_policy(srv_t *srv, const char *path, policy_t **out)
{
	diag_t *diag = NULL;
	if (diag_new(&diag) != MN_OK)
		return MN_ENOMEM;
	/* the parse cache is filled by the first load and kept (server.parse_cache: no effect) */
	int r = policy_cache_new(&srv->pcache);
	if (r == MN_OK)
		r = policy_load_cached(path, srv->pcache, diag, out);
	diag_sort(diag);
	diag_print(diag, stderr);
	size_t nerrors = diag_errors(diag);
	diag_free(diag);
	if (r < 0) {
		if (nerrors == 0)
			fprintf(stderr, "mailnsd: cannot load %s (%s)\n", path, mn_strerror(r));
		policy_cache_free(srv->pcache);
		srv->pcache = NULL;
	}
	return r;
}

/* The loop threads (server.threads of p) and the main loop's handle they acknowledge on. */
static bool setup_workers(srv_t *srv, const policy_t *p)
{
	const char *batch = getenv("MAILNSD_UDP_BATCH");
	srv->udp_batch = batch == NULL || strcmp(batch, "0") != 0;
	int r = workers_new(srv, srv_threads(p));
	if (r < 0) {
		mn_log(MN_LOG_ERR, "cannot set up the loop threads (%s)", mn_strerror(r));
		return false;
	}
	if (uv_async_init(srv->loop, &srv->acked, on_acked) != 0)
		return false;
	srv->acked.data = srv;
	srv->acked_ready = true;
	return true;
}

/* Binds every listen address on every worker (as root), and the metrics endpoint. */
static bool open_listeners(srv_t *srv, const policy_t *p)
{
	bool ok = true;
	for (size_t i = 0; ok && i < p->server.listen.n; i++) {
		const policy_listen_t *l = &p->server.listen.v[i];
		for (size_t k = 0; ok && k < srv->nworkers; k++)
			ok = srv_udp_open(&srv->workers[k], (const struct sockaddr *)&l->addr, l->text) == MN_OK &&
			     srv_tcp_open(&srv->workers[k], (const struct sockaddr *)&l->addr, l->text) == MN_OK;
		if (ok)
			mn_log(MN_LOG_INFO, "listening on %s (udp, tcp)", l->text);
	}
	if (ok && p->server.metrics.v != NULL) {
		ok = srv_metrics_open(srv, p->server.metrics.v) == MN_OK;
		srv->metrics_on = true;
	}
	return ok;
}

/*
 * Switches to server.user and compiles the first generation (srv->gen).  The
 * TSIG secrets are read before the switch, as the policy was (a reload reads
 * them again as server.user); the zones are compiled after it, so that the
 * state files are that user's.
 */
static bool first_generation(srv_t *srv, const policy_t *p, const srv_priv_t *priv, const char *path)
{
	diag_t *diag = NULL;
	if (diag_new(&diag) != MN_OK)
		return false;
	xfr_conf_t *xfr = NULL;
	int r = xfr_conf_new(p, diag, &xfr);
	bool ok = srv_priv_drop(priv, p->server.state_dir.v) == MN_OK;
	/* reloads reuse what did not change (reload.c) */
	if (ok && compile_cache_new(&srv->ccache) < 0)
		ok = false;
	if (ok) {
		zset_t *zs = NULL;
		srv_conf_t conf;
		compile_stats_t st = { 0 };
		if (r == MN_OK)
			r = srv_compile(p, srv->ccache, diag, &zs, &conf, &st);
		srv->resign_at = st.resign_at;	/* (the DNSSEC refresh timer: run()) */
		if (r == MN_OK && st.signed_zones + st.signed_reused > 0)
			mn_log(MN_LOG_INFO, "DNSSEC: signed %zu zones, reused %zu", st.signed_zones, st.signed_reused);
		if (r == MN_OK)
			r = srv_gen_new(zs, &conf, xfr, 1, &srv->gen);
		if (r == MN_OK)
			xfr = NULL;	/* the generation's */
		else
			zset_unref(zs);
		diag_sort(diag);
		diag_print(diag, stderr);
		if (r < 0 && diag_errors(diag) == 0)
			fprintf(stderr, "mailnsd: cannot load %s (%s)\n", path, mn_strerror(r));
		ok = r == MN_OK;
	}
	diag_free(diag);
	xfr_conf_free(xfr);	/* NULL unless the start failed */
	return ok;
}

/* The cookie secret; every worker takes the first generation directly (no thread runs yet). */
static void workers_first(srv_t *srv)
{
	int r;
	if (srv->gen->conf.has_secret)
		memcpy(srv->secret, srv->gen->conf.secret, sizeof(srv->secret));
	else if ((r = srv_random(srv->secret, sizeof(srv->secret))) < 0)
		mn_log(MN_LOG_WARNING, "no random cookie secret (%s)", mn_strerror(r));
	for (size_t k = 0; k < srv->nworkers; k++) {
		srv_worker_t *w = &srv->workers[k];
		w->gen = srv_gen_ref(srv->gen);
		w->served = srv->gen->seq;
		memcpy(w->secret, srv->secret, sizeof(w->secret));
	}
}

/* Watches the files of policy p (path) for changes; SIGHUP only when that fails. */
static void start_watch(srv_t *srv, const char *path, const policy_t *p)
{
	srv_watchplan_t *plan = NULL;
	int r = srv_watch_start(srv);
	if (r == MN_OK)
		r = srv_watch_plan(path, p, &plan);
	if (r == MN_OK)
		srv_watch_apply(srv, plan, true);
	else
		mn_log(MN_LOG_WARNING, "not watching the policy files (%s); SIGHUP reloads",
		       mn_strerror(r));
	if (srv->watch != NULL)
		mn_log(MN_LOG_INFO, "watching %zu directories for changes", srv_watch_count(srv));
}

/* The NOTIFY sender: every zone to every secondary once at startup, then on each change. */
static void start_notify(srv_t *srv, const policy_t *p)
{
	int r = xfr_notify_new(srv->loop, &srv->notify);
	/* sent from the first listen address of each family: what secondaries know */
	for (size_t i = 0; r == MN_OK && i < p->server.listen.n; i++)
		(void)xfr_notify_source(srv->notify, (const struct sockaddr *)&p->server.listen.v[i].addr);
	if (r == MN_OK)
		xfr_notify_changes(srv->notify, srv->gen->xfr, NULL, zset_zones(srv->gen->zset));
	else
		mn_log(MN_LOG_WARNING, "not sending notify (%s)", mn_strerror(r));
}

/* The signal handles (started by run()). */
static void signals_init(srv_t *srv)
{
	uv_signal_init(srv->loop, &srv->sig_hup);
	uv_signal_init(srv->loop, &srv->sig_term);
	uv_signal_init(srv->loop, &srv->sig_int);
	srv->sig_hup.data = srv->sig_term.data = srv->sig_int.data = srv;
}

/* Starts the loop threads of workers 1..n-1 (worker 0 is the main loop's). */
static bool threads_start(srv_t *srv)
{
	for (size_t k = 1; k < srv->nworkers; k++) {
		srv_worker_t *w = &srv->workers[k];
		int r = uv_thread_create(&w->thread, worker_run, w);
		if (r < 0) {
			mn_log(MN_LOG_ERR, "cannot start loop thread %zu (%s)", k, uv_strerror(r));
			return false;
		}
		w->started = true;
	}
	return true;
}

/* Serves until SIGTERM or SIGINT; tells a waiting parent (ready_fd >= 0) first. */
static void run(srv_t *srv, const char *path, int ready_fd)
{
	uv_signal_start(&srv->sig_hup, on_hup, SIGHUP);
	uv_signal_start(&srv->sig_term, on_stop, SIGTERM);
	uv_signal_start(&srv->sig_int, on_stop, SIGINT);
	srv_resign_init(srv);
	mn_log(MN_LOG_NOTICE, "loaded %zu zones (%zu domains, %zu names) from %s",
	       zset_zones(srv->gen->zset)->n, srv->ndomains, zset_name_count(srv->gen->zset), path);
	mn_log(MN_LOG_INFO, "answering on %zu loop thread%s (udp batching %s)", srv->nworkers,
	       srv->nworkers == 1 ? "" : "s", srv->udp_batch ? "on" : "off");
	if (ready_fd >= 0)
		daemon_ready(ready_fd);
	uv_run(srv->loop, UV_RUN_DEFAULT);
}

/* After stop(): waits for every handle and thread, frees the server; returns rc, or 1 when unclean. */
static int shut_down(srv_t *srv, int rc)
{
	uv_run(srv->loop, UV_RUN_DEFAULT);	/* until every handle is closed */
	if (workers_free(srv) != 0)
		rc = 1;
	srv_gen_unref(srv->gen, NULL);
	srv->gen = NULL;
	uv_run(srv->loop, UV_RUN_DEFAULT);	/* nothing left, unless a worker queued work here */
	int r = uv_loop_close(srv->loop);
	if (r != 0) {
		mn_log(MN_LOG_ERR, "event loop not closed cleanly (%s)", uv_strerror(r));
		rc = 1;
	}
	uv_mutex_destroy(&srv->conn_lock);
	srv_domstats_unref(srv->domstats);
	compile_cache_free(srv->ccache);
	policy_cache_free(srv->pcache);
	if (rc == 0)
		mn_log(MN_LOG_NOTICE, "stopped");
	return rc;
}

/* The policy once the first generation is made, and the compile's scratch memory, back to the system. */
static void policy_free_work(uv_work_t *w)
{
	policy_free(w->data);
	w->data = NULL;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void policy_free_done(uv_work_t *w, int status)
{
	if (status < 0)
		policy_free_work(w);	/* cancelled: freed here */
}

int main(int argc, char **argv)
{
	opts_t o = { 0 };
	int rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	const char *path = o.path;

	malloc_steady();
	signal(SIGPIPE, SIG_IGN);
	mn_log_init("mailnsd", true, MN_LOG_INFO);

	srv_t srv = { .policy_path = path };
	uv_loop_t loop;
	policy_t *policy = NULL;
	srv_priv_t priv;
	if (load_policy(&srv, path, &policy) < 0)
		return 1;
	/* who to run as: decided before anything is bound (root without server.user: refused) */
	if (srv_priv_plan(policy, &priv) < 0 || srv_priv_check_read(&priv, path) < 0) {
		policy_free(policy);
		policy_cache_free(srv.pcache);
		return 1;
	}
	int ready_fd = o.foreground ? -1 : daemonize();
	if (uv_loop_init(&loop) < 0 || uv_mutex_init(&srv.conn_lock) < 0) {
		policy_free(policy);
		policy_cache_free(srv.pcache);
		return 1;
	}
	srv.loop = &loop;
	srv.ndomains = policy->ndomains;

	/* bind as root, then run as server.user; zones are compiled as that user */
	bool ok = setup_workers(&srv, policy) && open_listeners(&srv, policy) &&
		  first_generation(&srv, policy, &priv, path);
	if (ok) {
		workers_first(&srv);
		if (srv.metrics_on && srv_domstats_new(policy, &srv.domstats) < 0)
			mn_log(MN_LOG_WARNING, "cannot read the key states for the metrics");
	}
	srv.stats.last_reload_ok = ok;
	srv.stats.last_reload_time = (uint64_t)time(NULL);
	signals_init(&srv);
	ok = ok && threads_start(&srv);
	/*
	 * The watches and NOTIFYs once the answer threads serve (a watch per
	 * signed zone's key directory: tens of thousands of inotify calls); the
	 * loop reads their events only from run() on, and a change in between is
	 * seen as one before the first compile was (by the next event or SIGHUP).
	 */
	if (ok) {
		start_watch(&srv, path, policy);
		start_notify(&srv, policy);
	}
	/* freed off the loop: the answers need not wait for it */
	uv_work_t free_work = { .data = policy };
	if (!ok || uv_queue_work(&loop, &free_work, policy_free_work, policy_free_done) != 0)
		policy_free_work(&free_work);
	policy = NULL;
	rc = 1;
	if (ok) {
		run(&srv, path, ready_fd);
		rc = 0;
	} else {
		stop(&srv);
	}
	return shut_down(&srv, rc);
}
