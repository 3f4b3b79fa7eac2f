/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_dkim_rec.c -- DKIM key records and tag-lists: exact diagnostics, key types and sizes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "policy/dkim_rec.h"
#include "tests/tap/tap.h"

static const mn_pos_t POS = { "k.yaml", 7, 9 };

#define E(m) "k.yaml:7:9: error: DKIM: " m "\n"
#define W(m) "k.yaml:7:9: warning: DKIM: " m "\n"

/* Keys made once, base64 of their DER (or raw) forms; indexes of the placeholders below. */
enum { RSA512, RSA1024, RSA2048, RSA2048_PKCS1, ED_RAW, ED_SPKI, EC_SPKI, NKEYS };
static const char *const key_names[NKEYS] = {
	"{rsa512}", "{rsa1024}", "{rsa2048}", "{rsa2048-pkcs1}", "{ed}", "{ed-spki}", "{ec}",
};
static char *keys[NKEYS];

static char *b64(const unsigned char *der, int len)
{
	char *out = malloc((size_t)(len + 2) / 3 * 4 + 1);
	if (out == NULL)
		tap_bail("out of memory");
	EVP_EncodeBlock((unsigned char *)out, der, len);
	return out;
}

static char *spki_b64(EVP_PKEY *pk)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(pk, &der);
	if (len <= 0)
		tap_bail("i2d_PUBKEY");
	char *s = b64(der, len);
	OPENSSL_free(der);
	return s;
}

static void make_keys(void)
{
	static const int bits[] = { 512, 1024, 2048 };
	EVP_PKEY *rsa2048 = NULL;
	for (int i = 0; i < 3; i++) {
		EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits[i]);
		if (pk == NULL)
			tap_bail("RSA-%d keygen", bits[i]);
		keys[RSA512 + i] = spki_b64(pk);
		if (bits[i] == 2048)
			rsa2048 = pk;
		else
			EVP_PKEY_free(pk);
	}
	unsigned char *der = NULL;
	int len = i2d_PublicKey(rsa2048, &der);
	if (len <= 0)
		tap_bail("i2d_PublicKey");
	keys[RSA2048_PKCS1] = b64(der, len);
	OPENSSL_free(der);
	EVP_PKEY_free(rsa2048);

	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);
	if (ed == NULL || EVP_PKEY_get_raw_public_key(ed, raw, &rawlen) != 1 || rawlen != 32)
		tap_bail("Ed25519 keygen");
	keys[ED_RAW] = b64(raw, 32);
	keys[ED_SPKI] = spki_b64(ed);
	EVP_PKEY_free(ed);

	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (ec == NULL)
		tap_bail("EC keygen");
	keys[EC_SPKI] = spki_b64(ec);
	EVP_PKEY_free(ec);
}

/* text with every {placeholder} replaced by its key (malloc'd). */
static char *expand(const char *text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	while (*text != '\0') {
		bool done = false;
		for (int k = 0; k < NKEYS && !done; k++) {
			size_t n = strlen(key_names[k]);
			if (strncmp(text, key_names[k], n) == 0) {
				fputs(keys[k], f);
				text += n;
				done = true;
			}
		}
		if (!done)
			fputc(*text++, f);
	}
	fclose(f);
	return buf;
}

typedef struct {
	const char *text;	/* with {placeholders} */
	const char *want;	/* exact diagnostics */
	int ret;
	dkim_key_type_t type;	/* info, compared on MN_OK */
	unsigned bits;
	bool revoked, testing;
} dkim_case_t;

static const dkim_case_t cases[] = {
	/* good keys */
	{ "v=DKIM1; k=rsa; p={rsa2048}", "", MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM1; p={rsa2048}", "", MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "p={rsa2048}", "", MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM1; k=rsa; p={rsa2048-pkcs1}", "", MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM1; k=ed25519; p={ed}", "", MN_OK, DKIM_KEY_ED25519, 256, false, false },
	{ " v = DKIM1 ;\tk=rsa ; h=sha256 ; s=email ; t=s ; n=notes here ; p={rsa2048} ; ", "", MN_OK,
	  DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM1; h=sha1:sha256; s=*:email; t=s:x; zz=unknown; p={rsa2048}", "", MN_OK, DKIM_KEY_RSA, 2048, false,
	  false },
	{ "v=DKIM1; k=rsa; p=", "", MN_OK, DKIM_KEY_RSA, 0, true, false },
	{ "v=DKIM1; p=", "", MN_OK, DKIM_KEY_RSA, 0, true, false },
	/* sizes */
	{ "v=DKIM1; k=rsa; p={rsa1024}", W("RSA key of 1024 bits is weak (use 2048 or more)"), MN_OK, DKIM_KEY_RSA,
	  1024, false, false },
	{ "v=DKIM1; k=rsa; p={rsa512}", E("RSA key of 512 bits is too small (at least 1024, RFC 8301 §3.2)"), MN_OK,
	  DKIM_KEY_RSA, 512, false, false },
	{ "v=DKIM1; k=ed25519; p={ed-spki}", E("p= for k=ed25519 must be 32 bytes, not 44 (RFC 8463 §4.2)"), MN_OK,
	  DKIM_KEY_ED25519, 0, false, false },
	{ "v=DKIM1; k=ed25519; p={rsa2048}", E("p= for k=ed25519 must be 32 bytes, not 294 (RFC 8463 §4.2)"), MN_OK,
	  DKIM_KEY_ED25519, 0, false, false },
	{ "v=DKIM1; k=rsa; p={ed}", E("p= is not an RSA public key (SubjectPublicKeyInfo or RSAPublicKey)"), MN_OK,
	  DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={ed-spki}", E("p= holds a ED25519 key, not RSA"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={ec}", E("p= holds a id-ecPublicKey key, not RSA"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={rsa2048}AAAA", E("p= has 3 bytes after the RSA key"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	/* the padding, written or left out, and whitespace among it */
	{ "v=DKIM1; p={rsa2048}AAA", E("p= has 2 bytes after the RSA key"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={rsa2048}AA", E("p= has 1 bytes after the RSA key"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={rsa2048}AAA=", E("p= has 2 bytes after the RSA key"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={rsa2048}A A = =", E("p= has 1 bytes after the RSA key"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={rsa2048}AA=", E("p= has 1 bytes after the RSA key"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={rsa2048}A===", E("p= is not valid base64"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p={rsa2048}AAAA=", E("p= is not valid base64"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	/* base64 */
	{ "v=DKIM1; p=MIIB!IjAN", E("p= is not valid base64"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p=QUJD=RA==", E("p= is not valid base64"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p=QUJDR", E("p= is not valid base64"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; p=QUJD", E("p= is not an RSA public key (SubjectPublicKeyInfo or RSAPublicKey)"), MN_OK,
	  DKIM_KEY_RSA, 0, false, false },
	{ "v=DKIM1; k=ed25519; p=AAAAAAAAAAAA AAAAAAAAAAAAAAAA\tAAAAAAAAAAAAAA A=", "", MN_OK, DKIM_KEY_ED25519, 256, false,
	  false },
	{ "v=DKIM1; k=ed25519; p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", MN_OK, DKIM_KEY_ED25519, 256, false,
	  false },
	/* v, k, p */
	{ "k=rsa; v=DKIM1; p={rsa2048}", E("v=DKIM1 must be the first tag"), MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM2; p={rsa2048}", E("v=DKIM2 is not DKIM1"), MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "v=dkim1; p={rsa2048}", E("v=dkim1 is not DKIM1"), MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM1; k=dsa; p=AAAA", E("k=dsa is not rsa or ed25519"), MN_OK, DKIM_KEY_NONE, 0, false, false },
	{ "v=DKIM1; k=RSA; p={rsa2048}", E("k=RSA is not rsa or ed25519"), MN_OK, DKIM_KEY_NONE, 0, false, false },
	{ "v=DKIM1; k=rsa", E("p= is missing (required, RFC 6376 §3.6.1)"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	{ "", E("p= is missing (required, RFC 6376 §3.6.1)"), MN_OK, DKIM_KEY_RSA, 0, false, false },
	/* h, s, t */
	{ "v=DKIM1; h=sha1; p={rsa2048}", E("h=sha1 allows only sha1, which verifiers reject (RFC 8301 §3.1)"), MN_OK,
	  DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM1; h=md5:sha1; p={rsa2048}", W("unknown hash 'md5' in h= (ignored)")
	  E("h=md5:sha1 allows only sha1, which verifiers reject (RFC 8301 §3.1)"), MN_OK, DKIM_KEY_RSA, 2048, false,
	  false },
	{ "v=DKIM1; h=sha512; p={rsa2048}", W("unknown hash 'sha512' in h= (ignored)")
	  E("h=sha512 lists no known hash (sha256)"), MN_OK, DKIM_KEY_RSA, 2048, false, false },
	{ "v=DKIM1; h=sha256 : sha3; p={rsa2048}", W("unknown hash 'sha3' in h= (ignored)"), MN_OK, DKIM_KEY_RSA, 2048,
	  false, false },
	{ "v=DKIM1; h=sha256::sha1; p={rsa2048}", E("bad h= list 'sha256::sha1'"), MN_OK, DKIM_KEY_RSA, 2048, false,
	  false },
	{ "v=DKIM1; s=web; p={rsa2048}", W("unknown service type 'web' in s= (ignored)"), MN_OK, DKIM_KEY_RSA, 2048,
	  false, false },
	{ "v=DKIM1; t=y; p={rsa2048}", W("t=y: the domain is testing DKIM, verifiers may ignore failures"), MN_OK,
	  DKIM_KEY_RSA, 2048, false, true },
	{ "v=DKIM1; t=s:y; p=", W("t=y: the domain is testing DKIM, verifiers may ignore failures"), MN_OK,
	  DKIM_KEY_RSA, 0, true, true },
	/* tag-list syntax */
	{ "v=DKIM1; p={rsa2048}; p=", E("duplicate tag 'p'"), MN_ESYNTAX, 0, 0, false, false },
	{ "v=DKIM1;; p={rsa2048}", E("empty tag (';;' or a leading ';')"), MN_ESYNTAX, 0, 0, false, false },
	{ "; v=DKIM1; p={rsa2048}", E("empty tag (';;' or a leading ';')"), MN_ESYNTAX, 0, 0, false, false },
	{ "v=DKIM1; rsa; p={rsa2048}", E("'rsa' is not tag=value"), MN_ESYNTAX, 0, 0, false, false },
	{ "v=DKIM1; 1k=rsa; p={rsa2048}", E("bad tag name '1k'"), MN_ESYNTAX, 0, 0, false, false },
	{ "v=DKIM1; k-x=rsa; p={rsa2048}", E("bad tag name 'k-x'"), MN_ESYNTAX, 0, 0, false, false },
	{ "v=DKIM1; =rsa; p={rsa2048}", E("bad tag name ''"), MN_ESYNTAX, 0, 0, false, false },
	{ "v=DKIM1; n=caf\xc3\xa9; p={rsa2048}", E("invalid character 0xc3 in the value of n="), MN_ESYNTAX, 0, 0,
	  false, false },
	/* every problem is reported */
	{ "k=dsa; v=DKIM1; h=sha1; t=y; k=rsa", E("duplicate tag 'k'") E("v=DKIM1 must be the first tag")
	  E("h=sha1 allows only sha1, which verifiers reject (RFC 8301 §3.1)") E("k=dsa is not rsa or ed25519")
	  E("p= is missing (required, RFC 6376 §3.6.1)")
	  W("t=y: the domain is testing DKIM, verifiers may ignore failures"), MN_ESYNTAX, 0, 0, false, false },
};

static void run_case(const dkim_case_t *c)
{
	char *text = expand(c->text);
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	dkim_key_info_t info = { .type = 99, .bits = 99 };
	int rc = dkim_key_record_check(text, &POS, d, &info);
	char *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);
	diag_print(d, f);
	fclose(f);
	is_int(rc, c->ret, "'%s': return", c->text);
	is_str(got, c->want, "'%s': diagnostics", c->text);
	if (c->ret == MN_OK) {
		is_int(info.type, c->type, "'%s': key type", c->text);
		is_int(info.bits, c->bits, "'%s': bits", c->text);
		ok(info.revoked == c->revoked && info.testing == c->testing, "'%s': revoked %d testing %d", c->text,
		   c->revoked, c->testing);
	} else {
		ok(info.type == 99 && info.bits == 99, "'%s': info untouched", c->text);
	}
	free(got);
	free(text);
	diag_free(d);
}

static void test_tags(void)
{
	dkim_tags_t *t = NULL;
	is_int(dkim_tags_parse(" a = 1 2 ;b=;c_1=x=y; ", "DMARC", &POS, NULL, &t), MN_OK, "tags parse");
	if (t == NULL || t->n != 3) {
		ok(0, "three tags");
		dkim_tags_free(t);
		return;
	}
	is_str(t->v[0].name, "a", "tag 0 name");
	is_str(t->v[0].value, "1 2", "tag 0 value keeps inner space");
	is_str(t->v[1].value, "", "tag 1 empty value");
	is_str(t->v[2].name, "c_1", "tag 2 name");
	is_str(t->v[2].value, "x=y", "tag 2 value with '='");
	is_int(t->bad, 0, "no bad tags");
	size_t i = 9;
	is_str(dkim_tags_get(t, "c_1", &i), "x=y", "get");
	is_int((long long)i, 2, "get index");
	ok(dkim_tags_get(t, "A", NULL) == NULL, "tag names are case-sensitive");
	dkim_tags_free(t);
	dkim_tags_free(NULL);

	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	t = NULL;
	is_int(dkim_tags_parse("a=1;a=2;;x", "DMARC", &POS, d, &t), MN_OK, "bad tags still parse");
	is_int(t != NULL ? (long long)t->bad : -1, 3, "three bad tag-specs");
	is_int(t != NULL ? (long long)t->n : -1, 1, "one good tag");
	is_int((long long)diag_errors(d), 3, "three errors");
	const diag_item_t *it = diag_get(d, 0);
	is_str(it != NULL ? it->msg : NULL, "DMARC: duplicate tag 'a'", "prefix is the caller's");
	dkim_tags_free(t);
	diag_free(d);
	is_int(dkim_tags_parse(NULL, "DKIM", &POS, NULL, &t), MN_EINVAL, "NULL text");
	is_int(dkim_key_record_check("p=", &POS, NULL, NULL), MN_EINVAL, "NULL diag");
}

/*
 * Well-formed RSA SubjectPublicKeyInfo keys are measured without OpenSSL
 * (start-up speed): the size must be OpenSSL's for every modulus length, and
 * anything else must still reach OpenSSL's diagnostics.
 */
static void test_fast_rsa(void)
{
	static const int sizes[] = { 512, 520, 777, 1000, 1023, 1024, 1025, 1100, 1536 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)sizes[i]);
		if (pk == NULL)
			tap_bail("RSA-%d keygen", sizes[i]);
		char *k = spki_b64(pk);
		char rec[1024];
		snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", k);
		diag_t *d = NULL;
		if (diag_new(&d) != MN_OK)
			tap_bail("diag_new");
		dkim_key_info_t info = { 0 };
		dkim_key_record_check(rec, NULL, d, &info);
		tap_is_int(info.bits, EVP_PKEY_get_bits(pk), "RSA-%d: the size OpenSSL gives", sizes[i]);
		diag_free(d);
		/* one byte more after the key: OpenSSL's message */
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(pk, &der);
		unsigned char *more = malloc((size_t)len + 1);
		memcpy(more, der, (size_t)len);
		more[len] = 0;
		char *b = b64(more, len + 1);
		snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", b);
		if (diag_new(&d) != MN_OK)
			tap_bail("diag_new");
		dkim_key_record_check(rec, NULL, d, &info);
		tap_ok(diag_errors(d) == 1, "RSA-%d with a trailing byte: an error", sizes[i]);
		diag_free(d);
		free(b);
		free(more);
		OPENSSL_free(der);
		free(k);
		EVP_PKEY_free(pk);
	}
}

int main(void)
{
	make_keys();
	test_fast_rsa();
	size_t n = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < n; i++)
		run_case(&cases[i]);
	tap_diag("%zu DKIM cases", n);
	test_tags();
	for (int k = 0; k < NKEYS; k++)
		free(keys[k]);
	return tap_done();
}
