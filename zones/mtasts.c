/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mtasts.c -- the MTA-STS policy files, written before the zones that announce their ids */
#include "zones/mtasts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/mn.h"
#include "zones/records.h"

#define WELL_KNOWN ".well-known"
#define POLICY_NAME "mta-sts.txt"
#define POLICY_MAX 65536	/* a longer file is not ours: replaced */

char *mtasts_dir(const policy_t *p)
{
	mn_buf_t b = { 0 };
	if (POLICY_SET(p->server.mta_sts_dir) && p->server.mta_sts_dir.v != NULL)
		mn_buf_add(&b, p->server.mta_sts_dir.v);
	else if (p->server.state_dir.v != NULL)
		mn_buf_addf(&b, "%s/mta-sts", p->server.state_dir.v);
	else
		return NULL;
	return mn_buf_take(&b);
}

/* Does name in dirfd (not followed if a link) hold exactly text? */
static bool same_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t want = strlen(text), got = 0;
	char buf[POLICY_MAX];
	bool same = true;
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf)) {
			same = false;
			break;
		}
	}
	close(fd);
	return same && got == want && memcmp(buf, text, want) == 0;
}

static int write_one(const char *dir, const policy_domain_t *d, diag_t *diag)
{
	char *text = rec_mta_sts_policy(&d->mta_sts);
	mn_buf_t sb = { 0 };
	mn_buf_addf(&sb, "%s/" WELL_KNOWN, d->name);
	char *sub = mn_buf_take(&sb);
	int r = MN_ENOMEM, dirfd = -1;
	if (text == NULL || sub == NULL)
		goto fail;
	r = dirfd = mn_dir_open(dir, sub, 0755, true);
	if (dirfd < 0)
		goto fail;
	r = MN_OK;
	if (!same_file(dirfd, POLICY_NAME, text))
		r = mn_file_replace_at(dirfd, POLICY_NAME, text, strlen(text), 0644, MN_WRITE_FSYNC);
fail:
	if (r < 0 && r != MN_ENOMEM)
		diag_error(diag, &d->pos, "cannot write the MTA-STS policy %s/%s/" POLICY_NAME " (%s)", dir,
			   sub, mn_strerror(r));
	if (dirfd >= 0)
		close(dirfd);
	free(sub);
	free(text);
	return r;
}

int mtasts_write(const policy_t *p, const policy_domain_t *only, diag_t *diag)
{
	char *dir = NULL;
	int ret = MN_OK;
	for (size_t i = 0; i < p->ndomains; i++) {
		const policy_domain_t *d = &p->domains[i];
		if (!d->mta_sts.present || (only != NULL && d != only))
			continue;
		if (dir == NULL && (dir = mtasts_dir(p)) == NULL)
			return MN_ENOMEM;
		int r = write_one(dir, d, diag);
		if (r == MN_ENOMEM) {
			ret = r;
			break;
		}
		if (r < 0)
			ret = MN_EPOLICY;
	}
	free(dir);
	return ret;
}
