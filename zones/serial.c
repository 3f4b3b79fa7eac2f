/* SPDX-License-Identifier: GPL-3.0-or-later */
/* serial.c -- SOA serials kept in state_dir/zones/serials: stable for unchanged zones */
#include "zones/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/mn.h"
#include "zones/incr.h"
#include "zones/records.h"
#include "zones/zone_internal.h"

typedef struct entry {
	const char *apex;	/* in the file's text */
	uint32_t serial;
	uint8_t digest[32];
} entry_t;

uint32_t serial_date_base(time_t now)
{
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL)
		return 0;
	return (uint32_t)(tm.tm_year + 1900) * 1000000u + (uint32_t)(tm.tm_mon + 1) * 10000u +
	       (uint32_t)tm.tm_mday * 100u;
}

static int entry_cmp(const void *x, const void *y)
{
	return strcmp(((const entry_t *)x)->apex, ((const entry_t *)y)->apex);
}


static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The next field separated by blanks, as strtok_r(" \t") cuts it; NULL at the end. */
static char *field(char **p)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	char *start = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return start;
}

static bool parse_line(char *line, entry_t *e)
{
	char *rest = line;
	char *apex = field(&rest);
	char *ser = field(&rest);
	char *dig = field(&rest);
	if (apex == NULL || ser == NULL || dig == NULL || field(&rest) != NULL)
		return false;
	if (ser[0] < '0' || ser[0] > '9')
		return false;
	errno = 0;
	char *end = NULL;
	unsigned long long s = strtoull(ser, &end, 10);
	if (errno != 0 || *end != '\0' || s > UINT32_MAX)
		return false;
	if (strlen(dig) != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(dig[2 * i]), lo = hexval(dig[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		e->digest[i] = (uint8_t)(hi << 4 | lo);
	}
	e->serial = (uint32_t)s;
	e->apex = apex;
	return true;
}

/*
 * Reads path into a sorted entry list; a missing file is an empty one.  The
 * entries point into *textp (freed by the caller after them).
 */
static int load(const char *path, diag_t *diag, entry_t **out, size_t *nout, char **textp)
{
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	*nout = 0;
	*textp = NULL;
	int r = mn_file_read(path, &text, &len);
	if (r == MN_ENOENT || r == -ENOTDIR)
		return MN_OK;
	if (r != MN_OK) {
		diag_error(diag, NULL, "cannot read %s (%s)", path, mn_strerror(r));
		return r;
	}
	entry_t *v = NULL;
	size_t n = 0, cap = 0;
	uint32_t lineno = 0;
	r = MN_OK;
	for (char *p = text, *nl; p != NULL && *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		lineno++;
		if (p[0] == '\0' || p[0] == '#')
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			entry_t *nv = realloc(v, c * sizeof(*nv));
			if (nv == NULL) {
				r = MN_ENOMEM;
				break;
			}
			v = nv;
			cap = c;
		}
		entry_t e = { 0 };
		if (!parse_line(p, &e)) {
			mn_pos_t pos = { .file = path, .line = lineno, .col = 1 };
			diag_error(diag, &pos, "malformed line in the serials file (want 'APEX SERIAL DIGEST')");
			r = MN_EPOLICY;
			continue;
		}
		v[n++] = e;
	}
	if (r != MN_OK) {
		free(v);
		free(text);
		return r;
	}
	*textp = text;
	/* the file is written sorted: sort only what was edited by hand */
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i - 1].apex, v[i].apex) > 0) {
			qsort(v, n, sizeof(*v), entry_cmp);
			break;
		}
	}
	*out = v;
	*nout = n;
	return MN_OK;
}

/*
 * The entry of apex, walking forward from *at: the zones come in apex order,
 * so each lookup resumes where the previous one stopped (one merge pass
 * instead of a binary search per zone).
 */
static const entry_t *find_next(const entry_t *v, size_t n, size_t *at, const char *apex)
{
	while (*at < n) {
		int c = strcmp(v[*at].apex, apex);
		if (c == 0)
			return &v[*at];
		if (c > 0)
			return NULL;
		(*at)++;
	}
	return NULL;
}

/* "APEX SERIAL DIGESTHEX\n" without printf: 300,000 zones, 33 calls each */
static void line_of(mn_buf_t *b, const char *apex, uint32_t serial, const uint8_t *digest)
{
	static const char hex[] = "0123456789abcdef";
	char tail[1 + 10 + 1 + 64 + 2], num[10];
	size_t k = 0, nd = 0;
	tail[k++] = ' ';
	do {
		num[nd++] = (char)('0' + serial % 10);
		serial /= 10;
	} while (serial != 0);
	while (nd > 0)
		tail[k++] = num[--nd];
	tail[k++] = ' ';
	for (size_t i = 0; i < 32; i++) {
		tail[k++] = hex[digest[i] >> 4];
		tail[k++] = hex[digest[i] & 15];
	}
	tail[k++] = '\n';
	tail[k] = '\0';
	mn_buf_add(b, apex);
	mn_buf_add(b, tail);
}

/* Writes the union of the stored entries and the zones (zones win), sorted. */
static int save(const char *state_dir, const char *path, const entry_t *v, size_t n,
		const zones_t *zs, bool legacy, diag_t *diag)
{
	mn_buf_t b = { 0 };
	size_t i = 0, j = 0;
	while (i < n || j < zs->n) {
		int c = i == n ? 1 : j == zs->n ? -1 : strcmp(v[i].apex, zs->v[j]->name);
		if (c < 0) {
			line_of(&b, v[i].apex, v[i].serial, v[i].digest);
			i++;
		} else {
			line_of(&b, zs->v[j]->name, zs->v[j]->serial, zs->v[j]->digest);
			j++;
			if (c == 0)
				i++;
		}
	}
	char *text = mn_buf_take(&b);
	if (text == NULL)
		return MN_ENOMEM;
	int dirfd = mn_dir_open(state_dir, "zones", 0750, true), r = dirfd;
	if (dirfd >= 0) {
		r = mn_file_replace_at(dirfd, "serials", text, strlen(text), 0640, MN_WRITE_FSYNC);
		close(dirfd);
	}
	if (r != MN_OK) {
		diag_error(diag, NULL, "cannot write %s (%s)", path, mn_strerror(r));
	} else if (legacy) {
		/* moved: the old file would be read again if the new one went */
		int sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd >= 0) {
			unlinkat(sfd, "serials", 0);
			close(sfd);
		}
	}
	free(text);
	return r;
}

static int zone_cmp(const void *x, const void *y)
{
	return strcmp((*(zone_t *const *)x)->name, (*(zone_t *const *)y)->name);
}

int serial_set(zones_t *zs, size_t i, uint32_t serial)
{
	zone_t *z = zs->v[i];
	if (z->serial == serial)
		return MN_OK;	/* (no write: a shared zone is being served) */
	if (incr_zone_shared(z)) {
		zone_t *c = incr_zone_copy(z);
		if (c == NULL)
			return MN_ENOMEM;
		zone_unref(z);
		zs->v[i] = z = c;
	}
	zone_set_serial(z, serial);
	return MN_OK;
}

int serial_assign(zones_t *zs, const char *state_dir, time_t now, bool persist, diag_t *diag)
{
	if (zs == NULL || state_dir == NULL || diag == NULL)
		return MN_EINVAL;
	mn_buf_t pb = { 0 }, lb = { 0 };
	mn_buf_addf(&pb, "%s/zones/serials", state_dir);
	mn_buf_addf(&lb, "%s/serials", state_dir);
	char *path = mn_buf_take(&pb), *legacy_path = mn_buf_take(&lb);
	entry_t *v = NULL;
	size_t n = 0;
	char *text = NULL;
	bool legacy = false;
	int r = MN_ENOMEM;
	if (path == NULL || legacy_path == NULL)
		goto out;
	r = load(path, diag, &v, &n, &text);
	if (r == MN_OK && text == NULL) {
		/* none yet: the file where earlier versions kept it (state_dir/serials), moved on save */
		r = load(legacy_path, diag, &v, &n, &text);
		legacy = text != NULL;
	}
	if (r != MN_OK)
		goto out;
	/* zs is sorted by apex already; keep the invariant cheap to check */
	for (size_t i = 1; i < zs->n; i++) {
		if (strcmp(zs->v[i - 1]->name, zs->v[i]->name) > 0) {
			qsort(zs->v, zs->n, sizeof(*zs->v), zone_cmp);
			break;
		}
	}
	uint32_t base = serial_date_base(now);
	bool changed = false;
	size_t at = 0;
	for (size_t i = 0; i < zs->n; i++) {
		zone_t *z = zs->v[i];
		const entry_t *e = find_next(v, n, &at, z->name);
		uint32_t s;
		if (e != NULL && memcmp(e->digest, z->digest, sizeof(z->digest)) == 0) {
			s = e->serial;
		} else {
			s = base;
			if (e != NULL && e->serial + 1u > s && e->serial != UINT32_MAX)
				s = e->serial + 1u;
			changed = true;
		}
		if ((r = serial_set(zs, i, s)) != MN_OK)
			goto out;
	}
	if (persist && (changed || legacy))
		r = save(state_dir, path, v, n, zs, legacy, diag);
out:
	free(v);
	free(text);
	free(path);
	free(legacy_path);
	return r;
}
