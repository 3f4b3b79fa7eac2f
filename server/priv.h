/* SPDX-License-Identifier: GPL-3.0-or-later */
/* priv.h -- server.user / server.group: bind as root, then run as the server user */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "policy/policy.h"

/*
 * priv.c: the user and group to run as after binding.  srv_priv_plan()
 * resolves server.user / server.group before anything is bound: started as
 * root without server.user it refuses (MN_EPERM, message on stderr);
 * server.user "root" stays root; started as another user, server.user must be
 * that user (or unset).  srv_priv_drop() then switches (setgroups, setgid,
 * setuid) and checks that root cannot be regained; before, state_dir (when
 * not NULL) and the server's own zones/ and journal/ below it are created for
 * the user when missing (state_dir itself may stay root's); after, those two
 * must be writable.
 */
typedef struct srv_priv {
	bool drop;		/* switch user after binding */
	uid_t uid;
	gid_t gid;
	char user[64];
} srv_priv_t;
int srv_priv_plan(const policy_t *p, srv_priv_t *out);
int srv_priv_drop(const srv_priv_t *pv, const char *state_dir);
/*
 * Before the switch (no thread running): can the user of pv read path (the
 * policy, read again on every reload)?  When it cannot, a warning is logged
 * (the loaded policy is served; reloads fail until it can).  Returns MN_OK,
 * or a negative errno when the check itself could not run.
 */
int srv_priv_check_read(const srv_priv_t *pv, const char *path);
