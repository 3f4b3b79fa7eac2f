#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# tcplimits.sh -- TCP limits: the memory of pipelining clients that never read
# stays bounded per connection (and the server still answers over TCP and UDP);
# a client that reads late gets every answer; a transfer client in
# server.transfer.allow gets a reserved slot when the query slots are full (and
# the reserve has its own cap); tcp_max_per_ip counts an IPv6 /56 as one client
# (in a private network namespace: skipped when unshare -n is not permitted).
. "${top_srcdir:?}/tests/tap/tap.sh"
CLIENTS="$top_srcdir/tests/integration/tcpclients.py"

# the policy: MAX and PERIP are the caps, 127.0.0.2 may transfer; 401
# RSA-4096 selectors (an AXFR of _domainkey.example.com: ~320 KB, more than the
# 16 messages sent in one turn of the loop)
BIG='"v=DKIM1; k=rsa; p=MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAoG0o2H1EsxCcwEBJ7O8uwOKaVDccAkSVDeFqrRa0aodRnfAK0JLQn3Wsb9Yt0ZhNpmvggi7oeAPM7L7hgbAjKz0+VFvosa5T2i3iGzCndEYNGAt+b0sLzKfFphqRAt6bzuiC8gMhyfX+tm0wBIOfCJO4ifYxC0ujUOOvxL9pl1X7Bu6IzUmWirOo3Ea+roOHXf3IOmcyfBLKbgIWlEA3LdhpJwLhSQgdMbQQTzBsTiCiqSs/zabE5o5KIsxTwWLp8MRRbk9vIuzVejVyfsOkzQTXvA3HdqUy7RdhZhQ8Yqjvdtui+KnmlYoKE6s7WyB0Ma3NGHeztfu2kXtJfWG0PMnUoQI9XXhTjj65FCRM0fnsnSMQs6IK3xbdkp0t086wU7R8Q1+w1izqJQq80nkJz/F3Ou1iBt0B5o1mLPcyiKoE9wkoa0as+FSN3OxvPgRqAyCAhy6xUZ+HARsu+Qr2CGjy/RcyIWfhlFiXAcooKmwn7/3B5bDXI74j9g93ej1SpN9RVRoCYRTmwDs1bJK2fiKdoEQQftbaUIo9jNJYuxz7kx5fqSHkR/peqektmdxYBL3wZcbbsiRJGzmxAMK45upi9FUjWuu4arGHjR+MVvkLUUHmlbS9JRLcIxUVvG3Y6gkBIP6YeXp1eZLEzXTGIc9jhpjNJjIOO2yPS2NbeykCAwEAAQ=="'
policy() { # policy MAX PERIP > TEMPLATE
	cat <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@", "[::1]:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  threads: 2
  tcp_idle_timeout: 60s
  tcp_max_clients: $1
  tcp_max_per_ip: $2
  transfer:
    allow: [127.0.0.2/32]
domains:
  example.com:
    dkim:
      selectors:
        big: $BIG
$(for i in $(seq 1 400); do echo "        s$i: $BIG"; done)
    dmarc: { p: reject }
EOF
}

# clients MODE PORT ARGS...: starts tcpclients.py MODE in the background (its
# PID added to CL_PIDS), waits until it writes its ready file (30 s at most)
# and sets CL_OUT to what it wrote
CL_PIDS=""
CL_N=0
CL_OUT=""
clients() {
	local mode=$1 port=$2 i
	shift 2
	CL_N=$((CL_N + 1))
	local ready="$TMP/ready.$CL_N"
	timeout 150 python3 "$CLIENTS" "$mode" "$port" "$@" "$ready" >/dev/null 2>>"$TMP/clients.err" &
	local pid=$!
	CL_PIDS="$CL_PIDS $pid"
	for i in $(seq 1 300); do
		[ -f "$ready" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	CL_OUT=$(cat "$ready" 2>/dev/null)
}
clients_stop() {
	local p
	for p in $CL_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	CL_PIDS=""
}
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$MN_PID/status"; }	# kB

# ==== the IPv6 part, run inside a private network namespace (see below) ====
if [ "${1:-}" = netns ]; then
	# prints "RC DESCRIPTION" lines for the caller to turn into TAP
	res() { echo "$1 $2"; }
	mn_tmpdir
	trap 'clients_stop; mn_cleanup' EXIT
	ip link set lo up || { res 1 "lo up in the namespace"; exit 0; }
	# fd00:1:0:0::/56 holds 0::1..0::10 and ff::1; fd00:1:0:100::1 is another /56
	for a in fd00:1::1 fd00:1::2 fd00:1::3 fd00:1::4 fd00:1::5 fd00:1::6 fd00:1::7 \
		fd00:1::8 fd00:1::9 fd00:1::10 fd00:1:0:ff::1 fd00:1:0:100::1; do
		ip -6 addr add "$a/128" dev lo nodad || { res 1 "address $a"; exit 0; }
	done
	policy 100 4 >"$TMP/t.tmpl"
	if ! mn_start "$TMP/t.tmpl"; then
		res 1 "mailnsd starts in the namespace"
		exit 0
	fi
	clients hold "$MN_PORT" ::1 fd00:1::1 fd00:1::2 fd00:1::3 fd00:1::4 fd00:1::5 \
		fd00:1::6 fd00:1::7 fd00:1::8 fd00:1::9 fd00:1::10
	r=$CL_OUT
	[ "$r" = served=4 ]; res $? "IPv6: 10 connections from 10 addresses of one /56: 4 served (tcp_max_per_ip: 4; $r)"
	clients hold "$MN_PORT" ::1 fd00:1:0:ff::1; r=$CL_OUT
	[ "$r" = served=0 ]; res $? "another /64 of the same /56 is the same client: refused ($r)"
	clients hold "$MN_PORT" ::1 fd00:1:0:100::1; r=$CL_OUT
	[ "$r" = served=1 ]; res $? "an address of another /56 is served ($r)"
	clients_stop
	for i in $(seq 1 20); do	# until the server has seen the connections close
		clients hold "$MN_PORT" ::1 fd00:1:0:ff::1; r=$CL_OUT
		[ "$r" = served=1 ] && break
		sleep 0.5
	done
	[ "$r" = served=1 ]; res $? "when the /56's connections are gone it is served again ($r)"
	clients_stop
	mn_stop; res $? "SIGTERM: exit 0"
	exit 0
fi

mn_tmpdir
trap 'clients_stop; mn_cleanup' EXIT

# ==== memory: pipelining clients that never read ====
# K connections each send up to 4 MiB of queries for the RSA-4096 selector (a
# ~750-byte answer each) and read nothing: the server holds at most ~200 KiB
# per connection (before: every answer to each 128 KiB read, ~2.5 MB).
K=16
policy 1000 64 >"$TMP/t.tmpl"
if ! mn_start "$TMP/t.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts on port $MN_PORT"
out=$(mn_dig +tcp big._domainkey.example.com TXT)
case "$out" in *"v=DKIM1"*) r=0 ;; *) r=1 ;; esac; ok $r "the RSA-4096 selector over TCP"
rss0=$(rss)
clients flood "$MN_PORT" "$K" 4; r=$CL_OUT
diag "$K pipelining clients that never read: $r"
is "${r#*open=}" "$K" "the $K connections stay open"
sent=$(echo "$r" | sed -n 's/^sent=\([0-9]*\).*/\1/p')
[ "${sent:-0}" -gt $((K * 1024 * 1024)) ]; ok $? "they sent more than 1 MiB each ($sent bytes)"
sleep 1
rss1=$(rss)
per=$(( (rss1 - rss0) / K ))
diag "VmRSS $rss0 kB -> $rss1 kB: $per kB per connection"
[ "$per" -lt 512 ]; ok $? "memory held per connection under 512 kB (got $per kB)"
out=$(mn_dig +tcp +short _dmarc.example.com TXT)
case "$out" in *"p=reject"*) r=0 ;; *) r=1 ;; esac; ok $r "meanwhile another client is answered over TCP"
out=$(mn_dig +short _dmarc.example.com TXT)
case "$out" in *"p=reject"*) r=0 ;; *) r=1 ;; esac; ok $r "and over UDP"
clients_stop

# a client that reads only after 2 s gets all of its 20,000 answers (answering
# stops while it does not read and goes on when it does)
r=$(timeout 60 python3 "$CLIENTS" pipeline "$MN_PORT" 20000 2)
is "$r" "answers=20000 ids=20000" "20,000 pipelined queries read late: every answer"
mn_stop; is "$?" 0 "SIGTERM: exit 0"

# ==== the transfer reserve ====
# 4 query slots, all taken by 127.0.0.1; 127.0.0.2 is in transfer.allow
policy 4 4 >"$TMP/t.tmpl"
if ! mn_start "$TMP/t.tmpl"; then
	ok 1 "mailnsd starts (tcp_max_clients: 4)"
	done_testing
	exit 1
fi
clients hold "$MN_PORT" 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1; r=$CL_OUT
is "$r" served=4 "5 connections from 127.0.0.1: 4 served (tcp_max_clients: 4)"
clients hold "$MN_PORT" 127.0.0.1 127.0.0.3; r=$CL_OUT
is "$r" served=0 "the slots are full: 127.0.0.3 (not in transfer.allow) is refused"
axfr() { # axfr SRC: the SOA records in an AXFR of _domainkey.example.com from SRC
	kdig @127.0.0.1 -p "$MN_PORT" -b "$1" +time=5 +retry=0 AXFR _domainkey.example.com \
		>"$TMP/axfr.out" 2>&1
	awk '$4 == "SOA"' "$TMP/axfr.out" | wc -l
}
is "$(axfr 127.0.0.2)" 2 "127.0.0.2 (transfer.allow) still transfers the zone: AXFR complete"
diag "$(grep -E '^;; Received' "$TMP/axfr.out")"
is "$(axfr 127.0.0.3)" 0 "127.0.0.3 does not"
sleep 1	# the transfer's connection closed: its reserved slot free again
clients hold "$MN_PORT" 127.0.0.1 $(printf '127.0.0.2 %.0s' $(seq 1 20)); r=$CL_OUT
is "$r" served=16 "20 more connections from 127.0.0.2: the reserve of 16 served, no more"
clients_stop
mn_stop; is "$?" 0 "SIGTERM: exit 0"
! grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error|not closed cleanly' "$MN_LOG"
ok $? "no sanitizer report, every loop closed"

# ==== IPv6: one /56 is one client (in a network namespace of its own) ====
if ! unshare -n true 2>/dev/null; then
	TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP IPv6 /56 cap: unshare -n not permitted"
elif ! command -v ip >/dev/null; then
	TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP IPv6 /56 cap: no ip command"
else
	got=0
	while read -r rc desc; do
		case "$rc" in
		0 | 1) ok "$rc" "$desc"; got=$((got + 1)) ;;
		*) diag "$rc $desc" ;;
		esac
	done < <(timeout 120 unshare -n bash "$top_srcdir/tests/integration/tcplimits.sh" netns)
	[ "$got" -eq 5 ]; ok $? "the namespace part ran to its end ($got of 5 results)"
fi

done_testing
