/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mtasts.c -- the MTA-STS policy files, written before the zones that announce their ids */
#include "zones/mtasts.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "policy/map.h"
#include "policy/mn.h"
#include "zones/records.h"

#define WELL_KNOWN ".well-known"
#define POLICY_NAME "mta-sts.txt"
#define POLICY_MAX 65536	/* a longer file is not ours: replaced */

char *mtasts_dir(const policy_t *p)
{
	mn_buf_t b = { 0 };
	if (POLICY_SET(p->server.mta_sts_dir) && p->server.mta_sts_dir.v != NULL)
		mn_buf_add(&b, p->server.mta_sts_dir.v);
	else if (p->server.state_dir.v != NULL)
		mn_buf_addf(&b, "%s/mta-sts", p->server.state_dir.v);
	else
		return NULL;
	return mn_buf_take(&b);
}

/*
 * Reads name in dirfd (not followed if a link) into buf (size bytes, the last
 * kept for a NUL); false when it cannot be opened or is longer than size - 1.
 */
static bool read_small(int dirfd, const char *name, char *buf, size_t size, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t got = 0;
	bool fits = true;
	for (;;) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == size - 1) {
			fits = false;
			break;
		}
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return fits;
}

/* Does name in dirfd (not followed if a link) hold exactly text? */
static bool same_file(int dirfd, const char *name, const char *text)
{
	char buf[POLICY_MAX + 1];
	size_t got = 0, want = strlen(text);
	return read_small(dirfd, name, buf, sizeof(buf), &got) && got == want && memcmp(buf, text, want) == 0;
}

static int write_one(const char *dir, const policy_domain_t *d, const policy_mta_sts_t *m, diag_t *diag)
{
	char *text = rec_mta_sts_policy(m);
	mn_buf_t sb = { 0 };
	mn_buf_addf(&sb, "%s/" WELL_KNOWN, d->name);
	char *sub = mn_buf_take(&sb);
	int r = MN_ENOMEM, dirfd = -1;
	if (text == NULL || sub == NULL)
		goto fail;
	r = dirfd = mn_dir_open(dir, sub, 0755, true);
	if (dirfd < 0)
		goto fail;
	r = MN_OK;
	if (!same_file(dirfd, POLICY_NAME, text))
		r = mn_file_replace_at(dirfd, POLICY_NAME, text, strlen(text), 0644, MN_WRITE_FSYNC);
fail:
	if (r < 0 && r != MN_ENOMEM)
		diag_error(diag, &d->pos, "cannot write the MTA-STS policy %s/%s/" POLICY_NAME " (%s)", dir,
			   sub, mn_strerror(r));
	if (dirfd >= 0)
		close(dirfd);
	free(sub);
	free(text);
	return r;
}

/* ---- RFC 8461 §8.3: the withdrawal of a removed mta_sts ------------------------ */

/* The "max_age: N" line of a policy text; false without one. */
static bool text_max_age(const char *text, uint32_t *out)
{
	for (const char *l = text; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned long v;
		char end;
		if (sscanf(l, "max_age: %lu%c", &v, &end) == 2 && (end == '\r' || end == '\n') && v <= UINT32_MAX) {
			*out = (uint32_t)v;
			return true;
		}
	}
	return false;
}

int mtasts_withdrawal(const policy_t *p, const policy_domain_t *d, time_t now, mtasts_wd_t *out)
{
	if (p == NULL || d == NULL || out == NULL)
		return MN_EINVAL;
	mtasts_wd_t w = { .since = now };
	char buf[POLICY_MAX + 1];
	size_t len = 0;
	if (d->mta_sts.present)
		goto done;
	/* a withdrawal begun before: state_dir/mta-sts/.withdrawn/D */
	if (p->server.state_dir.v != NULL) {
		int fd = mn_dir_open(p->server.state_dir.v, MTASTS_WITHDRAWN, 0, false);
		if (fd >= 0) {
			long long since;
			unsigned long age;
			w.recorded = read_small(fd, d->name, buf, sizeof(buf), &len) &&
				     sscanf(buf, "since %lld\nmax_age %lu\n", &since, &age) == 2 && age <= UINT32_MAX;
			if (w.recorded) {
				w.since = (time_t)since;
				w.max_age = (uint32_t)age;
			}
			close(fd);
		}
	}
	/* the policy file last written for d (ours: MTA_STS_DIR/D/.well-known) */
	char *dir = mtasts_dir(p);
	mn_buf_t sb = { 0 };
	mn_buf_addf(&sb, "%s/" WELL_KNOWN, d->name);
	char *sub = mn_buf_take(&sb);
	if (dir == NULL || sub == NULL) {
		free(dir);
		free(sub);
		return dir == NULL && p->server.state_dir.v == NULL && p->server.mta_sts_dir.v == NULL ? MN_OK
													   : MN_ENOMEM;
	}
	int fd = mn_dir_open(dir, sub, 0, false);
	free(dir);
	free(sub);
	if (fd >= 0) {
		uint32_t age;
		w.file = read_small(fd, POLICY_NAME, buf, sizeof(buf), &len);
		if (w.file && !w.recorded && text_max_age(buf, &age))
			w.max_age = age;
		else if (!w.recorded)
			w.file = false;	/* not a policy of ours: not withdrawn, left alone */
		close(fd);
	}
	if (!w.recorded && !w.file)
		goto done;
	w.until = w.since + (time_t)w.max_age;
	w.active = now < w.until;
	w.policy = (policy_mta_sts_t){ .present = true, .mode = { .v = MTA_STS_NONE }, .max_age = { .v = w.max_age } };
done:
	*out = w;
	return MN_OK;
}

/* Removes MTA_STS_DIR/D/.well-known/mta-sts.txt and the directories it leaves empty. */
static int remove_file(const char *dir, const policy_domain_t *d)
{
	int top = mn_dir_open(dir, NULL, 0, false), dom = -1, wk = -1, r = MN_OK;
	if (top < 0)
		return top == MN_ENOENT ? MN_OK : top;
	dom = openat(top, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dom >= 0)
		wk = openat(dom, WELL_KNOWN, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (wk >= 0 && unlinkat(wk, POLICY_NAME, 0) < 0 && errno != ENOENT)
		r = -errno;
	if (r == MN_OK && dom >= 0) {
		/* what else is there (a web server's own files) stays, and so do its directories */
		if (unlinkat(dom, WELL_KNOWN, AT_REMOVEDIR) == 0 || errno == ENOENT)
			(void)unlinkat(top, d->name, AT_REMOVEDIR);
	}
	if (wk >= 0)
		close(wk);
	if (dom >= 0)
		close(dom);
	close(top);
	return r;
}

/*
 * The persisted side of d's withdrawal w: begun (its record written, then the
 * mode none file), kept, or over (the file removed, then the record).
 */
static int withdraw_one(const policy_t *p, const char *dir, const policy_domain_t *d, const mtasts_wd_t *w,
			diag_t *diag)
{
	const char *state = p->server.state_dir.v;
	int r = MN_OK, fd = -1;
	if (!w->recorded && !w->file)
		return MN_OK;
	if (state == NULL) {
		/* no place for the record: the withdrawal cannot outlive this run */
		diag_error(diag, &d->pos, "cannot withdraw the MTA-STS policy of %s without server.state_dir",
			   d->name);
		return MN_EPOLICY;
	}
	r = fd = mn_dir_open(state, MTASTS_WITHDRAWN, 0755, true);
	if (fd < 0)
		goto fail;
	r = MN_OK;
	if (w->active && !w->recorded) {
		char rec[64];
		int n = snprintf(rec, sizeof(rec), "since %lld\nmax_age %u\n", (long long)w->since,
				 (unsigned)w->max_age);
		r = mn_file_replace_at(fd, d->name, rec, (size_t)n, 0644, MN_WRITE_FSYNC);
	}
	if (r == MN_OK && w->active)
		r = write_one(dir, d, &w->policy, diag);
	if (r == MN_OK && !w->active) {
		r = remove_file(dir, d);
		if (r == MN_OK && unlinkat(fd, d->name, 0) < 0 && errno != ENOENT)
			r = -errno;
	}
fail:
	if (r < 0 && r != MN_ENOMEM && r != MN_EPOLICY)
		diag_error(diag, &d->pos, "cannot withdraw the MTA-STS policy of %s (%s/" MTASTS_WITHDRAWN "/%s: %s)",
			   d->name, state, d->name, mn_strerror(r));
	if (fd >= 0)
		close(fd);
	return r;
}

/* d has mta_sts again: a withdrawal record left from before goes. */
static void forget_withdrawal(const policy_t *p, const policy_domain_t *d)
{
	if (p->server.state_dir.v == NULL)
		return;
	int fd = mn_dir_open(p->server.state_dir.v, MTASTS_WITHDRAWN, 0, false);
	if (fd >= 0) {
		(void)unlinkat(fd, d->name, 0);
		close(fd);
	}
}

/* ---- which domains may have files: two directory listings, read once ------------ */

struct mtasts_wdset {
	mn_map_t names;		/* the entries' names (keys and values: malloc'd copies) */
	bool unknown;		/* a listing failed: every name may */
};

static int wdset_list(mtasts_wdset_t *s, const char *base, const char *sub)
{
	int fd = mn_dir_open(base, sub, 0, false);
	if (fd < 0) {
		s->unknown |= fd != MN_ENOENT && fd != MN_ENOTDIR;
		return MN_OK;
	}
	DIR *dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		s->unknown = true;
		return MN_OK;
	}
	int r = MN_OK;
	struct dirent *e;
	while (r == MN_OK && (errno = 0, e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;	/* ".", "..", MTASTS_WITHDRAWN: never a domain */
		if (mn_map_gets(&s->names, e->d_name) != NULL)
			continue;
		char *name = strdup(e->d_name);
		void **slot = name != NULL ? mn_map_put(&s->names, name, strlen(name)) : NULL;
		if (slot == NULL) {
			free(name);
			r = MN_ENOMEM;
		} else {
			*slot = name;
		}
	}
	if (r == MN_OK && errno != 0)
		s->unknown = true;
	closedir(dir);
	return r;
}

int mtasts_wdset_load(const policy_t *p, mtasts_wdset_t **out)
{
	if (p == NULL || out == NULL)
		return MN_EINVAL;
	mtasts_wdset_t *s = calloc(1, sizeof(*s));
	char *dir = mtasts_dir(p);
	int r = MN_ENOMEM;
	if (s == NULL || (dir == NULL && (p->server.state_dir.v != NULL || p->server.mta_sts_dir.v != NULL)))
		goto fail;
	r = MN_OK;
	if (dir != NULL)
		r = wdset_list(s, dir, NULL);
	if (r == MN_OK && p->server.state_dir.v != NULL)
		r = wdset_list(s, p->server.state_dir.v, MTASTS_WITHDRAWN);
	if (r != MN_OK)
		goto fail;
	free(dir);
	*out = s;
	return MN_OK;
fail:
	free(dir);
	mtasts_wdset_free(s);
	return r;
}

bool mtasts_wdset_maybe(const mtasts_wdset_t *s, const char *name)
{
	return s == NULL || s->unknown || mn_map_gets(&s->names, name) != NULL;
}

bool mtasts_wdset_names(const mtasts_wdset_t *s, const mn_map_t **names)
{
	*names = NULL;
	if (s == NULL || s->unknown)
		return false;
	*names = &s->names;
	return true;
}

void mtasts_wdset_free(mtasts_wdset_t *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->names.cap; i++)
		free(s->names.slot[i].val);
	mn_map_free(&s->names);
	free(s);
}

/*
 * By domain index: true for those may says may have mta_sts and those set
 * names; NULL (*out) when every domain is to be looked at (may NULL, or the
 * set unknown).
 */
static int domains_to_write(const policy_t *p, const mtasts_wdset_t *set, const bool *may, bool **out)
{
	const mn_map_t *names = NULL;
	*out = NULL;
	if (may == NULL || p->ndomains == 0 || !mtasts_wdset_names(set, &names))
		return MN_OK;
	bool *v = malloc(p->ndomains * sizeof(*v));
	if (v == NULL)
		return MN_ENOMEM;
	memcpy(v, may, p->ndomains * sizeof(*v));
	for (size_t i = 0; names != NULL && i < names->cap; i++) {
		const policy_domain_t *d = names->slot[i].key != NULL ? policy_domain_find(p, names->slot[i].val) : NULL;
		if (d != NULL)
			v[d - p->domains] = true;
	}
	*out = v;
	return MN_OK;
}

int mtasts_write(const policy_t *p, const policy_domain_t *only, time_t now, const mtasts_wdset_t *set,
		 const bool *may, diag_t *diag)
{
	char *dir = mtasts_dir(p);
	int ret = MN_OK;
	bool *todo = NULL;
	if (dir == NULL)
		return p->server.state_dir.v == NULL && p->server.mta_sts_dir.v == NULL ? MN_OK : MN_ENOMEM;
	if (only == NULL && domains_to_write(p, set, may, &todo) != MN_OK) {
		free(dir);
		return MN_ENOMEM;
	}
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		if ((only != NULL && d != only) || (todo != NULL && !todo[i]))
			continue;
		int r = MN_OK;
		if (d->mta_sts.present) {
			r = write_one(dir, d, &d->mta_sts, diag);
			if (r == MN_OK && mtasts_wdset_maybe(set, d->name))
				forget_withdrawal(p, d);
		} else if (mtasts_wdset_maybe(set, d->name)) {
			mtasts_wd_t w;
			r = mtasts_withdrawal(p, d, now, &w);
			if (r == MN_OK)
				r = withdraw_one(p, dir, d, &w, diag);
		}
		if (r == MN_ENOMEM) {
			ret = r;
			break;
		}
		if (r < 0)
			ret = MN_EPOLICY;
	}
	free(todo);
	free(dir);
	return ret;
}

bool mtasts_mx_match(const char *pattern, const char *host)
{
	assert(pattern != NULL && host != NULL);
	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, host) == 0;
	const char *dot = strchr(host, '.');
	return dot != NULL && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
}
