#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec.sh -- DNSSEC signing costs.
#   bench/dnssec.sh [BUILDDIR] [N] [ALGORITHM]
#     times `mailns zone` for N domains (default 2000) with dnssec on: the first run
#     (every key made, every RRset signed), a second run (every signature reused
#     from state_dir) and a run 8 days later (every signature made anew, keys kept).
#   bench/dnssec.sh start [BUILDDIR] [N]
#     mailnsd's start-up at N domains (default 10000; bench/gen-policy.sh's shape, as
#     bench/qps.sh): exec -> the last domain answered on every loop thread (SOCKETS=16
#     source ports, bench/wait-answer.py), its CPU seconds then (user +
#     system, /proc/PID/stat: what load does not change) and RSS, for the policy
#     unsigned, signed on a first start (every key made, every RRset signed) and
#     signed again from the stored signatures and keys (a restart: the signed zones from
#     state_dir/dnssec/.signed-zones, which the first start wrote), twice; the ratio of
#     the second restart to the unsigned start, RSS per signed domain, load average.
#     PROFILE=1: the unsigned and the stored-signature start once more each under
#     callgrind (slow): both instruction counts, their ratio, the stored start's profile.
#     DATA=DIR: keep the policies, keys and signatures in DIR (made if absent) and,
#     when DIR holds a signed state already, skip the first signed start (the first
#     start at 100,000 domains takes minutes: run it once, then again with DATA=DIR).
# No network but 127.0.0.1, daemons stopped by PID.
set -u
if [ "${1:-}" = start ]; then
	shift
	B=${1:-.}
	N=${2:-10000}
	MAILNSD="$B/server/mailnsd"
	top=$(cd "$(dirname "$0")/.." && pwd)
	[ -x "$MAILNSD" ] || { echo "no $MAILNSD (give the build dir)"; exit 2; }
	if [ -n "${DATA:-}" ]; then
		mkdir -p "$DATA"
		TMP=$(cd "$DATA" && pwd)
		KEEP=1
	else
		TMP=$(mktemp -d /tmp/mailns-bench-dnssec.XXXXXX)
		KEEP=0
	fi
	PID=""
	trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null; [ "$KEEP" = 1 ] || rm -rf "$TMP"' EXIT
	. "$top/bench/lib.sh"
	PORT=$(free_port)
	FIRST=1
	if [ -f "$TMP/s/policy.yaml" ] && [ -f "$TMP/n" ] && [ "$(cat "$TMP/n")" = "$N" ]; then
		# kept data: the same policies on a port free now, with the state of DIR (a copy of
		# DIR otherwise goes on with the state of the directory it was copied from)
		sed -i -E "s/127\.0\.0\.1:[0-9]+/127.0.0.1:$PORT/" "$TMP/u/policy.yaml" "$TMP/s/policy.yaml"
		sed -i -E "s|^  state_dir: .*|  state_dir: $TMP/u/state|" "$TMP/u/policy.yaml"
		sed -i -E "s|^  state_dir: .*|  state_dir: $TMP/s/state|" "$TMP/s/policy.yaml"
		[ -f "$TMP/s/signed" ] && FIRST=0
	else
		rm -rf "$TMP/u" "$TMP/s" "$TMP/signed"
		bash "$top/bench/gen-policy.sh" "$N" "$TMP/u" "$PORT" >/dev/null
		mkdir -p "$TMP/s"
		cp -r "$TMP/u/domains.d" "$TMP/s/"
		sed -e "s|$TMP/u/state|$TMP/s/state|" -e 's|^  state_dir: .*|&\n  dnssec: true|' "$TMP/u/policy.yaml" >"$TMP/s/policy.yaml"
		echo "$N" >"$TMP/n"
	fi
	ticks=$(getconf CLK_TCK)
	last="_dmarc.d$((N - 1)).example"
	# run LABEL DIR: starts mailnsd, waits for the last domain, prints a row, stops it
	run() {
		local t0 t1 cpu rss
		t0=$(date +%s.%N)
		"$MAILNSD" -f -c "$2/policy.yaml" >"$2/mailnsd.log" 2>&1 &
		PID=$!
		SOCKETS=${SOCKETS:-16} python3 "$top/bench/wait-answer.py" "$PORT" "$last" DMARC1 3600 "$PID" ||
			{ echo "$1: no answer: $(tail -n 3 "$2/mailnsd.log")"; exit 1; }
		t1=$(date +%s.%N)
		cpu=$(awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$PID/stat")
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
		kill -TERM "$PID"
		wait "$PID"
		PID=""
		WALL[$1]=$(echo "$t1 - $t0" | bc)
		CPU[$1]=$cpu
		RSS[$1]=$rss
		printf '%-30s %8.2f s %8.2f s %9d KB   %s\n' "$1" "${WALL[$1]}" "$cpu" "$rss" \
			"$(grep -o 'signed [0-9]* zones, reused [0-9]*' "$2/mailnsd.log" | tail -n 1)"
	}
	declare -A WALL CPU RSS
	echo "mailns bench/dnssec.sh start: $N domains ($((N * 3)) zones), $(nproc) cores, $(uptime | sed 's/.*load/load/')"
	printf '%-30s %10s %10s %12s\n' "start" "wall" "cpu" "RSS"
	run unsigned "$TMP/u"
	if [ "$FIRST" = 1 ]; then
		run "signed, first start" "$TMP/s"
		touch "$TMP/s/signed"
	fi
	run "signed, stored signatures" "$TMP/s"
	run "signed, stored (again)" "$TMP/s"
	# the last restart: from the signed-zone store (the first restart after data a version
	# without it signed only writes the store)
	awk -v u="${CPU[unsigned]}" -v s="${CPU[signed, stored (again)]}" -v uw="${WALL[unsigned]}" \
		-v sw="${WALL[signed, stored (again)]}" -v ur="${RSS[unsigned]}" -v sr="${RSS[signed, stored (again)]}" -v n="$N" \
		'BEGIN { printf "stored start (again) / unsigned: %.2f x cpu, %.2f x wall; RSS per signed domain: %.1f KB (%.1f KB unsigned)\n",
			s / u, sw / uw, (sr - ur) / n, ur / n }'
	echo "after: $(uptime | sed 's/.*load/load/')"
	if [ "${PROFILE:-0}" = 1 ]; then
		# prof LABEL DIR: one start under callgrind until the last domain answers
		prof() {
			valgrind --tool=callgrind --callgrind-out-file="$TMP/cg-$1.out" "$MAILNSD" -f -c "$2/policy.yaml" \
				>"$2/cg.log" 2>&1 &
			PID=$!
			SOCKETS=${SOCKETS:-16} python3 "$top/bench/wait-answer.py" "$PORT" "$last" DMARC1 3600 "$PID"
			kill -TERM "$PID"; wait "$PID"; PID=""
			INSTR[$1]=$(callgrind_annotate "$TMP/cg-$1.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
		}
		declare -A INSTR
		prof unsigned "$TMP/u"
		prof stored "$TMP/s"
		echo "callgrind (instructions to the last domain's answer): unsigned ${INSTR[unsigned]}, stored ${INSTR[stored]}:" \
			"$(awk -v u="${INSTR[unsigned]}" -v s="${INSTR[stored]}" 'BEGIN { printf "%.2f x", s / u }')"
		echo "--- stored start, inclusive ($TMP/cg-stored.out; unsigned: $TMP/cg-unsigned.out)"
		callgrind_annotate --inclusive=yes "$TMP/cg-stored.out" 2>/dev/null | head -n 60
	fi
	exit 0
fi
B=${1:-.}
N=${2:-2000}
ALG=${3:-ecdsap256sha256}
MAILNS="$B/tools/mailns"
[ -x "$MAILNS" ] || { echo "no $MAILNS (give the build dir)"; exit 2; }
TMP=$(mktemp -d /tmp/mailns-bench-dnssec.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
{
	printf 'version: 1\nserver:\n  nameservers: [ns1.example.net]\n  hostmaster: h.example.net\n'
	printf '  state_dir: %s/state\n  dnssec: { algorithm: %s }\ndomains:\n' "$TMP" "$ALG"
	for i in $(seq 1 "$N"); do
		printf '  d%d.example:\n    spf: { mode: macro, ip4: [192.0.2.0/24] }\n    dmarc: { p: reject }\n' "$i"
	done
} >"$TMP/policy.yaml"
run() { # run LABEL [MAILNS_NOW]
	local t0 t1 n
	t0=$(date +%s.%N)
	MAILNS_NOW=${2:-} "$MAILNS" zone -c "$TMP/policy.yaml" >"$TMP/out.zone" || { echo "mailns zone failed"; exit 1; }
	t1=$(date +%s.%N)
	n=$(grep -c 'IN	RRSIG' "$TMP/out.zone")
	printf '%-34s %6.2f s  %d RRSIGs in %d zones\n' "$1" "$(echo "$t1 - $t0" | bc)" "$n" \
		"$(grep -c 'IN	SOA' "$TMP/out.zone")"
}
run "first (keys made, all signed)"
run "second (all signatures reused)"
run "8 days later (all signed anew)" "@$(($(date +%s) + 8 * 86400))"
