/* SPDX-License-Identifier: GPL-3.0-or-later */
/* answer.h -- answers one DNS query from a zone set (pure: no sockets, no allocation) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
