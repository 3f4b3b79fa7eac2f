/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spfcache.c -- the SPF cache in state_dir/spf/<domain>: flattened networks, kept terms, old generations */
#include "zones/spfcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zones/records.h"

void spfcache_free(spfcache_t *c)
{
	if (c == NULL)
		return;
	free(c->source);
	free(c->nets);
	rec_terms_free(c->kept, c->nkept);
	for (size_t i = 0; i < c->nold; i++) {
		free(c->old[i].owner);
		free(c->old[i].text);
	}
	free(c->old);
	free(c);
}

static char *path_of(const char *state_dir, const char *domain)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "%s/spf/%s", state_dir, domain);
	return mn_buf_take(&b);
}

static int grow(void **v, size_t n, size_t size)
{
	void *p = realloc(*v, (n + 1) * size);
	if (p == NULL)
		return MN_ENOMEM;
	*v = p;
	return MN_OK;
}

/* One line into c.  MN_ESTATE when it does not parse. */
static int parse_line(spfcache_t *c, char *line)
{
	char *sp = strchr(line, ' ');
	if (sp == NULL)
		return MN_ESTATE;
	*sp = '\0';
	const char *key = line, *val = sp + 1;
	char *end;
	if (strcmp(key, "mailns-spf-cache") == 0)
		return strcmp(val, "1") == 0 ? MN_OK : MN_ESTATE;
	if (strcmp(key, "source") == 0) {
		free(c->source);
		return (c->source = mn_strdup(val)) ? MN_OK : MN_ENOMEM;
	}
	if (strcmp(key, "resolved") == 0) {
		c->resolved = (time_t)strtoll(val, &end, 10);
		return *end == '\0' ? MN_OK : MN_ESTATE;
	}
	if (strcmp(key, "ttl") == 0) {
		c->ttl = (uint32_t)strtoul(val, &end, 10);
		return *end == '\0' ? MN_OK : MN_ESTATE;
	}
	if (strcmp(key, "net") == 0) {
		if (grow((void **)&c->nets, c->nnets, sizeof(*c->nets)) != MN_OK)
			return MN_ENOMEM;
		if (mn_net_parse(val, 0, false, &c->nets[c->nnets]) != MN_OK)
			return MN_ESTATE;
		c->nnets++;
		return MN_OK;
	}
	if (strcmp(key, "kept") == 0) {
		if (grow((void **)&c->kept, c->nkept, sizeof(*c->kept)) != MN_OK)
			return MN_ENOMEM;
		if ((c->kept[c->nkept] = mn_strdup(val)) == NULL)
			return MN_ENOMEM;
		c->nkept++;
		return MN_OK;
	}
	if (strcmp(key, "old") == 0) {
		time_t t = (time_t)strtoll(val, &end, 10);
		if (*end != ' ')
			return MN_ESTATE;
		const char *owner = end + 1, *sp2 = strchr(owner, ' ');
		if (sp2 == NULL || sp2 == owner)
			return MN_ESTATE;
		if (grow((void **)&c->old, c->nold, sizeof(*c->old)) != MN_OK)
			return MN_ENOMEM;
		spfcache_old_t *o = &c->old[c->nold];
		o->replaced_at = t;
		o->owner = malloc((size_t)(sp2 - owner) + 1);
		o->text = mn_strdup(sp2 + 1);
		if (o->owner == NULL || o->text == NULL) {
			free(o->owner);
			free(o->text);
			return MN_ENOMEM;
		}
		memcpy(o->owner, owner, (size_t)(sp2 - owner));
		o->owner[sp2 - owner] = '\0';
		c->nold++;
		return MN_OK;
	}
	return MN_OK;	/* unknown keys: newer writers */
}

int spfcache_load(const char *state_dir, const char *domain, spfcache_t **out)
{
	if (state_dir == NULL || domain == NULL || out == NULL)
		return MN_EINVAL;
	char *path = path_of(state_dir, domain);
	if (path == NULL)
		return MN_ENOMEM;
	char *text = NULL;
	size_t len = 0;
	int r = mn_file_read(path, &text, &len);
	free(path);
	if (r != MN_OK)
		return r == -ENOENT ? MN_ENOENT : r;
	spfcache_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		free(text);
		return MN_ENOMEM;
	}
	bool header = false;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); r == MN_OK && line; line = strtok_r(NULL, "\n", &save)) {
		if (!header && strncmp(line, "mailns-spf-cache ", 17) != 0) {
			r = MN_ESTATE;
			break;
		}
		header = true;
		r = parse_line(c, line);
	}
	free(text);
	if (r == MN_OK && (!header || c->source == NULL))
		r = MN_ESTATE;
	if (r != MN_OK) {
		spfcache_free(c);
		return r;
	}
	*out = c;
	return MN_OK;
}

int spfcache_save(const char *state_dir, const char *domain, const spfcache_t *c)
{
	if (state_dir == NULL || domain == NULL || c == NULL || c->source == NULL)
		return MN_EINVAL;
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "mailns-spf-cache 1\nsource %s\nresolved %lld\nttl %u\n", c->source,
		     (long long)c->resolved, (unsigned)c->ttl);
	for (size_t i = 0; i < c->nnets; i++) {
		char s[64];
		mn_net_format(&c->nets[i], s, sizeof(s));
		mn_buf_addf(&b, "net %s\n", s);
	}
	for (size_t i = 0; i < c->nkept; i++)
		mn_buf_addf(&b, "kept %s\n", c->kept[i]);
	for (size_t i = 0; i < c->nold; i++)
		mn_buf_addf(&b, "old %lld %s %s\n", (long long)c->old[i].replaced_at, c->old[i].owner, c->old[i].text);
	char *text = mn_buf_take(&b);
	int r = MN_ENOMEM;
	if (text != NULL) {
		int dirfd = mn_dir_open(state_dir, "spf", 0755, true);	/* never through a link */
		r = dirfd;
		if (dirfd >= 0) {
			r = mn_file_replace_at(dirfd, domain, text, strlen(text), 0644, MN_WRITE_FSYNC);
			close(dirfd);
		}
	}
	free(text);
	return r;
}

int spfcache_terms(const char *domain, const policy_spf_t *s, char ***out, size_t *n)
{
	char **t4 = NULL, **t6 = NULL, **kept = NULL;
	size_t n4 = 0, n6 = 0, nk = 0;
	mn_net_t *v4 = NULL, *v6 = NULL;
	int r = MN_OK;
	if (s->ip4.n > 0 && (v4 = malloc(s->ip4.n * sizeof(*v4))) == NULL)
		r = MN_ENOMEM;
	if (r == MN_OK && s->ip6.n > 0 && (v6 = malloc(s->ip6.n * sizeof(*v6))) == NULL)
		r = MN_ENOMEM;
	for (size_t i = 0; r == MN_OK && i < s->ip4.n; i++)
		v4[i] = s->ip4.v[i].net;
	for (size_t i = 0; r == MN_OK && i < s->ip6.n; i++)
		v6[i] = s->ip6.v[i].net;
	if (r == MN_OK)
		r = rec_spf_net_terms(v4, s->ip4.n, &t4, &n4);
	if (r == MN_OK)
		r = rec_spf_net_terms(v6, s->ip6.n, &t6, &n6);
	if (r == MN_OK)
		r = rec_spf_kept_terms(domain, s, &kept, &nk);
	char **v = NULL;
	if (r == MN_OK && (v = calloc(n4 + n6 + nk + 1, sizeof(*v))) == NULL)
		r = MN_ENOMEM;
	if (r == MN_OK) {
		size_t k = 0;
		for (size_t i = 0; i < n4; i++, k++)
			v[k] = t4[i];
		for (size_t i = 0; i < n6; i++, k++)
			v[k] = t6[i];
		for (size_t i = 0; i < nk; i++, k++)
			v[k] = kept[i];
		*out = v;
		*n = k;
		free(t4);
		free(t6);
		free(kept);
	} else {
		rec_terms_free(t4, n4);
		rec_terms_free(t6, n6);
		rec_terms_free(kept, nk);
	}
	free(v4);
	free(v6);
	return r;
}

char *spfcache_source(char *const *terms, size_t n)
{
	mn_buf_t b = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			mn_buf_add(&b, " ");
		mn_buf_add(&b, terms[i]);
	}
	return mn_buf_take(&b);
}
