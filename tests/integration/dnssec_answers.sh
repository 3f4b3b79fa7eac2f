#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_answers.sh -- DO-bit answers from signed zones: a validating unbound on
# 127.0.0.1 (the zones' DNSKEYs as trust anchors, stub zones to mailnsd, every other
# name to mailnsd too, so nothing leaves the machine) gets the AD bit for a DMARC
# TXT, a DKIM TXT, an NXDOMAIN, a NODATA, an empty non-terminal, an SPF macro
# wildcard answer and a wildcard NODATA, NSEC/RRSIG/ANY/a missing type under the
# wildcard and at an empty non-terminal, ANY/NSEC/DNSKEY/CDS/CDNSKEY/RRSIG at the apex;
# DS at the apex is checked straight at mailnsd (the parent's type, RFC 4035 B.8);
# corrupted stored signatures make it SERVFAIL.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v unbound >/dev/null || skip_all "unbound not installed"
mn_tmpdir

cat >"$TMP/pol.tmpl" <<'EOF'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net, ns2.example.net]
  hostmaster: hostmaster.example.net
  user: root
  state_dir: @TMP@/state
  dnssec: true
domains:
  example.com:
    spf: { mode: macro, ip4: [192.0.2.0/24], ip6: ["2001:db8::/32"] }
    dmarc: { p: reject, rua: ["mailto:dmarc@example.com"] }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
EOF
ZONES="_dmarc.example.com _domainkey.example.com _spf.example.com"
if ! mn_start "$TMP/pol.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd serves the signed zones"

# --- straight at mailnsd -----------------------------------------------------
out=$(mn_dig +dnssec +norec _dmarc.example.com TXT)
echo "$out" | grep -qE '^_dmarc\.example\.com\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+RRSIG[[:space:]]+TXT 13 3 '
ok $? "kdig +dnssec: the DMARC TXT comes with its RRSIG"
out=$(mn_dig +norec _dmarc.example.com TXT)
echo "$out" | grep -q RRSIG; is $? 1 "without DO: no RRSIG"
out=$(mn_dig +dnssec +norec x._domainkey.example.com TXT)
is "$(echo "$out" | grep -cE 'IN[[:space:]]+NSEC[[:space:]]')" 2 "kdig +dnssec: an NXDOMAIN carries two NSECs (name, wildcard)"

# --- unbound, validating -----------------------------------------------------
UB_PORT=$(mn_free_port "$MN_PORT") || { ok 1 "a port for unbound"; done_testing; exit 1; }
ub_conf() { # the configuration, the anchors from mailnsd's DNSKEY answers
	mn_unbound_server "$TMP/ub" "$UB_PORT" "validator iterator"
	printf '  val-log-level: 2\n  aggressive-nsec: no\n'
	for z in $ZONES; do
		mn_dig +short DNSKEY "$z" | grep '^257 ' | sed "s|^|  trust-anchor: \"$z. DNSKEY |; s|\$|\"|"
	done
	for z in $ZONES .; do mn_stub "$z" "$MN_PORT"; done
}
mkdir -p "$TMP/ub"
UB_PID=""
ub_start() {
	ub_conf >"$TMP/ub/unbound.conf"
	mn_unbound_start "$TMP/ub" "$TMP/ub/unbound.conf"
	mn_wait_answer "$UB_PORT" _domainkey.example.com "$UB_PID"	# (the DMARC zone is broken later)
}
ub_stop() { mn_stop_pids "$UB_PID"; UB_PID=""; }
trap 'ub_stop; mn_cleanup' EXIT
is "$(ub_conf | grep -c 'trust-anchor:')" 3 "a trust anchor for each zone"
ub_start; ok $? "unbound starts" || diag "$(tail -n 20 "$TMP/ub/unbound.out" "$TMP/ub/unbound.log" 2>/dev/null)"

# ub NAME TYPE: "STATUS FLAGS..." of unbound's answer with DO
ub() { kdig @127.0.0.1 -p "$UB_PORT" +time=5 +retry=1 +dnssec "$1" "$2" 2>/dev/null |
	sed -n -e 's/^;; ->>HEADER<<-.* status: \([A-Z]*\);.*/\1/p' -e 's/^;; Flags: \(.*\); QUERY.*/\1/p' | tr '\n' ' '; }
validated() { # validated NAME TYPE STATUS DESCRIPTION
	local got
	got=$(ub "$1" "$2")
	case "$got" in "$3 "*" ad"*) ok 0 "$4" ;; *) ok 1 "$4"; diag "got: $got" ;; esac
}
validated _dmarc.example.com TXT NOERROR "the DMARC TXT validates (AD)"
validated s1._domainkey.example.com TXT NOERROR "the DKIM TXT validates (AD)"
validated nosuch._domainkey.example.com TXT NXDOMAIN "an NXDOMAIN validates (AD)"
validated _dmarc.example.com A NOERROR "a NODATA validates (AD)"
validated 2.0.192.in-addr._spf.example.com TXT NOERROR "an empty non-terminal's NODATA validates (AD)"
validated 5.1.2.0.192.in-addr._spf.example.com A NOERROR "an SPF macro wildcard answer validates (AD)"
validated 5.1.2.0.192.in-addr._spf.example.com TXT NOERROR "a wildcard NODATA validates (AD)"
validated 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com A NOERROR \
	"an IPv6 SPF macro wildcard answer validates (AD)"
validated 1.2.3.4.nosuch._spf.example.com A NXDOMAIN "an NXDOMAIN beside the wildcards validates (AD)"
is "$(kdig @127.0.0.1 -p "$UB_PORT" +time=5 +retry=1 +short 5.1.2.0.192.in-addr._spf.example.com A 2>/dev/null)" \
	127.0.0.2 "the wildcard's address through unbound"
# RFC 4035 3.1.3 beyond TXT and A: under the SPF wildcard every type is synthesized,
# NSEC and RRSIG too (a NODATA for them cannot be proved: the wildcard's NSEC lists
# both); types the zone lacks at the wildcard and at an empty non-terminal; the apex's
W=5.1.2.0.192.in-addr._spf.example.com
ENT=2.0.192.in-addr._spf.example.com
validated "$W" NSEC NOERROR "NSEC under the wildcard: synthesized, validates (AD)"
validated "$W" ANY NOERROR "ANY under the wildcard validates (AD)"
validated "$W" AAAA NOERROR "a type the zone lacks, under the wildcard: NODATA validates (AD)"
validated "$ENT" AAAA NOERROR "a type the zone lacks, at an empty non-terminal: NODATA validates (AD)"
validated "$ENT" NSEC NOERROR "NSEC at an empty non-terminal: NODATA validates (AD)"
validated "$ENT" RRSIG NOERROR "RRSIG at an empty non-terminal: NODATA validates (AD)"
validated _spf.example.com ANY NOERROR "ANY at the apex validates (AD)"
validated _spf.example.com NSEC NOERROR "NSEC at the apex validates (AD)"
for t in DNSKEY CDS CDNSKEY; do validated _spf.example.com $t NOERROR "$t at the apex validates (AD)"; done
# type RRSIG: unbound passes the records on unvalidated (never AD), but a response it
# finds bogus is SERVFAIL; the old NODATA under the wildcard was
rrsigs() { # rrsigs NAME: "STATUS N" (N: the RRSIGs owned by NAME in unbound's answer)
	local out
	out=$(kdig @127.0.0.1 -p "$UB_PORT" +time=5 +retry=1 +dnssec "$1" RRSIG 2>/dev/null)
	printf '%s %s\n' "$(echo "$out" | sed -n 's/^;; ->>HEADER<<-.* status: \([A-Z]*\);.*/\1/p')" \
		"$(echo "$out" | grep -cE "^$1\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+RRSIG[[:space:]]")"
}
is "$(rrsigs "$W")" "NOERROR 2" "RRSIG under the wildcard: not bogus, the wildcard's RRSIGs (A, NSEC)"
is "$(rrsigs _spf.example.com)" "NOERROR 7" "RRSIG at the apex: not bogus, its 7 RRSIGs"
# DS at the apex is the parent's (none here: unbound would ask it); mailnsd answers as
# the child must (RFC 4035 3.1.4.1, B.8): NODATA, the SOA and the apex NSEC (SOA set,
# no DS), each with its RRSIG
out=$(mn_dig +dnssec +norec _spf.example.com DS)
echo "$out" | grep -qE '^;; Flags: .*aa.*; ANSWER: 0; AUTHORITY: 4;' &&
	echo "$out" | grep -q 'status: NOERROR' &&
	echo "$out" | grep -qE '^_spf\.example\.com\.[[:space:]].*IN[[:space:]]+NSEC[[:space:]].* SOA ' &&
	! echo "$out" | grep -qE 'IN[[:space:]]+NSEC[[:space:]].* DS( |$)' &&
	[ "$(echo "$out" | grep -cE 'IN[[:space:]]+RRSIG[[:space:]]+(SOA|NSEC) ')" = 2 ]
ok $? "DS at the apex: NODATA with the SOA and the apex NSEC, signed (RFC 4035 B.8)" || diag "$out"
grep -i 'validation failure' "$TMP/ub/unbound.log" | head -n 5 | while read -r l; do diag "$l"; done

# --- a broken signature: every stored signature of the DMARC zone corrupted --
ub_stop
mn_stop; ok $? "mailnsd stops"
sigs="$TMP/state/dnssec/_dmarc.example.com/sigs"
# (its checksum made again over the damage: a file that passes it is trusted)
python3 - "$sigs" <<'EOF'
import hashlib, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
assert b[:7] == b"MNSIG2\n"
o, n, end = 7, 0, len(b) - 32
while o < end:
    ln = b[o + 32] << 8 | b[o + 33]
    o += 34 + ln
    b[o - 1] ^= 0x55        # the signature's last byte
    n += 1
assert o == end and n > 0
b[end:] = hashlib.sha256(b"_dmarc.example.com\0" + bytes(b[:end])).digest()
open(p, "wb").write(b)
EOF
ok $? "the stored signatures of _dmarc.example.com corrupted"
# (the signed zones kept whole would be served as they were: removed, the zones are signed from sigs)
rm -f "$TMP/state/dnssec/.signed-zones"
mn_start "$TMP/pol.tmpl"; ok $? "mailnsd starts again with them"
ub_start; ok $? "unbound starts again"
is "$(ub _dmarc.example.com TXT | awk '{print $1}')" SERVFAIL "a corrupted signature: unbound answers SERVFAIL"
validated s1._domainkey.example.com TXT NOERROR "the DKIM zone still validates"
ub_stop
done_testing
