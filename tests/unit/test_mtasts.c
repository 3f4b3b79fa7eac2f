/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_mtasts.c -- mtasts.c: RFC 8461 §4.1 mx pattern matching */
#include <stdbool.h>

#include "tests/tap/tap.h"
#include "zones/mtasts.h"

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

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(mtasts_mx_match(cases[i].pattern, cases[i].host), cases[i].match, "%s %s %s",
		       cases[i].pattern, cases[i].match ? "matches" : "does not match", cases[i].host);
	return tap_done();
}
