/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_policy.c -- policy_load: every diagnostic with its position, and the typed model */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/schema.h"
#include "tests/tap/tap.h"

static char tmp[PATH_MAX];
static char srcdir[PATH_MAX];

/* Writes name (relative to the temp dir, which is the cwd) with its directories. */
static void put(const char *name, const char *text)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", name);
	for (char *s = strchr(dir, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(dir, 0755);
		*s = '/';
	}
	FILE *f = fopen(name, "w");
	if (f == NULL)
		tap_bail("cannot write %s", name);
	fputs(text, f);
	fclose(f);
}

/* Loads name; returns the sorted diagnostics as `mailns check` prints them (malloc'd). */
static char *load(const char *name, int *ret, policy_t **out)
{
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;
	*ret = policy_load(name, d, &p);
	diag_sort(d);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	diag_print(d, f);
	fclose(f);
	diag_free(d);
	if (out != NULL)
		*out = p;
	else
		policy_free(p);
	return buf;
}

#define HEAD "version: 1\nserver:\n  nameservers: [ns1.example.net]\n  hostmaster: h.example.net\n"

typedef struct {
	const char *what;
	const char *yaml;
	const char *want;	/* exact diagnostics */
	int ret;
} diag_case_t;

static const diag_case_t diag_cases[] = {
	{ "minimal policy is clean", HEAD "domains:\n  example.com:\n    dmarc: { p: none }\n", "", MN_OK },
	{ "unknown top-level key", HEAD "domainz: {}\n", "p.yaml:5:1: error: unknown key 'domainz'\n", MN_EPOLICY },
	{ "unknown server key at its column", HEAD "  tll: 5\n", "p.yaml:5:3: error: unknown key 'tll'\n", MN_EPOLICY },
	{ "unknown domain key", HEAD "domains:\n  example.com:\n    spf: {}\n    dkimm: {}\n",
	  "p.yaml:8:5: error: unknown key 'dkimm'\n", MN_EPOLICY },
	{ "unknown spf key", HEAD "domains:\n  example.com:\n    spf:\n      ip5: []\n",
	  "p.yaml:8:7: error: unknown key 'ip5'\n", MN_EPOLICY },
	{ "unknown dkim key in flow map", HEAD "domains:\n  a.example: { dkim: { rotate: 1d } }\n",
	  "p.yaml:6:24: error: unknown key 'rotate'\n", MN_EPOLICY },
	{ "unknown key in defaults", HEAD "defaults:\n  dmarc: { p: none }\n  spff: {}\n",
	  "p.yaml:7:3: error: unknown key 'spff'\n", MN_EPOLICY },
	{ "unknown key in a tsig entry", HEAD "  transfer:\n    tsig:\n      k1: { secret_file: /k, algo: x }\n",
	  "p.yaml:7:30: error: unknown key 'algo'\n", MN_EPOLICY },
	{ "version missing", "server:\n  nameservers: [ns1.example.net]\n  hostmaster: h.example.net\n",
	  "p.yaml:1:1: error: missing required key 'version'\n", MN_EPOLICY },
	{ "version 2", "version: 2\nserver:\n  nameservers: [ns1.example.net]\n  hostmaster: h.example.net\n",
	  "p.yaml:1:10: error: unsupported version '2' (expected 1)\n", MN_EPOLICY },
	{ "server missing", "version: 1\ndomains: {}\n",
	  "p.yaml:1:1: error: missing required key 'server'\n", MN_EPOLICY },
	{ "nameservers and hostmaster missing", "version: 1\nserver:\n  ttl: 60\n",
	  "p.yaml:2:1: error: missing required key 'nameservers' in server\n"
	  "p.yaml:2:1: error: missing required key 'hostmaster' in server\n", MN_EPOLICY },
	{ "empty nameservers", "version: 1\nserver:\n  nameservers: []\n  hostmaster: h.example\n",
	  "p.yaml:3:16: error: empty list for nameservers\n", MN_EPOLICY },
	{ "nameservers and listen without a value", "version: 1\nserver:\n  nameservers:\n  listen:\n  hostmaster: h.example\n",
	  "p.yaml:3:3: error: missing value for nameservers\n"
	  "p.yaml:4:3: error: missing value for listen\n", MN_EPOLICY },
	{ "empty algorithm list", HEAD "domains:\n  a.example:\n    dkim: { algorithm: [] }\n",
	  "p.yaml:7:24: error: empty list for algorithm\n", MN_EPOLICY },
	{ "non-scalar mapping key", HEAD "? [a]\n: b\n", "p.yaml:5:3: error: mapping keys must be strings\n", MN_EPOLICY },
	{ "wildcard domain", HEAD "domains:\n  '*.example': {}\n",
	  "p.yaml:6:3: error: invalid domain name '*.example'\n", MN_EPOLICY },
	{ "server not a mapping", "version: 1\nserver: 5\n",
	  "p.yaml:2:9: error: expected a mapping for server\n", MN_EPOLICY },
	{ "top level not a mapping", "- a\n- b\n", "p.yaml:1:1: error: expected a mapping\n", MN_EPOLICY },
	{ "empty file", "", "p.yaml:1:1: error: missing required key 'version'\n"
	  "p.yaml:1:1: error: missing required key 'server'\n", MN_EPOLICY },
	{ "list expected", HEAD "domains:\n  a.example:\n    spf: { ip4: 192.0.2.1 }\n",
	  "p.yaml:7:17: error: expected a list for ip4\n", MN_EPOLICY },
	{ "number expected", HEAD "  tcp_max_clients: [1]\n",
	  "p.yaml:5:20: error: expected a number for tcp_max_clients\n", MN_EPOLICY },
	{ "bad number", HEAD "  tcp_max_clients: 0x10\n",
	  "p.yaml:5:20: error: invalid number '0x10' for tcp_max_clients\n", MN_EPOLICY },
	{ "number out of range", HEAD "  tcp_max_per_ip: 0\n",
	  "p.yaml:5:19: error: value '0' out of range for tcp_max_per_ip (at least 1)\n", MN_EPOLICY },
	{ "string expected", HEAD "domains:\n  a.example:\n    dkim: { on_change: { x: 1 } }\n",
	  "p.yaml:7:24: error: expected a string for on_change\n", MN_EPOLICY },
	{ "missing value", HEAD "  ttl:\n", "p.yaml:5:3: error: missing value for ttl\n", MN_EPOLICY },
	{ "bad duration", HEAD "domains:\n  a.example:\n    dkim:\n      rotate_every: 9x\n",
	  "p.yaml:8:21: error: invalid duration '9x' for rotate_every\n", MN_EPOLICY },
	{ "bad CIDR", HEAD "domains:\n  a.example:\n    spf: { ip4: [192.0.2.0/33] }\n",
	  "p.yaml:7:18: error: invalid network '192.0.2.0/33' for ip4\n", MN_EPOLICY },
	{ "host bits set", HEAD "domains:\n  a.example:\n    spf: { ip4: [192.0.2.1/24] }\n",
	  "p.yaml:7:18: error: invalid network '192.0.2.1/24' for ip4 (host bits set)\n", MN_EPOLICY },
	{ "wrong family", HEAD "domains:\n  a.example:\n    spf: { ip6: [192.0.2.0/24] }\n",
	  "p.yaml:7:18: error: invalid network '192.0.2.0/24' for ip6 (not IPv6)\n", MN_EPOLICY },
	/* the family is told before the host bits; the good networks around the bad ones are kept */
	{ "wrong family, host bits", HEAD "domains:\n  a.example:\n    spf: { ip6: ['2001:db8::/32', 192.0.2.1/24], ip4: [2001:db8::1/32, 192.0.2.0/24] }\n",
	  "p.yaml:7:35: error: invalid network '192.0.2.1/24' for ip6 (not IPv6)\n"
	  "p.yaml:7:56: error: invalid network '2001:db8::1/32' for ip4 (not IPv4)\n", MN_EPOLICY },
	{ "host bits, v6", HEAD "domains:\n  a.example:\n    spf: { ip6: ['2001:db8::1/32', 'x:y'] }\n",
	  "p.yaml:7:18: error: invalid network '2001:db8::1/32' for ip6 (host bits set)\n"
	  "p.yaml:7:36: error: invalid network 'x:y' for ip6\n", MN_EPOLICY },
	{ "bad domain name key", HEAD "domains:\n  a..b: {}\n",
	  "p.yaml:6:3: error: invalid domain name 'a..b'\n", MN_EPOLICY },
	{ "bad name in a list", HEAD "domains:\n  a.example:\n    spf: { include: [ok.example, 'x y'] }\n",
	  "p.yaml:7:34: error: invalid domain name 'x y' for include\n", MN_EPOLICY },
	{ "bad enum", HEAD "domains:\n  a.example:\n    dmarc: { p: rejekt }\n",
	  "p.yaml:7:17: error: unknown value 'rejekt' for p (expected none, quarantine, reject)\n", MN_EPOLICY },
	{ "bad boolean", HEAD "domains:\n  a.example:\n    spf: { mx: maybe }\n",
	  "p.yaml:7:16: error: invalid boolean 'maybe' for mx (expected true or false)\n", MN_EPOLICY },
	{ "bad fo", HEAD "domains:\n  a.example:\n    dmarc: { p: none, fo: '1:x' }\n",
	  "p.yaml:7:27: error: invalid value '1:x' for fo (expected 0, 1, d or s, separated by ':')\n", MN_EPOLICY },
	{ "pct out of range", HEAD "domains:\n  a.example:\n    dmarc: { p: none, pct: 101 }\n",
	  "p.yaml:7:23: warning: pct was removed by RFC 9989 and is ignored by receivers\n"
	  "p.yaml:7:28: error: value '101' out of range for pct (0..100)\n", MN_EPOLICY },
	{ "pct rf ri: warnings only", HEAD "domains:\n  a.example:\n    dmarc:\n      p: none\n      pct: 50\n"
	  "      rf: afrf\n      ri: 1d\n",
	  "p.yaml:9:7: warning: pct was removed by RFC 9989 and is ignored by receivers\n"
	  "p.yaml:10:7: warning: rf was removed by RFC 9989 and is ignored by receivers\n"
	  "p.yaml:11:7: warning: ri was removed by RFC 9989 and is ignored by receivers\n", MN_OK },
	{ "duplicate algorithm", HEAD "domains:\n  a.example:\n    dkim: { algorithm: [ed25519, ed25519] }\n",
	  "p.yaml:7:34: error: duplicate value 'ed25519' for algorithm\n", MN_EPOLICY },
	{ "bad selector", HEAD "domains:\n  a.example:\n    dkim:\n      selectors: { 'a b': 'v=DKIM1; p=' }\n",
	  "p.yaml:8:20: error: invalid selector 'a b' for selectors\n", MN_EPOLICY },
	{ "yaml syntax error", HEAD "domains:\n  a.example: b: c\n",
	  "p.yaml:6:15: error: mapping values are not allowed in this context\n", MN_EPOLICY },
	{ "yaml tab indentation", HEAD "domains:\n\ta.example: {}\n",
	  "p.yaml:6:1: error: found character that cannot start any token\n", MN_EPOLICY },
	{ "alias", HEAD "defaults:\n  dmarc: &d { p: none }\ndomains:\n  a.example:\n    dmarc: *d\n",
	  "p.yaml:9:12: error: aliases are not supported\n", MN_EPOLICY },
	{ "duplicate key", HEAD "  ttl: 60\n  ttl: 70\n",
	  "p.yaml:6:3: error: duplicate key 'ttl' (first at 5:3)\n", MN_EPOLICY },
	{ "duplicate keys in a mapping of more than 16 (found through the map)", HEAD "domains:\n"
	  "  d0.example: {}\n"
	  "  d1.example: {}\n"
	  "  d2.example: {}\n"
	  "  d3.example: {}\n"
	  "  d4.example: {}\n"
	  "  d5.example: {}\n"
	  "  d6.example: {}\n"
	  "  d7.example: {}\n"
	  "  d8.example: {}\n"
	  "  d9.example: {}\n"
	  "  d10.example: {}\n"
	  "  d11.example: {}\n"
	  "  d12.example: {}\n"
	  "  d13.example: {}\n"
	  "  d14.example: {}\n"
	  "  d15.example: {}\n"
	  "  d16.example: {}\n"
	  "  d17.example: {}\n"
	  "  d18.example: {}\n"
	  "  d19.example: {}\n"
	  "  d3.example: {}\n  d17.example: {}\n  d3.example: {}\n",
	  "p.yaml:26:3: error: duplicate key 'd3.example' (first at 9:3)\n"
	  "p.yaml:27:3: error: duplicate key 'd17.example' (first at 23:3)\n"
	  "p.yaml:28:3: error: duplicate key 'd3.example' (first at 9:3)\n", MN_EPOLICY },
	{ "duplicate domain in one file, after normalization", HEAD "domains:\n  a.example: {}\n  A.Example.: {}\n",
	  "p.yaml:7:3: error: domain 'a.example' defined twice (first at p.yaml:6:3)\n", MN_EPOLICY },
	{ "second document", HEAD "---\nversion: 1\n",
	  "p.yaml:5:1: error: multiple documents are not supported\n", MN_EPOLICY },
	{ "tsig key not defined", HEAD "  transfer:\n    allow: ['key:xfr9', 192.0.2.0/24]\n",
	  "p.yaml:6:13: error: unknown TSIG key 'xfr9' in allow (not in transfer.tsig)\n", MN_EPOLICY },
	{ "tsig secret_file missing", HEAD "  transfer:\n    tsig:\n      k1: { algorithm: hmac-sha256 }\n",
	  "p.yaml:7:7: error: missing required key 'secret_file' in k1\n", MN_EPOLICY },
	{ "bad listen address", HEAD "  listen: ['127.0.0.1:99999', '::1', 'localhost:53']\n",
	  "p.yaml:5:12: error: invalid address '127.0.0.1:99999' for listen (expected ADDRESS[:PORT] or [IPV6][:PORT])\n"
	  "p.yaml:5:38: error: invalid address 'localhost:53' for listen (expected ADDRESS[:PORT] or [IPV6][:PORT])\n",
	  MN_EPOLICY },
	{ "missing include file", HEAD "include: [nothere.yaml]\n",
	  "p.yaml:5:11: error: cannot read include 'nothere.yaml' (No such file or directory)\n", MN_EPOLICY },
	{ "several errors, all reported", HEAD "  ttl: 1y\ndomains:\n  a.example:\n    spf: { all: none }\n"
	  "    dmarc: { p: none, adkim: x }\n  b..example: {}\n",
	  "p.yaml:5:8: error: invalid duration '1y' for ttl\n"
	  "p.yaml:8:17: error: unknown value 'none' for all (expected fail, softfail, neutral, pass)\n"
	  "p.yaml:9:30: error: unknown value 'x' for adkim (expected r, s)\n"
	  "p.yaml:10:3: error: invalid domain name 'b..example'\n", MN_EPOLICY },
};

static void test_diag_cases(void)
{
	for (size_t i = 0; i < sizeof(diag_cases) / sizeof(diag_cases[0]); i++) {
		const diag_case_t *c = &diag_cases[i];
		put("p.yaml", c->yaml);
		int ret;
		policy_t *p = (policy_t *)&ret;	/* must stay untouched on failure */
		diag_t *d = NULL;
		if (diag_new(&d) != MN_OK)
			tap_bail("diag_new");
		ret = policy_load("p.yaml", d, &p);
		diag_free(d);
		if (ret == MN_OK)
			policy_free(p);
		else
			ok(p == (policy_t *)&ret, "%s: *out untouched on failure", c->what);
		char *got = load("p.yaml", &ret, NULL);
		is_str(got, c->want, "%s: diagnostics", c->what);
		is_int(ret, c->ret, "%s: returns %d", c->what, c->ret);
		free(got);
	}
}

static void test_model(void)
{
	put("m.yaml",
	    "version: 1\n"					/* 1 */
	    "server:\n"						/* 2 */
	    "  listen: ['[::1]:5353', 192.0.2.1]\n"		/* 3 */
	    "  nameservers: [NS1.Example.NET., ns2.example.net]\n" /* 4 */
	    "  hostmaster: hostmaster.example.net.\n"		/* 5 */
	    "  state_dir: state\n"				/* 6 */
	    "  tcp_idle_timeout: 2m\n"				/* 7 */
	    "  transfer:\n"					/* 8 */
	    "    allow: [192.0.2.53/32, 'key:xfr1']\n"	/* 9 */
	    "    tsig: { xfr1: { secret_file: keys/x.key } }\n" /* 10 */
	    "include: ['d/*.yaml']\n"				/* 11 */
	    "defaults:\n"					/* 12 */
	    "  dmarc: { p: quarantine, rua: ['mailto:d@example.net'] }\n" /* 13 */
	    "  dkim: { algorithm: ed25519 }\n"			/* 14 */
	    "domains:\n"					/* 15 */
	    "  Zeta.Example.:\n"				/* 16 */
	    "    dmarc:\n"					/* 17 */
	    "      rua: ['mailto:z@example.com']\n"		/* 18 */
	    "      t: y\n"					/* 19 */
	    "    spf:\n"					/* 20 */
	    "      ip4: [192.0.2.0/24, 198.51.100.7]\n"	/* 21 */
	    "      ip6: ['2001:db8::/48']\n"			/* 22 */
	    "      all: '~all'\n"				/* 23 */
	    "      mx: yes\n"					/* 24 */
	    "    dkim:\n"					/* 25 */
	    "      rotate_every: 30d\n"			/* 26 */
	    "      selectors: { Google: 'v=DKIM1; k=rsa; p=AAAA' }\n" /* 27 */
	    "  alpha.example: {}\n");				/* 28 */
	put("d/b.yaml", "domains:\n  mid.example:\n    spf: { mode: macro, ip4: [203.0.113.0/24] }\n");
	put("d/a.yaml", "# first by name\ndomains:\n  beta.example:\n    dmarc: { p: reject }\n");
	int ret;
	policy_t *p;
	char *got = load("m.yaml", &ret, &p);
	is_str(got, "", "model policy loads without diagnostics");
	free(got);
	if (!ok(ret == MN_OK && p != NULL, "model policy: MN_OK")) {
		return;
	}
	const policy_server_t *s = &p->server;
	char want[PATH_MAX + 64];

	is_str(p->path, "m.yaml", "path as given");
	is_str(p->dir, tmp, "dir is absolute");
	is_int((long long)p->nfiles, 3, "three files read");
	is_str(p->files[1], "d/a.yaml", "includes in sorted glob order (1)");
	is_str(p->files[2], "d/b.yaml", "includes in sorted glob order (2)");
	is_int((long long)p->nincludes, 1, "one include pattern kept");
	snprintf(want, sizeof(want), "%s/d/*.yaml", tmp);
	is_str(p->nincludes > 0 ? p->includes[0].pattern : NULL, want, "include pattern made absolute");
	is_str(p->nincludes > 0 ? p->includes[0].pos.file : NULL, "m.yaml", "include pattern's file");
	is_int(p->nincludes > 0 ? p->includes[0].pos.line * 100 + p->includes[0].pos.col : 0, 1111,
	       "include pattern's position 11:11");

	is_int((long long)s->listen.n, 2, "two listen addresses");
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&s->listen.v[0].addr;
	is_int(a6->sin6_family, AF_INET6, "[::1]:5353 is IPv6");
	is_int(ntohs(a6->sin6_port), 5353, "[::1]:5353 port");
	ok(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr), "[::1]:5353 is ::1");
	is_int(s->listen.v[0].addrlen, sizeof(struct sockaddr_in6), "IPv6 addrlen");
	is_str(s->listen.v[0].text, "[::1]:5353", "listen text as written");
	is_int(s->listen.v[0].pos.line * 100 + s->listen.v[0].pos.col, 312, "listen position 3:12");
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&s->listen.v[1].addr;
	is_int(a4->sin_family, AF_INET, "192.0.2.1 is IPv4");
	is_int(ntohs(a4->sin_port), 53, "no port: 53");
	is_int(ntohl(a4->sin_addr.s_addr), 0xc0000201, "192.0.2.1 address");

	is_int((long long)s->nameservers.n, 2, "two nameservers");
	is_str(s->nameservers.v[0].v, "ns1.example.net", "nameserver normalized");
	is_int(s->nameservers.v[1].pos.col, 35, "second nameserver column");
	is_str(s->hostmaster.v, "hostmaster.example.net", "hostmaster normalized");
	snprintf(want, sizeof(want), "%s/state", tmp);
	is_str(s->state_dir.v, want, "relative state_dir made absolute");
	is_int(s->tcp_idle_timeout.v, 120, "tcp_idle_timeout 2m = 120 s");
	is_int(s->ttl.v, 3600, "ttl built-in default");
	ok(!POLICY_SET(s->ttl), "built-in default has no position");
	is_int(s->negative_ttl.v, 300, "negative_ttl default");
	is_int(s->tcp_max_clients.v, 1000, "tcp_max_clients default");
	is_int(s->tcp_max_per_ip.v, 32, "tcp_max_per_ip default");
	is_int((long long)s->transfer.allow.n, 2, "two allow entries");
	is_str(s->transfer.allow.v[1].v, "key:xfr1", "allow key entry as written");
	is_int((long long)s->transfer.tsig.n, 1, "one tsig key");
	is_str(s->transfer.tsig.v[0].name, "xfr1", "tsig key name");
	is_str(s->transfer.tsig.v[0].algorithm.v, "hmac-sha256", "tsig algorithm default");
	snprintf(want, sizeof(want), "%s/keys/x.key", tmp);
	is_str(s->transfer.tsig.v[0].secret_file.v, want, "tsig secret_file absolute");

	is_int((long long)p->ndomains, 4, "four domains");
	const char *order[] = { "alpha.example", "beta.example", "mid.example", "zeta.example" };
	for (size_t i = 0; i < 4 && i < p->ndomains; i++)
		is_str(p->domains[i].name, order[i], "domain %zu sorted by name", i);

	const policy_domain_t *z = policy_domain_find(p, "zeta.example");
	if (!ok(z != NULL, "find zeta.example (written Zeta.Example.)"))
		goto done;
	is_int(z->pos.line * 100 + z->pos.col, 1603, "domain position 16:3");
	ok(z->dmarc.present, "dmarc present");
	is_int(z->dmarc.p.v, DMARC_P_QUARANTINE, "dmarc.p merged from defaults");
	is_int(z->dmarc.p.pos.line * 100 + z->dmarc.p.pos.col, 1315, "merged p points at defaults 13:15");
	is_str(z->dmarc.p.pos.file, "m.yaml", "merged p file");
	is_int((long long)z->dmarc.rua.n, 1, "domain rua replaces defaults' rua");
	is_str(z->dmarc.rua.v[0].v, "mailto:z@example.com", "domain rua");
	is_int(z->dmarc.rua.v[0].pos.line, 18, "domain rua line");
	ok(z->dmarc.t.v && POLICY_SET(z->dmarc.t), "t: y is true");
	ok(!POLICY_SET(z->dmarc.sp), "sp unset");
	ok(z->spf.present, "spf present");
	is_int(z->spf.mode.v, SPF_MODE_FLATTEN, "spf mode default flatten");
	is_int(z->spf.all.v, SPF_ALL_SOFTFAIL, "'~all' is softfail");
	ok(z->spf.mx.v, "mx: yes");
	is_int((long long)z->spf.ip4.n, 2, "two ip4 nets");
	static const uint8_t net0[4] = { 192, 0, 2, 0 };
	is_int(z->spf.ip4.v[0].net.family, 4, "ip4 family");
	is_int(z->spf.ip4.v[0].net.prefix, 24, "ip4 prefix");
	tap_is_mem(z->spf.ip4.v[0].net.addr, 4, net0, 4, "ip4 address");
	is_int(z->spf.ip4.v[1].net.prefix, 32, "single address is /32");
	is_int(z->spf.ip4.v[1].pos.line * 100 + z->spf.ip4.v[1].pos.col, 2127, "second net position 21:27");
	is_int(z->spf.ip6.v[0].net.prefix, 48, "ip6 prefix");
	ok(z->dkim.present, "dkim present");
	is_int((long long)z->dkim.algorithm.n, 1, "algorithm from defaults: one");
	is_int(z->dkim.algorithm.v[0].v, DKIM_ALG_ED25519, "algorithm from defaults: ed25519");
	is_int(z->dkim.algorithm.pos.line, 14, "algorithm position in defaults");
	is_int(z->dkim.rotate_every.v, 30 * 86400, "rotate_every 30d");
	is_int(z->dkim.publish_ahead.v, 3 * 86400, "publish_ahead default 3d");
	is_int(z->dkim.retire_after.v, 7 * 86400, "retire_after default 7d");
	is_int(z->dkim.revoked_for.v, 30 * 86400, "revoked_for default 30d");
	is_int((long long)z->dkim.selectors.n, 1, "one selector");
	is_str(z->dkim.selectors.v[0].name.v, "google", "selector name lowercased");
	is_str(z->dkim.selectors.v[0].record.v, "v=DKIM1; k=rsa; p=AAAA", "selector record as written");

	const policy_domain_t *a = policy_domain_find(p, "alpha.example");
	if (ok(a != NULL, "find alpha.example")) {
		ok(!a->spf.present, "no spf map anywhere: not present");
		ok(a->dmarc.present, "dmarc present through defaults");
		is_int(a->dmarc.p.v, DMARC_P_QUARANTINE, "defaults p");
		is_str(a->dmarc.rua.v[0].v, "mailto:d@example.net", "defaults rua");
		is_int((long long)a->dkim.algorithm.n, 1, "one algorithm");
	}
	const policy_domain_t *m = policy_domain_find(p, "mid.example");
	if (ok(m != NULL, "find mid.example (included)")) {
		is_str(m->pos.file, "d/b.yaml", "included domain position names its file");
		is_int(m->pos.line * 100 + m->pos.col, 203, "included domain at 2:3");
		is_str(m->spf.ip4.v[0].pos.file, "d/b.yaml", "included value position names its file");
		is_int(m->spf.mode.v, SPF_MODE_MACRO, "mode macro");
	}
	const policy_domain_t *b = policy_domain_find(p, "beta.example");
	if (ok(b != NULL, "find beta.example")) {
		is_int(b->dmarc.p.v, DMARC_P_REJECT, "own p wins over defaults");
		is_str(b->dmarc.p.pos.file, "d/a.yaml", "own p position file");
		is_int(b->dmarc.p.pos.line, 4, "own p position line");
	}
	ok(policy_domain_find(p, "nope.example") == NULL, "absent domain: NULL");
	ok(policy_domain_find(p, "Zeta.Example") == NULL, "find takes the normalized name");
done:
	policy_free(p);
}

static void test_include_errors(void)
{
	put("i.yaml", HEAD "include: ['inc/*.yaml']\ndomains:\n  dup.example: {}\n");
	put("inc/x.yaml", "domains:\n  other.example: {}\n  DUP.example.: {}\nserver: {}\n");
	int ret;
	char *got = load("i.yaml", &ret, NULL);
	is_str(got, "inc/x.yaml:3:3: error: domain 'dup.example' defined twice (first at i.yaml:7:3)\n"
		    "inc/x.yaml:4:1: error: unknown key 'server'\n",
	       "duplicate domain across files and a non-domains key in an included file");
	is_int(ret, MN_EPOLICY, "fails");
	free(got);

	put("j.yaml", HEAD "include: ['inc2/*.yaml', 'j.yaml', inc2/y.yaml]\n");
	put("inc2/y.yaml", "domains:\n  y.example: {}\n");
	policy_t *p = NULL;
	got = load("j.yaml", &ret, &p);
	is_str(got, "", "a glob matching nothing, the policy itself and a file twice: read once, no error");
	if (ok(ret == MN_OK && p != NULL, "loads")) {
		is_int((long long)p->nfiles, 2, "two files read");
		is_int((long long)p->ndomains, 1, "one domain");
	}
	policy_free(p);
	free(got);

	put("k.yaml", HEAD "include: [inc3/bad.yaml]\n");
	put("inc3/bad.yaml", "domains:\n  a.example: { spf: { all: fial } }\n  b.example: [\n");
	got = load("k.yaml", &ret, NULL);
	is_str(got, "inc3/bad.yaml:4:1: error: did not find expected node content\n",
	       "syntax error in an included file names that file");
	free(got);

	got = load("absent.yaml", &ret, NULL);
	is_str(got, "error: cannot read 'absent.yaml' (No such file or directory)\n", "missing policy file");
	is_int(ret, MN_ENOENT, "missing policy file: MN_ENOENT");
	free(got);
}

static void test_names(void)
{
	is_str(policy_spf_mode_name(SPF_MODE_AUTO), "auto", "spf mode name");
	is_str(policy_spf_all_name(SPF_ALL_NEUTRAL), "neutral", "spf all name");
	is_str(policy_spf_all_name(SPF_ALL_PASS), "pass", "spf all pass name");
	is_str(policy_dkim_alg_name(DKIM_ALG_RSA2048), "rsa-2048", "dkim alg name");
	is_str(policy_dkim_alg_name(DKIM_ALG_ED25519), "ed25519", "ed25519 name");
	is_str(policy_dmarc_p_name(DMARC_P_QUARANTINE), "quarantine", "dmarc p name");
	policy_free(NULL);
	ok(policy_domain_find(NULL, "x") == NULL, "find in NULL policy");
}

static void test_example(void)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/examples/policy.yaml", srcdir);
	int ret;
	policy_t *p = NULL;
	char *got = load(path, &ret, &p);
	is_str(got, "", "examples/policy.yaml loads cleanly");
	free(got);
	if (!ok(ret == MN_OK && p != NULL, "examples/policy.yaml: MN_OK"))
		return;
	is_int((long long)p->ndomains, 4, "example: four domains");
	is_int((long long)p->nfiles, 2, "example: policy + domains.d/hosted.yaml");
	is_str(p->server.state_dir.v, "/var/lib/mailns-example", "example: state_dir as written (absolute)");
	ok(p->dir[0] == '/', "example: dir absolute");
	is_int(p->server.tcp_idle_timeout.v, 10, "example: tcp_idle_timeout 10s");
	const policy_domain_t *d = policy_domain_find(p, "example.com");
	if (ok(d != NULL, "example.com")) {
		is_int((long long)d->dkim.algorithm.n, 2, "example.com dual-signs");
		if (d->dkim.algorithm.n == 2)
			is_int(d->dkim.algorithm.v[1].v, DKIM_ALG_ED25519, "second algorithm ed25519");
		is_int(d->dmarc.np.v, DMARC_P_REJECT, "np reject");
		is_int((long long)d->dmarc.authorize_reports_for.n, 2, "authorize_reports_for");
		if (d->dmarc.authorize_reports_for.n == 2)
			is_str(d->dmarc.authorize_reports_for.v[1].v, "*", "wildcard kept");
	}
	d = policy_domain_find(p, "example.org");
	if (ok(d != NULL, "example.org")) {
		is_int(d->dmarc.p.v, DMARC_P_QUARANTINE, "example.org p from defaults");
		is_int(d->spf.mode.v, SPF_MODE_MACRO, "example.org macro mode");
	}
	d = policy_domain_find(p, "example.net");
	if (ok(d != NULL, "example.net (included)")) {
		char want[PATH_MAX + 64];
		snprintf(want, sizeof(want), "%s/examples/domains.d/hosted.yaml", srcdir);
		is_str(d->pos.file, want, "example.net position names the included file");
		is_str(d->dmarc.fo.v, "1:d", "fo as written");
		ok(d->spf.mx.v, "mx true");
	}
	policy_free(p);
}

static void test_many(void)
{
	FILE *f = fopen("many.yaml", "w");
	if (f == NULL)
		tap_bail("cannot write many.yaml");
	fputs(HEAD "domains:\n", f);
	for (int i = 5000; i > 0; i--)
		fprintf(f, "  d%d.example: { spf: { ip4: [10.%d.%d.0/24] }, dmarc: { p: reject } }\n", i,
			(i / 256) % 256, i % 256);
	fclose(f);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ret;
	policy_t *p = NULL;
	char *got = load("many.yaml", &ret, &p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	is_str(got, "", "5000 domains load cleanly");
	free(got);
	if (!ok(ret == MN_OK && p != NULL, "5000 domains: MN_OK"))
		return;
	printf("# 5000 domains in one file loaded in %.3f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	is_int((long long)p->ndomains, 5000, "5000 domains");
	bool sorted = true;
	for (size_t i = 1; i < p->ndomains; i++)
		sorted = sorted && strcmp(p->domains[i - 1].name, p->domains[i].name) < 0;
	ok(sorted, "sorted strictly by name");
	const policy_domain_t *d = policy_domain_find(p, "d4242.example");
	ok(d != NULL && d->spf.ip4.v[0].net.addr[2] == 4242 % 256, "binary search finds d4242 with its values");
	ok(d != NULL && d->pos.line == (uint32_t)(6 + 5000 - 4242), "d4242 position line");
	policy_free(p);
}


/* ---- built-in defaults and the merge of `defaults:` come from the schema ------------- */

/* Each key of table at base with a built-in default holds it, its position unset. */
static void check_defaults(const char *what, const schema_item_t *table, const void *base, size_t *n)
{
	for (const schema_item_t *it = table; it->name != NULL; it++) {
		const void *f = (const char *)base + it->offset;
		if (it->type == SCHEMA_MAP) {
			check_defaults(it->name, it->sub, f, n);
			continue;
		}
		if (!it->def.set)
			continue;
		(*n)++;
		ok(schema_field_pos(it->type, f)->file == NULL, "%s.%s: the default has no position", what, it->name);
		switch (it->type) {
		case SCHEMA_U32:
		case SCHEMA_DURATION:
			is_int(((const policy_u32_t *)f)->v, it->def.u, "%s.%s: built-in %u", what, it->name, it->def.u);
			break;
		case SCHEMA_ENUM:
			is_int(((const policy_enum_t *)f)->v, it->def.u, "%s.%s: built-in %u", what, it->name, it->def.u);
			break;
		case SCHEMA_BOOL:
			is_int(((const policy_bool_t *)f)->v, it->def.u != 0, "%s.%s: built-in %u", what, it->name,
			       it->def.u);
			break;
		case SCHEMA_STR:
		case SCHEMA_PATH:
			is_str(((const policy_str_t *)f)->v, it->def.s, "%s.%s: built-in %s", what, it->name, it->def.s);
			break;
		case SCHEMA_ENUMS: {
			const schema_enums_t *e = f;
			ok(e->n == 1 && e->v[0].v == (int)it->def.u, "%s.%s: built-in [%u]", what, it->name, it->def.u);
			break;
		}
		case SCHEMA_LISTEN: {
			const schema_listens_t *e = f;
			ok(e->n == 1 && strcmp(e->v[0].text, it->def.s) == 0, "%s.%s: built-in %s", what, it->name,
			   it->def.s);
			break;
		}
		default:
			ok(false, "%s.%s: a default of type %d the test does not read", what, it->name, (int)it->type);
		}
	}
}

static void test_schema_defaults(void)
{
	put("def.yaml", "version: 1\nserver:\n  nameservers: [ns1.example.net]\n  hostmaster: h.example.net\n"
			"defaults:\n  dkim: { publish_ahead: 1d }\n  dmarc: { p: reject }\n"
			"domains:\n  a.example: { dkim: { retire_after: 2d } }\n");
	int ret;
	policy_t *p;
	char *got = load("def.yaml", &ret, &p);
	is_str(got, "", "defaults policy loads");
	free(got);
	if (!ok(ret == MN_OK && p != NULL && p->ndomains == 1, "defaults policy: MN_OK"))
		return;
	const policy_domain_t *d = &p->domains[0];
	/* what the man page says, written here once more on purpose */
	is_int(d->dkim.rotate_every.v, 90 * 86400, "rotate_every 90d");
	is_int(d->dkim.revoked_for.v, 30 * 86400, "revoked_for 30d");
	ok(d->dkim.algorithm.n == 1 && d->dkim.algorithm.v[0].v == DKIM_ALG_RSA2048, "algorithm [rsa-2048]");
	is_int(p->server.rate_limit.v, 200, "rate_limit 200");
	is_int(p->server.rate_limit_slip.v, 2, "rate_limit_slip 2");
	is_str(p->server.listen.v[0].text, "127.0.0.1:53", "listen 127.0.0.1:53");
	/* per key: the domain's own, the defaults', the built-in */
	is_int(d->dkim.retire_after.v * 100 + d->dkim.retire_after.pos.line, 2 * 86400 * 100 + 9, "retire_after: own, 9:");
	is_int(d->dkim.publish_ahead.v * 100 + d->dkim.publish_ahead.pos.line, 86400 * 100 + 6,
	       "publish_ahead: from defaults, 6:");
	ok(d->dkim.present && d->dmarc.present, "dkim: its own map; dmarc: present through defaults");
	size_t n = 0;
	policy_domain_t copy = *d;
	/* every default-carrying key of the domain (the two set ones reset) and the server, by the schema */
	copy.dkim.publish_ahead = (policy_u32_t){ 3 * 86400, { NULL, 0, 0 } };
	copy.dkim.retire_after = (policy_u32_t){ 7 * 86400, { NULL, 0, 0 } };
	check_defaults("domain", schema_domain, &copy, &n);
	check_defaults("server", schema_server, &p->server, &n);
	ok(n >= 15, "%zu keys with built-in defaults checked", n);
	policy_free(p);
}

/* mta_sts, tls_rpt, bimi: values, the built-in mode and max_age, the merge of defaults per key */
static void test_family(void)
{
	put("fam.yaml", HEAD
	    "defaults:\n"							/* 5 */
	    "  mta_sts: { max_age: 2d, mx: [mx.example.net] }\n"		/* 6 */
	    "  tls_rpt: { rua: ['mailto:tls@example.net'] }\n"		/* 7 */
	    "domains:\n"							/* 8 */
	    "  a.example:\n"							/* 9 */
	    "    dmarc: { p: reject }\n"					/* 10 */
	    "    mta_sts: { mode: Enforce, mx: ['*.MX.a.example.', mx1.a.example] }\n" /* 11 */
	    "    bimi: { logo: 'https://a.example/l.svg' }\n"		/* 12 */
	    "  b.example:\n"							/* 13 */
	    "    tls_rpt: { rua: 'https://r.example/t' }\n");		/* 14 */
	int ret;
	policy_t *p;
	char *got = load("fam.yaml", &ret, &p);
	is_str(got, "", "the family policy loads clean");
	free(got);
	if (!ok(ret == MN_OK && p != NULL && p->ndomains == 2, "family policy: MN_OK"))
		return;
	const policy_domain_t *a = &p->domains[0], *b = &p->domains[1];
	ok(a->mta_sts.present && a->mta_sts.mode.v == MTA_STS_ENFORCE && a->mta_sts.mode.pos.line == 11,
	   "a: mode enforce (case-insensitive), at 11:");
	ok(a->mta_sts.mx.n == 2 && strcmp(a->mta_sts.mx.v[0].v, "*.mx.a.example") == 0 &&
	   strcmp(a->mta_sts.mx.v[1].v, "mx1.a.example") == 0, "a: its own mx, lowercase, no final dot");
	is_int(a->mta_sts.max_age.v * 100 + a->mta_sts.max_age.pos.line, 2 * 86400 * 100 + 6, "a: max_age from defaults, 6:");
	ok(a->bimi.present && strcmp(a->bimi.logo.v, "https://a.example/l.svg") == 0 && !POLICY_SET(a->bimi.authority),
	   "a: bimi logo, no authority");
	ok(a->tls_rpt.present && a->tls_rpt.rua.n == 1 && a->tls_rpt.rua.v[0].pos.line == 7, "a: tls_rpt from defaults");
	ok(b->mta_sts.present && b->mta_sts.mode.v == MTA_STS_TESTING && !POLICY_SET(b->mta_sts.mode),
	   "b: mta_sts through defaults, mode testing built in");
	ok(b->tls_rpt.rua.n == 1 && strcmp(b->tls_rpt.rua.v[0].v, "https://r.example/t") == 0, "b: its own rua (one URI)");
	ok(!b->bimi.present, "b: no bimi");
	is_str(policy_mta_sts_mode_name(MTA_STS_NONE), "none", "mode name");
	policy_free(p);

	put("fam0.yaml", HEAD "domains:\n  c.example:\n    mta_sts: { mx: [mx.c.example] }\n");
	got = load("fam0.yaml", &ret, &p);
	is_str(got, "", "mta_sts with only mx loads");
	free(got);
	if (ok(ret == MN_OK && p != NULL, "fam0: MN_OK"))
		ok(p->domains[0].mta_sts.max_age.v == 7 * 86400 && p->domains[0].mta_sts.mode.v == MTA_STS_TESTING,
		   "built-in max_age 7d and mode testing");
	policy_free(p);
}

/* dnssec: a domain's own value, else defaults:, else server.dnssec, else off */
static void test_dnssec(void)
{
	put("sec.yaml", "version: 1\nserver:\n  nameservers: [ns1.example.net]\n"
	    "  hostmaster: h.example.net\n"
	    "  dnssec: { algorithm: ed25519 }\n"				/* 5 */
	    "  dnssec_validity: 10d\n"						/* 6 */
	    "defaults:\n"							/* 7 */
	    "  dnssec: { keys: ksk+zsk }\n"					/* 8 */
	    "domains:\n"							/* 9 */
	    "  a.example: { dmarc: { p: none } }\n"				/* 10 */
	    "  b.example: { dmarc: { p: none }, dnssec: false }\n"		/* 11 */
	    "  c.example: { dmarc: { p: none }, dnssec: { algorithm: ecdsap256sha256 } }\n");	/* 12 */
	int ret;
	policy_t *p;
	char *got = load("sec.yaml", &ret, &p);
	is_str(got, "", "the dnssec policy loads clean");
	free(got);
	if (!ok(ret == MN_OK && p != NULL && p->ndomains == 3, "dnssec policy: MN_OK"))
		return;
	const policy_dnssec_t *a = &p->domains[0].dnssec, *b = &p->domains[1].dnssec, *c = &p->domains[2].dnssec;
	ok(a->enabled.v && a->enabled.pos.line == 8, "a: on by the defaults map, at 8:");
	ok(a->algorithm.v == DNSSEC_ALG_ED25519 && a->algorithm.pos.line == 5, "a: algorithm from server, at 5:");
	ok(a->keys.v == DNSSEC_KEYS_KSK_ZSK && a->keys.pos.line == 8, "a: keys from defaults, at 8:");
	ok(!b->enabled.v && b->enabled.pos.line == 11 && b->keys.v == DNSSEC_KEYS_KSK_ZSK, "b: off by its own false");
	ok(c->enabled.v && c->algorithm.v == DNSSEC_ALG_ECDSAP256SHA256 && c->algorithm.pos.line == 12,
	   "c: its own algorithm");
	is_int(p->server.dnssec_validity.v, 10 * 86400, "validity as set");
	is_int(p->server.dnssec_refresh.v, 7 * 86400, "refresh built in: 7d");
	policy_free(p);

	put("sec0.yaml", HEAD "domains:\n  d.example: { dmarc: { p: none } }\n");
	got = load("sec0.yaml", &ret, &p);
	free(got);
	if (ok(ret == MN_OK && p != NULL, "sec0: MN_OK"))
		ok(!p->domains[0].dnssec.enabled.v && p->domains[0].dnssec.algorithm.v == DNSSEC_ALG_ECDSAP256SHA256 &&
		   p->domains[0].dnssec.keys.v == DNSSEC_KEYS_CSK && p->server.dnssec_validity.v == 14 * 86400,
		   "built in: off, ecdsap256sha256, csk, 14d");
	policy_free(p);
	put("sec1.yaml", HEAD "  dnssec: true\ndomains:\n  e.example: { dmarc: { p: none } }\n");
	got = load("sec1.yaml", &ret, &p);
	free(got);
	if (ok(ret == MN_OK && p != NULL, "sec1: MN_OK"))
		ok(p->domains[0].dnssec.enabled.v && p->domains[0].dnssec.enabled.pos.line == 5,
		   "server.dnssec: true turns every domain on");
	policy_free(p);
}

/* Sets name's access and modification times to t (as touch -d does). */
static void set_mtime(const char *name, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	if (utimensat(AT_FDCWD, name, ts, 0) != 0)
		tap_bail("utimensat %s", name);
}

/* The spf ip4 address of name in p (its last byte), or -1. */
static int last_byte(const policy_t *p, const char *name)
{
	const policy_domain_t *d = policy_domain_find(p, name);
	return d != NULL && d->spf.ip4.n == 1 ? d->spf.ip4.v[0].net.addr[3] : -1;
}

/*
 * The parse cache goes by the bytes: an untouched file is not parsed again,
 * even right after it was written; a file edited to the same size with its
 * modification time put back is; the same bytes under a new inode are not.
 * A file whose stat() identity did not change is not even read: its
 * status-change time catches the edit that keeps size and modification time,
 * and a file written less than a second before a load is read again at the next.
 */
static void test_parse_cache(void)
{
	const time_t past = 1700000000;
	put("c.yaml", "version: 1\nserver: { nameservers: [ns1.example.net], hostmaster: h.example.net }\n"
		      "include: ['c.d/*.yaml']\n");
	put("c.d/a.yaml", "domains:\n  a.example:\n    spf: { mode: plain, ip4: [192.0.2.1] }\n");
	put("c.d/b.yaml", "domains:\n  b.example:\n    spf: { mode: plain, ip4: [192.0.2.7] }\n");
	set_mtime("c.d/a.yaml", past);
	set_mtime("c.d/b.yaml", past);
	/* (older than a load's settling second: their identity is recorded by the first load) */
	struct timespec settle = { 1, 200000000 };
	nanosleep(&settle, NULL);
	policy_cache_t *c = NULL;
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL;
	is_int(policy_cache_new(&c), MN_OK, "parse cache made");
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "first load through the cache");
	is_int((long long)policy_cache_reused(c), 0, "first load: both files parsed");
	policy_free(p);
	p = NULL;
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "second load");
	is_int((long long)policy_cache_reused(c), 2, "untouched files: neither parsed again");
	is_int((long long)policy_cache_read(c), 0, "untouched files, same stat: neither read");
	is_int(last_byte(p, "a.example"), 1, "a.example as written");
	policy_free(p);
	p = NULL;

	put("c.d/a.yaml", "domains:\n  a.example:\n    spf: { mode: plain, ip4: [192.0.2.2] }\n");
	set_mtime("c.d/a.yaml", past);
	nanosleep(&settle, NULL);	/* its ctime alone tells the edit */
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "load after an edit (same size, same mtime)");
	is_int((long long)policy_cache_reused(c), 1, "the edited file parsed again, the other not");
	is_int((long long)policy_cache_read(c), 1, "only the edited file read (its ctime moved)");
	is_int(last_byte(p, "a.example"), 2, "the edit is seen");
	is_int(last_byte(p, "b.example"), 7, "the untouched file's domain as before");
	policy_free(p);
	p = NULL;

	put("c.d/a.yaml", "domains:\n  a.example:\n    spf: { mode: plain, ip4: [192.0.2.3] }\n");
	set_mtime("c.d/a.yaml", past);
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "load right after an edit");
	is_int((long long)policy_cache_read(c), 1, "the edited file read");
	is_int(last_byte(p, "a.example"), 3, "the edit is seen");
	policy_free(p);
	p = NULL;
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "load right after that");
	is_int((long long)policy_cache_read(c), 1, "a file written within the second before a load: read again");
	is_int((long long)policy_cache_reused(c), 2, "and not parsed again (same bytes)");
	policy_free(p);
	p = NULL;

	nanosleep(&settle, NULL);
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "load a second later");
	is_int((long long)policy_cache_read(c), 1, "the edited file read once more, its identity recorded");
	policy_free(p);
	p = NULL;
	set_mtime("c.d/b.yaml", past + 10);	/* touched: the same bytes, other times */
	nanosleep(&settle, NULL);
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "load after a touch");
	is_int((long long)policy_cache_read(c), 1, "the touched file read");
	is_int((long long)policy_cache_reused(c), 2, "the touched file not parsed again (same bytes)");
	policy_free(p);
	p = NULL;
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "load after that");
	is_int((long long)policy_cache_read(c), 0, "no file read: their new identities recorded");
	is_int(last_byte(p, "a.example"), 3, "a.example as last edited");
	policy_free(p);
	p = NULL;

	put("c.d/b.yaml.new", "domains:\n  b.example:\n    spf: { mode: plain, ip4: [192.0.2.7] }\n");
	if (rename("c.d/b.yaml.new", "c.d/b.yaml") != 0)
		tap_bail("rename");
	is_int(policy_load_cached("c.yaml", c, d, &p), MN_OK, "load after a rewrite with the same bytes");
	is_int((long long)policy_cache_reused(c), 2, "same bytes under a new inode: not parsed again");
	is_int(last_byte(p, "b.example"), 7, "b.example as before");
	is_int((long long)diag_count(d), 0, "no message from any load");
	policy_free(p);
	policy_cache_free(c);
	diag_free(d);
}

static bool same_str(const policy_str_t *a, const policy_str_t *b)
{
	if ((a->v == NULL) != (b->v == NULL) || (a->v != NULL && strcmp(a->v, b->v) != 0))
		return false;
	return (a->pos.file == NULL) == (b->pos.file == NULL) && a->pos.line == b->pos.line && a->pos.col == b->pos.col;
}

static bool same_strs(const policy_strs_t *a, const policy_strs_t *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_str(&a->v[i], &b->v[i]))
			return false;
	return true;
}

static bool same_nets(const policy_nets_t *a, const policy_nets_t *b)
{
	if (a->n != b->n || a->pos.line != b->pos.line)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (mn_net_cmp(&a->v[i].net, &b->v[i].net) != 0 || a->v[i].pos.col != b->v[i].pos.col)
			return false;
	return true;
}

/* What a file sets in a domain, compared key by key (defaults are each policy's own copies). */
static bool same_domain(const policy_domain_t *a, const policy_domain_t *b)
{
	bool same = strcmp(a->name, b->name) == 0 && a->pos.line == b->pos.line && a->pos.col == b->pos.col &&
		    strcmp(a->pos.file, b->pos.file) == 0 &&
		    a->spf.present == b->spf.present && a->spf.mode.v == b->spf.mode.v &&
		    same_nets(&a->spf.ip4, &b->spf.ip4) && same_nets(&a->spf.ip6, &b->spf.ip6) &&
		    same_strs(&a->spf.include, &b->spf.include) && a->spf.all.v == b->spf.all.v &&
		    a->dkim.selectors.n == b->dkim.selectors.n &&
		    a->dmarc.present == b->dmarc.present && a->dmarc.p.v == b->dmarc.p.v &&
		    a->dmarc.p.pos.line == b->dmarc.p.pos.line && same_strs(&a->dmarc.rua, &b->dmarc.rua) &&
		    a->mta_sts.present == b->mta_sts.present && a->mta_sts.mode.v == b->mta_sts.mode.v &&
		    same_strs(&a->mta_sts.mx, &b->mta_sts.mx) && a->mta_sts.max_age.v == b->mta_sts.max_age.v &&
		    a->tls_rpt.present == b->tls_rpt.present && same_strs(&a->tls_rpt.rua, &b->tls_rpt.rua) &&
		    a->bimi.present == b->bimi.present && same_str(&a->bimi.logo, &b->bimi.logo);
	for (size_t i = 0; same && i < a->dkim.selectors.n; i++)
		same = same_str(&a->dkim.selectors.v[i].name, &b->dkim.selectors.v[i].name) &&
		       same_str(&a->dkim.selectors.v[i].record, &b->dkim.selectors.v[i].record);
	return same;
}

/* The messages of d as `mailns check` prints them, unsorted (malloc'd). */
static char *messages(diag_t *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	diag_print(d, f);
	fclose(f);
	return buf;
}

/*
 * One load of top through c, compared with a full load of the same files
 * without a cache: the same result, messages (in order) and domains.
 * Returns the cached load's policy (NULL on failure); *msgs its messages.
 */
static policy_t *patch_load(policy_cache_t *c, const char *top, const char *what, int want, char **msgs)
{
	diag_t *d1 = NULL, *d2 = NULL;
	if (diag_new(&d1) != MN_OK || diag_new(&d2) != MN_OK)
		tap_bail("diag_new");
	policy_t *p = NULL, *full = NULL;
	int r1 = policy_load_cached(top, c, d1, &p), r2 = policy_load(top, d2, &full);
	is_int(r1, want, "%s: cached load returns %d", what, want);
	is_int(r2, r1, "%s: as a full load", what);
	char *m1 = messages(d1), *m2 = messages(d2);
	ok(strcmp(m1, m2) == 0, "%s: the messages of a full load, in order", what);
	if (strcmp(m1, m2) != 0)
		tap_diag("cached:\n%s\nfull:\n%s", m1, m2);
	if (p != NULL && full != NULL) {
		bool same = p->ndomains == full->ndomains;
		size_t bad = 0;
		for (size_t i = 0; same && i < p->ndomains; i++)
			if (!(same = same_domain(&p->domains[i], &full->domains[i]) &&
				     p->domains[i].dmarc.p.v == full->domains[i].dmarc.p.v &&
				     p->domains[i].dmarc.p.pos.col == full->domains[i].dmarc.p.pos.col))
				bad = i;
		ok(same, "%s: %zu domains as a full load's (first difference at %zu)", what, p->ndomains, bad);
	}
	policy_free(full);
	diag_free(d1);
	diag_free(d2);
	free(m2);
	*msgs = m1;
	return p;
}

/* "name@index" of p's changed domains, then "-name" of the removed ones, space-separated. */
static void changed_list(const policy_t *p, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < p->nchanged && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s@%zu", o ? " " : "", p->domains[p->changed[i]].name,
				      p->changed[i]);
	for (size_t i = 0; i < p->nremoved && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s-%s", o ? " " : "", p->removed[i]);
}

#define PTOP "version: 1\nserver: { nameservers: [ns1.example.net], hostmaster: h.example.net }\n" \
	     "include: ['t.d/*.yaml']\ndomains:\n  top.example: { spf: { mode: plain, ip4: [192.0.2.9] } }\n"
#define PDEF(p) "defaults:\n  dmarc: { p: " p ", rua: ['mailto:r@top.example'] }\n"
#define PA "domains:\n  a1.example: { spf: { mode: plain, ip4: [192.0.2.1] } }\n" \
	   "  a3.example: { spf: { mode: plain, ip4: [192.0.2.3] } }\n  a5.example: {}\n"
#define PB "domains:\n  b2.example: {}\n  b4.example: { dmarc: { p: reject } }\n"

/*
 * A reload through the cache patches the previous load's sorted, merged
 * domains with the domains of the files whose bytes changed (issue 17):
 * each result is the full load's, and the patch is taken only when it may
 * be (the main file's bytes and the include list unchanged, the previous
 * policy freed, no name defined twice, no error in a changed domain).
 */
static void test_patch(void)
{
	put("t.yaml", PTOP PDEF("quarantine"));
	put("t.d/a.yaml", PA);
	put("t.d/b.yaml", PB);
	policy_cache_t *c = NULL;
	char *m = NULL, ch[512];
	if (policy_cache_new(&c) != MN_OK)
		tap_bail("policy_cache_new");
	policy_t *p = patch_load(c, "t.yaml", "first load", MN_OK, &m);
	ok(p != NULL && !p->changed_known && p->gen == 1, "first load: a full one, generation 1");
	policy_free(p);
	free(m);

	put("t.d/a.yaml", "domains:\n  a1.example: { spf: { mode: plain, ip4: [192.0.2.1] } }\n"
			  "  a3.example: { spf: { mode: plain, ip4: [192.0.2.33] } }\n  a5.example: {}\n");
	p = patch_load(c, "t.yaml", "a value edited", MN_OK, &m);
	ok(p != NULL && p->changed_known && p->gen == 2, "a value edited: patched, generation 2");
	changed_list(p, ch, sizeof(ch));
	is_str(ch, "a1.example@0 a3.example@1 a5.example@2", "a value edited: the changed file's domains listed");
	is_int(last_byte(p, "a3.example"), 33, "a value edited: the edit is seen");
	is_int(policy_domain_find(p, "a5.example")->dmarc.p.v, DMARC_P_QUARANTINE, "a value edited: defaults merged again");
	policy_free(p);
	free(m);

	put("t.d/a.yaml", "domains:\n  a0.example: {}\n  a3.example: { spf: { mode: plain, ip4: [192.0.2.34] } }\n"
			  "  zz.example: {}\n  a1.example: { spf: { mode: plain, ip4: [192.0.2.1] } }\n");
	p = patch_load(c, "t.yaml", "names added and removed", MN_OK, &m);
	ok(p != NULL && p->changed_known, "names added and removed: patched");
	changed_list(p, ch, sizeof(ch));
	is_str(ch, "a0.example@0 a1.example@1 a3.example@2 zz.example@6 -a5.example",
	       "names added and removed: the changed file's domains and the removed name");
	policy_free(p);
	free(m);

	put("t.d/b.yaml", PB);	/* rewritten as it was */
	p = patch_load(c, "t.yaml", "nothing changed", MN_OK, &m);
	ok(p != NULL && p->changed_known && p->nchanged == 0 && p->nremoved == 0, "nothing changed: patched, nothing listed");
	free(m);
	/* the previous policy still held: the set is not the cache's alone */
	put("t.d/b.yaml", "domains:\n  b2.example: {}\n  b4.example: { dmarc: { p: none } }\n");
	policy_t *q = patch_load(c, "t.yaml", "previous policy held", MN_OK, &m);
	ok(q != NULL && !q->changed_known, "previous policy held: a full rebuild");
	is_int(policy_domain_find(p, "b4.example")->dmarc.p.v, DMARC_P_REJECT, "previous policy held: it is unchanged");
	policy_free(p);
	policy_free(q);
	free(m);

	put("t.yaml", PTOP PDEF("reject"));
	p = patch_load(c, "t.yaml", "defaults changed", MN_OK, &m);
	ok(p != NULL && !p->changed_known, "defaults changed in the main file: a full rebuild");
	is_int(policy_domain_find(p, "b2.example")->dmarc.p.v, DMARC_P_REJECT, "defaults changed: merged into an unchanged file's domain");
	policy_free(p);
	free(m);

	put("t.d/c.yaml", "domains:\n  c1.example: {}\n");
	p = patch_load(c, "t.yaml", "include added", MN_OK, &m);
	ok(p != NULL && !p->changed_known, "include added: a full rebuild");
	ok(p != NULL && policy_domain_find(p, "c1.example") != NULL, "include added: its domain is there");
	policy_free(p);
	free(m);
	if (unlink("t.d/c.yaml") != 0)
		tap_bail("unlink");
	p = patch_load(c, "t.yaml", "include removed", MN_OK, &m);
	ok(p != NULL && !p->changed_known && policy_domain_find(p, "c1.example") == NULL,
	   "include removed: a full rebuild, its domain gone");
	policy_free(p);
	free(m);

	put("t.d/b.yaml", "domains:\n  b2.example: {}\n  b4.example: { dmarc: { p: none } }\n  a1.example: {}\n");
	p = patch_load(c, "t.yaml", "a duplicate across files", MN_EPOLICY, &m);
	ok(strstr(m, "domain 'a1.example' defined twice") != NULL, "a duplicate across files: reported");
	free(m);
	put("t.d/b.yaml", "domains:\n  b2.example: {}\n  b4.example: { dmarc: { p: quarantine } }\n");
	p = patch_load(c, "t.yaml", "the duplicate fixed", MN_OK, &m);
	ok(p != NULL && p->changed_known, "the duplicate fixed: patched from the last good load");
	is_int(policy_domain_find(p, "a1.example")->spf.ip4.n, 1, "the duplicate fixed: a1.example is a.yaml's");
	policy_free(p);
	free(m);

	put("t.d/a.yaml", "domains:\n  a0.example: {}\n  b2.example: {}\n");
	p = patch_load(c, "t.yaml", "an edit moving a name onto another file's", MN_EPOLICY, &m);
	free(m);
	put("t.d/a.yaml", "domains:\n  a0.example: [\n");
	p = patch_load(c, "t.yaml", "a file that fails to parse", MN_EPOLICY, &m);
	free(m);
	put("t.d/a.yaml", "domains:\n  a0.example: { tls_rpt: {} }\n  a1.example: {}\n");
	p = patch_load(c, "t.yaml", "an error in a changed domain", MN_EPOLICY, &m);
	ok(strstr(m, "missing required key 'rua' in tls_rpt") != NULL, "an error in a changed domain: reported");
	free(m);
	put("t.d/a.yaml", "domains:\n  a0.example: { mta_sts: { mode: enforce, mx: [mx.a0.example], max_age: 3600 } }\n"
			  "  a1.example: {}\n");
	p = patch_load(c, "t.yaml", "fixed, with a warning", MN_OK, &m);
	ok(p != NULL && p->changed_known, "fixed, with a warning: patched");
	ok(strstr(m, "under one day") != NULL, "fixed, with a warning: the warning");
	changed_list(p, ch, sizeof(ch));
	is_str(ch, "a0.example@0 a1.example@1 -a3.example -zz.example", "fixed: listed against the last good load");
	policy_free(p);
	free(m);
	/* an unchanged domain's warning kept, in name order with a changed one's */
	put("t.d/b.yaml", "domains:\n  b2.example: {}\n  b4.example: { dmarc: { p: quarantine } }\n"
			  "  b9.example: { mta_sts: { mode: enforce, mx: [mx.b9.example], max_age: 60 } }\n");
	p = patch_load(c, "t.yaml", "another file with a warning", MN_OK, &m);
	ok(p != NULL && p->changed_known, "another file with a warning: patched");
	const char *w0 = strstr(m, "MTA-STS of a0.example"), *w9 = strstr(m, "MTA-STS of b9.example");
	ok(w0 != NULL && w9 != NULL && w0 < w9, "another file with a warning: both warnings, in name order");
	policy_free(p);
	free(m);
	put("t.d/b.yaml", "domains:\n  b2.example: {}\n  b4.example: { dmarc: { p: quarantine } }\n");
	p = patch_load(c, "t.yaml", "a warning gone", MN_OK, &m);
	ok(p != NULL && p->changed_known && strstr(m, "b9.example") == NULL && strstr(m, "a0.example") != NULL,
	   "a warning gone: patched, the unchanged file's warning still there");
	policy_free(p);
	free(m);
	policy_cache_free(c);
}

#define RTOP(inc, def) "version: 1\nserver: { nameservers: [ns1.example.net], hostmaster: h.example.net }\n" \
	"include: [" inc "]\n" def "domains:\n  top.example: { spf: { mode: plain, ip4: [192.0.2.9] } }\n"
#define RDEF "defaults:\n  dmarc: { p: quarantine, rua: ['mailto:r@top.example'] }\n" \
	     "  spf: { all: softfail }\n  tls_rpt: { rua: ['mailto:tls@top.example'] }\n"
#define RDEF2 "defaults:\n  dmarc: { p: none, adkim: s }\n  mta_sts: { mx: [mx.top.example] }\n"
#define RA "domains:\n  a1.example: { spf: { mode: plain, ip4: [192.0.2.1], all: fail } }\n" \
	   "  a3.example: { dmarc: { p: reject } }\n  a5.example: {}\n"
#define RB "domains:\n  b2.example: { tls_rpt: { rua: ['mailto:t@b2.example'] } }\n  b4.example: { spf: {} }\n"

/*
 * The cache keeps each domain once, merged (issue 17): a full rebuild takes
 * an unchanged file's domains from the last load's merged ones, undoing the
 * merge of the old defaults (values and present maps) before merging the new
 * ones.  Each load is compared with a full load without a cache.
 */
static void test_rebuild(void)
{
	policy_cache_t *c = NULL;
	char *m = NULL;
	if (policy_cache_new(&c) != MN_OK)
		tap_bail("policy_cache_new");
	put("r.yaml", RTOP("'r.d/a.yaml', 'r.d/b.yaml'", RDEF));
	put("r.d/a.yaml", RA);
	put("r.d/b.yaml", RB);
	policy_t *p = patch_load(c, "r.yaml", "rebuild: first load", MN_OK, &m);
	policy_free(p);
	free(m);

	put("r.yaml", RTOP("'r.d/a.yaml', 'r.d/b.yaml'", ""));
	p = patch_load(c, "r.yaml", "defaults removed", MN_OK, &m);
	ok(p != NULL && !p->changed_known && policy_cache_reused(c) == 2, "defaults removed: a full rebuild, both files reused");
	const policy_domain_t *d = p != NULL ? policy_domain_find(p, "a5.example") : NULL;
	ok(d != NULL && !d->dmarc.present && !d->spf.present && !d->tls_rpt.present,
	   "defaults removed: a domain that set nothing has no dmarc, spf or tls_rpt any more");
	d = p != NULL ? policy_domain_find(p, "b4.example") : NULL;
	ok(d != NULL && d->spf.present && d->spf.all.v == SPF_ALL_FAIL && !POLICY_SET(d->spf.all),
	   "defaults removed: its own empty spf kept, all back to the built-in fail");
	policy_free(p);
	free(m);

	put("r.d/a.yaml", "domains:\n  a1.example: { spf: { mode: plain, ip4: [192.0.2.1], all: fail } }\n"
			  "  a3.example: { dmarc: { p: reject } }\n  a6.example: {}\n");
	p = patch_load(c, "r.yaml", "a file edited after the defaults change", MN_OK, &m);
	ok(p != NULL && p->changed_known, "a file edited after the defaults change: patched");
	policy_free(p);
	free(m);

	put("r.yaml", RTOP("'r.d/a.yaml', 'r.d/b.yaml'", RDEF2));
	p = patch_load(c, "r.yaml", "other defaults", MN_OK, &m);
	d = p != NULL ? policy_domain_find(p, "a3.example") : NULL;
	ok(d != NULL && d->dmarc.p.v == DMARC_P_REJECT && d->dmarc.adkim.v == DMARC_ALIGN_S && d->mta_sts.present,
	   "other defaults: its own p, adkim and mta_sts from the new defaults");
	policy_free(p);
	free(m);
	put("r.d/b.yaml", "domains:\n  b2.example: { tls_rpt: { rua: ['mailto:t@b2.example'] } }\n"
			  "  b4.example: { spf: {}, dmarc: { p: quarantine } }\n");
	p = patch_load(c, "r.yaml", "then one file edited", MN_OK, &m);
	ok(p != NULL && p->changed_known, "then one file edited: patched");
	policy_free(p);
	free(m);

	put("r.yaml", RTOP("'r.d/b.yaml', 'r.d/a.yaml'", RDEF));
	p = patch_load(c, "r.yaml", "includes reordered", MN_OK, &m);
	ok(p != NULL && !p->changed_known && policy_cache_reused(c) == 2, "includes reordered: a full rebuild, both files reused");
	policy_free(p);
	free(m);
	put("r.yaml", RTOP("'r.d/a.yaml'", RDEF));
	p = patch_load(c, "r.yaml", "an include removed", MN_OK, &m);
	ok(p != NULL && policy_domain_find(p, "b2.example") == NULL && policy_cache_reused(c) == 1,
	   "an include removed: its domains gone, the other file reused");
	policy_free(p);
	free(m);
	put("r.yaml", RTOP("'r.d/a.yaml', 'r.d/b.yaml'", RDEF));
	p = patch_load(c, "r.yaml", "the include added again", MN_OK, &m);
	ok(p != NULL && policy_domain_find(p, "b2.example") != NULL, "the include added again: its domains back");
	policy_free(p);
	free(m);

	/* a failed load, then the same file fixed with the defaults changed: reused from the last good load */
	put("r.d/a.yaml", "domains:\n  a1.example: [\n");
	p = patch_load(c, "r.yaml", "a file that fails", MN_EPOLICY, &m);
	free(m);
	put("r.yaml", RTOP("'r.d/a.yaml', 'r.d/b.yaml'", RDEF2));
	p = patch_load(c, "r.yaml", "the defaults changed while a file fails", MN_EPOLICY, &m);
	free(m);
	put("r.d/a.yaml", "domains:\n  a1.example: { spf: { mode: plain, ip4: [192.0.2.1], all: fail } }\n"
			  "  a3.example: { dmarc: { p: reject } }\n  a6.example: {}\n");
	p = patch_load(c, "r.yaml", "the file fixed as it was", MN_OK, &m);
	ok(p != NULL && !p->changed_known && policy_cache_reused(c) == 2,
	   "the file fixed as it was: a full rebuild, both files reused");
	d = p != NULL ? policy_domain_find(p, "a6.example") : NULL;
	ok(d != NULL && d->mta_sts.present && !d->tls_rpt.present && d->dmarc.p.v == DMARC_P_NONE,
	   "the file fixed as it was: the new defaults merged");
	policy_free(p);
	free(m);
	policy_cache_free(c);
}

/*
 * The parse cache keeps each domain once, in the last load's merged array
 * (about 1 KB each): no packed copy a file beside it.  A policy made from
 * the cache while another still holds that array has every domain as parsed.
 */
static void test_parse_cache_packed(void)
{
	enum { N = 200 };
	put("k.yaml", "version: 1\nserver: { nameservers: [ns1.example.net], hostmaster: h.example.net }\n"
		      "include: ['k.d/*.yaml']\n");
	put("k.d/a.yaml", "");
	FILE *f = fopen("k.d/a.yaml", "w");
	if (f == NULL)
		tap_bail("k.d/a.yaml");
	fprintf(f, "domains:\n");
	for (int i = 0; i < N; i++) {
		fprintf(f, "  d%d.example:\n", i);
		fprintf(f, "    spf: { mode: flatten, ip4: [10.0.%d.0/24, 192.0.2.%d], ip6: ['2001:db8:%x::/48'],"
			   " include: [spf.example.net], all: %s }\n", i % 256, i % 250, i, i % 2 ? "softfail" : "fail");
		fprintf(f, "    dkim: { selectors: { s%d: 'v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' } }\n", i);
		fprintf(f, "    dmarc: { p: %s, rua: ['mailto:r%d@example.net'] }\n", i % 3 ? "reject" : "quarantine", i);
		if (i % 4 == 0)
			fprintf(f, "    mta_sts: { mode: enforce, mx: [mx%d.example.net], max_age: %dd }\n"
				   "    tls_rpt: { rua: ['mailto:tls@example.net'] }\n"
				   "    bimi: { logo: 'https://d%d.example/l.svg' }\n", i, 1 + i % 9, i);
	}
	fclose(f);
	policy_cache_t *c = NULL;
	diag_t *d = NULL;
	policy_t *p1 = NULL, *p2 = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	is_int(policy_cache_new(&c), MN_OK, "parse cache made");
	is_int(policy_load_cached("k.yaml", c, d, &p1), MN_OK, "parsed into the cache");
	is_int(policy_load_cached("k.yaml", c, d, &p2), MN_OK, "loaded from the cache");
	is_int((long long)policy_cache_reused(c), 1, "the file was reused");
	is_int((long long)diag_count(d), 0, "no message");
	size_t bytes = policy_cache_bytes(c);
	ok(bytes >= N * sizeof(policy_domain_t) && bytes <= N * (sizeof(policy_domain_t) + 16),
	   "cached domains take %zu bytes each: one policy_domain_t (%zu) and a name", bytes / N, sizeof(policy_domain_t));
	bool same = p1 != NULL && p2 != NULL && p1->ndomains == N && p2->ndomains == N;
	size_t bad = 0;
	for (size_t i = 0; same && i < N; i++)
		if (!same_domain(&p1->domains[i], &p2->domains[i]))
			same = false, bad = i;
	ok(same, "every domain from the cache as parsed (first difference at %zu)", bad);
	policy_free(p1);
	policy_cache_free(c);
	ok(p2 != NULL && p2->ndomains == N && p2->domains[N - 1].dkim.selectors.n == 1 &&
	   strncmp(p2->domains[N - 1].dkim.selectors.v[0].record.v, "v=DKIM1", 7) == 0,
	   "a policy made from the cache outlives the cache");
	policy_free(p2);
	diag_free(d);
}

/* Sorted by name as strcmp orders them: names sharing their first 8 bytes, names shorter than 8. */
static void test_sort(void)
{
	put("s.yaml", "version: 1\nserver: { nameservers: [ns1.example.net], hostmaster: h.example.net }\n"
		      "domains:\n"
		      "  longname-b.example: {}\n"	/* 4 */
		      "  b.ex: {}\n"			/* 5 */
		      "  longname-a.example: {}\n"	/* 6 */
		      "  longname.example: {}\n"	/* 7 */
		      "  a.ex: {}\n"			/* 8 */
		      "  longnamf.example: {}\n"	/* 9 */
		      "  ab.ex: {}\n");			/* 10 */
	const char *want[] = { "a.ex", "ab.ex", "b.ex", "longname-a.example", "longname-b.example",
			       "longname.example", "longnamf.example" };
	int ret;
	policy_t *p = NULL;
	char *got = load("s.yaml", &ret, &p);
	is_str(got, "", "sort: no message");
	free(got);
	if (!ok(ret == MN_OK && p != NULL && p->ndomains == 7, "sort: seven domains"))
		return;
	for (size_t i = 0; i < 7; i++)
		is_str(p->domains[i].name, want[i], "sort: domain %zu", i);
	policy_free(p);
	put("s.yaml", "version: 1\nserver: { nameservers: [ns1.example.net], hostmaster: h.example.net }\n"
		      "domains:\n"
		      "  longname-b.example: {}\n"
		      "  b.ex: {}\n"
		      "  LongName-B.Example.: {}\n"
		      "  B.EX: {}\n");
	got = load("s.yaml", &ret, NULL);
	is_str(got, "s.yaml:6:3: error: domain 'longname-b.example' defined twice (first at s.yaml:4:3)\n"
		    "s.yaml:7:3: error: domain 'b.ex' defined twice (first at s.yaml:5:3)\n",
	       "sort: names defined twice, short and long");
	free(got);
}

/*
 * 12,000 domains in a scrambled order (enough for the sort's two halves on two
 * threads, merged, and the defaults merged in two halves): sorted strictly,
 * each with its own values, position and the defaults;
 * then a name of the file's start defined again in an included file (the
 * other half): reported there, naming the first.
 */
static void test_sort_halves(void)
{
	enum { N = 12000 };
	put("halvesinc/z.yaml", "domains:\n  H7919.example.: {}\n");
	for (int dup = 0; dup < 2; dup++) {
		FILE *f = fopen("halves.yaml", "w");
		if (f == NULL)
			tap_bail("cannot write halves.yaml");
		fputs(HEAD, f);
		fputs(dup ? "include: ['halvesinc/*.yaml']\ndomains:\n"
			  : "defaults:\n  dmarc: { p: quarantine }\ndomains:\n", f);
		for (int k = 0; k < N; k++) {
			int i = (int)(((long)k * 7919) % N);	/* 7919 is prime: a permutation */
			fprintf(f, "  h%d.example: { spf: { ip4: [10.%d.%d.0/24] } }\n", i, i / 256, i % 256);
		}
		fclose(f);
		int ret;
		policy_t *p = NULL;
		char *got = load("halves.yaml", &ret, dup ? NULL : &p);
		if (dup) {
			/* h7919 is the top file's second domain, line 8 after the include line */
			is_str(got, "halvesinc/z.yaml:2:3: error: domain 'h7919.example' defined twice (first at halves.yaml:8:3)\n",
			       "12,000 domains: a name in both halves reported once, at the second");
			free(got);
			continue;
		}
		is_str(got, "", "12,000 scrambled domains load cleanly");
		free(got);
		if (!ok(ret == MN_OK && p != NULL && p->ndomains == N, "12,000 domains"))
			return;
		bool sorted = true, values = true;
		for (size_t i = 0; i < p->ndomains; i++) {
			const policy_domain_t *d = &p->domains[i];
			int num = atoi(d->name + 1);
			sorted = sorted && (i == 0 || strcmp(p->domains[i - 1].name, d->name) < 0);
			values = values && d->spf.ip4.n == 1 && d->spf.ip4.v[0].net.addr[1] == num / 256 &&
				 d->spf.ip4.v[0].net.addr[2] == num % 256 &&
				 d->pos.line == (uint32_t)(8 + (long)num * 1679 % N) &&	/* 1679 = 7919^-1 mod 12000 */
				 d->dmarc.p.v == DMARC_P_QUARANTINE && d->dmarc.p.pos.line == 6;
		}
		ok(sorted, "12,000 domains sorted strictly by name");
		ok(values, "each domain with its own values and position, and the defaults (both halves)");
		policy_free(p);
	}
}

/*
 * 12,000 domains scrambled across the top file and four included files:
 * placed straight at their sorted slots when the files are merged
 * (policy_domains_gather), each with its own values, file and line; the same
 * through a cache, first parsed, then reused (unpacked) by a full load after
 * the top file changed.  Then a name of the top file defined again at the
 * end of the first and of the third included file: reported at each, in
 * file order, naming the top file's.
 */
enum { SF_N = 12000, SF_FILES = 5 };
static const char *sf_names[SF_FILES] = { "sf.yaml", "sfinc/a.yaml", "sfinc/b.yaml", "sfinc/c.yaml", "sfinc/d.yaml" };
static int sf_file[SF_N];
static uint32_t sf_line[SF_N];

static void sf_check(const policy_t *p, const char *what)
{
	if (!ok(p != NULL && p->ndomains == SF_N, "%s: 12,000 domains", what))
		return;
	size_t unsorted = 0, wrong = 0;
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		int num = atoi(d->name + 2);
		unsorted += i > 0 && strcmp(p->domains[i - 1].name, d->name) >= 0;
		bool good = num >= 0 && num < SF_N && d->spf.ip4.n == 1 && d->spf.ip4.v[0].net.addr[1] == num / 256 &&
			    d->spf.ip4.v[0].net.addr[2] == num % 256 && d->pos.file != NULL &&
			    strcmp(d->pos.file, sf_names[sf_file[num]]) == 0 && d->pos.line == sf_line[num] &&
			    d->pos.col == 3 && d->dmarc.p.v == DMARC_P_QUARANTINE;
		if (!good && wrong++ < 3)
			tap_diag("%s: %s at %s:%u", what, d->name, d->pos.file ? d->pos.file : "?", (unsigned)d->pos.line);
	}
	is_int((long long)unsorted, 0, "%s: sorted strictly by name", what);
	is_int((long long)wrong, 0, "%s: each with its own values, file and line, and the defaults", what);
}

static void test_sort_files(void)
{
	FILE *f[SF_FILES];
	uint32_t line[SF_FILES];
	for (int r = 0; r < SF_FILES; r++) {
		if (r > 0)
			put(sf_names[r], "");
		if ((f[r] = fopen(sf_names[r], "w")) == NULL)
			tap_bail("cannot write %s", sf_names[r]);
	}
	fputs(HEAD "include: ['sfinc/*.yaml']\ndefaults:\n  dmarc: { p: quarantine }\ndomains:\n", f[0]);
	line[0] = 9;
	for (int r = 1; r < SF_FILES; r++) {
		fputs("domains:\n", f[r]);
		line[r] = 2;
	}
	for (int k = 0; k < SF_N; k++) {
		int i = (int)(((long)k * 7919) % SF_N), r = k % SF_FILES;
		fprintf(f[r], "  sf%d.example: { spf: { ip4: [10.%d.%d.0/24] } }\n", i, i / 256, i % 256);
		sf_file[i] = r;
		sf_line[i] = line[r]++;
	}
	for (int r = 0; r < SF_FILES; r++)
		fclose(f[r]);
	int ret;
	policy_t *p = NULL;
	char *got = load("sf.yaml", &ret, &p);
	is_str(got, "", "across files: no message");
	free(got);
	sf_check(p, "across files");
	policy_free(p);

	policy_cache_t *c = NULL;
	diag_t *d = NULL;
	if (policy_cache_new(&c) != MN_OK || diag_new(&d) != MN_OK)
		tap_bail("policy_cache_new");
	p = NULL;
	is_int(policy_load_cached("sf.yaml", c, d, &p), MN_OK, "across files, cached: loads");
	sf_check(p, "across files, cached (parsed)");
	policy_free(p);
	FILE *t = fopen("sf.yaml", "a");
	if (t == NULL)
		tap_bail("cannot append to sf.yaml");
	fputs("# the top file changed: a full load\n", t);
	fclose(t);
	p = NULL;
	is_int(policy_load_cached("sf.yaml", c, d, &p), MN_OK, "across files, cached again: loads");
	is_int((long long)policy_cache_reused(c), 4, "across files, cached again: the four included files reused");
	ok(p == NULL || !p->changed_known, "across files, cached again: a full load (not a patch)");
	sf_check(p, "across files, cached (reused)");
	char *m = messages(d);
	is_str(m, "", "across files, cached: no message");
	free(m);
	policy_free(p);
	diag_free(d);
	policy_cache_free(c);

	/* x, a domain of the top file, is defined again at the end of a.yaml and of c.yaml */
	int x = 0;
	while (sf_file[x] != 0)
		x++;
	for (int r = 1; r <= 3; r += 2) {
		t = fopen(sf_names[r], "a");
		if (t == NULL)
			tap_bail("cannot append to %s", sf_names[r]);
		fprintf(t, "  SF%d.Example.: {}\n", x);
		fclose(t);
	}
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	p = NULL;
	is_int(policy_load("sf.yaml", d, &p), MN_EPOLICY, "a name in three files: refused");
	m = messages(d);
	char want[512];
	snprintf(want, sizeof(want),
		 "sfinc/a.yaml:%u:3: error: domain 'sf%d.example' defined twice (first at sf.yaml:%u:3)\n"
		 "sfinc/c.yaml:%u:3: error: domain 'sf%d.example' defined twice (first at sf.yaml:%u:3)\n",
		 (unsigned)line[1], x, (unsigned)sf_line[x], (unsigned)line[3], x, (unsigned)sf_line[x]);
	is_str(m, want, "a name in three files: reported at the second and the third, in file order, naming the first");
	free(m);
	diag_free(d);
	policy_free(p);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	if (realpath(top != NULL ? top : ".", srcdir) == NULL)
		tap_bail("no top_srcdir");
	char templ[] = "/tmp/test_policy.XXXXXX";
	if (mkdtemp(templ) == NULL || realpath(templ, tmp) == NULL || chdir(tmp) != 0)
		tap_bail("mkdtemp");

	test_diag_cases();
	test_model();
	test_include_errors();
	test_names();
	test_example();
	test_many();
	test_schema_defaults();
	test_family();
	test_dnssec();
	test_parse_cache();
	test_parse_cache_packed();
	test_patch();
	test_rebuild();
	test_sort();
	test_sort_halves();
	test_sort_files();

	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (chdir("/") != 0 || system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
	return tap_done();
}
