/* SPDX-License-Identifier: GPL-3.0-or-later */
/* diag.c -- a list of diagnostics with positions, sorted and printed as FILE:LINE:COL */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy/diag.h"
#include "policy/mn.h"

struct diag {
	diag_item_t *v;
	size_t n, cap;
	size_t errors, warnings;
	bool oom;		/* a message could not be stored */
};

int diag_new(diag_t **out)
{
	if (out == NULL)
		return MN_EINVAL;
	diag_t *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return MN_ENOMEM;
	*out = d;
	return MN_OK;
}

void diag_free(diag_t *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	free(d);
}

void diag_add(diag_t *d, diag_level_t level, const mn_pos_t *pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_addv(d, level, pos, NULL, fmt, ap);
	va_end(ap);
}

void diag_addv(diag_t *d, diag_level_t level, const mn_pos_t *pos, const char *prefix,
	       const char *fmt, va_list ap)
{
	if (d == NULL)
		return;
	/* Count first: even when the text cannot be stored, the error is not lost. */
	if (level == DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
	if (d->n == d->cap) {
		size_t ncap = d->cap == 0 ? 16 : d->cap * 2;
		diag_item_t *nv = realloc(d->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			d->oom = true;
			return;
		}
		d->v = nv;
		d->cap = ncap;
	}
	char *text = NULL, *msg = NULL;
	if (vasprintf(&text, fmt, ap) < 0) {
		d->oom = true;
		return;
	}
	if (prefix == NULL) {
		msg = text;
	} else {
		int r = asprintf(&msg, "%s: %s", prefix, text);
		free(text);
		if (r < 0) {
			d->oom = true;
			return;
		}
	}
	diag_item_t *it = &d->v[d->n];
	it->level = level;
	it->msg = msg;
	it->file = NULL;
	it->line = it->col = 0;
	if (pos != NULL && pos->file != NULL) {
		it->file = mn_strdup(pos->file);
		if (it->file == NULL) {
			free(msg);
			d->oom = true;
			return;
		}
		it->line = pos->line;
		it->col = pos->col;
	}
	d->n++;
}

size_t diag_count(const diag_t *d)
{
	return d != NULL ? d->n : 0;
}

size_t diag_errors(const diag_t *d)
{
	return d != NULL ? d->errors : 0;
}

size_t diag_warnings(const diag_t *d)
{
	return d != NULL ? d->warnings : 0;
}

const diag_item_t *diag_get(const diag_t *d, size_t i)
{
	return d != NULL && i < d->n ? &d->v[i] : NULL;
}

static int item_cmp(const diag_item_t *a, const diag_item_t *b)
{
	/* Messages without a position come first (they are about the whole run). */
	if ((a->file == NULL) != (b->file == NULL))
		return a->file == NULL ? -1 : 1;
	if (a->file != NULL) {
		int c = strcmp(a->file, b->file);
		if (c != 0)
			return c;
	}
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

void diag_sort(diag_t *d)
{
	if (d == NULL || d->n < 2)
		return;
	/* Stable merge sort (insertion order among equals). */
	diag_item_t *tmp = malloc(d->n * sizeof(*tmp));
	if (tmp == NULL) {
		/* insertion sort fallback: stable, no memory */
		for (size_t i = 1; i < d->n; i++) {
			diag_item_t x = d->v[i];
			size_t j = i;
			while (j > 0 && item_cmp(&d->v[j - 1], &x) > 0) {
				d->v[j] = d->v[j - 1];
				j--;
			}
			d->v[j] = x;
		}
		return;
	}
	for (size_t width = 1; width < d->n; width *= 2) {
		for (size_t lo = 0; lo < d->n; lo += 2 * width) {
			size_t mid = lo + width < d->n ? lo + width : d->n;
			size_t hi = lo + 2 * width < d->n ? lo + 2 * width : d->n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = item_cmp(&d->v[j], &d->v[i]) < 0 ? d->v[j++] : d->v[i++];
			while (i < mid)
				tmp[k++] = d->v[i++];
			while (j < hi)
				tmp[k++] = d->v[j++];
		}
		memcpy(d->v, tmp, d->n * sizeof(*tmp));
	}
	free(tmp);
}

static const char *level_name(diag_level_t l)
{
	return l == DIAG_ERROR ? "error" : "warning";
}

void diag_print(const diag_t *d, FILE *f)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		const diag_item_t *it = &d->v[i];
		if (it->file != NULL)
			fprintf(f, "%s:%u:%u: %s: %s\n", it->file, it->line, it->col,
				level_name(it->level), it->msg);
		else
			fprintf(f, "%s: %s\n", level_name(it->level), it->msg);
	}
	if (d->oom)
		fprintf(f, "error: out of memory: some messages were lost\n");
}

char *diag_join(const diag_t *d, size_t max_items)
{
	size_t n = d != NULL ? d->n : 0;
	size_t shown = max_items != 0 && n > max_items ? max_items : n;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < shown; i++) {
		const diag_item_t *it = &d->v[i];
		if (i > 0)
			fputs("; ", f);
		if (it->file != NULL)
			fprintf(f, "%s:%u:%u: ", it->file, it->line, it->col);
		fprintf(f, "%s: %s", level_name(it->level), it->msg);
	}
	if (shown < n)
		fprintf(f, "; and %zu more", n - shown);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
