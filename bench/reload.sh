#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reload.sh -- issue 17's measure: the time from one domain's edit to its new answer
# at N domains (3 zones each: two 2048-bit DKIM selectors, a 20-network SPF record, a
# DMARC record), for mailnsd (the DMARC rua of one domain edited in its included
# file, which is replaced by rename: then the file watcher reloads, 300 ms after the
# last event; or the same edit followed at once by SIGHUP) beside NSD (the zone file
# edited, `nsd-control reload ZONE`) and Knot DNS (`knotc zone-reload ZONE`) serving
# the same zones (`mailns zone --dir`), in the same run.  Each change is timed by
# bench/reload-poll.py (the rename, then the signal or command, then one query every
# millisecond until the answer holds the new text); REPS changes per server and way,
# first on an idle server, then under QPS queries a second from dnsperf (its lost
# queries counted over the whole series).  Prints a table of medians (min-max), each
# server's load time and its memory (RSS and PSS of its process tree) after loading and
# after the changes.  NSD and Knot are configured by bench/peers.sh as for many small
# zones (NSD: a pattern and the zone list file, no database, no rate limiting; Knot: a
# template, no zone file sync or journal, background workers one a core, or one with
# PIN=1); at 100,000 domains (300,000 zones) the whole run, idle and load, took 5
# minutes on 2 cores at a load average of 12-19 (NSD loads in ~14 s and reloads a zone
# in ~1 s, Knot loads in 45-80 s), plus about 5 minutes to write the zone files when
# DATA= is not given.
#
# Usage: bench/reload.sh [N]          (default 10000)
# Env:   MAILNSD, MAILNS  (default: the binaries of the tree holding this script),
#        REPS=5, QPS=20000, SERVERS="mailnsd nsd knot", UNIQUE_DKIM=1 (every domain's
#        DKIM records distinct: bench/gen-policy.sh; 0 shares them), PIN=1 (mailnsd
#        and each peer on core 1, dnsperf and the poller on core 0; default: no
#        pinning, mailnsd with its default threads), KEEP=1 keeps the temp dir, DATA=
#        that dir reuses its data, PHASES="idle load" (idle alone: no dnsperf series).
# A benchmark, not a test: it prints figures and never fails on a slow machine.
# Loopback only; every daemon is stopped by its PID.  Needs dnsperf, nsd, knot, kdig,
# python3 (Debian: dnsperf nsd knot knot-dnsutils).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
MAILNSD=${MAILNSD:-$top/server/mailnsd}
MAILNS=${MAILNS:-$top/tools/mailns}
N=${1:-10000}
REPS=${REPS:-5}
QPS=${QPS:-20000}
SERVERS=${SERVERS:-mailnsd nsd knot}
UNIQUE_DKIM=${UNIQUE_DKIM:-1}
PIN=${PIN:-0}
PHASES=${PHASES:-idle load}
for t in "$MAILNSD" "$MAILNS"; do
	[ -x "$t" ] || { echo "reload.sh: no $t (set MAILNSD and MAILNS)"; exit 2; }
done
for t in dnsperf nsd nsd-control knotd knotc python3 ss; do
	command -v "$t" >/dev/null 2>&1 || { echo "reload.sh: $t not installed (apt-get install dnsperf nsd knot knot-dnsutils)"; exit 2; }
done
. "$top/bench/peers.sh"
SRVPIN=() GENPIN=()
KNOT_BG=$(nproc)	# Knot's background workers (they load the zones): its default, one a core
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then SRVPIN=(taskset -c 1); GENPIN=(taskset -c 0); KNOT_BG=1; fi

if [ -n "${DATA:-}" ]; then
	dir=$DATA; KEEP=1
	rm -rf "$dir/knot" "$dir/xfrd.state" "$dir/zone.list" "$dir/nsd.pid"
else
	dir=$(mktemp -d /tmp/mailns-reload.XXXXXX)
fi
PID="" SRV=""
cleanup() {
	[ -n "$PID" ] && { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
free_port() {
	local p
	while :; do
		p=$(( 20000 + RANDOM % 40000 ))
		ss -Hlnut | awk '{print $5}' | grep -qE "[:.]$p\$" || { echo "$p"; return; }
	done
}

if [ -z "${DATA:-}" ]; then
	log "generating $N domains in $dir (UNIQUE_DKIM=$UNIQUE_DKIM)"
	SELECTORS=2 SPF_NETS=20 UNIQUE_DKIM=$UNIQUE_DKIM "$top/bench/gen-policy.sh" "$N" "$dir" 5399
	"$MAILNS" zone -c "$dir/policy.yaml" --dir "$dir/zones" || { echo "reload.sh: mailns zone failed"; exit 1; }
	python3 "$top/bench/gen-queries.py" "$N" 200000 2 > "$dir/queries"
fi
CH=$(( N / 2 ))	# the domain whose DMARC record changes
NAME="_dmarc.d$CH.example"
last="_dmarc.d$((N - 1)).example"
POLFILE=$(grep -l "^  d$CH.example:" "$dir"/domains.d/*.yaml)
ZFILE="$dir/zones/$NAME.zone"

start() { # start SERVER: sets PID, PORT, LOAD (exec -> the last zone's answer), QUIET
	local s=$1 t0
	PORT=$(free_port)
	case $s in
	mailnsd)
		sed -i "s|^  listen: .*|  listen: [\"127.0.0.1:$PORT\"]|" "$dir/policy.yaml"
		t0=$(now); "${SRVPIN[@]}" "$MAILNSD" -f -c "$dir/policy.yaml" > "$dir/mailnsd.log" 2>&1 & PID=$! ;;
	nsd)
		peers_nsd_conf "$dir" "$PORT" 1 "$dir/nsd.ctl"
		t0=$(now); "${SRVPIN[@]}" nsd -d -c "$dir/nsd.conf" > "$dir/nsd.out" 2>&1 & PID=$! ;;
	knot)
		peers_knot_conf "$dir" "$PORT" 1 "$KNOT_BG"
		t0=$(now); "${SRVPIN[@]}" knotd -c "$dir/knot.conf" > "$dir/knot.out" 2>&1 & PID=$! ;;
	esac
	if ! python3 "$top/bench/wait-answer.py" "$PORT" "$last" DMARC1 600 "$PID"; then
		log "$s did not answer"; kill -TERM "$PID" 2>/dev/null; wait "$PID"; PID=""; return 1
	fi
	LOAD=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	if [ "$s" = knot ] && [ -n "${SRVPIN[*]}" ]; then	# Knot pins its workers by itself
		taskset -a -p -c 1 "$PID" >/dev/null 2>&1
	fi
	# let the start-up work finish: wait (at most 300 s) until the server's process tree
	# used under 5 % of a core over one second (Knot schedules events for every zone
	# after loading it, and a zone-reload queued behind them waited seconds); QUIET: s
	# from exec until then
	local i c0 c1 hz
	hz=$(getconf CLK_TCK)
	sleep 1
	for i in $(seq 1 300); do
		c0=$(cpu_ticks "$PID"); sleep 1; c1=$(cpu_ticks "$PID")
		[ $(( (c1 - c0) * 20 )) -lt "$hz" ] && break
	done
	QUIET=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a - 1 }')
}
stop() {
	local i
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	for i in $(seq 1 400); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""
}

# change SERVER WAY TAG: one change, prints the poller's seconds
change() {
	local s=$1 way=$2 tag=$3 how=()
	if [ "$s" = mailnsd ]; then
		sed "s|rua: \[\"mailto:[a-z0-9]*@d$CH.example\"\]|rua: [\"mailto:$tag@d$CH.example\"]|" \
			"$POLFILE" > "$POLFILE.new"
		[ "$way" = hup ] && how=(hup "$PID")
		"${GENPIN[@]}" python3 "$top/bench/reload-poll.py" "$PORT" "$NAME" "mailto:$tag@" 120 \
			"$POLFILE.new" "$POLFILE" "${how[@]}"
	else
		awk -v new="v=DMARC1; p=reject; rua=mailto:$tag@d$CH.example" \
			'$4 == "SOA" { $7 = $7 + 1 } $4 == "TXT" { $0 = $1 "\t" $2 "\t" $3 "\tTXT\t\"" new "\"" } { print }' \
			"$ZFILE" > "$ZFILE.new"
		if [ "$s" = nsd ]; then how=(cmd nsd-control -c "$dir/nsd.conf" reload "$NAME")
		else how=(cmd knotc -c "$dir/knot.conf" -s "$dir/knot/knot.sock" zone-reload "$NAME"); fi
		"${GENPIN[@]}" python3 "$top/bench/reload-poll.py" "$PORT" "$NAME" "mailto:$tag@" 120 \
			"$ZFILE.new" "$ZFILE" "${how[@]}"
	fi
}

# cpu_ticks PID: user+system clock ticks of PID's process tree, every thread, with the
# reaped children's (an NSD reload forks a process that becomes the new main one, and
# the old main and server processes exit: their time is in their reaper's cutime)
cpu_ticks() {
	local t=0 p v
	for p in $(tree_pids "$1"); do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' /proc/"$p"/stat 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
# mem_mb PID: "RSS/PSS" in MB summed over the tree (PSS counts the pages NSD's forked
# processes share once)
mem_mb() {
	local p
	for p in $(tree_pids "$1"); do cat /proc/"$p"/smaps_rollup 2>/dev/null; done |
		awk '/^Rss:/ { r += $2 } /^Pss:/ { s += $2 } END { printf "%.0f/%.0f", r / 1024, s / 1024 }'
}

# series SERVER WAY PHASE: REPS changes; appends "s way phase lost cpu t1 .. tREPS" to RES
# (cpu: the server's CPU seconds per change, settling included)
RES="$dir/results"
declare -A DUR
series() {
	local s=$1 way=$2 phase=$3 i t ts="" bg="" len lost=- t0 c0 cpu
	t0=$(now)
	c0=$(cpu_ticks "$PID")
	if [ "$phase" = load ]; then
		len=$(awk -v d="${DUR[$s $way]}" 'BEGIN { printf "%d", d * 1.5 + 5 }')
		"${GENPIN[@]}" dnsperf -s 127.0.0.1 -p "$PORT" -d "$dir/queries" -e -l "$len" -t 2 -c 4 -q 500 \
			-Q "$QPS" > "$dir/dnsperf.$s.$way" 2>&1 & bg=$!
		sleep 2
	fi
	for i in $(seq 1 "$REPS"); do
		t=$(change "$s" "$way" "$way$phase$i")
		ts="$ts $t"
		# settle (1-20 s): the watcher's reload that follows a SIGHUP, timers
		sleep "$(awk -v t="${t#>}" 'BEGIN { v = 4 * t; if (v < 1) v = 1; if (v > 20) v = 20; print v }')"
	done
	if [ -n "$bg" ]; then
		wait "$bg"
		lost=$(awk '/Queries lost:/ { print $3 }' "$dir/dnsperf.$s.$way")
		[ -n "$lost" ] || lost="?"
	fi
	DUR[$s $way]=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
	cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$PID")" -v hz="$(getconf CLK_TCK)" -v n="$REPS" \
		'BEGIN { printf "%.3f", (b - a) / hz / n }')
	echo "$s $way $phase $lost $cpu$ts" >> "$RES"
	log "$s $way $phase:$ts s (lost ${lost}, server cpu ${cpu} s a change)"
}

: > "$RES"
LA0=$(uptime)
T0=$(now)
declare -A LOADS MEM0 MEM1
for s in $SERVERS; do
	log "starting $s"
	start "$s" || continue
	LOADS[$s]=$LOAD
	MEM0[$s]=$(mem_mb "$PID")
	log "$s answers after $LOAD s, idle after $QUIET s, RSS/PSS ${MEM0[$s]} MB"
	case $s in mailnsd) ways="watch hup" ;; *) ways="ctl" ;; esac
	for way in $ways; do series "$s" "$way" idle; done
	case " $PHASES " in *" load "*)
		for way in $ways; do series "$s" "$way" load; done ;;
	esac
	MEM1[$s]=$(mem_mb "$PID")
	log "$s RSS/PSS after the changes ${MEM1[$s]} MB"
	stop
done
LA1=$(uptime)
T1=$(now)

echo
echo "mailns bench/reload.sh: $N domains ($((3 * N)) zones), UNIQUE_DKIM=$UNIQUE_DKIM, $(nproc) cores, PIN=$PIN, $REPS changes each"
echo "load average before: ${LA0#*load average: }   after: ${LA1#*load average: }   mailnsd: $MAILNSD"
echo "whole run: $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.0f", b - a }') s (data generation not included)"
printf '%-8s %-6s %-7s %-9s %-22s %-7s %-22s %-7s %-11s %s\n' server way load_s edited idle_s cpu_s "at_${QPS}qps_s" \
	lost rss/pss_MB "after_MB"
for s in $SERVERS; do
	for way in watch hup ctl; do
		grep -q "^$s $way " "$RES" || continue
		awk -v s="$s" -v w="$way" -v ld="${LOADS[$s]:--}" -v m0="${MEM0[$s]:--}" -v m1="${MEM1[$s]:--}" '
		function med(   n, v, i, j, x) {
			n = 0
			for (i = 6; i <= NF; i++) { x = $i; sub(/^>/, "", x); v[++n] = x + 0 }
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
			return sprintf("%.3f (%.3f-%.3f)", v[int((n + 1) / 2)], v[1], v[n])
		}
		$1 == s && $2 == w && $3 == "idle" { idle = med(); cpu = $5 }
		$1 == s && $2 == w && $3 == "load" { load = med(); l = $4 }
		END {
			printf "%-8s %-6s %-7s %-9s %-22s %-7s %-22s %-7s %-11s %s\n", s, w, ld, (s == "mailnsd" ? "policy" : "zonefile"),
				idle, cpu, (load == "" ? "-" : load), (l == "" ? "-" : l), m0, m1
		}' "$RES"
	done
done
echo "seconds from the file's rename to the first answer with the new text, polled every 1 ms (median of $REPS, min-max);"
echo " watch: mailnsd's file watcher (its 300 ms debounce included); hup: SIGHUP right after the rename (it replaces the"
echo " watcher's reload when the watcher saw the rename first, else that one follows); ctl: nsd-control reload ZONE /"
echo " knotc zone-reload ZONE;"
echo " cpu_s: the server's CPU seconds (user+system, every thread) a change over the idle series, settling included"
echo " (hup: one or two reloads a change, see above); lost: dnsperf's lost queries over the loaded series"
echo " (all changes of that row); load_s: exec -> the last zone's answer; rss/pss_MB: resident and proportional set"
echo " of the server's process tree once its start-up work is done, under 5 % of a core over 1 s (NSD: xfrd, main"
echo " and server processes; PSS counts their shared pages once); after_MB: the same after every change of the run"
