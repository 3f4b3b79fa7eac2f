#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_answers.sh -- DO-bit answers from signed zones: a validating unbound on
# 127.0.0.1 (the zones' DNSKEYs as trust anchors, stub zones to mailnsd, every other
# name to mailnsd too, so nothing leaves the machine) gets the AD bit for a DMARC
# TXT, a DKIM TXT, an NXDOMAIN, a NODATA, an empty non-terminal, an SPF macro
# wildcard answer and a wildcard NODATA; corrupted stored signatures make it SERVFAIL.
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
	cat <<EOF
server:
  interface: 127.0.0.1
  port: $UB_PORT
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$TMP"
  pidfile: "$TMP/unbound.pid"
  use-syslog: no
  logfile: "$TMP/unbound.log"
  verbosity: 1
  val-log-level: 2
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  qname-minimisation: no
  harden-referral-path: no
  target-fetch-policy: "0 0 0 0 0"
  outgoing-interface: 127.0.0.1
EOF
	for z in $ZONES; do
		mn_dig +short DNSKEY "$z" | grep '^257 ' | sed "s|^|  trust-anchor: \"$z. DNSKEY |; s|\$|\"|"
	done
	for z in $ZONES .; do
		printf 'stub-zone:\n  name: "%s"\n  stub-addr: 127.0.0.1@%s\n' "$z" "$MN_PORT"
	done
}
UB_PID=""
ub_start() {
	ub_conf >"$TMP/unbound.conf"
	unbound -d -c "$TMP/unbound.conf" >>"$TMP/unbound.out" 2>&1 &
	UB_PID=$!
	local i
	for i in $(seq 1 100); do
		kdig @127.0.0.1 -p "$UB_PORT" +time=1 +retry=0 _dmarc.example.com SOA 2>/dev/null | grep -q 'status:' && return 0
		kill -0 "$UB_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
ub_stop() {
	[ -n "$UB_PID" ] || return 0
	kill -TERM "$UB_PID" 2>/dev/null
	local i
	for i in $(seq 1 100); do
		kill -0 "$UB_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$UB_PID" 2>/dev/null && kill -KILL "$UB_PID"
	wait "$UB_PID" 2>/dev/null
	UB_PID=""
}
trap 'ub_stop; mn_cleanup' EXIT
is "$(ub_conf | grep -c 'trust-anchor:')" 3 "a trust anchor for each zone"
ub_start; ok $? "unbound starts" || diag "$(tail -n 20 "$TMP/unbound.out" "$TMP/unbound.log" 2>/dev/null)"

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
grep -i 'validation failure' "$TMP/unbound.log" | head -n 5 | while read -r l; do diag "$l"; done

# --- a broken signature: every stored signature of the DMARC zone corrupted --
ub_stop
mn_stop; ok $? "mailnsd stops"
sigs="$TMP/state/dnssec/_dmarc.example.com/sigs"
python3 - "$sigs" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
assert b[:7] == b"MNSIG1\n"
o, n = 7, 0
while o < len(b):
    ln = b[o + 32] << 8 | b[o + 33]
    o += 34 + ln
    b[o - 1] ^= 0x55        # the signature's last byte
    n += 1
assert o == len(b) and n > 0
open(p, "wb").write(b)
EOF
ok $? "the stored signatures of _dmarc.example.com corrupted"
mn_start "$TMP/pol.tmpl"; ok $? "mailnsd starts again with them"
ub_start; ok $? "unbound starts again"
is "$(ub _dmarc.example.com TXT | awk '{print $1}')" SERVFAIL "a corrupted signature: unbound answers SERVFAIL"
validated s1._domainkey.example.com TXT NOERROR "the DKIM zone still validates"
ub_stop
done_testing
