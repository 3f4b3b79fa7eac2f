/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keystore.c -- the published (public) halves of a domain's DKIM keys in state_dir */
#include "keys/keystore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mn.h"

static const char *const phase_names[] = { "pending", "active", "retired", "revoked" };

const char *keystore_phase_name(key_phase_t p)
{
	if ((unsigned)p < sizeof(phase_names) / sizeof(phase_names[0]))
		return phase_names[p];
	return "?";
}

void keystore_pub_free(keystore_pub_t *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].selector);
		free(v[i].record);
	}
	free(v);
}

static int pub_cmp(const void *x, const void *y)
{
	return strcmp(((const keystore_pub_t *)x)->selector, ((const keystore_pub_t *)y)->selector);
}

/* "SELECTOR PHASE RECORD..." (RECORD is the rest of the line). */
static int parse_line(char *line, keystore_pub_t *out)
{
	char *p = line;
	char *sel = p;
	p += strcspn(p, " \t");
	if (*p == '\0')
		return MN_ESTATE;
	*p++ = '\0';
	p += strspn(p, " \t");
	char *phase = p;
	p += strcspn(p, " \t");
	if (*p == '\0')
		return MN_ESTATE;
	*p++ = '\0';
	p += strspn(p, " \t");
	char *record = p;
	size_t rl = strlen(record);
	while (rl > 0 && (record[rl - 1] == ' ' || record[rl - 1] == '\t' || record[rl - 1] == '\r'))
		record[--rl] = '\0';
	if (rl == 0)
		return MN_ESTATE;

	/* the selector: one or more DNS labels, normalized */
	char norm[256];
	if (mn_name_norm(sel, norm, sizeof(norm)) != MN_OK || norm[0] == '\0' ||
	    strchr(norm, '*') != NULL)
		return MN_ESTATE;
	int ph = -1;
	for (size_t i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
		if (strcmp(phase, phase_names[i]) == 0)
			ph = (int)i;
	if (ph < 0)
		return MN_ESTATE;
	out->selector = mn_strdup(norm);
	out->record = mn_strdup(record);
	out->phase = (key_phase_t)ph;
	if (out->selector == NULL || out->record == NULL) {
		free(out->selector);
		free(out->record);
		return MN_ENOMEM;
	}
	return MN_OK;
}

int keystore_published(const char *state_dir, const char *domain, keystore_pub_t **out, size_t *nout)
{
	if (state_dir == NULL || domain == NULL || out == NULL || nout == NULL ||
	    domain[0] == '\0' || strchr(domain, '/') != NULL || strcmp(domain, "..") == 0)
		return MN_EINVAL;
	size_t plen = strlen(state_dir) + strlen(domain) + 32;
	char *path = malloc(plen);
	if (path == NULL)
		return MN_ENOMEM;
	snprintf(path, plen, "%s/keys/%s/published", state_dir, domain);
	char *text = NULL;
	size_t len = 0;
	int r = mn_file_read(path, &text, &len);
	free(path);
	if (r == MN_ENOENT || r == -ENOTDIR) {
		*out = NULL;
		*nout = 0;
		return MN_OK;
	}
	if (r != MN_OK)
		return r;
	if (strlen(text) != len) {	/* a NUL byte inside */
		free(text);
		return MN_ESTATE;
	}

	keystore_pub_t *v = NULL;
	size_t n = 0, cap = 0;
	for (char *p = text, *nl; p != NULL && *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		if (p[strspn(p, " \t\r")] == '\0' || p[0] == '#')
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 8;
			keystore_pub_t *nv = realloc(v, c * sizeof(*nv));
			if (nv == NULL) {
				r = MN_ENOMEM;
				goto fail;
			}
			v = nv;
			cap = c;
		}
		keystore_pub_t e = { 0 };
		r = parse_line(p, &e);
		if (r != MN_OK)
			goto fail;
		v[n++] = e;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), pub_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i - 1].selector, v[i].selector) == 0) {
			r = MN_ESTATE;	/* a selector listed twice */
			goto fail;
		}
	}
	free(text);
	*out = v;
	*nout = n;
	return MN_OK;
fail:
	keystore_pub_free(v, n);
	free(text);
	return r;
}
