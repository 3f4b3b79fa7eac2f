/* SPDX-License-Identifier: GPL-3.0-or-later */
/* progress.c -- one updating progress line on a terminal's stderr for long runs (keys rotate, flatten) */
#include "tools/progress.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/mn.h"

struct progress {
	pthread_mutex_t lock;
	char label[32];
	size_t done, total;
	int64_t start_ms, drawn_ms;	/* drawn_ms: the last update, -1 never */
	size_t width;			/* of the line on the terminal now, 0 none */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "45s", "3m12s", "2h05m" */
static void span(double s, char *buf, size_t size)
{
	unsigned long t = s < 0 ? 0 : s > 359999 ? 359999 : (unsigned long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, size, "%luh%02lum", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, size, "%lum%02lus", t / 60, t % 60);
	else
		snprintf(buf, size, "%lus", t);
}

void progress_format(const char *label, size_t done, size_t total, double elapsed, char *buf, size_t size)
{
	double pct = total > 0 ? 100.0 * (double)done / (double)total : 100.0;
	int n = snprintf(buf, size, "%s: %zu/%zu (%.1f%%)", label, done, total, pct);
	if (n < 0 || (size_t)n >= size || done == 0 || elapsed <= 0)
		return;
	double rate = (double)done / elapsed;
	char left[32];
	span(done < total ? (double)(total - done) / rate : 0, left, sizeof(left));
	snprintf(buf + n, size - (size_t)n, ", %.1f/s, %s left", rate, left);
}

progress_t *progress_new(const char *label, size_t total, bool quiet)
{
	if (quiet || label == NULL || !isatty(STDERR_FILENO))
		return NULL;
	progress_t *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	p->start_ms = now_ms();
	p->drawn_ms = -1;
	return p;
}

/* Writes the line over the old one (p->lock held). */
static void draw(progress_t *p, int64_t now)
{
	char line[160];
	progress_format(p->label, p->done, p->total, (double)(now - p->start_ms) / 1000.0, line, sizeof(line));
	size_t len = strlen(line);
	/* spaces over what a longer line left */
	fprintf(stderr, "\r%s%*s", line, p->width > len ? (int)(p->width - len) : 0, "");
	if (p->width > len)
		fprintf(stderr, "\r%s", line);
	fflush(stderr);
	p->width = len;
	p->drawn_ms = now;
}

/* Redraws when the last update is 1/PROGRESS_HZ s old, or at the end (p->lock held). */
static void update(progress_t *p)
{
	int64_t now = now_ms();
	if (p->drawn_ms < 0 || now - p->drawn_ms >= 1000 / PROGRESS_HZ || p->done == p->total)
		draw(p, now);
}

void progress_add(progress_t *p, size_t n)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->done = p->total - p->done < n ? p->total : p->done + n;
	update(p);
	pthread_mutex_unlock(&p->lock);
}

void progress_grow(progress_t *p, size_t n)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->total += n;
	update(p);
	pthread_mutex_unlock(&p->lock);
}

/* Erases the line (p->lock held). */
static void erase(progress_t *p)
{
	if (p->width == 0)
		return;
	fprintf(stderr, "\r%*s\r", (int)p->width, "");
	fflush(stderr);
	p->width = 0;
}

void progress_hide(progress_t *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	erase(p);
	pthread_mutex_unlock(&p->lock);
}

void progress_end(progress_t *p)
{
	if (p == NULL)
		return;
	erase(p);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int progress_jobs_parse(const char *s, unsigned max, unsigned *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return MN_ERANGE;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || v < 1 || v > max)
		return MN_ERANGE;
	*out = (unsigned)v;
	return MN_OK;
}
