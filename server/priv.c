/* SPDX-License-Identifier: GPL-3.0-or-later */
/* priv.c -- server.user / server.group: bind as root, then run as the server user */
#include "server/priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/mn.h"

int srv_priv_plan(const policy_t *p, srv_priv_t *out)
{
	const policy_server_t *s = &p->server;
	memset(out, 0, sizeof(*out));
	const char *user = s->user.v, *group = s->group.v;
	if (geteuid() != 0) {
		/* not root: nothing to switch (the systemd unit starts us as the user already) */
		struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
		if (user != NULL && (pw == NULL || pw->pw_uid != geteuid()))
			mn_log(MN_LOG_WARNING, "not started as root: running as uid %u, not as server.user %s",
			       (unsigned)geteuid(), user);
		return MN_OK;
	}
	if (user == NULL) {
		fprintf(stderr, "mailnsd: refusing to run as root: set server.user in %s to the user "
			"to run as after binding (e.g. mailns), or server.user: root to stay root\n",
			p->path);
		return MN_EPERM;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		fprintf(stderr, "%s:%u:%u: error: unknown user '%s' for server.user\n", s->user.pos.file,
			s->user.pos.line, s->user.pos.col, user);
		return MN_EPERM;
	}
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	snprintf(out->user, sizeof(out->user), "%s", user);
	if (group != NULL) {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			fprintf(stderr, "%s:%u:%u: error: unknown group '%s' for server.group\n",
				s->group.pos.file, s->group.pos.line, s->group.pos.col, group);
			return MN_EPERM;
		}
		out->gid = gr->gr_gid;
	}
	out->drop = out->uid != 0 || out->gid != 0;
	return MN_OK;
}

/* The directories below state_dir the server writes (zones/serials, journal/APEX.jnl). */
static const char *const own_dirs[] = { "zones", "journal" };

/*
 * As root, before the switch: state_dir, when missing, is created for the
 * server user; so are its own directories below it (never through a link), so
 * that state_dir itself may stay root's (the package's layout).  Directories
 * that exist keep their owner.
 */
static int make_state(const srv_priv_t *pv, const char *state_dir)
{
	int r = MN_OK;
	if (access(state_dir, F_OK) != 0) {
		r = mn_mkdir_p(state_dir, 0750);
		if (r == MN_OK && chown(state_dir, pv->uid, pv->gid) < 0)
			r = -errno;
		if (r < 0) {
			mn_log(MN_LOG_ERR, "cannot create %s for user %s (%s)", state_dir, pv->user,
			       mn_strerror(r));
			return r;
		}
	}
	for (size_t i = 0; i < sizeof(own_dirs) / sizeof(own_dirs[0]); i++) {
		int fd = mn_dir_open(state_dir, own_dirs[i], 0750, false);
		if (fd == MN_ENOENT) {
			fd = mn_dir_open(state_dir, own_dirs[i], 0750, true);
			if (fd >= 0 && fchown(fd, pv->uid, pv->gid) < 0) {
				r = -errno;
				close(fd);
				fd = r;
			}
		}
		if (fd < 0) {
			mn_log(MN_LOG_ERR, "cannot create %s/%s for user %s (%s)", state_dir, own_dirs[i],
			       pv->user, mn_strerror(fd));
			return fd;
		}
		close(fd);
	}
	return MN_OK;
}

int srv_priv_drop(const srv_priv_t *pv, const char *state_dir)
{
	if (!pv->drop)
		return MN_OK;
	if (state_dir != NULL && make_state(pv, state_dir) != MN_OK)
		return MN_EPERM;
	if (setgroups(1, &pv->gid) < 0 || setgid(pv->gid) < 0 || setuid(pv->uid) < 0) {
		int r = -errno;
		mn_log(MN_LOG_ERR, "cannot switch to user %s (%s)", pv->user, mn_strerror(r));
		return r;
	}
	/* root must be gone for good: neither the ids nor a way back */
	if (pv->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 || getuid() != pv->uid ||
			     geteuid() != pv->uid)) {
		mn_log(MN_LOG_ERR, "could regain root after switching to user %s", pv->user);
		return MN_EPERM;
	}
	if (pv->gid != 0 && (setgid(0) == 0 || getgid() != pv->gid || getegid() != pv->gid)) {
		mn_log(MN_LOG_ERR, "could regain group root after switching to user %s", pv->user);
		return MN_EPERM;
	}
	for (size_t i = 0; state_dir != NULL && i < sizeof(own_dirs) / sizeof(own_dirs[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", state_dir, own_dirs[i]);
		if (access(path, W_OK | X_OK) != 0) {
			int r = -errno;
			mn_log(MN_LOG_ERR, "%s is not writable by user %s (%s); the server writes zones/ "
			       "and journal/ in state_dir: chown them to the server user", path, pv->user,
			       mn_strerror(r));
			return r;
		}
	}
	mn_log(MN_LOG_INFO, "running as user %s (uid %u, gid %u)", pv->user, (unsigned)pv->uid,
	       (unsigned)pv->gid);
	return MN_OK;
}

int srv_priv_check_read(const srv_priv_t *pv, const char *path)
{
	if (!pv->drop)
		return MN_OK;
	/* a child takes the server user's ids and tries (no thread runs yet) */
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int e = 0;
		if (setgroups(1, &pv->gid) < 0 || setgid(pv->gid) < 0 || setuid(pv->uid) < 0)
			e = errno;
		else if (access(path, R_OK) < 0)
			e = errno;
		_exit(e == 0 ? 0 : e < 256 ? e : EIO);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	int e = WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
	if (e == 0)
		return MN_OK;
	/*
	 * Not fatal: the policy was read (as root) and will be served; reloads
	 * fail (and keep serving what was loaded) until the user can read it.
	 */
	mn_log(MN_LOG_WARNING, "user %s (server.user) cannot read %s (%s): reloads will fail "
	       "until it can; put the policy where that user can read it (a directory such as "
	       "/root, mode 0700, is closed to it)", pv->user, path, strerror(e));
	return MN_OK;
}
