#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# ratelimit-xfr.sh -- transfer-path replies are rate-limited and TSIG failures
# logged with the client, bounded: 1,000 UDP IXFR queries from 127.0.0.1 with a
# bogus MAC for the configured key get NOTAUTH within rate_limit (the rest
# slipped or dropped); at most XFR_TSIG_LOG_MAX (10) lines a second name
# 127.0.0.1, and a later failure logs how many were not logged.
. "${top_srcdir:?}/tests/tap/tap.sh"
FLOOD="timeout 60 python3 $top_srcdir/tests/integration/rrlflood.py"
PROBE="python3 $top_srcdir/tests/integration/probe.py"
mn_tmpdir
RATE=50
cp "$top_srcdir/examples/xfr1.key" "$TMP/xfr1.key"

cat >"$TMP/t.tmpl" <<EOF2
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  rate_limit: $RATE
  transfer:
    allow: ["key:xfr1"]
    tsig: { xfr1: { algorithm: hmac-sha256, secret_file: @TMP@/xfr1.key } }
domains:
  example.com:
    dmarc: { p: reject }
EOF2
if ! mn_start "$TMP/t.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts with rate_limit: $RATE and a TSIG key on port $MN_PORT"
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
refused() { grep -c 'transfer refused' "$MN_LOG"; }

# one bogus query: NOTAUTH, logged with the client address
out=$($FLOOD tsig "$MN_PORT" 1 _dmarc.example.com xfr1)
is "$(field "$out" full):$(field "$out" rcodes)" "1:9:1" "a bogus TSIG over UDP: answered NOTAUTH"
for i in $(seq 1 20); do [ "$(refused)" -ge 1 ] && break; sleep 0.1; done
line=$(grep 'transfer refused' "$MN_LOG" | head -n 1)
diag "$line"
case "$line" in *"transfer refused to 127.0.0.1 (tsig BADSIG, key xfr1)"*) r=0 ;; *) r=1 ;; esac
ok $r "logged with the client address, the TSIG error and the key"
sleep 1.1	# a new second for the log limit, a full bucket for the flood

# the flood
out=$($FLOOD tsig "$MN_PORT" 1000 _dmarc.example.com xfr1)
diag "$out"
full=$(field "$out" full); tc=$(field "$out" tc); none=$(field "$out" none)
elapsed=$(field "$out" elapsed)
bound=$(awk -v r="$RATE" -v e="$elapsed" 'BEGIN { printf "%d", r + r * e + 10 }')
[ "$full" -le "$bound" ]; ok $? "1000 bogus TSIG queries: at most the rate answered in full, $full <= $bound"
[ "$tc" -ge 100 ] && [ "$none" -ge 100 ]; ok $? "the others slipped ($tc) or dropped ($none)"
sleep 1.1	# a later second: the next failure logs the count of those not logged
out=$($FLOOD tsig "$MN_PORT" 1 _dmarc.example.com xfr1)
for i in $(seq 1 20); do grep -q 'more tsig failures not logged' "$MN_LOG" && break; sleep 0.1; done
lines=$(refused)
diag "$lines 'transfer refused' lines; $(grep 'not logged' "$MN_LOG" | sed 's/.*notice: //' | tr '\n' ';')"
is "$(grep 'transfer refused' "$MN_LOG" | grep -vc 'transfer refused to 127.0.0.1 (tsig BADSIG, key xfr1)')" 0 \
	"every line names the client and the key"
# lines: the first query's, at most 10 in each second the flood touched, the last query's
max=$(awk -v e="$elapsed" 'BEGIN { printf "%d", 1 + 10 * (int(e) + 2) + 1 }')
[ "$lines" -ge 3 ] && [ "$lines" -le "$max" ]; ok $? "log lines bounded: $lines <= $max for 1002 failures"
grep -q 'this second are not logged' "$MN_LOG"; ok $? "the 10th line of a second says the next are not logged"
missed=$(sed -n 's/.* \([0-9][0-9]*\) more tsig failures not logged (at most 10 a second)$/\1/p' "$MN_LOG" |
	paste -sd+ | bc)
[ -n "$missed" ] && [ "$missed" -ge 100 ] && [ $((missed + lines)) -le 1002 ]
ok $? "a later failure logs how many were not logged (${missed:-none}; with the $lines logged <= 1002)"

# the rest of the server: a transfer with the right key over TCP still works
is "$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 -y "hmac-sha256:xfr1:$(tr -d ' \n' < "$TMP/xfr1.key")" \
	AXFR _dmarc.example.com 2>/dev/null | grep -c "SOA")" 2 "AXFR with the right key over TCP answered meanwhile"
mn_stop; is "$?" 0 "clean stop"
! grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error|not closed cleanly' "$MN_LOG"
ok $? "no sanitizer report, every loop closed"
done_testing
