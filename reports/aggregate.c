/* SPDX-License-Identifier: GPL-3.0-or-later */
/* aggregate.c -- DMARC aggregate reports (RFC 7489 appendix C, RFC 9990) from XML with libxml2's xmlReader */
#include "config.h"

#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/mn.h"
#include "reports/read_internal.h"

/*
 * The reader walks the document once and keeps a stack of element local
 * names, so the same code reads the report with and without RFC 9990's
 * namespace (urn:ietf:params:xml:ns:dmarc-2.0) or any prefix, and ignores
 * Microsoft's xmlns:xsd/xmlns:xsi declarations.  Elements are recognized by
 * their parent, not their full path, which reads the old draft layouts too
 * (<identities> for <identifiers>, <policy_evaluated> or <auth_results>
 * outside <row>, a <reason> with text and no <type>, several
 * <policy_published>: the first wins).
 *
 * Decisions for what RFC 7489 and RFC 9990 require but receivers omit:
 * - an empty or missing <org_name> is replaced by the domain of <email>, or
 *   by "unknown" when there is no usable <email> (a note says which);
 * - a missing <report_id> is replaced by the hex SHA-256 of the report
 *   (so the same report is still stored once), with a note;
 * - a missing <disposition>, <dkim> or <spf> of <policy_evaluated> reads
 *   as none / not aligned; RFC 9990's disposition "pass" as none;
 * - a record without <count> or a valid <source_ip>, a report without
 *   <policy_published><domain> or <date_range>, are errors.
 *
 * Safety: XML_PARSE_NONET, never XML_PARSE_NOENT, XML_PARSE_DTDLOAD,
 * XML_PARSE_DTDVALID or XML_PARSE_HUGE: entity references stay unexpanded
 * (each noted), no DTD or external entity is read, and libxml2's entity
 * amplification guard stops a "billion laughs".
 *
 * Lenient recovery: when the document does not parse, a repaired copy is
 * tried: NUL bytes dropped, anything before the first '<' and after the
 * root element's end cut, invalid UTF-8 replaced by '?', and a '<' or '&'
 * in text that does not start markup or a reference escaped.  Each repair
 * becomes a note; when the copy does not parse either, the error is "XML
 * error at line N: ...".
 */

#define TEXT_MAX 4096		/* bytes of text kept per element */
#define DEPTH_MAX 64		/* deeper elements are read but not recognized */

typedef struct agg {
	report_t *r;
	rd_notes_t notes;
	/* element stack: local names (owned copies) and start lines */
	char *name[DEPTH_MAX];
	long line[DEPTH_MAX];
	int depth;
	char text[TEXT_MAX + 1];
	size_t textlen;
	bool root_seen, root_done;
	bool have_begin, have_end, have_domain, have_count;
	int policies;		/* <policy_published> seen */
	report_row_t *row;	/* the open <record>, or NULL */
	size_t rowcap;		/* rows allocated in r->rows */
	long row_line;
	bool row_ip_ok;
	uint64_t total;
	int entities;
	/* the first error */
	int err;
	char why[256];
} agg_t;

typedef struct xml_err {
	int line;		/* the first fatal error */
	int code;
	char msg[200];
	bool set;
	int nerrors;		/* errors libxml2 recovered from (namespaces...) */
	int eline;
	char emsg[120];
} xml_err_t;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

static void on_xml_error(void *ctx, xmlErrorPtr e)
{
	xml_err_t *x = ctx;
	if (x == NULL || e == NULL || e->level < XML_ERR_ERROR)
		return;
	if (e->level == XML_ERR_ERROR) {
		if (x->nerrors++ == 0) {
			x->eline = e->line;
			snprintf(x->emsg, sizeof(x->emsg), "%s", e->message ? e->message : "error");
			x->emsg[strcspn(x->emsg, "\n")] = '\0';
		}
		return;
	}
	if (x->set) {
		/* an entity loop is reported from inside each entity's text (line 1)
		 * and last from the document: keep the document's line */
		if (e->code == XML_ERR_ENTITY_LOOP && x->code == XML_ERR_ENTITY_LOOP && e->line > x->line)
			x->line = e->line;
		return;
	}
	x->set = true;
	x->line = e->line;
	x->code = e->code;

	snprintf(x->msg, sizeof(x->msg), "%s", e->message ? e->message : "malformed");
	size_t n = strlen(x->msg);
	while (n > 0 && (x->msg[n - 1] == '\n' || x->msg[n - 1] == ' '))
		x->msg[--n] = '\0';
}

static int fail_at(agg_t *a, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(agg_t *a, int err, const char *fmt, ...)
{
	if (a->err == MN_OK) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(a->why, sizeof(a->why), fmt, ap);
		va_end(ap);
		a->err = err;
	}
	return a->err;
}

static const char *parent(const agg_t *a, int up)
{
	int i = a->depth - 1 - up;
	return i >= 0 && i < DEPTH_MAX && a->name[i] ? a->name[i] : "";
}

static bool inside(const agg_t *a, const char *name)
{
	for (int i = 0; i < a->depth - 1 && i < DEPTH_MAX; i++) {
		if (a->name[i] && strcmp(a->name[i], name) == 0)
			return true;
	}
	return false;
}

static void copy_small(char *dst, size_t size, const char *text)
{
	char *t = rd_strtrim(text, true);
	snprintf(dst, size, "%s", t ? t : "");
	free(t);
}

static int row_open(agg_t *a, long line)
{
	report_t *r = a->r;
	if (r->nrows == a->rowcap) {
		size_t cap = a->rowcap ? a->rowcap * 2 : 16;
		report_row_t *v = realloc(r->rows, cap * sizeof(*v));
		if (v == NULL)
			return MN_ENOMEM;
		r->rows = v;
		a->rowcap = cap;
	}
	report_row_t *row = &r->rows[r->nrows++];
	memset(row, 0, sizeof(*row));
	row->header_from = strdup("");
	row->envelope_from = strdup("");
	row->envelope_to = strdup("");
	row->reason = strdup("");
	if (!row->header_from || !row->envelope_from || !row->envelope_to || !row->reason)
		return MN_ENOMEM;
	a->row = row;
	a->row_line = line;
	a->row_ip_ok = false;
	a->have_count = false;
	return MN_OK;
}

static int row_close(agg_t *a)
{
	if (!a->row_ip_ok)
		return fail_at(a, MN_ESYNTAX, "record at line %ld has no valid <source_ip>", a->row_line);
	if (!a->have_count)
		return fail_at(a, MN_ESYNTAX, "record at line %ld has no <count>", a->row_line);
	a->row = NULL;
	return MN_OK;
}

static int auth_open(agg_t *a, bool dkim)
{
	report_row_t *row = a->row;
	report_auth_t *v = realloc(row->auth, (row->nauth + 1) * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	row->auth = v;
	report_auth_t *au = &row->auth[row->nauth++];
	au->dkim = dkim;
	au->domain = strdup("");
	au->selector = strdup("");
	au->result = strdup("none");
	if (!au->domain || !au->selector || !au->result)
		return MN_ENOMEM;
	return MN_OK;
}

static int reason_add(report_row_t *row, const char *text)
{
	char *t = rd_strtrim(text, true);
	if (t == NULL)
		return MN_ENOMEM;
	if (t[0] == '\0') {
		free(t);
		return MN_OK;
	}
	size_t old = strlen(row->reason), add = strlen(t);
	char *n = realloc(row->reason, old + add + 2);
	if (n == NULL) {
		free(t);
		return MN_ENOMEM;
	}
	if (old > 0)
		n[old++] = ',';
	memcpy(n + old, t, add + 1);
	row->reason = n;
	free(t);
	return MN_OK;
}

/* <begin>/<end>: unix seconds; a fraction (".0") some receivers add is allowed. */
static int time_parse(agg_t *a, const char *text, long line, int64_t *out)
{
	char *t = rd_strtrim(text, false);
	if (t == NULL)
		return MN_ENOMEM;
	char *dot = strchr(t, '.');
	if (dot != NULL && dot[1 + strspn(dot + 1, "0123456789")] == '\0')
		*dot = '\0';
	uint64_t v;
	int r = rd_count_parse(t, &v);
	bool neg = t[0] == '-';
	free(t);
	if (r == MN_ERANGE || (r == MN_OK && v > INT64_MAX)) {
		if (neg)
			return fail_at(a, MN_ERANGE, "date range outside 1970-2100 (negative time at line %ld)",
				       line);
		return fail_at(a, MN_ERANGE, "date range outside 1970-2100 (time too large at line %ld)",
			       line);
	}
	if (r != MN_OK)
		return fail_at(a, MN_ESYNTAX, "bad time '%.40s' at line %ld", text, line);
	*out = (int64_t)v;
	return MN_OK;
}

/* An element inside <record> ended. */
static int record_elem(agg_t *a, const char *el, const char *text, long line)
{
	report_row_t *row = a->row;
	const char *up = parent(a, 1);
	int r = MN_OK;

	if (strcmp(el, "source_ip") == 0) {
		if (rd_ip_canon(text, row->source) != MN_OK)
			return fail_at(a, MN_ESYNTAX, "bad source_ip '%.60s' at line %ld", text, line);
		a->row_ip_ok = true;
	} else if (strcmp(el, "count") == 0) {
		uint64_t c;
		r = rd_count_parse(text, &c);
		if (r == MN_ERANGE)
			return fail_at(a, MN_ERANGE, "%s count at line %ld",
				       strchr(text, '-') ? "negative" : "too large a", line);
		if (r != MN_OK)
			return fail_at(a, MN_ESYNTAX, "bad count '%.40s' at line %ld", text, line);
		if (c > (uint64_t)INT64_MAX - a->total)
			return fail_at(a, MN_ERANGE, "counts add up to more than 2^63-1 at line %ld", line);
		a->total += c;
		row->count = c;
		a->have_count = true;
	} else if (strcmp(up, "policy_evaluated") == 0) {
		char v[16];
		copy_small(v, sizeof(v), text);
		if (strcmp(el, "disposition") == 0) {
			if (strcmp(v, "quarantine") == 0)
				row->disposition = REPORT_DISP_QUARANTINE;
			else if (strcmp(v, "reject") == 0)
				row->disposition = REPORT_DISP_REJECT;
			else
				row->disposition = REPORT_DISP_NONE;
		} else if (strcmp(el, "dkim") == 0) {
			row->dkim_aligned = strcmp(v, "pass") == 0;
		} else if (strcmp(el, "spf") == 0) {
			row->spf_aligned = strcmp(v, "pass") == 0;
		} else if (strcmp(el, "reason") == 0) {
			r = reason_add(row, text);	/* old drafts: the type as text */
		}
	} else if (strcmp(el, "type") == 0 && strcmp(up, "reason") == 0) {
		r = reason_add(row, text);
	} else if (strcmp(up, "identifiers") == 0 || strcmp(up, "identities") == 0) {
		if (strcmp(el, "header_from") == 0)
			r = rd_domainset(&row->header_from, text);
		else if (strcmp(el, "envelope_from") == 0)
			r = rd_domainset(&row->envelope_from, text);
		else if (strcmp(el, "envelope_to") == 0)
			r = rd_domainset(&row->envelope_to, text);
	} else if ((strcmp(up, "dkim") == 0 || strcmp(up, "spf") == 0) &&
		   strcmp(parent(a, 2), "auth_results") == 0 && row->nauth > 0) {
		report_auth_t *au = &row->auth[row->nauth - 1];
		if (strcmp(el, "domain") == 0)
			r = rd_domainset(&au->domain, text);
		else if (strcmp(el, "selector") == 0 || strcmp(el, "scope") == 0)
			r = rd_strset(&au->selector, text, strcmp(el, "scope") == 0);
		else if (strcmp(el, "result") == 0)
			r = rd_strset(&au->result, text, true);
	}
	return r;
}

static int element_end(agg_t *a, long line)
{
	const char *el = parent(a, 0);
	const char *up = parent(a, 1);
	report_t *r = a->r;
	int rc = MN_OK;

	a->text[a->textlen] = '\0';
	const char *text = a->text;

	if (a->depth == 1) {
		a->root_done = true;
		return MN_OK;
	}
	if (a->row != NULL) {
		if (strcmp(el, "record") == 0 && a->depth == 2)
			return row_close(a);
		return record_elem(a, el, text, line);
	}
	if (strcmp(up, "report_metadata") == 0) {
		if (strcmp(el, "org_name") == 0)
			rc = rd_strset(&r->org, text, false);
		else if (strcmp(el, "email") == 0)
			rc = rd_strset(&r->email, text, false);
		else if (strcmp(el, "report_id") == 0)
			rc = rd_strset(&r->report_id, text, false);
	} else if (strcmp(up, "date_range") == 0 && inside(a, "report_metadata")) {
		if (strcmp(el, "begin") == 0) {
			rc = time_parse(a, text, line, &r->begin);
			a->have_begin = rc == MN_OK;
		} else if (strcmp(el, "end") == 0) {
			rc = time_parse(a, text, line, &r->end);
			a->have_end = rc == MN_OK;
		}
	} else if (strcmp(up, "policy_published") == 0 && a->policies == 1) {
		if (strcmp(el, "domain") == 0) {
			rc = rd_domainset(&r->domain, text);
			a->have_domain = true;
		} else if (strcmp(el, "adkim") == 0) {
			copy_small(r->published.adkim, sizeof(r->published.adkim), text);
		} else if (strcmp(el, "aspf") == 0) {
			copy_small(r->published.aspf, sizeof(r->published.aspf), text);
		} else if (strcmp(el, "p") == 0) {
			copy_small(r->published.p, sizeof(r->published.p), text);
		} else if (strcmp(el, "sp") == 0) {
			copy_small(r->published.sp, sizeof(r->published.sp), text);
		} else if (strcmp(el, "np") == 0) {
			copy_small(r->published.np, sizeof(r->published.np), text);
		} else if (strcmp(el, "fo") == 0) {
			copy_small(r->published.fo, sizeof(r->published.fo), text);
		} else if (strcmp(el, "testing") == 0) {
			copy_small(r->published.testing, sizeof(r->published.testing), text);
		}
	}
	return rc;
}

static int element_start(agg_t *a, const char *el, long line)
{
	int rc = MN_OK;

	if (a->depth == 0) {
		if (a->root_seen)
			return MN_OK;	/* a second root: libxml2 reports it */
		if (strcmp(el, "feedback") != 0)
			return fail_at(a, MN_ESYNTAX,
				       "not a report (XML root is <%.40s>, not <feedback>)", el);
		a->root_seen = true;
	} else if (a->depth == 1 && strcmp(el, "record") == 0) {
		rc = row_open(a, line);
	} else if (a->depth == 1 && strcmp(el, "policy_published") == 0) {
		a->policies++;
		if (a->policies == 2)
			rc = rd_note(&a->notes, "more than one <policy_published> (line %ld): the first used",
				     line);
	} else if (a->row != NULL && (strcmp(el, "dkim") == 0 || strcmp(el, "spf") == 0) &&
		   strcmp(parent(a, 0), "auth_results") == 0) {
		rc = auth_open(a, strcmp(el, "dkim") == 0);
	}
	return rc;
}

static void push(agg_t *a, const char *el, long line)
{
	if (a->depth < DEPTH_MAX) {
		a->name[a->depth] = strdup(el);
		a->line[a->depth] = line;
	}
	a->depth++;
	a->textlen = 0;
}

static void pop(agg_t *a)
{
	a->depth--;
	if (a->depth < DEPTH_MAX) {
		free(a->name[a->depth]);
		a->name[a->depth] = NULL;
	}
	a->textlen = 0;
}

static void text_add(agg_t *a, const char *s)
{
	size_t n = strlen(s);
	if (n > TEXT_MAX - a->textlen)
		n = TEXT_MAX - a->textlen;
	memcpy(a->text + a->textlen, s, n);
	a->textlen += n;
}

static long node_line(xmlTextReaderPtr rd)
{
	xmlNodePtr n = xmlTextReaderCurrentNode(rd);
	long l = n ? xmlGetLineNo(n) : -1;
	return l > 0 ? l : xmlTextReaderGetParserLineNumber(rd);
}

static void agg_reset(agg_t *a)
{
	while (a->depth > 0)
		pop(a);
	report_free(a->r);
	rd_notes_clear(&a->notes);
	memset(a, 0, sizeof(*a));
}

/* One pass over xml; MN_OK, a.err set (a report error), or x->set (XML error). */
static int parse_pass(agg_t *a, const char *xml, size_t len, xml_err_t *x)
{
	int rc = MN_OK, ret;

	if ((rc = rd_report_new(REPORT_DMARC, &a->r)) != MN_OK)
		return rc;
	xmlStructuredErrorFunc oldfn = xmlStructuredError;
	void *oldctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(x, on_xml_error);
	xmlTextReaderPtr rd = xmlReaderForMemory(xml, (int)len, "report.xml", NULL,
						 XML_PARSE_NONET | XML_PARSE_BIG_LINES);
	if (rd == NULL) {
		xmlSetStructuredErrorFunc(oldctx, oldfn);
		return MN_ENOMEM;
	}
	xmlTextReaderSetStructuredErrorHandler(rd, on_xml_error, x);
	while (rc == MN_OK && a->err == MN_OK && (ret = xmlTextReaderRead(rd)) == 1) {
		int type = xmlTextReaderNodeType(rd);
		if (a->root_done)
			continue;	/* read on: libxml2 reports garbage after the root */
		switch (type) {
		case XML_READER_TYPE_ELEMENT: {
			const char *el = (const char *)xmlTextReaderConstLocalName(rd);
			long line = node_line(rd);
			bool empty = xmlTextReaderIsEmptyElement(rd) == 1;
			rc = element_start(a, el ? el : "", line);
			push(a, el ? el : "", line);
			if (rc == MN_OK && empty) {
				rc = element_end(a, line);
				pop(a);
			}
			break;
		}
		case XML_READER_TYPE_END_ELEMENT:
			if (a->depth > 0) {
				rc = element_end(a, a->depth <= DEPTH_MAX ? a->line[a->depth - 1] : 0);
				pop(a);
			}
			break;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE: {
			const char *v = (const char *)xmlTextReaderConstValue(rd);
			if (v)
				text_add(a, v);
			break;
		}
		case XML_READER_TYPE_ENTITY_REFERENCE:
			if (++a->entities <= RD_NOTES_MAX)
				rc = rd_note(&a->notes, "entity reference &%.40s; at line %ld not expanded",
					     (const char *)xmlTextReaderConstName(rd), node_line(rd));
			break;
		case XML_READER_TYPE_DOCUMENT_TYPE:
			rc = rd_note(&a->notes, "DOCTYPE ignored (no DTD is loaded)");
			break;
		default:
			break;
		}
	}
	xmlFreeTextReader(rd);
	xmlSetStructuredErrorFunc(oldctx, oldfn);
	if (x->nerrors > 0 && rc == MN_OK)
		rc = rd_note(&a->notes, "%d XML error%s recovered from (line %d: %s)", x->nerrors,
			     x->nerrors == 1 ? "" : "s", x->eline, x->emsg);
	if (a->entities > RD_NOTES_MAX && rc == MN_OK)
		rc = rd_note(&a->notes, "... and %d more entity references not expanded",
			     a->entities - RD_NOTES_MAX);
	/* xmlReader says "Extra content" when the input stops inside the root */
	if (x->set && !a->root_done && x->code == XML_ERR_DOCUMENT_END)
		snprintf(x->msg, sizeof(x->msg), "the document ends before its root element does "
			 "(truncated?)");
	/* an error after the root ended is garbage after it: ignored, noted */
	if (x->set && a->root_done && a->err == MN_OK && rc == MN_OK) {
		rc = rd_note(&a->notes, "garbage after the root element at line %d ignored", x->line);
		x->set = false;
	}
	return rc;
}

/* ---- the report -------------------------------------------------------- */

static int finish(agg_t *a, const uint8_t *xml, size_t len)
{
	report_t *r = a->r;
	int rc;

	if (!a->root_seen)
		return fail_at(a, MN_ESYNTAX, "not a report (no <feedback> element)");
	if (!a->have_domain || r->domain[0] == '\0')
		return fail_at(a, MN_ESYNTAX, "no <policy_published><domain>");
	if ((rc = rd_domain_check(r->domain, "<policy_published>", a->why, sizeof(a->why))) != MN_OK)
		return a->err = rc;
	if (!a->have_begin || !a->have_end)
		return fail_at(a, MN_ESYNTAX, "no <date_range> with <begin> and <end>");
	if ((rc = rd_range_check(r->begin, r->end, a->why, sizeof(a->why))) != MN_OK)
		return a->err = rc;
	if (r->org[0] == '\0') {
		const char *at = strrchr(r->email, '@');
		char *org = NULL;
		if (at != NULL && at[1] != '\0') {
			org = rd_strtrim(at + 1, true);
			size_t n = org ? strcspn(org, ">") : 0;
			if (org)
				org[n] = '\0';
		}
		if (org != NULL && org[0] != '\0') {
			rc = rd_note(&a->notes, "empty <org_name>: the domain of <email> used");
		} else {
			free(org);
			org = strdup("unknown");
			rc = rd_note(&a->notes, "empty <org_name> and no <email> domain: \"unknown\" used");
		}
		if (org == NULL)
			return MN_ENOMEM;
		free(r->org);
		r->org = org;
		if (rc != MN_OK)
			return rc;
	}
	if (r->report_id[0] == '\0') {
		char *id = NULL;
		if ((rc = rd_sha256_hex(xml, len, &id)) != MN_OK)
			return rc;
		free(r->report_id);
		r->report_id = id;
		if ((rc = rd_note(&a->notes, "no <report_id>: the report's SHA-256 used")) != MN_OK)
			return rc;
	}
	if ((r->raw = malloc(len ? len : 1)) == NULL)
		return MN_ENOMEM;
	memcpy(r->raw, xml, len);
	r->rawlen = len;
	return MN_OK;
}

int rd_aggregate(const uint8_t *xml, size_t len, rd_notes_t *notes, report_t **out, char *why,
		 size_t whylen)
{
	agg_t a;
	xml_err_t x;
	char *fixed = NULL;
	size_t fixed_len = 0;
	int rc;

	pthread_once(&xml_once, xml_init);
	memset(&a, 0, sizeof(a));
	memset(&x, 0, sizeof(x));
	if (len > INT32_MAX) {
		rd_why(why, whylen, "too large (over 2 GiB of XML)");
		return MN_ERANGE;
	}
	rc = parse_pass(&a, (const char *)xml, len, &x);
	if (rc == MN_OK && a.err == MN_OK && x.set) {
		/* not well-formed: try the repaired copy */
		xml_err_t first = x;
		agg_reset(&a);
		memset(&x, 0, sizeof(x));
		rc = rd_xml_repair((const char *)xml, len, &fixed, &fixed_len, &a.notes);
		if (rc == MN_OK) {
			rd_notes_t keep = a.notes;
			memset(&a.notes, 0, sizeof(a.notes));
			rc = parse_pass(&a, fixed, fixed_len, &x);
			rd_notes_t pass = a.notes;
			a.notes = keep;
			if (rc == MN_OK)
				for (size_t i = 0; i < pass.n && rc == MN_OK; i++)
					rc = rd_note(&a.notes, "%s", pass.v[i]);
			rd_notes_clear(&pass);
		}
		if (rc == MN_OK && a.err == MN_OK && x.set) {
			/* the first error, where the reader's file has it, unless the
			 * repair got past it */
			xml_err_t *e = x.line > first.line ? &x : &first;
			rd_why(why, whylen, "XML error at line %d: %s", e->line, e->msg);
			rc = MN_ESYNTAX;
			goto fail;
		}
	}
	if (rc == MN_OK && a.err == MN_OK)
		rc = finish(&a, xml, len);
	if (rc == MN_OK && a.err != MN_OK)
		rc = a.err;
	if (rc != MN_OK) {
		if (a.err != MN_OK)
			rd_why(why, whylen, "%s", a.why);
		else if (rc == MN_ENOMEM)
			rd_why(why, whylen, "out of memory");
		goto fail;
	}
	if ((rc = rd_notes_move(notes, a.r)) != MN_OK || (rc = rd_notes_move(&a.notes, a.r)) != MN_OK)
		goto fail;
	*out = a.r;
	a.r = NULL;
fail:
	free(fixed);
	agg_reset(&a);
	return rc;
}
