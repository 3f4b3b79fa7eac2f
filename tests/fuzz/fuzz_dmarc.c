/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_dmarc.c -- fuzz target: DMARC records and report URIs (policy/dmarc.c) */
#include "policy/dmarc.h"
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
	dmarc_info_t info;
	memset(&info, 0, sizeof(info));
	int r = dmarc_record_check(text, &pos, d, &info);
	fuzz_check_result(r, d);
	for (size_t i = 0; r == 0 && i < info.ndests; i++) {
		if (info.dests[i].uri == NULL)
			abort();
	}
	dmarc_info_clear(&info);
	diag_free(d);

	/* the same text as one rua URI */
	if (diag_new(&d) != MN_OK) {
		free(text);
		return 0;
	}
	dmarc_dest_t dest;
	memset(&dest, 0, sizeof(dest));
	r = dmarc_uri_check(text, "rua", &pos, d, &dest);
	if (r != 0 && r != -1002)
		abort();
	if (r == 0)
		dmarc_dest_clear(&dest);
	diag_free(d);
	free(text);
	return 0;
}
