/* SPDX-License-Identifier: GPL-3.0-or-later */
/* buf.h -- a growing string for building record and file texts */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * A growing string.  After any allocation failure oom is set and further
 * appends do nothing; rec_buf_take() then returns NULL.  Zero-initialize.
 */
typedef struct rec_buf {
	char *s;
	size_t len, cap;
	bool oom;
} rec_buf_t;

void rec_buf_add(rec_buf_t *b, const char *s);
void rec_buf_addf(rec_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string (malloc'd, caller frees), or NULL after an allocation failure. */
char *rec_buf_take(rec_buf_t *b);
void rec_buf_free(rec_buf_t *b);
