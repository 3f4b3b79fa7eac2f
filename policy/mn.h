/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mn.h -- shared base: error codes, logging, time, durations, names, networks */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Errors: functions return MN_OK or a negative code: an errno value negated
 * (-ENOMEM, -EINVAL, ...) or one of ours below -1000.  mn_strerror() names both.
 * Code names an errno value through its MN_E constant below, never as a bare
 * -EXXX (add the constant here when a new one is needed).
 */
enum {
	MN_OK = 0,
	MN_ENOMEM = -ENOMEM,
	MN_EINVAL = -EINVAL,
	MN_ENOENT = -ENOENT,
	MN_EPERM = -EPERM,	/* not allowed: privileges (set*id, chroot, a user's groups) */
	MN_EACCES = -EACCES,	/* permission denied: a file or directory mode */
	MN_EEXIST = -EEXIST,
	MN_ENOTDIR = -ENOTDIR,
	MN_EISDIR = -EISDIR,
	MN_EFBIG = -EFBIG,	/* a file over its size limit */
	MN_ENOSPC = -ENOSPC,
	MN_EIO = -EIO,
	MN_EPOLICY = -1001,	/* the policy has errors; they are in the diag_t */
	MN_ESYNTAX = -1002,	/* text does not parse */
	MN_ERANGE = -1003,	/* value out of range */
	MN_ESPACE = -1004,	/* output buffer too small */
	MN_ESTATE = -1005,	/* state directory content is inconsistent */
	MN_ELOCK = -1006,	/* could not take a lock */
	MN_ENOTFILE = -1007,	/* not a regular file (a FIFO, a device...) */
	MN_ESYMLINK = -1008,	/* a symbolic link where mailns writes or enters: refused */
};

const char *mn_strerror(int err);

/* Logging: one event per line, lowercase, cause in parentheses. */
enum { MN_LOG_ERR = 3, MN_LOG_WARNING = 4, MN_LOG_NOTICE = 5, MN_LOG_INFO = 6, MN_LOG_DEBUG = 7 };
/* to_stderr: log to stderr (foreground) instead of syslog. */
void mn_log_init(const char *ident, bool to_stderr, int max_level);
void mn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Time.  mn_now() is the current time, or MAILNS_NOW when set (ISO 8601 UTC
 * "2030-01-01T00:00:00Z" or "@UNIXSECONDS"; "+SECONDS" or "-SECONDS": the
 * running clock moved by that much); every time-dependent decision uses it.
 */
/*
 * SHA-256 for EVP_Digest*: fetched once for the process (EVP_sha256() looks
 * the implementation up again at every use under OpenSSL 3); NULL when
 * OpenSSL cannot give it.  Never freed.
 */
struct evp_md_st;
const struct evp_md_st *mn_sha256(void);

time_t mn_now(void);
int mn_time_parse(const char *s, time_t *out);	/* ISO 8601 UTC or @SECONDS */
/* "2030-01-01T00:00:00Z" into buf (>= 21 bytes). */
void mn_time_format(time_t t, char *buf, size_t size);

/* Durations "Ns", "Nm", "Nh", "Nd", "Nw" (a bare number is seconds). */
int mn_duration_parse(const char *s, uint32_t *seconds);

/*
 * Domain names.  Presentation form in this project: lowercase, no final dot
 * ("example.com"); the root is "".  mn_name_norm() checks and normalizes
 * (labels 1..63 bytes of letters, digits, '-' and '_', '*' alone as the first
 * label, total <= 253), writing into out (>= 254 bytes).
 */
int mn_name_norm(const char *in, char *out, size_t outsize);
/* Presentation (normalized) to wire format; returns wire length or < 0. */
int mn_name_to_wire(const char *name, uint8_t *wire, size_t size);
/* Wire to presentation (lowercased, no final dot). */
int mn_name_from_wire(const uint8_t *wire, size_t len, char *out, size_t outsize);

/* IP networks (ip4:/ip6: terms, CIDR). */
typedef struct mn_net {
	uint8_t family;		/* 4 or 6 */
	uint8_t prefix;		/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network address, host bits zero */
} mn_net_t;
/*
 * "192.0.2.0/24", "192.0.2.1", "2001:db8::/48".  family 0 accepts both,
 * 4 or 6 only that family.  Host bits set below the prefix are an error
 * (MN_ERANGE) unless allow_host_bits.
 */
int mn_net_parse(const char *s, int family, bool allow_host_bits, mn_net_t *out);
/* Canonical text: "192.0.2.0/24", a single address without "/32" or "/128". */
void mn_net_format(const mn_net_t *net, char *buf, size_t size);
int mn_net_cmp(const mn_net_t *a, const mn_net_t *b);
/* Is inner (a network or a /32, /128 address) inside outer: the same family, a
 * prefix as long or longer, and the first outer->prefix bits equal? */
bool mn_net_inside(const mn_net_t *outer, const mn_net_t *inner);

/* Small helpers. */
void *mn_xalloc_fail(void);	/* logs and aborts: only for startup paths */
char *mn_strdup(const char *s);	/* NULL on ENOMEM */
/*
 * FNV-1a, 64 bits, for the tables the compile keys by name: start from
 * MN_HASH_INIT and feed each piece; mn_hash_str() is one string from the start.
 */
#define MN_HASH_INIT 0xcbf29ce484222325ULL
uint64_t mn_hash(uint64_t h, const void *data, size_t len);
uint64_t mn_hash_str(const char *s);
/*
 * A faster 64-bit mix, eight bytes a step, for bulk data (not names, not
 * against an adversary): h from the previous piece or any seed.
 */
uint64_t mn_hash64(uint64_t h, const void *data, size_t len);
/*
 * The first index of v[0..n) -- elements of size bytes whose first member is
 * their name (a char pointer), sorted by strcmp of it -- whose name is not
 * before name: n when there is none.
 */
size_t mn_name_bound(const void *v, size_t n, size_t size, const char *name);
/*
 * Files in state_dir.  The rule: the path the administrator gives (state_dir,
 * `mailns zone --dir`) is resolved as usual and may contain symbolic links;
 * nothing mailns creates or enters below it may be one.  So below such a path
 * directories are entered with openat(O_NOFOLLOW | O_DIRECTORY) relative to
 * the directory above (mn_dir_open), and files are written through a new
 * file of a unique name (O_CREAT | O_EXCL | O_NOFOLLOW) renamed over the old
 * one (mn_file_replace_at): a link planted under the final name is replaced,
 * never written through.
 */
enum { MN_WRITE_FSYNC = 1 };	/* mn_file_replace_at: fsync the file and the directory */

/*
 * Opens the directory base/sub and returns its descriptor (O_CLOEXEC; the
 * caller closes it), or a negative error.  base is opened as given (symbolic
 * links followed; with create, made like mkdir -p with mode when missing);
 * each component of sub ("keys/example.com"; NULL or "" for base itself) is
 * entered with O_NOFOLLOW relative to the one above and, with create, made
 * with mode when missing.  A component that is a symbolic link: MN_ESYMLINK;
 * not a directory: MN_ENOTDIR; ".", ".." or an empty component: MN_EINVAL.
 */
int mn_dir_open(const char *base, const char *sub, int mode, bool create);
/* Writes all of data to fd (again after EINTR and short writes); MN_OK or -errno. */
int mn_write_all(int fd, const void *data, size_t len);
/*
 * Replaces the file name in the directory dirfd with data: written to a new
 * file "name.tmp.XXXXXX" (O_CREAT | O_EXCL | O_NOFOLLOW, mode; a unique name,
 * so two writers never share it), with MN_WRITE_FSYNC fsynced, renamed over
 * name, and then with MN_WRITE_FSYNC the directory fsynced.  A symbolic link
 * under name is replaced by the file, not followed.  Run as root, the file keeps
 * the owner and group of the file it replaces (so that root running `mailns
 * zone` leaves the server's serials file the server's).  On failure the new
 * file is removed and name is untouched.
 */
int mn_file_replace_at(int dirfd, const char *name, const void *data, size_t len, int mode,
		       unsigned flags);
/*
 * mn_file_replace_at() with MN_WRITE_FSYNC for a path: its directory is opened
 * as given (for paths the administrator names; below state_dir open the
 * directory with mn_dir_open() and use mn_file_replace_at()).
 */
int mn_file_write_atomic(const char *path, const void *data, size_t len, int mode);
/* Reads a whole file (NUL-terminated); *out freed by the caller with free(). */
int mn_file_read(const char *path, char **out, size_t *len);
/*
 * mkdir -p with mode, following symbolic links: for paths the administrator
 * gives (state_dir itself, --dir); below state_dir use mn_dir_open().
 */
int mn_mkdir_p(const char *path, int mode);

/* Default policy and state_dir: from configure (Makefile.am); the package's otherwise. */
#ifndef MN_POLICY_PATH
#define MN_POLICY_PATH "/etc/mailns/policy.yaml"
#endif
#ifndef MN_STATE_DIR
#define MN_STATE_DIR "/var/lib/mailns"
#endif
