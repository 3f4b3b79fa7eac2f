/* SPDX-License-Identifier: GPL-3.0-or-later */
/* policyload.c -- the policy load step of a one-file-edit reload, with and without the parse cache.
 * Usage: policyload POLICY FILE [RUNS]   (built by bench/policyload.sh against policy/libpolicy.a;
 * NO_COLD=1 skips the loads without the cache, for a profile of the others)
 * Loads POLICY once to fill a cache, then RUNS times: rewrites one byte of FILE
 * (same size), loads again with the cache, and a cold load without it; prints each
 * median and the heap the cache keeps per domain (malloc's in-use bytes). */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"

static double ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Rewrites the last byte of file: a newline or a space (same size, same meaning). */
static int edit(const char *file, int k)
{
	FILE *f = fopen(file, "r+");
	if (f == NULL)
		return -1;
	if (fseek(f, -1, SEEK_END) != 0) {
		fclose(f);
		return -1;
	}
	fputc(k % 2 ? '\n' : ' ', f);	/* the last byte: a newline or a space (same size, same meaning) */
	return fclose(f);
}

static size_t heap(void)
{
	return mallinfo2().uordblks;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int runs = argc > 3 ? atoi(argv[3]) : 5;
	bool skip_cold = getenv("NO_COLD") != NULL;	/* for a profile of the cached loads alone */
	if (runs < 1)
		return 2;
	/* wall time, and CPU time of every thread (steadier on a shared machine) */
	double *cached = calloc(runs, sizeof(double)), *cold = calloc(runs, sizeof(double));
	double *cached_cpu = calloc(runs, sizeof(double)), *cold_cpu = calloc(runs, sizeof(double));
	diag_t *d = NULL;
	policy_cache_t *c = NULL;
	policy_t *p = NULL;
	size_t h0 = heap();
	if (diag_new(&d) != MN_OK || policy_cache_new(&c) != MN_OK || policy_load_cached(argv[1], c, d, &p) != MN_OK) {
		diag_print(d, stderr);
		return 1;
	}
	size_t nd = p->ndomains;
	policy_free(p);
	size_t kept = heap() - h0;
	sleep(2);	/* the stat-based cache keeps only files settled a clear second before the read */
	for (int k = 0; k < runs; k++) {
		if (edit(argv[2], k) != 0)
			return 1;
		double t0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_PROCESS_CPUTIME_ID);
		if (policy_load_cached(argv[1], c, d, &p) != MN_OK)
			return 1;
		cached[k] = ms(CLOCK_MONOTONIC) - t0;
		cached_cpu[k] = ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
		size_t reused = policy_cache_reused(c);
		policy_free(p);
		if (!skip_cold) {
			t0 = ms(CLOCK_MONOTONIC);
			c0 = ms(CLOCK_PROCESS_CPUTIME_ID);
			if (policy_load(argv[1], d, &p) != MN_OK)
				return 1;
			cold[k] = ms(CLOCK_MONOTONIC) - t0;
			cold_cpu[k] = ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
			policy_free(p);
		}
		fprintf(stderr, "run %d: cached %.1f ms (cpu %.1f; %zu files reused), cold %.1f ms (cpu %.1f)\n", k + 1,
			cached[k], cached_cpu[k], reused, cold[k], cold_cpu[k]);
	}
	qsort(cached, runs, sizeof(double), cmp_d);
	qsort(cold, runs, sizeof(double), cmp_d);
	qsort(cached_cpu, runs, sizeof(double), cmp_d);
	qsort(cold_cpu, runs, sizeof(double), cmp_d);
	printf("%zu domains, one-file edit, medians of %d: load with the cache %.1f ms (cpu %.1f), "
	       "without %.1f ms (cpu %.1f); the cache keeps %zu bytes (%.0f per domain)\n",
	       nd, runs, cached[runs / 2], cached_cpu[runs / 2], cold[runs / 2], cold_cpu[runs / 2], kept,
	       (double)kept / (double)nd);
	policy_cache_free(c);
	diag_free(d);
	free(cached);
	free(cold);
	free(cached_cpu);
	free(cold_cpu);
	return 0;
}
