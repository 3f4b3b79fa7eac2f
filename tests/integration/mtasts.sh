#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mtasts.sh -- mailnsd serves _mta-sts.D, _smtp._tls.D and default._bimi.D (kdig, UDP
# and TCP, 127.0.0.1 and ::1); the MTA-STS id is the SHA-256 of the policy text as
# RFC 8461 writes it (computed here with sha256sum), changes on a reload that changes
# the text, stays on a reload that does not and after a restart.  The policy file
# state_dir/mta-sts/D/.well-known/mta-sts.txt holds that text (0644, directories
# 0755) whenever its id is served: a file that cannot be written (a symbolic link
# planted in the path) fails the reload and the old id stays.  `mailns check` writes
# no file, `mailns zone` does; server.mta_sts_dir moves them.  The quick start's
# examples/policy.yaml publishes the three records.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v kdig >/dev/null || skip_all "kdig not installed"
command -v sha256sum >/dev/null || skip_all "sha256sum not installed"
mn_tmpdir

cat >"$TMP/t.tmpl" <<'YAML'
version: 1
server:
  listen: ["127.0.0.1:@PORT@", "[::1]:@PORT@"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
defaults:
  tls_rpt: { rua: ["mailto:tlsrpt@example.com"] }
domains:
  example.com:
    dmarc: { p: reject }
    mta_sts: { mode: enforce, mx: [mx1.example.com, "*.mail.example.net"], max_age: 7d }
    bimi: { logo: "https://example.com/brand.svg", authority: "https://example.com/vmc.pem" }
  example.org:
    dmarc: { p: quarantine }
YAML

# id TEXT: what the id of a policy text must be
id() { printf '%s' "$1" | sha256sum | cut -c1-32; }
# fid FILE: the same of a file's bytes (its text exactly: $(cat) would drop the last LF)
fid() { sha256sum <"$1" 2>/dev/null | cut -c1-32; }
CRLF=$'\r\n'
P1="version: STSv1${CRLF}mode: enforce${CRLF}mx: mx1.example.com${CRLF}mx: *.mail.example.net${CRLF}max_age: 604800${CRLF}"
P2="version: STSv1${CRLF}mode: testing${CRLF}mx: mx1.example.com${CRLF}mx: *.mail.example.net${CRLF}max_age: 604800${CRLF}"
ID1=$(id "$P1")
ID2=$(id "$P2")

if ! mn_start "$TMP/t.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts"
F="$TMP/state/mta-sts/example.com/.well-known/mta-sts.txt"
is "$(fid "$F")" "$ID1" "the policy file holds exactly the policy text (CRLF lines)"
is "$(stat -c %a "$F" "$TMP/state/mta-sts/example.com/.well-known" "$TMP/state/mta-sts/example.com" 2>&1 | tr '\n' ' ')" \
	"644 755 755 " "file 0644, directories 0755"
ok "$([ ! -e "$TMP/state/mta-sts/example.org" ]; echo $?)" "no file for a domain without mta_sts"
txt() { mn_dig +short "$@" TXT | tr -d '"'; }
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$ID1" "_mta-sts.example.com TXT: the id of the policy text"
is "$(txt +tcp _mta-sts.example.com)" "v=STSv1; id=$ID1" "the same over TCP"
is "$(kdig @::1 -p "$MN_PORT" +time=2 +retry=0 +short _mta-sts.example.com TXT | tr -d '"')" "v=STSv1; id=$ID1" \
	"the same over ::1"
is "$(txt _smtp._tls.example.com)" "v=TLSRPTv1; rua=mailto:tlsrpt@example.com" "_smtp._tls.example.com TXT (from defaults)"
is "$(txt _smtp._tls.example.org)" "v=TLSRPTv1; rua=mailto:tlsrpt@example.com" "_smtp._tls.example.org TXT (from defaults)"
is "$(txt default._bimi.example.com)" "v=BIMI1; l=https://example.com/brand.svg; a=https://example.com/vmc.pem" \
	"default._bimi.example.com TXT"
is "$(mn_dig +short _mta-sts.example.com SOA | awk '{print $1}')" "ns1.example.net." "_mta-sts.example.com has its SOA"
is "$(mn_dig +short _smtp._tls.example.com NS | sort | tr '\n' ' ')" "ns1.example.net. ns2.example.net. " \
	"_smtp._tls.example.com has its NS"
is "$(mn_dig _mta-sts.example.org TXT | grep -o 'status: [A-Z]*')" "status: REFUSED" \
	"no mta_sts for example.org: no _mta-sts.example.org zone (REFUSED)"
is "$(mn_dig _bimi.example.org SOA | grep -o 'status: [A-Z]*')" "status: REFUSED" "no bimi: no _bimi zone"

# a reload that does not change the policy text keeps the id
sed -i 's/^  ttl: .*//; s/^  user: root$/  user: root\n  ttl: 600/' "$TMP/policy.yaml"
serial0=$(mn_dig +short _mta-sts.example.com SOA | awk '{print $3}')
kill -HUP "$MN_PID"
ttl() { mn_dig _mta-sts.example.com TXT | awk '$1 !~ /^;/ && $4 == "TXT" { print $2; exit }'; }
for i in $(seq 1 100); do [ "$(ttl)" = 600 ] && break; sleep 0.1; done
is "$(ttl)" 600 "a reload with ttl 600 is served"
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$ID1" "the same policy text: the same id"

# a reload that changes the text changes the id
sed -i 's/mode: enforce/mode: testing/' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 100); do [ "$(txt _mta-sts.example.com)" = "v=STSv1; id=$ID2" ] && break; sleep 0.1; done
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$ID2" "mode testing: the id of the new text"
is "$(fid "$F")" "$ID2" "the file already holds the new text"
ok "$([ "$ID1" != "$ID2" ]; echo $?)" "(and that id is another)"
serial1=$(mn_dig +short _mta-sts.example.com SOA | awk '{print $3}')
ok "$([ "$serial1" -gt "$serial0" ]; echo $?)" "the zone's serial grew ($serial0 -> $serial1)"

# a file that cannot be written: the reload fails, the old id stays served.
# The edits above also woke the file watcher: let its reloads finish first, or one
# of them recreates .well-known under the link.
mn_reloads_settled; ok $? "no reload pending"
WK="$TMP/state/mta-sts/example.com/.well-known"
mv "$WK" "$TMP/wk.real"
mkdir "$TMP/elsewhere"
ln -s "$TMP/elsewhere" "$WK"
sed -i 's/max_age: 7d/max_age: 8d/' "$TMP/policy.yaml"
fails0=$(grep -c 'reload failed' "$MN_LOG")
kill -HUP "$MN_PID"
for i in $(seq 1 100); do [ "$(grep -c 'reload failed' "$MN_LOG")" -gt "$fails0" ] && break; sleep 0.1; done
ok "$([ "$(grep -c 'reload failed' "$MN_LOG")" -gt "$fails0" ]; echo $?)" "a symbolic link in the path: the reload fails"
grep 'mta-sts.txt' "$MN_LOG" | tail -n 1 | grep -q 'cannot write the MTA-STS policy'; ok $? "naming the file"
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$ID2" "the old id is still served"
ok "$([ -z "$(ls -A "$TMP/elsewhere")" ]; echo $?)" "nothing written through the link"
rm "$WK"
mv "$TMP/wk.real" "$WK"
sed -i 's/max_age: 8d/max_age: 7d/' "$TMP/policy.yaml"
kill -HUP "$MN_PID"

# the same after a restart
mn_stop; ok $? "mailnsd stops cleanly"
cp "$TMP/policy.yaml" "$TMP/kept.yaml"
port=$MN_PORT
sed -e "s|127.0.0.1:$port|127.0.0.1:@PORT@|; s|\[::1\]:$port|[::1]:@PORT@|" "$TMP/kept.yaml" >"$TMP/t2.tmpl"
if mn_start "$TMP/t2.tmpl"; then
	is "$(txt _mta-sts.example.com)" "v=STSv1; id=$ID2" "after a restart: the same id"
	is "$(mn_dig +short _mta-sts.example.com SOA | awk '{print $3}')" "$serial1" "and the same serial"
	mn_stop; ok $? "mailnsd stops cleanly"
else
	ok 1 "mailnsd restarts"
fi

# mailns check writes nothing; mailns zone writes the files, to server.mta_sts_dir when set
sed -e "s|$TMP/state|$TMP/state2|" "$TMP/kept.yaml" >"$TMP/c.yaml"
"$MAILNS" check -c "$TMP/c.yaml" >/dev/null 2>&1; ok $? "mailns check"
ok "$([ ! -e "$TMP/state2/mta-sts" ]; echo $?)" "mailns check writes no policy file"
sed -i "s|^  user: root$|  user: root\n  mta_sts_dir: $TMP/www|" "$TMP/c.yaml"
out=$("$MAILNS" zone -c "$TMP/c.yaml" _mta-sts.example.com); ok $? "mailns zone _mta-sts.example.com"
echo "$out" | grep -q "v=STSv1; id=$ID2"; ok $? "prints the id"
is "$(fid "$TMP/www/example.com/.well-known/mta-sts.txt")" "$ID2" "and wrote the file under server.mta_sts_dir"

# the quick start's example policy (README) publishes the three records for example.com
mkdir -p "$TMP/ex"
cp -r "$top_srcdir/examples/." "$TMP/ex/"
sed -i "s|^  state_dir: .*|  state_dir: $TMP/ex/state|" "$TMP/ex/policy.yaml"
out=$("$MAILNS" zone -c "$TMP/ex/policy.yaml" _mta-sts.example.com _smtp._tls.example.com _bimi.example.com 2>&1)
ok $? "examples/policy.yaml: mailns zone of the three zones"
PE="version: STSv1${CRLF}mode: enforce${CRLF}mx: mx1.example.com${CRLF}mx: *.mail.example.com${CRLF}max_age: 604800${CRLF}"
is "$(printf '%s\n' "$out" | awk '$4 == "TXT"' | cut -f1,5- | tr -d '"' | sort)" \
"$(printf '%s\t%s\n' "_mta-sts.example.com." "v=STSv1; id=$(id "$PE")" \
	"_smtp._tls.example.com." "v=TLSRPTv1; rua=mailto:tlsrpt@example.com" \
	"default._bimi.example.com." "v=BIMI1; l=https://example.com/brand.svg" | sort)" \
	"examples/policy.yaml: example.com's _mta-sts, _smtp._tls and default._bimi records"
is "$(fid "$TMP/ex/state/mta-sts/example.com/.well-known/mta-sts.txt")" "$(id "$PE")" "and its MTA-STS policy file"
done_testing
