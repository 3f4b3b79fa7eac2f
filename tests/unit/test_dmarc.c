/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_dmarc.c -- DMARC record tags, values and report URIs: exact diagnostics and destinations */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dmarc.h"
#include "tests/tap/tap.h"

static const mn_pos_t POS = { "d.yaml", 12, 3 };

#define E(m) "d.yaml:12:3: error: DMARC: " m "\n"
#define W(m) "d.yaml:12:3: warning: DMARC: " m "\n"
#define REMOVED(t) W(t " was removed by RFC 9989 and is ignored by receivers")

typedef struct {
	const char *text;
	const char *want;	/* exact diagnostics */
	int ret;
	int p, sp, np;		/* compared on MN_OK */
	const char *dests;	/* "rua|ruf scheme domain size" each, ", "-joined; NULL: do not compare */
} dmarc_case_t;

static const dmarc_case_t cases[] = {
	/* good records */
	{ "v=DMARC1; p=none", "", MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=reject;", "", MN_OK, 2, -1, -1, "" },
	{ "v=DMARC1;p=quarantine;sp=reject;np=reject", "", MN_OK, 1, 2, 2, "" },
	{ "v=DMARC1; p=Reject; sp=REJECT", "", MN_OK, 2, 2, -1, "" },
	{ "v=DMARC1; p=reject; rua=mailto:dmarc@example.com", "", MN_OK, 2, -1, -1, "rua mailto example.com 0" },
	{ "v=DMARC1; p=reject; rua=mailto:a@example.com!10m, mailto:b@Reports.Example.NET.!512 ;"
	  " ruf=mailto:f@example.org!1k,https://r.example.net/dmarc!2T",
	  "", MN_OK, 2, -1, -1,
	  "rua mailto example.com 10485760, rua mailto reports.example.net 512, ruf mailto example.org 1024, "
	  "ruf https r.example.net 2199023255552" },
	{ "v=DMARC1; p=none; rua=mailto:first.last+tag@sub.example.com?subject=dmarc", "", MN_OK, 0, -1, -1,
	  "rua mailto sub.example.com 0" },
	{ "v=DMARC1; p=none; rua=mailto:a%21b@example.com", "", MN_OK, 0, -1, -1, "rua mailto example.com 0" },
	{ "v=DMARC1; p=none; rua=https://reports.example.com:8443/x?y=1", "", MN_OK, 0, -1, -1,
	  "rua https reports.example.com 0" },
	{ "v=DMARC1; p=reject; adkim=s; aspf=r; fo=0:1:d:s; psd=n; t=n", "", MN_OK, 2, -1, -1, "" },
	{ "v=DMARC1; p=reject; psd=u; t=y; fo=1", "", MN_OK, 2, -1, -1, "" },
	{ "v=DMARC1; p=reject; fo = 0 : d", "", MN_OK, 2, -1, -1, "" },
	{ "v = DMARC1 ; p = none ; ", "", MN_OK, 0, -1, -1, "" },
	/* v and p */
	{ "p=none; v=DMARC1", E("v=DMARC1 must come first") E("p must come second (after v=DMARC1)"), MN_ESYNTAX, 0, 0, 0, NULL },
	{ "p=none", E("record must start with v=DMARC1") E("p must come second (after v=DMARC1)"), MN_ESYNTAX, 0, 0, 0, NULL },
	{ "v=DMARC2; p=none", E("v=DMARC2 is not DMARC1"), MN_ESYNTAX, 0, 0, 0, NULL },
	{ "v=dmarc1; p=none", E("v=dmarc1 is not DMARC1"), MN_ESYNTAX, 0, 0, 0, NULL },
	{ "", E("record must start with v=DMARC1") E("p is missing (required in a policy record)"), MN_ESYNTAX, 0, 0, 0, NULL },
	{ "v=DMARC1", E("p is missing (required in a policy record)"), MN_OK, -1, -1, -1, "" },
	{ "v=DMARC1; rua=mailto:d@example.com", E("p is missing (required in a policy record)"), MN_OK, -1, -1, -1,
	  "rua mailto example.com 0" },
	{ "v=DMARC1; sp=none; p=none", E("p must come second (after v=DMARC1)"), MN_OK, 0, 0, -1, "" },
	/* values */
	{ "v=DMARC1; p=rejct", E("p=rejct is not none, quarantine or reject"), MN_OK, -1, -1, -1, "" },
	{ "v=DMARC1; p=none; sp=hold; np=", E("sp=hold is not none, quarantine or reject")
	  E("np= is not none, quarantine or reject"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; adkim=strict", E("adkim=strict is not r or s"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; aspf=", E("aspf= is not r or s"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; fo=2", E("fo=2 is not a ':'-separated list of 0, 1, d, s"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; fo=0,1", E("fo=0,1 is not a ':'-separated list of 0, 1, d, s"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; fo=1:", E("fo=1: is not a ':'-separated list of 0, 1, d, s"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; psd=x", E("psd=x is not y, n or u"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; t=yes", E("t=yes is not y or n"), MN_OK, 0, -1, -1, "" },
	/* weaker subdomain policies */
	{ "v=DMARC1; p=reject; sp=none", W("sp=none is weaker than p=reject"), MN_OK, 2, 0, -1, "" },
	{ "v=DMARC1; p=quarantine; sp=reject; np=none", W("np=none is weaker than p=quarantine"), MN_OK, 1, 2, 0, "" },
	{ "v=DMARC1; p=reject; sp=quarantine; np=quarantine", W("sp=quarantine is weaker than p=reject")
	  W("np=quarantine is weaker than p=reject"), MN_OK, 2, 1, 1, "" },
	/* removed and unknown tags */
	{ "v=DMARC1; p=none; pct=50", REMOVED("pct"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; pct=101", REMOVED("pct") E("pct=101 is not 0 to 100"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rf=afrf; ri=86400", REMOVED("rf") REMOVED("ri"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; ri=1d", REMOVED("ri") E("ri=1d is not a number of seconds"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; foo=bar", W("unknown tag 'foo' (ignored)"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; P=reject", W("unknown tag 'P' (ignored)"), MN_OK, 0, -1, -1, "" },
	/* report URIs */
	{ "v=DMARC1; p=none; rua=dmarc@example.com", E("rua URI 'dmarc@example.com' is not mailto: or https:"),
	  MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=http://example.com/r", E("rua URI 'http://example.com/r' is not mailto: or https:"),
	  MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; ruf=mailto:example.com", E("ruf URI 'mailto:example.com' is not a valid address (local@domain)"),
	  MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a@localhost", E("rua URI 'mailto:a@localhost' is not a valid address (local@domain)"),
	  MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a..b@example.com",
	  E("rua URI 'mailto:a..b@example.com' is not a valid address (local@domain)"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a b@example.com",
	  E("rua URI 'mailto:a b@example.com' is not a valid address (local@domain)"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a@exa_mple..com",
	  E("rua URI 'mailto:a@exa_mple..com' is not a valid address (local@domain)"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a%2@example.com",
	  E("rua URI 'mailto:a%2@example.com' is not a valid address (local@domain)"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!10x", E("bad size '!10x' in rua URI 'mailto:a@example.com!10x'"),
	  MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!", E("bad size '!' in rua URI 'mailto:a@example.com!'"),
	  MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!99999999999999999999",
	  E("bad size '!99999999999999999999' in rua URI 'mailto:a@example.com!99999999999999999999'"), MN_OK, 0, -1,
	  -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!17179869184t",
	  E("bad size '!17179869184t' in rua URI 'mailto:a@example.com!17179869184t'"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=https:///path", E("rua URI 'https:///path' has no valid host"), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com,,mailto:b@example.org", E("empty URI in rua="), MN_OK, 0, -1, -1,
	  "rua mailto example.com 0, rua mailto example.org 0" },
	{ "v=DMARC1; p=none; rua=", E("empty URI in rua="), MN_OK, 0, -1, -1, "" },
	{ "v=DMARC1; p=none; rua=mailto:x@bad..example, mailto:ok@good.example",
	  E("rua URI 'mailto:x@bad..example' is not a valid address (local@domain)"), MN_OK, 0, -1, -1,
	  "rua mailto good.example 0" },
	/* tag-list syntax */
	{ "v=DMARC1; p=none; p=reject", E("duplicate tag 'p'"), MN_ESYNTAX, 0, 0, 0, NULL },
	{ "v=DMARC1;; p=none", E("empty tag (';;' or a leading ';')"), MN_ESYNTAX, 0, 0, 0, NULL },
	{ "v=DMARC1; p=none; rua mailto:a@example.com", E("'rua mailto:a@example.com' is not tag=value"), MN_ESYNTAX, 0, 0, 0, NULL },
	/* every problem */
	{ "v=DMARC1; sp=none; p=reject; pct=0; adkim=x; rua=ftp://x.example; zz=1",
	  E("p must come second (after v=DMARC1)") REMOVED("pct") E("adkim=x is not r or s")
	  E("rua URI 'ftp://x.example' is not mailto: or https:") W("unknown tag 'zz' (ignored)")
	  W("sp=none is weaker than p=reject"), MN_OK, 2, 0, -1, "" },
};

static char *dump(const dmarc_info_t *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	for (size_t i = 0; i < in->ndests; i++) {
		const dmarc_dest_t *d = &in->dests[i];
		fprintf(f, "%s%s %s %s %llu", i > 0 ? ", " : "", d->ruf ? "ruf" : "rua",
			d->scheme == DMARC_URI_MAILTO ? "mailto" : d->scheme == DMARC_URI_HTTPS ? "https" : "?", d->domain,
			(unsigned long long)d->max_size);
	}
	fclose(f);
	return buf;
}

static void run_case(const dmarc_case_t *c)
{
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	dmarc_info_t info = { .p = 99 };
	int rc = dmarc_record_check(c->text, &POS, d, &info);
	char *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);
	diag_print(d, f);
	fclose(f);
	is_int(rc, c->ret, "'%s': return", c->text);
	is_str(got, c->want, "'%s': diagnostics", c->text);
	if (c->ret == MN_OK) {
		ok(info.p == c->p && info.sp == c->sp && info.np == c->np, "'%s': p %d sp %d np %d (got %d %d %d)",
		   c->text, c->p, c->sp, c->np, info.p, info.sp, info.np);
		if (c->dests != NULL) {
			char *s = dump(&info);
			is_str(s, c->dests, "'%s': destinations", c->text);
			free(s);
		}
		dmarc_info_clear(&info);
	} else {
		ok(info.p == 99 && info.dests == NULL, "'%s': info untouched", c->text);
	}
	free(got);
	diag_free(d);
}

static void test_uri(void)
{
	dmarc_dest_t dest = { 0 };
	is_int(dmarc_uri_check("MAILTO:Reports@Example.COM!5G", "rua", &POS, NULL, &dest), MN_OK, "uri alone");
	is_str(dest.uri, "MAILTO:Reports@Example.COM", "uri without size");
	is_str(dest.domain, "example.com", "domain normalized");
	is_int((long long)dest.max_size, 5LL << 30, "5G");
	ok(!dest.ruf && dest.scheme == DMARC_URI_MAILTO, "rua, mailto");
	dmarc_dest_clear(&dest);
	ok(dest.uri == NULL && dest.domain == NULL, "clear zeroes");
	dmarc_dest_clear(NULL);
	dmarc_info_clear(NULL);

	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	is_int(dmarc_uri_check("mailto:x", "ruf", &POS, d, NULL), MN_ESYNTAX, "bad uri");
	const diag_item_t *it = diag_get(d, 0);
	ok(it != NULL && it->line == 12 && it->col == 3 && it->level == DIAG_ERROR, "error at the given position");
	is_str(it != NULL ? it->msg : NULL, "DMARC: ruf URI 'mailto:x' is not a valid address (local@domain)",
	       "bad uri message");
	is_int(dmarc_uri_check("https://h.example", "rua", &POS, d, NULL), MN_OK, "uri without out");
	is_int(dmarc_uri_check(NULL, "rua", &POS, d, NULL), MN_EINVAL, "NULL uri");
	is_int(dmarc_record_check("v=DMARC1; p=none", &POS, NULL, NULL), MN_EINVAL, "NULL diag");
	is_int((long long)diag_count(d), 1, "only one diagnostic");
	diag_free(d);

	is_int(dmarc_p_parse("QUARANTINE"), DMARC_P_QUARANTINE, "p parse");
	is_int(dmarc_p_parse("no"), -1, "p parse bad");
	is_int(dmarc_p_parse(NULL), -1, "p parse NULL");
}

int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < n; i++)
		run_case(&cases[i]);
	tap_diag("%zu DMARC cases", n);
	test_uri();
	return tap_done();
}
