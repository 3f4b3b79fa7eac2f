/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mailns.c -- the mailns tool: dispatch to subcommands */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tools/cmd.h"

static const cmd_sub_t commands[] = {
	{ "check", cmd_check, "validate the policy and every record it compiles to" },
	{ "zone", cmd_zone, "print the compiled zones as master files" },
	{ "delegation", cmd_delegation, "print the records to add at each domain's parent" },
	{ "flatten", cmd_flatten, "resolve SPF terms, prove the flattened set, update the SPF cache" },
	{ "keys", cmd_keys, "rotate, list and revoke the DKIM keys (rotate|list|revoke)" },
	{ "reports", cmd_reports, "store and read DMARC, TLS and failure reports (ingest|list|summary|advise|html)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mailns [--help | --version] COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'mailns COMMAND --help' describes each command.\n"
		   "The policy is -c FILE, else $MAILNS_POLICY, else " MN_POLICY_PATH ".\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("mailns %s\n", PACKAGE_VERSION);
		return CMD_OK;
	}
	return cmd_dispatch(commands, sizeof(commands) / sizeof(commands[0]), argc, argv, usage,
			    "unknown command '%s'");
}
