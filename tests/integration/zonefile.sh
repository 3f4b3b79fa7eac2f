#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# zonefile.sh -- `mailns zone` output of the example policy is accepted by
# kzonecheck, named-checkzone and nsd-checkzone, zone by zone; `mailns
# delegation` prints the parent records; usage errors exit 2.
. "${top_srcdir:?}/tests/tap/tap.sh"
mn_tmpdir
cp -r "$top_srcdir/examples/." "$TMP/"
sed -i "s|^  state_dir: .*|  state_dir: $TMP/state|" "$TMP/policy.yaml"
POL="$TMP/policy.yaml"

"$MAILNS" zone -c "$POL" --dir "$TMP/zones"; ok $? "mailns zone --dir writes the zone files"
n=$(ls "$TMP/zones"/*.zone 2>/dev/null | wc -l)
is "$n" 15 "one file per zone: 3 zones x 4 domains, and example.com's _mta-sts, _smtp._tls and _bimi"
for f in "$TMP/zones"/*.zone; do
	z=$(basename "$f" .zone)
	out=$(kzonecheck -o "$z" "$f" 2>&1); ok $? "kzonecheck $z"; [ -z "$out" ] || diag "$out"
	out=$(named-checkzone -q "$z" "$f" 2>&1); ok $? "named-checkzone $z"; [ -z "$out" ] || diag "$out"
	out=$(nsd-checkzone "$z" "$f" 2>&1); ok $? "nsd-checkzone $z"; echo "$out" | grep -qi error && diag "$out"
done

# the same text on stdout, and for one zone
all=$("$MAILNS" zone -c "$POL"); ok $? "mailns zone prints every zone"
is "$(echo "$all" | grep -c 'IN[[:space:]]*SOA')" 15 "15 SOA records on stdout"
one=$("$MAILNS" zone -c "$POL" _dmarc.example.com); ok $? "mailns zone _dmarc.example.com"
is "$(echo "$one" | grep -c 'IN[[:space:]]*SOA')" 1 "only that zone"
echo "$one" | grep -q 'v=DMARC1; p=reject; sp=reject; np=reject'; ok $? "with its DMARC record"
"$MAILNS" zone -c "$POL" _dmarc.nowhere.example >/dev/null 2>&1; is "$?" 1 "an unknown zone is an error"

# serials are stable for unchanged zones across runs
a=$("$MAILNS" zone -c "$POL" | grep 'SOA' | sort)
b=$("$MAILNS" zone -c "$POL" | grep 'SOA' | sort)
is "$b" "$a" "a second run prints the same serials"

d=$("$MAILNS" delegation -c "$POL" example.com); ok $? "mailns delegation example.com"
echo "$d" | grep -qE '^_domainkey\.example\.com\.[[:space:]].*NS[[:space:]]+ns1\.example\.net\.'; ok $? "NS records for _domainkey.example.com"
echo "$d" | grep -qE '^_spf\.example\.com\.[[:space:]].*NS[[:space:]]+ns2\.example\.net\.'; ok $? "NS records for _spf.example.com"
echo "$d" | grep -qE '^example\.com\.[[:space:]].*TXT[[:space:]]+"v=spf1 include:_spf\.example\.com -all"'; ok $? "apex SPF record"

# MTA-STS, TLS-RPT and BIMI zones (tests/data/good/08): loadable, and in the delegation
sed "s|^  state_dir: .*|  state_dir: $TMP/state8|" "$top_srcdir/tests/data/good/08-mta-sts-tlsrpt-bimi.yaml" >"$TMP/p8.yaml"
"$MAILNS" zone -c "$TMP/p8.yaml" --dir "$TMP/zones8"; ok $? "mailns zone --dir: the MTA-STS, TLS-RPT and BIMI policy"
for z in _mta-sts.example.com _smtp._tls.example.com _bimi.example.com _mta-sts.example.org _smtp._tls.example.org \
	_bimi.example.org; do
	f="$TMP/zones8/$z.zone"
	out=$(kzonecheck -o "$z" "$f" 2>&1); ok $? "kzonecheck $z"; [ -z "$out" ] || diag "$out"
	out=$(named-checkzone -q "$z" "$f" 2>&1); ok $? "named-checkzone $z"; [ -z "$out" ] || diag "$out"
	out=$(nsd-checkzone "$z" "$f" 2>&1); ok $? "nsd-checkzone $z"; echo "$out" | grep -qi error && diag "$out"
done
grep -qE '^_mta-sts\.example\.com\.[[:space:]].*TXT[[:space:]]+"v=STSv1; id=[0-9a-zA-Z]{1,32}"$' "$TMP/zones8/_mta-sts.example.com.zone"
ok $? "_mta-sts.example.com TXT v=STSv1 with an id of 1-32 letters and digits"
grep -qE '^default\._bimi\.example\.org\.[[:space:]].*TXT[[:space:]]+"v=BIMI1; l=https://example.org/logo.svg"$' \
	"$TMP/zones8/_bimi.example.org.zone"; ok $? "default._bimi.example.org TXT without a="
d=$("$MAILNS" delegation -c "$TMP/p8.yaml" example.com); ok $? "mailns delegation: the MTA-STS policy"
for z in _mta-sts _smtp._tls _bimi; do
	echo "$d" | grep -qE "^$z\.example\.com\.[[:space:]].*NS[[:space:]]+ns1\.example\.net\."; ok $? "NS records for $z.example.com"
done
echo "$d" | grep -q 'mta-sts\.example\.com .*certificate'; ok $? "the web host mta-sts.example.com to create"
d=$("$MAILNS" delegation -c "$POL" example.org)
echo "$d" | grep -qE '_mta-sts|_smtp|_bimi|mta-sts\.'; is "$?" 1 "a domain without the keys: none of them"

"$MAILNS" >/dev/null 2>&1; is "$?" 2 "mailns without a command exits 2"
"$MAILNS" frobnicate >/dev/null 2>&1; is "$?" 2 "unknown command exits 2"
"$MAILNS" zone --bogus >/dev/null 2>&1; is "$?" 2 "unknown option exits 2"
"$MAILNS" --version | grep -q '^mailns '; ok $? "mailns --version"
"$MAILNS" check --help | grep -q 'usage: mailns check'; ok $? "mailns check --help"
"$MAILNS" check -c "$TMP/nonexistent.yaml" >/dev/null 2>&1; is "$?" 1 "check of a missing file exits 1"

done_testing
