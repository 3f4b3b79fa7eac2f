/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd.h -- the subcommands of the mailns tool and what they share */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "keys/dnskey.h"
#include "policy/diag.h"
#include "policy/policy.h"

/* Exit statuses of every subcommand. */
enum { CMD_OK = 0, CMD_ERRORS = 1, CMD_USAGE = 2, CMD_KEPT = 3 };

/*
 * Each subcommand gets argv with argv[0] = its own name ("zone"), parses its
 * options with getopt_long (every one takes -c/--policy and --help), and
 * returns an exit status above.
 */
int cmd_check(int argc, char **argv);
int cmd_zone(int argc, char **argv);
int cmd_delegation(int argc, char **argv);
int cmd_flatten(int argc, char **argv);
int cmd_keys(int argc, char **argv);

struct zones;
struct resolve;
/*
 * mailns check --dns (cmd_check_dns.c): asks the resolver about every domain
 * of p (delegations, apex SPF, report authorizations, published DKIM keys of
 * the compiled zones zs; MTA-STS: MX hosts against the mx patterns, the policy
 * file served over HTTPS, its certificate verified against ca_file or, when
 * NULL, the system store) and adds each finding to diag at the policy position
 * it concerns.  Returns MN_OK (diag says whether there were errors),
 * MN_EINVAL or MN_ENOMEM.
 */
int cmd_check_dns(const policy_t *p, const struct zones *zs, struct resolve *res, const char *ca_file,
		  diag_t *diag);
/*
 * mailns check --reports (cmd_reports_advise.c): reads the report store of
 * the policy at policy_path (the -c value or NULL) and adds the advice of
 * each domain of p with reports in the last 30 days as warnings at the
 * position of its dmarc.p (the domain's key when p is not written); a store
 * that cannot be read is a warning too.  Returns MN_OK or MN_EINVAL.
 */
int cmd_check_reports(const policy_t *p, const char *policy_path, diag_t *diag);

/*
 * The DS RDATA (SHA-256, keys/dnskey.h) of each published SEP key of the
 * signed zone (normalized name) of domain d, from state_dir/dnssec (read
 * only: no key is made): at most max into ds, the count in *n (0: the zone
 * has no keys yet).  MN_OK, or the error of dnskey_zone_keys.
 */
enum { CMD_DS_MAX = DNSKEY_SET_MAX };
int cmd_zone_ds(const policy_t *p, const policy_domain_t *d, const char *zone, uint8_t ds[][DNSKEY_DS_LEN],
		bool *withdraw, size_t max, size_t *n);
/*
 * The published SEP keys above are those in the DNSKEY RRset (published to
 * retired); withdraw[i] (withdraw may be NULL) is true for a retired one,
 * whose DS is to leave the parent.  A DS record's text "TAG ALG TYPE HEX"
 * (resolve.h) matches one of ours[0..n) (cmd_ds_matches: another digest type
 * than SHA-256 matches on tag and algorithm).
 */
bool cmd_ds_matches(const char *text, const uint8_t ours[][DNSKEY_DS_LEN], size_t n);
/* The k-th zone of d (k < CMD_ZONES_MAX): _domainkey, _dmarc, _spf, then those of its keys; false: none. */
enum { CMD_ZONES_MAX = 6 };
bool cmd_domain_zone(const policy_domain_t *d, size_t k, char zone[300]);

/*
 * mailns keys rotate, DNSSEC (cmd_keys_dnssec.c): the rollovers of every
 * signed zone at now (keys/dnsroll.c), each write as dnsroll_step orders
 * them; the parent's DS asked at resolver (NULL: /etc/resolv.conf).  roll:
 * NULL, a zone or "all": start a rollover now (ksk/zsk: of that key only).
 * dry_run: prints the plan ("plan " lines), writes nothing.  *waiting set
 * when a zone waits for its DS at the parent (or for it to leave); errors
 * counted in *errors.  When a zone is signed, runs under the lock
 * state_dir/dnssec/.lock (keystore_lock_in; none with dry_run).
 */
typedef struct cmd_dnsroll {
	time_t now;
	const char *resolver;
	const char *roll;
	bool ksk, zsk, dry_run;
} cmd_dnsroll_t;
int cmd_keys_dnssec(const policy_t *p, const cmd_dnsroll_t *o, bool *waiting, int *errors);
/*
 * mailns keys list, DNSSEC: row() called for each key not removed of every
 * signed zone (state_dir/dnssec, read only), in the zones' order then the
 * keys' (created, tag): next is when its next step is due at now (0: none),
 * wait "ds" or "ds-gone" when it waits for the parent (else NULL).  Errors
 * reading a zone's keys printed and counted in *errors.
 */
typedef void (*cmd_dnskey_row_fn)(const char *zone, const dnskey_meta_t *k, time_t next, const char *wait,
				  void *arg);
void cmd_keys_dnssec_list(const policy_t *p, time_t now, cmd_dnskey_row_fn row, void *arg, int *errors);
const char *cmd_dnssec_alg_name(dnssec_alg_t alg);	/* "ecdsap256sha256", "ed25519" (as the policy spells them) */
/* The policy path: the -c value, else $MAILNS_POLICY, else MN_POLICY_PATH (configure's sysconfdir). */
const char *cmd_policy_path(const char *opt);
/*
 * Loads the policy; on failure prints every diagnostic to stderr and returns
 * NULL.  Warnings are printed too when print_warnings.
 */
policy_t *cmd_policy_load(const char *opt, bool print_warnings);
/* A subcommand table entry: its name, its function, a line of help (may be NULL). */
typedef struct cmd_sub {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} cmd_sub_t;
/*
 * Runs the subcommand argv[1] names out of subs (argv shifted: its argv[0] is its
 * name); no argument prints usage to stderr (CMD_USAGE), --help/-h to stdout
 * (CMD_OK); an unknown one is reported with unknown_fmt (one %s: the name).
 */
int cmd_dispatch(const cmd_sub_t *subs, size_t n, int argc, char **argv, void (*usage)(FILE *),
		 const char *unknown_fmt);
/* Prints "mailns: " + message to stderr. */
void cmd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- mailns reports (issue 14) ------------------------------------------------ */

/* Exit status of `mailns reports ingest` when the store is busy or unwritable (EX_TEMPFAIL). */
enum { CMD_TEMPFAIL = 75 };

/* mailns reports SUB (cmd_reports.c): ingest, list, summary, prune; advise and html below. */
int cmd_reports(int argc, char **argv);
/* mailns reports advise / html (cmd_reports_advise.c); argv[0] is "advise" / "html". */
int cmd_reports_advise(int argc, char **argv);
int cmd_reports_html(int argc, char **argv);

struct report_store;
/*
 * Loads the policy (policy_path: the -c value or NULL, as cmd_policy_load)
 * and opens its store, state_dir/reports.db, with store_flags
 * (REPORT_STORE_READONLY for readers; a writer creates state_dir when absent).
 * Prints what went wrong on stderr.  Returns MN_OK with both set (free with
 * policy_free and report_store_close), MN_EPOLICY (the policy has errors),
 * MN_ENOENT (read-only and nothing stored yet: *policy is set, *store NULL),
 * MN_ELOCK (busy past the timeout) or another negative MN_E*.
 */
int cmd_reports_open(const char *policy_path, int store_flags, policy_t **policy, struct report_store **store);
