/* SPDX-License-Identifier: GPL-3.0-or-later */
/* read_stub.c -- TEMPORARY stand-in for report_read until branch reports-read lands: delete on merge */
#include "config.h"

#include <stdio.h>

#include "policy/mn.h"
#include "reports/report.h"

int report_read(const uint8_t *buf, size_t len, const char *name, const report_limits_t *lim,
		report_list_t **out, char *why, size_t whylen)
{
	(void)buf, (void)len, (void)name, (void)lim, (void)out;
	snprintf(why, whylen, "not a report (this build has no report reader yet)");
	return MN_ESYNTAX;
}
