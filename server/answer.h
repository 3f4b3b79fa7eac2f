/* SPDX-License-Identifier: GPL-3.0-or-later */
/* answer.h -- answers one DNS query from a zone set (pure: no sockets, no allocation) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "zones/zset.h"

enum {
	ANSWER_DROP = 0,	/* send nothing */
	ANSWER_SEND = 1,	/* out[0..*outlen) is the response */
};

enum {
	ANSWER_EDNS_PAYLOAD = 1232,	/* the UDP payload size we offer */
	ANSWER_UDP_MIN = 512,		/* without EDNS */
	ANSWER_TCP_MAX = 65535,
};

/*
 * Answers the query q[0..qlen) (received over TCP when tcp) from zs.
 * Returns ANSWER_SEND with the response in out (*outlen bytes, never more than
 * outcap nor the transport's limit), or ANSWER_DROP (too short to echo a
 * header, a response (QR=1), outcap too small, bad arguments).
 *
 * - Opcode other than QUERY: NOTIMP, header echoed, the question too when it
 *   parses.  QDCOUNT != 1, a garbled question or additional section, two OPT
 *   records: FORMERR with the header echoed and no sections.
 * - Class other than IN: REFUSED.  AXFR, IXFR and the meta types
 *   (MAILA, MAILB, TKEY, TSIG): NOTIMP (transfers are not served here).
 *   QTYPE OPT: FORMERR.
 * - EDNS(0): an OPT in the query gets one in the response (payload 1232,
 *   DO copied, RFC 3225 3); version > 0 gets BADVERS (no records).
 * - AA on authoritative answers, RA clear, RD and CD copied; the question is
 *   copied byte for byte, answer owners point at it (case preserved).
 * - Too big for the transport (UDP: 512 without EDNS, else the client's size
 *   clamped to 512..1232; TCP: 65535): TC, no records but the OPT.
 */
int answer_query(const zset_t *zs, const uint8_t *q, size_t qlen, bool tcp,
		 uint8_t *out, size_t outcap, size_t *outlen);

/* ---- answering with server options (cookies, NSID, CHAOS) and statistics ---- */

enum {
	ANSWER_SECRET_LEN = 16,		/* the server cookie secret (SipHash-2-4 key) */
	ANSWER_RCODE_BADCOOKIE = 23,	/* RFC 7873 */
	ANSWER_RCODE_BADVERS = 16,
};

/* What the server adds to the pure answer path; every field may be zero/NULL. */
typedef struct answer_ctx {
	const struct sockaddr *client;	/* the client's address (cookies); NULL: cookies ignored */
	const uint8_t *secret;		/* ANSWER_SECRET_LEN bytes; NULL: cookies ignored */
	uint32_t now;			/* unix time (cookie timestamps) */
	const char *identity;		/* NSID, id.server, hostname.bind; NULL: none */
	const char *version;		/* version.bind, version.server; NULL: REFUSED */
} answer_ctx_t;

typedef enum { ANSWER_KIND_NONE = 0, ANSWER_KIND_DKIM, ANSWER_KIND_DMARC, ANSWER_KIND_SPF } answer_kind_t;

/* What was answered (for statistics, rate limiting and query logs). */
typedef struct answer_info {
	uint16_t qtype;			/* 0 when the question did not parse */
	uint16_t qclass;
	int rcode;			/* 12-bit rcode of the response (BADVERS 16, BADCOOKIE 23) */
	answer_kind_t kind;		/* the zone the name fell in */
	bool tc;			/* sent truncated */
	bool cookie_valid;		/* the query carried a valid server cookie */
	size_t qend;			/* offset after the question (0: none) */
} answer_info_t;

/*
 * answer_query() with the server's options: DNS cookies (RFC 7873, server
 * cookies per RFC 9018: a client cookie gets a fresh server cookie; a
 * malformed COOKIE option is FORMERR; an invalid server cookie over UDP gets
 * BADCOOKIE with a fresh cookie and no records, over TCP a normal answer),
 * NSID (RFC 5001), and CHAOS TXT version.bind / version.server (version) and
 * id.server / hostname.bind (identity), REFUSED when not configured.  ctx NULL
 * is answer_query().  info (may be NULL) is filled whenever ANSWER_SEND is
 * returned.
 */
int answer_query_ctx(const zset_t *zs, const answer_ctx_t *ctx, const uint8_t *q, size_t qlen,
		     bool tcp, uint8_t *out, size_t outcap, size_t *outlen, answer_info_t *info);

/*
 * Cuts a response down to its header and question with TC set and no
 * records (the slip of rate limiting).  Returns the new length.
 */
size_t answer_truncate(uint8_t *out, size_t len, const answer_info_t *info);

/* cookie.c: SipHash-2-4 with a 16-byte key. */
uint64_t answer_siphash(const uint8_t key[16], const uint8_t *in, size_t len);
/*
 * The 16-byte server cookie (RFC 9018: version 1, reserved, timestamp, hash of
 * client cookie | version | reserved | timestamp | client address).
 */
void answer_cookie_make(const uint8_t *secret, const uint8_t client[8], uint32_t now,
			const struct sockaddr *addr, uint8_t out[16]);
/* Is sc (sclen bytes) a server cookie we made for this client, not expired? */
bool answer_cookie_valid(const uint8_t *secret, const uint8_t client[8], const uint8_t *sc,
			 size_t sclen, uint32_t now, const struct sockaddr *addr);
