/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keypair.c -- DKIM key pairs with OpenSSL EVP: generation, private PEM, public DNS record */
#include "keys/keypair.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "policy/mn.h"

static int rsa_bits(dkim_alg_t alg)
{
	switch (alg) {
	case DKIM_ALG_RSA1024: return 1024;
	case DKIM_ALG_RSA2048: return 2048;
	case DKIM_ALG_RSA3072: return 3072;
	case DKIM_ALG_RSA4096: return 4096;
	default: return 0;
	}
}

int keypair_new(dkim_alg_t alg, keypair_t **out)
{
	if (out == NULL || (alg != DKIM_ALG_ED25519 && rsa_bits(alg) == 0))
		return MN_EINVAL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(alg == DKIM_ALG_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA, NULL);
	EVP_PKEY *k = NULL;
	int r = MN_ESTATE;
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0)
		goto fail;
	if (alg != DKIM_ALG_ED25519 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, rsa_bits(alg)) <= 0)
		goto fail;
	if (EVP_PKEY_keygen(ctx, &k) <= 0)
		goto fail;
	*out = k;
	r = MN_OK;
fail:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

void keypair_free(keypair_t *k)
{
	EVP_PKEY_free(k);
}

/* The contents of a memory BIO as a malloc'd string. */
static int bio_take(BIO *b, char **out, size_t *len)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n < 0)
		return MN_ESTATE;
	char *s = malloc((size_t)n + 1);
	if (s == NULL)
		return MN_ENOMEM;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	if (len != NULL)
		*len = (size_t)n;
	return MN_OK;
}

int keypair_pem(const keypair_t *k, char **pem, size_t *len)
{
	if (k == NULL || pem == NULL)
		return MN_EINVAL;
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return MN_ENOMEM;
	int ok;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		ok = PEM_write_bio_PrivateKey_traditional(b, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	int r = ok ? bio_take(b, pem, len) : MN_ESTATE;
	BIO_free(b);
	return r;
}

int keypair_from_pem(const char *pem, size_t len, keypair_t **out)
{
	if (pem == NULL || out == NULL || len > (size_t)1 << 20)
		return MN_EINVAL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (b == NULL)
		return MN_ENOMEM;
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL)
		return MN_ESYNTAX;
	*out = k;
	return MN_OK;
}

static char *b64(const unsigned char *data, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	if (s != NULL)
		EVP_EncodeBlock((unsigned char *)s, data, (int)n);
	return s;
}

int keypair_record(const keypair_t *k, char **record)
{
	if (k == NULL || record == NULL)
		return MN_EINVAL;
	unsigned char *der = NULL;
	size_t n = 0;
	const char *type;
	int r = MN_ESTATE;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		type = "ed25519";
		if (EVP_PKEY_get_raw_public_key(k, NULL, &n) <= 0 || n != 32)
			return MN_ESTATE;
		der = OPENSSL_malloc(n);
		if (der == NULL)
			return MN_ENOMEM;
		if (EVP_PKEY_get_raw_public_key(k, der, &n) <= 0)
			goto fail;
	} else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		type = "rsa";
		int l = i2d_PUBKEY(k, &der);
		if (l <= 0)
			return MN_ESTATE;
		n = (size_t)l;
	} else {
		return MN_EINVAL;
	}
	char *p = b64(der, n);
	r = MN_ENOMEM;
	if (p == NULL)
		goto fail;
	size_t rl = strlen(p) + 32;
	char *rec = malloc(rl);
	if (rec != NULL) {
		snprintf(rec, rl, "v=DKIM1; k=%s; p=%s", type, p);
		*record = rec;
		r = MN_OK;
	}
	free(p);
fail:
	OPENSSL_free(der);
	return r;
}
