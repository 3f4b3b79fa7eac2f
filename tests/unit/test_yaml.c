/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_yaml.c -- policy/yaml.c: the fast reader gives libyaml's tree and messages, or leaves the file to libyaml */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/buf.h"
#include "policy/diag.h"
#include "policy/mn.h"
#include "policy/yaml.h"
#include "tests/tap/tap.h"

static char srcdir[PATH_MAX];

/* The tree as text: every node's kind, position, flags and string, in order. */
static void dump(mn_buf_t *b, const ynode_t *n, int depth)
{
	if (n == NULL) {
		mn_buf_addf(b, "%*s(none)\n", depth, "");
		return;
	}
	mn_buf_addf(b, "%*s%d %u:%u plain=%d dup=%d n=%zu len=%zu '%s'\n", depth, "", (int)n->kind,
		    (unsigned)n->line, (unsigned)n->col, n->plain, n->dup, n->n, n->len,
		    n->kind == YNODE_SCALAR ? n->str : "");
	for (const ynode_t *c = n->first; c != NULL; c = c->next) {
		dump(b, c, depth + 1);
		if (n->kind == YNODE_MAP)
			dump(b, c->value, depth + 2);
	}
}

/* Result, messages and tree of one reader, as text (malloc'd); *fast: the fast reader took it. */
static yarena_t *reuse;	/* when set: the fast reader's tree goes there (ydoc_parse_into) */

static char *read_with(const char *data, size_t len, bool libyaml, bool *fast)
{
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	ydoc_t *doc = NULL;
	int r = libyaml ? ydoc_parse_libyaml(data, len, "f.yaml", d, &doc) :
		reuse != NULL ? ydoc_parse_into(data, len, "f.yaml", d, reuse, &doc) :
		ydoc_parse(data, len, "f.yaml", d, &doc);
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "r=%d\n", r);
	for (size_t i = 0; i < diag_count(d); i++) {
		const diag_item_t *it = diag_get(d, i);
		mn_buf_addf(&b, "%d %u:%u %s\n", (int)it->level, (unsigned)it->line, (unsigned)it->col, it->msg);
	}
	if (r == MN_OK)
		dump(&b, doc->root, 0);
	if (fast != NULL)
		*fast = r == MN_OK && doc->fast;
	ydoc_free(doc);
	diag_free(d);
	char *s = mn_buf_take(&b);
	if (s == NULL)
		tap_bail("out of memory");
	return s;
}

/* Do both readers agree on data?  *fast: the fast reader took it. */
static bool agree(const char *data, size_t len, bool *fast)
{
	char *a = read_with(data, len, true, NULL), *b = read_with(data, len, false, fast);
	bool same = strcmp(a, b) == 0;
	if (!same)
		tap_diag("libyaml:\n%s\nfast:\n%s", a, b);
	free(a);
	free(b);
	return same;
}

/* The shapes of the benchmark's included files and of hand-written ones. */
static const char *shapes[] = {
	"domains:\n"
	"  d0.example:\n"
	"    spf: { mode: flatten, ip4: [10.0.0.0/24, 192.0.2.0, 100.66.0.0/24], ip6: [\"2001:db8:0:3d::/64\"], all: fail }\n"
	"    dkim: { selectors: { s1: \"v=DKIM1; k=rsa; n=d0; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAs67U+/=\", s2: \"v=DKIM1; p=\" } }\n"
	"    dmarc: { p: reject, rua: [\"mailto:dmarc@d0.example\"] }\n"
	"  d1.example:\n"
	"    spf: { mode: plain, ip4: [192.0.2.1], include: [spf.example.net] }\n"
	"    dmarc: { p: none }\n",

	"# hosted customers\n"
	"domains:\n"
	"\n"
	"  a.example:   # the first\n"
	"    dmarc:\n"
	"      p: quarantine\n"
	"      rua: ['mailto:r@a.example', 'https://r.example/x']\n"
	"      pct: 50\n"
	"    mta_sts: { mode: enforce, mx: [mx1.a.example], max_age: 7d }\n"
	"  b.example: {}\n"
	"  c.example: { dmarc: { p: reject }, bimi: { logo: 'https://c.example/l.svg' } }\n",

	"version: 1\n"
	"server:\n"
	"  listen: [\"127.0.0.1:5353\"]\n"
	"  nameservers: [ns1.example.net., ns2.example.net.]\n"
	"  hostmaster: hostmaster.example.net.\n"
	"include: [\"domains.d/*.yaml\"]\n"
	"domains: {}",

	/* repeated keys: the messages, innermost mapping first */
	"domains:\n  a.example: { dmarc: { p: none, p: reject } }\n  a.example: {}\n  b.example: { spf: {}, spf: [] }\n",
	/* lists of lists and maps, empty ones */
	"a: [[], [x, [y, {}]], { b: [c] }]\nb: { }\nc: [ ]\n",
};

/* Text that takes libyaml alone or is an error: the fast reader must give way. */
static const char *others[] = {
	"", "# only a comment\n", "---\na: 1\n", "a: 1\n...\n", "%YAML 1.1\n---\na: 1\n",
	"a:\n  - 1\n  - 2\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  text\n", "a: >\n  text\n",
	"a: \"x\\ty\"\n", "a: 'it''s'\n", "a: \"two\n  lines\"\n", "a: [1,\n  2]\n", "a: b c\n",
	"a: 2001:db8::1\n", "a:b\n", "a:\nb: 1\n", "\"a\": 1\n", "a: 1\n  b: 2\n", "a:\n    b: 1\n  c: 2\n",
	"a: 1\r\nb: 2\r\n", "a:\tb\n", "a: \xc3\xa9\n", "a: [1, 2,]\n", "a: { b }\n", "a: {b:c}\n",
	"a: [b: c]\n", "a: 1 # c\nb: 2#c\n", "a: 1 2\n", "? a\n: b\n", "- a\n", "a: @b\n", "a: -all\n",
	"[a, b]\n", "a: {\n", "a: [\n", "a: 'x\n", "a: \"x\n", "a: }\n", " a: 1\n", "a: 1\n b: 2\n",
};

/* Keys near libyaml's limit for a simple key (1024 characters), in block and flow mappings. */
static void test_long_keys(void)
{
	static const size_t lens[] = { 999, 1000, 1001, 1023, 1024, 1025, 1100 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char *key = malloc(lens[i] + 1);
		if (key == NULL)
			tap_bail("malloc");
		memset(key, 'k', lens[i]);
		key[lens[i]] = '\0';
		for (int flow = 0; flow < 2; flow++) {
			mn_buf_t b = { 0 };
			if (flow)
				mn_buf_addf(&b, "a: { %s: 2 }\n", key);
			else
				mn_buf_addf(&b, "%s: 1\n", key);
			char *text = mn_buf_take(&b);
			if (text == NULL)
				tap_bail("out of memory");
			ok(agree(text, strlen(text), NULL), "a %zu-character %s key: the same result as libyaml",
			   lens[i], flow ? "flow" : "block");
			free(text);
		}
		free(key);
	}
}

static void test_shapes(void)
{
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		bool fast = false;
		ok(agree(shapes[i], strlen(shapes[i]), &fast), "shape %zu: the same tree and messages", i);
		ok(fast, "shape %zu: read by the fast reader", i);
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		bool fast = true;
		ok(agree(others[i], strlen(others[i]), &fast), "other %zu: the same result as libyaml", i);
		ok(!fast, "other %zu: left to libyaml", i);
	}
}

/*
 * Every one-byte change of the shapes (each byte replaced by, or preceded
 * by, each character YAML treats specially): both readers agree, whichever
 * reads it.
 */
static void test_mutations(void)
{
	static const char set[] = ":,{}[]#'\" \n-?&*!|>%@\t\\=x";
	size_t tried = 0, bad = 0, fast_n = 0;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t len = strlen(shapes[i]);
		char *buf = malloc(len + 2);
		if (buf == NULL)
			tap_bail("malloc");
		for (size_t at = 0; at < len; at++) {
			for (size_t c = 0; c < sizeof(set) - 1; c++) {
				for (int insert = 0; insert < 2; insert++) {
					memcpy(buf, shapes[i], at);
					buf[at] = set[c];
					memcpy(buf + at + 1, shapes[i] + at + !insert, len - at - !insert);
					size_t n = len + (size_t)insert;
					buf[n] = '\0';
					bool fast = false;
					tried++;
					if (!agree(buf, n, &fast) && bad++ < 3)
						tap_diag("differs: shape %zu, byte %zu, '%c' %s", i, at, set[c],
							  insert ? "inserted" : "replacing");
					fast_n += fast;
				}
			}
		}
		free(buf);
	}
	is_int((long long)bad, 0, "%zu changed texts: both readers agree on each", tried);
	ok(fast_n > tried / 4, "the fast reader took %zu of them", fast_n);
}

/* Every policy file of the tests and examples: the same with both readers. */
static void walk(const char *dir, size_t *files, size_t *bad, size_t *fast_n)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path, files, bad, fast_n);
			continue;
		}
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		char *data = NULL;
		size_t len = 0;
		if (ydoc_read(path, &data, &len) != MN_OK)
			continue;
		bool fast = false;
		(*files)++;
		if (!agree(data, len, &fast)) {
			(*bad)++;
			tap_diag("differs: %s", path);
		}
		*fast_n += fast;
		free(data);
	}
	closedir(d);
}

/*
 * A byte outside printable ASCII and newlines (the fast reader checks eight
 * at a time) at each place of a word and of the tail, in a plain and a quoted
 * value: left to libyaml, with its result.
 */
static void test_bytes(void)
{
	static const unsigned char bad[] = { 0x00, 0x09, 0x0d, 0x1f, 0x7f, 0x80, 0xc3, 0xff };
	static const char *lines[] = { "a: xxxxxxxxxxxxxxxxxxxxxxx\nb: 1\n", "a: \"xxxxxxxxxxxxxxxxxxxxxxx\"\n" };
	size_t tried = 0, wrong = 0, clean_fast = 0;
	for (size_t l = 0; l < sizeof(lines) / sizeof(lines[0]); l++) {
		size_t len = strlen(lines[l]);
		bool fast = false;
		clean_fast += agree(lines[l], len, &fast) && fast;
		char buf[64];
		/* every byte of the value (within a word, at its edges and in the tail) */
		for (size_t at = 4; at < 26; at++) {
			for (size_t b = 0; b < sizeof(bad); b++) {
				memcpy(buf, lines[l], len + 1);
				buf[at] = (char)bad[b];
				fast = true;
				tried++;
				if ((!agree(buf, len, &fast) || fast) && wrong++ < 3)
					tap_diag("line %zu: byte 0x%02x at %zu %s", l, bad[b], at,
						  fast ? "taken by the fast reader" : "read otherwise than by libyaml");
			}
		}
	}
	is_int((long long)clean_fast, 2, "the clean lines: read by the fast reader");
	is_int((long long)wrong, 0, "%zu lines with a control or non-ASCII byte: each left to libyaml", tried);
}

/* Repeated keys in mappings of more than 16 keys (looked up by hash), block and flow, nested. */
static void test_big_dups(void)
{
	for (int dup = 0; dup < 4; dup++) {
		mn_buf_t b = { 0 };
		mn_buf_addf(&b, "domains:\n");
		for (int i = 0; i < 20; i++) {
			mn_buf_addf(&b, "  d%d.example: {", dup == 1 && i == 19 ? 3 : i);
			for (int k = 0; k < 18; k++)
				mn_buf_addf(&b, "%s k%d: %d", k > 0 ? "," : "", dup == 2 && i == 7 && k == 17 ? 0 : k, k);
			mn_buf_addf(&b, " }\n");
		}
		if (dup == 3)
			mn_buf_addf(&b, "other: 1\ndomains: {}\n");
		char *text = mn_buf_take(&b);
		if (text == NULL)
			tap_bail("out of memory");
		bool fast = false;
		ok(agree(text, strlen(text), &fast) && fast, "20 x 18 keys, repeated: %s: the same tree and messages, fast",
		   (const char *[]){ "none", "a domain", "a key in a flow map", "the top key" }[dup]);
		free(text);
	}
}

/*
 * One arena for every tree in turn (ydoc_parse_into, as the loader reads its
 * files): each the tree a new arena gets, its nodes zeroed where the memory
 * held another tree (large trees, small ones, ones left to libyaml, in
 * turn), and the same for libyaml's result when the text is outside the subset.
 */
static void test_reuse(void)
{
	if (yarena_new(&reuse) != MN_OK)
		tap_bail("yarena_new");
	/* a large tree first: its chunks (the arena's largest) are then reused by the others */
	mn_buf_t b = { 0 };
	mn_buf_add(&b, "domains:\n");
	for (int i = 0; i < 3000; i++)
		mn_buf_addf(&b, "  d%d.example: { spf: { ip4: [10.0.%d.0/24], all: fail }, dmarc: { p: reject, pct: %d } }\n",
			    i, i % 256, i % 100);
	char *big = mn_buf_take(&b);
	if (big == NULL)
		tap_bail("out of memory");
	size_t tried = 0, bad = 0;
	for (int round = 0; round < 2; round++) {
		const char *texts[sizeof(shapes) / sizeof(shapes[0]) + sizeof(others) / sizeof(others[0]) + 1];
		size_t n = 0;
		texts[n++] = big;
		for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
			texts[n++] = shapes[i];
			if (i < sizeof(others) / sizeof(others[0]))
				texts[n++] = others[i];
		}
		for (size_t i = 0; i < n; i++) {
			yarena_t *keep = reuse;
			reuse = NULL;
			char *want = read_with(texts[i], strlen(texts[i]), false, NULL);
			reuse = keep;
			char *got = read_with(texts[i], strlen(texts[i]), false, NULL);
			tried++;
			if (strcmp(want, got) != 0 && bad++ < 2)
				tap_diag("round %d, text %zu:\n%.300s\nwant:\n%.300s", round, i, got, want);
			free(want);
			free(got);
		}
	}
	is_int((long long)bad, 0, "%zu trees made in one arena in turn: each as in a new arena", tried);
	/* the arena is still the caller's, usable for anything after a reset */
	yarena_reset(reuse);
	unsigned char *z = yarena_alloc(reuse, 100000);
	bool zero = z != NULL;
	for (size_t i = 0; zero && i < 100000; i++)
		zero = z[i] == 0;
	ok(zero, "an allocation after a reset is zeroed");
	yarena_free(reuse);
	reuse = NULL;
	free(big);
}

static void test_files(void)
{
	size_t files = 0, bad = 0, fast_n = 0;
	char dir[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/tests/data", srcdir);
	walk(dir, &files, &bad, &fast_n);
	snprintf(dir, sizeof(dir), "%s/examples", srcdir);
	walk(dir, &files, &bad, &fast_n);
	ok(files >= 50, "%zu policy files found", files);
	is_int((long long)bad, 0, "every file: the same tree and messages (%zu read by the fast reader)", fast_n);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	if (realpath(top != NULL ? top : ".", srcdir) == NULL)
		tap_bail("top_srcdir");
	test_shapes();
	test_long_keys();
	test_mutations();
	test_bytes();
	test_big_dups();
	test_reuse();
	test_files();
	return tap_done();
}
