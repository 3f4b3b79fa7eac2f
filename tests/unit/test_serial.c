/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_serial.c -- stored serials: the base file, the appended journal, torn tails, compaction */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/mn.h"
#include "tests/tap/tap.h"
#include "zones/serial.h"

#define T_2030_01_01 1893456000	/* 2030-01-01 00:00:00 UTC */
#define DAY0 2030010100u

static char tmp[] = "/tmp/mailns-serial.XXXXXX";
static char state[300], base[400], journal[400];

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A finished zone: SOA, one NS, one TXT at the apex with text (its digest follows it). */
static zone_t *mkzone(const char *apex, const char *text)
{
	zone_t *z = NULL;
	if (zone_new(apex, ZONE_DMARC, "example.com", &z) != MN_OK)
		tap_bail("zone_new");
	uint8_t rd[600];
	int n = mn_name_to_wire("ns1.example.net", rd, 256);
	size_t o = (size_t)n;
	o += (size_t)mn_name_to_wire("hostmaster.example.net", rd + o, 256);
	static const uint32_t v[] = { 1, 3600, 600, 1209600, 300 };
	for (size_t i = 0; i < 5; i++, o += 4)
		put32(rd + o, v[i]);
	int r = z == NULL || n < 0;
	if (r == 0) {
		r |= zone_add_rr(z, apex, ZONE_T_SOA, 3600, rd, (uint16_t)o);
		o = (size_t)mn_name_to_wire("ns1.example.net", rd, 256);
		r |= zone_add_rr(z, apex, ZONE_T_NS, 3600, rd, (uint16_t)o);
		r |= zone_add_txt(z, apex, 3600, text);
		r |= zone_finish(z);
	}
	if (r != 0)
		tap_bail("cannot build zone %s", apex);
	return z;
}

/* The zones of names[i] (sorted) with texts[i]; NULL text: left out. */
static zones_t *mkzones(const char *const *names, const char *const *texts, size_t n)
{
	zones_t *zs = calloc(1, sizeof(*zs));
	if (zs == NULL || (zs->v = calloc(n, sizeof(*zs->v))) == NULL)
		tap_bail("ENOMEM");
	for (size_t i = 0; i < n; i++)
		if (texts[i] != NULL)
			zs->v[zs->n++] = mkzone(names[i], texts[i]);
	return zs;
}

static char *slurp(const char *path)
{
	char *s = NULL;
	size_t len = 0;
	return mn_file_read(path, &s, &len) == MN_OK ? s : NULL;
}

static long lines_of(const char *path)
{
	char *s = slurp(path);
	if (s == NULL)
		return -1;
	long n = 0;
	for (const char *p = s; *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

static void append_raw(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		tap_bail("cannot append to %s", path);
	close(fd);
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static const char *const names[] = { "_dmarc.a.example", "_dmarc.b.example", "_dmarc.c.example",
				     "_dmarc.d.example", "_dmarc.e.example" };

/*
 * Assigns serials to zones of texts (NULL: no such zone) at day + hours and
 * copies them to got[] (0 for a missing zone); returns the result.
 */
static int run(const char *const *texts, time_t t, bool persist, uint32_t got[5], diag_t **dout)
{
	zones_t *zs = mkzones(names, texts, 5);
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	int r = serial_assign(zs, state, t, persist, d);
	for (size_t i = 0, k = 0; i < 5; i++) {
		got[i] = 0;
		if (texts[i] != NULL && k < zs->n)
			got[i] = zone_serial(zs->v[k++]);
	}
	zones_free(zs);
	if (dout != NULL)
		*dout = d;
	else
		diag_free(d);
	return r;
}

static void test_journal(void)
{
	const char *texts[5] = { "v=DMARC1; p=none", "v=DMARC1; p=none", "v=DMARC1; p=none",
				 "v=DMARC1; p=none", NULL };
	uint32_t s[5];
	time_t t = T_2030_01_01;

	/* the first run: every serial new, the base file written whole, no journal */
	is_int(run(texts, t, true, s, NULL), MN_OK, "first assignment");
	is_int(s[0], DAY0, "a new zone: YYYYMMDD00");
	is_int(s[3], DAY0, "every new zone");
	is_int(lines_of(base), 4, "the base file: one line per zone");
	ok(lines_of(journal) <= 0, "nothing in the journal yet");
	ino_t ino = inode_of(base);

	/* one zone changed: one line appended, the base untouched */
	texts[1] = "v=DMARC1; p=quarantine";
	is_int(run(texts, t + 60, true, s, NULL), MN_OK, "one zone changed");
	is_int(s[1], DAY0 + 1, "its serial + 1 the same day");
	is_int(s[0], DAY0, "the others keep theirs");
	is_int(lines_of(journal), 1, "one line appended to the journal");
	char *j = slurp(journal);
	ok(j != NULL && strncmp(j, "_dmarc.b.example 2030010101 ", 28) == 0, "APEX SERIAL DIGEST in the journal");
	free(j);
	ok(inode_of(base) == ino && lines_of(base) == 4, "the base file not rewritten");

	/* nothing changed: nothing written */
	struct stat st1, st2;
	stat(journal, &st1);
	is_int(run(texts, t + 120, true, s, NULL), MN_OK, "nothing changed");
	stat(journal, &st2);
	ok(st1.st_size == st2.st_size && st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec, "the journal untouched");

	/* another process (a restart): the base and the journal read back */
	serial_forget();
	is_int(run(texts, t + 180, true, s, NULL), MN_OK, "read back after a restart");
	is_int(s[1], DAY0 + 1, "the journal's serial wins over the base's");
	is_int(s[2], DAY0, "the base's serial for the others");

	/* a crash during an append: the torn last line is ignored, then cut off */
	append_raw(journal, "_dmarc.c.example 2030010177 00ff");
	serial_forget();
	is_int(run(texts, t + 240, true, s, NULL), MN_OK, "a torn last line in the journal");
	is_int(s[2], DAY0, "is ignored (the zone keeps its complete line's serial)");
	texts[2] = "v=DMARC1; p=reject";
	is_int(run(texts, t + 300, true, s, NULL), MN_OK, "the next change appends");
	is_int(s[2], DAY0 + 1, "its serial + 1");
	j = slurp(journal);
	ok(j != NULL && strstr(j, "2030010177") == NULL && strstr(j, "00ff") == NULL,
	   "the torn line cut off before the append");
	is_int(lines_of(journal), 2, "two complete lines");
	free(j);
	serial_forget();
	is_int(run(texts, t + 360, true, s, NULL), MN_OK, "read back");
	ok(s[1] == DAY0 + 1 && s[2] == DAY0 + 1 && s[3] == DAY0, "every serial as assigned");

	/* another writer (mailns zone) changed the files: read again, not the copy in memory */
	append_raw(journal, "_dmarc.d.example 2030010150 "
			    "0000000000000000000000000000000000000000000000000000000000000000\n");
	texts[3] = "v=DMARC1; p=none; sp=reject";
	is_int(run(texts, t + 420, true, s, NULL), MN_OK, "a line appended by another process");
	is_int(s[3], 2030010151u, "is seen: that serial + 1, never below it");

	/* a new zone between the others, and one gone: its entry kept */
	texts[4] = "v=DMARC1; p=none";
	texts[0] = NULL;
	is_int(run(texts, t + 480, true, s, NULL), MN_OK, "a zone added, another gone");
	is_int(s[4], DAY0, "the new zone: YYYYMMDD00");
	texts[0] = "v=DMARC1; p=none";
	is_int(run(texts, t + 540, true, s, NULL), MN_OK, "the gone zone back, unchanged");
	is_int(s[0], DAY0, "keeps its kept serial");

	/* the journal outgrows the entries: compacted into the base */
	serial_forget();
	long before = lines_of(journal);
	ok(before > 0 && before <= 5, "the journal holds at most as many lines as entries (%ld)", before);
	const char *flip[2] = { "v=DMARC1; p=reject; pct=50", "v=DMARC1; p=reject" };
	uint32_t last0 = 0;
	for (int i = 0; i < 6; i++) {
		texts[0] = flip[i % 2];
		run(texts, t + 600 + 60 * i, true, s, NULL);
		ok(s[0] > last0, "change %d: serial %u up", i, s[0]);
		last0 = s[0];
		ok(lines_of(journal) <= 5, "change %d: journal of %ld lines, not more than the 5 entries", i,
		   lines_of(journal));
	}
	ok(inode_of(base) != ino, "the base file rewritten by a compaction");
	is_int(lines_of(base), 5, "with one line per entry");
	uint32_t keep[5];
	memcpy(keep, s, sizeof(keep));
	serial_forget();
	is_int(run(texts, t + 1200, true, s, NULL), MN_OK, "read back after the compaction");
	ok(memcmp(s, keep, sizeof(keep)) == 0, "the same serials");

	/*
	 * A crash between a compaction's new base and its emptying of the journal:
	 * the journal's lines are in the base already, and change nothing.
	 */
	ino_t bino = inode_of(base);
	char *jsave = NULL;
	for (int i = 0; i < 12 && inode_of(base) == bino; i++) {
		free(jsave);
		jsave = slurp(journal);
		texts[0] = flip[i % 2];
		run(texts, t + 1260 + 60 * i, true, s, NULL);
	}
	ok(inode_of(base) != bino && jsave != NULL && jsave[0] != '\0', "another compaction");
	memcpy(keep, s, sizeof(keep));
	if (jsave != NULL) {
		unlink(journal);
		append_raw(journal, jsave);
	}
	free(jsave);
	serial_forget();
	is_int(run(texts, t + 2100, true, s, NULL), MN_OK, "the journal as it was before the compaction");
	ok(memcmp(s, keep, sizeof(keep)) == 0, "changes nothing: the base has its lines");

	/* without persist: computed, nothing written, the copy in memory as stored */
	stat(journal, &st1);
	texts[4] = "v=DMARC1; p=reject";
	is_int(run(texts, t + 2160, false, s, NULL), MN_OK, "without persist");
	is_int(s[4], DAY0 + 1, "the changed zone + 1");
	stat(journal, &st2);
	ok(st1.st_size == st2.st_size, "nothing appended");
	is_int(run(texts, t + 2220, false, s, NULL), MN_OK, "again without persist");
	is_int(s[4], DAY0 + 1, "still from the stored serial");

	/* read ahead (a compile does it while it checks the zones): the same serials */
	uint32_t s2[5];
	serial_forget();
	is_int(run(texts, t + 2240, false, s, NULL), MN_OK, "read from the files");
	serial_forget();
	size_t loads = serial_loads();
	serial_preload(state);
	serial_preload(NULL);	/* (nothing) */
	is_int((long)(serial_loads() - loads), 1, "serial_preload reads the files");
	is_int(run(texts, t + 2240, false, s2, NULL), MN_OK, "read ahead by serial_preload");
	is_int((long)(serial_loads() - loads), 1, "serial_assign does not read them again");
	ok(memcmp(s, s2, sizeof(s)) == 0, "the same serials");
	serial_preload(state);
	is_int((long)(serial_loads() - loads), 1, "nor serial_preload, while they are current");

	/* a malformed complete line: an error at its position */
	append_raw(journal, "_dmarc.a.example x y\n");
	diag_t *d = NULL;
	is_int(run(texts, t + 2280, true, s, &d), MN_EPOLICY, "a malformed journal line: EPOLICY");
	const diag_item_t *it = diag_count(d) > 0 ? diag_get(d, 0) : NULL;
	long at = lines_of(journal);
	ok(it != NULL && it->file != NULL && strcmp(it->file, journal) == 0 && it->line == (uint32_t)at &&
	   strstr(it->msg, "serials journal") != NULL, "names the journal and line %ld", at);
	diag_free(d);
	/* read ahead, it is not kept: serial_assign reads again and reports it */
	serial_forget();
	serial_preload(state);
	d = NULL;
	is_int(run(texts, t + 2340, true, s, &d), MN_EPOLICY, "read ahead, a malformed journal line: EPOLICY");
	it = diag_count(d) > 0 ? diag_get(d, 0) : NULL;
	ok(it != NULL && it->file != NULL && strcmp(it->file, journal) == 0 && it->line == (uint32_t)at,
	   "from serial_assign, at the journal's line %ld", at);
	diag_free(d);
}

/* zs of the zones v[0..n) (NULL: left out), each one more reference. */
static zones_t *zones_ref(zone_t *const *v, size_t n, const bool *known, bool *known_out)
{
	zones_t *zs = calloc(1, sizeof(*zs));
	if (zs == NULL || (zs->v = calloc(n, sizeof(*zs->v))) == NULL)
		tap_bail("ENOMEM");
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL) {
			known_out[zs->n] = known[i];
			zs->v[zs->n++] = zone_ref(v[i]);
		}
	return zs;
}

/*
 * One serial_assign_known() over the zones v[0..n) (kept by the caller, as
 * the compile cache keeps them) with known[i]; each zone's serial into got[i]
 * (0: left out), v[i] replaced by what zs holds (serial_set may copy).
 */
static int run_known(zone_t **v, size_t n, const bool *known, uint64_t *token, time_t t, uint32_t *got)
{
	bool kz[8] = { false };
	zones_t *zs = zones_ref(v, n, known, kz);
	diag_t *d = NULL;
	if (diag_new(&d) != MN_OK)
		tap_bail("diag_new");
	int r = serial_assign_known(zs, kz, token, state, t, true, d);
	for (size_t i = 0, k = 0; i < n; i++) {
		got[i] = 0;
		if (v[i] == NULL)
			continue;
		if (zs->v[k] != v[i]) {
			zone_unref(v[i]);
			v[i] = zone_ref(zs->v[k]);
		}
		got[i] = zone_serial(zs->v[k++]);
	}
	zones_free(zs);
	diag_free(d);
	return r;
}

/*
 * serial_assign_known(): the zones the last assign gave their serials (known)
 * are not looked at while the list is as that assign left it; the others are
 * looked up, in the middle of the order too; a stale token or another
 * writer's line: every zone walked again.
 */
static void test_known(void)
{
	enum { N = 5 };
	zone_t *v[N] = { 0 };
	uint32_t s[N];
	bool none[N] = { false }, all[N] = { true, true, true, true, true };
	uint64_t tok = 0;
	time_t t = T_2030_01_01 + 10 * 86400;	/* 2030-01-11 */
	unlink(journal);	/* (a list of its own) */
	unlink(base);
	serial_forget();
	v[0] = mkzone(names[0], "v=DMARC1; p=none");
	v[2] = mkzone(names[2], "v=DMARC1; p=none");
	v[4] = mkzone(names[4], "v=DMARC1; p=none");
	is_int(run_known(v, N, none, &tok, t, s), MN_OK, "known: the first assignment");
	ok(tok != 0, "a token given out");
	uint32_t a0 = s[0], c0 = s[2], e0 = s[4];

	/* a day later: one zone added and one changed in the middle, the rest known */
	t += 86400;
	uint64_t tok1 = tok;
	v[1] = mkzone(names[1], "v=DMARC1; p=none");
	zone_unref(v[2]);
	v[2] = mkzone(names[2], "v=DMARC1; p=reject");
	bool k1[N] = { true, false, false, false, true };
	is_int(run_known(v, N, k1, &tok, t, s), MN_OK, "known: one added, one changed");
	is_int(s[0], a0, "an unchanged zone keeps its serial");
	is_int(s[4], e0, "the last one too");
	is_int(s[1], DAY0 + 1100, "the added zone: the day's serial");
	is_int(s[2], DAY0 + 1100, "the changed zone's serial moved to the day's");
	ok(s[2] > c0, "(forward)");
	ok(tok != 0 && tok != tok1, "a new token: the list changed");
	uint32_t b1 = s[1], c1 = s[2];

	/* the removed zone back with the same records: its stored serial */
	zone_t *b = v[1];
	v[1] = NULL;
	bool k2[N] = { true, false, true, false, true };
	is_int(run_known(v, N, k2, &tok, t + 86400, s), MN_OK, "known: one removed");
	v[1] = mkzone(names[1], "v=DMARC1; p=none");
	zone_unref(b);
	is_int(run_known(v, N, k2, &tok, t + 2 * 86400, s), MN_OK, "known: the removed one back");
	is_int(s[1], b1, "back with the same records: the serial it had");
	is_int(s[2], c1, "a known zone: unchanged");

	/* known with the token current: not looked at (a caller's word is taken) */
	zone_t *a = v[0];
	v[0] = mkzone(names[0], "v=DMARC1; p=quarantine");
	zone_unref(a);
	uint64_t keep = tok;
	is_int(run_known(v, N, all, &tok, t + 3 * 86400, s), MN_OK, "every zone said known");
	is_int(s[0], 1, "with the token current a known zone is not looked at (its SOA's serial 1 kept)");
	ok(tok == keep, "nothing changed: the same token");
	/* a stale token: every zone walked */
	uint64_t stale = tok1;
	is_int(run_known(v, N, all, &stale, t + 3 * 86400, s), MN_OK, "known with a stale token");
	is_int(s[0], DAY0 + 1400, "every zone walked: the changed one moved");
	ok(stale != 0 && stale != keep, "the list changed: a new token");
	tok = stale;

	/* another writer's line in the journal: read again, every zone walked */
	char line[200];
	snprintf(line, sizeof(line), "%s 77 %064d\n", names[4], 0);
	append_raw(journal, line);
	is_int(run_known(v, N, all, &tok, t + 4 * 86400, s), MN_OK, "known after another writer");
	is_int(s[4], DAY0 + 1500, "the zone the other writer's line is of: walked, moved");
	is_int(s[0], DAY0 + 1400, "an unchanged zone as stored");
	for (size_t i = 0; i < N; i++)
		zone_unref(v[i]);
}

int main(void)
{
	if (mkdtemp(tmp) == NULL)
		tap_bail("mkdtemp");
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(base, sizeof(base), "%s/zones/serials", state);
	snprintf(journal, sizeof(journal), "%s/zones/serials.journal", state);
	test_journal();
	test_known();
	serial_forget();
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		tap_diag("cannot remove %s", tmp);
	return tap_done();
}
