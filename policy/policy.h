/* SPDX-License-Identifier: GPL-3.0-or-later */
/* policy.h -- the typed model of a version-1 policy file, with positions */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/diag.h"
#include "policy/mn.h"

/*
 * Every value carries the position it came from.  A value whose pos.file is
 * NULL was not set (neither by the domain nor by `defaults:`); after loading,
 * domain values already include the merged defaults (per key), and their
 * positions point at wherever the value was written (the domain or defaults).
 * Built-in defaults (e.g. ttl 3600) have pos.file == NULL but are filled in.
 * Everything is owned by the policy_t and freed by policy_free().
 */
typedef struct { uint32_t v; mn_pos_t pos; } policy_u32_t;
typedef struct { int v; mn_pos_t pos; } policy_enum_t;
typedef struct { bool v; mn_pos_t pos; } policy_bool_t;
typedef struct { char *v; mn_pos_t pos; } policy_str_t;
typedef struct { policy_str_t *v; size_t n; mn_pos_t pos; } policy_strs_t;
typedef struct { mn_net_t net; mn_pos_t pos; } policy_net_t;
typedef struct { policy_net_t *v; size_t n; mn_pos_t pos; } policy_nets_t;

#define POLICY_SET(x) ((x).pos.file != NULL)

typedef enum { SPF_MODE_FLATTEN = 0, SPF_MODE_MACRO, SPF_MODE_AUTO, SPF_MODE_PLAIN } spf_mode_t;
/* `all:` fail (-all), softfail (~all), neutral (?all), pass (+all: accepted by the
 * parser so that validation can report it as an error at its position). */
typedef enum { SPF_ALL_FAIL = 0, SPF_ALL_SOFTFAIL, SPF_ALL_NEUTRAL, SPF_ALL_PASS } spf_all_t;

typedef struct policy_spf {
	bool present;			/* the domain (or defaults) has an spf: map */
	policy_enum_t mode;		/* spf_mode_t; default flatten */
	policy_nets_t ip4;		/* family 4 */
	policy_nets_t ip6;		/* family 6 */
	policy_strs_t a;		/* normalized domain names */
	policy_bool_t mx;
	policy_strs_t include;		/* normalized domain names */
	policy_enum_t all;		/* spf_all_t; default fail */
} policy_spf_t;

typedef enum {
	DKIM_ALG_RSA1024 = 0, DKIM_ALG_RSA2048, DKIM_ALG_RSA3072, DKIM_ALG_RSA4096,
	DKIM_ALG_ED25519, DKIM_ALG_COUNT
} dkim_alg_t;

typedef struct policy_selector {
	policy_str_t name;		/* the selector label(s), normalized lowercase */
	policy_str_t record;		/* "v=DKIM1; k=rsa; p=..." as written */
} policy_selector_t;

typedef struct policy_dkim {
	bool present;
	struct { policy_enum_t *v; size_t n; mn_pos_t pos; } algorithm;	/* dkim_alg_t each; default [rsa-2048] */
	policy_u32_t rotate_every;	/* seconds; default 90d */
	policy_u32_t publish_ahead;	/* default 3d */
	policy_u32_t retire_after;	/* default 7d */
	policy_u32_t revoked_for;	/* default 30d */
	policy_str_t on_change;		/* shell command, may be unset */
	struct { policy_selector_t *v; size_t n; mn_pos_t pos; } selectors;
} policy_dkim_t;

typedef enum { DMARC_P_NONE = 0, DMARC_P_QUARANTINE, DMARC_P_REJECT } dmarc_p_t;
typedef enum { DMARC_ALIGN_R = 0, DMARC_ALIGN_S } dmarc_align_t;
typedef enum { DMARC_PSD_Y = 0, DMARC_PSD_N, DMARC_PSD_U } dmarc_psd_t;

typedef struct policy_dmarc {
	bool present;
	policy_enum_t p;		/* dmarc_p_t; required when present (default none) */
	policy_enum_t sp, np;		/* dmarc_p_t; unset = not published */
	policy_enum_t psd;		/* dmarc_psd_t */
	policy_bool_t t;		/* t=y / t=n (RFC 9989 testing) */
	policy_enum_t adkim, aspf;	/* dmarc_align_t */
	policy_str_t fo;		/* "0", "1", "d", "s" joined by ':' as written */
	policy_strs_t rua, ruf;		/* URIs as written */
	policy_u32_t pct;		/* RFC 7489, removed by RFC 9989: warning */
	policy_str_t rf;		/* idem */
	policy_u32_t ri;		/* idem (seconds) */
	policy_strs_t authorize_reports_for;	/* normalized names, or "*" */
} policy_dmarc_t;

typedef enum { MTA_STS_ENFORCE = 0, MTA_STS_TESTING, MTA_STS_NONE } mta_sts_mode_t;

/* MTA-STS (RFC 8461) */
typedef struct policy_mta_sts {
	bool present;
	policy_enum_t mode;		/* mta_sts_mode_t; default testing */
	policy_strs_t mx;		/* patterns as written, lowercase: "mx1.example.com", "*.example.net" */
	policy_u32_t max_age;		/* seconds, <= 31557600; default 7d */
} policy_mta_sts_t;

/* SMTP TLS reporting (RFC 8460) */
typedef struct policy_tls_rpt {
	bool present;
	policy_strs_t rua;		/* mailto: or https: URIs; at least one */
} policy_tls_rpt_t;

/* BIMI: default._bimi */
typedef struct policy_bimi {
	bool present;
	policy_str_t logo;		/* l=: https URL of an .svg; required */
	policy_str_t authority;		/* a=: https URL; unset = a= omitted */
} policy_bimi_t;

/*
 * DNSSEC (issue 18): `dnssec: true | false` or a map { algorithm, keys,
 * zsk_lifetime, ksk_lifetime } (a map
 * means on), in server (every domain), defaults or a domain; a domain takes
 * each value it does not set from defaults, then from server.  The DNSSEC
 * algorithm numbers of RFC 8624.
 */
typedef enum { DNSSEC_ALG_ECDSAP256SHA256 = 13, DNSSEC_ALG_ED25519 = 15 } dnssec_alg_t;
typedef enum { DNSSEC_KEYS_CSK = 0, DNSSEC_KEYS_KSK_ZSK = 1 } dnssec_keys_t;

typedef struct policy_dnssec {
	bool present;
	policy_bool_t enabled;		/* default false */
	policy_enum_t algorithm;	/* dnssec_alg_t; default ecdsap256sha256 */
	policy_enum_t keys;		/* dnssec_keys_t; default csk */
	policy_u32_t zsk_lifetime;	/* seconds; a ZSK rolls after; default 90d, 0 = by hand only */
	policy_u32_t ksk_lifetime;	/* seconds, the KSK or CSK; default 0 = by hand only */
} policy_dnssec_t;

typedef struct policy_domain {
	char *name;			/* normalized: lowercase, no final dot */
	mn_pos_t pos;			/* of the key under `domains:` */
	policy_spf_t spf;
	policy_dkim_t dkim;
	policy_dmarc_t dmarc;
	policy_mta_sts_t mta_sts;
	policy_tls_rpt_t tls_rpt;
	policy_bimi_t bimi;
	policy_dnssec_t dnssec;
} policy_domain_t;

typedef struct policy_listen {
	char *text;			/* as written: "127.0.0.1:5353", "[::1]:5353" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	mn_pos_t pos;
} policy_listen_t;

typedef struct policy_tsig {
	char *name;			/* key name, normalized */
	policy_str_t algorithm;		/* hmac-sha256, hmac-sha512, ... */
	policy_str_t secret_file;	/* absolute path */
	mn_pos_t pos;
} policy_tsig_t;

typedef struct policy_server {
	struct { policy_listen_t *v; size_t n; mn_pos_t pos; } listen;	/* default 127.0.0.1:53 */
	policy_strs_t nameservers;	/* normalized names; required */
	policy_str_t hostmaster;	/* normalized name (mailbox form); required */
	policy_u32_t ttl;		/* default 3600 */
	policy_u32_t negative_ttl;	/* default 300 */
	policy_str_t state_dir;		/* absolute path (relative = to the policy's dir); default /var/lib/mailns */
	policy_str_t mta_sts_dir;	/* absolute path; unset = state_dir/mta-sts (zones/mtasts.c) */
	policy_dnssec_t dnssec;		/* every domain's, unless defaults or the domain set it */
	policy_u32_t dnssec_validity;	/* seconds a signature is valid; default 14d */
	policy_u32_t dnssec_refresh;	/* re-signed when less remains; default 7d, < validity */
	policy_u32_t tcp_idle_timeout;	/* seconds; default 10 */
	policy_u32_t tcp_max_clients;	/* all TCP connections; default 1000 */
	policy_u32_t tcp_max_per_ip;	/* per client address; default 32 */
	struct {
		policy_strs_t allow;	/* "192.0.2.53/32" or "key:NAME" */
		policy_strs_t notify;	/* "ADDR:PORT" / "[ADDR]:PORT" */
		struct { policy_tsig_t *v; size_t n; mn_pos_t pos; } tsig;
	} transfer;
	/* mailnsd operation (issue 9); read by server/ only */
	policy_str_t user;		/* run as this user after binding; "root" = stay root */
	policy_str_t group;		/* default: the user's primary group */
	policy_u32_t rate_limit;	/* UDP responses/s per /24 (IPv4) or /56 (IPv6); default 200; 0 = off */
	policy_u32_t rate_limit_slip;	/* every Nth limited response sent truncated; default 2; 0 = drop */
	policy_str_t identity;		/* NSID, id.server, hostname.bind; unset = none */
	policy_str_t version;		/* version.bind, version.server; unset = REFUSED */
	policy_str_t cookie_secret;	/* 32 hex digits (16 bytes); unset = random at start */
	policy_str_t metrics;		/* "ADDR:PORT" of the Prometheus endpoint; unset = off */
	policy_bool_t log_queries;	/* one log line per query; default false */
	policy_u32_t threads;		/* loop threads (1..64); unset = online CPUs */
	policy_bool_t parse_cache;	/* accepted, no effect: mailnsd always keeps the parse cache (policy_cache_t) */
	/* `mailns reports` retention (issue 14): read by tools/ only */
	struct {
		policy_u32_t keep_raw;	/* seconds a report's raw bytes are kept; default 90d */
		policy_u32_t keep;	/* seconds reports and roll-ups are kept; default 730d */
	} reports;
} policy_server_t;

/* One item of the top file's `include:` list. */
typedef struct policy_include {
	char *pattern;			/* absolute: as written, or joined to the top file's directory */
	mn_pos_t pos;			/* of the item */
} policy_include_t;

typedef struct policy {
	char *path;			/* the top file, as given */
	char *dir;			/* its directory (absolute) */
	policy_server_t server;
	policy_domain_t *domains;	/* sorted by name */
	size_t ndomains;
	char **files;			/* every file read: the policy, then includes */
	size_t nfiles;
	policy_include_t *includes;	/* the include patterns in order, matching files or not */
	size_t nincludes;
	/*
	 * Which domains a reload can have changed (issue 17), for the compile.
	 * Loads through a policy_cache_t are numbered (gen, from 1).  When
	 * changed_known, this load was made by patching the cache's previous
	 * successful load (gen - 1): domains[changed[k]] for k < nchanged
	 * (ascending indexes) are the only domains whose values can differ from
	 * that load's (they came from an included file whose bytes changed and
	 * were merged again), and removed[0..nremoved) are the names that load
	 * had and this one has not; every other domain is field for field the
	 * one of that load (the same pointers).  When false (a load without a
	 * cache, the first, or a full rebuild), any domain may have changed.
	 * Generations count successful loads only: a consumer may use the list
	 * only when it took in generation gen - 1 itself (a policy that loaded
	 * but failed to compile was not).
	 */
	uint64_t gen;
	bool changed_known;
	const size_t *changed;
	size_t nchanged;
	char *const *removed;
	size_t nremoved;
	void *priv;			/* internals (allocation arena) */
} policy_t;

/*
 * Loads path and every included file.  Every problem goes into diag with its
 * position (all are reported, not just the first).  Returns MN_OK and *out on
 * success (warnings allowed), MN_EPOLICY when diag has errors (nothing in *out),
 * or another negative code (MN_ENOENT etc., also described in diag).
 */
int policy_load(const char *path, diag_t *diag, policy_t **out);
void policy_free(policy_t *p);	/* NULL is a no-op */

/*
 * A parse cache for reloads: policy_load_cached() is policy_load() that
 * takes an included file from the cache instead of parsing it again when its
 * bytes have the SHA-256 of the cached parse (the same path, resolved against
 * the same directory) -- the result, messages included, is the same -- and on
 * success keeps this load's files for the next.  A file whose stat() identity
 * (device, inode, size, modification and status-change times) is the one
 * recorded when it was last read is not even read; the status-change time
 * moves with any write, so a file edited in the same second, to the same
 * size, with its times put back, is still seen.  The top file is always parsed.  Policies share
 * the cached memory by reference: each stays valid after the cache or other
 * policies are freed.  One load at a time per cache.
 * The cache also keeps the last successful load's domains (sorted, defaults
 * merged; the policy's domains array is that one): when the top file has the
 * same bytes, the included files are the same in the same order and no policy
 * still uses the array, the next load patches it in place with the domains of
 * the files parsed again (see policy_t.changed) instead of rebuilding it; a
 * name defined twice or an error in a changed domain makes it a full load.
 */
typedef struct policy_cache policy_cache_t;
int policy_cache_new(policy_cache_t **out);
void policy_cache_free(policy_cache_t *c);	/* NULL is a no-op */
int policy_load_cached(const char *path, policy_cache_t *cache, diag_t *diag, policy_t **out);
size_t policy_cache_reused(const policy_cache_t *c);	/* files reused by the last successful load */
size_t policy_cache_read(const policy_cache_t *c);	/* included files it read (the others: same stat) */
/*
 * For a policy loaded through a cache: when file is the name string an
 * included file's positions point to (pos.file, the same pointer), the
 * SHA-256 of the bytes its domains were converted from (against p->dir), and
 * true; false for the top file, a policy loaded without a cache, any other
 * string.  Equal digests and names: equal domains before the defaults merge.
 */
bool policy_file_digest(const policy_t *p, const char *file, unsigned char digest[32]);
/* The `defaults:` every domain was merged with (built-in ones filled), or NULL. */
const policy_domain_t *policy_defaults(const policy_t *p);
/* Bytes the cache holds for its domains' fields (their strings and arrays not counted). */
size_t policy_cache_bytes(const policy_cache_t *c);
/*
 * For a watcher after a failed load: a policy_t with only path, dir and the
 * include patterns of the top file at path, as policy_load() makes them (no
 * included file read, nothing checked, no message).  MN_OK and *out (free it
 * with policy_free), MN_EPOLICY when the file is not YAML, or another
 * negative code.
 */
int policy_includes_read(const char *path, policy_t **out);
/* Binary search by normalized name; NULL when absent. */
const policy_domain_t *policy_domain_find(const policy_t *p, const char *name);

const char *policy_spf_mode_name(spf_mode_t m);
const char *policy_spf_all_name(spf_all_t a);	/* "fail" ... */
const char *policy_dkim_alg_name(dkim_alg_t a);	/* "rsa-2048", "ed25519" */
const char *policy_dmarc_p_name(dmarc_p_t p);	/* "none", "quarantine", "reject" */
const char *policy_mta_sts_mode_name(mta_sts_mode_t m);	/* "enforce", "testing", "none" */
