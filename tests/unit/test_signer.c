/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_signer.c -- the signer tables from a key set: OpenDKIM KeyTable/SigningTable (all, per algorithm), rspamd maps */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keystore.h"
#include "keys/signer.h"
#include "policy/mn.h"
#include "policy/policy.h"
#include "tests/tap/tap.h"

static void free_text(char *text[SIGNER_NFILES])
{
	for (size_t f = 0; f < SIGNER_NFILES; f++) {
		free(text[f]);
		text[f] = NULL;
	}
}

static void test_empty(void)
{
	char *text[SIGNER_NFILES] = { 0 };
	is_int(signer_tables_text("/st", NULL, 0, text), MN_OK, "no active key: the tables");
	for (size_t f = 0; f < SIGNER_NFILES; f++)
		is_str(text[f], "", "no active key: %s is empty (not missing)", signer_file_names[f]);
	free_text(text);
	is_int(signer_tables_text(NULL, NULL, 0, text), MN_EINVAL, "no state_dir: MN_EINVAL");
	is_int(signer_tables_text("/st", NULL, 1, text), MN_EINVAL, "keys counted but none given: MN_EINVAL");
}

/* In no order: dual-signing, RSA only with two keys, Ed25519 only. */
static const signer_key_t keys[] = {
	{ "d.example", "r2", DKIM_ALG_RSA2048 },
	{ "b.example", "s2", DKIM_ALG_RSA1024 },
	{ "a.example", "r1", DKIM_ALG_RSA2048 },
	{ "c.example", "e9", DKIM_ALG_ED25519 },
	{ "a.example", "e1", DKIM_ALG_ED25519 },
	{ "d.example", "r1", DKIM_ALG_RSA4096 },
};
enum { NKEYS = sizeof(keys) / sizeof(keys[0]) };

static const char *const want[SIGNER_NFILES] = {
	[SIGNER_KEYTABLE] =
		"e1._domainkey.a.example a.example:e1:/st/keys/a.example/e1.pem\n"
		"r1._domainkey.a.example a.example:r1:/st/keys/a.example/r1.pem\n"
		"s2._domainkey.b.example b.example:s2:/st/keys/b.example/s2.pem\n"
		"e9._domainkey.c.example c.example:e9:/st/keys/c.example/e9.pem\n"
		"r1._domainkey.d.example d.example:r1:/st/keys/d.example/r1.pem\n"
		"r2._domainkey.d.example d.example:r2:/st/keys/d.example/r2.pem\n",
	[SIGNER_SIGNINGTABLE] =
		"*@a.example e1._domainkey.a.example\n"
		"*@a.example r1._domainkey.a.example\n"
		"*@b.example s2._domainkey.b.example\n"
		"*@c.example e9._domainkey.c.example\n"
		"*@d.example r1._domainkey.d.example\n"
		"*@d.example r2._domainkey.d.example\n",
	[SIGNER_RSPAMD_SELECTORS] =
		"a.example r1\n"
		"b.example s2\n"
		"c.example e9\n"
		"d.example r1\n",
	[SIGNER_RSPAMD_PATHS] =
		"a.example /st/keys/a.example/r1.pem\n"
		"b.example /st/keys/b.example/s2.pem\n"
		"c.example /st/keys/c.example/e9.pem\n"
		"d.example /st/keys/d.example/r1.pem\n",
	[SIGNER_KEYTABLE_RSA] =
		"r1._domainkey.a.example a.example:r1:/st/keys/a.example/r1.pem\n"
		"s2._domainkey.b.example b.example:s2:/st/keys/b.example/s2.pem\n"
		"r1._domainkey.d.example d.example:r1:/st/keys/d.example/r1.pem\n"
		"r2._domainkey.d.example d.example:r2:/st/keys/d.example/r2.pem\n",
	[SIGNER_SIGNINGTABLE_RSA] =
		"*@a.example r1._domainkey.a.example\n"
		"*@b.example s2._domainkey.b.example\n"
		"*@d.example r1._domainkey.d.example\n"
		"*@d.example r2._domainkey.d.example\n",
	[SIGNER_KEYTABLE_ED25519] =
		"e1._domainkey.a.example a.example:e1:/st/keys/a.example/e1.pem\n"
		"e9._domainkey.c.example c.example:e9:/st/keys/c.example/e9.pem\n",
	[SIGNER_SIGNINGTABLE_ED25519] =
		"*@a.example e1._domainkey.a.example\n"
		"*@c.example e9._domainkey.c.example\n",
};

static void test_tables(void)
{
	char *text[SIGNER_NFILES] = { 0 };
	is_int(signer_tables_text("/st", keys, NKEYS, text), MN_OK, "%d keys of 4 domains: the tables", NKEYS);
	for (size_t f = 0; f < SIGNER_NFILES; f++)
		is_str(text[f], want[f], "%s: sorted by domain and selector", signer_file_names[f]);
	free_text(text);

	/* rspamd takes the RSA key of a dual-signing domain whichever selector sorts first */
	const signer_key_t dual[] = {
		{ "x.example", "b-rsa", DKIM_ALG_RSA2048 },
		{ "x.example", "a-ed", DKIM_ALG_ED25519 },
		{ "x.example", "c-ed", DKIM_ALG_ED25519 },
		{ "x.example", "d-rsa", DKIM_ALG_RSA2048 },
	};
	is_int(signer_tables_text("/st", dual, 4, text), MN_OK, "two RSA and two Ed25519 keys of one domain");
	is_str(text[SIGNER_RSPAMD_SELECTORS], "x.example b-rsa\n",
	       "rspamd selectors: the first RSA key, not the Ed25519 key sorting before it");
	is_str(text[SIGNER_RSPAMD_PATHS], "x.example /st/keys/x.example/b-rsa.pem\n", "rspamd paths: the same key");
	is_str(text[SIGNER_SIGNINGTABLE],
	       "*@x.example a-ed._domainkey.x.example\n*@x.example b-rsa._domainkey.x.example\n"
	       "*@x.example c-ed._domainkey.x.example\n*@x.example d-rsa._domainkey.x.example\n",
	       "SigningTable: one line per key");
	free_text(text);
}

static char *slurp(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *s = NULL;
	size_t len = 0;
	if (mn_file_read(path, &s, &len) != MN_OK)
		return NULL;
	return s;
}

static void test_write(void)
{
	char tmp[256], path[512];
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/test_signer.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	bool changed = false;
	is_int(signer_tables_write(tmp, keys, NKEYS, &changed), MN_OK, "the tables written");
	ok(changed, "a first write changes the files");
	char *text[SIGNER_NFILES] = { 0 };
	if (signer_tables_text(tmp, keys, NKEYS, text) != MN_OK)
		tap_bail("signer_tables_text");
	struct stat st;
	for (size_t f = 0; f < SIGNER_NFILES; f++) {
		char *got = slurp(tmp, signer_file_names[f]);
		is_str(got, text[f], "%s on disk is its text", signer_file_names[f]);
		free(got);
		snprintf(path, sizeof(path), "%s/%s", tmp, signer_file_names[f]);
		is_int(stat(path, &st) == 0 ? (long long)(st.st_mode & 07777) : -1, 0644, "%s: mode 0644",
		       signer_file_names[f]);
	}
	free_text(text);
	changed = true;
	is_int(signer_tables_write(tmp, keys, NKEYS, &changed), MN_OK, "the same keys again");
	ok(!changed, "the same keys: nothing written");
	is_int(signer_tables_write(tmp, keys, 2, &changed), MN_OK, "fewer keys");
	ok(changed, "fewer keys: the tables rewritten");
	char *got = slurp(tmp, "opendkim/KeyTable"), want_kt[1024];
	snprintf(want_kt, sizeof(want_kt),
		 "s2._domainkey.b.example b.example:s2:%s/keys/b.example/s2.pem\n"
		 "r2._domainkey.d.example d.example:r2:%s/keys/d.example/r2.pem\n", tmp, tmp);
	is_str(got, want_kt, "fewer keys: KeyTable names only them");
	free(got);

	/* rspamd/ a symbolic link: refused, nothing written through it */
	char rspamd[512], cmd[1024];
	snprintf(rspamd, sizeof(rspamd), "%s/rspamd", tmp);
	snprintf(cmd, sizeof(cmd), "rm -r '%s'", rspamd);
	snprintf(path, sizeof(path), "%s/elsewhere", tmp);
	if (system(cmd) != 0 || mkdir(path, 0755) != 0 || symlink("elsewhere", rspamd) != 0)
		tap_bail("cannot make %s a link", rspamd);
	is_int(signer_tables_write(tmp, keys, NKEYS, &changed), MN_ESYMLINK,
	       "rspamd/ a symbolic link: MN_ESYMLINK");
	snprintf(path, sizeof(path), "%s/elsewhere/dkim_selectors.map", tmp);
	ok(access(path, F_OK) != 0, "nothing written through it");
	snprintf(cmd, sizeof(cmd), "rm -r '%s'", tmp);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
}

/* MAILNS_FAULT_STEP stops a key run only in a build with --enable-fault-injection */
static void test_no_fault(void)
{
#ifdef MN_FAULT_INJECTION
	tap_skip("built with --enable-fault-injection (crash.sh tests the switch)");
#else
	char tmp[256];
	const char *t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/test_signer.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	char next[16];
	snprintf(next, sizeof(next), "%u", keystore_steps() + 1);	/* this write's first step */
	setenv("MAILNS_FAULT_STEP", next, 1);
	is_int(signer_tables_write(tmp, keys, NKEYS, NULL), MN_OK,
	       "MAILNS_FAULT_STEP=%s in a build without fault injection: the writes go on", next);
	unsetenv("MAILNS_FAULT_STEP");
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -r '%s'", tmp);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
#endif
}

int main(void)
{
	test_empty();
	test_tables();
	test_write();
	test_no_fault();
	return tap_done();
}
