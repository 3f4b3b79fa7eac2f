/* SPDX-License-Identifier: GPL-3.0-or-later */
/* serial.c -- SOA serials kept in state_dir/zones/serials and its journal: stable for unchanged zones */
#include "zones/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/mn.h"
#include "zones/incr.h"
#include "zones/records.h"
#include "zones/zone_internal.h"

/*
 * The stored serials are the base file zones/serials ("APEX SERIAL DIGESTHEX"
 * lines sorted by apex, replaced atomically) followed by the journal
 * zones/serials.journal (lines of the same form, appended and fsynced for the
 * zones that changed; a later line wins).  Only complete lines count: a crash
 * in the middle of an append leaves a torn last line, ignored on reading and
 * cut off before the next append.  When the journal would hold as many lines
 * as there are entries, the merged list becomes the base and the journal is
 * emptied (a crash in between leaves lines the base already has).
 *
 * The merged list is kept in memory between calls (one state_dir at a time)
 * and read again only when either file is not as this process left it (its
 * inode, size or times changed): a reload then costs a walk over the zones in
 * memory and one append, not the reading and rewriting of every line.
 */
enum { APEX_MAX = 255, LINE_MAX_LEN = APEX_MAX + 1 + 10 + 1 + 64 + 1 };

typedef struct entry {
	const char *apex;	/* in one of the store's blocks */
	uint32_t serial;
	uint32_t seq;		/* its line's place in what was read (a later line wins) */
	uint8_t digest[32];
} entry_t;

typedef struct fileid {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
} fileid_t;

typedef struct store {
	char *dir;			/* state_dir the entries are of; NULL: none held */
	fileid_t base_id, journal_id;
	entry_t *v;			/* sorted by apex, one per apex */
	size_t n, cap;
	size_t journal_lines;		/* complete lines in the journal */
	char **blocks;			/* the apex strings' memory */
	size_t nblocks, blocks_cap;
	bool legacy;			/* read from state_dir/serials by serial_peek: not moved yet */
	uint64_t token;			/* changes with the entries (serial_assign_known) */
} store_t;

/* This process's copy of the stored serials (reloads run one at a time; the lock is for tests and tools). */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static store_t store;
static size_t store_loads;	/* times the files were read (store_lock) */
static uint64_t token_seq;	/* the last token given out (under store_lock) */

uint32_t serial_date_base(time_t now)
{
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL)
		return 0;
	return (uint32_t)(tm.tm_year + 1900) * 1000000u + (uint32_t)(tm.tm_mon + 1) * 10000u +
	       (uint32_t)tm.tm_mday * 100u;
}

/* ---- the list in memory ---- */

static void store_clear(store_t *s)
{
	for (size_t i = 0; i < s->nblocks; i++)
		free(s->blocks[i]);
	free(s->blocks);
	free(s->v);
	free(s->dir);
	memset(s, 0, sizeof(*s));
	s->token = ++token_seq;	/* (what is read into it next is not what any caller saw) */
}

static int block_keep(store_t *s, char *b)
{
	if (s->nblocks == s->blocks_cap) {
		size_t c = s->blocks_cap ? s->blocks_cap * 2 : 8;
		char **nb = realloc(s->blocks, c * sizeof(*nb));
		if (nb == NULL)
			return MN_ENOMEM;
		s->blocks = nb;
		s->blocks_cap = c;
	}
	s->blocks[s->nblocks++] = b;
	return MN_OK;
}

static int entries_reserve(entry_t **v, size_t *cap, size_t want)
{
	if (want <= *cap)
		return MN_OK;
	size_t c = *cap ? *cap : 64;
	while (c < want)
		c *= 2;
	entry_t *nv = realloc(*v, c * sizeof(*nv));
	if (nv == NULL)
		return MN_ENOMEM;
	*v = nv;
	*cap = c;
	return MN_OK;
}

/* By apex, then by line: the later line wins after dedup_last(). */
static int entry_cmp_pos(const void *x, const void *y)
{
	const entry_t *a = x, *b = y;
	int c = strcmp(a->apex, b->apex);
	return c != 0 ? c : a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Keeps the last of each run of equal apexes in a sorted array; returns the new count. */
static size_t dedup_last(entry_t *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1].apex, v[i].apex) == 0)
			v[k - 1] = v[i];
		else
			v[k++] = v[i];
	}
	return k;
}

/*
 * The index of apex in s->v, or where it would go (*found false), searching
 * from *from on: the zones come in apex order, so each lookup resumes where
 * the previous one stopped (a merge walk, no binary search per zone).
 */
static size_t store_next(const store_t *s, size_t *from, const char *apex, bool *found)
{
	while (*from < s->n) {
		int c = strcmp(s->v[*from].apex, apex);
		if (c >= 0) {
			*found = c == 0;
			return *from;
		}
		(*from)++;
	}
	*found = false;
	return s->n;
}

/* ---- reading ---- */

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
	if (strlen(apex) > APEX_MAX || ser[0] < '0' || ser[0] > '9')
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

static void fileid_of(const struct stat *st, fileid_t *id)
{
	*id = (fileid_t){ .exists = true, .dev = st->st_dev, .ino = st->st_ino, .size = st->st_size,
			  .mtime = st->st_mtim, .ctime = st->st_ctim };
}

static bool fileid_same(const fileid_t *a, const fileid_t *b)
{
	if (a->exists != b->exists)
		return false;
	return !a->exists ||
	       (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
		a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec);
}

/* The file's identity now; a missing one is "not there" (exists false). */
static int fileid_get(const char *path, fileid_t *id)
{
	struct stat st;
	*id = (fileid_t){ 0 };
	if (stat(path, &st) == 0) {
		fileid_of(&st, id);
		return MN_OK;
	}
	return errno == ENOENT || errno == ENOTDIR ? MN_OK : -errno;
}

/*
 * Reads path and appends its lines to *v (entries pointing into the text,
 * which is kept in s's blocks).  journal: only '\n'-ended lines count (the
 * rest is a torn append), counted in *lines.  A missing file adds nothing
 * (*found false).  A malformed line is a diag error at FILE:LINE.
 */
static int read_lines(store_t *s, const char *path, bool journal, diag_t *diag, entry_t **v,
		      size_t *n, size_t *cap, size_t *lines, bool *found)
{
	char *text = NULL;
	size_t len = 0;
	*found = false;
	int r = mn_file_read(path, &text, &len);
	if (r == MN_ENOENT || r == -ENOTDIR)
		return MN_OK;
	if (r != MN_OK) {
		diag_error(diag, NULL, "cannot read %s (%s)", path, mn_strerror(r));
		return r;
	}
	*found = true;
	if ((r = block_keep(s, text)) != MN_OK) {
		free(text);
		return r;
	}
	if (journal) {
		/* a torn last line (a crash during an append) is not there */
		char *lastnl = memrchr(text, '\n', len);
		len = lastnl != NULL ? (size_t)(lastnl - text) + 1 : 0;
		text[len] = '\0';
	}
	uint32_t lineno = 0;
	for (char *p = text, *nl; *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		lineno++;
		if (p[0] == '\0' || p[0] == '#')
			continue;
		entry_t e = { 0 };
		if (!parse_line(p, &e)) {
			mn_pos_t pos = { .file = path, .line = lineno, .col = 1 };
			diag_error(diag, &pos, "malformed line in the serials %s (want 'APEX SERIAL DIGEST')",
				   journal ? "journal" : "file");
			r = MN_EPOLICY;
			continue;
		}
		if (journal)
			(*lines)++;
		if (r == MN_OK && (r = entries_reserve(v, cap, *n + 1)) != MN_OK)
			return r;
		e.seq = (uint32_t)*n;
		if (r == MN_OK)
			(*v)[(*n)++] = e;
	}
	return r;
}

/*
 * Copies the apexes into one block and frees the files' texts (a line is
 * about 100 bytes, its apex 20): what stays in memory between reloads.
 */
static int store_pack(store_t *s)
{
	size_t bytes = 0;
	for (size_t i = 0; i < s->n; i++)
		bytes += strlen(s->v[i].apex) + 1;
	char *names = malloc(bytes > 0 ? bytes : 1), *np = names;
	if (names == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t l = strlen(s->v[i].apex) + 1;
		memcpy(np, s->v[i].apex, l);
		s->v[i].apex = np;
		np += l;
	}
	for (size_t i = 0; i < s->nblocks; i++)
		free(s->blocks[i]);
	s->nblocks = 0;
	int r = block_keep(s, names);
	if (r != MN_OK)
		free(names);
	return r;
}

static bool sorted(const entry_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1].apex, v[i].apex) >= 0)
			return false;
	return true;
}

/*
 * Fills s (cleared) from state_dir's files: the base (or, when there is
 * neither it nor a line in the journal, the legacy state_dir/serials:
 * *legacy) merged with the journal.  The identities are taken before reading, so a file changed while
 * it is read is read again next time.
 */
static int store_load(store_t *s, const char *state_dir, const char *base, const char *journal,
		      const char *legacy_path, diag_t *diag, bool *legacy)
{
	entry_t *j = NULL;
	size_t nj = 0, capj = 0;
	bool found_base = false, found_journal = false;	/* (an empty journal is none) */
	*legacy = false;
	int r = MN_ENOMEM;
	store_loads++;
	if ((s->dir = mn_strdup(state_dir)) == NULL)
		goto fail;
	if ((r = fileid_get(base, &s->base_id)) != MN_OK || (r = fileid_get(journal, &s->journal_id)) != MN_OK) {
		diag_error(diag, NULL, "cannot read %s (%s)", base, mn_strerror(r));
		goto fail;
	}
	r = read_lines(s, base, false, diag, &s->v, &s->n, &s->cap, NULL, &found_base);
	if (r == MN_OK)
		r = read_lines(s, journal, true, diag, &j, &nj, &capj, &s->journal_lines, &found_journal);
	if (r == MN_OK && !found_base && nj == 0) {
		/* none yet: the file where earlier versions kept it, moved on the next write */
		r = read_lines(s, legacy_path, false, diag, &s->v, &s->n, &s->cap, NULL, legacy);
	}
	if (r != MN_OK)
		goto fail;
	/* the base is written sorted: sort only what was edited by hand */
	if (!sorted(s->v, s->n)) {
		qsort(s->v, s->n, sizeof(*s->v), entry_cmp_pos);
		s->n = dedup_last(s->v, s->n);
	}
	if (nj > 0) {
		qsort(j, nj, sizeof(*j), entry_cmp_pos);
		nj = dedup_last(j, nj);
		/* merge: a journal line replaces the base's */
		entry_t *m = malloc((s->n + nj) * sizeof(*m));
		if (m == NULL) {
			r = MN_ENOMEM;
			goto fail;
		}
		size_t a = 0, b = 0, k = 0;
		while (a < s->n || b < nj) {
			int c = a == s->n ? 1 : b == nj ? -1 : strcmp(s->v[a].apex, j[b].apex);
			if (c < 0) {
				m[k++] = s->v[a++];
			} else {
				m[k++] = j[b++];
				a += c == 0;
			}
		}
		free(s->v);
		s->v = m;
		s->n = k;
		s->cap = s->n + nj;
	}
	free(j);
	j = NULL;
	if ((r = store_pack(s)) != MN_OK)
		goto fail;
	return MN_OK;
fail:
	free(j);
	store_clear(s);
	return r;
}

/* ---- writing ---- */

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

/* Cuts a torn last line (no '\n' at the end) off the journal open at fd. */
static int cut_torn(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_size == 0)
		return MN_OK;
	char buf[2 * LINE_MAX_LEN];
	off_t from = st.st_size > (off_t)sizeof(buf) ? st.st_size - (off_t)sizeof(buf) : 0;
	ssize_t got = pread(fd, buf, (size_t)(st.st_size - from), from);
	if (got < 0)
		return -errno;
	if (got > 0 && buf[got - 1] == '\n')
		return MN_OK;
	char *nl = got > 0 ? memrchr(buf, '\n', (size_t)got) : NULL;
	if (nl == NULL && from > 0)
		return MN_EPOLICY;	/* no line end in the longest line's length: not a journal */
	off_t keep = nl != NULL ? from + (nl - buf) + 1 : 0;
	return ftruncate(fd, keep) == 0 ? MN_OK : -errno;
}

/*
 * Opens (creates: 0640, given the owner of zones/ when run as root, so that
 * the server can append to what root's `mailns zone` created) and locks the
 * journal in zones/ (dirfd): every writer of the serials holds this lock.
 * The journal must still be as expect (what this process read): otherwise
 * another writer came in between and -EAGAIN says to read again.  *created
 * tells that the directory must be synced.
 */
static int journal_lock(int dirfd, const fileid_t *expect, bool *created)
{
	*created = false;
	int fd = openat(dirfd, "serials.journal", O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = openat(dirfd, "serials.journal",
			    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		*created = fd >= 0;
	}
	if (fd < 0)
		return errno == ELOOP ? MN_ESYMLINK : errno == EEXIST ? -EAGAIN : -errno;
	int r = MN_OK;
	struct stat st;
	if (*created && geteuid() == 0 && fstat(dirfd, &st) == 0 && fchown(fd, st.st_uid, st.st_gid) != 0)
		r = -errno;
	if (r == MN_OK && (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0))
		r = -errno;
	if (r == MN_OK) {
		fileid_t now;
		fileid_of(&st, &now);
		if (expect->exists ? !fileid_same(&now, expect) : st.st_size != 0)
			r = -EAGAIN;
	}
	if (r != MN_OK) {
		close(fd);
		return r;
	}
	return fd;
}

/* Appends text to the locked journal fd, after cutting a torn last line; fsynced. */
static int journal_append(int fd, const char *text, size_t len)
{
	int r = cut_torn(fd);
	if (r == MN_OK)
		r = mn_write_all(fd, text, len);
	if (r == MN_OK && fsync(fd) != 0)
		r = -errno;
	return r;
}

/* Writes s's whole list as the base and empties the locked journal fd. */
static int store_compact(store_t *s, int dirfd, int fd)
{
	mn_buf_t b = { 0 };
	for (size_t i = 0; i < s->n; i++)
		line_of(&b, s->v[i].apex, s->v[i].serial, s->v[i].digest);
	char *text = mn_buf_take(&b);
	if (text == NULL && s->n > 0)
		return MN_ENOMEM;
	int r = mn_file_replace_at(dirfd, "serials", text != NULL ? text : "",
				   text != NULL ? strlen(text) : 0, 0640, MN_WRITE_FSYNC);
	free(text);
	struct stat st;
	if (r == MN_OK && fstatat(dirfd, "serials", &st, AT_SYMLINK_NOFOLLOW) == 0)
		fileid_of(&st, &s->base_id);
	/* a crash before this leaves lines the base has already: they change nothing */
	if (r == MN_OK && (ftruncate(fd, 0) != 0 || fsync(fd) != 0))
		r = -errno;
	if (r == MN_OK)
		s->journal_lines = 0;
	return r;
}

/* A changed zone's new entry, applied to the store once it is on disk. */
typedef struct change {
	const zone_t *zone;
	size_t at;		/* its entry's index in the store, or where it goes */
	bool found;
} change_t;

/*
 * Applies the changes (in apex order) to s: entries updated in place, new
 * ones merged in, their apexes copied into one new block.
 */
static int store_apply(store_t *s, const change_t *c, size_t nc)
{
	size_t added = 0, bytes = 0;
	for (size_t i = 0; i < nc; i++) {
		if (!c[i].found) {
			added++;
			bytes += strlen(c[i].zone->name) + 1;
		}
	}
	char *names = NULL;
	entry_t *m = NULL;
	if (added > 0) {
		names = malloc(bytes);
		m = malloc((s->n + added) * sizeof(*m));
		if (names == NULL || m == NULL || block_keep(s, names) != MN_OK) {
			free(names);
			free(m);
			return MN_ENOMEM;
		}
	}
	char *np = names;
	size_t k = 0, from = 0;
	if (nc > 0)
		s->token = ++token_seq;
	for (size_t i = 0; i < nc; i++) {
		const zone_t *z = c[i].zone;
		if (c[i].found) {
			s->v[c[i].at].serial = z->serial;
			memcpy(s->v[c[i].at].digest, z->digest, sizeof(z->digest));
			continue;
		}
		/* the entries before it, then the new one */
		if (c[i].at > from)
			memcpy(m + k, s->v + from, (c[i].at - from) * sizeof(*m));
		k += c[i].at - from;
		from = c[i].at;
		size_t l = strlen(z->name) + 1;
		memcpy(np, z->name, l);
		m[k].apex = np;
		m[k].serial = z->serial;
		memcpy(m[k].digest, z->digest, sizeof(z->digest));
		k++;
		np += l;
	}
	if (added > 0) {
		if (s->n > from)
			memcpy(m + k, s->v + from, (s->n - from) * sizeof(*m));
		k += s->n - from;
		free(s->v);
		s->v = m;
		s->n = s->cap = k;
	}
	return MN_OK;
}

/* ---- assigning ---- */

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
		incr_zone_drop(z);	/* (a cache entry's: the entry lets it go, entries_follow) */
		zs->v[i] = z = c;
		zs->owns_some |= zs->hold != NULL;	/* (a finished output changed: c is its own) */
	}
	zone_set_serial(z, serial);
	return MN_OK;
}

/* Is the store the stored state of state_dir, as this process left it? */
static bool store_current(const store_t *s, const char *state_dir, const char *base, const char *journal)
{
	if (s->dir == NULL || strcmp(s->dir, state_dir) != 0)
		return false;
	fileid_t b, j;
	return fileid_get(base, &b) == MN_OK && fileid_get(journal, &j) == MN_OK &&
	       fileid_same(&b, &s->base_id) && fileid_same(&j, &s->journal_id);
}

/* The changed zones of one assign, in apex order. */
typedef struct changes {
	change_t *v;
	size_t n, cap;
} changes_t;

/*
 * Gives zs->v[i] its serial from s, at being its entry's index in s->v (or
 * where it would go: found false); a changed zone is listed in ch.
 */
static int assign_one(const store_t *s, zones_t *zs, size_t i, size_t at, bool found, uint32_t base,
		      changes_t *ch)
{
	const zone_t *z = zs->v[i];
	const entry_t *e = found ? &s->v[at] : NULL;
	uint32_t sn;
	bool changed = false;
	if (e != NULL && memcmp(e->digest, z->digest, sizeof(z->digest)) == 0) {
		sn = e->serial;
	} else {
		sn = base;
		if (e != NULL && e->serial + 1u > sn && e->serial != UINT32_MAX)
			sn = e->serial + 1u;
		if (ch->n == ch->cap) {
			size_t cc = ch->cap ? ch->cap * 2 : 16;
			change_t *nv = realloc(ch->v, cc * sizeof(*nv));
			if (nv == NULL)
				return MN_ENOMEM;
			ch->v = nv;
			ch->cap = cc;
		}
		changed = true;
	}
	int r = serial_set(zs, i, sn);
	if (r == MN_OK && changed)
		ch->v[ch->n++] = (change_t){ .zone = zs->v[i], .at = at, .found = found };	/* (it may be a copy) */
	return r;
}

/* Gives each zone its serial from s and lists the changed ones in ch (apex order). */
static int assign(store_t *s, zones_t *zs, time_t now, changes_t *ch)
{
	uint32_t base = serial_date_base(now);
	size_t from = 0;
	for (size_t i = 0; i < zs->n; i++) {
		bool found;
		size_t at = store_next(s, &from, zs->v[i]->name, &found);
		int r = assign_one(s, zs, i, at, found, base, ch);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

/* The index of apex in s->v, or where it would go (*found false): a binary search. */
static size_t store_find(const store_t *s, const char *apex, bool *found)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].apex, apex);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/*
 * assign() of the zones not known (known[i] false), each looked up by a
 * binary search: a known zone has the serial and digest of its entry in s
 * already.  *ordered false (nothing assigned) when the zones to look up are
 * not in strict apex order.
 */
static int assign_some(store_t *s, zones_t *zs, const bool *known, time_t now, changes_t *ch, bool *ordered)
{
	uint32_t base = serial_date_base(now);
	const char *last = NULL;
	*ordered = true;
	for (size_t i = 0; i < zs->n; i++) {
		if (known[i])
			continue;
		if (last != NULL && strcmp(last, zs->v[i]->name) >= 0) {
			*ordered = false;
			return MN_OK;
		}
		last = zs->v[i]->name;
	}
	for (size_t i = 0; i < zs->n; i++) {
		if (known[i])
			continue;
		bool found;
		size_t at = store_find(s, zs->v[i]->name, &found);
		int r = assign_one(s, zs, i, at, found, base, ch);
		if (r != MN_OK)
			return r;
	}
	return MN_OK;
}

/* Writes the changes: appended to the journal, or the whole list as the base when that is due. */
static int persist(store_t *s, const char *state_dir, const change_t *c, size_t nc, bool legacy,
		   const char *base_path, const char *journal_path, diag_t *diag)
{
	int dirfd = mn_dir_open(state_dir, "zones", 0750, true), r = dirfd;
	if (dirfd < 0) {
		diag_error(diag, NULL, "cannot write %s (%s)", base_path, mn_strerror(r));
		return r;
	}
	bool created = false, compact = false;
	int fd = journal_lock(dirfd, &s->journal_id, &created);
	r = fd < 0 ? fd : MN_OK;
	/* the list in memory is now what is on disk, or it is read again next time */
	if (r == MN_OK)
		r = store_apply(s, c, nc);
	/* the journal is kept to at most as many lines as there are entries */
	compact = legacy || !s->base_id.exists || s->journal_lines + nc > s->n;
	if (r == MN_OK && compact) {
		r = store_compact(s, dirfd, fd);
	} else if (r == MN_OK) {
		mn_buf_t b = { 0 };
		for (size_t i = 0; i < nc; i++)
			line_of(&b, c[i].zone->name, c[i].zone->serial, c[i].zone->digest);
		char *text = mn_buf_take(&b);
		r = text != NULL ? journal_append(fd, text, strlen(text)) : MN_ENOMEM;
		free(text);
		if (r == MN_OK)
			s->journal_lines += nc;
	}
	if (r == MN_OK && created && fsync(dirfd) != 0)
		r = -errno;
	struct stat st;
	if (r == MN_OK && fstat(fd, &st) == 0)
		fileid_of(&st, &s->journal_id);
	if (fd >= 0)
		close(fd);	/* (the lock with it) */
	if (r == -EAGAIN) {
		/* another writer: the caller reads again and assigns anew */
	} else if (r != MN_OK) {
		diag_error(diag, NULL, "cannot write %s (%s)", compact ? base_path : journal_path,
			   mn_strerror(r));
	} else if (legacy) {
		/* moved: the old file would be read again if the new one went */
		int sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd >= 0) {
			unlinkat(sfd, "serials", 0);
			close(sfd);
		}
	}
	close(dirfd);
	return r;
}

/* The list, its journal and the list's old place (before zones/), each NULL when out of memory. */
static void store_paths(const char *state_dir, char **path, char **journal, char **legacy_path)
{
	mn_buf_t pb = { 0 }, jb = { 0 }, lb = { 0 };
	mn_buf_addf(&pb, "%s/zones/serials", state_dir);
	mn_buf_addf(&jb, "%s/zones/serials.journal", state_dir);
	mn_buf_addf(&lb, "%s/serials", state_dir);
	*path = mn_buf_take(&pb);
	*journal = mn_buf_take(&jb);
	*legacy_path = mn_buf_take(&lb);
}

int serial_assign_known(zones_t *zs, const bool *known, uint64_t *token, const char *state_dir, time_t now,
			bool persist_them, diag_t *diag)
{
	if (zs == NULL || state_dir == NULL || diag == NULL)
		return MN_EINVAL;
	uint64_t seen = token != NULL ? *token : 0;
	if (token != NULL)
		*token = 0;
	char *path = NULL, *journal = NULL, *legacy_path = NULL;
	store_paths(state_dir, &path, &journal, &legacy_path);
	changes_t ch = { 0 };
	bool legacy = false, checked = false;
	int r = MN_ENOMEM;
	if (path == NULL || journal == NULL || legacy_path == NULL)
		goto out;
	pthread_mutex_lock(&store_lock);
	/* another writer between reading and writing: read again, a few times */
	for (int tries = 0; tries < 4; tries++) {
		r = MN_OK;
		legacy = false;
		if (!store_current(&store, state_dir, path, journal)) {
			store_clear(&store);
			r = store_load(&store, state_dir, path, journal, legacy_path, diag, &legacy);
		} else {
			legacy = store.legacy;	/* (loaded by serial_peek) */
		}
		ch.n = 0;
		/* the list as the caller's known zones left it: only the others looked up */
		bool some = false;
		if (r == MN_OK && known != NULL && seen != 0 && store.token == seen && !checked)
			r = assign_some(&store, zs, known, now, &ch, &some);
		if (r == MN_OK && !some && !checked) {
			/* zs is sorted by apex already; keep the invariant cheap to check */
			for (size_t i = 1; i < zs->n; i++) {
				if (strcmp(zs->v[i - 1]->name, zs->v[i]->name) > 0) {
					qsort(zs->v, zs->n, sizeof(*zs->v), zone_cmp);
					break;
				}
			}
			checked = true;
		}
		if (r == MN_OK && !some)
			r = assign(&store, zs, now, &ch);
		if (r == MN_OK && persist_them && (ch.n > 0 || legacy))
			r = persist(&store, state_dir, ch.v, ch.n, legacy, path, journal, diag);
		if (r == MN_OK && persist_them)
			store.legacy = false;	/* moved */
		if (r != MN_OK || (legacy && !persist_them))
			store_clear(&store);	/* read again next time */
		if (r != -EAGAIN)
			break;
	}
	if (r == -EAGAIN)
		diag_error(diag, NULL, "cannot write %s (%s)", journal, "changed by another writer each time");
	/* the zones are the list's entries now (unless changes were not kept) */
	if (r == MN_OK && token != NULL && (persist_them || ch.n == 0))
		*token = store.token;
	pthread_mutex_unlock(&store_lock);
out:
	free(ch.v);
	free(path);
	free(journal);
	free(legacy_path);
	return r;
}

/*
 * The store as state_dir's files hold it, read unless held already; store_lock
 * held.  On failure nothing is held (serial_assign reads again and reports).
 */
static int store_ensure(const char *state_dir, const char *path, const char *journal, const char *legacy_path,
			diag_t *scratch)
{
	if (store_current(&store, state_dir, path, journal))
		return MN_OK;
	bool legacy = false;
	store_clear(&store);
	int r = store_load(&store, state_dir, path, journal, legacy_path, scratch, &legacy);
	if (r != MN_OK)
		store_clear(&store);
	else if (legacy)
		store.legacy = true;	/* serial_assign moves it */
	return r;
}

void serial_preload(const char *state_dir)
{
	if (state_dir == NULL)
		return;
	char *path = NULL, *journal = NULL, *legacy_path = NULL;
	store_paths(state_dir, &path, &journal, &legacy_path);
	diag_t *scratch = NULL;
	if (path != NULL && journal != NULL && legacy_path != NULL && diag_new(&scratch) == MN_OK) {
		pthread_mutex_lock(&store_lock);
		(void)store_ensure(state_dir, path, journal, legacy_path, scratch);
		pthread_mutex_unlock(&store_lock);
	}
	diag_free(scratch);
	free(path);
	free(journal);
	free(legacy_path);
}

int serial_assign(zones_t *zs, const char *state_dir, time_t now, bool persist_them, diag_t *diag)
{
	return serial_assign_known(zs, NULL, NULL, state_dir, now, persist_them, diag);
}

int serial_peek(const char *state_dir, const char *apex, const uint8_t digest[32], time_t now, uint32_t *out)
{
	if (state_dir == NULL || apex == NULL || digest == NULL || out == NULL)
		return MN_EINVAL;
	char *path = NULL, *journal = NULL, *legacy_path = NULL;
	store_paths(state_dir, &path, &journal, &legacy_path);
	diag_t *scratch = NULL;
	int r = path != NULL && journal != NULL && legacy_path != NULL ? diag_new(&scratch) : MN_ENOMEM;
	if (r != MN_OK)
		goto out;
	pthread_mutex_lock(&store_lock);
	r = store_ensure(state_dir, path, journal, legacy_path, scratch);
	if (r == MN_OK) {
		size_t lo = 0, hi = store.n;
		const entry_t *e = NULL;
		while (lo < hi && e == NULL) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(store.v[mid].apex, apex);
			if (c == 0)
				e = &store.v[mid];
			else if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* what assign() gives */
		uint32_t sn = serial_date_base(now);
		if (e != NULL && memcmp(e->digest, digest, 32) == 0)
			sn = e->serial;
		else if (e != NULL && e->serial + 1u > sn && e->serial != UINT32_MAX)
			sn = e->serial + 1u;
		*out = sn;
	}
	pthread_mutex_unlock(&store_lock);
out:
	diag_free(scratch);
	free(path);
	free(journal);
	free(legacy_path);
	return r;
}

size_t serial_loads(void)
{
	pthread_mutex_lock(&store_lock);
	size_t n = store_loads;
	pthread_mutex_unlock(&store_lock);
	return n;
}

void serial_forget(void)
{
	pthread_mutex_lock(&store_lock);
	store_clear(&store);
	pthread_mutex_unlock(&store_lock);
}
