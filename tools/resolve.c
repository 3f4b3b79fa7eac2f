/* SPDX-License-Identifier: GPL-3.0-or-later */
/* resolve.c -- a small DNS client (ldns) asking one recursive resolver, bounded */
#include "tools/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "policy/mn.h"

enum { MAX_CNAME_HOPS = 8 };

struct resolve {
	ldns_resolver *res;
	char server[INET6_ADDRSTRLEN + 8];
	bool tcp;		/* resolve_new_tcp: one persistent connection */
	int fd;			/* that connection, -1 when closed */
	struct sockaddr_storage sa;	/* the server's address (tcp) */
	socklen_t salen;
};

static void set_err(char *err, size_t errsize, const char *fmt, const char *arg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, fmt, arg);
}

/*
 * "ADDR", "ADDR:PORT", "[ADDR]", "[ADDR]:PORT" into addr (text) and port.
 * A bare IPv6 address (more than one ':') has no port.
 */
static int parse_server(const char *s, char *addr, size_t addrsize, uint16_t *port)
{
	const char *host = s, *p = NULL;
	size_t hlen;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (e == NULL)
			return MN_EINVAL;
		host = s + 1;
		hlen = (size_t)(e - host);
		if (e[1] == ':')
			p = e + 2;
		else if (e[1] != '\0')
			return MN_EINVAL;
	} else {
		const char *c = strchr(s, ':');
		if (c != NULL && strchr(c + 1, ':') == NULL) {
			hlen = (size_t)(c - s);
			p = c + 1;
		} else {
			hlen = strlen(s);
		}
	}
	if (hlen == 0 || hlen >= addrsize)
		return MN_EINVAL;
	memcpy(addr, host, hlen);
	addr[hlen] = '\0';
	*port = 53;
	if (p != NULL) {
		char *end;
		if (*p < '0' || *p > '9')
			return MN_EINVAL;
		unsigned long v = strtoul(p, &end, 10);
		if (*end != '\0' || v == 0 || v > 65535)
			return MN_EINVAL;
		*port = (uint16_t)v;
	}
	return MN_OK;
}

static int resolve_open(const char *server, bool tcp, char *err, size_t errsize, resolve_t **out)
{
	if (out == NULL)
		return MN_EINVAL;
	resolve_t *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return MN_ENOMEM;
	r->fd = -1;
	r->tcp = tcp;
	int ret = MN_OK;
	if (server != NULL && server[0] != '\0') {
		char addr[INET6_ADDRSTRLEN + 1];
		uint16_t port;
		unsigned char buf[16];
		ldns_rdf *ns = NULL;
		if (parse_server(server, addr, sizeof(addr), &port) != MN_OK) {
			set_err(err, errsize, "bad resolver address '%s' (ADDR[:PORT] or [ADDR]:PORT)", server);
			ret = MN_EINVAL;
			goto fail;
		}
		if (inet_pton(AF_INET, addr, buf) == 1) {
			ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, addr);
		} else if (inet_pton(AF_INET6, addr, buf) == 1) {
			ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, addr);
		} else {
			set_err(err, errsize, "bad resolver address '%s' (not an IP address)", server);
			ret = MN_EINVAL;
			goto fail;
		}
		r->res = ldns_resolver_new();
		if (ns == NULL || r->res == NULL ||
		    ldns_resolver_push_nameserver(r->res, ns) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(ns);
			ret = MN_ENOMEM;
			goto fail;
		}
		ldns_rdf_deep_free(ns);
		ldns_resolver_set_port(r->res, port);
	} else {
		ldns_status s = ldns_resolver_new_frm_file(&r->res, NULL);
		if (s != LDNS_STATUS_OK) {
			r->res = NULL;
			set_err(err, errsize, "cannot read /etc/resolv.conf (%s)", ldns_get_errorstr_by_id(s));
			ret = MN_ENOENT;
			goto fail;
		}
		if (ldns_resolver_nameserver_count(r->res) == 0) {
			set_err(err, errsize, "%s", "no nameserver in /etc/resolv.conf");
			ret = MN_ENOENT;
			goto fail;
		}
		/* the first nameserver only */
		while (ldns_resolver_nameserver_count(r->res) > 1)
			ldns_rdf_deep_free(ldns_resolver_pop_nameserver(r->res));
	}

	ldns_resolver *res = r->res;
	ldns_resolver_set_recursive(res, true);
	ldns_resolver_set_dnssec(res, false);
	ldns_resolver_set_dnssec_cd(res, false);
	ldns_resolver_set_edns_udp_size(res, RESOLVE_EDNS_SIZE);
	ldns_resolver_set_fallback(res, true);
	ldns_resolver_set_usevc(res, false);
	ldns_resolver_set_igntc(res, false);
	ldns_resolver_set_defnames(res, false);
	ldns_resolver_set_dnsrch(res, false);
	ldns_resolver_set_random(res, false);
	ldns_resolver_set_retry(res, RESOLVE_TRIES);
	ldns_resolver_set_retrans(res, 0);
	ldns_resolver_set_timeout(res, (struct timeval){
		.tv_sec = RESOLVE_TIMEOUT_MS / 1000, .tv_usec = (RESOLVE_TIMEOUT_MS % 1000) * 1000 });

	/* "ADDR#PORT" for messages */
	ldns_rdf *ns0 = ldns_resolver_nameservers(res)[0];
	char *a = ldns_rdf2str(ns0);
	if (a == NULL) {
		ret = MN_ENOMEM;
		goto fail;
	}
	snprintf(r->server, sizeof(r->server), "%s#%u", a, (unsigned)ldns_resolver_port(res));
	free(a);
	if (tcp) {
		size_t len = 0;
		struct sockaddr_storage *sa = ldns_rdf2native_sockaddr_storage(ns0, ldns_resolver_port(res), &len);
		if (sa == NULL || len > sizeof(r->sa)) {
			free(sa);
			ret = MN_ENOMEM;
			goto fail;
		}
		memcpy(&r->sa, sa, len);
		r->salen = (socklen_t)len;
		free(sa);
	}
	*out = r;
	return MN_OK;
fail:
	resolve_free(r);
	return ret;
}

int resolve_new(const char *server, char *err, size_t errsize, resolve_t **out)
{
	return resolve_open(server, false, err, errsize, out);
}

int resolve_new_tcp(const char *server, char *err, size_t errsize, resolve_t **out)
{
	return resolve_open(server, true, err, errsize, out);
}

static void tcp_close(resolve_t *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

void resolve_free(resolve_t *r)
{
	if (r == NULL)
		return;
	tcp_close(r);
	if (r->res != NULL)
		ldns_resolver_deep_free(r->res);
	free(r);
}

const char *resolve_server(const resolve_t *r)
{
	return r != NULL ? r->server : "";
}

const char *resolve_type_name(uint16_t type)
{
	static _Thread_local char buf[16];
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	if (d != NULL && d->_name != NULL)
		return d->_name;
	snprintf(buf, sizeof(buf), "TYPE%u", (unsigned)type);
	return buf;
}

void resolve_result_clear(resolve_result_t *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n; i++)
		free(res->v[i]);
	free(res->v);
	memset(res, 0, sizeof(*res));
}

static void fail_why(resolve_result_t *res, const char *why)
{
	res->status = RESOLVE_FAIL;
	snprintf(res->why, sizeof(res->why), "%s", why);
}

/* The RDATA of rr as text (see resolve.h), malloc'd; NULL on ENOMEM. */
static char *rdata_text(const ldns_rr *rr)
{
	ldns_rr_type t = ldns_rr_get_type(rr);
	size_t nf = ldns_rr_rd_count(rr);
	if (t == LDNS_RR_TYPE_TXT) {
		size_t len = 0;
		for (size_t i = 0; i < nf; i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			if (ldns_rdf_size(f) > 0)
				len += ldns_rdf_size(f) - 1;
		}
		char *s = malloc(len + 1), *p = s;
		if (s == NULL)
			return NULL;
		for (size_t i = 0; i < nf; i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			const uint8_t *d = ldns_rdf_data(f);
			size_t n = ldns_rdf_size(f);
			if (n == 0)
				continue;
			size_t sl = d[0] < n - 1 ? d[0] : n - 1;
			for (size_t k = 0; k < sl; k++)
				*p++ = d[1 + k] != '\0' ? (char)d[1 + k] : '?';
		}
		*p = '\0';
		return s;
	}
	const ldns_rdf *name = NULL;
	if ((t == LDNS_RR_TYPE_NS || t == LDNS_RR_TYPE_CNAME || t == LDNS_RR_TYPE_PTR) && nf >= 1)
		name = ldns_rr_rdf(rr, 0);
	else if (t == LDNS_RR_TYPE_MX && nf >= 2)
		name = ldns_rr_rdf(rr, 1);
	if (name != NULL && ldns_rdf_get_type(name) == LDNS_RDF_TYPE_DNAME) {
		char buf[256];
		if (mn_name_from_wire(ldns_rdf_data(name), ldns_rdf_size(name), buf, sizeof(buf)) >= 0)
			return mn_strdup(buf);
		return mn_strdup("?");
	}
	/* anything else: the presentation form of each field, space-separated */
	ldns_buffer *b = ldns_buffer_new(64);
	if (b == NULL)
		return NULL;
	for (size_t i = 0; i < nf; i++) {
		if (i > 0)
			ldns_buffer_printf(b, " ");
		ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, i));
	}
	char *s = ldns_buffer_export2str(b);
	ldns_buffer_free(b);
	return s;
}

/* Fills res from a reply to (qname, type). */
static int collect(const ldns_pkt *pkt, const ldns_rdf *qname, uint16_t type, resolve_result_t *res)
{
	const ldns_rr_list *q = ldns_pkt_question(pkt);
	if (q == NULL || ldns_rr_list_rr_count(q) != 1 ||
	    ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(q, 0)), qname) != 0 ||
	    ldns_rr_get_type(ldns_rr_list_rr(q, 0)) != type) {
		fail_why(res, "reply to another question");
		return MN_OK;
	}
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(pkt);
	if (rc == LDNS_RCODE_NXDOMAIN) {
		res->status = RESOLVE_NXDOMAIN;
		return MN_OK;
	}
	if (rc != LDNS_RCODE_NOERROR) {
		const ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rc);
		char why[32];
		if (lt != NULL && lt->name != NULL)
			snprintf(why, sizeof(why), "%s", lt->name);
		else
			snprintf(why, sizeof(why), "RCODE%d", (int)rc);
		fail_why(res, why);
		return MN_OK;
	}
	if (ldns_pkt_tc(pkt)) {
		fail_why(res, "truncated");
		return MN_OK;
	}
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	size_t n = an ? ldns_rr_list_rr_count(an) : 0;
	/* follow a CNAME chain from the question name */
	const ldns_rdf *cur = qname;
	for (int hop = 0; type != LDNS_RR_TYPE_CNAME && hop < MAX_CNAME_HOPS; hop++) {
		const ldns_rdf *next = NULL;
		for (size_t i = 0; i < n && next == NULL; i++) {
			const ldns_rr *rr = ldns_rr_list_rr(an, i);
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1 &&
			    ldns_dname_compare(ldns_rr_owner(rr), cur) == 0)
				next = ldns_rr_rdf(rr, 0);
		}
		if (next == NULL)
			break;
		cur = next;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == type && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		    ldns_dname_compare(ldns_rr_owner(rr), cur) == 0)
			m++;
	}
	res->status = m > 0 ? RESOLVE_ANSWER : RESOLVE_NODATA;
	if (m == 0)
		return MN_OK;
	res->v = calloc(m, sizeof(*res->v));
	if (res->v == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != type || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), cur) != 0)
			continue;
		char *s = rdata_text(rr);
		if (s == NULL)
			return MN_ENOMEM;
		if (res->n == 0 || ldns_rr_ttl(rr) < res->ttl)
			res->ttl = ldns_rr_ttl(rr);
		res->v[res->n++] = s;
	}
	return MN_OK;
}

/* ---- TCP: one connection, length-prefixed messages (RFC 1035 4.2.2, RFC 7766) ---- */

/* Why a TCP exchange failed (not MN_E* codes): TCP_CLOSED is the server closing a connection. */
enum { TCP_FAIL = -2001, TCP_CLOSED = -2002 };

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for ev on fd until deadline: MN_OK, or TCP_FAIL with *why "timeout". */
static int tcp_wait(int fd, short ev, int64_t deadline, const char **why)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			*why = "timeout";
			return TCP_FAIL;
		}
		struct pollfd p = { .fd = fd, .events = ev };
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return MN_OK;
		if (n < 0 && errno != EINTR) {
			*why = strerror(errno);
			return TCP_FAIL;
		}
	}
}

static int tcp_connect(resolve_t *r, int64_t deadline, const char **why)
{
	int fd = socket(r->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return TCP_FAIL;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&r->sa, r->salen) != 0) {
		if (errno != EINPROGRESS) {
			*why = strerror(errno);
			goto fail;
		}
		if (tcp_wait(fd, POLLOUT, deadline, why) != MN_OK)
			goto fail;
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
			e = errno;
		if (e != 0) {
			*why = strerror(e);
			goto fail;
		}
	}
	r->fd = fd;
	return MN_OK;
fail:
	close(fd);
	return TCP_FAIL;
}

static int tcp_send(int fd, const uint8_t *p, size_t len, int64_t deadline, const char **why)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			if (tcp_wait(fd, POLLOUT, deadline, why) != MN_OK)
				return TCP_FAIL;
		} else {
			int err = n == 0 ? EPIPE : errno;
			*why = n == 0 ? "connection closed" : strerror(err);
			return err == EPIPE || err == ECONNRESET ? TCP_CLOSED : TCP_FAIL;
		}
	}
	return MN_OK;
}

/* Reads exactly len bytes; TCP_CLOSED when the server closed or reset the connection. */
static int tcp_recv(int fd, uint8_t *p, size_t len, int64_t deadline, const char **why)
{
	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == 0) {
			*why = "connection closed";
			return TCP_CLOSED;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			if (tcp_wait(fd, POLLIN, deadline, why) != MN_OK)
				return TCP_FAIL;
		} else {
			int err = errno;
			*why = strerror(err);
			return err == ECONNRESET ? TCP_CLOSED : TCP_FAIL;
		}
	}
	return MN_OK;
}

/*
 * One try: the query (2-byte length first) on the connection, opened if
 * needed, and its reply (malloc'd in *reply).  Closes the connection on any
 * failure, so that a late reply is never read as the next query's.
 */
static int tcp_try(resolve_t *r, const uint8_t *msg, size_t len, uint8_t **reply, size_t *rlen,
		   const char **why)
{
	int64_t deadline = now_ms() + RESOLVE_TIMEOUT_MS;
	uint8_t hdr[2];
	uint8_t *buf = NULL;
	int e;
	if (r->fd < 0 && (e = tcp_connect(r, deadline, why)) != MN_OK)
		return e;
	if ((e = tcp_send(r->fd, msg, len, deadline, why)) != MN_OK ||
	    (e = tcp_recv(r->fd, hdr, 2, deadline, why)) != MN_OK)
		goto fail;
	size_t m = (size_t)hdr[0] << 8 | hdr[1];
	if (m < 12) {
		*why = "bad reply length";
		e = TCP_FAIL;
		goto fail;
	}
	if ((buf = malloc(m)) == NULL) {
		e = MN_ENOMEM;
		goto fail;
	}
	if ((e = tcp_recv(r->fd, buf, m, deadline, why)) != MN_OK)
		goto fail;
	if (buf[0] != msg[2] || buf[1] != msg[3]) {	/* the ID, after the query's length */
		*why = "reply with another ID";
		e = TCP_FAIL;
		goto fail;
	}
	*reply = buf;
	*rlen = m;
	return MN_OK;
fail:
	free(buf);
	tcp_close(r);
	return e;
}

/*
 * The reply to (qname, type) over the connection: up to RESOLVE_TRIES tries,
 * plus one more on a new connection when the server had closed the one kept
 * open (a reused connection: its idle timeout).  *pkt NULL and *why set when
 * there is none.
 */
static int tcp_query(resolve_t *r, const ldns_rdf *qname, uint16_t type, ldns_pkt **pkt, const char **why)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL, *msg = NULL, *reply = NULL;
	size_t wlen = 0, rlen = 0;
	int ret = MN_OK;
	*pkt = NULL;
	ldns_status s = ldns_resolver_prepare_query_pkt(&q, r->res, qname, (ldns_rr_type)type,
							LDNS_RR_CLASS_IN, LDNS_RD);
	if (s == LDNS_STATUS_OK) {
		ldns_pkt_set_random_id(q);
		s = ldns_pkt2wire(&wire, q, &wlen);
	}
	if (s != LDNS_STATUS_OK || wlen > 65535) {
		ret = s == LDNS_STATUS_MEM_ERR ? MN_ENOMEM : MN_EINVAL;
		goto out;
	}
	if ((msg = malloc(wlen + 2)) == NULL) {
		ret = MN_ENOMEM;
		goto out;
	}
	msg[0] = (uint8_t)(wlen >> 8);
	msg[1] = (uint8_t)wlen;
	memcpy(msg + 2, wire, wlen);
	bool reopened = false;
	int e = TCP_FAIL;
	for (int tries = RESOLVE_TRIES; tries > 0;) {
		bool reused = r->fd >= 0;
		e = tcp_try(r, msg, wlen + 2, &reply, &rlen, why);
		if (e == MN_OK || e == MN_ENOMEM)
			break;
		if (e == TCP_CLOSED && reused && !reopened)
			reopened = true;	/* closed while idle: once more, on a new one */
		else
			tries--;
	}
	if (e == MN_ENOMEM) {
		ret = e;
		goto out;
	}
	if (e == MN_OK) {
		s = ldns_wire2pkt(pkt, reply, rlen);
		if (s == LDNS_STATUS_MEM_ERR) {
			ret = MN_ENOMEM;
			goto out;
		}
		if (s != LDNS_STATUS_OK) {
			*pkt = NULL;
			*why = "malformed reply";
		}
	}
out:
	free(reply);
	free(msg);
	free(wire);
	ldns_pkt_free(q);
	return ret;
}

/* The reply to (qname, type) over UDP (TCP when truncated), as tcp_query. */
static int udp_query(resolve_t *r, const ldns_rdf *qname, uint16_t type, ldns_pkt **pkt, const char **why)
{
	ldns_status s = ldns_resolver_query_status(pkt, r->res, qname, (ldns_rr_type)type,
						   LDNS_RR_CLASS_IN, LDNS_RD);
	if (s == LDNS_STATUS_OK)
		return MN_OK;
	ldns_pkt_free(*pkt);
	*pkt = NULL;
	if (s == LDNS_STATUS_MEM_ERR)
		return MN_ENOMEM;
	*why = s == LDNS_STATUS_NETWORK_ERR ? "timeout" : ldns_get_errorstr_by_id(s);
	return MN_OK;
}

int resolve_query(resolve_t *r, const char *name, uint16_t type, resolve_result_t *res)
{
	if (r == NULL || name == NULL || res == NULL)
		return MN_EINVAL;
	char abs[258];
	size_t len = strlen(name);
	if (len > 253)
		return MN_EINVAL;
	snprintf(abs, sizeof(abs), "%s%s", name, (len > 0 && name[len - 1] == '.') ? "" : ".");
	ldns_rdf *qname = ldns_dname_new_frm_str(abs);
	if (qname == NULL)
		return MN_EINVAL;
	resolve_result_t tmp = { 0 };
	ldns_pkt *pkt = NULL;
	const char *why = "no reply";
	int ret = r->tcp ? tcp_query(r, qname, type, &pkt, &why) : udp_query(r, qname, type, &pkt, &why);
	if (ret != MN_OK)
		goto fail;
	if (pkt == NULL)
		fail_why(&tmp, why != NULL ? why : "no reply");
	else if ((ret = collect(pkt, qname, type, &tmp)) != MN_OK)
		goto fail;
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(qname);
	*res = tmp;
	return MN_OK;
fail:
	resolve_result_clear(&tmp);
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(qname);
	return ret;
}
