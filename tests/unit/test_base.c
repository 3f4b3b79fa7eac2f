/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_base.c -- the shared base (policy/mn.c, map.c, pool.c, wire.h) and diagnostics (policy/diag.c) */
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/buf.h"
#include "policy/diag.h"
#include "policy/map.h"
#include "policy/mn.h"
#include "policy/pool.h"
#include "policy/wire.h"
#include "tests/tap/tap.h"

static void test_durations(void)
{
	static const struct { const char *in; int rc; uint32_t secs; } t[] = {
		{ "0", MN_OK, 0 }, { "45", MN_OK, 45 }, { "30s", MN_OK, 30 },
		{ "5m", MN_OK, 300 }, { "2h", MN_OK, 7200 }, { "90d", MN_OK, 7776000 },
		{ "1w", MN_OK, 604800 }, { "", MN_ESYNTAX, 0 }, { "d", MN_ESYNTAX, 0 },
		{ "9x", MN_ESYNTAX, 0 }, { "1d2h", MN_ESYNTAX, 0 }, { "-1s", MN_ESYNTAX, 0 },
		{ "4294967295", MN_OK, 4294967295u }, { "4294967296", MN_ERANGE, 0 },
		{ "100000w", MN_ERANGE, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t s = 12345;
		int rc = mn_duration_parse(t[i].in, &s);
		is_int(rc, t[i].rc, "duration '%s' returns %d", t[i].in, t[i].rc);
		if (t[i].rc == MN_OK)
			is_int(s, t[i].secs, "duration '%s' is %u s", t[i].in, t[i].secs);
		else
			is_int(s, 12345, "duration '%s': out-param untouched", t[i].in);
	}
}

static void test_time(void)
{
	time_t t;
	is_int(mn_time_parse("2030-01-01T00:00:00Z", &t), MN_OK, "ISO time parses");
	is_int(t, 1893456000, "2030-01-01T00:00:00Z is 1893456000");
	is_int(mn_time_parse("@1893456000", &t), MN_OK, "@SECONDS parses");
	is_int(t, 1893456000, "@1893456000");
	is_int(mn_time_parse("2030-01-01 00:00:00", &t), MN_ESYNTAX, "no T/Z: syntax error");
	is_int(mn_time_parse("2030-13-01T00:00:00Z", &t), MN_ERANGE, "month 13: range error");
	is_int(mn_time_parse("@x", &t), MN_ESYNTAX, "@x: syntax error");
	char buf[32];
	mn_time_format(1893456000, buf, sizeof(buf));
	is_str(buf, "2030-01-01T00:00:00Z", "time formats as ISO 8601 UTC");
	setenv("MAILNS_NOW", "@1000", 1);
	is_int(mn_now(), 1000, "MAILNS_NOW fixes mn_now()");
	unsetenv("MAILNS_NOW");
	ok(mn_now() > 1700000000, "mn_now() without MAILNS_NOW is the clock");
}

static void test_names(void)
{
	static const struct { const char *in; int rc; const char *out; } t[] = {
		{ "Example.COM.", MN_OK, "example.com" },
		{ "example.com", MN_OK, "example.com" },
		{ "_dmarc.example.com", MN_OK, "_dmarc.example.com" },
		{ "*.example.com", MN_OK, "*.example.com" },
		{ ".", MN_OK, "" },
		{ "a..b", MN_ESYNTAX, NULL },
		{ "", MN_ESYNTAX, NULL },
		{ "a.*.b", MN_ESYNTAX, NULL },
		{ "*a.b", MN_ESYNTAX, NULL },
		{ "a b.c", MN_ESYNTAX, NULL },
		{ "xn--bcher-kva.example", MN_OK, "xn--bcher-kva.example" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", MN_ERANGE, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[256] = "untouched";
		int rc = mn_name_norm(t[i].in, out, sizeof(out));
		is_int(rc, t[i].rc, "name '%s' returns %d", t[i].in, t[i].rc);
		if (t[i].out != NULL)
			is_str(out, t[i].out, "name '%s' normalizes to '%s'", t[i].in, t[i].out);
	}
	char longname[300];
	memset(longname, 0, sizeof(longname));
	for (int i = 0; i < 64; i++)
		strcat(longname, "abc.");
	char out[256];
	is_int(mn_name_norm(longname, out, sizeof(out)), MN_ERANGE, "a 256-byte name is too long");

	uint8_t wire[256];
	int n = mn_name_to_wire("_dmarc.Example.com", wire, sizeof(wire));
	tap_is_mem(wire, n > 0 ? (size_t)n : 0, "\x06_dmarc\x07""example\x03""com", 20,
	       "name to wire, lowercased");
	is_int(mn_name_to_wire("", wire, sizeof(wire)), 1, "the root is one byte");
	is_int(mn_name_to_wire("example.com", wire, 5), MN_ESPACE, "too small a buffer");
	char back[256];
	is_int(mn_name_from_wire((const uint8_t *)"\x03W-W\x07""example\x00", 13, back, sizeof(back)),
	       MN_OK, "wire to name");
	is_str(back, "w-w.example", "wire to name, lowercased");
	is_int(mn_name_from_wire((const uint8_t *)"\x05""ab", 3, back, sizeof(back)), MN_ESYNTAX,
	       "truncated wire name");
}

static void test_nets(void)
{
	static const struct { const char *in; int fam; bool host; int rc; const char *out; } t[] = {
		{ "192.0.2.0/24", 4, false, MN_OK, "192.0.2.0/24" },
		{ "192.0.2.7", 4, false, MN_OK, "192.0.2.7" },
		{ "192.0.2.7/32", 0, false, MN_OK, "192.0.2.7" },
		{ "192.0.2.1/24", 4, false, MN_ERANGE, NULL },
		{ "192.0.2.1/24", 4, true, MN_OK, "192.0.2.0/24" },
		{ "192.0.2.0/33", 4, false, MN_ERANGE, NULL },
		{ "192.0.2/24", 4, false, MN_ESYNTAX, NULL },
		{ "2001:db8::/48", 6, false, MN_OK, "2001:db8::/48" },
		{ "2001:DB8::1", 0, false, MN_OK, "2001:db8::1" },
		{ "2001:db8::/48", 4, false, MN_ESYNTAX, NULL },
		{ "192.0.2.0/24", 6, false, MN_ESYNTAX, NULL },
		{ "2001:db8::1/129", 6, false, MN_ERANGE, NULL },
		{ "0.0.0.0/0", 4, false, MN_OK, "0.0.0.0/0" },
		{ "10.0.0.0/", 4, false, MN_ESYNTAX, NULL },
		{ "10.0.0.0/+8", 4, false, MN_ESYNTAX, NULL },
		/* the prefix: 1 to 3 digits to the end; the address before the first '/' */
		{ "10.0.0.0/008", 4, false, MN_OK, "10.0.0.0/8" },
		{ "10.0.0.0/0008", 4, false, MN_ESYNTAX, NULL },
		{ "10.0.0.0/8/8", 4, false, MN_ESYNTAX, NULL },
		{ "10.0.0.0/8 ", 4, false, MN_ESYNTAX, NULL },
		{ "10.0.0.0/ 8", 4, false, MN_ESYNTAX, NULL },
		{ "/8", 0, false, MN_ESYNTAX, NULL },
		{ "", 0, false, MN_ESYNTAX, NULL },
		/* 53 characters in all at most (INET6_ADDRSTRLEN + 7) */
		{ "0000:0000:0000:0000:0000:ffff:192.168.100.228/128", 6, false, MN_OK, "::ffff:192.168.100.228" },
		{ "0000:0000:0000:0000:0000:ffff:192.168.100.228/00128", 6, false, MN_ESYNTAX, NULL },
		{ "0000:0000:0000:0000:0000:0000:0000:0000:0000:00000001", 6, false, MN_ESYNTAX, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mn_net_t n;
		int rc = mn_net_parse(t[i].in, t[i].fam, t[i].host, &n);
		is_int(rc, t[i].rc, "network '%s' (family %d) returns %d", t[i].in, t[i].fam, t[i].rc);
		if (t[i].out != NULL && rc == MN_OK) {
			char buf[64];
			mn_net_format(&n, buf, sizeof(buf));
			is_str(buf, t[i].out, "network '%s' formats as '%s'", t[i].in, t[i].out);
		}
	}
	mn_net_t a, b;
	mn_net_parse("192.0.2.0/24", 4, false, &a);
	mn_net_parse("192.0.2.0/25", 4, false, &b);
	ok(mn_net_cmp(&a, &b) < 0, "same address: the shorter prefix sorts first");
	mn_net_parse("2001:db8::/32", 6, false, &b);
	ok(mn_net_cmp(&a, &b) < 0, "IPv4 sorts before IPv6");
}

/* mn_net_inside(): prefix boundaries within a byte and on one, families, /0 and /128. */
static void test_net_inside(void)
{
	static const struct {
		const char *outer, *inner;
		bool want;
	} t[] = {
		{ "192.0.2.0/24", "192.0.2.77", true },
		{ "192.0.2.0/24", "192.0.3.0", false },
		{ "192.0.2.0/24", "192.0.2.128/25", true },
		{ "192.0.2.0/25", "192.0.2.0/24", false },	/* wider than outer */
		{ "192.0.2.0/24", "192.0.2.0/24", true },	/* the network itself */
		{ "192.0.2.0/25", "192.0.2.127", true },	/* the prefix ends inside a byte */
		{ "192.0.2.0/25", "192.0.2.128", false },
		{ "10.0.0.0/9", "10.127.255.255", true },
		{ "10.0.0.0/9", "10.128.0.0", false },
		{ "0.0.0.0/0", "203.0.113.9", true },
		{ "0.0.0.0/0", "2001:db8::1", false },	/* another family */
		{ "192.0.2.1", "192.0.2.1", true },	/* /32 */
		{ "192.0.2.1", "192.0.2.2", false },
		{ "::/0", "2001:db8::1", true },
		{ "2001:db8::/32", "2001:db8:ffff::/48", true },
		{ "2001:db8::/33", "2001:db8:8000::1", false },
		{ "2001:db8::1", "2001:db8::1", true },	/* /128: all 16 bytes */
		{ "2001:db8::1", "2001:db8::2", false },
		{ "::/96", "192.0.2.1", false },	/* the same bytes in IPv6 are not IPv4 */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mn_net_t outer, inner;
		if (mn_net_parse(t[i].outer, 0, false, &outer) != MN_OK ||
		    mn_net_parse(t[i].inner, 0, false, &inner) != MN_OK)
			tap_bail("bad test network %s or %s", t[i].outer, t[i].inner);
		is_int(mn_net_inside(&outer, &inner), t[i].want, "%s inside %s: %s", t[i].inner, t[i].outer,
		       t[i].want ? "yes" : "no");
	}
}

/* The formatter and the fast IPv4 reader against inet_ntop()/inet_pton(). */
static void test_nets_libc(void)
{
	static const char *const v6[] = {
		"::", "::1", "1::", "2001:db8::", "2001:db8::1", "::ffff:192.0.2.1", "::192.0.2.1",
		"::ffff:0:1", "1:0:0:2::3", "1::2:0:0:3", "1:0:1:0:1:0:1:0", "0:0:1::", "::1:0:0:0",
		"fe80::1:2:3:4", "1:2:3:4:5:6:7:8", "0:1:0:0:1:0:0:0", "::ffff:1.2.3.4", "::fffe:1.2.3.4",
		"abcd:ef01:2345:6789:abcd:ef01:2345:6789", "::0.0.1.0", "1:2:3:4:5:6::",
	};
	unsigned bad = 0, n = 0;
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		mn_net_t net = { .family = 6, .prefix = 128 };
		if (inet_pton(AF_INET6, v6[i], net.addr) != 1)
			tap_bail("bad test address %s", v6[i]);
		char want[64], got[64];
		inet_ntop(AF_INET6, net.addr, want, sizeof(want));
		mn_net_format(&net, got, sizeof(got));
		is_str(got, want, "IPv6 %s formats as inet_ntop() does", v6[i]);
	}
	/* a pseudo-random walk over addresses with many zero words and bytes */
	uint32_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		mn_net_t net = { .family = (i & 1) ? 6 : 4, .prefix = (i & 1) ? 128 : 32 };
		for (int b = 0; b < 16; b++) {
			x = x * 1103515245u + 12345u;
			unsigned r = x >> 16;
			net.addr[b] = (r & 3) == 0 ? (uint8_t)r : (r & 4) ? 0 : (uint8_t)(r >> 8);
		}
		char want[64], got[64], text[80];
		inet_ntop(net.family == 4 ? AF_INET : AF_INET6, net.addr, want, sizeof(want));
		mn_net_format(&net, got, sizeof(got));
		n++;
		if (strcmp(got, want) != 0 && bad++ < 5)
			tap_diag("formats %s, inet_ntop() %s", got, want);
		mn_net_t back;
		snprintf(text, sizeof(text), "%s/%u", want, net.prefix);
		if ((mn_net_parse(text, 0, false, &back) != MN_OK || mn_net_cmp(&back, &net) != 0) && bad++ < 5)
			tap_diag("%s does not parse back", text);
	}
	is_int(bad, 0, "%u addresses format as inet_ntop() and parse back", n);
	char small[8];
	mn_net_t net;
	mn_net_parse("192.0.2.0/24", 4, false, &net);
	mn_net_format(&net, small, sizeof(small));
	is_str(small, "192.0.2", "a short buffer gets the truncated text, as with snprintf");
	static const char *const v4bad[] = { "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3",
					     "1.2.3.4 ", "0001.2.3.4", "1.2.3.-4" };
	for (size_t i = 0; i < sizeof(v4bad) / sizeof(v4bad[0]); i++)
		is_int(mn_net_parse(v4bad[i], 4, false, &net), MN_ESYNTAX, "IPv4 '%s' is refused", v4bad[i]);
	is_int(mn_net_parse("0.0.0.0", 4, false, &net), MN_OK, "0.0.0.0 is an address");
	is_int(mn_net_parse("255.255.255.255", 4, false, &net), MN_OK, "255.255.255.255 is an address");
	is_int(net.addr[3], 255, "255.255.255.255: last byte 255");
}

static void test_files(void)
{
	char dir[] = "/tmp/mn-test-base-XXXXXX";
	if (mkdtemp(dir) == NULL)
		tap_bail("mkdtemp");
	char path[256], sub[256];
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	is_int(mn_mkdir_p(sub, 0750), MN_OK, "mkdir -p creates nested directories");
	is_int(mn_mkdir_p(sub, 0750), MN_OK, "mkdir -p on an existing directory");
	snprintf(path, sizeof(path), "%s/a/file", dir);
	is_int(mn_file_write_atomic(path, "hello\n", 6, 0600), MN_OK, "atomic write");
	struct stat st;
	stat(path, &st);
	is_int(st.st_mode & 0777, 0600, "atomic write sets the mode");
	is_int(mn_file_write_atomic(path, "bye\n", 4, 0644), MN_OK, "atomic overwrite");
	char *data = NULL;
	size_t len = 0;
	is_int(mn_file_read(path, &data, &len), MN_OK, "read back");
	is_str(data, "bye\n", "read back the new content");
	is_int(len, 4, "read back the length");
	free(data);
	snprintf(path, sizeof(path), "%s/missing", dir);
	data = NULL;
	is_int(mn_file_read(path, &data, &len), MN_ENOENT, "reading a missing file: MN_ENOENT");
	ok(data == NULL, "out-param untouched on failure");
	snprintf(path, sizeof(path), "%s/a/file", dir);
	is_int(mn_mkdir_p(path, 0750), MN_ENOTDIR, "mkdir -p over a file: MN_ENOTDIR");
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		tap_diag("could not remove %s", dir);
	is_str(mn_strerror(MN_EPOLICY), "the policy has errors", "our error codes have names");
	is_str(mn_strerror(MN_ENOENT), "No such file or directory", "errno codes use strerror");
}

/* Entries of dir whose name contains part. */
static int count_names(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (strstr(e->d_name, part) != NULL)
			n++;
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	char *data = NULL;
	return mn_file_read(path, &data, NULL) == MN_OK ? data : NULL;
}

/* mn_dir_open and mn_file_replace_at: nothing below the base is entered or written through a link */
static void test_state_files(void)
{
	char top[] = "/tmp/mn-test-state-XXXXXX";
	if (mkdtemp(top) == NULL)
		tap_bail("mkdtemp");
	char base[300], victim[300], vfile[300], p[400], link[400];
	snprintf(base, sizeof(base), "%s/real/state", top);
	snprintf(victim, sizeof(victim), "%s/victim", top);
	snprintf(vfile, sizeof(vfile), "%s/victim/file", top);
	if (mkdir(victim, 0755) != 0)
		tap_bail("mkdir victim");
	FILE *f = fopen(vfile, "w");
	if (f == NULL || fputs("victim\n", f) < 0 || fclose(f) != 0)
		tap_bail("victim file");

	/* creating: base like mkdir -p, each component with the mode */
	mode_t um = umask(0);
	int fd = mn_dir_open(base, "keys/example.com", 0750, true);
	umask(um);
	ok(fd >= 0, "mn_dir_open creates base and keys/example.com");
	snprintf(p, sizeof(p), "%s/keys/example.com", base);
	struct stat st;
	ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750, "made 0750");
	is_int(mn_file_replace_at(fd, "published", "one\n", 4, 0640, MN_WRITE_FSYNC), MN_OK, "replace_at writes");
	snprintf(p, sizeof(p), "%s/keys/example.com/published", base);
	char *t = slurp(p);
	is_str(t, "one\n", "the file has the data");
	free(t);
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640, "with exactly the mode (umask ignored)");
	snprintf(p, sizeof(p), "%s/keys/example.com", base);
	is_int(count_names(p, ".tmp."), 0, "no temporary file left");
	is_int(mn_file_replace_at(fd, "a/b", "x", 1, 0600, 0), MN_EINVAL, "a name with a slash: EINVAL");
	is_int(mn_file_replace_at(fd, "", "x", 1, 0600, 0), MN_EINVAL, "an empty name: EINVAL");
	close(fd);
	is_int(mn_dir_open(base, "keys/example.org", 0750, false), MN_ENOENT, "missing without create: ENOENT");
	is_int(mn_dir_open(base, "keys/../keys", 0750, true), MN_EINVAL, "'..' component: EINVAL");
	is_int(mn_dir_open(base, "keys//x", 0750, true), MN_EINVAL, "empty component: EINVAL");
	snprintf(p, sizeof(p), "%s/keys/example.com/published", base);
	is_int(mn_dir_open(base, "keys/example.com/published", 0750, true), MN_ENOTDIR, "a file component: ENOTDIR");

	/* a link planted for a directory below base: refused, not entered, nothing made in the victim */
	snprintf(link, sizeof(link), "%s/keys/example.net", base);
	if (symlink(victim, link) != 0)
		tap_bail("symlink");
	is_int(mn_dir_open(base, "keys/example.net", 0750, true), MN_ESYMLINK, "a link below base: MN_ESYMLINK");
	is_int(mn_dir_open(base, "keys/example.net/sub", 0750, true), MN_ESYMLINK, "entering through it: MN_ESYMLINK");
	is_int(count_names(victim, ""), 3, "the victim directory got nothing (., .., file)");
	snprintf(link, sizeof(link), "%s/spf", base);
	if (symlink(vfile, link) != 0)
		tap_bail("symlink");
	is_int(mn_dir_open(base, "spf", 0755, true), MN_ESYMLINK, "a link to a file where a directory is: MN_ESYMLINK");
	is_str(mn_strerror(MN_ESYMLINK), "a symbolic link: refused", "MN_ESYMLINK has a name");

	/* base itself is the administrator's: a link there is followed */
	snprintf(link, sizeof(link), "%s/state-link", top);
	if (symlink(base, link) != 0)
		tap_bail("symlink");
	fd = mn_dir_open(link, "keys", 0750, false);
	ok(fd >= 0, "base through a link: opened");

	/* a link planted under the final name: replaced by the file, the victim untouched */
	if (fd >= 0) {
		snprintf(p, sizeof(p), "%s/keys/.lock", base);
		if (symlink(vfile, p) != 0)
			tap_bail("symlink");
		is_int(mn_file_replace_at(fd, ".lock", "new\n", 4, 0600, 0), MN_OK, "replace_at over a link");
		ok(lstat(p, &st) == 0 && S_ISREG(st.st_mode), "the link is now a regular file");
		t = slurp(vfile);
		is_str(t, "victim\n", "the victim file is unchanged");
		free(t);
		close(fd);
	}
	/* the same through the path form */
	snprintf(p, sizeof(p), "%s/serials", base);
	if (symlink(vfile, p) != 0)
		tap_bail("symlink");
	is_int(mn_file_write_atomic(p, "s\n", 2, 0640), MN_OK, "write_atomic over a link");
	ok(lstat(p, &st) == 0 && S_ISREG(st.st_mode), "the link is now a regular file");
	t = slurp(vfile);
	is_str(t, "victim\n", "the victim file is still unchanged");
	free(t);
	is_int(count_names(base, ".tmp."), 0, "no temporary file left");

	/* root replacing another user's file keeps its owner (mailns zone run by root) */
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/owned", base);
		ok(mn_file_write_atomic(p, "a\n", 2, 0640) == MN_OK && chown(p, 4242, 4343) == 0,
		   "a file owned by 4242:4343");
		is_int(mn_file_write_atomic(p, "b\n", 2, 0640), MN_OK, "replaced as root");
		ok(stat(p, &st) == 0 && st.st_uid == 4242 && st.st_gid == 4343, "keeps its owner and group");
	} else {
		tap_skip("owner kept: needs root");
	}

	snprintf(p, sizeof(p), "rm -rf '%s'", top);
	if (system(p) != 0)
		tap_diag("could not remove %s", top);
}

static void test_diag(void)
{
	is_int(diag_new(NULL), MN_EINVAL, "diag_new without out: MN_EINVAL");
	diag_t *d = NULL;
	is_int(diag_new(&d), MN_OK, "diag_new");
	if (d == NULL)
		tap_bail("diag_new");
	is_int(diag_count(d), 0, "a new list is empty");
	mn_pos_t b = { "b.yaml", 3, 5 }, a1 = { "a.yaml", 10, 1 }, a2 = { "a.yaml", 2, 7 };
	diag_error(d, &b, "unknown key '%s'", "tll");
	diag_warn(d, &a1, "pct is removed");
	diag_error(d, &a2, "first");
	diag_error(d, &a2, "second at the same place");
	diag_error(d, NULL, "no position");
	is_int(diag_count(d), 5, "five diagnostics");
	is_int(diag_errors(d), 4, "four errors");
	is_int(diag_warnings(d), 1, "one warning");
	diag_sort(d);
	is_str(diag_get(d, 0)->msg, "no position", "sorted: positionless first");
	is_str(diag_get(d, 1)->msg, "first", "sorted by file, line");
	is_str(diag_get(d, 2)->msg, "second at the same place", "stable among equals");
	is_str(diag_get(d, 3)->msg, "pct is removed", "a.yaml:10 after a.yaml:2");
	is_str(diag_get(d, 4)->file, "b.yaml", "b.yaml last");
	ok(diag_get(d, 5) == NULL, "out of range: NULL");

	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	diag_print(d, f);
	fclose(f);
	is_str(buf, "error: no position\n"
		    "a.yaml:2:7: error: first\n"
		    "a.yaml:2:7: error: second at the same place\n"
		    "a.yaml:10:1: warning: pct is removed\n"
		    "b.yaml:3:5: error: unknown key 'tll'\n", "printed as FILE:LINE:COL: level: message");
	free(buf);
	char *j = diag_join(d, 2);
	is_str(j, "error: no position; a.yaml:2:7: error: first; and 3 more", "joined for a log line");
	free(j);
	diag_free(d);
	diag_free(NULL);
	ok(true, "diag_free(NULL) is a no-op");
}

static void test_errors(void)
{
	/* errno values keep their libc meaning, so strerror-based messages stay */
	static const struct { int mn, e; } errs[] = {
		{ MN_EPERM, EPERM }, { MN_EACCES, EACCES }, { MN_EEXIST, EEXIST },
		{ MN_ENOTDIR, ENOTDIR }, { MN_EISDIR, EISDIR }, { MN_EFBIG, EFBIG },
		{ MN_ENOSPC, ENOSPC }, { MN_EIO, EIO }, { MN_ENOENT, ENOENT },
	};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		is_int(errs[i].mn, -errs[i].e, "errors: MN_ constant %zu is -errno %d", i, errs[i].e);
		is_str(mn_strerror(errs[i].mn), strerror(errs[i].e), "errors: mn_strerror names %d", errs[i].e);
	}
	is_str(mn_strerror(MN_ESYMLINK), "a symbolic link: refused", "errors: ours below -1000 named");
}

/* FNV-1a 64 (the published test values), fed whole or in pieces */
static void test_hash(void)
{
	ok(mn_hash_str("") == 0xcbf29ce484222325ULL, "FNV-1a 64 of \"\"");
	ok(mn_hash_str("a") == 0xaf63dc4c8601ec8cULL, "FNV-1a 64 of \"a\"");
	ok(mn_hash_str("foobar") == 0x85944171f73967e8ULL, "FNV-1a 64 of \"foobar\"");
	ok(mn_hash(mn_hash(MN_HASH_INIT, "foo", 3), "bar", 3) == mn_hash_str("foobar"),
	   "in two pieces: the same");
}

/* mn_name_bound over structs led by their name, against a linear scan. */
static void test_name_bound(void)
{
	typedef struct { const char *name; int pad[3]; } ent_t;
	static const char *const names[] = { "a", "b", "b", "b", "c.example", "d", "d.example", "x" };
	enum { N = sizeof(names) / sizeof(names[0]) };
	ent_t v[N];
	for (size_t i = 0; i < N; i++)
		v[i] = (ent_t){ names[i], { 0 } };
	static const char *const probes[] = { "", "a", "aa", "b", "ba", "c", "c.example", "d", "d.example", "e", "x", "y" };
	size_t bad = 0;
	for (size_t k = 0; k <= N; k++) {	/* every prefix length, 0 included */
		for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
			size_t want = 0;
			while (want < k && strcmp(v[want].name, probes[p]) < 0)
				want++;
			if (mn_name_bound(v, k, sizeof(v[0]), probes[p]) != want) {
				tap_diag("n %zu, \"%s\": %zu, want %zu", k, probes[p],
				     mn_name_bound(v, k, sizeof(v[0]), probes[p]), want);
				bad++;
			}
		}
	}
	ok(bad == 0, "mn_name_bound: the first name not before the probe, at every length (%zu wrong)", bad);
	ok(mn_name_bound(v, N, sizeof(v[0]), "b") == 1, "mn_name_bound: the first of equal names");
	ok(mn_name_bound(NULL, 0, sizeof(v[0]), "b") == 0, "mn_name_bound: nothing: 0");
}

static void test_wire(void)
{
	uint8_t b[8] = { 0 };
	mn_put16(b, 0xabcd);
	mn_put32(b + 2, 0x01234567);
	static const uint8_t want[] = { 0xab, 0xcd, 0x01, 0x23, 0x45, 0x67 };
	ok(memcmp(b, want, sizeof(want)) == 0, "wire: put16 and put32 are big-endian");
	is_int(mn_get16(b), 0xabcd, "wire: get16 reads what put16 wrote");
	is_int(mn_get32(b + 2), 0x01234567, "wire: get32 reads what put32 wrote");
	is_int((long long)mn_getn(b, 6), 0xabcd01234567LL, "wire: getn of 6 bytes");
	mn_put32(b, 0xffffffffu);
	is_int(mn_get32(b), 0xffffffffLL, "wire: get32 of all ones has no sign");
}

static void test_map(void)
{
	enum { N = 5000 };
	static char keys[N][16];
	static int vals[N];
	mn_map_t m = { 0 };
	ok(mn_map_gets(&m, "x") == NULL, "map: an empty map finds nothing");
	bool put_ok = true;
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key%d", i);
		vals[i] = i;
		void **v = mn_map_put(&m, keys[i], strlen(keys[i]));
		if (v == NULL || *v != NULL) {
			put_ok = false;
			break;
		}
		*v = &vals[i];
	}
	ok(put_ok, "map: %d distinct keys each added once", N);
	is_int((long long)m.n, N, "map: counts its entries");
	ok(m.cap >= 2 * (size_t)N && (m.cap & (m.cap - 1)) == 0, "map: grown to keep the load <= 1/2");
	bool get_ok = true;
	for (int i = 0; i < N; i++) {
		int *v = mn_map_gets(&m, keys[i]);
		if (v == NULL || *v != i)
			get_ok = false;
	}
	ok(get_ok, "map: every key finds its own value after growing");
	ok(mn_map_get(&m, "key12", 4) == &vals[1], "map: a length-delimited key (\"key1\" of \"key12\")");
	ok(mn_map_gets(&m, "key5000") == NULL && mn_map_gets(&m, "") == NULL, "map: absent keys are absent");
	void **again = mn_map_put(&m, "key7", 4);
	ok(again != NULL && *again == &vals[7] && m.n == N, "map: putting a present key returns its slot");
	size_t seen = 0;
	for (size_t i = 0; i < m.cap; i++)
		seen += m.slot[i].key != NULL;
	is_int((long long)seen, N, "map: iteration over the slots sees every entry");
	mn_map_free(&m);
	ok(m.cap == 0 && mn_map_gets(&m, "key1") == NULL, "map: freed is empty");
	ok(mn_map_init(&m, 100) == MN_OK && m.cap >= 200, "map: init sizes for n entries");
	mn_map_free(&m);
}

static void test_buf(void)
{
	mn_buf_t b = { 0 };
	char *s = mn_buf_take(&b);
	is_str(s, "", "buf: nothing added takes as \"\"");
	free(s);
	mn_buf_add(&b, "v=spf1");
	mn_buf_addf(&b, " ip4:%s/%u", "192.0.2.0", 24u);
	mn_buf_add(&b, " -all");
	is_int((long long)b.len, 28, "buf: len counts what was added");
	s = mn_buf_take(&b);
	is_str(s, "v=spf1 ip4:192.0.2.0/24 -all", "buf: add and addf append in order");
	ok(b.s == NULL && b.len == 0 && b.cap == 0, "buf: take leaves it empty, ready again");
	free(s);
	char long_arg[1000];
	memset(long_arg, 'k', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	mn_buf_add(&b, "p=");
	mn_buf_addf(&b, "%s;%d", long_arg, 7);	/* over addf's 256-byte first try */
	s = mn_buf_take(&b);
	ok(s != NULL && strlen(s) == 2 + 999 + 2 && strncmp(s, "p=kkk", 5) == 0 &&
	   strcmp(s + 2 + 999, ";7") == 0, "buf: addf of 1003 bytes formats whole");
	free(s);
	mn_buf_addn(&b, "ab\0cd", 5);
	mn_buf_addn(&b, "efgh", 2);
	ok(b.len == 7 && memcmp(b.s, "ab\0cdef", 8) == 0, "buf: addn appends n bytes, NUL included, and terminates");
	mn_buf_free(&b);
	mn_buf_add(&b, "x");
	b.oom = true;		/* as after a failed realloc */
	mn_buf_add(&b, "y");
	is_int((long long)b.len, 1, "buf: after oom appends do nothing");
	ok(mn_buf_take(&b) == NULL && b.s == NULL, "buf: after oom take frees and returns NULL");
	mn_buf_add(&b, "z");
	mn_buf_free(&b);
	ok(b.s == NULL && b.len == 0, "buf: free empties it");
}

typedef struct pool_probe {
	unsigned char *hits;
	pthread_t ids[64];
	unsigned nids;
	pthread_mutex_t lock;
} pool_probe_t;

static void pool_item(void *arg, size_t k)
{
	pool_probe_t *pp = arg;
	__atomic_add_fetch(&pp->hits[k], 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&pp->lock);
	bool known = false;
	for (unsigned i = 0; i < pp->nids; i++)
		known |= pthread_equal(pp->ids[i], pthread_self()) != 0;
	if (!known && pp->nids < 64)
		pp->ids[pp->nids++] = pthread_self();
	pthread_mutex_unlock(&pp->lock);
	if (k % 97 == 0)
		usleep(200);	/* uneven items, so that more than one thread takes some */
}

static void test_pool(void)
{
	enum { N = 20000 };
	pool_probe_t pp = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pp.hits = calloc(N, 1);
	if (pp.hits == NULL)
		tap_bail("out of memory");
	mn_pool_run(N, 4, pool_item, &pp);
	bool once = true;
	for (size_t k = 0; k < N; k++)
		once &= pp.hits[k] == 1;
	ok(once, "pool: each of %d items ran exactly once", N);
	ok(pp.nids >= 1 && pp.nids <= 4, "pool: at most the 4 threads asked for (%u ran items)", pp.nids);
	memset(pp.hits, 0, N);
	pp.nids = 0;
	mn_pool_run(3, 16, pool_item, &pp);
	ok(pp.hits[0] == 1 && pp.hits[1] == 1 && pp.hits[2] == 1 && pp.nids <= 3,
	   "pool: never more threads than items");
	mn_pool_run(0, 0, pool_item, &pp);
	ok(true, "pool: no items returns");
	free(pp.hits);

	cpu_set_t old, one;
	if (sched_getaffinity(0, sizeof(old), &old) != 0) {
		tap_skip("sched_getaffinity failed");
		return;
	}
	is_int(mn_cpus(), CPU_COUNT(&old), "pool: mn_cpus is the affinity mask's count");
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &old)) {
			CPU_SET(c, &one);
			break;
		}
	}
	if (sched_setaffinity(0, sizeof(one), &one) != 0) {
		tap_skip("sched_setaffinity failed");
		return;
	}
	is_int(mn_cpus(), 1, "pool: mn_cpus follows a one-CPU affinity (taskset -c 0)");
	sched_setaffinity(0, sizeof(old), &old);
}

int main(void)
{
	test_errors();
	test_hash();
	test_name_bound();
	test_wire();
	test_map();
	test_buf();
	test_pool();
	test_durations();
	test_time();
	test_names();
	test_nets();
	test_net_inside();
	test_nets_libc();
	test_files();
	test_state_files();
	test_diag();
	return tap_done();
}
