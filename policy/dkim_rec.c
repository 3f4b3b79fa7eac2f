/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dkim_rec.c -- DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463) and tag-lists */
#include "policy/dkim_rec.h"

#include <ctype.h>
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
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag_add(d, level, pos, "%s: %s", what, buf);
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
	if (tags == NULL)
		return;
	for (size_t i = 0; i < tags->n; i++) {
		free(tags->v[i].name);
		free(tags->v[i].value);
	}
	free(tags->v);
	free(tags);
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
static int parse_spec(dkim_tags_t *t, const char *s, size_t len, const char *what, const mn_pos_t *pos,
		      diag_t *d)
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
		if (!fws((char)c) && (c < 0x21 || c > 0x7e)) {
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
	dkim_tag_t *nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return MN_ENOMEM;
	t->v = nv;
	nv[t->n].name = strndup(n, nl);
	nv[t->n].value = strndup(v, vl);
	t->n++;
	if (nv[t->n - 1].name == NULL || nv[t->n - 1].value == NULL)
		return MN_ENOMEM;
	return MN_OK;
}

int dkim_tags_parse(const char *text, const char *what, const mn_pos_t *pos, diag_t *diag, dkim_tags_t **out)
{
	if (text == NULL || what == NULL || out == NULL)
		return MN_EINVAL;
	dkim_tags_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return MN_ENOMEM;
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
			rc = parse_spec(t, p, pl, what, pos, diag);
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

/*
 * base64string (RFC 6376 §2.4): whitespace may appear anywhere; '=' padding
 * only at the end; missing padding is tolerated.  *out malloc'd.
 */
static int base64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(s);
	char *clean = malloc(len + 4);
	unsigned char *bin = malloc(len / 4 * 3 + 6);
	int rc = MN_ENOMEM;
	if (clean == NULL || bin == NULL)
		goto fail;
	rc = MN_ESYNTAX;
	size_t n = 0, pad = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (fws(c))
			continue;
		if (c == '=') {
			pad++;
		} else if (pad > 0 || !(isalnum((unsigned char)c) || c == '+' || c == '/')) {
			goto fail;
		}
		clean[n++] = c;
	}
	if (pad > 2 || n % 4 == 1)
		goto fail;
	while (n % 4 != 0) {
		clean[n++] = '=';
		pad++;
	}
	if (pad > 2)
		goto fail;
	int got = n == 0 ? 0 : EVP_DecodeBlock(bin, (unsigned char *)clean, (int)n);
	if (got < 0 || (size_t)got < pad)
		goto fail;
	free(clean);
	*out = bin;
	*outlen = (size_t)got - pad;
	return MN_OK;
fail:
	free(clean);
	free(bin);
	return rc;
}

/* p= for k=rsa: SubjectPublicKeyInfo or PKCS#1 RSAPublicKey (RFC 6376 §3.6.1). */
static void check_rsa(check_t *c, const unsigned char *der, size_t len, dkim_key_info_t *info)
{
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
	int bits = EVP_PKEY_get_bits(pk);
	info->bits = bits > 0 ? (unsigned)bits : 0;
	if (bits < 1024)
		emit(c->d, DIAG_ERROR, c->pos, "DKIM", "RSA key of %d bits is too small (at least 1024, RFC 8301 §3.2)",
		     bits);
	else if (bits < 2048)
		emit(c->d, DIAG_WARNING, c->pos, "DKIM", "RSA key of %d bits is weak (use 2048 or more)", bits);
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
