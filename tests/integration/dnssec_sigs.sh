#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_sigs.sh -- a zone's stored signatures (state_dir/dnssec/ZONE/sigs) damaged
# in place while the signed-zone store (.signed-zones) still matches: a restart
# serves the zone from the store, byte for byte as before; then the domain changes
# (the store no longer matches, the zone is signed again from its sigs file): none of
# the damaged signatures is reused: the zone verifies (ldns-verify-zone), the damage is
# logged, the file written whole again.  (Another zone's sigs file copied over a
# zone's: tests/unit/test_sign.c.)
. "${top_srcdir:?}/tests/tap/tap.sh"
for t in kdig ldns-verify-zone python3; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
mn_tmpdir
cat >"$TMP/sigs.tmpl" <<EOF
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
    spf: { ip4: [192.0.2.0/24], all: fail }
    dmarc: { p: reject, rua: ["mailto:d@example.com"] }
  example.org:
    dnssec: { keys: ksk+zsk }
    spf: { ip4: [198.51.100.0/24] }
    dmarc: { p: none }
EOF
D=$TMP/state/dnssec
# axfr ZONE: the zone as mailnsd transfers it (the closing SOA dropped)
axfr() { kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=0 +noall +answer AXFR "$1" 2>/dev/null | awk '!seen[$0]++'; }
# wait_changed ZONE FILE: until the zone transferred differs from FILE (10 s)
wait_changed() {
	local i
	for i in $(seq 1 100); do
		axfr "$1" >"$TMP/now.zone"
		[ -s "$TMP/now.zone" ] && ! cmp -s "$TMP/now.zone" "$2" && return 0
		sleep 0.1
	done
	return 1
}
# damage FILE: the last byte of every stored RRSIG flipped, the file's layout intact
# (entries: a 32-byte key, a 16-bit length, the RRSIG RDATA; a format with a
# checksum keeps its last 32 bytes for it)
damage() {
	python3 - "$1" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
end = len(b) - 32 if b[:7] == b"MNSIG2\n" else len(b)
o, n = 7, 0
while o + 34 <= end:
    ln = b[o + 32] << 8 | b[o + 33]
    o += 34 + ln
    b[o - 1] ^= 0x5a
    n += 1
assert o == end and n > 0, (o, end, n)
open(p, "wb").write(b)
print(n)
PY
}

mn_start "$TMP/sigs.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd signs and serves on port $MN_PORT"
for z in _dmarc.example.com _dmarc.example.org; do axfr "$z" >"$TMP/$z.1"; done
mn_stop; ok $? "mailnsd stops"
[ -f "$D/.signed-zones" ]; ok $? "the signed zones are stored"

for z in _dmarc.example.com _dmarc.example.org; do
	n=$(damage "$D/$z/sigs"); ok $? "$z: its $n stored signatures damaged in place"
done
mn_start "$TMP/sigs.tmpl" || { ok 1 "mailnsd starts again"; done_testing; exit 1; }
axfr _dmarc.example.com >"$TMP/a.2"
cmp -s "$TMP/_dmarc.example.com.1" "$TMP/a.2"; ok $? "restarted: the zone served from the store, as before"

# the domains change: their zones no longer match the store, signed from their sigs files
sed -i -e 's/p: reject, rua/p: quarantine, rua/' -e 's/dmarc: { p: none }/dmarc: { p: reject }/' \
	"$TMP/policy.yaml"
kill -HUP "$MN_PID"
for z in _dmarc.example.com _dmarc.example.org; do
	wait_changed "$z" "$TMP/$z.1"; ok $? "$z: changed and served"
	axfr "$z" >"$TMP/$z.2"
	ldns-verify-zone "$TMP/$z.2" >"$TMP/v.out" 2>&1; ok $? "$z: the zone signed again from its damaged sigs file verifies" ||
		diag "$(head -n 5 "$TMP/v.out")"
done
grep -q "_dmarc.example.com/sigs is damaged" "$MN_LOG"; ok $? "the damaged file is named in the log"
mn_stop; ok $? "mailnsd stops"
python3 - "$D/_dmarc.example.com/sigs" <<'PY'
import hashlib, sys
b = open(sys.argv[1], "rb").read()
assert b[:7] == b"MNSIG2\n" and hashlib.sha256(b"_dmarc.example.com\0" + b[:-32]).digest() == b[-32:]
PY
ok $? "the zone's sigs file written whole again (its checksum good)"

# ---- killed in the second between the first signing and the store's write -------------
# The first signed start writes .signed-zones only once its key directories are a second
# old (the settle rule): mailnsd killed (SIGKILL) in that second, with every zone signed and
# its sigs file written, loses nothing but time: the next start signs nothing anew (every
# signature from the sigs files, which stay as they were), verifies, and stores the zones.
nzones=$(find "$D" -mindepth 1 -maxdepth 1 -type d | wc -l)
sed -e "s|@TMP@/state|@TMP@/state2|" "$TMP/sigs.tmpl" >"$TMP/sigs2.tmpl"
D2=$TMP/state2/dnssec
caught=1
for try in 1 2 3; do
	rm -rf "$TMP/state2"
	port=$(mn_free_port)
	sed -e "s|@PORT@|$port|g" -e "s|@TMP@|$TMP|g" "$TMP/sigs2.tmpl" >"$TMP/policy2.yaml"
	"$MAILNSD" -f -c "$TMP/policy2.yaml" >>"$TMP/crash2.log" 2>&1 &
	pid=$!
	for i in $(seq 1 1000); do	# (bounded: 1000 x 10 ms)
		n=$(find "$D2" -mindepth 2 -maxdepth 2 -name sigs 2>/dev/null | wc -l)
		[ "$n" -ge "$nzones" ] && break
		sleep 0.01
	done
	if [ "$n" -ge "$nzones" ] && [ ! -e "$D2/.signed-zones" ]; then
		kill -KILL "$pid"; wait "$pid" 2>/dev/null
		[ -e "$D2/.signed-zones" ] || { caught=0; break; }	# (else written just before the kill)
	else
		kill -TERM "$pid"; wait "$pid" 2>/dev/null
	fi
done
ok $caught "mailnsd killed after signing every zone ($nzones sigs files), before the store was written"
(cd "$D2" && md5sum ./*/sigs) >"$TMP/sigs2.md5"
MN_LOG=$TMP/mailnsd2.log
mn_start "$TMP/sigs2.tmpl" || { ok 1 "mailnsd starts again"; done_testing; exit 1; }
for z in _dmarc.example.com _dmarc.example.org; do
	axfr "$z" >"$TMP/$z.3"
	ldns-verify-zone "$TMP/$z.3" >"$TMP/v.out" 2>&1; ok $? "after the kill: $z verifies" || diag "$(head -n 5 "$TMP/v.out")"
done
(cd "$D2" && md5sum -c --quiet "$TMP/sigs2.md5") >"$TMP/md5.out" 2>&1
ok $? "no signature made anew: every sigs file as the killed start left it" || diag "$(head -n 5 "$TMP/md5.out")"
mn_stop; ok $? "mailnsd stops"
[ -s "$D2/.signed-zones" ]; ok $? "the store written by the start after the kill"
! grep -qE 'Sanitizer|runtime error' "$TMP/mailnsd.log" "$MN_LOG"; ok $? "no sanitizer report in mailnsd's logs"
done_testing
