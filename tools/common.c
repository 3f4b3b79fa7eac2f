/* SPDX-License-Identifier: GPL-3.0-or-later */
/* common.c -- what the mailns subcommands share: policy path, loading, messages */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/cmd.h"

const char *cmd_policy_path(const char *opt)
{
	if (opt != NULL && opt[0] != '\0')
		return opt;
	const char *env = getenv("MAILNS_POLICY");
	if (env != NULL && env[0] != '\0')
		return env;
	return MN_POLICY_PATH;
}

policy_t *cmd_policy_load(const char *opt, bool print_warnings)
{
	diag_t *d = diag_new();
	if (d == NULL) {
		cmd_err("out of memory");
		return NULL;
	}
	policy_t *p = NULL;
	int r = policy_load(cmd_policy_path(opt), d, &p);
	if (r != MN_OK || print_warnings) {
		diag_sort(d);
		diag_print(d, stderr);
	}
	if (r != MN_OK && diag_errors(d) == 0)
		cmd_err("cannot load %s (%s)", cmd_policy_path(opt), mn_strerror(r));
	diag_free(d);
	return r == MN_OK ? p : NULL;
}

void cmd_err(const char *fmt, ...)
{
	va_list ap;
	fputs("mailns: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
