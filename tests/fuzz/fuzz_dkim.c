/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_dkim.c -- fuzz target: DKIM tag lists and key records (policy/dkim_rec.c) */
#include "policy/dkim_rec.h"
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
	dkim_key_info_t info;
	fuzz_check_result(dkim_key_record_check(text, &pos, d, &info), d);
	diag_free(d);

	if (diag_new(&d) != MN_OK) {
		free(text);
		return 0;
	}
	dkim_tags_t *tags = NULL;
	int r = dkim_tags_parse(text, "DKIM", &pos, d, &tags);
	fuzz_check_result(r, d);
	if ((r == 0) != (tags != NULL))
		abort();
	size_t idx;
	(void)dkim_tags_get(tags, "p", &idx);
	dkim_tags_free(tags);
	diag_free(d);
	free(text);
	return 0;
}
