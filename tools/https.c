/* SPDX-License-Identifier: GPL-3.0-or-later */
/* https.c -- one bounded HTTPS GET (OpenSSL): certificate and name verified, no redirect followed */
#include "tools/https.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "policy/mn.h"

#define HEAD_MAX 16384	/* the status line and headers */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_why(https_result_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(https_result_t *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

/* Waits until fd is ready for ev; false on the deadline or an error. */
static bool wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return false;
		struct pollfd p = { .fd = fd, .events = ev };
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0;
	}
}

/* A non-blocking TCP connection to addr:port, or -1 with why. */
static int tcp_open(const char *addr, uint16_t port, int64_t deadline, https_result_t *res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	if (getaddrinfo(addr, ps, &hints, &ai) != 0 || ai == NULL) {
		set_why(res, "bad address %s", addr);
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_why(res, "%s: %s", addr, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	int err = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		err = errno;
		if (err == EINPROGRESS) {
			socklen_t el = sizeof(err);
			if (!wait_fd(fd, POLLOUT, deadline))
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				err = errno;
		}
	}
	freeaddrinfo(ai);
	if (err != 0) {
		set_why(res, "cannot connect to %s port %u (%s)", addr, (unsigned)port,
			err == ETIMEDOUT ? "timeout" : strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * After an SSL call returned rc: waits for what it wants; false (why set)
 * when it failed or the deadline passed.
 */
static bool ssl_wait(SSL *ssl, int rc, int fd, int64_t deadline, const char *what, https_result_t *res)
{
	int e = SSL_get_error(ssl, rc);
	short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
	if (ev != 0 && wait_fd(fd, ev, deadline))
		return true;
	if (ev != 0) {
		set_why(res, "timeout during the %s", what);
		return false;
	}
	long v = SSL_get_verify_result(ssl);
	unsigned long le = ERR_peek_last_error();
	if (v != X509_V_OK)
		set_why(res, "the certificate does not verify (%s)", X509_verify_cert_error_string(v));
	else if (le != 0)
		set_why(res, "TLS %s failed (%s)", what, ERR_reason_error_string(le) ? ERR_reason_error_string(le) : "?");
	else
		set_why(res, "TLS %s failed (the connection was closed)", what);
	return false;
}

/* Did SSL_read's rc mean the server closed the connection (with or without close_notify)? */
static bool closed(SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
		return true;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING	/* OpenSSL 3 */
	if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return true;
#endif
	return false;
}

/* Parses the response in buf; fills res. */
static int parse_response(char *buf, size_t len, size_t max_body, https_result_t *res)
{
	char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (end == NULL) {
		set_why(res, "no complete HTTP response");
		return MN_OK;
	}
	*end = '\0';
	char *body = end + 4;
	size_t blen = len - (size_t)(body - buf);
	int major = 0, minor = 0, status = 0;
	if (sscanf(buf, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 || status < 100 || status > 999) {
		set_why(res, "not an HTTP response");
		return MN_OK;
	}
	res->status = status;
	long long clen = -1;
	bool chunked = false;
	for (char *line = strstr(buf, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtoll(line + 15, NULL, 10);
		else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
			chunked = true;
	}
	if (status >= 300 && status < 400) {
		set_why(res, "HTTP %d, a redirect (not followed: RFC 8461 3.3)", status);
		return MN_OK;
	}
	if (status != 200) {
		set_why(res, "HTTP %d", status);
		return MN_OK;
	}
	if (chunked) {
		set_why(res, "a transfer coding in an answer to HTTP/1.0");
		return MN_OK;
	}
	if (blen > max_body) {
		set_why(res, "larger than %zu bytes", max_body);
		return MN_OK;
	}
	if (clen >= 0 && (size_t)clen != blen) {
		set_why(res, "truncated (%zu of %lld bytes)", blen, clen);
		return MN_OK;
	}
	res->body = malloc(blen + 1);
	if (res->body == NULL)
		return MN_ENOMEM;
	memcpy(res->body, body, blen);
	res->body[blen] = '\0';
	res->len = blen;
	return MN_OK;
}

/* One exchange over a connected fd. */
static int exchange(SSL_CTX *ctx, int fd, const char *host, const char *path, size_t max_body,
		    int64_t deadline, https_result_t *res)
{
	int r = MN_ENOMEM;
	size_t cap = HEAD_MAX + max_body + 1, len = 0;
	char *buf = malloc(cap);
	char req[1200];
	SSL *ssl = SSL_new(ctx);
	if (buf == NULL || ssl == NULL)
		goto fail;
	r = MN_OK;
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, host);
	if (SSL_set1_host(ssl, host) != 1) {
		set_why(res, "cannot check the name %s", host);
		goto fail;
	}
	int rc;
	while ((rc = SSL_connect(ssl)) != 1)
		if (!ssl_wait(ssl, rc, fd, deadline, "handshake", res))
			goto fail;
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: mailns\r\nAccept: text/plain\r\n\r\n", path, host);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		r = MN_EINVAL;
		goto fail;
	}
	for (int off = 0; off < n;) {
		rc = SSL_write(ssl, req + off, n - off);
		if (rc > 0)
			off += rc;
		else if (!ssl_wait(ssl, rc, fd, deadline, "request", res))
			goto fail;
	}
	for (;;) {
		if (len == cap) {
			set_why(res, "larger than %zu bytes", max_body);
			goto fail;
		}
		rc = SSL_read(ssl, buf + len, (int)(cap - len));
		if (rc > 0) {
			len += (size_t)rc;
			continue;
		}
		if (closed(ssl, rc))
			break;	/* the end of an HTTP/1.0 answer (Content-Length checks truncation) */
		if (!ssl_wait(ssl, rc, fd, deadline, "response", res))
			goto fail;
	}
	r = parse_response(buf, len, max_body, res);
fail:
	ERR_clear_error();
	SSL_free(ssl);
	free(buf);
	return r;
}

int https_get(const char *host, const char *const *addrs, size_t naddrs, const char *path,
	      const https_opts_t *opts, https_result_t *res)
{
	if (host == NULL || path == NULL || opts == NULL || res == NULL || (naddrs > 0 && addrs == NULL))
		return MN_EINVAL;
	memset(res, 0, sizeof(*res));
	int64_t deadline = now_ms() + (opts->timeout_ms > 0 ? opts->timeout_ms : HTTPS_TIMEOUT_MS);
	uint16_t port = opts->port != 0 ? opts->port : HTTPS_PORT;
	if (naddrs == 0) {
		set_why(res, "no address for %s", host);
		return MN_OK;
	}
	/* a server closing early must not kill the tool by SIGPIPE from OpenSSL's write() */
	signal(SIGPIPE, SIG_IGN);
	int r = MN_ENOMEM;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		goto fail;
	r = MN_OK;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (opts->ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, opts->ca_file, NULL) != 1
				  : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		set_why(res, "cannot load the trusted certificates%s%s", opts->ca_file ? " of " : "",
			opts->ca_file ? opts->ca_file : "");
		goto fail;
	}
	for (size_t i = 0; i < naddrs; i++) {
		int fd = tcp_open(addrs[i], port, deadline, res);
		if (fd < 0)
			continue;	/* the next address; why names this one */
		res->why[0] = '\0';
		r = exchange(ctx, fd, host, path, opts->max_body, deadline, res);
		close(fd);
		break;
	}
	assert(res->body != NULL || res->why[0] != '\0' || r != MN_OK);
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	if (r != MN_OK)
		https_result_clear(res);
	return r;
}

void https_result_clear(https_result_t *res)
{
	if (res == NULL)
		return;
	free(res->body);
	res->body = NULL;
	res->len = 0;
}
