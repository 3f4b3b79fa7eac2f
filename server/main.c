/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c -- mailnsd: options, startup, listeners, signals, clean stop */
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
#include "server/srv.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailnsd [-c POLICY] [-f]\n"
		"  -c, --config POLICY  the policy file (default $MAILNS_POLICY, then\n"
		"                       /etc/mailns/policy.yaml)\n"
		"  -f, --foreground     stay in the foreground, log to stderr\n"
		"  -h, --help           this help\n"
		"  -V, --version        the version\n"
		"A change to the policy, its included files, the key store or the SPF\n"
		"cache reloads by itself, as SIGHUP does; SIGTERM and SIGINT stop.\n");
}

/* Closes every handle; uv_run() then returns once pending work is done. */
static void stop(srv_t *srv)
{
	srv->stopping = true;
	srv_watch_close(srv);
	srv_metrics_close(srv);
	xfr_notify_close(srv->notify);
	srv->notify = NULL;
	srv_udp_close_all(srv);
	srv_tcp_close_all(srv);
	uv_close((uv_handle_t *)&srv->sig_hup, NULL);
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool foreground = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:fhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
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
	if (path == NULL)
		path = getenv("MAILNS_POLICY");
	if (path == NULL || path[0] == '\0')
		path = "/etc/mailns/policy.yaml";
	char abspath[PATH_MAX];
	if (realpath(path, abspath) != NULL)
		path = abspath;

	signal(SIGPIPE, SIG_IGN);
	mn_log_init("mailnsd", true, MN_LOG_INFO);

	int rc = 1, ready_fd = -1;
	srv_t srv = { .policy_path = path };
	uv_loop_t loop;
	policy_t *policy = NULL;
	srv_priv_t priv;
	diag_t *diag = diag_new();
	if (diag == NULL)
		return 1;
	int r = policy_load(path, diag, &policy);
	diag_sort(diag);
	diag_print(diag, stderr);
	size_t nerrors = diag_errors(diag);
	diag_free(diag);
	diag = NULL;
	if (r < 0) {
		if (nerrors == 0)
			fprintf(stderr, "mailnsd: cannot load %s (%s)\n", path, mn_strerror(r));
		return 1;
	}
	/* who to run as: decided before anything is bound (root without server.user: refused) */
	if (srv_priv_plan(policy, &priv) < 0) {
		policy_free(policy);
		return 1;
	}

	if (!foreground)
		ready_fd = daemonize();
	if (uv_loop_init(&loop) < 0) {
		policy_free(policy);
		return 1;
	}
	srv.loop = &loop;
	srv.ndomains = policy->ndomains;
	/* bind as root, then run as server.user; zones are compiled as that user */
	bool ok = true;
	for (size_t i = 0; ok && i < policy->server.listen.n; i++) {
		const policy_listen_t *l = &policy->server.listen.v[i];
		ok = srv_udp_open(&srv, (const struct sockaddr *)&l->addr, l->text) == MN_OK &&
		     srv_tcp_open(&srv, (const struct sockaddr *)&l->addr, l->text) == MN_OK;
		if (ok)
			mn_log(MN_LOG_INFO, "listening on %s (udp, tcp)", l->text);
	}
	if (ok && policy->server.metrics.v != NULL) {
		ok = srv_metrics_open(&srv, policy->server.metrics.v) == MN_OK;
		srv.metrics_on = true;
	}
	if (ok)
		ok = srv_priv_drop(&priv, policy->server.state_dir.v) == MN_OK;
	if (ok && (diag = diag_new()) == NULL)
		ok = false;
	if (ok) {
		r = srv_compile(policy, diag, &srv.zset, &srv.conf);
		if (r == MN_OK) {
			r = xfr_conf_new(policy, diag, &srv.xfr);
			if (r < 0) {
				zset_unref(srv.zset);
				srv.zset = NULL;
			}
		}
		diag_sort(diag);
		diag_print(diag, stderr);
		if (r < 0 && diag_errors(diag) == 0)
			fprintf(stderr, "mailnsd: cannot load %s (%s)\n", path, mn_strerror(r));
		ok = r == MN_OK;
	}
	diag_free(diag);
	if (ok) {
		if (srv.conf.has_secret)
			memcpy(srv.secret, srv.conf.secret, sizeof(srv.secret));
		else if ((r = srv_random(srv.secret, sizeof(srv.secret))) < 0)
			mn_log(MN_LOG_WARNING, "no random cookie secret (%s)", mn_strerror(r));
		r = srv_rrl_new(SRV_RRL_BUCKETS, &srv.rrl);
		if (r < 0) {
			mn_log(MN_LOG_ERR, "cannot set up rate limiting (%s)", mn_strerror(r));
			ok = false;
		}
	}
	if (ok && srv.metrics_on && srv_domstats_new(policy, &srv.domstats) < 0)
		mn_log(MN_LOG_WARNING, "cannot read the key states for the metrics");
	srv.stats.last_reload_ok = ok;
	srv.stats.last_reload_time = (uint64_t)time(NULL);
	if (ok) {
		srv_watchplan_t *plan = NULL;
		r = srv_watch_start(&srv);
		if (r == MN_OK)
			r = srv_watch_plan(path, policy, &plan);
		if (r == MN_OK)
			srv_watch_apply(&srv, plan, true);
		else
			mn_log(MN_LOG_WARNING, "not watching the policy files (%s); SIGHUP reloads",
			       mn_strerror(r));
		if (srv.watch != NULL)
			mn_log(MN_LOG_INFO, "watching %zu directories for changes",
			       srv_watch_count(&srv));
	}
	if (ok) {
		/* every zone to every secondary once at startup, then on each change */
		r = xfr_notify_new(&loop, &srv.notify);
		if (r == MN_OK)
			xfr_notify_changes(srv.notify, srv.xfr, NULL, zset_zones(srv.zset));
		else
			mn_log(MN_LOG_WARNING, "not sending notify (%s)", mn_strerror(r));
	}
	policy_free(policy);
	policy = NULL;
#ifdef __GLIBC__
	malloc_trim(0);	/* the policy and the compile's scratch memory back to the system */
#endif
	uv_signal_init(&loop, &srv.sig_hup);
	uv_signal_init(&loop, &srv.sig_term);
	uv_signal_init(&loop, &srv.sig_int);
	srv.sig_hup.data = srv.sig_term.data = srv.sig_int.data = &srv;
	if (ok) {
		uv_signal_start(&srv.sig_hup, on_hup, SIGHUP);
		uv_signal_start(&srv.sig_term, on_stop, SIGTERM);
		uv_signal_start(&srv.sig_int, on_stop, SIGINT);
		mn_log(MN_LOG_NOTICE, "loaded %zu zones (%zu domains, %zu names) from %s",
		       zset_zones(srv.zset)->n, srv.ndomains, zset_name_count(srv.zset), path);
		if (ready_fd >= 0)
			daemon_ready(ready_fd);
		uv_run(&loop, UV_RUN_DEFAULT);
		rc = 0;
	} else {
		stop(&srv);
	}
	uv_run(&loop, UV_RUN_DEFAULT);	/* until every handle is closed */
	r = uv_loop_close(&loop);
	if (r != 0) {
		mn_log(MN_LOG_ERR, "event loop not closed cleanly (%s)", uv_strerror(r));
		rc = 1;
	}
	zset_unref(srv.zset);
	xfr_conf_free(srv.xfr);
	srv_rrl_free(srv.rrl);
	srv_domstats_free(srv.domstats);
	if (rc == 0)
		mn_log(MN_LOG_NOTICE, "stopped");
	return rc;
}
