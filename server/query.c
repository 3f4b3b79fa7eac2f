/* SPDX-License-Identifier: GPL-3.0-or-later */
/* query.c -- one query for udp.c and tcp.c: server options, counters, rate limiting, query log */
#include "server/srv.h"

#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

#include "policy/mn.h"
#include "policy/wire.h"
#include "server/answer.h"
#include "server/rrl.h"
#include "server/worker.h"

/* The query types counted apart (the last slot counts the others); see metrics.c. */
static const uint16_t qtypes[SRV_QTYPES - 1] = { 1, 2, 5, 6, 12, 15, 16, 28, 33, 99, 251, 252, 255 };

static size_t qtype_slot(uint16_t t)
{
	for (size_t i = 0; i < SRV_QTYPES - 1; i++)
		if (qtypes[i] == t)
			return i;
	return SRV_QTYPES - 1;
}

static const char *rcode_name(int rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					     "NOTIMP", "REFUSED" };
	if (rcode >= 0 && rcode < 6)
		return names[rcode];
	if (rcode == ANSWER_RCODE_BADVERS)
		return "BADVERS";
	if (rcode == ANSWER_RCODE_BADCOOKIE)
		return "BADCOOKIE";
	return "RCODE?";
}

static const char *qtype_name(uint16_t t, char *buf, size_t size)
{
	static const char *const names[SRV_QTYPES - 1] = { "A", "NS", "CNAME", "SOA", "PTR", "MX",
		"TXT", "AAAA", "SRV", "SPF", "IXFR", "AXFR", "ANY" };
	size_t i = qtype_slot(t);
	if (i < SRV_QTYPES - 1)
		return names[i];
	snprintf(buf, size, "TYPE%u", (unsigned)t);
	return buf;
}

/* The question name as text ("." for the root), escaped; "-" when it does not parse. */
static void qname_text(const uint8_t *q, size_t qlen, char *buf, size_t size)
{
	size_t o = 12, n = 0;
	buf[0] = '\0';
	while (o < qlen && q[o] != 0 && !(q[o] & 0xc0)) {
		uint8_t l = q[o++];
		if (o + l > qlen)
			break;
		for (size_t i = 0; i < l; i++, o++) {
			uint8_t c = q[o];
			int w;
			if (c > 0x20 && c < 0x7f && c != '.' && c != '\\')
				w = snprintf(buf + n, size - n, "%c", c);
			else
				w = snprintf(buf + n, size - n, "\\%03u", c);
			if (w < 0 || (size_t)w >= size - n)
				return;
			n += (size_t)w;
		}
		if (n + 2 > size)
			return;
		buf[n++] = '.';
		buf[n] = '\0';
	}
	if (n == 0)
		snprintf(buf, size, "%s", o < qlen && q[o] == 0 ? "." : "-");
}

static void log_query(const uint8_t *q, size_t qlen, const struct sockaddr *peer, bool tcp,
		      const answer_info_t *info, const char *what)
{
	char client[INET6_ADDRSTRLEN], name[1024], tbuf[16];
	xfr_addr_text(peer, client, sizeof(client));
	qname_text(q, qlen, name, sizeof(name));
	mn_log(MN_LOG_INFO, "query %s %s %s%s %s %s%s", client, name,
	       info->qclass == 3 ? "CH " : "", qtype_name(info->qtype, tbuf, sizeof(tbuf)),
	       what != NULL ? what : rcode_name(info->rcode), tcp ? "tcp" : "udp",
	       info->tc && what == NULL ? " tc" : "");
}

/*
 * Rate limiting of one UDP response out[0..*outlen) (its question ends at
 * info->qend): ANSWER_SEND, possibly cut down to a truncated slip, or
 * ANSWER_DROP.  The buckets are srv->rrl, one table for every worker:
 * SO_REUSEPORT spreads the source ports of one address over the workers.
 */
static int limit(srv_worker_t *w, const struct sockaddr *peer, const uint8_t *q, size_t qlen,
		 uint8_t *out, size_t *outlen, answer_info_t *info)
{
	const srv_conf_t *cf = &w->gen->conf;
	srv_stats_t *st = &w->stats;
	int r = srv_rrl_check(w->srv->rrl, peer, cf->rate_limit, cf->rate_limit_slip, uv_now(w->loop));
	if (r == SRV_RRL_DROP) {
		SRV_STAT_ADD(st->rl_dropped, 1);
		if (cf->log_queries)
			log_query(q, qlen, peer, false, info, "dropped");
		return ANSWER_DROP;
	}
	if (r == SRV_RRL_SLIP) {
		SRV_STAT_ADD(st->rl_slipped, 1);
		*outlen = answer_truncate(out, *outlen, info);
		info->tc = true;
	}
	return ANSWER_SEND;
}

/* Counts a response that goes out, logs it when asked. */
static void count(srv_worker_t *w, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
		  bool tcp, const answer_info_t *info)
{
	srv_stats_t *st = &w->stats;
	SRV_STAT_ADD(st->qtype[qtype_slot(info->qtype)], 1);
	SRV_STAT_ADD(st->rcode[info->rcode >= 0 && info->rcode < SRV_RCODES ? info->rcode : 0], 1);
	SRV_STAT_ADD(st->kind[info->kind], 1);
	if (info->tc)
		SRV_STAT_ADD(st->truncated, 1);
	if (info->rcode == ANSWER_RCODE_BADCOOKIE)
		SRV_STAT_ADD(st->cookies_bad, 1);
	if (w->gen->conf.log_queries)
		log_query(q, qlen, peer, tcp, info, NULL);
}

int srv_answer(srv_worker_t *w, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
	       bool tcp, uint8_t *out, size_t outcap, size_t *outlen)
{
	const srv_gen_t *g = w->gen;
	const srv_conf_t *cf = &g->conf;
	answer_ctx_t ctx = {
		.client = peer,
		.secret = w->secret,
		.now = (uint32_t)time(NULL),
		.identity = cf->has_identity ? cf->identity : NULL,
		.version = cf->has_version ? cf->version : NULL,
	};
	answer_info_t info;
	SRV_STAT_ADD(w->stats.queries[tcp], 1);
	if (answer_query_ctx(g->zset, &ctx, q, qlen, tcp, out, outcap, outlen, &info) != ANSWER_SEND)
		return ANSWER_DROP;
	/* rate limiting: UDP only (errors too), one branch when off; a valid server cookie is exempt */
	if (cf->rate_limit != 0 && !tcp && !info.cookie_valid &&
	    limit(w, peer, q, qlen, out, outlen, &info) == ANSWER_DROP)
		return ANSWER_DROP;
	count(w, q, qlen, peer, tcp, &info);
	return ANSWER_SEND;
}

int srv_answer_xfr(srv_worker_t *w, const uint8_t *q, size_t qlen, const struct sockaddr *peer,
		   uint8_t *out, size_t *outlen)
{
	SRV_STAT_ADD(w->stats.queries[0], 1);
	/* the response starts with the query's header and question (xfr_request) */
	answer_info_t info = { .qtype = 0, .qclass = 1, .kind = ANSWER_KIND_NONE };
	size_t o = 12;
	while (o < *outlen && out[o] != 0 && !(out[o] & 0xc0))
		o += out[o] + 1u;
	if (o + 5 <= *outlen) {
		info.qend = o + 5;
		info.qtype = mn_get16(out + o + 1);
	}
	info.rcode = *outlen >= 4 ? out[3] & 0x0f : 0;
	if (w->gen->conf.rate_limit != 0 && limit(w, peer, q, qlen, out, outlen, &info) == ANSWER_DROP)
		return ANSWER_DROP;
	count(w, q, qlen, peer, false, &info);
	return ANSWER_SEND;
}
