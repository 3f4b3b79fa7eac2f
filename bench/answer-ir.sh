#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# answer-ir.sh -- instructions a query in answer_query_ctx (callgrind), with and
# without the DO bit, from the same signed zones: N generated domains (qps.sh's
# shape, `server.dnssec: true`, signed once by `mailns zone`), mailnsd under
# valgrind --tool=callgrind collecting inside answer_query_ctx only, dnsperf sending
# each phase's queries once at a low rate, with EDNS (as qps.sh: dnsperf -e); between phases callgrind_control zeroes
# and dumps the counts.  Phases: qps.sh's mix (gen-queries.py) without and with DO,
# then each kind of query alone with DO and without.  Instruction counts do not
# depend on the machine's load (unlike qps), so figures from a busy machine hold.
# Usage: bench/answer-ir.sh [N [COUNT]]     (default 1000 domains, 5000 queries a phase)
# Env: MAILNSD, MAILNS, BUILD as in qps.sh; UNSIGNED=1 leaves dnssec off (the DO
# queries then measure the unsigned path); KEEP=1 keeps the temp dir; WHOLE=1 counts
# every instruction of the server process (event loop, receive and send included)
# instead of answer_query_ctx's; SERVER=knot runs knotd instead (WHOLE, one UDP
# worker, bench/peers.sh's configuration) on `mailns zone --dir`'s signed zone files,
# as qps.sh DNSSEC=1 does: the same queries, user-space instructions a query of the
# two servers (the kernel's share is not counted).
# Needs valgrind (callgrind_control), dnsperf, python3, openssl.  Loopback only.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top}
MAILNSD=${MAILNSD:-$BUILD/server/mailnsd}
MAILNS=${MAILNS:-$BUILD/tools/mailns}
N=${1:-1000}
COUNT=${2:-5000}
SERVER=${SERVER:-mailnsd}
WHOLE=${WHOLE:-}
[ "$SERVER" = knot ] && WHOLE=1
for t in valgrind callgrind_control dnsperf python3 openssl; do
	command -v "$t" >/dev/null 2>&1 || { echo "answer-ir.sh: $t not installed (apt-get install valgrind dnsperf)"; exit 2; }
done
[ -x "$MAILNSD" ] && [ -x "$MAILNS" ] || { echo "answer-ir.sh: no $MAILNSD or $MAILNS (set BUILD=builddir)"; exit 2; }
dir=$(mktemp -d /tmp/mailns-ir.XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=$(( 20000 + (RANDOM * 3 + $$) % 12000 ))
SELECTORS=2 SPF_NETS=20 "$top/bench/gen-policy.sh" "$N" "$dir" "$port"
[ -z "${UNSIGNED:-}" ] && sed -i "s|^  state_dir: .*|&\n  dnssec: true|" "$dir/policy.yaml"
# sign once outside valgrind: mailnsd reuses the stored signatures
"$MAILNS" zone -c "$dir/policy.yaml" > /dev/null || { echo "answer-ir.sh: mailns zone failed"; exit 1; }
python3 "$top/bench/gen-queries.py" "$N" "$COUNT" 2 > "$dir/mix"
# one file per kind, from the same mix generator's shapes
python3 "$top/bench/gen-queries.py" "$N" $((COUNT * 20)) 2 11 > "$dir/all"
grep '_domainkey\.d[0-9]*\.example TXT$' "$dir/all" | grep -v '^nx' | head -n "$COUNT" > "$dir/dkim"
grep '^_dmarc\.d[0-9]*\.example TXT$' "$dir/all" | head -n "$COUNT" > "$dir/dmarc"
grep '^_spf\.d[0-9]*\.example TXT$' "$dir/all" | head -n "$COUNT" > "$dir/spf"
grep '^nx' "$dir/all" | head -n "$COUNT" > "$dir/nxdomain"
grep -E ' (A|AAAA)$' "$dir/all" | head -n "$COUNT" > "$dir/nodata"
# what is counted: inside answer_query_ctx, or (WHOLE) every instruction of the
# process, all threads, between a phase's zeroing and its dump
collect=(--collect-atstart=no --toggle-collect=answer_query_ctx)
[ -n "$WHOLE" ] && collect=(--collect-atstart=yes)
cmd=("$MAILNSD" -f -c "$dir/policy.yaml")
if [ "$SERVER" = knot ]; then
	"$MAILNS" zone -c "$dir/policy.yaml" --dir "$dir/zones" > /dev/null || { echo "answer-ir.sh: mailns zone --dir failed"; exit 1; }
	. "$top/bench/peers.sh"
	peers_knot_conf "$dir" "$port" 1
	cmd=(knotd -c "$dir/knot.conf")
fi
valgrind --tool=callgrind --compress-strings=no "${collect[@]}" \
	--callgrind-out-file="$dir/cg.out.%p" "${cmd[@]}" > "$dir/$SERVER.log" 2>&1 &
pid=$!
python3 "$top/bench/wait-answer.py" "$port" "_dmarc.d$((N - 1)).example" DMARC1 900 "$pid" ||
	{ echo "answer-ir.sh: $SERVER did not answer"; tail "$dir/$SERVER.log"; exit 1; }
# settle: wait (up to 300 s) until the server's CPU time stands still for 2 s (Knot
# answers its zones while its background workers still load others)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$pid"/stat 2>/dev/null; }
last=-1
for i in $(seq 1 150); do
	t=$(ticks)
	[ "$t" = "$last" ] && break
	last=$t
	sleep 2
done
# phase NAME FILE [-D]: instructions a completed query (answer_query_ctx, or WHOLE)
phase() {
	local name=$1 file=$2 do=${3:-} done ir
	callgrind_control --zero "$pid" > /dev/null 2>&1
	dnsperf -s 127.0.0.1 -p "$port" -d "$file" -n 1 -Q 2000 -t 5 -e $do > "$dir/dp.$name" 2>&1
	done=$(awk '/Queries completed:/ { print $3 }' "$dir/dp.$name")
	callgrind_control --dump="$name" "$pid" > /dev/null 2>&1
	mv "$(ls -t "$dir"/cg.out.*.* | head -n 1)" "$dir/cg.$name"	# KEEP=1: callgrind_annotate it
	ir=$(awk '/^summary:/ { print $2 }' "$dir/cg.$name")
	awk -v n="$name" -v d="${done:-0}" -v ir="${ir:-0}" 'BEGIN {
		printf "%-16s %7d queries  %12d Ir  %7.0f Ir/query\n", n, d, ir, d ? ir / d : 0 }'
}
echo "mailns bench/answer-ir.sh: $SERVER, $N domains$([ -z "${UNSIGNED:-}" ] && echo ", signed"), $COUNT queries a phase,"
echo "instructions $([ -n "$WHOLE" ] && echo "of the whole process (every thread)" || echo "inside answer_query_ctx")" \
	"(callgrind, valgrind $(valgrind --version | sed 's/valgrind-//'))"
phase mix "$dir/mix"
phase mix+DO "$dir/mix" -D
for k in dkim dmarc spf nxdomain nodata; do
	phase "$k" "$dir/$k"
	phase "$k+DO" "$dir/$k" -D
done
