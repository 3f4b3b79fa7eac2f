/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_zone.c -- mailns zone: print the compiled zones as RFC 1035 master files */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "zones/compile.h"
#include "zones/zonefile.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mailns zone [-c POLICY] [-d DIR] [ZONE...]\n\n"
		   "Compiles the policy and prints each zone (all of them when no ZONE is\n"
		   "named) in RFC 1035 master-file format, loadable by NSD, Knot and BIND.\n"
		   "Serials are kept in the state directory.\n\n"
		   "  -c, --policy FILE  the policy (default $MAILNS_POLICY, " MN_POLICY_PATH ")\n"
		   "  -d, --dir DIR      write DIR/ZONE.zone for each zone instead of printing\n"
		   "  -h, --help         this help\n");
}

static int write_zone(const zone_t *z, const char *dir, FILE *f, bool first)
{
	char *text = NULL;
	size_t len = 0;
	int r = zonefile_render(z, &text, &len);
	if (r != MN_OK) {
		cmd_err("cannot render zone %s (%s)", zone_name(z), mn_strerror(r));
		return CMD_ERRORS;
	}
	int status = CMD_OK;
	if (dir != NULL) {
		size_t plen = strlen(dir) + strlen(zone_name(z)) + 8;
		char *path = malloc(plen);
		if (path == NULL) {
			free(text);
			cmd_err("out of memory");
			return CMD_ERRORS;
		}
		snprintf(path, plen, "%s/%s.zone", dir, zone_name(z));
		r = mn_file_write_atomic(path, text, len, 0644);
		if (r != MN_OK) {
			cmd_err("cannot write %s (%s)", path, mn_strerror(r));
			status = CMD_ERRORS;
		}
		free(path);
	} else {
		if (!first)
			fputc('\n', f);
		if (fwrite(text, 1, len, f) != len)
			status = CMD_ERRORS;
	}
	free(text);
	return status;
}

int cmd_zone(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *dir = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'd': dir = optarg; break;
		case 'h': usage(stdout); return CMD_OK;
		default: usage(stderr); return CMD_USAGE;
		}
	}

	/* the zones asked for, normalized, before any work */
	size_t nwant = (size_t)(argc - optind);
	char (*want)[256] = nwant ? calloc(nwant, sizeof(*want)) : NULL;
	if (nwant > 0 && want == NULL) {
		cmd_err("out of memory");
		return CMD_ERRORS;
	}
	for (size_t i = 0; i < nwant; i++) {
		if (mn_name_norm(argv[optind + (int)i], want[i], sizeof(want[i])) != MN_OK) {
			cmd_err("no zone '%s'", argv[optind + (int)i]);
			free(want);
			return CMD_ERRORS;
		}
	}

	int status = CMD_ERRORS;
	zones_t *zs = NULL;
	diag_t *d = NULL;
	policy_t *p = cmd_policy_load(path, true);
	if (p == NULL || diag_new(&d) != MN_OK)
		goto out;
	compile_opts_t co = { .now = mn_now(), .persist_serials = true };
	int r = zones_compile(p, &co, d, &zs);
	diag_sort(d);
	diag_print(d, stderr);
	if (r != MN_OK) {
		if (diag_errors(d) == 0)
			cmd_err("cannot compile %s (%s)", cmd_policy_path(path), mn_strerror(r));
		goto out;
	}
	for (size_t i = 0; i < nwant; i++) {
		if (zones_find(zs, want[i]) == NULL) {
			cmd_err("no zone '%s'", argv[optind + (int)i]);
			goto out;
		}
	}
	if (dir != NULL) {
		r = mn_mkdir_p(dir, 0755);
		if (r != MN_OK) {
			cmd_err("cannot create %s (%s)", dir, mn_strerror(r));
			goto out;
		}
	}
	status = CMD_OK;
	bool first = true;
	if (nwant == 0) {
		for (size_t i = 0; i < zs->n; i++, first = false)
			if (write_zone(zs->v[i], dir, stdout, first) != CMD_OK)
				status = CMD_ERRORS;
	} else {
		for (size_t i = 0; i < nwant; i++, first = false)
			if (write_zone(zones_find(zs, want[i]), dir, stdout, first) != CMD_OK)
				status = CMD_ERRORS;
	}
	if (fflush(stdout) != 0) {
		cmd_err("cannot write to standard output");
		status = CMD_ERRORS;
	}
out:
	zones_free(zs);
	policy_free(p);
	diag_free(d);
	free(want);
	return status;
}
