/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report.c -- the report model: names, totals, freeing */
#include "config.h"

#include <stdlib.h>

#include "reports/report.h"

const char *report_kind_name(report_kind_t k)
{
	switch (k) {
	case REPORT_DMARC: return "dmarc";
	case REPORT_TLSRPT: return "tlsrpt";
	case REPORT_FAILURE: return "failure";
	}
	return "unknown";
}

void report_totals(const report_t *r, uint64_t *messages, uint64_t *pass)
{
	uint64_t m = 0, p = 0;

	if (r->kind == REPORT_DMARC) {
		for (size_t i = 0; i < r->nrows; i++) {
			m += r->rows[i].count;
			if (r->rows[i].dkim_aligned || r->rows[i].spf_aligned)
				p += r->rows[i].count;
		}
	} else if (r->kind == REPORT_TLSRPT) {
		for (size_t i = 0; i < r->ntls; i++) {
			m += r->tls[i].successful + r->tls[i].failed;
			p += r->tls[i].successful;
		}
	} else {
		m = 1;
	}
	*messages = m;
	*pass = p;
}

static void row_free(report_row_t *row)
{
	for (size_t i = 0; i < row->nauth; i++) {
		free(row->auth[i].domain);
		free(row->auth[i].selector);
		free(row->auth[i].result);
	}
	free(row->auth);
	free(row->header_from);
	free(row->envelope_from);
	free(row->envelope_to);
	free(row->reason);
}

static void tls_free(report_tls_t *t)
{
	for (size_t i = 0; i < t->nfailures; i++) {
		free(t->failures[i].result_type);
		free(t->failures[i].receiving_mx);
	}
	free(t->failures);
	free(t->policy_type);
	free(t->policy_domain);
}

static void failure_free(report_failure_t *f)
{
	if (f == NULL)
		return;
	free(f->auth_failure);
	free(f->original_mail_from);
	free(f->original_rcpt_to);
	free(f->auth_results);
	free(f->dkim_domain);
	free(f->dkim_selector);
	free(f->headers);
	free(f);
}

void report_free(report_t *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nrows; i++)
		row_free(&r->rows[i]);
	free(r->rows);
	for (size_t i = 0; i < r->ntls; i++)
		tls_free(&r->tls[i]);
	free(r->tls);
	failure_free(r->failure);
	for (size_t i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->notes);
	free(r->org);
	free(r->email);
	free(r->report_id);
	free(r->domain);
	free(r->raw);
	free(r);
}

void report_list_free(report_list_t *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		report_free(l->v[i]);
	free(l->v);
	free(l);
}
