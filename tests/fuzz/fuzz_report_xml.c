/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_report_xml.c -- fuzz target: report_read() from its XML (aggregate reports, gzip, zip) corpus */
#include "tests/fuzz/fuzz_reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reports(data, size);
	return 0;
}
