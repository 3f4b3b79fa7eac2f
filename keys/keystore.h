/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keystore.h -- the published (public) halves of a domain's DKIM keys in state_dir */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "keys/keypair.h"

typedef enum { KEY_PENDING = 0, KEY_ACTIVE, KEY_RETIRED, KEY_REVOKED } key_phase_t;

typedef struct keystore_pub {
	char *selector;
	key_phase_t phase;
	char *record;		/* "v=DKIM1; k=rsa; p=..." ("v=DKIM1; p=" when revoked) */
} keystore_pub_t;

/*
 * Lists the selectors the key store publishes for domain, sorted by selector.
 * Reads only public data (state_dir/keys/<domain>/published); never a private
 * key.  No state for the domain: MN_OK with *n = 0.
 */
int keystore_published(const char *state_dir, const char *domain, keystore_pub_t **out, size_t *n);
void keystore_pub_free(keystore_pub_t *v, size_t n);
const char *keystore_phase_name(key_phase_t p);

/* ---- the managed key state (written by `mailns keys`) ------------------------------ */

/*
 * The published file is also the whole state of the managed keys, so that every
 * change is one atomic file replace.  Each key is a line keystore_published()
 * reads ("SELECTOR PHASE RECORD") followed by a comment line it skips:
 *     #key SELECTOR ALGORITHM CREATED CHANGED
 * (ALGORITHM as in the policy, "rsa-2048"; times ISO 8601 UTC; CHANGED is when
 * the key entered its phase).  A removed key leaves one line, so that its
 * selector is never reused:
 *     #removed SELECTOR ALGORITHM CREATED CHANGED
 * A key line without a #key line (written by hand) gets its algorithm from k=
 * (rsa: rsa-2048) and times 0.
 */
enum { KEYSTORE_SELECTOR_MAX = 32 };

typedef struct keystore_key {
	char selector[KEYSTORE_SELECTOR_MAX];
	int alg;		/* dkim_alg_t of policy/policy.h */
	key_phase_t phase;
	bool removed;		/* a tombstone: only the selector and times matter */
	time_t created;		/* generated */
	time_t changed;		/* entered its phase (removed: when removed) */
	char *record;		/* owned; NULL for a removed key */
} keystore_key_t;

/* Reads the state of domain (no file: MN_OK, *n = 0).  Sorted by selector. */
int keystore_state_load(const char *state_dir, const char *domain, keystore_key_t **out, size_t *n);
/*
 * Replaces the domain's published file atomically (mode 0640), creating
 * keys/<domain>/ (0750) if needed.  keys/ and keys/<domain>/ are entered
 * without following a symbolic link (MN_ESYMLINK), the file is replaced, not
 * written through (mn_file_replace_at).  Counts as one step (keystore_step).
 */
int keystore_state_save(const char *state_dir, const char *domain, const keystore_key_t *v, size_t n);
/* The file text keystore_state_save writes (malloc'd, NUL-terminated), NULL on ENOMEM. */
char *keystore_state_text(const keystore_key_t *v, size_t n);
void keystore_keys_free(keystore_key_t *v, size_t n);	/* frees the records and v */
/* Deep copy of v[0..n) into *out. */
int keystore_keys_dup(const keystore_key_t *v, size_t n, keystore_key_t **out);

/* "STATE/keys/DOMAIN/SELECTOR.pem" (malloc'd), NULL on ENOMEM. */
char *keystore_key_path(const char *state_dir, const char *domain, const char *selector);
/*
 * Writes the private key k as keys/DOMAIN/SELECTOR.pem (PEM, 0600, fsynced
 * with its directory: on disk before the key is published), creating
 * keys/DOMAIN/ as keystore_state_save does and with the same refusal of
 * symbolic links.  The PEM text is cleansed from memory.  Counts as one step.
 */
int keystore_key_write(const char *state_dir, const char *domain, const char *selector,
		       const keypair_t *k);
/*
 * Destroys keys/DOMAIN/SELECTOR.pem (unlinked relative to the directory,
 * entered without following a link).  MN_OK (one step), MN_ENOENT when it is
 * not there, MN_ESYMLINK, or another error.
 */
int keystore_key_remove(const char *state_dir, const char *domain, const char *selector);

/*
 * Serializes concurrent `mailns keys` runs: an exclusive flock on
 * STATE/keys/.lock (created 0600; state_dir 0755 and STATE/keys 0750 created
 * if missing), waiting at most timeout_s seconds (MN_ELOCK then).  keys/ and
 * .lock are opened without following a symbolic link (MN_ESYMLINK); a .lock
 * that is not a regular file is MN_ENOTFILE.  *fd is released by keystore_unlock.
 */
int keystore_lock(const char *state_dir, int timeout_s, int *fd);
/* The same on STATE/SUB/.lock (SUB 0750 created if missing): "dnssec" serializes
 * the DNSSEC rollovers, which a user other than the key store's owner may run. */
int keystore_lock_in(const char *state_dir, const char *sub, int timeout_s, int *fd);
void keystore_unlock(int fd);

/*
 * Fault injection for the crash tests: every disk change of a key run (a file
 * replaced, a private key written or destroyed) calls keystore_step() after
 * it is done.  Built with --enable-fault-injection (MN_FAULT_INJECTION), when
 * the environment variable MAILNS_FAULT_STEP is N > 0, the Nth step ends the
 * process at once with _exit(137), as SIGKILL would; otherwise it only counts.
 */
void keystore_step(void);
/* Steps counted so far in this process. */
unsigned keystore_steps(void);
