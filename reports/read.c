/* SPDX-License-Identifier: GPL-3.0-or-later */
/* read.c -- report_read(): tells a message from a bare report and hands it to its reader */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "policy/mn.h"
#include "reports/read_internal.h"

/* ---- helpers the readers share ----------------------------------------- */

int rd_note(rd_notes_t *n, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	char **v = realloc(n->v, (n->n + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	n->v = v;
	if ((n->v[n->n] = strdup(line)) == NULL)
		return MN_ENOMEM;
	n->n++;
	return MN_OK;
}

int rd_notes_move(rd_notes_t *from, report_t *r)
{
	if (from == NULL || from->n == 0)
		return MN_OK;
	char **v = realloc(r->notes, (r->nnotes + from->n) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	memcpy(v + r->nnotes, from->v, from->n * sizeof(*v));
	r->notes = v;
	r->nnotes += from->n;
	free(from->v);
	from->v = NULL;
	from->n = 0;
	return MN_OK;
}

void rd_notes_clear(rd_notes_t *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

void rd_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int rd_report_new(report_kind_t k, report_t **out)
{
	if (out == NULL)
		return MN_EINVAL;
	report_t *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return MN_ENOMEM;
	r->kind = k;
	r->org = strdup("");
	r->email = strdup("");
	r->report_id = strdup("");
	r->domain = strdup("");
	if (r->org == NULL || r->email == NULL || r->report_id == NULL || r->domain == NULL) {
		report_free(r);
		return MN_ENOMEM;
	}
	*out = r;
	return MN_OK;
}

char *rd_strndup(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *rd_strtrim(const char *s, bool lower)
{
	if (s == NULL)
		s = "";
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
			   s[len - 1] == '\n'))
		len--;
	char *d = rd_strndup(s, len);
	if (d != NULL && lower) {
		for (char *p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return d;
}

int rd_strset(char **dst, const char *src, bool lower)
{
	char *d = rd_strtrim(src, lower);
	if (d == NULL)
		return MN_ENOMEM;
	free(*dst);
	*dst = d;
	return MN_OK;
}

int rd_domainset(char **dst, const char *src)
{
	char *d = rd_strtrim(src, true);
	if (d == NULL)
		return MN_ENOMEM;
	size_t len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		d[len - 1] = '\0';
	free(*dst);
	*dst = d;
	return MN_OK;
}

int rd_domain_check(const char *domain, const char *where, char *why, size_t whylen)
{
	char norm[254];
	if (domain[0] == '\0' || domain[0] == '*' || mn_name_norm(domain, norm, sizeof(norm)) != MN_OK) {
		rd_why(why, whylen, "bad domain '%.80s' in %s", domain, where);
		return MN_ESYNTAX;
	}
	return MN_OK;
}

int rd_ip_canon(const char *s, char out[46])
{
	char buf[64];
	uint8_t addr[16];

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t len = strcspn(s, " \t\r\n");
	if (len == 0 || len >= sizeof(buf) || s[len + strspn(s + len, " \t\r\n")] != '\0')
		return MN_ESYNTAX;
	memcpy(buf, s, len);
	buf[len] = '\0';
	int af = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, buf, addr) != 1)
		return MN_ESYNTAX;
	if (inet_ntop(af, addr, out, 46) == NULL)
		return MN_ESYNTAX;
	return MN_OK;
}

int rd_count_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s == '-')
		return isdigit((unsigned char)s[1]) ? MN_ERANGE : MN_ESYNTAX;
	if (*s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return MN_ESYNTAX;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s != '\0')
		return MN_ESYNTAX;
	if (big)
		return MN_ERANGE;
	*out = v;
	return MN_OK;
}

/* 1970-01-01 and 2101-01-01 00:00:00 UTC: the years 1970 to 2100 inclusive. */
#define RD_TIME_MIN 0
#define RD_TIME_END 4133980800LL

int rd_range_check(int64_t begin, int64_t end, char *why, size_t whylen)
{
	if (begin < RD_TIME_MIN || begin >= RD_TIME_END || end < RD_TIME_MIN || end >= RD_TIME_END) {
		rd_why(why, whylen, "date range outside 1970-2100 (%lld to %lld)", (long long)begin,
		       (long long)end);
		return MN_ERANGE;
	}
	if (end < begin) {
		rd_why(why, whylen, "date range ends before it begins (%lld to %lld)", (long long)begin,
		       (long long)end);
		return MN_ERANGE;
	}
	return MN_OK;
}

int rd_sha256_hex(const void *data, size_t len, char **out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return MN_ENOMEM;
	char *hex = malloc(mdlen * 2 + 1);
	if (hex == NULL)
		return MN_ENOMEM;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	*out = hex;
	return MN_OK;
}

int rd_list_add(report_list_t *l, report_t *r)
{
	report_t **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	l->v = v;
	l->v[l->n++] = r;
	return MN_OK;
}

/* ---- dispatch ---------------------------------------------------------- */

/* The first byte that is not white space, a NUL or a UTF-8 byte-order mark, or -1. */
static int first_sig_byte(const uint8_t *buf, size_t len)
{
	size_t i = 0;
	if (len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf)
		i = 3;
	for (; i < len; i++) {
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n' && buf[i] != 0)
			return buf[i];
	}
	return -1;
}

/* XML or JSON, already decompressed. */
static int read_plain(const uint8_t *buf, size_t len, rd_notes_t *notes, report_t **out, char *why,
		      size_t whylen)
{
	int c = first_sig_byte(buf, len);
	if (c == '<')
		return rd_aggregate(buf, len, notes, out, why, whylen);
	if (c == '{')
		return rd_tlsrpt(buf, len, notes, out, why, whylen);
	rd_why(why, whylen, "not a report (%s)",
	       c < 0 ? "empty" : "neither an XML aggregate report nor a JSON TLS report");
	return MN_ESYNTAX;
}

int rd_bare(const uint8_t *buf, size_t len, const report_limits_t *lim, report_t **out, char *why,
	    size_t whylen)
{
	rd_notes_t notes = { NULL, 0 };
	uint8_t *plain = NULL;
	size_t plainlen = 0;
	int r;

	if (rd_is_gzip(buf, len) || rd_is_zip(buf, len)) {
		r = rd_unpack(buf, len, lim, &plain, &plainlen, &notes, why, whylen);
		if (r != MN_OK)
			goto fail;
		r = read_plain(plain, plainlen, &notes, out, why, whylen);
	} else {
		r = read_plain(buf, len, &notes, out, why, whylen);
	}
fail:
	free(plain);
	rd_notes_clear(&notes);
	return r;
}

int report_read(const uint8_t *buf, size_t len, const char *name, const report_limits_t *lim,
		report_list_t **out, char *why, size_t whylen)
{
	static const report_limits_t deflim = REPORT_LIMITS_DEFAULT;
	report_list_t *l = NULL;
	report_t *rep = NULL;
	char dummy[8];
	int r;

	(void)name;	/* the bytes decide; a name never overrides them */
	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if (out == NULL || (buf == NULL && len > 0))
		return MN_EINVAL;
	if (lim == NULL)
		lim = &deflim;
	if (len == 0) {
		rd_why(why, whylen, "not a report (empty input)");
		return MN_ESYNTAX;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	int c = first_sig_byte(buf, len);
	bool packed = rd_is_gzip(buf, len) || rd_is_zip(buf, len);
	/* a bare report is held to the cap as it is; a message may carry one in base64 (4/3) */
	if ((!packed && (c == '<' || c == '{') && len > lim->max_size) ||
	    len / 2 > lim->max_size) {
		if (lim->max_size % (1u << 20) == 0)
			rd_why(why, whylen, "too large (over %zu MiB)", lim->max_size >> 20);
		else
			rd_why(why, whylen, "too large (over %zu bytes)", lim->max_size);
		r = MN_ERANGE;
		goto fail;
	}
	if (packed || c == '<' || c == '{') {
		r = rd_bare(buf, len, lim, &rep, why, whylen);
		if (r != MN_OK)
			goto fail;
		if ((r = rd_list_add(l, rep)) != MN_OK)
			goto fail;
		rep = NULL;
	} else {
		r = rd_message(buf, len, lim, l, why, whylen);
		if (r != MN_OK)
			goto fail;
	}
	*out = l;
	return MN_OK;
fail:
	if (r == MN_ENOMEM && why[0] == '\0')
		rd_why(why, whylen, "out of memory");
	report_free(rep);
	report_list_free(l);
	return r;
}
