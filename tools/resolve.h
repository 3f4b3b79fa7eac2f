/* SPDX-License-Identifier: GPL-3.0-or-later */
/* resolve.h -- a small DNS client (ldns) asking one recursive resolver, bounded */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * A resolve_t asks one recursive resolver (RD set, EDNS with a 1232-byte
 * payload, TCP when the UDP answer is truncated).  Every query is bounded:
 * RESOLVE_TIMEOUT_MS per try, RESOLVE_TRIES tries over UDP.
 */
enum { RESOLVE_TIMEOUT_MS = 3000, RESOLVE_TRIES = 2, RESOLVE_EDNS_SIZE = 1232 };

typedef struct resolve resolve_t;

/*
 * server: "ADDR", "ADDR:PORT", "[ADDR]" or "[ADDR]:PORT" (IPv4 or IPv6;
 * port 53 by default); NULL or "" means the first nameserver of
 * /etc/resolv.conf.  On failure returns MN_EINVAL (bad text) or another
 * negative code, and writes why into err (may be NULL).
 */
int resolve_new(const char *server, char *err, size_t errsize, resolve_t **out);
/*
 * The same, but every query goes over ONE TCP connection to the server kept
 * open between queries (RFC 7766), one query after another: for a tool that
 * asks the servers it manages many questions (TCP is never rate-limited).
 * The connection is opened at the first query; when the server has closed
 * it (its idle timeout) or it fails, a new one is opened and the query sent
 * again, RESOLVE_TRIES times at most, each try bounded by RESOLVE_TIMEOUT_MS.
 */
int resolve_new_tcp(const char *server, char *err, size_t errsize, resolve_t **out);
void resolve_free(resolve_t *r);	/* NULL is a no-op (closes the connection) */
/* The server asked, "127.0.0.1#5399" style (owned by r). */
const char *resolve_server(const resolve_t *r);

typedef enum {
	RESOLVE_ANSWER = 0,	/* NOERROR with records of the type (v, n) */
	RESOLVE_NODATA,		/* NOERROR, none of the type */
	RESOLVE_NXDOMAIN,	/* the name does not exist */
	RESOLVE_FAIL,		/* no usable answer: why says "timeout", "SERVFAIL", ... */
} resolve_status_t;

typedef struct resolve_result {
	resolve_status_t status;
	char why[64];		/* RESOLVE_FAIL: the cause, for messages */
	/*
	 * The RDATA of the answer records of the type asked, for the name asked
	 * or the target of a CNAME chain from it, as text: names normalized
	 * (lowercase, no final dot) for NS/CNAME/PTR/MX (MX: the exchange only),
	 * the character-strings of a TXT record concatenated, addresses for A and
	 * AAAA.  Each string and the array are owned by the result.
	 */
	char **v;
	size_t n;
	uint32_t ttl;		/* RESOLVE_ANSWER: the smallest TTL of those records (and the CNAMEs) */
} resolve_result_t;

/*
 * Asks (name, type IN).  name is a normalized or absolute domain name.
 * Returns MN_OK with *res filled (also for RESOLVE_FAIL), or MN_EINVAL /
 * MN_ENOMEM (nothing in *res).  Free with resolve_result_clear().
 */
int resolve_query(resolve_t *r, const char *name, uint16_t type, resolve_result_t *res);
void resolve_result_clear(resolve_result_t *res);	/* NULL is a no-op */

/* "NS", "TXT", "A", ... for messages. */
const char *resolve_type_name(uint16_t type);
