/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_progress.c -- the progress line's text (rate, time left) and the --jobs parser of long runs */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "policy/mn.h"
#include "tests/tap/tap.h"
#include "tools/progress.h"

static void test_format(void)
{
	static const struct {
		size_t done, total;
		double elapsed;
		const char *want;
	} cases[] = {
		{ 0, 10000, 0.0, "keys: 0/10000 (0.0%)" },
		{ 0, 10000, 5.0, "keys: 0/10000 (0.0%)" },	/* no rate before the first */
		{ 1234, 10000, 27.0, "keys: 1234/10000 (12.3%), 45.7/s, 3m12s left" },
		{ 10, 10000, 10.0, "keys: 10/10000 (0.1%), 1.0/s, 2h46m left" },
		{ 50, 100, 25.0, "keys: 50/100 (50.0%), 2.0/s, 25s left" },
		{ 100, 100, 4.0, "keys: 100/100 (100.0%), 25.0/s, 0s left" },
		{ 0, 0, 1.0, "keys: 0/0 (100.0%)" },
		{ 1, 1000000000, 1000.0, "keys: 1/1000000000 (0.0%), 0.0/s, 99h59m left" },	/* capped */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[160];
		progress_format("keys", cases[i].done, cases[i].total, cases[i].elapsed, buf, sizeof(buf));
		is_str(buf, cases[i].want, "%zu/%zu after %.0f s", cases[i].done, cases[i].total, cases[i].elapsed);
	}
	char small[12];
	progress_format("keys", 1234, 10000, 27.0, small, sizeof(small));
	is_str(small, "keys: 1234/", "a short buffer: truncated, terminated");
}

static void test_jobs(void)
{
	static const struct {
		const char *s;
		int r;
		unsigned v;
	} cases[] = {
		{ "1", MN_OK, 1 }, { "64", MN_OK, 64 }, { "0", MN_ERANGE, 0 }, { "65", MN_ERANGE, 0 },
		{ "", MN_ERANGE, 0 }, { "-1", MN_ERANGE, 0 }, { "+2", MN_ERANGE, 0 }, { "2x", MN_ERANGE, 0 },
		{ " 2", MN_ERANGE, 0 }, { "99999999999999999999", MN_ERANGE, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned v = 0;
		is_int(progress_jobs_parse(cases[i].s, 64, &v), cases[i].r, "--jobs '%s'", cases[i].s);
		is_int((int)v, (int)cases[i].v, "--jobs '%s': value", cases[i].s);
	}
}

/* Not a terminal (the test's stderr is the log): no line, and NULL is a no-op everywhere. */
static void test_quiet(void)
{
	ok(progress_new("keys", 10, true) == NULL, "quiet: no progress");
	if (!isatty(STDERR_FILENO))
		ok(progress_new("keys", 10, false) == NULL, "stderr not a terminal: no progress");
	progress_add(NULL, 1);
	progress_grow(NULL, 1);
	progress_hide(NULL);
	progress_end(NULL);
	ok(1, "NULL is a no-op");
}

int main(void)
{
	test_format();
	test_jobs();
	test_quiet();
	return tap_done();
}
