/* SPDX-License-Identifier: GPL-3.0-or-later */
/* xfr.h -- zone transfers to secondaries: AXFR, IXFR (journal), NOTIFY and TSIG */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include <uv.h>

#include "policy/diag.h"
#include "policy/mn.h"
#include "policy/policy.h"
#include "zones/zset.h"

enum {
	XFR_MSG_MAX = 16384,		/* target size of one transfer message */
	XFR_TSIG_FUDGE = 300,
	XFR_JOURNAL_VERSIONS = 20,	/* versions kept per zone */
	XFR_JOURNAL_BYTES = 256 * 1024,	/* bytes kept per zone */
	/* TSIG errors (RFC 8945 5.2) */
	XFR_BADSIG = 16, XFR_BADKEY = 17, XFR_BADTIME = 18,
};

/* ---- configuration (from policy server.transfer) ---- */

typedef enum {
	XFR_HMAC_MD5 = 0, XFR_HMAC_SHA1, XFR_HMAC_SHA224, XFR_HMAC_SHA256,
	XFR_HMAC_SHA384, XFR_HMAC_SHA512,
} xfr_alg_t;

typedef struct xfr_key {
	char name[256];			/* normalized, "xfr1" */
	uint8_t wire[256];		/* lowercase wire form */
	uint16_t wire_len;
	xfr_alg_t alg;
	uint8_t secret[256];
	size_t secret_len;
	bool allowed;			/* listed as key:NAME in allow */
} xfr_key_t;

typedef union xfr_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
} xfr_addr_t;

/* Immutable once built; owned by whoever built it, freed with xfr_conf_free. */
typedef struct xfr_conf {
	mn_net_t *nets;			/* allowed networks */
	size_t nnets;
	xfr_key_t *keys;		/* every key of transfer.tsig */
	size_t nkeys;
	xfr_addr_t *notify;		/* NOTIFY targets */
	size_t nnotify;
	int notify_key;			/* index of the key that signs NOTIFY, or -1 */
	char *state_dir;		/* NULL: no journal */
} xfr_conf_t;

/*
 * Builds the transfer configuration of p: reads and decodes every secret file
 * (base64).  A problem is a diag error (MN_EPOLICY).  *out is freed with
 * xfr_conf_free (NULL is a no-op).
 */
int xfr_conf_new(const policy_t *p, diag_t *diag, xfr_conf_t **out);
void xfr_conf_free(xfr_conf_t *c);
/* Parses "ADDR", "ADDR:PORT", "[V6]:PORT" (port 53 by default). */
int xfr_addr_parse(const char *s, xfr_addr_t *out);
/* Writes the address of sa (IPv4 or IPv6, without the port) into buf; "?" for NULL or another family. */
void xfr_addr_text(const struct sockaddr *sa, char *buf, size_t size);
/* Is the peer address inside an allowed network? */
bool xfr_acl_match(const xfr_conf_t *c, const struct sockaddr *peer);
/* Decodes base64 text (whitespace ignored); returns the length or < 0. */
int xfr_base64_decode(const char *s, uint8_t *out, size_t cap);

/* ---- TSIG (RFC 8945) on wire messages ---- */

const char *xfr_alg_name(xfr_alg_t alg);		/* "hmac-sha256" */
int xfr_alg_parse(const char *s, xfr_alg_t *alg);	/* also accepts a final dot */

typedef struct xfr_tsig {
	bool present;			/* the message has a TSIG record */
	int key;			/* index in conf->keys, -1 unknown */
	int alg;			/* xfr_alg_t of the record, -1 unknown */
	uint16_t error;			/* 0, XFR_BADKEY, XFR_BADSIG, XFR_BADTIME */
	uint16_t orig_id;
	uint64_t time_signed;
	uint8_t mac[64];
	uint16_t mac_len;
	size_t stripped_len;		/* message length without the TSIG record */
	uint8_t name[256];		/* key name (wire, lowercase) as sent */
	uint16_t name_len;
} xfr_tsig_t;

/*
 * Appends a TSIG record to msg (len bytes, cap room) and increments ARCOUNT.
 * prior: the request MAC (response) or the previous message's MAC (next
 * message of a transfer), prior_len 0 for a request.  timers_only: digest
 * only the timers (RFC 8945 5.3.1 for later messages).  error: the TSIG error;
 * BADKEY and BADSIG are sent unsigned (MAC size 0).  The MAC is also written
 * to mac_out (64 bytes) when not NULL.
 */
int xfr_tsig_sign(const xfr_key_t *k, uint8_t *msg, size_t *len, size_t cap,
		  const uint8_t *prior, size_t prior_len, bool timers_only, uint16_t error,
		  uint64_t now, uint8_t *mac_out, size_t *mac_len_out);
/*
 * Finds a TSIG record (the last additional record) in msg and verifies it
 * against the keys of c (c may be NULL: unknown key).  Returns MN_OK with
 * *t filled (t->present false when there is none; t->error set when it fails),
 * or MN_ESYNTAX when the message does not parse.
 */
int xfr_tsig_verify(const xfr_conf_t *c, const uint8_t *msg, size_t len, uint64_t now,
		    xfr_tsig_t *t);

enum { XFR_TSIG_LOG_MAX = 10 };	/* TSIG failures logged a second, over every thread */
/*
 * Logs that a query from peer failed TSIG with error (XFR_BADKEY, ...) for
 * the configured key named key (NULL: unknown key), now the unix time; any
 * thread.  Spoofed queries are cheap: at most XFR_TSIG_LOG_MAX lines a
 * second (the last one says so), and the first failure of a later second
 * first logs how many were not logged.
 */
void xfr_tsig_log(const struct sockaddr *peer, uint16_t error, const char *key, uint64_t now);

/* ---- the journal (IXFR) ---- */

/*
 * One journal entry for a zone that changed from old to cur: the serials, the
 * deleted records (old SOA first) and the added records (new SOA first), each
 * as owner_len(1) owner type(2) ttl(4) rdlen(2) rdata.  *out is malloc'ed.
 */
int xfr_diff(const zone_t *old, const zone_t *cur, uint8_t **out, size_t *len);
/*
 * For each zone of cur whose serial differs from the same zone in old,
 * appends the difference to state_dir/journal/APEX.jnl (atomic rewrite,
 * bounded to XFR_JOURNAL_VERSIONS entries and XFR_JOURNAL_BYTES).  Returns
 * the number of journals written or < 0.
 */
int xfr_journal_update(const char *state_dir, const zones_t *old, const zones_t *cur);

/*
 * The journal entries that lead a zone from serial from to z->serial, one
 * after the other (each as xfr_diff writes it), in *out (malloc'ed).
 * MN_ENOENT when the journal does not have that chain.
 */
int xfr_journal_chain(const char *state_dir, const zone_t *z, uint32_t from, uint8_t **out,
		      size_t *len);

/* ---- serving transfers ---- */

typedef struct xfr xfr_t;	/* one transfer in progress: holds a zset reference */

enum {
	XFR_NOT = 0,		/* not a transfer query: answer it as usual */
	XFR_SEND = 1,		/* out holds the single response */
	XFR_STREAM = 2,		/* *job created: send xfr_next() until it returns 0 */
	XFR_DROP = 3,		/* send nothing */
};

/*
 * Looks at query q from peer.  AXFR/IXFR queries (opcode QUERY) get a
 * response or a transfer job; other queries XFR_NOT.
 * - Not allowed (address not in allow, and no valid TSIG of an allowed key):
 *   REFUSED.  A TSIG that fails: NOTAUTH with the TSIG error (RFC 8945 5.2).
 * - A name that is not a zone apex: NOTAUTH.
 * - UDP: AXFR gets FORMERR (RFC 5936 4.2: not defined over UDP); IXFR the
 *   current SOA alone (up to date, or "retry over TCP", RFC 1995 2).
 * - TCP: a job streaming messages of up to XFR_MSG_MAX bytes, each signed
 *   when the query was.
 * conf may be NULL (no transfers: REFUSED).
 */
int xfr_request(const xfr_conf_t *conf, zset_t *zs, const uint8_t *q, size_t qlen,
		const struct sockaddr *peer, bool tcp, uint64_t now,
		uint8_t *out, size_t cap, size_t *outlen, xfr_t **job);
/* Writes the next message (cap >= XFR_MSG_MAX + 1024); 1 written, 0 done, < 0 error. */
int xfr_next(xfr_t *x, uint8_t *out, size_t cap, size_t *outlen);
bool xfr_is_ixfr(const xfr_t *x);	/* incremental (from the journal) */
void xfr_free(xfr_t *x);		/* NULL is a no-op */

/* ---- NOTIFY (RFC 1996) ---- */

typedef struct xfr_notify xfr_notify_t;

enum {
	XFR_NOTIFY_TRIES = 5,		/* sent at 0, 1, 3, 7, 15 s; dropped at 31 s */
	XFR_NOTIFY_INFLIGHT = 512,	/* unanswered NOTIFYs at once, per target */
	XFR_NOTIFY_PER_TICK = 200,	/* new ones per 100 ms tick and target (2,000/s) */
};

/*
 * Creates the sender on loop (its timer and sockets are opened when needed).
 * Each message has a random ID; a response counts with the ID, from the
 * target, echoing the zone.
 */
int xfr_notify_new(uv_loop_t *loop, xfr_notify_t **out);
/*
 * Adds a listen address, in the order of server.listen, before the first
 * NOTIFY: a NOTIFY leaves from the first one of its target's family (port:
 * an ephemeral one), or, for a target off the host, from the first that is
 * neither loopback nor link-local.  None: the wildcard address.
 */
int xfr_notify_source(xfr_notify_t *n, const struct sockaddr *addr);
/*
 * Queues a NOTIFY to each target of conf for every zone of cur that is new or
 * whose serial differs in old (old NULL: every zone).  A zone already queued
 * for a target is not queued twice (its tries start again).
 */
void xfr_notify_changes(xfr_notify_t *n, const xfr_conf_t *conf, const zones_t *old,
			const zones_t *cur);
size_t xfr_notify_pending(const xfr_notify_t *n);	/* queued + in flight */
/* Closes every handle; the memory is freed in the close callbacks. */
void xfr_notify_close(xfr_notify_t *n);
