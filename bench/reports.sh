#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reports.sh -- speed of `mailns reports`: ingest of N aggregate reports (.xml.gz, realistic
# records: own servers, an ESP, forwarders, spoofers) on one core, one big report
# (~2,000 records, ~900 KB of XML), and `summary` over a store of M records.
# Usage: bench/reports.sh   (from a built tree)
# Env: N (default 10000 reports, 10 records each), M (default 1000000 records),
#      KEEP=1 keeps the work directory.
# Goals: >= 500 reports/s, the big report < 0.5 s, summary over 1M records <= 1 s.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
MAILNS=${MAILNS:-$top/tools/mailns}
GEN="$top/tests/integration/reports_gen.py"
N=${N:-10000}
M=${M:-1000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/mailns-bench-reports.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
ONE="taskset -c 0"
command -v taskset >/dev/null || ONE=""
# The reports are dated January 2030; the clock is set inside that month so that
# summary's 30-day window holds them (and retention keeps them).
export MAILNS_NOW=2030-01-29T00:00:00Z

policy() { # policy DIR: a policy whose state_dir is DIR/state
	mkdir -p "$1/state"
	cat > "$1/policy.yaml" <<YAML
version: 1
server:
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: $1/state
domains:
  d0.example:
    spf: { mode: plain, ip4: [192.0.2.0/26] }
YAML
}
now() { date +%s.%N; }
cpu() { # cpu FILE CMD...: runs CMD, writes "user+sys" CPU seconds to FILE
	local f=$1; shift
	/usr/bin/time -f "%U %S" -o "$f.t" "$@" || return 1
	python3 -c "u, s = open('$f.t').read().split()[-2:]; print('%.3f' % (float(u) + float(s)))" > "$f"
}
secs() { python3 -c "print('%.3f' % ($2 - $1))"; }

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "generating $N reports (10 records each) ..." >&2
python3 "$GEN" many "$W/many" --count "$N" --rows 10 --domains 100 --as gz --begin 1893456000 --seed 1
python3 "$GEN" aggregate "$W/big.xml" --org bigreceiver.example --id big-1 --domain d0.example \
	--begin 1893456000 --rows 2000 --seed 2
BIGKB=$(( $(stat -c %s "$W/big.xml") / 1024 ))

policy "$W/a"
t0=$(now)
cpu "$W/cpu-ingest" $ONE "$MAILNS" reports ingest -q -c "$W/a/policy.yaml" "$W/many" || { echo "ingest failed" >&2; exit 1; }
t1=$(now)
INGEST=$(secs "$t0" "$t1")
RATE=$(python3 -c "print('%.0f' % ($N / ($t1 - $t0)))")
STORED=$("$MAILNS" reports list -c "$W/a/policy.yaml" | wc -l)

t0=$(now)
$ONE "$MAILNS" reports ingest -q -c "$W/a/policy.yaml" "$W/big.xml" || { echo "big ingest failed" >&2; exit 1; }
t1=$(now)
BIG=$(secs "$t0" "$t1")

# A store of M records: M/100 reports of 100 records through the same ingest.
NM=$((M / 100))
echo "generating $NM reports of 100 records ..." >&2
python3 "$GEN" many "$W/million" --count "$NM" --rows 100 --domains 100 --as gz --begin 1893456000 --seed 3
policy "$W/b"
t0=$(now)
"$MAILNS" reports ingest -q -c "$W/b/policy.yaml" "$W/million" || { echo "ingest of $M records failed" >&2; exit 1; }
t1=$(now)
FILL=$(secs "$t0" "$t1")
RECORDS=$(python3 -c "
import sqlite3; print(sqlite3.connect('$W/b/state/reports/reports.db').execute('SELECT COUNT(*) FROM rows').fetchone()[0])")
ROLLUP=$(python3 -c "
import sqlite3; print(sqlite3.connect('$W/b/state/reports/reports.db').execute('SELECT COUNT(*) FROM rollup').fetchone()[0])")
DB=$(du -sm "$W/b/state" | cut -f1)
best=""
for i in 1 2 3; do
	t0=$(now)
	cpu "$W/cpu$i" $ONE "$MAILNS" reports summary -c "$W/b/policy.yaml" --days 30 >"$W/summary.txt" || exit 1
	t1=$(now)
	s=$(secs "$t0" "$t1")
	best=$(python3 -c "print('%.3f' % min(float('$s'), float('${best:-$s}')))")
done
t0=$(now)
$ONE "$MAILNS" reports summary -c "$W/b/policy.yaml" --days 30 --json >"$W/summary.json" || exit 1
t1=$(now)
SJSON=$(secs "$t0" "$t1")
t0=$(now)
$ONE "$MAILNS" reports summary -c "$W/b/policy.yaml" --days 30 --domain d7.example >/dev/null || exit 1
t1=$(now)
SONE=$(secs "$t0" "$t1")

printf '\n%s\n' "load average before: $LOAD (2 cores shared: wall times include waiting for a core)"
printf '%-52s %14s %s\n' "what" "figure" "goal"
printf '%-52s %14s %s\n' "ingest $N reports (.xml.gz, 10 records), one core" "$INGEST s" ""
printf '%-52s %12s/s %s\n' "  reports a second ($STORED stored)" "$RATE" ">= 500"
printf '%-52s %14s %s\n' "  its CPU time (user + sys)" "$(cat "$W/cpu-ingest") s" ""
printf '%-52s %14s %s\n' "ingest one report of 2,000 records (${BIGKB} KB XML)" "$BIG s" "< 0.5 s"
printf '%-52s %14s %s\n' "fill: ingest $NM reports of 100 records" "$FILL s" ""
printf '%-52s %14s %s\n' "  records stored / roll-up lines / store size" "$RECORDS / $ROLLUP / ${DB} MB" ""
printf '%-52s %14s %s\n' "summary over $RECORDS records, 30 days (best of 3)" "$best s" "<= 1 s"
printf '%-52s %14s %s\n' "  its CPU time (user + sys), each run" "$(cat "$W/cpu1" "$W/cpu2" "$W/cpu3" | tr '\n' ' ')s" ""
printf '%-52s %14s %s\n' "summary --json, same" "$SJSON s" ""
printf '%-52s %14s %s\n' "summary --domain (one of 100 domains)" "$SONE s" ""
