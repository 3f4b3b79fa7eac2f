/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_watch.c -- watch.c's plan: the key directories of state_dir/dnssec watched for their K*.key files */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/mn.h"
#include "policy/policy.h"
#include "server/watch.h"
#include "tests/tap/tap.h"

static void mk(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0750) != 0)
		tap_bail("mkdir %s", path);
}

int main(void)
{
	char tmp[] = "/tmp/mailns-test-watch.XXXXXX", dnssec[4096], path[4096], policy[4096];
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	snprintf(dnssec, sizeof(dnssec), "%s/state/dnssec", tmp);
	mk(tmp, "state");
	mk(tmp, "state/dnssec");
	mk(tmp, "elsewhere");
	/* zones' key directories: two plain, one a link to a directory (stat follows it) */
	mk(dnssec, "_dmarc.a.example");
	mk(dnssec, "_spf.a.example");
	snprintf(path, sizeof(path), "%s/_domainkey.a.example", dnssec);
	char target[4096];
	snprintf(target, sizeof(target), "%s/elsewhere", tmp);
	if (symlink(target, path) != 0)
		tap_bail("symlink");
	/* not zones: a dot directory, a file (the store is one), a link to nothing */
	mk(dnssec, ".hidden");
	snprintf(path, sizeof(path), "%s/.signed-zones", dnssec);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		tap_bail("fopen");
	fclose(f);
	snprintf(path, sizeof(path), "%s/junk", dnssec);
	if ((f = fopen(path, "w")) == NULL)
		tap_bail("fopen");
	fclose(f);
	snprintf(path, sizeof(path), "%s/dangling", dnssec);
	if (symlink("/nonexistent/mailns-test", path) != 0)
		tap_bail("symlink");

	policy_t p;
	memset(&p, 0, sizeof(p));
	snprintf(path, sizeof(path), "%s/state", tmp);
	p.server.state_dir.v = path;
	snprintf(policy, sizeof(policy), "%s/policy.yaml", tmp);
	srv_watchplan_t *pl = NULL;
	is_int(srv_watch_plan(policy, &p, &pl), MN_OK, "a plan");
	static const char *const zones[] = { "_dmarc.a.example", "_spf.a.example", "_domainkey.a.example" };
	int found = 0;
	for (size_t i = 0; i < 3; i++) {
		char d[4096];
		snprintf(d, sizeof(d), "%s/%s", dnssec, zones[i]);
		found += srv_watch_plan_has(pl, d, "*.key");
	}
	is_int(found, 3, "each zone's key directory watched for *.key (a linked one too)");
	int others = 0;
	static const char *const not[] = { ".hidden", ".signed-zones", "junk", "dangling" };
	for (size_t i = 0; i < 4; i++) {
		char d[4096];
		snprintf(d, sizeof(d), "%s/%s", dnssec, not[i]);
		others += srv_watch_plan_has(pl, d, "*.key");
	}
	is_int(others, 0, "no dot name, file or dangling link");
	srv_watch_plan_free(pl);

	/* a zone directory made later: the next plan has it */
	mk(dnssec, "_dmarc.b.example");
	pl = NULL;
	is_int(srv_watch_plan(policy, &p, &pl), MN_OK, "the plan again");
	snprintf(path, sizeof(path), "%s/_dmarc.b.example", dnssec);
	ok(srv_watch_plan_has(pl, path, "*.key"), "the new key directory watched");
	srv_watch_plan_free(pl);

	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
	return tap_done();
}
