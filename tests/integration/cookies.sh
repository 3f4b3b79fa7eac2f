#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# cookies.sh -- DNS cookies (RFC 7873, RFC 9018 server cookies), NSID (RFC 5001)
# and CHAOS version.bind / id.server, against the real mailnsd with kdig and dig:
# answered only when configured.
. "${top_srcdir:?}/tests/tap/tap.sh"
mn_tmpdir

cat >"$TMP/on.tmpl" <<'EOF'
version: 1
server:
  listen: ["127.0.0.1:@PORT@", "[::1]:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  identity: ns1.test.example
  version: "mailns test 1"
domains:
  example.com:
    dmarc: { p: reject }
EOF
if ! mn_start "$TMP/on.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts with identity and version"

# rcode NAME TYPE [KDIG-ARGS]: the status of the response
rcode() { local n=$1 t=$2; shift 2; mn_dig "$@" "$n" "$t" 2>/dev/null | sed -n 's/^;; ->>HEADER<<- opcode: QUERY; status: \([A-Z]*\);.*/\1/p'; }
# cookie [KDIG-ARGS]: the COOKIE of the response to _dmarc.example.com TXT, hex
cookie() { mn_dig "$@" _dmarc.example.com TXT | sed -n 's/^;; COOKIE: \([0-9A-F]*\).*/\1/p'; }

# --- CHAOS -------------------------------------------------------------------
is "$(mn_dig +short CH TXT version.bind)" '"mailns test 1"' "CH TXT version.bind: server.version"
is "$(mn_dig +short CH TXT version.server)" '"mailns test 1"' "CH TXT version.server: server.version"
is "$(mn_dig +short CH TXT id.server)" '"ns1.test.example"' "CH TXT id.server: server.identity"
is "$(mn_dig +short CH TXT hostname.bind)" '"ns1.test.example"' "CH TXT hostname.bind: server.identity"
is "$(mn_dig +noall +answer CH TXT version.bind | awk '{print $1, $2, $3, $4}')" "version.bind. 0 CH TXT" \
	"the CHAOS answer: owner, TTL 0, class CH"
is "$(rcode authors.bind TXT -c CH)" "REFUSED" "another CHAOS name: REFUSED"
is "$(dig @127.0.0.1 -p "$MN_PORT" +time=2 +tries=1 +short CH TXT version.bind)" '"mailns test 1"' "dig gets the same"

# --- NSID ----------------------------------------------------------------------
is "$(mn_dig +nsid _dmarc.example.com TXT | sed -n 's/^;; NSID: .*"\(.*\)"$/\1/p')" "ns1.test.example" \
	"kdig +nsid: the identity"
is "$(mn_dig +nsid +tcp _dmarc.example.com TXT | sed -n 's/^;; NSID: .*"\(.*\)"$/\1/p')" "ns1.test.example" \
	"kdig +nsid over TCP: the identity"
mn_dig _dmarc.example.com TXT | grep -q NSID; ok $((! $?)) "no NSID without asking"
dig @127.0.0.1 -p "$MN_PORT" +time=2 +tries=1 +nsid _dmarc.example.com TXT | grep -q '^; NSID: .*("ns1.test.example")'
ok $? "dig +nsid: the identity"

# --- cookies -----------------------------------------------------------------------
c1=$(cookie +cookie=0011223344556677)
is "${#c1}" 48 "a client cookie gets client + server cookie back (24 bytes)"
is "${c1:0:16}" "0011223344556677" "the client cookie echoed"
is "${c1:16:8}" "01000000" "server cookie version 1, reserved 0 (RFC 9018)"
ts=$((16#${c1:24:8})); now=$(date +%s)
[ $((ts - now)) -le 5 ] && [ $((now - ts)) -le 60 ]; ok $? "server cookie timestamp is now ($ts, $now)"
is "$(rcode _dmarc.example.com TXT +cookie="$c1")" "NOERROR" "the server cookie echoed: accepted (NOERROR)"
is "$(mn_dig +short +cookie="$c1" _dmarc.example.com TXT)" '"v=DMARC1; p=reject"' "... with the answer"
c2=$(cookie +cookie="$c1")
is "${c2:0:16}" "0011223344556677" "a fresh server cookie for the same client cookie"
bad="${c1:0:40}00000000"
is "$(rcode _dmarc.example.com TXT +cookie="$bad" +nobadcookie)" "BADCOOKIE" "a bad server cookie over UDP: BADCOOKIE"
is "$(mn_dig +nobadcookie +cookie="$bad" _dmarc.example.com TXT | grep -c 'v=DMARC1')" 0 "BADCOOKIE: no answer"
c3=$(cookie +cookie="$bad" +nobadcookie)
is "${c3:0:16}:${#c3}" "0011223344556677:48" "BADCOOKIE: a fresh server cookie to retry with"
is "$(rcode _dmarc.example.com TXT +cookie="$c3")" "NOERROR" "the fresh cookie is accepted"
is "$(rcode _dmarc.example.com TXT +cookie="$bad" +tcp)" "NOERROR" "a bad server cookie over TCP: answered (RFC 7873 5.2.4)"
# the cookie is bound to the client address: 127.0.0.1's cookie is bad from ::1
is "$(kdig @::1 -p "$MN_PORT" +time=2 +retry=0 +nobadcookie +cookie="$c1" _dmarc.example.com TXT |
	sed -n 's/^;; ->>HEADER<<- opcode: QUERY; status: \([A-Z]*\);.*/\1/p')" "BADCOOKIE" \
	"a server cookie from another client address: BADCOOKIE"
is "$(rcode _dmarc.example.com TXT +ednsopt=10:0011223344)" "FORMERR" "a COOKIE option of 5 bytes: FORMERR"
is "$(rcode _dmarc.example.com TXT +ednsopt=10:001122334455667788)" "FORMERR" "a COOKIE option of 9 bytes: FORMERR"
dig @127.0.0.1 -p "$MN_PORT" +time=2 +tries=1 +cookie _dmarc.example.com TXT | grep -q '^; COOKIE: [0-9a-f]\{48\} (good)'
ok $? "dig +cookie: the server cookie is good"
mn_stop; is "$?" 0 "clean stop"

# --- nothing configured: no NSID, CHAOS refused; a configured secret is used ---------------
cat >"$TMP/off.tmpl" <<'EOF'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  cookie_secret: e5e973e5a6b2a43f48e7dc849e37bfcf
domains:
  example.com:
    dmarc: { p: reject }
EOF
if ! mn_start "$TMP/off.tmpl"; then
	ok 1 "mailnsd starts without identity and version"
	done_testing
	exit 1
fi
is "$(rcode version.bind TXT -c CH)" "REFUSED" "no server.version: CH version.bind REFUSED"
is "$(rcode id.server TXT -c CH)" "REFUSED" "no server.identity: CH id.server REFUSED"
mn_dig +nsid _dmarc.example.com TXT | grep -q NSID; ok $((! $?)) "no server.identity: no NSID"
c4=$(cookie +cookie=0011223344556677)
is "$(rcode _dmarc.example.com TXT +cookie="$c4")" "NOERROR" "a cookie made with cookie_secret is accepted"
# the same secret after a restart: the cookie stays valid
mn_stop
mn_start "$TMP/off.tmpl" || ok 1 "restart"
is "$(rcode _dmarc.example.com TXT +cookie="$c4" +nobadcookie)" "NOERROR" \
	"server.cookie_secret: a cookie stays valid across restarts"
mn_stop; is "$?" 0 "clean stop"
done_testing
