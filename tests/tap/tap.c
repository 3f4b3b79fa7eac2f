/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tap.c -- a small TAP producer for the unit tests */
#include "tests/tap/tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int planned = -1;
static int count;
static int failed;

void tap_plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static bool report(bool cond, const char *fmt, va_list ap)
{
	count++;
	printf("%s %d - ", cond ? "ok" : "not ok", count);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failed++;
	return cond;
}

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(cond, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool r = report(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		tap_diag("got %lld, want %lld", got, want);
	return r;
}

bool tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
	bool eq = (got == NULL && want == NULL) ||
		  (got != NULL && want != NULL && strcmp(got, want) == 0);
	va_list ap;
	va_start(ap, fmt);
	report(eq, fmt, ap);
	va_end(ap);
	if (!eq)
		tap_diag("got  '%s'\n     want '%s'", got ? got : "(null)", want ? want : "(null)");
	return eq;
}

static void hexdump(const char *label, const unsigned char *p, size_t n)
{
	printf("# %s (%zu):", label, n);
	for (size_t i = 0; i < n; i++)
		printf("%s%02x", i % 32 == 0 ? "\n#   " : " ", p[i]);
	printf("\n");
}

bool tap_is_mem(const void *got, size_t gotlen, const void *want, size_t wantlen, const char *fmt, ...)
{
	bool eq = gotlen == wantlen && (gotlen == 0 || memcmp(got, want, gotlen) == 0);
	va_list ap;
	va_start(ap, fmt);
	report(eq, fmt, ap);
	va_end(ap);
	if (!eq) {
		hexdump("got", got, gotlen);
		hexdump("want", want, wantlen);
	}
	return eq;
}

void tap_diag(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one "# " per line */
	char *line = buf, *nl;
	do {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		printf("# %s\n", line);
		if (nl)
			line = nl + 1;
	} while (nl);
	fflush(stdout);
}

void tap_skip(const char *why)
{
	count++;
	printf("ok %d # SKIP %s\n", count, why);
	fflush(stdout);
}

void tap_bail(const char *fmt, ...)
{
	va_list ap;
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

int tap_done(void)
{
	if (planned < 0)
		printf("1..%d\n", count);
	else if (planned != count)
		printf("# planned %d tests but ran %d\n", planned, count);
	fflush(stdout);
	return (failed == 0 && (planned < 0 || planned == count)) ? 0 : 1;
}

struct sockaddr_storage tap_addr(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		tap_bail("bad address %s", text);
	return ss;
}
