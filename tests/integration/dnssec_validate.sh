#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_validate.sh -- a real validating resolver over mailnsd's signed zones:
# unbound (validator + iterator) with the trust anchor of the parent example.com,
# which NSD serves signed by ldns-signzone with the DS records `mailns delegation`
# prints; every kind of answer of our zones validates (AD): a TXT, NXDOMAIN,
# NODATA, a wildcard answer and a wildcard NODATA (the SPF macro zone), an empty
# non-terminal, a DKIM key; with every stored signature corrupted, mailnsd
# restarted serves them and unbound answers SERVFAIL.
# Everything on 127.0.0.1; every daemon stopped by PID.
. "${top_srcdir:?}/tests/tap/tap.sh"
for t in nsd unbound ldns-keygen ldns-signzone python3; do
	command -v "$t" >/dev/null || skip_all "$t is not installed"
done
mn_tmpdir
NSD_PID=""
UB_PID=""
stop_all() {
	mn_stop_pids $UB_PID $NSD_PID
	UB_PID=""
	NSD_PID=""
	mn_cleanup
}
trap stop_all EXIT

cat >"$TMP/validate.tmpl" <<'EOF'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  dnssec: true
  transfer: { allow: [127.0.0.1/32] }
domains:
  example.com:
    spf: { mode: macro, ip4: [192.0.2.0/24], all: fail }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: reject }
EOF
mn_start "$TMP/validate.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves the signed zones on port $MN_PORT"
POLICY=$TMP/policy.yaml
DS=$("$MAILNS" delegation -c "$POLICY" | awk '$4 == "DS"')
is "$(echo "$DS" | grep -c .)" 3 "mailns delegation: the DS of the three zones"

NSD_PORT=$(mn_free_port "$MN_PORT")
UB_PORT=$(mn_free_port "$MN_PORT" "$NSD_PORT")

# ---- the parent: example.com, signed by ldns-signzone, in NSD -----------------
mkdir -p "$TMP/nsd"
{
	printf '$ORIGIN example.com.\n$TTL 300\n'
	printf '@ SOA ns1.example.net. hostmaster.example.net. 1 3600 900 1209600 300\n@ NS ns1.example.net.\n'
	for l in _domainkey _dmarc _spf; do printf '%s NS ns1.example.net.\n%s NS ns2.example.net.\n' "$l" "$l"; done
	echo '@ TXT "v=spf1 include:_spf.example.com -all"'
	echo "$DS"
} >"$TMP/example.com.zone"
KEY=$(cd "$TMP" && ldns-keygen -a ECDSAP256SHA256 -k example.com 2>/dev/null)
[ -n "$KEY" ] && [ -f "$TMP/$KEY.key" ]; ok $? "ldns-keygen: the parent's KSK ($KEY)"
(cd "$TMP" && ldns-signzone -f "$TMP/nsd/example.com.zone" "$TMP/example.com.zone" "$KEY") 2>&1
ok $? "ldns-signzone signs the parent with our DS records in it"
{
	mn_nsd_server "$TMP/nsd" "$NSD_PORT"
	printf 'zone:\n  name: "example.com"\n  zonefile: "example.com.zone"\n'
} >"$TMP/nsd.conf"
mn_nsd_start "$TMP/nsd" "$TMP/nsd.conf"
mn_peer_up "$NSD_PORT" example.com "$NSD_PID" "nsd serves the signed parent on port $NSD_PORT" \
	"$TMP/nsd/nsd.out" "$TMP/nsd/nsd.log"

# ---- the resolver: unbound validating, the parent's key as trust anchor ------------
mkdir -p "$TMP/ub"
{
	mn_unbound_server "$TMP/ub" "$UB_PORT" "validator iterator"
	printf '  val-log-level: 2\n  trust-anchor-file: "%s"\n  aggressive-nsec: no\n' "$TMP/$KEY.key"
	mn_stub . "$NSD_PORT"
	mn_stub example.com "$NSD_PORT"
	for l in _domainkey _dmarc _spf; do mn_stub "$l.example.com" "$MN_PORT"; done
} >"$TMP/ub/unbound.conf"
ub_start() {
	mn_unbound_start "$TMP/ub" "$TMP/ub/unbound.conf"
	mn_wait_answer "$UB_PORT" example.com "$UB_PID"
}
ub_start; up=$?
ok $up "unbound validates on port $UB_PORT"
[ $up -eq 0 ] || { diag "$(cat "$TMP/ub/unbound.out" "$TMP/ub/unbound.log" 2>/dev/null | tail -20)"; done_testing; exit 1; }

# ask NAME TYPE: "RCODE ad|-" then the answer's records of type TYPE (rdata), sorted
ask() {
	local out
	out=$(kdig @127.0.0.1 -p "$UB_PORT" +time=3 +retry=1 +dnssec "$1" "$2" 2>/dev/null)
	printf '%s %s\n' "$(echo "$out" | sed -n 's/^;; ->>HEADER<<- opcode: QUERY; status: \([A-Z]*\);.*/\1/p')" \
		"$(echo "$out" | grep -q '^;; Flags: .* ad' && echo ad || echo -)"
	kdig @127.0.0.1 -p "$UB_PORT" +time=3 +retry=1 +noall +answer "$1" "$2" 2>/dev/null |
		awk -v t="$2" '$4 == t { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }' | sort
}
uberr() { diag "$(grep -iE 'validat|bogus|fail' "$TMP/ub/unbound.log" | tail -8)"; }

# the chain of trust: the parent itself validates (trust anchor, ldns-signzone)
is "$(ask example.com TXT)" 'NOERROR ad
"v=spf1 include:_spf.example.com -all"' "the parent validates (AD)" || uberr
is "$(ask _dmarc.example.com DS | head -1)" "NOERROR ad" "our DS at the parent validates" || uberr

# every kind of answer of our zones
is "$(ask _dmarc.example.com TXT)" 'NOERROR ad
"v=DMARC1; p=reject"' "TXT: validated (AD)" || uberr
is "$(ask s1._domainkey.example.com TXT | head -1)" "NOERROR ad" "a DKIM key: validated" || uberr
is "$(ask _dmarc.example.com DNSKEY | head -1)" "NOERROR ad" "the DNSKEY RRset: validated" || uberr
is "$(ask x._dmarc.example.com TXT)" "NXDOMAIN ad" "NXDOMAIN: proven (NSEC, AD)" || uberr
is "$(ask _dmarc.example.com A)" "NOERROR ad" "NODATA: proven (AD)" || uberr
is "$(ask 5.2.0.192.in-addr._spf.example.com A)" 'NOERROR ad
127.0.0.2' "a wildcard answer (SPF macro zone): validated" || uberr
is "$(ask 5.2.0.192.in-addr._spf.example.com TXT)" "NOERROR ad" "a wildcard NODATA: proven" || uberr
is "$(ask 2.0.192.in-addr._spf.example.com A)" "NOERROR ad" "an empty non-terminal: proven" || uberr
is "$(ask 5.3.0.192.in-addr._spf.example.com A)" "NXDOMAIN ad" "NXDOMAIN beside the wildcard: proven" || uberr

# ---- negative: every stored signature corrupted, served after a restart: SERVFAIL ------
axfr() { kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=0 +noall +answer AXFR _dmarc.example.com 2>/dev/null | awk '!seen[$0]++'; }
axfr >"$TMP/good.zone"
ldns-verify-zone "$TMP/good.zone" >/dev/null 2>&1; ok $? "before: the zone mailnsd transfers verifies"
# sigs: "MNSIG2\n", then per entry a 32-byte key, a 16-bit length and the RRSIG RDATA,
# then SHA-256 of the zone's name, a NUL and all that (made again: the damage is the
# signatures', a file that passes its checksum)
n=$(python3 - "$TMP/state/dnssec" <<'PY'
import hashlib, os, sys
n = 0
for zone in os.listdir(sys.argv[1]):
    p = os.path.join(sys.argv[1], zone, "sigs")
    if not os.path.isfile(p):
        continue
    b = bytearray(open(p, "rb").read())
    i, end = 7, len(b) - 32
    while i + 34 <= end:
        ln = b[i + 32] << 8 | b[i + 33]
        i += 34 + ln
        b[i - 1] ^= 0x01
        n += 1
    b[end:] = hashlib.sha256(zone.encode() + b"\0" + bytes(b[:end])).digest()
    open(p, "wb").write(b)
print(n)
PY
)
[ "${n:-0}" -gt 0 ]; ok $? "every stored signature corrupted ($n)"
# (the signed zones kept whole would be served as they were: removed, the zones are signed from sigs)
rm -f "$TMP/state/dnssec/.signed-zones"
mn_stop; ok $? "mailnsd stops"
"$MAILNSD" -f -c "$POLICY" >>"$MN_LOG" 2>&1 &
MN_PID=$!
mn_wait_answer "$MN_PORT" _dmarc.example.com $MN_PID; ok $? "mailnsd restarts on port $MN_PORT with the stored signatures"
mn_stop_pids "$UB_PID"
ub_start; ok $? "unbound restarted (an empty cache)"
axfr >"$TMP/bad.zone"
is "$(diff "$TMP/good.zone" "$TMP/bad.zone" | grep -cE '^>.*RRSIG[[:space:]]+(TXT|NSEC|DNSKEY) ')" 3 \
	"mailnsd serves the corrupted signatures of the TXT, NSEC and DNSKEY RRsets (reused as stored)"
ldns-verify-zone "$TMP/bad.zone" >/dev/null 2>&1; [ $? -ne 0 ]; ok $? "and ldns-verify-zone rejects them"
is "$(ask _dmarc.example.com TXT | head -1)" "SERVFAIL -" "a corrupted signature: SERVFAIL"
is "$(ask x._dmarc.example.com TXT | head -1)" "SERVFAIL -" "a corrupted NSEC signature: SERVFAIL"
is "$(ask example.com TXT | head -1)" "NOERROR ad" "the parent still validates"

mn_stop_pids $UB_PID $NSD_PID
UB_PID=""; NSD_PID=""
mn_stop; ok $? "mailnsd stops cleanly"
done_testing
