#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# coldstart.sh -- mailnsd's cold start: exec -> the last domain's answer on every loop
# thread (SOCKETS=16 source ports, bench/wait-answer.py), median of REPS runs on both
# cores and on one (taskset -c 1), with the CPU seconds the process used until then
# (user+sys from /proc/PID/stat) and its resident size 2 s later.
# Usage: bench/coldstart.sh N [DIR [REPS]]   (default DIR: a new temp dir, REPS 5)
# DIR holding a policy.yaml (as made by gen-policy.sh) is used as is, except that its
# listen line is rewritten to a free 127.0.0.1 port and state is kept there between
# runs (a warm state dir, as after the first start: keys and serials exist); without
# DIR, N domains of issue 17's shape (SELECTORS=2 SPF_NETS=20 UNIQUE_DKIM=1) are
# generated in a temp dir, removed at the end.  A first, unmeasured start fills the
# state dir and the page cache.
# Env: MAILNSD (default ./server/mailnsd), CPUS ("0,1 1": the taskset lists to run),
# KEEP=1 keeps a generated dir, BASE=another mailnsd to run in turn with MAILNSD (one
# start of each per repetition, so that both see the same load; a line each, and the
# ratios MAILNSD/BASE of the medians).  Loopback only.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
MAILNSD=${MAILNSD:-$top/server/mailnsd}
N=${1:?usage: coldstart.sh N [DIR [REPS]]}
DIR=${2:-}
REPS=${3:-5}
CPUS=${CPUS:-"0,1 1"}
for t in taskset python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "coldstart.sh: $t not installed"; exit 2; }
done
[ -x "$MAILNSD" ] || { echo "coldstart.sh: no $MAILNSD (set MAILNSD=)"; exit 2; }
BASE=${BASE:-}
[ -z "$BASE" ] || [ -x "$BASE" ] || { echo "coldstart.sh: no $BASE (BASE=)"; exit 2; }
gen=""
pid=""
cleanup() {
	[ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	[ -n "$gen" ] && { [ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -z "$DIR" ]; then
	DIR=$(mktemp -d /tmp/mailns-cold.XXXXXX)
	gen=1
	SELECTORS=2 SPF_NETS=20 UNIQUE_DKIM=1 "$top/bench/gen-policy.sh" "$N" "$DIR" 0
fi
[ -f "$DIR/policy.yaml" ] || { echo "coldstart.sh: no $DIR/policy.yaml"; exit 2; }
hz=$(getconf CLK_TCK)

# one start of mailnsd $2 on cpus $1: prints "WALL CPU RSS_KB" or fails
one() {
	local cpus=$1 bin=$2 port t0 t1 cpu rss
	port=$(( 20000 + (RANDOM * 3 + $$) % 40000 ))
	sed -i "s|^  listen: .*|  listen: [\"127.0.0.1:$port\"]|" "$DIR/policy.yaml"
	t0=$(date +%s.%N)
	taskset -c "$cpus" "$bin" -f -c "$DIR/policy.yaml" > "$DIR/coldstart.log" 2>&1 & pid=$!
	if ! SOCKETS=${SOCKETS:-16} python3 "$top/bench/wait-answer.py" "$port" "_dmarc.d$((N - 1)).example" DMARC1 600 "$pid"; then
		echo "coldstart.sh: no answer; the log:" >&2
		tail "$DIR/coldstart.log" >&2
		return 1
	fi
	t1=$(date +%s.%N)
	# utime + stime of the process (its threads included), at the answer
	cpu=$(awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$pid/stat")
	# resident size once settled (the policy is freed on a pool thread after the first answer)
	sleep 2
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
	kill -TERM "$pid"
	wait "$pid"
	pid=""
	printf "%.3f %s %s\n" "$(echo "$t1 - $t0" | bc)" "$cpu" "$rss"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "coldstart.sh: $N domains in $DIR, $REPS runs each, $MAILNSD${BASE:+ and (base) $BASE}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
one "${CPUS%% *}" "$MAILNSD" > /dev/null || exit 1	# fills state_dir and the page cache
[ -z "$BASE" ] || one "${CPUS%% *}" "$BASE" > /dev/null || exit 1
bins="new"
[ -z "$BASE" ] || bins="new base"
printf "%-5s %-6s %-8s %-28s %-8s %-8s %-8s\n" build cpus wall_s "wall runs" cpu_s RSS_MB KB/dom
for cpus in $CPUS; do
	declare -A walls=() cpus_s=() rsss=() mw=() mc=()
	for r in $(seq 1 "$REPS"); do
		for b in $bins; do
			bin=$MAILNSD
			[ "$b" = base ] && bin=$BASE
			read -r w c m < <(one "$cpus" "$bin") || exit 1
			[ -n "$w" ] || exit 1
			walls[$b]="${walls[$b]:-} $w" cpus_s[$b]="${cpus_s[$b]:-} $c" rsss[$b]="${rsss[$b]:-} $m"
		done
	done
	for b in $bins; do
		mw[$b]=$(echo "${walls[$b]}" | tr ' ' '\n' | grep . | median)
		mc[$b]=$(echo "${cpus_s[$b]}" | tr ' ' '\n' | grep . | median)
		mr=$(echo "${rsss[$b]}" | tr ' ' '\n' | grep . | median)
		printf "%-5s %-6s %-8.3f %-28s %-8.2f %-8.1f %-8.2f\n" "$b" "$cpus" "${mw[$b]}" \
			"$(echo ${walls[$b]} | tr ' ' ',')" "${mc[$b]}" "$(echo "$mr / 1024" | bc -l)" "$(echo "$mr / $N" | bc -l)"
	done
	[ -z "$BASE" ] || printf "new/base on %s: wall %.3f, CPU %.3f\n" "$cpus" \
		"$(echo "${mw[new]} / ${mw[base]}" | bc -l)" "$(echo "${mc[new]} / ${mc[base]}" | bc -l)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
