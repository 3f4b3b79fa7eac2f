#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# server.sh -- the real mailnsd on loopback, queried with kdig, dig, drill and
# crafted packets: every DNS behaviour of SPEC 4.3 but transfers, reload on
# SIGHUP (a broken policy keeps the old answers), clean stop, serials.
. "${top_srcdir:?}/tests/tap/tap.sh"
PROBE="python3 $top_srcdir/tests/integration/probe.py"
mn_tmpdir
if ! mn_start "$top_srcdir/tests/integration/server.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts on 127.0.0.1 and ::1 port $MN_PORT"
P=$MN_PORT

# answer NAME TYPE [KDIG-ARGS]: the rdata of the answer section, one per line
answer() { local n=$1 t=$2; shift 2; mn_dig "$@" +noall +answer "$n" "$t" | awk '{ $1=$2=$3=$4=""; sub(/^ +/, ""); print }'; }
# status NAME TYPE [KDIG-ARGS]: "STATUS flags" of the response header
status() { local n=$1 t=$2; shift 2; mn_dig "$@" "$n" "$t" | sed -n 's/^;; ->>HEADER<<- opcode: QUERY; status: \([A-Z]*\); id: .*/\1/p;s/^;; Flags: \([a-z ]*\);.*/\1/p' | tr '\n' ' ' | sed 's/ *$//'; }
# section NAME TYPE SECTION: the records of one section, full lines
section() { mn_dig +noall "+$3" "$1" "$2"; }

# --- positive answers, AA, RA clear -----------------------------------------
is "$(status _dmarc.example.com TXT)" "NOERROR qr aa rd" "DMARC query: NOERROR, AA set, RA clear"
is "$(answer _dmarc.example.com TXT)" '"v=DMARC1; p=reject; rua=mailto:d@example.com"' "DMARC record, v first and p second"
is "$(answer '*._report._dmarc.example.com' TXT)" '"v=DMARC1"' "report authorization wildcard record"
is "$(answer other.org._report._dmarc.example.com TXT)" '"v=DMARC1"' "report authorization synthesized from the wildcard"
spf=$(answer _spf.example.com TXT)
is "$spf" '"v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 ip6:2001:db8::/48 -all"' "flattened SPF: adjacent networks merged"
small=$(answer small._domainkey.example.com TXT)
case "$small" in '"v=DKIM1; k=ed25519; p='*) r=0 ;; *) r=1 ;; esac
ok $r "DKIM selector from the policy is served"
is "$(answer _dmarc.example.org TXT)" '"v=DMARC1; p=none"' "second domain's DMARC"
is "$(answer _spf.example.org TXT)" '"v=spf1 exists:%{ir}.%{v}._spf.example.org ~all"' "macro-mode SPF record"
is "$(mn_dig +short _dmarc.example.com SOA | awk '{print $1, $2}')" "ns1.example.net. hostmaster.example.net." "SOA at the apex"
is "$(mn_dig +short _dmarc.example.com NS | sort | tr '\n' ' ')" "ns1.example.net. ns2.example.net. " "NS at the apex"

# --- other real clients, and IPv6 -------------------------------------------
is "$(dig @127.0.0.1 -p "$P" +time=2 +tries=1 +short _dmarc.example.com TXT)" '"v=DMARC1; p=reject; rua=mailto:d@example.com"' "dig gets the same answer"
drill -p "$P" _dmarc.example.com TXT @127.0.0.1 2>&1 | grep -q 'v=DMARC1; p=reject' ; ok $? "drill gets the same answer"
is "$(kdig @::1 -p "$P" +time=2 +retry=0 +short _dmarc.example.com TXT)" '"v=DMARC1; p=reject; rua=mailto:d@example.com"' "answer over IPv6 (::1)"
is "$(kdig @::1 -p "$P" +tcp +time=2 +retry=0 +short _dmarc.example.com TXT)" '"v=DMARC1; p=reject; rua=mailto:d@example.com"' "answer over TCP on IPv6"

# --- REFUSED outside the served zones ---------------------------------------
is "$(status example.com TXT)" "REFUSED qr rd" "the domain itself is not served: REFUSED, no AA"
is "$(mn_dig +noall +answer +authority example.com TXT | grep -vc '^;')" "0" "REFUSED carries no records"
is "$(status www.example.net A)" "REFUSED qr rd" "unrelated name: REFUSED"

# --- NXDOMAIN and NODATA with the SOA, negative TTL --------------------------
is "$(status nope._domainkey.example.com TXT)" "NXDOMAIN qr aa rd" "unknown selector: NXDOMAIN with AA"
auth=$(section nope._domainkey.example.com TXT authority)
is "$(echo "$auth" | awk '{print $1, $2, $4}')" "_domainkey.example.com. 300 SOA" "NXDOMAIN: zone SOA in authority with TTL min(SOA TTL, minimum)"
is "$(status _dmarc.example.com A)" "NOERROR qr aa rd" "NODATA: NOERROR"
is "$(section _dmarc.example.com A answer | grep -vc '^;')" "0" "NODATA: no answer"
is "$(section _dmarc.example.com A authority | awk '{print $1, $2, $4}')" "_dmarc.example.com. 300 SOA" "NODATA: SOA in authority"
is "$(status in-addr._spf.example.org A)" "NOERROR qr aa rd" "empty non-terminal: NODATA, not NXDOMAIN"
is "$(section in-addr._spf.example.org A answer | grep -vc '^;')" "0" "empty non-terminal: no answer"

# --- wildcards (RFC 4592) and letter case -----------------------------------
is "$(answer 7.113.0.203.in-addr._spf.example.org A)" "127.0.0.2" "macro wildcard answers an address in 203.0.113.0/24"
is "$(section 7.113.0.203.in-addr._spf.example.org A answer | awk '{print $1}')" "7.113.0.203.in-addr._spf.example.org." "wildcard answer owner is the query name"
is "$(status 7.114.0.203.in-addr._spf.example.org A)" "NXDOMAIN qr aa rd" "an address outside the set: NXDOMAIN"
v6="1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.3.2.1.8.B.D.0.1.0.0.2.IP6._spf.example.org"
is "$(answer "$v6" A)" "127.0.0.2" "IPv6 nibble wildcard, upper-case nibbles"
is "$(status 113.0.203.in-addr._spf.example.org A)" "NOERROR qr aa rd" "the wildcard's parent exists (ENT): no synthesis, NODATA"
is "$(dig @127.0.0.1 -p "$P" +time=2 +tries=1 +noall +answer _DMARC.Example.COM TXT | awk '{print $1}')" "_DMARC.Example.COM." "matching is case-insensitive; the question's case is preserved"
is "$(status '*._report._dmarc.example.com' A)" "NOERROR qr aa rd" "the wildcard name itself, other type: NODATA"

# --- EDNS(0) -----------------------------------------------------------------
o=$(mn_dig +edns +bufsize=4096 _dmarc.example.com TXT)
echo "$o" | grep -qE '(EDNS: version: 0|Version: 0;).*UDP size: 1232 B'; ok $? "EDNS: the response offers 1232 bytes"
o=$(mn_dig +noedns _dmarc.example.com TXT)
echo "$o" | grep -q 'EDNS'; ok $((! $?)) "no OPT in a response to a query without one"
is "$(status _dmarc.example.com TXT +edns=1)" "BADVERS qr aa rd" "EDNS version 1: BADVERS"
is "$($PROBE "$P" udp _dmarc.example.com 16 edns=1232,1)" "rcode=NOERROR flags=qr,aa,rd qd=1 an=0 ns=0 ar=1 id=4660" "BADVERS: no answer, OPT present (extended rcode)"

# --- truncation: too big for the client's UDP size, complete over TCP ---------
is "$(status big._domainkey.example.com TXT +noedns +ignore)" "NOERROR qr aa tc rd" "a 4096-bit key over UDP without EDNS: TC"
is "$($PROBE "$P" udp big._domainkey.example.com 16)" "rcode=NOERROR flags=qr,aa,tc,rd qd=1 an=0 ns=0 ar=0 id=4660" "TC response has no records"
is "$(answer big._domainkey.example.com TXT +tcp | wc -l)" "1" "the same answer is complete over TCP"
is "$(status big._domainkey.example.com TXT +edns +bufsize=1232)" "NOERROR qr aa rd" "and fits with EDNS 1232"

# --- opcodes, malformed and hostile packets ----------------------------------
is "$($PROBE "$P" udp _dmarc.example.com 16 opcode=2)" "rcode=NOTIMP flags=qr,rd qd=1 an=0 ns=0 ar=0 id=4660" "opcode STATUS: NOTIMP"
is "$($PROBE "$P" udp _dmarc.example.com 16 qdcount=2)" "rcode=FORMERR flags=qr,rd qd=0 an=0 ns=0 ar=0 id=4660" "QDCOUNT 2: FORMERR"
is "$($PROBE "$P" rawudp 123401000000000000000000)" "rcode=FORMERR flags=qr,rd qd=0 an=0 ns=0 ar=0 id=4660" "QDCOUNT 0: FORMERR"
is "$($PROBE "$P" rawudp 1234010000010000000000000c5f646d617263)" "rcode=FORMERR flags=qr,rd qd=0 an=0 ns=0 ar=0 id=4660" "truncated question: FORMERR with the header echoed"
is "$($PROBE "$P" rawudp 1234010000010000000000004061626300100001)" "rcode=FORMERR flags=qr,rd qd=0 an=0 ns=0 ar=0 id=4660" "extended label type in the question: FORMERR"
is "$($PROBE "$P" rawudp 1234010000010000000000c00c00100001)" "rcode=FORMERR flags=qr,rd qd=0 an=0 ns=0 ar=0 id=4660" "compression pointer in the question: FORMERR"
is "$($PROBE "$P" udp _dmarc.example.com 16 qr)" "noresponse" "QR=1: no reply"
is "$($PROBE "$P" rawudp 12340100)" "noresponse" "4-byte packet: dropped"
is "$($PROBE "$P" tcp 12)" "noresponse" "1-byte TCP message: no answer"
is "$($PROBE "$P" storm 3000 7)" "sent 3000" "3000 random, bit-flipped and truncated packets sent"
kill -0 "$MN_PID"; ok $? "the server survived them"
is "$(status _dmarc.example.com TXT)" "NOERROR qr aa rd" "still answering after hostile packets"
is "$(mn_dig +noall +answer _dmarc.example.com ANY | grep -vc '^;')" "1" "ANY (RFC 8482): one RRset"

# --- TCP: pipelining, idle timeout, per-address cap --------------------------
is "$($PROBE "$P" pipeline 20 _dmarc.example.com)" "answered 20 of 20" "TCP pipelining: 20 queries in one write, 20 answers"
is "$($PROBE "$P" idle 6)" "closed after 2 s" "TCP idle timeout (2 s in this policy) closes a silent connection"
is "$($PROBE "$P" conns 8 _dmarc.example.com)" "answered 4" "TCP connections per client address capped at 4"
is "$(status _dmarc.example.com TXT +tcp)" "NOERROR qr aa rd" "TCP answers again once those are closed"

# --- serials, SIGHUP reload ----------------------------------------------------
serial() { mn_dig +short "$1" SOA | awk '{print $3}'; }
s_dmarc=$(serial _dmarc.example.com)
s_dkim=$(serial _domainkey.example.com)
[ -n "$s_dmarc" ] && [ "$s_dmarc" -gt 0 ]; ok $? "serial of _dmarc.example.com is $s_dmarc"

cp "$TMP/policy.yaml" "$TMP/good.yaml"
sed -i 's/^  negative_ttl: 300/  negative_ttl: 300\n  tll: 5/' "$TMP/policy.yaml"
line=$(grep -n '^  tll' "$TMP/policy.yaml" | cut -d: -f1)
kill -HUP "$MN_PID"
for i in $(seq 1 50); do grep -q 'reload failed' "$MN_LOG" && break; sleep 0.1; done
grep 'reload failed' "$MN_LOG" | grep -q "policy.yaml:$line:3: error: unknown key 'tll'"; ok $? "a broken policy on SIGHUP: the log names the position (policy.yaml:$line:3)"
is "$(answer _dmarc.example.com TXT)" '"v=DMARC1; p=reject; rua=mailto:d@example.com"' "and the old answers stay"

sed 's/^      p: reject/      p: quarantine/' "$TMP/good.yaml" > "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 50); do
	[ "$(answer _dmarc.example.com TXT)" = '"v=DMARC1; p=quarantine; rua=mailto:d@example.com"' ] && break
	sleep 0.1
done
is "$(answer _dmarc.example.com TXT)" '"v=DMARC1; p=quarantine; rua=mailto:d@example.com"' "a valid change on SIGHUP is served"
s2=$(serial _dmarc.example.com)
[ -n "$s2" ] && [ "$s2" -gt "$s_dmarc" ]; ok $? "the changed zone's serial increased ($s_dmarc -> $s2)"
is "$(serial _domainkey.example.com)" "$s_dkim" "an unchanged zone keeps its serial"

# --- clean stop, restart keeps serials ----------------------------------------
mn_stop; is "$?" 0 "SIGTERM: clean exit 0"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$MN_LOG"; ok $((! $?)) "no sanitizer report in the server log"
"$MAILNSD" -f -c "$TMP/policy.yaml" >>"$MN_LOG" 2>&1 &
MN_PID=$!
for i in $(seq 1 100); do [ -n "$(serial _dmarc.example.com)" ] && break; sleep 0.1; done
is "$(serial _dmarc.example.com)" "$s2" "after a restart the serial is the same ($s2)"
mn_stop; is "$?" 0 "second clean stop"

# --- startup with a broken policy ----------------------------------------------
printf 'version: 1\nserver:\n  listen: ["127.0.0.1:%s"]\n  nameservers: [ns1.example.net]\n  hostmaster: h.example.net\n  bogus: 1\n' "$P" > "$TMP/bad.yaml"
out=$("$MAILNSD" -f -c "$TMP/bad.yaml" 2>&1); rc=$?
is "$rc" 1 "a broken policy at startup: exit 1"
echo "$out" | grep -q "bad.yaml:6:3: error: unknown key 'bogus'"; ok $? "with the diagnostic at its position"
"$MAILNSD" --version >/dev/null; ok $? "mailnsd --version"
"$MAILNSD" --bogus >/dev/null 2>&1; is "$?" 2 "mailnsd: bad usage exits 2"

done_testing
