/* SPDX-License-Identifier: GPL-3.0-or-later */
/* https.h -- one bounded HTTPS GET (OpenSSL): certificate and name verified, no redirect followed */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum { HTTPS_TIMEOUT_MS = 10000, HTTPS_PORT = 443 };

typedef struct https_opts {
	const char *ca_file;	/* PEM file of trusted CAs; NULL = the system store */
	uint16_t port;		/* 0 = HTTPS_PORT */
	int timeout_ms;		/* the whole exchange, every address; 0 = HTTPS_TIMEOUT_MS */
	size_t max_body;	/* a longer body is a failure ("larger than N bytes") */
} https_opts_t;

typedef struct https_result {
	int status;		/* the HTTP status; 0 when no response was read */
	char *body;		/* status 200: the body, NUL-terminated (may hold NULs: see len) */
	size_t len;
	char why[200];		/* no body: why, for messages ("HTTP 301 (a redirect, not followed)", ...) */
} https_result_t;

/*
 * GET https://host/path over HTTP/1.0 (the body ends at the close), connecting
 * to addrs (numeric IPv4/IPv6 text, tried in order until one connects) with
 * SNI host; the certificate chain is verified against opts->ca_file or the
 * system store, and its name must be host.  Only status 200 gives a body;
 * anything else (3xx included: never followed) fills why.  Everything is
 * bounded by opts->timeout_ms and the sizes.  Returns MN_OK with *res filled
 * (body or why), MN_EINVAL or MN_ENOMEM.  Free with https_result_clear().
 * Sets SIGPIPE to be ignored (a server closing early must not end the tool).
 */
int https_get(const char *host, const char *const *addrs, size_t naddrs, const char *path,
	      const https_opts_t *opts, https_result_t *res);
void https_result_clear(https_result_t *res);	/* NULL is a no-op */
