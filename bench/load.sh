#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# load.sh -- time from exec to the first answer, and RSS, of mailnsd serving N
# generated domains (3 zones each).  Usage: bench/load.sh [N...]  (default 10000 100000)
# Run from a built tree.  Loopback only; the server is stopped by PID.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
MAILNSD=${MAILNSD:-$top/server/mailnsd}
[ "$#" -gt 0 ] || set -- 10000 100000
printf '%-8s %-8s %12s %12s %12s %14s\n' domains zones load_s rss_MB peak_MB rss_per_domain
for n in "$@"; do
	dir=$(mktemp -d /tmp/mailns-bench.XXXXXX)
	port=$(( 30000 + RANDOM % 20000 ))
	"$top/bench/gen-policy.sh" "$n" "$dir" "$port"
	last="_dmarc.d$((n - 1)).example"
	t0=$(date +%s.%N)
	"$MAILNSD" -f -c "$dir/policy.yaml" 2>"$dir/log" &
	pid=$!
	up=""
	for i in $(seq 1 1200); do
		kill -0 $pid 2>/dev/null || break
		if kdig @127.0.0.1 -p "$port" +time=1 +retry=0 +short TXT "$last" 2>/dev/null | grep -q DMARC1; then
			up=$(date +%s.%N); break
		fi
		sleep 0.05
	done
	if [ -z "$up" ]; then
		echo "$n: mailnsd did not answer; log:"; tail "$dir/log"
	else
		rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
		hwm=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
		awk -v n="$n" -v t0="$t0" -v up="$up" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
			printf "%-8s %-8s %12.2f %12.1f %12.1f %11.2f KB\n", n, 3 * n, up - t0, rss / 1024, hwm / 1024, rss / n }'
	fi
	kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
	rm -rf "$dir"
done
