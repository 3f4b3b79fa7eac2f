/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mn.c -- shared base: error codes, logging, time, durations, names, networks, files */
#include <assert.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "policy/mn.h"

const char *mn_strerror(int err)
{
	switch (err) {
	case MN_OK: return "success";
	case MN_EPOLICY: return "the policy has errors";
	case MN_ESYNTAX: return "syntax error";
	case MN_ERANGE: return "value out of range";
	case MN_ESPACE: return "no space left in buffer";
	case MN_ESTATE: return "inconsistent state directory";
	case MN_ELOCK: return "could not take the lock";
	case MN_ENOTFILE: return "not a regular file";
	case MN_ESYMLINK: return "a symbolic link: refused";
	default:
		if (err < 0 && err > -1000)
			return strerror(-err);
		return "unknown error";
	}
}

/* --- logging ---------------------------------------------------------------- */

static bool log_stderr = true;
static int log_max = MN_LOG_INFO;
static const char *log_ident = "mailns";

void mn_log_init(const char *ident, bool to_stderr, int max_level)
{
	log_ident = ident != NULL ? ident : "mailns";
	log_stderr = to_stderr;
	log_max = max_level;
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void mn_log(int level, const char *fmt, ...)
{
	if (level > log_max)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (log_stderr) {
		static const char *names[] = { "", "", "", "error", "warning", "notice", "info", "debug" };
		char line[4096];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "%s[%d]: %s: %s\n", log_ident, (int)getpid(),
			level >= 0 && level <= 7 ? names[level] : "log", line);
		fflush(stderr);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}

/* --- time ------------------------------------------------------------------- */

int mn_time_parse(const char *s, time_t *out)
{
	if (s == NULL || out == NULL)
		return MN_EINVAL;
	if (s[0] == '@') {
		char *end;
		errno = 0;
		long long v = strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end != '\0' || errno != 0 || v < 0)
			return MN_ESYNTAX;
		*out = (time_t)v;
		return MN_OK;
	}
	struct tm tm = { 0 };
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n == 0 || s[n] != '\0'
	    || strlen(s) != 20)
		return MN_ESYNTAX;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31
	    || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
		return MN_ERANGE;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return MN_ERANGE;
	*out = t;
	return MN_OK;
}

time_t mn_now(void)
{
	const char *env = getenv("MAILNS_NOW");
	time_t t;
	if (env != NULL && (env[0] == '+' || env[0] == '-') && isdigit((unsigned char)env[1])) {
		/* +SECONDS / -SECONDS: the clock, moved (it still runs: tests of timers) */
		char *end = NULL;
		long long off = strtoll(env, &end, 10);
		if (*end == '\0')
			return time(NULL) + (time_t)off;
	}
	if (env != NULL && env[0] != '\0' && mn_time_parse(env, &t) == MN_OK)
		return t;
	return time(NULL);
}

void mn_time_format(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (size > 0)
			buf[0] = '\0';
	}
}

int mn_duration_parse(const char *s, uint32_t *seconds)
{
	if (s == NULL || seconds == NULL)
		return MN_EINVAL;
	if (!isdigit((unsigned char)s[0]))
		return MN_ESYNTAX;
	uint64_t v = 0;
	const char *p = s;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return MN_ERANGE;
		p++;
	}
	uint64_t mul = 1;
	switch (*p) {
	case '\0': mul = 1; break;
	case 's': mul = 1; p++; break;
	case 'm': mul = 60; p++; break;
	case 'h': mul = 3600; p++; break;
	case 'd': mul = 86400; p++; break;
	case 'w': mul = 604800; p++; break;
	default: return MN_ESYNTAX;
	}
	if (*p != '\0')
		return MN_ESYNTAX;
	if (v * mul > UINT32_MAX)
		return MN_ERANGE;
	*seconds = (uint32_t)(v * mul);
	return MN_OK;
}

/* --- names ------------------------------------------------------------------ */

static bool label_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

int mn_name_norm(const char *in, char *out, size_t outsize)
{
	if (in == NULL || out == NULL || outsize < 254)
		return MN_EINVAL;
	size_t len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0) {
		if (in[0] == '.' && in[1] == '\0') {
			out[0] = '\0';
			return MN_OK;
		}
		return MN_ESYNTAX;
	}
	if (len > 253)
		return MN_ERANGE;
	size_t lab = 0;
	bool first = true;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)in[i] : '.';
		if (c == '.') {
			if (lab == 0)
				return MN_ESYNTAX;
			if (lab > 63)
				return MN_ERANGE;
			lab = 0;
			first = false;
			out[i] = '.';
			continue;
		}
		if (c == '*') {
			if (!first || lab != 0 || (i + 1 < len && in[i + 1] != '.'))
				return MN_ESYNTAX;
		} else if (!label_char(c)) {
			return MN_ESYNTAX;
		}
		out[i] = (char)tolower(c);
		lab++;
	}
	out[len] = '\0';
	return MN_OK;
}

int mn_name_to_wire(const char *name, uint8_t *wire, size_t size)
{
	if (name == NULL || wire == NULL)
		return MN_EINVAL;
	size_t pos = 0;
	const char *p = name;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t lab = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (lab == 0 || lab > 63)
			return MN_ESYNTAX;
		if (pos + 1 + lab + 1 > size || pos + 1 + lab + 1 > 255)
			return pos + 1 + lab + 1 > size ? MN_ESPACE : MN_ERANGE;
		wire[pos++] = (uint8_t)lab;
		for (size_t i = 0; i < lab; i++)
			wire[pos++] = (uint8_t)tolower((unsigned char)p[i]);
		p += lab;
		if (*p == '.')
			p++;
	}
	if (pos + 1 > size)
		return MN_ESPACE;
	wire[pos++] = 0;
	return (int)pos;
}

int mn_name_from_wire(const uint8_t *wire, size_t len, char *out, size_t outsize)
{
	if (wire == NULL || out == NULL || outsize == 0)
		return MN_EINVAL;
	size_t pos = 0, o = 0;
	while (pos < len && wire[pos] != 0) {
		size_t lab = wire[pos];
		if (lab > 63 || pos + 1 + lab > len)
			return MN_ESYNTAX;
		if (o != 0) {
			if (o + 1 >= outsize)
				return MN_ESPACE;
			out[o++] = '.';
		}
		for (size_t i = 0; i < lab; i++) {
			if (o + 1 >= outsize)
				return MN_ESPACE;
			out[o++] = (char)tolower(wire[pos + 1 + i]);
		}
		pos += 1 + lab;
	}
	if (pos >= len)
		return MN_ESYNTAX;
	out[o] = '\0';
	return MN_OK;
}

/* --- networks ----------------------------------------------------------------- */

/*
 * Dotted quad of exactly four 1-3 digit decimals <= 255 without leading
 * zeros: the form inet_pton() accepts, read without it (a policy has
 * hundreds of thousands).  Anything else: false, and inet_pton() decides.
 */
static bool quad_fast(const char *s, uint8_t *addr)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, nd = 0;
		while (*s >= '0' && *s <= '9' && nd < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			nd++;
		}
		if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && s[-(int)nd] == '0'))
			return false;
		if (*s != (i < 3 ? '.' : '\0'))
			return false;
		s++;
		addr[i] = (uint8_t)v;
	}
	return true;
}

int mn_net_parse(const char *s, int family, bool allow_host_bits, mn_net_t *out)
{
	if (s == NULL || out == NULL)
		return MN_EINVAL;
	char buf[INET6_ADDRSTRLEN + 8];
	/* the address up to the first '/' into buf, then the prefix: 1 to 3 digits to the end (one pass) */
	size_t len = 0;
	while (s[len] != '\0' && s[len] != '/') {
		if (len + 1 >= sizeof(buf))
			return MN_ESYNTAX;
		buf[len] = s[len];
		len++;
	}
	buf[len] = '\0';
	long prefix = -1;
	if (s[len] == '/') {
		const char *d = s + len + 1;
		size_t nd = 0;
		prefix = 0;
		for (; d[nd] >= '0' && d[nd] <= '9' && nd < 4; nd++)
			prefix = prefix * 10 + (d[nd] - '0');
		if (nd == 0 || nd > 3 || d[nd] != '\0' || len + 1 + nd >= sizeof(buf))
			return MN_ESYNTAX;
	}
	if (len == 0)
		return MN_ESYNTAX;
	mn_net_t n = { 0 };
	if ((family == 0 || family == 4) && (quad_fast(buf, n.addr) || inet_pton(AF_INET, buf, n.addr) == 1)) {
		n.family = 4;
		if (prefix > 32)
			return MN_ERANGE;
		n.prefix = prefix < 0 ? 32 : (uint8_t)prefix;
	} else if ((family == 0 || family == 6) && inet_pton(AF_INET6, buf, n.addr) == 1) {
		n.family = 6;
		if (prefix > 128)
			return MN_ERANGE;
		n.prefix = prefix < 0 ? 128 : (uint8_t)prefix;
	} else {
		return MN_ESYNTAX;
	}
	size_t bytes = n.family == 4 ? 4 : 16;
	bool host = false;
	for (size_t i = 0; i < bytes; i++) {
		int keep = (int)n.prefix - (int)i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
		if (n.addr[i] & ~mask)
			host = true;
		n.addr[i] &= mask;
	}
	if (host && !allow_host_bits)
		return MN_ERANGE;
	*out = n;
	return MN_OK;
}

static char *fmt_dec(char *p, unsigned v)
{
	char d[10];
	size_t n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

static char *fmt_quad(char *p, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			*p++ = '.';
		p = fmt_dec(p, a[i]);
	}
	return p;
}

/*
 * IPv6 text exactly as glibc's inet_ntop() writes it (RFC 5952 style: the
 * first longest run of two or more zero words as "::", lowercase hex, and
 * the IPv4-compatible and -mapped forms with a dotted quad), without its
 * one sprintf per word.
 */
static char *fmt_ip6(char *p, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	unsigned w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	int best = -1, bestlen = 0, cur = -1, curlen = 0;
	for (int i = 0; i < 8; i++) {
		if (w[i] == 0) {
			if (cur < 0) {
				cur = i;
				curlen = 1;
			} else {
				curlen++;
			}
		} else if (cur >= 0) {
			if (best < 0 || curlen > bestlen) {
				best = cur;
				bestlen = curlen;
			}
			cur = -1;
		}
	}
	if (cur >= 0 && (best < 0 || curlen > bestlen)) {
		best = cur;
		bestlen = curlen;
	}
	if (best >= 0 && bestlen < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + bestlen) {
			if (i == best)
				*p++ = ':';
			continue;
		}
		if (i != 0)
			*p++ = ':';
		if (i == 6 && best == 0 && (bestlen == 6 || (bestlen == 5 && w[5] == 0xffff)))
			return fmt_quad(p, a + 12);
		bool lead = true;
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned nib = (w[i] >> sh) & 15;
			if (lead && nib == 0 && sh > 0)
				continue;
			lead = false;
			*p++ = hex[nib];
		}
	}
	if (best >= 0 && best + bestlen == 8)
		*p++ = ':';
	return p;
}

void mn_net_format(const mn_net_t *net, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN + 8];
	/* any family but 4 is written as IPv6, as inet_ntop(AF_INET6) did */
	char *p = net->family == 4 ? fmt_quad(a, net->addr) : fmt_ip6(a, net->addr);
	if (!((net->family == 4 && net->prefix == 32) || (net->family == 6 && net->prefix == 128))) {
		*p++ = '/';
		p = fmt_dec(p, net->prefix);
	}
	*p = '\0';
	size_t len = (size_t)(p - a);
	if (size == 0)
		return;
	if (len >= size)
		len = size - 1;	/* truncated, as snprintf() would */
	memcpy(buf, a, len);
	buf[len] = '\0';
}

int mn_net_cmp(const mn_net_t *a, const mn_net_t *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16);
	if (c != 0)
		return c < 0 ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return 0;
}

bool mn_net_inside(const mn_net_t *outer, const mn_net_t *inner)
{
	if (outer->family != inner->family || inner->prefix < outer->prefix)
		return false;
	unsigned int full = outer->prefix / 8, rest = outer->prefix % 8;
	assert(full + (rest != 0) <= sizeof(outer->addr));
	if (memcmp(outer->addr, inner->addr, full) != 0)
		return false;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return rest == 0 || (outer->addr[full] & mask) == (inner->addr[full] & mask);
}

/* --- small helpers -------------------------------------------------------------- */

void *mn_xalloc_fail(void)
{
	mn_log(MN_LOG_ERR, "out of memory");
	abort();
}

uint64_t mn_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

uint64_t mn_hash_str(const char *s)
{
	return mn_hash(MN_HASH_INIT, s, strlen(s));
}

size_t mn_name_bound(const void *v, size_t n, size_t size, const char *name)
{
	const char *b = v;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *at;
		memcpy(&at, b + mid * size, sizeof(at));	/* (the element's first member) */
		if (strcmp(at, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t mn_hash64(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	uint64_t w = 0;
	memcpy(&w, p, len);
	h = (h ^ w ^ len) * 0x9e3779b97f4a7c15ULL;
	return h ^ h >> 29;
}

char *mn_strdup(const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

int mn_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return MN_OK;
}

/* Creates "name.tmp.XXXXXX" in dirfd (X: random letters), never an existing name or a link. */
static int create_tmp(int dirfd, const char *name, int mode, char *tmp, size_t size)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	for (int attempt = 0; attempt < 100; attempt++) {
		uint8_t rnd[6];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -errno;
		char sfx[7];
		for (size_t i = 0; i < 6; i++)
			sfx[i] = set[rnd[i] % (sizeof(set) - 1)];
		sfx[6] = '\0';
		if (snprintf(tmp, size, "%s.tmp.%s", name, sfx) >= (int)size)
			return MN_ERANGE;
		int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				(mode_t)mode);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return MN_EEXIST;
}

int mn_file_replace_at(int dirfd, const char *name, const void *data, size_t len, int mode,
		       unsigned flags)
{
	if (dirfd < 0 || name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
	    (data == NULL && len > 0))
		return MN_EINVAL;
	char tmp[NAME_MAX + 1];
	int fd = create_tmp(dirfd, name, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	int r = MN_OK;
	struct stat old;
	if (fchmod(fd, (mode_t)mode) != 0)	/* exactly mode, whatever the umask */
		r = -errno;
	else if (geteuid() == 0 && fstatat(dirfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
		 S_ISREG(old.st_mode) && fchown(fd, old.st_uid, old.st_gid) != 0)
		r = -errno;
	if (r == MN_OK)
		r = mn_write_all(fd, data, len);
	if (r == MN_OK && (flags & MN_WRITE_FSYNC) && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == MN_OK)
		r = -errno;
	if (r == MN_OK && renameat(dirfd, tmp, dirfd, name) != 0)
		r = -errno;
	if (r != MN_OK)
		goto fail;
	if ((flags & MN_WRITE_FSYNC) && fsync(dirfd) != 0)
		return -errno;
	return MN_OK;
fail:
	unlinkat(dirfd, tmp, 0);
	return r;
}

int mn_file_write_atomic(const char *path, const void *data, size_t len, int mode)
{
	if (path == NULL || path[0] == '\0')
		return MN_EINVAL;
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	if (slash == NULL) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof(dir))
			return MN_ERANGE;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = mn_file_replace_at(dfd, name, data, len, mode, MN_WRITE_FSYNC);
	close(dfd);
	return r;
}

int mn_file_read(const char *path, char **out, size_t *len)
{
	if (path == NULL || out == NULL)
		return MN_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = NULL;
	size_t size = 0, cap = 0;
	int r = MN_OK;
	for (;;) {
		if (cap - size < 4096) {
			size_t ncap = cap == 0 ? 65536 : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (nb == NULL) {
				r = MN_ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + size, cap - size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	close(fd);
	buf[size] = '\0';
	*out = buf;
	if (len != NULL)
		*len = size;
	return MN_OK;
fail:
	close(fd);
	free(buf);
	return r;
}

int mn_mkdir_p(const char *path, int mode)
{
	if (path == NULL || path[0] == '\0')
		return MN_EINVAL;
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return MN_ERANGE;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? MN_OK : MN_ENOTDIR;
}

/* Enters (with create: makes) the component name of dirfd, never through a link. */
static int enter(int dirfd, const char *name, int mode, bool create)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		int e = errno;
		struct stat st;
		if ((e == ELOOP || e == ENOTDIR) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return MN_ESYMLINK;
		if (e != ENOENT || !create)
			return -e;
		if (mkdirat(dirfd, name, (mode_t)mode) != 0 && errno != EEXIST)
			return -errno;
	}
	return MN_ENOENT;
}

int mn_dir_open(const char *base, const char *sub, int mode, bool create)
{
	if (base == NULL || base[0] == '\0')
		return MN_EINVAL;
	if (create) {
		int r = mn_mkdir_p(base, mode);
		if (r != MN_OK)
			return r;
	}
	int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (const char *p = sub; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, "/");
		char name[NAME_MAX + 1];
		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			return n > NAME_MAX ? MN_ERANGE : MN_EINVAL;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		int next = enter(fd, name, mode, create);
		close(fd);
		if (next < 0)
			return next;
		fd = next;
		p += n;
		if (*p == '/')
			p++;
	}
	return fd;
}

static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *mn_sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256;
}
