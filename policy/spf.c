/* SPDX-License-Identifier: GPL-3.0-or-later */
/* spf.c -- SPF record syntax (RFC 7208 §12) and the rules checked before publishing */
#include "policy/spf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LOOKUPS 10		/* RFC 7208 §4.6.4 */

typedef struct ctx {
	diag_t *diag;		/* NULL: only count errors */
	const mn_pos_t *pos;
	unsigned errors;
	unsigned grammar;	/* terms that failed the grammar */
	spf_record_t *rec;	/* terms parsed so far (keep) */
	spf_info_t info;
	unsigned nredirect, nexp;
	/*
	 * !keep (spf_record_check): the terms are checked one by one and not
	 * kept; each term's text goes to buf (no copy of it or its parts per
	 * term: flattened records have hundreds of terms), the first
	 * redirect= term's to redirect, for report_record().
	 */
	bool keep;
	char *buf;
	size_t bufcap;
	char *redirect;
} ctx_t;

__attribute__((format(printf, 3, 4)))
static void emit(ctx_t *c, diag_level_t level, const char *fmt, ...)
{
	if (level == DIAG_ERROR)
		c->errors++;
	if (c->diag == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	diag_addv(c->diag, level, c->pos, "SPF", fmt, ap);
	va_end(ap);
}

#define ERR(c, ...) emit((c), DIAG_ERROR, __VA_ARGS__)
#define WARN(c, ...) emit((c), DIAG_WARNING, __VA_ARGS__)

static const char *const kind_names[] = {
	[SPF_ALL] = "all", [SPF_INCLUDE] = "include", [SPF_A] = "a", [SPF_MX] = "mx",
	[SPF_PTR] = "ptr", [SPF_IP4] = "ip4", [SPF_IP6] = "ip6", [SPF_EXISTS] = "exists",
	[SPF_REDIRECT] = "redirect", [SPF_EXP] = "exp", [SPF_MODIFIER] = "modifier",
};

const char *spf_kind_name(spf_kind_t kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "?";
	return kind_names[kind];
}

/*
 * macro-string (RFC 7208 §7.1): macro-expand / macro-literal.  T is the
 * whole term for messages.  Sets *has_macro and *tail (offset just after the
 * last macro-expand).  Returns false after reporting the first error.
 */
static bool check_macro_string(ctx_t *c, const char *T, const char *s, size_t len, bool allow_crt,
			       bool *has_macro, size_t *tail)
{
	*has_macro = false;
	*tail = 0;
	size_t i = 0;
	while (i < len) {
		unsigned char ch = (unsigned char)s[i];
		if (ch != '%') {
			/* macro-literal = %x21-24 / %x26-7E */
			if (ch < 0x21 || ch > 0x7e) {
				ERR(c, "invalid character 0x%02x in '%s'", ch, T);
				return false;
			}
			i++;
			continue;
		}
		if (i + 1 >= len || (s[i + 1] != '{' && s[i + 1] != '%' && s[i + 1] != '_' && s[i + 1] != '-')) {
			ERR(c, "bad macro in '%s': '%%' must be followed by '{', '%%', '_' or '-'", T);
			return false;
		}
		*has_macro = true;
		if (s[i + 1] != '{') {
			i += 2;
			*tail = i;
			continue;
		}
		const char *end = memchr(s + i + 2, '}', len - i - 2);
		if (end == NULL) {
			ERR(c, "bad macro in '%s': unterminated '%%{'", T);
			return false;
		}
		const char *m = s + i + 2;
		int mlen = (int)(end - m) + 3;	/* "%{...}" for messages */
		if (m == end) {
			ERR(c, "bad macro in '%s': empty '%%{}'", T);
			return false;
		}
		/* macro-letter = s l o d i p h c r t v (upper case: URL-escaped, §7.3) */
		char letter = (char)tolower((unsigned char)*m);
		if (strchr("slodiphcrtv", letter) == NULL) {
			ERR(c, "bad macro in '%s': unknown macro letter '%c'", T, *m);
			return false;
		}
		if (!allow_crt && strchr("crt", letter) != NULL) {
			ERR(c, "macro letter '%c' in '%s' is only allowed in exp= (RFC 7208 §7.2)", *m, T);
			return false;
		}
		m++;
		/* transformers = *DIGIT [ "r" ]; a DIGIT, when given, is nonzero (§7.3) */
		const char *d = m;
		unsigned long digits = 0;
		while (m < end && isdigit((unsigned char)*m)) {
			if (digits < 100000)
				digits = digits * 10 + (unsigned long)(*m - '0');
			m++;
		}
		if (m > d && digits == 0) {
			ERR(c, "bad macro in '%s': digit transformer 0 in '%.*s'", T, mlen, s + i);
			return false;
		}
		if (m < end && (*m == 'r' || *m == 'R'))
			m++;
		/* delimiter = "." / "-" / "+" / "," / "/" / "_" / "=" */
		while (m < end && strchr(".-+,/_=", *m) != NULL)
			m++;
		if (m != end) {
			ERR(c, "bad macro in '%s': bad transformer or delimiter '%c' in '%.*s'", T, *m, mlen,
			    s + i);
			return false;
		}
		i = (size_t)(end - s) + 1;
		*tail = i;
	}
	return true;
}

static bool alnum(char ch)
{
	return isalnum((unsigned char)ch) != 0;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel(const char *s, size_t len)
{
	if (len == 0 || !alnum(s[0]) || !alnum(s[len - 1]))
		return false;
	bool alpha = false, hyphen = false;
	for (size_t i = 0; i < len; i++) {
		if (isalpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			hyphen = true;
		else if (!isdigit((unsigned char)s[i]))
			return false;
	}
	return alpha || hyphen;
}

/*
 * domain-spec = macro-string domain-end (RFC 7208 §7.1, §12); a literal name
 * (no macro) must also be a valid DNS name: labels 1..63, total <= 253.
 */
static bool check_domain_spec(ctx_t *c, const char *T, const char *s, size_t len, bool allow_crt,
			      bool *has_macro)
{
	if (len == 0) {
		ERR(c, "empty domain in '%s'", T);
		return false;
	}
	size_t tail;
	if (!check_macro_string(c, T, s, len, allow_crt, has_macro, &tail))
		return false;
	if (tail < len) {
		/* domain-end = ( "." toplabel [ "." ] ) / macro-expand */
		size_t tl = len;
		if (s[tl - 1] == '.')
			tl--;
		const char *dot = NULL;
		for (size_t i = tl; i > tail; i--)
			if (s[i - 1] == '.') {
				dot = s + i - 1;
				break;
			}
		if (dot == NULL || tl == 0) {
			ERR(c, "invalid domain '%.*s' in '%s' (no top-level label)", (int)len, s, T);
			return false;
		}
		if (!toplabel(dot + 1, (size_t)(s + tl - dot - 1))) {
			ERR(c, "invalid domain '%.*s' in '%s' (bad top-level label '%.*s')", (int)len, s, T,
			    (int)(s + tl - dot - 1), dot + 1);
			return false;
		}
	}
	if (*has_macro)
		return true;
	size_t nl = s[len - 1] == '.' ? len - 1 : len;
	if (nl > 253) {
		ERR(c, "domain '%.*s...' in '%.20s...' is longer than 253 bytes", 20, s, T);
		return false;
	}
	size_t lab = 0;
	for (size_t i = 0; i <= nl; i++) {
		char ch = i < nl ? s[i] : '.';
		if (ch == '.') {
			if (lab == 0) {
				ERR(c, "invalid domain '%.*s' in '%s' (empty label)", (int)len, s, T);
				return false;
			}
			if (lab > 63) {
				ERR(c, "invalid domain '%.*s' in '%s' (label longer than 63 bytes)", (int)len, s, T);
				return false;
			}
			lab = 0;
		} else if (alnum(ch) || ch == '-' || ch == '_') {
			lab++;
		} else {
			ERR(c, "invalid domain '%.*s' in '%s' (character '%c')", (int)len, s, T, ch);
			return false;
		}
	}
	return true;
}

/* A prefix length: "0" / %x31-39 0*2DIGIT, at most max.  -1 when bad. */
static int prefix_len(const char *s, size_t len, int max)
{
	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Length of the run of digits ending at s[len - 1]. */
static size_t digits_back(const char *s, size_t len)
{
	size_t n = 0;
	while (n < len && isdigit((unsigned char)s[len - 1 - n]))
		n++;
	return n;
}

static const struct {
	const char *name;
	spf_kind_t kind;
} mechs[] = {
	{ "all", SPF_ALL }, { "include", SPF_INCLUDE }, { "a", SPF_A }, { "mx", SPF_MX },
	{ "ptr", SPF_PTR }, { "ip4", SPF_IP4 }, { "ip6", SPF_IP6 }, { "exists", SPF_EXISTS },
};

/* ip4:/ip6: network [ cidr ] (RFC 7208 §5.6).  r points after "ip4:". */
static bool parse_ip(ctx_t *c, const char *T, const char *r, size_t rl, spf_term_t *t)
{
	int fam = t->kind == SPF_IP4 ? 4 : 6;
	int max = fam == 4 ? 32 : 128;
	const char *slash = memchr(r, '/', rl);
	size_t al = slash != NULL ? (size_t)(slash - r) : rl;
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	if (al == 0 || al >= sizeof(addr)) {
		ERR(c, "bad IPv%d address '%.*s' in '%s'", fam, (int)al, r, T);
		return false;
	}
	memcpy(addr, r, al);
	addr[al] = '\0';
	if (inet_pton(fam == 4 ? AF_INET : AF_INET6, addr, bin) != 1) {
		ERR(c, "bad IPv%d address '%s' in '%s'", fam, addr, T);
		return false;
	}
	int prefix = max;
	if (slash != NULL) {
		prefix = prefix_len(slash + 1, rl - al - 1, max);
		if (prefix < 0) {
			ERR(c, "bad IPv%d prefix length '%.*s' in '%s' (0 to %d)", fam, (int)(rl - al), slash,
			    T, max);
			return false;
		}
		t->cidr4 = fam == 4 ? prefix : -1;
		t->cidr6 = fam == 6 ? prefix : -1;
	}
	/* the address is read already: masked here, not printed and parsed again */
	mn_net_t net = { .family = (uint8_t)fam, .prefix = (uint8_t)prefix };
	bool host = false;
	for (int i = 0; i < max / 8; i++) {
		int keep = prefix - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
		if (bin[i] & ~mask)
			host = true;
		net.addr[i] = bin[i] & mask;
	}
	t->net = net;
	if (host) {
		char canon[INET6_ADDRSTRLEN + 8];
		mn_net_format(&t->net, canon, sizeof(canon));
		WARN(c, "'%s' has host bits set (means %s)", T, canon);
	}
	return true;
}

/* A term's part, copied when the record is kept (ctx keep); else NULL. */
static char *part(const ctx_t *c, const char *s, size_t n)
{
	return c->keep ? strndup(s, n) : NULL;
}

/* a/mx: [ ":" domain-spec ] [ dual-cidr-length ] (RFC 7208 §5.3, §5.4, §5.6). */
static bool parse_dual(ctx_t *c, const char *T, const char *r, size_t rl, spf_term_t *t)
{
	size_t n = digits_back(r, rl);
	if (n > 0 && rl >= n + 2 && r[rl - n - 1] == '/' && r[rl - n - 2] == '/') {
		t->cidr6 = prefix_len(r + rl - n, n, 128);
		if (t->cidr6 < 0) {
			ERR(c, "bad IPv6 prefix length '%.*s' in '%s' (0 to 128)", (int)n + 2, r + rl - n - 2, T);
			return false;
		}
		rl -= n + 2;
		n = digits_back(r, rl);
	}
	if (n > 0 && rl >= n + 1 && r[rl - n - 1] == '/') {
		t->cidr4 = prefix_len(r + rl - n, n, 32);
		if (t->cidr4 < 0) {
			ERR(c, "bad IPv4 prefix length '%.*s' in '%s' (0 to 32)", (int)n + 1, r + rl - n - 1, T);
			return false;
		}
		rl -= n + 1;
	}
	if (rl == 0)
		return true;
	if (r[0] != ':') {
		ERR(c, "bad CIDR length in '%s'", T);
		return false;
	}
	if (!check_domain_spec(c, T, r + 1, rl - 1, false, &t->has_macro))
		return false;
	t->domain = part(c, r + 1, rl - 1);
	return true;
}

/* One directive (RFC 7208 §4.6.1, §5).  Fills t; false after an error. */
static bool parse_directive(ctx_t *c, const char *T, size_t len, spf_term_t *t)
{
	const char *s = T;
	t->qual = '+';
	if (len > 0 && strchr("+-~?", s[0]) != NULL) {
		t->qual = s[0];
		s++;
		len--;
	}
	size_t k = 0;
	while (k < len && alnum(s[k]))
		k++;
	bool found = false;
	if (k == len || s[k] == ':' || s[k] == '/') {
		for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
			if (strlen(mechs[i].name) == k && strncasecmp(mechs[i].name, s, k) == 0) {
				t->kind = mechs[i].kind;
				found = true;
				break;	/* the names differ: one match at most */
			}
	}
	if (!found) {
		ERR(c, "unknown mechanism '%s'", T);
		return false;
	}
	const char *r = s + k;
	size_t rl = len - k;
	const char *name = spf_kind_name(t->kind);
	switch (t->kind) {
	case SPF_ALL:
		if (rl != 0) {
			ERR(c, "'all' takes no argument in '%s'", T);
			return false;
		}
		return true;
	case SPF_INCLUDE:
	case SPF_EXISTS:
	case SPF_PTR:
		if (rl == 0 && t->kind == SPF_PTR)
			return true;
		if (rl == 0 || r[0] != ':') {
			ERR(c, "'%s' needs ':domain' in '%s'", name, T);
			return false;
		}
		if (!check_domain_spec(c, T, r + 1, rl - 1, false, &t->has_macro))
			return false;
		t->domain = part(c, r + 1, rl - 1);
		return true;
	case SPF_A:
	case SPF_MX:
		return parse_dual(c, T, r, rl, t);
	case SPF_IP4:
	case SPF_IP6:
		if (rl == 0 || r[0] != ':') {
			ERR(c, "'%s' needs ':network' in '%s'", name, T);
			return false;
		}
		return parse_ip(c, T, r + 1, rl - 1, t);
	default:
		assert(0);
		return false;
	}
}

/* One modifier name=value (RFC 7208 §6).  eq is the offset of '='. */
static bool parse_modifier(ctx_t *c, const char *T, size_t len, size_t eq, spf_term_t *t)
{
	const char *v = T + eq + 1;
	size_t vl = len - eq - 1;
	t->qual = 0;
	if (eq == 8 && strncasecmp(T, "redirect", 8) == 0)
		t->kind = SPF_REDIRECT;
	else if (eq == 3 && strncasecmp(T, "exp", 3) == 0)
		t->kind = SPF_EXP;
	else
		t->kind = SPF_MODIFIER;
	if (t->kind == SPF_MODIFIER) {
		size_t tail;
		if (!check_macro_string(c, T, v, vl, true, &t->has_macro, &tail))
			return false;
		t->name = part(c, T, eq);
		t->domain = part(c, v, vl);
		return !c->keep || (t->name != NULL && t->domain != NULL);
	}
	/* exp= may use c, r and t (RFC 7208 §7.2, as this project reads it) */
	if (!check_domain_spec(c, T, v, vl, t->kind == SPF_EXP, &t->has_macro))
		return false;
	t->domain = part(c, v, vl);
	return true;
}

static bool is_mechanism(spf_kind_t k)
{
	return k <= SPF_EXISTS;
}

/* The rules of RFC 7208 beyond grammar, for one well-formed term in order. */
static void check_term(ctx_t *c, const spf_term_t *t)
{
	spf_info_t *in = &c->info;
	if (in->has_all && is_mechanism(t->kind))
		WARN(c, "'%s' after 'all' is never evaluated", t->text);
	switch (t->kind) {
	case SPF_ALL:
		if (in->has_all)
			break;
		in->has_all = true;
		in->all_qual = t->qual;
		if (t->qual == '+')
			ERR(c, "'%s' passes every host on the internet (use -all or ~all)", t->text);
		else if (t->qual == '?')
			WARN(c, "'%s' (neutral) protects nothing (use -all or ~all)", t->text);
		break;
	case SPF_IP4:
	case SPF_IP6:
		if (t->net.prefix == 0)
			ERR(c, "'%s' passes every IPv%d address (like +all)", t->text, t->net.family);
		break;
	case SPF_PTR:
		in->has_ptr = true;
		WARN(c, "'%s': ptr should not be used (RFC 7208 §5.5)", t->text);
		break;
	case SPF_REDIRECT:
		in->has_redirect = true;
		if (++c->nredirect == 2)
			ERR(c, "redirect= appears more than once (RFC 7208 §6)");
		break;
	case SPF_EXP:
		in->has_exp = true;
		if (++c->nexp == 2)
			ERR(c, "exp= appears more than once (RFC 7208 §6)");
		break;
	case SPF_MODIFIER:
		WARN(c, "unknown modifier '%s' is ignored (RFC 7208 §6)", t->text);
		break;
	default:
		break;
	}
	switch (t->kind) {
	case SPF_INCLUDE:
	case SPF_A:
	case SPF_MX:
	case SPF_PTR:
	case SPF_EXISTS:
	case SPF_REDIRECT:
		in->lookups++;
		break;
	default:
		break;
	}
	if (t->has_macro)
		in->has_macro = true;
	in->terms++;
}

static void term_clear(spf_term_t *t)
{
	free(t->text);
	free(t->name);
	free(t->domain);
}

void spf_record_free(spf_record_t *rec)
{
	if (rec == NULL)
		return;
	for (size_t i = 0; i < rec->n; i++)
		term_clear(&rec->terms[i]);
	free(rec->terms);
	free(rec);
}

/*
 * The whole record: version, then terms separated by 1*SP (RFC 7208 §4.5,
 * §12).  Returns MN_ESYNTAX without 'v=spf1', MN_ENOMEM, or MN_OK (grammar
 * errors counted in c->errors).
 */
static int parse(ctx_t *c, const char *text)
{
	/* version = "v=spf1", ended by SP or the end of the record (§4.5) */
	if (strncasecmp(text, "v=spf1", 6) != 0 || (text[6] != ' ' && text[6] != '\0')) {
		ERR(c, "record must start with 'v=spf1'");
		return MN_ESYNTAX;
	}
	const char *p = text + 6;
	size_t cap = c->rec->n;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " ");
		char *T = c->keep ? strndup(p, len) : NULL;
		if (!c->keep && len >= c->bufcap) {
			free(c->buf);
			c->bufcap = len + 64;
			if ((c->buf = malloc(c->bufcap)) == NULL) {
				c->bufcap = 0;
				return MN_ENOMEM;
			}
		}
		if (!c->keep) {
			memcpy(c->buf, p, len);
			c->buf[len] = '\0';
			T = c->buf;
		}
		if (T == NULL)
			return MN_ENOMEM;
		p += len;
		spf_term_t t = { .text = T, .cidr4 = -1, .cidr6 = -1 };
		size_t eq = 0;
		if (isalpha((unsigned char)T[0])) {
			eq = 1;
			while (eq < len && (alnum(T[eq]) || strchr("-_.", T[eq]) != NULL))
				eq++;
			if (eq == len || T[eq] != '=')
				eq = 0;
		}
		bool good = eq > 0 ? parse_modifier(c, T, len, eq, &t) : parse_directive(c, T, len, &t);
		if (!c->keep) {
			t.text = NULL;	/* (c->buf) */
			if (good && t.kind == SPF_REDIRECT && c->redirect == NULL && (c->redirect = strdup(T)) == NULL)
				return MN_ENOMEM;
		}
		if (!good) {
			c->grammar++;
			term_clear(&t);
			continue;
		}
		if (!c->keep) {
			t.text = T;
			check_term(c, &t);
			continue;
		}
		spf_term_t *nt = c->rec->terms;
		if (c->rec->n == cap) {
			cap = cap ? cap * 2 : 16;
			nt = realloc(c->rec->terms, cap * sizeof(*nt));
			if (nt == NULL) {
				term_clear(&t);
				return MN_ENOMEM;
			}
			c->rec->terms = nt;
		}
		nt[c->rec->n++] = t;
		check_term(c, &nt[c->rec->n - 1]);
	}
	return MN_OK;
}

int spf_record_parse(const char *text, spf_record_t **out)
{
	if (text == NULL || out == NULL)
		return MN_EINVAL;
	ctx_t c = { .keep = true };
	c.rec = calloc(1, sizeof(*c.rec));
	if (c.rec == NULL)
		return MN_ENOMEM;
	int rc = parse(&c, text);
	/* only grammar errors make the parse fail, not the publishing rules */
	if (rc == MN_OK && c.grammar > 0)
		rc = MN_ESYNTAX;
	if (rc != MN_OK)
		goto fail;
	*out = c.rec;
	return MN_OK;
fail:
	spf_record_free(c.rec);
	return rc;
}

static void report_record(ctx_t *c)
{
	const spf_info_t *in = &c->info;
	if (in->has_redirect && in->has_all) {
		const char *r = c->redirect != NULL ? c->redirect : "redirect=";
		WARN(c, "'%s' is ignored because the record has 'all' (RFC 7208 §6.1)", r);
	}
	if (in->lookups > MAX_LOOKUPS)
		ERR(c, "%u DNS lookup terms (include a mx ptr exists redirect), more than %d (RFC 7208 §4.6.4)",
		    in->lookups, MAX_LOOKUPS);
}

int spf_record_check(const char *text, const mn_pos_t *pos, diag_t *diag, spf_info_t *info)
{
	if (text == NULL || diag == NULL)
		return MN_EINVAL;
	ctx_t c = { .diag = diag, .pos = pos };
	c.rec = calloc(1, sizeof(*c.rec));
	if (c.rec == NULL)
		return MN_ENOMEM;
	int rc = parse(&c, text);
	if (rc == MN_OK) {
		report_record(&c);
		if (info != NULL)
			*info = c.info;
	}
	spf_record_free(c.rec);
	free(c.buf);
	free(c.redirect);
	return rc;
}
