/* SPDX-License-Identifier: GPL-3.0-or-later */
/* unpack.c -- gzip and zip through libarchive, with the size and ratio caps held while decompressing */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/mn.h"
#include "reports/read_internal.h"

/*
 * A bomb is only a danger when it is big: the ratio is checked once the
 * output passes this many bytes (a 300-byte gzip of a 2 KB report is fine).
 */
#define RATIO_FLOOR (1u << 20)

bool rd_is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

bool rd_is_zip(const uint8_t *buf, size_t len)
{
	return len >= 4 && buf[0] == 'P' && buf[1] == 'K' && buf[2] == 3 && buf[3] == 4;
}

static int too_large(size_t total, size_t inlen, const report_limits_t *lim, char *why, size_t whylen)
{
	if (total > lim->max_size) {
		if (lim->max_size % (1u << 20) == 0)
			rd_why(why, whylen, "too large (over %zu MiB decompressed)", lim->max_size >> 20);
		else
			rd_why(why, whylen, "too large (over %zu bytes decompressed)", lim->max_size);
		return MN_ERANGE;
	}
	if (total > RATIO_FLOOR && lim->max_ratio > 0 && total / lim->max_ratio > inlen) {
		rd_why(why, whylen, "too large (decompresses to over %u times its %zu bytes)",
		       lim->max_ratio, inlen);
		return MN_ERANGE;
	}
	return MN_OK;
}

/* Reads the current entry's data into a buffer, in blocks, stopping at the caps. */
static int read_data(struct archive *a, size_t inlen, const report_limits_t *lim, uint8_t **out,
		     size_t *outlen, char *why, size_t whylen)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	for (;;) {
		if (cap - len < 65536) {
			size_t ncap = cap ? cap * 2 : 65536;
			if (ncap > lim->max_size + 65536 + 1)
				ncap = lim->max_size + 65536 + 1;
			if (ncap <= cap) {
				/* cannot happen: the cap below stops us first */
				r = MN_ERANGE;
				rd_why(why, whylen, "too large");
				goto fail;
			}
			uint8_t *nb = realloc(buf, ncap);
			if (nb == NULL) {
				r = MN_ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		size_t want = cap - len - 1;
		if (want > 65536)
			want = 65536;
		la_ssize_t n = archive_read_data(a, buf + len, want);
		if (n < 0) {
			rd_why(why, whylen, "not a report (damaged archive: %s)",
			       archive_error_string(a) ? archive_error_string(a) : "read error");
			r = MN_ESYNTAX;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if ((r = too_large(len, inlen, lim, why, whylen)) != MN_OK)
			goto fail;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return MN_OK;
fail:
	free(buf);
	return r;
}

/*
 * How much of the input the gzip filter consumed: less than the input when
 * bytes follow the end of the (last) gzip member, which it then ignores.
 */
static size_t gzip_consumed(struct archive *a)
{
	la_int64_t n = archive_filter_bytes(a, -1);
	return n < 0 ? 0 : (size_t)n;
}

static int unpack_gzip(const uint8_t *buf, size_t len, const report_limits_t *lim, uint8_t **out,
		       size_t *outlen, rd_notes_t *notes, char *why, size_t whylen)
{
	struct archive_entry *e;
	int r;
	struct archive *a = archive_read_new();

	if (a == NULL)
		return MN_ENOMEM;
	archive_read_support_filter_gzip(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK ||
	    archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP) {
		rd_why(why, whylen, "not a report (damaged gzip: %s)",
		       archive_error_string(a) ? archive_error_string(a) : "bad header");
		r = MN_ESYNTAX;
		goto fail;
	}
	if ((r = read_data(a, len, lim, out, outlen, why, whylen)) != MN_OK)
		goto fail;
	size_t used = gzip_consumed(a);
	if (used > 0 && used < len && (r = rd_note(notes, "%zu bytes after the gzip stream ignored",
						   len - used)) != MN_OK) {
		free(*out);
		goto fail;
	}
	r = MN_OK;
fail:
	archive_read_free(a);
	return r;
}

/* A member name we refuse: absolute, a drive letter, or a ".." component. */
static bool name_unsafe(const char *name)
{
	if (name[0] == '/' || name[0] == '\\' || (name[0] != '\0' && name[1] == ':'))
		return true;
	for (const char *p = name; *p; ) {
		size_t n = strcspn(p, "/\\");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

static bool name_report(const char *name)
{
	size_t n = strlen(name);
	return (n > 4 && (strcasecmp(name + n - 4, ".xml") == 0)) ||
	       (n > 5 && (strcasecmp(name + n - 5, ".json") == 0));
}

static int zip_open(const uint8_t *buf, size_t len, struct archive **out)
{
	struct archive *a = archive_read_new();
	if (a == NULL)
		return MN_ENOMEM;
	archive_read_support_format_zip(a);
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
		archive_read_free(a);
		return MN_ESYNTAX;
	}
	*out = a;
	return MN_OK;
}

static int zip_damaged(struct archive *a, char *why, size_t whylen)
{
	rd_why(why, whylen, "not a report (damaged zip: %s)",
	       a && archive_error_string(a) ? archive_error_string(a) : "unreadable");
	return MN_ESYNTAX;
}

/* Zip: pass 1 picks the member (and refuses bad names), pass 2 reads it. */
static int unpack_zip(const uint8_t *buf, size_t len, const report_limits_t *lim, uint8_t **out,
		      size_t *outlen, char *why, size_t whylen)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	size_t nfiles = 0, nreports = 0, i = 0, pick = 0, pick_report = 0;
	int r, ar = ARCHIVE_OK;

	if ((r = zip_open(buf, len, &a)) != MN_OK) {
		if (r != MN_ENOMEM)
			r = zip_damaged(a, why, whylen);
		goto fail;
	}
	while (i <= 10000 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (name == NULL)
			name = "";
		if (name_unsafe(name)) {
			rd_why(why, whylen, "zip member name '%.100s' is absolute or has '..' (refused)",
			       name);
			r = MN_ESYNTAX;
			goto fail;
		}
		if (archive_entry_filetype(e) == AE_IFREG) {
			nfiles++;
			pick = i;
			if (name_report(name)) {
				nreports++;
				pick_report = i;
			}
		}
		i++;
	}
	if (ar != ARCHIVE_EOF && ar != ARCHIVE_OK) {
		r = zip_damaged(a, why, whylen);
		goto fail;
	}
	if (nfiles == 0) {
		rd_why(why, whylen, "not a report (empty zip)");
		r = MN_ESYNTAX;
		goto fail;
	}
	if (nfiles > 1) {
		if (nreports != 1) {
			rd_why(why, whylen, "zip with %zu members and %zu reports (.xml, .json) among them "
			       "(refused: want exactly one)", nfiles, nreports);
			r = MN_ESYNTAX;
			goto fail;
		}
		pick = pick_report;
	}
	archive_read_free(a);
	a = NULL;
	if ((r = zip_open(buf, len, &a)) != MN_OK) {
		if (r != MN_ENOMEM)
			r = zip_damaged(a, why, whylen);
		goto fail;
	}
	for (i = 0; (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK && i < pick; i++)
		;
	if (ar != ARCHIVE_OK) {
		r = zip_damaged(a, why, whylen);
		goto fail;
	}
	r = read_data(a, len, lim, out, outlen, why, whylen);
fail:
	if (a)
		archive_read_free(a);
	return r;
}

int rd_unpack(const uint8_t *buf, size_t len, const report_limits_t *lim, uint8_t **out,
	      size_t *outlen, rd_notes_t *notes, char *why, size_t whylen)
{
	if (rd_is_gzip(buf, len))
		return unpack_gzip(buf, len, lim, out, outlen, notes, why, whylen);
	if (rd_is_zip(buf, len))
		return unpack_zip(buf, len, lim, out, outlen, why, whylen);
	rd_why(why, whylen, "not a report (neither gzip nor zip)");
	return MN_ESYNTAX;
}
