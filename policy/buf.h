/* SPDX-License-Identifier: GPL-3.0-or-later */
/* buf.h -- a growing string for building record and file texts */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * A growing string.  After any allocation failure oom is set and further
 * appends do nothing; mn_buf_take() then returns NULL.  Zero-initialize.
 */
typedef struct mn_buf {
	char *s;
	size_t len, cap;
	bool oom;
} mn_buf_t;

void mn_buf_add(mn_buf_t *b, const char *s);
/* n bytes of s (NUL bytes included); the string stays NUL-terminated after them. */
void mn_buf_addn(mn_buf_t *b, const char *s, size_t n);
void mn_buf_addf(mn_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string (malloc'd, caller frees), or NULL after an allocation failure. */
char *mn_buf_take(mn_buf_t *b);
void mn_buf_free(mn_buf_t *b);
