/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ingest.c -- inputs into the store: files, directories, Maildir, mbox, a message on a descriptor */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/mn.h"
#include "reports/ingest.h"

#define MAX_DEPTH 16

void ingest_init(ingest_t *in, report_store_t *store)
{
	static const report_limits_t def = REPORT_LIMITS_DEFAULT;
	memset(in, 0, sizeof(*in));
	in->store = store;
	in->limits = def;
}

static void note(ingest_t *in, const char *input, ingest_status_t st, unsigned int stored, unsigned int dup,
		 const char *why)
{
	if (st == INGEST_INVALID)
		in->invalid++;
	if (in->note != NULL)
		in->note(in->note_arg, input, st, stored, dup, why);
}

/* Reads one input and stores each report in it; returns its status. */
static ingest_status_t ingest_one(ingest_t *in, const uint8_t *buf, size_t len, const char *input,
				  const char *name)
{
	char why[512] = "";
	report_list_t *l = NULL;
	unsigned int stored = 0, dup = 0;

	in->inputs++;
	if (len > INGEST_MAX_INPUT) {
		snprintf(why, sizeof(why), "too large (%zu bytes, over %zu MiB)", len, INGEST_MAX_INPUT >> 20);
		note(in, input, INGEST_INVALID, 0, 0, why);
		return INGEST_INVALID;
	}
	int err = report_read(buf, len, name, &in->limits, &l, why, sizeof(why));
	if (err < 0) {
		if (err == MN_ENOMEM) {
			snprintf(why, sizeof(why), "out of memory");
			in->busy = true;
			in->store_err = err;
			note(in, input, INGEST_BUSY, 0, 0, why);
			return INGEST_BUSY;
		}
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "not a report (%s)", mn_strerror(err));
		note(in, input, INGEST_INVALID, 0, 0, why);
		return INGEST_INVALID;
	}
	for (size_t i = 0; i < l->n; i++) {
		bool d = false;
		err = report_store_put(in->store, l->v[i], &d);
		if (err == MN_ERANGE) {
			/* a count the store cannot hold: that report is invalid, not the store */
			snprintf(why, sizeof(why), "count out of range in report '%s'", l->v[i]->report_id);
			report_list_free(l);
			note(in, input, INGEST_INVALID, stored, dup, why);
			return INGEST_INVALID;
		}
		if (err < 0) {
			snprintf(why, sizeof(why), "store %s (%s)",
				 err == MN_ELOCK ? "busy" : "unwritable", mn_strerror(err));
			in->busy = true;
			in->store_err = err;
			report_list_free(l);
			note(in, input, INGEST_BUSY, stored, dup, why);
			return INGEST_BUSY;
		}
		if (d) {
			dup++;
			in->dup++;
		} else {
			stored++;
			in->stored++;
		}
	}
	report_list_free(l);
	note(in, input, INGEST_STORED, stored, dup, NULL);
	return INGEST_STORED;
}

int ingest_buffer(ingest_t *in, const uint8_t *buf, size_t len, const char *name)
{
	if (in == NULL || in->store == NULL || (buf == NULL && len > 0))
		return MN_EINVAL;
	if (in->busy)
		return MN_ELOCK;
	ingest_one(in, buf != NULL ? buf : (const uint8_t *)"", len, name != NULL ? name : "-", name);
	return in->busy ? MN_ELOCK : MN_OK;
}

int ingest_fd(ingest_t *in, int fd, const char *name)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int err = MN_OK;

	if (in == NULL || fd < 0)
		return MN_EINVAL;
	for (;;) {
		if (len == cap) {
			if (cap > INGEST_MAX_INPUT)
				break;	/* more than the cap: refused below, the rest unread */
			size_t nc = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, nc);
			if (nb == NULL) {
				err = MN_ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = nc;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			char why[128];
			snprintf(why, sizeof(why), "cannot read (%s)", mn_strerror(err));
			in->inputs++;
			note(in, name, INGEST_INVALID, 0, 0, why);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	err = ingest_buffer(in, buf, len, name);
fail:
	free(buf);
	return err;
}

/* ---- mbox ------------------------------------------------------------------ */

static bool is_mbox(const uint8_t *p, size_t len)
{
	return len >= 5 && memcmp(p, "From ", 5) == 0;
}

/* The message from..to without its From_ line, with mboxrd ">From " lines unquoted. */
static uint8_t *mbox_message(const uint8_t *from, const uint8_t *to, size_t *outlen)
{
	const uint8_t *p = memchr(from, '\n', (size_t)(to - from));
	p = p != NULL ? p + 1 : to;
	uint8_t *out = malloc((size_t)(to - p) + 1);
	size_t n = 0;
	if (out == NULL)
		return NULL;
	while (p < to) {
		const uint8_t *eol = memchr(p, '\n', (size_t)(to - p));
		const uint8_t *next = eol != NULL ? eol + 1 : to;
		const uint8_t *q = p;
		while (q < next && *q == '>')
			q++;
		if (q > p && (size_t)(next - q) >= 5 && memcmp(q, "From ", 5) == 0)
			p++;	/* ">From " -> "From ", ">>From " -> ">From " */
		memcpy(out + n, p, (size_t)(next - p));
		n += (size_t)(next - p);
		p = next;
	}
	*outlen = n;
	return out;
}

static void ingest_mbox(ingest_t *in, const uint8_t *buf, size_t len, const char *path, const char *base)
{
	const uint8_t *end = buf + len, *start = buf;
	unsigned int msgno = 0;
	size_t line = 1, startline = 1;

	while (start < end && !in->busy) {
		/* the next "\nFrom " after this message's From_ line */
		const uint8_t *p = start + 1, *next = end;
		size_t lines = 0;
		for (const uint8_t *nl; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
			lines++;
			if ((size_t)(end - nl) > 5 && memcmp(nl + 1, "From ", 5) == 0) {
				next = nl + 1;
				break;
			}
		}
		msgno++;
		char input[4200];
		snprintf(input, sizeof(input), "%s: message %u (line %zu)", path, msgno, startline);
		size_t mlen = 0;
		if ((size_t)(next - start) > INGEST_MAX_INPUT + 4096) {
			in->inputs++;
			note(in, input, INGEST_INVALID, 0, 0, "too large (over 64 MiB)");
		} else {
			uint8_t *msg = mbox_message(start, next, &mlen);
			if (msg == NULL) {
				in->busy = true;
				in->store_err = MN_ENOMEM;
				note(in, input, INGEST_BUSY, 0, 0, "out of memory");
				return;
			}
			ingest_one(in, msg, mlen, input, base);
			free(msg);
		}
		line += lines;
		startline = line;
		start = next;
	}
}

/* ---- files and directories ----------------------------------------------------- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s != NULL ? s + 1 : path;
}

static ingest_status_t ingest_file(ingest_t *in, const char *path)
{
	char why[300];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ingest_status_t status = INGEST_INVALID;

	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(why, sizeof(why), "cannot open (%s)", strerror(errno));
		goto invalid;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, sizeof(why), "not a regular file");
		goto invalid;
	}
	size_t len = (size_t)st.st_size;
	if (len == 0) {
		close(fd);
		return ingest_one(in, (const uint8_t *)"", 0, path, base_name(path));
	}
	if ((uint64_t)st.st_size > INGEST_MAX_MBOX) {
		snprintf(why, sizeof(why), "too large (%lld bytes)", (long long)st.st_size);
		goto invalid;
	}
	uint8_t *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(why, sizeof(why), "cannot read (%s)", strerror(errno));
		goto invalid;
	}
	close(fd);
	uint64_t invalid0 = in->invalid;
	if (is_mbox(map, len)) {
		ingest_mbox(in, map, len, path, base_name(path));
		status = in->busy ? INGEST_BUSY : in->invalid > invalid0 ? INGEST_INVALID : INGEST_STORED;
	} else {
		status = ingest_one(in, map, len, path, base_name(path));
	}
	munmap(map, len);
	return status;
invalid:
	if (fd >= 0)
		close(fd);
	in->inputs++;
	note(in, path, INGEST_INVALID, 0, 0, why);
	return INGEST_INVALID;
}

static int skip_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static bool is_dir(const char *dir, const char *sub)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ingest_dir(ingest_t *in, const char *path, int depth);

/* The entries of dir in name order; each file ingested (maildir_new: moved to ../cur once stored). */
static int walk(ingest_t *in, const char *dir, int depth, bool recurse, bool maildir_new)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, skip_dot, alphasort);
	int err = MN_OK;
	char path[4096];

	if (n < 0) {
		char why[300];
		err = -errno;
		snprintf(why, sizeof(why), "cannot read the directory (%s)", strerror(errno));
		in->inputs++;
		note(in, dir, INGEST_INVALID, 0, 0, why);
		return err;
	}
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (in->busy || snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (recurse)
				ingest_dir(in, path, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (ingest_file(in, path) != INGEST_STORED || !maildir_new)
			continue;
		/* Maildir: new/NAME -> cur/NAME:2, (stored or a duplicate) */
		char dst[4200];
		const char *name = ents[i]->d_name;
		snprintf(dst, sizeof(dst), "%s/../cur/%s%s", dir, name, strchr(name, ':') != NULL ? "" : ":2,");
		if (rename(path, dst) != 0) {
			char why[300];
			snprintf(why, sizeof(why), "stored, but not moved to cur/ (%s)", strerror(errno));
			note(in, path, INGEST_STORED, 0, 0, why);
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return in->busy ? MN_ELOCK : MN_OK;
}

static int ingest_dir(ingest_t *in, const char *path, int depth)
{
	char sub[4096];

	if (depth > MAX_DEPTH) {
		in->inputs++;
		note(in, path, INGEST_INVALID, 0, 0, "directories nested too deep");
		return MN_ERANGE;
	}
	if (is_dir(path, "cur") && is_dir(path, "new") && is_dir(path, "tmp")) {
		/* cur/ first: what new/ moves there is not read twice */
		snprintf(sub, sizeof(sub), "%s/cur", path);
		int err = walk(in, sub, depth, false, false);
		if (err == MN_ELOCK)
			return err;
		snprintf(sub, sizeof(sub), "%s/new", path);
		return walk(in, sub, depth, false, true);
	}
	return walk(in, path, depth, true, false);
}

int ingest_path(ingest_t *in, const char *path)
{
	struct stat st;

	if (in == NULL || in->store == NULL || path == NULL)
		return MN_EINVAL;
	if (in->busy)
		return MN_ELOCK;
	if (stat(path, &st) != 0) {
		int err = -errno;
		char why[300];
		snprintf(why, sizeof(why), "cannot open (%s)", strerror(errno));
		in->inputs++;
		note(in, path, INGEST_INVALID, 0, 0, why);
		return err;
	}
	if (S_ISDIR(st.st_mode))
		return ingest_dir(in, path, 0);
	ingest_file(in, path);
	return in->busy ? MN_ELOCK : MN_OK;
}
