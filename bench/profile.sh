#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# profile.sh -- where mailnsd spends its time under UDP load: N generated domains
# (issue 7's shape), mailnsd pinned to core 1, dnsperf on core 0 with qps.sh's query
# mix, `perf record -g` on mailnsd for the run; prints the top symbols (self time)
# and the call graph of the hottest ones.
# Usage: bench/profile.sh [N [SECONDS [MODE]]]   (default 10000 15 udp; MODE udp|tcp)
# Env: MAILNSD, MAILNS, BUILD as in qps.sh; TOP=15 symbols; KEEP=1 keeps the temp
# dir (perf.data inside).  Needs perf (Debian: linux-perf), dnsperf.  Loopback only.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top}
MAILNSD=${MAILNSD:-$BUILD/server/mailnsd}
MAILNS=${MAILNS:-$BUILD/tools/mailns}
N=${1:-10000}
LEN=${2:-15}
MODE=${3:-udp}
TOP=${TOP:-15}
for t in perf dnsperf taskset python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "profile.sh: $t not installed (apt-get install linux-perf dnsperf)"; exit 2; }
done
[ -x "$MAILNSD" ] || { echo "profile.sh: no $MAILNSD (set BUILD=builddir)"; exit 2; }
dir=$(mktemp -d /tmp/mailns-prof.XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=$(( 20000 + (RANDOM * 3 + $$) % 40000 ))
SELECTORS=2 SPF_NETS=20 "$top/bench/gen-policy.sh" "$N" "$dir" "$port"
python3 "$top/bench/gen-queries.py" "$N" 200000 2 > "$dir/queries"
taskset -c 1 "$MAILNSD" -f -c "$dir/policy.yaml" > "$dir/mailnsd.log" 2>&1 & pid=$!
python3 "$top/bench/wait-answer.py" "$port" "_dmarc.d$((N - 1)).example" DMARC1 120 ||
	{ echo "profile.sh: mailnsd did not answer"; tail "$dir/mailnsd.log"; exit 1; }
args=(-c 4 -q 500)
[ "$MODE" = tcp ] && args=(-m tcp -c 8 -q 500)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
perf record -g -o "$dir/perf.data" -p "$pid" -- sleep "$LEN" > "$dir/perf.log" 2>&1 &
ppid=$!
taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$dir/queries" -e -l "$LEN" -t 2 "${args[@]}" > "$dir/dnsperf.out" 2>&1
wait "$ppid"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E 'Queries (sent|completed|lost)|Queries per second' "$dir/dnsperf.out"
echo "--- top $TOP symbols, self time (perf report --no-children --sort symbol)"
perf report -i "$dir/perf.data" --stdio --no-children --sort symbol -g none 2>/dev/null |
	grep -E '^ +[0-9.]+%' | head -n "$TOP"
echo "--- by shared object"
perf report -i "$dir/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
	grep -E '^ +[0-9.]+%' | head -n 8
echo "--- inclusive (children) top $TOP"
perf report -i "$dir/perf.data" --stdio --children --sort symbol -g none 2>/dev/null |
	grep -E '^ +[0-9.]+%' | head -n "$TOP"
