/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_reports.h -- what the report reader fuzz targets (XML, JSON, MIME) share: one read, every invariant checked */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report.h"

/*
 * Reads data with report_read() twice: with the default limits and with a
 * 64 KiB cap and a ratio of 10 (so the caps are exercised on small
 * inputs).  Checks the contract: MN_OK gives n >= 1 reports whose strings
 * are non-NULL, report_id non-empty, 1970 <= begin <= end < 2101, counts
 * that add up within 63 bits, raw kept; a failure leaves out untouched and
 * says why; the only errors for a hostile input are MN_ESYNTAX, MN_ERANGE
 * (and MN_ENOMEM).  abort() on any breach.
 */
static inline void fuzz_report_check(const report_t *r)
{
	if (r == NULL || r->org == NULL || r->email == NULL || r->report_id == NULL ||
	    r->report_id[0] == '\0' || r->domain == NULL || r->raw == NULL || r->rawlen == 0)
		abort();
	if (r->begin < 0 || r->end < r->begin || r->end >= 4133980800LL)
		abort();
	if (r->kind != REPORT_DMARC && r->kind != REPORT_TLSRPT && r->kind != REPORT_FAILURE)
		abort();
	uint64_t sum = 0;
	for (size_t i = 0; i < r->nrows; i++) {
		const report_row_t *w = &r->rows[i];
		if (w->header_from == NULL || w->envelope_from == NULL || w->envelope_to == NULL ||
		    w->reason == NULL || memchr(w->source, '\0', sizeof(w->source)) == NULL ||
		    w->source[0] == '\0')
			abort();
		if (w->count > (uint64_t)INT64_MAX - sum)
			abort();
		sum += w->count;
		for (size_t k = 0; k < w->nauth; k++)
			if (!w->auth[k].domain || !w->auth[k].selector || !w->auth[k].result)
				abort();
	}
	for (size_t i = 0; i < r->ntls; i++) {
		const report_tls_t *t = &r->tls[i];
		if (t->policy_type == NULL || t->policy_domain == NULL)
			abort();
		if (t->successful > (uint64_t)INT64_MAX - sum)
			abort();
		sum += t->successful;
		if (t->failed > (uint64_t)INT64_MAX - sum)
			abort();
		sum += t->failed;
		for (size_t k = 0; k < t->nfailures; k++)
			if (!t->failures[k].result_type || !t->failures[k].receiving_mx ||
			    memchr(t->failures[k].sending_mta_ip, '\0', 46) == NULL)
				abort();
	}
	if ((r->kind == REPORT_FAILURE) != (r->failure != NULL))
		abort();
	if (r->failure != NULL) {
		const report_failure_t *f = r->failure;
		if (!f->auth_failure || !f->original_mail_from || !f->original_rcpt_to || !f->auth_results ||
		    !f->dkim_domain || !f->dkim_selector || !f->headers)
			abort();
	}
	for (size_t i = 0; i < r->nnotes; i++)
		if (r->notes[i] == NULL || r->notes[i][0] == '\0')
			abort();
	uint64_t m, p;
	report_totals(r, &m, &p);
	if (p > m)
		abort();
}

static inline void fuzz_report_read(const uint8_t *data, size_t size, const report_limits_t *lim)
{
	report_list_t *l = (report_list_t *)(uintptr_t)1;
	char why[256];
	why[0] = '\0';
	int ret = report_read(data, size, "fuzz", lim, &l, why, sizeof(why));
	if (ret == 0) {
		if (l == NULL || l == (report_list_t *)(uintptr_t)1 || l->n == 0)
			abort();
		for (size_t i = 0; i < l->n; i++)
			fuzz_report_check(l->v[i]);
		report_list_free(l);
		return;
	}
	if (l != (report_list_t *)(uintptr_t)1 || why[0] == '\0')
		abort();
	if (ret != -1002 && ret != -1003 && ret != -12)	/* MN_ESYNTAX, MN_ERANGE, MN_ENOMEM */
		abort();
}

static inline void fuzz_reports(const uint8_t *data, size_t size)
{
	static const report_limits_t small = { 64u << 10, 10 };
	fuzz_report_read(data, size, NULL);
	fuzz_report_read(data, size, &small);
}
