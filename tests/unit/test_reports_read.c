/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_reports_read.c -- report_read() over the fixtures of tests/data/reports: fields, sums, notes, exact errors, hostile inputs */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

#include "policy/mn.h"
#include "reports/report.h"
#include "tests/tap/tap.h"

static const char *top;

typedef struct {
	const char *file;
	int ret;
	const char *why;	/* exact, on errors */
	report_kind_t kind;
	const char *org, *id, *domain;
	int64_t begin, end;
	size_t n;		/* rows (dmarc) or policies (tlsrpt) */
	uint64_t messages, pass;	/* report_totals() */
	const char *notes;	/* every note, "|"-joined, exact */
} read_case_t;

#define OK_DMARC(f, org, id, dom, b, e, n, m, p, notes) \
	{ f, MN_OK, NULL, REPORT_DMARC, org, id, dom, b, e, n, m, p, notes }
#define BAD(f, r, why) { f, r, why, 0, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL }

/* 2025-12-05T00:00:00Z and the second before 2025-12-06 */
#define D0 1764892800
#define D1 1764979199

static const read_case_t cases[] = {
	/* RFC 9990's own example (1979): one record of 123 messages, DKIM aligned */
	OK_DMARC("rfc9990.xml", "Sample Reporter", "3v98abbp8ya9n3va8yr8oa3ya", "example.com",
		 302832000, 302918399, 1, 123, 123, ""),
	/* RFC 8460 section 4.5: 5326 successful + 303 failed sessions */
	{ "rfc8460.json", MN_OK, NULL, REPORT_TLSRPT, "Company-X", "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
	  "company-y.example", 1459468800, 1459555199, 1, 5629, 5326, "" },
	/* the variants receivers send; sums: 120 + 30 + 8 = 158 messages, 120 + 30 pass */
	OK_DMARC("google.eml", "google.com", "11763480153342087265", "example.com", D0, D1, 3, 158, 150, ""),
	OK_DMARC("yahoo.xml.gz", "Yahoo", "1764979199.752913", "example.com", D0, D1, 3, 158, 150,
		 "6 bytes after the gzip stream ignored"),
	OK_DMARC("yahoo.eml", "Yahoo", "1764979199.752913", "example.com", D0, D1, 3, 158, 150,
		 "8 bytes after the gzip stream ignored"),
	OK_DMARC("microsoft.xml", "Enterprise Outlook", "7c8f2f0c4a7b4d3e9f1a2b3c4d5e6f70", "example.com",
		 D0, D1 + 1, 2, 10, 7, ""),
	OK_DMARC("ns20.xml", "mail.example.net", "example.net:example.org:20251205", "example.org", D0, D1,
		 2, 42, 40, ""),
	OK_DMARC("upper.xml", "example.net", "aggr_report_example.com_20251205", "example.com", D0, D1, 2, 7,
		 5, ""),
	OK_DMARC("empty-org.xml", "reports.example.net", "empty-org-1", "example.com", D0, D1, 1, 1, 1,
		 "empty <org_name>: the domain of <email> used"),
	OK_DMARC("minimal.xml", "tiny.example", "m-1", "example.com", D0, D0, 1, 4, 0, ""),
	OK_DMARC("old-draft.xml", "acme.example", "9391651994964116463", "example.com", 1335571200,
		 1335657599, 1, 2, 2, "more than one <policy_published> (line 24): the first used"),
	OK_DMARC("inline-qp.eml", "Inline Mail Systems GmbH", "inline-qp-20251206", "example.com", D0, D1, 3,
		 158, 150, ""),
	OK_DMARC("octet.eml", "octet.example", "octet-1", "example.com", D0, D1, 3, 158, 150, ""),
	OK_DMARC("zip-readme.zip", "google.com", "11763480153342087265", "example.com", D0, D1, 3, 158, 150,
		 ""),
	{ "tlsrpt.eml", MN_OK, NULL, REPORT_TLSRPT, "Google Inc.", "2025-12-05T00:00:00Z_example.com",
	  "example.com", D0, D1, 2, 1000, 988, "" },
	/* RFC 3339 offsets, fractions and lower-case t/z; no organization-name; a bad address */
	{ "tlsrpt-variants.json", MN_OK, NULL, REPORT_TLSRPT, "reporter.example", "variants-1", "example.com",
	  D0, D1, 1, 9, 7,
	  "no \"organization-name\": the domain of \"contact-info\" used|"
	  "sending-mta-ip 'not-an-ip' is not an address: ignored" },
	{ "tlsrpt.json.gz", MN_OK, NULL, REPORT_TLSRPT, "Google Inc.", "2025-12-05T00:00:00Z_example.com",
	  "example.com", D0, D1, 2, 1000, 988, "" },
	/* failure reports: one message each; Arrival-Date, else the report's Date */
	{ "arf.eml", MN_OK, NULL, REPORT_FAILURE, "receiver.example", "arf-433689.81121@receiver.example",
	  "example.com", 1764957662, 1764957662, 0, 1, 0, "" },
	{ "arf-headers.eml", MN_OK, NULL, REPORT_FAILURE, "receiver.example",
	  "dd7381b36d9191c189a3c13080dd240324ddf8d3330629c947820c1d47dc1278", "example.org", 1764961200,
	  1764961200, 0, 1, 0, "no Reported-Domain: the reported From: used" },
	/* lenient recovery */
	OK_DMARC("lenient-text.xml", "Bad & Broken Mail", "lenient-1", "example.com", D0, D1, 1, 6, 6,
		 "unescaped '&' at line 4 escaped|unescaped '<' at line 5 escaped|"
		 "unescaped '<' at line 13 escaped"),
	OK_DMARC("lenient-bytes.xml", "stray.example", "lenient-2", "example.com", D0, D1, 1, 9, 9,
		 "29 bytes after the root element removed|1 NUL bytes removed"),
	/* a comment and a CDATA section are copied as they are; the '&' after them is escaped */
	OK_DMARC("lenient-cdata.xml", "A<B & C & co", "lenient-3", "example.com", D0, D1, 0, 0, 0,
		 "unescaped '&' at line 2 escaped"),
	/* hostile: inert */
	OK_DMARC("xxe.xml", "xxe.example", "xxe-1", "example.com", D0, D1, 1, 1, 1,
		 "DOCTYPE ignored (no DTD is loaded)|entity reference &xxe; at line 9 not expanded|"
		 "entity reference &xxe; at line 18 not expanded|"
		 "empty <org_name>: the domain of <email> used"),
	/* hostile and broken: refused, with the reason */
	BAD("entity-bomb.xml", MN_ESYNTAX, "XML error at line 16: Detected an entity reference loop"),
	BAD("count-negative.xml", MN_ERANGE, "negative count at line 13"),
	BAD("count-20digits.xml", MN_ERANGE, "too large a count at line 13"),
	BAD("date-backwards.xml", MN_ERANGE, "date range ends before it begins (1764979199 to 1764892800)"),
	BAD("date-negative.xml", MN_ERANGE, "date range outside 1970-2100 (negative time at line 5)"),
	BAD("date-2101.xml", MN_ERANGE, "date range outside 1970-2100 (1764892800 to 4133980800)"),
	BAD("bad-ip.xml", MN_ESYNTAX, "bad source_ip '192.0.2.300' at line 12"),
	BAD("bad-domain.xml", MN_ESYNTAX, "bad domain 'not a domain' in <policy_published>"),
	BAD("truncated.xml", MN_ESYNTAX,
	    "XML error at line 6: the document ends before its root element does (truncated?)"),
	BAD("not-feedback.xml", MN_ESYNTAX, "not a report (XML root is <html>, not <feedback>)"),
	BAD("plain.eml", MN_ESYNTAX, "not a report (no aggregate, TLS or failure report in the message)"),
	BAD("zip-two.zip", MN_ESYNTAX,
	    "zip with 2 members and 2 reports (.xml, .json) among them (refused: want exactly one)"),
	BAD("zip-dotdot.zip", MN_ESYNTAX,
	    "zip member name 'reports/../../evil.xml' is absolute or has '..' (refused)"),
	BAD("zip-absolute.zip", MN_ESYNTAX, "zip member name '/tmp/evil.xml' is absolute or has '..' (refused)"),
	BAD("tlsrpt-negative.json", MN_ERANGE, "negative count in \"total-failure-session-count\" (-3)"),
	BAD("tlsrpt-big.json", MN_ESYNTAX, "JSON error at line 4: too big integer near '99999999999999999999'"),
	BAD("tlsrpt-deep.json", MN_ESYNTAX, "JSON error at line 1: nested deeper than 32"),
	BAD("tlsrpt-backwards.json", MN_ERANGE, "date range ends before it begins (1764979200 to 1764979199)"),
};

static char *slurp(const char *name, size_t *len)
{
	char path[4096];
	char *buf = NULL;
	snprintf(path, sizeof(path), "%s/tests/data/reports/%s", top, name);
	if (mn_file_read(path, &buf, len) != MN_OK)
		tap_bail("cannot read %s", path);
	return buf;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static char *notes_join(const report_t *r)
{
	size_t n = 1;
	for (size_t i = 0; i < r->nnotes; i++)
		n += strlen(r->notes[i]) + 1;
	char *s = calloc(1, n);
	for (size_t i = 0; i < r->nnotes; i++) {
		if (i > 0)
			strcat(s, "|");
		strcat(s, r->notes[i]);
	}
	return s;
}

/* Every string of the model is non-NULL (the contract the store relies on). */
static bool strings_ok(const report_t *r)
{
	if (!r->org || !r->email || !r->report_id || !r->domain || !r->report_id[0] || !r->raw)
		return false;
	for (size_t i = 0; i < r->nrows; i++) {
		const report_row_t *w = &r->rows[i];
		if (!w->header_from || !w->envelope_from || !w->envelope_to || !w->reason)
			return false;
		for (size_t k = 0; k < w->nauth; k++)
			if (!w->auth[k].domain || !w->auth[k].selector || !w->auth[k].result)
				return false;
	}
	for (size_t i = 0; i < r->ntls; i++) {
		if (!r->tls[i].policy_type || !r->tls[i].policy_domain)
			return false;
		for (size_t k = 0; k < r->tls[i].nfailures; k++)
			if (!r->tls[i].failures[k].result_type || !r->tls[i].failures[k].receiving_mx)
				return false;
	}
	const report_failure_t *f = r->failure;
	if (r->kind == REPORT_FAILURE &&
	    (!f || !f->auth_failure || !f->original_mail_from || !f->original_rcpt_to || !f->auth_results ||
	     !f->dkim_domain || !f->dkim_selector || !f->headers))
		return false;
	return true;
}

static report_list_t *read_one(const char *file, int *ret, char *why, size_t whylen)
{
	size_t len;
	char *buf = slurp(file, &len);
	report_list_t *l = NULL;
	*ret = report_read((const uint8_t *)buf, len, file, NULL, &l, why, whylen);
	free(buf);
	return l;
}

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const read_case_t *c = &cases[i];
		char why[256] = "";
		int ret;
		double t0 = now_s();
		report_list_t *l = read_one(c->file, &ret, why, sizeof(why));
		double dt = now_s() - t0;

		ok(dt < 5.0, "%s: read in %.3f s (< 5 s)", c->file, dt);
		if (!is_int(ret, c->ret, "%s: returns %d", c->file, c->ret)) {
			tap_diag("why: %s", why);
			report_list_free(l);
			continue;
		}
		if (c->ret != MN_OK) {
			is_str(why, c->why, "%s: reason", c->file);
			ok(l == NULL, "%s: nothing returned", c->file);
			continue;
		}
		if (!is_int((long long)l->n, 1, "%s: one report", c->file)) {
			report_list_free(l);
			continue;
		}
		const report_t *r = l->v[0];
		uint64_t m, p;
		report_totals(r, &m, &p);
		char *notes = notes_join(r);
		is_str(report_kind_name(r->kind), report_kind_name(c->kind), "%s: kind", c->file);
		is_str(r->org, c->org, "%s: org", c->file);
		is_str(r->report_id, c->id, "%s: report id", c->file);
		is_str(r->domain, c->domain, "%s: domain", c->file);
		is_int(r->begin, c->begin, "%s: begin", c->file);
		is_int(r->end, c->end, "%s: end", c->file);
		is_int((long long)(c->kind == REPORT_TLSRPT ? r->ntls : r->nrows), (long long)c->n,
		       "%s: rows or policies", c->file);
		is_int((long long)m, (long long)c->messages, "%s: messages", c->file);
		is_int((long long)p, (long long)c->pass, "%s: passing", c->file);
		is_str(notes, c->notes, "%s: notes", c->file);
		ok(strings_ok(r) && r->rawlen > 0, "%s: no NULL strings, raw kept", c->file);
		free(notes);
		report_list_free(l);
	}
}

/* The sums a reader computes by hand from RFC 9990's and RFC 8460's examples. */
static void test_rfc_examples(void)
{
	char why[256];
	int ret;
	report_list_t *l = read_one("rfc9990.xml", &ret, why, sizeof(why));
	if (ret != MN_OK)
		tap_bail("rfc9990.xml: %s", why);
	const report_t *r = l->v[0];
	const report_row_t *w = &r->rows[0];
	is_str(w->source, "192.0.2.123", "rfc9990: source");
	is_int((long long)w->count, 123, "rfc9990: count 123");
	ok(w->dkim_aligned && !w->spf_aligned, "rfc9990: DKIM aligned (123), SPF not (0)");
	is_int(w->disposition, REPORT_DISP_NONE, "rfc9990: disposition pass reads as none");
	is_str(r->published.p, "quarantine", "rfc9990: p");
	is_str(r->published.np, "none", "rfc9990: np");
	is_str(r->published.testing, "n", "rfc9990: testing");
	is_str(w->envelope_from, "example.com", "rfc9990: envelope_from");
	is_int((long long)w->nauth, 2, "rfc9990: two auth results");
	ok(w->nauth == 2 && w->auth[0].dkim && strcmp(w->auth[0].selector, "abc123") == 0 &&
	   strcmp(w->auth[0].result, "pass") == 0 && !w->auth[1].dkim &&
	   strcmp(w->auth[1].result, "fail") == 0, "rfc9990: dkim abc123 pass, spf fail");
	report_list_free(l);

	l = read_one("rfc8460.json", &ret, why, sizeof(why));
	if (ret != MN_OK)
		tap_bail("rfc8460.json: %s", why);
	r = l->v[0];
	const report_tls_t *t = &r->tls[0];
	is_str(t->policy_type, "sts", "rfc8460: policy type");
	is_int((long long)t->successful, 5326, "rfc8460: 5326 successful sessions");
	is_int((long long)t->failed, 303, "rfc8460: 303 failed sessions");
	is_int((long long)t->nfailures, 3, "rfc8460: three failure details");
	uint64_t fsum = 0;
	for (size_t i = 0; i < t->nfailures; i++)
		fsum += t->failures[i].sessions;
	is_int((long long)fsum, 303, "rfc8460: failure details 100 + 200 + 3 = 303");
	is_str(t->failures[0].sending_mta_ip, "2001:db8:abcd:12::1", "rfc8460: IPv6 canonical");
	is_str(t->failures[1].result_type, "starttls-not-supported", "rfc8460: result type");
	is_str(t->failures[2].receiving_mx, "mx-backup.mail.company-y.example", "rfc8460: receiving mx");
	is_str(r->email, "sts-reporting@company-x.example", "rfc8460: contact-info");
	report_list_free(l);
}

/* Details of the variants: folding, namespaces, old layouts, IPv6, failure reports. */
static void test_variants(void)
{
	char why[256];
	int ret;
	report_list_t *l = read_one("upper.xml", &ret, why, sizeof(why));
	const report_t *r = l->v[0];
	ok(r->rows[0].dkim_aligned && r->rows[0].spf_aligned, "upper: PASS and Pass are aligned");
	is_str(r->rows[0].auth[0].result, "pass", "upper: auth result PASS folded");
	is_str(r->rows[0].auth[0].domain, "example.com", "upper: auth domain lower-cased");
	is_str(r->rows[0].header_from, "example.com", "upper: header_from lower-cased");
	is_int(r->rows[1].disposition, REPORT_DISP_QUARANTINE, "upper: QUARANTINE");
	is_str(r->rows[1].auth[0].result, "softfail", "upper: SoftFail folded");
	is_str(r->published.p, "reject", "upper: p Reject folded");
	report_list_free(l);

	l = read_one("microsoft.xml", &ret, why, sizeof(why));
	r = l->v[0];
	is_str(r->rows[0].source, "2001:db8::25", "microsoft: IPv6 source canonical");
	is_str(r->rows[0].envelope_to, "outlook.com", "microsoft: envelope_to");
	is_str(r->rows[1].auth[0].selector, "mfrom", "microsoft: SPF scope");
	is_str(r->published.fo, "0", "microsoft: fo");
	report_list_free(l);

	l = read_one("ns20.xml", &ret, why, sizeof(why));
	r = l->v[0];
	is_str(r->rows[1].reason, "policy_test_mode,local_policy", "ns20: reasons joined");
	is_int(r->rows[1].disposition, REPORT_DISP_REJECT, "ns20: prefixed elements read");
	is_str(r->published.testing, "y", "ns20: testing");
	report_list_free(l);

	l = read_one("old-draft.xml", &ret, why, sizeof(why));
	r = l->v[0];
	is_str(r->rows[0].reason, "forwarded", "old draft: <reason> text");
	is_str(r->rows[0].header_from, "example.com", "old draft: <identities>");
	ok(!r->rows[0].dkim_aligned && r->rows[0].spf_aligned, "old draft: <policy_evaluated> after <row>");
	is_str(r->published.p, "none", "old draft: the first <policy_published>");
	report_list_free(l);

	l = read_one("xxe.xml", &ret, why, sizeof(why));
	r = l->v[0];
	is_str(r->rows[0].header_from, "example.com", "xxe: the entity reference is dropped, not expanded");
	ok(memmem(r->raw, r->rawlen, "root:", 5) == NULL && strstr(r->org, "root:") == NULL,
	   "xxe: /etc/passwd is not read");
	report_list_free(l);

	l = read_one("arf.eml", &ret, why, sizeof(why));
	r = l->v[0];
	const report_failure_t *f = r->failure;
	is_str(f->source, "192.0.2.1", "arf: Source-IP");
	is_str(f->auth_failure, "dmarc", "arf: Auth-Failure");
	is_str(f->original_mail_from, "<bounce@spoof.example>", "arf: Original-Mail-From");
	is_str(f->original_rcpt_to, "<user@example.com>, <other@example.com>", "arf: Original-Rcpt-To x2");
	is_str(f->auth_results,
	       "receiver.example; dmarc=fail (p=none) header.from=example.com; spf=fail smtp.mailfrom=spoof.example",
	       "arf: Authentication-Results unfolded");
	is_str(f->dkim_domain, "example.com", "arf: DKIM-Domain");
	is_str(f->dkim_selector, "mn20251201r", "arf: DKIM-Selector");
	ok(strstr(f->headers, "Subject: Earn money") != NULL, "arf: reported headers kept");
	ok(strstr(f->headers, "SECRET") == NULL, "arf: reported body not in the headers");
	ok(memmem(r->raw, r->rawlen, "SECRET", 6) == NULL, "arf: reported body not in the raw bytes");
	ok(memmem(r->raw, r->rawlen, "Feedback-Type: auth-failure", 27) != NULL, "arf: raw keeps the ARF part");
	report_list_free(l);

	l = read_one("arf-headers.eml", &ret, why, sizeof(why));
	r = l->v[0];
	is_str(r->failure->source, "2001:db8::1", "arf-headers: IPv6 Source-IP canonical");
	is_str(r->failure->headers, "From: Boss <boss@example.org>\r\nTo: you@example.net\r\nSubject: hi\r\n",
	       "arf-headers: header block only");
	ok(memmem(r->raw, r->rawlen, "SECRET", 6) == NULL &&
	   memmem(r->raw, r->rawlen, "U0VDUkVU", 8) == NULL, "arf-headers: appended body not in raw");
	report_list_free(l);
}

static char *b64(const uint8_t *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	/* split into 76-character lines */
	size_t n = strlen(out);
	char *lines = malloc(n + n / 76 * 2 + 3);
	size_t k = 0;
	for (size_t i = 0; i < n; i += 76) {
		size_t c = n - i < 76 ? n - i : 76;
		memcpy(lines + k, out + i, c);
		k += c;
		lines[k++] = '\r';
		lines[k++] = '\n';
	}
	lines[k] = '\0';
	free(out);
	return lines;
}

/* A gzip of n zeros, made here (a committed bomb would weigh on the repo). */
static uint8_t *gzip_zeros(size_t n, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		tap_bail("deflateInit2");
	static uint8_t zeros[1 << 16];
	size_t cap = n / 900 + 65536, len = 0;
	uint8_t *out = malloc(cap);
	for (size_t done = 0; done < n || z.avail_in > 0; ) {
		if (z.avail_in == 0) {
			size_t c = n - done < sizeof(zeros) ? n - done : sizeof(zeros);
			z.next_in = zeros;
			z.avail_in = (uInt)c;
			done += c;
		}
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		deflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
	}
	int r;
	do {
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		r = deflate(&z, Z_FINISH);
		len = cap - z.avail_out;
	} while (r == Z_OK);
	deflateEnd(&z);
	*outlen = len;
	return out;
}

/* A zip of one member of n zeros, with libarchive. */
static uint8_t *zip_zeros(size_t n, size_t *outlen)
{
	size_t cap = n / 500 + 65536;
	uint8_t *out = malloc(cap);
	struct archive *a = archive_write_new();
	archive_write_set_format_zip(a);
	archive_write_set_options(a, "zip:compression=deflate");
	if (archive_write_open_memory(a, out, cap, outlen) != ARCHIVE_OK)
		tap_bail("zip: %s", archive_error_string(a));
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "bomb.xml");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_write_header(a, e);
	static char zeros[1 << 16];
	for (size_t done = 0; done < n; ) {
		size_t c = n - done < sizeof(zeros) ? n - done : sizeof(zeros);
		archive_write_data(a, zeros, c);
		done += c;
	}
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	return out;
}

static void expect_refused(const char *what, const uint8_t *buf, size_t len, const report_limits_t *lim,
			   int want, const char *want_why)
{
	report_list_t *l = NULL;
	char why[256] = "";
	long rss0 = maxrss_mb();
	double t0 = now_s();
	int r = report_read(buf, len, NULL, lim, &l, why, sizeof(why));
	double dt = now_s() - t0;
	is_int(r, want, "%s: refused", what);
	is_str(why, want_why, "%s: reason", what);
	ok(l == NULL, "%s: nothing returned", what);
	ok(dt < 10.0, "%s: in %.2f s (< 10 s)", what, dt);
	ok(maxrss_mb() - rss0 < 300, "%s: memory grew %ld MB (< 300)", what, maxrss_mb() - rss0);
}

static void test_bombs(void)
{
	size_t n = 128u << 20, glen, zlen;
	uint8_t *gz = gzip_zeros(n, &glen);
	uint8_t *zp = zip_zeros(n, &zlen);
	tap_diag("gzip of 128 MiB of zeros: %zu bytes; zip: %zu bytes", glen, zlen);

	expect_refused("gzip bomb (size cap)", gz, glen, NULL, MN_ERANGE, "too large (over 64 MiB decompressed)");
	report_limits_t ratio = { 1u << 30, 100 };
	char want[128];
	snprintf(want, sizeof(want), "too large (decompresses to over 100 times its %zu bytes)", glen);
	expect_refused("gzip bomb (ratio cap)", gz, glen, &ratio, MN_ERANGE, want);
	report_limits_t small = { 1u << 20, 0 };
	expect_refused("gzip bomb (1 MiB cap)", gz, glen, &small, MN_ERANGE, "too large (over 1 MiB decompressed)");
	expect_refused("zip bomb", zp, zlen, NULL, MN_ERANGE, "too large (over 64 MiB decompressed)");

	/* the same bomb as a message attachment */
	char *enc = b64(gz, glen);
	const char *head = "From: bomb@attacker.example\r\nTo: dmarc@example.com\r\nSubject: report\r\n"
			   "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n"
			   "Content-Type: application/gzip; name=\"a.xml.gz\"\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n";
	size_t mlen = strlen(head) + strlen(enc) + 16;
	char *msg = malloc(mlen);
	snprintf(msg, mlen, "%s%s--x--\r\n", head, enc);
	expect_refused("gzip bomb in a message", (const uint8_t *)msg, strlen(msg), NULL, MN_ERANGE,
		       "too large (over 64 MiB decompressed) (in a.xml.gz)");
	free(msg);
	free(enc);
	free(gz);
	free(zp);
}

/* A message with a good report and a bad one: nothing of it is returned. */
static void test_whole_or_nothing(void)
{
	size_t glen, blen;
	char *good = slurp("rfc9990.xml", &glen);
	char *bad = slurp("count-negative.xml", &blen);
	char *g64 = b64((const uint8_t *)good, glen), *b64s = b64((const uint8_t *)bad, blen);
	size_t cap = 2 * strlen(g64) + strlen(b64s) + 1024;
	char *msg = malloc(cap);
	snprintf(msg, cap,
		 "From: r@example.net\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed; boundary=\"y\"\r\n\r\n"
		 "--y\r\nContent-Type: text/xml; name=\"good.xml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
		 "--y\r\nContent-Type: text/xml; name=\"bad.xml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
		 "--y--\r\n", g64, b64s);
	report_list_t *l = (report_list_t *)0x1;
	char why[256] = "";
	int r = report_read((const uint8_t *)msg, strlen(msg), "two.eml", NULL, &l, why, sizeof(why));
	is_int(r, MN_ERANGE, "good + bad report: refused");
	is_str(why, "negative count at line 13 (in bad.xml)", "good + bad report: the bad one named");
	ok(l == (report_list_t *)0x1, "good + bad report: out untouched");

	/* the good one twice: two reports */
	snprintf(msg, cap,
		 "From: r@example.net\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed; boundary=\"y\"\r\n\r\n"
		 "--y\r\nContent-Type: application/xml\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
		 "--y\r\nContent-Type: application/xml\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
		 "--y--\r\n", g64, g64);
	l = NULL;
	r = report_read((const uint8_t *)msg, strlen(msg), NULL, NULL, &l, why, sizeof(why));
	is_int(r, MN_OK, "two reports in a message: read");
	is_int(l ? (long long)l->n : -1, 2, "two reports in a message: both returned");
	report_list_free(l);
	/* together they are held to the cap: one fits, two do not */
	report_limits_t lim = { glen + glen / 2, 1000 };
	l = NULL;
	r = report_read((const uint8_t *)msg, strlen(msg), NULL, &lim, &l, why, sizeof(why));
	is_int(r, MN_ERANGE, "two reports over the cap together: refused");
	char want[128];
	snprintf(want, sizeof(want), "too large (the reports of the message add up to over %zu bytes)", lim.max_size);
	is_str(why, want, "two reports over the cap together: reason");
	free(msg);
	free(g64);
	free(b64s);
	free(good);
	free(bad);
}

static void test_edges(void)
{
	report_list_t *l = NULL;
	char why[256] = "";
	is_int(report_read((const uint8_t *)"", 0, NULL, NULL, &l, why, sizeof(why)), MN_ESYNTAX, "empty: refused");
	is_str(why, "not a report (empty input)", "empty: reason");
	is_int(report_read(NULL, 0, NULL, NULL, &l, why, sizeof(why)), MN_ESYNTAX, "NULL, 0: refused");
	is_int(report_read((const uint8_t *)"<x/>", 4, NULL, NULL, NULL, why, sizeof(why)), MN_EINVAL,
	       "out NULL: EINVAL");
	is_int(report_read((const uint8_t *)"\n\n  \n", 5, NULL, NULL, &l, why, sizeof(why)), MN_ESYNTAX,
	       "white space only: refused");
	is_int(report_read((const uint8_t *)"\x1f\x8b\x08garbage", 10, NULL, NULL, &l, why, sizeof(why)),
	       MN_ESYNTAX, "damaged gzip: refused");
	ok(strncmp(why, "not a report (damaged gzip", 26) == 0, "damaged gzip: reason (%s)", why);
	ok(l == NULL, "edges: nothing returned");
	/* bare reports are held to the cap as they are, messages to twice it */
	size_t rlen;
	char *rfc = slurp("rfc9990.xml", &rlen);
	report_limits_t tiny = { 1024, 1000 };
	is_int(report_read((const uint8_t *)rfc, rlen, NULL, &tiny, &l, why, sizeof(why)), MN_ERANGE,
	       "bare XML over the cap: refused");
	is_str(why, "too large (over 1024 bytes)", "bare XML over the cap: reason");
	tiny.max_size = 1400;
	is_int(report_read((const uint8_t *)rfc, rlen, NULL, &tiny, &l, why, sizeof(why)), MN_OK,
	       "bare XML under the cap: read");
	report_list_free(l);
	l = NULL;
	free(rfc);
	size_t glen;
	char *eml = slurp("google.eml", &glen);
	tiny.max_size = glen / 2 - 1;
	is_int(report_read((const uint8_t *)eml, glen, NULL, &tiny, &l, why, sizeof(why)), MN_ERANGE,
	       "message over twice the cap: refused");
	free(eml);
	/* no why buffer at all */
	is_int(report_read((const uint8_t *)"{", 1, NULL, NULL, &l, NULL, 0), MN_ESYNTAX, "why NULL: still refused");
}

int main(void)
{
	top = getenv("top_srcdir");
	if (top == NULL)
		top = ".";
	test_cases();
	test_rfc_examples();
	test_variants();
	test_whole_or_nothing();
	test_edges();
	test_bombs();
	return tap_done();
}
