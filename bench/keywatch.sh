#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# keywatch.sh -- mailnsd's DNSSEC key-directory watches at start-up: who pays for them, what they cost.
#   DATA=DIR bench/keywatch.sh [BUILDDIR] [N] [RUNS]
#     DIR: a data directory of `bench/dnssec.sh start` (DATA=DIR) at N domains (default
#     10000) that holds a signed state already (run dnssec.sh start on it first).
#     Starts BUILDDIR/server/mailnsd on DIR/s/policy.yaml RUNS times (default 1) and prints
#     for each: the wall time to the last domain answered on every loop thread (SOCKETS=16,
#     bench/wait-answer.py), the CPU seconds of the process then and of its main loop thread
#     (thread 0, which answers too) and of the key-directory thread (mailnsd-keys, absent
#     before issue 18); then it waits for the watches to be set up (the log's "watching N
#     key directories took S s", or before issue 18 "watching N directories for changes")
#     and prints that time, the watches the process holds (/proc/PID/fdinfo), and the kernel
#     memory they take (objects in the slab caches of inotify_inode_mark and
#     fsnotify_mark_connector, and the Slab line of /proc/meminfo, before and after).
#     Compare two builds on the same DIR: BASE=OTHER_BUILDDIR runs it alternated with BUILDDIR.
# No network but 127.0.0.1, daemons stopped by PID.
set -u
B=${1:-.}
N=${2:-10000}
RUNS=${3:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${DATA:-}" ] && [ -f "$DATA/s/policy.yaml" ] && [ -f "$DATA/s/signed" ] ||
	{ echo "DATA=DIR: a signed data directory of bench/dnssec.sh start"; exit 2; }
[ "$(cat "$DATA/n")" = "$N" ] || { echo "$DATA holds $(cat "$DATA/n") domains, not $N"; exit 2; }
PID=""
trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null' EXIT
. "$top/bench/lib.sh"
ticks=$(getconf CLK_TCK)
last="_dmarc.d$((N - 1)).example"
S="$DATA/s"
slab() { # objects in the slab cache NAME (merged caches: the whole merged cache)
	awk '{ print $1 }' "/sys/kernel/slab/$1/objects" 2>/dev/null || echo 0
}
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
# cpu PID [COMM]: CPU seconds of the process, or of its threads named COMM ("main": thread 0)
cpu() {
	if [ -z "${2:-}" ]; then
		awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"
	elif [ "$2" = main ]; then
		awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/task/$1/stat"
	else
		local f s=0
		for f in /proc/"$1"/task/*/stat; do
			s=$(awk -v t="$ticks" -v c="($2)" -v s="$s" '$2 == c { s += ($14 + $15) / t } END { print s }' "$f")
		done
		printf '%.2f' "$s"
	fi
}
# watches PID: inotify watches the process holds (every instance)
watches() { cat /proc/"$1"/fdinfo/* 2>/dev/null | grep -c '^inotify wd:'; }
run() { # run LABEL BUILD
	local port t0 t1 t2 wall c cm ck done m0 m1 i0 i1 c0 c1 w
	port=$(free_port)
	sed -i -E "s/127\.0\.0\.1:[0-9]+/127.0.0.1:$port/" "$S/policy.yaml"
	sed -i -E "s|^  state_dir: .*|  state_dir: $S/state|" "$S/policy.yaml"
	sync
	m0=$(meminfo Slab); i0=$(slab inotify_inode_mark); c0=$(slab fsnotify_mark_connector)
	t0=$(date +%s.%N)
	"$2/server/mailnsd" -f -c "$S/policy.yaml" >"$S/keywatch.log" 2>&1 &
	PID=$!
	SOCKETS=16 python3 "$top/bench/wait-answer.py" "$port" "$last" DMARC1 3600 "$PID" ||
		{ echo "$1: no answer: $(tail -n 3 "$S/keywatch.log")"; exit 1; }
	t1=$(date +%s.%N)
	c=$(cpu "$PID"); cm=$(cpu "$PID" main); ck=$(cpu "$PID" mailnsd-keys)
	for _ in $(seq 1 1200); do	# the watches set up: 120 s at most
		grep -qE 'watching [0-9]+ key directories took|watching [0-9]+ directories for changes' "$S/keywatch.log" &&
			{ [ "$1" = base ] || grep -q 'key directories took' "$S/keywatch.log"; } && break
		sleep 0.1
	done
	t2=$(date +%s.%N)
	w=$(watches "$PID")
	m1=$(meminfo Slab); i1=$(slab inotify_inode_mark); c1=$(slab fsnotify_mark_connector)
	done=$(grep -oE 'watching [0-9]+ key directories took [0-9.]+ s' "$S/keywatch.log" | head -n 1)
	kill -TERM "$PID"
	wait "$PID"
	PID=""
	printf '%-9s answered %6.2f s  cpu %5.2f s (thread 0 %5.2f s, key thread %5.2f s)  watches up at %6.2f s: %7d watches, slab +%d inotify_inode_mark +%d fsnotify_mark_connector objects, Slab +%d KB  %s\n' \
		"$1" "$(echo "$t1 - $t0" | bc)" "$c" "$cm" "$ck" "$(echo "$t2 - $t0" | bc)" "$w" \
		$((i1 - i0)) $((c1 - c0)) $((m1 - m0)) "${done:-}"
}
echo "mailns bench/keywatch.sh: $N signed domains ($((N * 3)) key directories), $(nproc) cores," \
	"fs.inotify.max_user_watches $(cat /proc/sys/fs/inotify/max_user_watches), $(uptime | sed 's/.*load/load/')"
for i in $(seq 1 "$RUNS"); do
	run this "$B"
	[ -n "${BASE:-}" ] && run base "$BASE"
done
echo "after: $(uptime | sed 's/.*load/load/')"
