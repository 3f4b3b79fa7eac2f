/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tlsrpt.c -- SMTP TLS reports (RFC 8460 JSON) with jansson */
#include "config.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/mn.h"
#include "reports/read_internal.h"

/*
 * RFC 8460 §4.4: organization-name, date-range (start-datetime,
 * end-datetime: RFC 3339 times), contact-info, report-id, policies[]: policy
 * (policy-type, policy-domain), summary (total-successful-session-count,
 * total-failure-session-count), failure-details[] (result-type,
 * sending-mta-ip, receiving-mx-hostname, failed-session-count).
 *
 * Counts must be JSON integers >= 0 (jansson's json_int_t is 64-bit signed,
 * so a number past 2^63-1 is already a JSON error) and their sum must fit
 * 63 bits.  Nesting deeper than DEPTH_MAX is refused before jansson sees the
 * text.  Missing organization-name: the domain of contact-info, else
 * "unknown"; missing report-id: the SHA-256 of the JSON (both noted, as for
 * aggregate reports).  A sending-mta-ip that is not an address is noted
 * and kept as "".
 */

#define DEPTH_MAX 32

/* Nesting depth of arrays and objects, outside strings; line of the deepest. */
static int json_depth(const uint8_t *s, size_t len, int *line)
{
	int depth = 0, max = 0, ln = 1;
	bool str = false, esc = false;

	*line = 1;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		if (c == '\n')
			ln++;
		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
			continue;
		}
		if (c == '"') {
			str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max) {
				max = depth;
				*line = ln;
			}
			if (depth > DEPTH_MAX)
				return depth;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

/* RFC 3339: 2016-04-01T00:00:00Z, fractions, and offsets (+02:00). */
static int rfc3339_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (s == NULL || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return MN_ESYNTAX;
	s += n;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return MN_ESYNTAX;
	s++;
	if (sscanf(s, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
		return MN_ESYNTAX;
	s += n;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return MN_ESYNTAX;
		while (isdigit((unsigned char)*s))
			s++;
	}
	long off = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh, om;
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
			return MN_ESYNTAX;
		off = (oh * 3600L + om * 60L) * (*s == '-' ? -1 : 1);
		s += 1 + n;
	} else {
		return MN_ESYNTAX;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return MN_ESYNTAX;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	*out = (int64_t)timegm(&tm) - off;
	return MN_OK;
}

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A count member: absent is 0; anything but an integer >= 0 is an error. */
static int count_of(json_t *o, const char *key, uint64_t *out, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (v == NULL || json_is_null(v))
		return MN_OK;
	if (!json_is_integer(v)) {
		rd_why(why, whylen, "\"%s\" is not an integer", key);
		return MN_ESYNTAX;
	}
	json_int_t n = json_integer_value(v);
	if (n < 0) {
		rd_why(why, whylen, "negative count in \"%s\" (%lld)", key, (long long)n);
		return MN_ERANGE;
	}
	*out = (uint64_t)n;
	return MN_OK;
}

static int add_total(uint64_t *total, uint64_t v, char *why, size_t whylen)
{
	if (v > (uint64_t)INT64_MAX - *total) {
		rd_why(why, whylen, "session counts add up to more than 2^63-1");
		return MN_ERANGE;
	}
	*total += v;
	return MN_OK;
}

static int failure_read(json_t *fd, report_tls_failure_t *f, rd_notes_t *notes, uint64_t *total,
			char *why, size_t whylen)
{
	int r;
	if ((f->result_type = rd_strtrim(str_of(fd, "result-type"), true)) == NULL ||
	    (f->receiving_mx = rd_strtrim(str_of(fd, "receiving-mx-hostname"), true)) == NULL)
		return MN_ENOMEM;
	size_t n = strlen(f->receiving_mx);
	if (n > 0 && f->receiving_mx[n - 1] == '.')
		f->receiving_mx[n - 1] = '\0';
	const char *ip = str_of(fd, "sending-mta-ip");
	if (ip != NULL && rd_ip_canon(ip, f->sending_mta_ip) != MN_OK) {
		f->sending_mta_ip[0] = '\0';
		if ((r = rd_note(notes, "sending-mta-ip '%.60s' is not an address: ignored", ip)) != MN_OK)
			return r;
	}
	if ((r = count_of(fd, "failed-session-count", &f->sessions, why, whylen)) != MN_OK)
		return r;
	return add_total(total, f->sessions, why, whylen);
}

static int policy_read(json_t *pol, report_tls_t *t, rd_notes_t *notes, uint64_t *total, char *why,
		       size_t whylen)
{
	json_t *p = json_object_get(pol, "policy");
	json_t *sum = json_object_get(pol, "summary");
	int r;

	t->policy_type = rd_strtrim(str_of(p, "policy-type"), true);
	t->policy_domain = NULL;
	if (t->policy_type == NULL || (r = rd_domainset(&t->policy_domain, str_of(p, "policy-domain"))) != MN_OK)
		return MN_ENOMEM;
	if ((r = count_of(sum, "total-successful-session-count", &t->successful, why, whylen)) != MN_OK ||
	    (r = count_of(sum, "total-failure-session-count", &t->failed, why, whylen)) != MN_OK ||
	    (r = add_total(total, t->successful, why, whylen)) != MN_OK ||
	    (r = add_total(total, t->failed, why, whylen)) != MN_OK)
		return r;
	json_t *fds = json_object_get(pol, "failure-details");
	if (fds == NULL || json_is_null(fds))
		return MN_OK;
	if (!json_is_array(fds)) {
		rd_why(why, whylen, "\"failure-details\" is not an array");
		return MN_ESYNTAX;
	}
	size_t nf = json_array_size(fds);
	if (nf == 0)
		return MN_OK;
	if ((t->failures = calloc(nf, sizeof(*t->failures))) == NULL)
		return MN_ENOMEM;
	uint64_t ftotal = 0;
	for (size_t i = 0; i < nf; i++) {
		json_t *fd = json_array_get(fds, i);
		if (!json_is_object(fd)) {
			rd_why(why, whylen, "failure-details[%zu] is not an object", i);
			return MN_ESYNTAX;
		}
		t->nfailures++;
		if ((r = failure_read(fd, &t->failures[i], notes, &ftotal, why, whylen)) != MN_OK)
			return r;
	}
	return MN_OK;
}

static int header_read(json_t *root, report_t *rep, rd_notes_t *notes, const uint8_t *json, size_t len,
		       char *why, size_t whylen)
{
	int r;
	json_t *dr = json_object_get(root, "date-range");
	const char *b = str_of(dr, "start-datetime"), *e = str_of(dr, "end-datetime");

	if (b == NULL || e == NULL) {
		rd_why(why, whylen, "no \"date-range\" with \"start-datetime\" and \"end-datetime\"");
		return MN_ESYNTAX;
	}
	if (rfc3339_parse(b, &rep->begin) != MN_OK || rfc3339_parse(e, &rep->end) != MN_OK) {
		rd_why(why, whylen, "bad RFC 3339 time in \"date-range\" ('%.40s', '%.40s')", b, e);
		return MN_ESYNTAX;
	}
	if ((r = rd_range_check(rep->begin, rep->end, why, whylen)) != MN_OK)
		return r;
	if ((r = rd_strset(&rep->org, str_of(root, "organization-name"), false)) != MN_OK ||
	    (r = rd_strset(&rep->email, str_of(root, "contact-info"), false)) != MN_OK ||
	    (r = rd_strset(&rep->report_id, str_of(root, "report-id"), false)) != MN_OK)
		return r;
	if (rep->org[0] == '\0') {
		const char *at = strrchr(rep->email, '@');
		const char *org = at && at[1] ? at + 1 : "unknown";
		if ((r = rd_strset(&rep->org, org, true)) != MN_OK ||
		    (r = rd_note(notes, "no \"organization-name\": %s used",
				 at && at[1] ? "the domain of \"contact-info\"" : "\"unknown\"")) != MN_OK)
			return r;
	}
	if (rep->report_id[0] == '\0') {
		char *id;
		if ((r = rd_sha256_hex(json, len, &id)) != MN_OK)
			return r;
		free(rep->report_id);
		rep->report_id = id;
		if ((r = rd_note(notes, "no \"report-id\": the report's SHA-256 used")) != MN_OK)
			return r;
	}
	return MN_OK;
}

int rd_tlsrpt(const uint8_t *json, size_t len, rd_notes_t *notes, report_t **out, char *why,
	      size_t whylen)
{
	json_error_t jerr;
	json_t *root = NULL;
	report_t *rep = NULL;
	uint64_t total = 0;
	int r, line;

	if (json_depth(json, len, &line) > DEPTH_MAX) {
		rd_why(why, whylen, "JSON error at line %d: nested deeper than %d", line, DEPTH_MAX);
		return MN_ESYNTAX;
	}
	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rd_why(why, whylen, "JSON error at line %d: %s", jerr.line, jerr.text);
		return MN_ESYNTAX;
	}
	json_t *pols = json_object_get(root, "policies");
	if (!json_is_object(root) || !json_is_array(pols) || json_array_size(pols) == 0) {
		rd_why(why, whylen, "not a report (JSON without \"policies\": not a TLS report)");
		r = MN_ESYNTAX;
		goto fail;
	}
	if ((r = rd_report_new(REPORT_TLSRPT, &rep)) != MN_OK)
		goto fail;
	if ((r = header_read(root, rep, notes, json, len, why, whylen)) != MN_OK)
		goto fail;
	size_t np = json_array_size(pols);
	if ((rep->tls = calloc(np, sizeof(*rep->tls))) == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < np; i++) {
		json_t *pol = json_array_get(pols, i);
		if (!json_is_object(pol)) {
			rd_why(why, whylen, "policies[%zu] is not an object", i);
			r = MN_ESYNTAX;
			goto fail;
		}
		rep->ntls++;
		if ((r = policy_read(pol, &rep->tls[i], notes, &total, why, whylen)) != MN_OK)
			goto fail;
	}
	if ((r = rd_strset(&rep->domain, rep->tls[0].policy_domain, true)) != MN_OK)
		goto fail;
	if (rep->domain[0] == '\0') {
		rd_why(why, whylen, "no \"policy-domain\" in the first policy");
		r = MN_ESYNTAX;
		goto fail;
	}
	if ((r = rd_domain_check(rep->domain, "\"policy-domain\"", why, whylen)) != MN_OK)
		goto fail;
	if ((rep->raw = malloc(len ? len : 1)) == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	memcpy(rep->raw, json, len);
	rep->rawlen = len;
	if ((r = rd_notes_move(notes, rep)) != MN_OK)
		goto fail;
	json_decref(root);
	*out = rep;
	return MN_OK;
fail:
	if (r == MN_ENOMEM)
		rd_why(why, whylen, "out of memory");
	report_free(rep);
	json_decref(root);
	return r;
}
