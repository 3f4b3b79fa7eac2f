/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pool.h -- one worker pool for the parse, compile and key-generation loops */
#pragma once

#include <stddef.h>

/* CPUs this process may run on (its affinity mask, as taskset sets it); >= 1. */
unsigned mn_cpus(void);

/*
 * Runs fn(arg, k) once for every k in [0, n), on up to `threads` threads
 * (0: mn_cpus()), the calling thread one of them, and returns when all are
 * done.  Items are taken one at a time from a shared counter, so uneven
 * items balance themselves; fn must be safe to run concurrently for
 * different k.  A thread that cannot be started leaves its share to the
 * others (never an error).  Never more threads than items or than
 * MN_POOL_MAX.
 */
enum { MN_POOL_MAX = 64 };
void mn_pool_run(size_t n, unsigned threads, void (*fn)(void *arg, size_t k), void *arg);
