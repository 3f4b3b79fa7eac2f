/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_mtasts.c -- mtasts.c: RFC 8461 §4.1 mx pattern matching; the §8.3 withdrawal through the compile cache */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/mn.h"
#include "tests/tap/tap.h"
#include "zones/compile.h"
#include "zones/mtasts.h"
#include "zones/records.h"
#include "zones/zonefile.h"

static const struct {
	const char *pattern, *host;
	bool match;
} cases[] = {
	{ "mx1.example.com", "mx1.example.com", true },
	{ "mx1.example.com", "MX1.Example.COM", true },
	{ "mx1.example.com", "mx2.example.com", false },
	{ "mx1.example.com", "a.mx1.example.com", false },
	{ "*.example.net", "mx.example.net", true },
	{ "*.example.net", "a-b.example.net", true },
	{ "*.example.net", "example.net", false },		/* the * is one label, not none */
	{ "*.example.net", "a.b.example.net", false },		/* nor two */
	{ "*.example.net", ".example.net", false },		/* nor an empty one */
	{ "*.example.net", "mx.example.network", false },
	{ "*.example.net", "mxexample.net", false },
	{ "*.mail.example.net", "mx2.mail.example.net", true },
	{ "*.mail.example.net", "mail.example.net", false },
};

/* ---- the withdrawal, with and without the compile cache ------------------------------ */

#define T0 ((time_t)1893456000)	/* 2030-01-01 */
static char dir[256], policy_path[300];

static void write_policy(bool with_mta_sts)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "version: 1\nserver:\n  nameservers: [ns1.example.net.]\n  hostmaster: h.example.net.\n"
		 "  state_dir: %s/state\ndomains:\n  a.example:\n    dmarc: { p: reject }\n%s"
		 "  b.example:\n    dmarc: { p: reject }\n",
		 dir, with_mta_sts ? "    mta_sts: { mode: enforce, mx: [mx.a.example], max_age: 1d }\n" : "");
	if (mn_file_write_atomic(policy_path, text, strlen(text), 0644) != MN_OK)
		tap_bail("cannot write %s", policy_path);
}

/* The TXT text of _mta-sts.a.example compiled at now ("" without the zone; "error" on failure). */
static char *compile_at(compile_cache_t *cache, time_t now)
{
	diag_t *dg = NULL;
	if (diag_new(&dg) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;
	zones_t *zs = NULL;
	char *out = NULL;
	int r = policy_load(policy_path, dg, &p);
	if (r == MN_OK) {
		compile_opts_t co = { .now = now, .persist_serials = true, .cache = cache };
		r = zones_compile(p, &co, dg, &zs);
	}
	for (size_t i = 0; r == MN_OK && i < zs->n && out == NULL; i++) {
		if (strcmp(zone_name(zs->v[i]), "_mta-sts.a.example") != 0)
			continue;
		char *text = NULL;
		size_t len = 0;
		if (zonefile_render(zs->v[i], &text, &len) == MN_OK) {
			const char *q = strstr(text, "v=STSv1");
			out = strndup(q ? q : "?", q ? strcspn(q, "\"") : 1);
		}
		free(text);
	}
	if (r != MN_OK)
		tap_diag("compile: %s", mn_strerror(r));
	zones_free(zs);
	policy_free(p);
	diag_free(dg);
	return out != NULL ? out : strdup(r == MN_OK ? "" : "error");
}

static void test_withdrawal(void)
{
	snprintf(dir, sizeof(dir), "%s/mn-mtasts.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		tap_bail("mkdtemp");
	snprintf(policy_path, sizeof(policy_path), "%s/policy.yaml", dir);
	char none_id[33], rec[400], file[400];
	rec_mta_sts_id("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n", none_id, sizeof(none_id));
	char want_none[64];
	snprintf(want_none, sizeof(want_none), "v=STSv1; id=%s", none_id);
	snprintf(rec, sizeof(rec), "%s/state/" MTASTS_WITHDRAWN "/a.example", dir);
	snprintf(file, sizeof(file), "%s/state/mta-sts/a.example/.well-known/mta-sts.txt", dir);

	compile_cache_t *cache = NULL;
	if (compile_cache_new(&cache) != MN_OK)
		tap_bail("compile_cache_new");
	write_policy(true);
	char *t = compile_at(cache, T0);
	ok(strncmp(t, "v=STSv1; id=", 12) == 0 && strcmp(t, want_none) != 0, "with mta_sts: its policy's id (%s)", t);
	free(t);
	ok(access(file, F_OK) == 0, "the policy file is written");
	/* (mtasts_write looks at the domains whose entries have an MTA-STS zone: a reused one too) */
	char rm[600];
	snprintf(rm, sizeof(rm), "rm -r '%s/state/mta-sts/a.example'", dir);
	is_int(system(rm), 0, "the policy file and its directories removed behind the server's back");
	t = compile_at(cache, T0 + 1);
	free(t);
	ok(access(file, F_OK) == 0, "a reload reusing every domain writes it again");

	write_policy(false);
	const time_t removed = T0 + 60;
	t = compile_at(cache, removed);
	is_str(t, want_none, "mta_sts removed: mode none under its own id");
	free(t);
	char *got = NULL;
	size_t len = 0;
	is_str(mn_file_read(rec, &got, &len) == MN_OK ? got : "(none)", "since 1893456060\nmax_age 86400\n",
	       "the record: the removal time and the old max_age");
	free(got);
	t = compile_at(cache, removed + 86399);
	is_str(t, want_none, "a reload (cached) 1 s before max_age has passed: still published");
	free(t);
	t = compile_at(cache, removed + 86400);
	is_str(t, "", "a reload (cached) at max_age: the zone is gone");
	free(t);
	ok(access(file, F_OK) != 0 && access(rec, F_OK) != 0, "so are the file and the record");
	t = compile_at(NULL, removed + 86401);
	is_str(t, "", "and a full compile later agrees");
	free(t);
	compile_cache_free(cache);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("cannot remove %s", dir);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(mtasts_mx_match(cases[i].pattern, cases[i].host), cases[i].match, "%s %s %s",
		       cases[i].pattern, cases[i].match ? "matches" : "does not match", cases[i].host);
	test_withdrawal();
	return tap_done();
}
