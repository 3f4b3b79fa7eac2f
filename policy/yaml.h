/* SPDX-License-Identifier: GPL-3.0-or-later */
/* yaml.h -- a YAML file read with libyaml into a small positioned node tree */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/diag.h"

/*
 * Arena: many small allocations from big chunks, freed all at once.  Used for
 * the node tree of one file (freed after conversion) and for the policy model.
 */
typedef struct yarena yarena_t;

/* *out is the new empty arena; MN_EINVAL, MN_ENOMEM. */
int yarena_new(yarena_t **out);
void yarena_free(yarena_t *a);			/* NULL is a no-op */
/* Zeroed, aligned to 16 bytes; NULL on ENOMEM. */
void *yarena_alloc(yarena_t *a, size_t size);
char *yarena_strndup(yarena_t *a, const char *s, size_t n);
char *yarena_strdup(yarena_t *a, const char *s);
/* Moves every block of b into a (they are freed with a) and frees b; NULL b is a no-op. */
void yarena_adopt(yarena_t *a, yarena_t *b);
/*
 * Empties a for reuse (its allocations are no longer valid): its chunks are
 * kept for the next allocations, which stay zeroed, so that memory already
 * touched is not faulted in again (a parse per file of a large policy).
 */
void yarena_reset(yarena_t *a);

typedef enum { YNODE_SCALAR = 1, YNODE_SEQ, YNODE_MAP } ynode_kind_t;

/*
 * A node.  A sequence's items, and a mapping's keys, are the linked list
 * first..next (n of them); each mapping key is a scalar node whose value is
 * key->value.  A key repeated in one mapping is reported by the reader and
 * marked dup (its value should be ignored).  Positions are 1-based.
 */
typedef struct ynode ynode_t;
struct ynode {
	ynode_kind_t kind;
	uint32_t line, col;
	bool plain;			/* scalar: written without quotes or block style */
	bool dup;			/* mapping key: a repeated key */
	const char *str;		/* scalar: text, NUL-terminated (arena) */
	size_t len;			/* scalar: bytes in str */
	size_t n;			/* sequence items / mapping keys */
	ynode_t *first, *last;
	ynode_t *next;			/* next sibling */
	ynode_t *value;			/* mapping key: its value */
};

typedef struct ydoc {
	yarena_t *arena;		/* owns every node */
	ynode_t *root;			/* NULL for an empty file */
	bool fast;			/* read by the fast reader (yaml.c), not libyaml */
	bool borrowed;			/* arena is the caller's (ydoc_parse_into): ydoc_free empties it */
} ydoc_t;

/*
 * Parses len bytes of YAML.  file is the name used in diagnostics (kept as a
 * pointer, not copied).  A syntax error is reported to diag and returns
 * MN_EPOLICY (*out not set).  Aliases (read as null), duplicate keys (marked
 * dup), non-scalar keys and a second document (ignored) are reported to diag
 * too, but MN_OK and the tree are still returned so that its other problems
 * can be reported; the caller fails when diag has errors.  Free with ydoc_free.
 */
int ydoc_parse(const char *data, size_t len, const char *file, diag_t *diag, ydoc_t **out);
/*
 * ydoc_parse() with the tree in arena (the caller's, emptied first, and
 * emptied again by ydoc_free, which leaves it to the caller): a loader reading
 * many files reuses one arena's memory for each file's tree in turn.
 */
int ydoc_parse_into(const char *data, size_t len, const char *file, diag_t *diag, yarena_t *arena, ydoc_t **out);
/*
 * ydoc_parse() always through libyaml.  ydoc_parse() reads the common shapes
 * of policy files itself (about ten times faster) and everything else with
 * libyaml; both give the same tree and messages (the tests compare them).
 */
int ydoc_parse_libyaml(const char *data, size_t len, const char *file, diag_t *diag, ydoc_t **out);
/*
 * Reads path and parses it as ydoc_parse() does.  A file that cannot be read
 * returns its negative errno with nothing in diag (the caller knows the
 * position to report).
 */
int ydoc_load(const char *path, const char *file, diag_t *diag, ydoc_t **out);
/*
 * The bytes ydoc_load() would parse (a regular file, at most its size limit),
 * NUL-terminated, into *out (the caller frees it) and *len; a negative errno
 * when it cannot be read.
 */
int ydoc_read(const char *path, char **out, size_t *len);
/*
 * ydoc_read() into *buf, of *cap bytes (grown, or made when NULL: the
 * caller keeps it for the next file and frees it); *len the bytes read.
 */
int ydoc_read_into(const char *path, char **buf, size_t *cap, size_t *len);
void ydoc_free(ydoc_t *doc);			/* NULL is a no-op */

/* A plain empty scalar, "~" or "null" (also: a missing value, `key:`). */
bool ynode_is_null(const ynode_t *n);
/* Its name for "expected a ..." messages: "a mapping", "a list", "a string". */
const char *ynode_kind_name(const ynode_t *n);
