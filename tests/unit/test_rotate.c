/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_rotate.c -- the pure DKIM phase machine over time: phases, several algorithms, spread, selectors */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/rotate.h"
#include "policy/mn.h"
#include "tests/tap/tap.h"

enum { H = 3600, D = 86400 };

static time_t T(const char *s)
{
	time_t t = 0;
	if (mn_time_parse(s, &t) != MN_OK)
		tap_bail("bad time %s", s);
	return t;
}

static bool yes(const char *sel, void *arg)
{
	(void)sel;
	(void)arg;
	return true;
}

static bool no(const char *sel, void *arg)
{
	(void)sel;
	(void)arg;
	return false;
}

/* a simulated domain: the state and a log of "TIME SELECTOR OP" lines */
typedef struct sim {
	keystore_key_t *keys;
	size_t n;
	char log[8192];
	int gen_count;
} sim_t;

static void sim_step(sim_t *s, const rotate_policy_t *pol, const char *dom, time_t now, bool dns)
{
	rotate_result_t res;
	if (rotate_step(s->keys, s->n, pol, dom, now, dns ? yes : no, NULL, &res) != MN_OK)
		tap_bail("rotate_step");
	for (size_t i = 0; i < res.nkeys; i++) {
		if (res.keys[i].record == NULL && !res.keys[i].removed) {	/* generated: fill a record */
			char rec[64];
			snprintf(rec, sizeof(rec), "v=DKIM1; k=x; p=%s", res.keys[i].selector);
			res.keys[i].record = mn_strdup(rec);
		}
	}
	for (size_t a = 0; a < res.nacts; a++) {
		char t[32];
		mn_time_format(now, t, sizeof(t));
		size_t l = strlen(s->log);
		snprintf(s->log + l, sizeof(s->log) - l, "%s %s %s\n", t, res.acts[a].selector, rotate_op_name(res.acts[a].op));
		s->gen_count += res.acts[a].op == ROT_GENERATE;
	}
	keystore_keys_free(s->keys, s->n);
	s->keys = res.keys;
	s->n = res.nkeys;
	res.keys = NULL;
	res.nkeys = 0;
	rotate_result_clear(&res);
}

static size_t count(const sim_t *s, int alg, key_phase_t ph)
{
	size_t c = 0;
	for (size_t i = 0; i < s->n; i++)
		c += !s->keys[i].removed && s->keys[i].phase == ph && (alg < 0 || s->keys[i].alg == alg);
	return c;
}

static void test_offsets(void)
{
	const uint32_t E = 90 * D;
	is_int(rotate_offset("example.com", E), rotate_offset("example.com", E), "offset is stable");
	ok(rotate_offset("example.com", E) != rotate_offset("example.org", E), "offsets differ between domains");
	is_int(rotate_offset("example.com", 0), 0, "rotate_every 0: offset 0");
	/* 9000 domains over 90 one-day buckets: each bucket near 100 */
	int b[90] = { 0 };
	bool range = true;
	for (int i = 0; i < 9000; i++) {
		char dn[64];
		snprintf(dn, sizeof(dn), "d%d.example", i);
		uint32_t o = rotate_offset(dn, E);
		range &= o < E;
		b[o / D]++;
	}
	ok(range, "every offset in [0, rotate_every)");
	int lo = 9000, hi = 0;
	for (int i = 0; i < 90; i++) {
		lo = b[i] < lo ? b[i] : lo;
		hi = b[i] > hi ? b[i] : hi;
	}
	ok(lo >= 60 && hi <= 140, "9000 domains spread over 90 days: %d..%d a day", lo, hi);

	rotate_policy_t pol = { .algs = { DKIM_ALG_RSA2048 }, .nalgs = 1, .rotate_every = 10 * D };
	time_t act = T("2030-01-01T00:00:00Z");
	bool aligned = true, window = true;
	for (int i = 0; i < 200; i++) {
		char dn[64];
		snprintf(dn, sizeof(dn), "x%d.example", i);
		time_t due = rotate_rotation_due(dn, &pol, act + i * 3 * H);
		aligned &= (due - (time_t)rotate_offset(dn, pol.rotate_every)) % (10 * D) == 0;
		window &= due >= act + i * 3 * H + 5 * D && due < act + i * 3 * H + 15 * D;
	}
	ok(aligned, "rotation dates fall on the domain's slots");
	ok(window, "next rotation within 0.5..1.5 x rotate_every of activation");
	time_t d1 = rotate_rotation_due("a.example", &pol, act);
	is_int(rotate_rotation_due("a.example", &pol, d1) - d1, 10 * D, "on schedule: exactly rotate_every");
}

/* one algorithm over 40 days, hourly runs, DNS always confirming */
static void test_single(void)
{
	rotate_policy_t pol = { .algs = { DKIM_ALG_ED25519 }, .nalgs = 1, .rotate_every = 10 * D,
				.publish_ahead = 1 * D, .retire_after = 2 * D, .revoked_for = 3 * D };
	const char *dom = "single.example";
	sim_t s = { 0 };
	time_t t0 = T("2030-01-01T00:00:00Z");
	sim_step(&s, &pol, dom, t0, true);
	is_str(s.log, "2030-01-01T00:00:00Z mn20300101a generate\n", "new domain: one pending key, letter a");
	is_int((long long)count(&s, -1, KEY_PENDING), 1, "pending");
	s.log[0] = '\0';
	sim_step(&s, &pol, dom, t0 + H, true);
	is_str(s.log, "2030-01-01T01:00:00Z mn20300101a activate\n", "first key: active once confirmed, no publish_ahead wait");

	time_t due = rotate_rotation_due(dom, &pol, t0 + H);
	s.log[0] = '\0';
	bool one_active = true, never_early = true;
	char sels[64][KEYSTORE_SELECTOR_MAX];
	size_t nsel = 0;
	bool unique = true;
	for (time_t now = t0 + 2 * H; now < t0 + 40 * D; now += H) {
		sim_step(&s, &pol, dom, now, true);
		one_active &= count(&s, -1, KEY_ACTIVE) == 1;
		for (size_t i = 0; i < s.n; i++) {
			const keystore_key_t *k = &s.keys[i];
			if (!k->removed && k->phase == KEY_ACTIVE && k->changed == now)
				never_early &= now >= k->created + (time_t)pol.publish_ahead;
			if (!k->removed && k->phase == KEY_REVOKED && k->changed == now)
				is_str(k->record, "v=DKIM1; p=", "revoked %s is served as p=", k->selector);
			bool seen = false;
			for (size_t j = 0; j < nsel; j++)
				seen |= strcmp(sels[j], k->selector) == 0;
			if (!seen && nsel < 64)
				memcpy(sels[nsel++], k->selector, KEYSTORE_SELECTOR_MAX);
		}
	}
	for (size_t i = 0; i < nsel; i++)
		for (size_t j = i + 1; j < nsel; j++)
			unique &= strcmp(sels[i], sels[j]) != 0;
	ok(one_active, "exactly one active key at every hour");
	ok(never_early, "no key active before publish_ahead");
	ok(unique && nsel == 5, "5 distinct selectors in 40 days (%zu)", nsel);

	/* the log of the first rotation, exactly */
	char want[1024], a[32], b[32], c[32], d[32], e[32];
	/* runs are hourly: each event happens at the first run at or after it is due */
	time_t gen = t0 + (due - D - t0 + H - 1) / H * H, act = t0 + (due - t0 + H - 1) / H * H;
	mn_time_format(gen, a, sizeof(a));
	mn_time_format(act, b, sizeof(b));
	mn_time_format(act + 2 * D, c, sizeof(c));
	mn_time_format(act + 5 * D, d, sizeof(d));
	char sel2[40];
	struct tm tm;
	time_t g = gen;
	gmtime_r(&g, &tm);
	snprintf(sel2, sizeof(sel2), "mn%04d%02d%02da", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	snprintf(want, sizeof(want), "%s %s generate\n%s %s activate\n%s mn20300101a retire\n%s mn20300101a revoke\n%s mn20300101a remove\n",
		 a, sel2, b, sel2, b, c, d);
	(void)e;
	ok(strncmp(s.log, want, strlen(want)) == 0, "first rotation: generate at due-publish_ahead, activate+retire at due, revoke +2d, remove +3d");
	if (strncmp(s.log, want, strlen(want)) != 0)
		tap_diag("got:\n%.600s\nwant:\n%s", s.log, want);
	/* tombstone kept */
	bool tomb = false;
	for (size_t i = 0; i < s.n; i++)
		tomb |= s.keys[i].removed && strcmp(s.keys[i].selector, "mn20300101a") == 0;
	ok(tomb, "removed key stays as a tombstone");
	keystore_keys_free(s.keys, s.n);
}

/* two algorithms: letters r/e, one active each, rotating on the same day */
static void test_dual(void)
{
	rotate_policy_t pol = { .algs = { DKIM_ALG_RSA2048, DKIM_ALG_ED25519 }, .nalgs = 2, .rotate_every = 10 * D,
				.publish_ahead = 1 * D, .retire_after = 2 * D, .revoked_for = 3 * D };
	sim_t s = { 0 };
	time_t t0 = T("2030-01-01T00:00:00Z");
	sim_step(&s, &pol, "dual.example", t0, true);
	is_str(s.log, "2030-01-01T00:00:00Z mn20300101e generate\n2030-01-01T00:00:00Z mn20300101r generate\n",
	       "dual: mn..r and mn..e");
	sim_step(&s, &pol, "dual.example", t0 + H, true);
	is_int((long long)count(&s, DKIM_ALG_RSA2048, KEY_ACTIVE), 1, "dual: one rsa active");
	is_int((long long)count(&s, DKIM_ALG_ED25519, KEY_ACTIVE), 1, "dual: one ed25519 active");
	bool both = true;
	for (time_t now = t0 + 2 * H; now < t0 + 30 * D; now += H) {
		sim_step(&s, &pol, "dual.example", now, true);
		both &= count(&s, DKIM_ALG_RSA2048, KEY_ACTIVE) == 1 && count(&s, DKIM_ALG_ED25519, KEY_ACTIVE) == 1;
	}
	ok(both, "dual: one active key of each algorithm at every hour");
	is_int(s.gen_count, 6, "dual: 3 generations of 2 keys in 30 days");
	/* same day, letters advance past used ones */
	keystore_keys_free(s.keys, s.n);
}

static void test_wait_and_revoke(void)
{
	rotate_policy_t pol = { .algs = { DKIM_ALG_RSA2048 }, .nalgs = 1, .rotate_every = 10 * D,
				.publish_ahead = 1 * D, .retire_after = 2 * D, .revoked_for = 3 * D };
	time_t t0 = T("2030-01-01T00:00:00Z");
	sim_t s = { 0 };
	sim_step(&s, &pol, "w.example", t0, false);
	s.log[0] = '\0';
	rotate_result_t res;
	is_int(rotate_step(s.keys, s.n, &pol, "w.example", t0 + H, no, NULL, &res), MN_OK, "step without DNS");
	is_int((long long)res.nacts, 1, "one action");
	is_int(res.nacts ? (int)res.acts[0].op : -1, ROT_WAIT_DNS, "WAIT_DNS");
	ok(!res.changed, "nothing changes while DNS does not confirm");
	is_int(res.keys[0].phase, KEY_PENDING, "key stays pending");
	rotate_result_clear(&res);

	/* letters: a used (tombstone) and b present: the next key of the day is c */
	keystore_key_t st[2] = {
		{ .selector = "mn20300101a", .alg = DKIM_ALG_RSA2048, .removed = true, .created = t0, .changed = t0 },
		{ .selector = "mn20300101b", .alg = DKIM_ALG_RSA2048, .phase = KEY_REVOKED, .created = t0, .changed = t0, .record = "v=DKIM1; p=" },
	};
	is_int(rotate_step(st, 2, &pol, "w.example", t0 + H, no, NULL, &res), MN_OK, "step after revocation");
	is_int((long long)res.nacts, 1, "one action");
	is_str(res.nacts ? res.acts[0].selector : "", "mn20300101c", "replacement takes the next free letter: c");
	is_int(res.nacts ? (int)res.acts[0].op : -1, ROT_GENERATE, "a replacement is generated");
	rotate_result_clear(&res);

	/* revoked_for passed: removed, p= no longer served */
	is_int(rotate_step(st, 2, &pol, "w.example", t0 + 3 * D, no, NULL, &res), MN_OK, "step 3d later");
	bool removed = false;
	for (size_t i = 0; i < res.nkeys; i++)
		removed |= strcmp(res.keys[i].selector, "mn20300101b") == 0 && res.keys[i].removed && res.keys[i].record == NULL;
	ok(removed, "revoked key removed after revoked_for");
	rotate_result_clear(&res);

	/* the policy drops rsa for ed25519: rsa stays active until ed25519 is */
	rotate_policy_t ed = pol;
	ed.algs[0] = DKIM_ALG_ED25519;
	keystore_key_t one[1] = {
		{ .selector = "mn20300101a", .alg = DKIM_ALG_RSA2048, .phase = KEY_ACTIVE, .created = t0, .changed = t0, .record = "v=DKIM1; k=rsa; p=x" },
	};
	is_int(rotate_step(one, 1, &ed, "w.example", t0 + D, yes, NULL, &res), MN_OK, "algorithm change");
	is_int((long long)res.nacts, 1, "only the new key");
	is_str(res.nacts ? res.acts[0].selector : "", "mn20300102a", "ed25519 key generated");
	is_int(res.keys[0].phase, KEY_ACTIVE, "rsa key still active");
	rotate_result_clear(&res);
	keystore_key_t two[2] = {
		one[0],
		{ .selector = "mn20300102a", .alg = DKIM_ALG_ED25519, .phase = KEY_ACTIVE, .created = t0 + D, .changed = t0 + D, .record = "v=DKIM1; k=ed25519; p=y" },
	};
	is_int(rotate_step(two, 2, &ed, "w.example", t0 + D + H, yes, NULL, &res), MN_OK, "after ed25519 active");
	is_int(res.keys[0].phase, KEY_RETIRED, "dropped algorithm's key retired");
	rotate_result_clear(&res);

	is_int(rotate_step(NULL, 1, &pol, "x", t0, NULL, NULL, &res), MN_EINVAL, "NULL keys: MN_EINVAL");
	keystore_keys_free(s.keys, s.n);
}

int main(void)
{
	test_offsets();
	test_single();
	test_dual();
	test_wait_and_revoke();
	return tap_done();
}
