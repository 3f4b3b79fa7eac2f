/* SPDX-License-Identifier: GPL-3.0-or-later */
/* buf.c -- a growing string for building record and file texts */
#include "policy/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mn_buf_addn(mn_buf_t *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void mn_buf_add(mn_buf_t *b, const char *s)
{
	mn_buf_addn(b, s, strlen(s));
}

void mn_buf_addf(mn_buf_t *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		mn_buf_add(b, small);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (big == NULL) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	mn_buf_add(b, big);
	free(big);
}

char *mn_buf_take(mn_buf_t *b)
{
	if (b->oom) {
		mn_buf_free(b);
		return NULL;
	}
	if (b->s == NULL)
		mn_buf_add(b, "");
	char *s = b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void mn_buf_free(mn_buf_t *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}
