/* SPDX-License-Identifier: GPL-3.0-or-later */
/* answer.c -- answers one DNS query from a zone set */
#include "server/answer.h"

#include <string.h>

#include "policy/mn.h"
#include "policy/wire.h"

enum {
	RCODE_NOERROR = 0, RCODE_FORMERR = 1, RCODE_NXDOMAIN = 3, RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
};
enum { FLAG_QR = 0x8000, FLAG_AA = 0x0400, FLAG_TC = 0x0200, FLAG_RD = 0x0100, FLAG_CD = 0x0010 };
enum { CLASS_IN = 1, CLASS_CH = 3, T_TXT = 16, T_ANY = 255, T_MAILB = 253, T_MAILA = 254,
       T_TKEY = 249, T_TSIG = 250 };
enum { OPT_LEN = 11, EDNS_DO = 0x8000, OPT_NSID = 3, OPT_COOKIE = 10 };

/*
 * The question name at q[12..]: plain labels only (no compression pointer, no
 * extended label type), at most 255 bytes.  Writes it lowercased into low and
 * returns its length, or 0 when it does not parse.
 */
static size_t question_name(const uint8_t *q, size_t qlen, uint8_t *low)
{
	size_t o = 12, n = 0;
	for (;;) {
		if (o >= qlen)
			return 0;
		uint8_t l = q[o];
		if (l & 0xc0)
			return 0;
		if (n + l + 1u > 255 || o + l + 1u > qlen)
			return 0;
		low[n++] = l;
		for (size_t i = 1; i <= l; i++) {
			uint8_t c = q[o + i];
			low[n++] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
		}
		o += l + 1u;
		if (l == 0)
			return n;
	}
}

/* Skips a (possibly compressed) name in a record; returns the offset after it, or 0. */
static size_t skip_name(const uint8_t *q, size_t qlen, size_t o)
{
	size_t n = 0, start = o;
	for (;;) {
		if (o >= qlen)
			return 0;
		uint8_t l = q[o];
		if ((l & 0xc0) == 0xc0) {
			/* a pointer must point back to an earlier name, after the header */
			if (o + 2 > qlen)
				return 0;
			size_t target = (size_t)(l & 0x3f) << 8 | q[o + 1];
			return target >= 12 && target < start ? o + 2 : 0;
		}
		if (l & 0xc0)
			return 0;
		n += l + 1u;
		if (n > 255)
			return 0;
		o += l + 1u;
		if (l == 0)
			return o <= qlen ? o : 0;
	}
}

typedef struct edns {
	bool present;
	uint16_t payload;
	uint8_t version;
	bool dnssec_ok;
	bool nsid;			/* an NSID option (RFC 5001) */
	bool cookie_bad;		/* a COOKIE option of a bad length, or two */
	const uint8_t *cookie;		/* the COOKIE option's data (RFC 7873), NULL: none */
	uint16_t cookie_len;
} edns_t;

/*
 * Walks the answer and authority records (content ignored) and the additional
 * records from offset o, picking up the OPT.  Returns false on a malformed
 * record, an OPT not owned by the root, bad EDNS options or two OPTs.
 */
static bool parse_records(const uint8_t *q, size_t qlen, size_t o, edns_t *edns)
{
	unsigned int skip = (unsigned int)mn_get16(q + 6) + mn_get16(q + 8);
	unsigned int nar = mn_get16(q + 10);
	for (unsigned int i = 0; i < skip + nar; i++) {
		size_t start = o;
		o = skip_name(q, qlen, o);
		if (o == 0 || o + 10 > qlen)
			return false;
		uint16_t type = mn_get16(q + o);
		uint16_t rdlen = mn_get16(q + o + 8);
		size_t rd = o + 10;
		if (rd + rdlen > qlen)
			return false;
		if (i >= skip && type == ZONE_T_OPT) {
			if (edns->present || o != start + 1)
				return false;	/* two OPTs, or an owner other than the root */
			edns->present = true;
			edns->payload = mn_get16(q + o + 2);
			edns->version = q[o + 5];
			edns->dnssec_ok = (mn_get16(q + o + 6) & EDNS_DO) != 0;
			for (size_t p = rd; p < rd + rdlen;) {
				if (p + 4 > rd + rdlen || p + 4 + mn_get16(q + p + 2) > rd + rdlen)
					return false;
				uint16_t code = mn_get16(q + p), len = mn_get16(q + p + 2);
				if (code == OPT_NSID) {
					edns->nsid = true;
				} else if (code == OPT_COOKIE) {
					/* client cookie 8, server cookie 8..32 (RFC 7873 4) */
					if (edns->cookie != NULL || len < 8 || (len > 8 && len < 16) || len > 40)
						edns->cookie_bad = true;
					edns->cookie = q + p + 4;
					edns->cookie_len = len;
				}
				p += 4u + len;
			}
		}
		o = rd + rdlen;
	}
	return true;
}

/* A header-only response: ID, opcode and RD echoed. */
static int header_only(const uint8_t *q, uint8_t *out, int rcode, size_t *outlen)
{
	memset(out, 0, 12);
	out[0] = q[0];
	out[1] = q[1];
	mn_put16(out + 2, (uint16_t)(FLAG_QR | (q[2] & 0x78) << 8 | (q[2] & 0x01) << 8 | rcode));
	*outlen = 12;
	return ANSWER_SEND;
}

/* The OPT record with its options (cookie: 24 bytes or NULL; nsid: NULL or text). */
static size_t opt_write(uint8_t *p, uint8_t ext_rcode, bool dnssec_ok, const uint8_t *cookie,
			const char *nsid, size_t nsid_len)
{
	size_t o = OPT_LEN;
	p[0] = 0;				/* root owner */
	mn_put16(p + 1, ZONE_T_OPT);
	mn_put16(p + 3, ANSWER_EDNS_PAYLOAD);
	p[5] = ext_rcode;
	p[6] = 0;				/* version */
	mn_put16(p + 7, dnssec_ok ? EDNS_DO : 0);
	if (nsid != NULL) {
		mn_put16(p + o, OPT_NSID);
		mn_put16(p + o + 2, (uint16_t)nsid_len);
		memcpy(p + o + 4, nsid, nsid_len);
		o += 4 + nsid_len;
	}
	if (cookie != NULL) {
		mn_put16(p + o, OPT_COOKIE);
		mn_put16(p + o + 2, 24);
		memcpy(p + o + 4, cookie, 24);
		o += 28;
	}
	mn_put16(p + 9, (uint16_t)(o - OPT_LEN));	/* rdlength */
	return o;
}

/* The CHAOS names we answer, lowercase wire form. */
static const uint8_t ch_version_bind[] = "\7version\4bind";
static const uint8_t ch_version_server[] = "\7version\6server";
static const uint8_t ch_id_server[] = "\2id\6server";
static const uint8_t ch_hostname_bind[] = "\10hostname\4bind";

static bool name_is(const uint8_t *low, size_t nlen, const uint8_t *name, size_t len)
{
	return nlen == len && memcmp(low, name, len) == 0;
}

/* The text a CHAOS question asks for, or NULL (REFUSED). */
static const char *chaos_text(const answer_ctx_t *ctx, const uint8_t *low, size_t nlen)
{
	if (ctx == NULL)
		return NULL;
	if (name_is(low, nlen, ch_version_bind, sizeof(ch_version_bind)) ||
	    name_is(low, nlen, ch_version_server, sizeof(ch_version_server)))
		return ctx->version;
	if (name_is(low, nlen, ch_id_server, sizeof(ch_id_server)) ||
	    name_is(low, nlen, ch_hostname_bind, sizeof(ch_hostname_bind)))
		return ctx->identity;
	return NULL;
}

static answer_kind_t zone_kind(const zone_t *z)
{
	if (z == NULL)
		return ANSWER_KIND_NONE;
	switch (z->kind) {
	case ZONE_DKIM:
		return ANSWER_KIND_DKIM;
	case ZONE_DMARC:
		return ANSWER_KIND_DMARC;
	case ZONE_SPF:
		return ANSWER_KIND_SPF;
	case ZONE_MTA_STS:	/* counted with "none" (the metrics' kinds: dkim dmarc spf) */
	case ZONE_TLSRPT:
	case ZONE_BIMI:
		break;
	}
	return ANSWER_KIND_NONE;
}

static int header_only_info(const uint8_t *q, uint8_t *out, int rcode, size_t *outlen,
			    answer_info_t *info)
{
	info->rcode = rcode;
	return header_only(q, out, rcode, outlen);
}

int answer_query(const zset_t *zs, const uint8_t *q, size_t qlen, bool tcp,
		 uint8_t *out, size_t outcap, size_t *outlen)
{
	return answer_query_ctx(zs, NULL, q, qlen, tcp, out, outcap, outlen, NULL);
}

int answer_query_ctx(const zset_t *zs, const answer_ctx_t *ctx, const uint8_t *q, size_t qlen,
		     bool tcp, uint8_t *out, size_t outcap, size_t *outlen, answer_info_t *infop)
{
	answer_info_t dummy;
	answer_info_t *info = infop != NULL ? infop : &dummy;
	memset(info, 0, sizeof(*info));
	if (q == NULL || out == NULL || outlen == NULL || qlen < 12 || outcap < 12)
		return ANSWER_DROP;
	if (q[2] & 0x80)
		return ANSWER_DROP;	/* a response */
	unsigned int opcode = (q[2] >> 3) & 0x0f;
	uint16_t qdcount = mn_get16(q + 4);
	uint8_t low[256];
	size_t nlen = question_name(q, qlen, low);
	size_t qend = 12 + nlen + 4;	/* after QTYPE and QCLASS */
	bool qok = nlen > 0 && qend <= qlen;

	if (opcode != 0) {
		header_only_info(q, out, RCODE_NOTIMP, outlen, info);
		if (qdcount == 1 && qok && qend <= outcap) {
			memcpy(out + 12, q + 12, qend - 12);
			mn_put16(out + 4, 1);
			*outlen = qend;
			info->qend = qend;
			info->qtype = mn_get16(q + 12 + nlen);
			info->qclass = mn_get16(q + 12 + nlen + 2);
		}
		return ANSWER_SEND;
	}
	if (qdcount != 1 || !qok)
		return header_only_info(q, out, RCODE_FORMERR, outlen, info);
	uint16_t qtype = mn_get16(q + 12 + nlen);
	uint16_t qclass = mn_get16(q + 12 + nlen + 2);
	info->qtype = qtype;
	info->qclass = qclass;
	edns_t edns = { 0 };
	/* every record a query carries must parse (an OPT is looked for in them) */
	if ((mn_get16(q + 6) | mn_get16(q + 8) | mn_get16(q + 10)) != 0 &&
	    !parse_records(q, qlen, qend, &edns))
		return header_only_info(q, out, RCODE_FORMERR, outlen, info);
	if (qtype == ZONE_T_OPT)
		return header_only_info(q, out, RCODE_FORMERR, outlen, info);

	/* cookies (RFC 7873 5.2) and NSID, when the server has them */
	bool cookies = ctx != NULL && ctx->secret != NULL && ctx->client != NULL;
	uint8_t cookie[24];
	const uint8_t *cookie_out = NULL;
	bool badcookie = false;
	if (cookies && edns.cookie_bad)
		return header_only_info(q, out, RCODE_FORMERR, outlen, info);	/* 5.2.2 */
	if (cookies && edns.cookie != NULL && edns.version == 0) {
		memcpy(cookie, edns.cookie, 8);
		if (edns.cookie_len > 8) {
			info->cookie_valid = answer_cookie_valid(ctx->secret, edns.cookie, edns.cookie + 8,
								 edns.cookie_len - 8u, ctx->now, ctx->client);
			badcookie = !info->cookie_valid && !tcp;	/* 5.2.4: over TCP, answer */
		}
		answer_cookie_make(ctx->secret, edns.cookie, ctx->now, ctx->client, cookie + 8);
		cookie_out = cookie;
	}
	const char *nsid = NULL;
	size_t nsid_len = 0;
	if (ctx != NULL && ctx->identity != NULL && edns.nsid && edns.version == 0) {
		nsid = ctx->identity;
		nsid_len = strlen(nsid);
	}

	size_t limit = ANSWER_TCP_MAX;
	if (!tcp) {
		limit = ANSWER_UDP_MIN;
		if (edns.present && edns.payload > limit)
			limit = edns.payload < ANSWER_EDNS_PAYLOAD ? edns.payload : ANSWER_EDNS_PAYLOAD;
	}
	if (limit > outcap)
		limit = outcap;
	size_t optlen = edns.present ? OPT_LEN + (cookie_out != NULL ? 28 : 0) +
				       (nsid != NULL ? 4 + nsid_len : 0) : 0;
	if (qend + optlen > limit)
		return ANSWER_DROP;

	/* header and question; counts and flags are filled in below */
	memcpy(out, q, qend);
	uint16_t flags = (uint16_t)(FLAG_QR | (q[2] & 0x01) << 8 | (q[3] & FLAG_CD));
	int rcode = RCODE_NOERROR;
	uint8_t ext_rcode = 0;
	uint16_t an = 0, ns = 0;
	size_t o = qend;

	zset_result_t res = { .status = ZSET_REFUSED };
	const char *chaos = NULL;
	if (qclass == CLASS_IN)
		zset_lookup(zs, low, nlen, qtype, &res);
	else if (qclass == CLASS_CH)
		chaos = chaos_text(ctx, low, nlen);
	info->kind = zone_kind(res.zone);
	if (edns.present && edns.version > 0) {
		ext_rcode = 1;	/* BADVERS (16): 0 in the header, 1 in the OPT */
		info->rcode = ANSWER_RCODE_BADVERS;
		if (res.status != ZSET_REFUSED)
			flags |= FLAG_AA;
	} else if (badcookie) {
		/* BADCOOKIE (23): 7 in the header, 1 in the OPT; a fresh cookie, no records */
		rcode = ANSWER_RCODE_BADCOOKIE & 0x0f;
		ext_rcode = ANSWER_RCODE_BADCOOKIE >> 4;
		info->rcode = ANSWER_RCODE_BADCOOKIE;
	} else if (chaos != NULL) {
		flags |= FLAG_AA;
		size_t tlen = strlen(chaos);
		if (qtype == T_TXT || qtype == T_ANY) {
			if (o + 12 + 1 + tlen + optlen > limit) {
				flags |= FLAG_TC;
			} else {
				/* owner: pointer to the question; TXT CH, TTL 0, one string */
				mn_put16(out + o, 0xc00c);
				mn_put16(out + o + 2, T_TXT);
				mn_put16(out + o + 4, CLASS_CH);
				memset(out + o + 6, 0, 4);
				mn_put16(out + o + 10, (uint16_t)(1 + tlen));
				out[o + 12] = (uint8_t)tlen;
				memcpy(out + o + 13, chaos, tlen);
				o += 13 + tlen;
				an = 1;
			}
		}
	} else if (qclass != CLASS_IN || res.status == ZSET_REFUSED) {
		rcode = RCODE_REFUSED;
	} else if (qtype == ZONE_T_AXFR || qtype == ZONE_T_IXFR || qtype == T_MAILA ||
		   qtype == T_MAILB || qtype == T_TKEY || qtype == T_TSIG) {
		rcode = RCODE_NOTIMP;
	} else {
		flags |= FLAG_AA;
		size_t need = 0;
		if (res.status == ZSET_ANSWER)
			need = res.rrs_len;
		else
			need = 2u + res.soa_len;
		if (o + need + optlen > limit) {
			flags |= FLAG_TC;
		} else if (res.status == ZSET_ANSWER) {
			memcpy(out + o, res.rrs, res.rrs_len);
			o += res.rrs_len;
			an = res.rrs_count;
		} else {
			/* the SOA, its owner a pointer to the apex inside the question */
			mn_put16(out + o, (uint16_t)(0xc000 | (12 + nlen - res.apex_len)));
			memcpy(out + o + 2, res.soa, res.soa_len);
			mn_put16(out + o + 6, (uint16_t)(res.soa_ttl >> 16));	/* the negative TTL */
			mn_put16(out + o + 8, (uint16_t)res.soa_ttl);
			o += 2u + res.soa_len;
			ns = 1;
			if (res.status == ZSET_NXDOMAIN)
				rcode = RCODE_NXDOMAIN;
		}
	}
	if (edns.present)
		o += opt_write(out + o, ext_rcode, edns.dnssec_ok, cookie_out, nsid, nsid_len);
	mn_put16(out + 2, (uint16_t)(flags | rcode));
	mn_put16(out + 4, 1);
	mn_put16(out + 6, an);
	mn_put16(out + 8, ns);
	mn_put16(out + 10, edns.present ? 1 : 0);
	*outlen = o;
	if (info->rcode == 0)
		info->rcode = rcode;
	info->tc = (flags & FLAG_TC) != 0;
	info->qend = qend;
	return ANSWER_SEND;
}

size_t answer_truncate(uint8_t *out, size_t len, const answer_info_t *info)
{
	if (info->qend < 12 || info->qend > len)
		return len < 12 ? len : 12;
	out[2] |= FLAG_TC >> 8;
	memset(out + 6, 0, 6);	/* no answer, authority or additional records */
	return info->qend;
}
