#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reload-instr.sh -- what one one-domain reload costs mailnsd, in figures a busy machine
# changes little: user+system CPU seconds of the whole process, or (CALLGRIND=1, under
# valgrind) the instructions of every thread, counted from after the start-up, over
# REPS edits of one domain's DMARC rua (in its included file,
# renamed over it) each followed by SIGHUP, every answer awaited, then a settling pause
# (the watcher's own reload, 300 ms later, included when it comes); the time from the
# rename to the new answer, median (min-max).  Run it on the data of bench/reload.sh
# (KEEP=1 keeps it) for two builds, one after the other.
# Usage: bench/reload-instr.sh DATA N [MAILNSD]    (env: REPS=5, SETTLE=1.5, CALLGRIND=0)
# Needs python3 (and valgrind for CALLGRIND=1).  Loopback only; mailnsd is stopped by its PID.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1 n=$2 bin=${3:-$top/server/mailnsd}
REPS=${REPS:-5} SETTLE=${SETTLE:-1.5} CALLGRIND=${CALLGRIND:-0}
vg=()
if [ "$CALLGRIND" = 1 ]; then
	vg=(valgrind --tool=callgrind --callgrind-out-file="$dir/instr.cg.%p")
	rm -f "$dir"/instr.cg.*
fi
port=$(( 30000 + RANDOM % 20000 ))
sed -i "s|^  listen: .*|  listen: [\"127.0.0.1:$port\"]|" "$dir/policy.yaml"
"${vg[@]}" "$bin" -f -c "$dir/policy.yaml" > "$dir/instr-mailnsd.log" 2>&1 & pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
python3 "$top/bench/wait-answer.py" "$port" "_dmarc.d$((n - 1)).example" DMARC1 3600 "$pid" ||
	{ echo "reload-instr.sh: no answer"; exit 1; }
sleep 1
ch=$((n / 2))
f=$(grep -l "^  d$ch.example:" "$dir"/domains.d/*.yaml)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$pid"/stat; }
[ "$CALLGRIND" = 1 ] && { callgrind_control -z "$pid" >/dev/null; sleep 1; }
r0=$(grep -c 'notice: reloaded' "$dir/instr-mailnsd.log")
c0=$(ticks)
ts=""
for i in $(seq 1 "$REPS"); do
	sed "s|rua: \[\"mailto:[a-z0-9]*@d$ch.example\"\]|rua: [\"mailto:i$i$RANDOM@d$ch.example\"]|" "$f" > "$f.new"
	tag=$(grep -o "mailto:i$i[0-9]*@d$ch.example" "$f.new" | head -1)
	t=$(python3 "$top/bench/reload-poll.py" "$port" "_dmarc.d$ch.example" "${tag%@*}@" 120 "$f.new" "$f" hup "$pid")
	ts="$ts $t"
	sleep "$SETTLE"
done
c1=$(ticks)
reloads=$(( $(grep -c 'notice: reloaded' "$dir/instr-mailnsd.log") - r0 ))
la=$(cut -d' ' -f1-3 /proc/loadavg)
ir=-
if [ "$CALLGRIND" = 1 ]; then
	rm -f "$dir"/instr.cg.*
	callgrind_control -d "$pid" >/dev/null
	ir=$(callgrind_annotate "$(ls -t "$dir"/instr.cg.* | head -1)" 2>/dev/null |
		awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }')
fi
kill -TERM "$pid"; wait "$pid" 2>/dev/null; trap - EXIT
echo "$ts" | awk -v r="$REPS" -v hz="$(getconf CLK_TCK)" -v c0="$c0" -v c1="$c1" -v rl="$reloads" -v la="$la" \
	-v ir="$ir" -v b="$bin" '{
	n = 0; for (i = 1; i <= NF; i++) { x = $i; sub(/^>/, "", x); v[++n] = x + 0 }
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	printf "%s: hup_s %.3f (%.3f-%.3f)  cpu_s/change %.3f  Minstr/reload %s  reloads %d for %d changes  loadavg %s\n",
		b, v[int((n + 1) / 2)], v[1], v[n], (c1 - c0) / hz / r, ir == "-" ? "-" : sprintf("%.1f", ir / rl / 1e6), rl, r, la
}'
