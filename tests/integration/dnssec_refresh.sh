#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_refresh.sh -- mailnsd refreshes its signatures by itself: zones signed
# (by `mailns zone`, the clock moved back with MAILNS_NOW=-SECONDS) so that their
# signatures need refresh a minute after mailnsd starts with them; mailnsd serves
# the stored signatures at first (same serial), then -- with no reload, no signal,
# no policy change -- signs again: the RRSIG expiration moves forward, the SOA
# serial grows, and a Knot secondary gets the new serial by NOTIFY + IXFR and
# serves a zone ldns-verify-zone accepts.  Every daemon stopped by PID.
. "${top_srcdir:?}/tests/tap/tap.sh"
for t in knotd ldns-verify-zone; do
	command -v "$t" >/dev/null || skip_all "$t is not installed"
done
mn_tmpdir

KNOT_PORT=$(mn_free_port)
# validity and refresh at their minimums (1 h, 30 min): signed 1,740 s in the
# past, a signature has 1,860 s left, more than the refresh (reused at start),
# and needs refresh 60 s after it was made
BACK=1740
cat >"$TMP/refresh.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  dnssec: true
  dnssec_validity: 1h
  dnssec_refresh: 30m
  transfer:
    allow: [127.0.0.1/32]
    notify: ["127.0.0.1:$KNOT_PORT"]
domains:
  example.com:
    spf: { ip4: [192.0.2.0/24] }
    dmarc: { p: reject }
EOF
ZONES="_dmarc.example.com _domainkey.example.com _spf.example.com"
# signed beforehand, the clock moved back
sed -e "s|@PORT@|1|g" -e "s|@TMP@|$TMP|g" "$TMP/refresh.tmpl" >"$TMP/pre.yaml"
MAILNS_NOW=-$BACK "$MAILNS" zone -c "$TMP/pre.yaml" >"$TMP/pre.zone"; ok $? "mailns zone signs, the clock $BACK s back"
SIGNED=$(date +%s)
PRE_SERIAL=$(awk '$1 == "_dmarc.example.com." && $4 == "SOA" { print $7; exit }' "$TMP/pre.zone")
exp_of() { awk '$4 == "RRSIG" && $5 == "TXT" { print $9; exit }'; }	# the first TXT RRSIG's expiration
PRE_EXP=$(awk '$1 == "_dmarc.example.com."' "$TMP/pre.zone" | exp_of)
[ -n "$PRE_SERIAL" ] && [ -n "$PRE_EXP" ]; ok $? "signed: serial $PRE_SERIAL, expiration $PRE_EXP"

mn_start "$TMP/refresh.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
STARTED=$(date +%s)
ok 0 "mailnsd serves the signed zones ($((STARTED - SIGNED)) s after they were signed)"

serial() { kdig @127.0.0.1 -p "$1" +time=1 +retry=0 +short SOA "$2" 2>/dev/null | awk '{print $3}'; }
rrsig_exp() { # rrsig_exp PORT: the expiration of the RRSIG of _dmarc.example.com TXT
	kdig @127.0.0.1 -p "$1" +time=2 +retry=0 +dnssec +nocrypto +noall +answer _dmarc.example.com TXT 2>/dev/null | exp_of
}
axfr() { kdig @127.0.0.1 -p "$1" +time=3 +retry=0 +noall +answer AXFR "$2" 2>/dev/null | awk '!seen[$0]++'; }
S1=$(serial "$MN_PORT" _dmarc.example.com)
E1=$(rrsig_exp "$MN_PORT")
is "$S1" "$PRE_SERIAL" "at start: the stored signatures' serial (nothing signed again)"
is "$E1" "$PRE_EXP" "at start: the stored signature (expiration $E1)"

mkdir -p "$TMP/knot"
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
knotd -c "$TMP/knot.conf" >"$TMP/knot.out" 2>&1 &
KNOT_PID=$!
trap 'kill -TERM $KNOT_PID 2>/dev/null; wait $KNOT_PID 2>/dev/null; mn_cleanup' EXIT
peer_logs() { diag "$(tail -n 15 "$TMP/knot.log" "$TMP/knot.out" 2>/dev/null)"; diag "$(tail -n 15 "$MN_LOG")"; }
at_serial() { # at_serial PORT ZONE SERIAL SECONDS: polls until the zone is served with that serial
	local i
	for i in $(seq 1 $(($4 * 10))); do
		[ "$(serial "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
at_serial "$KNOT_PORT" _dmarc.example.com "$S1" 20; ok $? "Knot transferred the zone (serial $S1)" || peer_logs
ixfrs=$(grep -c 'ixfr of _dmarc.example.com' "$MN_LOG")
reloads=$(grep -c "reloading $TMP" "$MN_LOG")

# ---- no reload asked for: the refresh comes by itself ----------------------------
S2=$S1
for i in $(seq 1 1500); do	# up to 150 s (due 60 s after the signing)
	S2=$(serial "$MN_PORT" _dmarc.example.com)
	[ -n "$S2" ] && [ "$S2" != "$S1" ] && break
	sleep 0.1
done
[ -n "$S2" ] && [ "$S2" -gt "$S1" ]; ok $? "the SOA serial grew by itself: $S1 -> $S2 ($(( $(date +%s) - STARTED )) s after the start)" ||
	diag "$(tail -n 20 "$MN_LOG")"
grep -q 'DNSSEC signatures need refresh' "$MN_LOG"; ok $? "the refresh timer fired"
is "$(( $(grep -c "reloading $TMP" "$MN_LOG") - reloads ))" 1 "one reload: the timer's"
grep -q 'reloaded: .*DNSSEC: signed 3 zones, reused 0' "$MN_LOG"; ok $? "the due zones signed: the three" ||
	diag "$(grep reloaded "$MN_LOG")"
E2=$(rrsig_exp "$MN_PORT")
secs() { date -u -d "$(echo "$1" | sed -E 's/(....)(..)(..)(..)(..)(..)/\1-\2-\3 \4:\5:\6/')" +%s 2>/dev/null; }
e1=$(secs "$E1")
e2=$(secs "$E2")
# (made some 1,800 s after the stored ones: they expire some 1,800 s later)
[ -n "$e1" ] && [ -n "$e2" ] && [ "$e2" -ge $((e1 + 1700)) ]; ok $? "the served RRSIG expiration moved forward: $E1 -> $E2"
for z in $ZONES; do
	s=$(serial "$MN_PORT" "$z")
	[ -n "$s" ] && [ "$s" -gt "$PRE_SERIAL" ]; ok $? "$z: serial moved ($s)"
done
axfr "$MN_PORT" _dmarc.example.com >"$TMP/mn.zone"
out=$(ldns-verify-zone "$TMP/mn.zone" 2>&1); ok $? "ldns-verify-zone accepts the re-signed zone" || diag "$out"

# ---- the secondary follows: NOTIFY, then IXFR -----------------------------------
at_serial "$KNOT_PORT" _dmarc.example.com "$S2" 20; ok $? "Knot serves the new serial $S2 (NOTIFY)" || peer_logs
[ "$(grep -c 'ixfr of _dmarc.example.com' "$MN_LOG")" -gt "$ixfrs" ]; ok $? "Knot fetched it by IXFR" || peer_logs
axfr "$KNOT_PORT" _dmarc.example.com >"$TMP/knot.zone"
is "$(sort "$TMP/knot.zone")" "$(sort "$TMP/mn.zone")" "Knot holds the zone as mailnsd serves it"
out=$(ldns-verify-zone "$TMP/knot.zone" 2>&1); ok $? "ldns-verify-zone accepts Knot's copy" || diag "$out"

kill -TERM $KNOT_PID 2>/dev/null
wait $KNOT_PID 2>/dev/null
mn_stop; ok $? "mailnsd stops cleanly"
done_testing
