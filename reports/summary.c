/* SPDX-License-Identifier: GPL-3.0-or-later */
/* summary.c -- freeing a summary */
#include "config.h"

#include <stdlib.h>

#include "reports/summary.h"

void report_summary_free(report_summary_t *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		report_domain_summary_t *d = &s->v[i];
		for (size_t j = 0; j < d->nsources; j++) {
			free(d->sources[j].ptr);
			free(d->sources[j].dkim_domain);
			free(d->sources[j].dkim_selector);
			free(d->sources[j].spf_domain);
		}
		free(d->sources);
		free(d->days);
		free(d->domain);
	}
	free(s->v);
	free(s);
}
