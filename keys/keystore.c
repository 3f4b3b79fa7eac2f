/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keystore.c -- the published (public) halves of a domain's DKIM keys in state_dir */
#include "config.h"
#include "keys/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "policy/mn.h"
#include "policy/policy.h"

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

/*
 * Reads state_dir/keys/<domain>/published into *text (free()d by the caller):
 * MN_OK with *text == NULL when there is none, MN_ESTATE when it holds a NUL byte.
 */
static int read_published(const char *state_dir, const char *domain, char **text)
{
	size_t plen = strlen(state_dir) + strlen(domain) + 32;
	char *path = malloc(plen);
	if (path == NULL)
		return MN_ENOMEM;
	snprintf(path, plen, "%s/keys/%s/published", state_dir, domain);
	size_t len = 0;
	*text = NULL;
	int r = mn_file_read(path, text, &len);
	free(path);
	if (r == MN_ENOENT || r == MN_ENOTDIR)
		return MN_OK;
	if (r != MN_OK)
		return r;
	if (strlen(*text) != len) {
		free(*text);
		*text = NULL;
		return MN_ESTATE;
	}
	return MN_OK;
}

int keystore_published(const char *state_dir, const char *domain, keystore_pub_t **out, size_t *nout)
{
	if (state_dir == NULL || domain == NULL || out == NULL || nout == NULL ||
	    domain[0] == '\0' || strchr(domain, '/') != NULL || strcmp(domain, "..") == 0)
		return MN_EINVAL;
	char *text = NULL;
	int r = read_published(state_dir, domain, &text);
	if (r != MN_OK)
		return r;
	if (text == NULL) {
		*out = NULL;
		*nout = 0;
		return MN_OK;
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

/* ---- the managed key state ------------------------------------------------------- */

static int alg_parse(const char *s)
{
	for (int a = 0; a < DKIM_ALG_COUNT; a++)
		if (strcmp(policy_dkim_alg_name((dkim_alg_t)a), s) == 0)
			return a;
	return -1;
}

static int alg_of_record(const char *rec)
{
	return strstr(rec, "k=ed25519") != NULL ? DKIM_ALG_ED25519 : DKIM_ALG_RSA2048;
}

void keystore_keys_free(keystore_key_t *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].record);
	free(v);
}

int keystore_keys_dup(const keystore_key_t *v, size_t n, keystore_key_t **out)
{
	keystore_key_t *c = calloc(n ? n : 1, sizeof(*c));
	if (c == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c[i] = v[i];
		c[i].record = NULL;
		if (v[i].record != NULL && (c[i].record = mn_strdup(v[i].record)) == NULL) {
			keystore_keys_free(c, i);
			return MN_ENOMEM;
		}
	}
	*out = c;
	return MN_OK;
}

static int key_cmp(const void *x, const void *y)
{
	return strcmp(((const keystore_key_t *)x)->selector, ((const keystore_key_t *)y)->selector);
}

static char *state_path(const char *state_dir, const char *domain, const char *name)
{
	size_t l = strlen(state_dir) + strlen(domain) + strlen(name) + 8;
	char *p = malloc(l);
	if (p != NULL)
		snprintf(p, l, "%s/keys/%s/%s", state_dir, domain, name);
	return p;
}

static char *key_file(const char *state_dir, const char *domain, const char *selector, const char *ext)
{
	size_t l = strlen(selector) + strlen(ext) + 1;
	char *f = malloc(l);
	if (f == NULL)
		return NULL;
	snprintf(f, l, "%s%s", selector, ext);
	char *p = state_path(state_dir, domain, f);
	free(f);
	return p;
}

char *keystore_key_path(const char *state_dir, const char *domain, const char *selector)
{
	return key_file(state_dir, domain, selector, ".pem");
}


static bool domain_ok(const char *domain)
{
	return domain != NULL && domain[0] != '\0' && strchr(domain, '/') == NULL &&
	       strcmp(domain, "..") != 0 && strcmp(domain, ".") != 0;
}

/*
 * The directory state_dir/keys/DOMAIN (with create: made 0750 when missing),
 * entered without following a symbolic link: a descriptor or < 0.
 */
static int domain_dir(const char *state_dir, const char *domain, bool create)
{
	size_t l = strlen(domain) + 8;
	char *sub = malloc(l);
	if (sub == NULL)
		return MN_ENOMEM;
	snprintf(sub, l, "keys/%s", domain);
	int fd = mn_dir_open(state_dir, sub, 0750, create);	/* the server's group lists and watches it */
	free(sub);
	return fd;
}

/* Finds or appends the key named sel; NULL on ENOMEM. */
static keystore_key_t *key_slot(keystore_key_t **v, size_t *n, size_t *cap, const char *sel)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].selector, sel) == 0)
			return &(*v)[i];
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		keystore_key_t *nv = realloc(*v, c * sizeof(*nv));
		if (nv == NULL)
			return NULL;
		*v = nv;
		*cap = c;
	}
	keystore_key_t *k = &(*v)[(*n)++];
	memset(k, 0, sizeof(*k));
	k->alg = -1;
	snprintf(k->selector, sizeof(k->selector), "%s", sel);
	return k;
}

/* "#key SEL ALG CREATED CHANGED" / "#removed ...": fields into k */
static int parse_meta(char *line, keystore_key_t **v, size_t *n, size_t *cap)
{
	char *f[5];
	size_t nf = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t\r", &save); t != NULL;
	     t = strtok_r(NULL, " \t\r", &save)) {
		if (nf == 5)
			return MN_ESTATE;
		f[nf++] = t;
	}
	if (nf != 5 || strlen(f[1]) >= KEYSTORE_SELECTOR_MAX)
		return MN_ESTATE;
	int alg = alg_parse(f[2]);
	time_t c, ch;
	if (alg < 0 || mn_time_parse(f[3], &c) != MN_OK || mn_time_parse(f[4], &ch) != MN_OK)
		return MN_ESTATE;
	keystore_key_t *k = key_slot(v, n, cap, f[1]);
	if (k == NULL)
		return MN_ENOMEM;
	k->alg = alg;
	k->created = c;
	k->changed = ch;
	if (strcmp(f[0], "#removed") == 0) {
		if (k->record != NULL)
			return MN_ESTATE;	/* both a key and removed */
		k->removed = true;
	}
	return MN_OK;
}

int keystore_state_load(const char *state_dir, const char *domain, keystore_key_t **out, size_t *nout)
{
	if (state_dir == NULL || !domain_ok(domain) || out == NULL || nout == NULL)
		return MN_EINVAL;
	char *text = NULL;
	int r = read_published(state_dir, domain, &text);
	if (r != MN_OK)
		return r;
	if (text == NULL) {
		*out = NULL;
		*nout = 0;
		return MN_OK;
	}
	keystore_key_t *v = NULL;
	size_t n = 0, cap = 0;
	for (char *p = text, *nl; p != NULL && *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		if (p[strspn(p, " \t\r")] == '\0')
			continue;
		if (strncmp(p, "#key ", 5) == 0 || strncmp(p, "#removed ", 9) == 0) {
			r = parse_meta(p, &v, &n, &cap);
			if (r != MN_OK)
				goto fail;
			continue;
		}
		if (p[0] == '#')
			continue;
		keystore_pub_t e = { 0 };
		r = parse_line(p, &e);
		if (r != MN_OK)
			goto fail;
		keystore_key_t *k = strlen(e.selector) < KEYSTORE_SELECTOR_MAX ?
			key_slot(&v, &n, &cap, e.selector) : NULL;
		if (k == NULL || k->record != NULL || k->removed) {
			r = k == NULL && strlen(e.selector) < KEYSTORE_SELECTOR_MAX ? MN_ENOMEM : MN_ESTATE;
			free(e.selector);
			free(e.record);
			goto fail;
		}
		free(e.selector);
		k->phase = e.phase;
		k->record = e.record;
	}
	for (size_t i = 0; i < n; i++) {
		if (!v[i].removed && v[i].record == NULL) {
			r = MN_ESTATE;	/* metadata without its key line */
			goto fail;
		}
		if (v[i].alg < 0)
			v[i].alg = alg_of_record(v[i].record);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), key_cmp);
	free(text);
	*out = v;
	*nout = n;
	return MN_OK;
fail:
	keystore_keys_free(v, n);
	free(text);
	return r;
}

char *keystore_state_text(const keystore_key_t *v, size_t n)
{
	size_t cap = 128;
	for (size_t i = 0; i < n; i++)
		cap += 160 + (v[i].record ? strlen(v[i].record) : 0);
	char *s = malloc(cap);
	if (s == NULL)
		return NULL;
	size_t l = (size_t)snprintf(s, cap, "# mailns key state: SELECTOR PHASE RECORD, then "
				    "#key SELECTOR ALGORITHM CREATED CHANGED\n");
	for (size_t i = 0; i < n; i++) {
		char c[32], ch[32];
		mn_time_format(v[i].created, c, sizeof(c));
		mn_time_format(v[i].changed, ch, sizeof(ch));
		const char *alg = policy_dkim_alg_name((dkim_alg_t)v[i].alg);
		if (v[i].removed) {
			l += (size_t)snprintf(s + l, cap - l, "#removed %s %s %s %s\n", v[i].selector,
					      alg, c, ch);
			continue;
		}
		l += (size_t)snprintf(s + l, cap - l, "%s %s %s\n#key %s %s %s %s\n", v[i].selector,
				      keystore_phase_name(v[i].phase), v[i].record ? v[i].record : "",
				      v[i].selector, alg, c, ch);
	}
	return s;
}

int keystore_state_save(const char *state_dir, const char *domain, const keystore_key_t *v, size_t n)
{
	if (state_dir == NULL || !domain_ok(domain) || (v == NULL && n > 0))
		return MN_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!v[i].removed && (v[i].record == NULL || v[i].record[0] == '\0' ||
				      strchr(v[i].record, '\n') != NULL))
			return MN_EINVAL;
	char *text = keystore_state_text(v, n);
	if (text == NULL)
		return MN_ENOMEM;
	int dirfd = domain_dir(state_dir, domain, true);
	int r = dirfd;
	if (dirfd >= 0) {
		r = mn_file_replace_at(dirfd, "published", text, strlen(text), 0640, MN_WRITE_FSYNC);
		close(dirfd);
	}
	if (r == MN_OK)
		keystore_step();
	free(text);
	return r;
}

int keystore_key_write(const char *state_dir, const char *domain, const char *selector,
		       const keypair_t *k)
{
	if (state_dir == NULL || !domain_ok(domain) || selector == NULL || k == NULL)
		return MN_EINVAL;
	char *pem = NULL;
	size_t len = 0;
	int r = keypair_pem(k, &pem, &len);
	if (r != MN_OK)
		return r;
	size_t l = strlen(selector) + 8;
	char *name = malloc(l);
	int dirfd = name != NULL ? domain_dir(state_dir, domain, true) : MN_ENOMEM;
	r = dirfd;
	if (dirfd >= 0) {
		snprintf(name, l, "%s.pem", selector);
		r = mn_file_replace_at(dirfd, name, pem, len, 0600, MN_WRITE_FSYNC);
		close(dirfd);
	}
	OPENSSL_cleanse(pem, len);
	free(pem);
	free(name);
	if (r == MN_OK)
		keystore_step();
	return r;
}

int keystore_key_remove(const char *state_dir, const char *domain, const char *selector)
{
	if (state_dir == NULL || !domain_ok(domain) || selector == NULL || selector[0] == '\0' ||
	    strchr(selector, '/') != NULL)
		return MN_EINVAL;
	size_t l = strlen(selector) + 8;
	char *name = malloc(l);
	if (name == NULL)
		return MN_ENOMEM;
	snprintf(name, l, "%s.pem", selector);
	int dirfd = domain_dir(state_dir, domain, false);
	int r = dirfd;
	if (dirfd >= 0) {
		r = unlinkat(dirfd, name, 0) == 0 ? MN_OK : -errno;
		close(dirfd);
	} else if (r == MN_ENOENT) {
		r = MN_ENOENT;
	}
	free(name);
	if (r == MN_OK)
		keystore_step();
	return r;
}

int keystore_lock(const char *state_dir, int timeout_s, int *fd)
{
	return keystore_lock_in(state_dir, "keys", timeout_s, fd);
}

int keystore_lock_in(const char *state_dir, const char *sub, int timeout_s, int *fd)
{
	if (state_dir == NULL || sub == NULL || fd == NULL)
		return MN_EINVAL;
	int r = mn_mkdir_p(state_dir, 0755);
	if (r != MN_OK)
		return r;
	int dirfd = mn_dir_open(state_dir, sub, 0750, true);
	if (dirfd < 0)
		return dirfd;
	/* never through a link, never a FIFO or a device (O_NONBLOCK: not stuck opening one) */
	int f = openat(dirfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	r = f < 0 ? (errno == ELOOP ? MN_ESYMLINK : -errno) : MN_OK;
	close(dirfd);
	struct stat st;
	if (r == MN_OK && (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)))
		r = MN_ENOTFILE;
	if (r != MN_OK) {
		if (f >= 0)
			close(f);
		return r;
	}
	for (int i = 0; i <= timeout_s * 10; i++) {
		if (flock(f, LOCK_EX | LOCK_NB) == 0) {
			*fd = f;
			return MN_OK;
		}
		if (errno != EWOULDBLOCK && errno != EINTR) {
			r = -errno;
			close(f);
			return r;
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	close(f);
	return MN_ELOCK;
}

void keystore_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

static unsigned steps;

void keystore_step(void)
{
	steps++;
#ifdef MN_FAULT_INJECTION
	const char *e = getenv("MAILNS_FAULT_STEP");
	if (e != NULL && e[0] != '\0' && strtoul(e, NULL, 10) == steps)
		_exit(137);
#endif
}

unsigned keystore_steps(void)
{
	return steps;
}
