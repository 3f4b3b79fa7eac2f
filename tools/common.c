/* SPDX-License-Identifier: GPL-3.0-or-later */
/* common.c -- what the mailns subcommands share: policy path, loading, messages */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK) {
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

int cmd_dispatch(const cmd_sub_t *subs, size_t n, int argc, char **argv, void (*usage)(FILE *),
		 const char *unknown_fmt)
{
	if (argc < 2) {
		usage(stderr);
		return CMD_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return CMD_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(argc - 1, argv + 1);
	}
	cmd_err(unknown_fmt, argv[1]);
	usage(stderr);
	return CMD_USAGE;
}
