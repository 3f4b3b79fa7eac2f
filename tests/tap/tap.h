/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tap.h -- a small TAP producer for the unit tests (read by automake's tap-driver) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

void tap_plan(int n);			/* optional: "1..n" first; otherwise tap_done() prints it */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool tap_is_int(long long got, long long want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool tap_is_str(const char *got, const char *want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool tap_is_mem(const void *got, size_t gotlen, const void *want, size_t wantlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip(const char *why);		/* one skipped test point */
void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Prints the plan if none was given; returns the exit status (0 when all passed). */
int tap_done(void);
/* An IPv4 or IPv6 address in text as a socket address (port 0); bails out on anything else. */
struct sockaddr_storage tap_addr(const char *text);

#define ok(...) tap_ok(__VA_ARGS__)
#define is_int(...) tap_is_int(__VA_ARGS__)
#define is_str(...) tap_is_str(__VA_ARGS__)
