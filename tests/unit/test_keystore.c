/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_keystore.c -- keystore_published(): the published file of a domain */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keystore.h"
#include "policy/mn.h"
#include "tests/tap/tap.h"

static char tmp[256];

static void put(const char *domain, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/keys/%s", tmp, domain);
	if (mn_mkdir_p(path, 0700) != MN_OK)
		tap_bail("mkdir %s", path);
	snprintf(path, sizeof(path), "%s/keys/%s/published", tmp, domain);
	if (mn_file_write_atomic(path, text, strlen(text), 0644) != MN_OK)
		tap_bail("write %s", path);
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/test_keystore.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");

	keystore_pub_t *v = NULL;
	size_t n = 99;

	/* nothing at all: no keys directory */
	is_int(keystore_published(tmp, "example.com", &v, &n), MN_OK, "no keys dir: MN_OK");
	is_int((long long)n, 0, "no keys dir: 0 entries");
	keystore_pub_free(v, n);

	/* a well-formed file, unsorted, with a comment and a blank line */
	put("example.com",
	    "# selectors of example.com\n"
	    "mn20300301r active v=DKIM1; k=rsa; p=MIIBIjAN\n"
	    "\n"
	    "mn20300101e retired v=DKIM1; k=ed25519; p=abcd  \n"
	    "mn20300101a revoked v=DKIM1; p=\n"
	    "mn20300401r pending v=DKIM1; k=rsa; p=XYZ\n");
	v = NULL;
	n = 0;
	is_int(keystore_published(tmp, "example.com", &v, &n), MN_OK, "published file reads");
	is_int((long long)n, 4, "4 entries");
	if (n == 4) {
		static const struct {
			const char *sel;
			key_phase_t phase;
			const char *rec;
		} want[] = {
			{ "mn20300101a", KEY_REVOKED, "v=DKIM1; p=" },
			{ "mn20300101e", KEY_RETIRED, "v=DKIM1; k=ed25519; p=abcd" },
			{ "mn20300301r", KEY_ACTIVE, "v=DKIM1; k=rsa; p=MIIBIjAN" },
			{ "mn20300401r", KEY_PENDING, "v=DKIM1; k=rsa; p=XYZ" },
		};
		for (size_t i = 0; i < 4; i++) {
			is_str(v[i].selector, want[i].sel, "entry %zu selector (sorted)", i);
			is_int(v[i].phase, want[i].phase, "entry %zu phase", i);
			is_str(v[i].record, want[i].rec, "entry %zu record (rest of line, trailing blanks cut)", i);
		}
	}
	keystore_pub_free(v, n);

	/* another domain without state */
	v = NULL;
	n = 7;
	is_int(keystore_published(tmp, "example.org", &v, &n), MN_OK, "domain without state: MN_OK");
	is_int((long long)n, 0, "domain without state: 0 entries");
	keystore_pub_free(v, n);

	/* malformed lines */
	static const struct {
		const char *text;
		const char *what;
	} bad[] = {
		{ "mn1 active\n", "no record" },
		{ "mn1\n", "selector only" },
		{ "mn1 sleeping v=DKIM1; p=abc\n", "unknown phase" },
		{ "bad_sel!ector active v=DKIM1; p=abc\n", "bad selector characters" },
		{ "mn1 active v=DKIM1; p=a\nmn1 retired v=DKIM1; p=b\n", "a selector listed twice" },
		{ "mn1 ACTIVE v=DKIM1; p=a\n", "phase is case-sensitive" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put("bad.example", bad[i].text);
		v = NULL;
		n = 42;
		int r = keystore_published(tmp, "bad.example", &v, &n);
		is_int(r, MN_ESTATE, "malformed (%s): MN_ESTATE", bad[i].what);
		is_int((long long)n, 42, "malformed (%s): out-params untouched", bad[i].what);
	}

	is_int(keystore_published(tmp, "../etc", &v, &n), MN_EINVAL, "a domain with a slash: MN_EINVAL");
	is_int(keystore_published(NULL, "example.com", &v, &n), MN_EINVAL, "NULL state dir: MN_EINVAL");

	is_str(keystore_phase_name(KEY_PENDING), "pending", "phase name pending");
	is_str(keystore_phase_name(KEY_ACTIVE), "active", "phase name active");
	is_str(keystore_phase_name(KEY_RETIRED), "retired", "phase name retired");
	is_str(keystore_phase_name(KEY_REVOKED), "revoked", "phase name revoked");
	keystore_pub_free(NULL, 0);

	rm_rf(tmp);
	return tap_done();
}
