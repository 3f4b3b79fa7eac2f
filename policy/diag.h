/* SPDX-License-Identifier: GPL-3.0-or-later */
/* diag.h -- positions and diagnostics: FILE:LINE:COL: error|warning: message */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * A position in a policy file, 1-based (libyaml marks are 0-based: add 1).
 * file points to a string owned by the policy_t (or static); file == NULL
 * means "no position" (and, in the policy model, "value not set").
 */
typedef struct mn_pos {
	const char *file;
	uint32_t line;
	uint32_t col;
} mn_pos_t;

typedef enum { DIAG_ERROR = 0, DIAG_WARNING = 1 } diag_level_t;

typedef struct diag_item {
	diag_level_t level;
	char *file;		/* copied; NULL when no position */
	uint32_t line, col;
	char *msg;
} diag_item_t;

typedef struct diag diag_t;

/* *out is a new empty list (diag_free); MN_EINVAL, MN_ENOMEM. */
int diag_new(diag_t **out);
void diag_free(diag_t *d);	/* NULL is a no-op */
/* Adds one message; copies everything.  pos may be NULL. */
void diag_add(diag_t *d, diag_level_t level, const mn_pos_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same from a va_list, the text after "PREFIX: " when prefix is not NULL. */
void diag_addv(diag_t *d, diag_level_t level, const mn_pos_t *pos, const char *prefix,
	       const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
#define diag_error(d, pos, ...) diag_add((d), DIAG_ERROR, (pos), __VA_ARGS__)
#define diag_warn(d, pos, ...) diag_add((d), DIAG_WARNING, (pos), __VA_ARGS__)
size_t diag_count(const diag_t *d);
size_t diag_errors(const diag_t *d);
size_t diag_warnings(const diag_t *d);
const diag_item_t *diag_get(const diag_t *d, size_t i);
/* Stable sort by file name, line, column (insertion order among equals). */
void diag_sort(diag_t *d);
/* "FILE:LINE:COL: error: msg\n" each (or "error: msg" without a position). */
void diag_print(const diag_t *d, FILE *f);
/* One line, "; "-joined, for logs: "a.yaml:3:5: unknown key 'tll'; ..." (malloc'd). */
char *diag_join(const diag_t *d, size_t max_items);
