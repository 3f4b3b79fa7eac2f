/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chain.c -- pack SPF terms into one record or a chain of included parts */
#include "zones/chain.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "policy/mn.h"
#include "zones/records.h"

size_t chain_response_size(size_t owner_wire, size_t textlen)
{
	size_t nstr = textlen == 0 ? 1 : (textlen + 254) / 255;
	return 12 + owner_wire + 4 + 2 + 10 + textlen + nstr;
}

bool chain_fits(size_t owner_wire, size_t textlen)
{
	return chain_response_size(owner_wire, textlen) <= CHAIN_UDP_MAX;
}

bool chain_term_is_lookup(const char *t)
{
	if (*t == '+' || *t == '-' || *t == '~' || *t == '?')
		t++;
	static const char *const mech[] = { "a", "mx", "include", "exists", "ptr", "redirect" };
	/* most terms are ip4:/ip6: networks: decided by their first two letters */
	int c0 = *t | 0x20, c1 = t[0] != '\0' ? t[1] | 0x20 : 0;
	if (c0 == 'i' && c1 != 'n')
		return false;
	for (size_t i = 0; i < sizeof(mech) / sizeof(mech[0]); i++) {
		size_t n = strlen(mech[i]);
		if (strncasecmp(t, mech[i], n) == 0 &&
		    (t[n] == '\0' || t[n] == ':' || t[n] == '/' || t[n] == '='))
			return true;
	}
	return false;
}

void chain_free(chain_t *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].owner);
		free(c->v[i].text);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static int wire_len(const char *name)
{
	uint8_t w[256];
	return mn_name_to_wire(name, w, sizeof(w));
}

static int hash8(char *const *terms, size_t n, char hex[9])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return MN_ENOMEM;
	int ok = EVP_DigestInit_ex(ctx, mn_sha256(), NULL);
	for (size_t i = 0; ok && i < n; i++) {
		if (i > 0)
			ok = EVP_DigestUpdate(ctx, " ", 1);
		if (ok)
			ok = EVP_DigestUpdate(ctx, terms[i], strlen(terms[i]));
	}
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	if (!ok || len < 4)
		return MN_ENOMEM;
	snprintf(hex, 9, "%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
	return MN_OK;
}

static char *part_name(const char *root, size_t i, const char *hex)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "c%zu-%s.%s", i + 1, hex, root);
	return mn_buf_take(&b);
}

static int add_rec(chain_t *c, char *owner, char *text)
{
	if (owner == NULL || text == NULL) {
		free(owner);
		free(text);
		return MN_ENOMEM;
	}
	chain_rec_t *v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(owner);
		free(text);
		return MN_ENOMEM;
	}
	c->v = v;
	c->v[c->n].owner = owner;
	c->v[c->n].text = text;
	c->n++;
	return MN_OK;
}

static char *join(char *const *terms, size_t from, size_t to, char *const *incs, size_t ninc,
		  const char *all_term)
{
	mn_buf_t b = { 0 };
	mn_buf_add(&b, "v=spf1");
	for (size_t i = from; i < to; i++) {
		mn_buf_add(&b, " ");
		mn_buf_add(&b, terms[i]);
	}
	for (size_t i = 0; i < ninc; i++) {
		mn_buf_add(&b, " include:");
		mn_buf_add(&b, incs[i]);
	}
	if (all_term != NULL) {
		mn_buf_add(&b, " ");
		mn_buf_add(&b, all_term);
	}
	return mn_buf_take(&b);
}

int chain_build(const char *root, char *const *terms, size_t nterms, const char *all_term,
		chain_t *out)
{
	if (root == NULL || (terms == NULL && nterms > 0) || out == NULL)
		return MN_EINVAL;
	chain_t c = { 0 };
	char **names = NULL;
	size_t nnames = 0;
	size_t *ends = NULL;
	int r = MN_OK;

	int rootw = wire_len(root);
	if (rootw < 0)
		return MN_ERANGE;
	unsigned lookups = 1;	/* the apex include:<root> */
	for (size_t i = 0; i < nterms; i++)
		lookups += chain_term_is_lookup(terms[i]);

	size_t alllen = all_term ? 1 + strlen(all_term) : 0;
	size_t total = 6 + alllen;
	for (size_t i = 0; i < nterms; i++)
		total += 1 + strlen(terms[i]);
	if (chain_fits((size_t)rootw, total)) {
		r = add_rec(&c, mn_strdup(root), join(terms, 0, nterms, NULL, 0, all_term));
		if (r != MN_OK)
			goto fail;
		c.lookups = lookups;
		*out = c;
		return MN_OK;
	}

	char hex[9];
	r = hash8(terms, nterms, hex);
	if (r != MN_OK)
		goto fail;
	names = calloc(nterms, sizeof(*names));
	ends = calloc(nterms, sizeof(*ends));
	if (names == NULL || ends == NULL) {
		r = MN_ENOMEM;
		goto fail;
	}
	size_t root_terms = 0, used = 0;
	bool done = false;
	for (size_t p = 1; p <= nterms && !done; p++) {
		/* names of parts 1..p */
		while (nnames < p) {
			names[nnames] = part_name(root, nnames, hex);
			if (names[nnames] == NULL) {
				r = MN_ENOMEM;
				goto fail;
			}
			if (wire_len(names[nnames]) < 0) {
				nnames++;
				r = MN_ERANGE;
				goto fail;
			}
			nnames++;
		}
		/* the root: as many terms as fit beside p includes */
		size_t len = 6 + alllen;
		for (size_t i = 0; i < p; i++)
			len += 9 + strlen(names[i]);
		size_t k = 0;
		while (k < nterms && chain_fits((size_t)rootw, len + 1 + strlen(terms[k]))) {
			len += 1 + strlen(terms[k]);
			k++;
		}
		if (!chain_fits((size_t)rootw, len))
			break;	/* the includes alone do not fit */
		/* the parts, greedily */
		size_t i = k, np = 0;
		bool ok = true;
		while (i < nterms && np < p) {
			int pw = wire_len(names[np]);
			size_t plen = 6, start = i;
			while (i < nterms && chain_fits((size_t)pw, plen + 1 + strlen(terms[i]))) {
				plen += 1 + strlen(terms[i]);
				i++;
			}
			if (i == start) {
				ok = false;	/* one term does not fit an empty part */
				break;
			}
			ends[np++] = i;
		}
		if (!ok) {
			r = MN_ERANGE;
			goto fail;
		}
		if (i == nterms) {
			root_terms = k;
			used = np;
			done = true;
		}
	}
	if (!done) {
		r = MN_ERANGE;
		goto fail;
	}
	r = add_rec(&c, mn_strdup(root), join(terms, 0, root_terms, names, used, all_term));
	for (size_t i = 0; r == MN_OK && i < used; i++) {
		size_t from = i == 0 ? root_terms : ends[i - 1];
		r = add_rec(&c, mn_strdup(names[i]), join(terms, from, ends[i], NULL, 0, NULL));
	}
	if (r != MN_OK)
		goto fail;
	c.lookups = lookups + (unsigned)used;
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(ends);
	*out = c;
	return MN_OK;
fail:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(ends);
	chain_free(&c);
	return r;
}

unsigned chain_lookups_needed(const char *root, char *const *terms, size_t nterms, const char *all_term)
{
	chain_t c = { 0 };
	if (chain_build(root, terms, nterms, all_term, &c) == MN_OK) {
		unsigned n = c.lookups;
		chain_free(&c);
		return n;
	}
	unsigned lookups = 1;
	for (size_t i = 0; i < nterms; i++)
		lookups += chain_term_is_lookup(terms[i]);
	int rootw = wire_len(root);
	/* parts as full as they can be, at names "c<N>-<hex8>.<root>" (up to 16 bytes more) */
	size_t pw = (rootw < 0 ? 255 : (size_t)rootw) + 16;
	size_t i = 0;
	while (i < nterms) {
		size_t len = 6, start = i;
		while (i < nterms && chain_fits(pw, len + 1 + strlen(terms[i]))) {
			len += 1 + strlen(terms[i]);
			i++;
		}
		if (i == start)
			i++;	/* a term that fits nowhere still costs a part */
		lookups++;
	}
	return lookups;
}
