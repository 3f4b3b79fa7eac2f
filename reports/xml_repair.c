/* SPDX-License-Identifier: GPL-3.0-or-later */
/* xml_repair.c -- the repaired copy of an aggregate report that does not parse (lenient recovery) */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/buf.h"
#include "policy/mn.h"
#include "reports/read_internal.h"

/* Appends n bytes of s: MN_OK, or MN_ENOMEM once the buffer could not grow. */
static int buf_put(mn_buf_t *b, const char *s, size_t n)
{
	mn_buf_addn(b, s, n);
	return b->oom ? MN_ENOMEM : MN_OK;
}

static bool name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
}

static bool name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Does s[i] ('<') start markup: a tag, an end tag, a comment, a PI, a CDATA or DOCTYPE? */
static bool starts_markup(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;
	if (j >= len)
		return false;
	if (s[j] == '?' || s[j] == '!')
		return true;
	if (s[j] == '/')
		j++;
	if (j >= len || !name_start((unsigned char)s[j]))
		return false;
	while (j < len && name_char((unsigned char)s[j]))
		j++;
	if (j >= len)
		return false;
	char c = s[j];
	if (c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
		/* the tag must close before the next '<' */
		for (; j < len && s[j] != '<'; j++) {
			if (s[j] == '>')
				return true;
		}
	}
	return false;
}

/* Does s[i] ('&') start a reference (&name; &#123; &#x1f;)? */
static bool starts_ref(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;
	if (j < len && s[j] == '#') {
		j++;
		bool hex = j < len && (s[j] == 'x' || s[j] == 'X');
		if (hex)
			j++;
		size_t k = j;
		while (j < len && (hex ? strchr("0123456789abcdefABCDEF", s[j]) != NULL && s[j] :
				   (s[j] >= '0' && s[j] <= '9')))
			j++;
		return j > k && j < len && s[j] == ';';
	}
	if (j >= len || !name_start((unsigned char)s[j]))
		return false;
	while (j < len && name_char((unsigned char)s[j]))
		j++;
	return j < len && s[j] == ';';
}

/* Length of a valid UTF-8 sequence at s (0 when invalid). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned int cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* The root element's end tag "</feedback>" (any prefix): the offset after it, or 0. */
static size_t root_end(const char *s, size_t len)
{
	size_t end = 0;
	for (size_t i = 0; i + 11 <= len; i++) {
		if (s[i] != '<' || s[i + 1] != '/')
			continue;
		size_t j = i + 2, k = j;
		while (j < len && name_char((unsigned char)s[j]))
			j++;
		size_t n = j - k;
		if (n >= 8 && memcmp(s + j - 8, "feedback", 8) == 0 && (n == 8 || s[j - 9] == ':')) {
			while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'))
				j++;
			if (j < len && s[j] == '>')
				end = j + 1;
		}
	}
	return end;
}

static int count_note(rd_notes_t *notes, int *count, const char *fmt, const char *what, long line)
{
	(*count)++;
	if (*count > RD_NOTES_MAX)
		return MN_OK;
	return rd_note(notes, fmt, what, line);
}

/*
 * A comment or CDATA section at s[i] is copied as it is: its length (to its
 * end, or to the end of the input), lines counted; 0 when s[i] starts neither.
 */
static size_t verbatim(const char *s, size_t end, size_t i, long *line)
{
	static const struct { const char *open, *close; } kinds[] = {
		{ "<!--", "-->" }, { "<![CDATA[", "]]>" },
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t ol = strlen(kinds[k].open);
		if (i + ol > end || memcmp(s + i, kinds[k].open, ol) != 0)
			continue;
		const char *e = memmem(s + i, end - i, kinds[k].close, 3);
		size_t n = e ? (size_t)(e - (s + i)) + 3 : end - i;
		for (size_t j = 0; j < n; j++)
			if (s[i + j] == '\n')
				(*line)++;
		return n;
	}
	return 0;
}

static int repair(const char *s, size_t len, mn_buf_t *out, rd_notes_t *notes)
{
	size_t i = 0, end = len, nuls = 0, bad8 = 0;
	int lt = 0, amp = 0, r = MN_OK;
	long line = 1;
	bool in_tag = false, utf8 = true;

	/* an encoding other than UTF-8 declared: leave the bytes to libxml2 */
	const char *decl = len > 5 && memcmp(s, "<?xml", 5) == 0 ? s : NULL;
	if (decl != NULL) {
		const char *q = memchr(decl, '>', len);
		const char *enc = q ? memmem(decl, (size_t)(q - decl), "encoding", 8) : NULL;
		if (enc != NULL) {
			enc += 8;
			enc += strspn(enc, " \t=\"'");
			utf8 = strncasecmp(enc, "utf-8", 5) == 0 || strncasecmp(enc, "utf8", 4) == 0;
		}
	}
	/* leading bytes before the first '<' (a BOM is kept) */
	size_t first = 0;
	if (len >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
	    (unsigned char)s[2] == 0xbf) {
		if ((r = buf_put(out, s, 3)) != MN_OK)
			return r;
		first = i = 3;
	}
	while (i < len && s[i] != '<')
		i++;
	if (i > first) {
		for (size_t k = first; k < i; k++)
			if (s[k] == '\n')
				line++;
		if ((r = rd_note(notes, "%zu bytes before the XML removed", i - first)) != MN_OK)
			return r;
	}
	size_t re = root_end(s, len);
	if (re > 0 && re < len) {
		size_t k = re;
		while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
			k++;
		if (k < len) {
			end = re;
			if ((r = rd_note(notes, "%zu bytes after the root element removed", len - re)) != MN_OK)
				return r;
		}
	}
	for (; i < end && r == MN_OK; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			line++;
		if (c == 0) {
			nuls++;
			continue;
		}
		if (c == '<' && !in_tag) {
			size_t n = verbatim(s, end, i, &line);
			if (n > 0) {
				r = buf_put(out, s + i, n);
				i += n - 1;
				continue;
			}
			if (starts_markup(s, end, i)) {
				in_tag = true;
				r = buf_put(out, "<", 1);
			} else {
				r = count_note(notes, &lt, "unescaped '%s' at line %ld escaped", "<", line);
				if (r == MN_OK)
					r = buf_put(out, "&lt;", 4);
			}
			continue;
		}
		if (c == '>' && in_tag) {
			in_tag = false;
			r = buf_put(out, ">", 1);
			continue;
		}
		if (c == '&' && !in_tag && !starts_ref(s, end, i)) {
			r = count_note(notes, &amp, "unescaped '%s' at line %ld escaped", "&", line);
			if (r == MN_OK)
				r = buf_put(out, "&amp;", 5);
			continue;
		}
		if (c >= 0x80 && utf8) {
			size_t n = utf8_len((const unsigned char *)s + i, end - i);
			if (n == 0) {
				bad8++;
				r = buf_put(out, "?", 1);
			} else {
				r = buf_put(out, s + i, n);
				i += n - 1;
			}
			continue;
		}
		r = buf_put(out, s + i, 1);
	}
	if (r == MN_OK && nuls > 0)
		r = rd_note(notes, "%zu NUL bytes removed", nuls);
	if (r == MN_OK && bad8 > 0)
		r = rd_note(notes, "%zu bytes of invalid UTF-8 replaced by '?'", bad8);
	if (r == MN_OK && lt > RD_NOTES_MAX)
		r = rd_note(notes, "... and %d more unescaped '<' escaped", lt - RD_NOTES_MAX);
	if (r == MN_OK && amp > RD_NOTES_MAX)
		r = rd_note(notes, "... and %d more unescaped '&' escaped", amp - RD_NOTES_MAX);
	return r;
}

int rd_xml_repair(const char *s, size_t len, char **out, size_t *outlen, rd_notes_t *notes)
{
	mn_buf_t b = { 0 };
	int r = repair(s, len, &b, notes);
	if (r != MN_OK) {
		mn_buf_free(&b);
		return r;
	}
	size_t n = b.len;
	char *text = mn_buf_take(&b);	/* "" when nothing was added */
	if (text == NULL)
		return MN_ENOMEM;
	*out = text;
	*outlen = n;
	return MN_OK;
}
