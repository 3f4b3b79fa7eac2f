/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_spf.c -- SPF record grammar and publishing rules: exact diagnostics and parse results */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/spf.h"
#include "tests/tap/tap.h"

static const mn_pos_t POS = { "p.yaml", 3, 5 };

#define E(m) "p.yaml:3:5: error: SPF: " m "\n"
#define W(m) "p.yaml:3:5: warning: SPF: " m "\n"
#define SYNTAX "ESYNTAX"	/* spf_record_parse fails */

typedef struct {
	const char *text;
	const char *want;	/* exact diagnostics */
	int ret;		/* of spf_record_check */
	int lookups;		/* -1: do not compare */
	const char *terms;	/* dump of spf_record_parse, or SYNTAX */
} spf_case_t;

static const spf_case_t cases[] = {
	/* well-formed records */
	{ "v=spf1 -all", "", MN_OK, 0, "-all" },
	{ "v=spf1", "", MN_OK, 0, "" },
	{ "v=spf1 ", "", MN_OK, 0, "" },
	{ "V=SPF1 IP4:192.0.2.0/24 ~ALL", "", MN_OK, 0, "+ip4:192.0.2.0/24 ~all" },
	{ "v=spf1  ip4:192.0.2.1   ip6:2001:db8::/32  -all  ", "", MN_OK, 0,
	  "+ip4:192.0.2.1 +ip6:2001:db8::/32 -all" },
	{ "v=spf1 ip6:::ffff:192.0.2.1 -all", "", MN_OK, 0, "+ip6:::ffff:192.0.2.1 -all" },
	{ "v=spf1 include:_spf.example.com mx a -all", "", MN_OK, 3,
	  "+include:_spf.example.com +mx +a -all" },
	{ "v=spf1 a:mail.example.com/24//64 mx/28 mx//48 a:x.example.org. -all", "", MN_OK, 4,
	  "+a:mail.example.com/24//64 +mx/28 +mx//48 +a:x.example.org. -all" },
	{ "v=spf1 a/0 mx//0 ~all", "", MN_OK, 2, "+a/0 +mx//0 ~all" },
	{ "v=spf1 exists:%{i}._spf.%{d} -all", "", MN_OK, 1, "+exists:%{i}._spf.%{d} -all" },
	{ "v=spf1 exists:%{ir}.%{v}._spf.example.com -all", "", MN_OK, 1,
	  "+exists:%{ir}.%{v}._spf.example.com -all" },
	{ "v=spf1 include:%{l1r-}.%{d2}.%{o}.%{h}.%{s}.%{p} -all", "", MN_OK, 1,
	  "+include:%{l1r-}.%{d2}.%{o}.%{h}.%{s}.%{p} -all" },
	{ "v=spf1 exists:%{S}.%{L}.%{D}.example.com -all", "", MN_OK, 1, "+exists:%{S}.%{L}.%{D}.example.com -all" },
	{ "v=spf1 exists:%{i}%%%_%-.%{d} -all", "", MN_OK, 1, "+exists:%{i}%%%_%-.%{d} -all" },
	{ "v=spf1 -all exp=explain.%{d}", "", MN_OK, 0, "-all exp=explain.%{d}" },
	{ "v=spf1 -all exp=%{c}.%{r}.%{t}.x.example", "", MN_OK, 0, "-all exp=%{c}.%{r}.%{t}.x.example" },
	{ "v=spf1 redirect=_spf.example.com", "", MN_OK, 1, "redirect=_spf.example.com" },
	{ "v=spf1 ip4:192.0.2.0/24 include:a.example include:b.example include:c.example "
	  "include:d.example include:e.example include:f.example include:g.example a mx exists:%{i}.x.example -all",
	  "", MN_OK, 10, NULL },
	{ "v=spf1 ?include:x.example -include:y.example ~a +mx -all", "", MN_OK, 4,
	  "?include:x.example -include:y.example ~a +mx -all" },
	/* version */
	{ "v=spf10 -all", E("record must start with 'v=spf1'"), MN_ESYNTAX, -1, SYNTAX },
	{ "spf1 -all", E("record must start with 'v=spf1'"), MN_ESYNTAX, -1, SYNTAX },
	{ " v=spf1 -all", E("record must start with 'v=spf1'"), MN_ESYNTAX, -1, SYNTAX },
	{ "", E("record must start with 'v=spf1'"), MN_ESYNTAX, -1, SYNTAX },
	/* unknown mechanisms and bad terms */
	{ "v=spf1 ipv4:192.0.2.1 -all", E("unknown mechanism 'ipv4:192.0.2.1'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 include.example.com -all", E("unknown mechanism 'include.example.com'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 - -all", E("unknown mechanism '-'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ++all", E("unknown mechanism '++all'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 -all:example.com", E("'all' takes no argument in '-all:example.com'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 include -all", E("'include' needs ':domain' in 'include'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 exists/24 -all", E("'exists' needs ':domain' in 'exists/24'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 include: -all", E("empty domain in 'include:'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ip4 -all", E("'ip4' needs ':network' in 'ip4'"), MN_OK, 0, SYNTAX },
	{ "v=spf1\tip4:192.0.2.1 -all", E("record must start with 'v=spf1'"), MN_ESYNTAX, -1, SYNTAX },
	{ "v=spf1 ip4:192.0.2.1\t-all", E("bad IPv4 address '192.0.2.1\t-all' in 'ip4:192.0.2.1\t-all'"),
	  MN_OK, 0, SYNTAX },
	/* domain-specs */
	{ "v=spf1 include:localhost -all", E("invalid domain 'localhost' in 'include:localhost' (no top-level label)"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 a:192.0.2.1 -all", E("invalid domain '192.0.2.1' in 'a:192.0.2.1' (bad top-level label '1')"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 a:123.4-5 -all", "", MN_OK, 1, "+a:123.4-5 -all" },
	{ "v=spf1 include:a..example.com -all", E("invalid domain 'a..example.com' in 'include:a..example.com' (empty label)"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 include:a!b.example.com -all",
	  E("invalid domain 'a!b.example.com' in 'include:a!b.example.com' (character '!')"), MN_OK, 0, SYNTAX },
	{ "v=spf1 include:x.example- -all",
	  E("invalid domain 'x.example-' in 'include:x.example-' (bad top-level label 'example-')"), MN_OK, 0, SYNTAX },
	{ "v=spf1 include:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example -all",
	  E("invalid domain 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example' in "
	    "'include:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example' (label longer than 63 bytes)"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 include:%{d}com -all", E("invalid domain '%{d}com' in 'include:%{d}com' (no top-level label)"),
	  MN_OK, 0, SYNTAX },
	/* macros */
	{ "v=spf1 exists:%{x}.example.com -all", E("bad macro in 'exists:%{x}.example.com': unknown macro letter 'x'"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 exists:%{i.example.com -all", E("bad macro in 'exists:%{i.example.com': unterminated '%{'"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 exists:%i.example.com -all",
	  E("bad macro in 'exists:%i.example.com': '%' must be followed by '{', '%', '_' or '-'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 exists:%{}.example.com -all", E("bad macro in 'exists:%{}.example.com': empty '%{}'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 exists:%{d0}.example.com -all",
	  E("bad macro in 'exists:%{d0}.example.com': digit transformer 0 in '%{d0}'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 exists:%{d2x}.example.com -all",
	  E("bad macro in 'exists:%{d2x}.example.com': bad transformer or delimiter 'x' in '%{d2x}'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 exists:%{ir.-+,/_=}.example.com -all", "", MN_OK, 1, "+exists:%{ir.-+,/_=}.example.com -all" },
	{ "v=spf1 exists:%{c}.example.com -all",
	  E("macro letter 'c' in 'exists:%{c}.example.com' is only allowed in exp= (RFC 7208 §7.2)"), MN_OK, 0, SYNTAX },
	{ "v=spf1 include:%{r}.example.com redirect=%{t}.example.com",
	  E("macro letter 'r' in 'include:%{r}.example.com' is only allowed in exp= (RFC 7208 §7.2)")
	  E("macro letter 't' in 'redirect=%{t}.example.com' is only allowed in exp= (RFC 7208 §7.2)"), MN_OK, 0, SYNTAX },
	{ "v=spf1 -all exp=%", E("bad macro in 'exp=%': '%' must be followed by '{', '%', '_' or '-'"), MN_OK, 0, SYNTAX },
	/* CIDR */
	{ "v=spf1 ip4:192.0.2.0/33 -all", E("bad IPv4 prefix length '/33' in 'ip4:192.0.2.0/33' (0 to 32)"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ip4:192.0.2.0/024 -all", E("bad IPv4 prefix length '/024' in 'ip4:192.0.2.0/024' (0 to 32)"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 ip4:192.0.2.0/ -all", E("bad IPv4 prefix length '/' in 'ip4:192.0.2.0/' (0 to 32)"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ip6:2001:db8::/129 -all", E("bad IPv6 prefix length '/129' in 'ip6:2001:db8::/129' (0 to 128)"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 ip4:192.0.2 -all", E("bad IPv4 address '192.0.2' in 'ip4:192.0.2'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ip4:2001:db8::1 -all", E("bad IPv4 address '2001:db8::1' in 'ip4:2001:db8::1'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ip6:192.0.2.1 -all", E("bad IPv6 address '192.0.2.1' in 'ip6:192.0.2.1'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ip4:192.0.2.010 -all", E("bad IPv4 address '192.0.2.010' in 'ip4:192.0.2.010'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 a/33 -all", E("bad IPv4 prefix length '/33' in 'a/33' (0 to 32)"), MN_OK, 0, SYNTAX },
	{ "v=spf1 mx:example.com//129 -all", E("bad IPv6 prefix length '//129' in 'mx:example.com//129' (0 to 128)"),
	  MN_OK, 0, SYNTAX },
	{ "v=spf1 a/24/64 -all", E("bad IPv4 prefix length '/64' in 'a/24/64' (0 to 32)"), MN_OK, 0, SYNTAX },
	{ "v=spf1 a/24x -all", E("bad CIDR length in 'a/24x'"), MN_OK, 0, SYNTAX },
	{ "v=spf1 mx:example.com/24/ -all", E("invalid domain 'example.com/24/' in 'mx:example.com/24/' (bad top-level label 'com/24/')"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ip4:192.0.2.1/24 -all", W("'ip4:192.0.2.1/24' has host bits set (means 192.0.2.0/24)"), MN_OK, 0,
	  "+ip4:192.0.2.0/24 -all" },
	{ "v=spf1 ip4:0.0.0.0/0 -all", E("'ip4:0.0.0.0/0' passes every IPv4 address (like +all)"), MN_OK, 0,
	  "+ip4:0.0.0.0/0 -all" },
	{ "v=spf1 ip6:::/0 -all", E("'ip6:::/0' passes every IPv6 address (like +all)"), MN_OK, 0, "+ip6:::/0 -all" },
	/* all, redirect, exp, ptr */
	{ "v=spf1 +all", E("'+all' passes every host on the internet (use -all or ~all)"), MN_OK, 0, "+all" },
	{ "v=spf1 all", E("'all' passes every host on the internet (use -all or ~all)"), MN_OK, 0, "+all" },
	{ "v=spf1 ?all", W("'?all' (neutral) protects nothing (use -all or ~all)"), MN_OK, 0, "?all" },
	{ "v=spf1 -all ip4:192.0.2.1 a", W("'ip4:192.0.2.1' after 'all' is never evaluated")
	  W("'a' after 'all' is never evaluated"), MN_OK, 1, "-all +ip4:192.0.2.1 +a" },
	{ "v=spf1 -all ~all", W("'~all' after 'all' is never evaluated"), MN_OK, 0, "-all ~all" },
	{ "v=spf1 redirect=a.example -all",
	  W("'redirect=a.example' is ignored because the record has 'all' (RFC 7208 §6.1)"), MN_OK, 1, NULL },
	{ "v=spf1 redirect=a.example redirect=b.example", E("redirect= appears more than once (RFC 7208 §6)"),
	  MN_OK, 2, "redirect=a.example redirect=b.example" },
	{ "v=spf1 exp=a.example -all EXP=b.example", E("exp= appears more than once (RFC 7208 §6)"), MN_OK, 0, NULL },
	{ "v=spf1 redirect= -all", E("empty domain in 'redirect='"), MN_OK, 0, SYNTAX },
	{ "v=spf1 ptr -all", W("'ptr': ptr should not be used (RFC 7208 §5.5)"), MN_OK, 1, "+ptr -all" },
	{ "v=spf1 ptr:example.com -all", W("'ptr:example.com': ptr should not be used (RFC 7208 §5.5)"), MN_OK, 1,
	  "+ptr:example.com -all" },
	{ "v=spf1 foo=bar -all", W("unknown modifier 'foo=bar' is ignored (RFC 7208 §6)"), MN_OK, 0, "foo=bar -all" },
	{ "v=spf1 v=spf1 -all", W("unknown modifier 'v=spf1' is ignored (RFC 7208 §6)"), MN_OK, 0, "v=spf1 -all" },
	{ "v=spf1 x-y.z_1=%{x} -all", E("bad macro in 'x-y.z_1=%{x}': unknown macro letter 'x'"), MN_OK, 0, SYNTAX },
	/* lookups */
	{ "v=spf1 include:a.example include:b.example include:c.example include:d.example include:e.example "
	  "include:f.example a mx ptr exists:%{i}.x.example redirect=r.example",
	  W("'ptr': ptr should not be used (RFC 7208 §5.5)")
	  E("11 DNS lookup terms (include a mx ptr exists redirect), more than 10 (RFC 7208 §4.6.4)"), MN_OK, 11, NULL },
	/* several problems: every one is reported, in order */
	{ "v=spf1 ipv4:192.0.2.1 +all ptr a/40 include:x", E("unknown mechanism 'ipv4:192.0.2.1'")
	  E("'+all' passes every host on the internet (use -all or ~all)")
	  W("'ptr' after 'all' is never evaluated") W("'ptr': ptr should not be used (RFC 7208 §5.5)")
	  E("bad IPv4 prefix length '/40' in 'a/40' (0 to 32)")
	  E("invalid domain 'x' in 'include:x' (no top-level label)"), MN_OK, 1, SYNTAX },
};

/* "q kind[:domain|:net][/c4][//c6]" for each term, space-separated (malloc'd). */
static char *dump(const spf_record_t *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	for (size_t i = 0; i < r->n; i++) {
		const spf_term_t *t = &r->terms[i];
		if (i > 0)
			fputc(' ', f);
		if (t->qual != 0)
			fputc(t->qual, f);
		fputs(t->kind == SPF_MODIFIER ? t->name : spf_kind_name(t->kind), f);
		if (t->kind == SPF_IP4 || t->kind == SPF_IP6) {
			char net[64];
			mn_net_format(&t->net, net, sizeof(net));
			fprintf(f, ":%s", net);
			continue;
		}
		if (t->qual == 0)
			fprintf(f, "=%s", t->domain);
		else if (t->domain != NULL)
			fprintf(f, ":%s", t->domain);
		if (t->cidr4 >= 0)
			fprintf(f, "/%d", t->cidr4);
		if (t->cidr6 >= 0)
			fprintf(f, "//%d", t->cidr6);
	}
	fclose(f);
	return buf;
}

static void run_case(const spf_case_t *c)
{
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	spf_info_t info = { .lookups = 99 };
	int rc = spf_record_check(c->text, &POS, d, &info);
	char *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);
	diag_print(d, f);
	fclose(f);
	is_int(rc, c->ret, "check '%s': return", c->text);
	is_str(got, c->want, "check '%s': diagnostics", c->text);
	if (c->lookups >= 0)
		is_int(info.lookups, c->lookups, "check '%s': lookups", c->text);
	free(got);
	diag_free(d);

	if (c->terms == NULL)
		return;
	spf_record_t *r = NULL;
	rc = spf_record_parse(c->text, &r);
	if (strcmp(c->terms, SYNTAX) == 0) {
		is_int(rc, MN_ESYNTAX, "parse '%s' fails", c->text);
		ok(r == NULL, "parse '%s' leaves out alone", c->text);
		return;
	}
	is_int(rc, MN_OK, "parse '%s'", c->text);
	if (r == NULL)
		return;
	char *s = dump(r);
	is_str(s, c->terms, "parse '%s': terms", c->text);
	free(s);
	spf_record_free(r);
}

static void test_info(void)
{
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	spf_info_t in;
	int rc = spf_record_check("v=spf1 ptr exists:%{i}.example.com redirect=x.example ~all exp=e.example", &POS, d,
				  &in);
	is_int(rc, MN_OK, "info record checks");
	is_int(in.terms, 5, "info: terms");
	is_int(in.lookups, 3, "info: lookups (ptr exists redirect)");
	ok(in.has_all && in.all_qual == '~', "info: ~all");
	ok(in.has_redirect && in.has_exp && in.has_ptr && in.has_macro, "info: redirect exp ptr macro");
	is_int((long long)diag_warnings(d), 2, "info: two warnings (ptr, redirect beside all)");
	diag_free(d);

	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	rc = spf_record_check("v=spf1 ip4:192.0.2.0/24", &POS, d, &in);
	ok(rc == MN_OK && !in.has_all && in.all_qual == 0 && !in.has_macro && in.terms == 1, "info: no all");
	is_int(spf_record_check(NULL, &POS, d, &in), MN_EINVAL, "NULL text");
	is_int(spf_record_check("v=spf1", &POS, NULL, &in), MN_EINVAL, "NULL diag");
	is_int((long long)diag_count(d), 0, "no diagnostics for EINVAL");
	diag_free(d);

	/* parse results in detail */
	spf_record_t *r = NULL;
	rc = spf_record_parse("v=spf1 -ip6:2001:DB8::/48 mx:m.example/24//64 foo=%{d} -all", &r);
	is_int(rc, MN_OK, "parse detail");
	if (r != NULL && r->n == 4) {
		is_int(r->terms[0].kind, SPF_IP6, "ip6 kind");
		is_int(r->terms[0].net.family, 6, "ip6 family");
		is_int(r->terms[0].net.prefix, 48, "ip6 prefix");
		is_int(r->terms[0].qual, '-', "ip6 qualifier");
		is_str(r->terms[0].text, "-ip6:2001:DB8::/48", "text as written");
		is_str(r->terms[1].domain, "m.example", "mx domain without cidr");
		ok(r->terms[1].cidr4 == 24 && r->terms[1].cidr6 == 64, "mx dual cidr");
		ok(r->terms[2].kind == SPF_MODIFIER && r->terms[2].has_macro, "unknown modifier with macro");
		is_str(r->terms[2].name, "foo", "modifier name");
		ok(r->terms[3].kind == SPF_ALL && r->terms[3].domain == NULL, "all");
	} else {
		ok(0, "parse detail: 4 terms");
	}
	spf_record_free(r);
	spf_record_free(NULL);
	is_int(spf_record_parse(NULL, &r), MN_EINVAL, "parse NULL");
	is_str(spf_kind_name(SPF_EXISTS), "exists", "kind name");

	/* a literal name longer than 253 bytes */
	char big[400] = "v=spf1 include:";
	for (int i = 0; i < 5; i++)
		strcat(big, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
	strcat(big, "example");
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	spf_record_check(big, &POS, d, NULL);
	is_int((long long)diag_errors(d), 1, "name > 253 is an error");
	const diag_item_t *it = diag_get(d, 0);
	ok(it != NULL && strstr(it->msg, "is longer than 253 bytes") != NULL, "name > 253 message: %s",
	   it != NULL ? it->msg : "(none)");
	diag_free(d);
}

int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < n; i++)
		run_case(&cases[i]);
	tap_diag("%zu SPF cases", n);
	test_info();
	return tap_done();
}
