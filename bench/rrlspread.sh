#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# rrlspread.sh -- issue 13's third attack: does rate_limit hold when a client spreads
# its queries over many source ports (SO_REUSEPORT hands them to different loop
# threads)?  mailnsd on loopback with rate_limit RATE (default 200) and server.threads
# 1, then 2 (then 4 when THREADS says so); COUNT queries (default 1000) from PORTS
# source ports of 127.0.0.1 as fast as python3 sends them; prints the answers in
# full, slipped (TC) and dropped for each, and the bound (the burst plus the refill
# over the flood's duration).  With one table for every thread, full stays within
# the bound whatever the threads; per-thread buckets multiply it.
#
# Usage: bench/rrlspread.sh
# Env:   MAILNSD (default BUILD/server/mailnsd), OLD=/path/to/mailnsd (the same runs
#        on that binary too), RATE=200 COUNT=1000 PORTS=100 THREADS="1 2"
# A benchmark, not a test: it prints figures.  Loopback only, bounded.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top}
MAILNSD=${MAILNSD:-$BUILD/server/mailnsd}
OLD=${OLD:-}
RATE=${RATE:-200}
COUNT=${COUNT:-1000}
PORTS=${PORTS:-100}
THREADS=${THREADS:-1 2}
FLOOD="$top/tests/integration/rrlflood.py"
for t in python3 kdig; do
	command -v "$t" >/dev/null || { echo "rrlspread.sh: $t not installed"; exit 2; }
done
[ -x "$MAILNSD" ] || { echo "rrlspread.sh: no $MAILNSD (set BUILD or MAILNSD)"; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/mailns-rrlspread.XXXXXX")
PID=""
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
PORT=$(( 20000 + (RANDOM + $$) % 12000 ))

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
run() { # run LABEL BINARY THREADS
	local i out full tc none el
	cat > "$T/policy.yaml" <<EOF2
version: 1
server:
  listen: ["127.0.0.1:$PORT"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: $T/state
  threads: $3
  rate_limit: $RATE
domains:
  example.com:
    dmarc: { p: reject }
EOF2
	"$2" -f -c "$T/policy.yaml" > "$T/log" 2>&1 &
	PID=$!
	for i in $(seq 1 100); do
		kdig @127.0.0.1 -p "$PORT" +time=1 +retry=0 +short SOA _dmarc.example.com 2>/dev/null | grep -q . && break
		sleep 0.1
	done
	sleep 1.1	# a full bucket
	out=$(timeout 60 python3 "$FLOOD" spread "$PORT" "$COUNT" "$PORTS")
	full=$(field "$out" full); tc=$(field "$out" tc); none=$(field "$out" none); el=$(field "$out" elapsed)
	printf '%-4s threads %s: %5s full  %5s slipped  %5s dropped  (bound %s: %s + %s/s x %s s)\n' "$1" "$3" \
		"$full" "$tc" "$none" "$(awk -v r="$RATE" -v e="$el" 'BEGIN { printf "%d", r + r * e }')" "$RATE" "$RATE" "$el"
	kill -TERM "$PID"
	wait "$PID" 2>/dev/null
	PID=""
}
echo "rrlspread.sh: rate_limit $RATE, $COUNT queries from $PORTS source ports of 127.0.0.1"
for n in $THREADS; do run new "$MAILNSD" "$n"; done
if [ -n "$OLD" ]; then
	for n in $THREADS; do run old "$OLD" "$n"; done
fi
exit 0
