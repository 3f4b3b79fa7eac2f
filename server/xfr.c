/* SPDX-License-Identifier: GPL-3.0-or-later */
/* xfr.c -- AXFR and IXFR responses (streamed from a referenced zone set), access control, configuration */
#include "server/xfr.h"
#include "policy/wire.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	RCODE_FORMERR = 1, RCODE_REFUSED = 5, RCODE_NOTAUTH = 9,
	FLAG_QR = 0x8000, FLAG_AA = 0x0400, FLAG_RD = 0x0100,
	CLASS_IN = 1,
	TSIG_RESERVE = 400,	/* room left in a message for its TSIG record */
};

/* ---- configuration ---- */

void xfr_conf_free(xfr_conf_t *c)
{
	if (c == NULL)
		return;
	free(c->nets);
	for (size_t i = 0; c->keys != NULL && i < c->nkeys; i++)
		memset(c->keys[i].secret, 0, sizeof(c->keys[i].secret));
	free(c->keys);
	free(c->notify);
	free(c->state_dir);
	free(c);
}

int xfr_addr_parse(const char *s, xfr_addr_t *out)
{
	char host[64];
	const char *port = NULL;
	if (s == NULL || out == NULL)
		return MN_EINVAL;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (e == NULL || (size_t)(e - s - 1) >= sizeof(host))
			return MN_ESYNTAX;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		if (e[1] == ':')
			port = e + 2;
		else if (e[1] != '\0')
			return MN_ESYNTAX;
	} else {
		const char *colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;	/* a bare IPv6 address */
		size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);
		if (n >= sizeof(host))
			return MN_ESYNTAX;
		memcpy(host, s, n);
		host[n] = '\0';
		if (colon != NULL)
			port = colon + 1;
	}
	unsigned long pn = 53;
	if (port != NULL) {
		char *end;
		pn = strtoul(port, &end, 10);
		if (*port == '\0' || *end != '\0' || pn == 0 || pn > 65535)
			return MN_ESYNTAX;
	}
	if (inet_pton(AF_INET, host, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons((uint16_t)pn);
	} else if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons((uint16_t)pn);
	} else {
		return MN_ESYNTAX;
	}
	return MN_OK;
}

void xfr_addr_text(const struct sockaddr *sa, char *buf, size_t size)
{
	if (sa == NULL) {
		snprintf(buf, size, "?");
		return;
	}
	const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
						  : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    inet_ntop(sa->sa_family, a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
}

/* Reads the base64 secret of one key. */
static int key_load(const policy_tsig_t *t, xfr_key_t *k, diag_t *diag)
{
	if (mn_name_norm(t->name, k->name, sizeof(k->name)) != MN_OK) {
		diag_error(diag, &t->pos, "invalid TSIG key name '%s'", t->name);
		return MN_EPOLICY;
	}
	int n = mn_name_to_wire(k->name, k->wire, sizeof(k->wire));
	if (n < 0)
		return MN_EPOLICY;
	k->wire_len = (uint16_t)n;
	k->alg = XFR_HMAC_SHA256;
	if (t->algorithm.v != NULL && xfr_alg_parse(t->algorithm.v, &k->alg) != MN_OK) {
		diag_error(diag, &t->algorithm.pos, "unknown TSIG algorithm '%s'", t->algorithm.v);
		return MN_EPOLICY;
	}
	if (t->secret_file.v == NULL) {
		diag_error(diag, &t->pos, "TSIG key '%s' has no secret_file", k->name);
		return MN_EPOLICY;
	}
	char *text = NULL;
	size_t len = 0;
	int r = mn_file_read(t->secret_file.v, &text, &len);
	if (r < 0) {
		diag_error(diag, &t->secret_file.pos, "cannot read TSIG secret %s (%s)",
			   t->secret_file.v, mn_strerror(r));
		return MN_EPOLICY;
	}
	/* the file holds the base64 secret; a "secret:" prefix or quotes are tolerated */
	char *s = text;
	char *colon = strrchr(s, ':');
	if (colon != NULL)
		s = colon + 1;
	for (char *p = s; *p; p++)
		if (*p == '"' || *p == ';')
			*p = ' ';
	r = xfr_base64_decode(s, k->secret, sizeof(k->secret));
	memset(text, 0, len);
	free(text);
	if (r <= 0) {
		diag_error(diag, &t->secret_file.pos, "TSIG secret %s is not base64",
			   t->secret_file.v);
		return MN_EPOLICY;
	}
	k->secret_len = (size_t)r;
	return MN_OK;
}

int xfr_conf_new(const policy_t *p, diag_t *diag, xfr_conf_t **out)
{
	if (p == NULL || diag == NULL || out == NULL)
		return MN_EINVAL;
	const policy_server_t *s = &p->server;
	int r = MN_ENOMEM;
	xfr_conf_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return MN_ENOMEM;
	c->notify_key = -1;
	if (s->state_dir.v != NULL && (c->state_dir = mn_strdup(s->state_dir.v)) == NULL)
		goto fail;
	size_t na = s->transfer.allow.n, nk = s->transfer.tsig.n, nn = s->transfer.notify.n;
	c->nets = calloc(na ? na : 1, sizeof(*c->nets));
	c->keys = calloc(nk ? nk : 1, sizeof(*c->keys));
	c->notify = calloc(nn ? nn : 1, sizeof(*c->notify));
	if (c->nets == NULL || c->keys == NULL || c->notify == NULL)
		goto fail;
	r = MN_OK;
	for (size_t i = 0; i < nk; i++)
		if (key_load(&s->transfer.tsig.v[i], &c->keys[c->nkeys], diag) == MN_OK)
			c->nkeys++;
		else
			r = MN_EPOLICY;
	for (size_t i = 0; i < na; i++) {
		const policy_str_t *a = &s->transfer.allow.v[i];
		if (strncmp(a->v, "key:", 4) == 0) {
			char name[256];
			bool found = false;
			if (mn_name_norm(a->v + 4, name, sizeof(name)) == MN_OK)
				for (size_t j = 0; j < c->nkeys; j++)
					if (strcmp(c->keys[j].name, name) == 0) {
						c->keys[j].allowed = true;
						found = true;
						if (c->notify_key < 0)
							c->notify_key = (int)j;
					}
			if (!found && r == MN_OK) {
				diag_error(diag, &a->pos, "unknown TSIG key in '%s'", a->v);
				r = MN_EPOLICY;
			}
		} else if (mn_net_parse(a->v, 0, true, &c->nets[c->nnets]) == MN_OK) {
			c->nnets++;
		} else {
			diag_error(diag, &a->pos, "invalid network '%s'", a->v);
			r = MN_EPOLICY;
		}
	}
	for (size_t i = 0; i < nn; i++) {
		const policy_str_t *a = &s->transfer.notify.v[i];
		if (xfr_addr_parse(a->v, &c->notify[c->nnotify]) == MN_OK) {
			c->nnotify++;
		} else {
			diag_error(diag, &a->pos, "invalid notify address '%s'", a->v);
			r = MN_EPOLICY;
		}
	}
	if (r < 0)
		goto fail;
	*out = c;
	return MN_OK;
fail:
	xfr_conf_free(c);
	return r;
}

bool xfr_acl_match(const xfr_conf_t *c, const struct sockaddr *peer)
{
	if (c == NULL || peer == NULL)
		return false;
	uint8_t a[16];
	int fam;
	if (peer->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)peer)->sin_addr, 4);
		fam = 4;
	} else if (peer->sa_family == AF_INET6) {
		const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(b, mapped, 12) == 0) {
			memcpy(a, b + 12, 4);
			fam = 4;
		} else {
			memcpy(a, b, 16);
			fam = 6;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < c->nnets; i++) {
		const mn_net_t *n = &c->nets[i];
		if (n->family != fam)
			continue;
		unsigned int full = n->prefix / 8u, rest = n->prefix % 8u;
		if (memcmp(a, n->addr, full) != 0)
			continue;
		if (rest != 0) {
			uint8_t mask = (uint8_t)(0xff << (8 - rest));
			if ((a[full] & mask) != (n->addr[full] & mask))
				continue;
		}
		return true;
	}
	return false;
}

/* ---- transfers ---- */

struct xfr {
	zset_t *zs;			/* reference held while the transfer runs */
	const zone_t *zone;
	zone_rr_t *seq;			/* IXFR: the records to send (into jbuf) */
	uint8_t *jbuf;
	size_t n, i;			/* records in the sequence, next one */
	bool ixfr;
	uint8_t question[260];
	size_t qlen;
	uint16_t id, flags;
	bool signed_;			/* sign every message with key */
	xfr_key_t key;
	uint8_t mac[64];
	size_t mac_len;
	uint64_t now;
};

void xfr_free(xfr_t *x)
{
	if (x == NULL)
		return;
	zset_unref(x->zs);
	free(x->seq);
	free(x->jbuf);
	memset(&x->key, 0, sizeof(x->key));
	free(x);
}

bool xfr_is_ixfr(const xfr_t *x)
{
	return x != NULL && x->ixfr;
}

/* The record at position i of the transfer: AXFR is SOA, the rest, SOA. */
static const zone_rr_t *seq_at(const xfr_t *x, size_t i)
{
	if (x->ixfr)
		return &x->seq[i];
	if (i == zone_nrrs(x->zone))
		return zone_rr(x->zone, 0);
	return zone_rr(x->zone, i);
}

static size_t rr_put(uint8_t *p, const zone_rr_t *rr)
{
	memcpy(p, rr->owner, rr->owner_len);
	p += rr->owner_len;
	mn_put16(p, rr->type);
	mn_put16(p + 2, CLASS_IN);
	mn_put32(p + 4, rr->ttl);
	mn_put16(p + 8, rr->rdlen);
	memcpy(p + 10, rr->rdata, rr->rdlen);
	return rr->owner_len + 10u + rr->rdlen;
}

int xfr_next(xfr_t *x, uint8_t *out, size_t cap, size_t *outlen)
{
	if (x == NULL || out == NULL || outlen == NULL || cap < XFR_MSG_MAX + TSIG_RESERVE)
		return MN_EINVAL;
	if (x->i >= x->n)
		return 0;
	bool first = x->i == 0;
	memset(out, 0, 12);
	mn_put16(out, x->id);
	mn_put16(out + 2, x->flags);
	size_t o = 12;
	if (first) {
		memcpy(out + 12, x->question, x->qlen);
		mn_put16(out + 4, 1);
		o += x->qlen;
	}
	uint16_t an = 0;
	while (x->i < x->n) {
		const zone_rr_t *rr = seq_at(x, x->i);
		size_t need = rr->owner_len + 10u + rr->rdlen;
		if (an > 0 && o + need > XFR_MSG_MAX)
			break;
		if (o + need + TSIG_RESERVE > cap)
			return MN_ESPACE;	/* one record larger than a message */
		o += rr_put(out + o, rr);
		an++;
		x->i++;
	}
	mn_put16(out + 6, an);
	if (x->signed_) {
		uint8_t mac[64];
		size_t mac_len = 0;
		int r = xfr_tsig_sign(&x->key, out, &o, cap, x->mac, x->mac_len, !first, 0, x->now,
				      mac, &mac_len);
		if (r < 0)
			return r;
		memcpy(x->mac, mac, mac_len);
		x->mac_len = mac_len;
	}
	*outlen = o;
	return 1;
}

/* Skips a (possibly compressed) name; returns the offset after it, or 0. */
static size_t skip_name(const uint8_t *q, size_t len, size_t o)
{
	for (size_t n = 0; n < 128; n++) {
		if (o >= len)
			return 0;
		uint8_t l = q[o];
		if ((l & 0xc0) == 0xc0)
			return o + 2 <= len ? o + 2 : 0;
		if (l & 0xc0)
			return 0;
		o += l + 1u;
		if (l == 0)
			return o <= len ? o : 0;
	}
	return 0;
}

/* The client's serial from the SOA in the authority section of an IXFR query. */
static bool ixfr_serial(const uint8_t *q, size_t len, size_t o, uint32_t *serial)
{
	if (mn_get16(q + 8) < 1)
		return false;
	for (unsigned int i = 0; i < mn_get16(q + 6); i++) {	/* answers: skip */
		o = skip_name(q, len, o);
		if (o == 0 || o + 10 > len)
			return false;
		o += 10u + mn_get16(q + o + 8);
	}
	o = skip_name(q, len, o);
	if (o == 0 || o + 10 > len || mn_get16(q + o) != ZONE_T_SOA)
		return false;
	size_t rd = o + 10, end = rd + mn_get16(q + o + 8);
	if (end > len)
		return false;
	size_t p = skip_name(q, end, rd);
	if (p != 0)
		p = skip_name(q, end, p);
	if (p == 0 || p + 20 > end)
		return false;
	*serial = mn_get32(q + p);
	return true;
}

/* A response with no records (rcode), or with the SOA when soa is not NULL. */
static int respond(const uint8_t *q, size_t qend, int rcode, const zone_rr_t *soa,
		   const xfr_key_t *key, uint16_t tsig_error, const xfr_tsig_t *t, uint64_t now,
		   uint8_t *out, size_t cap, size_t *outlen)
{
	if (qend + (soa ? soa->owner_len + 10u + soa->rdlen : 0) + TSIG_RESERVE > cap)
		return XFR_DROP;
	memcpy(out, q, qend);
	uint16_t flags = (uint16_t)(FLAG_QR | (mn_get16(q + 2) & FLAG_RD) | rcode);
	if (rcode == 0 || soa != NULL)
		flags |= FLAG_AA;
	mn_put16(out + 2, flags);
	mn_put16(out + 4, 1);
	mn_put16(out + 6, 0);
	mn_put16(out + 8, 0);
	mn_put16(out + 10, 0);
	size_t o = qend;
	if (soa != NULL) {
		o += rr_put(out + o, soa);
		mn_put16(out + 6, 1);
	}
	if (key != NULL &&
	    xfr_tsig_sign(key, out, &o, cap, t->mac, t->mac_len, false, tsig_error, now, NULL, NULL) < 0)
		return XFR_DROP;
	*outlen = o;
	return XFR_SEND;
}

/* The records of the journal chain in buf: SOA(new), each diff, SOA(new). */
static int ixfr_seq(xfr_t *x, const uint8_t *buf, size_t len)
{
	size_t cap = 64, n = 0;
	zone_rr_t *v = malloc(cap * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	v[n++] = *zone_rr(x->zone, 0);
	for (size_t o = 0; o < len;) {
		if (o + 16 > len)
			goto bad;
		size_t count = (size_t)mn_get32(buf + o + 8) + mn_get32(buf + o + 12);
		o += 16;
		for (size_t i = 0; i < count; i++) {
			if (o >= len || o + 1u + buf[o] + 8 > len)
				goto bad;
			if (n + 2 > cap) {
				zone_rr_t *nv = realloc(v, cap * 2 * sizeof(*v));
				if (nv == NULL) {
					free(v);
					return MN_ENOMEM;
				}
				v = nv;
				cap *= 2;
			}
			zone_rr_t *rr = &v[n++];
			rr->owner_len = buf[o];
			rr->owner = (uint8_t *)buf + o + 1;
			o += 1u + rr->owner_len;
			rr->type = mn_get16(buf + o);
			rr->ttl = mn_get32(buf + o + 2);
			rr->rdlen = mn_get16(buf + o + 6);
			rr->rdata = (uint8_t *)buf + o + 8;
			o += 8u + rr->rdlen;
			if (o > len)
				goto bad;
		}
	}
	v[n++] = *zone_rr(x->zone, 0);
	x->seq = v;
	x->n = n;
	return MN_OK;
bad:
	free(v);
	return MN_ESTATE;
}

int xfr_request(const xfr_conf_t *conf, zset_t *zs, const uint8_t *q, size_t qlen,
		const struct sockaddr *peer, bool tcp, uint64_t now,
		uint8_t *out, size_t cap, size_t *outlen, xfr_t **job)
{
	if (zs == NULL || q == NULL || out == NULL || outlen == NULL || job == NULL || qlen < 12)
		return XFR_NOT;
	*job = NULL;
	if ((q[2] & 0x80) || ((q[2] >> 3) & 0x0f) != 0 || mn_get16(q + 4) != 1)
		return XFR_NOT;
	/*
	 * Every UDP and TCP query passes here first: find the question type by
	 * skipping the labels, and leave anything but a transfer at once.
	 */
	size_t o = 12;
	for (;;) {
		if (o >= qlen || (q[o] & 0xc0) || o + q[o] + 1u > qlen)
			return XFR_NOT;
		uint8_t l = q[o];
		o += l + 1u;
		if (l == 0)
			break;
	}
	size_t n = o - 12;	/* the name's length */
	if (n > 255 || o + 4 > qlen)
		return XFR_NOT;
	uint16_t qtype = mn_get16(q + o), qclass = mn_get16(q + o + 2);
	size_t qend = o + 4;
	if ((qtype != ZONE_T_AXFR && qtype != ZONE_T_IXFR) || qclass != CLASS_IN)
		return XFR_NOT;
	/* the name lowercased (label length bytes are <= 63, below 'A') */
	uint8_t low[256];
	for (size_t i = 0; i < n; i++) {
		uint8_t c = q[12 + i];
		low[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
	}

	xfr_tsig_t t;
	if (xfr_tsig_verify(conf, q, qlen, now, &t) < 0)
		return respond(q, qend, RCODE_FORMERR, NULL, NULL, 0, NULL, now, out, cap, outlen);
	const xfr_key_t *key = NULL;
	xfr_key_t badkey;
	if (t.present && t.error != 0) {
		if (t.key >= 0) {
			key = &conf->keys[t.key];
		} else {
			/* BADKEY: echo the key name and algorithm, unsigned */
			memset(&badkey, 0, sizeof(badkey));
			memcpy(badkey.wire, t.name, t.name_len);
			badkey.wire_len = t.name_len;
			badkey.alg = t.alg >= 0 ? (xfr_alg_t)t.alg : XFR_HMAC_SHA256;
			key = &badkey;
		}
		xfr_tsig_log(peer, t.error, t.key >= 0 ? key->name : NULL, now);
		return respond(q, qend, RCODE_NOTAUTH, NULL, key, t.error, &t, now, out, cap, outlen);
	}
	if (t.present)
		key = &conf->keys[t.key];
	bool allowed = xfr_acl_match(conf, peer) || (key != NULL && key->allowed);
	if (!allowed)
		return respond(q, qend, RCODE_REFUSED, NULL, key, 0, &t, now, out, cap, outlen);
	if (!tcp && qtype == ZONE_T_AXFR)
		return respond(q, qend, RCODE_FORMERR, NULL, key, 0, &t, now, out, cap, outlen);
	zset_result_t res;
	zset_lookup(zs, low, n, ZONE_T_SOA, &res);
	if (res.status == ZSET_REFUSED)
		return respond(q, qend, RCODE_REFUSED, NULL, key, 0, &t, now, out, cap, outlen);
	const zone_t *z = res.zone;
	if (zone_apex_len(z) != n || zone_nrrs(z) == 0 || zone_rr(z, 0)->type != ZONE_T_SOA)
		return respond(q, qend, RCODE_NOTAUTH, NULL, key, 0, &t, now, out, cap, outlen);

	uint32_t client = 0;
	bool have_serial = false;
	if (qtype == ZONE_T_IXFR) {
		if (!ixfr_serial(q, t.present ? t.stripped_len : qlen, qend, &client))
			return respond(q, qend, RCODE_FORMERR, NULL, key, 0, &t, now, out, cap, outlen);
		have_serial = true;
		/* up to date (RFC 1995 2), or UDP: the SOA alone ("use TCP") */
		if ((int32_t)(zone_serial(z) - client) <= 0 || !tcp)
			return respond(q, qend, 0, zone_rr(z, 0), key, 0, &t, now, out, cap, outlen);
	}

	xfr_t *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return XFR_DROP;
	x->zone = z;
	x->id = mn_get16(q);
	x->flags = (uint16_t)(FLAG_QR | FLAG_AA | (mn_get16(q + 2) & FLAG_RD));
	memcpy(x->question, q + 12, qend - 12);
	x->qlen = qend - 12;
	x->now = now;
	if (key != NULL) {
		x->signed_ = true;
		x->key = *key;
		memcpy(x->mac, t.mac, t.mac_len);
		x->mac_len = t.mac_len;
	}
	x->n = zone_nrrs(z) + 1;
	if (have_serial && conf != NULL && conf->state_dir != NULL) {
		uint8_t *buf = NULL;
		size_t len = 0;
		if (xfr_journal_chain(conf->state_dir, z, client, &buf, &len) == MN_OK) {
			x->jbuf = buf;
			x->ixfr = true;
			if (ixfr_seq(x, buf, len) != MN_OK) {
				x->ixfr = false;	/* a broken journal: a full transfer */
				free(x->jbuf);
				x->jbuf = NULL;
				x->n = zone_nrrs(z) + 1;
			}
		}
	}
	x->zs = zset_ref(zs);
	mn_log(qtype == ZONE_T_AXFR ? MN_LOG_DEBUG : MN_LOG_INFO, "%s of %s serial %u%s%s", qtype == ZONE_T_AXFR ? "axfr" : x->ixfr ?
	       "ixfr" : "ixfr (full)", zone_name(z), zone_serial(z), key != NULL ? " key " : "",
	       key != NULL ? key->name : "");
	*job = x;
	return XFR_STREAM;
}
