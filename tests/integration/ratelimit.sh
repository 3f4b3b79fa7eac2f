#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# ratelimit.sh -- server.rate_limit (RRL): a bounded UDP flood from 127.0.0.1 is
# limited (most responses dropped, every 2nd limited one sent truncated), while
# another IPv4 /24 (127.0.1.1), ::1 and TCP are answered in full meanwhile;
# rate_limit_slip: 0 drops all; without rate_limit the default (200) limits;
# rate_limit: 0 limits nothing.
. "${top_srcdir:?}/tests/tap/tap.sh"
FLOOD="python3 $top_srcdir/tests/integration/flood.py"
mn_tmpdir

cat >"$TMP/rrl.tmpl" <<'EOF'
version: 1
server:
  listen: ["127.0.0.1:@PORT@", "[::1]:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  rate_limit: 50
  metrics: "127.0.0.1:@MPORT@"
domains:
  example.com:
    dmarc: { p: reject }
EOF
MPORT=$(mn_free_port)
sed -i "s|@MPORT@|$MPORT|" "$TMP/rrl.tmpl"
if ! mn_start "$TMP/rrl.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts with rate_limit: 50 on port $MN_PORT"
sleep 1.1	# the start-up probes used some of 127.0.0.1's tokens: let the bucket refill

# reload: SIGHUP (the file watcher may reload too); waits until every reload started is done
reload() {
	local n0 i
	n0=$(grep -c 'reloaded' "$MN_LOG")
	kill -HUP "$MN_PID"
	for i in $(seq 1 100); do
		[ "$(grep -c 'reloaded' "$MN_LOG")" -gt "$n0" ] &&
			[ "$(grep -c ': reloading /' "$MN_LOG")" -eq "$(grep -c 'reloaded:\|reload failed' "$MN_LOG")" ] && return 0
		sleep 0.1
	done
	return 1
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
metric() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# --- a flood of 3000 from one address, with slip 2 (the default) ---------------------------
out=$($FLOOD "$MN_PORT" 3000)
diag "$out"
full=$(field "$out" full); tc=$(field "$out" tc); other=$(field "$out" other)
dropped=$((3000 - full - tc - other))
[ "$full" -ge 50 ] && [ "$full" -lt 750 ]; ok $? "the flood: the 50-response burst and its refill answered in full, most not ($full of 3000)"
[ "$tc" -ge 100 ]; ok $? "slip: limited responses sent truncated ($tc)"
[ "$tc" -le $(( (3000 - full) / 2 + 1 )) ]; ok $? "slip 2: at most every second limited response truncated ($tc of $((3000 - full)))"
[ "$dropped" -ge 1000 ]; ok $? "the other limited responses dropped ($dropped)"
is "$other" 0 "no other kind of response"
is "$(field "$out" v4other_full)" "30/30" "another /24 (127.0.1.1) answered in full meanwhile"
is "$(field "$out" v6_full)" "30/30" "::1 answered in full meanwhile"
is "$(field "$out" tcp_full)" "30/30" "TCP from the flooding address answered in full meanwhile"
# the server's own counts agree: every slipped response was received (loopback)
sl=$(metric 'mailns_ratelimited_total{action="slipped"}')
dr=$(metric 'mailns_ratelimited_total{action="dropped"}')
is "$sl" "$tc" "metrics: slipped responses counted ($sl)"
[ -n "$dr" ] && [ "$dr" -ge 1000 ] && [ "$dr" -le "$dropped" ]; ok $? "metrics: dropped responses counted ($dr)"

# --- rate_limit_slip: 0: every limited response dropped ----------------------------
sed -i 's/^  rate_limit: 50$/  rate_limit: 50\n  rate_limit_slip: 0/' "$TMP/policy.yaml"
reload; ok $? "reloaded with rate_limit_slip: 0"
out=$($FLOOD "$MN_PORT" 1000)
diag "$out"
is "$(field "$out" tc)" 0 "slip 0: no truncated response"
[ "$(field "$out" full)" -lt 500 ]; ok $? "slip 0: most of 1000 dropped ($(field "$out" full) answered)"
is "$(field "$out" v6_full)" "10/10" "::1 still answered in full"

# --- no rate_limit: on by default, 200 a second, slip 2 ----------------------------
sed -i '/^  rate_limit/d' "$TMP/policy.yaml"
reload; ok $? "reloaded without rate_limit"
sleep 1.1	# the bucket refills
out=$($FLOOD "$MN_PORT" 1000)
diag "$out"
full=$(field "$out" full); tc=$(field "$out" tc)
[ "$full" -ge 150 ] && [ "$full" -lt 700 ]; ok $? "default: a burst of 1000 is limited ($full answered in full)"
[ "$tc" -ge 100 ] && [ $((1000 - full - tc)) -ge 100 ]; ok $? "default slip 2: limited ones truncated ($tc) or dropped ($((1000 - full - tc)))"
is "$(field "$out" v6_full)" "10/10" "::1 still answered in full"

# --- rate_limit: 0: nothing limited ------------------------------------------------
sed -i 's/^\(  state_dir: .*\)$/\1\n  rate_limit: 0/' "$TMP/policy.yaml"
reload; ok $? "reloaded with rate_limit: 0"
out=$($FLOOD "$MN_PORT" 1000)
diag "$out"
is "$(field "$out" full):$(field "$out" tc)" "1000:0" "rate_limit: 0: all 1000 answered in full"
is "$(metric mailns_udp_dropped_total)" 0 "metrics: no response dropped for a full send buffer on loopback"

mn_stop; is "$?" 0 "clean stop"
done_testing
