/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_keypair.c -- key generation, private PEM, public record, round trip through the validator */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "keys/keypair.h"
#include "keys/keystore.h"
#include "policy/dkim_rec.h"
#include "policy/mn.h"
#include "tests/tap/tap.h"

static const struct {
	dkim_alg_t alg;
	const char *prefix;	/* of the record */
	const char *pem_head;
	unsigned bits;
	dkim_key_type_t type;
	size_t plen;		/* base64 length of p= */
} cases[] = {
	{ DKIM_ALG_RSA1024, "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ", "-----BEGIN RSA PRIVATE KEY-----\n", 1024, DKIM_KEY_RSA, 216 },
	{ DKIM_ALG_RSA2048, "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", "-----BEGIN RSA PRIVATE KEY-----\n", 2048, DKIM_KEY_RSA, 392 },
	{ DKIM_ALG_ED25519, "v=DKIM1; k=ed25519; p=", "-----BEGIN PRIVATE KEY-----\n", 256, DKIM_KEY_ED25519, 44 },
};

/* keystore_key_write() below tmp never writes through a symbolic link */
static void test_links(const char *tmp)
{
	keypair_t *k = NULL;
	if (keypair_new(DKIM_ALG_ED25519, &k) != MN_OK)
		tap_bail("keypair_new");
	char target[400], link[400], away[400], awaykey[400];
	snprintf(target, sizeof(target), "%s/target", tmp);
	snprintf(link, sizeof(link), "%s/keys/example.org/planted.pem", tmp);
	snprintf(away, sizeof(away), "%s/away", tmp);
	snprintf(awaykey, sizeof(awaykey), "%s/away/s.pem", tmp);
	if (symlink(target, link) != 0)
		tap_bail("symlink %s", link);
	is_int(keystore_key_write(tmp, "example.org", "planted", k), MN_OK,
	       "a link planted under the key's name: the key is written");
	struct stat st;
	ok(lstat(link, &st) == 0 && S_ISREG(st.st_mode), "the link is replaced by the key file");
	ok(lstat(target, &st) != 0, "nothing written where the link pointed");
	unlink(link);
	unlink(target);

	/* keys/DOMAIN itself a link to a directory elsewhere */
	snprintf(link, sizeof(link), "%s/keys/link.example", tmp);
	if (mkdir(away, 0700) != 0 || symlink(away, link) != 0)
		tap_bail("mkdir %s, symlink %s", away, link);
	is_int(keystore_key_write(tmp, "link.example", "s", k), MN_ESYMLINK,
	       "keys/DOMAIN a symbolic link: refused (MN_ESYMLINK)");
	ok(lstat(awaykey, &st) != 0, "no key in the directory it points to");
	unlink(awaykey);
	unlink(link);
	rmdir(away);
	keypair_free(k);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s/test_keypair.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *an = policy_dkim_alg_name(cases[i].alg);
		keypair_t *k = NULL;
		is_int(keypair_new(cases[i].alg, &k), MN_OK, "%s: generated", an);
		if (k == NULL)
			continue;
		char *rec = NULL;
		is_int(keypair_record(k, &rec), MN_OK, "%s: record", an);
		ok(rec != NULL && strncmp(rec, cases[i].prefix, strlen(cases[i].prefix)) == 0,
		   "%s: record starts '%s'", an, cases[i].prefix);
		const char *p = rec ? strstr(rec, "p=") : NULL;
		is_int(p ? (long long)strlen(p + 2) : -1, (long long)cases[i].plen, "%s: p= is %zu base64 bytes", an, cases[i].plen);

		/* the validator parses it as a key of that type and size, no diagnostic */
		diag_t *d = NULL;
		if (diag_new(&d) != MN_OK)
			tap_bail("diag_new");
		dkim_key_info_t info = { 0 };
		mn_pos_t pos = { 0 };
		is_int(dkim_key_record_check(rec, &pos, d, &info), MN_OK, "%s: validator accepts it", an);
		is_int((long long)diag_errors(d), 0, "%s: no error", an);
		is_int((long long)diag_warnings(d), cases[i].bits == 1024, "%s: %s", an,
		       cases[i].bits == 1024 ? "one warning (below 2048 bits)" : "no warning");
		is_int(info.type, cases[i].type, "%s: key type", an);
		is_int(info.bits, cases[i].bits, "%s: %u bits", an, cases[i].bits);
		diag_free(d);

		/* PEM: header, and it reads back as the same key */
		char *pem = NULL;
		size_t len = 0;
		is_int(keypair_pem(k, &pem, &len), MN_OK, "%s: PEM", an);
		ok(pem != NULL && strncmp(pem, cases[i].pem_head, strlen(cases[i].pem_head)) == 0, "%s: PEM header %s", an, cases[i].pem_head);
		keypair_t *back = NULL;
		is_int(keypair_from_pem(pem, len, &back), MN_OK, "%s: PEM reads back", an);
		ok(back != NULL && EVP_PKEY_eq(k, back) == 1, "%s: same key after the round trip", an);
		char *rec2 = NULL;
		if (back != NULL && keypair_record(back, &rec2) == MN_OK)
			is_str(rec2, rec, "%s: same record from the read-back key", an);
		else
			ok(0, "%s: record from the read-back key", an);

		/* written 0600 as keys/DOMAIN/SELECTOR.pem, content is the PEM */
		char *path = keystore_key_path(tmp, "example.org", an);
		if (path == NULL)
			tap_bail("keystore_key_path");
		is_int(keystore_key_write(tmp, "example.org", an, k), MN_OK, "%s: written", an);
		struct stat st;
		is_int(stat(path, &st) == 0 ? (long long)(st.st_mode & 07777) : -1, 0600, "%s: mode 0600", an);
		char *disk = NULL;
		size_t dl = 0;
		is_int(mn_file_read(path, &disk, &dl), MN_OK, "%s: read back", an);
		ok(disk != NULL && dl == len && memcmp(disk, pem, len) == 0, "%s: file is the PEM", an);
		unlink(path);
		free(path);
		free(disk);
		free(rec2);
		keypair_free(back);
		free(pem);
		free(rec);
		keypair_free(k);
	}

	/* two keys differ */
	keypair_t *a = NULL, *b = NULL;
	char *ra = NULL, *rb = NULL;
	if (keypair_new(DKIM_ALG_ED25519, &a) == MN_OK && keypair_new(DKIM_ALG_ED25519, &b) == MN_OK &&
	    keypair_record(a, &ra) == MN_OK && keypair_record(b, &rb) == MN_OK)
		ok(strcmp(ra, rb) != 0, "two generated keys differ");
	else
		ok(0, "two generated keys");
	free(ra);
	free(rb);
	keypair_free(a);
	keypair_free(b);

	/* bad arguments */
	keypair_t *k = NULL;
	is_int(keypair_new(DKIM_ALG_COUNT, &k), MN_EINVAL, "unknown algorithm: MN_EINVAL");
	is_int(keypair_from_pem("not a key", 9, &k), MN_ESYNTAX, "garbage PEM: MN_ESYNTAX");
	char *r = NULL;
	is_int(keypair_record(NULL, &r), MN_EINVAL, "NULL key: MN_EINVAL");
	keypair_free(NULL);
	test_links(tmp);
	char sub[400];
	snprintf(sub, sizeof(sub), "%s/keys/example.org", tmp);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/keys", tmp);
	rmdir(sub);
	rmdir(tmp);
	return tap_done();
}
