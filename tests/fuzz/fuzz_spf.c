/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_spf.c -- fuzz target: the SPF record parser and checker (policy/spf.c) */
#include "policy/spf.h"
#include "tests/fuzz/fuzz_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	if (text == NULL)
		return 0;
	mn_pos_t pos = { "fuzz.yaml", 1, 1 };
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK) {
		free(text);
		return 0;
	}
	spf_info_t info;
	int r = spf_record_check(text, &pos, d, &info);
	fuzz_check_result(r, d);
	spf_record_t *rec = NULL;
	int pr = spf_record_parse(text, &rec);
	/* a record that parses has no grammar error, and the other way round */
	if ((pr == 0) != (rec != NULL))
		abort();
	if (pr == 0 && r != 0)
		abort();
	spf_record_free(rec);
	diag_free(d);
	free(text);
	return 0;
}
