#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# load.sh -- load time (exec to the first answer for the last zone) and memory of
# mailnsd serving N generated domains (3 zones each), side by side with NSD and
# Knot DNS loading the same zones from `mailns zone --dir` in the same run.
# Usage: bench/load.sh [N...]   (default 10000 100000; run from a built tree)
# Env: SERVERS="mailnsd nsd knot" to choose.  Loopback only; servers stopped by PID.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
MAILNSD=${MAILNSD:-$top/server/mailnsd}
MAILNS=${MAILNS:-$top/tools/mailns}
SERVERS=${SERVERS:-mailnsd nsd knot}
[ "$#" -gt 0 ] || set -- 10000 100000

# rss_tree PID: resident KB of PID and its children (NSD forks workers)
rss_tree() {
	local total=0 p
	for p in $1 $(pgrep -P "$1"); do
		total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)))
	done
	echo "$total"
}

# start_and_time NAME DIR PORT LASTNAME CMD...: runs CMD, waits for an answer
start_and_time() {
	local name=$1 dir=$2 port=$3 last=$4; shift 4
	local t0 up="" pid i
	t0=$(date +%s.%N)
	"$@" >"$dir/$name.log" 2>&1 &
	pid=$!
	# asked every 10 ms (kdig's shortest timeout, 1 s, would round the time up
	# whenever the first query comes before the server listens)
	python3 "$top/bench/wait-answer.py" "$port" "$last" DMARC1 300 "$pid" && up=$(date +%s.%N)
	if [ -z "$up" ]; then
		printf '%-8s %-8s %s\n' "$name" "$n" "did not answer; log: $(tail -n 3 "$dir/$name.log" | tr '\n' ' ')"
	else
		local rss
		rss=$(rss_tree $pid)
		awk -v s="$name" -v n="$n" -v t0="$t0" -v up="$up" -v rss="$rss" 'BEGIN {
			printf "%-8s %-8s %-8s %10.2f %10.1f %12.2f\n", s, n, 3 * n, up - t0, rss / 1024, rss / n }'
	fi
	kill -TERM $pid 2>/dev/null
	for i in $(seq 1 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
}

free_port() { echo $(( 30000 + (RANDOM * 7 + $$) % 20000 )); }

printf '%-8s %-8s %-8s %10s %10s %12s\n' server domains zones load_s rss_MB KB/domain
for n in "$@"; do
	dir=$(mktemp -d /tmp/mailns-bench.XXXXXX)
	port=$(free_port)
	"$top/bench/gen-policy.sh" "$n" "$dir" "$port"
	last="_dmarc.d$((n - 1)).example"
	for s in $SERVERS; do
		case $s in
		mailnsd)
			start_and_time mailnsd "$dir" "$port" "$last" "$MAILNSD" -f -c "$dir/policy.yaml"
			;;
		nsd|knot)
			command -v "${s}d" >/dev/null 2>&1 || command -v "$s" >/dev/null 2>&1 || { echo "$s: not installed"; continue; }
			if [ ! -d "$dir/zones" ]; then
				"$MAILNS" zone -c "$dir/policy.yaml" --dir "$dir/zones" || { echo "mailns zone failed"; continue; }
			fi
			p2=$(free_port)
			if [ "$s" = nsd ]; then
				{
					printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$p2"
					printf '  zonesdir: "%s"\n  pidfile: "%s/nsd.pid"\n  database: ""\n' "$dir/zones" "$dir"
					printf '  xfrdfile: "%s/xfrd.state"\n  zonelistfile: "%s/zone.list"\n' "$dir" "$dir"
					printf '  xfrdir: "%s"\n  server-count: 1\n  verbosity: 0\n' "$dir"
					printf 'remote-control:\n  control-enable: no\n'
					for f in "$dir/zones"/*.zone; do
						z=${f##*/}; z=${z%.zone}
						printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"
					done
				} > "$dir/nsd.conf"
				start_and_time nsd "$dir" "$p2" "$last" nsd -d -c "$dir/nsd.conf"
			else
				mkdir -p "$dir/knot"
				{
					printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: "%s/knot"\n' "$p2" "$dir"
					printf 'database:\n  storage: "%s/knot"\n' "$dir"
					printf 'template:\n  - id: default\n    storage: "%s/zones"\n    file: "%%s.zone"\n' "$dir"
					printf '    zonefile-sync: -1\n    journal-content: none\n'
					printf 'zone:\n'
					for f in "$dir/zones"/*.zone; do
						z=${f##*/}; printf '  - domain: "%s"\n' "${z%.zone}"
					done
				} > "$dir/knot.conf"
				start_and_time knot "$dir" "$p2" "$last" knotd -c "$dir/knot.conf"
			fi
			;;
		esac
	done
	rm -rf "$dir"
done
