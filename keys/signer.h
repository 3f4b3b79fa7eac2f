/* SPDX-License-Identifier: GPL-3.0-or-later */
/* signer.h -- the signer tables: OpenDKIM KeyTable/SigningTable, rspamd selector and path maps */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* One active key: a signer signs mail of domain with it. */
typedef struct signer_key {
	const char *domain;	/* normalized */
	const char *selector;
	int alg;		/* dkim_alg_t */
} signer_key_t;

/*
 * The four tables for the active keys v[0..n) (any order), in state_dir:
 *   opendkim/KeyTable       "SEL._domainkey.DOM DOM:SEL:STATE/keys/DOM/SEL.pem"
 *   opendkim/SigningTable   "*@DOM SEL._domainkey.DOM" (one line per active key:
 *                           a dual-signing domain has two; use `SigningTable
 *                           refile:` and `MultipleSignatures yes`)
 *   rspamd/dkim_selectors.map  "DOM SEL"
 *   rspamd/dkim_paths.map      "DOM PATH"   (rspamd takes one key per domain:
 *                           the RSA key when there are several)
 * and, because OpenDKIM 2.11 signs every key of an instance with its one
 * SignatureAlgorithm (it cannot dual-sign RSA and Ed25519 in one instance),
 * the same two tables per algorithm, for one instance each:
 *   opendkim/KeyTable.rsa, opendkim/SigningTable.rsa          (RSA keys)
 *   opendkim/KeyTable.ed25519, opendkim/SigningTable.ed25519  (Ed25519 keys;
 *                           the instance has `SignatureAlgorithm ed25519-sha256`)
 * Lines sorted by domain, then selector.  *text (malloc'd) is each file's text.
 */
enum {
	SIGNER_KEYTABLE = 0, SIGNER_SIGNINGTABLE, SIGNER_RSPAMD_SELECTORS, SIGNER_RSPAMD_PATHS,
	SIGNER_KEYTABLE_RSA, SIGNER_SIGNINGTABLE_RSA, SIGNER_KEYTABLE_ED25519, SIGNER_SIGNINGTABLE_ED25519,
	SIGNER_NFILES
};
extern const char *const signer_file_names[SIGNER_NFILES];	/* "opendkim/KeyTable", ... */
int signer_tables_text(const char *state_dir, const signer_key_t *v, size_t n, char *text[SIGNER_NFILES]);

/*
 * Writes the tables that differ from what is on disk, each atomically (mode
 * 0644, directories created 0755; opendkim/ and rspamd/ entered without
 * following a symbolic link, MN_ESYMLINK; mn_file_replace_at), each one step
 * (keystore_step).  *changed
 * says whether any file was written.
 */
int signer_tables_write(const char *state_dir, const signer_key_t *v, size_t n, bool *changed);
