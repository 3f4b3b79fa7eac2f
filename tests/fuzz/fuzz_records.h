/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_records.h -- what the SPF, DKIM and DMARC record fuzz targets share */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/diag.h"

/* The input as a NUL-terminated string (NULL when it contains a NUL: records are text). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	if (memchr(data, 0, size) != NULL)
		return NULL;
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Invariants of every checker: MN_OK or MN_ESYNTAX (then an error is in diag). */
static inline void fuzz_check_result(int r, const diag_t *d)
{
	if (r != 0 && r != -1002)	/* MN_OK, MN_ESYNTAX */
		abort();
	if (r == -1002 && diag_errors(d) == 0)
		abort();
	for (size_t i = 0; i < diag_count(d); i++) {
		const diag_item_t *it = diag_get(d, i);
		if (it == NULL || it->msg == NULL || it->msg[0] == '\0')
			abort();
	}
}
