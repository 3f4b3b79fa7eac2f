/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_delegation.c -- mailns delegation: the records to add at each domain's parent */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cmd.h"
#include "zones/records.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mailns delegation [-c POLICY] [DOMAIN...]\n\n"
		   "Prints, for each domain (all when none is named), the records to add\n"
		   "in its parent zone: NS records delegating _domainkey, _dmarc and _spf\n"
		   "(and _mta-sts, _smtp._tls and _bimi for a domain with mta_sts, tls_rpt,\n"
		   "bimi) to the mailns name servers, the apex SPF record that includes\n"
		   "_spf.DOMAIN, for MTA-STS the web host mta-sts.DOMAIN to create, and\n"
		   "for a domain with dnssec the DS records of each zone (SHA-256, one per\n"
		   "published SEP key, from the keys in state_dir/dnssec: none is made;\n"
		   "two during a KSK/CSK rollover; a retired key's DS commented out: to be\n"
		   "removed at the parent).\n\n"
		   "  -c, --policy FILE  the policy (default $MAILNS_POLICY, " MN_POLICY_PATH ")\n"
		   "  -h, --help         this help\n");
}

int cmd_zone_ds(const policy_t *p, const policy_domain_t *d, const char *zone, uint8_t ds[][DNSKEY_DS_LEN],
		bool *withdraw, size_t max, size_t *n)
{
	*n = 0;
	dnskey_set_t keys = { 0 };
	uint8_t owner[256];
	int r = mn_name_to_wire(zone, owner, sizeof(owner));
	if (r < 0)
		return r;
	size_t owner_len = (size_t)r;
	r = dnskey_zone_keys(p->server.state_dir.v, zone, (dnssec_alg_t)d->dnssec.algorithm.v,
			     (dnssec_keys_t)d->dnssec.keys.v, false, mn_now(), &keys, NULL);
	if (r != MN_OK)
		goto fail;
	/* the SEP keys in the DNSKEY RRset: two during a double-DS rollover */
	for (size_t i = 0; i < keys.n && *n < max; i++) {
		if (keys.meta[i].role == DNSKEY_ROLE_ZSK || !(keys.use[i] & DNSKEY_USE_DNSKEY))
			continue;
		r = dnskey_ds(keys.v[i], owner, owner_len, ds[*n]);
		if (r != MN_OK)
			goto fail;
		if (withdraw != NULL)
			withdraw[*n] = keys.meta[i].state == DNSKEY_RETIRED;
		(*n)++;
	}
fail:
	dnskey_set_clear(&keys);
	return r;
}

bool cmd_ds_matches(const char *text, const uint8_t ours[][DNSKEY_DS_LEN], size_t n)
{
	unsigned tag, alg, type;
	int used = 0;
	if (sscanf(text, "%u %u %u %n", &tag, &alg, &type, &used) != 3 || used == 0)
		return false;
	uint8_t digest[DNSKEY_DS_LEN - 4];
	size_t len = 0;
	bool hex_ok = true;
	for (const char *h = text + used; *h != '\0' && hex_ok; h++) {
		if (isspace((unsigned char)*h))
			continue;
		int v = isdigit((unsigned char)*h) ? *h - '0'
			: isxdigit((unsigned char)*h) ? tolower((unsigned char)*h) - 'a' + 10 : -1;
		if (v < 0 || len / 2 >= sizeof(digest)) {
			hex_ok = false;
			break;
		}
		digest[len / 2] = (uint8_t)(len % 2 ? digest[len / 2] | v : v << 4);
		len++;
	}
	for (size_t i = 0; i < n; i++) {
		if (tag != (unsigned)(ours[i][0] << 8 | ours[i][1]) || alg != ours[i][2])
			continue;
		if (type != 2)
			return true;	/* SHA-1, SHA-384: not computed here; tag and algorithm agree */
		if (hex_ok && len == 2 * sizeof(digest) && memcmp(digest, ours[i] + 4, sizeof(digest)) == 0)
			return true;
	}
	return false;
}

bool cmd_domain_zone(const policy_domain_t *d, size_t k, char zone[300])
{
	static const char *const labels[CMD_ZONES_MAX] = { "_domainkey", "_dmarc", "_spf", "_mta-sts", "_smtp._tls",
							   "_bimi" };
	const bool has[CMD_ZONES_MAX] = { true, true, true, d->mta_sts.present, d->tls_rpt.present, d->bimi.present };
	if (k >= CMD_ZONES_MAX || !has[k])
		return false;
	snprintf(zone, 300, "%s.%s", labels[k], d->name);
	return true;
}

/* The DS records of a signed zone, or a comment saying why there are none. */
static int print_ds(const policy_t *p, const policy_domain_t *d, const char *zone, FILE *f)
{
	uint8_t ds[CMD_DS_MAX][DNSKEY_DS_LEN];
	bool withdraw[CMD_DS_MAX];
	size_t n;
	int r = cmd_zone_ds(p, d, zone, ds, withdraw, CMD_DS_MAX, &n);
	if (r != MN_OK) {
		cmd_err("cannot read the DNSSEC keys of %s in %s/dnssec/%s (%s)", zone, p->server.state_dir.v, zone,
			mn_strerror(r));
		return r;
	}
	if (n == 0)
		fprintf(f, "; %s is signed but has no DNSSEC keys yet: run mailns zone or start mailnsd first\n",
			zone);
	for (size_t i = 0; i < n; i++) {
		if (withdraw[i])
			fprintf(f, "; key %u is retired (a rollover): remove this DS at the parent\n; ",
				(unsigned)(ds[i][0] << 8 | ds[i][1]));
		fprintf(f, "%s.\t%u\tIN\tDS\t%u %u %u ", zone, (unsigned)p->server.ttl.v,
			(unsigned)(ds[i][0] << 8 | ds[i][1]), (unsigned)ds[i][2], (unsigned)ds[i][3]);
		for (size_t k = 4; k < DNSKEY_DS_LEN; k++)
			fprintf(f, "%02X", (unsigned)ds[i][k]);
		fputc('\n', f);
	}
	return MN_OK;
}

static int print_domain(const policy_t *p, const policy_domain_t *d, FILE *f)
{
	const struct { const char *label; bool made; } zones[] = {
		{ "_domainkey", true }, { "_dmarc", true }, { "_spf", true },
		{ "_mta-sts", d->mta_sts.present }, { "_smtp._tls", d->tls_rpt.present }, { "_bimi", d->bimi.present },
	};
	uint32_t ttl = p->server.ttl.v;
	fprintf(f, "; %s\n", d->name);
	for (size_t k = 0; k < sizeof(zones) / sizeof(zones[0]); k++)
		for (size_t i = 0; zones[k].made && i < p->server.nameservers.n; i++)
			fprintf(f, "%s.%s.\t%u\tIN\tNS\t%s.\n", zones[k].label, d->name, (unsigned)ttl,
				p->server.nameservers.v[i].v);
	if (d->spf.present)
		fprintf(f, "%s.\t%u\tIN\tTXT\t\"v=spf1 include:_spf.%s %s\"\n", d->name, (unsigned)ttl,
			d->name, rec_spf_all_term(d->spf.all.v));
	if (d->mta_sts.present)
		fprintf(f, "; MTA-STS: create the web host mta-sts.%s (A/AAAA, a certificate for that name)\n"
			   ";   serving https://mta-sts.%s/.well-known/mta-sts.txt\n", d->name, d->name);
	int r = MN_OK;
	for (size_t k = 0; d->dnssec.enabled.v && k < sizeof(zones) / sizeof(zones[0]); k++) {
		char zone[300];
		snprintf(zone, sizeof(zone), "%s.%s", zones[k].label, d->name);
		if (zones[k].made && print_ds(p, d, zone, f) != MN_OK)
			r = MN_ESTATE;
	}
	return r;
}

int cmd_delegation(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return CMD_OK;
		default: usage(stderr); return CMD_USAGE;
		}
	}
	policy_t *p = cmd_policy_load(path, false);
	if (p == NULL)
		return CMD_ERRORS;
	int status = CMD_OK;
	size_t nwant = (size_t)(argc - optind);
	const policy_domain_t **v = calloc(nwant ? nwant : 1, sizeof(*v));
	if (v == NULL) {
		cmd_err("out of memory");
		policy_free(p);
		return CMD_ERRORS;
	}
	for (size_t i = 0; i < nwant; i++) {
		char norm[256];
		const char *arg = argv[optind + (int)i];
		if (mn_name_norm(arg, norm, sizeof(norm)) != MN_OK ||
		    (v[i] = policy_domain_find(p, norm)) == NULL) {
			cmd_err("no domain '%s' in %s", arg, cmd_policy_path(path));
			status = CMD_ERRORS;
		}
	}
	if (status == CMD_OK) {
		size_t n = nwant ? nwant : p->ndomains;
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				fputc('\n', stdout);
			if (print_domain(p, nwant ? v[i] : &p->domains[i], stdout) != MN_OK)
				status = CMD_ERRORS;
		}
		if (fflush(stdout) != 0) {
			cmd_err("cannot write to standard output");
			status = CMD_ERRORS;
		}
	}
	free(v);
	policy_free(p);
	return status;
}
