/* SPDX-License-Identifier: GPL-3.0-or-later */
/* records.c -- record text builders: DMARC, plain SPF, network merging, report targets */
#include "zones/records.h"

#include "policy/dmarc.h"
#include "zones/ipmap.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *p_name(int p)
{
	switch (p) {
	case DMARC_P_NONE: return "none";
	case DMARC_P_QUARANTINE: return "quarantine";
	case DMARC_P_REJECT: return "reject";
	}
	return "none";
}

static void add_uris(mn_buf_t *b, const char *tag, const policy_strs_t *u)
{
	if (u->n == 0)
		return;
	mn_buf_addf(b, "; %s=", tag);
	for (size_t i = 0; i < u->n; i++) {
		if (i > 0)
			mn_buf_add(b, ",");
		mn_buf_add(b, u->v[i].v);
	}
}

char *rec_dmarc_text(const policy_dmarc_t *d)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "v=DMARC1; p=%s", p_name(d->p.v));
	if (POLICY_SET(d->sp))
		mn_buf_addf(&b, "; sp=%s", p_name(d->sp.v));
	if (POLICY_SET(d->np))
		mn_buf_addf(&b, "; np=%s", p_name(d->np.v));
	if (POLICY_SET(d->psd))
		mn_buf_addf(&b, "; psd=%s", d->psd.v == DMARC_PSD_Y ? "y" : d->psd.v == DMARC_PSD_N ? "n" : "u");
	if (POLICY_SET(d->t))
		mn_buf_addf(&b, "; t=%s", d->t.v ? "y" : "n");
	if (POLICY_SET(d->adkim))
		mn_buf_addf(&b, "; adkim=%s", d->adkim.v == DMARC_ALIGN_S ? "s" : "r");
	if (POLICY_SET(d->aspf))
		mn_buf_addf(&b, "; aspf=%s", d->aspf.v == DMARC_ALIGN_S ? "s" : "r");
	if (POLICY_SET(d->fo) && d->fo.v != NULL)
		mn_buf_addf(&b, "; fo=%s", d->fo.v);
	add_uris(&b, "rua", &d->rua);
	add_uris(&b, "ruf", &d->ruf);
	if (POLICY_SET(d->pct))
		mn_buf_addf(&b, "; pct=%u", (unsigned)d->pct.v);
	if (POLICY_SET(d->rf) && d->rf.v != NULL)
		mn_buf_addf(&b, "; rf=%s", d->rf.v);
	if (POLICY_SET(d->ri))
		mn_buf_addf(&b, "; ri=%u", (unsigned)d->ri.v);
	return mn_buf_take(&b);
}

char *rec_mta_sts_policy(const policy_mta_sts_t *m)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "version: STSv1\r\nmode: %s\r\n", policy_mta_sts_mode_name((mta_sts_mode_t)m->mode.v));
	for (size_t i = 0; i < m->mx.n; i++)
		mn_buf_addf(&b, "mx: %s\r\n", m->mx.v[i].v);
	mn_buf_addf(&b, "max_age: %u\r\n", (unsigned)m->max_age.v);
	return mn_buf_take(&b);
}

int rec_mta_sts_id(const char *policy_text, char *out, size_t outsize)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (outsize < 33)
		return MN_EINVAL;
	if (EVP_Digest(policy_text, strlen(policy_text), md, &mdlen, mn_sha256(), NULL) != 1 || mdlen < 16)
		return MN_ENOMEM;
	for (size_t i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return MN_OK;
}

char *rec_mta_sts_text(const policy_mta_sts_t *m)
{
	char *policy = rec_mta_sts_policy(m);
	char id[33];
	if (policy == NULL || rec_mta_sts_id(policy, id, sizeof(id)) != MN_OK) {
		free(policy);
		return NULL;
	}
	free(policy);
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "v=STSv1; id=%s", id);
	return mn_buf_take(&b);
}

char *rec_tlsrpt_text(const policy_tls_rpt_t *t)
{
	mn_buf_t b = { 0 };
	mn_buf_add(&b, "v=TLSRPTv1");
	add_uris(&b, "rua", &t->rua);
	return mn_buf_take(&b);
}

char *rec_bimi_text(const policy_bimi_t *bi)
{
	mn_buf_t b = { 0 };
	mn_buf_addf(&b, "v=BIMI1; l=%s", bi->logo.v != NULL ? bi->logo.v : "");
	if (POLICY_SET(bi->authority) && bi->authority.v != NULL)
		mn_buf_addf(&b, "; a=%s", bi->authority.v);
	return mn_buf_take(&b);
}

const char *rec_spf_all_term(int all)
{
	switch (all) {
	case SPF_ALL_FAIL: return "-all";
	case SPF_ALL_SOFTFAIL: return "~all";
	case SPF_ALL_NEUTRAL: return "?all";
	case SPF_ALL_PASS: return "+all";
	}
	return "-all";
}

bool rec_mailto_domain(const char *uri, char *out, size_t outsize)
{
	/* the one mailto: parser (RFC 6068, percent-decoding): dmarc_uri_check() */
	dmarc_dest_t dest = { 0 };
	bool ok = uri != NULL && dmarc_uri_check(uri, "rua", NULL, NULL, &dest) == MN_OK &&
		  dest.scheme == DMARC_URI_MAILTO && strlen(dest.domain) < outsize;
	if (ok)
		memcpy(out, dest.domain, strlen(dest.domain) + 1);
	dmarc_dest_clear(&dest);
	return ok;
}

/* ---- network merging ---------------------------------------------------- */

int rec_nets_merge(const mn_net_t *in, size_t n, mn_net_t **out, size_t *nout)
{
	if ((in == NULL && n > 0) || out == NULL || nout == NULL)
		return MN_EINVAL;
	if (n == 0) {
		*out = NULL;
		*nout = 0;
		return MN_OK;
	}
	int family = in[0].family;
	unsigned width = family == 4 ? 32 : 128;
	ipmap_range_t *r = malloc(n * sizeof(*r));
	if (r == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (in[i].family != family || in[i].prefix > width) {
			free(r);
			return MN_EINVAL;
		}
		r[i] = ipmap_net_range(&in[i]);
	}
	size_t m = ipmap_ranges_merge(r, n, family);
	mn_net_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = MN_OK;
	for (size_t i = 0; rc == MN_OK && i < m; i++)
		rc = ipmap_range_nets(r[i], family, &v, &cnt, &cap);
	free(r);
	if (rc != MN_OK) {
		free(v);
		return rc;
	}
	*out = v;
	*nout = cnt;
	return MN_OK;
}

/* ---- SPF terms -------------------------------------------------------------- */

void rec_terms_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (s == NULL)
		return MN_ENOMEM;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		char **p = realloc(*v, c * sizeof(*p));
		if (p == NULL) {
			free(s);
			return MN_ENOMEM;
		}
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = s;
	return MN_OK;
}

static char *term(const char *prefix, const char *value)
{
	size_t a = strlen(prefix), b = strlen(value);
	char *s = malloc(a + b + 1);
	if (s != NULL) {
		memcpy(s, prefix, a);
		memcpy(s + a, value, b + 1);
	}
	return s;
}

int rec_spf_kept_terms(const char *domain, const policy_spf_t *s, char ***out, size_t *nout)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < s->a.n; i++)
		r = push(&v, &n, &cap, term("a:", s->a.v[i].v));
	if (r == MN_OK && s->mx.v)
		r = push(&v, &n, &cap, term("mx:", domain));
	for (size_t i = 0; r == MN_OK && i < s->include.n; i++)
		r = push(&v, &n, &cap, term("include:", s->include.v[i].v));
	if (r != MN_OK) {
		rec_terms_free(v, n);
		return r;
	}
	*out = v;
	*nout = n;
	return MN_OK;
}

char **rec_spf_net_block(const mn_net_t *nets, size_t n)
{
	enum { TERM_MAX = 4 + 64 };	/* "ip4:"/"ip6:" and what mn_net_format() writes into 64 bytes */
	char **v = malloc((n ? n : 1) * (sizeof(*v) + TERM_MAX));
	if (v == NULL)
		return NULL;
	char *p = (char *)(v + n);
	for (size_t i = 0; i < n; i++) {
		v[i] = p;
		memcpy(p, nets[i].family == 4 ? "ip4:" : "ip6:", 4);
		mn_net_format(&nets[i], p + 4, TERM_MAX - 4);
		p += 4 + strlen(p + 4) + 1;
	}
	return v;
}

int rec_spf_net_terms(const mn_net_t *nets, size_t n, char ***out, size_t *nout)
{
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int r = MN_OK;
	for (size_t i = 0; r == MN_OK && i < n; i++) {
		char buf[64];
		mn_net_format(&nets[i], buf, sizeof(buf));
		r = push(&v, &cnt, &cap, term(nets[i].family == 4 ? "ip4:" : "ip6:", buf));
	}
	if (r != MN_OK) {
		rec_terms_free(v, cnt);
		return r;
	}
	*out = v;
	*nout = cnt;
	return MN_OK;
}
