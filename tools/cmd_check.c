/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_check.c -- mailns check: validate the policy and every record it compiles to */
#include <getopt.h>
#include <stdio.h>

#include "tools/cmd.h"
#include "tools/resolve.h"
#include "zones/compile.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mailns check [-c POLICY] [--dns [--resolver ADDR[:PORT]] [--ca-file FILE]] [--reports]\n\n"
		   "Loads the policy and its included files, compiles every zone and\n"
		   "validates every record, printing each problem as\n"
		   "FILE:LINE:COL: error|warning: MESSAGE.  Exit 0 when there is no\n"
		   "error (warnings allowed), 1 when there are errors.\n\n"
		   "  -c, --policy FILE      the policy (default $MAILNS_POLICY, " MN_POLICY_PATH ")\n"
		   "      --dns              then ask DNS: delegations of the served zones, the apex\n"
		   "                         SPF include, external report authorizations, and that\n"
		   "                         the published DKIM keys equal the local ones; MTA-STS:\n"
		   "                         the MX hosts match the mx patterns, and the policy file\n"
		   "                         served over HTTPS equals the local one\n"
		   "      --resolver ADDR[:PORT]  the recursive resolver for --dns (IPv6 as\n"
		   "                         [ADDR]:PORT; default: the first nameserver of\n"
		   "                         /etc/resolv.conf)\n"
		   "      --ca-file FILE     the CAs (PEM) trusted for the MTA-STS web hosts\n"
		   "                         (default: the system store)\n"
		   "      --reports          then the advice of `mailns reports advise` for each\n"
		   "                         domain with stored reports, as warnings at its dmarc.p\n"
		   "                         (the exit status does not change)\n"
		   "  -h, --help             this help\n");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "dns", no_argument, NULL, 'D' },
		{ "resolver", required_argument, NULL, 'R' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "reports", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *resolver = NULL, *ca_file = NULL;
	bool dns = false, reports = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'D': dns = true; break;
		case 'R': resolver = optarg; break;
		case 'A': ca_file = optarg; break;
		case 'P': reports = true; break;
		case 'h': usage(stdout); return CMD_OK;
		default: usage(stderr); return CMD_USAGE;
		}
	}
	if (optind != argc) {
		cmd_err("check takes no arguments ('%s')", argv[optind]);
		return CMD_USAGE;
	}
	if ((resolver != NULL || ca_file != NULL) && !dns) {
		cmd_err("%s needs --dns", resolver != NULL ? "--resolver" : "--ca-file");
		return CMD_USAGE;
	}
	resolve_t *res = NULL;
	if (dns) {
		char err[300];
		int rr = resolve_new(resolver, err, sizeof(err), &res);
		if (rr != MN_OK) {
			cmd_err("%s", rr == MN_ENOMEM ? "out of memory" : err);
			return rr == MN_EINVAL ? CMD_USAGE : CMD_ERRORS;
		}
	}

	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK) {
		cmd_err("out of memory");
		resolve_free(res);
		return CMD_ERRORS;
	}
	policy_t *p = NULL;
	zones_t *zs = NULL;
	int r = policy_load(cmd_policy_path(path), d, &p);
	if (r == MN_OK) {
		compile_opts_t co = { .now = mn_now(), .persist_serials = false };
		r = zones_compile(p, &co, d, &zs);
	}
	/* DNS only once the policy is good: nothing to compare otherwise */
	if (r == MN_OK && res != NULL && diag_errors(d) == 0)
		r = cmd_check_dns(p, zs, res, ca_file, d);
	/* advice only: warnings, whatever they say */
	if (r == MN_OK && reports && diag_errors(d) == 0)
		r = cmd_check_reports(p, path, d);
	diag_sort(d);
	diag_print(d, stderr);
	if (r != MN_OK && diag_errors(d) == 0)
		cmd_err("cannot check %s (%s)", cmd_policy_path(path), mn_strerror(r));
	int status = (r == MN_OK && diag_errors(d) == 0) ? CMD_OK : CMD_ERRORS;
	zones_free(zs);
	policy_free(p);
	diag_free(d);
	resolve_free(res);
	return status;
}
