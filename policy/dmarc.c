/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dmarc.c -- DMARC policy records (RFC 9989, RFC 9990, RFC 7489) and report URIs */
#include "policy/dmarc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/dkim_rec.h"

__attribute__((format(printf, 4, 5)))
static void emit(diag_t *d, diag_level_t level, const mn_pos_t *pos, const char *fmt, ...)
{
	if (d == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	diag_addv(d, level, pos, "DMARC", fmt, ap);
	va_end(ap);
}

void dmarc_dest_clear(dmarc_dest_t *dest)
{
	if (dest == NULL)
		return;
	free(dest->uri);
	free(dest->domain);
	memset(dest, 0, sizeof(*dest));
}

void dmarc_info_clear(dmarc_info_t *info)
{
	if (info == NULL)
		return;
	for (size_t i = 0; i < info->ndests; i++)
		dmarc_dest_clear(&info->dests[i]);
	free(info->dests);
	memset(info, 0, sizeof(*info));
}

int dmarc_p_parse(const char *s)
{
	static const char *const names[] = { [DMARC_P_NONE] = "none", [DMARC_P_QUARANTINE] = "quarantine",
					     [DMARC_P_REJECT] = "reject" };
	if (s == NULL)
		return -1;
	for (int i = 0; i < 3; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* "!size" = 1*DIGIT [ "k" / "m" / "g" / "t" ] fitting 64 bits (RFC 7489 §6.4). */
static bool parse_size(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || !isdigit((unsigned char)s[0]))
		return false;
	uint64_t v = 0;
	size_t i = 0;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	unsigned shift = 0;
	if (i < len) {
		const char *u = strchr("kmgt", tolower((unsigned char)s[i]));
		if (u == NULL || *u == '\0' || i + 1 != len)
			return false;
		shift = 10 * (unsigned)(u - "kmgt" + 1);
	}
	if (shift > 0 && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

static int hexval(char c)
{
	if (isdigit((unsigned char)c))
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 5322 atext, for dot-atom local parts. */
static bool atext(char c)
{
	return isalnum((unsigned char)c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* domain of an address or host: a valid DNS name with at least two labels. */
static bool host_ok(const char *s, size_t len, char *norm)
{
	char buf[256];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (mn_name_norm(buf, norm, 254) != MN_OK || strchr(norm, '.') == NULL || strchr(norm, '*') != NULL)
		return false;
	return true;
}

/* addr-spec of a mailto: URI, percent-encoding decoded (RFC 6068). */
static bool mailto_ok(const char *s, size_t len, char *domain)
{
	char addr[512];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (n + 1 >= sizeof(addr))
			return false;
		if (s[i] == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return false;
			addr[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			addr[n++] = s[i];
		}
	}
	addr[n] = '\0';
	char *at = strrchr(addr, '@');
	if (at == NULL || at == addr)
		return false;
	size_t ll = (size_t)(at - addr);
	if (addr[0] == '"') {
		if (ll < 2 || addr[ll - 1] != '"')
			return false;
	} else {
		/* dot-atom: atext runs separated by single dots */
		if (addr[0] == '.' || addr[ll - 1] == '.')
			return false;
		for (size_t i = 0; i < ll; i++)
			if (!(atext(addr[i]) || (addr[i] == '.' && addr[i + 1] != '.')))
				return false;
	}
	return host_ok(at + 1, strlen(at + 1), domain);
}

int dmarc_uri_check(const char *uri, const char *tag, const mn_pos_t *pos, diag_t *diag, dmarc_dest_t *out)
{
	if (uri == NULL || tag == NULL)
		return MN_EINVAL;
	size_t len = strlen(uri);
	if (len == 0) {
		emit(diag, DIAG_ERROR, pos, "empty URI in %s=", tag);
		return MN_ESYNTAX;
	}
	/* '!' inside a URI must be percent-encoded: the first one starts the size */
	const char *bang = strchr(uri, '!');
	size_t ul = bang != NULL ? (size_t)(bang - uri) : len;
	uint64_t size = 0;
	if (bang != NULL && !parse_size(bang + 1, len - ul - 1, &size)) {
		emit(diag, DIAG_ERROR, pos, "bad size '%s' in %s URI '%s'", bang, tag, uri);
		return MN_ESYNTAX;
	}
	char domain[256];
	dmarc_scheme_t scheme;
	if (ul >= 7 && strncasecmp(uri, "mailto:", 7) == 0) {
		scheme = DMARC_URI_MAILTO;
		const char *a = uri + 7;
		const char *q = memchr(a, '?', ul - 7);
		size_t al = q != NULL ? (size_t)(q - a) : ul - 7;
		if (!mailto_ok(a, al, domain)) {
			emit(diag, DIAG_ERROR, pos, "%s URI '%s' is not a valid address (local@domain)", tag, uri);
			return MN_ESYNTAX;
		}
	} else if (ul >= 8 && strncasecmp(uri, "https://", 8) == 0) {
		scheme = DMARC_URI_HTTPS;
		const char *h = uri + 8;
		size_t hl = strcspn(h, ":/?#!");
		if (!host_ok(h, hl, domain)) {
			emit(diag, DIAG_ERROR, pos, "%s URI '%s' has no valid host", tag, uri);
			return MN_ESYNTAX;
		}
	} else {
		emit(diag, DIAG_ERROR, pos, "%s URI '%s' is not mailto: or https:", tag, uri);
		return MN_ESYNTAX;
	}
	if (out == NULL)
		return MN_OK;
	dmarc_dest_t d = { .scheme = scheme, .max_size = size, .ruf = strcmp(tag, "ruf") == 0 };
	d.uri = strndup(uri, ul);
	d.domain = strdup(domain);
	if (d.uri == NULL || d.domain == NULL) {
		dmarc_dest_clear(&d);
		return MN_ENOMEM;
	}
	*out = d;
	return MN_OK;
}

/* dmarc-uri *(*WSP "," *WSP dmarc-uri) */
static int check_uris(const char *list, const char *tag, const mn_pos_t *pos, diag_t *d, dmarc_info_t *in)
{
	const char *s = list;
	for (;;) {
		size_t len = strcspn(s, ",");
		const char *p = s;
		size_t pl = len;
		while (pl > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			pl--;
		}
		while (pl > 0 && (p[pl - 1] == ' ' || p[pl - 1] == '\t'))
			pl--;
		char *one = strndup(p, pl);
		if (one == NULL)
			return MN_ENOMEM;
		dmarc_dest_t dest;
		int rc = dmarc_uri_check(one, tag, pos, d, &dest);
		free(one);
		if (rc == MN_ENOMEM)
			return rc;
		if (rc == MN_OK) {
			dmarc_dest_t *nv = realloc(in->dests, (in->ndests + 1) * sizeof(*nv));
			if (nv == NULL) {
				dmarc_dest_clear(&dest);
				return MN_ENOMEM;
			}
			in->dests = nv;
			nv[in->ndests++] = dest;
		}
		if (s[len] == '\0')
			return MN_OK;
		s += len + 1;
	}
}

/* fo = ( "0" / "1" / "d" / "s" ) *( ":" ( "0" / "1" / "d" / "s" ) ) */
static bool fo_ok(const char *v)
{
	const char *s = v;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || strchr("01dsDS", *s) == NULL)
			return false;
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			return true;
		if (*s++ != ':')
			return false;
	}
}

static bool one_of(const char *v, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcasecmp(v, *set) == 0)
			return true;
	return false;
}

static bool uint_ok(const char *v, unsigned long max)
{
	if (*v == '\0' || strlen(v) > 10)
		return false;
	unsigned long n = 0;
	for (const char *s = v; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	return n <= max;
}

static const char *const pnames[] = { "none", "quarantine", "reject" };

/* Tag by tag, in record order (RFC 9989 §4.7, RFC 7489 §6.3). */
static int check_tag(const dkim_tag_t *t, const mn_pos_t *pos, diag_t *d, dmarc_info_t *in)
{
	static const char *const rs[] = { "r", "s", NULL };
	static const char *const yn[] = { "y", "n", NULL };
	static const char *const ynu[] = { "y", "n", "u", NULL };
	const char *n = t->name, *v = t->value;
	if (strcmp(n, "v") == 0)
		return MN_OK;
	if (strcmp(n, "p") == 0 || strcmp(n, "sp") == 0 || strcmp(n, "np") == 0) {
		int p = dmarc_p_parse(v);
		if (p < 0)
			emit(d, DIAG_ERROR, pos, "%s=%s is not none, quarantine or reject", n, v);
		*(n[0] == 'p' ? &in->p : n[0] == 's' ? &in->sp : &in->np) = p;
	} else if (strcmp(n, "adkim") == 0 || strcmp(n, "aspf") == 0) {
		if (!one_of(v, rs))
			emit(d, DIAG_ERROR, pos, "%s=%s is not r or s", n, v);
	} else if (strcmp(n, "fo") == 0) {
		if (!fo_ok(v))
			emit(d, DIAG_ERROR, pos, "fo=%s is not a ':'-separated list of 0, 1, d, s", v);
	} else if (strcmp(n, "psd") == 0) {
		if (!one_of(v, ynu))
			emit(d, DIAG_ERROR, pos, "psd=%s is not y, n or u", v);
	} else if (strcmp(n, "t") == 0) {
		if (!one_of(v, yn))
			emit(d, DIAG_ERROR, pos, "t=%s is not y or n", v);
	} else if (strcmp(n, "rua") == 0 || strcmp(n, "ruf") == 0) {
		return check_uris(v, n, pos, d, in);
	} else if (strcmp(n, "pct") == 0 || strcmp(n, "rf") == 0 || strcmp(n, "ri") == 0) {
		/* RFC 7489 tags that RFC 9989 removed (its Appendix C) */
		emit(d, DIAG_WARNING, pos, "%s was removed by RFC 9989 and is ignored by receivers", n);
		if (n[0] == 'p' && !uint_ok(v, 100))
			emit(d, DIAG_ERROR, pos, "pct=%s is not 0 to 100", v);
		else if (strcmp(n, "ri") == 0 && !uint_ok(v, UINT32_MAX))
			emit(d, DIAG_ERROR, pos, "ri=%s is not a number of seconds", v);
	} else {
		emit(d, DIAG_WARNING, pos, "unknown tag '%s' (ignored)", n);
	}
	return MN_OK;
}

int dmarc_record_check(const char *text, const mn_pos_t *pos, diag_t *diag, dmarc_info_t *info)
{
	if (text == NULL || diag == NULL)
		return MN_EINVAL;
	dkim_tags_t *t = NULL;
	dmarc_info_t in = { .p = -1, .sp = -1, .np = -1 };
	int rc = dkim_tags_parse(text, "DMARC", pos, diag, &t);
	if (rc != MN_OK)
		return rc;
	bool syntax = t->bad > 0;
	/* v=DMARC1 first (RFC 9989 §4.7), exactly "DMARC1" */
	size_t vi = 0;
	const char *v = dkim_tags_get(t, "v", &vi);
	if (v == NULL) {
		emit(diag, DIAG_ERROR, pos, "record must start with v=DMARC1");
		syntax = true;
	} else if (vi != 0) {
		emit(diag, DIAG_ERROR, pos, "v=DMARC1 must come first");
		syntax = true;
	}
	if (v != NULL && strcmp(v, "DMARC1") != 0) {
		emit(diag, DIAG_ERROR, pos, "v=%s is not DMARC1", v);
		syntax = true;
	}
	/* p second (RFC 7489 §6.3; RFC 9989 readers accept any order, older ones do not) */
	size_t pi = 0;
	if (dkim_tags_get(t, "p", &pi) == NULL)
		emit(diag, DIAG_ERROR, pos, "p is missing (required in a policy record)");
	else if (pi != 1)
		emit(diag, DIAG_ERROR, pos, "p must come second (after v=DMARC1)");
	for (size_t i = 0; i < t->n; i++) {
		rc = check_tag(&t->v[i], pos, diag, &in);
		if (rc != MN_OK)
			goto fail;
	}
	/* sp and np weaker than p: subdomains / non-existent names less protected */
	if (in.p >= 0 && in.sp >= 0 && in.sp < in.p)
		emit(diag, DIAG_WARNING, pos, "sp=%s is weaker than p=%s", pnames[in.sp], pnames[in.p]);
	if (in.p >= 0 && in.np >= 0 && in.np < in.p)
		emit(diag, DIAG_WARNING, pos, "np=%s is weaker than p=%s", pnames[in.np], pnames[in.p]);
	rc = syntax ? MN_ESYNTAX : MN_OK;
	if (rc == MN_OK && info != NULL) {
		*info = in;
		memset(&in, 0, sizeof(in));
	}
fail:
	dmarc_info_clear(&in);
	dkim_tags_free(t);
	return rc;
}
