/* SPDX-License-Identifier: GPL-3.0-or-later */
/* yaml.c -- a YAML file read with libyaml into a small positioned node tree */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "policy/map.h"
#include "policy/mn.h"
#include "policy/yaml.h"

/* ---- arena ---------------------------------------------------------------- */

struct chunk {
	struct chunk *next;
	size_t size, used;
	bool dirty;		/* reused (yarena_reset): allocations are zeroed one by one */
	bool big;		/* one block's own chunk */
	_Alignas(16) unsigned char data[];
};

struct yarena {
	struct chunk *head;
	struct chunk *spare;	/* emptied by yarena_reset, taken before new ones */
	size_t next_size;
};

#define ARENA_FIRST (64 * 1024)
#define ARENA_MAX (4 * 1024 * 1024)

int yarena_new(yarena_t **out)
{
	if (out == NULL)
		return MN_EINVAL;
	yarena_t *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return MN_ENOMEM;
	a->next_size = ARENA_FIRST;
	*out = a;
	return MN_OK;
}

static void chunks_free(struct chunk *c)
{
	while (c != NULL) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
}

void yarena_free(yarena_t *a)
{
	if (a == NULL)
		return;
	chunks_free(a->head);
	chunks_free(a->spare);
	free(a);
}

void yarena_reset(yarena_t *a)
{
	if (a == NULL)
		return;
	struct chunk *c = a->head;
	while (c != NULL) {
		struct chunk *next = c->next;
		if (c->big) {
			free(c);
		} else {
			c->dirty = c->dirty || c->used > 0;
			c->used = 0;
			c->next = a->spare;
			a->spare = c;
		}
		c = next;
	}
	a->head = NULL;
}

void yarena_adopt(yarena_t *a, yarena_t *b)
{
	if (b == NULL)
		return;
	if (b->head != NULL) {
		/* b's chunks go behind a's current one, which keeps serving allocations */
		struct chunk *tail = b->head;
		while (tail->next != NULL)
			tail = tail->next;
		if (a->head != NULL) {
			tail->next = a->head->next;
			a->head->next = b->head;
		} else {
			a->head = b->head;
		}
	}
	chunks_free(b->spare);
	free(b);
}

void *yarena_alloc(yarena_t *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	struct chunk *c = a->head;
	if (c == NULL || c->size - c->used < size) {
		if (size > a->next_size / 4) {
			/* a big block gets a chunk of its own, behind the current one */
			struct chunk *big = calloc(1, sizeof(*big) + size);
			if (big == NULL)
				return NULL;
			big->size = big->used = size;
			big->big = true;
			if (c != NULL) {
				big->next = c->next;
				c->next = big;
			} else {
				a->head = big;
			}
			return big->data;
		}
		/* an emptied chunk big enough, if there is one: its pages are there already */
		struct chunk **sp = &a->spare;
		while (*sp != NULL && (*sp)->size < size)
			sp = &(*sp)->next;
		if (*sp != NULL) {
			c = *sp;
			*sp = c->next;
		} else {
			if ((c = calloc(1, sizeof(*c) + a->next_size)) == NULL)
				return NULL;
			c->size = a->next_size;
			if (a->next_size < ARENA_MAX)
				a->next_size *= 2;
		}
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	if (c->dirty)
		memset(p, 0, size);
	return p;
}

char *yarena_strndup(yarena_t *a, const char *s, size_t n)
{
	char *d = yarena_alloc(a, n + 1);
	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

char *yarena_strdup(yarena_t *a, const char *s)
{
	return yarena_strndup(a, s, strlen(s));
}

/* ---- nodes ------------------------------------------------------------------ */

bool ynode_is_null(const ynode_t *n)
{
	if (n == NULL)
		return true;
	if (n->kind != YNODE_SCALAR || !n->plain)
		return false;
	if (n->len == 0)
		return true;
	/* (most scalars are neither: one look at the first byte) */
	char c = n->str[0];
	if (c != '~' && c != 'n' && c != 'N')
		return false;
	return strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	       strcmp(n->str, "NULL") == 0;
}

const char *ynode_kind_name(const ynode_t *n)
{
	if (n == NULL)
		return "nothing";
	switch (n->kind) {
	case YNODE_MAP: return "a mapping";
	case YNODE_SEQ: return "a list";
	default: return ynode_is_null(n) ? "nothing" : "a string";
	}
}

/* ---- reader ----------------------------------------------------------------- */

#define MAX_DEPTH 64

typedef struct frame {
	ynode_t *node;
	ynode_t *key;		/* mapping: the key waiting for its value */
} frame_t;

typedef struct reader {
	yarena_t *arena;
	const char *file;
	diag_t *diag;
	size_t errors;
	frame_t stack[MAX_DEPTH];
	int depth;
	ynode_t *root;
} reader_t;

static void error_at(reader_t *r, uint32_t line, uint32_t col, const char *fmt, const char *arg)
{
	mn_pos_t pos = { r->file, line, col };
	diag_error(r->diag, &pos, fmt, arg);
	r->errors++;
}

static ynode_t *node_new(reader_t *r, ynode_kind_t kind, const yaml_mark_t *m)
{
	ynode_t *n = yarena_alloc(r->arena, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->kind = kind;
	n->line = (uint32_t)m->line + 1;
	n->col = (uint32_t)m->column + 1;
	return n;
}

static void append(ynode_t *parent, ynode_t *child)
{
	if (parent->last != NULL)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
	parent->n++;
}

static void attach(reader_t *r, ynode_t *n)
{
	if (r->depth == 0) {
		r->root = n;
		return;
	}
	frame_t *f = &r->stack[r->depth - 1];
	if (f->node->kind == YNODE_SEQ) {
		append(f->node, n);
	} else if (f->key == NULL) {
		if (n->kind != YNODE_SCALAR) {
			error_at(r, n->line, n->col, "mapping keys must be %s", "strings");
			n->dup = true;	/* kept out of every lookup */
			n->str = "";
		}
		append(f->node, n);
		f->key = n;
	} else {
		f->key->value = n;
		f->key = NULL;
	}
}

static bool key_eq(const ynode_t *a, const ynode_t *b)
{
	return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

static void report_dup(reader_t *r, ynode_t *k, const ynode_t *first)
{
	mn_pos_t pos = { r->file, k->line, k->col };
	diag_error(r->diag, &pos, "duplicate key '%s' (first at %u:%u)", k->str,
		   (unsigned)first->line, (unsigned)first->col);
	r->errors++;
	k->dup = true;
}

/* Marks (and reports) every repeated key of a mapping. */
static int check_dups(reader_t *r, ynode_t *map)
{
	if (map->n <= 16) {
		for (ynode_t *k = map->first; k != NULL; k = k->next) {
			if (k->dup)
				continue;
			for (ynode_t *j = map->first; j != k; j = j->next) {
				if (!j->dup && key_eq(j, k)) {
					report_dup(r, k, j);
					break;
				}
			}
		}
		return MN_OK;
	}
	mn_map_t seen = { 0 };
	if (mn_map_init(&seen, map->n) != MN_OK)
		return MN_ENOMEM;
	for (ynode_t *k = map->first; k != NULL; k = k->next) {
		if (k->dup)
			continue;
		/* sized for map->n: no growth, so no failure */
		void **slot = mn_map_put(&seen, k->str, k->len);
		if (slot != NULL && *slot != NULL)
			report_dup(r, k, *slot);
		else if (slot != NULL)
			*slot = k;
	}
	mn_map_free(&seen);
	return MN_OK;
}


/* ---- the fast reader ---------------------------------------------------------- */

/*
 * libyaml reads a large policy at about 60 MB/s, most of it scanning the
 * long quoted DKIM keys byte by byte.  Included files are mostly the same
 * few shapes: block mappings of plain keys whose values are plain or quoted
 * scalars on one line, or flow mappings and lists on one line.  This reader
 * takes exactly that subset and builds the tree libyaml would (the same
 * nodes, strings, flags and positions); at anything else -- a tab, a byte
 * over 127, an escape, a block list, a multi-line or empty value, a quoted
 * key, anchors, tags, documents, an error of any kind -- it gives up and
 * the file is read by libyaml, so that every message comes from there.
 */
enum { FAST_DEPTH = 48, FAST_KEY_MAX = 1000 };

typedef struct fast {
	const char *p, *end;	/* the current line's next byte; the data's end */
	const char *line_start;
	uint32_t line;		/* 0-based, as libyaml's marks */
	yarena_t *arena;
	int depth;
	bool dups;		/* a mapping repeats a key: fast_dups() reports them at the end */
	bool oom;		/* (of the dups check) */
} fast_t;

/* Characters of a plain scalar this reader accepts (and may start one). */
static bool fast_plain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-' || c == '/' || c == '@' || c == '+' || c == '=';
}

static bool fast_plain_first(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '/';
}

static ynode_t *fast_node(fast_t *f, ynode_kind_t kind, const char *at)
{
	ynode_t *n = yarena_alloc(f->arena, sizeof(*n));
	if (n != NULL) {
		n->kind = kind;
		n->line = f->line + 1;
		n->col = (uint32_t)(at - f->line_start) + 1;
	}
	return n;
}

static void fast_spaces(fast_t *f)
{
	while (f->p < f->end && *f->p == ' ')
		f->p++;
}

/*
 * A scalar at f->p: plain (ends before a space, ',', ']', '}', or a ':'
 * that must then be a key's), or quoted on one line with no escape.
 * NULL: not in the subset (or ENOMEM: *oom).
 */
static ynode_t *fast_scalar(fast_t *f, bool *oom)
{
	const char *at = f->p, *s, *e;
	bool plain = false;
	if (at < f->end && (*at == '"' || *at == '\'')) {
		char q = *at;
		s = at + 1;
		/* (fast_bytes_ok() let only printable ASCII and newlines through) */
		e = memchr(s, q, (size_t)(f->end - s));
		if (e == NULL || memchr(s, '\n', (size_t)(e - s)) != NULL || memchr(s, '\\', (size_t)(e - s)) != NULL)
			return NULL;
		if (q == '\'' && e + 1 < f->end && e[1] == '\'')
			return NULL;	/* '' inside */
		f->p = e + 1;
	} else {
		if (at >= f->end || !fast_plain_first((unsigned char)*at))
			return NULL;
		s = at;
		e = s;
		while (e < f->end && fast_plain_char((unsigned char)*e))
			e++;
		f->p = e;
		plain = true;
	}
	ynode_t *n = fast_node(f, YNODE_SCALAR, at);
	if (n == NULL || (n->str = yarena_strndup(f->arena, s, (size_t)(e - s))) == NULL) {
		*oom = true;
		return NULL;
	}
	n->plain = plain;
	n->len = (size_t)(e - s);
	return n;
}

static ynode_t *fast_flow(fast_t *f, bool *oom);

/*
 * A mapping just read: is a key repeated in it?  Only noted, while its keys
 * are at hand: fast_dups() reports them once the whole file is known to be in
 * the subset (a file left to libyaml gets its messages from there).
 */
static void fast_map_done(fast_t *f, const ynode_t *map)
{
	if (f->dups || map->n < 2)
		return;
	if (map->n <= 16) {
		for (const ynode_t *k = map->first->next; k != NULL; k = k->next)
			for (const ynode_t *j = map->first; j != k; j = j->next)
				if (key_eq(j, k)) {
					f->dups = true;
					return;
				}
		return;
	}
	mn_map_t seen = { 0 };
	if (mn_map_init(&seen, map->n) != MN_OK) {
		f->oom = true;
		return;
	}
	for (const ynode_t *k = map->first; k != NULL && !f->dups; k = k->next) {
		/* sized for map->n: no growth, so no failure */
		void **slot = mn_map_put(&seen, k->str, k->len);
		if (slot != NULL && *slot != NULL)
			f->dups = true;
		else if (slot != NULL)
			*slot = (void *)k;
	}
	mn_map_free(&seen);
}


/* A value in a flow collection or after a key: a scalar or a flow collection. */
static ynode_t *fast_value(fast_t *f, bool *oom)
{
	if (f->p < f->end && (*f->p == '{' || *f->p == '['))
		return fast_flow(f, oom);
	ynode_t *v = fast_scalar(f, oom);
	/* a plain scalar ends at a space, ',', ']' or '}' here, never at ':' or another character */
	if (v != NULL && v->plain && f->p < f->end && *f->p != ' ' && *f->p != ',' && *f->p != ']' &&
	    *f->p != '}' && *f->p != '\n')
		return NULL;
	return v;
}

/* A flow mapping or list at f->p, all on this line. */
static ynode_t *fast_flow(fast_t *f, bool *oom)
{
	if (++f->depth > FAST_DEPTH)
		return NULL;
	bool map = *f->p == '{';
	char close = map ? '}' : ']';
	ynode_t *n = fast_node(f, map ? YNODE_MAP : YNODE_SEQ, f->p);
	if (n == NULL) {
		*oom = true;
		return NULL;
	}
	f->p++;
	fast_spaces(f);
	if (f->p < f->end && *f->p == close) {
		f->p++;
		f->depth--;
		return n;	/* (empty: no key repeated) */
	}
	for (;;) {
		if (map) {
			if (f->p >= f->end || !fast_plain_first((unsigned char)*f->p))
				return NULL;
			ynode_t *k = fast_scalar(f, oom);
			/* the key (libyaml's simple-key limit), then ": " */
			if (k == NULL || k->len > FAST_KEY_MAX || f->p + 1 >= f->end || f->p[0] != ':' || f->p[1] != ' ')
				return NULL;
			f->p += 2;
			fast_spaces(f);
			ynode_t *v = fast_value(f, oom);
			if (v == NULL)
				return NULL;
			k->value = v;
			append(n, k);
		} else {
			ynode_t *v = fast_value(f, oom);
			if (v == NULL)
				return NULL;
			append(n, v);
		}
		fast_spaces(f);
		if (f->p >= f->end)
			return NULL;
		if (*f->p == close) {
			f->p++;
			f->depth--;
			if (map)
				fast_map_done(f, n);
			return n;
		}
		if (*f->p != ',')
			return NULL;
		f->p++;
		fast_spaces(f);
		if (f->p >= f->end || *f->p == close || *f->p == ',')
			return NULL;	/* a trailing or empty entry */
	}
}

/* After a value: spaces, maybe " # comment", then the end of the line (or of the data). */
static bool fast_line_end(fast_t *f)
{
	fast_spaces(f);
	if (f->p < f->end && *f->p == '#') {
		if (f->p[-1] != ' ')
			return false;	/* '#' right after a value */
		while (f->p < f->end && *f->p != '\n')
			f->p++;
	}
	if (f->p < f->end && *f->p != '\n')
		return false;
	return true;
}

/*
 * Moves to the next line holding content (blank and comment-only lines
 * skipped); false at the end of the data.  *indent: its leading spaces.
 */
static bool fast_next_line(fast_t *f, size_t *indent)
{
	while (f->p < f->end) {
		if (*f->p == '\n') {
			f->p++;
			f->line++;
			f->line_start = f->p;
		}
		const char *s = f->p;
		fast_spaces(f);
		if (f->p < f->end && *f->p == '#') {
			while (f->p < f->end && *f->p != '\n')
				f->p++;
			continue;
		}
		if (f->p < f->end && *f->p != '\n') {
			*indent = (size_t)(f->p - s);
			return true;
		}
	}
	return false;
}

/*
 * The block mapping whose first key is at f->p, indented by indent: its
 * keys until a line indented less.  Returns the map; *more says whether a
 * content line follows (then at f->p, its indent in *next).
 */
static ynode_t *fast_block(fast_t *f, size_t indent, bool *more, size_t *next, bool *oom)
{
	if (++f->depth > FAST_DEPTH)
		return NULL;
	ynode_t *map = fast_node(f, YNODE_MAP, f->p);
	if (map == NULL) {
		*oom = true;
		return NULL;
	}
	for (;;) {
		const char *at = f->p;
		if (!fast_plain_first((unsigned char)*at))
			return NULL;
		ynode_t *k = fast_scalar(f, oom);
		if (k == NULL || k->len > FAST_KEY_MAX || f->p >= f->end || *f->p != ':')
			return NULL;
		f->p++;
		size_t ind = 0;
		bool have = false;
		if (f->p < f->end && *f->p == ' ') {
			fast_spaces(f);
			if (f->p < f->end && *f->p != '\n' && *f->p != '#') {
				ynode_t *v = fast_value(f, oom);
				if (v == NULL || !fast_line_end(f))
					return NULL;
				k->value = v;
				append(map, k);
				have = fast_next_line(f, &ind);
				goto next_key;
			}
			if (!fast_line_end(f))
				return NULL;
		} else if (f->p < f->end && *f->p != '\n') {
			return NULL;
		}
		/* "key:" alone: a block mapping, indented more, must follow */
		have = fast_next_line(f, &ind);
		if (!have || ind <= indent)
			return NULL;
		ynode_t *v = fast_block(f, ind, &have, &ind, oom);
		if (v == NULL)
			return NULL;
		k->value = v;
		append(map, k);
next_key:
		if (!have || ind < indent) {
			*more = have;
			*next = ind;
			f->depth--;
			fast_map_done(f, map);
			return map;
		}
		if (ind != indent)
			return NULL;
	}
}

/* Reports repeated keys map by map, innermost first (libyaml's mapping-end order). */
static int fast_dups(reader_t *r, ynode_t *n)
{
	if (n == NULL || n->kind == YNODE_SCALAR)
		return MN_OK;
	for (ynode_t *c = n->first; c != NULL; c = c->next) {
		ynode_t *sub = n->kind == YNODE_MAP ? c->value : c;
		if (fast_dups(r, sub) < 0)
			return MN_ENOMEM;
	}
	return n->kind == YNODE_MAP ? check_dups(r, n) : MN_OK;
}

/* Only printable ASCII and newlines in data[0..len)?  Eight bytes a step. */
static bool fast_bytes_ok(const char *data, size_t len)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t x;
		memcpy(&x, data + i, 8);
		/* a byte over 0x7e (+1 sets its high bit, or it was set), or under 0x20 (exact for "any") */
		uint64_t over = ((x + ones) | x) & highs, under = (x - 0x20 * ones) & ~x & highs;
		if ((over | under) == 0)
			continue;
		for (size_t k = i; k < i + 8; k++) {
			unsigned char c = (unsigned char)data[k];
			if ((c < 0x20 && c != '\n') || c > 0x7e)
				return false;
		}
	}
	for (; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if ((c < 0x20 && c != '\n') || c > 0x7e)
			return false;
	}
	return true;
}

/*
 * The fast reader over data into r (r->arena): MN_OK with r->root set, or
 * MN_ESYNTAX when the data is outside its subset (nothing reported, the
 * arena to be thrown away), or MN_ENOMEM.
 */
static int fast_parse(const char *data, size_t len, reader_t *r)
{
	if (!fast_bytes_ok(data, len))
		return MN_ESYNTAX;	/* tabs, CR, NUL, non-ASCII: libyaml's */
	fast_t f = { .p = data, .end = data + len, .line_start = data, .arena = r->arena };
	size_t indent = 0;
	bool more = false, oom = false;
	/* one document of one block mapping starting at column 1; no "---", "%", "..." */
	if (!fast_next_line(&f, &indent) || indent != 0 || *f.p == '-' || *f.p == '.' || *f.p == '%')
		return MN_ESYNTAX;
	ynode_t *root = fast_block(&f, 0, &more, &indent, &oom);
	if (oom || f.oom)
		return MN_ENOMEM;
	if (root == NULL || more)
		return MN_ESYNTAX;
	r->root = root;
	/* the tree walked again only when a mapping repeats a key */
	return f.dups && fast_dups(r, root) < 0 ? MN_ENOMEM : MN_OK;
}

static void offset_to_mark(const char *data, size_t len, size_t off, yaml_mark_t *m)
{
	m->line = m->column = 0;
	for (size_t i = 0; i < off && i < len; i++) {
		if (data[i] == '\n') {
			m->line++;
			m->column = 0;
		} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
			m->column++;
		}
	}
}

/* One event; returns 1 to go on, 0 at the end, or an error code. */
static int on_event(reader_t *r, const yaml_event_t *ev, int *docs)
{
	ynode_t *n;
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1) {
			error_at(r, (uint32_t)ev->start_mark.line + 1, (uint32_t)ev->start_mark.column + 1,
				 "%s", "multiple documents are not supported");
			return 0;
		}
		return 1;
	case YAML_ALIAS_EVENT:
		error_at(r, (uint32_t)ev->start_mark.line + 1, (uint32_t)ev->start_mark.column + 1,
			 "%s", "aliases are not supported");
		n = node_new(r, YNODE_SCALAR, &ev->start_mark);
		if (n == NULL)
			return MN_ENOMEM;
		n->plain = true;
		n->str = "";
		attach(r, n);
		return 1;
	case YAML_SCALAR_EVENT:
		n = node_new(r, YNODE_SCALAR, &ev->start_mark);
		if (n == NULL)
			return MN_ENOMEM;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->len = ev->data.scalar.length;
		n->str = yarena_strndup(r->arena, (const char *)ev->data.scalar.value, n->len);
		if (n->str == NULL)
			return MN_ENOMEM;
		attach(r, n);
		return 1;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (r->depth == MAX_DEPTH) {
			error_at(r, (uint32_t)ev->start_mark.line + 1, (uint32_t)ev->start_mark.column + 1,
				 "%s", "nesting too deep");
			return 0;
		}
		n = node_new(r, ev->type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQ : YNODE_MAP,
			     &ev->start_mark);
		if (n == NULL)
			return MN_ENOMEM;
		attach(r, n);
		r->stack[r->depth].node = n;
		r->stack[r->depth].key = NULL;
		r->depth++;
		return 1;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (r->depth == 0)
			return 0;
		r->depth--;
		n = r->stack[r->depth].node;
		if (n->kind == YNODE_MAP)
			return check_dups(r, n) < 0 ? MN_ENOMEM : 1;
		return 1;
	default:
		return 1;
	}
}

/* A document's arena: a new one, or the caller's (emptied). */
static int doc_arena(ydoc_t *doc, yarena_t *reuse)
{
	if (reuse == NULL)
		return yarena_new(&doc->arena);
	yarena_reset(reuse);
	doc->arena = reuse;
	doc->borrowed = true;
	return MN_OK;
}

static int parse(const char *data, size_t len, const char *file, diag_t *diag, bool fast, yarena_t *reuse,
		 ydoc_t **out)
{
	if (data == NULL || file == NULL || diag == NULL || out == NULL)
		return MN_EINVAL;
	int ret = MN_ENOMEM;
	yaml_parser_t parser;
	reader_t *r = calloc(1, sizeof(*r));
	ydoc_t *doc = calloc(1, sizeof(*doc));
	if (r == NULL || doc == NULL || doc_arena(doc, reuse) != MN_OK) {
		free(r);
		ydoc_free(doc);
		return MN_ENOMEM;
	}
	r->arena = doc->arena;
	r->file = file;
	r->diag = diag;
	if (fast) {
		ret = fast_parse(data, len, r);
		if (ret == MN_OK) {
			doc->root = r->root;
			doc->fast = true;
			free(r);
			*out = doc;
			return MN_OK;
		}
		/* outside the subset: libyaml reads it, into a fresh tree */
		if (!doc->borrowed) {
			yarena_free(doc->arena);
			doc->arena = NULL;
		}
		memset(r, 0, sizeof(*r));
		if (ret == MN_ENOMEM || doc_arena(doc, doc->borrowed ? doc->arena : NULL) != MN_OK) {
			free(r);
			ydoc_free(doc);
			return MN_ENOMEM;
		}
		r->arena = doc->arena;
		r->file = file;
		r->diag = diag;
		ret = MN_ENOMEM;
	}
	if (!yaml_parser_initialize(&parser))
		goto fail_noparser;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	int docs = 0;
	bool syntax = false;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR)
				goto fail;
			yaml_mark_t m = parser.problem_mark;
			if (parser.error == YAML_READER_ERROR)
				offset_to_mark(data, len, parser.problem_offset, &m);
			error_at(r, (uint32_t)m.line + 1, (uint32_t)m.column + 1, "%s",
				 parser.problem != NULL ? parser.problem : "syntax error");
			syntax = true;
			break;
		}
		int st = on_event(r, &ev, &docs);
		yaml_event_delete(&ev);
		if (st < 0) {
			ret = st;
			goto fail;
		}
		if (st == 0)
			break;
	}
	if (syntax) {
		ret = MN_EPOLICY;
		goto fail;
	}
	doc->root = r->root;
	yaml_parser_delete(&parser);
	free(r);
	*out = doc;
	return MN_OK;
fail:
	yaml_parser_delete(&parser);
fail_noparser:
	free(r);
	ydoc_free(doc);
	return ret;
}

int ydoc_parse(const char *data, size_t len, const char *file, diag_t *diag, ydoc_t **out)
{
	return parse(data, len, file, diag, true, NULL, out);
}

int ydoc_parse_into(const char *data, size_t len, const char *file, diag_t *diag, yarena_t *arena, ydoc_t **out)
{
	if (arena == NULL)
		return MN_EINVAL;
	return parse(data, len, file, diag, true, arena, out);
}

int ydoc_parse_libyaml(const char *data, size_t len, const char *file, diag_t *diag, ydoc_t **out)
{
	return parse(data, len, file, diag, false, NULL, out);
}

/* Larger policy files are refused (100,000 domains take about 25 MB). */
#define YDOC_MAX_FILE ((uint64_t)256 << 20)

/* Reads path into *bufp (*capp bytes, grown as needed: the caller's either way), *outlen the bytes. */
static int read_all(const char *path, char **bufp, size_t *capp, size_t *outlen)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	int ret;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = MN_EISDIR;
		goto fail;
	}
	/* a device or a FIFO could be endless (/dev/zero): only regular files */
	if (!S_ISREG(st.st_mode)) {
		ret = MN_ENOTFILE;
		goto fail;
	}
	if ((uint64_t)st.st_size > YDOC_MAX_FILE) {
		ret = MN_EFBIG;
		goto fail;
	}
	size_t want = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, len = 0;
	if (*bufp == NULL || *capp < want) {
		/* (nothing in it to keep) */
		free(*bufp);
		*capp = 0;
		if ((*bufp = malloc(want)) == NULL) {
			ret = MN_ENOMEM;
			goto fail;
		}
		*capp = want;
	}
	for (;;) {
		if (len + 1 >= *capp) {
			char *nb = realloc(*bufp, *capp * 2);
			if (nb == NULL) {
				ret = MN_ENOMEM;
				goto fail;
			}
			*bufp = nb;
			*capp *= 2;
		}
		ssize_t got = read(fd, *bufp + len, *capp - len - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto fail;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > YDOC_MAX_FILE) {	/* grew while we read it */
			ret = MN_EFBIG;
			goto fail;
		}
	}
	(*bufp)[len] = '\0';
	close(fd);
	*outlen = len;
	return MN_OK;
fail:
	close(fd);
	return ret;
}

int ydoc_read(const char *path, char **out, size_t *len)
{
	if (path == NULL || out == NULL || len == NULL)
		return MN_EINVAL;
	char *buf = NULL;
	size_t cap = 0;
	int ret = read_all(path, &buf, &cap, len);
	if (ret != MN_OK) {
		free(buf);
		return ret;
	}
	*out = buf;
	return MN_OK;
}

int ydoc_read_into(const char *path, char **buf, size_t *cap, size_t *len)
{
	if (path == NULL || buf == NULL || cap == NULL || len == NULL)
		return MN_EINVAL;
	return read_all(path, buf, cap, len);
}

int ydoc_load(const char *path, const char *file, diag_t *diag, ydoc_t **out)
{
	if (path == NULL)
		return MN_EINVAL;
	char *data = NULL;
	size_t len = 0, cap = 0;
	int ret = read_all(path, &data, &cap, &len);
	if (ret < 0) {
		free(data);
		return ret;
	}
	ret = ydoc_parse(data, len, file, diag, out);
	free(data);
	return ret;
}

void ydoc_free(ydoc_t *doc)
{
	if (doc == NULL)
		return;
	if (doc->borrowed)
		yarena_reset(doc->arena);
	else
		yarena_free(doc->arena);
	free(doc);
}
