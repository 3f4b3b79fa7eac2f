/* SPDX-License-Identifier: GPL-3.0-or-later */
/* replay.c -- runs a fuzz target over its corpus as a TAP test (used when not linked with libFuzzer) */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_TARGET
#error "compile with -DFUZZ_TARGET='\"name\"' (the corpus folder under tests/fuzz/corpus)"
#endif

/*
 * Each fuzz target defines LLVMFuzzerTestOneInput(); with --with-fuzzer it is
 * linked with libFuzzer, otherwise with this main.  Arguments are corpus
 * directories or single files (arguments starting with '-' are ignored, so a
 * libFuzzer command line replays too); without arguments the corpus is
 * $top_srcdir/tests/fuzz/corpus/FUZZ_TARGET/.  Every input is copied into a
 * buffer of exactly its size (so AddressSanitizer sees any over-read) and fed
 * to the target once; each prints "ok N - FILE".  A crash or sanitizer report
 * kills the program, which the TAP driver reports as an error.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

typedef struct {
	char **v;
	size_t n, cap;
} list_t;

static int list_add(list_t *l, const char *path)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(path);
	if (l->v[l->n] == NULL)
		return -1;
	l->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path, or every regular non-hidden file of the directory path (sorted). */
static int collect(list_t *l, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("Bail out! cannot read %s (%s)\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return list_add(l, path);
	DIR *d = opendir(path);
	if (d == NULL) {
		printf("Bail out! cannot open %s (%s)\n", path, strerror(errno));
		return -1;
	}
	size_t first = l->n;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char full[4096];
		if (snprintf(full, sizeof(full), "%s/%s", path, e->d_name) >= (int)sizeof(full))
			continue;
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		r = list_add(l, full);
	}
	closedir(d);
	qsort(l->v + first, l->n - first, sizeof(*l->v), cmp_str);
	return r;
}

static int read_exact(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *b = realloc(buf, cap);
			if (b == NULL)
				goto fail;
			buf = b;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	/* exactly n bytes, so that reading past the input is caught */
	uint8_t *exact = malloc(n ? n : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, n);
	free(buf);
	*out = exact;
	*len = n;
	return 0;
fail:
	free(buf);
	fclose(f);
	return -1;
}

int main(int argc, char **argv)
{
	list_t l = { 0 };
	int status = 0;
	size_t dirs = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		dirs++;
		if (collect(&l, argv[i]) != 0)
			return 1;
	}
	if (dirs == 0) {
		const char *top = getenv("top_srcdir");
		char path[4096];
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_TARGET);
		if (collect(&l, path) != 0)
			return 1;
	}
	if (l.n == 0) {
		printf("Bail out! no corpus files for %s\n", FUZZ_TARGET);
		return 1;
	}
	printf("1..%zu\n", l.n);
	fflush(stdout);
	for (size_t i = 0; i < l.n; i++) {
		uint8_t *data = NULL;
		size_t len = 0;
		if (read_exact(l.v[i], &data, &len) != 0) {
			printf("not ok %zu - %s (cannot read: %s)\n", i + 1, l.v[i], strerror(errno));
			status = 1;
			continue;
		}
		/* the file name first, so that a crash names its input */
		fprintf(stderr, "# running %s (%zu bytes)\n", l.v[i], len);
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		printf("ok %zu - %s\n", i + 1, l.v[i]);
		fflush(stdout);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return status;
}
