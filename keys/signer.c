/* SPDX-License-Identifier: GPL-3.0-or-later */
/* signer.c -- the signer tables: OpenDKIM KeyTable/SigningTable, rspamd selector and path maps */
#include "keys/signer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/keystore.h"
#include "policy/mn.h"
#include "policy/policy.h"

const char *const signer_file_names[SIGNER_NFILES] = {
	"opendkim/KeyTable", "opendkim/SigningTable", "rspamd/dkim_selectors.map", "rspamd/dkim_paths.map",
	"opendkim/KeyTable.rsa", "opendkim/SigningTable.rsa",
	"opendkim/KeyTable.ed25519", "opendkim/SigningTable.ed25519",
};

static int key_cmp(const void *x, const void *y)
{
	const signer_key_t *a = *(const signer_key_t *const *)x, *b = *(const signer_key_t *const *)y;
	int c = strcmp(a->domain, b->domain);
	return c != 0 ? c : strcmp(a->selector, b->selector);
}

typedef struct {
	char *s;
	size_t len, cap;
	int err;
} buf_t;

static void put(buf_t *b, const char *a, const char *x, const char *c, const char *y, const char *d)
{
	const char *parts[5] = { a, x, c, y, d };
	for (size_t i = 0; i < 5 && b->err == MN_OK; i++) {
		size_t l = strlen(parts[i]);
		if (b->len + l + 1 > b->cap) {
			size_t nc = (b->cap ? b->cap * 2 : 256) + l;
			char *ns = realloc(b->s, nc);
			if (ns == NULL) {
				b->err = MN_ENOMEM;
				return;
			}
			b->s = ns;
			b->cap = nc;
		}
		memcpy(b->s + b->len, parts[i], l);
		b->len += l;
		b->s[b->len] = '\0';
	}
}

int signer_tables_text(const char *state_dir, const signer_key_t *v, size_t n, char *text[SIGNER_NFILES])
{
	if (state_dir == NULL || (v == NULL && n > 0) || text == NULL)
		return MN_EINVAL;
	const signer_key_t **s = malloc((n ? n : 1) * sizeof(*s));
	if (s == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		s[i] = &v[i];
	qsort(s, n, sizeof(*s), key_cmp);
	buf_t b[SIGNER_NFILES];
	memset(b, 0, sizeof(b));
	for (size_t f = 0; f < SIGNER_NFILES; f++)
		put(&b[f], "", "", "", "", "");	/* never NULL, even when empty */
	int r = MN_OK;
	for (size_t i = 0; i < n; i++) {
		const signer_key_t *k = s[i];
		char *path = keystore_key_path(state_dir, k->domain, k->selector);
		size_t kl = strlen(k->selector) + strlen(k->domain) + 16;
		char *kn = malloc(kl);
		if (path == NULL || kn == NULL) {
			free(path);
			free(kn);
			r = MN_ENOMEM;
			break;
		}
		snprintf(kn, kl, "%s._domainkey.%s", k->selector, k->domain);
		put(&b[SIGNER_KEYTABLE], kn, " ", k->domain, ":", "");
		put(&b[SIGNER_KEYTABLE], k->selector, ":", path, "\n", "");
		put(&b[SIGNER_SIGNINGTABLE], "*@", k->domain, " ", kn, "\n");
		size_t kt = k->alg == DKIM_ALG_ED25519 ? SIGNER_KEYTABLE_ED25519 : SIGNER_KEYTABLE_RSA;
		put(&b[kt], kn, " ", k->domain, ":", "");
		put(&b[kt], k->selector, ":", path, "\n", "");
		put(&b[kt + 1], "*@", k->domain, " ", kn, "\n");
		/* rspamd: one key per domain, the first RSA key, else the first */
		bool first = i == 0 || strcmp(s[i - 1]->domain, k->domain) != 0;
		bool take = false;
		if (first) {
			take = true;
			for (size_t j = i; j < n && strcmp(s[j]->domain, k->domain) == 0; j++) {
				if (s[j]->alg != DKIM_ALG_ED25519) {
					take = j == i;
					break;
				}
			}
		} else if (k->alg != DKIM_ALG_ED25519) {
			take = true;
			for (size_t j = i; j-- > 0 && strcmp(s[j]->domain, k->domain) == 0;)
				if (s[j]->alg != DKIM_ALG_ED25519)
					take = false;
		}
		if (take) {
			put(&b[SIGNER_RSPAMD_SELECTORS], k->domain, " ", k->selector, "\n", "");
			put(&b[SIGNER_RSPAMD_PATHS], k->domain, " ", path, "\n", "");
		}
		free(path);
		free(kn);
	}
	free(s);
	for (size_t f = 0; f < SIGNER_NFILES; f++)
		if (b[f].err != MN_OK)
			r = b[f].err;
	if (r != MN_OK) {
		for (size_t f = 0; f < SIGNER_NFILES; f++)
			free(b[f].s);
		return r;
	}
	for (size_t f = 0; f < SIGNER_NFILES; f++)
		text[f] = b[f].s;
	return MN_OK;
}

int signer_tables_write(const char *state_dir, const signer_key_t *v, size_t n, bool *changed)
{
	char *text[SIGNER_NFILES] = { 0 };
	int r = signer_tables_text(state_dir, v, n, text);
	if (r != MN_OK)
		return r;
	bool ch = false;
	size_t pl = strlen(state_dir) + 64;
	char *path = malloc(pl);
	if (path == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	for (size_t f = 0; f < SIGNER_NFILES; f++) {
		snprintf(path, pl, "%s/%s", state_dir, signer_file_names[f]);
		char *old = NULL;
		size_t ol = 0;
		int rr = mn_file_read(path, &old, &ol);
		bool same = rr == MN_OK && ol == strlen(text[f]) && memcmp(old, text[f], ol) == 0;
		free(old);
		if (same)
			continue;
		/* opendkim/ or rspamd/, never entered through a link; the table replaced, not written through */
		char sub[32];
		const char *base = strchr(signer_file_names[f], '/');
		snprintf(sub, sizeof(sub), "%.*s", (int)(base - signer_file_names[f]), signer_file_names[f]);
		int dirfd = mn_dir_open(state_dir, sub, 0755, true);
		r = dirfd < 0 ? dirfd :
			mn_file_replace_at(dirfd, base + 1, text[f], strlen(text[f]), 0644, MN_WRITE_FSYNC);
		if (dirfd >= 0)
			close(dirfd);
		if (r != MN_OK)
			goto fail;
		keystore_step();
		ch = true;
	}
	if (changed != NULL)
		*changed = ch;
fail:
	free(path);
	for (size_t f = 0; f < SIGNER_NFILES; f++)
		free(text[f]);
	return r;
}
