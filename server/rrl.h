/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rrl.h -- response rate limiting: one bucket table for every loop thread */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct srv_rrl srv_rrl_t;

/*
 * rrl.c: a table of size buckets (a power of two; 16 bytes each), one for the
 * whole server.  srv_rrl_check() checks one UDP response to addr at rate
 * responses/s per prefix (1..1000000) from any thread at once (atomics, no
 * lock); now_ms is the calling loop's uv_now().  Returns SRV_RRL_PASS,
 * SRV_RRL_DROP or SRV_RRL_SLIP (every slip-th limited response; 0: never).
 * srv_rrl_new() keys the bucket hash with random bytes; srv_rrl_new_keyed()
 * takes the 16-byte key (tests: a fixed key, so which prefixes share a bucket
 * is known).  srv_rrl_bucket() writes the bucket index of addr's prefix
 * (MN_EINVAL for another family than IPv4 and IPv6).
 */
enum { SRV_RRL_PASS = 0, SRV_RRL_DROP, SRV_RRL_SLIP, SRV_RRL_BUCKETS = 65536 };
int srv_rrl_new(size_t size, srv_rrl_t **out);
int srv_rrl_new_keyed(size_t size, const uint8_t key[16], srv_rrl_t **out);
int srv_rrl_bucket(const srv_rrl_t *r, const struct sockaddr *addr, size_t *out);
void srv_rrl_free(srv_rrl_t *r);	/* NULL is a no-op */
int srv_rrl_check(srv_rrl_t *r, const struct sockaddr *addr, uint32_t rate, uint32_t slip,
		  uint64_t now_ms);
