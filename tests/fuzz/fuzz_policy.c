/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_policy.c -- fuzz target: policy file bytes -> policy_load -> zones_compile (read-only) */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "policy/diag.h"
#include "policy/mn.h"
#include "policy/policy.h"
#include "zones/compile.h"
#include "zones/zone.h"

/*
 * The input is written to policy.yaml in a private, otherwise empty directory
 * (policy_load takes a path), created once per process and removed at exit.
 * A policy that loads is compiled with persist_serials = false: compiling then
 * only reads state_dir (serials, published keys), whatever the input names,
 * so no input makes the target write anywhere but its own policy file.
 * `include:` patterns are relative to that directory, which holds nothing
 * but the input (so "*.yaml" includes the policy itself).  Inputs that could
 * name anything outside it -- any YAML scalar, decoded, with a '/' that is
 * absolute or may contain ".." -- are skipped (see confined()): otherwise the fuzzer soon
 * includes every file two levels under the root and reads /dev, /proc and
 * /sys (it did: the read of a character device never ended), which makes
 * runs hang and depend on the machine.
 */
static char dir[64];
static char path[96];

static void cleanup(void)
{
	if (path[0] != '\0')
		unlink(path);
	if (dir[0] != '\0')
		rmdir(dir);
}

static int setup(void)
{
	if (path[0] != '\0')
		return 0;
	snprintf(dir, sizeof(dir), "/tmp/mailns-fuzz-policy.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	atexit(cleanup);
	return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0) {
			perror(path);
			abort();
		}
		off += (size_t)n;
	}
	close(fd);
}

/*
 * Could the scalar v[0..n) be a path (or glob) that leaves the directory?
 * Without a '/' it names at most an entry of it.  With one it must be
 * relative, and no component may start with '.', '\\' or '[' (which could
 * make it "..").  CIDRs and URIs pass.
 */
static bool escapes(const char *v, size_t n)
{
	if (n == 0 || memchr(v, '/', n) == NULL)
		return false;
	if (v[0] == '/')
		return true;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && v[i - 1] != '/')
			continue;
		if (v[i] == '.' || v[i] == '\\' || v[i] == '[')
			return true;
	}
	return false;
}

/*
 * True when no scalar of the input (as libyaml decodes it, escapes resolved,
 * in every document) can name a path outside the private directory.  The
 * policy loader uses the same libyaml, so it sees the same scalars; where
 * the YAML stops parsing, the loader fails at the same place.
 */
static bool confined(const uint8_t *data, size_t size)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	bool ok = true;

	if (!yaml_parser_initialize(&parser))
		return false;
	yaml_parser_set_input_string(&parser, data, size);
	for (int i = 0; ok && i < 1000000; i++) {
		if (!yaml_parser_parse(&parser, &ev))
			break;
		if (ev.type == YAML_SCALAR_EVENT) {
			const char *v = (const char *)ev.data.scalar.value;
			size_t n = ev.data.scalar.length;
			if (escapes(v, n))
				ok = false;
		}
		bool end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	yaml_parser_delete(&parser);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!confined(data, size))
		return 0;
	setup();
	write_input(data, size);

	diag_t *diag = NULL;
	if (diag_new(&diag) != MN_OK)
		return 0;
	policy_t *p = NULL;
	int r = policy_load(path, diag, &p);
	if (r == MN_OK) {
		if (p == NULL)
			abort();	/* MN_OK must give a policy */
		zones_t *zs = NULL;
		compile_opts_t opts = {
			.now = 1893456000,	/* 2030-01-01T00:00:00Z: reproducible */
			.persist_serials = false,
			.only_domain = NULL,
		};
		diag_t *cd = NULL;
		if (diag_new(&cd) == MN_OK) {
			r = zones_compile(p, &opts, cd, &zs);
			if (r == MN_OK && zs == NULL)
				abort();
			if (r != MN_OK && zs != NULL)
				abort();	/* out-params only on success */
			if (r == MN_EPOLICY && diag_errors(cd) == 0)
				abort();	/* MN_EPOLICY means the errors are in diag */
			zones_free(zs);
			diag_free(cd);
		}
		policy_free(p);
	} else {
		if (p != NULL)
			abort();	/* nothing in *out on failure */
		if (r == MN_EPOLICY && diag_errors(diag) == 0)
			abort();
	}
	/* exercise the printers on whatever was reported */
	diag_sort(diag);
	char *line = diag_join(diag, 8);
	free(line);
	diag_free(diag);
	return 0;
}
