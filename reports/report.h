/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report.h -- what a receiver reported: the model the readers fill and the store keeps */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One report, whatever its format: a DMARC aggregate report (RFC 7489 appendix
 * C, RFC 9990), a failure report (ARF, RFC 6591/9991) or an SMTP TLS report
 * (RFC 8460).  Every string is NUL-terminated UTF-8 owned by the report (never
 * NULL where a comment says "never NULL"; "" when the report had nothing),
 * freed by report_free().  Domain names are lower-case without the final dot.
 * Times are unix seconds, UTC.  Counts are 64-bit and never negative (a reader
 * refuses a report with a negative count or one that does not fit 64 bits).
 */

typedef enum report_kind {
	REPORT_DMARC = 0,	/* aggregate */
	REPORT_TLSRPT,
	REPORT_FAILURE,
} report_kind_t;

/* "dmarc", "tlsrpt", "failure" (the KIND column of `mailns reports list`). */
const char *report_kind_name(report_kind_t k);

typedef enum report_disp {
	REPORT_DISP_NONE = 0,
	REPORT_DISP_QUARANTINE,
	REPORT_DISP_REJECT,
} report_disp_t;

/* One authentication result of a record (<auth_results>: <dkim> or <spf>). */
typedef struct report_auth {
	bool dkim;		/* true: <dkim>, false: <spf> */
	char *domain;		/* never NULL */
	char *selector;		/* DKIM selector, or ""; for SPF: the scope ("mfrom", "helo") or "" */
	char *result;		/* lower-case: "pass", "fail", "softfail", "neutral", "none",
				 * "temperror", "permerror", "policy" ... never NULL */
} report_auth_t;

/* One <record> of an aggregate report. */
typedef struct report_row {
	char source[46];	/* <source_ip>, canonical text (inet_ntop) */
	uint64_t count;
	report_disp_t disposition;	/* <policy_evaluated><disposition> */
	bool dkim_aligned;	/* <policy_evaluated><dkim> is pass */
	bool spf_aligned;	/* <policy_evaluated><spf> is pass */
	char *header_from;	/* <identifiers><header_from>, never NULL */
	char *envelope_from;	/* <identifiers><envelope_from>, or "" */
	char *envelope_to;	/* <identifiers><envelope_to>, or "" */
	char *reason;		/* <policy_evaluated><reason><type>s joined by ",", or "" */
	report_auth_t *auth;
	size_t nauth;
} report_row_t;

/* One policy of a TLS report (RFC 8460 §4.4 "policies"). */
typedef struct report_tls_failure {
	char *result_type;	/* "starttls-not-supported", "certificate-expired", ... */
	char sending_mta_ip[46];	/* or "" */
	char *receiving_mx;	/* receiving-mx-hostname, or "" */
	uint64_t sessions;	/* failed-session-count */
} report_tls_failure_t;

typedef struct report_tls {
	char *policy_type;	/* "sts", "tlsa", "no-policy-found" */
	char *policy_domain;	/* never NULL */
	uint64_t successful;	/* total-successful-session-count */
	uint64_t failed;	/* total-failure-session-count */
	report_tls_failure_t *failures;
	size_t nfailures;
} report_tls_t;

/* A failure report (ARF feedback-type auth-failure): headers kept, body dropped. */
typedef struct report_failure {
	char source[46];	/* Source-IP, or "" */
	char *auth_failure;	/* Auth-Failure: "dkim", "spf", "dmarc", "bodyhash", ... or "" */
	char *original_mail_from;	/* or "" */
	char *original_rcpt_to;	/* or "" */
	char *auth_results;	/* Authentication-Results of the report, or "" */
	char *dkim_domain;	/* DKIM-Domain, or "" */
	char *dkim_selector;	/* DKIM-Selector, or "" */
	char *headers;		/* the reported message's header block (text/rfc822-headers,
				 * or the header of message/rfc822), never its body; or "" */
} report_failure_t;

typedef struct report {
	report_kind_t kind;
	char *org;		/* <org_name>, organization-name, or the reporter's domain; never NULL */
	char *email;		/* <email>, contact-info, or "" */
	char *report_id;	/* <report_id>, report-id; failure reports: the report
				 * message's Message-ID, else a hex SHA-256 of its bytes; never NULL or "" */
	char *domain;		/* <policy_published><domain>, the first policy-domain,
				 * Reported-Domain; never NULL */
	int64_t begin, end;	/* <date_range>, date-range, Arrival-Date (begin = end) */

	/* REPORT_DMARC: the policy the receiver saw, as written there ("" when absent) */
	struct {
		char adkim[8], aspf[8], p[16], sp[16], np[16], fo[16];
		char testing[8];	/* RFC 9990 <testing>; "" when absent */
	} published;
	report_row_t *rows;
	size_t nrows;

	/* REPORT_TLSRPT */
	report_tls_t *tls;
	size_t ntls;

	/* REPORT_FAILURE */
	report_failure_t *failure;	/* NULL for the other kinds */

	/*
	 * What a lenient reader repaired to read the report ("unescaped '<' in
	 * <email> at line 4 replaced", "2 bytes after the gzip stream ignored", ...),
	 * one line each; n may be 0.
	 */
	char **notes;
	size_t nnotes;

	/*
	 * The report itself as it was parsed (the XML or JSON, decompressed; for a
	 * failure report, the ARF message with the reported body removed), so that
	 * a later version can parse it again.  Owned.
	 */
	uint8_t *raw;
	size_t rawlen;
} report_t;

void report_free(report_t *r);	/* NULL is a no-op */

/* Totals of a report: messages and DMARC passes (dkim or spf aligned); for a TLS
 * report, sessions (successful + failed) and successful sessions. */
void report_totals(const report_t *r, uint64_t *messages, uint64_t *pass);

/* ---- reading ------------------------------------------------------------ */

/* Limits a reader holds while it decompresses and parses. */
typedef struct report_limits {
	size_t max_size;	/* decompressed bytes of one report (default 64 MiB) */
	unsigned int max_ratio;	/* decompressed / compressed size (default 1000) */
} report_limits_t;
#define REPORT_LIMITS_DEFAULT { 64u << 20, 1000 }

/* The reports found in one input; free with report_list_free(NULL is a no-op). */
typedef struct report_list {
	report_t **v;
	size_t n;
} report_list_t;
void report_list_free(report_list_t *l);

/*
 * Reads every report in buf[0..len): a whole e-mail message (any MIME layout
 * receivers use: the report as an attachment or the body; base64 or
 * quoted-printable; application/gzip, application/zip,
 * application/octet-stream, text/xml, application/xml,
 * application/tlsrpt+gzip, application/tlsrpt+json, message/feedback-report
 * for failure reports), or a bare report: aggregate XML, gzip or zip of it,
 * TLS-RPT JSON or its gzip.  name (may be NULL) is the file name, a hint only.
 *
 * Entities are never expanded, DTDs never loaded, nothing is fetched; the
 * decompressed size and ratio are held to lim (NULL: REPORT_LIMITS_DEFAULT)
 * while decompressing.
 *
 * Returns MN_OK with *out (n >= 1), or a negative MN_E* with a one-line reason
 * in why[0..whylen) that names where it is when it can ("not a report (no
 * aggregate, TLS or failure report in the message)", "XML error at line 12:
 * ...", "too large (over 64 MiB decompressed)", "date range ends before it
 * begins", "negative count at line 30").  Nothing is returned for an input
 * with a bad report in it: each report is whole or absent.
 */
int report_read(const uint8_t *buf, size_t len, const char *name, const report_limits_t *lim,
		report_list_t **out, char *why, size_t whylen);
