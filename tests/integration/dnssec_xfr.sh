#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_xfr.sh -- signed zones to real secondaries: NSD and Knot on loopback
# transfer every signed zone of mailnsd (AXFR), serve its RRSIGs (kdig +dnssec
# shows the RRSIG of a TXT answer), hold exactly what mailnsd serves, and what
# each hands out by AXFR passes ldns-verify-zone; a policy change reaches both by
# NOTIFY + IXFR, re-signed, and still verifies.  Every daemon stopped by PID.
. "${top_srcdir:?}/tests/tap/tap.sh"
for t in nsd knotd ldns-verify-zone; do
	command -v "$t" >/dev/null || skip_all "$t is not installed"
done
mn_tmpdir

NSD_PORT=$(mn_free_port)
KNOT_PORT=$(mn_free_port "$NSD_PORT")
cat >"$TMP/dnssec_xfr.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  dnssec: true
  transfer:
    allow: [127.0.0.1/32]
    notify: ["127.0.0.1:$NSD_PORT", "127.0.0.1:$KNOT_PORT"]
domains:
  example.com:
    spf: { mode: macro, ip4: [192.0.2.0/24], ip6: ["2001:db8::/32"], all: fail }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: reject, rua: ["mailto:d@example.com"] }
  example.org:
    dnssec: { algorithm: ed25519, keys: ksk+zsk }
    spf: { ip4: [198.51.100.0/24] }
    dmarc:
      p: none
EOF
mn_start "$TMP/dnssec_xfr.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves the signed zones on port $MN_PORT"
POLICY=$TMP/policy.yaml
ZONES=$("$MAILNS" zone -c "$POLICY" | awk '$4 == "SOA" { sub(/\.$/, "", $1); print $1 }' | sort -u)
is "$(echo "$ZONES" | wc -l)" 6 "six zones to transfer"

# axfr PORT ZONE: the zone as a master file (the closing SOA dropped)
axfr() { kdig @127.0.0.1 -p "$1" +time=3 +retry=0 +noall +answer AXFR "$2" 2>/dev/null | awk '!seen[$0]++'; }
axfr "$MN_PORT" _dmarc.example.com | grep -qE 'IN[[:space:]]+RRSIG[[:space:]]+TXT '
ok $? "mailnsd's AXFR carries the RRSIGs"

mkdir -p "$TMP/nsd" "$TMP/knot"
{
	mn_nsd_server "$TMP/nsd" "$NSD_PORT" 2
	printf '  rrl-ratelimit: 0\n'
	for z in $ZONES; do
		printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"
		printf '  request-xfr: 127.0.0.1@%s NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n' "$MN_PORT"
		printf '  provide-xfr: 127.0.0.1 NOKEY\n'
	done
} >"$TMP/nsd.conf"
{
	mn_knot_server "$TMP/knot" "$KNOT_PORT"
	printf 'remote:\n  - id: primary\n    address: 127.0.0.1@%s\n' "$MN_PORT"
	printf 'acl:\n  - id: from_primary\n    address: 127.0.0.1\n    action: notify\n'
	printf '  - id: local_xfr\n    address: 127.0.0.1\n    action: transfer\n'
	printf 'template:\n  - id: default\n    master: primary\n    acl: [from_primary, local_xfr]\n'
	printf '    storage: "%s"\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes\n' "$TMP/knot"
	printf 'zone:\n'
	for z in $ZONES; do printf '  - domain: %s\n' "$z"; done
} >"$TMP/knot.conf"
mn_nsd_start "$TMP/nsd" "$TMP/nsd.conf"
mn_knot_start "$TMP/knot" "$TMP/knot.conf"
stop_peers() { mn_stop_pids $NSD_PID $KNOT_PID; }
trap 'stop_peers; mn_cleanup' EXIT

peer_logs() { diag "$(tail -n 15 "$TMP/nsd/nsd.log" "$TMP/knot/knot.log" "$TMP/nsd/nsd.out" "$TMP/knot/knot.out" 2>/dev/null)"; diag "$(tail -n 15 "$MN_LOG")"; }
mn_synced "$NSD_PORT" $ZONES; ok $? "NSD transferred every signed zone" || peer_logs
mn_synced "$KNOT_PORT" $ZONES; ok $? "Knot transferred every signed zone" || peer_logs

# rrsig_for PORT NAME TYPE: the types the RRSIGs of the answer cover (kdig +dnssec)
rrsig_for() {
	kdig @127.0.0.1 -p "$1" +time=2 +retry=0 +dnssec +noall +answer "$2" "$3" 2>/dev/null |
		awk '$4 == "RRSIG" { print $5 }' | sort -u | tr '\n' ' '
}
# verified PORT ZONE NAME: the zone the server hands out by AXFR is mailnsd's and passes ldns-verify-zone
verified() {
	local f="$TMP/$3.$2.zone" out
	axfr "$1" "$2" >"$f"
	is "$(sort "$f")" "$(axfr "$MN_PORT" "$2" | sort)" "$3 holds $2 as mailnsd serves it"
	out=$(ldns-verify-zone "$f" 2>&1); ok $? "ldns-verify-zone accepts $2 from $3" || diag "$out"
}
for peer in "NSD $NSD_PORT" "Knot $KNOT_PORT"; do
	set -- $peer
	is "$(rrsig_for "$2" _dmarc.example.com TXT)" "TXT " "$1 answers _dmarc.example.com TXT with its RRSIG (+dnssec)"
	is "$(rrsig_for "$2" s1._domainkey.example.com TXT)" "TXT " "$1: s1._domainkey.example.com TXT with its RRSIG"
	is "$(rrsig_for "$2" _dmarc.example.org TXT)" "TXT " "$1: _dmarc.example.org TXT (Ed25519 ZSK) with its RRSIG"
	is "$(rrsig_for "$2" _dmarc.example.org DNSKEY)" "DNSKEY " "$1: the DNSKEY RRset with its RRSIG"
	for z in $ZONES; do verified "$2" "$z" "$1"; done
done

# ---- a change reaches both by NOTIFY + IXFR, signed --------------------------
ixfrs=$(grep -c 'info: ixfr of _dmarc.example.org' "$MN_LOG")
old_sig=$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 +noall +answer AXFR _dmarc.example.org | awk '$4 == "RRSIG" && $5 == "TXT"')
sed -i 's/      p: none/      p: quarantine/' "$POLICY"
WANT='"v=DMARC1; p=quarantine"'
mn_served "$MN_PORT" _dmarc.example.org TXT "$WANT"; ok $? "mailnsd reloads the change"
mn_served "$NSD_PORT" _dmarc.example.org TXT "$WANT"; ok $? "NSD serves the change (NOTIFY)" || peer_logs
mn_served "$KNOT_PORT" _dmarc.example.org TXT "$WANT"; ok $? "Knot serves the change (NOTIFY)" || peer_logs
mn_synced "$NSD_PORT" $ZONES && mn_synced "$KNOT_PORT" $ZONES; ok $? "both at mailnsd's serials"
is "$(( $(grep -c 'info: ixfr of _dmarc.example.org' "$MN_LOG") - ixfrs ))" 2 "both fetched it by IXFR from the journal"
new_sig=$(axfr "$MN_PORT" _dmarc.example.org | awk '$4 == "RRSIG" && $5 == "TXT"')
[ -n "$new_sig" ] && [ "$new_sig" != "$old_sig" ]; ok $? "the changed TXT has a new signature"
for peer in "NSD $NSD_PORT" "Knot $KNOT_PORT"; do
	set -- $peer
	is "$(rrsig_for "$2" _dmarc.example.org TXT)" "TXT " "$1 answers the changed TXT with its RRSIG"
	verified "$2" _dmarc.example.org "$1 after IXFR"
done

# negative: the verifier rejects what a secondary would serve with one signature changed
f="$TMP/NSD after IXFR._dmarc.example.org.zone"
awk 'BEGIN { OFS = "\t" } !done && $4 == "RRSIG" && $5 == "TXT" { s = $NF; c = substr(s, 5, 1)
	$NF = substr(s, 1, 4) (c == "A" ? "B" : "A") substr(s, 6); done = 1 } { print }' "$f" >"$TMP/bad.zone"
cmp -s "$f" "$TMP/bad.zone"; is $? 1 "one signature changed"
ldns-verify-zone "$TMP/bad.zone" >/dev/null 2>&1; [ $? -ne 0 ]; ok $? "ldns-verify-zone rejects it"

stop_peers
mn_stop; ok $? "mailnsd stops cleanly"
done_testing
