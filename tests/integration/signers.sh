#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# signers.sh -- keys made by `mailns keys rotate` sign real mail that verifies
# through the real server: mailnsd serves the keys, an unbound on loopback
# reaches it by stub zones, and
#  - dkimpy (python3-dkim) signs with each active key's PEM (rsa-sha256,
#    ed25519-sha256) and verifies through unbound;
#  - opendkim-testkey checks each active key against its DNS record, through
#    the same unbound (libunbound, ResolverConfiguration: no /etc/resolv.conf);
#  - OpenDKIM itself, driven by miltertest, signs with the generated KeyTable
#    and SigningTable, and with the per-algorithm tables (OpenDKIM 2.11 signs
#    all keys of an instance with one SignatureAlgorithm, so Ed25519 and
#    dual-signing need one instance per algorithm); dkimpy verifies what it
#    signed, both signatures of the dual-sign domain;
#  - a message signed before its key was retired still verifies; once the key
#    is revoked (served as p=) it no longer does.
# Everything on 127.0.0.1; every daemon stopped by PID.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v kdig >/dev/null || skip_all "kdig is not installed"
command -v unbound >/dev/null || skip_all "unbound is not installed"
/usr/bin/python3 -c 'import dkim, dns.resolver, nacl' 2>/dev/null || skip_all "python3-dkim (dkimpy) is not installed"
PY=/usr/bin/python3
SIG="$top_srcdir/tests/integration/dkimsig.py"
mn_tmpdir
UB_PID=""
OD_PID=""
stop_all() {
	local p
	for p in $OD_PID $UB_PID; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	UB_PID=""
	OD_PID=""
	mn_cleanup
}
trap stop_all EXIT
MN_PROBE="_domainkey.rsa.example"
DOMS="dual.example ed.example rsa.example"
S="$TMP/state"
mkdir -p "$S"
mn_start "$top_srcdir/tests/integration/rotate.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves on port $MN_PORT"
P="$TMP/policy.yaml"

UB_PORT=$(mn_free_port "$MN_PORT")
OD_PORT=$(mn_free_port "$MN_PORT" "$UB_PORT")

# --- unbound: every name to mailnsd (which refuses what it does not serve) -------
{
	printf 'server:\n  interface: 127.0.0.1\n  port: %s\n' "$UB_PORT"
	printf '  do-ip4: yes\n  do-ip6: no\n  do-udp: yes\n  do-tcp: yes\n'
	printf '  access-control: 127.0.0.0/8 allow\n'
	printf '  username: ""\n  chroot: ""\n  directory: "%s"\n  pidfile: "%s"\n' "$TMP" "$TMP/unbound.pid"
	printf '  use-syslog: no\n  logfile: "%s"\n  verbosity: 1\n' "$TMP/unbound.log"
	printf '  num-threads: 1\n  so-reuseport: no\n  outgoing-interface: 127.0.0.1\n'
	printf '  do-not-query-localhost: no\n  module-config: "iterator"\n'
	printf '  harden-referral-path: no\n  qname-minimisation: no\n  target-fetch-policy: "0 0 0 0 0"\n'
	printf '  prefetch: no\n  minimal-responses: yes\n'
	# short caches: the test moves keys through their phases within seconds
	printf '  cache-max-ttl: 1\n  cache-max-negative-ttl: 1\n'
	printf 'remote-control:\n  control-enable: no\n'
	printf 'stub-zone:\n  name: "."\n  stub-addr: 127.0.0.1@%s\n' "$MN_PORT"
	for d in $DOMS; do
		printf 'stub-zone:\n  name: "_domainkey.%s"\n  stub-addr: 127.0.0.1@%s\n' "$d" "$MN_PORT"
	done
} > "$TMP/unbound.conf"
unbound -d -c "$TMP/unbound.conf" >"$TMP/unbound.out" 2>&1 &
UB_PID=$!
mn_wait_answer "$UB_PORT" _domainkey.rsa.example $UB_PID; up=$?
ok $up "unbound resolves through mailnsd on port $UB_PORT"
[ $up -eq 0 ] || { diag "$(cat "$TMP/unbound.out" "$TMP/unbound.log" 2>/dev/null | tail -20)"; done_testing; exit 1; }
# libunbound (inside opendkim and opendkim-testkey) forwards to that unbound
printf 'server:\n  do-ip6: no\n  do-not-query-localhost: no\nforward-zone:\n  name: "."\n  forward-addr: 127.0.0.1@%s\n' "$UB_PORT" > "$TMP/libunbound.conf"

served() { mn_dig +short "$2._domainkey.$1" TXT 2>/dev/null | sed 's/" "//g; s/"//g'; }
expected() { grep -v '^#' "$S/keys/$1/published" 2>/dev/null | awk 'NF { s=$1; $1=""; $2=""; sub(/^  /, ""); print s " " $0 }'; }
wait_served() {
	local i d sel rec all
	for i in $(seq 1 100); do
		all=0
		for d in $DOMS; do
			while read -r sel rec; do
				[ -n "$sel" ] || continue
				[ "$(served "$d" "$sel")" = "$rec" ] || { all=1; break; }
			done < <(expected "$d")
			[ $all -eq 0 ] || break
		done
		[ $all -eq 0 ] && { sleep 1.1; return 0; }	# and unbound's 1 s cache has expired
		sleep 0.1
	done
	return 1
}
NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
rotate() { "$MAILNS" keys rotate -c "$P" --now "@$NOW" > "$TMP/rotate.out" 2>&1; local rc=$?; wait_served; return $rc; }
phase() { "$MAILNS" keys list -c "$P" --now "@$NOW" | awk -F'\t' -v d="$1" -v s="$2" '$1 == d && $2 == s { print $4 }'; }
active() { "$MAILNS" keys list -c "$P" --now "@$NOW" | awk -F'\t' -v d="$1" -v a="$2" '$1 == d && $3 == a && $4 == "active" { print $2 }'; }

rotate; rotate
NOW=$((NOW + 3600)); rotate
is "$?" 0 "keys generated and activated"

msg() { printf 'From: user@%s\r\nTo: someone@example.net\r\nSubject: test %s\r\nMessage-ID: <%s@%s>\r\n\r\nHello from mailns.\r\n' "$1" "$2" "$2" "$1"; }

# --- dkimpy signs with each active key; dkimpy verifies through unbound --------------
for da in rsa.example:rsa-2048 ed.example:ed25519 dual.example:rsa-2048 dual.example:ed25519; do
	d=${da%%:*}
	sel=$(active "$d" "${da#*:}")
	msg "$d" "$sel" | $PY "$SIG" sign "$d" "$sel" "$S/keys/$d/$sel.pem" > "$TMP/$d.$sel.eml" 2> "$TMP/sign.err"
	ok $? "dkimpy signs for $d with $sel (${da#*:})"
	out=$($PY "$SIG" verify "$UB_PORT" < "$TMP/$d.$sel.eml" 2>&1)
	ok $? "dkimpy verifies $d $sel through unbound and mailnsd"
	[ $? -eq 0 ] || diag "$out"
done
# a tampered message fails: the verification is real
sel=$(active rsa.example rsa-2048)
sed 's/Hello from mailns./Hello from elsewhere./' "$TMP/rsa.example.$sel.eml" > "$TMP/tampered.eml"
$PY "$SIG" verify "$UB_PORT" < "$TMP/tampered.eml" > /dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "a tampered message does not verify"

# --- opendkim-testkey: each active key against DNS, through libunbound -> unbound -----
if command -v opendkim-testkey >/dev/null; then
	printf 'ResolverConfiguration %s\n' "$TMP/libunbound.conf" > "$TMP/testkey.conf"
	for da in rsa.example:rsa-2048 ed.example:ed25519 dual.example:rsa-2048 dual.example:ed25519; do
		d=${da%%:*}
		sel=$(active "$d" "${da#*:}")
		# opendkim-testkey 2.11 loads RSA private keys only (EVP_PKEY_get1_RSA):
		# an Ed25519 key is checked on its DNS record alone
		k="-k $S/keys/$d/$sel.pem"; [ "${da#*:}" = ed25519 ] && k=""
		out=$(timeout 20 opendkim-testkey -x "$TMP/testkey.conf" -d "$d" -s "$sel" $k -vvv 2>&1)
		rc=$?
		ok $([ $rc -eq 0 ] && echo "$out" | grep -q 'key OK'; echo $?) "opendkim-testkey: $d $sel key OK"
		[ $rc -eq 0 ] || diag "$out"
	done
	# the wrong private key is refused
	other=$(active rsa.example rsa-2048)
	d=dual.example
	sel=$(active "$d" rsa-2048)
	out=$(timeout 20 opendkim-testkey -x "$TMP/testkey.conf" -d "$d" -s "$sel" -k "$S/keys/rsa.example/$other.pem" 2>&1)
	ok $([ $? -ne 0 ]; echo $?) "opendkim-testkey: another key's private half does not match"
else
	diag "opendkim-testkey not installed: skipped"
fi

# --- OpenDKIM signs with the generated tables (miltertest) --------------------------
# Instance "all": KeyTable/SigningTable, OpenDKIM's defaults (rsa-sha256): an RSA
# domain.  OpenDKIM 2.11 signs every key of an instance with its one
# SignatureAlgorithm, so Ed25519 keys and dual-signing take one instance per
# algorithm, with the per-algorithm tables: "rsa" (KeyTable.rsa) and "ed25519"
# (KeyTable.ed25519, SignatureAlgorithm ed25519-sha256); the dual domain's mail
# passes both, as chained milters would do.
od_start() { # od_start NAME KEYTABLE SIGNINGTABLE [SignatureAlgorithm]: sets OD_PID, OD_PORT
	OD_PORT=$(mn_free_port "$MN_PORT" "$UB_PORT")
	{
		printf 'Mode s\nBackground no\nSyslog no\nSocket inet:%s@127.0.0.1\n' "$OD_PORT"
		printf 'PidFile %s\nKeyTable file:%s\nSigningTable refile:%s\n' "$TMP/od-$1.pid" "$2" "$3"
		printf 'MultipleSignatures yes\nCanonicalization relaxed/relaxed\n'
		printf 'SignHeaders From,To,Subject,Message-ID\nRequireSafeKeys no\nInternalHosts 127.0.0.1\n'
		printf 'ResolverConfiguration %s\n' "$TMP/libunbound.conf"
		[ -n "$4" ] && printf 'SignatureAlgorithm %s\n' "$4"
	} > "$TMP/od-$1.conf"
	opendkim -f -x "$TMP/od-$1.conf" > "$TMP/od-$1.out" 2>&1 &
	OD_PID=$!
	for i in $(seq 1 100); do
		ss -Hlnt 2>/dev/null | awk '{print $4}' | grep -qE "[:.]$OD_PORT\$" && return 0
		kill -0 $OD_PID 2>/dev/null || break
		sleep 0.1
	done
	diag "opendkim $1 did not start: $(cat "$TMP/od-$1.out")"
	return 1
}
od_stop() { kill -TERM "$OD_PID" 2>/dev/null; wait "$OD_PID" 2>/dev/null; OD_PID=""; }
od_sign() { # od_sign DOMAIN: the DKIM-Signature headers OpenDKIM adds, one per line
	cat > "$TMP/mt.lua" <<EOL
conn = mt.connect("inet:$OD_PORT@127.0.0.1", 20, 0.2)
if conn == nil then error("cannot connect to opendkim") end
if mt.conninfo(conn, "localhost", "127.0.0.1") ~= nil then error("conninfo") end
mt.macro(conn, SMFIC_MAIL, "i", "T1")
if mt.mailfrom(conn, "<user@$1>") ~= nil then error("mailfrom") end
if mt.rcptto(conn, "<someone@example.net>") ~= nil then error("rcptto") end
if mt.header(conn, "From", "user@$1") ~= nil then error("header") end
if mt.header(conn, "To", "someone@example.net") ~= nil then error("header") end
if mt.header(conn, "Subject", "test opendkim") ~= nil then error("header") end
if mt.header(conn, "Message-ID", "<od@$1>") ~= nil then error("header") end
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, "Hello from mailns.\\r\\n") ~= nil then error("body") end
if mt.eom(conn) ~= nil then error("eom") end
for i = 0, 3 do
  local v = mt.getheader(conn, "DKIM-Signature", i)
  if v == nil then break end
  print("DKIM-Signature:" .. v)
end
mt.disconnect(conn)
EOL
	timeout 30 miltertest -s "$TMP/mt.lua" 2>> "$TMP/mt.err"
}
od_msg() { # od_msg DOMAIN SIGFILE: the message with the signatures, CRLF
	{ awk '{ sub(/\r$/, ""); printf "%s\r\n", $0 }' "$2"
	  printf 'From: user@%s\r\nTo: someone@example.net\r\nSubject: test opendkim\r\nMessage-ID: <od@%s>\r\n\r\nHello from mailns.\r\n' "$1" "$1"
	}
}
if command -v opendkim >/dev/null && command -v miltertest >/dev/null; then
	O="$S/opendkim"
	: > "$TMP/od.dual.example.sig"
	for inst in all:rsa.example: rsa:dual.example: ed25519:dual.example:ed25519-sha256 ed25519:ed.example:ed25519-sha256; do
		IFS=: read -r name d alg <<< "$inst"
		case $name in all) kt="$O/KeyTable" st="$O/SigningTable" ;; *) kt="$O/KeyTable.$name" st="$O/SigningTable.$name" ;; esac
		od_start "$name" "$kt" "$st" "$alg" || { ok 1 "opendkim $name starts"; continue; }
		od_sign "$d" > "$TMP/od.sig"
		is "$(grep -c '^DKIM-Signature:' "$TMP/od.sig")" 1 "OpenDKIM ($(basename "$kt")) signs mail of $d"
		a=$(sed -n 's/.* a=\([a-z0-9-]*\);.*/\1/p' "$TMP/od.sig" | head -1)
		is "$a" "$([ "$name" = ed25519 ] && echo ed25519-sha256 || echo rsa-sha256)" "with a=$a"
		od_stop
		if [ "$d" = dual.example ]; then
			cat "$TMP/od.sig" >> "$TMP/od.dual.example.sig"
			continue
		fi
		od_msg "$d" "$TMP/od.sig" > "$TMP/od.$d.eml"
		out=$($PY "$SIG" verify "$UB_PORT" < "$TMP/od.$d.eml" 2>&1)
		ok $? "dkimpy verifies OpenDKIM's signature of $d"
		[ $? -eq 0 ] || diag "$out"
	done
	od_msg dual.example "$TMP/od.dual.example.sig" > "$TMP/od.dual.example.eml"
	out=$($PY "$SIG" verify "$UB_PORT" < "$TMP/od.dual.example.eml" 2>&1)
	ok $? "dkimpy verifies both OpenDKIM signatures of dual.example (rsa-sha256 and ed25519-sha256)"
	[ $? -eq 0 ] || diag "$out"
	is "$(echo "$out" | grep -c pass)" 2 "two passing signatures"
else
	diag "opendkim or miltertest not installed: OpenDKIM signing skipped"
fi

# --- retired keys still verify; revoked ones do not --------------------------------
old=$(active rsa.example rsa-2048)
oldmsg="$TMP/rsa.example.$old.eml"
i=0
while [ "$(phase rsa.example "$old")" = active ] && [ $i -lt 60 ]; do
	NOW=$((NOW + 43200)); rotate; i=$((i + 1))
done
while [ "$(phase rsa.example "$(awk -F'\t' '$1 == "rsa.example" && $4 == "pending" { print $2 }' <("$MAILNS" keys list -c "$P" --now "@$NOW"))")" = pending ] && [ $i -lt 60 ]; do
	NOW=$((NOW + 3600)); rotate; i=$((i + 1))
done
is "$(phase rsa.example "$old")" retired "$old has been retired"
$PY "$SIG" verify "$UB_PORT" < "$oldmsg" > "$TMP/v.out" 2>&1
ok $? "a message signed with $old (now retired) still verifies"
new=$(active rsa.example rsa-2048)
msg rsa.example new | $PY "$SIG" sign rsa.example "$new" "$S/keys/rsa.example/$new.pem" > "$TMP/new.eml"
$PY "$SIG" verify "$UB_PORT" < "$TMP/new.eml" > /dev/null 2>&1
ok $? "the successor $new signs and verifies"
while [ "$(phase rsa.example "$old")" = retired ] && [ $i -lt 80 ]; do
	NOW=$((NOW + 43200)); rotate; i=$((i + 1))
done
is "$(phase rsa.example "$old")" revoked "$old has been revoked"
is "$(served rsa.example "$old")" "v=DKIM1; p=" "$old served as p="
$PY "$SIG" verify "$UB_PORT" < "$oldmsg" > "$TMP/v.out" 2>&1
ok $([ $? -ne 0 ]; echo $?) "a message signed with $old (now revoked) no longer verifies"
diag "$(cat "$TMP/v.out")"
# a compromise: keys revoke takes effect at once
sel=$(active ed.example ed25519)
"$MAILNS" keys revoke -c "$P" --now "@$NOW" ed.example "$sel" > /dev/null
is "$?" 0 "keys revoke ed.example $sel"
wait_served
$PY "$SIG" verify "$UB_PORT" < "$TMP/ed.example.$sel.eml" > /dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "its messages no longer verify"
done_testing
