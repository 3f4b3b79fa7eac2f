/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dkim_rec.c -- DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463) and tag-lists */
#include "policy/dkim_rec.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

__attribute__((format(printf, 5, 6)))
static void emit(diag_t *d, diag_level_t level, const mn_pos_t *pos, const char *what, const char *fmt, ...)
{
	if (d == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	diag_addv(d, level, pos, what, fmt, ap);
	va_end(ap);
}

/* FWS in a DNS record: space, tab, CR, LF (RFC 6376 §3.2). */
static bool fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && fws(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && fws((*s)[*len - 1]))
		(*len)--;
}

void dkim_tags_free(dkim_tags_t *tags)
{
	free(tags);	/* one block: the list, its array and the strings (dkim_tags_parse) */
}

const char *dkim_tags_get(const dkim_tags_t *tags, const char *name, size_t *index)
{
	if (tags == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < tags->n; i++)
		if (strcmp(tags->v[i].name, name) == 0) {
			if (index != NULL)
				*index = i;
			return tags->v[i].value;
		}
	return NULL;
}

/* tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS] (RFC 6376 §3.2) */
static int parse_spec(dkim_tags_t *t, char **str, const char *s, size_t len, const char *what,
		      const mn_pos_t *pos, diag_t *d)
{
	const char *eq = memchr(s, '=', len);
	if (eq == NULL) {
		emit(d, DIAG_ERROR, pos, what, "'%.*s' is not tag=value", (int)len, s);
		t->bad++;
		return MN_OK;
	}
	const char *n = s, *v = eq + 1;
	size_t nl = (size_t)(eq - s), vl = len - nl - 1;
	trim(&n, &nl);
	trim(&v, &vl);
	/* tag-name = ALPHA *ALNUMPUNC */
	bool good = nl > 0 && isalpha((unsigned char)n[0]);
	for (size_t i = 1; good && i < nl; i++)
		good = isalnum((unsigned char)n[i]) || n[i] == '_';
	if (!good) {
		emit(d, DIAG_ERROR, pos, what, "bad tag name '%.*s'", (int)nl, n);
		t->bad++;
		return MN_OK;
	}
	/* tag-value: VALCHAR = %x21-3A / %x3C-7E, FWS between tvals */
	for (size_t i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x21 || c > 0x7e) && !fws((char)c)) {	/* the common case: one range test */
			emit(d, DIAG_ERROR, pos, what, "invalid character 0x%02x in the value of %.*s=", c, (int)nl, n);
			t->bad++;
			return MN_OK;
		}
	}
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i].name) == nl && memcmp(t->v[i].name, n, nl) == 0) {
			emit(d, DIAG_ERROR, pos, what, "duplicate tag '%.*s'", (int)nl, n);
			t->bad++;
			return MN_OK;
		}
	/* the array and the strings were sized for the whole text (dkim_tags_parse) */
	dkim_tag_t *tag = &t->v[t->n++];
	tag->name = *str;
	memcpy(*str, n, nl);
	(*str)[nl] = '\0';
	*str += nl + 1;
	tag->value = *str;
	memcpy(*str, v, vl);
	(*str)[vl] = '\0';
	*str += vl + 1;
	return MN_OK;
}

int dkim_tags_parse(const char *text, const char *what, const mn_pos_t *pos, diag_t *diag, dkim_tags_t **out)
{
	if (text == NULL || what == NULL || out == NULL)
		return MN_EINVAL;
	/*
	 * One block: the list, an array of a slot per ';'-separated part, and the
	 * names and values (each shorter than its part, plus its NUL): no
	 * allocation or copy per tag (every DKIM record of every domain comes here
	 * at each compile).
	 */
	size_t parts = 1, tlen = strlen(text);
	for (const char *q = strchr(text, ';'); q != NULL; q = strchr(q + 1, ';'))
		parts++;
	dkim_tags_t *t = calloc(1, sizeof(*t) + parts * sizeof(dkim_tag_t) + tlen + parts + 1);
	if (t == NULL)
		return MN_ENOMEM;
	t->v = (dkim_tag_t *)(t + 1);
	char *str = (char *)(t->v + parts);
	int rc = MN_OK;
	const char *s = text;
	for (;;) {
		size_t len = strcspn(s, ";");
		bool last = s[len] == '\0';
		const char *p = s;
		size_t pl = len;
		trim(&p, &pl);
		if (pl == 0) {
			/* tag-list = tag-spec *( ";" tag-spec ) [ ";" ]: only a final ';' may be empty */
			if (!last) {
				emit(diag, DIAG_ERROR, pos, what, "empty tag (';;' or a leading ';')");
				t->bad++;
			}
		} else {
			rc = parse_spec(t, &str, p, pl, what, pos, diag);
			if (rc != MN_OK)
				goto fail;
		}
		if (last)
			break;
		s += len + 1;
	}
	*out = t;
	return MN_OK;
fail:
	dkim_tags_free(t);
	return rc;
}

/*
 * Calls fn for each ':'-separated item of a list (whitespace trimmed).
 * Returns false when an item is empty.
 */
static bool each_item(const char *list, void (*fn)(const char *item, size_t len, void *arg), void *arg)
{
	const char *s = list;
	for (;;) {
		size_t len = strcspn(s, ":");
		const char *p = s;
		size_t pl = len;
		trim(&p, &pl);
		if (pl == 0)
			return false;
		fn(p, pl, arg);
		if (s[len] == '\0')
			return true;
		s += len + 1;
	}
}

typedef struct check {
	diag_t *d;
	const mn_pos_t *pos;
	bool sha1, sha256, testing;
} check_t;

static void hash_item(const char *item, size_t len, void *arg)
{
	check_t *c = arg;
	if (len == 4 && memcmp(item, "sha1", 4) == 0)
		c->sha1 = true;
	else if (len == 6 && memcmp(item, "sha256", 6) == 0)
		c->sha256 = true;
	else
		emit(c->d, DIAG_WARNING, c->pos, "DKIM", "unknown hash '%.*s' in h= (ignored)", (int)len, item);
}

static void service_item(const char *item, size_t len, void *arg)
{
	check_t *c = arg;
	if ((len == 1 && item[0] == '*') || (len == 5 && memcmp(item, "email", 5) == 0))
		return;
	emit(c->d, DIAG_WARNING, c->pos, "DKIM", "unknown service type '%.*s' in s= (ignored)", (int)len, item);
}

static void flag_item(const char *item, size_t len, void *arg)
{
	check_t *c = arg;
	/* t=y: testing; t=s: strict; others are ignored (RFC 6376 §3.6.1) */
	if (len == 1 && item[0] == 'y')
		c->testing = true;
}

/* What each character is in a base64string: a digit's value (0-63), or one of these. */
enum { B64_BAD = -1, B64_FWS = -2, B64_PAD = -3 };
static signed char b64_tab[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_init(void)
{
	static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	memset(b64_tab, B64_BAD, sizeof(b64_tab));
	for (int k = 0; k < 64; k++)
		b64_tab[(unsigned char)digits[k]] = (signed char)k;
	b64_tab['='] = B64_PAD;
	for (int c = 0; c < 256; c++)
		if (fws((char)c))
			b64_tab[c] = B64_FWS;
}

/*
 * base64string (RFC 6376 §2.4): whitespace may appear anywhere; '=' padding
 * only at the end; missing padding is tolerated.  *out malloc'd.  Decoded in
 * one pass by a table (every DKIM key of every domain comes here at each compile).
 */
static int base64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	pthread_once(&b64_once, b64_init);
	size_t len = strlen(s);
	unsigned char *bin = malloc(len / 4 * 3 + 6);
	if (bin == NULL)
		return MN_ENOMEM;
	size_t pad = 0, o = 0;
	uint32_t acc = 0;
	unsigned q = 0;		/* digits in acc */
	for (size_t i = 0; i < len; i++) {
		int v = b64_tab[(unsigned char)s[i]];
		if (v < 0) {
			if (v == B64_FWS)
				continue;
			if (v == B64_BAD)
				goto fail;
			pad++;
			v = 0;
		} else if (pad > 0) {
			goto fail;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++q == 4) {
			bin[o++] = (unsigned char)(acc >> 16);
			bin[o++] = (unsigned char)(acc >> 8);
			bin[o++] = (unsigned char)acc;
			acc = 0;
			q = 0;
		}
	}
	if (pad > 2 || q == 1)
		goto fail;
	if (q != 0) {	/* the padding left out */
		pad += 4 - q;
		acc <<= 6 * (4 - q);
		bin[o++] = (unsigned char)(acc >> 16);
		bin[o++] = (unsigned char)(acc >> 8);
		bin[o++] = (unsigned char)acc;
	}
	if (pad > 2 || o < pad)
		goto fail;
	*out = bin;
	*outlen = o - pad;
	return MN_OK;
fail:
	free(bin);
	return MN_ESYNTAX;
}

/* One DER TLV of tag t at *p: its content [*v, *v + *n); definite minimal lengths only. */
static bool der_get(const unsigned char **p, const unsigned char *end, unsigned char t,
		    const unsigned char **v, size_t *n)
{
	const unsigned char *q = *p;
	if (end - q < 2 || q[0] != t)
		return false;
	size_t l = q[1];
	q += 2;
	if (l & 0x80) {
		size_t k = l & 0x7f;
		if (k == 0 || k > 2 || (size_t)(end - q) < k || q[0] == 0)
			return false;
		l = k == 1 ? q[0] : (size_t)q[0] << 8 | q[1];
		q += k;
		if (l < 0x80 || (k == 2 && l < 0x100))
			return false;
	}
	if ((size_t)(end - q) < l)
		return false;
	*v = q;
	*n = l;
	*p = q + l;
	return true;
}

/* A positive, odd DER INTEGER: its size in bits, else 0. */
static unsigned der_odd_bits(const unsigned char *v, size_t n)
{
	if (n == 0 || (v[0] & 0x80) || (n > 1 && v[0] == 0 && !(v[1] & 0x80)) || !(v[n - 1] & 1))
		return 0;
	if (v[0] == 0) {
		v++;
		n--;
	}
	unsigned bits = (unsigned)(n - 1) * 8;
	for (unsigned b = v[0]; b != 0; b >>= 1)
		bits++;
	return bits;
}

/*
 * The modulus size of a plain, well-formed RSA SubjectPublicKeyInfo, read
 * without OpenSSL: its decoder costs about 150 us a key, which is most of a
 * start-up of 100,000 domains with keys of their own.  0 for anything else
 * (PKCS#1, other algorithms, odd encodings, trailing bytes): OpenSSL then
 * decides, and says what is wrong.
 */
static unsigned spki_rsa_bits(const unsigned char *der, size_t len)
{
	static const unsigned char rsa_alg[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
						 0x01, 0x01, 0x01, 0x05, 0x00 };
	const unsigned char *p = der, *end = der + len, *v, *alg, *bit, *n, *e;
	size_t vl, algl, bitl, nl, el;
	if (!der_get(&p, end, 0x30, &v, &vl) || p != end)
		return 0;
	p = v;
	end = v + vl;
	if (!der_get(&p, end, 0x30, &alg, &algl) || algl != sizeof(rsa_alg) ||
	    memcmp(alg, rsa_alg, sizeof(rsa_alg)) != 0 || !der_get(&p, end, 0x03, &bit, &bitl) ||
	    p != end || bitl < 1 || bit[0] != 0)
		return 0;
	p = bit + 1;
	end = bit + bitl;
	if (!der_get(&p, end, 0x30, &v, &vl) || p != end)
		return 0;
	p = v;
	end = v + vl;
	if (!der_get(&p, end, 0x02, &n, &nl) || !der_get(&p, end, 0x02, &e, &el) || p != end)
		return 0;
	unsigned ebits = der_odd_bits(e, el), bits = der_odd_bits(n, nl);
	return ebits >= 2 && ebits <= 64 ? bits : 0;
}

static void rsa_bits_check(check_t *c, int bits, dkim_key_info_t *info)
{
	info->bits = bits > 0 ? (unsigned)bits : 0;
	if (bits < 1024)
		emit(c->d, DIAG_ERROR, c->pos, "DKIM", "RSA key of %d bits is too small (at least 1024, RFC 8301 §3.2)",
		     bits);
	else if (bits < 2048)
		emit(c->d, DIAG_WARNING, c->pos, "DKIM", "RSA key of %d bits is weak (use 2048 or more)", bits);
}

/* p= for k=rsa: SubjectPublicKeyInfo or PKCS#1 RSAPublicKey (RFC 6376 §3.6.1). */
static void check_rsa(check_t *c, const unsigned char *der, size_t len, dkim_key_info_t *info)
{
	unsigned fast = spki_rsa_bits(der, len);
	if (fast > 0) {
		rsa_bits_check(c, (int)fast, info);
		return;
	}
	const unsigned char *q = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, (long)len);
	if (pk == NULL) {
		q = der;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)len);
	}
	ERR_clear_error();
	if (pk == NULL) {
		emit(c->d, DIAG_ERROR, c->pos, "DKIM", "p= is not an RSA public key (SubjectPublicKeyInfo or RSAPublicKey)");
		return;
	}
	int id = EVP_PKEY_get_base_id(pk);
	if (id != EVP_PKEY_RSA) {
		const char *sn = OBJ_nid2sn(id);
		emit(c->d, DIAG_ERROR, c->pos, "DKIM", "p= holds a %s key, not RSA", sn != NULL ? sn : "non-RSA");
		goto out;
	}
	if (q != der + len) {
		emit(c->d, DIAG_ERROR, c->pos, "DKIM", "p= has %zu bytes after the RSA key", (size_t)(der + len - q));
		goto out;
	}
	rsa_bits_check(c, EVP_PKEY_get_bits(pk), info);
out:
	EVP_PKEY_free(pk);
}

int dkim_key_record_check(const char *text, const mn_pos_t *pos, diag_t *diag, dkim_key_info_t *info)
{
	if (text == NULL || diag == NULL)
		return MN_EINVAL;
	dkim_tags_t *t = NULL;
	int rc = dkim_tags_parse(text, "DKIM", pos, diag, &t);
	if (rc != MN_OK)
		return rc;
	check_t c = { .d = diag, .pos = pos };
	dkim_key_info_t in = { .type = DKIM_KEY_RSA };
	size_t vi = 0;
	const char *v = dkim_tags_get(t, "v", &vi);
	if (v != NULL) {
		/* v= "MUST be the first tag in the record" (RFC 6376 §3.6.1) */
		if (vi != 0)
			emit(diag, DIAG_ERROR, pos, "DKIM", "v=DKIM1 must be the first tag");
		if (strcmp(v, "DKIM1") != 0)
			emit(diag, DIAG_ERROR, pos, "DKIM", "v=%s is not DKIM1", v);
	}
	const char *h = dkim_tags_get(t, "h", NULL);
	if (h != NULL) {
		if (!each_item(h, hash_item, &c))
			emit(diag, DIAG_ERROR, pos, "DKIM", "bad h= list '%s'", h);
		else if (!c.sha256 && c.sha1)
			emit(diag, DIAG_ERROR, pos, "DKIM", "h=%s allows only sha1, which verifiers reject (RFC 8301 §3.1)", h);
		else if (!c.sha256)
			emit(diag, DIAG_ERROR, pos, "DKIM", "h=%s lists no known hash (sha256)", h);
	}
	const char *k = dkim_tags_get(t, "k", NULL);
	if (k != NULL) {
		if (strcmp(k, "rsa") == 0) {
			in.type = DKIM_KEY_RSA;
		} else if (strcmp(k, "ed25519") == 0) {
			in.type = DKIM_KEY_ED25519;	/* RFC 8463 §4.2 */
		} else {
			in.type = DKIM_KEY_NONE;
			emit(diag, DIAG_ERROR, pos, "DKIM", "k=%s is not rsa or ed25519", k);
		}
	}
	const char *p = dkim_tags_get(t, "p", NULL);
	if (p == NULL) {
		emit(diag, DIAG_ERROR, pos, "DKIM", "p= is missing (required, RFC 6376 §3.6.1)");
	} else if (p[0] == '\0') {
		in.revoked = true;	/* "An empty value means that this public key has been revoked" */
	} else {
		unsigned char *der = NULL;
		size_t len = 0;
		rc = base64_decode(p, &der, &len);
		if (rc == MN_ENOMEM)
			goto fail;
		rc = MN_OK;
		if (der == NULL) {
			emit(diag, DIAG_ERROR, pos, "DKIM", "p= is not valid base64");
		} else if (in.type == DKIM_KEY_RSA) {
			check_rsa(&c, der, len, &in);
		} else if (in.type == DKIM_KEY_ED25519) {
			if (len != 32)
				emit(diag, DIAG_ERROR, pos, "DKIM",
				     "p= for k=ed25519 must be 32 bytes, not %zu (RFC 8463 §4.2)", len);
			else
				in.bits = 256;
		}
		free(der);
	}
	const char *s = dkim_tags_get(t, "s", NULL);
	if (s != NULL && !each_item(s, service_item, &c))
		emit(diag, DIAG_ERROR, pos, "DKIM", "bad s= list '%s'", s);
	const char *fl = dkim_tags_get(t, "t", NULL);
	if (fl != NULL && !each_item(fl, flag_item, &c))
		emit(diag, DIAG_ERROR, pos, "DKIM", "bad t= list '%s'", fl);
	if (c.testing) {
		in.testing = true;
		emit(diag, DIAG_WARNING, pos, "DKIM", "t=y: the domain is testing DKIM, verifiers may ignore failures");
	}
	rc = t->bad > 0 ? MN_ESYNTAX : MN_OK;
	if (rc == MN_OK && info != NULL)
		*info = in;
fail:
	dkim_tags_free(t);
	return rc;
}
