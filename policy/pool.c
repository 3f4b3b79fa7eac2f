/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pool.c -- one worker pool for the parse, compile and key-generation loops */
#include "policy/pool.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

unsigned mn_cpus(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
							      : sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

typedef struct pool {
	void (*fn)(void *arg, size_t k);
	void *arg;
	size_t n;
	size_t next;			/* the next item to take (atomic) */
} pool_t;

static void *pool_main(void *arg)
{
	pool_t *pl = arg;
	for (;;) {
		size_t k = __atomic_fetch_add(&pl->next, 1, __ATOMIC_RELAXED);
		if (k >= pl->n)
			break;
		pl->fn(pl->arg, k);
	}
	return NULL;
}

void mn_pool_run(size_t n, unsigned threads, void (*fn)(void *arg, size_t k), void *arg)
{
	pool_t pl = { .fn = fn, .arg = arg, .n = n };
	size_t t = threads != 0 ? threads : mn_cpus();
	if (t > MN_POOL_MAX)
		t = MN_POOL_MAX;
	if (t > n)
		t = n;
	pthread_t tid[MN_POOL_MAX];
	size_t started = 0;
	for (size_t k = 1; k < t; k++) {
		if (pthread_create(&tid[started], NULL, pool_main, &pl) != 0)
			break;	/* fewer threads: the others take the rest */
		started++;
	}
	pool_main(&pl);
	for (size_t k = 0; k < started; k++)
		pthread_join(tid[k], NULL);
}
