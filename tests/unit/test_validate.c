/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_validate.c -- the publishing rules at compile time: each diagnostic at the policy position it came from */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/mn.h"
#include "policy/policy.h"
#include "tests/tap/tap.h"
#include "zones/compile.h"
#include "zones/validate.h"
#include "zones/zone.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define ED_KEY "l3GF7d54mh6z+4YMVI32gDp5ovICkdUaS8tSlDg8Kes="
#define RSA1024_KEY "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDGGQuchcKhQ3D/DTu5XNCcOZcn13/ntvw1Dg3zkDqWMBd5p0X8PtFIp56heq82XAaOC6O4Vqd+CHES4i4v86BRY+FS1yk/hYernr7kmCjrLWi4y1OIoNJSKb/GNGtGBrW8tXcfk3TkrAAoU701QrDIp97y9LG+AJzevN7O8NQmcwIDAQAB"

static char tmp[256];

/* The head of every policy: lines 1-6; the domains start on line 7. */
#define HEAD "version: 1\nserver:\n  nameservers: [ns1.example.net.]\n  hostmaster: hostmaster.example.net.\n" \
	     "  state_dir: state\ndomains:\n"

/* One expected diagnostic. */
typedef struct want {
	diag_level_t level;
	uint32_t line, col;	/* 0: no position */
	const char *msg;	/* exact */
} want_t;

static const struct {
	const char *name;
	const char *yaml;
	int rc;			/* zones_compile */
	want_t want[4];
	size_t nwant;
} cases[] = {
	{ "+all at the all value", HEAD "  example.com:\n    spf:\n      mode: plain\n      all: pass\n", MN_EPOLICY,
	  { { DIAG_ERROR, 10, 12, "SPF: '+all' passes every host on the internet (use -all or ~all)" } }, 1 },
	{ "?all is a warning", HEAD "  example.com:\n    spf: { mode: flatten, all: neutral }\n", MN_OK,
	  { { DIAG_WARNING, 8, 32, "SPF: '?all' (neutral) protects nothing (use -all or ~all)" } }, 1 },
	{ "0.0.0.0/0 at its list entry (merged in flatten mode)",
	  HEAD "  example.com:\n    spf:\n      ip4: [192.0.2.0/24,\n            0.0.0.0/0]\n", MN_EPOLICY,
	  { { DIAG_ERROR, 10, 13, "SPF: 'ip4:0.0.0.0/0' passes every IPv4 address (like +all)" } }, 1 },
	{ "0.0.0.0/0 in macro mode: its names are a wildcard, not an SPF term",
	  HEAD "  example.com:\n    spf: { mode: macro, ip4: [0.0.0.0/0] }\n", MN_OK, { { 0 } }, 0 },
	{ "include of a hosted domain without SPF",
	  HEAD "  example.com:\n    spf:\n      include: [spf.example.net,\n                _spf.example.org]\n"
	       "  example.org: {}\n", MN_EPOLICY,
	  { { DIAG_ERROR, 10, 17, "SPF: 'include:_spf.example.org' fails (permerror): _spf.example.org is served "
				  "here (zone _spf.example.org) without an SPF record" } }, 1 },
	{ "include of a hosted domain with SPF is fine",
	  HEAD "  example.com:\n    spf: { include: [_spf.example.org] }\n  example.org:\n    spf: { ip4: [192.0.2.1] }\n",
	  MN_OK, { { 0 } }, 0 },
	{ "three void lookups: a warning each and an error",
	  HEAD "  example.com:\n    spf:\n      mode: plain\n      a: [x._spf.example.com, y._spf.example.com]\n"
	       "      include: [z._dmarc.example.com]\n", MN_EPOLICY,
	  { { DIAG_ERROR, 9, 13, "SPF for example.com has 3 void lookups (limit 2, RFC 7208 §4.6.4)" },
	    { DIAG_WARNING, 10, 11, "SPF: 'a:x._spf.example.com' is a void lookup: x._spf.example.com is served here "
				    "(zone _spf.example.com) without A or AAAA records" },
	    { DIAG_WARNING, 10, 31, "SPF: 'a:y._spf.example.com' is a void lookup: y._spf.example.com is served here "
				    "(zone _spf.example.com) without A or AAAA records" },
	    { DIAG_ERROR, 11, 17, "SPF: 'include:z._dmarc.example.com' fails (permerror): z._dmarc.example.com is "
				  "served here (zone _dmarc.example.com) without an SPF record" } }, 4 },
	{ "a: at a macro name with an address is not void",
	  HEAD "  example.com:\n    spf:\n      mode: macro\n      ip4: [192.0.2.0/24]\n"
	       "      a: [7.2.0.192.in-addr._spf.example.com]\n", MN_OK, { { 0 } }, 0 },
	{ "DKIM weak RSA at the record value",
	  HEAD "  example.com:\n    dkim:\n      selectors:\n        s1: \"v=DKIM1; p=" RSA1024_KEY "\"\n", MN_OK,
	  { { DIAG_WARNING, 10, 13, "DKIM: RSA key of 1024 bits is weak (use 2048 or more)" } }, 1 },
	{ "DKIM second selector bad",
	  HEAD "  example.com:\n    dkim:\n      selectors:\n        s1: \"v=DKIM1; k=ed25519; p=" ED_KEY "\"\n"
	       "        s2: 'v=DKIM1; k=ed25519; h=sha1; p=" ED_KEY "'\n", MN_EPOLICY,
	  { { DIAG_ERROR, 11, 13, "DKIM: h=sha1 allows only sha1, which verifiers reject (RFC 8301 §3.1)" } }, 1 },
	{ "DMARC: the bad rua entry, not the list",
	  HEAD "  example.com:\n    dmarc:\n      p: none\n      rua: [\"mailto:a@example.com\", \"mailto:b\"]\n",
	  MN_EPOLICY, { { DIAG_ERROR, 10, 37, "DMARC: rua URI 'mailto:b' is not a valid address (local@domain)" } }, 1 },
	{ "DMARC: sp and np weaker than p",
	  HEAD "  example.com:\n    dmarc: { p: reject, sp: quarantine, np: none }\n", MN_OK,
	  { { DIAG_WARNING, 8, 29, "DMARC: sp=quarantine is weaker than p=reject (subdomains are less protected)" },
	    { DIAG_WARNING, 8, 45, "DMARC: np=none is weaker than p=reject (non-existent subdomains are less "
				   "protected)" } }, 2 },
	{ "DMARC: foreign destination; hosted and below the domain are fine",
	  HEAD "  example.com:\n    dmarc:\n      p: none\n      ruf: [\"mailto:f@x.example.com\",\n"
	       "            \"mailto:r@example.org\", \"mailto:r@example.net\"]\n  example.org: {}\n", MN_OK,
	  { { DIAG_WARNING, 11, 37, "DMARC: ruf destination example.net is outside example.com: example.net must "
				    "publish example.com._report._dmarc.example.net TXT \"v=DMARC1\" (checked by --dns)" } },
	  1 },
	{ "defaults: one message, not one per domain",
	  "version: 1\nserver:\n  nameservers: [ns1.example.net.]\n  hostmaster: hostmaster.example.net.\n"
	  "defaults:\n  dmarc: { p: none, rua: [\"gopher://x\"] }\ndomains:\n  a.example: {}\n  b.example: {}\n",
	  MN_EPOLICY, { { DIAG_ERROR, 6, 27, "DMARC: rua URI 'gopher://x' is not mailto: or https:" } }, 1 },
	{ "a zone inside another domain's zone",
	  HEAD "  example.com: {}\n  x._spf.example.com: {}\n", MN_EPOLICY,
	  { { DIAG_ERROR, 8, 3, "domain x._spf.example.com would be served inside zone _spf.example.com of domain "
				"example.com (at test.yaml:7:3): a name cannot be in two zones" } }, 1 },
	{ "a label over 63 bytes in a selector owner",
	  HEAD "  example.com:\n    dkim:\n      selectors:\n        "
	       "s234567890123456789012345678901234567890123456789012345678901234: 'v=DKIM1; p='\n", MN_EPOLICY,
	  { { DIAG_ERROR, 10, 9, "invalid selector 's234567890123456789012345678901234567890123456789012345678901234' "
				 "for selectors" } }, 1 },
};

static char *write_policy(const char *yaml)
{
	static char path[300];
	snprintf(path, sizeof(path), "%s/test.yaml", tmp);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(yaml, f) < 0 || fclose(f) != 0)
		tap_bail("cannot write %s", path);
	return path;
}

static void test_cases(void)
{
	if (chdir(tmp) != 0)
		tap_bail("chdir %s", tmp);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		diag_t *d = NULL;
		if (diag_new(&d) != MN_OK)
			tap_bail("diag_new");
		policy_t *p = NULL;
		zones_t *zs = NULL;
		write_policy(cases[i].yaml);
		int r = policy_load("test.yaml", d, &p);
		if (r == MN_OK) {
			compile_opts_t co = { .now = (time_t)1893456000 };
			r = zones_compile(p, &co, d, &zs);
		}
		diag_sort(d);
		is_int(r, cases[i].rc, "%s: return code", cases[i].name);
		if (!is_int((long long)diag_count(d), (long long)cases[i].nwant, "%s: %zu diagnostics", cases[i].name,
			    cases[i].nwant))
			diag_print(d, stderr);
		for (size_t k = 0; k < cases[i].nwant && k < diag_count(d); k++) {
			const diag_item_t *it = diag_get(d, k);
			const want_t *w = &cases[i].want[k];
			is_str(it->msg, w->msg, "%s: message %zu", cases[i].name, k);
			ok(it->level == w->level && it->line == w->line && it->col == w->col &&
			   (w->line == 0 ? it->file == NULL : it->file != NULL && strcmp(it->file, "test.yaml") == 0),
			   "%s: %s at %u:%u (got %s at %u:%u)", cases[i].name, w->level == DIAG_ERROR ? "error" : "warning",
			   w->line, w->col, it->level == DIAG_ERROR ? "error" : "warning", it->line, it->col);
		}
		zones_free(zs);
		policy_free(p);
		diag_free(d);
	}
}

/* The validator API directly: term positions, lookups left to the caller, dedup. */
static void test_spf_record(void)
{
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	validate_t *v = NULL;
	is_int(validate_new(d, &v), MN_OK, "validate_new");
	policy_domain_t dom = { .name = "example.com", .pos = { "p.yaml", 3, 3 } };
	dom.spf.mode.pos = (mn_pos_t){ "p.yaml", 5, 13 };
	mn_pos_t p4 = { "p.yaml", 6, 14 }, pinc = { "p.yaml", 7, 18 }, pall = { "p.yaml", 8, 12 };
	validate_term_t terms[] = {
		{ "ip4:0.0.0.0/0", &p4, NULL }, { "include:a.example", &pinc, NULL }, { "+all", &pall, NULL },
	};
	is_int(validate_spf_record(v, &dom, "v=spf1 ip4:0.0.0.0/0 include:a.example +all", terms, 3), MN_OK,
	       "validate_spf_record");
	/* the same record again (a chained part, a default): nothing new */
	validate_spf_record(v, &dom, "v=spf1 ip4:0.0.0.0/0 include:a.example +all", terms, 3);
	is_int((long long)diag_count(d), 2, "two problems, each once");
	const diag_item_t *a = diag_get(d, 0), *b = diag_get(d, 1);
	ok(a && a->line == 6 && a->col == 14 && a->level == DIAG_ERROR, "ip4:0.0.0.0/0 at its entry");
	ok(b && b->line == 8 && b->col == 12 && b->level == DIAG_ERROR, "+all at the all value");

	/* a network term without a position: found when its message is made, at the widest
	 * policy network inside it (the /0, not the /24 before it) */
	policy_net_t nets[2] = { { .pos = { "p.yaml", 9, 14 } }, { .pos = { "p.yaml", 10, 14 } } };
	mn_net_t gen;
	if (mn_net_parse("192.0.2.0/24", 4, false, &nets[0].net) != MN_OK ||
	    mn_net_parse("0.0.0.0/0", 4, false, &nets[1].net) != MN_OK || mn_net_parse("0.0.0.0/0", 4, false, &gen) != MN_OK)
		tap_bail("mn_net_parse");
	policy_domain_t dn = dom;
	dn.spf.ip4 = (policy_nets_t){ nets, 2, { "p.yaml", 9, 7 } };
	validate_term_t nt[] = { { "ip4:0.0.0.0/0", NULL, &gen } };
	diag_t *d3 = NULL;
	validate_t *v3 = NULL;
	if (diag_new(&d3) != MN_OK || validate_new(d3, &v3) != MN_OK)
		tap_bail("validate_new");
	validate_spf_record(v3, &dn, "v=spf1 ip4:0.0.0.0/0 -all", nt, 1);
	a = diag_count(d3) == 1 ? diag_get(d3, 0) : NULL;
	ok(a && a->line == 10 && a->col == 14 && a->level == DIAG_ERROR,
	   "a network term's position found for its message (got %u:%u)", a ? a->line : 0, a ? a->col : 0);
	validate_free(v3);
	diag_free(d3);

	/* 11 lookup terms in one record: the record's own count is not reported (compile counts from the apex) */
	diag_t *d2 = NULL;
	if (diag_new(&d2) != MN_OK)
		tap_bail("diag_new");
	validate_t *v2 = NULL;
	validate_new(d2, &v2);
	validate_spf_record(v2, &dom,
			    "v=spf1 a mx include:a.x include:b.x include:c.x include:d.x include:e.x include:f.x "
			    "include:g.x include:h.x include:i.x -all", NULL, 0);
	is_int((long long)diag_count(d2), 0, "no lookup message from the record check");
	/* a term longer than a TXT string, at its position; an unknown problem at the mode */
	char longterm[300] = "include:";	/* + a 250-byte name: 258 bytes */
	while (strlen(longterm) < 8 + 240)
		strcat(longterm, "abcdefghi.");
	strcat(longterm, "abcdefghij");
	validate_term_t lt[] = { { longterm, &pinc, NULL } };
	char rec[400];
	snprintf(rec, sizeof(rec), "v=spf1 %s ptr:x.example -all", longterm);
	validate_spf_record(v2, &dom, rec, lt, 1);
	is_int((long long)diag_count(d2), 2, "long term and ptr");
	a = diag_get(d2, 0);
	b = diag_get(d2, 1);
	ok(a && a->line == 7 && a->col == 18 && strstr(a->msg, "bytes, more than one TXT string holds (255)"),
	   "term over 255 bytes at its entry (%s)", a ? a->msg : "");
	ok(b && b->line == 5 && b->col == 13 && b->level == DIAG_WARNING &&
	   strcmp(b->msg, "SPF: 'ptr:x.example': ptr should not be used (RFC 7208 §5.5)") == 0,
	   "a term without a source at the spf mode");
	validate_free(v2);
	diag_free(d2);
	validate_free(v);
	diag_free(d);
}

static void test_dkim_store(void)
{
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	validate_t *v = NULL;
	validate_new(d, &v);
	keystore_pub_t keys[] = {
		{ "mn20300101a", KEY_REVOKED, "v=DKIM1; p=" },
		{ "mn20300101e", KEY_ACTIVE, "v=DKIM1; k=ed25519; p=" ED_KEY },
		{ "mn20300101r", KEY_ACTIVE, "v=DKIM1; k=rsa; p=AAAA" },
	};
	is_int(validate_dkim_store(v, "example.com", keys, N_ELEMS(keys)), MN_OK, "validate_dkim_store");
	is_int((long long)diag_count(d), 1, "one bad key in the store");
	const diag_item_t *it = diag_get(d, 0);
	ok(it && it->file == NULL && it->level == DIAG_ERROR, "without a policy position");
	is_str(it ? it->msg : "",
	       "state_dir/keys/example.com/published: selector mn20300101r: DKIM: p= is not an RSA public key "
	       "(SubjectPublicKeyInfo or RSAPublicKey)",
	       "names the state file and the selector");
	validate_free(v);
	diag_free(d);
	validate_free(NULL);
	is_int(validate_new(NULL, &v), MN_EINVAL, "validate_new(NULL)");
}

/* Errors validate_zones() reports for zs with known (NULL: none given). */
static size_t errors_with(const policy_t *p, const zones_t *zs, const bool *known)
{
	diag_t *d = NULL;
	validate_t *v = NULL;
	if (diag_new(&d) != MN_OK || validate_new(d, &v) != MN_OK)
		tap_bail("validate_new");
	validate_known_zones(v, known);
	if (validate_zones(v, p, zs) != MN_OK)
		tap_bail("validate_zones");
	size_t n = diag_errors(d);
	validate_free(v);
	diag_free(d);
	return n;
}

/*
 * validate_known_zones(): a zone said known (reused from the compile cache,
 * checked by the compile that passed with it) is not read again; the others
 * are, before and after it in the order.
 */
static void test_known_zones(void)
{
	diag_t *d = NULL;
	policy_t *p = NULL;
	if (diag_new(&d) != MN_OK || chdir(tmp) != 0)
		tap_bail("setup");
	write_policy(HEAD "  a.example:\n    dmarc: { p: reject }\n  b.example:\n    dmarc: { p: reject }\n"
		     "  c.example:\n    dmarc: { p: reject }\n");
	if (policy_load("test.yaml", d, &p) != MN_OK)
		tap_bail("policy_load");
	static const char *const apex[] = { "_dmarc.a.example", "_dmarc.b.example", "_dmarc.c.example" };
	zone_t *z[3] = { NULL };
	for (int i = 0; i < 3; i++) {
		/* two DMARC records at each apex: against the one-per-name rule */
		uint8_t soa[300];
		int n1 = mn_name_to_wire("ns1.example.net", soa, 256);
		int n2 = n1 < 0 ? -1 : mn_name_to_wire("h.example.net", soa + n1, 256);
		if (n2 < 0)
			tap_bail("SOA names");
		memset(soa + n1 + n2, 0, 20);
		if (zone_new(apex[i], ZONE_DMARC, apex[i] + 7, &z[i]) != MN_OK ||
		    zone_add_rr(z[i], apex[i], ZONE_T_SOA, 3600, soa, (uint16_t)(n1 + n2 + 20)) != MN_OK ||
		    zone_add_txt(z[i], apex[i], 3600, "v=DMARC1; p=none") != MN_OK ||
		    zone_add_txt(z[i], apex[i], 3600, "v=DMARC1; p=reject") != MN_OK || zone_finish(z[i]) != MN_OK)
			tap_bail("zone %s", apex[i]);
	}
	zones_t zs = { .v = z, .n = 3 };
	bool none[3] = { false, false, false }, mid[3] = { false, true, false }, all[3] = { true, true, true };
	is_int((long long)errors_with(p, &zs, NULL), 3, "no zone known: each one's two DMARC records an error");
	is_int((long long)errors_with(p, &zs, none), 3, "none known: the same");
	is_int((long long)errors_with(p, &zs, mid), 2, "the middle one known: not read, the others are");
	is_int((long long)errors_with(p, &zs, all), 0, "all known: none read");
	for (int i = 0; i < 3; i++)
		zone_unref(z[i]);
	policy_free(p);
	diag_free(d);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/mailns-test-validate.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	test_cases();
	test_spf_record();
	test_dkim_store();
	test_known_zones();
	char path[300];
	snprintf(path, sizeof(path), "%s/test.yaml", tmp);
	unlink(path);
	if (rmdir(tmp) != 0)
		tap_diag("could not remove %s", tmp);
	return tap_done();
}
