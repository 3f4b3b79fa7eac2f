#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_store.sh -- the signed zones kept whole in state_dir/dnssec/.signed-zones:
# written by the persisting compile (0640); a restart serves every zone byte for
# byte as before (AXFR) even with the per-zone signature files emptied, so from the
# store; a store damaged in every entry, or truncated, is not used (the zones are
# signed anew and verify); new keys, or signatures due for refresh, make a stored
# zone signed anew.  A domain whose inputs (policy, key store, settings) are those
# its stored zones were compiled from is taken whole without being compiled (logged);
# one edited while mailnsd was stopped, or under another setting, is compiled and
# signed again, and verifies.
. "${top_srcdir:?}/tests/tap/tap.sh"
for t in kdig ldns-verify-zone python3; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
mn_tmpdir
cat >"$TMP/store.tmpl" <<EOF
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
    dmarc: { p: none }
EOF
STORE=$TMP/state/dnssec/.signed-zones
# axfr ZONE: the zone as mailnsd transfers it (the closing SOA dropped)
axfr() { kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=0 +noall +answer AXFR "$1" 2>/dev/null | awk '!seen[$0]++'; }
all() { local z; for z in $ZONES; do axfr "$z"; done; }
# verify_all: every zone mailnsd transfers passes ldns-verify-zone
verify_all() {
	local z bad=0
	for z in $ZONES; do
		axfr "$z" >"$TMP/v.zone"
		ldns-verify-zone -q "$TMP/v.zone" >/dev/null 2>&1 || { diag "$z does not verify"; bad=1; }
	done
	return $bad
}
rrsigs() { grep -E 'IN[[:space:]]+RRSIG' | sort; }
# start_logged TEMPLATE: mn_start, with what this start logged in $TMP/start.log
start_logged() {
	local from=0
	[ -f "$TMP/mailnsd.log" ] && from=$(wc -l <"$TMP/mailnsd.log")
	mn_start "$1" || return 1
	tail -n +$((from + 1)) "$MN_LOG" >"$TMP/start.log"
}
# taken: how many domains this start took whole from the store (0: none)
taken() {
	local n
	n=$(sed -n 's/.*DNSSEC: \([0-9]*\) domains taken whole from the signed-zone store.*/\1/p' "$TMP/start.log")
	echo "${n:-0}"
}
soa_serial() { awk -v z="$1." '$1 == z && $4 == "SOA" { print $7; exit }'; }

mn_start "$TMP/store.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd signs and serves on port $MN_PORT"
ZONES=$(ls "$TMP/state/dnssec")
is "$(echo "$ZONES" | wc -l)" 6 "six signed zones"
mn_stop; ok $? "mailnsd stops"
[ -f "$STORE" ]; ok $? "the first start stored the signed zones"
is "$(stat -c %a "$STORE")" 640 "the store is 0640, as the signatures"
python3 - "$STORE" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'MNZSTOR3', 'magic'
n, = struct.unpack('>I', b[8:12])
assert n == 6, n
EOF
ok $? "it holds the six zones"

start_logged "$TMP/store.tmpl" || { ok 1 "mailnsd starts again"; done_testing; exit 1; }
is "$(taken)" 2 "restarted: both domains taken whole from the store, not compiled"
all >"$TMP/a1"
verify_all; ok $? "every zone verifies (ldns-verify-zone)"
rrsigs <"$TMP/a1" | grep -q .; ok $? "the transfers carry RRSIGs"
mn_stop
# emptied in place (a file removed would change its directory: the key state)
for f in "$TMP"/state/dnssec/*/sigs; do : >"$f"; done
start_logged "$TMP/store.tmpl" || { ok 1 "mailnsd starts with the signature files emptied"; done_testing; exit 1; }
all >"$TMP/a2"
[ -s "$TMP/a1" ] && cmp -s "$TMP/a1" "$TMP/a2"; ok $? "restarted with the signature files emptied: every zone byte for byte as before (from the store)"
is "$(taken)" 2 "both domains taken whole again"
# the zones are served from the store's mapping (not copied): the file replaced by a copy
# (rename, as mailnsd writes it) while mailnsd runs, a reload, the mapped file removed:
# every zone still served byte for byte as before
cp "$STORE" "$STORE.x" && mv "$STORE" "$TMP/mapped" && mv "$STORE.x" "$STORE"
kill -HUP "$MN_PID"
sleep 1
mn_reloads_settled; ok $? "the store replaced by a copy, reloaded"
rm -f "$TMP/mapped"
all >"$TMP/a2m"
[ -s "$TMP/a1" ] && cmp -s "$TMP/a1" "$TMP/a2m"
ok $? "the mapped store replaced and removed, a reload: every zone byte for byte as before"
kill -0 "$MN_PID"; ok $? "mailnsd still runs"
mn_stop

# example.com's DMARC edited while mailnsd was stopped: compiled and signed again, the
# other domain still taken whole; the other zones keep their serials
sed 's/dmarc: { p: reject,/dmarc: { p: quarantine,/' "$TMP/store.tmpl" >"$TMP/edited.tmpl"
start_logged "$TMP/edited.tmpl" || { ok 1 "mailnsd starts with a DMARC edited"; done_testing; exit 1; }
is "$(taken)" 1 "DMARC edited: only the other domain taken whole"
txt=$(kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=0 +short TXT _dmarc.example.com)
case $txt in *p=quarantine*) ok 0 "DMARC edited: the new record is served";;
	*) ok 1 "DMARC edited: the new record is served (got: $txt)";; esac
kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=0 +dnssec +noall +answer TXT _dmarc.example.com |
	grep -qE 'RRSIG[[:space:]]+TXT'; ok $? "DMARC edited: its answer is signed"
axfr _dmarc.example.com >"$TMP/dm.zone"
grep -q 'p=quarantine' "$TMP/dm.zone" && ldns-verify-zone -q "$TMP/dm.zone" >/dev/null 2>&1
ok $? "DMARC edited: the zone verifies (ldns-verify-zone)"
[ "$(soa_serial _dmarc.example.com <"$TMP/dm.zone")" -gt "$(soa_serial _dmarc.example.com <"$TMP/a1")" ]
ok $? "DMARC edited: its serial moved on"
axfr _spf.example.com >"$TMP/spf.zone"
axfr _dmarc.example.org >"$TMP/org.zone"
s1="$(soa_serial _spf.example.com <"$TMP/a1") $(soa_serial _dmarc.example.org <"$TMP/a1")"
is "$(soa_serial _spf.example.com <"$TMP/spf.zone") $(soa_serial _dmarc.example.org <"$TMP/org.zone")" "$s1" \
	"DMARC edited: the unchanged zones keep their serials"
mn_stop
start_logged "$TMP/edited.tmpl" || { ok 1 "mailnsd starts again after the edit"; done_testing; exit 1; }
is "$(taken)" 2 "after the edit, restarted: both domains taken whole (the store took the edit)"
axfr _dmarc.example.com | grep -q 'p=quarantine'; ok $? "the edited record from the store"
mn_stop
# a setting every zone is made from (server.ttl): compiled again, served with it
sed 's/^  dnssec: true$/&\n  ttl: 1234/' "$TMP/store.tmpl" >"$TMP/ttl.tmpl"
start_logged "$TMP/ttl.tmpl" || { ok 1 "mailnsd starts with another ttl"; done_testing; exit 1; }
is "$(taken)" 0 "another server.ttl: no domain taken whole"
kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=0 +noall +answer TXT _dmarc.example.org | awk '{ print $2 }' | grep -qx 1234
ok $? "another server.ttl: answers carry it"
verify_all; ok $? "another server.ttl: every zone verifies"
mn_stop

# damaged: a byte of every entry's last record flipped (the index and header intact), in a
# store the start would take every domain from otherwise (written for this policy again)
start_logged "$TMP/store.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
mn_stop
start_logged "$TMP/store.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
is "$(taken)" 2 "the store current again: both domains taken whole"
all >"$TMP/a1d"
mn_stop
for f in "$TMP"/state/dnssec/*/sigs; do : >"$f"; done	# (in place: no signature reused from there)
python3 - "$STORE" <<'EOF'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
n, = struct.unpack('>I', b[8:12])
io, = struct.unpack('>Q', b[24:32])
for i in range(n):
    o, = struct.unpack('>Q', b[io + 8 * i: io + 8 * i + 8])
    ln, = struct.unpack('>I', b[o:o + 4])
    b[o + ln - 1] ^= 0x5a
open(p, 'wb').write(b)
EOF
ok $? "every stored entry damaged"
start_logged "$TMP/store.tmpl" || { ok 1 "mailnsd starts with a damaged store"; done_testing; exit 1; }
is "$(taken)" 0 "damaged store: no domain taken whole"
all >"$TMP/a3"
verify_all; ok $? "damaged store: every zone verifies"
[ "$(rrsigs <"$TMP/a3" | grep -c .)" -gt 0 ] && [ -z "$(comm -12 <(rrsigs <"$TMP/a3") <(rrsigs <"$TMP/a1d"))" ]
ok $? "damaged store: every zone signed anew (not one RRSIG taken from it)"
is "$(grep -vE 'IN[[:space:]]+(RRSIG|SOA)' "$TMP/a3" | sort)" "$(grep -vE 'IN[[:space:]]+(RRSIG|SOA)' "$TMP/a1" | sort)" \
	"damaged store: the same records besides signatures and SOA"
mn_stop
all_before=$(cat "$TMP/a3")

# truncated: the file cut in half
truncate -s $(( $(stat -c %s "$STORE") / 2 )) "$STORE"
rm -f "$TMP"/state/dnssec/*/sigs
mn_start "$TMP/store.tmpl" || { ok 1 "mailnsd starts with a truncated store"; done_testing; exit 1; }
all >"$TMP/a4"
verify_all; ok $? "truncated store: every zone verifies"
[ "$(rrsigs <"$TMP/a4")" != "$(echo "$all_before" | rrsigs)" ]; ok $? "truncated store: the zones were signed anew"
mn_stop
[ "$(head -c 8 "$STORE")" = MNZSTOR3 ] && [ "$(stat -c %s "$STORE")" -gt 1000 ]; ok $? "the store was written whole again"

# new keys for one zone: its stored form is not served
mn_start "$TMP/store.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
axfr _dmarc.example.org >"$TMP/org1"
mn_stop
rm -rf "$TMP/state/dnssec/_dmarc.example.org"
mn_start "$TMP/store.tmpl" || { ok 1 "mailnsd starts with new keys for a zone"; done_testing; exit 1; }
axfr _dmarc.example.org >"$TMP/org2"
k1=$(grep -E 'IN[[:space:]]+DNSKEY' "$TMP/org1" | sort)
k2=$(grep -E 'IN[[:space:]]+DNSKEY' "$TMP/org2" | sort)
[ -n "$k2" ] && [ "$k1" != "$k2" ]; ok $? "new keys: the zone is served with them, not from the store"
ldns-verify-zone -q "$TMP/org2" >/dev/null 2>&1; ok $? "new keys: the zone verifies"
all >"$TMP/a5"
mn_stop

# 8 days later (refresh: 7 days before expiry, validity 14): every stored zone is due, signed anew
MAILNS_NOW=+$((8 * 86400)) mn_start "$TMP/store.tmpl" || { ok 1 "mailnsd starts 8 days later"; done_testing; exit 1; }
all >"$TMP/a6"
exp() { rrsigs | awk '{ print $9 }' | sort -u; }
old_max=$(exp <"$TMP/a5" | tail -n 1)
new_min=$(exp <"$TMP/a6" | head -n 1)
[ -n "$new_min" ] && [ "$new_min" -gt "$old_max" ]; ok $? "8 days later: every signature made anew (expirations after all the stored ones)"
mn_stop
! grep -qE 'Sanitizer|runtime error' "$MN_LOG"; ok $? "no sanitizer report in mailnsd's log"
done_testing
