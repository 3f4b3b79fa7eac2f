/* SPDX-License-Identifier: GPL-3.0-or-later */
/* failure.c -- DMARC failure reports (ARF, RFC 5965, 6591, 9991): the feedback fields into the model */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy/mn.h"
#include "reports/read_internal.h"

/*
 * The message/feedback-report part is a header block ("Name: value" lines,
 * folded continuation lines allowed).  Kept: Feedback-Type (must be
 * auth-failure), Source-IP, Auth-Failure, Original-Mail-From,
 * Original-Rcpt-To (several joined by ", "), Authentication-Results,
 * DKIM-Domain, DKIM-Selector, Reported-Domain, Arrival-Date.
 *
 * The report: org is the domain of the report message's From (else
 * "unknown"), email its From address, report_id its Message-ID (else the
 * SHA-256 of the input), domain the Reported-Domain (else the domain of the
 * reported From: header), begin = end = Arrival-Date, else the report's
 * Date.  The reported message's body never reaches the model: headers
 * holds its header block only.
 */

#define FIELD_MAX 4096	/* bytes kept of one field */

/* The value of field name in an RFC 5322-style block; NULL if absent. Repeats joined by sep. */
static char *field_get(const char *s, size_t len, const char *name, const char *sep)
{
	size_t nlen = strlen(name);
	char *out = NULL;
	size_t olen = 0;

	for (size_t i = 0; i < len; ) {
		size_t eol = i;
		while (eol < len && s[eol] != '\n')
			eol++;
		if (eol - i > nlen && strncasecmp(s + i, name, nlen) == 0 && s[i + nlen] == ':') {
			/* value: this line after the colon, plus continuation lines */
			size_t vs = i + nlen + 1, ve = eol;
			while (ve + 1 < len && (s[ve + 1] == ' ' || s[ve + 1] == '\t')) {
				ve++;
				while (ve < len && s[ve] != '\n')
					ve++;
			}
			/* unfold (a line break and the white space after it: one space), trim */
			char *v = malloc(ve - vs + 1);
			if (v == NULL) {
				free(out);
				return NULL;
			}
			size_t vl = 0;
			for (size_t k = vs; k < ve; k++) {
				char c = s[k];
				if (c == '\r' || c == '\n' || c == '\t')
					c = ' ';
				if (c == ' ' && (vl == 0 || v[vl - 1] == ' '))
					continue;
				v[vl++] = c;
			}
			while (vl > 0 && v[vl - 1] == ' ')
				vl--;
			size_t sl = olen > 0 ? strlen(sep) : 0;
			if (olen + sl + vl > FIELD_MAX)
				vl = olen + sl < FIELD_MAX ? FIELD_MAX - olen - sl : 0;
			char *n = realloc(out, olen + sl + vl + 1);
			if (n == NULL) {
				free(v);
				free(out);
				return NULL;
			}
			out = n;
			memcpy(out + olen, sep, sl);
			memcpy(out + olen + sl, v, vl);
			olen += sl + vl;
			out[olen] = '\0';
			free(v);
			eol = ve;
		}
		i = eol + 1;
	}
	return out;
}

/* Sets *dst to the trimmed field (or "" when absent). */
static int field_set(char **dst, const char *s, size_t len, const char *name, bool lower)
{
	char *v = field_get(s, len, name, ", ");
	int r = rd_strset(dst, v ? v : "", lower);
	free(v);
	return r;
}

/* The domain of an address ("Name <user@Example.COM>") lower-cased; "" when none. */
static char *addr_domain(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	if (at == NULL)
		return strdup("");
	at++;
	size_t n = strcspn(at, "> \t\r\n;,\"");
	char *d = rd_strndup(at, n);
	if (d != NULL) {
		for (char *p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (n > 0 && d[n - 1] == '.')
			d[n - 1] = '\0';
	}
	return d;
}

/* An RFC 5322 date ("Thu, 31 Aug 2023 20:06:12 +1000"); MN_ESYNTAX when it is not one. */
static int date_parse(const char *s, int64_t *out)
{
	static const char mon[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	struct tm tm;
	char m[4];
	int d, y, h, mi, sec = 0, n = 0;
	char zone[8] = "";

	memset(&tm, 0, sizeof(tm));
	const char *comma = strchr(s, ',');
	if (comma != NULL)
		s = comma + 1;
	if (sscanf(s, " %d %3s %d %d:%d%n", &d, m, &y, &h, &mi, &n) != 5)
		return MN_ESYNTAX;
	s += n;
	if (*s == ':' && sscanf(s + 1, "%d%n", &sec, &n) == 1)
		s += 1 + n;
	sscanf(s, " %7s", zone);
	const char *p = NULL;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(m, mon + 3 * i, 3) == 0)
			p = mon + 3 * i;
	}
	if (p == NULL || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1900 || y > 9999)
		return MN_ESYNTAX;
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)(p - mon) / 3;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	int64_t t = (int64_t)timegm(&tm);
	if ((zone[0] == '+' || zone[0] == '-') && isdigit((unsigned char)zone[1]) && strlen(zone) >= 5) {
		int z = atoi(zone + 1);
		int64_t off = (z / 100) * 3600 + (z % 100) * 60;
		t += zone[0] == '+' ? -off : off;
	}
	*out = t;
	return MN_OK;
}

static int fill_failure(report_failure_t *f, const rd_arf_t *arf, rd_notes_t *notes)
{
	const char *s = arf->feedback;
	size_t len = arf->feedbacklen;
	int r;

	if ((r = field_set(&f->auth_failure, s, len, "Auth-Failure", true)) != MN_OK ||
	    (r = field_set(&f->original_mail_from, s, len, "Original-Mail-From", false)) != MN_OK ||
	    (r = field_set(&f->original_rcpt_to, s, len, "Original-Rcpt-To", false)) != MN_OK ||
	    (r = field_set(&f->auth_results, s, len, "Authentication-Results", false)) != MN_OK ||
	    (r = field_set(&f->dkim_domain, s, len, "DKIM-Domain", true)) != MN_OK ||
	    (r = field_set(&f->dkim_selector, s, len, "DKIM-Selector", false)) != MN_OK)
		return r;
	char *ip = field_get(s, len, "Source-IP", ", ");
	if (ip != NULL && rd_ip_canon(ip, f->source) != MN_OK) {
		f->source[0] = '\0';
		r = rd_note(notes, "Source-IP '%.60s' is not an address: ignored", ip);
	}
	free(ip);
	if (r != MN_OK)
		return r;
	f->headers = rd_strndup(arf->headers ? arf->headers : "", arf->headers ? arf->headerslen : 0);
	return f->headers ? MN_OK : MN_ENOMEM;
}

static int fill_report(report_t *rep, const rd_arf_t *arf, rd_notes_t *notes, char *why, size_t whylen)
{
	const char *s = arf->feedback;
	size_t len = arf->feedbacklen;
	int r;

	/* domain: Reported-Domain, else the reported From: */
	if ((r = field_set(&rep->domain, s, len, "Reported-Domain", true)) != MN_OK)
		return r;
	if (rep->domain[0] == '\0' && arf->headers != NULL) {
		char *from = field_get(arf->headers, arf->headerslen, "From", ", ");
		char *d = addr_domain(from);
		free(from);
		if (d == NULL)
			return MN_ENOMEM;
		free(rep->domain);
		rep->domain = d;
		if (d[0] != '\0' && (r = rd_note(notes, "no Reported-Domain: the reported From: used")) != MN_OK)
			return r;
	}
	if (rep->domain[0] == '\0') {
		rd_why(why, whylen, "failure report without Reported-Domain or a reported From:");
		return MN_ESYNTAX;
	}
	size_t dl = strlen(rep->domain);
	if (rep->domain[dl - 1] == '.')
		rep->domain[dl - 1] = '\0';
	if ((r = rd_domain_check(rep->domain, "Reported-Domain", why, whylen)) != MN_OK)
		return r;

	/* who reported it */
	char *org = addr_domain(arf->from);
	if (org == NULL)
		return MN_ENOMEM;
	if (org[0] == '\0') {
		free(org);
		if ((org = strdup("unknown")) == NULL)
			return MN_ENOMEM;
	}
	free(rep->org);
	rep->org = org;
	if ((r = rd_strset(&rep->email, arf->from ? arf->from : "", false)) != MN_OK)
		return r;

	/* the id */
	if (arf->message_id != NULL && arf->message_id[0] != '\0') {
		if ((r = rd_strset(&rep->report_id, arf->message_id, false)) != MN_OK)
			return r;
	} else {
		char *id;
		if ((r = rd_sha256_hex(arf->input, arf->inputlen, &id)) != MN_OK)
			return r;
		free(rep->report_id);
		rep->report_id = id;
	}

	/* when */
	char *arrival = field_get(s, len, "Arrival-Date", ", ");
	int64_t t = -1;
	if (arrival != NULL && date_parse(arrival, &t) != MN_OK)
		t = -1;
	free(arrival);
	if (t < 0)
		t = arf->date;
	if (t < 0) {
		rd_why(why, whylen, "failure report without Arrival-Date or Date");
		return MN_ESYNTAX;
	}
	rep->begin = rep->end = t;
	return rd_range_check(rep->begin, rep->end, why, whylen);
}

int rd_failure(const rd_arf_t *arf, report_t **out, char *why, size_t whylen)
{
	rd_notes_t notes = { NULL, 0 };
	report_t *rep = NULL;
	int r;

	char *type = field_get(arf->feedback, arf->feedbacklen, "Feedback-Type", ", ");
	char *t = rd_strtrim(type, true);
	free(type);
	if (t == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	if (strcmp(t, "auth-failure") != 0) {
		rd_why(why, whylen, "not a report (feedback type '%.40s' is not auth-failure)", t);
		free(t);
		r = MN_ESYNTAX;
		goto fail;
	}
	free(t);
	if ((r = rd_report_new(REPORT_FAILURE, &rep)) != MN_OK)
		goto fail;
	if ((rep->failure = calloc(1, sizeof(*rep->failure))) == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	if ((r = fill_failure(rep->failure, arf, &notes)) != MN_OK ||
	    (r = fill_report(rep, arf, &notes, why, whylen)) != MN_OK)
		goto fail;
	if ((rep->raw = malloc(arf->rawlen ? arf->rawlen : 1)) == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	memcpy(rep->raw, arf->raw, arf->rawlen);
	rep->rawlen = arf->rawlen;
	if ((r = rd_notes_move(&notes, rep)) != MN_OK)
		goto fail;
	*out = rep;
	return MN_OK;
fail:
	if (r == MN_ENOMEM)
		rd_why(why, whylen, "out of memory");
	rd_notes_clear(&notes);
	report_free(rep);
	return r;
}
