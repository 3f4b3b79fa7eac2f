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
	printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$NSD_PORT"
	printf '  zonesdir: "%s"\n  pidfile: "%s"\n  database: ""\n' "$TMP/nsd" "$TMP/nsd.pid"
	printf '  xfrdfile: "%s"\n  zonelistfile: "%s"\n  xfrdir: "%s"\n' "$TMP/nsd/xfrd.state" "$TMP/nsd/zone.list" "$TMP/nsd"
	printf '  logfile: "%s"\n  server-count: 1\n  verbosity: 2\n' "$TMP/nsd.log"
	printf '  rrl-ratelimit: 0\nremote-control:\n  control-enable: no\n'
	for z in $ZONES; do
		printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"
		printf '  request-xfr: 127.0.0.1@%s NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n' "$MN_PORT"
		printf '  provide-xfr: 127.0.0.1 NOKEY\n'
	done
} >"$TMP/nsd.conf"
{
	printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: "%s"\n' "$KNOT_PORT" "$TMP/knot"
	printf 'log:\n  - target: "%s"\n    any: info\n' "$TMP/knot.log"
	printf 'database:\n  storage: "%s"\n' "$TMP/knot"
	printf 'remote:\n  - id: primary\n    address: 127.0.0.1@%s\n' "$MN_PORT"
	printf 'acl:\n  - id: from_primary\n    address: 127.0.0.1\n    action: notify\n'
	printf '  - id: local_xfr\n    address: 127.0.0.1\n    action: transfer\n'
	printf 'template:\n  - id: default\n    master: primary\n    acl: [from_primary, local_xfr]\n'
	printf '    storage: "%s"\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes\n' "$TMP/knot"
	printf 'zone:\n'
	for z in $ZONES; do printf '  - domain: %s\n' "$z"; done
} >"$TMP/knot.conf"
nsd -d -c "$TMP/nsd.conf" >"$TMP/nsd.out" 2>&1 &
NSD_PID=$!
knotd -c "$TMP/knot.conf" >"$TMP/knot.out" 2>&1 &
KNOT_PID=$!
stop_peers() {
	kill -TERM $NSD_PID $KNOT_PID 2>/dev/null
	wait $NSD_PID $KNOT_PID 2>/dev/null
}
trap 'stop_peers; mn_cleanup' EXIT

serial() { kdig @127.0.0.1 -p "$1" +time=1 +retry=0 +short SOA "$2" 2>/dev/null | awk '{print $3}'; }
# synced PORT: every zone served with mailnsd's serial (polls up to 15 s)
synced() {
	local i z ok
	for i in $(seq 1 150); do
		ok=0
		for z in $ZONES; do
			[ "$(serial "$1" "$z")" = "$(serial "$MN_PORT" "$z")" ] || { ok=1; break; }
		done
		[ $ok -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}
peer_logs() { diag "$(tail -n 15 "$TMP/nsd.log" "$TMP/knot.log" "$TMP/nsd.out" "$TMP/knot.out" 2>/dev/null)"; diag "$(tail -n 15 "$MN_LOG")"; }
synced "$NSD_PORT"; ok $? "NSD transferred every signed zone" || peer_logs
synced "$KNOT_PORT"; ok $? "Knot transferred every signed zone" || peer_logs

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
served() { # served PORT NAME TYPE WANT: polls up to 10 s
	local i
	for i in $(seq 1 100); do
		[ "$(kdig @127.0.0.1 -p "$1" +time=1 +retry=0 +short "$2" "$3" 2>/dev/null)" = "$4" ] && return 0
		sleep 0.1
	done
	return 1
}
ixfrs=$(grep -c 'info: ixfr of _dmarc.example.org' "$MN_LOG")
old_sig=$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 +noall +answer AXFR _dmarc.example.org | awk '$4 == "RRSIG" && $5 == "TXT"')
sed -i 's/      p: none/      p: quarantine/' "$POLICY"
WANT='"v=DMARC1; p=quarantine"'
served "$MN_PORT" _dmarc.example.org TXT "$WANT"; ok $? "mailnsd reloads the change"
served "$NSD_PORT" _dmarc.example.org TXT "$WANT"; ok $? "NSD serves the change (NOTIFY)" || peer_logs
served "$KNOT_PORT" _dmarc.example.org TXT "$WANT"; ok $? "Knot serves the change (NOTIFY)" || peer_logs
synced "$NSD_PORT" && synced "$KNOT_PORT"; ok $? "both at mailnsd's serials"
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
