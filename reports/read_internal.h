/* SPDX-License-Identifier: GPL-3.0-or-later */
/* read_internal.h -- what the report readers (read.c, unpack.c, aggregate.c, tlsrpt.c, mime.c, failure.c) share */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reports/report.h"

/*
 * Internal to libreports' readers; report_read() in report.h is the public
 * entry.  Every function here that can fail returns MN_OK or a negative MN_E*
 * and then writes a one-line reason into why[0..whylen) (never NULL, whylen
 * >= 1); out-parameters are written only on success.
 */

/* Notes a lenient reader collects before the report they belong to exists. */
typedef struct rd_notes {
	char **v;
	size_t n;
} rd_notes_t;

/* Appends one formatted line; MN_ENOMEM on failure. */
int rd_note(rd_notes_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Moves every note of from to the end of r->notes (from is emptied). */
int rd_notes_move(rd_notes_t *from, report_t *r);
void rd_notes_clear(rd_notes_t *n);

/* Writes the reason into why. */
void rd_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* *out is a new, zeroed report of kind k whose strings are all "" (so never NULL);
 * the caller frees it with report_free.  MN_EINVAL, MN_ENOMEM. */
int rd_report_new(report_kind_t k, report_t **out);
/* A copy of s[0..len) with a NUL, or NULL on ENOMEM. */
char *rd_strndup(const char *s, size_t len);
/* s trimmed of ASCII white space into a fresh string; lower-cased when lower. */
char *rd_strtrim(const char *s, bool lower);
/* Replaces *dst (freed) by a copy of src trimmed (and lowered); MN_ENOMEM. */
int rd_strset(char **dst, const char *src, bool lower);
/* A domain name as the model keeps it: trimmed, lower-case, no final dot. */
int rd_domainset(char **dst, const char *src);
/* Is the report's domain a DNS name (mn_name_norm)?  If not, the reason is in why. */
int rd_domain_check(const char *domain, const char *where, char *why, size_t whylen);
/*
 * An IPv4 or IPv6 address (surrounding white space allowed) in canonical
 * inet_ntop text into out[46]; MN_ESYNTAX when it is not one.
 */
int rd_ip_canon(const char *s, char out[46]);
/*
 * A count: decimal digits (surrounding white space allowed) that fit 63 bits
 * (the store keeps them as SQLite integers).  MN_ERANGE for a negative number
 * or one too large, MN_ESYNTAX for anything else.
 */
int rd_count_parse(const char *s, uint64_t *out);
/* Checks begin/end: both within 1970..2100 and end >= begin (the reason in why). */
int rd_range_check(int64_t begin, int64_t end, char *why, size_t whylen);
/* The hex SHA-256 of data (64 characters) into *out, freed by the caller. */
int rd_sha256_hex(const void *data, size_t len, char **out);
/* Appends r to l (taking it); MN_ENOMEM leaves r to the caller. */
int rd_list_add(report_list_t *l, report_t *r);

/* ---- unpack.c: gzip and zip ------------------------------------------- */

bool rd_is_gzip(const uint8_t *buf, size_t len);
bool rd_is_zip(const uint8_t *buf, size_t len);
/*
 * Decompresses a gzip stream or reads the report member of a zip archive
 * into *out (malloc'd, NUL-terminated, *outlen without the NUL), holding lim
 * while it decompresses.  Repairs (bytes after the gzip stream) go to notes.
 */
int rd_unpack(const uint8_t *buf, size_t len, const report_limits_t *lim, uint8_t **out,
	      size_t *outlen, rd_notes_t *notes, char *why, size_t whylen);

/* ---- the report formats ------------------------------------------------- */

#define RD_NOTES_MAX 20		/* notes of one kind before "... and N more" */

/*
 * xml_repair.c: the repaired copy of an XML document that does not parse:
 * NUL bytes dropped, anything before the first '<' and after the root
 * element's end cut, invalid UTF-8 replaced by '?', a '<' or '&' in text that
 * starts no markup or reference escaped; each repair noted.  *out (malloc'd,
 * NUL-terminated, caller frees) and *outlen written on MN_OK only; MN_ENOMEM.
 */
int rd_xml_repair(const char *s, size_t len, char **out, size_t *outlen, rd_notes_t *notes);

/*
 * aggregate.c: one DMARC aggregate report from XML.  The notes (from
 * unpacking) go into the report, which takes a copy of xml as its raw bytes.
 */
int rd_aggregate(const uint8_t *xml, size_t len, rd_notes_t *notes, report_t **out, char *why,
		 size_t whylen);
/* tlsrpt.c: one RFC 8460 report from JSON, the same way. */
int rd_tlsrpt(const uint8_t *json, size_t len, rd_notes_t *notes, report_t **out, char *why,
	      size_t whylen);

/* failure.c: the fields of a message/feedback-report part (RFC 5965, 6591). */
typedef struct rd_arf {
	const char *feedback;	/* the part's text: "Name: value" lines */
	size_t feedbacklen;
	const char *headers;	/* the reported message's header block, or NULL */
	size_t headerslen;
	const char *message_id;	/* the report message's Message-ID, or NULL */
	const char *from;	/* the report message's From address, or NULL */
	int64_t date;		/* the report message's Date, or -1 */
	const uint8_t *input;	/* the whole input, for the SHA-256 without a Message-ID */
	size_t inputlen;
	const uint8_t *raw;	/* the report message with the reported body removed */
	size_t rawlen;
} rd_arf_t;
int rd_failure(const rd_arf_t *arf, report_t **out, char *why, size_t whylen);

/*
 * read.c: a bare report (XML, JSON, or a gzip or zip of either); name is a
 * hint for the error message only.
 */
int rd_bare(const uint8_t *buf, size_t len, const report_limits_t *lim, report_t **out, char *why,
	    size_t whylen);

/*
 * mime.c: every report in an e-mail message, appended to l.  MN_ESYNTAX with
 * "not a report (...)" when the message holds none.
 */
int rd_message(const uint8_t *buf, size_t len, const report_limits_t *lim, report_list_t *l,
	       char *why, size_t whylen);
