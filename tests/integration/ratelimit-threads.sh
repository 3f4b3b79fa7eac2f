#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# ratelimit-threads.sh -- the rate limit holds across loop threads: mailnsd with
# server.threads: 2 and rate_limit: 100 gets 1,000 queries from 100 source ports
# of 127.0.0.1 (SO_REUSEPORT spreads them over both threads, as a spoofer's
# ports would); at most the rate in full (its one-second burst and the refill
# while the flood lasts), the rest truncated (slip 2) or dropped.  Per-thread
# buckets let through twice as many.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v curl >/dev/null || skip_all "curl not installed"
FLOOD="timeout 60 python3 $top_srcdir/tests/integration/rrlflood.py"
mn_tmpdir
RATE=100

MPORT=$(mn_free_port)
cat >"$TMP/t.tmpl" <<EOF2
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  threads: 2
  rate_limit: $RATE
  metrics: "127.0.0.1:$MPORT"
domains:
  example.com:
    dmarc: { p: reject }
EOF2
if ! mn_start "$TMP/t.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts with threads: 2, rate_limit: $RATE on port $MN_PORT"
sleep 1.1	# the start-up probes used some of 127.0.0.1's tokens: let the bucket refill

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
per_thread() {
	curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
		sed -n "s/^mailns_thread_queries_total{thread=\"$1\"} //p"
}
a0=$(per_thread 0); b0=$(per_thread 1)

out=$($FLOOD spread "$MN_PORT" 1000 100)
diag "$out"
full=$(field "$out" full); tc=$(field "$out" tc); none=$(field "$out" none)
elapsed=$(field "$out" elapsed)
a=$(( $(per_thread 0) - a0 )); b=$(( $(per_thread 1) - b0 ))
diag "queries per thread: $a, $b"
[ "$a" -ge 100 ] && [ "$b" -ge 100 ]; ok $? "the ports spread over both threads ($a and $b queries)"
# the bound: the burst (RATE) plus the refill over the time the flood was answered
# (from its first query to its last response), 10 for the clocks' milliseconds
bound=$(awk -v r="$RATE" -v e="$elapsed" 'BEGIN { printf "%d", r + r * e + 10 }')
[ "$full" -le "$bound" ]; ok $? "at most the rate in full across both threads: $full <= $bound (burst $RATE + refill over ${elapsed} s)"
[ "$full" -ge $((RATE / 2)) ]; ok $? "the burst answered in full ($full)"
[ "$tc" -ge 100 ]; ok $? "limited responses slipped, truncated ($tc)"
[ "$none" -ge 100 ]; ok $? "the other limited responses dropped ($none)"
is "$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 +tcp +short _dmarc.example.com TXT)" \
	'"v=DMARC1; p=reject"' "TCP from the flooding address answered meanwhile"

mn_stop; is "$?" 0 "clean stop"
! grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error|not closed cleanly' "$MN_LOG"
ok $? "no sanitizer report, every loop closed"
done_testing
