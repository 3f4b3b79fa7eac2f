/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mime.c -- finds the reports in an e-mail message with GMime 3.0 (attachments, bodies, ARF) */
#include "config.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/mn.h"
#include "reports/read_internal.h"

/*
 * A part is a report candidate when its content type is one receivers use
 * for reports (application/gzip, x-gzip, zip, x-zip-compressed,
 * octet-stream, xml, text/xml, json, tlsrpt+gzip, tlsrpt+json), or its file
 * name ends in .xml, .gz, .zip or .json, or it is a text/plain part whose
 * decoded content is gzip, zip or XML with a <feedback> root; and then
 * only when its decoded bytes start like a report (gzip, zip, '<', '{'),
 * so a PDF attached beside a report is passed over.  GMime decodes base64
 * and quoted-printable.  A multipart/report with a message/feedback-report
 * part is a failure report; the reported message (message/rfc822 or
 * text/rfc822-headers) is cut to its header block in the model and in the
 * raw bytes.  A message/rfc822 elsewhere (a forwarded report) is searched
 * too, up to DEPTH_MAX levels.
 */

#define DEPTH_MAX 8

typedef struct walk {
	const report_limits_t *lim;
	report_list_t *l;
	GMimeMessage *top;
	const uint8_t *input;
	size_t inputlen;
	size_t used;		/* bytes of the reports found so far (held to lim->max_size) */
	int err;
	char *why;
	size_t whylen;
} walk_t;

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init(void)
{
	g_mime_init();
}

static bool type_is(GMimeContentType *ct, const char *type, const char *sub)
{
	return ct != NULL && g_mime_content_type_is_type(ct, type, sub);
}

static bool name_hint(const char *name)
{
	if (name == NULL)
		return false;
	size_t n = strlen(name);
	static const char *ext[] = { ".xml", ".gz", ".zip", ".json", ".gzip" };
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);
		if (n > e && strcasecmp(name + n - e, ext[i]) == 0)
			return true;
	}
	return false;
}

/* The decoded content of a leaf part (transfer encoding undone). */
static GByteArray *part_bytes(GMimePart *part)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	if (dw == NULL)
		return NULL;
	GMimeStream *mem = g_mime_stream_mem_new();
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	g_mime_data_wrapper_write_to_stream(dw, mem);
	GByteArray *a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	g_object_unref(mem);
	return a;
}

static int sig_byte(const guint8 *p, size_t len)
{
	size_t i = 0;
	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < len ? p[i] : -1;
}

static bool looks_like_report(const guint8 *p, size_t len, bool plain_text)
{
	if (rd_is_gzip(p, len) || rd_is_zip(p, len))
		return true;
	int c = sig_byte(p, len);
	if (plain_text)	/* a text body: only XML that says it is a report */
		return c == '<' && memmem(p, len < 4096 ? len : 4096, "feedback", 8) != NULL;
	return c == '<' || c == '{';
}

static void leaf(walk_t *w, GMimePart *part)
{
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	const char *name = g_mime_part_get_filename(part);
	bool plain = type_is(ct, "text", "plain");
	bool typed = type_is(ct, "application", "gzip") || type_is(ct, "application", "x-gzip") ||
		     type_is(ct, "application", "zip") || type_is(ct, "application", "x-zip") ||
		     type_is(ct, "application", "x-zip-compressed") ||
		     type_is(ct, "application", "octet-stream") || type_is(ct, "application", "xml") ||
		     type_is(ct, "text", "xml") || type_is(ct, "application", "json") ||
		     type_is(ct, "application", "tlsrpt+gzip") || type_is(ct, "application", "tlsrpt+json");

	if (!typed && !plain && !name_hint(name))
		return;
	GByteArray *a = part_bytes(part);
	if (a == NULL)
		return;
	if (looks_like_report(a->data, a->len, plain && !typed && !name_hint(name))) {
		/* every report of one message together is held to the cap */
		report_limits_t rest = *w->lim;
		rest.max_size = w->lim->max_size - w->used;
		report_t *rep = NULL;
		char why[256] = "";
		int r;
		if (!rd_is_gzip(a->data, a->len) && !rd_is_zip(a->data, a->len) && a->len > rest.max_size) {
			rd_why(why, sizeof(why), "too large (over %zu bytes)", rest.max_size);
			r = MN_ERANGE;
		} else {
			r = rd_bare(a->data, a->len, &rest, &rep, why, sizeof(why));
		}
		if (r == MN_ERANGE && w->used > 0 && strncmp(why, "too large", 9) == 0)
			rd_why(why, sizeof(why), "too large (the reports of the message add up to over %zu bytes)",
			       w->lim->max_size);
		if (r == MN_OK) {
			w->used += rep->rawlen;
			if ((r = rd_list_add(w->l, rep)) != MN_OK)
				report_free(rep);
		}
		if (r != MN_OK) {
			w->err = r;
			if (name != NULL && r != MN_ENOMEM)
				rd_why(w->why, w->whylen, "%s (in %.80s)", why, name);
			else
				rd_why(w->why, w->whylen, "%s", why);
		}
	}
	g_byte_array_unref(a);
}

/* The reported message's header block: up to its first empty line. */
static size_t header_block(const guint8 *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < len && p[i + 1] == '\n')
			return i + 1;
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 1;
	}
	return len;
}

static void part_set_text(GMimePart *part, const guint8 *p, size_t len)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)p, len);
	GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, dw);
	g_object_unref(dw);
	g_object_unref(s);
}

static int64_t message_date(GMimeMessage *m)
{
	GDateTime *dt = g_mime_message_get_date(m);
	return dt ? (int64_t)g_date_time_to_unix(dt) : -1;
}

static char *message_from(GMimeMessage *m)
{
	InternetAddressList *from = g_mime_message_get_from(m);
	if (from == NULL || internet_address_list_length(from) < 1)
		return NULL;
	InternetAddress *ia = internet_address_list_get_address(from, 0);
	if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
		return NULL;
	const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
	return addr ? g_strdup(addr) : NULL;
}

/* A multipart/report with a message/feedback-report part: one failure report. */
static void arf(walk_t *w, GMimeMultipart *mp, GMimePart *fb)
{
	GByteArray *fbytes = part_bytes(fb), *hbytes = NULL;
	char *headers = NULL, *from = NULL;
	size_t headerslen = 0;
	int n = g_mime_multipart_get_count(mp);

	if (fbytes == NULL) {
		w->err = MN_ESYNTAX;
		rd_why(w->why, w->whylen, "failure report with an empty feedback part");
		return;
	}
	for (int i = 0; i < n; i++) {
		GMimeObject *o = g_mime_multipart_get_part(mp, i);
		GMimeContentType *ct = g_mime_object_get_content_type(o);
		if (GMIME_IS_MESSAGE_PART(o) && headers == NULL) {
			GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
			if (inner == NULL)
				continue;
			headers = g_mime_object_get_headers(GMIME_OBJECT(inner), NULL);
			headerslen = headers ? strlen(headers) : 0;
			/* the body goes: an empty text part in its place */
			GMimeTextPart *empty = g_mime_text_part_new_with_subtype("plain");
			g_mime_text_part_set_text(empty, "");
			g_mime_message_set_mime_part(inner, GMIME_OBJECT(empty));
			g_object_unref(empty);
		} else if (GMIME_IS_PART(o) && hbytes == NULL && headers == NULL &&
			   (type_is(ct, "text", "rfc822-headers") || type_is(ct, "message", "rfc822-headers"))) {
			hbytes = part_bytes(GMIME_PART(o));
			if (hbytes == NULL)
				continue;
			size_t hl = header_block(hbytes->data, hbytes->len);
			if (hl < hbytes->len)
				part_set_text(GMIME_PART(o), hbytes->data, hl);
			headers = g_strndup((const char *)hbytes->data, hl);
			headerslen = hl;
		}
	}
	from = message_from(w->top);
	char *raw = g_mime_object_to_string(GMIME_OBJECT(w->top), NULL);
	rd_arf_t a = {
		.feedback = (const char *)fbytes->data,
		.feedbacklen = fbytes->len,
		.headers = headers,
		.headerslen = headerslen,
		.message_id = g_mime_message_get_message_id(w->top),
		.from = from,
		.date = message_date(w->top),
		.input = w->input,
		.inputlen = w->inputlen,
		.raw = (const uint8_t *)raw,
		.rawlen = raw ? strlen(raw) : 0,
	};
	report_t *rep = NULL;
	int r = rd_failure(&a, &rep, w->why, w->whylen);
	if (r == MN_OK && (r = rd_list_add(w->l, rep)) != MN_OK)
		report_free(rep);
	if (r != MN_OK)
		w->err = r;
	g_free(raw);
	g_free(from);
	g_free(headers);
	if (hbytes)
		g_byte_array_unref(hbytes);
	g_byte_array_unref(fbytes);
}

static void walk(walk_t *w, GMimeObject *o, int depth)
{
	if (o == NULL || w->err != MN_OK || depth > DEPTH_MAX)
		return;
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++) {
			GMimeObject *c = g_mime_multipart_get_part(mp, i);
			if (GMIME_IS_PART(c) &&
			    type_is(g_mime_object_get_content_type(c), "message", "feedback-report")) {
				arf(w, mp, GMIME_PART(c));
				return;
			}
		}
		for (int i = 0; i < n && w->err == MN_OK; i++)
			walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (m != NULL)
			walk(w, g_mime_message_get_mime_part(m), depth + 1);
	} else if (GMIME_IS_PART(o)) {
		leaf(w, GMIME_PART(o));
	}
}

int rd_message(const uint8_t *buf, size_t len, const report_limits_t *lim, report_list_t *l,
	       char *why, size_t whylen)
{
	GMimeStream *s = NULL;
	GMimeParser *p = NULL;
	GMimeMessage *m = NULL;
	int r;

	pthread_once(&gmime_once, gmime_init);
	/* an mbox "From " line before the headers */
	size_t skip = 0;
	if (len > 5 && memcmp(buf, "From ", 5) == 0) {
		const uint8_t *nl = memchr(buf, '\n', len);
		skip = nl ? (size_t)(nl - buf) + 1 : len;
	}
	s = g_mime_stream_mem_new_with_buffer((const char *)buf + skip, len - skip);
	p = g_mime_parser_new_with_stream(s);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(p, NULL);
	if (m == NULL) {
		rd_why(why, whylen, "not a report (not a message)");
		r = MN_ESYNTAX;
		goto fail;
	}
	walk_t w = { lim, l, m, buf, len, 0, MN_OK, why, whylen };
	walk(&w, g_mime_message_get_mime_part(m), 0);
	if ((r = w.err) != MN_OK)
		goto fail;
	if (l->n == 0) {
		rd_why(why, whylen, "not a report (no aggregate, TLS or failure report in the message)");
		r = MN_ESYNTAX;
		goto fail;
	}
	r = MN_OK;
fail:
	if (m)
		g_object_unref(m);
	if (p)
		g_object_unref(p);
	if (s)
		g_object_unref(s);
	return r;
}
