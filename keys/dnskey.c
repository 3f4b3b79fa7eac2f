/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dnskey.c -- DNSSEC signing keys: OpenSSL EVP, DNSKEY RDATA, key tag, DS, state_dir/dnssec/ZONE */
#include "keys/dnskey.h"

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "keys/keystore.h"
#include "policy/mn.h"
#include "policy/wire.h"

struct dnskey {
	EVP_PKEY *pkey;		/* NULL while lazy */
	bool lazy;		/* read from a PKCS#8 P-256 key: pkey made from priv at the first signature */
	uint8_t priv[32];	/* lazy: the private scalar (cleansed once pkey is made) */
	EVP_PKEY_CTX *pctx;	/* ECDSA: sign_init done once, reused for every signature */
	EVP_MD_CTX *mctx;	/* Ed25519: one-shot DigestSign, re-initialized per signature */
	dnssec_alg_t alg;
	uint16_t flags, tag, rdlen;
	time_t created;
	uint8_t rdata[DNSKEY_RDATA_MAX];
};

static int key_ready(dnskey_t *k);

uint16_t dnskey_rdata_tag(const uint8_t *rdata, size_t len)
{
	uint32_t ac = 0;
	for (size_t i = 0; i < len; i++)
		ac += (i & 1) ? rdata[i] : (uint32_t)rdata[i] << 8;
	ac += (ac >> 16) & 0xffff;
	return (uint16_t)(ac & 0xffff);
}

/* Checks the key's type against alg, fills the RDATA and prepares signing. */
static int key_setup(dnskey_t *k)
{
	bool ec = k->alg == DNSSEC_ALG_ECDSAP256SHA256;
	if (ec) {
		char group[32];
		size_t gl = 0;
		if (!EVP_PKEY_is_a(k->pkey, "EC") ||
		    !EVP_PKEY_get_group_name(k->pkey, group, sizeof(group), &gl) || strcmp(group, "prime256v1") != 0)
			return MN_ESTATE;
	} else if (!EVP_PKEY_is_a(k->pkey, "ED25519")) {
		return MN_ESTATE;
	}
	mn_put16(k->rdata, k->flags);
	k->rdata[2] = 3;	/* protocol */
	k->rdata[3] = (uint8_t)k->alg;
	if (ec) {	/* the uncompressed point 04 || x || y; the RDATA has x || y (RFC 6605 §4) */
		unsigned char *pub = NULL;
		size_t pl = EVP_PKEY_get1_encoded_public_key(k->pkey, &pub);
		bool good = pl == 65 && pub[0] == 0x04;
		if (good)
			memcpy(k->rdata + 4, pub + 1, 64);
		OPENSSL_free(pub);
		if (!good)
			return MN_ESTATE;
		k->rdlen = 4 + 64;
	} else {	/* the 32 bytes of RFC 8080 §3 */
		size_t pl = 32;
		if (!EVP_PKEY_get_raw_public_key(k->pkey, k->rdata + 4, &pl) || pl != 32)
			return MN_ESTATE;
		k->rdlen = 4 + 32;
	}
	k->tag = dnskey_rdata_tag(k->rdata, k->rdlen);
	if (ec) {
		k->pctx = EVP_PKEY_CTX_new(k->pkey, NULL);
		if (k->pctx == NULL || EVP_PKEY_sign_init(k->pctx) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(k->pctx, mn_sha256()) <= 0)
			return MN_ESTATE;
	} else if ((k->mctx = EVP_MD_CTX_new()) == NULL) {
		return MN_ENOMEM;
	}
	return MN_OK;
}

/* Takes pkey (freed on failure too). */
static int key_make(EVP_PKEY *pkey, dnssec_alg_t alg, uint16_t flags, time_t created, dnskey_t **out)
{
	dnskey_t *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return MN_ENOMEM;
	}
	k->pkey = pkey;
	k->alg = alg;
	k->flags = flags;
	k->created = created;
	int r = key_setup(k);
	if (r != MN_OK) {
		dnskey_free(k);
		return r;
	}
	*out = k;
	return MN_OK;
}

static bool args_ok(dnssec_alg_t alg, uint16_t flags)
{
	return (alg == DNSSEC_ALG_ECDSAP256SHA256 || alg == DNSSEC_ALG_ED25519) &&
	       (flags == DNSKEY_FLAGS_SEP || flags == DNSKEY_FLAGS_ZSK);
}

int dnskey_new(dnssec_alg_t alg, uint16_t flags, time_t now, dnskey_t **out)
{
	if (out == NULL || !args_ok(alg, flags))
		return MN_EINVAL;
	EVP_PKEY *pkey = alg == DNSSEC_ALG_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
						      EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pkey == NULL)
		return MN_ESTATE;
	return key_make(pkey, alg, flags, now, out);
}

void dnskey_free(dnskey_t *k)
{
	if (k == NULL)
		return;
	OPENSSL_cleanse(k->priv, sizeof(k->priv));
	EVP_PKEY_CTX_free(k->pctx);
	EVP_MD_CTX_free(k->mctx);
	EVP_PKEY_free(k->pkey);
	free(k);
}

dnssec_alg_t dnskey_alg(const dnskey_t *k)
{
	return k->alg;
}

uint16_t dnskey_flags(const dnskey_t *k)
{
	return k->flags;
}

uint16_t dnskey_tag(const dnskey_t *k)
{
	return k->tag;
}

time_t dnskey_created(const dnskey_t *k)
{
	return k->created;
}

const uint8_t *dnskey_rdata(const dnskey_t *k, uint16_t *len)
{
	*len = k->rdlen;
	return k->rdata;
}

int dnskey_ds(const dnskey_t *k, const uint8_t *owner, size_t owner_len, uint8_t ds[DNSKEY_DS_LEN])
{
	if (k == NULL || owner == NULL || owner_len == 0 || owner_len > 255)
		return MN_EINVAL;
	uint8_t lower[255];
	for (size_t i = 0; i < owner_len; i++)
		lower[i] = owner[i] >= 'A' && owner[i] <= 'Z' ? owner[i] + 32 : owner[i];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int dl = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, mn_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, lower, owner_len) && EVP_DigestUpdate(ctx, k->rdata, k->rdlen) &&
		 EVP_DigestFinal_ex(ctx, ds + 4, &dl) && dl == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return MN_ESTATE;
	mn_put16(ds, k->tag);
	ds[2] = (uint8_t)k->alg;
	ds[3] = 2;	/* SHA-256 */
	return MN_OK;
}

/* A DER ECDSA-Sig-Value into r||s, 32 bytes each. */
static int der_to_rs(const uint8_t *der, size_t len, uint8_t sig[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (s == NULL)
		return MN_ESTATE;
	const BIGNUM *r = NULL, *ss = NULL;
	ECDSA_SIG_get0(s, &r, &ss);
	int ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(ss, sig + 32, 32) == 32;
	ECDSA_SIG_free(s);
	return ok ? MN_OK : MN_ESTATE;
}

int dnskey_sign(dnskey_t *k, const uint8_t *data, size_t len, uint8_t sig[DNSKEY_SIG_MAX], size_t *siglen)
{
	if (k == NULL || (data == NULL && len > 0) || sig == NULL || siglen == NULL)
		return MN_EINVAL;
	int lr = key_ready(k);
	if (lr != MN_OK)
		return lr;
	if (k->alg == DNSSEC_ALG_ED25519) {
		size_t n = DNSKEY_SIG_MAX;
		if (EVP_DigestSignInit(k->mctx, NULL, NULL, NULL, k->pkey) <= 0 ||
		    EVP_DigestSign(k->mctx, sig, &n, data, len) <= 0 || n != 64)
			return MN_ESTATE;
		*siglen = n;
		return MN_OK;
	}
	uint8_t hash[32], der[80];
	unsigned int hl = 0;
	size_t dl = sizeof(der);
	if (!EVP_Digest(data, len, hash, &hl, mn_sha256(), NULL) || hl != 32 ||
	    EVP_PKEY_sign(k->pctx, der, &dl, hash, sizeof(hash)) <= 0)
		return MN_ESTATE;
	int r = der_to_rs(der, dl, sig);
	if (r == MN_OK)
		*siglen = 64;
	return r;
}

int dnskey_pem(const dnskey_t *k, char **pem, size_t *len)
{
	if (k == NULL || pem == NULL)
		return MN_EINVAL;
	/* a lazy key is made here (what a signature does; one thread per key all the same) */
	int lr = key_ready((dnskey_t *)k);
	if (lr != MN_OK)
		return lr;
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return MN_ENOMEM;
	int r = MN_ESTATE;
	char *data = NULL;
	if (PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) == 1) {
		long n = BIO_get_mem_data(b, &data);
		char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
		if (s != NULL) {
			memcpy(s, data, (size_t)n);
			s[n] = '\0';
			*pem = s;
			if (len != NULL)
				*len = (size_t)n;
			r = MN_OK;
		} else if (n > 0) {
			r = MN_ENOMEM;
		}
	}
	BIO_free(b);
	return r;
}

/*
 * The PKCS#8 DER of the PEM that dnskey_pem() writes (one "PRIVATE KEY"
 * block), into der (*derlen bytes); false for anything else.
 */
static bool pem_der(const char *pem, size_t len, uint8_t *der, size_t size, size_t *derlen)
{
	static const char head[] = "-----BEGIN PRIVATE KEY-----\n", tail[] = "-----END PRIVATE KEY-----";
	if (len < sizeof(head) || memcmp(pem, head, sizeof(head) - 1) != 0)
		return false;
	char b64[256];
	size_t n = 0;
	for (size_t i = sizeof(head) - 1; i < len && pem[i] != '-'; i++) {
		if (pem[i] == '\n')
			continue;
		if (n == sizeof(b64))
			return false;
		b64[n++] = pem[i];
	}
	size_t at = sizeof(head) - 1;
	while (at < len && pem[at] != '-')
		at++;
	if (n == 0 || n % 4 != 0 || len - at < sizeof(tail) - 1 || memcmp(pem + at, tail, sizeof(tail) - 1) != 0 ||
	    n / 4 * 3 > size)
		return false;
	int d = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
	if (d < 0)
		return false;
	size_t pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	*derlen = (size_t)d - pad;
	return true;
}

/*
 * The key of the PKCS#8 DER OpenSSL writes for a P-256 key (with its public
 * point) or an Ed25519 key, built without OpenSSL's decoders, which cost
 * about 0.5 ms a key (100,000 zones load their keys at each start); NULL for
 * any other form (the caller decodes it the slow way).
 */
static const uint8_t pkcs8_ed[] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
				   0x04, 0x22, 0x04, 0x20 };
static const uint8_t pkcs8_ec[] = { 0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
				   0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
				   0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20 };
static const uint8_t pkcs8_ec_pub[] = { 0xa1, 0x44, 0x03, 0x42, 0x00, 0x04 };

/* The P-256 private scalar and public point (04 || x || y) of the PKCS#8 DER mailns writes, or NULL. */
static const uint8_t *pkcs8_ec_parts(const uint8_t *der, size_t len, const uint8_t **pub)
{
	if (len != sizeof(pkcs8_ec) + 32 + sizeof(pkcs8_ec_pub) + 64 || memcmp(der, pkcs8_ec, sizeof(pkcs8_ec)) != 0 ||
	    memcmp(der + sizeof(pkcs8_ec) + 32, pkcs8_ec_pub, sizeof(pkcs8_ec_pub)) != 0)
		return NULL;
	*pub = der + sizeof(pkcs8_ec) + 32 + sizeof(pkcs8_ec_pub) - 1;
	return der + sizeof(pkcs8_ec);
}

/* The P-256 key of a private scalar and its public point (65 bytes), or NULL. */
static EVP_PKEY *ec_pkey(const uint8_t priv_be[32], const uint8_t pub[65])
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	BIGNUM *priv = BN_bin2bn(priv_be, 32, NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 65),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
		OSSL_PARAM_END,
	};
	unsigned char pbuf[32];
	if (priv != NULL && BN_bn2nativepad(priv, pbuf, sizeof(pbuf)) == (int)sizeof(pbuf)) {
		params[2] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, pbuf, sizeof(pbuf));
		if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
			pkey = NULL;
	}
	OPENSSL_cleanse(pbuf, sizeof(pbuf));
	BN_clear_free(priv);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *pkcs8_fast(const uint8_t *der, size_t len)
{
	if (len == sizeof(pkcs8_ed) + 32 && memcmp(der, pkcs8_ed, sizeof(pkcs8_ed)) == 0)
		return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, der + sizeof(pkcs8_ed), 32);
	const uint8_t *pub = NULL, *priv = pkcs8_ec_parts(der, len, &pub);
	return priv != NULL ? ec_pkey(priv, pub) : NULL;
}

/*
 * A P-256 key as mailns writes it, lazy: its DNSKEY RDATA and tag from the
 * public point at once, its OpenSSL key (the costly part: most of a start
 * with stored signatures, which reuses them all) only at its first signature.
 */
static int key_lazy(const uint8_t *priv, const uint8_t *pub, uint16_t flags, time_t created, dnskey_t **out)
{
	dnskey_t *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return MN_ENOMEM;
	k->lazy = true;
	memcpy(k->priv, priv, 32);
	k->alg = DNSSEC_ALG_ECDSAP256SHA256;
	k->flags = flags;
	k->created = created;
	mn_put16(k->rdata, flags);
	k->rdata[2] = 3;	/* protocol */
	k->rdata[3] = (uint8_t)k->alg;
	memcpy(k->rdata + 4, pub + 1, 64);	/* x || y (RFC 6605 §4) */
	k->rdlen = 4 + 64;
	k->tag = dnskey_rdata_tag(k->rdata, k->rdlen);
	*out = k;
	return MN_OK;
}

/* A lazy key's OpenSSL key and signing context, made now. */
static int key_ready(dnskey_t *k)
{
	if (k->pkey != NULL || !k->lazy)
		return k->pkey != NULL ? MN_OK : MN_ESTATE;
	uint8_t pub[65];
	pub[0] = 0x04;
	memcpy(pub + 1, k->rdata + 4, 64);
	k->pkey = ec_pkey(k->priv, pub);
	if (k->pkey == NULL)
		return MN_ESTATE;
	OPENSSL_cleanse(k->priv, sizeof(k->priv));
	uint16_t tag = k->tag;
	int r = key_setup(k);	/* (the same RDATA again, from OpenSSL's key) */
	return r == MN_OK && k->tag != tag ? MN_ESTATE : r;
}

int dnskey_from_pem(const char *pem, size_t len, uint16_t flags, time_t created, dnskey_t **out)
{
	if (pem == NULL || out == NULL || len > INT32_MAX)
		return MN_EINVAL;
	uint8_t der[192];
	size_t dl = 0;
	bool fast = pem_der(pem, len, der, sizeof(der), &dl);
	const uint8_t *pub = NULL, *priv = fast ? pkcs8_ec_parts(der, dl, &pub) : NULL;
	if (priv != NULL) {
		int r = args_ok(DNSSEC_ALG_ECDSAP256SHA256, flags) ? key_lazy(priv, pub, flags, created, out) : MN_EINVAL;
		OPENSSL_cleanse(der, sizeof(der));
		return r;
	}
	EVP_PKEY *pkey = fast ? pkcs8_fast(der, dl) : NULL;
	OPENSSL_cleanse(der, sizeof(der));
	BIO *b = pkey == NULL ? BIO_new_mem_buf(pem, (int)len) : NULL;
	if (pkey == NULL && b == NULL)
		return MN_ENOMEM;
	if (pkey == NULL)
		pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (pkey == NULL)
		return MN_ESTATE;
	dnssec_alg_t alg = EVP_PKEY_is_a(pkey, "ED25519") ? DNSSEC_ALG_ED25519 : DNSSEC_ALG_ECDSAP256SHA256;
	if (!args_ok(alg, flags)) {
		EVP_PKEY_free(pkey);
		return MN_EINVAL;
	}
	return key_make(pkey, alg, flags, created, out);
}

void dnskey_set_clear(dnskey_set_t *s)
{
	if (s == NULL)
		return;
	if (s->n == 0) {	/* a set built by hand */
		dnskey_free(s->ksk);
		dnskey_free(s->zsk);
	}
	for (size_t i = 0; i < s->n; i++)
		dnskey_free(s->v[i]);
	memset(s, 0, sizeof(*s));
}

/* ---- roles, states, what each key does --------------------------------------------- */

static const char *const state_names[DNSKEY_STATE_COUNT] = {
	"presign", "published", "ready", "active", "retired", "postsign", "removed",
};
static const char *const ds_names[DNSKEY_DS_COUNT] = { "none", "submitted", "seen", "withdrawn", "gone" };
static const char *const role_names[] = { "csk", "ksk", "zsk" };

const char *dnskey_state_name(dnskey_state_t s)
{
	return (unsigned)s < DNSKEY_STATE_COUNT ? state_names[s] : "?";
}

const char *dnskey_ds_name(dnskey_ds_t d)
{
	return (unsigned)d < DNSKEY_DS_COUNT ? ds_names[d] : "?";
}

const char *dnskey_role_name(dnskey_role_t r)
{
	return (unsigned)r < 3 ? role_names[r] : "?";
}

static bool signs_keys_role(dnskey_role_t r)
{
	return r != DNSKEY_ROLE_ZSK;
}

static bool signs_data_role(dnskey_role_t r)
{
	return r != DNSKEY_ROLE_KSK;
}

unsigned dnskey_meta_use(const dnskey_meta_t *metas, size_t n, size_t i)
{
	const dnskey_meta_t *m = &metas[i];
	if (m->state == DNSKEY_REMOVED)
		return 0;
	bool active_keys = false, active_data = false;	/* an ACTIVE key of m's algorithm does it */
	for (size_t j = 0; j < n; j++) {
		if (metas[j].state != DNSKEY_ACTIVE || metas[j].alg != m->alg)
			continue;
		active_keys |= signs_keys_role(metas[j].role);
		active_data |= signs_data_role(metas[j].role);
	}
	bool in_dnskey = m->state >= DNSKEY_PUBLISHED && m->state <= DNSKEY_RETIRED;
	unsigned use = in_dnskey ? DNSKEY_USE_DNSKEY : 0;
	if (signs_keys_role(m->role)) {
		if (m->state >= DNSKEY_PUBLISHED && m->state <= DNSKEY_ACTIVE)
			use |= DNSKEY_USE_CDS;
		if (m->state == DNSKEY_ACTIVE || (in_dnskey && !active_keys))
			use |= DNSKEY_USE_SIGN_KEYS;
	}
	if (signs_data_role(m->role) && (m->state == DNSKEY_ACTIVE || !active_data))
		use |= DNSKEY_USE_SIGN_DATA;
	return use;
}

size_t dnskey_set_keys(const dnskey_set_t *s, unsigned use, dnskey_t **out, size_t max)
{
	size_t k = 0;
	if (s->n == 0) {	/* by hand: the SEP key published and signing DNSKEY, the ZSK the rest */
		unsigned sep = DNSKEY_USE_DNSKEY | DNSKEY_USE_CDS | DNSKEY_USE_SIGN_KEYS;
		if (s->zsk == NULL)
			sep |= DNSKEY_USE_SIGN_DATA;
		if (s->ksk != NULL && (use & sep) && k < max)
			out[k++] = s->ksk;
		if (s->zsk != NULL && (use & (DNSKEY_USE_DNSKEY | DNSKEY_USE_SIGN_DATA)) && k < max)
			out[k++] = s->zsk;
		return k;
	}
	for (size_t i = 0; i < s->n && k < max; i++)
		if (s->use[i] & use)
			out[k++] = s->v[i];
	return k;
}

/* ---- state_dir/dnssec/ZONE ------------------------------------------------------ */

enum { FILE_MAX = 65536 };

/* Reads the regular file name in dirfd (not through a link), NUL-terminated, at most max bytes. */
static int read_at(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? MN_ESYMLINK : -errno;
	struct stat st;
	int r = MN_OK;
	char *buf = NULL;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = MN_ENOTFILE;
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		r = MN_ERANGE;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? -errno : MN_ESTATE;
			goto fail;
		}
		n += (size_t)k;
	}
	buf[n] = '\0';
	close(fd);
	*out = buf;
	*len = n;
	return MN_OK;
fail:
	free(buf);
	close(fd);
	return r;
}

static int name_index(const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return (int)i;
	return -1;
}

int dnskey_meta_parse(const char *text, dnskey_meta_t *m, bool *has_role)
{
	int got = 0;
	bool changed = false;
	memset(m, 0, sizeof(*m));
	*has_role = false;
	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *nl = strchr(line, '\n');
		char buf[64], word[16];
		unsigned u;
		long long t;
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = '\0';
			int i;
			if (sscanf(buf, "algorithm %u", &u) == 1) {
				m->alg = (dnssec_alg_t)u;
				got |= 1;
			} else if (sscanf(buf, "flags %u", &u) == 1 && u <= UINT16_MAX) {
				m->flags = (uint16_t)u;
				got |= 2;
			} else if (sscanf(buf, "created %lld", &t) == 1) {
				m->created = (time_t)t;
				got |= 4;
			} else if (sscanf(buf, "state %15s", word) == 1) {
				if ((i = name_index(word, state_names, DNSKEY_STATE_COUNT)) < 0)
					return MN_ESTATE;
				m->state = (dnskey_state_t)i;
				got |= 8;
			} else if (sscanf(buf, "role %15s", word) == 1) {
				if ((i = name_index(word, role_names, 3)) < 0)
					return MN_ESTATE;
				m->role = (dnskey_role_t)i;
				*has_role = true;
			} else if (sscanf(buf, "changed %lld", &t) == 1) {
				m->changed = (time_t)t;
				changed = true;
			} else if (sscanf(buf, "ds_changed %lld", &t) == 1) {
				m->ds_changed = (time_t)t;
			} else if (sscanf(buf, "ds_ttl %u", &u) == 1) {
				m->ds_ttl = u;
			} else if (sscanf(buf, "ds %15s", word) == 1) {
				if ((i = name_index(word, ds_names, DNSKEY_DS_COUNT)) < 0)
					return MN_ESTATE;
				m->ds = (dnskey_ds_t)i;
			}
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	if (got != 15)
		return MN_ESTATE;
	if (!changed)
		m->changed = m->created;
	if (!*has_role)
		m->role = m->flags == DNSKEY_FLAGS_SEP ? DNSKEY_ROLE_CSK : DNSKEY_ROLE_ZSK;
	return MN_OK;
}

char *dnskey_meta_text(const dnskey_meta_t *m)
{
	char *s = malloc(320);
	if (s == NULL)
		return NULL;
	snprintf(s, 320,
		 "algorithm %u\nflags %u\ncreated %lld\nstate %s\nrole %s\nchanged %lld\n"
		 "ds %s\nds_changed %lld\nds_ttl %u\n",
		 (unsigned)m->alg, (unsigned)m->flags, (long long)m->created, dnskey_state_name(m->state),
		 dnskey_role_name(m->role), (long long)m->changed, dnskey_ds_name(m->ds), (long long)m->ds_changed,
		 (unsigned)m->ds_ttl);
	return s;
}

/* The name's owner and group become those of the directory dirfd (as root only). */
static int own_like_dir(int dirfd, const char *name)
{
	if (geteuid() != 0)
		return MN_OK;
	struct stat d;
	if (fstat(dirfd, &d) != 0)
		return -errno;
	if (fchownat(dirfd, name, d.st_uid, d.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return MN_OK;
}

/*
 * The directory base/path entered; with create, made 0750 when missing as
 * leaf in parentfd (the directory above it), owned like it when root made it.
 */
static int dir_enter(int parentfd, const char *base, const char *path, const char *leaf, bool create)
{
	int fd = mn_dir_open(base, path, 0750, false);
	if (fd != MN_ENOENT || !create)
		return fd;
	if (mkdirat(parentfd, leaf, 0750) != 0 && errno != EEXIST)
		return -errno;
	int r = own_like_dir(parentfd, leaf);
	if (r != MN_OK)
		return r;
	return mn_dir_open(base, path, 0750, false);
}

/* The metadata of the key whose file is name ("K.key") in dirfd; id and tag from K. */
static int meta_read(int dirfd, const char *name, dnskey_meta_t *m, bool *has_role)
{
	char *text = NULL;
	size_t len = 0;
	int r = read_at(dirfd, name, FILE_MAX, &text, &len);
	if (r != MN_OK)
		return r;
	r = dnskey_meta_parse(text, m, has_role);
	free(text);
	size_t bl = strlen(name) - 4;	/* without ".key" */
	unsigned tag;
	if (r == MN_OK && (bl >= sizeof(m->id) || sscanf(name, "%u-", &tag) != 1 || tag > UINT16_MAX))
		r = MN_ESTATE;
	if (r != MN_OK)
		return r;
	memcpy(m->id, name, bl);
	m->id[bl] = '\0';
	m->tag = (uint16_t)tag;
	return MN_OK;
}

/* Loads the private key of m (K.pem) and checks it against m. */
static int pem_load(int dirfd, const dnskey_meta_t *m, dnskey_t **out)
{
	char pname[sizeof(m->id) + 8], *pem = NULL;
	size_t plen = 0;
	snprintf(pname, sizeof(pname), "%s.pem", m->id);
	int r = read_at(dirfd, pname, FILE_MAX, &pem, &plen);
	if (r != MN_OK)
		return r == MN_ENOENT ? MN_ESTATE : r;
	dnskey_t *k = NULL;
	r = dnskey_from_pem(pem, plen, m->flags, m->created, &k);
	OPENSSL_cleanse(pem, plen);
	free(pem);
	if (r != MN_OK)
		return MN_ESTATE;
	if (k->alg != m->alg) {
		dnskey_free(k);
		return MN_ESTATE;
	}
	*out = k;
	return MN_OK;
}

/* Replaces K.key with m's text; one step when step. */
static int meta_write(int dirfd, const dnskey_meta_t *m, bool step)
{
	char name[sizeof(m->id) + 8];
	char *text = dnskey_meta_text(m);
	if (text == NULL)
		return MN_ENOMEM;
	snprintf(name, sizeof(name), "%s.key", m->id);
	int r = mn_file_replace_at(dirfd, name, text, strlen(text), 0640, MN_WRITE_FSYNC);
	free(text);
	if (r == MN_OK)
		r = own_like_dir(dirfd, name);
	if (r == MN_OK && step)
		keystore_step();
	return r;
}

/* Writes k as K.pem, then its metadata m as K.key (the key exists once K.key does). */
static int key_store(int dirfd, const dnskey_t *k, dnskey_meta_t *m, bool step)
{
	char name[sizeof(m->id) + 8];
	snprintf(m->id, sizeof(m->id), "%05u-%lld", (unsigned)k->tag, (long long)k->created);
	m->tag = k->tag;
	m->alg = k->alg;
	m->flags = k->flags;
	m->created = k->created;
	char *pem = NULL;
	size_t plen = 0;
	int r = dnskey_pem(k, &pem, &plen);
	if (r != MN_OK)
		return r;
	snprintf(name, sizeof(name), "%s.pem", m->id);
	r = mn_file_replace_at(dirfd, name, pem, plen, 0640, MN_WRITE_FSYNC);
	OPENSSL_cleanse(pem, plen);
	free(pem);
	if (r == MN_OK)
		r = own_like_dir(dirfd, name);
	if (r != MN_OK)
		return r;
	if (step)
		keystore_step();
	return meta_write(dirfd, m, step);
}

static int meta_order(const void *x, const void *y)
{
	const dnskey_meta_t *a = x, *b = y;
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	return (int)a->tag - (int)b->tag;
}

/* The metadata of every key in dirfd, sorted; a SEP key without a role beside a ZSK is a KSK. */
static int list_read(int dirfd, dnskey_meta_t **out, size_t *nout)
{
	int dfd = dup(dirfd);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -errno;
	}
	dnskey_meta_t *v = NULL;
	bool *legacy = NULL;
	size_t n = 0, cap = 0;
	int r = MN_OK;
	struct dirent *e;
	while (r == MN_OK && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".key") != 0 || strchr(e->d_name, '.') != e->d_name + len - 4)
			continue;	/* (also the temporary files of a write under way) */
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			dnskey_meta_t *nv = realloc(v, cap * sizeof(*v));
			bool *nl = nv != NULL ? realloc(legacy, cap * sizeof(*legacy)) : NULL;
			if (nv != NULL)
				v = nv;
			if (nl != NULL)
				legacy = nl;
			if (nv == NULL || nl == NULL) {
				r = MN_ENOMEM;
				break;
			}
		}
		bool has_role = false;
		r = meta_read(dirfd, e->d_name, &v[n], &has_role);
		if (r == MN_OK)
			legacy[n++] = !has_role;
	}
	closedir(d);
	bool zsk = false;
	for (size_t i = 0; r == MN_OK && i < n; i++)
		zsk |= v[i].flags == DNSKEY_FLAGS_ZSK && v[i].state != DNSKEY_REMOVED;
	for (size_t i = 0; r == MN_OK && i < n; i++)
		if (legacy[i] && v[i].flags == DNSKEY_FLAGS_SEP && zsk)
			v[i].role = DNSKEY_ROLE_KSK;
	free(legacy);
	if (r != MN_OK) {
		free(v);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), meta_order);
	*out = v;
	*nout = n;
	return MN_OK;
}

/* A new key of alg and flags whose tag differs from those of avoid[0..n). */
static int key_fresh(dnssec_alg_t alg, uint16_t flags, time_t now, const dnskey_meta_t *avoid, size_t n,
		     dnskey_t **out)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		int r = dnskey_new(alg, flags, now, out);
		if (r != MN_OK)
			return r;
		bool clash = false;
		for (size_t i = 0; i < n; i++)
			clash |= avoid[i].tag == (*out)->tag;
		if (!clash)
			return MN_OK;
		dnskey_free(*out);
		*out = NULL;
	}
	return MN_ESTATE;
}

/*
 * The zone's key directory entered (*zfd); with create, made as needed.
 * MN_ENOENT when it is missing and not create.
 */
static int zone_dir_enter(const char *state_dir, const char *zone, bool create, int *zfd)
{
	char sub[300];
	if (snprintf(sub, sizeof(sub), "dnssec/%s", zone) >= (int)sizeof(sub))
		return MN_EINVAL;
	int r;
	if (create && (r = mn_mkdir_p(state_dir, 0750)) != MN_OK)
		return r;
	int top = mn_dir_open(state_dir, NULL, 0750, false);
	int dfd = top < 0 ? top : dir_enter(top, state_dir, "dnssec", "dnssec", create);
	if (top >= 0)
		close(top);
	if (dfd < 0)
		return dfd;
	int fd = dir_enter(dfd, state_dir, sub, zone, create);
	close(dfd);
	if (fd < 0)
		return fd;
	*zfd = fd;
	return MN_OK;
}

static bool zone_ok(const char *state_dir, const char *zone)
{
	return state_dir != NULL && zone != NULL && zone[0] != '\0' && strchr(zone, '/') == NULL && zone[0] != '.';
}

/* Loads every key of v[0..n) not removed into s (ksk, zsk: the newest active ones). */
static int set_fill(int zfd, const dnskey_meta_t *v, size_t n, dnskey_set_t *s)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].state == DNSKEY_REMOVED)
			continue;
		if (s->n == DNSKEY_SET_MAX)
			return MN_ERANGE;
		int r = pem_load(zfd, &v[i], &s->v[s->n]);
		if (r != MN_OK)
			return r;
		s->meta[s->n++] = v[i];
	}
	for (size_t i = 0; i < s->n; i++) {
		s->use[i] = dnskey_meta_use(s->meta, s->n, i);
		if (s->meta[i].state != DNSKEY_ACTIVE)
			continue;	/* sorted by creation: the newest last */
		if (s->meta[i].role == DNSKEY_ROLE_ZSK)
			s->zsk = s->v[i];
		else
			s->ksk = s->v[i];
	}
	return MN_OK;
}

/* A zone's first keys (alg, shape), written: the ZSK first (a KSK alone would be taken for a CSK). */
static int keys_first(int zfd, dnssec_alg_t alg, dnssec_keys_t shape, time_t now, dnskey_meta_t *v, size_t *n)
{
	dnskey_t *ksk = NULL, *zsk = NULL;
	dnskey_meta_t km = { .state = DNSKEY_ACTIVE, .changed = now,
			     .role = shape == DNSSEC_KEYS_CSK ? DNSKEY_ROLE_CSK : DNSKEY_ROLE_KSK };
	dnskey_meta_t zm = { .state = DNSKEY_ACTIVE, .changed = now, .role = DNSKEY_ROLE_ZSK };
	int r = key_fresh(alg, DNSKEY_FLAGS_SEP, now, v, *n, &ksk);
	if (r == MN_OK && shape == DNSSEC_KEYS_KSK_ZSK) {
		dnskey_meta_t avoid = { .tag = ksk->tag };
		r = key_fresh(alg, DNSKEY_FLAGS_ZSK, now, &avoid, 1, &zsk);
	}
	if (r == MN_OK && zsk != NULL && (r = key_store(zfd, zsk, &zm, false)) == MN_OK)
		v[(*n)++] = zm;
	if (r == MN_OK && (r = key_store(zfd, ksk, &km, false)) == MN_OK)
		v[(*n)++] = km;
	dnskey_free(ksk);
	dnskey_free(zsk);
	return r;
}

int dnskey_zone_keys(const char *state_dir, const char *zone, dnssec_alg_t alg, dnssec_keys_t shape,
		     bool create, time_t now, dnskey_set_t *out, bool *matches)
{
	if (!zone_ok(state_dir, zone) || out == NULL || !args_ok(alg, DNSKEY_FLAGS_SEP))
		return MN_EINVAL;
	dnskey_set_t s;
	memset(&s, 0, sizeof(s));
	dnskey_meta_t *v = NULL;
	size_t n = 0;
	int zfd = -1;
	int r = zone_dir_enter(state_dir, zone, create, &zfd);
	if (r == MN_ENOENT && !create) {
		*out = s;
		if (matches != NULL)
			*matches = true;
		return MN_OK;
	}
	if (r != MN_OK)
		return r;
	r = list_read(zfd, &v, &n);
	if (r != MN_OK)
		goto fail;
	size_t live = 0;
	for (size_t i = 0; i < n; i++)
		live += v[i].state != DNSKEY_REMOVED;
	if (live == 0 && create) {
		dnskey_meta_t *nv = realloc(v, (n + 2) * sizeof(*v));
		if (nv == NULL) {
			r = MN_ENOMEM;
			goto fail;
		}
		v = nv;
		r = keys_first(zfd, alg, shape, now, v, &n);
		if (r != MN_OK)
			goto fail;
	}
	r = set_fill(zfd, v, n, &s);
	if (r != MN_OK)
		goto fail;
	if (s.ksk == NULL) {	/* no active SEP key: nothing signs here */
		dnskey_set_clear(&s);
		memset(&s, 0, sizeof(s));
	}
	close(zfd);
	free(v);
	if (matches != NULL)
		*matches = s.ksk == NULL || (dnskey_alg(s.ksk) == alg && (s.zsk == NULL || dnskey_alg(s.zsk) == alg) &&
					     (s.zsk != NULL) == (shape == DNSSEC_KEYS_KSK_ZSK));
	*out = s;
	return MN_OK;
fail:
	if (zfd >= 0)
		close(zfd);
	free(v);
	dnskey_set_clear(&s);
	return r;
}

int dnskey_zone_list(const char *state_dir, const char *zone, dnskey_meta_t **out, size_t *n)
{
	if (!zone_ok(state_dir, zone) || out == NULL || n == NULL)
		return MN_EINVAL;
	int zfd = -1;
	int r = zone_dir_enter(state_dir, zone, false, &zfd);
	if (r == MN_ENOENT) {
		*out = NULL;
		*n = 0;
		return MN_OK;
	}
	if (r != MN_OK)
		return r;
	r = list_read(zfd, out, n);
	close(zfd);
	return r;
}

int dnskey_zone_add(const char *state_dir, const char *zone, const dnskey_t *k, dnskey_meta_t *m)
{
	if (!zone_ok(state_dir, zone) || k == NULL || m == NULL)
		return MN_EINVAL;
	int zfd = -1;
	int r = zone_dir_enter(state_dir, zone, true, &zfd);
	if (r != MN_OK)
		return r;
	r = key_store(zfd, k, m, true);
	close(zfd);
	return r;
}

int dnskey_zone_update(const char *state_dir, const char *zone, const dnskey_meta_t *m)
{
	if (!zone_ok(state_dir, zone) || m == NULL || m->id[0] == '\0' || strchr(m->id, '/') != NULL)
		return MN_EINVAL;
	int zfd = -1;
	int r = zone_dir_enter(state_dir, zone, false, &zfd);
	if (r != MN_OK)
		return r;
	r = meta_write(zfd, m, true);
	close(zfd);
	return r;
}

int dnskey_zone_destroy(const char *state_dir, const char *zone, const char *id)
{
	if (!zone_ok(state_dir, zone) || id == NULL || id[0] == '\0' || strchr(id, '/') != NULL ||
	    strlen(id) > 32)
		return MN_EINVAL;
	int zfd = -1;
	int r = zone_dir_enter(state_dir, zone, false, &zfd);
	if (r != MN_OK)
		return r == MN_ENOENT ? MN_OK : r;
	char name[48];
	snprintf(name, sizeof(name), "%s.pem", id);
	if (unlinkat(zfd, name, 0) == 0) {
		if (fsync(zfd) != 0)
			r = -errno;
		keystore_step();
	} else if (errno != ENOENT) {
		r = -errno;
	}
	close(zfd);
	return r;
}

/* The zone's key directory, not created. */
static int zone_dir(const char *state_dir, const char *zone)
{
	char sub[300];
	if (state_dir == NULL || zone == NULL || zone[0] == '\0' || zone[0] == '.' || strchr(zone, '/') != NULL ||
	    snprintf(sub, sizeof(sub), "dnssec/%s", zone) >= (int)sizeof(sub))
		return MN_EINVAL;
	return mn_dir_open(state_dir, sub, 0750, false);
}

int dnskey_dir_read(const char *state_dir, const char *zone, const char *name, size_t max, char **out, size_t *len)
{
	if (name == NULL || out == NULL || len == NULL)
		return MN_EINVAL;
	int dirfd = zone_dir(state_dir, zone);
	if (dirfd < 0)
		return dirfd;
	int r = read_at(dirfd, name, max, out, len);
	close(dirfd);
	return r;
}

int dnskey_dir_write(const char *state_dir, const char *zone, const char *name, const void *data, size_t len)
{
	int dirfd = zone_dir(state_dir, zone);
	if (dirfd < 0)
		return dirfd;
	int r = mn_file_replace_at(dirfd, name, data, len, 0640, MN_WRITE_FSYNC);
	if (r == MN_OK)
		r = own_like_dir(dirfd, name);
	close(dirfd);
	return r;
}
