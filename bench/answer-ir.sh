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
# queries then measure the unsigned path); KEEP=1 keeps the temp dir.
# Needs valgrind (callgrind_control), dnsperf, python3, openssl.  Loopback only.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top}
MAILNSD=${MAILNSD:-$BUILD/server/mailnsd}
MAILNS=${MAILNS:-$BUILD/tools/mailns}
N=${1:-1000}
COUNT=${2:-5000}
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
valgrind --tool=callgrind --compress-strings=no --collect-atstart=no --toggle-collect=answer_query_ctx \
	--callgrind-out-file="$dir/cg.out.%p" "$MAILNSD" -f -c "$dir/policy.yaml" > "$dir/mailnsd.log" 2>&1 &
pid=$!
python3 "$top/bench/wait-answer.py" "$port" "_dmarc.d$((N - 1)).example" DMARC1 600 "$pid" ||
	{ echo "answer-ir.sh: mailnsd did not answer"; tail "$dir/mailnsd.log"; exit 1; }
# phase NAME FILE [-D]: instructions a completed query inside answer_query_ctx
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
echo "mailns bench/answer-ir.sh: $N domains$([ -z "${UNSIGNED:-}" ] && echo ", signed"), $COUNT queries a phase,"
echo "instructions inside answer_query_ctx (callgrind, valgrind $(valgrind --version | sed 's/valgrind-//'))"
phase mix "$dir/mix"
phase mix+DO "$dir/mix" -D
for k in dkim dmarc spf nxdomain nodata; do
	phase "$k" "$dir/$k"
	phase "$k+DO" "$dir/$k" -D
done
