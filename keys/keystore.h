/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keystore.h -- the published (public) halves of a domain's DKIM keys in state_dir */
#pragma once

#include <stddef.h>
#include <time.h>

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
