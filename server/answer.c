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

static answer_kind_t kind_of(const zone_t *z)
{
	if (z == NULL)
		return ANSWER_KIND_NONE;
	switch (zone_kind(z)) {
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

/* ---- answer_query_ctx, in the order it runs ---- */

enum { GO_ON = -1 };	/* a step's "not decided yet": the next step runs */

/* One query as the steps see it. */
typedef struct query {
	const uint8_t *q;
	size_t qlen;
	bool tcp;
	uint8_t low[256];		/* the question name, lowercased */
	size_t nlen;			/* its length */
	size_t qend;			/* offset after QTYPE and QCLASS */
	uint16_t qtype, qclass;
	edns_t edns;
	uint8_t cookie[24];		/* the client cookie and our server cookie */
	const uint8_t *cookie_out;	/* cookie, or NULL: no COOKIE option in the response */
	bool badcookie;
	const char *nsid;		/* NULL: no NSID option in the response */
	size_t nsid_len;
	size_t limit;			/* the response's size limit */
	size_t optlen;			/* the response's OPT record */
} query_t;

/* The response being written. */
typedef struct reply {
	uint8_t *out;
	size_t o;			/* bytes written */
	uint16_t flags;
	int rcode;
	uint8_t ext_rcode;
	uint16_t an, ns;
} reply_t;

/*
 * The header, the question and every record the query carries (the OPT into
 * qy->edns).  Returns GO_ON, or ANSWER_DROP / ANSWER_SEND with a header-only
 * response (NOTIMP with the question, FORMERR).
 */
static int parse_query(query_t *qy, uint8_t *out, size_t outcap, size_t *outlen, answer_info_t *info)
{
	const uint8_t *q = qy->q;
	size_t qlen = qy->qlen;
	if (q == NULL || out == NULL || outlen == NULL || qlen < 12 || outcap < 12)
		return ANSWER_DROP;
	if (q[2] & 0x80)
		return ANSWER_DROP;	/* a response */
	unsigned int opcode = (q[2] >> 3) & 0x0f;
	uint16_t qdcount = mn_get16(q + 4);
	size_t nlen = question_name(q, qlen, qy->low);
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
	qy->nlen = nlen;
	qy->qend = qend;
	qy->qtype = mn_get16(q + 12 + nlen);
	qy->qclass = mn_get16(q + 12 + nlen + 2);
	info->qtype = qy->qtype;
	info->qclass = qy->qclass;
	/* every record a query carries must parse (an OPT is looked for in them) */
	if ((mn_get16(q + 6) | mn_get16(q + 8) | mn_get16(q + 10)) != 0 &&
	    !parse_records(q, qlen, qend, &qy->edns))
		return header_only_info(q, out, RCODE_FORMERR, outlen, info);
	if (qy->qtype == ZONE_T_OPT)
		return header_only_info(q, out, RCODE_FORMERR, outlen, info);
	return GO_ON;
}

/*
 * Cookies (RFC 7873 5.2) and NSID, when the server has them.  Returns GO_ON,
 * or ANSWER_SEND with FORMERR (a malformed COOKIE option, 5.2.2).
 */
static int server_options(query_t *qy, const answer_ctx_t *ctx, uint8_t *out, size_t *outlen,
			  answer_info_t *info)
{
	const edns_t *edns = &qy->edns;
	bool cookies = ctx != NULL && ctx->secret != NULL && ctx->client != NULL;
	if (cookies && edns->cookie_bad)
		return header_only_info(qy->q, out, RCODE_FORMERR, outlen, info);	/* 5.2.2 */
	if (cookies && edns->cookie != NULL && edns->version == 0) {
		memcpy(qy->cookie, edns->cookie, 8);
		if (edns->cookie_len > 8) {
			info->cookie_valid = answer_cookie_valid(ctx->secret, edns->cookie, edns->cookie + 8,
								 edns->cookie_len - 8u, ctx->now, ctx->client);
			qy->badcookie = !info->cookie_valid && !qy->tcp;	/* 5.2.4: over TCP, answer */
		}
		answer_cookie_make(ctx->secret, edns->cookie, ctx->now, ctx->client, qy->cookie + 8);
		qy->cookie_out = qy->cookie;
	}
	if (ctx != NULL && ctx->identity != NULL && edns->nsid && edns->version == 0) {
		qy->nsid = ctx->identity;
		qy->nsid_len = strlen(qy->nsid);
	}
	return GO_ON;
}

/*
 * The response's size limit (UDP: 512, or the client's EDNS size up to ours;
 * TCP: 65535; never over outcap) and the size of its OPT record.  Returns
 * GO_ON, or ANSWER_DROP when not even the question and the OPT fit.
 */
static int size_limit(query_t *qy, size_t outcap)
{
	const edns_t *edns = &qy->edns;
	size_t limit = ANSWER_TCP_MAX;
	if (!qy->tcp) {
		limit = ANSWER_UDP_MIN;
		if (edns->present && edns->payload > limit)
			limit = edns->payload < ANSWER_EDNS_PAYLOAD ? edns->payload : ANSWER_EDNS_PAYLOAD;
	}
	if (limit > outcap)
		limit = outcap;
	qy->limit = limit;
	qy->optlen = edns->present ? OPT_LEN + (qy->cookie_out != NULL ? 28 : 0) +
				     (qy->nsid != NULL ? 4 + qy->nsid_len : 0) : 0;
	return qy->qend + qy->optlen > limit ? ANSWER_DROP : GO_ON;
}

/*
 * The lookup: class IN in the zone set (*res; left REFUSED otherwise; with
 * the DO bit, *proof: the DNSSEC records), class CH in the server's texts
 * (returned; NULL: none).
 */
static const char *lookup(const zset_t *zs, const answer_ctx_t *ctx, const query_t *qy,
			  zset_result_t *res, zset_proof_t *proof)
{
	if (qy->qclass == CLASS_IN && qy->edns.dnssec_ok)
		zset_lookup_dnssec(zs, qy->low, qy->nlen, qy->qtype, res, proof);
	else if (qy->qclass == CLASS_IN)
		zset_lookup(zs, qy->low, qy->nlen, qy->qtype, res);
	else if (qy->qclass == CLASS_CH)
		return chaos_text(ctx, qy->low, qy->nlen);
	return NULL;
}

/* A CHAOS TXT answer: one string, owner the question, TTL 0; TC when it does not fit. */
static void render_chaos(const query_t *qy, reply_t *rp, const char *chaos)
{
	rp->flags |= FLAG_AA;
	if (qy->qtype != T_TXT && qy->qtype != T_ANY)
		return;
	size_t tlen = strlen(chaos);
	uint8_t *out = rp->out;
	size_t o = rp->o;
	if (o + 12 + 1 + tlen + qy->optlen > qy->limit) {
		rp->flags |= FLAG_TC;
		return;
	}
	/* owner: pointer to the question; TXT CH, TTL 0, one string */
	mn_put16(out + o, 0xc00c);
	mn_put16(out + o + 2, T_TXT);
	mn_put16(out + o + 4, CLASS_CH);
	memset(out + o + 6, 0, 4);
	mn_put16(out + o + 10, (uint16_t)(1 + tlen));
	out[o + 12] = (uint8_t)tlen;
	memcpy(out + o + 13, chaos, tlen);
	rp->o = o + 13 + tlen;
	rp->an = 1;
}

/*
 * Appends a run of records (zset.h) to the response, each record's 2-byte
 * owner replaced by owner (olen bytes) and, when ttl is not NULL, its TTL by
 * *ttl.  False, with nothing counted, when it would pass end.
 */
static bool put_run(reply_t *rp, size_t end, const zset_run_t *run, const uint8_t *owner, size_t olen,
		    const uint32_t *ttl, uint16_t *count)
{
	uint8_t *out = rp->out;
	if (olen == 2 && owner[0] == 0xc0 && owner[1] == 12 && ttl == NULL) {
		/* owned by the question, as stored (zone.h): the run's bytes as they are */
		if (rp->o + run->len > end)
			return false;
		if (run->len > 0)
			memcpy(out + rp->o, run->rrs, run->len);
		rp->o += run->len;
		*count = (uint16_t)(*count + run->count);
		return true;
	}
	for (size_t i = 0; i < run->len;) {
		size_t rl = 12u + mn_get16(run->rrs + i + 10);
		if (rp->o + olen + rl - 2 > end)
			return false;
		memcpy(out + rp->o, owner, olen);
		memcpy(out + rp->o + olen, run->rrs + i + 2, rl - 2);
		if (ttl != NULL) {
			mn_put16(out + rp->o + olen + 4, (uint16_t)(*ttl >> 16));
			mn_put16(out + rp->o + olen + 6, (uint16_t)*ttl);
		}
		rp->o += olen + rl - 2;
		i += rl;
		(*count)++;
	}
	return true;
}

static void put_ptr(uint8_t *p, size_t target)
{
	mn_put16(p, (uint16_t)(0xc000 | target));
}

/*
 * An NSEC and its RRSIGs in the authority section.  The owner, a name inside
 * the question's zone, is written as its labels above the apex and a pointer
 * to the apex in the question (the question itself: a pointer to it); the
 * RRSIGs point at the NSEC's owner.
 */
static bool put_nsec(const query_t *qy, reply_t *rp, size_t end, const zset_nsec_t *e, uint16_t apex_len)
{
	uint8_t owner[256 + 2];
	size_t olen;
	size_t prefix = e->owner_len - apex_len;
	if (e->owner_len == qy->nlen && memcmp(e->owner, qy->low, qy->nlen) == 0) {
		put_ptr(owner, 12);
		olen = 2;
	} else {
		memcpy(owner, e->owner, prefix);
		put_ptr(owner + prefix, 12 + qy->nlen - apex_len);
		olen = prefix + 2;
	}
	size_t at = rp->o;
	if (!put_run(rp, end, &e->nsec, owner, olen, NULL, &rp->ns))
		return false;
	if (olen > 2 && at < 0x4000) {
		put_ptr(owner, at);
		olen = 2;
	}
	return put_run(rp, end, &e->sig, owner, olen, NULL, &rp->ns);
}

/*
 * The DNSSEC records of a DO query in a signed zone (RFC 4035 3.1): the
 * RRSIGs of the answer; for a negative answer the SOA's RRSIGs (with the
 * SOA's negative TTL) and the NSEC proofs, for a wildcard answer its NSEC.
 * False when they do not fit (the caller truncates).
 */
static bool render_dnssec(const query_t *qy, reply_t *rp, const zset_result_t *res, const zset_proof_t *pf)
{
	size_t end = qy->limit - qy->optlen;
	if (res->status == ZSET_ANSWER) {
		uint8_t qptr[2];
		put_ptr(qptr, 12);
		if (!put_run(rp, end, &pf->answer_sig, qptr, 2, NULL, &rp->an))
			return false;
	} else {
		uint8_t apex[2];
		put_ptr(apex, 12 + qy->nlen - res->apex_len);
		if (!put_run(rp, end, &pf->soa_sig, apex, 2, &res->soa_ttl, &rp->ns))
			return false;
	}
	for (unsigned i = 0; i < pf->nnsec; i++)
		if (!put_nsec(qy, rp, end, &pf->nsec[i], res->apex_len))
			return false;
	return true;
}

/*
 * What the zone set found: the pre-rendered RRsets, or the SOA of a negative
 * answer (NXDOMAIN, NODATA) with the negative TTL, and the DNSSEC records
 * when pf is not NULL; TC, with no records, when it does not fit.
 */
static void render_zone(const query_t *qy, reply_t *rp, const zset_result_t *res, const zset_proof_t *pf)
{
	rp->flags |= FLAG_AA;
	size_t need = res->status == ZSET_ANSWER ? res->rrs_len : 2u + res->soa_len;
	uint8_t *out = rp->out;
	size_t o = rp->o;
	if (o + need + qy->optlen > qy->limit) {
		rp->flags |= FLAG_TC;
	} else if (res->status == ZSET_ANSWER) {
		memcpy(out + o, res->rrs, res->rrs_len);
		rp->o = o + res->rrs_len;
		rp->an = res->rrs_count;
	} else {
		/* the SOA, its owner a pointer to the apex inside the question */
		mn_put16(out + o, (uint16_t)(0xc000 | (12 + qy->nlen - res->apex_len)));
		memcpy(out + o + 2, res->soa, res->soa_len);
		mn_put16(out + o + 6, (uint16_t)(res->soa_ttl >> 16));	/* the negative TTL */
		mn_put16(out + o + 8, (uint16_t)res->soa_ttl);
		rp->o = o + 2u + res->soa_len;
		rp->ns = 1;
		if (res->status == ZSET_NXDOMAIN)
			rp->rcode = RCODE_NXDOMAIN;
	}
	if (pf != NULL && (rp->flags & FLAG_TC) == 0 && !render_dnssec(qy, rp, res, pf)) {
		/* RFC 4035 3.1.1: the signatures and proofs do not fit: TC, no records */
		rp->o = o;
		rp->an = rp->ns = 0;
		rp->rcode = RCODE_NOERROR;
		rp->flags |= FLAG_TC;
	}
}

/* The sections after the question: BADVERS, BADCOOKIE, CHAOS, REFUSED, NOTIMP, or the zone's. */
static void render(const query_t *qy, reply_t *rp, const zset_result_t *res, const zset_proof_t *pf,
		   const char *chaos, answer_info_t *info)
{
	uint16_t qtype = qy->qtype;
	if (qy->edns.present && qy->edns.version > 0) {
		rp->ext_rcode = 1;	/* BADVERS (16): 0 in the header, 1 in the OPT */
		info->rcode = ANSWER_RCODE_BADVERS;
		if (res->status != ZSET_REFUSED)
			rp->flags |= FLAG_AA;
	} else if (qy->badcookie) {
		/* BADCOOKIE (23): 7 in the header, 1 in the OPT; a fresh cookie, no records */
		rp->rcode = ANSWER_RCODE_BADCOOKIE & 0x0f;
		rp->ext_rcode = ANSWER_RCODE_BADCOOKIE >> 4;
		info->rcode = ANSWER_RCODE_BADCOOKIE;
	} else if (chaos != NULL) {
		render_chaos(qy, rp, chaos);
	} else if (qy->qclass != CLASS_IN || res->status == ZSET_REFUSED) {
		rp->rcode = RCODE_REFUSED;
	} else if (qtype == ZONE_T_AXFR || qtype == ZONE_T_IXFR || qtype == T_MAILA ||
		   qtype == T_MAILB || qtype == T_TKEY || qtype == T_TSIG) {
		rp->rcode = RCODE_NOTIMP;
	} else {
		render_zone(qy, rp, res, pf);
	}
}

/* The OPT record and the header's flags and counts; fills info. */
static int finish(const query_t *qy, reply_t *rp, size_t *outlen, answer_info_t *info)
{
	uint8_t *out = rp->out;
	const edns_t *edns = &qy->edns;
	if (edns->present)
		rp->o += opt_write(out + rp->o, rp->ext_rcode, edns->dnssec_ok, qy->cookie_out, qy->nsid,
				   qy->nsid_len);
	mn_put16(out + 2, (uint16_t)(rp->flags | rp->rcode));
	mn_put16(out + 4, 1);
	mn_put16(out + 6, rp->an);
	mn_put16(out + 8, rp->ns);
	mn_put16(out + 10, edns->present ? 1 : 0);
	*outlen = rp->o;
	if (info->rcode == 0)
		info->rcode = rp->rcode;
	info->tc = (rp->flags & FLAG_TC) != 0;
	info->qend = qy->qend;
	return ANSWER_SEND;
}

int answer_query_ctx(const zset_t *zs, const answer_ctx_t *ctx, const uint8_t *q, size_t qlen,
		     bool tcp, uint8_t *out, size_t outcap, size_t *outlen, answer_info_t *infop)
{
	answer_info_t dummy;
	answer_info_t *info = infop != NULL ? infop : &dummy;
	memset(info, 0, sizeof(*info));
	query_t qy;
	qy.q = q;
	qy.qlen = qlen;
	qy.tcp = tcp;
	qy.edns = (edns_t){ 0 };
	qy.cookie_out = NULL;
	qy.badcookie = false;
	qy.nsid = NULL;
	qy.nsid_len = 0;
	int r = parse_query(&qy, out, outcap, outlen, info);
	if (r == GO_ON)
		r = server_options(&qy, ctx, out, outlen, info);
	if (r == GO_ON)
		r = size_limit(&qy, outcap);
	if (r != GO_ON)
		return r;

	zset_result_t res = { .status = ZSET_REFUSED };
	zset_proof_t proof;	/* not zeroed (its nsec[] is large): what is read is set */
	proof.is_signed = false;
	const char *chaos = lookup(zs, ctx, &qy, &res, &proof);
	info->kind = kind_of(res.zone);

	/* header and question; counts and flags are filled in by finish() */
	memcpy(out, q, qy.qend);
	reply_t rp = {
		.out = out,
		.o = qy.qend,
		.flags = (uint16_t)(FLAG_QR | (q[2] & 0x01) << 8 | (q[3] & FLAG_CD)),
		.rcode = RCODE_NOERROR,
	};
	render(&qy, &rp, &res, proof.is_signed ? &proof : NULL, chaos, info);
	return finish(&qy, &rp, outlen, info);
}

size_t answer_truncate(uint8_t *out, size_t len, const answer_info_t *info)
{
	if (info->qend < 12 || info->qend > len)
		return len < 12 ? len : 12;
	out[2] |= FLAG_TC >> 8;
	memset(out + 6, 0, 6);	/* no answer, authority or additional records */
	return info->qend;
}
