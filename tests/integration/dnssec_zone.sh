#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_zone.sh -- `mailns zone` with dnssec on: every zone it prints (an SPF macro
# zone with its wildcard, DMARC, DKIM, MTA-STS, TLS-RPT; CSK and KSK+ZSK; P-256 and
# Ed25519) passes ldns-verify-zone, kzonecheck --dnssec on and BIND's dnssec-verify;
# a domain with dnssec off stays unsigned; the keys are made once, in state_dir, by
# the persisting compile only; a corrupted signature is rejected.
. "${top_srcdir:?}/tests/tap/tap.sh"
for t in ldns-verify-zone kzonecheck dnssec-verify; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
mn_tmpdir
POL="$TMP/policy.yaml"
cat >"$POL" <<EOF
version: 1
server:
  nameservers: [ns1.example.net, ns2.example.net]
  hostmaster: hostmaster.example.net
  state_dir: $TMP/state
  dnssec: true
domains:
  example.com:
    spf: { mode: macro, ip4: [192.0.2.0/24], ip6: ["2001:db8::/32"] }
    dmarc: { p: reject, rua: ["mailto:dmarc@example.com"] }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    mta_sts: { mode: testing, mx: [mx.example.com] }
    tls_rpt: { rua: ["mailto:tls@example.com"] }
  example.org:
    dnssec: { algorithm: ed25519, keys: ksk+zsk }
    spf: { ip4: [198.51.100.0/24] }
    dmarc: { p: none }
  example.net:
    dnssec: false
    dmarc: { p: none }
EOF

# mailns check compiles but writes no key
"$MAILNS" check -c "$POL" >/dev/null 2>&1; ok $? "mailns check accepts the policy"
[ ! -e "$TMP/state/dnssec" ]; ok $? "mailns check made no DNSSEC key"
# mailns delegation reads keys, never makes them: before any, it says so
out=$("$MAILNS" delegation -c "$POL" 2>&1); ok $? "mailns delegation before any key"
is "$(echo "$out" | grep -c '^; _[a-z_.-]*\.example\.\(com\|org\) is signed but has no DNSSEC keys yet: run mailns zone or start mailnsd first$')" 8 \
	"a comment for each of the eight signed zones: no keys yet"
is "$(echo "$out" | grep -cE 'IN[[:space:]]+DS')" 0 "no DS without keys"
[ ! -e "$TMP/state/dnssec" ]; ok $? "mailns delegation made no DNSSEC key"

"$MAILNS" zone -c "$POL" --dir "$TMP/zones"; ok $? "mailns zone --dir with dnssec on"
# the DS records mailns delegation prints: those ldns-key2ds and dnssec-dsfromkey compute
# from the DNSKEY records mailns zone printed (one per SEP key, none for a ZSK or example.net)
out=$("$MAILNS" delegation -c "$POL" 2>&1); ok $? "mailns delegation with keys"
is "$(echo "$out" | grep -cE 'IN[[:space:]]+DS')" 8 "a DS for each signed zone's SEP key"
echo "$out" | grep -q 'no DNSSEC keys yet'; is "$?" 1 "no 'no keys' comment any more"
# owner, key tag, algorithm, digest type, digest: whatever the TTL, class and case
ds_norm() {
	awk '{ for (k = 2; k < NF && $k != "DS"; k++); if ($k != "DS") next
		d = ""; for (i = k + 4; i <= NF; i++) d = d $i
		print tolower($1), $(k + 1), $(k + 2), $(k + 3), tolower(d) }' | sort
}
mine=$(echo "$out" | ds_norm)
ldns="" bind=""
for f in "$TMP/zones"/*.zone; do
	z=$(basename "$f" .zone)
	case "$z" in *.example.net) continue ;; esac
	awk -v z="$z." '$1 == z && $4 == "DNSKEY" && $5 == 257' "$f" >"$TMP/$z.ksk"
	ldns=$(printf '%s\n%s' "$ldns" "$(cd "$TMP" && ldns-key2ds -n -2 "$z.ksk")")
	bind=$(printf '%s\n%s' "$bind" "$(dnssec-dsfromkey -2 -f "$TMP/$z.ksk" "$z")")
done
is "$mine" "$(echo "$ldns" | ds_norm)" "the DS records are those ldns-key2ds computes"
is "$mine" "$(echo "$bind" | ds_norm)" "and those dnssec-dsfromkey computes"
echo "$out" | grep -q '^_domainkey.example.net.*DS'; is "$?" 1 "no DS for example.net (dnssec: false)"
"$MAILNS" delegation -c "$POL" example.org | grep -cE 'IN[[:space:]]+DS' | grep -qx 3
ok $? "mailns delegation example.org: its three DS records"

signed=0
for f in "$TMP/zones"/*.zone; do
	z=$(basename "$f" .zone)
	case "$z" in
	*.example.net)
		grep -qE 'IN[[:space:]]+(RRSIG|NSEC|DNSKEY)' "$f"; is "$?" 1 "$z (dnssec: false) is not signed"
		continue ;;
	esac
	signed=$((signed + 1))
	out=$(ldns-verify-zone "$f" 2>&1); ok $? "ldns-verify-zone $z"; echo "$out" | grep -q 'verified and complete' || diag "$out"
	out=$(kzonecheck --dnssec on -o "$z" "$f" 2>&1); ok $? "kzonecheck --dnssec on $z"; [ -z "$out" ] || diag "$out"
	# a CSK carries the SEP flag only: BIND's verifier then wants -z (ignore the KSK flag)
	case "$z" in *.example.org) z_flag="" ;; *) z_flag="-z" ;; esac
	out=$(dnssec-verify -q $z_flag -o "$z" "$f" 2>&1); ok $? "dnssec-verify $z_flag -o $z"; [ -z "$out" ] || diag "$out"
	is "$(grep -cE 'IN[[:space:]]+DNSKEY' "$f")" "$(case "$z" in *.example.org) echo 2 ;; *) echo 1 ;; esac)" \
		"$z: its DNSKEY RRset"
	grep -qE "^$z\.[[:space:]].*IN[[:space:]]+CDS[[:space:]]+[0-9]+ (13|15) 2 " "$f"; ok $? "$z: a CDS (SHA-256) at the apex"
	grep -qE "^$z\.[[:space:]].*IN[[:space:]]+CDNSKEY[[:space:]]+257 3 (13|15) " "$f"; ok $? "$z: a CDNSKEY for the SEP key"
done
is "$signed" 8 "eight signed zones: five of example.com, three of example.org"
is "$(ls "$TMP/state/dnssec" | wc -l)" 8 "one key directory per signed zone"
grep -qE 'IN[[:space:]]+DNSKEY[[:space:]]+257 3 15 ' "$TMP/zones/_dmarc.example.org.zone"; ok $? "example.org: ed25519 KSK"
grep -qE 'IN[[:space:]]+DNSKEY[[:space:]]+256 3 15 ' "$TMP/zones/_dmarc.example.org.zone"; ok $? "example.org: ed25519 ZSK"

# the SPF macro zone: a wildcard, signed with the labels of its parent
f="$TMP/zones/_spf.example.com.zone"
w=$(grep -E '^\*\.' "$f" | grep -E 'IN[[:space:]]+RRSIG' | head -1)
[ -n "$w" ]; ok $? "the SPF macro zone has a signed wildcard"
owner=$(echo "$w" | awk '{print $1}')
labels=$(echo "$w" | awk '{print $7}')
is "$labels" "$(($(echo "$owner" | tr -cd . | wc -c) - 1))" "its RRSIG counts the labels without the *"

# the keys are made once: a second run signs with the same ones
a=$(grep -hE 'IN[[:space:]]+DNSKEY' "$TMP/zones"/*.zone | sort)
"$MAILNS" zone -c "$POL" --dir "$TMP/zones2"; ok $? "mailns zone again"
b=$(grep -hE 'IN[[:space:]]+DNSKEY' "$TMP/zones2"/*.zone | sort)
is "$b" "$a" "the same DNSKEY records"
is "$(find "$TMP/state/dnssec" -name '*.key' | wc -l)" 11 "eleven keys, no more: five CSKs, three KSK+ZSK pairs"
is "$(stat -c %a "$(find "$TMP/state/dnssec" -name '*.pem' | head -1)")" 640 "private keys are 0640"

# the signatures are stored with the keys and reused: an unchanged zone is the same, byte for byte
is "$(find "$TMP/state/dnssec" -name sigs | wc -l)" 8 "each signed zone's signatures stored"
diff -r "$TMP/zones" "$TMP/zones2" >/dev/null; ok $? "the second run prints the same zones, signatures included"
now=$(date -u +%s)
MAILNS_NOW="@$((now + 86400))" "$MAILNS" zone -c "$POL" --dir "$TMP/zones3"; ok $? "mailns zone a day later"
diff -r "$TMP/zones" "$TMP/zones3" >/dev/null; ok $? "a day later: the same signatures (more than 7d of 14d remain)"
MAILNS_NOW="@$((now + 8 * 86400))" "$MAILNS" zone -c "$POL" --dir "$TMP/zones4"; ok $? "mailns zone eight days later"
is "$(diff "$TMP/zones/_dmarc.example.com.zone" "$TMP/zones4/_dmarc.example.com.zone" | grep -c '^>.*RRSIG')" \
	"$(grep -c 'IN[[:space:]]*RRSIG' "$TMP/zones/_dmarc.example.com.zone")" \
	"eight days later: every signature of _dmarc.example.com made anew (less than 7d remained)"
for z in _dmarc.example.com _spf.example.org; do
	MAILNS_NOW="@$((now + 8 * 86400))" ldns-verify-zone -t "$(date -u -d "@$((now + 8 * 86400))" +%Y%m%d%H%M%S)" \
		"$TMP/zones4/$z.zone" >/dev/null 2>&1
	ok $? "ldns-verify-zone at that time: $z"
done

# keys that differ from the policy keep signing, with a warning at the domain
sed 's/dnssec: { algorithm: ed25519, keys: ksk+zsk }/dnssec: { algorithm: ecdsap256sha256 }/' "$POL" >"$TMP/changed.yaml"
out=$("$MAILNS" check -c "$TMP/changed.yaml" 2>&1); ok $? "mailns check: the algorithm changed after the keys were made"
is "$(echo "$out" | grep -c "changed.yaml:16:3: warning: the DNSSEC keys of _[a-z]*.example.org are not those dnssec asks for")" 3 \
	"a warning for each of the three zones, at the domain"
"$MAILNS" zone -c "$TMP/changed.yaml" _dmarc.example.org | grep -qE 'DNSKEY[[:space:]]+256 3 15 '
ok $? "they still sign with the ed25519 keys (a rollover changes them)"
# a damaged private key is an error naming the zone, not a new key
cp -a "$TMP/state" "$TMP/state.damaged"
for k in "$TMP/state.damaged/dnssec/_spf.example.com"/*.pem; do echo broken >"$k"; done
sed "s|state_dir: $TMP/state|state_dir: $TMP/state.damaged|" "$POL" >"$TMP/damaged.yaml"
out=$("$MAILNS" zone -c "$TMP/damaged.yaml" 2>&1 >/dev/null); is "$?" 1 "mailns zone fails with a damaged key"
echo "$out" | grep -q "damaged.yaml:8:3: error: cannot read or make the DNSSEC keys of _spf.example.com in $TMP/state.damaged/dnssec/_spf.example.com"
ok $? "the error names the domain's position and the key directory"

# negative: one bit of one TXT signature changed is rejected
awk -F'\t' 'BEGIN { OFS = "\t" }
!done && $4 == "RRSIG" && $5 ~ /^TXT / {
	n = split($5, a, " "); s = a[n]; c = substr(s, 10, 1)
	a[n] = substr(s, 1, 9) (c == "A" ? "B" : "A") substr(s, 11)
	$5 = a[1]; for (i = 2; i <= n; i++) $5 = $5 " " a[i]; done = 1
}
{ print }' "$f" >"$TMP/bad.zone"
cmp -s "$f" "$TMP/bad.zone"; is "$?" 1 "one signature corrupted"
ldns-verify-zone "$TMP/bad.zone" >/dev/null 2>&1; isnt=$?
[ "$isnt" -ne 0 ]; ok $? "ldns-verify-zone rejects the corrupted signature"
kzonecheck --dnssec on -o _spf.example.com "$TMP/bad.zone" >/dev/null 2>&1; [ $? -ne 0 ]
ok $? "kzonecheck rejects it too"
# and a zone without its NSEC chain
grep -vE 'IN[[:space:]]+NSEC[[:space:]]' "$f" >"$TMP/nonsec.zone"
ldns-verify-zone "$TMP/nonsec.zone" >/dev/null 2>&1; [ $? -ne 0 ]; ok $? "ldns-verify-zone rejects a zone without its NSEC records"

done_testing
