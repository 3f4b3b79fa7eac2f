/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_report_mime.c -- fuzz target: report_read() from its e-mail messages (MIME, ARF) corpus */
#include "tests/fuzz/fuzz_reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reports(data, size);
	return 0;
}
